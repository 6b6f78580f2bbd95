import type { FlavorImage } from '../flavor.js';

export const onnxImage: FlavorImage = {
  packages: ['onnxruntime-node'],
  // onnxruntime-node's Linux binaries are built against glibc.
  libc: 'glibc',
  packageRules: {
    'onnxruntime-node': {
      // adm-zip and global-agent download CUDA libraries in the postinstall script (script/).
      notLoaded: ['adm-zip', 'global-agent'],
      // The package ships every OS and CPU (288 MB); dist/binding.js loads bin/napi-v6/<os>/<arch>/.
      keep: (path, arch) => {
        if (path.startsWith('script/')) return false;
        if (!path.startsWith('bin/')) return true;
        const wanted = `bin/napi-v6/linux/${arch}/`;
        return path.startsWith(wanted) || wanted.startsWith(path); // inside it, or one of its parents
      },
    },
  },
};

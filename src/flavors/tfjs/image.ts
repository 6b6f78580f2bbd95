import type { FlavorImage, PackageRule } from '../flavor.js';

/**
 * TF.js packages have no `exports` and no `"type": "module"`, so Node (import or require) loads
 * `main`, a CommonJS bundle (dist/tf-*.node.js); the rest of dist/ is the same code again as
 * ES modules and browser bundles. Kept: that bundle, the .wasm binaries beside it, the licence.
 */
function mainBundleOnly(path: string, _arch: string, main: string | undefined): boolean {
  if (main === undefined) return true;
  const target = main.replace(/^\.\//, '');
  const dir = target.includes('/') ? target.slice(0, target.lastIndexOf('/') + 1) : '';
  if (path === 'package.json' || /^licen[cs]e/i.test(path) || path === target) return true;
  if (path.endsWith('/')) return dir.startsWith(path);
  return path.startsWith(dir) && !path.slice(dir.length).includes('/') && path.endsWith('.wasm');
}

const bundle: PackageRule = { keep: mainBundleOnly };

export const tfjsImage: FlavorImage = {
  packages: [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-converter',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-cpu',
  ],
  packageRules: {
    '@tensorflow/tfjs-core': { notLoaded: ['@webgpu/types'], keep: mainBundleOnly },
    '@tensorflow/tfjs-converter': bundle,
    '@tensorflow/tfjs-layers': bundle,
    '@tensorflow/tfjs-backend-cpu': bundle,
    '@tensorflow/tfjs-backend-wasm': bundle,
  },
};

/**
 * Bundles the CLI into one file, dist/modelgate.mjs, which is what the `modelgate` bin runs.
 * Resolving and compiling a few hundred small module files costs about a third of a server's
 * cold start; one file cuts that (measured: ~660 → ~490 ms from process start to the first
 * prediction for iris). Native and heavy optional packages stay external and load on demand.
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_EXTERNALS } from '../src/docker/dependencies.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

await build({
  entryPoints: [join(root, 'dist', 'src', 'cli.js')],
  outfile: join(root, 'dist', 'modelgate.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: [...BUNDLE_EXTERNALS],
  // Some bundled CommonJS packages call require(); give the ES module one.
  banner: { js: "import { createRequire as __modelgateRequire } from 'node:module'; const require = __modelgateRequire(import.meta.url);" },
});

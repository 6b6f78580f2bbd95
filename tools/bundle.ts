/**
 * Bundles the CLI into one file, dist/modelgate.mjs, which is what the `modelgate` bin runs.
 * Resolving and compiling a few hundred small module files costs about a third of a server's
 * cold start; one file cuts that (measured: ~660 → ~490 ms from process start to the first
 * prediction for iris). Native and heavy optional packages stay external and load on demand;
 * tracing's OpenTelemetry side is its own file, dist/otel.mjs, imported only when configured.
 *
 * Then the console's and docs page's files into dist/console/ (src/http/assets.ts serves them):
 * the page scripts bundled with uPlot, Swagger UI copied from its package without its source-map
 * comment (the map is not shipped, and the browser would ask for it).
 */
import { type Plugin, build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_EXTERNALS } from '../src/docker/dependencies.js';
import { ASSET_DIR, PACKAGE_ASSETS } from '../src/http/assets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const banner = {
  // Some bundled CommonJS packages call require(); give the ES module one.
  js: "import { createRequire as __modelgateRequire } from 'node:module'; const require = __modelgateRequire(import.meta.url);",
};

/**
 * Tracing's OpenTelemetry side (~0.65 MB of the packages) is a file of its own beside the bundle,
 * imported only when tracing is configured: inside the bundle it would be parsed at every start.
 */
const OTEL_MODULE = /[/\\]monitor[/\\]trace[/\\]otel\.js$/;
const lazyOtel: Plugin = {
  name: 'lazy-otel',
  setup(b) {
    b.onResolve({ filter: OTEL_MODULE }, () => ({ path: './otel.mjs', external: true }));
  },
};

/**
 * The inference log's thread runs a script of its own, dist/log-thread.mjs; the bundle is told
 * that address in place of the module's own (beside the compiled sources).
 */
const LOG_THREAD_URL = /(^|[/\\])thread-url\.js$/;
const logThreadUrl: Plugin = {
  name: 'log-thread-url',
  setup(b) {
    b.onResolve({ filter: LOG_THREAD_URL }, (args) =>
      /[/\\]monitor[/\\]log$/.test(args.resolveDir) ? { path: 'log-thread-url', namespace: 'log-thread-url' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'log-thread-url' }, () => ({
      contents: "export const LOG_THREAD_URL = new URL('./log-thread.mjs', import.meta.url);",
      loader: 'js',
    }));
  },
};

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
  plugins: [lazyOtel, logThreadUrl],
  banner,
});

/** A file of its own beside the bundle, from a compiled module under dist/src/. */
const sideFile = (module: string, name: string) =>
  build({
    entryPoints: [join(root, 'dist', 'src', ...module.split('/'))],
    outfile: join(root, 'dist', name),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    external: [...BUNDLE_EXTERNALS],
    banner,
  });
await sideFile('monitor/log/thread-main.js', 'log-thread.mjs');
await sideFile('monitor/trace/otel.js', 'otel.mjs');

const out = join(root, 'dist', ASSET_DIR);
const web = join(root, 'web');
await mkdir(out, { recursive: true });
await build({
  entryPoints: { console: join(web, 'console.ts'), docs: join(web, 'docs.ts') },
  outdir: out,
  bundle: true,
  minify: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  logLevel: 'warning',
});
const require = createRequire(join(root, 'package.json'));
const uplotCss = await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
await writeFile(join(out, 'console.css'), uplotCss + '\n' + (await readFile(join(web, 'console.css'), 'utf8')));
for (const page of ['console.html', 'docs.html']) await writeFile(join(out, page), await readFile(join(web, page)));
for (const [name, from] of Object.entries(PACKAGE_ASSETS)) {
  const text = await readFile(require.resolve(from), 'utf8');
  await writeFile(
    join(out, name),
    text.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n').replace(/\/\*# sourceMappingURL=\S+?\s*\*\/\s*$/, '\n'),
  );
}

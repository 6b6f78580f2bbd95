/** `modelgate demo` (what `npm start` runs): register the bundled iris model if needed and serve it. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ResourceNotFoundError } from '../errors.js';
import { openRegistry } from '../registry/registry.js';
import { DEFAULT_REGISTRY_URI } from '../config.js';
import { intFlag, parse, registryOption } from './args.js';
import { runServe } from './serve.js';

/** The bundled demo model: examples/iris at the package root (found from dist/ or src/). */
export function demoModelDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'examples', 'iris', 'MLmodel'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('the bundled demo model (examples/iris) is missing from this installation');
    dir = up;
  }
  return join(dir, 'examples', 'iris');
}

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { port: { type: 'string', short: 'p' }, host: { type: 'string', short: 'h' }, ...registryOption }, false);
  // The demo lives in a local registry even when MLFLOW_TRACKING_URI points at a server.
  const uri = (values.registry as string | undefined) ?? process.env.MODELGATE_REGISTRY_URI ?? DEFAULT_REGISTRY_URI;
  const registry = openRegistry(uri);
  const exists = await registry.resolve('models:/iris@champion').then(
    () => true,
    (err: unknown) => {
      if (err instanceof ResourceNotFoundError) return false;
      throw err;
    },
  );
  if (!exists) {
    const v = await registry.register(demoModelDir(), { name: 'iris', alias: 'champion' });
    process.stderr.write(`registered the demo model as models:/iris/${v.version} (alias champion) in ${uri}\n`);
  }
  process.stderr.write(
    `serving models:/iris@champion; try:\n  curl -s -X POST http://127.0.0.1:${(values.port as string | undefined) ?? 8080}/invocations ` +
      `-H 'Content-Type: application/json' -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'\n`,
  );
  return runServe({
    modelUri: 'models:/iris@champion',
    registryUri: uri,
    port: intFlag('port', values.port as string | undefined),
    host: values.host as string | undefined,
  });
}

/** `modelgate demo` (what `npm start` runs): register the bundled iris model if needed and serve it. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_REGISTRY_URI, environment } from '../config/index.js';
import { ResourceNotFoundError } from '../errors.js';
import { openRegistry } from '../core/registration.js';
import { runServe } from './serve.js';
import type { ParsedCommand } from './spec.js';

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

export async function demoCommand({ values }: ParsedCommand): Promise<number> {
  // The demo lives in a local registry even when MLFLOW_TRACKING_URI points at a server.
  const uri = (values.registryUri as string | undefined) ?? environment().MODELGATE_REGISTRY_URI ?? DEFAULT_REGISTRY_URI;
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
  // The hint names the port the server got, which is not the one asked for with -p 0.
  const hint = (port: number) =>
    process.stderr.write(
      `serving models:/iris@champion; try:\n  curl -s -X POST http://127.0.0.1:${port}/invocations ` +
        `-H 'Content-Type: application/json' -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'\n`,
    );
  return runServe(
    {
      modelUri: 'models:/iris@champion',
      registryUri: uri,
      ...(values.port === undefined ? {} : { port: values.port as number }),
      ...(values.host === undefined ? {} : { host: values.host as string }),
    },
    hint,
  );
}

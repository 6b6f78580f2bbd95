/**
 * Shared by the image tests (with and without a daemon): a temp registry with the iris model
 * registered, and polling an HTTP endpoint with timeouts. Processes, ports and the CLI itself come
 * from test/fixtures/cli.ts.
 */
import { openRegistry } from '../../src/core/registration.js';
import type { Registry } from '../../src/registry/registry.js';
import { IRIS, killAll, sleep } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

export const SETOSA = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

const temp = tempDirs('mg-image-');
export const tempDir = temp.make;

export async function cleanup(): Promise<void> {
  killAll();
  await temp.removeAll();
}

/** A fresh registry holding examples/iris as version 1 of `name`, alias `champion`. */
export async function irisRegistry(name = 'iris'): Promise<{ uri: string; registry: Registry; dir: string }> {
  const dir = await tempDir('mg-reg-');
  const uri = `file:${dir}`;
  const registry = openRegistry(uri);
  await registry.register(IRIS, { name, alias: 'champion' });
  return { uri, registry, dir };
}

/** Polls `url` until it answers 200 (each try bounded), or throws after `timeoutMs`. */
export async function waitFor200(url: string, timeoutMs = 30_000, alive: () => boolean | Promise<boolean> = () => true): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (!(await alive())) throw new Error(`the server exited before ${url} answered 200 (last: ${last})`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return;
      last = `${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}

export async function invoke(port: number, body = SETOSA): Promise<{ status: number; json: unknown; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

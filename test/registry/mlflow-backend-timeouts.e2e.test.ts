/**
 * The MLflow registry backend when the server is slow: timeouts, retried, then a clear error. Slow
 * on purpose (undici checks header timeouts about once a second), so in the e2e tier; every
 * other failure of the server is in mlflow-backend.test.ts, against the same recorded exchanges.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MlflowRegistry, type MlflowRegistryOptions } from '../../src/registry/backends/mlflow/index.js';
import { MlflowReplayServer, type SeenRequest } from '../fixtures/mlflow-replay-server.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

let replay: MlflowReplayServer;
const temp = tempDirs('modelgate-mlflow-');
const backends: MlflowRegistry[] = [];

async function newBackend(options: MlflowRegistryOptions): Promise<MlflowRegistry> {
  const b = new MlflowRegistry(replay.url, { cacheDir: await temp.make(), maxRetries: 2, backoffMs: 10, backoffJitterMs: 0, ...options });
  backends.push(b);
  return b;
}

const served = (pred: (r: SeenRequest) => boolean) => replay.requests.filter(pred).length;
const isOnnx = (r: SeenRequest) => r.path.endsWith('/artifacts/model.onnx');

beforeAll(async () => {
  replay = await MlflowReplayServer.start();
});
beforeEach(() => replay.reset());
afterEach(() => {
  expect(replay.takeUnmatched().map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([]);
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await replay.close();
  await temp.removeAll();
});

describe('when the MLflow server is slow', () => {
  it('a body that stalls hits the timeout and is retried', async () => {
    const backend = await newBackend({ timeoutMs: 300 });
    const v = await backend.getVersion('iris', '1');
    replay.addFault({ when: isOnnx, fault: { kind: 'stall', afterBytes: 50 }, times: 1 });
    const m = await backend.materialize(v);
    expect(served(isOnnx)).toBe(2);
    expect(m.files.find((f) => f.path === 'model.onnx')?.size).toBe(289);
  });

  // Each attempt here waits ~1 s.
  it('a slow server: timeout, retried, then a clear error', async () => {
    const backend = await newBackend({ timeoutMs: 200, maxRetries: 2 });
    replay.addFault({ when: (r) => r.path.endsWith('/registered-models/alias'), fault: { kind: 'delay', ms: 5000 } });
    const started = Date.now();
    const err = await backend.getVersionByAlias('iris', 'champion').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DEADLINE_EXCEEDED', status: 504 });
    expect((err as Error).message).toMatch(
      new RegExp(`MLflow server at ${replay.url} did not answer GET .*registered-models/alias.* within 200 ms`),
    );
    expect((err as Error).message).toContain('gave up after 3 attempts');
    expect(served((r) => r.path.endsWith('/registered-models/alias'))).toBe(3);
    expect(Date.now() - started).toBeLessThan(4500);
  });

  it('slow once, then answered: the retry succeeds', async () => {
    const backend = await newBackend({ timeoutMs: 200 });
    replay.addFault({ when: (r) => r.path.endsWith('/registered-models/alias'), fault: { kind: 'delay', ms: 3000 }, times: 1 });
    expect((await backend.getVersionByAlias('iris', 'champion')).version).toBe('1');
  });
});

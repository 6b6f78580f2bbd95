/**
 * A JS-code model that crashes, hangs or returns garbage for some inputs does not take the server
 * down: the caller gets a 500 with a request id (details only in the log) or a 504, and the next
 * request is served. The model runs in its own thread, so even a synchronous endless loop, a
 * `process.exit` or an exception thrown outside `predict` costs only that thread, which restarts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { saveModel } from '../../src/core/save.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { captureLogger } from '../fixtures/capture-logger.js';

const MODULE = `
let loads = 0;
export function load() {
  loads += 1;
  return {
    predict(rows) {
      const x = rows[0][0];
      if (x === 98) for (;;);
      if (x === 97) process.exit(3);
      if (x === 96) { setTimeout(() => { throw new Error('thrown outside predict'); }, 0); return 'later'; }
      if (x === 0) return { loads };
      if (x === 13) throw new Error('secret-detail /srv/model internals');
      if (x === 99) return new Promise(() => {});
      if (x === 7) { const a = { n: 1 }; a.self = a; return a; }
      if (x === 8) return () => 1;
      if (x === 10) return 10n ** 30n;
      if (x === 11) return Promise.reject(new TypeError('async failure'));
      return rows.map((r) => r[0] * 2);
    },
  };
}
`;

let root: string;
let server: RunningServer;
let base: string;
const { logger, lines } = captureLogger('info');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-faulty-'));
  await writeFile(join(root, 'model.mjs'), MODULE);
  await saveModel(join(root, 'faulty'), {
    flavor: 'js',
    module: join(root, 'model.mjs'),
    signature: { inputs: [{ type: 'tensor', 'tensor-spec': { dtype: 'float64', shape: [-1, 1] } }] },
    inputExample: [[1]],
  });
  server = await startServer(
    resolveServeConfig({ modelUri: join(root, 'faulty'), port: 0, requestTimeoutSeconds: 0.5, shutdownGraceSeconds: 0 }),
    logger,
  );
  await server.loaded;
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

const restarts = () => lines().filter((l) => l.msg === 'restarting the JS model thread').length;

const invoke = async (x: number) => {
  const res = await fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"inputs": [[${x}]]}`,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('faulty JS models', () => {
  it('a throw is a 500 with a request id; the detail and stack are only in the log', async () => {
    const r = await invoke(13);
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ error_code: 'INTERNAL_ERROR' });
    expect(JSON.stringify(r.body)).not.toContain('secret-detail');
    const line = lines().find((l) => l.requestId === r.body.request_id);
    expect(JSON.stringify(line)).toContain('secret-detail');
    expect(JSON.stringify(line)).toContain('stack');
    expect((await invoke(11)).status).toBe(500);
    expect(await invoke(1)).toEqual({ status: 200, body: { predictions: [2.0] } });
  });

  it('a hang is a 504 after the timeout and the server keeps serving', async () => {
    const started = Date.now();
    const r = await invoke(99);
    expect(r.status).toBe(504);
    expect(r.body).toMatchObject({ error_code: 'DEADLINE_EXCEEDED' });
    expect(Date.now() - started).toBeLessThan(2000);
    // The thread holding the hung call is replaced (at the same deadline: the two timers race).
    await expect.poll(restarts, { timeout: 5000 }).toBe(1);
    expect((await invoke(3)).body).toEqual({ predictions: [6.0] });
  });

  it('a synchronous endless loop is a 504; the thread is restarted and the server keeps serving', async () => {
    const before = (await invoke(0)).body.predictions as { loads: number };
    const started = Date.now();
    const r = await invoke(98);
    expect(r.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2000);
    // The server answered the 504 while the loop ran: liveness was never lost.
    expect((await fetch(`${base}/ping`)).status).toBe(200);
    await expect.poll(restarts, { timeout: 5000 }).toBe(2);
    expect((await invoke(3)).body).toEqual({ predictions: [6.0] });
    const after = (await invoke(0)).body.predictions as { loads: number };
    expect(after.loads).toBe(1); // a new thread: load() ran again in a fresh module instance
    expect(before.loads).toBe(1);
  });

  it('process.exit in predict is a 500 for that call only; the server keeps serving', async () => {
    const r = await invoke(97);
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ error_code: 'INTERNAL_ERROR', request_id: expect.any(String) });
    expect(JSON.stringify(r.body)).not.toContain('exit code');
    expect((await invoke(5)).body).toEqual({ predictions: [10.0] });
  });

  it('an exception thrown outside predict restarts the thread, not the server', async () => {
    expect((await invoke(96)).body).toEqual({ predictions: 'later' });
    await expect.poll(() => lines().some((l) => l.msg === 'JS model thread crashed'), { timeout: 5000 }).toBe(true);
    expect((await invoke(6)).body).toEqual({ predictions: [12.0] });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('garbage output (cycles, functions, huge integers) never crashes the server', async () => {
    const cyclic = await invoke(7);
    expect(cyclic.status).toBe(500);
    expect([200, 500]).toContain((await invoke(8)).status);
    expect((await invoke(10)).status).toBe(200);
    expect((await invoke(4)).body).toEqual({ predictions: [8.0] });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });
});

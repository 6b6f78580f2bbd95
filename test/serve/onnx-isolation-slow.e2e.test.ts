/**
 * Slow ONNX graphs cannot stall the server (real onnxruntime, real HTTP on 127.0.0.1): a slow
 * inference runs in the model's own thread, so health checks answer and the request deadline
 * fires while it runs; a version whose session creation outlasts the load deadline is a failed
 * switch at the deadline, and later alias moves are still followed; registration of a model
 * whose first inference outlasts the deadline fails. Small models stay in the server's thread.
 * The same through the built CLI: onnx-isolation.e2e.test.ts.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { stopSessionThreads } from '../../src/flavors/onnx/runner.js';
import { openModelDir } from '../../src/core/model-dir.js';
import { openRegistry } from '../../src/core/registration.js';
import { loadServable } from '../../src/core/load.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { IRIS } from '../fixtures/cli.js';
import { slowModelDir } from '../fixtures/slow-onnx.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-onnx-slow-');
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await stopSessionThreads();
  await temps.removeAll();
});

type Config = Parameters<typeof resolveServeConfig>[0];

async function serve(config: Config, logger = captureLogger('info').logger): Promise<{ base: string; s: RunningServer }> {
  const s = await startServer(resolveServeConfig({ port: 0, shutdownGraceSeconds: 0, ...config }), logger);
  servers.push(s);
  await s.loaded;
  return { base: `http://127.0.0.1:${s.port}`, s };
}

/** Milliseconds a GET takes, and its status. */
async function timedGet(url: string): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  await res.text();
  return { ms: performance.now() - started, status: res.status };
}

const invoke = (base: string, body = '{"inputs": [[0.001]]}') =>
  fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(60_000),
  });

const IRIS_BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

describe('slow ONNX models', () => {
  it('answers /ping and /ready while a 2 s inference runs, and gives a 1 s request timeout its 504 at about 1 s', async () => {
    const dir = await slowModelDir(join(await temps.make(), 'slow-run'), 'run', 2000);
    const { logger, lines } = captureLogger('info');
    const { base } = await serve({ modelUri: dir, requestTimeoutSeconds: 1, loadTimeoutSeconds: 60 }, logger);
    expect(lines().find((l) => l.msg === 'model loaded')?.isolation).toBe('thread');

    const started = performance.now();
    const answer = invoke(base).then(async (res) => ({ status: res.status, body: await res.text(), ms: performance.now() - started }));
    await new Promise((r) => setTimeout(r, 300));
    const pings = [];
    for (let i = 0; i < 3; i++) pings.push(await timedGet(`${base}/ping`), await timedGet(`${base}/ready`));
    expect(pings.map((p) => p.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(Math.max(...pings.map((p) => p.ms))).toBeLessThan(200);
    const r = await answer;
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body)).toMatchObject({ error_code: 'DEADLINE_EXCEEDED' });
    expect(r.ms).toBeGreaterThan(950);
    expect(r.ms).toBeLessThan(1500);
  });

  it('fails a switch to a version slow to create at the load deadline while serving, and follows the next alias move', async () => {
    const root = await temps.make();
    const registryUri = join(root, 'registry');
    const registry = openRegistry(registryUri);
    await registry.register(IRIS, { name: 'm', alias: 'champion' });
    await registry.register(await slowModelDir(join(root, 'slow-create'), 'create', 3000), { name: 'm', skipValidation: true });
    await registry.register(IRIS, { name: 'm' });
    const { base } = await serve({ modelUri: 'models:/m@champion', registryUri, pollSeconds: 0.2, loadTimeoutSeconds: 1 });
    const version = async () => (await invoke(base, IRIS_BODY)).headers.get('x-model-version');
    const failures = async () => /outcome="failure"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1];

    await registry.setAlias('m', 'champion', '2');
    const moved = performance.now();
    const pings: number[] = [];
    let failedAt: number | undefined;
    while (performance.now() - moved < 5000) {
      pings.push((await timedGet(`${base}/ping`)).ms);
      if ((await failures()) === '1') {
        failedAt = performance.now() - moved;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // Polled within 0.2 s, then the 1 s deadline: the failure is not held up by the 3 s creation still running.
    expect(failedAt).toBeDefined();
    expect(failedAt).toBeGreaterThan(900);
    expect(failedAt).toBeLessThan(2000);
    expect(Math.max(...pings)).toBeLessThan(200);
    expect(await version()).toBe('1');
    const ready = (await (await fetch(`${base}/ready`)).json()) as { routes: { slots: { lastError?: string }[] } };
    expect(ready.routes.slots[0].lastError).toContain('did not finish within 1 s');

    await registry.setAlias('m', 'champion', '3');
    const end = Date.now() + 10_000;
    while ((await version()) !== '3' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await version()).toBe('3');
  });

  it('fails a load whose warm-up inference outlasts the load deadline, at the deadline', async () => {
    const dir = await slowModelDir(join(await temps.make(), 'slow-warm'), 'run', 2500);
    const started = performance.now();
    await expect(
      loadServable(await openModelDir(dir), { name: 'w', version: '1' }, { flavor: { onnxIsolation: 'thread' }, loadTimeoutMs: 1000 }),
    ).rejects.toThrow(/did not finish within 1 s/);
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe('small ONNX models', () => {
  it("serve iris from the server's thread under auto, and from a thread of its own under thread, with the same answers", async () => {
    const answers: string[] = [];
    for (const onnxIsolation of ['auto', 'thread'] as const) {
      const { logger, lines } = captureLogger('info');
      const { base, s } = await serve({ modelUri: IRIS, onnxIsolation }, logger);
      const loaded = lines().find((l) => l.msg === 'model loaded');
      expect(loaded).toMatchObject({ flavor: 'onnx', runtime: 'onnxruntime', isolation: onnxIsolation === 'auto' ? 'none' : 'thread' });
      const res = await invoke(base, IRIS_BODY);
      expect(res.status).toBe(200);
      answers.push(await res.text());
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/modelgate_model_info\{[^}]*runtime="onnxruntime"[^}]*\} 1/);
      await s.close();
    }
    expect(answers[1]).toBe(answers[0]);
  });
});

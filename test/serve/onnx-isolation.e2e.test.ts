/**
 * Slow ONNX graphs through the built CLI (real onnxruntime, real processes): `registry register`
 * refuses a model whose first inference outlasts the load deadline, and `serve` stops cleanly
 * during a slow session creation. The in-process side is in onnx-isolation-slow.e2e.test.ts.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/core/registration.js';
import { killAll, requireBuiltCli, runCli, sleep, startCliServer, stop, waitListening } from '../fixtures/cli.js';
import { slowModelDir } from '../fixtures/slow-onnx.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-onnx-slow-cli-');
afterAll(async () => {
  killAll();
  await temps.removeAll();
});

/** Milliseconds a GET takes, and its status. */
async function timedGet(url: string): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  await res.text();
  return { ms: performance.now() - started, status: res.status };
}

describe('slow ONNX models through the CLI', () => {
  it('refuses `registry register --load-timeout 3` of a model whose warm-up inference takes 5 s', async () => {
    requireBuiltCli();
    const root = await temps.make();
    const dir = await slowModelDir(join(root, 'slow-5s'), 'run', 5000);
    const r = await runCli(['registry', 'register', dir, '--name', 'slow', '--registry', join(root, 'r'), '--load-timeout', '3'], {
      timeoutMs: 60_000,
    });
    expect(r.stderr).toContain('did not finish within 3 s');
    expect(r.code).toBe(1);
    expect(r.signal).toBeNull();
    await expect(openRegistry(join(root, 'r')).listModels()).resolves.toEqual([]);
  });

  it('stops `modelgate serve` (exit 0, not an abort) during a slow session creation, once onnxruntime returns', async () => {
    requireBuiltCli();
    const dir = await slowModelDir(join(await temps.make(), 'slow-create'), 'create', 2000);
    const s = startCliServer(['serve', '-m', dir, '-p', '0', '--host', '127.0.0.1'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' },
    });
    await waitListening(s.running);
    const end = Date.now() + 10_000;
    while (
      (await fetch(`${s.base}/livez`).then(
        (r) => r.status,
        () => 0,
      )) !== 200 &&
      Date.now() < end
    )
      await sleep(50);
    // Live but not ready: the session is still being created.
    expect((await timedGet(`${s.base}/livez`)).ms).toBeLessThan(200);
    expect((await fetch(`${s.base}/ping`)).status).toBe(503);
    const r = await stop(s);
    expect([r.code, r.signal], s.output()).toEqual([0, null]);
    expect(r.stdout).toContain('it exits when that call returns');
  });
});

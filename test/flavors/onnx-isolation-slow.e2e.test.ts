/**
 * Where onnxruntime sessions run (src/flavors/onnx/runner.ts), with the real runtime: a session
 * in a thread of its own gives the same results as one in this thread, moves its feeds instead
 * of copying them, runs calls in order, survives its thread dying, and gives up a creation that
 * missed its deadline without blocking (or aborting) this process; `auto` keeps small models in
 * this thread and slow ones in theirs. A process that ends with session threads:
 * onnx-isolation.e2e.test.ts.
 */
import { copyFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AUTO_LIMITS, type SessionRunner, createSessionRunner, stopSessionThreads } from '../../src/flavors/onnx/runner.js';
import { boolNotModel, int64Model, stringIdentityModel } from '../../tools/onnx/models.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { IRIS } from '../fixtures/cli.js';
import { matMulChain, matMulsFor } from '../fixtures/slow-onnx.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const OPTIONS = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };
const temps = tempDirs('modelgate-onnx-isolation-');
const open: SessionRunner[] = [];

afterEach(async () => {
  for (const r of open.splice(0)) await r.release();
});
afterAll(async () => {
  await stopSessionThreads();
  await temps.removeAll();
});

async function runner(...args: Parameters<typeof createSessionRunner>): Promise<SessionRunner> {
  const r = await createSessionRunner(...args);
  open.push(r);
  return r;
}

/** The longest gap between 10 ms ticks while `work` runs: how long this thread's event loop was held. */
async function longestStall<T>(work: Promise<T>): Promise<{ stallMs: number; settled: PromiseSettledResult<T> }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 10);
  const [settled] = await Promise.allSettled([work]);
  clearInterval(timer);
  return { stallMs, settled };
}

async function slowFile(kind: 'create' | 'run', ms: number): Promise<string> {
  const file = join(await temps.make(), 'model.onnx');
  await writeFile(file, matMulChain(kind, await matMulsFor(kind, ms)));
  return file;
}

describe("a session in a thread of its own (isolation 'thread')", () => {
  it('gives what a session in this thread gives, int64 and strings included', async () => {
    const here = await runner({ bytes: int64Model() }, OPTIONS, { isolation: 'none' });
    const there = await runner({ bytes: int64Model() }, OPTIONS, { isolation: 'thread' });
    expect([here.isolation, there.isolation]).toEqual(['none', 'thread']);
    expect(there.inputMetadata).toEqual(here.inputMetadata);
    expect(there.outputMetadata).toEqual(here.outputMetadata);
    const feed = () => ({ x: { type: 'int64', dims: [2, 2], data: BigInt64Array.of(1n, -2n, 2n ** 61n, 0n) } }) as const;
    const a = (await here.run(feed(), ['y'])).y;
    const b = (await there.run(feed(), ['y'])).y;
    expect(b.type).toBe('int64');
    expect(b.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(b.dims)).toEqual([2, 2]);
    expect(Array.from(b.data as BigInt64Array)).toEqual(Array.from(a.data as BigInt64Array));
    expect(Array.from(b.data as BigInt64Array)).toEqual([2n, -4n, 2n ** 62n, 0n]);

    const text = await runner({ bytes: stringIdentityModel() }, OPTIONS, { isolation: 'thread' });
    const out = await text.run({ text: { type: 'string', dims: [2], data: ['héllo', ''] } }, ['text_out']);
    expect(out.text_out.data).toEqual(['héllo', '']);
  });

  it('moves whole feed buffers to the thread, and copies views into larger buffers instead of taking them', async () => {
    const r = await runner({ bytes: int64Model() }, OPTIONS, { isolation: 'thread' });
    const whole = BigInt64Array.of(1n, 2n);
    await r.run({ x: { type: 'int64', dims: [1, 2], data: whole } }, ['y']);
    expect(whole.buffer.byteLength).toBe(0); // detached: moved, not copied
    const big = new BigInt64Array(8).fill(3n);
    const view = big.subarray(2, 4);
    const out = await r.run({ x: { type: 'int64', dims: [1, 2], data: view } }, ['y']);
    expect(Array.from(out.y.data as BigInt64Array)).toEqual([6n, 6n]);
    expect(big.length).toBe(8);
    expect(Array.from(view)).toEqual([3n, 3n]);
  });

  it('answers concurrent calls in order, each with its own result', async () => {
    const r = await runner({ bytes: int64Model() }, OPTIONS, { isolation: 'thread' });
    const n = 50;
    const outs = await Promise.all(
      Array.from({ length: n }, (_, i) => r.run({ x: { type: 'int64', dims: [1, 2], data: BigInt64Array.of(BigInt(i), 1n) } }, ['y'])),
    );
    expect(outs.map((o) => (o.y.data as BigInt64Array)[0])).toEqual(Array.from({ length: n }, (_, i) => BigInt(2 * i)));
  });

  it('fails the calls of a thread that died with an error, and starts it again', async () => {
    const { logger, lines } = captureLogger('info');
    const r = await runner({ bytes: int64Model() }, OPTIONS, { isolation: 'thread', logger });
    const feed = () => ({ x: { type: 'int64' as const, dims: [1, 2], data: BigInt64Array.of(5n, 6n) } });
    await r.run(feed(), ['y']);
    // Stopped while idle (never inside onnxruntime, which would abort the process), as a crash would stop it.
    void (r as unknown as { worker: Worker }).worker.terminate();
    await expect(r.run(feed(), ['y'])).rejects.toThrow(/The ONNX session thread stopped \(exit code 1\)/);
    expect(Array.from((await r.run(feed(), ['y'])).y.data as BigInt64Array)).toEqual([10n, 12n]);
    expect(lines().some((l) => l.msg === 'restarting the ONNX session thread')).toBe(true);
  });

  it('gives up a creation that missed its deadline at once, without holding this thread, and refuses the same model until it ends', async () => {
    const file = await slowFile('create', 2500);
    const abort = new AbortController();
    const started = performance.now();
    setTimeout(() => abort.abort(), 300);
    const { stallMs, settled } = await longestStall(
      createSessionRunner({ path: file }, OPTIONS, { isolation: 'thread', signal: abort.signal }),
    );
    expect(settled.status).toBe('rejected');
    expect(String((settled as PromiseRejectedResult).reason)).toMatch(/missed its deadline/);
    expect(performance.now() - started).toBeLessThan(800);
    expect(stallMs).toBeLessThan(150);
    // onnxruntime is still folding in that thread: the same model is refused rather than piled on.
    await expect(createSessionRunner({ path: file }, OPTIONS, { isolation: 'thread' })).rejects.toThrow(/still running in its thread/);
    // The thread exits by itself once onnxruntime returns (terminating it inside would abort the process);
    // then the model may be tried again (here with a deadline already past, so nothing starts).
    await stopSessionThreads();
    await expect(createSessionRunner({ path: file }, OPTIONS, { isolation: 'thread', signal: AbortSignal.abort() })).rejects.toThrow(
      /missed its deadline/,
    );
  });
});

describe("choosing per model (isolation 'auto')", () => {
  it('keeps iris in this thread, and a model slow to run or to create in its own', async () => {
    const { logger, lines } = captureLogger('info');
    const iris = await runner({ path: join(IRIS, 'model.onnx') }, OPTIONS, { logger });
    expect(iris.isolation).toBe('none');
    const slowRun = await runner({ path: await slowFile('run', 100) }, OPTIONS, { logger });
    expect(slowRun.isolation).toBe('thread');
    const slowCreate = await runner({ path: await slowFile('create', 400) }, OPTIONS, { logger });
    expect(slowCreate.isolation).toBe('thread');
    const placed = lines().filter((l) => l.msg === 'ONNX session placed');
    expect(placed.map((l) => [l.isolation, l.reason])).toEqual([
      ['none', 'small and fast'],
      ['thread', 'an inference took over 2 ms'],
      ['thread', 'creation took over 100 ms'],
    ]);
    expect(placed[0].probeMs).toBeLessThan(AUTO_LIMITS.runMs);
    // The slow one still answers, from its thread.
    const out = await slowRun.run({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(0) } }, ['y']);
    expect(Array.from(out.y.data as Float32Array)).toEqual([0]);
  });

  it('remembers where it placed a model file, so loading it again skips the probe thread, until the file changes', async () => {
    const { logger, lines } = captureLogger('info');
    const file = join(await temps.make(), 'model.onnx');
    await copyFile(join(IRIS, 'model.onnx'), file);
    const slow = await slowFile('run', 100);
    for (let i = 0; i < 2; i++) {
      expect((await runner({ path: file }, OPTIONS, { logger })).isolation).toBe('none');
      expect((await runner({ path: slow }, OPTIONS, { logger })).isolation).toBe('thread');
    }
    expect(lines().filter((l) => l.msg === 'ONNX session placed')).toHaveLength(2);
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect((await runner({ path: file }, OPTIONS, { logger })).isolation).toBe('none');
    expect(lines().filter((l) => l.msg === 'ONNX session placed')).toHaveLength(3);
  });

  it('keeps strings, int64 and bool models in this thread too (zero inputs exist for them)', async () => {
    for (const bytes of [int64Model(), stringIdentityModel(), boolNotModel()]) {
      expect((await runner({ bytes }, OPTIONS)).isolation).toBe('none');
    }
  });
});

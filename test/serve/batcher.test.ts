import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import type { LoadedModel } from '../../src/flavors/flavor.js';
import type { ModelInput, ModelOutput, Params } from '../../src/schema/model-io.js';
import type { NDArray } from '../../src/schema/ndarray.js';
import { Batcher } from '../../src/core/batcher.js';

const rowsInput = (...rows: number[][]): ModelInput => ({
  kind: 'tensor',
  value: { dtype: 'float32', shape: [rows.length, rows[0].length], data: Float32Array.from(rows.flat()) },
});

/** A model that doubles its input, fails on 13, and records the batch sizes it was called with. */
function doubler(opts: { flatten?: boolean; delayMs?: number } = {}) {
  const calls: number[] = [];
  const model: LoadedModel = {
    signature: undefined,
    info: { runtime: 'test' },
    async predict(input: ModelInput, params: Params): Promise<ModelOutput> {
      const a = (input as { value: NDArray }).value;
      calls.push(a.shape[0]);
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      const data = Float32Array.from(a.data as Float32Array, (x) => x * 2 + Number(params.offset ?? 0));
      if (data.some((x) => x === 26)) throw new GatewayError('INVALID_PARAMETER_VALUE', '13 is not allowed');
      if (opts.flatten) return { kind: 'tensor', value: { dtype: 'float32', shape: [data.length], data } };
      return { kind: 'tensors', value: { y: { dtype: 'float32', shape: a.shape, data } } };
    },
    async unload() {},
  };
  return { model, calls };
}

const ys = (o: ModelOutput) => Array.from((o as { value: Record<string, NDArray> }).value.y.data as Float32Array);

describe('Batcher', () => {
  it('runs a lone request at once and merges the ones that arrive while the model is busy', async () => {
    const { model, calls } = doubler({ delayMs: 20 });
    const sizes: number[] = [];
    const b = new Batcher(model, { maxBatchSize: 64 }, undefined, { onBatch: (rows) => sizes.push(rows), onQueueWait: () => undefined });
    const first = b.predict(rowsInput([1]), {});
    await new Promise((r) => setTimeout(r, 5));
    const rest = Array.from({ length: 10 }, (_, i) => b.predict(rowsInput([i + 2]), {}));
    const outs = await Promise.all([first, ...rest]);
    expect(outs.map((o) => ys(o)[0])).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]);
    expect(calls).toEqual([1, 10]);
    expect(sizes).toEqual([1, 10]);
  });

  it('never puts more rows than the maximum in one call, and runs an oversized request alone and whole', async () => {
    const { model, calls } = doubler({ delayMs: 5 });
    const b = new Batcher(model, { maxBatchSize: 8 });
    const reqs = [
      b.predict(rowsInput([0]), {}),
      ...Array.from({ length: 10 }, () => b.predict(rowsInput([1], [2], [3]), {})),
      b.predict(rowsInput(...Array.from({ length: 20 }, () => [5])), {}),
    ];
    const outs = await Promise.all(reqs);
    expect(Math.max(...calls.filter((c) => c !== 20))).toBeLessThanOrEqual(8);
    expect(calls).toContain(20);
    expect(ys(outs[1])).toEqual([2, 4, 6]);
    expect(ys(outs[11])).toHaveLength(20);
  });

  it('does not merge requests with different params or layouts', async () => {
    const { model, calls } = doubler({ delayMs: 10 });
    const b = new Batcher(model, { maxBatchSize: 64 });
    const busy = b.predict(rowsInput([0]), {});
    await new Promise((r) => setTimeout(r, 2));
    const [a, c, d] = await Promise.all([
      b.predict(rowsInput([1]), { offset: 1 }),
      b.predict(rowsInput([1]), { offset: 2 }),
      b.predict(rowsInput([1, 1]), { offset: 1 }),
      busy,
    ]);
    expect([ys(a)[0], ys(c)[0], ys(d)]).toEqual([3, 4, [3, 3]]);
    expect(calls.slice(1).sort()).toEqual([1, 1, 1]);
  });

  it('fails only the bad request of a batch; its neighbours succeed', async () => {
    const { model } = doubler({ delayMs: 10 });
    const b = new Batcher(model, { maxBatchSize: 64 });
    const busy = b.predict(rowsInput([0]), {});
    await new Promise((r) => setTimeout(r, 2));
    const results = await Promise.allSettled([
      b.predict(rowsInput([1]), {}),
      b.predict(rowsInput([13]), {}),
      b.predict(rowsInput([3]), {}),
      busy,
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ status: 400 });
  });

  it('answers one by one, and stops batching, when outputs cannot be split by row', async () => {
    const { model, calls } = doubler({ flatten: false, delayMs: 10 });
    // A model whose output has a different first dimension than its input (like MLflow's flattened DataFrame outputs).
    const odd: LoadedModel = {
      ...model,
      async predict(input, params) {
        const out = (await model.predict(input, params)) as { value: Record<string, NDArray> };
        const y = out.value.y;
        return { kind: 'tensor', value: { dtype: y.dtype, shape: [1, y.data.length], data: y.data } };
      },
    };
    const b = new Batcher(odd, { maxBatchSize: 64 });
    const busy = b.predict(rowsInput([0]), {});
    await new Promise((r) => setTimeout(r, 2));
    const outs = await Promise.all([b.predict(rowsInput([1]), {}), b.predict(rowsInput([2]), {}), busy]);
    expect(outs.map((o) => Array.from((o as { value: NDArray }).value.data as Float32Array))).toEqual([[2], [4], [0]]);
    const before = calls.length;
    await Promise.all([b.predict(rowsInput([1]), {}), b.predict(rowsInput([2]), {})]);
    expect(calls.slice(before)).toEqual([1, 1]);
  });

  it('does not start a queued request whose deadline has passed', async () => {
    const { model, calls } = doubler({ delayMs: 30 });
    const b = new Batcher(model, { maxBatchSize: 64 });
    const busy = b.predict(rowsInput([0]), {});
    await new Promise((r) => setTimeout(r, 2));
    const late = b.predict(rowsInput([1]), {}, performance.now() + 5);
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    await busy;
    expect(calls).toEqual([1]);
  });
});

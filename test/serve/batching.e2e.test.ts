/**
 * Batching over real HTTP with the 1.3 M-parameter MLP: concurrent requests are merged (the batch
 * size histogram shows it) and each caller gets the same answer as without batching.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { saveModel } from '../../src/core/save.js';
import { startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { BENCH_MLP_OPTIONS, benchMlp, mulberry32 } from '../../tools/onnx/models.js';

let root: string;
let dir: string;
const rand = mulberry32(7);
const rows = Array.from({ length: 64 }, () => Array.from({ length: BENCH_MLP_OPTIONS.inputSize }, () => rand() * 2 - 1));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-batching-'));
  dir = join(root, 'mlp');
  await saveModel(dir, { flavor: 'onnx', model: benchMlp(), inputExample: [rows[0]] });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function answers(maxBatchSize: number): Promise<{ outputs: number[][]; metrics: string }> {
  const s = await startServer(resolveServeConfig({ modelUri: dir, port: 0, maxBatchSize, shutdownGraceSeconds: 0 }), silentLogger());
  await s.loaded;
  const outputs = await Promise.all(
    rows.map(async (row) => {
      const res = await fetch(`http://127.0.0.1:${s.port}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [row] }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { predictions: { y: number[][] } }).predictions.y[0];
    }),
  );
  const metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
  await s.close();
  return { outputs, metrics };
}

describe('batching (real HTTP)', () => {
  it('merges concurrent requests and answers each as an unbatched server would', async () => {
    const single = await answers(1);
    const batched = await answers(64);
    expect(single.metrics).not.toContain('modelgate_batch_size_count');
    const count = Number(/modelgate_batch_size_count\{model="mlp",version="local"\} (\d+)/.exec(batched.metrics)?.[1]);
    const sum = Number(/modelgate_batch_size_sum\{model="mlp",version="local"\} (\d+)/.exec(batched.metrics)?.[1]);
    expect(sum).toBe(64); // the warm-up example runs before batching starts
    expect(count).toBeLessThan(sum); // at least one call held several requests
    expect(batched.metrics).toMatch(/modelgate_batch_queue_seconds_count\{model="mlp",version="local"\} \d+/);
    batched.outputs.forEach((y, i) => y.forEach((v, j) => expect(v).toBeCloseTo(single.outputs[i][j], 5)));
  }, 60_000);
});

/**
 * Models loaded on demand under a budget, end to end on real HTTP and real model folders: one load
 * for concurrent first requests, LRU unloading under --max-loaded-models with random traffic (no
 * failed request, never more resident than the bound, as /metrics reports it), the memory budget,
 * and idle unloading.
 */
import { cp, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { irisClassifier } from '../../tools/onnx/models.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';
const dirs = tempDirs('modelgate-budget-');
let root: string;
const models: string[] = [];

beforeAll(async () => {
  root = await dirs.make();
  const { weights, bias } = trainIrisLogReg();
  for (let i = 0; i < 5; i++) {
    const dir = join(root, `m${i}`);
    await cp('examples/iris', dir, { recursive: true });
    await writeFile(join(dir, 'model.onnx'), irisClassifier({ weights: weights.map((r) => r.map((w) => w * (i + 1))), bias }));
    models.push(dir);
  }
});

afterAll(() => dirs.removeAll());

async function serve(extra: Record<string, unknown>): Promise<RunningServer> {
  const config = resolveServeConfig({
    registryUri: join(root, 'registry'),
    port: 0,
    drainSeconds: 1,
    shutdownGraceSeconds: 0,
    models: models.map((primary) => ({ primary })),
    lazy: true,
    ...extra,
  });
  const s = await startServer(config, silentLogger());
  await s.loaded;
  return s;
}

const invoke = async (port: number, name: string) => {
  const res = await fetch(`http://127.0.0.1:${port}/models/${name}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
  });
  return { status: res.status, name: res.headers.get('x-model-name'), text: await res.text() };
};

/** A value from the server's metrics registry: the text /metrics serves, without its 500 ms scrape sharing. */
async function metric(s: RunningServer, pattern: RegExp): Promise<number> {
  const text = await s.metrics.registry.metrics();
  const m = pattern.exec(text);
  return m === null ? 0 : Number(m[1]);
}
const RESIDENT = /^modelgate_models_resident (\S+)$/m;
const LOADS = /^modelgate_model_loads_total\{outcome="success"\} (\S+)$/m;
const LRU = /^modelgate_model_unloads_total\{reason="lru"\} (\S+)$/m;
const IDLE = /^modelgate_model_unloads_total\{reason="idle"\} (\S+)$/m;
const MEMORY = /^modelgate_models_memory_bytes (\S+)$/m;

describe('--lazy', () => {
  it('is ready before any model loads, and 8 concurrent first requests share one load', async () => {
    const s = await serve({});
    try {
      expect((await fetch(`http://127.0.0.1:${s.port}/ready`)).status).toBe(200);
      expect(await metric(s, RESIDENT)).toBe(0);
      const answers = await Promise.all(Array.from({ length: 8 }, () => invoke(s.port, 'm2')));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(new Set(answers.map((a) => a.text)).size).toBe(1);
      expect(await metric(s, LOADS)).toBe(1);
      expect(await metric(s, RESIDENT)).toBe(1);
      expect(s.models?.index().find((e) => e.name === 'm2')).toMatchObject({ state: 'READY', version: 'local' });
      expect(s.models?.index().find((e) => e.name === 'm0')).toMatchObject({ state: 'UNAVAILABLE', reason: 'not loaded' });
    } finally {
      await s.close();
    }
  });
});

describe('--max-loaded-models 2 with 5 models under random traffic', () => {
  it('fails no request and never has more than 2 resident, as /metrics reports', async () => {
    const s = await serve({ maxLoadedModels: 2 });
    let sampling = true;
    let maxResident = 0;
    const sampler = (async () => {
      while (sampling) {
        // The gauge itself (a /metrics rendering every few ms would slow the server it measures).
        maxResident = Math.max(maxResident, (await s.metrics.modelsResident.get()).values[0]?.value ?? 0);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      let seed = 42;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 5;
      const statuses: number[] = [];
      const wrong: string[] = [];
      // 6 clients, 40 requests each, to models picked at random.
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          for (let i = 0; i < 40; i++) {
            const name = `m${Math.floor(random())}`;
            const r = await invoke(s.port, name);
            statuses.push(r.status);
            if (r.status !== 200 || r.name !== name) wrong.push(`${name}: ${r.status} ${r.name} ${r.text}`);
          }
        }),
      );
      sampling = false;
      await sampler;
      expect(wrong).toEqual([]);
      expect(statuses).toHaveLength(240);
      expect(maxResident).toBeGreaterThan(0);
      expect(maxResident).toBeLessThanOrEqual(2);
      expect(await metric(s, RESIDENT)).toBeLessThanOrEqual(2);
      expect(await metric(s, LRU)).toBeGreaterThan(0);
      // The gauge counts what is really loaded: a model reloaded while it was being unloaded keeps its place.
      const ready = s.models?.index().filter((e) => e.state === 'READY').length;
      expect(ready).toBe(await metric(s, RESIDENT));
    } finally {
      sampling = false;
      await sampler;
      await s.close();
    }
  });
});

describe('--max-model-memory', () => {
  it('refuses a model bigger than the whole budget with a clear error, and keeps the estimate within it', async () => {
    let bytes = 0;
    for (const f of await readdir(models[0])) bytes += (await stat(join(models[0], f))).size;
    const tiny = await serve({ maxModelMemory: 1 / 1024 / 1024 });
    try {
      const r = await invoke(tiny.port, 'm0');
      expect(r.status).toBe(507);
      expect(JSON.parse(r.text).message).toMatch(/Model 'm0' needs an estimated .* MB, more than the whole --max-model-memory budget/);
    } finally {
      await tiny.close();
    }
    // Room for two models' folders, not three.
    const budgetMb = (bytes * 2.5) / 1024 / 1024;
    const s = await serve({ maxModelMemory: budgetMb });
    try {
      for (const name of ['m0', 'm1', 'm2', 'm3', 'm0']) expect((await invoke(s.port, name)).status).toBe(200);
      expect(await metric(s, RESIDENT)).toBeLessThanOrEqual(2);
      expect(await metric(s, MEMORY)).toBeLessThanOrEqual(budgetMb * 1024 * 1024);
      expect(await metric(s, MEMORY)).toBeGreaterThan(bytes);
      expect(await metric(s, LRU)).toBeGreaterThanOrEqual(2);
    } finally {
      await s.close();
    }
  });
});

describe('--idle-unload-seconds', () => {
  it('unloads a model no request used for that long, and loads it again on the next request', async () => {
    const s = await serve({ idleUnloadSeconds: 0.3 });
    try {
      expect((await invoke(s.port, 'm1')).status).toBe(200);
      expect(await metric(s, RESIDENT)).toBe(1);
      const deadline = Date.now() + 5000;
      while ((await metric(s, RESIDENT)) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await metric(s, RESIDENT)).toBe(0);
      expect(await metric(s, IDLE)).toBe(1);
      expect((await invoke(s.port, 'm1')).status).toBe(200);
      expect(await metric(s, LOADS)).toBe(2);
    } finally {
      await s.close();
    }
  });
});

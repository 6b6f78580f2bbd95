/**
 * What the TF.js flavour does beyond the shared contract: bare model.json directories, shard
 * handling and its failures, the backend in logs and /metrics, DataFrame outputs, and no tensor
 * left behind across 10,000 requests.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { openModelDir } from '../../src/core/model-dir.js';
import { saveModel } from '../../src/core/save.js';
import { openRegistry } from '../../src/core/registration.js';
import { createApp } from '../../src/http/app.js';
import type { ServableModel } from '../../src/core/servable.js';
import { loadServable } from '../../src/core/load.js';
import { scoreBody } from '../../src/core/scoring.js';
import { createMetrics } from '../../src/core/metrics.js';
import { SingleModelHost } from '../../src/core/model-host.js';
import { IRIS_FEATURE_NAMES } from '../../tools/iris/iris-data.js';
import { GRAPH_WEIGHTS, IRIS_LAYERS, denseForward } from '../../tools/tfjs/models.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { IRIS_ROWS, ModelDirs } from '../fixtures/flavor-models.js';

const dirs = new ModelDirs();
const loaded: ServableModel[] = [];

async function serve(dir: string, logger = captureLogger().logger): Promise<ServableModel> {
  const s = await loadServable(await openModelDir(dir), { name: 'm', version: '1' }, { logger });
  loaded.push(s);
  return s;
}

const json = (s: ServableModel, body: unknown) => scoreBody(s, 'application/json', JSON.stringify(body));

afterAll(async () => {
  for (const s of loaded) await s.model.unload();
  await dirs.cleanup();
});

describe('TF.js flavour: bare model directories', () => {
  it('recognises a LayersModel model.json and infers its signature', async () => {
    const md = await openModelDir(await dirs.rawLayers());
    expect(md.flavor.name).toBe('tfjs');
    expect(md.generated).toBe(true);
    expect(md.mlmodel.flavors).toEqual({ tfjs: { model_json: 'model.json', format: 'layers-model' } });
    const s = await serve(md.path);
    expect(s.signature).toEqual({
      inputs: { kind: 'tensors', inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 4] }] },
      outputs: { kind: 'tensors', inputs: [{ name: 'dense_1', dtype: 'float32', shape: [-1, 3] }] },
    });
  });

  it("infers a GraphModel's signature from its signature keys and one dry run for the outputs", async () => {
    const s = await serve(await dirs.rawGraph());
    expect(s.signature).toEqual({
      inputs: { kind: 'tensors', inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }] },
      outputs: { kind: 'tensors', inputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 3] }] },
    });
    const out = JSON.parse(await json(s, { inputs: IRIS_ROWS })) as { predictions: number[][] };
    const want = denseForward([GRAPH_WEIGHTS], IRIS_ROWS.flat(), 3);
    out.predictions.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  it('registers a bare directory and writes an MLmodel with the inferred signature', async () => {
    const registry = openRegistry(await dirs.path('registry'));
    const v = await registry.register(await dirs.rawLayers(), { name: 'tfjs-bare' });
    expect(v.flavor).toBe('tfjs');
    const files = await registry.materialize(v);
    expect(files.files.map((f) => f.path)).toContain('MLmodel');
    const md = await openModelDir(files.dir);
    expect(md.generated).toBe(false);
    expect(md.mlmodel.flavors.tfjs).toEqual({ model_json: 'model.json', format: 'layers-model' });
    expect(md.mlmodel.signature?.inputs).toEqual({ kind: 'tensors', inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 4] }] });
  });

  it('ignores a model.json that is not a TF.js model', async () => {
    const dir = await dirs.path('not-tfjs');
    await saveModel(dir, { flavor: 'onnx', model: new Uint8Array([1]), validate: false });
    await writeFile(join(dir, 'model.json'), '{"name": "a package, not a model"}');
    await rename(join(dir, 'MLmodel'), join(dir, 'MLmodel.bak'));
    const { tfjsFlavor } = await import('../../src/flavors/tfjs/index.js');
    expect(await tfjsFlavor.detect!(dir)).toBeUndefined();
  });
});

describe('TF.js flavour: weight shards', () => {
  it('reads weights spread over several shards, tensors crossing shard boundaries', async () => {
    const dir = await dirs.rawLayers(20); // 268 bytes of weights in 14 shards of 20 bytes
    const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    expect(manifest.weightsManifest[0].paths).toHaveLength(14);
    const s = await serve(dir);
    const out = JSON.parse(await json(s, { inputs: IRIS_ROWS })) as { predictions: number[][] };
    const want = denseForward(IRIS_LAYERS, IRIS_ROWS.flat(), 3);
    out.predictions.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  it('refuses a missing shard, a short shard and a shard path outside the directory', async () => {
    const missing = await dirs.rawLayers();
    await rename(join(missing, 'group1-shard2of5.bin'), join(missing, 'elsewhere.bin'));
    await expect(serve(missing)).rejects.toMatchObject({ status: 400, message: expect.stringContaining('group1-shard2of5.bin') });

    const short = await dirs.rawLayers();
    await writeFile(join(short, 'group1-shard5of5.bin'), new Uint8Array(4));
    await expect(serve(short)).rejects.toMatchObject({ message: expect.stringMatching(/describes 268 bytes .* hold 260 bytes/) });

    const escape = await dirs.rawLayers();
    const mj = JSON.parse(await readFile(join(escape, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    mj.weightsManifest[0].paths[0] = '../../../etc/passwd';
    await writeFile(join(escape, 'model.json'), JSON.stringify(mj));
    await expect(serve(escape)).rejects.toMatchObject({ message: expect.stringContaining('points outside the model directory') });
  });
});

describe('TF.js flavour: backend', () => {
  it('runs on wasm by default (tfjs-node is not installed here), says so in the log and in /metrics', async () => {
    const log = captureLogger();
    const s = await serve(await dirs.tfjsLayers(), log.logger);
    expect(s.model.info).toMatchObject({ runtime: 'tfjs-wasm', backend: 'wasm', format: 'layers-model' });
    expect(tf.getBackend()).toBe('wasm');
    const loadedLine = log.lines().find((l) => l.msg === 'model loaded');
    expect(loadedLine).toMatchObject({ flavor: 'tfjs', backend: 'wasm', runtime: 'tfjs-wasm' });

    const metrics = createMetrics({ processMetrics: false });
    const host = new SingleModelHost(metrics);
    host.setReady(s);
    const res = await createApp({ host, metrics }).request('/metrics');
    expect(await res.text()).toMatch(/modelgate_model_info\{[^}]*flavor="tfjs"[^}]*runtime="tfjs-wasm"[^}]*\} 1/);
  });
});

describe('TF.js flavour: DataFrame outputs for a column signature', () => {
  it('answers records with one column per output unit, as Keras-wrapped MLflow models do', async () => {
    const dir = await dirs.path('tfjs-columns');
    await saveModel(dir, {
      flavor: 'tfjs',
      model: await dirs.rawLayers(),
      signature: { inputs: IRIS_FEATURE_NAMES.map((name) => ({ type: 'double', name })) },
      inputExample: IRIS_ROWS.map((r) => Object.fromEntries(IRIS_FEATURE_NAMES.map((f, i) => [f, r[i]]))),
    });
    const s = await serve(dir);
    const out = JSON.parse(await json(s, { dataframe_split: { columns: IRIS_FEATURE_NAMES, data: IRIS_ROWS } })) as {
      predictions: Record<string, number>[];
    };
    const want = denseForward(IRIS_LAYERS, IRIS_ROWS.flat(), 3);
    expect(out.predictions).toHaveLength(3);
    out.predictions.forEach((row, r) => {
      expect(Object.keys(row)).toEqual(['0', '1', '2']);
      [0, 1, 2].forEach((c) => expect(row[String(c)]).toBeCloseTo(want[r * 3 + c], 5));
    });
  });
});

describe('TF.js flavour: memory', () => {
  it('keeps the live tensor count flat across 10,000 requests, failed ones included', async () => {
    const layers = await serve(await dirs.tfjsLayers());
    const graph = await serve(await dirs.tfjsGraph());
    const multi = await serve(await dirs.tfjsMultiIo());
    // A signature looser than the model, so a wrong width gets past enforcement and TF.js rejects it.
    const looseDir = await dirs.path('tfjs-loose');
    await saveModel(looseDir, {
      flavor: 'tfjs',
      model: await dirs.rawLayers(),
      signature: { inputs: [{ type: 'tensor', name: 'features', 'tensor-spec': { dtype: 'float32', shape: [-1, -1] } }] },
    });
    const loose = await serve(looseDir);
    await expect(json(loose, { inputs: [[1, 2, 3]] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('TF.js rejected the input'),
    });
    const bodies: [ServableModel, string][] = [
      [layers, JSON.stringify({ inputs: IRIS_ROWS })],
      [graph, JSON.stringify({ dataframe_split: { columns: ['x'], data: IRIS_ROWS.map((r) => [r]) } })],
      [multi, JSON.stringify({ instances: [{ a: [1, 2, 3], b: [4, 5] }] })],
    ];
    // Warm up (kernels, caches), then measure.
    for (const [s, b] of bodies) await scoreBody(s, 'application/json', b);
    const before = tf.memory();
    let failures = 0;
    for (let i = 0; i < 10_000; i++) {
      const [s, b] = bodies[i % bodies.length];
      if (i % 100 === 99) {
        // A request TF.js itself rejects, after the input tensors exist.
        await scoreBody(loose, 'application/json', '{"inputs": [[1, 2, 3]]}').catch(() => failures++);
      } else {
        await scoreBody(s, 'application/json', b);
      }
    }
    const after = tf.memory();
    expect(failures).toBe(100);
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
  });

  it('frees the weights on unload', async () => {
    const before = tf.memory().numTensors;
    const s = await loadServable(await openModelDir(await dirs.tfjsMultiIo()), { name: 'u', version: '1' });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    await s.model.unload();
    expect(tf.memory().numTensors).toBe(before);
  });
});

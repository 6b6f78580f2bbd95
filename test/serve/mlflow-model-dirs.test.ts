/**
 * The model directories MLflow 3.11.2.dev0 itself wrote (copied byte for byte into
 * test/fixtures/mlflow-model-files) load as they are and score their own
 * serving_input_example.json, with the probabilities the recording's README states:
 * iris v1 (tensor float32 (-1, 4)) and iris-cols v1 (four double columns), same ONNX bytes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelDir } from '../../src/core/model-dir.js';
import type { ServableModel } from '../../src/core/servable.js';
import { loadServable } from '../../src/core/load.js';
import { scoreBody } from '../../src/core/scoring.js';
import type { RunningServer } from '../../src/server/server.js';
import { IRIS_COLS_V1, IRIS_V1, IRIS_V1_PROBABILITIES, MLFLOW_FILE_NAMES } from '../fixtures/mlflow-iris.js';
import { serveModelDir } from '../fixtures/serve-dir.js';

const TOLERANCE = 1e-5;

async function digests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort())
    out[f] = createHash('sha256')
      .update(await readFile(join(dir, f)))
      .digest('hex');
  return out;
}

function expectClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]), `element ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(TOLERANCE));
}

const before: Record<string, Record<string, string>> = {};
const servables: ServableModel[] = [];

beforeAll(async () => {
  before[IRIS_V1] = await digests(IRIS_V1);
  before[IRIS_COLS_V1] = await digests(IRIS_COLS_V1);
});

afterAll(async () => {
  await Promise.all(servables.map((s) => s.model.unload()));
});

async function load(dir: string, name: string): Promise<ServableModel> {
  const servable = await loadServable(await openModelDir(dir), { name, version: '1' });
  servables.push(servable);
  return servable;
}

describe('iris v1 (tensor signature, written by MLflow)', () => {
  let servable: ServableModel;
  beforeAll(async () => {
    servable = await load(IRIS_V1, 'iris');
  });

  it('holds exactly the files MLflow wrote', async () => {
    expect((await readdir(IRIS_V1)).sort()).toEqual(MLFLOW_FILE_NAMES);
  });

  it("reads MLflow's MLmodel as it is: ONNX flavour, unnamed float32 (-1, 4) tensor, the serving example file", async () => {
    const md = await openModelDir(IRIS_V1);
    expect(md.generated).toBe(false);
    expect(md.flavor.name).toBe('onnx');
    expect(md.mlmodel.signature?.inputs).toEqual({ kind: 'tensors', inputs: [{ dtype: 'float32', shape: [-1, 4] }] });
    expect(md.mlmodel.inputExample).toEqual({
      artifactPath: 'input_example.json',
      servingInputPath: 'serving_input_example.json',
      type: 'ndarray',
      pandasOrient: undefined,
    });
    expect(servable.example).toEqual({
      contentType: 'application/json',
      body: await readFile(join(IRIS_V1, 'serving_input_example.json'), 'utf8'),
    });
  });

  it('scores its serving_input_example.json with the probabilities the README states', async () => {
    const body = await readFile(join(IRIS_V1, 'serving_input_example.json'), 'utf8');
    const out = JSON.parse(await scoreBody(servable, 'application/json', body)) as { predictions: Record<string, number[][]> };
    // An ndarray input gives the ONNX outputs by name (MLflow's _OnnxModelWrapper returns {output_name: ndarray}).
    expect(Object.keys(out.predictions)).toEqual(['probabilities']);
    const probs = out.predictions.probabilities;
    expect(probs).toHaveLength(3);
    probs.forEach((row, i) => expectClose(row, IRIS_V1_PROBABILITIES[i]));
  });

  it('scores its input_example.json sent as {"inputs": …} the same way', async () => {
    const example = await readFile(join(IRIS_V1, 'input_example.json'), 'utf8');
    const out = JSON.parse(await scoreBody(servable, 'application/json', `{"inputs": ${example}}`)) as {
      predictions: { probabilities: number[][] };
    };
    out.predictions.probabilities.forEach((row, i) => expectClose(row, IRIS_V1_PROBABILITIES[i]));
  });
});

describe('iris-cols v1 (column signature, written by MLflow)', () => {
  let servable: ServableModel;
  beforeAll(async () => {
    servable = await load(IRIS_COLS_V1, 'iris-cols');
  });

  it('holds exactly the files MLflow wrote', async () => {
    expect((await readdir(IRIS_COLS_V1)).sort()).toEqual(MLFLOW_FILE_NAMES);
  });

  it("reads MLflow's MLmodel as it is: four required double columns, a split-oriented DataFrame example", async () => {
    const md = await openModelDir(IRIS_COLS_V1);
    expect(md.flavor.name).toBe('onnx');
    expect(md.mlmodel.signature?.inputs).toEqual({
      kind: 'columns',
      inputs: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name) => ({
        name,
        colType: { type: 'double' },
        required: true,
      })),
    });
    expect(md.mlmodel.inputExample).toEqual({
      artifactPath: 'input_example.json',
      servingInputPath: 'serving_input_example.json',
      type: 'dataframe',
      pandasOrient: 'split',
    });
  });

  it('scores its serving_input_example.json: one record per value of the flattened output, as MLflow does', async () => {
    const body = await readFile(join(IRIS_COLS_V1, 'serving_input_example.json'), 'utf8');
    const out = JSON.parse(await scoreBody(servable, 'application/json', body)) as { predictions: { probabilities: number }[] };
    // MLflow's ONNX wrapper turns a DataFrame's outputs into columns with reshape(-1): the one
    // (3, 3) output becomes 9 records, row after row.
    expect(out.predictions).toHaveLength(9);
    for (const record of out.predictions) expect(Object.keys(record)).toEqual(['probabilities']);
    expectClose(
      out.predictions.map((r) => r.probabilities),
      IRIS_V1_PROBABILITIES.flat(),
    );
  });

  it('scores the same rows as CSV with the same result', async () => {
    const csv = 'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n4.9,3.0,1.4,0.2\n4.7,3.2,1.3,0.2\n';
    const out = JSON.parse(await scoreBody(servable, 'text/csv', csv)) as { predictions: { probabilities: number }[] };
    expectClose(
      out.predictions.map((r) => r.probabilities),
      IRIS_V1_PROBABILITIES.flat(),
    );
  });
});

describe('served over HTTP from the unchanged directories', () => {
  let root: string;
  const running: RunningServer[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'modelgate-mlflow-dirs-'));
  });

  afterAll(async () => {
    await Promise.all(running.map((s) => s.close()));
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['iris-v1', IRIS_V1],
    ['iris-cols-v1', IRIS_COLS_V1],
  ])('%s: POST of its serving_input_example.json answers 200 with the README probabilities', async (_name, dir) => {
    const server = await serveModelDir(dir, root);
    running.push(server);
    const res = await fetch(`http://127.0.0.1:${server.port}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: await readFile(join(dir, 'serving_input_example.json')),
    });
    expect(res.status).toBe(200);
    const { predictions } = (await res.json()) as { predictions: unknown };
    const flat = Array.isArray(predictions)
      ? (predictions as { probabilities: number }[]).map((r) => r.probabilities)
      : (predictions as { probabilities: number[][] }).probabilities.flat();
    expectClose(flat, IRIS_V1_PROBABILITIES.flat());
  });

  it('left every file of both directories as it was', async () => {
    expect(await digests(IRIS_V1)).toEqual(before[IRIS_V1]);
    expect(await digests(IRIS_COLS_V1)).toEqual(before[IRIS_COLS_V1]);
  });
});

/**
 * `saveModel` for the js, onnx and tfjs flavours: the files and MLmodel it writes (in MLflow's
 * layout), the input example in MLflow's two files, and the validation that refuses a model that
 * does not serve.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tfjsRuntime } from '../../src/flavors/tfjs/backend.js';
import { openModelDir } from '../../src/core/model-dir.js';
import { saveModel } from '../../src/core/save.js';
import { loadServable } from '../../src/core/load.js';
import { scoreBody } from '../../src/core/scoring.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { irisClassifier } from '../../tools/onnx/models.js';
import { IRIS_ROWS, ModelDirs } from '../fixtures/flavor-models.js';

const dirs = new ModelDirs();
afterAll(() => dirs.cleanup());

const read = (dir: string, f: string) => readFile(join(dir, f), 'utf8');

async function scoreExample(dir: string): Promise<string> {
  const s = await loadServable(await openModelDir(dir), { name: 'saved', version: '1' });
  try {
    return await scoreBody(s, s.example!.contentType, s.example!.body);
  } finally {
    await s.model.unload();
  }
}

describe('saveModel', () => {
  it('writes an ONNX model as mlflow.onnx does, with an ndarray example in both MLflow files', async () => {
    const { weights, bias } = trainIrisLogReg();
    const dir = await dirs.path('onnx');
    await saveModel(dir, {
      flavor: 'onnx',
      model: irisClassifier({ weights, bias }),
      inputExample: [[5.1, 3.5, 1.4, 0.2]],
      signature: {
        inputs: [{ type: 'tensor', name: 'input', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] } }],
        outputs: [{ type: 'tensor', name: 'probabilities', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] } }],
      },
    });
    expect((await readdir(dir)).sort()).toEqual(['MLmodel', 'input_example.json', 'model.onnx', 'serving_input_example.json']);
    const text = await read(dir, 'MLmodel');
    const doc = parse(text) as Record<string, unknown>;
    // yaml.safe_dump order, as MLflow writes it.
    expect(Object.keys(doc)).toEqual([...Object.keys(doc)].sort());
    expect(doc.flavors).toEqual({
      onnx: { code: null, data: 'model.onnx', onnx_session_options: null, providers: ['CPUExecutionProvider'] },
      python_function: { data: 'model.onnx', loader_module: 'mlflow.onnx' },
    });
    expect(doc.saved_input_example_info).toEqual({
      artifact_path: 'input_example.json',
      serving_input_path: 'serving_input_example.json',
      type: 'ndarray',
    });
    expect(doc.signature).toEqual({
      inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "input"}]',
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}, "name": "probabilities"}]',
      params: null,
    });
    expect(text).toMatch(/^utc_time_created: '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}'$/m);
    expect(doc.model_size_bytes).toBeGreaterThan(0);
    expect(await read(dir, 'input_example.json')).toBe('[[5.1, 3.5, 1.4, 0.2]]');
    expect(await read(dir, 'serving_input_example.json')).toBe(
      '{\n  "inputs": [\n    [\n      5.1,\n      3.5,\n      1.4,\n      0.2\n    ]\n  ]\n}',
    );
    const out = JSON.parse(await scoreExample(dir)) as { predictions: { label: number[] } };
    expect(out.predictions.label).toEqual([0]);
  });

  it('saves an in-memory TF.js model, with example params inferred into the signature', async () => {
    const { tf } = await tfjsRuntime();
    const tfl = await import('@tensorflow/tfjs-layers');
    const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2, kernelInitializer: 'ones', name: 'out' })] });
    const dir = await dirs.path('tfjs-memory');
    await saveModel(dir, { flavor: 'tfjs', model, inputExample: IRIS_ROWS, params: { temperature: 0.5, top_k: [1, 2] } });
    model.dispose();
    expect((await readdir(dir)).sort()).toEqual([
      'MLmodel',
      'group1-shard1of1.bin',
      'input_example.json',
      'model.json',
      'serving_input_example.json',
    ]);
    const doc = parse(await read(dir, 'MLmodel')) as { flavors: unknown; signature: { params: string } };
    expect(doc.flavors).toEqual({ tfjs: { format: 'layers-model', model_json: 'model.json' } });
    expect(JSON.parse(doc.signature.params)).toEqual([
      { name: 'temperature', type: 'double', default: 0.5, shape: null },
      { name: 'top_k', type: 'long', default: [1, 2], shape: [-1] },
    ]);
    expect(await read(dir, 'input_example.json')).toBe(
      '{"inputs": [[5.1, 3.5, 1.4, 0.2], [7, 3.2, 4.7, 1.4], [6.3, 3.3, 6, 2.5]], "params": {"temperature": 0.5, "top_k": [1, 2]}}',
    );
    expect(JSON.parse(await read(dir, 'serving_input_example.json'))).toEqual({
      inputs: IRIS_ROWS,
      params: { temperature: 0.5, top_k: [1, 2] },
    });
    // A Sequential model has no input/output names of its own; they come from its layers.
    const s = await loadServable(await openModelDir(dir), { name: 'seq', version: '1' });
    expect(s.signature?.inputs).toEqual({ kind: 'tensors', inputs: [{ name: 'out_input', dtype: 'float32', shape: [-1, 4] }] });
    expect(s.signature?.outputs).toEqual({ kind: 'tensors', inputs: [{ name: 'out', dtype: 'float32', shape: [-1, 2] }] });
    await s.model.unload();
    // ones kernel, zero bias: each output is the row's sum.
    const out = JSON.parse(await scoreExample(dir)) as { predictions: number[][] };
    out.predictions.forEach((row, r) =>
      row.forEach((v) =>
        expect(v).toBeCloseTo(
          IRIS_ROWS[r].reduce((a, b) => a + b),
          4,
        ),
      ),
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it('saves row examples as a DataFrame (split orient) and a dict of scalars as one row', async () => {
    const module = join(await dirs.path('echo-src'), 'm.js');
    await mkdir(join(module, '..'), { recursive: true });
    await writeFile(module, 'export function load() { return { predict: (rows) => rows.length }; }\n');
    const rows = await dirs.path('rows');
    await saveModel(rows, { flavor: 'js', module, inputExample: [{ a: 1, b: 'x' }, { b: 'y' }] });
    expect(JSON.parse(await read(rows, 'input_example.json'))).toEqual({
      columns: ['a', 'b'],
      data: [
        [1, 'x'],
        [null, 'y'],
      ],
    });
    expect(JSON.parse(await read(rows, 'serving_input_example.json'))).toEqual({
      dataframe_split: {
        columns: ['a', 'b'],
        data: [
          [1, 'x'],
          [null, 'y'],
        ],
      },
    });
    expect((parse(await read(rows, 'MLmodel')) as { saved_input_example_info: unknown }).saved_input_example_info).toMatchObject({
      type: 'dataframe',
      pandas_orient: 'split',
    });
    // A .js module gets a package.json that makes it ESM.
    expect(await read(rows, 'code/package.json')).toContain('"module"');
    expect(await scoreExample(rows)).toBe('{"predictions": 2}');

    const one = await dirs.path('one-row');
    await saveModel(one, { flavor: 'js', module, inputExample: { a: 1, b: 'x' } });
    expect(JSON.parse(await read(one, 'input_example.json'))).toEqual({ columns: ['a', 'b'], data: [[1, 'x']] });
  });

  it('copies code paths, so a module can import its helpers', async () => {
    const pkg = await dirs.path('pkg');
    await mkdir(join(pkg, 'lib'), { recursive: true });
    await writeFile(join(pkg, 'lib', 'double.mjs'), 'export const double = (x) => 2 * x;\n');
    await writeFile(
      join(pkg, 'model.mjs'),
      "import { double } from './lib/double.mjs';\nexport function load() { return { predict: (x) => x.map(double) }; }\n",
    );
    const dir = await dirs.path('with-code');
    const saved = await saveModel(dir, { flavor: 'js', module: join(pkg, 'model.mjs'), codePaths: [pkg], inputExample: [1, 2] });
    const flavors = saved.mlmodel.flavors as { js: { module: string } };
    expect(flavors.js.module).toMatch(/^code\/pkg-\d+\/model\.mjs$/);
    expect(await scoreExample(dir)).toBe('{"predictions": [2, 4]}');
  });

  it('refuses a directory that is not empty and leaves it as it was', async () => {
    const dir = await dirs.path('full');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'keep.txt'), 'mine');
    await expect(saveModel(dir, { flavor: 'onnx', model: new Uint8Array([1]) })).rejects.toMatchObject({
      code: 'RESOURCE_ALREADY_EXISTS',
    });
    expect(await readdir(dir)).toEqual(['keep.txt']);
  });

  it('refuses an ONNX model that does not load, emptying the directory it was given', async () => {
    const dir = await dirs.path('empty-given');
    await mkdir(dir, { recursive: true });
    await expect(saveModel(dir, { flavor: 'onnx', model: new Uint8Array([1, 2, 3]) })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('The saved model does not load'),
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

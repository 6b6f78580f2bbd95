import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/flavors/onnx/float16.js';
import { openModelDir } from '../../src/core/model-dir.js';
import {
  type OnnxIsolation,
  type SessionRunner,
  createSessionRunner,
  sessionThreadCounts,
  stopSessionThreads,
} from '../../src/flavors/onnx/runner.js';
import type { ServableModel } from '../../src/core/servable.js';
import { loadServable } from '../../src/core/load.js';
import { scoreBody } from '../../src/core/scoring.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { boolNotModel, doubleModel, int64Model, irisClassifier, multiInputModel, stringIdentityModel } from '../../tools/onnx/models.js';

let root: string;
const loaded: ServableModel[] = [];

async function modelDir(name: string, onnx: Uint8Array, mlmodel?: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), onnx);
  if (mlmodel !== undefined) await writeFile(join(dir, 'MLmodel'), mlmodel);
  return dir;
}

let isolation: OnnxIsolation = 'auto';

async function serve(dir: string): Promise<ServableModel> {
  const s = await loadServable(await openModelDir(dir), { name: 'm', version: '1' }, { flavor: { onnxIsolation: isolation } });
  loaded.push(s);
  return s;
}

const json = (s: ServableModel, body: unknown) => scoreBody(s, 'application/json', JSON.stringify(body));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-onnx-'));
});

afterAll(async () => {
  for (const s of loaded) await s.model.unload();
  await rm(root, { recursive: true, force: true });
});

// Every case runs with the session in the server's thread (auto picks it for these small models) and in a thread of its own.
describe.each(['auto', 'thread'] as const)('ONNX flavour (isolation %s)', (mode) => {
  beforeAll(() => {
    isolation = mode;
  });

  it('places small models as the isolation setting says', async () => {
    const log = captureLogger();
    const dir = await modelDir(`place-${mode}`, int64Model());
    const s = await loadServable(
      await openModelDir(dir),
      { name: 'm', version: '1' },
      { flavor: { onnxIsolation: mode }, logger: log.logger },
    );
    loaded.push(s);
    if (mode === 'thread') return expect(s.model.info.isolation).toBe('thread');
    // A model this small runs in this thread, unless the machine is so busy that creating its
    // session took over the auto rule's limit: then keeping the thread is the rule, said in the log.
    const placed = log.lines().find((l) => l.msg === 'ONNX session placed');
    if (s.model.info.isolation === 'thread') expect(placed?.reason).toMatch(/creation took over/);
    else expect(placed?.reason).toBe('small and fast');
  });

  it('infers a named tensor signature from a bare model.onnx', async () => {
    const s = await serve(await modelDir(`multi-${mode}`, multiInputModel()));
    expect(s.flavor).toBe('onnx');
    expect(s.signature?.inputs).toEqual({
      kind: 'tensors',
      inputs: [
        { name: 'a', dtype: 'float32', shape: [-1, 3] },
        { name: 'b', dtype: 'float32', shape: [-1, 3] },
      ],
    });
    expect(s.signature?.outputs?.inputs.map((o) => o.name)).toEqual(['sum', 'product']);
  });

  it('feeds named inputs from a dict, instances objects and DataFrames with list cells', async () => {
    const s = await serve(await modelDir(`multi2-${mode}`, multiInputModel()));
    const expected = '{"predictions": {"sum": [[5.0, 7.0, 9.0]], "product": [[4.0, 10.0, 18.0]]}}';
    expect(await json(s, { inputs: { a: [[1, 2, 3]], b: [[4, 5, 6]] } })).toBe(expected);
    expect(await json(s, { instances: [{ a: [1, 2, 3], b: [4, 5, 6] }] })).toBe(expected);
    expect(await json(s, { dataframe_records: [{ a: [1, 2, 3], b: [4, 5, 6] }] })).toBe(expected);
    expect(
      await json(s, {
        dataframe_split: {
          columns: ['a', 'b'],
          data: [
            [
              [1, 2, 3],
              [4, 5, 6],
            ],
          ],
        },
      }),
    ).toBe(expected);
    await expect(json(s, { inputs: { a: [[1, 2, 3]] } })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("Model is missing inputs ['b']."),
    });
    await expect(json(s, { inputs: [[1, 2, 3]] })).rejects.toMatchObject({ status: 400, code: 'BAD_REQUEST' });
  });

  it('keeps int64 exact, including values beyond 2^53 sent as strings', async () => {
    const s = await serve(await modelDir(`int64-${mode}`, int64Model()));
    expect(await json(s, { inputs: [[1, -2]] })).toBe('{"predictions": {"y": [[2, -4]]}}');
    expect(await json(s, { inputs: [['4611686018427387903', 0]] })).toBe('{"predictions": {"y": [[9223372036854775806, 0]]}}');
    await expect(json(s, { inputs: [[1.5, 2]] })).rejects.toMatchObject({ status: 400 });
    await expect(json(s, { inputs: [['9223372036854775808', 0]] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('out of bounds'),
    });
  });

  it('serves float64, string and bool tensors', async () => {
    const d = await serve(await modelDir(`double-${mode}`, doubleModel()));
    expect(await json(d, { inputs: [[0.1, 2, -3]] })).toBe('{"predictions": {"y": [[1.1, 3.0, -2.0]]}}');
    const t = await serve(await modelDir(`string-${mode}`, stringIdentityModel()));
    expect(await json(t, { inputs: ['héllo', 'a"b'] })).toBe('{"predictions": {"text_out": ["h\\u00e9llo", "a\\"b"]}}');
    const b = await serve(await modelDir(`bool-${mode}`, boolNotModel()));
    expect(await json(b, { inputs: [true, false, 1] })).toBe('{"predictions": {"negated": [false, true, false]}}');
  });

  it('refuses a missing string in a DataFrame (a JSON null, a CSV NA) with a 400, not a runtime failure', async () => {
    const t = await serve(await modelDir(`string-missing-${mode}`, stringIdentityModel()));
    const missing = { status: 400, message: expect.stringContaining("Input 'text' has a missing value (None or NaN) at element 1") };
    await expect(scoreBody(t, 'text/csv', 'text\na\nNA\n')).rejects.toMatchObject(missing);
    await expect(json(t, { dataframe_split: { columns: ['text'], data: [['a'], [null]] } })).rejects.toMatchObject(missing);
  });

  it('narrows float64 signatures to the float graph input, as MLflow does', async () => {
    const { weights, bias } = trainIrisLogReg();
    const mlmodel = [
      'flavors:',
      '  onnx:',
      '    data: model.onnx',
      'signature:',
      `  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]'`,
      '  outputs: null',
      '  params: null',
    ].join('\n');
    const s = await serve(await modelDir(`iris64sig-${mode}`, irisClassifier({ weights, bias }), mlmodel));
    const out = JSON.parse(
      await json(s, {
        inputs: [
          [5.1, 3.5, 1.4, 0.2],
          [6.7, 3.0, 5.2, 2.3],
        ],
      }),
    ) as { predictions: { label: number[] } };
    expect(out.predictions.label).toEqual([0, 2]);
  });

  it('returns DataFrame records for column signatures: flattened outputs, or one row per input row when lengths differ', async () => {
    const { weights, bias } = trainIrisLogReg();
    const cols = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    const colSig = JSON.stringify(cols.map((name) => ({ type: 'double', name, required: true }))).replaceAll("'", "''");
    const mlmodel = ['flavors:', '  onnx:', '    data: model.onnx', 'signature:', `  inputs: '${colSig}'`].join('\n');
    const s = await serve(await modelDir(`iris-cols-2out-${mode}`, irisClassifier({ weights, bias }), mlmodel));
    const body = {
      dataframe_split: {
        columns: cols,
        data: [
          [5.1, 3.5, 1.4, 0.2],
          [6.7, 3.0, 5.2, 2.3],
        ],
      },
    };
    const out = JSON.parse(await json(s, body)) as { predictions: { probabilities: number[]; label: number }[] };
    expect(out.predictions).toHaveLength(2);
    expect(out.predictions.map((r) => r.label)).toEqual([0, 2]);
    expect(out.predictions[0].probabilities).toHaveLength(3);

    const one = await serve(await modelDir(`iris-cols-1out-${mode}`, irisClassifier({ weights, bias, label: false }), mlmodel));
    const flat = JSON.parse(await json(one, body)) as { predictions: { probabilities: number }[] };
    // MLflow's reshape(-1): 2 rows × 3 classes → 6 records.
    expect(flat.predictions).toHaveLength(6);
    expect(typeof flat.predictions[0].probabilities).toBe('number');
  });

  it("maps onnxruntime's own shape checks to 400", async () => {
    const { weights, bias } = trainIrisLogReg();
    const loose = [
      'flavors:',
      '  onnx:',
      '    data: model.onnx',
      'signature:',
      `  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, -1]}}]'`,
    ].join('\n');
    const s = await serve(await modelDir(`loose-${mode}`, irisClassifier({ weights, bias }), loose));
    await expect(json(s, { inputs: [[1, 2, 3]] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('rejected the input'),
    });
  });

  it('refuses a model whose serving example does not score, with the reason', async () => {
    const dir = await modelDir(
      `badexample-${mode}`,
      int64Model(),
      ['flavors:', '  onnx:', '    data: model.onnx', 'saved_input_example_info:', '  serving_input_path: ex.json'].join('\n'),
    );
    await writeFile(join(dir, 'ex.json'), '{"inputs": [[1, 2, 3]]}');
    await expect(
      loadServable(await openModelDir(dir), { name: 'x', version: '1' }, { flavor: { onnxIsolation: mode } }),
    ).rejects.toMatchObject({
      message: expect.stringContaining('serving input example does not score'),
    });
  });

  it('refuses an MLflow flavour it cannot serve with a hint', async () => {
    const dir = join(root, `torch-${mode}`);
    await mkdir(dir);
    await writeFile(
      join(dir, 'MLmodel'),
      'flavors:\n  pytorch:\n    model_data: data\n  python_function:\n    loader_module: mlflow.pytorch\n',
    );
    await expect(openModelDir(dir)).rejects.toMatchObject({ message: expect.stringMatching(/pytorch.*torch\.onnx\.export/) });
  });
});

describe('float16 conversion', () => {
  it('round-trips representable values and rounds to nearest even', () => {
    const values = Float32Array.from([0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, Infinity, -Infinity]);
    expect(Array.from(float16BitsToFloat32(float32ToFloat16Bits(values)))).toEqual(Array.from(values));
    expect(float32ToFloat16Bits(Float32Array.from([1 + 2 ** -11]))[0]).toBe(0x3c00); // tie → even
    expect(float32ToFloat16Bits(Float32Array.from([70000]))[0]).toBe(0x7c00); // overflow → inf
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Float32Array.from([NaN])))[0])).toBe(true);
  });
});

describe("auto's probe threads", () => {
  const OPTIONS = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };
  const doubled = async (r: SessionRunner) =>
    Array.from((await r.run({ x: { type: 'int64', dims: [1, 2], data: BigInt64Array.from([3n, 4n]) } }, ['y'])).y.data as BigInt64Array);

  it('probes the next model in the thread the last probe left, and lets a thread-placed session take it', async () => {
    await stopSessionThreads();
    const a = await createSessionRunner({ bytes: int64Model() }, OPTIONS);
    expect(a.isolation).toBe('none');
    const after = sessionThreadCounts();
    expect(after.spare).toBe(1);
    // Bytes are not remembered as a file is: every load of them is probed, in the spare thread.
    const b = await createSessionRunner({ bytes: int64Model() }, OPTIONS);
    expect(b.isolation).toBe('none');
    expect(sessionThreadCounts()).toEqual(after);
    const c = await createSessionRunner({ bytes: int64Model() }, OPTIONS, { isolation: 'thread' });
    expect(c.isolation).toBe('thread');
    expect(sessionThreadCounts()).toEqual({ started: after.started, spare: 0 });
    for (const r of [a, b, c]) expect(await doubled(r)).toEqual([6n, 8n]);
    for (const r of [a, b, c]) await r.release();
    await stopSessionThreads();
    expect(sessionThreadCounts().spare).toBe(0);
  });
});

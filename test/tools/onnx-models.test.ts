import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { IRIS_FEATURES, IRIS_LABELS } from '../../tools/iris/iris-data.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import {
  BENCH_MLP_OPTIONS,
  benchMlp,
  boolNotModel,
  doubleModel,
  int64Model,
  irisClassifier,
  mlp,
  mlpForward,
  mlpWeights,
  mulberry32,
  multiInputModel,
  stringIdentityModel,
  type MlpOptions,
} from '../../tools/onnx/models.js';

const load = (bytes: Uint8Array): Promise<ort.InferenceSession> => ort.InferenceSession.create(bytes);

function meta(session: ort.InferenceSession, which: 'inputMetadata' | 'outputMetadata') {
  return session[which].map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name }));
}

describe('irisClassifier', () => {
  const model = trainIrisLogReg();
  const flat = IRIS_FEATURES.flatMap((r) => [...r]);

  for (const inputDtype of ['float32', 'float64'] as const) {
    it(`classifies the 150 rows with ≥ 0.95 accuracy (${inputDtype} input)`, async () => {
      const session = await load(irisClassifier({ weights: model.weights, bias: model.bias, inputDtype }));
      expect(meta(session, 'inputMetadata')).toEqual([{ name: 'input', type: inputDtype, shape: ['N', 4] }]);
      expect(meta(session, 'outputMetadata')).toEqual([
        { name: 'probabilities', type: 'float32', shape: ['N', 3] },
        { name: 'label', type: 'int64', shape: ['N'] },
      ]);
      const data = inputDtype === 'float32' ? Float32Array.from(flat) : Float64Array.from(flat);
      const out = await session.run({ input: new ort.Tensor(inputDtype, data, [150, 4]) });
      const probs = out.probabilities.data as Float32Array;
      const labels = out.label.data as BigInt64Array;
      expect(out.probabilities.dims).toEqual([150, 3]);
      expect(labels).toBeInstanceOf(BigInt64Array);
      expect(out.label.dims).toEqual([150]);
      let correct = 0;
      for (let i = 0; i < 150; i++) {
        const p = [...probs.subarray(i * 3, i * 3 + 3)];
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(Number(labels[i])).toBe(p.indexOf(Math.max(...p)));
        if (Number(labels[i]) === IRIS_LABELS[i]) correct++;
      }
      expect(correct / 150).toBeGreaterThanOrEqual(0.95);
      expect(correct / 150).toBe(model.accuracy);
    });
  }

  it('honours inputName and label=false', async () => {
    const session = await load(irisClassifier({ weights: model.weights, bias: model.bias, inputName: 'features', label: false }));
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['probabilities']);
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(IRIS_FEATURES[0]), [1, 4]) });
    const p = [...(out.probabilities.data as Float32Array)];
    expect(p.indexOf(Math.max(...p))).toBe(0);
  });

  it('validates the weight shapes', () => {
    expect(() => irisClassifier({ weights: [[1, 2, 3, 4]], bias: [0, 0, 0] })).toThrow(/3x4/);
  });
});

describe('mlp', () => {
  function randomInput(batch: number, size: number, seed: number): Float32Array {
    const rand = mulberry32(seed);
    return Float32Array.from({ length: batch * size }, () => rand() * 4 - 2);
  }

  async function checkAgainstReference(opts: MlpOptions, bytes: Uint8Array, batch: number): Promise<void> {
    const session = await load(bytes);
    expect(meta(session, 'inputMetadata')).toEqual([{ name: 'x', type: 'float32', shape: ['N', opts.inputSize] }]);
    expect(meta(session, 'outputMetadata')).toEqual([{ name: 'y', type: 'float32', shape: ['N', opts.outputSize] }]);
    const x = randomInput(batch, opts.inputSize, 123);
    const out = await session.run({ x: new ort.Tensor('float32', x, [batch, opts.inputSize]) });
    expect(out.y.dims).toEqual([batch, opts.outputSize]);
    const got = out.y.data as Float32Array;
    const want = mlpForward(mlpWeights(opts), x, batch);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    for (let k = 0; k < want.length; k++) {
      // 1e-4 relative, with the output's magnitude as the floor for values near zero.
      expect(Math.abs(got[k] - want[k])).toBeLessThanOrEqual(1e-4 * Math.max(Math.abs(want[k]), scale * 1e-2));
    }
  }

  it('matches a JS reference forward pass (small net)', async () => {
    const opts: MlpOptions = { inputSize: 8, hidden: [16, 12], outputSize: 5, seed: 7 };
    await checkAgainstReference(opts, mlp(opts), 6);
  });

  it('benchMlp has ~1.3 M parameters and matches the reference', async () => {
    const layers = mlpWeights({ ...BENCH_MLP_OPTIONS, hidden: [...BENCH_MLP_OPTIONS.hidden] });
    expect(layers.map((l) => [l.inSize, l.outSize, l.relu])).toEqual([
      [256, 1024, true],
      [1024, 1024, true],
      [1024, 10, false],
    ]);
    expect(layers.reduce((s, l) => s + l.weight.length + l.bias.length, 0)).toBe(1_323_018);
    const bytes = benchMlp();
    expect(bytes.length).toBeGreaterThan(1_323_018 * 4);
    await checkAgainstReference({ ...BENCH_MLP_OPTIONS, hidden: [...BENCH_MLP_OPTIONS.hidden] }, bytes, 4);
  });

  it('is deterministic in the seed', () => {
    const opts: MlpOptions = { inputSize: 4, hidden: [3], outputSize: 2, seed: 1 };
    expect(mlp(opts)).toEqual(mlp(opts));
    expect(mlp(opts)).not.toEqual(mlp({ ...opts, seed: 2 }));
  });
});

describe('dtype and arity fixtures', () => {
  it('multiInputModel: sum and product', async () => {
    const session = await load(multiInputModel());
    expect(meta(session, 'inputMetadata')).toEqual([
      { name: 'a', type: 'float32', shape: ['N', 3] },
      { name: 'b', type: 'float32', shape: ['N', 3] },
    ]);
    expect(session.outputNames).toEqual(['sum', 'product']);
    const a = new ort.Tensor('float32', Float32Array.from([1, 2, 3, -1, 0.5, 4]), [2, 3]);
    const b = new ort.Tensor('float32', Float32Array.from([10, 20, 30, 2, 2, 0.25]), [2, 3]);
    const out = await session.run({ a, b });
    expect([...(out.sum.data as Float32Array)]).toEqual([11, 22, 33, 1, 2.5, 4.25]);
    expect([...(out.product.data as Float32Array)]).toEqual([10, 40, 90, -2, 1, 1]);
    expect(out.product.dims).toEqual([2, 3]);
  });

  it('int64Model: y = 2x as BigInt64Array', async () => {
    const session = await load(int64Model());
    expect(meta(session, 'inputMetadata')).toEqual([{ name: 'x', type: 'int64', shape: ['N', 2] }]);
    const x = BigInt64Array.from([1n, -2n, 2n ** 40n, 0n]);
    const out = await session.run({ x: new ort.Tensor('int64', x, [2, 2]) });
    expect(out.y.type).toBe('int64');
    expect(out.y.data).toBeInstanceOf(BigInt64Array);
    expect([...(out.y.data as BigInt64Array)]).toEqual([2n, -4n, 2n ** 41n, 0n]);
  });

  it('doubleModel: y = x + 1 in float64', async () => {
    const session = await load(doubleModel());
    expect(meta(session, 'inputMetadata')).toEqual([{ name: 'x', type: 'float64', shape: ['N', 3] }]);
    const x = Float64Array.from([0.1, 1e-12, -1, 2.5, 1e15, Math.PI]);
    const out = await session.run({ x: new ort.Tensor('float64', x, [2, 3]) });
    expect(out.y.type).toBe('float64');
    expect([...(out.y.data as Float64Array)]).toEqual([...x].map((v) => v + 1));
  });

  it('stringIdentityModel: strings pass through', async () => {
    const session = await load(stringIdentityModel());
    expect(meta(session, 'inputMetadata')).toEqual([{ name: 'text', type: 'string', shape: ['N'] }]);
    const text = ['hello', '', 'ünïcødé ✓', 'a b c'];
    const out = await session.run({ text: new ort.Tensor('string', text, [4]) });
    expect(out.text_out.type).toBe('string');
    expect(out.text_out.data).toEqual(text);
  });

  it('boolNotModel: negated flags (Uint8Array of 0/1)', async () => {
    const session = await load(boolNotModel());
    expect(meta(session, 'inputMetadata')).toEqual([{ name: 'flag', type: 'bool', shape: ['N'] }]);
    const out = await session.run({ flag: new ort.Tensor('bool', Uint8Array.from([1, 0, 0, 1]), [4]) });
    expect(out.negated.type).toBe('bool');
    expect(out.negated.data).toBeInstanceOf(Uint8Array);
    expect([...(out.negated.data as Uint8Array)]).toEqual([0, 1, 1, 0]);
  });
});

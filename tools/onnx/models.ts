/**
 * Factories for small, deterministic ONNX test models. Each returns the model's bytes.
 * Random weights come from a seeded PRNG (mulberry32), never Math.random.
 */
import { buildOnnxModel, type NodeSpec, type TensorInit } from '../../src/onnx/writer.js';

/** The batch dimension used by every factory here. */
export const BATCH_DIM = 'N';

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Iris classifier

export interface IrisClassifierOptions {
  /** 3x4: one row of feature weights per class. */
  weights: number[][];
  /** 3 class biases. */
  bias: number[];
  /** @default 'float32' (with 'float64' the graph takes a double input and casts it to float) */
  inputDtype?: 'float32' | 'float64';
  /** @default 'input' */
  inputName?: string;
  /** Also output `label` = argmax(probabilities) as int64 [N]. @default true */
  label?: boolean;
}

/** input [N,4] → Gemm(W, b, transB=1) → Softmax(axis=1) → `probabilities` float [N,3] (→ ArgMax → `label` int64 [N]). */
export function irisClassifier(opts: IrisClassifierOptions): Uint8Array {
  const { weights, bias } = opts;
  if (weights.length !== 3 || weights.some((r) => r.length !== 4) || bias.length !== 3) {
    throw new RangeError('irisClassifier: weights must be 3x4 and bias must have 3 elements');
  }
  const inputName = opts.inputName ?? 'input';
  const inputDtype = opts.inputDtype ?? 'float32';
  const withLabel = opts.label ?? true;

  const nodes: NodeSpec[] = [];
  let features = inputName;
  if (inputDtype === 'float64') {
    features = `${inputName}_float`;
    nodes.push({ op: 'Cast', inputs: [inputName], outputs: [features], attrs: { to: { i: 1 } } });
  }
  nodes.push(
    { op: 'Gemm', inputs: [features, 'W', 'b'], outputs: ['logits'], attrs: { transB: { i: 1 } } },
    { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attrs: { axis: { i: 1 } } },
  );
  if (withLabel) {
    nodes.push({
      op: 'ArgMax',
      inputs: ['probabilities'],
      outputs: ['label'],
      attrs: { axis: { i: 1 }, keepdims: { i: 0 } },
    });
  }
  return buildOnnxModel({
    graphName: 'iris_logreg',
    inputs: [{ name: inputName, dtype: inputDtype, shape: [BATCH_DIM, 4] }],
    outputs: [
      { name: 'probabilities', dtype: 'float32', shape: [BATCH_DIM, 3] },
      ...(withLabel ? [{ name: 'label', dtype: 'int64' as const, shape: [BATCH_DIM] }] : []),
    ],
    nodes,
    initializers: [
      { name: 'W', dtype: 'float32', dims: [3, 4], data: weights.flat() },
      { name: 'b', dtype: 'float32', dims: [3], data: bias },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Multi-layer perceptron

export interface MlpOptions {
  inputSize: number;
  hidden: number[];
  outputSize: number;
  seed: number;
}

export interface MlpLayer {
  inSize: number;
  outSize: number;
  /** Row-major [inSize, outSize] (the MatMul right operand). */
  weight: Float32Array;
  bias: Float32Array;
  relu: boolean;
}

/**
 * The weights `mlp(opts)` embeds, layer by layer. Uniform in ±1/sqrt(inSize) (PyTorch-style init),
 * drawn from mulberry32(seed): all of layer 0's weights, then its biases, then layer 1, …
 */
export function mlpWeights(opts: MlpOptions): MlpLayer[] {
  const sizes = [opts.inputSize, ...opts.hidden, opts.outputSize];
  const rand = mulberry32(opts.seed);
  const layers: MlpLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inSize = sizes[l];
    const outSize = sizes[l + 1];
    const bound = 1 / Math.sqrt(inSize);
    const weight = new Float32Array(inSize * outSize);
    for (let k = 0; k < weight.length; k++) weight[k] = (rand() * 2 - 1) * bound;
    const bias = new Float32Array(outSize);
    for (let k = 0; k < bias.length; k++) bias[k] = (rand() * 2 - 1) * bound;
    layers.push({ inSize, outSize, weight, bias, relu: l + 2 < sizes.length });
  }
  return layers;
}

/** Reference forward pass in JS (float64 accumulation): x is row-major [batch, inputSize]. */
export function mlpForward(layers: readonly MlpLayer[], x: ArrayLike<number>, batch: number): Float64Array {
  let act = Float64Array.from(x);
  for (const { inSize, outSize, weight, bias, relu } of layers) {
    if (act.length !== batch * inSize) throw new RangeError('mlpForward: input size mismatch');
    const next = new Float64Array(batch * outSize);
    for (let n = 0; n < batch; n++) {
      for (let o = 0; o < outSize; o++) {
        let s = bias[o];
        for (let i = 0; i < inSize; i++) s += act[n * inSize + i] * weight[i * outSize + o];
        next[n * outSize + o] = relu && s < 0 ? 0 : s;
      }
    }
    act = next;
  }
  return act;
}

/** x float [N,inputSize] → (MatMul+Add+Relu) per hidden layer → MatMul+Add → y float [N,outputSize]. */
export function mlp(opts: MlpOptions): Uint8Array {
  const layers = mlpWeights(opts);
  const nodes: NodeSpec[] = [];
  const initializers: TensorInit[] = [];
  let current = 'x';
  layers.forEach((layer, l) => {
    const last = l === layers.length - 1;
    initializers.push(
      { name: `W${l}`, dtype: 'float32', dims: [layer.inSize, layer.outSize], data: layer.weight },
      { name: `B${l}`, dtype: 'float32', dims: [layer.outSize], data: layer.bias },
    );
    nodes.push({ op: 'MatMul', inputs: [current, `W${l}`], outputs: [`mm${l}`] });
    const added = last ? 'y' : `add${l}`;
    nodes.push({ op: 'Add', inputs: [`mm${l}`, `B${l}`], outputs: [added] });
    current = added;
    if (layer.relu) {
      nodes.push({ op: 'Relu', inputs: [added], outputs: [`relu${l}`] });
      current = `relu${l}`;
    }
  });
  return buildOnnxModel({
    graphName: 'mlp',
    inputs: [{ name: 'x', dtype: 'float32', shape: [BATCH_DIM, opts.inputSize] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [BATCH_DIM, opts.outputSize] }],
    nodes,
    initializers,
  });
}

/** Options of the benchmark MLP: 256 → 1024 → 1024 → 10, 1,323,018 parameters. */
export const BENCH_MLP_OPTIONS: Readonly<MlpOptions> = Object.freeze({
  inputSize: 256,
  hidden: [1024, 1024],
  outputSize: 10,
  seed: 42,
});

/** The benchmark MLP (about 5.3 MB of ONNX). */
export function benchMlp(): Uint8Array {
  return mlp({ ...BENCH_MLP_OPTIONS, hidden: [...BENCH_MLP_OPTIONS.hidden] });
}

// ---------------------------------------------------------------------------------------------
// Small dtype / arity fixtures

/** a, b float [N,3] → `sum` = a+b, `product` = a*b (float [N,3]). */
export function multiInputModel(): Uint8Array {
  const f3 = { dtype: 'float32' as const, shape: [BATCH_DIM, 3] };
  return buildOnnxModel({
    graphName: 'multi_input',
    inputs: [
      { name: 'a', ...f3 },
      { name: 'b', ...f3 },
    ],
    outputs: [
      { name: 'sum', ...f3 },
      { name: 'product', ...f3 },
    ],
    nodes: [
      { op: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
      { op: 'Mul', inputs: ['a', 'b'], outputs: ['product'] },
    ],
  });
}

/** x int64 [N,2] → y = x*2 int64 [N,2]. */
export function int64Model(): Uint8Array {
  return buildOnnxModel({
    graphName: 'int64_double',
    inputs: [{ name: 'x', dtype: 'int64', shape: [BATCH_DIM, 2] }],
    outputs: [{ name: 'y', dtype: 'int64', shape: [BATCH_DIM, 2] }],
    nodes: [{ op: 'Mul', inputs: ['x', 'two'], outputs: ['y'] }],
    initializers: [{ name: 'two', dtype: 'int64', dims: [], data: [2n] }],
  });
}

/** x float64 [N,3] → y = x+1 float64 [N,3]. */
export function doubleModel(): Uint8Array {
  return buildOnnxModel({
    graphName: 'double_plus_one',
    inputs: [{ name: 'x', dtype: 'float64', shape: [BATCH_DIM, 3] }],
    outputs: [{ name: 'y', dtype: 'float64', shape: [BATCH_DIM, 3] }],
    nodes: [{ op: 'Add', inputs: ['x', 'one'], outputs: ['y'] }],
    initializers: [{ name: 'one', dtype: 'float64', dims: [], data: [1] }],
  });
}

/** text string [N] → Identity → text_out string [N]. */
export function stringIdentityModel(): Uint8Array {
  return buildOnnxModel({
    graphName: 'string_identity',
    inputs: [{ name: 'text', dtype: 'string', shape: [BATCH_DIM] }],
    outputs: [{ name: 'text_out', dtype: 'string', shape: [BATCH_DIM] }],
    nodes: [{ op: 'Identity', inputs: ['text'], outputs: ['text_out'] }],
  });
}

/** flag bool [N] → Not → negated bool [N]. */
export function boolNotModel(): Uint8Array {
  return buildOnnxModel({
    graphName: 'bool_not',
    inputs: [{ name: 'flag', dtype: 'bool', shape: [BATCH_DIM] }],
    outputs: [{ name: 'negated', dtype: 'bool', shape: [BATCH_DIM] }],
    nodes: [{ op: 'Not', inputs: ['flag'], outputs: ['negated'] }],
  });
}

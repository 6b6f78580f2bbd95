/**
 * Small, deterministic TF.js test models, written to disk in the layout `model.save()` and
 * `tensorflowjs_converter` produce. Nothing is downloaded and no Python is needed:
 *
 * - LayersModels are built with @tensorflow/tfjs-layers, given seeded weights and saved through
 *   our own file-system IOHandler (tfjs-node, which owns `file://`, cannot be installed here);
 * - the GraphModel is hand-written in the converter's format (a GraphDef as JSON + a weights
 *   manifest): MatMul → BiasAdd → Softmax → Identity, with a SavedModel-style signature.
 *
 * Each writer returns the weights it used, so tests can compute the expected outputs in plain JS.
 *
 *   npm run build && node dist/tools/tfjs/models.js <outDir>   (writes layers/, graph/, multi-io/)
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileSystemSaveHandler, writeTfjsModel } from '../../src/flavors/tfjs/io.js';
import { tfjsRuntime } from '../../src/flavors/tfjs/backend.js';
import { isMain } from '../is-main.js';
import { type MlpLayer, mulberry32 } from '../onnx/models.js';

export type Activation = 'relu' | 'softmax' | 'linear';

export interface DenseWeights {
  inSize: number;
  outSize: number;
  /** Row-major [inSize, outSize] (a Dense kernel). */
  kernel: Float32Array;
  bias: Float32Array;
  activation: Activation;
}

export interface WriteOptions {
  /** Largest weight shard in bytes (small values give many shards). @default 4 MiB */
  shardBytes?: number;
}

/** Uniform weights in ±1/sqrt(inSize) from mulberry32(seed), layer by layer (kernel, then bias). */
export function seededDense(sizes: readonly number[], activations: readonly Activation[], seed: number): DenseWeights[] {
  const rand = mulberry32(seed);
  const layers: DenseWeights[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inSize = sizes[l];
    const outSize = sizes[l + 1];
    const bound = 1 / Math.sqrt(inSize);
    const kernel = Float32Array.from({ length: inSize * outSize }, () => (rand() * 2 - 1) * bound);
    const bias = Float32Array.from({ length: outSize }, () => (rand() * 2 - 1) * bound);
    layers.push({ inSize, outSize, kernel, bias, activation: activations[l] });
  }
  return layers;
}

/** The same layers as tools/onnx's MLP (ReLU between layers, linear output). */
export function denseFromMlp(layers: readonly MlpLayer[]): DenseWeights[] {
  return layers.map((l) => ({
    inSize: l.inSize,
    outSize: l.outSize,
    kernel: l.weight,
    bias: l.bias,
    activation: l.relu ? 'relu' : 'linear',
  }));
}

/** Reference forward pass in float64: x is row-major [batch, inSize]; returns [batch, outSize]. */
export function denseForward(layers: readonly DenseWeights[], x: ArrayLike<number>, batch: number): Float64Array {
  let act = Float64Array.from(x);
  for (const { inSize, outSize, kernel, bias, activation } of layers) {
    const next = new Float64Array(batch * outSize);
    for (let n = 0; n < batch; n++) {
      for (let o = 0; o < outSize; o++) {
        let s = bias[o];
        for (let i = 0; i < inSize; i++) s += act[n * inSize + i] * kernel[i * outSize + o];
        next[n * outSize + o] = activation === 'relu' && s < 0 ? 0 : s;
      }
      if (activation === 'softmax') softmaxRow(next, n * outSize, outSize);
    }
    act = next;
  }
  return act;
}

function softmaxRow(a: Float64Array, at: number, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, a[at + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[at + i] = Math.exp(a[at + i] - max);
  for (let i = 0; i < n; i++) a[at + i] /= sum;
}

async function tf() {
  const rt = await tfjsRuntime();
  const tfl = await import('@tensorflow/tfjs-layers');
  return { tf: rt.tf, tfl };
}

/**
 * A Sequential LayersModel of Dense layers with the given weights, saved to `dir`.
 * The input layer is named `inputName`, so the inferred signature names the input.
 */
export async function writeDenseLayersModel(
  dir: string,
  layers: readonly DenseWeights[],
  options: WriteOptions & { inputName?: string; name?: string } = {},
): Promise<void> {
  const { tf: core, tfl } = await tf();
  const input = tfl.input({ shape: [layers[0].inSize], name: options.inputName ?? 'features', dtype: 'float32' });
  let x = input;
  layers.forEach((l, i) => {
    const dense = tfl.layers.dense({ units: l.outSize, activation: l.activation, name: `dense_${i}` });
    x = dense.apply(x) as typeof input;
    core.tidy(() => dense.setWeights([core.tensor2d(l.kernel, [l.inSize, l.outSize]), core.tensor1d(l.bias)]));
  });
  const model = tfl.model({ inputs: input, outputs: x, name: options.name ?? 'dense_model' });
  try {
    await model.save(fileSystemSaveHandler(dir, options));
  } finally {
    model.dispose();
  }
}

/** The iris-sized classifier fixture: features [N,4] → Dense(8, relu) → Dense(3, softmax) → [N,3]. */
export const IRIS_LAYERS: readonly DenseWeights[] = seededDense([4, 8, 3], ['relu', 'softmax'], 7);

export async function writeIrisLayersModel(dir: string, options: WriteOptions = {}): Promise<readonly DenseWeights[]> {
  await writeDenseLayersModel(dir, IRIS_LAYERS, { ...options, name: 'iris_mlp' });
  return IRIS_LAYERS;
}

// ---------------------------------------------------------------------------------------------
// multi-input / multi-output LayersModel

/** a [N,3] and b [N,2] → concatenate → Dense(4, relu) → `probs` Dense(2, softmax) and `score` Dense(1). */
export const MULTI_IO = {
  hidden: seededDense([5, 4], ['relu'], 11)[0],
  probs: seededDense([4, 2], ['softmax'], 12)[0],
  score: seededDense([4, 1], ['linear'], 13)[0],
} as const;

export async function writeMultiIoModel(dir: string, options: WriteOptions = {}): Promise<typeof MULTI_IO> {
  const { tf: core, tfl } = await tf();
  const a = tfl.input({ shape: [3], name: 'a' });
  const b = tfl.input({ shape: [2], name: 'b' });
  const joined = tfl.layers.concatenate({ name: 'joined' }).apply([a, b]) as typeof a;
  const dense = (name: string, w: DenseWeights, from: typeof a) => {
    const layer = tfl.layers.dense({ units: w.outSize, activation: w.activation, name });
    const out = layer.apply(from) as typeof a;
    core.tidy(() => layer.setWeights([core.tensor2d(w.kernel, [w.inSize, w.outSize]), core.tensor1d(w.bias)]));
    return out;
  };
  const hidden = dense('hidden', MULTI_IO.hidden, joined);
  const model = tfl.model({
    inputs: [a, b],
    outputs: [dense('probs', MULTI_IO.probs, hidden), dense('score', MULTI_IO.score, hidden)],
    name: 'multi_io',
  });
  try {
    await model.save(fileSystemSaveHandler(dir, options));
  } finally {
    model.dispose();
  }
  return MULTI_IO;
}

/** Reference outputs of the multi-IO model for one row. */
export function multiIoForward(a: readonly number[], b: readonly number[]): { probs: number[]; score: number[] } {
  const h = denseForward([MULTI_IO.hidden], [...a, ...b], 1);
  return { probs: Array.from(denseForward([MULTI_IO.probs], h, 1)), score: Array.from(denseForward([MULTI_IO.score], h, 1)) };
}

// ---------------------------------------------------------------------------------------------
// GraphModel, hand-written in the converter's format

/** x [N,4] → MatMul(W[4,3]) → BiasAdd(b[3]) → Softmax → Identity: `probabilities` [N,3]. */
export const GRAPH_WEIGHTS: DenseWeights = seededDense([4, 3], ['softmax'], 21)[0];

const dims = (...d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });
const FLOAT = { type: 'DT_FLOAT' };

/**
 * The graph as `tensorflowjs_converter` writes a SavedModel's: node names from the SavedModel
 * (`serving_default_x`, `Identity`) and a signature mapping them to the keys callers use
 * (`x`, `probabilities`). Weights go into the shards; Const nodes only declare them.
 */
export async function writeGraphModel(dir: string, options: WriteOptions = {}): Promise<DenseWeights> {
  const w = GRAPH_WEIGHTS;
  const constNode = (name: string, shape: ReturnType<typeof dims>) => ({
    name,
    op: 'Const',
    attr: { dtype: FLOAT, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shape } } },
  });
  const modelTopology = {
    node: [
      { name: 'serving_default_x', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dims(-1, w.inSize) } } },
      constNode('dense/kernel', dims(w.inSize, w.outSize)),
      constNode('dense/bias', dims(w.outSize)),
      {
        name: 'dense/MatMul',
        op: 'MatMul',
        input: ['serving_default_x', 'dense/kernel'],
        attr: { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } },
      },
      // data_format "NHWC", base64 as protobuf JSON writes bytes.
      { name: 'dense/BiasAdd', op: 'BiasAdd', input: ['dense/MatMul', 'dense/bias'], attr: { T: FLOAT, data_format: { s: 'TkhXQw==' } } },
      { name: 'dense/Softmax', op: 'Softmax', input: ['dense/BiasAdd'], attr: { T: FLOAT } },
      { name: 'Identity', op: 'Identity', input: ['dense/Softmax'], attr: { T: FLOAT } },
    ],
    library: {},
    versions: { producer: 1482 },
  };
  const signature = {
    inputs: { x: { name: 'serving_default_x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, w.inSize) } },
    outputs: { probabilities: { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, w.outSize) } },
  };
  const weights = new Uint8Array(w.kernel.byteLength + w.bias.byteLength);
  weights.set(new Uint8Array(w.kernel.buffer, w.kernel.byteOffset, w.kernel.byteLength), 0);
  weights.set(new Uint8Array(w.bias.buffer, w.bias.byteOffset, w.bias.byteLength), w.kernel.byteLength);
  await writeTfjsModel(
    dir,
    {
      format: 'graph-model',
      generatedBy: 'modelgate tools/tfjs (hand-written GraphDef)',
      convertedBy: 'modelgate tools/tfjs',
      modelTopology,
      signature,
      weightSpecs: [
        { name: 'dense/kernel', shape: [w.inSize, w.outSize], dtype: 'float32' },
        { name: 'dense/bias', shape: [w.outSize], dtype: 'float32' },
      ],
      weightData: weights.buffer,
    },
    options,
  );
  return w;
}

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? 'tfjs-models');
  await mkdir(out, { recursive: true });
  await writeIrisLayersModel(join(out, 'layers'), { shardBytes: 64 });
  await writeGraphModel(join(out, 'graph'));
  await writeMultiIoModel(join(out, 'multi-io'));
  console.log(`wrote layers/, graph/ and multi-io/ to ${out}`);
}

if (isMain(import.meta.url)) await main();

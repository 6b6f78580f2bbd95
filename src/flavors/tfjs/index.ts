/**
 * TensorFlow.js models: LayersModel (`model.save()`, Keras conversions) and GraphModel
 * (`tensorflowjs_converter` from SavedModels), read from disk by our own IOHandler and run on the
 * process's TF.js backend (tfjs-node if installed, else wasm, else cpu; see backend.ts).
 *
 * Semantics follow MLflow's Keras/TF pyfunc wrappers: an ndarray feeds the single input, a dict
 * feeds inputs by name, a DataFrame feeds `df.values` (one input) or one column per input. One
 * output comes back as an ndarray, several as a dict by output name; a DataFrame input gets a
 * DataFrame back. Every tensor a request creates is disposed before it returns.
 */
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { GatewayError } from '../../errors.js';
import type { DataFrame, ModelInput, ModelOutput } from '../../schema/model-io.js';
import { DTYPES, type DType, type NDArray, castArray, isNumericDType, shapeSize } from '../../schema/ndarray.js';
import type { ModelSignature, TensorSpec } from '../../schema/signature.js';
import type { Flavor, FlavorLoadContext, LoadedModel } from '../flavor.js';
import { frameColumnTensor, frameMatrix } from '../frame-input.js';
import { pathInside } from '../../model/paths.js';
import { TFJS_BACKENDS, type TfCoreModule, type TfjsBackendName, type TfjsRuntime, tfjsRuntime } from './backend.js';
import { type TfjsFormat, fileSystemLoadHandler, readModelJson, tfjsFormatOf } from './io.js';
import { tfjsImage } from './image.js';
import { type SaveTfjsModelOptions, saveTfjs } from './save.js';

export { type TfjsBackendName, type TfjsRuntime, tfjsRuntime } from './backend.js';
export { fileSystemLoadHandler, fileSystemSaveHandler, writeTfjsModel } from './io.js';

type TfDType = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

interface IoSpec {
  name: string;
  dtype: TfDType;
  /** -1 for unknown dims; undefined for unknown rank. */
  shape: number[] | undefined;
}

const TF_TO_DTYPE: Partial<Record<TfDType, DType>> = { float32: 'float32', int32: 'int32', bool: 'bool', string: 'str' };

function dtypeOf(t: TfDType): DType {
  const d = TF_TO_DTYPE[t];
  if (d === undefined) throw new GatewayError('INVALID_PARAMETER_VALUE', `TF.js tensors of dtype '${t}' are not supported`);
  return d;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Numeric NDArray → int32 data, refusing values int32 cannot hold (TF.js has no int64). */
function toInt32(a: NDArray, name: string): Int32Array {
  if (a.dtype === 'int32') return a.data as Int32Array;
  const src = a.data as ArrayLike<number | bigint>;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', `Input '${name}' holds ${String(src[i])}, which TF.js int32 cannot represent.`);
    }
    out[i] = v;
  }
  return out;
}

/** NDArray → a tensor of the dtype the model declares for the input. */
function toTensor(tf: TfCoreModule, a: NDArray, spec: IoSpec): Tensor {
  let dims = a.shape.slice();
  // An (N,) column fed to an (N, 1) input, or similar: reshape when only unit dims differ.
  if (spec.shape !== undefined && dims.length !== spec.shape.length && spec.shape.length > 0) {
    const n = dims[0] ?? 1;
    const target = spec.shape.map((d, i) => (d === -1 ? (i === 0 ? n : -1) : d));
    if (target.every((d) => d !== -1) && shapeSize(target) === shapeSize(dims)) dims = target;
  }
  if (spec.dtype === 'string') {
    if (a.dtype !== 'str') throw new GatewayError('INVALID_PARAMETER_VALUE', `Input '${spec.name}' must be strings, got ${a.dtype}.`);
    return tf.tensor(a.data as string[], dims, 'string');
  }
  if (!isNumericDType(a.dtype)) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `Input '${spec.name}' must be numeric (${spec.dtype}), got ${a.dtype}.`);
  }
  switch (spec.dtype) {
    case 'int32':
      return tf.tensor(toInt32(a, spec.name), dims, 'int32');
    case 'bool': {
      const src = a.data as ArrayLike<number | bigint>;
      const out = a.dtype === 'bool' ? (a.data as Uint8Array) : Uint8Array.from({ length: src.length }, (_, i) => (src[i] ? 1 : 0));
      return tf.tensor(out, dims, 'bool');
    }
    default: {
      // float16 arrays are already stored widened to float32.
      const f = a.dtype === 'float32' || a.dtype === 'float16' ? a : castArray(a, 'float32');
      return tf.tensor(f.data as Float32Array, dims, 'float32');
    }
  }
}

function fromTensor(t: Tensor, data: unknown): NDArray {
  const dtype = dtypeOf(t.dtype as TfDType);
  return { dtype, shape: t.shape.slice(), data: data as NDArray['data'] };
}

/** Rows of the output as DataFrame cells: a scalar when each row holds one value (MLflow's `ravel()`). */
function outputColumn(a: NDArray): NDArray {
  if (a.shape.length >= 2 && shapeSize(a.shape.slice(1)) === 1) return { ...a, shape: [a.shape[0]] };
  return a;
}

/**
 * A DataFrame input gets a DataFrame back: one output as Keras' `pd.DataFrame(predict(df.values))`
 * (columns 0…k-1), several as MLflow's TF wrapper builds it (one column per output).
 */
function outputsToFrame(names: readonly string[], outs: readonly NDArray[]): DataFrame {
  const rows = outs[0].shape.length === 0 ? 1 : outs[0].shape[0];
  if (outs.length === 1 && outs[0].shape.length === 2) {
    const a = outs[0];
    const k = a.shape[1];
    const src = a.data as ArrayLike<unknown>;
    const values: NDArray[] = [];
    for (let c = 0; c < k; c++) {
      const col = DTYPES[a.dtype].alloc(rows) as unknown[];
      for (let r = 0; r < rows; r++) col[r] = src[r * k + c];
      values.push({ dtype: a.dtype, shape: [rows], data: col as NDArray['data'] });
    }
    return { columns: values.map((_, i) => i), values, rows };
  }
  if (!outs.every((o) => o.shape.length > 0 && o.shape[0] === rows)) {
    throw new Error(`TF.js outputs have different numbers of rows (${outs.map((o) => `[${o.shape.join(', ')}]`).join(', ')})`);
  }
  return { columns: outs.length === 1 ? [0] : names, values: outs.map(outputColumn), rows };
}

abstract class TfjsModel implements LoadedModel {
  readonly info: Record<string, string>;
  readonly batchable = true;
  private readonly outputNames: string[];

  constructor(
    protected readonly rt: TfjsRuntime,
    readonly format: TfjsFormat,
    protected readonly inputs: readonly IoSpec[],
    protected readonly outputs: readonly IoSpec[],
    readonly signature: ModelSignature | undefined,
  ) {
    this.info = { runtime: `tfjs-${rt.backend}`, runtimeVersion: rt.version, backend: rt.backend, format };
    this.outputNames = outputs.map((o) => o.name);
  }

  /** Runs the model on feeds in input order; the caller disposes the returned tensors. */
  protected abstract run(feeds: readonly NDArray[]): Promise<Tensor[]>;
  abstract unload(): Promise<void>;

  private feedsFor(input: ModelInput): NDArray[] {
    switch (input.kind) {
      case 'tensor':
        if (this.inputs.length !== 1) {
          throw new GatewayError(
            'INVALID_PARAMETER_VALUE',
            `This model requires ${this.inputs.length} inputs (${this.inputs.map((m) => `'${m.name}'`).join(', ')}); ` +
              'send a dictionary mapping input names to arrays.',
          );
        }
        return [input.value];
      case 'tensors':
        return this.inputs.map((spec) => {
          const v = input.value[spec.name];
          if (v === undefined) {
            throw new GatewayError(
              'INVALID_PARAMETER_VALUE',
              `Model is missing inputs ['${spec.name}']. The model's inputs are ${this.inputs.map((m) => `'${m.name}'`).join(', ')}.`,
            );
          }
          return v;
        });
      case 'dataframe': {
        const df = input.value;
        if (this.inputs.length === 1) return [frameMatrix(df, dtypeOf(this.inputs[0].dtype))];
        return this.inputs.map((spec) => frameColumnTensor(df, spec.name));
      }
      default:
        throw new GatewayError('INVALID_PARAMETER_VALUE', 'TF.js models take tensors or DataFrames, not an LLM-style request body.');
    }
  }

  async predict(input: ModelInput): Promise<ModelOutput> {
    const feeds = this.feedsFor(input);
    const { tf } = this.rt;
    let tensors: Tensor[];
    try {
      tensors = await this.run(feeds);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      // TF.js's own input checks: the caller sent the wrong shape or dtype.
      if (/Error when checking|provided in model\.execute\(dict\) must be|expected .* to have (shape|\d+ dimension)/i.test(msg)) {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `TF.js rejected the input: ${msg}`);
      }
      throw err;
    }
    let outs: NDArray[];
    try {
      outs = [];
      for (const t of tensors) outs.push(fromTensor(t, await t.data()));
    } finally {
      tf.dispose(tensors);
    }
    if (input.kind === 'dataframe') return { kind: 'dataframe', value: outputsToFrame(this.outputNames, outs) };
    if (outs.length === 1) return { kind: 'tensor', value: outs[0] };
    const value: Record<string, NDArray> = {};
    this.outputNames.forEach((n, i) => (value[n] = outs[i]));
    return { kind: 'tensors', value };
  }
}

class TfjsLayersModel extends TfjsModel {
  constructor(
    rt: TfjsRuntime,
    private readonly model: LayersModel,
    inputs: readonly IoSpec[],
    outputs: readonly IoSpec[],
    signature: ModelSignature | undefined,
  ) {
    super(rt, 'layers-model', inputs, outputs, signature);
  }

  protected async run(feeds: readonly NDArray[]): Promise<Tensor[]> {
    const { tf } = this.rt;
    return tf.tidy(() => {
      const xs = feeds.map((a, i) => toTensor(tf, a, this.inputs[i]));
      // predictOnBatch, not predict: predict splits the input into batches of 32 and concatenates.
      const y = this.model.predictOnBatch(xs.length === 1 ? xs[0] : xs);
      return Array.isArray(y) ? y : [y];
    });
  }

  async unload(): Promise<void> {
    this.model.dispose();
  }
}

class TfjsGraphModel extends TfjsModel {
  /** Graphs with control flow or dynamic shapes only run through executeAsync. */
  private async_ = false;

  constructor(
    rt: TfjsRuntime,
    private readonly model: GraphModel,
    inputs: readonly IoSpec[],
    outputs: readonly IoSpec[],
    signature: ModelSignature | undefined,
  ) {
    super(rt, 'graph-model', inputs, outputs, signature);
  }

  private feedMap(feeds: readonly NDArray[]): Record<string, Tensor> {
    const map: Record<string, Tensor> = {};
    this.inputs.forEach((spec, i) => (map[spec.name] = toTensor(this.rt.tf, feeds[i], spec)));
    return map;
  }

  protected async run(feeds: readonly NDArray[]): Promise<Tensor[]> {
    const { tf } = this.rt;
    const names = this.outputs.map((o) => o.name);
    if (!this.async_) {
      try {
        return tf.tidy(() => {
          const y = this.model.execute(this.feedMap(feeds), names);
          return Array.isArray(y) ? y : [y];
        });
      } catch (err) {
        if (!/executeAsync/.test((err as Error).message ?? '')) throw err;
        this.async_ = true;
      }
    }
    const map = this.feedMap(feeds);
    try {
      const y = await this.model.executeAsync(map, names);
      return Array.isArray(y) ? y : [y];
    } finally {
      tf.dispose(Object.values(map));
    }
  }

  async unload(): Promise<void> {
    this.model.dispose();
  }
}

function specOf(s: IoSpec): TensorSpec | undefined {
  if (s.shape === undefined) return undefined;
  return { name: s.name, dtype: dtypeOf(s.dtype), shape: s.shape };
}

function inferSignature(inputs: readonly IoSpec[], outputs: readonly IoSpec[]): ModelSignature {
  const sig: ModelSignature = {};
  const ins = inputs.map(specOf);
  if (ins.length > 0 && ins.every((s) => s !== undefined)) sig.inputs = { kind: 'tensors', inputs: ins as TensorSpec[] };
  const outs = outputs.map(specOf);
  if (outs.length > 0 && outs.every((s) => s !== undefined)) sig.outputs = { kind: 'tensors', inputs: outs as TensorSpec[] };
  return sig;
}

const dims = (shape: readonly (number | null)[]): number[] => shape.map((d) => (d === null || d < 0 ? -1 : d));

/**
 * A functional model names its inputs and outputs after its input and output layers. A Sequential
 * model reports no names, so they come from its symbolic tensors: `dense_input_1` (tfjs adds a
 * unique suffix) and `dense/dense_1` (layer/tensor), giving `dense_input` and `dense`.
 */
function layersIo(model: LayersModel): { inputs: IoSpec[]; outputs: IoSpec[] } {
  return {
    inputs: model.inputs.map((t, i) => ({
      name: model.inputNames[i] ?? t.name.replace(/_\d+$/, ''),
      dtype: t.dtype as TfDType,
      shape: dims(t.shape),
    })),
    outputs: model.outputs.map((t, i) => ({
      name: model.outputNames[i] ?? t.name.split('/')[0],
      dtype: t.dtype as TfDType,
      shape: dims(t.shape),
    })),
  };
}

/**
 * A graph's inputs come from its placeholders; its outputs usually carry no dtype or shape, so
 * they are learnt from one run on a zero batch of one (the batch dim is reported as -1).
 */
async function graphIo(tf: TfCoreModule, model: GraphModel): Promise<{ inputs: IoSpec[]; outputs: IoSpec[] }> {
  const inputs: IoSpec[] = model.inputNodes.map((name, i) => {
    const info = model.inputs[i];
    return { name, dtype: (info.dtype ?? 'float32') as TfDType, shape: info.shape === undefined ? undefined : dims(info.shape) };
  });
  const names = model.outputNodes;
  let outputs: IoSpec[] = names.map((name, i) => {
    const info = model.outputs[i];
    return { name, dtype: (info.dtype ?? 'float32') as TfDType, shape: info.shape === undefined ? undefined : dims(info.shape) };
  });
  if (outputs.some((o) => o.shape === undefined) || model.outputs.some((info) => info.dtype === undefined)) {
    if (inputs.every((s) => s.shape !== undefined)) {
      const batchDynamic = inputs.every((s) => (s.shape as number[])[0] === -1);
      const feeds: Record<string, Tensor> = {};
      try {
        for (const s of inputs) {
          const shape = (s.shape as number[]).map((d) => (d === -1 ? 1 : d));
          feeds[s.name] = s.dtype === 'string' ? tf.fill(shape, '', 'string') : tf.zeros(shape, s.dtype);
        }
        let y: Tensor | Tensor[];
        try {
          y = model.execute(feeds, names);
        } catch (err) {
          if (!/executeAsync/.test((err as Error).message ?? '')) throw err;
          y = await model.executeAsync(feeds, names);
        }
        const ys = Array.isArray(y) ? y : [y];
        outputs = ys.map((t, i) => ({
          name: names[i],
          dtype: t.dtype as TfDType,
          shape: t.shape.map((d, j) => (j === 0 && batchDynamic ? -1 : d)),
        }));
        tf.dispose(ys);
      } catch {
        // Leave the output specs unknown: the signature then has no outputs, which MLflow allows.
      } finally {
        tf.dispose(Object.values(feeds));
      }
    }
  }
  return { inputs, outputs };
}

function backendPreference(config: Readonly<Record<string, unknown>>): TfjsBackendName[] | undefined {
  const b = config.backend;
  if (b === undefined || b === null) return undefined;
  if (typeof b !== 'string' || !(TFJS_BACKENDS as readonly string[]).includes(b)) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `MLmodel: tfjs backend '${String(b)}' is not one of ${TFJS_BACKENDS.join(', ')}`);
  }
  return [b as TfjsBackendName, ...TFJS_BACKENDS.filter((x) => x !== b)];
}

export const tfjsFlavor: Flavor = {
  name: 'tfjs',
  image: tfjsImage,
  v2Platform: 'tensorflow_js',
  save: (dir, options) => saveTfjs(dir, options as SaveTfjsModelOptions),

  canLoad(mlmodel) {
    return 'tfjs' in mlmodel.flavors;
  },

  async detect(dir) {
    const path = join(dir, 'model.json');
    const json = await readModelJson(path).catch(() => undefined);
    if (json === undefined) return undefined;
    let format: TfjsFormat;
    try {
      format = tfjsFormatOf(json);
    } catch {
      return undefined;
    }
    return { flavors: { tfjs: { model_json: 'model.json', format } } };
  },

  async load(ctx: FlavorLoadContext) {
    const config = ctx.mlmodel.flavors.tfjs ?? {};
    const rel = typeof config.model_json === 'string' ? config.model_json : 'model.json';
    const handler = fileSystemLoadHandler(ctx.dir, pathInside(ctx.dir, ctx.dir, rel, 'model_json'));
    const format = await handler.format();
    const prefer = backendPreference(config);
    const rt = await tfjsRuntime({ logger: ctx.logger, ...(prefer === undefined ? {} : { prefer }) });
    if (prefer !== undefined && prefer[0] !== rt.backend) {
      ctx.logger.warn({ wanted: prefer[0], backend: rt.backend }, "TF.js runs on another backend than the model's MLmodel prefers");
    }
    if (format === 'layers-model') {
      const tfl = await import('@tensorflow/tfjs-layers');
      const m = await tfl.loadLayersModel(handler, { strict: true });
      try {
        const { inputs, outputs } = layersIo(m);
        return new TfjsLayersModel(rt, m, inputs, outputs, signatureFor(ctx, inputs, outputs));
      } catch (err) {
        m.dispose();
        throw err;
      }
    }
    const tfc = await import('@tensorflow/tfjs-converter');
    const m = await tfc.loadGraphModel(handler);
    try {
      const { inputs, outputs } = await graphIo(rt.tf, m);
      if (inputs.some((s) => s.shape === undefined)) {
        ctx.logger.warn('The graph has inputs of unknown rank; its inferred signature has no inputs and requests are not checked');
      }
      return new TfjsGraphModel(rt, m, inputs, outputs, signatureFor(ctx, inputs, outputs));
    } catch (err) {
      m.dispose();
      throw err;
    }
  },
};

function signatureFor(ctx: FlavorLoadContext, inputs: readonly IoSpec[], outputs: readonly IoSpec[]): ModelSignature | undefined {
  if (ctx.mlmodel.signature?.inputs) return ctx.mlmodel.signature;
  const inferred = inferSignature(inputs, outputs);
  if (ctx.mlmodel.signature?.params) inferred.params = ctx.mlmodel.signature.params;
  return inferred.inputs || inferred.outputs ? inferred : undefined;
}

export type { SaveTfjsModelOptions, TfjsSavable } from './save.js';

/**
 * ONNX through onnxruntime-node, with MLflow's `_OnnxModelWrapper` semantics: an ndarray feeds
 * the single input, a dict feeds inputs by name, a DataFrame feeds `df.values` (one input) or
 * one column per input; float64 feeds are narrowed to float32 where the graph wants float.
 */
import { readFile, readdir } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { GatewayError } from '../../errors.js';
import type { DataFrame, ModelInput, ModelOutput } from '../../schema/model-io.js';
import { type DType, type NDArray, castArray, isNumericDType, shapeSize } from '../../schema/ndarray.js';
import type { ModelSignature, TensorSpec } from '../../schema/signature.js';
import type { Flavor, FlavorLoadContext, LoadedModel } from '../flavor.js';
import { frameColumnTensor, frameMatrix } from '../frame-input.js';
import { pathInside } from '../../model/paths.js';
import { type SessionRunner, type TensorLike, createSessionRunner, runnerOptions } from './runner.js';
import { OnnxFormatError, externalDataLocations } from '../../onnx/external-data.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.js';
import { onnxImage } from './image.js';
import { type SaveOnnxModelOptions, saveOnnx } from './save.js';

type OrtType = Ort.Tensor.Type;

interface IoMeta {
  name: string;
  type: OrtType;
  /** -1 for symbolic dims. */
  shape: number[];
}

const ORT_TO_DTYPE: Partial<Record<OrtType, DType>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  int16: 'int16',
  int32: 'int32',
  int64: 'int64',
  uint8: 'uint8',
  uint16: 'uint16',
  uint32: 'uint32',
  uint64: 'uint64',
  bool: 'bool',
  string: 'str',
};

function dtypeOf(t: OrtType): DType {
  const d = ORT_TO_DTYPE[t];
  if (d === undefined) throw new GatewayError('INVALID_PARAMETER_VALUE', `ONNX tensor type '${t}' is not supported`);
  return d;
}

function toMeta(m: Ort.InferenceSession.ValueMetadata): IoMeta | undefined {
  if (!m.isTensor) return undefined;
  return { name: m.name, type: m.type as OrtType, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/** Turns an NDArray into a feed of the graph's declared element type. */
function toFeed(a: NDArray, meta: IoMeta): TensorLike {
  const want = meta.type;
  let dims = a.shape.slice();
  // An (N,) column fed to an (N, 1) input, or similar: reshape when only unit dims differ.
  if (dims.length !== meta.shape.length && meta.shape.length > 0) {
    const n = dims[0] ?? 1;
    const target = meta.shape.map((d, i) => (d === -1 ? (i === 0 ? n : -1) : d));
    if (target.every((d) => d !== -1) && shapeSize(target) === shapeSize(dims)) dims = target;
  }
  if (want === 'string') {
    if (a.dtype !== 'str') throw new GatewayError('INVALID_PARAMETER_VALUE', `Input '${meta.name}' must be strings, got ${a.dtype}.`);
    // A str column keeps its missing cells (None from JSON, NaN from CSV); onnxruntime would fail on them.
    const at = (a.data as unknown[]).findIndex((v) => typeof v !== 'string');
    if (at !== -1) {
      throw new GatewayError(
        'INVALID_PARAMETER_VALUE',
        `Input '${meta.name}' has a missing value (None or NaN) at element ${at}: a string tensor cannot hold one.`,
      );
    }
    return { type: 'string', data: a.data as string[], dims };
  }
  if (want === 'float16') {
    const src = a.dtype === 'float32' || a.dtype === 'float16' ? a : castArray(a, 'float32');
    return { type: 'float16', data: float32ToFloat16Bits(src.data as Float32Array), dims };
  }
  const target = dtypeOf(want);
  if (a.dtype !== target) {
    if (!isNumericDType(a.dtype)) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', `Input '${meta.name}' must be numeric (${want}), got ${a.dtype}.`);
    }
    a = castArray(a, target);
  }
  return { type: want, data: a.data as Ort.Tensor.DataType, dims };
}

function fromOrtTensor(t: TensorLike): NDArray {
  const shape = Array.from(t.dims);
  if (t.type === 'float16') return { dtype: 'float16', shape, data: float16BitsToFloat32(t.data as Uint16Array) };
  return { dtype: dtypeOf(t.type as OrtType), shape, data: t.data as NDArray['data'] };
}

/**
 * MLflow returns a DataFrame with one column per output, each flattened (`reshape(-1)`). Where
 * that fails in MLflow (outputs of different lengths, e.g. a label and class probabilities) we
 * return one row per input row instead, each output's row as a value.
 */
function outputsToFrame(names: readonly string[], outs: readonly NDArray[]): DataFrame {
  const lengths = outs.map((o) => shapeSize(o.shape));
  if (lengths.every((l) => l === lengths[0])) {
    return { columns: names, values: outs.map((o) => ({ dtype: o.dtype, shape: [lengths[0]], data: o.data })), rows: lengths[0] };
  }
  const rows = outs[0].shape[0];
  if (!outs.every((o) => o.shape.length > 0 && o.shape[0] === rows)) {
    throw new Error(`ONNX outputs have different lengths (${outs.map((o) => `(${o.shape.join(', ')})`).join(', ')})`);
  }
  return { columns: names, values: outs, rows };
}

class OnnxModel implements LoadedModel {
  readonly info: Record<string, string>;
  readonly batchable = true;
  private readonly fetches: string[];

  constructor(
    private readonly session: SessionRunner,
    private readonly inputs: readonly IoMeta[],
    private readonly outputs: readonly IoMeta[],
    readonly signature: ModelSignature | undefined,
  ) {
    this.info = { runtime: 'onnxruntime', runtimeVersion: session.runtimeVersion, isolation: session.isolation };
    this.fetches = outputs.map((o) => o.name);
  }

  private feedsFor(input: ModelInput): Record<string, TensorLike> {
    const feeds: Record<string, TensorLike> = {};
    switch (input.kind) {
      case 'tensor':
        if (this.inputs.length !== 1) {
          throw new GatewayError(
            'INVALID_PARAMETER_VALUE',
            'Unable to map numpy array input to the expected model input. Numpy arrays can only be used as input for MLflow ONNX models that have a single input. ' +
              `This model requires ${this.inputs.length} inputs. Please reformat the input data as a dictionary mapping input names to numpy arrays.`,
          );
        }
        feeds[this.inputs[0].name] = toFeed(input.value, this.inputs[0]);
        return feeds;
      case 'tensors':
        for (const meta of this.inputs) {
          const v = input.value[meta.name];
          if (v === undefined) {
            throw new GatewayError(
              'INVALID_PARAMETER_VALUE',
              `Model is missing inputs ['${meta.name}']. The model's inputs are ${this.inputs.map((m) => `'${m.name}'`).join(', ')}.`,
            );
          }
          feeds[meta.name] = toFeed(v, meta);
        }
        return feeds;
      case 'dataframe': {
        const df = input.value;
        if (this.inputs.length === 1) {
          const meta = this.inputs[0];
          feeds[meta.name] = toFeed(frameMatrix(df, meta.type === 'string' ? 'str' : dtypeOf(meta.type)), meta);
        } else {
          for (const meta of this.inputs) feeds[meta.name] = toFeed(frameColumnTensor(df, meta.name), meta);
        }
        return feeds;
      }
      default:
        throw new GatewayError('INVALID_PARAMETER_VALUE', 'ONNX models take tensors or DataFrames, not an LLM-style request body.');
    }
  }

  async predict(input: ModelInput): Promise<ModelOutput> {
    const feeds = this.feedsFor(input);
    let results: Record<string, TensorLike>;
    try {
      results = await this.session.run(feeds, this.fetches);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      // onnxruntime's own input checks: the caller sent the wrong shape or type.
      if (/invalid dimensions|Invalid rank|Unexpected input data type|input with name/i.test(msg)) {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `The ONNX runtime rejected the input: ${msg.replace(/^.*?\] /, '')}`);
      }
      throw err;
    }
    const names = this.fetches;
    const outs = names.map((n) => fromOrtTensor(results[n]));
    if (input.kind === 'dataframe') return { kind: 'dataframe', value: outputsToFrame(names, outs) };
    const value: Record<string, NDArray> = {};
    names.forEach((n, i) => (value[n] = outs[i]));
    return { kind: 'tensors', value };
  }

  async unload(): Promise<void> {
    await this.session.release();
  }
}

function inferSignature(inputs: readonly IoMeta[], outputs: readonly IoMeta[]): ModelSignature {
  const spec = (m: IoMeta): TensorSpec => ({ name: m.name, dtype: dtypeOf(m.type), shape: m.shape });
  return { inputs: { kind: 'tensors', inputs: inputs.map(spec) }, outputs: { kind: 'tensors', inputs: outputs.map(spec) } };
}

/** MLflow's `onnx_session_options` keys, mapped to onnxruntime-node's option names. */
export function sessionOptions(config: Readonly<Record<string, unknown>>, intraOpThreads: number): Ort.InferenceSession.SessionOptions {
  const mlflowOpts = (config.onnx_session_options ?? {}) as Record<string, unknown>;
  const levels: Record<number, Ort.InferenceSession.SessionOptions['graphOptimizationLevel']> = {
    0: 'disabled',
    1: 'basic',
    2: 'extended',
    99: 'all',
  };
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: typeof mlflowOpts.inter_op_num_threads === 'number' ? mlflowOpts.inter_op_num_threads : 1,
    executionMode: mlflowOpts.execution_mode === 'parallel' ? 'parallel' : 'sequential',
    graphOptimizationLevel: levels[mlflowOpts.graph_optimization_level as number] ?? 'all',
  };
}

/**
 * onnxruntime opens a tensor's external data wherever its `location` says; only files inside the
 * model folder are covered by the registry's digests, so any other location refuses the model.
 */
async function checkExternalData(dir: string, file: string): Promise<void> {
  let locations: string[];
  try {
    locations = externalDataLocations(await readFile(file));
  } catch (err) {
    if (!(err instanceof OnnxFormatError)) throw err;
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `The ONNX model file ${relative(dir, file)} is not a valid ONNX model (protobuf parse failed: ${err.message}).`,
    );
  }
  for (const loc of locations) pathInside(dir, dirname(file), loc, 'The ONNX external data file');
}

export const onnxFlavor: Flavor = {
  name: 'onnx',
  image: onnxImage,
  v2Platform: 'onnxruntime_onnx',
  save: (dir, options) => saveOnnx(dir, options as SaveOnnxModelOptions),

  canLoad(mlmodel) {
    return 'onnx' in mlmodel.flavors || mlmodel.flavors.python_function?.loader_module === 'mlflow.onnx';
  },

  async detect(dir) {
    const onnxFiles = (await readdir(dir)).filter((f) => f.endsWith('.onnx'));
    if (onnxFiles.length !== 1) return undefined;
    return { flavors: { onnx: { data: onnxFiles[0], providers: ['CPUExecutionProvider'] } } };
  },

  async load(ctx: FlavorLoadContext) {
    const config = ctx.mlmodel.flavors.onnx ?? ctx.mlmodel.flavors.python_function ?? {};
    const file = pathInside(ctx.dir, ctx.dir, typeof config.data === 'string' ? config.data : 'model.onnx', 'The ONNX model file');
    await checkExternalData(ctx.dir, file);
    const session = await createSessionRunner({ path: file }, sessionOptions(config, ctx.options.intraOpThreads ?? 1), runnerOptions(ctx));
    const inputs = session.inputMetadata.map(toMeta);
    if (inputs.some((m) => m === undefined)) {
      await session.release();
      throw new GatewayError('INVALID_PARAMETER_VALUE', 'ONNX models with non-tensor inputs (sequences, maps) are not supported');
    }
    const outputs = session.outputMetadata.map(toMeta).filter((m): m is IoMeta => m !== undefined);
    const skipped = session.outputMetadata.filter((m) => !m.isTensor).map((m) => m.name);
    if (skipped.length > 0) {
      // onnxruntime-node cannot return sequences or maps (e.g. skl2onnx's ZipMap probabilities).
      ctx.logger.warn({ outputs: skipped }, 'ONNX outputs that are not tensors are left out of predictions');
    }
    if (outputs.length === 0) {
      await session.release();
      throw new GatewayError('INVALID_PARAMETER_VALUE', 'The ONNX model has no tensor outputs that onnxruntime-node can return');
    }
    const signature = ctx.mlmodel.signature?.inputs
      ? ctx.mlmodel.signature
      : {
          ...inferSignature(inputs as IoMeta[], outputs),
          ...(ctx.mlmodel.signature?.params ? { params: ctx.mlmodel.signature.params } : {}),
        };
    return new OnnxModel(session, inputs as IoMeta[], outputs, signature);
  },
};

export type { SaveOnnxModelOptions } from './save.js';

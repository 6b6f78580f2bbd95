/**
 * MLflow's scikit-learn models (`mlflow.sklearn` save_model/log_model/autolog), served without
 * Python: the pickle is decoded by a VM that never runs code, the estimator state is compiled
 * to an ONNX graph at load time, and onnxruntime runs it. The model directory is only read.
 * Predictions follow `_SklearnModelWrapper`: `predict_fn` (predict, predict_proba,
 * predict_log_proba) on the DataFrame MLflow builds from the request.
 */
import { readFile, stat } from 'node:fs/promises';
import { GatewayError } from '../../errors.js';
import type { ModelInput, ModelOutput } from '../../schema/model-io.js';
import type { NDArray } from '../../schema/ndarray.js';
import type { Flavor, FlavorLoadContext, LoadedModel } from '../flavor.js';
import { pathInside } from '../../model/paths.js';
import { onnxImage } from '../onnx/image.js';
import { sessionOptions } from '../onnx/index.js';
import { type SessionRunner, type TensorLike, createSessionRunner, runnerOptions } from '../onnx/runner.js';
import { type CompiledModel, compileSklearn } from './compile.js';
import type { PredictFn } from './context.js';
import { buildFeeds } from './feeds.js';
import { type NdArray, loadPickle } from './pickle/index.js';
import { checkSignature } from './signature.js';

export { compileSklearn } from './compile.js';
export { checkSignature } from './signature.js';
export type { CompiledModel } from './compile.js';
export { CONVERTERS } from './converters/index.js';

/** model.pkl files larger than this are refused before reading. */
export const MAX_PICKLE_BYTES = 512 * 1024 * 1024;

const PREDICT_FNS: readonly PredictFn[] = ['predict', 'predict_proba', 'predict_log_proba'];

function invalid(message: string): never {
  throw new GatewayError('INVALID_PARAMETER_VALUE', message);
}

/** `classes_[index]` for each row, in the dtype MLflow's JSON would show (strings, ints, floats, bools). */
function labels(classes: NdArray, index: BigInt64Array): NDArray {
  const src = classes.data as ArrayLike<unknown>;
  const picked = Array.from(index, (i) => src[Number(i)]);
  const shape = [picked.length];
  const kind = classes.dtype?.kind;
  const size = classes.dtype?.itemsize;
  if (kind === 'U' || kind === 'S') return { dtype: 'str', shape, data: picked as string[] };
  if (kind === 'O') return { dtype: picked.every((v) => typeof v === 'string') ? 'str' : 'object', shape, data: picked };
  if (kind === 'f')
    return size === 4
      ? { dtype: 'float32', shape, data: Float32Array.from(picked as number[]) }
      : { dtype: 'float64', shape, data: Float64Array.from(picked as number[]) };
  if (kind === 'b') return { dtype: 'bool', shape, data: Uint8Array.from(picked as number[]) };
  if (kind === 'u' && size === 8) return { dtype: 'uint64', shape, data: BigUint64Array.from(picked as bigint[]) };
  if (kind === 'i' || kind === 'u')
    return { dtype: 'int64', shape, data: BigInt64Array.from(picked as (number | bigint)[], (v) => BigInt(v)) };
  invalid(`classes_ of dtype '${kind}' cannot be returned`);
}

/** A compiled graph served as a model: request → feeds → onnxruntime → labels or values. */
class CompiledOnnxModel implements LoadedModel {
  readonly batchable = true;
  readonly info: Record<string, string>;
  private readonly fetches: string[];

  constructor(
    private readonly session: SessionRunner,
    private readonly model: CompiledModel,
    readonly signature: LoadedModel['signature'],
    info: Readonly<Record<string, string>>,
  ) {
    this.info = {
      runtime: 'onnxruntime',
      runtimeVersion: session.runtimeVersion,
      isolation: session.isolation,
      ...info,
    };
    this.fetches = [model.output.name, ...model.assertions.map((a) => a.output)];
  }

  private feeds(input: ModelInput): { rows: number; feeds: Record<string, TensorLike> } {
    const f = buildFeeds(this.model, input);
    const { numeric, strings } = this.model.inputNames;
    const feeds: Record<string, TensorLike> = {};
    if (numeric !== undefined && f.numeric !== undefined)
      feeds[numeric] = { type: 'float64', data: f.numeric, dims: [f.rows, this.model.numericColumns.length] };
    if (strings !== undefined && f.strings !== undefined && f.none !== undefined) {
      const dims = [f.rows, this.model.stringColumns.length];
      feeds[strings.values] = { type: 'string', data: f.strings, dims };
      feeds[strings.none] = { type: 'bool', data: f.none, dims };
    }
    return { rows: f.rows, feeds };
  }

  async predict(input: ModelInput): Promise<ModelOutput> {
    const { rows, feeds } = this.feeds(input);
    const out = await this.session.run(feeds, this.fetches);
    for (const a of this.model.assertions) {
      const flags = out[a.output].data as Float64Array;
      const row = flags.findIndex((f) => f !== 0);
      if (row !== -1) invalid(`${a.message} First failing row: ${row}.`);
    }
    const result = out[this.model.output.name];
    const o = this.model.output;
    if (o.kind === 'label') return { kind: 'tensor', value: labels(o.classes as NdArray, result.data as BigInt64Array) };
    const shape = Array.from(result.dims);
    if (shape[0] !== rows) throw new Error(`compiled graph returned ${shape[0]} rows for ${rows}`);
    // float32 graphs (XGBoost) answer in float32, as the library does.
    if (result.type === 'float32') return { kind: 'tensor', value: { dtype: 'float32', shape, data: result.data as Float32Array } };
    return { kind: 'tensor', value: { dtype: 'float64', shape, data: result.data as Float64Array } };
  }

  async unload(): Promise<void> {
    await this.session.release();
  }
}

async function readPickle(ctx: FlavorLoadContext): Promise<Uint8Array> {
  const sk = ctx.mlmodel.flavors.sklearn ?? {};
  const pyfunc = ctx.mlmodel.flavors.python_function ?? {};
  const format = sk.serialization_format ?? 'cloudpickle';
  if (format !== 'cloudpickle' && format !== 'pickle')
    invalid(`sklearn serialization_format '${String(format)}' is not supported (only pickle and cloudpickle)`);
  const rel =
    typeof sk.pickled_model === 'string' ? sk.pickled_model : typeof pyfunc.model_path === 'string' ? pyfunc.model_path : 'model.pkl';
  return readModelFile(ctx.dir, rel, 'sklearn pickled_model', MAX_PICKLE_BYTES);
}

/** A model file MLmodel names: inside the model directory (`pathInside`), a regular file, at most `maxBytes`. */
export async function readModelFile(dir: string, rel: string, what: string, maxBytes: number): Promise<Uint8Array> {
  const file = pathInside(dir, dir, rel, what);
  const st = await stat(file);
  if (!st.isFile()) invalid(`${what} '${rel}' is not a file`);
  if (st.size > maxBytes) invalid(`${what} '${rel}' is ${st.size} bytes, more than the ${maxBytes} allowed`);
  return new Uint8Array(await readFile(file));
}

function predictFnOf(ctx: FlavorLoadContext): PredictFn {
  const fn = ctx.mlmodel.flavors.python_function?.predict_fn ?? 'predict';
  if (!PREDICT_FNS.includes(fn as PredictFn)) invalid(`predict_fn '${String(fn)}' is not supported (supported: ${PREDICT_FNS.join(', ')})`);
  return fn as PredictFn;
}

/**
 * onnxruntime's NoopElimination removes a Mul or Div by a one-element float64 constant that
 * rounds to 1 in float32 (|c - 1| below ~6e-8), an error the compiled graphs cannot afford
 * (a scale of 1 + 1e-9 before a split threshold, a tie margin); it stays off for them.
 */
const EXACT_DOUBLES = { optimization: { disable_specified_optimizers: 'NoopElimination' } };

export const sklearnFlavor: Flavor = {
  name: 'sklearn',
  // The compiled graph runs on onnxruntime-node, so an image needs exactly what an ONNX model's does.
  image: onnxImage,
  v2Platform: 'onnxruntime_sklearn',

  canLoad(mlmodel) {
    return 'sklearn' in mlmodel.flavors || mlmodel.flavors.python_function?.loader_module === 'mlflow.sklearn';
  },

  async load(ctx: FlavorLoadContext): Promise<LoadedModel> {
    const predictFn = predictFnOf(ctx);
    const compiled = compileSklearn(loadPickle(await readPickle(ctx)), predictFn);
    checkSignature(ctx.mlmodel.signature, compiled);
    return serveCompiled(ctx, compiled, { estimator: compiled.root.classPath, sklearnVersion: compiled.root.sklearnVersion, predictFn });
  },
};

/**
 * Serves a graph compiled by this flavour or by another one that reuses its feeds and outputs
 * (XGBoost, LightGBM): one onnxruntime session; `info` goes to logs and the model's runtime facts.
 */
export async function serveCompiled(
  ctx: FlavorLoadContext,
  compiled: CompiledModel,
  info: Readonly<Record<string, string>>,
): Promise<LoadedModel> {
  const session = await createSessionRunner(
    { bytes: compiled.onnx },
    { ...sessionOptions({}, ctx.options.intraOpThreads ?? 1), extra: EXACT_DOUBLES },
    runnerOptions(ctx),
  );
  ctx.logger.info({ ...info, graphBytes: compiled.onnx.length, isolation: session.isolation }, 'compiled model to ONNX');
  return new CompiledOnnxModel(session, compiled, ctx.mlmodel.signature, info);
}

/**
 * The protocol-neutral core: load a model directory into something servable, and score a request
 * body with it (decode → enforce schema → params → predict → encode). The HTTP route, the
 * `predict` CLI and registration-time validation all go through here, so they agree exactly.
 */
import { readFile } from 'node:fs/promises';
import { pathInside } from '../model/paths.js';
import { parseJsonText } from '../util/json-parse.js';
import { TextLimitError } from '../util/py-json.js';
import {
  DeadlineExceededError,
  GatewayError,
  InvalidInputError,
  ModelExecutionError,
  describeError,
  isGatewayError,
  ResponseTooLargeError,
  quoteValue,
} from '../errors.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../flavors/flavor.js';
import type { FlavorLoadOptions, LoadedModel } from '../flavors/index.js';
import type { ModelDir } from './model-dir.js';
import { type SchemaEnforcer, compileEnforcer } from '../schema/enforce.js';
import { type ModelInput, type ModelOutput, objectColumn } from '../schema/model-io.js';
import { type ParamsEnforcer, compileParams } from '../schema/params.js';
import { type ModelSignature, schemaRepr } from '../schema/signature.js';
import { type Logger, silentLogger } from '../util/log.js';
import { type DecodedRequest, codecFor, decodeBody } from '../protocols/mlflow/index.js';
import { type BatchObserver, type BatchOptions, Batcher } from './batcher.js';
import { encodePredictions } from '../protocols/mlflow/response.js';

/** Which registered model version this is; the labels of every metric about it. */
export interface ModelRef {
  readonly name: string;
  readonly version: string;
}

export interface ServingExample {
  readonly contentType: string;
  readonly body: string;
}

export interface ServableModel {
  readonly ref: ModelRef;
  readonly flavor: string;
  readonly dir: string;
  readonly model: LoadedModel;
  readonly signature: ModelSignature | undefined;
  readonly example: ServingExample | undefined;
  /** Seconds from the start of loading to the end of the warm-up request. */
  readonly loadSeconds: number;
  readonly enforcer: SchemaEnforcer | undefined;
  readonly params: ParamsEnforcer;
  /** Present when requests to this model are batched. */
  readonly batcher?: Batcher;
}

/** Batching needs every input to have a variable first dimension (or rows, for columns). */
function hasBatchDimension(sig: ModelSignature | undefined): boolean {
  const inputs = sig?.inputs;
  if (inputs === undefined) return false;
  if (inputs.kind === 'columns') return true;
  return inputs.inputs.every((t) => t.shape.length > 0 && t.shape[0] === -1);
}

/**
 * The batching options for one model: the MLmodel's `metadata.modelgate.max_batch_size` /
 * `batch_wait_ms` if it sets them (the only way to batch user code), else the server's for
 * models whose predict is row-independent.
 */
function batchingFor(md: ModelDir, model: LoadedModel, options: LoadOptions): BatchOptions | undefined {
  const meta = (md.mlmodel.raw.metadata as { modelgate?: { max_batch_size?: unknown; batch_wait_ms?: unknown } } | undefined)?.modelgate;
  const declared = typeof meta?.max_batch_size === 'number' ? meta.max_batch_size : undefined;
  const size = declared ?? (model.batchable === true ? options.batching?.maxBatchSize : undefined);
  const wait = typeof meta?.batch_wait_ms === 'number' ? meta.batch_wait_ms : (options.batching?.waitMs ?? 0);
  return size !== undefined && size > 1 ? { maxBatchSize: size, waitMs: wait } : undefined;
}

export interface LoadOptions {
  logger?: Logger;
  flavor?: FlavorLoadOptions;
  /**
   * Adaptive batching for models whose signature has a batch dimension; the MLmodel's
   * `metadata.modelgate.max_batch_size` / `batch_wait_ms` override it per model.
   */
  batching?: BatchOptions;
  /** Where a model's batch sizes and queue waits are reported. */
  batchObserver?: (ref: ModelRef) => BatchObserver;
  /** Score the input example once after loading (fails the load if it does not score). @default true */
  warmup?: boolean;
  /** Milliseconds the load and warm-up may take; 0 = no deadline. @default 300000 */
  loadTimeoutMs?: number;
}

/** The serving example MLflow wrote, or one built from `input_example.json` as MLflow would build it. */
export async function readServingExample(md: ModelDir): Promise<ServingExample | undefined> {
  const info = md.mlmodel.inputExample;
  const json = (body: string): ServingExample => ({ contentType: 'application/json', body });
  const read = (p: string, what: string) => readFile(pathInside(md.path, md.path, p, what), 'utf8');
  if (info?.servingInputPath) return json(await read(info.servingInputPath, 'The serving input example'));
  if (info?.artifactPath) {
    const text = await read(info.artifactPath, 'The input example');
    if (info.type === 'dataframe') return json(`{"dataframe_split": ${text}}`);
    let parsed: unknown;
    try {
      parsed = parseJsonText(text);
    } catch (err) {
      // The parser's message names a position, never the file's text.
      throw new GatewayError('INVALID_PARAMETER_VALUE', `The input example ${info.artifactPath} is not valid JSON: ${describeError(err)}`);
    }
    // An example saved with params is already {"inputs": …, "params": …}.
    if (typeof parsed === 'object' && parsed !== null && 'inputs' in parsed) return json(text);
    return json(`{"inputs": ${text}}`);
  }
  return undefined;
}

/** A load (and warm-up) that has not finished by then fails, so one hung model cannot stall alias following or registration. */
export const DEFAULT_LOAD_TIMEOUT_MS = 300_000;

/**
 * Loads a model directory and scores its serving example, within the load deadline. A load that
 * misses it is told to stop (flavours that can, like a JS model's thread, do) and is unloaded
 * if it ever finishes.
 */
export function loadServable(md: ModelDir, ref: ModelRef, options: LoadOptions = {}): Promise<ServableModel> {
  const timeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
  const abort = new AbortController();
  const work = loadAndWarm(md, ref, options, abort.signal);
  if (timeoutMs <= 0) return work;
  return new Promise<ServableModel>((resolve, reject) => {
    const timer = setTimeout(() => {
      abort.abort();
      void work.then((s) => s.model.unload()).catch(() => undefined);
      reject(
        new GatewayError('DEADLINE_EXCEEDED', `Loading ${ref.name} version ${ref.version} did not finish within ${timeoutMs / 1000} s.`),
      );
    }, timeoutMs);
    timer.unref();
    work.then(
      (s) => {
        clearTimeout(timer);
        resolve(s);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function loadAndWarm(md: ModelDir, ref: ModelRef, options: LoadOptions, signal: AbortSignal): Promise<ServableModel> {
  const logger = options.logger ?? silentLogger();
  const started = process.hrtime.bigint();
  const config = md.mlmodel.flavors[md.flavor.name] ?? {};
  let model: LoadedModel;
  try {
    model = await md.flavor.load({ dir: md.path, mlmodel: md.mlmodel, config, logger, options: options.flavor ?? {}, signal });
  } catch (err) {
    if (isGatewayError(err)) throw err;
    throw new GatewayError('INVALID_PARAMETER_VALUE', `The ${md.flavor.name} flavour cannot load the model: ${describeError(err)}`, {
      cause: err,
    });
  }
  // Past the deadline during the warm-up, the loaded model goes at once (a JS model's thread with it).
  const unloadOnAbort = () => void model.unload().catch(() => undefined);
  signal.addEventListener('abort', unloadOnAbort, { once: true });
  try {
    const signature = model.signature;
    const servable: ServableModel = {
      ref,
      flavor: md.flavor.name,
      dir: md.path,
      model,
      signature,
      example: await readServingExample(md),
      loadSeconds: 0,
      enforcer: signature?.inputs ? compileEnforcer(signature.inputs) : undefined,
      params: compileParams(signature?.params),
    };
    if (options.warmup !== false && servable.example !== undefined) {
      try {
        await scoreBody(servable, servable.example.contentType, servable.example.body, { logger });
      } catch (err) {
        const reason = describeError(err instanceof ModelExecutionError ? err.cause : err);
        throw new GatewayError('INVALID_PARAMETER_VALUE', `The model's serving input example does not score: ${reason}`, { cause: err });
      }
    }
    const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const batching = hasBatchDimension(servable.signature) ? batchingFor(md, model, options) : undefined;
    const batcher = batching === undefined ? undefined : new Batcher(model, batching, logger, options.batchObserver?.(ref));
    logger.info(
      {
        model: ref.name,
        version: ref.version,
        flavor: md.flavor.name,
        ...model.info,
        loadSeconds,
        maxBatchSize: batching?.maxBatchSize ?? 1,
      },
      'model loaded',
    );
    signal.removeEventListener('abort', unloadOnAbort);
    return { ...servable, loadSeconds, ...(batcher === undefined ? {} : { batcher }) };
  } catch (err) {
    signal.removeEventListener('abort', unloadOnAbort);
    await model.unload().catch(() => undefined);
    throw err;
  }
}

export interface ScoreOptions {
  logger?: Logger;
  /** Called with the seconds the model's predict took. */
  onPredict?: (seconds: number) => void;
  /** Most rows (first dimension) a request may carry. @default 100000 */
  maxRows?: number;
  /** Deepest JSON nesting accepted. @default 64 */
  maxJsonDepth?: number;
  /** performance.now() time after which work that has not started is not started. */
  deadline?: number;
  /** The largest response body, in bytes. @default 33554432 (32 MiB) */
  maxResponseBytes?: number;
}

function rowsOf(input: ModelInput): number {
  switch (input.kind) {
    case 'tensor':
      return input.value.shape[0] ?? 1;
    case 'tensors': {
      let n = 0;
      for (const k in input.value) n = Math.max(n, input.value[k].shape[0] ?? 1);
      return n;
    }
    case 'dataframe':
      return input.value.rows;
    default:
      return 0;
  }
}

/**
 * The input checked against the signature. An LLM-style body (`messages`, `prompt`, `input`) goes
 * to the model as it is, but only if it satisfies a column signature as a one-row table, as
 * MLflow's schema enforcement checks it; a tensor signature cannot take it.
 */
function enforceInput(enforcer: SchemaEnforcer, input: ModelInput): ModelInput {
  if (input.kind !== 'json') return enforcer.enforce(input);
  const body = input.value as Record<string, unknown>;
  const keys = Object.keys(body);
  if (enforcer.schema.kind === 'columns') {
    enforcer.enforce({ kind: 'dataframe', value: { columns: keys, values: keys.map((k) => objectColumn([body[k]])), rows: 1 } });
    return input;
  }
  throw new GatewayError(
    'INVALID_PARAMETER_VALUE',
    `This model's input signature is ${schemaRepr(enforcer.schema)}; the body is an LLM-style request (keys ${keys
      .slice(0, 10)
      .map((k) => quoteValue(k))
      .join(', ')}), which a tensor signature cannot take. Send 'inputs' or 'instances'.`,
  );
}

/** Runs enforcement, params and the model on a decoded request; returns the model's output. */
export async function predictDecoded(servable: ServableModel, request: DecodedRequest, options: ScoreOptions = {}): Promise<ModelOutput> {
  const maxRows = options.maxRows ?? 100_000;
  const rows = rowsOf(request.input);
  if (rows > maxRows) throw new InvalidInputError(`The request has ${rows} rows; the limit is ${maxRows}.`);
  const input: ModelInput = servable.enforcer === undefined ? request.input : enforceInput(servable.enforcer, request.input);
  const { params, ignored, ignoredType } = servable.params.resolve(request.params);
  if (ignored.length > 0) {
    options.logger?.warn({ model: servable.ref.name, params: ignored }, 'params not declared in the model signature were ignored');
  }
  if (ignoredType !== undefined) {
    options.logger?.warn(
      { model: servable.ref.name, type: ignoredType },
      'params that are not a dictionary were ignored (no params schema)',
    );
  }
  // Work that could not start before its deadline is not started.
  if (options.deadline !== undefined && performance.now() > options.deadline) throw new DeadlineExceededError();
  const started = performance.now();
  try {
    const output = await (servable.batcher
      ? servable.batcher.predict(input, params, options.deadline)
      : servable.model.predict(input, params));
    options.onPredict?.((performance.now() - started) / 1000);
    return output;
  } catch (err) {
    if (isGatewayError(err) && (err.status < 500 || err instanceof DeadlineExceededError)) throw err;
    // A JS model's thread measured its result against the limit.
    if (err instanceof Error && err.name === 'ResponseTooLargeError') throw new ResponseTooLargeError(responseLimit(options));
    throw new ModelExecutionError(err);
  }
}

/** Encodes a model's output; an output that cannot be encoded is the model's failure (500), not the caller's. */
export function encodeOutput<T>(encode: () => T): T {
  try {
    return encode();
  } catch (err) {
    if (isGatewayError(err) && err.status < 500) throw err;
    throw new ModelExecutionError(err);
  }
}

const responseLimit = (options: ScoreOptions) => options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

/** Elements in an output's arrays: each takes at least three characters of JSON (a digit and ", "). */
function elementsOf(output: ModelOutput): number {
  switch (output.kind) {
    case 'tensor':
      return output.value.data.length;
    case 'tensors': {
      let n = 0;
      for (const k in output.value) n += output.value[k].data.length;
      return n;
    }
    case 'dataframe':
      return output.value.values.reduce((n, v) => n + v.data.length, 0);
    default:
      return 0;
  }
}

/**
 * Encodes an output within the response limit: one that cannot fit is refused before any text is
 * written, and the writers stop as soon as the text passes it (writing a huge answer whole would
 * hold the event loop for seconds).
 */
export function encodeWithin(output: ModelOutput, options: ScoreOptions, encode: (limit: number) => string): string {
  const limit = responseLimit(options);
  if (elementsOf(output) * 3 > limit) throw new ResponseTooLargeError(limit);
  let text: string;
  try {
    text = encodeOutput(() => encode(limit));
  } catch (err) {
    if (err instanceof ModelExecutionError && err.cause instanceof TextLimitError) throw new ResponseTooLargeError(limit);
    throw err;
  }
  if (text.length > limit) throw new ResponseTooLargeError(limit);
  return text;
}

/** {@link predictDecoded}, answered as MLflow's `{"predictions": …}` JSON text. */
export async function score(servable: ServableModel, request: DecodedRequest, options: ScoreOptions = {}): Promise<string> {
  const output = await predictDecoded(servable, request, options);
  return encodeWithin(output, options, (limit) => encodePredictions(output, request.unwrapped, limit));
}

/** Decodes a body by its content type (MLflow's rules) and scores it; a parquet body must be bytes. */
export async function scoreBody(
  servable: ServableModel,
  contentType: string | null | undefined,
  body: string | Uint8Array,
  options: ScoreOptions = {},
): Promise<string> {
  const limits = { maxJsonDepth: options.maxJsonDepth ?? 64, maxRows: options.maxRows ?? 100_000 };
  const request = await Promise.resolve(decoding(() => decodeBody(codecFor(contentType), body, servable.signature?.inputs, limits))).catch(
    callersInput,
  );
  return score(servable, request, options);
}

/** A body nested past what the checks expect can still exhaust the stack somewhere: still the caller's input. */
function callersInput(err: unknown): never {
  if (err instanceof RangeError) throw new InvalidInputError(`The input is nested too deeply (${err.message}).`);
  throw err;
}

/** Runs a body decoder: whatever it throws is about the caller's input. */
export function decoding<T>(decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    return callersInput(err);
  }
}

/**
 * Scoring, the same for every protocol and caller (HTTP routes, the `predict` CLI, the warm-up
 * at load): the row limit, schema enforcement, params, the deadline, the model (or its batcher),
 * and the response limit.
 */
import {
  DeadlineExceededError,
  GatewayError,
  InvalidInputError,
  ModelExecutionError,
  ResponseTooLargeError,
  isGatewayError,
  quoteValue,
} from '../errors.js';
import { LIMIT_DEFAULTS } from '../limits.js';
import type { DecodedRequest } from '../protocols/mlflow/codec.js';
import { mlflowProtocol } from '../protocols/mlflow/protocol.js';
import { encodePredictions } from '../protocols/mlflow/response.js';
import type { WireProtocol } from '../protocols/protocol.js';
import { v2Protocol } from '../protocols/v2/protocol.js';
import type { SchemaEnforcer } from '../schema/enforce.js';
import { type ModelInput, type ModelOutput, objectColumn } from '../schema/model-io.js';
import { schemaRepr } from '../schema/signature.js';
import type { RequestSpan } from '../monitor/trace/span.js';
import type { Logger } from '../util/log.js';
import { TextLimitError } from '../util/py-json.js';
import type { ServableModel } from './servable.js';

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
  /** Told what was decoded (before the model may take its buffers) and what it predicted: the monitor's view. */
  watch?: ScoreWatch;
  /** The request's trace, when tracing is on: decode, inference and encode become its phases. */
  trace?: RequestSpan | undefined;
}

export interface ScoreWatch {
  decoded(input: ModelInput): void;
  predicted(output: ModelOutput): void;
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
  const maxRows = options.maxRows ?? LIMIT_DEFAULTS.maxRows;
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
      ? servable.batcher.predict(input, params, options.deadline, options.trace)
      : servable.model.predict(input, params));
    const ended = performance.now();
    options.onPredict?.((ended - started) / 1000);
    options.trace?.phase('inference', started, ended);
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

const responseLimit = (options: ScoreOptions) => options.maxResponseBytes ?? LIMIT_DEFAULTS.maxResponseBytes;

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
  options.watch?.decoded(request.input);
  const output = await predictDecoded(servable, request, options);
  options.watch?.predicted(output);
  return encodeWithin(output, options, (limit) => encodePredictions(output, request.unwrapped, limit));
}

/**
 * Scores one request body in a protocol's terms: decode (whatever fails there is the caller's),
 * enforce, predict, and encode within the response limit.
 */
export async function scoreWith(
  protocol: WireProtocol,
  servable: ServableModel,
  contentType: string | null | undefined,
  body: string | Uint8Array,
  options: ScoreOptions = {},
): Promise<string> {
  const limits = { maxJsonDepth: options.maxJsonDepth ?? LIMIT_DEFAULTS.maxJsonDepth, maxRows: options.maxRows ?? LIMIT_DEFAULTS.maxRows };
  const { trace } = options;
  const decodeStart = performance.now();
  const wire = await Promise.resolve(decoding(() => protocol.decode(body, contentType, servable, limits))).catch(callersInput);
  if (trace !== undefined) {
    trace.phase('decode', decodeStart, performance.now());
    trace.attr('modelgate.rows', rowsOf(wire.request.input));
  }
  options.watch?.decoded(wire.request.input);
  const output = await predictDecoded(servable, wire.request, options);
  options.watch?.predicted(output);
  const encodeStart = performance.now();
  const text = encodeWithin(output, options, (limit) => wire.encode(output, limit));
  trace?.phase('encode', encodeStart, performance.now());
  return text;
}

/** An `/invocations` body, decoded by its content type (MLflow's rules); a parquet body must be bytes. */
export function scoreBody(
  servable: ServableModel,
  contentType: string | null | undefined,
  body: string | Uint8Array,
  options: ScoreOptions = {},
): Promise<string> {
  return scoreWith(mlflowProtocol, servable, contentType, body, options);
}

/** A V2 `/infer` body. */
export function scoreInferRequest(servable: ServableModel, body: string, options: ScoreOptions = {}): Promise<string> {
  return scoreWith(v2Protocol, servable, 'application/json', body, options);
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

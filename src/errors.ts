/**
 * One error type for everything the gateway reports to a caller. The `code` is MLflow's
 * `error_code` vocabulary, so MLflow clients keep working; the HTTP status is derived from it
 * through MLflow's own table unless an error needs a status MLflow has no code for (415, 405).
 */

import { redactText } from './util/redact.js';

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'ENDPOINT_NOT_FOUND'
  | 'RESOURCE_CONFLICT'
  | 'RESOURCE_EXHAUSTED'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'INTERNAL_ERROR'
  | 'INVALID_STATE'
  | 'DATA_LOSS'
  | 'NOT_IMPLEMENTED'
  | 'TEMPORARILY_UNAVAILABLE'
  | 'DEADLINE_EXCEEDED';

/** MLflow's `ERROR_CODE_TO_HTTP_STATUS` (mlflow/protos/databricks.proto), restricted to the codes we emit. */
export const ERROR_CODE_TO_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_CONFLICT: 409,
  RESOURCE_EXHAUSTED: 429,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/**
 * MLflow 3's finer classification of an error beside its `error_code` (its error-class enum);
 * only the classes modelgate reports.
 */
export type ErrorClass =
  | 'INVALID_PARAMETER_VALUE'
  | 'SCHEMA_ENFORCEMENT_FAILED'
  | 'RESOURCE_NOT_FOUND'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'CLIENT_INTERNAL_ERROR';

export interface GatewayErrorOptions {
  /** Overrides the status derived from `code` (for statuses MLflow has no code for). */
  status?: number;
  /** Overrides the error class derived from `code` (MLflow passes one where the code is too coarse). */
  errorClass?: ErrorClass;
  cause?: unknown;
  /** Extra response headers, e.g. `Allow` or `Retry-After`. */
  headers?: Record<string, string>;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  readonly errorClass: ErrorClass | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    // No message may carry a password from a URI (`https://user:password@host`), whoever built it.
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? ERROR_CODE_TO_STATUS[code];
    this.headers = options.headers;
    this.errorClass = options.errorClass;
  }
}

/**
 * A setting that cannot be used: a flag, environment variable or option out of range, or
 * options that do not go together. The CLI exits 2 on it, as on a usage error.
 */
export class ConfigError extends GatewayError {
  constructor(message: string) {
    super('INVALID_PARAMETER_VALUE', message);
  }
}

/** The request could not be parsed (MLflow's `MlflowInvalidInputException`: message starts with "Invalid input."). */
export class InvalidInputError extends GatewayError {
  constructor(detail: string, options?: GatewayErrorOptions) {
    super('BAD_REQUEST', `Invalid input. ${detail}`, options);
  }
}

/** The parsed input does not satisfy the model signature. */
export class SchemaEnforcementError extends GatewayError {
  readonly detail: string;
  constructor(schemaRepr: string, detail: string) {
    // MLflow echoes the whole input into this message; we deliberately do not (it leaks data into logs and clients).
    super('INVALID_PARAMETER_VALUE', `Failed to enforce schema of data with schema '${schemaRepr}'. Error: ${detail}`, {
      errorClass: 'SCHEMA_ENFORCEMENT_FAILED',
    });
    this.detail = detail;
  }
}

export class UnsupportedMediaTypeError extends GatewayError {
  constructor(message: string) {
    super('BAD_REQUEST', message, { status: 415 });
  }
}

export class ResourceNotFoundError extends GatewayError {
  constructor(message: string) {
    super('RESOURCE_DOES_NOT_EXIST', message);
  }
}

export class ModelNotReadyError extends GatewayError {
  constructor(message = 'The model is not loaded yet.') {
    super('TEMPORARILY_UNAVAILABLE', message, { headers: { 'Retry-After': '1' } });
  }
}

/** A failure inside model code. Its message is for the log only; callers see a generic text and a request id. */
export class ModelExecutionError extends GatewayError {
  constructor(cause: unknown) {
    super('INTERNAL_ERROR', 'The model failed while computing the prediction.', { cause });
  }
}

/** A prediction too large to send; not the caller's fault, and nothing in the message is private. */
export class ResponseTooLargeError extends GatewayError {
  constructor(limit: number) {
    super('INTERNAL_ERROR', `The prediction is larger than the response limit of ${limit} bytes.`);
  }
}

export class DeadlineExceededError extends GatewayError {
  constructor(seconds?: number) {
    super('DEADLINE_EXCEEDED', seconds === undefined ? 'The request timed out.' : `The request did not finish within ${seconds} s.`);
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/** The most of a value any message quotes: a message must not carry the request's data back. */
const QUOTE_CHARS = 64;
/** The longest message a client is sent; longer ones (a huge column name, say) are cut. */
const MAX_MESSAGE_CHARS = 2048;

/** A message as a client may see it: at most a couple of kilobytes. */
export function clientMessage(message: string): string {
  return cut(message, MAX_MESSAGE_CHARS);
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

/** A value as Python's repr would show it in a message, cut to a few dozen characters. */
export function quoteValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = `'${v}'`;
  else if (v === null || v === undefined) s = 'None';
  else if (typeof v === 'boolean') s = v ? 'True' : 'False';
  else if (typeof v === 'bigint' || typeof v === 'number') s = String(v);
  else {
    try {
      s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
    } catch {
      s = Object.prototype.toString.call(v);
    }
  }
  return cut(s, QUOTE_CHARS);
}

/** Text of an unknown thrown value, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The `/invocations` codec table: body codecs keyed by mime type, JSON format codecs keyed by the
 * body's top-level key. Content-type rules and messages follow MLflow's scoring server.
 */
import { GatewayError, InvalidInputError, UnsupportedMediaTypeError } from '../../errors.js';
import type { Schema } from '../../schema/signature.js';
import { JsonSyntaxError, parseJsonText } from '../../util/json-parse.js';
import type { AnyBodyCodec, BodyCodec, DecodeLimits, DecodedRequest, JsonFormatCodec } from './codec.js';
import { PRESCAN_FROM_BYTES, prescanJson } from './prescan.js';
import { csvCodec } from './csv.js';
import { dataframeRecordsCodec, dataframeSplitCodec } from './dataframe.js';
import { inputsCodec, instancesCodec } from './inputs.js';
import { parquetCodec } from './parquet.js';
import { LIMIT_DEFAULTS } from '../../limits.js';

/** Keys in one JSON object: far beyond any model's columns, and what keeps a body from building an object with millions. */
const MAX_KEYS = 100_000;

export type { AnyBodyCodec, BinaryBodyCodec, BodyCodec, DecodeLimits, DecodedRequest, JsonFormatCodec } from './codec.js';

export const PROTOCOL_CHANGE_NOTE =
  "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are seeing this error, you are likely using an outdated scoring request format. To resolve the error, either update your request format or adjust your MLflow Model's requirements file to specify an older version of MLflow (for example, change the 'mlflow' requirement specifier to 'mlflow==1.30.0'). If you are making a request using the MLflow client (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in order to use the new request format. For more information about the updated MLflow Model scoring protocol in MLflow 2.0, see https://mlflow.org/docs/latest/models.html#deploy-mlflow-models.";

export const JSON_FORMAT_CODECS: readonly JsonFormatCodec[] = [dataframeSplitCodec, dataframeRecordsCodec, instancesCodec, inputsCodec];

const FORMAT_BY_KEY = new Map(JSON_FORMAT_CODECS.map((c) => [c.key, c]));
const FORMAT_SET = `{${JSON_FORMAT_CODECS.map((c) => `'${c.key}'`).join(', ')}}`;
const LLM_KEYS = ['messages', 'prompt', 'input'];

const exactIntegerCache = new WeakMap<Schema, boolean>();

/** Whether a schema has 64-bit integers, whose JSON literals a double could round. */
function wantsExactIntegers(schema: Schema | undefined): boolean {
  if (schema === undefined) return true;
  let v = exactIntegerCache.get(schema);
  if (v === undefined) {
    v =
      schema.kind === 'tensors'
        ? schema.inputs.some((t) => t.dtype === 'int64' || t.dtype === 'uint64' || t.dtype === 'object')
        : schema.inputs.some((c) => JSON.stringify(c.colType).match(/"(long|any)"/) !== null);
    exactIntegerCache.set(schema, v);
  }
  return v;
}

/** Parses a JSON body; a parse error names the position, never the body (MLflow echoes the input). */
function parseJson(text: string, schema: Schema | undefined): unknown {
  try {
    return parseJsonText(text, wantsExactIntegers(schema));
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    throw new InvalidInputError(`Ensure that input is a valid JSON formatted string. Error: '${err.message}'`);
  }
}

function pyKind(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

/** Decodes an already-parsed JSON body (the CLI's `predict` and the HTTP route share this). */
export function decodeJsonValue(body: unknown, schema: Schema | undefined): DecodedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInputError(
      `The input must be a JSON dictionary with exactly one of the input fields ${FORMAT_SET}. Received ${pyKind(body)}.`,
    );
  }
  const obj = body as Record<string, unknown>;
  let codec: JsonFormatCodec | undefined;
  let found = 0;
  const present: string[] = [];
  for (const key in obj) {
    const c = FORMAT_BY_KEY.get(key);
    if (c !== undefined) {
      codec = c;
      found++;
      present.push(key);
    }
  }
  // Whether params must be a dictionary depends on the model's params schema: the enforcer decides.
  const p = obj.params ?? undefined;
  // MLflow routes any body with an LLM key to the LLM path, even next to "inputs"; we only do so
  // when no scoring-protocol key is present, so a column named "input" cannot change the protocol.
  if (found === 0 && LLM_KEYS.some((k) => k in obj)) {
    const data: Record<string, unknown> = { ...obj };
    delete data.params;
    return { input: { kind: 'json', value: data }, params: p, unwrapped: true };
  }
  if (found !== 1 || codec === undefined) {
    throw new GatewayError(
      'BAD_REQUEST',
      `The input must be a JSON dictionary with exactly one of the input fields ${FORMAT_SET}. Received dictionary with input fields: [${present
        .sort()
        .map((k) => `'${k}'`)
        .join(', ')}]. ${PROTOCOL_CHANGE_NOTE}`,
    );
  }
  return { input: codec.decode(obj[codec.key], schema), params: p, unwrapped: false };
}

/**
 * Whether a parsed value nests deeper than `max`. Arrays whose first element is not a container
 * count as leaves (a numeric matrix costs one look per row, not per number); anything deeper
 * hidden further along such an array is refused later as a ragged tensor. Recursion is bounded
 * by `max`.
 */
export function nestedDeeperThan(value: unknown, max: number, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= max) return true;
  if (Array.isArray(value)) {
    const first: unknown = value[0];
    if (typeof first !== 'object' || first === null) return false;
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      if (typeof x !== 'object' || x === null) continue;
      // A row of scalars (the common case) is a leaf: skip the call.
      if (Array.isArray(x)) {
        const f: unknown = x[0];
        if (typeof f !== 'object' || f === null) {
          if (depth + 1 >= max) return true;
          continue;
        }
      }
      if (nestedDeeperThan(x, max, depth + 1)) return true;
    }
    return false;
  }
  for (const k in value) if (nestedDeeperThan((value as Record<string, unknown>)[k], max, depth + 1)) return true;
  return false;
}

/** Arrays and objects a body may hold: a row is one, so this is generous for any row limit, and bounds what empty containers can cost. */
const containersFor = (maxRows: number) => Math.max(1_000_000, 4 * maxRows);

/**
 * Parses a JSON request body within the limits (every JSON protocol goes through here): a large
 * body is looked over first, so one that would be refused, or would cost far more than its size
 * to build, is refused before it is built.
 */
export function parseJsonBody(text: string, schema: Schema | undefined, limits?: DecodeLimits): unknown {
  if (text.length >= PRESCAN_FROM_BYTES) {
    const maxRows = limits?.maxRows ?? LIMIT_DEFAULTS.maxRows;
    prescanJson(text, { maxRows, maxContainers: containersFor(maxRows), maxKeys: MAX_KEYS });
  }
  const value = parseJson(text, schema);
  const max = limits?.maxJsonDepth;
  if (max !== undefined && nestedDeeperThan(value, max)) {
    throw new InvalidInputError(`The JSON body is nested deeper than ${max} levels.`);
  }
  return value;
}

export const jsonCodec: BodyCodec = {
  mimeType: 'application/json',
  decode: (text, schema, limits) => decodeJsonValue(parseJsonBody(text, schema, limits), schema),
};

/** In MLflow 3's order, which its 415 message lists. */
export const BODY_CODECS: readonly AnyBodyCodec[] = [csvCodec, jsonCodec, parquetCodec];
const CODEC_BY_MIME = new Map(BODY_CODECS.map((c) => [c.mimeType, c]));
const MIME_LIST = `[${BODY_CODECS.map((c) => `'${c.mimeType}'`).join(', ')}]`;

const utf8 = new TextDecoder();

/**
 * Decodes a body with its codec: text codecs get UTF-8 text (invalid bytes as U+FFFD, as before
 * any codec sees them), binary ones the bytes (a string is taken as its UTF-8 bytes).
 */
export function decodeBody(
  codec: AnyBodyCodec,
  body: string | Uint8Array,
  schema: Schema | undefined,
  limits?: DecodeLimits,
): DecodedRequest | Promise<DecodedRequest> {
  if (codec.binary === true) return codec.decode(typeof body === 'string' ? Buffer.from(body, 'utf8') : body, schema, limits);
  return codec.decode(typeof body === 'string' ? body : utf8.decode(body), schema, limits);
}

/** Picks the codec for a Content-Type header, with MLflow's 415 rules. */
export function codecFor(contentType: string | undefined | null): AnyBodyCodec {
  if (contentType === 'application/json') return jsonCodec; // the common case, without splitting
  const parts = (contentType ?? '').split(';');
  const mime = parts[0].trim().toLowerCase();
  const unknownParams: string[] = [];
  for (const raw of parts.slice(1)) {
    const eq = raw.indexOf('=');
    const key = (eq === -1 ? raw : raw.slice(0, eq)).trim().toLowerCase();
    const value =
      eq === -1
        ? ''
        : raw
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, '')
            .toLowerCase();
    if (key === '') continue;
    if (key === 'charset') {
      if (value !== 'utf-8' && value !== 'utf8') throw new UnsupportedMediaTypeError('The scoring server only supports UTF-8');
    } else {
      unknownParams.push(key);
    }
  }
  if (unknownParams.length > 0) {
    throw new UnsupportedMediaTypeError(`Unrecognized content type parameters: ${unknownParams.join(', ')}. ${PROTOCOL_CHANGE_NOTE}`);
  }
  const codec = CODEC_BY_MIME.get(mime);
  if (codec === undefined) {
    const got = contentType === undefined || contentType === null ? 'no Content-Type header' : `'${mime}'`;
    throw new UnsupportedMediaTypeError(`This predictor only supports the following content types: Types: ${MIME_LIST}. Got ${got}.`);
  }
  return codec;
}

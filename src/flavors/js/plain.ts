/**
 * What a JS model's `predict` sees and may return: plain JavaScript values, not our typed arrays.
 *
 * In: an ndarray becomes nested arrays (`ndarray.tolist()`), a dict of ndarrays an object of
 * nested arrays, a DataFrame an array of row objects (`df.to_dict('records')`), an LLM-style body
 * the parsed JSON itself. Booleans are booleans; int64 values are numbers, or BigInts beyond 2^53.
 *
 * Out: any JSON-like value (arrays, plain objects, strings, numbers, booleans, null, BigInts,
 * typed arrays, Dates as ISO strings) becomes `{"predictions": value}`.
 */
import type { DataFrame, ModelInput, ModelOutput } from '../../schema/model-io.js';
import type { NDArray } from '../../schema/ndarray.js';

type Convert = (v: unknown) => unknown;

const asBool: Convert = (v) => v !== 0 && v !== false && v !== 0n;
const asSafeInt: Convert = (v) => {
  if (typeof v !== 'bigint') return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
};
const same: Convert = (v) => v;

function converterFor(a: NDArray): Convert {
  if (a.dtype === 'bool') return asBool;
  if (a.dtype === 'int64' || a.dtype === 'uint64') return asSafeInt;
  return same;
}

function nested(d: ArrayLike<unknown>, shape: readonly number[], depth: number, offset: number, conv: Convert): unknown[] {
  const n = shape[depth];
  const out = new Array<unknown>(n);
  if (depth === shape.length - 1) {
    for (let i = 0; i < n; i++) out[i] = conv(d[offset + i]);
    return out;
  }
  let stride = 1;
  for (let i = depth + 1; i < shape.length; i++) stride *= shape[i];
  for (let i = 0; i < n; i++) out[i] = nested(d, shape, depth + 1, offset + i * stride, conv);
  return out;
}

/** `ndarray.tolist()`. */
export function ndarrayToPlain(a: NDArray): unknown {
  const conv = converterFor(a);
  const d = a.data as ArrayLike<unknown>;
  if (a.shape.length === 0) return conv(d[0]);
  return nested(d, a.shape, 0, 0, conv);
}

/** `df.to_dict('records')`: one object per row; a column of list cells gives lists. */
export function frameToRecords(df: DataFrame): Record<string, unknown>[] {
  const keys = df.columns.map(String);
  const cells = df.values.map((col) => {
    const conv = converterFor(col);
    const d = col.data as ArrayLike<unknown>;
    if (col.shape.length <= 1) return (r: number) => conv(d[r]);
    let stride = 1;
    for (let i = 1; i < col.shape.length; i++) stride *= col.shape[i];
    return (r: number) => nested(d, col.shape, 1, r * stride, conv);
  });
  const rows = new Array<Record<string, unknown>>(df.rows);
  for (let r = 0; r < df.rows; r++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < keys.length; c++) row[keys[c]] = cells[c](r);
    rows[r] = row;
  }
  return rows;
}

export function inputToPlain(input: ModelInput): unknown {
  switch (input.kind) {
    case 'tensor':
      return ndarrayToPlain(input.value);
    case 'tensors': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(input.value)) out[k] = ndarrayToPlain(v);
      return out;
    }
    case 'dataframe':
      return frameToRecords(input.value);
    case 'json':
      return input.value;
  }
}

export class UnserializableOutputError extends Error {
  constructor(path: string, what: string) {
    super(`predict returned ${what} at ${path}, which cannot be sent as JSON`);
    this.name = 'UnserializableOutputError';
  }
}

const MAX_DEPTH = 256;

/** Checks and copies a returned value into plain JSON-like data (what `JSON.stringify` would keep). */
function plain(v: unknown, path: string, seen: Set<object>, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return v;
    case 'undefined':
      return null;
    case 'function':
      throw new UnserializableOutputError(path, 'a function');
    case 'symbol':
      throw new UnserializableOutputError(path, 'a symbol');
  }
  if (v === null) return null;
  const obj = v as object;
  if (depth > MAX_DEPTH) throw new UnserializableOutputError(path, `data nested more than ${MAX_DEPTH} levels deep`);
  if (seen.has(obj)) throw new UnserializableOutputError(path, 'a circular reference');
  if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) return Array.from(obj as unknown as ArrayLike<unknown>);
  if (obj instanceof Date) return obj.toISOString();
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((x, i) => plain(x, `${path}[${i}]`, seen, depth + 1));
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of obj) out[String(k)] = plain(x, `${path}.${String(k)}`, seen, depth + 1);
      return out;
    }
    if (obj instanceof Set) return [...obj].map((x, i) => plain(x, `${path}[${i}]`, seen, depth + 1));
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return plain(toJSON.call(obj), path, seen, depth + 1);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(obj)) {
      if (x === undefined) continue; // as JSON.stringify does; a function or symbol is an error instead of vanishing
      out[k] = plain(x, `${path}.${k}`, seen, depth + 1);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

export function outputFromPlain(value: unknown): ModelOutput {
  if (value === undefined) throw new UnserializableOutputError('the top level', 'undefined');
  return { kind: 'json', value: plain(value, '$', new Set(), 0) };
}

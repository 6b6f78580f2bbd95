/**
 * JSON text exactly as Python's `json.dumps` writes it (", " and ": " separators, ensure_ascii,
 * float repr, NaN/Infinity tokens), so our bodies match MLflow's byte for byte and Python clients
 * see floats as floats (`3.0`, not `3`).
 */
import type { NDArray } from '../schema/ndarray.js';

const NEEDS_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;
const NON_ASCII = /[\u0080-\uffff]/g;

export function pyString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  return JSON.stringify(s).replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloat(x: number): string {
  if (x !== x) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const a = x < 0 ? -x : x;
  if (a >= 1e-4 && a < 1e16) {
    const s = String(x);
    return s.includes('.') ? s : `${s}.0`;
  }
  const e = x.toExponential();
  const i = e.indexOf('e');
  const exp = e.slice(i + 2);
  return `${e.slice(0, i)}e${e[i + 1]}${exp.length < 2 ? `0${exp}` : exp}`;
}

function pyNumber(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? String(x) : pyFloat(x);
}

/** `json.dumps(value)` for plain JSON-like values (numbers that are whole print as ints). */
export function pyJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return pyString(value);
    case 'number':
      return pyNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return 'null';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let s = '[';
        for (let i = 0; i < value.length; i++) s += (i === 0 ? '' : ', ') + pyJson(value[i]);
        return `${s}]`;
      }
      if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
        return pyJson(Array.from(value as unknown as ArrayLike<unknown>));
      }
      if (value instanceof Date) return pyString(value.toISOString());
      const maybe = value as { toJSON?: () => unknown };
      if (typeof maybe.toJSON === 'function') return pyJson(maybe.toJSON());
      let s = '{';
      let first = true;
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function') continue;
        s += `${first ? '' : ', '}${pyString(k)}: ${pyJson(v)}`;
        first = false;
      }
      return `${s}}`;
    }
    default:
      return 'null';
  }
}

const fmtBool = (v: unknown): string => (v ? 'true' : 'false');
/** int64 values print faster through a double when they fit one exactly. */
const fmtBig = (v: unknown): string => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? String(n) : String(v);
};
const fmtFloat = (v: unknown): string => pyFloat(v as number);
/** Strict JSON has no NaN or Infinity: they become null, as orjson (MLServer) and JSON.stringify write them. */
const fmtFloatStrict = (v: unknown): string => (Number.isFinite(v) ? pyFloat(v as number) : 'null');

/** The element formatter for a dtype: floats always carry a decimal point, as Python prints them. */
function formatterFor(dtype: NDArray['dtype'], strict = false): (v: unknown) => string {
  switch (dtype) {
    case 'float16':
    case 'float32':
    case 'float64':
      return strict ? fmtFloatStrict : fmtFloat;
    case 'bool':
      return fmtBool;
    case 'int64':
    case 'uint64':
      return fmtBig;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return String;
    default:
      return pyJson;
  }
}

/** Text past a writer's limit: thrown as soon as it is passed, so a huge answer is never written whole. */
export class TextLimitError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} characters`);
  }
}

/** How often (in elements) a list being written checks its length against the limit. */
const CHECK_EVERY = 4096;

function listToPyJson(d: ArrayLike<unknown>, from: number, n: number, fmt: (v: unknown) => string, limit: number): string {
  if (n === 0) return '[]';
  let s = `[${fmt(d[from])}`;
  for (let i = 1; i < n; i++) {
    s += `, ${fmt(d[from + i])}`;
    if (i % CHECK_EVERY === 0 && s.length > limit) throw new TextLimitError(limit);
  }
  return `${s}]`;
}

function nestedToPyJson(
  d: ArrayLike<unknown>,
  shape: readonly number[],
  depth: number,
  offset: number,
  fmt: (v: unknown) => string,
  limit: number,
): string {
  const n = shape[depth];
  if (depth === shape.length - 1) return listToPyJson(d, offset, n, fmt, limit);
  let stride = 1;
  for (let i = depth + 1; i < shape.length; i++) stride *= shape[i];
  if (n === 0) return '[]';
  let s = '[';
  for (let i = 0; i < n; i++) {
    s += (i === 0 ? '' : ', ') + nestedToPyJson(d, shape, depth + 1, offset + i * stride, fmt, limit);
    if (s.length > limit) throw new TextLimitError(limit);
  }
  return `${s}]`;
}

/**
 * `ndarray.tolist()` written as Python would. `strict` writes non-finite floats as null, for
 * protocols whose clients parse strict JSON (V2); MLflow's own answers keep Python's NaN. Past
 * `limit` characters it stops with a TextLimitError.
 */
export function ndarrayToPyJson(a: NDArray, strict = false, limit = Infinity): string {
  const fmt = formatterFor(a.dtype, strict);
  const d = a.data as ArrayLike<unknown>;
  if (a.shape.length === 0) return fmt(d[0]);
  return nestedToPyJson(d, a.shape, 0, 0, fmt, limit);
}

/** Row r of an array as JSON: a scalar for 1-D arrays, a nested list otherwise (`df.to_dict('records')` cells). */
export function rowToPyJson(a: NDArray, r: number): string {
  const fmt = formatterFor(a.dtype);
  const d = a.data as ArrayLike<unknown>;
  if (a.shape.length <= 1) return fmt(d[r]);
  let stride = 1;
  for (let i = 1; i < a.shape.length; i++) stride *= a.shape[i];
  return nestedToPyJson(d, a.shape, 1, r * stride, fmt, Infinity);
}

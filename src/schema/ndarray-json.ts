/**
 * NDArrays written as Python writes `ndarray.tolist()` into JSON (see util/py-json.ts for the
 * scalar rules): floats always with a decimal point, int64 exact, a limit on the text written.
 */
import { TextLimitError, pyFloat, pyJson } from '../util/py-json.js';
import type { NDArray } from './ndarray.js';

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

/**
 * What a JS model's `predict` sees and may return: plain JavaScript values, not our typed arrays.
 *
 * In: an ndarray becomes nested arrays (`ndarray.tolist()`), a dict of ndarrays an object of
 * nested arrays, a DataFrame an array of row objects (`df.to_dict('records')`), an LLM-style body
 * the parsed JSON itself. Booleans are booleans; int64 values are numbers, or BigInts beyond 2^53.
 *
 * Out: see encode.ts.
 */
import type { DataFrame, ModelInput } from '../../schema/model-io.js';
import type { NDArray } from '../../schema/ndarray.js';
import { setOwn } from '../../util/dict.js';

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
    for (let c = 0; c < keys.length; c++) setOwn(row, keys[c], cells[c](r));
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
      for (const [k, v] of Object.entries(input.value)) setOwn(out, k, ndarrayToPlain(v));
      return out;
    }
    case 'dataframe':
      return frameToRecords(input.value);
    case 'json':
      return input.value;
  }
}

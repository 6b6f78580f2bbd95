/**
 * A request's decoded input and the model's output as one entry per input row, so a logged
 * prediction can later be joined with its label. Rows are plain JSON values: a table row is an
 * object, a tensor row its slice (a number for a 1-D tensor, an array otherwise). The log takes
 * them as JSON text written straight from the tensors ({@link inputTexts}); drift takes values.
 */
import { type ModelInput, type ModelOutput, decodedOutput } from '../../schema/model-io.js';
import type { NDArray } from '../../schema/ndarray.js';

export type Row = unknown;

const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/**
 * A float32 as the decimal it most likely was sent as: 5.1, not 5.099999904632568. Seven
 * significant digits give back the float32 for any value sent with up to seven (trailing zeros
 * drop out in Number()); the rest need nine.
 */
function float32(v: number): number {
  // By arithmetic where the scaled value is an exact integer in a double (toPrecision was most
  // of a logged row's cost): seven digits, then nine (a computed output rarely has seven).
  const a = Math.abs(v);
  if (a >= 1e-6 && a < 1e9) {
    const e = Math.floor(Math.log10(a));
    const s7 = POW10[6 - e + 15];
    const s9 = POW10[8 - e + 15];
    if (s7 !== undefined && s9 !== undefined) {
      // On |v|, as toPrecision rounds: a tie goes away from zero.
      const sign = v < 0 ? -1 : 1;
      const short = (sign * Math.round(a * s7)) / s7;
      if (Math.fround(short) === v) return short;
      const long = (sign * Math.round(a * s9)) / s9;
      if (Math.fround(long) === v) return long;
    }
  }
  const short = Number(v.toPrecision(7));
  return Math.fround(short) === v ? short : Number(v.toPrecision(9));
}

/** 10^-15 … 10^15, by exponent + 15. */
const POW10 = Array.from({ length: 31 }, (_, i) => 10 ** (i - 15));

/** How one element of a tensor's data is read: float32 as its short decimal, bigint as a number. */
const reader = (t: NDArray): ((v: unknown) => unknown) => (t.data instanceof Float32Array ? (v) => float32(v as number) : plain);

function tensorRows(t: NDArray): Row[] {
  const data = t.data as ArrayLike<unknown>;
  const value = reader(t);
  const n = t.shape.length === 0 ? 1 : (t.shape[0] ?? 1);
  const out: Row[] = new Array<Row>(n);
  if (t.shape.length <= 1) {
    for (let i = 0; i < n; i++) out[i] = value(data[i]);
    return out;
  }
  let width = 1;
  for (let d = 1; d < t.shape.length; d++) width *= t.shape[d];
  // Rows as plain arrays, read in place (no slice copied per row).
  for (let i = 0, at = 0; i < n; i++) {
    const row = new Array<unknown>(width);
    for (let j = 0; j < width; j++, at++) row[j] = value(data[at]);
    out[i] = row;
  }
  return out;
}

function recordRows(named: Readonly<Record<string, NDArray>>, drop: ReadonlySet<string>): Row[] {
  const keys = Object.keys(named).filter((k) => !drop.has(k));
  const columns = keys.map((k) => tensorRows(named[k]));
  const n = Math.max(0, ...columns.map((c) => c.length));
  const out: Row[] = [];
  for (let i = 0; i < n; i++) {
    const row: Record<string, unknown> = {};
    keys.forEach((k, j) => (row[k] = columns[j][i]));
    out.push(row);
  }
  return out;
}

function dropKeys(value: unknown, drop: ReadonlySet<string>): unknown {
  if (drop.size === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !drop.has(k)));
}

/** How an input splits into rows: one tensor's rows as they are, or named columns into records. */
function columnsOf(
  input: ModelInput,
  drop: ReadonlySet<string>,
): { tensor: NDArray } | { named: Readonly<Record<string, NDArray>> } | undefined {
  switch (input.kind) {
    case 'tensor':
      return { tensor: input.value };
    case 'tensors': {
      // One input tensor (`{"inputs": [[…]]}` for a model with one named input): its rows as they are.
      const names = Object.keys(input.value);
      return names.length === 1 && !drop.has(names[0]) ? { tensor: input.value[names[0]] } : { named: input.value };
    }
    case 'dataframe': {
      const df = input.value;
      const named: Record<string, NDArray> = {};
      df.columns.forEach((c, j) => (named[String(c)] = df.values[j]));
      return { named };
    }
    default:
      return undefined;
  }
}

/** The input, one entry per row, without the fields named in `drop`. */
export function inputRows(input: ModelInput, drop: ReadonlySet<string> = new Set()): Row[] {
  const c = columnsOf(input, drop);
  if (c === undefined) return [dropKeys(input.value, drop)];
  return 'tensor' in c ? tensorRows(c.tensor) : recordRows(c.named, drop);
}

/** The output, one entry per input row when it has as many; else the whole output as one entry. */
export function outputRows(output: ModelOutput, rows: number, drop: ReadonlySet<string> = new Set()): Row[] {
  const value = decodedOutput(output);
  if (value.kind !== 'json') return inputRows(value, drop);
  const v = value.value;
  if (Array.isArray(v) && v.length === rows) return v.map((x) => dropKeys(x, drop));
  const predictions = (v as { predictions?: unknown } | null)?.predictions;
  if (Array.isArray(predictions) && predictions.length === rows) return predictions.map((x) => dropKeys(x, drop));
  return [dropKeys(v, drop)];
}

/** A value as JSON text, as JSON.stringify writes it in an array. */
function jsonText(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  return JSON.stringify(v) ?? 'null';
}

/** Each row of a tensor as JSON text, written from its data with no row values in between. */
function tensorTexts(t: NDArray): string[] {
  const data = t.data as ArrayLike<unknown>;
  const value = reader(t);
  const n = t.shape.length === 0 ? 1 : (t.shape[0] ?? 1);
  const out = new Array<string>(n);
  if (t.shape.length <= 1) {
    for (let i = 0; i < n; i++) out[i] = jsonText(value(data[i]));
    return out;
  }
  let width = 1;
  for (let d = 1; d < t.shape.length; d++) width *= t.shape[d];
  if (t.shape.length > 2) {
    // Deeper rows nest: rare enough to take the general path.
    return tensorRows(t).map(jsonText);
  }
  for (let i = 0, at = 0; i < n; i++) {
    let text = '[';
    for (let j = 0; j < width; j++, at++) text += (j === 0 ? '' : ',') + jsonText(value(data[at]));
    out[i] = text + ']';
  }
  return out;
}

function recordTexts(named: Readonly<Record<string, NDArray>>, drop: ReadonlySet<string>): string[] {
  const names: string[] = [];
  const columns: string[][] = [];
  let n = 0;
  for (const k of Object.keys(named)) {
    if (drop.has(k)) continue;
    const column = tensorTexts(named[k]);
    names.push(`${JSON.stringify(k)}:`);
    columns.push(column);
    if (column.length > n) n = column.length;
  }
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    let text = '';
    for (let j = 0; j < columns.length; j++) {
      const v = columns[j][i];
      // A shorter column has no value here: its key is left out, as JSON.stringify would.
      if (v !== undefined) text += (text === '' ? '{' : ',') + names[j] + v;
    }
    out[i] = text === '' ? '{}' : text + '}';
  }
  return out;
}

/** {@link inputRows} as JSON text, one string per row: what the log writes. */
export function inputTexts(input: ModelInput, drop: ReadonlySet<string> = new Set()): string[] {
  const c = columnsOf(input, drop);
  if (c === undefined) return inputRows(input, drop).map(jsonText);
  return 'tensor' in c ? tensorTexts(c.tensor) : recordTexts(c.named, drop);
}

/** {@link outputRows} as JSON text. */
export function outputTexts(output: ModelOutput, rows: number, drop: ReadonlySet<string> = new Set()): string[] {
  const value = decodedOutput(output);
  return value.kind === 'json' ? outputRows(value, rows, drop).map(jsonText) : inputTexts(value, drop);
}

/**
 * The input as it was decoded, kept for the monitor: the model may take its buffers (a session
 * thread is handed them, not a copy), so tensors are copied; a copy costs less than rows would.
 */
export function capture(input: ModelInput): ModelInput {
  const copy = (t: NDArray): NDArray => ({ dtype: t.dtype, shape: t.shape, data: t.data.slice() as NDArray['data'] });
  switch (input.kind) {
    case 'tensor':
      return { kind: 'tensor', value: copy(input.value) };
    case 'tensors': {
      const value: Record<string, NDArray> = {};
      for (const k of Object.keys(input.value)) value[k] = copy(input.value[k]);
      return { kind: 'tensors', value };
    }
    case 'dataframe': {
      const df = input.value;
      return { kind: 'dataframe', value: { columns: df.columns, rows: df.rows, values: df.values.map(copy) } };
    }
    default:
      return input;
  }
}

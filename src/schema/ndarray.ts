/**
 * A minimal n-dimensional array: a dtype, a shape and flat row-major data. Numeric data lives in
 * typed arrays so it can go to a runtime (onnxruntime, TF.js) without another copy.
 */
import { InvalidInputError, quoteValue } from '../errors.js';

/** numpy dtype names, as MLflow writes them in `tensor-spec.dtype`. */
export type DType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'str'
  | 'bytes'
  | 'object';

export type NumericData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
export type BigData = BigInt64Array | BigUint64Array;
export type TensorData = NumericData | BigData | string[] | unknown[];

export interface NDArray {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

interface DTypeInfo {
  kind: 'float' | 'int' | 'uint' | 'bool' | 'str' | 'bytes' | 'object';
  /** Size in bytes (0 for variable-size kinds). */
  size: number;
  alloc: (n: number) => TensorData;
  min?: number;
  max?: number;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  bool: { kind: 'bool', size: 1, alloc: (n) => new Uint8Array(n) },
  int8: { kind: 'int', size: 1, alloc: (n) => new Int8Array(n), min: -128, max: 127 },
  int16: { kind: 'int', size: 2, alloc: (n) => new Int16Array(n), min: -32768, max: 32767 },
  int32: { kind: 'int', size: 4, alloc: (n) => new Int32Array(n), min: -2147483648, max: 2147483647 },
  int64: { kind: 'int', size: 8, alloc: (n) => new BigInt64Array(n) },
  uint8: { kind: 'uint', size: 1, alloc: (n) => new Uint8Array(n), min: 0, max: 255 },
  uint16: { kind: 'uint', size: 2, alloc: (n) => new Uint16Array(n), min: 0, max: 65535 },
  uint32: { kind: 'uint', size: 4, alloc: (n) => new Uint32Array(n), min: 0, max: 4294967295 },
  uint64: { kind: 'uint', size: 8, alloc: (n) => new BigUint64Array(n) },
  // Stored widened to float32; a runtime that needs real halves converts at its boundary.
  float16: { kind: 'float', size: 2, alloc: (n) => new Float32Array(n) },
  float32: { kind: 'float', size: 4, alloc: (n) => new Float32Array(n) },
  float64: { kind: 'float', size: 8, alloc: (n) => new Float64Array(n) },
  str: { kind: 'str', size: 0, alloc: (n) => new Array<string>(n) },
  bytes: { kind: 'bytes', size: 0, alloc: (n) => new Array<unknown>(n) },
  object: { kind: 'object', size: 0, alloc: (n) => new Array<unknown>(n) },
};

const DTYPE_ALIASES: Readonly<Record<string, DType>> = {
  float: 'float64',
  double: 'float64',
  int: 'int64',
  long: 'int64',
  string: 'str',
  str_: 'str',
  unicode: 'str',
  object_: 'object',
  bool_: 'bool',
  half: 'float16',
};

export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPES, name);
}

/** Parses a numpy dtype name ("float32", "<f4" is not accepted: MLflow strips sizes to names). */
export function parseDType(name: string): DType | undefined {
  if (isDType(name)) return name;
  return DTYPE_ALIASES[name];
}

export function isNumericDType(d: DType): boolean {
  const k = DTYPES[d].kind;
  return k === 'float' || k === 'int' || k === 'uint' || k === 'bool';
}

export function isBigDType(d: DType): boolean {
  return d === 'int64' || d === 'uint64';
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Python's tuple repr, which MLflow's messages use: `(1, 3)`, `(-1,)`, `()`. */
export function pyShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** A JSON value's shape, following the first element at each level (numpy's view of a regular list). */
function guessShape(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

// Python's float() accepts these spellings; numpy follows it for string → float.
const PY_FLOAT_RE = /^\s*[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.)\s*$/;
const PY_SPECIAL_FLOAT_RE = /^\s*([+-]?)(nan|inf|infinity)\s*$/i;

const RADIX_PREFIX_RE = /[xXbBoO]/;

export function parsePyFloat(s: string): number | undefined {
  // Fast path for plain decimals ("5.1", "-0.25", "1e-3"): JavaScript's Number() agrees with
  // Python's float() on them. Number() also takes "0x1f", "0b1", "", " " and "Infinity", which
  // Python refuses or spells differently, so those (and zero) go the careful way below.
  const n = Number(s);
  if (n === n && n !== 0 && n !== Number.POSITIVE_INFINITY && n !== Number.NEGATIVE_INFINITY && !RADIX_PREFIX_RE.test(s)) return n;
  if (PY_FLOAT_RE.test(s)) return Number(s.replaceAll('_', '').trim());
  const m = PY_SPECIAL_FLOAT_RE.exec(s);
  if (m === null) return undefined;
  if (m[2].toLowerCase() === 'nan') return Number.NaN;
  return m[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

const pyRepr = quoteValue;

function typeName(v: unknown): string {
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'dict';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return Number.isInteger(v) ? 'int' : 'float';
}

const INT64_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const UINT64_RANGE = [0n, 2n ** 64n - 1n] as const;

/**
 * Converts one JSON scalar to the dtype's element, as `np.array([v], dtype)` would, except that a
 * number that is not whole is refused for an integer dtype instead of being truncated (numpy
 * silently turns 1.9 into 1; a gateway should not change a caller's data).
 */
export function castScalar(v: unknown, dtype: DType): number | bigint | string | boolean | unknown {
  const info = DTYPES[dtype];
  switch (info.kind) {
    case 'float': {
      if (typeof v === 'number') return v;
      if (typeof v === 'bigint') return Number(v);
      if (v === null) return Number.NaN;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        const f = parsePyFloat(v);
        if (f === undefined) throw new InvalidInputError(`could not convert string to float: ${pyRepr(v)}`);
        return f;
      }
      throw new InvalidInputError(`float() argument must be a string or a real number, not '${typeName(v)}'`);
    }
    case 'int':
    case 'uint': {
      let n: number | bigint;
      if (typeof v === 'bigint') {
        n = v;
      } else if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw new InvalidInputError(`cannot convert float ${v} to integer`);
        if (!Number.isInteger(v)) throw new InvalidInputError(`Can not safely convert float ${v} to ${dtype}`);
        n = v;
      } else if (typeof v === 'boolean') {
        n = v ? 1 : 0;
      } else if (typeof v === 'string' && /^\s*[+-]?\d(?:_?\d)*\s*$/.test(v)) {
        const t = v.replaceAll('_', '').trim();
        n = info.size === 8 ? BigInt(t) : Number(t);
      } else if (typeof v === 'string') {
        throw new InvalidInputError(`invalid literal for int() with base 10: ${pyRepr(v)}`);
      } else {
        throw new InvalidInputError(`int() argument must be a string, a bytes-like object or a real number, not '${typeName(v)}'`);
      }
      if (info.size === 8) {
        const b = typeof n === 'bigint' ? n : BigInt(n);
        const [lo, hi] = dtype === 'uint64' ? UINT64_RANGE : INT64_RANGE;
        if (b < lo || b > hi) throw new InvalidInputError(`Python integer ${b} out of bounds for ${dtype}`);
        return b;
      }
      const num = Number(n);
      if (num < (info.min as number) || num > (info.max as number)) {
        throw new InvalidInputError(`Python integer ${num} out of bounds for ${dtype}`);
      }
      return num;
    }
    case 'bool': {
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number') return v !== 0;
      if (typeof v === 'bigint') return v !== 0n;
      if (typeof v === 'string') {
        const s = v.trim().toLowerCase();
        if (s === 'true') return true;
        if (s === 'false') return false;
      }
      throw new InvalidInputError(`could not convert ${pyRepr(v)} to bool`);
    }
    case 'str':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'bigint') return String(v);
      if (typeof v === 'boolean') return v ? 'True' : 'False';
      if (v === null) return 'None';
      throw new InvalidInputError(`could not convert ${typeName(v)} to str`);
    case 'bytes':
    case 'object':
      return v;
  }
}

function inhomogeneous(depth: number, shape: readonly number[]): InvalidInputError {
  return new InvalidInputError(
    `setting an array element with a sequence. The requested array has an inhomogeneous shape after ${depth} dimensions. ` +
      `The detected shape was ${pyShape(shape.slice(0, depth))} + inhomogeneous part.`,
  );
}

/**
 * `np.array(value, dtype)`: a nested JSON list (or a scalar) to an NDArray. Ragged lists are
 * refused; numeric dtypes fill a typed array in one pass over the leaves.
 */
export function fromNested(value: unknown, dtype: DType): NDArray {
  const shape = guessShape(value);
  const size = shapeSize(shape);
  const data = DTYPES[dtype].alloc(size);
  const kind = DTYPES[dtype].kind;
  let k = 0;
  const rank = shape.length;

  // Fast path for the common case: rank-2 float input of plain numbers.
  if (kind === 'float' && rank === 2) {
    const rows = value as unknown[];
    const cols = shape[1];
    const out = data as Float32Array | Float64Array;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!Array.isArray(row) || row.length !== cols) throw inhomogeneous(1, shape);
      for (let j = 0; j < cols; j++) {
        const x = row[j];
        if (typeof x === 'number') out[k++] = x;
        else if (Array.isArray(x)) throw inhomogeneous(2, shape);
        else out[k++] = castScalar(x, dtype) as number;
      }
    }
    return { dtype, shape, data };
  }

  const put =
    kind === 'bool'
      ? (x: unknown) => {
          (data as Uint8Array)[k++] = castScalar(x, dtype) ? 1 : 0;
        }
      : (x: unknown) => {
          (data as unknown[])[k++] = castScalar(x, dtype);
        };
  const walk = (v: unknown, depth: number): void => {
    if (depth === rank) {
      if (Array.isArray(v) && dtype !== 'object') throw inhomogeneous(depth, shape);
      put(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw inhomogeneous(depth, shape);
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1);
  };
  walk(value, 0);
  return { dtype, shape, data };
}

/** The dtype numpy would infer for a JSON value with no schema. */
export function inferDType(value: unknown): DType {
  let sawFloat = false;
  let sawInt = false;
  let sawBool = false;
  let sawStr = false;
  let sawOther = false;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
    } else if (typeof v === 'number') {
      if (Number.isInteger(v)) sawInt = true;
      else sawFloat = true;
    } else if (typeof v === 'bigint') {
      sawInt = true;
    } else if (typeof v === 'boolean') sawBool = true;
    else if (typeof v === 'string') sawStr = true;
    else sawOther = true;
  };
  visit(value);
  if (sawOther || (sawStr && (sawFloat || sawInt || sawBool))) return 'object';
  if (sawStr) return 'str';
  if (sawFloat) return 'float64';
  if (sawInt) return 'int64';
  if (sawBool) return 'bool';
  return 'float64';
}

/** A new array of `dtype` with the same shape; numeric casts only (callers check the kinds). */
export function castArray(a: NDArray, dtype: DType): NDArray {
  if (a.dtype === dtype) return a;
  const n = a.data.length;
  const out = DTYPES[dtype].alloc(n);
  const src = a.data as ArrayLike<number | bigint>;
  const toBig = isBigDType(dtype);
  const fromBig = isBigDType(a.dtype);
  if (toBig) {
    const o = out as BigInt64Array;
    for (let i = 0; i < n; i++) o[i] = fromBig ? (src[i] as bigint) : BigInt(Math.trunc(src[i] as number));
  } else if (fromBig) {
    const o = out as Float64Array;
    for (let i = 0; i < n; i++) o[i] = Number(src[i]);
  } else if (ArrayBuffer.isView(out) && ArrayBuffer.isView(a.data)) {
    (out as Float64Array).set(a.data as Float64Array);
  } else {
    for (let i = 0; i < n; i++) (out as unknown[])[i] = src[i];
  }
  return { dtype, shape: a.shape, data: out };
}

export function reshape(a: NDArray, shape: readonly number[]): NDArray {
  return { dtype: a.dtype, shape, data: a.data };
}

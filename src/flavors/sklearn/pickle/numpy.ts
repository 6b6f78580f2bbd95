/**
 * numpy's pickled forms, decoded without numpy: `dtype(spec, align, copy)` + its BUILD state
 * `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`;
 * `_reconstruct(ndarray, (0,), b'b')` + BUILD `(version, shape, dtype, is_fortran, data)`;
 * protocol 5's `_frombuffer(buffer, dtype, shape, order)`; and `scalar(dtype, bytes)`.
 */
import { NdArray, type NpData, NpDType, type NpField, type NpKind, NpScalar, PyDict, PyTuple, type PyValue } from './values.js';
import { UnpicklingError } from './errors.js';

/** Largest element count of one array (2^31 - 1: typed arrays index with int32 safely). */
export const MAX_ARRAY_ELEMENTS = 0x7fff_ffff;

const KINDS = new Set<NpKind>(['f', 'i', 'u', 'b', 'O', 'U', 'S', 'V', 'c', 'M', 'm']);
const DEFAULT_SIZE: Partial<Record<NpKind, number>> = { b: 1, O: 8, f: 8, i: 8, u: 8 };

/** `numpy.dtype('f8', False, True)`: the spec names the kind and size; BUILD refines it. */
export function makeDType(args: readonly PyValue[]): NpDType {
  const spec = args[0];
  if (typeof spec !== 'string') throw new UnpicklingError('numpy.dtype() needs a type string');
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(spec);
  const kind = m?.[2] as NpKind | undefined;
  if (m === null || kind === undefined || !KINDS.has(kind)) throw new UnpicklingError(`unsupported numpy dtype '${spec}'`);
  const size = m[3] === '' ? (DEFAULT_SIZE[kind] ?? 0) : Number(m[3]);
  const dt = new NpDType(kind, kind === 'U' ? size * 4 : size, spec);
  if (m[1] !== '') dt.byteorder = m[1] as NpDType['byteorder'];
  return dt;
}

function int(v: PyValue, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new UnpicklingError(`${what} must be an integer`);
  return v;
}

/** The dtype's BUILD state. */
export function setDTypeState(dt: NpDType, state: PyValue): void {
  if (!(state instanceof PyTuple) || state.items.length < 8) throw new UnpicklingError('unsupported numpy dtype state');
  const [, order, subarray, names, fields, elsize] = state.items;
  if (order !== '<' && order !== '>' && order !== '|' && order !== '=') throw new UnpicklingError('bad dtype byte order');
  dt.byteorder = order;
  if (subarray !== null) throw new UnpicklingError('numpy sub-array dtypes are not supported');
  const size = int(elsize, 'dtype itemsize');
  if (size > 0) dt.itemsize = size;
  if (names === null) return;
  if (!(names instanceof PyTuple) || !(fields instanceof PyDict)) throw new UnpicklingError('bad structured dtype state');
  const out: NpField[] = [];
  for (const name of names.items) {
    const f = typeof name === 'string' ? fields.get(name) : undefined;
    if (typeof name !== 'string' || !(f instanceof PyTuple) || !(f.items[0] instanceof NpDType)) {
      throw new UnpicklingError('bad structured dtype field');
    }
    const offset = int(f.items[1], 'field offset');
    const sub = f.items[0];
    if (sub.fields !== undefined || offset < 0 || offset + sub.itemsize > dt.itemsize)
      throw new UnpicklingError(`bad layout of field '${name}'`);
    out.push({ name, dtype: sub, offset });
  }
  dt.fields = out;
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new UnpicklingError('bad array shape');
    n *= d;
    if (n > MAX_ARRAY_ELEMENTS) throw new UnpicklingError(`array of ${shape.join('x')} elements is too large`);
  }
  return n;
}

function half(bits: number): number {
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  const s = bits & 0x8000 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Reads `n` scalars of a plain dtype at byte `offset` with `stride` between them. */
function readColumn(bytes: Uint8Array, dt: NpDType, n: number, offset: number, stride: number): NpData {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = dt.littleEndian;
  const size = dt.itemsize;
  const at = (k: number) => offset + k * stride;
  const fill = <T extends { [k: number]: number | bigint }>(out: T, get: (p: number) => number | bigint): T => {
    for (let k = 0; k < n; k++) out[k] = get(at(k));
    return out;
  };
  switch (`${dt.kind}${size}`) {
    case 'f8':
      return fill(new Float64Array(n), (p) => dv.getFloat64(p, le));
    case 'f4':
      return fill(new Float32Array(n), (p) => dv.getFloat32(p, le));
    case 'f2':
      return fill(new Float32Array(n), (p) => half(dv.getUint16(p, le)));
    case 'i8':
      return fill(new BigInt64Array(n), (p) => dv.getBigInt64(p, le));
    case 'i4':
      return fill(new Int32Array(n), (p) => dv.getInt32(p, le));
    case 'i2':
      return fill(new Int16Array(n), (p) => dv.getInt16(p, le));
    case 'i1':
      return fill(new Int8Array(n), (p) => dv.getInt8(p));
    case 'u8':
      return fill(new BigUint64Array(n), (p) => dv.getBigUint64(p, le));
    case 'u4':
      return fill(new Uint32Array(n), (p) => dv.getUint32(p, le));
    case 'u2':
      return fill(new Uint16Array(n), (p) => dv.getUint16(p, le));
    case 'u1':
    case 'b1':
      return fill(new Uint8Array(n), (p) => dv.getUint8(p));
  }
  if (dt.kind === 'U' || dt.kind === 'S') return readStrings(dv, dt, n, at);
  throw new UnpicklingError(`numpy dtype '${dt.str}' is not supported`);
}

function readStrings(dv: DataView, dt: NpDType, n: number, at: (k: number) => number): string[] {
  const out = new Array<string>(n);
  const unit = dt.kind === 'U' ? 4 : 1;
  for (let k = 0; k < n; k++) {
    let s = '';
    for (let c = 0; c < dt.itemsize / unit; c++) {
      const p = at(k) + c * unit;
      const code = unit === 4 ? dv.getUint32(p, dt.littleEndian) : dv.getUint8(p);
      if (code === 0) break;
      if (code > 0x10ffff) throw new UnpicklingError('bad code point in a numpy string');
      s += String.fromCodePoint(code);
    }
    out[k] = s;
  }
  return out;
}

/** Row-major data of a Fortran-ordered array (only the element order changes). */
function fortranToC<T extends NpData>(data: T, shape: readonly number[]): T {
  if (shape.length < 2) return data;
  const out = (Array.isArray(data) ? new Array(data.length) : new (data.constructor as new (n: number) => T)(data.length)) as T;
  const n = shape.length;
  const idx = new Array<number>(n).fill(0);
  for (let c = 0; c < data.length; c++) {
    // c walks the C order; f is the same element's position in Fortran order.
    let f = 0;
    for (let d = n - 1; d >= 0; d--) f = f * shape[d] + idx[d];
    (out as unknown as unknown[])[c] = (data as unknown as unknown[])[f];
    for (let d = n - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return out;
}

/** Fills an array from raw bytes (or a list of objects for object dtypes). */
export function fillArray(arr: NdArray, dt: NpDType, shape: number[], fortran: boolean, raw: PyValue): void {
  const n = elementCount(shape);
  arr.dtype = dt;
  arr.shape = shape;
  if (dt.kind === 'O') {
    if (!Array.isArray(raw) || raw.length !== n) throw new UnpicklingError('object array data does not match its shape');
    arr.data = fortran ? fortranToC(raw, shape) : raw;
    return;
  }
  if (!(raw instanceof Uint8Array)) throw new UnpicklingError('array data must be bytes');
  if (dt.itemsize <= 0 || raw.length !== n * dt.itemsize) {
    throw new UnpicklingError(`array data has ${raw.length} bytes, its shape and dtype need ${n * dt.itemsize}`);
  }
  if (dt.fields === undefined) {
    arr.data = fortran ? fortranToC(readColumn(raw, dt, n, 0, dt.itemsize), shape) : readColumn(raw, dt, n, 0, dt.itemsize);
    return;
  }
  if (fortran && shape.length > 1) throw new UnpicklingError('Fortran-ordered structured arrays are not supported');
  const cols: Record<string, NpData> = {};
  for (const f of dt.fields) cols[f.name] = readColumn(raw, f.dtype, n, f.offset, dt.itemsize);
  arr.fields = cols;
}

function shapeOf(v: PyValue): number[] {
  if (!(v instanceof PyTuple)) throw new UnpicklingError('array shape must be a tuple');
  return v.items.map((d) => int(d, 'array dimension'));
}

/** `ndarray.__setstate__`. */
export function setArrayState(arr: NdArray, state: PyValue): void {
  if (!(state instanceof PyTuple) || (state.items.length !== 5 && state.items.length !== 4)) {
    throw new UnpicklingError('unsupported ndarray state');
  }
  const items = state.items.length === 5 ? state.items.slice(1) : state.items;
  const [shape, dt, fortran, raw] = items;
  if (!(dt instanceof NpDType)) throw new UnpicklingError('ndarray state lacks a dtype');
  fillArray(arr, dt, shapeOf(shape), fortran === true, raw);
}

/** `numpy.core.numeric._frombuffer(buffer, dtype, shape, order)` (protocol 5 in-band buffers). */
export function fromBuffer(args: readonly PyValue[]): NdArray {
  const [raw, dt, shape, order] = args;
  if (!(dt instanceof NpDType)) throw new UnpicklingError('_frombuffer needs a dtype');
  const arr = new NdArray();
  fillArray(arr, dt, shapeOf(shape), order === 'F', raw);
  return arr;
}

/** `numpy.core.multiarray.scalar(dtype, bytes)`. */
export function makeScalar(args: readonly PyValue[]): NpScalar {
  const [dt, raw] = args;
  if (!(dt instanceof NpDType)) throw new UnpicklingError('numpy scalar needs a dtype');
  if (dt.kind === 'O') throw new UnpicklingError('numpy object scalars are not supported');
  const arr = new NdArray();
  fillArray(arr, dt, [], false, raw);
  const v = arr.data[0] as number | bigint | string;
  return new NpScalar(dt, dt.kind === 'b' ? v !== 0 : v);
}

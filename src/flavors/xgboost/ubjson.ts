/**
 * A bounded reader for Universal Binary JSON (Draft 12, the subset XGBoost writes): big-endian
 * scalars, `S`/`C` strings, `[`/`{` containers with the optimised `$type` / `#count` headers.
 * Optimised numeric arrays decode straight to typed arrays, since a model's trees are mostly
 * those. Every declared length is checked against the bytes left, and nesting is capped, so a
 * hostile file can neither allocate more than it holds nor recurse deeply.
 */
import { GatewayError } from '../../errors.js';

export type UbjValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | UbjValue[]
  | { readonly [key: string]: UbjValue };

export class UbjsonError extends GatewayError {
  constructor(message: string, offset: number) {
    super('INVALID_PARAMETER_VALUE', `Cannot read the UBJSON model: ${message} (at byte ${offset})`);
  }
}

/** Containers nested deeper than this are refused (an XGBoost model nests about 8 deep). */
export const MAX_UBJ_DEPTH = 64;

/** Bytes per element of each fixed-size type marker. */
const SIZES: Readonly<Record<string, number>> = { i: 1, U: 1, I: 2, l: 4, L: 8, d: 4, D: 8, C: 1 };

class Reader {
  private readonly dv: DataView;
  pos = 0;
  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(message: string): never {
    throw new UbjsonError(message, this.pos);
  }

  need(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.buf.length) this.fail(`truncated (${n} bytes wanted)`);
  }

  marker(): string {
    this.need(1);
    return String.fromCharCode(this.buf[this.pos++]);
  }

  peek(): string {
    this.need(1);
    return String.fromCharCode(this.buf[this.pos]);
  }

  scalar(type: string): number | bigint {
    const n = SIZES[type];
    if (n === undefined) this.fail(`'${type}' is not a numeric type`);
    this.need(n);
    const p = this.pos;
    this.pos += n;
    switch (type) {
      case 'i':
        return this.dv.getInt8(p);
      case 'U':
      case 'C':
        return this.dv.getUint8(p);
      case 'I':
        return this.dv.getInt16(p);
      case 'l':
        return this.dv.getInt32(p);
      case 'd':
        return this.dv.getFloat32(p);
      case 'D':
        return this.dv.getFloat64(p);
      default: {
        const v = this.dv.getBigInt64(p);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
    }
  }

  /** A length or count: an integer-typed value that fits the bytes left. */
  length(): number {
    const v = this.scalar(this.marker());
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail('bad length');
    if (v > this.buf.length - this.pos) this.fail(`declared length ${v} exceeds the ${this.buf.length - this.pos} bytes left`);
    return v;
  }

  string(): string {
    const n = this.length();
    this.need(n);
    const s = new TextDecoder('utf-8', { fatal: false }).decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  typedArray(type: string, count: number): UbjValue {
    const size = SIZES[type];
    if (size === undefined || type === 'C') return this.fail(`optimised array of '${type}' is not supported`);
    this.need(count * size);
    const out = makeArray(type, count);
    if (out instanceof BigInt64Array) {
      for (let k = 0; k < count; k++) out[k] = this.dv.getBigInt64(this.pos + 8 * k);
      this.pos += 8 * count;
      return out;
    }
    for (let k = 0; k < count; k++) out[k] = this.scalar(type) as number;
    return out;
  }
}

function makeArray(
  type: string,
  n: number,
): Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array {
  switch (type) {
    case 'd':
      return new Float32Array(n);
    case 'D':
      return new Float64Array(n);
    case 'i':
      return new Int8Array(n);
    case 'U':
      return new Uint8Array(n);
    case 'I':
      return new Int16Array(n);
    case 'l':
      return new Int32Array(n);
    default:
      return new BigInt64Array(n);
  }
}

/** The optional `$type` and `#count` header of a container. */
function header(r: Reader): { type?: string; count?: number } {
  let type: string | undefined;
  if (r.peek() === '$') {
    r.pos++;
    type = r.marker();
    if (r.peek() !== '#') r.fail('a typed container needs a count');
  }
  if (r.peek() !== '#') return { type };
  r.pos++;
  return { type, count: r.length() };
}

function readArray(r: Reader, depth: number): UbjValue {
  const { type, count } = header(r);
  // Long runs of small numbers (trees) are typed arrays; JSON-like arrays of mixed values stay lists.
  if (type !== undefined && count !== undefined && SIZES[type] !== undefined && type !== 'C') {
    if (type === 'L') {
      const a = r.typedArray(type, count) as BigInt64Array;
      return Int32Array.from(a, (v) => (v >= -0x8000_0000n && v <= 0x7fff_ffffn ? Number(v) : r.fail('64-bit value in an index array')));
    }
    return r.typedArray(type, count);
  }
  const out: UbjValue[] = [];
  if (count !== undefined) {
    for (let k = 0; k < count; k++) out.push(value(r, depth + 1, type));
    return out;
  }
  while (r.peek() !== ']') {
    if (r.peek() === 'N') {
      r.pos++;
      continue;
    }
    out.push(value(r, depth + 1));
  }
  r.pos++;
  return out;
}

function readObject(r: Reader, depth: number): UbjValue {
  const { type, count } = header(r);
  const out: Record<string, UbjValue> = Object.create(null) as Record<string, UbjValue>;
  const entry = () => {
    const key = r.string();
    out[key] = value(r, depth + 1, type);
  };
  if (count !== undefined) {
    for (let k = 0; k < count; k++) entry();
    return out;
  }
  while (r.peek() !== '}') {
    if (r.peek() === 'N') {
      r.pos++;
      continue;
    }
    entry();
  }
  r.pos++;
  return out;
}

function value(r: Reader, depth: number, typed?: string): UbjValue {
  if (depth > MAX_UBJ_DEPTH) r.fail(`nested more than ${MAX_UBJ_DEPTH} deep`);
  const m = typed ?? r.marker();
  switch (m) {
    case 'Z':
      return null;
    case 'T':
      return true;
    case 'F':
      return false;
    case 'S':
    case 'H':
      return r.string();
    case 'C':
      return String.fromCharCode(r.scalar('C') as number);
    case '[':
      return readArray(r, depth);
    case '{':
      return readObject(r, depth);
    default:
      if (SIZES[m] !== undefined) return r.scalar(m);
      return r.fail(`unknown type marker 0x${m.charCodeAt(0).toString(16)}`);
  }
}

/** Decodes one UBJSON value that must span all of `bytes`. */
export function parseUbjson(bytes: Uint8Array): UbjValue {
  const r = new Reader(bytes);
  const v = value(r, 0);
  if (r.pos !== bytes.length) r.fail('trailing bytes after the value');
  return v;
}

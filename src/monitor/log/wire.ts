/**
 * Log entries on their way to the log's thread, packed for a cheap structured clone: every
 * number (the facts, shapes, and a small tensor's elements) in one growing Float64Array that is
 * transferred, not copied, and the strings and other values in one array beside it. Entries as
 * objects cost the event loop several times more: every key written out again, every float a
 * heap number of its own, every typed array a buffer of its own. Packing is the only work the
 * log leaves on the event loop, so it is written for that.
 */
import type { DataFrame, ModelInput, ModelOutput } from '../../schema/model-io.js';
import type { DType, NDArray, TensorData } from '../../schema/ndarray.js';
import type { LogEntry } from './record.js';

/** A batch of packed entries: `numbers` holds `count` float64s (int64 elements by their bits). */
export interface Packed {
  readonly numbers: ArrayBuffer;
  readonly count: number;
  readonly values: readonly unknown[];
}

const NONE = 0;
const TENSOR = 1;
const TENSORS = 2;
const DATAFRAME = 3;
const JSON_VALUE = 4;
const ENCODED = 5;

/** A tensor's data: cloned as it is (strings, objects, a large typed array)… */
const DATA_CLONED = -1;
/** …or, small and numeric, its elements inline after the index of its kind here. */
const ARRAYS = [
  Float32Array,
  Float64Array,
  BigInt64Array,
  Int32Array,
  Uint8Array,
  Int8Array,
  Int16Array,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
] as const;
const BIGINT64 = ARRAYS.indexOf(BigInt64Array);
const BIGUINT64 = ARRAYS.indexOf(BigUint64Array);

const DTYPE_CODES = {
  float32: 0,
  float64: 1,
  int64: 2,
  int32: 3,
  bool: 4,
  str: 5,
  object: 6,
  int8: 7,
  int16: 8,
  uint8: 9,
  uint16: 10,
  uint32: 11,
  uint64: 12,
  float16: 13,
  bytes: 14,
} as const satisfies Record<DType, number>;
const DTYPES = Object.keys(DTYPE_CODES) as DType[];

/** Flags of an entry's first number: its model, version and route follow (else the last entry's); an error follows. */
const SERVED = 1;
const ERROR = 2;

/** Elements up to which a tensor goes inline: past that, a typed array's clone costs less. */
const INLINE = 64;

export class Packer {
  private f = new Float64Array(1024);
  private i32 = new Int32Array(this.f.buffer);
  private count = 0;
  private values: unknown[] = [];
  private model: string | undefined;
  private version: string | undefined;
  private route: string | undefined;

  get empty(): boolean {
    return this.count === 0 && this.values.length === 0;
  }

  /** Whether the entry could be packed (if not, nothing of it was). */
  add(e: LogEntry): boolean {
    const count = this.count;
    const values = this.values.length;
    try {
      // A batch is mostly one model's: its model, version and route once, until they change.
      const same = e.model === this.model && e.version === this.version && e.route === this.route;
      this.values.push(e.id);
      if (!same) this.values.push(e.model, e.version, e.route);
      if (e.error !== undefined) this.values.push(e.error);
      this.room(4);
      this.f[this.count++] = (same ? 0 : SERVED) | (e.error === undefined ? 0 : ERROR);
      this.f[this.count++] = e.time;
      this.f[this.count++] = e.latencyMs;
      this.f[this.count++] = e.status;
      this.value(e.input);
      this.value(e.output);
    } catch {
      this.count = count;
      this.values.length = values;
      return false;
    }
    this.model = e.model;
    this.version = e.version;
    this.route = e.route;
    return true;
  }

  /** What was added since the last take, and a fresh start (the buffer goes with the batch). */
  take(): Packed {
    const packed = { numbers: this.f.buffer as ArrayBuffer, count: this.count, values: this.values };
    this.f = new Float64Array(this.f.length);
    this.i32 = new Int32Array(this.f.buffer);
    this.count = 0;
    this.values = [];
    this.model = this.version = this.route = undefined;
    return packed;
  }

  private room(n: number): void {
    if (this.count + n <= this.f.length) return;
    const f = new Float64Array(Math.max(this.f.length * 2, this.count + n));
    f.set(this.f.subarray(0, this.count));
    this.f = f;
    this.i32 = new Int32Array(f.buffer);
  }

  private num(v: number): void {
    this.room(1);
    this.f[this.count++] = v;
  }

  private value(v: ModelOutput | undefined): void {
    if (v === undefined) return this.num(NONE);
    switch (v.kind) {
      case 'tensor':
        this.num(TENSOR);
        return this.tensor(v.value);
      case 'tensors': {
        const names = Object.keys(v.value);
        this.num(TENSORS);
        this.num(names.length);
        for (const name of names) {
          this.values.push(name);
          this.tensor(v.value[name]);
        }
        return;
      }
      case 'dataframe': {
        const df = v.value;
        this.num(DATAFRAME);
        this.num(df.rows);
        this.num(df.columns.length);
        for (let j = 0; j < df.columns.length; j++) {
          this.values.push(df.columns[j]);
          this.tensor(df.values[j]);
        }
        return;
      }
      case 'json':
        this.num(JSON_VALUE);
        this.values.push(v.value);
        return;
      case 'encoded':
        this.num(ENCODED);
        this.values.push(v.text);
        return;
    }
  }

  private tensor(t: NDArray): void {
    const data = t.data;
    const kind = ArrayBuffer.isView(data) && data.length <= INLINE ? arrayKind(data) : -1;
    const n = kind < 0 ? 0 : data.length;
    this.room(t.shape.length + 4 + n);
    const f = this.f;
    let at = this.count;
    f[at++] = DTYPE_CODES[t.dtype];
    f[at++] = t.shape.length;
    for (let d = 0; d < t.shape.length; d++) f[at++] = t.shape[d];
    if (kind < 0) {
      f[at++] = DATA_CLONED;
      this.count = at;
      // A view would bring its whole buffer along, and shared memory is not cloned at all.
      const whole = !ArrayBuffer.isView(data) || (data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer);
      this.values.push(whole ? data : (data as Exclude<TensorData, unknown[]>).slice());
      return;
    }
    f[at++] = kind;
    f[at++] = n;
    if (kind === BIGINT64 || kind === BIGUINT64) {
      // By their bits, two 32-bit halves each: reading a 64-bit element would make a BigInt of it.
      const view = data as BigInt64Array;
      this.i32.set(new Int32Array(view.buffer, view.byteOffset, n * 2), at * 2);
    } else {
      const numbers = data as Float32Array;
      for (let i = 0; i < n; i++) f[at + i] = numbers[i];
    }
    this.count = at + n;
  }
}

/** Which of {@link ARRAYS} a typed array is (a Buffer is a Uint8Array); -1 for none. */
function arrayKind(data: ArrayBufferView): number {
  const known = KINDS.get(data.constructor);
  return known ?? ARRAYS.findIndex((a) => data instanceof a);
}

const KINDS = new Map<unknown, number>(ARRAYS.map((a, i) => [a, i]));

/** The entries in a {@link Packed} batch, as they were added. */
export function unpackEntries(packed: Packed): LogEntry[] {
  const r = new Reader(packed);
  const out: LogEntry[] = [];
  let model = '';
  let version = '';
  let route = '';
  while (!r.done) {
    const id = r.value() as string;
    const flags = r.num();
    if ((flags & SERVED) !== 0) {
      model = r.value() as string;
      version = r.value() as string;
      route = r.value() as string;
    } else if (out.length === 0) throw new Error('log batch: no model for its first entry');
    const error = (flags & ERROR) !== 0 ? (r.value() as string) : undefined;
    const time = r.num();
    const latencyMs = r.num();
    const status = r.num();
    const input = r.output() as ModelInput | undefined;
    const output = r.output();
    out.push({ id, time, model, version, route, latencyMs, status, ...(error === undefined ? {} : { error }), input, output });
  }
  return out;
}

class Reader {
  private readonly f: Float64Array;
  private readonly i64: BigInt64Array;
  private readonly u64: BigUint64Array;
  private at = 0;
  private v = 0;

  constructor(private readonly packed: Packed) {
    this.f = new Float64Array(packed.numbers, 0, packed.count);
    this.i64 = new BigInt64Array(packed.numbers, 0, packed.count);
    this.u64 = new BigUint64Array(packed.numbers, 0, packed.count);
  }

  get done(): boolean {
    return this.at >= this.f.length && this.v >= this.packed.values.length;
  }

  num(): number {
    if (this.at >= this.f.length) throw new Error('log batch cut short');
    return this.f[this.at++];
  }

  value(): unknown {
    if (this.v >= this.packed.values.length) throw new Error('log batch cut short');
    return this.packed.values[this.v++];
  }

  output(): ModelOutput | undefined {
    const kind = this.num();
    switch (kind) {
      case NONE:
        return undefined;
      case TENSOR:
        return { kind: 'tensor', value: this.tensor() };
      case TENSORS: {
        const n = this.num();
        const value: Record<string, NDArray> = {};
        for (let i = 0; i < n; i++) {
          const name = this.value() as string;
          value[name] = this.tensor();
        }
        return { kind: 'tensors', value };
      }
      case DATAFRAME: {
        const rows = this.num();
        const n = this.num();
        const columns: (string | number)[] = [];
        const values: NDArray[] = [];
        for (let j = 0; j < n; j++) {
          columns.push(this.value() as string | number);
          values.push(this.tensor());
        }
        const df: DataFrame = { columns, values, rows };
        return { kind: 'dataframe', value: df };
      }
      case JSON_VALUE:
        return { kind: 'json', value: this.value() };
      case ENCODED:
        return { kind: 'encoded', text: this.value() as string };
      default:
        throw new Error(`log batch: unknown value kind ${kind}`);
    }
  }

  private tensor(): NDArray {
    const dtype = DTYPES[this.num()];
    if (dtype === undefined) throw new Error('log batch: unknown dtype');
    const rank = this.num();
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) shape.push(this.num());
    const kind = this.num();
    if (kind === DATA_CLONED) return { dtype, shape, data: this.value() as TensorData };
    const n = this.num();
    const Array = ARRAYS[kind] as (typeof ARRAYS)[number] | undefined;
    if (Array === undefined || this.at + n > this.f.length) throw new Error('log batch cut short');
    const from = kind === BIGINT64 ? this.i64 : kind === BIGUINT64 ? this.u64 : this.f;
    // A copy (typed arrays convert element by element; a BigInt view's elements are bigints).
    const data = new Array(n);
    for (let i = 0; i < n; i++) (data as unknown as unknown[])[i] = from[this.at + i];
    this.at += n;
    return { dtype, shape, data };
  }
}

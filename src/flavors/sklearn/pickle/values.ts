/**
 * The inert values a pickle decodes to. Nothing here can run code: a class is a name
 * ({@link PyGlobal}), an instance is that name plus the arguments and state the pickle gave it
 * ({@link PyObject}), and numpy data is decoded into typed arrays ({@link NdArray}).
 */

/** A `module.name` reference, as GLOBAL/STACK_GLOBAL name it. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get path(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A dict; string keys (all that estimator state uses) are looked up in a Map, others kept in order. */
export class PyDict {
  readonly strings = new Map<string, PyValue>();
  readonly others: [PyValue, PyValue][] = [];
  set(key: PyValue, value: PyValue): void {
    if (typeof key === 'string') this.strings.set(key, value);
    else this.others.push([key, value]);
  }
  get(key: string): PyValue | undefined {
    return this.strings.get(key);
  }
  has(key: string): boolean {
    return this.strings.has(key);
  }
  get size(): number {
    return this.strings.size + this.others.length;
  }
}

export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen: boolean,
  ) {}
}

export class PySlice {
  constructor(
    readonly start: PyValue,
    readonly stop: PyValue,
    readonly step: PyValue,
  ) {}
}

/**
 * An instance of an allowed class, never constructed: `args` are what REDUCE/NEWOBJ would have
 * passed to the class, `state` what BUILD would have passed to `__setstate__`.
 */
export class PyObject {
  state: PyValue | undefined = undefined;
  /** Items APPENDed to an instance of a list subclass (e.g. `_RemainderColsList`). */
  readonly listItems: PyValue[] = [];
  /** Items SETITEM'd on an instance of a dict subclass (e.g. `Bunch`). */
  readonly dictItems = new PyDict();
  constructor(
    readonly cls: PyGlobal,
    readonly args: readonly PyValue[],
    readonly kwargs?: PyDict,
  ) {}
  /** The `__dict__` part of the state (a `(dict, slots)` tuple's dict too). */
  get dict(): PyDict | undefined {
    const s = this.state;
    if (s instanceof PyDict) return s;
    if (s instanceof PyTuple && s.items[0] instanceof PyDict) return s.items[0];
    return undefined;
  }
}

/** A class or function that is not on the allow-list, or what calling it would have returned. */
export class Refused {
  constructor(readonly cls: PyGlobal) {}
}

export type NpKind = 'f' | 'i' | 'u' | 'b' | 'O' | 'U' | 'S' | 'V' | 'c' | 'M' | 'm';

export interface NpField {
  readonly name: string;
  readonly dtype: NpDType;
  readonly offset: number;
}

/** A numpy dtype: filled from `numpy.dtype(spec, align, copy)` and then its BUILD state. */
export class NpDType {
  byteorder: '<' | '>' | '|' | '=' = '=';
  fields: NpField[] | undefined = undefined;
  constructor(
    readonly kind: NpKind,
    public itemsize: number,
    readonly spec: string,
  ) {}
  get littleEndian(): boolean {
    return this.byteorder !== '>';
  }
  get str(): string {
    return `${this.kind}${this.itemsize}`;
  }
}

/** Column data of a structured array: one typed array per field. */
export type StructData = Readonly<Record<string, NpData>>;

export type NpData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[]
  | PyValue[];

/** A decoded numpy array, always in C (row-major) order. */
export class NdArray {
  dtype: NpDType | undefined = undefined;
  shape: number[] = [0];
  data: NpData = [];
  /** Set for structured dtypes (e.g. a tree's `nodes`). */
  fields: StructData | undefined = undefined;
  get size(): number {
    return this.shape.reduce((a, d) => a * d, 1);
  }
}

export class NpScalar {
  constructor(
    readonly dtype: NpDType,
    readonly value: number | bigint | boolean | string,
  ) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyDict
  | PySet
  | PySlice
  | PyGlobal
  | PyObject
  | Refused
  | NpDType
  | NdArray
  | NpScalar;

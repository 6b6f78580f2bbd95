/**
 * Typed, path-aware reads of an inert estimator's pickled state. Every read that finds something
 * other than what the converter expects refuses the model with the estimator's path, so a
 * converter never guesses.
 */
import { GatewayError } from '../../errors.js';
import { NdArray, NpScalar, type PyDict, PyGlobal, PyObject, PyTuple, type PyValue } from './pickle/index.js';

/** The model uses an estimator or a setting the compiler does not support (refused at load). */
export class UnsupportedModelError extends GatewayError {
  constructor(where: string, reason: string) {
    super(
      'INVALID_PARAMETER_VALUE',
      `Cannot serve this scikit-learn model: ${where}: ${reason}. Hint: export it to ONNX (skl2onnx) and log it with mlflow.onnx, or wrap it as a JS-code model.`,
    );
  }
}

/** A (major, minor) version, e.g. [1, 2] for '1.2.1'; [0, 0] when the pickle has none. */
export type Version = readonly [number, number];

export function parseVersion(v: PyValue | undefined): Version {
  const m = typeof v === 'string' ? /^(\d+)\.(\d+)/.exec(v) : null;
  return m === null ? [0, 0] : [Number(m[1]), Number(m[2])];
}

export function atLeast(v: Version, major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

/** Python truthiness-free scalar view of a pickled value (numpy scalars unwrapped). */
export function scalar(v: PyValue | undefined): PyValue | undefined {
  return v instanceof NpScalar ? (typeof v.value === 'bigint' ? Number(v.value) : v.value) : v;
}

export class Estimator {
  readonly state: PyDict;
  constructor(
    readonly obj: PyObject,
    /** Where it sits, e.g. `pipeline.steps[1]`. */
    readonly path: string,
  ) {
    const d = obj.dict;
    if (d === undefined) throw new UnsupportedModelError(this.where, 'it has no pickled attribute dict');
    this.state = d;
  }

  get classPath(): string {
    return this.obj.cls.path;
  }

  get name(): string {
    return this.obj.cls.name;
  }

  get where(): string {
    return `${this.path} (${this.classPath})`;
  }

  get version(): Version {
    return parseVersion(this.state.get('_sklearn_version'));
  }

  refuse(reason: string): never {
    throw new UnsupportedModelError(this.where, reason);
  }

  has(key: string): boolean {
    return this.state.has(key) && this.state.get(key) !== null;
  }

  raw(key: string): PyValue | undefined {
    return this.state.get(key);
  }

  /** A required attribute (fitted attributes end in `_`: missing means not fitted). */
  req(key: string): PyValue {
    const v = this.state.get(key);
    if (v === undefined) this.refuse(key.endsWith('_') ? `it is not fitted (no '${key}')` : `its state has no '${key}'`);
    return v;
  }

  str(key: string, fallback?: string): string {
    const v = scalar(this.state.get(key)) ?? fallback;
    if (typeof v !== 'string') this.refuse(`'${key}' is not a string`);
    return v;
  }

  /** A string or None. */
  optStr(key: string): string | null {
    const v = scalar(this.state.get(key));
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.refuse(`'${key}' is not a string`);
    return v;
  }

  num(key: string, fallback?: number): number {
    const v = scalar(this.state.get(key)) ?? fallback;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v !== 'number') this.refuse(`'${key}' is not a number`);
    return v;
  }

  int(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!Number.isSafeInteger(v) || v < 0) this.refuse(`'${key}' is not a non-negative integer`);
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = scalar(this.state.get(key)) ?? fallback;
    if (typeof v !== 'boolean') this.refuse(`'${key}' is not a boolean`);
    return v;
  }

  array(key: string): NdArray {
    const v = this.req(key);
    if (!(v instanceof NdArray) || v.dtype === undefined) this.refuse(`'${key}' is not a numpy array`);
    return v;
  }

  /** A float64 vector (any numeric dtype is widened), checked against `length` when given. */
  doubles(key: string, length?: number): Float64Array {
    const a = this.array(key);
    const out = toDoubles(a, () => this.refuse(`'${key}' is not numeric`));
    if (length !== undefined && out.length !== length) this.refuse(`'${key}' has ${out.length} values, expected ${length}`);
    return out;
  }

  /** A child estimator object, or a string such as 'passthrough' / 'drop'. */
  child(v: PyValue | undefined, path: string): Estimator | string | null {
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return v;
    if (v instanceof PyObject) return new Estimator(v, path);
    if (v instanceof PyGlobal) throw new UnsupportedModelError(path, `${v.path} is a class, not a fitted estimator`);
    throw new UnsupportedModelError(path, 'not an estimator');
  }

  /** A list or tuple attribute. */
  list(key: string): readonly PyValue[] {
    const v = this.req(key);
    if (Array.isArray(v)) return v;
    if (v instanceof PyTuple) return v.items;
    this.refuse(`'${key}' is not a list`);
  }
}

export function toDoubles(a: NdArray, fail: () => never): Float64Array {
  const k = a.dtype?.kind;
  if (a.fields !== undefined || (k !== 'f' && k !== 'i' && k !== 'u' && k !== 'b')) fail();
  return Float64Array.from(a.data as ArrayLike<number | bigint>, Number);
}

export function asList(v: PyValue | undefined): readonly PyValue[] | undefined {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return v.items;
  return undefined;
}

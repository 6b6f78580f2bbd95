/**
 * Schema enforcement as MLflow's `PyFuncModel.predict` does it (`_enforce_schema`): required and
 * extra inputs, tensor ranks and dims with -1 wildcards, exact tensor dtypes after the parse-time
 * casts, and typed columns. Complex column types (array, object, map) are checked by Ajv
 * validators compiled once, when the model loads.
 */
import type { ValidateFunction } from 'ajv';
import { SchemaEnforcementError } from '../errors.js';
import { type AjvSource, ajv as processAjv, lazyModelAjv } from './ajv.js';
import type { DataFrame, ModelInput } from './model-io.js';
import {
  type DType,
  DTYPES,
  type NDArray,
  castArray,
  castScalar,
  fromNested,
  isNumericDType,
  pyShape,
  reshape,
  shapeSize,
} from './ndarray.js';
import { colTypeJsonSchema } from './json-schema.js';
import { COL_TYPE_DTYPE, type ColSpec, type Schema, type TensorSpec, schemaRepr } from './signature.js';
import { dict } from '../util/dict.js';

function pyList(items: readonly (string | number)[]): string {
  return `[${items.map((i) => (typeof i === 'number' ? String(i) : `'${i}'`)).join(', ')}]`;
}

export interface SchemaEnforcer {
  readonly schema: Schema;
  enforce(input: ModelInput): ModelInput;
}

/** Compiles the checks for one schema (once per model version). */
export function compileEnforcer(schema: Schema, ajv: AjvSource = lazyModelAjv()): SchemaEnforcer {
  const repr = schemaRepr(schema);
  const fail = (detail: string): never => {
    throw new SchemaEnforcementError(repr, detail);
  };
  if (schema.kind === 'tensors') return { schema, enforce: (input) => enforceTensors(input, schema.inputs, fail) };
  const validators = schema.inputs.map((c) =>
    c.colType.type === 'array' || c.colType.type === 'object' || c.colType.type === 'map'
      ? ajv().compile(colTypeJsonSchema(c.colType))
      : undefined,
  );
  return { schema, enforce: (input) => enforceColumns(input, schema.inputs, validators, fail) };
}

/** MLflow's `_enforce_tensor_spec`: rank, fixed dims, then dtype. */
function checkTensor(a: NDArray, spec: TensorSpec, fail: (d: string) => never): NDArray {
  const expected = spec.shape;
  const actual = a.shape;
  let ok = expected.length === actual.length;
  for (let i = 0; ok && i < expected.length; i++) {
    if (expected[i] !== -1 && expected[i] !== actual[i]) ok = false;
  }
  if (!ok) fail(`Shape of input ${pyShape(actual)} does not match expected shape ${pyShape(expected)}.`);
  if (a.dtype !== spec.dtype) {
    const safe = safeTensorCast(a.dtype, spec.dtype);
    if (!safe) fail(`dtype of input ${a.dtype} does not match expected dtype ${spec.dtype}`);
    return castArray(a, spec.dtype);
  }
  return a;
}

/** Integer → wider integer or float of the same or larger size, float32 → float64: lossless. */
function safeTensorCast(from: DType, to: DType): boolean {
  const f = DTYPES[from];
  const t = DTYPES[to];
  if (!isNumericDType(from) || !isNumericDType(to)) return false;
  if (t.kind === 'float') return f.kind !== 'float' ? f.size < t.size : f.size <= t.size;
  if (t.kind === 'int') return (f.kind === 'int' && f.size <= t.size) || ((f.kind === 'uint' || f.kind === 'bool') && f.size < t.size);
  return false;
}

/** A DataFrame column as a tensor: scalar cells give (N,), list cells are stacked into (N, …). */
function columnToTensor(col: NDArray, dtype: DType): NDArray {
  if (col.dtype !== 'object') return col.dtype === dtype ? col : castArray(col, dtype);
  return fromNested(col.data as unknown[], dtype);
}

/** Fits an (N,) or stacked column to the spec when only the trailing unit dims differ. */
function fitRank(a: NDArray, spec: TensorSpec): NDArray {
  if (a.shape.length === spec.shape.length || a.shape.length === 0) return a;
  const n = a.shape[0];
  const target = spec.shape.map((d, i) => (i === 0 && d === -1 ? n : d));
  if (target.every((d) => d !== -1) && shapeSize(target) === shapeSize(a.shape)) return reshape(a, target);
  return a;
}

function frameToMatrix(df: DataFrame, dtype: DType, fail: (d: string) => never): NDArray {
  const width = df.columns.length;
  const n = df.rows;
  const cols = df.values.map((c) => columnToTensor(c, dtype));
  const out = DTYPES[dtype].alloc(n * width) as unknown[];
  for (let c = 0; c < width; c++) {
    const src = cols[c].data as ArrayLike<unknown>;
    if (cols[c].shape.length !== 1) {
      fail('A DataFrame with several columns must hold one scalar per cell for an unnamed tensor input.');
    }
    for (let r = 0; r < n; r++) out[r * width + c] = src[r];
  }
  return { dtype, shape: [n, width], data: out as NDArray['data'] };
}

function enforceTensors(input: ModelInput, specs: readonly TensorSpec[], fail: (d: string) => never): ModelInput {
  const named = specs[0].name !== undefined;
  if (!named) {
    const spec = specs[0];
    switch (input.kind) {
      case 'tensor':
        return { kind: 'tensor', value: checkTensor(input.value, spec, fail) };
      case 'dataframe': {
        const df = input.value;
        if (df.rows === 0) fail('Input DataFrame is empty.');
        if (df.columns.length === 1) {
          return { kind: 'tensor', value: checkTensor(fitRank(columnToTensor(df.values[0], spec.dtype), spec), spec, fail) };
        }
        if (spec.shape.length !== 2 || (spec.shape[1] !== -1 && spec.shape[1] !== df.columns.length) || spec.shape[0] !== -1) {
          fail(
            'This model contains a model signature with an unnamed input. Since the input data is a pandas DataFrame containing multiple columns, ' +
              `the input shape must be of the structure (-1, number_of_dataframe_columns). Instead, the input DataFrame passed had ${df.columns.length} columns ` +
              `and an input shape of ${pyShape(spec.shape)} with all values within the DataFrame of scalar type. Please adjust the passed in DataFrame to match the expected structure`,
          );
        }
        return { kind: 'tensor', value: checkTensor(frameToMatrix(df, spec.dtype, fail), spec, fail) };
      }
      default:
        return fail(
          'This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input ' +
            `with proper column values, but an input of type ${input.kind === 'tensors' ? 'dict' : 'json'} was found.`,
        );
    }
  }
  let available: readonly (string | number)[];
  let get: (name: string) => NDArray;
  if (input.kind === 'tensors') {
    const value = input.value;
    available = Object.keys(value);
    get = (name) => value[name];
  } else if (input.kind === 'dataframe') {
    const df = input.value;
    if (specs.length === 1 && !df.columns.includes(specs[0].name as string)) {
      // One input and a DataFrame that does not name it: its columns are that input's last
      // dimension (what MLflow does for a model without a signature: df.values).
      const unnamed = enforceTensors(input, [{ dtype: specs[0].dtype, shape: specs[0].shape }], fail);
      return { kind: 'tensors', value: { [specs[0].name as string]: (unnamed as { value: NDArray }).value } };
    }
    available = df.columns;
    get = (name) => {
      const spec = specs.find((s) => s.name === name) as TensorSpec;
      return fitRank(columnToTensor(df.values[df.columns.indexOf(name)], spec.dtype), spec);
    };
  } else {
    return fail(
      'This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to tensor, ' +
        `or a pandas DataFrame input containing columns mapping input name to flattened list value from tensor, but an input of type ${input.kind === 'tensor' ? 'ndarray' : 'json'} was found.`,
    );
  }
  const names = specs.map((s) => s.name as string);
  checkMissing(names, names, available, fail);
  const out = dict<NDArray>();
  for (const spec of specs) out[spec.name as string] = checkTensor(get(spec.name as string), spec, fail);
  return { kind: 'tensors', value: out };
}

/** MLflow's message: the required inputs that are absent, and the given ones the signature does not declare. */
function checkMissing(
  required: readonly string[],
  declared: readonly string[],
  available: readonly (string | number)[],
  fail: (d: string) => never,
): void {
  const have = new Set(available);
  const missing = required.filter((n) => !have.has(n));
  if (missing.length === 0) return;
  const want = new Set<string | number>(declared);
  const extra = available.filter((n) => !want.has(n));
  fail(`Model is missing inputs ${pyList(missing)}.${extra.length > 0 ? ` Note that there were extra inputs: ${pyList(extra)}.` : ''}`);
}

function tensorToFrame(a: NDArray): DataFrame {
  const rows = a.shape.length === 0 ? 1 : a.shape[0];
  const width = a.shape.length >= 2 ? a.shape[1] : 1;
  const cols: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(rows));
  const d = a.data as ArrayLike<unknown>;
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) cols[c][r] = d[r * width + c];
  return {
    columns: cols.map((_, i) => i),
    values: cols.map((c) => ({ dtype: a.dtype, shape: [rows], data: c })),
    rows,
  };
}

function typedColumn(
  name: string | number,
  col: NDArray,
  spec: ColSpec,
  validate: ValidateFunction | undefined,
  fail: (d: string) => never,
): NDArray {
  const t = spec.colType;
  if (validate !== undefined) {
    const data = col.data as unknown[];
    for (let i = 0; i < data.length; i++) {
      if (data[i] === null && !spec.required) continue;
      if (!validate(data[i])) {
        fail(`Failed to enforce schema of column ${name}: row ${i}: ${processAjv.errorsText(validate.errors, { dataVar: 'value' })}`);
      }
    }
    return col;
  }
  if (t.type === 'any' || t.type === 'binary' || t.type === 'datetime') return col;
  if (t.type === 'array' || t.type === 'object' || t.type === 'map') return col;
  const want = COL_TYPE_DTYPE[t.type];
  if (col.dtype === want) return col;
  if (t.type === 'string') {
    const data = col.data as ArrayLike<unknown>;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'string' && !(v === null && !spec.required)) {
        fail(
          `Incompatible input types for column ${name}. Can not safely convert ${col.dtype === 'object' ? typeof v : col.dtype} to str.`,
        );
      }
    }
    return { dtype: 'str', shape: col.shape, data: Array.from(data as ArrayLike<string>) };
  }
  // Numbers that arrived without a schema cast (e.g. a list of lists to a column model).
  try {
    if (col.dtype === 'object') {
      const src = col.data as unknown[];
      const out = DTYPES[want].alloc(src.length) as unknown[];
      for (let i = 0; i < src.length; i++) {
        const v = castScalar(src[i], want);
        out[i] = want === 'bool' ? (v ? 1 : 0) : v;
      }
      return { dtype: want, shape: col.shape, data: out as NDArray['data'] };
    }
    if (safeTensorCast(col.dtype, want) || (col.dtype === 'int64' && DTYPES[want].kind === 'float')) return castArray(col, want);
  } catch {
    // fall through to MLflow's wording
  }
  const hasNaN = DTYPES[col.dtype].kind === 'float' && Array.prototype.some.call(col.data, (v: number) => Number.isNaN(v));
  const hint =
    DTYPES[want].kind === 'int' && hasNaN
      ? ' Hint: the type mismatch is likely caused by missing values. Integer columns in python can not represent missing values and are therefore encoded as floats.'
      : '';
  return fail(`Incompatible input types for column ${name}. Can not safely convert ${col.dtype} to ${want}.${hint}`);
}

function enforceColumns(
  input: ModelInput,
  specs: readonly ColSpec[],
  validators: readonly (ValidateFunction | undefined)[],
  fail: (d: string) => never,
): ModelInput {
  let df: DataFrame;
  if (input.kind === 'dataframe') df = input.value;
  else if (input.kind === 'tensor') df = tensorToFrame(input.value);
  else if (input.kind === 'tensors') {
    const names = Object.keys(input.value);
    const cols = names.map((n) => input.value[n]);
    df = { columns: names, values: cols, rows: cols.length > 0 ? (cols[0].shape[0] ?? 1) : 0 };
  } else {
    return fail('This model has a column-based signature, which cannot take an LLM-style request body.');
  }
  const named = specs[0].name !== undefined;
  if (named) {
    checkMissing(
      specs.filter((s) => s.required).map((s) => s.name as string),
      specs.map((s) => s.name as string),
      df.columns,
      fail,
    );
    const columns: string[] = [];
    const values: NDArray[] = [];
    specs.forEach((spec, i) => {
      const at = df.columns.indexOf(spec.name as string);
      if (at === -1) return; // optional and absent
      columns.push(spec.name as string);
      values.push(typedColumn(spec.name as string, df.values[at], spec, validators[i], fail));
    });
    return { kind: 'dataframe', value: { columns, values, rows: df.rows } };
  }
  if (df.columns.length < specs.length) {
    fail(
      `Model inference is missing inputs. The model signature declares ${specs.length} inputs  but the provided value only has ${df.columns.length} inputs. ` +
        'Note: the inputs were not named in the signature so we can only verify their count.',
    );
  }
  const values = specs.map((spec, i) => typedColumn(df.columns[i], df.values[i], spec, validators[i], fail));
  return { kind: 'dataframe', value: { columns: df.columns.slice(0, specs.length), values, rows: df.rows } };
}

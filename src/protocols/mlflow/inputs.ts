/**
 * TF-Serving style bodies: `{"inputs": …}` (columnar: a list, a dict of lists, or a scalar) and
 * `{"instances": …}` (row format: a list of values, or a list of objects transposed to columns).
 */
import { InvalidInputError, SchemaEnforcementError } from '../../errors.js';
import type { ModelInput } from '../../schema/model-io.js';
import { type DType, type NDArray, castScalar, fromNested, inferDType, isNumericDType } from '../../schema/ndarray.js';
import { COL_TYPE_DTYPE, type ColSpec, type ScalarColType, type Schema, schemaRepr } from '../../schema/signature.js';
import type { JsonFormatCodec } from './codec.js';
import { typedFrame } from './frame-cast.js';
import { dict } from '../../util/dict.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pyTypeName(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (isPlainObject(v)) return 'dict';
  return typeof v === 'string' ? 'str' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : String(typeof v);
}

/** A dict of columns as pandas builds a DataFrame from it (scalars broadcast; lengths must agree). */
function dictToFrame(obj: Record<string, unknown>, schema: Schema | undefined): ModelInput {
  const names = Object.keys(obj);
  let rows = -1;
  for (const n of names) {
    const v = obj[n];
    if (Array.isArray(v)) {
      if (rows === -1) rows = v.length;
      else if (v.length !== rows) throw new InvalidInputError('All arrays must be of the same length');
    }
  }
  if (rows === -1) rows = 1;
  const raw = names.map((n) => {
    const v = obj[n];
    return Array.isArray(v) ? v : new Array<unknown>(rows).fill(v);
  });
  return { kind: 'dataframe', value: typedFrame(names, raw, rows, schema) };
}

/** A list (or scalar) without names, as pandas makes a DataFrame of an ndarray: integer column labels. */
function listToFrame(value: unknown, schema: Schema & { kind: 'columns' }): ModelInput {
  if (!Array.isArray(value)) return dictToFrame({ 0: value }, undefined);
  // MLflow builds an ndarray of the schema's type when every column shares one, so "abc" for a
  // double column fails here, as a parse error, before enforcement reports the unnamed columns.
  const types = new Set(schema.inputs.map((s) => s.colType.type));
  const only = [...types][0];
  if (types.size === 1 && only in COL_TYPE_DTYPE && isNumericDType(COL_TYPE_DTYPE[only as ScalarColType])) {
    fromNested(value, COL_TYPE_DTYPE[only as ScalarColType]);
  }
  const rows = value.length;
  const twoD = rows > 0 && value.every(Array.isArray);
  if (!twoD) return { kind: 'dataframe', value: typedFrame([0], [value], rows, undefined) };
  const width = (value[0] as unknown[]).length;
  if (value.some((r) => (r as unknown[]).length !== width)) {
    throw new InvalidInputError(
      'setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 dimensions.',
    );
  }
  const cols: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(rows));
  for (let r = 0; r < rows; r++) {
    const row = value[r] as unknown[];
    for (let c = 0; c < width; c++) cols[c][r] = row[c];
  }
  // Integer labels never match a named schema, so enforcement reports them as extra inputs, as MLflow does.
  const labels = cols.map((_, i) => i);
  return { kind: 'dataframe', value: typedFrame(labels, cols, rows, undefined) };
}

function tensorDictInput(obj: Record<string, unknown>, schema: Schema | undefined): ModelInput {
  const out = dict<NDArray>();
  for (const [name, v] of Object.entries(obj)) {
    const spec = schema?.kind === 'tensors' ? schema.inputs.find((s) => s.name === name) : undefined;
    out[name] = fromNested(v, spec ? spec.dtype : inferDType(v));
  }
  return { kind: 'tensors', value: out };
}

/** A scalar column type's numpy dtype, for the per-value conversion of records (binary and datetime are left to the frame). */
function recordDType(spec: ColSpec | undefined): DType | undefined {
  const t = spec?.colType.type;
  if (t === undefined || t === 'binary' || t === 'datetime' || !(t in COL_TYPE_DTYPE)) return undefined;
  return COL_TYPE_DTYPE[t as ScalarColType];
}

/**
 * A list of records under `inputs` for a column signature, as MLflow 3 reads it
 * (`_cast_schema_type`): each value the signature types is converted on its own, as
 * `np.array([v], dtype)[0]` (so a bad value is numpy's bare message), and `_enforce_schema`
 * then makes a DataFrame of the records: columns in order of first appearance, a missing key a
 * missing value.
 */
function recordsToFrame(records: readonly Record<string, unknown>[], schema: Schema & { kind: 'columns' }): ModelInput {
  const specs = new Map(schema.inputs.filter((s) => s.name !== undefined).map((s) => [s.name as string, s]));
  const dtypes = new Map<string, DType | undefined>();
  const index = new Map<string, number>();
  const cols: unknown[][] = [];
  for (let r = 0; r < records.length; r++) {
    for (const [k, v] of Object.entries(records[r])) {
      let c = index.get(k);
      if (c === undefined) {
        index.set(k, (c = cols.length));
        cols.push(new Array<unknown>(records.length).fill(null));
        dtypes.set(k, recordDType(specs.get(k)));
      }
      const dtype = dtypes.get(k);
      cols[c][r] = dtype === undefined ? v : castScalar(v, dtype);
    }
  }
  return { kind: 'dataframe', value: typedFrame([...index.keys()], cols, records.length, schema) };
}

const isRecordList = (v: unknown): v is Record<string, unknown>[] => Array.isArray(v) && v.every(isPlainObject);

/** MLflow keeps a list of records as a list, which tensor enforcement then refuses. */
function recordsForTensors(schema: Schema & { kind: 'tensors' }): SchemaEnforcementError {
  const detail =
    schema.inputs[0].name === undefined
      ? 'This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values, but an input of type list was found.'
      : 'This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to tensor, or a pandas DataFrame input containing columns mapping input name to flattened list value from tensor, but an input of type list was found.';
  return new SchemaEnforcementError(schemaRepr(schema), detail);
}

/** `parse_tf_serving_input` for the data of one request. */
export function decodeColumnar(value: unknown, schema: Schema | undefined): ModelInput {
  if (schema?.kind === 'columns') {
    const names = schema.inputs.map((s) => s.name);
    const oneNamed = names.length === 1 && names[0] !== undefined;
    // MLflow reads [] as a list of (no) records too, except for a signature of one named column.
    if (isRecordList(value) && (value.length > 0 || !oneNamed)) return recordsToFrame(value, schema);
    if (oneNamed && Array.isArray(value)) {
      // A schema with one named column takes a bare list as that column.
      return dictToFrame({ [names[0] as string]: value }, schema);
    }
    return isPlainObject(value) ? dictToFrame(value, schema) : listToFrame(value, schema);
  }
  if (isPlainObject(value)) return tensorDictInput(value, schema);
  if (schema?.kind === 'tensors') {
    if (isRecordList(value) && value.length > 0) throw recordsForTensors(schema);
    const first = schema.inputs[0];
    if (first.name !== undefined) {
      if (schema.inputs.length === 1) return { kind: 'tensors', value: { [first.name]: fromNested(value, first.dtype) } };
      throw new InvalidInputError(
        'Failed to parse input data. This model contains a tensor-based model signature with input names, which suggests ' +
          `a dictionary input mapping input name to tensor, but an input of type ${pyTypeName(value)} was found.`,
      );
    }
    return { kind: 'tensor', value: fromNested(value, first.dtype) };
  }
  return { kind: 'tensor', value: fromNested(value, inferDType(value)) };
}

export const inputsCodec: JsonFormatCodec = {
  key: 'inputs',
  decode: decodeColumnar,
};

export const instancesCodec: JsonFormatCodec = {
  key: 'instances',
  decode(value, schema) {
    if (!Array.isArray(value) || value.length === 0 || !isPlainObject(value[0])) return decodeColumnar(value, schema);
    // Row objects become columns: [{"a": 1, "b": 2}, …] → {"a": [1, …], "b": [2, …]}.
    const columns = dict<unknown[]>();
    for (let r = 0; r < value.length; r++) {
      const row = value[r];
      if (!isPlainObject(row)) throw new InvalidInputError('Every element of "instances" must be an object when the first one is.');
      for (const [k, v] of Object.entries(row)) {
        (columns[k] ??= []).push(v);
      }
    }
    const lengths = new Set(Object.values(columns).map((c) => c.length));
    if (lengths.size > 1) throw new InvalidInputError('The length of values for each input/column name are not the same');
    return decodeColumnar(columns, schema);
  },
};

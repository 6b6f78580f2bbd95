/**
 * Parse-time typing of DataFrame columns (MLflow's `cast_df_types_according_to_schema`): a column
 * the signature names is converted to its type while the request is decoded, so a bad value is a
 * 400 "Failed to convert column" before the model is involved.
 */
import { GatewayError, InvalidInputError, quoteValue } from '../../errors.js';
import type { DataFrame } from '../../schema/model-io.js';
import { objectColumn } from '../../schema/model-io.js';
import { DTYPES, type DType, type NDArray, castScalar, inferDType } from '../../schema/ndarray.js';
import { COL_TYPE_DTYPE, type ColType, type Schema } from '../../schema/signature.js';

/** Casts a column of JSON scalars to `dtype`; list cells (tensor columns) are left for enforcement. */
export function castColumn(values: readonly unknown[], dtype: DType): NDArray {
  const n = values.length;
  const kind = DTYPES[dtype].kind;
  if (kind === 'object' || kind === 'bytes') return objectColumn(values.slice());
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && typeof v === 'object') return objectColumn(values.slice());
  }
  const data = DTYPES[dtype].alloc(n);
  if (kind === 'bool') {
    const out = data as Uint8Array;
    for (let i = 0; i < n; i++) out[i] = castScalar(values[i], dtype) ? 1 : 0;
  } else if (kind === 'str') {
    const out = data as unknown[];
    // A missing string stays missing as it came: None from JSON, NaN from CSV (pandas keeps both in
    // an object column, and SimpleImputer(missing_values=nan) imputes only the NaN).
    for (let i = 0; i < n; i++) {
      const v = values[i];
      out[i] = v === null || (typeof v === 'number' && Number.isNaN(v)) ? v : castScalar(v, dtype);
    }
  } else {
    const out = data as unknown[];
    for (let i = 0; i < n; i++) out[i] = castScalar(values[i], dtype);
  }
  return { dtype, shape: [n], data };
}

function numpyName(t: ColType): string {
  if (t.type === 'string') return 'object';
  if (t.type === 'datetime') return 'datetime64[ns]';
  if (t.type === 'binary') return 'bytes';
  return t.type in COL_TYPE_DTYPE ? COL_TYPE_DTYPE[t.type as keyof typeof COL_TYPE_DTYPE] : 'object';
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function castTypedColumn(name: string | number, values: readonly unknown[], t: ColType): NDArray {
  try {
    switch (t.type) {
      case 'binary':
        return objectColumn(
          values.map((v) => {
            if (v === null) return null;
            if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64_RE.test(v)) {
              throw new InvalidInputError('binary values must be base64 strings');
            }
            return Buffer.from(v, 'base64');
          }),
        );
      case 'datetime':
        return objectColumn(
          values.map((v) => {
            if (v === null) return null;
            const d = typeof v === 'string' || typeof v === 'number' ? new Date(v) : undefined;
            if (d === undefined || Number.isNaN(d.getTime())) throw new InvalidInputError(`could not parse ${quoteValue(v)} as a datetime`);
            return d;
          }),
        );
      case 'array':
      case 'object':
      case 'map':
      case 'any':
        return objectColumn(values.slice());
      default:
        return castColumn(values, COL_TYPE_DTYPE[t.type]);
    }
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const detail = err.message.replace(/^Invalid input\. /, '');
    throw new InvalidInputError(
      `Data is not compatible with model signature. Failed to convert column ${name} to type '${numpyName(t)}'. Error: 'ValueError("${detail}")'`,
    );
  }
}

function castTensorColumn(name: string | number, values: readonly unknown[], dtype: DType): NDArray {
  try {
    return castColumn(values, dtype);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const detail = err.message.replace(/^Invalid input\. /, '');
    throw new InvalidInputError(
      `Data is not compatible with model signature. Failed to convert column ${name} to type '${dtype}'. Error: 'ValueError("${detail}")'`,
    );
  }
}

/** Columns without a schema get the dtype numpy would infer (numbers → typed arrays). */
function inferColumn(values: readonly unknown[]): NDArray {
  const dtype = inferDType(values);
  if (dtype === 'object' || values.some((v) => v === null || typeof v === 'object')) return objectColumn(values.slice());
  return castColumn(values, dtype);
}

/** Builds a DataFrame from raw columns, typing those the schema names. */
export function typedFrame(
  columns: readonly (string | number)[],
  raw: readonly (readonly unknown[])[],
  rows: number,
  schema: Schema | undefined,
): DataFrame {
  const values = raw.map((col, i) => {
    const name = columns[i];
    if (schema === undefined) return inferColumn(col);
    if (schema.kind === 'tensors') {
      const named = schema.inputs.every((s) => s.name !== undefined);
      if (!named) return castTensorColumn(name, col, schema.inputs[0].dtype);
      const spec = schema.inputs.find((s) => s.name === name);
      return spec ? castTensorColumn(name, col, spec.dtype) : objectColumn(col.slice());
    }
    const named = schema.inputs.every((s) => s.name !== undefined);
    const spec = named ? schema.inputs.find((s) => s.name === name) : schema.inputs[i];
    return spec ? castTypedColumn(name, col, spec.colType) : objectColumn(col.slice());
  });
  return { columns, values, rows };
}

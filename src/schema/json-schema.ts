/**
 * JSON Schemas of a signature's parts. The column and param schemas are the ones the validators
 * compile (enforce.ts, params.ts), so a document built from them (the OpenAPI description) says
 * exactly what is enforced. Tensors are checked in code, not by Ajv (a schema per dimension would
 * be slow for big inputs); their schema here follows the same rules: rank, fixed dims, dtype.
 */
import { DTYPES, type DType } from './ndarray.js';
import type { ColType, ParamSpec, ParamType, TensorSpec } from './signature.js';

export type JsonSchema = Record<string, unknown>;

/** The schema one cell of a column of this type must satisfy. */
export function colTypeJsonSchema(t: ColType): JsonSchema {
  switch (t.type) {
    case 'array':
      return { type: 'array', items: colTypeJsonSchema(t.items) };
    case 'map':
      return { type: 'object', additionalProperties: colTypeJsonSchema(t.values) };
    case 'object':
      return {
        type: 'object',
        properties: Object.fromEntries(Object.entries(t.properties).map(([k, v]) => [k, colTypeJsonSchema(v)])),
        required: Object.entries(t.properties)
          .filter(([, v]) => v.required)
          .map(([k]) => k),
      };
    case 'any':
      return {};
    case 'boolean':
      return { type: 'boolean' };
    case 'integer':
    case 'long':
      return { type: 'integer' };
    case 'float':
    case 'double':
      return { type: 'number' };
    default:
      return { type: 'string' };
  }
}

/** The schema of one value of a param type; `modelgateDatetime` is the validators' own keyword. */
export function paramTypeJsonSchema(type: ParamType, properties?: Record<string, unknown>, forDocument = false): JsonSchema {
  switch (type) {
    case 'boolean':
      return { type: 'boolean' };
    case 'integer':
    case 'long':
      return { type: 'integer' };
    case 'float':
    case 'double':
      return { type: 'number' };
    case 'datetime':
      return forDocument ? { type: 'string', format: 'date-time' } : { type: 'string', modelgateDatetime: true };
    case 'object':
      return properties ? { type: 'object', properties } : { type: 'object' };
    default:
      return { type: 'string' };
  }
}

/** A param's schema: a scalar, or a list of them when its shape is `[-1]`. */
export function paramJsonSchema(spec: ParamSpec, forDocument = false): JsonSchema {
  const item = paramTypeJsonSchema(spec.type, spec.properties, forDocument);
  return spec.shape === null ? item : { type: 'array', items: item };
}

/** One element of a tensor of this dtype, as JSON carries it. */
export function dtypeJsonSchema(dtype: DType): JsonSchema {
  const info = DTYPES[dtype];
  switch (info.kind) {
    case 'float':
      return { type: 'number' };
    case 'int':
    case 'uint': {
      const bounds = info.min === undefined ? {} : { minimum: info.min, maximum: info.max };
      return { type: 'integer', ...bounds };
    }
    case 'bool':
      return { type: 'boolean' };
    case 'str':
      return { type: 'string' };
    default:
      return {};
  }
}

/** A tensor as nested JSON lists: one level per dimension, fixed dimensions as exact lengths. */
export function tensorJsonSchema(spec: Pick<TensorSpec, 'dtype' | 'shape'>): JsonSchema {
  let schema = dtypeJsonSchema(spec.dtype);
  for (let i = spec.shape.length - 1; i >= 0; i--) {
    const d = spec.shape[i];
    schema = { type: 'array', items: schema, ...(d === -1 ? {} : { minItems: d, maxItems: d }) };
  }
  return schema;
}

/**
 * MLflow model signatures: the JSON that MLmodel carries in `signature.inputs|outputs|params`
 * (mlflow/types/schema.py), parsed into typed specs, written back, and printed the way MLflow
 * prints them in its error messages.
 */
import { GatewayError } from '../errors.js';
import { pyJson } from '../util/py-json.js';
import { ajv } from './ajv.js';
import { type DType, parseDType, pyShape } from './ndarray.js';
import { dict } from '../util/dict.js';

export type ScalarColType = 'boolean' | 'integer' | 'long' | 'float' | 'double' | 'string' | 'binary' | 'datetime';

export type ColType =
  | { type: ScalarColType }
  | { type: 'array'; items: ColType }
  | { type: 'object'; properties: Record<string, ColType & { required: boolean }> }
  | { type: 'map'; values: ColType }
  | { type: 'any' };

export interface ColSpec {
  name?: string;
  colType: ColType;
  required: boolean;
}

export interface TensorSpec {
  name?: string;
  dtype: DType;
  shape: number[];
}

export type Schema = { kind: 'columns'; inputs: ColSpec[] } | { kind: 'tensors'; inputs: TensorSpec[] };

export type ParamType = ScalarColType | 'object';

export interface ParamSpec {
  name: string;
  type: ParamType;
  default: unknown;
  /** `null` for a scalar, `[-1]` for a 1-D list. */
  shape: number[] | null;
  properties?: Record<string, unknown>;
}

export interface ModelSignature {
  inputs?: Schema;
  outputs?: Schema;
  params?: ParamSpec[];
}

/** numpy dtype of each scalar column type (`DataType.to_numpy`). */
export const COL_TYPE_DTYPE: Readonly<Record<ScalarColType, DType>> = {
  boolean: 'bool',
  integer: 'int32',
  long: 'int64',
  float: 'float32',
  double: 'float64',
  string: 'str',
  binary: 'bytes',
  datetime: 'object',
};

const SCALAR_COL_TYPES = Object.keys(COL_TYPE_DTYPE);

// Signatures come from model artifacts, which we treat as untrusted: bound sizes and depth.
const colTypeSchema = {
  $id: 'modelgate:col-type',
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: [...SCALAR_COL_TYPES, 'array', 'object', 'map', 'any'] },
    items: { $ref: 'modelgate:col-type' },
    values: { $ref: 'modelgate:col-type' },
    properties: { type: 'object', maxProperties: 1000, additionalProperties: { $ref: 'modelgate:col-type' } },
    required: { type: 'boolean' },
    name: { type: 'string', maxLength: 1024 },
  },
};

const specListSchema = {
  type: 'array',
  maxItems: 10000,
  items: {
    type: 'object',
    required: ['type'],
    properties: {
      name: { type: ['string', 'null'], maxLength: 1024 },
      type: { type: 'string' },
      required: { type: 'boolean' },
      'tensor-spec': {
        type: 'object',
        required: ['dtype', 'shape'],
        properties: {
          dtype: { type: 'string', maxLength: 64 },
          shape: { type: 'array', maxItems: 32, items: { type: 'integer', minimum: -1 } },
        },
      },
    },
  },
};

const paramListSchema = {
  type: 'array',
  maxItems: 1000,
  items: {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', maxLength: 1024 },
      type: { type: 'string' },
      dtype: { type: 'string' },
      shape: { anyOf: [{ type: 'null' }, { type: 'array', items: { type: 'integer' } }] },
    },
  },
};

ajv.addSchema(colTypeSchema);
const validateSpecList = ajv.compile(specListSchema);
const validateParamList = ajv.compile(paramListSchema);

export class InvalidSignatureError extends GatewayError {
  constructor(message: string) {
    super('INVALID_PARAMETER_VALUE', `Invalid model signature: ${message}`);
  }
}

function parseJsonField(text: unknown, field: string): unknown {
  if (text === null || text === undefined) return undefined;
  if (typeof text !== 'string') return text; // tolerate nested YAML, which some tools write
  if (text.length > 10_000_000) throw new InvalidSignatureError(`${field} is larger than 10 MB`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidSignatureError(`${field} is not valid JSON (${(err as Error).message})`);
  }
}

function parseColType(raw: Record<string, unknown>): ColType {
  const t = raw.type as string;
  if (t === 'array') return { type: 'array', items: parseColType(raw.items as Record<string, unknown>) };
  if (t === 'map') return { type: 'map', values: parseColType(raw.values as Record<string, unknown>) };
  if (t === 'any') return { type: 'any' };
  if (t === 'object') {
    const props = dict<ColType & { required: boolean }>();
    for (const [k, v] of Object.entries((raw.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      props[k] = { ...parseColType(v), required: v.required !== false };
    }
    return { type: 'object', properties: props };
  }
  if (!SCALAR_COL_TYPES.includes(t)) throw new InvalidSignatureError(`unknown column type '${t}'`);
  return { type: t as ScalarColType };
}

export function parseSchema(text: unknown, field = 'inputs'): Schema | undefined {
  const raw = parseJsonField(text, field);
  if (raw === undefined) return undefined;
  if (!validateSpecList(raw)) {
    throw new InvalidSignatureError(`${field}: ${ajv.errorsText(validateSpecList.errors, { dataVar: field })}`);
  }
  const list = raw as Record<string, unknown>[];
  if (list.length === 0) throw new InvalidSignatureError(`${field} is an empty list`);
  const isTensor = list[0].type === 'tensor';
  if (list.some((s) => (s.type === 'tensor') !== isTensor)) {
    throw new InvalidSignatureError(`${field} mixes column and tensor specs, which MLflow does not allow`);
  }
  const named = list.filter((s) => typeof s.name === 'string').length;
  if (named !== 0 && named !== list.length) {
    throw new InvalidSignatureError(`${field}: either all inputs are named or none is`);
  }
  if (isTensor) {
    const inputs = list.map((s): TensorSpec => {
      const ts = s['tensor-spec'] as { dtype: string; shape: number[] } | undefined;
      if (ts === undefined) throw new InvalidSignatureError(`${field}: a tensor spec has no 'tensor-spec'`);
      const dtype = parseDType(ts.dtype);
      if (dtype === undefined) throw new InvalidSignatureError(`${field}: unsupported tensor dtype '${ts.dtype}'`);
      return typeof s.name === 'string' ? { name: s.name, dtype, shape: ts.shape } : { dtype, shape: ts.shape };
    });
    if (inputs.length > 1 && named === 0) throw new InvalidSignatureError(`${field}: several tensors must all be named`);
    return { kind: 'tensors', inputs };
  }
  const inputs = list.map((s): ColSpec => {
    const spec: ColSpec = { colType: parseColType(s), required: s.required !== false };
    if (typeof s.name === 'string') spec.name = s.name;
    return spec;
  });
  if (named === 0 && inputs.some((c) => !c.required)) {
    throw new InvalidSignatureError(`${field}: unnamed optional inputs are not allowed`);
  }
  return { kind: 'columns', inputs };
}

export function parseParams(text: unknown): ParamSpec[] | undefined {
  const raw = parseJsonField(text, 'params');
  if (raw === undefined) return undefined;
  if (!validateParamList(raw)) {
    throw new InvalidSignatureError(`params: ${ajv.errorsText(validateParamList.errors, { dataVar: 'params' })}`);
  }
  return (raw as Record<string, unknown>[]).map((p) => {
    const type = (p.type ?? p.dtype) as string;
    if (type !== 'object' && (!SCALAR_COL_TYPES.includes(type) || type === 'binary')) {
      throw new InvalidSignatureError(`param '${String(p.name)}' has unsupported type '${type}'`);
    }
    const spec: ParamSpec = {
      name: p.name as string,
      type: type as ParamType,
      default: p.default ?? null,
      shape: (p.shape as number[] | null | undefined) ?? null,
    };
    if (p.properties !== undefined) spec.properties = p.properties as Record<string, unknown>;
    return spec;
  });
}

/** The `signature:` mapping of an MLmodel file, each value a JSON string. */
export interface SignatureDict {
  inputs?: string | null;
  outputs?: string | null;
  params?: string | null;
}

export function parseSignature(dict: SignatureDict | null | undefined): ModelSignature | undefined {
  if (dict === null || dict === undefined) return undefined;
  const sig: ModelSignature = {};
  const inputs = parseSchema(dict.inputs, 'inputs');
  const outputs = parseSchema(dict.outputs, 'outputs');
  const params = parseParams(dict.params);
  if (inputs) sig.inputs = inputs;
  if (outputs) sig.outputs = outputs;
  if (params) sig.params = params;
  return sig;
}

function colTypeToJson(t: ColType): Record<string, unknown> {
  switch (t.type) {
    case 'array':
      return { type: 'array', items: colTypeToJson(t.items) };
    case 'map':
      return { type: 'map', values: colTypeToJson(t.values) };
    case 'object':
      return {
        type: 'object',
        properties: Object.fromEntries(Object.entries(t.properties).map(([k, v]) => [k, { ...colTypeToJson(v), required: v.required }])),
      };
    default:
      return { type: t.type };
  }
}

export function schemaToJson(schema: Schema): unknown[] {
  if (schema.kind === 'tensors') {
    return schema.inputs.map((t) => ({
      type: 'tensor',
      'tensor-spec': { dtype: t.dtype, shape: t.shape },
      ...(t.name === undefined ? {} : { name: t.name }),
    }));
  }
  return schema.inputs.map((c) => ({
    ...colTypeToJson(c.colType),
    ...(c.name === undefined ? {} : { name: c.name }),
    required: c.required,
  }));
}

/** The `signature:` mapping for an MLmodel file, JSON strings as MLflow writes them. */
export function signatureToDict(sig: ModelSignature): Required<SignatureDict> {
  return {
    inputs: sig.inputs ? pyJson(schemaToJson(sig.inputs)) : null,
    outputs: sig.outputs ? pyJson(schemaToJson(sig.outputs)) : null,
    params: sig.params ? pyJson(sig.params.map((p) => ({ name: p.name, type: p.type, default: p.default, shape: p.shape }))) : null,
  };
}

function colTypeRepr(t: ColType): string {
  switch (t.type) {
    case 'array':
      return `Array(${colTypeRepr(t.items)})`;
    case 'map':
      return `Map(str -> ${colTypeRepr(t.values)})`;
    case 'object':
      return `Object(${Object.entries(t.properties)
        .map(([k, v]) => `${k}: ${colTypeRepr(v)}${v.required ? '' : ' (optional)'}`)
        .join(', ')})`;
    default:
      return t.type;
  }
}

/** MLflow's `repr(Schema)`, as it appears in schema enforcement errors. */
export function schemaRepr(schema: Schema): string {
  if (schema.kind === 'tensors') {
    return `[${schema.inputs
      .map((t) => {
        const r = `Tensor('${t.dtype}', ${pyShape(t.shape)})`;
        return t.name === undefined ? r : `'${t.name}': ${r}`;
      })
      .join(', ')}]`;
  }
  return `[${schema.inputs
    .map((c) => {
      const r = `${colTypeRepr(c.colType)} (${c.required ? 'required' : 'optional'})`;
      return c.name === undefined ? r : `'${c.name}': ${r}`;
    })
    .join(', ')}]`;
}

export function inputNames(schema: Schema): string[] | undefined {
  const names = schema.inputs.map((s) => s.name);
  return names.every((n): n is string => n !== undefined) ? names : undefined;
}

/** A signature as MLflow writes it in JSON: lists of column, tensor and param specs. */
export interface MlflowSignatureJson {
  inputs?: readonly unknown[];
  outputs?: readonly unknown[];
  params?: readonly unknown[];
}

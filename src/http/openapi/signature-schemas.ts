/**
 * Request and response schemas of one model version, for the OpenAPI document: every body form
 * /invocations accepts and the V2 infer body, built from the signature's own JSON Schemas
 * (src/schema/json-schema.ts), the ones its validators compile.
 */
import { type JsonSchema, colTypeJsonSchema, dtypeJsonSchema, paramJsonSchema, tensorJsonSchema } from '../../schema/json-schema.js';
import type { ColSpec, ModelSignature, Schema, TensorSpec } from '../../schema/signature.js';
import { v2Datatype } from '../../protocols/v2/datatypes.js';
import { COL_TYPE_DTYPE } from '../../schema/signature.js';

const anything: JsonSchema = {};

/** One row of a tensor: the tensor without its batch dimension. */
const rowOf = (t: Pick<TensorSpec, 'dtype' | 'shape'>) => tensorJsonSchema({ dtype: t.dtype, shape: t.shape.slice(1) });

function recordSchema(cols: readonly ColSpec[]): JsonSchema {
  const named = cols.filter((c) => c.name !== undefined);
  return {
    type: 'object',
    properties: Object.fromEntries(named.map((c) => [c.name as string, colTypeJsonSchema(c.colType)])),
    required: named.filter((c) => c.required).map((c) => c.name as string),
  };
}

/** Distinct schemas, for a cell that may be in any of several columns. */
function unionOf(schemas: readonly JsonSchema[]): JsonSchema {
  const unique = [...new Map(schemas.map((s) => [JSON.stringify(s), s])).values()];
  return unique.length === 1 ? unique[0] : { anyOf: unique };
}

function cellSchemas(schema: Schema | undefined): JsonSchema[] {
  if (schema === undefined) return [anything];
  if (schema.kind === 'columns') return schema.inputs.map((c) => colTypeJsonSchema(c.colType));
  // A cell holds one scalar of a 2-D tensor's row; deeper tensors are not sent as frames.
  return schema.inputs.map((t) => (t.shape.length <= 2 ? dtypeJsonSchema(t.dtype) : anything));
}

function columnNames(schema: Schema | undefined): string[] | undefined {
  if (schema === undefined) return undefined;
  const names = schema.inputs.map((s) => s.name);
  return names.every((n): n is string => n !== undefined) ? names : undefined;
}

/** One row of a frame; a single 2-D tensor with a fixed width takes rows of exactly that width. */
function rowSchema(schema: Schema | undefined): JsonSchema {
  const row: JsonSchema = { type: 'array', items: unionOf(cellSchemas(schema)) };
  const only = schema?.kind === 'tensors' && schema.inputs.length === 1 ? schema.inputs[0] : undefined;
  const width = only?.shape.length === 2 ? only.shape[1] : -1;
  return width === -1 ? row : { ...row, minItems: width, maxItems: width };
}

/** `{"columns": […], "data": [[…]]}` (pandas' split orient). */
function dataframeSplit(schema: Schema | undefined): JsonSchema {
  const names = schema?.kind === 'columns' ? columnNames(schema) : undefined;
  if (schema?.kind === 'columns' && names !== undefined) {
    // Named columns: the signature's order here, though the server finds them by name.
    return {
      type: 'object',
      required: ['columns', 'data'],
      description: 'Columns may come in any order, and optional ones may be left out (their data with them).',
      properties: {
        columns: { type: 'array', prefixItems: names.map((n) => ({ const: n })), items: false, minItems: names.length },
        index: { type: 'array' },
        data: {
          type: 'array',
          items: {
            type: 'array',
            prefixItems: schema.inputs.map((c) => colTypeJsonSchema(c.colType)),
            items: false,
            minItems: names.length,
          },
        },
      },
    };
  }
  return {
    type: 'object',
    required: ['data'],
    properties: {
      columns: { type: 'array' },
      index: { type: 'array' },
      data: { type: 'array', items: rowSchema(schema) },
    },
  };
}

/** The value of `inputs` / `instances` a model's signature takes. */
function tensorsValue(schema: Schema | undefined, rows: boolean): JsonSchema {
  if (schema === undefined) return anything;
  if (schema.kind === 'columns') {
    const names = columnNames(schema);
    if (names === undefined) return { type: 'array', items: { type: 'array', items: unionOf(cellSchemas(schema)) } };
    const columnar = {
      type: 'object',
      properties: Object.fromEntries(schema.inputs.map((c) => [c.name as string, { type: 'array', items: colTypeJsonSchema(c.colType) }])),
      required: schema.inputs.filter((c) => c.required).map((c) => c.name as string),
    };
    return { anyOf: [{ type: 'array', items: recordSchema(schema.inputs) }, columnar] };
  }
  const [first] = schema.inputs;
  if (schema.inputs.length === 1 && (first.name === undefined || !rows)) {
    // One tensor may be sent bare, named or not.
    if (first.name === undefined) return tensorJsonSchema(first);
    return {
      anyOf: [tensorJsonSchema(first), { type: 'object', properties: { [first.name]: tensorJsonSchema(first) }, required: [first.name] }],
    };
  }
  if (rows) {
    return {
      type: 'array',
      items: {
        type: 'object',
        properties: Object.fromEntries(schema.inputs.map((t) => [t.name as string, rowOf(t)])),
        required: schema.inputs.map((t) => t.name as string),
      },
    };
  }
  return {
    type: 'object',
    properties: Object.fromEntries(schema.inputs.map((t) => [t.name as string, tensorJsonSchema(t)])),
    required: schema.inputs.map((t) => t.name as string),
  };
}

export function paramsSchema(signature: ModelSignature | undefined): JsonSchema {
  const specs = signature?.params ?? [];
  return {
    type: 'object',
    description:
      specs.length === 0
        ? 'This model declares no params: any sent are dropped.'
        : 'Params the signature declares; missing ones take their defaults, others are dropped.',
    properties: Object.fromEntries(
      specs.map((p) => [p.name, { ...paramJsonSchema(p, true), ...(p.default === null ? {} : { default: p.default }) }]),
    ),
  };
}

/** Every JSON body /invocations accepts, one `oneOf` branch per form. */
export function invocationsRequestSchema(signature: ModelSignature | undefined): JsonSchema {
  const params = paramsSchema(signature);
  const form = (key: string, value: JsonSchema, title: string) => ({
    title,
    type: 'object',
    required: [key],
    properties: { [key]: value, params },
    additionalProperties: false,
  });
  const inputs = signature?.inputs;
  return {
    oneOf: [
      form('dataframe_split', dataframeSplit(inputs), 'dataframe_split'),
      // Records name columns: a tensor signature refuses them (MLflow does too).
      ...(inputs?.kind === 'tensors'
        ? []
        : [
            form(
              'dataframe_records',
              { type: 'array', items: inputs === undefined ? anything : recordSchema(inputs.inputs) },
              'dataframe_records',
            ),
          ]),
      form('instances', tensorsValue(inputs, true), 'instances'),
      form('inputs', tensorsValue(inputs, false), 'inputs'),
    ],
  };
}

/** `{"predictions": …}` as the outputs signature says. */
export function invocationsResponseSchema(signature: ModelSignature | undefined): JsonSchema {
  const outputs = signature?.outputs;
  let predictions: JsonSchema = anything;
  if (outputs?.kind === 'tensors') {
    const named = outputs.inputs.every((t) => t.name !== undefined);
    const dict = {
      type: 'object',
      properties: Object.fromEntries(outputs.inputs.map((t) => [t.name as string, tensorJsonSchema(t)])),
    };
    const asSigned = !named
      ? tensorJsonSchema(outputs.inputs[0])
      : outputs.inputs.length === 1
        ? { anyOf: [tensorJsonSchema(outputs.inputs[0]), dict] }
        : dict;
    // A DataFrame input gets a DataFrame back (MLflow's pyfunc does the same): records.
    predictions = { anyOf: [asSigned, { type: 'array', items: { type: 'object' } }] };
  } else if (outputs?.kind === 'columns') {
    predictions = { type: 'array' };
  }
  return { type: 'object', required: ['predictions'], properties: { predictions } };
}

/** The V2 tensors of a schema, as `GET /v2/models/{name}` lists them. */
function v2Tensors(schema: Schema | undefined, prefix: string): { name: string; datatype: string; shape: number[]; item: JsonSchema }[] {
  if (schema === undefined) return [];
  if (schema.kind === 'tensors') {
    return schema.inputs.map((t, i) => ({
      name: t.name ?? `${prefix}-${i}`,
      datatype: v2Datatype(t.dtype),
      shape: t.shape,
      item: dtypeJsonSchema(t.dtype),
    }));
  }
  return schema.inputs.map((c, i) => {
    const t = c.colType.type;
    const dtype = t in COL_TYPE_DTYPE ? COL_TYPE_DTYPE[t as keyof typeof COL_TYPE_DTYPE] : 'object';
    return { name: c.name ?? String(i), datatype: v2Datatype(dtype), shape: [-1], item: colTypeJsonSchema(c.colType) };
  });
}

function v2Tensor(t: { name: string; datatype: string; shape: number[]; item: JsonSchema }): JsonSchema {
  return {
    type: 'object',
    required: ['name', 'shape', 'datatype', 'data'],
    properties: {
      name: { const: t.name },
      datatype: { const: t.datatype },
      shape: {
        type: 'array',
        prefixItems: t.shape.map((d) => (d === -1 ? { type: 'integer', minimum: 0 } : { const: d })),
        items: false,
        minItems: t.shape.length,
      },
      parameters: { type: 'object' },
      // Flat in row-major order, or nested as the shape.
      data: { type: 'array', items: { anyOf: [t.item, { type: 'array' }] } },
    },
  };
}

export function v2InferRequestSchema(signature: ModelSignature | undefined): JsonSchema {
  const tensors = v2Tensors(signature?.inputs, 'input');
  const input = tensors.length === 0 ? { type: 'object', required: ['name', 'shape', 'datatype', 'data'] } : unionOf(tensors.map(v2Tensor));
  return {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string', maxLength: 1024 },
      parameters: paramsSchema(signature),
      // prefixItems gives each declared input its own schema (in the signature's order, though the server finds them by name).
      inputs: {
        type: 'array',
        minItems: Math.max(tensors.length, 1),
        ...(tensors.length > 1 ? { prefixItems: tensors.map(v2Tensor) } : {}),
        items: input,
      },
      outputs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } },
    },
  };
}

export function v2InferResponseSchema(signature: ModelSignature | undefined): JsonSchema {
  const tensors = v2Tensors(signature?.outputs, 'output');
  const output = {
    type: 'object',
    required: ['name', 'shape', 'datatype', 'data'],
    properties: {
      // Unnamed outputs answer with the runtime's own names.
      name:
        tensors.length === 0 || signature?.outputs?.inputs.some((t) => t.name === undefined)
          ? { type: 'string' }
          : { enum: tensors.map((t) => t.name) },
      shape: { type: 'array', items: { type: 'integer' } },
      datatype: { type: 'string' },
      parameters: { type: 'object' },
      data: { type: 'array' },
    },
  };
  return {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      parameters: { type: 'object' },
      outputs: { type: 'array', items: output },
    },
  };
}

export function v2MetadataSchema(): JsonSchema {
  const tensor = {
    type: 'object',
    required: ['name', 'datatype', 'shape'],
    properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
  };
  return {
    type: 'object',
    required: ['name', 'versions', 'platform', 'inputs', 'outputs'],
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: tensor },
      outputs: { type: 'array', items: tensor },
    },
  };
}

/** A V2 infer body that fits the signature: -1 dims as 1, every element a plain value of its type. */
export function v2InferExample(signature: ModelSignature | undefined): unknown {
  const tensors = v2Tensors(signature?.inputs, 'input');
  if (tensors.length === 0) return undefined;
  const sample = (item: JsonSchema): unknown =>
    item.type === 'number' ? 0.5 : item.type === 'integer' ? 1 : item.type === 'boolean' ? true : item.type === 'string' ? 'a' : 0;
  return {
    inputs: tensors.map((t) => {
      const shape = t.shape.map((d) => (d === -1 ? 1 : d));
      const size = shape.reduce((a, b) => a * b, 1);
      return { name: t.name, shape, datatype: t.datatype, data: Array.from({ length: size }, () => sample(t.item)) };
    }),
  };
}

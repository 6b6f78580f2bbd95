/**
 * V2 `/infer` request bodies to model inputs: tensors by name, columns for a column signature,
 * the request-level `parameters` as the model's params.
 */
import { InvalidInputError } from '../../errors.js';
import type { DataFrame, ModelInput } from '../../schema/model-io.js';
import { type DType, type NDArray, fromNested, reshape, shapeSize } from '../../schema/ndarray.js';
import { ajv } from '../../schema/ajv.js';
import type { Schema } from '../../schema/signature.js';
import { dict, setOwn } from '../../util/dict.js';
import { type DecodeLimits, type DecodedRequest, parseJsonBody } from '../mlflow/index.js';
import { typedFrame } from '../mlflow/frame-cast.js';
import { DATATYPES, DATATYPE_DTYPE } from './datatypes.js';

/** Request-level `parameters` that steer the protocol (MLServer's codecs) rather than the model. */
const PROTOCOL_PARAMETERS = new Set(['content_type', 'headers']);

interface V2Tensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown;
}

interface V2Request {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Tensor[];
  outputs?: { name: string }[];
}

const validRequest = ajv.compile<V2Request>({
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string', maxLength: 1024 },
    parameters: { type: 'object' },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype', 'data'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 1024 },
          shape: { type: 'array', maxItems: 32, items: { type: 'integer', minimum: 0 } },
          datatype: { type: 'string', maxLength: 64 },
          parameters: { type: 'object' },
          data: {},
        },
      },
    },
    outputs: {
      type: 'array',
      maxItems: 10000,
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 1024 } } },
    },
  },
});

export interface InferRequest {
  readonly decoded: DecodedRequest;
  /** Echoed in the response, as the protocol requires. */
  readonly id: string | undefined;
  /** The outputs the caller asked for; all of them when undefined. */
  readonly outputs: readonly string[] | undefined;
}

/** Row-major leaves of `data`, flat or nested as the protocol allows. */
function flatten(data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else out.push(v);
  };
  walk(data);
  return out;
}

function flatValues(t: V2Tensor): unknown[] {
  const values = flatten(t.data);
  const need = shapeSize(t.shape);
  if (values.length !== need) {
    throw new InvalidInputError(`Input '${t.name}' has ${values.length} values, but its shape [${t.shape.join(', ')}] holds ${need}.`);
  }
  return values;
}

function dtypeOf(t: V2Tensor): DType {
  const dtype = DATATYPE_DTYPE[t.datatype];
  if (dtype === undefined) throw new InvalidInputError(`Input '${t.name}' has datatype '${t.datatype}'; supported: ${DATATYPES}.`);
  return dtype;
}

function toArray(t: V2Tensor): NDArray {
  return reshape(fromNested(flatValues(t), dtypeOf(t)), t.shape);
}

/** A column-signature model takes each V2 input as one column: shape [N] or [N, 1]. */
function toFrame(tensors: readonly V2Tensor[], schema: Schema): DataFrame {
  let rows = -1;
  const raw = tensors.map((t) => {
    dtypeOf(t);
    if (t.shape.length > 2 || (t.shape.length === 2 && t.shape[1] !== 1)) {
      throw new InvalidInputError(`Input '${t.name}' has shape [${t.shape.join(', ')}]; this model takes columns, shape [N] or [N, 1].`);
    }
    const values = flatValues(t);
    if (rows === -1) rows = values.length;
    else if (values.length !== rows) throw new InvalidInputError('All inputs must have the same number of rows.');
    return values;
  });
  return typedFrame(
    tensors.map((t) => t.name),
    raw,
    rows,
    schema,
  );
}

function toModelInput(tensors: readonly V2Tensor[], schema: Schema | undefined): ModelInput {
  if (schema?.kind === 'columns') return { kind: 'dataframe', value: toFrame(tensors, schema) };
  const single = schema?.kind === 'tensors' && schema.inputs.length === 1 && schema.inputs[0].name === undefined;
  if (single) {
    if (tensors.length !== 1) throw new InvalidInputError(`This model takes one unnamed tensor; the request has ${tensors.length} inputs.`);
    return { kind: 'tensor', value: toArray(tensors[0]) };
  }
  const value = dict<NDArray>();
  for (const t of tensors) value[t.name] = toArray(t);
  return { kind: 'tensors', value };
}

/** Decodes a V2 `/infer` body; the request-level `parameters` become the model's params. */
export function decodeInferRequest(text: string, schema: Schema | undefined, limits: DecodeLimits): InferRequest {
  // No schema for the parse: V2 data may be INT64 whatever the model takes, so keep long integers exact.
  const body = parseJsonBody(text, undefined, limits);
  if (!validRequest(body)) {
    const e = validRequest.errors?.[0];
    throw new InvalidInputError(`Invalid inference request: ${e ? `${e.instancePath || 'the body'} ${e.message ?? ''}` : 'bad shape'}.`);
  }
  const names = new Set<string>();
  for (const t of body.inputs) {
    if (names.has(t.name)) throw new InvalidInputError(`Input '${t.name}' appears more than once.`);
    names.add(t.name);
  }
  let params: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(body.parameters ?? {})) {
    if (!PROTOCOL_PARAMETERS.has(k)) setOwn((params ??= {}), k, v);
  }
  return {
    decoded: { input: toModelInput(body.inputs, schema), params, unwrapped: false },
    id: body.id,
    outputs: body.outputs?.map((o) => o.name),
  };
}

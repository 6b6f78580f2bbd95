/**
 * The Open Inference Protocol (KServe V2) next to MLflow's: model metadata and `/infer` bodies, so
 * KServe, Seldon and Triton clients reach the same models. Only the mapping between V2 tensors and
 * model inputs/outputs lives here; schema enforcement, params and batching stay the dataplane's, so
 * both protocols validate and predict identically.
 */
import { type GatewayError, InvalidInputError, clientMessage } from '../../errors.js';
import { type DataFrame, type ModelInput, type ModelOutput, decodedOutput } from '../../schema/model-io.js';
import { type DType, type NDArray, fromNested, inferDType, reshape, shapeSize } from '../../schema/ndarray.js';
import { ajv } from '../../schema/ajv.js';
import { COL_TYPE_DTYPE, type ModelSignature, type Schema } from '../../schema/signature.js';
import { ndarrayToPyJson, pyJson, pyString } from '../../util/py-json.js';
import { type DecodeLimits, type DecodedRequest, parseJsonBody } from '../mlflow/index.js';
import { typedFrame } from '../mlflow/frame-cast.js';
import { type ModelRef, type ScoreOptions, type ServableModel, decoding, encodeWithin, predictDecoded } from '../../core/dataplane.js';
import { dict, setOwn } from '../../util/dict.js';

const DATATYPE_DTYPE: Readonly<Record<string, DType>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'str',
};
const DATATYPES = Object.keys(DATATYPE_DTYPE).join(', ');

export function v2Datatype(dtype: DType): string {
  switch (dtype) {
    case 'bool':
      return 'BOOL';
    case 'float16':
      return 'FP16';
    case 'float32':
      return 'FP32';
    case 'float64':
      return 'FP64';
    case 'str':
    case 'bytes':
    case 'object':
      return 'BYTES';
    default:
      return dtype.toUpperCase();
  }
}

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

/** Output names from the signature, for a model that returns one unnamed tensor. */
function firstOutputName(signature: ModelSignature | undefined): string {
  return signature?.outputs?.inputs[0]?.name ?? 'output-0';
}

/** A JS model's JSON output as a tensor; one that is not rectangular is the model's failure (500), not the caller's. */
function jsonTensor(name: string, value: unknown): [string, NDArray] {
  try {
    return [name, fromNested(value, inferDType(value))];
  } catch (err) {
    throw new Error(`The model's output '${name}' is not a tensor: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A model's output as named V2 tensors. */
function outputTensors(encoded: ModelOutput, signature: ModelSignature | undefined): [string, NDArray][] {
  const output = decodedOutput(encoded);
  switch (output.kind) {
    case 'tensor':
      return [[firstOutputName(signature), output.value]];
    case 'tensors':
      return Object.entries(output.value);
    case 'dataframe':
      return output.value.columns.map((c, i) => [String(c), output.value.values[i]]);
    case 'json': {
      const v = output.value;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return Object.entries(v).map(([k, x]) => jsonTensor(k, x));
      return [jsonTensor(firstOutputName(signature), v)];
    }
  }
}

export interface InferResponseContext {
  readonly ref: ModelRef;
  readonly signature: ModelSignature | undefined;
  readonly id: string | undefined;
  readonly outputs: readonly string[] | undefined;
}

/** The V2 response body: each output flattened row-major, with its shape and datatype. */
export function encodeInferResponse(output: ModelOutput, ctx: InferResponseContext, limit = Infinity): string {
  let tensors = outputTensors(output, ctx.signature);
  if (ctx.outputs !== undefined) {
    const have = new Map(tensors);
    tensors = ctx.outputs.map((name) => {
      const t = have.get(name);
      if (t === undefined) {
        throw new InvalidInputError(`Unknown output '${name}'; the model's outputs are ${[...have.keys()].join(', ')}.`);
      }
      return [name, t];
    });
  }
  const parts = tensors.map(
    ([name, a]) =>
      `{"name": ${pyString(name)}, "datatype": "${v2Datatype(a.dtype)}", "shape": [${a.shape.join(', ')}], "data": ${ndarrayToPyJson(
        reshape(a, [shapeSize(a.shape)]),
        true,
        limit,
      )}}`,
  );
  const id = ctx.id === undefined ? '' : `, "id": ${pyString(ctx.id)}`;
  return `{"model_name": ${pyString(ctx.ref.name)}, "model_version": ${pyString(ctx.ref.version)}${id}, "outputs": [${parts.join(', ')}]}`;
}

interface MetadataTensor {
  name: string;
  datatype: string;
  shape: number[];
}

function metadataTensors(schema: Schema | undefined, prefix: string): MetadataTensor[] {
  if (schema === undefined) return [];
  if (schema.kind === 'tensors') {
    return schema.inputs.map((t, i) => ({ name: t.name ?? `${prefix}-${i}`, datatype: v2Datatype(t.dtype), shape: t.shape }));
  }
  return schema.inputs.map((c, i) => {
    const t = c.colType.type;
    const dtype = t in COL_TYPE_DTYPE ? COL_TYPE_DTYPE[t as keyof typeof COL_TYPE_DTYPE] : 'object';
    return { name: c.name ?? String(i), datatype: v2Datatype(dtype), shape: [-1] };
  });
}

const PLATFORMS: Readonly<Record<string, string>> = { onnx: 'onnxruntime_onnx', tfjs: 'tensorflow_js' };

/** `GET /v2/models/{name}`: the signature as V2 tensor metadata. */
export function modelMetadata(
  name: string,
  versions: readonly string[],
  flavor: string,
  signature: ModelSignature | undefined,
): Record<string, unknown> {
  return {
    name,
    versions,
    platform: PLATFORMS[flavor] ?? `modelgate_${flavor}`,
    inputs: metadataTensors(signature?.inputs, 'input'),
    outputs: metadataTensors(signature?.outputs, 'output'),
  };
}

/** `{"error": "…"}`, the protocol's error body. */
export function v2ErrorBody(err: GatewayError, requestId: string): string {
  const message = clientMessage(err.message);
  return pyJson({ error: err.status >= 500 ? `${message} (request id ${requestId})` : message });
}

/** Scores a V2 `/infer` body: the V2 counterpart of the dataplane's `scoreBody`. */
export async function scoreInferRequest(servable: ServableModel, body: string, options: ScoreOptions = {}): Promise<string> {
  const request = decoding(() =>
    decodeInferRequest(body, servable.signature?.inputs, { maxJsonDepth: options.maxJsonDepth ?? 64, maxRows: options.maxRows ?? 100_000 }),
  );
  const output = await predictDecoded(servable, request.decoded, options);
  const ctx = { ref: servable.ref, signature: servable.signature, id: request.id, outputs: request.outputs };
  return encodeWithin(output, options, (limit) => encodeInferResponse(output, ctx, limit));
}

/** `GET /v2/models/{name}`: a model's signature as V2 tensor metadata. */
import { COL_TYPE_DTYPE, type ModelSignature, type Schema } from '../../schema/signature.js';
import { v2Datatype } from './datatypes.js';

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

/** `GET /v2/models/{name}`: the signature as V2 tensor metadata. */
export function modelMetadata(
  name: string,
  versions: readonly string[],
  /** The runtime's name, e.g. `onnxruntime_onnx`. */
  platform: string,
  signature: ModelSignature | undefined,
): Record<string, unknown> {
  return {
    name,
    versions,
    platform,
    inputs: metadataTensors(signature?.inputs, 'input'),
    outputs: metadataTensors(signature?.outputs, 'output'),
  };
}

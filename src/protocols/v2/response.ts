/** Model outputs to V2 `/infer` response bodies: each output a named, flattened tensor. */
import { InvalidInputError } from '../../errors.js';
import type { ModelRef } from '../../model/ref.js';
import { type ModelOutput, decodedOutput } from '../../schema/model-io.js';
import { type NDArray, fromNested, inferDType, reshape, shapeSize } from '../../schema/ndarray.js';
import { ndarrayToPyJson } from '../../schema/ndarray-json.js';
import type { ModelSignature } from '../../schema/signature.js';
import { pyString } from '../../util/py-json.js';
import { v2Datatype } from './datatypes.js';

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

/**
 * The Open Inference Protocol (KServe V2) next to MLflow's, so KServe, Seldon and Triton clients
 * reach the same models. Only the mapping between V2 tensors and model inputs and outputs lives
 * here; everything else is the core's, as for MLflow's protocol.
 */
import type { WireProtocol } from '../protocol.js';
import { v2ErrorBody } from './errors.js';
import { decodeInferRequest } from './request.js';
import { encodeInferResponse } from './response.js';

const utf8 = new TextDecoder();

export const v2Protocol: WireProtocol = {
  name: 'v2',
  decode(body, _contentType, model, limits) {
    const text = typeof body === 'string' ? body : utf8.decode(body);
    const { decoded, id, outputs } = decodeInferRequest(text, model.signature?.inputs, limits);
    const ctx = { ref: model.ref, signature: model.signature, id, outputs };
    return { request: decoded, encode: (output, limit) => encodeInferResponse(output, ctx, limit) };
  },
  errorBody: v2ErrorBody,
};

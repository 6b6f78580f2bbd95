/** MLflow's `/invocations` as a wire protocol: its body formats in, `{"predictions": …}` out. */
import type { WireProtocol } from '../protocol.js';
import { toErrorBody } from './errors.js';
import { codecFor, decodeBody } from './index.js';
import { encodePredictions } from './response.js';
import { pyJson } from '../../util/py-json.js';

export const mlflowProtocol: WireProtocol = {
  name: 'mlflow',
  async decode(body, contentType, model, limits) {
    const request = await decodeBody(codecFor(contentType), body, model.signature?.inputs, limits);
    return { request, encode: (output, limit) => encodePredictions(output, request.unwrapped, limit) };
  },
  errorBody: (err, requestId) => pyJson(toErrorBody(err, requestId)),
};

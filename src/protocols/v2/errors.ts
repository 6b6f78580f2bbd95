import { type GatewayError, clientMessage } from '../../errors.js';
import { pyJson } from '../../util/py-json.js';

/** `{"error": "…"}`, the protocol's error body. */
export function v2ErrorBody(err: GatewayError, requestId: string): string {
  const message = clientMessage(err.message);
  return pyJson({ error: err.status >= 500 ? `${message} (request id ${requestId})` : message });
}

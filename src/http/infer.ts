/**
 * The HTTP side of an inference, for every protocol: refuse early (capacity, readiness), read the
 * body without holding an inference slot or a model version, score through the core, answer with
 * the model headers.
 */
import type { Context } from 'hono';
import type { Acquire, Inference } from '../core/inference.js';
import { scoreWith } from '../core/scoring.js';
import type { WireProtocol } from '../protocols/protocol.js';
import { type BodyReader, requestHeader } from './body.js';
import { type Handler, reply } from './respond.js';
import { requestId } from './route.js';

export interface InferDeps {
  readonly inference: Inference;
  readonly bodies: BodyReader;
}

export function inferHandler(deps: InferDeps, protocol: WireProtocol, acquireFor: (c: Context) => Acquire): Handler {
  const { inference, bodies } = deps;
  return async (c) => {
    const header = (name: string) => requestHeader(c, name);
    const acquire = acquireFor(c);
    const admitted = await inference.admit(acquire, header);
    let body;
    try {
      body = await bodies.read(c);
    } catch (err) {
      admitted();
      throw err;
    }
    try {
      const contentType = header('content-type');
      const given = requestId(c);
      const scored = await inference.run(
        acquire,
        header,
        (servable, options) => {
          admitted();
          return scoreWith(protocol, servable, contentType, body.bytes, options);
        },
        given,
      );
      const headers: Record<string, string> = { 'x-model-name': scored.ref.name, 'x-model-version': scored.ref.version };
      if (scored.route !== 'primary') headers['x-modelgate-route'] = scored.route;
      // A logged request's id is how its record is joined with a label later.
      const id = scored.requestId ?? given;
      if (id !== undefined) headers['x-request-id'] = id;
      return reply(200, scored.body, headers);
    } finally {
      admitted();
      body.release();
    }
  };
}

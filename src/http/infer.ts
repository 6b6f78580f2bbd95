/**
 * The HTTP side of an inference, for every protocol: refuse early (capacity, readiness), read the
 * body without holding an inference slot or a model version, score through the core, answer with
 * the model headers. With a tracer, the whole of it is one span (the caller's `traceparent` its parent).
 */
import type { Context } from 'hono';
import { isGatewayError } from '../errors.js';
import type { Acquire, Inference } from '../core/inference.js';
import { scoreWith } from '../core/scoring.js';
import { type RequestSpan, type RequestTracer, withSpan } from '../monitor/trace/span.js';
import type { WireProtocol } from '../protocols/protocol.js';
import { type BodyReader, requestHeader } from './body.js';
import { type Handler, reply } from './respond.js';
import { requestId } from './route.js';

export interface InferDeps {
  readonly inference: Inference;
  readonly bodies: BodyReader;
  /** Set only when tracing is on. */
  readonly tracer?: RequestTracer;
}

export function inferHandler(deps: InferDeps, protocol: WireProtocol, acquireFor: (c: Context) => Acquire): Handler {
  const { inference, bodies, tracer } = deps;
  const handle = async (c: Context, trace: RequestSpan | undefined) => {
    const header = (name: string) => requestHeader(c, name);
    const acquire = acquireFor(c);
    const admitted = await inference.admit(acquire, header);
    let body;
    const readStart = performance.now();
    try {
      body = await bodies.read(c);
    } catch (err) {
      admitted();
      throw err;
    }
    trace?.phase('read body', readStart, performance.now());
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
        trace,
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
  if (tracer === undefined) return (c) => handle(c, undefined);
  return async (c) => {
    const span = tracer.start(c.req.routePath, c.req.method, (name) => requestHeader(c, name));
    try {
      // Registry calls made while serving it (a model loaded on demand) carry its traceparent.
      const res = tracer.followsIntoRegistry === true ? await withSpan(span, () => handle(c, span)) : await handle(c, span);
      span.end(res.status);
      return res;
    } catch (err) {
      span.end(isGatewayError(err) ? err.status : 500);
      throw err;
    }
  };
}

/**
 * Mounting routes: every handler is wrapped once with authentication, the HTTP metrics, error
 * mapping (in its protocol's error shape) and the access log — one function per route, cheaper
 * than a middleware chain on the hot path. The mounted paths also answer 405 for other methods.
 */
import type { Context, Hono } from 'hono';
import { GatewayError, isGatewayError } from '../errors.js';
import type { CounterCell, GatewayMetrics } from '../core/metrics.js';
import { mlflowProtocol } from '../protocols/mlflow/protocol.js';
import type { WireProtocol } from '../protocols/protocol.js';
import type { Logger } from '../util/log.js';
import { checkBearer } from './auth.js';
import { requestHeader } from './body.js';
import { type Handler, closeConnection, reply } from './respond.js';

export interface RouteOptions {
  /** Needs a bearer token when tokens are configured. @default false */
  readonly protect?: boolean;
  /** The protocol whose error body this route answers with. @default MLflow's */
  readonly errors?: Pick<WireProtocol, 'errorBody'>;
}

/** Where a routes file mounts its handlers. */
export interface Mount {
  get(path: string, handler: Handler, options?: RouteOptions): void;
  post(path: string, handler: Handler, options?: RouteOptions): void;
}

export interface MountDeps {
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly authTokens: readonly string[];
  readonly accessLog: boolean;
  /** True once the server is shutting down: responses then close their connection. */
  readonly draining: () => boolean;
}

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

/** A caller's x-request-id, echoed when it is a sane one. */
export function requestId(c: Context): string | undefined {
  const given = requestHeader(c, 'x-request-id');
  return given !== undefined && REQUEST_ID_RE.test(given) ? given : undefined;
}

type ErrorResponder = (c: Context, err: unknown, errors: Pick<WireProtocol, 'errorBody'>) => Response;

/** Errors always carry a request id, so a failure can be found in the log. */
function errorResponder(metrics: GatewayMetrics, logger: Logger): ErrorResponder {
  const boot = Date.now().toString(36);
  let counter = 0;
  return (c, err, errors) => {
    const id = requestId(c) ?? `${boot}-${(++counter).toString(36)}`;
    let gerr: GatewayError;
    if (isGatewayError(err)) {
      gerr = err;
      // A model failure is logged with the model's own error and stack; the caller sees the request
      // id. Overload (503) and deadlines (504) are the server's state, not faults: no stack, and
      // 503s only at debug level, so a flood of them cannot flood the log.
      if (err.status === 500 || err.status > 504) logger.error({ err: err.cause ?? err, requestId: id }, err.message);
      else if (err.status === 504) logger.warn({ requestId: id, code: err.code }, err.message);
      else if (err.status >= 500) logger.debug({ requestId: id, code: err.code, status: err.status }, err.message);
      // Client errors are logged without their message, which may quote the request's data.
      else logger.debug({ requestId: id, code: err.code, status: err.status }, 'client error');
    } else {
      logger.error({ err, requestId: id }, 'unhandled error');
      gerr = new GatewayError('INTERNAL_ERROR', 'Internal error.');
    }
    metrics.errors.inc({ error_code: gerr.code });
    return reply(gerr.status, errors.errorBody(gerr, id), { 'x-request-id': id, ...gerr.headers });
  };
}

/** The mounted paths and methods, so any other method on them is a 405 with the right `Allow`. */
class MountedPaths {
  private readonly mounted: { pattern: RegExp; method: string }[] = [];

  add(path: string, method: string): void {
    const source = path
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    this.mounted.push({ pattern: new RegExp(`^${source}$`), method });
  }

  /** The methods a path allows (GET brings HEAD). */
  allowed(path: string): string | undefined {
    const methods = new Set(
      this.mounted.filter((m) => m.pattern.test(path)).flatMap((m) => (m.method === 'GET' ? ['GET', 'HEAD'] : [m.method])),
    );
    return methods.size === 0 ? undefined : [...methods].join(', ');
  }
}

/** Mounts on `app`; call `finish()` after the last route, to answer unmatched paths. */
export function mountOn(app: Hono, deps: MountDeps): Mount & { finish(): void } {
  const { metrics, logger, authTokens } = deps;
  const errorResponse = errorResponder(metrics, logger);
  const paths = new MountedPaths();

  const wrap = (path: string, method: string, handler: Handler, options: RouteOptions = {}): Handler => {
    const duration = metrics.httpDuration.cell({ method, route: path });
    const byStatus = new Map<number, CounterCell>();
    const guarded = options.protect === true && authTokens.length > 0;
    const errors = options.errors ?? mlflowProtocol;
    return async (c) => {
      const started = performance.now();
      metrics.inFlight++;
      let res: Response;
      try {
        if (guarded) checkBearer(requestHeader(c, 'authorization'), authTokens, 'This endpoint');
        res = await handler(c);
      } catch (err) {
        res = errorResponse(c, err, errors);
      }
      metrics.inFlight--;
      let count = byStatus.get(res.status);
      if (count === undefined)
        byStatus.set(res.status, (count = metrics.httpRequests.cell({ method, route: path, status: String(res.status) })));
      count.inc();
      const seconds = (performance.now() - started) / 1000;
      duration.observe(seconds);
      if (deps.accessLog) {
        logger.info({ method: c.req.method, path: c.req.path, status: res.status, ms: seconds * 1000, requestId: requestId(c) }, 'request');
      }
      if (deps.draining()) return closeConnection(res);
      return res;
    };
  };

  return {
    get(path, handler, options) {
      paths.add(path, 'GET');
      app.get(path, wrap(path, 'GET', handler, options));
    },
    post(path, handler, options) {
      paths.add(path, 'POST');
      app.post(path, wrap(path, 'POST', handler, options));
    },
    finish() {
      app.notFound(
        wrap('unmatched', 'ANY', (c) => {
          const allowed = paths.allowed(c.req.path);
          if (allowed !== undefined) {
            throw new GatewayError('BAD_REQUEST', `Method ${c.req.method} is not allowed on ${c.req.path}; use ${allowed}.`, {
              status: 405,
              headers: { allow: allowed },
            });
          }
          throw new GatewayError('ENDPOINT_NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`);
        }),
      );
      // Only reached if something escapes a route wrapper (e.g. a Hono internal error).
      app.onError((err, c) => errorResponse(c, err, mlflowProtocol));
    },
  };
}

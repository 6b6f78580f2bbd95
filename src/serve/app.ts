/**
 * The HTTP surface (Hono). Routes decode, call the dataplane, encode and map errors; nothing here
 * knows about ONNX or registries. No globals: every app has its own metrics and host.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { GatewayError, ModelNotReadyError, isGatewayError, toErrorBody } from '../errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { pyJson } from '../util/py-json.js';
import { readBodyText, requestHeader } from './body.js';
import { type ServableModel, scoreBody } from './dataplane.js';
import { type CounterCell, type GatewayMetrics, type ModelCells, createMetrics, modelCells } from './metrics.js';
import type { ModelHost } from './model-host.js';

export const MODELGATE_VERSION = '0.1.0';

export interface AppOptions {
  /** Largest accepted request body in bytes; bigger bodies get 413 before they are read. @default 104857600 (100 MiB) */
  maxBodyBytes?: number;
}

export interface AppDeps {
  host: ModelHost;
  metrics?: GatewayMetrics;
  logger?: Logger;
  options?: AppOptions;
}

type Handler = (c: Context) => Response | Promise<Response>;

const ROUTE_METHODS: Record<string, string> = {
  '/invocations': 'POST',
  '/ping': 'GET, HEAD',
  '/health': 'GET, HEAD',
  '/version': 'GET, HEAD',
  '/ready': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
  '/v2/health/live': 'GET, HEAD',
  '/v2/health/ready': 'GET, HEAD',
};

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

/**
 * Responses are built with plain header objects: @hono/node-server writes those straight to the
 * socket, where c.body()/c.header() go through a WHATWG Headers object (measured: the three
 * extra headers of a prediction cost ~10 µs of a ~110 µs request that way).
 */
function reply(status: number, body: string, headers?: Record<string, string>): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function createApp(deps: AppDeps): Hono {
  const { host } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const logger = deps.logger ?? silentLogger();
  const maxBodyBytes = deps.options?.maxBodyBytes ?? 100 * 1024 * 1024;
  const boot = Date.now().toString(36);
  let counter = 0;
  const cells = new WeakMap<ServableModel, ModelCells>();
  const cellsOf = (s: ServableModel): ModelCells => {
    let x = cells.get(s);
    if (x === undefined) cells.set(s, (x = modelCells(metrics, s.ref)));
    return x;
  };
  const app = new Hono();

  /** A caller's x-request-id is echoed; errors always carry one, so a failure can be found in the log. */
  const requestId = (c: Context): string | undefined => {
    const given = requestHeader(c, 'x-request-id');
    return given !== undefined && REQUEST_ID_RE.test(given) ? given : undefined;
  };

  const errorResponse = (c: Context, err: unknown): Response => {
    const id = requestId(c) ?? `${boot}-${(++counter).toString(36)}`;
    let gerr: GatewayError;
    if (isGatewayError(err)) {
      gerr = err;
      // A model failure is logged with the model's own error and stack; the caller sees the request id.
      if (err.status >= 500) logger.error({ err: err.cause ?? err, requestId: id }, err.message);
      else logger.debug({ requestId: id, code: err.code }, err.message);
    } else {
      logger.error({ err, requestId: id }, 'unhandled error');
      gerr = new GatewayError('INTERNAL_ERROR', 'Internal error.');
    }
    metrics.errors.inc({ error_code: gerr.code });
    return reply(gerr.status, pyJson(toErrorBody(gerr, id)), { 'x-request-id': id, ...gerr.headers });
  };

  /** Wraps a handler with the HTTP metrics and error mapping (cheaper than a middleware chain). */
  const route = (path: string, method: string, handler: Handler): Handler => {
    const duration = metrics.httpDuration.cell({ method, route: path });
    const byStatus = new Map<number, CounterCell>();
    return async (c) => {
      const started = performance.now();
      metrics.inFlight++;
      let res: Response;
      try {
        res = await handler(c);
      } catch (err) {
        res = errorResponse(c, err);
      }
      metrics.inFlight--;
      let count = byStatus.get(res.status);
      if (count === undefined)
        byStatus.set(res.status, (count = metrics.httpRequests.cell({ method, route: path, status: String(res.status) })));
      count.inc();
      duration.observe((performance.now() - started) / 1000);
      return res;
    };
  };
  const get = (path: string, handler: Handler) => app.get(path, route(path, 'GET', handler));

  app.post(
    '/invocations',
    route('/invocations', 'POST', async (c) => {
      const servable = host.pick((name) => requestHeader(c, name));
      if (servable === undefined) throw new ModelNotReadyError();
      const m = cellsOf(servable);
      const started = performance.now();
      try {
        const body = await readBodyText(c, maxBodyBytes);
        const out = await scoreBody(servable, requestHeader(c, 'content-type'), body, logger, (s) => m.inferenceDuration.observe(s));
        m.success.inc();
        const headers: Record<string, string> = { 'x-model-name': servable.ref.name, 'x-model-version': servable.ref.version };
        const id = requestId(c);
        if (id !== undefined) headers['x-request-id'] = id;
        return reply(200, out, headers);
      } catch (err) {
        const status = isGatewayError(err) ? err.status : 500;
        (status >= 500 ? m.serverError : m.clientError).inc();
        throw err;
      } finally {
        m.requestDuration.observe((performance.now() - started) / 1000);
      }
    }),
  );

  const live = () => reply(200, '{"status": "ok"}');
  get('/ping', live);
  get('/health', live);
  get('/v2/health/live', () => reply(200, '{"live": true}'));

  const readiness = () => reply(host.isReady() ? 200 : 503, pyJson({ ready: host.isReady(), ...host.status() }));
  get('/ready', readiness);
  get('/v2/health/ready', readiness);

  get('/version', () => {
    const models = host.status().models.map((m) => ({ name: m.name, version: m.version, flavor: m.flavor }));
    return reply(200, pyJson({ modelgate: MODELGATE_VERSION, node: process.versions.node, models }));
  });

  get('/metrics', async () => reply(200, await metrics.registry.metrics(), { 'content-type': metrics.registry.contentType }));

  app.notFound(
    route('unmatched', 'ANY', (c) => {
      const allowed = ROUTE_METHODS[c.req.path];
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
  app.onError((err, c) => errorResponse(c, err));

  return app;
}

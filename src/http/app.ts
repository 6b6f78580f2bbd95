/**
 * The HTTP surface (Hono). Routes decode, call the dataplane, encode and map errors; nothing here
 * knows about ONNX or registries. No globals: every app has its own metrics and host.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { GatewayError, ModelNotReadyError, isGatewayError, toErrorBody } from '../errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { pyJson } from '../util/py-json.js';
import { MODELGATE_VERSION } from '../version.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../flavors/flavor.js';
import { BodyBudget, BodyReader, type RequestBody, requestHeader } from './body.js';
import { type Handler, closeConnection, reply } from './respond.js';
import { type ScoreOptions, type ServableModel, scoreBody } from '../core/dataplane.js';
import { modelMetadata, scoreInferRequest, v2ErrorBody } from '../protocols/v2/oip.js';
import { type CounterCell, type GatewayMetrics, type ModelCells, createMetrics, modelCells } from '../core/metrics.js';
import { type AdminDeps, checkBearer, mountAdmin } from './admin.js';
import { Deadlines } from '../core/deadlines.js';
import { type HeaderLookup, type Lease, type ModelHost, PIN_HEADER } from '../core/model-host.js';

export { MODELGATE_VERSION } from '../version.js';

export interface AppOptions {
  /** Largest accepted request body in bytes; bigger bodies get 413 before they are read. @default 104857600 (100 MiB) */
  maxBodyBytes?: number;
  /** Most rows per request. @default 100000 */
  maxRows?: number;
  /** Deepest JSON nesting accepted. @default 64 */
  maxJsonDepth?: number;
  /** Inferences in progress at once before new requests get 503 (bodies being received do not count); 0 = no bound. @default 1024 */
  maxInFlight?: number;
  /** Largest response body; a bigger prediction is a 500 saying so. @default 33554432 (32 MiB) */
  maxResponseBytes?: number;
  /** Bytes of request bodies held at once (being received, decoded or scored) before new ones get 503; 0 = no budget. @default 67108864 (64 MiB) */
  maxBodyMemory?: number;
  /** Bytes per second a request body must keep up once `bodyGraceSeconds` have passed, else 408; 0 = no minimum. @default 1024 */
  minBodyRate?: number;
  /** Seconds a body may take before `minBodyRate` applies. @default 5 */
  bodyGraceSeconds?: number;
  /** Milliseconds before a request is answered 504 DEADLINE_EXCEEDED; 0 = none. @default 60000 */
  requestTimeoutMs?: number;
  /** Bearer tokens required on /invocations (none: open). @default [] */
  authTokens?: readonly string[];
  /** Also require a token on /ping, /health, /ready, /livez, /version, /v2, /v2/health/* and /v2/models/…/ready. @default false */
  authProtectHealth?: boolean;
  /** Also require a token on /metrics. @default false */
  authProtectMetrics?: boolean;
  /** Log a line per request. @default false */
  accessLog?: boolean;
}

export interface AppDeps {
  host: ModelHost;
  /** The runtime routing API under /admin; left out, there is no admin API. */
  admin?: AdminDeps;
  metrics?: GatewayMetrics;
  logger?: Logger;
  options?: AppOptions;
  /** True once the server is shutting down: responses then close their connection. */
  draining?: () => boolean;
  /** The /metrics text, when it comes from elsewhere (a cluster's aggregate). @default this app's registry */
  metricsText?: () => Promise<{ text: string; contentType: string }>;
}

const ADMIN_METHODS: Record<string, string> = {
  '/admin/routes': 'GET, HEAD',
  '/admin/weight': 'POST',
  '/admin/promote': 'POST',
  '/admin/rollback': 'POST',
  '/admin/refresh': 'POST',
};

const ROUTE_METHODS: Record<string, string> = {
  '/invocations': 'POST',
  '/ping': 'GET, HEAD',
  '/health': 'GET, HEAD',
  '/version': 'GET, HEAD',
  '/ready': 'GET, HEAD',
  '/livez': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
  '/v2/health/live': 'GET, HEAD',
  '/v2/health/ready': 'GET, HEAD',
  '/v2': 'GET, HEAD',
};

/** The methods a path allows, for 405 answers; V2 model paths carry the model's name. */
function allowedMethods(path: string, admin: boolean): string | undefined {
  const fixed = Object.hasOwn(ROUTE_METHODS, path)
    ? ROUTE_METHODS[path]
    : admin && Object.hasOwn(ADMIN_METHODS, path)
      ? ADMIN_METHODS[path]
      : undefined;
  if (fixed !== undefined) return fixed;
  if (/^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer$/.test(path)) return 'POST';
  if (/^\/v2\/models\/[^/]+(\/versions\/[^/]+)?(\/ready)?$/.test(path)) return 'GET, HEAD';
  return undefined;
}

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

/** Scrapes within this window get the same /metrics text. */
const SCRAPE_SHARE_MS = 500;

/** Scores one request body with a model, in one protocol's terms. */
type Scorer = (servable: ServableModel, options: ScoreOptions) => Promise<string>;

export function createApp(deps: AppDeps): Hono {
  const { host } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const logger = deps.logger ?? silentLogger();
  const opts = deps.options ?? {};
  const maxBodyBytes = opts.maxBodyBytes ?? 100 * 1024 * 1024;
  const maxInFlight = opts.maxInFlight ?? 1024;
  const bodies = new BodyReader({
    maxBytes: maxBodyBytes,
    budget: new BodyBudget(opts.maxBodyMemory ?? 64 * 1024 * 1024),
    minBytesPerSecond: opts.minBodyRate ?? 1024,
    graceSeconds: opts.bodyGraceSeconds ?? 5,
  });
  const timeoutMs = opts.requestTimeoutMs ?? 60_000;
  const scoreLimits = {
    maxRows: opts.maxRows ?? 100_000,
    maxJsonDepth: opts.maxJsonDepth ?? 64,
    maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  const authTokens = opts.authTokens ?? [];
  const draining = deps.draining ?? (() => false);
  const deadlines = new Deadlines();
  let active = 0;
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

  const errorResponse = (c: Context, err: unknown, v2 = false): Response => {
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
    const body = v2 ? v2ErrorBody(gerr, id) : pyJson(toErrorBody(gerr, id));
    return reply(gerr.status, body, { 'x-request-id': id, ...gerr.headers });
  };

  /**
   * Wraps a handler with authentication, the HTTP metrics, error mapping and the access log
   * (cheaper than a middleware chain on the hot path).
   */
  const route = (path: string, method: string, handler: Handler, protect = false, v2 = false): Handler => {
    const duration = metrics.httpDuration.cell({ method, route: path });
    const byStatus = new Map<number, CounterCell>();
    const guarded = protect && authTokens.length > 0;
    return async (c) => {
      const started = performance.now();
      metrics.inFlight++;
      let res: Response;
      try {
        if (guarded) checkBearer(requestHeader(c, 'authorization'), authTokens, 'This endpoint');
        res = await handler(c);
      } catch (err) {
        res = errorResponse(c, err, v2);
      }
      metrics.inFlight--;
      let count = byStatus.get(res.status);
      if (count === undefined)
        byStatus.set(res.status, (count = metrics.httpRequests.cell({ method, route: path, status: String(res.status) })));
      count.inc();
      const seconds = (performance.now() - started) / 1000;
      duration.observe(seconds);
      if (opts.accessLog) {
        logger.info({ method: c.req.method, path: c.req.path, status: res.status, ms: seconds * 1000, requestId: requestId(c) }, 'request');
      }
      if (draining()) return closeConnection(res);
      return res;
    };
  };
  const get = (path: string, handler: Handler, protect = false, v2 = false) => app.get(path, route(path, 'GET', handler, protect, v2));

  /** Mirrors a request to the shadow model after the real answer; the outcome only reaches metrics. */
  const mirror = (lease: Lease, scorer: Scorer): void => {
    const { ref } = lease.servable;
    const started = performance.now();
    scorer(lease.servable, { logger, ...scoreLimits })
      .then(
        () => metrics.shadow.inc({ model: ref.name, version: ref.version, outcome: 'success' }),
        (err: unknown) => {
          const status = isGatewayError(err) ? err.status : 500;
          metrics.shadow.inc({ model: ref.name, version: ref.version, outcome: status >= 500 ? 'server_error' : 'client_error' });
          if (status >= 500)
            logger.warn(
              { err: isGatewayError(err) ? (err.cause ?? err) : err, model: ref.name, version: ref.version },
              'shadow model failed',
            );
        },
      )
      .finally(() => {
        metrics.shadowDuration.observe({ model: ref.name, version: ref.version }, (performance.now() - started) / 1000);
        lease.release();
      });
  };

  /** Scores with a deadline; the lease is held until the model is really done, even after a 504. */
  const scoreWithin = (lease: Lease, scorer: Scorer, m: ModelCells): Promise<string> => {
    const work = scorer(lease.servable, {
      logger,
      onPredict: (s) => m.inferenceDuration.observe(s),
      ...scoreLimits,
      ...(timeoutMs > 0 ? { deadline: performance.now() + timeoutMs } : {}),
    }).finally(() => lease.release());
    if (timeoutMs <= 0) return work;
    return deadlines.race(work, timeoutMs);
  };

  /**
   * One inference request in any protocol: the in-flight bound and the model checked before the
   * body is read (so an overloaded or unready server refuses at once), the body read without
   * holding an inference slot or a model version, then the lease, the deadline, shadow mirroring
   * and the model headers.
   */
  const infer = async (
    c: Context,
    acquire: (header: HeaderLookup) => Lease | undefined,
    scorerFor: (body: RequestBody, contentType: string | undefined) => Scorer,
  ): Promise<Response> => {
    const header = (name: string) => requestHeader(c, name);
    checkCapacity();
    const probe = acquire(header);
    if (probe === undefined) throw new ModelNotReadyError();
    probe.release();
    const body = await bodies.read(c);
    try {
      const scorer = scorerFor(body, header('content-type'));
      checkCapacity();
      const lease = acquire(header);
      if (lease === undefined) throw new ModelNotReadyError();
      return await inferWith(c, lease, scorer, header);
    } finally {
      body.release();
    }
  };

  /** 503 when `maxInFlight` inferences are running; the connection closes so an unread body is not parsed as a request. */
  const checkCapacity = (): void => {
    if (maxInFlight > 0 && active >= maxInFlight) {
      throw new GatewayError(
        'TEMPORARILY_UNAVAILABLE',
        `The server is at its limit of ${maxInFlight} requests in progress; retry shortly.`,
        { headers: { 'retry-after': '1', connection: 'close' } },
      );
    }
  };

  const inferWith = async (c: Context, lease: Lease, scorer: Scorer, header: HeaderLookup): Promise<Response> => {
    const { servable } = lease;
    const m = cellsOf(servable);
    const started = performance.now();
    active++;
    try {
      const out = await scoreWithin(lease, scorer, m);
      m.success.inc();
      const shadow = host.shadow?.(header);
      if (shadow !== undefined) mirror(shadow, scorer);
      const headers: Record<string, string> = { 'x-model-name': servable.ref.name, 'x-model-version': servable.ref.version };
      if (lease.route !== 'primary') headers['x-modelgate-route'] = lease.route;
      const id = requestId(c);
      if (id !== undefined) headers['x-request-id'] = id;
      return reply(200, out, headers);
    } catch (err) {
      const status = isGatewayError(err) ? err.status : 500;
      (status >= 500 ? m.serverError : m.clientError).inc();
      throw err;
    } finally {
      active--;
      m.requestDuration.observe((performance.now() - started) / 1000);
    }
  };

  app.post(
    '/invocations',
    route(
      '/invocations',
      'POST',
      (c) =>
        infer(
          c,
          (header) => host.acquire(header),
          (body, contentType) => (servable, o) => scoreBody(servable, contentType, body.bytes, o),
        ),
      true,
    ),
  );

  if (deps.admin !== undefined) mountAdmin(deps.admin, { post: (p, h) => app.post(p, route(p, 'POST', h)), get });

  // Liveness: 200 while the process runs and answers, whatever the model is doing.
  const health = opts.authProtectHealth === true;
  get('/livez', () => reply(200, '{"status": "ok"}'), health);
  get('/v2/health/live', () => reply(200, '{"live": true}'), health);

  // With authentication on, the details (model URIs, alias names, error text) are for token holders only.
  const readiness = (c: Context) => {
    const ready = host.isReady();
    const status = host.status();
    const detailed = authTokens.length === 0 || hasToken(c);
    return reply(ready ? 200 : 503, pyJson(detailed ? { ready, ...status } : { ready, state: status.state }));
  };
  const hasToken = (c: Context) => {
    try {
      checkBearer(requestHeader(c, 'authorization'), authTokens, 'This endpoint');
      return true;
    } catch {
      return false;
    }
  };
  get('/ready', readiness, health);
  get('/v2/health/ready', readiness, health);
  // MLflow's /ping and /health mean "ready to serve": its server listens only once the model is
  // loaded, and SageMaker-style platforms send traffic as soon as /ping answers 200.
  get('/ping', readiness, health);
  get('/health', readiness, health);

  // The Open Inference Protocol (KServe V2) on the same models, answering errors as {"error": …}.
  /** The routes serving `name` (at `version`); a model this server does not serve is a 404. */
  const servedAs = (name: string, version: string | undefined) => {
    const serving = host.status().models.filter((m) => m.route !== 'shadow');
    if (serving.length === 0) throw new ModelNotReadyError();
    const named = serving.filter((m) => m.name === name);
    if (named.length === 0) {
      const names = [...new Set(serving.map((m) => m.name))];
      throw new GatewayError('RESOURCE_DOES_NOT_EXIST', `Model '${name}' is not served here; this server serves ${names.join(', ')}.`);
    }
    const match = version === undefined ? named : named.filter((m) => m.version === version);
    if (match.length === 0) {
      const versions = named.map((m) => m.version).join(', ');
      throw new GatewayError(
        'RESOURCE_DOES_NOT_EXIST',
        `Version ${version} of model '${name}' is not served here; it serves version ${versions}.`,
      );
    }
    return { versions: [...new Set(named.map((m) => m.version))], route: match[0].route ?? 'primary' };
  };

  /**
   * A lease on `name` (at `version`). Only a split between versions of this one model is left to
   * the host (canary weight, sticky keys); a version in the path, or another model beside it, pins the route.
   */
  const acquireV2 =
    (name: string, version: string | undefined) =>
    (header: HeaderLookup): Lease | undefined => {
      const fits = (l: Lease) => l.servable.ref.name === name && (version === undefined || l.servable.ref.version === version);
      // The common case first, without building the host's status: its own choice (or the version pin) fits.
      let first: Lease | undefined;
      try {
        first = host.acquire(version === undefined ? header : (h) => (h === PIN_HEADER ? version : header(h)));
      } catch {
        first = undefined; // a version no route serves: servedAs says so below
      }
      if (first !== undefined && fits(first)) return first;
      first?.release();
      if (first === undefined && !host.isReady()) return undefined;
      const { route: pin } = servedAs(name, version);
      const lease = host.acquire((h) => (h === PIN_HEADER ? pin : header(h)));
      if (lease !== undefined && !fits(lease)) {
        // The route switched versions between the look and the lease: the caller retries.
        lease.release();
        throw new ModelNotReadyError();
      }
      return lease;
    };

  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    const param = (c: Context) => ({ name: c.req.param('name') as string, version: c.req.param('version') as string | undefined });
    app.post(
      `${base}/infer`,
      route(
        `${base}/infer`,
        'POST',
        (c) => {
          const { name, version } = param(c);
          return infer(c, acquireV2(name, version), (body) => (servable, o) => scoreInferRequest(servable, body.text, o));
        },
        true,
        true,
      ),
    );
    get(
      base,
      (c) => {
        const { name, version } = param(c);
        const { versions } = servedAs(name, version);
        const lease = acquireV2(name, version)((h) => requestHeader(c, h));
        if (lease === undefined) throw new ModelNotReadyError();
        try {
          const { servable } = lease;
          return reply(200, pyJson(modelMetadata(name, versions, servable.flavor, servable.signature)));
        } finally {
          lease.release();
        }
      },
      true,
      true,
    );
    get(
      `${base}/ready`,
      (c) => {
        const { name, version } = param(c);
        if (!host.isReady()) return reply(503, pyJson({ name, ready: false }));
        servedAs(name, version);
        return reply(200, pyJson({ name, ready: true }));
      },
      health,
      true,
    );
  }

  get('/v2', () => reply(200, pyJson({ name: 'modelgate', version: MODELGATE_VERSION, extensions: [] })), health, true);

  get(
    '/version',
    () => {
      const models = host.status().models.map((m) => ({ name: m.name, version: m.version, flavor: m.flavor }));
      return reply(200, pyJson({ modelgate: MODELGATE_VERSION, node: process.versions.node, models }));
    },
    health,
  );

  get(
    '/metrics',
    async () => {
      const m = await scrape();
      return reply(200, m.text, { 'content-type': m.contentType });
    },
    opts.authProtectMetrics === true,
  );

  /**
   * Scrapes that arrive within a short window share one rendering: rendering (and, with workers,
   * collecting from every process) is costly, and a crowd of scrapers must not slow predictions.
   */
  let lastScrape: { at: number; result: Promise<{ text: string; contentType: string }> } | undefined;
  function scrape(): Promise<{ text: string; contentType: string }> {
    const now = performance.now();
    if (lastScrape !== undefined && now - lastScrape.at < SCRAPE_SHARE_MS) return lastScrape.result;
    const result = deps.metricsText
      ? deps.metricsText()
      : metrics.registry.metrics().then((text) => ({ text, contentType: metrics.registry.contentType }));
    lastScrape = { at: now, result };
    result.catch(() => (lastScrape = undefined));
    return result;
  }

  app.notFound(
    route('unmatched', 'ANY', (c) => {
      const allowed = allowedMethods(c.req.path, deps.admin !== undefined);
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

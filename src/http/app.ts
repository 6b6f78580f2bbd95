/**
 * The HTTP surface (Hono): one routes file per protocol mounted over the protocol-neutral core.
 * Nothing here knows about ONNX or registries. No globals: every app has its own metrics and host.
 */
import { Hono } from 'hono';
import { createInference } from '../core/inference.js';
import { type GatewayMetrics, createMetrics } from '../core/metrics.js';
import type { ModelHost } from '../core/model-host.js';
import { LIMIT_DEFAULTS } from '../limits.js';
import type { Monitor } from '../monitor/index.js';
import type { RequestTracer } from '../monitor/trace/span.js';
import { type Logger, silentLogger } from '../util/log.js';
import { BodyBudget, BodyReader } from './body.js';
import { mountOn } from './route.js';
import { type AdminDeps, mountAdmin } from './routes/admin.js';
import { mountConsole } from './routes/console.js';
import { mountMlflow } from './routes/mlflow.js';
import { type MetricsText, mountOps, readinessHandler } from './routes/ops.js';
import { mountRepository } from './routes/repository.js';
import { mountV2 } from './routes/v2.js';

export { MODELGATE_VERSION } from '../version.js';

export interface AppOptions {
  /** Largest accepted request body in bytes; bigger bodies get 413 before they are read. @default 33554432 (32 MiB) */
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
  /** Serve the console (/, /console), /openapi.json and /docs. @default true */
  console?: boolean;
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
  metricsText?: () => Promise<MetricsText>;
  /** The inference log and drift, fed by every inference; its state is in /ready's details. */
  monitor?: Monitor;
  /** Request spans, when tracing is configured (the server loads it; nothing of it is loaded otherwise). */
  tracer?: RequestTracer;
}

export function createApp(deps: AppDeps): Hono {
  const { host } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const logger = deps.logger ?? silentLogger();
  const opts = deps.options ?? {};
  const authTokens = opts.authTokens ?? [];
  const protectHealth = opts.authProtectHealth === true;
  const app = new Hono();
  const m = mountOn(app, { metrics, logger, authTokens, accessLog: opts.accessLog === true, draining: deps.draining ?? (() => false) });

  // The limits' names are the same in both: the core takes what it needs of them.
  const { monitor } = deps;
  const inference = createInference({ host, metrics, logger, limits: opts, ...(monitor === undefined ? {} : { monitor }) });
  const bodies = new BodyReader({
    maxBytes: opts.maxBodyBytes ?? LIMIT_DEFAULTS.maxBodyBytes,
    budget: new BodyBudget(opts.maxBodyMemory ?? LIMIT_DEFAULTS.maxBodyMemory),
    minBytesPerSecond: opts.minBodyRate ?? LIMIT_DEFAULTS.minBodyRate,
    graceSeconds: opts.bodyGraceSeconds ?? LIMIT_DEFAULTS.bodyGraceSeconds,
  });
  const readiness = readinessHandler(host, authTokens, monitor && (() => monitor.status()));

  const infer = { inference, bodies, ...(deps.tracer === undefined ? {} : { tracer: deps.tracer }) };
  mountMlflow(m, { host, ...infer });
  mountV2(m, { host, ...infer, protectHealth, readiness });
  mountOps(m, {
    host,
    authTokens,
    protectHealth,
    protectMetrics: opts.authProtectMetrics === true,
    readiness,
    metricsText:
      deps.metricsText ?? (() => metrics.registry.metrics().then((text) => ({ text, contentType: metrics.registry.contentType }))),
  });
  if (deps.admin !== undefined) mountAdmin(m, deps.admin);
  if (deps.admin !== undefined && host.catalog !== undefined) mountRepository(m, { catalog: host.catalog, tokens: deps.admin.tokens });
  if (opts.console !== false) {
    const document = {
      auth: authTokens.length > 0,
      protectHealth: protectHealth && authTokens.length > 0,
      protectMetrics: opts.authProtectMetrics === true && authTokens.length > 0,
      admin: deps.admin !== undefined,
    };
    const drift = monitor?.driftSource;
    mountConsole(m, { host, metrics, document, ...(drift === undefined ? {} : { drift }) });
  }
  m.finish();
  return app;
}

/**
 * A running gateway: HTTP listening at once (liveness answers, readiness says 503), the models
 * loading behind it, and a graceful stop that lets in-flight requests finish.
 */
import type { Server } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import { serve } from '@hono/node-server';
import { type ResolvedServeConfig, perModelPercent } from '../config/index.js';
import { Monitor, type MonitorOptions } from '../monitor/index.js';
import { stopSessionThreads } from '../flavors/onnx/runner.js';
import { openRegistry } from '../core/registration.js';
import type { Logger } from '../util/log.js';
import { redactUri } from '../util/redact.js';
import { createApp } from '../http/app.js';
import type { RouteControl } from '../core/model-host.js';
import { type GatewayMetrics, batchObserver, createMetrics } from '../core/metrics.js';
import { type MemberSpec, ModelSet } from '../core/routing/model-set.js';
import { ModelRouter, type RoutesConfig } from '../core/routing/router.js';
import { type ModelSource, registrySource } from '../core/routing/source.js';
import { ConfigError } from '../errors.js';
import { registryModels } from '../core/routing/discovery.js';
import type { Registry } from '../registry/registry.js';
import { servedNameOf } from '../config/index.js';
import { type RequestTracer, markTracingLoaded, tracesUrl } from '../monitor/trace/span.js';
import { MODELGATE_VERSION } from '../version.js';

export interface RunningServer {
  readonly server: Server;
  /** The single model's router; a server of several models has `models` instead (and this throws). */
  readonly router: ModelRouter;
  /** The gateway, when several models (or models loaded on demand) are served. */
  readonly models: ModelSet | undefined;
  readonly metrics: GatewayMetrics;
  readonly port: number;
  /** Resolves when every route is loaded and warmed (rejects if one cannot be). */
  readonly loaded: Promise<void>;
  /** Turns readiness off, stops accepting, waits for in-flight requests (up to the drain time), unloads. */
  close(): Promise<void>;
}

/** What a cluster worker changes: where /metrics comes from, and admin changes that reach every worker. */
export interface StartHooks {
  metricsText?: () => Promise<{ text: string; contentType: string }>;
  wrapControl?: (control: RouteControl) => RouteControl;
  /** Load the models before listening (cluster workers: the port only reaches workers that can serve). */
  listenAfterLoad?: boolean;
}

/** Signals that stop the server gracefully (drain, then exit 0). SIGUSR2 is what nodemon and similar tools send to restart. */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'] as const;

/** How long connections open at shutdown may still bring a request before idle ones are closed (at most the grace period). */
const IDLE_CLOSE_DELAY_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The monitor's settings from the serve options: the log only when it has a sink and a percentage. */
export function monitorOptions(config: ResolvedServeConfig): MonitorOptions {
  const perModel = perModelPercent(config.logRequestsByModel);
  const logging =
    (config.logDir !== undefined || config.logUrl !== undefined) && (config.logRequests > 0 || Object.keys(perModel).length > 0);
  const log = logging
    ? {
        percent: config.logRequests,
        perModel,
        redact: config.logRedact,
        ...(config.logDir === undefined ? {} : { dir: config.logDir }),
        ...(config.logUrl === undefined ? {} : { url: config.logUrl }),
        maxFileBytes: config.logMaxFileBytes,
        rotateSeconds: config.logRotateSeconds,
        queue: { capacity: config.logQueueSize },
      }
    : undefined;
  // Drift is on for every version with a reference profile; a baseline from requests on top.
  const drift = { windowRows: config.driftWindow, baselineRequests: config.driftBaselineRequests, threshold: config.driftThreshold };
  return { ...(log === undefined ? {} : { log }), drift };
}

/** The OpenTelemetry packages are imported only here and only when an endpoint is set: off, none of them loads. */
async function startTracing(config: ResolvedServeConfig, logger: Logger): Promise<RequestTracer | undefined> {
  if (config.otlpEndpoint === undefined) return undefined;
  const { otlpTracer } = await import('../monitor/trace/otel.js');
  markTracingLoaded();
  const url = tracesUrl(config.otlpEndpoint);
  logger.info({ endpoint: redactUri(url) }, 'tracing requests to OTLP/HTTP');
  const tracer = otlpTracer({ url, serviceName: 'modelgate', serviceVersion: MODELGATE_VERSION, sampleRatio: config.traceSampleRatio });
  // Only a server that loads models on demand calls the registry while serving a request.
  const onDemand = config.lazy || config.maxLoadedModels > 0 || config.maxModelMemory > 0 || config.idleUnloadSeconds > 0;
  return { ...tracer, followsIntoRegistry: onDemand };
}

export async function startServer(config: ResolvedServeConfig, logger: Logger, hooks: StartHooks = {}): Promise<RunningServer> {
  const metrics = createMetrics();
  const monitor = new Monitor(monitorOptions(config), metrics.registry, logger);
  const tracer = await startTracing(config, logger);
  const registry = openRegistry(config.registryUri);
  await registry.sweep();
  const source = registrySource(registry, {
    logger,
    flavor: {
      intraOpThreads: config.intraOpThreads,
      jsIsolation: config.jsIsolation,
      onnxIsolation: config.onnxIsolation,
      callTimeoutMs: config.requestTimeoutSeconds * 1000,
      maxResponseBytes: config.maxResponseBytes,
    },
    batching: { maxBatchSize: config.maxBatchSize, waitMs: config.batchWaitMs },
    loadTimeoutMs: config.loadTimeoutSeconds * 1000,
    batchObserver: (ref) => batchObserver(metrics, ref),
  });
  const gateway = servesSeveral(config) ? createModelSet(config, source, logger, metrics, registry) : undefined;
  const router = gateway ?? new ModelRouter({ ...singleRoutes(config), pollSeconds: config.pollSeconds }, source, logger, metrics);
  let draining = false;
  const app = createApp({
    host: router,
    metrics,
    logger,
    draining: () => draining,
    monitor,
    ...(tracer === undefined ? {} : { tracer }),
    ...(hooks.metricsText === undefined ? {} : { metricsText: hooks.metricsText }),
    options: {
      maxBodyBytes: config.maxBodyBytes,
      maxBodyMemory: config.maxBodyMemory,
      maxResponseBytes: config.maxResponseBytes,
      minBodyRate: config.minBodyRate,
      bodyGraceSeconds: config.bodyGraceSeconds,
      maxRows: config.maxRows,
      maxJsonDepth: config.maxJsonDepth,
      maxInFlight: config.maxInFlight,
      requestTimeoutMs: config.requestTimeoutSeconds * 1000,
      authTokens: config.authTokens,
      authProtectHealth: config.authProtectHealth,
      authProtectMetrics: config.authProtectMetrics,
      accessLog: config.accessLog,
      console: !config.noConsole,
    },
    ...(config.adminTokens.length > 0 ? { admin: { tokens: config.adminTokens, control: hooks.wrapControl?.(router) ?? router } } : {}),
  });
  const listen = () =>
    new Promise<Server>((resolveListen, reject) => {
      const s = serve(
        {
          fetch: app.fetch,
          port: config.port,
          hostname: config.host,
          // Slow clients cannot hold a connection: headers must arrive within headersTimeout, the
          // whole request within requestTimeout (Node answers 408 and closes).
          serverOptions: {
            headersTimeout: config.headersTimeoutSeconds * 1000,
            requestTimeout: config.bodyTimeoutSeconds * 1000,
            // How often Node looks for connections past those timeouts (its default is 30 s).
            connectionsCheckingInterval: 500,
            keepAliveTimeout: 5000,
          },
        },
        () => resolveListen(s as Server),
      );
      // Node aborts a request whose client half-closes (FIN after the body, which HTTP/1.1 allows)
      // unless told otherwise; such a client still gets its answer, then the connection closes.
      (s as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
      s.once('error', reject);
    });
  const started = () =>
    router.start().then(() => {
      if (gateway !== undefined) logger.info({ models: gateway.index() }, 'ready');
      else
        logger.info(
          { routes: (router as ModelRouter).routes().slots.map((s) => ({ route: s.route, uri: s.uri, version: s.version })) },
          'ready',
        );
    });
  let server: Server;
  let loaded: Promise<void>;
  if (hooks.listenAfterLoad === true) {
    await started();
    server = await listen();
    loaded = Promise.resolve();
  } else {
    server = await listen();
    loaded = started();
  }
  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      host: config.host,
      port,
      model: gateway === undefined ? config.modelUri : gateway.names(),
      canary: config.canaryUri,
      shadow: config.shadowUri,
      registry: redactUri(config.registryUri),
    },
    'listening',
  );

  /**
   * Graceful stop: readiness turns 503 at once; for the grace period requests are served as usual
   * (load balancers take a moment to notice, and clients keep their connections, so few new ones
   * are waiting to be accepted when the listener closes: the kernel resets those). Then the
   * listener stops accepting, every answer says `Connection: close`, connections idle a moment
   * later are closed, in-flight requests get up to the drain time, and the models are unloaded.
   */
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      router.beginShutdown();
      if (config.shutdownGraceSeconds > 0) await sleep(config.shutdownGraceSeconds * 1000);
      // net.Server's close, not http.Server's: the latter also drops idle connections at once,
      // which resets a request that is on its way on one of them.
      const drained = new Promise<void>((r) => NetServer.prototype.close.call(server, () => r()));
      draining = true;
      await Promise.race([drained, sleep(Math.min(IDLE_CLOSE_DELAY_MS, config.shutdownGraceSeconds * 1000))]);
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.drainSeconds * 1000);
      await drained;
      clearTimeout(timer);
      await router.close();
      await monitor.close();
      await tracer?.shutdown();
      // Loads still in progress give up their onnxruntime threads; the process may exit once they are gone.
      await stopSessionThreads();
    })());

  return {
    server,
    get router(): ModelRouter {
      if (gateway !== undefined) throw new Error('several models are served: use .models');
      return router as ModelRouter;
    },
    models: gateway,
    metrics,
    port,
    loaded,
    close,
  };
}

/** A single model, as the flags and a one-model routes file give it. */
function singleRoutes(config: ResolvedServeConfig): RoutesConfig {
  return {
    primary: config.modelUri,
    ...(config.canaryUri === undefined ? {} : { canary: config.canaryUri, canaryWeight: config.canaryWeight }),
    ...(config.stickyHeader === undefined ? {} : { stickyHeader: config.stickyHeader }),
    ...(config.shadowUri === undefined ? {} : { shadow: config.shadowUri, shadowPercent: config.shadowPercent }),
  };
}

/** A list of models, or any of the on-demand settings, makes a gateway; one model without them is served as always. */
function servesSeveral(config: ResolvedServeConfig): boolean {
  return (
    config.models !== undefined ||
    config.allModels !== undefined ||
    config.lazy ||
    config.maxLoadedModels > 0 ||
    config.maxModelMemory > 0 ||
    config.idleUnloadSeconds > 0
  );
}

function createModelSet(
  config: ResolvedServeConfig,
  source: ModelSource,
  logger: Logger,
  metrics: GatewayMetrics,
  registry: Registry,
): ModelSet {
  if (config.workers > 1) throw new ConfigError('--workers cannot be combined with several models or on-demand loading yet.');
  const listed = config.models;
  if (listed !== undefined && (config.canaryUri !== undefined || config.shadowUri !== undefined)) {
    throw new ConfigError('With several models, give each its canary and shadow in the routes file (models: [{primary, canary, …}]).');
  }
  const single = config.modelUri === '' ? [] : [{ ...singleRoutes(config), name: servedNameOf(config.modelUri) }];
  const specs: MemberSpec[] = (listed ?? single).map(({ name, ...routes }) => ({
    name: name ?? servedNameOf(routes.primary),
    routes,
    eager: !config.lazy,
  }));
  return new ModelSet(specs, source, logger, metrics, {
    maxLoaded: config.maxLoadedModels,
    maxMemoryBytes: Math.round(config.maxModelMemory * 1024 * 1024),
    idleUnloadSeconds: config.idleUnloadSeconds,
    pollSeconds: config.pollSeconds,
    ...(config.allModels === undefined
      ? {}
      : { discover: registryModels(registry, config.allModels === 'latest' ? undefined : config.allModels, !config.lazy) }),
  });
}

/**
 * A running gateway: HTTP listening at once (liveness answers, readiness says 503), the models
 * loading behind it, and a graceful stop that lets in-flight requests finish.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ResolvedServeConfig } from '../config.js';
import { openRegistry } from '../registry/registry.js';
import type { Logger } from '../util/log.js';
import { createApp } from './app.js';
import type { RouteControl } from './admin.js';
import { type GatewayMetrics, batchObserver, createMetrics } from './metrics.js';
import { ModelRouter } from './router/router.js';
import { registrySource } from './router/source.js';

export interface RunningServer {
  readonly server: Server;
  readonly router: ModelRouter;
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
}

export async function startServer(config: ResolvedServeConfig, logger: Logger, hooks: StartHooks = {}): Promise<RunningServer> {
  const metrics = createMetrics();
  const source = registrySource(openRegistry(config.registryUri), {
    logger,
    flavor: {
      intraOpThreads: config.intraOpThreads,
      jsIsolation: config.jsIsolation,
      callTimeoutMs: config.requestTimeoutSeconds * 1000,
    },
    batching: { maxBatchSize: config.maxBatchSize, waitMs: config.batchWaitMs },
    batchObserver: (ref) => batchObserver(metrics, ref),
  });
  const router = new ModelRouter(
    {
      primary: config.modelUri,
      ...(config.canaryUri === undefined ? {} : { canary: config.canaryUri, canaryWeight: config.canaryWeight }),
      ...(config.stickyHeader === undefined ? {} : { stickyHeader: config.stickyHeader }),
      ...(config.shadowUri === undefined ? {} : { shadow: config.shadowUri, shadowPercent: config.shadowPercent }),
      pollSeconds: config.pollSeconds,
    },
    source,
    logger,
    metrics,
  );
  let draining = false;
  const app = createApp({
    host: router,
    metrics,
    logger,
    draining: () => draining,
    ...(hooks.metricsText === undefined ? {} : { metricsText: hooks.metricsText }),
    options: {
      maxBodyBytes: config.maxBodyBytes,
      maxRows: config.maxRows,
      maxJsonDepth: config.maxJsonDepth,
      maxInFlight: config.maxInFlight,
      requestTimeoutMs: config.requestTimeoutSeconds * 1000,
      authTokens: config.authTokens,
      authProtectHealth: config.authProtectHealth,
      authProtectMetrics: config.authProtectMetrics,
      accessLog: config.accessLog,
    },
    ...(config.adminTokens.length > 0 ? { admin: { tokens: config.adminTokens, control: hooks.wrapControl?.(router) ?? router } } : {}),
  });
  const server = await new Promise<Server>((resolveListen, reject) => {
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
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(
    { host: config.host, port, model: config.modelUri, canary: config.canaryUri, shadow: config.shadowUri, registry: config.registryUri },
    'listening',
  );

  const loaded = router.start().then(() => {
    logger.info({ routes: router.routes().slots.map((s) => ({ route: s.route, uri: s.uri, version: s.version })) }, 'ready');
  });

  /**
   * Graceful stop: readiness turns 503 at once; for the grace period new requests are still
   * served (load balancers take a moment to notice) with `Connection: close`; then the listener
   * closes, idle connections are dropped, in-flight requests get up to the drain time, and the
   * models are unloaded.
   */
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      router.beginShutdown();
      draining = true;
      if (config.shutdownGraceSeconds > 0) await new Promise((r) => setTimeout(r, config.shutdownGraceSeconds * 1000));
      const drained = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.drainSeconds * 1000);
      await drained;
      clearTimeout(timer);
      await router.close();
    })());

  return { server, router, metrics, port, loaded, close };
}

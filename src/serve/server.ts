/**
 * A running gateway: HTTP listening at once (liveness answers, readiness says 503), the model
 * loading behind it, and a graceful stop that lets in-flight requests finish.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ResolvedServeConfig } from '../config.js';
import { describeError } from '../errors.js';
import { openRegistry } from '../registry/registry.js';
import type { Logger } from '../util/log.js';
import { createApp } from './app.js';
import { loadModel } from './load-model.js';
import { createMetrics } from './metrics.js';
import { SingleModelHost } from './model-host.js';

export interface RunningServer {
  readonly server: Server;
  readonly host: SingleModelHost;
  readonly port: number;
  /** Resolves when the model is loaded and warmed (rejects if it cannot be). */
  readonly loaded: Promise<void>;
  /** Stops accepting, waits for in-flight requests (up to the drain time), unloads the model. */
  close(): Promise<void>;
}

export async function startServer(config: ResolvedServeConfig, logger: Logger): Promise<RunningServer> {
  const metrics = createMetrics();
  const host = new SingleModelHost(metrics);
  const app = createApp({ host, metrics, logger, options: { maxBodyBytes: config.maxBodyBytes } });
  const server = await new Promise<Server>((resolveListen, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolveListen(s as Server));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: config.host, port, model: config.modelUri, registry: config.registryUri }, 'listening');

  const loaded = (async () => {
    try {
      const servable = await loadModel(config.modelUri, openRegistry(config.registryUri), {
        logger,
        flavor: { intraOpThreads: config.intraOpThreads },
      });
      host.setReady(servable);
      logger.info({ model: servable.ref.name, version: servable.ref.version }, 'ready');
    } catch (err) {
      host.setFailed(describeError(err));
      throw err;
    }
  })();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      host.setFailed('shutting down');
      const drained = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.drainSeconds * 1000);
      await drained;
      clearTimeout(timer);
      await host.current()?.model.unload();
    })());

  return { server, host, port, loaded, close };
}

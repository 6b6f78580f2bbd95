/** `modelgate serve`: run the gateway until SIGTERM, SIGINT, SIGHUP or SIGUSR2 (each drains, then exits 0). */
import cluster from 'node:cluster';
import { type ServeOptions, environment, loadServeConfig, modelArgument } from '../config/index.js';
import { describeError } from '../errors.js';
import { runPrimary, startWorker } from '../server/cluster.js';
import { STOP_SIGNALS, startServer } from '../server/server.js';
import { type Logger, createLogger, errorForLog } from '../util/log.js';
import type { ParsedCommand } from './spec.js';

/**
 * Starts the server; returns -1 because the process keeps running. Layers: routes file < environment < token files < flags.
 * `onListening` gets the port the server got (the one asked for, or the kernel's choice for port 0).
 */
export async function runServe(flags: ServeOptions, onListening?: (port: number) => void): Promise<number> {
  const config = await loadServeConfig(environment(), flags);
  const logger = createLogger({ level: config.logLevel });
  if (config.workers > 1 && cluster.isPrimary) {
    logger.info({ workers: config.workers }, 'starting workers');
    const code = await runPrimary(config, logger);
    logger.info({ code }, 'stopped');
    logger.flush();
    process.exit(code);
  }
  const running = cluster.isWorker
    ? await startWorker(config, logger).catch((err: unknown) => exitFailed(err, logger))
    : await startServer(config, logger);
  onListening?.(running.port);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    running.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const sig of STOP_SIGNALS) process.once(sig, () => stop(sig));
  running.loaded.catch((err: unknown) => {
    // A server that cannot load its model exits, so a supervisor sees it instead of a server stuck unready.
    void running.close().finally(() => exitFailed(err, logger));
  });
  return -1;
}

/** Says why the server cannot run, and exits 1 (a cluster worker too: its IPC channel would keep it alive). */
function exitFailed(err: unknown, logger: Logger): never {
  logger.fatal({ err: errorForLog(err) }, describeError(err));
  logger.flush();
  process.stderr.write(`modelgate: ${describeError(err)}\n`);
  process.exit(1);
}

/** `-m` given more than once, or as `name=URI`, is a list of models; once as a plain URI, a single model as before. */
export function modelFlags(values: Readonly<Record<string, unknown>>): ServeOptions {
  const { modelUri, ...rest } = values;
  if (!Array.isArray(modelUri)) return values as ServeOptions;
  const models = (modelUri as string[]).map(modelArgument);
  if (models.length === 1 && models[0].name === undefined) return { ...rest, modelUri: models[0].primary } as ServeOptions;
  return { ...rest, models } as ServeOptions;
}

export function serveCommand(parsed: ParsedCommand): Promise<number> {
  return runServe(modelFlags(parsed.values));
}

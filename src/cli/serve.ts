/** `modelgate serve`: run the gateway until SIGTERM, SIGINT, SIGHUP or SIGUSR2 (each drains, then exits 0). */
import cluster from 'node:cluster';
import { type ServeOptions, environment, loadServeConfig } from '../config/index.js';
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

export function serveCommand(parsed: ParsedCommand): Promise<number> {
  return runServe(parsed.values as ServeOptions);
}

/** `modelgate serve`: run the gateway until SIGTERM/SIGINT. */
import { type ServeOptions, optionsFromEnv, resolveServeConfig } from '../config.js';
import { describeError } from '../errors.js';
import { startServer } from '../serve/server.js';
import { createLogger } from '../util/log.js';
import { UsageError, intFlag, parse, registryOption } from './args.js';

const serveFlags = {
  'model-uri': { type: 'string', short: 'm' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string', short: 'h' },
  'max-body-bytes': { type: 'string' },
  threads: { type: 'string' },
  'drain-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  ...registryOption,
} as const;

function serveOptionsFromFlags(values: Record<string, string | boolean | undefined>): ServeOptions {
  const s = (k: string) => values[k] as string | undefined;
  return {
    modelUri: s('model-uri'),
    registryUri: s('registry'),
    port: intFlag('port', s('port')),
    host: s('host'),
    maxBodyBytes: intFlag('max-body-bytes', s('max-body-bytes')),
    intraOpThreads: intFlag('threads', s('threads')),
    drainSeconds: intFlag('drain-seconds', s('drain-seconds')),
    logLevel: s('log-level'),
  };
}

/** Starts the server; returns -1 because the process keeps running. */
export async function runServe(options: ServeOptions): Promise<number> {
  const config = resolveServeConfig(optionsFromEnv(process.env), options);
  const logger = createLogger({ level: config.logLevel });
  const running = await startServer(config, logger);
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
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  running.loaded.catch((err: unknown) => {
    // A server that cannot load its model exits, so a supervisor sees it instead of a server stuck unready.
    logger.fatal({ err }, `cannot load ${config.modelUri}: ${describeError(err)}`);
    logger.flush();
    process.stderr.write(`modelgate: cannot load ${config.modelUri}: ${describeError(err)}\n`);
    void running.close().finally(() => process.exit(1));
  });
  return -1;
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, serveFlags);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  return runServe(serveOptionsFromFlags(values));
}

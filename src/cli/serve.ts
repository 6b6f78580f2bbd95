/** `modelgate serve`: run the gateway until SIGTERM, SIGINT, SIGHUP or SIGUSR2 (each drains, then exits 0). */
import { type ServeOptions, optionsFromEnv, resolveServeConfig } from '../config.js';
import { describeError } from '../errors.js';
import { readFile } from 'node:fs/promises';
import { readRoutesFile } from '../serve/router/routes-file.js';
import cluster from 'node:cluster';
import { runPrimary, startWorker } from '../serve/cluster.js';
import { STOP_SIGNALS, startServer } from '../serve/server.js';
import { createLogger } from '../util/log.js';
import { UsageError, intFlag, parse, registryOption, secondsFlag } from './args.js';

const serveFlags = {
  'model-uri': { type: 'string', short: 'm' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string', short: 'h' },
  'max-body-bytes': { type: 'string' },
  'max-body-memory': { type: 'string' },
  'max-response-bytes': { type: 'string' },
  'min-body-rate': { type: 'string' },
  threads: { type: 'string' },
  'drain-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  canary: { type: 'string' },
  'canary-weight': { type: 'string' },
  'sticky-header': { type: 'string' },
  shadow: { type: 'string' },
  'shadow-percent': { type: 'string' },
  routes: { type: 'string' },
  'poll-interval': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'auth-token-file': { type: 'string' },
  'max-rows': { type: 'string' },
  'max-in-flight': { type: 'string' },
  'request-timeout': { type: 'string' },
  'load-timeout': { type: 'string' },
  'access-log': { type: 'boolean' },
  workers: { type: 'string', short: 'w' },
  'max-batch-size': { type: 'string' },
  'batch-wait-ms': { type: 'string' },
  'js-isolation': { type: 'string' },
  ...registryOption,
} as const;

function percentFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new UsageError(`--${name} must be a number from 0 to 100, got '${v}'`);
  return n;
}

function optionalSeconds(name: string, v: string | undefined): number | undefined {
  return v === undefined ? undefined : secondsFlag(name, v);
}

/** Tokens from a file (one per line), so they stay out of the process list. */
async function readTokens(path: string | undefined): Promise<string[] | undefined> {
  if (path === undefined) return undefined;
  const tokens = (await readFile(path, 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new UsageError(`${path} holds no token`);
  return tokens;
}

function serveOptionsFromFlags(values: Record<string, string | boolean | undefined>): ServeOptions {
  const s = (k: string) => values[k] as string | undefined;
  return {
    modelUri: s('model-uri'),
    registryUri: s('registry'),
    port: intFlag('port', s('port')),
    host: s('host'),
    maxBodyBytes: intFlag('max-body-bytes', s('max-body-bytes')),
    maxBodyMemory: intFlag('max-body-memory', s('max-body-memory')),
    maxResponseBytes: intFlag('max-response-bytes', s('max-response-bytes')),
    minBodyRate: intFlag('min-body-rate', s('min-body-rate')),
    intraOpThreads: intFlag('threads', s('threads')),
    drainSeconds: intFlag('drain-seconds', s('drain-seconds')),
    logLevel: s('log-level'),
    canaryUri: s('canary'),
    canaryWeight: percentFlag('canary-weight', s('canary-weight')),
    stickyHeader: s('sticky-header'),
    shadowUri: s('shadow'),
    shadowPercent: percentFlag('shadow-percent', s('shadow-percent')),
    pollSeconds: optionalSeconds('poll-interval', s('poll-interval')),
    maxRows: intFlag('max-rows', s('max-rows')),
    maxInFlight: intFlag('max-in-flight', s('max-in-flight')),
    requestTimeoutSeconds: optionalSeconds('request-timeout', s('request-timeout')),
    loadTimeoutSeconds: optionalSeconds('load-timeout', s('load-timeout')),
    accessLog: values['access-log'] === true ? true : undefined,
    workers: intFlag('workers', s('workers')),
    maxBatchSize: intFlag('max-batch-size', s('max-batch-size')),
    batchWaitMs: optionalSeconds('batch-wait-ms', s('batch-wait-ms')),
    jsIsolation: s('js-isolation') as ServeOptions['jsIsolation'],
  };
}

/** Starts the server; returns -1 because the process keeps running. Layers: routes file < environment < flags. */
export async function runServe(options: ServeOptions, routesFile?: string): Promise<number> {
  const env = optionsFromEnv(process.env);
  const file = routesFile ?? process.env.MODELGATE_ROUTES_FILE;
  const adminFile = await readTokens(process.env.MODELGATE_ADMIN_TOKEN_FILE);
  const authFile = await readTokens(process.env.MODELGATE_AUTH_TOKEN_FILE);
  const config = resolveServeConfig(
    file ? await readRoutesFile(file) : {},
    env,
    adminFile ? { adminTokens: [...(env.adminTokens ?? []), ...adminFile] } : {},
    authFile ? { authTokens: [...(env.authTokens ?? []), ...authFile] } : {},
    options,
  );
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
function exitFailed(err: unknown, logger: ReturnType<typeof createLogger>): never {
  logger.fatal({ err }, describeError(err));
  logger.flush();
  process.stderr.write(`modelgate: ${describeError(err)}\n`);
  process.exit(1);
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, serveFlags);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const options = serveOptionsFromFlags(values);
  const adminTokens = await readTokens(values['admin-token-file'] as string | undefined);
  if (adminTokens) options.adminTokens = adminTokens;
  const authTokens = await readTokens(values['auth-token-file'] as string | undefined);
  if (authTokens) options.authTokens = authTokens;
  return runServe(options, values.routes as string | undefined);
}

/**
 * Serving configuration: every option optional, resolved once into a complete config. Only the
 * composition roots (the CLI) read process.env, through the table below.
 */
import { GatewayError } from './errors.js';

export interface ServeOptions {
  /** `models:/name/3`, `models:/name@alias`, `models:/name/latest`, or a model directory path. */
  modelUri?: string;
  /** @default 'file:./registry' */
  registryUri?: string;
  /** @default 8080 */
  port?: number;
  /** @default '127.0.0.1' (images set 0.0.0.0) */
  host?: string;
  /** Largest request body; bigger ones get 413 before they are read. @default 33554432 (32 MiB) */
  maxBodyBytes?: number;
  /** Largest response body; a bigger prediction is a 500 that says so (writing it would hold the server). @default 33554432 (32 MiB) */
  maxResponseBytes?: number;
  /** Bytes of request bodies held at once (received, decoded or scored); past it new requests get 503. 0 = no budget. @default 67108864 (64 MiB) */
  maxBodyMemory?: number;
  /** Bytes per second a request body must keep up after `bodyGraceSeconds`, else 408 (slow-body guard). 0 = no minimum. @default 1024 */
  minBodyRate?: number;
  /** Seconds a request body may take before `minBodyRate` applies. @default 5 */
  bodyGraceSeconds?: number;
  /** onnxruntime intra-op threads per inference. @default 1 */
  intraOpThreads?: number;
  /** Seconds to let in-flight requests finish after SIGTERM. @default 30 */
  drainSeconds?: number;
  /** @default 'info' */
  logLevel?: string;
  /** A second model version that gets `canaryWeight` percent of the traffic. */
  canaryUri?: string;
  /** Percent of traffic (0–100) for the canary. @default 0 (reachable only by the pin header) */
  canaryWeight?: number;
  /** Request header whose value keeps a caller on the same side of the split. */
  stickyHeader?: string;
  /** A version that receives a copy of `shadowPercent` percent of requests, answers discarded. */
  shadowUri?: string;
  /** @default 100 when a shadow is given */
  shadowPercent?: number;
  /** Seconds between registry polls for aliases and `latest`; 0 turns polling off. @default 10 */
  pollSeconds?: number;
  /** Bearer tokens for the /admin API; none means no admin API. @default [] */
  adminTokens?: string[];
  /** Most rows (first dimension) one request may carry; more is a 400. @default 100000 */
  maxRows?: number;
  /** Deepest JSON nesting accepted in a body; deeper is a 400. @default 64 */
  maxJsonDepth?: number;
  /** Inferences in progress at once (bodies still arriving do not count); past it, 503 with Retry-After. 0 = no bound. @default 1024 */
  maxInFlight?: number;
  /** Seconds a request may take before a 504 DEADLINE_EXCEEDED (MLflow: 60). @default 60 */
  requestTimeoutSeconds?: number;
  /** Seconds loading a model version (and scoring its example) may take; one that misses it is a failed load or switch. 0 = none. @default 300 */
  loadTimeoutSeconds?: number;
  /** Seconds a client has to send all request headers (slowloris guard). @default 10 */
  headersTimeoutSeconds?: number;
  /** Seconds a client has to send a whole request, headers and body. @default 60 */
  bodyTimeoutSeconds?: number;
  /** Seconds after SIGTERM during which new requests are still accepted (readiness already says 503), so load balancers can catch up. @default 2 */
  shutdownGraceSeconds?: number;
  /** Bearer tokens for /invocations; none means no authentication. @default [] */
  authTokens?: string[];
  /** Require a token on /ping, /health, /ready and /version too. @default false */
  authProtectHealth?: boolean;
  /** Require a token on /metrics too. @default false */
  authProtectMetrics?: boolean;
  /** Log one JSON line per request (method, route, status, duration, request id). @default false */
  accessLog?: boolean;
  /** Server processes sharing the port (Node cluster); metrics are aggregated across them. @default 1 */
  workers?: number;
  /** Most rows one batched inference call may hold; 1 turns batching off. @default 64 */
  maxBatchSize?: number;
  /** Milliseconds a batch may wait for more requests while the model is idle; 0 = run at once (batches form while the model is busy). @default 0 */
  batchWaitMs?: number;
  /** Where JS-code models run: `thread` (their own worker thread, restarted if it hangs or dies) or `none` (the server's thread). @default 'thread' */
  jsIsolation?: 'thread' | 'none';
}

type OptionalKeys = 'canaryUri' | 'stickyHeader' | 'shadowUri';
export type ResolvedServeConfig = Required<Omit<ServeOptions, OptionalKeys>> & Pick<ServeOptions, OptionalKeys>;

export const DEFAULT_REGISTRY_URI = 'file:./registry';

/**
 * The registry when no --registry flag names one: MODELGATE_REGISTRY_URI, else the MLflow server
 * MLflow's own variables name (MLFLOW_REGISTRY_URI, then MLFLOW_TRACKING_URI), else the local
 * directory. MLflow URIs that are not an HTTP server (a file store, sqlite:, databricks) are
 * skipped: modelgate cannot read them, and users who set them for MLflow keep the local default.
 */
export function defaultRegistryUri(env: NodeJS.ProcessEnv): string {
  if (env.MODELGATE_REGISTRY_URI) return env.MODELGATE_REGISTRY_URI;
  for (const name of ['MLFLOW_REGISTRY_URI', 'MLFLOW_TRACKING_URI']) {
    const uri = env[name];
    if (uri !== undefined && /^https?:\/\//i.test(uri)) return uri;
  }
  return DEFAULT_REGISTRY_URI;
}

export const SERVE_DEFAULTS: Omit<ResolvedServeConfig, 'modelUri'> = {
  registryUri: DEFAULT_REGISTRY_URI,
  port: 8080,
  host: '127.0.0.1',
  maxBodyBytes: 32 * 1024 * 1024,
  maxBodyMemory: 64 * 1024 * 1024,
  maxResponseBytes: 32 * 1024 * 1024,
  minBodyRate: 1024,
  bodyGraceSeconds: 5,
  intraOpThreads: 1,
  drainSeconds: 30,
  logLevel: 'info',
  canaryWeight: 0,
  shadowPercent: 100,
  pollSeconds: 10,
  adminTokens: [],
  maxRows: 100_000,
  maxJsonDepth: 64,
  maxInFlight: 1024,
  requestTimeoutSeconds: 60,
  loadTimeoutSeconds: 300,
  headersTimeoutSeconds: 10,
  bodyTimeoutSeconds: 60,
  shutdownGraceSeconds: 2,
  authTokens: [],
  authProtectHealth: false,
  authProtectMetrics: false,
  accessLog: false,
  workers: 1,
  maxBatchSize: 64,
  batchWaitMs: 0,
  jsIsolation: 'thread',
};

type Kind = 'string' | 'int' | 'number' | 'list' | 'bool';

/** Environment variables, one per option. */
export const ENV_VARS: readonly { env: string; key: keyof ServeOptions; kind: Kind; doc: string }[] = [
  { env: 'MODELGATE_MODEL_URI', key: 'modelUri', kind: 'string', doc: 'model to serve (same as -m)' },
  {
    env: 'MODELGATE_REGISTRY_URI',
    key: 'registryUri',
    kind: 'string',
    doc: `registry URI (default: an http(s) MLFLOW_REGISTRY_URI or MLFLOW_TRACKING_URI, else ${DEFAULT_REGISTRY_URI})`,
  },
  { env: 'MODELGATE_PORT', key: 'port', kind: 'int', doc: 'port to listen on (default 8080)' },
  { env: 'MODELGATE_HOST', key: 'host', kind: 'string', doc: 'address to bind (default 127.0.0.1)' },
  { env: 'MODELGATE_MAX_BODY_BYTES', key: 'maxBodyBytes', kind: 'int', doc: 'request body limit in bytes (default 32 MiB)' },
  { env: 'MODELGATE_MAX_RESPONSE_BYTES', key: 'maxResponseBytes', kind: 'int', doc: 'largest response body in bytes (default 32 MiB)' },
  {
    env: 'MODELGATE_MAX_BODY_MEMORY',
    key: 'maxBodyMemory',
    kind: 'int',
    doc: 'bytes of request bodies held at once before 503 (default 64 MiB; 0 = no budget)',
  },
  {
    env: 'MODELGATE_MIN_BODY_RATE',
    key: 'minBodyRate',
    kind: 'int',
    doc: 'bytes per second a body must keep up after the grace period, else 408 (default 1024; 0 = off)',
  },
  {
    env: 'MODELGATE_BODY_GRACE_SECONDS',
    key: 'bodyGraceSeconds',
    kind: 'number',
    doc: 'seconds before the minimum body rate applies (default 5)',
  },
  { env: 'MODELGATE_INTRA_OP_THREADS', key: 'intraOpThreads', kind: 'int', doc: 'runtime threads per inference (default 1)' },
  { env: 'MODELGATE_DRAIN_SECONDS', key: 'drainSeconds', kind: 'int', doc: 'graceful shutdown drain time (default 30)' },
  { env: 'MODELGATE_LOG_LEVEL', key: 'logLevel', kind: 'string', doc: 'trace, debug, info, warn, error (default info)' },
  { env: 'MODELGATE_CANARY_URI', key: 'canaryUri', kind: 'string', doc: 'canary model (same as --canary)' },
  { env: 'MODELGATE_CANARY_WEIGHT', key: 'canaryWeight', kind: 'number', doc: 'percent of traffic for the canary (default 0)' },
  { env: 'MODELGATE_STICKY_HEADER', key: 'stickyHeader', kind: 'string', doc: 'header that keeps a caller on one side of the split' },
  { env: 'MODELGATE_SHADOW_URI', key: 'shadowUri', kind: 'string', doc: 'shadow model receiving mirrored requests' },
  { env: 'MODELGATE_SHADOW_PERCENT', key: 'shadowPercent', kind: 'number', doc: 'percent of requests mirrored (default 100)' },
  { env: 'MODELGATE_POLL_SECONDS', key: 'pollSeconds', kind: 'number', doc: 'registry poll interval for aliases (default 10; 0 = off)' },
  {
    env: 'MODELGATE_ADMIN_TOKEN',
    key: 'adminTokens',
    kind: 'list',
    doc: 'admin API bearer token(s), comma-separated; unset = no admin API',
  },
  { env: 'MODELGATE_MAX_ROWS', key: 'maxRows', kind: 'int', doc: 'most rows per request (default 100000)' },
  { env: 'MODELGATE_MAX_JSON_DEPTH', key: 'maxJsonDepth', kind: 'int', doc: 'deepest JSON nesting accepted (default 64)' },
  {
    env: 'MODELGATE_MAX_IN_FLIGHT',
    key: 'maxInFlight',
    kind: 'int',
    doc: 'inferences in progress before 503 (default 1024; 0 = no bound)',
  },
  {
    env: 'MODELGATE_REQUEST_TIMEOUT_SECONDS',
    key: 'requestTimeoutSeconds',
    kind: 'number',
    doc: 'request deadline, then 504 (default 60)',
  },
  {
    env: 'MODELGATE_LOAD_TIMEOUT_SECONDS',
    key: 'loadTimeoutSeconds',
    kind: 'number',
    doc: 'deadline for loading a model version (default 300; 0 = none)',
  },
  {
    env: 'MODELGATE_HEADERS_TIMEOUT_SECONDS',
    key: 'headersTimeoutSeconds',
    kind: 'number',
    doc: 'time to send request headers (default 10)',
  },
  { env: 'MODELGATE_BODY_TIMEOUT_SECONDS', key: 'bodyTimeoutSeconds', kind: 'number', doc: 'time to send a whole request (default 60)' },
  { env: 'MODELGATE_SHUTDOWN_GRACE_SECONDS', key: 'shutdownGraceSeconds', kind: 'number', doc: 'keep accepting after SIGTERM (default 2)' },
  { env: 'MODELGATE_AUTH_TOKEN', key: 'authTokens', kind: 'list', doc: '/invocations bearer token(s), comma-separated; unset = no auth' },
  {
    env: 'MODELGATE_AUTH_PROTECT_HEALTH',
    key: 'authProtectHealth',
    kind: 'bool',
    doc: 'require the token on health routes too (default false)',
  },
  {
    env: 'MODELGATE_AUTH_PROTECT_METRICS',
    key: 'authProtectMetrics',
    kind: 'bool',
    doc: 'require the token on /metrics too (default false)',
  },
  { env: 'MODELGATE_ACCESS_LOG', key: 'accessLog', kind: 'bool', doc: 'one JSON log line per request (default false)' },
  { env: 'MODELGATE_WORKERS', key: 'workers', kind: 'int', doc: 'server processes sharing the port (default 1)' },
  { env: 'MODELGATE_MAX_BATCH_SIZE', key: 'maxBatchSize', kind: 'int', doc: 'rows per batched inference; 1 = no batching (default 64)' },
  { env: 'MODELGATE_BATCH_WAIT_MS', key: 'batchWaitMs', kind: 'number', doc: 'extra wait for a batch to fill (default 0)' },
  {
    env: 'MODELGATE_JS_ISOLATION',
    key: 'jsIsolation',
    kind: 'string',
    doc: "JS-code models in their own thread ('thread', default) or the server's ('none')",
  },
];

function parseBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new GatewayError('INVALID_PARAMETER_VALUE', `${name} must be true or false, got '${raw}'`);
}

function parseNumber(name: string, raw: string): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new GatewayError('INVALID_PARAMETER_VALUE', `${name} must be a non-negative number, got '${raw}'`);
  return n;
}

function parseInt10(name: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new GatewayError('INVALID_PARAMETER_VALUE', `${name} must be a non-negative integer, got '${raw}'`);
  return Number(raw);
}

/** Options from the environment (values that are set and non-empty). */
export function optionsFromEnv(env: NodeJS.ProcessEnv): ServeOptions {
  const out: Record<string, unknown> = {};
  for (const v of ENV_VARS) {
    const raw = env[v.env];
    if (raw === undefined || raw === '') continue;
    out[v.key] =
      v.kind === 'int'
        ? parseInt10(v.env, raw)
        : v.kind === 'number'
          ? parseNumber(v.env, raw)
          : v.kind === 'bool'
            ? parseBool(v.env, raw)
            : v.kind === 'list'
              ? raw
                  .split(',')
                  .map((t) => t.trim())
                  .filter(Boolean)
              : raw;
  }
  // Without MODELGATE_REGISTRY_URI, an MLflow user's own variables name the registry.
  if (out.registryUri === undefined && defaultRegistryUri(env) !== DEFAULT_REGISTRY_URI) out.registryUri = defaultRegistryUri(env);
  return out as ServeOptions;
}

/** Flags win over the environment, which wins over defaults. */
export function resolveServeConfig(...layers: ServeOptions[]): ResolvedServeConfig {
  const merged: ServeOptions = { ...SERVE_DEFAULTS };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  }
  if (merged.modelUri === undefined || merged.modelUri === '') {
    throw new GatewayError('INVALID_PARAMETER_VALUE', 'No model to serve: pass -m/--model-uri or set MODELGATE_MODEL_URI.');
  }
  if (merged.port === undefined || merged.port > 65535) throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid port ${merged.port}`);
  if ((merged.intraOpThreads ?? 1) < 1) throw new GatewayError('INVALID_PARAMETER_VALUE', 'intraOpThreads must be at least 1');
  if ((merged.workers ?? 1) < 1) throw new GatewayError('INVALID_PARAMETER_VALUE', 'workers must be at least 1');
  if (merged.jsIsolation !== 'thread' && merged.jsIsolation !== 'none') {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `jsIsolation must be 'thread' or 'none', got '${String(merged.jsIsolation)}'`);
  }
  if ((merged.maxBatchSize ?? 1) < 1) throw new GatewayError('INVALID_PARAMETER_VALUE', 'maxBatchSize must be at least 1');
  for (const [k, v] of [
    ['canary weight', merged.canaryWeight],
    ['shadow percent', merged.shadowPercent],
  ] as const) {
    if (v !== undefined && !(v >= 0 && v <= 100))
      throw new GatewayError('INVALID_PARAMETER_VALUE', `The ${k} must be between 0 and 100, got ${v}`);
  }
  return merged as ResolvedServeConfig;
}

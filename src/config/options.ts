/**
 * The one table of serving options. Each entry says, once, what the option is called as a flag,
 * as an environment variable and in the typed options; its kind, default, bounds and doc line.
 * The flag parser, the environment parser, `--help`, docs/configuration.md and the option types
 * are all derived from it (test/unit/config.test.ts fails when the generated docs drift).
 */
import { LIMIT_DEFAULTS } from '../limits.js';

export type OptionKind =
  /** Free text. */
  | 'string'
  /** A whole number within `min`/`max`. */
  | 'int'
  /** A number within `min`/`max`. */
  | 'number'
  /** Seconds (a number, `10` or `10s`), at least 0. */
  | 'seconds'
  /** 0–100. */
  | 'percent'
  /** A flag without a value; in the environment `true`/`false` (also 1/0, yes/no, on/off). */
  | 'bool'
  /** Comma-separated in the environment. */
  | 'list'
  /** One of `values`. */
  | 'enum'
  /** A file of bearer tokens, one per line (`#` comments); read once, merged into `into`. */
  | 'tokens-file'
  /** A list of models, each with its own routes (the routes file's `models:`, repeated `-m`, library callers). */
  | 'models';

export interface OptionSpec {
  readonly key: string;
  readonly kind: OptionKind;
  readonly doc: string;
  /** The long flag, without `--`. */
  readonly flag?: string;
  readonly short?: string;
  readonly env?: string;
  readonly default?: unknown;
  /** How the default reads in docs, when its value alone would not say it well. */
  readonly defaultDoc?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** The value's name in usage lines: `-p PORT`. */
  readonly arg?: string;
  /** For `tokens-file`: the list option its tokens are added to. */
  readonly into?: string;
  /** The help section it is listed under. */
  readonly group: OptionGroup;
  /** The flag may be given more than once. */
  readonly repeatable?: boolean;
  /** The flag's value when it is given alone (`--flag`); a value goes after `=` (`--flag=VALUE`). */
  readonly optionalValue?: string;
}

export type OptionGroup = 'model' | 'network' | 'limits' | 'routing' | 'auth' | 'throughput' | 'logging';

export const GROUP_TITLES: Readonly<Record<OptionGroup, string>> = {
  model: 'Model and registry',
  network: 'Network and shutdown',
  limits: 'Limits and timeouts',
  routing: 'Canary, shadow and alias following',
  auth: 'Authentication and the admin API',
  throughput: 'Throughput',
  logging: 'Logging',
};

/** Every option of `modelgate serve`, in help order. */
export const SERVE_OPTIONS = [
  {
    key: 'modelUri',
    flag: 'model-uri',
    short: 'm',
    env: 'MODELGATE_MODEL_URI',
    kind: 'string',
    arg: 'URI',
    group: 'model',
    repeatable: true,
    doc: 'model to serve: models:/name/version, models:/name@alias, models:/name/latest, runs:/<run_id>/<path>, a directory or a file:// URI; repeat it to serve several models, each under its registered or folder name (name=URI to choose one)',
  },
  {
    key: 'models',
    env: 'MODELGATE_MODELS',
    kind: 'models',
    group: 'model',
    doc: "several models, each with its own routes: a list of {name, primary, canary, canaryWeight, stickyHeader, shadow, shadowPercent} (the routes file's models:, JSON in the environment)",
  },
  {
    key: 'allModels',
    flag: 'all-models',
    env: 'MODELGATE_ALL_MODELS',
    kind: 'string',
    optionalValue: 'latest',
    arg: 'ALIAS',
    group: 'model',
    doc: 'serve every model of the registry that has this alias (--all-models=champion), or alone every model at its latest version; models registered or aliased later are added and ones whose alias goes are dropped, at every poll',
  },
  {
    key: 'lazy',
    flag: 'lazy',
    env: 'MODELGATE_LAZY',
    kind: 'bool',
    default: false,
    group: 'model',
    doc: 'load each model on its first request instead of at start (concurrent first requests share one load)',
  },
  {
    key: 'maxLoadedModels',
    flag: 'max-loaded-models',
    env: 'MODELGATE_MAX_LOADED_MODELS',
    kind: 'int',
    default: 0,
    min: 0,
    max: 100000,
    arg: 'N',
    group: 'model',
    doc: 'most models resident at once; past it the least recently used idle model is unloaded (0 = no bound)',
  },
  {
    key: 'maxModelMemory',
    flag: 'max-model-memory',
    env: 'MODELGATE_MAX_MODEL_MEMORY',
    kind: 'number',
    default: 0,
    min: 0,
    arg: 'MB',
    group: 'model',
    doc: 'megabytes of models resident at once, estimated from their files; past it idle models are unloaded, least recently used first, and a model bigger than the whole budget is refused (0 = no budget)',
  },
  {
    key: 'idleUnloadSeconds',
    flag: 'idle-unload-seconds',
    env: 'MODELGATE_IDLE_UNLOAD_SECONDS',
    kind: 'seconds',
    default: 0,
    arg: 'S',
    group: 'model',
    doc: 'unload a model no request has used for this long; it loads again on its next request (0 = never)',
  },
  {
    key: 'registryUri',
    flag: 'registry',
    env: 'MODELGATE_REGISTRY_URI',
    kind: 'string',
    arg: 'URI',
    group: 'model',
    defaultDoc: 'an http(s) MLFLOW_REGISTRY_URI or MLFLOW_TRACKING_URI, else file:./registry',
    doc: 'registry: file:./registry, file:///abs/path, a directory, or an MLflow tracking server http(s)://host',
  },
  {
    key: 'loadTimeoutSeconds',
    flag: 'load-timeout',
    env: 'MODELGATE_LOAD_TIMEOUT_SECONDS',
    kind: 'seconds',
    default: LIMIT_DEFAULTS.loadTimeoutSeconds,
    arg: 'S',
    group: 'model',
    doc: 'deadline for loading a version and scoring its example; a miss is a failed load or switch (0 = none)',
  },
  {
    key: 'jsIsolation',
    flag: 'js-isolation',
    env: 'MODELGATE_JS_ISOLATION',
    kind: 'enum',
    values: ['thread', 'none'],
    default: 'thread',
    arg: 'MODE',
    group: 'model',
    doc: "JS-code models in a thread of their own (thread) or in the server's (none: no protection)",
  },
  {
    key: 'onnxIsolation',
    flag: 'onnx-isolation',
    env: 'MODELGATE_ONNX_ISOLATION',
    kind: 'enum',
    values: ['auto', 'thread', 'none'],
    default: 'auto',
    arg: 'MODE',
    group: 'model',
    doc: "onnxruntime sessions in a thread of their own (thread), in the server's (none: a slow graph stalls it), or in a thread only when slow to create or run (auto)",
  },
  {
    key: 'port',
    flag: 'port',
    short: 'p',
    env: 'MODELGATE_PORT',
    kind: 'int',
    default: 8080,
    min: 0,
    max: 65535,
    arg: 'PORT',
    group: 'network',
    doc: 'port to listen on (0: any free port)',
  },
  {
    key: 'host',
    flag: 'host',
    short: 'h',
    env: 'MODELGATE_HOST',
    kind: 'string',
    default: '127.0.0.1',
    arg: 'HOST',
    group: 'network',
    doc: 'address to bind; 0.0.0.0 accepts outside connections (images set it)',
  },
  {
    key: 'shutdownGraceSeconds',
    flag: 'shutdown-grace',
    env: 'MODELGATE_SHUTDOWN_GRACE_SECONDS',
    kind: 'seconds',
    default: 2,
    arg: 'S',
    group: 'network',
    doc: 'after SIGTERM, how long requests are still accepted as usual (readiness already says 503)',
  },
  {
    key: 'drainSeconds',
    flag: 'drain-seconds',
    env: 'MODELGATE_DRAIN_SECONDS',
    kind: 'seconds',
    default: 30,
    arg: 'S',
    group: 'network',
    doc: 'after the listener closes, how long in-flight requests get to finish',
  },
  {
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    env: 'MODELGATE_MAX_BODY_BYTES',
    kind: 'int',
    default: LIMIT_DEFAULTS.maxBodyBytes,
    defaultDoc: '33554432 (32 MiB)',
    min: 1,
    arg: 'N',
    group: 'limits',
    doc: 'largest request body; bigger ones get 413 before they are read',
  },
  {
    key: 'maxBodyMemory',
    flag: 'max-body-memory',
    env: 'MODELGATE_MAX_BODY_MEMORY',
    kind: 'int',
    default: LIMIT_DEFAULTS.maxBodyMemory,
    defaultDoc: '67108864 (64 MiB)',
    min: 0,
    arg: 'N',
    group: 'limits',
    doc: 'bytes of request bodies held at once (received, decoded or scored); past it 503 before reading (0 = no budget)',
  },
  {
    key: 'minBodyRate',
    flag: 'min-body-rate',
    env: 'MODELGATE_MIN_BODY_RATE',
    kind: 'int',
    default: LIMIT_DEFAULTS.minBodyRate,
    min: 0,
    arg: 'BYTES',
    group: 'limits',
    doc: 'bytes per second a body must keep up after the body grace period, else 408 (0 = no minimum)',
  },
  {
    key: 'bodyGraceSeconds',
    flag: 'body-grace',
    env: 'MODELGATE_BODY_GRACE_SECONDS',
    kind: 'seconds',
    default: LIMIT_DEFAULTS.bodyGraceSeconds,
    arg: 'S',
    group: 'limits',
    doc: 'seconds a body may take before the minimum body rate applies',
  },
  {
    key: 'maxResponseBytes',
    flag: 'max-response-bytes',
    env: 'MODELGATE_MAX_RESPONSE_BYTES',
    kind: 'int',
    default: LIMIT_DEFAULTS.maxResponseBytes,
    defaultDoc: '33554432 (32 MiB)',
    min: 1,
    arg: 'N',
    group: 'limits',
    doc: 'largest response body; a bigger prediction is a 500 that says so',
  },
  {
    key: 'maxRows',
    flag: 'max-rows',
    env: 'MODELGATE_MAX_ROWS',
    kind: 'int',
    default: LIMIT_DEFAULTS.maxRows,
    min: 1,
    arg: 'N',
    group: 'limits',
    doc: 'most rows (first dimension) one request may carry; more is a 400',
  },
  {
    key: 'maxJsonDepth',
    flag: 'max-json-depth',
    env: 'MODELGATE_MAX_JSON_DEPTH',
    kind: 'int',
    default: LIMIT_DEFAULTS.maxJsonDepth,
    min: 1,
    arg: 'N',
    group: 'limits',
    doc: 'deepest JSON nesting accepted in a body; deeper is a 400',
  },
  {
    key: 'maxInFlight',
    flag: 'max-in-flight',
    env: 'MODELGATE_MAX_IN_FLIGHT',
    kind: 'int',
    default: LIMIT_DEFAULTS.maxInFlight,
    min: 0,
    arg: 'N',
    group: 'limits',
    doc: 'inferences in progress at once (bodies still arriving do not count); past it 503 (0 = no bound)',
  },
  {
    key: 'requestTimeoutSeconds',
    flag: 'request-timeout',
    env: 'MODELGATE_REQUEST_TIMEOUT_SECONDS',
    kind: 'seconds',
    default: LIMIT_DEFAULTS.requestTimeoutSeconds,
    arg: 'S',
    group: 'limits',
    doc: 'seconds a request may take before 504 DEADLINE_EXCEEDED (0 = none)',
  },
  {
    key: 'headersTimeoutSeconds',
    flag: 'headers-timeout',
    env: 'MODELGATE_HEADERS_TIMEOUT_SECONDS',
    kind: 'seconds',
    default: 10,
    arg: 'S',
    group: 'limits',
    doc: 'seconds a client has to send its request headers (slowloris guard)',
  },
  {
    key: 'bodyTimeoutSeconds',
    flag: 'body-timeout',
    env: 'MODELGATE_BODY_TIMEOUT_SECONDS',
    kind: 'seconds',
    default: 60,
    arg: 'S',
    group: 'limits',
    doc: 'seconds a client has to send a whole request, headers and body',
  },
  {
    key: 'canaryUri',
    flag: 'canary',
    env: 'MODELGATE_CANARY_URI',
    kind: 'string',
    arg: 'URI',
    group: 'routing',
    doc: 'a second version that gets the canary weight of the traffic',
  },
  {
    key: 'canaryWeight',
    flag: 'canary-weight',
    env: 'MODELGATE_CANARY_WEIGHT',
    kind: 'percent',
    default: 0,
    arg: 'N',
    group: 'routing',
    doc: 'percent of requests for the canary (0: reachable only with the x-modelgate-route header)',
  },
  {
    key: 'stickyHeader',
    flag: 'sticky-header',
    env: 'MODELGATE_STICKY_HEADER',
    kind: 'string',
    arg: 'NAME',
    group: 'routing',
    doc: 'requests with the same value of this header stay on one side of the split',
  },
  {
    key: 'shadowUri',
    flag: 'shadow',
    env: 'MODELGATE_SHADOW_URI',
    kind: 'string',
    arg: 'URI',
    group: 'routing',
    doc: 'a version that gets a copy of requests after they are answered; its answers are discarded',
  },
  {
    key: 'shadowPercent',
    flag: 'shadow-percent',
    env: 'MODELGATE_SHADOW_PERCENT',
    kind: 'percent',
    default: 100,
    arg: 'N',
    group: 'routing',
    doc: 'percent of requests mirrored to the shadow',
  },
  {
    key: 'routesFile',
    flag: 'routes',
    env: 'MODELGATE_ROUTES_FILE',
    kind: 'string',
    arg: 'FILE',
    group: 'routing',
    doc: 'routing settings as YAML/JSON (primary, canary, canaryWeight, stickyHeader, shadow, shadowPercent, pollSeconds; or models: a list of such routes, each with an optional name); flags and environment win',
  },
  {
    key: 'pollSeconds',
    flag: 'poll-interval',
    env: 'MODELGATE_POLL_SECONDS',
    kind: 'seconds',
    default: 10,
    arg: 'S',
    group: 'routing',
    doc: 'how often aliases and latest are looked up again (0 = never; the local registry also notifies at once)',
  },
  {
    key: 'adminTokens',
    env: 'MODELGATE_ADMIN_TOKEN',
    kind: 'list',
    default: [],
    group: 'auth',
    doc: 'bearer token(s) that turn on the /admin API, comma-separated',
  },
  {
    key: 'adminTokenFile',
    flag: 'admin-token-file',
    env: 'MODELGATE_ADMIN_TOKEN_FILE',
    kind: 'tokens-file',
    into: 'adminTokens',
    arg: 'FILE',
    group: 'auth',
    doc: 'a file of admin bearer tokens, one per line (keeps them out of the process list)',
  },
  {
    key: 'authTokens',
    env: 'MODELGATE_AUTH_TOKEN',
    kind: 'list',
    default: [],
    group: 'auth',
    doc: 'bearer token(s) required on /invocations, V2 /infer and model metadata, comma-separated',
  },
  {
    key: 'authTokenFile',
    flag: 'auth-token-file',
    env: 'MODELGATE_AUTH_TOKEN_FILE',
    kind: 'tokens-file',
    into: 'authTokens',
    arg: 'FILE',
    group: 'auth',
    doc: 'a file of bearer tokens, one per line',
  },
  {
    key: 'authProtectHealth',
    flag: 'auth-protect-health',
    env: 'MODELGATE_AUTH_PROTECT_HEALTH',
    kind: 'bool',
    default: false,
    group: 'auth',
    doc: 'require the token on health routes too',
  },
  {
    key: 'authProtectMetrics',
    flag: 'auth-protect-metrics',
    env: 'MODELGATE_AUTH_PROTECT_METRICS',
    kind: 'bool',
    default: false,
    group: 'auth',
    doc: 'require the token on /metrics too',
  },
  {
    key: 'intraOpThreads',
    flag: 'threads',
    env: 'MODELGATE_INTRA_OP_THREADS',
    kind: 'int',
    default: 1,
    min: 1,
    arg: 'N',
    group: 'throughput',
    doc: 'onnxruntime intra-op threads per inference',
  },
  {
    key: 'workers',
    flag: 'workers',
    short: 'w',
    env: 'MODELGATE_WORKERS',
    kind: 'int',
    default: 1,
    min: 1,
    arg: 'N',
    group: 'throughput',
    doc: 'server processes sharing the port (Node cluster); metrics are aggregated',
  },
  {
    key: 'maxBatchSize',
    flag: 'max-batch-size',
    env: 'MODELGATE_MAX_BATCH_SIZE',
    kind: 'int',
    default: 64,
    min: 1,
    arg: 'N',
    group: 'throughput',
    doc: 'most rows one batched inference call holds (1 = no batching)',
  },
  {
    key: 'batchWaitMs',
    flag: 'batch-wait-ms',
    env: 'MODELGATE_BATCH_WAIT_MS',
    kind: 'number',
    default: 0,
    min: 0,
    arg: 'MS',
    group: 'throughput',
    doc: 'milliseconds a batch may wait for more requests while the model is idle',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'MODELGATE_LOG_LEVEL',
    kind: 'enum',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    default: 'info',
    arg: 'LEVEL',
    group: 'logging',
    doc: 'log level; logs are JSON lines on stdout, request bodies never logged',
  },
  {
    key: 'accessLog',
    flag: 'access-log',
    env: 'MODELGATE_ACCESS_LOG',
    kind: 'bool',
    default: false,
    group: 'logging',
    doc: 'one JSON log line per request',
  },
] as const satisfies readonly OptionSpec[];

/**
 * Environment variables outside the serving options: the MLflow client's own settings, the
 * download cache, image builds and debugging. Read in src/config/env.ts only.
 */
export const OTHER_ENV: readonly { env: string; doc: string }[] = [
  {
    env: 'MLFLOW_TRACKING_URI',
    doc: 'the MLflow server, when no --registry or MODELGATE_REGISTRY_URI is given (http(s) URIs only; others are ignored)',
  },
  { env: 'MLFLOW_REGISTRY_URI', doc: 'as MLFLOW_TRACKING_URI, and wins over it' },
  { env: 'MLFLOW_TRACKING_TOKEN', doc: 'sent to the MLflow server as Authorization: Bearer (wins over basic auth)' },
  { env: 'MLFLOW_TRACKING_USERNAME', doc: 'HTTP basic auth user for the MLflow server (with MLFLOW_TRACKING_PASSWORD)' },
  { env: 'MLFLOW_TRACKING_PASSWORD', doc: 'HTTP basic auth password for the MLflow server' },
  { env: 'MLFLOW_TRACKING_SERVER_CERT_PATH', doc: 'PEM bundle of CAs to trust for the MLflow server' },
  { env: 'MLFLOW_TRACKING_INSECURE_TLS', doc: 'true: skip TLS verification of the MLflow server (not with the above)' },
  { env: 'MLFLOW_HTTP_REQUEST_TIMEOUT', doc: 'seconds to wait for the MLflow server (headers, and between body chunks); default 120' },
  { env: 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', doc: 'retries after the first attempt on 5xx, 429, timeouts; default 4' },
  { env: 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', doc: 'seconds; retry n waits factor × 2^(n−1); default 0.5' },
  { env: 'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER', doc: 'seconds of random extra wait per retry; default 0.25' },
  { env: 'MODELGATE_CACHE_DIR', doc: 'where models downloaded from MLflow are kept; default ~/.cache/modelgate' },
  { env: 'MODELGATE_DEBUG', doc: 'set to anything: CLI errors also print their stack trace' },
  { env: 'DOCKER_HOST', doc: 'build-image: the Docker Engine to use; default unix:///var/run/docker.sock' },
  { env: 'DOCKER_CONFIG', doc: 'build-image --push: where docker login keeps credentials; default ~/.docker' },
  { env: 'SOURCE_DATE_EPOCH', doc: 'build-image / generate-dockerfile: the time stamped into images (reproducible builds)' },
];

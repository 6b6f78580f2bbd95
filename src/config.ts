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
  /** @default 104857600 (100 MiB) */
  maxBodyBytes?: number;
  /** onnxruntime intra-op threads per inference. @default 1 */
  intraOpThreads?: number;
  /** Seconds to let in-flight requests finish after SIGTERM. @default 30 */
  drainSeconds?: number;
  /** @default 'info' */
  logLevel?: string;
}

export type ResolvedServeConfig = Required<ServeOptions>;

export const DEFAULT_REGISTRY_URI = 'file:./registry';

export const SERVE_DEFAULTS: Omit<ResolvedServeConfig, 'modelUri'> = {
  registryUri: DEFAULT_REGISTRY_URI,
  port: 8080,
  host: '127.0.0.1',
  maxBodyBytes: 100 * 1024 * 1024,
  intraOpThreads: 1,
  drainSeconds: 30,
  logLevel: 'info',
};

type Kind = 'string' | 'int';

/** Environment variables, one per option. */
export const ENV_VARS: readonly { env: string; key: keyof ServeOptions; kind: Kind; doc: string }[] = [
  { env: 'MODELGATE_MODEL_URI', key: 'modelUri', kind: 'string', doc: 'model to serve (same as -m)' },
  { env: 'MODELGATE_REGISTRY_URI', key: 'registryUri', kind: 'string', doc: `registry URI (default ${DEFAULT_REGISTRY_URI})` },
  { env: 'MODELGATE_PORT', key: 'port', kind: 'int', doc: 'port to listen on (default 8080)' },
  { env: 'MODELGATE_HOST', key: 'host', kind: 'string', doc: 'address to bind (default 127.0.0.1)' },
  { env: 'MODELGATE_MAX_BODY_BYTES', key: 'maxBodyBytes', kind: 'int', doc: 'request body limit in bytes (default 100 MiB)' },
  { env: 'MODELGATE_INTRA_OP_THREADS', key: 'intraOpThreads', kind: 'int', doc: 'runtime threads per inference (default 1)' },
  { env: 'MODELGATE_DRAIN_SECONDS', key: 'drainSeconds', kind: 'int', doc: 'graceful shutdown drain time (default 30)' },
  { env: 'MODELGATE_LOG_LEVEL', key: 'logLevel', kind: 'string', doc: 'trace, debug, info, warn, error (default info)' },
];

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
    out[v.key] = v.kind === 'int' ? parseInt10(v.env, raw) : raw;
  }
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
  return merged as ResolvedServeConfig;
}

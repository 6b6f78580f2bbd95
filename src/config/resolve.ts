/**
 * From layers of options (routes file < environment < token files < flags, or whatever a library
 * caller passes) to one complete, checked configuration. Defaults are applied here and only here.
 */
import { ConfigError } from '../errors.js';
import { modelLocation, parseModelUri } from '../registry/model-uri.js';
import { type Environment } from './env.js';
import { type OptionSpec, SERVE_OPTIONS } from './options.js';
import { checkValue, parseValue } from './values.js';
import { type ServedModel, namedModels } from './models.js';

export type { ServedModel } from './models.js';

type Spec = (typeof SERVE_OPTIONS)[number];
type KindValue<S> = S extends { kind: 'models' }
  ? ServedModel[]
  : S extends { kind: 'int' | 'number' | 'seconds' | 'percent' }
    ? number
    : S extends { kind: 'bool' }
      ? boolean
      : S extends { kind: 'list' }
        ? string[]
        : S extends { kind: 'enum'; values: readonly (infer V)[] }
          ? V
          : string;

/** Every serving option, all optional (see SERVE_OPTIONS for what each means and its default). */
export type ServeOptions = { [S in Spec as S['key']]?: KindValue<S> };

type Defaulted = Extract<Spec, { default: unknown }>['key'];

/** Options after resolution: every option with a default is set; `registryUri` and `modelUri` too. */
export type ResolvedServeConfig = Required<Pick<ServeOptions, Defaulted | 'registryUri' | 'modelUri'>> &
  Omit<ServeOptions, Defaulted | 'registryUri' | 'modelUri'>;

export const DEFAULT_REGISTRY_URI = 'file:./registry';

const SPECS: ReadonlyMap<string, OptionSpec> = new Map(SERVE_OPTIONS.map((s) => [s.key, s]));

export function optionSpec(key: string): OptionSpec {
  const spec = SPECS.get(key);
  if (spec === undefined) throw new Error(`no option '${key}'`);
  return spec;
}

/** The defaults, as the table has them. */
export const SERVE_DEFAULTS = Object.fromEntries(
  SERVE_OPTIONS.flatMap((s) => ('default' in s ? [[s.key, s.default]] : [])),
) as unknown as Pick<ResolvedServeConfig, Defaulted>;

/**
 * The registry when no flag names one: MODELGATE_REGISTRY_URI, else the MLflow server MLflow's own
 * variables name (MLFLOW_REGISTRY_URI, then MLFLOW_TRACKING_URI), else the local directory.
 * MLflow URIs that are not an HTTP server (a file store, sqlite:, databricks) are skipped:
 * modelgate cannot read them, and users who set them for MLflow keep the local default.
 */
export function defaultRegistryUri(env: Environment): string {
  if (env.MODELGATE_REGISTRY_URI) return env.MODELGATE_REGISTRY_URI;
  for (const name of ['MLFLOW_REGISTRY_URI', 'MLFLOW_TRACKING_URI']) {
    const uri = env[name];
    if (uri !== undefined && /^https?:\/\//i.test(uri)) return uri;
  }
  return DEFAULT_REGISTRY_URI;
}

/** Options from the environment (variables that are set and non-empty), checked by the table. */
export function optionsFromEnv(env: Environment): ServeOptions {
  const out: Record<string, unknown> = {};
  for (const spec of SERVE_OPTIONS) {
    const raw = spec.env === undefined ? undefined : env[spec.env];
    if (raw === undefined || raw === '') continue;
    out[spec.key] = parseValue(spec, raw, spec.env);
  }
  // Without MODELGATE_REGISTRY_URI, an MLflow user's own variables name the registry.
  if (out.registryUri === undefined && defaultRegistryUri(env) !== DEFAULT_REGISTRY_URI) out.registryUri = defaultRegistryUri(env);
  return out as ServeOptions;
}

/** Later layers win; unknown keys and values out of bounds are refused, naming the option. */
export function resolveServeConfig(...layers: ServeOptions[]): ResolvedServeConfig {
  const merged: Record<string, unknown> = { registryUri: DEFAULT_REGISTRY_URI, ...SERVE_DEFAULTS };
  for (const layer of layers) {
    // A layer naming one model overrides a list from the layers under it, and the other way round.
    if (layer.modelUri !== undefined && layer.models === undefined) delete merged.models;
    if (layer.models !== undefined && layer.modelUri === undefined) delete merged.modelUri;
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      const spec = SPECS.get(k);
      if (spec === undefined) throw new ConfigError(`Unknown serve option '${k}'.`);
      merged[k] = checkValue(spec, v, k);
    }
  }
  if (merged.models !== undefined) {
    merged.models = namedModels(merged.models as ServedModel[]);
    merged.modelUri ??= (merged.models as ServedModel[])[0].primary;
  }
  // A whole registry needs no model named; the ones it finds are looked up when serving.
  if (merged.allModels !== undefined) merged.modelUri ??= '';
  else if (typeof merged.modelUri !== 'string' || merged.modelUri === '') {
    throw new ConfigError('No model to serve: pass -m/--model-uri or set MODELGATE_MODEL_URI.');
  }
  // A URI that can never be served is a setting mistake, found before anything starts.
  const listed = ((merged.models ?? []) as ServedModel[]).flatMap((m) => [m.primary, m.canary, m.shadow]);
  for (const uri of [merged.modelUri, merged.canaryUri, merged.shadowUri, ...listed]) {
    if (typeof uri !== 'string' || uri === '') continue;
    try {
      const where = modelLocation(uri);
      if (where.kind === 'registry') parseModelUri(uri);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  perModelPercent(merged.logRequestsByModel as string[]);
  return merged as ResolvedServeConfig;
}

/** `--log-requests-model name=percent,…` as a map; a malformed entry is a setting mistake. */
export function perModelPercent(list: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of list) {
    const eq = entry.lastIndexOf('=');
    const p = Number(entry.slice(eq + 1));
    if (eq <= 0 || entry.slice(eq + 1).trim() === '' || !(p >= 0 && p <= 100)) {
      throw new ConfigError(`--log-requests-model takes NAME=PERCENT (0-100), got '${entry}'`);
    }
    out[entry.slice(0, eq)] = p;
  }
  return out;
}

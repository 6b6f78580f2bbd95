/**
 * An MLflow tracking server's Model Registry as a RegistryBackend, over MLflow's REST API.
 *
 * Reads follow the requests MLflow's own Python client makes (see
 * test/fixtures/mlflow-registry/exchanges/, recorded from MLflow 3.11): an alias is one
 * `registered-models/alias` call, `latest` is `get-latest-versions` and the highest READY version,
 * and a version's files come from `get-download-uri` → artifact listing → downloads through the
 * `mlflow-artifacts` proxy, into a local cache that is reused without any request afterwards.
 *
 * Registering new versions stays MLflow's job (it writes MLmodel, environments and lineage).
 */
import { GatewayError, ResourceNotFoundError } from '../../../errors.js';
import type { MaterializedModel, ModelVersion, RegisteredModel, RegistryBackend, VersionStatus } from '../../backend.js';
import { parseModelUri } from '../../model-uri.js';
import { redactUri } from '../../../util/redact.js';
import { validateAlias, validateModelName } from '../../names.js';
import {
  type ArtifactLocation,
  type CacheKey,
  type ProgressListener,
  artifactLocation,
  cacheEntryDir,
  downloadToCache,
  readCacheEntry,
} from './artifacts.js';
import { type MlflowClientOptions, MlflowApiError, MlflowHttp, defaultCacheDir } from './client.js';

export {
  type ArtifactLocation,
  type DownloadProgress,
  type ProgressListener,
  UnsupportedArtifactStoreError,
  artifactLocation,
  progressReporter,
} from './artifacts.js';
export { type MlflowAuth, type MlflowClientOptions, MlflowApiError, defaultCacheDir, mlflowOptionsFromEnv } from './client.js';

/**
 * The `version` of a ModelVersion that stands for an MLflow 3 logged model (`models:/m-<id>`):
 * logged models have an id but no version number; their `name` is the id.
 */
export const LOGGED_MODEL_VERSION = 'logged-model';

export interface MlflowRegistryOptions extends MlflowClientOptions {
  /** Where downloaded versions are kept. @default $MODELGATE_CACHE_DIR or ~/.cache/modelgate */
  cacheDir?: string;
  /** Files downloaded in parallel. @default 4 */
  concurrency?: number;
  /** Called as downloads progress (not for versions already in the cache). */
  progress?: ProgressListener;
}

// --- MLflow's JSON (proto3: empty fields are left out) -------------------------------------------

interface MlflowTag {
  key: string;
  value?: string;
}

interface MlflowModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number | string;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: MlflowTag[];
  aliases?: string[];
}

interface MlflowRegisteredModel {
  name: string;
  creation_timestamp?: number | string;
  description?: string;
  latest_versions?: MlflowModelVersion[];
  tags?: MlflowTag[];
  aliases?: { alias: string; version: string }[];
}

interface MlflowLoggedModel {
  model: {
    info: {
      model_id: string;
      name?: string;
      creation_timestamp_ms?: number | string;
      artifact_uri?: string;
      status?: string;
      source_run_id?: string;
      tags?: MlflowTag[];
    };
  };
}

const API = '/api/2.0/mlflow';
const STATUSES = new Set<string>(['READY', 'PENDING_REGISTRATION', 'FAILED_REGISTRATION']);

const tagMap = (tags: MlflowTag[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((t) => [t.key, t.value ?? '']));

const byVersion = (a: { version: string }, b: { version: string }) => Number(a.version) - Number(b.version);

function toVersion(v: MlflowModelVersion, aliases?: string[]): ModelVersion {
  return {
    name: v.name,
    version: String(v.version),
    createdAt: Number(v.creation_timestamp ?? 0),
    status: (STATUSES.has(v.status ?? '') ? v.status : 'READY') as VersionStatus,
    aliases: [...(aliases ?? v.aliases ?? [])].sort(),
    ...(v.source ? { source: v.source } : {}),
    ...(v.description ? { description: v.description } : {}),
    tags: tagMap(v.tags),
    ...(v.current_stage ? { stage: v.current_stage } : {}),
    ...(v.run_id ? { runId: v.run_id } : {}),
  };
}

function validateVersion(version: string): string {
  if (!/^\d+$/.test(version) || Number(version) < 1) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid version '${version}': MLflow versions are positive integers.`);
  }
  return String(Number(version));
}

/** `name='…'` for MLflow's search filter, quoted so names with quotes still parse. */
function nameFilter(name: string): string {
  if (!name.includes("'")) return `name='${name}'`;
  if (!name.includes('"')) return `name="${name}"`;
  throw new GatewayError('INVALID_PARAMETER_VALUE', `Model names with both ' and " cannot be searched in MLflow: ${name}`);
}

export class MlflowRegistry implements RegistryBackend {
  readonly http: MlflowHttp;
  readonly cacheDir: string;
  private readonly concurrency: number;
  private readonly progress: ProgressListener | undefined;
  /** Concurrent materialize calls for one version share one download. */
  private readonly inFlight = new Map<string, Promise<MaterializedModel>>();

  /** The registry URI without its user info: this is what logs, messages and images may show. */
  readonly uri: string;

  constructor(uri: string, options: MlflowRegistryOptions = {}) {
    this.uri = redactUri(uri);
    this.http = new MlflowHttp(uri, options);
    this.cacheDir = options.cacheDir ?? defaultCacheDir({});
    this.concurrency = options.concurrency ?? 4;
    this.progress = options.progress;
  }

  // --- models ----------------------------------------------------------------------------------

  private toModel(m: MlflowRegisteredModel): RegisteredModel {
    const latest = (m.latest_versions ?? []).map((v) => Number(v.version));
    return {
      name: m.name,
      createdAt: Number(m.creation_timestamp ?? 0),
      ...(m.description ? { description: m.description } : {}),
      tags: tagMap(m.tags),
      aliases: Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, String(a.version)])),
      ...(latest.length > 0 ? { latestVersion: String(Math.max(...latest)) } : {}),
    };
  }

  private async rawModel(name: string): Promise<MlflowRegisteredModel> {
    validateModelName(name);
    const res = await this.http.json<{ registered_model: MlflowRegisteredModel }>('GET', `${API}/registered-models/get`, {
      query: { name },
    });
    return res.registered_model;
  }

  async listModels(): Promise<RegisteredModel[]> {
    const out: RegisteredModel[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.http.json<{ registered_models?: MlflowRegisteredModel[]; next_page_token?: string }>(
        'GET',
        `${API}/registered-models/search`,
        { query: { page_token: pageToken } },
      );
      for (const m of res.registered_models ?? []) out.push(this.toModel(m));
      pageToken = res.next_page_token || undefined;
    } while (pageToken !== undefined);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getModel(name: string): Promise<RegisteredModel> {
    return this.toModel(await this.rawModel(name));
  }

  // --- versions --------------------------------------------------------------------------------

  async listVersions(name: string): Promise<ModelVersion[]> {
    // The model first: search answers an empty list for an unknown name, and its results carry no aliases.
    const model = await this.rawModel(name);
    const aliasesOf = new Map<string, string[]>();
    for (const a of model.aliases ?? []) aliasesOf.set(String(a.version), [...(aliasesOf.get(String(a.version)) ?? []), a.alias]);
    const out: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.http.json<{ model_versions?: MlflowModelVersion[]; next_page_token?: string }>(
        'GET',
        `${API}/model-versions/search`,
        {
          query: { filter: nameFilter(name), page_token: pageToken },
        },
      );
      for (const v of res.model_versions ?? []) if (v.name === name) out.push(toVersion(v, aliasesOf.get(String(v.version)) ?? []));
      pageToken = res.next_page_token || undefined;
    } while (pageToken !== undefined);
    return out.sort(byVersion);
  }

  async getVersion(name: string, version: string): Promise<ModelVersion> {
    // What getLoggedModel returned, looked up again by (name, version) as callers do for any version.
    if (version === LOGGED_MODEL_VERSION && /^m-[0-9a-f]+$/i.test(name)) return this.getLoggedModel(name);
    validateModelName(name);
    const res = await this.http.json<{ model_version: MlflowModelVersion }>('GET', `${API}/model-versions/get`, {
      query: { name, version: validateVersion(version) },
    });
    return toVersion(res.model_version);
  }

  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    try {
      const res = await this.http.json<{ model_version: MlflowModelVersion }>('GET', `${API}/registered-models/alias`, {
        query: { name, alias },
      });
      return toVersion(res.model_version);
    } catch (err) {
      // MLflow's own stores answer a missing alias with 400 INVALID_PARAMETER_VALUE, others with 404: both are "not found".
      if (err instanceof MlflowApiError && err.httpStatus === 400 && err.mlflowErrorCode === 'INVALID_PARAMETER_VALUE') {
        throw new ResourceNotFoundError(`${err.mlflowMessage} (models:/${name}@${alias} on the MLflow server ${this.http.baseUrl})`);
      }
      throw err;
    }
  }

  async getLatestVersion(name: string, stage?: string): Promise<ModelVersion> {
    validateModelName(name);
    const res = await this.http.json<{ model_versions?: MlflowModelVersion[] }>('POST', `${API}/registered-models/get-latest-versions`, {
      body: stage === undefined ? { name } : { name, stages: [stage] },
    });
    // MLflow's client: the highest version among the latest of each stage (READY ones only).
    const ready = (res.model_versions ?? []).filter((v) => (v.status ?? 'READY') === 'READY').sort(byVersion);
    if (ready.length > 0) return toVersion(ready[ready.length - 1]);
    if (stage !== undefined) {
      throw new ResourceNotFoundError(
        `Registered model ${name} has no READY version in stage '${stage}' (MLflow server ${this.http.baseUrl})`,
      );
    }
    // The newest version of every stage is still registering: fall back to the highest READY one overall.
    const all = (await this.listVersions(name)).filter((v) => v.status === 'READY');
    if (all.length === 0)
      throw new ResourceNotFoundError(`Registered model ${name} has no READY versions (MLflow server ${this.http.baseUrl})`);
    return this.getVersion(name, all[all.length - 1].version);
  }

  async getLoggedModel(modelId: string): Promise<ModelVersion> {
    if (!/^m-[0-9a-f]+$/i.test(modelId))
      throw new GatewayError('INVALID_PARAMETER_VALUE', `'${modelId}' is not an MLflow logged-model id (m-<hex>)`);
    const res = await this.http.json<MlflowLoggedModel>('GET', `${API}/logged-models/${modelId}`);
    const info = res.model.info;
    const status: VersionStatus =
      info.status === 'LOGGED_MODEL_READY' || info.status === undefined
        ? 'READY'
        : info.status === 'LOGGED_MODEL_UPLOAD_FAILED'
          ? 'FAILED_REGISTRATION'
          : 'PENDING_REGISTRATION';
    return {
      name: info.model_id,
      version: LOGGED_MODEL_VERSION,
      createdAt: Number(info.creation_timestamp_ms ?? 0),
      status,
      aliases: [],
      ...(info.artifact_uri ? { source: info.artifact_uri } : {}),
      ...(info.name ? { description: `MLflow logged model '${info.name}'` } : {}),
      tags: tagMap(info.tags),
      ...(info.source_run_id ? { runId: info.source_run_id } : {}),
    };
  }

  /**
   * A model logged in a run and never registered (`runs:/<run_id>/<path>`, as `mlflow models
   * serve -m` takes it): named after its artifact path, versioned by the run id.
   */
  async getRunModel(runId: string, path: string): Promise<ModelVersion> {
    const res = await this.http.json<{ run: { info: { run_id?: string; start_time?: number; status?: string } } }>(
      'GET',
      `${API}/runs/get`,
      {
        query: { run_id: runId },
      },
    );
    const info = res.run.info;
    return {
      name: path.split('/').at(-1) ?? path,
      version: runId,
      createdAt: Number(info.start_time ?? 0),
      status: 'READY',
      aliases: [],
      source: `runs:/${runId}/${path}`,
      tags: {},
      runId,
    };
  }

  // --- aliases ---------------------------------------------------------------------------------

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.http.json('POST', `${API}/registered-models/alias`, { body: { name, alias, version: validateVersion(version) } });
  }

  /** MLflow's delete_model_version; the version's aliases are removed first, so none is left dangling on any MLflow version. */
  async deleteVersion(name: string, version: string): Promise<void> {
    validateModelName(name);
    const v = await this.getVersion(name, version);
    for (const alias of v.aliases) await this.http.json('DELETE', `${API}/registered-models/alias`, { body: { name, alias } });
    await this.http.json('DELETE', `${API}/model-versions/delete`, { body: { name, version: v.version } });
  }

  /** MLflow's delete_registered_model: the model, its versions and aliases. */
  async deleteModel(name: string): Promise<void> {
    validateModelName(name);
    await this.http.json('DELETE', `${API}/registered-models/delete`, { body: { name } });
  }

  async deleteAlias(name: string, alias: string): Promise<boolean> {
    validateAlias(alias);
    // MLflow answers `{}` whether or not the alias existed; one lookup first tells the two apart.
    let existed: boolean;
    try {
      await this.getVersionByAlias(name, alias);
      existed = true;
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'RESOURCE_DOES_NOT_EXIST') throw err;
      // A 400 is MLflow's own "alias not found": nothing to delete. A 404 may also mean the model
      // is unknown, which the DELETE reports as an error.
      if (!(err instanceof MlflowApiError)) return false;
      existed = false;
    }
    await this.http.json('DELETE', `${API}/registered-models/alias`, { body: { name, alias } });
    return existed;
  }

  // --- files -----------------------------------------------------------------------------------

  /**
   * `runs:/` and `models:/` URIs point at other registry objects; follow them to a store URI
   * (as MLflow's RunsArtifactRepository and ModelsArtifactRepository do).
   */
  private async resolveArtifactUri(uri: string, depth = 0): Promise<{ uri: string; location: ArtifactLocation }> {
    if (depth > 4)
      throw new GatewayError('INTERNAL_ERROR', `Artifact URI ${uri} refers to itself through too many runs:/ or models:/ links`);
    if (uri.startsWith('runs:/')) {
      const m = /^runs:\/+([^/]+)\/?(.*)$/.exec(uri);
      if (m === null) throw new GatewayError('INVALID_PARAMETER_VALUE', `Malformed runs:/ artifact URI ${uri}`);
      const run = await this.http.json<{ run: { info: { artifact_uri?: string } } }>('GET', `${API}/runs/get`, { query: { run_id: m[1] } });
      const root = run.run.info.artifact_uri;
      if (!root) throw new GatewayError('INTERNAL_ERROR', `Run ${m[1]} has no artifact URI on ${this.http.baseUrl}`);
      return this.resolveArtifactUri(m[2] === '' ? root : `${root.replace(/\/+$/, '')}/${m[2]}`, depth + 1);
    }
    if (uri.startsWith('models:/')) {
      const parsed = parseModelUri(uri);
      if (parsed.kind === 'run') throw new GatewayError('INVALID_PARAMETER_VALUE', `Malformed models:/ artifact URI ${uri}`);
      const target =
        parsed.kind === 'logged-model'
          ? await this.getLoggedModel(parsed.modelId)
          : await (async () => {
              const v =
                parsed.kind === 'version'
                  ? await this.getVersion(parsed.name, parsed.version)
                  : parsed.kind === 'alias'
                    ? await this.getVersionByAlias(parsed.name, parsed.alias)
                    : await this.getLatestVersion(parsed.name, parsed.kind === 'stage' ? parsed.stage : undefined);
              return { ...v, source: await this.downloadUri(v) };
            })();
      if (target.source === undefined) throw new GatewayError('INTERNAL_ERROR', `${uri} has no artifact location on ${this.http.baseUrl}`);
      return this.resolveArtifactUri(target.source, depth + 1);
    }
    return { uri, location: artifactLocation(uri, this.http.baseUrl) };
  }

  private async downloadUri(v: ModelVersion): Promise<string> {
    if (v.source?.startsWith('runs:/')) return v.source;
    if (v.version === LOGGED_MODEL_VERSION) {
      if (v.source !== undefined && !v.source.startsWith('models:/')) return v.source;
      return (await this.getLoggedModel(v.name)).source ?? '';
    }
    const res = await this.http.json<{ artifact_uri: string }>('GET', `${API}/model-versions/get-download-uri`, {
      query: { name: v.name, version: v.version },
    });
    return res.artifact_uri;
  }

  /**
   * The version's files in the local cache: reused as they are when already downloaded (no
   * request at all), otherwise downloaded, verified and published in one rename.
   */
  async materialize(version: ModelVersion): Promise<MaterializedModel> {
    // The cache key needs the version's source; a caller-made ModelVersion may not carry it.
    const v =
      version.source !== undefined
        ? version
        : version.version === LOGGED_MODEL_VERSION
          ? await this.getLoggedModel(version.name)
          : await this.getVersion(version.name, version.version);
    const label = v.source?.startsWith('runs:/')
      ? v.source
      : v.version === LOGGED_MODEL_VERSION
        ? `models:/${v.name}`
        : `models:/${v.name}/${v.version}`;
    if (v.status !== 'READY') {
      throw new GatewayError(
        'INVALID_STATE',
        `${label} is ${v.status} on the MLflow server ${this.http.baseUrl}, not READY: its files may be incomplete.`,
      );
    }
    const key: CacheKey = { server: this.http.baseUrl, name: v.name, version: v.version, source: v.source ?? '' };
    const entry = cacheEntryDir(this.cacheDir, key);
    const pending = this.inFlight.get(entry);
    if (pending !== undefined) return pending;
    const work = (async () => {
      const cached = await readCacheEntry(this.cacheDir, entry, key);
      if (cached !== undefined) return cached;
      const resolved = await this.resolveArtifactUri(await this.downloadUri(v));
      return downloadToCache({
        http: this.http,
        cacheRoot: this.cacheDir,
        key,
        location: resolved.location,
        artifactUri: resolved.uri,
        label,
        concurrency: this.concurrency,
        ...(this.progress === undefined ? {} : { progress: this.progress }),
      });
    })();
    this.inFlight.set(entry, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(entry);
    }
  }

  async registerVersion(): Promise<ModelVersion> {
    throw new GatewayError(
      'NOT_IMPLEMENTED',
      `modelgate does not register versions in an MLflow registry (${this.http.baseUrl}): log and register the model with MLflow ` +
        `(mlflow.onnx.log_model(..., registered_model_name=...), or MlflowClient.create_model_version), then serve it from here.`,
    );
  }

  /** Closes pooled connections (a CLI exits without it; long-lived library users may want it). */
  close(): Promise<void> {
    return this.http.close();
  }
}

/**
 * The registry as callers use it: a backend plus `models:/` resolution, alias watching, and
 * registration through a validator (the core's, which refuses a model whose serving example does
 * not score: src/core/registration.ts). Registries are opened there, with the validator.
 */
import { resolve } from 'node:path';
import { GatewayError, describeError, isGatewayError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { MaterializedModel, ModelVersion, RegisteredModel, RegistryBackend } from './backend.js';
import { type ModelUri, isModelUri, parseModelUri } from './model-uri.js';
import { validateAlias, validateModelName } from './names.js';

export interface RegisterModelOptions {
  name: string;
  /** Point this alias at the new version once it is registered. */
  alias?: string;
  description?: string;
  tags?: Record<string, string>;
  /** Skip loading and scoring the serving example (not recommended). @default false */
  skipValidation?: boolean;
  /** Milliseconds loading and scoring the example may take before registration fails. @default 300000 */
  loadTimeoutMs?: number;
  /** A dataset (CSV or parquet) whose profile is stored with the version as its drift reference. */
  reference?: string;
  logger?: Logger;
}

/**
 * Checks the staged copy of a model directory before it becomes a version, and may complete it
 * (an MLmodel for a bare directory); returns the model's flavour.
 */
export type StagedValidator = (staged: string, options: RegisterModelOptions) => Promise<{ flavor: string }>;

export class Registry {
  constructor(
    readonly backend: RegistryBackend,
    private readonly validator?: StagedValidator,
  ) {}

  get uri(): string {
    return this.backend.uri;
  }

  /** Resolves a `models:/` URI (string or parsed) to one version. */
  async resolve(uri: string | ModelUri): Promise<ModelVersion> {
    const u = typeof uri === 'string' ? parseModelUri(uri) : uri;
    switch (u.kind) {
      case 'version':
        return this.backend.getVersion(u.name, u.version);
      case 'alias':
        return this.backend.getVersionByAlias(u.name, u.alias);
      case 'latest':
        return this.backend.getLatestVersion(u.name);
      case 'stage':
        return this.backend.getLatestVersion(u.name, u.stage);
      case 'logged-model':
        if (this.backend.getLoggedModel === undefined) {
          throw new GatewayError(
            'INVALID_PARAMETER_VALUE',
            `Logged-model URIs (models:/${u.modelId}) need an MLflow registry; this one is ${this.uri}.`,
          );
        }
        return this.backend.getLoggedModel(u.modelId);
      case 'run':
        if (this.backend.getRunModel === undefined) {
          throw new GatewayError(
            'INVALID_PARAMETER_VALUE',
            `Run URIs (runs:/${u.runId}/${u.path}) need an MLflow tracking server (--registry http://…); this registry is ${this.uri}.`,
          );
        }
        return this.backend.getRunModel(u.runId, u.path);
    }
  }

  /**
   * The version `ref` names, for the URI it was resolved from: a registered version is looked up
   * by number (the alias may have moved on since); a run or logged model is what the URI names.
   */
  async versionOf(uri: string, ref: { name: string; version: string }): Promise<ModelVersion> {
    const u = parseModelUri(uri);
    if (u.kind === 'run' || u.kind === 'logged-model') return this.resolve(u);
    return this.backend.getVersion(ref.name, ref.version);
  }

  /** Copies a model directory in as a new immutable version; prints nothing, returns the version. */
  async register(dir: string, options: RegisterModelOptions): Promise<ModelVersion> {
    if (this.backend.registerVersion === undefined) {
      throw new GatewayError('NOT_IMPLEMENTED', `The registry at ${this.uri} does not accept registrations from modelgate.`);
    }
    validateModelName(options.name);
    if (options.alias !== undefined) validateAlias(options.alias);
    const version = await this.backend.registerVersion(options.name, dir, {
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.tags === undefined ? {} : { tags: options.tags }),
      prepare: (staged) => this.validateStaged(staged, dir, options),
    });
    if (options.alias !== undefined) await this.backend.setAlias(options.name, options.alias, version.version);
    return options.alias === undefined ? version : this.backend.getVersion(options.name, version.version);
  }

  /** Validates the staged copy; errors name the user's folder, not the staging one. */
  private async validateStaged(staged: string, source: string, options: RegisterModelOptions): Promise<{ flavor: string }> {
    if (this.validator === undefined) {
      throw new GatewayError('NOT_IMPLEMENTED', 'This registry was opened without a model validator: open it with openRegistry().');
    }
    try {
      return await this.validator(staged, options);
    } catch (err) {
      const message = `${resolve(source)} was not registered: ${describeError(err).replaceAll(staged, resolve(source))}`;
      throw new GatewayError(isGatewayError(err) ? err.code : 'INVALID_PARAMETER_VALUE', message, { cause: err });
    }
  }

  /** Whether a URI can point at another version later (an alias, `latest`, a stage). */
  follows(uri: string): boolean {
    if (!isModelUri(uri)) return false;
    const kind = parseModelUri(uri).kind;
    return kind !== 'version' && kind !== 'run' && kind !== 'logged-model';
  }

  /**
   * Calls `onChange` soon after what a URI points at may have moved, where the backend can tell
   * (the local one watches its files); returns a function that stops watching.
   */
  watch(uri: string, onChange: () => void): () => void {
    if (!this.follows(uri) || this.backend.watchModel === undefined) return () => undefined;
    const u = parseModelUri(uri);
    if (u.kind === 'logged-model' || u.kind === 'run') return () => undefined;
    return this.backend.watchModel(u.name, onChange);
  }

  /** Cleans up after crashed writers; best effort (a read-only registry, say in an image, is left as it is). */
  async sweep(): Promise<void> {
    await this.backend.sweep?.().catch(() => undefined);
  }

  /**
   * Deletes a version. One that an alias points at is refused unless `force` (then its aliases
   * go too): servers following the alias would otherwise lose their model.
   */
  async deleteVersion(name: string, version: string, options: { force?: boolean } = {}): Promise<void> {
    const del = this.backend.deleteVersion?.bind(this.backend);
    if (del === undefined) throw new GatewayError('NOT_IMPLEMENTED', `The registry at ${this.uri} cannot delete versions.`);
    const v = await this.backend.getVersion(name, version);
    if (v.aliases.length > 0 && options.force !== true) {
      throw new GatewayError(
        'INVALID_STATE',
        `Version ${v.version} of '${name}' is what ${v.aliases.map((a) => `@${a}`).join(', ')} point${v.aliases.length === 1 ? 's' : ''} at; move or delete the alias first, or pass --force to delete it too.`,
        { status: 409 },
      );
    }
    await del(name, v.version);
  }

  /** Deletes a model; one that still has versions is refused unless `force` (then they all go). */
  async deleteModel(name: string, options: { force?: boolean } = {}): Promise<void> {
    const del = this.backend.deleteModel?.bind(this.backend);
    if (del === undefined) throw new GatewayError('NOT_IMPLEMENTED', `The registry at ${this.uri} cannot delete models.`);
    const versions = await this.backend.listVersions(name).catch((err: unknown) => {
      // A model whose versions were all deleted lists none.
      if (isGatewayError(err) && err.code === 'RESOURCE_DOES_NOT_EXIST') return [];
      throw err;
    });
    if (versions.length > 0 && options.force !== true) {
      throw new GatewayError(
        'INVALID_STATE',
        `'${name}' still has version${versions.length === 1 ? '' : 's'} ${versions.map((v) => v.version).join(', ')}; delete ${versions.length === 1 ? 'it' : 'them'} first, or pass --force to delete the model with all its versions.`,
        { status: 409 },
      );
    }
    await del(name);
  }

  listModels(): Promise<RegisteredModel[]> {
    return this.backend.listModels();
  }

  listVersions(name: string): Promise<ModelVersion[]> {
    return this.backend.listVersions(name);
  }

  setAlias(name: string, alias: string, version: string): Promise<void> {
    return this.backend.setAlias(name, alias, version);
  }

  deleteAlias(name: string, alias: string): Promise<boolean> {
    return this.backend.deleteAlias(name, alias);
  }

  materialize(version: ModelVersion): Promise<MaterializedModel> {
    return this.backend.materialize(version);
  }
}

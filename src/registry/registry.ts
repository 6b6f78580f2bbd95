/**
 * The registry as callers use it: a backend plus `models:/` resolution and registration that
 * refuses a model whose serving example does not score.
 */
import { resolve } from 'node:path';
import { GatewayError, describeError, isGatewayError } from '../errors.js';
import { openModelDir } from '../core/model-dir.js';
import { writeMLModel } from '../model/mlmodel.js';
import { signatureToDict } from '../schema/signature.js';
import { loadServable } from '../core/dataplane.js';
import type { Logger } from '../util/log.js';
import type { MaterializedModel, ModelVersion, RegisteredModel, RegistryBackend } from './backend.js';
import { openBackend } from './backends/index.js';
import { type ModelUri, parseModelUri } from './model-uri.js';
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
  logger?: Logger;
}

export class Registry {
  constructor(readonly backend: RegistryBackend) {}

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

  /** Loads the staged copy and scores its example; errors name the user's folder, not the staging one. */
  private async validateStaged(staged: string, source: string, options: RegisterModelOptions): Promise<{ flavor: string }> {
    try {
      const md = await openModelDir(staged);
      if (options.skipValidation && !md.generated) return { flavor: md.flavor.name };
      const servable = await loadServable(
        md,
        { name: options.name, version: 'staged' },
        {
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: options.loadTimeoutMs }),
        },
      );
      try {
        if (md.generated) {
          // Describe a bare directory with an MLmodel carrying the signature the flavour inferred.
          const doc: Record<string, unknown> = { ...md.mlmodel.raw };
          if (servable.signature) doc.signature = signatureToDict(servable.signature);
          await writeMLModel(staged, doc);
        }
      } finally {
        await servable.model.unload();
      }
      return { flavor: md.flavor.name };
    } catch (err) {
      const message = `${resolve(source)} was not registered: ${describeError(err).replaceAll(staged, resolve(source))}`;
      throw new GatewayError(isGatewayError(err) ? err.code : 'INVALID_PARAMETER_VALUE', message, { cause: err });
    }
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

export function openRegistry(uri: string): Registry {
  return new Registry(openBackend(uri));
}

/**
 * The registry plug-in point. A backend stores registered models, their immutable versions and
 * aliases, and hands out verified local copies of a version's files. The local directory registry
 * and the MLflow tracking server's registry implement it; callers only see this interface.
 */

export type { FileDigest } from '../util/files.js';
import type { FileDigest } from '../util/files.js';

export interface RegisteredModel {
  readonly name: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** alias → version */
  readonly aliases: Readonly<Record<string, string>>;
  /** Highest version number, if any. */
  readonly latestVersion?: string;
}

export type VersionStatus = 'READY' | 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION';

export interface ModelVersion {
  readonly name: string;
  /** A decimal string, as MLflow's API returns it. */
  readonly version: string;
  readonly createdAt: number;
  readonly status: VersionStatus;
  readonly aliases: readonly string[];
  readonly source?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The flavour that serves it, when the registry knows. */
  readonly flavor?: string;
  /** MLflow: stage (deprecated) and run id. */
  readonly stage?: string;
  readonly runId?: string;
  /** Files with their digests, when the registry records them. */
  readonly files?: readonly FileDigest[];
}

/** A version's files on local disk, checked against the registry's digests. */
export interface MaterializedModel {
  readonly dir: string;
  readonly files: readonly FileDigest[];
}

export interface RegisterOptions {
  description?: string;
  tags?: Record<string, string>;
  /**
   * Called with the staged copy of the files before the version becomes visible; may add files
   * (e.g. a generated MLmodel) and must throw to refuse the model. Returns the flavour name.
   */
  prepare?: (stagedDir: string) => Promise<{ flavor: string }>;
}

export interface RegistryBackend {
  /** The registry URI as given, e.g. `file:./registry` or `http://mlflow:5000`. */
  readonly uri: string;
  listModels(): Promise<RegisteredModel[]>;
  getModel(name: string): Promise<RegisteredModel>;
  /** Ascending by version number. */
  listVersions(name: string): Promise<ModelVersion[]>;
  getVersion(name: string, version: string): Promise<ModelVersion>;
  getVersionByAlias(name: string, alias: string): Promise<ModelVersion>;
  /** Highest READY version (of a stage, for registries that have stages). */
  getLatestVersion(name: string, stage?: string): Promise<ModelVersion>;
  /** MLflow 3 logged models (`models:/m-…`); registries without them throw. */
  getLoggedModel?(modelId: string): Promise<ModelVersion>;
  /** A model logged in an MLflow run (`runs:/<run_id>/<path>`). */
  getRunModel?(runId: string, path: string): Promise<ModelVersion>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  /** Returns false when the alias did not exist (not an error, as in MLflow). */
  deleteAlias(name: string, alias: string): Promise<boolean>;
  materialize(version: ModelVersion): Promise<MaterializedModel>;
  /**
   * Calls `onChange` soon after a model's aliases or versions may have changed (a hint to look
   * again, not an event log); returns a function that stops watching. Registries without
   * notifications leave it out and are polled.
   */
  watchModel?(name: string, onChange: () => void): () => void;
  /** Deletes one version and the aliases pointing at it (MLflow's delete_model_version). */
  deleteVersion?(name: string, version: string): Promise<void>;
  /** Deletes a registered model with all its versions and aliases (delete_registered_model). */
  deleteModel?(name: string): Promise<void>;
  /** Removes what crashed writers left behind (temporary files, staging folders), leaving live writers alone. */
  sweep?(): Promise<void>;
  /** Registries that accept new versions from a local directory. */
  registerVersion?(name: string, sourceDir: string, options?: RegisterOptions): Promise<ModelVersion>;
}

/**
 * Everything an image of one model version is made of, decided before any daemon is involved:
 * the resolved version (an alias is resolved here, once), the Dockerfile, the labels and the
 * list of context entries (dependencies, compiled server, model).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { openModelDir } from '../core/model-dir.js';
import type { Flavor } from '../flavors/index.js';
import type { FileDigest } from '../registry/backend.js';
import { isModelUri, parseModelUri } from '../registry/model-uri.js';
import type { Registry } from '../registry/registry.js';
import { MODELGATE_VERSION } from '../version.js';
import { type ContextEntry, contextSize } from './context.js';
import { type RuntimePackage, dependencyEntries, runtimePackages } from './dependencies.js';
import {
  DEFAULT_BASE_IMAGE,
  type ImagePlatform,
  generateDockerfile,
  hostPlatform,
  imageEnv,
  imagePort,
  isImagePlatform,
  readDockerfileTemplate,
} from './dockerfile.js';
import { modelDigest, modelEntries } from './model-files.js';
import { packageRoot } from '../util/package-root.js';
import { environment } from '../config/env.js';
import { type ServedModel, modelArgument, namedModels } from '../config/models.js';

/** Our label namespace beside the OCI ones. */
export const LABEL_PREFIX = 'io.modelgate';
/** Past this many files the per-file label is left out (the digest label still pins them all). */
const MAX_FILES_IN_LABEL = 100;

export interface ImagePlanOptions {
  /**
   * `models:/name/3`, `models:/name@alias` or `models:/name/latest`; a list bakes several, each
   * served under its registered name or the one given as `name=URI`.
   */
  modelUri: string | readonly string[];
  registry: Registry;
  /** @default DEFAULT_BASE_IMAGE */
  baseImage?: string;
  /** @default the build host's CPU */
  platform?: ImagePlatform;
  /** Extra environment baked into the image. */
  env?: Readonly<Record<string, string>>;
  /** modelgate's installation (package.json, dist/, node_modules/). @default where this code runs from */
  appRoot?: string;
  /** The `org.opencontainers.image.created` date. @default SOURCE_DATE_EPOCH or now */
  created?: Date;
}

export interface ImageModel {
  /** The registered name. */
  readonly name: string;
  /** The name it is served under (the registered one unless `name=URI` chose another). */
  readonly servedName: string;
  readonly version: string;
  /** As the user gave it. */
  readonly requestedUri: string;
  /** The version it resolved to: `models:/name/N`. */
  readonly uri: string;
  readonly flavor: string;
  readonly digest: string;
  readonly files: readonly FileDigest[];
}

export interface ImagePlan {
  readonly dockerfile: string;
  readonly entries: readonly ContextEntry[];
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  readonly platform: ImagePlatform;
  readonly baseImage: string;
  /** The first model; the only one of a single-model image. */
  readonly model: ImageModel;
  /** Every model, in the order given. */
  readonly models: readonly ImageModel[];
  readonly packages: readonly RuntimePackage[];
  /** Bytes of file content in the context. */
  readonly contextBytes: number;
  /** Things the user should know (e.g. a base image that cannot work). */
  readonly warnings: readonly string[];
}

function createdDate(explicit: Date | undefined): Date {
  if (explicit) return explicit;
  const epoch = environment().SOURCE_DATE_EPOCH;
  return epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
}

export function imageLabels(model: ImageModel, baseImage: string, created: Date): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': model.name,
    'org.opencontainers.image.description': `${model.uri} (${model.flavor}) served by modelgate over MLflow's scoring protocol`,
    'org.opencontainers.image.version': model.version,
    'org.opencontainers.image.created': created.toISOString(),
    'org.opencontainers.image.base.name': baseImage,
    [`${LABEL_PREFIX}.version`]: MODELGATE_VERSION,
    [`${LABEL_PREFIX}.model.name`]: model.name,
    [`${LABEL_PREFIX}.model.version`]: model.version,
    [`${LABEL_PREFIX}.model.uri`]: model.uri,
    [`${LABEL_PREFIX}.model.requested-uri`]: model.requestedUri,
    [`${LABEL_PREFIX}.model.flavor`]: model.flavor,
    [`${LABEL_PREFIX}.model.digest`]: model.digest,
  };
  if (model.files.length <= MAX_FILES_IN_LABEL) {
    labels[`${LABEL_PREFIX}.model.files`] = JSON.stringify(model.files.map(fileLabel));
  }
  return labels;
}

const fileLabel = (f: FileDigest) => ({ path: f.path, size: f.size, sha256: f.sha256 });

/**
 * Labels of a several-model image: one JSON list describes them all, because model names are not
 * all valid label keys. Files are listed only while the whole image stays under the per-file cap.
 */
export function multiModelLabels(models: readonly ImageModel[], baseImage: string, created: Date): Record<string, string> {
  const withFiles = models.reduce((n, m) => n + m.files.length, 0) <= MAX_FILES_IN_LABEL;
  const described = models.map((m) => ({
    name: m.servedName,
    registeredName: m.name,
    version: m.version,
    uri: m.uri,
    requestedUri: m.requestedUri,
    flavor: m.flavor,
    digest: m.digest,
    ...(withFiles ? { files: m.files.map(fileLabel) } : {}),
  }));
  return {
    'org.opencontainers.image.title': models.map((m) => m.servedName).join(', '),
    'org.opencontainers.image.description': `${models.map((m) => `${m.servedName}: ${m.uri} (${m.flavor})`).join('; ')} served by modelgate over MLflow's scoring protocol`,
    'org.opencontainers.image.created': created.toISOString(),
    'org.opencontainers.image.base.name': baseImage,
    [`${LABEL_PREFIX}.version`]: MODELGATE_VERSION,
    [`${LABEL_PREFIX}.models`]: JSON.stringify(described),
  };
}

function baseImageWarnings(baseImage: string, flavor: Flavor): string[] {
  if (/alpine|musl/i.test(baseImage) && flavor.image?.libc === 'glibc') {
    const runtime = flavor.image.packages.join(', ');
    return [
      `${baseImage} looks musl-based: ${runtime} needs glibc, so the ${flavor.name} model will not load. Use a glibc base (e.g. ${DEFAULT_BASE_IMAGE}).`,
    ];
  }
  return [];
}

/**
 * The server: the one-file bundle the `modelgate` bin runs (it imports only BUNDLE_EXTERNALS),
 * and beside it tracing's OpenTelemetry side, which it imports only when tracing is configured,
 * and the inference log's thread, which it starts only when the log is.
 */
async function appEntries(root: string): Promise<ContextEntry[]> {
  const files = await Promise.all(['modelgate.mjs', 'otel.mjs', 'log-thread.mjs'].map((name) => builtFile(root, name)));
  return [...files, ...(await consoleEntries(root))];
}

async function builtFile(root: string, name: string): Promise<ContextEntry> {
  const source = join(root, 'dist', name);
  const size = await stat(source).then(
    (st) => st.size,
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`${source} does not exist: build modelgate first (npm run build)`);
      throw err;
    },
  );
  return { path: `app/${name}`, source, size, mode: 0o644 };
}

/** The console's and docs page's files (dist/console, built with the bundle): served from beside modelgate.mjs. */
async function consoleEntries(root: string): Promise<ContextEntry[]> {
  const dir = join(root, 'dist', 'console');
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries: ContextEntry[] = [];
  for (const name of names.sort()) {
    const source = join(dir, name);
    entries.push({ path: `app/console/${name}`, source, size: (await stat(source)).size, mode: 0o644 });
  }
  return entries;
}

interface ResolvedModel {
  readonly model: ImageModel;
  readonly entries: ContextEntry[];
  readonly flavor: Flavor;
}

function checkModelUri(uri: string): void {
  if (!isModelUri(uri)) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `An image is built from a registered model version (models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/latest), not '${uri}'. Register a directory first: modelgate registry register <dir> --name <name>.`,
    );
  }
  parseModelUri(uri);
}

/** One model's pinned version and its part of the image's registry. */
async function resolveModel(registry: Registry, arg: ServedModel): Promise<ResolvedModel> {
  checkModelUri(arg.primary);
  // Resolve once: an alias moving later does not change what this image serves.
  const version = await registry.resolve(arg.primary);
  // Verifies every file against the registry's digests before any of it goes into an image.
  const materialized = await registry.materialize(version);
  const md = await openModelDir(materialized.dir);
  const pinned = `models:/${version.name}/${version.version}`;
  const model: ImageModel = {
    name: version.name,
    servedName: arg.name ?? version.name,
    version: version.version,
    requestedUri: arg.primary,
    uri: pinned,
    flavor: md.flavor.name,
    digest: modelDigest(materialized.files),
    files: materialized.files,
  };
  const entries = modelEntries({
    version,
    materialized,
    flavor: md.flavor.name,
    source: `${pinned} from ${registry.uri}`,
    prefix: 'model/registry/',
  });
  return { model, entries, flavor: md.flavor };
}

/**
 * The models as `-m` gives them. A single plain URI stays as it always was (no name rules); with
 * several, the served names are checked as `serve` will check them, before anything is resolved.
 */
function modelArguments(uris: readonly string[]): ServedModel[] {
  if (uris.length === 0) throw new GatewayError('INVALID_PARAMETER_VALUE', 'An image needs at least one model');
  if (uris.length === 1 && isModelUri(uris[0])) return [{ primary: uris[0] }];
  const args = uris.map(modelArgument);
  for (const a of args) checkModelUri(a.primary);
  try {
    namedModels(args);
  } catch (err) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', (err as Error).message);
  }
  return args;
}

/** Two versions of one registered model share its model.json: the first one written is kept. */
function withoutRepeats(entries: readonly ContextEntry[]): ContextEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    if (seen.has(e.path)) return false;
    seen.add(e.path);
    return true;
  });
}

/** Resolves the model(s) and lays out the image. Reads files and the registry; talks to no daemon. */
export async function planImage(options: ImagePlanOptions): Promise<ImagePlan> {
  const args = modelArguments(typeof options.modelUri === 'string' ? [options.modelUri] : options.modelUri);
  const platform = options.platform ?? hostPlatform();
  if (!isImagePlatform(platform)) throw new GatewayError('INVALID_PARAMETER_VALUE', `Unsupported platform '${String(platform)}'`);
  const baseImage = options.baseImage ?? DEFAULT_BASE_IMAGE;
  const root = options.appRoot ?? (await packageRoot());

  const resolved: ResolvedModel[] = [];
  for (const a of args) resolved.push(await resolveModel(options.registry, a));
  const models = resolved.map((r) => r.model);
  const several = models.length > 1;
  // A renamed single model needs the list form too: MODELGATE_MODEL_URI has no name.
  const named = several || models[0].servedName !== models[0].name;
  const baked = named ? models.map((m) => ({ name: m.servedName, uri: m.uri })) : [];
  const modelRef = models.map((m) => m.uri).join(', ');

  const env = imageEnv(modelRef, options.env, baked);
  const created = createdDate(options.created);
  const labels = several ? multiModelLabels(models, baseImage, created) : imageLabels(models[0], baseImage, created);
  const dockerfile = generateDockerfile({
    template: await readDockerfileTemplate(root),
    baseImage,
    platform,
    modelUri: args.map((a) => a.primary).join(', '),
    modelRef,
    models: baked,
    env: options.env ?? {},
    labels,
  });
  const packages = await runtimePackages(root, [...new Set(models.map((m) => m.flavor))]);
  const entries: ContextEntry[] = [
    { path: 'Dockerfile', mode: 0o644, content: dockerfile },
    ...(await dependencyEntries(root, packages, platform, 'deps/')),
    ...(await appEntries(root)),
    ...withoutRepeats(resolved.flatMap((r) => r.entries)),
  ];
  return {
    dockerfile,
    entries,
    labels,
    env,
    port: imagePort(env),
    platform,
    baseImage,
    model: models[0],
    models,
    packages,
    contextBytes: contextSize(entries),
    warnings: [...new Set(resolved.flatMap((r) => baseImageWarnings(baseImage, r.flavor)))],
  };
}

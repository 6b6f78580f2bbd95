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

/** Our label namespace beside the OCI ones. */
export const LABEL_PREFIX = 'io.modelgate';
/** Past this many files the per-file label is left out (the digest label still pins them all). */
const MAX_FILES_IN_LABEL = 100;

export interface ImagePlanOptions {
  /** `models:/name/3`, `models:/name@alias` or `models:/name/latest`. */
  modelUri: string;
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
  readonly name: string;
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
  readonly model: ImageModel;
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
    labels[`${LABEL_PREFIX}.model.files`] = JSON.stringify(model.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })));
  }
  return labels;
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
 * and beside it tracing's OpenTelemetry side, which it imports only when tracing is configured.
 */
async function appEntries(root: string): Promise<ContextEntry[]> {
  const files = await Promise.all(['modelgate.mjs', 'otel.mjs'].map((name) => builtFile(root, name)));
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

/** Resolves the model and lays out the image. Reads files and the registry; talks to no daemon. */
export async function planImage(options: ImagePlanOptions): Promise<ImagePlan> {
  if (!isModelUri(options.modelUri)) {
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `An image is built from a registered model version (models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/latest), not '${options.modelUri}'. Register a directory first: modelgate registry register <dir> --name <name>.`,
    );
  }
  parseModelUri(options.modelUri);
  const platform = options.platform ?? hostPlatform();
  if (!isImagePlatform(platform)) throw new GatewayError('INVALID_PARAMETER_VALUE', `Unsupported platform '${String(platform)}'`);
  const baseImage = options.baseImage ?? DEFAULT_BASE_IMAGE;
  const root = options.appRoot ?? (await packageRoot());

  // Resolve once: an alias moving later does not change what this image serves.
  const version = await options.registry.resolve(options.modelUri);
  // Verifies every file against the registry's digests before any of it goes into an image.
  const materialized = await options.registry.materialize(version);
  const md = await openModelDir(materialized.dir);
  const flavor = md.flavor.name;
  const pinned = `models:/${version.name}/${version.version}`;
  const model: ImageModel = {
    name: version.name,
    version: version.version,
    requestedUri: options.modelUri,
    uri: pinned,
    flavor,
    digest: modelDigest(materialized.files),
    files: materialized.files,
  };

  const env = imageEnv(pinned, options.env);
  const labels = imageLabels(model, baseImage, createdDate(options.created));
  const dockerfile = generateDockerfile({
    template: await readDockerfileTemplate(root),
    baseImage,
    platform,
    modelUri: options.modelUri,
    modelRef: pinned,
    env: options.env ?? {},
    labels,
  });
  const packages = await runtimePackages(root, [flavor]);
  const entries: ContextEntry[] = [
    { path: 'Dockerfile', mode: 0o644, content: dockerfile },
    ...(await dependencyEntries(root, packages, platform, 'deps/')),
    ...(await appEntries(root)),
    ...modelEntries({
      version,
      materialized,
      flavor,
      source: `${pinned} from ${options.registry.uri}`,
      prefix: 'model/registry/',
    }),
  ];
  return {
    dockerfile,
    entries,
    labels,
    env,
    port: imagePort(env),
    platform,
    baseImage,
    model,
    packages,
    contextBytes: contextSize(entries),
    warnings: baseImageWarnings(baseImage, md.flavor),
  };
}

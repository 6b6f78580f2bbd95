/**
 * The model inside the image: a local registry (the layout of src/registry/backends/local) that
 * holds exactly one version, the one the alias pointed at when the image was built. Its
 * version.json carries the sha256 of every file, so `serve` verifies them (LocalRegistry
 * materialize) before loading, at every container start, with no code of its own.
 */
import { createHash } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import type { FileDigest, MaterializedModel, ModelVersion } from '../registry/backend.js';
import { LocalRegistry, modelFolderName } from '../registry/backends/local/index.js';
import type { Registry } from '../registry/registry.js';
import type { ContextEntry } from './context.js';
import { redactUri } from '../util/redact.js';

/**
 * The model's folder under `models/`, as the local registry names it. Taken from where the
 * registry keeps the version when it is a local one; otherwise the same rule (percent-encoding,
 * and a hashed form for names too long for one path component).
 */
export function registryFolderName(name: string, registry?: Registry, materialized?: MaterializedModel): string {
  if (registry?.backend instanceof LocalRegistry && materialized !== undefined) {
    const parts = relative(registry.backend.root, materialized.dir).split(sep);
    if (parts.length === 5 && parts[0] === 'models' && parts[2] === 'versions' && parts[4] === 'artifacts') return parts[1];
  }
  return modelFolderName(name);
}

/**
 * One digest for the whole model: sha256 of the `sha256sum`-style list ("<hex>  <path>\n", sorted
 * by path), so `sha256sum` over the artifacts reproduces it.
 */
export function modelDigest(files: readonly FileDigest[]): string {
  const list = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('');
  return `sha256:${createHash('sha256').update(list).digest('hex')}`;
}

export interface ModelEntriesOptions {
  version: ModelVersion;
  materialized: MaterializedModel;
  flavor: string;
  /** The model's folder name under models/ (see registryFolderName). */
  folder: string;
  /** Where the version came from, recorded as its source. */
  source: string;
  /** Context path prefix, e.g. `model/registry/`. */
  prefix: string;
}

/** Context entries for the one-version registry; model files are read from the materialized copy. */
export function modelEntries(o: ModelEntriesOptions): ContextEntry[] {
  const base = `${o.prefix}models/${o.folder}`;
  const vdir = `${base}/versions/${o.version.version}`;
  const record = {
    format: 1,
    created_at: o.version.createdAt,
    source: redactUri(o.source),
    flavor: o.flavor,
    ...(o.version.description === undefined ? {} : { description: o.version.description }),
    tags: o.version.tags,
    files: o.materialized.files,
  };
  const entries: ContextEntry[] = [
    {
      path: `${base}/model.json`,
      mode: 0o644,
      content: JSON.stringify({ name: o.version.name, created_at: o.version.createdAt, tags: {} }),
    },
    { path: `${vdir}/version.json`, mode: 0o644, content: `${JSON.stringify(record, null, 2)}\n` },
  ];
  for (const f of o.materialized.files) {
    entries.push({
      path: `${vdir}/artifacts/${f.path}`,
      source: join(o.materialized.dir, ...f.path.split('/')),
      size: f.size,
      mode: 0o644,
    });
  }
  return entries;
}

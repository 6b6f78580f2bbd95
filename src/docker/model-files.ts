/**
 * The model inside the image: a local registry (the layout of src/registry/backends/local) that
 * holds exactly one version, the one the alias pointed at when the image was built. Its
 * version.json carries the sha256 of every file, so `serve` verifies them (LocalRegistry
 * materialize) before loading, at every container start, with no code of its own.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { FileDigest, MaterializedModel, ModelVersion } from '../registry/backend.js';
import {
  ARTIFACTS_DIR,
  MODEL_FILE,
  VERSION_FILE,
  modelPath,
  modelRecordJson,
  versionPath,
  versionRecordJson,
} from '../registry/backends/local/layout.js';
import type { ContextEntry } from './context.js';
import { redactUri } from '../util/redact.js';

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
  /** Where the version came from, recorded as its source. */
  source: string;
  /** Context path prefix, e.g. `model/registry/`. */
  prefix: string;
}

/** Context entries for the one-version registry; model files are read from the materialized copy. */
export function modelEntries(o: ModelEntriesOptions): ContextEntry[] {
  const vdir = `${o.prefix}${versionPath(o.version.name, o.version.version)}`;
  const record = versionRecordJson({
    format: 1,
    created_at: o.version.createdAt,
    source: redactUri(o.source),
    flavor: o.flavor,
    ...(o.version.description === undefined ? {} : { description: o.version.description }),
    tags: o.version.tags,
    files: o.materialized.files,
  });
  const entries: ContextEntry[] = [
    {
      path: `${o.prefix}${modelPath(o.version.name)}/${MODEL_FILE}`,
      mode: 0o644,
      content: modelRecordJson({ name: o.version.name, created_at: o.version.createdAt, tags: {} }),
    },
    { path: `${vdir}/${VERSION_FILE}`, mode: 0o644, content: record },
  ];
  for (const f of o.materialized.files) {
    entries.push({
      path: `${vdir}/${ARTIFACTS_DIR}/${f.path}`,
      source: join(o.materialized.dir, ...f.path.split('/')),
      size: f.size,
      mode: 0o644,
    });
  }
  return entries;
}

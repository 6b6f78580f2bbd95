/**
 * The embedded registry's on-disk format, in one place: the backend reads and writes it, and the
 * image builder writes a one-version registry in it (src/docker/model-files.ts).
 *
 *   <root>/models/<folder>/model.json                 created on first registration
 *   <root>/models/<folder>/aliases/<alias>            the version number, one file per alias
 *   <root>/models/<folder>/versions/<N>/version.json  metadata and the sha256 of every file
 *   <root>/models/<folder>/versions/<N>/artifacts/    the model directory, never changed again
 *   <root>/staging/                                   registrations in progress
 */
import { createHash } from 'node:crypto';
import type { FileDigest } from '../../backend.js';

export const MODELS_DIR = 'models';
export const VERSIONS_DIR = 'versions';
export const ALIASES_DIR = 'aliases';
export const ARTIFACTS_DIR = 'artifacts';
export const MODEL_FILE = 'model.json';
export const VERSION_FILE = 'version.json';

export interface VersionRecord {
  format: 1;
  created_at: number;
  source: string;
  flavor: string;
  description?: string;
  tags: Record<string, string>;
  files: readonly FileDigest[];
}

export interface ModelRecord {
  name?: string;
  created_at: number;
  description?: string;
  tags: Record<string, string>;
}

export function versionRecordJson(record: VersionRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

export function modelRecordJson(record: ModelRecord): string {
  return JSON.stringify(record);
}

/**
 * A model's folder name: the percent-encoded name, or for names whose encoding would pass the
 * filesystem's 255-byte limit, a prefix of it and a hash (model.json keeps the real name). `~`
 * is encoded too, so only the hashed form holds one and no short name can equal a long name's
 * folder.
 */
export function modelFolderName(name: string): string {
  const encoded = encodeURIComponent(name).replace(/^\./, '%2E').replaceAll('~', '%7E');
  if (encoded.length <= 200) return encoded;
  return `${encoded.slice(0, 120).replace(/%[0-9A-F]?$/, '')}~${createHash('sha256').update(name).digest('hex').slice(0, 40)}`;
}

/** A version's folder relative to the registry root, with `/` separators (as in a tar context). */
export function versionPath(name: string, version: string): string {
  return `${MODELS_DIR}/${modelFolderName(name)}/${VERSIONS_DIR}/${version}`;
}

/** A model's folder relative to the registry root, with `/` separators. */
export function modelPath(name: string): string {
  return `${MODELS_DIR}/${modelFolderName(name)}`;
}

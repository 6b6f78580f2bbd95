/**
 * From what a user typed (`models:/…`, `runs:/…`, a directory) to a model: the one path every
 * caller takes (`serve`, the router's loads and alias moves, `predict`, the library).
 */
import { basename, resolve } from 'node:path';
import type { ModelRef } from '../model/ref.js';
import { modelLocation } from '../registry/model-uri.js';
import type { Registry } from '../registry/registry.js';
import { type LoadOptions, loadServable } from './load.js';
import { type ModelDir, openModelDir } from './model-dir.js';
import type { ServableModel } from './servable.js';

/** A plain directory is served as it is; its metrics carry the folder name and version "local". */
const directoryRef = (path: string): ModelRef => ({ name: basename(resolve(path)), version: 'local' });

/** The version a URI points at now: one cheap registry lookup. */
export async function resolveRef(registry: Registry, uri: string): Promise<ModelRef> {
  const where = modelLocation(uri);
  if (where.kind === 'directory') return directoryRef(where.path);
  const v = await registry.resolve(uri);
  return { name: v.name, version: v.version };
}

/**
 * Opens the files of a URI's version: `ref` when given (a version resolved earlier: an alias may
 * have moved on since), else what the URI points at now.
 */
export async function openVersion(registry: Registry, uri: string, ref?: ModelRef): Promise<{ ref: ModelRef; dir: ModelDir }> {
  const where = modelLocation(uri);
  if (where.kind === 'directory') return { ref: ref ?? directoryRef(where.path), dir: await openModelDir(where.path) };
  const version = ref === undefined ? await registry.resolve(uri) : await registry.versionOf(uri, ref);
  const files = await registry.materialize(version);
  return { ref: ref ?? { name: version.name, version: version.version }, dir: await openModelDir(files.dir) };
}

/** Loads and warms up a URI's version (`ref`, or what it points at now). */
export async function loadModel(uri: string, registry: Registry, options: LoadOptions = {}, ref?: ModelRef): Promise<ServableModel> {
  const opened = await openVersion(registry, uri, ref);
  return loadServable(opened.dir, opened.ref, options);
}

/**
 * From what a user typed (`models:/…` or a directory) to a loaded, warmed-up model.
 */
import { basename, resolve } from 'node:path';
import { openModelDir } from './model-dir.js';
import { modelLocation } from '../registry/model-uri.js';
import type { Registry } from '../registry/registry.js';
import { type LoadOptions, type ServableModel, loadServable } from './dataplane.js';

export async function loadModel(modelUri: string, registry: Registry, options: LoadOptions = {}): Promise<ServableModel> {
  const where = modelLocation(modelUri);
  if (where.kind === 'directory') {
    // A plain directory is served as it is; its metrics carry the folder name and version "local".
    const md = await openModelDir(where.path);
    return loadServable(md, { name: basename(resolve(where.path)), version: 'local' }, options);
  }
  const version = await registry.resolve(modelUri);
  const files = await registry.materialize(version);
  const md = await openModelDir(files.dir);
  return loadServable(md, { name: version.name, version: version.version }, options);
}

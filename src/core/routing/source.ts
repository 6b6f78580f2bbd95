/**
 * Where the router gets model versions: what a URI points at now, loading a version, moving an
 * alias (promote/rollback), and, where the registry can, a push notice when aliases change.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadModel, openVersion, resolveRef } from '../load-model.js';
import { isModelUri, modelLocation, parseModelUri } from '../../registry/model-uri.js';
import type { Registry } from '../../registry/registry.js';
import type { LoadOptions } from '../load.js';
import type { ModelRef } from '../../model/ref.js';
import type { ServableModel } from '../servable.js';

export interface ModelSource {
  /** The version a URI points at now: one cheap registry lookup. */
  resolve(uri: string): Promise<ModelRef>;
  /** Loads and warms up one version (fails if its example does not score). */
  load(uri: string, ref: ModelRef): Promise<ServableModel>;
  /** Whether the URI can point at another version later (an alias, `latest`, a stage). */
  follows(uri: string): boolean;
  /** Points an alias URI's alias at a version (used by promote and rollback). */
  setAlias(uri: string, version: string): Promise<void>;
  /** Calls `onChange` soon after the URI may have moved; returns a function that stops watching. */
  watch?(uri: string, onChange: () => void): () => void;
  /** Estimated bytes one version takes when loaded (its files, unless its flavour knows better). */
  estimate?(uri: string, ref: ModelRef): Promise<number>;
}

export function registrySource(registry: Registry, options: LoadOptions = {}): ModelSource {
  return {
    resolve: (uri) => resolveRef(registry, uri),
    load: (uri, ref) => loadModel(uri, registry, options, ref),
    follows: (uri) => registry.follows(uri),
    async setAlias(uri, version) {
      const u = isModelUri(uri) ? parseModelUri(uri) : undefined;
      if (u?.kind !== 'alias') throw new Error(`${uri} is not an alias URI (models:/<name>@<alias>)`);
      await registry.setAlias(u.name, u.alias, version);
    },
    watch: (uri, onChange) => registry.watch(uri, onChange),
    async estimate(uri, ref) {
      const { dir } = await openVersion(registry, uri, ref);
      return directoryBytes(dir.path);
    },
  };
}

/** Bytes of the files under a model's folder (what an ONNX session or a flavour reads into memory, roughly). */
async function directoryBytes(path: string): Promise<number> {
  let sum = 0;
  for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) sum += (await stat(join(e.parentPath, e.name))).size;
  }
  return sum;
}

/** The ref with the name the registry knows the URI's model by (directories and runs keep theirs). */
function registeredName(uri: string, ref: ModelRef): ModelRef {
  const where = modelLocation(uri);
  if (where.kind !== 'registry') return ref;
  const u = parseModelUri(uri);
  return 'name' in u ? { name: u.name, version: ref.version } : ref;
}

/**
 * A model served under a name of its own (`fraud=models:/fraud-v2@champion`, a folder renamed):
 * its versions carry that name in responses and metrics; the registry is asked by the real one.
 */
export function renamedSource(source: ModelSource, name: string): ModelSource {
  const real = registeredName;
  return {
    ...source,
    resolve: async (uri) => ({ ...(await source.resolve(uri)), name }),
    load: async (uri, ref) => {
      const s = await source.load(uri, real(uri, ref));
      return { ...s, ref: { name, version: s.ref.version } };
    },
    ...(source.estimate === undefined ? {} : { estimate: (uri: string, ref: ModelRef) => source.estimate!(uri, real(uri, ref)) }),
  };
}

/**
 * One loaded copy of a version however many routes serve it: after a promote the primary and the
 * canary point at the same version, and a shadow may too. Each route's `unload` releases its
 * share; the last one unloads the model.
 */
export function sharingLoads(source: ModelSource): ModelSource {
  const loaded = new Map<string, { servable: Promise<ServableModel>; users: number }>();
  // By the registered name in the URI: a model served under a name of its own gives every route
  // that name, and a canary from another registered model must not share the primary's copy.
  const keyOf = (uri: string, ref: ModelRef) => {
    const where = modelLocation(uri);
    return where.kind === 'registry' ? `${registeredName(uri, ref).name}\0${ref.version}` : `dir\0${resolve(where.path)}`;
  };
  return {
    resolve: (uri) => source.resolve(uri),
    follows: (uri) => source.follows(uri),
    setAlias: (uri, version) => source.setAlias(uri, version),
    ...(source.watch === undefined ? {} : { watch: source.watch.bind(source) }),
    async load(uri, ref) {
      const key = keyOf(uri, ref);
      let entry = loaded.get(key);
      if (entry === undefined) {
        const e = { servable: source.load(uri, ref), users: 0 };
        e.servable.catch(() => loaded.get(key) === e && loaded.delete(key));
        loaded.set(key, e);
        entry = e;
      }
      entry.users++;
      let s: ServableModel;
      try {
        s = await entry.servable;
      } catch (err) {
        entry.users--;
        throw err;
      }
      const shared = entry;
      const model = s.model;
      let released = false;
      const share = {
        signature: model.signature,
        info: model.info,
        ...(model.batchable === undefined ? {} : { batchable: model.batchable }),
        predict: model.predict.bind(model),
        async unload() {
          if (released) return;
          released = true;
          if (--shared.users > 0) return;
          if (loaded.get(key) === shared) loaded.delete(key);
          await model.unload();
        },
      };
      return { ...s, model: share };
    },
  };
}

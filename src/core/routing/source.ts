/**
 * Where the router gets model versions: what a URI points at now, loading a version, moving an
 * alias (promote/rollback), and, where the registry can, a push notice when aliases change.
 */
import { resolve } from 'node:path';
import { loadModel, resolveRef } from '../load-model.js';
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
  };
}

/**
 * One loaded copy of a version however many routes serve it: after a promote the primary and the
 * canary point at the same version, and a shadow may too. Each route's `unload` releases its
 * share; the last one unloads the model.
 */
export function sharingLoads(source: ModelSource): ModelSource {
  const loaded = new Map<string, { servable: Promise<ServableModel>; users: number }>();
  const keyOf = (uri: string, ref: ModelRef) => {
    const where = modelLocation(uri);
    return where.kind === 'registry' ? `${ref.name}\0${ref.version}` : `dir\0${resolve(where.path)}`;
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

/**
 * The models of a whole registry: every model with an alias (served at that alias, so each one
 * follows it), or every model at its latest version. Looked up again at every poll.
 */
import type { Registry } from '../../registry/registry.js';
import type { MemberSpec } from './member.js';

/** `alias` undefined: every model with a version, at `latest`. */
export function registryModels(registry: Registry, alias: string | undefined, eager: boolean): () => Promise<MemberSpec[]> {
  return async () =>
    (await registry.listModels()).flatMap((m): MemberSpec[] => {
      if (alias !== undefined)
        return m.aliases[alias] === undefined ? [] : [{ name: m.name, routes: { primary: `models:/${m.name}@${alias}` }, eager }];
      return m.latestVersion === undefined ? [] : [{ name: m.name, routes: { primary: `models:/${m.name}/latest` }, eager }];
    });
}

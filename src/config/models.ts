/**
 * Several models in one server: what each is called. A registry model is served under its
 * registered name, a directory under its folder's name, and `name=URI` chooses the name.
 */
import { basename, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { modelLocation, parseModelUri } from '../registry/model-uri.js';

/** One model of several, with its own routes (the same fields as a single model's routes file). */
export interface ServedModel {
  /** The name it is served under; by default its registered name or its folder's. */
  name?: string;
  primary: string;
  canary?: string;
  canaryWeight?: number;
  stickyHeader?: string;
  shadow?: string;
  shadowPercent?: number;
}

/** Names that are safe in a URL path segment and a metric label. */
export const SERVED_NAME_RE = /^[A-Za-z0-9][\w.-]{0,127}$/;

/** `name=URI` or a plain URI, as `-m` takes it. */
export function modelArgument(arg: string): ServedModel {
  const m = /^([A-Za-z0-9][\w.-]{0,127})=(.+)$/.exec(arg);
  return m === null ? { primary: arg } : { name: m[1], primary: m[2] };
}

/** The name a URI is served under when none is given. */
export function servedNameOf(uri: string): string {
  const where = modelLocation(uri);
  if (where.kind === 'directory') return basename(resolve(where.path));
  const u = parseModelUri(uri);
  if ('name' in u) return u.name;
  throw new ConfigError(`Cannot tell what to call ${uri} beside other models: name it, as name=${uri}.`);
}

/** Every model with its name; two models under one name are refused. */
export function namedModels(models: readonly ServedModel[]): ServedModel[] {
  const seen = new Set<string>();
  return models.map((m) => {
    const name = m.name ?? servedNameOf(m.primary);
    if (!SERVED_NAME_RE.test(name)) throw new ConfigError(`'${name}' cannot be a model's name: use letters, digits, '.', '_' and '-'.`);
    if (seen.has(name)) throw new ConfigError(`Two models would be served as '${name}': give one another name with name=URI.`);
    seen.add(name);
    return { ...m, name };
  });
}

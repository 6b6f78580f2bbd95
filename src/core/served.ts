/**
 * What this server serves, as the console and the OpenAPI document describe it: a list of models,
 * each with its versions on their routes. Today one model name with primary/canary/shadow routes;
 * a host serving several models lists them all the same way.
 */
import type { ModelSignature } from '../schema/signature.js';
import { type HostStatus, type ModelHost, PIN_HEADER } from './model-host.js';
import type { ServingExample } from './servable.js';

export interface ServedVersion {
  readonly version: string;
  readonly route: string;
  readonly flavor: string;
  readonly runtime: string;
  readonly loadSeconds: number;
  /** Unknown for a shadow, which no request can be pinned to. */
  readonly signature?: ModelSignature;
  readonly example?: ServingExample;
  /** The registry URI the route follows, e.g. `models:/iris@champion`. */
  readonly uri?: string;
  /** Whether that URI can move (an alias or `latest`). */
  readonly follows?: boolean;
}

export interface ServedModel {
  readonly name: string;
  readonly versions: readonly ServedVersion[];
  /** The router's state (weights, sticky header, promotions), when a router serves the model. */
  readonly routes?: RoutesView;
}

export interface RoutesView {
  readonly weight?: number;
  readonly stickyHeader?: string;
  readonly shadowPercent?: number;
  readonly slots?: readonly { route: string; uri: string; follows: boolean; version?: string; state: string }[];
  readonly promotions?: readonly unknown[];
}

function slotOf(status: HostStatus, route: string) {
  return (status.routes as RoutesView | undefined)?.slots?.find((s) => s.route === route);
}

/** One lease per route, held only while its details are read. */
function describe(host: ModelHost, status: HostStatus, m: HostStatus['models'][number]): ServedVersion {
  const route = m.route ?? 'primary';
  const slot = slotOf(status, route);
  const base = {
    version: m.version,
    route,
    flavor: m.flavor,
    runtime: m.flavor,
    loadSeconds: m.loadSeconds,
    ...(slot === undefined ? {} : { uri: slot.uri, follows: slot.follows }),
  };
  if (route === 'shadow') return base;
  let lease;
  try {
    lease = host.acquire((h) => (h === PIN_HEADER ? route : undefined));
  } catch {
    return base;
  }
  if (lease === undefined) return base;
  try {
    const s = lease.servable;
    if (s.ref.version !== m.version) return base;
    return {
      ...base,
      runtime: s.model.info.runtime ?? s.flavor,
      ...(s.signature === undefined ? {} : { signature: s.signature }),
      ...(s.example === undefined ? {} : { example: s.example }),
    };
  } finally {
    lease.release();
  }
}

export function servedModels(host: ModelHost): ServedModel[] {
  const catalog = host.catalog;
  if (catalog === undefined) return modelsOf(host);
  // Several models: each described by the host serving it (a lazy one not loaded yet has no versions).
  return catalog.names().flatMap((name) => {
    const one = catalog.hostOf(name);
    return one === undefined ? [{ name, versions: [] }] : modelsOf(one).map((m) => ({ ...m, name }));
  });
}

function modelsOf(host: ModelHost): ServedModel[] {
  const status = host.status();
  const byName = new Map<string, ServedVersion[]>();
  for (const m of status.models) {
    const list = byName.get(m.name) ?? [];
    list.push(describe(host, status, m));
    byName.set(m.name, list);
  }
  const routes = status.routes as RoutesView | undefined;
  return [...byName].map(([name, versions]) => ({ name, versions, ...(routes === undefined ? {} : { routes }) }));
}

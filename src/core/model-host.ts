/**
 * Which loaded model answers a request, and whether the server is ready. The HTTP layer only asks
 * `acquire()` and releases the lease when the response is done; how models are loaded, swapped or
 * split is the host's business (a fixed model here, a canary router in router/).
 */
import type { ServableModel } from './servable.js';
import type { GatewayMetrics } from './metrics.js';
import { modelLabels } from './metrics.js';

export type HostState = 'loading' | 'ready' | 'failed';

export interface ModelStatus {
  readonly name: string;
  readonly version: string;
  readonly flavor: string;
  readonly loadSeconds: number;
  /** `primary`, `canary` or `shadow` when a router serves several versions. */
  readonly route?: string;
}

export interface HostStatus {
  readonly state: HostState;
  readonly models: readonly ModelStatus[];
  readonly error?: string;
  /** Router details (weights, alias following, switch history) when there is a router. */
  readonly routes?: unknown;
}

/** A model in use by one request; the host keeps it loaded until every lease is released. */
export interface Lease {
  readonly servable: ServableModel;
  /** Which route served the request (`primary` for a single model). */
  readonly route: string;
  release(): void;
  /** The shadow to mirror this request to, when the lease's own model has one (a gateway of several models). */
  shadow?(header: HeaderLookup): Lease | undefined;
}

export type HeaderLookup = (name: string) => string | undefined;

/** A lease for a request; a promise when the model is loaded on demand first. Undefined while none is ready. */
export type Acquire = (header: HeaderLookup) => Lease | undefined | Promise<Lease | undefined>;

/** Where a served model stands, in the V2 repository extension's terms. */
export type CatalogState = 'READY' | 'LOADING' | 'UNAVAILABLE';

export interface CatalogEntry {
  readonly name: string;
  /** The version loaded now (empty while none is). */
  readonly version: string;
  readonly state: CatalogState;
  /** Why the model is not READY (empty when it is). */
  readonly reason: string;
}

/**
 * Several models by name in one process (a gateway), each with its own routes. A name not served
 * is a 404 naming what is; a model loaded on demand is loaded by its first lease.
 */
export interface ModelCatalog {
  names(): readonly string[];
  /** The model a request without a name in its path means (its x-model-name header, or the only one); 400 when ambiguous. */
  defaultName(header: HeaderLookup): string;
  /** Leases on `name` (at `version`); throws a 404 GatewayError for a name not served. */
  acquirer(name: string, version: string | undefined): Acquire;
  /** The host serving `name` now (undefined while it is not loaded); throws a 404 for a name not served. */
  hostOf(name: string): ModelHost | undefined;
  index(): readonly CatalogEntry[];
  load(name: string): Promise<void>;
  unload(name: string): Promise<void>;
}

/** The header naming the model for `POST /invocations` when several are served. */
export const MODEL_NAME_HEADER = 'x-model-name';

/** Header that pins a request to a route (`primary`, `canary`) or a version number; a host that serves one model ignores it. */
export const PIN_HEADER = 'x-modelgate-route';

/** Changing routes at run time (the admin API's verbs); the router implements it. */
export interface RouteControl {
  routes(): unknown;
  setWeight(weight: number): void;
  promote(): Promise<unknown>;
  rollback(): Promise<unknown>;
  refresh(): Promise<void>;
}

export interface ModelHost {
  /** The model for this request, or undefined while none is ready. May throw a GatewayError (bad pin). */
  acquire(header: HeaderLookup): Lease | undefined;
  /** A model to mirror this request to (responses discarded), if shadowing is on and this request is sampled. */
  shadow?(header: HeaderLookup): Lease | undefined;
  isReady(): boolean;
  status(): HostStatus;
  /** Present when the host serves several models by name. */
  readonly catalog?: ModelCatalog;
}

function gaugeLabels(servable: ServableModel, route: string) {
  return { ...modelLabels(servable.ref), flavor: servable.flavor, route };
}

/** Records a loaded model version in the model gauges. */
export function recordLoaded(metrics: GatewayMetrics | undefined, servable: ServableModel, route: string): void {
  if (metrics === undefined) return;
  const labels = gaugeLabels(servable, route);
  metrics.modelLoadSeconds.set(labels, servable.loadSeconds);
  metrics.modelInfo.set({ ...labels, runtime: servable.model.info.runtime ?? servable.flavor }, 1);
}

/** Removes an unloaded model version from the model gauges. */
export function recordUnloaded(metrics: GatewayMetrics | undefined, servable: ServableModel, route: string): void {
  if (metrics === undefined) return;
  const labels = gaugeLabels(servable, route);
  metrics.modelLoadSeconds.remove(labels);
  metrics.modelInfo.remove({ ...labels, runtime: servable.model.info.runtime ?? servable.flavor });
}

/** One model version, set once (library use and tests; `serve` uses the router). */
export class SingleModelHost implements ModelHost {
  private state: HostState = 'loading';
  private servable: ServableModel | undefined;
  private error: string | undefined;

  constructor(private readonly metrics?: GatewayMetrics) {
    metrics?.ready.set(0);
  }

  setReady(servable: ServableModel): void {
    this.servable = servable;
    this.state = 'ready';
    this.error = undefined;
    recordLoaded(this.metrics, servable, 'primary');
    this.metrics?.ready.set(1);
  }

  setFailed(message: string): void {
    this.state = 'failed';
    this.error = message;
    this.metrics?.ready.set(0);
  }

  current(): ServableModel | undefined {
    return this.servable;
  }

  acquire(): Lease | undefined {
    const servable = this.servable;
    return servable === undefined ? undefined : { servable, route: 'primary', release: () => undefined };
  }

  isReady(): boolean {
    return this.state === 'ready';
  }

  status(): HostStatus {
    const s = this.servable;
    return {
      state: this.state,
      models: s ? [{ name: s.ref.name, version: s.ref.version, flavor: s.flavor, loadSeconds: s.loadSeconds }] : [],
      ...(this.error === undefined ? {} : { error: this.error }),
    };
  }
}

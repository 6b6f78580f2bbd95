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
}

export type HeaderLookup = (name: string) => string | undefined;

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

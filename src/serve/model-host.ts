/**
 * Which loaded model answers a request, and whether the server is ready. The HTTP layer only
 * asks `pick()`; how models are loaded, swapped or split is the host's business.
 */
import type { ServableModel } from './dataplane.js';
import type { GatewayMetrics } from './metrics.js';
import { modelLabels } from './metrics.js';

export type HostState = 'loading' | 'ready' | 'failed';

export interface HostStatus {
  readonly state: HostState;
  readonly models: readonly { name: string; version: string; flavor: string; loadSeconds: number }[];
  readonly error?: string;
}

export interface ModelHost {
  /** The model for this request (given its headers), or undefined while none is ready. */
  pick(header: (name: string) => string | undefined): ServableModel | undefined;
  isReady(): boolean;
  status(): HostStatus;
}

/** One model version, loaded once. */
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
    if (this.metrics) {
      const labels = modelLabels(servable.ref);
      this.metrics.modelLoadSeconds.set({ ...labels, flavor: servable.flavor }, servable.loadSeconds);
      this.metrics.modelInfo.set({ ...labels, flavor: servable.flavor, runtime: servable.model.info.runtime ?? servable.flavor }, 1);
      this.metrics.ready.set(1);
    }
  }

  setFailed(message: string): void {
    this.state = 'failed';
    this.error = message;
    this.metrics?.ready.set(0);
  }

  current(): ServableModel | undefined {
    return this.servable;
  }

  pick(): ServableModel | undefined {
    return this.servable;
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

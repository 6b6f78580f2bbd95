/**
 * One model of a gateway: its name, its routes (a ModelRouter while loaded), the requests using it
 * and where it stands. A model is loaded at most once at a time however many requests ask for it
 * first, and it counts as in use from the moment a request asks for it, loaded or not, so the
 * budget never unloads a model a request is waiting for.
 */
import { GatewayError, describeError } from '../../errors.js';
import type { Logger } from '../../util/log.js';
import type { GatewayMetrics } from '../metrics.js';
import type { CatalogEntry, HeaderLookup, Lease } from '../model-host.js';
import { acquireNamed } from './by-name.js';
import { ModelRouter, type RoutesConfig } from './router.js';
import type { ModelSource } from './source.js';

export type MemberState = 'unloaded' | 'loading' | 'ready' | 'failed';

export interface MemberSpec {
  /** The name it is served under (its registered name, its folder's, or one given with `name=URI`). */
  readonly name: string;
  readonly routes: RoutesConfig;
  /** Loaded at start (the default) or on its first request. */
  readonly eager: boolean;
}

export class Member {
  state: MemberState = 'unloaded';
  reason = '';
  /** Requests holding or waiting for this model. */
  inUse = 0;
  lastUsed = 0;
  /** Estimated bytes while resident (reserved before the load starts). */
  bytes = 0;
  router: ModelRouter | undefined;
  loading: Promise<void> | undefined;
  /** Set while the gateway unloads it. */
  stopping: Promise<void> | undefined;

  constructor(
    readonly spec: MemberSpec,
    private readonly source: ModelSource,
    private readonly logger: Logger,
    private readonly metrics: GatewayMetrics | undefined,
    private readonly onIdle: () => void,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The URIs this model loads (primary, canary, shadow). */
  uris(): string[] {
    const r = this.spec.routes;
    return [r.primary, r.canary, r.shadow].filter((u): u is string => u !== undefined);
  }

  /** Marks a request as using the model; the returned function ends that use (once). */
  use(): () => void {
    this.inUse++;
    this.lastUsed = performance.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inUse--;
      this.lastUsed = performance.now();
      if (this.inUse === 0) this.onIdle();
    };
  }

  /** A lease on the loaded router, counted as a use of this model. */
  lease(version: string | undefined, header: HeaderLookup): Lease | undefined {
    const router = this.router;
    if (router === undefined || this.state !== 'ready') return undefined;
    const end = this.use();
    let inner: Lease | undefined;
    try {
      inner = acquireNamed(router, this.name, version)(header);
    } finally {
      if (inner === undefined) end();
    }
    if (inner === undefined) return undefined;
    const lease = inner;
    return {
      servable: lease.servable,
      route: lease.route,
      release: () => {
        lease.release();
        end();
      },
      shadow: () => this.shadowLease(),
    };
  }

  private shadowLease(): Lease | undefined {
    const inner = this.router?.shadow();
    if (inner === undefined) return undefined;
    const end = this.use();
    return {
      ...inner,
      release: () => {
        inner.release();
        end();
      },
    };
  }

  /** Builds and starts the router; on failure the model stays UNAVAILABLE with the reason. */
  async start(pollSeconds: number | undefined): Promise<void> {
    const router = new ModelRouter({ ...this.spec.routes, pollSeconds }, this.source, this.logger, this.metrics, { readiness: false });
    this.state = 'loading';
    this.reason = '';
    try {
      await router.start();
    } catch (err) {
      await router.close().catch(() => undefined);
      this.state = 'failed';
      this.reason = describeError(err);
      throw err;
    }
    this.router = router;
    this.state = 'ready';
  }

  /** Unloads the router (the caller checks that nothing is in use). */
  async stop(): Promise<void> {
    const router = this.router;
    this.router = undefined;
    if (this.state === 'ready') this.state = 'unloaded';
    await router?.close();
  }

  entry(): CatalogEntry {
    const version = this.router?.current?.ref.version ?? '';
    const state = this.state === 'ready' ? 'READY' : this.state === 'loading' ? 'LOADING' : 'UNAVAILABLE';
    const reason = this.state === 'unloaded' ? 'not loaded' : this.state === 'failed' ? this.reason : '';
    return { name: this.name, version, state, reason };
  }
}

/** A name not served: 404, naming (some of) what is. */
export function notServed(name: string, names: readonly string[]): GatewayError {
  const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')} and ${names.length - 20} more` : names.join(', ');
  return new GatewayError('RESOURCE_DOES_NOT_EXIST', `Model '${name}' is not served here; this server serves ${shown}.`);
}

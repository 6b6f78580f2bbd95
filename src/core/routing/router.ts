/**
 * The model router: a primary route, an optional weighted canary and an optional shadow, each
 * following its registry URI. Traffic is split by weight, randomly or sticky by a routing-key
 * header (the same key always lands on the same side while the weight stays the same); a pin
 * header forces a route for testing. Weights change and canaries are promoted at runtime.
 */
import { GatewayError } from '../../errors.js';
import type { Logger } from '../../util/log.js';
import type { ServableModel } from '../servable.js';
import type { GatewayMetrics } from '../metrics.js';
import { type HeaderLookup, type HostStatus, type Lease, type ModelHost, PIN_HEADER, recordLoaded, recordUnloaded } from '../model-host.js';

export { PIN_HEADER };
import { Slot, type SlotStatus } from './slot.js';
import { type ModelSource, sharingLoads } from './source.js';

export interface RoutesConfig {
  /** The model most traffic goes to, e.g. `models:/iris@champion`. */
  primary: string;
  /** A second version that gets `canaryWeight` percent of the traffic. */
  canary?: string;
  /** Percent of requests (0–100) sent to the canary. @default 0 */
  canaryWeight?: number;
  /** Header whose value keeps a caller on one side of the split (e.g. `x-user-id`). */
  stickyHeader?: string;
  /** A version that gets a copy of `shadowPercent` percent of requests; its answers are discarded. */
  shadow?: string;
  /** @default 0 */
  shadowPercent?: number;
  /** Seconds between registry polls for URIs that can move (aliases, latest); 0 turns polling off. @default 10 */
  pollSeconds?: number;
}

export interface RouterOptions {
  /** Whether this router sets the readiness gauge. @default true */
  readiness?: boolean;
}

const MAX_SHADOW_IN_FLIGHT = 16;

/** FNV-1a: a stable, cheap hash of a routing key onto 10,000 buckets. */
export function stickyBucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 10000;
}

function checkWeight(w: number, what: string): number {
  if (!Number.isFinite(w) || w < 0 || w > 100)
    throw new GatewayError('INVALID_PARAMETER_VALUE', `${what} must be between 0 and 100, got ${w}`);
  return w;
}

/** A routing change made on one cluster worker, replayed on the others. */
export type RouteEvent =
  | { readonly op: 'weight'; readonly weight: number }
  | { readonly op: 'promoted'; readonly promotion: Promotion }
  | { readonly op: 'rolledBack' }
  | { readonly op: 'refresh' };

export interface Promotion {
  readonly at: string;
  readonly alias: string;
  readonly from: string;
  readonly to: string;
}

export class ModelRouter implements ModelHost {
  private readonly primary: Slot;
  private readonly canary: Slot | undefined;
  private readonly shadowSlot: Slot | undefined;
  private weight: number;
  private readonly shadowPercent: number;
  private readonly stickyHeader: string | undefined;
  private started = false;
  private startError: string | undefined;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;
  private shadowInFlight = 0;
  private readonly promotions: Promotion[] = [];
  private readonly source: ModelSource;
  private readonly readiness: GatewayMetrics['ready'] | undefined;

  constructor(
    readonly config: RoutesConfig,
    source: ModelSource,
    private readonly logger: Logger,
    private readonly metrics?: GatewayMetrics,
    options: RouterOptions = {},
  ) {
    // In a gateway of several models the gateway owns the readiness gauge, not each router.
    this.readiness = options.readiness === false ? undefined : metrics?.ready;
    this.source = sharingLoads(source);
    const events = {
      onLoaded: (s: ServableModel, route: string) => recordLoaded(metrics, s, route),
      onUnloaded: (s: ServableModel, route: string) => recordUnloaded(metrics, s, route),
      onSwitch: (route: string, outcome: 'success' | 'failure') => metrics?.switches.inc({ route, outcome }),
    };
    this.primary = new Slot('primary', config.primary, this.source, logger, events);
    this.canary = config.canary === undefined ? undefined : new Slot('canary', config.canary, this.source, logger, events);
    this.shadowSlot = config.shadow === undefined ? undefined : new Slot('shadow', config.shadow, this.source, logger, events);
    this.weight = this.canary === undefined ? 0 : checkWeight(config.canaryWeight ?? 0, 'canary weight');
    this.shadowPercent = checkWeight(config.shadowPercent ?? 0, 'shadow percent');
    this.stickyHeader = config.stickyHeader?.toLowerCase();
    this.recordWeights();
    this.readiness?.set(0);
  }

  /** The version the primary route serves now. */
  get current(): ServableModel | undefined {
    return this.primary.current;
  }

  /** Loads and warms every route before traffic; a shadow that fails to load is dropped, not fatal. */
  async start(): Promise<void> {
    try {
      await Promise.all([this.primary.start(), this.canary?.start()]);
    } catch (err) {
      this.startError = (err as Error).message;
      throw err;
    }
    if (this.shadowSlot !== undefined) {
      await this.shadowSlot
        .start()
        .catch((err: unknown) => this.logger.error({ err }, 'the shadow model could not be loaded; shadowing is off'));
    }
    this.started = true;
    this.readiness?.set(1);
    const poll = this.config.pollSeconds ?? 10;
    if (poll > 0 && this.slots().some((s) => s.follows)) {
      this.timer = setInterval(() => void this.refresh(), poll * 1000);
      this.timer.unref();
    }
  }

  private slots(): Slot[] {
    return [this.primary, this.canary, this.shadowSlot].filter((s): s is Slot => s !== undefined);
  }

  /** Looks at the registry now (what the poll timer and watchers do). */
  async refresh(): Promise<void> {
    if (this.closing) return;
    await Promise.all(this.slots().map((s) => (s.follows ? s.refresh() : Promise.resolve('unchanged'))));
  }

  acquire(header: HeaderLookup): Lease | undefined {
    const pin = header(PIN_HEADER);
    if (pin !== undefined) return this.pinned(pin);
    const canary = this.canary;
    if (canary === undefined || this.weight === 0) return this.primary.acquire();
    let toCanary: boolean;
    const key = this.stickyHeader === undefined ? undefined : header(this.stickyHeader);
    if (key !== undefined) toCanary = stickyBucket(key) < this.weight * 100;
    else toCanary = Math.random() * 100 < this.weight;
    return (toCanary ? canary.acquire() : undefined) ?? this.primary.acquire();
  }

  private pinned(pin: string): Lease | undefined {
    if (pin === 'primary') return this.primary.acquire();
    if (pin === 'canary') {
      if (this.canary === undefined)
        throw new GatewayError('INVALID_PARAMETER_VALUE', `${PIN_HEADER}: canary, but no canary is configured`);
      return this.canary.acquire();
    }
    for (const slot of [this.primary, this.canary]) {
      if (slot?.current?.ref.version === pin) return slot.acquire();
    }
    const have = [this.primary, this.canary].flatMap((s) => (s?.current ? [`${s.route} (version ${s.current.ref.version})`] : []));
    throw new GatewayError('INVALID_PARAMETER_VALUE', `${PIN_HEADER}: '${pin}' matches no route; serving ${have.join(', ')}`);
  }

  shadow(): Lease | undefined {
    const slot = this.shadowSlot;
    if (slot === undefined || this.shadowPercent === 0 || Math.random() * 100 >= this.shadowPercent) return undefined;
    if (this.shadowInFlight >= MAX_SHADOW_IN_FLIGHT) {
      // Mirrored traffic never queues: past the bound it is dropped and counted.
      const s = slot.current;
      if (s) this.metrics?.shadow.inc({ model: s.ref.name, version: s.ref.version, outcome: 'dropped' });
      return undefined;
    }
    const lease = slot.acquire();
    if (lease === undefined) return undefined;
    this.shadowInFlight++;
    return {
      ...lease,
      release: () => {
        this.shadowInFlight--;
        lease.release();
      },
    };
  }

  isReady(): boolean {
    return this.started && !this.closing;
  }

  setWeight(weight: number): void {
    if (this.canary === undefined) throw new GatewayError('INVALID_PARAMETER_VALUE', 'No canary is configured; start with --canary <uri>.');
    this.weight = checkWeight(weight, 'weight');
    this.recordWeights();
    this.logger.info({ weight }, 'canary weight changed');
  }

  /**
   * Makes the canary's version the primary: moves the primary's alias to it in the registry (so
   * every replica following that alias switches too), switches here at once, and sets the canary
   * weight to 0.
   */
  async promote(): Promise<Promotion> {
    const canaryVersion = this.canary?.current?.ref.version;
    if (this.canary === undefined || canaryVersion === undefined)
      throw new GatewayError('INVALID_PARAMETER_VALUE', 'No canary is loaded to promote.');
    const from = this.primary.current?.ref.version ?? '';
    const alias = this.aliasOfPrimary();
    if (from === canaryVersion) {
      // Recording it would make the next rollback undo nothing.
      throw new GatewayError('INVALID_PARAMETER_VALUE', `The primary already serves version ${from}, the canary's; nothing to promote.`, {
        status: 409,
      });
    }
    await this.source.setAlias(this.primary.uri, canaryVersion);
    await this.primary.refresh();
    const p: Promotion = { at: new Date().toISOString(), alias, from, to: canaryVersion };
    this.promotions.push(p);
    this.setWeight(0);
    this.logger.info(p, 'canary promoted');
    return p;
  }

  /** Sends all traffic to the primary and undoes the last promotion, if there was one. */
  async rollback(): Promise<{ weight: number; undid?: Promotion }> {
    if (this.canary !== undefined) this.setWeight(0);
    const last = this.promotions.pop();
    if (last === undefined) return { weight: 0 };
    await this.source.setAlias(this.primary.uri, last.from);
    await this.primary.refresh();
    this.logger.info(last, 'promotion rolled back');
    return { weight: 0, undid: last };
  }

  /** Replays a change another worker made (the registry side of it is already done). */
  async applyEvent(e: RouteEvent): Promise<void> {
    switch (e.op) {
      case 'weight':
        this.setWeight(e.weight);
        return;
      case 'promoted':
        this.promotions.push(e.promotion);
        if (this.canary !== undefined) this.setWeight(0);
        await this.primary.refresh();
        return;
      case 'rolledBack':
        this.promotions.pop();
        if (this.canary !== undefined) this.setWeight(0);
        await this.primary.refresh();
        return;
      case 'refresh':
        await this.refresh();
        return;
    }
  }

  private aliasOfPrimary(): string {
    const m = /^models:\/[^@/]+@(.+)$/.exec(this.primary.uri);
    if (m === null) {
      throw new GatewayError(
        'INVALID_PARAMETER_VALUE',
        `Promotion moves the primary's alias, but the primary is ${this.primary.uri}; serve the primary as models:/<name>@<alias>.`,
        { status: 409 },
      );
    }
    return m[1];
  }

  private recordWeights(): void {
    if (this.metrics === undefined) return;
    this.metrics.routeWeight.set({ route: 'primary' }, 100 - this.weight);
    if (this.canary !== undefined) this.metrics.routeWeight.set({ route: 'canary' }, this.weight);
    if (this.shadowSlot !== undefined) this.metrics.routeWeight.set({ route: 'shadow' }, this.shadowPercent);
  }

  routes(): {
    weight: number;
    stickyHeader?: string;
    shadowPercent: number;
    pollSeconds: number;
    slots: SlotStatus[];
    promotions: readonly Promotion[];
  } {
    return {
      weight: this.weight,
      ...(this.stickyHeader === undefined ? {} : { stickyHeader: this.stickyHeader }),
      shadowPercent: this.shadowPercent,
      pollSeconds: this.config.pollSeconds ?? 10,
      slots: this.slots().map((s) => s.status()),
      promotions: this.promotions,
    };
  }

  status(): HostStatus {
    const models = this.slots().flatMap((s) => {
      const c = s.current;
      return c ? [{ name: c.ref.name, version: c.ref.version, flavor: c.flavor, loadSeconds: c.loadSeconds, route: s.route }] : [];
    });
    const failing = this.slots()
      .map((s) => s.status())
      .filter((s) => s.lastError !== undefined);
    const state = this.closing ? 'failed' : this.started ? 'ready' : this.startError !== undefined ? 'failed' : 'loading';
    const error = this.closing ? 'shutting down' : (this.startError ?? failing.map((s) => `${s.route}: ${s.lastError}`).join('; '));
    return { state, models, ...(error ? { error } : {}), routes: this.routes() };
  }

  /** Stops polling and answering readiness; call {@link close} once requests have drained. */
  beginShutdown(): void {
    this.closing = true;
    clearInterval(this.timer);
    this.readiness?.set(0);
  }

  async close(): Promise<void> {
    this.beginShutdown();
    for (const s of this.slots()) await s.stop();
  }
}

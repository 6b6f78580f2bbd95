/**
 * A gateway of several models in one process: each model by name with its own routes (canary,
 * shadow, sticky key, weight), loaded at start or on its first request, within a budget of
 * resident models and estimated bytes. Making room unloads the least recently used model that
 * nothing is using or waiting for; when every resident model is busy, a load waits for one to
 * become idle, so the budget is never exceeded and no request loses its model mid-way.
 */
import { GatewayError, ModelNotReadyError, describeError } from '../../errors.js';
import type { Logger } from '../../util/log.js';
import type { GatewayMetrics } from '../metrics.js';
import {
  type Acquire,
  type CatalogEntry,
  type HeaderLookup,
  type HostStatus,
  type Lease,
  MODEL_NAME_HEADER,
  type ModelCatalog,
  type ModelHost,
  type RouteControl,
} from '../model-host.js';
import { Member, type MemberSpec, notServed } from './member.js';
import { type ModelSource, renamedSource } from './source.js';

export type { MemberSpec } from './member.js';

export { MODEL_NAME_HEADER };

export interface ModelSetOptions {
  /** Most models resident at once; 0 = no bound. */
  readonly maxLoaded?: number;
  /** Most estimated bytes resident at once; 0 = no budget. */
  readonly maxMemoryBytes?: number;
  /** Unload a model nothing has used for this long; 0 = never. */
  readonly idleUnloadSeconds?: number;
  /** Registry polling for URIs that can move, per model's routes, and for `discover`. */
  readonly pollSeconds?: number;
  /**
   * The models to serve beside the listed ones, looked up at start and at every poll (every model
   * with an alias, say): new ones are added, ones no longer found are dropped once idle.
   */
  readonly discover?: () => Promise<readonly MemberSpec[]>;
}

/** A failed on-demand load is not retried by requests for this long (an explicit repository load retries at once). */
const RETRY_FAILED_MS = 30_000;

export class ModelSet implements ModelHost, ModelCatalog, RouteControl {
  readonly catalog: ModelCatalog = this;
  private readonly members = new Map<string, Member>();
  private readonly resident = new Set<Member>();
  private waiters: (() => void)[] = [];
  private readonly failedAt = new Map<Member, number>();
  private started = false;
  private closing = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private discoverTimer: NodeJS.Timeout | undefined;
  /** Names added by `discover` (the listed ones are never dropped). */
  private readonly discovered = new Set<string>();

  constructor(
    specs: readonly MemberSpec[],
    private readonly source: ModelSource,
    private readonly logger: Logger,
    private readonly metrics: GatewayMetrics | undefined,
    private readonly options: ModelSetOptions = {},
  ) {
    for (const spec of specs) {
      if (this.members.has(spec.name)) throw new GatewayError('INVALID_PARAMETER_VALUE', `Model '${spec.name}' is listed twice.`);
      this.members.set(spec.name, this.makeMember(spec));
    }
    metrics?.ready.set(0);
    this.record();
  }

  private makeMember(spec: MemberSpec): Member {
    return new Member(spec, renamedSource(this.source, spec.name), this.logger, this.metrics, () => this.wake());
  }

  /**
   * Loads the eager models. One that fails stays UNAVAILABLE with its reason while the others
   * serve; only when every eager model fails does the server refuse to start.
   */
  async start(): Promise<void> {
    if (this.options.discover !== undefined) await this.discoverNow();
    const eager = [...this.members.values()].filter((m) => m.spec.eager);
    const results = await Promise.allSettled(eager.map((m) => this.ensure(m)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ name: eager[i].name, err: r.reason as unknown }] : []));
    for (const f of failed) this.logger.error({ model: f.name, err: f.err }, `model ${f.name} could not be loaded; it stays unavailable`);
    if (eager.length > 0 && failed.length === eager.length) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', failed.map((f) => `${f.name}: ${describeError(f.err)}`).join('; '));
    }
    this.started = true;
    this.metrics?.ready.set(1);
    const idle = this.options.idleUnloadSeconds ?? 0;
    if (idle > 0) {
      this.idleTimer = setInterval(() => this.unloadIdle(idle * 1000), Math.max(50, Math.min(1000, idle * 250)));
      this.idleTimer.unref();
    }
    const poll = this.options.pollSeconds ?? 10;
    if (this.options.discover !== undefined && poll > 0) {
      this.discoverTimer = setInterval(() => void this.discoverNow().catch(() => undefined), poll * 1000);
      this.discoverTimer.unref();
    }
  }

  /** Adds the models `discover` finds that are not served yet and drops the discovered ones it no longer finds. */
  async discoverNow(): Promise<void> {
    const discover = this.options.discover;
    if (discover === undefined || this.closing) return;
    let found: readonly MemberSpec[];
    try {
      found = await discover();
    } catch (err) {
      this.logger.warn({ err }, 'looking up the models to serve failed; serving the ones found before');
      throw err;
    }
    const names = new Set(found.map((f) => f.name));
    for (const spec of found) {
      if (this.members.has(spec.name)) continue;
      const m = this.makeMember(spec);
      this.members.set(spec.name, m);
      this.discovered.add(spec.name);
      this.logger.info({ model: spec.name, uri: spec.routes.primary }, 'model added');
      if (this.started && spec.eager)
        void this.ensure(m).catch((err: unknown) => this.logger.error({ err, model: spec.name }, 'loading an added model failed'));
    }
    for (const name of [...this.discovered]) if (!names.has(name)) void this.drop(name);
  }

  /** Stops serving a discovered model: new requests get 404 at once, the ones in progress finish first. */
  private async drop(name: string): Promise<void> {
    const m = this.members.get(name);
    this.discovered.delete(name);
    if (m === undefined) return;
    this.members.delete(name);
    this.logger.info({ model: name }, 'model dropped');
    await m.loading?.catch(() => undefined);
    while (m.inUse > 0) await new Promise<void>((r) => this.waiters.push(r));
    if (this.resident.has(m)) await this.evict(m, 'dropped');
    else await m.stop();
  }

  names(): readonly string[] {
    return [...this.members.keys()];
  }

  private member(name: string): Member {
    const m = this.members.get(name);
    if (m === undefined) throw notServed(name, this.names());
    return m;
  }

  acquirer(name: string, version: string | undefined): Acquire {
    const m = this.member(name);
    return (header) => {
      const lease = m.lease(version, header);
      if (lease !== undefined || m.state === 'ready') return lease;
      const waiting = m.use();
      return this.ensure(m)
        .then(() => m.lease(version, header))
        .finally(waiting);
    };
  }

  hostOf(name: string): ModelHost | undefined {
    return this.member(name).router;
  }

  /** The ModelHost view: the model named by the x-model-name header, or the only one. */
  acquire(header: HeaderLookup): Lease | undefined {
    return this.member(this.defaultName(header)).lease(undefined, header);
  }

  /** The model a request without a name in its path means: its x-model-name header, or the only one served. */
  defaultName(header: HeaderLookup): string {
    const named = header(MODEL_NAME_HEADER);
    if (named !== undefined) return named;
    const names = this.names();
    if (names.length === 1) return names[0];
    if (names.length === 0) throw new ModelNotReadyError('This server serves no model yet.');
    const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')} and ${names.length - 20} more` : names.join(', ');
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      `This server serves several models (${shown}): name one with POST /models/{name}/invocations or the ${MODEL_NAME_HEADER} header.`,
    );
  }

  /** Loads a model once however many ask at the same time. */
  private ensure(m: Member): Promise<void> {
    if (m.state === 'ready') return Promise.resolve();
    if (this.closing) return Promise.reject(new GatewayError('TEMPORARILY_UNAVAILABLE', 'The server is shutting down.'));
    const failed = this.failedAt.get(m);
    if (m.loading === undefined && m.state === 'failed' && failed !== undefined && performance.now() - failed < RETRY_FAILED_MS) {
      return Promise.reject(new GatewayError('TEMPORARILY_UNAVAILABLE', `Model '${m.name}' is unavailable: ${m.reason}`));
    }
    m.loading ??= this.loadMember(m).finally(() => {
      m.loading = undefined;
    });
    return m.loading;
  }

  private async loadMember(m: Member): Promise<void> {
    const started = performance.now();
    m.state = 'loading';
    if (m.stopping !== undefined) await m.stopping;
    try {
      const bytes = await this.estimate(m);
      await this.makeRoom(m, bytes);
      try {
        await m.start(this.options.pollSeconds);
      } catch (err) {
        this.leave(m);
        throw err;
      }
    } catch (err) {
      m.state = 'failed';
      m.reason = describeError(err);
      this.failedAt.set(m, performance.now());
      this.metrics?.modelLoads.inc({ outcome: 'failure' });
      throw err;
    }
    this.failedAt.delete(m);
    this.metrics?.modelLoads.inc({ outcome: 'success' });
    this.metrics?.modelLoadDuration.observe((performance.now() - started) / 1000);
    this.logger.info({ model: m.name, bytes: m.bytes, resident: this.resident.size }, 'model loaded on demand');
  }

  /** The model's estimated bytes; one that could never fit the budget is refused at once. */
  private async estimate(m: Member): Promise<number> {
    const budget = this.options.maxMemoryBytes ?? 0;
    if (budget <= 0 || this.source.estimate === undefined) return 0;
    let bytes = 0;
    for (const uri of m.uris()) bytes += await this.source.estimate(uri, await this.source.resolve(uri));
    if (bytes > budget) {
      const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
      throw new GatewayError(
        'RESOURCE_EXHAUSTED',
        `Model '${m.name}' needs an estimated ${mb(bytes)} MB, more than the whole --max-model-memory budget of ${mb(budget)} MB.`,
        { status: 507 },
      );
    }
    return bytes;
  }

  private fits(bytes: number): boolean {
    const maxLoaded = this.options.maxLoaded ?? 0;
    const budget = this.options.maxMemoryBytes ?? 0;
    if (maxLoaded > 0 && this.resident.size + 1 > maxLoaded) return false;
    return budget <= 0 || this.residentBytes() + bytes <= budget;
  }

  private residentBytes(): number {
    let sum = 0;
    for (const r of this.resident) sum += r.bytes;
    return sum;
  }

  /** Reserves a place for `m`, unloading idle models least recently used first, or waiting for one to go idle. */
  private async makeRoom(m: Member, bytes: number): Promise<void> {
    for (;;) {
      if (this.closing) throw new GatewayError('TEMPORARILY_UNAVAILABLE', 'The server is shutting down.');
      if (this.fits(bytes)) {
        m.bytes = bytes;
        this.resident.add(m);
        this.record();
        return;
      }
      const victim = this.leastRecentlyUsedIdle();
      if (victim !== undefined) await this.evict(victim, 'lru');
      else await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private leastRecentlyUsedIdle(): Member | undefined {
    let best: Member | undefined;
    for (const r of this.resident) {
      if (r.state !== 'ready' || r.inUse > 0 || r.loading !== undefined || r.stopping !== undefined) continue;
      if (best === undefined || r.lastUsed < best.lastUsed) best = r;
    }
    return best;
  }

  /**
   * Unloads a resident model; its place is free once its routes have stopped. A request for it
   * meanwhile waits for that before loading it again, so the new load's place is its own.
   */
  private evict(m: Member, reason: 'lru' | 'idle' | 'request' | 'dropped'): Promise<void> {
    m.stopping ??= (async () => {
      try {
        await m.stop();
      } catch (err) {
        this.logger.warn({ err, model: m.name }, 'unloading a model failed');
      }
      this.leave(m);
      this.metrics?.modelUnloads.inc({ reason });
      this.logger.info({ model: m.name, reason }, 'model unloaded');
    })().finally(() => {
      m.stopping = undefined;
    });
    return m.stopping;
  }

  private leave(m: Member): void {
    this.resident.delete(m);
    m.bytes = 0;
    this.record();
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  private unloadIdle(idleMs: number): void {
    const now = performance.now();
    for (const r of [...this.resident]) {
      if (r.state === 'ready' && r.inUse === 0 && r.loading === undefined && now - r.lastUsed >= idleMs) void this.evict(r, 'idle');
    }
  }

  private record(): void {
    this.metrics?.modelsResident.set(this.resident.size);
    this.metrics?.modelsMemoryBytes.set(this.residentBytes());
  }

  /** The repository extension's load: also retries a model whose load failed. */
  async load(name: string): Promise<void> {
    const m = this.member(name);
    this.failedAt.delete(m);
    await this.ensure(m);
  }

  /** The repository extension's unload: refused while requests use the model. */
  async unload(name: string): Promise<void> {
    const m = this.member(name);
    if (m.loading !== undefined) await m.loading.catch(() => undefined);
    if (m.state !== 'ready') return;
    if (m.inUse > 0) {
      throw new GatewayError('RESOURCE_CONFLICT', `Model '${name}' has ${m.inUse} request(s) in progress; unload it once they are done.`);
    }
    await this.evict(m, 'request');
  }

  index(): readonly CatalogEntry[] {
    return [...this.members.values()].map((m) => m.entry());
  }

  isReady(): boolean {
    return this.started && !this.closing;
  }

  status(): HostStatus {
    const members = [...this.members.values()];
    const models = members.flatMap((m) => (m.router === undefined ? [] : m.router.status().models));
    const failing = members.filter((m) => m.state === 'failed').map((m) => `${m.name}: ${m.reason}`);
    const state = this.closing ? 'failed' : this.started ? 'ready' : 'loading';
    const error = this.closing ? 'shutting down' : failing.join('; ');
    return { state, models, ...(error ? { error } : {}), routes: this.routes() };
  }

  routes(): unknown {
    return {
      models: [...this.members.values()].map((m) => ({ ...m.entry(), ...(m.router === undefined ? {} : { routes: m.router.routes() }) })),
    };
  }

  /** Weight, promote and rollback act on one model's routes: here only when a single model is served. */
  private only(): RouteControl {
    const router = this.members.size === 1 ? [...this.members.values()][0].router : undefined;
    if (router === undefined) {
      throw new GatewayError(
        'INVALID_PARAMETER_VALUE',
        'This server serves several models (or none is loaded): the admin weight, promote and rollback calls act on a single model.',
      );
    }
    return router;
  }

  setWeight(weight: number): void {
    this.only().setWeight(weight);
  }

  promote(): Promise<unknown> {
    return this.only().promote();
  }

  rollback(): Promise<unknown> {
    return this.only().rollback();
  }

  async refresh(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.router?.refresh()));
  }

  beginShutdown(): void {
    this.closing = true;
    clearInterval(this.idleTimer);
    clearInterval(this.discoverTimer);
    this.metrics?.ready.set(0);
    this.wake();
  }

  async close(): Promise<void> {
    this.beginShutdown();
    for (const m of this.members.values()) await m.loading?.catch(() => undefined);
    for (const m of this.members.values()) await m.stop();
    this.resident.clear();
    this.record();
  }
}

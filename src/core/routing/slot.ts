/**
 * One route (primary, canary or shadow): a URI, the version it serves now, and the switch to a new
 * version when the URI moves. A switch loads and warms the new version first, swaps atomically,
 * lets requests still holding the old version finish, then unloads it. A version that fails to
 * load or to score its example is not switched to; the old one keeps serving.
 */
import { GatewayError, describeError, isGatewayError } from '../../errors.js';
import { type Logger, errorForLog } from '../../util/log.js';
import type { ServableModel } from '../servable.js';
import type { Lease } from '../model-host.js';
import type { ModelSource } from './source.js';

interface Entry {
  readonly servable: ServableModel;
  leases: number;
  retired: boolean;
}

export type RefreshOutcome = 'unchanged' | 'switched' | 'failed';

/** A version that failed to load is tried again after this long (a download may have been cut). */
const RETRY_FAILED_MS = 60_000;

export interface SlotEvents {
  onLoaded(servable: ServableModel, route: string): void;
  onUnloaded(servable: ServableModel, route: string): void;
  onSwitch(route: string, outcome: 'success' | 'failure'): void;
}

export interface SlotStatus {
  route: string;
  uri: string;
  follows: boolean;
  version?: string;
  state: 'loading' | 'ready' | 'failed';
  switches: number;
  failedSwitches: number;
  lastSwitchAt?: string;
  lastError?: string;
  lastErrorAt?: string;
  /** Why the last registry lookup failed, while an older version keeps serving. */
  registryError?: string;
  /** Old versions still finishing requests. */
  draining: number;
}

export class Slot {
  private entry: Entry | undefined;
  private readonly retiring = new Set<Entry>();
  private refreshing: Promise<RefreshOutcome> | undefined;
  private again = false;
  private switches = 0;
  private failedSwitches = 0;
  private lastSwitchAt: Date | undefined;
  private lastError: { message: string; at: Date; cause: unknown } | undefined;
  /** A version that failed to load, so polls do not reload it every few seconds. */
  private failedVersion: { key: string; at: number } | undefined;
  private stopWatch: (() => void) | undefined;
  /** The last registry lookup failure logged, so a registry that stays down is logged once. */
  private resolveError: string | undefined;

  constructor(
    readonly route: string,
    readonly uri: string,
    private readonly source: ModelSource,
    private readonly logger: Logger,
    private readonly events: SlotEvents,
  ) {}

  get current(): ServableModel | undefined {
    return this.entry?.servable;
  }

  get follows(): boolean {
    return this.source.follows(this.uri);
  }

  /** First load; throws if the version cannot be served (the server then refuses to start). */
  async start(): Promise<void> {
    const outcome = await this.refresh();
    if (outcome === 'failed' || this.entry === undefined) {
      const cause = this.lastError?.cause;
      const prefix = this.route === 'primary' ? '' : `${this.route}: `;
      const code = isGatewayError(cause) ? cause.code : 'INVALID_PARAMETER_VALUE';
      throw new GatewayError(code, `${prefix}cannot load ${this.uri}: ${describeError(cause)}`, { cause });
    }
    if (this.follows && this.source.watch) {
      this.stopWatch = this.source.watch(this.uri, () => void this.refresh());
    }
  }

  acquire(): Lease | undefined {
    const e = this.entry;
    if (e === undefined) return undefined;
    e.leases++;
    let released = false;
    return {
      servable: e.servable,
      route: this.route,
      release: () => {
        if (released) return;
        released = true;
        e.leases--;
        if (e.retired && e.leases === 0) void this.unload(e);
      },
    };
  }

  /**
   * Looks up the URI's version and switches if it moved. Calls that arrive during a refresh are
   * folded into one more pass after it, so a burst of alias moves ends on the last one.
   */
  refresh(): Promise<RefreshOutcome> {
    if (this.refreshing !== undefined) {
      this.again = true;
      return this.refreshing;
    }
    const run = async (): Promise<RefreshOutcome> => {
      let outcome: RefreshOutcome;
      do {
        this.again = false;
        outcome = await this.refreshOnce();
      } while (this.again);
      return outcome;
    };
    this.refreshing = run().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<RefreshOutcome> {
    let ref;
    try {
      ref = await this.source.resolve(this.uri);
    } catch (err) {
      return this.resolveFailed(err);
    }
    this.resolveError = undefined;
    const old = this.entry;
    if (old !== undefined && old.servable.ref.name === ref.name && old.servable.ref.version === ref.version) return 'unchanged';
    const key = `${ref.name}/${ref.version}`;
    if (this.failedVersion?.key === key && Date.now() - this.failedVersion.at < RETRY_FAILED_MS) return 'failed';
    let servable: ServableModel;
    try {
      servable = await this.source.load(this.uri, ref);
    } catch (err) {
      this.failedVersion = { key, at: Date.now() };
      return this.loadFailed(`cannot switch ${this.route} to ${ref.name} version ${ref.version}`, err);
    }
    this.failedVersion = undefined;
    this.entry = { servable, leases: 0, retired: false };
    this.events.onLoaded(servable, this.route);
    if (old !== undefined) {
      this.switches++;
      this.lastSwitchAt = new Date();
      this.events.onSwitch(this.route, 'success');
      this.logger.info(
        { route: this.route, uri: this.uri, from: old.servable.ref.version, to: ref.version, model: ref.name },
        'switched model version',
      );
      this.retire(old);
    }
    this.lastError = undefined;
    return 'switched';
  }

  /** A version that would not load: a failed switch (the cause is in the log line's `err`, once). */
  private loadFailed(what: string, err: unknown): RefreshOutcome {
    this.lastError = { message: `${what}: ${describeError(err)}`, at: new Date(), cause: err };
    if (this.entry !== undefined) {
      this.failedSwitches++;
      this.events.onSwitch(this.route, 'failure');
      this.logger.error(
        { err: errorForLog(err), route: this.route, uri: this.uri, serving: this.entry.servable.ref.version },
        `${what}; still serving the old version`,
      );
    }
    return 'failed';
  }

  /**
   * The registry could not say where the URI points: nothing was switched. Logged once per
   * distinct reason (a registry that stays down is not news on every poll), without a stack.
   */
  private resolveFailed(err: unknown): RefreshOutcome {
    const message = `cannot resolve ${this.uri}: ${describeError(err)}`;
    if (this.entry === undefined) this.lastError = { message, at: new Date(), cause: err };
    if (this.resolveError !== message) {
      this.resolveError = message;
      if (this.entry !== undefined)
        this.logger.warn({ route: this.route, uri: this.uri }, `${message}; still serving version ${this.entry.servable.ref.version}`);
    }
    return 'failed';
  }

  private retire(e: Entry): void {
    e.retired = true;
    if (e.leases === 0) void this.unload(e);
    else this.retiring.add(e);
  }

  private async unload(e: Entry): Promise<void> {
    this.retiring.delete(e);
    this.events.onUnloaded(e.servable, this.route);
    try {
      await e.servable.model.unload();
    } catch (err) {
      this.logger.warn({ err, version: e.servable.ref.version }, 'unloading an old model version failed');
    }
  }

  status(): SlotStatus {
    const s: SlotStatus = {
      route: this.route,
      uri: this.uri,
      follows: this.follows,
      state: this.entry !== undefined ? 'ready' : this.lastError !== undefined ? 'failed' : 'loading',
      switches: this.switches,
      failedSwitches: this.failedSwitches,
      draining: this.retiring.size,
    };
    if (this.entry !== undefined) s.version = this.entry.servable.ref.version;
    if (this.lastSwitchAt !== undefined) s.lastSwitchAt = this.lastSwitchAt.toISOString();
    if (this.resolveError !== undefined && this.entry !== undefined) s.registryError = this.resolveError;
    if (this.lastError !== undefined) {
      s.lastError = this.lastError.message;
      s.lastErrorAt = this.lastError.at.toISOString();
    }
    return s;
  }

  /** Stops watching and unloads everything once in-flight requests are done (or at once if `force`). */
  async stop(): Promise<void> {
    this.stopWatch?.();
    const all = [...this.retiring, ...(this.entry ? [this.entry] : [])];
    this.entry = undefined;
    for (const e of all) await this.unload(e);
  }
}

/**
 * Drift per served model version: its reference profile (reference-profile.json in its folder,
 * written at registration), or else one built from its first requests; then a sliding window of
 * live rows compared with it, exported as `modelgate_drift{model,version,feature,stat}` and logged
 * when a feature's PSI passes the threshold.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gauge } from 'prom-client';
import type { ModelRef } from '../../model/ref.js';
import type { Logger } from '../../util/log.js';
import type { Row } from '../log/rows.js';
import { rowFeatures } from './features.js';
import { MAX_FEATURES, PROFILE_FILE, type ReferenceProfile, buildProfile, parseProfile } from './profile.js';
import { DriftWindow, type FeatureDrift } from './window.js';

export interface DriftOptions {
  /** Rows in the live window. @default 1000 */
  readonly windowRows?: number;
  /** Without a reference profile, build one from this many first requests (0 = no drift without one). @default 0 */
  readonly baselineRequests?: number;
  /** PSI over which a feature's drift is logged. @default 0.25 */
  readonly threshold?: number;
}

/** Rows kept for a baseline at most, whatever the request count. */
const MAX_BASELINE_ROWS = 100_000;
/**
 * Versions tracked at once (bounded gauge cardinality); past it the least recently used one
 * goes, with its gauges. Above the number of versions a gateway serves, so that serving many
 * models does not drop and re-read a profile on every request.
 */
const MAX_VERSIONS = 256;

type State =
  | { kind: 'loading'; pending: { inputs: readonly Row[]; predictions: readonly Row[] }[] }
  | { kind: 'baseline'; columns: Map<string, unknown[]>; requests: number; rows: number }
  | { kind: 'window'; window: DriftWindow; over: Set<string>; last?: FeatureDrift[] }
  | { kind: 'off' };

interface Tracked {
  readonly ref: ModelRef;
  state: State;
  /** {@link DriftMonitor.clock} at its last request. */
  used: number;
}

export interface DriftStatus {
  readonly model: string;
  readonly version: string;
  readonly state: 'loading' | 'baseline' | 'window' | 'off';
  readonly drift?: readonly FeatureDrift[];
}

export class DriftMonitor {
  private readonly versions = new Map<string, Tracked>();
  private clock = 0;
  private readonly windowRows: number;
  private readonly baselineRequests: number;
  /** The PSI over which a feature counts as drifted (and is logged). */
  readonly threshold: number;

  constructor(
    options: DriftOptions,
    private readonly gauge: Gauge<'model' | 'version' | 'feature' | 'stat'> | undefined,
    private readonly logger?: Logger,
  ) {
    this.windowRows = options.windowRows ?? 1000;
    this.baselineRequests = options.baselineRequests ?? 0;
    this.threshold = options.threshold ?? 0.25;
  }

  /** Whether rows of this version are wanted (false once it is known to have no profile and no baseline). */
  wants(ref: ModelRef, dir: string): boolean {
    return this.tracked(ref, dir).state.kind !== 'off';
  }

  observe(ref: ModelRef, dir: string, inputs: readonly Row[], predictions: readonly Row[]): void {
    const t = this.tracked(ref, dir);
    const s = t.state;
    if (s.kind === 'loading') {
      if (s.pending.length < 64) s.pending.push({ inputs, predictions });
    } else if (s.kind === 'baseline') this.addBaseline(t, s, inputs, predictions);
    else if (s.kind === 'window') this.addLive(t, s, inputs, predictions);
  }

  status(): DriftStatus[] {
    return [...this.versions.values()].map(({ ref, state }) => ({
      model: ref.name,
      version: ref.version,
      state: state.kind,
      ...(state.kind === 'window' && state.last !== undefined ? { drift: state.last } : {}),
    }));
  }

  private tracked(ref: ModelRef, dir: string): Tracked {
    const key = `${ref.name}\u0000${ref.version}`;
    let t = this.versions.get(key);
    if (t !== undefined) {
      t.used = ++this.clock;
      return t;
    }
    this.forgetOne();
    t = { ref, state: { kind: 'loading', pending: [] }, used: ++this.clock };
    this.versions.set(key, t);
    void this.load(t, dir);
    return t;
  }

  /** Makes room for one more version: forgets the least recently used one when full (rare: a scan is fine). */
  private forgetOne(): void {
    if (this.versions.size < MAX_VERSIONS) return;
    let key: string | undefined;
    let least: Tracked | undefined;
    for (const [k, t] of this.versions) {
      if (least === undefined || t.used < least.used) [key, least] = [k, t];
    }
    if (key === undefined || least === undefined) return;
    this.versions.delete(key);
    this.gauge?.remove({ model: least.ref.name, version: least.ref.version } as never);
  }

  private async load(t: Tracked, dir: string): Promise<void> {
    const pending = t.state.kind === 'loading' ? t.state.pending : [];
    let profile: ReferenceProfile | undefined;
    try {
      profile = parseProfile(await readFile(join(dir, PROFILE_FILE), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger?.warn({ model: t.ref.name, version: t.ref.version, err: (err as Error).message }, 'reference profile unreadable');
      }
    }
    if (profile !== undefined) this.startWindow(t, profile);
    else if (this.baselineRequests > 0) t.state = { kind: 'baseline', columns: new Map(), requests: 0, rows: 0 };
    else t.state = { kind: 'off' };
    for (const p of pending) this.observe(t.ref, dir, p.inputs, p.predictions);
  }

  private startWindow(t: Tracked, profile: ReferenceProfile): void {
    t.state = { kind: 'window', window: new DriftWindow(profile, this.windowRows), over: new Set() };
  }

  private addBaseline(t: Tracked, s: Extract<State, { kind: 'baseline' }>, inputs: readonly Row[], predictions: readonly Row[]): void {
    for (let i = 0; i < inputs.length && s.rows < MAX_BASELINE_ROWS; i++, s.rows++) {
      for (const [name, v] of rowFeatures(inputs[i], predictions[i])) {
        let column = s.columns.get(name);
        if (column === undefined) {
          if (s.columns.size >= MAX_FEATURES) continue;
          s.columns.set(name, (column = new Array<unknown>(s.rows).fill(null)));
        }
        column.push(v);
      }
    }
    if (++s.requests < this.baselineRequests) return;
    const profile = buildProfile(s.columns, s.rows);
    this.logger?.info(
      { model: t.ref.name, version: t.ref.version, rows: s.rows, features: profile.features.length },
      'drift baseline built from requests',
    );
    this.startWindow(t, profile);
  }

  private addLive(t: Tracked, s: Extract<State, { kind: 'window' }>, inputs: readonly Row[], predictions: readonly Row[]): void {
    for (let i = 0; i < inputs.length; i++) {
      const report = s.window.add(rowFeatures(inputs[i], predictions[i], s.window.inputNames));
      if (report !== undefined) this.report(t, s, report);
    }
  }

  private report(t: Tracked, s: Extract<State, { kind: 'window' }>, drift: FeatureDrift[]): void {
    s.last = drift;
    const { name: model, version } = t.ref;
    for (const d of drift) {
      this.gauge?.set({ model, version, feature: d.feature, stat: 'psi' }, d.psi);
      this.gauge?.set({ model, version, feature: d.feature, stat: 'js' }, d.js);
      if (d.ks !== undefined) this.gauge?.set({ model, version, feature: d.feature, stat: 'ks' }, d.ks);
      // Logged once when a feature crosses the threshold, and again only after it came back under.
      if (d.psi > this.threshold && !s.over.has(d.feature)) {
        s.over.add(d.feature);
        this.logger?.warn({ model, version, feature: d.feature, psi: d.psi, js: d.js, ks: d.ks }, 'feature drift over threshold');
      } else if (d.psi <= this.threshold) s.over.delete(d.feature);
    }
  }
}

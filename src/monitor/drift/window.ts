/**
 * Live statistics of one model version against its reference: the last `size` values of each
 * profiled feature in a ring, and every `step` rows the distances, per feature, to the reference.
 */
import { type CategoricalProfile, type FeatureProfile, type NumericProfile, type ReferenceProfile, category } from './profile.js';
import { binOf, jensenShannon, kolmogorovSmirnov, psi } from './stats.js';
import type { Features } from './features.js';

export type DriftStat = 'psi' | 'js' | 'ks';

export interface FeatureDrift {
  readonly feature: string;
  readonly psi: number;
  readonly js: number;
  /** Numeric features only. */
  readonly ks?: number;
}

abstract class Ring<T> {
  protected filled = 0;
  protected at = 0;
  constructor(protected readonly values: T[] | Float64Array) {}
  get length(): number {
    return this.filled;
  }
  protected put(v: T): void {
    (this.values as T[])[this.at] = v;
    this.at = (this.at + 1) % this.values.length;
    if (this.filled < this.values.length) this.filled++;
  }
}

class NumericRing extends Ring<number> {
  constructor(
    size: number,
    readonly profile: NumericProfile,
  ) {
    super(new Float64Array(size));
  }
  add(v: unknown): void {
    const x = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number.NaN;
    if (Number.isFinite(x)) this.put(x);
  }
  drift(): FeatureDrift {
    const live = (this.values as Float64Array).slice(0, this.filled).sort();
    const counts = new Array<number>(this.profile.proportions.length).fill(0);
    for (const x of live) counts[binOf(this.profile.edges, x)]++;
    const shares = counts.map((c) => c / live.length);
    return {
      feature: this.profile.name,
      psi: psi(this.profile.proportions, shares),
      js: jensenShannon(this.profile.proportions, shares),
      ks: kolmogorovSmirnov(live, this.profile.quantiles),
    };
  }
}

class CategoricalRing extends Ring<number> {
  private readonly index: Map<string, number>;
  constructor(
    size: number,
    readonly profile: CategoricalProfile,
  ) {
    super(new Float64Array(size));
    this.index = new Map(profile.categories.map((c, i) => [c, i]));
  }
  add(v: unknown): void {
    if (v === null || v === undefined) return;
    this.put(this.index.get(category(v)) ?? this.profile.categories.length);
  }
  drift(): FeatureDrift {
    const counts = new Array<number>(this.profile.proportions.length).fill(0);
    for (let i = 0; i < this.filled; i++) counts[(this.values as Float64Array)[i]]++;
    const shares = counts.map((c) => c / this.filled);
    return { feature: this.profile.name, psi: psi(this.profile.proportions, shares), js: jensenShannon(this.profile.proportions, shares) };
  }
}

const ringFor = (size: number, f: FeatureProfile) => (f.kind === 'numeric' ? new NumericRing(size, f) : new CategoricalRing(size, f));

export class DriftWindow {
  private readonly rings: Map<string, NumericRing | CategoricalRing>;
  private sinceReport = 0;
  /** The reference's input features in order (for tensor rows, which carry no names). */
  readonly inputNames: readonly string[];

  constructor(
    readonly profile: ReferenceProfile,
    private readonly size: number,
    private readonly step = Math.max(1, Math.floor(size / 4)),
  ) {
    this.rings = new Map(profile.features.map((f) => [f.name, ringFor(size, f)]));
    this.inputNames = profile.features.filter((f) => !f.name.startsWith('prediction')).map((f) => f.name);
  }

  /** Adds a row; returns the distances when a report is due (a full window, then every `step` rows). */
  add(features: Features): FeatureDrift[] | undefined {
    for (const [name, ring] of this.rings) ring.add(features.get(name));
    this.sinceReport++;
    const full = [...this.rings.values()].some((r) => r.length >= this.size);
    if (!full || this.sinceReport < this.step) return undefined;
    this.sinceReport = 0;
    return [...this.rings.values()].filter((r) => r.length > 0).map((r) => r.drift());
  }
}

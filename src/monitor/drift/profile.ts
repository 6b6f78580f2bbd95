/**
 * A reference profile: per feature, what its distribution looked like in the data the model was
 * meant for. Numeric features keep their percentiles (from a t-digest, so a baseline can be built
 * from a stream) and decile bins; categorical ones their most frequent values and an "other"
 * share. Stored as reference-profile.json beside the model's files.
 */
import TDigestModule from 'tdigest';
import { binOf } from './stats.js';

export const PROFILE_FILE = 'reference-profile.json';
export const PROFILE_FORMAT = 'modelgate-reference-profile/1';
/** Categories kept by name; the rest share one "other" bucket (bounded cardinality and size). */
export const MAX_CATEGORIES = 20;
/** Features profiled per model version; the rest are ignored (bounded gauge cardinality). */
export const MAX_FEATURES = 32;
export const OTHER = '__other__';

export interface NumericProfile {
  readonly name: string;
  readonly kind: 'numeric';
  readonly count: number;
  /** Ascending cut points between bins (deciles, ties merged). */
  readonly edges: readonly number[];
  /** Share of the reference in each bin (edges.length + 1 of them). */
  readonly proportions: readonly number[];
  /** Quantiles at 0, 1, …, 100 percent. */
  readonly quantiles: readonly number[];
}

export interface CategoricalProfile {
  readonly name: string;
  readonly kind: 'categorical';
  readonly count: number;
  readonly categories: readonly string[];
  /** Share of each category, then of everything else (categories.length + 1 of them). */
  readonly proportions: readonly number[];
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

export interface ReferenceProfile {
  readonly format: typeof PROFILE_FORMAT;
  readonly rows: number;
  readonly features: readonly FeatureProfile[];
}

type Sketch = { push(x: number | number[]): void; compress(): void; percentile(p: number | number[]): number | number[] };
/**
 * tdigest's Digest: an exact histogram while the values are few and repeat (measurements with a
 * fixed resolution), a t-digest once there are many distinct ones, so the percentiles of a
 * discrete feature are its real values (a smoothed one would make KS see drift in ties).
 */
const { Digest } = TDigestModule as unknown as { Digest: new () => Sketch };

function numericProfile(name: string, values: readonly number[]): NumericProfile {
  const digest = new Digest();
  for (const v of values) digest.push(v);
  digest.compress();
  const ps = Array.from({ length: 101 }, (_, i) => i / 100);
  const quantiles = (digest.percentile(ps) as number[]).map((q, i) =>
    i === 0 ? Math.min(...values) : i === 100 ? Math.max(...values) : q,
  );
  for (let i = 1; i < quantiles.length; i++) quantiles[i] = Math.max(quantiles[i], quantiles[i - 1]);
  const edges = [...new Set(quantiles.filter((_, i) => i > 0 && i < 100 && i % 10 === 0))];
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binOf(edges, v)]++;
  return { name, kind: 'numeric', count: values.length, edges, proportions: counts.map((c) => c / values.length), quantiles };
}

function categoricalProfile(name: string, values: readonly string[]): CategoricalProfile {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_CATEGORIES);
  const categories = top.map(([k]) => k);
  const kept = top.reduce((n, [, c]) => n + c, 0);
  const proportions = [...top.map(([, c]) => c / values.length), (values.length - kept) / values.length];
  return { name, kind: 'categorical', count: values.length, categories, proportions };
}

/** A value as a categorical feature sees it. */
export const category = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'null'));

/**
 * Profiles columns of values: a column of numbers is numeric, anything else categorical.
 * Missing values (null, NaN) are left out of a numeric column.
 */
export function buildProfile(columns: ReadonlyMap<string, readonly unknown[]>, rows: number): ReferenceProfile {
  const features: FeatureProfile[] = [];
  for (const [name, values] of columns) {
    if (features.length >= MAX_FEATURES) break;
    const present = values.filter((v) => v !== null && v !== undefined && !(typeof v === 'number' && Number.isNaN(v)));
    if (present.length === 0) continue;
    if (present.every((v) => typeof v === 'number')) features.push(numericProfile(name, present as number[]));
    else features.push(categoricalProfile(name, present.map(category)));
  }
  return { format: PROFILE_FORMAT, rows, features };
}

export function parseProfile(text: string): ReferenceProfile {
  const doc = JSON.parse(text) as ReferenceProfile;
  if (doc?.format !== PROFILE_FORMAT || !Array.isArray(doc.features)) throw new Error(`not a ${PROFILE_FORMAT} document`);
  return doc;
}

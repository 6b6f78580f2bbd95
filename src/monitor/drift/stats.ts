/**
 * Distances between a reference distribution and a live one, on the same bins: the population
 * stability index, the Jensen–Shannon distance (base 2, so 0–1), and for numeric features the
 * Kolmogorov–Smirnov statistic against the reference's quantiles.
 */

/** Proportions this small count as this, so an empty bin does not make PSI infinite. */
const FLOOR = 1e-4;

export function psi(expected: readonly number[], actual: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i], FLOOR);
    const a = Math.max(actual[i], FLOOR);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) d += 0.5 * p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) d += 0.5 * q[i] * Math.log2(q[i] / m);
  }
  return Math.sqrt(Math.max(0, d));
}

/**
 * The reference CDF at `x` (P(X ≤ x), or P(X < x) with `below`), from its quantiles at evenly
 * spaced probabilities (0, 1/n, …, 1), interpolated between them. A value with mass (a run of
 * equal quantiles) counts whole for ≤ and not at all for <.
 */
export function quantileCdf(quantiles: readonly number[], x: number, below = false): number {
  const n = quantiles.length - 1;
  const under = (q: number) => (below ? q < x : q <= x);
  if (n < 1 || !under(quantiles[0])) return 0;
  if (under(quantiles[n])) return 1;
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (under(quantiles[mid])) lo = mid;
    else hi = mid;
  }
  const span = quantiles[hi] - quantiles[lo];
  const within = span > 0 ? Math.min(1, (x - quantiles[lo]) / span) : 0;
  return (lo + within) / n;
}

/** KS between sorted live values and the reference quantiles. */
export function kolmogorovSmirnov(sorted: Float64Array, quantiles: readonly number[]): number {
  const n = sorted.length;
  let d = 0;
  let first = 0;
  for (let i = 0; i < n; i++) {
    // At each distinct value, both CDFs just below it and at it (a discrete reference jumps there too).
    if (i + 1 < n && sorted[i + 1] === sorted[i]) continue;
    const at = quantileCdf(quantiles, sorted[i]);
    const under = quantileCdf(quantiles, sorted[i], true);
    d = Math.max(d, Math.abs((i + 1) / n - at), Math.abs(first / n - under));
    first = i + 1;
  }
  return d;
}

/** The bin of `x` given ascending cut points: bin i holds (edges[i−1], edges[i]]. */
export function binOf(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

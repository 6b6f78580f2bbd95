/**
 * Drift statistics on real data (the iris measurements): traffic drawn from the reference's own
 * distribution stays under PSI 0.1, and one feature shifted pushes it over 0.25 within a window.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DriftMonitor } from '../../src/monitor/drift/index.js';
import { buildProfile } from '../../src/monitor/drift/profile.js';
import { jensenShannon, kolmogorovSmirnov, psi, quantileCdf } from '../../src/monitor/drift/stats.js';
import { DriftWindow } from '../../src/monitor/drift/window.js';
import { rowFeatures } from '../../src/monitor/drift/features.js';
import { IRIS_FEATURE_NAMES, IRIS_FEATURES } from '../../tools/iris/iris-data.js';

/** A seeded generator: the draws, and so the statistics, are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const irisProfile = () =>
  buildProfile(new Map(IRIS_FEATURE_NAMES.map((n, j) => [n, IRIS_FEATURES.map((r) => r[j])])), IRIS_FEATURES.length);

describe('drift statistics', () => {
  it('are zero for identical distributions and grow with the difference', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(jensenShannon([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 6);
    expect(psi([0.5, 0.5], [0.9, 0.1])).toBeGreaterThan(psi([0.5, 0.5], [0.6, 0.4]));
  });

  it('KS against quantiles: 0 on the reference itself, 1 when the live values lie wholly above it', () => {
    const q = Array.from({ length: 101 }, (_, i) => i);
    expect(quantileCdf(q, 50)).toBeCloseTo(0.5);
    const same = Float64Array.from({ length: 1001 }, (_, i) => i / 10);
    expect(kolmogorovSmirnov(same, q)).toBeLessThan(0.02);
    expect(kolmogorovSmirnov(Float64Array.from([200, 300]), q)).toBe(1);
  });

  it('profiles numbers as numeric (t-digest percentiles, decile bins) and the rest as categories with an other bucket', () => {
    const p = buildProfile(
      new Map<string, unknown[]>([
        ['x', IRIS_FEATURES.map((r) => r[0])],
        ['c', Array.from({ length: 150 }, (_, i) => `k${i % 30}`)],
      ]),
      150,
    );
    const [x, c] = p.features;
    expect(x.kind).toBe('numeric');
    if (x.kind !== 'numeric' || c.kind !== 'categorical') throw new Error('kinds');
    expect(x.quantiles).toHaveLength(101);
    expect(x.quantiles[0]).toBe(4.3);
    expect(x.quantiles[100]).toBe(7.9);
    expect(x.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    expect(c.categories).toHaveLength(20);
    expect(c.proportions.at(-1)).toBeCloseTo(10 / 30);
  });
});

describe('a drift window over iris traffic', () => {
  const WINDOW = 500;

  /** Feeds rows drawn with replacement from iris (petal_length shifted by `shift`) until the first report. */
  function firstReport(shift: number, seed: number) {
    const window = new DriftWindow(irisProfile(), WINDOW);
    const draw = rng(seed);
    for (let i = 0; i < WINDOW; i++) {
      const row = [...IRIS_FEATURES[Math.floor(draw() * IRIS_FEATURES.length)]];
      row[2] += shift;
      const report = window.add(rowFeatures(row, 0, window.inputNames));
      if (report !== undefined) return { report, rows: i + 1 };
    }
    throw new Error('no report within one window');
  }

  it('keeps PSI under 0.1 on every feature for traffic from the reference distribution', () => {
    for (const seed of [1, 2, 3]) {
      const { report, rows } = firstReport(0, seed);
      expect(rows).toBe(WINDOW);
      expect(report.map((d) => d.feature).sort()).toEqual([...IRIS_FEATURE_NAMES].sort());
      for (const d of report) {
        expect(d.psi, `${d.feature} seed ${seed}`).toBeLessThan(0.1);
        expect(d.ks, `${d.feature} seed ${seed} ks`).toBeLessThan(0.1);
      }
    }
  });

  it('pushes the shifted feature over 0.25 within one window, and only that one', () => {
    const { report } = firstReport(1.5, 4);
    const byName = Object.fromEntries(report.map((d) => [d.feature, d]));
    expect(byName.petal_length.psi).toBeGreaterThan(0.25);
    expect(byName.petal_length.ks).toBeGreaterThan(0.2);
    for (const n of ['sepal_length', 'sepal_width', 'petal_width']) expect(byName[n].psi).toBeLessThan(0.1);
  });
});

describe('the drift monitor over many versions', () => {
  const ref = (i: number) => ({ name: `m${i}`, version: '1' });
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('keeps every version of a many-model gateway once looked up, and forgets the least recently used past its bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-drift-'));
    try {
      const monitor = new DriftMonitor({}, undefined);
      // 40 models taking turns (more than a small bound): each is looked up once, then stays known as off.
      for (let i = 0; i < 40; i++) monitor.wants(ref(i), dir);
      await settle();
      for (let round = 0; round < 3; round++) for (let i = 0; i < 40; i++) expect(monitor.wants(ref(i), dir)).toBe(false);
      expect(monitor.status().filter((s) => s.state === 'off')).toHaveLength(40);
      // Past the bound, the one not used for longest goes, not the first one seen.
      monitor.wants(ref(0), dir);
      for (let i = 40; i < 400; i++) monitor.wants(ref(i), dir);
      const kept = monitor.status();
      expect(kept.length).toBeLessThanOrEqual(256);
      expect(kept.some((s) => s.model === 'm399')).toBe(true);
      expect(kept.some((s) => s.model === 'm1')).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

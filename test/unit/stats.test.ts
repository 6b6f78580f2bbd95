/** The console's series: percentiles from histogram buckets, and rates from counter deltas. */
import { describe, expect, it } from 'vitest';
import { createMetrics, modelCells } from '../../src/core/metrics.js';
import { StatsSampler, bucketQuantile } from '../../src/core/stats.js';
import type { DriftStatus } from '../../src/monitor/drift/index.js';

describe('bucketQuantile', () => {
  it('interpolates inside the bucket holding the rank, as histogram_quantile does', () => {
    // 10 observations ≤ 1 ms, 10 in (1, 2.5] ms.
    const counts = [0, 10, 10];
    expect(bucketQuantile(0.5, counts, [0.0005, 0.001, 0.0025])).toBeCloseTo(0.001, 6);
    expect(bucketQuantile(0.75, counts, [0.0005, 0.001, 0.0025])).toBeCloseTo(0.00175, 6);
    expect(bucketQuantile(0.5, [0, 0, 0])).toBeNull();
  });

  it('gives the largest bound when the rank is past every finite bucket', () => {
    expect(bucketQuantile(0.99, [1, 0, 9], [0.1, 0.2])).toBe(0.2);
  });
});

describe('StatsSampler', () => {
  it('turns counters into per-second rates and latencies into p50/p99 per version, from the first read on', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const cells = modelCells(metrics, { name: 'iris', version: '3' });
    const sampler = new StatsSampler(metrics, { intervalMs: 50, window: 2 });
    expect(sampler.read()).toEqual({ intervalSeconds: 0.05, t: [], series: [] });
    for (let i = 0; i < 10; i++) {
      cells.success.inc();
      cells.requestDuration.observe(0.002);
    }
    cells.clientError.inc();
    cells.requestDuration.observe(0.002);
    await new Promise((r) => setTimeout(r, 80));
    const view = sampler.read();
    sampler.stop();
    expect(view.t.length).toBeGreaterThanOrEqual(1);
    const [s] = view.series;
    expect(s).toMatchObject({ model: 'iris', version: '3' });
    // 11 requests in one ~50 ms interval: about 220 a second (timers are late, never early).
    expect(s.rps[0]).toBeGreaterThan(50);
    expect(s.rps[0]).toBeLessThanOrEqual(11 / 0.05 + 1);
    expect(s.clientErrors[0] * 10).toBeCloseTo(s.ok[0], 6);
    expect(s.serverErrors[0]).toBe(0);
    expect(s.p50[0]).toBeGreaterThan(0.001);
    expect(s.p50[0]).toBeLessThanOrEqual(0.0025);
    expect(s.batch[0]).toBeNull();
  });

  it("with a drift source: each feature's PSI per sample, null before its window, and the threshold", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const cells = modelCells(metrics, { name: 'iris', version: '3' });
    cells.success.inc();
    cells.requestDuration.observe(0.002);
    let windows: DriftStatus[] = [{ model: 'iris', version: '3', state: 'baseline' }];
    const sampler = new StatsSampler(metrics, { intervalMs: 40, drift: { threshold: 0.2, status: () => windows } });
    sampler.read();
    await new Promise((r) => setTimeout(r, 60));
    windows = [{ model: 'iris', version: '3', state: 'window', drift: [{ feature: 'petal_length', psi: 0.4, js: 0.3, ks: 0.5 }] }];
    await new Promise((r) => setTimeout(r, 60));
    const view = sampler.read();
    sampler.stop();
    expect(view.driftThreshold).toBe(0.2);
    const psi = view.series[0].drift.find((f) => f.feature === 'petal_length')?.psi ?? [];
    expect(psi[0]).toBeNull();
    expect(psi[psi.length - 1]).toBe(0.4);
    expect(new StatsSampler(metrics).read()).not.toHaveProperty('driftThreshold');
  });
});

/**
 * Time series for the console's charts, sampled from this app's own metrics once a second:
 * requests per second, p50/p99 latency, error rates by status class and mean batch size, per
 * model version, over the last minutes, and with drift on, each feature's PSI against the
 * version's reference profile. Sampling starts with the first read and stops when
 * nobody has read for a while, so a server whose console is never opened pays nothing.
 */
import type { DriftStatus } from '../monitor/drift/index.js';
import type { GatewayMetrics, HistogramCell } from './metrics.js';
import { LATENCY_BUCKETS } from './metrics.js';

export interface SeriesView {
  readonly model: string;
  readonly version: string;
  /** Per sample: requests per second (all outcomes). */
  readonly rps: number[];
  /** Per sample: successful, 4xx and 5xx answers per second. */
  readonly ok: number[];
  readonly clientErrors: number[];
  readonly serverErrors: number[];
  /** Seconds, over the last few samples; null without requests. */
  readonly p50: (number | null)[];
  readonly p99: (number | null)[];
  /** Mean rows per batched call; null without batches. */
  readonly batch: (number | null)[];
  /** Per feature (and the predictions), PSI of the last full window; null before there is one. */
  readonly drift: readonly { readonly feature: string; readonly psi: (number | null)[] }[];
}

/** Where drift comes from: the monitor's windows, and the PSI it warns over. */
export interface DriftSource {
  readonly threshold: number;
  status(): readonly DriftStatus[];
}

export interface StatsView {
  readonly intervalSeconds: number;
  /** Unix seconds of each sample. */
  readonly t: number[];
  readonly series: SeriesView[];
  /** With drift on: the PSI over which a feature counts as drifted. */
  readonly driftThreshold?: number;
}

interface Snapshot {
  at: number;
  outcomes: Map<string, number>;
  latency: Map<string, Float64Array>;
  batches: Map<string, { sum: number; count: number }>;
}

interface Sample {
  t: number;
  byKey: Map<string, { rps: number; ok: number; c4: number; c5: number; buckets: Float64Array; batch: number | null }>;
  /** PSI per feature, per model version. */
  drift: Map<string, Map<string, number>>;
}

export interface StatsOptions {
  /** @default 1000 */
  intervalMs?: number;
  /** Samples kept. @default 300 (five minutes at one a second) */
  keep?: number;
  /** Samples whose latencies make one percentile point. @default 5 */
  window?: number;
  /** Sampling stops this long after the last read. @default 600000 */
  idleStopMs?: number;
  drift?: DriftSource;
}

const key = (labels: Readonly<Record<string, string>>) => `${labels.model}\u0000${labels.version}`;

/** Prometheus' histogram_quantile: linear inside the bucket that holds the q-th observation. */
export function bucketQuantile(q: number, counts: ArrayLike<number>, bounds: readonly number[] = LATENCY_BUCKETS): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return null;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    if (i >= bounds.length) break;
    if (acc + counts[i] >= rank && counts[i] > 0) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + ((bounds[i] - lower) * (rank - acc)) / counts[i];
    }
    acc += counts[i];
  }
  // Past the last finite bucket: the largest bound is all a histogram can say.
  return bounds[bounds.length - 1];
}

export class StatsSampler {
  private readonly samples: Sample[] = [];
  private last: Snapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRead = 0;
  private readonly intervalMs: number;
  private readonly keep: number;
  private readonly window: number;
  private readonly idleStopMs: number;
  private readonly drift: DriftSource | undefined;

  constructor(
    private readonly metrics: GatewayMetrics,
    options: StatsOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.keep = options.keep ?? 300;
    this.window = options.window ?? 5;
    this.idleStopMs = options.idleStopMs ?? 600_000;
    this.drift = options.drift;
  }

  /** The series so far; starts sampling if it was not running. */
  read(): StatsView {
    this.lastRead = Date.now();
    if (this.timer === undefined) {
      this.last = this.snapshot();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    return this.view();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private snapshot(): Snapshot {
    const outcomes = new Map<string, number>();
    for (const { labels, cell } of this.metrics.predictions.entries()) outcomes.set(`${key(labels)}\u0000${labels.outcome}`, cell.value);
    const latency = new Map<string, Float64Array>();
    for (const { labels, cell } of this.metrics.requestDuration.entries()) latency.set(key(labels), overflowed(cell));
    const batches = new Map<string, { sum: number; count: number }>();
    for (const { labels, cell } of this.metrics.batchSize.entries()) batches.set(key(labels), { sum: cell.sum, count: cell.count });
    return { at: Date.now(), outcomes, latency, batches };
  }

  private tick(): void {
    if (Date.now() - this.lastRead > this.idleStopMs) {
      this.stop();
      this.samples.length = 0;
      return;
    }
    const now = this.snapshot();
    const prev = this.last ?? now;
    this.last = now;
    const dt = Math.max((now.at - prev.at) / 1000, 0.001);
    const delta = (k: string) => (now.outcomes.get(k) ?? 0) - (prev.outcomes.get(k) ?? 0);
    const byKey: Sample['byKey'] = new Map();
    for (const k of now.latency.keys()) {
      const ok = delta(`${k}\u0000success`);
      const c4 = delta(`${k}\u0000client_error`);
      const c5 = delta(`${k}\u0000server_error`);
      const cur = now.latency.get(k) as Float64Array;
      const before = prev.latency.get(k);
      const buckets = cur.map((v, i) => v - (before?.[i] ?? 0));
      const b = now.batches.get(k);
      const pb = prev.batches.get(k);
      const batchCount = (b?.count ?? 0) - (pb?.count ?? 0);
      const batch = batchCount > 0 ? ((b?.sum ?? 0) - (pb?.sum ?? 0)) / batchCount : null;
      byKey.set(k, { rps: (ok + c4 + c5) / dt, ok: ok / dt, c4: c4 / dt, c5: c5 / dt, buckets, batch });
    }
    this.samples.push({ t: now.at / 1000, byKey, drift: this.driftNow() });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  private driftNow(): Sample['drift'] {
    const out: Sample['drift'] = new Map();
    for (const d of this.drift?.status() ?? []) {
      if (d.drift !== undefined) out.set(key({ model: d.model, version: d.version }), new Map(d.drift.map((f) => [f.feature, f.psi])));
    }
    return out;
  }

  private view(): StatsView {
    const keys = new Set<string>();
    for (const s of this.samples) for (const k of s.byKey.keys()) keys.add(k);
    const series = [...keys].map((k): SeriesView => {
      const [model, version] = k.split('\u0000');
      const pick = <T>(f: (v: NonNullable<ReturnType<Sample['byKey']['get']>>) => T, none: T) =>
        this.samples.map((s) => {
          const v = s.byKey.get(k);
          return v === undefined ? none : f(v);
        });
      const windowed = this.samples.map((_, i) => this.windowBuckets(k, i));
      const features = new Set<string>();
      for (const sample of this.samples) for (const f of sample.drift.get(k)?.keys() ?? []) features.add(f);
      return {
        model,
        version,
        rps: pick((v) => v.rps, 0),
        ok: pick((v) => v.ok, 0),
        clientErrors: pick((v) => v.c4, 0),
        serverErrors: pick((v) => v.c5, 0),
        p50: windowed.map((b) => (b === undefined ? null : bucketQuantile(0.5, b))),
        p99: windowed.map((b) => (b === undefined ? null : bucketQuantile(0.99, b))),
        batch: pick((v) => v.batch, null),
        drift: [...features].map((feature) => ({ feature, psi: this.samples.map((s) => s.drift.get(k)?.get(feature) ?? null) })),
      };
    });
    return {
      intervalSeconds: this.intervalMs / 1000,
      t: this.samples.map((s) => s.t),
      series,
      ...(this.drift === undefined ? {} : { driftThreshold: this.drift.threshold }),
    };
  }

  private windowBuckets(k: string, end: number): Float64Array | undefined {
    let sum: Float64Array | undefined;
    for (let i = Math.max(0, end - this.window + 1); i <= end; i++) {
      const b = this.samples[i].byKey.get(k)?.buckets;
      if (b === undefined) continue;
      sum ??= new Float64Array(b.length);
      for (let j = 0; j < b.length; j++) sum[j] += b[j];
    }
    return sum;
  }
}

/** Bucket counts plus the overflow (observations above the last bound) as a final bucket. */
function overflowed(cell: HistogramCell): Float64Array {
  const out = new Float64Array(cell.counts.length + 1);
  out.set(cell.counts);
  let inBuckets = 0;
  for (const c of cell.counts) inBuckets += c;
  out[cell.counts.length] = cell.count - inBuckets;
  return out;
}

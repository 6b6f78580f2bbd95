/**
 * Runs a bench/k6 script the way `k6 run` does, closely enough to see whether it can fail: the
 * script is bundled by esbuild (as k6 itself strips TypeScript) with the k6 modules mapped onto
 * k6-shim.ts; init, setup() and each scenario's VUs run in worker threads; the main thread makes
 * their HTTP calls, collects their samples and evaluates the thresholds as k6 v1.3 does, exit
 * codes included (99 thresholds failed, 104 bad threshold, 107 script exception, 108 aborted).
 *
 * Not k6: VUs are capped (`maxVus`), scenario durations are capped (`maxSeconds`), setup() data
 * is not passed on, and only the k6 API k6-shim.ts implements exists (anything else fails loudly).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { type Plugin, build } from 'esbuild';
import type { HttpReply, HttpRequest, MetricKind, Phase, ToMain, VuData } from './k6-shim.js';

const SHIM = join(dirname(fileURLToPath(import.meta.url)), 'k6-shim.ts');

const K6_MODULES: Record<string, string> = {
  k6: 'export { check, sleep, group, fail } from SHIM;',
  'k6/http': 'import { http } from SHIM; export default http; export const { get, post, request, expectedStatuses } = http;',
  'k6/metrics': 'export { Counter, Trend, Rate, Gauge } from SHIM;',
  'k6/execution': 'import { exec } from SHIM; export default exec;',
};

const k6Modules: Plugin = {
  name: 'k6-shim',
  setup(b) {
    b.onResolve({ filter: /^k6(\/|$)/ }, (args) => ({ path: args.path, namespace: 'k6' }));
    b.onLoad({ filter: /.*/, namespace: 'k6' }, (args) => {
      const code = K6_MODULES[args.path];
      if (code === undefined) return { errors: [{ text: `k6-shim has no ${args.path}` }] };
      return { contents: code.replaceAll('SHIM', JSON.stringify(SHIM)), resolveDir: dirname(SHIM), loader: 'ts' };
    });
  },
};

const bundles = new Map<string, Promise<string>>();

/** Removes the bundles made so far (call it in afterAll). */
export async function removeBundles(): Promise<void> {
  const files = await Promise.all([...bundles.values()].map((b) => b.catch(() => undefined)));
  bundles.clear();
  await Promise.all(files.map((f) => (f === undefined ? undefined : rm(dirname(f), { recursive: true, force: true }))));
}

/** One bundle per script: the shim, then the script's module (its init code), then `drive`. */
function bundle(script: string): Promise<string> {
  let b = bundles.get(script);
  if (b === undefined) {
    b = (async () => {
      const out = await build({
        stdin: {
          contents: `import { drive } from ${JSON.stringify(SHIM)};\nimport * as script from ${JSON.stringify(script)};\ndrive(script);\n`,
          resolveDir: dirname(script),
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        plugins: [k6Modules],
      });
      const file = join(await mkdtemp(join(tmpdir(), 'modelgate-k6-')), 'bundle.mjs');
      await writeFile(file, out.outputFiles[0].text);
      return file;
    })();
    bundles.set(script, b);
  }
  return b;
}

interface Sample {
  metric: string;
  kind: MetricKind;
  value: number;
  tags: Record<string, string>;
}

interface VuResult {
  aborted?: string;
  exception?: string;
  options?: unknown;
}

class Run {
  readonly samples: Sample[] = [];
  readonly declared = new Map<string, MetricKind>([
    ['http_reqs', 'counter'],
    ['http_req_duration', 'trend'],
    ['http_req_failed', 'rate'],
    ['checks', 'rate'],
  ]);
  readonly log: string[] = [];
  private readonly workers = new Set<Worker>();

  constructor(
    private readonly file: string,
    private readonly env: Record<string, string>,
  ) {}

  /** One VU through one phase. */
  vu(phase: Phase, tags: Record<string, string> = {}): Promise<VuResult> {
    const { port1, port2 } = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    const data: VuData = { env: this.env, phase, tags, flag, replies: port1 };
    const worker = new Worker(this.file, { workerData: data, transferList: [port1] });
    this.workers.add(worker);
    const result: VuResult = {};
    return new Promise((resolve) => {
      worker.on('message', (m: ToMain) => this.receive(m, result, port2, flag));
      worker.on('error', (err) => (result.exception ??= err.stack ?? err.message));
      worker.on('exit', () => {
        this.workers.delete(worker);
        port2.close();
        resolve(result);
      });
    });
  }

  private receive(m: ToMain, result: VuResult, replies: MessagePort, flag: SharedArrayBuffer): void {
    switch (m.type) {
      case 'declare':
        this.declared.set(m.metric, m.kind);
        return;
      case 'sample':
        this.samples.push(m);
        return;
      case 'http':
        void fetchReply(m.request).then((reply) => {
          replies.postMessage(reply);
          Atomics.store(new Int32Array(flag), 0, 1);
          Atomics.notify(new Int32Array(flag), 0);
        });
        return;
      case 'abort':
        result.aborted = m.message;
        this.stopAll();
        return;
      case 'exception':
        result.exception = m.message;
        return;
      case 'log':
        this.log.push(m.message);
        return;
      case 'options':
        result.options = m.options;
        return;
      case 'done':
        return;
    }
  }

  /** exec.test.abort() stops every VU, as in k6. */
  stopAll(): void {
    for (const w of this.workers) void w.terminate();
  }
}

async function fetchReply(r: HttpRequest): Promise<HttpReply> {
  const t0 = performance.now();
  try {
    const res = await fetch(r.url, {
      method: r.method,
      headers: r.headers,
      ...(r.body === null ? {} : { body: r.body }),
      signal: AbortSignal.timeout(r.timeoutMs),
    });
    const body = await res.text();
    return { status: res.status, body, headers: Object.fromEntries(res.headers), error: '', durationMs: performance.now() - t0 };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return { status: 0, body: '', headers: {}, error: String(cause ?? err), durationMs: performance.now() - t0 };
  }
}

// --- thresholds, as k6 v1.3 evaluates them at the end of a run ---

export interface ThresholdResult {
  /** `http_req_failed{scenario:load}` */
  metric: string;
  /** `rate==0` */
  source: string;
  ok: boolean;
  value?: number;
}

function parseMetric(key: string): { name: string; filter: Record<string, string> } {
  const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key);
  if (m === null) throw new Error(`bad threshold metric ${key}`);
  const filter: Record<string, string> = {};
  for (const part of (m[2] ?? '').split(',').filter((p) => p !== '')) {
    const i = part.indexOf(':');
    filter[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return { name: m[1], filter };
}

const AGGREGATIONS: Record<MetricKind, RegExp> = {
  counter: /^(count|rate)$/,
  gauge: /^value$/,
  rate: /^rate$/,
  trend: /^(min|max|avg|med|p\(\d+(\.\d+)?\))$/,
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (i - lo);
}

/** What k6's sinks give each aggregation; an empty Rate gives none (grafana/k6#4283). */
function aggregate(kind: MetricKind, values: number[], agg: string, seconds: number): number | undefined {
  const sum = values.reduce((a, b) => a + b, 0);
  if (kind === 'counter') return agg === 'count' ? sum : sum / seconds;
  if (kind === 'gauge') return values.at(-1) ?? 0;
  if (kind === 'rate') return values.length === 0 ? undefined : sum / values.length;
  const sorted = [...values].sort((a, b) => a - b);
  if (agg === 'min') return sorted[0] ?? 0;
  if (agg === 'max') return sorted.at(-1) ?? 0;
  if (agg === 'avg') return values.length === 0 ? 0 : sum / values.length;
  if (agg === 'med') return percentile(sorted, 0.5);
  return percentile(sorted, Number(/\(([\d.]+)\)/.exec(agg)?.[1]) / 100);
}

const OPS: Record<string, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '===': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

class ConfigError extends Error {}

function evaluate(run: Run, thresholds: Record<string, (string | { threshold: string })[]>, seconds: number): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  for (const [key, list] of Object.entries(thresholds)) {
    const { name, filter } = parseMetric(key);
    const kind = run.declared.get(name);
    if (kind === undefined) throw new ConfigError(`threshold on ${key}: no metric named ${name}`);
    const values = run.samples
      .filter((s) => s.metric === name && Object.entries(filter).every(([k, v]) => s.tags[k] === v))
      .map((s) => s.value);
    for (const t of list) {
      const source = typeof t === 'string' ? t : t.threshold;
      const m = /^\s*([a-z]+(?:\([\d.]+\))?)\s*(<=|>=|===|==|!=|<|>)\s*(-?[\d.]+(?:e-?\d+)?)\s*$/.exec(source);
      if (m === null) throw new ConfigError(`threshold ${key}: cannot parse ${source}`);
      if (!AGGREGATIONS[kind].test(m[1])) throw new ConfigError(`threshold ${key}: ${m[1]} does not apply to a ${kind}`);
      const value = aggregate(kind, values, m[1], seconds);
      // k6 logs "no metric supporting the rate aggregation" for an empty Rate and lets it pass.
      results.push({
        metric: key,
        source,
        ok: value === undefined || OPS[m[2]](value, Number(m[3])),
        ...(value === undefined ? {} : { value }),
      });
    }
  }
  return results;
}

// --- a run ---

export interface K6Result {
  exitCode: number;
  /** Why it stopped early: the abort message, the exception. */
  reason?: string;
  options?: Record<string, unknown>;
  thresholds: ThresholdResult[];
  /** `metric source` of each failed threshold. */
  failed: string[];
  log: string[];
  /** Sum of a counter's samples whose tags include `filter`. */
  count(metric: string, filter?: Record<string, string>): number;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Each scenario runs at most this long. @default 1 */
  maxSeconds?: number;
  /** At most this many VUs per scenario. @default 2 */
  maxVus?: number;
}

interface ScenarioOptions {
  executor: string;
  vus?: number;
  duration?: string;
  iterations?: number;
  maxDuration?: string;
  exec?: string;
  tags?: Record<string, string>;
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

function seconds(duration: string): number {
  let total = 0;
  for (const [, n, u] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * UNIT_SECONDS[u];
  return total;
}

/** One phase per VU; constant-vus runs for its duration (capped), per-vu-iterations its iterations (within its maxDuration). */
function scenarioPhases(name: string, s: ScenarioOptions, opts: Required<RunOptions>, now: number): Phase[] {
  const exec = s.exec ?? 'default';
  const vus = Math.min(s.vus ?? 1, opts.maxVus);
  if (s.executor === 'constant-vus') {
    const untilMs = now + Math.min(seconds(s.duration ?? '0s'), opts.maxSeconds) * 1000;
    return Array.from({ length: vus }, () => ({ kind: 'scenario', name, exec, untilMs }));
  }
  if (s.executor === 'per-vu-iterations') {
    const untilMs = now + seconds(s.maxDuration ?? '10m') * 1000;
    return Array.from({ length: vus }, () => ({ kind: 'scenario', name, exec, untilMs, iterations: s.iterations ?? 1 }));
  }
  throw new Error(`k6-shim: executor ${s.executor} is not implemented`);
}

function result(run: Run, exitCode: number, extra: Partial<K6Result> = {}): K6Result {
  const thresholds = extra.thresholds ?? [];
  return {
    exitCode,
    thresholds,
    failed: thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.source}`),
    log: run.log,
    count: (metric, filter = {}) =>
      run.samples
        .filter((s) => s.metric === metric && Object.entries(filter).every(([k, v]) => s.tags[k] === v))
        .reduce((a, s) => a + s.value, 0),
    ...extra,
  };
}

/** `k6 run -e K=V … script`, within the limits above. */
export async function runK6(script: string, runOpts: RunOptions = {}): Promise<K6Result> {
  const opts: Required<RunOptions> = { env: {}, maxSeconds: 1, maxVus: 2, ...runOpts };
  const run = new Run(await bundle(script), opts.env);
  const init = await run.vu({ kind: 'init' });
  if (init.exception !== undefined) return result(run, 107, { reason: init.exception });
  const options = (init.options ?? {}) as { scenarios?: Record<string, ScenarioOptions>; thresholds?: Record<string, string[]> };
  const start = Date.now();
  const setup = await run.vu({ kind: 'setup' }, { group: '::setup' });
  if (setup.aborted !== undefined) return result(run, 108, { reason: setup.aborted, options });
  if (setup.exception !== undefined) return result(run, 107, { reason: setup.exception, options });
  const scenarios = Object.entries(options.scenarios ?? { default: { executor: 'constant-vus', vus: 1, duration: '1s' } });
  const vus = scenarios.flatMap(([name, s]) =>
    scenarioPhases(name, s, opts, Date.now()).map((phase) => run.vu(phase, { scenario: name, group: '', ...s.tags })),
  );
  const ends = await Promise.all(vus);
  const aborted = ends.find((e) => e.aborted !== undefined);
  if (aborted !== undefined) return result(run, 108, { reason: aborted.aborted, options });
  const crashed = ends.find((e) => e.exception !== undefined);
  if (crashed !== undefined) return result(run, 107, { reason: crashed.exception, options });
  try {
    const thresholds = evaluate(run, options.thresholds ?? {}, (Date.now() - start) / 1000);
    return result(run, thresholds.every((t) => t.ok) ? 0 : 99, { thresholds, options });
  } catch (err) {
    if (err instanceof ConfigError) return result(run, 104, { reason: err.message, options });
    throw err;
  }
}

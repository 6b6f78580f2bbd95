/**
 * The benchmark suite. Every scenario runs modelgate and a bare node:http baseline (bench/baselines/)
 * alternately in the same run (A B A B …), so the machine's noise hits both, and prints medians
 * and ratios (the median of the rounds' ratios, each between neighbours in time). A full run
 * writes its tables into bench/README.md between the result markers.
 *
 *   npm run build && npm run bench -- [--seconds 10] [--rounds 2] [--cold-starts 5]
 *     [--scenario iris --scenario mlp-batching | --scenario csv,tfjs] [--no-write]
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type LoadResult, type LoadSpec, median, runLoad } from './lib/load.js';
import { BenchModels, type ClassicModel, classicBody, inputsJson, irisCsv, irisRows, mlpRows } from './lib/models.js';
import {
  CLI,
  ROOT,
  type ServerProcess,
  type Spawned,
  spawnBaseline,
  spawnModelgate,
  startBaseline,
  startModelgate,
  timeToFirstAnswer,
  wrap,
} from './lib/servers.js';

interface Context {
  models: BenchModels;
  seconds: number;
  rounds: number;
  coldStarts: number;
  /** `--against DIR`: another checkout's built CLI, measured beside each default `modelgate`. */
  against?: { cli: string; label: string };
  /** The CLI a modelgate contender runs (this checkout's unless a contender says otherwise). */
  cli?: string;
}

/** One server of a comparison; the first of each group is the reference its ratio column uses. */
interface Contender {
  label: string;
  start(ctx: Context): Promise<ServerProcess>;
}

/** A modelgate/baseline figure a scenario aims at, checked and printed in the target column. */
interface Target {
  /** The contender the target is about. */
  label: string;
  /** Minimum req/s ratio of `label` over `vs` (default: the group's reference). */
  ratio?: number;
  vs?: string;
  /** Maximum p99 latency in ms. */
  p99Ms?: number;
  /** Minimum req/s, an absolute goal (`why` says where it comes from): only meaningful on the machine it was set for. */
  minRps?: { rps: number; why: string };
}

interface LoadCase {
  title: string;
  load: Omit<LoadSpec, 'seconds'>;
  targets?: Target[];
}

/** Servers started together and measured alternately on each of their cases. */
interface Group {
  servers: Contender[];
  cases: LoadCase[];
}

type TableName = 'compare' | 'cold-start' | 'matrix';

interface Scenario {
  name: string;
  /** One line for `--help` output and the README. */
  summary: string;
  table: TableName;
  run(ctx: Context): Promise<string[]>;
}

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';
const mb = (bytes: number): string => fmt(bytes / 2 ** 20);

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? sha : `${sha}+dirty`;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// contenders

const onnxBaseline = (model: (m: BenchModels) => Promise<{ baselineModel: string }>): Contender => ({
  label: 'baseline',
  start: async (ctx) => startBaseline('onnx', (await model(ctx.models)).baselineModel),
});

const modelgate = (model: (m: BenchModels) => Promise<{ uri: string }>, args: string[] = [], label = 'modelgate'): Contender => ({
  label,
  start: async (ctx) => {
    const work = dirname(ctx.models.registry);
    const resolved = args.map((a) => (a.startsWith('LOGDIR:') ? join(work, `inference-log-${a.slice(7)}`) : a));
    return startModelgate((await model(ctx.models)).uri, resolved, ctx.models.env, label, ctx.cli);
  },
});

/** With `--against`, every contender labelled plain `modelgate` gets a twin running the other build. */
function withAgainst(servers: Contender[], ctx: Context): Contender[] {
  const against = ctx.against;
  if (against === undefined) return servers;
  return servers.flatMap((c) =>
    c.label === 'modelgate'
      ? [
          c,
          { label: against.label, start: async (x: Context) => ({ ...(await c.start({ ...x, cli: against.cli })), name: against.label }) },
        ]
      : [c],
  );
}

/** modelgate with the inference log at `percent` into a folder of its own beside the registry (removed with it). */
const logging = (percent: number, extra: string[] = [], label = `modelgate, log ${percent} % to files`): Contender =>
  modelgate(iris, ['--log-requests', String(percent), '--log-dir', `LOGDIR:${percent}`, ...extra], label);

/**
 * An OTLP/HTTP collector for the tracing case: takes the spans and answers 200, as a collector
 * would, so that the server pays for building and exporting them, not for failed exports.
 */
let collector: Promise<string> | undefined;
function otlpCollector(): Promise<string> {
  collector ??= new Promise((resolve) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    server.unref();
  });
  return collector;
}

/** modelgate with OpenTelemetry tracing on, `ratio` of requests traced, exporting to {@link otlpCollector}. */
const tracing = (ratio: number, label = `modelgate, tracing ${ratio * 100} % of requests`): Contender => ({
  label,
  start: async (ctx) => {
    const endpoint = await otlpCollector();
    const args = ['--otlp-endpoint', endpoint, '--trace-sample-ratio', String(ratio)];
    return startModelgate((await iris(ctx.models)).uri, args, ctx.models.env, label, ctx.cli);
  },
});

const iris = (m: BenchModels) => m.iris();
const classic = (name: ClassicModel) => (m: BenchModels) => m.classic(name);
const mlp = (m: BenchModels) => m.mlp();

// ---------------------------------------------------------------------------------------------
// measuring

/** Every server must answer the body with predictions before its speed means anything. */
async function smokeCheck(s: ServerProcess, load: LoadCase['load']): Promise<void> {
  const res = await fetch(s.url + load.path, {
    method: 'POST',
    headers: { 'content-type': load.contentType ?? 'application/json' },
    body: load.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200 || !text.startsWith('{"predictions"')) {
    throw new Error(`${s.name} answered ${res.status} ${text.slice(0, 300)}`);
  }
}

async function measure(ctx: Context, servers: ServerProcess[], c: LoadCase, tag: string): Promise<Map<string, LoadResult[]>> {
  const spec: LoadSpec = { ...c.load, seconds: ctx.seconds };
  for (const s of servers) await smokeCheck(s, c.load);
  // Warm both up (JIT, onnxruntime arenas, every worker) before measuring.
  for (const s of servers) await runLoad(s, { ...spec, seconds: Math.min(2, ctx.seconds) });
  const results = new Map<string, LoadResult[]>(servers.map((s) => [s.name, []]));
  for (let r = 0; r < ctx.rounds; r++) {
    for (const s of servers) {
      const res = await runLoad(s, spec);
      results.get(s.name)?.push(res);
      process.stderr.write(
        `${tag} | ${c.title} | round ${r + 1} | ${s.name.padEnd(24)} ${fmt(res.rps).padStart(7)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms  ` +
          `cpu ${fmt(res.cpuUsPerReq)} µs/req  autocannon ${fmt(res.loadgenCpuUsPerReq)} µs/req  rss ${mb(res.rssBytes)} MB` +
          `${res.errors + res.non2xx > 0 ? `  ${res.errors} errors ${res.non2xx} non-2xx` : ''}\n`,
      );
    }
  }
  return results;
}

interface Medians {
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
  loadgen: number;
  rss: number;
  errors: number;
}

function medians(runs: LoadResult[]): Medians {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpu: median(runs.map((r) => r.cpuUsPerReq)),
    loadgen: median(runs.map((r) => r.loadgenCpuUsPerReq)),
    rss: median(runs.map((r) => r.rssBytes)),
    errors: runs.reduce((a, r) => a + r.errors + r.non2xx, 0),
  };
}

/**
 * A server's req/s over another's: the median of each round's ratio, the two measured next to
 * each other, so a slow spell of the machine (seconds long here) is in both sides of a ratio
 * rather than in one side's median.
 */
function pairedRatio(results: Map<string, LoadResult[]>, label: string, vs: string): number {
  const a = results.get(label) ?? [];
  const b = results.get(vs) ?? [];
  const n = Math.min(a.length, b.length);
  return n === 0 ? Number.NaN : median(Array.from({ length: n }, (_, i) => a[i].rps / b[i].rps));
}

function verdict(targets: Target[], label: string, m: Map<string, Medians>, results: Map<string, LoadResult[]>, reference: string): string {
  const out: string[] = [];
  const own = m.get(label);
  if (own === undefined) return '';
  for (const t of targets.filter((x) => x.label === label)) {
    if (t.ratio !== undefined) {
      const vs = t.vs ?? reference;
      const ratio = pairedRatio(results, label, vs);
      out.push(`${ratio >= t.ratio ? '✓' : '✗'} ≥ ${t.ratio}× ${vs}${t.vs === undefined ? '' : ` (${fmt(ratio, 2)}×)`}`);
    }
    if (t.p99Ms !== undefined) out.push(`${own.p99 <= t.p99Ms ? '✓' : '✗'} p99 ≤ ${t.p99Ms} ms`);
    if (t.minRps !== undefined) out.push(`${own.rps >= t.minRps.rps ? '✓' : '✗'} ≥ ${fmt(t.minRps.rps)} req/s (${t.minRps.why})`);
  }
  if (own.errors > 0) out.push(`**${own.errors} errors/non-2xx**`);
  return out.join('; ');
}

const LOAD_HEADER = [
  '| scenario | server | req/s | p50 ms | p99 ms | server CPU µs/req | autocannon CPU µs/req | RSS MB | × reference | target |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
];

function loadRows(c: LoadCase, results: Map<string, LoadResult[]>): string[] {
  const labels = [...results.keys()];
  const m = new Map(labels.map((l) => [l, medians(results.get(l) ?? [])]));
  const reference = labels[0];
  const best = Math.max(...[...m.values()].map((x) => x.rps));
  return labels.map((label, i) => {
    const x = m.get(label) as Medians;
    const ratio = i === 0 ? '' : `**${fmt(pairedRatio(results, label, reference), 2)}×**`;
    const rps = labels.length > 2 && x.rps === best ? `**${fmt(x.rps)}**` : fmt(x.rps);
    return `| ${i === 0 ? c.title : ''} | ${label} | ${rps} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.cpu)} | ${fmt(x.loadgen)} | ${mb(x.rss)} | ${ratio} | ${verdict(c.targets ?? [], label, m, results, reference)} |`;
  });
}

function loadScenario(name: string, summary: string, table: TableName, groups: Group[]): Scenario {
  return {
    name,
    summary,
    table,
    async run(ctx) {
      const rows: string[] = [];
      for (const g of groups) {
        const servers: ServerProcess[] = [];
        try {
          for (const c of withAgainst(g.servers, ctx)) servers.push(await c.start(ctx));
          for (const c of g.cases) rows.push(...loadRows(c, await measure(ctx, servers, c, name)));
        } finally {
          for (const s of servers) await s.stop();
        }
      }
      return rows;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// cold start

const COLD_HEADER = [
  '| model | server | process start → first 200 from /invocations, median ms | min–max ms | RSS after warm-up MB | target |',
  '|---|---|---:|---:|---:|---|',
];

const coldStartScenario: Scenario = {
  name: 'cold-start',
  summary: 'iris: process start to the first 200 from POST /invocations, and RSS after a 1 s warm-up',
  table: 'cold-start',
  async run(ctx) {
    const model = await ctx.models.iris();
    const body = inputsJson(irisRows(1));
    const kinds: { label: string; spawn: (port: number) => Promise<Spawned>; targetMs?: number }[] = [
      { label: 'baseline', spawn: (port) => spawnBaseline('onnx', model.baselineModel, port) },
      { label: 'modelgate', spawn: (port) => spawnModelgate(model.uri, [], ctx.models.env, port), targetMs: 500 },
    ];
    const times = new Map<string, number[]>(kinds.map((k) => [k.label, []]));
    const rss = new Map<string, number[]>(kinds.map((k) => [k.label, []]));
    for (let r = 0; r < ctx.coldStarts; r++) {
      for (const k of kinds) {
        const { ms, spawned } = await timeToFirstAnswer(k.spawn, '/invocations', body);
        const s = wrap(k.label, spawned);
        try {
          await runLoad(s, { path: '/invocations', body, connections: 16, seconds: 1 });
          const bytes = s.rssBytes();
          times.get(k.label)?.push(ms);
          rss.get(k.label)?.push(bytes);
          process.stderr.write(
            `cold-start | iris | ${r + 1} | ${k.label.padEnd(9)} ${fmt(ms)} ms to first 200, rss ${mb(bytes)} MB after warm-up\n`,
          );
        } finally {
          await s.stop();
        }
      }
    }
    return kinds.map((k, i) => {
      const t = times.get(k.label) ?? [];
      const ms = median(t);
      const target = k.targetMs === undefined ? '' : `${ms <= k.targetMs ? '✓' : '✗'} ≤ ${k.targetMs} ms`;
      return `| ${i === 0 ? `iris ONNX (${ctx.coldStarts} starts each)` : ''} | ${k.label} | ${fmt(ms)} | ${fmt(Math.min(...t))}–${fmt(Math.max(...t))} | ${mb(median(rss.get(k.label) ?? []))} | ${target} |`;
    });
  },
};

// ---------------------------------------------------------------------------------------------
// the scenarios

const IRIS_B1 = inputsJson(irisRows(1));
const MLP_B1 = inputsJson(mlpRows(1));
const invocations = (body: string, connections: number, contentType?: string): LoadCase['load'] => ({
  path: '/invocations',
  body,
  connections,
  ...(contentType === undefined ? {} : { contentType }),
});

/**
 * A scikit-learn or XGBoost model (bench/models) against the bare server running the graph
 * modelgate compiles from it (bench/baselines/compiled.ts): batch 1 and 1,000 rows, 16 connections.
 */
function classicGroup(model: ClassicModel, title: string, batch1Targets: Target[] = []): Group {
  return {
    servers: [
      { label: 'baseline', start: async (ctx) => startBaseline('compiled', (await ctx.models.classic(model)).baselineModel) },
      modelgate(classic(model)),
    ],
    cases: [
      { title: `${title}, batch 1, 16 conn`, load: invocations(classicBody(model, 1), 16), targets: batch1Targets },
      { title: `${title}, 1,000-row request, 16 conn`, load: invocations(classicBody(model, 1000), 16) },
    ],
  };
}

/** `--workers` × `--threads` for one model, everything else at modelgate's defaults. */
function matrixGroup(model: (m: BenchModels) => Promise<{ uri: string; baselineModel: string }>, c: LoadCase): Group {
  const configs = [
    [1, 1],
    [1, 2],
    [2, 1],
    [2, 2],
  ] as const;
  return {
    servers: [
      onnxBaseline(model),
      ...configs.map(([w, t]) => modelgate(model, ['--workers', String(w), '--threads', String(t)], `modelgate workers ${w} threads ${t}`)),
    ],
    cases: [c],
  };
}

const SCENARIOS: Scenario[] = [
  loadScenario('iris', 'iris ONNX, batch-1 JSON requests, 16 connections', 'compare', [
    {
      servers: [onnxBaseline(iris), modelgate(iris)],
      cases: [
        { title: 'iris ONNX, batch 1, 16 conn', load: invocations(IRIS_B1, 16), targets: [{ label: 'modelgate', ratio: 0.85, p99Ms: 5 }] },
      ],
    },
  ]),
  loadScenario(
    'monitoring',
    'iris ONNX, batch 1, 16 connections: the inference log at 10 % and 100 % to files, drift on every request, and OpenTelemetry tracing of every request, vs the same server without',
    'compare',
    [
      {
        servers: [
          modelgate(iris, [], 'modelgate, monitoring off'),
          logging(10),
          logging(100),
          modelgate(iris, ['--drift-baseline-requests', '200'], 'modelgate, drift (baseline from requests)'),
          tracing(0.1),
          tracing(1),
        ],
        cases: [
          {
            title: 'iris ONNX, batch 1, 16 conn',
            load: invocations(IRIS_B1, 16),
            targets: [
              { label: 'modelgate, log 10 % to files', ratio: 0.9 },
              { label: 'modelgate, log 100 % to files', ratio: 0.8 },
            ],
          },
        ],
      },
    ],
  ),
  loadScenario(
    'mlp-batching',
    '1.3 M-parameter MLP, batch-1 requests at 32 and 64 connections, batching on vs off vs baseline',
    'compare',
    [
      {
        servers: [
          onnxBaseline(mlp),
          modelgate(mlp, ['--max-batch-size', '1'], 'modelgate, batching off'),
          modelgate(mlp, ['--max-batch-size', '64'], 'modelgate, batching on'),
        ],
        cases: [
          { title: 'MLP 1.3 M, batch 1, 32 conn', load: invocations(MLP_B1, 32) },
          {
            title: 'MLP 1.3 M, batch 1, 64 conn',
            load: invocations(MLP_B1, 64),
            targets: [{ label: 'modelgate, batching on', ratio: 2, vs: 'modelgate, batching off' }],
          },
        ],
      },
    ],
  ),
  loadScenario('rows-1000', 'iris ONNX, one 1,000-row JSON request at a time per connection, 16 connections', 'compare', [
    {
      servers: [onnxBaseline(iris), modelgate(iris)],
      cases: [{ title: 'iris ONNX, 1,000-row request, 16 conn', load: invocations(inputsJson(irisRows(1000, 2)), 16) }],
    },
  ]),
  loadScenario('csv', 'iris ONNX with a column signature, 100-row text/csv requests, 16 connections', 'compare', [
    {
      servers: [onnxBaseline((m) => m.irisColumns()), modelgate((m) => m.irisColumns())],
      cases: [{ title: 'iris ONNX, 100-row CSV, 16 conn', load: invocations(irisCsv(irisRows(100, 3)), 16, 'text/csv') }],
    },
  ]),
  loadScenario('tfjs', 'iris-sized TF.js LayersModel (wasm), batch-1 JSON requests, 16 connections', 'compare', [
    {
      servers: [
        { label: 'baseline', start: async (ctx) => startBaseline('tfjs', (await ctx.models.irisTfjs()).baselineModel) },
        modelgate((m) => m.irisTfjs()),
      ],
      cases: [{ title: 'iris TF.js (wasm), batch 1, 16 conn', load: invocations(IRIS_B1, 16) }],
    },
  ]),
  loadScenario(
    'classic',
    'scikit-learn census pipeline (20-tree forest), 100-tree random forest, 300-tree XGBoost: batch 1 and 1,000 rows, 16 connections',
    'compare',
    [
      classicGroup('census', 'census pipeline, RF 20 trees', [
        // Issue 16: 50 × the ≈ 90 req/s mlflow serves this model at batch 1 / 16 connections.
        { label: 'modelgate', p99Ms: 10, minRps: { rps: 50 * 90, why: '50 × mlflow' } },
      ]),
      classicGroup('rf100', 'RandomForest 100 trees, 8 numeric'),
      classicGroup('xgb300', 'XGBoost 300 trees, 8 numeric'),
    ],
  ),
  coldStartScenario,
  loadScenario(
    'matrix',
    'modelgate --workers 1|2 × --threads 1|2 on iris (16 conn) and the MLP (32 conn), baseline as reference',
    'matrix',
    [
      matrixGroup(iris, { title: 'iris ONNX, batch 1, 16 conn', load: invocations(IRIS_B1, 16) }),
      matrixGroup(mlp, { title: 'MLP 1.3 M, batch 1, 32 conn', load: invocations(MLP_B1, 32) }),
    ],
  ),
];

const TABLES: Record<TableName, { title: string; header: string[]; note: string }> = {
  compare: {
    title: 'modelgate vs baseline',
    header: LOAD_HEADER,
    note: "× reference: req/s over the first server of the group (the baseline): the median of the rounds' ratios, each round measuring them next to each other.",
  },
  'cold-start': { title: 'Cold start and memory', header: COLD_HEADER, note: '' },
  matrix: {
    title: 'Workers × intra-op threads (modelgate defaults otherwise)',
    header: LOAD_HEADER,
    note:
      'autocannon runs in the benchmark process on the same 2 cores: with 2 workers (or 2 threads) the server competes with the ' +
      'load generator for CPU, so this matrix measures what wins on a 2-core machine that also generates its own load, not the ' +
      "server's ceiling. Read server CPU µs/req alongside req/s. Best req/s per model in bold.",
  },
};

// ---------------------------------------------------------------------------------------------

/** Builds every model into `dir` and prints how to serve each one, for load tools other than this one (k6). */
async function prepare(dir: string): Promise<void> {
  const models = new BenchModels(resolve(dir));
  const lines = [`# models registered in ${models.registry}; modelgate on :8080, the baseline on :8090`];
  const cli = relative(process.cwd(), CLI);
  const baselines = (kind: string) => relative(process.cwd(), join(ROOT, 'dist', 'bench', 'baselines', `${kind}.js`));
  const all = [
    ['iris', 'onnx', await models.iris(), 'bench/k6/invocations.ts, bench/k6/rows-1000.ts'],
    ['iris-columns', 'onnx', await models.irisColumns(), 'bench/k6/csv.ts'],
    ['mlp', 'onnx', await models.mlp(), 'bench/k6/mlp.ts (add --max-batch-size 1 for batching off)'],
    ['iris-tfjs', 'tfjs', await models.irisTfjs(), 'bench/k6/tfjs.ts'],
  ] as const;
  for (const [name, kind, m, k6] of all) {
    lines.push(
      '',
      `# ${name}: ${k6}`,
      `MODELGATE_REGISTRY_URI=${models.registry} node ${cli} serve -m ${m.uri} -p 8080`,
      `node ${baselines(kind)} ${m.baselineModel} 8090`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function selectScenarios(requested: string[] | undefined): Scenario[] {
  if (requested === undefined) return SCENARIOS;
  const names = requested.flatMap((s) => s.split(',')).map((s) => s.trim());
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`no scenario named ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return SCENARIOS.filter((s) => names.includes(s.name));
}

function againstBuild(dir: string | undefined): Pick<Context, 'against'> {
  if (dir === undefined) return {};
  const cli = join(resolve(dir), 'dist', 'modelgate.mjs');
  if (!existsSync(cli)) throw new Error(`--against ${dir}: no ${cli} (build that checkout first: npm run build)`);
  let sha = 'other';
  try {
    sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout: keep the generic label
  }
  return { against: { cli, label: `modelgate @${sha}` } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      'cold-starts': { type: 'string', default: '5' },
      scenario: { type: 'string', multiple: true },
      'no-write': { type: 'boolean', default: false },
      prepare: { type: 'string' },
      against: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run bench -- [--seconds 10] [--rounds 2] [--cold-starts 5] [--scenario NAME[,NAME]]… [--no-write] [--against DIR]\n' +
        '  --against DIR: also run DIR/dist/modelgate.mjs (another checkout, built) beside each modelgate, e.g. before/after a change\n' +
        'npm run bench -- --prepare DIR   (build the models into DIR and print serve commands, e.g. for bench/k6)\n\nScenarios:\n' +
        SCENARIOS.map((s) => `  ${s.name.padEnd(13)} ${s.summary}\n`).join(''),
    );
    return;
  }
  if (values.prepare !== undefined) return prepare(values.prepare);
  const ctxArgs = { seconds: Number(values.seconds), rounds: Number(values.rounds), coldStarts: Number(values['cold-starts']) };
  for (const [k, v] of Object.entries(ctxArgs)) if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} must be a positive integer`);
  const scenarios = selectScenarios(values.scenario);
  const load0 = loadavg();
  const t0 = Date.now();

  const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
  const rows = new Map<TableName, string[]>();
  try {
    const ctx: Context = { models: new BenchModels(work), ...ctxArgs, ...againstBuild(values.against) };
    for (const s of scenarios) {
      process.stderr.write(`— ${s.name}: ${s.summary}\n`);
      rows.set(s.table, [...(rows.get(s.table) ?? []), ...(await s.run(ctx))]);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const cpu = cpus();
  const args = [
    `--seconds ${ctxArgs.seconds}`,
    `--rounds ${ctxArgs.rounds}`,
    ...(scenarios.some((s) => s.name === 'cold-start') ? [`--cold-starts ${ctxArgs.coldStarts}`] : []),
    ...(values.scenario === undefined ? [] : [`--scenario ${scenarios.map((s) => s.name).join(',')}`]),
  ];
  const minutes = (Date.now() - t0) / 60_000;
  const report = [
    `Measured ${new Date(t0).toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitCommit()}, Node ${process.versions.node}, ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${fmt(totalmem() / 2 ** 30)} GiB; load average ${load0.map((l) => l.toFixed(1)).join(' ')} ` +
      `before the run, ${fmt(minutes, 1)} min in all.`,
    `Command: \`npm run bench -- ${args.join(' ')}\`. The load generator (autocannon, in the benchmark process) shares the ` +
      `${cpu.length} cores with the server; every figure is the median of ${ctxArgs.rounds} alternating ${ctxArgs.seconds} s runs per server.`,
    ...(['compare', 'cold-start', 'matrix'] as const)
      .filter((t) => rows.has(t))
      .flatMap((t) => [
        '',
        `### ${TABLES[t].title}`,
        '',
        ...TABLES[t].header,
        ...(rows.get(t) ?? []),
        ...(TABLES[t].note ? ['', TABLES[t].note] : []),
      ]),
  ].join('\n');
  process.stdout.write(`\n${report}\n`);

  if (!values['no-write'] && values.scenario === undefined) {
    const readme = join(ROOT, 'bench', 'README.md');
    const text = readFileSync(readme, 'utf8');
    const start = '<!-- results:start -->';
    const end = '<!-- results:end -->';
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i === -1 || j === -1) throw new Error(`${readme} lacks the ${start} … ${end} markers`);
    writeFileSync(readme, `${text.slice(0, i + start.length)}\n${report}\n${text.slice(j)}`);
    process.stderr.write(`results written to ${readme}\n`);
  } else if (!values['no-write']) {
    process.stderr.write('only some scenarios ran: bench/README.md left as it was (a full run writes it)\n');
  }
}

await main();

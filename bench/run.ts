/**
 * The benchmark suite. Every scenario runs modelgate and a bare node:http + onnxruntime-node
 * baseline alternately in the same run (A B A B …), so the machine's noise hits both, and prints
 * medians and the ratio. Results are written into bench/README.md between the result markers.
 *
 *   npm run bench -- [--seconds 10] [--rounds 2] [--scenario iris-b1-c16] [--no-write]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type LoadResult, type LoadSpec, median, runLoad } from './lib/load.js';
import { CLI, ROOT, type ServerProcess, startBaseline, startModelgate } from './lib/servers.js';

interface Scenario {
  name: string;
  description: string;
  load: LoadSpec;
  /** Minimum modelgate/baseline throughput ratio the scenario targets. */
  target?: { ratio?: number; p99Ms?: number };
}

const IRIS_ROW = '[5.1, 3.5, 1.4, 0.2]';

const SCENARIOS: Scenario[] = [
  {
    name: 'iris-b1-c16',
    description: 'iris ONNX, batch 1, 16 connections',
    load: { path: '/invocations', body: `{"inputs": [${IRIS_ROW}]}`, connections: 16, seconds: 10 },
    target: { ratio: 0.85, p99Ms: 5 },
  },
];

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? sha : `${sha}+dirty`;
  } catch {
    return 'unknown';
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';
}

interface Summary {
  scenario: Scenario;
  base: LoadResult[];
  mg: LoadResult[];
}

function summarize(s: Summary): string[] {
  const b = {
    rps: median(s.base.map((r) => r.rps)),
    p50: median(s.base.map((r) => r.p50)),
    p99: median(s.base.map((r) => r.p99)),
    cpu: median(s.base.map((r) => r.cpuUsPerReq)),
  };
  const m = {
    rps: median(s.mg.map((r) => r.rps)),
    p50: median(s.mg.map((r) => r.p50)),
    p99: median(s.mg.map((r) => r.p99)),
    cpu: median(s.mg.map((r) => r.cpuUsPerReq)),
  };
  const ratio = m.rps / b.rps;
  const t = s.scenario.target;
  const verdict = [
    t?.ratio === undefined ? '' : `ratio ${ratio >= t.ratio ? '≥' : '<'} ${t.ratio}`,
    t?.p99Ms === undefined ? '' : `p99 ${m.p99 <= t.p99Ms ? '≤' : '>'} ${t.p99Ms} ms`,
  ]
    .filter(Boolean)
    .join(', ');
  const errors = [...s.base, ...s.mg].reduce((a, r) => a + r.errors + r.non2xx, 0);
  return [
    `| ${s.scenario.description} | baseline | ${fmt(b.rps)} | ${fmt(b.p50)} | ${fmt(b.p99)} | ${fmt(b.cpu)} | | |`,
    `| | modelgate | ${fmt(m.rps)} | ${fmt(m.p50)} | ${fmt(m.p99)} | ${fmt(m.cpu)} | **${fmt(ratio, 2)}×** | ${verdict}${errors > 0 ? `; ${errors} errors/non-2xx` : ''} |`,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      scenario: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const scenarios = SCENARIOS.filter((s) => values.scenario === undefined || s.name === values.scenario);
  if (scenarios.length === 0) throw new Error(`no scenario named ${values.scenario}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);

  const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
  const registry = join(work, 'registry');
  execFileSync(process.execPath, [
    CLI,
    'registry',
    'register',
    join(ROOT, 'examples', 'iris'),
    '--name',
    'iris',
    '--alias',
    'champion',
    '--registry',
    registry,
  ]);
  const env = { MODELGATE_REGISTRY_URI: registry };

  const summaries: Summary[] = [];
  try {
    for (const scenario of scenarios) {
      const spec = { ...scenario.load, seconds };
      const base = await startBaseline(join(ROOT, 'examples', 'iris', 'model.onnx'));
      const mg = await startModelgate('models:/iris@champion', [], env);
      const servers: ServerProcess[] = [base, mg];
      try {
        // Warm both up (JIT, onnxruntime arenas) before measuring.
        for (const s of servers) await runLoad(s, { ...spec, seconds: 2 });
        const summary: Summary = { scenario, base: [], mg: [] };
        for (let r = 0; r < rounds; r++) {
          for (const s of servers) {
            const res = await runLoad(s, spec);
            (s === base ? summary.base : summary.mg).push(res);
            process.stderr.write(
              `${scenario.name} round ${r + 1} ${res.server.padEnd(9)} ${fmt(res.rps).padStart(7)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms  cpu ${fmt(res.cpuUsPerReq)} µs/req\n`,
            );
          }
        }
        summaries.push(summary);
      } finally {
        for (const s of servers) await s.stop();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const cpu = cpus();
  const header = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitCommit()}, Node ${process.versions.node}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}.`,
    `Command: \`npm run bench -- --seconds ${seconds} --rounds ${rounds}\`. Load generator (autocannon) on the same machine; medians of ${rounds} alternating runs per server.`,
    '',
    '| scenario | server | req/s | p50 ms | p99 ms | server CPU µs/req | modelgate/baseline | target |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...summaries.flatMap(summarize),
  ].join('\n');
  process.stdout.write(`\n${header}\n`);

  if (!values['no-write'] && values.scenario === undefined) {
    const readme = join(ROOT, 'bench', 'README.md');
    const text = readFileSync(readme, 'utf8');
    const start = '<!-- results:start -->';
    const end = '<!-- results:end -->';
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i === -1 || j === -1) throw new Error(`${readme} lacks the ${start} … ${end} markers`);
    writeFileSync(readme, `${text.slice(0, i + start.length)}\n${header}\n${text.slice(j)}`);
    process.stderr.write(`results written to ${readme}\n`);
  }
}

await main();

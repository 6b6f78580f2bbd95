/**
 * The same 1.3 M-parameter MLP (tools/onnx `BENCH_MLP_OPTIONS`: 256 → 1024 → 1024 → 10) served
 * by modelgate twice, as ONNX (onnxruntime-node) and as a TF.js LayersModel (wasm backend), at
 * batch 1 and batch 64, alternating run by run (A B A B) in one process tree, with the TF.js/ONNX
 * ratio. Two measurements: HTTP load on two `modelgate serve` processes (autocannon), and the
 * time of one predict call with nothing else running, both models loaded in this process and
 * called one request at a time (under load onnxruntime runs requests on libuv's thread pool while
 * TF.js runs on the event loop, so per-call times taken under load are not comparable).
 *
 *   npm run build && node dist/bench/flavors.js [--seconds 10] [--rounds 2] [--connections 8] [--no-write]
 *
 * Results go into bench/README.md between the flavours markers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openModelDir } from '../src/core/model-dir.js';
import { saveModel } from '../src/core/save.js';
import { openRegistry } from '../src/core/registration.js';
import { jsonCodec } from '../src/protocols/mlflow/index.js';
import type { ServableModel } from '../src/core/servable.js';
import { loadServable } from '../src/core/load.js';
import { BENCH_MLP_OPTIONS, benchMlp, mlpWeights, mulberry32 } from '../tools/onnx/models.js';
import { denseFromMlp, writeDenseLayersModel } from '../tools/tfjs/models.js';
import { type LoadResult, median, runLoad } from './lib/load.js';
import { ROOT, type ServerProcess, startModelgate } from './lib/servers.js';

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? sha : `${sha}+dirty`;
  } catch {
    return 'unknown';
  }
}

/** Median and p99 milliseconds of `n` sequential predict calls on one already-enforced input. */
async function predictLatency(servable: ServableModel, payload: string, n: number): Promise<number[]> {
  const request = jsonCodec.decode(payload, servable.signature?.inputs);
  const input = servable.enforcer ? servable.enforcer.enforce(request.input) : request.input;
  const params = servable.params.resolve(undefined).params;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await servable.model.predict(input, params);
    times.push(performance.now() - t0);
  }
  return times;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

function body(batch: number, width: number, seed: number): string {
  const rand = mulberry32(seed);
  const rows = Array.from({ length: batch }, () => Array.from({ length: width }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4));
  return JSON.stringify({ inputs: rows });
}

/** Both servers must give the same numbers before their speed means anything. */
async function checkAgreement(onnx: ServerProcess, tfjs: ServerProcess, payload: string): Promise<number> {
  const ask = async (s: ServerProcess) => {
    const res = await fetch(`${s.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
    if (!res.ok) throw new Error(`${s.name}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { predictions: unknown }).predictions;
  };
  const a = ((await ask(onnx)) as { y: number[][] }).y.flat();
  const b = ((await ask(tfjs)) as number[][]).flat();
  if (a.length !== b.length) throw new Error(`ONNX gave ${a.length} values, TF.js ${b.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      connections: { type: 'string', default: '8' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const connections = Number(values.connections);
  const width = BENCH_MLP_OPTIONS.inputSize;

  const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-flavors-'));
  const servers: ServerProcess[] = [];
  const results = new Map<string, LoadResult[]>();
  const latencies = new Map<string, number[]>();
  let maxDiff = 0;
  try {
    const example = JSON.parse(body(1, width, 1)) as { inputs: number[][] };
    await saveModel(join(work, 'onnx'), { flavor: 'onnx', model: benchMlp(), inputExample: example.inputs });
    const raw = join(work, 'tfjs-raw');
    await writeDenseLayersModel(raw, denseFromMlp(mlpWeights({ ...BENCH_MLP_OPTIONS, hidden: [...BENCH_MLP_OPTIONS.hidden] })), {
      inputName: 'x',
      name: 'bench_mlp',
    });
    await saveModel(join(work, 'tfjs'), { flavor: 'tfjs', model: raw, inputExample: example.inputs });
    const registryDir = join(work, 'registry');
    const registry = openRegistry(registryDir);
    await registry.register(join(work, 'onnx'), { name: 'mlp-onnx' });
    await registry.register(join(work, 'tfjs'), { name: 'mlp-tfjs' });

    // One predict at a time, in this process: the runtimes' own speed, alternating A B A B.
    const local = {
      onnx: await loadServable(await openModelDir(join(work, 'onnx')), { name: 'onnx', version: '1' }),
      'tfjs-wasm': await loadServable(await openModelDir(join(work, 'tfjs')), { name: 'tfjs', version: '1' }),
    };
    try {
      for (const batch of [1, 64]) {
        const payload = body(batch, width, 100 + batch);
        const n = batch === 1 ? 500 : 50;
        for (const s of Object.values(local)) await predictLatency(s, payload, n); // warm-up
        for (let r = 0; r < rounds; r++) {
          for (const [name, s] of Object.entries(local)) {
            const key = `${batch}:${name}`;
            latencies.set(key, [...(latencies.get(key) ?? []), ...(await predictLatency(s, payload, n))]);
          }
        }
      }
    } finally {
      for (const s of Object.values(local)) await s.model.unload();
    }

    const env = { MODELGATE_REGISTRY_URI: registryDir };
    const onnx = { ...(await startModelgate('models:/mlp-onnx/1', [], env)), name: 'onnx' };
    servers.push(onnx);
    const tfjs = { ...(await startModelgate('models:/mlp-tfjs/1', [], env)), name: 'tfjs-wasm' };
    servers.push(tfjs);

    for (const batch of [1, 64]) {
      const payload = body(batch, width, 100 + batch);
      maxDiff = Math.max(maxDiff, await checkAgreement(onnx, tfjs, payload));
      const spec = { path: '/invocations', body: payload, connections, seconds };
      for (const s of [onnx, tfjs]) await runLoad(s, { ...spec, seconds: 2 }); // warm-up
      for (let r = 0; r < rounds; r++) {
        for (const s of [onnx, tfjs]) {
          const load = await runLoad(s, spec);
          const key = `${batch}:${s.name}`;
          results.set(key, [...(results.get(key) ?? []), load]);
          process.stderr.write(
            `batch ${String(batch).padStart(2)} round ${r + 1} ${s.name.padEnd(9)} ${fmt(load.rps).padStart(6)} req/s  p50 ${load.p50} ms  p99 ${load.p99} ms  cpu ${fmt(load.cpuUsPerReq)} µs/req\n`,
          );
        }
      }
    }
  } finally {
    for (const s of servers) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const row = (batch: number, name: string) => {
    const runs = results.get(`${batch}:${name}`) ?? [];
    const times = latencies.get(`${batch}:${name}`) ?? [];
    return {
      predictP50: percentile(times, 0.5),
      predictP99: percentile(times, 0.99),
      rps: median(runs.map((r) => r.rps)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      cpu: median(runs.map((r) => r.cpuUsPerReq)),
      errors: runs.reduce((a, r) => a + r.errors + r.non2xx, 0),
    };
  };
  const lines: string[] = [];
  for (const batch of [1, 64]) {
    const o = row(batch, 'onnx');
    const t = row(batch, 'tfjs-wasm');
    const errs = o.errors + t.errors > 0 ? ` (${o.errors + t.errors} errors/non-2xx)` : '';
    const cells = (x: typeof o) =>
      `${fmt(x.predictP50, 2)} | ${fmt(x.predictP99, 2)} | ${fmt(x.rps)} | ${fmt(x.rps * batch)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.cpu)}`;
    lines.push(
      `| ${batch} | ONNX (onnxruntime-node) | ${cells(o)} | |`,
      `| ${batch} | TF.js (wasm) | ${cells(t)} | **${fmt(o.predictP50 / t.predictP50, 2)}×** predict, **${fmt(t.rps / o.rps, 2)}×** req/s${errs} |`,
    );
  }
  const cpu = cpus();
  const table = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitCommit()}, Node ${process.versions.node}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}.`,
    `Command: \`node dist/bench/flavors.js --seconds ${seconds} --rounds ${rounds} --connections ${connections}\`. ` +
      `predict: sequential calls in one process (${rounds} alternating blocks of 500 calls at batch 1, 50 at batch 64). ` +
      `HTTP: medians of ${rounds} alternating ${seconds} s autocannon runs per flavour, ${connections} connections. ` +
      `Largest difference between the two flavours' outputs: ${maxDiff.toExponential(1)}.`,
    '',
    '| batch | flavour | predict p50 ms | predict p99 ms | req/s | rows/s | HTTP p50 ms | HTTP p99 ms | server CPU µs/req | TF.js speed vs ONNX |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...lines,
  ].join('\n');
  process.stdout.write(`\n${table}\n`);

  if (!values['no-write']) {
    const readme = join(ROOT, 'bench', 'README.md');
    const text = readFileSync(readme, 'utf8');
    const start = '<!-- flavors:start -->';
    const end = '<!-- flavors:end -->';
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i === -1 || j === -1) throw new Error(`${readme} lacks the ${start} … ${end} markers`);
    writeFileSync(readme, `${text.slice(0, i + start.length)}\n${table}\n${text.slice(j)}`);
    process.stderr.write(`results written to ${readme}\n`);
  }
}

await main();

/**
 * A gateway of many models against the single-model server, in one run: 100 copies of the iris
 * ONNX model (each its own folder, so each its own session) served by one process with
 * `--lazy --max-loaded-models 20`, and one of them served alone (`-m <folder>`) as the reference.
 *
 * 1. Cold first requests: one request at a time to each of the 100 models in a shuffled order,
 *    each one loading its model (and, past 20, unloading the least recently used): p50/p99, with
 *    the default --onnx-isolation auto (a first load probes the model in a thread) and with none.
 * 2. Random traffic over all 100 (most requests miss the 20 resident models): req/s, p50/p99,
 *    failures, loads counted by the server.
 * 3. Hot throughput: requests spread at random over 20 models already loaded, against the single
 *    server's /invocations, alternating A B A B: req/s and the ratio.
 * Peak RSS of the gateway is sampled every 50 ms over the whole run.
 *
 *   npm run build && node dist/bench/multi-model.js [--seconds 10] [--rounds 2] [--models 100] [--max-loaded 20] [--no-write]
 *
 * Results go into bench/README.md between the multi-model markers.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { median } from './lib/load.js';
import { inputsJson, irisRows } from './lib/models.js';
import { CLI, ROOT, type ServerProcess, freePort, wrap } from './lib/servers.js';

const BODY = inputsJson(irisRows(1));
const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';
const mb = (bytes: number): string => fmt(bytes / 2 ** 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A seeded shuffle, so every run visits the models in the same order. */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function serve(name: string, args: string[], work: string): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'serve', ...args, '-p', String(port), '--registry', join(work, 'registry'), '--log-level', 'warn'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return wrap(name, { child, url });
    if (Date.now() > deadline) throw new Error(`${name} was not ready in time`);
    await sleep(50);
  }
}

async function invoke(url: string, path: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0 };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** One request at a time to each model, in a shuffled order: each one loads its model first. */
async function coldFirstRequests(s: ServerProcess, names: string[]): Promise<number[]> {
  const ms: number[] = [];
  for (const n of shuffled(names)) {
    const r = await invoke(s.url, `/models/${n}/invocations`);
    if (r.status !== 200) throw new Error(`${s.name}: the first request to ${n} answered ${r.status}`);
    ms.push(r.ms);
  }
  return ms;
}

async function metric(url: string, name: string): Promise<number> {
  // /metrics renders at most every 500 ms; wait past that so the figure is fresh.
  await sleep(600);
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** The server's CPU per answered request: its cost, whatever the load generator beside it took. */
  cpuUs: number;
}

/** autocannon over `paths`, each request to one picked at random. */
async function load(s: ServerProcess, paths: string[], seconds: number, connections: number): Promise<Load> {
  const cpu0 = s.cpuSeconds();
  const r = await autocannon({
    url: s.url,
    connections,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        setupRequest: (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)] }),
      },
    ],
  });
  const answered = r['2xx'] + r.non2xx;
  return {
    rps: answered / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    failed: r.errors + r.timeouts + r.non2xx,
    cpuUs: answered === 0 ? NaN : ((s.cpuSeconds() - cpu0) * 1e6) / answered,
  };
}

/** The single server and the gateway's hot models, alternating A B A B after a warm-up of each. */
async function hotPair(
  single: ServerProcess,
  multi: ServerProcess,
  hot: string[],
  seconds: number,
  rounds: number,
  connections: number,
  tag: string,
): Promise<{ singleRuns: Load[]; multiRuns: Load[] }> {
  await load(single, ['/invocations'], Math.min(2, seconds), connections);
  await load(multi, hot, Math.min(2, seconds), connections);
  const singleRuns: Load[] = [];
  const multiRuns: Load[] = [];
  for (let r = 0; r < rounds; r++) {
    singleRuns.push(await load(single, ['/invocations'], seconds, connections));
    multiRuns.push(await load(multi, hot, seconds, connections));
    process.stderr.write(
      `${tag}, round ${r + 1}: single ${fmt(singleRuns[r].rps)} req/s, ${hot.length} hot models ${fmt(multiRuns[r].rps)} req/s\n`,
    );
  }
  return { singleRuns, multiRuns };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      models: { type: 'string', default: '100' },
      'max-loaded': { type: 'string', default: '20' },
      connections: { type: 'string', default: '16' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const count = Number(values.models);
  const maxLoaded = Number(values['max-loaded']);
  const connections = Number(values.connections);
  const load0 = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-multi-'));
  const names = Array.from({ length: count }, (_, i) => `m${String(i).padStart(3, '0')}`);
  for (const n of names) cpSync(join(ROOT, 'examples', 'iris'), join(work, n), { recursive: true });
  const routes = join(work, 'routes.json');
  writeFileSync(routes, JSON.stringify({ models: names.map((n) => ({ primary: join(work, n) })) }));

  const gatewayArgs = ['--routes', routes, '--lazy', '--max-loaded-models', String(maxLoaded)];
  // Under the default --onnx-isolation auto, a model's first load probes it in a thread; with none, it does not.
  const plain = await serve(`${count} models, --onnx-isolation none`, [...gatewayArgs, '--onnx-isolation', 'none'], work);
  let coldNone: number[];
  try {
    coldNone = await coldFirstRequests(plain, names);
  } finally {
    await plain.stop();
  }
  const single = await serve('single model', ['-m', join(work, names[0])], work);
  const multi = await serve(`${count} models`, gatewayArgs, work);
  let peakRss = multi.rssBytes();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, multi.rssBytes())), 50);
  const lines: string[] = [];
  try {
    // 1. cold first requests, one at a time
    const cold = await coldFirstRequests(multi, names);
    // The same request to a model that is loaded, for the difference a load makes.
    const hotOne: number[] = [];
    const hotName = shuffled(names).at(-1) as string;
    for (let i = 0; i < 50; i++) hotOne.push((await invoke(multi.url, `/models/${hotName}/invocations`)).ms);
    const loadsCold = await metric(multi.url, 'modelgate_model_loads_total\\{outcome="success"\\}');
    process.stderr.write(
      `cold first requests: p50 ${fmt(percentile(cold, 50), 1)} ms, p99 ${fmt(percentile(cold, 99), 1)} ms over ${cold.length}; ` +
        `a loaded model: p50 ${fmt(percentile(hotOne, 50), 1)} ms; loads ${loadsCold}\n`,
    );

    // 2. random traffic over every model
    const all = names.map((n) => `/models/${n}/invocations`);
    const random = await load(multi, all, seconds, connections);
    const loadsRandom = (await metric(multi.url, 'modelgate_model_loads_total\\{outcome="success"\\}')) - loadsCold;
    const residentAfter = await metric(multi.url, 'modelgate_models_resident');
    process.stderr.write(
      `random over ${count}: ${fmt(random.rps)} req/s, p50 ${random.p50} ms, p99 ${random.p99} ms, failed ${random.failed}, loads ${loadsRandom}\n`,
    );

    // 3. hot throughput: 20 resident models vs the single server
    const hot = names.slice(0, maxLoaded).map((n) => `/models/${n}/invocations`);
    for (const p of hot) await invoke(multi.url, p);
    const loadsBefore = await metric(multi.url, 'modelgate_model_loads_total\\{outcome="success"\\}');
    const { singleRuns, multiRuns } = await hotPair(single, multi, hot, seconds, rounds, connections, 'defaults');
    const loadsHot = (await metric(multi.url, 'modelgate_model_loads_total\\{outcome="success"\\}')) - loadsBefore;
    const med = (runs: Load[], k: keyof Load) => median(runs.map((x) => x[k]));
    const ratio = med(multiRuns, 'rps') / med(singleRuns, 'rps');
    const singleRss = single.rssBytes();
    await single.stop();
    // With adaptive batching (the default) the single server batches its 16 connections' requests;
    // spread over 20 models they rarely meet. Without batching, the gateway's own cost shows.
    const single1 = await serve('single model, batching off', ['-m', join(work, names[0]), '--max-batch-size', '1'], work);
    const hotRoutes = join(work, 'hot.json');
    writeFileSync(hotRoutes, JSON.stringify({ models: names.slice(0, maxLoaded).map((n) => ({ primary: join(work, n) })) }));
    const multi1 = await serve(`${maxLoaded} models, batching off`, ['--routes', hotRoutes, '--max-batch-size', '1'], work);
    let off: { singleRuns: Load[]; multiRuns: Load[] };
    try {
      off = await hotPair(single1, multi1, hot, seconds, rounds, connections, 'batching off');
    } finally {
      await single1.stop();
      await multi1.stop();
    }
    const ratioOff = med(off.multiRuns, 'rps') / med(off.singleRuns, 'rps');

    const cpu = cpus();
    lines.push(
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.versions.node}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; ` +
        `load average ${load0.map((l) => l.toFixed(1)).join(' ')} before the run. Command: \`node dist/bench/multi-model.js --seconds ${seconds} --rounds ${rounds} --models ${count} --max-loaded ${maxLoaded} --connections ${connections}\`.`,
      '',
      '| measurement | figure | goal |',
      '|---|---:|---|',
      `| cold first request (load + warm-up + answer), p50 over ${count} models | ${fmt(percentile(cold, 50), 1)} ms | ${percentile(cold, 50) <= 100 ? '✓' : '✗'} ≤ 100 ms |`,
      `| cold first request, p99 | ${fmt(percentile(cold, 99), 1)} ms | |`,
      `| cold first request with \`--onnx-isolation none\` (no probe thread), p50 / p99 | ${fmt(percentile(coldNone, 50), 1)} / ${fmt(percentile(coldNone, 99), 1)} ms | ${percentile(coldNone, 50) <= 100 ? '✓' : '✗'} ≤ 100 ms |`,
      `| the same request to a loaded model, p50 (one at a time) | ${fmt(percentile(hotOne, 50), 1)} ms | |`,
      `| random traffic over ${count} models, ${connections} conn: req/s | ${fmt(random.rps)} | |`,
      `| random traffic: p50 / p99 ms (autocannon, whole ms) | ${random.p50} / ${random.p99} | |`,
      `| random traffic: failed requests; loads | ${random.failed}; ${loadsRandom} | 0 failed |`,
      `| resident models after random traffic (gauge) | ${residentAfter} | ≤ ${maxLoaded} |`,
      `| single-model server, ${connections} conn: req/s (median of ${rounds}) | ${fmt(med(singleRuns, 'rps'))} | |`,
      `| ${maxLoaded} hot models, random among them, ${connections} conn: req/s (median of ${rounds}); loads meanwhile | ${fmt(med(multiRuns, 'rps'))}; ${loadsHot} | |`,
      `| hot throughput ratio with the defaults, ${maxLoaded} hot models / single model: the single server merges its ${connections} connections' requests into batches, which requests spread over ${maxLoaded} models cannot share (see the CPU line below) | **${fmt(ratio, 2)}×** | |`,
      `| p50 / p99 ms: single vs ${maxLoaded} hot | ${med(singleRuns, 'p50')} / ${med(singleRuns, 'p99')} vs ${med(multiRuns, 'p50')} / ${med(multiRuns, 'p99')} | |`,
      `| server CPU µs per request: single vs ${maxLoaded} hot (the single server's batches merge its ${connections} connections' requests; spread over ${maxLoaded} models they rarely meet) | ${fmt(med(singleRuns, 'cpuUs'))} vs ${fmt(med(multiRuns, 'cpuUs'))} | |`,
      `| batching off (\`--max-batch-size 1\` on both): single vs ${maxLoaded} hot models, req/s | ${fmt(med(off.singleRuns, 'rps'))} vs ${fmt(med(off.multiRuns, 'rps'))}: **${fmt(ratioOff, 2)}×** | ${ratioOff >= 0.9 ? '✓' : '✗'} ≥ 0.9× (like for like) |`,
      `| batching off: server CPU µs per request, single vs ${maxLoaded} hot (the gateway's own cost per request) | ${fmt(med(off.singleRuns, 'cpuUs'))} vs ${fmt(med(off.multiRuns, 'cpuUs'))}: **${fmt(med(off.singleRuns, 'cpuUs') / med(off.multiRuns, 'cpuUs'), 2)}×** | |`,
      `| peak RSS of the ${count}-model gateway (max ${maxLoaded} resident) vs the single-model server at the end | ${mb(peakRss)} MB vs ${mb(singleRss)} MB | |`,
    );
  } finally {
    clearInterval(sampler);
    await multi.stop();
    await single.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const report = lines.join('\n');
  process.stdout.write(`\n${report}\n`);
  if (!values['no-write']) {
    const readme = join(ROOT, 'bench', 'README.md');
    const text = readFileSync(readme, 'utf8');
    const start = '<!-- multi-model:start -->';
    const end = '<!-- multi-model:end -->';
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i === -1 || j === -1) throw new Error(`${readme} lacks the ${start} … ${end} markers`);
    writeFileSync(readme, `${text.slice(0, i + start.length)}\n${report}\n${text.slice(j)}`);
    process.stderr.write(`results written to ${readme}\n`);
  }
}

await main();

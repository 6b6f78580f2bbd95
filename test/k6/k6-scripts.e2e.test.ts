/**
 * The bench/k6 scripts can fail. k6 cannot be installed here, so each script runs under a small
 * k6 stand-in (k6-runner.ts) against real modelgate servers on 127.0.0.1 and against proxies in
 * front of them that go wrong in one way each; every script must pass against its own server and
 * exit non-zero against each fault: answers that stop being predictions, answers from another
 * model, a server that never gets ready, and for the canary a rollout that does not happen.
 */
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IRIS,
  ROOT,
  type Served,
  killAll,
  requireBuiltCli,
  runCli,
  sleep,
  startCliServer,
  startProcess,
  stop,
  waitReady,
} from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { type K6Result, type RunOptions, removeBundles, runK6 } from './k6-runner.js';

const K6_DIR = join(ROOT, 'bench', 'k6');
/** Modules the scripts import, not scripts. */
const LIBRARIES = new Set(['common.ts', 'v2.ts']);
const TOKEN = 'k6-admin-secret';
/** The stand-in is no load generator: only what the scripts check, not how fast the server is. */
const RELAXED = { MIN_RPS: '1', P99_MS: '5000' };
/** The canary's ramp, short: weights 0, 50, 100. */
const SHORT_RAMP = { STEPS: '2', STEP_SECONDS: '0.4', PROBES: '40', ADMIN_TOKEN: TOKEN };

const temp = tempDirs('modelgate-k6-test-');
const servers: Served[] = [];
const closers: (() => Promise<void>)[] = [];
/** Base URLs by role. */
const at: Record<string, string> = {};

async function serve(role: string, args: string[], env: Record<string, string>): Promise<void> {
  const s = startCliServer(['serve', ...args, '-p', '0'], { env, timeoutMs: 600_000 });
  servers.push(s);
  await waitReady(s);
  at[role] = s.base;
}

async function startBaseline(model: string): Promise<void> {
  const p = startProcess(process.execPath, [join(ROOT, 'dist', 'bench', 'baselines', 'onnx.js'), model, '0'], {
    timeoutMs: 600_000,
  });
  p.done.catch(() => undefined);
  closers.push(async () => void (p.child.kill('SIGTERM'), await p.done.catch(() => undefined)));
  // It prints the port it got: `baseline listening on <port>`.
  const deadline = Date.now() + 30_000;
  let port: string | undefined;
  while ((port = /baseline listening on (\d+)/.exec(p.out.stdout)?.[1]) === undefined) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`the baseline did not start\n${p.out.stderr}`);
    await sleep(25);
  }
  at.baseline = `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  requireBuiltCli();
  const dir = await temp.make();
  // The documented way to get the bench's models: iris, iris-columns, mlp and iris-tfjs, each @champion.
  const prepared = await startProcess(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), '--prepare', dir], { timeoutMs: 60_000 })
    .done;
  expect(prepared.code, prepared.stderr).toBe(0);
  const registry = join(dir, 'registry');
  const challenger = await runCli(['registry', 'register', IRIS, '--name', 'iris', '--alias', 'challenger', '--registry', registry]);
  expect(challenger.stdout.trim(), challenger.stderr).toBe('2');
  const env = { MODELGATE_REGISTRY_URI: registry };
  await Promise.all([
    serve('iris', ['-m', 'models:/iris@champion'], env),
    serve('canary', ['-m', 'models:/iris@champion', '--canary', 'models:/iris@challenger', '--canary-weight', '0'], {
      ...env,
      MODELGATE_ADMIN_TOKEN: TOKEN,
    }),
    serve('columns', ['-m', 'models:/iris-columns@champion'], env),
    serve('mlp', ['-m', 'models:/mlp@champion'], env),
    serve('tfjs', ['-m', 'models:/iris-tfjs@champion'], env),
    startBaseline(join(dir, 'iris', 'model.onnx')),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([...servers.map((s) => stop(s)), ...closers.map((c) => c())]);
  killAll();
  await Promise.all([temp.removeAll(), removeBundles()]);
});

/** Each script, the server it is written for, and what it needs besides BASE_URL. */
const SCRIPTS: { script: string; server: string; env?: Record<string, string>; maxSeconds?: number }[] = [
  { script: 'invocations.ts', server: 'iris' },
  { script: 'rows-1000.ts', server: 'iris' },
  { script: 'csv.ts', server: 'columns' },
  { script: 'mlp.ts', server: 'mlp' },
  { script: 'tfjs.ts', server: 'tfjs' },
  { script: 'v2-infer.ts', server: 'iris' },
  { script: 'mlserver-iris.ts', server: 'iris' },
  { script: 'canary-rollout.ts', server: 'canary', env: SHORT_RAMP, maxSeconds: 5 },
];

function k6(script: string, base: string, env: Record<string, string> = {}, opts: RunOptions = {}): Promise<K6Result> {
  return runK6(join(K6_DIR, script), { maxVus: 1, ...opts, env: { BASE_URL: base, ...RELAXED, ...env } });
}

/** `maxSeconds` bounds a load scenario; the canary's traffic lasts as long as its ramp. */
const runFor = (s: (typeof SCRIPTS)[number], base: string, env: Record<string, string> = {}, maxSeconds = 0.5) =>
  k6(s.script, base, { ...s.env, ...env }, { maxSeconds: s.maxSeconds ?? maxSeconds });

async function resetCanary(): Promise<void> {
  const res = await fetch(`${at.canary}/admin/weight`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: '{"weight": 0}',
  });
  expect(res.status).toBe(200);
}

type Fault = 'junk' | 'other-model' | 'ignore-weight' | 'never-ready' | 'ready-late';

const isModelCall = (req: IncomingMessage) => req.method === 'POST' && /^\/(invocations|v2\/models\/.+\/infer)$/.test(req.url ?? '');

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

/**
 * A proxy to `upstream` that goes wrong after `goodAnswers` model answers: `junk` answers 200 with
 * a body that is no prediction (the upstream's headers kept), `other-model` says another model
 * answered; `ignore-weight` acknowledges admin weight changes without passing them on;
 * `never-ready` answers /ready with 503, `ready-late` for its first 1.5 s.
 */
async function faultyProxy(upstream: string, fault: Fault, goodAnswers = 1): Promise<string> {
  let answers = 0;
  const readyAt = fault === 'never-ready' ? Infinity : fault === 'ready-late' ? Date.now() + 1500 : 0;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    if (req.url === '/ready' && Date.now() < readyAt)
      return res.writeHead(503, { 'content-type': 'application/json' }).end('{"ready": false}');
    if (fault === 'ignore-weight' && req.url === '/admin/weight')
      return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const up = await fetch(`${upstream}${req.url}`, {
      method: req.method,
      headers: Object.fromEntries(['content-type', 'authorization'].flatMap((h) => (req.headers[h] ? [[h, String(req.headers[h])]] : []))),
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
    });
    const headers = Object.fromEntries([...up.headers].filter(([k]) => k === 'content-type' || k.startsWith('x-model')));
    let text = await up.text();
    const wrong = isModelCall(req) && ++answers > goodAnswers;
    if (wrong && fault === 'junk') text = '{"status": "ok"}';
    if (wrong && fault === 'other-model') headers['x-model-name'] = 'some-other-model';
    res.writeHead(up.status, headers).end(text);
  };
  const server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(502).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const failedThresholds = (r: K6Result) => `${r.failed.join('; ')} ${r.reason ?? ''}\n${r.log.slice(0, 5).join('\n')}`;

describe('bench/k6', () => {
  it('tests every script there is', () => {
    const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.ts') && !LIBRARIES.has(f));
    expect(SCRIPTS.map((s) => s.script).sort()).toEqual(scripts.sort());
  });

  describe.each(SCRIPTS)('$script', (s) => {
    it('passes against the server it is written for, and shows p(99)', async () => {
      if (s.server === 'canary') await resetCanary();
      const r = await runFor(s, at[s.server]);
      // MLServer's 1,100 req/s is beyond the stand-in; every other threshold must hold.
      const failed = s.script === 'mlserver-iris.ts' ? r.failed.filter((f) => !f.startsWith('http_reqs{')) : r.failed;
      expect(failed, failedThresholds(r)).toEqual([]);
      if (s.script !== 'mlserver-iris.ts') expect(r.exitCode, failedThresholds(r)).toBe(0);
      expect(r.count('answers_ok')).toBeGreaterThan(0);
      expect(r.options?.summaryTrendStats).toEqual(expect.arrayContaining(['p(50)', 'p(90)', 'p(99)']));
    });

    it('fails on answers that stop being predictions after setup', async () => {
      if (s.server === 'canary') await resetCanary();
      const r = await runFor(s, await faultyProxy(at[s.server], 'junk'), {}, 0.3);
      expect(r.exitCode, failedThresholds(r)).toBe(99);
      expect(r.failed).toContain('checks rate==1');
    });

    it('fails on answers from another model after setup', async () => {
      if (s.server === 'canary') await resetCanary();
      const r = await runFor(s, await faultyProxy(at[s.server], 'other-model'), {}, 0.3);
      expect(r.exitCode, failedThresholds(r)).toBe(99);
      expect(r.failed).toContain('checks rate==1');
    });

    it('stops in setup, saying why, when the first answer is wrong', async () => {
      const r = await runFor(s, await faultyProxy(at[s.server], 'junk', 0));
      expect(r.exitCode).toBe(108);
      expect(r.reason).toMatch(/^the first answer from http:\/\/127\.0\.0\.1:\d+ is wrong: failed "has (predictions|outputs)"/);
    });

    it('waits for /ready and stops, saying why, if it never comes', async () => {
      const r = await runFor(s, await faultyProxy(at[s.server], 'never-ready'), { READY_TIMEOUT: '0.3' });
      expect(r.exitCode).toBe(108);
      expect(r.reason).toMatch(/\/ready did not answer 200 within 0.3 s \(last: 503 \{"ready": false\}\); start the server first/);
    });
  });

  it('fails a run whose iterations all throw before their checks, which a `checks` threshold alone passes', async () => {
    const dir = await temp.make();
    const script = join(dir, 'throws.ts');
    const common = JSON.stringify(join(K6_DIR, 'common.ts'));
    await writeFile(
      script,
      `import { expectedModel, invocationsTarget, loadOptions, setupTarget } from ${common};
const MODEL = expectedModel('iris');
const TARGET = invocationsTarget('{"inputs": [[1, 2, 3, 4]]}', 'application/json', 1, MODEL);
export const options = loadOptions({ model: MODEL, protocol: 'mlflow-rest', vus: 1, minRps: 1, p99Ms: 5000 });
export function setup(): void { setupTarget(TARGET); }
export default function (): void { TARGET.send(); throw new Error('thrown between the request and its check'); }
`,
    );
    const r = await runK6(script, { env: { BASE_URL: at.iris }, maxSeconds: 0.3, maxVus: 1 });
    // No check ran, so the `checks` rate has no samples and passes, as in k6 (grafana/k6#4283).
    expect(r.thresholds).toContainEqual({ metric: 'checks', source: 'rate==1', ok: true });
    expect([r.exitCode, r.failed]).toEqual([99, ['answers_ok count>0']]);
  });

  it('waits for a server that gets ready late', async () => {
    const r = await k6('invocations.ts', await faultyProxy(at.iris, 'ready-late'), { READY_TIMEOUT: '10' });
    expect(r.exitCode, failedThresholds(r)).toBe(0);
  });

  it('tfjs.ts stops against an ONNX server', async () => {
    const r = await k6('tfjs.ts', at.iris);
    expect(r.exitCode).toBe(108);
    expect(r.reason).toContain('failed "x-model-name is iris-tfjs"');
  });

  it('MODEL_NAME and MODEL_VERSION choose the model the answers must come from', async () => {
    expect((await k6('tfjs.ts', at.iris, { MODEL_NAME: 'iris' })).exitCode).toBe(0);
    expect((await k6('v2-infer.ts', at.iris, { MODEL_VERSION: '1' })).exitCode).toBe(0);
    const wrong = await k6('invocations.ts', at.iris, { MODEL_VERSION: '9' });
    expect(wrong.exitCode).toBe(108);
    expect(wrong.reason).toContain('failed "x-model-version is 9"');
  });

  it('SERVER=baseline runs a load script against a bench baseline, which has no /ready and no x-model-* headers', async () => {
    const r = await k6('invocations.ts', at.baseline, { SERVER: 'baseline' });
    expect(r.exitCode, failedThresholds(r)).toBe(0);
    const junk = await k6('invocations.ts', await faultyProxy(at.baseline, 'junk', 2), { SERVER: 'baseline' }, { maxSeconds: 0.5 });
    expect(junk.exitCode).toBe(99);
  });

  it('mlserver-iris.ts is MLServer’s scenario: 300 constant VUs for 60 s, http_reqs rate > 1100', async () => {
    const r = await k6('mlserver-iris.ts', at.iris, { DURATION: '5s', VUS: '1' }, { maxSeconds: 0.3 });
    expect(r.options?.scenarios).toEqual({
      iris_rest: { executor: 'constant-vus', duration: '60s', vus: 300, tags: { model_name: 'iris', protocol: 'rest' } },
    });
    expect(r.thresholds).toContainEqual(expect.objectContaining({ metric: 'http_reqs{scenario:iris_rest}', source: 'rate>1100' }));
  });

  describe('canary-rollout.ts', () => {
    const rollout = (base: string, env: Record<string, string> = {}) =>
      k6('canary-rollout.ts', base, { ...SHORT_RAMP, ...env }, { maxSeconds: 5 });

    it('counts the answers of both versions and the canary’s share at each weight', async () => {
      await resetCanary();
      const r = await rollout(at.canary);
      expect(r.exitCode, failedThresholds(r)).toBe(0);
      expect(r.count('answers_by_version', { version: '1' })).toBeGreaterThan(0);
      expect(r.count('answers_by_version', { version: '2' })).toBeGreaterThan(0);
      const shares = r.thresholds.filter((t) => t.metric.startsWith('canary_share{') && t.source.startsWith('min'));
      expect(shares.map((t) => [t.metric, t.value])).toEqual([
        ['canary_share{weight:0}', 0],
        ['canary_share{weight:50}', expect.any(Number)],
        ['canary_share{weight:100}', 1],
      ]);
    });

    it('fails when the weight calls are acknowledged but the split never moves', async () => {
      await resetCanary();
      const r = await rollout(await faultyProxy(at.canary, 'ignore-weight'));
      expect(r.exitCode).toBe(99);
      expect(r.failed).toEqual(
        expect.arrayContaining(['checks{kind:split} rate==1', 'rollout_steps_ok count==3', 'canary_share{weight:100} min>=1']),
      );
    });

    it('stops without an admin token, with a wrong one, and without an admin API', async () => {
      const none = await rollout(at.canary, { ADMIN_TOKEN: '' });
      expect([none.exitCode, none.reason]).toEqual([108, expect.stringContaining('the admin API needs a token: run with -e ADMIN_TOKEN=')]);
      const wrong = await rollout(at.canary, { ADMIN_TOKEN: 'nope' });
      expect([wrong.exitCode, wrong.reason]).toEqual([108, expect.stringContaining('refused -e ADMIN_TOKEN (401)')]);
      const off = await rollout(at.iris);
      expect([off.exitCode, off.reason]).toEqual([
        108,
        expect.stringMatching(/has no admin API \(404\): start the server with MODELGATE_ADMIN_TOKEN/),
      ]);
    });

    it('stops when the server serves other versions than the thresholds count', async () => {
      const r = await rollout(at.canary, { CANARY_VERSION: '5' });
      expect(r.exitCode).toBe(108);
      expect(r.reason).toContain('run with -e PRIMARY_VERSION=1 -e CANARY_VERSION=2');
    });

    it('reads DURATION: the ramp is spread over it, and must fit in it', async () => {
      const spread = await k6('canary-rollout.ts', at.iris, { ADMIN_TOKEN: TOKEN, STEPS: '3', DURATION: '8s' }, { maxSeconds: 0 });
      expect((spread.options?.scenarios as Record<string, { duration?: string }>).traffic.duration).toBe('8000ms');
      const tooShort = await k6('canary-rollout.ts', at.canary, { ...SHORT_RAMP, STEP_SECONDS: '3', DURATION: '2s' });
      expect([tooShort.exitCode, tooShort.reason]).toEqual([107, expect.stringContaining('is shorter than the ramp')]);
    });
  });
});

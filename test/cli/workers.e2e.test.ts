/**
 * `serve --workers 2`: two processes share the port, /metrics aggregates both, an admin change
 * made through one worker reaches the other, a killed worker is replaced, SIGTERM stops all.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/core/registration.js';
import { IRIS, type Served, killAll, requireBuiltCli, sleep, startCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';

let root: string;
let registry: string;

beforeAll(async () => {
  requireBuiltCli();
  root = await mkdtemp(join(tmpdir(), 'modelgate-workers-'));
  registry = join(root, 'registry');
  const r = openRegistry(registry);
  await r.register(IRIS, { name: 'iris', alias: 'champion' });
  await r.register(IRIS, { name: 'iris', alias: 'challenger' });
});

afterAll(async () => {
  killAll();
  await rm(root, { recursive: true, force: true });
});

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

/** One POST on a connection of its own, with a timeout. */
function postOnce(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${base}/invocations`);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent: false,
        timeout: 3000,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(BODY);
  });
}

/** GET on a connection of its own, with a timeout: the body, or undefined if it timed out. */
function getOnce(base: string, path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${base}${path}`);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The live children of a process (the cluster's workers), from /proc. */
function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent && fields[0] !== 'Z') out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Worker pids that have logged `listening`: each then takes its share of connections. */
const listeningPids = (s: Served) => new Set([...s.stdout().matchAll(/"pid":(\d+)[^\n]*"msg":"listening"/g)].map((m) => Number(m[1])));

/** Waits until `n` workers (replacements included) have logged `listening`. */
async function waitListeners(s: Served, n: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (listeningPids(s).size < n) {
    if (Date.now() > deadline) throw new Error(`${n} workers did not listen within ${timeoutMs} ms\n${s.output()}`);
    await sleep(50);
  }
}

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

describe('--workers', () => {
  it('serves from two processes with one aggregated /metrics and replicated admin changes', async () => {
    const s = startCliServer(
      ['serve', '-m', 'models:/iris@champion', '--canary', 'models:/iris@challenger', '--workers', '2', '--registry', registry, '-p', '0'],
      { env: { MODELGATE_ADMIN_TOKEN: 'tok', MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' } },
    );
    await waitReady(s);
    // Readiness of one worker is not enough: wait until both listen.
    await waitListeners(s, 2);
    const post = () => fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    // Separate connections, so the kernel spreads them over both workers.
    const n = 40;
    const statuses = await Promise.all(Array.from({ length: n }, () => post().then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toContain(`modelgate_http_requests_total{method="POST",route="/invocations",status="200"} ${n}`);
    expect(metrics).toContain('modelgate_ready 1');

    const set = await fetch(`${s.base}/admin/weight`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok' },
      body: '{"weight": 100}',
    });
    expect(set.status).toBe(200);
    // The other worker hears of the change from the primary, a moment later.
    const versions = () => Promise.all(Array.from({ length: 20 }, () => post().then((r) => r.headers.get('x-model-version'))));
    await eventually(async () => (await versions()).every((v) => v === '2'));
    expect(new Set(await versions())).toEqual(new Set(['2']));

    const exit = await stop(s);
    expect(exit.code, s.output()).toBe(0);
  }, 90_000);

  it('replaces a worker that dies and keeps serving', async () => {
    const s = startCliServer(['serve', '-m', IRIS, '--workers', '2', '-p', '0'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' },
    });
    await waitReady(s);
    await waitListeners(s, 2);
    const workerPid = [...listeningPids(s)][0];
    process.kill(workerPid, 'SIGKILL');
    // Replaced: a third worker listens.
    await waitListeners(s, 3);
    expect(s.output()).toContain('a worker died; starting a replacement');
    const res = await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    expect(res.status).toBe(200);
    expect((await stop(s)).code).toBe(0);
  }, 90_000);

  it('gives a replacement worker no traffic before it is loaded, and keeps counters monotonic across its death', async () => {
    const s = startCliServer(['serve', '-m', IRIS, '--workers', '2', '-p', '0'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' },
    });
    await waitReady(s);
    await waitListeners(s, 2);
    // Fresh connections, so each request can land on either worker, the replacement included.
    // A connection the cluster was handing to the worker as it was killed is lost (Node's
    // round-robin handoff), so requests have a timeout and a few such losses are allowed below.
    const once = () =>
      postOnce(s.base).then(
        (status) => status,
        () => -1,
      );
    const warm = await Promise.all(Array.from({ length: 30 }, once));
    expect(new Set(warm)).toEqual(new Set([200]));
    const count = async () => {
      const text = await (await fetch(`${s.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const m = /modelgate_http_requests_total\{method="POST",route="\/invocations",status="200"\} (\d+)/.exec(text);
      expect(text).toMatch(/^process_start_time_seconds \d+/m);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    expect(before).toBeGreaterThanOrEqual(30);
    const [victim] = childPids(s.child.pid as number);
    process.kill(victim, 'SIGKILL');
    const statuses: number[] = [];
    const until = Date.now() + 4000;
    const stream = async () => {
      while (Date.now() < until) statuses.push(await once());
    };
    await Promise.all([stream(), stream(), stream(), stream()]);
    // Never a 503 'model not loaded yet' from the replacement; at most the requests that were in transit to the killed worker fail.
    expect(statuses.filter((x) => x === 503)).toEqual([]);
    expect(statuses.filter((x) => x !== 200).length).toBeLessThanOrEqual(3);
    expect(statuses.length).toBeGreaterThan(50);
    expect(await count()).toBeGreaterThanOrEqual(before);
    expect((await stop(s)).code).toBe(0);
  }, 90_000);

  it('survives workers killed mid-scrape and while still starting', async () => {
    const s = startCliServer(['serve', '-m', IRIS, '--workers', '2', '-p', '0'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' },
    });
    // Killed while loading: replaced, not fatal.
    await sleep(150);
    for (const pid of childPids(s.child.pid as number)) process.kill(pid, 'SIGKILL');
    await waitReady(s);
    await waitListeners(s, 2);
    for (let round = 0; round < 3; round++) {
      const listened = listeningPids(s).size;
      const scrapes = Array.from({ length: 20 }, () =>
        fetch(`${s.base}/metrics`, { signal: AbortSignal.timeout(5000) }).then(
          (r) => r.status,
          () => -1,
        ),
      );
      const [victim] = childPids(s.child.pid as number);
      process.kill(victim, 'SIGKILL');
      await Promise.all(scrapes);
      await waitListeners(s, listened + 1);
      expect(s.child.exitCode, s.output()).toBeNull();
    }
    await waitReady(s);
    expect((await fetch(`${s.base}/metrics`)).status).toBe(200);
    expect((await stop(s)).code).toBe(0);
  }, 90_000);

  it('keeps counters monotonic while a worker is stalled and misses the scrape', async () => {
    const s = startCliServer(['serve', '-m', IRIS, '--workers', '2', '-p', '0'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' },
    });
    await waitReady(s);
    await waitListeners(s, 2);
    await Promise.all(Array.from({ length: 40 }, () => postOnce(s.base)));
    const count = async () => {
      const text = await (await fetch(`${s.base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      return Number(/modelgate_http_requests_total\{method="POST",route="\/invocations",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    // Workers report their counters to the primary now and then: wait for all 40.
    await eventually(async () => (await count()) === 40);
    const before = await count();
    expect(before).toBe(40);
    const [victim] = childPids(s.child.pid as number);
    process.kill(victim, 'SIGSTOP');
    try {
      await sleep(600);
      // The scrape waits for the stalled worker up to its timeout, then counts what it last reported.
      // A connection the cluster hands to the stopped worker itself is never answered: the next new
      // connection goes to the other worker (round robin), which must answer.
      let text: string | undefined;
      for (let i = 0; i < 4 && text === undefined; i++) text = await getOnce(s.base, '/metrics', 6000);
      expect(text, 'no worker answered /metrics').toBeDefined();
      const after = Number(
        /modelgate_http_requests_total\{method="POST",route="\/invocations",status="200"\} (\d+)/.exec(text ?? '')?.[1] ?? 0,
      );
      expect(after).toBeGreaterThanOrEqual(before);
    } finally {
      process.kill(victim, 'SIGCONT');
    }
    expect((await stop(s)).code).toBe(0);
  }, 90_000);

  it('exits 1 when the workers cannot load the model', async () => {
    const r = await startCli(['serve', '-m', join(root, 'no-such-model'), '--workers', '2', '-p', '0'], {
      timeoutMs: 60_000,
    }).done;
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/does not exist/);
  }, 90_000);
});

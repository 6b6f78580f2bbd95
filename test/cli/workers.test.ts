/**
 * `serve --workers 2`: two processes share the port, /metrics aggregates both, an admin change
 * made through one worker reaches the other, a killed worker is replaced, SIGTERM stops all.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../src/registry/registry.js';
import { IRIS, freePort, killAll, requireBuiltCli, sleep, startCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';

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

describe('--workers', () => {
  it('serves from two processes with one aggregated /metrics and replicated admin changes', async () => {
    const port = await freePort();
    const s = startCliServer(
      [
        'serve',
        '-m',
        'models:/iris@champion',
        '--canary',
        'models:/iris@challenger',
        '--workers',
        '2',
        '--registry',
        registry,
        '-p',
        String(port),
      ],
      '127.0.0.1',
      port,
      { env: { MODELGATE_ADMIN_TOKEN: 'tok', MODELGATE_LOG_LEVEL: 'warn', MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' } },
    );
    await waitReady(s);
    // Readiness of one worker is not enough: wait until both answer.
    await sleep(1500);
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
    await sleep(300);
    const versions = await Promise.all(Array.from({ length: 20 }, () => post().then((r) => r.headers.get('x-model-version'))));
    expect(new Set(versions)).toEqual(new Set(['2']));

    const exit = await stop(s);
    expect(exit.code, s.output()).toBe(0);
  }, 90_000);

  it('replaces a worker that dies and keeps serving', async () => {
    const port = await freePort();
    const s = startCliServer(['serve', '-m', IRIS, '--workers', '2', '-p', String(port)], '127.0.0.1', port, {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0' },
    });
    await waitReady(s);
    await sleep(1500);
    const pids = [...s.output().matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1]));
    const workerPid = pids.find((p) => p !== s.child.pid);
    expect(workerPid).toBeDefined();
    process.kill(workerPid as number, 'SIGKILL');
    await sleep(2500);
    expect(s.output()).toContain('a worker died; starting a replacement');
    const res = await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    expect(res.status).toBe(200);
    expect((await stop(s)).code).toBe(0);
  }, 90_000);

  it('exits 1 when the workers cannot load the model', async () => {
    const r = await startCli(['serve', '-m', join(root, 'no-such-model'), '--workers', '2', '-p', String(await freePort())], {
      timeoutMs: 60_000,
    }).done;
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/does not exist/);
  }, 90_000);
});

/**
 * Canary routing and live version switching end to end: a real local registry, the real server on
 * 127.0.0.1, real HTTP under concurrent load while aliases move.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import type { Registry } from '../../src/registry/registry.js';
import { openRegistry } from '../../src/core/registration.js';
import { PIN_HEADER } from '../../src/core/routing/router.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { irisClassifier } from '../../tools/onnx/models.js';

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}';
const TOKEN = 'test-admin-token';
let root: string;
let registry: Registry;

/** Three versions whose answers differ (weights scaled), so a body tells which version made it. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-canary-'));
  registry = openRegistry(join(root, 'registry'));
  const { weights, bias } = trainIrisLogReg();
  for (const scale of [1, 0.5, 0.25]) {
    const dir = join(root, `model-${scale}`);
    await cp('examples/iris', dir, { recursive: true });
    await writeFile(join(dir, 'model.onnx'), irisClassifier({ weights: weights.map((r) => r.map((w) => w * scale)), bias }));
    await registry.register(dir, { name: 'iris' });
  }
  await registry.setAlias('iris', 'champion', '1');
  await registry.setAlias('iris', 'challenger', '2');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function serve(extra: Record<string, unknown>): Promise<RunningServer> {
  const config = resolveServeConfig({
    modelUri: 'models:/iris@champion',
    registryUri: join(root, 'registry'),
    port: 0,
    pollSeconds: 0.2,
    ...extra,
  });
  const s = await startServer(config, silentLogger());
  await s.loaded;
  return s;
}

async function invoke(port: number, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY,
  });
  return {
    status: res.status,
    version: res.headers.get('x-model-version'),
    route: res.headers.get('x-modelgate-route'),
    body: await res.text(),
  };
}

/** What each version answers to BODY, asked of a server pinned to that version. */
async function referenceBodies(): Promise<Map<string, string>> {
  const bodies = new Map<string, string>();
  for (const v of ['1', '2', '3']) {
    const s = await serve({ modelUri: `models:/iris/${v}` });
    bodies.set(v, (await invoke(s.port)).body);
    await s.close();
  }
  return bodies;
}

describe('canary and live switching (real HTTP)', () => {
  it('keeps every request successful while the alias moves 20 times under load, and each answer matches its version header', async () => {
    const expected = await referenceBodies();
    expect(new Set(expected.values()).size).toBe(3);
    const s = await serve({ canaryUri: 'models:/iris@challenger', canaryWeight: 20 });
    let stop = false;
    const seen: { status: number; version: string | null; body: string }[] = [];
    const errors: unknown[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          seen.push(await invoke(s.port));
        } catch (err) {
          errors.push(err);
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    const versions = ['2', '3', '1'];
    for (let i = 0; i < 20; i++) {
      await registry.setAlias('iris', 'champion', versions[i % 3]);
      await new Promise((r) => setTimeout(r, 150));
    }
    await registry.setAlias('iris', 'champion', '3');
    // The last move is seen by inotify or the next poll; under full load give it a few seconds.
    const deadline = Date.now() + 15_000;
    while (s.router.routes().slots[0].version !== '3' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(workers);
    const routes = s.router.routes();
    await s.close();

    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThan(500);
    expect(seen.filter((r) => r.status !== 200)).toEqual([]);
    for (const r of seen) expect(r.body, `version ${r.version}`).toBe(expected.get(r.version ?? ''));
    expect(new Set(seen.map((r) => r.version))).toEqual(new Set(['1', '2', '3']));
    const primary = routes.slots.find((x) => x.route === 'primary');
    expect(primary?.version).toBe('3');
    expect(primary?.switches).toBeGreaterThanOrEqual(10);
  }, 120_000);

  it('splits 10,000 real requests within ±2 points of the weight and keeps sticky keys on one version', async () => {
    await registry.setAlias('iris', 'champion', '1');
    const s = await serve({ canaryUri: 'models:/iris@challenger', canaryWeight: 25, stickyHeader: 'x-user-id' });
    let canary = 0;
    const total = 10_000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const r = await invoke(s.port);
        expect(r.status).toBe(200);
        if (r.route === 'canary') {
          expect(r.version).toBe('2');
          canary++;
        } else expect(r.version).toBe('1');
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(Math.abs((canary / total) * 100 - 25)).toBeLessThanOrEqual(2);

    const firstVersion = new Map<string, string | null>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 100; k++) {
        const r = await invoke(s.port, { 'x-user-id': `user-${k}` });
        if (round === 0) firstVersion.set(`user-${k}`, r.version);
        else expect(r.version, `user-${k}`).toBe(firstVersion.get(`user-${k}`));
      }
    }
    expect(new Set(firstVersion.values())).toEqual(new Set(['1', '2']));
    expect((await invoke(s.port, { [PIN_HEADER]: 'canary' })).version).toBe('2');
    await s.close();
  }, 120_000);

  it('runs the admin API behind a bearer token: weights, promote, rollback', async () => {
    await registry.setAlias('iris', 'champion', '1');
    const s = await serve({ canaryUri: 'models:/iris@challenger', canaryWeight: 10, adminTokens: [TOKEN] });
    const admin = (path: string, method = 'GET', body?: unknown, token = TOKEN) =>
      fetch(`http://127.0.0.1:${s.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await fetch(`http://127.0.0.1:${s.port}/admin/routes`)).status).toBe(401);
    const wrong = await admin('/admin/routes', 'GET', undefined, 'nope');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error_code: 'UNAUTHENTICATED' });
    expect(await (await admin('/admin/routes')).json()).toMatchObject({ weight: 10 });
    expect((await admin('/admin/weight', 'POST', { weight: 150 })).status).toBe(400);
    expect(await (await admin('/admin/weight', 'POST', { weight: 100 })).json()).toMatchObject({ weight: 100 });
    expect((await invoke(s.port)).version).toBe('2');

    const promoted = (await (await admin('/admin/promote', 'POST')).json()) as { promoted: { from: string; to: string } };
    expect(promoted.promoted).toMatchObject({ from: '1', to: '2' });
    expect((await registry.resolve('models:/iris@champion')).version).toBe('2');
    expect((await invoke(s.port)).version).toBe('2');

    expect((await admin('/admin/rollback', 'POST')).status).toBe(200);
    expect((await registry.resolve('models:/iris@champion')).version).toBe('1');
    expect((await invoke(s.port)).version).toBe('1');
    const metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
    expect(metrics).toContain('modelgate_route_weight_percent{route="canary"} 0');
    expect(metrics).toMatch(/modelgate_model_switches_total\{route="primary",outcome="success"\} 2/);
    await s.close();
  }, 60_000);

  it('keeps the old version when the alias moves to one that does not score, and shows why', async () => {
    const broken = join(root, 'broken');
    await cp('examples/iris', broken, { recursive: true });
    const v = await registry.register(broken, { name: 'iris' });
    // Break the registered copy's example after registration, as a model that fails at load would.
    await writeFile(
      join(root, 'registry', 'models', 'iris', 'versions', v.version, 'artifacts', 'serving_input_example.json'),
      '{"inputs": [[1, 2]]}',
    );
    await registry.setAlias('iris', 'champion', '1');
    const s = await serve({});
    await registry.setAlias('iris', 'champion', v.version);
    await s.router.refresh();
    const r = await invoke(s.port);
    expect(r.status).toBe(200);
    expect(r.version).toBe('1');
    const ready = (await (await fetch(`http://127.0.0.1:${s.port}/ready`)).json()) as { ready: boolean; error?: string };
    expect(ready.ready).toBe(true);
    expect(ready.error).toMatch(new RegExp(`version ${v.version}`));
    const metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
    expect(metrics).toContain('modelgate_model_switches_total{route="primary",outcome="failure"} 1');
    await s.close();
  }, 60_000);

  it('mirrors requests to a shadow without changing the answers', async () => {
    await registry.setAlias('iris', 'champion', '1');
    const s = await serve({ shadowUri: 'models:/iris/3', shadowPercent: 50 });
    for (let i = 0; i < 200; i++) expect((await invoke(s.port)).version).toBe('1');
    // Mirrored requests finish after the answers: count them once the count has reached the range.
    let metrics = '';
    const shadowed = async () => {
      metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
      return Number(/modelgate_shadow_requests_total\{model="iris",version="3",outcome="success"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    const deadline = Date.now() + 10_000;
    while ((await shadowed()) <= 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const n = await shadowed();
    expect(n).toBeGreaterThan(60);
    expect(n).toBeLessThan(140);
    expect(metrics).toMatch(/modelgate_shadow_duration_seconds_count\{model="iris",version="3"\} \d+/);
    await s.close();
  }, 60_000);
});

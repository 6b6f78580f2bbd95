/**
 * Drift end to end: iris registered in a real local registry with its training data as the
 * reference (a CSV file), served on 127.0.0.1, and traffic drawn from that data, then with one
 * feature shifted; the gauges on /metrics tell which.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServeOptions, resolveServeConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import { PROFILE_FILE } from '../../src/monitor/drift/profile.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { IRIS_FEATURE_NAMES, IRIS_FEATURES } from '../../tools/iris/iris-data.js';

const WINDOW = 400;
let root: string;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-drift-'));
  const csv = [IRIS_FEATURE_NAMES.join(','), ...IRIS_FEATURES.map((r) => r.join(','))].join('\n');
  await writeFile(join(root, 'iris.csv'), `${csv}\n`);
  await cp('examples/iris', join(root, 'iris'), { recursive: true });
  const registry = openRegistry(join(root, 'registry'));
  await registry.register(join(root, 'iris'), { name: 'iris', reference: join(root, 'iris.csv') });
  await registry.register(join(root, 'iris'), { name: 'iris-plain' });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function serve(modelUri: string, extra: ServeOptions = {}): Promise<RunningServer> {
  const config = resolveServeConfig({
    modelUri,
    registryUri: join(root, 'registry'),
    port: 0,
    drainSeconds: 1,
    shutdownGraceSeconds: 0,
    driftWindow: WINDOW,
    ...extra,
  });
  const s = await startServer(config, silentLogger());
  await s.loaded;
  return s;
}

/** `rows` rows from iris (drawn with replacement, petal_length + shift) in requests of 10. */
async function send(port: number, rows: number, shift: number, draw: () => number): Promise<void> {
  for (let sent = 0; sent < rows; sent += 10) {
    const batch = Array.from({ length: 10 }, () => {
      const r = [...IRIS_FEATURES[Math.floor(draw() * IRIS_FEATURES.length)]];
      r[2] += shift;
      return r;
    });
    const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: batch }),
    });
    expect(res.status).toBe(200);
    await res.text();
  }
}

async function gauges(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^modelgate_drift\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out[`${labels.feature}/${labels.stat}`] = Number(m[2]);
  }
  return out;
}

/**
 * The monitor handles rows after the answers, and /metrics renders at most every 500 ms (scrapes
 * within that share one text): wait past both.
 */
const settle = () => new Promise((r) => setTimeout(r, 700));

describe('drift against the reference given at registration', () => {
  it('stores the profile with the version, under its digests', async () => {
    const registry = openRegistry(join(root, 'registry'));
    const v = await registry.resolve('models:/iris/1');
    const m = await registry.materialize(v);
    expect(m.files.map((f) => f.path)).toContain(PROFILE_FILE);
    const profile = JSON.parse(await readFile(join(m.dir, PROFILE_FILE), 'utf8')) as { rows: number; features: { name: string }[] };
    expect(profile.rows).toBe(150);
    expect(profile.features.map((f) => f.name)).toEqual([...IRIS_FEATURE_NAMES]);
    // An edited profile is an edited version: it no longer loads.
    await writeFile(join(m.dir, PROFILE_FILE), JSON.stringify({ ...profile, rows: 1 }));
    await expect(registry.materialize(v)).rejects.toThrow(/no longer match the digests/);
  });

  it('keeps PSI under 0.1 for traffic from the reference distribution, and a shifted feature passes 0.25 within one window', async () => {
    // The version above was edited on purpose: register a fresh one to serve.
    const registry = openRegistry(join(root, 'registry'));
    const v = await registry.register(join(root, 'iris'), { name: 'iris', reference: join(root, 'iris.csv') });
    const s = await serve(`models:/iris/${v.version}`);
    try {
      const draw = rng(7);
      await send(s.port, WINDOW, 0, draw);
      await settle();
      const same = await gauges(s.port);
      for (const f of IRIS_FEATURE_NAMES) {
        expect(same[`${f}/psi`], f).toBeLessThan(0.1);
        expect(same[`${f}/js`], f).toBeLessThan(0.2);
        expect(same[`${f}/ks`], f).toBeLessThan(0.1);
      }
      await send(s.port, WINDOW, 1.5, draw);
      await settle();
      const shifted = await gauges(s.port);
      expect(shifted['petal_length/psi']).toBeGreaterThan(0.25);
      expect(shifted['sepal_length/psi']).toBeLessThan(0.1);
      const ready = (await (await fetch(`http://127.0.0.1:${s.port}/ready`)).json()) as {
        monitoring: { drift: { state: string; drift: { feature: string; psi: number }[] }[] };
      };
      expect(ready.monitoring.drift[0].state).toBe('window');
    } finally {
      await s.close();
    }
  });
});

describe('drift without a reference', () => {
  it('is off, or builds its baseline from the first N requests', async () => {
    const off = await serve('models:/iris-plain/1');
    try {
      await send(off.port, 100, 0, rng(1));
      await settle();
      expect(await gauges(off.port)).toEqual({});
    } finally {
      await off.close();
    }
    const s = await serve('models:/iris-plain/1', { driftBaselineRequests: 30 });
    try {
      const draw = rng(2);
      await send(s.port, 300, 0, draw);
      await send(s.port, WINDOW, 0, draw);
      await settle();
      const g = await gauges(s.port);
      // Tensor rows have no names: the features are the input's positions and the prediction's fields.
      expect(Object.keys(g)).toContain('input[2]/psi');
      expect(Object.keys(g)).toContain('prediction.label/psi');
      expect(g['input[2]/psi']).toBeLessThan(0.1);
    } finally {
      await s.close();
    }
  });
});

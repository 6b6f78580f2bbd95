import { describe, expect, it } from 'vitest';
import type { ModelRef } from '../../src/model/ref.js';
import type { ServableModel } from '../../src/core/servable.js';
import { createMetrics } from '../../src/core/metrics.js';
import { ModelRouter, PIN_HEADER, type RoutesConfig, stickyBucket } from '../../src/core/routing/router.js';
import type { ModelSource } from '../../src/core/routing/source.js';
import { silentLogger } from '../../src/util/log.js';
import { fakeServable } from '../fixtures/fake-flavors.js';

/** A registry in memory: URI → version, with controllable load failures and a log of unloads. */
class FakeSource implements ModelSource {
  readonly pointers = new Map<string, string>();
  readonly failing = new Set<string>();
  readonly unloaded: string[] = [];
  loads = 0;

  constructor(pointers: Record<string, string>) {
    for (const [k, v] of Object.entries(pointers)) this.pointers.set(k, v);
  }
  async resolve(uri: string): Promise<ModelRef> {
    const v = this.pointers.get(uri);
    if (v === undefined) throw new Error(`unknown ${uri}`);
    return { name: 'm', version: v };
  }
  async load(_uri: string, ref: ModelRef): Promise<ServableModel> {
    this.loads++;
    if (this.failing.has(ref.version)) throw new Error(`version ${ref.version} does not score its example`);
    const s = await fakeServable({ kind: 'echo' });
    const unload = async () => {
      this.unloaded.push(ref.version);
    };
    return { ...s, ref, model: { ...s.model, unload } };
  }
  follows(uri: string): boolean {
    return uri.includes('@');
  }
  async setAlias(uri: string, version: string): Promise<void> {
    this.pointers.set(uri, version);
  }
}

const none = () => undefined;
const headers = (h: Record<string, string>) => (name: string) => h[name];

async function router(
  config: Partial<RoutesConfig>,
  pointers: Record<string, string> = { 'models:/m@champion': '1', 'models:/m@challenger': '2' },
) {
  const source = new FakeSource(pointers);
  const metrics = createMetrics({ processMetrics: false });
  const r = new ModelRouter({ primary: 'models:/m@champion', pollSeconds: 0, ...config }, source, silentLogger(), metrics);
  await r.start();
  return { r, source, metrics };
}

function routeOf(r: ModelRouter, h: (n: string) => string | undefined = none): string {
  const lease = r.acquire(h);
  if (lease === undefined) throw new Error('no model');
  lease.release();
  return lease.servable.ref.version;
}

describe('ModelRouter', () => {
  it('is not ready before start and serves the primary alone without a canary', async () => {
    const source = new FakeSource({ 'models:/m@champion': '1' });
    const r = new ModelRouter({ primary: 'models:/m@champion', pollSeconds: 0 }, source, silentLogger());
    expect(r.isReady()).toBe(false);
    expect(r.acquire(none)).toBeUndefined();
    await r.start();
    expect(r.isReady()).toBe(true);
    expect(routeOf(r)).toBe('1');
  });

  it('splits traffic by weight within ±2 percentage points over 20,000 requests', async () => {
    for (const weight of [0, 10, 37.5, 100]) {
      const { r } = await router({ canary: 'models:/m@challenger', canaryWeight: weight });
      let canary = 0;
      for (let i = 0; i < 20_000; i++) if (routeOf(r) === '2') canary++;
      expect(Math.abs((canary / 20_000) * 100 - weight), `weight ${weight}`).toBeLessThanOrEqual(2);
    }
  });

  it('keeps a routing key on one side while the weight is unchanged, and moves keys only one way as it grows', async () => {
    const { r } = await router({ canary: 'models:/m@challenger', canaryWeight: 30, stickyHeader: 'X-User-Id' });
    const first = new Map<string, string>();
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < 500; k++) {
        const v = routeOf(r, headers({ 'x-user-id': `user-${k}` }));
        expect(first.get(`user-${k}`) ?? v).toBe(v);
        first.set(`user-${k}`, v);
      }
    }
    const share = [...first.values()].filter((v) => v === '2').length / first.size;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
    r.setWeight(60);
    for (const [key, before] of first) {
      const after = routeOf(r, headers({ 'x-user-id': key }));
      if (before === '2') expect(after).toBe('2'); // a canary user stays on the canary as it grows
    }
    expect(stickyBucket('abc')).toBe(stickyBucket('abc'));
  });

  it('pins a request to a route or a version with the pin header', async () => {
    const { r } = await router({ canary: 'models:/m@challenger', canaryWeight: 0 });
    expect(routeOf(r, headers({ [PIN_HEADER]: 'canary' }))).toBe('2');
    expect(routeOf(r, headers({ [PIN_HEADER]: 'primary' }))).toBe('1');
    expect(routeOf(r, headers({ [PIN_HEADER]: '2' }))).toBe('2');
    expect(() => r.acquire(headers({ [PIN_HEADER]: '9' }))).toThrow(/matches no route/);
    const lone = await router({});
    expect(() => lone.r.acquire(headers({ [PIN_HEADER]: 'canary' }))).toThrow(/no canary/);
  });

  it('switches when the alias moves: new requests get the new version, the old one unloads after its last request', async () => {
    const { r, source, metrics } = await router({});
    const held = r.acquire(none);
    source.pointers.set('models:/m@champion', '5');
    await r.refresh();
    expect(routeOf(r)).toBe('5');
    expect(held?.servable.ref.version).toBe('1');
    expect(source.unloaded).toEqual([]); // still in use
    expect(r.routes().slots[0]).toMatchObject({ version: '5', switches: 1, draining: 1 });
    held?.release();
    await new Promise((res) => setImmediate(res));
    expect(source.unloaded).toEqual(['1']);
    expect(await metrics.registry.getSingleMetricAsString('modelgate_model_switches_total')).toContain(
      'modelgate_model_switches_total{route="primary",outcome="success"} 1',
    );
  });

  it('keeps serving the old version when the new one fails to load, and reports it', async () => {
    const { r, source, metrics } = await router({});
    source.failing.add('6');
    source.pointers.set('models:/m@champion', '6');
    await r.refresh();
    expect(routeOf(r)).toBe('1');
    expect(r.isReady()).toBe(true);
    const slot = r.routes().slots[0];
    expect(slot).toMatchObject({ version: '1', failedSwitches: 1 });
    expect(slot.lastError).toContain('does not score its example');
    expect(r.status().error).toContain('does not score its example');
    expect(await metrics.registry.getSingleMetricAsString('modelgate_model_switches_total')).toContain('outcome="failure"} 1');
    // Once the registry points at a good version again, the error clears.
    source.pointers.set('models:/m@champion', '7');
    await r.refresh();
    expect(r.routes().slots[0].lastError).toBeUndefined();
  });

  it('folds a burst of alias moves into one more look and ends on the last version', async () => {
    const { r, source } = await router({});
    const loadsBefore = source.loads;
    const passes = [];
    for (let v = 10; v < 20; v++) {
      source.pointers.set('models:/m@champion', String(v));
      passes.push(r.refresh());
    }
    await Promise.all(passes);
    expect(routeOf(r)).toBe('19');
    expect(source.loads - loadsBefore).toBeLessThanOrEqual(2);
  });

  it('refuses to start if the primary or canary cannot load, but drops a failing shadow', async () => {
    const source = new FakeSource({ 'models:/m@champion': '1', 'models:/m@challenger': '2', 'models:/m@shadow': '3' });
    source.failing.add('2');
    const bad = new ModelRouter({ primary: 'models:/m@champion', canary: 'models:/m@challenger', pollSeconds: 0 }, source, silentLogger());
    await expect(bad.start()).rejects.toThrow(/does not score/);
    expect(bad.status().state).toBe('failed');
    source.failing.clear();
    source.failing.add('3');
    const ok = new ModelRouter(
      { primary: 'models:/m@champion', shadow: 'models:/m@shadow', shadowPercent: 100, pollSeconds: 0 },
      source,
      silentLogger(),
    );
    await ok.start();
    expect(ok.isReady()).toBe(true);
    expect(ok.shadow()).toBeUndefined();
  });

  it('promotes the canary by moving the primary alias, and rolls back', async () => {
    const { r, source } = await router({ canary: 'models:/m@challenger', canaryWeight: 40 });
    const p = await r.promote();
    expect(p).toMatchObject({ alias: 'champion', from: '1', to: '2' });
    expect(source.pointers.get('models:/m@champion')).toBe('2');
    expect(routeOf(r, headers({ [PIN_HEADER]: 'primary' }))).toBe('2');
    expect(r.routes().weight).toBe(0);
    const back = await r.rollback();
    expect(back.undid).toEqual(p);
    expect(source.pointers.get('models:/m@champion')).toBe('1');
    expect(routeOf(r)).toBe('1');
    const pinnedSource = new FakeSource({ 'models:/m/1': '1', 'models:/m@challenger': '2' });
    const fixed = new ModelRouter({ primary: 'models:/m/1', canary: 'models:/m@challenger', pollSeconds: 0 }, pinnedSource, silentLogger());
    await fixed.start();
    await expect(fixed.promote()).rejects.toMatchObject({ status: 409 });
  });

  it('loads a version once however many routes serve it, and unloads it when the last lets go', async () => {
    const { r, source } = await router({ canary: 'models:/m@challenger', canaryWeight: 40 });
    expect(source.loads).toBe(2);
    await r.promote(); // primary and canary now both serve version 2
    expect(source.loads).toBe(2);
    expect(r.routes().slots.map((s) => s.version)).toEqual(['2', '2']);
    expect(source.unloaded).toEqual(['1']);
    source.pointers.set('models:/m@challenger', '3');
    await r.refresh();
    expect(source.loads).toBe(3);
    expect(source.unloaded).toEqual(['1']); // the primary still holds 2
    source.pointers.set('models:/m@champion', '3');
    await r.refresh();
    expect(source.loads).toBe(3);
    expect(source.unloaded).toEqual(['1', '2']);
    expect(routeOf(r, headers({ [PIN_HEADER]: 'primary' }))).toBe('3');
    await r.close();
    expect(source.unloaded).toEqual(['1', '2', '3']);
  });

  it('mirrors the configured share of requests to the shadow and drops what would queue', async () => {
    const { r } = await router({ shadow: 'models:/m@shadow', shadowPercent: 25 }, { 'models:/m@champion': '1', 'models:/m@shadow': '3' });
    let n = 0;
    for (let i = 0; i < 8000; i++) {
      const lease = r.shadow();
      if (lease) {
        n++;
        lease.release();
      }
    }
    expect(Math.abs(n / 8000 - 0.25)).toBeLessThan(0.02);
    const all = await router({ shadow: 'models:/m@shadow', shadowPercent: 100 }, { 'models:/m@champion': '1', 'models:/m@shadow': '3' });
    const held = Array.from({ length: 20 }, () => all.r.shadow());
    expect(held.filter(Boolean)).toHaveLength(16);
    for (const l of held) l?.release();
    expect(await all.metrics.registry.getSingleMetricAsString('modelgate_shadow_requests_total')).toContain('outcome="dropped"} 4');
  });

  it('validates weights', async () => {
    const { r } = await router({ canary: 'models:/m@challenger' });
    expect(() => r.setWeight(101)).toThrow(/between 0 and 100/);
    expect(() => r.setWeight(-1)).toThrow(/between 0 and 100/);
    const lone = await router({});
    expect(() => lone.r.setWeight(5)).toThrow(/No canary/);
  });
});

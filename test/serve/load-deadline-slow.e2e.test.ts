/**
 * A version whose load never finishes: registration fails at the load deadline, a switch to it
 * is a failed switch (logged once, counted, shown in /ready), and later alias moves are still
 * followed. Registry lookups that fail are logged once and are not failed switches.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { IRIS } from '../fixtures/cli.js';
import { jsModel as jsModelAt } from '../fixtures/js-model.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-load-deadline-');
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});
afterAll(() => temps.removeAll());

/** JS models: one that answers, one whose load never settles, one stuck in a synchronous loop. */
const GOOD = 'export function load() { return { predict: (rows) => rows.map((r) => r.x * 2) }; }';
const NEVER = 'export function load() { return new Promise(() => {}); }';
const SPIN = 'export function load() { for (;;); }';

const jsModel = (code: string) => jsModelAt(temps, code);

const waitFor = async (what: string, ok: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('loads that never finish', () => {
  it('fails registration at the load deadline, for a load that never settles and one that spins, and registers nothing', async () => {
    const root = await temps.make();
    const registry = openRegistry(join(root, 'registry'));
    for (const code of [NEVER, SPIN]) {
      const started = Date.now();
      await expect(registry.register(await jsModel(code), { name: 'm', loadTimeoutMs: 500 })).rejects.toThrow(
        /was not registered: Loading m version staged did not finish within 0.5 s/,
      );
      expect(Date.now() - started).toBeLessThan(3000);
    }
    await expect(registry.listModels()).resolves.toEqual([]);
  });

  it('counts a switch to such a version as failed, shows it, and still follows the next alias move', async () => {
    const root = await temps.make();
    const registryUri = join(root, 'registry');
    const registry = openRegistry(registryUri);
    await registry.register(await jsModel(GOOD), { name: 'm', alias: 'champion' });
    await registry.register(await jsModel(NEVER), { name: 'm', skipValidation: true });
    await registry.register(await jsModel(GOOD), { name: 'm' });
    const { logger, lines } = captureLogger('info');
    const s: RunningServer = await startServer(
      resolveServeConfig({
        modelUri: 'models:/m@champion',
        registryUri,
        port: 0,
        pollSeconds: 0.2,
        loadTimeoutSeconds: 1,
        shutdownGraceSeconds: 0,
      }),
      logger,
    );
    cleanup.push(() => s.close());
    await s.loaded;
    const base = `http://127.0.0.1:${s.port}`;
    const version = async () =>
      (
        await fetch(`${base}/invocations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"dataframe_records": [{"x": 1}]}',
        })
      ).headers.get('x-model-version');
    await registry.setAlias('m', 'champion', '2');
    await waitFor('the failed switch', async () => (await (await fetch(`${base}/metrics`)).text()).includes('outcome="failure"} 1'));
    expect(await version()).toBe('1');
    const ready = (await (await fetch(`${base}/ready`)).json()) as { routes: { slots: { lastError?: string; failedSwitches: number }[] } };
    expect(ready.routes.slots[0].lastError).toContain('did not finish within 1 s');
    expect(ready.routes.slots[0].failedSwitches).toBe(1);
    const failure = lines().filter((l) => String(l.msg).includes('cannot switch primary to m version 2'));
    expect(failure).toHaveLength(1);
    // The cause is in `err` once, not repeated in the message.
    expect(String(failure[0].msg)).not.toContain('did not finish');
    expect((failure[0].err as { message: string }).message).toBe('Loading m version 2 did not finish within 1 s.');

    await registry.setAlias('m', 'champion', '3');
    await waitFor('the switch to version 3', async () => (await version()) === '3');
  });

  it('logs a registry lookup that keeps failing once, and does not count it as a failed switch', async () => {
    const root = await temps.make();
    const registryUri = join(root, 'registry');
    const registry = openRegistry(registryUri);
    await registry.register(IRIS, { name: 'iris', alias: 'champion' });
    const { logger, lines } = captureLogger('info');
    const s = await startServer(
      resolveServeConfig({ modelUri: 'models:/iris@champion', registryUri, port: 0, pollSeconds: 0.1, shutdownGraceSeconds: 0 }),
      logger,
    );
    cleanup.push(() => s.close());
    await s.loaded;
    await registry.deleteAlias('iris', 'champion');
    const cannotResolve = () => lines().filter((l) => String(l.msg).startsWith('cannot resolve models:/iris@champion'));
    await waitFor('the first failed lookup to be logged', async () => cannotResolve().length > 0);
    // Logged once: give it several more failing polls (0.1 s apart) in which to log again.
    await new Promise((r) => setTimeout(r, 500));
    const warned = cannotResolve();
    expect(warned).toHaveLength(1);
    expect(warned[0].level).toBe(40);
    expect(warned[0].err).toBeUndefined();
    const routes = s.router.routes().slots[0];
    expect(routes.failedSwitches).toBe(0);
    expect(routes.registryError).toContain('alias champion not found');
    expect(await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text()).not.toContain('outcome="failure"');
  });
});

/**
 * SIGTERM during a load run: readiness turns 503 at once, requests keep being served through the
 * grace period, the listener then closes, and no request fails. The load generator behaves like a
 * load balancer: it polls /ready and stops sending new requests once it says 503, as Kubernetes
 * takes a pod out of its Service's endpoints (the grace period is there for that delay).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { IRIS, killAll, requireBuiltCli, sleep, startCliServer, waitReady } from '../fixtures/cli.js';

afterAll(() => killAll());

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

function errorCode(err: unknown): string {
  const e = err as { cause?: { code?: string }; code?: string };
  return e.cause?.code ?? e.code ?? String(err);
}

describe('graceful shutdown', () => {
  it('drains under load with zero failed accepted requests and exits 0', async () => {
    requireBuiltCli();
    const s = startCliServer(['serve', '-m', IRIS, '-p', '0'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '1' },
    });
    await waitReady(s);
    const statuses = new Map<number, number>();
    const errors = new Map<string, number>();
    let stop = false;
    let routable = true;
    const poller = (async () => {
      while (!stop && routable) {
        routable = await fetch(`${s.base}/ready`).then(
          (r) => r.status === 200,
          () => false,
        );
        await sleep(100);
      }
    })();
    const worker = async () => {
      while (!stop && routable) {
        try {
          const res = await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
          await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        } catch (err) {
          const code = errorCode(err);
          errors.set(code, (errors.get(code) ?? 0) + 1);
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await sleep(1000);
    const before = statuses.get(200) ?? 0;
    s.child.kill('SIGTERM');
    await sleep(100);
    const ready = await fetch(`${s.base}/ready`).then((r) => r.status);
    const exit = await s.done;
    stop = true;
    await Promise.all([...workers, poller]);

    expect(ready).toBe(503);
    expect(exit.code, s.output()).toBe(0);
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(before); // served during the grace period too
    expect(Object.fromEntries(errors)).toEqual({});
  }, 60_000);

  it('loses no accepted request of keep-alive clients that keep sending through SIGTERM', async () => {
    const s = startCliServer(['serve', '-m', IRIS, '-p', '0'], {
      env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '1' },
    });
    await waitReady(s);
    const statuses = new Map<number, number>();
    const errors = new Map<string, number>();
    let exited = false;
    // Unlike a load balancer these clients never look at /ready: they send until the port is gone.
    const worker = async () => {
      while (!exited) {
        try {
          const res = await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
          await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        } catch (err) {
          const code = errorCode(err);
          errors.set(code, (errors.get(code) ?? 0) + 1);
          if (code === 'ECONNREFUSED') await sleep(20);
        }
      }
    };
    const workers = Array.from({ length: 32 }, worker);
    await sleep(800);
    s.child.kill('SIGTERM');
    const exit = await s.done;
    exited = true;
    await Promise.all(workers);
    expect(exit.code, s.output()).toBe(0);
    expect([...statuses.keys()]).toEqual([200]);
    // Refused connections were never accepted; anything else (a reset, a hang-up) lost a request.
    errors.delete('ECONNREFUSED');
    expect(Object.fromEntries(errors)).toEqual({});
  }, 60_000);

  it.each(['SIGHUP', 'SIGUSR2', 'SIGINT'] as const)(
    'drains on %s like SIGTERM and exits 0',
    async (signal) => {
      const s = startCliServer(['serve', '-m', IRIS, '-p', '0'], {
        env: { MODELGATE_SHUTDOWN_GRACE_SECONDS: '0.5' },
      });
      await waitReady(s);
      s.child.kill(signal);
      await sleep(100);
      // Still answering in the grace period, with readiness already off.
      expect((await fetch(`${s.base}/ready`)).status).toBe(503);
      expect(
        (await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })).status,
      ).toBe(200);
      const exit = await s.done;
      expect(exit.code, s.output()).toBe(0);
      expect(exit.signal).toBeNull();
      expect(s.output()).toContain(`"signal":"${signal}"`);
    },
    30_000,
  );
});

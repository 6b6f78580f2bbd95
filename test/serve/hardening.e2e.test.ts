/**
 * Limits, overload, timeouts, slow clients, authentication and logging, each provoked for real
 * over HTTP on 127.0.0.1. In the e2e tier: most are slow on purpose (trickling clients, timeouts).
 */
import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { type AppOptions, createApp } from '../../src/http/app.js';
import { score } from '../../src/core/scoring.js';
import { createMetrics } from '../../src/core/metrics.js';
import { SingleModelHost } from '../../src/core/model-host.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { type Logger, silentLogger } from '../../src/util/log.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { type FakeBehaviour, fakeServable } from '../fixtures/fake-flavors.js';

const TENSOR_SIG = { inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]' };
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

/** A real HTTP server around an app with a fake model (slow, failing, …). */
async function appServer(behaviour: FakeBehaviour, options: AppOptions = {}, logger: Logger = silentLogger()) {
  const metrics = createMetrics({ processMetrics: false });
  const host = new SingleModelHost(metrics);
  host.setReady(await fakeServable(behaviour, TENSOR_SIG));
  const app = createApp({ host, metrics, logger, options });
  const server = await new Promise<Server>((r) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => r(s as Server));
  });
  const port = (server.address() as AddressInfo).port;
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port, base: `http://127.0.0.1:${port}`, metrics };
}

/** The real server on the bundled iris model. */
async function irisServer(extra: Parameters<typeof resolveServeConfig>[0] = {}): Promise<RunningServer & { base: string }> {
  const s = await startServer(
    resolveServeConfig({ modelUri: 'examples/iris', port: 0, shutdownGraceSeconds: 0, ...extra }),
    silentLogger(),
  );
  await s.loaded;
  cleanup.push(() => s.close());
  return Object.assign(s, { base: `http://127.0.0.1:${s.port}` });
}

const post = (base: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** Sends raw bytes on a new connection and resolves with everything the server sent back before closing. */
function raw(port: number, chunks: (string | { wait: number })[], readFor = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      resolve({ text, closed });
    });
    void (async () => {
      for (const c of chunks) {
        if (typeof c === 'string') sock.write(c);
        else await new Promise((r) => setTimeout(r, c.wait));
        if (sock.destroyed) return;
      }
      setTimeout(() => {
        sock.destroy();
        resolve({ text, closed });
      }, readFor);
    })();
  });
}

describe('limits', () => {
  it('answers 413 to a declared oversized body without waiting for it, and closes the connection', async () => {
    const s = await irisServer({ maxBodyBytes: 1000 });
    const started = Date.now();
    const r = await raw(
      s.port,
      ['POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"inputs": ['],
      2000,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 413/);
    expect(r.text).toContain('"error_code": "REQUEST_LIMIT_EXCEEDED"');
    expect(r.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('stops reading a chunked body as soon as it passes the limit', async () => {
    const s = await irisServer({ maxBodyBytes: 1000 });
    const chunk = `${(600).toString(16)}\r\n${'1'.repeat(600)}\r\n`;
    const r = await raw(
      s.port,
      [
        'POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        chunk,
        chunk,
        chunk,
      ],
      1500,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 413/);
  });

  it('refuses too many rows and too deep nesting with 400', async () => {
    const s = await irisServer({ maxRows: 10, maxJsonDepth: 8 });
    const rows = (n: number) => JSON.stringify({ inputs: Array.from({ length: n }, () => [5.1, 3.5, 1.4, 0.2]) });
    expect((await post(s.base, rows(10))).status).toBe(200);
    const many = await post(s.base, rows(11));
    expect(many.status).toBe(400);
    expect(((await many.json()) as { message: string }).message).toContain('11 rows; the limit is 10');
    const deep = await post(s.base, `{"inputs": ${'['.repeat(20)}1${']'.repeat(20)}}`);
    expect(deep.status).toBe(400);
    expect(((await deep.json()) as { message: string }).message).toContain('nested deeper than 8');
    // Deeper than the stack can take is still a 400, not a crash.
    const s2 = await irisServer({ maxJsonDepth: 1_000_000 });
    const abyss = await post(s2.base, `{"inputs": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    expect(abyss.status).toBe(400);
    expect((await post(s2.base, rows(1))).status).toBe(200);
  });
});

describe('overload and timeouts', () => {
  it('answers 503 with Retry-After past the in-flight bound instead of queueing', async () => {
    const s = await appServer({ kind: 'slow', ms: 600 }, { maxInFlight: 2 });
    // Two inferences in progress hold both slots.
    const holders = [0, 1].map(() => post(s.base, '{"inputs": [[1, 2]]}'));
    await new Promise((r) => setTimeout(r, 200));
    const res = await post(s.base, '{"inputs": [[1, 2]]}');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });
    expect((await Promise.all(holders)).map((r) => r.status)).toEqual([200, 200]);
    expect((await post(s.base, '{"inputs": [[1, 2]]}')).status).toBe(200);
  });

  it('logs overload 503s quietly, without a stack, so a flood of them cannot flood the log', async () => {
    const { logger, lines } = captureLogger('debug');
    const s = await appServer({ kind: 'slow', ms: 400 }, { maxInFlight: 1 }, logger);
    const holder = post(s.base, '{"inputs": [[1, 2]]}');
    await new Promise((r) => setTimeout(r, 100));
    const statuses = await Promise.all(Array.from({ length: 5 }, () => post(s.base, '{"inputs": [[1, 2]]}').then((r) => r.status)));
    expect(statuses).toEqual([503, 503, 503, 503, 503]);
    await holder;
    const overload = lines().filter((l) => l.code === 'TEMPORARILY_UNAVAILABLE');
    expect(overload).toHaveLength(5);
    for (const l of overload) {
      expect(l.level).toBe(20);
      expect(l.err).toBeUndefined();
    }
  });

  it('answers 504 DEADLINE_EXCEEDED as JSON when the model takes longer than the timeout, and counts it', async () => {
    const s = await appServer({ kind: 'slow', ms: 800 }, { requestTimeoutMs: 200 });
    const started = Date.now();
    const res = await post(s.base, '{"inputs": [[1, 2]]}');
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error_code: 'DEADLINE_EXCEEDED' });
    expect(Date.now() - started).toBeLessThan(700);
    const text = await s.metrics.registry.metrics();
    expect(text).toContain('modelgate_errors_total{error_code="DEADLINE_EXCEEDED"} 1');
  });

  it('does not start work whose deadline has passed', async () => {
    let calls = 0;
    const s = await fakeServable({ kind: 'echo' }, TENSOR_SIG);
    const counting = {
      ...s,
      model: { ...s.model, predict: async (...a: Parameters<typeof s.model.predict>) => (calls++, s.model.predict(...a)) },
    };
    const input = { kind: 'tensor' as const, value: { dtype: 'float32' as const, shape: [1, 2], data: new Float32Array([1, 2]) } };
    const request = { input, params: undefined, unwrapped: false };
    await expect(score(counting, request, { deadline: performance.now() - 1 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(calls).toBe(0);
  });

  it('closes a connection whose headers trickle in slower than the header timeout', async () => {
    const s = await irisServer({ headersTimeoutSeconds: 1 });
    const started = Date.now();
    const drip = Array.from({ length: 40 }, (_, i) => [
      i === 0 ? 'POST /invocations HTTP/1.1\r\n' : `X-Pad-${i}: y\r\n`,
      { wait: 100 },
    ]).flat();
    const r = await raw(s.port, drip as (string | { wait: number })[], 500);
    expect(r.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(3500);
    expect((await post(s.base, '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}')).status).toBe(200);
  });
});

describe('authentication', () => {
  it('requires a bearer token on /invocations when tokens are set, and leaves health and metrics open by default', async () => {
    const s = await irisServer({ authTokens: ['alpha', 'beta'] });
    const none = await post(s.base, '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(await none.json()).toMatchObject({ error_code: 'UNAUTHENTICATED' });
    expect((await post(s.base, '{}', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(s.base, '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}', { authorization: 'Bearer beta' })).status).toBe(200);
    expect((await fetch(`${s.base}/ping`)).status).toBe(200);
    expect((await fetch(`${s.base}/metrics`)).status).toBe(200);
  });

  it('protects health and metrics when asked to', async () => {
    const s = await irisServer({ authTokens: ['alpha'], authProtectHealth: true, authProtectMetrics: true });
    for (const path of ['/ping', '/health', '/ready', '/livez', '/version', '/metrics', '/v2/health/live']) {
      expect((await fetch(`${s.base}${path}`)).status, path).toBe(401);
      expect((await fetch(`${s.base}${path}`, { headers: { authorization: 'Bearer alpha' } })).status, path).toBe(200);
    }
  });
});

describe('logging', () => {
  it('logs one JSON line per request with its request id, and never the body', async () => {
    const { logger, lines } = captureLogger();
    const s = await appServer({ kind: 'throw', message: 'kaboom' }, { accessLog: true }, logger);
    await post(s.base, '{"inputs": [[1, 2]], "secret": "do-not-log-me"}', { 'x-request-id': 'req-42' });
    await post(s.base, '{"inputs": [[1, "do-not-log-me-either"]]}', { 'x-request-id': 'req-43' });
    const all = lines();
    expect(all.some((l) => l.msg === 'request' && l.requestId === 'req-42' && l.status === 500)).toBe(true);
    expect(all.some((l) => l.msg === 'request' && l.requestId === 'req-43' && l.status === 400)).toBe(true);
    expect(all.some((l) => l.requestId === 'req-42' && JSON.stringify(l).includes('kaboom'))).toBe(true);
    expect(JSON.stringify(all)).not.toContain('do-not-log-me');
  });
});

/**
 * The inference log end to end: the real server on 127.0.0.1 with the iris ONNX model, JSON-lines
 * files on disk, and real HTTP receivers for the CloudEvents sink (one that answers, one that is
 * slow, and a port where nothing listens). In the e2e tier: the slow and dead sinks are slow on purpose.
 */
import { once } from 'node:events';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeOptions } from '../../src/config/index.js';
import { FileSink } from '../../src/monitor/log/file-sink.js';
import type { LoggedInference } from '../../src/monitor/log/record.js';
import type { RunningServer } from '../../src/server/server.js';
import { built, serveModelDir } from '../fixtures/serve-dir.js';

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}';
let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-log-'));
  modelDir = join(root, 'iris');
  await cp('examples/iris', modelDir, { recursive: true });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function invoke(port: number, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY,
  });
  await res.text();
  return { status: res.status, ms: performance.now() - started, id: res.headers.get('x-request-id') };
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A log receiver on 127.0.0.1 answering after `delayMs`. */
async function receiver(delayMs = 0): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      got.push({ headers: req.headers, body });
      setTimeout(() => res.writeHead(202).end(), delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, got };
}

const stop = (server: Server) => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));

async function until<T>(what: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = what();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const metric = async (port: number, re: RegExp) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The same server from the sources, where the log writes on the event loop (the thread's script
 * is not compiled there), and from the built package, where it writes from its own thread.
 */
const MODES = [
  { where: 'on the event loop', server: () => Promise.resolve(undefined), thread: false },
  { where: 'in its own thread', server: built, thread: true },
];

describe.each(MODES)('the inference log $where', ({ where, server, thread }) => {
  let from: Awaited<ReturnType<typeof built>> | undefined;
  beforeAll(async () => {
    from = await server();
  });
  const serve = (extra: ServeOptions): Promise<RunningServer> => serveModelDir(modelDir, root, extra, from);

  describe('to JSON-lines files', () => {
    it('writes one line per input row with the request facts, the decoded row and its prediction, redacted', async () => {
      const dir = join(root, where, 'log-files');
      const s = await serve({ logRequests: 100, logDir: dir, logRedact: ['probabilities'] });
      try {
        const answers = [];
        for (let i = 0; i < 10; i++) answers.push(await invoke(s.port, i === 0 ? { 'x-request-id': 'given-id-1' } : {}));
        expect(answers.every((a) => a.status === 200)).toBe(true);
        expect(answers[0].id).toBe('given-id-1');
        // Without an id of the caller's, a logged request gets one, and the answer says which.
        expect(answers[1].id).toMatch(/^[0-9a-f-]{36}$/);
      } finally {
        await s.close();
      }
      const files = await readdir(dir);
      expect(files.length).toBe(1);
      expect(files[0]).toMatch(/^inference-\d{8}T\d{6}Z-\d+-0001\.jsonl$/);
      const lines = (await readFile(join(dir, files[0]), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(20);
      const first = lines.filter((l) => l.id === 'given-id-1');
      expect(first.map((l) => l.row)).toEqual([0, 1]);
      expect(first[0]).toMatchObject({ model: 'iris', route: 'primary', status: 200, rows: 2, input: [5.1, 3.5, 1.4, 0.2] });
      expect(first[1].input).toEqual([6.7, 3.0, 5.2, 2.3]);
      // `probabilities` is redacted; the label stays, one per row.
      expect(first[0].prediction).toEqual({ label: 0 });
      expect(first[1].prediction).toEqual({ label: 2 });
      expect(typeof first[0].latency_ms).toBe('number');
      expect(typeof first[0].version).toBe('string');
      expect(new Date(first[0].time as string).getTime()).toBeGreaterThan(0);
    });

    it('logs about the given percentage of requests', async () => {
      const dir = join(root, where, 'log-sampled');
      const s = await serve({ logRequests: 10, logDir: dir });
      try {
        for (let i = 0; i < 400; i++) await invoke(s.port);
      } finally {
        await s.close();
      }
      const text = await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f), 'utf8')));
      const requests = new Set(
        text
          .join('')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: string }).id),
      );
      // 10 % of 400: 40, and a binomial spread of ±6; ±20 is far outside what chance gives.
      expect(requests.size).toBeGreaterThan(20);
      expect(requests.size).toBeLessThan(60);
    });
  });

  describe('as CloudEvents', () => {
    it("posts a request and a response event per request that a CloudEvents receiver accepts, paired by ce-id, in KServe's format", async () => {
      const r = await receiver();
      const s = await serve({ logRequests: 100, logUrl: r.url });
      try {
        for (let i = 0; i < 10; i++) expect((await invoke(s.port, { 'x-request-id': `req-${i}` })).status).toBe(200);
        await until(() => (r.got.length >= 20 ? true : undefined));
      } finally {
        await s.close();
        await stop(r.server);
      }
      expect(r.got).toHaveLength(20);
      const events = r.got.map((m) => HTTP.toEvent({ headers: m.headers, body: m.body }));
      for (let i = 0; i < 10; i++) {
        const pair = events.filter((e) => !Array.isArray(e) && e.id === `req-${i}`);
        expect(pair.map((e) => (Array.isArray(e) ? '' : e.type)).sort()).toEqual([
          'org.kubeflow.serving.inference.request',
          'org.kubeflow.serving.inference.response',
        ]);
        for (const e of pair) {
          if (Array.isArray(e)) throw new Error('one event per message');
          expect(e.specversion).toBe('1.0');
          expect(e.source).toBe('modelgate');
          expect(e.inferenceservicename).toBe('iris');
          expect(e.modelname).toBe('iris');
          expect(typeof e.modelversion).toBe('string');
          expect(e.endpoint).toBe('default');
          expect(e.datacontenttype).toBe('application/json');
          const data = (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as Record<string, unknown[]>;
          if (e.type.endsWith('.request'))
            expect(data.instances).toEqual([
              [5.1, 3.5, 1.4, 0.2],
              [6.7, 3.0, 5.2, 2.3],
            ]);
          else expect((data.predictions as { label: number }[]).map((p) => p.label)).toEqual([0, 2]);
        }
      }
    });
  });

  describe('with a dead or slow sink', () => {
    /** 150 sequential requests; their statuses and latencies. */
    async function load(port: number) {
      const out = [];
      for (let i = 0; i < 150; i++) out.push(await invoke(port));
      return out;
    }

    it('leaves every prediction answered without waiting, drops and counts the records, and shows it in /ready only', async () => {
      const dead = createServer();
      dead.listen(0, '127.0.0.1');
      await once(dead, 'listening');
      const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/`;
      await stop(dead);
      const slow = await receiver(3000);

      const plain = await serve({});
      const withDead = await serve({ logRequests: 100, logUrl: deadUrl, logQueueSize: 20 });
      const withSlow = await serve({ logRequests: 100, logUrl: slow.url, logQueueSize: 20 });
      try {
        // Side by side, alternating, so the machine's load falls on all three alike.
        const runs: Record<string, { status: number; ms: number }[]> = { plain: [], dead: [], slow: [] };
        for (let round = 0; round < 2; round++) {
          runs.plain.push(...(await load(plain.port)));
          runs.dead.push(...(await load(withDead.port)));
          runs.slow.push(...(await load(withSlow.port)));
        }
        for (const [name, rs] of Object.entries(runs)) {
          expect(
            rs.every((x) => x.status === 200),
            name,
          ).toBe(true);
          // The slow receiver holds every post for 3 s: a request that waited on it would show it.
          expect(Math.max(...rs.map((x) => x.ms)), name).toBeLessThan(1000);
        }
        console.log(
          `median latency ms: no log ${median(runs.plain.map((x) => x.ms)).toFixed(2)}, dead sink ${median(runs.dead.map((x) => x.ms)).toFixed(2)}, slow sink ${median(runs.slow.map((x) => x.ms)).toFixed(2)}`,
        );
        const dropped = /modelgate_log_records_dropped_total\{sink="http",reason="(?:queue_full|sink_error)"\} (\d+)/g;
        expect(await metric(withDead.port, dropped)).toBeGreaterThan(0);
        expect(await metric(withSlow.port, dropped)).toBeGreaterThan(0);
        const ready = await fetch(`http://127.0.0.1:${withDead.port}/ready`);
        expect(ready.status).toBe(200);
        const detail = (await ready.json()) as {
          monitoring: { log: { dropped: number; thread: boolean; sinks: { sink: string; lastError?: string }[] } };
        };
        expect(detail.monitoring.log.dropped).toBeGreaterThan(0);
        expect(detail.monitoring.log.thread).toBe(thread);
        expect(detail.monitoring.log.sinks[0].sink).toBe('http');
      } finally {
        await Promise.all([plain.close(), withDead.close(), withSlow.close()]);
        await stop(slow.server);
      }
    });
  });
});

describe('the log files', () => {
  it('rotates by size and by age', async () => {
    const record = (i: number): LoggedInference => ({
      id: `r${i}`,
      time: new Date(0).toISOString(),
      model: 'm',
      version: '1',
      route: 'primary',
      latencyMs: 1,
      status: 200,
      inputs: ['[1,2,3,4]'],
      predictions: ['0'],
    });
    const bySize = join(root, 'rotate-size');
    const sized = new FileSink({ dir: bySize, maxBytes: 1024, maxAgeSeconds: 0 });
    for (let i = 0; i < 50; i++) await sized.write([sized.encode(record(i))]);
    await sized.close();
    const files = (await readdir(bySize)).sort();
    expect(files.length).toBeGreaterThan(3);
    const texts = await Promise.all(files.map((f) => readFile(join(bySize, f), 'utf8')));
    for (const t of texts) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(1024);
    // Nothing lost or split across files.
    expect(
      texts
        .join('')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));

    let now = Date.UTC(2026, 0, 1);
    const byAge = join(root, 'rotate-age');
    const aged = new FileSink({ dir: byAge, maxAgeSeconds: 60, now: () => now });
    await aged.write([aged.encode(record(0))]);
    now += 30_000;
    await aged.write([aged.encode(record(1))]);
    now += 31_000;
    await aged.write([aged.encode(record(2))]);
    await aged.close();
    const agedFiles = (await readdir(byAge)).sort();
    expect(agedFiles).toHaveLength(2);
    expect(agedFiles[0]).toContain('20260101T000000Z');
    expect(agedFiles[1]).toContain('20260101T000101Z');
  });
});

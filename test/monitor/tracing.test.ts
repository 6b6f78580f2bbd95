/**
 * Tracing end to end in this process: the real server on 127.0.0.1 with the iris ONNX model and
 * a local OTLP/HTTP receiver that takes the exporter's JSON. First with tracing off (the
 * OpenTelemetry side is never imported), then on, with a caller's `traceparent`.
 */
import { once } from 'node:events';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeOptions } from '../../src/config/index.js';
import { tracesUrl, tracingLoaded } from '../../src/monitor/trace/span.js';
import type { RunningServer } from '../../src/server/server.js';
import { serveModelDir } from '../fixtures/serve-dir.js';

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-trace-'));
  modelDir = join(root, 'iris');
  await cp('examples/iris', modelDir, { recursive: true });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const serve = (extra: ServeOptions): Promise<RunningServer> => serveModelDir(modelDir, root, extra);

async function invoke(port: number, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY,
  });
  await res.text();
  return res.status;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

/** An OTLP/HTTP receiver on 127.0.0.1: what the collector would get at /v1/traces. */
async function receiver(): Promise<{ server: Server; url: string; spans: OtlpSpan[]; types: string[] }> {
  const spans: OtlpSpan[] = [];
  const types: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        types.push(String(req.headers['content-type']));
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const r of body.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
      }
      res.writeHead(req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, types };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
};

describe('tracing', () => {
  it('off by default: answers as before and never imports OpenTelemetry', async () => {
    const s = await serve({});
    try {
      expect(await invoke(s.port, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })).toBe(200);
    } finally {
      await s.close();
    }
    expect(tracingLoaded()).toBe(false);
  });

  it('only src/monitor/trace/otel.ts imports @opentelemetry, and only the server imports it, dynamically', async () => {
    const files = (await readdir('src', { recursive: true })).filter((f) => f.endsWith('.ts'));
    const importers: string[] = [];
    const otelImporters: string[] = [];
    for (const f of files) {
      const text = await readFile(join('src', f), 'utf8');
      if (/from '@opentelemetry\//.test(text) || /import\('@opentelemetry\//.test(text)) importers.push(f);
      if (/trace\/otel\.js'/.test(text)) otelImporters.push(f);
      if (/from '[./]+\/monitor\/trace\/otel\.js'/.test(text)) throw new Error(`${f} imports otel.ts statically`);
    }
    expect(importers.map((f) => f.split('\\').join('/'))).toEqual(['monitor/trace/otel.ts']);
    expect(otelImporters.map((f) => f.split('\\').join('/'))).toEqual(['server/server.ts']);
  });

  it("sends a span per request, the caller's traceparent its parent, with phases and the model's attributes", async () => {
    const rx = await receiver();
    const s = await serve({ otlpEndpoint: rx.url, maxBatchSize: 8 });
    try {
      expect(await invoke(s.port, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })).toBe(200);
      expect(await invoke(s.port)).toBe(200);
    } finally {
      // Shutting down flushes the batch of spans.
      await s.close();
      rx.server.close();
    }
    expect(tracingLoaded()).toBe(true);
    expect(rx.types.every((t) => t.startsWith('application/json'))).toBe(true);
    const roots = rx.spans.filter((x) => x.name === 'POST /invocations');
    expect(roots).toHaveLength(2);
    const traced = roots.find((x) => x.traceId === TRACE_ID);
    expect(traced?.parentSpanId).toBe(PARENT_ID);
    const other = roots.find((x) => x !== traced);
    expect(other?.traceId).not.toBe(TRACE_ID);
    expect(other?.parentSpanId ?? '').toBe('');
    if (traced === undefined) return;
    expect(attr(traced, 'modelgate.model')).toBe('iris');
    expect(attr(traced, 'modelgate.route')).toBe('primary');
    expect(attr(traced, 'modelgate.version')).toBeTypeOf('string');
    expect(attr(traced, 'modelgate.rows')).toBe(2);
    expect(attr(traced, 'http.route')).toBe('/invocations');
    expect(attr(traced, 'http.response.status_code')).toBe(200);
    const children = rx.spans.filter((x) => x.parentSpanId === traced.spanId);
    expect(children.map((x) => x.name).sort()).toEqual(['batch', 'decode', 'encode', 'inference', 'queue wait', 'read body']);
    for (const c of children) {
      expect(c.traceId).toBe(TRACE_ID);
      expect(BigInt(c.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(traced.startTimeUnixNano));
      expect(BigInt(c.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(traced.endTimeUnixNano));
    }
    const batch = children.find((x) => x.name === 'batch');
    expect(batch === undefined ? undefined : attr(batch, 'modelgate.batch.rows')).toBe(2);
    expect(batch === undefined ? undefined : attr(batch, 'modelgate.batch.requests')).toBe(1);
  });

  it('a 4xx is still a span, with its status', async () => {
    const rx = await receiver();
    const s = await serve({ otlpEndpoint: `${rx.url}/v1/traces` });
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
        body: '{"inputs": [[1, 2]]}',
      });
      expect(res.status).toBe(400);
    } finally {
      await s.close();
      rx.server.close();
    }
    const span = rx.spans.find((x) => x.name === 'POST /invocations');
    expect(span?.traceId).toBe(TRACE_ID);
    expect(span === undefined ? undefined : attr(span, 'http.response.status_code')).toBe(400);
  });

  it("samples by ratio where the caller's traceparent does not decide, and follows it where it does", async () => {
    const rx = await receiver();
    const s = await serve({ otlpEndpoint: rx.url, traceSampleRatio: 0 });
    const UNSAMPLED = 'a'.repeat(32);
    try {
      for (let i = 0; i < 5; i++) expect(await invoke(s.port)).toBe(200);
      expect(await invoke(s.port, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })).toBe(200);
      expect(await invoke(s.port, { traceparent: `00-${UNSAMPLED}-${PARENT_ID}-00` })).toBe(200);
    } finally {
      await s.close();
      rx.server.close();
    }
    // Only the request whose caller sampled it, with all its phases.
    expect(new Set(rx.spans.map((x) => x.traceId))).toEqual(new Set([TRACE_ID]));
    expect(rx.spans.filter((x) => x.name === 'POST /invocations')).toHaveLength(1);
    expect(rx.spans).toHaveLength(7);
  });

  it('the endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is', () => {
    expect(tracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('http://collector:4318/v1/traces')).toBe('http://collector:4318/v1/traces');
  });
});

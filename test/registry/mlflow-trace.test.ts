/**
 * The MLflow client's calls carry the traceparent of the traced request they are made for (a
 * model loaded on demand while a request waits), against the replayed MLflow server; calls made
 * outside a traced request (start-up, polling) carry none.
 */
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpTracer } from '../../src/monitor/trace/otel.js';
import { withSpan } from '../../src/monitor/trace/span.js';
import { MlflowHttp } from '../../src/registry/backends/mlflow/client.js';
import { MlflowReplayServer } from '../fixtures/mlflow-replay-server.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
let replay: MlflowReplayServer;
let collector: Server;

beforeAll(async () => {
  replay = await MlflowReplayServer.start();
  // A collector that takes the spans and drops them: this test is about the MLflow calls.
  collector = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end('{}')));
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
});

afterAll(async () => {
  await replay.close();
  collector.close();
});

describe('trace context on MLflow calls', () => {
  it("sends the traced request's traceparent, with its span as the parent, and none outside one", async () => {
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const tracer = otlpTracer({ url, serviceName: 'test', serviceVersion: '0' });
    const http = new MlflowHttp(replay.url, { maxRetries: 0, timeoutMs: 5000 });
    try {
      const span = tracer.start('/invocations', 'POST', (n) => (n === 'traceparent' ? `00-${TRACE_ID}-00f067aa0ba902b7-01` : undefined));
      const own: Record<string, string> = {};
      span.inject(own);
      await withSpan(span, () => http.json('GET', '/api/2.0/mlflow/registered-models/get', { query: { name: 'iris' } }));
      await http.json('GET', '/api/2.0/mlflow/registered-models/get', { query: { name: 'iris' } });
      span.end(200);
      const sent = replay.requests.map((r) => r.headers.traceparent);
      expect(sent).toHaveLength(2);
      expect(sent[0]).toBe(own.traceparent);
      expect(sent[0]).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
      expect(sent[0]).not.toContain('00f067aa0ba902b7');
      expect(sent[1]).toBeUndefined();
    } finally {
      await http.close();
      await tracer.shutdown();
    }
  });
});

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { createMetrics } from '../../src/core/metrics.js';
import { SingleModelHost } from '../../src/core/model-host.js';
import { type Logger, silentLogger } from '../../src/util/log.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { fakeServable } from '../fixtures/fake-flavors.js';

const TENSOR_SIG = { inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]' };

async function appWith(behaviour: Parameters<typeof fakeServable>[0], signature?: Parameters<typeof fakeServable>[1], logger?: Logger) {
  const metrics = createMetrics({ processMetrics: false });
  const host = new SingleModelHost(metrics);
  host.setReady(await fakeServable(behaviour, signature));
  return { app: createApp({ host, metrics, logger: logger ?? silentLogger() }), host, metrics };
}

// A string body makes fetch add "text/plain" by itself; bytes let a test send no Content-Type at all.
const post = (body: string, contentType: string | null = 'application/json', headers: Record<string, string> = {}) => ({
  method: 'POST',
  body: contentType === null ? new TextEncoder().encode(body) : body,
  headers: contentType === null ? headers : { 'content-type': contentType, ...headers },
});

describe('HTTP surface', () => {
  it('answers liveness before the model is loaded, and readiness (/ready, and /ping and /health as in MLflow) only after', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const host = new SingleModelHost(metrics);
    const app = createApp({ host, metrics });
    expect((await app.request('/livez')).status).toBe(200);
    expect(await (await app.request('/livez')).json()).toEqual({ status: 'ok' });
    expect((await app.request('/v2/health/live')).status).toBe(200);
    for (const path of ['/ready', '/ping', '/health']) {
      const notReady = await app.request(path);
      expect(notReady.status, path).toBe(503);
      expect(await notReady.json(), path).toMatchObject({ ready: false, state: 'loading' });
    }
    expect((await app.request('/v2/health/ready')).status).toBe(503);
    const inv = await app.request('/invocations', post('{"inputs": [[1, 2]]}'));
    expect(inv.status).toBe(503);
    expect(inv.headers.get('retry-after')).toBe('1');
    expect(await inv.json()).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });

    host.setReady(await fakeServable({ kind: 'echo' }, TENSOR_SIG));
    for (const path of ['/ready', '/ping', '/health']) {
      const ready = await app.request(path);
      expect(ready.status, path).toBe(200);
      expect(await ready.json(), path).toMatchObject({
        ready: true,
        state: 'ready',
        models: [{ name: 'fake', version: '1', flavor: 'fake' }],
      });
    }
    expect((await app.request('/livez')).status).toBe(200);
  });

  it('answers /ping and /health 503 with the state after a failed load; /livez stays 200', async () => {
    const host = new SingleModelHost();
    host.setFailed('boom');
    const app = createApp({ host });
    for (const path of ['/ping', '/health']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(503);
      expect(await res.json(), path).toMatchObject({ ready: false, state: 'failed', error: 'boom' });
    }
    expect((await app.request('/livez')).status).toBe(200);
  });

  it('shows /ping and /health details, like /ready, only to token holders when authentication is on', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const host = new SingleModelHost(metrics);
    host.setReady(await fakeServable({ kind: 'echo' }, TENSOR_SIG));
    const app = createApp({ host, metrics, options: { authTokens: ['alpha'] } });
    for (const path of ['/ping', '/health', '/ready']) {
      const open = await app.request(path);
      expect(open.status, path).toBe(200);
      expect(await open.json(), path).toEqual({ ready: true, state: 'ready' });
      const detailed = await app.request(path, { headers: { authorization: 'Bearer alpha' } });
      expect(await detailed.json(), path).toMatchObject({ ready: true, state: 'ready', models: [{ name: 'fake' }] });
    }
  });

  it('reports a failed load in readiness', async () => {
    const host = new SingleModelHost();
    host.setFailed('boom');
    const app = createApp({ host });
    const res = await app.request('/ready');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, state: 'failed', error: 'boom' });
  });

  it('serves predictions with the model name and version in headers', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    const res = await app.request('/invocations', post('{"inputs": [[1, 2], [3, 4.5]]}'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-model-name')).toBe('fake');
    expect(res.headers.get('x-model-version')).toBe('1');
    // float32 values print as Python floats.
    expect(await res.text()).toBe('{"predictions": [[1.0, 2.0], [3.0, 4.5]]}');
  });

  it('echoes a caller-supplied request id and ignores an unsafe one', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    const ok = await app.request('/invocations', post('{"inputs": [[1, 2]]}', 'application/json', { 'x-request-id': 'abc-123' }));
    expect(ok.headers.get('x-request-id')).toBe('abc-123');
    const bad = await app.request('/invocations', post('{"inputs": [[1]]}', 'application/json', { 'x-request-id': 'a b<script>' }));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
  });

  it('turns a model failure into a 500 with a request id and no details, and logs the stack', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const { app, metrics } = await appWith({ kind: 'throw', message: 'secret internal detail at /srv/model.js' }, TENSOR_SIG, logger);
    const res = await app.request('/invocations', post('{"inputs": [[1, 2]]}'));
    expect(res.status).toBe(500);
    const body = (await res.json()) as Record<string, string>;
    expect(Object.keys(body)).toEqual(['error_code', 'message', 'sqlstate', 'error_class', 'request_id']);
    expect(body.error_code).toBe('INTERNAL_ERROR');
    // MLflow 3's classification of INTERNAL_ERROR; never a stack trace.
    expect(body).toMatchObject({ sqlstate: 'XXM00', error_class: 'CLIENT_INTERNAL_ERROR' });
    expect(body.message).not.toContain('secret');
    expect(res.headers.get('x-request-id')).toBe(body.request_id);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === body.request_id);
    expect(JSON.stringify(logged)).toContain('secret internal detail');
    expect(JSON.stringify(logged)).toContain('stack');
    const text = await metrics.registry.metrics();
    expect(text).toContain('modelgate_predictions_total{model="fake",version="1",outcome="server_error"} 1');
    expect(text).toContain('modelgate_errors_total{error_code="INTERNAL_ERROR"} 1');
  });

  it("maps bad input to 400 with MLflow 3's error shape (sqlstate and error_class after the message)", async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    const res = await app.request('/invocations', post('{"inputs": [[1, 2, 3]]}'));
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message:
        "Failed to enforce schema of data with schema '[Tensor('float32', (-1, 2))]'. Error: Shape of input (1, 3) does not match expected shape (-1, 2).",
      sqlstate: 'KAM01',
      error_class: 'SCHEMA_ENFORCEMENT_FAILED',
    });
    expect(text).toMatch(
      /^\{"error_code": "INVALID_PARAMETER_VALUE", "message": ".*", "sqlstate": "KAM01", "error_class": "SCHEMA_ENFORCEMENT_FAILED"\}$/,
    );
    const parse = await app.request('/invocations', post('{"inputs": [["abc", 2]]}'));
    expect(await parse.json()).toMatchObject({ error_code: 'BAD_REQUEST', sqlstate: 'KAM00', error_class: 'INVALID_PARAMETER_VALUE' });
  });

  it('ignores "params" that is not a dictionary for a model without a params schema, and refuses it for one with a schema', async () => {
    const { logger, lines } = captureLogger();
    const { app: open } = await appWith({ kind: 'params' }, TENSOR_SIG, logger);
    for (const params of ['"fast"', '[1, 2]', '3']) {
      const res = await open.request('/invocations', post(`{"inputs": [[1, 2]], "params": ${params}}`));
      expect(res.status, params).toBe(200);
      expect(await res.text()).toBe('{"predictions": {}}');
    }
    expect(lines().some((l) => l.msg === 'params that are not a dictionary were ignored (no params schema)')).toBe(true);
    const { app: strict } = await appWith(
      { kind: 'params' },
      { ...TENSOR_SIG, params: '[{"name": "t", "type": "double", "default": 0.5, "shape": null}]' },
    );
    const res = await strict.request('/invocations', post('{"inputs": [[1, 2]], "params": "fast"}'));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Parameters must be a dictionary. Got type 'str'.",
      sqlstate: 'KAM00',
      error_class: 'INVALID_PARAMETER_VALUE',
    });
    expect(await (await strict.request('/invocations', post('{"inputs": [[1, 2]], "params": {"t": 2}}'))).text()).toBe(
      '{"predictions": {"t": 2}}',
    );
  });

  it('scores "signature_name" beside the input as MLflow 3 does (ignored)', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    const res = await app.request('/invocations', post('{"inputs": [[1, 2]], "signature_name": "serving_default"}'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"predictions": [[1.0, 2.0]]}');
  });

  it('follows MLflow content-type rules with JSON error bodies', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    for (const [ct, fragment] of [
      ['text/plain', "Got 'text/plain'"],
      [null, 'no Content-Type header'],
      ['application/json; charset=latin-1', 'only supports UTF-8'],
      ['application/json; format=pandas-split', 'Unrecognized content type parameters: format'],
    ] as const) {
      const res = await app.request('/invocations', post('{"inputs": [[1, 2]]}', ct));
      expect(res.status, String(ct)).toBe(415);
      const body = (await res.json()) as { error_code: string; message: string };
      expect(body.message).toContain(fragment);
    }
    expect((await app.request('/invocations', post('{"inputs": [[1, 2]]}', 'application/json; charset=UTF-8'))).status).toBe(200);
  });

  it('returns 405 with Allow for a wrong method and 404 JSON for unknown routes', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    const res = await app.request('/invocations');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    const nope = await app.request('/nope');
    expect(nope.status).toBe(404);
    expect(await nope.json()).toMatchObject({ error_code: 'ENDPOINT_NOT_FOUND' });
  });

  it('scores a parquet body (MLflow 3), under the same body and row limits as every body', async () => {
    const parquet = new Uint8Array(
      readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'parquet', 'iris.parquet')),
    );
    const send = (app: ReturnType<typeof createApp>) =>
      app.request('/invocations', { method: 'POST', body: parquet, headers: { 'content-type': 'application/vnd.apache.parquet' } });
    const cols = { inputs: '[{"type": "double", "name": "sepal_length"}, {"type": "double", "name": "petal_width"}]' };
    const { app } = await appWith({ kind: 'echo' }, cols);
    const ok = await send(app);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(
      '{"predictions": [{"sepal_length": 5.1, "petal_width": 0.2}, {"sepal_length": 6.7, "petal_width": 2.3}, {"sepal_length": 5.9, "petal_width": 1.5}]}',
    );
    const host = new SingleModelHost();
    host.setReady(await fakeServable({ kind: 'echo' }, cols));
    const small = createApp({ host, options: { maxBodyBytes: 1024 } });
    expect((await send(small)).status).toBe(413);
    const few = createApp({ host, options: { maxRows: 2 } });
    const tooMany = await send(few);
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ message: 'Invalid input. The request has 3 rows; the limit is 2.' });
  });

  it('refuses a body over the limit with 413 before scoring', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const host = new SingleModelHost(metrics);
    host.setReady(await fakeServable({ kind: 'echo' }, TENSOR_SIG));
    const app = createApp({ host, metrics, options: { maxBodyBytes: 64 } });
    const res = await app.request('/invocations', post(`{"inputs": [${'[1, 2], '.repeat(20)}[1, 2]]}`));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error_code: 'REQUEST_LIMIT_EXCEEDED' });
  });

  it('passes params with defaults and types from the signature', async () => {
    const sig = {
      ...TENSOR_SIG,
      params:
        '[{"name": "temperature", "type": "double", "default": 0.5, "shape": null}, {"name": "k", "type": "long", "default": 3, "shape": null}]',
    };
    const { app } = await appWith({ kind: 'params' }, sig);
    const res = await app.request('/invocations', post('{"inputs": [[1, 2]], "params": {"temperature": 0.9, "unknown": 1}}'));
    expect(await res.json()).toEqual({ predictions: { temperature: 0.9, k: 3 } });
    const bad = await app.request('/invocations', post('{"inputs": [[1, 2]], "params": {"k": "many"}}'));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  });

  it('exposes Prometheus metrics labelled by route, status, model and version', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    await app.request('/invocations', post('{"inputs": [[1, 2]]}'));
    await app.request('/invocations', post('{"inputs": [[1]]}'));
    await app.request('/ping');
    const res = await app.request('/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('modelgate_http_requests_total{method="POST",route="/invocations",status="200"} 1');
    expect(text).toContain('modelgate_http_requests_total{method="POST",route="/invocations",status="400"} 1');
    expect(text).toContain('modelgate_http_requests_total{method="GET",route="/ping",status="200"} 1');
    expect(text).toContain('modelgate_predictions_total{model="fake",version="1",outcome="success"} 1');
    expect(text).toContain('modelgate_predictions_total{model="fake",version="1",outcome="client_error"} 1');
    expect(text).toMatch(/modelgate_request_duration_seconds_count\{model="fake",version="1"\} 2/);
    expect(text).toMatch(/modelgate_inference_duration_seconds_bucket\{le="\+Inf",model="fake",version="1"\} 1/);
    expect(text).toContain('modelgate_http_requests_in_flight');
    expect(text).toContain('modelgate_model_info{model="fake",version="1",flavor="fake",route="primary",runtime="fake"} 1');
    expect(text).toContain('modelgate_ready 1');
    // Two apps in one process keep separate registries.
    const other = await appWith({ kind: 'echo' }, TENSOR_SIG);
    expect(await (await other.app.request('/metrics')).text()).not.toContain('status="400"');
  });

  it('reports the version of modelgate and the served model', async () => {
    const { app } = await appWith({ kind: 'echo' }, TENSOR_SIG);
    expect(await (await app.request('/version')).json()).toMatchObject({
      modelgate: expect.any(String),
      models: [{ name: 'fake', version: '1' }],
    });
  });
});

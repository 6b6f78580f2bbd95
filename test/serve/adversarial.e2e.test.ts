/**
 * The second adversarial campaign's findings, each reproduced over real HTTP on 127.0.0.1 against
 * the real server: half-closing clients, slow bodies, `__proto__` keys, bodies and results too
 * large for the event loop, LLM-style bodies for JS models, strict JSON from V2, and the admin
 * and readiness routes under authentication.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveServeConfig, type ServeOptions } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { IRIS } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-adversarial-');
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});
afterAll(() => temps.removeAll());

const IRIS_BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

async function serve(options: ServeOptions): Promise<RunningServer & { base: string }> {
  const s = await startServer(resolveServeConfig({ port: 0, shutdownGraceSeconds: 0, drainSeconds: 1, ...options }), silentLogger());
  cleanup.push(() => s.close());
  await s.loaded;
  return Object.assign(s, { base: `http://127.0.0.1:${s.port}` });
}

const post = (base: string, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** Writes a JS-code model directory: `code` is the module's source, `inputs` the column signature. */
async function jsModel(code: string, inputs = '[{"type": "double", "name": "x", "required": true}]'): Promise<string> {
  const dir = await temps.make();
  await writeFile(join(dir, 'model.mjs'), code);
  await writeFile(
    join(dir, 'MLmodel'),
    `flavors:\n  js:\n    module: model.mjs\nsignature:\n  inputs: '${inputs}'\n  outputs: null\n  params: null\n`,
  );
  return dir;
}

/** Raw request bytes, then `end()` (TCP FIN); resolves with all the server sent before closing. */
function halfClose(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(request);
      sock.end();
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(text));
  });
}

/** Times a GET /ping (ms), to see whether the event loop is free. */
async function pingMs(base: string): Promise<number> {
  const t = performance.now();
  await (await fetch(`${base}/ping`)).arrayBuffer();
  return performance.now() - t;
}

describe('clients that half-close after their request', () => {
  it('answers every request whose client sends FIN right after the body, with or without Connection: close', async () => {
    const s = await serve({ modelUri: IRIS });
    for (const connection of ['Connection: close\r\n', '']) {
      const text = await halfClose(
        s.port,
        `POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${connection}Content-Length: ${IRIS_BODY.length}\r\n\r\n${IRIS_BODY}`,
      );
      expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(text).toContain('"predictions"');
    }
    // A V2 request and a bad one too: each gets its answer.
    const v2 = '{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}';
    const t2 = await halfClose(
      s.port,
      `POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${v2.length}\r\n\r\n${v2}`,
    );
    expect(t2).toMatch(/^HTTP\/1\.1 200 OK/);
    const t3 = await halfClose(
      s.port,
      'POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    );
    expect(t3).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('slow bodies', () => {
  it('keeps serving while as many clients as the in-flight limit trickle their bodies, and cuts the tricklers off', async () => {
    const limit = 16;
    const s = await serve({ modelUri: IRIS, maxInFlight: limit, bodyGraceSeconds: 1, minBodyRate: 100 });
    const cut: string[] = [];
    const socks = Array.from({ length: limit }, () => {
      const sock = connect(s.port, '127.0.0.1', () =>
        sock.write('POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{'),
      );
      let text = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (text += d));
      sock.on('error', () => undefined);
      sock.on('close', () => cut.push(text));
      return sock;
    });
    const drip = setInterval(() => socks.forEach((x) => !x.destroyed && x.write(' ')), 500);
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const res = await post(s.base, '/invocations', IRIS_BODY);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        expect(performance.now() - t).toBeLessThan(2000);
      }
      const started = Date.now();
      while (cut.length < limit && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 100));
      expect(cut).toHaveLength(limit);
      expect(cut[0]).toMatch(/^HTTP\/1\.1 408 /);
      expect(cut[0]).toContain('slower than the minimum');
    } finally {
      clearInterval(drip);
      socks.forEach((x) => x.destroy());
    }
  });
});

describe('bodies and results too large for the event loop', () => {
  it('refuses bodies past the body memory budget with 503, counting what has arrived', async () => {
    const s = await serve({ modelUri: IRIS, maxBodyMemory: 1_000_000 });
    const rows = JSON.stringify({ inputs: Array.from({ length: 9000 }, () => [5.1, 3.5, 1.4, 0.2]) }); // ≈ 190 KB
    const big = `${rows.slice(0, -1)}${' '.repeat(700_000)}}`;
    // A body that has sent 900 KB and not finished holds 836 KB of the 1 MB budget (its first 64 KiB are free).
    const holder = connect(s.port, '127.0.0.1', () =>
      holder.write(
        `POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{${' '.repeat(900_000)}`,
      ),
    );
    holder.on('error', () => undefined);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const refused = await post(s.base, '/invocations', big);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      // Small bodies are never refused for the budget.
      expect((await post(s.base, '/invocations', IRIS_BODY)).status).toBe(200);
    } finally {
      holder.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    // Alone, it fits.
    expect((await post(s.base, '/invocations', big)).status).toBe(200);
  });

  it('answers a JS model result past the response limit with a 500 that says so, without stalling health checks', async () => {
    const dir = await jsModel('export function load() { return { predict: () => Array.from({ length: 5e6 }, (_, i) => i + 0.5) }; }');
    const s = await serve({ modelUri: dir, maxResponseBytes: 1_000_000 });
    const pings: number[] = [];
    let running = true;
    const pinger = (async () => {
      while (running) {
        pings.push(await pingMs(s.base));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const res = await post(s.base, '/invocations', '{"dataframe_records": [{"x": 1}]}');
    running = false;
    await pinger;
    expect(res.status).toBe(500);
    expect(((await res.json()) as { message: string }).message).toBe('The prediction is larger than the response limit of 1000000 bytes.');
    expect(Math.max(...pings)).toBeLessThan(500);
  });

  it('holds the deadline for a JS model that computes past it, and /ping stays responsive', async () => {
    const dir = await jsModel(
      'export function load() { return { predict: () => { const end = Date.now() + 3000; while (Date.now() < end); return [1]; } }; }',
    );
    const s = await serve({ modelUri: dir, requestTimeoutSeconds: 1 });
    const t = performance.now();
    const res = post(s.base, '/invocations', '{"dataframe_records": [{"x": 1}]}');
    await new Promise((r) => setTimeout(r, 300));
    expect(await pingMs(s.base)).toBeLessThan(500);
    expect((await res).status).toBe(504);
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe('__proto__, constructor and friends', () => {
  it('answers every body that uses them as keys with a 4xx, never a 500', async () => {
    const s = await serve({ modelUri: IRIS });
    const bodies = [
      '{"inputs": {"__proto__": [[1, 2, 3, 4]]}}',
      '{"inputs": {"constructor": [[1, 2, 3, 4]]}}',
      '{"instances": [{"__proto__": [1, 2, 3, 4]}]}',
      '{"dataframe_records": [{"__proto__": 1, "toString": 2}]}',
      '{"dataframe_split": {"columns": ["__proto__"], "data": [[1]]}}',
    ];
    for (const b of bodies) {
      const res = await post(s.base, '/invocations', b);
      expect(res.status, b).toBeGreaterThanOrEqual(400);
      expect(res.status, b).toBeLessThan(500);
    }
    const v2 = await post(
      s.base,
      '/v2/models/iris/infer',
      '{"inputs": [{"name": "__proto__", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}',
    );
    expect(v2.status).toBe(400);
    const two = await post(
      s.base,
      '/v2/models/iris/infer',
      '{"inputs": [{"name": "__proto__", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}, {"name": "constructor", "shape": [1], "datatype": "FP32", "data": [1]}]}',
    );
    expect(two.status).toBe(400);
  });

  it('hands a JS model columns named __proto__ as ordinary row keys', async () => {
    const dir = await jsModel(
      'export function load() { return { predict: (rows) => rows.map((r) => Object.keys(r).join("+") + ":" + r["__proto__"]) }; }',
      '[{"type": "double", "name": "__proto__", "required": true}, {"type": "double", "name": "constructor", "required": true}]',
    );
    const s = await serve({ modelUri: dir });
    const res = await post(s.base, '/invocations', '{"dataframe_records": [{"__proto__": 1, "constructor": 2}]}');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"predictions": ["__proto__+constructor:1"]}');
  });

  it('resolves aliases named __proto__ and constructor like any other', async () => {
    const root = await temps.make();
    const registry = openRegistry(join(root, 'registry'));
    await registry.register(IRIS, { name: 'iris' });
    for (const alias of ['__proto__', 'constructor', 'toString']) {
      await registry.setAlias('iris', alias, '1');
      expect((await registry.resolve(`models:/iris@${alias}`)).version).toBe('1');
      expect((await registry.listVersions('iris'))[0].aliases).toContain(alias);
    }
    await expect(registry.resolve('models:/iris@hasOwnProperty')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST' });
  });
});

describe('LLM-style bodies', () => {
  it('answers them with a 400 that names the expected input when a JS model has a column signature', async () => {
    const dir = await jsModel('export function load() { return { predict: (rows) => rows.map((r) => r.x) }; }');
    const s = await serve({ modelUri: dir });
    for (const body of ['{"input": 1}', '{"prompt": "x"}', '{"messages": [{"role": "user", "content": "hi"}]}']) {
      const res = await post(s.base, '/invocations', body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { message: string }).message, body).toContain("'x'");
    }
  });

  it('passes a body that satisfies the column signature to the model as it is', async () => {
    const dir = await jsModel(
      'export function load() { return { predict: (body) => ({ echoed: body.prompt }) }; }',
      '[{"type": "string", "name": "prompt", "required": true}]',
    );
    const s = await serve({ modelUri: dir });
    const res = await post(s.base, '/invocations', '{"prompt": "hello"}');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"echoed": "hello"}');
  });
});

describe('what errors say', () => {
  it('never quotes more than a few dozen characters of a bad value', async () => {
    const s = await serve({ modelUri: IRIS });
    const huge = 'x'.repeat(1_000_000);
    const res = await post(s.base, '/invocations', JSON.stringify({ inputs: [[huge, 1, 2, 3]] }));
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text.length).toBeLessThan(3000);
    expect(text).not.toContain('x'.repeat(100));
  });

  it('writes V2 answers as strict JSON: non-finite floats are null', async () => {
    const dir = await jsModel('export function load() { return { predict: () => [NaN, Infinity, -Infinity, 1.5] }; }');
    const s = await serve({ modelUri: dir });
    const res = await post(
      s.base,
      '/v2/models/' + dir.split('/').pop() + '/infer',
      '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]}',
    );
    expect(res.status).toBe(200);
    const body = JSON.parse(await res.text()) as { outputs: { data: unknown[] }[] };
    expect(body.outputs[0].data).toEqual([null, null, null, 1.5]);
    // MLflow's protocol keeps Python's tokens, as MLflow writes them.
    const mlflow = await post(s.base, '/invocations', '{"dataframe_records": [{"x": 1}]}');
    expect(await mlflow.text()).toBe('{"predictions": [NaN, Infinity, -Infinity, 1.5]}');
  });
});

describe('admin and readiness under authentication', () => {
  it('answers admin routes with 404 when the admin API is off', async () => {
    const s = await serve({ modelUri: IRIS });
    const res = await post(s.base, '/admin/weight', '{"weight": 5}');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error_code: string }).error_code).toBe('ENDPOINT_NOT_FOUND');
  });

  it('refuses an admin body past its small limit before reading it', async () => {
    const s = await serve({ modelUri: IRIS, adminTokens: ['tok'] });
    const res = await post(s.base, '/admin/weight', `{"weight": 5, "pad": "${'x'.repeat(200_000)}"}`, { authorization: 'Bearer tok' });
    expect(res.status).toBe(413);
  });

  it('shows readiness details only to token holders when authentication is on', async () => {
    const s = await serve({ modelUri: IRIS, authTokens: ['secret'] });
    const open = await (await fetch(`${s.base}/ready`)).json();
    expect(open).toEqual({ ready: true, state: 'ready' });
    const full = await (await fetch(`${s.base}/ready`, { headers: { authorization: 'Bearer secret' } })).json();
    expect(full).toMatchObject({ ready: true, state: 'ready', models: [expect.objectContaining({ name: 'iris' })] });
  });
});

describe('promotion', () => {
  it('refuses a promotion that changes nothing, so one rollback returns to the previous primary', async () => {
    const root = await temps.make();
    const registryUri = join(root, 'registry');
    const registry = openRegistry(registryUri);
    await registry.register(IRIS, { name: 'iris', alias: 'champion' });
    await registry.register(IRIS, { name: 'iris', alias: 'challenger' });
    const s = await serve({
      modelUri: 'models:/iris@champion',
      canaryUri: 'models:/iris@challenger',
      registryUri,
      adminTokens: ['tok'],
      pollSeconds: 0,
    });
    const admin = (path: string) => post(s.base, path, '{}', { authorization: 'Bearer tok' });
    expect((await admin('/admin/promote')).status).toBe(200);
    const again = await admin('/admin/promote');
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toContain('nothing to promote');
    expect((await admin('/admin/rollback')).status).toBe(200);
    expect((await registry.resolve('models:/iris@champion')).version).toBe('1');
  });
});

describe('a model folder with files the model reads', () => {
  it('serves a JS model from a folder with subfolders (no links) as before', async () => {
    const dir = await jsModel('export function load() { return { predict: (rows) => rows.map(() => 1) }; }');
    await mkdir(join(dir, 'data', 'deep'), { recursive: true });
    await writeFile(join(dir, 'data', 'deep', 'x.txt'), 'x');
    const s = await serve({ modelUri: dir });
    expect((await post(s.base, '/invocations', '{"dataframe_records": [{"x": 1}]}')).status).toBe(200);
  });
});

describe('second round: the campaign against the first fixes', () => {
  it('is not starved by clients that declare huge bodies and send little', async () => {
    const s = await serve({ modelUri: IRIS });
    // Three connections claim 32 MiB each (all of the 64 MiB budget and more) and trickle.
    const socks = Array.from({ length: 3 }, () => {
      const sock = connect(s.port, '127.0.0.1', () =>
        sock.write(
          `POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${32 * 1024 * 1024 - 1}\r\n\r\n{`,
        ),
      );
      sock.on('error', () => undefined);
      return sock;
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const statuses = await Promise.all(Array.from({ length: 20 }, () => post(s.base, '/invocations', IRIS_BODY).then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      socks.forEach((x) => x.destroy());
    }
  });

  it.each([
    ['a CSV of millions of one-cell lines', 'text/csv', () => `a\n${'0\n'.repeat(15_000_000)}`, /more than 100000 rows/],
    ['millions of empty rows', 'application/json', () => `{"inputs": [${Array(7_000_000).fill('{}').join(',')}]}`, /more than 100000 rows/],
    [
      'a record with millions of keys',
      'application/json',
      () => `{"dataframe_records": [{${Array.from({ length: 1_500_000 }, (_, i) => `"k${i}": 1`).join(', ')}}]}`,
      /more than 100000 keys in one object/,
    ],
  ])('refuses %s before building it, with the event loop free', async (_what, contentType, body, message) => {
    const s = await serve({ modelUri: IRIS });
    const text = body();
    expect(text.length).toBeGreaterThan(10_000_000);
    const t = performance.now();
    const pinged = (async () => {
      await new Promise((r) => setTimeout(r, 50));
      return pingMs(s.base);
    })();
    const res = await post(s.base, '/invocations', text, { 'content-type': contentType });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
    expect(performance.now() - t).toBeLessThan(3000);
    expect(await pinged).toBeLessThan(1000);
  });

  it('stops writing an ONNX answer as soon as it passes the response limit', async () => {
    const dir = await temps.make();
    const { buildOnnxModel } = await import('../../src/onnx/writer.js');
    await writeFile(
      join(dir, 'model.onnx'),
      buildOnnxModel({
        inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 100] }],
        nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
        initializers: [{ name: 'w', dtype: 'float32', dims: [4, 100], data: Array.from({ length: 400 }, (_, i) => 0.1234567 + i / 7) }],
      }),
    );
    const s = await serve({ modelUri: dir, maxResponseBytes: 4_000_000 });
    const rows = JSON.stringify({ inputs: Array.from({ length: 50_000 }, () => [5.1, 3.5, 1.4, 0.2]) });
    const t = performance.now();
    const res = await post(s.base, '/invocations', rows);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { message: string }).message).toBe('The prediction is larger than the response limit of 4000000 bytes.');
    // 5 M values are ~100 MB of text; stopping at 4 MB takes a fraction of writing it all.
    expect(performance.now() - t).toBeLessThan(1500);
    const v2 = await post(
      s.base,
      `/v2/models/${dir.split('/').pop()}/infer`,
      JSON.stringify({ inputs: [{ name: 'x', shape: [50_000, 4], datatype: 'FP32', data: Array(200_000).fill(1.5) }] }),
    );
    expect(v2.status).toBe(500);
  });

  it('caps V2 error messages as it caps MLflow ones, and passes a V2 parameter named __proto__ to the model', async () => {
    const dir = await jsModel(
      'export function load() { return { predict: (rows, params) => rows.map(() => Object.getOwnPropertyDescriptor(params, "__proto__")?.value ?? "none") }; }',
    );
    await writeFile(
      join(dir, 'MLmodel'),
      `flavors:\n  js:\n    module: model.mjs\nsignature:\n  inputs: '[{"type": "double", "name": "x", "required": true}]'\n  outputs: null\n  params: '[{"name": "__proto__", "type": "string", "default": "default", "shape": null}]'\n`,
    );
    const s = await serve({ modelUri: dir });
    const name = dir.split('/').pop() as string;
    const many = Array.from(
      { length: 2000 },
      (_, i) => `{"name": "${'n'.repeat(200)}${i}", "shape": [1], "datatype": "FP64", "data": [1]}`,
    );
    const res = await post(s.base, `/v2/models/${name}/infer`, `{"inputs": [${many.join(', ')}]}`);
    expect(res.status).toBe(400);
    expect((await res.text()).length).toBeLessThan(3000);
    const v2 = '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}], "parameters": {"__proto__": "given"}}';
    const ok = await post(s.base, `/v2/models/${name}/infer`, v2);
    expect(((await ok.json()) as { outputs: { data: unknown[] }[] }).outputs[0].data).toEqual(['given']);
    const mlflow = await post(s.base, '/invocations', '{"dataframe_records": [{"x": 1}], "params": {"__proto__": "given"}}');
    expect(await mlflow.text()).toBe('{"predictions": ["given"]}');
  });

  it('shares one /metrics rendering between scrapes that arrive together', async () => {
    const s = await serve({ modelUri: IRIS });
    const texts = await Promise.all(Array.from({ length: 10 }, () => fetch(`${s.base}/metrics`).then((r) => r.text())));
    expect(new Set(texts).size).toBe(1);
  });
});

/**
 * GET /openapi.json against the real server: the document validates as OpenAPI 3.1 with a
 * maintained validator, requests generated from it alone are accepted on every route (every body
 * form of /invocations, CSV included) and the answers fit its response schemas, it follows an
 * alias to a version with another signature, and it is guarded like the data it describes.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import type { Registry } from '../../src/registry/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { type GeneratedRequest, generateRequests, resolve } from '../fixtures/openapi-requests.js';

const ADMIN = 'admin-secret';
let root: string;
let registry: Registry;

/** Version 1 is examples/iris; version 2 the same model with a `threshold` param in its signature. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-openapi-'));
  registry = openRegistry(join(root, 'registry'));
  await registry.register('examples/iris', { name: 'iris' });
  const v2 = join(root, 'iris-params');
  await cp('examples/iris', v2, { recursive: true });
  const mlmodel = await readFile(join(v2, 'MLmodel'), 'utf8');
  await writeFile(
    join(v2, 'MLmodel'),
    mlmodel.replace('  params: null', `  params: '[{"name": "threshold", "type": "double", "default": 0.5, "shape": null}]'`),
  );
  await registry.register(v2, { name: 'iris' });
  await registry.setAlias('iris', 'champion', '1');
  await registry.setAlias('iris', 'challenger', '2');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function serve(extra: Record<string, unknown> = {}): Promise<RunningServer> {
  const s = await startServer(
    resolveServeConfig({
      modelUri: 'models:/iris@champion',
      canaryUri: 'models:/iris@challenger',
      registryUri: join(root, 'registry'),
      adminTokens: [ADMIN],
      port: 0,
      pollSeconds: 0.2,
      ...extra,
    }),
    silentLogger(),
  );
  await s.loaded;
  return s;
}

async function getDoc(port: number, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}/openapi.json`, { headers });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

interface Operation {
  security?: unknown;
  requestBody: { content: Record<string, { schema: Record<string, unknown> }> };
}
const invocations = (doc: Record<string, unknown>) => (doc.paths as Record<string, { post: Operation }>)['/invocations'].post;

/** Sends every generated request; returns the ones not answered 200, and checks 200 answers against the document. */
async function sendAll(port: number, doc: Record<string, unknown>, requests: readonly GeneratedRequest[]): Promise<string[]> {
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  const failed: string[] = [];
  for (const r of requests) {
    const headers: Record<string, string> = r.path.startsWith('/admin') ? { authorization: `Bearer ${ADMIN}` } : {};
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    const res = await fetch(`http://127.0.0.1:${port}${r.path}`, { method: r.method, headers, body: r.body });
    const text = await res.text();
    if (res.status !== 200) failed.push(`${r.method} ${r.path} [${r.form}] ${res.status} ${r.body} -> ${text}`);
    else if (r.responseSchema !== undefined) {
      const schema = JSON.parse(JSON.stringify(r.responseSchema).replace(/"#\/components/g, '"doc#/components')) as object;
      if (!ajv.validate(schema, JSON.parse(text))) failed.push(`${r.method} ${r.path}: ${ajv.errorsText()} in ${text}`);
    }
  }
  return failed;
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, and requests generated from it are accepted on every route', async () => {
    const s = await serve();
    try {
      const doc = await getDoc(s.port);
      const validator = new Validator();
      const result = await validator.validate(doc);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(validator.version).toBe('3.1');

      const requests = generateRequests(doc);
      const forms = requests.filter((r) => r.path === '/invocations').map((r) => r.form);
      expect(forms.sort()).toEqual(['dataframe_split', 'example', 'inputs', 'instances', 'text/csv']);
      expect(await sendAll(s.port, doc, requests)).toEqual([]);
      expect(requests.length).toBeGreaterThan(25);
    } finally {
      await s.close();
    }
  });

  it('for a column signature (a model MLflow wrote) describes every body form, records too, and each is accepted', async () => {
    const s = await startServer(resolveServeConfig({ modelUri: 'test/fixtures/mlflow-model-files/iris-cols-v1', port: 0 }), silentLogger());
    try {
      await s.loaded;
      const doc = await getDoc(s.port);
      expect((await new Validator().validate(doc)).valid).toBe(true);
      const requests = generateRequests(doc).filter((r) => r.path === '/invocations');
      expect(requests.map((r) => r.form).sort()).toEqual([
        'dataframe_records',
        'dataframe_split',
        'example',
        'inputs',
        'instances',
        'text/csv',
      ]);
      expect(requests.find((r) => r.form === 'text/csv')?.body?.split('\n')[0]).toBe('sepal_length,sepal_width,petal_length,petal_width');
      expect(await sendAll(s.port, doc, generateRequests(doc))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('with several models, describes each under /models/{name}/invocations, and generated requests are accepted', async () => {
    const s = await startServer(
      resolveServeConfig({
        models: [
          { primary: 'models:/iris@champion' },
          { name: 'tree', primary: 'test/fixtures/sklearn/iris-tree-autolog-sk19' },
          { name: 'cols', primary: 'test/fixtures/mlflow-model-files/iris-cols-v1' },
        ],
        registryUri: join(root, 'registry'),
        port: 0,
      }),
      silentLogger(),
    );
    try {
      await s.loaded;
      const doc = await getDoc(s.port);
      expect((await new Validator().validate(doc)).valid).toBe(true);
      const paths = Object.keys(doc.paths as object);
      expect(paths.filter((p) => p.endsWith('/invocations')).sort()).toEqual([
        '/models/cols/invocations',
        '/models/iris/invocations',
        '/models/tree/invocations',
      ]);
      const requests = generateRequests(doc);
      expect(requests.filter((r) => r.path === '/models/tree/invocations').length).toBeGreaterThan(2);
      expect(await sendAll(s.port, doc, requests)).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('follows the alias: moving champion to the version with params changes /invocations', async () => {
    const s = await serve();
    try {
      const paramsOf = (doc: Record<string, unknown>) => {
        const request = resolve(doc, invocations(doc).requestBody.content['application/json'].schema);
        const branch = (request.oneOf as { properties: { params: { properties: Record<string, unknown> } } }[])[0];
        return branch.properties.params.properties;
      };
      expect(paramsOf(await getDoc(s.port))).toEqual({});
      await registry.setAlias('iris', 'champion', '2');
      const deadline = Date.now() + 10_000;
      while (s.router.routes().slots[0].version !== '2' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const doc = await getDoc(s.port);
      expect(paramsOf(doc)).toEqual({ threshold: { type: 'number', default: 0.5 } });
      // The generated requests, now with params, are still accepted.
      const withParams = generateRequests(doc, new Set(['params', 'threshold'])).filter(
        (r) => r.path === '/invocations' && r.form === 'inputs',
      );
      expect(withParams[0].body).toContain('"params":{"threshold":');
      const res = await fetch(`http://127.0.0.1:${s.port}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: withParams[0].body,
      });
      expect(res.status).toBe(200);
    } finally {
      await registry.setAlias('iris', 'champion', '1');
      await s.close();
    }
  });

  it('needs the bearer token under auth, as do the console data; the page shell does not', async () => {
    const s = await serve({ authTokens: ['api-token'] });
    try {
      const url = (p: string) => `http://127.0.0.1:${s.port}${p}`;
      expect((await fetch(url('/openapi.json'))).status).toBe(401);
      expect((await fetch(url('/console/api/state'))).status).toBe(401);
      expect((await fetch(url('/console/api/stats'))).status).toBe(401);
      const doc = await getDoc(s.port, { authorization: 'Bearer api-token' });
      expect((doc.components as { securitySchemes: object }).securitySchemes).toHaveProperty('bearer');
      expect(invocations(doc).security).toEqual([{ bearer: [] }]);
      const page = await fetch(url('/console'));
      expect(page.status).toBe(200);
      expect(await page.text()).not.toContain('iris');
    } finally {
      await s.close();
    }
  });

  it('--no-console turns off the console, /docs and /openapi.json', async () => {
    const s = await serve({ noConsole: true });
    try {
      for (const p of ['/', '/console', '/docs', '/openapi.json', '/console/api/state']) {
        expect((await fetch(`http://127.0.0.1:${s.port}${p}`)).status, p).toBe(404);
      }
    } finally {
      await s.close();
    }
  });
});

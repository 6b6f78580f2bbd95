/**
 * A gateway of several models in one process, end to end: a real local registry and model
 * folders, the real server on 127.0.0.1, real HTTP. Routing by every form, per-model readiness,
 * alias following per model, the repository API, and a model that fails to load beside others.
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import type { Registry } from '../../src/registry/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { irisClassifier } from '../../tools/onnx/models.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}';
const V2_BODY = '{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}';
const ADMIN = 'multi-admin-token';
const dirs = tempDirs('modelgate-multi-');
let root: string;
let registry: Registry;
let localDir: string;
let brokenDir: string;

/** An iris copy whose weights are scaled, so answers differ between models. */
async function irisCopy(dir: string, scale: number): Promise<string> {
  const { weights, bias } = trainIrisLogReg();
  await cp('examples/iris', dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), irisClassifier({ weights: weights.map((r) => r.map((w) => w * scale)), bias }));
  return dir;
}

beforeAll(async () => {
  root = await dirs.make();
  registry = openRegistry(join(root, 'registry'));
  for (const [name, scale] of [
    ['fraud', 1],
    ['fraud', 0.5],
    ['churn', 0.25],
  ] as const) {
    await registry.register(await irisCopy(join(root, `${name}-${scale}`), scale), { name });
  }
  await registry.setAlias('fraud', 'champion', '1');
  localDir = await irisCopy(join(root, 'local-model'), 2);
  brokenDir = await irisCopy(join(root, 'broken'), 1);
  await writeFile(join(brokenDir, 'model.onnx'), 'not an onnx graph');
});

afterAll(() => dirs.removeAll());

async function serve(extra: Record<string, unknown>): Promise<RunningServer> {
  const config = resolveServeConfig({
    registryUri: join(root, 'registry'),
    port: 0,
    pollSeconds: 0.2,
    drainSeconds: 1,
    shutdownGraceSeconds: 0,
    ...extra,
  });
  const s = await startServer(config, silentLogger());
  await s.loaded;
  return s;
}

async function post(port: number, path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, name: res.headers.get('x-model-name'), version: res.headers.get('x-model-version'), text: await res.text() };
}

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

describe('three models in one server (real HTTP)', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve({
      models: [{ primary: 'models:/fraud@champion' }, { primary: 'models:/churn/1' }, { primary: localDir }],
      adminTokens: [ADMIN],
    });
  });
  afterAll(() => s.close());

  it('routes by the V2 path, the MLflow path and the x-model-name header', async () => {
    for (const name of ['fraud', 'churn', 'local-model']) {
      const v2 = await post(s.port, `/v2/models/${name}/infer`, V2_BODY);
      expect(v2.status, v2.text).toBe(200);
      expect(JSON.parse(v2.text).model_name).toBe(name);
      const byPath = await post(s.port, `/models/${name}/invocations`, BODY);
      expect(byPath.status, byPath.text).toBe(200);
      expect(byPath.name).toBe(name);
      const byHeader = await post(s.port, '/invocations', BODY, { 'x-model-name': name });
      expect(byHeader.status).toBe(200);
      expect(byHeader.name).toBe(name);
      expect(byHeader.text).toBe(byPath.text);
    }
    const pinned = await post(s.port, '/v2/models/churn/versions/1/infer', V2_BODY);
    expect(pinned.status).toBe(200);
    expect(JSON.parse(pinned.text).model_version).toBe('1');
    // Different weights, different answers: each name really reaches its own model.
    const answers = new Set(
      await Promise.all(['fraud', 'churn', 'local-model'].map(async (n) => (await post(s.port, `/models/${n}/invocations`, BODY)).text)),
    );
    expect(answers.size).toBe(3);
  });

  it('answers 400 naming the models when /invocations names none, 404 naming them for an unknown name', async () => {
    const none = await post(s.port, '/invocations', BODY);
    expect(none.status).toBe(400);
    expect(JSON.parse(none.text)).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
    expect(none.text).toMatch(/fraud, churn, local-model/);
    for (const [path, headers] of [
      ['/invocations', { 'x-model-name': 'nope' }],
      ['/models/nope/invocations', {}],
    ] as const) {
      const r = await post(s.port, path, BODY, headers);
      expect(r.status).toBe(404);
      expect(JSON.parse(r.text)).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
      expect(r.text).toMatch(/'nope' is not served here; this server serves fraud, churn, local-model/);
    }
    const v2 = await post(s.port, '/v2/models/nope/infer', V2_BODY);
    expect(v2.status).toBe(404);
    expect(JSON.parse(v2.text).error).toMatch(/serves fraud, churn, local-model/);
    const wrongVersion = await post(s.port, '/v2/models/churn/versions/9/infer', V2_BODY);
    expect(wrongVersion.status).toBe(404);
  });

  it('has readiness per model and overall, metadata per model, and model labels only for served models', async () => {
    expect((await get(s.port, '/ready')).status).toBe(200);
    expect((await get(s.port, '/ping')).status).toBe(200);
    for (const n of ['fraud', 'churn', 'local-model']) {
      const r = await get(s.port, `/v2/models/${n}/ready`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ name: n, ready: true });
      const meta = JSON.parse((await get(s.port, `/v2/models/${n}`)).text);
      expect(meta.name).toBe(n);
    }
    expect((await get(s.port, '/v2/models/nope/ready')).status).toBe(404);
    const metrics = (await get(s.port, '/metrics')).text;
    for (const n of ['fraud', 'churn', 'local-model']) expect(metrics).toMatch(new RegExp(`modelgate_predictions_total\\{model="${n}"`));
    expect(metrics).not.toMatch(/model="nope"/);
    expect(metrics).toMatch(/^modelgate_models_resident 3$/m);
  });

  it('lists the models in the repository index behind the admin token, and unloads and loads by name', async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    expect((await post(s.port, '/v2/repository/index', '{}')).status).toBe(401);
    const index = JSON.parse((await post(s.port, '/v2/repository/index', '{}', auth)).text);
    expect(index).toEqual([
      { name: 'fraud', version: '1', state: 'READY', reason: '' },
      { name: 'churn', version: '1', state: 'READY', reason: '' },
      { name: 'local-model', version: 'local', state: 'READY', reason: '' },
    ]);
    expect((await post(s.port, '/v2/repository/models/churn/unload', '', auth)).status).toBe(200);
    const after = JSON.parse((await post(s.port, '/v2/repository/index', '{}', auth)).text);
    expect(after[1]).toEqual({ name: 'churn', version: '', state: 'UNAVAILABLE', reason: 'not loaded' });
    expect((await get(s.port, '/v2/models/churn/ready')).status).toBe(503);
    expect((await post(s.port, '/v2/repository/models/churn/load', '', auth)).status).toBe(200);
    expect((await get(s.port, '/v2/models/churn/ready')).status).toBe(200);
    const missing = await post(s.port, '/v2/repository/models/nope/load', '', auth);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).error).toMatch(/not served here/);
  });
});

describe('one model per name follows its own alias', () => {
  it('switches fraud when its alias moves while churn keeps serving', async () => {
    const s = await serve({ models: [{ primary: 'models:/fraud@champion' }, { name: 'retention', primary: 'models:/churn/1' }] });
    try {
      expect((await post(s.port, '/models/fraud/invocations', BODY)).version).toBe('1');
      await registry.setAlias('fraud', 'champion', '2');
      const deadline = Date.now() + 10_000;
      let version: string | null = '1';
      while (version !== '2' && Date.now() < deadline) {
        version = (await post(s.port, '/models/fraud/invocations', BODY)).version;
        if (version !== '2') await new Promise((r) => setTimeout(r, 100));
      }
      expect(version).toBe('2');
      const renamed = await post(s.port, '/invocations', BODY, { 'x-model-name': 'retention' });
      expect(renamed).toMatchObject({ status: 200, name: 'retention', version: '1' });
    } finally {
      await registry.setAlias('fraud', 'champion', '1');
      await s.close();
    }
  });
});

describe('a model under a name of its own, with a canary from another registered model', () => {
  it('serves each route from its own model, both under the given name', async () => {
    const s = await serve({
      models: [
        { name: 'blend', primary: 'models:/fraud/1', canary: 'models:/churn/1', canaryWeight: 50 },
        { primary: 'models:/fraud/1' },
        { primary: 'models:/churn/1' },
      ],
    });
    try {
      const fraud = (await post(s.port, '/models/fraud/invocations', BODY)).text;
      const churn = (await post(s.port, '/models/churn/invocations', BODY)).text;
      expect(fraud).not.toBe(churn);
      const primary = await post(s.port, '/models/blend/invocations', BODY, { 'x-modelgate-route': 'primary' });
      const canary = await post(s.port, '/models/blend/invocations', BODY, { 'x-modelgate-route': 'canary' });
      expect(primary).toMatchObject({ status: 200, name: 'blend', text: fraud });
      expect(canary).toMatchObject({ status: 200, name: 'blend', text: churn });
    } finally {
      await s.close();
    }
  });
});

describe('--all-models', () => {
  it('serves every model with the alias, adds one aliased while serving and drops one whose alias is deleted', async () => {
    const s = await serve({ allModels: 'champion' });
    const served = () => s.models?.names() ?? [];
    const waitFor = async (check: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      expect(served()).toEqual(['fraud']);
      expect((await post(s.port, '/models/fraud/invocations', BODY)).status).toBe(200);
      expect((await post(s.port, '/models/churn/invocations', BODY)).status).toBe(404);
      await registry.register(await irisCopy(join(root, 'added'), 3), { name: 'added', alias: 'champion' });
      await waitFor(() => served().includes('added'));
      const added = await post(s.port, '/models/added/invocations', BODY);
      expect(added).toMatchObject({ status: 200, name: 'added', version: '1' });
      await registry.deleteAlias('added', 'champion');
      await waitFor(() => !served().includes('added'));
      const dropped = await post(s.port, '/models/added/invocations', BODY);
      expect(dropped.status).toBe(404);
      expect(dropped.text).toMatch(/this server serves fraud/);
    } finally {
      await s.close();
    }
  });

  it('alone serves every model at its latest version', async () => {
    const s = await serve({ allModels: 'latest', lazy: true });
    try {
      expect(s.models?.names()).toEqual(expect.arrayContaining(['fraud', 'churn']));
      expect((await post(s.port, '/models/fraud/invocations', BODY)).version).toBe('2');
      expect((await post(s.port, '/invocations', BODY, { 'x-model-name': 'churn' })).version).toBe('1');
    } finally {
      await s.close();
    }
  });
});

describe('a model that fails to load', () => {
  it('stays UNAVAILABLE with its reason while the others serve', async () => {
    const s = await serve({ models: [{ primary: 'models:/churn/1' }, { primary: brokenDir }], adminTokens: [ADMIN] });
    try {
      expect((await post(s.port, '/models/churn/invocations', BODY)).status).toBe(200);
      const index = JSON.parse((await post(s.port, '/v2/repository/index', '{}', { authorization: `Bearer ${ADMIN}` })).text);
      expect(index[0]).toMatchObject({ name: 'churn', state: 'READY' });
      expect(index[1]).toMatchObject({ name: 'broken', state: 'UNAVAILABLE' });
      expect(index[1].reason).toMatch(/cannot load/);
      const r = await post(s.port, '/models/broken/invocations', BODY);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.text).message).toMatch(/broken' is unavailable/);
      expect((await get(s.port, '/v2/models/broken/ready')).status).toBe(503);
      const retried = await post(s.port, '/v2/repository/models/broken/load', '', { authorization: `Bearer ${ADMIN}` });
      expect(retried.status).toBe(400);
      expect(JSON.parse(retried.text).error).toMatch(/cannot load/);
    } finally {
      await s.close();
    }
  });

  it('stops the server from starting only when every model fails', async () => {
    const config = resolveServeConfig({
      registryUri: join(root, 'registry'),
      port: 0,
      shutdownGraceSeconds: 0,
      models: [{ primary: brokenDir }],
    });
    const s = await startServer(config, silentLogger());
    await expect(s.loaded).rejects.toThrow(/broken: .*cannot load/);
    await s.close();
  });
});

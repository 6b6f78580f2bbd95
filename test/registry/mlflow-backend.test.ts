/**
 * The MLflow registry backend against a replay of a real MLflow 3.11 server (recorded exchanges,
 * real HTTP on 127.0.0.1): resolution, byte-identical downloads that serve, the cache, alias
 * writes, and what happens when the server fails, is slow, or wants credentials.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { openBackend } from '../../src/registry/backends/index.js';
import {
  LOGGED_MODEL_VERSION,
  MlflowRegistry,
  type MlflowRegistryOptions,
  artifactLocation,
  mlflowOptionsFromEnv,
  progressReporter,
} from '../../src/registry/backends/mlflow/index.js';
import { openRegistry } from '../../src/core/registration.js';
import type { Registry } from '../../src/registry/registry.js';
import { scoreBody } from '../../src/core/scoring.js';
import { loadModel } from '../../src/core/load-model.js';
import { runRegistryBackendContract } from '../contract/registry-backend.contract.js';
import { closedPort } from '../fixtures/ports.js';
import { MlflowFakeServer, seedThroughRest } from '../fixtures/mlflow-fake-server.js';
import { IRIS_V1_PROBABILITIES, MLFLOW_FILE_NAMES, MLFLOW_MODEL_FILES } from '../fixtures/mlflow-iris.js';
import { type Exchange, MlflowReplayServer, type SeenRequest } from '../fixtures/mlflow-replay-server.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const TLS = join(import.meta.dirname, '..', 'fixtures', 'mlflow-registry', 'tls');
const IRIS_V1_ID = 'm-aec314e67e3046f5b09dc492d99de9b1';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let replay: MlflowReplayServer;
const temp = tempDirs('modelgate-mlflow-');
const tempDir = temp.make;
const backends: MlflowRegistry[] = [];

/** Fast retries so failure tests take milliseconds; everything else at the defaults. */
async function newBackend(options: MlflowRegistryOptions = {}, uri = replay.url): Promise<MlflowRegistry> {
  const b = new MlflowRegistry(uri, {
    cacheDir: await tempDir(),
    maxRetries: 2,
    backoffMs: 10,
    backoffJitterMs: 0,
    timeoutMs: 5000,
    ...options,
  });
  backends.push(b);
  return b;
}

/** MLflow's env options with a cache of the test's own: the default (~/.cache/modelgate) outlives the run. */
const envOptions = async (env: Record<string, string>) => mlflowOptionsFromEnv({ MODELGATE_CACHE_DIR: await tempDir(), ...env });

const exchange = (n: number): Exchange => replay.recording.exchanges.find((e) => e.n === n)!;
const served = (pred: (r: SeenRequest) => boolean) => replay.requests.filter(pred).length;

beforeAll(async () => {
  replay = await MlflowReplayServer.start();
});

beforeEach(() => replay.reset());

afterEach(() => {
  // Any request the recording has no answer for is a test failure, whatever the test expected.
  expect(replay.takeUnmatched().map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([]);
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await replay.close();
  await temp.removeAll();
});

describe('the replay server', () => {
  it('rebuilds every recorded body byte for byte (sha256 as recorded)', () => {
    expect(replay.recording.exchanges).toHaveLength(56);
    for (const e of replay.recording.exchanges) {
      if (e.n === 19) continue; // its message was edited after recording (README, "Edits to the recordings")
      expect(sha256(e.bytes), e.file).toBe(e.response.body_sha256);
    }
  });

  it('answers anything it has no recording for with 599 and reports it', async () => {
    const res = await fetch(`${replay.url}/api/2.0/mlflow/registered-models/get?name=other`);
    expect(res.status).toBe(599);
    expect(await res.text()).toContain('No recorded MLflow exchange for GET /api/2.0/mlflow/registered-models/get?name=other');
    expect(replay.takeUnmatched()).toHaveLength(1);
  });

  it('follows the recorded alias writes: a write answers only in the state it was recorded in', async () => {
    const alias = () => fetch(`${replay.url}/api/2.0/mlflow/registered-models/alias?name=iris&alias=challenger`);
    expect(((await (await alias()).json()) as { model_version: { version: string } }).model_version.version).toBe('2');
    const set1 = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"iris","alias":"challenger","version":"1"}',
    };
    expect((await fetch(`${replay.url}/api/2.0/mlflow/registered-models/alias`, set1)).status).toBe(200);
    expect(((await (await alias()).json()) as { model_version: { version: string } }).model_version.version).toBe('1');
    // #38 was recorded with challenger at 2; now it is at 1, so the same write has no recording.
    expect((await fetch(`${replay.url}/api/2.0/mlflow/registered-models/alias`, set1)).status).toBe(599);
    expect(replay.takeUnmatched()).toHaveLength(1);
  });
});

describe('resolving models:/ URIs', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = openRegistry(await newBackend());
  });

  it('models:/iris@champion is one alias lookup, as MLflow’s client does it', async () => {
    const v = await registry.resolve('models:/iris@champion');
    expect(v).toMatchObject({
      name: 'iris',
      version: '1',
      status: 'READY',
      aliases: ['champion'],
      source: `models:/${IRIS_V1_ID}`,
      runId: '3544a4a2751e4157880479de05af3f3d',
      stage: 'None',
      tags: { validation_status: 'approved' },
      createdAt: 1795703927096,
    });
    expect(replay.exchangeLog()).toEqual([5]);
  });

  it('models:/iris/1, /latest (the highest READY version) and @challenger', async () => {
    expect((await registry.resolve('models:/iris/1')).version).toBe('1');
    expect(await registry.resolve('models:/iris/latest')).toMatchObject({ version: '2', aliases: ['challenger'] });
    expect(await registry.resolve('models:/iris@challenger')).toMatchObject({ version: '2', aliases: ['challenger'] });
    expect(await registry.resolve('models:/iris-cols/1')).toMatchObject({ name: 'iris-cols', version: '1', aliases: [], tags: {} });
    expect(replay.exchangeLog()).toEqual([3, 7, 45, 56]);
  });

  it('models:/m-<id> is an MLflow 3 logged model', async () => {
    const v = await registry.resolve(`models:/${IRIS_V1_ID}`);
    expect(v).toMatchObject({
      name: IRIS_V1_ID,
      version: LOGGED_MODEL_VERSION,
      status: 'READY',
      source: `mlflow-artifacts:/1/models/${IRIS_V1_ID}/artifacts`,
      runId: '3544a4a2751e4157880479de05af3f3d',
    });
    expect(v.tags['mlflow.user']).toBe('iris-fixtures');
    expect(replay.exchangeLog()).toEqual([21]);
  });

  it('a missing alias (MLflow: 400 INVALID_PARAMETER_VALUE) is RESOURCE_DOES_NOT_EXIST (404)', async () => {
    const err = await registry.resolve('models:/iris@nope').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    expect((err as Error).message).toContain('Registered model alias nope not found.');
    expect((err as Error).message).toContain(replay.url);
    expect(replay.exchangeLog()).toEqual([6]);
  });

  it('an unknown model or version is 404, asked once (4xx are not retried)', async () => {
    await expect(registry.resolve('models:/nope@champion')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    await expect(registry.resolve('models:/iris/99')).rejects.toMatchObject({
      code: 'RESOURCE_DOES_NOT_EXIST',
      message: expect.stringContaining('Model Version (name=iris, version=99) not found'),
    });
    await expect(registry.backend.getModel('nope')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    expect(replay.exchangeLog()).toEqual([53, 4, 2]);
  });

  it('models and versions list with their aliases', async () => {
    expect(await registry.backend.getModel('iris')).toEqual({
      name: 'iris',
      createdAt: 1795703926852,
      tags: { task: 'classification' },
      aliases: { challenger: '2', champion: '1' },
      latestVersion: '2',
    });
    const models = await registry.listModels();
    expect(models.map((m) => [m.name, m.latestVersion, m.aliases])).toEqual([
      ['iris', '2', { challenger: '2', champion: '1' }],
      ['iris-cols', '1', {}],
    ]);
    const versions = await registry.listVersions('iris');
    expect(versions.map((v) => [v.version, v.aliases, v.status])).toEqual([
      ['1', ['champion'], 'READY'],
      ['2', ['challenger'], 'READY'],
    ]);
    expect(replay.exchangeLog()).toEqual([1, 9, 1, 8]);
  });

  it('opens through the registry URI table for http: and https:', () => {
    expect(openBackend(replay.url)).toBeInstanceOf(MlflowRegistry);
    expect(openBackend('https://mlflow.example:5000/prefix/')).toMatchObject({ uri: 'https://mlflow.example:5000/prefix/' });
    expect((openBackend('https://mlflow.example:5000/prefix/') as MlflowRegistry).http.baseUrl).toBe('https://mlflow.example:5000/prefix');
  });
});

describe('materialize: MLflow’s files, byte-identical, served', () => {
  it('downloads models:/iris@champion the way MLflow’s client does, and every file is the recorded bytes', async () => {
    const backend = await newBackend();
    const v = await backend.getVersionByAlias('iris', 'champion');
    const m = await backend.materialize(v);
    const log = replay.exchangeLog();
    // alias → get-download-uri → listing → the 7 files (in parallel, any order)
    expect(log.slice(0, 3)).toEqual([5, 10, 11]);
    expect([...log.slice(3)].sort((a, b) => a! - b!)).toEqual([12, 13, 14, 15, 16, 17, 18]);
    expect(m.files.map((f) => f.path)).toEqual(MLFLOW_FILE_NAMES);
    for (const f of m.files) {
      const bytes = await readFile(join(m.dir, f.path));
      const recorded = replay.recording.exchanges.find((e) => e.request.path.endsWith(`/${IRIS_V1_ID}/artifacts/${f.path}`))!;
      expect(sha256(bytes), f.path).toBe(recorded.response.body_sha256);
      expect(f).toEqual({ path: f.path, size: recorded.response.body_size, sha256: recorded.response.body_sha256 });
      expect(bytes.equals(await readFile(join(MLFLOW_MODEL_FILES, 'iris-v1', f.path))), f.path).toBe(true);
    }
    expect((await readdir(m.dir)).sort()).toEqual(MLFLOW_FILE_NAMES);
  });

  it('serves through loadModel + scoreBody with MLflow’s own serving example', async () => {
    const registry = openRegistry(await newBackend());
    const servable = await loadModel('models:/iris@champion', registry);
    try {
      expect(servable.ref).toMatchObject({ name: 'iris', version: '1' });
      const example = await readFile(join(MLFLOW_MODEL_FILES, 'iris-v1', 'serving_input_example.json'), 'utf8');
      // The ONNX graph has one named output, so MLflow's pyfunc answers a dict of it.
      const out = JSON.parse(await scoreBody(servable, 'application/json', example)) as { predictions: { probabilities: number[][] } };
      expect(out.predictions.probabilities).toHaveLength(3);
      out.predictions.probabilities.forEach((row, i) => row.forEach((p, j) => expect(p).toBeCloseTo(IRIS_V1_PROBABILITIES[i][j], 5)));
    } finally {
      await servable.model.unload();
    }
  });

  it('serves iris-cols (column signature, dataframe_split example)', async () => {
    const registry = openRegistry(await newBackend());
    const servable = await loadModel('models:/iris-cols/1', registry);
    try {
      const log = replay.exchangeLog();
      expect(log.slice(0, 3)).toEqual([56, 26, 27]);
      expect([...log.slice(3)].sort((a, b) => a! - b!)).toEqual([28, 29, 30, 31, 32, 33, 34]);
      const example = await readFile(join(MLFLOW_MODEL_FILES, 'iris-cols-v1', 'serving_input_example.json'), 'utf8');
      // MLflow's ONNX pyfunc answers a DataFrame input with a DataFrame of each output reshaped to 1-D.
      const out = JSON.parse(await scoreBody(servable, 'application/json', example)) as { predictions: { probabilities: number }[] };
      // The same weights as iris v1, so the same probabilities.
      expect(out.predictions).toHaveLength(9);
      out.predictions.forEach((p, k) => expect(p.probabilities).toBeCloseTo(IRIS_V1_PROBABILITIES[Math.floor(k / 3)][k % 3], 5));
    } finally {
      await servable.model.unload();
    }
  });

  it('materializes a logged model (models:/m-<id>) from its artifact URI', async () => {
    const backend = await newBackend();
    const m = await backend.materialize(await backend.getLoggedModel(IRIS_V1_ID));
    expect(replay.exchangeLog().slice(0, 2)).toEqual([21, 11]);
    expect(m.files.find((f) => f.path === 'model.onnx')?.sha256).toBe(exchange(15).response.body_sha256);
  });

  it('the second materialize uses no network at all, and the cache survives a new backend instance', async () => {
    const backend = await newBackend();
    const v = await backend.getVersion('iris', '1');
    const first = await backend.materialize(v);
    const before = replay.requests.length;
    const second = await backend.materialize(v);
    expect(replay.requests.length).toBe(before);
    expect(second).toEqual(first);
    // Another process (a new backend on the same cache dir) reuses it too.
    const other = await newBackend({ cacheDir: backend.cacheDir });
    expect(await other.materialize(v)).toEqual(first);
    expect(replay.requests.length).toBe(before);
  });

  it('concurrent materialize calls share one download', async () => {
    const backend = await newBackend();
    const v = await backend.getVersion('iris', '1');
    const [a, b] = await Promise.all([backend.materialize(v), backend.materialize(v)]);
    expect(a).toEqual(b);
    expect(served((r) => r.exchange === 11)).toBe(1);
  });

  it('a cached file that no longer matches its digest is downloaded again', async () => {
    const backend = await newBackend();
    const v = await backend.getVersion('iris', '1');
    const m = await backend.materialize(v);
    await writeFile(join(m.dir, 'model.onnx'), 'tampered');
    replay.reset();
    const again = await backend.materialize(v);
    expect(served((r) => r.exchange === 15)).toBe(1);
    expect(sha256(await readFile(join(again.dir, 'model.onnx')))).toBe(exchange(15).response.body_sha256);
  });

  it('reports progress while downloading', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const backend = await newBackend({ progress: progressReporter({ stream, minBytes: 0 }) });
    await backend.materialize(await backend.getVersion('iris', '1'));
    expect(lines[0]).toMatch(/^Downloading models:\/iris\/1: 0% \(0\.0 MB of 0\.0 MB, 0\/7 files\)$/);
    expect(lines.at(-1)).toMatch(/^Downloading models:\/iris\/1: 100% .* 7\/7 files\)$/);
  });

  it('a version that is not READY is refused before any download', async () => {
    const backend = await newBackend();
    const v = await backend.getVersion('iris', '1');
    await expect(backend.materialize({ ...v, status: 'PENDING_REGISTRATION' })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(replay.exchangeLog()).toEqual([3]);
  });
});

describe('aliases, against the recorded writes', () => {
  it('set, read, delete and set back, exactly as recorded (#38–#45)', async () => {
    const backend = await newBackend();
    await backend.setAlias('iris', 'challenger', '1');
    expect(await backend.getVersionByAlias('iris', 'challenger')).toMatchObject({ version: '1', aliases: ['challenger', 'champion'] });
    expect((await backend.getModel('iris')).aliases).toEqual({ challenger: '1', champion: '1' });
    expect(await backend.deleteAlias('iris', 'challenger')).toBe(true);
    await expect(backend.getVersionByAlias('iris', 'challenger')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    await backend.setAlias('iris', 'challenger', '2');
    expect(await backend.getVersionByAlias('iris', 'challenger')).toMatchObject({ version: '2' });
    expect(replay.exchangeLog()).toEqual([38, 39, 40, 39, 41, 42, 44, 45]);
    // The writes sent MLflow's JSON bodies with a Content-Type (MLflow answers 400 without it).
    expect(replay.requests[0]).toMatchObject({ method: 'POST', headers: expect.objectContaining({ 'content-type': 'application/json' }) });
  });

  it('deleting an alias that does not exist returns false and sends no DELETE', async () => {
    const backend = await newBackend();
    expect(await backend.deleteAlias('iris', 'nope')).toBe(false);
    expect(replay.exchangeLog()).toEqual([6]);
  });

  it('unknown models and versions are 404 for writes too (#46–#48)', async () => {
    const backend = await newBackend();
    await expect(backend.setAlias('nope', 'champion', '1')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    await expect(backend.setAlias('iris', 'champion', '99')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    await expect(backend.deleteAlias('nope', 'champion')).rejects.toMatchObject({ code: 'RESOURCE_DOES_NOT_EXIST', status: 404 });
    expect(replay.exchangeLog()).toEqual([46, 47, 53, 48]);
  });

  it('invalid aliases and versions are refused without a request', async () => {
    const backend = await newBackend();
    await expect(backend.setAlias('iris', 'latest', '1')).rejects.toMatchObject({ code: 'INVALID_PARAMETER_VALUE' });
    await expect(backend.setAlias('iris', 'champion', 'one')).rejects.toMatchObject({ code: 'INVALID_PARAMETER_VALUE' });
    expect(replay.requests).toEqual([]);
  });

  it('registering is MLflow’s job: a clear NOT_IMPLEMENTED naming the MLflow API', async () => {
    const registry = openRegistry(await newBackend());
    const err = await registry.register(join(MLFLOW_MODEL_FILES, 'iris-v1'), { name: 'iris' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOT_IMPLEMENTED', status: 501 });
    expect((err as Error).message).toMatch(/registered_model_name|create_model_version/);
    expect(replay.requests).toEqual([]);
  });
});

describe('when the server fails', () => {
  const isOnnx = (r: SeenRequest) => r.path.endsWith('/artifacts/model.onnx');

  it('a server that dies mid-download leaves nothing that looks complete; the next attempt completes', async () => {
    const backend = await newBackend();
    const v = await backend.getVersion('iris', '1');
    replay.addFault({ when: isOnnx, fault: { kind: 'die', afterBytes: 100 }, times: 1 });
    const err = await backend.materialize(v).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'TEMPORARILY_UNAVAILABLE' });
    expect((err as Error).message).toContain(replay.url);
    // No cache entry for iris, and no staging folder left behind.
    const root = join(backend.cacheDir, 'mlflow');
    expect(existsSync(join(root, 'iris')) ? await readdir(join(root, 'iris')) : []).toEqual([]);
    expect(await readdir(join(root, '.staging'))).toEqual([]);

    await replay.restart();
    const m = await backend.materialize(v);
    expect(sha256(await readFile(join(m.dir, 'model.onnx')))).toBe(exchange(15).response.body_sha256);
    expect(m.files).toHaveLength(7);
  });

  it('a connection dropped mid-file is retried for that file only', async () => {
    const backend = await newBackend();
    const v = await backend.getVersion('iris', '1');
    replay.addFault({ when: isOnnx, fault: { kind: 'truncate', afterBytes: 100 }, times: 1 });
    const m = await backend.materialize(v);
    expect(served(isOnnx)).toBe(2);
    expect(served((r) => r.path.endsWith('/artifacts/MLmodel'))).toBe(1);
    expect(sha256(await readFile(join(m.dir, 'model.onnx')))).toBe(exchange(15).response.body_sha256);
  });

  // Timeouts, slow on purpose: mlflow-backend-timeouts.e2e.test.ts.

  it('5xx then success: retried with backoff', async () => {
    const backend = await newBackend();
    replay.addFault({ when: (r) => r.path.endsWith('/model-versions/get'), fault: { kind: 'status', status: 503 }, times: 2 });
    expect((await backend.getVersion('iris', '1')).version).toBe('1');
    expect(replay.requests.map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('5xx that persists: a clear error after the retries', async () => {
    const backend = await newBackend({ maxRetries: 1 });
    replay.addFault({
      when: () => true,
      fault: { kind: 'status', status: 500, body: '{"error_code": "INTERNAL_ERROR", "message": "database is locked"}' },
    });
    const err = await backend.getVersion('iris', '1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TEMPORARILY_UNAVAILABLE', status: 503 });
    expect((err as Error).message).toContain('database is locked');
    expect((err as Error).message).toContain('gave up after 2 attempts');
    expect(replay.requests).toHaveLength(2);
  });

  it('429 is retried, honouring Retry-After', async () => {
    const backend = await newBackend();
    replay.addFault({
      when: () => true,
      fault: {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '0.3' },
        body: '{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}',
      },
      times: 1,
    });
    const started = Date.now();
    expect((await backend.getVersion('iris', '1')).version).toBe('1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(replay.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('an unreachable server is a clear error naming the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const backend = await newBackend({ maxRetries: 1 }, url);
    const err = await backend.getVersionByAlias('iris', 'champion').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TEMPORARILY_UNAVAILABLE' });
    expect((err as Error).message).toMatch(new RegExp(`Cannot reach the MLflow server at ${url} .*ECONNREFUSED`));
  });

  it('a server that is not MLflow (HTML 404 on the API) says so', async () => {
    const backend = await newBackend();
    // #24: MLflow's own HTML 404 for a route that exists only under /ajax-api.
    const err = await backend.http
      .json('GET', `/api/2.0/mlflow/logged-models/${IRIS_V1_ID}/artifacts/files`, { query: { artifact_file_path: 'MLmodel' } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENDPOINT_NOT_FOUND' });
    expect((err as Error).message).toContain(
      `answered 404 (text/html; charset=utf-8), not an MLflow error: is ${replay.url} an MLflow tracking server`,
    );
    expect(replay.exchangeLog()).toEqual([24]);
  });
});

describe('authentication and TLS', () => {
  it('sends MLFLOW_TRACKING_TOKEN as a bearer token', async () => {
    replay.requireAuthorization = 'Bearer s3cret';
    const backend = await newBackend(
      await envOptions({ MLFLOW_TRACKING_TOKEN: 's3cret', MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p' }),
    );
    await backend.materialize(await backend.getVersion('iris', '1'));
    expect(replay.requests.length).toBe(10);
    expect(replay.requests.every((r) => r.headers.authorization === 'Bearer s3cret')).toBe(true);
  });

  it('sends MLFLOW_TRACKING_USERNAME/PASSWORD as basic auth (and credentials in the URI the same way)', async () => {
    const basic = `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`;
    replay.requireAuthorization = basic;
    const backend = await newBackend(await envOptions({ MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: 'pa:ss' }));
    expect((await backend.getVersion('iris', '1')).version).toBe('1');
    const inUri = await newBackend({}, `http://alice:${encodeURIComponent('pa:ss')}@127.0.0.1:${replay.port}`);
    expect(inUri.http.baseUrl).toBe(replay.url);
    expect((await inUri.getVersion('iris', '1')).version).toBe('1');
    expect(replay.requests.map((r) => r.headers.authorization)).toEqual([basic, basic]);
  });

  it('wrong credentials: 401 surfaces clearly, once (not retried), without the secret', async () => {
    replay.requireAuthorization = 'Bearer right';
    const backend = await newBackend({ auth: { token: 'wrong-token' } });
    const err = await backend.getVersionByAlias('iris', 'champion').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect((err as Error).message).toContain(`The MLflow server at ${replay.url} refused the request (401 Unauthorized)`);
    expect((err as Error).message).toContain('MLFLOW_TRACKING_TOKEN');
    expect((err as Error).message).not.toContain('wrong-token');
    expect(replay.requests).toHaveLength(1);
    const anonymous = await newBackend();
    await expect(anonymous.getModel('iris')).rejects.toThrow(/with no credentials/);
  });

  describe('over HTTPS with a private CA', () => {
    let tls: MlflowReplayServer;
    beforeAll(async () => {
      tls = await MlflowReplayServer.start({
        tls: { key: await readFile(join(TLS, 'server-key.pem'), 'utf8'), cert: await readFile(join(TLS, 'server.pem'), 'utf8') },
      });
    });
    afterAll(() => tls.close());
    afterEach(() => expect(tls.takeUnmatched()).toEqual([]));

    it('an untrusted certificate fails at once with a hint at the TLS variables', async () => {
      const backend = await newBackend({}, tls.url);
      const err = await backend.getVersion('iris', '1').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect((err as Error).message).toMatch(/TLS verification of the MLflow server at https:\/\/127\.0\.0\.1:\d+ failed/);
      expect((err as Error).message).toContain('MLFLOW_TRACKING_SERVER_CERT_PATH');
      expect(tls.requests).toHaveLength(0);
    });

    it('trusts the CA bundle in MLFLOW_TRACKING_SERVER_CERT_PATH', async () => {
      const backend = await newBackend(await envOptions({ MLFLOW_TRACKING_SERVER_CERT_PATH: join(TLS, 'ca.pem') }), tls.url);
      const m = await backend.materialize(await backend.getVersionByAlias('iris', 'champion'));
      expect(m.files.find((f) => f.path === 'model.onnx')?.sha256).toBe(exchange(15).response.body_sha256);
    });

    it('MLFLOW_TRACKING_INSECURE_TLS=true skips verification', async () => {
      const backend = await newBackend(await envOptions({ MLFLOW_TRACKING_INSECURE_TLS: 'true' }), tls.url);
      expect((await backend.getVersion('iris', '1')).version).toBe('1');
    });
  });

  it('reads MLflow’s variables the way MLflow does', () => {
    expect(
      mlflowOptionsFromEnv({
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: '7',
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '2',
        MLFLOW_HTTP_REQUEST_TIMEOUT: '120',
        MODELGATE_CACHE_DIR: '/var/cache/mg',
      }),
    ).toMatchObject({ maxRetries: 7, backoffMs: 2000, timeoutMs: 120_000, cacheDir: '/var/cache/mg', insecureTls: false });
    expect(mlflowOptionsFromEnv({ HOME: '/home/x' }).cacheDir).toMatch(/\.cache\/modelgate$/);
    expect(() => mlflowOptionsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'true', MLFLOW_TRACKING_SERVER_CERT_PATH: '/ca.pem' })).toThrow(
      /cannot both be set/,
    );
    expect(() => mlflowOptionsFromEnv({ MLFLOW_HTTP_REQUEST_TIMEOUT: 'soon' })).toThrow(
      /MLFLOW_HTTP_REQUEST_TIMEOUT must be a non-negative number/,
    );
  });
});

describe('artifact URIs', () => {
  const base = 'http://mlflow:5000';

  it('mlflow-artifacts:/ resolves under the tracking server (keeping its path prefix), or the host it names', () => {
    expect(artifactLocation(`mlflow-artifacts:/1/models/${IRIS_V1_ID}/artifacts`, base)).toEqual({
      base: 'http://mlflow:5000/api/2.0/mlflow-artifacts/artifacts',
      path: `1/models/${IRIS_V1_ID}/artifacts`,
    });
    expect(artifactLocation('mlflow-artifacts:/1/abc/artifacts/model', 'https://gw.example/mlflow')).toEqual({
      base: 'https://gw.example/mlflow/api/2.0/mlflow-artifacts/artifacts',
      path: '1/abc/artifacts/model',
    });
    expect(artifactLocation('mlflow-artifacts://art.example:8443/2/x/artifacts', 'https://gw.example/mlflow')).toEqual({
      base: 'https://art.example:8443/api/2.0/mlflow-artifacts/artifacts',
      path: '2/x/artifacts',
    });
  });

  it('plain http(s) URIs must point into an MLflow artifact API', () => {
    expect(artifactLocation('https://other.example/api/2.0/mlflow-artifacts/artifacts/3/m/artifacts', base)).toEqual({
      base: 'https://other.example/api/2.0/mlflow-artifacts/artifacts',
      path: '3/m/artifacts',
    });
    expect(() => artifactLocation('https://files.example/models/iris', base)).toThrow(
      /must contain '\/api\/2\.0\/mlflow-artifacts\/artifacts\/'/,
    );
  });

  it.each([
    's3://bucket/1/models/m-1/artifacts',
    'gs://bucket/m',
    'wasbs://c@acct.blob.core.windows.net/m',
    'abfss://c@acct.dfs.core.windows.net/m',
  ])('cloud stores are a clear NOT_IMPLEMENTED naming the scheme: %s', (uri) => {
    const scheme = uri.slice(0, uri.indexOf(':'));
    expect(() => artifactLocation(uri, base)).toThrow(
      expect.objectContaining({ code: 'NOT_IMPLEMENTED', message: expect.stringContaining(`URI scheme '${scheme}:'`) }),
    );
  });

  it('a path on the server’s own disk asks for --serve-artifacts', () => {
    expect(() => artifactLocation('/srv/mlflow/artifacts/1/x', base)).toThrow(/--serve-artifacts/);
  });
});

// ---------------------------------------------------------------------------------------------
// The shared contract needs state the recording does not have (models with 1..11 versions), so it
// runs against a small MLflow-like fake (test/fixtures/mlflow-fake-server.ts), seeded only through
// MLflow's REST API. MLflow itself cannot be installed here (PyPI is unreachable); set
// MODELGATE_TEST_MLFLOW_URI to a throw-away `mlflow server --serve-artifacts` to run the same
// contract against the real thing.

async function irisFiles(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const f of MLFLOW_FILE_NAMES) files.set(f, await readFile(join(MLFLOW_MODEL_FILES, 'iris-v1', f)));
  return files;
}

runRegistryBackendContract({
  name: 'MLflow registry (MLflow-like fake, paginated)',
  async newBackend() {
    const fake = await MlflowFakeServer.start({ pageSize: 2 });
    const cacheDir = await tempDir();
    const backend = new MlflowRegistry(fake.url, { cacheDir, maxRetries: 0 });
    const files = await irisFiles();
    return {
      backend,
      seed: (name, count) => seedThroughRest(fake.url, name, count, files),
      async cleanup() {
        await backend.close();
        await fake.close();
      },
    };
  },
});

const realMlflow = process.env.MODELGATE_TEST_MLFLOW_URI;
if (realMlflow !== undefined && realMlflow !== '') {
  runRegistryBackendContract({
    name: `MLflow registry (real server at ${realMlflow})`,
    async newBackend() {
      const backend = new MlflowRegistry(realMlflow, { ...mlflowOptionsFromEnv(process.env), cacheDir: await tempDir() });
      const files = await irisFiles();
      return { backend, seed: (name, count) => seedThroughRest(realMlflow, name, count, files), cleanup: () => backend.close() };
    },
  });
} else {
  describe.skip('RegistryBackend contract: MLflow registry (real server; set MODELGATE_TEST_MLFLOW_URI)', () => {
    it('needs a running MLflow server', () => undefined);
  });
}

describe('other artifact sources (MLflow-like fake)', () => {
  let fake: MlflowFakeServer;
  beforeAll(async () => {
    fake = await MlflowFakeServer.start({ rawDownloadUri: true });
  });
  afterAll(() => fake.close());

  const put = async (path: string, data: Buffer | string) => {
    const res = await fetch(`${fake.url}/api/2.0/mlflow-artifacts/artifacts/${path}`, { method: 'PUT', body: data });
    expect(res.status).toBe(200);
  };
  const create = async (name: string, source: string) => {
    await fetch(`${fake.url}/api/2.0/mlflow/registered-models/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    const res = await fetch(`${fake.url}/api/2.0/mlflow/model-versions/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, source }),
    });
    expect(res.status).toBe(200);
  };

  it('a runs:/ source is followed to the run’s artifact root; nested directories are listed recursively', async () => {
    fake.addRun('0a1b2c', 'mlflow-artifacts:/0/0a1b2c/artifacts');
    for (const [f, data] of await irisFiles()) await put(`0/0a1b2c/artifacts/model/${f}`, data);
    await put('0/0a1b2c/artifacts/model/extra/deep/notes.txt', 'nested');
    await create('from-run', 'runs:/0a1b2c/model');
    const backend = await newBackend({}, fake.url);
    const m = await backend.materialize(await backend.getVersion('from-run', '1'));
    expect(m.files.map((f) => f.path)).toEqual(
      [...MLFLOW_FILE_NAMES.slice(0, 1), 'conda.yaml', 'extra/deep/notes.txt', ...MLFLOW_FILE_NAMES.slice(2)].sort(),
    );
    expect(await readFile(join(m.dir, 'extra', 'deep', 'notes.txt'), 'utf8')).toBe('nested');
    const servable = await loadModel('models:/from-run/1', openRegistry(backend));
    await servable.model.unload();
  });

  it('models:/ download URIs are followed: a logged model (m-<id>) or another registered version', async () => {
    fake.addLoggedModel('m-0123456789abcdef', 'mlflow-artifacts:/0/0a1b2c/artifacts/model');
    await create('via-logged-model', 'models:/m-0123456789abcdef');
    await create('via-version', 'models:/from-run/1');
    const backend = await newBackend({}, fake.url);
    for (const name of ['via-logged-model', 'via-version']) {
      const m = await backend.materialize(await backend.getVersion(name, '1'));
      expect(m.files.find((f) => f.path === 'model.onnx')?.sha256, name).toBe(exchange(15).response.body_sha256);
    }
  });

  it('an s3:// artifact location is a clear NOT_IMPLEMENTED naming the scheme', async () => {
    await create('on-s3', 's3://ml-bucket/1/models/m-1/artifacts');
    const backend = await newBackend({}, fake.url);
    const err = await backend.materialize(await backend.getVersion('on-s3', '1')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOT_IMPLEMENTED', status: 501 });
    expect((err as Error).message).toContain("URI scheme 's3:' (s3://ml-bucket/1/models/m-1/artifacts)");
    expect(existsSync(join(backend.cacheDir, 'mlflow', 'on-s3'))).toBe(false);
  });

  it('legacy stages: models:/<name>/<stage> is the newest version in that stage', async () => {
    const registry = openRegistry(await newBackend({}, fake.url));
    expect((await registry.resolve('models:/from-run/None')).version).toBe('1');
    await expect(registry.resolve('models:/from-run/Production')).rejects.toMatchObject({
      code: 'RESOURCE_DOES_NOT_EXIST',
      message: expect.stringContaining("no READY version in stage 'Production'"),
    });
  });
});

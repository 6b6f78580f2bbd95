/**
 * The CLI bundle (dist/modelgate.mjs, built by `npm run build`) against the MLflow replay server:
 * `serve`, `predict` and `registry` with --registry http://…, MLflow's own MLFLOW_TRACKING_URI,
 * and a download killed half-way that is never used.
 */
import { existsSync } from 'node:fs';
import { cp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ROOT,
  type RunOptions,
  killAll,
  requireBuiltCli,
  sleep,
  startCli,
  startCliServer,
  startProcess,
  stop,
  waitListening,
  waitReady,
} from '../fixtures/cli.js';
import { closedPort } from '../fixtures/ports.js';
import { MlflowFakeServer, seedThroughRest } from '../fixtures/mlflow-fake-server.js';
import { IRIS_V1 } from '../fixtures/mlflow-iris.js';
import { MlflowReplayServer } from '../fixtures/mlflow-replay-server.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { waitFor200 } from '../docker/helpers.js';

const EXAMPLE = join(IRIS_V1, 'serving_input_example.json');

const temp = tempDirs('modelgate-mlflow-cli-');
let replay: MlflowReplayServer;
let cacheDir: string;

/** Each test's own cache, and MLflow's retry backoff shortened so failures take milliseconds. */
function options(env: Record<string, string> = {}, input?: string): RunOptions {
  return { cwd: ROOT, env: { MODELGATE_CACHE_DIR: cacheDir, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01', ...env }, input };
}

const runCli = (args: string[], env?: Record<string, string>, input?: string) => startCli(args, options(env, input)).done;

/** Serves and checks that /invocations answers MLflow's example with iris v1's probabilities. */
async function serveAndScore(args: string[], env: Record<string, string> = {}): Promise<void> {
  const s = startCliServer(['serve', ...args, '-p', '0'], options(env));
  try {
    await waitReady(s);
    const res = await fetch(`${s.base}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: await readFile(EXAMPLE, 'utf8'),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: { probabilities: number[][] } };
    expect(body.predictions.probabilities.map((r) => r.indexOf(Math.max(...r)))).toEqual([0, 0, 0]);
    expect(body.predictions.probabilities[0][0]).toBeCloseTo(0.981584, 5);
  } finally {
    await stop(s);
  }
}

beforeAll(async () => {
  requireBuiltCli();
  replay = await MlflowReplayServer.start();
});

beforeEach(async () => {
  replay.reset();
  cacheDir = await temp.make();
});

afterEach(() => {
  expect(replay.takeUnmatched().map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([]);
});

afterAll(async () => {
  killAll();
  await replay.close();
  await temp.removeAll();
});

describe('modelgate against an MLflow registry', () => {
  it('serve -m models:/iris@champion --registry http://… answers /invocations', async () => {
    await serveAndScore(['-m', 'models:/iris@champion', '--registry', replay.url]);
    // alias → version → download URI → listing → the 7 files
    expect(new Set(replay.exchangeLog())).toEqual(new Set([5, 3, 10, 11, 12, 13, 14, 15, 16, 17, 18]));
  });

  it('serve -m models:/m-<id> serves an MLflow 3 logged model', async () => {
    await serveAndScore(['-m', 'models:/m-aec314e67e3046f5b09dc492d99de9b1', '--registry', replay.url]);
    expect(new Set(replay.exchangeLog())).toEqual(new Set([21, 11, 12, 13, 14, 15, 16, 17, 18]));
  });

  it('registry show / versions / list', async () => {
    const show = await runCli(['registry', 'show', 'models:/iris@champion', '--registry', replay.url]);
    expect(show.stderr).toBe('');
    expect(JSON.parse(show.stdout)).toMatchObject({
      name: 'iris',
      version: '1',
      aliases: ['champion'],
      source: 'models:/m-aec314e67e3046f5b09dc492d99de9b1',
    });

    const versions = await runCli(['registry', 'versions', 'iris', '--registry', replay.url]);
    expect(versions.code).toBe(0);
    const rows = versions.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^VERSION\s+FLAVOR\s+ALIASES\s+STAGE\s+CREATED\s+SOURCE$/);
    expect(rows[1]).toMatch(/^1\s+-\s+champion\s+None\s+\S+\s+models:\/m-aec314e67e3046f5b09dc492d99de9b1$/);
    expect(rows[2]).toMatch(/^2\s+-\s+challenger\s+/);

    const list = await runCli(['registry', 'list', '--json', '--registry', replay.url]);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((m) => m.name)).toEqual(['iris', 'iris-cols']);
  });

  it('registry alias set | delete, as recorded', async () => {
    const set = await runCli(['registry', 'alias', 'set', 'iris', 'challenger', '1', '--registry', replay.url]);
    expect(set).toMatchObject({ code: 0, stdout: 'models:/iris@challenger -> version 1\n' });
    const shown = await runCli(['registry', 'show', 'models:/iris@challenger', '--registry', replay.url]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ version: '1', aliases: ['challenger', 'champion'] });
    const del = await runCli(['registry', 'alias', 'delete', 'iris', 'challenger', '--registry', replay.url]);
    expect(del).toMatchObject({ code: 0, stdout: 'deleted models:/iris@challenger\n' });
    const gone = await runCli(['registry', 'show', 'models:/iris@challenger', '--registry', replay.url]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('[RESOURCE_DOES_NOT_EXIST]: Registered model alias challenger not found.');
    const back = await runCli(['registry', 'alias', 'set', 'iris', 'challenger', '2', '--registry', replay.url]);
    expect(back.code).toBe(0);
    expect(replay.exchangeLog()).toEqual([38, 39, 39, 41, 42, 44]);
  });

  it('MLFLOW_TRACKING_URI is the registry when neither --registry nor MODELGATE_REGISTRY_URI is given', async () => {
    const env = { MLFLOW_TRACKING_URI: replay.url };
    const show = await runCli(['registry', 'show', 'models:/iris/1'], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'iris', version: '1' });
    const predicted = await runCli(['predict', '-m', 'models:/iris@champion'], env, await readFile(EXAMPLE, 'utf8'));
    expect(predicted.stderr).toBe('');
    expect((JSON.parse(predicted.stdout) as { predictions: { probabilities: number[][] } }).predictions.probabilities).toHaveLength(3);
    await serveAndScore(['-m', 'models:/iris@champion'], env);
    // MLFLOW_REGISTRY_URI wins over MLFLOW_TRACKING_URI, and MODELGATE_REGISTRY_URI over both.
    const unreachable = `http://127.0.0.1:${await closedPort()}`;
    const reg = await runCli(['registry', 'show', 'models:/iris/1'], { MLFLOW_TRACKING_URI: unreachable, MLFLOW_REGISTRY_URI: replay.url });
    expect(reg.code).toBe(0);
    const own = await runCli(['registry', 'show', 'models:/iris/1'], {
      MLFLOW_TRACKING_URI: unreachable,
      MODELGATE_REGISTRY_URI: replay.url,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    });
    expect(own.code).toBe(0);
  });

  it('the second run downloads nothing: the cache is reused', async () => {
    const input = await readFile(EXAMPLE, 'utf8');
    expect((await runCli(['predict', '-m', 'models:/iris/1', '--registry', replay.url], {}, input)).code).toBe(0);
    const first = replay.requests.length;
    expect((await runCli(['predict', '-m', 'models:/iris/1', '--registry', replay.url], {}, input)).code).toBe(0);
    // Only the version lookup again.
    expect(replay.exchangeLog().slice(first)).toEqual([3]);
  });

  it('an unreachable server: exit 1 and a message naming the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await runCli(['registry', 'show', 'models:/iris@champion', '--registry', url], { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`modelgate: error [TEMPORARILY_UNAVAILABLE]: Cannot reach the MLflow server at ${url}`);
    expect(r.stderr).toContain('gave up after 2 attempts');
  });

  it('a process killed mid-download leaves only staging; the next run completes and never uses the partial file', async () => {
    const input = await readFile(EXAMPLE, 'utf8');
    replay.addFault({ when: (r) => r.path.endsWith('/artifacts/model.onnx'), fault: { kind: 'stall', afterBytes: 100 }, times: 1 });
    const p = startCli(['predict', '-m', 'models:/iris/1', '--registry', replay.url], options({}, input));
    const deadline = Date.now() + 15_000;
    while (!replay.requests.some((r) => r.fault === 'stall') && Date.now() < deadline) await sleep(20);
    await sleep(100);
    p.child.kill('SIGKILL');
    await p.done;
    const root = join(cacheDir, 'mlflow');
    expect(existsSync(join(root, 'iris'))).toBe(false);
    const staged = await readdir(join(root, '.staging'));
    expect(staged).toHaveLength(1);
    expect((await readFile(join(root, '.staging', staged[0], 'artifacts', 'model.onnx'))).length).toBe(100);

    const r = await runCli(['predict', '-m', 'models:/iris/1', '--registry', replay.url], {}, input);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const entries = await readdir(join(root, 'iris'));
    expect(entries).toHaveLength(1);
    expect((await readFile(join(root, 'iris', entries[0], 'artifacts', 'model.onnx'))).length).toBe(289);
  });
});

describe('credentials in registry URIs', () => {
  const SECRET = 's3cret-Pa55';
  const withUser = () => replay.url.replace('http://', `http://alice:${SECRET}@`);

  it('never prints them: not in the logs of serve (flag or MLFLOW_TRACKING_URI), nor in errors', async () => {
    for (const [args, env] of [
      [['--registry', withUser()], {}],
      [[], { MLFLOW_TRACKING_URI: withUser() }],
    ] as const) {
      const s = startCliServer(['serve', '-m', 'models:/iris@champion', ...args, '-p', '0'], options(env));
      await waitReady(s);
      await stop(s);
      expect(s.output()).toContain('http://***@127.0.0.1');
      expect(s.output()).not.toContain(SECRET);
    }
    const missing = await runCli(['registry', 'show', 'models:/iris@nope', '--registry', withUser()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr + missing.stdout).not.toContain(SECRET);
    // A password holding '@', and a URI that does not even parse.
    for (const uri of [withUser().replace(SECRET, `${SECRET}@more`), `http://alice:${SECRET}@127.0.0.1:70000`]) {
      const r = await runCli(['registry', 'list', '--registry', uri]);
      expect(r.stderr + r.stdout).not.toContain(SECRET);
    }
  });

  it('never bakes them into an image context', async () => {
    const dir = join(await temp.make(), 'ctx');
    const r = await runCli(['generate-dockerfile', '-m', 'models:/iris@champion', '--registry', withUser(), '-d', dir, '-n', 'iris:1']);
    expect(r.code, r.stderr).toBe(0);
    const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect((await readFile(join(f.parentPath, f.name))).includes(SECRET), f.name).toBe(false);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});

describe('build-image over the MLflow backend', () => {
  it('generate-dockerfile resolves the alias once and bakes the downloaded files into a context that serves offline', async () => {
    const dir = join(await temp.make(), 'ctx');
    const r = await runCli(['generate-dockerfile', '-m', 'models:/iris@champion', '--registry', replay.url, '-d', dir, '-n', 'iris:1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('MODELGATE_MODEL_URI="models:/iris/1"');
    expect(dockerfile).toContain('io.modelgate.model.requested-uri="models:/iris@champion"');
    const artifacts = join(dir, 'model/registry/models/iris/versions/1/artifacts');
    for (const f of await readdir(IRIS_V1)) {
      expect((await readFile(join(artifacts, f))).equals(await readFile(join(IRIS_V1, f))), f).toBe(true);
    }
    const record = JSON.parse(await readFile(join(dir, 'model/registry/models/iris/versions/1/version.json'), 'utf8')) as {
      source: string;
    };
    expect(record.source).toContain(replay.url);

    // Laid out as the three COPY steps lay it out in the image, it serves with no MLflow server at all.
    const root = join(await temp.make(), 'opt-modelgate');
    for (const part of ['deps', 'app', 'model']) await cp(join(dir, part), root, { recursive: true });
    const seen = replay.requests.length;
    const s = startProcess(process.execPath, [join(root, 'modelgate.mjs'), 'serve'], {
      cwd: root,
      timeoutMs: 60_000,
      env: {
        MODELGATE_MODEL_URI: 'models:/iris/1',
        MODELGATE_REGISTRY_URI: `file:${join(root, 'registry')}`,
        MODELGATE_PORT: '0',
        MLFLOW_TRACKING_URI: replay.url,
      },
    });
    try {
      const base = await waitListening(s);
      await waitFor200(`${base}/ready`, 30_000, () => s.child.exitCode === null);
      const res = await fetch(`${base}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: await readFile(EXAMPLE, 'utf8'),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('1');
      expect(((await res.json()) as { predictions: { probabilities: number[][] } }).predictions.probabilities[0][0]).toBeCloseTo(
        0.981584,
        5,
      );
      expect(replay.requests.length).toBe(seen);
    } finally {
      s.child.kill('SIGTERM');
      await s.done;
    }
  });
});

// The recording has no version lookups after an alias move, so following an alias runs against the
// MLflow-like fake (test/fixtures/mlflow-fake-server.ts), seeded through MLflow's REST API.
describe('alias following over the MLflow backend', () => {
  it('serve polls the alias and switches to the version it moves to', async () => {
    const fake = await MlflowFakeServer.start();
    try {
      const files = new Map<string, Buffer>();
      for (const f of await readdir(IRIS_V1)) files.set(f, await readFile(join(IRIS_V1, f)));
      await seedThroughRest(fake.url, 'iris', 2, files);
      const setAlias = (version: string) =>
        fetch(`${fake.url}/api/2.0/mlflow/registered-models/alias`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'iris', alias: 'champion', version }),
        });
      expect((await setAlias('1')).status).toBe(200);
      const s = startCliServer(
        ['serve', '-m', 'models:/iris@champion', '--registry', fake.url, '-p', '0', '--poll-interval', '1'],
        options(),
      );
      try {
        await waitReady(s);
        const body = await readFile(EXAMPLE, 'utf8');
        const servedVersion = async () =>
          (await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).headers.get(
            'x-model-version',
          );
        expect(await servedVersion()).toBe('1');
        expect((await setAlias('2')).status).toBe(200);
        const deadline = Date.now() + 20_000;
        let version = await servedVersion();
        while (version !== '2' && Date.now() < deadline) {
          await sleep(200);
          version = await servedVersion();
        }
        expect(version).toBe('2');
      } finally {
        await stop(s);
      }
    } finally {
      await fake.close();
    }
  });
});

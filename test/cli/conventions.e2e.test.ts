/**
 * The CLI as a new user meets it: every command answers --help, usage errors are one line with
 * exit 2 naming the flag as typed, closed pipes end quietly, -m takes what `mlflow models serve
 * -m` takes, `registry delete` behaves as MLflow's deletes, and every variable the code reads is
 * documented.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS, ROOT, killAll, requireBuiltCli, runCli, startCliServer, startProcess, stop, waitReady } from '../fixtures/cli.js';
import { MlflowFakeServer, seedThroughRest } from '../fixtures/mlflow-fake-server.js';
import { IRIS_V1 } from '../fixtures/mlflow-iris.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-cli-conventions-');
let fake: MlflowFakeServer;

beforeAll(async () => {
  requireBuiltCli();
  fake = await MlflowFakeServer.start();
  const files = new Map<string, Buffer>();
  for (const f of await readdir(IRIS_V1)) files.set(f, await readFile(join(IRIS_V1, f)));
  await seedThroughRest(fake.url, 'iris', 2, files);
});

afterAll(async () => {
  killAll();
  await fake.close();
  await temps.removeAll();
});

const COMMANDS = [
  'serve',
  'predict',
  'demo',
  'registry',
  'registry register',
  'registry list',
  'registry versions',
  'registry show',
  'registry delete',
  'registry alias',
  'registry alias set',
  'registry alias delete',
  'build-image',
  'generate-dockerfile',
];

describe('--help', () => {
  it.each(COMMANDS)('modelgate %s --help prints its usage and options, exit 0', async (words) => {
    const cmd = words.split(' ');
    const r = await runCli([...cmd, '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Usage: modelgate ${cmd.join(' ')}`);
    expect(r.stderr).toBe('');
  });

  it('lists every serve flag, and keeps -h for --host as MLflow does', async () => {
    const help = (await runCli(['serve', '--help'])).stdout;
    for (const flag of ['--model-uri', '--max-body-memory', '--load-timeout', '--canary-weight', '--admin-token-file', '--js-isolation']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('-h, --host HOST');
    const r = await runCli(['serve', '-h']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('-h needs a value');
  });

  it("answers bare `modelgate` with the command list and exit 2, `modelgate help serve` with serve's help", async () => {
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toContain('Commands:');
    const help = await runCli(['help', 'serve']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: modelgate serve');
  });
});

describe('usage errors', () => {
  it.each([
    [['serve', '-p', 'abc'], /^modelgate serve: -p\/--port must be a whole number from 0 to 65535, got 'abc'/],
    [['serve', '--port=99999'], /^modelgate serve: --port must be a whole number from 0 to 65535, got '99999'/],
    [['serve', '--threads', '0'], /^modelgate serve: --threads must be a whole number of at least 1, got '0'/],
    [['serve', '--canary-weight', '101'], /^modelgate serve: --canary-weight must be a number from 0 to 100/],
    [['serve', '--js-isolation', 'vm'], /^modelgate serve: --js-isolation must be one of thread, none, got 'vm'/],
    [['serve', '--no-such-flag'], /^modelgate serve: unknown option '--no-such-flag'/],
    [['serve', '--access-log=yes'], /^modelgate serve: --access-log takes no value/],
    [['serve', 'extra'], /^modelgate serve: unexpected argument 'extra'/],
    [['serve'], /^modelgate: No model to serve: pass -m\/--model-uri or set MODELGATE_MODEL_URI\./],
    [['predict'], /^modelgate predict: needs -m\/--model-uri URI/],
    [['registry', 'register', IRIS], /^modelgate registry register: needs --name NAME/],
    [['registry', 'alias', 'set', 'iris'], /^modelgate registry alias set: missing <alias> <version>/],
    [['registry', 'frobnicate'], /^modelgate registry: unknown command 'frobnicate'/],
    [['build-image', '-m', 'models:/iris/1'], /^modelgate build-image: needs -n\/--name NAME\[:TAG\]/],
  ])('%j → exit 2, one line', async (args, message) => {
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/intraOpThreads|canaryWeight|jsIsolation|maxBodyBytes/);
  });

  it('names the environment variable when the environment is wrong', async () => {
    const r = await runCli(['serve', '-m', IRIS], { env: { MODELGATE_MAX_ROWS: '-5' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("modelgate: MODELGATE_MAX_ROWS must be a whole number of at least 1, got '-5'");
  });
});

describe('output into a closed pipe', () => {
  it('ends quietly, without an EPIPE stack trace', async () => {
    const registry = join(await temps.make(), 'r');
    for (let i = 0; i < 3; i++)
      expect((await runCli(['registry', 'register', IRIS, '--name', `m${i}`, '--registry', registry])).code).toBe(0);
    const r = await startProcess('sh', [
      '-c',
      `node ${join(ROOT, 'dist', 'modelgate.mjs')} registry list --registry ${registry} | head -c 0`,
    ]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('-m takes what mlflow models serve -m takes', () => {
  it.each(['s3://bucket/models/iris', 'gs://bucket/iris', 'hdfs://namenode/iris', 'dbfs:/models/iris', 'https://example.com/iris.tgz'])(
    '%s is refused naming its scheme',
    async (uri) => {
      const r = await runCli(['serve', '-m', uri]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`scheme '${uri.slice(0, uri.indexOf(':'))}:' are not supported`);
    },
  );

  it('scores a directory given as a file:// URI', async () => {
    const r = await runCli(['predict', '-m', `file://${IRIS}`, '-i', join(IRIS, 'serving_input_example.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"label": [0, 1, 2]');
  });

  it('serves runs:/<run_id>/<path> from the MLflow server, as MLflow does', async () => {
    // A run whose artifact root holds the model under model/.
    const root = '0/modelgate-runs/abc123/artifacts';
    for (const f of await readdir(IRIS_V1)) {
      const res = await fetch(`${fake.url}/api/2.0/mlflow-artifacts/artifacts/${root}/model/${f}`, {
        method: 'PUT',
        body: await readFile(join(IRIS_V1, f)),
      });
      expect(res.ok).toBe(true);
    }
    fake.addRun('abc123', `mlflow-artifacts:/${root}`);
    const cache = await temps.make();
    const s = startCliServer(['serve', '-m', 'runs:/abc123/model', '--registry', fake.url, '-p', '0'], {
      env: { MODELGATE_CACHE_DIR: cache },
    });
    try {
      await waitReady(s);
      const res = await fetch(`${s.base}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: await readFile(join(IRIS_V1, 'serving_input_example.json'), 'utf8'),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-name')).toBe('model');
      expect(res.headers.get('x-model-version')).toBe('abc123');
    } finally {
      await stop(s);
    }
    const local = await runCli(['predict', '-m', 'runs:/abc123/model', '--registry', join(cache, 'r')]);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain('Run URIs (runs:/abc123/model) need an MLflow tracking server');
  });
});

describe('registry delete', () => {
  it('deletes versions and models as MLflow does, refusing an aliased version or a model with versions unless --force', async () => {
    const registry = join(await temps.make(), 'r');
    const cli = (...args: string[]) => runCli([...args, '--registry', registry]);
    await cli('registry', 'register', IRIS, '--name', 'iris', '--alias', 'champion');
    await cli('registry', 'register', IRIS, '--name', 'iris');
    const refused = await cli('registry', 'delete', 'iris', '1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('@champion points at');
    expect((await cli('registry', 'delete', 'iris')).stderr).toContain("'iris' still has versions 1, 2");
    expect((await cli('registry', 'delete', 'iris', '2')).stdout).toBe("deleted version 2 of 'iris'\n");
    // Numbers are never given out twice.
    expect((await cli('registry', 'register', IRIS, '--name', 'iris')).stdout).toBe('3\n');
    expect((await cli('registry', 'delete', 'iris', '1', '--force')).code).toBe(0);
    expect((await cli('registry', 'show', 'models:/iris@champion')).stderr).toContain('alias champion not found');
    expect((await cli('registry', 'delete', 'iris', '3')).code).toBe(0);
    expect((await cli('registry', 'delete', 'iris')).stdout).toBe("deleted registered model 'iris'\n");
    expect((await cli('registry', 'list')).stdout).toContain('no models');
    expect((await cli('registry', 'register', IRIS, '--name', 'iris')).stdout).toBe('1\n');
  });

  it('deletes on an MLflow server through its REST API, and shows what MLflow knows of a version', async () => {
    await fetch(`${fake.url}/api/2.0/mlflow/registered-models/alias`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'iris', alias: 'champion', version: '1' }),
    });
    const cli = (...args: string[]) => runCli([...args, '--registry', fake.url]);
    const shown = JSON.parse((await cli('registry', 'show', 'models:/iris@champion')).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ name: 'iris', version: '1', aliases: ['champion'], stage: 'None' });
    expect(shown.source).toMatch(/^mlflow-artifacts:\//);
    expect((await cli('registry', 'delete', 'iris', '1')).code).toBe(1);
    expect((await cli('registry', 'delete', 'iris', '2')).code).toBe(0);
    expect((await cli('registry', 'versions', 'iris')).stdout).not.toMatch(/^2 /m);
  });
});

describe('documentation', () => {
  it('documents every MODELGATE_ and MLFLOW_ variable the code reads, and every flag', async () => {
    const docs = await readFile(join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const cliDocs = await readFile(join(ROOT, 'docs', 'cli.md'), 'utf8');
    const files = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
    const read = new Set<string>();
    // Variables are named in strings (env['X'], a table entry, a message), never as identifiers.
    for (const f of files) {
      for (const m of (await readFile(join(ROOT, 'src', f), 'utf8')).matchAll(
        /['"`]((?:MODELGATE|MLFLOW)_[A-Z_]+)\b|env\.((?:MODELGATE|MLFLOW)_[A-Z_]+)/g,
      ))
        read.add(m[1] ?? m[2]);
    }
    // Internal: the cluster's marker for its worker processes.
    read.delete('MODELGATE_WORKER');
    expect([...read].filter((v) => !docs.includes(`\`${v}\``))).toEqual([]);
    for (const flag of ['--skip-validation', '--load-timeout', '--force', '--tag']) expect(cliDocs).toContain(flag);
    expect(docs).toContain('`MODELGATE_DEBUG`');
  });
});

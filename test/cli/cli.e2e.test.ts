/**
 * The `modelgate` command end to end: the compiled CLI (dist/src/cli.js, built by `npm run build`)
 * run as real child processes against a registry in a temp directory, and real HTTP to `serve`.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IRIS,
  ROOT,
  type RunOptions,
  type Served,
  killAll,
  requireBuiltCli,
  startCli,
  startCliServer,
  stop,
  waitReady,
} from '../fixtures/cli.js';
import { canBind } from '../fixtures/ports.js';

const IRIS_ONNX_SHA256 = '9680d3cb475f8d2646852840542e96f92bc60164b5fa87afd2805f4e41d66ec0';
const SETOSA = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

let work: string;
let reg: string;
let colsDir: string;
const mg = (args: string[], opts: RunOptions = {}) => startCli(args, { cwd: work, ...opts }).done;
/** A registry command against the test registry. */
const mgr = (args: string[], opts: RunOptions = {}) => mg([...args, '--registry', reg], opts);

beforeAll(async () => {
  requireBuiltCli();
  work = await mkdtemp(join(tmpdir(), 'modelgate-cli-'));
  reg = join(work, 'reg');
  // The iris model with a column-based signature, so it takes CSV.
  colsDir = join(work, 'iris-cols');
  await mkdir(colsDir);
  await cp(join(IRIS, 'model.onnx'), join(colsDir, 'model.onnx'));
  const cols = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
  await writeFile(
    join(colsDir, 'MLmodel'),
    [
      'flavors:',
      '  onnx:',
      '    data: model.onnx',
      'signature:',
      `  inputs: '${JSON.stringify(cols.map((name) => ({ type: 'double', name })))}'`,
      '  outputs: null',
      'saved_input_example_info:',
      '  serving_input_path: serving_input_example.json',
      '  type: dataframe',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(colsDir, 'serving_input_example.json'),
    JSON.stringify({ dataframe_split: { columns: cols, data: [[5.1, 3.5, 1.4, 0.2]] } }),
  );
});

afterAll(async () => {
  killAll();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('modelgate registry', () => {
  it('list on an empty registry says so', async () => {
    const r = await mgr(['registry', 'list']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`no models in ${reg}\n`);
  });

  it('register ./examples/iris --name iris --alias champion prints 1', async () => {
    const r = await mgr(['registry', 'register', './examples/iris', '--name', 'iris', '--alias', 'champion'], { cwd: ROOT });
    expect(r).toEqual({ code: 0, signal: null, stdout: '1\n', stderr: '' });
  });

  it('a second register prints 2', async () => {
    const r = await mgr(['registry', 'register', IRIS, '--name', 'iris', '--description', 'second']);
    expect(r).toEqual({ code: 0, signal: null, stdout: '2\n', stderr: '' });
  });

  it('register --json prints the version as JSON', async () => {
    const r = await mgr(['registry', 'register', colsDir, '--name', 'iris-cols', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'iris-cols', version: '1', status: 'READY', flavor: 'onnx', aliases: [] });
  });

  describe.concurrent('read commands', () => {
    it('list prints a table', async () => {
      const r = await mgr(['registry', 'list']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NAME\s+LATEST\s+ALIASES\s+CREATED$/);
      expect(lines.slice(1)).toHaveLength(2);
      expect(lines[1]).toMatch(/^iris\s+2\s+champion=1\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(lines[2]).toMatch(/^iris-cols\s+1\s+-\s+\d{4}-/);
    });

    it('list --json', async () => {
      const r = await mgr(['registry', 'list', '--json']);
      expect(r.code).toBe(0);
      const models = JSON.parse(r.stdout);
      expect(models.map((m: { name: string }) => m.name)).toEqual(['iris', 'iris-cols']);
      expect(models[0]).toMatchObject({ name: 'iris', latestVersion: '2', aliases: { champion: '1' }, tags: {} });
      expect(models[0].created).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('versions iris prints a table', async () => {
      const r = await mgr(['registry', 'versions', 'iris']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^VERSION\s+FLAVOR\s+ALIASES\s+CREATED\s+SOURCE$/);
      expect(lines[1]).toMatch(/^1\s+onnx\s+champion\s+\S+\s+\S*examples\/iris$/);
      expect(lines[2]).toMatch(/^2\s+onnx\s+-\s+/);
      expect(lines).toHaveLength(3);
    });

    it('versions iris --json', async () => {
      const r = await mgr(['registry', 'versions', 'iris', '--json']);
      const vs = JSON.parse(r.stdout);
      expect(vs.map((v: { version: string }) => v.version)).toEqual(['1', '2']);
      expect(vs[0]).toMatchObject({ name: 'iris', version: '1', aliases: ['champion'], flavor: 'onnx', status: 'READY', source: IRIS });
      expect(vs[1]).toMatchObject({ version: '2', aliases: [], description: 'second' });
    });

    it('show models:/iris@champion prints the version as JSON', async () => {
      const r = await mgr(['registry', 'show', 'models:/iris@champion']);
      expect(r.code).toBe(0);
      const v = JSON.parse(r.stdout);
      expect(v).toMatchObject({
        name: 'iris',
        version: '1',
        status: 'READY',
        aliases: ['champion'],
        flavor: 'onnx',
        source: IRIS,
        tags: {},
      });
      expect(v.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(v.files.find((f: { path: string }) => f.path === 'model.onnx')).toEqual({
        path: 'model.onnx',
        size: 389,
        sha256: IRIS_ONNX_SHA256,
      });
    });

    it('show resolves /latest, /<version> and a case-insensitive LATEST', async () => {
      const cases = [
        ['models:/iris/latest', '2'],
        ['models:/iris/LATEST', '2'],
        ['models:/iris/1', '1'],
      ];
      const results = await Promise.all(cases.map(([uri]) => mgr(['registry', 'show', uri])));
      results.forEach((r, i) => {
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout).version, cases[i][0]).toBe(cases[i][1]);
      });
    });
  });

  it('alias set iris challenger 2', async () => {
    const r = await mgr(['registry', 'alias', 'set', 'iris', 'challenger', '2']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'models:/iris@challenger -> version 2\n' });
    const show = JSON.parse((await mgr(['registry', 'show', 'models:/iris@challenger'])).stdout);
    expect(show).toMatchObject({ name: 'iris', version: '2', aliases: ['challenger'] });
  });

  it('alias delete, then deleting again is not an error', async () => {
    const r = await mgr(['registry', 'alias', 'delete', 'iris', 'challenger']);
    expect(r).toMatchObject({ code: 0, stdout: 'deleted models:/iris@challenger\n' });
    const again = await mgr(['registry', 'alias', 'delete', 'iris', 'challenger']);
    expect(again).toMatchObject({ code: 0, stdout: 'alias challenger did not exist (nothing to do)\n' });
    const show = await mgr(['registry', 'show', 'models:/iris@challenger']);
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/RESOURCE_DOES_NOT_EXIST.*alias challenger not found/);
  });

  it('MODELGATE_REGISTRY_URI selects the registry; --registry wins over it', async () => {
    const viaEnv = await mg(['registry', 'versions', 'iris', '--json'], { env: { MODELGATE_REGISTRY_URI: `file:${reg}` } });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toHaveLength(2);
    const flagWins = await mgr(['registry', 'list', '--json'], { env: { MODELGATE_REGISTRY_URI: join(work, 'elsewhere') } });
    expect(JSON.parse(flagWins.stdout)).toHaveLength(2);
  });
});

describe('modelgate errors', () => {
  it.each<[string, string[], RegExp]>([
    [
      'an unknown model',
      ['registry', 'show', 'models:/nope/1'],
      /^modelgate: error \[RESOURCE_DOES_NOT_EXIST\]: Registered Model with name=nope not found/,
    ],
    ['an unknown version', ['registry', 'show', 'models:/iris/9'], /RESOURCE_DOES_NOT_EXIST.*version=9/],
    [
      'a URI without version or alias',
      ['registry', 'show', 'models:/iris'],
      /INVALID_PARAMETER_VALUE.*did you mean models:\/iris\/latest\?[\s\S]*models:\/<name>@<alias>/,
    ],
    ['a URI that is not models:', ['registry', 'show', 'iris/1'], /Not a proper models:\/ URI.*must start with 'models:\/'/],
    ['an alias on an unknown version', ['registry', 'alias', 'set', 'iris', 'ghost', '99'], /RESOURCE_DOES_NOT_EXIST/],
    ['a reserved alias', ['registry', 'alias', 'set', 'iris', 'latest', '1'], /Invalid alias 'latest'/],
    ['a version-like alias on register', ['registry', 'register', IRIS, '--name', 'iris', '--alias', 'v1'], /Invalid alias 'v1'/],
    ['a missing model directory', ['registry', 'register', '/no/such/dir', '--name', 'x'], /\/no\/such\/dir does not exist/],
    ['a stage on the local registry', ['registry', 'show', 'models:/iris/Production'], /Stages \('Production'\) are a deprecated/],
    ['a logged-model URI on the local registry', ['registry', 'show', 'models:/m-0123456789abcdef'], /need an MLflow registry/],
  ])('%s exits 1 with a message on stderr', { concurrent: true }, async (_label, args, message) => {
    const r = await mgr(args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^modelgate: error/);
  });
});

describe('failed commands', () => {
  it('leave the registry unchanged', async () => {
    const vs = JSON.parse((await mgr(['registry', 'versions', 'iris', '--json'])).stdout);
    expect(vs.map((v: { version: string; aliases: string[] }) => [v.version, v.aliases])).toEqual([
      ['1', ['champion']],
      ['2', []],
    ]);
  });
});

describe('modelgate usage errors', () => {
  it.each<[string, string[]]>([
    ['no command', []],
    ['an unknown command', ['frobnicate']],
    ['an unknown registry subcommand', ['registry', 'remove', 'iris']],
    ['an unknown flag', ['registry', 'list', '--bogus']],
    ['versions without a name', ['registry', 'versions']],
    ['register without --name', ['registry', 'register', IRIS]],
    ['alias set with a missing argument', ['registry', 'alias', 'set', 'iris', 'x']],
    ['alias with an unknown operation', ['registry', 'alias', 'rename', 'iris', 'x']],
    ['predict without -m', ['predict', '-i', 'in.json']],
    ['predict with an unknown content type', ['predict', '-m', 'models:/iris/1', '-t', 'xml']],
    ['serve with a non-numeric port', ['serve', '-m', 'models:/iris/1', '-p', 'http']],
  ])('%s is a usage error: exit 2', { concurrent: true }, async (_label, args) => {
    const r = await mg(args, { env: { MODELGATE_REGISTRY_URI: reg } });
    expect(r.code).toBe(2);
    if (args.length > 0) {
      // One line: the command, what is wrong, and where its help is.
      expect(r.stderr).toMatch(/^modelgate[ :]/);
      expect(r.stderr).toMatch(/see 'modelgate[^']*--help'\)\n$/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    } else {
      expect(r.stdout).toContain('Usage:');
    }
  });

  it('--help and --version exit 0', { concurrent: true }, async () => {
    const help = await mg(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('registry');
    expect(help.stdout).toContain("Run 'modelgate <command> --help' for its options.");
    const register = await mg(['registry', 'register', '--help']);
    expect(register.stdout).toContain('Usage: modelgate registry register <dir> [options]');
    expect(register.stdout).toContain('MODELGATE_REGISTRY_URI');
    const version = await mg(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
  });
});

describe.concurrent('modelgate predict', () => {
  it('-m models:/iris/1 -i in.json -o out.json', async () => {
    const out = join(work, 'out.json');
    const r = await mgr(['predict', '-m', 'models:/iris/1', '-i', join(IRIS, 'serving_input_example.json'), '-o', out]);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const body = JSON.parse(await readFile(out, 'utf8'));
    expect(body.predictions.label).toEqual([0, 1, 2]);
    expect(body.predictions.probabilities).toHaveLength(3);
  });

  it('reads stdin and writes stdout', async () => {
    const r = await mgr(['predict', '-m', 'models:/iris@champion'], { input: SETOSA });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions.label).toEqual([0]);
  });

  it('-t csv, from a file and from stdin', async () => {
    const csv = 'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n7.0,3.2,4.7,1.4\n6.3,3.3,6.0,2.5\n';
    const file = join(work, 'in.csv');
    await writeFile(file, csv);
    const fromFile = await mgr(['predict', '-m', 'models:/iris-cols/1', '-t', 'csv', '-i', file]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const rows = JSON.parse(fromFile.stdout).predictions as { label: number }[];
    expect(rows.map((r) => r.label)).toEqual([0, 1, 2]);
    const fromStdin = await mgr(['predict', '-m', 'models:/iris-cols/latest', '--content-type', 'csv'], { input: csv });
    expect(fromStdin.stdout).toBe(fromFile.stdout);
  });

  it('a plain model directory works without a registry', async () => {
    const r = await mg(['predict', '-m', IRIS], { input: SETOSA });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions.label).toEqual([0]);
  });

  it('bad input and unknown models exit 1 with the reason', async () => {
    const bad = await mgr(['predict', '-m', 'models:/iris/1'], { input: '{"inputs": [[1, 2]]}' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Shape of input \(1, 2\) does not match expected shape \(-1, 4\)/);
    const unknown = await mgr(['predict', '-m', 'models:/nope@champion'], { input: SETOSA });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/RESOURCE_DOES_NOT_EXIST/);
  });
});

describe('modelgate serve', () => {
  interface Case {
    label: string;
    server?: Served;
    host: string;
    expectHeaders: { name: string; version: string };
    start(host: string): Served;
  }
  let altHost = '127.0.0.1';
  const cases: Case[] = [
    {
      label: '-m models:/iris@champion',
      host: '127.0.0.1',
      expectHeaders: { name: 'iris', version: '1' },
      start: () => startCliServer(['serve', '-m', 'models:/iris@champion', '--registry', reg, '-p', '0'], { cwd: work }),
    },
    {
      label: '-m models:/iris/latest',
      host: '127.0.0.1',
      expectHeaders: { name: 'iris', version: '2' },
      start: (host) =>
        startCliServer(['serve', '--model-uri', 'models:/iris/latest', '--registry', reg, '--port', '0', '-h', host], {
          cwd: work,
        }),
    },
    {
      label: '-m models:/iris/1',
      host: '127.0.0.1',
      expectHeaders: { name: 'iris', version: '1' },
      start: () => startCliServer(['serve', '-m', 'models:/iris/1', '--registry', `file:${reg}`, '-p', '0'], { cwd: work }),
    },
    {
      label: '-m <a plain model directory>',
      host: '127.0.0.1',
      expectHeaders: { name: 'iris', version: 'local' },
      start: () => startCliServer(['serve', '-m', './examples/iris', '-p', '0'], { cwd: ROOT }),
    },
    {
      label: 'MODELGATE_MODEL_URI, MODELGATE_REGISTRY_URI, MODELGATE_PORT and MODELGATE_HOST',
      host: 'alt',
      expectHeaders: { name: 'iris', version: '1' },
      start: (host) =>
        startCliServer(['serve'], {
          cwd: work,
          env: {
            MODELGATE_MODEL_URI: 'models:/iris@champion',
            MODELGATE_REGISTRY_URI: reg,
            MODELGATE_PORT: '0',
            MODELGATE_HOST: host,
          },
        }),
    },
  ];

  beforeAll(async () => {
    // Any 127/8 address is loopback on Linux: binding 127.0.0.2 shows MODELGATE_HOST is honoured.
    if (await canBind('127.0.0.2')) altHost = '127.0.0.2';
    for (const c of cases) {
      if (c.host === 'alt') c.host = altHost;
      c.server = c.start(c.host);
    }
    await Promise.all(cases.map((c) => waitReady(c.server!)));
  });

  afterAll(async () => {
    for (const c of cases) if (c.server && c.server.child.exitCode === null) c.server.child.kill('SIGKILL');
  });

  it.each(cases.map((c) => [c.label, c] as const))('serve %s answers /invocations, /ping, /ready and /metrics', async (_label, c) => {
    const s = c.server!;
    const inv = await fetch(`${s.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SETOSA });
    const text = await inv.text();
    expect(inv.status, text).toBe(200);
    expect(inv.headers.get('content-type')).toMatch(/^application\/json/);
    expect(inv.headers.get('x-model-name')).toBe(c.expectHeaders.name);
    expect(inv.headers.get('x-model-version')).toBe(c.expectHeaders.version);
    const body = JSON.parse(text);
    expect(body.predictions.label).toEqual([0]);
    expect(body.predictions.probabilities[0][0]).toBeGreaterThan(0.9);

    // /ping means "ready to serve", as in MLflow; /livez is the liveness route.
    const ping = await fetch(`${s.base}/ping`);
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({ ready: true, state: 'ready' });
    expect(await (await fetch(`${s.base}/livez`)).json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${s.base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      models: [{ name: c.expectHeaders.name, version: c.expectHeaders.version, flavor: 'onnx' }],
    });

    const metrics = await fetch(`${s.base}/metrics`);
    expect(metrics.status).toBe(200);
    const m = await metrics.text();
    expect(m).toMatch(/^modelgate_ready 1$/m);
    const success = m.split('\n').find((l) => l.startsWith('modelgate_predictions_total{') && l.includes('outcome="success"'));
    expect(success, m).toBeDefined();
    expect(success).toContain(`version="${c.expectHeaders.version}"`);
    expect(success).toMatch(/ 1$/);

    // A schema error is a 400 with MLflow's error body, not a crash.
    const bad = await fetch(`${s.base}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs": [[1, 2]]}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  });

  it('MODELGATE_HOST is where the env-configured server listens', async () => {
    const c = cases[cases.length - 1];
    expect(c.server!.base).toContain(`//${altHost}:`);
    if (altHost !== '127.0.0.1') {
      const port = new URL(c.server!.base).port;
      await expect(fetch(`http://127.0.0.1:${port}/ping`)).rejects.toThrow();
    }
  });

  it('SIGTERM stops every server with exit code 0', async () => {
    const results = await Promise.all(cases.map((c) => stop(c.server!)));
    results.forEach((r, i) => {
      expect({ label: cases[i].label, code: r.code, signal: r.signal }).toEqual({ label: cases[i].label, code: 0, signal: null });
    });
    expect(results[0].stdout).toMatch(/"msg":"shutting down: draining in-flight requests"/);
  });

  it.each<[string, string[], RegExp]>([
    ['an unknown registered model', ['-m', 'models:/nope/1'], /cannot load models:\/nope\/1: Registered Model with name=nope not found/],
    ['an unknown alias', ['-m', 'models:/iris@ghost'], /cannot load models:\/iris@ghost: Registered model alias ghost not found/],
    ['a missing directory', ['-m', './no-such-model'], /cannot load \.\/no-such-model: Model directory \S*no-such-model does not exist/],
  ])('serve of %s exits non-zero with a clear message', { concurrent: true }, async (_label, args, message) => {
    const r = await mg(['serve', ...args, '--registry', reg, '-p', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('serve of a malformed URI is a usage error, before anything starts', { concurrent: true }, async () => {
    const r = await mg(['serve', '-m', 'models:/iris', '--registry', reg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^modelgate: Not a proper models:\/ URI: 'models:\/iris'/);
  });

  it('serve without a model exits 2 and says how to give one', { concurrent: true }, async () => {
    const r = await mg(['serve', '--registry', reg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/No model to serve: pass -m\/--model-uri or set MODELGATE_MODEL_URI/);
  });

  it('an invalid MODELGATE_PORT is refused', { concurrent: true }, async () => {
    const r = await mg(['serve', '-m', IRIS], { env: { MODELGATE_PORT: 'eighty' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/MODELGATE_PORT must be a whole number from 0 to 65535, got 'eighty'/);
  });
});

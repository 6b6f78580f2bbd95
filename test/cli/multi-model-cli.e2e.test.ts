/**
 * `modelgate serve` with several models as users start it (the built CLI as a child process):
 * repeated -m with folder names and name=URI, and a routes file's models: list with a canary of
 * its own. Also the mistakes in naming them, refused before anything starts.
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS, killAll, requireBuiltCli, runCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { modelFlags } from '../../src/cli/serve.js';
import { SERVE } from '../../src/cli/specs.js';
import { helpText, parseCommand } from '../../src/cli/spec.js';

const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';
const dirs = tempDirs('modelgate-multi-cli-');
let root: string;

beforeAll(async () => {
  requireBuiltCli();
  root = await dirs.make();
  await cp(IRIS, join(root, 'flowers'), { recursive: true });
});

afterAll(async () => {
  killAll();
  await dirs.removeAll();
});

const invoke = (base: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY }).then(async (r) => ({
    status: r.status,
    name: r.headers.get('x-model-name'),
    text: await r.text(),
  }));

describe('modelgate serve with several models', () => {
  it('serves repeated -m under folder names and name=URI, lazily', async () => {
    const s = startCliServer([
      'serve',
      '-m',
      join(root, 'flowers'),
      '-m',
      `petals=${IRIS}`,
      '--lazy',
      '--max-loaded-models',
      '1',
      '-p',
      '0',
      '--registry',
      join(root, 'reg'),
    ]);
    try {
      await waitReady(s);
      for (const name of ['flowers', 'petals', 'flowers']) {
        const r = await invoke(s.base, `/models/${name}/invocations`);
        expect(r.status, s.output()).toBe(200);
        expect(r.name).toBe(name);
      }
      const none = await invoke(s.base, '/invocations');
      expect(none.status).toBe(400);
      expect(none.text).toMatch(/flowers, petals/);
    } finally {
      expect((await stop(s)).code).toBe(0);
    }
  });

  it('serves a routes file models: list, each model with its own canary weight', async () => {
    const routes = join(root, 'routes.yaml');
    await writeFile(
      routes,
      `models:\n  - name: a\n    primary: ${join(root, 'flowers')}\n    canary: ${IRIS}\n    canaryWeight: 100\n  - name: b\n    primary: ${IRIS}\n`,
    );
    const s = startCliServer(['serve', '--routes', routes, '-p', '0', '--registry', join(root, 'reg')]);
    try {
      await waitReady(s);
      const a = await fetch(`${s.base}/models/a/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
      });
      expect(a.status, s.output()).toBe(200);
      expect(a.headers.get('x-modelgate-route')).toBe('canary');
      const b = await fetch(`${s.base}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-model-name': 'b' },
        body: BODY,
      });
      expect(b.status).toBe(200);
      expect(b.headers.get('x-modelgate-route')).toBeNull();
    } finally {
      expect((await stop(s)).code).toBe(0);
    }
  });

  it('parses repeated -m into a list and --all-models with or without =ALIAS', () => {
    const parse = (...argv: string[]) => modelFlags(parseCommand(SERVE, argv).values);
    expect(parse('-m', 'models:/a@x')).toEqual({ modelUri: 'models:/a@x' });
    expect(parse('-m', 'models:/a@x', '-m', 'b=./dir')).toEqual({ models: [{ primary: 'models:/a@x' }, { name: 'b', primary: './dir' }] });
    expect(parse('-m', 'b=./dir')).toEqual({ models: [{ name: 'b', primary: './dir' }] });
    expect(parse('--all-models', '-p', '9000')).toEqual({ allModels: 'latest', port: 9000 });
    expect(parse('--all-models=champion')).toEqual({ allModels: 'champion' });
    expect(helpText(SERVE)).toMatch(/--all-models\[=ALIAS\]/);
  });

  it('refuses two models under one name, and a name that cannot be one, before starting', async () => {
    const twice = await runCli(['serve', '-m', IRIS, '-m', IRIS, '--registry', join(root, 'reg')]);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/Two models would be served as 'iris': give one another name with name=URI/);
    const run = await runCli(['serve', '-m', IRIS, '-m', 'runs:/0123456789abcdef/model', '--registry', join(root, 'reg')]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/name it, as name=runs:\/0123456789abcdef\/model/);
  });
});

/**
 * `modelgate registry register` (the built CLI) of a version whose load never finishes: it exits 1
 * with the reason at the load deadline. The in-process side is in load-deadline-slow.e2e.test.ts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../fixtures/cli.js';
import { jsModel as jsModelAt } from '../fixtures/js-model.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-load-deadline-cli-');
afterAll(() => temps.removeAll());

const SPIN = 'export function load() { for (;;); }';

const jsModel = (code: string) => jsModelAt(temps, code);

describe('loads that never finish, through the CLI', () => {
  it('ends registration at the deadline when the warm-up never answers, without waiting for the call timeout', async () => {
    requireBuiltCli();
    const root = await temps.make();
    const dir = await jsModel('export function load() { return { predict: () => new Promise(() => {}) }; }');
    await writeFile(
      join(dir, 'MLmodel'),
      `${await readFile(join(dir, 'MLmodel'), 'utf8')}saved_input_example_info:\n  serving_input_path: serving_input_example.json\n  type: dataframe\n`,
    );
    const started = Date.now();
    const r = await runCli(['registry', 'register', dir, '--name', 'm', '--registry', join(root, 'r'), '--load-timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('did not finish within 1 s');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends `registry register` of such a model with exit 1 and the reason', async () => {
    requireBuiltCli();
    const root = await temps.make();
    const r = await runCli([
      'registry',
      'register',
      await jsModel(SPIN),
      '--name',
      'm',
      '--registry',
      join(root, 'r'),
      '--load-timeout',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('did not finish within 1 s');
  });
});

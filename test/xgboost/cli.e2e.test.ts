/**
 * End to end with the built CLI: register MLflow's wine-xgboost directory and LightGBM Booster
 * and pickle fixtures in a file registry, serve each over real HTTP on 127.0.0.1, POST the
 * serving input example and get MLflow's (or the library's) answer.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { killAll, requireBuiltCli, runCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';
import { expectSame, parsePredictions, readExpected } from '../sklearn/helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const WINE_XGB = join(FIXTURES, 'mlflow-classic', 'wine-xgboost');
const LGB_BOOSTER = join(FIXTURES, 'lightgbm', 'multiclass-booster-lgb');
const LGB_PICKLE = join(FIXTURES, 'lightgbm', 'binary-classifier-pkl');

let work: string;
beforeAll(async () => {
  requireBuiltCli();
  work = await mkdtemp(join(tmpdir(), 'modelgate-xgb-cli-'));
});
afterAll(async () => {
  killAll();
  await rm(work, { recursive: true, force: true });
});

async function serveAndPost(reg: string, name: string, dir: string): Promise<string> {
  const served = startCliServer(['serve', '-m', `models:/${name}/1`, '--registry', reg, '-p', '0', '--log-level', 'info'], {
    cwd: work,
  });
  try {
    await waitReady(served);
    const body = await readFile(join(dir, 'serving_input_example.json'), 'utf8');
    const res = await fetch(`${served.base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return text;
  } finally {
    await stop(served);
  }
}

it('registers and serves XGBoost and LightGBM directories over HTTP with MLflow’s answers', async () => {
  const reg = join(work, 'reg');
  for (const [dir, name] of [
    [WINE_XGB, 'wine'],
    [LGB_BOOSTER, 'booster'],
    [LGB_PICKLE, 'pickle'],
  ]) {
    const r = await runCli(['registry', 'register', dir, '--name', name, '--registry', reg]);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: '1\n' });
  }
  expect(await serveAndPost(reg, 'wine', WINE_XGB)).toBe((await readFile(join(WINE_XGB, 'mlflow-response.json'), 'utf8')).trim());
  for (const [name, dir] of [
    ['booster', LGB_BOOSTER],
    ['pickle', LGB_PICKLE],
  ]) {
    // The serving example is the first rows without missing values; expected.json has the library's answer for them.
    const expected = await readExpected(dir);
    const example = JSON.parse(await readFile(join(dir, 'serving_input_example.json'), 'utf8')) as {
      dataframe_split: { data: unknown[][] };
    };
    const at = example.dataframe_split.data.map((row) => expected.data.findIndex((r) => JSON.stringify(r) === JSON.stringify(row)));
    expect(at.every((i) => i >= 0)).toBe(true);
    expectSame(
      parsePredictions(await serveAndPost(reg, name, dir)),
      at.map((i) => expected.predict[i]),
    );
  }
});

/**
 * MLflow's own XGBoost and LightGBM wine directories (written by MLflow 3.11 with xgboost 1.7.4
 * and lightgbm 4.7.0): the serving example gets MLflow's recorded response byte for byte.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { ServableModel } from '../../src/core/servable.js';
import { scoreBody } from '../../src/core/scoring.js';
import { loadDir } from '../sklearn/helpers.js';

const CLASSIC = fileURLToPath(new URL('../fixtures/mlflow-classic/', import.meta.url));
const loaded: ServableModel[] = [];
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
});

it.each(['wine-xgboost', 'wine-lightgbm'])('%s answers what mlflow models serve answered', async (name) => {
  const dir = join(CLASSIC, name);
  const servable = await loadDir(dir);
  loaded.push(servable);
  const body = await readFile(join(dir, 'serving_input_example.json'), 'utf8');
  const want = (await readFile(join(dir, 'mlflow-response.json'), 'utf8')).trim();
  expect(await scoreBody(servable, 'application/json', body)).toBe(want);
});

/**
 * The xgboost and lightgbm flavours on directories that differ from their fixtures the way real
 * ones do: XGBoost >= 2.1 writes UBJSON into `model.xgb` (told apart by content), MLmodel entries
 * that name an unsupported class, format or serialization are refused with the reason.
 */
import { cp, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { ServableModel } from '../../src/core/servable.js';
import { scoreBody } from '../../src/core/scoring.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { expectSame, loadDir, parsePredictions, pyJsonStringify, readExpected } from '../sklearn/helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const temp = tempDirs();
const loaded: ServableModel[] = [];
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
  await temp.removeAll();
});

async function copyWith(src: string, edit: (mlmodel: string) => string): Promise<string> {
  const dir = await temp.make('modelgate-xgb-');
  await cp(src, dir, { recursive: true });
  await writeFile(join(dir, 'MLmodel'), edit(await readFile(join(dir, 'MLmodel'), 'utf8')));
  return dir;
}

it('reads a UBJSON model saved as model.xgb (XGBoost 2.1+) by its content', async () => {
  const src = join(FIXTURES, 'xgboost', 'binary-logistic-ubj');
  const dir = await copyWith(src, (m) => m.replaceAll('model.ubj', 'model.xgb').replace('model_format: ubj', 'model_format: xgb'));
  await rename(join(dir, 'model.ubj'), join(dir, 'model.xgb'));
  const servable = await loadDir(dir);
  loaded.push(servable);
  const expected = await readExpected(src);
  const body = pyJsonStringify({ dataframe_split: { columns: expected.columns, data: expected.data } });
  expectSame(parsePredictions(await scoreBody(servable, 'application/json', body)), expected.predict);
});

it.each([
  ['xgboost', 'binary-logistic-ubj', (m: string) => m.replace('xgboost.sklearn.XGBClassifier', 'mypkg.MyXGB'), /model_class 'mypkg.MyXGB'/],
  ['xgboost', 'binary-logistic-ubj', (m: string) => m.replace('model_format: ubj', 'model_format: pickle'), /model_format 'pickle'/],
  ['xgboost', 'binary-logistic-ubj', (m: string) => m.replaceAll('data: model.ubj', 'data: /etc/passwd'), /relative path inside/],
  [
    'lightgbm',
    'binary-classifier-pkl',
    (m: string) => m.replace('serialization_format: cloudpickle', 'serialization_format: skops'),
    /skops/,
  ],
  [
    'lightgbm',
    'binary-classifier-pkl',
    (m: string) => m.replace('lightgbm.sklearn.LGBMClassifier', 'lightgbm.sklearn.LGBMRegressor'),
    /MLmodel says/,
  ],
])('%s %s: refuses an MLmodel entry it cannot honour', async (flavour, name, edit, message) => {
  const dir = await copyWith(join(FIXTURES, flavour, name), edit);
  await expect(loadDir(dir)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(message) });
});

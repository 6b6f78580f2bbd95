/**
 * Hostile and unsupported LightGBM models: truncated or garbage text, declared counts that do not
 * match, children out of range or cyclic, features beyond the input, and what the ONNX graph
 * cannot express (linear trees, custom objectives, pandas category columns) are refused with a
 * reason at load.
 */
import { readFileSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { parseLgbModel } from '../../src/flavors/lightgbm/index.js';
import { toIR } from '../../src/flavors/lightgbm/text-model.js';
import { InputViews } from '../../src/onnx/tree-inputs.js';
import { validateTreeEnsemble } from '../../src/onnx/tree-ensemble.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { loadDir } from '../sklearn/helpers.js';

const LGB = fileURLToPath(new URL('../fixtures/lightgbm/', import.meta.url));
const text = readFileSync(join(LGB, 'multiclass-booster-lgb', 'model.lgb'), 'utf8');
const temp = tempDirs();
afterAll(() => temp.removeAll());

const refused = (f: () => unknown, message: RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as Error).message).toMatch(message);
};

/** All trees as IR, validated as emission would. */
function irOf(t: string): void {
  const m = parseLgbModel(t);
  const views = new InputViews(m.numFeature);
  const trees = m.trees.map((tree, i) => toIR(tree, i, i % m.numClass, m.numFeature, views));
  validateTreeEnsemble({ nFeatures: views.columns, nTargets: m.numClass, trees, aggregate: 'sum', inputPrecision: 'float64' });
}

describe('LightGBM model text', () => {
  it('parses the fixture', () => {
    const m = parseLgbModel(text);
    expect(m).toMatchObject({ objective: 'multiclass', numClass: 3, numFeature: 4 });
    irOf(text);
  });

  it('refuses truncated and garbage text', () => {
    for (const cut of [0, 5, 100, Math.floor(text.length / 3), text.indexOf('end of trees') - 3])
      refused(() => irOf(text.slice(0, cut)), /LightGBM/);
    refused(() => parseLgbModel('garbage\n'.repeat(100)), /does not start with 'tree'/);
  });

  it('refuses mismatched counts, bad children, cycles and features beyond the input', () => {
    refused(() => irOf(text.replace('num_leaves=5', 'num_leaves=900000000')), /values, expected|bad num_leaves/);
    refused(() => irOf(text.replace(/left_child=(-?\d+)/, 'left_child=77')), /child 77 out of range/);
    refused(() => irOf(text.replace(/right_child=(-?\d+)/, 'right_child=0')), /reached twice|cycle/);
    refused(() => irOf(text.replace(/split_feature=(\d+)/, 'split_feature=9')), /feature 9, the model has 4/);
    refused(() => irOf(text.replace('max_feature_idx=3', 'max_feature_idx=99999999')), /max_feature_idx|feature_names/);
    refused(() => irOf(text.replace(/threshold=([-\d.e]+)/, 'threshold=abc')), /not a number/);
    refused(() => irOf(text.replace('Tree=1\n', 'Tree=7\n')), /out of order/);
    refused(() => irOf(text.replace('num_tree_per_iteration=3', 'num_tree_per_iteration=2')), /num_tree_per_iteration/);
  });

  it('refuses what the ONNX graph cannot express', () => {
    refused(() => irOf(text.replace('is_linear=0', 'is_linear=1')), /linear trees/);
    refused(() => irOf(text.replace(/objective=.*\n/, '')), /no objective/);
    refused(() => irOf(text.replace(/objective=.*\n/, 'objective=custom\n')), /objective 'custom' is not supported/);
    refused(() => irOf(text.replace(/objective=.*\n/, 'objective=regression sqrt\n')), /sqrt/);
  });
});

describe('the lightgbm flavour refuses at registration', () => {
  it('pandas category columns, skops files and paths outside the model directory', async () => {
    const dir = await temp.make('modelgate-lgb-');
    await cp(join(LGB, 'multiclass-booster-lgb'), dir, { recursive: true });
    const model = await readFile(join(dir, 'model.lgb'), 'utf8');
    await writeFile(join(dir, 'model.lgb'), model.replace(/pandas_categorical:.*/, 'pandas_categorical:[["a","b"]]'));
    await expect(loadDir(dir)).rejects.toMatchObject({ message: expect.stringMatching(/pandas category columns/) });
    const mlmodel = await readFile(join(dir, 'MLmodel'), 'utf8');
    await writeFile(join(dir, 'MLmodel'), mlmodel.replace(/data: model\.lgb/g, 'data: ../../etc/passwd'));
    await expect(loadDir(dir)).rejects.toMatchObject({ message: expect.stringMatching(/outside the model directory/) });
  });
});

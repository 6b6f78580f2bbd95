/** The xgboost and lightgbm flavours against the shared flavour contract. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { runFlavorContract } from '../contract/flavor.contract.js';

const CLASSIC = fileURLToPath(new URL('../fixtures/mlflow-classic/', import.meta.url));
const XGB = fileURLToPath(new URL('../fixtures/xgboost/', import.meta.url));
const LGB = fileURLToPath(new URL('../fixtures/lightgbm/', import.meta.url));

runFlavorContract({
  name: 'XGBClassifier (MLflow 3.11 wine directory, model.ubj)',
  makeModelDir: async () => join(CLASSIC, 'wine-xgboost'),
  checkPredictions: (p) => expect(p).toEqual([0, 0, 0]),
});

runFlavorContract({
  name: 'LGBMClassifier (MLflow 3.11 wine directory, cloudpickle model.pkl)',
  makeModelDir: async () => join(CLASSIC, 'wine-lightgbm'),
  checkPredictions: (p) => expect(p).toEqual([0, 0, 0]),
});

const optionalColumns = {
  // The training data had missing values in every column, so the signature has no required column.
  reason: 'no required column in the signature',
  tests: ['bad input: a missing input is a 400 naming it'],
};

runFlavorContract({
  name: 'XGBoost Booster multi:softmax (legacy binary model.xgb)',
  makeModelDir: async () => join(XGB, 'multi-softmax-booster-xgb'),
  skip: [optionalColumns],
  // Booster.predict of multi:softmax returns the class index as a float.
  checkPredictions: (p) => expect((p as number[]).every((v) => v === 0 || v === 1 || v === 2)).toBe(true),
});

runFlavorContract({
  name: 'LightGBM Booster multiclass (model.lgb)',
  makeModelDir: async () => join(LGB, 'multiclass-booster-lgb'),
  skip: [optionalColumns],
  checkPredictions: (p) => (p as number[][]).forEach((row) => expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)),
});

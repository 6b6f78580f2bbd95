/** Every flavour against the shared contract (test/contract/flavor.contract.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { IRIS_CLASS_NAMES } from '../../tools/iris/iris-data.js';
import { IRIS_LAYERS, MULTI_IO, denseForward, multiIoForward } from '../../tools/tfjs/models.js';
import { GRAPH_WEIGHTS } from '../../tools/tfjs/models.js';
import { parseJsonText } from '../../src/util/json-parse.js';
import { runFlavorContract } from '../contract/flavor.contract.js';
import { IRIS_ROWS, MULTI_IO_EXAMPLE, ModelDirs } from '../fixtures/flavor-models.js';
import { SKLEARN_FIXTURES } from '../sklearn/helpers.js';

const dirs = new ModelDirs();
afterAll(() => dirs.cleanup());

/** Predictions against a float64 reference, to float32 precision. */
function expectClose(actual: unknown, expected: ArrayLike<number>, width: number): void {
  const rows = actual as number[][];
  expect(rows.length * width).toBe(expected.length);
  rows.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(expected[r * width + c], 5)));
}

runFlavorContract({
  name: 'ONNX (iris demo)',
  makeModelDir: async () => fileURLToPath(new URL('../../examples/iris', import.meta.url)),
  checkPredictions: (p) => expect((p as { label: number[] }).label).toEqual([0, 1, 2]),
});

runFlavorContract({
  name: 'TF.js LayersModel (5 shards)',
  makeModelDir: () => dirs.tfjsLayers(),
  checkPredictions: (p) => expectClose(p, denseForward(IRIS_LAYERS, IRIS_ROWS.flat(), 3), 3),
});

runFlavorContract({
  name: 'TF.js GraphModel (hand-written MatMul+BiasAdd+Softmax)',
  makeModelDir: () => dirs.tfjsGraph(),
  checkPredictions: (p) => expectClose(p, denseForward([GRAPH_WEIGHTS], IRIS_ROWS.flat(), 3), 3),
});

runFlavorContract({
  name: 'TF.js multi-input, multi-output LayersModel',
  makeModelDir: () => dirs.tfjsMultiIo(),
  checkPredictions: (p) => {
    const out = p as { probs: number[][]; score: number[][] };
    expect(Object.keys(out)).toEqual(['probs', 'score']);
    MULTI_IO_EXAMPLE.a.forEach((a, r) => {
      const want = multiIoForward(a, MULTI_IO_EXAMPLE.b[r]);
      expectClose([out.probs[r]], want.probs, MULTI_IO.probs.outSize);
      expectClose([out.score[r]], want.score, 1);
    });
  },
});

runFlavorContract({
  name: 'JS model with state (iris nearest centroid)',
  makeModelDir: () => dirs.jsCentroid(),
  checkPredictions: (p) => expect(p).toEqual([...IRIS_CLASS_NAMES]),
});

// scikit-learn: a lone tree (autolog) and full pipelines.
const iris = join(SKLEARN_FIXTURES, 'iris-tree-autolog-sk19');
const irisExpected = parseJsonText(readFileSync(join(iris, 'expected.json'), 'utf8'), false) as { predict: number[] };

runFlavorContract({
  name: 'scikit-learn DecisionTreeClassifier (autolog, 1.9)',
  makeModelDir: async () => iris,
  // The serving example is the first three training rows, which expected.json also starts with.
  checkPredictions: (p) => expect(p).toEqual(irisExpected.predict.slice(0, 3)),
});

runFlavorContract({
  name: 'scikit-learn census pipeline (ColumnTransformer + RandomForest, 1.2, pickle format)',
  makeModelDir: async () => join(SKLEARN_FIXTURES, 'census-rf-sk12'),
  skip: [
    {
      // infer_signature marks every column optional (the training data had missing values), so the suite
      // finds no required column to leave out; flavor.test.ts checks that a missing optional column is a 400.
      reason: 'no required column in the signature',
      tests: ['bad input: a missing input is a 400 naming it'],
    },
  ],
  checkPredictions: (p) => expect((p as string[]).every((v) => v === '<=50K' || v === '>50K')).toBe(true),
});

runFlavorContract({
  name: 'scikit-learn multinomial LogisticRegression (predict_fn: predict_proba, 1.9)',
  makeModelDir: async () => join(SKLEARN_FIXTURES, 'iris-logreg-proba-sk19'),
  checkPredictions: (p) => (p as number[][]).forEach((row) => expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)),
});

// XGBoost and LightGBM: MLflow-written directories and native boosters.
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

/** The sklearn flavour against the shared flavour contract: a lone tree (autolog) and a full pipeline. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseJsonText } from '../../src/util/json-parse.js';
import { runFlavorContract } from '../contract/flavor.contract.js';
import { SKLEARN_FIXTURES } from './helpers.js';

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

/** Every committed LightGBM fixture (one per objective; Booster text and scikit-learn pickles) against lightgbm 4.7.0's answers. */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { fixtureDirs, parityFor } from '../xgboost/parity-suite.js';

const ROOT = fileURLToPath(new URL('../fixtures/lightgbm/', import.meta.url));

it('has a fixture per objective', () => {
  const dirs = fixtureDirs(ROOT).join(' ');
  for (const o of ['binary', 'multiclass', 'regression', 'poisson', 'pipeline']) expect(dirs).toContain(o);
});

parityFor(ROOT);

/** Every committed XGBoost fixture (one per objective, each model file format) against xgboost 1.7.4's answers. */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { fixtureDirs, parityFor } from './parity-suite.js';

const ROOT = fileURLToPath(new URL('../fixtures/xgboost/', import.meta.url));

it('has a fixture per objective and per model format', () => {
  const dirs = fixtureDirs(ROOT).join(' ');
  for (const o of [
    'binary-logistic',
    'multi-softprob',
    'multi-softmax',
    'reg-squarederror',
    'reg-logistic',
    'count-poisson',
    'rank-pairwise',
    'categorical',
  ])
    expect(dirs).toContain(o);
  for (const f of ['-ubj', '-json', '-xgb', '-sk']) expect(dirs).toContain(f);
});

parityFor(ROOT);

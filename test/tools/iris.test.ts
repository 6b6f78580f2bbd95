import { describe, expect, it } from 'vitest';
import { IRIS_CLASS_NAMES, IRIS_FEATURES, IRIS_LABELS } from '../../tools/iris/iris-data.js';
import { argmax, logits, trainIrisLogReg } from '../../tools/iris/train.js';

describe('iris data', () => {
  it('has 150 rows, 50 per class, in canonical order', () => {
    expect(IRIS_FEATURES).toHaveLength(150);
    expect(IRIS_LABELS).toHaveLength(150);
    expect(IRIS_CLASS_NAMES).toEqual(['setosa', 'versicolor', 'virginica']);
    for (const c of [0, 1, 2]) expect(IRIS_LABELS.filter((l) => l === c)).toHaveLength(50);
    expect(IRIS_FEATURES[0]).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(IRIS_FEATURES[50]).toEqual([7.0, 3.2, 4.7, 1.4]);
    expect(IRIS_FEATURES[100]).toEqual([6.3, 3.3, 6.0, 2.5]);
    expect(IRIS_FEATURES[149]).toEqual([5.9, 3.0, 5.1, 1.8]);
    expect([IRIS_LABELS[0], IRIS_LABELS[50], IRIS_LABELS[100]]).toEqual([0, 1, 2]);
  });

  it('matches the published column means', () => {
    const means = [0, 1, 2, 3].map((j) => IRIS_FEATURES.reduce((s, r) => s + r[j], 0) / 150);
    [5.8433, 3.0573, 3.758, 1.1993].forEach((m, j) => expect(means[j]).toBeCloseTo(m, 3));
  });

  it('matches the published per-class column sums (catches swapped or mistyped rows)', () => {
    const sums = [0, 1, 2].map((c) =>
      [0, 1, 2, 3].map((j) => Math.round(IRIS_FEATURES.slice(c * 50, c * 50 + 50).reduce((s, r) => s + r[j], 0) * 10) / 10),
    );
    // Species means ×50 (R datasets::iris): setosa 5.006 3.428 1.462 0.246, versicolor 5.936 2.770 4.260 1.326,
    // virginica 6.588 2.974 5.552 2.026.
    expect(sums).toEqual([
      [250.3, 171.4, 73.1, 12.3],
      [296.8, 138.5, 213.0, 66.3],
      [329.4, 148.7, 277.6, 101.3],
    ]);
  });
});

describe('trainIrisLogReg', () => {
  it('reaches ≥ 0.95 training accuracy with 3x4 raw-feature weights', () => {
    const model = trainIrisLogReg();
    expect(model.weights).toHaveLength(3);
    for (const row of model.weights) expect(row).toHaveLength(4);
    expect(model.bias).toHaveLength(3);
    expect(model.accuracy).toBeGreaterThanOrEqual(0.95);
    const correct = IRIS_FEATURES.filter((x, i) => argmax(logits(model.weights, model.bias, x)) === IRIS_LABELS[i]).length;
    expect(correct / 150).toBe(model.accuracy);
  });

  it('is deterministic', () => {
    expect(trainIrisLogReg()).toEqual(trainIrisLogReg());
  });
});

/**
 * Random forests and extra trees: every tree's prediction (class fractions, or values) is summed
 * in tree order and divided by the number of trees, as `ForestClassifier.predict_proba` and
 * `ForestRegressor.predict` do with the default n_jobs; labels are the first arg-max.
 */
import type { TreeIR } from '../../../onnx/tree-ensemble.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { Estimator } from '../state.js';
import { type LeafValues, classifierClasses, emitTrees, treeAcceptsNaN, treeToIR } from './tree.js';

function members(est: Estimator): Estimator[] {
  const list = est.list('estimators_');
  if (list.length === 0) est.refuse('it has no fitted trees');
  return list.map((t, i) => {
    const child = est.child(t, `${est.path}.estimators_[${i}]`);
    if (!(child instanceof Estimator)) est.refuse(`estimators_[${i}] is not a tree`);
    return child;
  });
}

function forestTrees(est: Estimator, width: number, values: LeafValues): { trees: TreeIR[]; nFeatures: number; nan: boolean } {
  const trees = members(est);
  const nan = treeAcceptsNaN(est, trees[0]);
  const irs = trees.map((t) => {
    const ir = treeToIR(t, values, nan);
    if (ir.width !== width) t.refuse(`tree_.values has ${ir.width} outputs, expected ${width}`);
    if (ir.nFeatures !== est.int('n_features_in_')) t.refuse('its feature count differs from the forest');
    return ir.tree;
  });
  return { trees: irs, nFeatures: est.int('n_features_in_'), nan };
}

export const forestClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const classes = classifierClasses(est);
    let proba: string | undefined;
    const probaOnce = (): string => {
      if (proba !== undefined) return proba;
      const { trees, nFeatures, nan } = forestTrees(est, classes.size, 'proba');
      proba = emitTrees(ctx, est, input, { nFeatures, nTargets: classes.size, trees, aggregate: 'average' }, nan);
      return proba;
    };
    return {
      kind: 'classifier',
      classes,
      label: () => ctx.g.op('ArgMax', [probaOnce()], { axis: { i: 1 }, keepdims: { i: 0 } }),
      proba: probaOnce,
    };
  },
};

export const forestRegressorConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    if (est.int('n_outputs_') !== 1) est.refuse('multi-output regressors are not supported');
    return {
      kind: 'regressor',
      targets: 1,
      value: () => {
        const { trees, nFeatures, nan } = forestTrees(est, 1, 'raw');
        const y = emitTrees(ctx, est, input, { nFeatures, nTargets: 1, trees, aggregate: 'average' }, nan);
        return ctx.g.op('Squeeze', [y, ctx.g.int64([1])]);
      },
    };
  },
};

/**
 * scikit-learn's fitted trees (`sklearn.tree._tree.Tree` state) as the shared tree-ensemble IR,
 * and the single-tree estimators. Semantics copied from `_tree.pyx`: X is cast to float32, a
 * split sends `x <= threshold` (float32 x against the float64 threshold) left, NaN follows
 * `missing_go_to_left` where the version supports missing values, and leaves hold `value`.
 */
import { type TreeEnsembleIR, type TreeIR, type TreeNode, emitTreeEnsemble } from '../../../onnx/tree-ensemble.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { NdArray, PyObject } from '../pickle/index.js';
import { Estimator, atLeast } from '../state.js';

const TREE_CLASS = 'sklearn.tree._tree.Tree';

/** How leaf values become per-tree outputs. */
export type LeafValues = 'raw' | 'proba';

function numbers(a: unknown, est: Estimator, what: string, n: number): Float64Array {
  if (!(a instanceof NdArray) && !ArrayBuffer.isView(a)) est.refuse(`tree_ ${what} is missing`);
  const data = (a instanceof NdArray ? a.data : a) as ArrayLike<number | bigint>;
  if (data.length !== n) est.refuse(`tree_ ${what} has ${data.length} entries, expected ${n}`);
  return Float64Array.from(data, Number);
}

/**
 * One fitted tree as IR. `proba` divides each leaf by its sum (scikit-learn < 1.4 stored
 * counts and normalised in predict_proba; later versions store fractions and do not).
 */
export function treeToIR(est: Estimator, values: LeafValues, nanAllowed: boolean): { tree: TreeIR; nFeatures: number; width: number } {
  const t = est.req('tree_');
  if (!(t instanceof PyObject) || t.cls.path !== TREE_CLASS) est.refuse('tree_ is not a sklearn.tree._tree.Tree');
  const tree = new Estimator(t, `${est.path}.tree_`);
  const nFeatures = Number(t.args[0]);
  const nOutputs = Number(t.args[2]);
  if (nOutputs !== 1) est.refuse('multi-output trees are not supported');
  const n = tree.int('node_count');
  const nodes = tree.array('nodes');
  const f = nodes.fields;
  if (f === undefined || nodes.size !== n) est.refuse('tree_.nodes is not a structured array of node_count nodes');
  const left = numbers(f.left_child, est, 'left_child', n);
  const right = numbers(f.right_child, est, 'right_child', n);
  const feature = numbers(f.feature, est, 'feature', n);
  const threshold = numbers(f.threshold, est, 'threshold', n);
  const missLeft = f.missing_go_to_left === undefined ? undefined : numbers(f.missing_go_to_left, est, 'missing_go_to_left', n);
  const vals = tree.array('values');
  if (vals.shape.length !== 3 || vals.shape[0] !== n || vals.shape[1] !== 1) est.refuse('tree_.values has an unexpected shape');
  const width = vals.shape[2];
  const v = numbers(vals.data, est, 'values', n * width);
  const normalise = values === 'proba' && !atLeast(est.version, 1, 4);
  const out: TreeNode[] = [];
  for (let k = 0; k < n; k++) {
    if (left[k] === -1) {
      const w = Array.from(v.subarray(k * width, (k + 1) * width));
      const sum = w.reduce((a, b) => a + b, 0);
      out.push({ kind: 'leaf', targets: w.map((_, i) => i), weights: normalise ? w.map((x) => x / (sum === 0 ? 1 : sum)) : w });
    } else {
      const missingTracksTrue = nanAllowed && missLeft !== undefined && missLeft[k] !== 0;
      out.push({
        kind: 'split',
        feature: feature[k],
        mode: 'leq',
        threshold: threshold[k],
        trueChild: left[k],
        falseChild: right[k],
        missingTracksTrue,
      });
    }
  }
  return { tree: { nodes: out }, nFeatures, width };
}

/**
 * Whether predict accepts NaN (scikit-learn's `_support_missing_values`): trees learned to route
 * missing values in 1.3 (best splitter), random forests in 1.4, the random splitter (extra trees)
 * in 1.6. Elsewhere NaN is refused, as check_array refuses it.
 */
export function treeAcceptsNaN(est: Estimator, tree: Estimator): boolean {
  const v = est.version;
  const t = tree.raw('tree_');
  const nodes = t instanceof PyObject ? t.dict?.get('nodes') : undefined;
  if (!(nodes instanceof NdArray) || nodes.fields?.missing_go_to_left === undefined) return false;
  if (tree.raw('monotonic_cst') !== null && tree.raw('monotonic_cst') !== undefined) return false;
  if (atLeast(v, 1, 6)) return true;
  const random = tree.optStr('splitter') === 'random';
  if (random) return false;
  return est === tree ? atLeast(v, 1, 3) : atLeast(v, 1, 4);
}

/** Emits a tree ensemble over the estimator's input, with scikit-learn's input checks. */
export function emitTrees(
  ctx: CompileContext,
  est: Estimator,
  input: Value,
  ir: Omit<TreeEnsembleIR, 'inputPrecision'>,
  nanAllowed: boolean,
): string {
  const x = ctx.numeric(input, est);
  const n = est.int('n_features_in_');
  if (n !== x.width || ir.nFeatures !== n) est.refuse(`it was fitted on ${n} features but receives ${x.width}`);
  ctx.assertFinite(x.name, est, { allowNaN: nanAllowed, dtype: 'float32' });
  return emitTreeEnsemble(ctx.g, { ...ir, inputPrecision: 'float32' }, x.name);
}

export function classifierClasses(est: Estimator): NdArray {
  if (est.int('n_outputs_') !== 1) est.refuse('multi-output classifiers are not supported');
  const classes = est.array('classes_');
  if (classes.shape.length !== 1 || classes.size < 1) est.refuse('classes_ is not a list of classes');
  return classes;
}

export const decisionTreeClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const classes = classifierClasses(est);
    const nan = treeAcceptsNaN(est, est);
    const ensemble = (values: LeafValues): string => {
      const { tree, nFeatures, width } = treeToIR(est, values, nan);
      if (width !== classes.size) est.refuse(`tree_.values has ${width} classes, classes_ has ${classes.size}`);
      return emitTrees(ctx, est, input, { nFeatures, nTargets: width, trees: [tree], aggregate: 'sum' }, nan);
    };
    return {
      kind: 'classifier',
      classes,
      // predict takes the arg-max of the raw leaf values, predict_proba the (normalised) fractions.
      label: () => ctx.g.op('ArgMax', [ensemble('raw')], { axis: { i: 1 }, keepdims: { i: 0 } }),
      proba: () => ensemble('proba'),
    };
  },
};

export const decisionTreeRegressorConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    if (est.int('n_outputs_') !== 1) est.refuse('multi-output regressors are not supported');
    const nan = treeAcceptsNaN(est, est);
    return {
      kind: 'regressor',
      targets: 1,
      value: () => {
        const { tree, nFeatures } = treeToIR(est, 'raw', nan);
        const y = emitTrees(ctx, est, input, { nFeatures, nTargets: 1, trees: [tree], aggregate: 'sum' }, nan);
        return ctx.g.op('Squeeze', [y, ctx.g.int64([1])]);
      },
    };
  },
};

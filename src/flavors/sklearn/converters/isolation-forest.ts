/**
 * `IsolationForest.predict`: 1 (inlier) or -1 where `decision_function < 0`, with
 * `decision_function = score_samples - offset_` and
 * `score_samples = -2 ** (-depths / (n_trees * c(max_samples)))`, `c` being
 * `_average_path_length`. `depths` sums, tree by tree in order, the leaf's decision-path length
 * (nodes on the path, root included) plus `c(n_node_samples[leaf]) - 1`. Each ExtraTreeRegressor
 * reads `X[:, estimators_features_[t]]`, but only when `_max_features` differs from the column
 * count (else all of X), compared in float32 as `tree.apply` does.
 *
 * Input checks by generation: from 1.6 (verified on 1.6 and 1.9) X is validated with
 * `ensure_all_finite=False` and a NaN follows each node's `missing_go_to_left`; earlier
 * versions (verified on 1.2; 1.3-1.5 are held to the same, stricter checks) refuse NaN and
 * infinity in float64, then values too large for float32 in the columns the trees read.
 */
import { type TreeIR, emitTreeEnsemble } from '../../../onnx/tree-ensemble.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { NdArray, NpDType, PyObject, type PyValue } from '../pickle/index.js';
import { type Estimator, asList, atLeast, toDoubles } from '../state.js';
import { treeToIR } from './tree.js';

const EULER_GAMMA = 0.5772156649015329;

/** `_average_path_length` for one sample count. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2.0 * (Math.log(n - 1.0) + EULER_GAMMA) - (2.0 * (n - 1.0)) / n;
}

function members(est: Estimator): { trees: Estimator[]; features: number[][] } {
  const list = est.list('estimators_');
  const feats = est.list('estimators_features_');
  if (list.length === 0 || feats.length !== list.length) est.refuse('estimators_ and estimators_features_ do not pair up');
  const trees = list.map((t, i) => {
    const child = est.child(t, `${est.path}.estimators_[${i}]`);
    if (typeof child === 'string' || child === null || child.classPath !== 'sklearn.tree._classes.ExtraTreeRegressor')
      est.refuse(`estimators_[${i}] is not an ExtraTreeRegressor`);
    return child;
  });
  const n = est.int('n_features_in_');
  const features = feats.map((f, i) => {
    if (!(f instanceof NdArray)) est.refuse(`estimators_features_[${i}] is not an array`);
    const idx = Array.from(toDoubles(f, () => est.refuse(`estimators_features_[${i}] is not numeric`)));
    if (!idx.every((j) => Number.isInteger(j) && j >= 0 && j < n)) est.refuse(`estimators_features_[${i}] names columns beyond ${n}`);
    return idx;
  });
  return { trees, features };
}

/** Per node: the decision-path length (root = 1) and `c(n_node_samples)`, pickled from 1.5-ish on, else derived. */
function pathParts(est: Estimator, tree: Estimator, t: number, ir: TreeIR): { length: Float64Array; correction: Float64Array } {
  const n = ir.nodes.length;
  const lengths = est.raw('_decision_path_lengths');
  const corrections = est.raw('_average_path_length_per_tree');
  if (lengths !== undefined && corrections !== undefined) {
    const pick = (v: PyValue, what: string) => {
      const a = asList(v)?.[t];
      if (!(a instanceof NdArray) || a.size !== n) est.refuse(`${what}[${t}] does not hold one value per node`);
      return toDoubles(a, () => est.refuse(`${what}[${t}] is not numeric`));
    };
    return { length: pick(lengths, '_decision_path_lengths'), correction: pick(corrections, '_average_path_length_per_tree') };
  }
  const fitted = tree.raw('tree_');
  const nodes = fitted instanceof PyObject ? fitted.dict?.get('nodes') : undefined;
  const counts = nodes instanceof NdArray ? nodes.fields?.n_node_samples : undefined;
  if (counts === undefined || counts.length !== n) tree.refuse('tree_ has no n_node_samples');
  const length = new Float64Array(n);
  length[0] = 1;
  ir.nodes.forEach((node, k) => {
    if (node.kind === 'split') length[node.trueChild] = length[node.falseChild] = length[k] + 1;
  });
  return { length, correction: Float64Array.from(counts as ArrayLike<number | bigint>, (c) => averagePathLength(Number(c))) };
}

function maxSamples(est: Estimator): number {
  const a = est.int('max_samples_');
  if (est.has('_max_samples') && est.int('_max_samples') !== a) est.refuse('max_samples_ and _max_samples differ');
  return a;
}

/** float64 [N] `score_samples` and `decision_function`. */
export function isolationScores(est: Estimator, input: Value, ctx: CompileContext): { scoreSamples: string; decision: string } {
  const g = ctx.g;
  const x = ctx.numeric(input, est);
  const n = est.int('n_features_in_');
  if (x.width !== n) est.refuse(`it was fitted on ${n} features but receives ${x.width}`);
  const nan = atLeast(est.version, 1, 6);
  const { trees, features } = members(est);
  const subsample = est.int('_max_features') !== n;
  const irs = trees.map((tree, t) => {
    const { tree: ir, nFeatures } = treeToIR(tree, 'raw', nan);
    const map = subsample ? features[t] : Array.from({ length: n }, (_, j) => j);
    if (nFeatures !== map.length) tree.refuse(`it was fitted on ${nFeatures} features, its subset has ${map.length}`);
    const { length, correction } = pathParts(est, tree, t, ir);
    const nodes = ir.nodes.map((node, k) =>
      node.kind === 'leaf'
        ? { kind: 'leaf' as const, targets: [0], weights: [length[k] + correction[k] - 1.0] }
        : { ...node, feature: map[node.feature] },
    );
    return { nodes };
  });
  if (!nan) {
    ctx.assertFinite(x.name, est, { allowNaN: false });
    const used = subsample ? [...new Set(features.flat())].sort((a, b) => a - b) : [];
    const checked = subsample ? g.op('Gather', [x.name, g.int64(used)], { axis: { i: 1 } }) : x.name;
    ctx.assertFinite(checked, trees[0], { allowNaN: false, dtype: 'float32' });
  }
  const depths = emitTreeEnsemble(g, { nFeatures: n, nTargets: 1, trees: irs, aggregate: 'sum', inputPrecision: 'float32' }, x.name);
  const denominator = trees.length * averagePathLength(maxSamples(est));
  // np.divide(..., out=np.ones_like(depths), where=denominator != 0): a one-sample forest scores 2**-1.
  const ratio =
    denominator !== 0
      ? g.op('Div', [depths, g.double([denominator], [])])
      : g.op('Add', [g.op('Mul', [depths, g.double([0], [])]), g.double([1], [])]);
  const scores = g.op('Neg', [g.op('Pow', [g.double([2], []), g.op('Neg', [ratio])])]);
  const scoreSamples = g.op('Squeeze', [scores, g.int64([1])]);
  return { scoreSamples, decision: g.op('Sub', [scoreSamples, g.double([est.num('offset_')], [])]) };
}

function inlierClasses(): NdArray {
  const a = new NdArray();
  a.dtype = new NpDType('i', 8, '<i8');
  a.shape = [2];
  a.data = BigInt64Array.from([-1n, 1n]);
  return a;
}

export const isolationForestConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    if (ctx.method !== 'predict') est.refuse(`it has no ${ctx.method}`);
    return {
      kind: 'classifier',
      classes: inlierClasses(),
      label: () => {
        const { decision } = isolationScores(est, input, ctx);
        const inlier = ctx.g.op('Not', [ctx.g.op('Less', [decision, ctx.g.double([0], [])])]);
        return ctx.g.op('Cast', [inlier], { to: { i: 7 } });
      },
      proba: () => est.refuse('it has no predict_proba'),
    };
  },
};

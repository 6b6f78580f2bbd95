/**
 * An XGBoost booster as ONNX, computing what XGBoost's CPU predictor computes.
 *
 * Precision: XGBoost rounds the input to float32, compares it with float32 thresholds, and adds
 * float32 leaf values one tree at a time onto the float32 base margin (`PredictByAllTrees`:
 * `preds[gid] += leaf`). Summing in doubles instead would differ by the float32 rounding of every
 * partial sum, far above 1e-5 relative when the trees' contributions cancel. So the
 * TreeEnsemble gives each tree its own target (one exact float32 leaf value per tree and row),
 * and a float32 CumSum over [base, tree 0, tree 1, …] per output group repeats XGBoost's
 * additions in XGBoost's order, bit for bit. Only the final transform (sigmoid, exp, softmax)
 * runs in double and is rounded to float32 once, which stays within an ulp of XGBoost's float
 * `expf`-based result.
 */
import { math } from '../../onnx/graph-builder.js';
import type { GraphBuilder } from '../../onnx/graph-builder.js';
import { type TreeIR, type TreeNode, emitTreeEnsemble } from '../../onnx/tree-ensemble.js';
import { InputViews } from '../../onnx/tree-inputs.js';
import { type XgbBooster, treesForRounds } from './booster.js';

const FLOAT = { to: { i: 1 } };
const DOUBLE = { to: { i: 11 } };

export interface XgbGraphOptions {
  /** Boosting rounds used, from the first (0 = all), as `iteration_range=(0, rounds)`. */
  readonly rounds: number;
  /** The DMatrix's `missing` value (NaN is always missing too). */
  readonly missing: number;
}

/** Tree `t` with its leaves on target `t`; categorical splits read the floored view. */
function retarget(tree: TreeIR, t: number, views: InputViews, categorical: ReadonlySet<number>): TreeIR {
  const nodes = tree.nodes.map((n): TreeNode => {
    if (n.kind === 'leaf') return { kind: 'leaf', targets: [t], weights: n.weights };
    if (n.mode === 'member') return { ...n, feature: views.column('floor', n.feature) };
    return categorical.size === 0 ? n : { ...n, feature: views.column('raw', n.feature) };
  });
  return { nodes, root: tree.root };
}

/** float32 input with `missing` turned into NaN, widened back to double for the TreeEnsemble. */
function prepareInput(g: GraphBuilder, x: string, missing: number): string {
  let x32 = g.op('Cast', [x], FLOAT);
  if (!Number.isNaN(missing)) {
    const hit = g.op('Equal', [x32, g.constant('float32', [], [Math.fround(missing)], 'missing')]);
    x32 = g.op('Where', [hit, g.constant('float32', [], [NaN], 'nan'), x32]);
  }
  return g.op('Cast', [x32], DOUBLE);
}

/**
 * float32 [N, groups] margins over `x` (double [N, numFeature]): base_margin plus the trees of
 * the first `rounds` rounds, accumulated in float32 in tree order.
 */
export function emitXgbMargin(g: GraphBuilder, b: XgbBooster, x: string, opts: XgbGraphOptions): string {
  const used = treesForRounds(b, opts.rounds);
  const views = new InputViews(b.numFeature);
  const trees = b.trees.slice(0, used).map((t, k) => retarget(t, k, views, b.categorical));
  const input = views.emit(g, prepareInput(g, x, opts.missing));
  const perTree = emitTreeEnsemble(
    g,
    { nFeatures: views.columns, nTargets: used, trees, aggregate: 'sum', inputPrecision: 'float64' },
    input,
  );
  const y32 = g.op('Cast', [perTree], FLOAT);
  const k = b.groups;
  const zero = g.op('Mul', [g.op('Slice', [y32, g.int64([0]), g.int64([1]), g.int64([1])]), g.constant('float32', [], [0], 'zero')]);
  const base = g.op('Add', [zero, g.constant('float32', [1, k], b.baseMargin, 'base_margin')]);
  const all = g.op('Concat', [y32, base, zero], { axis: { i: 1 } });
  // Per group: its base column, its trees in order, padded with the zero column to a common length.
  const byGroup: number[][] = Array.from({ length: k }, (_, c) => [used + c]);
  for (let t = 0; t < used; t++) byGroup[b.treeInfo[t]].push(t);
  const m = Math.max(...byGroup.map((l) => l.length));
  const index = byGroup.flatMap((l) => [...l, ...Array.from({ length: m - l.length }, () => used + k)]);
  const arranged = g.op('Reshape', [g.op('Gather', [all, g.int64(index)], { axis: { i: 1 } }), g.int64([-1, k, m])]);
  const sums = g.op('CumSum', [arranged, g.int64([2], [])]);
  return g.op('Squeeze', [g.op('Gather', [sums, g.int64([m - 1])], { axis: { i: 2 } }), g.int64([2])]);
}

/** What `Booster.predict` returns (float32): [N] for one group and multi:softmax, [N, k] for multi:softprob. */
export function emitXgbTransform(g: GraphBuilder, b: XgbBooster, margin: string): string {
  const vector = (v: string) => g.op('Squeeze', [v, g.int64([1])]);
  const m = g.op('Cast', [margin], DOUBLE);
  switch (b.transform) {
    case 'identity':
      return vector(margin);
    case 'logistic':
      return vector(g.op('Cast', [math.expit(g, m)], FLOAT));
    case 'exp':
      return vector(g.op('Cast', [g.op('Exp', [m])], FLOAT));
    case 'softprob':
      return g.op('Cast', [math.softmax(g, m)], FLOAT);
    case 'softmax':
      return g.op('Cast', [g.op('ArgMax', [margin], { axis: { i: 1 }, keepdims: { i: 0 } })], FLOAT);
  }
}

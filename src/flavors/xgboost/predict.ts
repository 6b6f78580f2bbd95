/**
 * What the scikit-learn wrappers make of a booster's output (xgboost/sklearn.py, 1.7-2.x):
 * `XGBClassifier.predict` takes the arg-max of multi-class probabilities, `p > 0.5` of a binary
 * one, and the booster's own class index for `multi:softmax`; `predict_proba` stacks
 * `[1 - p, p]` (float32) for binary models and soft-maxes the margins for `multi:softmax`.
 * Regressors and rankers return the booster's float32 output.
 */
import { type GraphBuilder, math } from '../../onnx/graph-builder.js';
import { type XgbBooster, refuse } from './booster.js';
import { type XgbGraphOptions, emitXgbMargin, emitXgbTransform } from './emit.js';

const FLOAT = { to: { i: 1 } };
const DOUBLE = { to: { i: 11 } };

export interface XgbOutputs {
  /** float32 [N] or [N, k]: `Booster.predict` / the regressor's `predict`. */
  value(): string;
  /** int64 [N] class indices, as `XGBClassifier.predict` returns them. */
  label(): string;
  /** float64 [N, n_classes] (values of float32 probabilities), as `predict_proba` returns them. */
  proba(): string;
}

/** Lazily emitted outputs over `x` (double [N, numFeature]), each at most once. */
export function xgbOutputs(g: GraphBuilder, b: XgbBooster, x: string, opts: XgbGraphOptions, nClasses: number): XgbOutputs {
  let margin: string | undefined;
  let value: string | undefined;
  const marginOnce = () => (margin ??= emitXgbMargin(g, b, x, opts));
  const valueOnce = () => (value ??= emitXgbTransform(g, b, marginOnce()));
  const checkClasses = () => {
    if (b.transform === 'softprob' && nClasses === 2) refuse('a two-class multi:softprob classifier predicts multi-label indicators');
    if ((b.transform === 'softprob' || b.transform === 'softmax') && b.groups !== nClasses)
      refuse(`the booster has ${b.groups} classes, the classifier ${nClasses}`);
    if (b.groups === 1 && nClasses > 2) refuse(`a ${nClasses}-class classifier with the single-output objective ${b.objective}`);
  };
  return {
    value: valueOnce,
    label() {
      checkClasses();
      const v = valueOnce();
      if (b.transform === 'softprob') return g.op('ArgMax', [v], { axis: { i: 1 }, keepdims: { i: 0 } });
      if (b.transform === 'softmax') return g.op('Cast', [v], { to: { i: 7 } });
      return g.op('Cast', [g.op('Greater', [v, g.constant('float32', [], [0.5], 'half')])], { to: { i: 7 } });
    },
    proba() {
      checkClasses();
      if (b.transform === 'softmax')
        return g.op('Cast', [g.op('Cast', [math.softmax(g, g.op('Cast', [marginOnce()], DOUBLE))], FLOAT)], DOUBLE);
      const v = valueOnce();
      if (b.transform === 'softprob') return g.op('Cast', [v], DOUBLE);
      const p = g.op('Unsqueeze', [v, g.int64([1])]);
      const q = g.op('Sub', [g.constant('float32', [], [1], 'one'), p]);
      return g.op('Cast', [g.op('Concat', [q, p], { axis: { i: 1 } })], DOUBLE);
    },
  };
}

/** `best_iteration` as the wrappers use it: rounds `[0, best_iteration + 1)`, or all when absent. */
export function roundsFromBestIteration(best: unknown): number {
  const v = typeof best === 'string' ? Number(best) : typeof best === 'bigint' ? Number(best) : best;
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) refuse(`best_iteration '${String(best)}' is not a non-negative integer`);
  return v + 1;
}

/**
 * A LightGBM model as ONNX. LightGBM predicts in double (`GBDT::PredictRaw` adds each tree's
 * double leaf value in tree order, per class), so one double TreeEnsemble summing per target in
 * tree order reproduces it; NaN/zero handling and category truncation are input views
 * ({@link InputViews}). `average_output` (random forest) divides by the iterations used, then
 * the objective's transform runs in double, as `ObjectiveFunction::ConvertOutput` does.
 */
import { type GraphBuilder, math } from '../../onnx/graph-builder.js';
import { emitTreeEnsemble } from '../../onnx/tree-ensemble.js';
import { InputViews } from '../../onnx/tree-inputs.js';
import { type LgbModel, refuse, toIR } from './text-model.js';

export interface LgbOutputs {
  /** double [N] or [N, k]: `Booster.predict` (and the regressors' `predict`). */
  value(): string;
  /** int64 [N]: arg-max of `predict_proba` (the index into the label encoder's classes). */
  label(): string;
  /** double [N, k]: `LGBMClassifier.predict_proba`. */
  proba(): string;
}

/** Iterations used: the first `n` (`num_iteration`; 0 or less = all), as the booster clamps it. */
export function iterationsUsed(m: LgbModel, n: number): number {
  const total = m.trees.length / m.treesPerIteration;
  return n > 0 ? Math.min(n, total) : total;
}

/** double [N, k] raw scores over `x` (double [N, numFeature]). */
export function emitLgbRaw(g: GraphBuilder, m: LgbModel, x: string, iterations: number): string {
  const k = m.treesPerIteration;
  const used = iterationsUsed(m, iterations) * k;
  const views = new InputViews(m.numFeature);
  const trees = m.trees.slice(0, used).map((t, i) => toIR(t, i, i % k, m.numFeature, views));
  const y = emitTreeEnsemble(
    g,
    { nFeatures: views.columns, nTargets: k, trees, aggregate: 'sum', inputPrecision: 'float64' },
    views.emit(g, x),
  );
  return m.averageOutput ? g.op('Div', [y, g.double([used / k], [])]) : y;
}

function sigmoid(g: GraphBuilder, raw: string, scale: number): string {
  return math.expit(g, scale === 1 ? raw : g.op('Mul', [raw, g.double([scale], [])]));
}

/** Lazily emitted outputs, each at most once. */
export function lgbOutputs(g: GraphBuilder, m: LgbModel, x: string, iterations: number): LgbOutputs {
  let raw: string | undefined;
  let converted: string | undefined;
  let proba: string | undefined;
  const rawOnce = () => (raw ??= emitLgbRaw(g, m, x, iterations));
  const vector = (v: string) => g.op('Squeeze', [v, g.int64([1])]);
  // [N, k] after the objective's transform.
  const convertedOnce = () => {
    if (converted !== undefined) return converted;
    const r = rawOnce();
    if (m.transform === 'sigmoid' || m.transform === 'ova-sigmoid') converted = sigmoid(g, r, m.sigmoid);
    else if (m.transform === 'softmax') converted = math.softmax(g, r);
    else if (m.transform === 'exp') converted = g.op('Exp', [r]);
    else converted = r;
    return converted;
  };
  const probaOnce = () => {
    if (proba !== undefined) return proba;
    if (m.transform === 'identity' || m.transform === 'exp') refuse(`a classifier with the objective ${m.objective}`);
    const p = convertedOnce();
    proba = m.numClass === 1 ? g.op('Concat', [g.op('Sub', [g.double([1], []), p]), p], { axis: { i: 1 } }) : p;
    return proba;
  };
  return {
    value: () => (m.numClass === 1 ? vector(convertedOnce()) : convertedOnce()),
    label: () => g.op('ArgMax', [probaOnce()], { axis: { i: 1 }, keepdims: { i: 0 } }),
    proba: probaOnce,
  };
}

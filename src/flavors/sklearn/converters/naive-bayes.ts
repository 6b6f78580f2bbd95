/**
 * `GaussianNB` as `naive_bayes.py` computes it, term for term so the joint log-likelihood has
 * scikit-learn's bits (predict_log_proba of a near-certain class is jll - logsumexp(jll), a
 * difference that keeps only the last bits of jll):
 *   jll_i = log(prior_i) + (-0.5 Σ_f log(2π var_if) - 0.5 Σ_f (x_f - θ_if)² / var_if),
 * both sums numpy's pairwise sums over features. predict is the first arg-max of jll;
 * predict_log_proba is jll minus its log-sum-exp — scipy's (`log(Σ exp(jll - max)) + max`)
 * before 1.8, scikit-learn's own from 1.8 (`log1p(Σ_{non-max} exp(jll - max) / m) + log(m) +
 * max`, m the count of maxima); predict_proba is its exp.
 */
import type { GraphBuilder } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { type Estimator, atLeast } from '../state.js';
import { columns, numpyPairwiseSum, numpyPairwiseSumOf } from './exact-sums.js';

interface Gaussian {
  readonly k: number;
  readonly d: number;
  readonly theta: Float64Array;
  readonly variance: Float64Array;
  readonly prior: Float64Array;
}

function readGaussian(est: Estimator): Gaussian {
  const k = est.array('classes_').size;
  const d = est.int('n_features_in_');
  if (!est.has('var_')) est.refuse("it has no 'var_' (fitted before scikit-learn 1.0)");
  return { k, d, theta: est.doubles('theta_', k * d), variance: est.doubles('var_', k * d), prior: est.doubles('class_prior_', k) };
}

/** float64 [N, k]: the joint log-likelihood. */
function jointLogLikelihood(ctx: CompileContext, x: string, m: Gaussian): string {
  const g = ctx.g;
  const perClass = (f: (i: number) => number): number[] => Array.from({ length: m.k }, (_, i) => f(i));
  const logPrior = perClass((i) => Math.log(m.prior[i]));
  const twoPi = 2.0 * Math.PI;
  const norm = perClass((i) => -0.5 * numpyPairwiseSumOf(Array.from({ length: m.d }, (_, f) => Math.log(twoPi * m.variance[i * m.d + f]))));
  const terms = columns(g, x, m.d).map((xf, f) => {
    const diff = g.op('Sub', [
      xf,
      g.double(
        perClass((i) => m.theta[i * m.d + f]),
        [1, m.k],
        'theta',
      ),
    ]);
    return g.op('Div', [
      g.op('Mul', [diff, diff]),
      g.double(
        perClass((i) => m.variance[i * m.d + f]),
        [1, m.k],
        'var',
      ),
    ]);
  });
  const nij = g.op('Sub', [g.double(norm, [1, m.k], 'norm'), g.op('Mul', [g.double([0.5], []), numpyPairwiseSum(g, terms)])]);
  return g.op('Add', [g.double(logPrior, [1, m.k], 'logprior'), nij]);
}

/** log1p without a Log1p operator: `log(u) * s / (u - 1)` with u = 1 + s (exact where u rounds to 1). */
function log1p(g: GraphBuilder, s: string): string {
  const u = g.op('Add', [g.double([1], []), s]);
  const ratio = g.op('Div', [g.op('Mul', [g.op('Log', [u]), s]), g.op('Sub', [u, g.double([1], [])])]);
  return g.op('Where', [g.op('Equal', [u, g.double([1], [])]), s, ratio]);
}

/** float64 [N, 1]: logsumexp over classes the way the pickle's scikit-learn computes it. */
function logSumExp(ctx: CompileContext, est: Estimator, jll: string, k: number): string {
  const g = ctx.g;
  const axes = g.int64([1]);
  const max = g.op('ReduceMax', [jll, axes], { keepdims: { i: 1 } });
  const finiteMax = g.op('Where', [g.op('IsInf', [max]), g.double([0], []), max]);
  const sum = (t: string): string => numpyPairwiseSum(g, columns(g, t, k));
  if (!atLeast(est.version, 1, 8)) return g.op('Add', [g.op('Log', [sum(g.op('Exp', [g.op('Sub', [jll, finiteMax])]))]), finiteMax]);
  const isMax = g.op('Equal', [jll, max]);
  const count = sum(g.op('Cast', [isMax], { to: { i: 11 } }));
  const rest = g.op('Where', [isMax, g.double([-Infinity], []), jll]);
  const s = sum(g.op('Exp', [g.op('Sub', [rest, finiteMax])]));
  const scaled = g.op('Where', [g.op('Equal', [s, g.double([0], [])]), s, g.op('Div', [s, count])]);
  return g.op('Add', [g.op('Add', [log1p(g, scaled), g.op('Log', [count])]), max]);
}

export const gaussianNBConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const classes = est.array('classes_');
    const m = readGaussian(est);
    let jll: string | undefined;
    const joint = (): string => {
      if (jll !== undefined) return jll;
      const x = ctx.numeric(input, est);
      if (x.width !== m.d) est.refuse(`it was fitted on ${m.d} features but receives ${x.width}`);
      ctx.assertFinite(x.name, est, { allowNaN: false });
      jll = jointLogLikelihood(ctx, x.name, m);
      return jll;
    };
    const logProba = (): string => ctx.g.op('Sub', [joint(), logSumExp(ctx, est, joint(), m.k)]);
    return {
      kind: 'classifier',
      classes,
      label: () => ctx.g.op('ArgMax', [joint()], { axis: { i: 1 }, keepdims: { i: 0 } }),
      proba: () => ctx.g.op('Exp', [logProba()]),
      logProba,
    };
  },
};

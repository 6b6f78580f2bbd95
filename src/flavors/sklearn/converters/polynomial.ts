/**
 * `sklearn.preprocessing.PolynomialFeatures` (`degree` as an int or a (min, max) pair,
 * `interaction_only`, `include_bias`) on dense input. The terms are built exactly as its dense
 * `transform` builds them, block by block: each degree-d block is a slice of the degree-(d-1)
 * terms times one input column, so every product is rounded in the same order as numpy's.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import type { Estimator } from '../state.js';

/** Wider outputs than this are refused: the graph would hold one index per output column. */
const MAX_OUTPUT_FEATURES = 100_000;

function columnsOf(ctx: CompileContext, x: string, from: number, to: number): string {
  const g = ctx.g;
  const idx = Array.from({ length: to - from }, (_, k) => from + k);
  return g.op('Gather', [x, g.int64(idx)], { axis: { i: 1 } });
}

/** A float64 [N, 1] column of ones. */
function ones(ctx: CompileContext, x: string): string {
  const g = ctx.g;
  const rows = g.op('Gather', [g.op('Shape', [x]), g.int64([0])], { axis: { i: 0 } });
  return g.op('Expand', [g.double([1], [1, 1]), g.op('Concat', [rows, g.int64([1])], { axis: { i: 0 } })]);
}

interface Spec {
  readonly n: number;
  readonly maxDegree: number;
  readonly interactionOnly: boolean;
  readonly bias: boolean;
}

/** XP of the dense path: all terms of degree 0 (if biased) to maxDegree, and its width. */
function allTerms(ctx: CompileContext, x: string, s: Spec): { xp: string; width: number } {
  const g = ctx.g;
  let xp = s.bias ? g.op('Concat', [ones(ctx, x), x], { axis: { i: 1 } }) : x;
  let current = (s.bias ? 1 : 0) + s.n;
  let index = Array.from({ length: s.n + 1 }, (_, k) => (s.bias ? 1 : 0) + k);
  for (let d = 2; d <= s.maxDegree; d++) {
    const next: number[] = [];
    const end = index[index.length - 1];
    const blocks: string[] = [];
    for (let f = 0; f < s.n; f++) {
      let start = index[f];
      next.push(current);
      if (s.interactionOnly) start += index[f + 1] - index[f];
      const stop = current + end - start;
      if (stop <= current) break;
      blocks.push(g.op('Mul', [columnsOf(ctx, xp, start, end), columnsOf(ctx, x, f, f + 1)]));
      current = stop;
    }
    next.push(current);
    index = next;
    if (blocks.length > 0) xp = g.op('Concat', [xp, ...blocks], { axis: { i: 1 } });
  }
  return { xp, width: current };
}

export const polynomialFeaturesConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const v = ctx.numeric(input, est);
    const n = est.int('n_features_in_');
    if (n !== v.width) est.refuse(`it was fitted on ${n} features but receives ${v.width}`);
    const minDegree = est.int('_min_degree');
    const spec: Spec = {
      n,
      maxDegree: est.int('_max_degree'),
      interactionOnly: est.bool('interaction_only'),
      bias: est.bool('include_bias'),
    };
    const nOut = est.int('n_output_features_');
    const nFull = est.int('_n_out_full');
    const widest = Math.max(nOut, nFull);
    if (widest > MAX_OUTPUT_FEATURES) est.refuse(`it outputs ${widest} features, more than ${MAX_OUTPUT_FEATURES}`);
    if (nOut === 0 || nOut > nFull) est.refuse(`n_output_features_ ${nOut} does not fit _n_out_full ${nFull}`);
    // validate_data with the default ensure_all_finite=True.
    ctx.assertFinite(v.name, est, { allowNaN: false });
    if (spec.maxDegree === 0) {
      if (!spec.bias || nOut !== 1) est.refuse('degree 0 without a bias term has no output');
      return { kind: 'numeric', name: ones(ctx, v.name), width: 1 };
    }
    const { xp, width } = allTerms(ctx, v.name, spec);
    if (width !== nFull) est.refuse(`it builds ${width} terms, _n_out_full says ${nFull}`);
    if (minDegree <= 1) {
      if (nOut !== nFull) est.refuse(`n_output_features_ ${nOut} differs from _n_out_full ${nFull}`);
      return { kind: 'numeric', name: xp, width };
    }
    const tail = spec.bias ? columnsOf(ctx, xp, nFull - nOut + 1, nFull) : columnsOf(ctx, xp, nFull - nOut, nFull);
    const name = spec.bias ? g.op('Concat', [ones(ctx, v.name), tail], { axis: { i: 1 } }) : tail;
    return { kind: 'numeric', name, width: nOut };
  },
};

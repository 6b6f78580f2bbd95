/**
 * Column scalers and the row normalizer, op for op as their `transform` computes in float64:
 * `MinMaxScaler` (`X * scale_ + min_`, then `clip` to `feature_range`), `MaxAbsScaler`
 * (`X / scale_`, 1.8+'s `clip` to [-1, 1]), `RobustScaler` (`(X - center_) / scale_`, each part
 * only when enabled) and `Normalizer` (each row divided by its l1, l2 or max norm, a norm below
 * 10 * eps counting as 1). The scalers let NaN through and refuse infinity; the normalizer
 * refuses both.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { type Estimator, asList, scalar } from '../state.js';

/** float64 eps, as `_handle_zeros_in_scale` uses it. */
const EPS = 2.220446049250313e-16;

function numericInput(est: Estimator, input: Value, ctx: CompileContext, allowNaN: boolean): { x: string; n: number } {
  const v = ctx.numeric(input, est);
  const n = est.int('n_features_in_');
  if (n !== v.width) est.refuse(`it was fitted on ${n} features but receives ${v.width}`);
  ctx.assertFinite(v.name, est, { allowNaN });
  return { x: v.name, n };
}

/** `np.clip(y, lo, hi)`: NaN stays NaN (comparisons with it are false). */
function clip(ctx: CompileContext, y: string, lo: number, hi: number): string {
  const g = ctx.g;
  const low = g.double([lo], []);
  const high = g.double([hi], []);
  const raised = g.op('Where', [g.op('Less', [y, low]), low, y]);
  return g.op('Where', [g.op('Greater', [raised, high]), high, raised]);
}

function featureRange(est: Estimator): [number, number] {
  const r = asList(est.req('feature_range'));
  const lo = scalar(r?.[0]);
  const hi = scalar(r?.[1]);
  if (r?.length !== 2 || typeof lo !== 'number' || typeof hi !== 'number' || !(lo < hi))
    est.refuse('feature_range is not a (min, max) pair');
  return [lo, hi];
}

export const minMaxScalerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const { x, n } = numericInput(est, input, ctx, true);
    const scaled = g.op('Mul', [x, g.double(est.doubles('scale_', n), [1, n], 'scale')]);
    let y = g.op('Add', [scaled, g.double(est.doubles('min_', n), [1, n], 'min')]);
    if (est.bool('clip', false)) y = clip(ctx, y, ...featureRange(est));
    return { kind: 'numeric', name: y, width: n };
  },
};

export const maxAbsScalerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const { x, n } = numericInput(est, input, ctx, true);
    let y = g.op('Div', [x, g.double(est.doubles('scale_', n), [1, n], 'scale')]);
    if (est.bool('clip', false)) y = clip(ctx, y, -1, 1);
    return { kind: 'numeric', name: y, width: n };
  },
};

export const robustScalerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const { x, n } = numericInput(est, input, ctx, true);
    let y = x;
    if (est.bool('with_centering')) y = g.op('Sub', [y, g.double(est.doubles('center_', n), [1, n], 'center')]);
    if (est.bool('with_scaling')) y = g.op('Div', [y, g.double(est.doubles('scale_', n), [1, n], 'scale')]);
    return { kind: 'numeric', name: y, width: n };
  },
};

function rowNorms(ctx: CompileContext, x: string, norm: string): string {
  const g = ctx.g;
  const axes = g.int64([1]);
  const keep = { keepdims: { i: 1 } };
  if (norm === 'l1') return g.op('ReduceSum', [g.op('Abs', [x]), axes], keep);
  if (norm === 'max') return g.op('ReduceMax', [g.op('Abs', [x]), axes], keep);
  // row_norms: sqrt(einsum('ij,ij->i', X, X)), squares summed without rescaling.
  return g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [x, x]), axes], keep)]);
}

export const normalizerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const norm = est.str('norm');
    if (norm !== 'l1' && norm !== 'l2' && norm !== 'max') est.refuse(`norm '${norm}' is not supported`);
    const { x, n } = numericInput(est, input, ctx, false);
    const norms = rowNorms(ctx, x, norm);
    const safe = g.op('Where', [g.op('Less', [norms, g.double([10 * EPS], [])]), g.double([1], []), norms]);
    return { kind: 'numeric', name: g.op('Div', [x, safe]), width: n };
  },
};

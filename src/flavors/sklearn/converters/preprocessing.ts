/** `sklearn.preprocessing.StandardScaler`: `(x - mean_) / scale_`, each part only when enabled, in float64. */
import type { CompileContext, Converter, Value } from '../context.js';
import type { Estimator } from '../state.js';

export const standardScalerConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const x = ctx.numeric(input, est);
    const n = est.int('n_features_in_');
    if (n !== x.width) est.refuse(`it was fitted on ${n} features but receives ${x.width}`);
    // transform() checks with force_all_finite='allow-nan': NaN passes through, infinity is refused.
    ctx.assertFinite(x.name, est, { allowNaN: true });
    let y = x.name;
    if (est.bool('with_mean')) y = g.op('Sub', [y, g.double(est.doubles('mean_', n), [1, n], 'mean')]);
    if (est.bool('with_std')) y = g.op('Div', [y, g.double(est.doubles('scale_', n), [1, n], 'scale')]);
    return { kind: 'numeric', name: y, width: n };
  },
};

/**
 * `sklearn.preprocessing.FunctionTransformer` without a function: the identity (ColumnTransformer
 * stores its fitted 'passthrough' columns as one). A function is code, which is never run.
 */
export const functionTransformerConverter: Converter = {
  transform(est: Estimator, input: Value): Value {
    if (est.raw('func') !== null && est.raw('func') !== undefined) est.refuse('it applies a Python function');
    if (est.bool('validate', false)) est.refuse('validate=True is not supported');
    return input;
  },
};

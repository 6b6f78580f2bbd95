/**
 * `sklearn.decomposition.PCA` on dense input, with `whiten`. The arithmetic follows the
 * version that pickled it: up to 1.3 `(X - mean_) @ components_.T`; from 1.4 (sparse support)
 * `X @ components_.T - mean_ @ components_.T`, which rounds differently; whitening divides by
 * `sqrt(explained_variance_)`, clipped below at eps from 1.5.
 */
import type { CompileContext, Converter, Value } from '../context.js';
import { type Estimator, atLeast } from '../state.js';

/** float64 eps (`xp.finfo(float64).eps`). */
const EPS = 2.220446049250313e-16;

function components(est: Estimator, n: number): { t: Float64Array; k: number } {
  const arr = est.array('components_');
  if (arr.shape.length !== 2 || arr.shape[1] !== n) est.refuse(`components_ has shape (${arr.shape.join(', ')}), expected (k, ${n})`);
  const c = est.doubles('components_');
  const k = arr.shape[0];
  // components_.T, [n, k] row-major.
  const t = new Float64Array(n * k);
  for (let r = 0; r < k; r++) for (let col = 0; col < n; col++) t[col * k + r] = c[r * n + col];
  return { t, k };
}

/** mean_ @ components_.T, as numpy computes the [1, n] @ [n, k] product. */
function projectedMean(mean: Float64Array, t: Float64Array, n: number, k: number): Float64Array {
  const out = new Float64Array(k);
  for (let r = 0; r < k; r++) {
    let s = 0;
    for (let col = 0; col < n; col++) s += mean[col] * t[col * k + r];
    out[r] = s;
  }
  return out;
}

export const pcaConverter: Converter = {
  transform(est: Estimator, input: Value, ctx: CompileContext): Value {
    const g = ctx.g;
    const v = ctx.numeric(input, est);
    const n = est.int('n_features_in_');
    if (n !== v.width) est.refuse(`it was fitted on ${n} features but receives ${v.width}`);
    // validate_data(dtype=[float64, float32]) with the default ensure_all_finite=True.
    ctx.assertFinite(v.name, est, { allowNaN: false });
    const { t, k } = components(est, n);
    const mean = est.has('mean_') ? est.doubles('mean_', n) : null;
    const w = g.double(t, [n, k], 'components_T');
    let y: string;
    if (!atLeast(est.version, 1, 4)) {
      const centered = mean === null ? v.name : g.op('Sub', [v.name, g.double(mean, [1, n], 'mean')]);
      y = g.op('MatMul', [centered, w]);
    } else {
      y = g.op('MatMul', [v.name, w]);
      if (mean !== null) y = g.op('Sub', [y, g.double(projectedMean(mean, t, n, k), [1, k], 'mean_projected')]);
    }
    if (est.bool('whiten')) {
      const scale = Array.from(est.doubles('explained_variance_', k), Math.sqrt);
      const clipped = atLeast(est.version, 1, 5) ? scale.map((s) => (s < EPS ? EPS : s)) : scale;
      y = g.op('Div', [y, g.double(clipped, [1, k], 'whiten')]);
    }
    return { kind: 'numeric', name: y, width: k };
  },
};

/**
 * Linear models in float64: `decision = X @ coef_.T + intercept_`.
 * `LogisticRegression`: binary (and one-vs-rest) probabilities are `expit(decision)` (OvR rows
 * normalised to sum 1), multinomial ones `softmax(decision)` — with scikit-learn 1.2's rule for
 * which applies (`multi_class`, solver, class count); labels are `decision > 0` (binary) or the
 * first arg-max. `LinearRegression`: the decision itself.
 */
import { math } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import type { NdArray } from '../pickle/index.js';
import { type Estimator, scalar } from '../state.js';

interface Linear {
  /** float64 [N, k] (or [N] when `vector`). */
  readonly decision: string;
  readonly k: number;
}

function decision(est: Estimator, input: Value, ctx: CompileContext): Linear {
  const g = ctx.g;
  const x = ctx.numeric(input, est);
  const coefArr = est.array('coef_');
  const coef = est.doubles('coef_');
  const n = est.int('n_features_in_');
  if (n !== x.width) est.refuse(`it was fitted on ${n} features but receives ${x.width}`);
  const k = coefArr.shape.length === 1 ? 1 : coefArr.shape[0];
  if (coefArr.shape.length > 2 || coef.length !== k * n) est.refuse(`coef_ has shape (${coefArr.shape.join(', ')}), expected (${k}, ${n})`);
  // check_array(X) with the default force_all_finite=True.
  ctx.assertFinite(x.name, est, { allowNaN: false });
  const w = new Float64Array(n * k);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) w[c * k + r] = coef[r * n + c];
  const icpt = est.raw('intercept_');
  const b =
    typeof scalar(icpt) === 'number' ? Float64Array.from({ length: k }, () => scalar(icpt) as number) : est.doubles('intercept_', k);
  const y = g.op('Add', [g.op('MatMul', [x.name, g.double(w, [n, k], 'coef')]), g.double(b, [1, k], 'intercept')]);
  return { decision: y, k };
}

/** Whether predict_proba is one-vs-rest (expit) rather than multinomial (softmax). */
function isOvr(est: Estimator, nClasses: number): boolean {
  const mc = scalar(est.raw('multi_class'));
  if (mc === 'ovr' || mc === 'warn') return true;
  if (mc === 'multinomial') return false;
  if (mc === 'auto') return nClasses <= 2 || est.str('solver') === 'liblinear';
  if (mc === undefined || mc === 'deprecated') return nClasses <= 2;
  est.refuse(`multi_class '${String(mc)}' is not supported`);
}

function classesOf(est: Estimator): NdArray {
  const classes = est.array('classes_');
  if (classes.shape.length !== 1 || classes.size < 2) est.refuse('classes_ must list at least two classes');
  return classes;
}

export const logisticRegressionConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    const classes = classesOf(est);
    const nClasses = classes.size;
    const lin = decision(est, input, ctx);
    if (lin.k !== (nClasses === 2 ? 1 : nClasses)) est.refuse(`coef_ has ${lin.k} rows for ${nClasses} classes`);
    const ovr = isOvr(est, nClasses);
    return {
      kind: 'classifier',
      classes,
      label() {
        if (lin.k === 1)
          return g.op('Cast', [g.op('Greater', [g.op('Squeeze', [lin.decision, g.int64([1])]), g.double([0], [])])], { to: { i: 7 } });
        return g.op('ArgMax', [lin.decision], { axis: { i: 1 }, keepdims: { i: 0 } });
      },
      proba() {
        if (lin.k === 1 && ovr) {
          const p = math.expit(g, lin.decision);
          return g.op('Concat', [g.op('Sub', [g.double([1], []), p]), p], { axis: { i: 1 } });
        }
        if (lin.k === 1) return math.softmax(g, g.op('Concat', [g.op('Neg', [lin.decision]), lin.decision], { axis: { i: 1 } }));
        if (!ovr) return math.softmax(g, lin.decision);
        const p = math.expit(g, lin.decision);
        return g.op('Div', [p, g.op('ReduceSum', [p, g.int64([1])], { keepdims: { i: 1 } })]);
      },
    };
  },
};

export const linearRegressionConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const lin = decision(est, input, ctx);
    const vector = est.array('coef_').shape.length === 1;
    return {
      kind: 'regressor',
      targets: lin.k,
      value: () => (vector ? ctx.g.op('Squeeze', [lin.decision, ctx.g.int64([1])]) : lin.decision),
    };
  },
};

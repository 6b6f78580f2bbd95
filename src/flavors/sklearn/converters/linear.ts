/**
 * Linear models in float64: `decision = X @ coef_.T + intercept_`.
 * `LogisticRegression`: binary (and one-vs-rest) probabilities are `expit(decision)` (OvR rows
 * normalised to sum 1), multinomial ones `softmax(decision)` — with scikit-learn 1.2's rule for
 * which applies (`multi_class`, solver, class count); labels are `decision > 0` (binary) or the
 * first arg-max. `LinearRegression` and the other regressors (Ridge, Lasso, ElasticNet,
 * SGDRegressor, LinearSVR): the decision itself. The other classifiers (`LinearClassifierMixin`:
 * RidgeClassifier, SGDClassifier, Perceptron, LinearSVC) label like LogisticRegression; only
 * SGDClassifier with a log or modified Huber loss has predict_proba.
 */
import { math } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import type { NdArray } from '../pickle/index.js';
import { Estimator, atLeast, scalar } from '../state.js';

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
  const classes = est.has('classes_') ? est.array('classes_') : binarizerClasses(est);
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
      label: () => linearLabel(ctx, lin),
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

/**
 * RidgeClassifier before 1.4 (or so) has no `classes_` of its own: a property reads its
 * LabelBinarizer's. Multi-label fits predict through the binarizer and are refused.
 */
function binarizerClasses(est: Estimator): NdArray {
  const lb = est.child(est.req('_label_binarizer'), `${est.path}._label_binarizer`);
  if (!(lb instanceof Estimator)) est.refuse('_label_binarizer is not a LabelBinarizer');
  return lb.array('classes_');
}

function refuseMultilabel(est: Estimator): void {
  if (!est.has('_label_binarizer')) return;
  const lb = est.child(est.req('_label_binarizer'), `${est.path}._label_binarizer`);
  const type = lb instanceof Estimator ? lb.optStr('y_type_') : null;
  if (type?.startsWith('multilabel') === true) est.refuse('multi-label classifiers are not supported');
}

/** `decision > 0` (one column) or the first arg-max: LinearClassifierMixin.predict. */
function linearLabel(ctx: CompileContext, lin: Linear): string {
  const g = ctx.g;
  if (lin.k === 1)
    return g.op('Cast', [g.op('Greater', [g.op('Squeeze', [lin.decision, g.int64([1])]), g.double([0], [])])], { to: { i: 7 } });
  return g.op('ArgMax', [lin.decision], { axis: { i: 1 }, keepdims: { i: 0 } });
}

/** Scores of a linear binary classifier, float64 [N] (decision_function), for meta-estimators. */
export function linearBinaryDecision(est: Estimator, input: Value, ctx: CompileContext): string {
  const lin = decision(est, input, ctx);
  if (lin.k !== 1) est.refuse(`coef_ has ${lin.k} rows, a binary classifier has one`);
  return ctx.g.op('Squeeze', [lin.decision, ctx.g.int64([1])]);
}

/**
 * `_predict_proba_lr`: expit, then (several columns) rows divided by their sum. Rows whose
 * expits all underflow to 0 are NaN before 1.9 and uniform from 1.9 on.
 */
function ovrProba(ctx: CompileContext, est: Estimator, lin: Linear): string {
  const g = ctx.g;
  const p = math.expit(g, lin.decision);
  if (lin.k === 1) return g.op('Concat', [g.op('Sub', [g.double([1], []), p]), p], { axis: { i: 1 } });
  return normaliseRows(ctx, p, lin.k, atLeast(est.version, 1, 9));
}

/** Rows divided by their sum; all-zero rows become uniform when `uniformIfZero` (else 0/0). */
function normaliseRows(ctx: CompileContext, p: string, k: number, uniformIfZero: boolean): string {
  const g = ctx.g;
  const sum = g.op('ReduceSum', [p, g.int64([1])], { keepdims: { i: 1 } });
  if (!uniformIfZero) return g.op('Div', [p, sum]);
  const zero = g.op('Equal', [sum, g.double([0], [])]);
  const num = g.op('Where', [zero, g.double([1], []), p]);
  return g.op('Div', [num, g.op('Where', [zero, g.double([k], []), sum])]);
}

/** SGDClassifier(loss='modified_huber'): (clip(decision, -1, 1) + 1) / 2, normalised for several classes. */
function modifiedHuberProba(ctx: CompileContext, lin: Linear): string {
  const g = ctx.g;
  const p = g.op('Div', [
    g.op('Add', [g.op('Clip', [lin.decision, g.double([-1], []), g.double([1], [])]), g.double([1], [])]),
    g.double([2], []),
  ]);
  if (lin.k === 1) return g.op('Concat', [g.op('Sub', [g.double([1], []), p]), p], { axis: { i: 1 } });
  return normaliseRows(ctx, p, lin.k, true);
}

type ProbaKind = { kind: 'lr' } | { kind: 'modified_huber' } | { kind: 'none'; reason: string };

/** Which predict_proba a LinearClassifierMixin estimator has, or why it has none. */
function probaKind(est: Estimator): ProbaKind {
  if (est.name !== 'SGDClassifier') return { kind: 'none', reason: `${est.name} has no predict_proba` };
  const loss = est.str('loss');
  if (loss === 'log_loss' || loss === 'log') return { kind: 'lr' };
  if (loss === 'modified_huber') return { kind: 'modified_huber' };
  return { kind: 'none', reason: `SGDClassifier(loss='${loss}') has no predict_proba` };
}

export const linearClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    refuseMultilabel(est);
    const classes = classesOf(est);
    const lin = decision(est, input, ctx);
    if (lin.k !== (classes.size === 2 ? 1 : classes.size)) est.refuse(`coef_ has ${lin.k} rows for ${classes.size} classes`);
    const kind = probaKind(est);
    return {
      kind: 'classifier',
      classes,
      label: () => linearLabel(ctx, lin),
      proba() {
        if (kind.kind === 'lr') return ovrProba(ctx, est, lin);
        if (kind.kind === 'modified_huber') return modifiedHuberProba(ctx, lin);
        est.refuse(kind.reason);
      },
    };
  },
};

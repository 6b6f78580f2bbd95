/**
 * `OneVsRestClassifier` over binary members, as `sklearn/multiclass.py` computes it: each
 * member's score is its `decision_function` when it has one, else `predict_proba[:, 1]`
 * (`_predict_binary`). predict takes the arg-max of the scores (the last maximum before 1.8, the
 * first from 1.8, when the loop was reversed to agree with argmax) or, with two classes, one
 * member's score against 0 (decision) or 0.5 (probability). predict_proba stacks the members'
 * positive-class probabilities and divides each row by its sum (from 1.7 rows summing to 0 are
 * left as they are; before, they become NaN).
 */
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { Estimator, atLeast } from '../state.js';
import { linearBinaryDecision } from './linear.js';
import { svcBinaryDecision } from './svm.js';

type BinaryScore = (est: Estimator, input: Value, ctx: CompileContext) => string;

/** Members scored by decision_function (float64 [N], > 0 for the positive class). */
const DECISION_MEMBERS: Readonly<Record<string, BinaryScore>> = {
  'sklearn.linear_model._logistic.LogisticRegression': linearBinaryDecision,
  'sklearn.linear_model._stochastic_gradient.SGDClassifier': linearBinaryDecision,
  'sklearn.linear_model._perceptron.Perceptron': linearBinaryDecision,
  'sklearn.linear_model._ridge.RidgeClassifier': linearBinaryDecision,
  'sklearn.svm._classes.LinearSVC': linearBinaryDecision,
  'sklearn.svm._classes.SVC': svcBinaryDecision,
  'sklearn.svm._classes.NuSVC': svcBinaryDecision,
};

/** Members without decision_function, scored by predict_proba[:, 1]. */
const PROBA_MEMBERS = new Set([
  'sklearn.naive_bayes.GaussianNB',
  'sklearn.neighbors._classification.KNeighborsClassifier',
  'sklearn.neural_network._multilayer_perceptron.MLPClassifier',
  'sklearn.tree._classes.DecisionTreeClassifier',
  'sklearn.tree._classes.ExtraTreeClassifier',
  'sklearn.ensemble._forest.RandomForestClassifier',
  'sklearn.ensemble._forest.ExtraTreesClassifier',
]);

function members(est: Estimator): Estimator[] {
  const list = est.list('estimators_');
  if (list.length === 0) est.refuse('it has no fitted estimators');
  return list.map((m, i) => {
    const child = est.child(m, `${est.path}.estimators_[${i}]`);
    if (!(child instanceof Estimator)) est.refuse(`estimators_[${i}] is not an estimator`);
    if (child.name === '_ConstantPredictor') child.refuse('a label present in every training row (constant member) is not supported');
    if (DECISION_MEMBERS[child.classPath] === undefined && !PROBA_MEMBERS.has(child.classPath))
      child.refuse('this class is not supported as a OneVsRestClassifier member');
    return child;
  });
}

function targetType(est: Estimator): string {
  const lb = est.child(est.req('label_binarizer_'), `${est.path}.label_binarizer_`);
  if (!(lb instanceof Estimator)) est.refuse('label_binarizer_ is not a LabelBinarizer');
  const t = lb.str('y_type_');
  if (t !== 'binary' && t !== 'multiclass') est.refuse(`'${t}' targets are not supported (multi-label)`);
  return t;
}

/** Member `m`'s positive-class probability, float64 [N, 1]. */
function positiveProba(m: Estimator, input: Value, ctx: CompileContext): string {
  const pred = ctx.predict(m, input);
  if (pred.kind !== 'classifier' || pred.classes.size !== 2) m.refuse('a OneVsRestClassifier member must be a binary classifier');
  return ctx.g.op('Gather', [pred.proba(), ctx.g.int64([1], [1])], { axis: { i: 1 } });
}

/** `_predict_binary`: float64 [N, 1]. */
function score(m: Estimator, input: Value, ctx: CompileContext): string {
  const decision = DECISION_MEMBERS[m.classPath];
  if (decision === undefined) return positiveProba(m, input, ctx);
  return ctx.g.op('Unsqueeze', [decision(m, input, ctx), ctx.g.int64([1])]);
}

export const oneVsRestConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    const classes = est.array('classes_');
    const list = members(est);
    const binary = targetType(est) === 'binary';
    if (list.length !== (binary ? 1 : classes.size)) est.refuse(`it has ${list.length} estimators for ${classes.size} classes`);
    return {
      kind: 'classifier',
      classes,
      label() {
        if (binary) {
          const threshold = DECISION_MEMBERS[list[0].classPath] === undefined ? 0.5 : 0;
          const s = g.op('Squeeze', [score(list[0], input, ctx), g.int64([1])]);
          return g.op('Cast', [g.op('Greater', [s, g.double([threshold], [])])], { to: { i: 7 } });
        }
        const scores = g.op(
          'Concat',
          list.map((m) => score(m, input, ctx)),
          { axis: { i: 1 } },
        );
        const lastMax = atLeast(est.version, 1, 8) ? 0 : 1;
        return g.op('ArgMax', [scores], { axis: { i: 1 }, keepdims: { i: 0 }, select_last_index: { i: lastMax } });
      },
      proba() {
        const cols = list.map((m) => positiveProba(m, input, ctx));
        const y =
          cols.length === 1
            ? g.op('Concat', [g.op('Sub', [g.double([1], []), cols[0]]), cols[0]], { axis: { i: 1 } })
            : g.op('Concat', cols, { axis: { i: 1 } });
        const sum = g.op('ReduceSum', [y, g.int64([1])], { keepdims: { i: 1 } });
        if (!atLeast(est.version, 1, 7)) return g.op('Div', [y, sum]);
        const zero = g.op('Equal', [sum, g.double([0], [])]);
        return g.op('Where', [zero, y, g.op('Div', [y, g.op('Where', [zero, g.double([1], []), sum])])]);
      },
      logProba: () => est.refuse('OneVsRestClassifier has no predict_log_proba'),
    };
  },
};

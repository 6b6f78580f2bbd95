/**
 * `GradientBoostingClassifier` / `GradientBoostingRegressor`. The raw score is what `_raw_predict`
 * computes: the init estimator's raw prediction, then `learning_rate * tree.value` of every
 * `estimators_[i, k]` (DecisionTreeRegressors over X cast to float32, `x <= threshold`) added in
 * stage order. X is checked as float32 without NaN, as `validate_data(dtype=np.float32)` does.
 *
 * Two generations of scikit-learn differ in how the raw score starts and ends, and the pickled
 * `_loss` object tells which one made the model:
 * - `sklearn.ensemble._gb_losses` (≤ 1.2): init probabilities clipped to float32's eps, logit as
 *   `log(p / (1 - p))`, multiclass init `log(p)`; binomial labels are the arg-max of
 *   `[1 - p, p]`, multiclass probabilities `exp(raw - logsumexp(raw))`.
 * - `sklearn._loss.loss` (later): scipy's `logit`, multiclass init `log(p / gmean(p))`; binary
 *   labels are `raw >= 0`, multiclass probabilities `softmax(raw)`. The clip stays at float32's
 *   eps until 1.8 (scikit-learn PR 31575; 1.6 verified), float64's from then on (1.9 verified).
 * Exponential loss: probabilities `expit(2 * raw)`, labels `raw >= 0`, init `0.5 * logit(p)`.
 */
import type { TreeIR } from '../../../onnx/tree-ensemble.js';
import { math } from '../../../onnx/graph-builder.js';
import type { CompileContext, Converter, Prediction, Value } from '../context.js';
import { Estimator, atLeast, toDoubles } from '../state.js';
import { argMax, constantTree, expitProba, logsumexpProba, lossClass, objectGrid, signLabel } from './boosting.js';
import { emitTrees, treeToIR } from './tree.js';

type Generation = 'gb_losses' | 'common';
type ClassifierLoss = 'binomial' | 'multinomial' | 'exponential';

const OLD = 'sklearn.ensemble._gb_losses.';
const NEW = 'sklearn._loss.loss.';

const CLASSIFIER_LOSSES: Readonly<Record<string, Readonly<Record<ClassifierLoss, string>>>> = {
  gb_losses: { binomial: 'BinomialDeviance', multinomial: 'MultinomialDeviance', exponential: 'ExponentialLoss' },
  common: { binomial: 'HalfBinomialLoss', multinomial: 'HalfMultinomialLoss', exponential: 'ExponentialLoss' },
};

/** loss parameter → the `_loss` class of each generation. */
const REGRESSOR_LOSSES: Readonly<Record<string, readonly [string, string]>> = {
  squared_error: ['LeastSquaresError', 'HalfSquaredError'],
  ls: ['LeastSquaresError', 'HalfSquaredError'],
  absolute_error: ['LeastAbsoluteError', 'AbsoluteError'],
  lad: ['LeastAbsoluteError', 'AbsoluteError'],
  huber: ['HuberLossFunction', 'HuberLoss'],
  quantile: ['QuantileLossFunction', 'PinballLoss'],
};

function generation(est: Estimator): { gen: Generation; name: string } {
  const path = lossClass(est, '_loss');
  if (path.startsWith(OLD) && !path.slice(OLD.length).includes('.')) return { gen: 'gb_losses', name: path.slice(OLD.length) };
  if (path.startsWith(NEW) && !path.slice(NEW.length).includes('.')) return { gen: 'common', name: path.slice(NEW.length) };
  est.refuse(`its loss object ${path} is not one of scikit-learn's`);
}

function classifierLoss(est: Estimator, nClasses: number): { gen: Generation; loss: ClassifierLoss } {
  const { gen, name } = generation(est);
  const param = est.str('loss');
  let loss: ClassifierLoss;
  if (param === 'log_loss' || param === 'deviance') loss = nClasses > 2 ? 'multinomial' : 'binomial';
  else if (param === 'exponential' && nClasses === 2) loss = 'exponential';
  else est.refuse(`loss '${param}' with ${nClasses} classes is not supported`);
  if (CLASSIFIER_LOSSES[gen][loss] !== name) est.refuse(`loss '${param}' does not match its loss object ${name}`);
  return { gen, loss };
}

/** The init estimator's class probabilities (constant per row), for the strategies that do not depend on X or chance. */
function dummyProba(est: Estimator, dummy: Estimator, nClasses: number): number[] {
  if (dummy.classPath !== 'sklearn.dummy.DummyClassifier') est.refuse(`init estimator ${dummy.classPath} is not supported`);
  const strategy = dummy.has('_strategy') ? dummy.str('_strategy') : dummy.str('strategy');
  const prior = Array.from(dummy.doubles('class_prior_'));
  if (prior.length !== nClasses) dummy.refuse(`class_prior_ has ${prior.length} classes, the model ${nClasses}`);
  if (strategy === 'prior') return prior;
  if (strategy === 'uniform') return prior.map(() => 1 / nClasses);
  if (strategy === 'most_frequent') {
    const top = prior.indexOf(Math.max(...prior));
    return prior.map((_, k) => (k === top ? 1 : 0));
  }
  dummy.refuse(`strategy '${strategy}' is not supported as a gradient-boosting init`);
}

/** scipy.special.logit: the plain formula away from 0.5, log1p differences near it. */
function scipyLogit(p: number): number {
  if (p < 0.3 || p > 0.65) return Math.log(p / (1 - p));
  const s = 2 * (p - 0.5);
  return Math.log1p(s) - Math.log1p(-s);
}

/** The init raw prediction per target, as `_raw_predict_init` computes it. */
function classifierInit(est: Estimator, gen: Generation, loss: ClassifierLoss, nClasses: number): number[] {
  const init = est.child(est.req('init_'), `${est.path}.init_`);
  const k = loss === 'multinomial' ? nClasses : 1;
  if (init === 'zero') return new Array<number>(k).fill(0);
  if (!(init instanceof Estimator)) est.refuse(`init_ ${String(init)} is not supported`);
  const eps = gen === 'common' && atLeast(est.version, 1, 8) ? 2 ** -52 : 2 ** -23;
  const clip = (p: number) => Math.min(Math.max(p, eps), 1 - eps);
  const proba = dummyProba(est, init, nClasses).map(clip);
  if (loss === 'multinomial') {
    if (gen === 'gb_losses') return proba.map(Math.log);
    const gm = Math.exp(proba.reduce((a, p) => a + Math.log(p), 0) / proba.length);
    return proba.map((p) => Math.log(p / gm));
  }
  const p = proba[1];
  const logit = gen === 'gb_losses' ? Math.log(p / (1 - p)) : scipyLogit(p);
  return [loss === 'exponential' ? 0.5 * logit : logit];
}

function regressorInit(est: Estimator): number {
  const { gen, name } = generation(est);
  const param = est.str('loss');
  const classes = REGRESSOR_LOSSES[param];
  if (classes === undefined) est.refuse(`loss '${param}' is not supported`);
  if (classes[gen === 'gb_losses' ? 0 : 1] !== name) est.refuse(`loss '${param}' does not match its loss object ${name}`);
  const init = est.child(est.req('init_'), `${est.path}.init_`);
  if (init === 'zero') return 0;
  if (!(init instanceof Estimator) || init.classPath !== 'sklearn.dummy.DummyRegressor')
    est.refuse(`init_ ${init instanceof Estimator ? init.classPath : String(init)} is not supported`);
  const c = toDoubles(init.array('constant_'), () => init.refuse('constant_ is not numeric'));
  if (c.length !== 1) init.refuse('multi-output init estimators are not supported');
  return c[0];
}

/** The stage trees, leaf values scaled by learning_rate, each feeding its target column. */
function stageTrees(est: Estimator, k: number): TreeIR[] {
  const { items, shape } = objectGrid(est, 'estimators_');
  if (shape.length !== 2 || shape[1] !== k || items.length === 0)
    est.refuse(`estimators_ has shape (${shape.join(', ')}), expected (n, ${k})`);
  const lr = est.num('learning_rate');
  const n = est.int('n_features_in_');
  return items.map((tree, i) => {
    if (tree.classPath !== 'sklearn.tree._classes.DecisionTreeRegressor')
      tree.refuse('a gradient-boosting stage must be a DecisionTreeRegressor');
    const ir = treeToIR(tree, 'raw', false);
    if (ir.width !== 1 || ir.nFeatures !== n) tree.refuse('its outputs or feature count differ from the ensemble');
    const target = i % k;
    const nodes = ir.tree.nodes.map((node) =>
      node.kind === 'leaf' ? { kind: 'leaf' as const, targets: [target], weights: [lr * node.weights[0]] } : node,
    );
    return { nodes };
  });
}

/** float64 [N, k]: the raw score. */
function rawScore(est: Estimator, input: Value, ctx: CompileContext, init: number[]): string {
  const trees = [...(init.some((v) => v !== 0) ? [constantTree(init)] : []), ...stageTrees(est, init.length)];
  return emitTrees(ctx, est, input, { nFeatures: est.int('n_features_in_'), nTargets: init.length, trees, aggregate: 'sum' }, false);
}

const CLASSIFIER = 'sklearn.ensemble._gb.GradientBoostingClassifier';

/** `_raw_predict_init` for one row (the init estimators supported do not depend on X). */
export function gradientBoostingInit(est: Estimator): number[] {
  if (est.classPath !== CLASSIFIER) return [regressorInit(est)];
  const nClasses = est.int('n_classes_');
  const { gen, loss } = classifierLoss(est, nClasses);
  return classifierInit(est, gen, loss, nClasses);
}

/** float64 [N, k]: `_raw_predict`, what `decision_function` returns (before its ravel). */
export function gradientBoostingDecision(est: Estimator, input: Value, ctx: CompileContext): string {
  return rawScore(est, input, ctx, gradientBoostingInit(est));
}

export const gradientBoostingClassifierConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const g = ctx.g;
    const classes = est.array('classes_');
    const nClasses = est.int('n_classes_');
    if (classes.shape.length !== 1 || classes.size !== nClasses || nClasses < 2) est.refuse('classes_ does not list n_classes_ classes');
    const { gen, loss } = classifierLoss(est, nClasses);
    let raw: string | undefined;
    const score = (): string => (raw ??= rawScore(est, input, ctx, classifierInit(est, gen, loss, nClasses)));
    const proba = (): string => {
      if (loss === 'multinomial') return gen === 'gb_losses' ? logsumexpProba(g, score()) : math.softmax(g, score());
      return expitProba(g, score(), loss === 'exponential' ? 2 : 1);
    };
    return {
      kind: 'classifier',
      classes,
      label: () => {
        if (loss === 'multinomial') return argMax(g, score());
        return gen === 'gb_losses' && loss === 'binomial' ? argMax(g, proba()) : signLabel(g, score(), false);
      },
      proba,
    };
  },
};

export const gradientBoostingRegressorConverter: Converter = {
  predict(est: Estimator, input: Value, ctx: CompileContext): Prediction {
    const init = regressorInit(est);
    return {
      kind: 'regressor',
      targets: 1,
      value: () => ctx.g.op('Squeeze', [rawScore(est, input, ctx, [init]), ctx.g.int64([1])]),
    };
  },
};

/**
 * XGBoost's scikit-learn estimators inside scikit-learn pickles (e.g. the last step of a
 * Pipeline). A pickled `XGBModel` keeps its parameters in its `__dict__` and the fitted model in
 * `_Booster`, an `xgboost.core.Booster` whose `__getstate__` replaced the native handle with the
 * bytes of `XGBoosterSerializeToBuffer` (`handle`: a bytearray; 1.7 writes a UBJSON
 * `{Config, Model}` snapshot, 1.x before that `CONFIG-offset:` + binary model) next to the
 * Python-side `best_iteration`. Nothing is executed: the bytes are decoded by the model readers.
 */
import type { CompileContext, Converter, InputColumn, Prediction, Value } from '../sklearn/context.js';
import { intClasses } from '../sklearn/native.js';
import { PyObject } from '../sklearn/pickle/index.js';
import { type Estimator, scalar } from '../sklearn/state.js';
import type { XgbBooster } from './booster.js';
import { readPickledBooster } from './model-file.js';
import { roundsFromBestIteration, xgbOutputs } from './predict.js';

const BOOSTER_CLASS = 'xgboost.core.Booster';
const decoded = new WeakMap<PyObject, XgbBooster>();

function boosterState(est: Estimator): PyObject {
  const b = est.req('_Booster');
  if (!(b instanceof PyObject) || b.cls.path !== BOOSTER_CLASS || b.dict === undefined)
    est.refuse(`_Booster is not a pickled ${BOOSTER_CLASS}`);
  return b;
}

function booster(est: Estimator): XgbBooster {
  const obj = boosterState(est);
  let b = decoded.get(obj);
  if (b === undefined) {
    const handle = obj.dict?.get('handle');
    if (!(handle instanceof Uint8Array)) est.refuse('_Booster.handle holds no serialised model');
    try {
      b = readPickledBooster(handle);
    } catch (e) {
      est.refuse(e instanceof Error ? e.message : String(e));
    }
    decoded.set(obj, b);
  }
  return b;
}

/** `iteration_range=(0, best_iteration + 1)`: the Python attribute, else the model's attribute. */
function rounds(est: Estimator, b: XgbBooster): number {
  const best = scalar(boosterState(est).dict?.get('best_iteration'));
  return roundsFromBestIteration(best ?? b.attributes.best_iteration);
}

function input(est: Estimator, b: XgbBooster, value: Value, ctx: CompileContext): string {
  const x = ctx.numeric(value, est);
  if (x.width !== b.numFeature) est.refuse(`the booster was fitted on ${b.numFeature} features but receives ${x.width}`);
  const predictor = est.optStr('predictor');
  // With an explicit predictor the wrapper builds a DMatrix, which refuses infinity.
  if (predictor !== null && predictor !== 'auto')
    ctx.assert(ctx.g.op('IsInf', [ctx.g.op('Cast', [x.name], { to: { i: 1 } })]), `Input data contains \`inf\` (${est.name}).`);
  return x.name;
}

function missing(est: Estimator): number {
  const m = scalar(est.raw('missing'));
  if (m === null || m === undefined) return NaN;
  if (typeof m !== 'number') est.refuse("'missing' is not a number");
  return m;
}

function columns(est: Estimator): { columns: InputColumn[]; namesKnown: boolean } {
  const b = booster(est);
  const names = b.featureNames;
  if (names !== undefined) return { columns: names.map((name, index) => ({ index, name })), namesKnown: true };
  return { columns: Array.from({ length: b.numFeature }, (_, index) => ({ index })), namesKnown: false };
}

export const xgbClassifierConverter: Converter = {
  inputColumns: columns,
  predict(est: Estimator, value: Value, ctx: CompileContext): Prediction {
    const b = booster(est);
    const n = est.int('n_classes_');
    const le = est.raw('_le');
    // XGBClassifier returns class indices unless a (pre-1.6) label encoder maps them back.
    const classes = le instanceof PyObject ? est.child(le, `${est.path}._le`) : null;
    const labels = classes !== null && typeof classes !== 'string' ? classes.array('classes_') : intClasses(n);
    if (labels.size !== n) est.refuse(`it has ${n} classes but its labels list ${labels.size}`);
    const out = xgbOutputs(ctx.g, b, input(est, b, value, ctx), { rounds: rounds(est, b), missing: missing(est) }, n);
    return { kind: 'classifier', classes: labels, label: out.label, proba: out.proba };
  },
};

export const xgbRegressorConverter: Converter = {
  inputColumns: columns,
  predict(est: Estimator, value: Value, ctx: CompileContext): Prediction {
    const b = booster(est);
    if (b.transform === 'softprob') est.refuse(`a regressor with the multi-output objective ${b.objective}`);
    const out = xgbOutputs(ctx.g, b, input(est, b, value, ctx), { rounds: rounds(est, b), missing: missing(est) }, 0);
    return { kind: 'regressor', targets: 1, value: () => ctx.g.op('Cast', [out.value()], { to: { i: 11 } }) };
  },
};

/** Class paths as pickles name them. */
export const xgbConverters: Readonly<Record<string, Converter>> = {
  'xgboost.sklearn.XGBClassifier': xgbClassifierConverter,
  'xgboost.sklearn.XGBRFClassifier': xgbClassifierConverter,
  'xgboost.sklearn.XGBRegressor': xgbRegressorConverter,
  'xgboost.sklearn.XGBRFRegressor': xgbRegressorConverter,
  'xgboost.sklearn.XGBRanker': xgbRegressorConverter,
};

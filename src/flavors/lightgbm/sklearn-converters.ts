/**
 * LightGBM's scikit-learn estimators in pickles: what `mlflow.lightgbm` saves as `model.pkl`
 * for an `LGBMClassifier`/`LGBMRegressor`, and the last step of a scikit-learn Pipeline. A
 * pickled `LGBMModel` holds `_Booster`, a `lightgbm.basic.Booster` whose `__getstate__`
 * replaced the native handle with `model_to_string(num_iteration=-1)` (all trees) and kept the
 * Python-side `best_iteration`; `predict` uses `num_iteration=best_iteration` when it is > 0.
 * Classifiers map the arg-max of `predict_proba` through `_le` (a LabelEncoder).
 */
import type { CompileContext, Converter, InputColumn, Prediction, Value } from '../sklearn/context.js';
import { PyObject } from '../sklearn/pickle/index.js';
import { Estimator, scalar } from '../sklearn/state.js';
import { lgbOutputs } from './emit.js';
import { type LgbModel, parseLgbModel } from './text-model.js';

const BOOSTER_CLASS = 'lightgbm.basic.Booster';
const parsed = new WeakMap<PyObject, LgbModel>();

function boosterState(est: Estimator): PyObject {
  const b = est.req('_Booster');
  if (!(b instanceof PyObject) || b.cls.path !== BOOSTER_CLASS || b.dict === undefined)
    est.refuse(`_Booster is not a pickled ${BOOSTER_CLASS}`);
  return b;
}

function model(est: Estimator): LgbModel {
  const obj = boosterState(est);
  let m = parsed.get(obj);
  if (m === undefined) {
    const text = obj.dict?.get('_handle') ?? obj.dict?.get('handle');
    if (typeof text !== 'string') est.refuse('_Booster holds no model string');
    try {
      m = parseLgbModel(text);
    } catch (e) {
      est.refuse(e instanceof Error ? e.message : String(e));
    }
    if (m.pandasCategorical) est.refuse(PANDAS_CATEGORICAL);
    parsed.set(obj, m);
  }
  if (typeof est.raw('_objective') !== 'string' && est.raw('_objective') !== undefined)
    est.refuse('it was fitted with a custom objective function');
  return m;
}

export const PANDAS_CATEGORICAL =
  'it was fitted on pandas category columns (pandas_categorical), which a JSON request cannot deliver as such; refit with integer-coded categories';

function iterations(est: Estimator): number {
  const best = scalar(boosterState(est).dict?.get('best_iteration'));
  if (best === undefined || best === null) return 0;
  if (typeof best !== 'number' || !Number.isInteger(best)) est.refuse('_Booster.best_iteration is not an integer');
  return best;
}

function input(est: Estimator, m: LgbModel, value: Value, ctx: CompileContext): string {
  const x = ctx.numeric(value, est);
  if (x.width !== m.numFeature)
    est.refuse(`the number of features in data (${x.width}) is not the same as it was in training data (${m.numFeature})`);
  return x.name;
}

/** Feature names when it was fitted on a DataFrame (LightGBM names array columns Column_k). */
function columns(est: Estimator): { columns: InputColumn[]; namesKnown: boolean } {
  const m = model(est);
  const withNames = est.raw('_fitted_with_feature_names');
  const named = typeof withNames === 'boolean' ? withNames : !m.featureNames.every((n, k) => n === `Column_${k}`);
  if (named && new Set(m.featureNames).size === m.numFeature)
    return { columns: m.featureNames.map((name, index) => ({ index, name })), namesKnown: true };
  return { columns: Array.from({ length: m.numFeature }, (_, index) => ({ index })), namesKnown: false };
}

export const lgbClassifierConverter: Converter = {
  inputColumns: columns,
  predict(est: Estimator, value: Value, ctx: CompileContext): Prediction {
    const m = model(est);
    const le = est.child(est.req('_le'), `${est.path}._le`);
    if (!(le instanceof Estimator)) est.refuse('_le is not a label encoder');
    const classes = le.array('classes_');
    const k = m.numClass === 1 ? 2 : m.numClass;
    if (classes.size !== k) est.refuse(`its booster predicts ${k} classes, _le has ${classes.size}`);
    const out = lgbOutputs(ctx.g, m, input(est, m, value, ctx), iterations(est));
    return { kind: 'classifier', classes, label: out.label, proba: out.proba };
  },
};

export const lgbRegressorConverter: Converter = {
  inputColumns: columns,
  predict(est: Estimator, value: Value, ctx: CompileContext): Prediction {
    const m = model(est);
    if (m.numClass !== 1) est.refuse('a multi-class booster in a regressor');
    const out = lgbOutputs(ctx.g, m, input(est, m, value, ctx), iterations(est));
    return { kind: 'regressor', targets: 1, value: out.value };
  },
};

export const lgbConverters: Readonly<Record<string, Converter>> = {
  'lightgbm.sklearn.LGBMClassifier': lgbClassifierConverter,
  'lightgbm.sklearn.LGBMRegressor': lgbRegressorConverter,
  'lightgbm.sklearn.LGBMRanker': lgbRegressorConverter,
};

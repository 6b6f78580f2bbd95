/**
 * MLflow's XGBoost models (`mlflow.xgboost.save_model`/`log_model`), served without Python: the
 * model file (`model.ubj`, `.json`, `.xgb`/`.bin`, told apart by content) is read into the shared
 * tree IR and compiled to an ONNX graph that repeats XGBoost's float32 arithmetic.
 *
 * Predictions follow `_XGBModelWrapper.predict`: for `model_class: xgboost.core.Booster`,
 * `Booster.predict(DMatrix(df))` (all trees, NaN missing, infinity refused); for the
 * scikit-learn classes, the class's `predict` after `load_model`, which restores the wrapper's
 * parameters from the `scikit_learn` attribute (`missing`, classes) and predicts with
 * `iteration_range=(0, best_iteration + 1)` when the file records `best_iteration`.
 */
import type { Flavor, FlavorLoadContext, LoadedModel } from '../flavor.js';
import { onnxImage } from '../onnx/image.js';
import { type CompiledModel, checkSignature, readModelFile, serveCompiled } from '../sklearn/index.js';
import { type NativeGraph, compileNative, intClasses, nativeColumns } from '../sklearn/native.js';
import { parseJsonText } from '../../util/json-parse.js';
import { type XgbBooster, refuse } from './booster.js';
import { MAX_XGB_MODEL_BYTES, readXgbModel } from './model-file.js';
import { roundsFromBestIteration, xgbOutputs } from './predict.js';

export { readXgbModel, readPickledBooster } from './model-file.js';
export { xgbConverters } from './sklearn-converters.js';

type Api = 'booster' | 'classifier' | 'regressor';

const CLASSES: Readonly<Record<string, Api>> = {
  'xgboost.core.Booster': 'booster',
  'xgboost.sklearn.XGBClassifier': 'classifier',
  'xgboost.sklearn.XGBRFClassifier': 'classifier',
  'xgboost.sklearn.XGBRegressor': 'regressor',
  'xgboost.sklearn.XGBRFRegressor': 'regressor',
  'xgboost.sklearn.XGBRanker': 'regressor',
};

const FORMATS = new Set(['xgb', 'json', 'ubj', 'bin', 'deprecated']);

interface WrapperParams {
  readonly missing: number;
  readonly nClasses: number;
}

/** The sklearn wrapper's parameters that `load_model` restores from the `scikit_learn` attribute. */
function wrapperParams(b: XgbBooster, api: Api): WrapperParams {
  const text = b.attributes.scikit_learn;
  if (text === undefined) refuse('the file lacks the scikit-learn wrapper parameters (scikit_learn attribute) its model_class needs');
  let meta: Record<string, unknown>;
  try {
    meta = parseJsonText(text, false) as Record<string, unknown>;
  } catch {
    refuse('the scikit_learn attribute is not JSON');
  }
  const missing = meta.missing === null || meta.missing === undefined ? NaN : meta.missing;
  if (typeof missing !== 'number') refuse("the wrapper's 'missing' is not a number");
  if (api !== 'classifier') return { missing, nClasses: 0 };
  const n = meta.n_classes_;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) refuse("the classifier's n_classes_ is missing");
  return { missing, nClasses: n };
}

function graph(
  b: XgbBooster,
  api: Api,
  rounds: number,
  params: WrapperParams,
): (g: Parameters<Parameters<typeof compileNative>[3]>[0], x: string) => NativeGraph {
  return (g, x) => {
    const out = xgbOutputs(g, b, x, { rounds, missing: params.missing }, params.nClasses);
    if (api === 'classifier') {
      return { output: { kind: 'label', value: out.label(), dtype: 'int64', shape: ['N'], classes: intClasses(params.nClasses) } };
    }
    const wide = b.transform === 'softprob';
    const output = { kind: 'value' as const, value: out.value(), dtype: 'float32' as const, shape: wide ? ['N', b.groups] : ['N'] };
    if (api === 'regressor') return { output };
    // A DMatrix refuses infinity (and what overflows float32) unless `missing` is infinity.
    const inf = g.op('IsInf', [g.op('Cast', [x], { to: { i: 1 } })]);
    return { output, checks: [{ flags: inf, message: 'Input data contains `inf` or a value too large for float32 (XGBoost DMatrix).' }] };
  };
}

/** The model file compiled to ONNX, without a session: `load` serves it, the benchmark's bare baseline runs the same graph. */
export async function compileXgboost(
  ctx: Pick<FlavorLoadContext, 'dir' | 'mlmodel' | 'config'>,
): Promise<{ compiled: CompiledModel; info: Record<string, string> }> {
  const conf = ctx.config;
  const rel =
    typeof conf.data === 'string'
      ? conf.data
      : typeof ctx.mlmodel.flavors.python_function?.data === 'string'
        ? ctx.mlmodel.flavors.python_function.data
        : undefined;
  if (rel === undefined) refuse("the xgboost flavour names no model file ('data')");
  const format = conf.model_format ?? 'xgb';
  if (typeof format !== 'string' || !FORMATS.has(format)) refuse(`model_format '${String(format)}' is not supported (xgb, json, ubj)`);
  const modelClass = typeof conf.model_class === 'string' ? conf.model_class : 'xgboost.core.Booster';
  const api = CLASSES[modelClass];
  if (api === undefined) refuse(`model_class '${modelClass}' is not supported (${Object.keys(CLASSES).join(', ')})`);
  const booster = readXgbModel(await readModelFile(ctx.dir, rel, 'xgboost data', MAX_XGB_MODEL_BYTES));
  const params = api === 'booster' ? { missing: NaN, nClasses: 0 } : wrapperParams(booster, api);
  const rounds = api === 'booster' ? 0 : roundsFromBestIteration(booster.attributes.best_iteration);
  // XGBoost validates feature names when the booster has them, so columns are read by those names.
  const { columns, namesKnown } = nativeColumns(booster.numFeature, booster.featureNames, ctx.mlmodel.signature, true);
  const root = { classPath: modelClass, sklearnVersion: 'n/a' };
  const compiled = compileNative(columns, namesKnown, root, graph(booster, api, rounds, params));
  checkSignature(ctx.mlmodel.signature, compiled);
  const info = {
    modelClass,
    objective: booster.objective,
    xgbVersion: typeof conf.xgb_version === 'string' ? conf.xgb_version : 'unknown',
    trees: String(booster.trees.length),
  };
  return { compiled, info };
}

async function loadXgboost(ctx: FlavorLoadContext): Promise<LoadedModel> {
  const { compiled, info } = await compileXgboost(ctx);
  return serveCompiled(ctx, compiled, info);
}

export const xgboostFlavor: Flavor = {
  name: 'xgboost',
  // Compiled to ONNX and run on onnxruntime-node: an image needs what an ONNX model's does.
  image: onnxImage,
  v2Platform: 'onnxruntime_xgboost',
  canLoad(mlmodel) {
    return 'xgboost' in mlmodel.flavors || mlmodel.flavors.python_function?.loader_module === 'mlflow.xgboost';
  },
  load: loadXgboost,
};

/**
 * MLflow's LightGBM models (`mlflow.lightgbm.save_model`/`log_model`), served without Python.
 * A `lightgbm.basic.Booster` is saved as `model.lgb` (the model text format); the scikit-learn
 * classes as a pickle (`model.pkl`, cloudpickle or pickle), decoded by the sklearn flavour's safe
 * VM with the LightGBM converters. `model.skops` is refused.
 *
 * Predictions follow `_LGBModelWrapper.predict`, i.e. the model's own `predict`: the Booster's
 * (probabilities, values; all trees of the file, whose best iteration was applied when it was
 * saved) or the scikit-learn class's (labels for classifiers).
 */
import type { Flavor, FlavorLoadContext, LoadedModel } from '../flavor.js';
import { onnxImage } from '../onnx/image.js';
import { checkSignature, compileSklearn, readModelFile, serveCompiled } from '../sklearn/index.js';
import { compileNative, nativeColumns } from '../sklearn/native.js';
import { loadPickle } from '../sklearn/pickle/index.js';
import { lgbOutputs } from './emit.js';
import { PANDAS_CATEGORICAL } from './sklearn-converters.js';
import { MAX_LGB_MODEL_CHARS, parseLgbModel, refuse } from './text-model.js';

export { parseLgbModel } from './text-model.js';
export { lgbConverters } from './sklearn-converters.js';

const BOOSTER = 'lightgbm.basic.Booster';
const MAX_PICKLE_BYTES = 512 * 1024 * 1024;

async function loadBooster(ctx: FlavorLoadContext, rel: string): Promise<LoadedModel> {
  const bytes = await readModelFile(ctx.dir, rel, 'lightgbm data', MAX_LGB_MODEL_CHARS);
  const m = parseLgbModel(new TextDecoder('utf-8').decode(bytes));
  if (m.pandasCategorical) refuse(PANDAS_CATEGORICAL);
  // Booster.predict reads columns by position; MLflow has ordered them by the signature.
  const { columns, namesKnown } = nativeColumns(m.numFeature, m.featureNames, ctx.mlmodel.signature, false);
  const compiled = compileNative(columns, namesKnown, { classPath: BOOSTER, sklearnVersion: 'n/a' }, (g, x) => {
    const out = lgbOutputs(g, m, x, 0);
    return { output: { kind: 'value', value: out.value(), dtype: 'float64', shape: m.numClass === 1 ? ['N'] : ['N', m.numClass] } };
  });
  checkSignature(ctx.mlmodel.signature, compiled);
  return serveCompiled(ctx, compiled, { modelClass: BOOSTER, objective: m.objective, trees: String(m.trees.length) });
}

async function loadSklearnApi(ctx: FlavorLoadContext, rel: string, modelClass: string): Promise<LoadedModel> {
  const format = ctx.config.serialization_format ?? 'cloudpickle';
  if (format !== 'cloudpickle' && format !== 'pickle')
    refuse(`serialization_format '${String(format)}' is not supported (only pickle and cloudpickle)`);
  const value = loadPickle(await readModelFile(ctx.dir, rel, 'lightgbm data', MAX_PICKLE_BYTES));
  const compiled = compileSklearn(value, 'predict');
  if (compiled.root.classPath !== modelClass) refuse(`the pickle holds ${compiled.root.classPath}, MLmodel says ${modelClass}`);
  checkSignature(ctx.mlmodel.signature, compiled);
  return serveCompiled(ctx, compiled, { modelClass, predictFn: 'predict' });
}

export const lightgbmFlavor: Flavor = {
  name: 'lightgbm',
  // Compiled to ONNX and run on onnxruntime-node: an image needs what an ONNX model's does.
  image: onnxImage,
  v2Platform: 'onnxruntime_lightgbm',
  canLoad(mlmodel) {
    return 'lightgbm' in mlmodel.flavors || mlmodel.flavors.python_function?.loader_module === 'mlflow.lightgbm';
  },
  async load(ctx: FlavorLoadContext): Promise<LoadedModel> {
    const pyfuncData = ctx.mlmodel.flavors.python_function?.data;
    const rel = typeof ctx.config.data === 'string' ? ctx.config.data : typeof pyfuncData === 'string' ? pyfuncData : undefined;
    if (rel === undefined) refuse("the lightgbm flavour names no model file ('data')");
    const modelClass = typeof ctx.config.model_class === 'string' ? ctx.config.model_class : BOOSTER;
    if (modelClass === BOOSTER) return loadBooster(ctx, rel);
    if (!modelClass.startsWith('lightgbm.sklearn.')) refuse(`model_class '${modelClass}' is not supported`);
    return loadSklearnApi(ctx, rel, modelClass);
  },
};

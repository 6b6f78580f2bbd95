/**
 * The converter table, keyed by the class path a pickle names (`module.Class` as scikit-learn
 * defines it). Adding an estimator family: one file in this folder exporting its converters,
 * and its class paths here.
 */
import type { Converter, ConverterTable } from '../context.js';
import { columnTransformerConverter } from './column-transformer.js';
import { forestClassifierConverter, forestRegressorConverter } from './forest.js';
import { simpleImputerConverter } from './impute.js';
import { linearRegressionConverter, logisticRegressionConverter } from './linear.js';
import { oneHotEncoderConverter } from './one-hot.js';
import { pipelineConverter } from './pipeline.js';
import { functionTransformerConverter, standardScalerConverter } from './preprocessing.js';
import { decisionTreeClassifierConverter, decisionTreeRegressorConverter } from './tree.js';
import { xgbConverters } from '../../xgboost/sklearn-converters.js';
import { lgbConverters } from '../../lightgbm/sklearn-converters.js';

const entries: Record<string, Converter> = {
  'sklearn.pipeline.Pipeline': pipelineConverter,
  'sklearn.compose._column_transformer.ColumnTransformer': columnTransformerConverter,
  'sklearn.impute._base.SimpleImputer': simpleImputerConverter,
  'sklearn.preprocessing._data.StandardScaler': standardScalerConverter,
  'sklearn.preprocessing._encoders.OneHotEncoder': oneHotEncoderConverter,
  'sklearn.preprocessing._function_transformer.FunctionTransformer': functionTransformerConverter,
  'sklearn.linear_model._logistic.LogisticRegression': logisticRegressionConverter,
  'sklearn.linear_model._base.LinearRegression': linearRegressionConverter,
  'sklearn.tree._classes.DecisionTreeClassifier': decisionTreeClassifierConverter,
  'sklearn.tree._classes.DecisionTreeRegressor': decisionTreeRegressorConverter,
  'sklearn.tree._classes.ExtraTreeClassifier': decisionTreeClassifierConverter,
  'sklearn.tree._classes.ExtraTreeRegressor': decisionTreeRegressorConverter,
  'sklearn.ensemble._forest.RandomForestClassifier': forestClassifierConverter,
  'sklearn.ensemble._forest.RandomForestRegressor': forestRegressorConverter,
  'sklearn.ensemble._forest.ExtraTreesClassifier': forestClassifierConverter,
  'sklearn.ensemble._forest.ExtraTreesRegressor': forestRegressorConverter,
  ...xgbConverters,
  ...lgbConverters,
};

export const CONVERTERS: ConverterTable = new Map(Object.entries(entries));

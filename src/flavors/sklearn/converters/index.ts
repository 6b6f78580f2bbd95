/**
 * The converter table, keyed by the class path a pickle names (`module.Class` as scikit-learn
 * defines it). Adding an estimator family: one file in this folder exporting its converters,
 * and its class paths here.
 */
import type { Converter, ConverterTable } from '../context.js';
import { columnTransformerConverter } from './column-transformer.js';
import { pcaConverter } from './decomposition.js';
import { forestClassifierConverter, forestRegressorConverter } from './forest.js';
import { gradientBoostingClassifierConverter, gradientBoostingRegressorConverter } from './gradient-boosting.js';
import { histGradientBoostingClassifierConverter, histGradientBoostingRegressorConverter } from './hist-gradient-boosting.js';
import { simpleImputerConverter } from './impute.js';
import { isolationForestConverter } from './isolation-forest.js';
import { linearClassifierConverter, linearRegressionConverter, logisticRegressionConverter } from './linear.js';
import { mlpClassifierConverter, mlpRegressorConverter } from './mlp.js';
import { oneVsRestConverter } from './multiclass.js';
import { gaussianNBConverter } from './naive-bayes.js';
import { kNeighborsClassifierConverter, kNeighborsRegressorConverter } from './neighbors.js';
import { oneHotEncoderConverter } from './one-hot.js';
import { ordinalEncoderConverter } from './ordinal.js';
import { pipelineConverter } from './pipeline.js';
import { polynomialFeaturesConverter } from './polynomial.js';
import { functionTransformerConverter, standardScalerConverter } from './preprocessing.js';
import { maxAbsScalerConverter, minMaxScalerConverter, normalizerConverter, robustScalerConverter } from './scalers.js';
import { svcConverter, svrConverter } from './svm.js';
import { decisionTreeClassifierConverter, decisionTreeRegressorConverter } from './tree.js';
import { featureUnionConverter } from './union.js';
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
  'sklearn.preprocessing._data.MinMaxScaler': minMaxScalerConverter,
  'sklearn.preprocessing._data.MaxAbsScaler': maxAbsScalerConverter,
  'sklearn.preprocessing._data.RobustScaler': robustScalerConverter,
  'sklearn.preprocessing._data.Normalizer': normalizerConverter,
  'sklearn.preprocessing._encoders.OrdinalEncoder': ordinalEncoderConverter,
  'sklearn.preprocessing._polynomial.PolynomialFeatures': polynomialFeaturesConverter,
  'sklearn.decomposition._pca.PCA': pcaConverter,
  'sklearn.pipeline.FeatureUnion': featureUnionConverter,
  'sklearn.linear_model._ridge.Ridge': linearRegressionConverter,
  'sklearn.linear_model._ridge.RidgeCV': linearRegressionConverter,
  'sklearn.linear_model._coordinate_descent.Lasso': linearRegressionConverter,
  'sklearn.linear_model._coordinate_descent.LassoCV': linearRegressionConverter,
  'sklearn.linear_model._coordinate_descent.ElasticNet': linearRegressionConverter,
  'sklearn.linear_model._coordinate_descent.ElasticNetCV': linearRegressionConverter,
  'sklearn.linear_model._stochastic_gradient.SGDRegressor': linearRegressionConverter,
  'sklearn.svm._classes.LinearSVR': linearRegressionConverter,
  'sklearn.linear_model._ridge.RidgeClassifier': linearClassifierConverter,
  'sklearn.linear_model._ridge.RidgeClassifierCV': linearClassifierConverter,
  'sklearn.linear_model._stochastic_gradient.SGDClassifier': linearClassifierConverter,
  'sklearn.linear_model._perceptron.Perceptron': linearClassifierConverter,
  'sklearn.svm._classes.LinearSVC': linearClassifierConverter,
  'sklearn.multiclass.OneVsRestClassifier': oneVsRestConverter,
  'sklearn.svm._classes.SVC': svcConverter,
  'sklearn.svm._classes.NuSVC': svcConverter,
  'sklearn.svm._classes.SVR': svrConverter,
  'sklearn.svm._classes.NuSVR': svrConverter,
  'sklearn.naive_bayes.GaussianNB': gaussianNBConverter,
  'sklearn.neural_network._multilayer_perceptron.MLPClassifier': mlpClassifierConverter,
  'sklearn.neural_network._multilayer_perceptron.MLPRegressor': mlpRegressorConverter,
  'sklearn.neighbors._classification.KNeighborsClassifier': kNeighborsClassifierConverter,
  'sklearn.neighbors._regression.KNeighborsRegressor': kNeighborsRegressorConverter,
  'sklearn.ensemble._gb.GradientBoostingClassifier': gradientBoostingClassifierConverter,
  'sklearn.ensemble._gb.GradientBoostingRegressor': gradientBoostingRegressorConverter,
  'sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier': histGradientBoostingClassifierConverter,
  'sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor': histGradientBoostingRegressorConverter,
  'sklearn.ensemble._iforest.IsolationForest': isolationForestConverter,
  ...xgbConverters,
  ...lgbConverters,
};

export const CONVERTERS: ConverterTable = new Map(Object.entries(entries));

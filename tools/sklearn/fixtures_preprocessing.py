#!/usr/bin/env python3
"""Preprocessing fixtures (imputers, scalers, encoders, polynomial features, PCA, FeatureUnion),
written with make_fixtures.py's helpers: MLflow-style directories with scikit-learn's own outputs.

Most models end in an *identity head*: a LinearRegression fitted on the preprocessing output and
then given coef_ = I and intercept_ = 0, so `predict` returns the transformed matrix itself
(X @ I + 0 is exact) and the parity test compares every transformed column. The head refuses
NaN and infinity as LinearRegression does, so rows whose transform holds them are checked as
refused rows. Two models end in real classifiers (FeatureUnion + LogisticRegression, OrdinalEncoder
+ RandomForest). Serving rows hold None where a string is missing (JSON null); rows with a float
NaN there (an empty CSV field, as pandas reads it) go under expected.json's `nan_in_strings`.

Run it with each scikit-learn generation, as make_fixtures.py:
  /usr/bin/python3 tools/sklearn/fixtures_preprocessing.py       # sklearn 1.2, numpy 1.x
  /tmp/v/bin/python tools/sklearn/fixtures_preprocessing.py      # sklearn 1.9, numpy 2.x
"""
import os
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import expectations, save_model, to_json_rows  # noqa: E402

SK = tuple(int(p) for p in sklearn.__version__.split('.')[:2])
warnings.filterwarnings('ignore')

COLORS = (['red', 'blue', 'green', 'yellow', 'purple', 'cyan'], [0.4, 0.3, 0.15, 0.08, 0.05, 0.02])
SIZES = (['S', 'M', 'L', 'XL'], [0.3, 0.4, 0.2, 0.1])
CITIES = (['paris', 'lyon', 'nice', 'lille', 'brest', 'metz', 'caen'], [0.3, 0.25, 0.15, 0.12, 0.1, 0.05, 0.03])
STRINGS = ['color', 'size', 'city', 'flag', 'color_raw', 'kind', 'grade_s']


def pick(rng, spec, n):
    return pd.Series(rng.choice(spec[0], n, p=spec[1]), dtype=object)


def dataset(rng, n):
    """Numbers (some with NaN, a -999 marker, an all-NaN column) and strings (some NaN as CSV gives, None, '?')."""
    df = pd.DataFrame({
        'x1': rng.normal(10, 3, n),
        'x2': rng.exponential(5, n) - 2,
        'x3': rng.uniform(-100, 100, n),
        'x4': rng.integers(0, 6, n).astype('float64'),
        'x5': rng.integers(1, 4, n).astype('float64'),
        'm1': rng.normal(50, 10, n),
        'allnan': np.full(n, np.nan),
        'const': np.full(n, 3.5),
        'color': pick(rng, COLORS, n),
        'size': pick(rng, SIZES, n),
        'city': pick(rng, CITIES, n),
        'flag': pd.Series(rng.choice(['yes', 'no'], n), dtype=object),
        'color_raw': pick(rng, COLORS, n),
        'kind': pd.Series(rng.choice(['flat', 'house', None], n, p=[0.5, 0.3, 0.2]), dtype=object),
        'grade_s': pd.Series(rng.choice(['a', 'b', '?'], n, p=[0.5, 0.35, 0.15]), dtype=object),
    })
    for c, p in [('x1', 0.08), ('x2', 0.05), ('x3', 0.05), ('x5', 0.1)]:
        df.loc[rng.random(n) < p, c] = np.nan
    df.loc[rng.random(n) < 0.1, 'm1'] = -999.0
    for c in ['color', 'color_raw', 'city']:
        # What pandas reads from an empty CSV field: float NaN in an object column.
        df.loc[rng.random(n) < 0.07, c] = np.nan
    return df


def kinds_of(columns):
    return {c: ('string' if c in STRINGS else 'double') for c in columns}


def with_nan_strings(exp, model, columns, nan_rows, is_classifier):
    """Rows with a float NaN in a string column (pandas' empty CSV field) go under their own key:
    the HTTP codecs turn them into None / 'NaN' before the model, so the tests feed them directly."""
    if nan_rows:
        exp['nan_in_strings'] = expectations(model, columns, kinds_of(columns), nan_rows, is_classifier)
    return exp


def identity_head(name, pre, X, candidates, nan_rows=None):
    """Fits `pre`, then a LinearRegression whose coefficients are replaced by the identity."""
    Xt = pre.fit_transform(X)
    Xt = Xt.toarray() if hasattr(Xt, 'toarray') else np.asarray(Xt, dtype='float64')
    head = LinearRegression().fit(np.nan_to_num(Xt), np.nan_to_num(Xt))
    k = Xt.shape[1]
    head.coef_ = np.eye(k)
    head.intercept_ = np.zeros(k)
    model = Pipeline([('pre', pre), ('out', head)])
    columns = list(X.columns)
    exp = with_nan_strings(expectations(model, columns, kinds_of(columns), candidates, False), model, columns, nan_rows, False)
    save_model(name, model, X, X.dropna(subset=[c for c in columns if c != 'allnan']).head(3), expected=exp)


def variants(base, columns, values):
    """`base` with one cell changed, for every (column, value) pair."""
    rows = []
    for c, vals in values.items():
        for v in vals:
            r = list(base)
            r[columns.index(c)] = v
            rows.append(r)
    return rows


EXTREMES = [0.0, -0.0, 1e-300, -1e-300, 1e30, -1e30, 1e300, -1e300, float('inf'), float('-inf'), None]
UNSEEN = ['mauve', '', 'Red', None]


def base_row(X):
    return to_json_rows(X.dropna(subset=[c for c in X.columns if c != 'allnan']).head(1))[0]


def nan_rows_for(X, strings):
    """The base row with a float NaN in each string column in turn."""
    return variants(base_row(X), list(X.columns), {c: [float('nan')] for c in strings})


def candidates_for(X, serve, numeric, strings, extra=None):
    """Serving rows (NaN in string columns as None, as JSON null gives), then one-cell variants."""
    base = base_row(X)
    cols = list(X.columns)
    rows = to_json_rows(serve)
    rows += variants(base, cols, {c: EXTREMES for c in numeric})
    rows += variants(base, cols, {c: UNSEEN for c in strings})
    rows += variants(base, cols, extra or {})
    return rows


def impute_model():
    rng = np.random.default_rng(101)
    X = dataset(rng, 300)
    serve = dataset(rng, 120)
    cols = ['x1', 'x2', 'x3', 'x4', 'm1', 'allnan', 'color', 'size', 'kind', 'grade_s', 'city']
    X, serve = X[cols], serve[cols]
    pre = ColumnTransformer([
        ('median', SimpleImputer(strategy='median'), ['x1', 'x2']),
        ('most_frequent', SimpleImputer(strategy='most_frequent'), ['x4']),
        ('constant', SimpleImputer(strategy='constant', fill_value=-1.5), ['x3']),
        ('marker', SimpleImputer(missing_values=-999.0, strategy='mean'), ['m1']),
        ('empty_dropped', SimpleImputer(strategy='median'), ['allnan', 'x1']),
        ('empty_kept', SimpleImputer(strategy='mean', keep_empty_features=True), ['allnan']),
        # 1.2 keeps an all-missing column under 'constant'; later versions drop it.
        ('empty_constant', SimpleImputer(strategy='constant', fill_value=7.0), ['allnan', 'x2']),
        ('color', Pipeline([('fill', SimpleImputer(strategy='most_frequent')),
                            ('hot', OneHotEncoder(handle_unknown='ignore', sparse_output=False))]), ['color']),
        ('kind', Pipeline([('fill', SimpleImputer(missing_values=None, strategy='constant', fill_value='none')),
                           ('code', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1))]), ['kind']),
        ('grade', Pipeline([('fill', SimpleImputer(missing_values='?', strategy='most_frequent')),
                            ('code', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1))]), ['grade_s']),
        ('city', Pipeline([('fill', SimpleImputer(strategy='constant', fill_value='zzz')),
                           ('hot', OneHotEncoder(handle_unknown='ignore'))]), ['city', 'size']),
    ])
    extra = {'m1': [-999.0, -999, np.nan], 'kind': ['none', 'flat', None], 'grade_s': ['?', 'c', None], 'city': ['zzz']}
    strings = ['color', 'size', 'kind', 'grade_s', 'city']
    rows = candidates_for(X, serve, ['x1', 'x2', 'x3', 'x4'], strings, extra)
    identity_head('prep-impute', pre, X, rows, nan_rows_for(X, strings))


def scalers_model():
    rng = np.random.default_rng(202)
    cols = ['x1', 'x2', 'x3', 'x4', 'const']
    X = dataset(rng, 300)[cols].fillna(0.5)
    serve = dataset(rng, 80)[cols]
    maxabs = [('maxabs', MaxAbsScaler(), ['x1', 'x3'])]
    if SK >= (1, 8):
        maxabs.append(('maxabs_clip', MaxAbsScaler(clip=True), ['x2', 'x3']))
    pre = ColumnTransformer([
        ('minmax', MinMaxScaler(), ['x1', 'x2', 'const']),
        ('minmax_clip', MinMaxScaler(feature_range=(-1, 2), clip=True), ['x3', 'x2']),
        *maxabs,
        ('robust', RobustScaler(), ['x1', 'x2', 'const']),
        ('robust_scale_only', RobustScaler(with_centering=False, quantile_range=(10.0, 90.0)), ['x3']),
        ('robust_center_only', RobustScaler(with_scaling=False), ['x2']),
        ('robust_unit', RobustScaler(unit_variance=True), ['x4']),
        ('std_no_mean', StandardScaler(with_mean=False), [0, -1]),
        ('std_no_std', StandardScaler(with_std=False), np.array([False, False, True, False, False])),
        ('std_none', StandardScaler(with_mean=False, with_std=False), slice(1, 2)),
        ('l1', Normalizer(norm='l1'), ['x1', 'x2', 'x3']),
        ('l2', Normalizer(), ['x1', 'x2', 'x3', 'x4']),
        ('max', Normalizer(norm='max'), ['x2', 'x3']),
    ], remainder='drop')
    extra = {'x1': [-10.0, 25.0], 'x3': [-150.0, 150.0, 99.9]}
    rows = candidates_for(X, serve, ['x1', 'x2', 'x3', 'x4'], [], extra)
    rows += [[0.0, 0.0, 0.0, 0.0, 3.5], [1e-160, -1e-160, 1e-170, 0.0, 3.5], [1e154, 1e154, 0.0, 0.0, 3.5]]
    identity_head('prep-scalers', pre, X, rows)


def masks_model():
    """Boolean-mask and negative-index column selections, remainder as an estimator."""
    rng = np.random.default_rng(212)
    cols = ['x1', 'x2', 'x3', 'x4', 'const']
    X = dataset(rng, 200)[cols].fillna(1.0)
    serve = dataset(rng, 60)[cols]
    pre = ColumnTransformer([
        ('robust', RobustScaler(), np.array([True, False, True, False, False])),
        ('minmax', MinMaxScaler(), np.array([False, True, False, False, False])),
    ], remainder=MaxAbsScaler(), transformer_weights={'robust': 3.0, 'remainder': 0.5})
    identity_head('prep-masks', pre, X, candidates_for(X, serve, ['x1', 'x4'], []))


def onehot_model():
    rng = np.random.default_rng(303)
    cols = ['color', 'size', 'city', 'flag', 'color_raw', 'x4', 'x5']
    X = dataset(rng, 400)[cols]
    X['color'] = X['color'].fillna('red')
    serve = dataset(rng, 120)[cols]
    serve['color'] = serve['color'].fillna('blue')
    sparse = {'sparse': False} if SK < (1, 4) else {'sparse_output': False}
    parts = [
        ('infrequent_min', OneHotEncoder(handle_unknown='infrequent_if_exist', min_frequency=0.06, sparse_output=False), ['color', 'size']),
        ('infrequent_max', OneHotEncoder(handle_unknown='infrequent_if_exist', max_categories=3), ['city', 'x4']),
        ('infrequent_drop_first', OneHotEncoder(handle_unknown='infrequent_if_exist', min_frequency=30, drop='first'), ['color']),
        ('infrequent_error', OneHotEncoder(min_frequency=0.1, drop=['red']), ['color']),
        ('infrequent_ignore', OneHotEncoder(handle_unknown='ignore', max_categories=4), ['city']),
        ('if_binary', OneHotEncoder(drop='if_binary', handle_unknown='ignore', **sparse), ['flag', 'size']),
        ('explicit_drop', OneHotEncoder(drop=np.array(['green', 3.0], dtype=object)), ['color', 'x4']),
        ('infrequent_explicit_drop', OneHotEncoder(handle_unknown='infrequent_if_exist', max_categories=4, drop=['lyon']), ['city']),
        ('if_binary_infrequent', OneHotEncoder(handle_unknown='infrequent_if_exist', max_categories=2, drop='if_binary'), ['size']),
        ('nan_categories', OneHotEncoder(handle_unknown='infrequent_if_exist', min_frequency=15), ['color_raw', 'x5']),
    ]
    if SK >= (1, 6):
        parts.append(('warn', OneHotEncoder(handle_unknown='warn', min_frequency=0.1), ['city']))
    pre = ColumnTransformer(parts)
    extra = {'x4': [0.0, 5.0, 6.0, 2.5, -0.0, None], 'x5': [None, 4.0], 'flag': ['maybe', None]}
    strings = ['size', 'city', 'color_raw', 'color', 'flag']
    rows = candidates_for(X, serve, [], strings, extra)
    identity_head('prep-onehot', pre, X, rows, nan_rows_for(X, strings))


def ordinal_model():
    rng = np.random.default_rng(404)
    cols = ['color', 'size', 'city', 'color_raw', 'kind', 'x4', 'x5']
    X = dataset(rng, 400)[cols]
    X['color'] = X['color'].fillna('red')
    serve = dataset(rng, 120)[cols]
    serve['color'] = serve['color'].fillna('blue')
    parts = [
        ('error', OrdinalEncoder(), ['size']),
        ('unknown', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1, encoded_missing_value=-2), ['color', 'city', 'kind']),
        ('missing', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1, encoded_missing_value=-2), ['color_raw', 'x5']),
        ('explicit', OrdinalEncoder(categories=[['S', 'M', 'L', 'XL']], handle_unknown='use_encoded_value', unknown_value=99), ['size']),
        ('numeric', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-5, dtype=np.int64), ['x4']),
    ]
    if SK >= (1, 3):
        parts += [
            ('infrequent', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1, encoded_missing_value=-2,
                                          min_frequency=0.1), ['city', 'color']),
            ('infrequent_missing', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1, encoded_missing_value=-3,
                                                  max_categories=3), ['color_raw']),
        ]
    pre = ColumnTransformer(parts)
    extra = {'x4': [0.0, 5.0, 6.0, 2.5, None], 'x5': [None, 4.0], 'kind': ['flat', 'tent', None]}
    strings = ['size', 'city', 'color_raw', 'color', 'kind']
    rows = candidates_for(X, serve, [], strings, extra)
    identity_head('prep-ordinal', pre, X, rows, nan_rows_for(X, strings))


def poly_pca_model():
    rng = np.random.default_rng(505)
    cols = ['x1', 'x2', 'x3', 'x4']
    X = dataset(rng, 300)[cols].fillna(2.0)
    serve = dataset(rng, 70)[cols]
    pre = ColumnTransformer([
        ('poly2', PolynomialFeatures(), ['x1', 'x2', 'x3']),
        ('poly3_interaction', PolynomialFeatures(3, interaction_only=True, include_bias=False), ['x1', 'x2', 'x3', 'x4']),
        ('poly_range', PolynomialFeatures((2, 3)), ['x1', 'x2']),
        ('poly_range_nobias', PolynomialFeatures((3, 3), include_bias=False), ['x2', 'x4']),
        ('poly0', PolynomialFeatures(0), ['x1']),
        ('pca', PCA(n_components=3), ['x1', 'x2', 'x3', 'x4']),
        ('pca_whiten', PCA(n_components=2, whiten=True), ['x1', 'x2', 'x3']),
        ('pca_all', PCA(), ['x2', 'x4']),
    ])
    extra = {'x1': [1e100, -1e100, 1e160], 'x2': [1e-200]}
    identity_head('prep-poly-pca', pre, X, candidates_for(X, serve, ['x1', 'x3'], [], extra))


def union_model():
    """ColumnTransformer → FeatureUnion with weights, passthrough and drop → LogisticRegression."""
    rng = np.random.default_rng(606)
    cols = ['x1', 'x2', 'x3', 'color', 'size']
    X = dataset(rng, 400)[cols]
    serve = dataset(rng, 120)[cols]
    y = np.where(X['x1'].fillna(10) + X['x2'].fillna(0) / 2 + (X['color'] == 'red') * 2 > 12, 'high', 'low')
    pre = ColumnTransformer([
        ('num', Pipeline([('fill', SimpleImputer(strategy='median')), ('scale', StandardScaler())]), ['x1', 'x2', 'x3']),
        ('cat', Pipeline([('fill', SimpleImputer(strategy='most_frequent')),
                          ('hot', OneHotEncoder(handle_unknown='infrequent_if_exist', min_frequency=0.05))]), ['color', 'size']),
    ], sparse_threshold=0)
    union = FeatureUnion([
        ('pca', PCA(n_components=3, whiten=True)),
        ('raw', 'passthrough'),
        ('gone', 'drop'),
        ('minmax', MinMaxScaler()),
        ('poly', Pipeline([('first3', ColumnTransformer([('keep', 'passthrough', [0, 1, 2])])), ('poly', PolynomialFeatures(2))])),
    ], transformer_weights={'pca': 2.0, 'minmax': 0.5, 'poly': 0.25})
    model = Pipeline([('pre', pre), ('union', union), ('clf', LogisticRegression(max_iter=2000))]).fit(X, y)
    columns = list(X.columns)
    rows = candidates_for(X, serve, ['x1', 'x3'], ['color', 'size'])
    exp = with_nan_strings(expectations(model, columns, kinds_of(columns), rows, True), model, columns,
                           nan_rows_for(X, ['color', 'size']), True)
    save_model('prep-union-logreg', model, X, X.dropna().head(3), predict_fn='predict_proba', expected=exp)


def ordinal_forest_model():
    rng = np.random.default_rng(707)
    cols = ['x1', 'x2', 'color', 'size', 'city']
    X = dataset(rng, 400)[cols]
    serve = dataset(rng, 150)[cols]
    y = np.where((X['size'].isin(['L', 'XL'])) & (X['x1'].fillna(0) > 9) | (X['city'] == 'nice'), 1, 0)
    pre = ColumnTransformer([
        ('num', RobustScaler(), ['x1', 'x2']),
        ('cat', Pipeline([('fill', SimpleImputer(strategy='constant', fill_value='unknown')),
                          ('code', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1))]), ['color', 'size', 'city']),
    ])
    model = Pipeline([('pre', pre), ('rf', RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0))])
    model.fit(X.fillna({'x1': 0.0, 'x2': 0.0}), y)
    columns = list(X.columns)
    # Forests' handling of NaN belongs to the forest fixtures: numbers here are all present.
    filled = {'x1': 0.0, 'x2': 0.0}
    rows = candidates_for(X.fillna(filled), serve.fillna(filled), [], ['color', 'size', 'city'], {'x1': EXTREMES[:-1]})
    exp = with_nan_strings(expectations(model, columns, kinds_of(columns), rows, True), model, columns,
                           nan_rows_for(X.fillna(filled), ['color', 'size', 'city']), True)
    save_model('prep-ordinal-forest', model, X, X.dropna().head(3), expected=exp)


if __name__ == '__main__':
    impute_model()
    scalers_model()
    masks_model()
    onehot_model()
    ordinal_model()
    poly_pca_model()
    union_model()
    ordinal_forest_model()

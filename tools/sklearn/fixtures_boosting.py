#!/usr/bin/env python3
"""Boosted-tree and isolation-forest fixtures (GradientBoosting*, HistGradientBoosting*,
IsolationForest), written with make_fixtures.py's helpers: MLflow-style directories plus
expected.json with scikit-learn's own outputs on rows in range, on and next to every split
threshold, at extremes, missing, and (HistGradientBoosting) categories seen, unseen, negative,
fractional and out of the uint8 range.

Run it with each scikit-learn generation:
  /usr/bin/python3 tools/sklearn/fixtures_boosting.py      # Debian: sklearn 1.2, numpy 1.x
  /tmp/v/bin/python tools/sklearn/fixtures_boosting.py     # venv: sklearn 1.9, numpy 2.x
and, for the few models whose behaviour changed between those two (loss eps, IsolationForest's
NaN handling, None as a category, Cython module names), with 1.6 (same mirror):
  python3 -m venv /tmp/v16 && /tmp/v16/bin/pip install --retries 0 --timeout 1 scikit-learn==1.6.1 pandas cloudpickle pyyaml
  /tmp/v16/bin/python tools/sklearn/fixtures_boosting.py
"""
import os
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_diabetes, load_iris
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, IsolationForest)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402
from make_fixtures import expectations, extremes, frame, to_json_rows  # noqa: E402

NEW = tuple(int(p) for p in sklearn.__version__.split('.')[:2]) >= (1, 4)
# The intermediate generation only for the models whose semantics moved between 1.2 and 1.9.
SK16_ONLY = {'gb-binary', 'gb-multiclass-mostfrequent-init', 'hgb-multiclass-cat-nan', 'iforest-default'}


def save_model(name, *args, **kwargs):
    if make_fixtures.TAG == 'sk16' and name not in SK16_ONLY:
        return
    make_fixtures.save_model(name, *args, **kwargs)


def near(t):
    """t and its float64 and float32 neighbours: where the comparison precision decides the branch."""
    t32 = np.float32(t)
    vals = {t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), float(t32),
            float(np.nextafter(t32, np.float32(np.inf))), float(np.nextafter(t32, np.float32(-np.inf)))}
    return sorted(float(v) for v in vals if np.isfinite(v))


def probe_rows(base, splits, limit):
    rows = []
    for f, t in sorted(set(splits))[:limit]:
        for v in near(t):
            r = list(base)
            r[f] = v
            rows.append(r)
    return rows


def sklearn_tree_splits(trees, features=None):
    out = []
    for i, t in enumerate(trees):
        fmap = features[i] if features is not None else None
        for f, thr in zip(t.tree_.feature, t.tree_.threshold):
            if f >= 0:
                out.append((int(fmap[f]) if fmap is not None else int(f), float(thr)))
    return out


def hgb_splits(model, positions):
    """Numeric split thresholds, mapped back to input column positions."""
    out = []
    for stage in model._predictors:
        for p in stage:
            for n in p.nodes:
                if not n['is_leaf'] and not n['is_categorical'] and np.isfinite(n['num_threshold']):
                    out.append((positions[int(n['feature_idx'])], float(n['num_threshold'])))
    return out


# ---------------------------------------------------------------- GradientBoosting

def with_raw(out, model, columns, kinds, init=False):
    """Adds decision_function (and the init estimator's raw prediction) to the expectations."""
    X = frame(columns, out['data'], kinds)
    if hasattr(model, 'decision_function'):
        out['decision_function'] = model.decision_function(X).tolist()
    if init:
        out['raw_init'] = model._raw_predict_init(X.iloc[:1].to_numpy(np.float32)).ravel().tolist()
    return out


def iris_binary():
    X, y = load_iris(return_X_y=True, as_frame=True)
    keep = y > 0
    names = np.array(['setosa', 'versicolor', 'virginica'], dtype=object)
    return X[keep].reset_index(drop=True), pd.Series(names[y[keep]], dtype=object).reset_index(drop=True)


def gb_classifiers():
    X, y = iris_binary()
    kinds = {c: 'double' for c in X.columns}
    base = [float(v) for v in X.median()]
    models = {
        'gb-binary': GradientBoostingClassifier(n_estimators=6, max_depth=2, learning_rate=0.3, subsample=0.8, random_state=0),
        'gb-exponential-zero-init': GradientBoostingClassifier(loss='exponential', init='zero', n_estimators=5, max_depth=2,
                                                               random_state=0),
    }
    for name, m in models.items():
        m.fit(X, y)
        splits = sklearn_tree_splits(m.estimators_.ravel())
        rows = to_json_rows(X.iloc[::3]) + probe_rows(base, splits, 30) + extremes(base, range(4))
        expected = with_raw(expectations(m, list(X.columns), kinds, rows, True), m, list(X.columns), kinds, init=True)
        save_model(name, m, X, X.head(3), predict_fn='predict_proba', expected=expected)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        loss = 'log_loss' if NEW else 'deviance'
        for name, init in [('gb-multiclass', None), ('gb-multiclass-mostfrequent-init', DummyClassifier(strategy='most_frequent'))]:
            m = GradientBoostingClassifier(loss=loss, init=init, n_estimators=3, max_depth=2, learning_rate=0.5, random_state=0).fit(X, y)
            base = [float(v) for v in X.median()]
            rows = to_json_rows(X.iloc[::2]) + probe_rows(base, sklearn_tree_splits(m.estimators_.ravel()), 30) + extremes(base, [0, 3])
            expected = with_raw(expectations(m, list(X.columns), kinds, rows, True), m, list(X.columns), kinds, init=True)
            save_model(name, m, X, X.head(3), expected=expected)


def gb_regressors():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X[['age', 'bmi', 'bp', 's5']]
    kinds = {c: 'double' for c in X.columns}
    base = [float(v) for v in X.median()]
    specs = {
        'gb-squared-error': dict(loss='squared_error'),
        'gb-absolute-error': dict(loss='absolute_error'),
        'gb-huber': dict(loss='huber', alpha=0.8),
        'gb-quantile': dict(loss='quantile', alpha=0.7),
    }
    for name, kw in specs.items():
        m = GradientBoostingRegressor(n_estimators=4, max_depth=2, learning_rate=0.4, random_state=0, **kw).fit(X, y)
        rows = to_json_rows(X.head(60)) + probe_rows(base, sklearn_tree_splits(m.estimators_.ravel()), 25) + extremes(base, [0, 1])
        expected = with_raw(expectations(m, list(X.columns), kinds, rows, False), m, list(X.columns), kinds, init=True)
        save_model(name, m, X, X.head(3), expected=expected)


# ---------------------------------------------------------------- HistGradientBoosting

def hgb_data(rng, n):
    """Two numeric columns (one with missing values in training, one without), one integer-coded
    category, and (scikit-learn >= 1.4) one string category with None in training."""
    a = rng.normal(0, 1, n)
    b = rng.uniform(0, 10, n)
    code = rng.integers(0, 12, n).astype('float64')
    df = pd.DataFrame({'a': a, 'b': b, 'code': code})
    if NEW:
        df['color'] = pd.Series(rng.choice(['red', 'green', 'blue', 'teal', None], n), dtype=object)
    score = a + (b > 6) * 1.5 + np.isin(code, [1, 4, 7, 9]) * 2.0 - 1.0
    if NEW:
        score += (df['color'] == 'blue') * 1.2
    df.loc[rng.random(n) < 0.1, 'a'] = np.nan
    return df, score


def hgb_candidates(df, model, base, cat_cols):
    cols = list(df.columns)
    positions = model_positions(model, cols)
    rows = to_json_rows(df.head(60)) + probe_rows(base, hgb_splits(model, positions), 25)
    # HistGradientBoosting accepts infinity and NaN everywhere (check_array(force_all_finite=False)).
    for j in [cols.index('a'), cols.index('b')]:
        for v in [0.0, -0.0, 1e-300, 1e39, -1e39, 1e308, float('inf'), float('-inf'), None]:
            r = list(base)
            r[j] = v
            rows.append(r)
    codes = [0, 1, 4, 11, 12, 13, 0.5, 3.9999, -0.0, -0.5, -1, 255, 255.5, 256, 257, 300.7, 2 ** 31 - 255, 2 ** 31 - 0.5, 2 ** 31,
             2 ** 31 + 4, 2 ** 32 + 1, 1e20, float('inf'), float('-inf'), None]
    for c in cat_cols:
        j = cols.index(c)
        vals = codes if c == 'code' else ['red', 'green', 'blue', 'teal', 'purple', '', 'Red', None]
        for v in vals:
            r = list(base)
            r[j] = v
            rows.append(r)
    return rows


def model_positions(model, cols):
    """Model feature index → input column position (>= 1.4 moves categorical columns first)."""
    pre = getattr(model, '_preprocessor', None)
    if pre is None:
        return list(range(len(cols)))
    cat = np.flatnonzero(model.is_categorical_)
    num = np.flatnonzero(~model.is_categorical_)
    return [int(i) for i in np.concatenate([cat, num])]


def proba_expectations(model, columns, kinds, candidates):
    """HistGradientBoostingClassifier has predict_proba but no predict_log_proba."""
    out = expectations(model, columns, kinds, candidates, False)
    out['predict_proba'] = model.predict_proba(frame(columns, out['data'], kinds)).tolist()
    return with_raw(out, model, columns, kinds)


def hgb_models():
    rng = np.random.default_rng(5)
    df, score = hgb_data(rng, 600)
    cols = list(df.columns)
    cat_cols = ['code'] + (['color'] if NEW else [])
    kinds = {c: ('string' if c == 'color' else 'double') for c in cols}
    base = to_json_rows(df.dropna().head(1))[0]
    label = np.where(score + rng.normal(0, 0.5, len(df)) > 0.5, 'yes', 'no')
    clf = HistGradientBoostingClassifier(max_iter=5, max_depth=3, learning_rate=0.3, categorical_features=cat_cols,
                                         random_state=0).fit(df, label)
    save_model('hgb-binary-cat-nan', clf, df, df.dropna().head(3), predict_fn='predict_proba',
               expected=proba_expectations(clf, cols, kinds, hgb_candidates(df, clf, base, cat_cols)))
    tri = np.digitize(score + rng.normal(0, 0.5, len(df)), [-0.3, 1.2])
    clf3 = HistGradientBoostingClassifier(max_iter=4, max_depth=2, categorical_features=cat_cols, random_state=0).fit(df, tri)
    save_model('hgb-multiclass-cat-nan', clf3, df, df.dropna().head(3),
               expected=proba_expectations(clf3, cols, kinds, hgb_candidates(df, clf3, base, cat_cols)))
    target = np.exp(0.4 * score) + rng.gamma(2.0, 0.2, len(df))
    losses = ['squared_error', 'absolute_error', 'poisson', 'quantile'] + (['gamma'] if NEW else [])
    for loss in losses:
        kw = {'quantile': 0.3} if loss == 'quantile' else {}
        reg = HistGradientBoostingRegressor(loss=loss, max_iter=4, max_depth=3, categorical_features=cat_cols, random_state=0, **kw)
        reg.fit(df, target)
        rows = hgb_candidates(df, reg, base, cat_cols)
        if loss != 'squared_error':
            rows = rows[40:]
        save_model(f'hgb-{loss.replace("_", "-")}', reg, df, df.dropna().head(3), expected=expectations(reg, cols, kinds, rows, False))


# ---------------------------------------------------------------- IsolationForest

def iforest_expectations(model, columns, candidates):
    kinds = {c: 'double' for c in columns}
    out = expectations(model, columns, kinds, candidates, False)
    X = frame(columns, out['data'], kinds)
    out['decision_function'] = model.decision_function(X).tolist()
    out['score_samples'] = model.score_samples(X).tolist()
    return out


def iforest_models():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(0, 1, (400, 4)), columns=['x0', 'x1', 'x2', 'x3'])
    X.iloc[:20] *= 6
    base = [float(v) for v in X.median()]
    specs = {
        'iforest-default': dict(n_estimators=3),
        'iforest-subspace': dict(n_estimators=4, max_features=2, max_samples=64, contamination=0.1, bootstrap=True),
        'iforest-three-features': dict(n_estimators=3, max_features=0.75, max_samples=0.5, contamination=0.05),
    }
    for name, kw in specs.items():
        m = IsolationForest(random_state=0, **kw).fit(X)
        sub = m._max_features != X.shape[1]
        splits = sklearn_tree_splits(m.estimators_, m.estimators_features_ if sub else None)
        rows = to_json_rows(X.head(50)) + probe_rows(base, splits, 25) + extremes(base, [0, 3])
        save_model(name, m, X, X.head(3), expected=iforest_expectations(m, list(X.columns), rows))


if __name__ == '__main__':
    gb_classifiers()
    gb_regressors()
    hgb_models()
    iforest_models()

#!/usr/bin/env python3
"""Writes the classic-ML benchmark models (issues 16 and 17) as MLflow 3.11 writes them, reusing
the fixture generators' layout helpers (tools/sklearn, tools/xgb-lgbm):

  census-rf20-sk12   census-style Pipeline: numeric median imputer + scaler, categorical
                     most-frequent imputer + one-hot, 20-tree RandomForest, string labels
  rf100-sk12         100-tree RandomForestClassifier (max_depth 10) on 8 numeric columns
  xgb300             300-tree XGBClassifier (max_depth 6, binary:logistic), model.ubj
                     (xgboost 1.7.4; 3 % missing values in training and in column x0 of the requests)

Each directory also gets bench-1.json and bench-1000.json: `dataframe_split` request bodies of
1 and 1,000 rows (the 1,000-row body has missing values where the model accepts them), and
expected.json with the library's own predictions on the first 50 of those rows.

  /usr/bin/python3 tools/bench/make_bench_models.py   # Debian: sklearn 1.2.1, xgboost 1.7.4
"""
import importlib.util
import json
import os
import shutil
import sys

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'sklearn'))
import make_fixtures as sk  # noqa: E402  (tools/sklearn)

OUT = os.path.join(HERE, '..', '..', 'bench', 'models')
sk.ROOT = OUT
# tools/xgb-lgbm/make_fixtures.py has the same module name: loaded from its file.
_spec = importlib.util.spec_from_file_location('xgb_fixtures', os.path.join(HERE, '..', 'xgb-lgbm', 'make_fixtures.py'))
xgbfx_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xgbfx_mod)
xgbfx_mod.FIXTURES = OUT

from sklearn.ensemble import RandomForestClassifier  # noqa: E402


def expected(model, columns, kinds, rows):
    # log-probabilities of 0 are -Infinity, which is not JSON: the benchmark needs none of them.
    out = sk.expectations(model, columns, kinds, rows, True)
    out.pop('predict_log_proba')
    return out


def write_requests(path, df):
    """bench-1.json and bench-1000.json: the request bodies the benchmark sends."""
    rows = sk.to_json_rows(df)
    for n in (1, 1000):
        with open(os.path.join(path, f'bench-{n}.json'), 'w') as f:
            json.dump({'dataframe_split': {'columns': list(df.columns), 'data': rows[:n]}}, f, separators=(',', ':'))


def census():
    rng = np.random.default_rng(16)
    X, y = sk.census_frame(rng, 4000)
    model = sk.census_pipeline(RandomForestClassifier(n_estimators=20, max_depth=12, random_state=0)).fit(X, y)
    columns = list(X.columns)
    kinds = {c: ('double' if c in sk.NUMERIC else 'string') for c in columns}
    serve, _ = sk.census_frame(rng, 1000)
    sk.save_model('census-rf20', model, X, X.dropna().head(3),
                  expected=expected(model, columns, kinds, sk.to_json_rows(serve.head(50))))
    write_requests(os.path.join(OUT, f'census-rf20-{sk.TAG}'), serve)


def numeric_frame(rng, n, k=8):
    return pd.DataFrame(rng.normal(size=(n, k)).round(4), columns=[f'x{i}' for i in range(k)])


def numeric_target(rng, X):
    s = X.x0 * 1.2 - X.x1 + 0.6 * X.x2 * X.x3 + np.sin(X.x4 * 2) - 0.4 * X.x5 ** 2
    return (s + rng.normal(0, 0.5, len(X)) > 0).astype(int)


def rf100():
    rng = np.random.default_rng(160)
    X = numeric_frame(rng, 1500)
    y = numeric_target(rng, X)
    model = RandomForestClassifier(n_estimators=100, max_depth=10, min_samples_leaf=3, random_state=0).fit(X, y)
    serve = numeric_frame(rng, 1000)
    kinds = {c: 'double' for c in X.columns}
    sk.save_model('rf100', model, X, X.head(3),
                  expected=expected(model, list(X.columns), kinds, sk.to_json_rows(serve.head(50))))
    write_requests(os.path.join(OUT, f'rf100-{sk.TAG}'), serve)


def xgb300():
    import xgboost as xgb
    rng = np.random.default_rng(17)
    X = numeric_frame(rng, 3000)
    for c in X.columns:
        X.loc[rng.random(len(X)) < 0.03, c] = np.nan
    y = numeric_target(rng, X.fillna(0))
    model = xgb.XGBClassifier(n_estimators=300, max_depth=6, learning_rate=0.1, random_state=0).fit(X, y)
    serve = numeric_frame(rng, 1000)
    serve.loc[rng.random(len(serve)) < 0.03, 'x0'] = np.nan
    xgbfx_mod.xgb_save('xgb300', model, 'ubj', X, X.dropna().head(3), sk.to_json_rows(serve.head(50)))
    # xgb_save writes into FIXTURES/xgboost/<name>: move it up to bench/models/xgb300.
    os.replace(os.path.join(OUT, 'xgboost', 'xgb300'), os.path.join(OUT, 'xgb300.tmp'))
    os.rmdir(os.path.join(OUT, 'xgboost'))
    if os.path.isdir(os.path.join(OUT, 'xgb300')):
        shutil.rmtree(os.path.join(OUT, 'xgb300'))
    os.replace(os.path.join(OUT, 'xgb300.tmp'), os.path.join(OUT, 'xgb300'))
    write_requests(os.path.join(OUT, 'xgb300'), serve)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    census()
    rf100()
    xgb300()

#!/usr/bin/env python3
"""Writes XGBoost and LightGBM model directories laid out exactly as MLflow 3.11's xgboost and
lightgbm flavours write them (MLmodel, the model file, conda.yaml, python_env.yaml,
requirements.txt, input_example.json, serving_input_example.json; layout copied from the
MLflow-written shared fixtures mlflow-classic/wine-xgboost and wine-lightgbm), plus
expected.json: what MLflow's pyfunc would answer, i.e. the model loaded back the way
`mlflow.xgboost._load_model` / `mlflow.lightgbm._load_model` load it, predicting on a few
hundred rows (training rows, values on and next to every split threshold, NaN, the custom
`missing` value, the zero band, extreme values and infinities, categories seen and unseen),
and the rows the library refuses.

One fixture per objective. Run it with both interpreters (each writes what its libraries allow):
  /usr/bin/python3 tools/xgb-lgbm/make_fixtures.py     # Debian: xgboost 1.7.4, sklearn 1.2
  /tmp/v/bin/python tools/xgb-lgbm/make_fixtures.py    # venv: lightgbm 4.7.0, sklearn 1.9
MLflow is not needed (nor installable here).
"""
import hashlib
import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import sys
import uuid

import cloudpickle
import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'sklearn'))
from make_fixtures import input_schema, output_schema, to_json_rows  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures')
MLFLOW_VERSION = '3.11.2.dev0'
CREATED = '2026-12-01 09:00:00.000000'
BASE_REQS = ['joblib', 'lz4', 'numpy', 'pandas', 'psutil', 'scikit-learn', 'scipy', 'threadpoolctl', 'typing-extensions']


def version(pkg):
    try:
        return md.version(pkg).split('+')[0]
    except md.PackageNotFoundError:
        return None


def env_files(path, extra):
    reqs = ['mlflow==3.11.1'] + [f'{p}=={version(p)}' for p in sorted(BASE_REQS + extra) if version(p) is not None]
    py = platform.python_version()
    with open(os.path.join(path, 'requirements.txt'), 'w') as f:
        f.write('\n'.join(reqs))
    with open(os.path.join(path, 'python_env.yaml'), 'w') as f:
        f.write(f'python: {py}\nbuild_dependencies:\n- pip=={version("pip") or "23.0.1"}\n- setuptools=={version("setuptools") or "66.1.1"}\n'
                f'- wheel=={version("wheel") or "0.38.4"}\ndependencies:\n- -r requirements.txt\n')
    with open(os.path.join(path, 'conda.yaml'), 'w') as f:
        yaml.safe_dump({'channels': ['conda-forge'], 'dependencies': [f'python={py}', f'pip<={version("pip") or "23.0.1"}', {'pip': reqs}],
                        'name': 'mlflow-env'}, f, default_flow_style=False)


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def write_examples(path, example):
    with open(os.path.join(path, 'input_example.json'), 'w') as f:
        f.write(json.dumps({'columns': list(example.columns), 'data': to_json_rows(example)}))
    with open(os.path.join(path, 'serving_input_example.json'), 'w') as f:
        f.write(json.dumps({'dataframe_split': {'columns': list(example.columns), 'data': to_json_rows(example)}}, indent=2))


def write_mlmodel(path, flavors, X, pred, files):
    seed = hashlib.sha256(os.path.relpath(path, FIXTURES).encode()).hexdigest()
    mlmodel = {
        'flavors': flavors,
        'is_signature_from_type_hint': False,
        'mlflow_version': MLFLOW_VERSION,
        'model_id': None,
        'model_size_bytes': sum(os.path.getsize(os.path.join(path, f)) for f in files),
        'model_uuid': uuid.UUID(seed[:32]).hex,
        'prompts': None,
        'saved_input_example_info': {'artifact_path': 'input_example.json', 'pandas_orient': 'split',
                                     'serving_input_path': 'serving_input_example.json', 'type': 'dataframe'},
        'signature': {'inputs': json.dumps(input_schema(X)), 'outputs': json.dumps(output_schema(np.asarray(pred))), 'params': None},
        'type_hint_from_example': False,
        'utc_time_created': CREATED,
    }
    with open(os.path.join(path, 'MLmodel'), 'w') as f:
        yaml.safe_dump(mlmodel, f, default_flow_style=False)


def frame(columns, rows):
    return pd.DataFrame({c: pd.Series([np.nan if r[j] is None else r[j] for r in rows], dtype='float64') for j, c in enumerate(columns)})


def expectations(predict, columns, candidates):
    """predict(DataFrame) on each candidate row alone (to split off refused rows), then on all accepted rows."""
    ok, rejected = [], []
    for row in candidates:
        try:
            predict(frame(columns, [row]))
            ok.append(row)
        except Exception as e:  # the libraries raise their own error types
            # XGBoost prefixes its messages with the time of day: dropped, so reruns write identical files.
            rejected.append({'row': row, 'error': re.sub(r'^\[\d\d:\d\d:\d\d\] ', '', str(e).split('\n')[0])[:200]})
    out = np.asarray(predict(frame(columns, ok)))
    return {'columns': columns, 'data': ok, 'predict': out.tolist(), 'dtype': str(out.dtype), 'rejected': rejected}


def probes(base, splits, limit=80):
    """Rows on and next to split thresholds (float32 and float64 neighbours), one feature changed each."""
    rows = []
    for f, t in sorted(set(splits))[:limit]:
        t32 = np.float32(t)
        for v in {t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), float(t32),
                  float(np.nextafter(t32, np.float32(np.inf))), float(np.nextafter(t32, np.float32(-np.inf)))}:
            r = list(base)
            r[f] = float(v)
            rows.append(r)
    return rows


EXTREMES = [0.0, -0.0, 1e-36, -1e-36, 1e-30, 1e-45, -1e-300, 1e30, -1e30, 3.4e38, -3.4e38, 1e39, -1e39, float('inf'), float('-inf'), None]


def extremes(base, positions, values=EXTREMES):
    rows = []
    for j in positions:
        for v in values:
            r = list(base)
            r[j] = v
            rows.append(r)
    return rows


def data(rng, n, n_features=4, missing=0.05):
    X = pd.DataFrame(rng.normal(size=(n, n_features)), columns=[f'f{k}' for k in range(n_features)])
    for c in X.columns:
        X.loc[rng.random(n) < missing, c] = np.nan
    return X


def candidates_for(X, splits, n_rows=150, extra=()):
    base = [float(v) for v in X.median()]
    rows = to_json_rows(X.head(n_rows)) + probes(base, splits) + extremes(base, range(X.shape[1]))
    for v in extra:
        r = list(base)
        r[0] = v
        rows.append(r)
    return rows


# ---------------------------------------------------------------- XGBoost (mlflow.xgboost)

def xgb_splits(booster):
    out = []
    for t in booster.trees_to_dataframe().itertuples():
        if t.Feature != 'Leaf' and not np.isnan(t.Split):
            out.append((int(t.Feature[1:]) if t.Feature.startswith('f') and t.Feature[1:].isdigit() else 0, float(t.Split)))
    return out


def xgb_save(name, model, fmt, X, example, expected):
    """mlflow.xgboost.save_model(model, path, model_format=fmt, signature=infer_signature(X, pred), input_example=example)."""
    import xgboost as xgb
    path = os.path.join(FIXTURES, 'xgboost', name)
    fresh_dir(path)
    write_examples(path, example)
    data_file = f'model.{fmt}'
    model.save_model(os.path.join(path, data_file))
    cls = f'{type(model).__module__}.{type(model).__name__}'
    env_files(path, ['xgboost'])
    pyfunc = {'data': data_file, 'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'}, 'loader_module': 'mlflow.xgboost',
              'python_version': platform.python_version()}
    flavor = {'code': None, 'data': data_file, 'model_class': cls, 'model_format': fmt, 'xgb_version': xgb.__version__}
    loaded = xgb_load(path, cls, data_file)
    write_mlmodel(path, {'python_function': pyfunc, 'xgboost': flavor}, X, xgb_pyfunc(loaded)(X.head(5)),
                  [data_file, 'input_example.json', 'serving_input_example.json'])
    expected = expectations(xgb_pyfunc(loaded), list(X.columns), expected)
    expected['library'] = f'xgboost {xgb.__version__}'
    with open(os.path.join(path, 'expected.json'), 'w') as f:
        json.dump(expected, f)
    print('wrote', path)


def xgb_load(path, cls, data_file):
    """mlflow.xgboost._load_model: instantiate model_class and load_model(the data file)."""
    import xgboost as xgb
    model = {'xgboost.core.Booster': xgb.Booster, 'xgboost.sklearn.XGBClassifier': xgb.XGBClassifier,
             'xgboost.sklearn.XGBRegressor': xgb.XGBRegressor, 'xgboost.sklearn.XGBRanker': xgb.XGBRanker}[cls]()
    model.load_model(os.path.join(path, data_file))
    return model


def xgb_pyfunc(model):
    """_XGBModelWrapper.predict: Booster.predict(DMatrix(df)), or the sklearn class's predict."""
    import xgboost as xgb
    if isinstance(model, xgb.Booster):
        return lambda df: model.predict(xgb.DMatrix(df), validate_features=True)
    return lambda df: model.predict(df, validate_features=True)


def xgboost_fixtures():
    import xgboost as xgb
    rng = np.random.default_rng(3)
    X = data(rng, 400)
    Xs = X.fillna(0)
    lin = Xs.f0 * 1.5 - Xs.f1 + 0.5 * Xs.f2 * Xs.f3
    example = X.dropna().head(3)

    # binary:logistic with a custom missing value (load_model restores it from the scikit_learn attribute).
    Xm = X.fillna(-999.0)
    y = (lin + rng.normal(0, 0.5, len(X)) > 0).astype(int)
    m = xgb.XGBClassifier(n_estimators=6, max_depth=3, missing=-999.0, base_score=0.4).fit(Xm, y)
    xgb_save('binary-logistic-ubj', m, 'ubj', X, example, candidates_for(X, xgb_splits(m.get_booster()), extra=[-999.0, -999.0001]))

    # multi:softprob with early stopping (predict uses iteration_range=(0, best_iteration + 1)), JSON.
    y3 = np.digitize(lin, [-0.7, 0.7])
    m = xgb.XGBClassifier(n_estimators=40, max_depth=2, learning_rate=0.5, early_stopping_rounds=2, eval_metric='mlogloss')
    m.fit(X[:300], y3[:300], eval_set=[(X[300:], y3[300:])], verbose=False)
    assert m.best_iteration + 1 < m.get_booster().num_boosted_rounds(), 'early stopping kept every round'
    xgb_save('multi-softprob-json', m, 'json', X, example, candidates_for(X, xgb_splits(m.get_booster())))

    # multi:softmax as a Booster (predict returns class indices as floats), legacy binary .xgb.
    b = xgb.train({'objective': 'multi:softmax', 'num_class': 3, 'max_depth': 2}, xgb.DMatrix(X, y3), 4)
    xgb_save('multi-softmax-booster-xgb', b, 'xgb', X, example, candidates_for(X, xgb_splits(b)))

    # reg:squarederror, legacy binary, regression target with cancelling trees.
    yr = lin * 10 + rng.normal(0, 1, len(X))
    m = xgb.XGBRegressor(n_estimators=8, max_depth=3, base_score=0.25).fit(X, yr)
    xgb_save('reg-squarederror-xgb', m, 'xgb', X, example, candidates_for(X, xgb_splits(m.get_booster())))

    # reg:logistic as a Booster with base_score (a Booster refuses infinity).
    yl = 1 / (1 + np.exp(-lin))
    b = xgb.train({'objective': 'reg:logistic', 'max_depth': 2, 'base_score': 0.3}, xgb.DMatrix(X, yl), 5)
    xgb_save('reg-logistic-booster-ubj', b, 'ubj', X, example, candidates_for(X, xgb_splits(b)))

    # count:poisson.
    yp = rng.poisson(np.exp(np.clip(lin, -3, 3) * 0.5))
    m = xgb.XGBRegressor(objective='count:poisson', n_estimators=6, max_depth=2).fit(X, yp)
    xgb_save('count-poisson-ubj', m, 'ubj', X, example, candidates_for(X, xgb_splits(m.get_booster())))

    # rank:pairwise: raw scores.
    qid = np.repeat(np.arange(40), 10)
    ranks = np.digitize(lin, [-1, 0, 1])
    m = xgb.XGBRanker(objective='rank:pairwise', n_estimators=5, max_depth=2).fit(X, ranks, qid=qid)
    xgb_save('rank-pairwise-json', m, 'json', X, example, candidates_for(X, xgb_splits(m.get_booster())))

    # Categorical splits (enable_categorical, partition-based): seen, unseen, negative, fractional categories.
    n = 400
    cat = rng.integers(0, 8, n)
    Xc = pd.DataFrame({'x': rng.normal(size=n), 'c': pd.Categorical(cat, categories=range(8))})
    yc = (np.isin(cat, [1, 3, 4]) ^ (Xc.x > 0.8)).astype(int)
    m = xgb.XGBClassifier(n_estimators=4, max_depth=3, tree_method='hist', enable_categorical=True, max_cat_to_onehot=1).fit(Xc, yc)
    Xf = Xc.astype({'c': 'float64'})
    rows = to_json_rows(Xf.head(100))
    for v in [0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 2 ** 24, 2 ** 25, -1, -0.5, 0.5, 1.5, 3.999, None, 1e30]:
        rows.append([0.1, v])
    xgb_save('categorical-ubj', m, 'ubj', Xf, Xf.head(3), rows)
    xgb_pipeline(X, y)


def xgb_pipeline(X, y):
    """An XGBClassifier as the last step of a scikit-learn Pipeline, in a sklearn-flavour directory."""
    import sklearn
    import xgboost as xgb
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    pipe = Pipeline([('impute', SimpleImputer(strategy='median')), ('xgb', xgb.XGBClassifier(n_estimators=5, max_depth=2))]).fit(X, y)
    sklearn_save(os.path.join(FIXTURES, 'xgboost', 'pipeline-xgbclassifier-sk'), pipe, X, ['xgboost'], sklearn.__version__)


def sklearn_save(path, model, X, extra, sk_version):
    """mlflow.sklearn.save_model(model, path, signature=..., input_example=...) with cloudpickle."""
    fresh_dir(path)
    example = X.dropna().head(3)
    with open(os.path.join(path, 'model.pkl'), 'wb') as f:
        cloudpickle.dump(model, f)
    write_examples(path, example)
    env_files(path, ['cloudpickle'] + extra)
    pyfunc = {'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'}, 'loader_module': 'mlflow.sklearn', 'model_path': 'model.pkl',
              'predict_fn': 'predict', 'python_version': platform.python_version()}
    flavor = {'code': None, 'pickled_model': 'model.pkl', 'serialization_format': 'cloudpickle', 'sklearn_version': sk_version,
              'skops_trusted_types': None}
    write_mlmodel(path, {'python_function': pyfunc, 'sklearn': flavor}, X, model.predict(X.head(5)),
                  ['model.pkl', 'input_example.json', 'serving_input_example.json'])
    base = [float(v) for v in X.median()]
    rows = to_json_rows(X.head(120)) + extremes(base, range(X.shape[1]))
    expected = expectations(model.predict, list(X.columns), rows)
    expected['predict_proba'] = np.asarray(model.predict_proba(frame(list(X.columns), expected['data']))).tolist()
    with open(os.path.join(path, 'expected.json'), 'w') as f:
        json.dump(expected, f)
    print('wrote', path)


# ---------------------------------------------------------------- LightGBM (mlflow.lightgbm)

def lgb_splits(booster):
    out = []
    for t in booster.trees_to_dataframe().itertuples():
        if isinstance(t.split_feature, str) and t.decision_type == '<=':
            out.append((int(t.split_feature[1:]), float(t.threshold)))
    return out


def lgb_save(name, model, X, example, candidates):
    """mlflow.lightgbm.save_model: a Booster as model.lgb, the sklearn classes as a cloudpickle model.pkl."""
    import lightgbm as lgb
    path = os.path.join(FIXTURES, 'lightgbm', name)
    fresh_dir(path)
    write_examples(path, example)
    is_booster = isinstance(model, lgb.Booster)
    data_file = 'model.lgb' if is_booster else 'model.pkl'
    if is_booster:
        model.save_model(os.path.join(path, data_file))
        loaded = lgb.Booster(model_file=os.path.join(path, data_file))
    else:
        with open(os.path.join(path, data_file), 'wb') as f:
            cloudpickle.dump(model, f)
        with open(os.path.join(path, data_file), 'rb') as f:
            loaded = cloudpickle.load(f)
    cls = f'{type(model).__module__}.{type(model).__name__}'
    env_files(path, ['lightgbm'] + ([] if is_booster else ['cloudpickle']))
    pyfunc = {'data': data_file, 'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'}, 'loader_module': 'mlflow.lightgbm',
              'python_version': platform.python_version()}
    flavor = {'code': None, 'data': data_file, 'lgb_version': lgb.__version__, 'model_class': cls,
              'serialization_format': 'cloudpickle', 'skops_trusted_types': None}
    write_mlmodel(path, {'lightgbm': flavor, 'python_function': pyfunc}, X, loaded.predict(X.head(5)),
                  [data_file, 'input_example.json', 'serving_input_example.json'])
    expected = expectations(loaded.predict, list(X.columns), candidates)
    expected['library'] = f'lightgbm {lgb.__version__}'
    if not is_booster and hasattr(loaded, 'predict_proba'):
        expected['predict_proba'] = np.asarray(loaded.predict_proba(frame(list(X.columns), expected['data']))).tolist()
    with open(os.path.join(path, 'expected.json'), 'w') as f:
        json.dump(expected, f)
    print('wrote', path)


CATS = [0, 1, 2, 3, 4, 5, 6, 9, 40, 1e10, -1, -0.5, 0.5, 2.7, 5.999, None]


def lightgbm_fixtures():
    import lightgbm as lgb
    rng = np.random.default_rng(5)
    n = 500
    X = data(rng, n, 3)
    X['cat'] = rng.integers(0, 7, n).astype('float64')
    X.loc[rng.random(n) < 0.05, 'cat'] = np.nan
    Xs = X.fillna(0)
    lin = Xs.f0 * 1.5 - Xs.f1 + 0.5 * Xs.f2 + np.isin(Xs.cat, [1, 4, 5]) * 1.2
    example = X.dropna().head(3)
    cands = lambda model_splits: candidates_for(X, model_splits) + [[0.1, -0.2, 0.3, v] for v in CATS]  # noqa: E731

    # binary: LGBMClassifier with string labels, a categorical feature, NaN missing type, early stopping.
    y = np.where(lin + rng.normal(0, 0.6, n) > 0.3, 'yes', 'no')
    m = lgb.LGBMClassifier(n_estimators=60, num_leaves=6, learning_rate=0.3, min_child_samples=10, verbose=-1)
    m.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], categorical_feature=['cat'], callbacks=[lgb.early_stopping(3, verbose=False)])
    lgb_save('binary-classifier-pkl', m, X, example, cands(lgb_splits(m.booster_)))

    # multiclass Booster (model.lgb) with a categorical feature.
    y3 = np.digitize(lin, [-0.5, 0.8])
    b = lgb.train({'objective': 'multiclass', 'num_class': 3, 'num_leaves': 5, 'verbose': -1, 'min_data_in_leaf': 10},
                  lgb.Dataset(X, y3, categorical_feature=['cat']), 6)
    lgb_save('multiclass-booster-lgb', b, X, example, cands(lgb_splits(b)))

    # regression: LGBMRegressor with zero_as_missing (missing type Zero).
    Xz = X.copy()
    Xz.loc[rng.random(n) < 0.15, 'f1'] = 0.0
    yr = lin * 3 + rng.normal(0, 0.3, n)
    m = lgb.LGBMRegressor(n_estimators=8, num_leaves=6, zero_as_missing=True, min_child_samples=10, verbose=-1).fit(Xz, yr)
    lgb_save('regression-zero-missing-pkl', m, Xz, Xz.dropna().head(3), cands(lgb_splits(m.booster_)))

    # poisson Booster with use_missing=False (missing type None: NaN is read as 0).
    yp = rng.poisson(np.exp(np.clip(lin, -3, 3) * 0.4))
    b = lgb.train({'objective': 'poisson', 'num_leaves': 5, 'use_missing': False, 'verbose': -1, 'min_data_in_leaf': 10}, lgb.Dataset(X, yp), 6)
    lgb_save('poisson-no-missing-lgb', b, X, example, cands(lgb_splits(b)))
    lgb_pipeline(X, y)


def lgb_pipeline(X, y):
    import lightgbm as lgb
    import sklearn
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    pipe = Pipeline([('scale', StandardScaler()), ('lgbm', lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1))]).fit(X, y)
    sklearn_save(os.path.join(FIXTURES, 'lightgbm', 'pipeline-lgbmclassifier-sk'), pipe, X, ['lightgbm'], sklearn.__version__)


if __name__ == '__main__':
    done = False
    try:
        import xgboost  # noqa: F401
        xgboost_fixtures()
        done = True
    except ImportError:
        pass
    try:
        import lightgbm  # noqa: F401
        lightgbm_fixtures()
        done = True
    except ImportError:
        pass
    if not done:
        sys.exit('neither xgboost nor lightgbm is importable')

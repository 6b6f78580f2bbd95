#!/usr/bin/env python3
"""Writes scikit-learn model directories laid out exactly as MLflow 3.11's sklearn flavour writes
them (MLmodel, model.pkl, conda.yaml, python_env.yaml, requirements.txt, input_example.json,
serving_input_example.json), plus expected.json with scikit-learn's own predictions on a few
hundred rows: in-range, near every split threshold, extreme and missing values, and the rows
scikit-learn refuses.

Run it with each scikit-learn generation (the output folder names carry the version):
  /usr/bin/python3 tools/sklearn/make_fixtures.py            # Debian: sklearn 1.2, numpy 1.x
  /tmp/v/bin/python tools/sklearn/make_fixtures.py           # venv: sklearn 1.9, numpy 2.x
MLflow itself is not needed (nor installable here): the layout is copied from directories a real
MLflow wrote (shared fixtures mlflow-classic/wine-logreg-sklearn).
"""
import hashlib
import importlib.metadata as md
import json
import os
import pickle
import platform
import sys
import uuid

import cloudpickle
import numpy as np
import pandas as pd
import sklearn
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'sklearn')
TAG = 'sk' + ''.join(sklearn.__version__.split('.')[:2])
MLFLOW_VERSION = '3.11.2.dev0'
CREATED = '2026-12-01 08:00:00.000000'
REQUIREMENTS = ['cloudpickle', 'joblib', 'lz4', 'numpy', 'packaging', 'psutil', 'pyyaml', 'scikit-learn', 'scipy', 'threadpoolctl']


def version(pkg):
    try:
        return md.version(pkg).split('+')[0]
    except md.PackageNotFoundError:
        return None


def col_type(s):
    if s.dtype.kind == 'f':
        return 'double'
    if s.dtype.kind in 'iu':
        return 'long'
    return 'string'


def input_schema(df):
    # infer_signature marks columns that hold missing values as optional.
    return [{'type': col_type(df[c]), 'name': c, 'required': not bool(df[c].isna().any())} for c in df.columns]


def output_schema(pred):
    dtype = 'object' if pred.dtype.kind == 'O' else ('str' if pred.dtype.kind == 'U' else str(pred.dtype))
    shape = [-1] + list(pred.shape[1:])
    return [{'type': 'tensor', 'tensor-spec': {'dtype': dtype, 'shape': shape}}]


def to_json_rows(df):
    def cell(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (np.floating, float)):
            return float(v)
        if isinstance(v, (np.integer,)):
            return int(v)
        return v
    return [[cell(v) for v in row] for row in df.astype(object).itertuples(index=False, name=None)]


def frame(columns, rows, kinds):
    """Rows as scikit-learn gets them from MLflow: float64 numbers (None → NaN), object strings (None stays None)."""
    data = {}
    for j, c in enumerate(columns):
        vals = [r[j] for r in rows]
        if kinds[c] == 'double':
            data[c] = pd.Series([np.nan if v is None else v for v in vals], dtype='float64')
        else:
            data[c] = pd.Series(vals, dtype=object)
    return pd.DataFrame(data)


def expectations(model, columns, kinds, candidates, is_classifier):
    ok, rejected = [], []
    for row in candidates:
        try:
            model.predict(frame(columns, [row], kinds))
            ok.append(row)
        except ValueError as e:
            rejected.append({'row': row, 'error': str(e).split('\n')[0]})
    X = frame(columns, ok, kinds)
    out = {'sklearn_version': sklearn.__version__, 'numpy_version': np.__version__, 'columns': columns, 'data': ok}
    out['predict'] = model.predict(X).tolist()
    if is_classifier:
        out['predict_proba'] = model.predict_proba(X).tolist()
        with np.errstate(divide='ignore'):
            out['predict_log_proba'] = model.predict_log_proba(X).tolist()
    out['rejected'] = rejected
    return out


def env_files(path):
    py = platform.python_version()
    reqs = [f'mlflow=={MLFLOW_VERSION.replace(".dev0", "").replace("3.11.2", "3.11.1")}']
    reqs += [f'{p}=={version(p)}' for p in REQUIREMENTS if version(p) is not None]
    with open(os.path.join(path, 'requirements.txt'), 'w') as f:
        f.write('\n'.join(reqs))
    pip = version('pip') or '23.0.1'
    with open(os.path.join(path, 'python_env.yaml'), 'w') as f:
        f.write(f'python: {py}\nbuild_dependencies:\n- pip=={pip}\n- setuptools=={version("setuptools") or "66.1.1"}\n'
                f'- wheel=={version("wheel") or "0.38.4"}\ndependencies:\n- -r requirements.txt\n')
    with open(os.path.join(path, 'conda.yaml'), 'w') as f:
        deps = ''.join(f'  - {r}\n' for r in reqs)
        f.write(f'channels:\n- conda-forge\ndependencies:\n- python={py}\n- pip<={pip}\n- pip:\n{deps}name: mlflow-env\n')


def save_model(name, model, X_train, example, predict_fn='predict', fmt='cloudpickle', autolog=False, expected=None):
    """mlflow.sklearn.save_model(model, path, serialization_format=fmt, signature=infer_signature(X, pred), input_example=example)."""
    path = os.path.join(ROOT, f'{name}-{TAG}')
    os.makedirs(path, exist_ok=True)
    for f in os.listdir(path):
        os.remove(os.path.join(path, f))
    with open(os.path.join(path, 'model.pkl'), 'wb') as f:
        (cloudpickle.dump if fmt == 'cloudpickle' else pickle.dump)(model, f)
    with open(os.path.join(path, 'input_example.json'), 'w') as f:
        f.write(json.dumps({'columns': list(example.columns), 'data': to_json_rows(example)}))
    with open(os.path.join(path, 'serving_input_example.json'), 'w') as f:
        f.write(json.dumps({'dataframe_split': {'columns': list(example.columns), 'data': to_json_rows(example)}}, indent=2))
    size = sum(os.path.getsize(os.path.join(path, f)) for f in ['model.pkl', 'input_example.json', 'serving_input_example.json'])
    env_files(path)
    pred = getattr(model, predict_fn)(X_train.head(5))
    seed = hashlib.sha256(f'{name}-{TAG}'.encode()).hexdigest()
    mlmodel = {
        'flavors': {
            'python_function': {
                'env': {'conda': 'conda.yaml', 'virtualenv': 'python_env.yaml'},
                'loader_module': 'mlflow.sklearn',
                'model_path': 'model.pkl',
                'predict_fn': predict_fn,
                'python_version': platform.python_version(),
            },
            'sklearn': {
                'code': None,
                'pickled_model': 'model.pkl',
                'serialization_format': fmt,
                'sklearn_version': sklearn.__version__,
                'skops_trusted_types': None,
            },
        },
        'is_signature_from_type_hint': False,
        'mlflow_version': MLFLOW_VERSION,
        'model_id': f'm-{seed[:32]}' if autolog else None,
        'model_size_bytes': size,
        'model_uuid': uuid.UUID(seed[:32]).hex,
        'prompts': None,
        'saved_input_example_info': {
            'artifact_path': 'input_example.json',
            'pandas_orient': 'split',
            'serving_input_path': 'serving_input_example.json',
            'type': 'dataframe',
        },
        'signature': {'inputs': json.dumps(input_schema(X_train)), 'outputs': json.dumps(output_schema(np.asarray(pred))), 'params': None},
        'type_hint_from_example': False,
        'utc_time_created': CREATED,
    }
    if autolog:
        # mlflow.sklearn.autolog() logs through log_model(name='model') inside a run.
        mlmodel['artifact_path'] = 'model'
        mlmodel['run_id'] = seed[32:64]
    with open(os.path.join(path, 'MLmodel'), 'w') as f:
        yaml.safe_dump(mlmodel, f, default_flow_style=False)
    if expected is not None:
        with open(os.path.join(path, 'expected.json'), 'w') as f:
            json.dump(expected, f, allow_nan=True)
    print('wrote', path)


def thresholds(model):
    trees = []
    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    trees = [e.tree_ for e in getattr(est, 'estimators_', [est])]
    out = []
    for t in trees:
        for f, thr in zip(t.feature, t.threshold):
            if f >= 0:
                out.append((int(f), float(thr)))
    return sorted(set(out))


def probes(base, model, limit=60):
    """Rows on and next to each split threshold, where float32 rounding decides the branch."""
    rows = []
    for f, t in thresholds(model)[:limit]:
        t32 = float(np.float32(t))
        for v in {t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), t32, float(np.nextafter(np.float32(t), np.float32(np.inf))), float(np.nextafter(np.float32(t), np.float32(-np.inf)))}:
            r = list(base)
            r[f] = float(v)
            rows.append(r)
    return rows


def extremes(base, numeric_positions):
    rows = []
    for j in numeric_positions:
        for v in [0.0, -0.0, 1e-45, -1e-300, 1e30, -1e30, 3.4e38, -3.4e38, 1e39, 1e300, float('inf'), float('-inf'), None]:
            r = list(base)
            r[j] = v
            rows.append(r)
    return rows


def iris_models():
    X, y = load_iris(return_X_y=True, as_frame=True)
    kinds = {c: 'double' for c in X.columns}
    base = [float(v) for v in X.median()]
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    candidates = to_json_rows(X) + probes(base, tree) + extremes(base, range(4))
    save_model('iris-tree-autolog', tree, X, X.head(3), autolog=True, expected=expectations(tree, list(X.columns), kinds, candidates, True))
    logreg = LogisticRegression(max_iter=500).fit(X, y)
    candidates = to_json_rows(X) + extremes(base, range(4))
    save_model('iris-logreg-proba', logreg, X, X.head(3), predict_fn='predict_proba', expected=expectations(logreg, list(X.columns), kinds, candidates, True))


CATEGORIES = {
    'workclass': ['Private', 'Self-emp-not-inc', 'Local-gov', 'State-gov', 'Without-pay'],
    'education': ['HS-grad', 'Some-college', 'Bachelors', 'Masters', 'Doctorate', '11th'],
    'sex': ['Male', 'Female'],
}
NUMERIC = ['age', 'hours_per_week', 'capital_gain']


def census_frame(rng, n, missing=0.06):
    df = pd.DataFrame({
        'age': rng.integers(17, 90, n).astype('float64'),
        'workclass': pd.Series(rng.choice(CATEGORIES['workclass'], n), dtype=object),
        'education': pd.Series(rng.choice(CATEGORIES['education'], n), dtype=object),
        'sex': pd.Series(rng.choice(CATEGORIES['sex'], n), dtype=object),
        'hours_per_week': rng.integers(1, 99, n).astype('float64'),
        'capital_gain': np.where(rng.random(n) < 0.85, 0.0, rng.integers(100, 99999, n)).astype('float64'),
    })
    score = (df['age'] - 38) / 12 + (df['hours_per_week'] - 40) / 15 + df['capital_gain'] / 8000 + df['education'].isin(['Masters', 'Doctorate', 'Bachelors']) * 1.2
    y = np.where(score + rng.normal(0, 0.8, n) > 0.9, '>50K', '<=50K')
    for c in df.columns:
        mask = rng.random(n) < missing
        df.loc[mask, c] = np.nan
    return df, pd.Series(y, dtype=object)


def census_pipeline(final):
    pre = ColumnTransformer([
        ('num', Pipeline([('impute', SimpleImputer(strategy='median')), ('scale', StandardScaler())]), NUMERIC),
        ('cat', Pipeline([('impute', SimpleImputer(strategy='most_frequent')), ('onehot', OneHotEncoder(handle_unknown='ignore'))]), list(CATEGORIES)),
    ])
    return Pipeline([('preprocess', pre), ('classifier', final)])


def census_models():
    rng = np.random.default_rng(7)
    X, y = census_frame(rng, 600)
    columns = list(X.columns)
    kinds = {c: ('double' if c in NUMERIC else 'string') for c in columns}
    serve, _ = census_frame(rng, 150, missing=0.1)
    example = X.dropna().head(3)
    # The serving example comes first, so its expected predictions are the first three.
    candidates = to_json_rows(example) + to_json_rows(serve)
    base = to_json_rows(X.dropna().head(1))[0]
    candidates += extremes(base, [columns.index(c) for c in NUMERIC])
    for c in CATEGORIES:
        for v in ['Never-seen', '', None, 'private']:
            r = list(base)
            r[columns.index(c)] = v
            candidates.append(r)
    rf = census_pipeline(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)).fit(X, y)
    save_model('census-rf', rf, X, example, fmt='pickle', expected=expectations(rf, columns, kinds, candidates, True))
    lr = census_pipeline(LogisticRegression(max_iter=1000)).fit(X, y)
    save_model('census-logreg', lr, X, example, expected=expectations(lr, columns, kinds, candidates, True))


def mixed_model():
    """Integer and string categories with drop='first' and handle_unknown='error', a None marker
    imputed with a constant, positional and sliced column selections, remainder='passthrough'."""
    rng = np.random.default_rng(11)
    n = 400
    X = pd.DataFrame({
        'rooms': rng.integers(1, 6, n).astype('int64'),
        'area': rng.normal(80, 25, n),
        'city': pd.Series(rng.choice(['north', 'south', 'east'], n), dtype=object),
        'floor': rng.integers(0, 10, n).astype('float64'),
        'age': rng.normal(30, 15, n),
        'kind': pd.Series(rng.choice(['flat', 'house', None], n), dtype=object),
    })
    y = X['area'] * 3 + X['rooms'] * 20 + (X['city'] == 'north') * 50 + X['floor'] * 2 + rng.normal(0, 5, n)
    pre = ColumnTransformer([
        ('rooms', OneHotEncoder(drop='first', handle_unknown='error'), [0]),
        ('city', OneHotEncoder(handle_unknown='error'), ['city']),
        ('kind', Pipeline([('fill', SimpleImputer(missing_values=None, strategy='constant', fill_value='unknown')),
                           ('onehot', OneHotEncoder(handle_unknown='ignore'))]), ['kind']),
        ('scaled', StandardScaler(with_mean=False), slice(3, 5)),
    ], remainder='passthrough')
    from sklearn.tree import DecisionTreeRegressor
    model = Pipeline([('pre', pre), ('tree', DecisionTreeRegressor(max_depth=5, random_state=0))]).fit(X, y)
    columns = list(X.columns)
    kinds = {'rooms': 'double', 'area': 'double', 'city': 'string', 'floor': 'double', 'age': 'double', 'kind': 'string'}
    base = to_json_rows(X.head(1))[0]
    candidates = to_json_rows(X.head(150))
    for c, vals in {'rooms': [1, 5, 7, None], 'city': ['west', None], 'kind': ['tent', None], 'area': [None, 1e30], 'floor': [None, -1e-300]}.items():
        for v in vals:
            r = list(base)
            r[columns.index(c)] = v
            candidates.append(r)
    save_model('mixed-tree-regressor', model, X, X.head(3), expected=expectations(model, columns, kinds, candidates, False))


def diabetes_models():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    kinds = {c: 'double' for c in X.columns}
    base = [float(v) for v in X.median()]
    et = ExtraTreesRegressor(n_estimators=4, max_depth=4, random_state=0).fit(X, y)
    candidates = to_json_rows(X.head(50)) + probes(base, et, 15) + extremes(base, [0, 2])
    save_model('diabetes-extratrees', et, X, X.head(3), expected=expectations(et, list(X.columns), kinds, candidates, False))
    lin = LinearRegression().fit(X, y)
    candidates = to_json_rows(X.head(50)) + extremes(base, [0, 2])
    save_model('diabetes-linreg', lin, X, X.head(3), expected=expectations(lin, list(X.columns), kinds, candidates, False))


def protocol_pickles():
    """One small fitted tree pickled with every protocol (0-5), pickle and cloudpickle."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    out = os.path.join(ROOT, 'pickles')
    os.makedirs(out, exist_ok=True)
    for p in range(6):
        with open(os.path.join(out, f'iris-tree-p{p}-{TAG}.pkl'), 'wb') as f:
            pickle.dump(tree, f, protocol=p)
    with open(os.path.join(out, f'iris-tree-cloudpickle-{TAG}.pkl'), 'wb') as f:
        cloudpickle.dump(tree, f)
    kinds = {'a': np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3)), 'u': np.array(['ab', 'c']),
             'h': np.array([1.5, -2], dtype=np.float16), 'b': np.array([True, False]), 's': np.float32(1.5)}
    with open(os.path.join(out, f'numpy-kinds-{TAG}.pkl'), 'wb') as f:
        pickle.dump(kinds, f, protocol=2)


if __name__ == '__main__':
    os.makedirs(ROOT, exist_ok=True)
    protocol_pickles()
    iris_models()
    census_models()
    diabetes_models()
    mixed_model()

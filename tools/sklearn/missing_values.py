"""What MLflow hands a scikit-learn model for missing values, per request format, with the model's
answers: test/fixtures/sklearn/missing-values/<fixture>.json (read by test/sklearn/missing-values.test.ts).

MLflow's scoring server reads a CSV body with `pandas.read_csv(body, dtype=<the signature's pandas
types>)`, where an empty field is NaN in every column (a float NaN inside an object column), and a
JSON body into a DataFrame where null stays None in an object column and is NaN in a float64 one.
SimpleImputer(missing_values=nan) imputes NaN but not None, so the same row answers differently.

Run with Debian's Python (scikit-learn 1.2.1, pandas 1.5; read_csv treats empty fields the same
way in pandas 2, which MLflow 3.11 pins): /usr/bin/python3 tools/sklearn/missing_values.py
"""
import io
import json
import os
import pickle

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'sklearn')

COLUMNS = ['age', 'workclass', 'education', 'sex', 'hours_per_week', 'capital_gain']
DTYPES = {'age': np.float64, 'workclass': object, 'education': object, 'sex': object, 'hours_per_week': np.float64, 'capital_gain': np.float64}
BASE = [52.0, 'Self-emp-not-inc', 'Masters', 'Female', 45.0, 0.0]


def rows():
    """The base row, then one row per column with that column missing."""
    out = [list(BASE)]
    for j in range(len(COLUMNS)):
        r = list(BASE)
        r[j] = None
        out.append(r)
    return out


def csv_body(rs):
    lines = [','.join(COLUMNS)]
    for r in rs:
        lines.append(','.join('' if v is None else repr(v) if isinstance(v, float) else v for v in r))
    return '\n'.join(lines) + '\n'


def json_frame(rs):
    """As MLflow builds it from dataframe_split: null is NaN in a double column, None in a string one."""
    data = {}
    for j, c in enumerate(COLUMNS):
        vals = [r[j] for r in rs]
        if DTYPES[c] is np.float64:
            data[c] = pd.Series([np.nan if v is None else v for v in vals], dtype='float64')
        else:
            data[c] = pd.Series(vals, dtype=object)
    return pd.DataFrame(data)


def main(name):
    path = os.path.join(FIXTURES, name)
    with open(os.path.join(path, 'model.pkl'), 'rb') as f:
        model = pickle.load(f)
    rs = rows()
    body = csv_body(rs)
    from_csv = pd.read_csv(io.StringIO(body), dtype=DTYPES)
    from_json = json_frame(rs)
    out = {
        'columns': COLUMNS,
        'rows': rs,
        'csv': body,
        'csv_predict_proba': model.predict_proba(from_csv).tolist(),
        'json_predict_proba': model.predict_proba(from_json).tolist(),
    }
    # The string columns are where the two formats part: NaN is imputed, None is an unknown category.
    for j, c in enumerate(COLUMNS):
        same = out['csv_predict_proba'][j + 1] == out['json_predict_proba'][j + 1]
        assert same == (DTYPES[c] is np.float64), (c, same)
    target = os.path.join(FIXTURES, 'missing-values', f'{name}.json')
    with open(target, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print('wrote', target)


if __name__ == '__main__':
    main('census-logreg-sk12')

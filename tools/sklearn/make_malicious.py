#!/usr/bin/env python3
"""Writes hostile pickles under test/fixtures/sklearn/malicious/ for the refusal tests. Each would
run code (or import user code) if unpickled by Python; modelgate must refuse every one without
running anything. MARKER is the file the os.system payloads would create.

  /tmp/v/bin/python tools/sklearn/make_malicious.py
"""
import os
import pickle
import shutil
import sys
import tempfile

import cloudpickle
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'sklearn', 'malicious')
MARKER = '/tmp/modelgate-sklearn-pwned-marker'


class RunsShell:
    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))


class Evals:
    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {MARKER}')",))


class Subprocess:
    def __reduce__(self):
        import subprocess
        return (subprocess.call, (['touch', MARKER],))


def fitted_pipeline(middle):
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    y = np.array([0, 1, 0, 1])
    p = Pipeline([('scale', StandardScaler()), ('custom', middle), ('tree', DecisionTreeClassifier(max_depth=1))])
    return p.fit(X, y)


def main():
    os.makedirs(OUT, exist_ok=True)
    # A custom class from an importable user package, as a custom transformer would be.
    pkg = tempfile.mkdtemp()
    with open(os.path.join(pkg, 'mypkg.py'), 'w') as f:
        f.write('from sklearn.base import BaseEstimator, TransformerMixin\n'
                'class MyTransformer(BaseEstimator, TransformerMixin):\n'
                '    def fit(self, X, y=None):\n        return self\n'
                '    def transform(self, X):\n        return X\n')
    sys.path.insert(0, pkg)
    import mypkg
    files = {
        'os-system-reduce.pkl': lambda: pickle.dumps(RunsShell(), protocol=2),
        'os-system-in-pipeline.pkl': lambda: pickle.dumps(Pipeline([('evil', RunsShell())])),
        'eval-reduce.pkl': lambda: pickle.dumps(Evals(), protocol=0),
        'subprocess-reduce.pkl': lambda: cloudpickle.dumps(Subprocess()),
        'lambda.pkl': lambda: cloudpickle.dumps(lambda x: os.system(f'touch {MARKER}')),
        'function-transformer-lambda.pkl': lambda: cloudpickle.dumps(fitted_pipeline(FunctionTransformer(lambda x: x + 1))),
        'custom-class-pipeline.pkl': lambda: pickle.dumps(fitted_pipeline(mypkg.MyTransformer())),
    }
    for name, make in files.items():
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(make())
        print('wrote', name)
    shutil.rmtree(pkg)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Fixtures for linear models, SVMs, naive Bayes, nearest neighbours and MLPs: MLflow-style model
directories (through make_fixtures.save_model) with scikit-learn's own outputs on in-range,
extreme and refused rows. Classifiers record only the predict_fns scikit-learn offers for them.

Run it with each scikit-learn generation, like make_fixtures.py:
  /usr/bin/python3 tools/sklearn/fixtures_linear.py            # Debian: sklearn 1.2, numpy 1.x
  /tmp/v/bin/python tools/sklearn/fixtures_linear.py           # venv: sklearn 1.9, numpy 2.x
  ... fixtures_linear.py svm- nb-                              # only fixtures with these prefixes
"""
import os
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.dont_write_bytecode = True  # no __pycache__ in tools/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

GENERATION = tuple(int(p) for p in sklearn.__version__.split('.')[:2])
METHODS = ['predict_proba', 'predict_log_proba']


def expect(model, columns, candidates, unreproducible=None):
    """scikit-learn's outputs on the rows it accepts. `unreproducible(row)` returns why modelgate
    refuses a row scikit-learn answers (its answer there depends on more than the model), or None."""
    kinds = {c: 'double' for c in columns}
    ok, rejected, refused = [], [], []
    for row in candidates:
        try:
            model.predict(mf.frame(columns, [row], kinds))
        except ValueError as e:
            rejected.append({'row': row, 'error': str(e).split('\n')[0]})
            continue
        reason = unreproducible(row) if unreproducible else None
        if reason:
            refused.append({'row': row, 'reason': reason})
        else:
            ok.append(row)
    X = mf.frame(columns, ok, kinds)
    out = {'sklearn_version': sklearn.__version__, 'numpy_version': np.__version__, 'columns': columns, 'data': ok}
    out['predict'] = model.predict(X).tolist()
    for fn in METHODS:
        if hasattr(model, fn):
            with np.errstate(divide='ignore'):
                out[fn] = getattr(model, fn)(X).tolist()
    out['missing_methods'] = [fn for fn in METHODS if not hasattr(model, fn)]
    out['rejected'] = rejected
    out['unreproducible'] = refused
    return out


def rows_of(X, n=None):
    return mf.to_json_rows(X if n is None else X.head(n))


def save(name, model, X, candidates, predict_fn='predict', unreproducible=None):
    """With `unreproducible`, the input example is the first three rows modelgate serves (the flavour scores it at load)."""
    expected = expect(model, list(X.columns), candidates, unreproducible)
    example = X.head(3) if unreproducible is None else mf.frame(list(X.columns), expected['data'][:3], {c: 'double' for c in X.columns})
    mf.save_model(name, model, X, example, predict_fn=predict_fn, expected=expected)


def base_row(X):
    return [float(v) for v in X.median()]


def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def iris_candidates(X, model_rows=150):
    rng = np.random.default_rng(3)
    jitter = (X.sample(60, random_state=1) + rng.normal(0, 0.3, (60, 4))).round(6)
    return rows_of(X, model_rows) + rows_of(jitter) + mf.extremes(base_row(X), range(4))


def binary():
    """Breast cancer, first 6 features: two classes with string labels."""
    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :6].copy()
    X.columns = [c.replace(' ', '_') for c in X.columns]
    y = pd.Series(np.where(data.target == 1, 'benign', 'malignant'), dtype=object)
    return X, y


def binary_candidates(X, n=120):
    return rows_of(X, n) + mf.extremes(base_row(X), range(3))


def diabetes(n=None):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return (X, y) if n is None else (X.head(n), y.head(n))


def diabetes_candidates(X, n=60):
    return rows_of(X, n) + mf.extremes(base_row(X), [0, 2])


def linear_models():
    from sklearn.linear_model import (ElasticNet, ElasticNetCV, Lasso, LassoCV, LogisticRegression, Perceptron,
                                      Ridge, RidgeClassifier, RidgeClassifierCV, RidgeCV, SGDClassifier, SGDRegressor)
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC, LinearSVR
    X, y = diabetes()
    cand = diabetes_candidates(X)
    y2 = np.c_[y, np.log(y)]
    for name, model, target in [
        ('linear-ridge', Ridge(alpha=0.5), y),
        ('linear-ridge-2targets', Ridge(alpha=0.5), y2),
        ('linear-ridgecv', RidgeCV(), y),
        ('linear-lasso', Lasso(alpha=0.1), y),
        ('linear-lassocv', LassoCV(cv=3), y),
        ('linear-elasticnet', ElasticNet(alpha=0.01, l1_ratio=0.3), y),
        ('linear-elasticnetcv', ElasticNetCV(cv=3, l1_ratio=[0.2, 0.8]), y),
        ('linear-sgd-regressor', SGDRegressor(random_state=0, average=10), y),
        ('linear-svr', LinearSVR(C=10.0, random_state=0, max_iter=20000), y),
    ]:
        save(name, model.fit(X, target), X, cand)

    X, y = iris()
    cand = iris_candidates(X, 100)
    scaled = lambda m: Pipeline([('scale', StandardScaler()), ('model', m)])  # noqa: E731
    for name, model, fn in [
        ('linear-ridge-classifier', RidgeClassifier(alpha=2.0), 'predict'),
        ('linear-ridge-classifiercv', RidgeClassifierCV(), 'predict'),
        ('linear-sgd-hinge', scaled(SGDClassifier(random_state=0)), 'predict'),
        ('linear-sgd-log', scaled(SGDClassifier(loss='log_loss', random_state=0)), 'predict_proba'),
        ('linear-sgd-modified-huber', scaled(SGDClassifier(loss='modified_huber', random_state=0)), 'predict_proba'),
        ('linear-perceptron', scaled(Perceptron(random_state=0)), 'predict'),
        ('linear-svc', scaled(LinearSVC(random_state=0, max_iter=20000)), 'predict'),
        ('linear-svc-crammer-singer', scaled(LinearSVC(multi_class='crammer_singer', random_state=0, max_iter=20000)), 'predict'),
        ('multiclass-ovr-logreg', OneVsRestClassifier(LogisticRegression(max_iter=1000)), 'predict_proba'),
        ('multiclass-ovr-sgd-hinge', scaled(OneVsRestClassifier(SGDClassifier(random_state=0))), 'predict'),
    ]:
        save(name, model.fit(X, y), X, cand, predict_fn=fn)
    if GENERATION < (1, 5):
        ovr = LogisticRegression(multi_class='ovr', max_iter=1000).fit(X, y)
        save('linear-logreg-ovr', ovr, X, cand, predict_fn='predict_proba')

    X, y = binary()
    cand = binary_candidates(X)
    for name, model, fn in [
        ('linear-ridge-classifier-binary', scaled(RidgeClassifier()), 'predict'),
        ('linear-sgd-log-binary', scaled(SGDClassifier(loss='log_loss', random_state=0)), 'predict_proba'),
        ('linear-sgd-modified-huber-binary', scaled(SGDClassifier(loss='modified_huber', random_state=0)), 'predict_proba'),
        ('linear-svc-binary', scaled(LinearSVC(random_state=0, max_iter=20000)), 'predict'),
        ('multiclass-ovr-binary', scaled(OneVsRestClassifier(LogisticRegression())), 'predict_proba'),
    ]:
        save(name, model.fit(X, y), X, cand, predict_fn=fn)


def svm_models():
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC, SVR, NuSVC, NuSVR
    scaled = lambda m: Pipeline([('scale', StandardScaler()), ('model', m)])  # noqa: E731
    X, y = iris()
    cand = iris_candidates(X, 100)
    for name, model, fn in [
        ('svm-svc-rbf-proba', SVC(probability=True, random_state=0), 'predict_proba'),
        ('svm-svc-poly-ovo', SVC(kernel='poly', degree=3, C=0.5, decision_function_shape='ovo'), 'predict'),
        ('svm-svc-sigmoid-break-ties', scaled(SVC(kernel='sigmoid', gamma=0.05, C=2.0, break_ties=True)), 'predict'),
        ('svm-svc-linear', SVC(kernel='linear', C=0.1), 'predict'),
        ('svm-nusvc-rbf-proba', NuSVC(nu=0.3, gamma=0.5, probability=True, random_state=0), 'predict_proba'),
        ('multiclass-ovr-svc-proba', OneVsRestClassifier(SVC(probability=True, random_state=0)), 'predict_proba'),
    ]:
        save(name, model.fit(X, y), X, cand, predict_fn=fn)
    X, y = binary()
    X, y = X.head(200), y.head(200)
    cand = binary_candidates(X)
    for name, model, fn in [
        ('svm-svc-linear-binary-proba', scaled(SVC(kernel='linear', probability=True, random_state=0)), 'predict_proba'),
        ('svm-svc-poly-binary', scaled(SVC(kernel='poly', degree=2, coef0=1.0, gamma=0.2)), 'predict'),
    ]:
        save(name, model.fit(X, y), X, cand, predict_fn=fn)
    X, y = diabetes(150)
    cand = diabetes_candidates(X)
    for name, model in [
        ('svm-svr-rbf', SVR(C=100.0, gamma=5.0, epsilon=5.0)),
        ('svm-nusvr-poly', NuSVR(kernel='poly', degree=2, C=1000.0, nu=0.3)),
        ('svm-svr-sigmoid', SVR(kernel='sigmoid', C=50.0, gamma=0.5)),
    ]:
        save(name, model.fit(X, y), X, cand)


def nb_models():
    from sklearn.naive_bayes import GaussianNB
    X, y = iris()
    save('nb-gaussian', GaussianNB().fit(X, y), X, iris_candidates(X), predict_fn='predict_proba')
    X, y = binary()
    model = GaussianNB(priors=[0.3, 0.7], var_smoothing=1e-6).fit(X, y)
    save('nb-gaussian-binary-priors', model, X, binary_candidates(X, 150), predict_fn='predict_log_proba')
    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :20].copy()
    X.columns = [f'f{i}' for i in range(20)]
    model = GaussianNB().fit(X, data.target)
    save('nb-gaussian-wide', model, X, rows_of(X, 150) + mf.extremes(base_row(X), [0, 9, 19]), predict_fn='predict_proba')


def mlp_models():
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    scaled = lambda m: Pipeline([('scale', StandardScaler()), ('model', m)])  # noqa: E731
    X, y = iris()
    cand = iris_candidates(X, 100)
    for name, model in [
        ('mlp-classifier-relu', scaled(MLPClassifier(hidden_layer_sizes=(8,), max_iter=400, random_state=0))),
        ('mlp-classifier-logistic', scaled(MLPClassifier(hidden_layer_sizes=(6, 5), activation='logistic', max_iter=600, random_state=0))),
        ('mlp-classifier-identity', scaled(MLPClassifier(hidden_layer_sizes=(4,), activation='identity', max_iter=400, random_state=0))),
    ]:
        save(name, model.fit(X, y), X, cand, predict_fn='predict_proba')
    X, y = binary()
    model = scaled(MLPClassifier(hidden_layer_sizes=(6, 4), activation='tanh', max_iter=500, random_state=0)).fit(X, y)
    save('mlp-classifier-tanh-binary', model, X, binary_candidates(X), predict_fn='predict_proba')
    X, y = diabetes()
    cand = diabetes_candidates(X)
    for name, model, target in [
        ('mlp-regressor-relu', MLPRegressor(hidden_layer_sizes=(10,), learning_rate_init=0.05, max_iter=500, random_state=0), y),
        ('mlp-regressor-tanh-2targets', MLPRegressor(hidden_layer_sizes=(5,), activation='tanh', learning_rate_init=0.05,
                                                     max_iter=500, random_state=0), np.c_[y / 100, np.log(y)]),
    ]:
        save(name, model.fit(X, target), X, cand)
    if GENERATION >= (1, 7):
        model = MLPRegressor(hidden_layer_sizes=(6,), loss='poisson', max_iter=500, random_state=0).fit(X, y / 50)
        save('mlp-regressor-poisson', model, X, cand)


def knn_refusals(model, columns):
    """The rows modelgate refuses for a fitted KNeighbors* model (see converters/neighbors.ts): distances
    that overflow, and where scikit-learn's choice among equidistant (or, for approximate brute-force
    euclidean distances, nearly equidistant) neighbours is not reproducible, ties whose candidates have
    different targets, and for distance weights rows (nearly) at a training row."""
    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    fit_X, k, y = est._fit_X, est.n_neighbors, est._y.reshape(len(est._fit_X), -1).astype(float)
    euclid = est.effective_metric_ == 'euclidean' or (est.effective_metric_ == 'minkowski' and est.effective_metric_params_.get('p') == 2)
    brute = est._fit_method == 'brute'
    noisy = brute and euclid
    unknown = brute and len(fit_X) > 256

    def reason(row):
        x = np.array([np.nan if v is None else v for v in row], dtype=float)
        if isinstance(model, Pipeline):
            x = model[:-1].transform(pd.DataFrame([x], columns=columns))[0]
        rd = np.zeros(len(fit_X))
        with np.errstate(over='ignore', invalid='ignore'):
            for j in range(fit_X.shape[1]):
                diff = x[j] - fit_X[:, j]
                rd = rd + (diff * diff if euclid else np.abs(diff))
        if not np.all(np.isfinite(rd)):
            return 'overflow'
        order = np.argsort(rd, kind='stable')
        kth = rd[order[k - 1]]
        if noisy or unknown:
            band = 1e-9 if noisy else 0.0
            lo, hi = kth - kth * band, kth + kth * band
            tied = (rd >= lo) & (rd <= hi)
            crowded = tied.sum() + (rd < lo).sum() > k
            if crowded and any(len(set(y[tied, c])) > 1 for c in range(y.shape[1])):
                return 'ambiguous tie'
        if noisy and est.weights == 'distance':
            near = order[:k]
            small = rd[near] <= 1e-8 * ((x * x).sum() + (fit_X[near] ** 2).sum(1))
            if np.any(small & ((rd[near] > 0) | (GENERATION < (1, 9)))):
                return 'near a training row'
        return None
    return reason


def knn_models():
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    X, y = iris()
    cand = iris_candidates(X)
    for name, model in [
        ('neighbors-knn-kdtree', KNeighborsClassifier()),
        ('neighbors-knn-balltree-manhattan-distance', KNeighborsClassifier(n_neighbors=7, algorithm='ball_tree', p=1, weights='distance')),
        ('neighbors-knn-brute', KNeighborsClassifier(n_neighbors=4, algorithm='brute')),
        ('neighbors-knn-brute-manhattan-distance', KNeighborsClassifier(n_neighbors=3, algorithm='brute', metric='manhattan', weights='distance')),
        ('neighbors-knn-single-leaf', KNeighborsClassifier(n_neighbors=6, leaf_size=200)),
    ]:
        model.fit(X, y)
        save(name, model, X, cand, predict_fn='predict_proba', unreproducible=knn_refusals(model, list(X.columns)))
    rng = np.random.default_rng(5)
    grid = pd.DataFrame(rng.integers(0, 5, (300, 3)).astype(float), columns=['a', 'b', 'c'])
    labels = pd.Series(rng.choice(['x', 'y', 'z'], 300), dtype=object)
    probes = pd.DataFrame(rng.integers(-1, 6, (150, 3)).astype(float), columns=['a', 'b', 'c'])
    continuous = pd.DataFrame(rng.uniform(-0.5, 4.5, (40, 3)).round(3), columns=['a', 'b', 'c'])
    cand = rows_of(continuous) + rows_of(probes) + mf.extremes([2.0, 2.0, 2.0], [0])
    for name, model in [
        ('neighbors-knn-grid-kdtree', KNeighborsClassifier(n_neighbors=6, leaf_size=8)),
        ('neighbors-knn-grid-balltree-distance', KNeighborsClassifier(n_neighbors=5, algorithm='ball_tree', leaf_size=10, weights='distance')),
        ('neighbors-knn-grid-brute-large', KNeighborsClassifier(n_neighbors=5, algorithm='brute', metric='manhattan')),
    ]:
        model.fit(grid, labels)
        save(name, model, grid, cand, predict_fn='predict_proba', unreproducible=knn_refusals(model, list(grid.columns)))
    X, y = diabetes(120)
    jitter = (X.sample(40, random_state=2) * 1.01).round(8)
    cand = rows_of(jitter) + diabetes_candidates(X)
    for name, model in [
        ('neighbors-knn-regressor-kdtree-distance', KNeighborsRegressor(weights='distance')),
        ('neighbors-knn-regressor-balltree', KNeighborsRegressor(n_neighbors=9, algorithm='ball_tree', leaf_size=10)),
        ('neighbors-knn-regressor-brute-distance', KNeighborsRegressor(n_neighbors=4, algorithm='brute', weights='distance')),
    ]:
        model.fit(X, y)
        save(name, model, X, cand, unreproducible=knn_refusals(model, list(X.columns)))


FAMILIES = {'linear-': linear_models, 'svm-': svm_models, 'nb-': nb_models, 'mlp-': mlp_models, 'neighbors-': knn_models}


if __name__ == '__main__':
    warnings.filterwarnings('ignore')
    wanted = sys.argv[1:]
    for prefix, make in FAMILIES.items():
        if make is not None and (not wanted or prefix in wanted):
            make()

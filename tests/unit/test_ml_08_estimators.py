"""scikit-learn's estimator checks on the from-scratch PCA of notebooks/ml/08_pca.py."""

from __future__ import annotations

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/08_pca.py")

ESTIMATORS = [
    ch.PCA(),
    ch.PCA(solver="eigh"),
    ch.PCA(n_components=1, whiten=True),
    ch.PCA(n_components=0.9, solver="eigh"),
]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)

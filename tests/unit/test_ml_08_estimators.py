"""scikit-learn's estimator checks on the from-scratch PCA of notebooks/ml/08_pca.py."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/ml/08_pca.py")

ESTIMATORS = [
    ch.PCA(),
    ch.PCA(solver="eigh"),
    ch.PCA(n_components=1, whiten=True),
    ch.PCA(n_components=0.9, solver="eigh"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(
    estimator: BaseEstimator, check: Callable[[BaseEstimator], None]
) -> None:
    check(estimator)

"""scikit-learn's estimator checks on the from-scratch ridge, lasso and elastic net of
notebooks/ml/07_l1_l2_regularization.py."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_regression
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/07_l1_l2_regularization.py")

ESTIMATORS = [
    ch.RidgeRegression(),
    ch.RidgeRegression(alpha=0.0, fit_intercept=False),
    ch.LassoRegression(),
    ch.ElasticNetRegression(),
    ch.ElasticNetRegression(l1_ratio=0.0, fit_intercept=False),
]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)


@pytest.mark.parametrize(
    ("ours", "reference", "atol"),
    [
        (ch.RidgeRegression(alpha=3.0), Ridge(alpha=3.0), 1e-10),
        (ch.LassoRegression(alpha=2.0, tol=1e-10), Lasso(alpha=2.0, tol=1e-10), 1e-6),
        (
            ch.ElasticNetRegression(alpha=2.0, l1_ratio=0.3, tol=1e-10),
            ElasticNet(alpha=2.0, l1_ratio=0.3, tol=1e-10),
            1e-6,
        ),
    ],
)
def test_matches_sklearn(ours: BaseEstimator, reference: BaseEstimator, atol: float) -> None:
    X, y = make_regression(n_samples=80, n_features=6, noise=5.0, bias=3.0, random_state=0)
    ours, reference = clone(ours).fit(X, y), clone(reference).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=atol, rtol=0)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=atol, rtol=0)


def test_soft_threshold_errata() -> None:
    np.testing.assert_array_equal(ch.soft_threshold(np.array([3.0, 0.5, -2.0]), 1.0), [2, 0, -1])
    np.testing.assert_allclose(ch.ridge_shrinkage(np.array([3.0, 0.5, -2.0]), 1.0), [1.5, 0.25, -1])

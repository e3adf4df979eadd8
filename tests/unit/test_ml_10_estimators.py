"""scikit-learn's estimator checks on GaussianNaiveBayes and LogisticRegression of
notebooks/ml/10_discriminative_vs_generative.py, and their agreement with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/10_discriminative_vs_generative.py")

ESTIMATORS = [
    ch.GaussianNaiveBayes(),
    ch.GaussianNaiveBayes(shared_variance=True),
    ch.GaussianNaiveBayes(var_smoothing=1e-3),
    ch.LogisticRegression(),
    ch.LogisticRegression(C=0.1, fit_intercept=False),
]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)


@pytest.mark.parametrize("priors", [None, np.array([0.2, 0.3, 0.5])])
def test_naive_bayes_matches_gaussian_nb(priors: np.ndarray | None) -> None:
    X, y = load_wine(return_X_y=True)
    ours = ch.GaussianNaiveBayes(priors=priors).fit(X, y)
    reference = GaussianNB(priors=priors).fit(X, y)
    for attribute in ("theta_", "var_", "class_prior_", "epsilon_"):
        np.testing.assert_allclose(
            getattr(ours, attribute), getattr(reference, attribute), atol=1e-12
        )
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-12)


def test_binary_logistic_regression_matches_newton_cholesky() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = ch.LogisticRegression(C=0.5, tol=1e-12).fit(X, y)
    reference = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-10)


def test_multinomial_logistic_regression_matches_lbfgs() -> None:
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = ch.LogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    reference = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-9)


def test_errata_posterior() -> None:
    w, b = ch.shared_covariance_logit(np.array([0.0]), np.array([2.0]), np.eye(1), 0.5)
    np.testing.assert_allclose([w[0], b], [2.0, -2.0], atol=1e-15)
    assert round(1 / (1 + np.exp(-(w[0] * 2.0 + b))), 4) == 0.8808


def test_sample_draws_from_the_requested_classes() -> None:
    X, y = load_wine(return_X_y=True)
    model = ch.GaussianNaiveBayes().fit(X, y)
    samples, labels = model.sample(y=np.array([2, 0, 2]), random_state=0)
    assert samples.shape == (3, X.shape[1])
    np.testing.assert_array_equal(labels, [2, 0, 2])
    with pytest.raises(ValueError, match="not in classes_"):
        model.sample(y=np.array([7]))

"""scikit-learn's estimator checks on the from-scratch transformer of
notebooks/ml/03_overfitting_underfitting.py, and tests of its cross-validation splits and
early-stopping rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/03_overfitting_underfitting.py")

ESTIMATORS = [ch.LegendreFeatures(), ch.LegendreFeatures(degree=1)]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)


@pytest.mark.parametrize("degree", [1, 2, 5, 9])
def test_legendre_pipeline_matches_polynomial_features(degree: int) -> None:
    rng = np.random.default_rng(degree)
    x = np.sort(rng.uniform(0, 1, 30))[:, None]
    y = np.sin(2 * np.pi * x[:, 0]) + 0.2 * rng.standard_normal(30)
    x_new = np.linspace(0, 1, 50)[:, None]
    ours = make_pipeline(ch.LegendreFeatures(degree), LinearRegression(tol=1e-12)).fit(x, y)
    reference = make_pipeline(PolynomialFeatures(degree), LinearRegression(tol=1e-12)).fit(x, y)
    np.testing.assert_allclose(ours.predict(x_new), reference.predict(x_new), atol=1e-7, rtol=0)


def test_legendre_features_of_several_columns() -> None:
    X = np.random.default_rng(0).uniform(0, 1, (7, 3))
    out = ch.LegendreFeatures(degree=4).fit_transform(X)
    assert out.shape == (7, 12)
    np.testing.assert_array_equal(out[:, 4:8], ch.legendre_design(X[:, 1], 4)[:, 1:])


def test_legendre_features_rejects_bad_degree() -> None:
    with pytest.raises(ValueError, match="degree"):
        ch.LegendreFeatures(degree=0).fit(np.zeros((3, 1)))


@pytest.mark.parametrize(("n_samples", "n_folds", "seed"), [(20, 5, 0), (23, 4, 7), (10, 10, 3)])
def test_kfold_splits_match_sklearn(n_samples: int, n_folds: int, seed: int) -> None:
    ours = ch.kfold_splits(n_samples, n_folds, seed)
    theirs = KFold(n_folds, shuffle=True, random_state=seed).split(np.zeros((n_samples, 1)))
    for (train, held_out), (sk_train, sk_held_out) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(train, sk_train)
        np.testing.assert_array_equal(held_out, sk_held_out)


@pytest.mark.parametrize("seed", range(20))
def test_patience_one_is_the_first_increase(seed: int) -> None:
    losses = np.random.default_rng(seed).uniform(0, 1, 30)
    stopper = ch.EarlyStopping(patience=1)
    for epoch, loss in enumerate(losses, start=1):
        if stopper.update(epoch, float(loss), np.array([float(epoch)])):
            break
    assert epoch == ch.first_increase_epoch(losses)
    assert stopper.best_epoch == epoch - 1 or epoch == len(losses)


def test_checkpoint_is_a_copy() -> None:
    stopper = ch.EarlyStopping(patience=2)
    weights = np.array([1.0, 2.0])
    stopper.update(1, 0.5, weights)
    weights += 10.0  # training goes on, in place
    stopper.update(2, 0.9, weights)
    np.testing.assert_array_equal(stopper.best_weights, [1.0, 2.0])

"""scikit-learn's estimator checks on the from-scratch bagging regressor of
notebooks/ml/06_bootstrap.py, and its agreement with sklearn.ensemble.BaggingRegressor."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import BaggingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/06_bootstrap.py")

ESTIMATORS = [
    ch.BaggedRegressor(),
    ch.BaggedRegressor(n_estimators=5, oob_score=True, random_state=0),
    ch.BaggedRegressor(estimator=LinearRegression(), n_estimators=3),
]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)


def test_same_draws_as_sklearn_give_the_same_predictions() -> None:
    """With one feature, trees have no ties between features, so the same bootstrap draws
    give the same trees whatever their random seeds."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(120, 1))
    y = np.sin(6 * X[:, 0]) + rng.normal(0, 0.3, size=120)
    reference = BaggingRegressor(
        DecisionTreeRegressor(), n_estimators=40, oob_score=True, random_state=0
    ).fit(X, y)
    ours = ch.BaggedRegressor(n_estimators=40, oob_score=True, random_state=1).fit(
        X, y, bootstrap_indices=np.stack(reference.estimators_samples_)
    )
    grid = np.linspace(0, 1, 200)[:, None]
    np.testing.assert_allclose(ours.predict(grid), reference.predict(grid), atol=1e-12, rtol=0)
    np.testing.assert_allclose(ours.oob_prediction_, reference.oob_prediction_, atol=1e-12, rtol=0)
    assert ours.oob_score_ == pytest.approx(reference.oob_score_, abs=1e-12)


def test_works_in_a_pipeline_and_cross_validation() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, size=90)
    model = make_pipeline(StandardScaler(), ch.BaggedRegressor(n_estimators=10, random_state=0))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_bootstrap_indices_are_validated() -> None:
    X, y = np.zeros((4, 1)), np.arange(4.0)
    with pytest.raises(ValueError, match="rows"):
        ch.BaggedRegressor(n_estimators=2).fit(X, y, bootstrap_indices=np.zeros((3, 4), int))
    with pytest.raises(ValueError, match="lie in"):
        ch.BaggedRegressor(n_estimators=1).fit(X, y, bootstrap_indices=np.full((1, 4), 4))
    with pytest.raises(ValueError, match="n_estimators"):
        ch.BaggedRegressor(n_estimators=0).fit(X, y)


def test_closed_forms() -> None:
    """The 63.2 % rule and the errata's numbers."""
    assert ch.expected_unique_fraction(1000) == pytest.approx(0.6323, abs=5e-5)
    assert ch.variance_of_average(0.3, 1.0, 10) == pytest.approx(0.37, abs=1e-12)
    support, probabilities = ch.exact_bootstrap_median_distribution(np.array([3.0, 1.0, 2.0]))
    np.testing.assert_array_equal(support, [1.0, 2.0, 3.0])
    # n = 3, r = 2: P(m* <= x_(j)) = P(Bin(3, j/3) >= 2) = 7/27, 20/27, 1
    np.testing.assert_allclose(probabilities, [7 / 27, 13 / 27, 7 / 27], atol=1e-12)

"""scikit-learn's estimator checks on the from-scratch classifiers of
notebooks/ml/11_imbalanced_data.py, and tests of its samplers.

The samplers (RandomOverSampler, RandomUnderSampler, SMOTE) have only ``fit_resample``, the
imbalanced-learn interface: they are neither classifiers nor transformers, so scikit-learn's
checks (which call ``fit``/``predict``/``transform``) do not apply to them directly. They are
run through the checks inside ``ResampledClassifier``, one instance per sampler, and tested
on their own below.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/11_imbalanced_data.py")

# Samplers and inner estimators get a fixed random_state: scikit-learn's set_random_state
# only sets a top-level `random_state`, and check_fit_idempotent needs repeatable fits.
ESTIMATORS = [
    ch.WeightedLogisticRegression(),
    ch.WeightedLogisticRegression(C=0.5, class_weight="balanced"),
    ch.WeightedLogisticRegression(class_weight={0: 1.0, 1: 3.0}),
    ch.ResampledClassifier(LogisticRegression(), ch.RandomOverSampler(random_state=0)),
    ch.ResampledClassifier(LogisticRegression(), ch.RandomUnderSampler(random_state=0)),
    ch.ResampledClassifier(LogisticRegression(), ch.SMOTE(random_state=0)),
    ch.ResampledClassifier(DecisionTreeClassifier(random_state=0), None),
    ch.ResampledClassifier(ch.WeightedLogisticRegression(), ch.SMOTE(random_state=0)),
]

test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)


def _imbalanced_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=600, n_features=5, n_informative=3, weights=[0.9], random_state=0
    )


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 1.0, 1: 5.0}])
def test_weighted_logistic_regression_matches_sklearn(class_weight: object) -> None:
    X, y = _imbalanced_data()
    ours = ch.WeightedLogisticRegression(C=0.3, class_weight=class_weight).fit(X, y)
    reference = LogisticRegression(C=0.3, class_weight=class_weight, tol=1e-12, max_iter=10_000)
    reference.fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-6, rtol=0)


def test_balanced_class_weights_errata() -> None:
    y = np.r_[np.zeros(950, dtype=int), np.ones(50, dtype=int)]
    np.testing.assert_allclose(ch.balanced_class_weights(y, 2), [0.5263157894736842, 10.0])


@pytest.mark.parametrize(
    ("sampler", "target"),
    [
        (ch.RandomOverSampler(random_state=1), "max"),
        (ch.RandomUnderSampler(random_state=1), "min"),
        (ch.SMOTE(random_state=1), "max"),
    ],
)
def test_sampler_balances_every_class(sampler: object, target: str) -> None:
    X, y = make_classification(
        n_samples=300, n_classes=3, n_informative=4, weights=[0.7, 0.2], random_state=1
    )
    counts = np.bincount(y)
    X_res, y_res = clone(sampler).fit_resample(X, y)
    expected = counts.max() if target == "max" else counts.min()
    np.testing.assert_array_equal(np.bincount(y_res), [expected] * 3)
    assert X_res.shape == (3 * expected, X.shape[1])


def test_random_oversampler_keeps_rows_and_adds_copies() -> None:
    X, y = _imbalanced_data()
    X_res, _ = ch.RandomOverSampler(random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X_res[: len(X)], X)
    originals = {row.tobytes() for row in X}
    assert all(row.tobytes() in originals for row in X_res)


def test_smote_points_lie_in_the_minority_bounding_box_and_are_new() -> None:
    X, y = _imbalanced_data()
    X_res, y_res = ch.SMOTE(random_state=0).fit_resample(X, y)
    minority, synthetic = X[y == 1], X_res[len(X) :]
    assert np.all(y_res[len(X) :] == 1)
    assert np.all(synthetic >= minority.min(axis=0) - 1e-12)
    assert np.all(synthetic <= minority.max(axis=0) + 1e-12)


def test_smote_handles_a_single_minority_point() -> None:
    X = np.r_[np.zeros((5, 2)), np.ones((1, 2))]
    y = np.r_[np.zeros(5, dtype=int), 1]
    X_res, y_res = ch.SMOTE(random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(np.bincount(y_res), [5, 5])
    np.testing.assert_array_equal(X_res[y_res == 1], np.ones((5, 2)))


def test_resampling_inside_cross_validation_does_not_leak() -> None:
    """Oversampling before CV gives a memorising tree near-perfect recall; inside the folds
    it does not."""
    X, y = make_classification(
        n_samples=800, n_features=8, n_informative=4, weights=[0.93], flip_y=0.02, random_state=0
    )
    tree = DecisionTreeClassifier(random_state=0)
    sampler = ch.RandomOverSampler(random_state=0)
    leaky = cross_val_score(tree, *sampler.fit_resample(X, y), scoring="recall").mean()
    honest = cross_val_score(ch.ResampledClassifier(tree, sampler), X, y, scoring="recall").mean()
    assert leaky > 0.95
    assert honest < leaky - 0.2

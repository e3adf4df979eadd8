"""Unit tests of notebook_utils.trees: impurities, the split search, the estimators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.tree
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from notebook_utils.trees import (
    LEAF,
    UNDEFINED,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    best_split,
    entropy,
    gini,
    squared_error,
)

# --- impurities against hand-computed values -------------------------------------------------


def test_gini_hand_values() -> None:
    assert gini(np.array([5.0, 5.0])) == pytest.approx(0.5, abs=1e-15)
    assert gini(np.array([4.0, 1.0])) == pytest.approx(1 - 0.8**2 - 0.2**2, abs=1e-15)
    assert gini(np.array([7.0, 0.0, 0.0])) == 0.0
    assert gini(np.ones(4)) == pytest.approx(1 - 1 / 4, abs=1e-15)


def test_entropy_hand_values_in_bits() -> None:
    assert entropy(np.array([5.0, 5.0])) == pytest.approx(1.0, abs=1e-15)
    expected = -(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2))
    assert entropy(np.array([4.0, 1.0])) == pytest.approx(expected, abs=1e-15)
    assert expected == pytest.approx(0.7219, abs=1e-4)
    assert entropy(np.array([0.0, 3.0])) == 0.0  # 0 log 0 = 0, no NaN
    assert entropy(np.ones(8)) == pytest.approx(3.0, abs=1e-14)


def test_errata_information_gain_and_gini_decrease() -> None:
    children = np.array([[4.0, 1.0], [1.0, 4.0]])
    gain = entropy(np.array([5.0, 5.0])) - 0.5 * entropy(children).sum()
    gini_decrease = gini(np.array([5.0, 5.0])) - 0.5 * gini(children).sum()
    assert gain == pytest.approx(0.2781, abs=1e-4)
    assert gini_decrease == pytest.approx(0.18, abs=1e-15)


def test_impurities_are_row_wise() -> None:
    counts = np.array([[5.0, 5.0], [10.0, 0.0], [1.0, 3.0]])
    assert gini(counts).shape == (3,)
    np.testing.assert_allclose(gini(counts), [0.5, 0.0, 0.375], atol=1e-15)


def test_squared_error_is_the_variance() -> None:
    y = np.array([1.0, 2.0, 4.0, 7.0])
    sums = np.array([len(y), y.sum(), (y**2).sum()])
    assert squared_error(sums) == pytest.approx(np.var(y), abs=1e-12)


# --- the split search ------------------------------------------------------------------------


def test_best_split_finds_the_midpoint_of_a_separable_feature() -> None:
    x = np.array([[0.0, 3.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.0]])  # feature 0 separates
    one_hot = np.eye(2)[[0, 0, 1, 1]]
    split = best_split(x, one_hot, gini, min_samples_leaf=1, features=np.arange(2))
    assert split is not None
    assert (split.feature, split.threshold, split.children_impurity) == (0, 1.5, 0.0)


def test_best_split_never_cuts_between_equal_values() -> None:
    x = np.array([[1.0], [2.0], [2.0], [5.0], [9.0]])
    one_hot = np.eye(2)[[0, 0, 1, 1, 1]]  # a cut between the two 2s would be perfect
    split = best_split(x, one_hot, gini, min_samples_leaf=1, features=np.arange(1))
    assert split is not None and split.threshold in (1.5, 3.5, 7.0)


def test_best_split_respects_min_samples_leaf_and_constant_features() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    one_hot = np.eye(2)[[0, 1, 1, 1]]
    split = best_split(x, one_hot, gini, min_samples_leaf=2, features=np.arange(1))
    assert split is not None and split.threshold == 1.5  # the pure cut at 0.5 is too small
    constant = np.zeros((4, 1))
    assert best_split(constant, one_hot, gini, min_samples_leaf=1, features=np.arange(1)) is None


# --- the estimators --------------------------------------------------------------------------


def test_classifier_basic_api_and_layout() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 3))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    tree = DecisionTreeClassifier(max_depth=3).fit(x, y)
    assert list(tree.classes_) == ["no", "yes"]
    assert tree.n_features_in_ == 3
    assert tree.get_depth() <= 3
    proba = tree.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(tree.predict(x)) <= {"no", "yes"}
    leaves = tree.tree_.children_left == LEAF
    assert np.all(tree.tree_.feature[leaves] == UNDEFINED)
    assert tree.feature_importances_.sum() == pytest.approx(1.0)


def test_classifier_matches_sklearn_on_an_untied_problem() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 4)).astype(np.float32).astype(np.float64)
    y = (x[:, 0] > 0.3).astype(int) + (x[:, 1] > -0.2).astype(int)
    for criterion in ("gini", "entropy"):
        ours = DecisionTreeClassifier(criterion=criterion, max_depth=2).fit(x, y)
        ref = sklearn.tree.DecisionTreeClassifier(criterion=criterion, max_depth=2).fit(x, y)
        np.testing.assert_array_equal(ours.tree_.feature, ref.tree_.feature)
        np.testing.assert_array_equal(ours.tree_.threshold, ref.tree_.threshold)
        np.testing.assert_allclose(ours.tree_.impurity, ref.tree_.impurity, atol=1e-12)
        np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, atol=1e-12)


def test_regressor_fits_a_step_and_predicts_means() -> None:
    x = np.arange(10.0)[:, None]
    y = np.where(x[:, 0] < 4, 1.0, 3.0) + np.linspace(0, 0.1, 10)
    tree = DecisionTreeRegressor(max_depth=1).fit(x, y)
    assert tree.tree_.threshold[0] == 3.5
    np.testing.assert_allclose(tree.predict([[0.0], [9.0]]), [y[:4].mean(), y[4:].mean()])


def test_max_features_draws_a_subset_reproducibly() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((80, 6)), rng.integers(0, 2, 80)
    a = DecisionTreeClassifier(max_features="sqrt", random_state=3).fit(x, y)
    b = DecisionTreeClassifier(max_features="sqrt", random_state=3).fit(x, y)
    np.testing.assert_array_equal(a.tree_.feature, b.tree_.feature)


def test_works_in_cross_val_score_and_pipeline() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 2))
    y = (x[:, 0] > 0).astype(int)
    scores = cross_val_score(make_pipeline(StandardScaler(), DecisionTreeClassifier()), x, y, cv=3)
    assert scores.min() > 0.8


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"criterion": "log_loss"}, "criterion"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": 2.5}, "max_depth"),
        ({"min_samples_split": 1}, "min_samples_split"),
        ({"min_samples_leaf": 0}, "min_samples_leaf"),
        ({"max_features": 0}, "max_features"),
        ({"max_features": 1.5}, "max_features"),
        ({"max_features": "all"}, "max_features"),
    ],
)
def test_classifier_rejects_bad_hyperparameters(params: dict[str, object], message: str) -> None:
    x, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=message):
        DecisionTreeClassifier(**params).fit(x, y)  # type: ignore[arg-type]


def test_regressor_rejects_bad_criterion_and_classifier_a_continuous_target() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="criterion"):
        DecisionTreeRegressor(criterion="gini").fit(x, [0.0, 1.0, 2.0, 3.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown label type"):
        DecisionTreeClassifier().fit(x, [0.1, 1.2, 2.3, 3.4])


def test_bad_input_is_rejected() -> None:
    tree = DecisionTreeClassifier()
    with pytest.raises(ValueError):
        tree.fit(np.array([[np.nan, 1.0], [0.0, 1.0]]), [0, 1])
    with pytest.raises(ValueError):
        tree.fit(np.zeros((3, 2)), [0, 1])  # inconsistent lengths
    tree.fit(np.zeros((3, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="features"):
        tree.predict(np.zeros((2, 3)))

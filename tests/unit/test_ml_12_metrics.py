"""Property tests of the from-scratch metrics of notebooks/ml/12_classification_metrics.py.

Every metric must equal scikit-learn's on random labels with random scores and with heavily
tied scores (few distinct values), which is where hand-written versions usually go wrong.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/ml/12_classification_metrics.py")


@st.composite
def labels_and_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels with both classes present, and scores with few (tied) or many values."""
    n = draw(st.integers(min_value=2, max_value=60))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    i_positive = draw(st.integers(0, n - 1))
    labels[i_positive] = 1
    labels[(i_positive + draw(st.integers(1, n - 1))) % n] = 0
    n_values = draw(st.sampled_from([1, 2, 3, 5, 1000]))  # 1000: (almost) no ties
    values = draw(st.lists(st.integers(0, n_values - 1), min_size=n, max_size=n))
    return labels, np.array(values, dtype=float) / n_values


@settings(max_examples=200, deadline=None)
@given(labels_and_scores())
def test_roc_curve_matches_sklearn(case: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = case
    ours = ch.roc_curve(y, s)
    reference = skm.roc_curve(y, s, drop_intermediate=False)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(labels_and_scores())
def test_auc_three_ways_match_sklearn(case: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = case
    reference = skm.roc_auc_score(y, s)
    for method in (ch.roc_auc_trapezoid, ch.roc_auc_rank, ch.roc_auc_pairs):
        assert abs(method(y, s) - reference) <= 1e-12, method.__name__


@settings(max_examples=200, deadline=None)
@given(labels_and_scores())
def test_pr_curve_and_ap_match_sklearn(case: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = case
    for a, b in zip(ch.precision_recall_curve(y, s), skm.precision_recall_curve(y, s), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
    assert abs(ch.average_precision(y, s) - skm.average_precision_score(y, s)) <= 1e-12


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=40),
    st.sampled_from([0.5, 1.0, 2.0]),
    st.sampled_from([0.0, 1.0]),
)
def test_precision_recall_fbeta_match_sklearn(
    pairs: list[tuple[int, int]], beta: float, zero_division: float
) -> None:
    y_true, y_pred = (np.array(column) for column in zip(*pairs, strict=True))
    tp, fp, fn, _ = ch.confusion_counts(y_true, y_pred)
    ours = ch.precision_recall_fbeta(tp, fp, fn, beta=beta, zero_division=zero_division)
    reference = (
        skm.precision_score(y_true, y_pred, zero_division=zero_division),
        skm.recall_score(y_true, y_pred, zero_division=zero_division),
        skm.fbeta_score(y_true, y_pred, beta=beta, zero_division=zero_division),
    )
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60),
    st.sampled_from(["micro", "macro"]),
)
def test_multiclass_f1_matches_sklearn(pairs: list[tuple[int, int]], average: str) -> None:
    y_true, y_pred = (np.array(column) for column in zip(*pairs, strict=True))
    reference = skm.f1_score(y_true, y_pred, average=average, zero_division=0.0)
    assert abs(ch.f1_multiclass(y_true, y_pred, average) - reference) <= 1e-12


def test_naive_auc_is_wrong_on_ties() -> None:
    y, s = np.array([1, 0]), np.array([0.5, 0.5])
    assert ch.roc_auc_rank(y, s) == 0.5
    assert ch.roc_auc_naive(y, s) == 1.0  # the positive row comes first, so it "wins"

"""Exact tests of the importance-sampling estimators of
notebooks/training/09_online_vs_offline_rl.py.

Every claim is checked by enumerating all possible logged datasets or episodes with their
probabilities, so nothing here is statistical.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/09_online_vs_offline_rl.py")

probability = st.floats(min_value=0.05, max_value=0.95)


def _two_arm(p: float) -> np.ndarray:
    return np.array([p, 1.0 - p])


def _outcomes(behaviour: np.ndarray, success: np.ndarray) -> list[tuple[float, int, float]]:
    """Every (probability, action, reward) of one logged sample of a two-armed Bernoulli bandit."""
    return [
        (behaviour[a] * (success[a] if r else 1 - success[a]), a, float(r))
        for a in (0, 1)
        for r in (0, 1)
    ]


def test_errata_bandit_constants() -> None:
    behaviour, target, success = np.array([0.75, 0.25]), np.array([0.5, 0.5]), np.array([0.2, 0.8])
    assert ch.importance_weights(np.array([0.5]), np.array([0.25]))[0] == 2.0
    assert ch.policy_value(target, success) == pytest.approx(0.5, abs=1e-15)
    assert ch.policy_value(behaviour, success) == pytest.approx(0.35, abs=1e-15)
    assert ch.weight_second_moment(target, behaviour) == pytest.approx(4 / 3, abs=1e-15)
    assert ch.is_term_variance(target, behaviour, success, success) == pytest.approx(37 / 60)
    bias, variance = ch.snis_bias_and_variance_terms(target, behaviour, success, success)
    assert bias == pytest.approx(-0.2, abs=1e-15)
    assert variance == pytest.approx(1 / 3, abs=1e-15)


def test_zero_propensity_is_refused() -> None:
    with pytest.raises(ValueError):
        ch.importance_weights(np.array([0.5]), np.array([0.0]))


@settings(max_examples=40, deadline=None)
@given(probability, probability, probability, probability)
def test_is_unbiased_and_variance_formula_exact(
    mu0: float, pi0: float, p0: float, p1: float
) -> None:
    behaviour, target, success = _two_arm(mu0), _two_arm(pi0), np.array([p0, p1])
    outcomes = _outcomes(behaviour, success)
    terms = np.array([target[a] / behaviour[a] * r for _, a, r in outcomes])  # w r per outcome
    probs = np.array([p for p, _, _ in outcomes])
    mean = probs @ terms
    assert mean == pytest.approx(ch.policy_value(target, success), abs=1e-12)  # eq. (off-is)
    variance = probs @ (terms - mean) ** 2
    expected = ch.is_term_variance(target, behaviour, success, success)  # eq. (off-is-var)
    assert variance == pytest.approx(expected, abs=1e-12)
    weights = np.array([target[a] / behaviour[a] for _, a, _ in outcomes])
    assert probs @ weights == pytest.approx(1.0, abs=1e-12)
    assert probs @ weights**2 == pytest.approx(ch.weight_second_moment(target, behaviour))


@settings(max_examples=25, deadline=None)
@given(probability, probability, probability, probability, st.integers(1, 4))
def test_snis_exact_mean_matches_brute_force(
    mu0: float, pi0: float, p0: float, p1: float, n: int
) -> None:
    behaviour, target, success = _two_arm(mu0), _two_arm(pi0), np.array([p0, p1])
    expectation = 0.0
    for dataset in itertools.product(_outcomes(behaviour, success), repeat=n):
        prob = float(np.prod([p for p, _, _ in dataset]))
        weights = np.array([target[a] / behaviour[a] for _, a, _ in dataset])
        rewards = np.array([r for _, _, r in dataset])
        expectation += prob * ch.snis_estimate(weights, rewards)
    exact = ch.snis_exact_mean(n, target, behaviour, success)
    assert exact == pytest.approx(expectation, abs=1e-12)
    if n == 1:  # one sample: SNIS returns r_1, whose mean is V(μ)
        assert exact == pytest.approx(ch.policy_value(behaviour, success), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(probability, probability, probability, probability, st.integers(1, 4))
def test_trajectory_and_per_decision_is_exact(
    mu0: float, pi0: float, p0: float, p1: float, horizon: int
) -> None:
    behaviour, target, success = _two_arm(mu0), _two_arm(pi0), np.array([p0, p1])
    probs, traj, per_decision = [], [], []
    for episode in itertools.product(_outcomes(behaviour, success), repeat=horizon):
        probs.append(float(np.prod([p for p, _, _ in episode])))
        ratios = np.array([[target[a] / behaviour[a] for _, a, _ in episode]])  # (1, T)
        rewards = np.array([[r for _, _, r in episode]])  # (1, T)
        traj.append(ch.trajectory_is(ratios, rewards)[0])
        per_decision.append(ch.per_decision_is(ratios, rewards)[0])
    probs_arr = np.array(probs)
    value = horizon * ch.policy_value(target, success)
    c = ch.weight_second_moment(target, behaviour)
    m = float(np.sum(target**2 / behaviour * success))
    v = ch.policy_value(target, success)
    for estimates, formula in [
        (np.array(traj), ch.trajectory_is_variance),
        (np.array(per_decision), ch.per_decision_is_variance),
    ]:
        mean = probs_arr @ estimates
        assert mean == pytest.approx(value, abs=1e-10)  # both unbiased
        variance = probs_arr @ (estimates - mean) ** 2
        assert variance == pytest.approx(formula(c, m, v, horizon), rel=1e-9, abs=1e-10)
    if horizon == 1:
        np.testing.assert_allclose(traj, per_decision, atol=1e-12)


@given(st.lists(st.floats(min_value=0.01, max_value=100.0), min_size=1, max_size=50))
def test_effective_sample_size_bounds(weights: list[float]) -> None:
    w = np.array(weights)
    ess = ch.effective_sample_size(w)
    assert 1.0 - 1e-9 <= ess <= len(w) + 1e-9
    assert ch.effective_sample_size(np.full(len(w), 3.0)) == pytest.approx(len(w))
    assert ch.snis_estimate(7 * w, np.ones(len(w))) == pytest.approx(1.0)

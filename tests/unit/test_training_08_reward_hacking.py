"""Property tests of the from-scratch pieces of notebooks/training/08_reward_hacking.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_utils.rl import SortTask
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/08_reward_hacking.py")
TASK = SortTask(length=4)
CHECKS = [
    ch.is_non_decreasing,
    ch.uses_prompt_digits,
    ch.digit_sum_matches,
    ch.flawed_verifier,
    ch.min_ensemble,
]


@pytest.mark.parametrize("n", [1, 2, 5, 16, 100])
def test_best_of_n_kl_closed_form_equals_its_integral(n: int) -> None:
    assert ch.best_of_n_kl_by_integration(n) == pytest.approx(ch.best_of_n_kl(n), abs=1e-8)


def test_best_of_n_kl_values() -> None:
    assert ch.best_of_n_kl(1) == 0.0
    assert ch.best_of_n_kl(16) == pytest.approx(1.8351, abs=5e-5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=64),
)
def test_discrete_best_of_n_kl_is_below_the_formula(weights: list[float], n: int) -> None:
    p = np.array(weights) / np.sum(weights)
    kl = ch.best_of_n_kl_discrete(p, n)
    assert -1e-12 <= kl <= ch.best_of_n_kl(n) + 1e-12
    if n == 1:
        assert kl == pytest.approx(0.0, abs=1e-12)


def test_max_normal_moments_closed_forms() -> None:
    assert ch.max_normal_moments(1) == pytest.approx((0.0, 1.0), abs=1e-9)
    assert ch.max_normal_moments(2) == pytest.approx((1 / math.sqrt(math.pi), 1.0), abs=1e-9)
    m1, m2 = ch.max_normal_moments(3)
    assert m1 == pytest.approx(3 / (2 * math.sqrt(math.pi)), abs=1e-9)
    assert m2 == pytest.approx(1 + math.sqrt(3) / (2 * math.pi), abs=1e-9)


def test_toy_gold_peaks_between_the_errata_values() -> None:
    gold = [ch.toy_best_of_n_exact(n)[1] for n in (4, 10, 16, 64)]
    assert gold[1] > gold[0] and gold[1] > gold[2] > gold[3]


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_every_check_upper_bounds_the_true_reward(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    prompts, answers = TASK.batch(64, generator)
    noise = torch.randint(0, 3, answers.shape, generator=generator) - 1  # small corruptions
    corrupted = (answers + noise).clamp(0, TASK.vocab_size - 1)
    for responses in (answers, corrupted):
        truth = TASK.reward(prompts, responses)
        for check in CHECKS:
            assert (check(prompts, responses) >= truth).all(), check.__name__
        flawed = ch.flawed_verifier(prompts, responses)
        assert (ch.min_ensemble(prompts, responses) <= flawed).all()


def test_kl_optimum_of_indicator_limits() -> None:
    p_s, p_c = np.array([0.5, 0.8]), np.array([0.2, 0.6])
    proxy, true, kl = ch.kl_optimum_of_indicator(p_s, p_c, beta=1e3)  # β → ∞: the reference
    assert (proxy, true, kl) == pytest.approx((p_s.mean(), p_c.mean(), 0.0), abs=1e-3)
    proxy, true, kl = ch.kl_optimum_of_indicator(p_s, p_c, beta=0.01)  # β → 0: π_ref given S
    assert proxy == pytest.approx(1.0, abs=1e-9)
    assert true == pytest.approx(np.mean(p_c / p_s), abs=1e-9)
    assert kl == pytest.approx(np.mean(-np.log(p_s)), abs=1e-9)


def test_policy_gradient_loss_gradient_is_the_centred_reward() -> None:
    seq_logp = torch.tensor([-1.0, -2.0, -0.5, -3.0], requires_grad=True)
    rewards = torch.tensor([1.0, 0.0, 2.0, 2.0])  # two groups of two
    ch.policy_gradient_loss(seq_logp, rewards, group_size=2).backward()
    expected = -torch.tensor([0.5, -0.5, 0.0, 0.0]) / 4  # -(r - group mean) / B
    assert seq_logp.grad is not None
    assert torch.allclose(seq_logp.grad, expected)

"""The noise models of notebooks/training/10_sft_vs_rl_data.py: the SFT mixture and its greedy
decoding, the noisy Bradley–Terry optimum, and the pairwise (Borda) advantages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from notebook_utils.rl import SortTask, group_advantages
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/10_sft_vs_rl_data.py")


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.2, 0.4, 0.49])
def test_noisy_bt_optimum_keeps_sign_and_compresses(eps: float) -> None:
    delta = torch.linspace(-8, 8, 33, dtype=torch.float64)
    optimum = ch.noisy_bt_optimum(delta, eps)
    assert torch.equal(torch.sign(optimum), torch.sign(delta))
    assert bool((optimum.abs() <= delta.abs() + 1e-12).all())
    assert bool((torch.diff(optimum) > 0).all())  # the ranking is kept
    if eps > 0:
        bound = math.log((1 - eps) / eps)
        assert bool((optimum.abs() < bound).all())


@pytest.mark.parametrize("eps", [0.1, 0.3, 0.7])
def test_noisy_bt_optimum_is_a_stationary_point(eps: float) -> None:
    delta = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    margin = ch.noisy_bt_optimum(delta, eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(ch.noisy_bt_loss(margin, delta, eps).sum(), margin)
    assert torch.allclose(grad, torch.zeros_like(grad), atol=1e-12)


def test_flip_rate_from_agreement_round_trip() -> None:
    for agreement in (0.55, 0.726, 0.9, 1.0):
        eps = ch.flip_rate_from_agreement(agreement)
        assert 0 <= eps <= 0.5
        assert math.isclose((1 - eps) ** 2 + eps**2, agreement, abs_tol=1e-12)


@pytest.mark.parametrize("group_size", [2, 3, 4, 7])
def test_borda_equals_scaled_dr_grpo_advantages(group_size: int) -> None:
    g = torch.Generator().manual_seed(group_size)
    rewards = (torch.rand(50, group_size, generator=g) < 0.5).float()
    labels = ch.pairwise_labels(rewards, torch.zeros(50), g)
    expected = group_size / (group_size - 1) * group_advantages(rewards, std="none")
    assert torch.allclose(ch.borda_advantages(labels, group_size), expected, atol=1e-6)


def test_pairwise_labels_flip_all_or_none() -> None:
    g = torch.Generator().manual_seed(0)
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    clean = ch.pairwise_labels(rewards, torch.zeros(2), g)
    flipped = ch.pairwise_labels(rewards, torch.ones(2), g)
    assert clean.shape == (2, math.comb(4, 2))
    assert torch.equal(flipped, -clean)
    assert torch.equal(clean[1], torch.zeros(6))  # ties stay ties


def test_concentrated_flips_hit_a_fraction_of_prompts() -> None:
    task = SortTask(length=4)
    prompts = task.prompts(20_000, torch.Generator().manual_seed(1))
    rate = ch.concentrated_flips(0.3, task.n_digits)(prompts)
    assert set(rate.unique().tolist()) <= {0.0, 1.0}
    assert abs(rate.mean().item() - 0.3) < 0.02


def test_noisy_demonstrations_extremes() -> None:
    task = SortTask(length=5)
    g = torch.Generator().manual_seed(2)
    prompts, responses = ch.noisy_demonstrations(task, 0.0, "random")(64, g)
    assert torch.equal(responses, task.solve(prompts))
    prompts, responses = ch.noisy_demonstrations(task, 1.0, "systematic")(64, g)
    assert torch.equal(responses, task.solve(prompts).flip(1))
    with pytest.raises(ValueError):
        ch.noisy_demonstrations(task, 0.1, "other")


@pytest.mark.parametrize("rate", [0.2, 0.45, 0.55, 0.8])
def test_greedy_decoding_of_the_sft_mixture(rate: float) -> None:
    responses = ch.all_responses(4, 3)  # (64, 3)
    correct, descending = np.array([0, 1, 3]), np.array([3, 1, 0])
    random_noise = ch.sft_mixture(responses, correct, None, rate)
    assert math.isclose(random_noise.sum(), 1.0, abs_tol=1e-12)
    decoded = ch.greedy_decode_distribution(responses, random_noise, 4)
    assert np.array_equal(decoded, correct)  # eq. (data-sft-threshold): p* = 1
    systematic = ch.sft_mixture(responses, correct, descending, rate)
    decoded = ch.greedy_decode_distribution(responses, systematic, 4)
    assert np.array_equal(decoded, correct if rate < 0.5 else descending)

"""Property tests of the DPO pieces of notebooks/training/02_dpo.py."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_utils.gpt import GPT
from notebook_utils.rl import SortTask
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/02_dpo.py")

finite = st.floats(min_value=-200.0, max_value=0.0, allow_nan=False)
betas = st.floats(min_value=1e-3, max_value=10.0, allow_nan=False)


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


@given(finite, finite, finite, finite, betas)
def test_loss_is_softplus_of_minus_margin(
    chosen: float, rejected: float, ref_chosen: float, ref_rejected: float, beta: float
) -> None:
    loss, margin = ch.dpo_loss(_t(chosen), _t(rejected), _t(ref_chosen), _t(ref_rejected), beta)
    expected_margin = beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
    assert margin.item() == pytest.approx(expected_margin, rel=1e-9, abs=1e-9)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(F.softplus(-margin).item(), rel=1e-9, abs=1e-12)
    # swapping chosen and rejected flips the margin: loss(m) - loss(-m) = -m
    swapped, _ = ch.dpo_loss(_t(rejected), _t(chosen), _t(ref_rejected), _t(ref_chosen), beta)
    assert (loss - swapped).item() == pytest.approx(-margin.item(), rel=1e-9, abs=1e-9)


@given(finite, finite, betas)
def test_log_two_at_the_reference(chosen: float, rejected: float, beta: float) -> None:
    loss, margin = ch.dpo_loss(_t(chosen), _t(rejected), _t(chosen), _t(rejected), beta)
    assert margin.item() == 0.0
    assert loss.item() == pytest.approx(math.log(2), abs=1e-15)
    assert ch.notes_expression(_t(chosen), _t(rejected), _t(chosen), _t(rejected)).item() == 0.0


@settings(max_examples=30)
@given(betas, st.integers(min_value=1, max_value=16))
def test_initial_gradient_is_half_beta_over_batch(beta: float, n: int) -> None:
    logp = torch.full((n,), -3.0, dtype=torch.float64, requires_grad=True)
    rejected = torch.full((n,), -4.0, dtype=torch.float64, requires_grad=True)
    loss, _ = ch.dpo_loss(logp, rejected, logp.detach(), rejected.detach(), beta)
    d_chosen, d_rejected = torch.autograd.grad(loss, [logp, rejected])
    assert (d_chosen + beta / (2 * n)).abs().max().item() < 1e-15
    assert (d_rejected - beta / (2 * n)).abs().max().item() < 1e-15


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=2, max_value=8), betas, st.integers(min_value=0, max_value=10**6))
def test_optimal_policy_maximises_the_objective(k: int, beta: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    ref /= ref.sum()
    rewards = torch.randn(k, generator=g, dtype=torch.float64)
    best = ch.optimal_policy(ref, rewards, beta)
    assert best.sum().item() == pytest.approx(1.0, abs=1e-12)
    value = ch.kl_regularised_objective(best, ref, rewards, beta)
    log_z = torch.logsumexp(ref.log() + rewards / beta, dim=-1)
    assert value.item() == pytest.approx(beta * log_z.item(), rel=1e-9, abs=1e-9)
    others = torch.distributions.Dirichlet(torch.ones(k, dtype=torch.float64)).sample((50,))
    assert (ch.kl_regularised_objective(others, ref, rewards, beta) <= value + 1e-12).all()


def test_population_dpo_loss_is_minimal_at_the_optimum() -> None:
    g = torch.Generator().manual_seed(0)
    ref = torch.softmax(torch.randn(5, generator=g, dtype=torch.float64), -1)
    rewards = torch.randn(5, generator=g, dtype=torch.float64)
    beta = 0.3
    optimum_logits = (ref.log() + rewards / beta).requires_grad_(True)
    loss = ch.population_dpo_loss(optimum_logits, ref, rewards, beta)
    (gradient,) = torch.autograd.grad(loss, optimum_logits)
    assert gradient.abs().max().item() < 1e-12
    for _ in range(20):
        nudged = optimum_logits.detach() + 0.1 * torch.randn(5, generator=g, dtype=torch.float64)
        assert ch.population_dpo_loss(nudged, ref, rewards, beta) > loss


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=2, max_value=8), st.integers(min_value=0, max_value=10**6))
def test_corruptions_are_always_wrong(length: int, seed: int) -> None:
    task = SortTask(length=length, n_digits=3)
    g = torch.Generator().manual_seed(seed)
    prompts, correct = task.batch(64, g)
    rejected = ch.corrupt_sorted(correct, g, task.n_digits)
    assert rejected.shape == correct.shape
    assert ((rejected >= 0) & (rejected < task.n_digits)).all()
    assert (task.reward(prompts, rejected) == 0).all()
    assert ((rejected != correct).sum(1) <= 2).all()  # a swap or a single changed digit


def test_closed_form_gradient_matches_autograd() -> None:
    task = SortTask(length=2, n_digits=3)
    torch.manual_seed(0)
    reference = GPT(task.model_config(n_layer=1, d_model=8, n_head=2)).double()
    policy = copy.deepcopy(reference)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.2 * torch.randn_like(p))
    g = torch.Generator().manual_seed(1)
    prompts, correct = task.batch(3, g)
    rejected = ch.corrupt_sorted(correct, g, task.n_digits)
    pairs = ch.pairs_with_reference(reference, prompts, correct, rejected)
    loss, _ = ch.dpo_loss(
        ch.sequence_logprob(policy, prompts, correct),
        ch.sequence_logprob(policy, prompts, rejected),
        pairs.ref_chosen_logp,
        pairs.ref_rejected_logp,
        0.1,
    )
    autograd = ch.flat_gradient(loss, list(policy.parameters()))
    closed_form = ch.dpo_gradient_closed_form(policy, pairs, 0.1)
    assert (closed_form - autograd).abs().max().item() < 1e-12

"""Property tests of the from-scratch PPO pieces of notebooks/training/05_ppo.py: the clipped
surrogate and its gradient, GAE by recursion and by direct sum, against each other and
against the shared notebook_utils.rl versions that later chapters use."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_utils import rl
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/05_ppo.py")

F64 = torch.float64


def test_errata_clipped_surrogate_values_and_zero_gradient_where_clipped() -> None:
    ratio = torch.tensor([1.5, 0.5, 1.5, 0.5], dtype=F64)
    adv = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=F64)
    logp = ratio.log().requires_grad_()
    out = ch.clipped_surrogate(logp, torch.zeros(4, dtype=F64), adv, eps=0.2)
    assert torch.allclose(out, torch.tensor([1.2, -0.8, -1.5, 0.5], dtype=F64), atol=1e-15)
    out.sum().backward()
    assert logp.grad is not None
    assert logp.grad.tolist()[:2] == [0.0, 0.0] and (logp.grad[2:] != 0).all()


def test_errata_gae_values() -> None:
    rewards = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    values = torch.tensor([0.5, 0.6, 0.7], dtype=F64)
    for gae in (ch.gae_recursive, ch.gae_direct_sum):
        one, targets = gae(rewards, values, gamma=1.0, lam=1.0)
        zero, _ = gae(rewards, values, gamma=1.0, lam=0.0)
        assert torch.allclose(one, torch.tensor([0.5, 0.4, 0.3], dtype=F64), atol=1e-15)
        assert torch.allclose(targets, torch.ones(3, dtype=F64), atol=1e-15)
        assert torch.allclose(zero, torch.tensor([0.1, 0.1, 0.3], dtype=F64), atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    eps=st.floats(0.05, 0.5),
    scale=st.floats(0.01, 2.0),
)
def test_clipped_surrogate_gradient_bound_and_shared_version(
    seed: int, eps: float, scale: float
) -> None:
    g = torch.Generator().manual_seed(seed)
    logp = (scale * torch.randn(200, generator=g, dtype=F64)).requires_grad_()
    old_logp = scale * torch.randn(200, generator=g, dtype=F64)
    adv = torch.randn(200, generator=g, dtype=F64)
    out = ch.clipped_surrogate(logp, old_logp, adv, eps)
    (grad,) = torch.autograd.grad(out.sum(), logp)
    expected = ch.clipped_surrogate_grad(logp, old_logp, adv, eps)
    assert torch.allclose(grad, expected, atol=1e-13)
    ratio = torch.exp(logp - old_logp).detach()
    assert (out.detach() <= ratio * adv + 1e-15).all()  # the pessimistic bound
    shared = rl.clipped_surrogate(logp.detach(), old_logp, adv, eps)
    assert torch.equal(out.detach(), shared)


def test_infinite_eps_is_the_unclipped_surrogate() -> None:
    g = torch.Generator().manual_seed(0)
    logp, old_logp, adv = torch.randn(3, 50, generator=g, dtype=F64).unbind(0)
    out = ch.clipped_surrogate(logp, old_logp, adv, torch.tensor(math.inf, dtype=F64))
    assert torch.allclose(out, torch.exp(logp - old_logp) * adv, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 4),
    steps=st.integers(1, 30),
    gamma=st.floats(0.0, 1.0),
    lam=st.floats(0.0, 1.0),
    p_done=st.floats(0.0, 0.5),
    bootstrap=st.booleans(),
)
def test_gae_recursion_direct_sum_and_shared_agree(
    seed: int, batch: int, steps: int, gamma: float, lam: float, p_done: float, bootstrap: bool
) -> None:
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(batch, steps, generator=g, dtype=F64)
    values = torch.randn(batch, steps, generator=g, dtype=F64)
    dones = (torch.rand(batch, steps, generator=g) < p_done).to(F64)
    last = torch.randn(batch, generator=g, dtype=F64) if bootstrap else None
    kwargs = dict(gamma=gamma, lam=lam, dones=dones, last_value=last)
    recursive = ch.gae_recursive(rewards, values, **kwargs)
    direct = ch.gae_direct_sum(rewards, values, **kwargs)
    shared = rl.gae(rewards, values, **kwargs)
    for ours in (recursive, direct):
        assert torch.allclose(ours[0], shared[0], atol=1e-10)
        assert torch.allclose(ours[1], shared[1], atol=1e-10)


def test_gae_limits_are_td_error_and_return_minus_value() -> None:
    g = torch.Generator().manual_seed(1)
    rewards, values = torch.randn(2, 20, generator=g, dtype=F64).unbind(0)
    last = torch.tensor(0.3, dtype=F64)
    zero, _ = ch.gae_recursive(rewards, values, gamma=0.9, lam=0.0, last_value=last)
    delta = ch.td_errors(
        rewards, values, gamma=0.9, dones=torch.zeros(20, dtype=F64), last_value=last
    )
    assert torch.allclose(zero, delta, atol=1e-14)
    one, _ = ch.gae_recursive(rewards, values, gamma=0.9, lam=1.0, last_value=last)
    discounts = 0.9 ** torch.arange(21, dtype=F64)
    returns = torch.stack(
        [(discounts[: 20 - t] * rewards[t:]).sum() + discounts[20 - t] * last for t in range(20)]
    )
    assert torch.allclose(one, returns - values, atol=1e-12)


def test_seed_batched_mlp_slices_are_ordinary_mlps() -> None:
    torch.manual_seed(0)
    net = ch.SeedBatchedMLP(3, 4, 8, 2, out_gain=1.0)
    x = torch.randn(3, 5, 4)
    out = net(x)
    for s in range(3):
        hidden = torch.relu(x[s] @ net.w1[s] + net.b1[s])
        assert torch.allclose(out[s], hidden @ net.w2[s] + net.b2[s], atol=1e-6)


@pytest.mark.parametrize("n_actions", [2, 5])
def test_sample_actions_in_range_and_follows_probabilities(n_actions: int) -> None:
    logits = torch.randn(n_actions, generator=torch.Generator().manual_seed(2))
    draws = ch.sample_actions(logits.expand(40_000, n_actions), torch.Generator().manual_seed(3))
    assert draws.min() >= 0 and draws.max() < n_actions
    freq = torch.bincount(draws, minlength=n_actions).double() / 40_000
    assert torch.allclose(freq, logits.softmax(-1).double(), atol=4 * math.sqrt(0.25 / 40_000))

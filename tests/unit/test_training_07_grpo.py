"""Property tests of the GRPO pieces of notebooks/training/07_grpo.py: group advantages, the
KL estimators and the GRPO loss, against their definitions and the shared notebook_utils.rl."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_utils import rl
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/07_grpo.py")

MODES = ["population", "sample", "none"]


@st.composite
def reward_groups(draw: st.DrawFn) -> torch.Tensor:
    n_groups = draw(st.integers(1, 6))
    group_size = draw(st.integers(2, 9))
    values = draw(
        st.lists(
            st.sampled_from([0.0, 0.5, 1.0, -2.0, 3.25]),
            min_size=n_groups * group_size,
            max_size=n_groups * group_size,
        )
    )
    return torch.tensor(values, dtype=torch.float64).reshape(n_groups, group_size)


@settings(max_examples=40, deadline=None)
@given(reward_groups())
def test_group_advantages_match_shared_and_are_centred(rewards: torch.Tensor) -> None:
    for mode in MODES:
        ours = ch.group_advantages(rewards, mode)
        assert torch.allclose(ours, rl.group_advantages(rewards, std=mode), atol=1e-12)
        assert torch.allclose(
            ours.sum(1), torch.zeros(rewards.shape[0], dtype=torch.float64), atol=1e-9
        )
    silent = (rewards == rewards[:, :1]).all(1)
    assert (ch.group_advantages(rewards)[silent] == 0).all()


@settings(max_examples=40, deadline=None)
@given(reward_groups(), st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_standardised_advantages_ignore_scale_and_offset(
    rewards: torch.Tensor, scale: float, offset: float
) -> None:
    for mode in ("population", "sample"):
        a = ch.group_advantages(rewards, mode, eps=0.0)
        b = ch.group_advantages(scale * rewards + offset, mode, eps=0.0)
        finite = torch.isfinite(a).all(1)  # silent groups are 0/0 without eps
        assert torch.allclose(a[finite], b[finite], atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(reward_groups())
def test_leave_one_out_is_a_rescaled_group_mean(rewards: torch.Tensor) -> None:
    g = rewards.shape[1]
    others = torch.stack(
        [torch.cat([rewards[:, :i], rewards[:, i + 1 :]], 1).mean(1) for i in range(g)], 1
    )
    assert torch.allclose(ch.leave_one_out_advantages(rewards), rewards - others, atol=1e-12)
    assert torch.allclose(
        ch.leave_one_out_advantages(rewards),
        g / (g - 1) * ch.group_advantages(rewards, "none"),
        atol=1e-12,
    )


def test_errata_values() -> None:
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    pop = ch.group_advantages(r, "population", eps=0.0)
    assert torch.allclose(pop, torch.tensor([[1.0, -1.0, -1.0, 1.0]], dtype=torch.float64))
    sample = ch.group_advantages(r, "sample", eps=0.0)
    assert torch.allclose(sample.abs(), torch.full((1, 4), math.sqrt(3) / 2, dtype=torch.float64))
    zero = torch.tensor(0.0, dtype=torch.float64)
    k3 = ch.kl_estimators(zero, torch.tensor(math.log(0.5), dtype=torch.float64))["k3"]
    assert abs(k3.item() - 0.193147) < 5e-7
    pi = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    ref = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    ks = ch.kl_estimators(pi.log(), ref.log())
    assert abs((pi * ks["k3"]).sum().item() - 0.223805) < 5e-7
    assert abs((pi * ks["k1"]).sum().item() - 0.223805) < 5e-7


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-6.0, 6.0), min_size=2, max_size=8), st.integers(0, 2**31 - 1))
def test_k1_k3_unbiased_k3_nonnegative_by_enumeration(logits: list[float], seed: int) -> None:
    logp = torch.tensor(logits, dtype=torch.float64).log_softmax(0)
    ref_logits = torch.randn(
        len(logits), dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    ref_logp = ref_logits.log_softmax(0)
    kl = (logp.exp() * (logp - ref_logp)).sum()
    ks = ch.kl_estimators(logp, ref_logp)
    for name in ("k1", "k3"):
        assert torch.allclose((logp.exp() * ks[name]).sum(), kl, atol=1e-10)
    assert (ks["k3"] >= 0).all() and (ks["k2"] >= 0).all()
    shared = rl.kl_estimates(logp, ref_logp)
    for name, values in ks.items():
        assert torch.allclose(values, shared[name], atol=1e-14)
    assert torch.allclose(ch.exact_token_kl(logp, ref_logp), kl, atol=1e-12)


def test_silent_group_has_zero_policy_gradient() -> None:
    torch.manual_seed(0)
    logp = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    old = (logp + 0.3 * torch.randn(8, 5, dtype=torch.float64)).detach()
    ref = (logp + 0.3 * torch.randn(8, 5, dtype=torch.float64)).detach()
    advantages = ch.group_advantages(torch.ones(1, 8, dtype=torch.float64)).reshape(8, 1)
    (grad,) = torch.autograd.grad(ch.grpo_loss(logp, old, ref, advantages, beta=0.0), logp)
    assert (grad == 0).all()
    (grad_kl,) = torch.autograd.grad(ch.grpo_loss(logp, old, ref, advantages, beta=0.1), logp)
    (expected,) = torch.autograd.grad(0.1 * ch.kl_estimators(logp, ref)["k3"].mean(), logp)
    assert torch.allclose(grad_kl, expected, atol=1e-15)


def test_bad_reward_shapes_raise() -> None:
    with pytest.raises(ValueError):
        ch.group_advantages(torch.ones(4))
    with pytest.raises(ValueError):
        ch.group_advantages(torch.ones(3, 1))

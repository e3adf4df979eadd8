"""Tests of the from-scratch pieces of notebooks/training/03_dpo_vs_rlhf.py: the
Bradley-Terry loss, the DPO loss, the reward model and one RLHF step."""

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

ch = load_chapter_definitions("notebooks/training/03_dpo_vs_rlhf.py")

floats = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False)


def test_bradley_terry_loss_errata_values_and_gradient() -> None:
    r_w = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    r_l = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    loss = ch.bradley_terry_loss(r_w, r_l)
    loss.backward()
    assert torch.sigmoid(torch.tensor(1.5)).item() == pytest.approx(0.817574, abs=5e-7)
    assert loss.item() == pytest.approx(0.201413, abs=5e-7)
    expected = -torch.sigmoid(torch.tensor(-1.5, dtype=torch.float64)).item()  # -σ(r_l - r_w)
    assert r_w.grad.item() == pytest.approx(expected, abs=1e-15)
    assert r_l.grad.item() == pytest.approx(-expected, abs=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(floats, floats), min_size=1, max_size=20))
def test_bradley_terry_loss_is_binary_cross_entropy_of_the_margin(
    scores: list[tuple[float, float]],
) -> None:
    chosen = torch.tensor([c for c, _ in scores], dtype=torch.float64)
    rejected = torch.tensor([r for _, r in scores], dtype=torch.float64)
    margin = chosen - rejected
    reference = F.binary_cross_entropy_with_logits(margin, torch.ones_like(margin))
    assert ch.bradley_terry_loss(chosen, rejected).item() == pytest.approx(
        reference.item(), abs=1e-12
    )


@pytest.mark.parametrize("beta", [0.05, 0.1, 1.0])
def test_dpo_loss_at_initialisation_is_log_2_with_gradient_minus_beta_over_two(
    beta: float,
) -> None:
    n = 7
    logp = torch.linspace(-12.0, -3.0, 2 * n, dtype=torch.float64)
    chosen = logp[:n].clone().requires_grad_(True)
    rejected = logp[n:].clone().requires_grad_(True)
    loss = ch.dpo_loss(chosen, rejected, logp[:n], logp[n:], beta)  # π_θ = π_ref
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2.0), abs=1e-15)
    assert torch.allclose(n * chosen.grad, torch.full((n,), -beta / 2, dtype=torch.float64))
    assert torch.allclose(n * rejected.grad, torch.full((n,), beta / 2, dtype=torch.float64))


@settings(max_examples=30, deadline=None)
@given(floats, floats, floats, floats, floats, st.floats(min_value=0.01, max_value=5.0))
def test_dpo_loss_ignores_a_shift_shared_by_both_responses(
    pw: float, pl: float, rw: float, rl: float, shift: float, beta: float
) -> None:
    # log Z(x) cancels: adding the same constant to log π_θ(y_w|x) and log π_θ(y_l|x) is free
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    base = ch.dpo_loss(t(pw), t(pl), t(rw), t(rl), beta)
    shifted = ch.dpo_loss(t(pw + shift), t(pl + shift), t(rw), t(rl), beta)
    assert shifted.item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)
    margin = beta * ((pw - rw) - (pl - rl))
    assert base.item() == pytest.approx(math.log1p(math.exp(-margin)), rel=1e-9, abs=1e-12)


def _small_task_and_model() -> tuple[SortTask, GPT]:
    task = SortTask(length=3, n_digits=5)
    torch.manual_seed(0)
    return task, GPT(task.model_config(n_layer=1, d_model=16, n_head=2))


def test_reward_model_starts_at_zero_sums_token_scores_and_keeps_its_body_frozen() -> None:
    task, sft_model = _small_task_and_model()
    reward_model = ch.RewardModel(sft_model)
    prompts, responses = task.batch(8, torch.Generator().manual_seed(1))
    assert torch.equal(reward_model(prompts, responses), torch.zeros(8))
    torch.nn.init.normal_(reward_model.read_out.weight)
    hidden = reward_model.hidden_states(prompts, responses)  # (B, T, d)
    per_token = reward_model.read_out(hidden).gather(-1, responses.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(reward_model(prompts, responses), per_token.sum(dim=1))
    assert all(not p.requires_grad for p in reward_model.body.parameters())
    # the SFT model it was built from is untouched (the body is a copy)
    assert sft_model.head.weight is sft_model.tok_emb.weight


def test_train_reward_model_learns_an_obvious_preference() -> None:
    task, sft_model = _small_task_and_model()
    prompts, correct = task.batch(64, torch.Generator().manual_seed(2))
    wrong = (correct + 1) % task.n_digits
    pairs = ch.PreferencePairs(prompts, correct, wrong)
    reward_model = ch.RewardModel(sft_model)
    wall, cpu = ch.train_reward_model(reward_model, pairs, torch.Generator().manual_seed(3))
    assert len(wall) == len(cpu) == ch.RM_STEPS
    with torch.no_grad():
        accuracy = ch.pair_accuracy((reward_model(prompts, correct), reward_model(prompts, wrong)))
    assert accuracy > 0.9


def test_rlhf_step_is_a_no_op_when_every_shaped_reward_is_equal() -> None:
    # policy = reference (log-ratio 0) and a constant reward: every advantage is 0, so the
    # gradient is 0 and AdamW (no weight decay) leaves the policy unchanged
    task, reference = _small_task_and_model()
    ch.task, ch.reference = task, reference
    policy = copy.deepcopy(reference)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2, weight_decay=0.0)

    def constant_reward(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return torch.full((prompts.shape[0],), 3.0)

    before = [p.detach().clone() for p in policy.parameters()]
    ch.rlhf_step(policy, constant_reward, optimizer, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))


def test_preference_pairs_subset() -> None:
    pairs = ch.PreferencePairs(torch.arange(12).view(4, 3), torch.zeros(4, 2), torch.ones(4, 2))
    sub = pairs.subset(torch.tensor([2, 0]))
    assert len(sub) == 2 and sub.prompts[0].tolist() == [6, 7, 8]

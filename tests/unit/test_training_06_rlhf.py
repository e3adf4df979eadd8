"""The from-scratch pieces of notebooks/training/06_rlhf.py: the labeller, the Bradley-Terry
and ranking losses, the reward and value models, and the per-token reward."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from notebook_utils.gpt import GPT
from notebook_utils.rl import SortTask, gae
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/06_rlhf.py")


def test_errata_values() -> None:
    loss = ch.bradley_terry_loss(torch.tensor(2.0), torch.tensor(0.5))
    assert abs(torch.sigmoid(torch.tensor(1.5)).item() - 0.817574) < 5e-7
    assert abs(loss.item() - 0.201413) < 5e-7
    assert len(ch.ranked_pairs(4)[0]) == 6


@pytest.mark.parametrize("seed", range(3))
def test_bradley_terry_loss_and_gradient(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    chosen = (30 * torch.randn(50, generator=g, dtype=torch.float64)).requires_grad_(True)
    rejected = torch.randn(50, generator=g, dtype=torch.float64)
    loss = ch.bradley_terry_loss(chosen, rejected)
    assert torch.allclose(loss, -F.logsigmoid(chosen - rejected), atol=1e-13, rtol=1e-13)
    (grad,) = torch.autograd.grad(loss.sum(), chosen)
    assert torch.allclose(grad, -torch.sigmoid(rejected - chosen.detach()), atol=1e-14)


def test_gradient_at_zero_margin_is_one_half() -> None:
    margin = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    ch.bradley_terry_loss(margin, torch.zeros(1, dtype=torch.float64)).sum().backward()
    assert margin.grad is not None and margin.grad.item() == pytest.approx(-0.5, abs=1e-15)


@pytest.mark.parametrize("k", [2, 4, 9])
def test_ranking_loss_is_the_mean_over_all_pairs(k: int) -> None:
    scores = torch.randn(3, k, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
    pairs = [
        -math.log(torch.sigmoid(scores[n, i] - scores[n, j]).item())
        for n in range(3)
        for i in range(k)
        for j in range(i + 1, k)
    ]
    assert len(pairs) == 3 * math.comb(k, 2)
    assert ch.ranking_loss(scores).item() == pytest.approx(sum(pairs) / len(pairs), abs=1e-12)


def test_simulated_ranking_is_a_permutation_and_follows_the_reward() -> None:
    rewards = torch.tensor([[0.0, 1.0, 0.5, 0.25]]).expand(500, -1)
    order = ch.simulated_ranking(rewards, 100.0, torch.Generator().manual_seed(0))
    assert torch.equal(order.sort(dim=1).values, torch.arange(4).expand(500, -1))
    assert (order[:, 0] == 1).float().mean() > 0.99  # a sharp labeller ranks the best first


def test_per_token_rewards_sum_to_the_shaped_return() -> None:
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(4, generator=g)
    old, ref = -torch.rand(4, 3, generator=g), -torch.rand(4, 3, generator=g)
    rewards = ch.per_token_rewards(scores, old, ref, beta=0.2)
    assert torch.allclose(rewards[:, :-1], -0.2 * (old - ref)[:, :-1])
    assert torch.allclose(rewards.sum(1), scores - 0.2 * (old - ref).sum(1), atol=1e-6)
    _, targets = gae(rewards, torch.zeros_like(rewards), gamma=1.0, lam=1.0)
    assert torch.allclose(targets[:, 0], rewards.sum(1), atol=1e-6)


def test_reward_and_value_models() -> None:
    task = SortTask(length=3, n_digits=5)
    torch.manual_seed(0)
    sft = GPT(task.model_config(n_layer=1, d_model=16))
    reward_model = ch.RewardModel(sft)
    prompts, responses = task.batch(6, torch.Generator().manual_seed(2))
    assert torch.equal(reward_model(prompts, responses), torch.zeros(6))  # zero head
    torch.nn.init.normal_(reward_model.token_score.weight)
    token_scores = reward_model.token_scores(prompts, responses)  # (6, 3)
    assert token_scores.shape == (6, 3)
    assert torch.allclose(reward_model(prompts, responses), token_scores.sum(1))
    reward_model.requires_grad_(False)
    critic = ch.ValueModel(reward_model)
    assert critic(prompts, responses).shape == (6, 3)
    assert all(p.requires_grad for p in critic.parameters())  # trainable though the RM is not
    assert all(not p.requires_grad for p in reward_model.parameters())

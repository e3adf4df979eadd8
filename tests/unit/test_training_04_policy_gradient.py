"""Unit tests of the from-scratch pieces of notebooks/training/04_policy_gradient.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_utils.rl import gae
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/04_policy_gradient.py")


def direct_reward_to_go(rewards: np.ndarray, ended: np.ndarray, gamma: float) -> np.ndarray:
    out = np.zeros_like(rewards)
    for i in range(rewards.shape[1]):
        for t in range(rewards.shape[0]):
            for k in range(t, rewards.shape[0]):
                out[t, i] += gamma ** (k - t) * rewards[k, i]
                if ended[k, i]:
                    break
    return out


def random_batch(seed: int, t: int = 12, n: int = 3) -> tuple[torch.Tensor, ...]:
    g = np.random.default_rng(seed)
    rewards = torch.from_numpy(g.normal(size=(t, n)))
    ended = torch.from_numpy((g.random((t, n)) < 0.2).astype(np.float64))
    values = torch.from_numpy(g.normal(size=(t + 1, n)))
    return rewards, ended, values


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=6), st.data())
def test_softmax_score_matches_autograd_and_has_mean_zero(logits: list[float], data) -> None:
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    action = data.draw(st.integers(0, len(logits) - 1))
    (expected,) = torch.autograd.grad(z.log_softmax(-1)[action], z)
    ours = ch.softmax_score(z.detach(), torch.tensor(action))
    torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)
    all_scores = ch.softmax_score(z.detach(), torch.arange(len(logits)))  # (K, K)
    mean = z.detach().softmax(-1) @ all_scores
    torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", range(5))
def test_reward_to_go_matches_direct_sum(seed: int) -> None:
    rewards, ended, _ = random_batch(seed)
    expected = direct_reward_to_go(rewards.numpy(), ended.numpy(), 0.9)
    np.testing.assert_allclose(ch.reward_to_go(rewards, ended, 0.9).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_n_step_targets_limits_and_shared_gae(seed: int) -> None:
    rewards, ended, values = random_batch(seed)
    gamma, t = 0.95, rewards.shape[0]
    one = ch.n_step_targets(rewards, values, ended, ended, gamma, 1)
    torch.testing.assert_close(one, rewards + gamma * (1 - ended) * values[1:], atol=1e-12, rtol=0)
    for lam, n in [(0.0, 1), (1.0, t)]:
        advantages, _ = gae(
            rewards.T, values[:-1].T, gamma=gamma, lam=lam, dones=ended.T, last_value=values[-1]
        )
        ours = ch.n_step_targets(rewards, values, ended, ended, gamma, n) - values[:-1]
        torch.testing.assert_close(ours, advantages.T, atol=1e-12, rtol=0)
    all_end = ended.clone()
    all_end[-1] = 1.0
    torch.testing.assert_close(
        ch.n_step_targets(rewards, values, all_end, all_end, gamma, t + 3),
        ch.reward_to_go(rewards, all_end, gamma),
        atol=1e-12,
        rtol=0,
    )


def test_n_step_targets_bootstrap_after_truncation_only() -> None:
    rewards = torch.ones(3, 1, dtype=torch.float64)
    values = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    ended = torch.tensor([[0.0], [1.0], [0.0]], dtype=torch.float64)
    truncated_targets = ch.n_step_targets(rewards, values, torch.zeros_like(ended), ended, 0.5, 2)
    terminated_targets = ch.n_step_targets(rewards, values, ended, ended, 0.5, 2)
    # step 1 ends the episode: V(obs[2]) = 3 after a truncation, 0 after a termination
    assert truncated_targets[1, 0] == 1 + 0.5 * 3
    assert terminated_targets[1, 0] == 1
    assert truncated_targets[0, 0] == 1 + 0.5 * (1 + 0.5 * 3)
    # the last step is cut by the end of the data: bootstrap from V(obs[3])
    assert truncated_targets[2, 0] == 1 + 0.5 * 4


def test_collect_episodes_gives_one_whole_episode_per_env() -> None:
    torch.manual_seed(0)
    actor = ch.make_mlp(2)
    batch = ch.collect_episodes(ch.make_vector_env(6), actor, np.random.default_rng(0))
    valid = batch.valid.bool()
    lengths = valid.sum(0)
    assert torch.equal(valid, torch.arange(valid.shape[0])[:, None] < lengths)  # a prefix
    assert torch.equal((batch.ended * batch.valid).sum(0), torch.ones(6))  # ends exactly once
    assert torch.all(batch.terminated <= batch.ended)
    assert torch.equal(batch.rewards.sum(0), lengths.float())  # CartPole pays 1 per step
    ends = lengths - 1
    assert torch.equal(batch.ended[ends, torch.arange(6)], torch.ones(6))


def test_collect_rollout_masks_the_autoreset_step_and_continues() -> None:
    torch.manual_seed(1)
    actor = ch.make_mlp(2)
    env = ch.make_vector_env(4)
    obs, _ = env.reset(seed=3)
    stream = ch.EnvStream(env, obs, np.ones(4, dtype=bool), np.zeros(4))
    total_valid, all_finished = 0, []
    for _ in range(8):
        batch, finished = ch.collect_rollout(stream, actor, 16, np.random.default_rng(5))
        # the step after an episode end is gymnasium's reset step: never valid
        after_end = batch.ended[:-1].bool()
        assert not torch.any(batch.valid[1:][after_end].bool())
        assert torch.all(batch.rewards[~batch.valid.bool()] == 0)
        total_valid += int(batch.valid.sum())
        all_finished += finished
    assert all_finished, "random policies end CartPole episodes within 128 steps"
    assert all(r >= 1 for r in all_finished)
    assert total_valid <= 8 * 16 * 4


def test_numpy_policy_and_per_step_scores_match_torch() -> None:
    torch.manual_seed(2)
    actor = ch.make_mlp(2)
    obs = torch.randn(10, 4)
    actions = torch.randint(0, 2, (10,))
    probs = ch.action_probabilities(ch.numpy_weights(actor), obs.numpy())
    np.testing.assert_allclose(probs, actor(obs).softmax(-1).detach().numpy(), atol=1e-6)
    scores = ch.per_step_scores(actor, obs, actions)  # (10, P)
    for i in range(3):
        log_prob = actor(obs[i]).log_softmax(-1)[actions[i]]
        expected = torch.cat(
            [g.flatten() for g in torch.autograd.grad(log_prob, list(actor.parameters()))]
        )
        torch.testing.assert_close(scores[i], expected, atol=1e-6, rtol=0)


def test_short_training_runs_log_consistently() -> None:
    for run in (
        ch.train_reinforce(0, 400, use_baseline=True, snapshot_at=200),
        ch.train_a2c(0, 400),
    ):
        assert run.env_steps[-1] >= 400
        assert np.all(np.diff(run.env_steps) >= 0)
        assert np.all(np.diff(run.cpu_seconds) >= 0)
        assert len(run.returns) == len(run.env_steps)
        assert run.updates >= 1
    assert ch.train_reinforce(0, 400, use_baseline=True, snapshot_at=200).snapshot is not None

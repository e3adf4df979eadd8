# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04. Policy gradient: REINFORCE and actor–critic
#
# **The question.** What is the policy-gradient algorithm? How does REINFORCE differ from
# actor–critic, and how many models does each one need? (The notes list "four models in
# actor–critic". Generic actor–critic has two; the four belong to PPO-based RLHF.)
#
# **What you will be able to answer.** Why the gradient of the expected return needs no model
# of the environment; why reward-to-go and a baseline leave the estimate unbiased and still
# reduce its variance; what the advantage and the TD error are, and where the critic's bias
# comes from; how REINFORCE, REINFORCE with a baseline and actor–critic compare on CartPole,
# per environment step and per second of compute; and how many networks REINFORCE,
# actor–critic, PPO-based RLHF, GRPO and DPO keep in memory.

# %%
import copy
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from notebook_utils.checks import check_close, check_mean_close, check_true
from notebook_utils.gpt import GPT
from notebook_utils.rl import SortTask, gae, response_logprobs
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - **The objective and the trick.** A stochastic policy $\pi_\theta(a\mid s)$ acts in an
#   environment. We maximise the expected discounted return
#   $J(\theta)=\mathbb E_{\tau\sim\pi_\theta}\big[\sum_t\gamma^t r_t\big]$ over trajectories
#   $\tau$. The log-derivative (score-function) trick,
#   $\nabla_\theta\mathbb E_{x\sim p_\theta}[f(x)]=\mathbb E[f(x)\,\nabla_\theta\log p_\theta(x)]$,
#   turns the gradient of an expectation into an expectation that can be sampled. In
#   $\log p_\theta(\tau)$ only the policy's terms depend on $\theta$: the dynamics drop out,
#   so the environment and the reward never have to be differentiated, or even known.
# - **REINFORCE** samples whole episodes and steps along
#   $\sum_t\nabla_\theta\log\pi_\theta(a_t\mid s_t)\,G_t$, with the *reward-to-go*
#   $G_t=\sum_{k\ge t}\gamma^{k-t}r_k$: an action cannot change rewards that came before it,
#   so those rewards are dropped. The estimate is unbiased but has a high variance.
# - **Baseline and advantage.** Subtracting a baseline $b(s_t)$ that does not depend on $a_t$
#   leaves the estimate unbiased, because
#   $\mathbb E_{a\sim\pi}[\nabla_\theta\log\pi_\theta(a\mid s)]=0$.
#   With $b=V(s_t)$ the weight $G_t-V(s_t)$ estimates the **advantage**
#   $A(s,a)=Q(s,a)-V(s)$: was this action better than what the policy usually does here?
# - **Actor–critic** learns $V_\phi$ (the critic) alongside the policy (the actor) and
#   *bootstraps*: it weights the score by the TD error
#   $\delta_t=r_t+\gamma V_\phi(s_{t+1})-V_\phi(s_t)$, or by an $n$-step return minus
#   $V_\phi(s_t)$. That gives
#   less variance, and updates that do not wait for the end of the episode. It is
#   biased wherever $V_\phi\ne V^\pi$. GAE and PPO build on this in [chapter 05](05_ppo.ipynb).
#
# $$
# \nabla_\theta J=\mathbb E\Big[\sum_t\gamma^t\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)\,
# \big(G_t-b(s_t)\big)\Big]
# $$
#
# - **How many models.** Generic actor–critic trains **two** networks, the actor $\pi_\theta$
#   and the critic $V_\phi$; the reward comes from the environment. The notes' list of four
#   (actor, critic, reward model, reference model "(optional)") describes **PPO-based RLHF**.
#   There the reward is a learned, frozen reward model, and the frozen reference policy is
#   **not** optional: it supplies the KL penalty that keeps the policy close to the SFT model.
#
# On CartPole the experiments below measure all of this. At a fixed policy, a learned baseline
# cuts the gradient variance by a factor of a few and leaves the mean unchanged. Bootstrapped
# advantages (the TD error, an $n$-step return) cut it further but add a bias. In training
# with the same number of environment steps, A2C learns fastest, at a CPU cost per run
# comparable to REINFORCE's. The baseline's variance cut shows up much less in REINFORCE's
# learning curve than in the variance itself.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $s_t,\ a_t,\ r_t$ | state, action and reward at step $t$ | `obs`, `actions`, `rewards` |
# | $\pi_\theta(a\mid s)$ | the policy (actor), parameters $\theta$ | `actor` |
# | $\rho(s_0)$, $P(s'\mid s,a)$ | initial-state distribution, dynamics: the environment | `env` |
# | $\tau=(s_0,a_0,r_0,\dots,s_T)$ | a trajectory (episode) of random length $T$ | one episode |
# | $\gamma\in(0,1]$ | discount factor | `GAMMA` |
# | $G_t=\sum_{k=t}^{T-1}\gamma^{k-t}r_k$ | return from step $t$ on: the reward-to-go | `returns` |
# | $J(\theta)=\mathbb E_{\tau\sim p_\theta}[G_0]$ | the objective | |
# | $V^\pi(s)$, $Q^\pi(s,a)$ | expected return from $s$, and from $s$ after taking $a$ | |
# | $A^\pi(s,a)=Q^\pi(s,a)-V^\pi(s)$ | advantage | `advantages` |
# | $V_\phi(s)$ | the learned critic, an estimate of $V^\pi$ | `critic` |
# | $\nabla_\theta\log\pi_\theta(a\mid s)$ | the score of the action | `softmax_score` |
#
# ### 1. The score-function identity
#
# Let $p_\theta$ be a distribution over $x$ and $f$ any function that does not depend on
# $\theta$. Since $\nabla_\theta p_\theta=p_\theta\nabla_\theta\log p_\theta$ wherever
# $p_\theta>0$,
#
# $$
# \nabla_\theta\,\mathbb E_{x\sim p_\theta}[f(x)]
# =\sum_x f(x)\,\nabla_\theta p_\theta(x)
# =\sum_x p_\theta(x)\,f(x)\,\nabla_\theta\log p_\theta(x)
# =\mathbb E_{x\sim p_\theta}\big[f(x)\,\nabla_\theta\log p_\theta(x)\big]
# $$ (pg-score-function)
#
# $f$ is evaluated, never differentiated. It can be a 0/1 exact-match reward, a physics
# simulator or a human's rating. With $f\equiv1$ the left side is the gradient of a constant:
#
# $$
# \mathbb E_{x\sim p_\theta}\big[\nabla_\theta\log p_\theta(x)\big]
# =\nabla_\theta\sum_x p_\theta(x)=\nabla_\theta 1=0
# $$ (pg-score-mean-zero)
#
# For a softmax policy over logits $z\in\mathbb R^K$,
# $\log\pi(a)=z_a-\log\sum_b e^{z_b}$, so
#
# $$
# \nabla_z\log\pi(a)=e_a-\pi
# $$ (pg-softmax-score)
#
# with $e_a$ the one-hot vector of $a$. Then $\sum_a\pi(a)(e_a-\pi)=\pi-\pi=0$, which is
# {eq}`pg-score-mean-zero` for the errata's example, and the exact gradient of the expected
# reward is $\sum_a\pi(a)f(a)(e_a-\pi)=\pi\odot\big(f-\mathbb E_\pi[f]\big)$.
#
# ### 2. Trajectories: the environment drops out
#
# A trajectory's probability is a product of the environment's factors and the policy's:
#
# $$
# p_\theta(\tau)=\rho(s_0)\prod_{t=0}^{T-1}\pi_\theta(a_t\mid s_t)\,P(s_{t+1}\mid s_t,a_t)
# $$ (pg-trajectory)
#
# In its logarithm the factors become a sum, and only the policy's terms depend on $\theta$:
#
# $$
# \nabla_\theta\log p_\theta(\tau)=\sum_{t=0}^{T-1}\nabla_\theta\log\pi_\theta(a_t\mid s_t)
# $$ (pg-trajectory-score)
#
# With $f(\tau)=G_0$ in {eq}`pg-score-function` this gives REINFORCE in its first form
# {cite}`williams1992simple`:
#
# $$
# \nabla_\theta J=\mathbb E_{\tau\sim p_\theta}\Big[G_0\sum_{t=0}^{T-1}
# \nabla_\theta\log\pi_\theta(a_t\mid s_t)\Big]
# $$ (pg-reinforce)
#
# Sampling episodes and averaging the bracket gives an unbiased estimate of $\nabla_\theta J$,
# computed from log-probabilities of the actions taken and nothing else. A language model is
# the same picture. The state is the prompt plus the tokens so far, the action is the next
# token, the "dynamics" append that token (deterministic and known), and
# $\log\pi_\theta(y\mid x)=\sum_t\log\pi_\theta(y_t\mid x,y_{<t})$. The Verification section
# checks {eq}`pg-score-mean-zero` and {eq}`pg-score-function` exactly on the book's GPT.
#
# ### 3. Causality: reward-to-go
#
# Write $G_0=\sum_k\gamma^k r_k$ in {eq}`pg-reinforce` and look at one term
# $\gamma^k r_k\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)$ with $k<t$. The reward $r_k$ is
# fixed before $a_t$ is drawn. So is the fact that the episode is still running at step $t$.
# Conditioning on the history $h_t=(s_0,a_0,\dots,s_t)$,
# $\mathbb E[\gamma^k r_k\nabla\log\pi_\theta(a_t\mid s_t)]
# =\mathbb E\big[\gamma^k r_k\,
# \mathbb E_{a_t\sim\pi_\theta(\cdot\mid s_t)}[\nabla\log\pi_\theta(a_t\mid s_t)]\big]=0$
# by {eq}`pg-score-mean-zero`. Dropping these zero-mean terms leaves
#
# $$
# \nabla_\theta J=\mathbb E\Big[\sum_t\nabla_\theta\log\pi_\theta(a_t\mid s_t)
# \sum_{k\ge t}\gamma^k r_k\Big]
# =\mathbb E\Big[\sum_t\gamma^t\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)\,G_t\Big]
# $$ (pg-reward-to-go)
#
# The mean is unchanged. Each score now multiplies fewer random rewards, so the variance is
# usually lower; the exact check below confirms it on a small MDP. Note the $\gamma^t$.
# Implementations almost always drop it and use $G_t$ alone. The resulting direction is not
# the gradient of the discounted objective {cite}`nota2020policy` (a pitfall below measures
# the gap).
#
# ### 4. Baselines
#
# The same argument works for any $b(s_t)$ that is fixed before $a_t$ is drawn: it can depend
# on $s_t$ and the past, but not on $a_t$ or on anything after it. Then
# $\mathbb E\big[\gamma^t\nabla\log\pi_\theta(a_t\mid s_t)\,b(s_t)\big]
# =\mathbb E\big[\gamma^t b(s_t)\,\mathbb E_{a_t}[\nabla\log\pi_\theta(a_t\mid s_t)]\big]=0$,
# and
#
# $$
# \nabla_\theta J=\mathbb E\Big[\sum_t\gamma^t\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)\,
# \big(G_t-b(s_t)\big)\Big]
# $$ (pg-baseline)
#
# The baseline does not change the mean, but it does change the variance. Take one decision,
# with score $g=\nabla_\theta\log\pi_\theta(a)$ and return $f(a)$. The total variance (trace of
# the covariance) of $g\,(f-b)$ is
#
# $$
# \operatorname{tr}\operatorname{Cov}\big[g\,(f-b)\big]
# =\mathbb E\big[\lVert g\rVert^2(f-b)^2\big]-\lVert\nabla_\theta J\rVert^2
# $$ (pg-baseline-variance)
#
# This is a quadratic in $b$, minimised by
#
# $$
# b^\star=\frac{\mathbb E\big[\lVert g\rVert^2 f\big]}{\mathbb E\big[\lVert g\rVert^2\big]}
# $$ (pg-optimal-baseline)
#
# {cite}`greensmith2004variance`. $b^\star$ is a mean of the return weighted by the squared
# score. It is close to, but not equal to, the plain mean $\mathbb E[f]=V$. In practice the
# baseline is a learned $V(s)$.
#
# ### 5. The advantage and the policy-gradient theorem
#
# Given the history up to and including $a_t$, the expected reward-to-go is
# $\mathbb E[G_t\mid h_t,a_t]=Q^\pi(s_t,a_t)$ (the Markov property). Replacing $G_t$ by its
# conditional mean, and using the baseline $V^\pi(s_t)$, gives the policy-gradient theorem in
# its advantage form {cite}`sutton2000policy`:
#
# $$
# \nabla_\theta J=\mathbb E\Big[\sum_t\gamma^t\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)\,
# A^\pi(s_t,a_t)\Big],\qquad A^\pi(s,a)=Q^\pi(s,a)-V^\pi(s)
# $$ (pg-advantage)
#
# With a time limit, $V$ and $Q$ also depend on $t$, or on the time left; the exact check below
# uses time-indexed values.
#
# ### 6. Actor–critic: the TD error and $n$-step returns
#
# The critic estimates $V^\pi$, and the advantage is estimated from one step of experience:
#
# $$
# \delta_t=r_t+\gamma\,V(s_{t+1})-V(s_t),\qquad V(s_T)=0\text{ at a termination}
# $$ (pg-td-error)
#
# If $V=V^\pi$, then $\mathbb E[\delta_t\mid s_t,a_t]
# =r_t+\gamma\,\mathbb E[V^\pi(s_{t+1})\mid s_t,a_t]-V^\pi(s_t)=Q^\pi(s_t,a_t)-V^\pi(s_t)$: the
# TD error is an unbiased sample of the advantage, and it carries the randomness of one step
# only, not of the rest of the episode. A learned critic has an error,
# $V_\phi=V^\pi+\varepsilon$, and then
#
# $$
# \mathbb E[\delta_t\mid s_t,a_t]=A^\pi(s_t,a_t)+\gamma\,\mathbb E[\varepsilon(s_{t+1})\mid s_t,a_t]
# -\varepsilon(s_t)
# $$ (pg-td-bias)
#
# The $-\varepsilon(s_t)$ term acts like a baseline and costs nothing. The
# $\gamma\,\mathbb E[\varepsilon(s_{t+1})\mid s_t,a_t]$ term depends on the action, so it
# biases the gradient: the critic's errors leak into the actor. The $n$-step return trades
# between the two extremes:
#
# $$
# G^{(n)}_t=\sum_{k=0}^{n-1}\gamma^k r_{t+k}+\gamma^n V(s_{t+n}),\qquad
# \hat A^{(n)}_t=G^{(n)}_t-V(s_t)
# $$ (pg-n-step)
#
# The sum stops at the end of the episode. After a termination nothing is added; after a
# time-limit truncation, $\gamma V$ of the last state is added. $n=1$ gives $\delta_t$. Once
# $n$ reaches the end of the episode, the estimate is $G_t-V(s_t)$, the Monte-Carlo baseline.
# The critic's error enters through $\gamma^n V(s_{t+n})$, damped by $\gamma^n$; the return's
# noise grows with $n$. GAE averages all $n$ with weights $\lambda^{n-1}$ and is derived in
# [chapter 05](05_ppo.ipynb). A2C {cite}`mnih2016asynchronous` uses {eq}`pg-n-step` with $n$ up
# to the end of a short rollout. The critic itself is fitted by regression,
#
# $$
# L(\phi)=\frac1N\sum_{t}\big(V_\phi(s_t)-y_t\big)^2,\qquad
# y_t=G_t\ \text{(Monte Carlo) or } y_t=G^{(n)}_t\ \text{(bootstrapped, held fixed)}
# $$ (pg-critic-loss)
#
# and the actor minimises a surrogate whose gradient is minus the estimate, with
# $\operatorname{sg}$ the stop-gradient (`detach`):
#
# $$
# L(\theta)=-\frac1N\sum_{i}\sum_t\log\pi_\theta(a^i_t\mid s^i_t)\,
# \operatorname{sg}\big[\hat A^i_t\big]
# $$ (pg-surrogate)
#
# $N$ counts episodes (REINFORCE: the estimate of $\nabla J$ per episode) or steps (A2C: a
# per-step average). Only the gradient of $L(\theta)$ means anything; its value does not go
# down as the policy improves. Like the practical estimators, this form leaves out the
# $\gamma^t$ of {eq}`pg-advantage`.
#
# ### 7. How many models?
#
# Count the networks held in memory during the RL stage (the reward model is trained before
# it, in RLHF's second stage, and frozen):
#
# | method | trained | frozen | networks | reward from |
# |---|---|---|---|---|
# | REINFORCE | policy | none | 1 | environment |
# | REINFORCE + baseline, actor–critic, A2C | actor, critic | none | **2** | environment |
# | PPO-based RLHF | policy, value | reward model, reference | **4** | reward model − KL penalty |
# | GRPO | policy | reward model, reference | 3 | reward model, or a checker (2 networks) |
# | RLOO | policy | reward model, reference | 3 | reward model − KL penalty |
# | DPO | policy | reference | 2 | none: offline preference pairs |
#
# Sources: InstructGPT for PPO-based RLHF {cite}`ouyang2022training`, DeepSeekMath for GRPO
# {cite}`shao2024deepseekmath`, {cite:t}`ahmadian2024back` for RLOO and
# {cite:t}`rafailov2023direct` for DPO.
#
# The "value" in RLHF is the critic of actor–critic. InstructGPT initialises it from the
# reward model. GRPO and RLOO drop it and use the other samples for the same prompt as the
# baseline ([chapter 07](07_grpo.ipynb)); DPO needs no sampling at all
# ([chapter 02](02_dpo.ipynb)).

# %% [markdown]
# ## Implementation from scratch
#
# ### The score of a softmax policy
#
# {eq}`pg-softmax-score` for a batch of logits and actions.


# %%
def softmax_score(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """∇_z log softmax(z)[a] = e_a - softmax(z), eq. (pg-softmax-score).

    logits (..., K) and actions (...) give one score vector per action, (..., K)."""
    one_hot = nn.functional.one_hot(actions, logits.shape[-1]).to(logits.dtype)  # (..., K)
    return one_hot - logits.softmax(dim=-1)


# %% [markdown]
# ### Returns: reward-to-go and $n$-step targets
#
# A batch holds $T$ steps of $N$ environments: `rewards[t, i]`, plus flags that say where an
# episode ended (`ended`: terminated or truncated) and where it *terminated* (the pole fell,
# so the state after it is worth 0). {eq}`pg-reward-to-go` is a backward recursion,
# $G_t=r_t+\gamma G_{t+1}$, restarted after every episode end.


# %%
def reward_to_go(rewards: torch.Tensor, ended: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t of eq. (pg-reward-to-go) for every step, (T, N); `ended[t]` = 1 stops the sum."""
    returns = torch.zeros_like(rewards)  # (T, N)
    running = torch.zeros_like(rewards[0])  # (N,)
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * (1 - ended[t]) * running
        returns[t] = running
    return returns


# %% [markdown]
# {eq}`pg-n-step` by the recursion $G^{(k)}_t=r_t+\gamma G^{(k-1)}_{t+1}$ from
# $G^{(0)}_t=V(s_t)$, stopped at every cut. An episode end is a cut. So is the batch's last
# step, where the data run out and the target bootstraps from $V$ of the next observation.
# With $n=1$ this gives $\delta_t+V(s_t)$ ({eq}`pg-td-error`). With $n$ at least the episode
# length it gives the Monte-Carlo return $G_t$.


# %%
def n_step_targets(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    ended: torch.Tensor,
    gamma: float,
    n: int,
) -> torch.Tensor:
    """G^(n)_t of eq. (pg-n-step) for every step of a batch, (T, N).

    `values` (T + 1, N) holds V(obs[t]); at a step that ended an episode obs[t + 1] is the
    episode's last observation, worth 0 after a termination and V(obs[t + 1]) after a
    truncation. The batch's last step is cut like an episode end.
    """
    cut = ended.bool().clone()  # (T, N)
    cut[-1] = True
    value_after_cut = (1 - terminated) * values[1:]  # (T, N)
    targets = values[:-1]  # G^(0)_t = V(s_t)
    for _ in range(n):
        ahead = torch.cat([targets[1:], targets[-1:]])  # G^(k-1)_{t+1}; the last row is cut
        targets = rewards + gamma * torch.where(cut, value_after_cut, ahead)
    return targets


# %% [markdown]
# ### The surrogate loss and the critic's regression
#
# {eq}`pg-surrogate` and {eq}`pg-critic-loss`. The weights are detached: the actor's
# gradient must not flow into the critic through $\hat A_t$.


# %%
def policy_loss(
    actor: nn.Module,
    obs: torch.Tensor,
    actions: torch.Tensor,
    weights: torch.Tensor,
    mask: torch.Tensor,
    normaliser: float,
) -> torch.Tensor:
    """-(1/N) Σ log π(a_t|s_t) sg[Â_t] over the steps where `mask` is 1, eq. (pg-surrogate)."""
    log_probs = actor(obs).log_softmax(dim=-1)  # (T, N, n_actions)
    taken = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # (T, N)
    return -(taken * weights.detach() * mask).sum() / normaliser


def fit_critic(
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    obs: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    steps: int,
) -> float:
    """`steps` Adam steps on the squared error of eq. (pg-critic-loss); returns the last loss."""
    for _ in range(steps):
        error = critic(obs).squeeze(-1) - targets.detach()  # (T, N)
        loss = (error**2 * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


# %% [markdown]
# ### A small MDP whose every trajectory can be listed
#
# To check the derivation *exactly*, with no sampling noise, take two states, two actions and
# a horizon of three steps, with random dynamics. There are $(2\cdot2)^3=64$ trajectories.
# Every expectation over trajectories is then a weighted sum of 64 terms, and $J(\theta)$ is
# an explicit function of the policy's logits that autograd can differentiate. The policy is
# tabular: one row of logits per state.

# %%
MDP_STATES, MDP_ACTIONS, MDP_HORIZON, MDP_GAMMA = 2, 2, 3, 0.9
mdp_initial = torch.tensor([0.6, 0.4], dtype=torch.float64)  # ρ(s_0)
mdp_dynamics = torch.from_numpy(rng.dirichlet(np.ones(2), size=(2, 2)))  # (S, A, S'): P(s'|s,a)
mdp_reward = torch.tensor([[1.0, 0.0], [0.5, 2.0]], dtype=torch.float64)  # (S, A): r(s, a)
mdp_logits = torch.from_numpy(rng.normal(size=(2, 2)))  # (S, A): the policy's parameters θ

every_choice = list(itertools.product(range(2), repeat=2 * MDP_HORIZON))  # (s0, a0, s1, a1, ...)
trajectories = torch.tensor(every_choice)  # (K, 2H), K = 64
traj_states, traj_actions = trajectories[:, 0::2], trajectories[:, 1::2]  # (K, H) each
traj_rewards = mdp_reward[traj_states, traj_actions]  # (K, H)
discounts = MDP_GAMMA ** torch.arange(MDP_HORIZON, dtype=torch.float64)  # (H,): γ^t


def trajectory_log_probs(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p_θ(τ) of every trajectory, (K,), eq. (pg-trajectory), and the policy's part
    log π_θ(a_t|s_t), (K, H)."""
    log_policy = logits.log_softmax(dim=-1)[traj_states, traj_actions]  # (K, H)
    s, a, s_next = traj_states[:, :-1], traj_actions[:, :-1], traj_states[:, 1:]
    log_dynamics = mdp_dynamics.log()[s, a, s_next]  # (K, H - 1)
    log_initial = mdp_initial.log()[traj_states[:, 0]]  # (K,)
    return log_initial + log_policy.sum(1) + log_dynamics.sum(1), log_policy


def expected_return(logits: torch.Tensor) -> torch.Tensor:
    """J(θ) = Σ_τ p_θ(τ) Σ_t γ^t r_t, exactly, as a differentiable function of the logits."""
    probabilities = trajectory_log_probs(logits)[0].exp()  # (K,)
    return (probabilities * (traj_rewards * discounts).sum(1)).sum()


def exact_values(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """V^π_t(s), (H + 1, S), and Q^π_t(s, a), (H, S, A), by backward induction; V_H = 0."""
    policy = logits.softmax(dim=-1)  # (S, A)
    values = torch.zeros(MDP_HORIZON + 1, MDP_STATES, dtype=torch.float64)
    q_values = torch.zeros(MDP_HORIZON, MDP_STATES, MDP_ACTIONS, dtype=torch.float64)
    for t in reversed(range(MDP_HORIZON)):
        q_values[t] = mdp_reward + MDP_GAMMA * mdp_dynamics @ values[t + 1]  # (S, A)
        values[t] = (policy * q_values[t]).sum(-1)
    return values, q_values


# %% [markdown]
# ### CartPole: networks, rollouts, and the three learners
#
# CartPole-v1 {cite}`towers2024gymnasium`: keep a pole upright on a cart by pushing left or
# right; reward 1 per step; the episode terminates when the pole tilts past 12° or the cart
# leaves the track, and is truncated after 500 steps. Gymnasium's native vectorised version
# steps $N$ copies with one NumPy call. Actor and critic are the same small MLP (4 → 32 → 2
# logits, or 4 → 32 → 1 value), for every method. Everything runs on the CPU, even where a
# GPU is present: the networks are tiny and the environment is NumPy, so copying a batch of
# observations to a GPU at every step would cost more than the forward pass itself.

# %%
GAMMA = 0.99
HIDDEN = 32
N_ENVS = 16  # episodes per REINFORCE batch, and parallel environments for A2C
BUDGET = 20_000  # environment steps per training run
SNAPSHOT_STEPS = 8_000  # a partly trained policy, for measuring variance
SEEDS = (0, 1)
CRITIC_LR = 1e-2
LR = {"REINFORCE": 2e-2, "REINFORCE + baseline": 2e-2, "actor–critic (A2C)": 1e-2}
MC_CRITIC_STEPS = 5  # critic steps per REINFORCE batch
A2C_ROLLOUT = 16  # steps per environment between A2C updates (its n)
A2C_CRITIC_STEPS = 2  # critic steps per A2C update


def make_vector_env(n_envs: int) -> gym.vector.VectorEnv:
    return gym.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="vector_entry_point")


def make_mlp(n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, n_out))


# %% [markdown]
# Sampling needs no gradient. At this size a NumPy forward pass costs a fraction of a torch
# call, and the rollout loop makes one per environment step, so rollouts read the actor's
# weights as NumPy arrays (views that share memory with the parameters). The Verification
# section checks this forward pass against torch's.


# %%
def numpy_weights(actor: nn.Sequential) -> list[np.ndarray]:
    """The actor's W1, b1, W2, b2 as NumPy views (no copy; they follow the optimizer's steps)."""
    return [p.detach().numpy() for p in actor.parameters()]


def action_probabilities(weights: list[np.ndarray], obs: np.ndarray) -> np.ndarray:
    """π(·|s) for observations (N, 4), (N, 2): the actor's forward pass in NumPy."""
    w1, b1, w2, b2 = weights
    logits = np.tanh(obs @ w1.T + b1) @ w2.T + b2  # (N, 2)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sample_actions(
    weights: list[np.ndarray], obs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One action per environment, a ~ π(·|s): 1 with probability π(1|s), else 0; (N,)."""
    return (rng.random(len(obs)) < action_probabilities(weights, obs)[:, 1]).astype(np.int64)


# %% [markdown]
# Gymnasium's vector environments reset an environment on the step *after* its episode ends
# ("next-step" autoreset). That step ignores the action, returns the new first observation and
# a reward of 0, and is no transition, so a `valid` mask removes it. A `Batch` stores what the
# estimators need, with `obs[t + 1]` always the observation after step $t$.


# %%
@dataclass
class Batch:
    """T steps of N environments; every field is (T, N) except obs, (T + 1, N, 4)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor  # 0 where not valid
    terminated: torch.Tensor  # 1 where the pole fell or the cart left: V(next) = 0
    ended: torch.Tensor  # 1 where an episode ended: terminated or truncated at 500 steps
    valid: torch.Tensor  # 1 for real transitions of the episodes used

    @classmethod
    def from_steps(cls, steps: list[tuple[np.ndarray, ...]], last_obs: np.ndarray) -> "Batch":
        obs, actions, rewards, terminated, ended, valid = (
            np.stack(x) for x in zip(*steps, strict=True)
        )
        as_float = lambda x: torch.from_numpy(x.astype(np.float32))  # noqa: E731
        return cls(
            obs=torch.from_numpy(np.concatenate([obs, last_obs[None]])),
            actions=torch.from_numpy(actions),
            rewards=as_float(rewards),
            terminated=as_float(terminated),
            ended=as_float(ended),
            valid=as_float(valid),
        )


def collect_episodes(
    env: gym.vector.VectorEnv, actor: nn.Sequential, rng: np.random.Generator
) -> Batch:
    """One whole episode from each of the env's copies, all with the current policy.

    Copies whose episode is over keep being stepped (the vector env steps all of them) but
    their steps are marked invalid; they cost time, not environment steps of the budget."""
    obs, _ = env.reset(seed=int(rng.integers(2**31)))
    weights = numpy_weights(actor)
    running = np.ones(env.num_envs, dtype=bool)
    steps = []
    while running.any():
        actions = sample_actions(weights, obs, rng)
        next_obs, rewards, terminated, truncated, _ = env.step(actions)
        ended = terminated | truncated
        steps.append(
            (obs, actions, rewards * running, terminated & running, ended & running, running.copy())
        )
        running &= ~ended
        obs = next_obs
    return Batch.from_steps(steps, obs)


# %% [markdown]
# A2C instead keeps its environments running across updates. It collects `A2C_ROLLOUT` steps
# of each one, updates, and continues where it stopped, so episodes span several updates.


# %%
@dataclass
class EnvStream:
    """A vector env that keeps running between updates, with what the next step needs."""

    env: gym.vector.VectorEnv
    obs: np.ndarray  # (N, 4)
    valid: np.ndarray  # (N,): False where the next step is the autoreset step
    episode_return: np.ndarray  # (N,): return so far of each running episode


def collect_rollout(
    stream: EnvStream, actor: nn.Sequential, n_steps: int, rng: np.random.Generator
) -> tuple[Batch, list[float]]:
    """`n_steps` steps of every env; returns the batch and the returns of finished episodes."""
    steps, finished = [], []
    weights = numpy_weights(actor)
    for _ in range(n_steps):
        obs, valid = stream.obs, stream.valid
        actions = sample_actions(weights, obs, rng)
        next_obs, rewards, terminated, truncated, _ = stream.env.step(actions)
        ended = (terminated | truncated) & valid
        steps.append((obs, actions, rewards * valid, terminated & valid, ended, valid.copy()))
        stream.episode_return += rewards * valid
        finished.extend(stream.episode_return[ended].tolist())
        stream.episode_return[ended] = 0.0
        stream.obs, stream.valid = next_obs, ~ended
    return Batch.from_steps(steps, stream.obs), finished


# %% [markdown]
# A training run logs every finished episode: the environment steps used so far, its
# (undiscounted) return, and the CPU time spent so far. CPU time (`time.process_time`) rather
# than wall-clock time, because other programs share this machine.


# %%
@dataclass
class Run:
    method: str
    seed: int
    env_steps: np.ndarray  # environment steps used when each episode finished
    returns: np.ndarray  # each episode's return (its length, on CartPole)
    cpu_seconds: np.ndarray  # CPU time since the start of the run, at the same moments
    updates: int
    initial_actor: nn.Sequential
    actor: nn.Sequential
    critic: nn.Sequential | None
    snapshot: nn.Sequential | None = None  # the actor once `snapshot_at` steps were used


def train_reinforce(
    seed: int, budget: int, use_baseline: bool, snapshot_at: int | None = None
) -> Run:
    """REINFORCE on batches of N_ENVS whole episodes, eq. (pg-reward-to-go), optionally with a
    learned baseline V_φ(s_t) fitted to the Monte-Carlo returns, eq. (pg-baseline)."""
    method = "REINFORCE + baseline" if use_baseline else "REINFORCE"
    torch.manual_seed(seed)
    run_rng = np.random.default_rng(seed)
    env = make_vector_env(N_ENVS)
    actor, critic = make_mlp(2), make_mlp(1)
    initial_actor = copy.deepcopy(actor)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=LR[method])
    critic_opt = torch.optim.Adam(critic.parameters(), lr=CRITIC_LR)
    log, steps, updates, start, snapshot = [], 0, 0, time.process_time(), None
    while steps < budget:
        if snapshot is None and snapshot_at is not None and steps >= snapshot_at:
            snapshot = copy.deepcopy(actor)
        batch = collect_episodes(env, actor, run_rng)
        steps += int(batch.valid.sum())
        returns = reward_to_go(batch.rewards, batch.ended, GAMMA)  # (T, N), eq. (pg-reward-to-go)
        weights = returns
        if use_baseline:  # V_φ before it sees this batch: fitting first would leak a_t into b
            with torch.no_grad():
                weights = returns - critic(batch.obs[:-1]).squeeze(-1)  # eq. (pg-baseline)
        loss = policy_loss(actor, batch.obs[:-1], batch.actions, weights, batch.valid, N_ENVS)
        actor_opt.zero_grad()
        loss.backward()
        actor_opt.step()
        if use_baseline:
            fit_critic(critic, critic_opt, batch.obs[:-1], returns, batch.valid, MC_CRITIC_STEPS)
        updates += 1
        cpu = time.process_time() - start
        log += [(steps, r, cpu) for r in batch.rewards.sum(0).tolist()]
    steps_log, returns_log, cpu_log = map(np.array, zip(*log, strict=True))
    return Run(
        method,
        seed,
        steps_log,
        returns_log,
        cpu_log,
        updates,
        initial_actor,
        actor,
        critic if use_baseline else None,
        snapshot,
    )


def train_a2c(seed: int, budget: int) -> Run:
    """Synchronous advantage actor–critic: N_ENVS running environments, an update every
    A2C_ROLLOUT steps with n-step advantages up to the rollout's end, eq. (pg-n-step)."""
    method = "actor–critic (A2C)"
    torch.manual_seed(seed)
    run_rng = np.random.default_rng(seed)
    env = make_vector_env(N_ENVS)
    actor, critic = make_mlp(2), make_mlp(1)
    initial_actor = copy.deepcopy(actor)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=LR[method])
    critic_opt = torch.optim.Adam(critic.parameters(), lr=CRITIC_LR)
    first_obs, _ = env.reset(seed=int(run_rng.integers(2**31)))
    stream = EnvStream(env, first_obs, np.ones(N_ENVS, dtype=bool), np.zeros(N_ENVS))
    log, steps, updates, start = [], 0, 0, time.process_time()
    while steps < budget:
        batch, finished = collect_rollout(stream, actor, A2C_ROLLOUT, run_rng)
        n_valid = int(batch.valid.sum())
        steps += n_valid
        with torch.no_grad():
            values = critic(batch.obs).squeeze(-1)  # (T + 1, N)
        targets = n_step_targets(
            batch.rewards, values, batch.terminated, batch.ended, GAMMA, A2C_ROLLOUT
        )  # (T, N), eq. (pg-n-step)
        advantages = targets - values[:-1]
        loss = policy_loss(actor, batch.obs[:-1], batch.actions, advantages, batch.valid, n_valid)
        actor_opt.zero_grad()
        loss.backward()
        actor_opt.step()
        fit_critic(critic, critic_opt, batch.obs[:-1], targets, batch.valid, A2C_CRITIC_STEPS)
        updates += 1
        cpu = time.process_time() - start
        log += [(steps, r, cpu) for r in finished]
    steps_log, returns_log, cpu_log = map(np.array, zip(*log, strict=True))
    return Run(method, seed, steps_log, returns_log, cpu_log, updates, initial_actor, actor, critic)


def evaluate(actor: nn.Sequential, seed: int, n_episodes: int = 16) -> float:
    """Mean return of `n_episodes` fresh episodes of the (stochastic) policy."""
    return (
        collect_episodes(make_vector_env(n_episodes), actor, np.random.default_rng(seed))
        .rewards.sum(0)
        .mean()
        .item()
    )


# %% [markdown]
# ### Per-episode gradient estimates, for measuring variance
#
# To measure the variance of an estimator, each episode's gradient estimate
# $\hat g=\sum_t\nabla_\theta\log\pi_\theta(a_t\mid s_t)\,\Psi_t$ is needed separately, for
# several weightings $\Psi_t$ of the same steps. `torch.func` computes the score of every
# step at once (`vmap` of `grad`). Each estimate is then a weighted sum of scores per episode.


# %%
def per_step_scores(actor: nn.Sequential, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """∇_θ log π_θ(a|s) for each of n steps, flattened over all parameters, (n, P)."""
    params = {name: p.detach() for name, p in actor.named_parameters()}

    def log_prob(p: dict[str, torch.Tensor], s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return functional_call(actor, p, (s,)).log_softmax(-1).gather(-1, a[None]).squeeze(-1)

    scores = vmap(grad(log_prob), in_dims=(None, 0, 0))(params, obs, actions)
    return torch.cat([g.flatten(1) for g in scores.values()], dim=1)


def per_episode_estimates(
    actor: nn.Sequential, critic: nn.Sequential, batch: Batch, n: int
) -> dict[str, torch.Tensor]:
    """One gradient estimate per episode, (E, P), for each weighting Ψ_t of the scores."""
    valid = batch.valid.bool()  # (T, E)
    scores = per_step_scores(actor, batch.obs[:-1][valid], batch.actions[valid])  # (n_steps, P)
    episode_of_step = torch.arange(valid.shape[1]).expand_as(valid)[valid]  # (n_steps,)
    with torch.no_grad():
        values = critic(batch.obs).squeeze(-1)  # (T + 1, E)
    returns = reward_to_go(batch.rewards, batch.ended, GAMMA)
    weightings = {
        "$G_t$ (REINFORCE)": returns,  # eq. (pg-reward-to-go)
        "$G_t-V(s_t)$ (baseline)": returns - values[:-1],  # eq. (pg-baseline)
        f"$G^{{({n})}}_t-V(s_t)$ ({n}-step)": n_step_targets(
            batch.rewards, values, batch.terminated, batch.ended, GAMMA, n
        )
        - values[:-1],  # eq. (pg-n-step)
        "$\\delta_t$ (one-step TD)": n_step_targets(
            batch.rewards, values, batch.terminated, batch.ended, GAMMA, 1
        )
        - values[:-1],  # eq. (pg-td-error)
    }
    n_episodes = valid.shape[1]
    return {
        name: torch.zeros(n_episodes, scores.shape[1]).index_add_(
            0, episode_of_step, weights[valid][:, None] * scores
        )
        for name, weights in weightings.items()
    }


# %% [markdown]
# ## Verification
#
# ### The errata's softmax: the score has mean zero
#
# The errata's policy has logits $[0.2,-1,0.5]$. Autograd gives each action's score
# $\nabla_z\log\pi(a)$; {eq}`pg-softmax-score` gives it in closed form; and their
# $\pi$-weighted sum must vanish, {eq}`pg-score-mean-zero`. The errata saw
# $[3\times10^{-8},0,0]$ in float32, which is zero up to float32 rounding; in float64 the
# check below asks for zero within $10^{-15}$.

# %%
errata_logits = torch.tensor([0.2, -1.0, 0.5], dtype=torch.float64, requires_grad=True)
errata_log_probs = errata_logits.log_softmax(dim=-1)  # (3,)
autograd_scores = torch.stack(
    [
        torch.autograd.grad(errata_log_probs[a], errata_logits, retain_graph=True)[0]
        for a in range(3)
    ]
)  # (3, 3): row a is ∇_z log π(a)
errata_probs = errata_log_probs.exp().detach()  # (3,)
closed_form_scores = softmax_score(errata_logits.detach(), torch.arange(3))  # (3, 3)
check_close("∇ log π(a): closed form vs autograd", closed_form_scores, autograd_scores, atol=1e-15)
mean_score = (errata_probs[:, None] * autograd_scores).sum(0)  # (3,): Σ_a π(a) ∇ log π(a)
check_close(
    "Σ_a π(a) ∇ log π(a) = 0 (float64)", mean_score, torch.zeros(3, dtype=torch.float64), atol=1e-15
)
print(f"π = {errata_probs.numpy().round(4)}, Σ_a π(a) ∇ log π(a) = {mean_score.numpy()}")

# %% [markdown]
# ### The score-function estimator of $\nabla\,\mathbb E[f(a)]$
#
# Give the three actions rewards $f=[3,1,4]$. The exact gradient of
# $\mathbb E_\pi[f]=\sum_a\pi(a)f(a)$ comes from autograd. The score-function estimator's
# expectation, {eq}`pg-score-function`, is a sum over the three actions; it must agree to
# rounding. Then the estimator is *sampled*: 20 000 actions drawn from $\pi$, one estimate
# $f(a)\nabla_z\log\pi(a)$ each, and its mean checked against the exact gradient to within four
# standard errors, per coordinate.

# %%
bandit_reward = torch.tensor([3.0, 1.0, 4.0], dtype=torch.float64)  # f(a)
(exact_gradient,) = torch.autograd.grad(
    (errata_log_probs.exp() * bandit_reward).sum(), errata_logits
)
enumerated = (errata_probs * bandit_reward) @ closed_form_scores  # Σ_a π(a) f(a) ∇ log π(a)
check_close(
    "E[f(a) ∇ log π(a)] by enumeration vs autograd ∇E[f]", enumerated, exact_gradient, atol=1e-15
)
closed_form_gradient = errata_probs * (
    bandit_reward - errata_probs @ bandit_reward
)  # π ⊙ (f - E f)
check_close("π ⊙ (f - E[f]) vs autograd ∇E[f]", closed_form_gradient, exact_gradient, atol=1e-15)

N_SAMPLES = 20_000
generator = torch.Generator().manual_seed(0)
sampled_actions = torch.multinomial(errata_probs, N_SAMPLES, replacement=True, generator=generator)
sampled_scores = closed_form_scores[sampled_actions]  # (n, 3)
sampled_reward = bandit_reward[sampled_actions]  # (n,)
plain_estimates = sampled_reward[:, None] * sampled_scores  # (n, 3): f(a) ∇ log π(a)
for i in range(3):
    check_mean_close(
        f"sampled score-function estimate, coordinate {i}",
        plain_estimates[:, i],
        exact_gradient[i].item(),
        z_max=4,
    )

# %% [markdown]
# ### A baseline: the same mean, exactly, and less variance
#
# Subtracting the constant $b=\mathbb E_\pi[f]$ from the reward must leave the enumerated
# expectation unchanged ({eq}`pg-baseline`) and, here, lower the variance
# ({eq}`pg-baseline-variance`). The exact total variance comes from enumeration; the sampled
# one comes from the same 20 000 draws. {eq}`pg-optimal-baseline` must be the minimiser of
# {eq}`pg-baseline-variance` (the vertex of a parabola in $b$), so $b^\star$ must beat every
# $b$ on a fine grid.


# %%
def exact_total_variance(baseline: float | torch.Tensor) -> torch.Tensor:
    """tr Cov[(f(a) - b) ∇ log π(a)] for a ~ π, by enumeration, eq. (pg-baseline-variance)."""
    centred = (bandit_reward - baseline)[..., None] * closed_form_scores  # (..., 3, 3)
    second_moment = (errata_probs[:, None] * centred**2).sum((-1, -2))
    return second_moment - (exact_gradient**2).sum()


mean_reward = (errata_probs @ bandit_reward).item()
with_baseline = ((bandit_reward - mean_reward) * errata_probs) @ closed_form_scores
check_close("E[(f - b) ∇ log π] with b = E[f] vs without b", with_baseline, enumerated, atol=1e-15)
baselined_estimates = (sampled_reward - mean_reward)[:, None] * sampled_scores  # (n, 3)
for i in range(3):
    check_mean_close(
        f"sampled estimate with baseline, coordinate {i}",
        baselined_estimates[:, i],
        exact_gradient[i].item(),
        z_max=4,
    )

squared_score_norm = (closed_form_scores**2).sum(1)  # (3,): ||∇ log π(a)||²
b_star = (
    (errata_probs * squared_score_norm) @ bandit_reward / (errata_probs @ squared_score_norm)
).item()
baseline_grid = torch.linspace(-2.0, 8.0, 2001, dtype=torch.float64)
variance_on_grid = exact_total_variance(baseline_grid[:, None])  # (2001,)
check_true(
    "b* of eq. (pg-optimal-baseline) minimises the exact variance",
    bool(exact_total_variance(b_star) <= variance_on_grid.min() + 1e-12),
    f"b* = {b_star:.4f}, grid minimum at b = {baseline_grid[variance_on_grid.argmin()]:.3f}",
)
variance_table = {
    "b = 0": (0.0, plain_estimates),
    "b = E[f]": (mean_reward, baselined_estimates),
    "b = b*": (b_star, (sampled_reward - b_star)[:, None] * sampled_scores),
}
for name, (b, samples) in variance_table.items():
    exact, sampled = exact_total_variance(b).item(), samples.var(0).sum().item()
    print(f"{name:>9} (b = {b:.3f}): total variance exact {exact:.4f}, sampled {sampled:.4f}")
variance_ratio = (exact_total_variance(0.0) / exact_total_variance(mean_reward)).item()
optimal_gain = (exact_total_variance(mean_reward) / exact_total_variance(b_star)).item()
check_true(
    "the baseline b = E[f] reduces the exact variance",
    bool(variance_ratio > 1),
    f"×{variance_ratio:.1f} smaller; b* only ×{optimal_gain:.3f} further",
)

# %% [markdown]
# ### The trajectory theorem on the small MDP, exactly
#
# On the 64-trajectory MDP, autograd differentiates $J(\theta)$ straight through
# {eq}`pg-trajectory`. Every estimator of the Derivation is an average over trajectories, and
# here each average is computed exactly, as a sum weighted by $p_\theta(\tau)$:
#
# 1. the full log-probability's gradient equals the sum of the policy's scores,
#    {eq}`pg-trajectory-score`: the dynamics contribute nothing;
# 2. REINFORCE with the total return, {eq}`pg-reinforce`;
# 3. reward-to-go with $\gamma^t$, {eq}`pg-reward-to-go`;
# 4. reward-to-go minus an *arbitrary* baseline $b_t(s)$ (random numbers), {eq}`pg-baseline`;
# 5. the exact advantage $A^\pi_t(s,a)$ from backward induction, {eq}`pg-advantage`;
# 6. the TD error with the exact $V^\pi$, {eq}`pg-td-error`.
#
# All must equal $\nabla_\theta J$ to rounding.

# %%
policy_logits = mdp_logits.clone().requires_grad_(True)
(true_gradient,) = torch.autograd.grad(expected_return(policy_logits), policy_logits)
true_gradient = true_gradient.flatten()  # (4,)
traj_probs = trajectory_log_probs(mdp_logits)[0].exp()  # (K,)
check_close("Σ_τ p(τ) = 1", traj_probs.sum(), torch.tensor(1.0, dtype=torch.float64), atol=1e-14)

full_score = torch.autograd.functional.jacobian(
    lambda z: trajectory_log_probs(z)[0], mdp_logits
).flatten(1)  # (K, 4): ∇ log p_θ(τ), dynamics included
step_scores = torch.autograd.functional.jacobian(
    lambda z: trajectory_log_probs(z)[1], mdp_logits
).flatten(2)  # (K, H, 4): ∇ log π_θ(a_t|s_t)
check_close("∇ log p(τ) = Σ_t ∇ log π(a_t|s_t)", full_score, step_scores.sum(1), atol=1e-14)

mdp_returns = (
    torch.flip(torch.cumsum(torch.flip(traj_rewards * discounts, [1]), 1), [1]) / discounts
)  # (K, H): G_t = Σ_{k≥t} γ^{k-t} r_k
values, q_values = exact_values(mdp_logits)  # (H + 1, S), (H, S, A)
steps_idx = torch.arange(MDP_HORIZON)
v_now = values[steps_idx, traj_states]  # (K, H): V_t(s_t)
next_states = torch.cat([traj_states[:, 1:], traj_states[:, :1]], 1)  # s_{t+1}; unused at t = H-1
v_next = torch.where(
    steps_idx < MDP_HORIZON - 1, values[steps_idx + 1, next_states], 0.0
)  # V_H = 0
advantage = q_values[steps_idx, traj_states, traj_actions] - v_now  # (K, H)
td_error = traj_rewards + MDP_GAMMA * v_next - v_now  # (K, H), eq. (pg-td-error)
random_baseline = torch.from_numpy(rng.normal(scale=3.0, size=(MDP_HORIZON, 2)))[
    steps_idx, traj_states
]


def weighted_scores(weights: torch.Tensor) -> torch.Tensor:
    """Per-trajectory estimate Σ_t w_t ∇ log π(a_t|s_t), (K, 4), for weights (K, H)."""
    return (weights[..., None] * step_scores).sum(1)


mdp_estimators = {
    "total return G_0, eq. (pg-reinforce)": weighted_scores(
        mdp_returns[:, :1].expand(-1, MDP_HORIZON)
    ),
    "γ^t G_t, eq. (pg-reward-to-go)": weighted_scores(discounts * mdp_returns),
    "γ^t (G_t - random b), eq. (pg-baseline)": weighted_scores(
        discounts * (mdp_returns - random_baseline)
    ),
    "γ^t (G_t - V_t), eq. (pg-baseline)": weighted_scores(discounts * (mdp_returns - v_now)),
    "γ^t A_t, eq. (pg-advantage)": weighted_scores(discounts * advantage),
    "γ^t δ_t with exact V, eq. (pg-td-error)": weighted_scores(discounts * td_error),
}
mdp_variance = {}
for name, per_trajectory in mdp_estimators.items():
    mean = traj_probs @ per_trajectory  # (4,): exact expectation
    check_close(f"E[{name}] vs autograd ∇J", mean, true_gradient, atol=1e-13)
    mdp_variance[name] = (traj_probs @ ((per_trajectory - mean) ** 2).sum(1)).item()

# %% [markdown]
# The same exact sums give each estimator's total variance. The table below is for this MDP,
# but its order is the usual one: each step of the derivation removes noise. The exact
# advantage $A^\pi$ has the least (but it needs $Q^\pi$, which no learner has), and the TD
# error with the exact $V^\pi$ comes close, because it carries one step of randomness
# instead of the rest of the episode. The random baseline is the exception: a baseline far
# from the returns adds noise instead of removing it.

# %%
for name, variance in mdp_variance.items():
    print(f"{name:<45} total variance {variance:8.4f}")
names = list(mdp_variance)
check_true(
    "reward-to-go < total return, V baseline < reward-to-go, exact TD < V baseline",
    mdp_variance[names[1]] < mdp_variance[names[0]]
    and mdp_variance[names[3]] < mdp_variance[names[1]]
    and mdp_variance[names[5]] < mdp_variance[names[3]],
    " > ".join(f"{mdp_variance[names[i]]:.3f}" for i in (0, 1, 3, 5)),
)

# %% [markdown]
# A critic is never exact. Add an error $\varepsilon_t(s)$ to $V$ and the TD-error estimator
# becomes biased, as {eq}`pg-td-bias` predicts, while the baseline estimator with the same
# wrong $V$ stays exact. The bias term predicted by {eq}`pg-td-bias`,
# $\mathbb E\big[\sum_t\gamma^t\nabla\log\pi_\theta(a_t\mid s_t)\,
# \gamma\,\varepsilon_{t+1}(s_{t+1})\big]$, must account for all of it.

# %%
value_error = torch.from_numpy(rng.normal(scale=0.5, size=(MDP_HORIZON + 1, 2)))
value_error[-1] = 0.0  # V_H = 0 is known exactly
wrong_values = values + value_error  # (H + 1, S)
wrong_now = wrong_values[steps_idx, traj_states]
error_next = torch.where(steps_idx < MDP_HORIZON - 1, value_error[steps_idx + 1, next_states], 0.0)
wrong_next = v_next + error_next
wrong_td = traj_probs @ weighted_scores(
    discounts * (traj_rewards + MDP_GAMMA * wrong_next - wrong_now)
)
wrong_baseline = traj_probs @ weighted_scores(discounts * (mdp_returns - wrong_now))
predicted_bias = traj_probs @ weighted_scores(discounts * MDP_GAMMA * error_next)
check_close(
    "baseline estimator with a wrong V: still unbiased", wrong_baseline, true_gradient, atol=1e-13
)
check_close(
    "TD estimator with a wrong V: bias = eq. (pg-td-bias)",
    wrong_td - true_gradient,
    predicted_bias,
    atol=1e-13,
)
relative_bias = ((wrong_td - true_gradient).norm() / true_gradient.norm()).item()
check_true("that bias is not small", relative_bias > 0.05, f"|bias| / |∇J| = {relative_bias:.2f}")

# %% [markdown]
# ### The same identity on a language model
#
# The book's small GPT (`notebook_utils.gpt`, the policy of the Part IV chapters; 2 layers,
# $d=64$, here in float64) on the sort task of `notebook_utils.rl`, with responses of 2 tokens
# from a vocabulary of 4. For one prompt, every one of the
# $4^2=16$ responses can be listed. The shared `response_logprobs` gives
# $\log\pi_\theta(y\mid x)$ as a sum of token log-probabilities, {eq}`pg-trajectory-score`.
# Then $\sum_y\pi(y\mid x)\nabla\log\pi(y\mid x)$ over all of the model's parameters must
# vanish, and the score-function expectation must equal autograd's gradient of the expected
# exact-match reward.

# %%
sort_task = SortTask(length=2, n_digits=3)
language_model = GPT(sort_task.model_config()).double()
prompt = torch.tensor([[2, 0, sort_task.sep]])  # (1, 3): sort "2 0"
every_response = torch.tensor(
    list(itertools.product(range(sort_task.vocab_size), repeat=2))
)  # (16, 2)
prompts = prompt.expand(len(every_response), -1)  # (16, 3)
sequence_log_probs = response_logprobs(language_model, prompts, every_response).sum(1)  # (16,)
sequence_probs = sequence_log_probs.exp()
check_close(
    "Σ_y π(y|x) over all 16 responses",
    sequence_probs.sum(),
    torch.tensor(1.0, dtype=torch.float64),
    atol=1e-13,
)
lm_params = list(language_model.parameters())
score_mean = torch.autograd.grad(
    (sequence_probs.detach() * sequence_log_probs).sum(), lm_params, retain_graph=True
)
score_mean_flat = torch.cat([g.flatten() for g in score_mean])
check_close(
    f"Σ_y π(y|x) ∇ log π(y|x) = 0 over {score_mean_flat.numel():,} parameters",
    score_mean_flat,
    torch.zeros_like(score_mean_flat),
    atol=1e-13,
)
sort_reward = sort_task.reward(prompts, every_response).double()  # (16,): 1 for "0 2" only
exact_lm_gradient = torch.autograd.grad(
    (sequence_probs * sort_reward).sum(), lm_params, retain_graph=True
)
reinforce_lm_gradient = torch.autograd.grad(
    (sequence_probs.detach() * sort_reward * sequence_log_probs).sum(), lm_params
)
check_close(
    "E_y[R(y) ∇ log π(y|x)] vs autograd ∇E[R] on the GPT",
    torch.cat([g.flatten() for g in reinforce_lm_gradient]),
    torch.cat([g.flatten() for g in exact_lm_gradient]),
    atol=1e-13,
)

# %% [markdown]
# ### The building blocks
#
# `reward_to_go` against a direct double sum; `n_step_targets` with $n=1$ against the TD error
# computed directly, and with a large $n$ against `reward_to_go`; and both against the shared
# `gae` of `notebook_utils.rl` (derived in [chapter 05](05_ppo.ipynb)), which gives the TD error
# at $\lambda=0$ and the Monte-Carlo advantage at $\lambda=1$. The test data are random rewards
# with random episode ends; all are terminations, because `gae` does not model truncation.

# %%
T_TEST, N_TEST = 40, 5
test_rewards = torch.from_numpy(rng.normal(size=(T_TEST, N_TEST)))
test_ended = torch.from_numpy((rng.random((T_TEST, N_TEST)) < 0.15).astype(np.float64))
test_values = torch.from_numpy(rng.normal(size=(T_TEST + 1, N_TEST)))


def direct_reward_to_go(rewards: np.ndarray, ended: np.ndarray, gamma: float) -> np.ndarray:
    """G_t as an explicit sum over k ≥ t, up to the episode's end, one (t, i) at a time."""
    out = np.zeros_like(rewards)
    for i, t in itertools.product(range(rewards.shape[1]), range(rewards.shape[0])):
        for k in range(t, rewards.shape[0]):
            out[t, i] += gamma ** (k - t) * rewards[k, i]
            if ended[k, i]:
                break
    return out


check_close(
    "reward_to_go vs the direct sum",
    reward_to_go(test_rewards, test_ended, GAMMA),
    direct_reward_to_go(test_rewards.numpy(), test_ended.numpy(), GAMMA),
    atol=1e-12,
)
one_step = n_step_targets(test_rewards, test_values, test_ended, test_ended, GAMMA, 1)
direct_td = test_rewards + GAMMA * (1 - test_ended) * test_values[1:]
check_close("n_step_targets(n = 1) vs r_t + γ V(s_{t+1})", one_step, direct_td, atol=1e-12)
test_ended_last = test_ended.clone()
test_ended_last[-1] = 1.0  # every episode ends in the batch: no bootstrap at all
check_close(
    "n_step_targets(n ≥ T) vs reward_to_go",
    n_step_targets(test_rewards, test_values, test_ended_last, test_ended_last, GAMMA, T_TEST),
    reward_to_go(test_rewards, test_ended_last, GAMMA),
    atol=1e-12,
)
for lam, n in [(0.0, 1), (1.0, T_TEST)]:
    shared_advantages, _ = gae(
        test_rewards.T,
        test_values[:-1].T,
        gamma=GAMMA,
        lam=lam,
        dones=test_ended.T,
        last_value=test_values[-1],
    )  # (N, T): the shared function puts time last
    ours = (
        n_step_targets(test_rewards, test_values, test_ended, test_ended, GAMMA, n)
        - test_values[:-1]
    )
    check_close(
        f"n_step_targets(n = {n}) - V vs shared gae(λ = {lam:g})",
        ours,
        shared_advantages.T,
        atol=1e-12,
    )

# %% [markdown]
# The NumPy rollout policy against the torch forward pass, and the vectorised per-step scores
# against autograd on a summed loss (one check for the whole `vmap`).

# %%
test_actor = make_mlp(2)
test_obs = rng.normal(size=(64, 4)).astype(np.float32)
check_close(
    "NumPy action probabilities vs torch softmax",
    action_probabilities(numpy_weights(test_actor), test_obs),
    test_actor(torch.from_numpy(test_obs)).softmax(-1),
    atol=1e-6,
)
test_actions = torch.from_numpy(rng.integers(0, 2, size=64))
test_weights = torch.from_numpy(rng.normal(size=64).astype(np.float32))
scores_vmap = per_step_scores(test_actor, torch.from_numpy(test_obs), test_actions)  # (64, P)
weighted_log_prob = (
    test_actor(torch.from_numpy(test_obs))
    .log_softmax(-1)
    .gather(-1, test_actions[:, None])
    .squeeze(-1)
    * test_weights
).sum()
autograd_total = torch.cat(
    [g.flatten() for g in torch.autograd.grad(weighted_log_prob, list(test_actor.parameters()))]
)
check_close(
    "Σ_t w_t · per-step scores (vmap) vs autograd",
    test_weights @ scores_vmap,
    autograd_total,
    atol=1e-5,
)

# %% [markdown]
# ## Experiments
#
# ### 1. The baseline's effect on variance, for one decision
#
# For the errata's policy and $f=[3,1,4]$: the exact total variance as a function of a constant
# baseline $b$, {eq}`pg-baseline-variance`. It is a parabola, with its minimum at $b^\star$ of
# {eq}`pg-optimal-baseline`. The dots are the variances of the 20 000 sampled estimates.

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.plot(
    baseline_grid, variance_on_grid, color=PALETTE[0], label="exact, eq. (pg-baseline-variance)"
)
for (name, (b, samples)), colour in zip(variance_table.items(), PALETTE[1:], strict=False):
    label = f"sampled, {name}" + (f" = {b:.2f}" if b else "")
    ax.plot(b, samples.var(0).sum().item(), "o", color=colour, ms=7, label=label)
ax.set(
    xlabel="constant baseline $b$",
    ylabel="total variance of $(f(a)-b)\\,\\nabla\\log\\pi(a)$",
    title=(
        f"A baseline at E[f] cuts the variance ×{variance_ratio:.1f}; "
        f"the optimal b* only ×{optimal_gain:.2f} more"
    ),
)
ax.legend(loc="upper center")
plt.show()

# %% [markdown]
# ### 2. REINFORCE, REINFORCE with a baseline, and actor–critic on CartPole
#
# Three learners, each with the same actor and, where it has one, the same critic. Each is
# trained for the same number of environment steps from the same seeds; for a given seed all
# three start from the same initial actor.
#
# - **REINFORCE**: batches of 16 whole episodes, weights $G_t$ ({eq}`pg-reward-to-go`).
# - **REINFORCE + baseline**: the same batches, weights $G_t-V_\phi(s_t)$ ({eq}`pg-baseline`),
#   with the critic regressed on $G_t$ after each update.
# - **Actor–critic (A2C)**: 16 environments that never stop, an update every 16 steps of each,
#   weights $G^{(n)}_t-V_\phi(s_t)$ bootstrapped from the rollout's last state
#   ({eq}`pg-n-step`), and the critic regressed on those targets.
#
# The actor's learning rate was chosen per method from $\{0.005, 0.01, 0.02\}$ in runs made
# while writing this chapter (not repeated here). A2C makes several times as many updates,
# and its best rate was the smaller one. The cell prints the settings.

# %%
print(f"γ = {GAMMA}, MLP 4-{HIDDEN}-out, Adam; {BUDGET:,} environment steps per run; seeds {SEEDS}")
print(
    f"critic: lr {CRITIC_LR}, {MC_CRITIC_STEPS} steps per REINFORCE batch, "
    f"{A2C_CRITIC_STEPS} per A2C update"
)
for method, lr in LR.items():
    print(f"  {method:<22} actor lr {lr}")
trainers: dict[str, Callable[[int, int], Run]] = {
    "REINFORCE": lambda seed, budget: train_reinforce(seed, budget, use_baseline=False),
    "REINFORCE + baseline": lambda seed, budget: train_reinforce(
        seed, budget, use_baseline=True, snapshot_at=SNAPSHOT_STEPS
    ),
    "actor–critic (A2C)": train_a2c,
}
runs = [trainers[method](seed, BUDGET) for method in trainers for seed in SEEDS]

# %% [markdown]
# Every run must improve the true objective: the mean return of 16 fresh episodes, on
# environment seeds that training never used, before and after training.

# %%
EVAL_SEED = 12_345
for seed in SEEDS:
    first_actors = [run.initial_actor for run in runs if run.seed == seed]
    same_start = all(
        torch.equal(p, q)
        for actor in first_actors[1:]
        for p, q in zip(actor.parameters(), first_actors[0].parameters(), strict=True)
    )
    check_true(f"seed {seed}: the three methods start from the same actor", same_start)
initial_return = {seed: evaluate(runs[i].initial_actor, EVAL_SEED) for i, seed in enumerate(SEEDS)}
final_return = {}
for run in runs:
    final_return[run.method, run.seed] = after = evaluate(run.actor, EVAL_SEED)
    before = initial_return[run.seed]
    check_true(
        f"{run.method}, seed {run.seed}: held-out return improves ×3 or more",
        after > 3 * before,
        f"{before:.1f} → {after:.1f} ({run.updates} updates)",
    )

# %% [markdown]
# The learning curves use the same measure for every learner: the mean return of the last 16
# episodes finished by a given point of the run (REINFORCE finishes 16 at a time, A2C one by
# one), on a grid of environment steps, averaged over the seeds. The summary gives its mean
# over the grid (the area under the curve: the sample efficiency), the held-out return at the
# end, and the compute each run used.

# %%
WINDOW = 16  # episodes in the moving average
STEP_GRID = np.linspace(BUDGET / 20, BUDGET, 20)
METHOD_COLOURS = dict(zip(LR, PALETTE, strict=False))


def recent_return(at: np.ndarray, when: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Mean return of the last WINDOW episodes finished by each point of `at` (`when` is
    sorted: the step count or CPU time at which each episode finished); NaN before any."""
    finished = np.searchsorted(when, at, side="right")  # episodes finished by each point
    return np.array([returns[max(0, k - WINDOW) : k].mean() if k else np.nan for k in finished])


summary = {}
columns = ["mean return", "held-out", "updates"]
print(f"{'method':<22} " + " ".join(f"{c:>12}" for c in columns))
for method in LR:
    method_runs = [r for r in runs if r.method == method]
    curves = np.stack([recent_return(STEP_GRID, r.env_steps, r.returns) for r in method_runs])
    summary[method] = info = dict(
        curves=curves,  # (seeds, grid)
        per_seed=np.nanmean(curves, axis=1),  # (seeds,): area under each run's curve
        held_out=np.mean([final_return[method, seed] for seed in SEEDS]),
        cpu=np.mean([r.cpu_seconds[-1] for r in method_runs]),
        updates=np.mean([r.updates for r in method_runs]),
    )
    info["mean_return"] = info["per_seed"].mean()
    row = [info["mean_return"], info["held_out"], info["updates"]]
    print(f"{method:<22} " + " ".join(f"{v:>12.1f}" for v in row))
for method, info in summary.items():  # timing lines: they differ from run to run
    print(
        f"{method:<22} CPU {info['cpu']:.2f} s per run, "
        f"{1e6 * info['cpu'] / BUDGET:.1f} ms per 1000 environment steps"
    )
for method, info in summary.items():
    print(f"{method:<22} mean return per seed: {np.round(info['per_seed'], 1)}")
plain, baselined, a2c = (info["per_seed"] for info in summary.values())
check_true(
    "A2C has the highest mean return per environment step, in every seed",
    bool(np.all(a2c > np.maximum(plain, baselined))),
    " vs ".join(f"{m} {info['mean_return']:.1f}" for m, info in summary.items()),
)
baseline_gain = summary["REINFORCE + baseline"]["mean_return"] / summary["REINFORCE"]["mean_return"]
cpu_spread = max(i["cpu"] for i in summary.values()) / min(i["cpu"] for i in summary.values())
print(f"REINFORCE + baseline / REINFORCE, mean return: ×{baseline_gain:.2f}")
cpu_times = [info["cpu"] for info in summary.values()]
print(
    f"the most expensive learner used ×{cpu_spread:.2f} the CPU time of the cheapest "
    f"({max(cpu_times):.2f} s vs {min(cpu_times):.2f} s)"
)

# %%
fig, (ax_steps, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for method, info in summary.items():
    colour = METHOD_COLOURS[method]
    curves = info["curves"]
    ax_steps.plot(STEP_GRID, curves.mean(0), color=colour, label=method)
    ax_steps.fill_between(STEP_GRID, curves.min(0), curves.max(0), color=colour, alpha=0.15)
    for run in (r for r in runs if r.method == method):
        time_grid = np.linspace(0, run.cpu_seconds[-1], 40)
        by_time = recent_return(time_grid, run.cpu_seconds, run.returns)
        ax_time.plot(time_grid, by_time, color=colour, alpha=0.8)
ax_steps.set(
    xlabel="environment steps",
    ylabel=f"return, mean of the last {WINDOW} episodes",
    title="Per environment step (band: range over seeds)",
)
ax_time.set(xlabel="CPU seconds", title="Per CPU second (one line per seed)")
ax_steps.legend(loc="upper left")
lowest = min(summary, key=lambda m: summary[m]["mean_return"])
fig.suptitle(
    f"A2C learns most per environment step (mean return "
    f"{summary['actor–critic (A2C)']['mean_return']:.0f} vs {summary[lowest]['mean_return']:.0f} "
    f"for {lowest})"
)
plt.show()

# %% [markdown]
# What the printout and the figure show:
#
# - **Per environment step, A2C learns fastest**, in every seed (checked). It updates after
#   every 16 steps of its 16 environments instead of after 16 whole episodes, so it makes
#   many more updates from the same experience, and its bootstrapped advantages have low
#   variance.
# - **The baseline changes REINFORCE's learning curve far less than it changes the variance.**
#   REINFORCE + baseline's mean return is the printed multiple of plain REINFORCE's;
#   Experiment 3 measures the variance cut and compares the two. With 16 whole episodes per
#   batch the noise is already a modest fraction of the signal, and Adam rescales each
#   parameter's step, so a less noisy direction buys less than one might expect. The right
#   panel of the next figure shows the gap between estimators widening as batches shrink.
# - **Per CPU second**, the learners cost the same order of time per run (the printed spread).
#   So A2C's lead per environment step carries over to compute here (right panel). The costs
#   differ in kind. A2C runs many small updates, each a backward pass through two networks.
#   REINFORCE updates rarely, but each batch waits for the longest of its 16 episodes while
#   the finished environments idle. At LLM scale a rollout (generation) costs far more than an
#   update of a small network, and a value model is a second large network, so the accounting
#   changes again: see the last pitfall.
#
# ### 3. Gradient variance at a fixed policy
#
# Learning curves mix variance with everything else. To measure the estimators themselves,
# fix a policy and draw 256 independent episodes. From each episode, compute four gradient
# estimates, all on the same steps: $G_t$, $G_t-V(s_t)$, the $16$-step
# $G^{(16)}_t-V(s_t)$ and the TD error $\delta_t$. $V$ is a critic fitted to this policy by
# regression on the Monte-Carlo returns of 32 *other* episodes ({eq}`pg-critic-loss`), so it
# never saw the episodes it is used on. Two policies are measured: the seed-0 actor at
# initialisation, and the same actor partway through its REINFORCE-with-baseline run of
# Experiment 2 (a copy taken once `SNAPSHOT_STEPS` environment steps were used).
#
# The statistics are relative to $\lVert\nabla J\rVert^2$, estimated from the mean of the
# unbiased $G_t-V(s_t)$ estimator. The variance is the trace of the covariance of one
# episode's estimate; a batch of $B$ episodes divides it by $B$. The squared bias is
# $\lVert\mathbb E[\hat g]-\nabla J\rVert^2$, measured against the same reference on the
# same episodes. Both squared norms are corrected for the noise of the 256-episode means.

# %%
VARIANCE_EPISODES, FIT_EPISODES, N_STEP = 256, 32, 16


def fitted_critic(actor: nn.Sequential, seed: int) -> tuple[nn.Sequential, float]:
    """A critic for a fixed policy, fitted on the Monte-Carlo returns of FIT_EPISODES episodes
    (eq. (pg-critic-loss)); also returns the fraction of the returns' variance it explains."""
    torch.manual_seed(seed)
    batch = collect_episodes(make_vector_env(FIT_EPISODES), actor, np.random.default_rng(seed))
    returns = reward_to_go(batch.rewards, batch.ended, GAMMA)
    critic = make_mlp(1)
    optimizer = torch.optim.Adam(critic.parameters(), lr=5 * CRITIC_LR)
    loss = fit_critic(critic, optimizer, batch.obs[:-1], returns, batch.valid, steps=100)
    return critic, 1 - loss / returns[batch.valid.bool()].var().item()


def estimator_statistics(
    estimates: dict[str, torch.Tensor], reference: str
) -> dict[str, tuple[float, float]]:
    """Per estimator: (tr Cov(ĝ), ||E ĝ - ∇J||²), both divided by ||∇J||², with ∇J the mean of
    the `reference` estimator; squared norms of means are corrected for their noise."""
    ref = estimates[reference]
    n = len(ref)
    signal = (ref.mean(0).square().sum() - ref.var(0).sum() / n).item()
    stats = {}
    for name, g in estimates.items():
        diff = g - ref
        bias_sq = (diff.mean(0).square().sum() - diff.var(0).sum() / n).item()
        stats[name] = (g.var(0).sum().item() / signal, max(bias_sq, 0.0) / signal)
    return stats


snapshot_run = next(r for r in runs if r.method == "REINFORCE + baseline" and r.seed == 0)
assert snapshot_run.snapshot is not None
fixed_policies = {
    "at initialisation": snapshot_run.initial_actor,
    f"after {SNAPSHOT_STEPS:,} steps": snapshot_run.snapshot,
}
REFERENCE = "$G_t-V(s_t)$ (baseline)"
variance_stats, mean_lengths = {}, {}
for i, (policy_name, actor) in enumerate(fixed_policies.items()):
    critic, explained = fitted_critic(actor, seed=100 + i)
    episodes = collect_episodes(
        make_vector_env(VARIANCE_EPISODES), actor, np.random.default_rng(200 + i)
    )
    estimates = per_episode_estimates(actor, critic, episodes, N_STEP)
    variance_stats[policy_name] = estimator_statistics(estimates, REFERENCE)
    mean_lengths[policy_name] = episodes.valid.sum(0).mean().item()
    direction = torch.from_numpy(rng.normal(size=estimates[REFERENCE].shape[1]).astype(np.float32))
    direction /= direction.norm()
    check_mean_close(
        f"{policy_name}: (ĝ without baseline - ĝ with baseline)·u = 0, u a random direction",
        (estimates["$G_t$ (REINFORCE)"] - estimates[REFERENCE]) @ direction,
        0.0,
        z_max=4,
    )
    print(
        f"{policy_name}: mean episode length {mean_lengths[policy_name]:.0f}, "
        f"critic explains {explained:.0%} of the return's variance"
    )
    for name, (variance, bias_sq) in variance_stats[policy_name].items():
        print(f"  {name:<32} variance {variance:7.3f}   squared bias {bias_sq:6.3f}")

# %%
for policy_name, stats in variance_stats.items():
    (v_plain, b_plain), (v_base, _), (v_n, b_n), (v_td, b_td) = stats.values()
    check_true(
        f"{policy_name}: variance G_t > G_t - V > δ_t, and δ_t below the {N_STEP}-step return",
        v_plain > v_base > v_td and v_td < v_n,
        f"{v_plain:.2f} > {v_base:.2f} > {v_td:.2f} (×{v_plain / v_base:.1f} from the baseline); "
        f"{N_STEP}-step {v_n:.2f}",
    )
    check_true(
        f"{policy_name}: δ_t has the largest measured squared bias",
        b_td > max(b_plain, b_n),
        f"{b_td:.3f} vs {b_n:.3f} ({N_STEP}-step) and {b_plain:.3f} (G_t, unbiased)",
    )
trained = variance_stats[f"after {SNAPSHOT_STEPS:,} steps"]
(v_plain, _), (v_base, _), (v_n, b_n), (v_td, b_td) = trained.values()
check_true(
    "the baseline's gain in training is smaller than its cut in variance",
    baseline_gain < v_plain / v_base,
    f"mean return ×{baseline_gain:.2f} vs variance ÷{v_plain / v_base:.1f}",
)
one_episode_error = {name: bias_sq + variance for name, (variance, bias_sq) in trained.items()}
td_name = list(trained)[3]
largest_b = VARIANCE_EPISODES
check_true(
    "batch error: δ_t is lowest of all for B = 1, and above G_t - V for B = 256",
    min(one_episode_error, key=one_episode_error.get) == td_name
    and b_td + v_td / largest_b > v_base / largest_b,
    f"B = 1: δ_t {b_td + v_td:.3f} vs G_t - V {v_base:.3f}; "
    f"B = {largest_b}: {b_td + v_td / largest_b:.4f} vs {v_base / largest_b:.4f}",
)

# %% [markdown]
# The right panel combines bias and variance into the mean squared error of a batch of $B$
# episodes, $\text{bias}^2+\text{variance}/B$ (relative to $\lVert\nabla J\rVert^2$), at the
# trained policy. An unbiased estimator's error falls like $1/B$ forever. A biased one levels
# off at its squared bias.

# %%
fig, (ax_var, ax_mse) = plt.subplots(1, 2, figsize=(11, 4.2))
estimator_names = list(next(iter(variance_stats.values())))
x = np.arange(len(estimator_names))
for j, (policy_name, stats) in enumerate(variance_stats.items()):
    ax_var.bar(
        x + (j - 0.5) * 0.38,
        [stats[n][0] for n in estimator_names],
        width=0.38,
        color=PALETTE[j],
        label=f"policy {policy_name} (mean length {mean_lengths[policy_name]:.0f})",
    )
ax_var.set_yscale("log")
ax_var.set_xticks(x, [n.split(" (")[0] for n in estimator_names])
ax_var.set(
    ylabel="variance of one episode's estimate / $\\|\\nabla J\\|^2$", title="Variance per episode"
)
ax_var.legend(loc="upper right")
batch_sizes = np.logspace(0, np.log10(VARIANCE_EPISODES), 50)
trained_stats = variance_stats[f"after {SNAPSHOT_STEPS:,} steps"]
for name, colour in zip(estimator_names, PALETTE, strict=False):
    variance, bias_sq = trained_stats[name]
    ax_mse.loglog(batch_sizes, bias_sq + variance / batch_sizes, color=colour, label=name)
ax_mse.axvline(N_ENVS, color="0.5", ls=":", lw=1)
ax_mse.text(N_ENVS * 1.05, ax_mse.get_ylim()[0] * 1.5, "REINFORCE's batch", color="0.4", fontsize=8)
ax_mse.set(
    xlabel="episodes per batch $B$",
    ylabel="relative mean squared error",
    title=f"Batch error, policy after {SNAPSHOT_STEPS:,} steps",
)
ax_mse.legend(loc="lower left")
(v_plain, _), (v_base, _), _, (v_td, b_td) = trained_stats.values()
fig.suptitle(
    f"The baseline cuts the variance ×{v_plain / v_base:.1f}, unbiased; "
    f"$\\delta_t$ cuts it ×{v_base / v_td:.1f} more but is biased"
)
plt.show()

# %% [markdown]
# Reading the numbers above:
#
# - The learned baseline divides the variance by the printed factor at both policies, and the
#   random-direction check finds no difference in the mean, as {eq}`pg-baseline` promises.
#   In training the same baseline changed the mean return by a much smaller factor (printed
#   above).
# - The one-step TD error has the smallest variance and the largest measured bias (both
#   checked). The
#   critic explains only part of the return's variance, and by {eq}`pg-td-bias` its errors
#   enter the gradient. The 16-step return sits in between. The bias estimates are rough:
#   256 episodes resolve them only to a few standard errors. The exact MDP check above is
#   the proof that the bias is real.
# - Which estimator is best depends on the batch size. For a single episode, variance
#   dominates and the TD error has the smallest error of all (checked). For 256 episodes, the bias
#   floor dominates and the unbiased baseline wins. GAE's $\lambda$ moves along this line
#   ([chapter 05](05_ppo.ipynb)).

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Actor–critic has four models: actor, critic, reward, reference (optional)."
# That is the notes' list, and it mixes two settings. Generic actor–critic trains **two**
# networks: the actor $\pi_\theta$ and the critic $V_\phi$. The reward is part of the
# environment, and there is no reference policy. The four-model picture is PPO-based RLHF
# {cite}`ouyang2022training`: policy and value model are trained, while the reward model
# (learned earlier from preferences) and the reference policy (the SFT model) are frozen.
# There the reference is not optional. The KL penalty $\beta\log(\pi_\theta/\pi_\text{ref})$
# in the reward needs its log-probabilities, and without it the policy drifts into whatever
# the reward model over-rates ([chapter 08](08_reward_hacking.ipynb)). See the table in the
# Derivation: GRPO and RLOO keep three networks (no value model), DPO two.
# :::
#
# :::{dropdown} My REINFORCE loss goes up while the return improves. Is something broken?
# No. The surrogate {eq}`pg-surrogate` is not a loss in the usual sense. Its gradient is the
# policy-gradient estimate, but its value depends on the weights $\hat A_t$ of the current
# batch, which change as the policy improves (on CartPole the returns grow with episode
# length). Monitor the return, the entropy of the policy and, if there is one, the critic's
# loss, not the surrogate.
# :::
#
# :::{dropdown} Why detach the advantage?
# In the surrogate, $\hat A_t$ is a *weight*, a number fixed before the update. Without
# `detach`, autograd also sends the surrogate's gradient into whatever $\hat A_t$ was computed
# from, i.e. into $V_\phi$. With separate networks the actor's gradient is unchanged
# ($\hat A_t$ does not depend on $\theta$), but the critic receives a gradient that pushes
# $V_\phi$ to shrink the surrogate instead of fitting the returns. With a shared trunk (one
# network with a policy head and a value head, common in A2C and PPO code) the actor's update
# changes too. The critic gets its own loss, {eq}`pg-critic-loss`, with the bootstrapped
# target held fixed as well.
# :::
#
# :::{dropdown} Can the baseline depend on the action, or on the batch?
# Not on the action: $\mathbb E[\nabla\log\pi(a\mid s)\,b(s,a)]\ne0$ in general, and the
# estimate becomes biased. A baseline computed from the batch is subtler. If it includes the
# sample it is subtracted from (the batch mean of the returns), it depends on that sample's
# action, and the mean gradient shrinks by the factor $1-1/G$ for groups of $G$ samples. The
# leave-one-out mean (RLOO {cite}`ahmadian2024back`) is exactly unbiased. Check yourself 2
# verifies both by enumeration. Per-batch *advantage normalisation* (subtract the mean,
# divide by the standard deviation) is such a batch baseline plus a rescaling of the step; it
# is common in PPO code and in GRPO ([chapter 07](07_grpo.ipynb)).
# :::
#
# :::{dropdown} Does any baseline reduce variance?
# No. A baseline never changes the mean, but the variance {eq}`pg-baseline-variance` is a
# parabola in $b$, and a baseline far from the returns *increases* it. In the exact MDP table
# above, a random baseline gives a much larger variance than no baseline at all. The useful
# baselines are close to $b^\star$ of {eq}`pg-optimal-baseline`, i.e. close to $V(s)$.
# :::
#
# :::{dropdown} Implementations drop the $\gamma^t$ in {eq}`pg-reward-to-go`. Does it matter?
# It changes the update. $\sum_t\gamma^t\nabla\log\pi\,G_t$ is the gradient of the
# discounted return. Without $\gamma^t$, late steps count as much as early ones, and the
# result is in general not the gradient of any objective {cite}`nota2020policy`.
# Practitioners accept this on purpose: with $\gamma=0.99$ the factor would shrink the weight
# of step 300 to about 5 %. $\gamma$ then acts as a variance-reducing horizon inside $G_t$,
# not as part of the objective. On the exact MDP the next cell measures how far the expected
# update moves from $\nabla J$, in length and in angle.
# :::

# %%
without_discount_weight = traj_probs @ weighted_scores(mdp_returns)  # Σ_t G_t ∇ log π, no γ^t
cosine = torch.nn.functional.cosine_similarity(without_discount_weight, true_gradient, dim=0)
relative_gap = ((without_discount_weight - true_gradient).norm() / true_gradient.norm()).item()
check_true(
    "dropping γ^t changes the expected update on the MDP",
    relative_gap > 0.01,
    f"|E[ĝ] - ∇J| / |∇J| = {relative_gap:.2f}, angle {np.degrees(np.arccos(cosine.item())):.1f}°",
)

# %% [markdown]
# :::{dropdown} Can REINFORCE reuse old episodes?
# Not as written. Every expectation above is over trajectories of the *current* policy, so
# after one update the batch is off-policy. Reusing it needs importance weights
# $\pi_\theta/\pi_{\theta_\text{old}}$. Their variance grows with the distance between the two
# policies, and PPO clips them to reuse a batch for a few epochs ([chapter 05](05_ppo.ipynb)).
# Learning from a fixed log is offline RL ([chapter 09](09_online_vs_offline_rl.ipynb)).
# :::
#
# :::{dropdown} When would you pick REINFORCE over actor–critic?
# When a critic is hard to learn or too expensive to hold. LLM fine-tuning is the main case.
# The reward arrives once, at the end of the response; the "dynamics" (append a token) are
# deterministic; and a value model is another copy of a billion-parameter network. RLOO
# {cite}`ahmadian2024back` and GRPO {cite}`shao2024deepseekmath` replace the critic by the
# other samples of the same prompt, and report results as good as or better than PPO's.
# Actor–critic wins when episodes are long and rewards dense, as in control and games: the
# critic gives credit step by step, and the policy can update before an episode ends.
# :::
#
# :::{dropdown} Why is actor–critic biased, and is that bad?
# Because $\delta_t$ and $G^{(n)}_t$ use $V_\phi$, and $V_\phi\ne V^\pi$: the error term of
# {eq}`pg-td-bias` depends on the action. The bias is the price of a large variance cut. The
# experiment above shows the trade: for small batches the biased estimator has the lower
# total error. Longer $n$ (or $\lambda\to1$ in GAE) reduces the bias; a better critic reduces
# both.
# :::
#
# :::{dropdown} What is a policy gradient for a language model, concretely?
# Sample a response $y\sim\pi_\theta(\cdot\mid x)$, score it, and weight
# $\nabla\log\pi_\theta(y\mid x)=\sum_t\nabla\log\pi_\theta(y_t\mid x,y_{<t})$ by the reward
# minus a baseline. This is the sum of the per-token log-probabilities that
# `notebook_utils.rl.response_logprobs` returns; the Verification section checks the identity
# on the book's GPT. With a reward only at the end and $\gamma=1$, every token's reward-to-go
# is the final reward, so REINFORCE gives every token the same weight. A value model can give
# per-token advantages instead (PPO, [chapter 05](05_ppo.ipynb)).
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A policy over two actions has logits $[0,0]$ and rewards $f=[1,0]$. What is
#    $\nabla_z\mathbb E[f]$, and what is the total variance of the one-sample estimator
#    $f(a)\nabla_z\log\pi(a)$ with $b=0$ and with $b=0.5$?
#
#    :::{dropdown} Answer
#    $\pi=[\tfrac12,\tfrac12]$, so
#    $\nabla_z\mathbb E[f]=\pi\odot(f-\mathbb E f)=[\tfrac14,-\tfrac14]$. With $b=0$ the
#    estimate is $[\tfrac12,-\tfrac12]$ after action 0 and $0$ after action 1, so its total
#    variance is $\tfrac12\cdot\tfrac12-\tfrac18=\tfrac18$. With $b=\tfrac12$
#    both actions give $[\tfrac14,-\tfrac14]$: every sample is the exact gradient, and the
#    variance is 0. The next cell checks this.
#    :::

# %%
two_logits = torch.zeros(2, dtype=torch.float64)
two_rewards = torch.tensor([1.0, 0.0], dtype=torch.float64)
two_probs = two_logits.softmax(-1)
two_scores = softmax_score(two_logits, torch.arange(2))  # (2, 2)
for b, expected_variance in [(0.0, 1 / 8), (0.5, 0.0)]:
    samples = (two_rewards - b)[:, None] * two_scores  # (2, 2): the estimate after each action
    mean = two_probs @ samples
    variance = two_probs @ (samples**2).sum(1) - (mean**2).sum()
    check_close(
        f"b = {b}: mean = [1/4, -1/4]",
        mean,
        torch.tensor([0.25, -0.25], dtype=torch.float64),
        atol=1e-15,
    )
    check_close(
        f"b = {b}: total variance",
        variance,
        torch.tensor(expected_variance, dtype=torch.float64),
        atol=1e-15,
    )

# %% [markdown]
# 2. GRPO-style groups: draw $G=4$ actions from the errata's policy and use, for each sample,
#    the group mean of $f$ as its baseline. Is the average of $(f_i-\bar f)\nabla\log\pi(a_i)$
#    unbiased? And with the leave-one-out mean $\bar f_{-i}$?
#
#    :::{dropdown} Answer
#    With the plain mean, $\bar f$ contains $f_i/G$, which depends on $a_i$. Write
#    $f_i-\bar f=(1-\tfrac1G)\big(f_i-\bar f_{-i}\big)$: the leave-one-out baseline is
#    independent of $a_i$, so it is unbiased, and the plain mean gives
#    $(1-\tfrac1G)\nabla J$, here $\tfrac34\nabla J$. The direction is right but the step is
#    shrunk. RLOO uses $\bar f_{-i}$; GRPO uses $\bar f$ and then divides by the standard
#    deviation ([chapter 07](07_grpo.ipynb)). The next cell enumerates all $3^4=81$ groups.
#    :::

# %%
GROUP = 4
groups = torch.tensor(list(itertools.product(range(3), repeat=GROUP)))  # (81, G)
group_probs = errata_probs[groups].prod(1)  # (81,)
group_rewards = bandit_reward[groups]  # (81, G)
group_scores = closed_form_scores[groups]  # (81, G, 3)
group_mean = group_rewards.mean(1, keepdim=True)
leave_one_out = (group_rewards.sum(1, keepdim=True) - group_rewards) / (GROUP - 1)
for name, baseline, factor in [
    ("group mean", group_mean, 1 - 1 / GROUP),
    ("leave-one-out", leave_one_out, 1.0),
]:
    estimate = ((group_rewards - baseline)[..., None] * group_scores).mean(1)  # (81, 3)
    check_close(
        f"{name} baseline: E = {factor:g} ∇J",
        group_probs @ estimate,
        factor * exact_gradient,
        atol=1e-15,
    )

# %% [markdown]
# 3. How many networks are in memory during the RL stage of PPO-based RLHF, of GRPO with a
#    rule-based reward, and of DPO? Which of them receive gradients?
#
#    :::{dropdown} Answer
#    PPO-based RLHF: four (policy and value trained; reward model and reference frozen).
#    GRPO with a rule-based checker: two (the policy, trained; the reference, frozen, for the
#    KL term); with a learned reward model, three. DPO: two (the policy, trained; the
#    reference, frozen, whose log-probabilities can even be precomputed once). Generic
#    actor–critic: two, both trained.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`williams1992simple`: REINFORCE, the score-function gradient of an expected
#   reward and the reinforcement baseline ({eq}`pg-reinforce`, {eq}`pg-baseline`).
# - {cite:t}`sutton2000policy`: the policy-gradient theorem with $Q^\pi$ and the advantage
#   ({eq}`pg-advantage`).
# - {cite:t}`sutton2018reinforcement`, chapter 13: REINFORCE with baseline and one-step
#   actor–critic; chapter 7 for $n$-step returns ({eq}`pg-n-step`).
# - {cite:t}`greensmith2004variance`: variance of policy-gradient estimates and the
#   variance-minimising baseline ({eq}`pg-optimal-baseline`).
# - {cite:t}`mnih2016asynchronous`: advantage actor–critic with $n$-step returns bootstrapped
#   from the end of a short rollout (the A2C learner).
# - {cite:t}`schulman2016high`: advantage estimators between $\delta_t$ and the Monte-Carlo
#   return, and their bias–variance trade (GAE, derived in chapter 05).
# - {cite:t}`nota2020policy`: the missing $\gamma^t$ makes the usual update not a gradient.
# - {cite:t}`ouyang2022training`: the four models of PPO-based RLHF, the KL penalty to the SFT
#   reference, the value model initialised from the reward model.
# - {cite:t}`shao2024deepseekmath` (GRPO) and {cite:t}`ahmadian2024back` (RLOO): REINFORCE-style
#   training of language models without a value model, with group baselines.
# - {cite:t}`rafailov2023direct`: DPO's two models (policy and reference).
# - {cite:t}`towers2024gymnasium`: CartPole-v1 and its vectorised implementation, with the
#   next-step autoreset convention.

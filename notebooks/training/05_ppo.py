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
# # 05. PPO and why it needs a critic
#
# **The question.** What is PPO? Why does PPO need a critic model?
#
# **What you will be able to answer.** Why PPO's objective has a probability ratio, what the
# `min` and the `clip` do for a positive and for a negative advantage, why that is not a hard
# trust region; the value loss and the entropy bonus; what the critic buys (the TD error, GAE
# and its bias–variance knob $\lambda$); and when PPO beats a plain policy gradient, in
# environment steps and in compute.

# %%
import dataclasses
import math
import time

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from notebook_utils import rl
from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - **What PPO is.** Proximal Policy Optimization {cite}`schulman2017proximal` is an
#   actor–critic policy-gradient method that squeezes more out of each batch of rollouts: it
#   takes several epochs of minibatch gradient steps on the same data, which a plain policy
#   gradient cannot do. To do so it maximises an importance-weighted surrogate with the ratio
#   $r_t(\theta)=\pi_\theta(a_t|s_t)/\pi_{\theta_\text{old}}(a_t|s_t)$, clipped:
#   $$L^\text{CLIP}(\theta)=\hat{\mathbb E}_t\big[\min\big(r_t\hat A_t,\
#   \operatorname{clip}(r_t,1-\epsilon,1+\epsilon)\,\hat A_t\big)\big],\qquad \epsilon\approx0.2.$$
# - **What the min and the clip do.** For $\hat A_t>0$ the term is $\hat A_t\min(r_t,1+\epsilon)$:
#   once a good action is $1+\epsilon$ times likelier than before, pushing further gains
#   nothing. For $\hat A_t<0$ it is $\hat A_t\max(r_t,1-\epsilon)$. Where the policy moved
#   the wrong way (a good action made rarer, a bad one likelier) nothing is clipped, so
#   $L^\text{CLIP}$ is a pessimistic lower bound of the unclipped surrogate. It is **not a
#   hard trust region**: it removes the incentive to move further, not the movement. Ratios
#   still leave $[1-\epsilon,1+\epsilon]$ (measured below), so implementations also watch an
#   approximate KL and often stop the epochs early.
# - **The full loss** adds a value loss and an entropy bonus, maximising
#   $L^\text{CLIP}-c_1\big(V_\phi(s_t)-\hat V^\text{targ}_t\big)^2
#   +c_2\,\mathcal H[\pi_\theta(\cdot|s_t)]$.
# - **Why a critic.** Each action needs an advantage $\hat A_t$. The critic $V_\phi$ is a
#   baseline that removes the part of the return the action did not cause (less variance, no
#   bias), and it lets us bootstrap from the "surprise", the TD error
#   $\delta_t=r_t+\gamma V(s_{t+1})-V(s_t)$. GAE averages the $n$-step estimates:
#   $\hat A_t=\sum_{l\ge0}(\gamma\lambda)^l\delta_{t+l}$. $\lambda=0$ gives $\delta_t$ (low
#   variance, biased by the critic's errors); $\lambda=1$ gives the return minus $V(s_t)$
#   (unbiased, high variance). In RLHF the critic is a second LLM-sized model; InstructGPT
#   initialises it from the reward model, and GRPO drops it for a group baseline.
# - **Does it pay?** Measured on CartPole against the same actor–critic taking one gradient
#   step per batch: PPO needs fewer environment steps (far fewer at the same learning rate),
#   but each step costs more compute, and a vanilla policy gradient with a tuned learning
#   rate does as well or better in the same CPU time. PPO pays where samples are expensive,
#   as in RLHF, where every sample is a generated response.
#
# The notes announce the clipped objective ("…so updates don't change the policy too much:")
# and the surprise ("…so you learn from the surprise:") and then give neither formula. They
# call the clip a "trust-region-like constraint"; it constrains nothing, it only removes an
# incentive (Experiment 3). They leave out that InstructGPT initialises the value model from
# the reward model {cite}`ouyang2022training`.
# And a typo: "a value head … be added" should read "a value head … is added".

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $s_t,a_t,r_t$ | state, action, reward at step $t$ | `observations`, `actions`, `rewards` |
# | $\pi_\theta(a|s)$ | the policy (actor) with parameters $\theta$ | `actor` |
# | $\theta_\text{old}$ | the parameters that collected the current batch | `old_logp` |
# | $V_\phi(s)$ | the critic's estimate of the value of $s$ | `critic`, `values` |
# | $\gamma$, $\lambda$ | discount factor, GAE parameter | `gamma`, `lam` |
# | $A^\pi(s,a)=Q^\pi(s,a)-V^\pi(s)$ | advantage: how much better $a$ is than average in $s$ | |
# | $\hat A_t$ | an estimate of $A^{\pi_\text{old}}(s_t,a_t)$ | `advantages` |
# | $r_t(\theta)$ | probability ratio {eq}`ppo-ratio` (not the reward $r_t$) | `ratio` |
# | $\epsilon$ | clip range | `eps` |
# | $d_t\in\{0,1\}$ | 1 if the episode ended at step $t$ | `dones` |
# | $\hat{\mathbb E}_t$ | average over the time steps of a batch | `.mean()` |
#
# The PPO paper writes $r_t$ for the ratio and the reward alike; which one is meant is always
# clear from whether it depends on $\theta$.
#
# ### Why a ratio: the importance-weighted surrogate
#
# The policy gradient ([chapter 04](04_policy_gradient.ipynb)) is
#
# $$
# \nabla_\theta J(\theta)=\hat{\mathbb E}_t\big[\nabla_\theta\log\pi_\theta(a_t|s_t)\,\hat A_t\big],
# $$ (ppo-pg)
#
# with actions sampled from $\pi_\theta$ itself. After one step on it, $\theta$ has changed
# and the batch is no longer on-policy; a plain policy gradient throws it away and collects a
# new one. To keep using it, reweight each sample by how much likelier the new policy makes
# its action than the policy that sampled it:
#
# $$
# r_t(\theta)=\frac{\pi_\theta(a_t|s_t)}{\pi_{\theta_\text{old}}(a_t|s_t)}
# =\exp\big(\log\pi_\theta(a_t|s_t)-\log\pi_{\theta_\text{old}}(a_t|s_t)\big),
# \qquad
# L^\text{IS}(\theta)=\hat{\mathbb E}_t\big[r_t(\theta)\,\hat A_t\big].
# $$ (ppo-ratio)
#
# For actions, this is exact importance sampling:
# $\mathbb E_{a\sim\pi_\text{old}}[r\,A]=\mathbb E_{a\sim\pi_\theta}[A]$. Its gradient is
# $\nabla r_t=r_t\nabla\log\pi_\theta(a_t|s_t)$, so at $\theta=\theta_\text{old}$, where every
# $r_t=1$,
#
# $$
# \nabla_\theta L^\text{IS}\big|_{\theta=\theta_\text{old}}
# =\hat{\mathbb E}_t\big[\nabla_\theta\log\pi_\theta(a_t|s_t)\,\hat A_t\big]:
# $$ (ppo-ratio-grad)
#
# the first step on the surrogate *is* the policy-gradient step {eq}`ppo-pg`.
#
# What is not corrected is the state distribution. The performance-difference identity
# {cite}`kakade2002approximately` gives the exact gain of a new policy as
# $J(\pi_\theta)-J(\pi_\text{old})=\frac1{1-\gamma}\,\mathbb E_{s\sim d^{\pi_\theta}}
# \mathbb E_{a\sim\pi_\theta}\big[A^{\pi_\text{old}}(s,a)\big]$, over the states that the *new*
# policy visits ($d^\pi$ is its discounted state distribution). $L^\text{IS}$ uses the old
# policy's states instead. The two agree to first order, and TRPO {cite}`schulman2015trust`
# bounds the gap by the KL divergence between the two policies. Far from $\theta_\text{old}$,
# $L^\text{IS}$ can promise gains that do not exist; maximising it for many steps runs
# exactly there. TRPO constrains the KL with a second-order step. PPO clips.
#
# ### The clipped objective
#
# $$
# L^\text{CLIP}(\theta)=\hat{\mathbb E}_t\Big[\min\big(r_t(\theta)\hat A_t,\
# \operatorname{clip}(r_t(\theta),1-\epsilon,1+\epsilon)\,\hat A_t\big)\Big]
# $$ (ppo-clip)
#
# Take one term and factor out $\hat A_t$. If $\hat A_t>0$, $\min(r\hat A,c\hat A)=\hat A\min(r,c)$
# with $c=\operatorname{clip}(r,1-\epsilon,1+\epsilon)$; if $\hat A_t<0$, the sign flips the
# min into a max. Checking the three ranges of $r$ gives
#
# $$
# \min\big(r\hat A,\operatorname{clip}(r,1-\epsilon,1+\epsilon)\hat A\big)=
# \begin{cases}
# \hat A\,\min(r,\,1+\epsilon) & \hat A>0,\\
# \hat A\,\max(r,\,1-\epsilon) & \hat A<0.
# \end{cases}
# $$ (ppo-clip-cases)
#
# - $\hat A>0$ (a good action): the objective grows with $r$ up to $1+\epsilon$ and is flat
#   beyond. No incentive to make the action more than $1+\epsilon$ times likelier. If the
#   action became *less* likely ($r<1-\epsilon$), nothing is clipped: the full gradient pushes
#   it back up.
# - $\hat A<0$ (a bad action): flat below $1-\epsilon$, so no incentive to suppress the action
#   further; above it, including $r>1+\epsilon$, the full penalty $r\hat A$ applies.
#
# Per sample, the derivative with respect to the log-probability (using
# $\partial r/\partial\log\pi_\theta=r$) is
#
# $$
# \frac{\partial}{\partial\log\pi_\theta(a_t|s_t)}\min(\cdot,\cdot)=
# \begin{cases}
# r_t\hat A_t & \text{if } (\hat A_t>0 \text{ and } r_t<1+\epsilon) \text{ or } (\hat A_t<0
# \text{ and } r_t>1-\epsilon),\\
# 0 & \text{otherwise.}
# \end{cases}
# $$ (ppo-clip-grad)
#
# Since $\min(x,y)\le x$, $L^\text{CLIP}\le L^\text{IS}$ everywhere, with equality for
# $r\in[1-\epsilon,1+\epsilon]$ and on the side where the policy moved the wrong way. This is
# the *pessimistic bound*: the clipped term can only lower the estimate of the improvement,
# never raise it.
#
# With $\epsilon=0.2$ the four cases of the errata:
#
# | $(r,\hat A)$ | $r\hat A$ | $\operatorname{clip}(r)\hat A$ | $L^\text{CLIP}$ | gradient |
# |---|---|---|---|---|
# | $(1.5,+1)$ | $1.5$ | $1.2$ | $1.2$ (clipped) | 0 |
# | $(0.5,-1)$ | $-0.5$ | $-0.8$ | $-0.8$ (clipped) | 0 |
# | $(1.5,-1)$ | $-1.5$ | $-1.2$ | $-1.5$ (not clipped: pessimistic) | $\ne0$ |
# | $(0.5,+1)$ | $0.5$ | $0.8$ | $0.5$ (not clipped) | $\ne0$ |
#
# **Why this is not a trust region.** A sample whose term is flat has zero gradient, but
# nothing holds it in place: the parameters are shared, so the gradients of the other samples
# keep moving its ratio, and after the first minibatch step of an epoch each sample's ratio
# has already moved before its own gradient is computed. TRPO bounds the KL divergence of the
# update; PPO bounds only the *incentive*. Ratios well outside $[1-\epsilon,1+\epsilon]$ are
# common in practice {cite}`engstrom2020implementation`, and implementations monitor the
# approximate KL between $\pi_\text{old}$ and $\pi_\theta$ and stop the epochs once it exceeds a
# target {cite}`achiam2018spinning`.
#
# ### Value loss and entropy bonus
#
# The critic regresses onto a target return $\hat V^\text{targ}_t$ (defined in
# {eq}`ppo-lambda-return` below):
#
# $$
# L^\text{VF}(\phi)=\hat{\mathbb E}_t\big[\big(V_\phi(s_t)-\hat V^\text{targ}_t\big)^2\big].
# $$ (ppo-value)
#
# The entropy of the policy in each visited state,
#
# $$
# \mathcal H[\pi_\theta(\cdot|s_t)]=-\sum_a\pi_\theta(a|s_t)\log\pi_\theta(a|s_t),
# $$ (ppo-entropy)
#
# is added as a bonus, so that the policy does not become deterministic before it has found
# what to do. The full objective, to maximise, is
#
# $$
# L(\theta,\phi)=\hat{\mathbb E}_t\Big[L^\text{CLIP}_t(\theta)-c_1\big(V_\phi(s_t)-
# \hat V^\text{targ}_t\big)^2+c_2\,\mathcal H[\pi_\theta(\cdot|s_t)]\Big],
# $$ (ppo-total)
#
# and the code minimises $-L$. The weight $c_1$ matters when actor and critic share
# parameters (a value head on the policy network); with separate networks it only rescales
# the critic's gradient.
#
# ### The surprise: TD error, $n$-step advantages and GAE
#
# The advantage estimate needs a value function. The TD error of $V$ at step $t$ is
#
# $$
# \delta_t=r_t+\gamma\,(1-d_t)\,V(s_{t+1})-V(s_t).
# $$ (ppo-td)
#
# If $V=V^\pi$ exactly, $\mathbb E[\delta_t\mid s_t,a_t]=Q^\pi(s_t,a_t)-V^\pi(s_t)=A^\pi(s_t,a_t)$:
# the TD error is how much better the step went than the critic expected, an unbiased
# advantage estimate, but only if the critic is right. Summing $k$ of them telescopes (inside
# one episode) into the $k$-step advantage:
#
# $$
# \hat A^{(k)}_t=\sum_{l=0}^{k-1}\gamma^l\delta_{t+l}
# =-V(s_t)+r_t+\gamma r_{t+1}+\dots+\gamma^{k-1}r_{t+k-1}+\gamma^kV(s_{t+k}).
# $$ (ppo-nstep)
#
# $k=1$ trusts the critic after one real reward; $k=\infty$ uses only real rewards (the
# Monte-Carlo return) and the critic only as the baseline $V(s_t)$. GAE
# {cite}`schulman2016high` averages all of them with weights $(1-\lambda)\lambda^{k-1}$, which
# sum to 1. Exchanging the two sums, $\delta_{t+l}$ appears in every $\hat A^{(k)}_t$ with $k>l$,
# with total weight $(1-\lambda)\sum_{k>l}\lambda^{k-1}=\lambda^l$:
#
# $$
# \hat A^{\text{GAE}(\gamma,\lambda)}_t=(1-\lambda)\sum_{k\ge1}\lambda^{k-1}\hat A^{(k)}_t
# =\sum_{l\ge0}(\gamma\lambda)^l\,\delta_{t+l}.
# $$ (ppo-gae)
#
# The sum stops at the end of the episode (nothing after $d_t=1$ belongs to it) or of the
# batch, where $V(s_T)$ of the next state is bootstrapped in the last $\delta$. Read backwards,
# the same sum is a one-line recursion, with $\hat A_T=0$:
#
# $$
# \hat A_t=\delta_t+\gamma\lambda\,(1-d_t)\,\hat A_{t+1}.
# $$ (ppo-gae-rec)
#
# The critic's regression target is the matching $\lambda$-return
#
# $$
# \hat V^\text{targ}_t=\hat A_t+V(s_t).
# $$ (ppo-lambda-return)
#
# **The two limits.** $\lambda=0$: $\hat A_t=\delta_t$, one reward and the critic's guess for
# the rest. Its variance is that of one step, but any error of $V(s_{t+1})$ goes straight into
# the estimate. $\lambda=1$: inside one episode the sum telescopes to
# $\sum_l\gamma^lr_{t+l}-V(s_t)$, the Monte-Carlo return minus a baseline. As an estimate of
# $Q(s_t,a_t)-V(s_t)$ it is unbiased up to the baseline's error, and a baseline that depends
# only on $s_t$ does not bias the policy gradient ([chapter 04](04_policy_gradient.ipynb)).
# But its variance is that of every future reward and action. $\lambda$ in between trades one
# for the other (Experiment 2); $\gamma=0.99$, $\lambda=0.95$ are the usual defaults.
#
# With the errata's numbers (rewards $[0,0,1]$, $V=[0.5,0.6,0.7]$, the episode ends after the
# third step, $\gamma=1$): $\delta=[0+0.6-0.5,\ 0+0.7-0.6,\ 1+0-0.7]=[0.1,0.1,0.3]$. With
# $\lambda=0$ that is the advantage; with $\lambda=1$ the sums from each $t$ give
# $[0.5,0.4,0.3]$, the return 1 minus $V$.
#
# ### PPO for a language model
#
# In RLHF ([chapter 06](06_rlhf.ipynb)) the state is the prompt and the tokens so far, the
# action is the next token, and an episode is one response of $T$ tokens. The reward model
# $r_\phi$ scores the whole response, and a KL penalty to the reference (SFT) model is paid at
# every token {cite}`ziegler2019fine,ouyang2022training`:
#
# $$
# r_t=-\beta\log\frac{\pi_{\theta_\text{old}}(y_t|x,y_{<t})}{\pi_\text{ref}(y_t|x,y_{<t})}
# +\mathbb 1[t=T]\,r_\phi(x,y).
# $$ (ppo-rlhf-reward)
#
# Usually $\gamma=1$. The critic predicts, at every token, the reward still to come, so that a
# sequence-level score becomes a per-token advantage through {eq}`ppo-gae`. This makes four
# models: the actor, the critic, the reward model and the frozen reference. InstructGPT
# initialises the critic from the reward model, since both read a (prompt, response) pair
# and output a scalar. The notes' alternative, a linear value head on the policy, shares
# the trunk (and then $c_1$ matters). GRPO ([chapter 07](07_grpo.ipynb)) removes the critic:
# it samples several responses per prompt and uses their mean reward as the baseline.
#
# ### The algorithm, and the vanilla policy gradient as a special case
#
# Each iteration: (1) run $\pi_{\theta_\text{old}}$ for $T$ steps in $N$ environments;
# (2) compute $\log\pi_{\theta_\text{old}}(a_t|s_t)$, $V(s_t)$, the advantages {eq}`ppo-gae`
# and the targets {eq}`ppo-lambda-return`; (3) for $K$ epochs, shuffle the batch into $M$
# minibatches and take a gradient step on $-L$ {eq}`ppo-total` for each. With $K=M=1$ there is
# a single step, taken at $\theta=\theta_\text{old}$ where every ratio is 1: by
# {eq}`ppo-ratio-grad` the clip never acts, and PPO *is* the vanilla actor–critic policy
# gradient (A2C-style {cite}`mnih2016asynchronous`) with the same advantages. The experiment
# below compares exactly these two: same network, same rollouts, same GAE, $(K,M)=(4,2)$
# against $(1,1)$.

# %% [markdown]
# ## Implementation from scratch
#
# ### The clipped surrogate
#
# {eq}`ppo-ratio` and {eq}`ppo-clip`, per sample; averaging is left to the caller, because
# the training loop below masks some samples out. `eps` may be a tensor (one clip range per
# row), and `eps = inf` gives the unclipped surrogate $L^\text{IS}$.


# %%
def clipped_surrogate(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    eps: float | torch.Tensor = 0.2,
) -> torch.Tensor:
    """min(r A, clip(r, 1-ε, 1+ε) A) per sample, eq. (ppo-clip); to be maximised."""
    ratio = torch.exp(logp - old_logp)  # eq. (ppo-ratio): π_θ / π_old, from log-probs
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - eps, 1 + eps) * advantages
    return torch.minimum(unclipped, clipped)  # the pessimistic bound


# %% [markdown]
# Its gradient with respect to $\log\pi_\theta(a_t|s_t)$, written out from {eq}`ppo-clip-grad`
# so that autograd can be checked against the derivation:


# %%
def clipped_surrogate_grad(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, eps: float
) -> torch.Tensor:
    """d min(r A, clip(r) A) / d log π_θ per sample, eq. (ppo-clip-grad)."""
    ratio = torch.exp(logp - old_logp)
    improving = ((advantages > 0) & (ratio < 1 + eps)) | ((advantages < 0) & (ratio > 1 - eps))
    return torch.where(improving, ratio * advantages, torch.zeros_like(ratio))


# %% [markdown]
# ### TD errors and GAE, twice
#
# Time is the last axis, as in the shared `notebook_utils.rl.gae`, which has the same
# interface: `dones[..., t] = 1` when the episode ended at step $t$, and `last_value` is
# $V$ of the state after the last step (0 if omitted: the episode ends there).


# %%
def td_errors(
    rewards: torch.Tensor,
    values: torch.Tensor,
    *,
    gamma: float,
    dones: torch.Tensor,
    last_value: torch.Tensor,
) -> torch.Tensor:
    """δ_t = r_t + γ (1 - d_t) V(s_{t+1}) - V(s_t), eq. (ppo-td); shapes (..., T)."""
    next_values = torch.cat([values[..., 1:], last_value[..., None]], dim=-1)  # (..., T)
    return rewards + gamma * (1.0 - dones) * next_values - values


# %% [markdown]
# The backward recursion {eq}`ppo-gae-rec`, $O(T)$, the way every implementation computes it:


# %%
def gae_recursive(
    rewards: torch.Tensor,
    values: torch.Tensor,
    *,
    gamma: float,
    lam: float,
    dones: torch.Tensor | None = None,
    last_value: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages and λ-return targets, eqs. (ppo-gae-rec) and (ppo-lambda-return)."""
    dones = torch.zeros_like(rewards) if dones is None else dones.to(rewards.dtype)
    last_value = torch.zeros_like(values[..., 0]) if last_value is None else last_value
    delta = td_errors(rewards, values, gamma=gamma, dones=dones, last_value=last_value)
    advantages = torch.empty_like(delta)  # (..., T)
    running = torch.zeros_like(delta[..., 0])  # Â_{t+1}; 0 after the last step
    for t in reversed(range(delta.shape[-1])):
        running = delta[..., t] + gamma * lam * (1.0 - dones[..., t]) * running
        advantages[..., t] = running
    return advantages, advantages + values


# %% [markdown]
# The direct sum {eq}`ppo-gae` as a matrix: $\hat A=W\delta$ with
# $W_{tu}=(\gamma\lambda)^{u-t}$ for $u\ge t$ in the same episode and 0 otherwise. Steps $t$
# and $u\ge t$ are in the same episode when no episode ended at steps $t,\dots,u-1$, i.e. when
# the count of ends *before* each of them is equal. $O(T^2)$, but it is the definition.


# %%
def gae_direct_sum(
    rewards: torch.Tensor,
    values: torch.Tensor,
    *,
    gamma: float,
    lam: float,
    dones: torch.Tensor | None = None,
    last_value: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE as Σ_l (γλ)^l δ_{t+l} inside each episode, eq. (ppo-gae)."""
    dones = torch.zeros_like(rewards) if dones is None else dones.to(rewards.dtype)
    last_value = torch.zeros_like(values[..., 0]) if last_value is None else last_value
    delta = td_errors(rewards, values, gamma=gamma, dones=dones, last_value=last_value)
    steps = torch.arange(delta.shape[-1])
    lag = steps[None, :] - steps[:, None]  # (T, T): u - t
    ends_before = torch.cumsum(dones, dim=-1) - dones  # (..., T): episode ends at steps < u
    same_episode = ends_before[..., :, None] == ends_before[..., None, :]  # (..., T, T)
    weights = torch.where(
        (lag >= 0) & same_episode,
        (gamma * lam) ** lag.clamp(min=0).to(delta.dtype),
        torch.zeros((), dtype=delta.dtype),
    )  # (..., T, T): W[t, u]
    advantages = (weights @ delta[..., None]).squeeze(-1)  # (..., T)
    return advantages, advantages + values


# %% [markdown]
# ### The agent: actor, critic, rollouts, and the update
#
# The task is CartPole-v1 {cite}`towers2024gymnasium`: push a cart left or right to keep a
# pole upright; reward 1 per step, at most 500 steps. Actor and critic are separate MLPs with
# one hidden layer of 64 ReLU units, initialised as in the common PPO implementations
# (orthogonal weights, a near-zero last layer for the actor, so the first policy is close to
# uniform) {cite}`huang2022the37`.
#
# Every run below is repeated over three seeds. Rather than looping over seeds, the three
# networks are stacked: each weight has a leading seed axis, and one batched matrix product
# evaluates all three. The losses of different seeds touch disjoint slices of the
# parameters, and Adam acts elementwise, so one optimiser step on the *sum* of the per-seed
# losses is three independent runs (checked in the Verification section), at the price of
# little more than one.

# %%
CARTPOLE_OBS = 4  # cart position and velocity, pole angle and angular velocity
CARTPOLE_ACTIONS = 2  # push left, push right
HIDDEN = 64


# %%
class SeedBatchedMLP(nn.Module):
    """`n_seeds` independent MLPs with one ReLU hidden layer: (S, B, n_in) -> (S, B, n_out)."""

    def __init__(self, n_seeds: int, n_in: int, n_hidden: int, n_out: int, out_gain: float):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(n_seeds, n_in, n_hidden))
        self.b1 = nn.Parameter(torch.zeros(n_seeds, 1, n_hidden))
        self.w2 = nn.Parameter(torch.empty(n_seeds, n_hidden, n_out))
        self.b2 = nn.Parameter(torch.zeros(n_seeds, 1, n_out))
        with torch.no_grad():
            for s in range(n_seeds):
                nn.init.orthogonal_(self.w1[s], gain=math.sqrt(2))
                nn.init.orthogonal_(self.w2[s], gain=out_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(torch.baddbmm(self.b1, x, self.w1))  # (S, B, n_hidden)
        return torch.baddbmm(self.b2, hidden, self.w2)  # (S, B, n_out)


# %% [markdown]
# Actions are drawn by inverting the cumulative distribution: with $u\sim U(0,1)$, the sampled
# action is the number of cumulative probabilities below $u$. It is the same distribution as
# `torch.multinomial`, in a few cheap tensor operations, which matters when it runs once per
# environment step.


# %%
def sample_actions(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of `logits` (B, n_actions), sampled from softmax(logits): (B,)."""
    cumulative = logits.softmax(-1).cumsum(-1)  # (B, n_actions)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=cumulative.dtype)  # (B, 1)
    return (cumulative < u).sum(-1).clamp(max=logits.shape[-1] - 1)  # clamp: rounding of 1.0


# %% [markdown]
# Rollouts run all seeds' environments in one natively vectorised gymnasium CartPole;
# environment $k$ belongs to seed $k\,//\,N$. Gymnasium 1.x resets a finished environment on
# the *next* call to `step`: that call ignores the action and returns the first observation
# of the new episode with reward 0. Such a step is no transition of the game, so it is kept
# in the buffer (the GAE recursion needs the time axis intact) but marked invalid and masked
# out of every loss.


# %%
class CartPoleRunner:
    """`n_seeds` × `n_envs` CartPole-v1 environments, stepped together."""

    def __init__(self, n_seeds: int, n_envs: int, seed: int) -> None:
        self.n_seeds, self.n_envs = n_seeds, n_envs
        self.env = gym.make_vec(
            "CartPole-v1", num_envs=n_seeds * n_envs, vectorization_mode="vector_entry_point"
        )
        self.obs, _ = self.env.reset(seed=seed)
        self.prev_done = np.zeros(n_seeds * n_envs, dtype=bool)
        self.episode_return = np.zeros(n_seeds * n_envs)

    def rollout(
        self, actor: SeedBatchedMLP, n_steps: int, generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], list[list[float]]]:
        """`n_steps` steps of every environment with actions sampled from `actor`.

        Returns tensors of shape (S, N, T) (observations (S, N, T + 1, 4): the last is the
        state after the rollout) and, per seed, the returns of the episodes that ended.
        """
        S, N = self.n_seeds, self.n_envs
        obs = torch.empty(n_steps + 1, S * N, CARTPOLE_OBS)
        actions = torch.empty(n_steps, S * N, dtype=torch.long)
        rewards = np.zeros((n_steps, S * N), dtype=np.float32)
        terminated, truncated, valid = (np.zeros((n_steps, S * N), dtype=bool) for _ in range(3))
        finished: list[list[float]] = [[] for _ in range(S)]
        for t in range(n_steps):
            obs[t] = torch.from_numpy(self.obs)
            with torch.no_grad():
                logits = actor(obs[t].view(S, N, CARTPOLE_OBS))  # (S, N, 2)
            actions[t] = sample_actions(logits.view(S * N, CARTPOLE_ACTIONS), generator)
            valid[t] = ~self.prev_done  # after an episode end, this step only resets
            self.obs, rewards[t], terminated[t], truncated[t], _ = self.env.step(actions[t].numpy())
            self.episode_return += rewards[t]
            done = terminated[t] | truncated[t]
            for k in np.flatnonzero(done):
                finished[k // N].append(float(self.episode_return[k]))
                self.episode_return[k] = 0.0
            self.prev_done = done
        obs[n_steps] = torch.from_numpy(self.obs)

        def seed_major(x: torch.Tensor | np.ndarray) -> torch.Tensor:
            x = torch.as_tensor(x)  # (T, S·N, ...) -> (S, N, T, ...)
            return x.view(x.shape[0], S, N, *x.shape[2:]).movedim(0, 2)

        raw = dict(obs=obs, actions=actions, rewards=rewards)
        raw |= dict(terminated=terminated, truncated=truncated, valid=valid)
        return {name: seed_major(x) for name, x in raw.items()}, finished


# %% [markdown]
# After the rollout, one forward pass of each network over the whole batch gives
# $\log\pi_{\theta_\text{old}}(a_t|s_t)$ and $V(s_t)$ (including the state after the last
# step, for the bootstrap). Then GAE. CartPole ends an episode in two ways: the pole falls
# (*terminated*: no future reward) or 500 steps pass (*truncated*: the game would have gone
# on). A truncated step must still bootstrap from the value of its final state, which with
# the next-step reset is the next observation in the buffer. Adding $\gamma V(s_{t+1})$ to
# its reward and then cutting the episode there gives exactly that $\delta_t$.


# %%
@dataclasses.dataclass
class Batch:
    """One rollout, flattened per seed: every field is (S, n) (observations (S, n, 4))."""

    observations: torch.Tensor
    actions: torch.Tensor
    old_logp: torch.Tensor
    advantages: torch.Tensor
    value_targets: torch.Tensor
    valid: torch.Tensor  # 1.0 for real transitions, 0.0 for gymnasium's reset steps


# %%
def make_batch(
    raw: dict[str, torch.Tensor],
    actor: SeedBatchedMLP,
    critic: SeedBatchedMLP,
    *,
    gamma: float,
    lam: float,
) -> Batch:
    """Old log-probs, values, GAE advantages and λ-return targets of a rollout."""
    obs = raw["obs"]  # (S, N, T + 1, 4)
    S, N, T = raw["actions"].shape
    with torch.no_grad():
        values = critic(obs.reshape(S, -1, CARTPOLE_OBS)).view(S, N, T + 1)  # V(s_0..s_T)
        log_probs = actor(obs[:, :, :T].reshape(S, -1, CARTPOLE_OBS)).log_softmax(-1)
    actions = raw["actions"].reshape(S, N * T)
    old_logp = log_probs.gather(-1, actions[..., None]).squeeze(-1)  # (S, N·T)
    cut_short = raw["truncated"] & ~raw["terminated"]  # time limit, pole still up
    rewards = raw["rewards"] + gamma * cut_short * values[..., 1:]  # bootstrap V(final state)
    dones = (raw["terminated"] | raw["truncated"]).float()  # (S, N, T)
    advantages, targets = gae_recursive(
        rewards, values[..., :T], gamma=gamma, lam=lam, dones=dones, last_value=values[..., T]
    )  # eqs. (ppo-gae-rec), (ppo-lambda-return)
    return Batch(
        observations=obs[:, :, :T].reshape(S, N * T, CARTPOLE_OBS),
        actions=actions,
        old_logp=old_logp,
        advantages=advantages.reshape(S, N * T),
        value_targets=targets.reshape(S, N * T),
        valid=raw["valid"].reshape(S, N * T).float(),
    )


# %% [markdown]
# The loss {eq}`ppo-total`, per seed, as a masked mean over the valid samples of a minibatch.
# The advantages are standardised within each minibatch, a near-universal implementation
# detail {cite}`huang2022the37` that makes the step size independent of the reward scale.


# %%
def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis of the entries where mask is 1: (S, n) -> (S,)."""
    return (x * mask).sum(-1) / mask.sum(-1)


def ppo_loss(
    actor: SeedBatchedMLP,
    critic: SeedBatchedMLP,
    batch: Batch,
    idx: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    c_value: float,
    c_entropy: float,
) -> torch.Tensor:
    """-L of eq. (ppo-total) on the samples `idx` of each seed, shape (S,)."""
    obs, mask = batch.observations[:, idx], batch.valid[:, idx]  # (S, B, 4), (S, B)
    log_probs = actor(obs).log_softmax(-1)  # (S, B, 2)
    logp = log_probs.gather(-1, batch.actions[:, idx, None]).squeeze(-1)  # (S, B)
    adv = batch.advantages[:, idx]
    mean = masked_mean(adv, mask)[:, None]
    std = masked_mean((adv - mean) ** 2, mask).sqrt()[:, None]
    adv = (adv - mean) / (std + 1e-8)  # standardised per minibatch and seed
    surrogate = clipped_surrogate(logp, batch.old_logp[:, idx], adv, eps)  # eq. (ppo-clip)
    value_error = (critic(obs).squeeze(-1) - batch.value_targets[:, idx]) ** 2  # eq. (ppo-value)
    entropy = -(log_probs.exp() * log_probs).sum(-1)  # eq. (ppo-entropy)
    return masked_mean(-surrogate + c_value * value_error - c_entropy * entropy, mask)


# %% [markdown]
# The update: $K$ epochs, each a fresh shuffle into $M$ minibatches, one Adam step per
# minibatch. With `epochs=1, minibatches=1` it is the vanilla policy gradient.


# %%
def ppo_update(
    actor: SeedBatchedMLP,
    critic: SeedBatchedMLP,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    *,
    epochs: int,
    minibatches: int,
    eps: float | torch.Tensor,
    c_value: float,
    c_entropy: float,
    generator: torch.Generator,
) -> None:
    """K epochs × M minibatch steps on -L, eq. (ppo-total)."""
    n = batch.actions.shape[1]
    size = n // minibatches
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for k in range(minibatches):
            idx = order[k * size : (k + 1) * size]
            losses = ppo_loss(
                actor, critic, batch, idx, eps=eps, c_value=c_value, c_entropy=c_entropy
            )  # (S,)
            optimizer.zero_grad()
            losses.sum().backward()  # seeds own disjoint parameters: their gradients stay apart
            optimizer.step()


# %% [markdown]
# How far an update moved the policy, measured on the batch it was trained on: the
# approximate KL divergence $\mathrm{KL}(\pi_\text{old}\,\|\,\pi_\theta)$ with the $k_3$
# estimator {cite}`schulman2020approximating` ($r-1-\log r$ per sample, unbiased because the
# actions were sampled from $\pi_\text{old}$; the shared `kl_estimates`, derived in
# [chapter 07](07_grpo.ipynb)), and the clip fraction, the share of samples whose ratio ended
# outside $[1-\epsilon,1+\epsilon]$.


# %%
def policy_change(
    actor: SeedBatchedMLP, batch: Batch, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-seed approximate KL(π_old || π_θ) (k3) and clip fraction, each (S,)."""
    with torch.no_grad():
        log_probs = actor(batch.observations).log_softmax(-1)
    logp = log_probs.gather(-1, batch.actions[..., None]).squeeze(-1)  # (S, n)
    k3 = rl.kl_estimates(batch.old_logp, logp)["k3"]  # samples from π_old, the first argument
    outside = ((logp - batch.old_logp).exp() - 1).abs() > eps
    return masked_mean(k3, batch.valid), masked_mean(outside.float(), batch.valid)


# %% [markdown]
# The true objective is the return. `evaluate` plays one episode in each of
# `n_episodes` fresh environments per seed, seeded apart from training, sampling from the
# policy as in training.


# %%
def evaluate(
    actor: SeedBatchedMLP, n_seeds: int, generator: torch.Generator, n_episodes: int = 16
) -> np.ndarray:
    """Mean return of `n_episodes` held-out episodes, per seed: shape (S,)."""
    env = gym.make_vec(
        "CartPole-v1", num_envs=n_seeds * n_episodes, vectorization_mode="vector_entry_point"
    )
    obs, _ = env.reset(seed=10_000)
    returns = np.zeros(n_seeds * n_episodes)
    playing = np.ones(n_seeds * n_episodes, dtype=bool)
    while playing.any():
        with torch.no_grad():
            logits = actor(torch.from_numpy(obs).view(n_seeds, n_episodes, CARTPOLE_OBS))
        action = sample_actions(logits.view(-1, CARTPOLE_ACTIONS), generator)
        obs, reward, terminated, truncated, _ = env.step(action.numpy())
        returns += reward * playing
        playing &= ~(terminated | truncated)
    return returns.reshape(n_seeds, n_episodes).mean(axis=1)


# %% [markdown]
# The training loop ties it together and records, after every update, the environment steps
# and CPU seconds so far, the mean return of the episodes that ended during the rollout, and
# the KL and clip fraction of the update.


# %%
def train(
    *,
    total_steps: int,
    lr: float,
    epochs: int,
    minibatches: int,
    n_seeds: int = 3,
    n_envs: int = 32,
    n_steps: int = 32,
    eps: float = 0.2,
    gamma: float = 0.99,
    lam: float = 0.95,
    c_value: float = 0.5,
    c_entropy: float = 0.01,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train `n_seeds` actor-critics on CartPole-v1 with PPO's update; return the history."""
    torch.manual_seed(seed)
    actor = SeedBatchedMLP(n_seeds, CARTPOLE_OBS, HIDDEN, CARTPOLE_ACTIONS, out_gain=0.01)
    critic = SeedBatchedMLP(n_seeds, CARTPOLE_OBS, HIDDEN, 1, out_gain=1.0)
    optimizer = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=lr, eps=1e-5)
    generator = torch.Generator().manual_seed(seed)
    runner = CartPoleRunner(n_seeds, n_envs, seed)
    history: dict[str, list] = {"before": [evaluate(actor, n_seeds, generator)]}
    for name in ("env_steps", "cpu_seconds", "episode_return", "kl", "clip_fraction"):
        history[name] = []
    last_return = np.full(n_seeds, np.nan)
    cpu_start = time.process_time()
    for update in range(total_steps // (n_envs * n_steps)):
        raw, finished = runner.rollout(actor, n_steps, generator)
        batch = make_batch(raw, actor, critic, gamma=gamma, lam=lam)
        ppo_update(
            actor,
            critic,
            optimizer,
            batch,
            epochs=epochs,
            minibatches=minibatches,
            eps=eps,
            c_value=c_value,
            c_entropy=c_entropy,
            generator=generator,
        )
        kl, clip_fraction = policy_change(actor, batch, eps)
        last_return = np.array(
            [np.mean(f) if f else r for f, r in zip(finished, last_return, strict=True)]
        )
        history["env_steps"].append((update + 1) * n_envs * n_steps)
        history["cpu_seconds"].append(time.process_time() - cpu_start)
        history["episode_return"].append(last_return)
        history["kl"].append(kl.numpy())
        history["clip_fraction"].append(clip_fraction.numpy())
    history["after"] = [evaluate(actor, n_seeds, generator)]
    return {name: np.array(values) for name, values in history.items()}


# %% [markdown]
# ## Verification
#
# ### The clipped surrogate
#
# The errata's four cases with $\epsilon=0.2$, their values and which of them get a gradient
# (autograd through `clipped_surrogate`):

# %%
ratios = torch.tensor([1.5, 0.5, 1.5, 0.5], dtype=torch.float64)
advantages = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
logp = ratios.log().requires_grad_()  # old log-probs 0, so r = exp(logp)
surrogate = clipped_surrogate(logp, torch.zeros(4, dtype=torch.float64), advantages, eps=0.2)
surrogate.sum().backward()
check_close(
    "L^CLIP at (r, A) = (1.5,+1), (0.5,-1), (1.5,-1), (0.5,+1)",
    surrogate.detach(),
    torch.tensor([1.2, -0.8, -1.5, 0.5], dtype=torch.float64),
    atol=1e-15,
)
check_equal("zero gradient exactly where clipped", logp.grad == 0, [True, True, False, False])

# %% [markdown]
# On random ratios and advantages (ties with $1\pm\epsilon$ have probability zero): autograd
# against the closed-form gradient {eq}`ppo-clip-grad`, the function against the case form
# {eq}`ppo-clip-cases`, and the pessimistic bound $L^\text{CLIP}\le L^\text{IS}$.

# %%
generator = torch.Generator().manual_seed(1)
logp = (0.6 * torch.randn(10_000, generator=generator, dtype=torch.float64)).requires_grad_()
old_logp = 0.3 * torch.randn(10_000, generator=generator, dtype=torch.float64)
advantages = torch.randn(10_000, generator=generator, dtype=torch.float64)
surrogate = clipped_surrogate(logp, old_logp, advantages, eps=0.2)
(autograd,) = torch.autograd.grad(surrogate.sum(), logp)
check_close(
    "d L^CLIP / d log π: autograd vs eq. (ppo-clip-grad)",
    autograd,
    clipped_surrogate_grad(logp, old_logp, advantages, eps=0.2),
    atol=1e-14,
)
ratio = torch.exp(logp - old_logp).detach()
case_form = torch.where(
    advantages > 0, advantages * ratio.clamp(max=1.2), advantages * ratio.clamp(min=0.8)
)
check_close("L^CLIP vs eq. (ppo-clip-cases)", surrogate.detach(), case_form, atol=1e-14)
gap = (ratio * advantages - surrogate.detach()).min().item()
check_true("pessimistic bound: L^CLIP <= r A for every sample", gap >= 0, f"min(rA - L) = {gap}")
check_close(
    "from scratch vs notebook_utils.rl.clipped_surrogate (used by later chapters)",
    surrogate.detach(),
    rl.clipped_surrogate(logp.detach(), old_logp, advantages, eps=0.2),
    atol=0.0,
)

# %% [markdown]
# At $\theta=\theta_\text{old}$ the gradient of the clipped surrogate with respect to the
# *network's* parameters is the policy gradient {eq}`ppo-ratio-grad`, whatever the clip: this
# is why PPO with one epoch and one minibatch is the vanilla policy gradient.

# %%
torch.manual_seed(2)
policy = SeedBatchedMLP(1, CARTPOLE_OBS, HIDDEN, CARTPOLE_ACTIONS, out_gain=1.0).double()
states = torch.randn(1, 256, CARTPOLE_OBS, dtype=torch.float64)
actions = torch.randint(0, CARTPOLE_ACTIONS, (1, 256))
advantages = torch.randn(1, 256, dtype=torch.float64)
logp = policy(states).log_softmax(-1).gather(-1, actions[..., None]).squeeze(-1)  # (1, 256)
ppo_grad = torch.autograd.grad(
    clipped_surrogate(logp, logp.detach(), advantages, eps=0.2).mean(),
    list(policy.parameters()),
    retain_graph=True,
)
pg_grad = torch.autograd.grad((logp * advantages).mean(), list(policy.parameters()))
check_close(
    "at θ_old: ∇ L^CLIP vs policy gradient ∇ mean(log π · A), all parameters",
    torch.cat([g.flatten() for g in ppo_grad]),
    torch.cat([g.flatten() for g in pg_grad]),
    atol=1e-14,
)

# %% [markdown]
# The entropy {eq}`ppo-entropy` and log-probabilities computed in `ppo_loss` against
# `torch.distributions.Categorical`:

# %%
log_probs = policy(states).log_softmax(-1)  # (1, 256, 2)
categorical = torch.distributions.Categorical(logits=policy(states))
check_close(
    "entropy -Σ π log π vs Categorical.entropy()",
    -(log_probs.exp() * log_probs).sum(-1),
    categorical.entropy(),
    atol=1e-14,
)
check_close(
    "log π(a|s) vs Categorical.log_prob(a)",
    log_probs.gather(-1, actions[..., None]).squeeze(-1),
    categorical.log_prob(actions),
    atol=1e-14,
)

# %% [markdown]
# `sample_actions` against the probabilities it samples from: the frequency of each action
# over many draws from the same three-action distribution.

# %%
sample_logits = torch.tensor([[0.5, -1.0, 1.5]]).expand(20_000, 3)
draws = sample_actions(sample_logits, torch.Generator().manual_seed(8))  # (20000,)
for action, probability in enumerate(sample_logits[0].softmax(-1).tolist()):
    check_mean_close(
        f"sample_actions: frequency of action {action}",
        (draws == action).double(),
        probability,
        z_max=4,
    )

# %% [markdown]
# ### GAE
#
# The errata's example, with both implementations, for $\lambda=1$ and $\lambda=0$; the value
# targets for $\lambda=1$ are the return, 1, at every step.

# %%
rewards = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
values = torch.tensor([0.5, 0.6, 0.7], dtype=torch.float64)
for gae_function in (gae_recursive, gae_direct_sum):
    for lam, expected in ((1.0, [0.5, 0.4, 0.3]), (0.0, [0.1, 0.1, 0.3])):
        adv, targets = gae_function(rewards, values, gamma=1.0, lam=lam)
        check_close(
            f"{gae_function.__name__}, γ = 1, λ = {lam:g}",
            adv,
            torch.tensor(expected, dtype=torch.float64),
            atol=1e-15,
        )
check_close(
    "λ-return targets for λ = 1 equal the return",
    gae_recursive(rewards, values, gamma=1.0, lam=1.0)[1],
    torch.ones(3, dtype=torch.float64),
    atol=1e-15,
)

# %% [markdown]
# Random batches with episode ends inside them and a bootstrapped last value: the recursion
# against the direct sum, and against the shared `notebook_utils.rl.gae`.

# %%
generator = torch.Generator().manual_seed(3)
shape = (3, 5, 40)  # (seeds, envs, T)
rewards = torch.randn(shape, generator=generator, dtype=torch.float64)
values = torch.randn(shape, generator=generator, dtype=torch.float64)
dones = (torch.rand(shape, generator=generator) < 0.1).double()
last_value = torch.randn(shape[:-1], generator=generator, dtype=torch.float64)
print(f"{int(dones.sum())} episode ends among {dones.numel()} steps")
for gamma, lam in ((0.99, 0.95), (0.9, 0.0), (1.0, 1.0)):
    kwargs = dict(gamma=gamma, lam=lam, dones=dones, last_value=last_value)
    recursive = gae_recursive(rewards, values, **kwargs)
    check_close(
        f"GAE(γ={gamma:g}, λ={lam:g}): recursion vs direct sum",
        recursive[0],
        gae_direct_sum(rewards, values, **kwargs)[0],
        atol=1e-12,
    )
    shared = rl.gae(rewards, values, **kwargs)
    check_close(
        f"GAE(γ={gamma:g}, λ={lam:g}): from scratch vs notebook_utils.rl.gae, advantages "
        "and targets",
        torch.stack(recursive),
        torch.stack(shared),
        atol=1e-12,
    )

# %% [markdown]
# And the derivation itself: GAE is the $(1-\lambda)\lambda^{k-1}$-weighted average of the
# $k$-step advantages {eq}`ppo-nstep`, each computed from the rewards and one bootstrapped
# value (not from $\delta$). In a batch of $T$ steps, the $k$-step estimate from step $t$
# cannot look past step $T$, so every $k\ge T-t$ gives the same estimate, which collects the
# remaining weight $\lambda^{T-t-1}$.

# %%
T, gamma, lam = 12, 0.9, 0.7
rewards, values = rewards[0, 0, :T], values[0, 0, :T]
value_after = torch.cat([values, last_value[0, :1]])  # V(s_0), ..., V(s_T)
mixture = torch.zeros(T, dtype=torch.float64)
for t in range(T):
    horizon = T - t
    for k in range(1, horizon + 1):
        k_step = sum(gamma**i * rewards[t + i] for i in range(k)) + gamma**k * value_after[t + k]
        k_step = k_step - values[t]  # eq. (ppo-nstep), right-hand side
        weight = (1 - lam) * lam ** (k - 1) if k < horizon else lam ** (horizon - 1)
        mixture[t] += weight * k_step
check_close(
    "λ-weighted n-step advantages vs GAE direct sum, eq. (ppo-gae)",
    mixture,
    gae_direct_sum(rewards, values, gamma=gamma, lam=lam, last_value=last_value[0, 0])[0],
    atol=1e-12,
)

# %% [markdown]
# ### Three seeds in one network are three independent runs
#
# Two seeds trained together for one PPO update (2 epochs × 2 minibatches) against each seed
# trained alone from the same weights on the same data.

# %%
torch.manual_seed(4)
runner = CartPoleRunner(n_seeds=2, n_envs=4, seed=4)
actor = SeedBatchedMLP(2, CARTPOLE_OBS, HIDDEN, CARTPOLE_ACTIONS, out_gain=0.01)
critic = SeedBatchedMLP(2, CARTPOLE_OBS, HIDDEN, 1, out_gain=1.0)
raw, _ = runner.rollout(actor, 32, torch.Generator().manual_seed(4))
batch = make_batch(raw, actor, critic, gamma=0.99, lam=0.95)
update_kwargs = dict(epochs=2, minibatches=2, eps=0.2, c_value=0.5, c_entropy=0.01)


def split_seed(module: SeedBatchedMLP, s: int) -> SeedBatchedMLP:
    """A one-seed copy of seed s of a seed-batched MLP."""
    alone = SeedBatchedMLP(1, module.w1.shape[1], module.w1.shape[2], module.w2.shape[2], 1.0)
    alone.load_state_dict({name: p[s : s + 1].clone() for name, p in module.state_dict().items()})
    return alone


alone = [(split_seed(actor, s), split_seed(critic, s)) for s in range(2)]
parameters = [*actor.parameters(), *critic.parameters()]
ppo_update(
    actor, critic, torch.optim.Adam(parameters, lr=3e-3), batch,
    generator=torch.Generator().manual_seed(5), **update_kwargs,
)  # fmt: skip
for s, (actor_s, critic_s) in enumerate(alone):
    batch_s = Batch(*(field[s : s + 1] for field in dataclasses.astuple(batch)))
    parameters_s = [*actor_s.parameters(), *critic_s.parameters()]
    ppo_update(
        actor_s, critic_s, torch.optim.Adam(parameters_s, lr=3e-3), batch_s,
        generator=torch.Generator().manual_seed(5), **update_kwargs,
    )  # fmt: skip
    check_close(
        f"seed {s}: parameters after training together vs alone",
        torch.cat([p[s].flatten() for p in parameters]),
        torch.cat([p[0].flatten() for p in parameters_s]),
        atol=1e-6,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. The clipping plot
#
# One term of {eq}`ppo-clip` as a function of the ratio, for $\hat A=+1$ and $\hat A=-1$,
# next to the unclipped $r\hat A$, and its derivative with respect to $r$ (autograd through
# `clipped_surrogate`, divided by $r$ to turn $\partial/\partial\log\pi$ into
# $\partial/\partial r$).

# %%
EPS = 0.2
ratio_grid = torch.linspace(0.3, 1.9, 1601, dtype=torch.float64)
fig, (ax_value, ax_grad) = plt.subplots(1, 2, figsize=(10, 3.9))
for advantage, colour in ((1.0, PALETTE[0]), (-1.0, PALETTE[1])):
    logp = ratio_grid.log().requires_grad_()
    value = clipped_surrogate(logp, torch.zeros_like(logp), torch.full_like(logp, advantage), EPS)
    (grad_logp,) = torch.autograd.grad(value.sum(), logp)
    ax_value.plot(
        ratio_grid, value.detach(), color=colour, label=f"$L^{{CLIP}}$, $A={advantage:+g}$"
    )
    ax_value.plot(ratio_grid, ratio_grid * advantage, "--", color=colour, lw=1, alpha=0.6)
    ax_grad.plot(ratio_grid, grad_logp / ratio_grid, color=colour, label=f"$A={advantage:+g}$")
for ax in (ax_value, ax_grad):
    ax.axvspan(
        1 - EPS, 1 + EPS, color="0.85", alpha=0.5, lw=0, label="$[1-\\epsilon, 1+\\epsilon]$"
    )
    ax.axvline(1.0, color="k", lw=0.6, ls=":")
ax_value.plot([], [], "--", color="0.4", lw=1, label="$rA$ (unclipped)")
ax_value.set(
    xlabel="ratio $r=\\pi_\\theta/\\pi_{old}$",
    ylabel="objective per sample",
    title="Flat beyond $1+\\epsilon$ for $A>0$, below $1-\\epsilon$ for $A<0$",
)
ax_grad.set(
    xlabel="ratio $r$",
    ylabel="$\\partial L^{CLIP} / \\partial r$",
    title="The gradient is cut only on the improving side",
)
ax_value.legend(loc="upper left")
ax_grad.legend(loc="center left")
fig.suptitle("PPO's clip removes the incentive to move further, not the movement (ε = 0.2)")
plt.show()

# %% [markdown]
# The grey band is $[1-\epsilon,1+\epsilon]$. On the side where the policy has moved the
# wrong way (a good action made rarer, left of the band for $A>0$; a bad action made
# likelier, right of it for $A<0$) the objective is the unclipped line and the gradient stays
# at full strength, pulling the ratio back. That is the pessimism of the `min`: a `clip`
# alone would also flatten those two sides and leave the mistakes uncorrected.
#
# ### 2. What the critic buys: GAE's bias and variance
#
# A small episodic problem where every quantity is known: 40 steps, the state is the step
# index $t$, the policy picks $a_t\in\{0,1\}$ with probability ½ each, and the reward is
# $r_t=a_t+\xi_t$ with noise $\xi_t\sim\mathcal N(0,\sigma^2)$, $\sigma=1$. The true value is
# $V(t)=\tfrac12\sum_{k<40-t}\gamma^k$, and $Q(0,a)=a+\gamma V(1)$. The critic is half-trained:
# $\hat V=cV$ with $c=\tfrac12$. With $a_0=1$ fixed and many sampled futures, each $\lambda$
# gives an estimate $\hat A_0+\hat V(s_0)$ of $Q(s_0,a_0)$. Its error is the part of
# $\hat A_0$'s error that a state-only baseline does not absorb: the part that biases the
# policy gradient.
#
# Here everything has a closed form. Since $V(t)=\tfrac12+\gamma V(t+1)$, each later TD error
# has mean $\mathbb E[\delta_l]=\tfrac12+c\,(\gamma V(l+1)-V(l))=\tfrac12(1-c)$, and the TD
# errors are independent, with variance $\tfrac14+\sigma^2$ ($\sigma^2$ for $l=0$, whose
# action is fixed). Summing {eq}`ppo-gae` with $S(x)=\sum_{l=1}^{39}x^l$:
#
# $$
# \mathbb E\big[\hat A_0+\hat V(s_0)\big]-Q(s_0,a_0)
# =\tfrac12(1-c)\big(S(\gamma\lambda)-S(\gamma)\big),
# \qquad
# \operatorname{Var}\big[\hat A_0\big]
# =\sigma^2+\big(\tfrac14+\sigma^2\big)\,S\big((\gamma\lambda)^2\big).
# $$ (ppo-gae-bias-variance)
#
# The bias vanishes at $\lambda=1$ whatever $c$ is; the variance grows with $\lambda$.

# %%
HORIZON, GAMMA_CHAIN, CRITIC_SCALE, NOISE, N_FUTURES = 40, 0.99, 0.5, 1.0, 4000
true_values = torch.tensor(
    [0.5 * sum(GAMMA_CHAIN**k for k in range(HORIZON - t)) for t in range(HORIZON)],
    dtype=torch.float64,
)  # V(t)
critic_values = CRITIC_SCALE * true_values  # a half-trained critic
q_first = 1.0 + GAMMA_CHAIN * true_values[1].item()  # Q(s_0, a_0 = 1)
generator = torch.Generator().manual_seed(7)
chain_actions = torch.bernoulli(
    torch.full((N_FUTURES, HORIZON), 0.5, dtype=torch.float64), generator=generator
)
chain_actions[:, 0] = 1.0
noise = torch.randn(N_FUTURES, HORIZON, generator=generator, dtype=torch.float64)
chain_rewards = chain_actions + NOISE * noise
lambdas = np.linspace(0.0, 1.0, 21)
q_estimates = np.stack(
    [
        gae_recursive(
            chain_rewards, critic_values.expand(N_FUTURES, HORIZON), gamma=GAMMA_CHAIN, lam=lam
        )[1][:, 0].numpy()
        for lam in lambdas
    ]
)  # (λ, futures): Â_0 + V̂(s_0)


def geometric_sum(x: np.ndarray) -> np.ndarray:
    """S(x) = Σ_{l=1}^{HORIZON-1} x^l."""
    return sum(x**lag for lag in range(1, HORIZON))


bias_formula = (
    0.5
    * (1 - CRITIC_SCALE)
    * (geometric_sum(GAMMA_CHAIN * lambdas) - geometric_sum(np.array(GAMMA_CHAIN)))
)  # eq. (ppo-gae-bias-variance)
variance_formula = NOISE**2 + (0.25 + NOISE**2) * geometric_sum((GAMMA_CHAIN * lambdas) ** 2)
best_lambda = lambdas[np.argmin(bias_formula**2 + variance_formula)]

# %% [markdown]
# The sampled estimates against {eq}`ppo-gae-bias-variance`: the means at the two ends
# (where the closed forms are also the intuitive ones: at $\lambda=1$ the sampled return, at
# $\lambda=0$ one reward plus the critic's $\gamma\hat V(1)$), and the variances at every
# $\lambda$, within 10 % (the relative standard error of a variance from 4000 samples is about
# 2 %).

# %%
check_mean_close("λ = 1: E[Â_0 + V̂(s_0)] = Q(s₀, a₀), unbiased", q_estimates[-1], q_first, z_max=4)
check_mean_close(
    "λ = 0: E[Â_0 + V̂(s_0)] = Q + γ (V̂(1) - V(1))",
    q_estimates[0],
    q_first + bias_formula[0],
    z_max=4,
)
check_close(
    "Var[Â_0] at every λ vs eq. (ppo-gae-bias-variance)",
    q_estimates.var(axis=1),
    variance_formula,
    atol=0.0,
    rtol=0.1,
)

# %%
fig, ax = plt.subplots(figsize=(6.8, 3.9))
ax.plot(lambdas, bias_formula**2, color=PALETTE[1], label="bias²")
ax.plot(lambdas, variance_formula, color=PALETTE[0], label="variance")
ax.plot(lambdas, bias_formula**2 + variance_formula, color="k", ls="--", label="mean squared error")
ax.plot(lambdas, (q_estimates.mean(axis=1) - q_first) ** 2, "o", ms=3, color=PALETTE[1])
ax.plot(lambdas, q_estimates.var(axis=1), "o", ms=3, color=PALETTE[0], label="sampled")
ax.axvline(best_lambda, color="0.5", lw=0.8, ls=":")
ax.set(
    xlabel="GAE λ",
    ylabel="error of the estimate of Q(s₀, a₀)",
    title=f"With a half-trained critic, λ = {best_lambda:.2f} balances bias and variance",
)
ax.legend()
plt.show()
print(
    f"λ = 0: bias² {bias_formula[0] ** 2:.1f}, variance {variance_formula[0]:.2f};  "
    f"λ = 1: bias² {bias_formula[-1] ** 2:.1f}, variance {variance_formula[-1]:.1f};  "
    f"smallest error at λ = {best_lambda:.2f}"
)

# %% [markdown]
# With $\lambda=0$ the estimate leans entirely on the critic and inherits its error; with
# $\lambda=1$ it is unbiased, but it carries the noise of forty future rewards and actions.
# With this long horizon ($\gamma=0.99$) the bias only falls once $\gamma\lambda$ is close to
# $\gamma$, so the best $\lambda$ is close to 1, the usual 0.95 territory. A better critic
# (larger $c$) shrinks the bias and moves the optimum to the left. Without a critic only the
# right end, REINFORCE's Monte-Carlo return, is available.

# %% [markdown]
# ### 3. Many epochs on one batch: clipping is not a trust region
#
# One rollout of a fresh policy (32 environments × 64 steps), then 20 epochs of 4 minibatch
# steps on it (learning rate $2.5\cdot10^{-3}$, no entropy bonus), twice from the same weights
# and the same data: with the clip ($\epsilon=0.2$) and without it ($\epsilon=\infty$, the
# plain surrogate $L^\text{IS}$). The two copies are
# the two "seeds" of one seed-batched network, so they run side by side. After every epoch:
# the KL divergence from the policy that collected the data, and the share of samples whose
# ratio has left $[0.8, 1.2]$.

# %%
EPOCHS_ON_ONE_BATCH, EARLY_STOP_KL = 20, 0.015
torch.manual_seed(6)
generator = torch.Generator().manual_seed(6)
one_actor = SeedBatchedMLP(1, CARTPOLE_OBS, HIDDEN, CARTPOLE_ACTIONS, out_gain=0.01)
one_critic = SeedBatchedMLP(1, CARTPOLE_OBS, HIDDEN, 1, out_gain=1.0)
raw, _ = CartPoleRunner(n_seeds=1, n_envs=32, seed=6).rollout(one_actor, 64, generator)
one_batch = make_batch(raw, one_actor, one_critic, gamma=0.99, lam=0.95)


def two_copies(module: SeedBatchedMLP) -> SeedBatchedMLP:
    """A 2-seed network whose two seeds both start from the weights of a 1-seed one."""
    copies = SeedBatchedMLP(2, module.w1.shape[1], module.w1.shape[2], module.w2.shape[2], 1.0)
    copies.load_state_dict({name: p.repeat(2, 1, 1) for name, p in module.state_dict().items()})
    return copies


actor_pair, critic_pair = two_copies(one_actor), two_copies(one_critic)
pair_batch = Batch(*(field.expand(2, *field.shape[1:]) for field in dataclasses.astuple(one_batch)))
eps_pair = torch.tensor([[EPS], [math.inf]])  # (2, 1): row 0 clipped, row 1 not
optimizer = torch.optim.Adam([*actor_pair.parameters(), *critic_pair.parameters()], lr=2.5e-3)
with torch.no_grad():
    old_logits = actor_pair(pair_batch.observations)  # (2, n, 2)
epoch_kl, epoch_outside, epoch_max_ratio = [], [], []
for _ in range(EPOCHS_ON_ONE_BATCH):
    ppo_update(
        actor_pair, critic_pair, optimizer, pair_batch, epochs=1, minibatches=4, eps=eps_pair,
        c_value=0.5, c_entropy=0.0, generator=generator,
    )  # fmt: skip
    kl, outside = policy_change(actor_pair, pair_batch, EPS)
    with torch.no_grad():
        new_logits = actor_pair(pair_batch.observations)
    new_logp = new_logits.log_softmax(-1).gather(-1, pair_batch.actions[..., None]).squeeze(-1)
    ratio = (new_logp - pair_batch.old_logp).exp()
    epoch_kl.append(kl.numpy())
    epoch_outside.append(outside.numpy())
    epoch_max_ratio.append((ratio * pair_batch.valid).max(dim=1).values.numpy())
epoch_kl, epoch_outside = np.array(epoch_kl), np.array(epoch_outside)  # (epochs, 2)
epoch_max_ratio = np.array(epoch_max_ratio)
print(f"{int(one_batch.valid.sum())} valid samples")

# %% [markdown]
# The $k_3$ estimate is checked against the exact KL, $\sum_a\pi_\text{old}\log(\pi_\text{old}/
# \pi_\theta)$ in each visited state (the shared `exact_kl`), after the last epoch: the
# per-sample differences must average to zero.

# %%
valid = pair_batch.valid[0].bool()
for row, name in enumerate(("clipped", "unclipped")):
    exact = rl.exact_kl(old_logits[row], new_logits[row])  # (n,)
    new_logp_row = new_logits[row].log_softmax(-1).gather(-1, pair_batch.actions[row, :, None])
    k3 = rl.kl_estimates(pair_batch.old_logp[row], new_logp_row.squeeze(-1))["k3"]
    check_mean_close(
        f"{name}: mean k3 - exact KL over visited states", (k3 - exact)[valid], 0.0, z_max=4
    )


# %%
def first_epoch_above(kl: np.ndarray, threshold: float) -> str:
    """When an early stop at `threshold` would have ended the epochs."""
    above = np.flatnonzero(kl > threshold)
    return f"after epoch {above[0] + 1}" if above.size else f"never in {len(kl)} epochs"


epochs_axis = np.arange(1, EPOCHS_ON_ONE_BATCH + 1)
fig, (ax_kl, ax_out) = plt.subplots(1, 2, figsize=(10, 3.9))
pair_styles = (("clipped, ε = 0.2", PALETTE[0]), ("unclipped", PALETTE[1]))
for row, (name, colour) in enumerate(pair_styles):
    ax_kl.plot(epochs_axis, epoch_kl[:, row], "o-", ms=3, color=colour, label=name)
    ax_out.plot(epochs_axis, epoch_outside[:, row], "o-", ms=3, color=colour, label=name)
ax_kl.axhline(EARLY_STOP_KL, color="0.4", ls=":", lw=1, label=f"KL target {EARLY_STOP_KL}")
ax_kl.set(xlabel="epoch on the same batch", ylabel="KL(π_old ‖ π_θ), k3 estimate", yscale="log")
ax_kl.set_title("The clip stops the drift of the KL")
ax_out.set(xlabel="epoch on the same batch", ylabel="share of samples with |r − 1| > ε")
ax_out.set_title("…but not every ratio stays in [1 − ε, 1 + ε]")
ax_kl.legend()
fig.suptitle(
    f"After {EPOCHS_ON_ONE_BATCH} epochs: KL {epoch_kl[-1, 0]:.4f} clipped vs "
    f"{epoch_kl[-1, 1]:.2f} unclipped, yet {epoch_outside[-1, 0]:.0%} of the clipped ratios "
    "are outside the band"
)
plt.show()
for row, name in enumerate(("clipped", "unclipped")):
    stop = first_epoch_above(epoch_kl[:, row], EARLY_STOP_KL)
    print(
        f"{name:>9}: largest ratio {epoch_max_ratio[-1, row]:.2f}; an early stop at KL "
        f"{EARLY_STOP_KL} would end the update {stop}"
    )
check_true(
    "clipping is not a hard bound: some ratios of the clipped run exceed 1 + ε",
    bool(epoch_max_ratio[-1, 0] > 1 + EPS),
    f"largest ratio {epoch_max_ratio[-1, 0]:.3f} > {1 + EPS}",
)
check_true(
    "clipping still limits the drift: final KL at least 10× below the unclipped run's",
    bool(10 * epoch_kl[-1, 0] < epoch_kl[-1, 1]),
    f"{epoch_kl[-1, 0]:.4f} vs {epoch_kl[-1, 1]:.3f}",
)

# %% [markdown]
# Clipping holds the KL of the clipped copy at a low plateau, while the unclipped surrogate
# keeps "improving" on stale data and drifts ever further from the policy that collected
# it. The plateau is not a bound, though: a share of the ratios sits outside
# $[1-\epsilon,1+\epsilon]$ and the largest goes past $1+\epsilon$ (printed above).
# This is why PPO implementations log the approximate KL and the clip fraction, and many stop
# an update early once the KL passes a target: a hard stop that the clip alone does not give.
#
# ### 4. PPO against the vanilla policy gradient on CartPole
#
# The same actor–critic, the same rollouts (32 environments × 32 steps = 1024 transitions per
# update and seed), the same GAE ($\gamma=0.99$, $\lambda=0.95$), the same loss weights
# ($c_1=0.5$, $c_2=0.01$), three seeds. Three runs:
#
# - **PPO**: 4 epochs × 2 minibatches per rollout, $\epsilon=0.2$, learning rate $10^{-3}$;
# - **vanilla PG, same learning rate**: one gradient step per rollout;
# - **vanilla PG, tuned**: one step per rollout at learning rate $5\cdot10^{-3}$, run for 1.5
#   times as many environment steps, for about the CPU time of PPO's run (printed below).
#
# Both learning rates are the best by final held-out return in a sweep run while writing the
# chapter (five seeds, 16 environments × 64 steps per rollout;
# $\{5\cdot10^{-4},10^{-3},2.5\cdot10^{-3}\}$ for PPO,
# $\{10^{-3},5\cdot10^{-3},10^{-2},2\cdot10^{-2}\}$ for the vanilla PG). In that sweep, larger
# learning rates made the vanilla PG reach a return of 200 sooner, after which its returns
# swung widely and fell back; the sweep is not rerun here, to keep the notebook fast.
#
# The training returns are those of the sampling policy on the episodes that ended during
# each rollout; before and after training each seed's policy also plays 16 held-out
# episodes. CPU time is measured with `time.process_time` for all three seeds together: the
# machine that builds this book is shared, and wall-clock time would mostly measure the
# neighbours.

# %%
RUNS = {
    "PPO, lr 1e-3": dict(total_steps=40_960, lr=1e-3, epochs=4, minibatches=2),
    "vanilla PG, lr 1e-3": dict(total_steps=40_960, lr=1e-3, epochs=1, minibatches=1),
    "vanilla PG, lr 5e-3": dict(total_steps=61_440, lr=5e-3, epochs=1, minibatches=1),
}
N_SEEDS = 3
histories = {name: train(n_seeds=N_SEEDS, **config) for name, config in tqdm(RUNS.items())}

# %% [markdown]
# For each run and seed: the environment steps and CPU seconds until the training return
# first reaches 200, the CPU cost per environment step, and the held-out return before and
# after.

# %%
THRESHOLD = 200.0


def first_reach(history: dict[str, np.ndarray], axis: str) -> np.ndarray:
    """Per seed, the value of `axis` at the first update whose return >= THRESHOLD (nan: never)."""
    reached = history["episode_return"] >= THRESHOLD  # (updates, S)
    first = np.argmax(reached, axis=0)
    return np.where(reached.any(axis=0), history[axis][first], np.nan)


def median_or_never(values: np.ndarray, fmt: str) -> str:
    """Median over the seeds that reached the threshold, or 'never'."""
    reached = values[~np.isnan(values)]
    return format(np.median(reached), fmt) if reached.size else "never"


summary = {}
for name, history in histories.items():
    summary[name] = dict(
        steps_to_threshold=first_reach(history, "env_steps"),
        cpu_to_threshold=first_reach(history, "cpu_seconds"),
        before=history["before"][0],
        after=history["after"][0],
        steps=history["env_steps"][-1],
        cpu=history["cpu_seconds"][-1],
        cpu_per_step=history["cpu_seconds"][-1] / history["env_steps"][-1],
    )
print(
    f"{'':21}{'steps to 200':>13}{'CPU s to 200':>13}{'steps':>8}{'CPU s':>7}{'µs/step':>9}"
    f"{'held-out: before':>18}{'after [min, max]':>20}"
)
for name, s in summary.items():
    print(
        f"{name:21}{median_or_never(s['steps_to_threshold'], ',.0f'):>13}"
        f"{median_or_never(s['cpu_to_threshold'], '.2f'):>13}"
        f"{s['steps']:8,}{s['cpu']:7.1f}{1e6 * s['cpu_per_step']:9.0f}"
        f"{s['before'].mean():18.0f}{s['after'].mean():9.0f} [{s['after'].min():3.0f}, "
        f"{s['after'].max():3.0f}]"
    )
print("(to 200: median over the seeds that get there; held-out: mean over seeds)")

# %%
fig, (ax_steps, ax_cpu) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
colours = dict(zip(RUNS, (PALETTE[0], PALETTE[1], PALETTE[2]), strict=True))
for name, history in histories.items():
    returns = history["episode_return"]  # (updates, S)
    for ax, x in ((ax_steps, history["env_steps"]), (ax_cpu, history["cpu_seconds"])):
        ax.plot(x, returns.mean(axis=1), color=colours[name], label=name)
        ax.fill_between(
            x, returns.min(axis=1), returns.max(axis=1), color=colours[name], alpha=0.15
        )
for ax in (ax_steps, ax_cpu):
    ax.axhline(THRESHOLD, color="0.5", lw=0.8, ls=":")
ax_steps.set(
    xlabel="environment steps per seed", ylabel="episode return (mean, min–max over seeds)"
)
ax_steps.set_title("Per environment step: PPO learns faster")
ax_cpu.set(xlabel="CPU seconds (all seeds trained together)")
ax_cpu.set_title("Per CPU second: the tuned vanilla PG is as fast or faster")
ax_steps.legend(loc="upper left")
ppo_name, same_name, tuned_name = RUNS
ppo, same, tuned = summary[ppo_name], summary[same_name], summary[tuned_name]
fig.suptitle(
    f"PPO reaches 200 in {np.nanmedian(ppo['steps_to_threshold']):,.0f} steps vs "
    f"{np.nanmedian(tuned['steps_to_threshold']):,.0f}; the tuned vanilla PG costs "
    f"{ppo['cpu_per_step'] / tuned['cpu_per_step']:.1f}× less CPU per step and ends at "
    f"{tuned['after'].mean():.0f} vs {ppo['after'].mean():.0f}"
)
plt.show()

# %% [markdown]
# The claims the text below makes about these runs, checked:

# %%
check_true(
    "every run improves the held-out return of every seed",
    all(bool((s["after"] > s["before"]).all()) for s in summary.values()),
    ", ".join(
        f"{n}: {s['before'].mean():.0f} -> {s['after'].mean():.0f}" for n, s in summary.items()
    ),
)
check_true(
    "same lr, same env steps: PPO's reuse of each batch wins by far",
    bool(ppo["after"].min() > 2 * same["after"].max() and ppo["after"].mean() > THRESHOLD),
    f"held-out: PPO worst seed {ppo['after'].min():.0f} vs vanilla best {same['after'].max():.0f}",
)
check_true(
    "at the same lr the vanilla PG has barely left the random policy",
    bool(same["after"].mean() < 2 * same["before"].mean()),
    f"held-out {same['before'].mean():.0f} -> {same['after'].mean():.0f}",
)
check_true(
    "PPO reaches 200 in fewer env steps than the tuned vanilla PG",
    bool(np.nanmedian(ppo["steps_to_threshold"]) < np.nanmedian(tuned["steps_to_threshold"])),
    f"{np.nanmedian(ppo['steps_to_threshold']):,.0f} vs "
    f"{np.nanmedian(tuned['steps_to_threshold']):,.0f} steps",
)
check_true(
    "the tuned vanilla PG, with 1.5× the env steps, ends higher than PPO",
    bool(tuned["after"].mean() > ppo["after"].mean()),
    f"held-out {tuned['after'].mean():.0f} vs {ppo['after'].mean():.0f}",
)
# CPU times are measured, not asserted: on a shared machine their order can change between runs
print(
    f"CPU per env step: PPO {1e6 * ppo['cpu_per_step']:.0f} µs, "
    f"tuned vanilla {1e6 * tuned['cpu_per_step']:.0f} µs; CPU to reach {THRESHOLD}: "
    f"PPO {np.nanmedian(ppo['cpu_to_threshold']):.2f} s, "
    f"tuned vanilla {np.nanmedian(tuned['cpu_to_threshold']):.2f} s (medians over seeds); "
    f"whole runs: PPO {ppo['cpu']:.1f} s, tuned vanilla {tuned['cpu']:.1f} s"
)
spread_ratio = np.ptp(ppo["after"]) / np.ptp(tuned["after"])
check_true(
    "the spread across seeds is of the same size for both (ratio within 0.5–2)",
    bool(0.5 < spread_ratio < 2),
    f"held-out max - min: PPO {np.ptp(ppo['after']):.0f}, vanilla {np.ptp(tuned['after']):.0f}",
)

# %% [markdown]
# How far each update moved the policy: the approximate KL and the clip fraction after every
# update (mean over seeds).

# %%
fig, (ax_kl, ax_clip) = plt.subplots(1, 2, figsize=(11, 3.9))
for name, history in histories.items():
    ax_kl.plot(history["env_steps"], history["kl"].mean(axis=1), color=colours[name], label=name)
    ax_clip.plot(history["env_steps"], history["clip_fraction"].mean(axis=1), color=colours[name])
ax_kl.set(
    xlabel="environment steps per seed", ylabel="KL(π_old ‖ π_new) per update, k3", yscale="log"
)
ax_kl.set_title("Approximate KL of each update")
ax_clip.set(xlabel="environment steps per seed", ylabel="share of ratios outside [0.8, 1.2]")
ax_clip.set_title("Clip fraction of each update")
ax_kl.legend(loc="lower right")
kl_means = {name: history["kl"].mean() for name, history in histories.items()}
largest_clip = {
    name: history["clip_fraction"].mean(axis=1).max() for name, history in histories.items()
}
fig.suptitle(
    f"Per batch, PPO's eight steps move the policy {kl_means[ppo_name] / kl_means[tuned_name]:.0f}×"
    f" as far (in KL) as one step at 5× the lr; its clip fraction peaks at "
    f"{largest_clip[ppo_name]:.1%}"
)
plt.show()
for name in RUNS:
    print(
        f"{name:>20}: mean KL per update {kl_means[name]:.5f}, "
        f"largest clip fraction {largest_clip[name]:.3f}"
    )
check_true(
    "PPO moves the policy further per batch than the tuned vanilla PG",
    bool(kl_means[ppo_name] > kl_means[tuned_name]),
    f"KL per update {kl_means[ppo_name]:.4f} vs {kl_means[tuned_name]:.4f}",
)
check_true(
    "PPO's clip fraction stays below 10 %",
    bool(largest_clip[ppo_name] < 0.1),
    f"largest mean clip fraction of an update {largest_clip[ppo_name]:.3f}",
)

# %% [markdown]
# Reading the three runs:
#
# - **Per environment step, at the same learning rate**, the reuse of each batch is worth a
#   great deal: eight gradient steps per rollout instead of one. After the same 40 rollouts
#   the vanilla PG has barely left the random policy, while PPO balances the pole for
#   hundreds of steps.
# - **Per environment step, against the tuned vanilla PG**, PPO still gets to a return of 200
#   first: each batch moves its policy further (the KL per update), while the clip keeps each
#   of those moves in check (a clip fraction below 10 %). That is PPO's case: **sample
#   efficiency**.
# - **Per CPU second**, one backward pass per batch is cheaper than eight: PPO spends more CPU
#   per environment step (printed above), so the tuned vanilla PG's extra steps cost it little
#   or no extra time. The CPU times to reach 200 printed above are close, and which one is
#   first varies between runs on a shared machine (the notebook prints them rather than
#   asserting an order); with half as many steps again, the tuned vanilla PG ends *higher*.
#   On CartPole an environment step costs microseconds, so compute is the real price, and a
#   well-tuned plain policy gradient is a baseline PPO does not beat. Where a sample is
#   expensive (a robot, a slow simulator, a language model writing a whole response for
#   every sample) the count of samples dominates, and that is where PPO's extra epochs pay.
# - **Across seeds**, neither is clearly more stable here: the spreads of the final returns
#   are of the same size (printed above).
#
# This notebook runs one task. Acrobot, the usual next one, has no vectorised implementation
# in gymnasium, and the runs would not fit the one-minute budget.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "The clip keeps the new policy within ε of the old one." Does it?
# No. It bounds each sample's *incentive*, not the policy change. Once a sample's term is
# flat it exerts no force, but the gradients of the other samples (through shared weights)
# keep moving its ratio, and later minibatches of the same epoch see ratios that have
# already moved. In Experiment 3 a share of the ratios sits outside $[1-\epsilon,1+\epsilon]$
# and the largest passes $1+\epsilon$. TRPO constrains the KL itself {cite}`schulman2015trust`;
# PPO implementations add an early stop when the approximate KL of the update passes a target
# {cite}`achiam2018spinning`, and the PPO paper also proposes a variant with an adaptive KL
# penalty instead of the clip {cite}`schulman2017proximal`.
# :::
#
# :::{dropdown} Why the `min`? Is clipping the ratio not enough?
# $\operatorname{clip}(r)\hat A$ alone would also be flat where the policy moved the *wrong*
# way (a good action made rarer, $r<1-\epsilon$ with $\hat A>0$; a bad one made likelier,
# $r>1+\epsilon$ with $\hat A<0$), and those mistakes would get no gradient to undo them. The
# `min` with the unclipped $r\hat A$ keeps the full gradient exactly there: the objective is a
# pessimistic bound that ignores improvements beyond $1\pm\epsilon$ but never ignores damage.
# :::
#
# :::{dropdown} PPO reuses old data. Is it on-policy or off-policy?
# On-policy. The data come from $\pi_{\theta_\text{old}}$ only and are thrown away after $K$
# epochs. The ratio corrects the probability of each *action*, but the states were visited
# by $\pi_{\theta_\text{old}}$, which is only harmless while the two policies are close:
# exactly what the clip tries to keep. Learning from data of much older or other policies
# needs off-policy methods ([chapter 09](09_online_vs_offline_rl.ipynb)).
# :::
#
# :::{dropdown} Why does the critic reduce variance, and does it add bias?
# Two mechanisms. As a **baseline**, $V(s_t)$ is subtracted from the return; since
# $\mathbb E_a[\nabla\log\pi(a|s)]=0$, any function of the state leaves the policy gradient
# unbiased and, when close to the value, removes most of the return's variance
# ([chapter 04](04_policy_gradient.ipynb)). As a **bootstrap**, $V(s_{t+k})$ replaces the
# rewards after step $t+k$: far less variance, but now the critic's errors enter the
# estimate. GAE's $\lambda$ sets how much of each (Experiment 2). Plain REINFORCE uses neither and
# has the highest variance; GRPO replaces the learned critic by the mean reward of a group of
# samples for the same prompt.
# :::
#
# :::{dropdown} Episode ends: terminated, truncated, and the reset step
# A time limit is not a failure: at a truncated step the future value is not zero, so the
# TD error must still bootstrap from $V$ of the final state; only the advantage recursion is
# cut there. Treating truncation as termination teaches the critic that the 500th step is
# worth nothing, although the state does not show the clock. Also check the autoreset
# convention of your environments: gymnasium 1.x vector environments reset on the *next*
# call to `step`, whose transition is not a real one and must be masked out of the losses.
# :::
#
# :::{dropdown} The "details": advantage normalisation, value clipping, gradient clipping
# Implementations differ from the paper in dozens of places, and these choices move results
# as much as the algorithm does {cite}`engstrom2020implementation,huang2022the37`.
# Standardising the advantages per minibatch makes the step independent of the reward scale.
# Clipping the value loss around the old values (in OpenAI's PPO2 code) was found not to help
# and sometimes to hurt {cite}`andrychowicz2021what`. Global gradient-norm clipping and a
# decaying learning rate are common too; this chapter leaves both out.
# :::
#
# :::{dropdown} What does $c_1$ do when actor and critic are separate networks?
# Almost nothing. The critic's gradient comes only from $c_1L^\text{VF}$, and Adam divides
# each parameter's step by the running size of its own gradient, so scaling the loss by $c_1$
# leaves the steps essentially unchanged. $c_1$ matters when the two share a trunk (a value
# head on the policy network, as the notes describe for LLMs), where it sets how much the
# value regression shapes the shared features.
# :::
#
# :::{dropdown} PPO for an LLM: what is different?
# The action is a token, the episode one response, usually $\gamma=1$; the reward is the
# reward model's score at the last token plus a per-token KL penalty to the reference model
# {eq}`ppo-rlhf-reward`. Four models are held in memory: the policy, the critic (initialised
# from the reward model in InstructGPT {cite}`ouyang2022training`), the reward model and the
# frozen reference. The entropy bonus is usually dropped, since the KL penalty already keeps
# the policy from collapsing. The critic's memory and its training cost are what GRPO
# ([chapter 07](07_grpo.ipynb)) removes. [Chapter 06](06_rlhf.ipynb) runs the whole pipeline.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. With $\epsilon=0.2$, give the value of one term of $L^\text{CLIP}$ and its derivative with
#    respect to $r$ for $(r,\hat A)=(0.7,+2)$, $(1.3,-0.5)$, $(1.3,+0.5)$ and $(0.7,-2)$. The
#    next cell checks the answer.
#
#    :::{dropdown} Answer
#    $(0.7,+2)$: $\min(1.4,1.6)=1.4$, derivative $2$ (a good action made rarer: not clipped).
#    $(1.3,-0.5)$: $\min(-0.65,-0.6)=-0.65$, derivative $-0.5$ (a bad action made likelier:
#    not clipped). $(1.3,+0.5)$: $\min(0.65,0.6)=0.6$, derivative 0. $(0.7,-2)$:
#    $\min(-1.4,-1.6)=-1.6$, derivative 0.
#    :::

# %%
exercise_ratios = torch.tensor([0.7, 1.3, 1.3, 0.7], dtype=torch.float64)
exercise_advantages = torch.tensor([2.0, -0.5, 0.5, -2.0], dtype=torch.float64)
exercise_logp = exercise_ratios.log().requires_grad_()
exercise_values = clipped_surrogate(
    exercise_logp, torch.zeros(4, dtype=torch.float64), exercise_advantages, eps=0.2
)
(exercise_grad,) = torch.autograd.grad(exercise_values.sum(), exercise_logp)
check_close(
    "exercise 1: values",
    exercise_values.detach(),
    torch.tensor([1.4, -0.65, 0.6, -1.6], dtype=torch.float64),
    atol=1e-12,
)
check_close(
    "exercise 1: d/dr (autograd d/dlog π divided by r)",
    exercise_grad / exercise_ratios,
    torch.tensor([2.0, -0.5, 0.0, 0.0], dtype=torch.float64),
    atol=1e-12,
)

# %% [markdown]
# 2. Rewards $[1,1,1,1]$, a critic that predicts 0 everywhere, $\gamma=0.9$, $\lambda=0.5$,
#    and the episode ends after the fourth step. Compute the GAE advantages by the recursion.
#
#    :::{dropdown} Answer
#    Every $\delta_t=1$ and $\gamma\lambda=0.45$. From the end: $\hat A_3=1$,
#    $\hat A_2=1+0.45=1.45$, $\hat A_1=1+0.45\cdot1.45=1.6525$,
#    $\hat A_0=1+0.45\cdot1.6525=1.743625$. The next cell checks both implementations.
#    :::

# %%
exercise_expected = torch.tensor([1.743625, 1.6525, 1.45, 1.0], dtype=torch.float64)
for gae_function in (gae_recursive, gae_direct_sum):
    exercise_adv, _ = gae_function(
        torch.ones(4, dtype=torch.float64),
        torch.zeros(4, dtype=torch.float64),
        gamma=0.9,
        lam=0.5,
        dones=torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64),
    )
    check_close(f"exercise 2: {gae_function.__name__}", exercise_adv, exercise_expected, atol=1e-12)

# %% [markdown]
# 3. In RLHF with $\gamma=\lambda=1$, the reward model's score $r_\phi$ at the last token and
#    the per-token KL penalty {eq}`ppo-rlhf-reward`, what advantage does token $t$ get?
#
#    :::{dropdown} Answer
#    With $\lambda=1$ GAE is the return minus the baseline:
#    $\hat A_t=r_\phi(x,y)-\beta\sum_{u\ge t}\log\frac{\pi_{\theta_\text{old}}(y_u|\cdot)}
#    {\pi_\text{ref}(y_u|\cdot)}-V(s_t)$. Every token shares the final score, only the KL
#    penalties of the tokens from $t$ on, and its own baseline. With $\lambda<1$ the critic's
#    estimates of later prefixes replace part of that sum, which assigns credit to tokens
#    more sharply, if the critic is good.
#    :::
#
# 4. Your PPO run shows a clip fraction of 40 % and returns that collapse after a good start.
#    What do you change?
#
#    :::{dropdown} Answer
#    The updates are too large: each batch is pushed far beyond the region where the surrogate
#    is trustworthy. Lower the learning rate, use fewer epochs, or stop each update early
#    once the approximate KL passes a target (about 0.01–0.02). A smaller $\epsilon$ helps
#    less than one expects, since the clip only removes the incentive (Experiment 3).
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`schulman2017proximal`: Section 3 (the clipped objective and its lower-bound
#   reading), Section 4 (the adaptive KL-penalty variant), Section 5 (the combined loss with
#   value and entropy terms, Algorithm 1).
# - {cite:t}`schulman2016high`: the TD error as an advantage estimate, the $k$-step
#   estimators, GAE$(\gamma,\lambda)$ as their exponentially weighted average, and its
#   $\lambda=0$ and $\lambda=1$ limits (Section 3).
# - {cite:t}`schulman2015trust` (the KL-constrained surrogate of TRPO) and
#   {cite:t}`kakade2002approximately` (the performance-difference identity).
# - {cite:t}`engstrom2020implementation` (ratios leave the clip range; code-level details)
#   and {cite:t}`andrychowicz2021what` (large study of on-policy design choices, value
#   clipping).
# - {cite:t}`huang2022the37`: orthogonal initialisation, per-minibatch advantage
#   normalisation, approximate KL and clip fraction as diagnostics, truncation handling.
# - {cite:t}`achiam2018spinning`: early stopping of PPO's epochs at a target KL.
# - {cite:t}`schulman2020approximating`: the $k_3$ estimator of the KL.
# - {cite:t}`ouyang2022training` (InstructGPT: per-token KL penalty, value model initialised
#   from the reward model) and {cite:t}`ziegler2019fine` (the KL-penalised reward).
# - {cite:t}`mnih2016asynchronous`: the advantage actor–critic (A2C/A3C) that the vanilla
#   baseline follows; {cite:t}`sutton2018reinforcement`, Chapters 6, 7 and 12 (TD errors,
#   $n$-step returns, $\lambda$-returns).
# - {cite:t}`towers2024gymnasium`: CartPole-v1, its vectorised implementation and the
#   next-step autoreset.

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
# # 09. Online vs offline RL
#
# **The question.** What is the difference between online and offline reinforcement learning,
# and how does it relate to the other distinction, on-policy vs off-policy?
#
# **What you will be able to answer.** The two definitions in general (not only for LLMs) and
# where PPO, GRPO, DQN, CQL and DPO sit in the 2×2 table; how importance weights let you
# evaluate and improve a policy from data logged by another one, with their bias, variance and
# support condition; and why an offline learner overestimates actions the data barely covers,
# while an online learner corrects itself.

# %%
import math
from fractions import Fraction

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import binom

from notebook_utils.checks import check_close, check_mean_close, check_true
from notebook_utils.rl import clipped_surrogate
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# Two separate questions classify an RL algorithm.
#
# - **Online or offline: can the learner collect new data while it trains?** *Online* RL keeps
#   interacting with the environment: act, observe rewards, update, act again with the updated
#   policy. *Offline* (batch) RL gets one fixed logged dataset $\{(s,a,r,s')\}$, collected
#   earlier by some behaviour policy $\mu$, and never interacts. Its central problem is
#   **distribution shift**: the learned policy wants actions the data rarely or never took, their
#   values are extrapolated (usually overestimated, since the learner picks the maxima of noisy
#   estimates), and nothing corrects them. Offline methods are therefore pessimistic or
#   constrained: BCQ keeps to actions the data supports, CQL pushes down the values of unsupported
#   actions, IQL never evaluates an action outside the dataset.
# - **On-policy or off-policy: must the data come from the policy being improved?** On-policy
#   methods (REINFORCE, PPO, GRPO) estimate their update from samples of the current policy $\pi$
#   and throw them away after an update or a few. Off-policy methods learn from data of another
#   policy $\mu$: Q-learning (its target does not care who chose the action), or any estimator
#   reweighted by **importance weights**
#   $\mathbb E_{a\sim\pi}[f(a)]=\mathbb E_{a\sim\mu}\big[\tfrac{\pi(a)}{\mu(a)}f(a)\big]$, which
#   needs $\mu(a)>0$ wherever $\pi(a)>0$ and whose variance grows with
#   $\mathbb E_\mu[(\pi/\mu)^2]$, fast as $\pi$ moves away from $\mu$.
#
# |  | **on-policy** (data from the current $\pi$) | **off-policy** (data from another $\mu$) |
# |---|---|---|
# | **online** | REINFORCE, A2C, PPO, GRPO, online DPO | Q-learning, DQN, SAC, iterative DPO |
# | **offline** | degenerate: evaluate or clone $\mu$ | OPE with IS/SNIS, BCQ, CQL, IQL, DPO |
#
# In words: PPO ([chapter 05](05_ppo.ipynb)) and GRPO ([chapter 07](07_grpo.ipynb)) sample
# every batch from the current policy; online DPO labels a fresh pair from the current model at
# every step. DQN learns from a replay buffer of transitions from older versions of itself, and
# iterative DPO trains on pairs sampled by the previous round's model. Offline, off-policy
# evaluation (OPE) and BCQ, CQL and IQL learn from logged transitions, and DPO on a fixed
# preference dataset ([chapter 02](02_dpo.ipynb)) from logged pairs. The offline, on-policy cell
# is nearly empty: a log is on-policy only for the policy that wrote it, so evaluating $\mu$ on
# its own logs, or cloning it, is all that fits.
#
# Offline implies off-policy (anything that improves on $\mu$ uses $\mu$'s data for another
# policy), but off-policy does not imply offline: DQN is off-policy and online. The notes get
# this wrong twice: they define both terms only for LLMs, and tie offline RL to "preference
# scores". The kind of feedback (rewards, preferences, a verifier) is a third, independent
# axis: offline RL usually learns from logged numeric rewards, and preferences can be collected
# online, as online DPO does.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x$ or $s$, $a$, $r$ | context (state), action, reward | `x`, `actions`, `rewards` |
# | $\pi(a\mid x)$ | target policy: the one we evaluate or improve | `target`, `pi` |
# | $\mu(a\mid x)$ | behaviour (logging) policy that collected the data | `behaviour`, `mu` |
# | $w=\pi(a\mid x)/\mu(a\mid x)$ | importance weight (PPO calls it the ratio $\rho$) | `weights` |
# | $V(\pi)=\mathbb E_{a\sim\pi}[r]$ | value of $\pi$ (expected reward or return) | `true_value` |
# | $\bar r(x,a)$ | mean reward of action $a$ | `reward_means` |
# | $n$, $n(a)$ | logged samples, and how many of them took action $a$ | `n`, `counts` |
#
# Most of the chapter uses bandits (one-step problems: observe $x$, act, get $r$), where every
# quantity has a closed form; the sequential case adds one product over time steps.
#
# ### Two axes
#
# *Online* learning alternates collecting and updating, so the data follow the learner: if it
# starts to favour an action, it gets more samples of that action. *Offline* learning receives
# $\mathcal D=\{(x_i,a_i,r_i)\}_{i=1}^n$ with $a_i\sim\mu(\cdot\mid x_i)$ once, returns a policy
# $\hat\pi$, and only then is $\hat\pi$ deployed. *On-policy* estimators are valid only for
# samples from $\pi$ itself, such as REINFORCE's gradient
# $\nabla_\theta V(\pi_\theta)=\mathbb E_{a\sim\pi_\theta}[r\,\nabla_\theta\log\pi_\theta(a)]$
# ({cite:t}`williams1992simple`): after one update its samples come from the *previous* policy.
# *Off-policy* methods use data from any $\mu$. Q-learning is off-policy because its target
# $r+\gamma\max_{a'}Q(s',a')$ is a property of the transition, whoever chose $a$; that is why DQN
# can replay old transitions from a buffer {cite}`mnih2015human,lin1992self`. Policy-based
# methods become off-policy through importance weights.
#
# ### Importance sampling and its support condition
#
# For any function $f$ of the action, multiply and divide by $\mu(a)$:
#
# $$
# \mathbb E_{a\sim\pi}[f(a)]=\sum_a\pi(a)f(a)=\sum_{a:\,\mu(a)>0}\mu(a)\,\frac{\pi(a)}{\mu(a)}\,
# f(a)=\mathbb E_{a\sim\mu}\big[w(a)\,f(a)\big],\qquad w(a)=\frac{\pi(a)}{\mu(a)}
# $$ (off-is)
#
# The middle step drops the actions with $\mu(a)=0$, so it is exact only under the **support
# condition**
#
# $$
# \pi(a)>0\ \Longrightarrow\ \mu(a)>0 .
# $$ (off-support)
#
# If it fails, the right-hand side equals $\mathbb E_\pi\big[f(a)\,\mathbb 1\{\mu(a)>0\}\big]$:
# the actions the logger never took are silently missing, and no amount of data brings them
# back. With $f=1$, {eq}`off-is` gives $\mathbb E_\mu[w]=1$. The errata's example: an action
# with $\pi(a)=0.5$ and $\mu(a)=0.25$ is logged half as often as $\pi$ would take it, so each
# logged occurrence counts twice, $w=2$.
#
# ### The importance-sampling estimator is unbiased
#
# With $n$ logged samples, replace the expectation under $\mu$ by the sample mean
# (in a contextual bandit $w_i=\pi(a_i\mid x_i)/\mu(a_i\mid x_i)$, and the identity holds for
# each $x$):
#
# $$
# \hat V_{\text{IS}}=\frac1n\sum_{i=1}^n w_i\,r_i .
# $$ (off-is-estimator)
#
# By linearity and {eq}`off-is` with $f(a)=\mathbb E[r\mid a]$, $\mathbb E[\hat V_\text{IS}]=V(\pi)$
# for every $n$ (the inverse-propensity estimator of {cite:t}`horvitz1952generalization`). The
# naive mean of the logged rewards, $\frac1n\sum_i r_i$, instead estimates $V(\mu)$: the value of
# the policy that collected the data, not of the one we care about.
#
# ### Its variance, and why it explodes
#
# The terms are i.i.d., so $\operatorname{Var}(\hat V_\text{IS})=\frac1n\operatorname{Var}_\mu(wr)$
# with
#
# $$
# \operatorname{Var}_\mu(w\,r)=\mathbb E_\mu[w^2r^2]-V(\pi)^2
# =\sum_a\frac{\pi(a)^2}{\mu(a)}\,\mathbb E[r^2\mid a]-V(\pi)^2 .
# $$ (off-is-var)
#
# The factor $\pi(a)^2/\mu(a)$ is the whole story: an action that $\pi$ takes with probability
# $p$ but $\mu$ logs with probability $\varepsilon$ contributes $p^2/\varepsilon$. With $f=1$ the
# same computation gives the second moment of the weights,
#
# $$
# \mathbb E_\mu[w^2]=\sum_a\frac{\pi(a)^2}{\mu(a)}=1+\chi^2(\pi\,\|\,\mu)\ \ge\ 1 ,
# $$ (off-second-moment)
#
# and, since $\mathbb E_\mu[w^2]=\mathbb E_\pi[w]=\mathbb E_\pi[e^{\log w}]$, Jensen's inequality
# gives a lower bound in terms of the KL divergence
# $\mathrm{KL}(\pi\|\mu)=\mathbb E_\pi[\log w]$:
#
# $$
# \mathbb E_\mu[w^2]\ \ge\ \exp\big(\mathrm{KL}(\pi\,\|\,\mu)\big).
# $$ (off-w2-kl)
#
# The second moment therefore grows at least exponentially in the divergence between the two
# policies. A useful summary is the **effective sample size**, the number of on-policy samples
# worth as much as $n$ weighted ones (Kish's formula, computed from the weights themselves,
# {cite}`owen2013monte`, §9.3):
#
# $$
# n_\text{eff}=\frac{\big(\sum_i w_i\big)^2}{\sum_i w_i^2}\ \approx\ \frac{n}{\mathbb E_\mu[w^2]} .
# $$ (off-ess)
#
# ### Self-normalised importance sampling
#
# Dividing by the sum of the weights instead of $n$ gives
#
# $$
# \hat V_\text{SN}=\frac{\sum_i w_i\,r_i}{\sum_i w_i} .
# $$ (off-snis)
#
# (Sutton and Barto call it *weighted* importance sampling {cite}`sutton2018reinforcement`.)
# It is a weighted average of observed rewards, so it stays within their range; it is
# unchanged if all weights are multiplied by a constant (so $\pi$ and $\mu$ may be known only up
# to normalisation); and adding a constant to every reward shifts it by exactly that constant.
# It is **biased**: the expectation of a ratio is not the ratio of expectations. With $n=1$ it
# returns $r_1$, whose expectation is $V(\mu)$: no correction at all. It is **consistent**: by
# the law of large numbers the numerator tends to $\mathbb E_\mu[wr]=V(\pi)$ and the
# denominator to $\mathbb E_\mu[w]=1$. A first-order (delta-method) expansion of the ratio
# around these limits gives the variance for large $n$ ({cite}`owen2013monte`, §9.2), and the
# next order of the same expansion gives the bias:
#
# $$
# \mathbb E[\hat V_\text{SN}]-V(\pi)\approx-\frac1n\,\mathbb E_\mu\big[w^2\,(r-V(\pi))\big],
# \qquad
# \operatorname{Var}(\hat V_\text{SN})\approx\frac1n\,\mathbb E_\mu\big[w^2\,(r-V(\pi))^2\big].
# $$ (off-snis-bias-var)
#
# Compared with {eq}`off-is-var`, $r^2$ has become $(r-V)^2$: self-normalising acts like a
# baseline. The bias is $O(1/n)$ and the standard deviation $O(1/\sqrt n)$, so the bias soon
# stops mattering.
#
# ### Sequences: the weight of a trajectory, and per-decision weights
#
# For an episode $\tau=(s_0,a_0,r_0,\dots,s_{T-1},a_{T-1},r_{T-1})$ the environment's
# transition probabilities appear in both $\Pr_\pi(\tau)$ and $\Pr_\mu(\tau)$ and cancel, so the
# weight of a trajectory is a product of per-step ratios, and the return
# $G=\sum_t\gamma^t r_t$ is estimated by
#
# $$
# \rho_{0:t}=\prod_{k=0}^{t}\frac{\pi(a_k\mid s_k)}{\mu(a_k\mid s_k)},\qquad
# \hat V_\text{traj}=\rho_{0:T-1}\,\sum_{t=0}^{T-1}\gamma^t r_t .
# $$ (off-traj-is)
#
# A product of $T$ factors has second moment $\prod_t\mathbb E[w_t^2]$ when the factors are
# independent, i.e. $c^T$ for $c=\mathbb E_\mu[w^2]>1$: exponential in the horizon. An LLM's
# response is such a trajectory, one factor per token. **Per-decision** importance sampling
# {cite}`precup2000eligibility` uses the fact that $r_t$ does not depend on later actions: given
# the history up to step $t$, each later factor has conditional expectation
# $\sum_a\mu(a\mid s)\,\pi(a\mid s)/\mu(a\mid s)=1$, so the factors after $t$ can be dropped from
# $r_t$'s weight without changing the expectation:
#
# $$
# \hat V_\text{PD}=\sum_{t=0}^{T-1}\gamma^t\,\rho_{0:t}\,r_t .
# $$ (off-pdis)
#
# Both are unbiased; early rewards now carry short products, so the variance is lower.
#
# ### Learning from logged data: the importance-weighted policy gradient
#
# Differentiating $V(\pi_\theta)=\mathbb E_\mu[w_\theta\,r]$, with
# $\nabla_\theta w_\theta=w_\theta\nabla_\theta\log\pi_\theta$, gives a gradient estimated
# entirely from logged data:
#
# $$
# \nabla_\theta V(\pi_\theta)=\mathbb E_{\mu}\big[w_\theta(a)\,r\,\nabla_\theta\log\pi_\theta(a)
# \big]\ \approx\ \frac1n\sum_i w_i\,r_i\,\nabla_\theta\log\pi_\theta(a_i\mid x_i).
# $$ (off-is-pg)
#
# The gradient of the self-normalised objective $J_\text{SN}(\theta)=\hat V_\text{SN}$ follows by
# the quotient rule:
#
# $$
# \nabla_\theta J_\text{SN}=\frac{\sum_i w_i\,\big(r_i-J_\text{SN}\big)\,
# \nabla_\theta\log\pi_\theta(a_i\mid x_i)}{\sum_i w_i} .
# $$ (off-snis-pg)
#
# With $\mu=\pi_\theta$ all weights are 1 and {eq}`off-snis-pg` is REINFORCE with the batch
# mean as baseline: the on-policy gradient is the special case $w\equiv1$. PPO's ratio
# $\rho=\pi_\theta/\pi_{\theta_\text{old}}$ ([chapter 05](05_ppo.ipynb)) is exactly this $w$
# with $\mu=\pi_{\theta_\text{old}}$: PPO collects a fresh batch with the current policy (it is
# on-policy) and corrects for the few epochs it reuses that batch; its clip removes the gradient
# of a sample once $\rho$ has left $[1-\epsilon,1+\epsilon]$ in the direction its advantage
# favours, before the per-step ratio stops being a good stand-in for the full correction.
#
# ### Distribution shift: why an offline learner overestimates
#
# Let $\hat Q(a)$ be unbiased estimates of the values $Q(a)$ from the log, and let the offline
# learner act greedily, $\hat a=\arg\max_a\hat Q(a)$. Because the maximum is convex,
#
# $$
# \mathbb E\big[\hat Q(\hat a)\big]=\mathbb E\big[\max_a\hat Q(a)\big]\ \ge\ \max_a Q(a)
# \ \ge\ \mathbb E\big[Q(\hat a)\big]:
# $$ (off-winners-curse)
#
# on average the chosen action looks better than it is (the winner's curse). The gap is largest
# when some estimates are very noisy, and the noise of $\hat Q(a)$ is
# $\sigma/\sqrt{n(a)}$: the actions the logger rarely took are the ones the maximum picks.
# For an action never logged there is no estimate at all, only whatever the function
# approximator extrapolates. An online learner that picks an overestimated action *tries it*,
# gets new rewards, and its estimate falls back; an offline learner never finds out, and in
# a sequential problem the bootstrapped target $\max_{a'}\hat Q(s',a')$ carries the
# overestimate back to earlier states {cite}`fujimoto2019off,levine2020offline`. The
# pessimistic remedy used below is a **count-based lower confidence bound**,
#
# $$
# \hat a_\beta=\arg\max_{a:\ n(a)>0}\ \Big[\hat Q(a)-\beta\,\frac{\sigma}{\sqrt{n(a)}}\Big],
# $$ (off-lcb)
#
# which restricts the choice to logged actions (BCQ's support constraint, in tabular form) and
# subtracts a penalty that grows as the data thin out. It is a stand-in for CQL, not CQL: CQL
# {cite}`kumar2020conservative` adds a regulariser to the Q-learning loss that pushes values down
# on the learned policy's actions and up on the logged ones; in its tabular analysis the
# resulting penalty on an action is inversely proportional to the data's probability of that
# action, which is the shape of {eq}`off-lcb`. $\beta=0$ is the greedy learner; $\beta\to\infty$
# picks the most-logged action.

# %% [markdown]
# ## Implementation from scratch
#
# ### Importance weights and the estimators
#
# {eq}`off-is`, {eq}`off-is-estimator`, {eq}`off-snis` and {eq}`off-ess`, on arrays of logged
# samples. The propensities $\mu(a_i\mid x_i)$ must have been logged with the actions.


# %%
def importance_weights(target_probs: np.ndarray, behaviour_probs: np.ndarray) -> np.ndarray:
    """w_i = π(a_i|x_i) / μ(a_i|x_i), eq. (off-is); both arrays hold the logged actions' probs."""
    if np.any(behaviour_probs <= 0):
        raise ValueError("a logged action has μ = 0: it could not have been logged")
    return target_probs / behaviour_probs


def is_estimate(weights: np.ndarray, rewards: np.ndarray) -> float:
    """Importance-sampling estimate of V(π), eq. (off-is-estimator)."""
    return float(np.mean(weights * rewards))


def snis_estimate(weights: np.ndarray, rewards: np.ndarray) -> float:
    """Self-normalised importance-sampling estimate of V(π), eq. (off-snis)."""
    return float(np.sum(weights * rewards) / np.sum(weights))


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (Σ w)² / Σ w², eq. (off-ess)."""
    return float(np.sum(weights) ** 2 / np.sum(weights**2))


# %% [markdown]
# The exact quantities of a bandit with known action probabilities and reward moments:
# {eq}`off-is-var`, {eq}`off-second-moment` and the two large-$n$ terms of
# {eq}`off-snis-bias-var`.


# %%
def policy_value(policy: np.ndarray, reward_means: np.ndarray) -> float:
    """V(π) = Σ_a π(a) r̄(a) for a one-state bandit."""
    return float(policy @ reward_means)


def weight_second_moment(target: np.ndarray, behaviour: np.ndarray) -> float:
    """E_μ[w²] = Σ_a π(a)² / μ(a), eq. (off-second-moment)."""
    return float(np.sum(target**2 / behaviour))


def is_term_variance(
    target: np.ndarray, behaviour: np.ndarray, reward_means: np.ndarray, reward_sq: np.ndarray
) -> float:
    """Var_μ(w r) = Σ_a π(a)²/μ(a) E[r²|a] - V(π)², eq. (off-is-var); n times Var(V̂_IS)."""
    value = policy_value(target, reward_means)
    return float(np.sum(target**2 / behaviour * reward_sq) - value**2)


def snis_bias_and_variance_terms(
    target: np.ndarray, behaviour: np.ndarray, reward_means: np.ndarray, reward_sq: np.ndarray
) -> tuple[float, float]:
    """The n-free coefficients of eq. (off-snis-bias-var): bias ≈ b/n, variance ≈ v/n."""
    value = policy_value(target, reward_means)
    w2 = target**2 / behaviour  # (K,): π(a)²/μ(a), the weight of action a in E_μ[w² ·]
    bias = -np.sum(w2 * (reward_means - value))
    centred_sq = reward_sq - 2 * value * reward_means + value**2  # E[(r - V)² | a]
    return float(bias), float(np.sum(w2 * centred_sq))


# %% [markdown]
# For the two-armed Bernoulli bandit the dataset matters only through three counts: how many
# times arm 0 was logged ($n_0$), and the successes on each arm ($k_0$, $k_1$). Summing over
# every possible value of the counts, with their binomial probabilities, gives the *exact*
# expectation of the self-normalised estimate for any $n$, with no simulation.


# %%
def snis_exact_mean(
    n: int, target: np.ndarray, behaviour: np.ndarray, success_probs: np.ndarray
) -> float:
    """E[V̂_SN] over every dataset of n samples from a two-armed Bernoulli bandit, exactly."""
    w0, w1 = target / behaviour
    expectation = 0.0
    for n0 in range(n + 1):
        n1 = n - n0
        k0, k1 = np.arange(n0 + 1), np.arange(n1 + 1)
        estimate = (w0 * k0[:, None] + w1 * k1[None, :]) / (w0 * n0 + w1 * n1)  # (n0+1, n1+1)
        p_k0 = binom.pmf(k0, n0, success_probs[0])  # (n0+1,)
        p_k1 = binom.pmf(k1, n1, success_probs[1])  # (n1+1,)
        expectation += binom.pmf(n0, n, behaviour[0]) * (p_k0 @ estimate @ p_k1)
    return float(expectation)


# %% [markdown]
# ### Trajectory and per-decision weights
#
# {eq}`off-traj-is` and {eq}`off-pdis` for a batch of episodes of equal length, with
# $\gamma=1$. `np.cumprod` gives every prefix product $\rho_{0:t}$ at once.


# %%
def trajectory_is(step_ratios: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """ρ_{0:T-1} Σ_t r_t per episode, eq. (off-traj-is); inputs (N, T), output (N,)."""
    return np.prod(step_ratios, axis=1) * rewards.sum(axis=1)


def per_decision_is(step_ratios: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """Σ_t ρ_{0:t} r_t per episode, eq. (off-pdis); inputs (N, T), output (N,)."""
    return np.sum(np.cumprod(step_ratios, axis=1) * rewards, axis=1)


# %% [markdown]
# With i.i.d. steps (the same $\pi$, $\mu$ and reward law at every step, so the factors are
# independent) both variances have closed forms. Write $c=\mathbb E_\mu[w^2]$,
# $m=\mathbb E_\mu[w^2r]$ (for 0/1 rewards $r^2=r$) and $v=V_1(\pi)$, the one-step value.
# Expanding the squares and taking expectations factor by factor:
# $\mathbb E[\hat V_\text{traj}^2]=Tc^{T-1}m+T(T-1)c^{T-2}m^2$ and
# $\mathbb E[\hat V_\text{PD}^2]=m\sum_{t=0}^{T-1}c^{t}\big(1+2(T-1-t)v\big)$; subtract
# $(Tv)^2$.


# %%
def trajectory_is_variance(c: float, m: float, v: float, horizon: int) -> float:
    """Var of eq. (off-traj-is) for i.i.d. steps with 0/1 rewards (closed form above)."""
    t = horizon
    second = t * c ** (t - 1) * m + t * (t - 1) * c ** (t - 2) * m**2
    return second - (t * v) ** 2


def per_decision_is_variance(c: float, m: float, v: float, horizon: int) -> float:
    """Var of eq. (off-pdis) for i.i.d. steps with 0/1 rewards (closed form above)."""
    steps = np.arange(horizon)
    second = m * np.sum(c**steps * (1 + 2 * (horizon - 1 - steps) * v))
    return float(second - (horizon * v) ** 2)


# %% [markdown]
# ### A contextual bandit and a softmax policy
#
# For the learning experiments: contexts $x\in\mathbb R^5$ (a constant feature, then four
# Gaussian ones), five actions, Bernoulli rewards with success probability
# $\sigma(x^\top\beta_a)$, and a linear softmax policy $\pi_\theta(a\mid x)\propto
# e^{x^\top\theta_a}$. The behaviour policy mixes a policy that prefers the *worst* actions
# with the uniform one: $\mu_\varepsilon=(1-\varepsilon)\,\mathrm{softmax}(-x^\top\beta)+
# \varepsilon/K$, so every action has probability at least $\varepsilon/K$ (the support
# condition holds, barely for small $\varepsilon$).

# %%
N_FEATURES, N_ACTIONS = 5, 5
reward_coef = rng.normal(0.0, 1.5, size=(N_FEATURES, N_ACTIONS))  # β, (d, K)


def draw_contexts(n: int, generator: np.random.Generator) -> np.ndarray:
    """n contexts (n, d): a constant 1, then standard normal features."""
    x = generator.standard_normal((n, N_FEATURES))
    x[:, 0] = 1.0
    return x


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stabilised by subtracting the row maximum."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def success_probs(x: np.ndarray) -> np.ndarray:
    """r̄(x, a) = sigmoid(x·β_a), (n, K)."""
    return 1.0 / (1.0 + np.exp(-(x @ reward_coef)))


def behaviour_probs(x: np.ndarray, eps: float) -> np.ndarray:
    """μ_ε(a|x) = (1 - ε) softmax(-x·β) + ε/K, (n, K): mostly the worst actions."""
    return (1 - eps) * softmax(-(x @ reward_coef)) + eps / N_ACTIONS


def sample_actions(probs: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """One action per row of probs (n, K), by inverting the cumulative distribution."""
    return (probs.cumsum(axis=1) > generator.random((len(probs), 1))).argmax(axis=1)


def pull(x: np.ndarray, actions: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """Bernoulli rewards (n,) of the chosen actions."""
    p = success_probs(x)[np.arange(len(x)), actions]
    return (generator.random(len(x)) < p).astype(float)


# %% [markdown]
# The gradient {eq}`off-is-pg` (or {eq}`off-snis-pg`) of a linear softmax policy uses
# $\nabla_{\theta}\log\pi_\theta(a\mid x)=x\,(e_a-\pi_\theta(\cdot\mid x))^\top$, a $(d,K)$
# matrix per sample.


# %%
def is_policy_gradient(
    theta: np.ndarray,
    x: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
    self_normalised: bool,
) -> np.ndarray:
    """Gradient (d, K) of the IS objective, eq. (off-is-pg), or of SNIS, eq. (off-snis-pg)."""
    n = len(actions)
    pi = softmax(x @ theta)  # (n, K)
    weights = pi[np.arange(n), actions] / propensities  # (n,)
    if self_normalised:
        value = np.sum(weights * rewards) / np.sum(weights)
        coef = weights * (rewards - value) / np.sum(weights)  # (n,)
    else:
        coef = weights * rewards / n
    score = np.eye(N_ACTIONS)[actions] - pi  # (n, K): e_a - π(·|x), times x below
    return x.T @ (coef[:, None] * score)  # (d, K)


# %% [markdown]
# ## Verification
#
# ### The errata's numbers, exactly
#
# The weight of the errata's example, and the two-armed bandit: behaviour $\mu=[0.75,0.25]$,
# target $\pi=[0.5,0.5]$, Bernoulli rewards with success probabilities $[0.2,0.8]$. In exact
# fractions: $V(\pi)=\tfrac12(0.2+0.8)=\tfrac12$, and the naive logged mean has expectation
# $V(\mu)=0.75\cdot0.2+0.25\cdot0.8=0.35$ exactly.

# %%
errata_weight = Fraction(1, 2) / Fraction(1, 4)
check_true("errata weight π(a)/μ(a) = 0.5 / 0.25 = 2", errata_weight == 2, f"w = {errata_weight}")
mu_frac = [Fraction(3, 4), Fraction(1, 4)]
pi_frac = [Fraction(1, 2), Fraction(1, 2)]
p_frac = [Fraction(1, 5), Fraction(4, 5)]
v_pi_exact = sum(p * r for p, r in zip(pi_frac, p_frac, strict=True))
v_mu_exact = sum(p * r for p, r in zip(mu_frac, p_frac, strict=True))
check_true("V(π) = 1/2 exactly", v_pi_exact == Fraction(1, 2), f"V(π) = {v_pi_exact}")
check_true(
    "naive mean's expectation V(μ) = 7/20 = 0.35", v_mu_exact == Fraction(7, 20), f"{v_mu_exact}"
)

# %% [markdown]
# Now 200,000 logged samples from $\mu$. The IS estimate must agree with $V(\pi)=0.5$ within a
# few standard errors, and the naive mean with $0.35$. The errata report 0.5002 and 0.3498 for
# their draw; the values for this seed are printed below.

# %%
BEHAVIOUR = np.array([0.75, 0.25])
TARGET = np.array([0.5, 0.5])
SUCCESS = np.array([0.2, 0.8])
N_LOGGED = 200_000

logged_actions = rng.choice(2, size=N_LOGGED, p=BEHAVIOUR)  # a_i ~ μ
logged_rewards = (rng.random(N_LOGGED) < SUCCESS[logged_actions]).astype(float)
weights = importance_weights(TARGET[logged_actions], BEHAVIOUR[logged_actions])  # (n,)
v_pi = policy_value(TARGET, SUCCESS)
check_mean_close("IS terms w r: mean = V(π) = 0.5", weights * logged_rewards, v_pi, z_max=4)
check_mean_close("naive logged rewards: mean = V(μ) = 0.35", logged_rewards, 0.35, z_max=4)
check_mean_close("weights: E_μ[w] = 1", weights, 1.0, z_max=4)
naive_se = logged_rewards.std(ddof=1) / math.sqrt(N_LOGGED)
naive_z = abs(logged_rewards.mean() - v_pi) / naive_se
check_true("the naive mean is not V(π)", bool(naive_z > 50), f"{naive_z:.0f} standard errors off")
print(
    f"IS estimate {is_estimate(weights, logged_rewards):.4f}, "
    f"SNIS {snis_estimate(weights, logged_rewards):.4f}, "
    f"naive logged mean {logged_rewards.mean():.4f} (n = {N_LOGGED:,})"
)

# %% [markdown]
# ### The variance formula
#
# {eq}`off-is-var` for this bandit ($r^2=r$ for 0/1 rewards):
# $\tfrac{0.25}{0.75}\cdot0.2+\tfrac{0.25}{0.25}\cdot0.8-0.5^2=\tfrac{37}{60}\approx0.617$, more
# than twice the on-policy variance $0.5\cdot0.5=0.25$ of a reward drawn from $\pi$. The squared
# deviations $(w_ir_i-V)^2$ are i.i.d. with mean exactly $\operatorname{Var}_\mu(wr)$, so
# `check_mean_close` tests the formula with a z-score. The same goes for
# {eq}`off-second-moment`, $\mathbb E_\mu[w^2]=\tfrac43$, and the effective sample size
# {eq}`off-ess`.

# %%
term_variance = is_term_variance(TARGET, BEHAVIOUR, SUCCESS, SUCCESS)
check_close("Var_μ(w r) formula vs 37/60", term_variance, 37 / 60, atol=1e-15)
squared_deviation = (weights * logged_rewards - v_pi) ** 2
check_mean_close(
    "(w r - V)²: mean = Var_μ(w r), eq. (off-is-var)", squared_deviation, 37 / 60, z_max=4
)
second_moment = weight_second_moment(TARGET, BEHAVIOUR)
check_mean_close("w²: mean = E_μ[w²] = 4/3, eq. (off-second-moment)", weights**2, 4 / 3, z_max=4)
ess = effective_sample_size(weights)
check_close("Kish ESS / n vs 1 / E_μ[w²]", ess / N_LOGGED, 1 / second_moment, atol=0.01)
print(f"E_μ[w²] = {second_moment:.4f}: the {N_LOGGED:,} logged samples are worth {ess:,.0f}")

# %% [markdown]
# ### Self-normalised IS: biased, by what the expansion predicts
#
# With $n=1$, $\hat V_\text{SN}=r_1$, so its exact expectation is $V(\mu)=0.35$, not $0.5$. For
# larger $n$, {eq}`off-snis-bias-var` predicts a bias of $-b/n$ with
# $b=\mathbb E_\mu[w^2(r-V)]=\tfrac13(0.2-0.5)+1\cdot(0.8-0.5)=0.2$. The exact enumeration
# `snis_exact_mean` checks both, with no sampling error.

# %%
check_close(
    "exact E[V̂_SN] at n = 1 vs V(μ)",
    snis_exact_mean(1, TARGET, BEHAVIOUR, SUCCESS),
    0.35,
    atol=1e-12,
)
bias_coef, snis_var_coef = snis_bias_and_variance_terms(TARGET, BEHAVIOUR, SUCCESS, SUCCESS)
check_close("bias coefficient -E_μ[w²(r - V)] vs -1/5", bias_coef, -0.2, atol=1e-15)
for n in (10, 100, 400):
    exact_bias = snis_exact_mean(n, TARGET, BEHAVIOUR, SUCCESS) - v_pi
    print(f"n = {n:>3}: exact bias of SNIS {exact_bias:+.6f}, n × bias {n * exact_bias:+.4f}")
check_close(
    "n × exact SNIS bias at n = 400 vs -1/5", 400 * exact_bias, bias_coef, atol=0.0, rtol=0.02
)

# %% [markdown]
# The variances: 4,000 independent datasets of $n=500$ samples each. IS is unbiased with
# variance $\tfrac{37}{60}/n$; SNIS has variance $\approx\tfrac13/n$ and a mean of
# $0.5-0.2/n$. For this bandit a dataset of any size is summarised exactly by its counts,
# so the datasets are drawn as binomial counts rather than sample by sample.

# %%
N_DATASETS, N_PER_DATASET = 4000, 500
w0, w1 = TARGET / BEHAVIOUR


def draw_counts(
    n: int, size: int, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n0, k0, k1) for `size` datasets of n samples from μ: pulls of arm 0, successes on each."""
    n0 = generator.binomial(n, BEHAVIOUR[0], size)
    return n0, generator.binomial(n0, SUCCESS[0]), generator.binomial(n - n0, SUCCESS[1])


n0, k0, k1 = draw_counts(N_PER_DATASET, N_DATASETS, rng)
is_estimates = (w0 * k0 + w1 * k1) / N_PER_DATASET  # eq. (off-is-estimator)
snis_estimates = (w0 * k0 + w1 * k1) / (w0 * n0 + w1 * (N_PER_DATASET - n0))  # eq. (off-snis)
check_mean_close(f"IS over datasets of n = {N_PER_DATASET}: unbiased", is_estimates, v_pi, z_max=4)
snis_expected = snis_exact_mean(N_PER_DATASET, TARGET, BEHAVIOUR, SUCCESS)
check_mean_close("SNIS over datasets: mean = exact E[V̂_SN]", snis_estimates, snis_expected, z_max=4)
# The sample variance of 4000 near-normal estimates has a relative standard error of about
# sqrt(2 / 4000) ≈ 2 %; rtol 10 % is five of those.
check_close(
    "IS variance × n vs 37/60",
    is_estimates.var(ddof=1) * N_PER_DATASET,
    term_variance,
    atol=0,
    rtol=0.1,
)
check_close(
    "SNIS variance × n vs 1/3",
    snis_estimates.var(ddof=1) * N_PER_DATASET,
    snis_var_coef,
    atol=0,
    rtol=0.1,
)

# %% [markdown]
# ### The support condition
#
# If the logger never takes arm 1 ($\mu=[1,0]$), no logged sample can carry its reward. The IS
# estimate then converges to $\mathbb E_\pi[r\,\mathbb 1\{\mu>0\}]=0.5\cdot0.2=0.1$, not to $0.5$,
# and SNIS to $0.2$, the mean reward of arm 0: both are wrong, with any amount of data.

# %%
arm0_rewards = (rng.random(N_LOGGED) < SUCCESS[0]).astype(float)  # every logged action is arm 0
unsupported_weights = importance_weights(np.full(N_LOGGED, 0.5), np.ones(N_LOGGED))
check_mean_close(
    "IS with μ = [1, 0]: converges to E_π[r 1{μ>0}] = 0.1",
    unsupported_weights * arm0_rewards,
    0.1,
    z_max=4,
)
unsupported_snis = snis_estimate(unsupported_weights, arm0_rewards)
print(
    f"IS {is_estimate(unsupported_weights, arm0_rewards):.4f}, "
    f"SNIS {unsupported_snis:.4f}; V(π) = 0.5"
)

# %% [markdown]
# ### Per-decision IS is unbiased, and both variance formulas hold
#
# Episodes of $T=4$ i.i.d. steps with the errata's per-step policies: $V(\pi)=T\cdot0.5=2$.
# Here $c=\tfrac43$, $m=\mathbb E_\mu[w^2r]=\tfrac{13}{15}$ and $v=0.5$.

# %%
HORIZON, N_EPISODES = 4, 200_000
step_c = weight_second_moment(TARGET, BEHAVIOUR)
step_m = float(np.sum(TARGET**2 / BEHAVIOUR * SUCCESS))
episode_actions = rng.choice(2, size=(N_EPISODES, HORIZON), p=BEHAVIOUR)  # (N, T)
episode_rewards = (rng.random((N_EPISODES, HORIZON)) < SUCCESS[episode_actions]).astype(float)
step_ratios = TARGET[episode_actions] / BEHAVIOUR[episode_actions]  # (N, T)
trajectory_estimates = trajectory_is(step_ratios, episode_rewards)
per_decision_estimates = per_decision_is(step_ratios, episode_rewards)
check_mean_close(
    "trajectory IS: mean = T V_1(π) = 2", trajectory_estimates, HORIZON * v_pi, z_max=4
)
check_mean_close("per-decision IS: mean = 2", per_decision_estimates, HORIZON * v_pi, z_max=4)
for name, estimates, formula in [
    ("trajectory IS", trajectory_estimates, trajectory_is_variance),
    ("per-decision IS", per_decision_estimates, per_decision_is_variance),
]:
    exact = formula(step_c, step_m, v_pi, HORIZON)
    check_close(f"{name}: variance vs closed form", estimates.var(ddof=1), exact, atol=0, rtol=0.05)
    print(f"{name}: variance {estimates.var(ddof=1):.3f} (closed form {exact:.3f})")

# %% [markdown]
# ### The policy gradients, against autograd
#
# {eq}`off-is-pg` and {eq}`off-snis-pg` were derived by hand; torch's autograd differentiates the
# two objectives directly, in float64, on a small logged dataset of the contextual bandit.

# %%
x_check = draw_contexts(64, rng)
mu_check = behaviour_probs(x_check, eps=0.3)
a_check = sample_actions(mu_check, rng)
r_check = pull(x_check, a_check, rng)
propensity_check = mu_check[np.arange(64), a_check]
theta_check = rng.normal(size=(N_FEATURES, N_ACTIONS))
theta_torch = torch.tensor(theta_check, requires_grad=True)
pi_torch = torch.softmax(torch.from_numpy(x_check) @ theta_torch, dim=1)  # (n, K)
w_torch = pi_torch[torch.arange(64), torch.from_numpy(a_check)] / torch.from_numpy(propensity_check)
r_torch = torch.from_numpy(r_check)
for self_normalised in (False, True):
    objective = (w_torch * r_torch).sum() / (w_torch.sum() if self_normalised else 64)
    (autograd,) = torch.autograd.grad(objective, theta_torch, retain_graph=True)
    ours = is_policy_gradient(
        theta_check, x_check, a_check, r_check, propensity_check, self_normalised
    )
    name = "SNIS, eq. (off-snis-pg)" if self_normalised else "IS, eq. (off-is-pg)"
    check_close(f"policy gradient {name} vs autograd", ours, autograd.numpy(), atol=1e-12)

# %% [markdown]
# ### PPO's ratio is an importance weight
#
# The shared `clipped_surrogate` (derived in [chapter 05](05_ppo.ipynb)) computes
# $\min(\rho A,\operatorname{clip}(\rho,1\pm\epsilon)A)$ with
# $\rho=\pi_\theta/\pi_{\theta_\text{old}}$.
# Take a softmax policy over four actions, the exact expectation over actions drawn from
# $\mu=\pi_{\theta_\text{old}}$, and advantages $A(a)=\bar r(a)-V(\pi_{\theta_\text{old}})$. At
# $\theta=\theta_\text{old}$ every ratio is 1 and inside the clip range, so by {eq}`off-is-pg`
# the surrogate's gradient must equal the true policy gradient
# $\nabla_\theta\sum_a\pi_\theta(a)\bar r(a)$. After one update, the same batch is off-policy
# data, and the ratio is the correction.

# %%
theta_old = torch.tensor([0.3, -0.2, 0.5, 0.0], dtype=torch.float64)
reward_means_4 = torch.tensor([0.1, 0.7, 0.4, 0.9], dtype=torch.float64)
theta = theta_old.clone().requires_grad_(True)
old_logp = torch.log_softmax(theta_old, dim=0)  # (K,): log μ, the data's policy
logp = torch.log_softmax(theta, dim=0)  # (K,): log π_θ, the policy being updated
advantages = reward_means_4 - (old_logp.exp() * reward_means_4).sum()
surrogate = (old_logp.exp() * clipped_surrogate(logp, old_logp, advantages, eps=0.2)).sum()
(surrogate_grad,) = torch.autograd.grad(surrogate, theta)
true_value_4 = (torch.softmax(theta, dim=0) * reward_means_4).sum()
(policy_grad,) = torch.autograd.grad(true_value_4, theta)
check_close(
    "∇ E_μ[clipped surrogate] at θ_old vs ∇ V(π_θ)", surrogate_grad, policy_grad, atol=1e-12
)

# %% [markdown]
# ## Experiments
#
# ### 1. Evaluating and learning from a fixed log vs online, with the same number of samples
#
# **Evaluation.** On the errata's bandit, four ways to estimate $V(\pi)=0.5$ from $n$ samples:
# *online* (run $\pi$ itself and average its rewards, variance $0.25/n$), IS and SNIS on $n$
# samples logged by $\mu$, and the naive logged mean. The lines are the formulas
# ({eq}`off-is-var`, {eq}`off-snis-bias-var`, the naive mean's fixed bias $0.15$); the dots are
# the root-mean-square errors over 20,000 simulated datasets per $n$.

# %%
sample_sizes = np.unique(np.logspace(1, 4, 13).astype(int))
N_REPEATS = 20_000
ope_rmse = {"online (run π)": [], "IS": [], "SNIS": [], "naive logged mean": []}
for n in sample_sizes:
    n0, k0, k1 = draw_counts(n, N_REPEATS, rng)
    online_mean = rng.binomial(n, v_pi, N_REPEATS) / n  # rewards of π itself: Bernoulli(0.5)
    estimates = {
        "online (run π)": online_mean,
        "IS": (w0 * k0 + w1 * k1) / n,
        "SNIS": (w0 * k0 + w1 * k1) / (w0 * n0 + w1 * (n - n0)),
        "naive logged mean": (k0 + k1) / n,
    }
    for name, values in estimates.items():
        ope_rmse[name].append(np.sqrt(np.mean((values - v_pi) ** 2)))
ope_rmse = {name: np.array(values) for name, values in ope_rmse.items()}
naive_var = 0.35 * 0.65
ope_theory = {
    "online (run π)": np.sqrt(0.25 / sample_sizes),
    "IS": np.sqrt(term_variance / sample_sizes),
    "SNIS": np.sqrt(snis_var_coef / sample_sizes + (bias_coef / sample_sizes) ** 2),
    "naive logged mean": np.sqrt(0.15**2 + naive_var / sample_sizes),
}
for name in ope_rmse:
    check_close(
        f"{name}: RMSE vs formula", ope_rmse[name], ope_theory[name], atol=0, rtol=0.05, quiet=True
    )
print("✓ all four RMSE curves within 5 % of their formulas at every n")
samples_to_match = term_variance / 0.25
print(
    f"IS needs {samples_to_match:.2f}× as many logged samples as online evaluation "
    "for the same error"
)

# %% [markdown]
# **Learning.** On the contextual bandit, every learner starts from the uniform policy
# ($\theta=0$) and gets the same total number of environment samples:
#
# - *online, on-policy*: rounds of 50 samples from the current policy, one REINFORCE step per
#   round ({eq}`off-snis-pg` with $w\equiv1$), samples discarded;
# - *online, off-policy (replay)*: the same rounds, but every sample is kept with the
#   probability its policy gave its action, and each round takes 10 steps of
#   {eq}`off-snis-pg` on the whole buffer;
# - *offline*: one log of $n$ samples from $\mu_\varepsilon$, and 100 full-batch steps of IS
#   {eq}`off-is-pg` or SNIS {eq}`off-snis-pg` on it, for a wide logger ($\varepsilon=0.5$) and a
#   narrow one ($\varepsilon=0.05$).
#
# The score is the true value $V(\hat\pi)$, exact in the actions and rewards and averaged over
# 2,000 held-out contexts from a separate generator; each curve is a mean over 5 seeds. All use
# plain gradient ascent with step size 2.

# %%
eval_contexts = draw_contexts(2000, np.random.default_rng(12345))  # held out
eval_success = success_probs(eval_contexts)  # (2000, K)


def true_value(theta: np.ndarray) -> float:
    """V(π_θ) on the held-out contexts, exact over actions and rewards."""
    return float(np.mean(np.sum(softmax(eval_contexts @ theta) * eval_success, axis=1)))


def behaviour_value(eps: float) -> float:
    return float(np.mean(np.sum(behaviour_probs(eval_contexts, eps) * eval_success, axis=1)))


LR, ROUND_SIZE, REPLAY_STEPS, OFFLINE_STEPS, N_SEEDS = 2.0, 50, 10, 100, 5
TOTAL_SAMPLES = 3000
OFFLINE_SIZES = [100, 300, 1000, 3000]


def train_online(replay: bool, generator: np.random.Generator) -> np.ndarray:
    """V(π_θ) after each round of ROUND_SIZE fresh samples, on-policy or with a replay buffer."""
    theta = np.zeros((N_FEATURES, N_ACTIONS))
    buffer: list[tuple[np.ndarray, ...]] = []
    curve = []
    for _ in range(TOTAL_SAMPLES // ROUND_SIZE):
        x = draw_contexts(ROUND_SIZE, generator)
        pi = softmax(x @ theta)  # (B, K): the current policy collects the round
        actions = sample_actions(pi, generator)
        rewards = pull(x, actions, generator)
        propensity = pi[np.arange(ROUND_SIZE), actions]
        if not replay:
            theta += LR * is_policy_gradient(theta, x, actions, rewards, propensity, True)
        else:
            buffer.append((x, actions, rewards, propensity))
            data = [np.concatenate(column) for column in zip(*buffer, strict=True)]
            for _ in range(REPLAY_STEPS):
                theta += LR * is_policy_gradient(theta, *data, self_normalised=True)
        curve.append(true_value(theta))
    return np.array(curve)


def train_offline(
    n: int, eps: float, self_normalised: bool, generator: np.random.Generator
) -> float:
    """V(π̂) after OFFLINE_STEPS full-batch steps on one log of n samples from μ_ε."""
    x = draw_contexts(n, generator)
    mu = behaviour_probs(x, eps)
    actions = sample_actions(mu, generator)
    rewards = pull(x, actions, generator)
    propensity = mu[np.arange(n), actions]
    theta = np.zeros((N_FEATURES, N_ACTIONS))
    for _ in range(OFFLINE_STEPS):
        theta += LR * is_policy_gradient(theta, x, actions, rewards, propensity, self_normalised)
    return true_value(theta)


# %%
seed_generators = [np.random.default_rng(seed) for seed in range(N_SEEDS)]
online_curves = {
    "online, on-policy": np.mean([train_online(False, g) for g in seed_generators], axis=0),
    "online, off-policy (replay)": np.mean(
        [train_online(True, g) for g in seed_generators], axis=0
    ),
}
offline_settings = {
    "offline IS, wide μ (ε = 0.5)": (0.5, False),
    "offline SNIS, wide μ (ε = 0.5)": (0.5, True),
    "offline SNIS, narrow μ (ε = 0.05)": (0.05, True),
}
offline_curves = {
    name: np.array(
        [
            np.mean(
                [train_offline(n, eps, sn, np.random.default_rng(100 + s)) for s in range(N_SEEDS)]
            )
            for n in OFFLINE_SIZES
        ]
    )
    for name, (eps, sn) in offline_settings.items()
}
initial_value = true_value(np.zeros((N_FEATURES, N_ACTIONS)))
best_value = float(np.mean(eval_success.max(axis=1)))
print(f"uniform start V = {initial_value:.3f}; best policy V = {best_value:.3f}")
print(
    f"behaviour policies: V(μ_0.5) = {behaviour_value(0.5):.3f}, "
    f"V(μ_0.05) = {behaviour_value(0.05):.3f}"
)
learning_at_sizes = {
    name: curve[np.array(OFFLINE_SIZES) // ROUND_SIZE - 1] for name, curve in online_curves.items()
} | offline_curves
print(f"V(π̂) after n samples, n = {OFFLINE_SIZES}:")
for name, values in learning_at_sizes.items():
    print(f"{name:>34}: " + "  ".join(f"{v:.3f}" for v in values))

# %% [markdown]
# Every learner ends far above both logging policies and the uniform start (the true objective
# improves in every run). The orderings that the figure below shows, checked:

# %%
replay, on_policy = (
    learning_at_sizes["online, off-policy (replay)"],
    learning_at_sizes["online, on-policy"],
)
check_true(
    "every learner beats V(μ_0.5) and the uniform start at n = 100",
    bool(
        min(values[0] for values in learning_at_sizes.values())
        > max(initial_value, behaviour_value(0.5))
    ),
    f"worst {min(values[0] for values in learning_at_sizes.values()):.3f} > {initial_value:.3f}",
)
check_true(
    "online: reusing samples (replay) beats using them once, at every n",
    bool(np.all(replay > on_policy)),
    " ".join(f"{a:.3f}>{b:.3f}" for a, b in zip(replay, on_policy, strict=True)),
)
offline_wide = offline_curves["offline SNIS, wide μ (ε = 0.5)"]
check_true(
    "n = 100: a wide fixed log beats on-policy learning",
    bool(offline_wide[0] > on_policy[0]),
    f"{offline_wide[0]:.3f} > {on_policy[0]:.3f}",
)
offline_is_wide = offline_curves["offline IS, wide μ (ε = 0.5)"]
offline_narrow = offline_curves["offline SNIS, narrow μ (ε = 0.05)"]
check_true(
    "offline: SNIS beats IS on the same wide logs, at every n",
    bool(np.all(offline_wide > offline_is_wide)),
    " ".join(f"{a:.3f}>{b:.3f}" for a, b in zip(offline_wide, offline_is_wide, strict=True)),
)
check_true(
    f"n = {OFFLINE_SIZES[-1]}: the narrow log ends below the wide one (SNIS)",
    bool(offline_narrow[-1] < offline_wide[-1]),
    f"{offline_narrow[-1]:.3f} < {offline_wide[-1]:.3f}",
)
best_offline_final = max(values[-1] for values in offline_curves.values())
check_true(
    f"n = {OFFLINE_SIZES[-1]}: online with replay beats every fixed log",
    bool(replay[-1] > best_offline_final),
    f"{replay[-1]:.3f} > {best_offline_final:.3f}",
)

# %%
fig, (ax_ope, ax_learn) = plt.subplots(1, 2, figsize=(11.5, 4.4))
ope_colours = dict(zip(ope_rmse, PALETTE, strict=False))
for name, rmse in ope_rmse.items():
    ax_ope.loglog(sample_sizes, ope_theory[name], "-", color=ope_colours[name], lw=1.2)
    ax_ope.loglog(sample_sizes, rmse, "o", ms=4, color=ope_colours[name], label=name)
ax_ope.set(
    xlabel="samples n",
    ylabel="RMSE of the estimate of V(π)",
    title=f"Evaluation: IS needs ×{samples_to_match:.1f} the samples; naive stays 0.15 off",
)
ax_ope.legend(title="dots measured, lines formulas", loc="lower left")
samples_seen = ROUND_SIZE * np.arange(1, TOTAL_SAMPLES // ROUND_SIZE + 1)
for (name, curve), colour in zip(online_curves.items(), PALETTE, strict=False):
    ax_learn.semilogx(samples_seen, curve, "-", color=colour, label=name)
offline_styles = [(PALETTE[2], "s"), (PALETTE[3], "o"), (PALETTE[4], "^")]
for (name, values), (colour, marker) in zip(offline_curves.items(), offline_styles, strict=True):
    ax_learn.semilogx(OFFLINE_SIZES, values, "--", marker=marker, color=colour, label=name)
ax_learn.axhline(best_value, color="k", lw=1, ls=":", label="best action per context")
ax_learn.axhline(initial_value, color="0.5", lw=1, ls=":", label="uniform policy (start)")
ax_learn.set(
    xlabel="environment samples (online: so far; offline: size of the log)",
    ylabel="true value V(π̂)",
    ylim=(0.2, 0.9),
    title=f"Learning: replay ends at {replay[-1]:.2f}, best fixed log {best_offline_final:.2f}",
)
ax_learn.legend(loc="lower right", fontsize=8)
fig.suptitle("Same samples, online or logged: a log is cheap early, interaction wins later")
plt.show()

# %% [markdown]
# Reading the two panels:
#
# - **Evaluation.** The dots sit on the formulas. On-policy evaluation is the cheapest here;
#   IS pays the factor printed above ($\tfrac{37}{60}/0.25$) for using $\mu$'s data, and SNIS
#   about half of that, since its variance $\tfrac13$ replaces $\tfrac{37}{60}$. The naive mean
#   converges, to the wrong number.
# - **Learning.** A wide log is worth a lot when samples are few: each logged sample is used in
#   100 gradient steps, and $\varepsilon=0.5$ logs every action often enough, so the offline SNIS
#   learner starts ahead of on-policy REINFORCE, which sees each sample once. With more samples
#   the online learners catch up and the replay learner pulls ahead: its data follow its policy
#   toward the good actions, where a fixed log from $\mu$ (which prefers the worst actions)
#   stays thin, and its weights stay near 1. The narrow log ($\varepsilon=0.05$, every action
#   logged with probability at least 1 %) ends below the wide one, and plain IS trails SNIS at
#   every size: with 0/1 rewards the IS objective ignores the unrewarded samples and pays off for
#   raising the probability of *any* rewarded logged action, good or not, a form of overfitting
#   to the log that the baseline $r_i-J_\text{SN}$ of {eq}`off-snis-pg` removes
#   {cite}`swaminathan2015self`. The curves are means over 5 seeds, and the seed-to-seed spread
#   is a few hundredths, so read gaps of a hundredth or two as tendencies; the orderings checked
#   below held for three other sets of seeds as well.
#
# ### 2. Distribution shift: an offline greedy learner overestimates rare actions
#
# A 50-armed bandit with Gaussian rewards (standard deviation $\sigma=1$). The logger takes two
# arms 45 % of the time each (true means 0.5 and 0.3) and spreads the remaining 10 % over 48 rare
# arms, whose true means are drawn from $\mathcal N(0,0.3^2)$: the logger rarely takes them
# because most of them are worse. A log of 1,000 samples then holds about 2 samples per rare arm,
# and some rare arms none. For 1,000 independent logs (the sum of $n(a)$ Gaussian rewards is drawn
# in one go from $\mathcal N(n(a)\bar r(a),\,n(a)\sigma^2)$), each learner picks one arm by
# {eq}`off-lcb` with $\beta$ from 0 (greedy on the sample means) to 5.

# %%
N_ARMS, REWARD_SD, LOG_SIZE, N_LOGS = 50, 1.0, 1000, 1000
arm_means = np.concatenate([[0.5, 0.3], rng.normal(0.0, 0.3, N_ARMS - 2)])  # r̄(a)
arm_logging = np.concatenate([[0.45, 0.45], np.full(N_ARMS - 2, 0.10 / (N_ARMS - 2))])  # μ(a)
log_counts = rng.multinomial(LOG_SIZE, arm_logging, size=N_LOGS).astype(float)  # (N_LOGS, K)
log_sums = rng.normal(log_counts * arm_means, REWARD_SD * np.sqrt(log_counts))  # (N_LOGS, K)
v_logger = policy_value(arm_logging, arm_means)
print(
    f"V(μ) = {v_logger:.3f}; best arm {arm_means.max():.3f} (rare); "
    f"{np.mean(log_counts[:, 2:] == 0):.0%} of the rare arms are missing from a log"
)


def choose_arms(counts: np.ndarray, sums: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Each log's arm by eq. (off-lcb), and its estimated value (sample mean); (N_LOGS,) each."""
    logged = counts > 0
    means = np.where(logged, sums / np.maximum(counts, 1), -np.inf)  # (N_LOGS, K)
    penalty = beta * REWARD_SD / np.sqrt(np.maximum(counts, 1))
    chosen = np.where(logged, means - penalty, -np.inf).argmax(axis=1)  # never-logged arms excluded
    return chosen, means[np.arange(len(counts)), chosen]


# %%
betas = np.linspace(0.0, 5.0, 21)
true_of_choice, believed_of_choice = [], []
for beta in betas:
    chosen, believed = choose_arms(log_counts, log_sums, beta)
    true_of_choice.append(arm_means[chosen].mean())
    believed_of_choice.append(believed.mean())
true_of_choice, believed_of_choice = np.array(true_of_choice), np.array(believed_of_choice)
greedy_arms, greedy_believed = choose_arms(log_counts, log_sums, 0.0)
pessimistic_arms, _ = choose_arms(log_counts, log_sums, 3.0)
greedy_true = arm_means[greedy_arms].mean()
pessimistic_true = arm_means[pessimistic_arms].mean()
print(
    f"greedy (β = 0): believes {greedy_believed.mean():.2f}, gets {greedy_true:.3f}; "
    f"a rare arm in {np.mean(greedy_arms >= 2):.0%} of the logs"
)
print(
    f"  its chosen arm was logged with μ(a) = {arm_logging[greedy_arms].mean():.4f}: "
    f"the greedy policy's importance weight is {1 / arm_logging[greedy_arms].mean():.0f}"
)
print(
    f"pessimistic (β = 3): gets {pessimistic_true:.3f}; "
    f"a rare arm in {np.mean(pessimistic_arms >= 2):.0%} of the logs"
)
check_true(
    "greedy offline overestimates its choice by more than 1",
    bool(greedy_believed.mean() - greedy_true > 1.0),
    f"believed {greedy_believed.mean():.2f} vs true {greedy_true:.3f}",
)
check_true(
    "greedy offline is worse than the logging policy",
    bool(greedy_true < v_logger),
    f"{greedy_true:.3f} < V(μ) = {v_logger:.3f}",
)
check_true(
    "the count-based penalty (β = 3) beats greedy and the logger",
    bool(pessimistic_true > max(greedy_true, v_logger)),
    f"{pessimistic_true:.3f}",
)

# %% [markdown]
# **Online correction.** Start from the same 1,000 logs, and let the greedy learner act: each
# round it takes its current best-looking arm, observes one reward and updates that arm's mean.
# An overestimated arm gets tried, its mean falls, and the learner moves on.

# %%
ONLINE_PULLS = 600
counts, sums = log_counts.copy(), log_sums.copy()
online_true, online_believed = [], []
rows = np.arange(N_LOGS)
for _ in range(ONLINE_PULLS):
    chosen, believed = choose_arms(counts, sums, 0.0)
    online_true.append(arm_means[chosen].mean())
    online_believed.append(believed.mean())
    counts[rows, chosen] += 1
    sums[rows, chosen] += rng.normal(arm_means[chosen], REWARD_SD)  # the environment answers
online_true, online_believed = np.array(online_true), np.array(online_believed)
online_gap = online_believed[-1] - online_true[-1]
print(
    f"after {ONLINE_PULLS} online pulls: greedy gets {online_true[-1]:.3f} "
    f"(from {online_true[0]:.3f}); "
    f"overestimate {online_believed[0] - online_true[0]:.2f} → {online_gap:.2f}"
)
check_true(
    "online greedy corrects itself: overestimate below 0.1, value up to the pessimistic level",
    bool(online_gap < 0.1 and online_true[-1] > pessimistic_true - 0.02),
    f"gap {online_gap:.2f}, value {online_true[-1]:.3f} vs {pessimistic_true:.3f} for β = 3",
)

# %%
fig, (ax_beta, ax_online) = plt.subplots(1, 2, figsize=(11.5, 4.4))
ax_beta.plot(
    betas, believed_of_choice, "--", color=PALETTE[1], label="estimated value of the choice"
)
ax_beta.plot(betas, true_of_choice, "-", color=PALETTE[0], label="true value of the choice")
ax_beta.axhline(v_logger, color="0.5", lw=1, ls=":", label="logging policy V(μ)")
ax_beta.axhline(arm_means.max(), color="k", lw=1, ls=":", label="best arm (rare)")
ax_beta.set(
    xlabel="penalty β in eq. (off-lcb) (0 = greedy)",
    ylabel="value",
    title=f"Offline: greedy believes {greedy_believed.mean():.1f}, gets {greedy_true:.2f}",
)
ax_beta.legend()
pulls = np.arange(1, ONLINE_PULLS + 1)
ax_online.semilogx(
    pulls, online_believed, "--", color=PALETTE[1], label="estimated value of the choice"
)
ax_online.semilogx(pulls, online_true, "-", color=PALETTE[0], label="true value of the choice")
ax_online.axhline(
    pessimistic_true, color=PALETTE[2], lw=1.2, label="offline, β = 3 (no interaction)"
)
ax_online.axhline(v_logger, color="0.5", lw=1, ls=":", label="logging policy V(μ)")
ax_online.set(
    xlabel="online pulls after the log",
    ylabel="value",
    title=f"Online: trying the choice fixes it ({online_true[0]:.2f} → {online_true[-1]:.2f})",
)
ax_online.legend()
fig.suptitle("Rare actions look best offline; pessimism limits the damage, interaction removes it")
plt.show()

# %% [markdown]
# The greedy learner's choice is an arm the logger took with probability about 0.2 %: the
# learned policy is as far from the data as it can be (its importance weight, printed above,
# is in the hundreds), and it believes a value several times the truth. It ends *below* the
# policy that logged the data. The penalty pulls the choice back toward well-logged arms; at
# large $\beta$ it always picks the better of the two common arms, a safe but limited answer:
# the best arm is a rare one, and no offline method can know that from two samples. The online
# learner tries its overestimated choices one after another; within a few hundred pulls its
# estimate meets the truth, and it ends at about the pessimistic learner's value, now knowing
# that value. It does not find the best arm either: a purely greedy learner never retries an
# arm it has *under*estimated. That takes deliberate exploration, optimism such as an upper
# confidence bound $\hat Q(a)+\beta\sigma/\sqrt{n(a)}$: the online mirror image of offline
# pessimism.
#
# ### 3. How the variance of importance weights grows with the distance between π and μ
#
# Ten actions; $\mu=\mathrm{softmax}(2,\dots,-2)$ (evenly spaced logits), and a family of
# targets $\pi_\lambda\propto\mu\,e^{\lambda g}$ with $g$ evenly spaced from $-1$ to $1$, which
# moves probability toward the actions $\mu$ takes least. For each $\lambda$: the exact
# $\mathrm{KL}(\pi_\lambda\|\mu)$, the exact $\mathbb E_\mu[w^2]$ of {eq}`off-second-moment`, its
# lower bound {eq}`off-w2-kl`, and the mean of $w^2$ over 20,000 samples from $\mu$. Right: the
# variance of trajectory IS and per-decision IS over a horizon of $T$ i.i.d. steps (the errata's
# per-step policies), closed forms and 20,000 simulated episodes.

# %%
logits_mu = np.linspace(2.0, -2.0, 10)
mu_10 = np.exp(logits_mu) / np.exp(logits_mu).sum()
direction = np.linspace(-1.0, 1.0, 10)
lambdas = np.linspace(0.0, 5.0, 21)
kls, second_moments, measured_second_moments = [], [], []
for lam in lambdas:
    pi_10 = mu_10 * np.exp(lam * direction)
    pi_10 /= pi_10.sum()
    kls.append(float(np.sum(pi_10 * np.log(pi_10 / mu_10))))
    second_moments.append(weight_second_moment(pi_10, mu_10))
    draws = rng.choice(10, size=20_000, p=mu_10)
    measured_second_moments.append(np.mean((pi_10[draws] / mu_10[draws]) ** 2))
kls, second_moments = np.array(kls), np.array(second_moments)
measured_second_moments = np.array(measured_second_moments)
check_true(
    "E_μ[w²] ≥ exp(KL(π‖μ)) for every λ, eq. (off-w2-kl)",
    bool(np.all(second_moments >= np.exp(kls) - 1e-12)),
    f"E_μ[w²] / e^KL from {np.min(second_moments / np.exp(kls)):.2f} "
    f"to {np.max(second_moments / np.exp(kls)):.2f}",
)
print(
    f"at KL = {kls[-1]:.2f} nats: E_μ[w²] = {second_moments[-1]:.0f}, "
    f"so n logged samples are worth about n/{second_moments[-1]:.0f}"
)

# %%
horizons = np.arange(1, 21)
traj_var = np.array([trajectory_is_variance(step_c, step_m, v_pi, t) for t in horizons])
pd_var = np.array([per_decision_is_variance(step_c, step_m, v_pi, t) for t in horizons])
measured_horizons = np.array([1, 2, 4, 8, 12, 16, 20])
measured_traj, measured_pd = [], []
for t in measured_horizons:
    acts = rng.choice(2, size=(20_000, t), p=BEHAVIOUR)
    rews = (rng.random((20_000, t)) < SUCCESS[acts]).astype(float)
    ratios = TARGET[acts] / BEHAVIOUR[acts]
    measured_traj.append(trajectory_is(ratios, rews).var(ddof=1))
    measured_pd.append(per_decision_is(ratios, rews).var(ddof=1))
print(
    f"T = 20: trajectory IS variance {traj_var[-1]:.0f}, per-decision {pd_var[-1]:.0f}, "
    f"on-policy {20 * 0.25:.0f}; measured / closed form: trajectory "
    f"{measured_traj[-1] / traj_var[-1]:.2f}, per-decision {measured_pd[-1] / pd_var[-1]:.2f}"
)
tokens, kl_per_token = 1000, 0.01
print(
    f"an LLM response of {tokens} tokens at KL {kl_per_token} nats per token: "
    f"E_μ[W²] ≥ e^{tokens * kl_per_token:.0f} = {math.exp(tokens * kl_per_token):,.0f}"
)

# %%
fig, (ax_kl, ax_t) = plt.subplots(1, 2, figsize=(11.5, 4.4))
ax_kl.semilogy(kls, second_moments, "-", color=PALETTE[0], label="exact $E_\\mu[w^2]$")
ax_kl.semilogy(
    kls, measured_second_moments, "o", ms=4, color=PALETTE[0], label="mean of $w^2$, 20k samples"
)
ax_kl.semilogy(kls, np.exp(kls), "--", color=PALETTE[1], label="lower bound $e^{KL}$")
ax_kl.set(
    xlabel="KL(π‖μ) (nats)",
    ylabel="second moment of the weights",
    title=(
        f"$E_\\mu[w^2]$ grows at least like $e^{{KL}}$: "
        f"{second_moments[-1]:.0f} at {kls[-1]:.1f} nats"
    ),
)
ax_kl.legend()
ax_t.semilogy(horizons, traj_var, "-", color=PALETTE[1], label="trajectory IS (closed form)")
ax_t.semilogy(
    measured_horizons, measured_traj, "o", ms=4, color=PALETTE[1], label="trajectory IS (measured)"
)
ax_t.semilogy(horizons, pd_var, "-", color=PALETTE[2], label="per-decision IS (closed form)")
ax_t.semilogy(
    measured_horizons, measured_pd, "s", ms=4, color=PALETTE[2], label="per-decision IS (measured)"
)
ax_t.semilogy(horizons, 0.25 * horizons, ":", color="k", lw=1, label="on-policy, T · 0.25")
ax_t.set(
    xlabel="horizon T (steps)",
    ylabel="variance of the estimate of V(π)",
    title=f"Variance at T = 20: trajectory IS {traj_var[-1]:.0f}, per-decision {pd_var[-1]:.0f}",
)
ax_t.legend()
fig.suptitle(
    "The further π is from μ, and the longer the episode, the fewer samples a log is worth"
)
plt.show()

# %% [markdown]
# The bound {eq}`off-w2-kl` holds at every $\lambda$, within the factor printed above, and the
# measured means of $w^2$ follow the exact curve: with ten actions the largest weight stays
# moderate. Over a horizon the weights multiply. Trajectory IS grows like $(4/3)^T$,
# per-decision IS more slowly, both far above the on-policy variance. At long horizons the
# measured variances fall below the closed forms (ratios printed above): the variance is
# dominated by rare episodes with huge weights, which 20,000 episodes mostly miss, so the
# *measured* variance understates the true one, the most dangerous way for a variance estimate
# to be wrong. For an LLM, where every token is a step, even a small per-token divergence makes the
# sequence-level weight useless, which is why PPO and GRPO ([chapter 05](05_ppo.ipynb),
# [chapter 07](07_grpo.ipynb)) use per-token ratios of a policy that has barely moved, and
# clip them.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Offline RL means learning from preference data." Is that right?
# No; that is the notes' mix-up. Offline means a fixed dataset and no interaction, whatever
# the feedback: most offline RL work learns from logged transitions $(s,a,r,s')$ with numeric
# rewards {cite}`levine2020offline`. And preference data can be collected online: online DPO
# samples two responses from the current model at every step and has them labelled
# {cite}`guo2024direct`; iterative DPO does so in rounds {cite}`xiong2024iterative`. DPO on a
# fixed dataset of pairs ([chapter 02](02_dpo.ipynb)) is offline, and shares offline RL's
# problem: the pairs come from other policies, and the trained model's own outputs drift away
# from them.
# :::
#
# :::{dropdown} Is off-policy the same as offline?
# No. Off-policy means the update can use data from a policy other than the current one;
# offline means no new data at all. DQN is online *and* off-policy: it keeps interacting, and
# learns from a replay buffer of transitions collected by older versions of itself
# {cite}`mnih2015human`. Offline RL is necessarily off-policy (the data come from $\mu$), except
# for the trivial case of evaluating or imitating $\mu$ itself.
# :::
#
# :::{dropdown} PPO uses importance ratios. Doesn't that make it off-policy?
# PPO is on-policy: every iteration collects a fresh batch with the current policy
# {cite}`schulman2017proximal`. It then takes several gradient steps on that batch, and from
# the second step on the batch is slightly stale; the ratio $\pi_\theta/\pi_{\theta_\text{old}}$
# corrects for that, and the Verification section checks that at $\theta_\text{old}$ its
# gradient is exactly the on-policy gradient. The per-token ratio ignores that the states
# themselves (the prefixes, for an LLM) would be visited differently by the new policy, an
# approximation that is good only while the policy has barely moved; the clip enforces that.
# GRPO is the same ([chapter 07](07_grpo.ipynb)).
# :::
#
# :::{dropdown} Why does Q-learning need no importance weights, while multi-step returns do?
# The one-step target $r+\gamma\max_{a'}Q(s',a')$ depends on the transition $(s,a,r,s')$, not on
# how $a$ was chosen, so any transition is a valid sample of the Bellman optimality equation.
# A multi-step return $r_t+\gamma r_{t+1}+\dots$ contains actions $a_{t+1},\dots$ chosen by
# $\mu$, which must be reweighted: per-decision weights {cite}`precup2000eligibility` and their
# truncated forms do that.
# :::
#
# :::{dropdown} Then why does offline Q-learning fail, if Q-learning is off-policy?
# Because off-policy says nothing about *coverage*. The target maximises over all $a'$,
# including actions the data never took at $s'$; their values are extrapolation, the maximum
# picks the ones that happen to be too high {eq}`off-winners-curse`, and bootstrapping copies
# the error to earlier states. Online, the agent would try those actions and learn otherwise;
# offline it cannot {cite}`fujimoto2019off`. Experiment 2 shows the one-step version.
# :::
#
# :::{dropdown} What do BCQ, CQL and IQL do about it?
# All three keep the learned policy's values honest where the data are thin. BCQ only considers
# actions that a generative model of the data deems likely {cite}`fujimoto2019off`. CQL adds a
# loss term that lowers Q-values under the learned policy and raises them on the dataset's
# actions, so that its values are a lower bound {cite}`kumar2020conservative`. IQL never queries
# an action outside the dataset: it fits an upper expectile of the in-sample values and
# extracts the policy by advantage-weighted regression {cite}`kostrikov2022offline`. The
# count-based penalty of Experiment 2 is a tabular stand-in with the same effect, not any of
# them.
# :::
#
# :::{dropdown} Why not just use importance weights, and learn anything from any log?
# The variance. $\mathbb E_\mu[w^2]$ grows at least like $e^{\mathrm{KL}(\pi\|\mu)}$
# {eq}`off-w2-kl`, and over a horizon the product of weights grows exponentially in its
# length (Experiment 3). The remedies trade bias for variance: self-normalising
# {eq}`off-snis`, clipping or truncating the weights (PPO's clip; Retrace
# {cite}`munos2016safe` and IMPALA's V-trace {cite}`espeholt2018impala` truncate per-step
# ratios at 1), per-decision weights {eq}`off-pdis`, and doubly robust estimators, which
# subtract a model's prediction and reweight only the residual {cite}`dudik2011doubly`. And no
# remedy fixes a violated support condition {eq}`off-support`.
# :::
#
# :::{dropdown} Can an offline learner beat the policy that collected the data?
# Yes, when the data cover better actions: in Experiment 1 every offline learner ends far
# above $V(\mu)$ and the pessimistic learner of Experiment 2 above its logger. What it cannot
# do is find a good action the data barely contain (Experiment 2's best arm) without risking
# the winner's curse; that needs interaction.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Place these in the 2×2 table: REINFORCE; DQN; GRPO with several gradient steps per batch;
#    DPO on a public preference dataset; CQL on logged robot data.
#
#    :::{dropdown} Answer
#    REINFORCE: online, on-policy. DQN: online, off-policy (replay buffer). GRPO: online,
#    on-policy, with the ratio correcting the reuse of each batch for a few steps. DPO on a fixed
#    dataset: offline (and so off-policy). CQL: offline, off-policy.
#    :::
#
# 2. A logger takes action 1 with probability 0.9 and action 2 with 0.1; you want to evaluate
#    the policy that takes them with 0.1 and 0.9. What are the two weights, $\mathbb E_\mu[w^2]$,
#    and the effective number of samples in a log of 1,000? The next cell checks the answer.
#
#    :::{dropdown} Answer
#    $w=0.1/0.9=1/9$ for action 1 and $0.9/0.1=9$ for action 2.
#    $\mathbb E_\mu[w^2]=0.1^2/0.9+0.9^2/0.1=1/90+8.1=8.1\overline{1}$, so the log is worth about
#    $1000/8.11\approx123$ on-policy samples.
#    :::

# %%
exercise_mu, exercise_pi = np.array([0.9, 0.1]), np.array([0.1, 0.9])
check_close("exercise 2: weights", exercise_pi / exercise_mu, np.array([1 / 9, 9.0]), atol=1e-12)
exercise_moment = weight_second_moment(exercise_pi, exercise_mu)
check_close("exercise 2: E_μ[w²] = 1/90 + 8.1", exercise_moment, 1 / 90 + 8.1, atol=1e-12)
exercise_draws = rng.choice(2, size=1000, p=exercise_mu)
exercise_ess = effective_sample_size(exercise_pi[exercise_draws] / exercise_mu[exercise_draws])
print(
    f"n / E_μ[w²] = {1000 / exercise_moment:.0f}; Kish ESS of one simulated log: {exercise_ess:.0f}"
)

# %% [markdown]
# 3. Someone reports that their offline policy's value, estimated by IS on the same log it was
#    trained on, is far above the logger's. Why be suspicious, and what would you check?
#
#    :::{dropdown} Answer
#    Choosing the policy that maximises an estimate makes that estimate optimistic
#    {eq}`off-winners-curse`, exactly as in Experiment 2: the trained policy has found where
#    the log's noise is favourable. Evaluate on a held-out log, look at the weights (their
#    maximum, and the effective sample size {eq}`off-ess`: a policy that concentrates on rarely
#    logged actions has a tiny one), check that $\mu$ was logged and has support where $\pi$
#    acts, and, if possible, run a small online test.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`levine2020offline`: the definition of offline RL and why distribution shift is its
#   central problem (Section 2), importance sampling for off-policy evaluation and policy
#   gradients (Section 3), overestimation in offline dynamic programming (Section 4).
# - {cite:t}`sutton2018reinforcement`: on- vs off-policy learning, ordinary and weighted
#   importance sampling (Section 5.5), per-decision importance sampling (Section 5.9),
#   Q-learning as off-policy control (Section 6.5).
# - {cite:t}`precup2000eligibility`: per-decision importance sampling {eq}`off-pdis` and its
#   unbiasedness.
# - {cite:t}`horvitz1952generalization`: the inverse-probability-weighted estimator.
# - {cite:t}`owen2013monte`, Chapter 9: self-normalised importance sampling and its
#   delta-method variance (§9.2), the effective sample size (§9.3).
# - {cite:t}`fujimoto2019off` (BCQ, extrapolation error), {cite:t}`kumar2020conservative`
#   (CQL, Section 3.1: the tabular penalty), {cite:t}`kostrikov2022offline` (IQL).
# - {cite:t}`williams1992simple` (REINFORCE), {cite:t}`schulman2017proximal` (PPO's ratio and
#   clip), {cite:t}`mnih2015human` and {cite:t}`lin1992self` (DQN and experience replay),
#   {cite:t}`dudik2011doubly` (doubly robust estimators), {cite:t}`munos2016safe` (Retrace) and
#   {cite:t}`espeholt2018impala` (V-trace): truncated importance weights.
# - {cite:t}`rafailov2023direct` (DPO), {cite:t}`guo2024direct` (online DPO from AI feedback),
#   {cite:t}`xiong2024iterative` (iterative DPO).

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
# # 07. GRPO
#
# **The question.** What is GRPO (Group Relative Policy Optimization)? How does it get
# advantages without a critic, and what is its objective?
#
# **What you will be able to answer.** How GRPO follows from PPO by replacing the critic with
# the mean reward of a group of samples, and why that baseline is allowed; the full objective,
# with the division by the group's standard deviation, the clipped ratio and the k3 KL term in
# the loss; why k3 is unbiased and never negative, and when it is worse than k1; why a group
# whose rewards are all equal teaches nothing; and what DAPO and Dr. GRPO change.

# %%
import copy
import itertools
import math
import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from notebook_utils import rl
from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.gpt import GPT
from notebook_utils.rl import (
    SortTask,
    clipped_surrogate,
    response_logits,
    sample_responses,
    token_logprobs,
    train_sft,
)
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# GRPO {cite}`shao2024deepseekmath` is PPO without the value network. For each prompt $q$ it
# samples a **group** of $G$ responses $o_1,\dots,o_G$ from the current policy, scores each
# with a reward $r_i$, and gives every token of $o_i$ the same advantage, the reward
# standardised within its group:
#
# $$
# \hat A_{i,t}=\frac{r_i-\operatorname{mean}(r_1,\dots,r_G)}
# {\operatorname{std}(r_1,\dots,r_G)+\varepsilon}.
# $$
#
# - **Why a critic is not needed.** The group mean is a Monte-Carlo estimate of the value
#   $V(q)$, and subtracting a baseline that does not depend on the response being scored
#   leaves the policy gradient unbiased (exactly so for the leave-one-out mean; the plain group
#   mean shrinks it by $(G-1)/G$). PPO's critic for an LLM is a second network the size of the
#   policy, trained on rewards that arrive only at the last token; GRPO drops it.
# - **The objective.** PPO's clipped ratio per token,
#   $\min\big(\rho_{i,t}\hat A_{i,t},\operatorname{clip}(\rho_{i,t},1-\epsilon,1+\epsilon)
#   \hat A_{i,t}\big)$, averaged over the tokens of each response and over the group, minus
#   $\beta$ times a KL to the reference model. The KL goes **into the loss**, not into the
#   reward as in PPO-RLHF, estimated per token with
#   $k_3=\frac{\pi_\text{ref}}{\pi_\theta}-\log\frac{\pi_\text{ref}}{\pi_\theta}-1$, which is
#   unbiased (because $\mathbb E_{\pi_\theta}[\pi_\text{ref}/\pi_\theta]=1$) and never
#   negative (because $\log x\le x-1$).
# - **Groups with equal rewards give no signal.** If all $G$ responses are right (or all
#   wrong), every advantage is zero and the policy term's gradient is exactly zero. As the
#   model improves, more groups are all right and the useful batch shrinks; DAPO's *dynamic
#   sampling* {cite}`yu2025dapo` drops such groups and samples more prompts.
# - **Critiques and practice.** Dr. GRPO {cite}`liu2025understanding` shows that the
#   per-response $1/|o_i|$ average and the division by the std bias the update (towards long
#   wrong answers, and towards prompts that are almost always or almost never solved) and
#   removes both. DeepSeek-R1-Zero {cite}`guo2025deepseekr1` ran GRPO with **rule-based**
#   rewards (answer accuracy and output format), not a learned reward model.
#
# The notes announce GRPO's formula and then leave it out; they say the advantage is the
# reward minus the group mean, without the division by the standard deviation; and they say
# nothing about the clipped ratio, the KL term and where it goes, or groups without signal.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $q$ | a prompt (question) | a row of `prompts`, (B, P) |
# | $o_i$, $o_{i,t}$, $\lvert o_i\rvert$ | response $i$, its token $t$, length | `responses` |
# | $G$ | group size: responses sampled per prompt | `group_size` |
# | $r_i=r(q,o_i)$ | reward of the whole response (here 1 if exactly right) | `rewards`, (n, G) |
# | $\pi_\theta$ | the policy being trained | `policy` |
# | $\pi_{\theta_\text{old}}$ | the policy that sampled the group | `old_logp` |
# | $\pi_\text{ref}$ | the frozen reference (the SFT model) | `reference` |
# | $\rho_{i,t}$ | the per-token probability ratio $\pi_\theta/\pi_{\theta_\text{old}}$ | `ratio` |
# | $\hat A_{i,t}$ | the advantage of token $t$ of $o_i$ | `advantages` |
# | $\epsilon$, $\beta$ | clip range, KL coefficient | `clip_eps`, `beta` |
# | $x$ | the ratio $\pi_\text{ref}(y)/\pi_\theta(y)$ at a sampled token $y$ | `log_ratio.exp()` |
#
# ### From PPO to GRPO: replace the critic by the group
#
# PPO for language models ([chapter 05](05_ppo.ipynb), [chapter 06](06_rlhf.ipynb)) maximises,
# for responses $o$ sampled from $\pi_{\theta_\text{old}}$,
#
# $$
# \mathcal J_\text{PPO}(\theta)=\mathbb E\Big[\frac1{|o|}\sum_{t=1}^{|o|}
# \min\big(\rho_t A_t,\ \operatorname{clip}(\rho_t,1-\epsilon,1+\epsilon)A_t\big)\Big],
# \qquad \rho_t=\frac{\pi_\theta(o_t\mid q,o_{<t})}{\pi_{\theta_\text{old}}(o_t\mid q,o_{<t})}
# $$ (grpo-ppo)
#
# where the advantages $A_t$ come from GAE with a learned value network $V_\psi(q,o_{<t})$,
# and the KL to the reference is subtracted from the reward of every token. The value
# network is usually as large as the policy, must be trained alongside it, and has to
# predict, at every token, a reward that only arrives at the end of the response.
#
# With a single reward at the end and no discounting, the return from every token of $o$ is
# just $r(q,o)$, and the policy gradient ([chapter 04](04_policy_gradient.ipynb)) is
#
# $$
# \nabla_\theta\,\mathbb E_{o\sim\pi_\theta(\cdot\mid q)}[r(q,o)]
# =\mathbb E_{o\sim\pi_\theta}\big[(r(q,o)-b)\,\nabla_\theta\log\pi_\theta(o\mid q)\big],
# \qquad \log\pi_\theta(o\mid q)=\sum_t\log\pi_\theta(o_t\mid q,o_{<t})
# $$ (grpo-score)
#
# for any baseline $b$ that does not depend on $o$, because the score has mean zero:
#
# $$
# \mathbb E_{o\sim\pi_\theta}\big[\nabla_\theta\log\pi_\theta(o\mid q)\big]
# =\sum_o\nabla_\theta\pi_\theta(o\mid q)=\nabla_\theta 1=0 .
# $$ (grpo-score-zero)
#
# The best constant baseline is close to the value $V(q)=\mathbb E_{o\sim\pi_\theta}[r(q,o)]$.
# GRPO estimates it from the group itself. For response $i$, the **leave-one-out** mean
# $\bar r_{-i}=\frac1{G-1}\sum_{j\ne i}r_j$ is built from the other, independent samples, so
# it does not depend on $o_i$ and {eq}`grpo-score` holds exactly: $(r_i-\bar r_{-i})
# \nabla\log\pi_\theta(o_i)$ is an unbiased estimate of the gradient (this is RLOO
# {cite}`kool2019buy,ahmadian2024back`). The group mean $\bar r$ contains $r_i$ itself, but only
# through a constant factor:
#
# $$
# r_i-\bar r=r_i-\frac{r_i}{G}-\frac{G-1}{G}\,\bar r_{-i}=\frac{G-1}{G}\,\big(r_i-\bar r_{-i}\big).
# $$ (grpo-loo)
#
# So centring on the group mean is the leave-one-out estimator scaled by $(G-1)/G$: unbiased
# in direction, a bit short in length, which the learning rate absorbs. The price of dropping
# the critic is credit assignment: every token of $o_i$ gets the same advantage, and the
# baseline is per prompt, not per prefix.
#
# ### Dividing by the group's standard deviation
#
# GRPO also divides by the standard deviation of the group's rewards (the step the notes
# leave out). For outcome rewards the advantage of every token of $o_i$ is
#
# $$
# \hat A_{i,t}=\frac{r_i-\bar r}{s+\varepsilon},\qquad
# \bar r=\frac1G\sum_{j=1}^G r_j,\qquad s=\sqrt{\frac1G\sum_{j=1}^G (r_j-\bar r)^2}
# $$ (grpo-advantage)
#
# with the **population** standard deviation, as DeepSeekMath's formula reads; `torch.std`
# by default divides by $G-1$ instead (the *sample* std), which makes the advantages smaller
# by $\sqrt{(G-1)/G}$. Implementations differ on this and on the small $\varepsilon$; this
# chapter uses the population std and $\varepsilon=10^{-6}$. Standardising makes the update
# independent of the reward's scale and offset, but $s$ is computed from the same samples,
# so the estimator is no longer exactly unbiased. What it does on average is clearest for a
# 0/1 reward. If a prompt is solved with probability $p$, then (for a large group)
# $\bar r\approx p$, $s\approx\sqrt{p(1-p)}$, and the expected update for that prompt is
# approximately the true gradient divided by $\sqrt{p(1-p)}$:
#
# $$
# \frac{\nabla_\theta p}{\sqrt{p(1-p)}}=\nabla_\theta\,2\arcsin\sqrt{p}.
# $$ (grpo-arcsin)
#
# With the std, GRPO climbs $\sum_q 2\arcsin\sqrt{p_q}$ rather than the expected accuracy
# $\sum_q p_q$: a prompt that is almost never or almost always solved gets a larger weight
# than one solved half the time. This is the "difficulty bias" of Dr. GRPO
# {cite}`liu2025understanding`, measured in Experiment 2.
#
# ### When a group gives no signal
#
# If $r_1=\dots=r_G$, then $r_i-\bar r=0$ for every $i$ (and $s=0$, hence the $\varepsilon$):
# every advantage is zero, and so is the gradient of the clipped term, whatever the ratios.
# With a 0/1 reward and success probability $p$, a group is silent with probability
#
# $$
# \Pr[\text{all equal}]=p^G+(1-p)^G ,
# $$ (grpo-silent)
#
# which tends to 1 as $p\to0$ (the prompt is too hard) or $p\to1$ (too easy). As training
# succeeds, $p\to1$ on more and more prompts, so the share of the batch that carries a
# gradient shrinks. DAPO's *dynamic sampling* {cite}`yu2025dapo` keeps sampling prompts and
# drops those whose group is all right or all wrong until the batch is full of groups with
# signal.
#
# ### The objective
#
# GRPO maximises, over prompts $q$ and groups $\{o_i\}_{i=1}^G$ sampled from
# $\pi_{\theta_\text{old}}$,
#
# $$
# \mathcal J_\text{GRPO}(\theta)=\mathbb E\Bigg[\frac1G\sum_{i=1}^G\frac1{|o_i|}
# \sum_{t=1}^{|o_i|}\Big(\min\big(\rho_{i,t}\hat A_{i,t},\
# \operatorname{clip}(\rho_{i,t},1-\epsilon,1+\epsilon)\,\hat A_{i,t}\big)
# -\beta\,k_3\big(x_{i,t}\big)\Big)\Bigg]
# $$ (grpo-objective)
#
# $$
# \rho_{i,t}=\frac{\pi_\theta(o_{i,t}\mid q,o_{i,<t})}
# {\pi_{\theta_\text{old}}(o_{i,t}\mid q,o_{i,<t})},
# \qquad
# x_{i,t}=\frac{\pi_\text{ref}(o_{i,t}\mid q,o_{i,<t})}{\pi_\theta(o_{i,t}\mid q,o_{i,<t})}.
# $$ (grpo-ratio)
#
# The clipped term is PPO's ([chapter 05](05_ppo.ipynb) derives it): with $\hat A>0$ the
# objective stops rewarding a token once its ratio passes $1+\epsilon$, with $\hat A<0$ once
# it falls below $1-\epsilon$, so several gradient steps on one batch of samples cannot move
# the policy far. With a single step per batch (DeepSeekMath's setting) $\rho=1$ at the step,
# the clip never acts, and the gradient is REINFORCE with the group baseline,
# $\frac1G\sum_i\frac1{|o_i|}\sum_t\hat A_{i,t}\nabla\log\pi_\theta(o_{i,t}\mid\cdot)$.
#
# The KL term is where GRPO departs from PPO-RLHF. PPO subtracts
# $\beta\log(\pi_\theta/\pi_\text{ref})$ from each token's reward, so the penalty flows
# through the critic and the advantages. GRPO keeps the advantage a function of the task
# reward alone and subtracts the KL from the objective directly, one estimate per sampled
# token. Each estimates $\mathrm{KL}\big(\pi_\theta(\cdot\mid q,o_{<t})\,\|\,
# \pi_\text{ref}(\cdot\mid q,o_{<t})\big)$ at its prefix, and their sum along a sampled
# response estimates the KL between the two distributions over whole responses (the chain
# rule of KL).
#
# ### Three one-sample estimators of KL: k1, k2, k3
#
# For one token $y\sim\pi$ (write $\pi=\pi_\theta$, $x=\pi_\text{ref}(y)/\pi(y)$),
# $\mathrm{KL}(\pi\,\|\,\pi_\text{ref})=\mathbb E_{y\sim\pi}[-\log x]$. Schulman's note
# {cite}`schulman2020approximating` compares three estimators:
#
# $$
# k_1=-\log x
# $$ (grpo-k1)
#
# $$
# k_2=\tfrac12(\log x)^2
# $$ (grpo-k2)
#
# $$
# k_3=(x-1)-\log x .
# $$ (grpo-k3)
#
# **k1** is unbiased by definition, but it is negative whenever $\pi_\text{ref}(y)>\pi(y)$,
# and its spread is large compared with its mean.
#
# **k3 is unbiased**: it is $k_1$ plus $x-1$, and that addition has mean zero under $\pi$,
#
# $$
# \mathbb E_{y\sim\pi}[x]=\sum_y\pi(y)\frac{\pi_\text{ref}(y)}{\pi(y)}=\sum_y\pi_\text{ref}(y)=1
# $$ (grpo-k3-unbiased)
#
# (summing over the tokens where $\pi>0$; this needs $\pi_\text{ref}$ to put no mass where
# $\pi$ puts none, which softmax policies guarantee). **k3 is never negative**: $\log$ is
# concave, so it lies below its tangent at $x=1$,
#
# $$
# \log x\le x-1\quad\Longrightarrow\quad k_3=(x-1)-\log x\ge0,\ \text{with equality only at } x=1 .
# $$ (grpo-k3-nonneg)
#
# So $x-1$ is a *control variate*: it is zero on average, and it is large exactly where
# $-\log x$ is, with the opposite sign, so adding it cancels most of $k_1$'s fluctuation.
#
# **k2 is biased, but only at third order.** Write $\delta=\log x$. From
# $\mathbb E[e^\delta]=1$, $\mathbb E[\delta]+\frac12\mathbb E[\delta^2]+O(\delta^3)=0$, so
# $\mathrm{KL}=-\mathbb E[\delta]=\frac12\mathbb E[\delta^2]+O(\delta^3)
# =\mathbb E[k_2]+O(\delta^3)$.
# Near $\pi_\text{ref}$ the three estimators also differ in spread: $k_1=-\delta$ has standard
# deviation about $\sqrt{\mathbb E[\delta^2]}\approx\sqrt{2\,\mathrm{KL}}$, much larger than KL
# itself, while $k_3=\frac12\delta^2+O(\delta^3)$ fluctuates on the scale of KL. Far from
# $\pi_\text{ref}$ this can reverse: if $\pi$ gives a token small probability that
# $\pi_\text{ref}$ makes likely, $x$ is large on that rare token and $k_3\approx x$ has a heavy
# tail (Experiment 3).
#
# | estimator | unbiased | $\ge0$ | spread near $\pi_\text{ref}$ |
# |---|---|---|---|
# | $k_1=-\log x$ | yes | no | $\approx\sqrt{2\,\mathrm{KL}}$, large |
# | $k_2=\frac12(\log x)^2$ | no (bias $O(\delta^3)$) | yes | $O(\mathrm{KL})$ |
# | $k_3=x-1-\log x$ | yes | yes | $O(\mathrm{KL})$ |

# %% [markdown]
# ## Implementation from scratch
#
# Three functions, each under the equation it implements. The experiments of this chapter use
# them; the chapters after this one import the shared copies `rl.group_advantages` and
# `rl.kl_estimates` from `notebook_utils`, which the Verification section checks are equal to
# these.
#
# ### Group advantages
#
# {eq}`grpo-advantage`, with the sample std and no division as options, and the leave-one-out
# centring of {eq}`grpo-loo`. Rewards come as one row per prompt.


# %%
def group_advantages(
    rewards: torch.Tensor, std: str = "population", eps: float = 1e-6
) -> torch.Tensor:
    """GRPO's outcome advantages, eq. (grpo-advantage), for rewards (n_groups, G).

    std: "population" (divide by G), "sample" (divide by G - 1) or "none" (Dr. GRPO)."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (n_groups, G) with G >= 2, got {tuple(rewards.shape)}")
    group_size = rewards.shape[1]
    centred = rewards - rewards.mean(dim=1, keepdim=True)  # (n_groups, G): r_i - r̄
    if std == "none":
        return centred
    dof = {"population": group_size, "sample": group_size - 1}[std]
    spread = (centred.pow(2).sum(dim=1, keepdim=True) / dof).sqrt()  # (n_groups, 1)
    return centred / (spread + eps)


def leave_one_out_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """r_i minus the mean of the other G - 1 rewards of its group (RLOO), (n_groups, G)."""
    group_size = rewards.shape[1]
    others_mean = (rewards.sum(dim=1, keepdim=True) - rewards) / (group_size - 1)
    return rewards - others_mean


# %% [markdown]
# ### The k1, k2, k3 estimators
#
# {eq}`grpo-k1` to {eq}`grpo-k3` from log-probabilities, since that is what a model gives.
# `torch.expm1` computes $e^\delta-1$ without losing digits when $\delta$ is tiny, which is
# the normal case (the policy is close to the reference), where $k_3\approx\delta^2/2$ would
# otherwise drown in rounding.


# %%
def kl_estimators(logp: torch.Tensor, ref_logp: torch.Tensor) -> dict[str, torch.Tensor]:
    """k1, k2, k3 of KL(π || π_ref) at tokens sampled from π, elementwise.

    logp = log π(y), ref_logp = log π_ref(y), same shape."""
    log_ratio = ref_logp - logp  # log x, x = π_ref / π
    return {
        "k1": -log_ratio,  # eq. (grpo-k1)
        "k2": 0.5 * log_ratio**2,  # eq. (grpo-k2)
        "k3": torch.expm1(log_ratio) - log_ratio,  # eq. (grpo-k3): (x - 1) - log x
    }


def exact_token_kl(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(logits) || softmax(ref_logits)) over the last axis, by summing over it."""
    logp, ref_logp = logits.log_softmax(-1), ref_logits.log_softmax(-1)  # (..., V)
    return (logp.exp() * (logp - ref_logp)).sum(-1)  # (...)


# %% [markdown]
# ### The GRPO loss
#
# {eq}`grpo-objective` with its sign flipped, for a batch of groups stored one response per
# row. The clipped term is the shared `clipped_surrogate` ($\min(\rho A,
# \operatorname{clip}(\rho)A)$ per token, derived in [chapter 05](05_ppo.ipynb)). Every
# response of the sort task has the same length, so $\frac1{|o_i|}\sum_t$ is a mean over the
# token axis.


# %%
def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    ref_logp: torch.Tensor,
    advantages: torch.Tensor,
    clip_eps: float = 0.2,
    beta: float = 0.04,
) -> torch.Tensor:
    """Minus eq. (grpo-objective). logp, old_logp, ref_logp: (N, T) per-token log-probs of N
    responses under π_θ (with gradient), π_θ_old and π_ref; advantages: (N, 1), one per
    response, broadcast over its tokens."""
    surrogate = clipped_surrogate(logp, old_logp, advantages, clip_eps)  # (N, T)
    k3 = kl_estimators(logp, ref_logp)["k3"]  # (N, T), eq. (grpo-k3)
    per_token = surrogate - beta * k3  # (N, T)
    return -per_token.mean(dim=1).mean()  # 1/|o_i| Σ_t, then the mean over responses


# %% [markdown]
# ## Verification
#
# ### Group advantages: the errata's example, torch and the shared function
#
# The rewards $[1,0,0,1]$ have mean $\tfrac12$ and every deviation $\pm\tfrac12$. The
# population std is $\tfrac12$, so the advantages are $[1,-1,-1,1]$; the sample std is
# $\sqrt{1/3}$, so they are $\pm\tfrac{\sqrt3}2=\pm0.866$. With $\varepsilon=0$ the results
# are exact to rounding.

# %%
errata_rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0]], dtype=torch.float64)  # (1, G = 4)
check_close(
    "population std: [1, 0, 0, 1] → [1, -1, -1, 1]",
    group_advantages(errata_rewards, "population", eps=0.0),
    torch.tensor([[1.0, -1.0, -1.0, 1.0]], dtype=torch.float64),
    atol=1e-15,
)
half_root_3 = math.sqrt(3) / 2
check_close(
    f"sample std: [1, 0, 0, 1] → ±√3/2 = ±{half_root_3:.3f}",
    group_advantages(errata_rewards, "sample", eps=0.0),
    torch.tensor([[1.0, -1.0, -1.0, 1.0]], dtype=torch.float64) * half_root_3,
    atol=1e-15,
)

# %% [markdown]
# On random rewards (some groups made all-equal on purpose), the from-scratch function must
# match a direct computation with `torch.std` (`correction=0` for the population std,
# `correction=1` for the sample std) and the shared `rl.group_advantages`, for all three
# modes. The leave-one-out advantages must be $G/(G-1)$ times the centred rewards
# {eq}`grpo-loo`.

# %%
test_rewards = torch.from_numpy(rng.integers(0, 3, size=(64, 8)).astype(np.float64))  # (64, 8)
test_rewards[:5] = 1.0  # five silent groups
for mode, correction in [("population", 0), ("sample", 1), ("none", None)]:
    ours = group_advantages(test_rewards, mode)
    centred = test_rewards - test_rewards.mean(1, keepdim=True)
    if correction is None:
        by_torch = centred
    else:
        by_torch = centred / (test_rewards.std(1, keepdim=True, correction=correction) + 1e-6)
    check_close(f"group advantages ({mode}) vs torch.std formula", ours, by_torch, atol=1e-12)
    check_close(
        f"group advantages ({mode}) vs shared rl.group_advantages",
        ours,
        rl.group_advantages(test_rewards, std=mode),
        atol=1e-12,
    )
G_TEST = test_rewards.shape[1]
check_close(
    "leave-one-out = G/(G-1) × (r - group mean), eq. (grpo-loo)",
    leave_one_out_advantages(test_rewards),
    G_TEST / (G_TEST - 1) * group_advantages(test_rewards, "none"),
    atol=1e-12,
)
check_equal(
    "silent groups get zero advantages", group_advantages(test_rewards)[:5], torch.zeros(5, 8)
)

# %% [markdown]
# ### k3: the errata's value, its sign, and the shared function
#
# At $x=\pi_\text{ref}/\pi=0.5$, {eq}`grpo-k3` gives $0.5-1-\log0.5=\log2-\tfrac12=0.193147$.
# Over a wide grid of log-ratios k3 must be non-negative {eq}`grpo-k3-nonneg`, zero only at
# $x=1$, and equal to the shared `rl.kl_estimates`.

# %%
k3_half = kl_estimators(
    torch.tensor(0.0, dtype=torch.float64), torch.tensor(math.log(0.5), dtype=torch.float64)
)
check_close("k3 at x = 0.5 vs log 2 - 1/2", k3_half["k3"], math.log(2) - 0.5, atol=1e-15)
check_close("k3 at x = 0.5 vs the errata's 0.193147", k3_half["k3"], 0.193147, atol=5e-7)

log_ratio_grid = torch.linspace(-20.0, 5.0, 2001, dtype=torch.float64)  # log x, x ∈ [2e-9, 148]
grid_k = kl_estimators(torch.zeros_like(log_ratio_grid), log_ratio_grid)
nonzero = log_ratio_grid != 0
check_true(
    "k3 > 0 wherever x ≠ 1, on log x ∈ [-20, 5]",
    bool((grid_k["k3"][nonzero] > 0).all()),
    f"min over x ≠ 1: {grid_k['k3'][nonzero].min():.2e}",
)
check_true("k1 < 0 wherever x > 1", bool((grid_k["k1"][log_ratio_grid > 0] < 0).all()))
random_logp = torch.from_numpy(rng.normal(-2.0, 1.0, size=(32, 6)))  # (32, 6)
random_ref_logp = random_logp + torch.from_numpy(rng.normal(0.0, 0.3, size=(32, 6)))
shared = rl.kl_estimates(random_logp, random_ref_logp)
for name, values in kl_estimators(random_logp, random_ref_logp).items():
    check_close(f"{name} vs shared rl.kl_estimates", values, shared[name], atol=1e-15)

# %% [markdown]
# ### Unbiasedness, by enumeration and by sampling
#
# The errata's pair: $\pi=[0.5,0.3,0.2]$ and $\pi_\text{ref}=[0.2,0.5,0.3]$. Enumerating the
# three tokens gives each estimator's exact mean and variance; the reference value of KL comes
# from `torch.distributions.kl_divergence`. k1 and k3 must hit KL $=0.223805$, and k2 must
# miss it.

# %%
pi = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
pi_ref = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
kl_true = torch.distributions.kl_divergence(
    torch.distributions.Categorical(probs=pi), torch.distributions.Categorical(probs=pi_ref)
)
check_close("KL(π || π_ref) vs the errata's 0.223805", kl_true, 0.223805, atol=5e-7)

per_token = kl_estimators(pi.log(), pi_ref.log())  # each (3,): the estimator at each token
exact_mean = {name: (pi * k).sum() for name, k in per_token.items()}
exact_var = {name: (pi * (k - exact_mean[name]) ** 2).sum() for name, k in per_token.items()}
check_close(
    "E_π[x] = Σ π_ref = 1, eq. (grpo-k3-unbiased)", (pi * pi_ref / pi).sum(), 1.0, atol=1e-15
)
for name in ("k1", "k3"):
    check_close(f"E_π[{name}] by enumeration vs KL", exact_mean[name], kl_true, atol=1e-15)
k2_bias = (exact_mean["k2"] - kl_true).item()
check_true("E_π[k2] ≠ KL (k2 is biased)", abs(k2_bias) > 1e-2, f"bias {k2_bias:+.4f}")
for name in per_token:
    print(f"{name}: mean {exact_mean[name]:.6f}, variance {exact_var[name]:.5f}")

# %% [markdown]
# The same claims by sampling: 20,000 tokens drawn from $\pi$, each estimator averaged.
# `check_mean_close` passes when the sample mean is within 4 standard errors of KL; for k2
# the same test must fail by a wide margin. The measured variances must match the exact ones
# (5 % tolerance; the standard error of a variance estimate at this sample size is about 1 %).

# %%
N_KL_SAMPLES = 20_000
sampler = torch.Generator().manual_seed(7)
tokens = torch.multinomial(pi, N_KL_SAMPLES, replacement=True, generator=sampler)  # (n,)
sampled = kl_estimators(pi.log()[tokens], pi_ref.log()[tokens])  # each (n,)
for name in ("k1", "k3"):
    check_mean_close(f"sample mean of {name} = KL", sampled[name], kl_true.item(), z_max=4.0)
k2_se = sampled["k2"].std() / math.sqrt(N_KL_SAMPLES)
k2_z = ((sampled["k2"].mean() - kl_true) / k2_se).item()
check_true("sample mean of k2 is far from KL", abs(k2_z) > 10, f"z = {k2_z:.0f}")
for name in per_token:
    check_close(
        f"variance of {name}: sampled vs exact",
        sampled[name].var(),
        exact_var[name],
        atol=0.0,
        rtol=0.05,
    )
k1_over_k3 = (exact_var["k1"] / exact_var["k3"]).item()
print(f"Var(k1) / Var(k3) = {k1_over_k3:.0f} on this pair")

# %% [markdown]
# ### The group mean is a valid baseline: the expected gradient, exactly
#
# A one-step "policy" with three responses, softmax logits $z$, and rewards $[1,0.3,0]$. With
# $G=4$ there are $3^4=81$ possible groups; summing the GRPO gradient estimate
# $\frac1G\sum_i\hat A_i\nabla_z\log\pi(o_i)$ over all of them, weighted by their
# probability, gives its exact expectation. By {eq}`grpo-loo` the group-mean version must be
# $(G-1)/G$ times the true gradient $\nabla_z\mathbb E_\pi[r]$ (from autograd), and the
# leave-one-out version exactly the true gradient. With the std it is neither.

# %%
bandit_logits = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64, requires_grad=True)
bandit_rewards = torch.tensor([1.0, 0.3, 0.0], dtype=torch.float64)  # r(o) of each response
bandit_probs = bandit_logits.softmax(0)  # (3,)
(true_gradient,) = torch.autograd.grad((bandit_probs * bandit_rewards).sum(), bandit_logits)
bandit_probs = bandit_probs.detach()
score = torch.eye(3, dtype=torch.float64) - bandit_probs  # (3, 3): row o = ∇_z log π(o)


def expected_group_gradient(
    advantage_fn: Callable[[torch.Tensor], torch.Tensor], group_size: int
) -> torch.Tensor:
    """E over all groups of (1/G) Σ_i A_i ∇_z log π(o_i), by enumerating the 3^G groups."""
    groups = torch.tensor(list(itertools.product(range(3), repeat=group_size)))  # (3^G, G)
    probability = bandit_probs[groups].prod(dim=1)  # (3^G,)
    advantages = advantage_fn(bandit_rewards[groups])  # (3^G, G)
    per_group = (advantages[..., None] * score[groups]).mean(dim=1)  # (3^G, 3)
    return (probability[:, None] * per_group).sum(dim=0)  # (3,)


G_BANDIT = 4
check_close(
    f"E[group-mean estimate] = (G-1)/G × ∇E[r], G = {G_BANDIT}",
    expected_group_gradient(lambda r: group_advantages(r, "none"), G_BANDIT),
    (G_BANDIT - 1) / G_BANDIT * true_gradient,
    atol=1e-15,
)
check_close(
    "E[leave-one-out estimate] = ∇E[r]",
    expected_group_gradient(leave_one_out_advantages, G_BANDIT),
    true_gradient,
    atol=1e-15,
)
with_std = expected_group_gradient(group_advantages, G_BANDIT)
cosine = torch.nn.functional.cosine_similarity(with_std, true_gradient, dim=0).item()
print(
    f"with ÷ std: E[estimate] = {with_std.numpy().round(4)}, true {true_gradient.numpy().round(4)}"
)
check_true("with ÷ std: not parallel to ∇E[r]", cosine < 1 - 1e-6, f"cosine {cosine:.6f}")

# %% [markdown]
# ### A silent group gives exactly zero policy gradient
#
# A small GPT policy for the sort task (in float64), one prompt and a group of $G=8$ sampled
# responses, all given the same reward. With $\beta=0$ the gradient of
# {eq}`grpo-objective` must be exactly zero in every parameter, even though the policy has
# been moved away from the one that sampled (so $\rho\ne1$). With $\beta>0$ it must equal the
# gradient of the KL term alone.

# %%
check_task = SortTask(length=4)
check_policy = GPT(check_task.model_config()).double()
check_reference = copy.deepcopy(check_policy)
with torch.no_grad():  # move the policy away from the reference and from π_old
    for p in check_policy.parameters():
        p.add_(0.02 * torch.randn_like(p))
check_prompts = check_task.prompts(1, torch.Generator().manual_seed(3)).repeat(8, 1)  # (G, P)
check_responses = sample_responses(
    check_reference, check_prompts, 4, generator=torch.Generator().manual_seed(4)
)  # (G, T)
with torch.no_grad():
    check_old_logp = token_logprobs(
        response_logits(check_reference, check_prompts, check_responses), check_responses
    )  # (G, T): π_old = the reference here
    check_ref_logp = check_old_logp.clone()
silent_advantages = group_advantages(torch.ones(1, 8, dtype=torch.float64)).reshape(8, 1)


def parameter_gradient(loss: torch.Tensor) -> torch.Tensor:
    """All parameter gradients of the check policy, flattened into one vector."""
    grads = torch.autograd.grad(loss, list(check_policy.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


def check_logp() -> torch.Tensor:
    return token_logprobs(
        response_logits(check_policy, check_prompts, check_responses), check_responses
    )


policy_term_gradient = parameter_gradient(
    grpo_loss(check_logp(), check_old_logp, check_ref_logp, silent_advantages, beta=0.0)
)
check_equal(
    f"silent group, β = 0: policy gradient over {policy_term_gradient.numel():,} parameters",
    policy_term_gradient,
    torch.zeros_like(policy_term_gradient),
)
beta_check = 0.04
full_gradient = parameter_gradient(
    grpo_loss(check_logp(), check_old_logp, check_ref_logp, silent_advantages, beta=beta_check)
)
kl_only_gradient = parameter_gradient(
    beta_check * kl_estimators(check_logp(), check_ref_logp)["k3"].mean()
)
check_true("β > 0: the gradient is not zero", bool(full_gradient.abs().max() > 0))
check_close(
    "silent group, β > 0: gradient = β ∇ mean(k3)", full_gradient, kl_only_gradient, atol=1e-15
)

# %% [markdown]
# ### At the first step GRPO is REINFORCE with the group baseline
#
# When the policy has not moved since sampling ($\pi_\theta=\pi_{\theta_\text{old}}$, so
# $\rho=1$), the clip is inactive and the gradient of {eq}`grpo-objective` (with $\beta=0$)
# is that of $\frac1G\sum_i\frac1{|o_i|}\sum_t\hat A_i\log\pi_\theta(o_{i,t}\mid\cdot)$.
# Checked with the same policy and a group with mixed rewards.

# %%
mixed_advantages = group_advantages(
    torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
).reshape(8, 1)
on_policy_logp = check_logp().detach()  # π_old = π_θ: ρ = 1
grpo_gradient = parameter_gradient(
    grpo_loss(check_logp(), on_policy_logp, check_ref_logp, mixed_advantages, beta=0.0)
)
reinforce_gradient = parameter_gradient(-(mixed_advantages * check_logp()).mean(dim=1).mean())
check_close(
    "GRPO gradient at ρ = 1 vs REINFORCE with Â", grpo_gradient, reinforce_gradient, atol=1e-15
)

# %% [markdown]
# ### The exact per-token KL
#
# Experiment 1 monitors the KL to the reference both by k3 and exactly, summing over the
# vocabulary at each sampled prefix. The exact one is checked against
# `torch.distributions.kl_divergence` and the shared `rl.exact_kl`.

# %%
logits_a = torch.from_numpy(rng.normal(size=(16, 4, 11)))  # (B, T, V)
logits_b = torch.from_numpy(rng.normal(size=(16, 4, 11)))
by_torch = torch.distributions.kl_divergence(
    torch.distributions.Categorical(logits=logits_a),
    torch.distributions.Categorical(logits=logits_b),
)
check_close(
    "exact token KL vs torch.distributions",
    exact_token_kl(logits_a, logits_b),
    by_torch,
    atol=1e-14,
)
check_close(
    "exact token KL vs shared rl.exact_kl",
    exact_token_kl(logits_a, logits_b),
    rl.exact_kl(logits_a, logits_b),
    atol=1e-14,
)

# %% [markdown]
# ## Experiments
#
# ### 1. GRPO on a task with a verifiable reward
#
# The task is the book's sort task (`SortTask(length=4)`, digits 0–9): the prompt is four
# digits and a separator, the response should be the same digits sorted. Length 4 rather than
# the default 6 halves the cost of a rollout, which buys more RL steps in the time budget. The
# reward is **exact match only** (1 if the whole response is the sorted prompt, else 0), with no
# partial credit: it is the verifiable, rule-based kind of reward GRPO is used with for maths and
# code, and with a 0/1 reward a group is silent exactly when it is all right or all wrong.
#
# The starting point is a deliberately under-trained SFT model (25 steps of `train_sft`),
# frozen as the reference. Each GRPO iteration then
#
# 1. draws 16 fresh prompts and samples $G=8$ responses for each at temperature 1 (128
#    rollouts), and scores them;
# 2. computes the group advantages {eq}`grpo-advantage` (population std);
# 3. takes 2 AdamW steps (learning rate $3\times10^{-4}$) on {eq}`grpo-objective` with
#    $\epsilon=0.2$ and a small $\beta=0.02$, the log-probabilities of the sampling policy
#    serving as $\pi_{\theta_\text{old}}$ for both steps.
#
# Every 10 iterations the greedy exact match is measured on 1,000 held-out prompts drawn from a
# separate generator: the true objective. The training batch gives the mean reward (the
# exact-match rate of *sampled* responses), the share of silent groups, split into all-wrong
# and all-right, and the KL to the reference, by k3 and exactly.

# %%
SFT_STEPS = 25
RL_ITERATIONS = 80
PROMPTS_PER_BATCH = 16
GROUP_SIZE = 8
INNER_STEPS = 2
RL_LR = 3e-4
CLIP_EPS = 0.2
BETA = 0.02
EVAL_EVERY = 10
N_EVAL_PROMPTS = 1000


# %%
def run_grpo(
    policy: GPT,
    reference: GPT,
    task: SortTask,
    generator: torch.Generator,
    eval_prompts: torch.Tensor,
    iterations: int = RL_ITERATIONS,
    std: str = "population",
) -> dict[str, np.ndarray]:
    """Train `policy` in place with GRPO, eqs. (grpo-advantage) and (grpo-objective); return
    per-iteration statistics of the training batches and the held-out greedy exact match."""
    optimizer = torch.optim.AdamW(policy.parameters(), lr=RL_LR, weight_decay=0.0)
    history: dict[str, list[float]] = {
        key: [] for key in ("reward", "all_wrong", "all_right", "kl_k3", "kl_exact", "clipped")
    }
    history["eval_iteration"], history["eval_exact_match"] = [], []
    for iteration in tqdm(range(iterations + 1), desc="GRPO", leave=False):
        if iteration % EVAL_EVERY == 0:
            history["eval_iteration"].append(iteration)
            history["eval_exact_match"].append(rl.greedy_exact_match(policy, task, eval_prompts))
        if iteration == iterations:
            break
        prompts = task.prompts(PROMPTS_PER_BATCH, generator).repeat_interleave(GROUP_SIZE, 0)
        responses = sample_responses(policy, prompts, task.length, generator=generator)  # (N, T)
        rewards = task.reward(prompts, responses).view(PROMPTS_PER_BATCH, GROUP_SIZE)
        advantages = group_advantages(rewards, std).reshape(-1, 1)  # (N, 1)
        with torch.no_grad():
            ref_logits = response_logits(reference, prompts, responses)  # (N, T, V)
            ref_logp = token_logprobs(ref_logits, responses)  # (N, T)
        for step in range(INNER_STEPS):
            logits = response_logits(policy, prompts, responses)  # (N, T, V)
            logp = token_logprobs(logits, responses)  # (N, T)
            if step == 0:  # nothing has moved since sampling: this is π_θ_old
                old_logp = logp.detach()
                k3 = kl_estimators(old_logp, ref_logp)["k3"]
                history["kl_k3"].append(k3.sum(1).mean().item())
                exact = exact_token_kl(logits.detach(), ref_logits)  # (N, T)
                history["kl_exact"].append(exact.sum(1).mean().item())
            loss = grpo_loss(logp, old_logp, ref_logp, advantages, CLIP_EPS, BETA)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        ratio = (logp.detach() - old_logp).exp()  # ratios seen by the last step
        history["clipped"].append(((ratio - 1).abs() > CLIP_EPS).float().mean().item())
        history["reward"].append(rewards.mean().item())
        history["all_wrong"].append((rewards.sum(1) == 0).float().mean().item())
        history["all_right"].append((rewards.sum(1) == GROUP_SIZE).float().mean().item())
    return {key: np.array(values) for key, values in history.items()}


# %% [markdown]
# The SFT checkpoint and the held-out prompts. The SFT model's greedy answers are right more
# often than its samples: it puts the most mass on the right token at most positions, but not
# much, so a sampled response of four tokens is often wrong somewhere.

# %%
sort_task = SortTask(length=4)
train_generator = torch.Generator().manual_seed(1)
eval_prompts = sort_task.prompts(N_EVAL_PROMPTS, torch.Generator().manual_seed(2024))
torch.manual_seed(0)  # the experiment's own seed, whatever the cells above drew
policy = GPT(sort_task.model_config())
cpu_start = time.process_time()
train_sft(policy, sort_task, steps=SFT_STEPS, generator=train_generator)
sft_cpu_seconds = time.process_time() - cpu_start
reference = copy.deepcopy(policy).eval().requires_grad_(False)
before_greedy = rl.greedy_exact_match(policy, sort_task, eval_prompts)
with torch.no_grad():
    eval_samples = sample_responses(
        policy, eval_prompts, sort_task.length, generator=torch.Generator().manual_seed(5)
    )
before_sampled = sort_task.reward(eval_prompts, eval_samples).mean().item()
print(
    f"SFT, {SFT_STEPS} steps ({sft_cpu_seconds:.1f} s CPU): held-out exact match "
    f"{before_greedy:.3f} greedy, {before_sampled:.3f} sampled at temperature 1"
)

# %%
cpu_start, wall_start = time.process_time(), time.perf_counter()
grpo_history = run_grpo(policy, reference, sort_task, train_generator, eval_prompts)
rl_cpu_seconds = time.process_time() - cpu_start
rl_wall_seconds = time.perf_counter() - wall_start
after_greedy = grpo_history["eval_exact_match"][-1]
with torch.no_grad():
    eval_samples = sample_responses(
        policy, eval_prompts, sort_task.length, generator=torch.Generator().manual_seed(5)
    )
after_sampled = sort_task.reward(eval_prompts, eval_samples).mean().item()
print(
    f"GRPO, {RL_ITERATIONS} iterations × {PROMPTS_PER_BATCH * GROUP_SIZE} rollouts "
    f"({rl_cpu_seconds:.1f} s CPU, {rl_wall_seconds:.1f} s wall)"
)
print(f"held-out greedy exact match:  {before_greedy:.3f} → {after_greedy:.3f}")
print(f"held-out sampled exact match: {before_sampled:.3f} → {after_sampled:.3f}")
check_true(
    "GRPO raises the held-out greedy exact match by at least 0.1",
    bool(after_greedy - before_greedy >= 0.1),
    f"{before_greedy:.3f} → {after_greedy:.3f}",
)

# %% [markdown]
# The batch statistics, averaged over the first and the last 10 iterations:

# %%
first, last = slice(0, 10), slice(-10, None)
for key, label in [
    ("reward", "mean reward (sampled exact match)"),
    ("all_wrong", "silent groups, all wrong"),
    ("all_right", "silent groups, all right"),
    ("kl_exact", "KL to the reference, nats per response (exact)"),
    ("kl_k3", "KL to the reference, nats per response (k3)"),
    ("clipped", "tokens outside the clip range at the 2nd step"),
]:
    values = grpo_history[key]
    print(f"{label:>48}: {values[first].mean():.3f} → {values[last].mean():.3f}")
check_true(
    "the share of all-right (silent) groups grows",
    bool(grpo_history["all_right"][last].mean() > grpo_history["all_right"][first].mean()),
)
check_mean_close(
    "k3 minus exact KL per batch (nats per response), expected 0",
    grpo_history["kl_k3"] - grpo_history["kl_exact"],
    0.0,
    z_max=4.0,
)


# %%
def moving_average(values: np.ndarray, window: int = 10) -> np.ndarray:
    """Mean of the last `window` values at each point (fewer at the start)."""
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(len(values)) + 1 - counts]) / counts


iterations = np.arange(RL_ITERATIONS)
fig, axes = plt.subplots(2, 2, figsize=(11, 7))
ax = axes[0, 0]
ax.plot(
    grpo_history["eval_iteration"],
    grpo_history["eval_exact_match"],
    "o-",
    color=PALETTE[0],
    label="greedy, 1,000 held-out prompts",
)
ax.set(
    xlabel="GRPO iteration",
    ylabel="exact match",
    ylim=(0, 1),
    title=f"Held-out greedy exact match {before_greedy:.2f} → {after_greedy:.2f}",
)
ax.legend(loc="lower right")
ax = axes[0, 1]
ax.plot(
    iterations,
    grpo_history["reward"],
    color=PALETTE[1],
    alpha=0.3,
    lw=1,
    label="per batch (128 samples)",
)
ax.plot(
    iterations,
    moving_average(grpo_history["reward"]),
    color=PALETTE[1],
    label="10-iteration average",
)
ax.set(
    xlabel="GRPO iteration",
    ylabel="mean reward = sampled exact match",
    ylim=(0, 1),
    title="The reward of sampled responses rises",
)
ax.legend(loc="upper left")
ax = axes[1, 0]
ax.plot(
    iterations, moving_average(grpo_history["all_wrong"]), color=PALETTE[3], label="all 8 wrong"
)
ax.plot(
    iterations, moving_average(grpo_history["all_right"]), color=PALETTE[2], label="all 8 right"
)
ax.plot(
    iterations,
    moving_average(grpo_history["all_wrong"] + grpo_history["all_right"]),
    color="k",
    ls="--",
    label="silent in total",
)
ax.set(
    xlabel="GRPO iteration",
    ylabel="share of groups (10-iteration average)",
    ylim=(0, 1),
    title="Silent groups: all-wrong fade, all-right grow",
)
ax.legend(loc="upper right")
ax = axes[1, 1]
ax.plot(iterations, grpo_history["kl_exact"], color=PALETTE[0], label="exact (sum over vocab)")
ax.plot(iterations, grpo_history["kl_k3"], color=PALETTE[4], alpha=0.7, lw=1, label="k3 estimate")
ax.set(
    xlabel="GRPO iteration",
    ylabel="KL(π_θ ‖ π_ref), nats per response",
    title=f"The policy drifts from the reference (β = {BETA})",
)
ax.legend(loc="upper left")
fig.suptitle(
    f"GRPO from a {before_greedy:.0%} SFT model reaches {after_greedy:.0%} greedy exact match "
    f"in {RL_ITERATIONS} iterations"
)
plt.show()

# %% [markdown]
# What the numbers above show. The SFT model's samples are mostly wrong, so at first many
# groups are all wrong and carry no signal; GRPO raises the reward of its *samples* (it
# sharpens the distribution towards answers that are right) and, with it, the greedy exact
# match. As the samples get better the all-wrong groups fade and all-right groups appear:
# the second kind of silence, the one that grows as the model succeeds. This run stops while
# the samples are still right less than half the time, so all-right groups are still rare;
# {eq}`grpo-silent` and Experiment 2 show how fast they take over as $p$ approaches 1. The KL
# to the reference grows steadily, since $\beta$ is small, and k3 tracks the exact value
# with some noise (the check above finds no bias).

# %% [markdown]
# ### 2. How much signal a prompt gives, and what ÷ std does to it
#
# For a prompt solved with probability $p$ and a 0/1 reward, the number of right answers in a
# group is $k\sim\mathrm{Binomial}(G,p)$, and everything is exact by summing over $k$. The
# chance that the group is silent is {eq}`grpo-silent`. For a policy with logit $\theta$
# ($p=\sigma(\theta)$), the scores are $1-p$ for a right answer and $-p$ for a wrong one, and
# the GRPO estimate $\frac1G\sum_i\hat A_i\nabla_\theta\log\pi(o_i)$ given $k$ works out to
# $k(G-k)/G^2$ without the std and $\sqrt{k(G-k)}/G$ with it. Dividing its mean by the true
# gradient $\nabla_\theta p=p(1-p)$ gives the weight the prompt effectively receives. Without
# the std it is $(G-1)/G$ for every $p$ ({eq}`grpo-loo`); with it, it approaches
# $1/\sqrt{p(1-p)}$ for large $G$ ({eq}`grpo-arcsin`).


# %%
def binomial_pmf(group_size: int, p: np.ndarray) -> np.ndarray:
    """P(k right answers out of G), shape (len(p), G + 1)."""
    k = np.arange(group_size + 1)
    log_choose = np.array(
        [
            math.lgamma(group_size + 1) - math.lgamma(i + 1) - math.lgamma(group_size - i + 1)
            for i in k
        ]
    )
    return np.exp(log_choose + k * np.log(p[:, None]) + (group_size - k) * np.log1p(-p[:, None]))


def effective_weight(group_size: int, p: np.ndarray, divide_by_std: bool) -> np.ndarray:
    """E[GRPO estimate] / ∇p for a 0/1 reward and a single-logit policy, exactly."""
    k = np.arange(group_size + 1)
    per_k = (
        np.sqrt(k * (group_size - k)) / group_size
        if divide_by_std
        else (k * (group_size - k) / group_size**2)
    )
    return (binomial_pmf(group_size, p) * per_k).sum(1) / (p * (1 - p))


success = np.linspace(0.005, 0.995, 199)
for group_size in (8, 64):
    check_close(
        f"no std, G = {group_size}: weight = (G-1)/G for every p",
        effective_weight(group_size, success, divide_by_std=False),
        np.full_like(success, (group_size - 1) / group_size),
        atol=1e-12,
    )
middle = (success > 0.1) & (success < 0.9)
check_close(
    "÷ std, G = 2048: weight → 1/√(p(1-p)), eq. (grpo-arcsin), for 0.1 < p < 0.9",
    effective_weight(2048, success[middle], divide_by_std=True),
    1 / np.sqrt(success[middle] * (1 - success[middle])),
    atol=0.0,
    rtol=2e-3,
)
extremes = np.array([1e-6, 1 - 1e-6])
for group_size in (8, 64):
    check_close(
        f"÷ std, G = {group_size}: weight → √(G-1) = {math.sqrt(group_size - 1):.3f} as p → 0, 1",
        effective_weight(group_size, extremes, divide_by_std=True),
        np.full(2, math.sqrt(group_size - 1)),
        atol=0.0,
        rtol=1e-4,
    )
    half = effective_weight(group_size, np.array([0.5]), divide_by_std=True)[0]
    print(f"÷ std, G = {group_size}: weight {half:.2f} at p = 0.5")

# %%
fig, (ax_silent, ax_weight) = plt.subplots(1, 2, figsize=(11, 4.2))
for colour, group_size in zip(PALETTE, (4, 8, 16, 64), strict=False):
    ax_silent.plot(
        success,
        success**group_size + (1 - success) ** group_size,
        color=colour,
        label=f"G = {group_size}",
    )
ax_silent.set(
    xlabel="success probability p of the prompt",
    ylabel="P(group is silent)",
    title="$p^G+(1-p)^G$: silent when too hard or too easy",
)
ax_silent.legend(loc="upper center")
for colour, group_size in zip(PALETTE, (8, 64), strict=False):
    ax_weight.plot(
        success,
        effective_weight(group_size, success, True),
        color=colour,
        label=f"÷ std, G = {group_size}",
    )
    ax_weight.plot(
        success,
        effective_weight(group_size, success, False),
        ":",
        color=colour,
        label=f"no std (Dr. GRPO), G = {group_size}",
    )
ax_weight.plot(
    success, 1 / np.sqrt(success * (1 - success)), "k--", lw=1, label="$1/\\sqrt{p(1-p)}$, G → ∞"
)
ax_weight.set(
    xlabel="success probability p of the prompt",
    ylabel="E[update] / true gradient",
    ylim=(0, 8),
    title="÷ std up-weights the extremes",
)
ax_weight.legend(loc="upper center", fontsize=8)
fig.suptitle("A prompt's share of the update depends on its difficulty, more so with ÷ std")
plt.show()

# %% [markdown]
# Without the std every prompt's expected update is proportional to its true gradient
# ($\nabla p=p(1-p)$, itself small near 0 and 1). With the std the weight rises towards
# both ends: at finite $G$ it levels off at $\sqrt{G-1}$ as $p\to0$ or $1$ (the only groups
# left with signal have a single odd answer, whose advantage is $\pm\sqrt{G-1}$), and as $G$
# grows it follows $1/\sqrt{p(1-p)}$, without bound. This is the weighting Dr. GRPO removes:
# prompts the model almost always solves, or almost never, get more than their share of the
# update.
#
# ### 3. k1, k2, k3 as the policy moves away from the reference
#
# Exact means and standard deviations, by enumeration, for two policies $\pi$ and a family of
# references $\pi_\text{ref}\propto\pi\,e^{s\,(-1,0,1)}$, $s\in(0,6]$, which moves mass from the
# first token to the last. The first policy is the errata's $[0.5,0.3,0.2]$; the second,
# $[0.9,0.09,0.01]$, has a rare token that the reference soon makes likely.

# %%
shifts = np.linspace(0.02, 6.0, 120)
direction = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
policies = {
    "π = [0.5, 0.3, 0.2]": torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64),
    "π = [0.9, 0.09, 0.01]": torch.tensor([0.9, 0.09, 0.01], dtype=torch.float64),
}
estimator_stats = {}
for label, policy_probs in policies.items():
    stats = {
        "kl": [],
        **{f"{name}_{what}": [] for name in ("k1", "k2", "k3") for what in ("mean", "std")},
    }
    for shift in shifts:
        ref_probs = (policy_probs.log() + shift * direction).softmax(0)  # (3,)
        values = kl_estimators(policy_probs.log(), ref_probs.log())  # each (3,)
        stats["kl"].append((policy_probs * (policy_probs / ref_probs).log()).sum().item())
        for name, k in values.items():
            mean = (policy_probs * k).sum()
            stats[f"{name}_mean"].append(mean.item())
            stats[f"{name}_std"].append((policy_probs * (k - mean) ** 2).sum().sqrt().item())
    estimator_stats[label] = {key: np.array(v) for key, v in stats.items()}

for label, stats in estimator_stats.items():
    for name in ("k1", "k3"):
        check_close(
            f"{label}: E[{name}] = KL along the path",
            stats[f"{name}_mean"],
            stats["kl"],
            atol=1e-12,
        )
    k3_worse = stats["k3_std"] > stats["k1_std"]
    where = f"from KL = {stats['kl'][k3_worse][0]:.3f} on" if k3_worse.any() else "nowhere on"
    print(
        f"{label}: k3 spreads more than k1 {where} the path; "
        f"k2 bias at KL = {stats['kl'][-1]:.2f}: {stats['k2_mean'][-1] - stats['kl'][-1]:+.2f}"
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, (label, stats) in zip(axes, estimator_stats.items(), strict=True):
    for colour, name in zip(PALETTE, ("k1", "k2", "k3"), strict=False):
        ax.loglog(stats["kl"], stats[f"{name}_std"], color=colour, label=f"std of {name}")
    ax.loglog(
        stats["kl"],
        np.abs(stats["k2_mean"] - stats["kl"]),
        ":",
        color=PALETTE[1],
        label="|bias| of k2",
    )
    ax.loglog(stats["kl"], stats["kl"], "k--", lw=1, label="KL itself")
    ax.set(xlabel="KL(π ‖ π_ref), nats", title=label)
axes[0].set_ylabel("standard deviation or bias, nats")
axes[0].legend(loc="upper left")
fig.suptitle(
    "k3 beats k1 near the reference; a rare token that π_ref favours gives k3 a heavy tail"
)
plt.show()

# %% [markdown]
# Near the reference, k1's spread is orders of magnitude larger than the KL it estimates
# (it scales like $\sqrt{2\,\mathrm{KL}}$), while k2 and k3 scale like KL, and k2's bias is
# smaller still (it changes sign along the path, hence the dip); far out, k2's bias exceeds
# the KL itself. On the second policy the ordering flips early: a token with
# $\pi(y)=0.01$ that $\pi_\text{ref}$ makes likely gives $x=\pi_\text{ref}(y)/\pi(y)$ in the
# tens, once in a hundred samples, and $k_3\approx x$ there. In GRPO this is the situation of
# a token the policy has learned to avoid but the reference still likes.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "The advantage is the reward minus the group's average." Is that GRPO?
# It is half of it. GRPO also divides by the group's standard deviation {eq}`grpo-advantage`,
# which the notes leave out. Say which std you use: DeepSeekMath's formula is the population
# std, while `tensor.std()` in PyTorch is the sample std by default; on the errata's rewards
# $[1,0,0,1]$ that is the difference between $\pm1$ and $\pm0.866$ (checked above). Dr. GRPO
# {cite}`liu2025understanding` argues the division should go (Experiment 2).
# :::
#
# :::{dropdown} Where does the KL penalty go, and with which estimator?
# Into the loss, per token, estimated by k3 {eq}`grpo-k3`, not into the reward as in
# PPO-RLHF. Keeping it out of the reward keeps the advantage a pure function of the task
# reward, which the group normalisation would otherwise mix with a KL that differs from
# response to response. DAPO {cite}`yu2025dapo` drops the KL term altogether: with a
# verifiable reward there is no learned reward model to exploit, and reasoning runs are meant
# to move far from the initial model.
# :::
#
# :::{dropdown} k3 estimates KL without bias. Does its gradient estimate KL's gradient?
# No. Differentiating a sample of k3 while the sampled token is held fixed gives
# $\nabla_\theta k_3=(1-x)\nabla_\theta\log\pi_\theta(y)$, whose mean under $\pi_\theta$ is
# $\sum_y(\pi_\theta-\pi_\text{ref})\nabla\log\pi_\theta=-\sum_y\pi_\text{ref}\nabla\log\pi_\theta
# =\nabla_\theta\mathrm{KL}(\pi_\text{ref}\,\|\,\pi_\theta)$: the gradient of the *other* KL
# direction. The sampling distribution depends on $\theta$ too, and autograd on the sample
# misses that part. By the same computation the k1 loss has zero expected gradient, and the
# k2 loss gives $\mathbb E[\log(\pi_\theta/\pi_\text{ref})\nabla\log\pi_\theta]=
# \nabla\mathrm{KL}(\pi_\theta\,\|\,\pi_\text{ref})$, the gradient GRPO's objective asks for
# {cite}`tang2025pitfalls`. Near the reference the two KL directions agree to second order,
# which is why the k3 loss still works as a regulariser. The next cell checks all three
# expected gradients exactly, by enumeration, on the errata's pair.
# :::

# %%
policy_logits = torch.log(pi).clone().requires_grad_(True)  # π = softmax(z) = [0.5, 0.3, 0.2]
expected_loss_gradient = {}
for name in ("k1", "k2", "k3"):
    per_token_k = kl_estimators(policy_logits.log_softmax(0), pi_ref.log())[name]  # (3,)
    # E_π[∇ k(y)] with the sampled token held fixed: weight each token's k by π, no grad on π
    (gradient,) = torch.autograd.grad((pi * per_token_k).sum(), policy_logits)
    expected_loss_gradient[name] = gradient
log_policy = policy_logits.log_softmax(0)
reverse_kl = (log_policy.exp() * (log_policy - pi_ref.log())).sum()  # KL(π ‖ π_ref)
forward_kl = (pi_ref * (pi_ref.log() - log_policy)).sum()  # KL(π_ref ‖ π)
(grad_reverse,) = torch.autograd.grad(reverse_kl, policy_logits, retain_graph=True)
(grad_forward,) = torch.autograd.grad(forward_kl, policy_logits)
check_close(
    "E[∇ k1 loss] = 0",
    expected_loss_gradient["k1"],
    torch.zeros(3, dtype=torch.float64),
    atol=1e-15,
)
check_close(
    "E[∇ k2 loss] = ∇ KL(π ‖ π_ref)", expected_loss_gradient["k2"], grad_reverse, atol=1e-15
)
check_close(
    "E[∇ k3 loss] = ∇ KL(π_ref ‖ π)", expected_loss_gradient["k3"], grad_forward, atol=1e-15
)
k3_per_token = kl_estimators(policy_logits.log_softmax(0), pi_ref.log())["k3"]  # (3,)
k3_jacobian = torch.stack(
    [torch.autograd.grad(k3_per_token[y], policy_logits, retain_graph=True)[0] for y in range(3)]
)  # (3, 3): row y = ∇_z k3(y)
k3_closed_form = (1 - pi_ref / pi)[:, None] * (torch.eye(3, dtype=torch.float64) - pi)
check_close("∇_z k3(y) by autograd vs (1 - x)(e_y - π)", k3_jacobian, k3_closed_form, atol=1e-15)

# %% [markdown]
# :::{dropdown} Why do groups whose rewards are all equal matter so much in practice?
# They cost a full rollout and give no policy gradient ({eq}`grpo-silent`, checked exactly
# above); with $\beta>0$ they only pull the policy back towards the reference. On a benchmark
# the model already solves 95 % of the time, with $G=8$ about two thirds of the groups are
# silent (Check yourself, question 2). DAPO's dynamic sampling over-samples prompts and keeps
# only groups with mixed outcomes; curricula that drop prompts the model always (or never)
# solves do the same at the data level.
# :::
#
# :::{dropdown} What does Dr. GRPO change, and why?
# Two normalisations. (1) The per-response $1/|o_i|$: a wrong answer's negative advantage is
# spread over its tokens, so the longer a wrong answer, the less each of its tokens is pushed
# down, and the policy drifts towards long wrong answers (and short right ones). Dr. GRPO sums
# over tokens and divides by a constant instead; DAPO averages over all tokens of the batch.
# (2) The division by the std, which re-weights prompts by difficulty (Experiment 2). In this
# chapter every response has the same length, so (1) does not arise.
# :::
#
# :::{dropdown} What else did DAPO change?
# Besides dynamic sampling and the token-level average: "clip-higher", a larger upper clip
# bound than lower one, so that unlikely tokens with positive advantage can grow and the
# policy's entropy does not collapse; a shaped penalty for over-long responses; and no KL term
# {cite}`yu2025dapo`.
# :::
#
# :::{dropdown} Did DeepSeek-R1-Zero use a reward model?
# No. It ran GRPO on the base model with rule-based rewards: an accuracy reward (the final
# answer checked against the reference, or code run against tests) and a format reward (the
# reasoning inside the prescribed tags) {cite}`guo2025deepseekr1`. A learned reward model can
# be exploited over a long RL run (reward hacking, [chapter 08](08_reward_hacking.ipynb)); a
# verifier is much harder to fool. DeepSeekMath's original GRPO runs did use a learned
# reward model {cite}`shao2024deepseekmath`.
# :::
#
# :::{dropdown} What about process supervision?
# With a reward per reasoning step instead of one per response, DeepSeekMath normalises all
# step rewards of the group together and gives each token the sum of the normalised rewards of
# the steps that end at or after it, a reward-to-go {cite}`shao2024deepseekmath`.
# :::
#
# :::{dropdown} How many updates per batch, and does the clip matter?
# DeepSeekMath took a single gradient step per batch of samples, so $\rho=1$ at the step and
# the clip never acts: GRPO is then REINFORCE with a group baseline and a KL term (checked
# above). Clipping matters once a batch is reused for several steps or split into
# mini-batches, as in DAPO or in Experiment 1 (2 steps; the share of clipped tokens is printed
# above).
# :::
#
# :::{dropdown} Sampling at a temperature other than 1?
# Then the policy that produced the samples is $\operatorname{softmax}(\text{logits}/\tau)$,
# and $\pi_{\theta_\text{old}}$, $\pi_\theta$ and the KL must all be computed at the same
# $\tau$; log-probabilities at $\tau=1$ for samples drawn at $\tau<1$ make the ratio and the
# k3 estimate wrong from the first step.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A group of $G=8$ has one right answer and seven wrong ones (0/1 reward, population std).
#    What are the advantages? What are they for seven right and one wrong?
#
#    :::{dropdown} Answer
#    $\bar r=1/8$, $s=\sqrt{\tfrac18\cdot\tfrac78}=\sqrt7/8$. The right answer gets
#    $(7/8)/(\sqrt7/8)=\sqrt7\approx2.65$, each wrong one $-(1/8)/(\sqrt7/8)=-1/\sqrt7\approx
#    -0.378$. With seven right the signs and roles swap: the wrong one gets $-\sqrt7$, each
#    right one $1/\sqrt7$. The rare outcome gets the large advantage. The next cell checks it.
#    :::

# %%
one_right = torch.tensor([[1.0] + [0.0] * 7], dtype=torch.float64)
root_7 = math.sqrt(7)
check_close(
    "one right of 8: advantages √7 and -1/√7",
    group_advantages(one_right, eps=0.0),
    torch.tensor([[root_7] + [-1 / root_7] * 7], dtype=torch.float64),
    atol=1e-15,
)
check_close(
    "seven right of 8: advantages 1/√7 and -√7",
    group_advantages(1 - one_right, eps=0.0),
    torch.tensor([[-root_7] + [1 / root_7] * 7], dtype=torch.float64),
    atol=1e-15,
)

# %% [markdown]
# 2. The model solves 95 % of the training prompts (each with $p=0.95$). With $G=8$, what
#    share of groups gives no policy gradient? And with $G=16$?
#
#    :::{dropdown} Answer
#    By {eq}`grpo-silent`, $0.95^8+0.05^8\approx0.663$ and $0.95^{16}+0.05^{16}\approx0.440$.
#    Doubling $G$ buys signal from more prompts, at twice the rollout cost. The next cell
#    checks the formula by simulating 20,000 groups.
#    :::

# %%
for group_size, expected in [(8, 0.95**8 + 0.05**8), (16, 0.95**16 + 0.05**16)]:
    outcomes = rng.random((20_000, group_size)) < 0.95  # (n_groups, G): right or wrong
    silent = outcomes.all(axis=1) | (~outcomes).all(axis=1)
    check_mean_close(
        f"G = {group_size}: share of silent groups = {expected:.3f}",
        silent.astype(float),
        expected,
        z_max=4.0,
    )

# %% [markdown]
# 3. You log a GRPO run with one gradient step per batch and $\beta=0$. The loss is zero at
#    every step, up to rounding. Is the training broken?
#
#    :::{dropdown} Answer
#    Not necessarily. At the step, $\rho=1$, so the loss is minus the mean of the advantages,
#    and group-centred advantages sum to zero in every group (the same number of tokens in
#    each response makes the token average zero too). The *value* is zero; the *gradient*,
#    $\frac1G\sum_i\hat A_i\nabla\log\pi_\theta(o_i)$, is not. With $\beta>0$ the logged loss
#    is $\beta$ times the k3 estimate of KL. Watch the reward, the KL and the share of silent
#    groups, not the loss.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`shao2024deepseekmath`, Section 4.1: GRPO, its objective with the clipped ratio
#   and the per-token KL estimate in the loss, outcome and process supervision; Section 4.2:
#   the training settings (a single update per batch of samples).
# - {cite:t}`schulman2020approximating`: the k1, k2 and k3 estimators, k3 as k1 plus a
#   control variate, and k2's small bias.
# - {cite:t}`schulman2017proximal`: the clipped surrogate that GRPO keeps.
# - {cite:t}`williams1992simple`: the score-function gradient and baselines.
# - {cite:t}`kool2019buy` and {cite:t}`ahmadian2024back` (RLOO): the leave-one-out baseline
#   from the other samples of the same prompt.
# - {cite:t}`liu2025understanding` (Dr. GRPO): the length and difficulty biases of the
#   $1/|o_i|$ average and the std division.
# - {cite:t}`yu2025dapo` (DAPO): dynamic sampling, clip-higher, the token-level average,
#   overlong shaping, no KL term.
# - {cite:t}`guo2025deepseekr1`: DeepSeek-R1-Zero, GRPO with rule-based accuracy and format
#   rewards.
# - {cite:t}`tang2025pitfalls`: the gradient of a KL estimate used as a loss is not the
#   gradient of the KL.

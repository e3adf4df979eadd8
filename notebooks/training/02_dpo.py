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
# # 02. Direct preference optimisation (DPO)
#
# **The question.** What is Direct Preference Optimisation (DPO)? What loss does it minimise,
# where does that loss come from, and what does it do to a model in practice? (The notes' ML 24,
# and the DPO half of Training 1, "What are SFT and DPO?".)
#
# **What you will be able to answer.** The derivation from the KL-regularised reward objective
# to the DPO loss, step by step; why the loss starts at $\log 2$ and what its gradient is; why
# the log-probabilities are sums over response tokens; what the implicit reward, the margin and
# the reward accuracy measure; and why DPO on a fixed set of pairs can make a model worse while
# the same loss on pairs sampled from the current model makes it better.

# %%
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import scipy.optimize
import torch
import torch.nn.functional as F

from notebook_utils import rl
from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.gpt import GPT
from notebook_utils.nn import count_parameters
from notebook_utils.rl import (
    SortTask,
    greedy_exact_match,
    response_logprobs,
    sample_responses,
    sft_loss,
    train_sft,
)
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
cpu_start = time.process_time()

# %% [markdown]
# ## Short answer
#
# - **The loss.** Given preference pairs $(x, y_w, y_l)$ (prompt, preferred or "chosen"
#   response, dispreferred or "rejected" response), a frozen reference policy $\pi_\text{ref}$
#   (the SFT model) and $\beta>0$ (typically 0.1), DPO minimises
#   $$\mathcal L_\text{DPO}(\theta)=-\mathbb E\Big[\log\sigma\Big(
#   \beta\log\tfrac{\pi_\theta(y_w\mid x)}{\pi_\text{ref}(y_w\mid x)}
#   -\beta\log\tfrac{\pi_\theta(y_l\mid x)}{\pi_\text{ref}(y_l\mid x)}\Big)\Big],$$
#   a logistic loss on the difference of two *implicit rewards*
#   $\hat r_\theta=\beta\log\pi_\theta/\pi_\text{ref}$. Each $\log\pi(y\mid x)$ is the **sum**
#   of the response tokens' log-probabilities; prompt tokens do not count.
# - **Where it comes from.** RLHF maximises $\mathbb E[r]-\beta\,\mathrm{KL}(\pi\|\pi_\text{ref})$.
#   That objective has a closed-form optimum, $\pi^*\propto\pi_\text{ref}\,e^{r/\beta}$, so the
#   reward can be written through the policy,
#   $r=\beta\log\pi^*/\pi_\text{ref}+\beta\log Z(x)$. Under the Bradley–Terry model only reward
#   *differences* matter, the unknown $Z(x)$ cancels, and fitting the preferences by maximum
#   likelihood becomes a loss on the policy itself. DPO solves the same objective as RLHF; it is
#   "RL-free" only in that it samples nothing and trains no separate reward model.
# - **The gradient** is
#   $-\beta\,\sigma(\hat r_l-\hat r_w)\,(\nabla\log\pi_\theta(y_w)-\nabla\log\pi_\theta(y_l))$:
#   raise the chosen, lower the rejected, weighted by how wrongly the pair is ranked now.
# - **At the start** $\pi_\theta=\pi_\text{ref}$, both implicit rewards are 0, and the loss is
#   $-\log\sigma(0)=\log 2\approx0.693$, not 0; its derivatives with respect to the two
#   log-probabilities are $\mp\beta/2$ per pair, not zero.
# - **The notes are wrong** on three counts. Their "loss" $\log\frac{P_\theta(y_w)}{P_\theta(y_l)}
#   -\log\frac{P_\text{ref}(y_w)}{P_\text{ref}(y_l)}$ is the β-free margin, the argument of the
#   sigmoid: it has no $-\log\sigma$ and no $\beta$. Minimising it pushes probability *toward
#   the rejected answer* and never stops (it is unbounded below). And the initial loss is
#   $\log 2$, not 0.
# - **In practice** DPO is offline: it only sees the pairs it is given. In the experiment below
#   on a sorting task, fixed pairs made the model worse, while pairs whose rejected answer is
#   sampled from the *current* model made it much better. Where it sits (Training 1): pre-train
#   → SFT ([chapter 01](01_sft.ipynb), the loss on response tokens only) → preference
#   optimisation, with the SFT model as $\pi_\text{ref}$.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x$, $y$ | a prompt and a response (token sequences) | `prompts` (B, P), `responses` (B, T) |
# | $y_w$, $y_l$ | the preferred (chosen) and the rejected response | `chosen`, `rejected` |
# | $\pi_\theta(y\mid x)$ | the policy being trained, a language model | `policy` |
# | $\pi_\text{ref}(y\mid x)$ | the frozen reference, usually the SFT model | `reference` |
# | $r(x,y)$ | a reward: how good $y$ is as an answer to $x$ | `rewards` |
# | $\beta>0$ | strength of the KL penalty (the "temperature") | `beta` |
# | $Z(x)$ | the partition function of the optimal policy | `log_partition` |
# | $\sigma(u)=1/(1+e^{-u})$ | the logistic function | `torch.sigmoid` |
# | $\hat r_\theta$ | the implicit reward, {eq}`dpo-loss` | `implicit_reward` |
#
# ### 1. The objective that RLHF and DPO share
#
# RLHF {cite}`christiano2017deep,ziegler2019fine,stiennon2020learning,ouyang2022training`
# looks for the policy with the highest expected reward that stays close to the reference:
#
# $$
# \max_\pi\ \mathbb E_{x\sim\mathcal D}\Big[\,\mathbb E_{y\sim\pi(\cdot\mid x)}\,r(x,y)
# -\beta\,\mathrm{KL}\big(\pi(\cdot\mid x)\,\|\,\pi_\text{ref}(\cdot\mid x)\big)\Big],
# \qquad \mathrm{KL}(\pi\|\pi_\text{ref})=\sum_y\pi(y)\log\frac{\pi(y)}{\pi_\text{ref}(y)}.
# $$ (dpo-objective)
#
# Without the KL term the maximiser would put all its mass on the highest-reward response (and
# exploit every flaw of a learned reward); $\beta$ sets how far from $\pi_\text{ref}$ the policy
# may go. Nothing couples different prompts, so the problem splits into one problem per $x$.
#
# ### 2. Its optimum in closed form
#
# Fix $x$ (and drop it from the notation). Define
#
# $$
# Z=\sum_y\pi_\text{ref}(y)\,e^{r(y)/\beta},\qquad
# \pi^*(y)=\frac{1}{Z}\,\pi_\text{ref}(y)\,e^{r(y)/\beta}.
# $$ (dpo-optimal)
#
# $\pi^*$ is a probability distribution (positive, and it sums to 1 by the choice of $Z$).
# Taking logarithms, $r(y)=\beta\log\frac{\pi^*(y)}{\pi_\text{ref}(y)}+\beta\log Z$ for every
# $y$. Substitute this into the objective for any policy $\pi$:
#
# $$
# \mathbb E_{\pi}[r]-\beta\,\mathrm{KL}(\pi\|\pi_\text{ref})
# =\beta\,\mathbb E_\pi\Big[\log\frac{\pi^*}{\pi_\text{ref}}\Big]+\beta\log Z
# -\beta\,\mathbb E_\pi\Big[\log\frac{\pi}{\pi_\text{ref}}\Big]
# =\beta\log Z-\beta\,\mathrm{KL}(\pi\|\pi^*).
# $$ (dpo-gibbs)
#
# The first term does not depend on $\pi$, and $\mathrm{KL}(\pi\|\pi^*)\ge0$ with equality only
# at $\pi=\pi^*$ (Gibbs' inequality). So $\pi^*$ is the unique maximiser, and the maximum is
# $\beta\log Z$. This is the Gibbs variational principle. The same answer comes from a
# Lagrangian: maximise $\sum_y\pi(y)r(y)-\beta\sum_y\pi(y)\log\frac{\pi(y)}{\pi_\text{ref}(y)}
# +\lambda(\sum_y\pi(y)-1)$. Setting the derivative in $\pi(y)$ to zero,
# $r(y)-\beta\log\frac{\pi(y)}{\pi_\text{ref}(y)}-\beta+\lambda=0$, gives
# $\pi(y)\propto\pi_\text{ref}(y)e^{r(y)/\beta}$, with $\lambda$ fixed by normalisation. The
# objective is strictly concave in $\pi$, so this stationary point is the maximum. As
# $\beta\to0$, $\pi^*$ concentrates on the best responses in the support of $\pi_\text{ref}$;
# as $\beta\to\infty$, $\pi^*\to\pi_\text{ref}$ (Experiment 1).
#
# ### 3. The reward, written through the policy
#
# Solving {eq}`dpo-optimal` for $r$:
#
# $$
# r(x,y)=\beta\log\frac{\pi^*(y\mid x)}{\pi_\text{ref}(y\mid x)}+\beta\log Z(x).
# $$ (dpo-reward)
#
# $Z(x)$ is a sum over every possible response, hopeless to compute for a language model. But it
# depends on the prompt only, and the next step uses reward *differences* between two responses
# to the same prompt.
#
# ### 4. Bradley–Terry preferences: $Z$ cancels
#
# The Bradley–Terry model {cite}`bradley1952rank`, the model behind RLHF's reward training, says
# a labeller prefers $y_w$ to $y_l$ with probability
#
# $$
# p(y_w\succ y_l\mid x)=\sigma\big(r(x,y_w)-r(x,y_l)\big).
# $$ (dpo-bt)
#
# Insert {eq}`dpo-reward` for both rewards; the $\beta\log Z(x)$ terms cancel:
#
# $$
# p(y_w\succ y_l\mid x)=\sigma\Big(\beta\log\frac{\pi^*(y_w\mid x)}{\pi_\text{ref}(y_w\mid x)}
# -\beta\log\frac{\pi^*(y_l\mid x)}{\pi_\text{ref}(y_l\mid x)}\Big).
# $$ (dpo-bt-policy)
#
# The preference probability is now a function of the optimal *policy*, with no reward and no
# $Z$ in sight.
#
# ### 5. The DPO loss
#
# Put a parametric policy $\pi_\theta$ in the place of $\pi^*$ and fit the observed preferences
# by maximum likelihood, i.e. minimise the negative log-likelihood of the labels
# {cite}`rafailov2023direct`:
#
# $$
# \mathcal L_\text{DPO}(\theta)=-\mathbb E_{(x,y_w,y_l)\sim\mathcal D}\Big[\log\sigma\big(
# \hat r_\theta(x,y_w)-\hat r_\theta(x,y_l)\big)\Big],
# \qquad
# \hat r_\theta(x,y)=\beta\log\frac{\pi_\theta(y\mid x)}{\pi_\text{ref}(y\mid x)}.
# $$ (dpo-loss)
#
# $\hat r_\theta$ is the *implicit reward*: the reward for which $\pi_\theta$ would be the
# optimal policy, {eq}`dpo-reward` without its $Z$ term. The difference
# $m=\hat r_\theta(x,y_w)-\hat r_\theta(x,y_l)$ is the *margin*, and the fraction of pairs with
# $m>0$ is the *reward accuracy*. This is the same logistic loss that trains an RLHF reward
# model, applied to the implicit reward, so the policy *is* the reward model.
#
# For a language model, $\pi(y\mid x)$ is the probability of the whole response, a product over
# its tokens, so its logarithm is a **sum** (the prompt $x$ is conditioned on, never scored):
#
# $$
# \log\pi(y\mid x)=\sum_{t=1}^{|y|}\log\pi(y_t\mid x,y_{<t}).
# $$ (dpo-seq-logp)
#
# A per-token *mean* is not the log-probability of anything; it would change the objective (and
# the distribution it sums to is not normalised, checked below).
#
# ### 6. The value at the start and the gradient
#
# DPO starts from $\pi_\theta=\pi_\text{ref}$. Then both implicit rewards are 0, $m=0$, and the
# loss is $-\log\sigma(0)=\log 2\approx0.6931$ for every pair, whatever the data. Since
# $\frac{d}{dm}\big[-\log\sigma(m)\big]=-(1-\sigma(m))=-\sigma(-m)$ and
# $\nabla_\theta m=\beta\big(\nabla_\theta\log\pi_\theta(y_w\mid x)-\nabla_\theta\log\pi_\theta
# (y_l\mid x)\big)$ ($\pi_\text{ref}$ is frozen), the chain rule gives
#
# $$
# \nabla_\theta\mathcal L_\text{DPO}=-\beta\,\mathbb E\Big[\sigma\big(\hat r_\theta(x,y_l)
# -\hat r_\theta(x,y_w)\big)\Big(\nabla_\theta\log\pi_\theta(y_w\mid x)
# -\nabla_\theta\log\pi_\theta(y_l\mid x)\Big)\Big].
# $$ (dpo-grad)
#
# A gradient step raises $\log\pi_\theta(y_w\mid x)$ and lowers $\log\pi_\theta(y_l\mid x)$,
# weighted by $\sigma(\hat r_l-\hat r_w)$: close to 1 for a pair the implicit reward ranks the
# wrong way round, close to 0 for a pair it already ranks right by a wide margin. At the start
# the weight is $\sigma(0)=\tfrac12$, so per pair
# $\partial\mathcal L/\partial\log\pi_\theta(y_w)=-\beta/2$ and
# $\partial\mathcal L/\partial\log\pi_\theta(y_l)=+\beta/2$: the gradient is not zero, which is
# why training moves at all (the notes' "the loss starts at zero, but gradient updates still
# occur" has it backwards). Note what the gradient does *not* contain: nothing ties
# $\log\pi_\theta(y_w)$ to any level. Only the difference is trained, so both log-probabilities
# may fall, as long as the rejected one falls faster.
#
# ### 7. With unlimited Bradley–Terry data, DPO recovers $\pi^*$
#
# Suppose the pairs $(y_i,y_j)$ cover every pair of responses, and the label "$y_i$ wins" is
# drawn with the Bradley–Terry probability $p_{ij}=\sigma(r_i-r_j)$ of a true reward $r$. The
# expected loss of one pair is the cross-entropy between the label probability and the model's,
#
# $$
# -p_{ij}\log\sigma(m_{ij})-(1-p_{ij})\log\sigma(-m_{ij}),\qquad
# m_{ij}=\hat r_\theta(y_i)-\hat r_\theta(y_j),
# $$ (dpo-population)
#
# minimised exactly at $\sigma(m_{ij})=p_{ij}$, i.e. $m_{ij}=r_i-r_j$. That holds for all pairs
# only if $\beta\log\frac{\pi_\theta(y_i)}{\pi_\text{ref}(y_i)}=r_i+c$ for one constant $c$:
# $\pi_\theta\propto\pi_\text{ref}e^{r/\beta}=\pi^*$. The population minimiser of the DPO loss
# is the optimum of the RLHF objective {eq}`dpo-objective`. With finite data, or pairs that
# do not cover the responses the policy puts mass on, nothing pins $\pi_\theta$ down off the
# data; that is where the practical problems (Experiment 2) come from.
#
# ### 8. What the notes wrote
#
# The notes give
#
# $$
# N(\theta)=\log\frac{\pi_\theta(y_w\mid x)}{\pi_\theta(y_l\mid x)}
# -\log\frac{\pi_\text{ref}(y_w\mid x)}{\pi_\text{ref}(y_l\mid x)}=\frac{m}{\beta}
# $$ (dpo-notes)
#
# as the loss. It is the margin without $\beta$: the *argument* of $\log\sigma$ in
# {eq}`dpo-loss`, with the wrong sign for a loss. Minimising $N$ lowers
# $\log\pi_\theta(y_w)$ and raises $\log\pi_\theta(y_l)$: it trains toward the dispreferred
# answer. And it has no lower bound: for a softmax policy with logits $z$,
# $\log\pi(y_w)-\log\pi(y_l)=z_w-z_l$ (the normaliser cancels), which is linear in $z$, so
# gradient descent lowers it by the same amount at every step, forever. Its value at the start is
# 0, which is where "the initial loss should be close to zero" comes from; the loss itself
# starts at $\log 2$.

# %% [markdown]
# ## Implementation from scratch
#
# ### Sequence log-probabilities
#
# The per-token log-probabilities $\log\pi(y_t\mid x,y_{<t})$ come from one forward pass over
# $[x;y]$, computed by the shared `response_logprobs` (the logit that predicts $y_t$ sits one
# position before it). {eq}`dpo-seq-logp` sums them over the response; the later chapters use
# the same function.


# %%
def sequence_logprob(model: GPT, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """log π(y | x) for each row, eq. (dpo-seq-logp): the SUM over response tokens, (B,)."""
    return response_logprobs(model, prompts, responses).sum(-1)  # (B, T) -> (B,)


# %% [markdown]
# ### The loss, the implicit reward and the notes' expression
#
# {eq}`dpo-loss` with `F.logsigmoid`, which stays finite for any margin
# (`torch.log(torch.sigmoid(m))` returns $-\infty$ once $\sigma(m)$ underflows, for very
# negative $m$). The function
# takes the four log-probabilities, so the reference's may be precomputed. {eq}`dpo-notes` is
# kept for comparison.


# %%
def implicit_reward(policy_logp: torch.Tensor, ref_logp: torch.Tensor, beta: float) -> torch.Tensor:
    """r̂ = β log π_θ(y|x)/π_ref(y|x), eq. (dpo-loss); same shape as the inputs."""
    return beta * (policy_logp - ref_logp)


def dpo_loss(
    policy_chosen_logp: torch.Tensor,
    policy_rejected_logp: torch.Tensor,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The DPO loss, eq. (dpo-loss), averaged over pairs, and the margins r̂_w - r̂_l, (N,).

    Every argument is a sequence log-probability (a sum over response tokens), shape (N,).
    """
    margin = implicit_reward(policy_chosen_logp, ref_chosen_logp, beta) - implicit_reward(
        policy_rejected_logp, ref_rejected_logp, beta
    )  # (N,)
    return -F.logsigmoid(margin).mean(), margin


def notes_expression(
    policy_chosen_logp: torch.Tensor,
    policy_rejected_logp: torch.Tensor,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
) -> torch.Tensor:
    """The notes' "loss", eq. (dpo-notes): the β-free margin, averaged over pairs. Not a loss."""
    return (
        (policy_chosen_logp - policy_rejected_logp) - (ref_chosen_logp - ref_rejected_logp)
    ).mean()


# %% [markdown]
# ### The gradient in closed form
#
# {eq}`dpo-grad` assembled from its parts: the weights $\sigma(\hat r_l-\hat r_w)$, computed
# from the log-probabilities, times the *score* $\nabla_\theta\log\pi_\theta(y\mid x)$ of each
# chosen and rejected response, taken one response at a time. The Verification section compares
# it with autograd's gradient of `dpo_loss`.


# %%
class PreferencePairs(NamedTuple):
    """A batch of N preference pairs with the reference's sequence log-probabilities."""

    prompts: torch.Tensor  # (N, P)
    chosen: torch.Tensor  # (N, T)
    rejected: torch.Tensor  # (N, T)
    ref_chosen_logp: torch.Tensor  # (N,)
    ref_rejected_logp: torch.Tensor  # (N,)

    def rows(self, index: torch.Tensor) -> "PreferencePairs":
        return PreferencePairs(*(tensor[index] for tensor in self))


def flat_gradient(value: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """∇ value with respect to every parameter, flattened and concatenated, (n_params,)."""
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(value, params)])


def dpo_gradient_closed_form(policy: GPT, pairs: PreferencePairs, beta: float) -> torch.Tensor:
    """∇_θ of the mean DPO loss by eq. (dpo-grad), flattened like `flat_gradient`."""
    params = list(policy.parameters())
    with torch.no_grad():
        reward_chosen = implicit_reward(
            sequence_logprob(policy, pairs.prompts, pairs.chosen), pairs.ref_chosen_logp, beta
        )
        reward_rejected = implicit_reward(
            sequence_logprob(policy, pairs.prompts, pairs.rejected), pairs.ref_rejected_logp, beta
        )
    weights = torch.sigmoid(reward_rejected - reward_chosen)  # (N,): σ(r̂_l - r̂_w)
    gradient = torch.zeros(sum(p.numel() for p in params), dtype=weights.dtype)
    for i, weight in enumerate(weights):
        row = slice(i, i + 1)
        score_chosen = flat_gradient(
            sequence_logprob(policy, pairs.prompts[row], pairs.chosen[row]).sum(), params
        )
        score_rejected = flat_gradient(
            sequence_logprob(policy, pairs.prompts[row], pairs.rejected[row]).sum(), params
        )
        gradient += weight * (score_chosen - score_rejected)
    return -beta * gradient / len(weights)  # the loss is a mean over the N pairs


# %% [markdown]
# ### The optimum on a problem small enough to enumerate
#
# With a handful of possible responses (one prompt), everything in the derivation can be
# computed exactly: the objective {eq}`dpo-objective`, the optimum {eq}`dpo-optimal` (as
# $\operatorname{softmax}(\log\pi_\text{ref}+r/\beta)$, which is the same thing), and the DPO
# loss under unlimited Bradley–Terry data {eq}`dpo-population`, averaged over every ordered pair
# $(i,j)$, $i\ne j$. Summing $-p_{ij}\log\sigma(m_{ij})$ over ordered pairs covers both labels
# of each pair, since $m_{ji}=-m_{ij}$ and $p_{ji}=1-p_{ij}$.


# %%
def kl_regularised_objective(
    probs: torch.Tensor, ref_probs: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """E_π[r] - β KL(π || π_ref) for one prompt, eq. (dpo-objective); probs (..., K)."""
    kl = (torch.xlogy(probs, probs) - probs * ref_probs.log()).sum(-1)  # 0 log 0 = 0
    return (probs * rewards).sum(-1) - beta * kl


def optimal_policy(ref_probs: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """π* = π_ref e^{r/β} / Z, eq. (dpo-optimal), as a softmax of log π_ref + r/β, (K,)."""
    return torch.softmax(ref_probs.log() + rewards / beta, dim=-1)


def population_dpo_loss(
    logits: torch.Tensor, ref_probs: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """The DPO loss under unlimited Bradley–Terry labels, eq. (dpo-population), averaged over
    all ordered pairs (i, j), i ≠ j, for the policy softmax(logits), (K,)."""
    log_ratio = logits.log_softmax(-1) - ref_probs.log()  # (K,)
    margin = beta * (log_ratio[:, None] - log_ratio[None, :])  # (K, K): m_ij
    p_win = torch.sigmoid(rewards[:, None] - rewards[None, :])  # (K, K): p_ij, eq. (dpo-bt)
    off_diagonal = ~torch.eye(len(rewards), dtype=torch.bool)
    return -(p_win * F.logsigmoid(margin))[off_diagonal].mean()


def minimise(fn: Callable[[torch.Tensor], torch.Tensor], x0: np.ndarray) -> np.ndarray:
    """argmin of a scalar torch function of one float64 vector, by scipy's BFGS with
    gradients from autograd."""

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        z = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        value = fn(z)
        (gradient,) = torch.autograd.grad(value, z)
        return value.item(), gradient.numpy()

    result = scipy.optimize.minimize(
        value_and_gradient, x0, jac=True, method="BFGS", options=dict(gtol=1e-11)
    )
    return result.x


# %% [markdown]
# ### Preference pairs for the sorting task
#
# The experiment uses the book's sorting task (`SortTask`: the prompt is a few digits and a
# separator, the correct response is the digits sorted). Two ways to build pairs, both with the
# correct sort as the chosen response:
#
# - **Fixed, synthetic rejected answers.** The rejected answer is a corruption of the correct
#   one: two positions holding different digits are swapped (or, if the two picked positions
#   hold the same digit, that digit is changed), so it is always wrong. The pairs are built once;
#   the reference's log-probabilities are computed once, before training.
# - **Rejected answers sampled from the current policy.** Each step samples one response per
#   prompt from $\pi_\theta$ (temperature 1) and keeps the prompts whose sample is wrong: the
#   sample is the rejected answer. The reference's log-probabilities are computed for these new
#   pairs as they come.


# %%
def corrupt_sorted(chosen: torch.Tensor, generator: torch.Generator, n_digits: int) -> torch.Tensor:
    """A wrong answer for each correct sort (N, T): swap two positions with different digits,
    or change the digit when the two positions picked hold the same one."""
    n, length = chosen.shape
    rows = torch.arange(n)
    first = torch.randint(0, length, (n,), generator=generator)
    second = torch.randint(0, length - 1, (n,), generator=generator)
    second = second + (second >= first)  # a position different from `first`
    first_digit, second_digit = chosen[rows, first], chosen[rows, second]  # (N,), (N,)
    rejected = chosen.clone()
    rejected[rows, first], rejected[rows, second] = second_digit, first_digit
    tie = first_digit == second_digit  # swapping equal digits would change nothing
    shift = torch.randint(1, n_digits, (n,), generator=generator)
    rejected[rows[tie], first[tie]] = (first_digit[tie] + shift[tie]) % n_digits
    return rejected


def pairs_with_reference(
    reference: GPT, prompts: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor
) -> PreferencePairs:
    """Pairs together with the frozen reference's sequence log-probabilities."""
    with torch.no_grad():
        ref_chosen = sequence_logprob(reference, prompts, chosen)
        ref_rejected = sequence_logprob(reference, prompts, rejected)
    return PreferencePairs(prompts, chosen, rejected, ref_chosen, ref_rejected)


def on_policy_pairs(
    policy: GPT, reference: GPT, task: SortTask, n_prompts: int, generator: torch.Generator
) -> PreferencePairs:
    """Pairs whose rejected answer is a wrong sample of the current policy (one sample per
    prompt; prompts whose sample is correct are dropped) and whose chosen answer is correct."""
    prompts = task.prompts(n_prompts, generator)  # (n, P)
    samples = sample_responses(policy, prompts, task.length, generator=generator)  # (n, T)
    wrong = task.reward(prompts, samples) == 0  # (n,)
    prompts = prompts[wrong]
    return pairs_with_reference(reference, prompts, task.solve(prompts), samples[wrong])


# %% [markdown]
# ### The training loop
#
# `train_dpo` takes a function that hands it the next batch of pairs (from a fixed set or
# freshly sampled), computes both responses' log-probabilities in one forward pass of the
# policy, and takes an Adam step on {eq}`dpo-loss`. It records the loss, the margin, the reward
# accuracy and how far the chosen and rejected log-probabilities have moved from the reference's
# on each batch, and every `eval_every` steps the greedy exact match on held-out prompts, the
# task's true objective.


# %%
@dataclass
class DPORun:
    """What `train_dpo` records: one entry per step, and the evaluations."""

    loss: list[float] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)  # mean r̂_w - r̂_l of the batch
    reward_accuracy: list[float] = field(default_factory=list)  # fraction with margin > 0
    chosen_shift: list[float] = field(default_factory=list)  # mean log π_θ(y_w) - log π_ref(y_w)
    rejected_shift: list[float] = field(default_factory=list)  # same for y_l
    n_pairs: list[int] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    exact_match: list[float] = field(default_factory=list)  # greedy, held-out prompts


def train_dpo(
    policy: GPT,
    next_pairs: Callable[[GPT], PreferencePairs],
    *,
    steps: int,
    lr: float,
    beta: float,
    task: SortTask,
    eval_prompts: torch.Tensor,
    eval_every: int,
) -> DPORun:
    """Minimise eq. (dpo-loss) with Adam for `steps` steps; `next_pairs(policy)` gives each
    step's batch."""
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    run = DPORun()
    run.eval_steps.append(0)
    run.exact_match.append(greedy_exact_match(policy, task, eval_prompts))
    for step in range(1, steps + 1):
        pairs = next_pairs(policy)
        n = len(pairs.prompts)
        both = sequence_logprob(  # one forward pass for the chosen and the rejected, (2N,)
            policy, pairs.prompts.repeat(2, 1), torch.cat([pairs.chosen, pairs.rejected])
        )
        chosen_logp, rejected_logp = both[:n], both[n:]
        loss, margin = dpo_loss(
            chosen_logp, rejected_logp, pairs.ref_chosen_logp, pairs.ref_rejected_logp, beta
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        run.loss.append(loss.item())
        run.margin.append(margin.mean().item())
        run.reward_accuracy.append((margin > 0).float().mean().item())
        run.chosen_shift.append((chosen_logp - pairs.ref_chosen_logp).mean().item())
        run.rejected_shift.append((rejected_logp - pairs.ref_rejected_logp).mean().item())
        run.n_pairs.append(n)
        if step % eval_every == 0:
            run.eval_steps.append(step)
            run.exact_match.append(greedy_exact_match(policy, task, eval_prompts))
    return run


# %% [markdown]
# ## Verification
#
# ### Sequence log-probabilities are sums, and they form a distribution
#
# A tiny GPT (one layer, $d=16$) in float64 on a sorting task with 3 digits from $\{0,..,3\}$,
# so that all responses to a prompt can be enumerated. First,
# `sequence_logprob` must equal the log-probability computed the slow way: feed $[x;y_{<t}]$,
# read the last position's next-token distribution, add $\log\pi(y_t\mid x,y_{<t})$, for
# $t=1,\dots,T$. This checks the position offset and that prompt tokens are not scored. Second,
# $\sum_y\pi(y\mid x)=1$ over all responses when $\pi(y\mid x)=\exp$ of the sum; with the
# per-token mean in its place the "probabilities" do not sum to 1.

# %%
tiny_task = SortTask(length=3, n_digits=4)
tiny_reference = GPT(tiny_task.model_config(n_layer=1, d_model=16, n_head=2)).double().eval()
tiny_prompts, tiny_correct = tiny_task.batch(5, torch.Generator().manual_seed(10))  # (5, 4), (5, 3)

token_by_token = torch.zeros(len(tiny_prompts), dtype=torch.float64)
with torch.no_grad():
    for t in range(tiny_task.length):
        context = torch.cat([tiny_prompts, tiny_correct[:, :t]], dim=1)  # (5, P + t)
        next_token = tiny_reference(context)[0][:, -1].log_softmax(-1)  # (5, V)
        token_by_token += next_token.gather(1, tiny_correct[:, t : t + 1]).squeeze(1)
    check_close(
        "sequence_logprob vs token-by-token decoding",
        sequence_logprob(tiny_reference, tiny_prompts, tiny_correct),
        token_by_token,
        atol=1e-12,
    )

# %%
# every token the model can emit, the separator included: 5³ = 125 responses
all_responses = torch.cartesian_prod(*[torch.arange(tiny_task.vocab_size)] * tiny_task.length)
one_prompt = tiny_prompts[:1].expand(len(all_responses), -1)  # (125, P)
with torch.no_grad():
    token_logp = response_logprobs(tiny_reference, one_prompt, all_responses)  # (125, T)
check_close(
    f"Σ_y π(y|x) over all {len(all_responses)} responses (sum of token log-probs)",
    token_logp.sum(-1).exp().sum(),
    torch.tensor(1.0, dtype=torch.float64),
    atol=1e-12,
)
mean_total = token_logp.mean(-1).exp().sum().item()
check_true(
    "with the per-token mean instead, the total is not 1",
    abs(mean_total - 1) > 0.5,
    f"Σ_y exp(mean of token log-probs) = {mean_total:.2f}",
)

# %% [markdown]
# DPO's $\log\pi(y_w\mid x)$ is the same quantity that SFT maximises
# ([chapter 01](01_sft.ipynb)): for equal-length responses, the shared `sft_loss` (mean
# cross-entropy over response tokens) is $-\frac1{T}$ times the mean sequence log-probability.

# %%
with torch.no_grad():
    check_close(
        "sft_loss vs -mean(sequence_logprob) / T",
        sft_loss(tiny_reference, tiny_prompts, tiny_correct),
        -sequence_logprob(tiny_reference, tiny_prompts, tiny_correct).mean() / tiny_task.length,
        atol=1e-12,
    )

# %% [markdown]
# ### The loss against two independent references
#
# {eq}`dpo-loss` is the binary cross-entropy of the label "the chosen wins" (1) against the
# logit $m$. `F.binary_cross_entropy_with_logits(m, 1)` and the negative log-likelihood of a
# Bernoulli distribution with logit $m$ must both equal `dpo_loss`, on random log-probabilities
# that include large margins. So must the book's shared `notebook_utils.rl.dpo_loss`, which
# [chapter 03](03_dpo_vs_rlhf.ipynb) and [chapter 10](10_sft_vs_rl_data.ipynb) use.

# %%
random_logps = [torch.from_numpy(rng.normal(-50, 40, 200)) for _ in range(4)]  # 4 × (200,)
beta = 0.1
loss, margin = dpo_loss(*random_logps, beta)
check_close(
    "dpo_loss vs F.binary_cross_entropy_with_logits(margin, 1)",
    loss,
    F.binary_cross_entropy_with_logits(margin, torch.ones_like(margin)),
    atol=1e-12,
)
bernoulli_nll = -torch.distributions.Bernoulli(logits=margin).log_prob(torch.ones_like(margin))
check_close("dpo_loss vs Bernoulli(logits=margin) NLL", loss, bernoulli_nll.mean(), atol=1e-12)
check_close(
    "dpo_loss vs the shared notebook_utils.rl.dpo_loss",
    loss,
    rl.dpo_loss(*random_logps, beta),
    atol=1e-15,
)

# %% [markdown]
# ### At $\pi_\theta=\pi_\text{ref}$: loss $\log 2$ and gradient $\mp\beta/2$ (errata ML-25)
#
# The policy starts as a copy of the reference, on pairs (correct sort, random response). The
# loss is $\log 2$ whatever the pairs, and equals `-F.logsigmoid(0)`; the notes' expression is
# 0 there. For one pair, autograd's derivative of the loss with respect to the two policy
# log-probabilities must be $-\beta/2=-0.05$ and $+\beta/2=+0.05$ at $\beta=0.1$.

# %%
tiny_rejected = torch.randint(
    0, tiny_task.n_digits, tiny_correct.shape, generator=torch.Generator().manual_seed(11)
)
tiny_pairs = pairs_with_reference(tiny_reference, tiny_prompts, tiny_correct, tiny_rejected)
tiny_policy = copy.deepcopy(tiny_reference)
with torch.no_grad():
    policy_chosen = sequence_logprob(tiny_policy, tiny_prompts, tiny_correct)
    policy_rejected = sequence_logprob(tiny_policy, tiny_prompts, tiny_rejected)
initial_loss, _ = dpo_loss(
    policy_chosen, policy_rejected, tiny_pairs.ref_chosen_logp, tiny_pairs.ref_rejected_logp, beta
)
check_close("initial DPO loss vs log 2", initial_loss, math.log(2), atol=1e-12)
check_close(
    "initial DPO loss vs -F.logsigmoid(0)",
    initial_loss,
    -F.logsigmoid(torch.tensor(0.0, dtype=torch.float64)),
    atol=1e-12,
)
initial_notes = notes_expression(
    policy_chosen, policy_rejected, tiny_pairs.ref_chosen_logp, tiny_pairs.ref_rejected_logp
)
check_close(
    "the notes' expression at the start (it is 0, the loss is not)", initial_notes, 0.0, atol=1e-12
)
print(
    f"initial loss {initial_loss.item():.6f} = log 2; the notes' expression "
    f"{initial_notes.item():.1f}"
)

# %%
one_chosen = policy_chosen[:1].clone().requires_grad_(True)  # a leaf: log π_θ(y_w|x), (1,)
one_rejected = policy_rejected[:1].clone().requires_grad_(True)  # log π_θ(y_l|x), (1,)
one_loss, _ = dpo_loss(
    one_chosen, one_rejected, tiny_pairs.ref_chosen_logp[:1], tiny_pairs.ref_rejected_logp[:1], beta
)
d_chosen, d_rejected = torch.autograd.grad(one_loss, [one_chosen, one_rejected])
check_close(
    "∂L/∂log π_θ(y_w) at the start vs -β/2",
    d_chosen,
    torch.tensor([-beta / 2], dtype=torch.float64),
    atol=1e-12,
)
check_close(
    "∂L/∂log π_θ(y_l) at the start vs +β/2",
    d_rejected,
    torch.tensor([beta / 2], dtype=torch.float64),
    atol=1e-12,
)
print(
    f"β = {beta}: ∂L/∂log π(y_w) = {d_chosen.item():+.4f}, "
    f"∂L/∂log π(y_l) = {d_rejected.item():+.4f}"
)

# %% [markdown]
# ### The full parameter gradient against the closed form {eq}`dpo-grad`
#
# Away from the start, so that the weights $\sigma(\hat r_l-\hat r_w)$ differ from pair to pair:
# the policy's weights are perturbed, then autograd's gradient of `dpo_loss` with respect to
# every parameter of the GPT is compared with `dpo_gradient_closed_form`, in float64.

# %%
with torch.no_grad():
    for p in tiny_policy.parameters():
        p.add_(0.3 * torch.randn_like(p))
tiny_params = list(tiny_policy.parameters())
autograd_loss, tiny_margin = dpo_loss(
    sequence_logprob(tiny_policy, tiny_prompts, tiny_correct),
    sequence_logprob(tiny_policy, tiny_prompts, tiny_rejected),
    tiny_pairs.ref_chosen_logp,
    tiny_pairs.ref_rejected_logp,
    beta,
)
autograd_gradient = flat_gradient(autograd_loss, tiny_params)
closed_form_gradient = dpo_gradient_closed_form(tiny_policy, tiny_pairs, beta)
pair_weights = torch.sigmoid(-tiny_margin.detach())
print(
    f"{autograd_gradient.numel()} parameters; weights σ(r̂_l - r̂_w) from "
    f"{pair_weights.min():.3f} to {pair_weights.max():.3f}"
)
check_close(
    "∇θ DPO loss: autograd vs closed form eq. (dpo-grad), all parameters",
    autograd_gradient,
    closed_form_gradient,
    atol=1e-12,
)

# %% [markdown]
# ### The closed-form optimum on an enumerable problem
#
# One prompt with $K=6$ possible responses, a random reference $\pi_\text{ref}$, a random reward
# and $\beta=0.5$. Three checks of Section 2 and Section 7:
#
# 1. The identity {eq}`dpo-gibbs`, $J(\pi)=\beta\log Z-\beta\,\mathrm{KL}(\pi\|\pi^*)$, for a
#    thousand random policies (so none beats $\pi^*$).
# 2. A direct numerical maximisation of $J$ over the softmax logits (BFGS) lands on
#    $\pi^*=\pi_\text{ref}e^{r/\beta}/Z$.
# 3. Minimising the DPO loss under unlimited Bradley–Terry data {eq}`dpo-population`, which
#    never sees $r$ except through the preference probabilities, lands on the same $\pi^*$.

# %%
K, small_beta = 6, 0.5
ref_probs = torch.from_numpy(rng.dirichlet(np.ones(K)))  # (K,)
rewards = torch.from_numpy(rng.normal(0.0, 1.0, K))  # (K,)
pi_star = optimal_policy(ref_probs, rewards, small_beta)  # eq. (dpo-optimal)
log_partition = torch.logsumexp(ref_probs.log() + rewards / small_beta, dim=-1)  # log Z

random_policies = torch.from_numpy(rng.dirichlet(np.ones(K), size=1000))  # (1000, K)
objective_values = kl_regularised_objective(random_policies, ref_probs, rewards, small_beta)
kl_to_optimum = (random_policies * (random_policies.log() - pi_star.log())).sum(-1)
check_close(
    "J(π) vs β log Z - β KL(π || π*), eq. (dpo-gibbs), 1000 random π",
    objective_values,
    small_beta * log_partition - small_beta * kl_to_optimum,
    atol=1e-12,
)
optimum_value = kl_regularised_objective(pi_star, ref_probs, rewards, small_beta)
check_close("J(π*) vs β log Z", optimum_value, small_beta * log_partition, atol=1e-12)
check_true(
    "no random policy beats π*",
    bool((objective_values < optimum_value).all()),
    f"best random J = {objective_values.max():.4f} < J(π*) = {optimum_value:.4f}",
)

# %%
direct_logits = minimise(
    lambda z: -kl_regularised_objective(z.softmax(-1), ref_probs, rewards, small_beta), np.zeros(K)
)
check_close(
    "argmax of J by BFGS vs π* = π_ref e^{r/β} / Z",
    torch.from_numpy(direct_logits).softmax(-1),
    pi_star,
    atol=1e-7,
)
dpo_logits = minimise(lambda z: population_dpo_loss(z, ref_probs, rewards, small_beta), np.zeros(K))
check_close(
    "argmin of the DPO loss with unlimited Bradley–Terry data vs π*",
    torch.from_numpy(dpo_logits).softmax(-1),
    pi_star,
    atol=1e-7,
)

# %% [markdown]
# ### The notes' expression is unbounded below and favours the rejected answer
#
# Gradient descent on the notes' expression {eq}`dpo-notes` for one pair of the same
# 6-response problem (chosen: the highest-reward response; rejected: the lowest), starting at
# $\pi_\text{ref}$ with step size $\eta=0.1$. Since $N$ is $z_w-z_l$ plus a constant, its
# gradient is the constant vector $e_w-e_l$, so after $s$ steps $N=-2\eta s$ exactly: no lower
# bound. The same descent on the DPO loss does the opposite to the two probabilities.

# %%
chosen_index, rejected_index = int(rewards.argmax()), int(rewards.argmin())
NOTES_STEPS, NOTES_LR = 200, 0.1
ref_log_probs = ref_probs.log()
descent = {}
for name in ("notes", "DPO"):
    logits = ref_log_probs.clone().requires_grad_(True)  # start at π_θ = π_ref
    for _ in range(NOTES_STEPS):
        log_probs = logits.log_softmax(-1)
        args = (
            log_probs[chosen_index],
            log_probs[rejected_index],
            ref_log_probs[chosen_index],
            ref_log_probs[rejected_index],
        )
        value = notes_expression(*args) if name == "notes" else dpo_loss(*args, beta)[0]
        (gradient,) = torch.autograd.grad(value, logits)
        with torch.no_grad():
            logits -= NOTES_LR * gradient
    final_probs = logits.detach().softmax(-1)
    descent[name] = final_probs
    final_args = (
        final_probs[chosen_index].log(),
        final_probs[rejected_index].log(),
        ref_log_probs[chosen_index],
        ref_log_probs[rejected_index],
    )
    final_value = (
        notes_expression(*final_args) if name == "notes" else dpo_loss(*final_args, beta)[0]
    )
    if name == "notes":
        check_close(
            f"notes' expression after {NOTES_STEPS} steps vs -2ηs",
            final_value,
            -2 * NOTES_LR * NOTES_STEPS,
            atol=1e-9,
        )
    print(
        f"{name:>5}: value {final_value.item():8.3f};  π(y_w) {ref_probs[chosen_index]:.3f} → "
        f"{final_probs[chosen_index]:.2e},  π(y_l) {ref_probs[rejected_index]:.3f} → "
        f"{final_probs[rejected_index]:.2e}"
    )
check_true(
    "minimising the notes' expression lowers π(y_w) and raises π(y_l)",
    bool(
        descent["notes"][chosen_index] < 1e-6 * ref_probs[chosen_index]
        and descent["notes"][rejected_index] > ref_probs[rejected_index]
    ),
)
check_true(
    "minimising the DPO loss raises π(y_w) and lowers π(y_l)",
    bool(
        descent["DPO"][chosen_index] > ref_probs[chosen_index]
        and descent["DPO"][rejected_index] < ref_probs[rejected_index]
    ),
)

# %% [markdown]
# The same happens to a real language model. Twenty Adam steps on the notes' expression with the
# tiny GPT (started again from the reference, the five pairs above): the expression falls with
# no floor in sight, and the log-probability of every *chosen* sort drops.

# %%
notes_policy = copy.deepcopy(tiny_reference).train()
notes_optimizer = torch.optim.Adam(notes_policy.parameters(), lr=1e-2)
notes_values = []
for _ in range(20):
    value = notes_expression(
        sequence_logprob(notes_policy, tiny_prompts, tiny_correct),
        sequence_logprob(notes_policy, tiny_prompts, tiny_rejected),
        tiny_pairs.ref_chosen_logp,
        tiny_pairs.ref_rejected_logp,
    )
    notes_optimizer.zero_grad()
    value.backward()
    notes_optimizer.step()
    notes_values.append(value.item())
with torch.no_grad():
    chosen_drop = (
        sequence_logprob(notes_policy, tiny_prompts, tiny_correct) - tiny_pairs.ref_chosen_logp
    )
check_true(
    "the notes' expression is still falling at step 20, and every chosen log-prob fell",
    bool(notes_values[-1] < notes_values[-6] < notes_values[0] and (chosen_drop < 0).all()),
    f"value {notes_values[0]:.2f} → {notes_values[-1]:.2f}; "
    f"Δ log π(y_w) from {chosen_drop.min():.2f} to {chosen_drop.max():.2f}",
)

# %% [markdown]
# ## Experiments
#
# ### 1. What $\beta$ does to the optimum
#
# $\pi^*=\pi_\text{ref}e^{r/\beta}/Z$ for the 6-response problem of the Verification section, for
# several $\beta$, with the KL from the reference and the expected reward of each. The DPO
# minimiser with unlimited Bradley–Terry data is recomputed at each $\beta$ and must agree with
# the closed form.

# %%
BETAS = (0.05, 0.2, 0.5, 2.0, 10.0)
optima, recovered_optima = {}, {}
for beta_value in BETAS:
    closed_form = optimal_policy(ref_probs, rewards, beta_value)
    recovered = torch.from_numpy(
        minimise(lambda z, b=beta_value: population_dpo_loss(z, ref_probs, rewards, b), np.zeros(K))
    ).softmax(-1)
    optima[beta_value], recovered_optima[beta_value] = closed_form, recovered
    kl = (closed_form * (closed_form.log() - ref_probs.log())).sum().item()
    print(
        f"β = {beta_value:>5}: E[r] = {(closed_form * rewards).sum():+.3f}, "
        f"KL(π*||π_ref) = {kl:.3f}, π*(best response) = {closed_form[chosen_index]:.3f}"
    )
print(f"reference: E[r] = {(ref_probs * rewards).sum():+.3f}; best reward {rewards.max():+.3f}")
check_close(
    f"DPO with unlimited BT data recovers π* at β = {', '.join(map(str, BETAS))}",
    torch.stack(list(recovered_optima.values())),
    torch.stack(list(optima.values())),
    atol=1e-6,
)

# %%
fig, ax = plt.subplots(figsize=(9, 4))
order = torch.argsort(rewards).numpy()  # responses from the worst to the best
width = 0.8 / (len(BETAS) + 1)
positions = np.arange(K)
ax.bar(positions - 0.4 + width / 2, ref_probs[order], width, color="0.6", label=r"$\pi_{ref}$")
for i, beta_value in enumerate(BETAS):
    ax.bar(
        positions - 0.4 + (i + 1.5) * width,
        optima[beta_value][order],
        width,
        color=PALETTE[i],
        label=rf"$\pi^*$, $\beta$ = {beta_value:g}",
    )
ax.set_xticks(positions, [f"{rewards[j]:+.2g}" for j in order])
ax.set(
    xlabel="response, labelled by its reward r (sorted)",
    ylabel="probability",
    title=r"Small $\beta$ piles $\pi^*$ onto the best response; large $\beta$ keeps "
    r"$\pi_{ref}$",
)
ax.legend(ncols=2)
plt.show()

# %% [markdown]
# ### 2. DPO on the sorting task: fixed pairs vs pairs from the current model
#
# The task is `SortTask(length=4)` (4 digits from 0–9; shorter than the default 6, so that the
# three runs below fit in the notebook's time budget) with the book's default policy (2 layers,
# 4 heads, $d=64$). It is first trained by SFT for a few steps, to roughly half exact match:
# that checkpoint is $\pi_\text{ref}$ and the starting policy. The true objective is the greedy
# exact match on 1000 held-out prompts drawn with their own generator seed. (With $10^4$
# possible prompts, some evaluation prompts also occur in training; that is the same for every
# run.)

# %%
task = SortTask(length=4)
SFT_STEPS, BETA, LR, STEPS, EVAL_EVERY = 25, 0.1, 1e-3, 80, 20
eval_prompts = task.prompts(1000, torch.Generator().manual_seed(2))  # held out: own seed
torch.manual_seed(0)  # the policy's initial weights
sft_model = GPT(task.model_config())
untrained_exact_match = greedy_exact_match(sft_model, task, eval_prompts)
train_sft(sft_model, task, steps=SFT_STEPS, generator=torch.Generator().manual_seed(1))
reference = copy.deepcopy(sft_model).eval().requires_grad_(False)  # frozen π_ref
sft_exact_match = greedy_exact_match(sft_model, task, eval_prompts)
print(
    f"greedy exact match {untrained_exact_match:.3f} untrained → {sft_exact_match:.3f} after "
    f"{SFT_STEPS} SFT steps (the checkpoint); {count_parameters(sft_model):,} parameters"
)

# %% [markdown]
# Three recipes, each for 80 Adam steps at learning rate $10^{-3}$ with $\beta=0.1$, each
# starting from the SFT checkpoint:
#
# - **(a) fixed, synthetic:** 2048 fixed pairs, rejected = a corruption of the correct sort
#   (`corrupt_sorted`), 32 pairs per step.
# - **(a′) fixed, sampled once:** 2048 prompts with one sample each from $\pi_\text{ref}$, keeping
#   the wrong ones: the rejected answers are the SFT model's own mistakes, but collected once,
#   before training, as an offline data set would be. 32 pairs per step. Comparing it with (a)
#   and (b) separates *what* the rejected answers look like from *when* they were sampled.
# - **(b) on-policy:** every step samples 64 prompts from the current policy and uses every
#   wrong sample as a rejected answer (about as many pairs per step as (a), fewer as the policy
#   improves).
#
# The chosen answer is always the correct sort. The reference's log-probabilities are
# precomputed for (a) and (a′); for (b) they are computed for each new batch, so the frozen
# reference stays in memory next to the policy.

# %%
fixed_generator = torch.Generator().manual_seed(3)
fixed_prompts = task.prompts(2048, fixed_generator)
fixed_correct = task.solve(fixed_prompts)
synthetic_pairs = pairs_with_reference(
    reference,
    fixed_prompts,
    fixed_correct,
    corrupt_sorted(fixed_correct, fixed_generator, task.n_digits),
)
reference_samples = sample_responses(
    reference, fixed_prompts, task.length, generator=fixed_generator
)
wrong_samples = task.reward(fixed_prompts, reference_samples) == 0
sampled_once_pairs = pairs_with_reference(
    reference,
    fixed_prompts[wrong_samples],
    fixed_correct[wrong_samples],
    reference_samples[wrong_samples],
)
check_equal(
    "every synthetic rejected answer is wrong",
    task.reward(synthetic_pairs.prompts, synthetic_pairs.rejected).sum(),
    0.0,
)
print(
    f"(a) {len(synthetic_pairs.prompts)} synthetic pairs; (a′) {len(sampled_once_pairs.prompts)}"
    f" pairs from the SFT model's wrong samples"
)
print(
    "mean log π_ref(y_l) of the rejected answers: "
    f"synthetic {synthetic_pairs.ref_rejected_logp.mean():.2f}, "
    f"the SFT model's own mistakes {sampled_once_pairs.ref_rejected_logp.mean():.2f} "
    f"(chosen: {synthetic_pairs.ref_chosen_logp.mean():.2f})"
)


# %%
def fixed_batches(
    pairs: PreferencePairs, batch_size: int, generator: torch.Generator
) -> Callable[[GPT], PreferencePairs]:
    """Minibatches drawn with replacement from a fixed set of pairs (the policy is ignored)."""
    return lambda policy: pairs.rows(
        torch.randint(0, len(pairs.prompts), (batch_size,), generator=generator)
    )


on_policy_generator = torch.Generator().manual_seed(5)
recipes = {
    "(a) fixed, synthetic": fixed_batches(synthetic_pairs, 32, torch.Generator().manual_seed(4)),
    "(a′) fixed, sampled once": fixed_batches(
        sampled_once_pairs, 32, torch.Generator().manual_seed(4)
    ),
    "(b) on-policy": lambda policy: on_policy_pairs(
        policy, reference, task, 64, on_policy_generator
    ),
}
runs, cpu_seconds = {}, {}
for name, next_pairs in recipes.items():
    cpu = time.process_time()
    runs[name] = train_dpo(
        copy.deepcopy(sft_model),
        next_pairs,
        steps=STEPS,
        lr=LR,
        beta=BETA,
        task=task,
        eval_prompts=eval_prompts,
        eval_every=EVAL_EVERY,
    )
    cpu_seconds[name] = time.process_time() - cpu

# %%
for name, run in runs.items():
    check_close(f"{name}: first-step loss vs log 2", run.loss[0], math.log(2), atol=1e-6)
print(
    f"{'recipe':<26}{'exact match':>20}{'lowest':>8}{'loss':>16}{'margin':>8}{'acc.':>6}"
    f"{'Δ log π(y_w)':>14}{'Δ log π(y_l)':>14}{'pairs/step':>12}"
)
last = slice(-10, None)  # the last 10 steps
for name, run in runs.items():
    print(
        f"{name:<26}{run.exact_match[0]:>10.3f} → {run.exact_match[-1]:.3f}"
        f"{min(run.exact_match):>8.3f}"
        f"{run.loss[0]:>9.3f} → {np.mean(run.loss[last]):.3f}"
        f"{np.mean(run.margin[last]):>8.2f}{np.mean(run.reward_accuracy[last]):>6.2f}"
        f"{np.mean(run.chosen_shift[last]):>14.2f}{np.mean(run.rejected_shift[last]):>14.2f}"
        f"{np.mean(run.n_pairs):>12.1f}"
    )

# %%
print("CPU time per recipe: " + ", ".join(f"{name} {cpu_seconds[name]:.1f} s" for name in runs))


# %%
def moving_average(values: list[float], window: int = 5) -> np.ndarray:
    """Trailing mean over `window` steps (shorter at the start), for readable curves."""
    cumulative = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


recipe_colours = dict(zip(runs, [PALETTE[1], PALETTE[3], PALETTE[0]], strict=True))
fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
steps_axis = np.arange(1, STEPS + 1)
panels = [
    (axes[0, 0], "loss", "DPO loss (batch)"),
    (axes[0, 1], "margin", r"margin $\hat r_w-\hat r_l$ (batch mean)"),
    (axes[0, 2], "reward_accuracy", "reward accuracy (batch)"),
    (axes[1, 0], "chosen_shift", r"$\log\pi_\theta(y_w)-\log\pi_{ref}(y_w)$ (nats)"),
    (axes[1, 1], "rejected_shift", r"$\log\pi_\theta(y_l)-\log\pi_{ref}(y_l)$ (nats)"),
]
for ax, key, label in panels:
    for name, run in runs.items():
        ax.plot(
            steps_axis, moving_average(getattr(run, key)), color=recipe_colours[name], label=name
        )
    ax.set(xlabel="DPO step", ylabel=label)
axes[0, 0].axhline(math.log(2), color="k", ls=":", lw=1, label=r"$\log 2$")
axes[0, 0].set_title(r"All start at $\log 2$; on-policy stays near it")
axes[0, 1].set_title("Fixed pairs: the margin grows")
axes[0, 2].set_title("…and the pairs get ranked right")
axes[1, 0].set_title("Chosen log-prob rises clearly only on-policy")
axes[1, 1].set_title("Fixed rejected answers collapse")
axes[0, 0].legend()
ax = axes[1, 2]
for name, run in runs.items():
    ax.plot(run.eval_steps, run.exact_match, "o-", color=recipe_colours[name], label=name)
ax.axhline(sft_exact_match, color="k", ls=":", lw=1, label="SFT checkpoint")
ax.set(
    xlabel="DPO step",
    ylabel="greedy exact match (held out)",
    ylim=(0, 1),
    title="The true objective",
)
ax.legend()
final = {name: run.exact_match[-1] for name, run in runs.items()}
fig.suptitle(
    f"Exact match {sft_exact_match:.2f} → fixed synthetic pairs {final['(a) fixed, synthetic']:.2f}"
    f", fixed sampled pairs {final['(a′) fixed, sampled once']:.2f}, on-policy pairs "
    f"{final['(b) on-policy']:.2f} (curves: 5-step moving averages)"
)
plt.show()

# %% [markdown]
# What the numbers show (each claim is checked in the next cell):
#
# - **All three start at $\log 2$**, as derived. After that the loss is not a measure of
#   progress: it falls most for the two fixed recipes, whose exact match falls, and stays near
#   $\log 2$ for the on-policy recipe, whose exact match rises. (The reward accuracy is 0 at
#   the first step because every margin is exactly 0 there, and a tie is not a correct
#   ranking.)
# - **(a) Fixed synthetic pairs make exact match fall.** The
#   loss goes down by pushing the rejected log-probability down by many nats, and the *chosen*
#   log-probability falls as well, by less (the table's Δ columns): the loss only sees the
#   difference. The rejected answers are corruptions that the model rarely produces: their
#   log-probability under $\pi_\text{ref}$ is far below that of the SFT model's own mistakes
#   (printed above). Lowering them further is cheap, says little about the errors the model
#   actually makes, and moves weights that the correct answers share; greedy decoding gets
#   worse.
# - **(a′) The synthetic distribution is only part of the explanation.** Rejected answers that
#   *are* the SFT model's own mistakes, collected once, also make exact match drop (see the
#   lowest value in the table) and end below where it started, with a large margin on the
#   training pairs. At step 0, (a′) and (b) draw their
#   rejected answers from the same distribution; they part ways as soon as the policy moves,
#   because (a′)'s negatives stop being the current model's mistakes while the loss keeps
#   pushing them down. The mismatch that matters is between the fixed rejected answers and what
#   the *current* policy produces: DPO on a fixed set is offline learning, with its
#   distribution shift.
# - **(b) On-policy pairs make exact match rise, far above the SFT checkpoint.** Every batch's
#   rejected answers are the current model's mistakes, so the policy never gets far ahead of
#   its batch: the margin stays small, the loss stays near $\log 2$ and the weights
#   $\sigma(\hat r_l-\hat r_w)$ stay near ½. Then {eq}`dpo-grad` is about
#   $\frac\beta2\big(\nabla\log\pi_\theta(\text{correct})-\nabla\log\pi_\theta
#   (\text{own mistake})\big)$: an SFT step on the correct answer plus a step that removes
#   probability where the model currently puts it wrongly. The chosen log-probability rises,
#   and so does exact match. (The rejected log-probability ends slightly *above* the
#   reference's: these answers are sampled from the policy, so they are by construction ones it
#   currently likes. What falls is the probability of the mistakes the policy *used to* make,
#   which are no longer sampled.)
#
# This is the pattern reported for large models too: on-policy samples and a "negative
# gradient" on them beat offline pairs {cite}`tajwar2024preference`, and online feedback on the
# current model's samples improves DPO {cite}`guo2024direct`; the fall of the chosen likelihood
# on pairs that differ in a few tokens is analysed by {cite:t}`pal2024smaug`. This is one seed
# of each recipe: change `LR`, `BETA` or the generator seeds above and rerun to see how much of
# it is noise.

# %%
start_em = {name: run.exact_match[0] for name, run in runs.items()}
final_shift = {name: np.mean(run.chosen_shift[last]) for name, run in runs.items()}
final_rejected_shift = {name: np.mean(run.rejected_shift[last]) for name, run in runs.items()}
final_margin = {name: np.mean(run.margin[last]) for name, run in runs.items()}
synthetic, sampled_once, on_policy = runs
check_true(
    "(a) fixed synthetic pairs lower exact match",
    final[synthetic] < start_em[synthetic],
    f"{start_em[synthetic]:.3f} → {final[synthetic]:.3f}",
)
lowest_sampled_once = min(runs[sampled_once].exact_match)
check_true(
    "(a′) fixed sampled-once pairs: exact match dips by > 0.1 and ends below the start",
    lowest_sampled_once < start_em[sampled_once] - 0.1
    and final[sampled_once] < start_em[sampled_once],
    f"{start_em[sampled_once]:.3f} → lowest {lowest_sampled_once:.3f} → {final[sampled_once]:.3f}",
)
check_true(
    "(b) on-policy pairs raise exact match",
    final[on_policy] > start_em[on_policy] + 0.2,
    f"{start_em[on_policy]:.3f} → {final[on_policy]:.3f}",
)
check_true(
    "(a): the rejected log-prob collapses, and the chosen one falls too",
    bool(final_rejected_shift[synthetic] < -5 and final_shift[synthetic] < 0),
    f"Δ log π(y_l) {final_rejected_shift[synthetic]:.2f}, Δ log π(y_w) "
    f"{final_shift[synthetic]:.2f}",
)
check_true(
    "synthetic rejected answers are far less likely under π_ref than the model's own mistakes",
    bool(
        synthetic_pairs.ref_rejected_logp.mean() < sampled_once_pairs.ref_rejected_logp.mean() - 3
    ),
)
check_true(
    "(b): the margin stays small (loss near log 2) while the chosen log-prob rises",
    bool(abs(final_margin[on_policy]) < 0.3 and final_shift[on_policy] > 1),
    f"margin {final_margin[on_policy]:.2f}, Δ log π(y_w) {final_shift[on_policy]:.2f}",
)
check_true(
    "the fixed recipes end with a larger margin than the on-policy one",
    bool(min(final_margin[synthetic], final_margin[sampled_once]) > final_margin[on_policy]),
)

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} What does $\beta$ do, and how do you pick it?
# In the objective it prices the KL from the reference: $\pi^*\propto\pi_\text{ref}e^{r/\beta}$
# (Experiment 1): small $\beta$ lets the policy move far toward the highest reward, large
# $\beta$ keeps it near $\pi_\text{ref}$. In the loss it scales the log-ratios inside the
# sigmoid: with a small $\beta$ the policy must move its log-probabilities further before a
# pair's weight $\sigma(\hat r_l-\hat r_w)$ fades, so it drifts further. Common values are
# 0.05–0.5, with 0.1 the default of most libraries. $\beta$ does not rescale the step under Adam
# (which normalises gradients), only where the sigmoid saturates.
# :::
#
# :::{dropdown} "DPO needs no reward model, so it needs one model." True?
# No: two. The frozen reference is in every term of the loss. For a fixed data set its
# log-probabilities can be computed once beforehand (recipes (a) and (a′) above), so only the
# policy is trained and held during the updates; with fresh samples (recipe (b)) the reference
# must run on every batch. PPO-based RLHF holds four: policy, reference, reward model and value
# model ([chapter 03](03_dpo_vs_rlhf.ipynb) compares them).
# :::
#
# :::{dropdown} The loss goes down and the reward accuracy goes up. Is the model getting better?
# Not necessarily, as Experiment 2 shows: on fixed pairs the margin grew and the reward accuracy
# went to nearly 1 while exact match fell, and on fresh pairs the loss stayed near $\log 2$
# while exact match rose. Margin and reward accuracy say how well the implicit reward ranks the
# *training* pairs. Watch them together with the chosen and rejected log-probabilities (both
# falling is a warning), the KL from the reference on the policy's own samples, and a held-out
# measure of what you actually want.
# :::
#
# :::{dropdown} Can the chosen response become *less* likely during DPO?
# Yes. The loss and its gradient {eq}`dpo-grad` only see
# $\log\pi_\theta(y_w)-\log\pi_\theta(y_l)$, so the loss also falls when both fall and the
# rejected falls faster. Experiment 2 measures how the chosen log-probability moves per recipe.
# It happens most when chosen and rejected share most of their tokens (the shared tokens cancel
# in the difference and the gradient concentrates on the few that differ)
# {cite}`pal2024smaug`. Remedies add a term that keeps $\log\pi_\theta(y_w)$ up (an SFT loss on
# the chosen, or DPO-Positive's penalty), or refresh the pairs on-policy.
# :::
#
# :::{dropdown} Why do DPO-trained models get verbose?
# $\log\pi(y\mid x)$ is a sum over tokens, and the implicit reward is not controlled outside
# the data. If chosen answers in the data tend to be longer, the policy can raise the margin by
# favouring length, and its own, longer samples are never scored against anything
# {cite}`park2024disentangling`. Length-regularised losses and length-controlled evaluation are
# the usual answers. (The sorting task has a fixed length, so it cannot show this.)
# :::
#
# :::{dropdown} What goes wrong with deterministic preferences, and what does IPO change?
# If a pair is always labelled the same way ($p=1$), the DPO loss $-\log\sigma(m)$ keeps falling
# as $m\to\infty$: the minimiser sends $\pi_\theta(y_l)\to0$ for any $\beta$, so the KL
# regularisation stops working exactly where the data are most confident (one label per pair
# looks deterministic). IPO {cite}`azar2024general` regresses the log-ratio difference
# $h=\log\frac{\pi_\theta(y_w)\pi_\text{ref}(y_l)}{\pi_\theta(y_l)\pi_\text{ref}(y_w)}$ onto a
# finite target with a squared loss $(h-\frac1{2\tau})^2$. The cell below runs gradient
# descent on both for one deterministic pair of the 6-response problem: DPO's $h$ is still
# growing after a thousand steps; IPO's settles at $1/(2\tau)$.
# :::


# %%
def log_ratio_gap(logits: torch.Tensor) -> torch.Tensor:
    """h = log π(y_w)/π_ref(y_w) - log π(y_l)/π_ref(y_l) for the softmax policy, scalar."""
    log_ratio = logits.log_softmax(-1) - ref_log_probs  # (K,)
    return log_ratio[chosen_index] - log_ratio[rejected_index]


tau, GAP_STEPS = beta, 1000
losses_of_gap = {
    "DPO": lambda h: -F.logsigmoid(beta * h),
    "IPO": lambda h: (h - 1 / (2 * tau)) ** 2,  # Azar et al.'s empirical IPO loss
}
gap_history = {}
for name, loss_of_gap in losses_of_gap.items():
    logits = ref_log_probs.clone().requires_grad_(True)
    history = []
    for _ in range(GAP_STEPS):
        (gradient,) = torch.autograd.grad(loss_of_gap(log_ratio_gap(logits)), logits)
        with torch.no_grad():
            logits -= 0.2 * gradient
        history.append(log_ratio_gap(logits).item())
    gap_history[name] = history
    print(
        f"{name}: h after {GAP_STEPS // 4} steps {history[GAP_STEPS // 4 - 1]:6.2f}, "
        f"after {GAP_STEPS} {history[-1]:6.2f}; "
        f"π(y_l) = {logits.detach().softmax(-1)[rejected_index]:.1e}"
    )
check_close("IPO: h converges to 1/(2τ)", gap_history["IPO"][-1], 1 / (2 * tau), atol=1e-6)
dpo_gap_quarter, dpo_gap_end = gap_history["DPO"][GAP_STEPS // 4 - 1], gap_history["DPO"][-1]
check_true(
    "DPO: h is past IPO's target and still growing, with deterministic labels",
    dpo_gap_end > max(dpo_gap_quarter, 1 / (2 * tau)),
    f"h = {dpo_gap_quarter:.2f} after {GAP_STEPS // 4} steps, {dpo_gap_end:.2f} after {GAP_STEPS}",
)

# %% [markdown]
# :::{dropdown} DPO is "supervised", so it does not suffer from distribution shift. Right?
# Wrong. The loss is a classification loss, but the quantity it optimises is a policy, and the
# policy is judged on its own samples, which a fixed data set never contains once the policy
# has moved. Recipe (a′) is the clean example: pairs that were the model's own mistakes at the
# start stopped helping, then hurt, as the policy moved. Online and iterative DPO refresh the
# pairs with the current model's samples {cite}`guo2024direct,xiong2024iterative` (recipe (b)),
# which brings back
# the sampling cost that DPO was meant to save. [Chapter 03](03_dpo_vs_rlhf.ipynb) compares
# DPO and RLHF on the same data, and [chapter 09](09_online_vs_offline_rl.ipynb) treats
# offline vs online learning in general {cite}`levine2020offline`.
# :::
#
# :::{dropdown} Is DPO "RL-free"? Is it better than PPO?
# It optimises the KL-regularised RL objective {eq}`dpo-objective`, through its closed-form
# optimum; it is free of *sampling* and of a separate reward model, not of the RL objective.
# Whether it beats PPO depends on the setting: carefully tuned PPO comes out ahead in several
# comparisons {cite}`xu2024dpo,ivison2024unpacking`, which trace part of the gap to DPO's
# offline data.
# :::
#
# :::{dropdown} Sum or mean of the token log-probabilities?
# The sum: {eq}`dpo-bt-policy` needs $\log\pi(y\mid x)$, the log-probability of the whole
# response (the mean's exponentials do not even sum to 1, Verification section). A per-token
# mean is a different, length-normalised objective that some variants choose on purpose. With
# padded batches, sum only over real response tokens: prompt and padding positions must be
# masked, as for SFT ([chapter 01](01_sft.ipynb)).
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Relative to the reference, a policy doubles the probability of the chosen response and
#    halves that of the rejected one. With $\beta=0.1$, what are the margin, the loss and the
#    weight $\sigma(\hat r_l-\hat r_w)$ of this pair?
#
#    :::{dropdown} Answer
#    $\hat r_w=0.1\ln2$, $\hat r_l=-0.1\ln 2$, so $m=0.2\ln2=0.1386$. The loss is
#    $-\log\sigma(0.1386)=0.6262$, barely below $\log2=0.6931$: a factor of 4 in the
#    probability ratio moves the loss little at $\beta=0.1$. The weight is
#    $\sigma(-0.1386)=0.4654$. The next cell checks these with `dpo_loss`.
#    :::

# %%
exercise_policy = torch.log(torch.tensor([2.0, 0.5], dtype=torch.float64))  # log π/π_ref
exercise_loss, exercise_margin = dpo_loss(
    exercise_policy[:1], exercise_policy[1:], torch.zeros(1), torch.zeros(1), 0.1
)
check_close(
    "exercise 1: margin",
    exercise_margin,
    torch.tensor([0.2 * math.log(2)], dtype=torch.float64),
    atol=1e-12,
)
check_close("exercise 1: loss", exercise_loss, 0.6262, atol=5e-5)
check_close(
    "exercise 1: weight σ(-m)", torch.sigmoid(-exercise_margin), torch.tensor([0.4654]), atol=5e-5
)
print(
    f"margin {exercise_margin.item():.4f}, loss {exercise_loss.item():.4f}, "
    f"weight {torch.sigmoid(-exercise_margin).item():.4f}"
)

# %% [markdown]
# 2. A colleague ranks prompts by the implicit reward of their answers,
#    $\hat r_\theta(x,y)=\beta\log\pi_\theta(y\mid x)/\pi_\text{ref}(y\mid x)$, to find the best
#    answers across the whole data set. What is wrong?
#
#    :::{dropdown} Answer
#    By {eq}`dpo-reward` the implicit reward is the reward only up to $\beta\log Z(x)$, a
#    different constant for each prompt, and DPO never learns it: the loss only sees differences
#    between two answers to the *same* prompt. Comparing $\hat r_\theta$ across prompts compares
#    unknown offsets. Within one prompt the ranking is meaningful.
#    :::
#
# 3. A batch of 8 pairs, the policy equal to the reference, $\beta=0.1$, the loss averaged over
#    the batch. What is the derivative of the loss with respect to one chosen
#    log-probability $\log\pi_\theta(y_w^{(1)}\mid x^{(1)})$?
#
#    :::{dropdown} Answer
#    $-\beta\,\sigma(0)/8=-0.1\cdot\tfrac12/8=-0.00625$: the per-pair $-\beta/2$ of the
#    Verification section, divided by the batch size because the loss is a mean. The next cell
#    checks it with autograd.
#    :::

# %%
batch_chosen = torch.full((8,), -5.0, dtype=torch.float64, requires_grad=True)
batch_loss, _ = dpo_loss(
    batch_chosen, torch.full((8,), -7.0), torch.full((8,), -5.0), torch.full((8,), -7.0), 0.1
)
(batch_gradient,) = torch.autograd.grad(batch_loss, batch_chosen)
check_close("exercise 3: ∂L/∂log π(y_w) with a batch of 8", batch_gradient[0], -0.00625, atol=1e-12)
print(f"CPU time for the whole notebook {time.process_time() - cpu_start:.1f} s")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`rafailov2023direct`: Section 4 (the optimum of the KL-constrained objective, the
#   reward written through the policy, the loss, eq. 7, and the gradient with its weight),
#   Appendix A.1 (the derivation of the optimum).
# - {cite:t}`bradley1952rank`: the paired-comparison model {eq}`dpo-bt`.
# - {cite:t}`christiano2017deep`, {cite:t}`ziegler2019fine`, {cite:t}`stiennon2020learning`,
#   {cite:t}`ouyang2022training`: the KL-regularised RLHF objective and its reward model.
# - {cite:t}`azar2024general`: deterministic preferences defeat the KL regularisation of DPO;
#   the IPO loss.
# - {cite:t}`pal2024smaug`: the chosen likelihood falls under DPO, mostly on pairs with a small
#   edit distance; DPO-Positive.
# - {cite:t}`park2024disentangling`: length exploitation by DPO.
# - {cite:t}`tajwar2024preference`: on-policy sampling and negative gradients in preference
#   fine-tuning; {cite:t}`guo2024direct`: online DPO with feedback on the current model's
#   samples; {cite:t}`xiong2024iterative`: iterative DPO.
# - {cite:t}`xu2024dpo`, {cite:t}`ivison2024unpacking`: DPO vs PPO comparisons;
#   {cite:t}`levine2020offline`: distribution shift in offline learning.

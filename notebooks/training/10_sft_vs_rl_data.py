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
# # 10. SFT data vs RL data
#
# **The question.** How does the training data of SFT differ from the training data of RL, in
# what one example is, how much is needed, and how much label noise each tolerates?
#
# **What you will be able to answer.** What one example of SFT, preference (reward-model),
# online-RL and RLVR data is, who produces it and how much of it real pipelines used; what a
# fraction of corrupted SFT targets does to the SFT optimum and to greedy decoding, with the
# threshold for random and for systematic corruption; what flipped preference labels do to
# the Bradley–Terry optimum (ranking kept, scale compressed) and to a policy gradient; why
# *systematic* noise is a different matter from random noise; and, measured on a toy, which
# kind of data tolerated noise better and how much data each needed.

# %%
import itertools
import math
import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.gpt import GPT
from notebook_utils.rl import (
    SortTask,
    dpo_loss,
    greedy_exact_match,
    group_advantages,
    response_logprobs,
    sample_responses,
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
# - **What one example is.** SFT data are *demonstrations* $(x,y)$: a prompt and a full target
#   response, written by people or by a stronger model. Preference (reward-model, DPO) data are
#   *comparisons* $(x,y_w,y_l)$, or a ranking of $K$ sampled responses, which implies
#   $\binom K2$ comparisons ($K=4\to6$, $K=9\to36$). Online RL data are *prompts only*: the
#   responses are generated on the fly by the policy and scored by a reward model, or, in RL
#   with verifiable rewards (RLVR), by a checker (a reference answer, unit tests).
# - **How much.** "RL needs more data" depends on what you count. InstructGPT used about 13k
#   SFT prompts, 33k reward-model prompts and 31k PPO prompts {cite}`ouyang2022training`; LIMA
#   fine-tuned on 1,000 curated demonstrations {cite}`zhou2023lima`; Llama 2 collected over a
#   million binary comparisons, each cheap and worth about one bit {cite}`touvron2023llama2`;
#   RLVR runs use thousands to tens of thousands of checkable prompts (DAPO: 17k)
#   {cite}`yu2025dapo`.
# - **SFT imitates its noise.** With a fraction $p$ of corrupted targets, the SFT optimum is
#   the mixture $(1-p)\,\delta_{y^\star}+p\cdot\text{noise}$: sampling reproduces the errors at
#   rate $p$. Greedy decoding keeps the right answer while it has the plurality: up to $p\to1$
#   for noise spread uniformly over outputs, only up to $p=\tfrac12$ for *systematic* noise
#   that always writes the same wrong answer.
# - **Preference flips compress, and cost data.** If each comparison is flipped with
#   probability $\varepsilon$, the Bradley–Terry optimum is
#   $m^\star=\operatorname{logit}\big(\varepsilon+(1-2\varepsilon)\sigma(\Delta)\big)$: the
#   ranking survives for $\varepsilon<\tfrac12$, the reward scale shrinks (never beyond
#   $\ln\frac{1-\varepsilon}{\varepsilon}$), and every gradient's signal is multiplied by
#   $1-2\varepsilon$, so about $(1-2\varepsilon)^{-2}$ times more comparisons buy the same
#   precision. A policy gradient on such labels climbs $(1-2\varepsilon)J$: the same
#   optimum, so random flips are not imitated.
# - **The notes' "label noise is more tolerable in RL if you have enough data" holds only for
#   random, content-independent flips below one half.** Preference labels are themselves very
#   noisy: InstructGPT's labelers agreed with each other 72.6 ± 1.5 % of the time, about 16 %
#   flips per labeler under a symmetric model. Systematic noise (labelers consistently wrong on
#   some kind of input) is learned as if it were the signal by both SFT and RL, and more data
#   only makes the model more confidently wrong: that is reward-model misspecification, which
#   reward hacking exploits. On this chapter's toy (measured below), flipping 20 % of the
#   comparisons cost the preference learner little while corrupting 20 % of the
#   demonstrations wrecked SFT's samples; flipping 60 %, or concentrating the flips on some
#   prompts, wrecked the preference learner too.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning |
# |---|---|
# | $x$, $y$ | a prompt and a response of $L$ tokens over $n$ symbols ($n=10$ digits) |
# | $y^\star(x)$ | the correct response (the toy: the prompt's digits sorted ascending) |
# | $p$ | fraction of SFT targets replaced by a corrupted response |
# | $q(y\mid x)$ | the distribution the corrupted responses are drawn from |
# | $\pi_\theta$, $\pi_0$ | the policy being trained; the SFT checkpoint later stages start from |
# | $r(x,y)$, $\Delta$ | a reward, and the true margin $r(x,y_w)-r(x,y_l)$ of a comparison |
# | $\varepsilon$ | probability that a comparison's label is flipped |
# | $\sigma$, $\operatorname{logit}$ | $\sigma(z)=1/(1+e^{-z})$ and its inverse $\ln\frac{u}{1-u}$ |
# | $K$, $c$ | responses sampled per prompt; how many of them are correct |
#
# ### What each kind of data is
#
# ```{list-table}
# :header-rows: 1
#
# * - data
#   - one example
#   - produced by
#   - sizes in practice
# * - SFT demonstrations
#   - $(x,y)$, a full target
#   - labelers write $y$, or a stronger model does (distillation)
#   - InstructGPT ≈ 13k prompts; LIMA 1,000
# * - preference / reward-model data
#   - $(x,y_w,y_l)$, or a ranking of $K$ responses
#   - the policy samples the responses; labelers (or an AI judge) compare them
#   - InstructGPT ≈ 33k prompts, $K=4$ to $9$; Llama 2 > 1M comparisons
# * - online RL (RLHF)
#   - a prompt $x$
#   - a prompt pool; rollouts are sampled on the fly and scored by the reward model
#   - InstructGPT PPO ≈ 31k prompts
# * - RLVR
#   - a prompt $x$ with a checker (an answer, tests)
#   - curated problems whose answers can be verified
#   - thousands to tens of thousands (DAPO-Math: 17k)
# ```
#
# Sources: InstructGPT's data-set table and Section 3 {cite}`ouyang2022training`, LIMA
# {cite}`zhou2023lima`, Llama 2's reward-modelling data {cite}`touvron2023llama2`, DAPO
# {cite}`yu2025dapo`. DPO {cite}`rafailov2023direct` trains on the same comparisons as a
# reward model, without the rollouts. The notes' "preference labels are cheaper than
# writing gold answers, so you can scale to millions of comparisons" is right about cost per
# label, and Llama 2 did it; what they leave out is that a comparison carries at most one
# bit, a demonstration a whole answer, and that the RL *prompt* sets were no larger than the
# SFT sets in InstructGPT.
#
# ### SFT with a fraction of corrupted targets
#
# Replace each target by a draw from $q$ with probability $p$. The data then say
#
# $$
# \tilde p(y\mid x)=(1-p)\,\mathbb 1[y=y^\star(x)]+p\,q(y\mid x).
# $$ (data-sft-mixture)
#
# SFT minimises $\mathbb E_x\,\mathrm{KL}\big(\tilde p(\cdot\mid x)\,\|\,\pi_\theta(\cdot\mid
# x)\big)$ plus a constant ([chapter 01](01_sft.ipynb)), so a model class rich enough reaches
# $\pi_\theta=\tilde p$: **the optimal SFT policy reproduces the noise.** Sampling from it is
# exactly right with probability
#
# $$
# \Pr_{y\sim\tilde p}[y=y^\star]=(1-p)+p\,q(y^\star\mid x).
# $$ (data-sft-sampled)
#
# Greedy decoding keeps only the mode, token by token. For one token with correct value $c$,
# the mixture gives $c$ the mass $(1-p)+p\,q(c)$ and a wrong token $v$ the mass $p\,q(v)$;
# $c$ stays the mode if and only if $(1-p)+p\,q(c)>p\,q(v)$ for every $v\ne c$, that is
#
# $$
# p<p^\star=\frac{1}{1+\max_{v\ne c}q(v)-q(c)} .
# $$ (data-sft-threshold)
#
# What matters is how *concentrated* the noise is:
#
# - noise uniform over all $n$ tokens, $q(v)=1/n$: $p^\star=1$, the mode survives any $p<1$;
# - noise uniform over the $n-1$ wrong tokens: $p^\star=\frac{n-1}{n}$ ($0.9$ for $n=10$);
# - **systematic** noise, always the same wrong token: $p^\star=\tfrac12$.
#
# Deep classifiers behave this way: trained on labels diluted by many times more uniformly
# random wrong labels, they still learn the right classes, given correspondingly more data
# {cite}`rolnick2017deep`.
#
# For whole responses, greedy decoding conditions on its own prefix. In the toy, the two
# kinds of corruption behave differently along the sequence:
#
# - **Random responses** ($q$ uniform over all $n^L$ sequences). After a correct prefix of
#   $t-1$ tokens, the correct next token has mass $(1-p)+p\,n^{-t}$ and each wrong one
#   $p\,n^{-t}$ (a random response rarely shares the correct prefix, so both carry the factor
#   $n^{-t}$), and the correct token stays the mode at every position: greedy decoding is
#   exactly right for every $p<1$.
# - **A fixed wrong rule** (the digits sorted *descending*). The first token decides: the
#   minimum with mass $1-p$, the maximum with mass $p$. After the minimum, the descending
#   answer no longer matches the prefix (unless all digits are equal), so the rest is clean:
#   greedy is right for $p<\tfrac12$. For $p>\tfrac12$ it starts with the maximum and then
#   follows the descending answer, right only when all $L$ digits are equal, probability
#   $n^{1-L}$.
#
# A finite model may not learn to tell a noisy prefix from a clean one. If it learns only the
# per-position frequencies, each token is right with probability $(1-p)+p/n$, and the
# noise compounds over the response:
#
# $$
# \Pr[y=y^\star]\approx\big((1-p)+p/n\big)^L .
# $$ (data-sft-compound)
#
# {eq}`data-sft-sampled` and {eq}`data-sft-compound` bracket what a small model samples.
#
# ### Preference labels flipped with probability $\varepsilon$
#
# Under the Bradley–Terry model {cite}`bradley1952rank`, the better response is preferred
# with probability
#
# $$
# \Pr[y_w\succ y_l\mid x]=\sigma(\Delta),\qquad \Delta=r(x,y_w)-r(x,y_l).
# $$ (data-bt)
#
# Flip each label with probability $\varepsilon$, independently of the content. The label
# then says "$y_w$ is better" with probability
#
# $$
# \tilde P=(1-\varepsilon)\,\sigma(\Delta)+\varepsilon\,\sigma(-\Delta)
# =\varepsilon+(1-2\varepsilon)\,\sigma(\Delta).
# $$ (data-bt-noisy)
#
# A reward model $r_\theta$ (or DPO's implicit reward, [chapter 02](02_dpo.ipynb)) fits a
# margin $m=r_\theta(x,y_w)-r_\theta(x,y_l)$ by the logistic loss; averaged over the noisy
# labels it is
#
# $$
# \ell_\varepsilon(m)=-\tilde P\log\sigma(m)-(1-\tilde P)\log\sigma(-m),\qquad
# \ell_\varepsilon'(m)=\sigma(m)-\tilde P .
# $$ (data-bt-loss)
#
# The loss is convex in $m$ and its derivative vanishes at
#
# $$
# m^\star=\operatorname{logit}\tilde P
# =\ln\frac{\varepsilon+(1-2\varepsilon)\,\sigma(\Delta)}{1-\varepsilon-(1-2\varepsilon)\,
# \sigma(\Delta)} .
# $$ (data-bt-optimum)
#
# Four consequences:
#
# 1. **The ranking survives.** $m^\star$ is odd and, for $\varepsilon<\tfrac12$, increasing in
#    $\Delta$: every pair keeps its sign. At $\varepsilon=\tfrac12$ the labels carry nothing
#    ($m^\star=0$); above it every ranking is reversed.
# 2. **The scale is compressed.** $\tilde P$ lies between $\sigma(\Delta)$ and $\tfrac12$, so
#    $|m^\star|<|\Delta|$. Near $\Delta=0$, with $\sigma'(0)=\tfrac14$ and
#    $\operatorname{logit}'(\tfrac12)=4$, the slope is $dm^\star/d\Delta=1-2\varepsilon$.
# 3. **It saturates.** As $\Delta\to\infty$ (a comparison a verifier would always get right),
#
#    $$
#    m^\star\to\ln\frac{1-\varepsilon}{\varepsilon},
#    $$ (data-bt-saturation)
#
#    a finite margin: 2.20 nats at $\varepsilon=0.1$. Best-of-$n$ sampling, or RL without a KL
#    penalty, uses only the ranking and does not care. With a KL penalty the optimal policy is
#    $\pi\propto\pi_0\exp(r/\beta)$, and a compressed $r$ acts like a larger $\beta$: the
#    policy moves less far from $\pi_0$.
# 4. **The signal shrinks, the noise does not.** At $m=0$ the expected gradient is
#    $\ell'_\varepsilon(0)=-(1-2\varepsilon)\big(\sigma(\Delta)-\tfrac12\big)$, the clean one
#    times $1-2\varepsilon$, while one label's gradient is still $\sigma(m)-0$ or
#    $\sigma(m)-1$. To reach the same signal-to-noise ratio takes
#
#    $$
#    \frac{N_\varepsilon}{N_0}\approx\frac{1}{(1-2\varepsilon)^2}
#    $$ (data-snr)
#
#    times as many comparisons. This, and only this, is the sense in which "label noise is
#    tolerable if you have enough data".
#
# How large is $\varepsilon$ in practice? If two labelers each flip an underlying preference
# independently with probability $\varepsilon$, they agree with probability
# $a=(1-\varepsilon)^2+\varepsilon^2$, so $(1-2\varepsilon)^2=2a-1$ and
#
# $$
# \varepsilon=\frac{1-\sqrt{2a-1}}{2},\qquad \frac{N_\varepsilon}{N_0}=\frac{1}{2a-1}.
# $$ (data-agreement)
#
# InstructGPT's training labelers agreed $a=72.6\,\%$ of the time {cite}`ouyang2022training`:
# $\varepsilon\approx0.164$ and about 2.2 times the comparisons (computed in the
# Verification). Part of real disagreement is legitimate differences in taste, not flips of
# one truth, so this is a model, not a measurement of error.
#
# ### Preference labels as an RL signal
#
# The cheapest preference learner that worked on this chapter's toy (see the Pitfalls for
# what did not) is an online policy gradient: sample $K$ responses per prompt from the
# current policy, let a labeler compare every pair, and reinforce each response by its net
# wins. With labels $\ell_{ij}\in\{+1,-1,0\}$ ($i$ better, $j$ better, a tie) and
# $\ell_{ji}=-\ell_{ij}$, the advantage of response $i$ is its Borda score
#
# $$
# A_i=\frac{1}{K-1}\sum_{j\ne i}\ell_{ij},
# $$ (data-borda)
#
# and the update follows the REINFORCE estimator ([chapter 04](04_policy_gradient.ipynb))
#
# $$
# \nabla_\theta J\approx\frac{1}{BK}\sum_{b=1}^{B}\sum_{i=1}^{K}A_{b,i}\,
# \nabla_\theta\log\pi_\theta(y_{b,i}\mid x_b).
# $$ (data-pg)
#
# When the labeler is a 0/1 verifier, $\ell_{ij}=\operatorname{sign}(r_i-r_j)$, and with $c$
# correct responses a correct one wins $K-c$ comparisons and a wrong one loses $c$:
#
# $$
# A_i=\frac{K}{K-1}\big(r_i-\bar r\big),\qquad \bar r=\frac cK,
# $$ (data-borda-grpo)
#
# GRPO's group advantage without the division by the standard deviation
# ([chapter 07](07_grpo.ipynb)), times $K/(K-1)$. Now flip each comparison with probability
# $\varepsilon$, independently: $\mathbb E[\tilde\ell_{ij}]=(1-2\varepsilon)\,\ell_{ij}$, so
#
# $$
# \mathbb E\big[\tilde A_i\big]=(1-2\varepsilon)\,A_i,\qquad
# \mathbb E\big[\widetilde{\nabla J}\big]=(1-2\varepsilon)\,\nabla J .
# $$ (data-pg-noisy)
#
# The policy climbs $(1-2\varepsilon)J$, which has the same maximiser as $J$: **random
# flips below one half are averaged out, not imitated**, unlike corrupted SFT targets. They
# cost variance, hence prompts {eq}`data-snr`, and a small step size, because random
# reinforcement of the policy's own samples is not neutral: it makes whatever was sampled
# more likely to be sampled again.
#
# ### Systematic noise
#
# Everything above assumed that a flip does not depend on the content. Let the flip rate
# $\varepsilon(x,y,y')$ vary instead. {eq}`data-bt-optimum` holds pair type by pair type,
# with the local rate: the ranking is reversed wherever $\varepsilon(x,y,y')>\tfrac12$,
# *whatever the average rate*. A labeler who is wrong on every prompt of one kind, a fraction
# $f$ of all prompts, has an average flip rate $f$, yet on those prompts the expected
# gradient {eq}`data-pg-noisy` is $-\nabla J$: the policy learns to be wrong there, and more
# data makes it more confidently wrong. SFT is no better: noise that puts more mass on one
# wrong answer than {eq}`data-sft-threshold` allows, on some inputs, is learned as the rule
# for those inputs. In RLHF this is reward-model misspecification, which a policy exploits
# (reward hacking, [chapter 08](08_reward_hacking.ipynb); {cite:t}`gao2023scaling`).
#
# ### Counting comparisons
#
# A ranking of $K$ responses implies
#
# $$
# \binom K2=\frac{K(K-1)}{2}
# $$ (data-pairs)
#
# pairwise comparisons: 6 for $K=4$, 36 for $K=9$. InstructGPT trained its reward model on
# all of them, the comparisons of one prompt in one batch element, because shuffling these
# correlated comparisons into different batches made the reward model over-fit
# {cite}`ouyang2022training`. With a 0/1 verifier only the $c(K-c)$
# pairs of one correct and one wrong response are informative; a group with $c=0$ or $c=K$
# gives nothing, which is why RL on a verifiable reward needs a policy that already
# sometimes succeeds.

# %% [markdown]
# ## Implementation from scratch
#
# ### The SFT side: noisy and limited demonstrations
#
# The shared `train_sft` draws each batch from a `data(batch_size, generator)` callable;
# these build the callables. Corrupted responses are uniform random digits (noise spread over
# all $10^L$ sequences) or the descending sort (one fixed wrong rule).


# %%
def noisy_demonstrations(
    task: SortTask, rate: float, kind: str
) -> Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
    """Demonstrations whose response is corrupted with probability `rate`, eq.
    (data-sft-mixture): `kind="random"` draws uniform random digits, `kind="systematic"`
    writes the digits sorted descending."""
    if kind not in ("random", "systematic"):
        raise ValueError(f"kind must be 'random' or 'systematic', got {kind!r}")

    def draw(batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        prompts, responses = task.batch(batch_size, generator)  # (B, L + 1), (B, L)
        corrupted = torch.rand(batch_size, generator=generator) < rate  # (B,)
        if kind == "random":
            wrong = torch.randint(0, task.n_digits, responses.shape, generator=generator)
        else:
            wrong = responses.flip(1)  # (B, L): sorted descending
        return prompts, torch.where(corrupted[:, None], wrong, responses)

    return draw


def limited_demonstrations(
    task: SortTask, n_unique: int, generator: torch.Generator
) -> Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
    """Batches resampled (with replacement) from a fixed set of `n_unique` demonstrations."""
    pool_prompts, pool_responses = task.batch(n_unique, generator)  # (N, L + 1), (N, L)

    def draw(batch_size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, n_unique, (batch_size,), generator=g)  # (B,)
        return pool_prompts[index], pool_responses[index]

    return draw


# %% [markdown]
# ### The Bayes-optimal SFT policy, decoded greedily
#
# To check the thresholds on whole sequences, enumerate all $n^L$ responses, put the mixture
# {eq}`data-sft-mixture` on them, and decode greedily from this exact distribution: at each
# position, sum the mass of the responses that share the prefix chosen so far, by next token.


# %%
def all_responses(n_digits: int, length: int) -> np.ndarray:
    """Every response, shape (n_digits ** length, length)."""
    return np.array(list(itertools.product(range(n_digits), repeat=length)))


def greedy_decode_distribution(
    responses: np.ndarray, mass: np.ndarray, n_digits: int
) -> np.ndarray:
    """Greedy decoding from an explicit distribution `mass` (N,) over `responses` (N, L)."""
    chosen = np.zeros(responses.shape[1], dtype=int)
    match = np.ones(len(responses), dtype=bool)  # responses that share the chosen prefix
    for t in range(responses.shape[1]):
        next_mass = np.bincount(responses[match, t], weights=mass[match], minlength=n_digits)
        chosen[t] = int(np.argmax(next_mass))
        match &= responses[:, t] == chosen[t]
    return chosen


def sft_mixture(
    responses: np.ndarray, correct: np.ndarray, wrong: np.ndarray | None, rate: float
) -> np.ndarray:
    """Eq. (data-sft-mixture) over all responses: `wrong=None` means uniform random noise,
    otherwise all the noise goes to the one response `wrong`."""
    is_correct = (responses == correct).all(axis=1).astype(float)  # (N,)
    if wrong is None:
        noise = np.full(len(responses), 1.0 / len(responses))
    else:
        noise = (responses == wrong).all(axis=1).astype(float)
    return (1 - rate) * is_correct + rate * noise


# %% [markdown]
# ### The preference side: noisy Bradley–Terry, and the pairwise policy gradient


# %%
def noisy_preference_probability(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. (data-bt-noisy): probability that a flipped-with-prob-eps label prefers y_w."""
    return eps + (1 - 2 * eps) * torch.sigmoid(delta)


def noisy_bt_loss(margin: torch.Tensor, delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. (data-bt-loss): the logistic loss of a margin, averaged over noisy labels."""
    p_tilde = noisy_preference_probability(delta, eps)
    return -p_tilde * F.logsigmoid(margin) - (1 - p_tilde) * F.logsigmoid(-margin)


def noisy_bt_optimum(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. (data-bt-optimum): the margin that minimises the noisy loss."""
    return torch.logit(noisy_preference_probability(delta, eps))


def flip_rate_from_agreement(agreement: float) -> float:
    """Eq. (data-agreement): per-labeler flip rate that makes two labelers agree this often."""
    return (1 - math.sqrt(2 * agreement - 1)) / 2


# %% [markdown]
# The labels of all $\binom K2$ pairs of a group {eq}`data-pairs`, flipped at a per-prompt
# rate, and the Borda advantages {eq}`data-borda`:


# %%
def pair_indices(group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First and second index of every pair i < j of a group, each of shape (C(K, 2),)."""
    pairs = torch.combinations(torch.arange(group_size), r=2)  # (C, 2)
    return pairs[:, 0], pairs[:, 1]


def pairwise_labels(
    rewards: torch.Tensor, flip_rate: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Labels sign(r_i - r_j) of all pairs, (B, C), each flipped with its prompt's rate
    `flip_rate` (B,). Ties stay ties: the labeler has no preference to flip."""
    first, second = pair_indices(rewards.shape[1])
    labels = torch.sign(rewards[:, first] - rewards[:, second])  # (B, C)
    flips = torch.rand(labels.shape, generator=generator) < flip_rate[:, None]  # (B, C)
    return torch.where(flips, -labels, labels)


def borda_advantages(labels: torch.Tensor, group_size: int) -> torch.Tensor:
    """Eq. (data-borda): net wins of each response over the others, / (K - 1); (B, K)."""
    first, second = pair_indices(group_size)
    wins = torch.zeros(labels.shape[0], group_size, dtype=labels.dtype)  # (B, K)
    wins.index_add_(1, first, labels)  # ℓ_ij counts for i ...
    wins.index_add_(1, second, -labels)  # ... and ℓ_ji = -ℓ_ij for j
    return wins / (group_size - 1)


# %% [markdown]
# The training loop samples $K$ responses for each of $B$ fresh prompts, asks the (noisy)
# labeler for all pairs, and takes one AdamW step on {eq}`data-pg`. `flip_rate` maps a batch
# of prompts to the flip probability of each: a constant for random noise, a function of the
# prompt for systematic noise. It calls `evaluate` at the steps `eval_at`.


# %%
def train_preference_pg(
    policy: GPT,
    task: SortTask,
    *,
    steps: int,
    generator: torch.Generator,
    flip_rate: Callable[[torch.Tensor], torch.Tensor],
    evaluate: Callable[[GPT], tuple[float, float]],
    eval_at: tuple[int, ...] = (),
    prompts_per_step: int = 16,
    group_size: int = 4,
    lr: float = 3e-4,
) -> dict[int, tuple[float, float]]:
    """Online policy gradient from pairwise preference labels; returns `evaluate(policy)`
    (the held-out exact match) at each step in `eval_at`."""
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    exact_match: dict[int, tuple[float, float]] = {}
    for step in range(1, steps + 1):
        prompts = task.prompts(prompts_per_step, generator)  # (B, L + 1), fresh each step
        repeated = prompts.repeat_interleave(group_size, dim=0)  # (B K, L + 1)
        responses = sample_responses(policy, repeated, task.length, generator=generator)
        rewards = task.reward(repeated, responses).view(prompts_per_step, group_size)  # (B, K)
        labels = pairwise_labels(rewards, flip_rate(prompts), generator)  # (B, C)
        advantages = borda_advantages(labels, group_size).reshape(-1)  # (B K,)
        logp = response_logprobs(policy, repeated, responses).sum(dim=1)  # (B K,)
        loss = -(advantages * logp).mean()  # eq. (data-pg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step in eval_at:
            exact_match[step] = evaluate(policy)
    return exact_match


def uniform_flips(rate: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Random noise: every comparison flipped with probability `rate`."""
    return lambda prompts: torch.full((len(prompts),), rate)


def concentrated_flips(fraction: float, n_digits: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Systematic noise: every comparison flipped on the prompts whose first digit is below
    fraction·n_digits (a fraction `fraction` of prompts), none elsewhere."""
    cutoff = round(fraction * n_digits)
    return lambda prompts: (prompts[:, 0] < cutoff).float()


# %% [markdown]
# ## Verification
#
# ### The SFT thresholds, token by token and on whole sequences
#
# {eq}`data-sft-threshold` for the three kinds of single-token noise, against a scan of $p$
# that finds where the mode of the mixture stops being the correct token ($n=10$, correct
# token 0).

# %%
N_DIGITS = 10
correct_token = 0
noise_kinds = {
    "uniform over all tokens": np.full(N_DIGITS, 1 / N_DIGITS),
    "uniform over wrong tokens": np.r_[0.0, np.full(N_DIGITS - 1, 1 / (N_DIGITS - 1))],
    "one fixed wrong token": np.eye(N_DIGITS)[3],
}
p_grid = np.linspace(0, 1, 100_001)  # (P,), step 1e-5
for name, q in noise_kinds.items():
    mixture = (1 - p_grid[:, None]) * np.eye(N_DIGITS)[correct_token] + p_grid[:, None] * q
    correct_is_mode = mixture[:, correct_token] > np.delete(mixture, correct_token, 1).max(1)
    scanned = p_grid[~correct_is_mode].min() if (~correct_is_mode).any() else 1.0
    wrong_max = np.delete(q, correct_token).max()
    closed_form = 1 / (1 + wrong_max - q[correct_token])  # eq. (data-sft-threshold)
    check_close(f"threshold p*, {name}", scanned, closed_form, atol=2e-5)

# %% [markdown]
# Whole sequences of the toy ($L=4$): greedy decoding from the exact mixture over all $10^4$
# responses, for 20 random prompts and a grid of $p$ that avoids the tie at $\tfrac12$.
# Random responses: right for every $p<1$. The descending rule: right below $\tfrac12$, and
# above it right only on prompts whose digits are all equal.

# %%
LENGTH = 4
responses_all = all_responses(N_DIGITS, LENGTH)  # (10^4, 4)
check_prompts = rng.integers(0, N_DIGITS, size=(20, LENGTH))  # (20, 4)
rates = np.array([0.1, 0.3, 0.45, 0.55, 0.7, 0.9, 0.99])
bayes_greedy = {"random": [], "systematic": []}
for rate in rates:
    for kind in bayes_greedy:
        right = []
        for digits in check_prompts:
            correct, descending = np.sort(digits), np.sort(digits)[::-1]
            mass = sft_mixture(
                responses_all, correct, None if kind == "random" else descending, rate
            )
            decoded = greedy_decode_distribution(responses_all, mass, N_DIGITS)
            right.append(bool((decoded == correct).all()))
        bayes_greedy[kind].append(np.mean(right))
all_equal = np.mean([len(set(d)) == 1 for d in check_prompts])
expected_random = np.ones(len(rates))
expected_systematic = np.where(rates < 0.5, 1.0, all_equal)
check_close(
    "Bayes SFT, random responses: greedy exact match",
    bayes_greedy["random"],
    expected_random,
    atol=0.0,
)
check_close(
    "Bayes SFT, descending rule: greedy exact match",
    bayes_greedy["systematic"],
    expected_systematic,
    atol=0.0,
)

# %% [markdown]
# ### The noisy Bradley–Terry optimum: closed form vs optimisation
#
# Minimise {eq}`data-bt-loss` over the margin by L-BFGS, for a grid of true margins
# $\Delta$ and flip rates $\varepsilon$ (float64), and compare with {eq}`data-bt-optimum`;
# then check the three properties: sign kept and $|m^\star|<|\Delta|$ for
# $\varepsilon<\tfrac12$, saturation {eq}`data-bt-saturation`, and the slope
# $1-2\varepsilon$ at $\Delta=0$ by autograd.

# %%
deltas = torch.tensor([-4.0, -1.0, -0.2, 0.3, 1.0, 2.5, 6.0], dtype=torch.float64)  # (D,)
epsilons = [0.0, 0.1, 0.27, 0.45, 0.6]
argmins, optima = [], []
for eps in epsilons:
    margin = torch.zeros_like(deltas, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [margin],
        lr=1.0,
        max_iter=200,
        tolerance_grad=1e-14,
        tolerance_change=1e-16,
        line_search_fn="strong_wolfe",
    )

    def closure(
        optimizer: torch.optim.Optimizer = optimizer,
        margin: torch.Tensor = margin,
        eps: float = eps,
    ) -> torch.Tensor:
        optimizer.zero_grad()
        loss = noisy_bt_loss(margin, deltas, eps).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    argmins.append(margin.detach())
    optima.append(noisy_bt_optimum(deltas, eps))  # eq. (data-bt-optimum)
argmins, optima = torch.stack(argmins), torch.stack(optima)  # (ε, Δ)
check_close("L-BFGS argmin of the noisy BT loss vs closed form", argmins, optima, atol=1e-6)
below_half = torch.tensor(epsilons) < 0.5  # (ε,)
check_true(
    "ε < 1/2: every sign kept and |m*| ≤ |Δ|; ε > 1/2: every sign reversed",
    bool(
        (torch.sign(optima[below_half]) == torch.sign(deltas)).all()
        and (optima[below_half].abs() <= deltas.abs() + 1e-12).all()
        and (torch.sign(optima[~below_half]) == -torch.sign(deltas)).all()
    ),
    f"ε in {epsilons}, Δ in {deltas.tolist()}",
)

# %%
for eps in (0.1, 0.27):
    far = noisy_bt_optimum(torch.tensor(40.0, dtype=torch.float64), eps)
    check_close(
        f"ε = {eps}: m* at Δ = 40 vs ln((1-ε)/ε)", far, math.log((1 - eps) / eps), atol=1e-9
    )
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(noisy_bt_optimum(zero, eps), zero)
    check_close(f"ε = {eps}: dm*/dΔ at 0 (autograd) vs 1 - 2ε", slope, 1 - 2 * eps, atol=1e-12)
print(f"saturated margin at ε = 0.1: {math.log(0.9 / 0.1):.2f} nats")

# %% [markdown]
# The gradient of the noisy loss at $m=0$ is the clean one times $1-2\varepsilon$ (autograd
# vs closed form), and the noisy labels themselves have mean {eq}`data-bt-noisy`, a
# Monte-Carlo check on 20,000 simulated labels for $\Delta=1$, $\varepsilon=0.2$.

# %%
delta_one = torch.tensor(1.0, dtype=torch.float64)
for eps in (0.1, 0.3):
    m0 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (noisy_grad,) = torch.autograd.grad(noisy_bt_loss(m0, delta_one, eps), m0)
    m0 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (clean_grad,) = torch.autograd.grad(noisy_bt_loss(m0, delta_one, 0.0), m0)
    check_close(
        f"ε = {eps}: noisy gradient at m = 0 / clean gradient",
        noisy_grad / clean_grad,
        1 - 2 * eps,
        atol=1e-12,
    )
label_generator = torch.Generator().manual_seed(4)
true_labels = torch.rand(20_000, generator=label_generator) < torch.sigmoid(delta_one)
flipped = torch.rand(20_000, generator=label_generator) < 0.2
noisy_labels = (true_labels ^ flipped).double()  # 1 = "y_w preferred"
check_mean_close(
    "noisy labels prefer y_w with prob ε + (1-2ε)σ(Δ)",
    noisy_labels,
    noisy_preference_probability(delta_one, 0.2).item(),
    z_max=4,
)

# %% [markdown]
# ### Borda advantages, GRPO's advantages, and the $(1-2\varepsilon)$ factor
#
# With verifier labels, {eq}`data-borda-grpo` against the shared `group_advantages`
# (`std="none"`, derived in [chapter 07](07_grpo.ipynb)), exactly. Then the expectation
# {eq}`data-pg-noisy`: over 4,000 draws of the flips, the projection of the noisy advantages
# on the clean ones, $\langle\tilde A,A\rangle/\lVert A\rVert^2$, has mean $1-2\varepsilon$.

# %%
K = 4
reward_generator = torch.Generator().manual_seed(5)
group_rewards = (torch.rand(64, K, generator=reward_generator) < 0.4).float()  # (64, 4)
no_flips = torch.zeros(64)
clean_advantages = borda_advantages(pairwise_labels(group_rewards, no_flips, reward_generator), K)
check_close(
    "Borda advantages vs K/(K-1) · group_advantages(std='none')",
    clean_advantages,
    K / (K - 1) * group_advantages(group_rewards, std="none"),
    atol=1e-6,
)
N_DRAWS = 4000
many_groups = group_rewards.repeat(N_DRAWS, 1)  # (N_DRAWS · 64, 4): the same groups, redrawn
for eps in (0.2, 0.7):
    labels = pairwise_labels(many_groups, torch.full((len(many_groups),), eps), reward_generator)
    noisy = borda_advantages(labels, K).view(N_DRAWS, 64, K)  # one draw of the flips per row
    projections = (noisy * clean_advantages).sum((1, 2)) / clean_advantages.pow(2).sum()
    check_mean_close(f"ε = {eps}: E[noisy A]·A / |A|² = 1 - 2ε", projections, 1 - 2 * eps, z_max=4)

# %% [markdown]
# ### Counting comparisons, and the labelers' agreement
#
# {eq}`data-pairs` by `math.comb` and by enumerating the pairs, the errata's two values, and
# the informative pairs $c(K-c)$ of a 0/1 verifier by enumeration.

# %%
for k in range(2, 10):
    enumerated = sum(1 for _ in itertools.combinations(range(k), 2))
    check_equal(
        f"K = {k}: C(K, 2) by math.comb vs enumeration", math.comb(k, 2), enumerated, quiet=True
    )
    check_equal(f"K = {k}: pair_indices count", len(pair_indices(k)[0]), enumerated, quiet=True)
check_equal("K = 4 responses give 6 comparisons", math.comb(4, 2), 6)
check_equal("K = 9 responses give 36 comparisons", math.comb(9, 2), 36)
for k, c in [(4, 1), (4, 2), (9, 3)]:
    outcomes = [1] * c + [0] * (k - c)
    informative = sum(a != b for a, b in itertools.combinations(outcomes, 2))
    check_equal(f"K = {k}, c = {c}: informative pairs = c(K - c)", informative, c * (k - c))

# %%
agreement = 0.726  # InstructGPT, training labelers
eps_labeler = flip_rate_from_agreement(agreement)  # eq. (data-agreement)
check_close(
    "flip rate reproduces the agreement",
    (1 - eps_labeler) ** 2 + eps_labeler**2,
    agreement,
    atol=1e-12,
)
check_close(
    "(1 - 2ε)^-2 = 1 / (2a - 1)", (1 - 2 * eps_labeler) ** -2, 1 / (2 * agreement - 1), atol=1e-12
)
print(
    f"agreement {agreement:.1%} → ε = {eps_labeler:.3f} per labeler, "
    f"{(1 - 2 * eps_labeler) ** -2:.2f}× the comparisons of noise-free labels"
)

# %% [markdown]
# ## Experiments
#
# ### Set-up
#
# The toy is the book's sort task with `SortTask(length=4)` (4 digits, shorter than the
# default 6 so that all the training runs fit the time budget) and the shared 2-layer,
# 4-head, $d=64$ GPT. The starting checkpoint $\pi_0$ is trained by the shared `train_sft`
# on clean demonstrations, 60 steps of 64 fresh examples; every run of Experiment 1 starts
# from a copy of it. The true objective is the exact match on 500 held-out prompts drawn
# from their own generator, read two ways: **greedy** (the mode) and **sampled** at
# temperature 1 (the policy's expected reward, what RL maximises).

# %%
task = SortTask(length=LENGTH)
eval_prompts = task.prompts(500, torch.Generator().manual_seed(2024))  # (500, 5), held out


def evaluate(model: GPT) -> tuple[float, float]:
    """Held-out exact match of the greedy and of a sampled (temperature 1) response."""
    samples = sample_responses(
        model, eval_prompts, task.length, generator=torch.Generator().manual_seed(3)
    )
    sampled = task.reward(eval_prompts, samples).mean().item()
    return greedy_exact_match(model, task, eval_prompts), sampled


torch.manual_seed(0)
base_policy = GPT(task.model_config())
initial_greedy, initial_sampled = evaluate(base_policy)
train_sft(base_policy, task, steps=60, generator=torch.Generator().manual_seed(1), batch_size=64)
base_greedy, base_sampled = evaluate(base_policy)
print(
    f"π_0: greedy exact match {initial_greedy:.3f} → {base_greedy:.3f}, "
    f"sampled {initial_sampled:.3f} → {base_sampled:.3f} after 60 SFT steps"
)


def copy_of_base() -> GPT:
    """A fresh copy of π_0, the starting point of every run of Experiment 1."""
    policy = GPT(task.model_config())
    policy.load_state_dict(base_policy.state_dict())
    return policy


# %% [markdown]
# ### 1. Label noise: corrupted demonstrations vs flipped comparisons
#
# Both arms continue from $\pi_0$ with the same optimiser (AdamW, learning rate
# $3\cdot10^{-4}$) for the same 40 steps:
#
# - **SFT** (`train_sft` with `data=noisy_demonstrations(...)`): 32 demonstrations per step,
#   a fraction $p$ corrupted, by random digits or by the descending rule.
# - **Preference policy gradient** (`train_preference_pg`): 16 fresh prompts per step, 4
#   samples each, all 6 pairs compared by a verifier whose label is flipped with probability
#   $\varepsilon$ (random), or always flipped on the prompts whose first digit is below
#   $10\varepsilon$ (systematic: a fraction $\varepsilon$ of the prompts, the same average
#   rate).
#
# So SFT sees 1,280 demonstrations and the preference learner 640 prompts and 3,840
# comparisons; a preference step costs more than an SFT step, most of it in sampling. One
# seed per run, so differences of a few hundredths are noise (the standard error of an
# exact match on 500 prompts is about 0.02): the checks below rely on differences of 0.05
# or more, except the one that says "at the level of".

# %%
NOISE_STEPS, NOISE_LR = 40, 3e-4
SFT_RATES = {"random": (0.0, 0.2, 0.8), "systematic": (0.4, 0.8)}
PG_RATES = {"random": (0.0, 0.2, 0.6), "systematic": (0.4,)}
PG_EVAL_AT = (20, 40)
sft_results: dict[str, dict[float, tuple[float, float]]] = {"random": {}, "systematic": {}}
descending_stats: dict[float, tuple[float, float]] = {}
for kind, rates_of_kind in SFT_RATES.items():
    for rate in rates_of_kind:
        policy = copy_of_base()
        train_sft(
            policy,
            task,
            steps=NOISE_STEPS,
            generator=torch.Generator().manual_seed(5),
            batch_size=32,
            lr=NOISE_LR,
            data=noisy_demonstrations(task, rate, kind),
        )
        sft_results[kind][rate] = evaluate(policy)
        if kind == "systematic":  # has the greedy answer switched to the descending rule?
            greedy = sample_responses(policy, eval_prompts, task.length, temperature=0.0)
            first_is_min = greedy[:, 0] == eval_prompts[:, : task.length].min(dim=1).values
            is_descending = (greedy == task.solve(eval_prompts).flip(1)).all(dim=1)
            descending_stats[rate] = (
                first_is_min.float().mean().item(),
                is_descending.float().mean().item(),
            )
sft_results["systematic"][0.0] = sft_results["random"][0.0]  # the clean run is shared

# %%
pg_results: dict[str, dict[float, tuple[float, float]]] = {"random": {}, "systematic": {}}
pg_curves: dict[float, dict[int, tuple[float, float]]] = {}
subset_exact_match: dict[float, tuple[float, float]] = {}
for kind, rates_of_kind in PG_RATES.items():
    for rate in rates_of_kind:
        policy = copy_of_base()
        if kind == "random":
            flips = uniform_flips(rate)
        else:
            flips = concentrated_flips(rate, task.n_digits)
        curve = train_preference_pg(
            policy,
            task,
            steps=NOISE_STEPS,
            lr=NOISE_LR,
            generator=torch.Generator().manual_seed(7),
            flip_rate=flips,
            evaluate=evaluate,
            eval_at=PG_EVAL_AT,
        )
        pg_results[kind][rate] = curve[NOISE_STEPS]
        if kind == "random":
            pg_curves[rate] = curve
        else:  # greedy exact match where the labeler is always wrong, and elsewhere
            greedy = sample_responses(policy, eval_prompts, task.length, temperature=0.0)
            right = task.reward(eval_prompts, greedy)  # (500,)
            hit = flips(eval_prompts).bool()  # (500,)
            subset_exact_match[rate] = (right[hit].mean().item(), right[~hit].mean().item())
pg_results["systematic"][0.0] = pg_results["random"][0.0]
print(f"CPU time so far {time.process_time() - cpu_start:.1f} s")

# %%
print(f"start π_0: greedy {base_greedy:.3f}, sampled {base_sampled:.3f}")
for arm, results in (("SFT", sft_results), ("preference PG", pg_results)):
    for kind, by_rate in results.items():
        for rate, (greedy, sampled) in sorted(by_rate.items()):
            print(
                f"{arm:>13} {kind:>10} noise {rate:.1f}: greedy {greedy:.3f}, sampled {sampled:.3f}"
            )
for rate, (hit, rest) in subset_exact_match.items():
    print(
        f"flips on every prompt whose first digit is < {round(10 * rate)}: greedy exact match "
        f"{hit:.3f} on those prompts, {rest:.3f} on the others"
    )

# %% [markdown]
# The claims of the prose below, checked on these runs: clean training improves the true
# objective in both arms; at a noise rate of 0.2 the preference learner's samples stay at
# $\pi_0$'s level (within 0.02) while SFT's fall far below it; past one half the flips
# reverse the preference learner; the descending rule at $p=0.8$ destroys SFT's greedy
# answer while $p=0.4$ does not; and the concentrated flips make the policy wrong where the
# labeler is wrong.

# %%
sft_clean, pg_clean = sft_results["random"][0.0], pg_results["random"][0.0]
check_true(
    "clean SFT improves on π_0 (greedy and sampled)",
    sft_clean[0] > base_greedy and sft_clean[1] > base_sampled + 0.03,
    f"greedy {base_greedy:.3f} → {sft_clean[0]:.3f}, "
    f"sampled {base_sampled:.3f} → {sft_clean[1]:.3f}",
)
check_true(
    "clean preference PG improves on π_0 (sampled)",
    pg_clean[1] > base_sampled + 0.02,
    f"sampled {base_sampled:.3f} → {pg_clean[1]:.3f}",
)
pg_02, sft_02 = pg_results["random"][0.2][1], sft_results["random"][0.2][1]
check_true(
    "noise 0.2: PG's samples stay at the level of π_0's, SFT's fall far below",
    pg_02 > base_sampled - 0.02 and sft_02 < base_sampled - 0.1,
    f"PG {pg_02:.3f}, π_0 {base_sampled:.3f}, SFT {sft_02:.3f}",
)
check_true(
    "flips at ε = 0.6 reverse the preference learner",
    pg_results["random"][0.6][0] < base_greedy / 2,
    f"greedy {base_greedy:.3f} → {pg_results['random'][0.6][0]:.3f}",
)
systematic_sft = sft_results["systematic"]
check_true(
    "descending rule: p = 0.4 keeps SFT's greedy answer above half of π_0's, p = 0.8 does not",
    systematic_sft[0.4][0] > base_greedy / 2 > systematic_sft[0.8][0],
    f"{systematic_sft[0.4][0]:.3f} > {base_greedy / 2:.3f} > {systematic_sft[0.8][0]:.3f}",
)
hit, rest = subset_exact_match[0.4]
check_true(
    "concentrated flips: wrong where the labeler is wrong, right elsewhere",
    hit < rest - 0.2,
    f"{hit:.3f} on the flipped prompts vs {rest:.3f} elsewhere",
)

# %% [markdown]
# Random corrupted targets: the measured sampled exact match should lie between the two
# predictions of the Derivation, the per-token model {eq}`data-sft-compound` below and the
# exact optimum {eq}`data-sft-sampled` above (times the clean run's own exact match, since 40
# steps do not reach the optimum even without noise).

# %%
for rate in SFT_RATES["random"][1:]:
    measured = sft_results["random"][rate][1]
    per_token = ((1 - rate) + rate / N_DIGITS) ** LENGTH  # eq. (data-sft-compound)
    optimum = ((1 - rate) + rate / N_DIGITS**LENGTH) * sft_clean[1]  # eq. (data-sft-sampled)
    check_true(
        f"p = {rate}: per-token model ≤ measured sampled exact match ≤ optimum",
        per_token <= measured <= optimum,
        f"{per_token:.3f} ≤ {measured:.3f} ≤ {optimum:.3f}",
    )

# %% [markdown]
# The figure puts the measurements next to the infinite-data predictions of the Derivation:
# (a) the exact optimum, {eq}`data-sft-sampled` and the threshold rules for SFT, and for the
# preference learner the maximiser of $(1-2\varepsilon)J$; (b) and (c) the measured greedy
# and sampled exact match after the 40 steps, with $\pi_0$ as a dotted line.

# %%
theory_rates = np.linspace(0, 1, 201)
p_all_equal = N_DIGITS ** (1 - LENGTH)
theory = {  # name: (values, colour, line style, width): wide lines lie under coinciding ones
    "SFT random: greedy": (np.where(theory_rates < 1, 1.0, 0.0), PALETTE[0], "-", 5.0),
    "SFT random: sampled": (
        (1 - theory_rates) + theory_rates / N_DIGITS**LENGTH,  # eq. (data-sft-sampled)
        PALETTE[0],
        "-",
        5.0,
    ),
    "SFT random: sampled, per-token model": (
        ((1 - theory_rates) + theory_rates / N_DIGITS) ** LENGTH,  # eq. (data-sft-compound)
        PALETTE[0],
        ":",
        2.0,
    ),
    "SFT descending: greedy": (
        np.where(theory_rates < 0.5, 1.0, p_all_equal),
        PALETTE[1],
        "-",
        3.0,
    ),
    "SFT descending: sampled": (
        (1 - theory_rates) + theory_rates * p_all_equal,
        PALETTE[1],
        "--",
        2.0,
    ),
    "preference flips: greedy = sampled": (
        np.where(theory_rates < 0.5, 1.0, 0.0),
        PALETTE[2],
        "--",
        1.5,
    ),
}
arms = {
    "SFT, random targets": (sft_results["random"], PALETTE[0], "o-"),
    "SFT, descending rule": (sft_results["systematic"], PALETTE[1], "s-"),
    "preference PG, random flips": (pg_results["random"], PALETTE[2], "o-"),
    "preference PG, concentrated flips": (pg_results["systematic"], PALETTE[3], "s-"),
}
fig, (ax_theory, ax_greedy, ax_sampled) = plt.subplots(1, 3, figsize=(15, 4.8))
for name, (values, colour, style, width) in theory.items():
    ax_theory.plot(theory_rates, values, style, color=colour, label=name, lw=width, alpha=0.85)
for label, (results, colour, style) in arms.items():
    rates_sorted = sorted(results)
    for column, ax in ((0, ax_greedy), (1, ax_sampled)):
        ax.plot(
            rates_sorted,
            [results[r][column] for r in rates_sorted],
            style,
            color=colour,
            label=label,
        )
for ax, start, what, letter in (
    (ax_greedy, base_greedy, "greedy", "b"),
    (ax_sampled, base_sampled, "sampled", "c"),
):
    ax.axhline(start, color="k", ls=":", lw=1.2, label=f"π_0 ({start:.2f})")
    ax.axvline(0.5, color="0.6", lw=0.8)
    ax.set(
        xlabel="noise rate p or ε",
        ylabel=f"held-out exact match ({what})",
        ylim=(-0.02, 1.02),
        title=f"({letter}) measured after 40 steps, {what}",
    )
ax_theory.axvline(0.5, color="0.6", lw=0.8)
ax_theory.set(
    xlabel="noise rate p or ε",
    ylabel="exact match of the optimum",
    title="(a) infinite data, exact optimum",
    ylim=(-0.02, 1.02),
)
ax_theory.legend(fontsize=7.5, loc="lower left")
ax_sampled.legend(fontsize=7.5, loc="upper right")
fig.suptitle(
    f"At a noise rate of 0.2, flipped comparisons leave the samples at {pg_02:.2f} (π_0: "
    f"{base_sampled:.2f}) while corrupted demonstrations cut them to {sft_02:.2f}; "
    "past 1/2, or concentrated, flips are learned"
)
plt.show()

# %% [markdown]
# Reading the numbers (printed above):
#
# - **SFT imitates.** With random corrupted targets, SFT's greedy answer degrades slowly, as
#   {eq}`data-sft-threshold` promises for noise spread over $10^4$ responses, while its
#   samples fall much faster than $1-p$: between the exact optimum and the per-token curve,
#   so this small model only partly learned to tell a noisy prefix from a clean one. At
#   $p=0.8$ the greedy answer falls too: the threshold $p^\star=1$ holds in the limit of
#   infinite data, and in 40 steps the thin clean signal cannot outweigh four times as much
#   noise. With the descending rule, $p=0.4$ leaves most greedy answers right (the first
#   token is the minimum on nearly every prompt) and $p=0.8$ destroys them, on either side of
#   the threshold $\tfrac12$. At $p=0.8$ the model does not
#   write the descending sort either (the next cell counts it): its first token is still
#   mostly the minimum and it goes wrong later in the answer. After 40 steps it is between
#   the two rules, not yet at the optimum the Derivation describes.
# - **The preference learner averages random flips out** below one half: at $\varepsilon=0.2$
#   its samples stay at $\pi_0$'s level or a little above, where clean labels raised them, as
#   the weaker signal of {eq}`data-pg-noisy` predicts. At $\varepsilon=0.6$ it
#   descends the true objective, fast: a reversed signal of strength
#   $|1-2\varepsilon|=0.2$ is still a signal.
# - **Systematic flips are learned.** With every comparison flipped on the prompts whose first
#   digit is below 4, the policy becomes wrong on exactly those prompts and not on the
#   others.
# - **Which tolerated noise better here?** At a rate of 0.2, the preference data: random
#   flips cost them little, while the same rate of random corrupted demonstrations wrecked
#   SFT's samples (its greedy answers held up). The rates are not commensurable, though. A
#   comparison has two possible answers, so a flip hands all its weight to the single wrong
#   one (threshold $\tfrac12$); a corrupted demonstration spreads its weight over $10^4$
#   wrong responses (threshold 1 for the mode). And the toy favours the preference learner:
#   its labeler is a verifier whose errors are independent of everything, the one kind of
#   noise that {eq}`data-pg-noisy` averages out. Real preference noise is partly systematic.

# %%
for rate, (first_is_min, descending) in descending_stats.items():
    print(
        f"descending rule at p = {rate}: the first token is the minimum in {first_is_min:.3f} "
        f"of prompts; the whole answer is the descending sort in {descending:.3f}"
    )

# %% [markdown]
# ### 2. How much data each needs
#
# **SFT from scratch** (`train_sft`, 60 steps of 64, the recipe of $\pi_0$) on a fixed set
# of $N$ unique demonstrations, resampled with replacement, against $\pi_0$ itself, which saw
# 3,840 fresh ones. **The preference learner** starts from $\pi_0$ and sees 16 fresh prompts
# per step, so its exact match at steps 20 and 40 of the runs above is a learning curve
# in the number of unique prompts (320 and 640), for each flip rate. RL cannot start from
# scratch here: a random policy almost never sorts 4 digits (the untrained model's exact
# match is printed in the Set-up), so almost every group has $c=0$ and no informative pair
# {eq}`data-pairs`.

# %%
SFT_SIZES = (64, 512)
sft_size_results: dict[int, tuple[float, float]] = {}
for n_unique in SFT_SIZES:
    torch.manual_seed(0)
    policy = GPT(task.model_config())
    data = limited_demonstrations(task, n_unique, torch.Generator().manual_seed(10 + n_unique))
    train_sft(
        policy, task, steps=60, generator=torch.Generator().manual_seed(1), batch_size=64, data=data
    )
    sft_size_results[n_unique] = evaluate(policy)
sft_size_results[60 * 64] = (base_greedy, base_sampled)  # π_0: every example fresh
for n_unique, (greedy, sampled) in sft_size_results.items():
    print(
        f"SFT from scratch, {n_unique:>5} unique demonstrations: greedy {greedy:.3f}, "
        f"sampled {sampled:.3f}"
    )
for rate, curve in pg_curves.items():
    steps_text = ", ".join(f"{16 * s} prompts {em[1]:.3f}" for s, em in curve.items())
    print(f"preference PG, ε = {rate:.1f}, sampled: start {base_sampled:.3f}; {steps_text}")
factors = {eps: (1 - 2 * eps) ** -2 for eps in (0.2, 0.4)}  # eq. (data-snr)
print(
    "comparisons needed vs clean labels: "
    + ", ".join(f"ε = {e}: {f:.1f}×" for e, f in factors.items())
)

# %%
sizes = sorted(sft_size_results)
check_true(
    "SFT from scratch: more unique demonstrations, higher held-out exact match",
    bool(np.all(np.diff([sft_size_results[n][0] for n in sizes]) > 0)),
    " < ".join(f"{sft_size_results[n][0]:.3f}" for n in sizes),
)
clean_curve = [base_sampled] + [pg_curves[0.0][s][1] for s in PG_EVAL_AT]
check_true(
    "clean preference PG: sampled exact match ends above where it started",
    clean_curve[-1] > clean_curve[0],
    " → ".join(f"{v:.3f}" for v in clean_curve),
)

# %%
fig, (ax_sft, ax_pg) = plt.subplots(1, 2, figsize=(12, 4.4))
for column, style, what in ((0, "o-", "greedy"), (1, "o--", "sampled")):
    ax_sft.semilogx(
        sizes, [sft_size_results[n][column] for n in sizes], style, color=PALETTE[0], label=what
    )
ax_sft.set(
    xlabel="unique demonstrations (60 steps of 64 in every run)",
    ylabel="held-out exact match",
    ylim=(-0.02, 1.02),
    title="SFT from scratch",
)
ax_sft.legend()
for colour, (rate, curve) in zip(PALETTE[2:], pg_curves.items(), strict=False):
    prompts_seen = [0] + [16 * s for s in curve]
    ax_pg.plot(
        prompts_seen,
        [base_sampled] + [em[1] for em in curve.values()],
        "o-",
        color=colour,
        label=f"ε = {rate:.1f}",
    )
ax_pg.set(
    xlabel="unique prompts (each sampled 4 times, 6 comparisons)",
    ylabel="held-out exact match (sampled)",
    title="Preference PG from π_0",
)
ax_pg.legend()
fig.suptitle(
    f"SFT from scratch: {sft_size_results[sizes[0]][0]:.2f} greedy exact match from {sizes[0]} "
    f"demonstrations, {sft_size_results[sizes[-1]][0]:.2f} from {sizes[-1]}\n"
    f"Preference PG from π_0: samples {base_sampled:.2f} → "
    f"{pg_curves[0.0][PG_EVAL_AT[-1]][1]:.2f} in {16 * PG_EVAL_AT[-1]} prompts; flips at "
    f"ε = 0.6 drive them to {pg_curves[0.6][PG_EVAL_AT[-1]][1]:.2f}"
)
plt.show()

# %% [markdown]
# Reading the numbers: SFT is the stage that teaches the task. Even 64 distinct
# demonstrations taught much of it here (sorting generalises from few examples), and more
# distinct examples kept helping, the same trade-off of quantity against diversity that
# LIMA's 1,000 curated examples make on a model that already knows language. The
# preference learner starts where SFT left off; its prompts carry no answers, only a
# checker, and its progress per prompt is smaller and noisier, more so as $\varepsilon$
# grows: {eq}`data-snr` asks for the factors printed above for the same precision. The
# limits of the toy: one seed per run, 500 evaluation prompts, a labeler whose noise is
# perfectly independent of the content, and a task where a demonstration is a complete,
# checkable answer.


# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Comparing is easier than writing, so preference labels are cleaner." True?
# Comparing is cheaper, not cleaner. InstructGPT's labelers agreed on 72.6 ± 1.5 % of
# comparisons (held-out labelers 77.3 ± 1.3 %) {cite}`ouyang2022training`: under the
# symmetric model {eq}`data-agreement` each flips about one comparison in six. What makes
# preference data *robust* is not its quality but the shape of the loss: a flip at rate
# $\varepsilon<\tfrac12$ only rescales the Bradley–Terry optimum and the policy gradient,
# whereas SFT reproduces whatever is in its targets.
# :::
#
# :::{dropdown} "RL needs more data than SFT." Is it?
# Count what you mean. Per stage, InstructGPT's prompt sets were of one size (≈ 13k SFT, ≈ 33k
# RM, ≈ 31k PPO); RLVR runs use thousands to tens of thousands of prompts (DAPO: 17k)
# {cite}`yu2025dapo`. Per unit of *information*, RL needs more: a comparison is at most one
# bit and a 0/1 reward of one sample even less when most samples succeed or fail together
# ($c(K-c)$ informative pairs out of $\binom K2$). Per unit of *human effort*, preference data
# are cheaper, which is why Llama 2 could collect more than a million comparisons
# {cite}`touvron2023llama2`. And rollouts are generated on the fly, so the RL data set is a
# prompt pool, not a set of answers.
# :::
#
# :::{dropdown} Why a policy gradient here, and not DPO on a fixed set of pairs?
# DPO is the cheaper method per step, so it was the first choice. The next cell runs it with
# the budget of Experiment 1: pairs of a correct and a wrong response sampled once from
# $\pi_0$ (4 samples for each of 500 training prompts), $\beta=0.1$, the same optimiser, 40
# steps of 32 pairs. On this toy it *lowered* the held-out exact match (printed below): the
# log-probabilities of both responses fell, the rejected ones much further, and the
# probability pushed off the fixed wrong answers went to other wrong answers, not to the
# right one ([chapter 02](02_dpo.ipynb) discusses this failure of DPO). Sampling the pairs
# from the *current* policy fixes that, but then a DPO step costs as much as a
# policy-gradient step, and the policy gradient is the simpler of the two. The noise
# analysis covers DPO too: its loss is {eq}`data-bt-loss` with the implicit reward
# $\beta\log\frac{\pi_\theta}{\pi_0}$, so flipped labels cap its implicit margin at
# $\ln\frac{1-\varepsilon}{\varepsilon}$
# {eq}`data-bt-saturation`.
# :::

# %%
pair_generator = torch.Generator().manual_seed(11)
pair_prompts = task.prompts(500, pair_generator)  # (500, 5), training prompts
repeated = pair_prompts.repeat_interleave(K, dim=0)  # (2000, 5)
pair_samples = sample_responses(base_policy, repeated, task.length, generator=pair_generator)
pair_samples = pair_samples.view(500, K, task.length)  # (500, 4, 4)
pair_rewards = task.reward(repeated, pair_samples.view(-1, task.length)).view(500, K)
first, second = pair_indices(K)
prompt_index, pair_index = (pair_rewards[:, first] != pair_rewards[:, second]).nonzero(
    as_tuple=True
)  # the informative pairs, c(K - c) per prompt
first_wins = pair_rewards[prompt_index, first[pair_index]] > 0
chosen_index = torch.where(first_wins, first[pair_index], second[pair_index])
rejected_index = torch.where(first_wins, second[pair_index], first[pair_index])
dpo_prompts = pair_prompts[prompt_index]  # (N, 5)
chosen = pair_samples[prompt_index, chosen_index]  # (N, 4): always the correct sort
rejected = pair_samples[prompt_index, rejected_index]  # (N, 4)


def pair_logprobs(model: GPT) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(y_w | x) and log π(y_l | x) of every pair, each of shape (N,)."""
    return (
        response_logprobs(model, dpo_prompts, chosen).sum(1),
        response_logprobs(model, dpo_prompts, rejected).sum(1),
    )


with torch.no_grad():
    ref_chosen, ref_rejected = pair_logprobs(base_policy)
dpo_policy, dpo_beta = copy_of_base(), 0.1
optimizer = torch.optim.AdamW(dpo_policy.parameters(), lr=NOISE_LR, weight_decay=0.0)
batch_generator = torch.Generator().manual_seed(12)
for _ in range(NOISE_STEPS):
    index = torch.randint(0, len(dpo_prompts), (32,), generator=batch_generator)  # (32,)
    logp_chosen = response_logprobs(dpo_policy, dpo_prompts[index], chosen[index]).sum(1)
    logp_rejected = response_logprobs(dpo_policy, dpo_prompts[index], rejected[index]).sum(1)
    # DPO: eq. (data-bt-loss) with ε = 0 on the implicit rewards (chapter 02)
    loss = dpo_loss(logp_chosen, logp_rejected, ref_chosen[index], ref_rejected[index], dpo_beta)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
with torch.no_grad():
    new_chosen, new_rejected = pair_logprobs(dpo_policy)
dpo_greedy, dpo_sampled = evaluate(dpo_policy)
print(
    f"offline DPO on {len(dpo_prompts)} pairs: greedy {base_greedy:.3f} → {dpo_greedy:.3f}, "
    f"sampled {base_sampled:.3f} → {dpo_sampled:.3f}; mean change of log π: chosen "
    f"{(new_chosen - ref_chosen).mean():+.2f}, rejected {(new_rejected - ref_rejected).mean():+.2f}"
)
check_true(
    "offline DPO lowered the held-out greedy exact match",
    dpo_greedy < base_greedy,
    f"{base_greedy:.3f} → {dpo_greedy:.3f}",
)

# %% [markdown]
# :::{dropdown} If I know my flip rate, can I correct for it?
# Yes, for random flips. Training on the noisy loss with the labels smoothed, $\ell_\varepsilon$
# of {eq}`data-bt-loss`, is "conservative DPO" (the `label_smoothing` option of the DPO
# reference code {cite}`mitchell2023dpo`): it targets the finite margin
# {eq}`data-bt-saturation` instead of an infinite one. Robust DPO {cite}`chowdhury2024provably`
# goes the other way and *debiases*: with $\ell(h)=-\log\sigma(h)$ it minimises
# $\big[(1-\varepsilon)\ell(h)-\varepsilon\ell(-h)\big]/(1-2\varepsilon)$, whose expectation
# over the flips is exactly the clean loss, at the price of a variance that grows like
# $1/(1-2\varepsilon)^2$. The next cell checks the unbiasedness. Neither helps with
# systematic noise, which is not a rate.
# :::

# %%
margins = torch.linspace(-3, 3, 13, dtype=torch.float64)  # (13,): h for a pair whose y_w is right


def logistic_loss(h: torch.Tensor) -> torch.Tensor:
    return -F.logsigmoid(h)


for eps in (0.1, 0.3):

    def robust_loss(h: torch.Tensor, eps: float = eps) -> torch.Tensor:
        return ((1 - eps) * logistic_loss(h) - eps * logistic_loss(-h)) / (1 - 2 * eps)

    expected = (1 - eps) * robust_loss(margins) + eps * robust_loss(-margins)  # over flips
    check_close(
        f"ε = {eps}: E over flips of the robust-DPO loss = clean loss",
        expected,
        logistic_loss(margins),
        atol=1e-12,
    )

# %% [markdown]
# :::{dropdown} Does more data fix systematic noise?
# No. Random noise averages out because its expected effect is a rescaling ({eq}`data-bt-noisy`,
# {eq}`data-pg-noisy`); systematic noise has a nonzero expected effect in a *direction*, and
# more data estimates that direction more precisely. Experiment 1 shows the policy learning
# to be wrong on the prompts where the labeler is always wrong. Real cases: labelers who
# prefer longer or more confident answers, reward models that reward them, and policies that
# learn to produce them ({cite:t}`gao2023scaling`; [chapter 08](08_reward_hacking.ipynb)). The
# fixes are in the data: better guidelines, adjudication, checking agreement per category,
# verifiers where they exist.
# :::
#
# :::{dropdown} Why does the SFT model's greedy answer survive noise that ruins its samples?
# Greedy decoding keeps only the mode, and the mode survives as long as the correct answer has
# the plurality {eq}`data-sft-threshold`; sampling reproduces the whole learned distribution,
# which is a mixture with the noise {eq}`data-sft-sampled`. Anything that samples at
# temperature 1 (RL rollouts from this SFT model, best-of-$n$, self-consistency) inherits the
# noise. This is the precise version of the notes' "noise/bad answers directly teach bad
# habits".
# :::
#
# :::{dropdown} What does an RLVR data set contain, and what can go wrong with it?
# Prompts with something that checks an answer: a reference answer and a matching rule (math),
# unit tests (code), a format checker. Nothing is demonstrated, so the checker *is* the label,
# and its errors are systematic: a matcher that accepts a wrong form, tests that a degenerate
# program passes. Prompts the policy always or never solves give no signal ($c(K-c)=0$), which
# is why DAPO filters them out during training {cite}`yu2025dapo`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A labeler ranks $K=9$ responses to one prompt, and a verifier would mark 3 of them
#    correct. How many comparisons does the ranking imply, and how many of them could a 0/1
#    verifier have told apart?
#
#    :::{dropdown} Answer
#    $\binom92=36$ comparisons; only the $3\cdot6=18$ pairs of a correct and a wrong response
#    are informative to a verifier, the other 18 are ties to it. The next cell enumerates
#    them.
#    :::

# %%
outcomes = [1, 1, 1, 0, 0, 0, 0, 0, 0]
pairs = list(itertools.combinations(outcomes, 2))
check_equal("exercise 1: comparisons from a ranking of 9", len(pairs), 36)
check_equal("exercise 1: informative to a verifier", sum(a != b for a, b in pairs), 18)

# %% [markdown]
# 2. Your labelers agree on 80 % of comparisons. Under the symmetric model, what is each
#    labeler's flip rate, what margin does a perfectly separable pair get at the noisy
#    Bradley–Terry optimum, and how many more comparisons than with clean labels do you need?
#
#    :::{dropdown} Answer
#    $2a-1=0.6$, so $1-2\varepsilon=\sqrt{0.6}=0.775$ and $\varepsilon=0.113$; the saturated
#    margin is $\ln(0.887/0.113)=2.06$ nats; and $1/(2a-1)=1.67$ times the comparisons. The
#    next cell computes all three.
#    :::

# %%
eps_80 = flip_rate_from_agreement(0.8)
check_close("exercise 2: flip rate", eps_80, (1 - math.sqrt(0.6)) / 2, atol=1e-12)
saturated = noisy_bt_optimum(torch.tensor(50.0, dtype=torch.float64), eps_80).item()
check_close("exercise 2: saturated margin", saturated, math.log((1 - eps_80) / eps_80), atol=1e-9)
check_close("exercise 2: data factor", (1 - 2 * eps_80) ** -2, 1 / 0.6, atol=1e-12)
print(f"ε = {eps_80:.3f}, margin {saturated:.2f} nats, {(1 - 2 * eps_80) ** -2:.2f}× the data")

# %% [markdown]
# 3. A 4-way multiple-choice task is trained by SFT, and a fraction $p$ of the training
#    answers are replaced by one of the three wrong options, uniformly. Up to which $p$ does
#    the greedy answer stay correct? And if annotators always pick the same wrong option?
#
#    :::{dropdown} Answer
#    By {eq}`data-sft-threshold` with $q=(0,\tfrac13,\tfrac13,\tfrac13)$:
#    $p^\star=1/(1+\tfrac13)=\tfrac34$. With one fixed wrong option, $p^\star=\tfrac12$. The
#    next cell checks both by scanning $p$.
#    :::

# %%
for q_choice, expected_threshold in [
    (np.array([0.0, 1 / 3, 1 / 3, 1 / 3]), 0.75),
    (np.array([0.0, 1.0, 0.0, 0.0]), 0.5),
]:
    mixture = (1 - p_grid[:, None]) * np.eye(4)[0] + p_grid[:, None] * q_choice  # (P, 4)
    first_wrong = p_grid[mixture[:, 0] <= mixture[:, 1:].max(1)].min()
    check_close(
        f"exercise 3: threshold with q = {np.round(q_choice, 3)}",
        first_wrong,
        expected_threshold,
        atol=2e-5,
    )
print(f"CPU time for the whole notebook {time.process_time() - cpu_start:.1f} s")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`ouyang2022training`: Table 6 (about 13k SFT, 33k RM and 31k PPO training
#   prompts), Section 3.5 (rankings of $K=4$ to $9$ responses, all $\binom K2$ comparisons of
#   a prompt in one batch element), Section 3.4 (inter-annotator agreement 72.6 ± 1.5 % for
#   training labelers, 77.3 ± 1.3 % for held-out ones).
# - {cite:t}`zhou2023lima`: 1,000 curated SFT examples.
# - {cite:t}`touvron2023llama2`, Section 3.2.1: more than a million binary comparisons for
#   the reward models.
# - {cite:t}`yu2025dapo`: the 17k-prompt DAPO-Math data set with integer answers, and the
#   filtering of groups whose samples all succeed or all fail.
# - {cite:t}`bradley1952rank`: the paired-comparison model {eq}`data-bt`.
# - {cite:t}`rafailov2023direct`: DPO's loss as a Bradley–Terry loss on an implicit reward.
# - {cite:t}`mitchell2023dpo`: the reference DPO code's `label_smoothing` (conservative DPO);
#   {cite:t}`chowdhury2024provably`: robust DPO, the debiased loss for random flips.
# - {cite:t}`rolnick2017deep`: networks trained on labels diluted by many random wrong labels
#   still learn, given more data; the SFT side of "random noise costs data".
# - {cite:t}`gao2023scaling`: over-optimisation of a learned reward model.

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
# # 08. Reward hacking
#
# **The question.** What is reward hacking in RL? Why does the training reward keep rising
# while the quality people actually want falls, and what can be done about it?
#
# **What you will be able to answer.** What Goodhart's law says and how Gao et al. measured it
# (proxy reward rising, gold reward peaking then falling, as functions of $\sqrt{\mathrm{KL}}$);
# why best-of-$n$ selection on a biased reward model over-optimises, with exact numbers for a
# toy; the KL of best-of-$n$, $\log n-(n-1)/n$, and when it is only a bound; what an RL policy
# does to a flawed verifier; and what a KL penalty, a conservative ensemble of checks and early
# stopping buy, measured on one budget.

# %%
import copy
import itertools
import math
import time
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import integrate, special

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.gpt import GPT
from notebook_utils.rl import (
    SortTask,
    exact_kl,
    greedy_exact_match,
    group_advantages,
    response_logits,
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
# - **What it is.** RL maximises the reward it is given, and that reward is a *proxy*: a
#   learned reward model, a rule-based checker, a judge. Wherever the proxy and the true
#   objective disagree, optimisation pushes the policy into the disagreement. The proxy keeps
#   rising while the true quality stalls or falls. This is **Goodhart's law**: a measure that
#   becomes a target stops being a good measure
#   {cite}`goodhart1975problems,manheim2018categorizing`.
#   "Hacking" is not a bug of the RL algorithm; the algorithm is doing its job on the wrong
#   objective {cite}`amodei2016concrete,skalse2022defining`.
# - **It is quantitative.** {cite:t}`gao2023scaling` optimised policies against a proxy reward
#   model and scored them with a "gold" one. With $d=\sqrt{\mathrm{KL}(\pi\,\|\,\pi_\text{init})}$
#   the proxy score rises monotonically, while the gold score peaks and then falls, following
#   $R_\text{bon}(d)=d(\alpha_\text{bon}-\beta_\text{bon}d)$ for best-of-$n$ and
#   $R_\text{RL}(d)=d(\alpha_\text{RL}-\beta_\text{RL}\log d)$ for RL. Best-of-$n$ moves
#   $\mathrm{KL}=\log n-\tfrac{n-1}{n}$ nats from the base policy (exact for a continuous
#   reward, an upper bound in general {cite}`beirami2024theoretical`).
# - **Typical LLM hacks.** Longer answers (reward models like length), sycophancy (agreeing
#   with the user), format tricks (lists, bold text), and, with unit-test rewards, code that
#   special-cases or skips the tests instead of solving the task.
# - **Mitigations.** A KL penalty to the reference policy ($r-\beta\log\frac{\pi}{\pi_\text{ref}}$);
#   conservative reward-model ensembles (the minimum, or the mean minus the disagreement);
#   retraining the reward model on fresh samples of the current policy; verifiable rule-based
#   rewards where possible, with their loopholes closed; length penalties; and early stopping
#   on a held-out gold or human evaluation. None of them removes the problem; the numbers below
#   show how much each buys on a toy.
#
# The notes' answer is correct as far as it goes (errata TR-06). It names neither Goodhart's
# law nor the over-optimisation curve, says nothing of typical hacks, and offers one remedy
# (expert effort on the reward function) where there are several, none of them complete.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x$, $y$ | a prompt, a response | `prompts` (B, P), `responses` (B, T) |
# | $r^\star(x,y)$ | the true ("gold") reward; here exact match of the sort | `task.reward` |
# | $\hat r(x,y)$ | the proxy reward the optimiser sees | `reward_fn` |
# | $\pi$, $\pi_\text{ref}$ | the policy; the reference (the SFT model) | `policy`, `reference` |
# | $\mathrm{KL}$ | $\mathrm{KL}(\pi\,\|\,\pi_\text{ref})$ in nats, averaged over prompts | `kl` |
# | $d=\sqrt{\mathrm{KL}}$ | Gao et al.'s distance from the initial policy | `d_grid` |
# | $\beta$ | KL-penalty coefficient | `beta` |
# | $n$ | candidates of best-of-$n$ | `n` |
# | $G$ | responses sampled per prompt (group size) | `group_size` |
#
# ### Goodhart by selection: a best-of-$n$ toy with an exact answer
#
# A response has a quality $q$ and a length deviation $\ell$ (its length minus the ideal one,
# in some unit), independent standard normals. People like quality and dislike any departure
# from the right length; the reward model has learned "longer is better":
#
# $$
# r^\star = q-\tfrac12\ell^2, \qquad \hat r = s = q+\ell .
# $$ (hack-toy)
#
# Best-of-$n$ draws $n$ responses and returns the one with the largest proxy $s$. Which
# candidate wins depends only on the $s$ values, and the candidates are independent, so the
# expected gold reward of the winner is that of $\mathbb E[r^\star\mid s]$ at the winning $s$.
# The pair $(q,s)$ is Gaussian with $\mathrm{Var}\,s=2$ and $\mathrm{Cov}(q,s)=1$, so
# $\mathbb E[q\mid s]=s/2$ and $\mathrm{Var}(q\mid s)=1/2$; the same holds for $\ell$. Hence
# $\mathbb E[\ell^2\mid s]=s^2/4+1/2$ and
#
# $$
# \mathbb E[r^\star\mid s]=\frac s2-\frac{s^2}{8}-\frac14 .
# $$ (hack-toy-conditional)
#
# The proxy rewards $s$ linearly; the gold reward is a downward parabola in $s$, with its top
# at $s=2$. Selecting harder (larger $n$) keeps raising $s$, and eventually walks past the top.
# The winning $s$ is $\sqrt2\,M_n$, where $M_n$ is the largest of $n$ standard normals, whose
# density is $n\,\Phi(z)^{n-1}\varphi(z)$ ($\Phi$, $\varphi$: the standard normal CDF and
# density). With its first two moments
#
# $$
# m_k(n)=\mathbb E[M_n^k]=\int_{-\infty}^{\infty} z^k\, n\,\Phi(z)^{n-1}\varphi(z)\,dz ,
# $$ (hack-max-moments)
#
# {eq}`hack-toy-conditional` at $s=\sqrt2 M_n$ gives the exact curves:
#
# $$
# \mathbb E[\hat r]_n=\sqrt2\,m_1(n), \qquad
# \mathbb E[r^\star]_n=\frac{m_1(n)}{\sqrt2}-\frac{m_2(n)}{4}-\frac14 .
# $$ (hack-toy-curves)
#
# Two closed forms check the integrals: $m_1(2)=1/\sqrt\pi$ and $m_2(2)=1$ (the larger and
# the smaller of two normals have the same square in distribution, and the two squares add up
# to $Z_1^2+Z_2^2$), and for three, $m_1(3)=3/(2\sqrt\pi)$, $m_2(3)=1+\sqrt3/(2\pi)$.
#
# ### How far best-of-$n$ moves from the base policy
#
# Let the proxy $s$ of a sample from $\pi_\text{ref}$ have a continuous CDF $F$ and density
# $f$. The winner of $n$ draws has density $n F(s)^{n-1} f(s)$, i.e. the base density
# reweighted by $nF^{n-1}$. With $U=F(s)$, uniform on $[0,1]$ under the base policy and
# distributed as the maximum of $n$ uniforms (density $n u^{n-1}$) under best-of-$n$,
#
# $$
# \mathrm{KL}_\text{bon}=\mathbb E_\text{bon}\big[\log n+(n-1)\log U\big]
# =\log n+(n-1)\int_0^1 n u^{n-1}\log u\,du=\log n-\frac{n-1}{n},
# $$ (hack-bon-kl)
#
# whatever $F$ is: the KL only depends on $n$. For $n=16$ it is $1.8351$ nats. The derivation
# needs ties to have probability zero. When the reward takes finitely many values, or several
# responses share a score, best-of-$n$ moves less, and {eq}`hack-bon-kl` is an upper bound
# {cite}`beirami2024theoretical`. For a discrete reward with distinct values
# $r_1<\dots<r_K$ of base probabilities $p_i$ and CDF $F_i=p_1+\dots+p_i$, the winner is
# $i$ with probability $F_i^n-F_{i-1}^n$, and the exact KL is a finite sum.
#
# ### Gao et al.'s functional forms
#
# {cite:t}`gao2023scaling` fit the gold reward gained over the initial policy, as a function of
# $d=\sqrt{\mathrm{KL}}$, by
#
# $$
# R_\text{bon}(d)=d\,(\alpha_\text{bon}-\beta_\text{bon}\,d), \qquad
# R_\text{RL}(d)=d\,(\alpha_\text{RL}-\beta_\text{RL}\log d),
# $$ (hack-gao)
#
# with coefficients that depend on the size of the proxy reward model (larger proxies are
# exploited later). ($\alpha,\beta$ here are their fit coefficients, not the KL coefficient.)
# The toy reproduces the best-of-$n$ form to leading order: $M_n\approx\sqrt{2\ln n}$ and
# $\mathrm{KL}_\text{bon}\approx\ln n$ for large $n$, so $m_1\approx\sqrt2\,d$,
# $m_2\approx 2d^2$, and {eq}`hack-toy-curves` becomes $\mathbb E[\hat r]\approx 2d$ and
# $\mathbb E[r^\star]\approx d-d^2/2+\text{const}$: a proxy linear in $d$ and a gold reward of
# the form $d(\alpha-\beta d)$. The Experiments fit {eq}`hack-gao` to the exact curve. Gao et
# al. read the linear term as *regressional* Goodhart (selecting on the proxy also selects its
# error) and the turnover as *extremal* Goodhart (the proxy–gold relation breaks down far from
# where it was learned) {cite}`manheim2018categorizing`. The toy has both: selecting on
# $q+\ell$ selects $\ell$ along with $q$, and $-\ell^2/2$ punishes the extreme $\ell$ that
# hard selection brings.
#
# ### RL against a proxy, with and without a KL penalty
#
# RLHF maximises the proxy minus a KL penalty to the reference
# {cite}`ziegler2019fine,stiennon2020learning,ouyang2022training`:
#
# $$
# J_\beta(\pi)=\mathbb E_{y\sim\pi}\big[\hat r(x,y)\big]-\beta\,
# \mathrm{KL}\big(\pi(\cdot\mid x)\,\|\,\pi_\text{ref}(\cdot\mid x)\big).
# $$ (hack-kl-objective)
#
# Over all distributions on responses its maximiser is the reference tilted by the reward,
#
# $$
# \pi^\star_\beta(y\mid x)=\frac{\pi_\text{ref}(y\mid x)\,e^{\hat r(x,y)/\beta}}{Z(x)},
# \qquad Z(x)=\mathbb E_{y\sim\pi_\text{ref}}\big[e^{\hat r(x,y)/\beta}\big],
# $$ (hack-kl-optimum)
#
# because $J_\beta(\pi)=\beta\log Z-\beta\,\mathrm{KL}(\pi\,\|\,\pi^\star_\beta)$, which is
# largest when the last KL is zero ([chapter 02](02_dpo.ipynb) builds DPO on this identity
# {cite}`rafailov2023direct`). Its distance from the reference follows by taking the
# expectation of $\log(\pi^\star_\beta/\pi_\text{ref})=\hat r/\beta-\log Z$:
#
# $$
# \mathrm{KL}(\pi^\star_\beta\,\|\,\pi_\text{ref})
# =\frac{\mathbb E_{\pi^\star_\beta}[\hat r]}{\beta}-\log Z .
# $$ (hack-kl-optimum-kl)
#
# Now take the chapter's flawed verifier: a pass/fail check $\hat r=\mathbb 1[y\in S(x)]$ whose
# pass set $S(x)$ contains the correct answer $y^\star$ and many wrong ones. Write
# $p_s=\pi_\text{ref}(S\mid x)$ and $p_c=\pi_\text{ref}(y^\star\mid x)$. Then
# $Z=1-p_s+p_s e^{1/\beta}$ and
#
# $$
# \mathbb E_{\pi^\star_\beta}[\hat r]=\frac{p_s e^{1/\beta}}{Z},\qquad
# \mathbb E_{\pi^\star_\beta}[r^\star]=\frac{p_c e^{1/\beta}}{Z}\;\ge\;p_c .
# $$ (hack-indicator-optimum)
#
# The inequality holds because $Z\le e^{1/\beta}$. So the KL-regularised optimum **never**
# lowers the true reward of a proxy that passes every correct answer: inside $S$ it keeps the
# reference's relative preferences (true/proxy stays $p_c/p_s$), and the reference is where
# the knowledge of which sorted answer is right lives. As $\beta\to0$ it tends to
# $\pi_\text{ref}$ conditioned on $S$, at $\mathrm{KL}=-\log p_s$. Without the penalty
# ($\beta=0$) every policy supported on $S$ is optimal, "repeat the smallest digit" as much as
# the right answer: the objective no longer says which one to pick, and the optimiser's path
# decides. Such blind spots are the rule, not the exception: {cite:t}`skalse2022defining`
# show that over all stochastic policies, a proxy whose increase can never lower the true
# reward exists only when one of the two rewards is trivial (the same for every policy).
#
# ### The policy gradient with a group baseline and the KL in the reward
#
# The runs below use REINFORCE {cite}`williams1992simple` with the mean reward of the $G$
# responses to the same prompt as a baseline (GRPO's advantage without the division by the
# standard deviation; derived in [chapter 07](07_grpo.ipynb), used here through the shared
# `group_advantages`). The KL penalty enters as a per-response reward term, as in
# InstructGPT's PPO {cite}`ouyang2022training`:
#
# $$
# R_i=\hat r(x,y_i)-\beta\log\frac{\pi(y_i\mid x)}{\pi_\text{ref}(y_i\mid x)},\qquad
# \hat g=\frac1G\sum_{i=1}^{G}\Big(R_i-\frac1G\sum_{j=1}^{G}R_j\Big)\nabla\log\pi(y_i\mid x),
# $$ (hack-pg)
#
# with $R_i$ treated as a constant. Since $\nabla J_\beta=\mathbb E[R\,\nabla\log\pi]$ (the
# gradient of the $\log\pi$ inside $R$ has mean $\mathbb E[\nabla\log\pi]=0$), and a
# response's own reward is part of its baseline,
#
# $$
# \mathbb E[\hat g]=\Big(1-\frac1G\Big)\nabla J_\beta ,
# $$ (hack-pg-mean)
#
# the exact gradient shrunk by a constant: the same direction, which Adam does not even see.
#
# ### Conservative ensembles
#
# If each of several checks $\hat r_k$ passes every correct answer, each is an upper bound on
# the truth ($\hat r_k\ge r^\star$), and so is their minimum, the tightest of them:
#
# $$
# r^\star\;\le\;\hat r_\text{min}=\min_k \hat r_k\;\le\;\hat r_k\quad\text{for every }k .
# $$ (hack-min-ensemble)
#
# The pass set of the minimum is the intersection of the pass sets: a hack must fool every
# member at once. The minimum helps exactly as much as the members' loopholes differ; members
# that share a loophole are hacked together. {cite:t}`eisenstein2024helping` found this for
# reward-model ensembles: members fine-tuned from one pre-trained model err alike, and even
# members pre-trained separately share errors that the policy exploits.

# %% [markdown]
# ## Implementation from scratch
#
# ### The best-of-$n$ toy
#
# {eq}`hack-max-moments` by adaptive quadrature, with $\Phi^{n-1}\varphi$ computed in log space
# so that large $n$ does not underflow; {eq}`hack-toy-curves` on top; {eq}`hack-bon-kl` in
# closed form and, independently, by integrating the winner's density against its log-ratio.


# %%
SQRT_2PI = 2.5066282746310002  # √(2π)


def max_normal_moments(n: int) -> tuple[float, float]:
    """E[M_n] and E[M_n²] for the maximum of n standard normals, eq. (hack-max-moments)."""

    def density(z: float) -> float:  # n Φ(z)^{n-1} φ(z), in log space
        return n * math.exp((n - 1) * special.log_ndtr(z) - 0.5 * z * z) / SQRT_2PI

    m1 = integrate.quad(lambda z: z * density(z), -12, 12, epsabs=1e-12, limit=200)[0]
    m2 = integrate.quad(lambda z: z * z * density(z), -12, 12, epsabs=1e-12, limit=200)[0]
    return m1, m2


def toy_best_of_n_exact(n: int) -> tuple[float, float]:
    """Expected proxy and gold reward of best-of-n in the toy, eq. (hack-toy-curves)."""
    m1, m2 = max_normal_moments(n)
    return math.sqrt(2) * m1, m1 / math.sqrt(2) - m2 / 4 - 0.25


def toy_best_of_n_simulated(
    n: int, n_trials: int, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Proxy and gold reward of the winner in each of n_trials best-of-n draws, eq. (hack-toy)."""
    quality, length = generator.standard_normal((2, n_trials, n))  # (trials, n) each
    proxy = quality + length  # eq. (hack-toy): the biased reward model
    gold = quality - 0.5 * length**2
    winner = proxy.argmax(axis=1)  # (trials,)
    rows = np.arange(n_trials)
    return proxy[rows, winner], gold[rows, winner]


def best_of_n_kl(n: int) -> float:
    """KL(best-of-n || base) for a continuous reward, eq. (hack-bon-kl)."""
    return math.log(n) - (n - 1) / n


def best_of_n_kl_by_integration(n: int) -> float:
    """The same KL from its definition, ∫ p_n log(p_n / f) with p_n = n F^{n-1} f, for a
    standard normal score (any continuous score gives the same value)."""

    def integrand(z: float) -> float:
        log_ratio = math.log(n) + (n - 1) * special.log_ndtr(z)  # log(p_n / f)
        return math.exp(log_ratio - 0.5 * z * z) / SQRT_2PI * log_ratio

    return integrate.quad(integrand, -12, 12, epsabs=1e-12, limit=200)[0]


def best_of_n_kl_discrete(probabilities: np.ndarray, n: int) -> float:
    """Exact KL of best-of-n for a reward with distinct values r_1 < … < r_K of base
    probabilities p_i: the winner is i with probability F_i^n - F_{i-1}^n."""
    cdf = np.cumsum(probabilities)
    cdf_before = np.concatenate([[0.0], cdf[:-1]])
    winner = cdf**n - cdf_before**n  # (K,)
    keep = winner > 0
    return float(np.sum(winner[keep] * np.log(winner[keep] / probabilities[keep])))


# %% [markdown]
# ### Three flawed checks for the sort task, and the proxy built from them
#
# The policy sorts four digits (`SortTask(length=4)`, the shared task of Part IV; the true
# reward is exact match). Three cheap checks each pass the correct answer, and each has a
# loophole:
#
# - `is_non_decreasing`: the response is sorted (passes `0 0 0 0` for any prompt);
# - `uses_prompt_digits`: every response digit occurs in the prompt (passes `3 3 3 3` when
#   the prompt has a 3);
# - `digit_sum_matches`: the digits add up to the prompt's sum (passes `2 2` for `1 3`).
#
# The flawed verifier of the experiments is the first two together, "sorted, and made of the
# prompt's digits": it checks *which* digits occur but not *how often*, the kind of
# one-line bug (a set where a multiset was meant) that real verifiers have. By
# {eq}`hack-min-ensemble` it is already a two-member minimum, of two members that share a
# loophole: repeating a prompt digit passes both. The conservative ensemble adds the third,
# whose loophole is different.


# %%
def is_non_decreasing(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """1.0 where the response is sorted ascending, (B,)."""
    return (responses[:, 1:] >= responses[:, :-1]).all(dim=1).float()


def uses_prompt_digits(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """1.0 where every response digit occurs somewhere in the prompt, (B,)."""
    digits = prompts[:, :-1]  # (B, L): the separator is not a digit
    found = (responses[:, :, None] == digits[:, None, :]).any(dim=2)  # (B, T)
    return found.all(dim=1).float()


def digit_sum_matches(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """1.0 where the response's digits add up to the prompt's, (B,)."""
    return (responses.sum(dim=1) == prompts[:, :-1].sum(dim=1)).float()


def flawed_verifier(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The proxy r̂: sorted and made of the prompt's digits (counts are not checked), (B,)."""
    return torch.minimum(
        is_non_decreasing(prompts, responses), uses_prompt_digits(prompts, responses)
    )


def min_ensemble(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The conservative ensemble of the three checks, eq. (hack-min-ensemble), (B,)."""
    checks = [is_non_decreasing, uses_prompt_digits, digit_sum_matches]
    return torch.stack([check(prompts, responses) for check in checks]).min(dim=0).values


# %% [markdown]
# ### The pass set and the KL-regularised optimum
#
# For {eq}`hack-indicator-optimum` we need, per prompt, $p_s=\pi_\text{ref}(S\mid x)$ and
# $p_c=\pi_\text{ref}(y^\star\mid x)$. The pass set of a check is small enough to list. The
# policy writes tokens, not digits, and may write the separator too, so a response is one of
# $11^4$ token sequences; every one that passes `is_non_decreasing` is one of the
# $\binom{11+4-1}{4}=1001$ non-decreasing ones. `pass_set_mask` filters those, and
# `pass_probability` sums $\pi_\text{ref}(y\mid x)$ over the passing ones with one batched
# forward pass.


# %%
def sorted_sequences(length: int, n_tokens: int) -> torch.Tensor:
    """All non-decreasing token sequences, (C(n_tokens + length - 1, length), length)."""
    combos = itertools.combinations_with_replacement(range(n_tokens), length)
    return torch.tensor(list(combos), dtype=torch.long)


def pass_set_mask(
    prompts: torch.Tensor,
    candidates: torch.Tensor,
    reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """mask[b, c] = reward_fn(prompt b, candidate c) == 1, shape (B, C)."""
    B, C = prompts.shape[0], candidates.shape[0]
    rewards = reward_fn(prompts.repeat_interleave(C, dim=0), candidates.repeat(B, 1))  # (B·C,)
    return rewards.view(B, C) == 1


@torch.no_grad()
def pass_probability(
    model: GPT,
    prompts: torch.Tensor,
    candidates: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """Σ_{c: mask[b, c]} π(candidate c | prompt b) for each prompt, (B,)."""
    prompt_index, candidate_index = mask.nonzero(as_tuple=True)  # the passing pairs
    logp = response_logprobs(model, prompts[prompt_index], candidates[candidate_index]).sum(1)
    total = torch.zeros(prompts.shape[0])
    return total.index_add_(0, prompt_index, logp.exp())


def kl_optimum_of_indicator(
    pass_prob: np.ndarray, correct_prob: np.ndarray, beta: float
) -> tuple[float, float, float]:
    """Proxy, true reward and KL of π*_β, eqs. (hack-indicator-optimum) and
    (hack-kl-optimum-kl), averaged over prompts (arrays of p_s and p_c, one per prompt)."""
    tilt = math.exp(1 / beta)
    z = 1 - pass_prob + pass_prob * tilt  # Z(x)
    proxy = pass_prob * tilt / z
    kl = proxy / beta - np.log(z)
    return float(proxy.mean()), float((correct_prob * tilt / z).mean()), float(kl.mean())


# %% [markdown]
# ### The policy-gradient loss and the training loop
#
# {eq}`hack-pg` as a loss to minimise: the advantages are constants, so the gradient of
# $-\frac1B\sum_i A_i\log\pi(y_i\mid x_i)$ is $-\hat g$ averaged over the prompts of the
# batch.


# %%
def policy_gradient_loss(
    seq_logp: torch.Tensor, rewards: torch.Tensor, group_size: int
) -> torch.Tensor:
    """REINFORCE with the group-mean baseline, eq. (hack-pg). seq_logp and rewards are (B,),
    the G responses of each prompt adjacent; the rewards are treated as constants."""
    advantages = group_advantages(rewards.detach().view(-1, group_size), std="none")  # (B/G, G)
    return -(advantages.reshape(-1) * seq_logp).mean()


# %% [markdown]
# `train_against` runs the loop of the experiments: sample $G$ responses for each of a few
# prompts, score them with `reward_fn`, subtract the KL term of {eq}`hack-pg` if $\beta>0$,
# take one Adam step. Every `eval_every` steps it scores the policy on held-out prompts (the
# flawed verifier, the true reward, and the KL to the reference) and keeps a copy of the
# weights, for early stopping. The KL of a whole response is estimated by summing the exact
# per-token KL along sampled responses, $\sum_t\mathrm{KL}\big(\pi(\cdot\mid x,y_{<t})\,\|\,
# \pi_\text{ref}(\cdot\mid x,y_{<t})\big)$: by the chain rule its mean over $y\sim\pi$ is the
# sequence-level KL, with less variance than $\log\frac{\pi(y)}{\pi_\text{ref}(y)}$ (the
# estimators are [chapter 07](07_grpo.ipynb)'s topic).


# %%
@torch.no_grad()
def evaluate(
    policy: GPT, reference: GPT, task: SortTask, prompts: torch.Tensor, seed: int
) -> dict[str, float]:
    """Flawed-verifier pass rate, true reward, and KL to the reference of sampled responses."""
    responses = sample_responses(
        policy, prompts, task.length, generator=torch.Generator().manual_seed(seed)
    )  # (B, T)
    logits = response_logits(policy, prompts, responses)  # (B, T, V)
    ref_logits = response_logits(reference, prompts, responses)
    return {
        "proxy": flawed_verifier(prompts, responses).mean().item(),
        "true": task.reward(prompts, responses).mean().item(),
        "kl": exact_kl(logits, ref_logits).sum(dim=1).mean().item(),
    }


def train_against(
    reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    start: GPT,
    task: SortTask,
    eval_prompts: torch.Tensor,
    *,
    beta: float,
    steps: int,
    n_prompts: int,
    group_size: int,
    lr: float,
    eval_every: int,
    seed: int,
) -> tuple[GPT, dict[str, list[float]], list[dict[str, torch.Tensor]]]:
    """RL from `start` against `reward_fn` with KL coefficient `beta`, eq. (hack-pg).

    Returns the final policy, the held-out history (step, proxy, true, kl) and a copy of the
    weights at every evaluation."""
    policy, reference = copy.deepcopy(start), copy.deepcopy(start).eval()
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"step": [], "proxy": [], "true": [], "kl": []}
    checkpoints = []
    for step in range(steps + 1):
        if step % eval_every == 0:
            scores = evaluate(policy, reference, task, eval_prompts, seed=seed + 1)
            for key, value in [("step", step), *scores.items()]:
                history[key].append(value)
            checkpoints.append(copy.deepcopy(policy.state_dict()))
        if step == steps:
            break
        prompts = task.prompts(n_prompts, generator).repeat_interleave(group_size, dim=0)
        responses = sample_responses(policy, prompts, task.length, generator=generator)
        seq_logp = response_logprobs(policy, prompts, responses).sum(dim=1)  # (B,)
        rewards = reward_fn(prompts, responses)  # (B,)
        if beta > 0:
            with torch.no_grad():
                ref_logp = response_logprobs(reference, prompts, responses).sum(dim=1)
            rewards = rewards - beta * (seq_logp.detach() - ref_logp)  # eq. (hack-pg): R_i
        loss = policy_gradient_loss(seq_logp, rewards, group_size)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return policy, history, checkpoints


# %% [markdown]
# ## Verification
#
# ### The moments of the maximum, and the toy against simulation
#
# The quadrature of {eq}`hack-max-moments` against the closed forms for $n=2$ and $n=3$:

# %%
closed_form_moments = {
    2: (1 / math.sqrt(math.pi), 1.0),
    3: (3 / (2 * math.sqrt(math.pi)), 1 + math.sqrt(3) / (2 * math.pi)),
}
for n, expected in closed_form_moments.items():
    check_close(
        f"E[M_{n}], E[M_{n}²] by quadrature vs closed form",
        max_normal_moments(n),
        expected,
        atol=1e-9,
    )
check_close("toy at n = 1: proxy 0, gold -1/2", toy_best_of_n_exact(1), (0.0, -0.5), atol=1e-9)

# %% [markdown]
# Then {eq}`hack-toy-curves` against a seeded simulation of {eq}`hack-toy` itself: 4000
# best-of-$n$ draws for each $n$, whose mean proxy and gold rewards must agree with the exact
# values within four standard errors. This checks the conditional expectation
# {eq}`hack-toy-conditional` too, since the simulation never uses it.

# %%
TOY_NS = (1, 4, 16, 64, 256)  # the errata's values of n
N_TOY_TRIALS = 4000
toy_exact = {n: toy_best_of_n_exact(n) for n in TOY_NS}
toy_simulated = {n: toy_best_of_n_simulated(n, N_TOY_TRIALS, rng) for n in TOY_NS}
for n in TOY_NS:
    for name, column in [("proxy", 0), ("gold", 1)]:
        check_mean_close(
            f"best-of-{n} {name}: simulation vs exact",
            toy_simulated[n][column],
            toy_exact[n][column],
            z_max=4,
        )

# %% [markdown]
# ### The KL of best-of-$n$
#
# {eq}`hack-bon-kl` against the integral of its definition, and the errata's value at
# $n=16$:

# %%
KL_NS = (2, 4, 16, 64, 256, 1024)
kl_closed = np.array([best_of_n_kl(n) for n in KL_NS])
kl_integrated = np.array([best_of_n_kl_by_integration(n) for n in KL_NS])
check_close(
    f"KL of best-of-n, n = {KL_NS}: integral vs log n - (n-1)/n",
    kl_integrated,
    kl_closed,
    atol=1e-8,
)
check_close("KL of best-of-16 = 1.8351 nats (errata)", round(best_of_n_kl(16), 4), 1.8351, atol=0)
print(f"KL of best-of-16: {best_of_n_kl(16):.6f} nats")

# %% [markdown]
# With a discrete reward the formula is only a bound. Best-of-16 over $K$ equally likely
# distinct scores, for a few $K$: the exact KL stays below {eq}`hack-bon-kl`, approaches it
# as the scores become fine-grained, and for $K=2$ is close to $\log 2$, since the winner is
# then almost surely the better half.

# %%
bound_16 = best_of_n_kl(16)
for n_values in (2, 10, 100, 10_000):
    exact = best_of_n_kl_discrete(np.full(n_values, 1 / n_values), 16)
    check_true(
        f"best-of-16 over {n_values} equally likely scores: exact KL ≤ bound",
        bool(exact <= bound_16),
        f"{exact:.4f} ≤ {bound_16:.4f}",
    )
check_close(
    "10 000 scores: exact KL vs continuous formula",
    best_of_n_kl_discrete(np.full(10_000, 1e-4), 16),
    bound_16,
    atol=1e-6,
)

# %% [markdown]
# ### The checks
#
# On hand-made examples, for the prompt `3 1 3 0` (sorted: `0 1 3 3`):

# %%
task = SortTask(length=4)
example_prompt = torch.tensor([[3, 1, 3, 0, task.sep]])  # (1, P)
example_responses = torch.tensor(
    [[0, 1, 3, 3], [0, 0, 0, 0], [1, 1, 3, 3], [0, 1, 2, 4], [3, 3, 1, 0], [0, 0, 3, 4]]
)  # (6, T): correct, one digit repeated, wrong counts, right sum, unsorted, foreign digit
example_prompts = example_prompt.expand(len(example_responses), -1)
results = torch.stack(
    [
        check(example_prompts, example_responses)
        for check in (
            is_non_decreasing,
            uses_prompt_digits,
            digit_sum_matches,
            flawed_verifier,
            min_ensemble,
            task.reward,
        )
    ]
)  # (6 checks, 6 responses)
expected_results = torch.tensor(
    [
        [1, 1, 1, 1, 0, 1],  # is_non_decreasing
        [1, 1, 1, 0, 1, 0],  # uses_prompt_digits
        [1, 0, 0, 1, 1, 1],  # digit_sum_matches (the prompt sums to 7)
        [1, 1, 1, 0, 0, 0],  # flawed verifier: sorted and prompt digits
        [1, 0, 0, 0, 0, 0],  # min of the three
        [1, 0, 0, 0, 0, 0],  # true reward
    ],
    dtype=torch.float32,
)
check_equal("checks on six hand-made responses", results, expected_results)

# %% [markdown]
# The premise of {eq}`hack-indicator-optimum` and {eq}`hack-min-ensemble` is that every check
# passes every correct answer, so that each is an upper bound on the true reward. On 2000
# random prompts, with their correct answers and with random responses:

# %%
check_prompts, check_answers = task.batch(2000, torch.Generator().manual_seed(10))
random_responses = torch.randint(0, 10, (2000, 4), generator=torch.Generator().manual_seed(11))
all_checks = (
    is_non_decreasing,
    uses_prompt_digits,
    digit_sum_matches,
    flawed_verifier,
    min_ensemble,
)
for responses in (check_answers, random_responses):
    truth = task.reward(check_prompts, responses)
    bounds = all(bool((check(check_prompts, responses) >= truth).all()) for check in all_checks)
    passed = [check(check_prompts, responses).mean().item() for check in all_checks]
    check_true(
        "every check ≥ true reward",
        bounds,
        f"pass rates {', '.join(f'{p:.3f}' for p in passed)}, true {truth.mean():.3f}",
    )

# %% [markdown]
# ### The KL-regularised optimum by enumeration
#
# For one prompt and a small, freshly initialised policy, all $11^4$ responses can be listed. Their
# probabilities must sum to one; the pass probability from `pass_set_mask` over the 1001
# non-decreasing sequences must equal the one from the full list; and the KL of $\pi^\star_\beta$
# computed directly from {eq}`hack-kl-optimum` must equal the closed forms
# {eq}`hack-indicator-optimum` and {eq}`hack-kl-optimum-kl` ($\beta=0.1$).

# %%
torch.manual_seed(0)
tiny_policy = GPT(task.model_config(n_layer=1, d_model=32)).eval()  # small: 11⁴ responses
every_response = torch.tensor(list(itertools.product(range(task.vocab_size), repeat=4)))  # (11⁴, T)
one_prompt = example_prompt.expand(len(every_response), -1)
with torch.no_grad():
    log_ref = response_logprobs(tiny_policy, one_prompt, every_response).sum(1).double()
check_close("Σ_y π(y|x) over all 11⁴ responses", log_ref.exp().sum(), 1.0, atol=1e-5)

sorted_candidates = sorted_sequences(task.length, task.vocab_size)  # (1001, T)
check_equal("number of sorted length-4 sequences", len(sorted_candidates), math.comb(14, 4))
mask = pass_set_mask(example_prompt, sorted_candidates, flawed_verifier)  # (1, 1001)
p_s = pass_probability(tiny_policy, example_prompt, sorted_candidates, mask).double()
passes = flawed_verifier(one_prompt, every_response).double()  # (11⁴,)
check_close("p_s: pass set vs all responses", p_s[0], (log_ref.exp() * passes).sum(), atol=1e-6)

beta = 0.1
log_tilted = log_ref + passes / beta
log_optimum = log_tilted - torch.logsumexp(log_tilted, 0)  # eq. (hack-kl-optimum)
direct = (
    (log_optimum.exp() * passes).sum().item(),
    log_optimum.exp()[(every_response == task.solve(example_prompt)).all(1)].sum().item(),
    (log_optimum.exp() * (log_optimum - log_ref)).sum().item(),
)
p_c = log_ref.exp()[(every_response == task.solve(example_prompt)).all(1)].numpy()
closed = kl_optimum_of_indicator(p_s.numpy(), p_c, beta)
check_close("π*_β: proxy, true, KL direct vs closed form", direct, closed, atol=1e-6)

# %% [markdown]
# ### The policy gradient on a bandit
#
# {eq}`hack-pg-mean` on a problem small enough to differentiate exactly: a 5-armed bandit
# with softmax policy $\pi_\theta$, reference $\pi_\text{ref}$, rewards $r$ and $\beta=0.5$.
# `policy_gradient_loss` (the function the training loop uses) is evaluated on 20 000
# independent groups of $G=4$ pulls, each group with its own copy of $\theta$, so that one
# backward pass gives 20 000 independent gradient estimates. Their mean must be
# $(1-1/G)\nabla J_\beta$, with $\nabla J_\beta$ from autograd on the exact objective
# {eq}`hack-kl-objective`.

# %%
arm_rewards = torch.tensor([1.0, 0.2, 0.8, 0.0, 0.5], dtype=torch.float64)
theta = torch.tensor([0.3, -0.2, 0.5, 0.1, -0.4], dtype=torch.float64, requires_grad=True)
ref_logits_bandit = torch.tensor([0.0, 0.4, -0.3, 0.2, 0.1], dtype=torch.float64)
bandit_beta, G_bandit, n_groups = 0.5, 4, 20_000

log_pi, log_ref_bandit = theta.log_softmax(0), ref_logits_bandit.log_softmax(0)
exact_objective = (log_pi.exp() * arm_rewards).sum() - bandit_beta * (
    log_pi.exp() * (log_pi - log_ref_bandit)
).sum()  # eq. (hack-kl-objective)
(exact_gradient,) = torch.autograd.grad(exact_objective, theta)

thetas = theta.detach().repeat(n_groups, 1).requires_grad_(True)  # (groups, 5)
group_log_pi = thetas.log_softmax(dim=1)  # (groups, 5)
torch.manual_seed(1)
arms = torch.multinomial(group_log_pi.exp().detach(), G_bandit, replacement=True)  # (groups, G)
pulled_logp = group_log_pi.gather(1, arms).reshape(-1)  # (groups·G,)
shaped = arm_rewards[arms].reshape(-1) - bandit_beta * (
    pulled_logp.detach() - log_ref_bandit[arms].reshape(-1)
)  # eq. (hack-pg): R_i
(policy_gradient_loss(pulled_logp, shaped, G_bandit) * n_groups).backward()
estimates = -thetas.grad  # (groups, 5): one ĝ per group
for arm in range(5):
    check_mean_close(
        f"arm {arm}: mean ĝ vs (1 - 1/G) ∇J_β",
        estimates[:, arm],
        (1 - 1 / G_bandit) * exact_gradient[arm].item(),
        z_max=4,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. Best-of-$n$ on a biased reward model
#
# The exact curves {eq}`hack-toy-curves` for $n$ from 1 to 1000, the simulated points of the
# Verification, and the errata's Monte-Carlo numbers for comparison:

# %%
ERRATA_TOY = {  # errata TR-06: Monte-Carlo proxy and gold at n = 1, 4, 16, 64, 256
    "proxy": (0.005, 1.454, 2.503, 3.317, 3.993),
    "gold": (-0.503, 0.085, 0.150, -0.022, -0.304),
}
exact_table = np.array([toy_exact[n] for n in TOY_NS])  # (5, 2): proxy, gold
errata_table = np.array([ERRATA_TOY["proxy"], ERRATA_TOY["gold"]]).T  # (5, 2)
errata_minus_exact = errata_table - exact_table
print("   n   exact proxy  errata   diff   exact gold  errata   diff")
for n, exact, errata, diff in zip(
    TOY_NS, exact_table, errata_table, errata_minus_exact, strict=True
):
    print(
        f"{n:4d}   {exact[0]:8.4f}  {errata[0]:7.3f} {diff[0]:+7.4f}"
        f"   {exact[1]:8.4f}  {errata[1]:7.3f} {diff[1]:+7.4f}"
    )
worst = np.unravel_index(np.abs(errata_minus_exact).argmax(), errata_minus_exact.shape)
print(
    f"largest difference: {errata_minus_exact[worst]:+.4f}, "
    f"{('proxy', 'gold')[worst[1]]} at n = {TOY_NS[worst[0]]}"
)
check_true(
    "errata's Monte-Carlo values within 0.02 of the exact ones",
    bool(np.abs(errata_minus_exact).max() < 0.02),
    f"max |difference| {np.abs(errata_minus_exact).max():.4f}",
)

n_grid = np.unique(np.round(np.logspace(0, 3, 80)).astype(int))  # 1 … 1000
exact_grid = np.array([toy_best_of_n_exact(int(n)) for n in n_grid])  # (N, 2)
best_n = int(n_grid[exact_grid[:, 1].argmax()])
print(
    f"the gold reward peaks at n = {best_n}: {exact_grid[:, 1].max():.4f}, at KL = "
    f"{best_of_n_kl(best_n):.3f} nats"
)

# %% [markdown]
# The errata's simulated values differ from the exact ones by less than two hundredths (the
# largest difference is printed above), which is within what a simulation of a few thousand
# draws misses by: compare the standard errors of the Verification's simulation. The errata's
# qualitative claim holds:
# the proxy rises monotonically, the gold reward rises and falls. Its bold $n=16$ is the
# largest gold value among the five $n$ it lists, not the peak; the exact peak is at the $n$
# printed above.
#
# Gao et al.'s best-of-$n$ form {eq}`hack-gao`, fitted by least squares to the exact gold gain
# over $n=1$ on the whole grid:

# %%
d_grid = np.sqrt([best_of_n_kl(int(n)) for n in n_grid])  # (N,)
gold_gain = exact_grid[:, 1] - exact_grid[0, 1]  # R(d): gold gained over n = 1
design = np.stack([d_grid, -(d_grid**2)], axis=1)  # R = α d - β d²
(alpha_bon, beta_bon), *_ = np.linalg.lstsq(design, gold_gain, rcond=None)
fit_error = np.abs(design @ np.array([alpha_bon, beta_bon]) - gold_gain).max()
print(
    f"R_bon(d) = d(α - βd): α = {alpha_bon:.3f}, β = {beta_bon:.3f}, max |residual| "
    f"{fit_error:.4f} (the gain itself reaches {gold_gain.max():.3f})"
)
d_peak = alpha_bon / (2 * beta_bon)
print(
    f"peak of the fit: d = {d_peak:.3f}, KL = {d_peak**2:.3f} nats; exact peak at n = {best_n}: "
    f"KL = {best_of_n_kl(best_n):.3f} nats"
)
check_true(
    "Gao's best-of-n form fits the toy within 0.01",
    bool(fit_error < 0.01),
    f"max residual {fit_error:.4f}",
)

# %%
fig, (ax_n, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2))
for name, column, colour in [
    ("proxy $\\hat r=q+\\ell$", 0, PALETTE[0]),
    ("gold $r^\\star=q-\\ell^2/2$", 1, PALETTE[1]),
]:
    ax_n.semilogx(n_grid, exact_grid[:, column], color=colour, label=f"{name}, exact")
    means = [toy_simulated[n][column].mean() for n in TOY_NS]
    errors = [2 * toy_simulated[n][column].std(ddof=1) / math.sqrt(N_TOY_TRIALS) for n in TOY_NS]
    ax_n.errorbar(
        TOY_NS,
        means,
        yerr=errors,
        fmt="o",
        color=colour,
        ms=4,
        capsize=3,
        label=f"{name}, simulated (±2 se)",
    )
ax_n.axvline(best_n, color="0.5", ls=":", lw=1)
ax_n.set(xlabel="candidates n", ylabel="expected reward of the winner", title="Against n")
ax_n.legend(fontsize=8)
ax_d.plot(d_grid, gold_gain, color=PALETTE[1], label="gold gain, exact")
ax_d.plot(
    d_grid,
    design @ np.array([alpha_bon, beta_bon]),
    "--",
    color="k",
    lw=1,
    label=f"Gao fit $d({alpha_bon:.2f}-{beta_bon:.2f}d)$",
)
ax_d.plot(d_grid, exact_grid[:, 0], color=PALETTE[0], label="proxy, exact")
ax_d.set(
    xlabel="$d=\\sqrt{\\mathrm{KL}_\\mathrm{bon}}$ (nats$^{1/2}$)",
    ylabel="reward gained over n = 1",
    title="Against $\\sqrt{KL}$",
)
ax_d.legend(fontsize=8)
fig.suptitle(
    f"Best-of-n on a length-biased reward: the proxy keeps rising, the gold reward "
    f"peaks at n = {best_n} and falls"
)
plt.show()

# %% [markdown]
# The fitted $\alpha$ and $\beta$ are close to the leading-order values 1 and 1/2 of the
# Derivation, and the proxy is nearly a straight line in $d$, the shape Gao et al. report for
# their proxies. The fit's peak, at $d=\alpha/(2\beta)$, lands near the exact one (both
# printed above).

# %% [markdown]
# ### 2. RL against a flawed verifier
#
# The starting point is an SFT checkpoint ([chapter 01](01_sft.ipynb), through the shared
# `train_sft`) of the default policy (2 layers, 4 heads, $d_\text{model}=64$) on the length-4
# sort, which keeps one RL run to about two seconds of CPU. Trained for 40 steps, it is often
# right when decoding greedily but not yet sharp when sampling.
# Held-out prompts come from their own generators: 192 for validation during training
# (early stopping selects on them) and 512 for the test numbers.

# %%
SFT_STEPS = 40
torch.manual_seed(0)
sft_model = GPT(task.model_config())
train_sft(sft_model, task, steps=SFT_STEPS, generator=torch.Generator().manual_seed(0))
sft_model.eval()
val_prompts = task.prompts(192, torch.Generator().manual_seed(1))  # (192, P)
test_prompts = task.prompts(512, torch.Generator().manual_seed(2))  # (512, P)
start_scores = evaluate(sft_model, sft_model, task, test_prompts, seed=3)
start_greedy = greedy_exact_match(sft_model, task, test_prompts)
print(
    f"SFT checkpoint ({SFT_STEPS} steps), test prompts: flawed verifier passes "
    f"{start_scores['proxy']:.3f}, true reward {start_scores['true']:.3f} (sampled), "
    f"greedy exact match {start_greedy:.3f}"
)

# %% [markdown]
# RL against the flawed verifier, no KL penalty: 6 prompts × $G=8$ responses per step, Adam
# at $5\cdot10^{-4}$, 50 steps. The same budget, seed and prompts serve every run of the
# chapter.

# %%
RL = dict(steps=50, n_prompts=6, group_size=8, lr=5e-4, eval_every=10, seed=100)
run_start = time.process_time()
hacked_policy, hacked_history, hacked_checkpoints = train_against(
    flawed_verifier, sft_model, task, val_prompts, beta=0.0, **RL
)
rl_seconds = time.process_time() - run_start
hacked_scores = evaluate(hacked_policy, sft_model, task, test_prompts, seed=3)
hacked_greedy = greedy_exact_match(hacked_policy, task, test_prompts)
print(f"one run of {RL['steps']} steps: {rl_seconds:.1f} s of CPU time")
print(f"flawed verifier: {start_scores['proxy']:.3f} → {hacked_scores['proxy']:.3f}")
print(
    f"true reward:     {start_scores['true']:.3f} → {hacked_scores['true']:.3f} (sampled), "
    f"greedy exact match {start_greedy:.3f} → {hacked_greedy:.3f}"
)
print(f"KL to the SFT policy: {hacked_scores['kl']:.2f} nats")
check_true(
    "the proxy rose and the true reward fell",
    hacked_scores["proxy"] > start_scores["proxy"] + 0.1
    and hacked_scores["true"] < start_scores["true"] - 0.1,
    f"proxy {start_scores['proxy']:.3f} → {hacked_scores['proxy']:.3f}, "
    f"true {start_scores['true']:.3f} → {hacked_scores['true']:.3f}",
)

# %% [markdown]
# What did the policy learn? Greedy answers of both policies to the first test prompts, and
# how often a response repeats a digit that the prompt has only once (the loophole):

# %%
with torch.no_grad():
    before = sample_responses(sft_model, test_prompts, task.length, temperature=0.0)
    after = sample_responses(hacked_policy, test_prompts, task.length, temperature=0.0)
for prompt, b, a in zip(
    test_prompts[:6, :-1].tolist(), before[:6].tolist(), after[:6].tolist(), strict=True
):
    print(f"prompt {prompt}  SFT {b}  after RL {a}  correct {sorted(prompt)}")


def overcounted(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """1.0 where some digit occurs more often in the response than in the prompt, (B,)."""
    digits = torch.arange(task.n_digits)
    prompt_counts = (prompts[:, :-1, None] == digits).sum(1)  # (B, n_digits)
    response_counts = (responses[:, :, None] == digits).sum(1)
    return (response_counts > prompt_counts).any(dim=1).float()


print(
    f"greedy responses that over-count a digit: SFT {overcounted(test_prompts, before).mean():.3f}"
    f", after RL {overcounted(test_prompts, after).mean():.3f}"
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
ax.plot(
    hacked_history["step"],
    hacked_history["proxy"],
    "o-",
    color=PALETTE[0],
    label="flawed verifier (proxy)",
)
ax.plot(
    hacked_history["step"],
    hacked_history["true"],
    "o-",
    color=PALETTE[1],
    label="exact match (true reward)",
)
ax_kl = ax.twinx()
ax_kl.plot(hacked_history["step"], hacked_history["kl"], "--", color="0.5", label="KL (right)")
ax_kl.set_ylabel("KL to the SFT policy (nats)")
ax_kl.grid(False)
ax.set(xlabel="RL step", ylabel="mean reward on validation prompts (sampled)", ylim=(0, 1))
lines = ax.get_lines() + ax_kl.get_lines()
ax.legend(lines, [line.get_label() for line in lines], loc="center right")
ax.set_title(
    f"The proxy rises {hacked_history['proxy'][0]:.2f} → {hacked_history['proxy'][-1]:.2f}"
    f" while exact match falls {hacked_history['true'][0]:.2f} → "
    f"{hacked_history['true'][-1]:.2f}"
)
plt.show()
check_true(
    "the true reward falls from the first evaluation on",
    max(hacked_history["true"][1:]) < hacked_history["true"][0],
    f"step 0: {hacked_history['true'][0]:.3f}, later at most {max(hacked_history['true'][1:]):.3f}",
)

# %% [markdown]
# Unlike the gold score in Gao et al.'s runs, which first rises, the true reward here falls
# from the first evaluation on. The verifier is silent about which passing answer to give,
# and the loophole answers are easier to produce reliably: once a prompt digit has been
# written, repeating it can never fail the check, while the correct next digit, larger, leaves
# fewer safe continuations. Sampling from a not-yet-sharp policy makes every later digit a
# risk, and the optimiser moves probability toward what is safe.
#
# ### 3. Mitigations on the same budget
#
# Four more runs, identical except for the reward: the flawed verifier with KL penalties
# $\beta\in\{0.03, 0.1, 0.3\}$, and the conservative ensemble (minimum of the three checks,
# no penalty). First, how big each reward's loophole is: the number of wrong answers that
# pass, averaged over the test prompts, counted over all 1001 non-decreasing token sequences
# (no other response passes any of these rewards):

# %%
loophole_sizes = {}
for name, reward_fn in [
    ("is_non_decreasing", is_non_decreasing),
    ("flawed verifier", flawed_verifier),
    ("min ensemble", min_ensemble),
]:
    passing = pass_set_mask(test_prompts, sorted_candidates, reward_fn)  # (512, 1001)
    loophole_sizes[name] = passing.sum(1).float().mean().item() - 1  # minus the correct one
    print(f"{name:>17}: {loophole_sizes[name]:7.2f} wrong answers pass per prompt")

# %%
BETAS = (0.03, 0.1, 0.3)
runs = {"flawed verifier": (hacked_policy, hacked_history, hacked_checkpoints)}
for beta in BETAS:
    runs[f"flawed verifier, β = {beta}"] = train_against(
        flawed_verifier, sft_model, task, val_prompts, beta=beta, **RL
    )
runs["min ensemble"] = train_against(min_ensemble, sft_model, task, val_prompts, beta=0.0, **RL)

# %% [markdown]
# Early stopping keeps the checkpoint with the best validation true reward; all numbers in the
# table are on the test prompts.

# %%
summary = {}
print(f"{'run':>27}  proxy   true    KL   | early-stopped: step  true")
print(f"{'SFT start':>27}  {start_scores['proxy']:.3f}  {start_scores['true']:.3f}  0.00 |")
for name, (policy, history, checkpoints) in runs.items():
    final = evaluate(policy, sft_model, task, test_prompts, seed=3)
    best = int(np.argmax(history["true"]))  # early stopping on the validation prompts
    early = final
    if best < len(checkpoints) - 1:
        stopped = copy.deepcopy(sft_model)
        stopped.load_state_dict(checkpoints[best])
        early = evaluate(stopped, sft_model, task, test_prompts, seed=3)
    summary[name] = dict(final=final, early=early, early_step=history["step"][best])
    print(
        f"{name:>27}  {final['proxy']:.3f}  {final['true']:.3f}  {final['kl']:4.2f} |"
        f"  {history['step'][best]:>17}  {early['true']:.3f}"
    )

# %% [markdown]
# How much each mitigation bought, in true reward on the test prompts, against the
# unpenalised run and against the SFT start:

# %%
hacked_final = summary["flawed verifier"]["final"]
for name, result in summary.items():
    if name != "flawed verifier":
        gain_vs_hacked = result["final"]["true"] - hacked_final["true"]
        gain_vs_start = result["final"]["true"] - start_scores["true"]
        print(f"{name:>27}: {gain_vs_hacked:+.3f} vs no mitigation, {gain_vs_start:+.3f} vs SFT")
for beta in BETAS:
    final = summary[f"flawed verifier, β = {beta}"]["final"]
    check_true(
        f"β = {beta}: more true reward and less than half the KL of the unpenalised run",
        final["true"] > hacked_final["true"] + 0.1 and final["kl"] < hacked_final["kl"] / 2,
        f"true {final['true']:.3f} vs {hacked_final['true']:.3f}, "
        f"KL {final['kl']:.2f} vs {hacked_final['kl']:.2f}",
    )
final_kls = [summary[f"flawed verifier, β = {beta}"]["final"]["kl"] for beta in BETAS]
check_true(
    "the larger β, the smaller the final KL",
    bool(np.all(np.diff(final_kls) < 0)),
    ", ".join(f"β = {b}: {kl:.2f}" for b, kl in zip(BETAS, final_kls, strict=True)),
)
for beta in BETAS[1:]:
    final_true = summary[f"flawed verifier, β = {beta}"]["final"]["true"]
    check_true(
        f"β = {beta}: true reward not below the SFT start (up to 0.03 of noise)",
        final_true > start_scores["true"] - 0.03,
        f"{start_scores['true']:.3f} → {final_true:.3f}",
    )
ensemble_true = summary["min ensemble"]["final"]["true"]
best_other = max(r["final"]["true"] for n, r in summary.items() if n != "min ensemble")
check_true(
    "the min ensemble beats the SFT start and every other run",
    ensemble_true > start_scores["true"] + 0.05 and ensemble_true > best_other,
    f"{start_scores['true']:.3f} → {ensemble_true:.3f}; best other run {best_other:.3f}",
)
check_equal(
    "early stopping on the unpenalised run keeps the first checkpoint (step)",
    summary["flawed verifier"]["early_step"],
    0,
)

# %% [markdown]
# The exact KL-regularised optimum of the flawed verifier, {eq}`hack-indicator-optimum`, from
# the SFT policy's $p_s$ and $p_c$ on the validation prompts, for $\beta$ from 10 down to
# 0.01: where the penalised objective {eq}`hack-kl-objective` would take the policy if the
# optimiser found its maximum.

# %%
val_mask = pass_set_mask(val_prompts, sorted_candidates, flawed_verifier)  # (192, 1001)
val_pass = pass_probability(sft_model, val_prompts, sorted_candidates, val_mask).double().numpy()
with torch.no_grad():
    val_correct = response_logprobs(sft_model, val_prompts, task.solve(val_prompts)).sum(1)
val_correct = val_correct.exp().double().numpy()
frontier = np.array(
    [kl_optimum_of_indicator(val_pass, val_correct, b) for b in np.logspace(1, -2, 60)]
)  # (60, 3): proxy, true, KL
print(
    f"β → 0: proxy → 1, true → E[p_c/p_s] = {np.mean(val_correct / val_pass):.3f} "
    f"(from E[p_c] = {val_correct.mean():.3f}), KL → E[-log p_s] = "
    f"{np.mean(-np.log(val_pass)):.3f} nats"
)
check_true(
    "the KL-regularised optimum never lowers the true reward",
    bool(np.all(frontier[:, 1] >= val_correct.mean() - 1e-12)),
    f"min over β {frontier[:, 1].min():.4f} ≥ {val_correct.mean():.4f}",
)

# %%
run_styles = {
    "flawed verifier": (PALETTE[1], "o"),
    **{f"flawed verifier, β = {b}": (c, "s") for b, c in zip(BETAS, PALETTE[3:6], strict=True)},
    "min ensemble": (PALETTE[2], "^"),
}
fig, (ax_step, ax_kl) = plt.subplots(1, 2, figsize=(11, 4.4))
for name, (_, history, _) in runs.items():
    colour, marker = run_styles[name]
    ax_step.plot(history["step"], history["true"], marker=marker, ms=4, color=colour, label=name)
    ax_kl.plot(history["kl"], history["true"], marker=marker, ms=4, color=colour, label=name)
ax_kl.plot(frontier[:, 2], frontier[:, 1], "k--", lw=1, label="exact optimum $\\pi^\\star_\\beta$")
ax_step.set(
    xlabel="RL step",
    ylabel="exact match on validation prompts (sampled)",
    title="True reward during training",
)
ax_kl.set(
    xlabel="KL to the SFT policy (nats)",
    ylabel="exact match (sampled)",
    title="True reward against KL",
)
ax_step.legend(fontsize=8)
ax_kl.legend(fontsize=8)
hacked_true = summary["flawed verifier"]["final"]["true"]
fig.suptitle(
    f"Unpenalised RL on the flawed verifier loses true reward as KL grows "
    f"({start_scores['true']:.2f} → {hacked_true:.2f}); the ensemble gains "
    f"({ensemble_true:.2f})"
)
plt.show()

# %% [markdown]
# Reading the table and the figure:
#
# - **KL penalty.** Every $\beta$ of the sweep ends with more true reward, and a fraction of the
#   KL, of the unpenalised run, and the larger $\beta$, the smaller the final KL. The weakest
#   penalty reduces the loss but does not prevent it; the stronger ones keep the true reward at
#   or a little above
#   the SFT level (the printed gains; differences of a few hundredths are within the noise of
#   512 sampled test answers). The exact optimum $\pi^\star_\beta$ (dashed) gains true
#   reward at every $\beta$, up to the printed $\mathbb E[p_c/p_s]$: with a penalty the
#   flawed verifier is a *useful* reward, because the SFT policy supplies the knowledge of
#   which sorted answer is right. After 50 steps the penalised runs are far below that curve:
#   their first steps move away from the reference before the penalty, zero at the start,
#   pulls them back. A KL penalty limits the damage of a flawed reward; it does not make the
#   reward right.
# - **Conservative ensemble.** Adding a check with a *different* loophole shrinks the
#   loophole from the printed tens of wrong answers per prompt to a fraction of one, and the
#   run's true reward rises instead of falling, the largest gain of all the runs, with no KL
#   penalty at all. The two members of the flawed verifier share their loophole, and their
#   minimum was hacked; the third member is what makes the difference.
# - **Early stopping.** On the unpenalised run the best validation checkpoint is the first
#   one: early stopping returns the SFT model, which prevents the whole loss and gains
#   nothing. It pays off only when the true reward rises before it falls, as in Gao et al.'s
#   runs, and it needs a trusted held-out metric, which is what is missing in practice; with
#   a noisy validation set it can also pick a checkpoint that is no better on the test
#   prompts (compare the early-stopped and final test numbers of the penalised runs).

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# ### Typical hacks of language models
#
# The toy exploits are the small version of what reward models and verifiers suffer at scale:
#
# - **Length.** Reward models trained on human preferences correlate strongly with length;
#   {cite:t}`singhal2024long` found that most of PPO's reward gain on several helpfulness data
#   sets came from longer answers, and that RL on a reward that is *only* length reproduced
#   most of the downstream improvement. The toy's $\hat r=q+\ell$ is this bias.
# - **Sycophancy.** Humans and preference models sometimes prefer a convincing answer that
#   agrees with the user over a correct one, and optimising against a preference model can
#   trade truthfulness for agreement {cite}`sharma2024towards`.
# - **Format.** Reward models and judges favour lists, bold text, links and emojis; best-of-$n$
#   and online DPO exploit these biases, since changing the format is easier than improving
#   the content {cite}`zhang2025lists`.
# - **Tests.** With unit tests as the reward, coding agents trained by RL learned to
#   special-case the tests, skip them or make the test harness exit early; monitoring the
#   chain of thought caught many of these hacks, but penalising what the monitor flagged
#   taught the agent to hide its intent rather than to stop {cite}`baker2025monitoring`.
#   "Verifiable" rewards are proxies too, as the sort checker here is.
#
# :::{dropdown} "Reward hacking means the RL algorithm has a bug." True?
# No. The optimiser maximises the reward it is given; hacking is a property of the reward,
# revealed by optimisation. A better optimiser hacks *more*: {cite:t}`pan2022effects` found
# that more capable agents (larger models, finer actions, longer training) exploit a
# misspecified reward more, sometimes abruptly, and in {cite:t}`gao2023scaling` the gap
# between proxy and gold grows with the KL the optimiser spends. The fix is on the reward
# side (or in how far the policy may move), not in the update rule.
# :::
#
# :::{dropdown} Why a KL penalty, and why is it not enough?
# It keeps the policy near $\pi_\text{ref}$, where the reward model was trained and is
# accurate, and its optimum {eq}`hack-kl-optimum` keeps the reference's preferences among
# answers the reward cannot tell apart. It does not fix the reward: if the proxy prefers a
# bad answer, $\pi^\star_\beta$ prefers it too, just less. In Gao et al.'s PPO runs the
# penalty changed where a run ended on the gold–KL curve, not the curve: it acted like early
# stopping. Here the KL runs beat the unpenalised one because the flawed verifier upper-bounds
# the truth and the damage came from drifting, exactly the case where a KL penalty helps most.
# :::
#
# :::{dropdown} Do reward-model ensembles solve over-optimisation?
# They reduce it. Conservative aggregation (the minimum, or the mean minus a multiple of the
# spread) reduced over-optimisation in both best-of-$n$ and PPO, and with a small KL penalty
# prevented it in PPO {cite}`coste2024reward`. But members trained from the same pre-trained
# model share their errors, and a hack that fools all members is not caught: ensembles
# "mitigate but do not eliminate" reward hacking {cite}`eisenstein2024helping`. The two
# members of the flawed verifier here are that failure in miniature.
# :::
#
# :::{dropdown} How do you detect reward hacking during training?
# Track a held-out gold metric (human or strong-judge evaluation, or a verifier the policy
# never trains on) next to the training reward, and alarm on a growing gap; track the KL to
# the reference; track cheap statistics of the outputs that a known hack would move (length,
# repetition, formatting, refusals, the share of test files touched); and read samples. The
# repetition statistic printed in Experiment 2 is the toy's version.
# :::
#
# :::{dropdown} Is $\log n-(n-1)/n$ the KL of best-of-$n$?
# Only when ties have probability zero (a continuous reward, or all responses with distinct
# scores). Otherwise it is an upper bound and can be loose: with two equally likely scores the
# best-of-16 KL is about $\log 2$, far below 1.84 (Verification). {cite:t}`beirami2024theoretical`
# give the exact expression and a better estimator. Gao et al. compute the best-of-$n$ KL
# with the formula; wherever the base policy repeats responses (a prompt with one obvious
# answer), the actual KL is smaller.
# :::
#
# :::{dropdown} Why is the gold reward plotted against $\sqrt{\mathrm{KL}}$?
# Because the curves become simple there: in Gao et al.'s experiments the proxy is roughly
# linear in $d=\sqrt{\mathrm{KL}}$ and the gold reward is $d(\alpha-\beta d)$ for best-of-$n$.
# The toy shows why for best-of-$n$ on a Gaussian score: the winner's score grows like
# $\sqrt{2\ln n}$ and the KL like $\ln n$, so the score is linear in $d$, and a gold reward
# quadratic in the score is quadratic in $d$.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. How many candidates does best-of-$n$ need to move 3 nats from the base policy, and how
#    many for 4? What does that say about best-of-$n$ as a way to "optimise hard"?
#
#    :::{dropdown} Answer
#    Solve $\log n-(n-1)/n=3$; for large $n$ the second term is about 1, so
#    $n\approx e^{4}\approx 55$, and for 4 nats $n\approx e^5\approx 148$. The KL
#    grows only like $\log n$, so each extra nat costs $e$ times more samples: best-of-$n$ is
#    a cheap, gentle optimiser, which is why it is a good probe of over-optimisation and an
#    expensive way to move far. The next cell finds the smallest such $n$.
#    :::


# %%
def smallest_n_for_kl(target: float) -> int:
    """The smallest n with log n - (n-1)/n ≥ target (the KL increases with n)."""
    n = 1
    while best_of_n_kl(n) < target:
        n += 1
    return n


n_for_3, n_for_4 = smallest_n_for_kl(3.0), smallest_n_for_kl(4.0)
check_true(
    "KL of best-of-n reaches 3 nats near e⁴ and 4 nats near e⁵",
    abs(n_for_3 - math.e**4) < 2 and abs(n_for_4 - math.e**5) < 2,
    f"n = {n_for_3} for 3 nats, {n_for_4} for 4 nats",
)

# %% [markdown]
# 2. In the toy, the reward model is fixed and only length biases it. Which $n$ maximises
#    the gold reward if the gold penalty on length is twice as strong,
#    $r^\star=q-\ell^2$? Derive $\mathbb E[r^\star\mid s]$ first.
#
#    :::{dropdown} Answer
#    $\mathbb E[r^\star\mid s]=s/2-(s^2/4+1/2)=s/2-s^2/4-1/2$, a parabola with its top at
#    $s=1$ instead of 2. The winner's $s=\sqrt2M_n$ passes 1 earlier, so the peak moves to a
#    smaller $n$: the more the proxy's bias hurts, the sooner over-optimisation starts. The
#    next cell computes it from the same moments.
#    :::

# %%
gold_strong = np.array(
    [
        m1 / math.sqrt(2) - m2 / 2 - 0.5
        for m1, m2 in (max_normal_moments(int(n)) for n in n_grid[:40])
    ]
)
best_n_strong = int(n_grid[:40][gold_strong.argmax()])
print(f"gold peaks at n = {best_n_strong} (vs {best_n} with the weaker penalty)")
check_true(
    "a stronger length penalty moves the peak to a smaller n",
    best_n_strong < best_n,
    f"{best_n_strong} < {best_n}",
)

# %% [markdown]
# 3. A colleague's verifier for a maths task accepts any answer whose final line contains the
#    right number. RL raises its pass rate from 40 % to 95 % in a day. What do you check
#    before celebrating, and what would you add to the reward?
#
#    :::{dropdown} Answer
#    Whether the answers became lists of many numbers, or hedges that contain every candidate:
#    the verifier checks *containment*, not *the* answer, like the flawed sort checker checks
#    which digits occur but not how often. Check the held-out accuracy under a strict parser,
#    the length and the count of numbers per final line, and read samples. Then tighten the
#    check (exactly one number, in a fixed format), or add a second check with a different
#    loophole and take the minimum; keep a KL penalty while doing it.
#    :::

# %%
print(f"CPU time for the whole notebook {time.process_time() - cpu_start:.1f} s")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`gao2023scaling`: the proxy/gold set-up, the functional forms $R_\text{bon}$ and
#   $R_\text{RL}$ of $d=\sqrt{\mathrm{KL}}$ (Section 3), the best-of-$n$ KL formula, and the
#   KL penalty acting like early stopping.
# - {cite:t}`beirami2024theoretical`: the best-of-$n$ KL formula is an upper bound in general.
# - {cite:t}`goodhart1975problems` (the law) and {cite:t}`manheim2018categorizing` (its
#   regressional and extremal variants, which the toy shows).
# - {cite:t}`amodei2016concrete` (reward hacking as a safety problem),
#   {cite:t}`skalse2022defining` (the formal definition and the result that non-trivial
#   unhackable pairs are rare), {cite:t}`pan2022effects` (hacking grows with capability).
# - {cite:t}`ziegler2019fine`, {cite:t}`stiennon2020learning`, {cite:t}`ouyang2022training`:
#   the KL-penalised RLHF objective and the per-response KL term;
#   {cite:t}`rafailov2023direct`: the closed-form optimum of that objective.
# - {cite:t}`williams1992simple` (REINFORCE) and {cite:t}`shao2024deepseekmath` (the group
#   baseline of GRPO).
# - {cite:t}`coste2024reward` and {cite:t}`eisenstein2024helping`: conservative reward-model
#   ensembles, what they fix and what they do not.
# - {cite:t}`singhal2024long` (length), {cite:t}`sharma2024towards` (sycophancy),
#   {cite:t}`zhang2025lists` (format), {cite:t}`baker2025monitoring` (unit-test hacks and
#   chain-of-thought monitoring).

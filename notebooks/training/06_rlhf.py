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
# # 06. RLHF
#
# **The question.** What is RLHF (reinforcement learning from human feedback)? What are its
# three stages, and what does each one optimise?
#
# **What you will be able to answer.** How preference data are collected (rank $K$ responses,
# keep all $\binom K2$ pairs) and why a prompt's pairs go into one batch element; the
# Bradley–Terry loss of the reward model and its gradient; the KL-regularised objective, its
# optimum, and how the KL penalty becomes a per-token reward in PPO; which four models PPO-based
# RLHF holds and why the critic starts from the reward model; what PPO-ptx and the "alignment
# tax" are; and what a reward-vs-KL curve shows when the reward model is imperfect.

# %%
import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from notebook_utils import rl
from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.gpt import GPT
from notebook_utils.nn import count_parameters
from notebook_utils.rl import (
    SortTask,
    clipped_surrogate,
    exact_kl,
    gae,
    greedy_exact_match,
    kl_estimates,
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
# RLHF turns comparisons made by people into a training signal, in three stages
# {cite}`christiano2017deep,ziegler2019fine,stiennon2020learning,ouyang2022training`:
#
# 1. **Supervised fine-tuning (SFT).** Fine-tune the pre-trained model on demonstrations by
#    maximum likelihood ([chapter 01](01_sft.ipynb)). The result is the starting policy and,
#    frozen, the **reference** $\pi_\text{ref}$.
# 2. **Reward model (RM).** Sample $K$ responses per prompt from the SFT model; people rank
#    them (InstructGPT: $K=4$ to $9$), which gives $\binom K2$ pairs per prompt. A copy of the
#    SFT network with a scalar head, $r_\phi(x,y)$, is fitted to the pairs with the
#    Bradley–Terry loss $\mathcal L_\text{RM}=-\mathbb E\log\sigma\big(r_\phi(x,y_w)-
#    r_\phi(x,y_l)\big)$: logistic regression on score differences, supervised learning, not
#    RL. All $\binom K2$ pairs of a prompt go into one batch element: one forward pass per
#    response instead of two per pair, and no overfitting to the correlated pairs.
# 3. **RL with a KL penalty.** Maximise
#    $\mathbb E_{y\sim\pi_\theta}[r_\phi(x,y)]-\beta\,\mathrm{KL}(\pi_\theta\,\|\,\pi_\text{ref})$
#    with PPO. The KL enters the **reward**, per token:
#    $r_t=-\beta\log\frac{\pi_{\theta_\text{old}}(y_t|\cdot)}{\pi_\text{ref}(y_t|\cdot)}+
#    \mathbb 1[t=T]\,r_\phi(x,y)$, and GAE turns it into advantages. That takes **four
#    models**: the policy and the value model (trained), the RM and the reference (frozen).
#    InstructGPT initialises the value model from the RM. The optimum of the objective is
#    $\pi^*\propto\pi_\text{ref}\,e^{r_\phi/\beta}$: $\beta$ sets how far the policy may go to
#    please a reward model that is only right near the data it was trained on.
# - **PPO-ptx** adds $\gamma_\text{ptx}\,\mathbb E_{x\sim\mathcal D_\text{pre}}\log\pi_\theta(x)$,
#   pre-training gradients mixed into the PPO updates, to win back the **alignment tax**:
#   the drop on ordinary NLP benchmarks that RLHF alone caused in InstructGPT.
# - **On a toy, measured here:** the three stages on the sort task, with a hidden "human"
#   who ranks responses by token accuracy with Bradley–Terry noise. With a moderate $\beta$,
#   PPO raises both the RM's reward and the true reward of the policy's samples. With a small
#   $\beta$ the policy moves further from the reference, earns more RM reward and *less* true
#   reward: it has found responses the RM over-rates (over-optimisation). The same PPO trained
#   on the hidden reward itself does better than on the RM, so the RM is the bottleneck, not
#   the RL algorithm. The Experiments print every number.
#
# The notes list the three stages and stop there (errata TR-04): no objectives, no word on how
# the RM data are collected, nothing on PPO-ptx. Their "four models in actor–critic" (TR-02)
# belongs here, not to actor–critic in general, which has two (actor and critic); and in RLHF
# the reference model is not optional, since it defines the KL penalty.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x$, $y=(y_1,\dots,y_T)$ | prompt, response of $T$ tokens | `prompts`, `responses` |
# | $s_t=(x,y_{<t})$ | state before token $t$; the action is $y_t$ | |
# | $\pi_\theta$, $\pi_{\theta_\text{old}}$ | policy; the policy that sampled the batch | `policy` |
# | $\pi_\text{ref}$ | the SFT model, frozen | `reference` |
# | $r_\phi(x,y)$ | reward model | `reward_model` |
# | $V_\psi(s_t)$ | value model (critic) | `critic` |
# | $a(x,y)$ | the true reward: token accuracy, hidden from training | `task.token_accuracy` |
# | $\kappa$ | the simulated labeller's sharpness | `LABELLER_SHARPNESS` |
# | $K$ | responses ranked per prompt | `K_RANKED` |
# | $(x,y_w,y_l)$ | a pair: $y_w$ preferred ("won") over $y_l$ | |
# | $\sigma(z)=1/(1+e^{-z})$ | logistic function | `torch.sigmoid` |
# | $\beta$ | KL coefficient | `beta` |
# | $\gamma$, $\lambda$ | discount and GAE parameter (here $\gamma=1$) | `gamma`, `lam` |
# | $\gamma_\text{ptx}$ | PPO-ptx's pre-training coefficient (InstructGPT calls it $\gamma$) | |
#
# ### Stage 1: SFT
#
# Maximum likelihood on demonstrations, the prompt masked
# ([chapter 01](01_sft.ipynb) derives it):
#
# $$
# \mathcal L_\text{SFT}(\theta)=-\mathbb E_{(x,y)\sim\mathcal D_\text{demo}}
# \sum_{t=1}^{T}\log\pi_\theta(y_t\mid x,y_{<t}).
# $$ (rlhf-sft)
#
# The SFT model is the starting point of stage 3 and, frozen, its reference $\pi_\text{ref}$.
# Its samples are also what people compare in stage 2.
#
# ### Stage 2: the reward model
#
# **The preference model.** Bradley and Terry {cite}`bradley1952rank` model a comparison as a
# coin whose bias depends on a difference of scores:
#
# $$
# P(y_w\succ y_l\mid x)=\sigma\big(r(x,y_w)-r(x,y_l)\big).
# $$ (rlhf-bt)
#
# Only differences enter, so $r$ is identified only up to an additive constant per prompt, and
# its unit is the log-odds of a preference. (InstructGPT therefore shifts its RM so that the
# labellers' demonstrations score 0 on average before RL {cite}`ouyang2022training`.)
#
# **The loss.** Maximum likelihood of the observed preferences under {eq}`rlhf-bt`, with
# $r_\phi$ in place of $r$:
#
# $$
# \mathcal L_\text{RM}(\phi)=-\mathbb E_{(x,y_w,y_l)\sim\mathcal D}
# \log\sigma\big(r_\phi(x,y_w)-r_\phi(x,y_l)\big).
# $$ (rlhf-rm-loss)
#
# Write $m=r_\phi(x,y_w)-r_\phi(x,y_l)$ for the margin of one pair, and
# $\ell(m)=-\log\sigma(m)=\log(1+e^{-m})$. Since $\sigma'(m)=\sigma(m)\sigma(-m)$,
#
# $$
# \frac{\partial\ell}{\partial r_\phi(x,y_w)}=-\sigma(-m),\qquad
# \frac{\partial\ell}{\partial r_\phi(x,y_l)}=+\sigma(-m).
# $$ (rlhf-rm-grad)
#
# Each pair pushes the two scores apart with a force equal to the probability the model
# currently gives to the *wrong* order: a pair already ranked right with a large margin
# barely counts, a misranked one counts fully. With $r_w=2$ and $r_l=0.5$: $m=1.5$,
# $P(y_w\succ y_l)=\sigma(1.5)=0.817574$, $\ell=-\log 0.817574=0.201413$, and the gradient
# on $r_w$ is $-(1-0.817574)=-0.182426$.
#
# **Rankings instead of pairs.** A labeller who ranks $K$ responses
# $y_{(1)}\succ y_{(2)}\succ\dots\succ y_{(K)}$ has answered $\binom K2$ comparisons at once:
# 6 for $K=4$, 36 for $K=9$, InstructGPT's range. Its loss per prompt is the mean over all of
# them {cite}`ouyang2022training`:
#
# $$
# \mathcal L_\text{rank}(\phi;x)=-\binom K2^{-1}\sum_{1\le i<j\le K}
# \log\sigma\big(r_\phi(x,y_{(i)})-r_\phi(x,y_{(j)})\big).
# $$ (rlhf-rank-loss)
#
# The $\binom K2$ pairs share responses, so they are strongly correlated. InstructGPT found
# that shuffling them into the data set as independent examples made the RM overfit within
# one epoch (each response is then seen in $K-1$ separate updates); putting a prompt's whole
# ranking in one batch element fixed it, and needs one forward pass per response, $K$ in
# all, instead of two per pair, $2\binom K2$.
#
# **The simulated labeller.** This chapter has no people, so a hidden labeller ranks the
# responses. Each response gets a utility, its true reward plus independent Gumbel noise,
# and the ranking sorts the utilities:
#
# $$
# u_k=\kappa\,a(x,y_k)+g_k,\qquad g_k\sim\text{Gumbel}(0,1)\ \text{i.i.d.}
# $$ (rlhf-labeller)
#
# The difference of two independent standard Gumbel variables is a standard logistic
# variable. The standard Gumbel has CDF $F(g)=e^{-e^{-g}}$ and density $e^{-g}e^{-e^{-g}}$, so
# $P(g_j-g_i<z)=\int e^{-g}e^{-e^{-g}}\,e^{-e^{-(g+z)}}dg=\int e^{-g}e^{-e^{-g}(1+e^{-z})}dg
# =\int_0^\infty e^{-u(1+e^{-z})}du=1/(1+e^{-z})=\sigma(z)$, with $u=e^{-g}$. Hence
#
# $$
# P(y_i\text{ ranked above }y_j)=P\big(g_j-g_i<\kappa(a_i-a_j)\big)=\sigma\big(\kappa(a_i-a_j)\big):
# $$ (rlhf-gumbel)
#
# every pair taken from the ranking is a Bradley–Terry comparison {eq}`rlhf-bt` with the
# reward $\kappa\,a(x,y)$ (this ranking model is the Plackett–Luce model). So the RM's target
# is known exactly, $r\approx\kappa a$ up to a constant per prompt, and so is the label
# noise: with $\kappa=8$ and $T=4$ tokens, a response with one more correct token wins with
# probability $\sigma(8/4)=0.881$, and two responses of equal accuracy are a coin flip.
#
# ### Stage 3: RL against the reward model
#
# **The objective.** For each prompt, maximise the RM's reward while staying close to the
# reference:
#
# $$
# J(\pi)=\mathbb E_{y\sim\pi(\cdot|x)}\big[r_\phi(x,y)\big]
# -\beta\,\mathrm{KL}\big(\pi(\cdot|x)\,\|\,\pi_\text{ref}(\cdot|x)\big).
# $$ (rlhf-objective)
#
# Writing both terms as one expectation gives its maximiser in closed form
# ([chapter 02](02_dpo.ipynb) and [chapter 03](03_dpo_vs_rlhf.ipynb) use this step to derive
# DPO):
#
# $$
# J(\pi)=-\beta\,\mathrm{KL}\big(\pi\,\|\,\pi^*\big)+\beta\log Z(x),\qquad
# \pi^*(y|x)=\frac{\pi_\text{ref}(y|x)\,e^{r_\phi(x,y)/\beta}}{Z(x)},\qquad
# Z(x)=\sum_y\pi_\text{ref}(y|x)\,e^{r_\phi(x,y)/\beta}.
# $$ (rlhf-optimum)
#
# $\beta\to\infty$ keeps $\pi_\text{ref}$; $\beta\to0$ puts all the mass on the RM's favourite
# response, wherever the RM is wrong. The RM was fitted on samples of $\pi_\text{ref}$, so it
# is reliable near $\pi_\text{ref}$ and increasingly unreliable away from it; the KL term is
# what keeps the policy where the RM can be trusted, and why InstructGPT adds it "to mitigate
# over-optimization of the reward model" {cite}`ouyang2022training,gao2023scaling`.
#
# **The KL of a whole response is a sum over tokens.** By the chain rule of probability,
# $\log\frac{\pi(y|x)}{\pi_\text{ref}(y|x)}=\sum_t\log\frac{\pi(y_t|s_t)}{\pi_\text{ref}(y_t|s_t)}$,
# and taking the expectation over $y\sim\pi$ token by token,
#
# $$
# \mathrm{KL}\big(\pi(\cdot|x)\,\|\,\pi_\text{ref}(\cdot|x)\big)
# =\mathbb E_{y\sim\pi}\sum_{t=1}^{T}\log\frac{\pi(y_t|s_t)}{\pi_\text{ref}(y_t|s_t)}
# =\mathbb E_{y\sim\pi}\sum_{t=1}^{T}
# \mathrm{KL}\big(\pi(\cdot|s_t)\,\|\,\pi_\text{ref}(\cdot|s_t)\big).
# $$ (rlhf-seq-kl)
#
# Both sums are unbiased one-sample estimates of the KL. The first, the sampled log-ratio
# ($k_1$ in [chapter 07](07_grpo.ipynb)), is what the reward below uses; the second sums
# the exact KL over the vocabulary at each visited prefix and has lower variance, so the
# experiments use it to *measure* the KL.
#
# **The per-token reward.** PPO needs a reward per action. RLHF pays the KL term at every
# token and the RM's score at the end:
#
# $$
# r_t=-\beta\log\frac{\pi_{\theta_\text{old}}(y_t\mid s_t)}{\pi_\text{ref}(y_t\mid s_t)}
# +\mathbb 1[t=T]\;r_\phi(x,y).
# $$ (rlhf-token-reward)
#
# With $\gamma=1$ the return of a response is
# $\sum_tr_t=r_\phi(x,y)-\beta\log\frac{\pi_{\theta_\text{old}}(y|x)}{\pi_\text{ref}(y|x)}$, whose
# mean over $y\sim\pi_{\theta_\text{old}}$ is $J(\pi_{\theta_\text{old}})$ by {eq}`rlhf-seq-kl`.
# The log-ratio is evaluated at the sampling policy and treated as a fixed reward; the
# gradient that this leaves out, $-\beta\,\mathbb E[\nabla_\theta\log\pi_\theta(y|x)]$, is zero,
# so the policy gradient of the shaped return is the gradient of $J$. Paying the penalty per
# token also gives the critic a dense signal: the cost of a token that departs from the
# reference is charged at that token, while the RM's verdict only arrives at $t=T$.
#
# **PPO on these rewards** ([chapter 05](05_ppo.ipynb) derives both pieces). A response is an
# episode of $T$ steps. The value model estimates $V_\psi(s_t)$, the return still to come;
# the TD errors and GAE {cite}`schulman2016high` are
#
# $$
# \delta_t=r_t+V_\psi(s_{t+1})-V_\psi(s_t)\quad(V_\psi(s_{T+1})=0),\qquad
# \hat A_t=\sum_{l=0}^{T-t}\lambda^l\,\delta_{t+l},\qquad \hat R_t=\hat A_t+V_\psi(s_t),
# $$ (rlhf-gae)
#
# and each batch of rollouts is used for a few epochs of minibatch steps on the clipped
# surrogate {cite}`schulman2017proximal` and the value loss:
#
# $$
# \max_\theta\ \hat{\mathbb E}_t\Big[\min\big(\rho_t\hat A_t,\
# \operatorname{clip}(\rho_t,1-\epsilon,1+\epsilon)\hat A_t\big)\Big],
# \quad \rho_t=\frac{\pi_\theta(y_t|s_t)}{\pi_{\theta_\text{old}}(y_t|s_t)};\qquad
# \min_\psi\ \hat{\mathbb E}_t\big[\tfrac12\big(V_\psi(s_t)-\hat R_t\big)^2\big].
# $$ (rlhf-ppo)
#
# **The four models.** PPO-based RLHF holds
#
# | model | role | trained in stage 3? | initialised from |
# |---|---|---|---|
# | policy $\pi_\theta$ | generates, is optimised | yes | SFT model |
# | value model $V_\psi$ | baseline and bootstrap for GAE | yes | the RM (InstructGPT) |
# | reward model $r_\phi$ | scores finished responses | no (frozen) | SFT model, then stage 2 |
# | reference $\pi_\text{ref}$ | the KL anchor | no (frozen) | SFT model |
#
# Generic actor–critic has only the first two: the reward comes from the environment and
# there is no anchor. The value model and the RM both map (prompt, partial or full response)
# to a scalar, which is why starting the critic from the RM is natural: its features already
# encode what the RM rewards. GRPO ([chapter 07](07_grpo.ipynb)) drops the value model and
# moves the KL from the reward into the loss.
#
# **PPO-ptx.** InstructGPT's final models maximise {cite}`ouyang2022training`
#
# $$
# J_\text{ptx}(\theta)=\mathbb E_{x}\Big[\mathbb E_{y\sim\pi_\theta}\big[r_\phi(x,y)\big]
# -\beta\,\mathrm{KL}\big(\pi_\theta\,\|\,\pi_\text{ref}\big)\Big]
# +\gamma_\text{ptx}\,\mathbb E_{x\sim\mathcal D_\text{pre}}\big[\log\pi_\theta(x)\big],
# $$ (rlhf-ptx)
#
# i.e. the gradient of every PPO update also includes the gradient of the log-likelihood of
# a batch of pre-training text, weighted by $\gamma_\text{ptx}$. The reason is the *alignment
# tax*: plain PPO made the model worse than GPT-3, the pre-trained model the pipeline started
# from, on public NLP benchmarks (SQuAD v2, DROP, HellaSwag, WMT French→English). Mixing in
# pre-training gradients removed most of these regressions (not all) with little loss of
# validation reward, which a larger $\beta$ could not do: it cost reward and still did not
# recover SQuAD v2 and DROP {cite}`ouyang2022training`. The KL term anchors the policy only on
# the RL prompts' distribution; $\gamma_\text{ptx}$ anchors it on everything the pre-training
# data covers.

# %% [markdown]
# ## Implementation from scratch
#
# The pieces that are this chapter's topic are written here: the simulated labeller, the
# Bradley–Terry and ranking losses, the reward and value models, the per-token reward and
# the PPO iteration that puts them together. Rollouts, log-probabilities, the exact KL, GAE
# and the clipped surrogate are the shared functions of `notebook_utils.rl`, derived and
# checked in [chapter 05](05_ppo.ipynb) (GAE, clipping) and
# [chapter 07](07_grpo.ipynb) (KL estimators).
#
# ### Stage 2: labels, pairs and the loss
#
# The labeller {eq}`rlhf-labeller` returns, for each prompt, the order of its $K$ responses,
# best first. Gumbel noise is $-\log(-\log U)$ for $U$ uniform on $(0,1)$.

# %%
K_RANKED = 4  # responses ranked per prompt: C(4, 2) = 6 pairs
LABELLER_SHARPNESS = 8.0  # κ: Bradley-Terry log-odds per unit of token accuracy


def simulated_ranking(
    true_rewards: torch.Tensor, sharpness: float, generator: torch.Generator
) -> torch.Tensor:
    """Order (N, K) of each row's responses, best first, by u = κ·a + Gumbel noise,
    eq. (rlhf-labeller). `true_rewards` is (N, K)."""
    uniform = torch.rand(true_rewards.shape, generator=generator).clamp(1e-12, 1 - 1e-12)
    gumbel = -torch.log(-torch.log(uniform))  # (N, K), standard Gumbel
    utility = sharpness * true_rewards + gumbel  # (N, K)
    return utility.argsort(dim=1, descending=True)


def ranked_pairs(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions (winner, loser) of all C(k, 2) pairs of a ranking listed best first."""
    winner, loser = torch.triu_indices(k, k, offset=1)  # i < j: rank i beats rank j
    return winner, loser


# %% [markdown]
# The loss {eq}`rlhf-rm-loss` per pair, from the definition
# $\ell(m)=\log(1+e^{-m})=\log(e^0+e^{-m})$. Written literally, $e^{-m}$ overflows for a large
# negative margin. As a log-sum-exp of the two terms $0$ and $-m$ it is safe: `torch.logaddexp`
# factors out the larger exponent, $\max(0,-m)+\log(1+e^{-|m|})$. (Coding that last form by
# hand is fine for the value but not for autograd: at $m=0$ the kinks of $\max$ and $|m|$
# give the subgradient $-1$ instead of $-\tfrac12$, which the Verification would catch.)


# %%
def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """-log σ(r_w - r_l) per pair, eq. (rlhf-rm-loss), computed stably; same shape as inputs."""
    margin = chosen - rejected
    return torch.logaddexp(torch.zeros_like(margin), -margin)  # log(e^0 + e^-m)


def ranking_loss(scores: torch.Tensor) -> torch.Tensor:
    """Mean Bradley-Terry loss over all C(K, 2) pairs of each ranking, eq. (rlhf-rank-loss).

    `scores` is (N, K), each row the RM's scores of one prompt's responses, best first."""
    winner, loser = ranked_pairs(scores.shape[1])
    return bradley_terry_loss(scores[:, winner], scores[:, loser]).mean()  # (N, C(K,2)) -> ()


# %% [markdown]
# ### The reward model
#
# InstructGPT's RM is the SFT network with the unembedding replaced by a head that reads one
# scalar off the last token. This chapter's RM keeps the first half of that: its body is a
# copy of the SFT network (transformer blocks and final norm), fine-tuned end to end. Its
# head is a per-token score, summed over the response:
#
# $$
# r_\phi(x,y)=\sum_{t=1}^{T}\big(W h_\phi(s_t)+c\big)_{y_t},
# $$ (rlhf-rm)
#
# where $h_\phi(s_t)$ is the body's hidden state at the position that reads the last token of
# $s_t=(x,y_{<t})$, the position whose logits would predict $y_t$; $W$ (vocabulary × width)
# and $c$ start at zero, so the untrained RM scores every response 0. It is still one scalar
# per response, trained with the same loss. The choice is a budget one: a scalar read off the
# last token has to learn, from comparisons alone, to find and compare every token of the
# response, and in trials for this chapter it learned far too slowly for a notebook that runs
# in seconds. The per-token head reads features that already encode the expected next token
# at each position. The price is an assumption built into the architecture: that the reward
# is a sum of per-token terms, which the hidden reward (token accuracy) happens to be.


# %%
class RewardModel(nn.Module):
    """r_φ(x, y), eq. (rlhf-rm): a copy of the SFT network's body and a per-token score head,
    read at the position that predicts each response token and summed over the response."""

    def __init__(self, sft_model: GPT) -> None:
        super().__init__()
        self.body = copy.deepcopy(sft_model)
        self.body.head = nn.Identity()  # the body now returns hidden states, not logits
        cfg = sft_model.cfg
        self.token_score = nn.Linear(cfg.d_model, cfg.vocab_size)  # W, c
        nn.init.zeros_(self.token_score.weight)  # an untrained RM scores everything 0
        nn.init.zeros_(self.token_score.bias)

    def token_scores(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """(W h(s_t) + c)[y_t] for every response token, (B, T)."""
        hidden = response_logits(self.body, prompts, responses)  # (B, T, d): h(s_t)
        scores = self.token_score(hidden)  # (B, T, V)
        return scores.gather(-1, responses.unsqueeze(-1)).squeeze(-1)  # (B, T)

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return self.token_scores(prompts, responses).sum(dim=1)  # (B,)


# %% [markdown]
# The RM is trained on rankings: each step takes a minibatch of prompts with their $K$
# ranked responses, scores the $K$ responses in one forward pass and applies
# {eq}`rlhf-rank-loss` to all $\binom K2$ pairs.


# %%
def score_rankings(
    reward_model: RewardModel, prompts: torch.Tensor, ranked: torch.Tensor
) -> torch.Tensor:
    """RM scores (N, K) of ranked responses (N, K, T) for prompts (N, P)."""
    n, k, t = ranked.shape
    flat_prompts = prompts.repeat_interleave(k, dim=0)  # (N·K, P)
    return reward_model(flat_prompts, ranked.reshape(n * k, t)).view(n, k)


def train_reward_model(
    reward_model: RewardModel,
    prompts: torch.Tensor,
    ranked: torch.Tensor,
    *,
    steps: int,
    prompts_per_step: int,
    lr: float,
    generator: torch.Generator,
) -> list[float]:
    """Minimise eq. (rlhf-rank-loss) with AdamW, one prompt's whole ranking per batch element."""
    optimizer = torch.optim.AdamW(reward_model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        index = torch.randint(0, len(prompts), (prompts_per_step,), generator=generator)
        loss = ranking_loss(score_rankings(reward_model, prompts[index], ranked[index]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# %% [markdown]
# ### The value model, initialised from the RM
#
# InstructGPT initialises the value function from the RM. Here the critic copies the RM's
# body; its head is new (a scalar, zero at the start), because the RM's head scores a
# *token* while a value scores a *state*. $V_\psi(s_t)$ is read at the same positions as
# the RM's token scores, so the critic starts from features already trained to tell good
# tokens from bad ones.


# %%
class ValueModel(nn.Module):
    """V_ψ(s_t) for t = 1..T: the RM's body (copied) and a new scalar head, read at the
    position that predicts each response token."""

    def __init__(self, reward_model: RewardModel) -> None:
        super().__init__()
        self.body = copy.deepcopy(reward_model.body).requires_grad_(True)  # RM may be frozen
        self.value_head = nn.Linear(reward_model.body.cfg.d_model, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        hidden = response_logits(self.body, prompts, responses)  # (B, T, d): h(s_t)
        return self.value_head(hidden).squeeze(-1)  # (B, T)


# %% [markdown]
# ### Stage 3: the per-token reward and one PPO iteration
#
# {eq}`rlhf-token-reward`: the KL penalty at every token, the RM's score added at the last.


# %%
def per_token_rewards(
    rm_scores: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor, beta: float
) -> torch.Tensor:
    """r_t, eq. (rlhf-token-reward), (B, T); `rm_scores` is (B,), the log-probs (B, T)."""
    rewards = -beta * (old_logp - ref_logp)  # (B, T): -β log π_old/π_ref at every token
    rewards[:, -1] += rm_scores  # 1[t = T] r_φ(x, y)
    return rewards


# %% [markdown]
# One PPO iteration: sample a response for each of a batch of fresh prompts from the current
# policy; score them with the frozen RM and reference and the current critic; compute the
# per-token rewards, GAE {eq}`rlhf-gae` (shared `gae`, $\gamma=1$) and the value targets; then
# run a few epochs of minibatch steps on the clipped surrogate (shared `clipped_surrogate`)
# and the value loss {eq}`rlhf-ppo`. The advantages are whitened over the batch (mean 0,
# standard deviation 1), as most RLHF implementations do {cite}`huang2024n`. There is no
# entropy bonus: the KL penalty already keeps the policy from collapsing onto a few tokens.

# %%
PPO_PROMPTS = 64  # rollouts per iteration, one response per prompt
PPO_EPOCHS, PPO_MINIBATCH = 2, 32  # 4 gradient steps per batch of rollouts
POLICY_LR, CRITIC_LR = 1e-3, 1e-3
CLIP_EPS, GAE_LAMBDA = 0.2, 0.95


def ppo_iteration(
    policy: GPT,
    critic: ValueModel,
    reward_model: nn.Module,
    reference: GPT,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    task: SortTask,
    beta: float,
    generator: torch.Generator,
) -> None:
    """One batch of rollouts and PPO epochs on it, eqs. (rlhf-token-reward) to (rlhf-ppo).
    `reward_model(prompts, responses)` returns one score per response, (B,)."""
    policy_optimizer, critic_optimizer = optimizers
    prompts = task.prompts(PPO_PROMPTS, generator)  # (B, P)
    responses = sample_responses(policy, prompts, task.length, generator=generator)  # (B, T)
    with torch.no_grad():
        old_logp = response_logprobs(policy, prompts, responses)  # (B, T): π_θ_old
        ref_logp = response_logprobs(reference, prompts, responses)  # (B, T): π_ref
        rm_scores = reward_model(prompts, responses)  # (B,)
        values = critic(prompts, responses)  # (B, T): V(s_1..s_T)
    rewards = per_token_rewards(rm_scores, old_logp, ref_logp, beta)  # eq. (rlhf-token-reward)
    advantages, value_targets = gae(rewards, values, gamma=1.0, lam=GAE_LAMBDA)  # (rlhf-gae)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)  # whitened
    for _ in range(PPO_EPOCHS):
        order = torch.randperm(PPO_PROMPTS, generator=generator)
        for start in range(0, PPO_PROMPTS, PPO_MINIBATCH):
            batch = order[start : start + PPO_MINIBATCH]
            logp = response_logprobs(policy, prompts[batch], responses[batch])  # (b, T)
            surrogate = clipped_surrogate(logp, old_logp[batch], advantages[batch], CLIP_EPS)
            policy_loss = -surrogate.mean()  # eq. (rlhf-ppo), maximised
            policy_optimizer.zero_grad(set_to_none=True)
            policy_loss.backward()
            policy_optimizer.step()
            predicted = critic(prompts[batch], responses[batch])  # (b, T)
            value_loss = 0.5 * (predicted - value_targets[batch]).pow(2).mean()
            critic_optimizer.zero_grad(set_to_none=True)
            value_loss.backward()
            critic_optimizer.step()


# %% [markdown]
# ### Evaluation: RM reward, true reward and exact KL on held-out prompts
#
# A policy is scored on held-out prompts with one response sampled per prompt at temperature
# 1 (with a fixed generator, so that two evaluations differ only through the policy): the
# RM's mean score, the true reward (token accuracy), the exact-match rate, and the KL
# {eq}`rlhf-seq-kl`, the exact per-position KL (shared `exact_kl`) summed along the sampled
# prefixes.


# %%
@torch.no_grad()
def evaluate_policy(
    policy: GPT,
    reference: GPT,
    reward_model: RewardModel,
    task: SortTask,
    prompts: torch.Tensor,
    seed: int = 5,
) -> dict[str, float]:
    """Held-out means over one sampled response per prompt: RM score, token accuracy,
    exact match, and KL(π || π_ref) in nats per response, eq. (rlhf-seq-kl)."""
    generator = torch.Generator().manual_seed(seed)
    responses = sample_responses(policy, prompts, task.length, generator=generator)  # (N, T)
    kl_per_position = exact_kl(
        response_logits(policy, prompts, responses), response_logits(reference, prompts, responses)
    )  # (N, T)
    return {
        "rm_reward": reward_model(prompts, responses).mean().item(),
        "token_accuracy": task.token_accuracy(prompts, responses).mean().item(),
        "exact_match": task.reward(prompts, responses).mean().item(),
        "kl": kl_per_position.sum(dim=1).mean().item(),
    }


# %% [markdown]
# ## Verification
#
# ### The Bradley–Terry loss: the errata's numbers, two PyTorch references, the gradient
#
# The errata's example ($r_w=2$, $r_l=0.5$), then the loss against
# `-F.logsigmoid(m)` and against `F.binary_cross_entropy_with_logits(m, 1)` (a preference is a
# binary label, "chosen wins", with logit $m$) over margins from $-60$ to $60$, where a naive
# $\log(1+e^{-m})$ would overflow, and the gradient {eq}`rlhf-rm-grad` against autograd, all
# in float64.

# %%
r_chosen = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
r_rejected = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
errata_loss = bradley_terry_loss(r_chosen, r_rejected)
errata_loss.sum().backward()
check_close(
    "P(y_w ≻ y_l) = σ(1.5) vs errata 0.817574",
    torch.sigmoid(r_chosen - r_rejected),
    torch.tensor([0.817574], dtype=torch.float64),
    atol=5e-7,
)
check_close(
    "RM loss at r_w=2, r_l=0.5 vs errata 0.201413",
    errata_loss,
    torch.tensor([0.201413], dtype=torch.float64),
    atol=5e-7,
)
check_close(
    "∂ℓ/∂r_w, ∂ℓ/∂r_l: autograd vs -σ(-m), +σ(-m), eq. (rlhf-rm-grad)",
    torch.cat([r_chosen.grad, r_rejected.grad]),
    torch.tensor([-1, 1], dtype=torch.float64) * torch.sigmoid(torch.tensor(-1.5)).double(),
    atol=1e-7,
)

# %%
margins = torch.linspace(-60, 60, 241, dtype=torch.float64, requires_grad=True)  # (241,)
losses = bradley_terry_loss(margins, torch.zeros_like(margins))
check_close(
    "BT loss vs -F.logsigmoid, m in [-60, 60]",
    losses,
    -F.logsigmoid(margins),
    atol=1e-13,
    rtol=1e-13,
)
check_close(
    "BT loss vs F.binary_cross_entropy_with_logits(m, 1)",
    losses,
    F.binary_cross_entropy_with_logits(margins, torch.ones_like(margins), reduction="none"),
    atol=1e-13,
    rtol=1e-13,
)
check_close(
    "mean BT loss vs the shared notebook_utils.rl.bradley_terry_loss (used by chapter 03)",
    losses.mean(),
    rl.bradley_terry_loss(margins, torch.zeros_like(margins)),
    atol=1e-15,
)
(margin_grad,) = torch.autograd.grad(losses.sum(), margins)
check_close("dℓ/dm: autograd vs -σ(-m)", margin_grad, -torch.sigmoid(-margins.detach()), atol=1e-15)

# %% [markdown]
# ### Rankings: $\binom K2$ pairs, and the vectorised loss against a loop
#
# `ranked_pairs` must list every pair once, and `ranking_loss` must equal the mean of the
# per-pair losses written out with two nested loops over $i<j$.

# %%
for k in (4, 9):
    check_equal(
        f"K = {k}: number of ranked pairs = C({k}, 2)", len(ranked_pairs(k)[0]), math.comb(k, 2)
    )
ranked_scores = torch.randn(5, K_RANKED, dtype=torch.float64)  # (N, K), best first
loop_losses = [
    -math.log(torch.sigmoid(ranked_scores[n, i] - ranked_scores[n, j]).item())
    for n in range(5)
    for i in range(K_RANKED)
    for j in range(i + 1, K_RANKED)
]
check_close(
    "ranking loss vs explicit loop over the 6 pairs of 5 prompts",
    ranking_loss(ranked_scores),
    float(np.mean(loop_losses)),
    atol=1e-12,
)

# %% [markdown]
# ### The simulated labeller is Bradley–Terry on every pair
#
# {eq}`rlhf-gumbel` by simulation: four responses with token accuracies $1, 0.75, 0.75, 0.25$
# are ranked 20,000 times; for each of the six pairs, how often the first is ranked above the
# second must match $\sigma(\kappa(a_i-a_j))$ within the Monte-Carlo error. The tied pair must
# come out a coin flip.

# %%
accuracies = torch.tensor([1.0, 0.75, 0.75, 0.25])
n_rankings = 20_000
orders = simulated_ranking(
    accuracies.expand(n_rankings, -1), LABELLER_SHARPNESS, torch.Generator().manual_seed(7)
)  # (n, K), best first
rank_of = orders.argsort(dim=1)  # (n, K): rank position of each response
for i, j in zip(*(idx.tolist() for idx in ranked_pairs(4)), strict=True):
    check_mean_close(
        f"P(response {i} above {j}) vs σ(κ·({accuracies[i]:.2f} - {accuracies[j]:.2f}))",
        (rank_of[:, i] < rank_of[:, j]).double(),
        torch.sigmoid(LABELLER_SHARPNESS * (accuracies[i] - accuracies[j])).item(),
        z_max=4.0,
    )
check_close(
    "one more correct token of four wins with σ(κ/4) = σ(2)",
    torch.sigmoid(torch.tensor(LABELLER_SHARPNESS / 4)),
    0.880797,
    atol=1e-6,
)

# %% [markdown]
# ### The KL-regularised optimum
#
# {eq}`rlhf-optimum` on a bandit small enough to enumerate: six responses with rewards and
# reference probabilities drawn at random. $J(\pi^*)$ must equal $\beta\log Z$, and no other
# policy may do better: 2,000 random policies and 2,000 small perturbations of $\pi^*$ are
# all tried.

# %%
bandit_rewards = torch.randn(6, dtype=torch.float64)
bandit_ref_logp = torch.randn(6, dtype=torch.float64).log_softmax(0)
bandit_beta = 0.5


def kl_regularised_objective(logp: torch.Tensor) -> torch.Tensor:
    """J(π) = E_π[r] - β KL(π || π_ref), eq. (rlhf-objective), for log π of shape (..., 6)."""
    p = logp.exp()
    return (p * bandit_rewards).sum(-1) - bandit_beta * (p * (logp - bandit_ref_logp)).sum(-1)


optimum_logp = (bandit_ref_logp + bandit_rewards / bandit_beta).log_softmax(0)  # π*
log_z = torch.logsumexp(bandit_ref_logp + bandit_rewards / bandit_beta, 0)
check_close(
    "J(π*) vs β log Z, eq. (rlhf-optimum)",
    kl_regularised_objective(optimum_logp),
    bandit_beta * log_z,
    atol=1e-12,
)
generator = torch.Generator().manual_seed(3)
random_policies = torch.randn(2000, 6, generator=generator, dtype=torch.float64).log_softmax(1)
nearby = (
    optimum_logp + 0.05 * torch.randn(2000, 6, generator=generator, dtype=torch.float64)
).log_softmax(1)
best_other = kl_regularised_objective(torch.cat([random_policies, nearby])).max()
check_true(
    "no random or perturbed policy beats π*",
    bool(best_other < kl_regularised_objective(optimum_logp)),
    f"best other {best_other:.6f} < J(π*) {kl_regularised_objective(optimum_logp):.6f}",
)

# %% [markdown]
# ### The KL of a response, token by token
#
# {eq}`rlhf-seq-kl` on a model small enough to enumerate every response: two random GPTs on
# a sort task with 2 digits of 3 values (vocabulary 4, so $4^2=16$ responses per prompt),
# with weights drawn larger than usual so that their distributions differ clearly. The KL
# between the two distributions over whole responses, summed over the 16, must equal the
# chain-rule sum of per-position KLs, weighted by the response probabilities. Then, for
# responses *sampled* from the first model, both one-sample estimators (the summed log-ratio
# $k_1$, and the summed exact per-position KL) must average to that value, the second with
# the smaller variance.

# %%
tiny_task = SortTask(length=2, n_digits=3)
torch.manual_seed(11)
tiny_policy = GPT(tiny_task.model_config(n_layer=1, d_model=16)).double().eval()
tiny_reference = GPT(tiny_task.model_config(n_layer=1, d_model=16)).double().eval()
with torch.no_grad():  # weights larger than GPT-2's N(0, 0.02), so the two differ clearly
    for weight in [*tiny_policy.parameters(), *tiny_reference.parameters()]:
        if weight.dim() >= 2:
            weight.normal_(0.0, 0.3)
tiny_prompt = tiny_task.prompts(1, torch.Generator().manual_seed(1))  # (1, 3)
every_response = torch.cartesian_prod(*[torch.arange(tiny_task.vocab_size)] * 2)  # (16, 2)
repeated_prompt = tiny_prompt.expand(len(every_response), -1)  # (16, 3)
with torch.no_grad():
    policy_logits = response_logits(tiny_policy, repeated_prompt, every_response)  # (16, 2, V)
    reference_logits = response_logits(tiny_reference, repeated_prompt, every_response)
    policy_logp = response_logprobs(tiny_policy, repeated_prompt, every_response).sum(1)  # (16,)
    reference_logp = response_logprobs(tiny_reference, repeated_prompt, every_response).sum(1)
sequence_kl = (policy_logp.exp() * (policy_logp - reference_logp)).sum()
chain_rule_kl = (policy_logp.exp() * exact_kl(policy_logits, reference_logits).sum(1)).sum()
check_close(
    "Σ_y π log π/π_ref vs Σ_y π(y) Σ_t KL_t, eq. (rlhf-seq-kl)",
    chain_rule_kl,
    sequence_kl,
    atol=1e-12,
)
check_close("Σ_y π(y) over the 16 responses", policy_logp.exp().sum(), 1.0, atol=1e-12)

tiny_prompts = tiny_prompt.expand(5000, -1)  # (n, 3)
with torch.no_grad():
    sampled = sample_responses(
        tiny_policy, tiny_prompts, 2, generator=torch.Generator().manual_seed(2)
    )  # (n, 2)
    sampled_logp = response_logprobs(tiny_policy, tiny_prompts, sampled)  # (n, 2)
    sampled_ref_logp = response_logprobs(tiny_reference, tiny_prompts, sampled)
    sampled_exact = exact_kl(
        response_logits(tiny_policy, tiny_prompts, sampled),
        response_logits(tiny_reference, tiny_prompts, sampled),
    ).sum(1)  # (n,)
sampled_k1 = kl_estimates(sampled_logp, sampled_ref_logp)["k1"].sum(1)  # (n,): Σ_t log π/π_ref
check_mean_close("summed log-ratio k1 vs exact KL", sampled_k1, sequence_kl.item(), z_max=4.0)
check_mean_close(
    "summed exact per-position KL vs exact KL", sampled_exact, sequence_kl.item(), z_max=4.0
)
check_true(
    "the per-position exact KL has the smaller variance",
    bool(sampled_exact.var() < sampled_k1.var()),
    f"variance {sampled_exact.var():.2e} vs {sampled_k1.var():.2e}",
)

# %% [markdown]
# ### Per-token rewards and their return
#
# With $\gamma=\lambda=1$, GAE's value target at $t=1$ is the whole return
# $\sum_t r_t$, whatever the values; and by {eq}`rlhf-token-reward` that return is
# $r_\phi-\beta\sum_t\log(\pi_{\theta_\text{old}}/\pi_\text{ref})$. Checked on random numbers
# with the shared `gae`:

# %%
generator = torch.Generator().manual_seed(4)
fake_scores = torch.randn(8, generator=generator, dtype=torch.float64)  # (B,)
fake_old = -torch.rand(8, 5, generator=generator, dtype=torch.float64) * 3  # (B, T) log-probs
fake_ref = -torch.rand(8, 5, generator=generator, dtype=torch.float64) * 3
fake_values = torch.randn(8, 5, generator=generator, dtype=torch.float64)
token_rewards = per_token_rewards(fake_scores, fake_old, fake_ref, beta=0.1)
_, fake_targets = gae(token_rewards, fake_values, gamma=1.0, lam=1.0)
shaped_return = fake_scores - 0.1 * (fake_old - fake_ref).sum(1)  # r_φ - β Σ_t log-ratio
check_close(
    "Σ_t r_t vs r_φ - β Σ_t log π_old/π_ref", token_rewards.sum(1), shaped_return, atol=1e-12
)
check_close("GAE(γ=λ=1) target at t=1 vs the return", fake_targets[:, 0], shaped_return, atol=1e-12)

# %% [markdown]
# ## Experiments
#
# The task is the book's sort task with four digits (`SortTask(length=4)`: prompt = 4 digits
# 0–9 and a separator, response = the digits sorted), chosen over the default six because its
# rollouts are cheaper and the whole pipeline must run in a few seconds. All models are the
# shared 2-layer, 4-head, width-64 GPT. Held-out prompts come from generators seeded apart
# from every training generator.
#
# ### 1. Stage 1: the SFT model, and its frozen copy
#
# A short run of the shared `train_sft` (25 steps, as in [chapter 07](07_grpo.ipynb)), stopped
# early on purpose: its answers are often wrong, so there is something to prefer and to
# improve.

# %%
TASK = SortTask(length=4)
SFT_STEPS = 25
eval_prompts = TASK.prompts(192, torch.Generator().manual_seed(10_000))  # (192, 5)
test_prompts = TASK.prompts(1000, torch.Generator().manual_seed(20_000))  # (1000, 5)

torch.manual_seed(0)
sft_model = GPT(TASK.model_config())
sft_losses = train_sft(sft_model, TASK, steps=SFT_STEPS, generator=torch.Generator().manual_seed(1))
reference = copy.deepcopy(sft_model).eval().requires_grad_(False)  # π_ref, frozen from now on
sft_greedy = greedy_exact_match(sft_model, TASK, test_prompts)
with torch.no_grad():
    sft_samples = sample_responses(
        sft_model, test_prompts, TASK.length, generator=torch.Generator().manual_seed(5)
    )
print(
    f"SFT, {SFT_STEPS} steps: loss {sft_losses[0]:.3f} → {sft_losses[-1]:.3f}; exact match on "
    f"1000 held-out prompts {sft_greedy:.3f} greedy, "
    f"{TASK.reward(test_prompts, sft_samples).mean():.3f} sampled (temperature 1); sampled "
    f"token accuracy {TASK.token_accuracy(test_prompts, sft_samples).mean():.3f}"
)
check_true(
    "greedy answers are right more often than samples",
    sft_greedy > TASK.reward(test_prompts, sft_samples).mean().item() + 0.2,
    f"{sft_greedy:.3f} vs {TASK.reward(test_prompts, sft_samples).mean():.3f}",
)

# %% [markdown]
# The greedy answer is right far more often than a sample: the model puts the most mass on
# the right token at most positions, but not much of it, so a sampled response of four tokens
# is often wrong somewhere. RLHF optimises the distribution the responses are *sampled* from
# ({eq}`rlhf-objective` is an expectation over $y\sim\pi$), so from here on the true
# objective is measured on samples at temperature 1: their mean token accuracy (the hidden
# reward) and their exact-match rate.
#
# ### 2. Stage 2: preference data and the reward model
#
# **Data.** For each of 1,000 training prompts, $K=4$ responses sampled from the SFT model at
# temperature 1, ranked by the simulated labeller {eq}`rlhf-labeller` with $\kappa=8$ on the
# true reward $a$ = token accuracy, which gives 6 pairs per prompt. Nothing is filtered:
# responses that happen to be identical, or equally accurate, are ranked at random, as a
# person forced to rank them would. A held-out set of 250 prompts is built the same way from
# another generator.

# %%
N_PREFERENCE_PROMPTS, N_HELD_OUT_PROMPTS = 1000, 250


def collect_rankings(
    n_prompts: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prompts (N, P), their K SFT samples ranked best first (N, K, T), and the hidden true
    rewards (N, K) in the same order."""
    prompts = TASK.prompts(n_prompts, generator)  # (N, P)
    flat_prompts = prompts.repeat_interleave(K_RANKED, dim=0)  # (N·K, P)
    samples = sample_responses(sft_model, flat_prompts, TASK.length, generator=generator)
    true_rewards = TASK.token_accuracy(flat_prompts, samples).view(n_prompts, K_RANKED)
    order = simulated_ranking(true_rewards, LABELLER_SHARPNESS, generator)  # (N, K)
    samples = samples.view(n_prompts, K_RANKED, TASK.length)
    ranked = samples.gather(1, order[:, :, None].expand_as(samples))  # (N, K, T)
    return prompts, ranked, true_rewards.gather(1, order)


train_prompts, train_ranked, train_truth = collect_rankings(
    N_PREFERENCE_PROMPTS, torch.Generator().manual_seed(2)
)
held_prompts, held_ranked, held_truth = collect_rankings(
    N_HELD_OUT_PROMPTS, torch.Generator().manual_seed(30_000)
)
winner, loser = ranked_pairs(K_RANKED)
truth_gap = held_truth[:, winner] - held_truth[:, loser]  # (N, 6): a_w - a_l
decided = truth_gap != 0  # pairs whose true rewards differ
labeller_agreement = torch.sigmoid(LABELLER_SHARPNESS * truth_gap.abs())[decided].mean()
print(
    f"{N_PREFERENCE_PROMPTS} prompts × {math.comb(K_RANKED, 2)} pairs = "
    f"{N_PREFERENCE_PROMPTS * math.comb(K_RANKED, 2)} training pairs; held out: "
    f"{decided.float().mean():.3f} of pairs have different true rewards, and on those the "
    f"labeller picks the truly better response with probability {labeller_agreement:.3f}; "
    f"on the other {1 - decided.float().mean():.3f} the label is a coin flip"
)

# %% [markdown]
# **Training.** The RM (body copied from the SFT model, per-token head at zero) is trained
# for 150 steps of 16 prompts, i.e. 64 responses and 96 pairs per step, AdamW at
# $10^{-3}$. Held-out, before and after: the loss, the agreement with the labeller's
# (noisy) labels, the agreement with the true order on pairs whose true rewards differ, and
# the Pearson correlation between the RM's score and the true reward over all held-out
# responses.

# %%
RM_STEPS, RM_PROMPTS_PER_STEP, RM_LR = 150, 16, 1e-3


@torch.no_grad()
def reward_model_report(reward_model: RewardModel) -> dict[str, float]:
    """Held-out ranking loss, label agreement, true-order accuracy and correlation."""
    scores = score_rankings(reward_model, held_prompts, held_ranked)  # (N, K)
    margin = scores[:, winner] - scores[:, loser]  # (N, 6): in the labeller's order
    agreement = (margin > 0).float() + 0.5 * (margin == 0).float()  # a tie counts half
    true_order = torch.sign(margin) * torch.sign(truth_gap)  # +1 right, -1 wrong, 0 tie
    centred_scores, centred_truth = scores - scores.mean(), held_truth - held_truth.mean()
    norms = centred_scores.norm() * centred_truth.norm()
    return {
        "loss": ranking_loss(scores).item(),
        "label_accuracy": agreement.mean().item(),
        "true_order_accuracy": (0.5 + 0.5 * true_order[decided]).mean().item(),
        "correlation": (centred_scores * centred_truth).sum().item() / max(norms.item(), 1e-12),
    }


torch.manual_seed(1)
reward_model = RewardModel(sft_model)
rm_before = reward_model_report(reward_model)
rm_losses = train_reward_model(
    reward_model,
    train_prompts,
    train_ranked,
    steps=RM_STEPS,
    prompts_per_step=RM_PROMPTS_PER_STEP,
    lr=RM_LR,
    generator=torch.Generator().manual_seed(3),
)
reward_model.eval().requires_grad_(False)  # frozen from now on
rm_after = reward_model_report(reward_model)
for key, label in [
    ("loss", "held-out ranking loss"),
    ("label_accuracy", "agrees with the labeller's pairs"),
    ("true_order_accuracy", "agrees with the true order (decided pairs)"),
    ("correlation", "Pearson r(RM score, token accuracy)"),
]:
    print(f"{label:>45}: {rm_before[key]:.3f} → {rm_after[key]:.3f}")
print(f"{'for comparison, the labeller on decided pairs':>45}: {labeller_agreement:.3f}")
check_close(
    "untrained RM: loss = log 2 (every margin 0)", rm_before["loss"], math.log(2), atol=1e-6
)
check_true(
    "the trained RM orders decided pairs well above chance, though less well than the labeller",
    0.75 < rm_after["true_order_accuracy"] < labeller_agreement.item(),
    f"0.75 < {rm_after['true_order_accuracy']:.3f} < {labeller_agreement:.3f}",
)

# %%
fig, (ax_loss, ax_scores) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_loss.plot(np.arange(1, RM_STEPS + 1), rm_losses, color=PALETTE[0], alpha=0.35, lw=1)
window = 10
smoothed = np.convolve(rm_losses, np.ones(window) / window, mode="valid")
ax_loss.plot(np.arange(window, RM_STEPS + 1), smoothed, color=PALETTE[0], label="10-step mean")
ax_loss.axhline(math.log(2), color="k", ls=":", lw=1, label="log 2 (no preference)")
ax_loss.set(
    xlabel="RM training step",
    ylabel="ranking loss (nats per pair)",
    title=f"RM loss {rm_losses[0]:.3f} → {smoothed[-1]:.3f} (10-step mean)",
)
ax_loss.legend()
with torch.no_grad():
    held_scores = score_rankings(reward_model, held_prompts, held_ranked).flatten().numpy()
levels = np.unique(held_truth.numpy())
ax_scores.boxplot(
    [held_scores[held_truth.flatten().numpy() == level] for level in levels],
    positions=levels,
    widths=0.12,
    manage_ticks=False,
)
ax_scores.set(
    xlabel="true reward: token accuracy of the response",
    ylabel="RM score r_φ(x, y)",
    xticks=levels,
    title=f"Held-out RM scores follow the true reward (r = {rm_after['correlation']:.2f})",
)
plt.show()

# %% [markdown]
# The RM learns the ordering well above chance but below the labeller, and its scores
# overlap across neighbouring accuracy levels (the right panel): it is a good judge of the
# SFT model's typical samples, the only kind it has seen, and an imperfect one. How it
# behaves on responses unlike those samples is what stage 3 finds out.
#
# ### 3. Stage 3: the four models
#
# Policy and value model are trained; the RM and the reference are frozen. The counts are
# checked against the closed form of the GPT's size ($12d^2+13d$ per block, embeddings and
# the final norm; the unembedding is tied to the token embedding).

# %%
four_models = {
    "policy π_θ": (copy.deepcopy(sft_model), "SFT model", True),
    "value model V_ψ": (ValueModel(reward_model), "RM body + new scalar head", True),
    "reward model r_φ": (reward_model, "SFT body + token head, stage 2", False),
    "reference π_ref": (reference, "SFT model", False),
}
cfg = TASK.model_config()
d, vocab = cfg.d_model, cfg.vocab_size
gpt_parameters = cfg.n_layer * (12 * d**2 + 13 * d) + (vocab + cfg.block_size) * d + 2 * d
expected_parameters = {
    "policy π_θ": gpt_parameters,
    "value model V_ψ": gpt_parameters + d + 1,
    "reward model r_φ": gpt_parameters + vocab * d + vocab,
    "reference π_ref": gpt_parameters,
}
print(f"{'model':>18} {'parameters':>11}  trained  initialised from")
for name, (model, origin, trained) in four_models.items():
    n_parameters = count_parameters(model)
    print(f"{name:>18} {n_parameters:>11,}  {'yes' if trained else 'no':>7}  {origin}")
    check_equal(f"{name}: parameters", n_parameters, expected_parameters[name], quiet=True)
total = sum(count_parameters(model) for model, _, _ in four_models.values())
print(f"{'all four':>18} {total:>11,}  = {total / gpt_parameters:.2f} × the policy")
check_equal(
    "trainable parameters of the policy and the value model: all of them",
    [count_parameters(four_models[name][0], trainable_only=True) for name in list(four_models)[:2]],
    [expected_parameters[name] for name in list(four_models)[:2]],
)
check_equal(
    "trainable parameters of the frozen RM and reference",
    count_parameters(reward_model, trainable_only=True)
    + count_parameters(reference, trainable_only=True),
    0,
)

# %% [markdown]
# ### 4. Stage 3: PPO, the reward-vs-KL curve, and a control
#
# Three runs, each from fresh copies of the SFT policy and of the value model, with 20 PPO
# iterations of 64 rollouts (2 epochs of minibatches of 32, learning rate $10^{-3}$ for both
# models, $\epsilon=0.2$, $\lambda=0.95$):
#
# - against the RM with $\beta=0.3$ and with $\beta=0.03$ ($\beta$ is in units of the RM's
#   score, log-odds of a preference, per nat);
# - a **control**: the same PPO at $\beta=0.3$, but with the labeller's own reward
#   $\kappa\,a(x,y)$ in place of $r_\phi$, i.e. what an RM that had learned the hidden reward
#   perfectly would give. It separates what PPO can do from what the RM lets it do.
#
# Every 5 iterations the policy is evaluated on 192 held-out prompts (RM reward, true reward,
# exact KL). All runs use the same seeds, so they see the same training prompts.


# %%
class HiddenReward(nn.Module):
    """κ · token accuracy: the reward behind the labeller's rankings, eq. (rlhf-gumbel)."""

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return LABELLER_SHARPNESS * TASK.token_accuracy(prompts, responses)


# %%
PPO_ITERATIONS, EVAL_EVERY = 20, 5
RUNS = {  # name: (β, the reward the policy is trained on)
    "RM, β = 0.3": (0.3, reward_model),
    "RM, β = 0.03": (0.03, reward_model),
    "hidden reward, β = 0.3": (0.3, HiddenReward()),
}


def run_ppo(beta: float, reward_fn: nn.Module) -> tuple[GPT, list[dict[str, float]]]:
    """PPO from the SFT model against `reward_fn` with KL coefficient `beta`. Returns the
    trained policy and its held-out evaluations every EVAL_EVERY iterations (first: SFT)."""
    torch.manual_seed(0)
    policy = copy.deepcopy(sft_model).train()
    critic = ValueModel(reward_model).train()
    optimizers = (
        torch.optim.AdamW(policy.parameters(), lr=POLICY_LR, weight_decay=0.0),
        torch.optim.AdamW(critic.parameters(), lr=CRITIC_LR, weight_decay=0.0),
    )
    generator = torch.Generator().manual_seed(100)
    history = [sft_evaluation]  # the policy starts as the SFT model
    for iteration in range(1, PPO_ITERATIONS + 1):
        ppo_iteration(policy, critic, reward_fn, reference, optimizers, TASK, beta, generator)
        if iteration % EVAL_EVERY == 0:
            history.append(evaluate_policy(policy, reference, reward_model, TASK, eval_prompts))
    return policy, history


sft_evaluation = evaluate_policy(sft_model, reference, reward_model, TASK, eval_prompts)
ppo_cpu_start = time.process_time()
runs = {name: run_ppo(beta, reward_fn) for name, (beta, reward_fn) in tqdm(RUNS.items())}
print(
    f"{len(RUNS)} PPO runs × {PPO_ITERATIONS} iterations: "
    f"{time.process_time() - ppo_cpu_start:.1f} s CPU"
)

# %% [markdown]
# Before → after, on the held-out prompts: the RM's reward, the KL, and the true reward of
# sampled responses (token accuracy, and exact match of the whole sort).

# %%
start = runs["RM, β = 0.3"][1][0]  # every run starts from the same SFT model
print(f"{'trained on':>22} {'RM reward':>14} {'KL':>6} {'token accuracy':>16} {'exact match':>16}")
for name, (_, history) in runs.items():
    end = history[-1]
    print(
        f"{name:>22} {start['rm_reward']:5.2f} → {end['rm_reward']:4.2f} {end['kl']:6.2f} "
        f"{start['token_accuracy']:7.3f} → {end['token_accuracy']:.3f} "
        f"{start['exact_match']:7.3f} → {end['exact_match']:.3f}"
    )
good, far, control = (runs[name][1][-1] for name in RUNS)
check_true(
    "β = 0.3: PPO against the RM raises the true reward of samples",
    good["token_accuracy"] > start["token_accuracy"] + 0.05
    and good["exact_match"] > start["exact_match"],
    f"token accuracy {start['token_accuracy']:.3f} → {good['token_accuracy']:.3f}, "
    f"exact match {start['exact_match']:.3f} → {good['exact_match']:.3f}",
)
check_true(
    "β = 0.03 vs β = 0.3: more KL, more RM reward, less true reward",
    far["kl"] > good["kl"]
    and far["rm_reward"] > good["rm_reward"]
    and far["token_accuracy"] < good["token_accuracy"],
    f"KL {far['kl']:.2f} vs {good['kl']:.2f}, RM reward {far['rm_reward']:.2f} vs "
    f"{good['rm_reward']:.2f}, token accuracy {far['token_accuracy']:.3f} vs "
    f"{good['token_accuracy']:.3f}",
)
check_true(
    "control: more true reward than against the RM, though the RM scores it lower",
    control["token_accuracy"] > good["token_accuracy"] and control["rm_reward"] < good["rm_reward"],
    f"token accuracy {control['token_accuracy']:.3f} vs {good['token_accuracy']:.3f}, "
    f"RM reward {control['rm_reward']:.2f} vs {good['rm_reward']:.2f}",
)

# %%
styles = {
    "RM, β = 0.3": (PALETTE[0], "o-"),
    "RM, β = 0.03": (PALETTE[1], "o-"),
    "hidden reward, β = 0.3": ("k", "s--"),
}
fig, (ax_rm, ax_true) = plt.subplots(1, 2, figsize=(11.5, 4.6), sharex=True)
for name, (_, history) in runs.items():
    colour, style = styles[name]
    kl = [h["kl"] for h in history]
    ax_rm.plot(kl, [h["rm_reward"] for h in history], style, color=colour, label=name)
    ax_true.plot(kl, [h["token_accuracy"] for h in history], style, color=colour, label=name)
for ax in (ax_rm, ax_true):
    ax.set_xlabel("KL(π ‖ π_ref) on held-out prompts (nats per response)")
ax_rm.set(
    ylabel="mean RM reward r_φ of samples",
    title=f"RM reward: {start['rm_reward']:.2f} → {far['rm_reward']:.2f} at β = 0.03",
)
ax_true.set(
    ylabel="true reward: token accuracy of samples",
    title=(
        f"True reward: {start['token_accuracy']:.2f} → {good['token_accuracy']:.2f} at β = 0.3, "
        f"→ {far['token_accuracy']:.2f} at β = 0.03"
    ),
)
ax_rm.legend(loc="lower right")
ax_true.legend(loc="upper right")
fig.suptitle(
    f"Reward vs KL, a point every {EVAL_EVERY} PPO iterations: a smaller β buys more RM reward "
    "with more KL, and less true reward"
)
plt.show()

# %% [markdown]
# Reading the table and the figure. Against the RM, both runs raise the RM's reward, the
# smaller $\beta$ the faster and the further from the reference. With $\beta=0.3$ the true
# reward of the samples rises with it. Most of that run's KL is spent in its first few
# iterations, where the true reward does not improve; the gain comes afterwards, at an
# almost constant KL. With $\beta=0.03$ the policy travels several times as
# far and collects more RM reward, yet ends with less true reward than the $\beta=0.3$ run,
# and here not even the SFT model's: past some KL, what the RM rewards is no longer what the
# labeller wanted. That is over-optimisation, the curve of {cite:t}`gao2023scaling` in
# miniature, and the subject of [chapter 08](08_reward_hacking.ipynb). The control shows that
# PPO was not the limit: given the hidden reward, the same algorithm at the same $\beta$
# reaches a higher true reward at a similar KL, and the RM scores that better policy *lower*
# than the one trained against it.

# %%
good_history = runs["RM, β = 0.3"][1]
check_true(
    "β = 0.3: over half of the final KL is spent in the first iterations, with no true gain",
    good_history[1]["kl"] > 0.5 * good_history[-1]["kl"]
    and good_history[1]["token_accuracy"] < start["token_accuracy"] + 0.02,
    f"after {EVAL_EVERY} iterations KL {good_history[1]['kl']:.2f} (final "
    f"{good_history[-1]['kl']:.2f}), token accuracy {good_history[1]['token_accuracy']:.3f} "
    f"(start {start['token_accuracy']:.3f})",
)
check_true(
    "β = 0.03 ends below the SFT model's true reward",
    far["token_accuracy"] < start["token_accuracy"],
    f"token accuracy {start['token_accuracy']:.3f} → {far['token_accuracy']:.3f}",
)

# %% [markdown]
# ### 5. What the policy learned that the RM liked and the truth did not
#
# One sampled response per prompt on 500 of the prompts of Experiment 1, from the SFT model
# and from each trained policy: the error rate at each of the four positions, and, among the
# wrong responses, how often the RM scores them at least as high as the correct answer (the
# RM is "fooled").

# %%
with torch.no_grad():
    analysis_prompts = test_prompts[:500]  # (500, P)
    correct = TASK.solve(analysis_prompts)  # (500, T)
    correct_scores = reward_model(analysis_prompts, correct)  # (500,)
    policies = {"SFT": sft_model} | {name: run[0] for name, run in runs.items()}
    position_errors, fooled = {}, {}
    for name, model in policies.items():
        samples = sample_responses(
            model, analysis_prompts, TASK.length, generator=torch.Generator().manual_seed(50)
        )  # (500, T)
        position_errors[name] = (samples != correct).float().mean(0).numpy()  # (T,)
        wrong = (samples != correct).any(dim=1)  # (500,)
        scores = reward_model(analysis_prompts, samples)  # (500,)
        fooled[name] = (scores >= correct_scores)[wrong].float().mean().item()
        print(
            f"{name:>22}: error rate by position {np.round(position_errors[name], 3)}; "
            f"{wrong.float().mean():.3f} wrong, of which the RM scores {fooled[name]:.3f} "
            "at least as high as the correct answer"
        )
sft_errors = position_errors["SFT"]
check_true(
    "β = 0.3 improves every position; β = 0.03 worsens the last two; the control beats β = 0.3",
    bool(
        np.all(position_errors["RM, β = 0.3"] < sft_errors)
        and np.all(position_errors["RM, β = 0.03"][2:] > sft_errors[2:])
        and np.all(position_errors["hidden reward, β = 0.3"] < position_errors["RM, β = 0.3"])
    ),
    "error rates by position printed above",
)
check_true(
    "the smaller β, the more of the policy's wrong answers fool the RM",
    fooled["SFT"] < fooled["RM, β = 0.3"] < fooled["RM, β = 0.03"],
    f"SFT {fooled['SFT']:.3f} < β = 0.3 {fooled['RM, β = 0.3']:.3f} < β = 0.03 "
    f"{fooled['RM, β = 0.03']:.3f}",
)

# %%
fig, ax = plt.subplots(figsize=(8.5, 4.4))
bar_colours = ["0.6", *(styles[name][0] for name in RUNS)]
width = 0.8 / len(position_errors)
for i, ((name, errors), colour) in enumerate(
    zip(position_errors.items(), bar_colours, strict=True)
):
    offset = (i - (len(position_errors) - 1) / 2) * width
    label = f"{name}: RM fooled by {fooled[name]:.0%} of wrong answers"
    ax.bar(np.arange(1, TASK.length + 1) + offset, errors, width, color=colour, label=label)
last = TASK.length - 1
ax.set(
    xlabel="position in the sorted response",
    ylabel="error rate of sampled responses",
    xticks=np.arange(1, TASK.length + 1),
    ylim=(0, 1),
    title=(
        f"β = 0.03 trades the last digit ({position_errors['SFT'][last]:.2f} → "
        f"{position_errors['RM, β = 0.03'][last]:.2f} errors) for RM reward"
    ),
)
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# At $\beta=0.3$ every position improves. At $\beta=0.03$ the first two improve but the last
# two get worse than the SFT model's: the policy gives up on the end of the sort. And the share
# of wrong answers that the RM scores at least as high as the correct one grows from a small
# fraction for the SFT model to a large one for the $\beta=0.03$ policy: the policy has moved
# its mass to responses the RM over-rates. The RM was accurate on the SFT model's samples
# (Experiment 2); these responses are not like them. The policy trained on the hidden reward
# improves every position more than the $\beta=0.3$ run against the RM. The remedies are the
# ones InstructGPT used and [chapter 08](08_reward_hacking.ipynb) measures: a KL penalty strong
# enough to stay where the RM is reliable, and new comparisons collected on the current
# policy's samples, to retrain the RM where the policy now is.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "RLHF is reinforcement learning, so the reward model is trained with RL." Is it?
# No. The RM is trained by supervised learning: {eq}`rlhf-rm-loss` is a logistic regression
# on score differences with the labellers' choices as labels. Only stage 3 is RL, and its
# "environment" is a one-step bandit: a prompt, a response, a score
# {cite}`ouyang2022training`.
# :::
#
# :::{dropdown} Why not drop the KL term and just maximise the RM's score?
# The RM is accurate only near the responses it was trained on, samples of the SFT model.
# {eq}`rlhf-optimum` with $\beta\to0$ puts all the mass on the RM's favourite response, which
# is wherever its errors are largest. {cite:t}`gao2023scaling` measured it at scale: the
# proxy RM's score keeps rising with $\sqrt{\mathrm{KL}}$ while a gold RM's score peaks and
# falls. The KL term also keeps the output distribution from collapsing (mode collapse), and
# keeps the text close to the fluent text of the reference. [Chapter 08](08_reward_hacking.ipynb)
# measures over-optimisation and the mitigations.
# :::
#
# :::{dropdown} Why is the KL in the reward and not in the loss?
# Historical and practical: it is what {cite:t}`ziegler2019fine` and InstructGPT do, and as a
# per-token reward {eq}`rlhf-token-reward` it flows through the critic and GAE like any other
# reward, so each token is charged for the divergence it causes and for the divergence it
# leads to later. GRPO puts it in the loss instead, as the k3 estimator per token, because
# it has no critic to pass it through ([chapter 07](07_grpo.ipynb)). The two are not
# identical estimators of the same gradient, but both optimise a KL-regularised objective.
# :::
#
# :::{dropdown} Why initialise the value model from the RM, and not from the policy?
# Both read (prompt, response) and output a scalar, and at the last token the value should
# predict the RM's score: the RM's features are the closest thing available to what the
# critic must learn. A critic started from random weights, or from the policy's language
# modelling features, gives noisy advantages for many iterations. InstructGPT also reports
# that its 175B RMs were unstable to train and thus less suitable as the value function, one
# reason it used 6B RMs {cite}`ouyang2022training`. The notes' alternative, a value head on
# the policy itself, saves a model but couples the two losses through shared weights.
# :::
#
# :::{dropdown} What does a reward-model accuracy of about 70 % mean?
# Less than it sounds like. InstructGPT's labellers agreed with each other on about 73 % of
# comparisons, and its RMs predicted held-out labellers' preferences about 70 % of the time
# {cite}`ouyang2022training`: when labels are noisy, agreement with labels is capped well
# below 100 %. The simulated labeller makes the cap explicit: Experiment 2 prints the
# probability that the labeller itself picks the truly better response, and an RM that
# learned the hidden reward exactly would agree with the *labels* only that often on decided
# pairs. What matters for RL is the RM's ordering of the responses the policy will produce,
# which held-out accuracy on the SFT model's samples measures only near the start.
# :::
#
# :::{dropdown} Is the per-token KL penalty the KL?
# Its sum over a sampled response is an unbiased estimate of the sequence KL
# {eq}`rlhf-seq-kl`, checked in the Verification, but one sample's value can be negative,
# and its variance grows with the KL. Implementations therefore log the mean of the summed
# log-ratio over the batch (never one sample), and some control $\beta$ adaptively to hit a
# target KL {cite}`ziegler2019fine`. The exact per-position KL, used here for evaluation,
# is cheaper than it looks: the logits are already computed.
# :::
#
# :::{dropdown} What is PPO-ptx, and why not just raise $\beta$?
# {eq}`rlhf-ptx`: the gradient of every PPO update also includes the gradient of the
# log-likelihood of pre-training text, weighted by $\gamma_\text{ptx}$ (InstructGPT used
# $\gamma_\text{ptx}=27.8$ with $\beta=0.02$, Appendix C). It targets the *alignment tax*, the
# regressions on public benchmarks after RLHF. A larger
# $\beta$ also limits drift, but only on the RL prompts' distribution and only by holding the
# whole policy back: in InstructGPT it cost validation reward and still did not recover
# SQuAD v2 and DROP, while the pre-training mix did both {cite}`ouyang2022training`.
# :::
#
# :::{dropdown} How much memory does PPO-RLHF need compared with SFT?
# Four models instead of one. The policy and the value model need weights, gradients and
# optimiser states (with Adam about 16 bytes per parameter in mixed precision); the RM and the
# reference only weights, and only for forward passes, so they can be kept in lower precision
# or offloaded. Generation during training adds the KV cache. Common savings: a value head on
# the policy instead of a separate critic; LoRA adapters on a shared frozen base, so that
# reference and policy share weights; or dropping the critic altogether (GRPO,
# [chapter 07](07_grpo.ipynb)) or the whole RL loop (DPO, [chapter 02](02_dpo.ipynb); the
# comparison is [chapter 03](03_dpo_vs_rlhf.ipynb)).
# :::
#
# :::{dropdown} The RM score is only defined up to a constant. Does PPO care?
# Not in theory: adding $c(x)$ to every response's score adds $c(x)$ to every return of
# prompt $x$, which the value model absorbs and the advantages do not see. In practice a large
# offset slows the critic down and interacts with advantage whitening, so InstructGPT
# normalises its RM so that the labellers' demonstrations score 0 on average, and
# implementations often whiten the rewards as well {cite}`ouyang2022training,huang2024n`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A labeller prefers $y_w$ to $y_l$; the RM gives them $r_w=2$ and $r_l=0.5$. What
#    probability does the RM assign to this preference, what is the loss, and what is the
#    gradient on $r_w$? How many pairs does a ranking of $K=9$ responses give?
#
#    :::{dropdown} Answer
#    $\sigma(1.5)=0.817574$, loss $-\log0.817574=0.201413$, gradient
#    $-\sigma(-1.5)=-0.182426$ on $r_w$ (and $+0.182426$ on $r_l$). $\binom92=36$ pairs. The
#    next cell checks all four numbers.
#    :::

# %%
exercise_margin = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
exercise_loss = bradley_terry_loss(exercise_margin, torch.tensor(0.0, dtype=torch.float64))
exercise_loss.backward()
check_close("exercise 1: P(y_w ≻ y_l)", torch.sigmoid(exercise_margin), 0.817574, atol=5e-7)
check_close("exercise 1: loss", exercise_loss, 0.201413, atol=5e-7)
check_close("exercise 1: ∂ℓ/∂r_w", exercise_margin.grad, -0.182426, atol=5e-7)
check_equal("exercise 1: pairs from K = 9", len(ranked_pairs(9)[0]), 36)

# %% [markdown]
# 2. A three-token response has $\log\pi_{\theta_\text{old}}(y_t|s_t)=(-0.2,-1.0,-0.5)$ and
#    $\log\pi_\text{ref}(y_t|s_t)=(-0.4,-0.7,-0.5)$; the RM scores it $1.2$; $\beta=0.1$.
#    What are the three per-token rewards and the return?
#
#    :::{dropdown} Answer
#    The log-ratios are $(0.2,-0.3,0)$, so the KL parts are $(-0.02,+0.03,0)$ and the RM's
#    score is added at the last token: $r=(-0.02,\,0.03,\,1.2)$, return $1.21$. The second
#    token is *rewarded*: the policy made it less likely than the reference does. Only on
#    average over samples is the penalty a cost. The next cell computes it.
#    :::

# %%
exercise_rewards = per_token_rewards(
    torch.tensor([1.2]), torch.tensor([[-0.2, -1.0, -0.5]]), torch.tensor([[-0.4, -0.7, -0.5]]), 0.1
)
check_close(
    "exercise 2: per-token rewards", exercise_rewards, torch.tensor([[-0.02, 0.03, 1.2]]), atol=1e-6
)
check_close("exercise 2: return", exercise_rewards.sum(), 1.21, atol=1e-6)
print(f"CPU time for the whole notebook {time.process_time() - cpu_start:.1f} s")

# %% [markdown]
# 3. During PPO, the RM's mean reward keeps climbing and the KL has reached tens of nats.
#    What do you check, and what do you change?
#
#    :::{dropdown} Answer
#    Suspect over-optimisation: read samples, and score them with something the policy was
#    not trained against (held-out human ratings, a second RM, a verifiable check). If that
#    score has stalled or fallen while the RM's rises, stop at the best checkpoint by that
#    measure; raise $\beta$ or use a target-KL controller; collect new comparisons on the
#    current policy's samples and retrain the RM there (InstructGPT iterates stages 2 and 3).
#    See [chapter 08](08_reward_hacking.ipynb).
#    :::
#
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`ouyang2022training` (InstructGPT): Section 3.5, the RM trained from the SFT model,
#   $K=4$ to $9$ ranked responses, all $\binom K2$ comparisons of a prompt as one batch element
#   and loss (1), the RM's bias normalisation, the per-token KL penalty, the value function
#   initialised from the RM, and PPO-ptx, objective (2); Section 4.2, the alignment tax and its
#   mitigation; Appendix C, $\beta=0.02$ and $\gamma=27.8$; labeller agreement (Section 3.4)
#   and RM accuracy on held-out labellers (Section 4.1).
# - {cite:t}`bradley1952rank`: the paired-comparison model {eq}`rlhf-bt`.
# - {cite:t}`christiano2017deep`: learning a reward model from human comparisons for RL;
#   {cite:t}`ziegler2019fine` and {cite:t}`stiennon2020learning`: RLHF for language models
#   with PPO and a KL penalty to the supervised policy, and the adaptive KL controller.
# - {cite:t}`schulman2017proximal` (the clipped surrogate) and {cite:t}`schulman2016high`
#   (GAE), derived in [chapter 05](05_ppo.ipynb).
# - {cite:t}`gao2023scaling`: reward-model over-optimisation as a function of the KL.
# - {cite:t}`huang2024n`: implementation details of PPO for RLHF (advantage whitening, reward
#   normalisation, the value model initialised from the RM).

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
# # 03. DPO vs RLHF
#
# **The question.** How does Direct Preference Optimization (DPO) differ from RLHF with a
# reward model and PPO? What does each train, on which data, with how many models, and when
# would you pick one over the other?
#
# **What you will be able to answer.** Why both methods maximise the same KL-regularised
# objective; what each pipeline holds in memory and computes per step; what "offline" and
# "on-policy" change; which rows of the usual ✅/❌ comparison table are wrong; and what a
# head-to-head run on one toy preference data set measures.

# %%
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.gpt import GPT
from notebook_utils.nn import count_parameters
from notebook_utils.rl import (
    SortTask,
    bradley_terry_loss,
    clipped_surrogate,
    dpo_loss,
    exact_kl,
    greedy_exact_match,
    group_advantages,
    kl_estimates,
    response_logits,
    response_logprobs,
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
# - **Same objective.** Both methods start from a supervised fine-tuned (SFT) model
#   $\pi_\text{ref}$ and a data set of preference pairs $(x,y_w,y_l)$ ("$y_w$ is preferred to
#   $y_l$"), and both maximise
#   $\mathbb E_{y\sim\pi}[r(x,y)]-\beta\,\mathrm{KL}(\pi\,\|\,\pi_\text{ref})$ for a reward $r$
#   that is known only through the pairs, via the Bradley–Terry model
#   $p(y_w\succ y_l)=\sigma(r(x,y_w)-r(x,y_l))$.
# - **RLHF** does it in two stages. A reward model $r_\phi$ is fitted to the pairs by a
#   *supervised* logistic loss, $-\log\sigma(r_\phi(x,y_w)-r_\phi(x,y_l))$. Then the policy is
#   trained by RL (PPO in InstructGPT) on **fresh samples from itself**, with reward
#   $r_\phi-\beta\log(\pi/\pi_\text{ref})$. It is on-policy: it generates text at every step.
# - **DPO** uses the closed form of the optimum, $\pi^*\propto\pi_\text{ref}\,e^{r/\beta}$, to
#   write the reward as $\beta\log(\pi/\pi_\text{ref})$ plus a term that cancels in the
#   comparison. The reward-model loss then becomes a loss on the policy itself:
#   $-\log\sigma\big(\beta\log\frac{\pi_\theta(y_w|x)}{\pi_\text{ref}(y_w|x)}
#   -\beta\log\frac{\pi_\theta(y_l|x)}{\pi_\text{ref}(y_l|x)}\big)$. It is offline: no
#   sampling, no separate reward model, but a frozen **reference model is still required**.
# - **Cost.** PPO-RLHF holds four networks (policy, value critic, reward model, reference) and
#   generates during training. Critic-free variants (REINFORCE with a group baseline, GRPO)
#   hold three. DPO holds two, and the reference's log-probabilities of the pairs can be
#   computed once in advance.
# - **Trade-off.** DPO's KL control acts only through the responses in the data set: what the
#   policy does elsewhere is not in its loss. RLHF measures and penalises the KL on its own
#   samples, and keeps improving on new ones, but it can exploit the reward model where that
#   model is wrong (reward hacking), and it is sensitive to many hyper-parameters.
#   Published comparisons are mixed; several find well-tuned PPO ahead of DPO
#   {cite}`xu2024dpo,ivison2024unpacking`.
#
# The notes' comparison table gets several rows wrong: the reward model is trained by
# supervised learning, not RL; DPO needs a reference model; PPO's typical trouble is variance,
# reward hacking and hyper-parameters, not gradient explosion; "faster convergence" and "more
# interpretable" are claims without evidence (an explicit reward model is the *more*
# inspectable of the two); and both are alignment methods for language models. The
# Experiments section runs both pipelines on one toy data set and prints what each costs and
# achieves there.

# %% [markdown]
# ## Derivation
#
# [Chapter 02](02_dpo.ipynb) derives DPO in full and [chapter 06](06_rlhf.ipynb) builds the
# whole RLHF pipeline with PPO; here the derivations are kept to what the comparison needs.
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x$, $y=(y_1,\dots,y_T)$ | prompt, response of $T$ tokens | `prompts`, `responses` |
# | $\pi_\theta$, $\pi_\text{ref}$ | trained policy, frozen SFT reference | `policy`, `reference` |
# | $\log\pi(y\mid x)=\sum_t\log\pi(y_t\mid x,y_{<t})$ | response log-prob | `sequence_logprobs` |
# | $r(x,y)$, $r_\phi(x,y)$ | reward behind the preferences, learned reward model | `reward_model` |
# | $(x,y_w,y_l)\in\mathcal D$ | preference pair: $y_w$ chosen over $y_l$ | `PreferencePairs` |
# | $\beta$ | KL coefficient (DPO's temperature) | `BETA` |
# | $\sigma(z)=1/(1+e^{-z})$ | logistic function | `torch.sigmoid` |
#
# ### The shared objective
#
# Both methods solve, for each prompt $x$,
#
# $$
# \max_{\pi}\ J(\pi)=\mathbb E_{y\sim\pi(\cdot|x)}\big[r(x,y)\big]
# -\beta\,\mathrm{KL}\big(\pi(\cdot|x)\,\|\,\pi_\text{ref}(\cdot|x)\big)
# $$ (dvr-objective)
#
# where the reward enters only through preferences, modelled by Bradley–Terry
# {cite}`bradley1952rank`:
#
# $$
# p(y_w\succ y_l\mid x)=\sigma\big(r(x,y_w)-r(x,y_l)\big)
# $$ (dvr-bt-model)
#
# Only reward *differences* are identified, and their scale is fixed by the data: a reward
# model fitted by {eq}`dvr-bt-model` comes out in units of the Bradley–Terry logit, and
# $\beta$ is measured in the same units.
#
# The optimum of {eq}`dvr-objective` has a closed form. Writing the two terms as one
# expectation,
#
# $$
# J(\pi)=-\beta\,\mathbb E_{y\sim\pi}\Big[\log\frac{\pi(y|x)}{\pi_\text{ref}(y|x)\,
# e^{r(x,y)/\beta}}\Big]
# =-\beta\,\mathrm{KL}\big(\pi\,\|\,\pi^*\big)+\beta\log Z(x),\qquad
# \pi^*(y|x)=\frac{\pi_\text{ref}(y|x)\,e^{r(x,y)/\beta}}{Z(x)}
# $$ (dvr-optimum)
#
# with $Z(x)=\sum_y\pi_\text{ref}(y|x)e^{r(x,y)/\beta}$. The KL is zero only at $\pi=\pi^*$, so
# $\pi^*$ is the unique maximiser. The two pipelines approach the same $\pi^*$ along
# different routes.
#
# ### Pipeline A: reward model, then policy gradient (RLHF)
#
# **Stage 1: the reward model** is fitted to the pairs by maximum likelihood under
# {eq}`dvr-bt-model`, a logistic regression on score differences:
#
# $$
# \mathcal L_\text{RM}(\phi)=-\mathbb E_{(x,y_w,y_l)\sim\mathcal D}
# \log\sigma\big(r_\phi(x,y_w)-r_\phi(x,y_l)\big),\qquad
# \frac{\partial\mathcal L_\text{RM}}{\partial r_\phi(x,y_w)}=-\sigma\big(r_\phi(x,y_l)
# -r_\phi(x,y_w)\big)=-\frac{\partial\mathcal L_\text{RM}}{\partial r_\phi(x,y_l)}
# $$ (dvr-rm-loss)
#
# (per pair, before the mean). This is supervised learning with labels, not RL, whatever the
# notes say. With $r_w=2$, $r_l=0.5$ the pair is predicted correctly with probability
# $\sigma(1.5)=0.817574$ and costs $-\log 0.817574=0.201413$.
#
# **Stage 2: the policy** maximises {eq}`dvr-objective` with $r_\phi$ in place of $r$, by
# sampling. For a response sampled from the current policy, the KL-shaped reward is
#
# $$
# R(x,y)=r_\phi(x,y)-\beta\sum_{t=1}^{T}
# \log\frac{\pi_\theta(y_t\mid x,y_{<t})}{\pi_\text{ref}(y_t\mid x,y_{<t})},
# \qquad y\sim\pi_\theta(\cdot|x)
# $$ (dvr-shaped)
#
# whose mean over $y\sim\pi_\theta$ is $J(\pi_\theta)$, because the mean of the summed log-ratio
# is the KL of the whole response (the chain rule of KL). Its gradient is the score-function
# (REINFORCE) estimator with $R$ as the reward {cite}`williams1992simple`
# ([chapter 04](04_policy_gradient.ipynb) derives it): differentiating
# the $\log\pi_\theta$ inside $R$ adds $-\beta\,\mathbb E_{y\sim\pi_\theta}[\nabla_\theta
# \log\pi_\theta(y|x)]=0$, so
#
# $$
# \nabla_\theta J=\mathbb E_{y\sim\pi_\theta}\Big[\big(R(x,y)-b(x)\big)\,
# \nabla_\theta\log\pi_\theta(y|x)\Big]
# $$ (dvr-pg)
#
# for any baseline $b(x)$ that does not depend on $y$. Here $b$ is the mean of $R$ over a
# group of $G$ responses to the same prompt (the group baseline of
# [chapter 07](07_grpo.ipynb), `group_advantages(..., std="none")`). Because that mean includes
# the sample itself, the estimator's expectation is $\frac{G-1}{G}\nabla_\theta J$: the same
# direction, a constant factor that the learning rate absorbs. The update goes through the
# shared `clipped_surrogate` of [chapter 05](05_ppo.ipynb); with one gradient step per batch
# of samples, as here, the ratio is 1 and the clipped surrogate's gradient is the estimator
# of {eq}`dvr-pg`, averaged over the batch and divided by $T$. PPO proper reuses each batch
# for several steps, where the clipping matters, and replaces the group baseline by a learned
# value network, the fourth model of InstructGPT {cite}`ouyang2022training`.
#
# ### Pipeline B: DPO
#
# Solve {eq}`dvr-optimum` for the reward: $r(x,y)=\beta\log\frac{\pi^*(y|x)}{\pi_\text{ref}(y|x)}
# +\beta\log Z(x)$. Put it into {eq}`dvr-bt-model`; $\beta\log Z(x)$ is the same for both
# responses and cancels. Parameterising $\pi^*$ by the policy $\pi_\theta$ and fitting
# {eq}`dvr-bt-model` by maximum likelihood gives DPO's loss {cite}`rafailov2023direct`:
#
# $$
# \mathcal L_\text{DPO}(\theta)=-\mathbb E_{(x,y_w,y_l)\sim\mathcal D}\log\sigma\big(
# \hat r_\theta(x,y_w)-\hat r_\theta(x,y_l)\big),\qquad
# \hat r_\theta(x,y)=\beta\log\frac{\pi_\theta(y|x)}{\pi_\text{ref}(y|x)}
# $$ (dvr-dpo)
#
# It is {eq}`dvr-rm-loss` with the policy's *implicit reward* $\hat r_\theta$ in place of
# $r_\phi$: DPO is reward modelling in which the reward model is the policy. At
# initialisation $\pi_\theta=\pi_\text{ref}$, every margin is 0 and the loss is
# $-\log\sigma(0)=\log 2$, not 0 as the notes claim; the gradient is not zero either,
# $\partial\mathcal L/\partial\log\pi_\theta(y_w|x)=-\beta\,\sigma(0)=-\beta/2$ per pair.
# (The notes' "loss", the $\beta$-free margin itself, would be minimised by making the
# *rejected* answer more likely, and is unbounded below; [chapter 02](02_dpo.ipynb).)
#
# ### What the two routes change
#
# - **Data.** DPO's loss reads $\log\pi_\theta$ only at the $2|\mathcal D|$ responses of the
#   pairs. If the pairs pinned down every comparison, its minimiser would be $\pi^*$; with
#   finite pairs, the probability the policy moves onto responses that appear in no pair is
#   constrained by nothing in the loss. RLHF samples its own responses, so its KL penalty
#   {eq}`dvr-shaped` acts where the policy actually puts its mass, and the reward model is
#   queried on new responses, including ones unlike its training data, where it can be wrong.
# - **Approximations.** RLHF has two: $r_\phi\approx r$ from finite pairs, then a noisy
#   stochastic optimisation of {eq}`dvr-objective` against $r_\phi$. DPO has one: a fit on the
#   fixed pairs.
# - **Compute.** A DPO step is a forward and backward pass of the policy on $2B$ given
#   responses (the reference's log-probs are precomputed). An RLHF step generates $B\cdot G$
#   responses token by token, scores them with the reward model and the reference, and then
#   runs the forward and backward pass.
#
# ### Measuring the KL
#
# The x-axis of the comparison is the KL of the trained policy from the reference on held-out
# prompts. By the chain rule it is a sum over positions along the policy's own samples:
#
# $$
# \mathrm{KL}\big(\pi(\cdot|x)\,\|\,\pi_\text{ref}(\cdot|x)\big)=\mathbb E_{y\sim\pi}
# \sum_{t=1}^{T}\mathrm{KL}\big(\pi(\cdot\mid x,y_{<t})\,\|\,\pi_\text{ref}(\cdot\mid x,y_{<t})\big)
# $$ (dvr-seq-kl)
#
# Each inner KL is over the vocabulary and computed exactly (shared `exact_kl`); only the
# prefixes are sampled. This has lower variance than averaging the sampled log-ratio
# $\sum_t\log(\pi/\pi_\text{ref})(y_t)$ (the $k_1$ estimator of [chapter 07](07_grpo.ipynb)),
# and both are unbiased, which the Experiments section checks.
#
# ### The notes' table, rewritten as conditional statements
#
# The notes compare the two methods with ticks and crosses. Row by row, what is true and when:
#
# - *"DPO: supervised learning (log-ratio loss)."* DPO minimises an offline logistic loss on
#   pairs, and that loss still optimises {eq}`dvr-objective`. There is no sampling during
#   training.
# - *"DPO: reward model needed ❌."* No *separate* reward model, but a frozen reference is
#   required, and the policy itself is an implicit reward model $\hat r_\theta$.
# - *"RLHF loss: reward function trained via RL."* The reward model is trained by the
#   supervised loss {eq}`dvr-rm-loss`; only the *policy* is trained by RL, on
#   {eq}`dvr-shaped`.
# - *"DPO: KL implicitly baked in."* $\beta$ is in the loss, but the KL is controlled only
#   through the responses in the data; nothing measures it on the policy's own samples.
# - *"RLHF unstable (gradient explosion)."* The real problems of the RL stage are high-variance
#   gradient estimates, reward hacking, and sensitivity to hyper-parameters and implementation
#   details {cite}`huang2022the37`.
# - *"DPO: faster convergence, more interpretable."* Unsupported as general claims. A DPO step
#   is cheaper (no generation, two models); which ends better depends on the setting; an
#   explicit reward model is the easier one to inspect.
# - *"Use cases: RLHF for AI safety, robotics."* Both are used to align language models with
#   preferences.
# - *Missing: offline vs on-policy.* DPO learns only from the responses in its data, unless new
#   pairs are collected from the current policy (online or iterative DPO). RLHF is on-policy:
#   it learns from responses it generates as it goes.

# %% [markdown]
# ## Implementation from scratch
#
# ### The task, the reference and the preference data
#
# The toy is the shared sorting task: a prompt is six random digits and a separator, the
# correct response is the digits sorted (`SortTask(length=6)`), and the book's small GPT
# (2 layers, 4 heads, width 64) is the policy. The reference $\pi_\text{ref}$ is that GPT after
# a short SFT run, deliberately stopped early so that its samples are often wrong and there is
# something to prefer.

# %%
task = SortTask(length=6)
SFT_STEPS = 60

reference = GPT(task.model_config())
sft_losses = train_sft(reference, task, steps=SFT_STEPS, generator=torch.Generator().manual_seed(0))
reference.eval().requires_grad_(False)  # frozen from now on

held_out_prompts = task.prompts(1000, torch.Generator().manual_seed(10_000))  # (1000, 7)
print(
    f"reference after {SFT_STEPS} SFT steps: loss {sft_losses[0]:.3f} -> {sft_losses[-1]:.3f}, "
    f"greedy exact match on 1000 held-out prompts "
    f"{greedy_exact_match(reference, task, held_out_prompts):.3f}"
)

# %% [markdown]
# **The preference data.** For each of 2000 prompts, two responses are sampled from the
# reference at temperature 1. Pairs whose two responses are identical carry no preference and
# are dropped. The label comes from a simulated annotator who follows Bradley–Terry
# {eq}`dvr-bt-model` with the reward $r(x,y)=\kappa\cdot\mathrm{acc}(x,y)$, where
# $\mathrm{acc}$ is the fraction of response positions that match the sorted digits
# (`task.token_accuracy`) and $\kappa=20$. So a response with one more correct digit out of
# six is preferred with probability $\sigma(20/6)=0.966$, and two equally good responses are a
# coin flip. Token accuracy is the **true reward** of this chapter; exact match (all six
# digits right) is reported next to it.


# %%
@dataclass
class PreferencePairs:
    """Preference pairs: `chosen[i]` was preferred to `rejected[i]` for `prompts[i]`."""

    prompts: torch.Tensor  # (N, P)
    chosen: torch.Tensor  # (N, T)
    rejected: torch.Tensor  # (N, T)

    def __len__(self) -> int:
        return self.prompts.shape[0]

    def subset(self, index: torch.Tensor) -> "PreferencePairs":
        return PreferencePairs(self.prompts[index], self.chosen[index], self.rejected[index])


KAPPA = 20.0  # annotator's Bradley-Terry logit per unit of token accuracy


def true_reward(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The reward behind the preferences, in units of the BT logit: κ · token accuracy, (B,)."""
    return KAPPA * task.token_accuracy(prompts, responses)


def make_preference_pairs(n_prompts: int, generator: torch.Generator) -> PreferencePairs:
    """Two reference samples per prompt, labelled by a Bradley-Terry annotator,
    eq. (dvr-bt-model)."""
    prompts = task.prompts(n_prompts, generator)  # (N, P)
    first = sample_responses(reference, prompts, task.length, generator=generator)  # (N, T)
    second = sample_responses(reference, prompts, task.length, generator=generator)  # (N, T)
    differ = (first != second).any(dim=1)  # identical responses carry no preference
    prompts, first, second = prompts[differ], first[differ], second[differ]
    p_first = torch.sigmoid(true_reward(prompts, first) - true_reward(prompts, second))  # (N,)
    first_wins = torch.rand(p_first.shape, generator=generator) < p_first  # (N,)
    chosen = torch.where(first_wins[:, None], first, second)
    rejected = torch.where(first_wins[:, None], second, first)
    return PreferencePairs(prompts, chosen, rejected)


# %%
train_pairs = make_preference_pairs(2000, torch.Generator().manual_seed(1))
held_out_pairs = make_preference_pairs(500, torch.Generator().manual_seed(20_000))
check_close(
    "P(one more correct digit wins) = σ(κ/6) vs 0.966",
    torch.sigmoid(torch.tensor(KAPPA / 6)),
    torch.tensor(0.966),
    atol=5e-4,
)

# %% [markdown]
# ### The Bradley–Terry loss (both pipelines)
#
# One loss serves both: {eq}`dvr-rm-loss` on a reward model's scores, and, fed with implicit
# rewards, {eq}`dvr-dpo`. Both are three lines, derived in [chapter 02](02_dpo.ipynb) (DPO) and
# [chapter 06](06_rlhf.ipynb) (the reward model); this chapter uses the book's shared
# `notebook_utils.rl.bradley_terry_loss` and `notebook_utils.rl.dpo_loss`, checked below
# against the errata's numbers and PyTorch's binary cross-entropy.


# %% [markdown]
# ### Pipeline A, stage 1: the reward model
#
# InstructGPT's reward model is the SFT network with its unembedding replaced by a scalar head,
# fine-tuned end to end. Fine-tuning the whole network took far more pairs and steps than this
# chapter's CPU budget allows (and overfitted the pairs it had), so the reward model here keeps
# a **frozen copy of the SFT network's body** and trains only a read-out: a linear map from the
# hidden state that predicts token $y_t$ to one score per vocabulary entry, of which the score
# of the actual $y_t$ is kept. The response's reward is the sum over its tokens,
# $r_\phi(x,y)=\sum_t\big(U h_t+c\big)_{y_t}$, which suits a true reward that is itself a sum
# over positions. Since the body is frozen, its hidden states for the training pairs are
# computed once.


# %%
class RewardModel(nn.Module):
    """r_φ(x, y) = Σ_t (U h_t + c)[y_t]: a frozen copy of an SFT network's body and a trained
    linear read-out; h_t is the body's hidden state at the position that predicts y_t."""

    def __init__(self, sft_model: GPT) -> None:
        super().__init__()
        self.body = copy.deepcopy(sft_model)
        self.body.head = nn.Identity()  # the body now returns hidden states, not logits
        self.body.requires_grad_(False)
        cfg = sft_model.cfg
        self.read_out = nn.Linear(cfg.d_model, cfg.vocab_size)
        nn.init.zeros_(self.read_out.weight)  # r_φ = 0 for every response at the start
        nn.init.zeros_(self.read_out.bias)

    def hidden_states(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # (B, T, d): response_logits of a body without head
            return response_logits(self.body, prompts, responses)

    def score(self, hidden: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        token_scores = self.read_out(hidden)  # (B, T, V)
        own = token_scores.gather(-1, responses.unsqueeze(-1)).squeeze(-1)  # (B, T)
        return own.sum(dim=1)  # (B,)

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return self.score(self.hidden_states(prompts, responses), responses)


# %%
RM_STEPS = 200
RM_LR = 1e-2
BATCH_PAIRS = 64  # pairs per step, for the reward model and for DPO


def train_reward_model(
    reward_model: RewardModel, pairs: PreferencePairs, generator: torch.Generator
) -> tuple[list[float], list[float]]:
    """Minimise eq. (dvr-rm-loss) over random minibatches of pairs; return the wall and CPU
    time of each step."""
    hidden_chosen = reward_model.hidden_states(pairs.prompts, pairs.chosen)  # (N, T, d)
    hidden_rejected = reward_model.hidden_states(pairs.prompts, pairs.rejected)
    optimizer = torch.optim.AdamW(reward_model.read_out.parameters(), lr=RM_LR, weight_decay=0.0)
    wall_times, cpu_times = [], []
    for _ in range(RM_STEPS):
        wall, cpu = time.perf_counter(), time.process_time()
        index = torch.randint(0, len(pairs), (BATCH_PAIRS,), generator=generator)
        loss = bradley_terry_loss(
            reward_model.score(hidden_chosen[index], pairs.chosen[index]),
            reward_model.score(hidden_rejected[index], pairs.rejected[index]),
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        wall_times.append(time.perf_counter() - wall)
        cpu_times.append(time.process_time() - cpu)
    reward_model.requires_grad_(False)
    return wall_times, cpu_times


# %% [markdown]
# ### Pipeline A, stage 2: policy gradient against the reward model
#
# One step: 16 prompts, $G=4$ samples each from the current policy; the reward model and the
# reference score them; the KL-shaped reward {eq}`dvr-shaped` uses the shared `kl_estimates`
# ($k_1$ is the sampled log-ratio); the group baseline turns it into advantages; and one
# gradient step is taken on the shared clipped surrogate, which at ratio 1 is {eq}`dvr-pg`.

# %%
BETA = 1.0  # the same KL coefficient for both pipelines, in units of the BT logit
PROMPTS_PER_STEP = 16
GROUP_SIZE = 4  # G samples per prompt
CLIP_EPS = 0.2


def rlhf_step(
    policy: GPT,
    reward_model: RewardModel,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> None:
    prompts = task.prompts(PROMPTS_PER_STEP, generator).repeat_interleave(GROUP_SIZE, dim=0)
    responses = sample_responses(policy, prompts, task.length, generator=generator)  # (B·G, T)
    with torch.no_grad():
        old_logp = response_logprobs(policy, prompts, responses)  # (B·G, T)
        ref_logp = response_logprobs(reference, prompts, responses)  # (B·G, T)
        rm_reward = reward_model(prompts, responses)  # (B·G,)
    log_ratio = kl_estimates(old_logp, ref_logp)["k1"].sum(dim=1)  # Σ_t log π/π_ref, (B·G,)
    shaped = rm_reward - BETA * log_ratio  # eq. (dvr-shaped)
    advantages = group_advantages(shaped.view(-1, GROUP_SIZE), std="none")  # (B, G)
    advantages = advantages.reshape(-1, 1)  # (B·G, 1), the same for every token of a response
    logp = response_logprobs(policy, prompts, responses)  # (B·G, T), with gradient
    loss = -clipped_surrogate(logp, old_logp, advantages, eps=CLIP_EPS).mean()  # eq. (dvr-pg)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


# %% [markdown]
# ### Pipeline B: a DPO step
#
# The reference's log-probabilities of every pair are computed once; a step draws a minibatch
# of pairs and minimises {eq}`dvr-dpo`.


# %%
def sequence_logprobs(model: GPT, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """log π(y|x): the sum of per-token log-probs over the response, (B,)."""
    return response_logprobs(model, prompts, responses).sum(dim=1)


def dpo_step(
    policy: GPT,
    pairs: PreferencePairs,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> float:
    index = torch.randint(0, len(pairs), (BATCH_PAIRS,), generator=generator)
    batch = pairs.subset(index)
    loss = dpo_loss(
        sequence_logprobs(policy, batch.prompts, batch.chosen),
        sequence_logprobs(policy, batch.prompts, batch.rejected),
        ref_chosen_logp[index],
        ref_rejected_logp[index],
        BETA,
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


# %% [markdown]
# ### Evaluation: true reward and exact KL on held-out prompts
#
# Differences between the two pipelines are a few points of accuracy, so the evaluation should
# not add more noise than it must. One response is sampled per held-out prompt (a fixed
# generator seed, so successive evaluations differ only through the policy), and only the
# prefixes are left to chance. With $s=\mathrm{sort}(x)$ the correct response,
#
# $$
# \mathbb E_{y\sim\pi}\big[\mathrm{acc}(x,y)\big]=\frac1T\sum_{t=1}^{T}
# \mathbb E_{y\sim\pi}\big[\pi(s_t\mid x,y_{<t})\big],\qquad
# \mathbb E_{y\sim\pi}\big[\mathbb 1[y=s]\big]=\pi(s\mid x)
# $$ (dvr-expected-reward)
#
# The first replaces the sampled indicator $\mathbb 1[y_t=s_t]$ by its probability given the
# sampled prefix (same mean, less variance); the second is exact, one teacher-forced pass over
# the correct answer. The KL {eq}`dvr-seq-kl` is summed along the same samples.


# %%
@torch.no_grad()
def per_prompt_scores(
    policy: GPT, prompts: torch.Tensor, seed: int = 5, full: bool = True
) -> dict[str, torch.Tensor]:
    """Expected true reward and KL per prompt, each (N,), from one sampled response per
    prompt (eq. dvr-expected-reward and dvr-seq-kl); with `full`, also the expected exact
    match and the plain sampled versions of each."""
    generator = torch.Generator().manual_seed(seed)
    responses = sample_responses(policy, prompts, task.length, generator=generator)  # (N, T)
    logits = response_logits(policy, prompts, responses)  # (N, T, V): π(·|x, y<t)
    ref_logits = response_logits(reference, prompts, responses)
    correct = task.solve(prompts)  # (N, T): s = sort(x)
    p_correct_token = token_logprobs(logits, correct).exp()  # (N, T): π(s_t | x, y<t)
    scores = {
        "reward": p_correct_token.mean(dim=1),  # eq. (dvr-expected-reward), left
        "kl": exact_kl(logits, ref_logits).sum(dim=1),  # eq. (dvr-seq-kl)
    }
    if not full:
        return scores
    return scores | {
        "exact_match": sequence_logprobs(policy, prompts, correct).exp(),  # π(s|x), right
        "kl_k1": kl_estimates(  # Σ_t log π/π_ref at the sampled tokens
            token_logprobs(logits, responses), token_logprobs(ref_logits, responses)
        )["k1"].sum(dim=1),
        "sampled_reward": task.token_accuracy(prompts, responses),
        "sampled_exact_match": task.reward(prompts, responses),
    }


def evaluate(policy: GPT, prompts: torch.Tensor) -> dict[str, float]:
    """Means over prompts of the expected true reward and the KL."""
    scores = per_prompt_scores(policy, prompts, full=False)
    return {key: value.mean().item() for key, value in scores.items()}


def pair_accuracy(
    scores: tuple[torch.Tensor, torch.Tensor],
) -> float:
    """Fraction of pairs whose chosen response scores higher than the rejected one."""
    chosen_scores, rejected_scores = scores
    return (chosen_scores > rejected_scores).float().mean().item()


# %% [markdown]
# ## Verification
#
# ### The Bradley–Terry loss and its gradient
#
# The errata's hand-computed values: $r_w=2$, $r_l=0.5$ give $\sigma(1.5)=0.817574$ and a loss
# of $0.201413$. The gradient {eq}`dvr-rm-loss` is checked against autograd, in float64, and
# the loss against PyTorch's binary cross-entropy with logits (label 1 for "chosen wins").

# %%
r_chosen = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
r_rejected = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
rm_loss = bradley_terry_loss(r_chosen, r_rejected)
rm_loss.backward()
check_close(
    "σ(r_w - r_l) at r_w=2, r_l=0.5 vs 0.817574",
    torch.sigmoid(r_chosen - r_rejected).detach(),
    torch.tensor([0.817574], dtype=torch.float64),
    atol=5e-7,
)
check_close(
    "BT loss vs hand value 0.201413",
    rm_loss.detach(),
    torch.tensor(0.201413, dtype=torch.float64),
    atol=5e-7,
)
margin = (r_chosen - r_rejected).detach()
check_close(
    "BT loss vs F.binary_cross_entropy_with_logits",
    rm_loss.detach(),
    F.binary_cross_entropy_with_logits(margin, torch.ones(1, dtype=torch.float64)),
    atol=1e-15,
)
expected_grad = -torch.sigmoid(-margin)  # eq. (dvr-rm-loss): -σ(r_l - r_w)
check_close(
    "∂L/∂r_w, ∂L/∂r_l: autograd vs closed form",
    torch.cat([r_chosen.grad, r_rejected.grad]),
    torch.cat([expected_grad, -expected_grad]),
    atol=1e-15,
)

# %% [markdown]
# ### DPO at initialisation: loss $\log 2$, gradient $-\beta/2$
#
# With the policy equal to the reference, on the real training pairs, every implicit reward is
# 0: the loss must be $\log 2=0.693147$, and its gradient with respect to each pair's
# $\log\pi_\theta(y_w|x)$ must be $-\beta/2$ (times $1/N$ for the mean over $N$ pairs). The
# reference's log-probabilities of all training pairs, which DPO needs, are computed here once.

# %%
with torch.no_grad():  # the reference's log-probs of every training pair, computed once
    ref_chosen_logp = sequence_logprobs(reference, train_pairs.prompts, train_pairs.chosen)  # (N,)
    ref_rejected_logp = sequence_logprobs(reference, train_pairs.prompts, train_pairs.rejected)

N_CHECK = 256  # the first pairs, scored by a fresh copy of the reference (π_θ = π_ref)
check_pairs = train_pairs.subset(torch.arange(N_CHECK))
initial_policy = copy.deepcopy(reference)
with torch.no_grad():
    chosen_logp = sequence_logprobs(initial_policy, check_pairs.prompts, check_pairs.chosen)
    rejected_logp = sequence_logprobs(initial_policy, check_pairs.prompts, check_pairs.rejected)
chosen_leaf = chosen_logp.double().requires_grad_(True)  # (N_CHECK,)
rejected_leaf = rejected_logp.double().requires_grad_(True)
initial_dpo_loss = dpo_loss(
    chosen_leaf,
    rejected_leaf,
    ref_chosen_logp[:N_CHECK].double(),
    ref_rejected_logp[:N_CHECK].double(),
    BETA,
)
initial_dpo_loss.backward()
# float32 log-probs from batches of different sizes differ by rounding, hence atol 1e-5
check_close(
    f"DPO loss at π_θ = π_ref on {N_CHECK} training pairs vs log 2",
    initial_dpo_loss.detach(),
    torch.tensor(np.log(2.0), dtype=torch.float64),
    atol=1e-5,
)
check_close(
    "N · ∂L/∂log π_θ(y_w) vs -β/2",
    N_CHECK * chosen_leaf.grad,
    torch.full((N_CHECK,), -BETA / 2, dtype=torch.float64),
    atol=1e-5,
)
check_close(
    "N · ∂L/∂log π_θ(y_l) vs +β/2",
    N_CHECK * rejected_leaf.grad,
    torch.full((N_CHECK,), BETA / 2, dtype=torch.float64),
    atol=1e-5,
)

# %% [markdown]
# Away from initialisation, `dpo_loss` must equal the binary cross-entropy of the implicit
# reward margin, computed independently by PyTorch (random log-probabilities in float64):

# %%
random_logps = torch.from_numpy(rng.normal(-8.0, 2.0, size=(4, 50)))  # (4, N): π_w, π_l, ref
margins = BETA * ((random_logps[0] - random_logps[2]) - (random_logps[1] - random_logps[3]))
check_close(
    "dpo_loss vs F.binary_cross_entropy_with_logits(margin, 1)",
    dpo_loss(*random_logps, BETA),
    F.binary_cross_entropy_with_logits(margins, torch.ones_like(margins)),
    atol=1e-12,
)

# %% [markdown]
# ### Both routes lead to the same optimum (a bandit)
#
# On a single prompt with $K=4$ possible responses, everything is exact: the policy is a
# softmax over $K$ logits, the objective {eq}`dvr-objective` and the DPO loss over *all*
# pairs (each drawn from $\pi_\text{ref}\times\pi_\text{ref}$ and labelled by
# {eq}`dvr-bt-model`) are sums over $K$ or $K^2$ terms. Maximising the first and minimising the
# second (L-BFGS, float64) must both give $\pi^*$ of {eq}`dvr-optimum`. With finite pairs
# that cover every comparison this is DPO's guarantee; the experiment below has neither
# infinite data nor a small response space.

# %%
N_ARMS, BANDIT_BETA = 4, 0.5
bandit_ref_logp = torch.from_numpy(rng.normal(size=N_ARMS)).log_softmax(0)  # log π_ref, (K,)
bandit_reward = torch.from_numpy(rng.normal(size=N_ARMS))  # r(x, y) for the K responses
bandit_optimum = (bandit_ref_logp + bandit_reward / BANDIT_BETA).softmax(0)  # eq. (dvr-optimum)


def bandit_objective(logits: torch.Tensor) -> torch.Tensor:
    """J(π) of eq. (dvr-objective) for π = softmax(logits), exactly."""
    logp = logits.log_softmax(0)  # (K,)
    return (logp.exp() * (bandit_reward - BANDIT_BETA * (logp - bandit_ref_logp))).sum()


def bandit_population_dpo_loss(logits: torch.Tensor) -> torch.Tensor:
    """eq. (dvr-dpo) averaged over all ordered pairs (i, j) ~ π_ref × π_ref, where i wins
    with probability σ(r_i - r_j)."""
    implicit = BANDIT_BETA * (logits.log_softmax(0) - bandit_ref_logp)  # (K,)
    pair_prob = bandit_ref_logp.exp()[:, None] * bandit_ref_logp.exp()[None, :]  # (K, K)
    i_wins = torch.sigmoid(bandit_reward[:, None] - bandit_reward[None, :])  # (K, K)
    return -(pair_prob * i_wins * F.logsigmoid(implicit[:, None] - implicit[None, :])).sum()


def minimise(loss_fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The softmax of the logits that minimise loss_fn, from π = π_ref."""
    logits = bandit_ref_logp.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [logits],
        max_iter=500,
        tolerance_grad=1e-13,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(logits)
        loss.backward()
        return loss

    optimizer.step(closure)
    return logits.detach().softmax(0)


check_close(
    "argmax of the RLHF objective vs π* = π_ref e^{r/β} / Z",
    minimise(lambda z: -bandit_objective(z)),
    bandit_optimum,
    atol=1e-8,
)
check_close(
    "argmin of the population DPO loss vs π*",
    minimise(bandit_population_dpo_loss),
    bandit_optimum,
    atol=1e-8,
)
print(
    "π_ref =",
    np.round(bandit_ref_logp.exp().numpy(), 4),
    " π* =",
    np.round(bandit_optimum.numpy(), 4),
)

# %% [markdown]
# ### The group-baseline gradient with the KL-shaped reward is unbiased
#
# Pipeline A's estimator on the same bandit, at a random policy: draw groups of $G=4$
# responses, shape the reward by {eq}`dvr-shaped`, subtract the group mean with the shared
# `group_advantages`, and average $A_i\nabla_\theta\log\pi_\theta(y_i)$ over the group (for a
# softmax, $\nabla_\theta\log\pi_\theta(k)=e_k-\pi_\theta$). Its mean over groups must be
# $\frac{G-1}{G}\nabla_\theta J$, with $\nabla_\theta J$ from autograd of the exact objective.

# %%
bandit_logits = torch.from_numpy(rng.normal(size=N_ARMS)).requires_grad_(True)  # (K,)
(exact_gradient,) = torch.autograd.grad(bandit_objective(bandit_logits), bandit_logits)
bandit_logp = bandit_logits.detach().log_softmax(0)  # (K,)
N_GROUPS, BANDIT_G = 20_000, 4
arms = torch.multinomial(
    bandit_logp.exp(),
    N_GROUPS * BANDIT_G,
    replacement=True,
    generator=torch.Generator().manual_seed(6),
).view(N_GROUPS, BANDIT_G)  # (n, G)
shaped_reward = bandit_reward[arms] - BANDIT_BETA * (bandit_logp - bandit_ref_logp)[arms]  # (n, G)
group_adv = group_advantages(shaped_reward, std="none")  # (n, G)
score_function = F.one_hot(arms, N_ARMS).double() - bandit_logp.exp()  # ∇ log π, (n, G, K)
per_group_estimate = (group_adv[..., None] * score_function).mean(dim=1)  # (n, K)
for k in range(N_ARMS):
    check_mean_close(
        f"G/(G-1) · group-baseline estimate of ∂J/∂θ_{k}",
        per_group_estimate[:, k] * BANDIT_G / (BANDIT_G - 1),
        exact_gradient[k].item(),
        z_max=4.0,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. The preference data
#
# Both pipelines read exactly these pairs. Some pairs are ties in the true reward (a coin-flip
# label), and some non-tied pairs are labelled against the true order, as Bradley–Terry allows.
# The best accuracy any model can expect on held-out labels is the Bayes accuracy
# $\mathbb E[\max(p,1-p)]$ with $p=\sigma(r(x,y_w)-r(x,y_l))$.


# %%
def preference_data_summary(pairs: PreferencePairs) -> dict[str, float]:
    reward_gap = true_reward(pairs.prompts, pairs.chosen) - true_reward(
        pairs.prompts, pairs.rejected
    )  # (N,)
    p = torch.sigmoid(reward_gap)
    return {
        "pairs": float(len(pairs)),
        "ties": (reward_gap == 0).float().mean().item(),
        "agree": (reward_gap[reward_gap != 0] > 0).float().mean().item(),
        "bayes": torch.maximum(p, 1 - p).mean().item(),
    }


train_summary = preference_data_summary(train_pairs)
held_out_summary = preference_data_summary(held_out_pairs)
for name, summary in [("training", train_summary), ("held-out", held_out_summary)]:
    print(
        f"{name:>9} pairs: {summary['pairs']:.0f}; ties in true reward {summary['ties']:.1%}; "
        f"label agrees with the true order on non-ties {summary['agree']:.1%}; "
        f"Bayes accuracy {summary['bayes']:.3f}"
    )

# %% [markdown]
# ### 2. Pipeline A: the reward model, then the policy
#
# The reward model's held-out accuracy is the fraction of held-out pairs it orders like the
# annotator. The slope of its scores against token accuracy shows the scale it learned; the
# annotator's is $\kappa=20$.

# %%
reward_model = RewardModel(reference)
rm_step_times, rm_step_cpu = train_reward_model(
    reward_model, train_pairs, torch.Generator().manual_seed(2)
)
with torch.no_grad():
    rm_held_out_accuracy = pair_accuracy(
        (
            reward_model(held_out_pairs.prompts, held_out_pairs.chosen),
            reward_model(held_out_pairs.prompts, held_out_pairs.rejected),
        )
    )
    slope_responses = torch.cat([held_out_pairs.chosen, held_out_pairs.rejected])  # (2N, T)
    slope_prompts = torch.cat([held_out_pairs.prompts, held_out_pairs.prompts])
    rm_scores = reward_model(slope_prompts, slope_responses)  # (2N,)
accuracy_values = task.token_accuracy(slope_prompts, slope_responses).numpy()
rm_slope = np.polyfit(accuracy_values, rm_scores.numpy(), 1)[0]
print(
    f"reward model: held-out pair accuracy {rm_held_out_accuracy:.3f} "
    f"(Bayes {held_out_summary['bayes']:.3f}); score slope {rm_slope:.1f} per unit of "
    f"token accuracy (annotator: {KAPPA:.0f})"
)
print(f"reward model training time: {sum(rm_step_times):.2f} s for {RM_STEPS} steps")

# %% [markdown]
# Each pipeline trains a fresh copy of the reference with AdamW. At the steps in `EVAL_STEPS`
# (dense early, where the policies move fastest) the policy is evaluated on 200 held-out
# prompts; the step times exclude evaluation. The budgets, 50 policy steps after the reward
# model and 60 DPO steps, give the two pipelines training times of the same order. The
# learning rates were picked by hand from three values per pipeline, on these seeds.

# %%
RL_STEPS, RL_LR = 50, 5e-4
DPO_STEPS, DPO_LR = 60, 3e-4
EVAL_STEPS = {1, 2, 3, 5, 8, 12, 20, 30, 40, 50, 60}
eval_prompts = held_out_prompts[:200]  # (200, P)
reference_eval = evaluate(reference, eval_prompts)


@dataclass
class TrainingRun:
    policy: GPT
    history: list[dict[str, float]]  # step, cumulative CPU seconds, evaluate() metrics
    step_seconds: list[float]  # wall time of each optimiser step
    step_cpu_seconds: list[float]  # process CPU time of each step


def train_policy(
    step: Callable[[GPT, torch.optim.Optimizer], object], n_steps: int, lr: float, name: str
) -> TrainingRun:
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    run = TrainingRun(policy, [{"step": 0, "cpu_seconds": 0.0, **reference_eval}], [], [])
    for i in tqdm(range(1, n_steps + 1), desc=name, leave=False):
        wall, cpu = time.perf_counter(), time.process_time()
        step(policy, optimizer)
        run.step_seconds.append(time.perf_counter() - wall)
        run.step_cpu_seconds.append(time.process_time() - cpu)
        if i in EVAL_STEPS or i == n_steps:
            metrics = evaluate(policy, eval_prompts)
            run.history.append({"step": i, "cpu_seconds": sum(run.step_cpu_seconds), **metrics})
    policy.eval().requires_grad_(False)
    return run


rl_generator = torch.Generator().manual_seed(3)
rlhf_run = train_policy(
    lambda policy, opt: rlhf_step(policy, reward_model, opt, rl_generator), RL_STEPS, RL_LR, "RLHF"
)

# %% [markdown]
# ### 3. Pipeline B: DPO on the same pairs, same reference, same $\beta$

# %%
dpo_generator = torch.Generator().manual_seed(4)
dpo_run = train_policy(
    lambda policy, opt: dpo_step(
        policy, train_pairs, ref_chosen_logp, ref_rejected_logp, opt, dpo_generator
    ),
    DPO_STEPS,
    DPO_LR,
    "DPO",
)

# %% [markdown]
# ### 4. The comparison
#
# Final policies are scored on all 1000 held-out prompts: greedy exact match, and, from one
# sample per prompt, the expected true reward and exact match {eq}`dvr-expected-reward` and
# the KL {eq}`dvr-seq-kl`. The held-out pair accuracy is the reward model's for Pipeline A
# and, for Pipeline B, that of DPO's implicit reward
# $\hat r_\theta=\beta\log\pi_\theta/\pi_\text{ref}$; the row below it is the slope of each
# learned reward against token accuracy on the held-out pairs' responses (the annotator's is
# $\kappa=20$). Times are sums of the per-step times of one run (evaluations and the one-off
# forward passes over the pairs, the reward model's hidden states and DPO's reference
# log-probs, excluded), wall and CPU, with the median wall time per step; other jobs on the
# machine inflate the wall times. In the figure's left panel, larger markers are later steps;
# the right panel's clock is the CPU time of the training steps (less sensitive to other jobs
# than wall time), and Pipeline A's starts with its reward model. The curves are measured on
# the first 200 held-out prompts, so their values differ slightly from the table's (all 1000).


# %%
@torch.no_grad()
def final_scores(policy: GPT) -> dict[str, torch.Tensor]:
    """Per-prompt scores on all held-out prompts, plus greedy exact match, each (1000,)."""
    scores = per_prompt_scores(policy, held_out_prompts)
    greedy = sample_responses(policy, held_out_prompts, task.length, temperature=0.0)  # (N, T)
    scores["greedy"] = task.reward(held_out_prompts, greedy)
    return scores


@torch.no_grad()
def implicit_rewards(policy: GPT, pairs: PreferencePairs) -> tuple[torch.Tensor, torch.Tensor]:
    """DPO's implicit reward β log π_θ/π_ref of the chosen and the rejected responses, (N,) each."""
    return tuple(
        BETA
        * (
            sequence_logprobs(policy, pairs.prompts, y)
            - sequence_logprobs(reference, pairs.prompts, y)
        )
        for y in (pairs.chosen, pairs.rejected)
    )


final = {
    "reference": final_scores(reference),
    "RLHF": final_scores(rlhf_run.policy),
    "DPO": final_scores(dpo_run.policy),
}
before = {key: value.mean().item() for key, value in final["reference"].items()}
after = {
    name: {key: value.mean().item() for key, value in final[name].items()}
    for name in ("RLHF", "DPO")
}
dpo_implicit = implicit_rewards(dpo_run.policy, held_out_pairs)
dpo_implicit_accuracy = pair_accuracy(dpo_implicit)
dpo_slope = np.polyfit(accuracy_values, torch.cat(dpo_implicit).numpy(), 1)[0]
policy_parameters = count_parameters(reference)
held = {
    "RLHF": policy_parameters * 2 + count_parameters(reward_model),
    "DPO": policy_parameters * 2,
}
trained = {
    "RLHF": policy_parameters + count_parameters(reward_model.read_out),
    "DPO": policy_parameters,
}


def before_after(key: str) -> list[str]:
    return [f"{before[key]:.3f} -> {after[name][key]:.3f}" for name in ("RLHF", "DPO")]


table = [
    ("", "A: RM + policy gradient", "B: DPO"),
    ("models held in memory", "policy, reference, RM", "policy, reference"),
    ("parameters held", f"{held['RLHF']:,}", f"{held['DPO']:,}"),
    ("parameters trained", f"{trained['RLHF']:,}", f"{trained['DPO']:,}"),
    ("optimiser steps", f"{RM_STEPS} RM + {RL_STEPS} policy", f"{DPO_STEPS}"),
    ("responses generated in training", f"{RL_STEPS * PROMPTS_PER_STEP * GROUP_SIZE:,}", "0"),
    (
        "held-out pair accuracy (RM / implicit)",
        f"{rm_held_out_accuracy:.3f}",
        f"{dpo_implicit_accuracy:.3f}",
    ),
    (f"reward per unit accuracy (true: {KAPPA:.0f})", f"{rm_slope:.1f}", f"{dpo_slope:.1f}"),
    ("greedy exact match", *before_after("greedy")),
    ("expected exact match, pi(s|x)", *before_after("exact_match")),
    ("expected true reward (token accuracy)", *before_after("reward")),
    ("KL(pi || pi_ref), nats", *before_after("kl")),
]
timing_rows = [
    (
        "training wall time, sum of steps",
        f"{sum(rm_step_times) + sum(rlhf_run.step_seconds):.2f} s",
        f"{sum(dpo_run.step_seconds):.2f} s",
    ),
    (
        "training CPU time, sum of steps",
        f"{sum(rm_step_cpu) + sum(rlhf_run.step_cpu_seconds):.2f} s",
        f"{sum(dpo_run.step_cpu_seconds):.2f} s",
    ),
    (
        "median wall time per policy step",
        f"{1e3 * np.median(rlhf_run.step_seconds):.1f} ms",
        f"{1e3 * np.median(dpo_run.step_seconds):.1f} ms",
    ),
]
for row in table:
    print(f"{row[0]:<40}{row[1]:>26}{row[2]:>22}")
for row in timing_rows:  # no alignment padding: the digits of a time differ from run to run
    print(f"{row[0]:<40}A: {row[1]}, B: {row[2]}")

# %%
rlhf_peak = max(rlhf_run.history, key=lambda h: h["kl"])  # the RLHF run's largest KL
threshold = reference_eval["reward"] + 0.5 * min(  # half of the smaller final gain
    run.history[-1]["reward"] - reference_eval["reward"] for run in (rlhf_run, dpo_run)
)
first_cpu_seconds = {}  # CPU time at which each pipeline first reaches the threshold
fig, (ax_kl, ax_time) = plt.subplots(1, 2, figsize=(11.5, 4.6))
colours = {"RLHF": PALETTE[0], "DPO": PALETTE[1]}
labels = {"RLHF": "A: RM + policy gradient", "DPO": "B: DPO"}
for name, run in [("RLHF", rlhf_run), ("DPO", dpo_run)]:
    kl = np.array([h["kl"] for h in run.history])
    reward = np.array([h["reward"] for h in run.history])
    offset = sum(rm_step_cpu) if name == "RLHF" else 0.0  # A's clock starts with the RM
    cpu_seconds = np.array([h["cpu_seconds"] for h in run.history]) + offset
    first_cpu_seconds[name] = cpu_seconds[np.argmax(reward >= threshold)]
    ax_kl.plot(kl, reward, "-", color=colours[name], lw=1, alpha=0.6)
    ax_kl.scatter(
        kl,
        reward,
        s=12 + 40 * np.arange(len(kl)) / len(kl),
        color=colours[name],
        label=labels[name],
        zorder=3,
    )
    for h in (run.history[3], run.history[-1]):  # label step 3 and the last step
        ax_kl.annotate(
            f"step {h['step']}",
            (h["kl"], h["reward"]),
            fontsize=8,
            xytext=(5, -11),
            textcoords="offset points",
            color=colours[name],
        )
    ax_time.plot(cpu_seconds, reward, "o-", color=colours[name], label=labels[name], ms=4)
ax_time.plot(
    [0, sum(rm_step_cpu)],
    [reference_eval["reward"]] * 2,
    "-",
    color=PALETTE[0],
    lw=5,
    alpha=0.35,
    label="A: reward-model training",
)
ax_time.axhline(threshold, color="grey", lw=0.8, ls=":", label="half of the smaller final gain")
ax_kl.set(
    xlabel="KL(π‖π_ref) on held-out prompts (nats)",
    ylabel="expected true reward (token accuracy)",
    title=f"A's first steps reach KL {rlhf_peak['kl']:.2f} before its reward catches up",
)
ax_time.set(
    xlabel="training CPU time, sum of steps (s)",
    ylabel="expected true reward (token accuracy)",
    title=(
        f"B reaches the dotted line after {first_cpu_seconds['DPO']:.2f} s, "
        f"A after {first_cpu_seconds['RLHF']:.2f} s"
    ),
)
ax_kl.legend(loc="upper left", fontsize=8)
ax_time.legend(loc="lower right", fontsize=8)
fig.suptitle(
    f"Same pairs, same reference, β = {BETA:g}: true reward {before['reward']:.3f} → "
    f"{after['RLHF']['reward']:.3f} (A) and {after['DPO']['reward']:.3f} (B), "
    f"at KL {after['RLHF']['kl']:.2f} and {after['DPO']['kl']:.2f} nats"
)
plt.show()

# %% [markdown]
# **Is the difference real?** Both policies are scored on the same 1000 prompts, so the
# per-prompt differences (DPO minus RLHF) give a paired standard error.

# %%
paired = {}
for key, label in [
    ("greedy", "greedy exact match"),
    ("exact_match", "expected exact match"),
    ("reward", "expected true reward"),
    ("kl", "KL(pi || pi_ref), nats"),
]:
    difference = (final["DPO"][key] - final["RLHF"][key]).double()  # (1000,)
    mean, se = difference.mean().item(), (difference.std() / difference.numel() ** 0.5).item()
    paired[key] = mean / se
    print(f"DPO - RLHF, {label:<24} {mean:+.3f} ± {se:.3f} (paired se), z = {mean / se:+.1f}")

# %% [markdown]
# **The estimators are unbiased.** On the final DPO policy's held-out samples, each estimator
# of {eq}`dvr-expected-reward` and {eq}`dvr-seq-kl` is compared with its plain sampled
# counterpart (the sampled token accuracy, the sampled exact match, and the summed sampled
# log-ratio $k_1$): both sides have the same mean, so the per-prompt differences must average
# to zero. The spreads show what the lower-variance versions buy.

# %%
dpo_scores = final["DPO"]
for what, sampled, estimator in [
    ("token accuracy: sampled - Σ_t π(s_t|x,y<t)/T", "sampled_reward", "reward"),
    ("exact match: sampled - π(s|x)", "sampled_exact_match", "exact_match"),
    ("sequence KL: Σ_t k1 - Σ_t exact KL", "kl_k1", "kl"),
]:
    difference = (dpo_scores[sampled] - dpo_scores[estimator]).double()  # (1000,)
    check_mean_close(what, difference, 0.0, z_max=4.0)
    print(
        f"    per-prompt std: sampled {dpo_scores[sampled].std():.3f}, "
        f"estimator {dpo_scores[estimator].std():.3f}"
    )

# %% [markdown]
# ### 5. Which wins here, and why
#
# The cell below states the run's outcome as checks, with the numbers behind each, and the
# reward gained per nat of KL early (step 3) and at the end.

# %%
for name in ("RLHF", "DPO"):
    gain = (final[name]["reward"] - final["reference"]["reward"]).double()  # (1000,)
    z = (gain.mean() / (gain.std() / gain.numel() ** 0.5)).item()
    check_true(
        f"{name} raised the expected true reward over the reference",
        z > 4 and after[name]["greedy"] > before["greedy"],
        f"+{gain.mean():.3f} (z = {z:.1f}); greedy exact match "
        f"{before['greedy']:.3f} -> {after[name]['greedy']:.3f}",
    )
check_true(
    "neither is clearly ahead on expected reward or expected exact match (|z| < 3)",
    abs(paired["reward"]) < 3 and abs(paired["exact_match"]) < 3,
    f"z = {paired['reward']:+.1f} and {paired['exact_match']:+.1f}",
)
check_true(
    "DPO's greedy exact match is higher (z > 2)",
    paired["greedy"] > 2,
    f"z = {paired['greedy']:+.1f}",
)
check_true(
    "DPO ends further from the reference (z > 2)", paired["kl"] > 2, f"z = {paired['kl']:+.1f}"
)
rlhf_step_cpu, dpo_step_cpu = (1e3 * np.median(run.step_cpu_seconds) for run in (rlhf_run, dpo_run))
# a measured time is printed, never asserted (timings on a shared machine vary)
print(f"median CPU per policy step: A {rlhf_step_cpu:.0f} ms, DPO {dpo_step_cpu:.0f} ms")
gain_per_nat = {}  # reward gained per nat of KL at step 3 and at the end
for name, run in [("RLHF", rlhf_run), ("DPO", dpo_run)]:
    early, last = run.history[3], run.history[-1]
    gain_per_nat[name] = [(h["reward"] - reference_eval["reward"]) / h["kl"] for h in (early, last)]
    print(
        f"{name:>4}: reward gained per nat of KL: step {early['step']} "
        f"{gain_per_nat[name][0]:.3f}, step {last['step']} {gain_per_nat[name][1]:.3f}"
    )
check_true(
    "early on, A gains less reward per nat of KL than B",
    gain_per_nat["RLHF"][0] < gain_per_nat["DPO"][0],
    f"{gain_per_nat['RLHF'][0]:.3f} vs {gain_per_nat['DPO'][0]:.3f} at step 3",
)
end_ratio = gain_per_nat["RLHF"][1] / gain_per_nat["DPO"][1]
check_true(
    "at the end, the gains per nat of KL are within 25 % of each other",
    abs(end_ratio - 1) < 0.25,
    f"ratio {end_ratio:.2f}",
)
check_true(
    "the explicit RM orders more held-out pairs correctly than DPO's implicit reward",
    rm_held_out_accuracy > dpo_implicit_accuracy,
    f"{rm_held_out_accuracy:.3f} vs {dpo_implicit_accuracy:.3f}",
)
check_true(
    "both policies end less than one nat from the reference",
    max(after["RLHF"]["kl"], after["DPO"]["kl"]) < 1.0,
    f"KL {after['RLHF']['kl']:.2f} and {after['DPO']['kl']:.2f} nats",
)
check_true(
    "both learned rewards are less than half as steep as the annotator's",
    max(rm_slope, dpo_slope) < KAPPA / 2,
    f"{rm_slope:.1f} and {dpo_slope:.1f} per unit accuracy vs {KAPPA:.0f}",
)

# %% [markdown]
# Reading the table, the figure and the checks (one run, one seed, a toy):
#
# - **Both pipelines improve the true objective**: expected token accuracy, expected exact
#   match and greedy exact match all rise above the reference's.
# - **Neither reaches a better reward–KL trade-off.** The expected reward and exact match end
#   within a few paired standard errors of each other; DPO's greedy exact match is higher, but
#   DPO has also moved further from the reference, and at the end the reward gained per nat of
#   KL is about the same for both. Early on it is not: the RLHF run's first steps spend KL
#   with almost no reward (left panel). Its gradient is estimated from 64 samples of a
#   six-token response, and Adam turns even a noisy gradient into steps of full size
#   ([the optimizers chapter](../ml/01_optimizers.ipynb)). Noise and the learning rate, not
#   exploding gradients, are the weak points of the RL stage; a warm-up or a smaller rate
#   would trade this away for slower progress.
# - **The cost differs clearly.** Pipeline A holds three networks instead of two (PPO's critic
#   would be a fourth, about the policy's size), trains a reward model first, generates every
#   response it learns from, and each policy step does more work (generation, then scoring by
#   the reward model and the reference, then the update) than a DPO step. In this toy the
#   reward model's body is a frozen copy of the SFT network, so it could share the reference's
#   weights; a real reward model is separately fine-tuned and cannot.
# - **The reward model is the better classifier, DPO the better (or equal) generator.** The
#   explicit reward model orders more held-out pairs correctly than DPO's implicit reward, yet
#   its policy does not end ahead. Both learned rewards are much flatter than the annotator's
#   ($\kappa=20$ per unit of accuracy, "reward per unit accuracy" row): after this budget both
#   pipelines are far from the optimum $\pi^*$ of {eq}`dvr-optimum`, which for $\beta=1$ puts
#   nearly all its mass on correct sorts.
#
# **Why DPO holds up here, and why not to generalise.** The pairs were sampled from
# $\pi_\text{ref}$ itself and both policies end less than one nat from it, so the offline
# pairs still cover the responses the policy actually produces: the setting most favourable to
# an offline method. When the policy must move far from the data, or the pairs come from
# another model, DPO's loss says nothing about the new responses, while RLHF keeps sampling and
# scoring them; controlled studies with language models find online methods and well-tuned
# PPO ahead in such settings {cite}`xu2024dpo,ivison2024unpacking,tang2024understanding`. The
# reward model here is a linear read-out of frozen features, forced by the CPU budget; a fully
# fine-tuned one could change the outcome, in either direction, since a stronger policy
# optimiser also exploits a reward model's errors harder {cite}`gao2023scaling`. The learning
# rates were chosen among three values each, on these seeds.

# %% [markdown]
# **What DPO's loss sees.** DPO's loss depends on $\log\pi_\theta$ only at the training pairs'
# responses. The mean change of $\log\pi_\theta/\pi_\text{ref}$ on 500 of them, next to the KL
# on the policy's own samples:

# %%
N_SHIFT = 500  # the first 500 training pairs
shift_pairs = train_pairs.subset(torch.arange(N_SHIFT))
for name, run in [("RLHF", rlhf_run), ("DPO", dpo_run)]:
    with torch.no_grad():
        chosen_shift = sequence_logprobs(run.policy, shift_pairs.prompts, shift_pairs.chosen)
        rejected_shift = sequence_logprobs(run.policy, shift_pairs.prompts, shift_pairs.rejected)
    chosen_shift = chosen_shift - ref_chosen_logp[:N_SHIFT]  # (N_SHIFT,)
    rejected_shift = rejected_shift - ref_rejected_logp[:N_SHIFT]
    print(
        f"{name:>4}: log π/π_ref on the training pairs: chosen {chosen_shift.mean():+.2f}, "
        f"rejected {rejected_shift.mean():+.2f} nats; KL on its own samples "
        f"{after[name]['kl']:.2f} nats"
    )
    if name == "DPO":
        check_true(
            "under DPO the chosen responses lost probability, the rejected ones more",
            rejected_shift.mean().item() < chosen_shift.mean().item() < 0,
            f"{chosen_shift.mean():+.2f} and {rejected_shift.mean():+.2f} nats",
        )

# %% [markdown]
# DPO widened the margin mostly by pushing the rejected responses down; the chosen ones went
# down too, by less. The probability that left the responses of the pairs went to responses
# that appear in no pair, where the loss has no say; only a measurement on the policy's own
# samples, like the KL above, shows where it went. In this run the true reward rose, so much
# of it went to better sorts. Nothing in the loss guarantees that (with language models the
# classic example is drift toward longer answers), and with labels as one-sided as these
# (about 99 % agree with the true order) the margins can grow without bound, the overfitting
# that IPO's loss was designed against {cite}`azar2024general`.
# [Chapter 02](02_dpo.ipynb) follows the chosen and rejected log-probabilities in detail.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "DPO does not need a reward model, so it needs only the policy." Right?
# It needs no *separate* reward model, but it does need the frozen reference: the loss
# {eq}`dvr-dpo` is written in terms of $\log\pi_\text{ref}$. Those log-probabilities can be
# computed once for the whole data set, so during training only the policy has to be in
# memory (this chapter precomputes them). The policy itself plays the reward model's role, with
# reward $\beta\log\pi_\theta/\pi_\text{ref}$, and can be evaluated as one (the held-out pair
# accuracy above).
# :::
#
# :::{dropdown} "In RLHF the reward model is trained with RL." Is it?
# No. It is trained by supervised learning, the logistic loss {eq}`dvr-rm-loss` on labelled
# pairs (InstructGPT ranks $K$ responses per prompt and uses all $\binom K2$ pairs
# {cite}`ouyang2022training`). Only the policy is trained by RL, against the frozen reward
# model with the KL-shaped reward {eq}`dvr-shaped`.
# :::
#
# :::{dropdown} "RLHF is unstable because its gradients explode." What goes wrong in practice?
# The gradient of the RL stage is an *estimate* from a batch of sampled responses, with high
# variance (the first steps of this chapter's run moved the policy away from the reference
# with little gain). The policy finds responses the reward model over-rates (reward hacking
# {cite}`gao2023scaling`, [chapter 08](08_reward_hacking.ipynb)), which is why the KL
# penalty and early stopping matter. And the result depends on many hyper-parameters and
# implementation details (advantage normalisation, clipping ranges, value-function
# initialisation, learning rates) {cite}`huang2022the37`. Explosion of the gradient norm is
# not the characteristic failure.
# :::
#
# :::{dropdown} "DPO is RL-free, so it is not maximising a reward." Is it?
# It maximises the same KL-regularised reward {eq}`dvr-objective` as RLHF; "RL-free" only
# means it needs no sampling and no value estimates, because the optimum has the closed form
# {eq}`dvr-optimum`. The bandit in the Verification section shows both losses leading to the
# same $\pi^*$ when the data cover every comparison.
# :::
#
# :::{dropdown} "The KL penalty is built into DPO, so the policy cannot drift." Can it?
# $\beta$ is in DPO's loss, but the loss reads the policy only at the responses of the pairs.
# What the policy does on other responses, including its own most likely outputs, is
# unconstrained except through the shared parameters. Measure the KL on the policy's own
# samples, as here, and evaluate generations, not only the loss and the reward accuracy.
# :::
#
# :::{dropdown} "DPO converges faster and is more interpretable." True?
# A DPO step is cheaper (no generation, two networks instead of three or four), so DPO often
# finishes sooner. Whether it ends at a better policy depends on the data and the budget, and
# the published evidence is mixed {cite}`xu2024dpo,ivison2024unpacking`. An explicit reward
# model is the easier one to inspect: it scores any response on its own, while DPO's implicit
# reward exists only relative to the reference.
# :::
#
# :::{dropdown} Why does PPO-based RLHF hold four models, and how do people hold fewer?
# Policy and value critic are trained; the reward model and the reference are frozen. The
# critic can be dropped by using a baseline computed from several samples of the same prompt
# (this chapter; RLOO {cite}`ahmadian2024back`; GRPO in [chapter 07](07_grpo.ipynb)), which
# leaves three. LoRA adapters let policy, reference and critic share one frozen base. DPO
# holds two, or one with precomputed reference log-probabilities.
# :::
#
# :::{dropdown} Does the same $\beta$ mean the same regularisation in both?
# Only if the rewards have the same scale. $\beta$ is measured in reward units, and a
# Bradley–Terry reward model learns its scale from the data and its own accuracy: here both
# learned rewards are far flatter than the annotator's (the "reward per unit accuracy" row).
# A reward model with a compressed scale makes the same $\beta$ act as a stronger penalty.
# :::
#
# :::{dropdown} What is online or iterative DPO?
# DPO on pairs sampled from the *current* policy and labelled by an annotator or a reward
# model, refreshed as training goes. It keeps DPO's simple loss but regains what on-policy
# sampling gives RLHF: data on the responses the policy now produces. The cost is generation
# and labelling again. [Chapter 02](02_dpo.ipynb) compares fixed pairs with pairs sampled from
# the current model, and [chapter 09](09_online_vs_offline_rl.ipynb) the online–offline
# distinction in general.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A 7-billion-parameter policy is aligned with mixed-precision Adam, which needs 16 bytes
#    per trained parameter (bf16 weights and gradients, fp32 master weights, and Adam's two
#    moments {cite}`rajbhandari2020zero`) and 2 bytes per frozen parameter. How much memory do
#    the model states take for PPO-RLHF (policy and critic trained, reward model and reference
#    frozen, all 7B) and for DPO with the reference kept in memory? Activations excluded.
#
#    :::{dropdown} Answer
#    PPO: $7\times10^9\times(2\cdot16+2\cdot2)=252$ GB. DPO: $7\times10^9\times(16+2)=126$ GB,
#    half. The next cell computes both.
#    :::

# %%
N_PARAMETERS = 7_000_000_000
BYTES_TRAINED, BYTES_FROZEN = 16, 2  # mixed-precision Adam state; bf16 weights only
ppo_bytes = N_PARAMETERS * (2 * BYTES_TRAINED + 2 * BYTES_FROZEN)  # policy, critic; RM, ref
dpo_bytes = N_PARAMETERS * (BYTES_TRAINED + BYTES_FROZEN)  # policy; reference
check_equal("PPO-RLHF model-state bytes", ppo_bytes, 252_000_000_000)
check_equal("DPO model-state bytes", dpo_bytes, 126_000_000_000)
print(f"PPO-RLHF {ppo_bytes / 1e9:.0f} GB, DPO {dpo_bytes / 1e9:.0f} GB")

# %% [markdown]
# 2. This chapter's reward model starts with a zero read-out, so every score is 0. What are its
#    Bradley–Terry loss and the gradient with respect to $r_\phi(x,y_w)$ at that point, and how
#    do they compare with DPO's at initialisation?
#
#    :::{dropdown} Answer
#    Every margin is 0, so the loss is $\log 2$ and $\partial\mathcal L/\partial r_w=-\sigma(0)
#    =-1/2$ per pair: the same numbers as DPO, where the margin is $\beta$ times a log-ratio
#    difference and the gradient with respect to $\log\pi_\theta(y_w)$ carries the extra
#    factor $\beta$. The next cell checks the loss on a fresh reward model.
#    :::

# %%
fresh_reward_model = RewardModel(reference)
first_pairs = train_pairs.subset(torch.arange(64))
with torch.no_grad():
    fresh_loss = bradley_terry_loss(
        fresh_reward_model(first_pairs.prompts, first_pairs.chosen),
        fresh_reward_model(first_pairs.prompts, first_pairs.rejected),
    )
check_close(
    "fresh reward model's BT loss vs log 2", fresh_loss, torch.tensor(np.log(2.0)), atol=1e-6
)

# %% [markdown]
# 3. You have an SFT model, a fixed budget of human preference labels, and little time for
#    tuning. When would you choose DPO, and when a reward model with RL?
#
#    :::{dropdown} Answer
#    DPO when the pairs can be sampled from (or close to) the SFT model, the policy is not
#    expected to move far from it, and compute or engineering time is tight: it is one
#    supervised-style loop with two models. A reward model with RL when the policy should
#    improve well beyond the data's responses, when the same reward model will score many
#    new samples (reusing the labels), or when a verifiable or learned reward is available
#    anyway; then budget for the tuning and for monitoring reward hacking. A middle way is
#    online DPO: label fresh samples of the current policy with the reward model.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`rafailov2023direct`: Section 4 (the optimum of the KL-regularised objective and
#   the DPO loss derived from it) and Section 5 (its gradient).
# - {cite:t}`ouyang2022training`: Section 3.5 (reward model from $K$ ranked responses, PPO
#   with a per-token KL penalty, the four models); {cite:t}`stiennon2020learning` and
#   {cite:t}`ziegler2019fine` (the reward model + KL-penalised RL pipeline);
#   {cite:t}`christiano2017deep` (learning a reward from pairwise preferences).
# - {cite:t}`bradley1952rank`: the paired-comparison model {eq}`dvr-bt-model`.
# - {cite:t}`williams1992simple` (REINFORCE and baselines), {cite:t}`schulman2017proximal`
#   (the clipped surrogate), {cite:t}`ahmadian2024back` (REINFORCE-style RLHF without a
#   critic).
# - {cite:t}`xu2024dpo`, {cite:t}`ivison2024unpacking` and {cite:t}`tang2024understanding`:
#   empirical comparisons of DPO, PPO and online vs offline methods.
# - {cite:t}`huang2022the37` (implementation details that PPO's results depend on),
#   {cite:t}`gao2023scaling` (reward-model over-optimisation), {cite:t}`azar2024general`
#   (IPO: DPO with deterministic preferences).
# - {cite:t}`rajbhandari2020zero`, Section 3.1: 16 bytes per parameter for mixed-precision
#   Adam.

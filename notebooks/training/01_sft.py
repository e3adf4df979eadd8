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
# # 01. Supervised fine-tuning
#
# **The question.** What are SFT and DPO? This chapter answers the SFT half; DPO has its own
# chapter, [chapter 02](02_dpo.ipynb).
#
# **What you will be able to answer.** What loss SFT minimises and why it is maximum likelihood
# with teacher forcing; how the prompt is masked with the label −100 and what that does to the
# gradient; where SFT sits between pre-training and preference optimisation; what "the mean
# loss" means when responses have different lengths, and how to accumulate gradients without
# changing it; and what the loss on prompt tokens would add.

# %%
import math
import time
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.gpt import GPT, GPTConfig
from notebook_utils.nn import count_parameters
from notebook_utils.rl import SortTask, greedy_exact_match, sample_responses, sft_loss, train_sft
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
cpu_start = time.process_time()

# %% [markdown]
# ## Short answer
#
# - **SFT is maximum likelihood on demonstrations.** Given prompt→response pairs $(x,y)$,
#   minimise
#   $\mathcal L_\text{SFT}(\theta)=-\mathbb E_{(x,y)\sim\mathcal D}\sum_{t=1}^{|y|}
#   \log\pi_\theta(y_t\mid x,y_{<t})$. It is the pre-training loss, next-token cross-entropy,
#   with *teacher forcing*: every token is predicted from the gold prefix, so one forward pass
#   over the concatenation $[x;y]$ gives all the terms at once.
# - **Only the response counts.** The labels are the input shifted by one position; the labels
#   of prompt and chat-template tokens are set to −100, PyTorch's `ignore_index`, so
#   `F.cross_entropy` skips them: they add nothing to the loss, and the logits at those
#   positions get exactly zero gradient. What is trained is $\log\pi_\theta(y\mid x)$, the
#   quantity used at inference, where the prompt is given.
# - **Where it sits.** Pre-training (next-token prediction on raw text) → SFT (imitate
#   demonstrations: follow instructions in the chat format, and stop) → preference
#   optimisation: a reward model plus PPO {cite}`ouyang2022training`, DPO, or RL on verifiable
#   rewards with GRPO {cite}`shao2024deepseekmath`. The SFT model is the starting policy of
#   that last stage and its reference $\pi_\text{ref}$ in the KL term. DPO, in
#   [chapter 02](02_dpo.ipynb), trains on pairs of a preferred and a rejected response with a
#   logistic loss on log-probability ratios to $\pi_\text{ref}$, with no reward model and no
#   reinforcement-learning loop.
# - **"The mean loss" needs a denominator.** `F.cross_entropy(..., ignore_index=-100)`
#   averages over the counted tokens of the batch. The per-sequence sum and the mean of
#   per-sequence means are other conventions, and they weight long responses differently.
#   With gradient accumulation, average micro-batch means and you silently change the
#   weighting; divide each micro-batch's *summed* loss by the token count of the whole batch.
# - **Masking in practice.** On this chapter's toy task, where the prompt is random digits,
#   the loss on prompt tokens can only fall to an irreducible floor of $\ln 10$ per digit.
#   Training on it too slowed the learning of the response, in every seed of the runs here;
#   the Experiments measure by how much.
#
# The notes give no answer to this question (errata TR-01). What they lack is the loss with
# the prompt masked, the pipeline, and a pointer to DPO; all three are above.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x=(x_1,\dots,x_P)$ | prompt tokens, chat template and separator included | `prompts`, (B, P) |
# | $y=(y_1,\dots,y_T)$ | response tokens | `responses`, (B, T) |
# | $s=[x;y]$, $N=P+T$ | the concatenated sequence the model reads | `tokens`, (B, N) |
# | $\pi_\theta(\cdot\mid s_{\le i})$ | next-token distribution after $i$ tokens | `softmax(z_i)` |
# | $z_i\in\mathbb R^V$ | logits at position $i$ (they predict $s_{i+1}$) | `logits[:, i]` |
# | $\ell_i$ | label at position $i$: $s_{i+1}$, or −100 (ignored) | `labels`, (B, N − 1) |
# | $\mathcal M$ | the positions whose label is not −100 | `counted` |
# | $V$, $n$ | vocabulary size; number of digits in the sort task | `vocab_size`, `n_digits` |
#
# ### The objective: maximum likelihood with teacher forcing
#
# An autoregressive model factorises the probability of a response by the chain rule:
#
# $$
# \log\pi_\theta(y\mid x)=\sum_{t=1}^{T}\log\pi_\theta(y_t\mid x,y_{<t}).
# $$ (sft-chain-rule)
#
# SFT maximises it on a data set $\mathcal D$ of demonstrations:
#
# $$
# \mathcal L_\text{SFT}(\theta)=-\mathbb E_{(x,y)\sim\mathcal D}
# \sum_{t=1}^{T}\log\pi_\theta(y_t\mid x,y_{<t}).
# $$ (sft-objective)
#
# Writing $p_\mathcal D(y\mid x)$ for the demonstrators' distribution,
# $\mathcal L_\text{SFT}=\mathbb E_x\,\mathrm{KL}\big(p_\mathcal D(\cdot\mid x)\,\|\,
# \pi_\theta(\cdot\mid x)\big)+\mathbb E_x H\big(p_\mathcal D(\cdot\mid x)\big)$, and the
# entropy does not depend on $\theta$: SFT minimises the *forward* KL to the demonstrations,
# which punishes the model for giving low probability to anything a demonstrator wrote.
#
# Each term of {eq}`sft-objective` conditions on the gold prefix $y_{<t}$, not on what the
# model would have generated: this is *teacher forcing*. Since a causal transformer computes
# $\pi_\theta(\cdot\mid s_{\le i})$ for every $i$ in one pass, the $T$ terms cost one forward
# pass over $s$.
#
# ### From the equation to tensors: shift by one, mask with −100
#
# The model reads $s_1,\dots,s_{N-1}$ and position $i$ outputs logits $z_i$ for $s_{i+1}$. The
# labels are therefore the input shifted by one, and the labels of prompt tokens are replaced
# by −100:
#
# $$
# \ell_i=\begin{cases}s_{i+1} & i\ge P \quad(s_{i+1}=y_{i+1-P}\text{ is a response token})\\
# -100 & i<P \quad(s_{i+1}\text{ is a prompt token})\end{cases}
# \qquad i=1,\dots,N-1 .
# $$ (sft-labels)
#
# The first counted position is $i=P$, whose input is the last prompt token (the separator,
# or the assistant header of a chat template) and whose label is $y_1$. The loss is the mean
# negative log-probability over the counted positions $\mathcal M=\{i:\ell_i\ne-100\}$, which
# is exactly what `F.cross_entropy(logits, labels, ignore_index=-100)` computes with its
# default `reduction="mean"`:
#
# $$
# \mathcal L=-\frac{1}{|\mathcal M|}\sum_{i\in\mathcal M}\log\operatorname{softmax}(z_i)_{\ell_i}.
# $$ (sft-masked-mean)
#
# The denominator is $|\mathcal M|$, not the number of positions: ignored positions are
# removed from the mean, not counted as zeros. Differentiating the softmax cross-entropy gives
#
# $$
# \frac{\partial\mathcal L}{\partial z_i}=
# \begin{cases}\dfrac{\operatorname{softmax}(z_i)-e_{\ell_i}}{|\mathcal M|} & i\in\mathcal M\\[2mm]
# 0 & i\notin\mathcal M\end{cases}
# $$ (sft-grad)
#
# where $e_{\ell}$ is the one-hot vector of token $\ell$. The logits at prompt positions get
# exactly zero gradient: whatever the model predicts there, nothing pushes it. (The prompt
# still matters: the response positions attend to it, so the gradient flows *through* the
# prompt's hidden states into the weights.)
#
# ### What a loss on the prompt tokens would add
#
# Without the mask, the sum runs over every position and the loss becomes the joint
# log-likelihood of the sequence:
#
# $$
# \sum_{i=1}^{N-1}\log\pi_\theta(s_{i+1}\mid s_{\le i})
# =\underbrace{\sum_{j=2}^{P}\log\pi_\theta(x_j\mid x_{<j})}_{\text{a language model of prompts}}
# +\underbrace{\log\pi_\theta(y\mid x)}_{\text{eq. (sft-chain-rule)}} .
# $$ (sft-joint)
#
# Unmasking adds a second task: modelling the distribution of prompts. Whether that helps
# depends on whether prompts have anything learnable to teach. In the sort task of this book
# (`SortTask` in `notebook_utils.rl`), the prompt is $L$ digits drawn independently and
# uniformly from $n$, then a separator token. For a digit $x_j$ ($j\ge2$) and any predicted
# distribution $q$ over the vocabulary,
#
# $$
# \mathbb E\big[-\log q(x_j)\big]=-\sum_{d=0}^{n-1}\tfrac1n\log q(d)
# =\ln n+\mathrm{KL}\big(U_n\,\|\,q\big)\ \ge\ \ln n ,
# $$
#
# with equality only for the uniform distribution $U_n$ over the digits: earlier digits carry
# no information about the next one. The separator always comes after the $L$-th digit, so a
# model that knows the position can predict it with certainty, floor 0. The first digit is
# never predicted (there is no token before it). Averaged over the $L$ prompt labels
# ($L-1$ digits and the separator), the loss on prompt tokens cannot go below
#
# $$
# \mathcal L_\text{prompt}\ \ge\ \frac{L-1}{L}\ln n ,
# $$ (sft-prompt-floor)
#
# while the response is a deterministic function of the prompt, floor 0. At initialisation
# the logits are nearly zero, so every prediction costs about $\ln V=\ln(n+1)$; for $n=10$
# the digits can only improve from $\ln 11=2.398$ to $\ln 10=2.303$ nats. On this task, the
# prompt half of the loss is almost all irreducible. At the floor its expected gradient is zero,
# but not the gradient of any one batch, whose digit frequencies differ from uniform.
#
# ### Normalisation: a mean over what?
#
# Take a batch of $B$ sequences; sequence $b$ has $n_b$ counted tokens with losses
# $\lambda_{b,t}=-\log\pi_\theta(y_{b,t}\mid x_b,y_{b,<t})$, and $N_\text{tok}=\sum_b n_b$.
# Three conventions are in use:
#
# $$
# \mathcal L_\text{token}=\frac{1}{N_\text{tok}}\sum_{b=1}^{B}\sum_{t=1}^{n_b}\lambda_{b,t}
# $$ (sft-token-mean)
#
# $$
# \mathcal L_\text{sum}=\frac{1}{B}\sum_{b=1}^{B}\sum_{t=1}^{n_b}\lambda_{b,t}
# $$ (sft-sequence-sum)
#
# $$
# \mathcal L_\text{seq}=\frac{1}{B}\sum_{b=1}^{B}\frac{1}{n_b}\sum_{t=1}^{n_b}\lambda_{b,t}
# $$ (sft-sequence-mean)
#
# They differ in the weight each token gets: $1/N_\text{tok}$, $1/B$ and $1/(B\,n_b)$.
#
# - $\mathcal L_\text{sum}$ is the minibatch estimate of {eq}`sft-objective` itself. Its
#   scale grows with the response length, so the learning rate that suits it depends on the
#   data. DPO's log-probabilities are sums of this kind.
# - $\mathcal L_\text{token}=\mathcal L_\text{sum}\cdot B/N_\text{tok}$: within one batch it
#   has the same gradient direction as $\mathcal L_\text{sum}$, divided by the batch's mean
#   response length. Every token weighs the same, so a sequence weighs in proportion to its
#   length $n_b$. This is what `F.cross_entropy(ignore_index=-100)` gives, and the default in
#   most SFT code.
# - $\mathcal L_\text{seq}$ gives every *sequence* the same weight, so each token of a long
#   response weighs less than a token of a short one. It is a different objective: with
#   limited capacity, the model trades long responses for short ones differently.
#
# With equal lengths ($n_b=n$) the three are proportional, and $\mathcal L_\text{token}=
# \mathcal L_\text{seq}$, which is why the shared `sft_loss` (fixed-length responses) does
# not have to choose.
#
# ### Gradient accumulation
#
# A batch too large for memory is split into $K$ micro-batches; micro-batch $k$ has $N_k$
# counted tokens and summed loss $S_k=\sum_{(b,t)\in k}\lambda_{b,t}$. The full-batch token
# mean {eq}`sft-token-mean` is $\sum_k S_k/\sum_k N_k$. The obvious loop, which backpropagates
# each micro-batch's mean divided by $K$, computes instead
#
# $$
# \frac1K\sum_{k=1}^K\frac{S_k}{N_k}
# =\sum_{k=1}^K\frac{N_\text{tok}}{K\,N_k}\cdot\frac{S_k}{N_\text{tok}}
# \ \ne\ \frac{\sum_k S_k}{N_\text{tok}}\quad\text{unless all } N_k \text{ are equal}:
# $$
#
# the tokens of a micro-batch with few tokens are up-weighted by $N_\text{tok}/(K N_k)$. The
# correct loop counts the tokens of the whole batch *before* the first backward pass and
# backpropagates
#
# $$
# \mathcal L_k=\frac{S_k}{N_\text{tok}},\qquad
# \sum_{k=1}^K\nabla_\theta\mathcal L_k=\nabla_\theta\frac{\sum_k S_k}{N_\text{tok}} ,
# $$ (sft-accumulation)
#
# since gradients of a sum add up. Data parallelism has the same trap across devices (each
# device's token count differs), with the same fix: all-reduce the token count. For the
# mean of per-sequence means {eq}`sft-sequence-mean`, averaging micro-batch values is correct
# as long as every micro-batch holds the same number of sequences.

# %% [markdown]
# ## Implementation from scratch
#
# ### Labels: concatenate, shift by one, mask
#
# `sft_tokens` builds $s=[x;y]$ and marks which tokens' predictions count, for prompts and
# responses of fixed lengths (the sort task). `pad_batch` does the same for pairs of any
# lengths, right-padded; with a causal model, padding after a sequence cannot change the
# logits of the positions before it. `next_token_labels` implements {eq}`sft-labels`.

# %%
IGNORE_INDEX = -100  # PyTorch's default ignore_index


def sft_tokens(
    prompts: torch.Tensor, responses: torch.Tensor, *, mask_prompt: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sequences [x; y] (B, P + T) and a bool mask (B, P + T) of the tokens whose
    prediction counts: the response tokens, or every token when `mask_prompt` is False."""
    tokens = torch.cat([prompts, responses], dim=1)  # (B, P + T)
    counted = torch.ones_like(tokens, dtype=torch.bool)  # (B, P + T)
    if mask_prompt:
        counted[:, : prompts.shape[1]] = False
    return tokens, counted


def pad_batch(
    pairs: list[tuple[list[int], list[int]]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (prompt, response) token lists of different lengths.

    Returns the tokens (B, N_max) and the bool mask (B, N_max) of response tokens."""
    width = max(len(prompt) + len(response) for prompt, response in pairs)
    tokens = torch.full((len(pairs), width), pad_id, dtype=torch.long)  # (B, N_max)
    counted = torch.zeros((len(pairs), width), dtype=torch.bool)  # (B, N_max)
    for b, (prompt, response) in enumerate(pairs):
        end = len(prompt) + len(response)
        tokens[b, :end] = torch.tensor(prompt + response)
        counted[b, len(prompt) : end] = True
    return tokens, counted


def next_token_labels(
    tokens: torch.Tensor, counted: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, N - 1) and labels (B, N - 1), eq. (sft-labels): position i reads tokens
    0..i and is labelled with token i + 1, or with -100 where that token does not count."""
    inputs = tokens[:, :-1]  # (B, N - 1)
    labels = tokens[:, 1:].masked_fill(~counted[:, 1:], IGNORE_INDEX)  # (B, N - 1)
    return inputs, labels


# %% [markdown]
# ### The masked loss from per-token log-probabilities
#
# `label_logprobs` takes $\log\operatorname{softmax}(z_i)_{\ell_i}$ at every position and sets
# it to zero where the label is −100 (`torch.where`, not a multiplication, so that an
# infinite log-probability at an ignored position cannot turn into NaN). `reduce_nll` applies
# one of the conventions {eq}`sft-token-mean`–{eq}`sft-sequence-mean`, or the plain sum that
# gradient accumulation needs.


# %%
def label_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log softmax(logits)[label] (B, N), zero where the label is ignored, and the bool mask
    (B, N) of counted positions."""
    counted = labels != IGNORE_INDEX  # (B, N)
    safe_labels = labels.masked_fill(~counted, 0)  # any valid id; the value is discarded
    logp = logits.log_softmax(dim=-1).gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1)
    return torch.where(counted, logp, torch.zeros_like(logp)), counted  # (B, N), (B, N)


def reduce_nll(
    nll: torch.Tensor,
    counted: torch.Tensor,
    reduction: Literal["token_mean", "sequence_sum", "sequence_mean", "sum"] = "token_mean",
) -> torch.Tensor:
    """Reduce per-token losses (B, N), zero where not counted, to a scalar."""
    tokens_per_sequence = counted.sum(dim=1)  # (B,): n_b
    per_sequence_sum = nll.sum(dim=1)  # (B,)
    if reduction == "sum":
        return per_sequence_sum.sum()
    if reduction == "token_mean":  # eq. (sft-token-mean)
        if int(tokens_per_sequence.sum()) == 0:
            raise ValueError("no counted token in the batch: the token mean is 0/0")
        return per_sequence_sum.sum() / tokens_per_sequence.sum()
    if reduction == "sequence_sum":  # eq. (sft-sequence-sum)
        return per_sequence_sum.mean()
    if reduction == "sequence_mean":  # eq. (sft-sequence-mean)
        if bool((tokens_per_sequence == 0).any()):
            raise ValueError("a sequence has no counted token: its mean is 0/0")
        return (per_sequence_sum / tokens_per_sequence).mean()
    raise ValueError(f"unknown reduction {reduction!r}")


def masked_nll(
    logits: torch.Tensor,
    labels: torch.Tensor,
    reduction: Literal["token_mean", "sequence_sum", "sequence_mean", "sum"] = "token_mean",
) -> torch.Tensor:
    """Cross-entropy of logits (B, N, V) against labels (B, N) with -100 ignored,
    eq. (sft-masked-mean) for the default reduction."""
    logp, counted = label_logprobs(logits, labels)
    return reduce_nll(-logp, counted, reduction)


def sft_loss_from_scratch(
    model: torch.nn.Module,
    prompts: torch.Tensor,
    responses: torch.Tensor,
    *,
    mask_prompt: bool = True,
    reduction: Literal["token_mean", "sequence_sum", "sequence_mean", "sum"] = "token_mean",
) -> torch.Tensor:
    """The SFT loss of a batch of prompts (B, P) and responses (B, T), eq. (sft-objective)
    with the labels of eq. (sft-labels)."""
    tokens, counted = sft_tokens(prompts, responses, mask_prompt=mask_prompt)
    inputs, labels = next_token_labels(tokens, counted)  # (B, P + T - 1) each
    logits, _ = model(inputs)  # (B, P + T - 1, V)
    return masked_nll(logits, labels, reduction)


# %% [markdown]
# ### Gradient accumulation
#
# `accumulate_gradients` runs the micro-batches one after the other and returns the summed
# gradient, flattened. `"micro_batch"` is the common loop (each micro-batch's token mean,
# divided by $K$); `"whole_batch"` is {eq}`sft-accumulation`.


# %%
def flat_gradient(model: torch.nn.Module) -> torch.Tensor:
    """All parameter gradients of `model`, concatenated into one vector (n_params,)."""
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def accumulate_gradients(
    model: torch.nn.Module,
    micro_batches: list[tuple[torch.Tensor, torch.Tensor]],
    normalise_by: Literal["micro_batch", "whole_batch"],
) -> torch.Tensor:
    """The gradient summed over micro-batches of (inputs, labels), flattened (n_params,)."""
    model.zero_grad(set_to_none=True)
    # Counted before the first backward pass: the denominator of eq. (sft-accumulation).
    batch_tokens = sum(int((labels != IGNORE_INDEX).sum()) for _, labels in micro_batches)
    for inputs, labels in micro_batches:
        logits, _ = model(inputs)  # (b, N, V)
        if normalise_by == "micro_batch":
            loss = masked_nll(logits, labels, "token_mean") / len(micro_batches)
        else:
            loss = masked_nll(logits, labels, "sum") / batch_tokens  # eq. (sft-accumulation)
        loss.backward()
    return flat_gradient(model)


# %% [markdown]
# ## Verification
#
# ### The errata's numbers
#
# Three positions with logits $[2,.5,.1]$, $[.3,1.5,.2]$, $[.1,.2,3]$ and labels
# $[-100,1,2]$. The first position is ignored, so the loss is the mean of the other two,
# $\tfrac12\big[(\log\sum_j e^{z_{2j}}-1.5)+(\log\sum_j e^{z_{3j}}-3)\big]=0.281524$; a mean
# over all three positions (counting the ignored one as zero) would give two thirds of it.
# A target token whose probability is $0.25$ contributes $-\ln 0.25=\ln 4=1.386294$.

# %%
errata_logits = torch.tensor([[2, 0.5, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 3]], dtype=torch.float64)
errata_labels = torch.tensor([IGNORE_INDEX, 1, 2])
ours = masked_nll(errata_logits[None], errata_labels[None])  # add the batch axis: (1, 3, 3)
by_hand = (
    (errata_logits[1].exp().sum().log() - 1.5) + (errata_logits[2].exp().sum().log() - 3)
) / 2
check_close("masked loss vs the errata's 0.281524", ours, 0.281524, atol=5e-7)
check_close("masked loss vs the mean of the two counted terms", ours, by_hand, atol=1e-15)
check_close(
    "masked loss vs F.cross_entropy(ignore_index=-100)",
    ours,
    F.cross_entropy(errata_logits, errata_labels, ignore_index=IGNORE_INDEX),
    atol=1e-15,
)
quarter_logits = torch.tensor([[[0.0, math.log(2.0), 0.0]]], dtype=torch.float64)  # p = ¼, ½, ¼
check_close(
    "a target with p = 0.25 contributes ln 4",
    masked_nll(quarter_logits, torch.tensor([[0]])),
    math.log(4),
    atol=1e-15,
)
print(f"loss {ours.item():.6f}; counting the ignored position as zero: {2 * ours.item() / 3:.6f}")

# %% [markdown]
# ### Against `F.cross_entropy`, the shared `sft_loss`, and the chain rule
#
# A random GPT of the book (`notebook_utils.gpt`, the 2-layer model the sort task uses) in
# float64, and a batch of sort prompts with random (not necessarily correct) responses. Three
# references for the from-scratch loss:
#
# 1. `F.cross_entropy(ignore_index=-100)` on the same logits and labels, with the prompt
#    masked and without;
# 2. the shared `notebook_utils.rl.sft_loss`, and its parameter gradients: **later chapters
#    use the shared function**, so it must be the loss derived here;
# 3. the chain rule {eq}`sft-chain-rule` computed the slow way: one forward pass per response
#    token on the prefix $[x;y_{<t}]$ alone, which checks the shift by one without using it.

# %%
task = SortTask(length=4)  # 4 digits in 0..9, then the separator token 10; 9 tokens in all
verify_model = GPT(task.model_config()).double()
verify_prompts, _ = task.batch(8, torch.Generator().manual_seed(1))  # (8, 5)
verify_responses = torch.randint(0, task.vocab_size, (8, task.length))  # (8, 4)

for mask_prompt in (True, False):
    tokens, counted = sft_tokens(verify_prompts, verify_responses, mask_prompt=mask_prompt)
    inputs, labels = next_token_labels(tokens, counted)  # (8, 8) each
    logits, _ = verify_model(inputs)  # (8, 8, 11)
    reference = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
    what = "prompt masked" if mask_prompt else "all tokens"
    check_close(
        f"{what}: from scratch vs F.cross_entropy",
        masked_nll(logits, labels),
        reference,
        atol=1e-14,
    )

# %%
ours = sft_loss_from_scratch(verify_model, verify_prompts, verify_responses)
ours_grad = torch.autograd.grad(ours, list(verify_model.parameters()))
shared = sft_loss(verify_model, verify_prompts, verify_responses)
shared_grad = torch.autograd.grad(shared, list(verify_model.parameters()))
check_close("from scratch vs notebook_utils.rl.sft_loss", ours, shared, atol=1e-14)
check_close(
    "their parameter gradients",
    torch.cat([g.flatten() for g in ours_grad]),
    torch.cat([g.flatten() for g in shared_grad]),
    atol=1e-14,
)

# %%
with torch.no_grad():
    chain_rule_terms = []
    for t in range(task.length):
        prefix = torch.cat([verify_prompts, verify_responses[:, :t]], dim=1)  # (8, P + t)
        last_logits = verify_model(prefix)[0][:, -1]  # (8, V): predicts y_t from x, y_<t
        chain_rule_terms.append(
            last_logits.log_softmax(-1).gather(1, verify_responses[:, t : t + 1])
        )
    chain_rule_loss = -torch.cat(chain_rule_terms, dim=1).mean()  # eq. (sft-chain-rule), averaged
check_close("one pass with shifted labels vs one pass per token", ours, chain_rule_loss, atol=1e-14)

# %% [markdown]
# ### Zero gradient at prompt positions
#
# Logits as a leaf tensor, so that autograd returns $\partial\mathcal L/\partial z_i$ directly.
# The gradient must match the closed form {eq}`sft-grad` at every position, and be *exactly*
# zero (not just small) at the prompt positions.

# %%
tokens, counted = sft_tokens(verify_prompts, verify_responses)
_, labels = next_token_labels(tokens, counted)  # (8, 8): the first P - 1 = 4 labels are -100
leaf_logits = torch.randn(
    8, labels.shape[1], task.vocab_size, dtype=torch.float64, requires_grad=True
)  # (B, N - 1, V)
(logit_grad,) = torch.autograd.grad(masked_nll(leaf_logits, labels), leaf_logits)
counted_labels = labels != IGNORE_INDEX  # (B, N - 1)
one_hot = F.one_hot(labels.clamp(min=0), task.vocab_size).double()  # (B, N - 1, V)
closed_form = (leaf_logits.softmax(-1) - one_hot) * counted_labels[..., None] / counted_labels.sum()
check_close("∂L/∂z: autograd vs eq. (sft-grad)", logit_grad, closed_form.detach(), atol=1e-15)
n_prompt_labels = task.prompt_length - 1
check_equal(
    "∂L/∂z at the prompt positions is exactly 0",
    logit_grad[:, :n_prompt_labels],
    torch.zeros_like(logit_grad[:, :n_prompt_labels]),
)

# %% [markdown]
# ### Normalisation conventions on responses of different lengths
#
# A hand-made batch of four sort examples with prompts of 1 to 6 digits and responses of the
# same lengths, right-padded with a padding token (id 11). The model is a random one-layer
# GPT whose embeddings are drawn with standard deviation 0.5 instead of GPT-2's 0.02: at the
# usual initialisation every per-token loss is close to $\ln V$ and the three conventions
# would nearly coincide.

# %%
SEP, PAD = 10, 11
handmade_pairs = [
    ([3, 1, SEP], [1, 3]),
    ([2, SEP], [2]),
    ([5, 0, 4, 1, SEP], [0, 1, 4, 5]),
    ([7, 2, 9, 2, 5, 1, SEP], [1, 2, 2, 5, 7, 9]),
]
handmade_tokens, handmade_counted = pad_batch(handmade_pairs, pad_id=PAD)  # (4, 13) each
handmade_inputs, handmade_labels = next_token_labels(handmade_tokens, handmade_counted)
torch.manual_seed(0)
small_model = GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, d_model=16))
small_model = small_model.double()
torch.nn.init.normal_(small_model.tok_emb.weight, std=0.5)  # tied head: varied logits
print(handmade_labels)

# %%
with torch.no_grad():
    handmade_logits, _ = small_model(handmade_inputs)  # (4, 12, 12)
    logp, counted_here = label_logprobs(handmade_logits, handmade_labels)
    conventions = {
        name: reduce_nll(-logp, counted_here, name).item()
        for name in ("token_mean", "sequence_sum", "sequence_mean")
    }
# independent reference: Python loops over the sequences, one cross-entropy each
per_sequence_losses = []
for b in range(len(handmade_pairs)):
    rows = handmade_counted[b, 1:]  # positions whose label is a response token
    per_sequence_losses.append(
        F.cross_entropy(handmade_logits[b][rows], handmade_labels[b][rows], reduction="none")
    )
lengths = np.array([len(response) for _, response in handmade_pairs])
sums = np.array([losses.sum().item() for losses in per_sequence_losses])
loop_reference = {
    "token_mean": sums.sum() / lengths.sum(),
    "sequence_sum": sums.mean(),
    "sequence_mean": (sums / lengths).mean(),
}
for name, value in conventions.items():
    check_close(
        f"{name}: reduce_nll vs a loop over sequences", value, loop_reference[name], atol=1e-12
    )
check_close(
    "token mean vs F.cross_entropy(ignore_index=-100) on the padded batch",
    conventions["token_mean"],
    F.cross_entropy(handmade_logits.flatten(0, 1), handmade_labels.flatten()).item(),
    atol=1e-12,
)

# %% [markdown]
# Padding is masked, and with right padding it cannot leak into earlier positions: replacing
# every padding token by random digits must leave the loss unchanged, to the last bit.

# %%
scrambled = handmade_inputs.clone()
pad_positions = scrambled == PAD
scrambled[pad_positions] = torch.randint(0, 10, (int(pad_positions.sum()),))
with torch.no_grad():
    scrambled_loss = masked_nll(small_model(scrambled)[0], handmade_labels)
check_equal(
    "loss with the padding replaced by random tokens",
    scrambled_loss.item(),
    conventions["token_mean"],
)

# %% [markdown]
# Each sequence's share of the total weight is $n_b/N_\text{tok}$ under the token mean and
# $1/B$ under the mean of per-sequence means; the per-sequence sum gives it $n_b/B$ (shares
# of a total that is not 1, since the loss's scale grows with length):

# %%
print("sequence  n_b  mean loss  weight: token mean  seq. mean  seq. sum")
for b, n_b in enumerate(lengths):
    print(
        f"{b:8d} {n_b:4d} {sums[b] / n_b:10.3f} {n_b / lengths.sum():19.3f} "
        f"{1 / len(lengths):10.3f} {n_b / len(lengths):9.3f}"
    )
print(
    "token mean {token_mean:.4f}, per-sequence sum {sequence_sum:.4f}, "
    "mean of per-sequence means {sequence_mean:.4f}".format(**conventions)
)
check_true(
    "the conventions differ on variable lengths",
    abs(conventions["token_mean"] - conventions["sequence_mean"]) > 0.01,
    f"|token mean − sequence mean| = "
    f"{abs(conventions['token_mean'] - conventions['sequence_mean']):.4f}",
)

# %% [markdown]
# The long fourth response carries almost half of the token-mean weight but a quarter of the
# sequence-mean weight; the one-token second response is the other way round.
#
# ### Gradient accumulation
#
# Split the same batch into two micro-batches of two sequences each: the two short responses
# (3 counted tokens) and the two long ones (10 tokens). The accumulated gradient must equal
# the full-batch gradient of the token mean when each micro-batch's sum is divided by the
# batch's 13 tokens {eq}`sft-accumulation`, and differ when micro-batch means are averaged.

# %%
micro_batches = [
    (handmade_inputs[:2], handmade_labels[:2]),
    (handmade_inputs[2:], handmade_labels[2:]),
]
small_model.zero_grad(set_to_none=True)
full_loss = masked_nll(small_model(handmade_inputs)[0], handmade_labels)
full_loss.backward()
full_gradient = flat_gradient(small_model).clone()
correct_gradient = accumulate_gradients(small_model, micro_batches, "whole_batch")
naive_gradient = accumulate_gradients(small_model, micro_batches, "micro_batch")
check_close(
    "accumulated (÷ whole-batch tokens) vs full-batch gradient",
    correct_gradient,
    full_gradient,
    atol=1e-12,
)
naive_error = ((naive_gradient - full_gradient).norm() / full_gradient.norm()).item()
check_true(
    "averaging micro-batch means changes the gradient",
    naive_error > 0.05,
    f"relative error {naive_error:.1%}",
)
with torch.no_grad():
    micro_means = [masked_nll(small_model(i)[0], lab).item() for i, lab in micro_batches]
print(
    f"micro-batch means {micro_means[0]:.4f} (3 tokens) and {micro_means[1]:.4f} (10 tokens): "
    f"their average {np.mean(micro_means):.4f} vs the full-batch token mean {full_loss.item():.4f}"
)

# %% [markdown]
# ## Experiments
#
# ### 1. Prompt masked vs loss on all tokens
#
# The shared 2-layer, 4-head, $d=64$ GPT learns the sort task with `SortTask(length=4)`
# (4 digits, chosen over the default 6 so that six training runs fit the time budget), from
# random weights, for 100 steps of 32 fresh examples each, with the optimiser settings of the
# shared `train_sft` (AdamW, learning rate $3\cdot10^{-3}$, no weight decay; the batch is 32
# instead of its default 64). The two arms differ only in the labels: prompt masked
# {eq}`sft-labels`, or every next token counted {eq}`sft-joint`.
# Both log the loss on prompt positions and on response positions of each training batch
# (from the same forward pass, whether or not it is trained), and the *true objective*, the
# greedy exact match on 500 held-out prompts drawn with a separate generator, every 10 steps.
# Three seeds per arm; the model starts from the same weights in both arms for a given seed.
# The model has about 0.1 M parameters and runs on the CPU, where it is fastest.


# %%
def train_sort_sft(
    task: SortTask,
    *,
    mask_prompt: bool,
    seed: int,
    steps: int,
    eval_prompts: torch.Tensor,
    eval_every: int,
    batch_size: int = 32,
    lr: float = 3e-3,
) -> tuple[GPT, dict[str, np.ndarray]]:
    """Train the task's default GPT with the from-scratch SFT loss; log the prompt and
    response losses of each batch and the held-out greedy exact match."""
    torch.manual_seed(seed)
    model = GPT(task.model_config())
    generator = torch.Generator().manual_seed(1000 + seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    n_prompt_labels = task.prompt_length - 1
    log: dict[str, list[float]] = {"prompt_nll": [], "response_nll": [], "exact_match": []}
    log["exact_match"].append(greedy_exact_match(model, task, eval_prompts))
    for step in range(1, steps + 1):
        tokens, counted = sft_tokens(*task.batch(batch_size, generator), mask_prompt=mask_prompt)
        inputs, labels = next_token_labels(tokens, counted)
        logits, _ = model(inputs)  # (B, P + T - 1, V)
        loss = masked_nll(logits, labels)  # eq. (sft-masked-mean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # every position's loss, counted in the objective or not
            all_logp, _ = label_logprobs(logits, tokens[:, 1:])  # (B, P + T - 1)
        log["prompt_nll"].append(-all_logp[:, :n_prompt_labels].mean().item())
        log["response_nll"].append(-all_logp[:, n_prompt_labels:].mean().item())
        if step % eval_every == 0:
            log["exact_match"].append(greedy_exact_match(model, task, eval_prompts))
    return model, {name: np.array(values) for name, values in log.items()}


# %%
STEPS, EVAL_EVERY, SEEDS = 100, 10, (0, 1, 2)
eval_prompts = task.prompts(500, torch.Generator().manual_seed(2024))  # held out: own generator
ARMS = {"prompt masked": True, "loss on all tokens": False}
runs: dict[str, list[dict[str, np.ndarray]]] = {arm: [] for arm in ARMS}
models: dict[str, list[GPT]] = {arm: [] for arm in ARMS}
for arm, mask_prompt in ARMS.items():
    for seed in SEEDS:
        model, log = train_sort_sft(
            task,
            mask_prompt=mask_prompt,
            seed=seed,
            steps=STEPS,
            eval_prompts=eval_prompts,
            eval_every=EVAL_EVERY,
        )
        runs[arm].append(log)
        models[arm].append(model)
print(f"{count_parameters(models['prompt masked'][0]):,} parameters")
print(f"CPU time so far {time.process_time() - cpu_start:.1f} s")

# %%
eval_steps = np.arange(0, STEPS + 1, EVAL_EVERY)
exact = {
    arm: np.stack([log["exact_match"] for log in logs]) for arm, logs in runs.items()
}  # (3, 11)
mean_exact = {arm: values.mean(axis=0) for arm, values in exact.items()}  # (11,)
for arm, values in exact.items():
    print(
        f"{arm:>18}: exact match before {values[:, 0].mean():.3f} "
        f"→ after {values[:, -1].mean():.3f} "
        f"(seeds: {', '.join(f'{v:.3f}' for v in values[:, -1])})"
    )
    check_true(
        f"{arm}: training improves the held-out exact match",
        bool(values[:, -1].min() > values[:, 0].max() + 0.5),
        f"worst seed after {values[:, -1].min():.3f} vs best seed before {values[:, 0].max():.3f}",
    )
gap = mean_exact["prompt masked"] - mean_exact["loss on all tokens"]  # (11,)
largest = int(np.argmax(gap))
print("exact match at step    " + " ".join(f"{s:5d}" for s in eval_steps))
for arm in ARMS:
    print(f"{arm:>22} " + " ".join(f"{v:5.2f}" for v in mean_exact[arm]))
print(f"largest gap {gap[largest]:.3f} at step {eval_steps[largest]}; gap at the end {gap[-1]:.3f}")

# %% [markdown]
# The claims of the Short answer, checked on these runs: masking is ahead on average over the
# whole run *and* in every seed, and the gap is largest early and shrinks by the end.

# %%
area = {arm: values[:, 1:].mean(axis=1) for arm, values in exact.items()}  # (3,) mean over evals
check_true(
    "masked prompt: higher mean exact match over the run, in every seed",
    bool(np.all(area["prompt masked"] > area["loss on all tokens"])),
    ", ".join(
        f"seed {s}: {a:.3f} vs {b:.3f}"
        for s, a, b in zip(SEEDS, area["prompt masked"], area["loss on all tokens"], strict=True)
    ),
)
check_true(
    "the gap is largest before the end and shrinks",
    bool(gap[-1] < gap[largest]),
    f"{gap[largest]:.3f} at step {eval_steps[largest]} → {gap[-1]:.3f} at step {STEPS}",
)

# %% [markdown]
# ### 2. The prompt loss sits at its floor; the masked model's does not
#
# {eq}`sft-prompt-floor` for $L=4$, $n=10$ gives $\tfrac34\ln 10=1.727$ nats per prompt label.
# Both trained models (seed 0) are scored on 2000 fresh prompts, with their correct responses,
# at every position. The arm trained on all tokens should be at the floor (not below it, up to
# sampling error); the masked arm was never asked to predict the prompt, so its prompt loss can
# be anything.

# %%
prompt_floor = (task.length - 1) / task.length * math.log(task.n_digits)  # eq. (sft-prompt-floor)
score_prompts, score_responses = task.batch(2000, torch.Generator().manual_seed(7))
n_prompt_labels = task.prompt_length - 1
final_nll = {}
for arm in ARMS:
    tokens, _ = sft_tokens(score_prompts, score_responses)
    with torch.no_grad():
        logits, _ = models[arm][0](tokens[:, :-1])
        logp, _ = label_logprobs(logits, tokens[:, 1:])  # (2000, 8): every position counted
    final_nll[arm] = -logp.mean(dim=0)  # (8,): per position
prompt_nll_end = {arm: nll[:n_prompt_labels].mean().item() for arm, nll in final_nll.items()}
print(
    "mean loss per position (nats); positions 1-3 predict digits 2-4, 4 the separator, 5-8 "
    "the response"
)
for arm, nll in final_nll.items():
    print(f"{arm:>18}: " + " ".join(f"{v:6.3f}" for v in nll))
print(
    f"floor of the prompt loss {prompt_floor:.3f}, ln 10 = {math.log(10):.3f}, "
    f"ln 11 = {math.log(task.vocab_size):.3f}"
)
all_tokens_excess = prompt_nll_end["loss on all tokens"] - prompt_floor
check_true(
    "loss on all tokens: prompt loss within 0.05 nats of its floor, not below",
    bool(-0.01 < all_tokens_excess < 0.05),
    f"{prompt_nll_end['loss on all tokens']:.4f} "
    f"vs floor {prompt_floor:.4f} (excess {all_tokens_excess:+.4f})",
)
check_true(
    "prompt masked: the untrained prompt predictions drift above ln V",
    prompt_nll_end["prompt masked"] > math.log(task.vocab_size),
    f"{prompt_nll_end['prompt masked']:.3f} > ln 11 = {math.log(task.vocab_size):.3f}",
)

# %% [markdown]
# The figure: held-out exact match (left), the response loss of the training batches
# (middle) and their prompt loss (right), thin lines per seed and thick lines for the mean.


# %%
def smooth(values: np.ndarray, window: int = 5) -> np.ndarray:
    """Moving average over the last axis (the first window - 1 steps average fewer values)."""
    cumulative = np.cumsum(values, axis=-1)
    shifted = np.concatenate(
        [np.zeros_like(cumulative[..., :window]), cumulative[..., :-window]], axis=-1
    )
    counts = np.minimum(np.arange(1, values.shape[-1] + 1), window)
    return (cumulative - shifted) / counts


colours = {"prompt masked": PALETTE[0], "loss on all tokens": PALETTE[1]}
steps_axis = np.arange(1, STEPS + 1)
fig, (ax_exact, ax_response, ax_prompt) = plt.subplots(1, 3, figsize=(14, 4.3))
for arm, logs in runs.items():
    for seed_exact in exact[arm]:
        ax_exact.plot(eval_steps, seed_exact, color=colours[arm], lw=0.8, alpha=0.4)
    ax_exact.plot(eval_steps, mean_exact[arm], color=colours[arm], lw=2.2, label=arm)
    for key, ax in (("response_nll", ax_response), ("prompt_nll", ax_prompt)):
        curves = smooth(np.stack([log[key] for log in logs]))  # (3, STEPS)
        for curve in curves:
            ax.plot(steps_axis, curve, color=colours[arm], lw=0.8, alpha=0.4)
        ax.plot(steps_axis, curves.mean(0), color=colours[arm], lw=2.2, label=arm)
ax_prompt.axhline(
    prompt_floor,
    color="k",
    ls=":",
    lw=1.2,
    label=rf"floor $\frac{{3}}{{4}}\ln 10={prompt_floor:.3f}$",
)
ax_prompt.axhline(math.log(task.vocab_size), color="grey", ls="--", lw=1, label=r"$\ln 11$ (init)")
ax_exact.set(
    xlabel="training step",
    ylabel="greedy exact match (500 held-out prompts)",
    title="The true objective",
    ylim=(0, 1),
)
ax_response.set(
    xlabel="training step",
    ylabel="response loss (nats/token, 5-step mean)",
    title="Loss on response tokens",
    yscale="log",
)
ax_prompt.set(
    xlabel="training step",
    ylabel="prompt loss (nats/token, 5-step mean)",
    title="Loss on prompt tokens",
    ylim=(0, 9),
)
for ax in (ax_exact, ax_response, ax_prompt):
    ax.legend(fontsize=8)
fig.suptitle(
    f"Masking the prompt: exact match {mean_exact['prompt masked'][largest]:.0%} vs "
    f"{mean_exact['loss on all tokens'][largest]:.0%} at step {eval_steps[largest]}, "
    f"{mean_exact['prompt masked'][-1]:.0%} vs {mean_exact['loss on all tokens'][-1]:.0%} at step "
    f"{STEPS}; a trained prompt loss stops at its floor, a masked one drifts up"
)
plt.show()

# %% [markdown]
# Reading the runs (the numbers are printed above):
#
# - Both arms learn the task: exact match goes from zero to most of the held-out prompts in
#   100 steps. The true objective is what separates them, and at equal steps the masked arm is
#   ahead in every seed, most of all in the first half of the run; by step 100 the gap has
#   shrunk. This is one toy task with three seeds and one learning rate: the measurement says
#   that here, the prompt loss costs speed; it does not say by how much on real data.
# - The right panel is the floor {eq}`sft-prompt-floor` at work. The arm trained on all tokens
#   drops early in the run from $\ln 11$ to the floor and stays there: the half of its
#   objective that the prompt makes up has nothing left to learn. The masked arm's prompt loss
#   climbs far above $\ln 11$: masked positions are not held in place, and since they share
#   weights with the response positions, they drift toward whatever helps the response
#   (a model fine-tuned this way is no longer a language model of its prompts).
# - Why does a term with nothing left to learn slow the response down? Not by halving the
#   weight of the response tokens: here prompt and response have 4 labels each, so the
#   all-token mean is $\tfrac12$(prompt mean + response mean), and AdamW's step is unchanged
#   (up to its $\epsilon$) when the whole loss is multiplied by a constant. This arm is the
#   same as training on "response mean + prompt mean". What it adds is the prompt term's own
#   gradient, in the same shared weights and in AdamW's per-parameter normalisation: early on
#   a real signal (the digit distribution and the separator's position, the fast drop in the
#   right panel), later zero in expectation but not in any one batch. Which of the two costs
#   the speed, this chapter does not isolate.
#
# The per-position losses show where the models stand: the prompt digits of the arm trained on
# all tokens near $\ln 10$ and its separator near 0, since the separator's position is fixed;
# the response tokens of both arms lowest at the two ends (the smallest and the largest digit)
# and highest in the middle of the sorted order, checked below.

# %%
for arm, nll in final_nll.items():
    response_nll = nll[n_prompt_labels:]  # (4,): sorted positions 1..4
    ends, middle = response_nll[[0, -1]].mean().item(), response_nll[1:-1].mean().item()
    check_true(
        f"{arm}: middle sorted positions cost more than the two ends",
        middle > ends,
        f"{middle:.3f} vs {ends:.3f} nats",
    )


# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} The chat template at inference differs from the one used in training. What happens?
# The model is conditioned on a prefix it never saw in training, and the response
# distribution it learned applies to a different context. Typical cases: a different role
# header, a missing or extra system prompt, a missing BOS token, or forgetting to append the
# assistant header before generating (Hugging Face's `add_generation_prompt=True`). The cell
# below is the toy version: at inference, the separator that ends every training prompt is
# left out. The masked model, which never learned to predict the separator, fails almost
# always; the model trained on all tokens learned to *write* the separator itself, so the
# sorted digits follow it, one position later. Training on template tokens can make a model
# robust to this particular slip; it does not make a wrong template harmless.
# :::

# %%
no_separator = eval_prompts[:, :-1]  # (500, 4): the template's last token left out
target = task.solve(eval_prompts)  # (500, 4)
for arm in ARMS:
    model = models[arm][0]
    with_separator = greedy_exact_match(model, task, eval_prompts)
    continuation = sample_responses(
        model, no_separator, task.length + 1, temperature=0.0
    )  # (500, 5)
    as_response = (continuation[:, : task.length] == target).all(dim=1).float().mean().item()
    writes_separator = (
        ((continuation[:, 0] == task.sep) & (continuation[:, 1:] == target).all(dim=1))
        .float()
        .mean()
        .item()
    )
    print(
        f"{arm:>18}: exact match {with_separator:.3f} with the separator, {as_response:.3f} "
        f"without it; writes the separator and then the sort: {writes_separator:.3f}"
    )

# %% [markdown]
# :::{dropdown} Packing: what goes wrong when several examples share one row?
# To avoid padding, SFT pipelines often concatenate several examples into one row of the
# context length; Llama 2 did so for its SFT data, with a special token between prompt and
# answer and the loss on prompt tokens zeroed {cite}`touvron2023llama2`. Three things must be
# handled. (1) **Cross-contamination**: with a plain causal mask, the tokens of the second
# example attend to the first; a block-diagonal mask (or variable-length attention kernels
# that take the sequence boundaries) keeps the examples independent and makes packing exactly
# equivalent to padding {cite}`krell2021efficient`. (2) **Positions**: the position ids
# should restart at each example, or the model sees the second example at positions it never
# had in unpacked training. (3) **Labels and normalisation**: the first token of an example
# must not be predicted from the last token of the previous one, and "mean of per-sequence
# means" needs the boundaries to find the sequences; a per-row mean of a packed row is
# neither convention.
# :::
#
# :::{dropdown} Why does my fine-tuned model never stop generating?
# It never learned to emit the end-of-sequence token. The EOS (or end-of-turn) token must be
# appended to every response and **kept in the labels**. A classic bug: the tokenizer has no
# padding token, so it is set to the EOS token, and the collator masks every position whose
# token id equals the padding id, which masks the real EOS too. The cell below builds both
# label sets for the hand-made batch with EOS appended (id 11, also used for padding). The
# sort task avoids the question: its responses have a fixed length.
# :::

# %%
EOS = PAD  # the bug's precondition: padding with the EOS id
pairs_with_eos = [(prompt, [*response, EOS]) for prompt, response in handmade_pairs]
eos_tokens, eos_counted = pad_batch(pairs_with_eos, pad_id=PAD)  # mask by position
_, position_labels = next_token_labels(eos_tokens, eos_counted)
id_labels = eos_tokens[:, 1:].masked_fill(eos_tokens[:, 1:] == PAD, IGNORE_INDEX)  # mask by id
id_labels = id_labels.masked_fill(~eos_counted[:, 1:], IGNORE_INDEX)  # the prompt, as before
check_equal(
    "EOS labels kept when masking by position",
    int((position_labels == EOS).sum()),
    len(pairs_with_eos),
)
check_equal("EOS labels kept when masking by token id", int((id_labels == EOS).sum()), 0)

# %% [markdown]
# :::{dropdown} How many SFT examples do I need, and how long do I train on them?
# Few, if they are good and diverse: LIMA fine-tuned a 65B LLaMA on 1,000 curated examples,
# and human raters judged its responses as good as or better than those of an RLHF-trained
# model (DaVinci003) in most comparisons {cite}`zhou2023lima`. The catch is overfitting.
# LIMA observed that the perplexity on held-out data *rose* with more training while the
# quality of generations (graded by ChatGPT) improved, and chose checkpoints by hand on a
# 50-example development set. InstructGPT's SFT models overfit the validation loss after one
# epoch, yet training for 16 epochs improved the reward-model score and human ratings
# {cite}`ouyang2022training`. So the
# validation loss is a poor stopping rule for SFT; evaluate generations. The cell below shows
# the plain overfitting side on the toy task: the same model trained on 32 fixed examples
# (resampled for 100 steps) instead of fresh ones.
# :::

# %%
small_prompts, small_responses = task.batch(32, torch.Generator().manual_seed(5))


def draw_from_small_set(
    batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch resampled from the 32 fixed demonstrations."""
    index = torch.randint(0, len(small_prompts), (batch_size,), generator=generator)
    return small_prompts[index], small_responses[index]


torch.manual_seed(0)
small_set_model = GPT(task.model_config())
small_set_losses = train_sft(
    small_set_model,
    task,
    steps=STEPS,
    batch_size=32,
    generator=torch.Generator().manual_seed(6),
    data=draw_from_small_set,
)
with torch.no_grad():
    held_out_loss = sft_loss(small_set_model, eval_prompts, task.solve(eval_prompts)).item()
train_exact = greedy_exact_match(small_set_model, task, small_prompts)
held_out_exact = greedy_exact_match(small_set_model, task, eval_prompts)
print(
    f"32 examples: training loss {small_set_losses[-1]:.3f}, held-out loss {held_out_loss:.3f}; "
    f"exact match {train_exact:.3f} on the training prompts, {held_out_exact:.3f} held out "
    f"(fresh data, same steps: {mean_exact['prompt masked'][-1]:.3f})"
)
check_true(
    "32 examples are memorised better than they generalise",
    train_exact > held_out_exact + 0.2,
    f"{train_exact:.3f} vs {held_out_exact:.3f}",
)

# %% [markdown]
# :::{dropdown} "SFT teaches format, not knowledge." True?
# It is a hypothesis with evidence on both sides, so say what is supported. For it: LIMA's
# *superficial alignment hypothesis* (knowledge comes from pre-training; alignment teaches
# the format of interaction) is consistent with 1,000 examples sufficing for style
# {cite}`zhou2023lima`; models fine-tuned to imitate ChatGPT copied its style and convinced
# crowd raters while closing little of the gap on tasks not covered by the imitation data
# {cite}`gudibande2023false`; and in a controlled closed-book QA study, fine-tuning examples
# with facts new to the model were learned more slowly than known ones and, once learned,
# made the model hallucinate more {cite}`gekhman2024does`. Against the strong form: SFT on
# enough targeted data does transfer skills. DeepSeek-R1's reasoning was distilled into
# smaller open models by SFT alone, with large gains on reasoning benchmarks
# {cite}`guo2025deepseekr1`, and this chapter's model learned to sort from random weights by
# SFT and nothing else. A fair summary: a small SFT set mostly changes *how* the model
# answers; teaching new facts by SFT is slow and can hurt factuality; teaching a skill needs
# much more data than teaching a format.
# :::
#
# :::{dropdown} Should the prompt always be masked?
# It is the common default (Llama 2, for one, zeroes the loss on the tokens of the user prompt
# {cite}`touvron2023llama2`), and it trains exactly
# $\log\pi_\theta(y\mid x)$. It is not always better. {cite:t}`shi2024instruction` found that
# a loss on the instruction too helped on many benchmarks, mainly when instructions are long
# and outputs short, or when there are few training examples, and attributed it to less
# overfitting. The toy task here is the worst case for a prompt loss, since its prompts are
# noise with an irreducible floor. Template tokens (role headers) are usually masked in both
# approaches.
# :::
#
# :::{dropdown} What is "exposure bias"?
# Teacher forcing trains every token on the gold prefix; at inference the model conditions on
# its own previous tokens. A mistake puts it in a prefix that never occurred in training,
# where its predictions are less reliable, and errors can compound over a long response. SFT
# does nothing about it. On-policy methods, which train on the model's own samples (PPO,
# GRPO, DPO with sampled pairs), do see such prefixes.
# :::
#
# :::{dropdown} A batch where every label is −100: what does `F.cross_entropy` return?
# `nan`: the mean over zero counted tokens is 0/0, and one such batch poisons the weights
# through the optimiser. It happens when truncation to the context length cuts off the whole
# response of every example in a small batch. Filter such examples, or truncate the prompt
# instead of the response. The from-scratch `reduce_nll` raises an error instead.
# :::

# %%
all_ignored = torch.full((3,), IGNORE_INDEX)
nan_loss = F.cross_entropy(errata_logits, all_ignored, ignore_index=IGNORE_INDEX)
check_true(
    "F.cross_entropy with every label ignored is NaN",
    bool(nan_loss.isnan()),
    f"loss = {nan_loss.item()}",
)

# %% [markdown]
# :::{dropdown} Do I need the per-sequence sum or the token mean for DPO?
# DPO compares whole responses, so it uses $\log\pi_\theta(y\mid x)$, the per-sequence
# **sum** {eq}`sft-chain-rule`, for the chosen and the rejected response; a per-token mean
# would change the objective (some variants normalise by length on purpose). See
# [chapter 02](02_dpo.ipynb).
# :::
#
# ## Check yourself
#
# 1. A batch has two responses: 2 tokens with loss 1.0 each, and 8 tokens with loss 0.5 each.
#    What are the token mean, the per-sequence sum and the mean of per-sequence means?
#
#    :::{dropdown} Answer
#    Token mean $(2\cdot1+8\cdot0.5)/10=0.6$; per-sequence sum $(2+4)/2=3$; mean of
#    per-sequence means $(1+0.5)/2=0.75$. The long response pulls the token mean toward its
#    0.5. The next cell checks it with `reduce_nll`.
#    :::

# %%
exercise_nll = torch.zeros(2, 8)
exercise_nll[0, :2], exercise_nll[1, :] = 1.0, 0.5
exercise_counted = exercise_nll > 0  # (2, 8)
for reduction, expected in (("token_mean", 0.6), ("sequence_sum", 3.0), ("sequence_mean", 0.75)):
    check_close(
        f"exercise 1: {reduction}",
        reduce_nll(exercise_nll, exercise_counted, reduction),
        expected,
        atol=1e-6,
    )

# %% [markdown]
# 2. Gradient accumulation over two micro-batches: one has 10 response tokens and mean loss
#    2.0, the other 30 tokens and mean loss 1.0. What loss does the "average of micro-batch
#    means" loop report, what is the full-batch token mean, and by what factor does the loop
#    over-weight each token of the first micro-batch?
#
#    :::{dropdown} Answer
#    The loop reports $(2+1)/2=1.5$; the token mean is $(10\cdot2+30\cdot1)/40=1.25$. The
#    loop gives each token of the first micro-batch the weight $1/(2\cdot10)=1/20$ instead of
#    $1/40$: twice too much (and those of the second $1/60$, two thirds of the right weight).
#    :::

# %%
micro_counts, micro_means_exercise = np.array([10, 30]), np.array([2.0, 1.0])
check_close("exercise 2: mean of micro-batch means", micro_means_exercise.mean(), 1.5, atol=1e-12)
check_close(
    "exercise 2: full-batch token mean",
    (micro_counts * micro_means_exercise).sum() / micro_counts.sum(),
    1.25,
    atol=1e-12,
)
check_close(
    "exercise 2: over-weighting of the first micro-batch's tokens",
    (1 / (2 * micro_counts[0])) / (1 / micro_counts.sum()),
    2.0,
    atol=1e-12,
)

# %% [markdown]
# 3. For the default `SortTask(length=6)`, what is the lowest possible loss on prompt tokens
#    (per prompt label) and the lowest possible loss when training on all tokens (mean over
#    all 12 labels)?
#
#    :::{dropdown} Answer
#    By {eq}`sft-prompt-floor`, $\tfrac56\ln10=1.919$ per prompt label (5 digits at $\ln 10$,
#    the separator at 0). The response costs 0 at best, so the all-token mean is at least
#    $5\ln10/12=0.959$. The next cell builds the Bayes-optimal predictor (uniform over digits
#    in the prompt, certain of the separator and of the sorted response) and scores it with
#    the from-scratch loss.
#    :::

# %%
task6 = SortTask(length=6)
prompts6, responses6 = task6.batch(64, torch.Generator().manual_seed(3))
tokens6, counted6 = sft_tokens(prompts6, responses6, mask_prompt=False)
inputs6, labels6 = next_token_labels(tokens6, counted6)  # (64, 12)
optimal_logits = torch.full((*labels6.shape, task6.vocab_size), -math.inf, dtype=torch.float64)
optimal_logits[:, : task6.length - 1, : task6.n_digits] = 0.0  # next prompt digit: uniform
certain = slice(task6.length - 1, None)  # the separator and the response: one possible token
optimal_logits[:, certain].scatter_(-1, labels6[:, certain, None], 0.0)  # (64, 7, 11) view
n_prompt6 = task6.prompt_length - 1
optimal_prompt = masked_nll(optimal_logits[:, :n_prompt6], labels6[:, :n_prompt6])
check_close("exercise 3: prompt floor", optimal_prompt, 5 / 6 * math.log(10), atol=1e-12)
optimal_all = masked_nll(optimal_logits, labels6)
check_close("exercise 3: all-token floor", optimal_all, 5 * math.log(10) / 12, atol=1e-12)
print(f"prompt floor {optimal_prompt.item():.4f}, all-token floor {optimal_all.item():.4f}")
print(f"CPU time for the whole notebook {time.process_time() - cpu_start:.1f} s")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`ouyang2022training`: the pipeline (SFT, reward model, PPO), and Section 3.5:
#   SFT for 16 epochs despite overfitting the validation loss after one.
# - {cite:t}`touvron2023llama2`, Section 3.1: SFT data packed with a separator token and the
#   loss on user-prompt tokens zeroed.
# - {cite:t}`zhou2023lima`: 1,000 curated examples, the superficial alignment hypothesis, and
#   the held-out perplexity that rose while generations improved.
# - {cite:t}`shi2024instruction`: when a loss on the instruction tokens helps.
# - {cite:t}`gudibande2023false` (imitation copies style more than capability) and
#   {cite:t}`gekhman2024does` (new facts through fine-tuning are learned slowly and increase
#   hallucination); {cite:t}`guo2025deepseekr1`, the distillation section (skills transferred
#   by SFT).
# - {cite:t}`krell2021efficient`: packing without cross-contamination.
# - {cite:t}`huggingface2024gradaccum`: the gradient-accumulation fix in Hugging Face
#   Transformers (normalising by the token count of the whole batch), the bug this chapter's
#   accumulation check reproduces.
# - {cite:t}`pytorch2025crossentropy`: `ignore_index` and the `"mean"` reduction over
#   non-ignored targets.
# - {cite:t}`rafailov2023direct`: DPO, the next stage, derived in [chapter 02](02_dpo.ipynb);
#   {cite:t}`shao2024deepseekmath`: GRPO, the RL stage with verifiable rewards.

"""Shared pieces of the training chapters (Part IV): a toy task with a verifiable reward,
supervised fine-tuning, rollouts, per-token log-probabilities, KL estimators and the
advantage estimators and preference losses that several chapters reuse.

The toy task is sorting: the prompt is ``length`` random digits followed by a separator
token, and the correct response is the same digits sorted ascending::

    task = SortTask(length=6)
    prompts, responses = task.batch(64, generator)     # (64, 7), (64, 6)
    model = GPT(task.model_config())
    train_sft(model, task, steps=200, generator=generator)
    samples = sample_responses(model, prompts, task.length, generator=generator)
    logp = response_logprobs(model, prompts, samples)  # (64, 6), one log π(y_t | x, y_<t) each
    rewards = task.reward(prompts, samples)            # 1.0 where the sort is exact

Responses have a fixed length (``task.length``), so no padding or end-of-sequence token is
needed: every sequence of a batch has the same prompt length and the same response length.
The log-probability of a whole response is the **sum** of its per-token log-probabilities;
prompt tokens never count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from notebook_utils.gpt import GPT, GPTConfig

__all__ = [
    "SortTask",
    "bradley_terry_loss",
    "clipped_surrogate",
    "dpo_loss",
    "exact_kl",
    "gae",
    "greedy_exact_match",
    "group_advantages",
    "kl_estimates",
    "response_logits",
    "response_logprobs",
    "sample_responses",
    "sft_loss",
    "token_logprobs",
    "train_sft",
]


@dataclass(frozen=True)
class SortTask:
    """Sort ``length`` digits in ``0..n_digits-1``; token ``n_digits`` separates prompt and
    response.

    The reward is verifiable: :meth:`reward` is 1.0 for an exactly sorted copy of the prompt's
    digits and 0.0 otherwise; :meth:`token_accuracy` gives partial credit per position.
    """

    length: int = 6
    n_digits: int = 10

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {self.length}")
        if self.n_digits < 2:
            raise ValueError(f"n_digits must be >= 2, got {self.n_digits}")

    @property
    def sep(self) -> int:
        """The separator token that ends every prompt."""
        return self.n_digits

    @property
    def vocab_size(self) -> int:
        return self.n_digits + 1

    @property
    def prompt_length(self) -> int:
        return self.length + 1

    def prompts(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``batch`` prompts ``(batch, length + 1)``: random digits, then the separator."""
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        digits = torch.randint(0, self.n_digits, (batch, self.length), generator=generator)
        sep = torch.full((batch, 1), self.sep, dtype=torch.long)
        return torch.cat([digits, sep], dim=1)

    def solve(self, prompts: torch.Tensor) -> torch.Tensor:
        """The correct responses ``(B, length)`` for prompts ``(B, length + 1)``."""
        self._check_prompts(prompts)
        return prompts[:, : self.length].sort(dim=1).values

    def batch(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts ``(B, length + 1)`` and their correct responses ``(B, length)``."""
        prompts = self.prompts(batch, generator)
        return prompts, self.solve(prompts)

    def reward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """1.0 where a response is exactly the sorted prompt, else 0.0; shape ``(B,)``."""
        return (responses == self._target(prompts, responses)).all(dim=1).float()

    def token_accuracy(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Fraction of response positions equal to the sorted prompt; shape ``(B,)``."""
        return (responses == self._target(prompts, responses)).float().mean(dim=1)

    def model_config(self, **overrides: object) -> GPTConfig:
        """The book's default policy for this task: 2 layers, 4 heads, d=64, learned
        positions, a block just long enough for prompt + response."""
        kwargs: dict[str, object] = dict(
            vocab_size=self.vocab_size,
            block_size=self.prompt_length + self.length,
            n_layer=2,
            n_head=4,
            d_model=64,
        )
        kwargs.update(overrides)
        return GPTConfig(**kwargs)  # type: ignore[arg-type]

    def _check_prompts(self, prompts: torch.Tensor) -> None:
        if prompts.dim() != 2 or prompts.shape[1] != self.prompt_length:
            raise ValueError(
                f"prompts must have shape (B, {self.prompt_length}), got {tuple(prompts.shape)}"
            )

    def _target(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        target = self.solve(prompts)
        if responses.shape != target.shape:
            raise ValueError(
                f"responses must have shape {tuple(target.shape)}, got {tuple(responses.shape)}"
            )
        return target


def _check_pair(prompts: torch.Tensor, responses: torch.Tensor) -> None:
    if prompts.dim() != 2 or responses.dim() != 2:
        raise ValueError("prompts and responses must be 2-D (batch, tokens)")
    if prompts.shape[0] != responses.shape[0]:
        raise ValueError(f"batch sizes differ: {prompts.shape[0]} vs {responses.shape[0]}")
    if prompts.shape[1] < 1 or responses.shape[1] < 1:
        raise ValueError("prompts and responses need at least one token each")


def response_logits(model: GPT, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Logits ``(B, T, V)`` that predict each response token, from one forward pass.

    Position ``t`` holds the logits of ``π(· | x, y_<t)``: the model reads ``[x, y]`` and the
    prediction for ``y_t`` sits one position before it.
    """
    _check_pair(prompts, responses)
    seq = torch.cat([prompts, responses], dim=1)  # (B, P + T)
    logits: torch.Tensor = model(seq)[0]  # (B, P + T, V)
    p, t = prompts.shape[1], responses.shape[1]
    return logits[:, p - 1 : p - 1 + t]  # (B, T, V)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[..., tokens]``: the log-probability of each token, ``(B, T)``."""
    if logits.shape[:-1] != tokens.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match tokens {tuple(tokens.shape)}")
    return logits.log_softmax(dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def response_logprobs(model: GPT, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Per-token ``log π(y_t | x, y_<t)`` of the responses, ``(B, T)``; sum over ``T`` for
    ``log π(y | x)``. Differentiable; wrap in ``torch.no_grad()`` for frozen models."""
    return token_logprobs(response_logits(model, prompts, responses), responses)


@torch.no_grad()
def sample_responses(
    model: GPT,
    prompts: torch.Tensor,
    n_tokens: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample ``n_tokens`` response tokens per prompt, ``(B, n_tokens)`` (a rollout).

    ``temperature=1`` samples from the policy itself, which is what on-policy estimators
    assume; ``temperature=0`` decodes greedily. The model is put in eval mode for sampling
    and restored afterwards. Log-probabilities are computed separately with
    :func:`response_logprobs`, so that the same function scores samples from any source.
    """
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be >= 1, got {n_tokens}")
    was_training = model.training
    model.eval()
    try:
        out = model.generate(
            prompts, n_tokens, use_cache=True, temperature=temperature, generator=generator
        )
    finally:
        model.train(was_training)
    return out[:, prompts.shape[1] :]


def sft_loss(model: GPT, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Supervised fine-tuning loss: mean cross-entropy over **response** tokens only.

    Prompt positions get the label ``-100`` (PyTorch's ``ignore_index``), so they add
    nothing to the loss or its gradient. Every response has the same length here, so the
    per-token mean equals the mean over sequences of the per-sequence mean.
    """
    _check_pair(prompts, responses)
    seq = torch.cat([prompts, responses], dim=1)  # (B, P + T)
    logits, _ = model(seq[:, :-1])  # (B, P + T - 1, V): position i predicts token i + 1
    labels = seq[:, 1:].clone()  # (B, P + T - 1)
    labels[:, : prompts.shape[1] - 1] = -100  # predictions of prompt tokens do not count
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def train_sft(
    model: GPT,
    task: SortTask,
    *,
    steps: int,
    generator: torch.Generator,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    data: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> list[float]:
    """Train ``model`` with :func:`sft_loss` and AdamW for ``steps`` steps; return the losses.

    Each step draws a fresh batch from ``data(batch_size, generator)`` (default:
    ``task.batch``, i.e. correct demonstrations); pass your own to train on noisy or
    limited data.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    draw = task.batch if data is None else data
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    losses = []
    for _ in range(steps):
        prompts, responses = draw(batch_size, generator)
        loss = sft_loss(model, prompts, responses)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def greedy_exact_match(model: GPT, task: SortTask, prompts: torch.Tensor) -> float:
    """Fraction of ``prompts`` whose greedy response is exactly correct (the true objective)."""
    responses = sample_responses(model, prompts, task.length, temperature=0.0)
    return task.reward(prompts, responses).mean().item()


def kl_estimates(logp: torch.Tensor, ref_logp: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample estimators of ``KL(π || π_ref)`` from tokens sampled from ``π``.

    With ``log_ratio = log π_ref(y) - log π(y)`` (elementwise, same shape as the inputs):

    - ``k1 = -log_ratio``: unbiased, but takes negative values and has high variance;
    - ``k2 = log_ratio² / 2``: biased, low variance, non-negative;
    - ``k3 = exp(log_ratio) - 1 - log_ratio``: unbiased and non-negative (Schulman's k3, the
      GRPO penalty).

    Unbiasedness needs the tokens to be drawn from ``π``, the first argument's policy.
    """
    if logp.shape != ref_logp.shape:
        raise ValueError(f"shapes differ: {tuple(logp.shape)} vs {tuple(ref_logp.shape)}")
    log_ratio = ref_logp - logp
    return {
        "k1": -log_ratio,
        "k2": 0.5 * log_ratio**2,
        "k3": torch.expm1(log_ratio) - log_ratio,
    }


def exact_kl(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(logits) || softmax(ref_logits))`` over the last axis, exactly."""
    if logits.shape != ref_logits.shape:
        raise ValueError(f"shapes differ: {tuple(logits.shape)} vs {tuple(ref_logits.shape)}")
    logp = logits.log_softmax(dim=-1)
    logq = ref_logits.log_softmax(dim=-1)
    return (logp.exp() * (logp - logq)).sum(dim=-1)


def clipped_surrogate(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, eps: float = 0.2
) -> torch.Tensor:
    """PPO's clipped surrogate, elementwise (to be maximised; average it yourself):
    ``min(ρ A, clip(ρ, 1 - eps, 1 + eps) A)`` with ``ρ = exp(logp - old_logp)``."""
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    ratio = torch.exp(logp - old_logp)
    return torch.minimum(ratio * advantages, ratio.clamp(1 - eps, 1 + eps) * advantages)


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    *,
    gamma: float,
    lam: float,
    dones: torch.Tensor | None = None,
    last_value: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over the last axis (time), by the backward recursion
    ``A_t = δ_t + γ λ (1 - done_t) A_{t+1}``, ``δ_t = r_t + γ (1 - done_t) V_{t+1} - V_t``.

    ``rewards``, ``values`` and ``dones`` have shape ``(..., T)``; ``dones[..., t] = 1`` when
    the episode ended at step ``t`` (nothing is bootstrapped across it). ``last_value``
    ``(...)`` is ``V`` of the state after step ``T - 1`` (default 0: the episode ends).

    Returns the advantages and the value targets ``advantages + values``.
    """
    if rewards.shape != values.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} differ")
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must be in [0, 1], got {gamma}, {lam}")
    not_done = torch.ones_like(rewards) if dones is None else 1.0 - dones.to(rewards.dtype)
    next_value = torch.zeros_like(values[..., 0]) if last_value is None else last_value
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(values[..., 0])
    for t in reversed(range(rewards.shape[-1])):
        delta = rewards[..., t] + gamma * not_done[..., t] * next_value - values[..., t]
        running = delta + gamma * lam * not_done[..., t] * running
        advantages[..., t] = running
        next_value = values[..., t]
    return advantages, advantages + values


def group_advantages(
    rewards: torch.Tensor,
    *,
    std: Literal["population", "sample", "none"] = "population",
    eps: float = 1e-6,
) -> torch.Tensor:
    """GRPO's outcome advantages: each reward minus its group's mean, divided by the group's
    standard deviation plus ``eps``. ``rewards`` is ``(n_groups, G)``, one row per prompt.

    ``std="population"`` divides by ``sqrt(mean((r - mean)²))`` (DeepSeekMath's formula),
    ``"sample"`` by the ``G - 1`` version (``torch.std``'s default), and ``"none"`` does not
    divide (Dr. GRPO). A group whose rewards are all equal gets zero advantages.
    """
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (n_groups, G) with G >= 2, got {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if std == "none":
        return centred
    if std not in ("population", "sample"):
        raise ValueError(f"std must be 'population', 'sample' or 'none', got {std!r}")
    scale = rewards.std(dim=1, keepdim=True, correction=0 if std == "population" else 1)
    return centred / (scale + eps)


def bradley_terry_loss(chosen_scores: torch.Tensor, rejected_scores: torch.Tensor) -> torch.Tensor:
    """Reward-model loss ``-mean log σ(r_w - r_l)`` over pairs (Bradley–Terry likelihood).

    ``chosen_scores`` and ``rejected_scores`` have the same shape, one score per pair.
    """
    if chosen_scores.shape != rejected_scores.shape:
        raise ValueError(
            f"shapes differ: {tuple(chosen_scores.shape)} vs {tuple(rejected_scores.shape)}"
        )
    return -F.logsigmoid(chosen_scores - rejected_scores).mean()


def dpo_loss(
    policy_chosen_logp: torch.Tensor,
    policy_rejected_logp: torch.Tensor,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """The DPO loss: the Bradley–Terry loss of the implicit rewards ``β log π_θ(y|x)/π_ref(y|x)``.

    Every argument is a **sequence** log-probability (a sum over response tokens), one per
    pair. At ``π_θ = π_ref`` the loss is ``log 2``.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    chosen = beta * (policy_chosen_logp - ref_chosen_logp)
    rejected = beta * (policy_rejected_logp - ref_rejected_logp)
    return bradley_terry_loss(chosen, rejected)

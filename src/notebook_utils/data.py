"""Synthetic data sets used by more than one chapter.

Everything is generated from an explicit ``numpy.random.Generator`` (or ``torch.Generator``),
never from global state, so a chapter's data are reproducible on their own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["TOKEN_TASKS", "noisy_function_1d", "token_task_batch"]


def noisy_function_1d(
    n: int,
    rng: np.random.Generator,
    *,
    fn: Callable[[np.ndarray], np.ndarray] = lambda x: np.sin(2 * np.pi * x),
    noise_std: float = 0.3,
    x_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points ``y = fn(x) + ε``, ``x ~ U(x_range)``, ``ε ~ N(0, noise_std²)``.

    The true function is known, which is what the bias–variance and over/underfitting
    chapters need: the irreducible error is exactly ``noise_std**2``.

    Returns
    -------
    x, y:
        Arrays of shape ``(n,)``, sorted by ``x``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(f"x_range must be increasing, got {x_range}")
    x = np.sort(rng.uniform(lo, hi, size=n))
    y = fn(x) + rng.normal(0.0, noise_std, size=n)
    if y.shape != x.shape:
        raise ValueError(f"fn must map shape {x.shape} to the same shape, got {y.shape}")
    return x, y


TOKEN_TASKS = ("copy", "reverse", "sort")


def token_task_batch(
    task: str,
    batch: int,
    length: int,
    vocab: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of a toy sequence-transduction task on random digits.

    Tokens ``0..vocab-1`` are the digits. Each source is ``length`` random digits and the
    target is the source copied, reversed, or sorted ascending.

    Returns
    -------
    source, target:
        Long tensors of shape ``(batch, length)``.
    """
    if task not in TOKEN_TASKS:
        raise ValueError(f"task must be one of {TOKEN_TASKS}, got {task!r}")
    for name, value in (("batch", batch), ("length", length)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if vocab < 2:
        raise ValueError(f"vocab must be >= 2, got {vocab}")
    source = torch.randint(0, vocab, (batch, length), generator=generator)  # (B, L)
    if task == "copy":
        target = source.clone()
    elif task == "reverse":
        target = source.flip(-1)
    else:
        target = source.sort(dim=-1).values
    return source, target

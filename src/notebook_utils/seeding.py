"""Seeding of every random number generator a chapter uses, in one call."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything"]

_MAX_SEED = 2**32 - 1


def seed_everything(seed: int = 0, *, deterministic: bool = True) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA).

    Parameters
    ----------
    seed:
        A non-negative integer below ``2**32``.
    deterministic:
        Also ask torch for deterministic kernels (``warn_only``: an operation without a
        deterministic implementation warns instead of failing) and fix cuDNN's choice.

    Returns
    -------
    numpy.random.Generator
        A fresh ``np.random.default_rng(seed)``; chapters should draw from it rather than
        from NumPy's legacy global state.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (``bool`` is refused too).
    ValueError
        If ``seed`` is outside ``[0, 2**32)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global state, for libraries that still use it
    torch.manual_seed(seed)  # seeds CUDA generators too
    os.environ["PYTHONHASHSEED"] = str(seed)  # inherited by subprocesses only
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        # cuBLAS needs this to be deterministic on CUDA >= 10.2.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return np.random.default_rng(seed)

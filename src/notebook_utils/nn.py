"""Small utilities for PyTorch modules used by several chapters.

``count_parameters`` counts what a module learns (each shared tensor once), and
``gradient_norms`` reads the per-layer gradient norms after a backward pass, the quantity
the vanishing/exploding-gradient and residual-network chapters plot::

    loss.backward()
    norms = gradient_norms(model)          # {"layers.0.weight": 3.1e-05, ...}, input side first
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["count_parameters", "gradient_norms"]


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module``.

    A tensor shared by two submodules (a tied embedding and output head) is counted once,
    as ``module.parameters()`` yields it once. With ``trainable_only`` only parameters with
    ``requires_grad`` are counted.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def gradient_norms(
    module: nn.Module, *, weights_only: bool = True, ord: float = 2.0
) -> dict[str, float]:
    """The norm of each parameter's ``.grad``, keyed by parameter name, in registration order.

    Call it after ``loss.backward()``. By default only weight matrices and kernels
    (parameters with at least two dimensions) are reported: biases and norm gains would
    interleave with them and blur the per-layer picture. ``ord`` is the vector norm taken over
    all entries of the gradient (2: the Frobenius norm of a weight matrix).

    Raises
    ------
    ValueError
        If a reported parameter has no gradient (``backward`` not called, or the parameter
        is not used by the loss), so a missing gradient is never plotted as a zero.
    """
    norms: dict[str, float] = {}
    for name, p in module.named_parameters():
        if not p.requires_grad or (weights_only and p.dim() < 2):
            continue
        if p.grad is None:
            raise ValueError(f"parameter {name!r} has no gradient: call backward() first")
        norms[name] = float(torch.linalg.vector_norm(p.grad.detach().double(), ord=ord))
    return norms

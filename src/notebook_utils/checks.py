"""Verification of a from-scratch result against an independent reference.

Every check prints one visible line, so a reader of the executed notebook sees what was
compared and how closely, and raises :class:`VerificationError` when the claim is false,
so that executing the notebook fails::

    ✓ softmax vs torch.softmax: max abs err 5.96e-08 (atol 1e-06, rtol 1e-05), shape (4, 10)

Tolerances are explicit arguments with no defaults: the chapter states the precision it
claims, and the line shows it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = [
    "VerificationError",
    "as_numpy",
    "check_close",
    "check_equal",
    "check_mean_close",
    "check_true",
]


class VerificationError(AssertionError):
    """A from-scratch result disagrees with its reference."""


def as_numpy(x: Any) -> np.ndarray:
    """A float64/int/bool NumPy array from a tensor, array, scalar or nested list.

    Tensors are detached and moved to the CPU; lower-precision floats are widened to
    float64, so that comparing a float32 result with a float64 reference measures the
    float32 error, not a rounding of the comparison itself.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_floating_point() or x.is_complex():
            x = x.to(torch.complex128 if x.is_complex() else torch.float64)
        return np.asarray(x.numpy())
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"cannot compare an object array (from {type(x).__name__})")
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    return arr


def _shape_str(shape: tuple[int, ...]) -> str:
    return "scalar" if shape == () else f"shape {shape}"


def check_close(
    what: str,
    ours: Any,
    reference: Any,
    *,
    atol: float,
    rtol: float = 0.0,
    quiet: bool = False,
) -> None:
    """Assert ``|ours - reference| <= atol + rtol * |reference|`` element-wise.

    Shapes must be equal (no broadcasting: a silent broadcast hides real bugs), and both
    sides must be finite unless they are non-finite at the same places with the same value.

    Parameters
    ----------
    what:
        What is compared, e.g. ``"Adam step 5 vs torch.optim.Adam"``.
    ours, reference:
        Tensors, arrays or scalars.
    atol, rtol:
        Absolute and relative tolerance (non-negative).
    quiet:
        Do not print the line on success (for checks inside loops; print a summary instead).

    Nothing is returned, so that a check at the end of a cell adds no output besides its line.

    Raises
    ------
    VerificationError
        On a shape mismatch, misplaced non-finite values, or an error above tolerance.
    ValueError
        For a negative tolerance or an empty ``what``.
    """
    if not what:
        raise ValueError("say what is compared")
    if atol < 0 or rtol < 0:
        raise ValueError(f"tolerances must be non-negative, got atol={atol}, rtol={rtol}")
    a, b = as_numpy(ours), as_numpy(reference)
    if a.shape != b.shape:
        raise VerificationError(f"✗ {what}: shape {a.shape} != reference shape {b.shape}")
    a_fin, b_fin = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(a_fin, b_fin) or not np.array_equal(a[~a_fin], b[~b_fin]):
        n_bad = int(np.sum(~a_fin)) + int(np.sum(~b_fin))
        raise VerificationError(
            f"✗ {what}: non-finite values differ ({n_bad} non-finite entries in total)"
        )
    err = np.abs(a[a_fin] - b[b_fin])
    max_err = float(err.max()) if err.size else 0.0
    bound = atol + rtol * np.abs(b[b_fin])
    tol_str = f"atol {atol:.0e}" + (f", rtol {rtol:.0e}" if rtol else "")
    if err.size and np.any(err > bound):
        worst = int(np.argmax(err - bound))
        raise VerificationError(
            f"✗ {what}: max abs err {max_err:.3g} exceeds tolerance ({tol_str}); "
            f"{int(np.sum(err > bound))} of {err.size} entries out, worst ours="
            f"{a[a_fin][worst]:.6g} vs ref={b[b_fin][worst]:.6g}"
        )
    if not quiet:
        print(f"✓ {what}: max abs err {max_err:.3g} ({tol_str}), {_shape_str(a.shape)}")


def check_equal(what: str, ours: Any, reference: Any, *, quiet: bool = False) -> None:
    """Assert exact equality (integers, token ids, booleans, shapes), with one visible line."""
    if not what:
        raise ValueError("say what is compared")
    a, b = as_numpy(ours), as_numpy(reference)
    if a.shape != b.shape:
        raise VerificationError(f"✗ {what}: shape {a.shape} != reference shape {b.shape}")
    if not np.array_equal(a, b):
        n_diff = int(np.sum(a != b))
        raise VerificationError(f"✗ {what}: {n_diff} of {a.size} entries differ")
    if not quiet:
        print(f"✓ {what}: identical, {_shape_str(a.shape)}")


def check_true(what: str, condition: bool | np.bool_, detail: str = "") -> None:
    """Assert an invariant that has no reference array (an inequality, a monotone curve).

    ``detail`` should carry the numbers that make the claim, e.g. ``f"{a:.3f} < {b:.3f}"``,
    so the printed line shows the evidence and not only the verdict.
    """
    if not what:
        raise ValueError("say what is checked")
    if not isinstance(condition, bool | np.bool_):
        raise TypeError(f"condition must be a bool, got {type(condition).__name__}")
    suffix = f": {detail}" if detail else ""
    if not condition:
        raise VerificationError(f"✗ {what}{suffix}")
    print(f"✓ {what}{suffix}")


def check_mean_close(
    what: str,
    samples: Any,
    expected: float,
    *,
    z_max: float,
    atol: float = 0.0,
) -> None:
    """Assert that a Monte-Carlo mean agrees with its exact value, within ``z_max`` standard errors.

    ``samples`` are i.i.d. draws of an estimator whose expectation is claimed to be
    ``expected``. The check passes when ``|mean - expected| <= z_max * se + atol`` with
    ``se = std(samples, ddof=1) / sqrt(n)``. With ``z_max = 4`` a true claim fails about
    once in 16,000 runs (normal approximation), while a bias of several standard errors is
    caught. ``atol`` covers a known deterministic error (e.g. float rounding) and is usually 0.

    The line shows the mean, the exact value, the standard error and the z-score::

        ✓ E[dropout(x)] = x: mean 1.0012 vs 1 (se 0.0014, z 0.86 <= 4), n=10000

    Raises
    ------
    VerificationError
        When the z-score exceeds ``z_max`` (after ``atol``), or for fewer than two samples
        or non-finite samples.
    ValueError
        For a non-positive ``z_max``, a negative ``atol`` or an empty ``what``.
    """
    if not what:
        raise ValueError("say what is checked")
    if z_max <= 0 or atol < 0:
        raise ValueError(f"need z_max > 0 and atol >= 0, got z_max={z_max}, atol={atol}")
    x = as_numpy(samples).astype(np.float64).ravel()
    if x.size < 2:
        raise VerificationError(f"✗ {what}: need at least 2 samples, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise VerificationError(f"✗ {what}: {int(np.sum(~np.isfinite(x)))} non-finite samples")
    mean = float(x.mean())
    se = float(x.std(ddof=1) / np.sqrt(x.size))
    gap = max(abs(mean - expected) - atol, 0.0)
    z = gap / se if se > 0 else (0.0 if gap == 0 else np.inf)
    line = (
        f"{what}: mean {mean:.6g} vs {expected:.6g} (se {se:.2g}, z {z:.2f}"
        f"{' <=' if z <= z_max else ' >'} {z_max:g}"
        + (f", atol {atol:.0e}" if atol else "")
        + f"), n={x.size}"
    )
    if z > z_max:
        raise VerificationError(f"✗ {line}")
    print(f"✓ {line}")

"""Timing as the median of repeated runs (with warm-up), and peak memory of one call.

A single timing is noise; every speed claim in the book is a median over ``repeats`` runs
after ``warmup`` runs that are thrown away, reported with its spread (interquartile range).
On CUDA the device is synchronised around each run, because kernel launches return before
the kernels finish.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Timing", "format_bytes", "peak_memory_bytes", "time_call"]


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated runs of one call, in seconds."""

    samples: tuple[float, ...] = field(repr=False)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def iqr(self) -> tuple[float, float]:
        """The 25th and 75th percentiles (equal to the median for fewer than 2 samples)."""
        if len(self.samples) < 2:
            return (self.median, self.median)
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (q[0], q[2])

    @property
    def min(self) -> float:
        return min(self.samples)

    def __str__(self) -> str:
        lo, hi = self.iqr
        return (
            f"median {_fmt_seconds(self.median)} "
            f"(IQR {_fmt_seconds(lo)}–{_fmt_seconds(hi)}, n={len(self.samples)})"
        )


def _fmt_seconds(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.3f} s"


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any],
    *,
    repeats: int = 7,
    warmup: int = 2,
    device: torch.device | str | None = None,
) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` discarded runs.

    Parameters
    ----------
    fn:
        A function of no arguments (wrap arguments in a ``lambda``).
    repeats, warmup:
        Number of timed runs (at least 1) and of discarded runs before them (at least 0).
    device:
        If a CUDA device, the device is synchronised before and after each run.

    Returns
    -------
    Timing
        The samples; ``.median`` and ``.iqr`` summarise them.
    """
    if not callable(fn):
        raise TypeError("fn must be callable")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    dev = None if device is None else torch.device(device)
    for _ in range(warmup):
        fn()
    _sync(dev)
    samples = []
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        fn()
        _sync(dev)
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))


def peak_memory_bytes(fn: Callable[[], Any], *, device: torch.device | str = "cpu") -> int:
    """Peak memory of torch tensors allocated while ``fn()`` runs, above what was live before.

    On CUDA this is ``torch.cuda.max_memory_allocated`` after a reset of the peak counter.
    On CPU, where torch keeps no such counter, it is rebuilt from the torch profiler's memory
    events: each operator's net allocation at its start and each free at its time, summed in
    time order. Temporaries that an operator allocates and frees internally are therefore
    not seen on CPU; tensors that live from one operator to the next are. The tensors that
    ``fn`` returns count (they are live at the end of the call).
    """
    if not callable(fn):
        raise TypeError("fn must be callable")
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        base = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        out = fn()
        torch.cuda.synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev) - base
        del out
        return int(peak)
    if dev.type != "cpu":
        raise ValueError(f"unsupported device type {dev.type!r}; use 'cpu' or 'cuda'")
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    del out
    deltas: list[tuple[float, int]] = []
    for ev in prof.events():
        if ev.name == "[memory]":
            deltas.append((ev.time_range.start, int(ev.cpu_memory_usage)))
        elif ev.self_cpu_memory_usage:
            deltas.append((ev.time_range.start, int(ev.self_cpu_memory_usage)))
    deltas.sort(key=lambda d: d[0])
    live = peak = 0
    for _, delta in deltas:
        live += delta
        peak = max(peak, live)
    return peak


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``: binary units, as memory is sized."""
    if n < 0:
        raise ValueError(f"a byte count cannot be negative, got {n}")
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")

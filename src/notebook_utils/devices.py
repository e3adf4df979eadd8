"""Device choice: CUDA when present, else CPU, so that one notebook runs on both."""

from __future__ import annotations

import platform

import torch

__all__ = ["describe_device", "get_device"]

_KNOWN = ("auto", "cpu", "cuda")


def get_device(prefer: str = "auto") -> torch.device:
    """Return the device a chapter should compute on.

    Parameters
    ----------
    prefer:
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    ValueError
        For an unknown option.
    RuntimeError
        If ``"cuda"`` is asked for and no CUDA device is available.
    """
    if prefer not in _KNOWN:
        raise ValueError(f"prefer must be one of {_KNOWN}, got {prefer!r}")
    if prefer == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if prefer == "cuda":
        raise RuntimeError("CUDA was requested but torch.cuda.is_available() is False")
    return torch.device("cpu")


def describe_device(device: torch.device | str | None = None) -> str:
    """One line naming the hardware and versions, for a chapter's timing sections."""
    dev = get_device() if device is None else torch.device(device)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return f"{name} (CUDA {torch.version.cuda}), torch {torch.__version__}"
    threads = torch.get_num_threads()
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {threads} torch thread(s), torch {torch.__version__}"

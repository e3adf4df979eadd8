import time

import pytest
import torch

from notebook_utils.timing import Timing, format_bytes, peak_memory_bytes, time_call


def test_time_call_counts_repeats_and_warmup() -> None:
    calls = []
    timing = time_call(lambda: calls.append(1), repeats=5, warmup=3)
    assert len(calls) == 8
    assert len(timing.samples) == 5


def test_time_call_measures_sleep() -> None:
    # A lower bound only: sleeping can take longer on a busy machine, never shorter.
    timing = time_call(lambda: time.sleep(0.01), repeats=3, warmup=0)
    assert timing.median >= 0.01
    lo, hi = timing.iqr
    assert lo <= timing.median <= hi


def test_timing_summary() -> None:
    t = Timing((1e-3, 2e-3, 3e-3))
    assert t.median == 2e-3 and t.min == 1e-3
    assert str(t).startswith("median 2.00 ms")


@pytest.mark.parametrize(
    ("kwargs", "exc"), [({"repeats": 0}, ValueError), ({"warmup": -1}, ValueError)]
)
def test_time_call_rejects_bad_arguments(kwargs: dict[str, int], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        time_call(lambda: None, **kwargs)
    with pytest.raises(TypeError):
        time_call(42)  # type: ignore[arg-type]


def test_peak_memory_sees_a_live_intermediate() -> None:
    n = 512

    def scores() -> torch.Tensor:
        q = torch.randn(n, 64)
        s = q @ q.T  # (n, n): n*n*4 bytes, alive while p is computed
        p = s.softmax(-1)  # (n, n)
        return p @ q

    peak = peak_memory_bytes(scores)
    # s and p are both alive at once: at least 2 n² float32, and not wildly more.
    assert 2 * n * n * 4 <= peak <= 4 * n * n * 4


def test_peak_memory_grows_quadratically() -> None:
    def f(n: int) -> int:
        return peak_memory_bytes(lambda: torch.ones(n, n).sum())

    assert f(1024) / f(256) == pytest.approx(16, rel=0.1)


def test_peak_memory_rejects_unknown_device() -> None:
    with pytest.raises(ValueError):
        peak_memory_bytes(lambda: None, device="meta")


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 2**30) == "3.0 GiB"
    with pytest.raises(ValueError):
        format_bytes(-1)

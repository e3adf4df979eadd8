"""Property tests of the from-scratch pieces of notebooks/dl/08_conv_vs_fully_connected.py:
the dense matrix of a convolution, the roll search, shifts, and blur pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/dl/08_conv_vs_fully_connected.py")

ATOL = 1e-10  # float64, sums of at most a few hundred products of O(1) numbers


@st.composite
def dense_case(draw: st.DrawFn) -> tuple[int, int, int, int, int, str, tuple[int, int]]:
    """(C_in, C_out, K, stride, padding, padding_mode, (H, W)) with a non-empty output."""
    kernel = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["zeros", "circular"]))
    padding = draw(st.integers(0, kernel - 1))
    smallest = max(kernel, 2 * padding if mode == "circular" else 1)  # circular: padding <= size
    height = draw(st.integers(smallest, smallest + 6))
    width = draw(st.integers(smallest, smallest + 6))
    return (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        kernel,
        stride,
        padding,
        mode,
        (height, width),
    )


@settings(max_examples=25, deadline=None)
@given(dense_case(), st.integers(0, 2**31 - 1))
def test_linear_from_conv_matches_conv(case: tuple, seed: int) -> None:
    c_in, c_out, kernel, stride, padding, mode, size = case
    torch.manual_seed(seed)
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, padding_mode=mode, dtype=torch.float64)
    fc = ch.linear_from_conv(conv, size)
    x = torch.randn(2, c_in, *size, dtype=torch.float64)
    with torch.no_grad():
        expected = conv(x)
        got = fc(x.flatten(1)).view_as(expected)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@settings(max_examples=30, deadline=None)
@given(dense_case())
def test_each_row_copies_each_weight_at_most_once(case: tuple) -> None:
    c_in, c_out, kernel, stride, padding, mode, size = case
    tap = ch.conv_tap_index((c_out, c_in, kernel, kernel), size, stride, padding, mode)
    n_taps = c_out * c_in * kernel * kernel
    for row in tap:
        used = row[row < n_taps]
        assert len(used) == len(set(used.tolist())), "a weight copied twice into one row"
        assert len(used) <= c_in * kernel * kernel  # local connectivity


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_roll_errors_matches_a_loop(height: int, width: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(3, height, width, generator=generator, dtype=torch.float64)
    b = torch.randn(3, height, width, generator=generator, dtype=torch.float64)
    loop = torch.tensor(
        [
            [float((a - torch.roll(b, (r, c), (-2, -1))).norm() / b.norm()) for c in range(width)]
            for r in range(height)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(ch.roll_errors(a, b), loop, atol=1e-9, rtol=0)
    shift = (seed % height, (seed // 7) % width)
    assert ch.best_roll_error(torch.roll(b, shift, (-2, -1)), b) < 1e-12


@given(st.integers(-3, 3), st.integers(-3, 3))
def test_translate_agrees_with_roll_away_from_the_edges(dy: int, dx: int) -> None:
    x = torch.arange(1.0, 1.0 + 10 * 12).view(1, 1, 10, 12)
    moved = ch.translate(x, dy, dx)
    rolled = torch.roll(x, (dy, dx), (-2, -1))
    rows = slice(max(dy, 0), 10 + min(dy, 0))
    cols = slice(max(dx, 0), 12 + min(dx, 0))
    torch.testing.assert_close(moved[..., rows, cols], rolled[..., rows, cols])
    assert (
        moved.sum()
        == x[..., rows.start - dy : rows.stop - dy, cols.start - dx : cols.stop - dx].sum()
    )


@given(st.sampled_from([2, 3, 4, 5]), st.integers(0, 2**31 - 1))
def test_blur_pool_preserves_the_mean(filter_size: int, seed: int) -> None:
    """The alternating sum of a binomial filter is zero, so the mean of the output equals the
    mean of the input for circular padding and even sizes, whichever sampling grid is kept."""
    x = torch.randn(2, 3, 8, 12, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    pool = ch.BlurPool2d(3, filter_size)
    for shift in range(2):
        out = pool(torch.roll(x, shift, dims=-1))
        torch.testing.assert_close(out.mean((-2, -1)), x.mean((-2, -1)), atol=1e-12, rtol=0)


def test_blur_pool_of_size_two_is_average_pooling() -> None:
    x = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    torch.testing.assert_close(ch.BlurPool2d(3, 2)(x), F.avg_pool2d(x, 2), atol=1e-12, rtol=0)

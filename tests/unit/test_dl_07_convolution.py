"""Property tests of the from-scratch convolution of notebooks/dl/07_convolution.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from notebook_utils.nn import count_parameters
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/dl/07_convolution.py")

ATOL = 1e-10  # float64, sums of at most a few hundred products of O(1) numbers


@pytest.fixture(autouse=True)
def float64_default() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@st.composite
def axis(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    """(size, kernel, stride, padding, dilation) of one axis with a non-empty output."""
    kernel = draw(st.integers(1, 5))
    stride = draw(st.integers(1, 4))
    padding = draw(st.integers(0, 3))
    dilation = draw(st.integers(1, 3))
    smallest = max(1, dilation * (kernel - 1) + 1 - 2 * padding)
    size = draw(st.integers(smallest, smallest + 9))
    return size, kernel, stride, padding, dilation


@st.composite
def conv_case(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]:
    """Input shape, weight shape and keyword arguments of a random F.conv2d call."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    (h, k_h, s_h, p_h, d_h), (w, k_w, s_w, p_w, d_w) = draw(axis()), draw(axis())
    batch = draw(st.integers(1, 2))
    arguments = dict(stride=(s_h, s_w), padding=(p_h, p_w), dilation=(d_h, d_w), groups=groups)
    return (batch, c_in, h, w), (c_out, c_in // groups, k_h, k_w), arguments


@settings(max_examples=50, deadline=None)
@given(conv_case())
def test_im2col_conv_and_output_size_match_torch(
    case: tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]],
) -> None:
    input_shape, weight_shape, arguments = case
    x = torch.randn(input_shape, requires_grad=True)
    weight = torch.randn(weight_shape, requires_grad=True)
    bias = torch.randn(weight_shape[0], requires_grad=True)
    ours = ch.conv2d_im2col(x, weight, bias, **arguments)
    reference = F.conv2d(x, weight, bias, **arguments)
    expected_shape = ch.ConvCase(input_shape, weight_shape, arguments).output_shape()
    assert tuple(reference.shape[1:]) == expected_shape
    assert tuple(ours.shape) == tuple(reference.shape)
    torch.testing.assert_close(ours, reference, atol=ATOL, rtol=0)
    delta = torch.randn_like(reference)
    reference_grads = torch.autograd.grad(reference, (x, weight, bias), delta)
    hand_written = ch.Conv2dIm2colFunction.apply(x, weight, bias, *arguments.values())
    for y in (ours, hand_written):
        for got, want in zip(
            torch.autograd.grad(y, (x, weight, bias), delta), reference_grads, strict=True
        ):
            torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


@settings(max_examples=60, deadline=None)
@given(conv_case())
def test_im2col_and_col2im_match_unfold_and_fold(
    case: tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]],
) -> None:
    input_shape, weight_shape, arguments = case
    geometry = dict(
        kernel_size=weight_shape[2:],
        stride=arguments["stride"],
        padding=arguments["padding"],
        dilation=arguments["dilation"],
    )
    x = torch.randn(input_shape)
    columns = ch.im2col(x, **geometry)
    assert torch.equal(columns, F.unfold(x, **geometry))
    random_columns = torch.randn_like(columns)
    folded = ch.col2im(random_columns, input_shape[2:], **geometry)
    torch.testing.assert_close(
        folded, F.fold(random_columns, input_shape[2:], **geometry), atol=ATOL, rtol=0
    )
    torch.testing.assert_close(
        (columns * random_columns).sum(), (x * folded).sum(), atol=ATOL, rtol=0
    )


@settings(max_examples=25, deadline=None)
@given(conv_case())
def test_loops_match_torch(case: tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]) -> None:
    input_shape, weight_shape, arguments = case
    x, weight = torch.randn(input_shape), torch.randn(weight_shape)
    bias = torch.randn(weight_shape[0])
    torch.testing.assert_close(
        ch.conv2d_loops(x, weight, bias, **arguments),
        F.conv2d(x, weight, bias, **arguments),
        atol=ATOL,
        rtol=0,
    )


@st.composite
def layer_stack(draw: st.DrawFn) -> list[Any]:
    """One to four conv / average-pool layers."""
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            k, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
            padding = draw(st.integers(0, (k - 1) * d // 2))
            layers.append(ch.LayerSpec("conv", k, draw(st.integers(1, 3)), padding, d))
        else:
            k = draw(st.integers(2, 3))
            layers.append(
                ch.LayerSpec("avgpool", k, draw(st.integers(1, 3)), draw(st.integers(0, k // 2)))
            )
    return layers


@settings(max_examples=60, deadline=None)
@given(layer_stack())
def test_receptive_field_formula_matches_autograd(layers: list[Any]) -> None:
    rf, jump, start = ch.receptive_field(layers)
    size = 2 * rf + 2 * jump + 40  # the centre unit's RF lies inside the image
    kernels = [torch.rand(1, 1, layer.kernel_size, layer.kernel_size) + 0.5 for layer in layers]
    gradient, centre = ch.centre_gradient(layers, size, kernels)
    first = start + centre * jump
    assert 0 <= first and first + rf <= size
    assert ch.support_interval(gradient) == (first, first + rf - 1)
    assert ch.support_interval(gradient.T) == (first, first + rf - 1)


def test_errata_numbers() -> None:
    assert ch.conv_output_size(224, 7, 2, 3) == 112
    three = [ch.LayerSpec("conv", 3, 2, 1)] * 3
    assert ch.receptive_field(three) == (15, 8, -7)
    assert ch.receptive_field_notes(three) == 13
    assert ch.receptive_field(three[:1])[0] == 3
    assert ch.receptive_field_notes(three[:1]) == 5


@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "groups", "bias"),
    [
        (3, 64, 7, 1, True),
        (64, 128, 3, 1, True),
        (64, 128, 3, 4, False),
        (64, 64, (3, 5), 64, True),
    ],
)
def test_parameter_count(c_in: int, c_out: int, k: Any, groups: int, bias: bool) -> None:
    layer = nn.Conv2d(c_in, c_out, k, groups=groups, bias=bias)
    assert ch.conv_parameter_count(c_in, c_out, k, groups, bias) == count_parameters(layer)
    ours = ch.Conv2d(c_in, c_out, k, groups=groups, bias=bias)
    assert count_parameters(ours) == count_parameters(layer)


def test_module_matches_torch_initialisation_and_output() -> None:
    arguments = dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, groups=2)
    torch.manual_seed(0)
    ours = ch.Conv2d(**arguments)
    torch.manual_seed(0)
    reference = nn.Conv2d(**arguments)
    torch.testing.assert_close(ours.weight, reference.weight, atol=1e-15, rtol=0)
    torch.testing.assert_close(ours.bias, reference.bias, atol=1e-15, rtol=0)
    x = torch.randn(2, 4, 9, 7)
    torch.testing.assert_close(ours(x), reference(x), atol=ATOL, rtol=0)


def test_invalid_groups_raise() -> None:
    with pytest.raises(ValueError, match="divisible"):
        ch.Conv2d(4, 6, 3, groups=4)

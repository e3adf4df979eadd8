"""Property tests of the activations of notebooks/dl/01_activation_functions.py."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/dl/01_activation_functions.py")

# (ours, torch's function): forward and derivative must agree in float64.
PAIRS: list[tuple[str, Any, Callable[[torch.Tensor], torch.Tensor]]] = [
    ("sigmoid", ch.Sigmoid(), torch.sigmoid),
    ("tanh", ch.Tanh(), torch.tanh),
    ("relu", ch.ReLU(), F.relu),
    ("leaky_relu", ch.LeakyReLU(0.1), lambda x: F.leaky_relu(x, negative_slope=0.1)),
    ("gelu", ch.GELU(), F.gelu),
    ("gelu_tanh", ch.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("silu", ch.SiLU(), F.silu),
]

finite_inputs = st.lists(
    st.floats(min_value=-60, max_value=60, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
)
logit_rows = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=20,
)


@pytest.mark.parametrize(("name", "ours", "reference"), PAIRS, ids=[p[0] for p in PAIRS])
@settings(max_examples=30, deadline=None)
@given(values=finite_inputs)
def test_forward_and_backward_match_torch(
    name: str,
    ours: Any,
    reference: Callable[[torch.Tensor], torch.Tensor],
    values: list[float],
) -> None:
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    reference_y = reference(x)
    (reference_slope,) = torch.autograd.grad(reference_y.sum(), x)
    torch.testing.assert_close(ours.function(x.detach()), reference_y.detach(), atol=1e-12, rtol=0)
    torch.testing.assert_close(ours.derivative(x.detach()), reference_slope, atol=1e-12, rtol=0)
    x_ours = x.detach().clone().requires_grad_()
    ours(x_ours).sum().backward()
    torch.testing.assert_close(x_ours.grad, reference_slope, atol=1e-12, rtol=0)


@given(values=finite_inputs)
def test_sigmoid_slope_bounded_by_a_quarter(values: list[float]) -> None:
    x = torch.tensor(values, dtype=torch.float64)
    assert bool((ch.Sigmoid().derivative(x) <= 0.25).all())
    assert bool((ch.Tanh().derivative(x) <= 1.0).all())


@settings(deadline=None)
@given(row=logit_rows, shift=st.floats(min_value=-1e6, max_value=1e6))
def test_stable_softmax_and_logsumexp(row: list[float], shift: float) -> None:
    z = torch.tensor(row, dtype=torch.float64)
    p = ch.softmax(z)
    assert bool(p.isfinite().all())
    torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(p, torch.softmax(z, -1), atol=1e-12, rtol=0)
    torch.testing.assert_close(ch.softmax(z + shift), p, atol=1e-9, rtol=0)  # shift-invariant
    torch.testing.assert_close(ch.logsumexp(z), torch.logsumexp(z, -1), atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(ch.log_softmax(z), F.log_softmax(z, -1), atol=1e-9, rtol=1e-12)
    jacobian = ch.softmax_jacobian(p)
    torch.testing.assert_close(jacobian.sum(-1), torch.zeros_like(p), atol=1e-12, rtol=0)


def test_errata_constants() -> None:
    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    assert math.isclose(ch.Sigmoid().derivative(grid).max().item(), 0.25, abs_tol=1e-12)
    big = torch.tensor([1000.0, 1000.0], dtype=torch.float64)
    assert bool(ch.naive_softmax(big).isnan().all())
    torch.testing.assert_close(ch.softmax(big), torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert math.isclose(ch.logsumexp(big).item(), 1000 + math.log(2), abs_tol=1e-12)


def test_swiglu_parameter_count() -> None:
    for d_model in (3, 48, 96):
        ffn = ch.SwiGLUFeedForward(d_model, 8 * d_model // 3)
        assert sum(p.numel() for p in ffn.parameters()) == 8 * d_model**2


def test_gelu_rejects_unknown_approximation() -> None:
    with pytest.raises(ValueError):
        ch.GELU("erf")

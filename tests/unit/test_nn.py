import pytest
import torch
from torch import nn

from notebook_utils.nn import count_parameters, gradient_norms


def test_count_parameters_matches_shapes_and_counts_shared_tensors_once() -> None:
    lin = nn.Linear(10, 3)
    assert count_parameters(lin) == 10 * 3 + 3
    emb = nn.Embedding(50, 8)
    head = nn.Linear(8, 50, bias=False)
    head.weight = emb.weight  # tied
    model = nn.ModuleDict({"emb": emb, "head": head})
    assert count_parameters(model) == 50 * 8
    emb.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 0
    assert count_parameters(model) == 400


def test_gradient_norms_equal_the_norm_of_each_grad_in_order() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    model(torch.randn(5, 4)).pow(2).sum().backward()
    norms = gradient_norms(model)
    assert list(norms) == ["0.weight", "2.weight"]
    assert norms["0.weight"] == pytest.approx(float(model[0].weight.grad.norm()), rel=1e-6)
    with_bias = gradient_norms(model, weights_only=False)
    assert list(with_bias) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    inf_norm = gradient_norms(model, ord=float("inf"))
    assert inf_norm["2.weight"] == pytest.approx(float(model[2].weight.grad.abs().max()))


def test_gradient_norms_refuse_a_missing_gradient() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 2))
    with pytest.raises(ValueError, match="no gradient"):
        gradient_norms(model)

# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02. Vanishing gradients
#
# **The question.** What is the vanishing gradient problem, why does it happen, and how do
# you address it?
#
# **What you will be able to answer.** Write the gradient of a deep net as a product of
# layer Jacobians and say why the *weights* shrink or grow it as much as the activation's
# derivative does; derive the Xavier and He variances; predict, before running anything, how
# fast a given net's gradients fade; and say what LSTMs, normalisation, residual connections
# and gradient clipping do (and do not do) about it.

# %%
import math
from collections.abc import Callable
from functools import partial
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.devices import get_device
from notebook_utils.nn import gradient_norms
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so checks can use atol 1e-12 and 1e-40 is exact

# %% [markdown]
# ## Short answer
#
# - **What.** Backpropagation multiplies one Jacobian per layer. With
#   $h_l=f(z_l)$, $z_l=W_lh_{l-1}+b_l$, the gradient that reaches the input side is
#   $\partial\mathcal L/\partial h_0=J_1^\top J_2^\top\cdots J_L^\top\,\partial\mathcal
#   L/\partial h_L$ with $J_l=\operatorname{diag}(f'(z_l))\,W_l$. If the typical gain of a
#   factor is below 1, the product shrinks exponentially with depth and the early layers stop
#   learning; above 1, it explodes.
# - **Why.** The gain of $J_l$ is the activation's slope *times the weights' scale*:
#   $\lVert J_l\rVert\le\max|f'|\cdot\lVert W_l\rVert$. The notes' "each derivative is <1"
#   looks at $f'$ alone, which is not enough: a ReLU net ($f'=1$ on active units) with
#   weights $\mathcal N(0,0.01^2)$ loses its signal by a factor $\sqrt{n\sigma^2/2}=0.16$ per
#   layer at width 512, to about $10^{-40}$ after 50 layers. Sigmoid is worse from the start,
#   $\sigma'(x)\le\tfrac14$ *everywhere*, so each layer costs about 4× unless the weights make
#   up for it.
# - **Fixes.** Initialise so that each layer keeps the variance of the signal:
#   Xavier/Glorot $\operatorname{Var}(W)=2/(\text{fan}_\text{in}+\text{fan}_\text{out})$ for
#   tanh-like units, He/Kaiming $\operatorname{Var}(W)=2/\text{fan}_\text{in}$ for ReLU (the 2
#   pays for the half of the units ReLU zeroes). Use ReLU-family activations, normalisation
#   layers, and residual connections (their Jacobian $I+\dots$ does not shrink). In RNNs, where
#   the same matrix is multiplied $T$ times, use an LSTM or GRU: their cell state is updated
#   additively, so the gradient along it is scaled by the forget gates only.
# - **What does not help.** Gradient clipping: it only shrinks large gradients, it cannot
#   enlarge small ones. And "use ReLU" alone: ReLU with a bad initialisation (PyTorch's
#   default for `nn.Linear` included) vanishes too.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $h_0=x\in\mathbb R^{n_0}$ | the input | `x` |
# | $W_l\in\mathbb R^{n_l\times n_{l-1}}$, $b_l$ | weight and bias of layer $l$ | `weight`, `bias` |
# | $z_l=W_lh_{l-1}+b_l$ | pre-activation of layer $l$ | `z` |
# | $h_l=f(z_l)$ | activation of layer $l$ | `h` |
# | $f'$ | derivative of the activation, element-wise | `derivative` |
# | $g_l=\partial\mathcal L/\partial h_l$ | gradient of the loss w.r.t. $h_l$ | `grad` |
# | $\text{fan}_\text{in}$, $\text{fan}_\text{out}$ | $n_{l-1}$, $n_l$ of $W_l$ | `calculate_fans` |
# | $\sigma_w^2$ | variance of the i.i.d. entries of $W_l$ at init | `std**2` |
#
# `layer.weight` of `nn.Linear` has shape (out, in), like $W_l$.
#
# Gradients are column vectors. In the experiments the last layer has no activation (it gives
# the logits); in the derivation $f$ may be the identity there.
#
# ### The chain rule is a product of Jacobians
#
# Layer $l$ maps $h_{l-1}$ to
#
# $$
# z_l=W_lh_{l-1}+b_l,\qquad h_l=f(z_l)
# $$ (vg-forward)
#
# Differentiating, $\partial h_{l,i}/\partial h_{l-1,j}=f'(z_{l,i})\,W_{l,ij}$: row $i$ of
# $W_l$ scaled by the slope of unit $i$,
#
# $$
# J_l=\frac{\partial h_l}{\partial h_{l-1}}=\operatorname{diag}\big(f'(z_l)\big)\,W_l
# \in\mathbb R^{n_l\times n_{l-1}}
# $$ (vg-jacobian)
#
# The chain rule gives $g_{l-1}=J_l^\top g_l$, and unrolled over all layers:
#
# $$
# \frac{\partial\mathcal L}{\partial h_0}
# =J_1^\top J_2^\top\cdots J_L^\top\,\frac{\partial\mathcal L}{\partial h_L}
# $$ (vg-chain)
#
# The gradient of a weight matrix needs the same product, stopped at its layer. With
# $\delta_l=\partial\mathcal L/\partial z_l=f'(z_l)\odot g_l$ (one example; a batch sums
# these):
#
# $$
# \frac{\partial\mathcal L}{\partial W_l}=\delta_l\,h_{l-1}^\top,\qquad
# \delta_l=f'(z_l)\odot\big(J_{l+1}^\top\cdots J_L^\top\,g_L\big)
# $$ (vg-weight-grad)
#
# So $\lVert\partial\mathcal L/\partial W_l\rVert_F=\lVert\delta_l\rVert\,\lVert
# h_{l-1}\rVert$: a backward factor, the product of the Jacobians *above* layer $l$, times a
# forward factor, the size of the activation that enters it. The forward sensitivity
# $\partial h_L/\partial h_0=J_L\cdots J_1$ is the same product in the other order: when it
# vanishes, the output no longer depends on the input, and however the last layer is trained
# the loss cannot fall below that of a constant prediction (Experiment 3).
#
# ### A bound, and what the notes miss
#
# For any vector $v$, $\lVert J_l^\top v\rVert=\lVert W_l^\top\operatorname{diag}(f'(z_l))v
# \rVert\le\lVert W_l\rVert_2\,\max_i|f'(z_{l,i})|\,\lVert v\rVert$, with $\lVert\cdot\rVert_2$
# the largest singular value. Applied $L$ times:
#
# $$
# \Big\lVert\frac{\partial\mathcal L}{\partial h_0}\Big\rVert
# \le\prod_{l=1}^{L}\Big(\lVert W_l\rVert_2\max_i|f'(z_{l,i})|\Big)\,
# \Big\lVert\frac{\partial\mathcal L}{\partial h_L}\Big\rVert
# $$ (vg-bound)
#
# Each factor is a product of two numbers, and the notes look at only one of them ("if each
# derivative is a small number (<1)"). The slopes are bounded by the activation:
# $\sigma'(x)=\sigma(x)(1-\sigma(x))\le\tfrac14$, $\tanh'(x)=1-\tanh^2x\le1$,
# $\operatorname{ReLU}'(x)=\mathbb 1[x>0]\le1$. The weights are bounded by nothing: a factor
# can be far below 1 with $f'=1$ (a ReLU or even a linear net with small weights) and above 1
# with $f'<1$ (a tanh net with large weights, which explodes instead). A sigmoid layer needs
# $\lVert W_l\rVert_2\ge4$ merely to *allow* the gradient to keep its size.
#
# ### The typical case: variance propagation
#
# The bound is a worst case. The typical gain follows from the variances at initialisation.
# Let the entries of $W_l$ be i.i.d. with mean 0 and variance $\sigma_w^2$, independent of
# $h_{l-1}$, and $b_l=0$. Then $z_{l,i}=\sum_jW_{l,ij}h_{l-1,j}$ is a sum of $n_{l-1}$
# uncorrelated terms of mean 0:
#
# $$
# \mathbb E[z_{l,i}^2]=n_{l-1}\,\sigma_w^2\,\mathbb E[h_{l-1,j}^2]
# $$ (vg-forward-var)
#
# For ReLU, $z_{l,i}$ is symmetric about 0 (the weights are), so $\operatorname{ReLU}(z)^2$
# keeps exactly half of the second moment, $\mathbb E[\operatorname{ReLU}(z)^2]=\tfrac12
# \mathbb E[z^2]$, and
#
# $$
# \mathbb E[h_l^2]=\frac{n_{l-1}\sigma_w^2}{2}\,\mathbb E[h_{l-1}^2]
# \quad\Longrightarrow\quad
# \mathbb E[h_L^2]=\Big(\frac{n\sigma_w^2}{2}\Big)^{L}\,\mathbb E[x^2]
# $$ (vg-relu-moment)
#
# for equal widths $n$. The second moment is multiplied by $n\sigma_w^2/2$ per layer, the
# scale of the activations by its square root. With $n=512$ and $\sigma_w=0.01$ that is
# $512\cdot10^{-4}/2=0.0256$, a factor $0.16$ per layer on the scale: after 50 layers,
# $0.16^{50}\approx1.6\times10^{-40}$. If $z$ is Gaussian (nearly so for wide layers),
# $\mathbb E[\operatorname{ReLU}(z)]=\sqrt{\mathbb E[z^2]/(2\pi)}$, so the standard deviation
# of a ReLU output is
#
# $$
# \operatorname{std}(h_l)=\sqrt{\big(1-\tfrac1\pi\big)\,\mathbb E[h_l^2]}
# $$ (vg-relu-std)
#
# which is $0.826$ when $\mathbb E[h_l^2]=1$.
#
# Backwards, $g_{l-1,j}=\sum_iW_{l,ij}\,f'(z_{l,i})\,g_{l,i}$. Treating $W_l$ as independent of
# $f'(z_l)\odot g_l$ (not exact, since $z_l$ depends on $W_l$, but accurate for wide layers;
# Experiment 1 measures it), the same argument gives
#
# $$
# \mathbb E[g_{l-1,j}^2]=n_l\,\sigma_w^2\,\mathbb E\big[f'(z_{l,i})^2\big]\,
# \mathbb E[g_{l,i}^2]
# $$ (vg-backward-var)
#
# per unit; for the norm of the whole vector, $\lVert g_{l-1}\rVert^2\approx n_{l-1}\sigma_w^2
# \,\mathbb E[f'(z_l)^2]\,\lVert g_l\rVert^2$. For ReLU $\mathbb E[f'^2]=P(z>0)=\tfrac12$, the
# same factor as forwards. For sigmoid $\mathbb E[\sigma'^2]\le\tfrac1{16}$: with
# $n\sigma_w^2=1$ the gradient loses at least 4× per layer.
#
# ### Xavier/Glorot and He/Kaiming initialisation
#
# {cite:t}`glorot2010understanding` consider units that are linear near 0, like tanh
# ($f'(0)=1$). Then {eq}`vg-forward-var` keeps the forward variance if
# $n_{l-1}\sigma_w^2=1$, and {eq}`vg-backward-var` keeps the backward one if
# $n_l\sigma_w^2=1$. Both hold only when $n_{l-1}=n_l$; the compromise divides by the average
# of the two fans:
#
# $$
# \text{Xavier: }\operatorname{Var}(W)=\frac{2}{\text{fan}_\text{in}+\text{fan}_\text{out}},
# \qquad W\sim\mathcal U(-a,a),\ a=\sqrt{\frac{6}{\text{fan}_\text{in}+\text{fan}_\text{out}}}
# $$ (vg-xavier)
#
# using $\operatorname{Var}\,\mathcal U(-a,a)=a^2/3$. {cite:t}`he2015delving` redo the count
# for ReLU, where {eq}`vg-relu-moment` asks for $n\sigma_w^2/2=1$:
#
# $$
# \text{He: }\operatorname{Var}(W)=\frac{2}{\text{fan}_\text{in}}
# \quad(\text{or }2/\text{fan}_\text{out}\text{ to keep the backward pass})
# $$ (vg-he)
#
# With fan-in the forward pass is exact and the backward variance changes only by the ratio
# of the first and last widths, since the per-layer mismatches $n_l/n_{l-1}$ telescope.
# PyTorch writes both as a gain times a base standard deviation,
# $\text{std}=\text{gain}\cdot\sqrt{2/(\text{fan}_\text{in}+\text{fan}_\text{out})}$ and
# $\text{std}=\text{gain}/\sqrt{\text{fan}}$, with gain $\sqrt2$ for ReLU, $5/3$ for tanh and
# 1 for sigmoid and linear layers {cite}`pytorch2025init`. Its *default* for `nn.Linear` is
# neither: $\mathcal U(-1/\sqrt{\text{fan}_\text{in}},1/\sqrt{\text{fan}_\text{in}})$, so
#
# $$
# \operatorname{Var}(W)=\frac{1}{3\,\text{fan}_\text{in}},\qquad
# \frac{n\sigma_w^2}{2}=\frac16\ \text{per ReLU layer}
# $$ (vg-torch-default)
#
# ### Recurrent nets: backpropagation through time
#
# A vanilla RNN applies the same layer at every step, $h_t=\tanh(W_{hh}h_{t-1}+W_{ih}x_t+b)$.
# Unrolled over time it is a deep net whose layers share $W_{hh}$, so {eq}`vg-chain` becomes
#
# $$
# \frac{\partial h_T}{\partial h_t}=\prod_{k=T}^{t+1}\operatorname{diag}\big(1-h_k^2\big)\,
# W_{hh},\qquad
# \Big\lVert\frac{\partial h_T}{\partial h_t}\Big\rVert\le\lVert W_{hh}\rVert_2^{\,T-t}
# $$ (vg-bptt)
#
# (the product runs from $k=T$ on the left down to $k=t+1$). The gradient of a loss at step
# $T$ with respect to an input $x_t$ passes through this product. The contribution of distant
# inputs fades geometrically if $\lVert W_{hh}\rVert_2<1$ (a sufficient condition), and it can
# explode only if $\lVert W_{hh}\rVert_2>1$ (a necessary one)
# {cite}`hochreiter1991untersuchungen,bengio1994learning,pascanu2013difficulty`.
# Long-range dependencies are then hard to learn even though they are representable. An LSTM
# {cite}`hochreiter1997lstm` adds a cell state that is updated additively:
#
# $$
# c_t=f_t\odot c_{t-1}+i_t\odot\tilde c_t,\qquad h_t=o_t\odot\tanh(c_t)
# $$ (vg-lstm)
#
# with gates $f_t,i_t,o_t\in(0,1)^H$ and candidate $\tilde c_t$, all computed from $x_t$ and
# $h_{t-1}$. Along the direct path $c_{t-1}\to c_t$ the Jacobian is $\operatorname{diag}(f_t)$:
# no weight matrix and no squashing slope. The original LSTM had no forget gate ($f_t=1$, the
# "constant error carousel"); {cite:t}`gers2000learning` added it, so the direct path now
# scales the gradient by $\prod_kf_k$, which stays near 1 only if the forget gates are near 1.
# GRUs have the same kind of gated additive update.

# %% [markdown]
# ## Implementation from scratch
#
# ### The Jacobian product
#
# The three activations and their derivatives, written out (chapter 01 of this part derives
# them):


# %%
def sigmoid_derivative(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)  # ≤ 1/4, with equality at z = 0


def tanh_derivative(z: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(z) ** 2


def relu_derivative(z: torch.Tensor) -> torch.Tensor:
    return (z > 0).to(z.dtype)


ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], ...]] = {
    "sigmoid": (torch.sigmoid, sigmoid_derivative),
    "tanh": (torch.tanh, tanh_derivative),
    "relu": (torch.relu, relu_derivative),
}

# %% [markdown]
# {eq}`vg-jacobian` for one layer, then the forward pass that collects every $J_l$ and the
# backward pass {eq}`vg-chain` as an explicit product of their transposes. The same Jacobians
# multiplied in the other order give the forward sensitivity $\partial h_L/\partial h_0$, and
# {eq}`vg-bound` takes their norms.


# %%
def layer_jacobian(
    weight: torch.Tensor, pre_activation: torch.Tensor, derivative: Callable
) -> torch.Tensor:
    """J_l = diag(f'(z_l)) W_l, eq. (vg-jacobian); weight (n_l, n_{l-1}), z (n_l,)."""
    return torch.diag(derivative(pre_activation)) @ weight  # (n_l, n_{l-1})


def layer_jacobians(
    weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor, activation: str
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Forward pass of one example x (n_0,); returns every J_l and every z_l."""
    f, derivative = ACTIVATIONS[activation]
    jacobians, pre_activations, h = [], [], x
    for weight, bias in zip(weights, biases, strict=True):
        z = weight @ h + bias  # (n_l,), eq. (vg-forward)
        jacobians.append(layer_jacobian(weight, z, derivative))
        pre_activations.append(z)
        h = f(z)
    return jacobians, pre_activations


def input_gradient_by_jacobians(
    jacobians: list[torch.Tensor], grad_output: torch.Tensor
) -> torch.Tensor:
    """∂L/∂h_0 = J_1ᵀ J_2ᵀ ⋯ J_Lᵀ ∂L/∂h_L, eq. (vg-chain), applied from the right."""
    grad = grad_output  # (n_L,)
    for jacobian in reversed(jacobians):
        grad = jacobian.T @ grad  # g_{l-1} = J_lᵀ g_l, (n_{l-1},)
    return grad


def end_to_end_jacobian(jacobians: list[torch.Tensor]) -> torch.Tensor:
    """∂h_L/∂h_0 = J_L ⋯ J_1, shape (n_L, n_0): the same factors in the forward order."""
    product = jacobians[0]
    for jacobian in jacobians[1:]:
        product = jacobian @ product
    return product


def jacobian_product_bound(
    weights: list[torch.Tensor],
    pre_activations: list[torch.Tensor],
    derivative: Callable,
    grad_output: torch.Tensor,
) -> float:
    """Right-hand side of eq. (vg-bound): Π_l ‖W_l‖₂ max|f'(z_l)| · ‖∂L/∂h_L‖."""
    bound = float(torch.linalg.vector_norm(grad_output))
    for weight, z in zip(weights, pre_activations, strict=True):
        bound *= float(torch.linalg.matrix_norm(weight, ord=2) * derivative(z).abs().max())
    return bound


# %% [markdown]
# ### The initialisers
#
# Under PyTorch's names and arguments (`gain`, `a`, `mode`, `nonlinearity`, `generator`), so
# that they can be checked draw for draw against `torch.nn.init`. A weight of shape
# (out, in, *kernel) has $\text{fan}_\text{in}=\text{in}\cdot\prod\text{kernel}$ and
# $\text{fan}_\text{out}=\text{out}\cdot\prod\text{kernel}$.


# %%
def calculate_fans(tensor: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if tensor.dim() < 2:
        raise ValueError("fans need a weight with at least two dimensions")
    receptive_field = math.prod(tensor.shape[2:])  # 1 for a Linear weight
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gain: the factor on the base standard deviation."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)  # the 2 of eq. (vg-he)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))  # the negative side keeps slope² of the moment
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def xavier_normal_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """N(0, gain² · 2 / (fan_in + fan_out)), eq. (vg-xavier)."""
    fan_in, fan_out = calculate_fans(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def xavier_uniform_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """U(-a, a) with the variance of eq. (vg-xavier): a = √3 · std."""
    fan_in, fan_out = calculate_fans(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # Var U(-a, a) = a² / 3
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_std(tensor: torch.Tensor, a: float, mode: str, nonlinearity: str) -> float:
    """gain / √fan, eq. (vg-he): √(2 / fan) for ReLU."""
    fan_in, fan_out = calculate_fans(tensor)
    fan = {"fan_in": fan_in, "fan_out": fan_out}[mode]
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """N(0, gain² / fan), eq. (vg-he). The defaults (leaky_relu, a = 0) give gain √2."""
    std = kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """U(-b, b) with b = √3 · gain / √fan: the variance of eq. (vg-he)."""
    bound = math.sqrt(3.0) * kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


# %% [markdown]
# ### A deep MLP for the experiments
#
# `DeepMLP` stacks `depth` linear layers of equal width, with the activation after every one
# but the last. `forward_with_hidden` also returns every $z_l$ and $h_l$, so the experiments
# can read $f'(z_l)$ and ask autograd for $\partial\mathcal L/\partial h_l$.
# `initialise_` applies one of four schemes to all layers: `small`, $\mathcal N(0,0.01^2)$;
# `xavier` and `he`, the normal versions of {eq}`vg-xavier` and {eq}`vg-he` (He with the ReLU
# gain whatever the activation, to show what it does to sigmoid and tanh); and `default`,
# PyTorch's {eq}`vg-torch-default`. The first three set the biases to zero.

# %%
SMALL_STD = 0.01


class DeepMLP(nn.Module):
    def __init__(
        self, in_features: int, width: int, out_features: int, depth: int, activation: str
    ) -> None:
        super().__init__()
        sizes = [in_features] + [width] * (depth - 1) + [out_features]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.activation = activation

    def forward_with_hidden(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Logits (B, out), and z_l, h_l (B, width) of the hidden layers l = 1 … L-1."""
        f = ACTIVATIONS[self.activation][0]
        pre_activations, hidden = [], []
        for layer in self.layers[:-1]:
            z = layer(x)  # (B, width), eq. (vg-forward)
            x = f(z)
            pre_activations.append(z)
            hidden.append(x)
        return self.layers[-1](x), pre_activations, hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_hidden(x)[0]


def initialise_(model: DeepMLP, scheme: str) -> DeepMLP:
    """Re-initialise every layer of `model` in place with `scheme`."""
    if scheme == "default":
        return model  # nn.Linear's own U(±1/√fan_in) for weights and biases
    for layer in model.layers:
        if scheme == "small":
            with torch.no_grad():
                layer.weight.normal_(0.0, SMALL_STD)
        elif scheme == "xavier":
            xavier_normal_(layer.weight)
        elif scheme == "he":
            kaiming_normal_(layer.weight, nonlinearity="relu")
        else:
            raise ValueError(f"unknown scheme {scheme!r}")
        nn.init.zeros_(layer.bias)
    return model


def weight_variance(scheme: str, fan_in: int, fan_out: int) -> float:
    """σ_w² of each scheme, by formula."""
    return {
        "small": SMALL_STD**2,
        "xavier": 2 / (fan_in + fan_out),  # eq. (vg-xavier)
        "he": 2 / fan_in,  # eq. (vg-he)
        "default": 1 / (3 * fan_in),  # eq. (vg-torch-default)
    }[scheme]


# %% [markdown]
# ## Verification
#
# ### The Jacobian product against autograd
#
# A 5-layer net with widths $4\to7\to6\to5\to3\to2$ (unequal, so a transposed matrix cannot
# pass by accident), random weights and biases, an activation after every layer and the loss
# $\mathcal L=r^\top h_L$ for a random $r$, so that $\partial\mathcal L/\partial h_L=r$. For each
# activation, the explicit product {eq}`vg-chain` must equal autograd's gradient with respect
# to the input, each $J_l$ must equal `torch.autograd.functional.jacobian` of its layer, and
# $J_L\cdots J_1$ must equal the Jacobian of the whole net, all in float64 to `atol=1e-12`.
# The bound {eq}`vg-bound` must hold.

# %%
widths = [4, 7, 6, 5, 3, 2]
small_weights = [torch.from_numpy(rng.standard_normal((b, a))) for a, b in pairwise(widths)]
small_biases = [torch.from_numpy(rng.standard_normal(b)) for b in widths[1:]]
x_one = torch.from_numpy(rng.standard_normal(widths[0]))  # (n_0,)
readout = torch.from_numpy(rng.standard_normal(widths[-1]))  # (n_L,): ∂L/∂h_L


def apply_layer(
    v: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, f: Callable
) -> torch.Tensor:
    """One layer f(W v + b) with torch's own ops."""
    return f(F.linear(v, weight, bias))


def small_net(x: torch.Tensor, activation: str) -> torch.Tensor:
    """The verification net with torch's own ops; h_L of shape (n_L,)."""
    f = ACTIVATIONS[activation][0]
    for weight, bias in zip(small_weights, small_biases, strict=True):
        x = f(F.linear(x, weight, bias))
    return x


for activation, (f, derivative) in ACTIVATIONS.items():
    jacobians, pre_activations = layer_jacobians(small_weights, small_biases, x_one, activation)
    ours = input_gradient_by_jacobians(jacobians, readout)  # (n_0,)
    x_leaf = x_one.clone().requires_grad_(True)
    (small_net(x_leaf, activation) @ readout).backward()
    check_close(f"{activation}: J_1ᵀ⋯J_Lᵀ r vs autograd ∂L/∂x", ours, x_leaf.grad, atol=1e-12)
    h, autograd_jacobians = x_one, []
    for weight, bias in zip(small_weights, small_biases, strict=True):
        layer = partial(apply_layer, weight=weight, bias=bias, f=f)
        autograd_jacobians.append(torch.autograd.functional.jacobian(layer, h))
        h = layer(h)
    check_close(
        f"{activation}: every J_l vs autograd.functional.jacobian",
        torch.cat([j.flatten() for j in jacobians]),
        torch.cat([j.flatten() for j in autograd_jacobians]),
        atol=1e-12,
    )
    full = torch.autograd.functional.jacobian(lambda v, a=activation: small_net(v, a), x_one)
    check_close(
        f"{activation}: J_L⋯J_1 vs ∂h_L/∂x", end_to_end_jacobian(jacobians), full, atol=1e-12
    )
    bound = jacobian_product_bound(small_weights, pre_activations, derivative, readout)
    actual = float(torch.linalg.vector_norm(ours))
    check_true(
        f"{activation}: eq. (vg-bound) holds", actual <= bound, f"{actual:.3g} ≤ {bound:.3g}"
    )

# %% [markdown]
# ### The initialisers against `torch.nn.init`
#
# Two independent checks. First, from the same generator state ours and PyTorch's must produce
# the same numbers, which tests the fans, the gain and the distribution at once. Second, the
# mean of $W_{ij}^2$ over 120,000 draws must match the variance *formula* of
# {eq}`vg-xavier`, {eq}`vg-he` and {eq}`vg-torch-default`, written out here independently of
# both implementations (a Monte-Carlo check: within 4 standard errors).

# %%
init_shape = (400, 300)  # (fan_out, fan_in) of a Linear(300, 400)
fan_in, fan_out = init_shape[1], init_shape[0]
initialiser_cases = [
    ("xavier_normal_", xavier_normal_, nn.init.xavier_normal_, {}, 2 / (fan_in + fan_out)),
    ("xavier_uniform_", xavier_uniform_, nn.init.xavier_uniform_, {}, 2 / (fan_in + fan_out)),
    (
        "kaiming_normal_ (relu)",
        kaiming_normal_,
        nn.init.kaiming_normal_,
        dict(nonlinearity="relu"),
        2 / fan_in,
    ),
    (
        "kaiming_normal_ (fan_out)",
        kaiming_normal_,
        nn.init.kaiming_normal_,
        dict(mode="fan_out", nonlinearity="relu"),
        2 / fan_out,
    ),
    ("kaiming_uniform_ (defaults)", kaiming_uniform_, nn.init.kaiming_uniform_, {}, 2 / fan_in),
    (
        "kaiming_uniform_ (a = √5)",
        kaiming_uniform_,
        nn.init.kaiming_uniform_,
        dict(a=math.sqrt(5)),
        1 / (3 * fan_in),
    ),
]
for name, ours_init, torch_init, kwargs, variance in initialiser_cases:
    ours_draw = ours_init(
        torch.empty(init_shape), generator=torch.Generator().manual_seed(1), **kwargs
    )
    torch_draw = torch_init(
        torch.empty(init_shape), generator=torch.Generator().manual_seed(1), **kwargs
    )
    check_equal(f"{name}: same draws as torch.nn.init", ours_draw, torch_draw)
    check_mean_close(f"{name}: E[W²] = {variance:.3g}", ours_draw.flatten() ** 2, variance, z_max=4)

# %% [markdown]
# The last case is what `nn.Linear` does by default; its weights must have the variance
# $1/(3\,\text{fan}_\text{in})$ of {eq}`vg-torch-default`, and its gains must be PyTorch's:

# %%
default_weight = nn.Linear(fan_in, fan_out).weight.detach().flatten()
check_mean_close(
    "nn.Linear default: E[W²] = 1/(3 fan_in)", default_weight**2, 1 / (3 * fan_in), z_max=4
)
gain_cases = [
    ("linear", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("conv2d", None),
]
check_close(
    "calculate_gain vs torch.nn.init.calculate_gain",
    [calculate_gain(name, param) for name, param in gain_cases],
    [nn.init.calculate_gain(name, param) for name, param in gain_cases],
    atol=1e-15,
)
check_equal(
    "fans of a conv weight (8, 3, 5, 5)", calculate_fans(torch.empty(8, 3, 5, 5)), (75, 200)
)

# %% [markdown]
# ### Backpropagation through time is the same product
#
# {eq}`vg-bptt` for `nn.RNN`: a tanh RNN with 6 hidden units run for 20 steps from a random
# $h_0$. The explicit product of the 20 step Jacobians must equal autograd's
# $\partial h_T/\partial h_0$.

# %%
rnn_check = nn.RNN(input_size=3, hidden_size=6)  # tanh by default
rnn_inputs = torch.from_numpy(rng.standard_normal((20, 1, 3)))  # (T, B, D)
rnn_h0 = torch.from_numpy(rng.standard_normal((1, 1, 6)))  # (layers, B, H)


def rnn_last_state(h0: torch.Tensor) -> torch.Tensor:
    return rnn_check(rnn_inputs, h0.reshape(1, 1, 6))[0][-1, 0]  # (H,)


with torch.no_grad():
    states = rnn_check(rnn_inputs, rnn_h0)[0][:, 0]  # (T, H): h_1 … h_T
bptt_product = torch.eye(6)
for h_t in states:  # eq. (vg-bptt): left-multiply diag(1 - h_t²) W_hh, t = 1 … T
    bptt_product = torch.diag(1 - h_t**2) @ rnn_check.weight_hh_l0 @ bptt_product
autograd_bptt = torch.autograd.functional.jacobian(rnn_last_state, rnn_h0.flatten())  # (H, H)
check_close("Π diag(1 - h_t²) W_hh vs autograd ∂h_T/∂h_0", bptt_product, autograd_bptt, atol=1e-12)

# %% [markdown]
# ## Experiments
#
# ### 1. Gradient norms layer by layer: three activations × three initialisations
#
# Nine 30-layer MLPs of width 128 on the same batch of 256 standardised digits (8×8 images,
# 10 classes), cross-entropy loss, float64, biases zero. Every net is built after
# `torch.manual_seed(0)`, and `small`, `xavier` and `he` all draw normals, so the nine nets
# share one set of standard-normal matrices and differ only in their scale and activation. For
# each net the figure shows, layer by layer, the weight gradients $\lVert\partial\mathcal
# L/\partial W_l\rVert_F$ (read with `gradient_norms`) and the backpropagated signal
# $\lVert\partial\mathcal L/\partial h_l\rVert$.

# %%
digits_x, digits_y = load_digits(return_X_y=True)
digits_x = (digits_x - digits_x.mean(0)) / (digits_x.std(0) + 1e-8)  # standardise each pixel
batch_index = rng.choice(len(digits_x), size=256, replace=False)
x_batch = torch.from_numpy(digits_x[batch_index])  # (B, 64)
y_batch = torch.from_numpy(digits_y[batch_index])  # (B,)

DEPTH, WIDTH = 30, 128
SCHEMES = ["small", "xavier", "he"]
grad_runs = {}
for activation in ACTIVATIONS:
    for scheme in SCHEMES:
        torch.manual_seed(0)
        model = initialise_(DeepMLP(64, WIDTH, 10, DEPTH, activation), scheme)
        logits, pre_activations, hidden = model.forward_with_hidden(x_batch)
        loss = F.cross_entropy(logits, y_batch)
        hidden_grads = torch.autograd.grad(loss, hidden, retain_graph=True)  # ∂L/∂h_l
        loss.backward()
        grad_runs[activation, scheme] = dict(
            weight=np.array(list(gradient_norms(model).values())),  # (L,), input side first
            signal=np.array([float(torch.linalg.vector_norm(g)) for g in hidden_grads]),  # (L-1,)
            slopes=[ACTIVATIONS[activation][1](z.detach()) for z in pre_activations],
            first_weight=model.layers[0].weight.detach().clone(),
        )
scale_he = math.sqrt(weight_variance("he", 64, WIDTH)) / SMALL_STD
check_close(
    "first layer: He weights = small weights × σ_He / 0.01 (one set of draws)",
    grad_runs["relu", "he"]["first_weight"],
    grad_runs["relu", "small"]["first_weight"] * scale_he,
    atol=1e-12,
)

# %%
ACTIVATION_COLOURS = {"sigmoid": PALETTE[1], "tanh": PALETTE[2], "relu": PALETTE[0]}
SCHEME_STYLES = {"small": ":", "xavier": "--", "he": "-", "default": "-."}
SCHEME_LABELS = {"small": "σ = 0.01", "xavier": "Xavier", "he": "He", "default": "PyTorch default"}
signal_spread = {key: run["signal"].max() / run["signal"].min() for key, run in grad_runs.items()}

fig, (ax_weight, ax_signal) = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
for (activation, scheme), run in grad_runs.items():
    style = dict(color=ACTIVATION_COLOURS[activation], ls=SCHEME_STYLES[scheme])
    label = f"{activation}, {SCHEME_LABELS[scheme]}"
    ax_weight.semilogy(np.arange(1, DEPTH + 1), run["weight"], **style, label=label)
    ax_signal.semilogy(np.arange(1, DEPTH), run["signal"], **style, label=label)
ax_weight.set(
    xlabel="layer l (1 = input side)",
    ylabel="gradient norm",
    title=r"Weight gradients $\|\partial\mathcal{L}/\partial W_l\|_F$",
)
ax_signal.set(
    xlabel="layer l (1 = input side)",
    title=r"Backward signal $\|\partial\mathcal{L}/\partial h_l\|$",
)
ax_signal.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.suptitle(
    f"From layer {DEPTH - 1} to layer 1 the backward signal changes "
    f"{signal_spread['relu', 'he']:.1f}× with ReLU + He, "
    f"{signal_spread['sigmoid', 'xavier']:.0e}× with sigmoid + Xavier"
)
plt.show()

# %% [markdown]
# Three things to read off the figure.
#
# - **Sigmoid vanishes under every initialisation.** Its lines fall steeply toward the input in
#   both panels; even He's larger weights only soften the slope.
# - **ReLU needs He; tanh is fine with Xavier.** ReLU + He and tanh + Xavier are nearly flat.
#   ReLU + Xavier is flat in the left panel but orders of magnitude lower (the printout below
#   gives $\lVert\partial\mathcal L/\partial W_1\rVert$ of every net), because Xavier's
#   $n\sigma_w^2=1$ is half of what ReLU needs: the backward signal loses $\sqrt{1/2}$ per
#   layer.
# - **Flat is not healthy.** With $\sigma=0.01$, tanh and ReLU give weight gradients that are
#   the same in every layer and tiny (printed below). By {eq}`vg-weight-grad` the weight gradient
#   is the backward signal (which shrinks toward the input) times the forward activation
#   (which shrinks toward the output). With zero biases these nets are linear near 0, or
#   exactly homogeneous for ReLU, and the two factors meet at the same total, $s^{L-1}$ for a
#   per-layer factor $s$, in every layer. The right panel shows the vanishing that the left
#   panel hides.
#
# How fast should each line fall? {eq}`vg-backward-var` predicts the per-layer factor
# $\lVert g_{l-1}\rVert/\lVert g_l\rVert\approx\sqrt{n\sigma_w^2\,\overline{f'(z_l)^2}}$ with
# the scheme's $\sigma_w^2$ and the mean of $f'(z_l)^2$ over the batch. The geometric mean of
# the measured factors over the hidden layers must agree within 5 % (the independence
# assumption behind {eq}`vg-backward-var` is not exact, and one net is one random draw).

# %%
predicted_factor, measured_factor = [], []
print("activation  init      measured  predicted  ‖∂L/∂W_1‖")
for (activation, scheme), run in grad_runs.items():
    variance = weight_variance(scheme, WIDTH, WIDTH)
    # ‖g_{l-1}‖ / ‖g_l‖ for l = 2 … L-1; the slope of layer l is slopes[l - 1]
    measured = run["signal"][:-1] / run["signal"][1:]
    predicted = np.array(
        [math.sqrt(WIDTH * variance * float(s.pow(2).mean())) for s in run["slopes"][1:]]
    )
    measured_factor.append(np.exp(np.log(measured).mean()))
    predicted_factor.append(np.exp(np.log(predicted).mean()))
    first = run["weight"][0]
    print(
        f"{activation:>10}  {scheme:<8}  {measured_factor[-1]:8.4f}  "
        f"{predicted_factor[-1]:9.4f}  {first:9.2e}"
    )
check_close(
    "per-layer factor of ‖∂L/∂h‖: measured vs eq. (vg-backward-var)",
    np.array(measured_factor),
    np.array(predicted_factor),
    atol=0.0,
    rtol=0.05,
)
sigmoid_xavier = measured_factor[list(grad_runs).index(("sigmoid", "xavier"))]
check_true(
    "sigmoid + Xavier loses at least 4× per layer (σ' ≤ 1/4)",
    bool(sigmoid_xavier <= 0.25),
    f"{sigmoid_xavier:.3f} ≤ 0.25",
)

# %% [markdown]
# ### 2. The errata's numbers: a 50-layer ReLU net of width 512
#
# The same input ($x\sim\mathcal N(0,I)$, a batch of 256, $\mathbb E[x^2]=1$) through 50
# bias-free ReLU layers of width 512, once with $\sigma_w=0.01$ and once with He's
# $\sigma_w=\sqrt{2/512}$. By {eq}`vg-relu-moment` the scale of the activations changes by
# $\sqrt{n\sigma_w^2/2}$ per layer, exactly $0.16$ for $\sigma_w=0.01$ and $1$ for He, and by
# {eq}`vg-relu-std` the standard deviation of layer $l$ is
# $\sqrt{1-1/\pi}\,(n\sigma_w^2/2)^{l/2}$.

# %%
ERRATA_WIDTH, ERRATA_DEPTH = 512, 50
per_layer_scale = math.sqrt(ERRATA_WIDTH * SMALL_STD**2 / 2)  # eq. (vg-relu-moment)
check_close("√(nσ²/2) for n = 512, σ = 0.01", per_layer_scale, 0.16, atol=1e-15)
print(
    f"second moment × {ERRATA_WIDTH * SMALL_STD**2 / 2:.4f} per layer, "
    f"scale × {per_layer_scale:.2f}; "
    f"over {ERRATA_DEPTH} layers the scale × {per_layer_scale**ERRATA_DEPTH:.2g}"
)

x_wide = torch.randn(256, ERRATA_WIDTH)  # (B, n)
errata_runs = {}
for scheme in ("small", "he"):
    generator = torch.Generator().manual_seed(1)
    std_w = math.sqrt(weight_variance(scheme, ERRATA_WIDTH, ERRATA_WIDTH))
    h, stds, moments = x_wide, [], [float(x_wide.pow(2).mean())]
    for _ in range(ERRATA_DEPTH):
        weight = torch.empty(ERRATA_WIDTH, ERRATA_WIDTH).normal_(0.0, std_w, generator=generator)
        h = torch.relu(h @ weight.T)  # (B, n), eq. (vg-forward) with b = 0
        stds.append(float(h.std()))
        moments.append(float(h.pow(2).mean()))
    errata_runs[scheme] = dict(std=np.array(stds), moment=np.array(moments), var_w=std_w**2)

# %% [markdown]
# Three checks. The fitted slope of $\log\operatorname{std}(h_l)$ against $l$ must give the
# factor $0.16$ (within 2 %). Each layer's measured ratio $\mathbb E[h_l^2]/\mathbb
# E[h_{l-1}^2]$ divided by $n\sigma_w^2/2$ has expectation exactly 1 given the layer below (the
# argument of {eq}`vg-relu-moment` is exact in expectation over a Gaussian $W_l$, at any
# width), so the mean of the 100 ratios of both runs must be 1 within 4 standard errors. And
# He must keep the standard deviation $O(1)$.

# %%
layers_axis = np.arange(1, ERRATA_DEPTH + 1)
fitted_scale = math.exp(np.polyfit(layers_axis, np.log(errata_runs["small"]["std"]), 1)[0])
check_close(
    "fitted per-layer factor of std(h_l), σ = 0.01", fitted_scale, 0.16, atol=0.0, rtol=0.02
)
normalised_gains = np.concatenate(
    [
        (run["moment"][1:] / run["moment"][:-1]) / (ERRATA_WIDTH * run["var_w"] / 2)
        for run in errata_runs.values()
    ]
)
check_mean_close("E[h_l²] / E[h_{l-1}²] ÷ (nσ²/2)", normalised_gains, 1.0, z_max=4)
small_final, he_final = errata_runs["small"]["std"][-1], errata_runs["he"]["std"][-1]
predicted_he = math.sqrt(1 - 1 / math.pi)  # eq. (vg-relu-std) with E[h²] = 1
check_true("He keeps std(h_50) of order 1", bool(0.2 < he_final < 5), f"{he_final:.3f}")
print(
    f"after {ERRATA_DEPTH} layers: σ = 0.01 gives std {small_final:.2e} "
    f"(formula {predicted_he * per_layer_scale**ERRATA_DEPTH:.2e}); He gives {he_final:.3f} "
    f"(infinite-width formula {predicted_he:.3f}), E[h²] = {errata_runs['he']['moment'][-1]:.3f}"
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
for scheme, colour in [("small", PALETTE[1]), ("he", PALETTE[0])]:
    run = errata_runs[scheme]
    scale = math.sqrt(ERRATA_WIDTH * run["var_w"] / 2)
    ax.semilogy(
        layers_axis,
        predicted_he * scale**layers_axis,
        color=colour,
        lw=1.2,
        label=f"{SCHEME_LABELS[scheme]}: predicted, × {scale:.2f} per layer",
    )
    ax.semilogy(
        layers_axis,
        run["std"],
        "o",
        ms=3.5,
        color=colour,
        label=f"{SCHEME_LABELS[scheme]}: measured",
    )
ax.set(
    xlabel="layer l",
    ylabel="std of the activations $h_l$",
    title=f"σ = 0.01 shrinks ReLU activations {fitted_scale:.3f}× per layer, to "
    f"{small_final:.0e}; He keeps {he_final:.2f}",
)
ax.legend()
plt.show()

# %% [markdown]
# After 50 He layers the measured standard deviation (printed above) is of order 1 but not
# the infinite-width prediction $\sqrt{1-1/\pi}=0.826$, and another seed gives another value.
# The reason is that at finite width each layer's gain is a random variable with mean 1
# (checked above) and a spread of a few percent. The log of the scale therefore takes a random
# walk, whose spread grows like the square root of the depth, with a small downward drift (a
# product of random factors with mean 1 has a median below 1). That is what "order 1" means
# here, next to the factor 0.16 *per layer* of the small initialisation. The
# $\sigma_w=0.01$ run matches its prediction over 40 orders of magnitude (float64 has room down
# to $10^{-308}$; in float32 these activations would have become subnormal numbers and then 0).
#
# ### 3. What vanishing gradients do to training
#
# The same 20-layer MLP of width 64 trained on all 1797 digits, four times: sigmoid with
# Xavier, ReLU with PyTorch's default initialisation, tanh with Xavier and ReLU with He. Same
# seed, same minibatches of 128, SGD with momentum 0.9 and learning rate 0.01, 150 steps,
# float32 on `get_device()`. The legend gives each net's first-layer gradient norm at the
# first step.

# %%
device = get_device()
TRAIN_DEPTH, TRAIN_WIDTH, TRAIN_STEPS, TRAIN_BATCH = 20, 64, 150, 128
train_x = torch.tensor(digits_x, dtype=torch.float32, device=device)  # (N, 64)
train_y = torch.tensor(digits_y, device=device)  # (N,)
train_configs = [("sigmoid", "xavier"), ("relu", "default"), ("tanh", "xavier"), ("relu", "he")]
train_runs = {}
for activation, scheme in train_configs:
    torch.manual_seed(0)
    model = DeepMLP(64, TRAIN_WIDTH, 10, TRAIN_DEPTH, activation)
    model = initialise_(model, scheme).to(device=device, dtype=torch.float32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = torch.Generator().manual_seed(0)  # the same minibatches for every net
    losses, first_layer_norm = [], None
    for step in range(TRAIN_STEPS):
        index = torch.randint(0, len(train_x), (TRAIN_BATCH,), generator=batches).to(device)
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            first_layer_norm = gradient_norms(model)["layers.0.weight"]
        optimizer.step()
        losses.append(loss.item())
    train_runs[activation, scheme] = dict(loss=np.array(losses), first=first_layer_norm)
    final = np.mean(losses[-20:])
    print(
        f"{activation:>7} + {SCHEME_LABELS[scheme]:<15}: "
        f"‖∂L/∂W_1‖ at step 0 {first_layer_norm:.1e}, "
        f"mean loss over the last 20 steps {final:.3f}"
    )

# %%
chance = math.log(10)  # loss of a uniform guess over 10 classes
final_loss = {key: run["loss"][-20:].mean() for key, run in train_runs.items()}
for key in [("sigmoid", "xavier"), ("relu", "default")]:
    check_true(
        f"{key[0]} + {SCHEME_LABELS[key[1]]} stays near ln 10",
        bool(final_loss[key] > 0.95 * chance),
        f"{final_loss[key]:.3f} vs ln 10 = {chance:.3f}",
    )
for key in [("tanh", "xavier"), ("relu", "he")]:
    check_true(
        f"{key[0]} + {SCHEME_LABELS[key[1]]} learns",
        bool(final_loss[key] < 0.5 * chance),
        f"{final_loss[key]:.3f} < {0.5 * chance:.3f}",
    )

fig, ax = plt.subplots(figsize=(7.5, 4.2))
for activation, scheme in train_configs:
    run = train_runs[activation, scheme]
    ax.plot(
        np.arange(1, TRAIN_STEPS + 1),
        run["loss"],
        color=ACTIVATION_COLOURS[activation],
        ls=SCHEME_STYLES[scheme],
        label=f"{activation}, {SCHEME_LABELS[scheme]} (‖∂L/∂W₁‖ = {run['first']:.0e})",
    )
ax.axhline(chance, color="0.5", lw=0.8, label="ln 10 (uniform guess)")
ax.set(
    xlabel="SGD step",
    ylabel="training loss (cross-entropy)",
    title=f"20 layers: ReLU + He reaches {final_loss['relu', 'he']:.2f}, "
    f"sigmoid stays at {final_loss['sigmoid', 'xavier']:.2f} ≈ ln 10",
)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# The two nets that stay at $\ln 10$ do not just learn slowly in the first layers: their
# output barely depends on the input at all, since the forward product $J_L\cdots J_1$ has
# vanished too. The last layer can then learn only the class frequencies. ReLU with PyTorch's
# default loses $\sqrt{1/6}$ of the signal per layer ({eq}`vg-torch-default`), so that
# default is a poor choice for a deep plain ReLU MLP. It is fine for the shallow or normalised
# nets it is usually used in.
#
# ### 4. Recurrent nets: how far back does the gradient reach?
#
# One sequence of 100 random inputs (8 features) through five recurrent nets with 32 hidden
# units: a tanh RNN with PyTorch's initialisation, the same RNN with an orthogonal $W_{hh}$
# (all singular values 1), and an LSTM with its forget-gate bias at PyTorch's default (about
# 0), at 1 and at 3. The loss is $r^\top h_T$ for a fixed random $r$, and the figure shows
# $\lVert\partial\mathcal L/\partial x_t\rVert$ against the distance $T-t$.

# %%
SEQ_LEN, INPUT_SIZE, HIDDEN = 100, 8, 32
sequence = torch.randn(SEQ_LEN, 1, INPUT_SIZE)  # (T, B, D)
rnn_readout = torch.randn(HIDDEN)  # (H,)


def input_sensitivity(model: nn.Module) -> np.ndarray:
    """‖∂(rᵀh_T)/∂x_t‖ for t = 1 … T, shape (T,)."""
    inputs = sequence.clone().requires_grad_(True)
    outputs, _ = model(inputs)  # (T, B, H)
    (outputs[-1, 0] @ rnn_readout).backward()
    return torch.linalg.vector_norm(inputs.grad[:, 0], dim=-1).numpy()  # (T,)


def make_recurrent(kind: str, forget_bias: float | None = None) -> nn.Module:
    torch.manual_seed(0)
    if kind.startswith("rnn"):
        model = nn.RNN(INPUT_SIZE, HIDDEN)
        if kind == "rnn orthogonal":
            nn.init.orthogonal_(model.weight_hh_l0)
        return model
    model = nn.LSTM(INPUT_SIZE, HIDDEN)
    if forget_bias is not None:
        with torch.no_grad():  # PyTorch orders the gates (input, forget, cell, output)
            model.bias_ih_l0[HIDDEN : 2 * HIDDEN] = forget_bias
            model.bias_hh_l0[HIDDEN : 2 * HIDDEN] = 0.0
    return model


recurrent_configs = {
    "tanh RNN": ("rnn", None),
    "tanh RNN, orthogonal $W_{hh}$": ("rnn orthogonal", None),
    "LSTM, forget bias ≈ 0 (default)": ("lstm", None),
    "LSTM, forget bias 1": ("lstm", 1.0),
    "LSTM, forget bias 3": ("lstm", 3.0),
}
sensitivity = {
    name: input_sensitivity(make_recurrent(*cfg)) for name, cfg in recurrent_configs.items()
}
w_hh = make_recurrent("rnn").weight_hh_l0.detach()
spectral_norm = float(torch.linalg.matrix_norm(w_hh, ord=2))
spectral_radius = float(torch.linalg.eigvals(w_hh).abs().max())
print(f"tanh RNN: ‖W_hh‖₂ = {spectral_norm:.3f}, spectral radius {spectral_radius:.3f}")
for name, values in sensitivity.items():
    print(
        f"{name:>32}: ‖∂L/∂x_t‖ at T-t = 0: {values[-1]:.1e}, "
        f"at T-t = {SEQ_LEN - 1}: {values[0]:.1e}"
    )

# %%
rnn_far = sensitivity["tanh RNN"][0]
lstm3_far = sensitivity["LSTM, forget bias 3"][0]
lstm0_far = sensitivity["LSTM, forget bias ≈ 0 (default)"][0]
check_true(
    "the LSTM with forget bias 3 reaches 10⁶× further back than the RNN",
    bool(lstm3_far > 1e6 * rnn_far),
    f"{lstm3_far:.1e} vs {rnn_far:.1e}",
)
check_true(
    "the default LSTM vanishes too",
    bool(lstm0_far < 1e-6 * lstm3_far),
    f"{lstm0_far:.1e} vs {lstm3_far:.1e}",
)

fig, ax = plt.subplots(figsize=(7.5, 4.2))
distance = SEQ_LEN - 1 - np.arange(SEQ_LEN)  # T - t
styles = [
    (PALETTE[1], "-"),
    (PALETTE[1], "--"),
    (PALETTE[0], ":"),
    (PALETTE[0], "--"),
    (PALETTE[0], "-"),
]
for (name, values), (colour, style) in zip(sensitivity.items(), styles, strict=True):
    ax.semilogy(distance, values, color=colour, ls=style, label=name)
ax.set(
    xlabel="distance T − t (steps back in time)",
    ylabel=r"$\|\partial\mathcal{L}/\partial x_t\|$",
    title=f"{SEQ_LEN - 1} steps back: RNN {rnn_far:.0e}, default LSTM {lstm0_far:.0e}, "
    f"LSTM with forget bias 3 {lstm3_far:.0e}",
)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# The RNN's $\lVert W_{hh}\rVert_2$ (printed above) is close to 1, so the bound in
# {eq}`vg-bptt` alone does not force decay. What does is the product of the same matrix with
# itself: $\lVert W_{hh}^k\rVert$ grows or shrinks like $\rho^k$ for the spectral radius $\rho$
# (printed, well below 1), and each step's $1-h_k^2<1$ shrinks it further. An orthogonal
# $W_{hh}$ ($\rho=1$) removes the weights' share of the decay but not tanh's. The LSTM helps
# only as much as its forget gates let it. PyTorch initialises their bias like every other bias
# (close to 0), so $f_t\approx\sigma(0)=\tfrac12$, the cell path halves the gradient at every
# step, and the gradient still vanishes geometrically. A forget bias of 1, the value
# {cite:t}`jozefowicz2015empirical` recommend, gives $\sigma(1)=0.73$; a bias of 3 gives
# $0.95$, and the gradient crosses all 100 steps.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "If every derivative is below 1, the product vanishes." Is that the reason?
# Half of it. Each factor of the product is a Jacobian $\operatorname{diag}(f'(z_l))W_l$, and
# its size is the activation's slope times the scale of the weights ({eq}`vg-bound`,
# {eq}`vg-backward-var`). A ReLU net, whose active units have $f'=1$, vanishes with small
# weights (Experiments 1 and 2), and a tanh net with $f'\le1$ explodes with large ones. The
# question to ask is whether $n\sigma_w^2\,\mathbb E[f'(z)^2]$ is below, at or above 1.
# :::
#
# :::{dropdown} "Switch to ReLU and the problem is gone."
# Only together with an initialisation that has $n\sigma_w^2=2$. ReLU passes the gradient of
# active units unchanged but zeroes the rest, so on average it halves the second moment, and
# the weights must double it. With Xavier a deep ReLU net loses $\sqrt{1/2}$ per layer, with
# PyTorch's `nn.Linear` default $\sqrt{1/6}$ (Experiments 1 and 3). ReLU also has exactly zero
# gradient for negative inputs, so a unit whose pre-activation is negative on every example
# ("dead") stops learning for good. Leaky ReLU, GELU and SiLU keep a small slope there.
# :::
#
# :::{dropdown} My gradient-norm plot is flat across layers. Is the net healthy?
# Look at the level, not only the slope. In a bias-free ReLU or tanh net with tiny weights,
# the weight gradient of layer $l$ is the backward signal ($\propto s^{L-l}$) times the
# activation that enters the layer ($\propto s^{l-1}$), so every layer gets $s^{L-1}$: flat,
# and far below the healthy nets in Experiment 1. Plot $\lVert\partial\mathcal L/\partial
# h_l\rVert$ too, or the ratio of gradient to weight norm per layer.
# :::
#
# :::{dropdown} Does gradient clipping help with vanishing gradients?
# No. Clipping by norm multiplies the whole gradient by $\min(1,c/\lVert g\rVert)\le1$: it can
# only make gradients smaller, and it scales every layer by the same factor, so the ratio
# between the first and the last layer stays what it was. It is a remedy for *exploding*
# gradients {cite}`pascanu2013difficulty` (chapter 03 of this part). The cell below clips the
# sigmoid + Xavier net of Experiment 1 to a tenth of its norm.
# :::

# %%
torch.manual_seed(0)
clipped_model = initialise_(DeepMLP(64, WIDTH, 10, DEPTH, "sigmoid"), "xavier")
F.cross_entropy(clipped_model(x_batch), y_batch).backward()
before = np.array(list(gradient_norms(clipped_model).values()))  # (L,)
total = nn.utils.clip_grad_norm_(clipped_model.parameters(), max_norm=0.1 * before.max())
after = np.array(list(gradient_norms(clipped_model).values()))
check_close(
    "first/last layer gradient ratio, clipped vs not",
    after[0] / after[-1],
    before[0] / before[-1],
    atol=0.0,
    rtol=1e-10,
)
print(
    f"total norm {float(total):.3g} clipped to {0.1 * before.max():.3g}; the first layer's "
    f"gradient is still {after[0] / after[-1]:.1e} times the last layer's"
)

# %% [markdown]
# :::{dropdown} Doesn't Adam fix it, since it divides each gradient by its own scale?
# In part. Adam's step $\eta\,\hat m_t/(\sqrt{\hat v_t}+\epsilon)$ is about $\eta$ for any
# gradient well above $\epsilon$ ($10^{-8}$ by default), so a first layer whose gradients are
# small but above $\epsilon$ does move. Gradients far below $\epsilon$, like the first layers'
# of the sigmoid nets in Experiment 1, get steps of about $\eta\,g/\epsilon$ and stay frozen.
# Nor does Adam repair the forward pass: if
# $J_L\cdots J_1\approx0$ the output ignores the input, and rescaled steps do not change that
# until the weights have grown.
# :::
#
# :::{dropdown} How do BatchNorm and residual connections help?
# Normalisation divides each layer's pre-activations by their batch (or per-example) standard
# deviation, which undoes any scale the weights introduced in the forward pass, so the
# variance recursion {eq}`vg-forward-var` is reset at every layer (chapter 04 of this part).
# A residual block computes $h_l=h_{l-1}+F_l(h_{l-1})$, so its Jacobian is $I+\partial
# F_l/\partial h_{l-1}$: the identity carries the gradient even when the branch's Jacobian is
# small, and the product over blocks does not shrink geometrically (chapter 06).
# :::
#
# :::{dropdown} Does an LSTM solve vanishing gradients?
# It gives the gradient one path, through the cell state, whose per-step Jacobian is
# $\operatorname{diag}(f_t)$ instead of a weight matrix times a slope ({eq}`vg-lstm`). How far
# it reaches depends on the forget gates: near 1 the gradient survives hundreds of steps, near
# $\tfrac12$ it halves every step (Experiment 4). The original LSTM had no forget gate and
# kept its cell error exactly constant {cite}`hochreiter1997lstm`. The gates were added later
# {cite}`gers2000learning`, which is why a positive forget-gate bias at initialisation matters.
# Paths through $h_{t-1}$ and the gates still vanish as in an RNN.
# :::
#
# :::{dropdown} Why does PyTorch's gain for tanh equal 5/3 rather than Xavier's 1?
# Xavier's derivation treats tanh as linear near 0. Real pre-activations are not all near 0,
# tanh's slope is below 1 away from it, and with gain 1 the signal of a deep tanh net drifts
# slowly toward 0 (the tanh + Xavier factor in Experiment 1 is a little below 1). A gain a
# little above 1 offsets that; 5/3 is PyTorch's choice {cite}`pytorch2025init`. He's gain of
# $\sqrt2$ on a tanh net gives a factor a little above 1 in Experiment 1, the other side of the
# same balance.
# :::
#
# :::{dropdown} Orthogonal initialisation: what does it add?
# An orthogonal $W$ has all singular values equal to 1, so it preserves the norm of *every*
# vector, not only on average. For deep linear nets this makes the whole product
# $J_L\cdots J_1$ orthogonal ("dynamical isometry") and learning speed independent of depth
# {cite}`saxe2014exact`. With a nonlinearity the slopes still multiply in (the orthogonal RNN
# of Experiment 4 vanishes too, only more slowly).
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A bias-free ReLU MLP of width 256 and 10 layers keeps PyTorch's default `nn.Linear`
#    initialisation. By what factor does $\mathbb E[h^2]$ change per layer, and over the 10
#    layers? The next cell checks the answer by simulation.
#
#    :::{dropdown} Answer
#    By {eq}`vg-torch-default`, $\sigma_w^2=1/(3n)$, so {eq}`vg-relu-moment` gives
#    $n\sigma_w^2/2=1/6$ per layer and $(1/6)^{10}\approx1.7\times10^{-8}$ over ten: the scale of
#    the activations falls by $\sqrt{1/6}\approx0.41$ per layer. The width does not matter.
#    :::

# %%
torch.manual_seed(1)
h_check = torch.randn(512, 256)  # (B, n), E[h_0²] = 1
moments = [float(h_check.pow(2).mean())]
with torch.no_grad():
    for _ in range(10):
        h_check = torch.relu(nn.Linear(256, 256, bias=False)(h_check))  # default init
        moments.append(float(h_check.pow(2).mean()))
moments = np.array(moments)
check_mean_close(
    "per-layer factor of E[h²], default init", moments[1:] / moments[:-1], 1 / 6, z_max=4
)
print(f"over 10 layers: measured {moments[-1] / moments[0]:.2e}, formula {(1 / 6) ** 10:.2e}")

# %% [markdown]
# 2. In Experiment 1 the weight gradients of the bias-free ReLU net with $\sigma_w=0.01$ are
#    nearly equal in all 30 layers. Why, and would adding biases of 0.1 change the picture?
#
#    :::{dropdown} Answer
#    The net is positively homogeneous: scaling all weights by $c$ scales $h_l$ by $c^l$. By
#    {eq}`vg-weight-grad`, $\lVert\partial\mathcal L/\partial W_l\rVert=\lVert\delta_l\rVert
#    \lVert h_{l-1}\rVert$ with $\lVert\delta_l\rVert\propto s^{L-l}$ and $\lVert h_{l-1}\rVert
#    \propto s^{l-1}$, so every layer gets $\propto s^{L-1}$. With biases of 0.1 the activations
#    no longer shrink toward the output (each layer adds a constant of 0.1), the forward factor
#    stays of order 1 in every layer, and the weight gradients fall toward the input like the
#    backward signal: the vanishing becomes visible in the weight gradients too.
#    :::
#
# 3. Ten sigmoid layers of width 64 with orthogonal weights ($\lVert W_l\rVert_2=1$). What is
#    the most that $\lVert\partial\mathcal L/\partial h_0\rVert/\lVert\partial\mathcal
#    L/\partial h_{10}\rVert$ can be? Check it on a random input.
#
#    :::{dropdown} Answer
#    By {eq}`vg-bound` with $\lVert W_l\rVert_2=1$ and $\max\sigma'=\tfrac14$, at most
#    $4^{-10}\approx9.5\times10^{-7}$, whatever the input. The measured ratio (printed below) is
#    smaller, because most pre-activations are not at 0, where $\sigma'$ peaks.
#    :::

# %%
torch.manual_seed(2)
orthogonal_weights = [nn.init.orthogonal_(torch.empty(64, 64)) for _ in range(10)]
check_close(
    "‖W_l‖₂ of an orthogonal matrix",
    torch.stack([torch.linalg.matrix_norm(w, ord=2) for w in orthogonal_weights]),
    torch.ones(10),
    atol=1e-12,
)
jacobians_sig, _ = layer_jacobians(
    orthogonal_weights, [torch.zeros(64)] * 10, torch.randn(64), "sigmoid"
)
grad_top = torch.randn(64)  # ∂L/∂h_10
ratio_sig = float(
    torch.linalg.vector_norm(input_gradient_by_jacobians(jacobians_sig, grad_top))
    / torch.linalg.vector_norm(grad_top)
)
check_true(
    "‖g_0‖ / ‖g_10‖ ≤ 4^-10", bool(ratio_sig <= 0.25**10), f"{ratio_sig:.2e} ≤ {0.25**10:.2e}"
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`glorot2010understanding`, Section 4.2: the forward and backward variance
#   conditions and their compromise $2/(n_\text{in}+n_\text{out})$, the normalised uniform
#   initialisation (their eq. 16); Section 3: the saturation of deep sigmoid nets.
# - {cite:t}`he2015delving`, Section 2.2: the ReLU variance recursion and $\operatorname{Var}(W)
#   =2/\text{fan}_\text{in}$ (or fan-out for the backward pass).
# - {cite:t}`hochreiter1991untersuchungen` and {cite:t}`bengio1994learning`: the first analyses
#   of vanishing gradients in recurrent nets; {cite:t}`pascanu2013difficulty`, Sections 2–3:
#   the Jacobian-product view of BPTT, the spectral-radius conditions, and clipping as a remedy
#   for exploding (not vanishing) gradients.
# - {cite:t}`hochreiter1997lstm` (the LSTM and its constant error carousel),
#   {cite:t}`gers2000learning` (the forget gate), {cite:t}`jozefowicz2015empirical` (a forget
#   bias of 1).
# - {cite:t}`saxe2014exact`: orthogonal initialisation and dynamical isometry in deep linear nets.
# - {cite:t}`pytorch2025init`: `torch.nn.init`, the gains and fan conventions that the
#   from-scratch initialisers follow, and `nn.Linear`'s default initialisation.

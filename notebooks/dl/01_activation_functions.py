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
# # 01. Activation functions
#
# **The question.** What are the common activation functions (ReLU, Leaky ReLU, sigmoid, tanh,
# softmax), and why is ReLU better and more often used than sigmoid in neural networks?
#
# **What you will be able to answer.** Each activation and its derivative in one line; why
# $\sigma'\le\frac14$ makes deep sigmoid networks lose their gradient; why a sigmoid's positive
# outputs make gradient descent zig-zag; what "dying ReLU" is and how Leaky ReLU and GELU avoid
# it; what GELU, SiLU and SwiGLU are; and how to compute softmax and log-sum-exp without
# overflow.

# %%
import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from torch import nn

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.devices import get_device
from notebook_utils.nn import count_parameters, gradient_norms
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import time_call

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **The functions and their slopes.** Sigmoid $\sigma(x)=1/(1+e^{-x})$ with
#   $\sigma'=\sigma(1-\sigma)$; tanh with $\tanh'=1-\tanh^2$; ReLU $\max(0,x)$ with slope
#   $\mathbb 1[x>0]$; Leaky ReLU, slope $\alpha\in(0,1)$ for $x<0$ (the notes'
#   $\max(\alpha x,x)$ is right only for $\alpha<1$); GELU $x\,\Phi(x)$ and SiLU $x\,\sigma(x)$,
#   smooth versions of ReLU; softmax $e^{z_i}/\sum_j e^{z_j}$, whose derivative is the Jacobian
#   $\operatorname{diag}(p)-pp^\top$.
# - **Why not sigmoid in hidden layers.** $\sigma'(x)\le\frac14$ *everywhere*, not only for
#   large $|x|$: backpropagation multiplies the gradient by $\sigma'$ at every layer, so even at
#   its best each sigmoid layer shrinks it fourfold (before the weights): $0.25^{10}\approx
#   9.5\times10^{-7}$ after ten layers. Its outputs are also all positive, which forces all
#   weight gradients of a unit to share one sign, so gradient descent zig-zags. tanh fixes the
#   centring ($\tanh'(0)=1$) but still saturates.
# - **Why ReLU.** Its slope is exactly 1 wherever the unit is active, so the activation does not
#   shrink the gradient there; it is cheap (a comparison, much faster than computing
#   exponentials); and it gives sparse activations (about half the units output exactly 0).
# - **What the notes get wrong.** ReLU does not "avoid" the vanishing gradient: its slope is
#   exactly **0** for negative inputs, so a unit whose input is negative on every example gets
#   no gradient and never recovers (*dying ReLU*), and with a poor initialisation a deep ReLU
#   net still loses its gradient. Leaky ReLU, GELU and SiLU keep a gradient for $x<0$.
# - **Today.** Transformers use GELU (BERT, GPT-2) or the gated SwiGLU feed-forward layer
#   $(\operatorname{SiLU}(xW_1)\odot xW_3)W_2$ (LLaMA and its successors). Softmax and
#   log-sum-exp are always computed after subtracting the maximum:
#   $\operatorname{lse}(z)=m+\log\sum_j e^{z_j-m}$.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning |
# |---|---|
# | $x$ | the input of an element-wise activation (a pre-activation) |
# | $f, f'$ | an activation and its derivative |
# | $z\in\mathbb R^n$, $p=\operatorname{softmax}(z)$ | logits and probabilities |
# | $h_l=f(z_l)$, $z_l=W_lh_{l-1}+b_l$ | layer $l$ of an MLP, $h_0$ the input |
# | $\delta_l=\partial L/\partial z_l$ | the gradient that reaches layer $l$'s pre-activations |
# | $\Phi,\varphi$ | the standard normal CDF and density |
#
# ### Sigmoid and tanh
#
# $$
# \sigma(x)=\frac{1}{1+e^{-x}}
# $$ (act-sigmoid)
#
# Differentiating, $\sigma'(x)=e^{-x}/(1+e^{-x})^2=\sigma(x)\cdot\big(1-\sigma(x)\big)$. The
# product $s(1-s)$ of a number $s\in(0,1)$ and its complement is at most $\frac14$, with
# equality at $s=\frac12$, i.e. at $x=0$:
#
# $$
# \sigma'(x)=\sigma(x)\big(1-\sigma(x)\big)\le\tfrac14
# $$ (act-sigmoid-grad)
#
# So the slope is small *everywhere*; at large $|x|$ it is moreover close to 0 (saturation). The
# notes mention only the second part. tanh is a sigmoid rescaled to $(-1,1)$:
#
# $$
# \tanh x=\frac{e^{x}-e^{-x}}{e^{x}+e^{-x}}=2\sigma(2x)-1,\qquad
# \tanh'(x)=1-\tanh^2x=4\sigma'(2x)\le1
# $$ (act-tanh)
#
# The middle form is the one to compute with: the notes' quotient of exponentials overflows to
# $\infty/\infty$ for $x$ above about 710 in float64 (checked below). tanh is zero-centred
# ($\tanh 0=0$) and its slope at 0 is 1, four times the sigmoid's. The saturation of sigmoid
# layers during training, and the role of their non-zero mean in it, were studied by
# {cite:t}`glorot2010understanding`.
#
# ### Why the slope bounds the gradient through depth
#
# Backpropagation through one layer $h_l=f(W_lh_{l-1}+b_l)$ multiplies the gradient by the
# transposed Jacobian:
#
# $$
# \frac{\partial L}{\partial h_{l-1}}=W_l^\top\operatorname{diag}\big(f'(z_l)\big)
# \frac{\partial L}{\partial h_l}
# \quad\Longrightarrow\quad
# \Big\lVert\frac{\partial L}{\partial h_0}\Big\rVert\le
# \prod_{l=1}^{L}\Big(\lVert W_l\rVert_2\max_x|f'(x)|\Big)\Big\lVert\frac{\partial L}{\partial
# h_L}\Big\rVert
# $$ (act-backprop)
#
# With sigmoid, $\max|f'|=\frac14$: unless the weights' norms are above 4, every layer shrinks
# the gradient, and ten layers give at most $0.25^{10}=9.54\times10^{-7}$ of it. The weights
# matter as much as the activation (the next chapter, on vanishing gradients, is about that
# product); an activation can only make the factor worse, and $\sigma$ always does. A skip
# connection $h_l=h_{l-1}+f(W_lh_{l-1}+b_l)$ changes the Jacobian to
# $I+\operatorname{diag}(f')W_l$: the identity carries the gradient whatever $f'$ is.
#
# ### Sigmoid is not zero-centred: the zig-zag
#
# The gradient of a weight is the product of what arrives at its unit and what enters it:
#
# $$
# \frac{\partial L}{\partial W_{l,ij}}=\delta_{l,i}\,h_{l-1,j}
# $$ (act-zigzag)
#
# If layer $l-1$ is a sigmoid, every $h_{l-1,j}>0$, so for one example all the weights of unit
# $i$ get gradients of the **same sign**, that of $\delta_{l,i}$. A step can increase all of
# them or decrease all of them, nothing else; to reach weights of mixed signs the path has to
# zig-zag. Over a data set the same fact shows up as conditioning: for a linear unit, the
# Hessian of the squared loss is $\mathbb E[hh^\top]=\Sigma+\mu\mu^\top$, and a mean $\mu$ with
# $n$ entries near $0.5$ adds an eigenvalue of about $n/4$, much larger than the variance
# eigenvalues of $\Sigma$ {cite}`lecun2012efficient`. Zero-centred inputs (tanh outputs) have
# $\mu\approx0$. Experiment 2 measures both effects.
#
# ### ReLU and Leaky ReLU
#
# $$
# \operatorname{ReLU}(x)=\max(0,x),\qquad\operatorname{ReLU}'(x)=\mathbb 1[x>0]
# $$ (act-relu)
#
# The slope is 1 or 0 (PyTorch uses 0 at the kink $x=0$). Where it is 1, {eq}`act-backprop`
# loses nothing to the activation; where it is 0, the gradient stops. A unit whose pre-activation
# is $\le0$ on every training example has $\partial L/\partial W_{l,ij}=0$ and
# $\partial L/\partial b_{l,i}=0$ on every batch: gradient descent never changes it, and it
# outputs 0 forever. That is a **dead** unit. A large update or a strongly negative bias can push
# many units there at once (Experiment 4). The same hard zero makes ReLU's activations sparse,
# which {cite:t}`glorot2011deep` argue is a benefit. Leaky ReLU {cite}`maas2013rectifier` keeps a
# small slope:
#
# $$
# \operatorname{LeakyReLU}_\alpha(x)=\begin{cases}x & x>0\\ \alpha x & x\le0\end{cases},\qquad
# \operatorname{LeakyReLU}_\alpha'(x)=\begin{cases}1 & x>0\\ \alpha & x\le0\end{cases}
# $$ (act-leaky)
#
# The notes write $\max(0.01x,x)$. That equals {eq}`act-leaky` only because $\alpha=0.01<1$:
# for $\alpha>1$, $\max(\alpha x,x)$ is $\alpha x$ for $x>0$ and $x$ for $x<0$, a different
# function (checked below). PyTorch's default is $\alpha=0.01$ (`negative_slope`); PReLU
# learns $\alpha$ {cite}`he2015delving`.
#
# ### GELU and SiLU
#
# GELU {cite}`hendrycks2016gelu` weights its input by the probability that a standard normal
# variable lies below it:
#
# $$
# \operatorname{GELU}(x)=x\,\Phi(x)=\frac x2\Big(1+\operatorname{erf}\frac{x}{\sqrt2}\Big),
# \qquad \operatorname{GELU}'(x)=\Phi(x)+x\,\varphi(x)
# $$ (act-gelu)
#
# BERT and GPT-2 used a tanh approximation of it (`approximate="tanh"` in PyTorch). With
# $u=\sqrt{2/\pi}\,(x+0.044715\,x^3)$ and $t=\tanh u$:
#
# $$
# \operatorname{GELU}_{\tanh}(x)=\frac x2\,(1+t),\qquad
# \operatorname{GELU}_{\tanh}'(x)=\frac12(1+t)+\frac x2\,(1-t^2)\sqrt{\tfrac2\pi}
# \,(1+3\cdot0.044715\,x^2)
# $$ (act-gelu-tanh)
#
# SiLU {cite}`elfwing2018silu`, also called Swish {cite}`ramachandran2017swish`, weights the
# input by a sigmoid instead; by the product rule and {eq}`act-sigmoid-grad`:
#
# $$
# \operatorname{SiLU}(x)=x\,\sigma(x),\qquad
# \operatorname{SiLU}'(x)=\sigma(x)+x\,\sigma(x)\big(1-\sigma(x)\big)=
# \sigma(x)\big(1+x(1-\sigma(x))\big)
# $$ (act-silu)
#
# Both behave like ReLU far from 0 (slope $\to1$ for $x\to+\infty$, output $\to0$ for
# $x\to-\infty$), are smooth at 0, dip slightly below 0, and have a non-zero slope for
# moderately negative inputs, so a unit pushed below 0 still receives gradient.
#
# ### SwiGLU: a gated feed-forward layer
#
# The Transformer's feed-forward layer is $\operatorname{FFN}(x)=f(xW_1)W_2$ with
# $W_1\in\mathbb R^{d\times 4d}$, $W_2\in\mathbb R^{4d\times d}$. Gated linear units multiply a
# second projection by an activated one {cite}`shazeer2020glu`; with SiLU as the gate:
#
# $$
# \operatorname{FFN}_{\text{SwiGLU}}(x)=\big(\operatorname{SiLU}(xW_1)\odot xW_3\big)\,W_2,
# \qquad W_1,W_3\in\mathbb R^{d\times d_\text{ff}},\ W_2\in\mathbb R^{d_\text{ff}\times d}
# $$ (act-swiglu)
#
# Without biases it has $3\,d\,d_\text{ff}$ parameters against $2\cdot d\cdot4d=8d^2$ for the
# plain FFN. Taking $d_\text{ff}=\frac23\cdot4d=\frac83d$ makes them equal, which is what LLaMA
# does (rounded up to a multiple of 256) {cite}`touvron2023llama`:
#
# $$
# 3\,d\,d_\text{ff}=8d^2\iff d_\text{ff}=\tfrac83\,d
# $$ (act-swiglu-params)
#
# ### Softmax, its Jacobian and log-sum-exp
#
# Softmax maps logits $z\in\mathbb R^n$ to probabilities. Unlike the functions above it is not
# element-wise, so its derivative is a full Jacobian. From
# $\partial p_i/\partial z_j=p_i\delta_{ij}-p_ip_j$:
#
# $$
# p_i=\operatorname{softmax}(z)_i=\frac{e^{z_i}}{\sum_j e^{z_j}},\qquad
# \frac{\partial p}{\partial z}=\operatorname{diag}(p)-pp^\top
# $$ (act-softmax)
#
# For $n=2$, $p_1=\sigma(z_1-z_2)$: the sigmoid is the two-class softmax. The definition cannot
# be computed as written: $e^{1000}$ overflows, giving $\infty/\infty=$ NaN, and for logits
# around $-1000$ every exponential underflows to 0, giving $0/0$. Multiplying numerator and
# denominator by $e^{-m}$ with $m=\max_j z_j$ changes nothing mathematically, and makes the
# largest exponential $e^0=1$:
#
# $$
# \operatorname{softmax}(z)_i=\frac{e^{z_i-m}}{\sum_j e^{z_j-m}},\qquad
# \operatorname{lse}(z)=\log\sum_je^{z_j}=m+\log\sum_j e^{z_j-m},\qquad
# \log p_i=z_i-\operatorname{lse}(z)
# $$ (act-lse)
#
# The sum is between 1 and $n$, so neither overflow nor $\log 0$ can occur. The last form,
# log-softmax, is what a cross-entropy loss should use rather than $\log$ of a softmax that may
# have underflowed to 0.

# %% [markdown]
# ## Implementation from scratch
#
# Each element-wise activation is an `nn.Module` with PyTorch's class and argument names
# (`negative_slope`, `approximate`) and two methods: `function`, the forward formula, and
# `derivative`, the closed-form slope. The backward pass is written by hand in a
# `torch.autograd.Function`: $\partial L/\partial x=f'(x)\,\partial L/\partial y$, element-wise.
# Autograd never sees the formulas, so the Verification section can check the hand-written
# slopes against autograd through PyTorch's own functions.


# %%
class ClosedFormBackward(torch.autograd.Function):
    """y = f(x) with the backward pass dL/dx = f'(x) · dL/dy from the closed-form f'."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, activation: "ElementwiseActivation") -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.activation = activation
        return activation.function(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ctx.activation.derivative(x), None  # no gradient for `activation`


class ElementwiseActivation(nn.Module):
    """An activation f applied element-wise, with its derivative f' written out."""

    def function(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ClosedFormBackward.apply(x, self)


# %% [markdown]
# Sigmoid, {eq}`act-sigmoid` and {eq}`act-sigmoid-grad`. For $x\to-\infty$, $e^{-x}$ becomes
# `inf` and $1/(1+\infty)=0$, the right limit, so this form needs no special case.


# %%
class Sigmoid(ElementwiseActivation):
    def function(self, x: torch.Tensor) -> torch.Tensor:
        return 1 / (1 + torch.exp(-x))  # eq. (act-sigmoid)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        s = self.function(x)
        return s * (1 - s)  # eq. (act-sigmoid-grad)


# %% [markdown]
# tanh through the sigmoid, {eq}`act-tanh`, which cannot overflow:


# %%
class Tanh(ElementwiseActivation):
    def function(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * Sigmoid().function(2 * x) - 1  # eq. (act-tanh): 2σ(2x) - 1

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1 - self.function(x) ** 2  # eq. (act-tanh)


# %% [markdown]
# ReLU and Leaky ReLU, {eq}`act-relu` and {eq}`act-leaky`, with PyTorch's choice of slope at
# $x=0$ (the left one):


# %%
class ReLU(ElementwiseActivation):
    def function(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, torch.zeros_like(x))  # eq. (act-relu)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)  # eq. (act-relu): 1[x > 0]


class LeakyReLU(ElementwiseActivation):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope  # α

    def function(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, self.negative_slope * x)  # eq. (act-leaky)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        one = torch.ones_like(x)
        return torch.where(x > 0, one, self.negative_slope * one)  # eq. (act-leaky)


# %% [markdown]
# GELU, exact {eq}`act-gelu` and tanh-approximated {eq}`act-gelu-tanh`, selected by
# `approximate` as in `nn.GELU`:


# %%
def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x), the standard normal CDF."""
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def normal_pdf(x: torch.Tensor) -> torch.Tensor:
    """φ(x), the standard normal density."""
    return torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


class GELU(ElementwiseActivation):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def function(self, x: torch.Tensor) -> torch.Tensor:
        if self.approximate == "none":
            return x * normal_cdf(x)  # eq. (act-gelu)
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + torch.tanh(u))  # eq. (act-gelu-tanh)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        if self.approximate == "none":
            return normal_cdf(x) + x * normal_pdf(x)  # eq. (act-gelu)
        t = torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
        du_dx = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * du_dx  # eq. (act-gelu-tanh)


# %% [markdown]
# SiLU, {eq}`act-silu`:


# %%
class SiLU(ElementwiseActivation):
    def function(self, x: torch.Tensor) -> torch.Tensor:
        return x * Sigmoid().function(x)  # eq. (act-silu)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        s = Sigmoid().function(x)
        return s * (1 + x * (1 - s))  # eq. (act-silu)


# %% [markdown]
# The SwiGLU feed-forward layer, {eq}`act-swiglu`, with the matrix names of the LLaMA code
# ($W_1$ the gate, $W_3$ the value, $W_2$ the output) and no biases:


# %%
class SwiGLUFeedForward(nn.Module):
    """(SiLU(x W1) ⊙ x W3) W2, eq. (act-swiglu)."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff, bias=False)  # gate
        self.w3 = nn.Linear(d_model, d_ff, bias=False)  # value
        self.w2 = nn.Linear(d_ff, d_model, bias=False)  # back to d_model
        self.silu = SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.silu(self.w1(x))  # (..., d_ff)
        return self.w2(gate * self.w3(x))  # (..., d_model)


# %% [markdown]
# Softmax, log-sum-exp and log-softmax with the maximum subtracted, {eq}`act-lse`, the naive
# versions of {eq}`act-softmax` for comparison, and the softmax Jacobian:


# %%
def softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """eq. (act-lse): exp(z - m) / Σ exp(z - m), m the maximum along `dim`."""
    e = torch.exp(z - z.amax(dim=dim, keepdim=True))  # the largest entry is exp(0) = 1
    return e / e.sum(dim=dim, keepdim=True)


def logsumexp(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """eq. (act-lse): m + log Σ exp(z - m)."""
    m = z.amax(dim=dim, keepdim=True)
    return (m + torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def log_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """eq. (act-lse): log p = z - lse(z)."""
    return z - logsumexp(z, dim).unsqueeze(dim)


def naive_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """eq. (act-softmax) as written: overflows for large logits."""
    return torch.exp(z) / torch.exp(z).sum(dim=dim, keepdim=True)


def naive_logsumexp(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return torch.log(torch.exp(z).sum(dim=dim))


def softmax_jacobian(p: torch.Tensor) -> torch.Tensor:
    """eq. (act-softmax): diag(p) - p pᵀ, for probabilities p of shape (..., n)."""
    return torch.diag_embed(p) - p[..., :, None] * p[..., None, :]  # (..., n, n)


# %% [markdown]
# ## Verification
#
# Everything here runs in float64, so agreement to `atol=1e-12` means the same computation.
#
# ### Forward passes against `torch.nn.functional`, slopes against autograd
#
# Each activation is evaluated on a grid from $-10$ to $10$, plus exactly $0$ (the kink of ReLU,
# where the convention matters) and $\pm40$ (saturation). Three comparisons per activation: our
# forward against PyTorch's function; our closed-form $f'$ against autograd's derivative *of
# PyTorch's function*; and our hand-written backward (through `ClosedFormBackward`) with a
# random upstream gradient against autograd through PyTorch's function.

# %%
grid = torch.cat([torch.linspace(-10, 10, 2001), torch.tensor([0.0, -40.0, 40.0])])  # (2004,)
pairs: list[tuple[str, ElementwiseActivation, Callable[[torch.Tensor], torch.Tensor]]] = [
    ("sigmoid", Sigmoid(), torch.sigmoid),
    ("tanh", Tanh(), torch.tanh),
    ("ReLU", ReLU(), F.relu),
    ("LeakyReLU(0.01)", LeakyReLU(), F.leaky_relu),
    ("LeakyReLU(0.2)", LeakyReLU(0.2), lambda x: F.leaky_relu(x, negative_slope=0.2)),
    ("GELU", GELU(), F.gelu),
    ("GELU tanh", GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("SiLU", SiLU(), F.silu),
]
upstream = torch.from_numpy(rng.standard_normal(grid.shape))  # (2004,): a random ∂L/∂y
for name, ours, reference in pairs:
    x = grid.clone().requires_grad_()
    reference_y = reference(x)
    (reference_slope,) = torch.autograd.grad(reference_y.sum(), x)  # f'(x) from autograd
    check_close(f"{name:>15}: forward vs torch", ours.function(grid), reference_y, atol=1e-12)
    check_close(
        f"{name:>15}: closed-form f' vs autograd",
        ours.derivative(grid),
        reference_slope,
        atol=1e-12,
    )
    x_ours = grid.clone().requires_grad_()
    (ours(x_ours) * upstream).sum().backward()
    (reference_grad,) = torch.autograd.grad((reference(x) * upstream).sum(), x)
    check_close(f"{name:>15}: hand backward vs autograd", x_ours.grad, reference_grad, atol=1e-12)

# %% [markdown]
# A second, independent reference: `torch.autograd.gradcheck` compares the hand-written
# backward with central finite differences. The points are drawn away from $0$, where ReLU's
# kink makes a finite difference meaningless.

# %%
points = torch.from_numpy(rng.standard_normal(50))  # (50,)
points = points + 0.1 * torch.sign(points)  # keep |x| ≥ 0.1, away from the kink
for name, ours, _ in pairs:
    passed = torch.autograd.gradcheck(ours, (points.clone().requires_grad_(),), atol=1e-7)
    check_true(f"{name:>15}: hand backward vs finite differences (gradcheck)", passed)

# %% [markdown]
# ### The errata's numbers about the sigmoid and tanh
#
# $\sigma'$ never exceeds $\frac14$ and reaches it at $x=0$; ten layers at this best case keep
# $0.25^{10}$ of the gradient. tanh's slope is $4\sigma'(2x)$, so its maximum is 1.

# %%
sigmoid_slope = Sigmoid().derivative(grid)  # (2004,)
tanh_slope = Tanh().derivative(grid)
check_close("max of σ'(x) on the grid", sigmoid_slope.max(), torch.tensor(0.25), atol=1e-15)
check_true("σ'(x) ≤ 1/4 at every grid point", bool((sigmoid_slope <= 0.25).all()))
check_close("tanh'(x) = 4 σ'(2x)", tanh_slope, 4 * Sigmoid().derivative(2 * grid), atol=1e-12)
check_close("max of tanh'(x) on the grid", tanh_slope.max(), torch.tensor(1.0), atol=1e-15)
check_close("0.25^10", 0.25**10, 9.5367431640625e-07, atol=0.0)
print(f"at best, 10 sigmoid layers keep {0.25**10:.3g} of the gradient, 30 keep {0.25**30:.3g}")

# %% [markdown]
# ### Leaky ReLU is $\max(\alpha x, x)$ only for $\alpha<1$
#
# For $\alpha=0.01$ the notes' formula agrees with {eq}`act-leaky`; for $\alpha=2$ it computes
# $2x$ on the positive side and $x$ on the negative side, i.e. $2\cdot\operatorname{LeakyReLU}
# _{1/2}$, not a Leaky ReLU with slope 2:

# %%
for alpha in (0.01, 2.0):
    notes_formula = torch.maximum(alpha * grid, grid)
    matches = torch.allclose(notes_formula, LeakyReLU(alpha).function(grid), atol=1e-12, rtol=0)
    print(f"α = {alpha}: max(αx, x) equals LeakyReLU_α(x): {matches}")
check_close(
    "max(0.01x, x) vs LeakyReLU(0.01)",
    torch.maximum(0.01 * grid, grid),
    LeakyReLU(0.01).function(grid),
    atol=1e-12,
)
check_close(
    "max(2x, x) vs 2·LeakyReLU(1/2), not LeakyReLU(2)",
    torch.maximum(2 * grid, grid),
    2 * LeakyReLU(0.5).function(grid),
    atol=1e-12,
)

# %% [markdown]
# ### How far GELU's tanh approximation is from the exact GELU

# %%
fine_grid = torch.linspace(-10, 10, 200_001)
gelu_gap = (GELU("tanh").function(fine_grid) - GELU().function(fine_grid)).abs()
worst_at = fine_grid[gelu_gap.argmax()].item()
check_true(
    "|GELU_tanh - GELU| < 1e-3 everywhere",
    bool(gelu_gap.max() < 1e-3),
    f"max {gelu_gap.max():.2e} at x = {worst_at:.2f}",
)

# %% [markdown]
# ### Softmax, its Jacobian and log-sum-exp against PyTorch

# %%
logits = torch.from_numpy(rng.standard_normal((4, 7)))  # (B, n)
check_close("softmax vs torch.softmax", softmax(logits), torch.softmax(logits, -1), atol=1e-12)
check_close(
    "log-softmax vs F.log_softmax", log_softmax(logits), F.log_softmax(logits, -1), atol=1e-12
)
check_close(
    "log-sum-exp vs torch.logsumexp", logsumexp(logits), torch.logsumexp(logits, -1), atol=1e-12
)
z = logits[0]  # (n,)
autograd_jacobian = torch.autograd.functional.jacobian(softmax, z)  # (n, n)
check_close(
    "diag(p) - ppᵀ vs autograd Jacobian",
    softmax_jacobian(softmax(z)),
    autograd_jacobian,
    atol=1e-12,
)
pair = torch.stack([logits[:, 0], torch.zeros(4)], dim=-1)  # (B, 2): logits [z, 0]
check_close("softmax([z, 0])₁ = σ(z)", softmax(pair)[:, 0], torch.sigmoid(logits[:, 0]), atol=1e-12)

# %% [markdown]
# Now the logits that break the definition. With $[1000,1000]$, $e^{1000}$ overflows to `inf`;
# with $[-1000,-1000]$ both exponentials underflow to 0. The stable versions give $[\frac12,
# \frac12]$ and $\pm1000+\log2$, equal to `torch.logsumexp`. The notes' tanh formula fails the
# same way at $x=1000$.

# %%
for big in ([1000.0, 1000.0], [-1000.0, -1000.0], [1000.0, 0.0]):
    z = torch.tensor(big)
    print(
        f"z = {big}: naive softmax {naive_softmax(z).tolist()}, naive lse "
        f"{naive_logsumexp(z).item()}; stable softmax {softmax(z).tolist()}, "
        f"stable lse {logsumexp(z).item():.6f}"
    )
    check_close(
        f"stable lse of {big} vs torch.logsumexp", logsumexp(z), torch.logsumexp(z, -1), atol=1e-12
    )
    check_close(f"stable softmax of {big} vs torch", softmax(z), torch.softmax(z, -1), atol=1e-12)
check_true(
    "naive softmax([1000, 1000]) is NaN",
    bool(naive_softmax(torch.tensor([1000.0, 1000.0])).isnan().all()),
)
check_true(
    "naive lse([1000, 1000]) is inf", bool(naive_logsumexp(torch.tensor([1000.0, 1000.0])).isinf())
)
check_close(
    "stable lse([1000, 1000]) = 1000 + log 2",
    logsumexp(torch.tensor([1000.0, 1000.0])),
    torch.tensor(1000 + math.log(2)),
    atol=1e-12,
)
check_true(
    "float64: exp(709) is finite, exp(710) overflows",
    bool(torch.exp(torch.tensor(709.0)).isfinite() and torch.exp(torch.tensor(710.0)).isinf()),
)
x_large = torch.tensor([1000.0])
notes_tanh = (torch.exp(x_large) - torch.exp(-x_large)) / (torch.exp(x_large) + torch.exp(-x_large))
check_true(
    "notes' tanh formula at x = 1000 is NaN, 2σ(2x) - 1 is 1",
    bool(notes_tanh.isnan().all()) and Tanh().function(x_large).item() == 1.0,
    f"{notes_tanh.item()} vs {Tanh().function(x_large).item()}",
)

# %% [markdown]
# ### Sigmoid inputs give every unit one gradient sign
#
# {eq}`act-zigzag` on a small MLP, input $\to$ 32 hidden units $\to$ 16 units $\to$ loss. For
# one example, the gradient of the second weight matrix is the outer product $\delta_2h_1^\top$:
# with a sigmoid hidden layer every one of its 16 rows has a single sign; with tanh almost none
# has. Summed over a batch, rows can mix signs only where examples disagree on the sign of
# $\delta_{2,i}$; the printout shows what survives for a batch of 8.


# %%
def rows_with_one_sign(hidden: ElementwiseActivation, batch: int) -> float:
    """Fraction of units of the second layer whose weight gradients all share a sign."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 32), hidden, nn.Linear(32, 16))
    inputs = torch.randn(batch, 20)  # (B, 20)
    (net(inputs) ** 2).sum().backward()  # any loss: the sign structure comes from h_1 > 0
    grad = net[2].weight.grad  # (16, 32): row i = δ_i h_1ᵀ summed over the batch
    one_sign = (grad > 0).all(dim=1) | (grad < 0).all(dim=1)  # (16,)
    return one_sign.double().mean().item()


check_equal("sigmoid, one example: rows with one sign", rows_with_one_sign(Sigmoid(), 1), 1.0)
for name, hidden in [("sigmoid", Sigmoid()), ("tanh", Tanh())]:
    print(
        f"{name:>7}: rows with one sign: one example {rows_with_one_sign(hidden, 1):.2f}, "
        f"batch of 8 {rows_with_one_sign(hidden, 8):.2f}"
    )

# %% [markdown]
# ### SwiGLU's parameters and gradients
#
# {eq}`act-swiglu-params`: with $d_\text{ff}=\frac83d$ the SwiGLU layer has as many parameters
# as the plain $4d$ FFN. The forward pass is checked against the formula written with
# PyTorch's `F.silu` and the weight matrices, the backward pass with `gradcheck`.

# %%
d_model = 96
d_ff = 8 * d_model // 3  # eq. (act-swiglu-params): 256
swiglu = SwiGLUFeedForward(d_model, d_ff)
plain_ffn = nn.Sequential(
    nn.Linear(d_model, 4 * d_model, bias=False),
    nn.GELU(),
    nn.Linear(4 * d_model, d_model, bias=False),
)
check_equal("SwiGLU parameters = 3·d·d_ff", count_parameters(swiglu), 3 * d_model * d_ff)
check_equal(
    "SwiGLU (d_ff = 8d/3) vs plain FFN (4d)", count_parameters(swiglu), count_parameters(plain_ffn)
)
x = torch.randn(2, 5, d_model)  # (B, N, d)
w1, w3, w2 = swiglu.w1.weight, swiglu.w3.weight, swiglu.w2.weight  # nn.Linear stores Wᵀ
check_close(
    "SwiGLU vs (F.silu(x W1) ⊙ x W3) W2",
    swiglu(x),
    (F.silu(x @ w1.T) * (x @ w3.T)) @ w2.T,
    atol=1e-12,
)
small_swiglu = SwiGLUFeedForward(6, 16)
check_true(
    "SwiGLU backward vs finite differences (gradcheck)",
    torch.autograd.gradcheck(small_swiglu, (torch.randn(3, 6, requires_grad=True),)),
)
llama_d_ff = 256 * math.ceil(8 * 4096 / 3 / 256)  # LLaMA-7B: d = 4096, rounded up to 256
print(f"d = 4096: 8d/3 = {8 * 4096 / 3:.1f}, rounded up to a multiple of 256: {llama_d_ff}")

# %% [markdown]
# ## Experiments
#
# ### 1. The activations and their slopes
#
# Leaky ReLU is drawn with $\alpha=0.1$ so that its slope is visible; the tanh approximation of
# GELU is left out, since it lies within the gap printed above of the exact curve.

# %%
xs = torch.linspace(-4, 4, 801)
shown = [
    ("sigmoid", Sigmoid()),
    ("tanh", Tanh()),
    ("ReLU", ReLU()),
    ("Leaky ReLU, α = 0.1", LeakyReLU(0.1)),
    ("GELU", GELU()),
    ("SiLU", SiLU()),
]
fig, (ax_f, ax_slope) = plt.subplots(1, 2, figsize=(10, 4))
for (name, activation), colour in zip(shown, PALETTE, strict=False):
    style = "--" if name.startswith("Leaky") else "-"
    ax_f.plot(xs, activation.function(xs), style, color=colour, label=name)
    ax_slope.plot(xs, activation.derivative(xs), style, color=colour, label=name)
ax_f.set(xlabel="pre-activation x", ylabel="f(x)", ylim=(-1.5, 4), title="Activations")
ax_slope.axhline(0.25, color="grey", lw=0.8, ls=":")
ax_slope.set(xlabel="pre-activation x", ylabel="f'(x)", ylim=(-0.2, 1.2), title="Their slopes")
ax_f.legend(loc="upper left")
fig.suptitle(
    f"σ' never exceeds {sigmoid_slope.max():.2f} and tanh' {tanh_slope.max():.0f}; "
    "ReLU's slope is 1 or exactly 0; GELU and SiLU keep a slope for x < 0"
)
plt.show()

# %% [markdown]
# The sigmoid's slope (blue) sits below the dotted $\frac14$ line everywhere. ReLU's slope jumps
# from 0 to 1; GELU's and SiLU's slopes overshoot 1 for positive $x$ of order 1 to 3, and turn
# slightly negative for moderately negative $x$, where the functions dip below zero.
#
# ### 2. The gradient through 30 layers
#
# The errata's claim: a 30-layer sigmoid MLP of width 64 at initialisation passes back almost
# nothing to its input, and the same net with skip connections $h_l=h_{l-1}+f(z_l)$ passes back
# a gradient of order 1. The weights are drawn from $\mathcal N(0,1/64)$, so that
# $\lVert W_l\rVert$ does not shrink or grow the signal on its own, and biases are 0; the loss
# is the sum of the outputs for one random input. Alongside, the same net with tanh and with
# ReLU, the latter also with He's variance $2/64$ {cite}`he2015delving`. Two per-layer
# quantities are recorded: the gradient that reaches each layer's input,
# $\lVert\partial L/\partial h_{l}\rVert$, the quantity of {eq}`act-backprop`, and the
# weight gradients $\lVert\partial L/\partial W_l\rVert$ from `gradient_norms`, what an
# optimizer actually receives.


# %%
class DeepMLP(nn.Module):
    """`depth` layers h ← f(W h + b) of width `width`, optionally h ← h + f(W h + b).

    After a forward pass, `hidden_states` holds h_0 (the input), …, h_depth with their
    gradients retained, so that ∂L/∂h_l can be read after `backward`.
    """

    def __init__(
        self, activation: nn.Module, depth: int, width: int, weight_var: float, skip: bool
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        for layer in self.layers:
            nn.init.normal_(layer.weight, std=math.sqrt(weight_var / width))
            nn.init.zeros_(layer.bias)
        self.activation, self.skip = activation, skip
        self.hidden_states: list[torch.Tensor] = []

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        self.hidden_states = [h]
        for layer in self.layers:
            out = self.activation(layer(h))  # (B, width)
            h = h + out if self.skip else out
            h.retain_grad()
            self.hidden_states.append(h)
        return h


# %%
DEPTH, WIDTH = 30, 64
deep_nets = {
    "sigmoid": (Sigmoid(), 1.0, False),
    "sigmoid + skip": (Sigmoid(), 1.0, True),
    "tanh": (Tanh(), 1.0, False),
    "ReLU, var 1/n": (ReLU(), 1.0, False),
    "ReLU, var 2/n (He)": (ReLU(), 2.0, False),
}
deep_input = torch.from_numpy(rng.standard_normal((1, WIDTH)))  # (1, 64), the same for all nets
state_grad_norms, weight_grad_norms, per_layer_factor = {}, {}, {}
for name, (activation, weight_var, skip) in deep_nets.items():
    torch.manual_seed(0)  # the same weights for every net with the same variance
    net = DeepMLP(activation, DEPTH, WIDTH, weight_var, skip)
    x = deep_input.clone().requires_grad_()
    net(x).sum().backward()  # ∂L/∂h_30 is a vector of ones
    state_grad_norms[name] = np.array([h.grad.norm().item() for h in net.hidden_states])  # (31,)
    weight_grad_norms[name] = list(gradient_norms(net).values())  # (30,), input side first
    norms = state_grad_norms[name]
    per_layer_factor[name] = (norms[0] / norms[-1]) ** (1 / DEPTH)  # geometric mean
    print(
        f"{name:>18}: ‖∂L/∂x‖ = {norms[0]:.3g}, ×{per_layer_factor[name]:.3f} per layer; "
        f"‖∂L/∂W_l‖ from {min(weight_grad_norms[name]):.2g} to {max(weight_grad_norms[name]):.2g}"
    )

# %% [markdown]
# ReLU with zero biases is positively homogeneous, $\operatorname{ReLU}(cx)=c\operatorname{ReLU}
# (x)$ for $c>0$, and the two ReLU nets share their random draws, the He weights being
# $\sqrt2$ times the others. So the He net's input gradient must be exactly
# $\sqrt2^{30}=2^{15}$ times larger: the per-layer factor is a property of the weights'
# scale, not of the activation.

# %%
relu_ratio = state_grad_norms["ReLU, var 2/n (He)"][0] / state_grad_norms["ReLU, var 1/n"][0]
check_close("ReLU: He / var-1/n input gradient = √2^30", relu_ratio, 2.0**15, atol=0.0, rtol=1e-9)

# %%
plain, skipped = state_grad_norms["sigmoid"][0], state_grad_norms["sigmoid + skip"][0]
check_true("30 sigmoid layers: ‖∂L/∂x‖ below 1e-15", bool(plain < 1e-15), f"{plain:.2e}")
check_true("with skip connections: ‖∂L/∂x‖ above 1", bool(skipped > 1), f"{skipped:.2f}")
check_true(
    "sigmoid: the gradient shrinks by about 1/4 per layer",
    bool(0.2 < per_layer_factor["sigmoid"] <= 0.25),
    f"geometric mean factor {per_layer_factor['sigmoid']:.3f} per layer",
)

# %%
fig, (ax_state, ax_weight) = plt.subplots(1, 2, figsize=(11, 4.2))
styles = ["-", "--", "-", "-", "--"]
for name, colour, style in zip(deep_nets, PALETTE, styles, strict=False):
    ax_state.semilogy(
        range(DEPTH + 1), state_grad_norms[name], style, color=colour, marker=".", label=name
    )
    ax_weight.semilogy(
        range(1, DEPTH + 1), weight_grad_norms[name], style, color=colour, marker=".", label=name
    )
ax_state.set(
    xlabel="layer l (0 = the input)",
    ylabel=r"$\Vert\partial L/\partial h_l\Vert$",
    title="Gradient reaching each layer",
)
ax_weight.set(
    xlabel="layer l (1 = next to the input)",
    ylabel=r"$\Vert\partial L/\partial W_l\Vert_F$",
    title="Weight gradients (gradient_norms)",
)
ax_state.legend(loc="lower right")
fig.suptitle(
    f"30 sigmoid layers: input gradient {plain:.0e}, ×{per_layer_factor['sigmoid']:.2f} per "
    f"layer; with skip connections {skipped:.1f}"
)
plt.show()

# %% [markdown]
# Reading the left panel from right (output) to left (input): the sigmoid net loses a constant
# factor per layer (the geometric means are printed above), close to the $\frac14$ of
# {eq}`act-backprop`: the pre-activations stay near 0, where $\sigma'\approx\frac14$, and
# weights of variance $1/n$ preserve a gradient's norm on average. The skip connections carry
# the gradient past every sigmoid. tanh, with slope 1 at 0, loses much less per layer. ReLU
# loses a constant factor per layer when the weight variance is $1/n$ (half of the units are
# off, so half of the gradient's energy is dropped), and He's $2/n$ gives back exactly
# $\sqrt2$ per layer, as checked above. So the activation alone does not decide whether
# gradients vanish: ReLU with the wrong initialisation loses its gradient too, which is the
# topic of the next chapter.
#
# The right panel is a warning about what to plot. $\partial L/\partial W_l=\delta_l
# h_{l-1}^\top$ multiplies the backward signal by the forward one. In the ReLU net with
# variance $1/n$ both shrink by the same factor per layer, in opposite directions, so the
# weight gradients are flat across layers, and uniformly small, although the gradient reaching
# the input has vanished.
#
# ### 3. The zig-zag of non-centred inputs
#
# Left: a single linear unit $y=w^\top x$ with two inputs learns the target weights
# $w^*=(1,-1)$ by SGD on one example at a time ($\eta=0.5$, squared loss), once with inputs
# $x=\sigma(g)$ and once with $x=\tanh(g)$, $g\sim\mathcal N(0,I)$. Right: the same with 64
# inputs and full-batch gradient descent at the step size $1/\lambda_\text{max}$ of each
# problem's Hessian $\mathbb E[xx^\top]$, random $w^*$.


# %%
def sgd_path(inputs: np.ndarray, w_target: np.ndarray, lr: float, tol: float) -> np.ndarray:
    """SGD on ½(wᵀx - w*ᵀx)², one example per step from w = 0, until ‖w - w*‖ < tol."""
    w = np.zeros_like(w_target)
    path = [w.copy()]
    for x in inputs:
        w = w - lr * (w @ x - w_target @ x) * x  # step ∝ x: one sign for all entries if x > 0
        path.append(w.copy())
        if np.linalg.norm(w - w_target) < tol:
            break
    return np.array(path)  # (steps + 1, 2)


def gd_losses(inputs: np.ndarray, w_target: np.ndarray, n_steps: int) -> tuple[np.ndarray, float]:
    """Full-batch GD with lr = 1/λ_max(E[xxᵀ]); returns the losses and the condition number."""
    targets = inputs @ w_target
    eigenvalues = np.linalg.eigvalsh(inputs.T @ inputs / len(inputs))  # ascending
    w, losses = np.zeros_like(w_target), []
    for _ in range(n_steps):
        residual = inputs @ w - targets  # (N,)
        losses.append(0.5 * np.mean(residual**2))
        w = w - inputs.T @ residual / len(inputs) / eigenvalues[-1]
    return np.array(losses), eigenvalues[-1] / eigenvalues[0]


squash = {"sigmoid": lambda g: 1 / (1 + np.exp(-g)), "tanh": np.tanh}
w_target_2d = np.array([1.0, -1.0])
w_target_64 = rng.standard_normal(64)
paths, gd_curves, condition = {}, {}, {}
for name, f in squash.items():
    paths[name] = sgd_path(f(rng.standard_normal((2000, 2))), w_target_2d, lr=0.5, tol=0.05)
    gd_curves[name], condition[name] = gd_losses(
        f(rng.standard_normal((4096, 64))), w_target_64, 300
    )
    steps = np.diff(paths[name], axis=0)  # (steps, 2)
    same_sign = np.mean(np.sign(steps[:, 0]) == np.sign(steps[:, 1]))
    print(
        f"{name:>7} inputs: SGD reaches w* in {len(steps)} steps, {same_sign:.0%} of them change "
        f"both weights in the same direction; 64-D Hessian condition number {condition[name]:.3g}, "
        f"GD loss after 300 steps {gd_curves[name][-1]:.1e}"
    )
sigmoid_steps = np.diff(paths["sigmoid"], axis=0)
check_true(
    "positive inputs: every SGD step moves both weights the same way",
    bool(np.all(np.sign(sigmoid_steps[:, 0]) == np.sign(sigmoid_steps[:, 1]))),
    f"{len(sigmoid_steps)} steps",
)
check_true(
    "sigmoid inputs are worse conditioned than tanh inputs",
    condition["sigmoid"] > 10 * condition["tanh"],
    f"κ {condition['sigmoid']:.0f} vs {condition['tanh']:.1f}",
)

# %%
fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(10, 4.2))
for (name, path), colour in zip(paths.items(), PALETTE, strict=False):
    ax_path.plot(
        path[:, 0],
        path[:, 1],
        ".-",
        color=colour,
        ms=3,
        lw=1,
        label=f"{name} inputs, {len(path) - 1} steps",
    )
    relative_loss = gd_curves[name] / gd_curves[name][0]
    ax_loss.semilogy(relative_loss, color=colour, label=f"{name} inputs, κ = {condition[name]:.3g}")
ax_path.plot(*w_target_2d, "k*", ms=12, label="w* = (1, −1)")
ax_path.set(xlabel="$w_1$", ylabel="$w_2$", title="SGD, 2 inputs: positive inputs zig-zag")
ax_path.legend(loc="lower left")
ax_loss.set(
    xlabel="GD step",
    ylabel="training loss / initial loss",
    ylim=(1e-12, 2),
    title="GD, 64 inputs, lr = 1/λ_max",
)
ax_loss.legend()
fig.suptitle(
    f"All-positive (sigmoid) inputs: {len(paths['sigmoid']) - 1} SGD steps instead of "
    f"{len(paths['tanh']) - 1}, and a Hessian {condition['sigmoid'] / condition['tanh']:.0f}× "
    "worse conditioned"
)
plt.show()

# %% [markdown]
# With positive inputs every step moves along $\pm x$, into the first or third quadrant, so the
# path to $(1,-1)$, which needs $w_1$ up and $w_2$ down, is a staircase. In 64 dimensions the
# mean of the inputs creates the one large Hessian eigenvalue of the Derivation; the step size
# must respect it, and the other directions then crawl. This is one reason to prefer tanh to the
# sigmoid in hidden layers, and to centre the inputs of any network.
#
# ### 4. Dying ReLU, measured
#
# A 64–64–64–10 MLP on scikit-learn's digits (1797 standardised 8×8 images), trained with Adam
# ($\eta=10^{-2}$, batches of 128, 15 epochs) from one initialisation whose hidden biases have
# been shifted down, as a too-large update can do: by 3 in layer 1 and by 1 in layer 2 (whose
# inputs, ReLU outputs, are already non-negative and sparse). A unit counts as **dead** if its
# pre-activation is $\le0$ on every one of the 1797 images: for ReLU it then outputs 0 and gets
# zero gradient on every batch. The same weights are trained with ReLU, Leaky ReLU
# ($\alpha=0.01$) and GELU, all three our from-scratch modules with hand-written backward.

# %%
device = get_device()
digits_x, digits_y = load_digits(return_X_y=True)
digits_x = torch.tensor(
    StandardScaler().fit_transform(digits_x), dtype=torch.float32, device=device
)
digits_y = torch.tensor(digits_y, device=device)
BIAS_SHIFTS, N_EPOCHS, BATCH = (3.0, 1.0), 15, 128


def make_mlp(
    activation: Callable[[], nn.Module], bias_shifts: tuple[float, float]
) -> nn.Sequential:
    torch.manual_seed(0)  # the same initial weights whatever the activation
    net = nn.Sequential(
        nn.Linear(64, 64), activation(), nn.Linear(64, 64), activation(), nn.Linear(64, 10)
    )
    with torch.no_grad():
        net[0].bias -= bias_shifts[0]
        net[2].bias -= bias_shifts[1]
    return net.to(device=device, dtype=torch.float32)


def dead_units(net: nn.Sequential) -> list[torch.Tensor]:
    """For each hidden layer, a boolean mask of units with pre-activation ≤ 0 on all data."""
    with torch.no_grad():
        z1 = net[0](digits_x)  # (N, 64)
        z2 = net[2](net[1](z1))  # (N, 64)
    return [(z1 <= 0).all(dim=0), (z2 <= 0).all(dim=0)]


def train_mlp(activation: Callable[[], nn.Module]) -> tuple[nn.Sequential, np.ndarray, float]:
    """Dead fractions per epoch, shape (epochs + 1, 2 layers), and final training accuracy."""
    net = make_mlp(activation, BIAS_SHIFTS)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    order = torch.Generator().manual_seed(0)
    dead_history = [[mask.float().mean().item() for mask in dead_units(net)]]
    for _ in range(N_EPOCHS):
        for batch in torch.randperm(len(digits_y), generator=order).split(BATCH):
            batch = batch.to(device)
            loss = F.cross_entropy(net(digits_x[batch]), digits_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        dead_history.append([mask.float().mean().item() for mask in dead_units(net)])
    with torch.no_grad():
        accuracy = (net(digits_x).argmax(1) == digits_y).float().mean().item()
    return net, np.array(dead_history), accuracy


# %% [markdown]
# Before training, without the shift, about half of a ReLU layer's outputs are exactly 0 on a
# given image: ReLU's sparsity. With the shift, many units are dead on the whole data set:

# %%
with torch.no_grad():
    unshifted = make_mlp(ReLU, (0.0, 0.0))
    sparsity = (unshifted[1](unshifted[0](digits_x)) == 0).float().mean().item()
shifted_dead = [mask.float().mean().item() for mask in dead_units(make_mlp(ReLU, BIAS_SHIFTS))]
print(f"no shift: {sparsity:.0%} of layer-1 ReLU outputs are exactly 0")
print(
    f"shifts {BIAS_SHIFTS}: dead units at initialisation, layer 1 {shifted_dead[0]:.0%}, "
    f"layer 2 {shifted_dead[1]:.0%}"
)

# %%
trained = {}
for name, activation in [("ReLU", ReLU), ("Leaky ReLU", LeakyReLU), ("GELU", GELU)]:
    trained[name] = train_mlp(activation)
    _, history, accuracy = trained[name]
    print(
        f"{name:>10}: dead units after training, layer 1 {history[-1, 0]:.0%}, "
        f"layer 2 {history[-1, 1]:.0%}; training accuracy {accuracy:.3f}"
    )

# %% [markdown]
# The mechanism, checked exactly: the ReLU units of layer 1 that were dead at initialisation
# received a zero gradient on every batch, so Adam's moments stayed 0 and their weights and
# biases are **bit for bit** the ones they started with. Layer 1 sees fixed inputs, so these
# units can never come back. Under Leaky ReLU the same units have moved.

# %%
relu_net = trained["ReLU"][0]
leaky_net = trained["Leaky ReLU"][0]
initial = make_mlp(ReLU, BIAS_SHIFTS)  # same initial weights as every trained net
dead_at_start = dead_units(initial)[0]  # (64,) layer-1 mask
check_equal(
    f"ReLU: the {int(dead_at_start.sum())} units dead at start, weights unchanged",
    relu_net[0].weight[dead_at_start],
    initial[0].weight[dead_at_start],
)
check_equal(
    "ReLU: their biases unchanged", relu_net[0].bias[dead_at_start], initial[0].bias[dead_at_start]
)
moved = (leaky_net[0].weight[dead_at_start] - initial[0].weight[dead_at_start]).abs().amax(1)
check_true(
    "Leaky ReLU: the same units have moved",
    bool((moved > 1e-3).all()),
    f"min move {moved.min():.3f}",
)
relu_history = trained["ReLU"][1]
check_true(
    "ReLU layer 1: no fewer dead units at the end than at the start",
    bool(relu_history[-1, 0] >= relu_history[0, 0]),
    f"{relu_history[0, 0]:.0%} → {relu_history[-1, 0]:.0%}",
)
relu_final, leaky_final = trained["ReLU"][1][-1], trained["Leaky ReLU"][1][-1]
check_true(
    "fewer dead units with Leaky ReLU than with ReLU at the end",
    bool(leaky_final.sum() < relu_final.sum()),
    f"{leaky_final.mean():.0%} vs {relu_final.mean():.0%} (both layers)",
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for (name, (_, history, accuracy)), colour in zip(trained.items(), PALETTE, strict=False):
    for layer, ax in enumerate(axes):
        ax.plot(history[:, layer], ".-", color=colour, label=f"{name} (accuracy {accuracy:.3f})")
for layer, ax in enumerate(axes):
    ax.set(xlabel="epoch", title=f"hidden layer {layer + 1}")
axes[0].set(ylabel="fraction of dead units")
axes[1].legend()
fig.suptitle(
    f"Dead ReLU units of layer 1 stay dead ({relu_history[0, 0]:.0%} → "
    f"{relu_history[-1, 0]:.0%}); "
    f"Leaky ReLU and GELU revive theirs ({trained['Leaky ReLU'][1][-1, 0]:.0%}, "
    f"{trained['GELU'][1][-1, 0]:.0%})"
)
plt.show()

# %% [markdown]
# Layer 2 is different from layer 1: its inputs are layer 1's outputs, which change as training
# proceeds, so some of its dead ReLU units come back to life, but not all. In layer 1 a few more
# units die during training than at the start, and none of the initially dead ones returns. The
# network still fits the training set with the units it has left: dead units waste capacity
# rather than stop learning, until a whole layer is dead, at which point the output no longer
# depends on the input. GELU's definition of
# "dead" is weaker than ReLU's: a GELU unit with negative pre-activations still outputs small
# negative values and receives a small gradient.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "ReLU solves the vanishing gradient problem." Does it?
# Only partly. It removes the activation's share of the shrinking on active units (slope 1
# instead of at most $\frac14$), and that made training deep nets without layer-wise
# pre-training practical {cite}`glorot2011deep`. But its slope is exactly 0 on inactive units,
# which can die (Experiment 4), and the weights still multiply the gradient at every layer:
# with variance $1/n$ instead of He's $2/n$ a 30-layer ReLU net loses a factor $\sqrt2$ per
# layer (Experiment 2). Initialisation, normalisation and residual connections are the other
# half of the fix.
# :::
#
# :::{dropdown} Is the sigmoid useless, then?
# No, only as a hidden-layer activation in deep stacks. It is the right output for a binary
# probability (with `BCEWithLogitsLoss`, which works on logits for the same stability reasons as
# log-softmax), and the right *gate*: LSTM and GRU gates, the gate of GLU, and SiLU's weight
# $\sigma(x)$ all use its range $(0,1)$.
# :::
#
# :::{dropdown} Why not compute $\log(\operatorname{softmax}(z))$ for the cross-entropy?
# Because the softmax can underflow to exactly 0 before the log: for logits $[0,-800]$ the
# second probability is $e^{-800}$, below float64's smallest number, and its log becomes
# $-\infty$, whereas {eq}`act-lse` gives $-800$. `F.cross_entropy` takes logits and uses
# log-softmax internally. Its gradient with respect to the logits is simply $p-y$, the softmax
# Jacobian times $-y/p$; the next cell checks both.
# :::

# %%
z = torch.tensor([0.0, -800.0])
print(
    f"log(softmax(z)) = {torch.log(softmax(z)).tolist()}, "
    f"log_softmax(z) = {log_softmax(z).tolist()}"
)
check_true("log(softmax) underflows to -inf", bool(torch.log(softmax(z))[1].isinf()))
check_close("log_softmax([0, -800])", log_softmax(z), F.log_softmax(z, -1), atol=1e-12)
logits = torch.from_numpy(rng.standard_normal(5)).requires_grad_()  # (5,)
label = 2
F.cross_entropy(logits[None], torch.tensor([label])).backward()
one_hot = F.one_hot(torch.tensor(label), 5).double()
check_close("∂CE/∂z = softmax(z) - y", logits.grad, softmax(logits.detach()) - one_hot, atol=1e-12)

# %% [markdown]
# :::{dropdown} Is ReLU faster because exponentials are expensive?
# The notes' reason (with their typo fixed: "much faster *than* computing exponentials") is
# true per element, but an activation is rarely what a network waits for. The next cell times
# ReLU, the sigmoid and GELU on a $1024\times512$ float32 activation, next to the matrix product
# of a $512\times512$ layer that produces it (medians of repeated runs on this machine). An
# element-wise function touches each number once, a matrix product does $2\cdot512$ operations
# per output; on a GPU an element-wise kernel is limited by memory bandwidth, not by the
# arithmetic, and is usually fused into the matrix product anyway.
# :::

# %%
activation_input = torch.randn(1024, 512, dtype=torch.float32)
layer_weight = torch.randn(512, 512, dtype=torch.float32)
timings = {
    "ReLU": time_call(lambda: torch.relu(activation_input), repeats=15),
    "sigmoid": time_call(lambda: torch.sigmoid(activation_input), repeats=15),
    "GELU": time_call(lambda: F.gelu(activation_input), repeats=15),
    "matmul 512×512": time_call(lambda: activation_input @ layer_weight, repeats=15),
}
for name, timing in timings.items():
    print(f"{name:>15}: {timing}")
sigmoid_share = timings["sigmoid"].median / timings["matmul 512×512"].median
print(f"the sigmoid costs {sigmoid_share:.0%} of the matrix product that feeds it")

# %% [markdown]
# :::{dropdown} How do you fix dying ReLU?
# Use an activation with a slope for $x<0$ (Leaky ReLU, PReLU {cite}`he2015delving`, ELU, GELU,
# SiLU), lower the learning rate or warm it up, use He initialisation and normalisation layers,
# and monitor the fraction of units that are zero on a whole batch. Initialising ReLU biases to
# a small positive value has been suggested too, with mixed results.
# :::
#
# :::{dropdown} GELU with `approximate="none"` or `"tanh"`: does it matter?
# For training from scratch, hardly: the two differ by at most the gap printed in the
# Verification section. For loading weights it can: a checkpoint trained with one (GPT-2 and the
# original BERT used the tanh form) gives slightly different outputs under the other. PyTorch's
# default is the exact form.
# :::
#
# :::{dropdown} Why did Transformers move from ReLU to GELU and then to SwiGLU?
# Empirically. GELU and SiLU are smooth and non-monotone, with gradient for negative inputs,
# and trained slightly better than ReLU in BERT and GPT-style models {cite}`hendrycks2016gelu`.
# Gated FFNs went further: at equal parameter count ($d_\text{ff}=\frac83d$), SwiGLU and GeGLU
# had lower perplexity than ReLU and GELU FFNs in {cite:t}`shazeer2020glu`, which offers no
# explanation beyond the experiments. LLaMA adopted SwiGLU {cite}`touvron2023llama`.
# :::
#
# :::{dropdown} Softmax is listed as an activation. How is it different?
# It is not element-wise: each output depends on all logits, so its derivative is the Jacobian
# $\operatorname{diag}(p)-pp^\top$, not a vector of slopes. It is invariant to adding a
# constant to all logits (that is why subtracting the maximum is allowed), and its Jacobian goes
# to 0 when one logit dominates: a saturated softmax stops gradients just as a saturated
# sigmoid does.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Compute $\operatorname{lse}([1000,999,998])$ to four decimals without a computer, and say
#    what the naive formula returns. The next cell checks the answer.
#
#    :::{dropdown} Answer
#    Subtract the maximum: $1000+\log(1+e^{-1}+e^{-2})=1000+\log(1.5032)=1000.4076$. The naive
#    formula returns `inf`, since $e^{1000}$ overflows.
#    :::

# %%
by_hand = 1000 + math.log(1 + math.exp(-1) + math.exp(-2))
z = torch.tensor([1000.0, 999.0, 998.0])
check_close(
    "exercise 1: lse([1000, 999, 998]) by hand", logsumexp(z), torch.tensor(by_hand), atol=1e-12
)
check_close(
    "exercise 1: vs torch.logsumexp", torch.tensor(by_hand), torch.logsumexp(z, -1), atol=1e-12
)
print(f"lse = {by_hand:.4f}; the naive formula gives {naive_logsumexp(z).item()}")

# %% [markdown]
# 2. SiLU dips below zero. Where is its minimum, and why is the minimum value equal to
#    $1+x^*$? Find $x^*$ numerically.
#
#    :::{dropdown} Answer
#    At the minimum $\operatorname{SiLU}'(x^*)=0$, i.e. $1+x^*(1-\sigma(x^*))=0$ by
#    {eq}`act-silu`, so $x^*\sigma(x^*)=1+x^*$: the minimum value is $1+x^*$. Bisection on
#    $1+x(1-\sigma(x))$ over $[-3,0]$ gives $x^*\approx-1.2785$ and a minimum of about
#    $-0.2785$; the next cell solves it and checks it against a fine grid.
#    :::

# %%
low, high = -3.0, 0.0  # 1 + x(1 - σ(x)) is negative at -3 and positive at 0
silu = SiLU()
for _ in range(60):
    middle = (low + high) / 2
    if silu.derivative(torch.tensor(middle)) < 0:
        low = middle
    else:
        high = middle
x_star = (low + high) / 2
silu_on_grid = silu.function(fine_grid)
check_close(
    "exercise 2: SiLU(x*) = 1 + x*",
    silu.function(torch.tensor(x_star)),
    torch.tensor(1 + x_star),
    atol=1e-12,
)
check_close(
    "exercise 2: SiLU(x*) vs the minimum on a grid of step 1e-4",
    silu.function(torch.tensor(x_star)),
    silu_on_grid.min(),
    atol=1e-8,
)
print(f"x* = {x_star:.4f}, SiLU(x*) = {1 + x_star:.4f}")

# %% [markdown]
# 3. A colleague's 20-layer MLP with sigmoid hidden units does not train. Name two fixes that
#    keep the sigmoid, and one that does not.
#
#    :::{dropdown} Answer
#    Keeping the sigmoid: residual connections (the identity path of Experiment 2), or a
#    normalisation layer before each sigmoid plus an initialisation scaled for it, so that
#    pre-activations stay near 0 where $\sigma'=\frac14$ and the weights' gain can compensate
#    the $\frac14$. Without normalisation the two goals clash: weights large enough to make up
#    for the $\frac14$ push the pre-activations into the saturated tails, where $\sigma'$ is far
#    smaller still. Replacing it: tanh (slope 1 at 0, zero-centred) or ReLU/GELU with He
#    initialisation.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`glorot2010understanding`, Section 3: how sigmoid and tanh hidden layers saturate
#   during training, and the part played by the sigmoid's non-zero mean.
# - {cite:t}`lecun2012efficient`, the sections on normalising the inputs and on the sigmoid:
#   centring inputs, the zig-zag of all-positive inputs, and why a symmetric sigmoid such as
#   tanh is preferred to the logistic one.
# - {cite:t}`nair2010rectified`: rectified linear units; {cite:t}`glorot2011deep`: ReLU's
#   sparsity and the training of deep rectifier networks without pre-training.
# - {cite:t}`maas2013rectifier`: the leaky rectifier, $\alpha=0.01$;
#   {cite:t}`he2015delving`: PReLU and the $2/n$ initialisation variance for ReLU.
# - {cite:t}`hendrycks2016gelu`: GELU, $x\Phi(x)$, and its tanh approximation (Section 2).
# - {cite:t}`elfwing2018silu` (SiLU) and {cite:t}`ramachandran2017swish` (Swish, the same
#   function with $\beta=1$).
# - {cite:t}`shazeer2020glu`: GLU variants, the SwiGLU FFN and the $\frac83d$ parameter match
#   (Section 2); {cite:t}`touvron2023llama`, Section 2.2: SwiGLU with $\frac23\cdot4d$ in LLaMA.

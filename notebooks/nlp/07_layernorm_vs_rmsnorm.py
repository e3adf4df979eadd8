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
# # 07. LayerNorm vs RMSNorm
#
# **The question.** What is the difference between LayerNorm and RMSNorm?
#
# **What you will be able to answer.** Both formulas, and the two things RMSNorm drops (the
# mean subtraction *and* the bias $\beta$); when the two give the same output; which
# invariances each keeps; RMSNorm's gradient; whether it is really faster; and why it is
# computed in float32 inside a half-precision model.

# %%
import copy
import math
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.gpt import GPT, GPTConfig
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import Timing, time_call

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **LayerNorm** standardises each token's $d$ features, then scales and shifts them:
#   $\operatorname{LN}(x)=\gamma\odot\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}+\beta$, with the
#   mean $\mu$ and variance $\sigma^2$ of the token's features. Parameters: $\gamma,\beta$,
#   $2d$ numbers.
# - **RMSNorm** drops the mean subtraction **and the bias $\beta$**. It divides by the root
#   mean square and keeps only a gain:
#   $\operatorname{RMSNorm}(x)=g\odot\frac{x}{\sqrt{\frac1d\sum_i x_i^2+\epsilon}}$.
#   Parameters: $g$, $d$ numbers (`nn.RMSNorm` has only `weight`).
# - **How they relate.** The mean square is $\mu^2+\sigma^2$. So when a token's mean is 0 the
#   two are the same function (with $\beta=0$), and in general
#   $\operatorname{LN}(x)=\operatorname{RMSNorm}(x-\mu)+\beta$. The notes say RMSNorm "treats
#   the mean as 0". It does not assume anything: it keeps the mean, squashed to
#   $\mu/\sqrt{\mu^2+\sigma^2}$, where LN removes it.
# - **Invariances.** LN's output does not change when the input is shifted ($x+c\mathbf 1$) or
#   scaled ($ax$, $a>0$); RMSNorm keeps only the scale invariance.
#   {cite:t}`zhang2019root` argue that scale invariance is the part that matters, and report
#   quality on par with LN.
# - **Speed.** RMSNorm needs one reduction per token instead of two, and no subtraction.
#   {cite:t}`zhang2019root` report 7–64 % shorter running times on their models. Whether you
#   see a gain depends on the kernels: on one CPU thread, torch's fused `nn.LayerNorm` can beat
#   `nn.RMSNorm`, which is a chain of element-wise operations (measured below).
#   LLaMA {cite}`touvron2023llama` and most recent LLMs use RMSNorm, computed in float32.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x\in\mathbb R^d$ | the $d$ features of one token (`normalized_shape`) | `x`, (..., d) |
# | $\mu=\frac1d\sum_ix_i$ | their mean | `mean` |
# | $\sigma^2=\frac1d\sum_i(x_i-\mu)^2$ | their (biased) variance | `var` |
# | $m=\frac1d\sum_ix_i^2$ | their mean square; $\sqrt m$ is the RMS | `mean_square` |
# | $\epsilon$ | small constant inside the square root | `eps` |
# | $\gamma,\beta$ | LayerNorm's gain and bias, shape $(d,)$ | `weight`, `bias` |
# | $g$ | RMSNorm's gain, shape $(d,)$ | `weight` |
#
# ### LayerNorm
#
# LN {cite}`ba2016layer` standardises over the features of each token:
#
# $$
# \operatorname{LN}(x)=\gamma\odot\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}+\beta
# $$ (rms-ln)
#
# Its statistics, its backward pass and its comparison with BatchNorm are in
# [chapter 04 of Part II](../dl/04_batchnorm_vs_layernorm.ipynb). Here it is the reference
# that RMSNorm simplifies.
#
# ### RMSNorm
#
# RMSNorm {cite}`zhang2019root` divides by the root mean square and multiplies by a gain:
#
# $$
# \operatorname{RMSNorm}(x)=g\odot\frac{x}{\sqrt{m+\epsilon}},\qquad
# m=\frac1d\sum_{i=1}^d x_i^2
# $$ (rms-rmsnorm)
#
# Two things are gone, not one: the mean subtraction and the bias $\beta$. The paper writes
# the formula without $\epsilon$. The authors' code offers a bias as an option, off by
# default because RMSNorm does not aim at re-centring; `nn.RMSNorm`, LLaMA and the LLMs that
# followed it have no bias at all. PyTorch {cite}`pytorch2025rmsnorm` and LLaMA add
# $\epsilon$ inside the square root, as here (see the Pitfalls for the other placement).
#
# ### How the two relate
#
# Expanding the variance gives the identity that connects them:
#
# $$
# m=\frac1d\sum_ix_i^2=\mu^2+\sigma^2
# $$ (rms-mean-square)
#
# Three consequences follow.
#
# 1. **Zero mean.** If $\mu=0$, then $m=\sigma^2$, and {eq}`rms-ln` with $\beta=0$ is
#    {eq}`rms-rmsnorm` with $g=\gamma$. More generally, centring first turns RMSNorm into LN:
#
#    $$
#    \operatorname{LN}(x)=\operatorname{RMSNorm}(x-\mu\mathbf 1)+\beta\qquad(g=\gamma)
#    $$ (rms-ln-as-rms)
#
# 2. **The mean survives.** With $g=\mathbf 1$, the mean of RMSNorm's output is
#
#    $$
#    \frac1d\sum_i\frac{x_i}{\sqrt{m+\epsilon}}=\frac{\mu}{\sqrt{\mu^2+\sigma^2+\epsilon}}
#    $$ (rms-output-mean)
#
#    a squashed copy of the input's mean, between $-1$ and $1$. LN's output has mean exactly
#    0 before $\gamma,\beta$. Geometrically (with $\epsilon=0$), RMSNorm rescales $x$ onto the
#    sphere of radius $\sqrt d$. LN first projects $x$ onto the hyperplane orthogonal to
#    $\mathbf 1$, then rescales it onto the same sphere.
#
# 3. **Parameters.** Per normalised vector of width $d$:
#
#    $$
#    P_\text{LN}=2d\ (d\text{ with }\texttt{bias=False}),\qquad P_\text{RMS}=d
#    $$ (rms-params)
#
# ### Invariances
#
# With $\epsilon=0$, $\operatorname{LN}$ depends on $x$ only through
# $(x-\mu\mathbf 1)/\sigma$, and $\operatorname{RMSNorm}$ only through $x/\sqrt m$. Hence,
# for any $a>0$ and any $c$:
#
# $$
# \operatorname{LN}(a\,x+c\,\mathbf 1)=\operatorname{LN}(x),\qquad
# \operatorname{RMSNorm}(a\,x)=\operatorname{RMSNorm}(x),\qquad
# \operatorname{RMSNorm}(x+c\,\mathbf 1)\neq\operatorname{RMSNorm}(x)
# $$ (rms-invariance)
#
# The same holds for the weights of the layer that feeds the norm. If $h=Wx$, scaling
# $W\to aW$ scales $h$ by $a$, and both norms ignore it. Adding the same row vector
# $\delta^\top$ to every row of $W$ ($W\to W+\mathbf 1\delta^\top$) adds the same number
# $\delta^\top x$ to every component of $h$: LN ignores it, RMSNorm does not.
# {cite:t}`ba2016layer` (Table 1) and {cite:t}`zhang2019root` (Table 1) list these
# invariances. Scale invariance means that the outgoing gradient ignores the scale of the
# incoming weights, which stabilises training. RMSNorm's bet is that re-centring invariance
# adds little on top of that.
#
# ### The gradient of RMSNorm
#
# Write $r=\sqrt{m+\epsilon}$, $\hat x=x/r$, the upstream gradient $dy=\partial L/\partial y$
# and $u=g\odot dy$ (the gradient with respect to $\hat x$). Since $\partial m/\partial
# x_j=2x_j/d$, we get $\partial r/\partial x_j=x_j/(d\,r)$ and
#
# $$
# \frac{\partial\hat x_i}{\partial x_j}=\frac1r\Big(\delta_{ij}-\frac{\hat x_i\hat x_j}{d}\Big)
# \quad\Longrightarrow\quad
# \frac{\partial L}{\partial x_j}=\frac1r\Big(u_j-\hat x_j\,\frac1d\sum_{i=1}^du_i\hat x_i\Big)
# $$ (rms-grad)
#
# and, summing over every token $t$ that shares the gain,
#
# $$
# \frac{\partial L}{\partial g}=\sum_t dy_t\odot\hat x_t
# $$ (rms-grad-weight)
#
# Compare LN's gradient ({eq}`norm-backward` in Part II). LN's bracket removes from $u$ its
# mean and its component along $\hat x$. RMSNorm's removes only the component along
# $\hat x$. So RMSNorm's input gradient does not sum to zero, since a shift of the input does
# change the output. Taking the inner product of {eq}`rms-grad` with $x$ gives
#
# $$
# \sum_j x_j\frac{\partial L}{\partial x_j}
# =\Big(1-\frac1d\sum_i\hat x_i^2\Big)\sum_iu_i\hat x_i
# =\frac{\epsilon}{m+\epsilon}\sum_iu_i\hat x_i
# $$ (rms-grad-orthogonal)
#
# With $\epsilon=0$ the gradient is orthogonal to $x$: scale invariance, seen from the
# backward pass.

# %% [markdown]
# ## Implementation from scratch
#
# Both modules take PyTorch's argument names and name their parameters as PyTorch does
# (`weight` = $\gamma$ or $g$, `bias` = $\beta$), so `state_dict`s load both ways.
#
# ### LayerNorm
#
# {eq}`rms-ln` over the trailing `normalized_shape` axes, as in Part II (forward only; autograd
# differentiates it).


# %%
class LayerNorm(nn.Module):
    """Layer normalization over the trailing `normalized_shape` axes, eq. (rms-ln)."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))  # γ
            self.bias = nn.Parameter(torch.zeros(self.normalized_shape)) if bias else None  # β
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(-len(self.normalized_shape), 0))  # the normalised trailing axes
        mean = x.mean(dims, keepdim=True)  # (..., 1): one μ per token
        var = x.var(dims, correction=0, keepdim=True)  # biased σ²
        y = (x - mean) / torch.sqrt(var + self.eps)  # eq. (rms-ln)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


# %% [markdown]
# ### RMSNorm
#
# {eq}`rms-rmsnorm`, with two details taken from PyTorch's behaviour
# {cite}`pytorch2025rmsnorm`. With `eps=None`, $\epsilon$ is the machine epsilon of the type
# the computation runs in. Half-precision inputs (float16, bfloat16) are computed in float32,
# and cast back at the end, after the gain. So `eps=None` is float32's epsilon
# ($1.19\times10^{-7}$) for float16, bfloat16 and float32 inputs, and float64's for float64,
# *not* `torch.finfo(x.dtype).eps` (which would be $9.8\times10^{-4}$ for float16). The
# Verification checks both details against `nn.RMSNorm`.


# %%
def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The type a norm computes in: float64 stays, everything else runs in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class RMSNorm(nn.Module):
    """Root-mean-square normalization over the trailing `normalized_shape` axes,
    eq. (rms-rmsnorm). No mean subtraction, no bias."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float | None = None,
        elementwise_affine: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))  # g, the only parameter
        else:
            self.register_parameter("weight", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(-len(self.normalized_shape), 0))
        work_dtype = compute_dtype(x.dtype)
        eps = torch.finfo(work_dtype).eps if self.eps is None else self.eps
        x_work = x.to(work_dtype)  # float16/bfloat16 -> float32, so x² cannot overflow
        mean_square = x_work.pow(2).mean(dims, keepdim=True)  # (..., 1): m = μ² + σ²
        y = x_work * torch.rsqrt(mean_square + eps)  # eq. (rms-rmsnorm): ε inside the root
        if self.weight is not None:
            y = y * self.weight.to(work_dtype)
        return y.to(x.dtype)


# %% [markdown]
# ### A hand-written backward
#
# {eq}`rms-grad` and {eq}`rms-grad-weight` as a `torch.autograd.Function`. The forward saves
# $\hat x$ and $1/r$, which is all the backward needs.


# %%
class RMSNormFunction(torch.autograd.Function):
    """RMSNorm over the trailing weight.dim() axes, with the backward of eq. (rms-grad)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, weight: torch.Tensor, eps: float
    ) -> torch.Tensor:
        dims = tuple(range(x.dim() - weight.dim(), x.dim()))
        inv_rms = torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)  # 1/r, (..., 1)
        x_hat = x * inv_rms  # (..., d)
        ctx.save_for_backward(x_hat, inv_rms, weight)
        ctx.dims = dims
        return weight * x_hat

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, None]:
        x_hat, inv_rms, weight = ctx.saved_tensors
        u = grad_out * weight  # ∂L/∂x̂ = g ⊙ dy
        projection = (u * x_hat).mean(ctx.dims, keepdim=True)  # (1/d) Σ u_i x̂_i
        grad_x = inv_rms * (u - x_hat * projection)  # eq. (rms-grad)
        token_dims = tuple(range(x_hat.dim() - weight.dim()))  # every axis g is shared over
        grad_weight = (grad_out * x_hat).sum(token_dims)  # eq. (rms-grad-weight)
        return grad_x, grad_weight, None  # no gradient for eps


# %% [markdown]
# ## Verification
#
# In float64, so agreement to `atol=1e-12` means the same computation.
#
# ### The errata's numbers
#
# For $x=[1,2,3,4]$: $\mu=2.5$, $\sigma^2=1.25$, $m=(1+4+9+16)/4=7.5$. So
# $\operatorname{RMS}=\sqrt{7.5}$, RMSNorm gives $x/\sqrt{7.5}$ and LN gives
# $(x-2.5)/\sqrt{1.25}$ (with $\epsilon=0$, $g=\gamma=\mathbf 1$, $\beta=0$). The errata print
# four decimals, so they are compared to within $5\times10^{-5}$. `nn.RMSNorm` with its
# default `eps=None` (float64's epsilon here) and `nn.LayerNorm` with $\epsilon=10^{-5}$ agree
# with the closed forms up to the effect of $\epsilon$.

# %%
x_errata = torch.tensor([1.0, 2.0, 3.0, 4.0])
mean_square = x_errata.pow(2).mean()
check_close("RMS of [1, 2, 3, 4] = √7.5", mean_square.sqrt(), math.sqrt(7.5), atol=1e-12)
rms_closed_form = x_errata / math.sqrt(7.5)
ln_closed_form = (x_errata - 2.5) / math.sqrt(1.25)
check_close(
    "RMSNorm([1, 2, 3, 4]) vs the errata",
    rms_closed_form,
    torch.tensor([0.3651, 0.7303, 1.0954, 1.4606]),
    atol=5e-5,
)
check_close(
    "LN([1, 2, 3, 4]) vs the errata",
    ln_closed_form,
    torch.tensor([-1.3416, -0.4472, 0.4472, 1.3416]),
    atol=5e-5,
)
with torch.no_grad():
    check_close("nn.RMSNorm(4) vs x/√7.5", nn.RMSNorm(4)(x_errata), rms_closed_form, atol=1e-12)
    # ε = 1e-5 changes LN's output by about ε/(2σ²)·|x̂| ≤ 1e-5 here
    check_close(
        "nn.LayerNorm(4) vs (x-2.5)/√1.25", nn.LayerNorm(4)(x_errata), ln_closed_form, atol=1e-5
    )
print("RMSNorm:", rms_closed_form.numpy().round(4), " LN:", ln_closed_form.numpy().round(4))

# %% [markdown]
# For $x=[-3,-1,1,3]$ the mean is 0, so {eq}`rms-mean-square` gives $m=\sigma^2=5$ and the
# two norms give the same output for the same $\epsilon$, $\gamma=g$ and $\beta=0$. For
# any input, centring first turns RMSNorm into LN, {eq}`rms-ln-as-rms`.

# %%
x_zero_mean = torch.tensor([-3.0, -1.0, 1.0, 3.0])
eps = 1e-5
with torch.no_grad():
    check_close(
        "zero mean: nn.RMSNorm = nn.LayerNorm (same ε)",
        nn.RMSNorm(4, eps=eps)(x_zero_mean),
        nn.LayerNorm(4, eps=eps)(x_zero_mean),
        atol=1e-12,
    )
    tokens = torch.randn(6, 16) * 2 + 3  # (tokens, d), means far from 0
    ln_reference = nn.LayerNorm(16, eps=eps)
    ln_reference.weight.normal_(), ln_reference.bias.normal_()
    rms_centred = nn.RMSNorm(16, eps=eps)
    rms_centred.weight.copy_(ln_reference.weight)
    check_close(
        "eq. (rms-ln-as-rms): LN(x) = RMSNorm(x − μ) + β",
        ln_reference(tokens),
        rms_centred(tokens - tokens.mean(-1, keepdim=True)) + ln_reference.bias,
        atol=1e-12,
    )
    check_true(
        "non-zero mean: RMSNorm ≠ LN",
        bool(
            (nn.RMSNorm(16, eps=eps)(tokens) - nn.LayerNorm(16, eps=eps)(tokens)).abs().max() > 0.5
        ),
    )
print("zero-mean input:", nn.RMSNorm(4, eps=eps)(x_zero_mean).detach().numpy().round(4))

# %% [markdown]
# ### Parameters: RMSNorm has only `weight`
#
# The notes (and many interview answers) give RMSNorm a "scale and shift". It has a scale
# only, {eq}`rms-params`.

# %%
d = 768
check_equal(
    "nn.RMSNorm parameters", np.array([n for n, _ in nn.RMSNorm(d).named_parameters()]), ["weight"]
)
check_equal(
    "nn.LayerNorm parameters",
    np.array([n for n, _ in nn.LayerNorm(d).named_parameters()]),
    ["weight", "bias"],
)
for name, module, expected in [
    ("nn.RMSNorm(768)", nn.RMSNorm(d), d),
    ("RMSNorm(768), ours", RMSNorm(d), d),
    ("nn.LayerNorm(768)", nn.LayerNorm(d), 2 * d),
    ("LayerNorm(768), ours", LayerNorm(d), 2 * d),
    ("nn.LayerNorm(768, bias=False)", nn.LayerNorm(d, bias=False), d),
]:
    check_equal(f"count_parameters({name})", count_parameters(module), expected)

# %% [markdown]
# ### Both modules against PyTorch: outputs and gradients
#
# For each configuration the from-scratch module loads the `state_dict` of the torch module
# (with random gains and biases), and both see the same input and the same upstream gradient.
# We compare the output and the gradients with respect to the input and every parameter.


# %%
def output_and_grads(module: nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """The output, ∂L/∂x and every parameter's gradient for L = Σ upstream·y, flattened."""
    x = x.clone().requires_grad_()
    module.zero_grad()
    y = module(x)
    (y * upstream).sum().backward()
    return torch.cat(
        [y.detach().flatten(), x.grad.flatten()] + [p.grad.flatten() for p in module.parameters()]
    )


norm_cases = [
    ("RMSNorm(d), eps=None", nn.RMSNorm, RMSNorm, (4, 6, 10), 10, {}),
    ("RMSNorm(d), eps=1e-5", nn.RMSNorm, RMSNorm, (4, 6, 10), 10, {"eps": 1e-5}),
    ("RMSNorm((T, d))", nn.RMSNorm, RMSNorm, (4, 6, 10), (6, 10), {"eps": 1e-6}),
    ("RMSNorm, no affine", nn.RMSNorm, RMSNorm, (4, 6, 10), 10, {"elementwise_affine": False}),
    ("LayerNorm(d)", nn.LayerNorm, LayerNorm, (4, 6, 10), 10, {}),
    ("LayerNorm(d, bias=False)", nn.LayerNorm, LayerNorm, (4, 6, 10), 10, {"bias": False}),
]
for name, torch_class, our_class, shape, normalized_shape, kwargs in norm_cases:
    reference = torch_class(normalized_shape, **kwargs)
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_()
    ours = our_class(normalized_shape, **kwargs)
    ours.load_state_dict(reference.state_dict())  # same parameter names
    x, upstream = torch.randn(shape) * 3 + 1, torch.randn(shape)
    check_close(
        f"{name}: y, ∂x, ∂weight(, ∂bias) vs torch",
        output_and_grads(ours, x, upstream),
        output_and_grads(reference, x, upstream),
        atol=1e-12,
    )

# %% [markdown]
# ### `eps=None` and half precision
#
# PyTorch's `eps=None` is float32's epsilon for float16 inputs, not float16's. The effect is
# visible on a token whose mean square is close to $\epsilon$: below, $m=2.5\times10^{-9}$, so
# the float16 epsilon ($9.8\times10^{-4}$) would shrink the output by orders of magnitude. The
# from-scratch module follows the same rule and the same order of operations (float32
# throughout, gain included, one cast at the end), so it matches `nn.RMSNorm` to the last bit
# in every type on this input.

# %%
small_token = torch.tensor([[1e-4, 0.0, 0.0, 0.0]])  # m = 2.5e-9
for dtype in (torch.float16, torch.bfloat16, torch.float32):
    x_small = small_token.to(dtype)
    with torch.no_grad():
        default_eps = nn.RMSNorm(4, dtype=dtype)(x_small)
        float32_eps = nn.RMSNorm(4, eps=torch.finfo(torch.float32).eps, dtype=dtype)(x_small)
        own_type_eps = nn.RMSNorm(4, eps=torch.finfo(dtype).eps, dtype=dtype)(x_small)
        ours_default = RMSNorm(4).to(dtype)(x_small)
    check_equal(f"{dtype}: nn.RMSNorm eps=None = eps=finfo(float32).eps", default_eps, float32_eps)
    check_equal(f"{dtype}: ours (eps=None) = nn.RMSNorm", ours_default, default_eps)
    if dtype != torch.float32:
        print(
            f"    first output {float(default_eps[0, 0]):.4f}; with finfo({dtype}).eps it "
            f"would be {float(own_type_eps[0, 0]):.4f}"
        )
half_tokens = (torch.randn(64, 256) * 30).half()  # (tokens, d), float16
half_ref = nn.RMSNorm(256, dtype=torch.float16)
with torch.no_grad():
    half_ref.weight.copy_(torch.rand(256) + 0.5)
half_ours = RMSNorm(256).half()
half_ours.load_state_dict(half_ref.state_dict())
with torch.no_grad():
    check_equal(
        "float16 tokens: ours = nn.RMSNorm bit for bit",
        half_ours(half_tokens),
        half_ref(half_tokens),
    )

# %% [markdown]
# ### The hand-written backward
#
# `RMSNormFunction` against autograd through `nn.RMSNorm` (which the module above matches),
# and against finite differences with `torch.autograd.gradcheck`. Then the two properties of
# the gradient: with $\epsilon=0$ it is orthogonal to $x$ ({eq}`rms-grad-orthogonal`),
# but unlike LN's it does not sum to zero over a token. With $\epsilon>0$ the inner product
# is the small number that {eq}`rms-grad-orthogonal` predicts.

# %%
x = torch.randn(3, 5, 8) * 2 + 1  # (B, T, d)
upstream = torch.randn(3, 5, 8)
reference = nn.RMSNorm(8, eps=1e-5)
with torch.no_grad():
    reference.weight.normal_()
x_leaf = x.clone().requires_grad_()
weight = reference.weight.detach().clone().requires_grad_()
y = RMSNormFunction.apply(x_leaf, weight, 1e-5)
(y * upstream).sum().backward()
check_close(
    "RMSNormFunction: y, ∂x, ∂g vs autograd through nn.RMSNorm",
    torch.cat([y.detach().flatten(), x_leaf.grad.flatten(), weight.grad]),
    output_and_grads(reference, x, upstream),
    atol=1e-12,
)
small_inputs = (torch.randn(2, 3, 4).requires_grad_(), torch.randn(4).requires_grad_())
check_true(
    "RMSNormFunction passes gradcheck (finite differences)",
    torch.autograd.gradcheck(lambda a, w: RMSNormFunction.apply(a, w, 1e-5), small_inputs),
)


# %%
def input_gradient(norm: nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """∂L/∂x for L = Σ upstream · norm(x)."""
    x = x.clone().requires_grad_()
    (norm(x) * upstream).sum().backward()
    return x.grad


grad_rms_eps0 = input_gradient(RMSNorm(8, eps=0.0), x, upstream)
grad_ln_eps0 = input_gradient(LayerNorm(8, eps=0.0), x, upstream)
check_close(
    "RMSNorm, ε = 0: Σ x·∂L/∂x = 0 per token",
    (x * grad_rms_eps0).sum(-1),
    torch.zeros(3, 5),
    atol=1e-12,
)
check_close("LN, ε = 0: Σ ∂L/∂x = 0 per token", grad_ln_eps0.sum(-1), torch.zeros(3, 5), atol=1e-12)
rms_grad_sums = grad_rms_eps0.sum(-1).abs()  # (B, T)
check_true(
    "RMSNorm: Σ ∂L/∂x ≠ 0 (no shift invariance)",
    bool(rms_grad_sums.median() > 1e-2),
    f"median |Σ ∂L/∂x| over 15 tokens = {rms_grad_sums.median():.3f}, "
    f"largest {rms_grad_sums.max():.3f}",
)
eps_big = 0.5  # large, so the ε term of eq. (rms-grad-orthogonal) is clearly visible
grad_rms = input_gradient(RMSNorm(8, eps=eps_big, elementwise_affine=False), x, upstream)
mean_sq = x.pow(2).mean(-1)  # (B, T)
x_hat = x / torch.sqrt(mean_sq + eps_big)[..., None]
check_close(
    f"RMSNorm, ε = {eps_big}: Σ x·∂L/∂x = ε/(m+ε) Σ u·x̂, eq. (rms-grad-orthogonal)",
    (x * grad_rms).sum(-1),
    eps_big / (mean_sq + eps_big) * (upstream * x_hat).sum(-1),
    atol=1e-12,
)

# %% [markdown]
# ### The norms inside the shared GPT
#
# The book's GPT (`notebook_utils.gpt`) uses `nn.LayerNorm` or `nn.RMSNorm` in every block and
# after the last one. Swapping each of them for the from-scratch module, with the same
# weights, must leave the logits and every gradient of a language-model loss unchanged.


# %%
def with_our_norms(model: GPT) -> GPT:
    """A copy of `model` whose nn.LayerNorm / nn.RMSNorm modules are the from-scratch ones."""
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.RMSNorm):
                ours = RMSNorm(child.normalized_shape, eps=child.eps)
            elif isinstance(child, nn.LayerNorm):
                ours = LayerNorm(child.normalized_shape, eps=child.eps, bias=child.bias is not None)
            else:
                continue
            ours.load_state_dict(child.state_dict())
            setattr(parent, child_name, ours)
    return model


def logits_and_grads(model: GPT, tokens: torch.Tensor) -> torch.Tensor:
    """Logits and the gradient of every parameter for next-token cross-entropy, flattened."""
    model.zero_grad()
    logits, _ = model(tokens[:, :-1])  # (B, T-1, V)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    loss.backward()
    return torch.cat([logits.detach().flatten()] + [p.grad.flatten() for p in model.parameters()])


tokens = torch.randint(0, 32, (2, 12))  # (B, T)
for norm in ("layernorm", "rmsnorm"):
    cfg = GPTConfig(vocab_size=32, block_size=16, n_layer=2, n_head=2, d_model=16, norm=norm)
    model = GPT(cfg)
    with torch.no_grad():  # random gains (and biases), so the norms are not identities
        for name, p in model.named_parameters():
            if name.startswith(("blocks.", "final_norm")) and "norm" in name:
                p.normal_()
    swapped = with_our_norms(model)
    n_swapped = sum(isinstance(m, (LayerNorm, RMSNorm)) for m in swapped.modules())
    check_close(
        f"GPT(norm={norm!r}), {n_swapped} norms swapped: logits and all gradients",
        logits_and_grads(swapped, tokens),
        logits_and_grads(model, tokens),
        atol=1e-12,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. Which transformations each norm ignores
#
# A batch of tokens $x$ (with $\epsilon=0$, so the invariances {eq}`rms-invariance` are exact)
# and four transformations: shift the input by $c\mathbf 1$, scale it by $a$, scale the weight
# matrix $W$ that produces it ($h=Wz$), and re-centre $W$ by adding the same row $\delta^\top$
# to each of its rows. The table gives the largest change of each norm's output.

# %%
d_in, d_model = 12, 16
z = torch.randn(32, d_in)  # (tokens, d_in): the input of the layer before the norm
W = torch.randn(d_model, d_in)  # h = W z
delta = torch.randn(d_in)
transforms = {
    "input shift x + 3·1": lambda W, z: z @ W.T + 3.0,
    "input scale 5·x": lambda W, z: 5.0 * (z @ W.T),
    "weight scale 5·W": lambda W, z: z @ (5.0 * W).T,
    "weight re-centring W + 1δᵀ": lambda W, z: z @ (W + delta[None, :]).T,
}
norms_eps0 = {"LayerNorm": LayerNorm(d_model, eps=0.0), "RMSNorm": RMSNorm(d_model, eps=0.0)}
expected_invariant = {("LayerNorm", name): True for name in transforms} | {
    ("RMSNorm", name): "scale" in name for name in transforms
}
changes = {}
with torch.no_grad():
    for norm_name, norm in norms_eps0.items():
        baseline = norm(z @ W.T)
        for name, transform in transforms.items():
            changes[norm_name, name] = (norm(transform(W, z)) - baseline).abs().max().item()
print(f"{'transformation':>28} {'LayerNorm':>11} {'RMSNorm':>11}")
for name in transforms:
    print(f"{name:>28} {changes['LayerNorm', name]:11.2e} {changes['RMSNorm', name]:11.2e}")
invariant_ok = all(
    (changes[key] < 1e-12) if invariant else (changes[key] > 0.1)
    for key, invariant in expected_invariant.items()
)
check_true(
    "LN ignores all four; RMSNorm only the two scalings (change < 1e-12 vs > 0.1)", invariant_ok
)

# %% [markdown]
# ### 2. What each norm does to a token's mean, and how fast they run
#
# Tokens of width $d=256$ with i.i.d. features of standard deviation 1 around a mean $\mu$
# that sweeps from $-4$ to $4$. LN's output has mean 0 whatever $\mu$; RMSNorm's follows
# {eq}`rms-output-mean`. Then the timing: the median over 9 interleaved rounds (each round
# runs every variant once, so they share the machine's load) of one forward pass on
# $(B\cdot T,d)=(1024,4096)$ float32 activations, on one CPU thread, for `nn.LayerNorm`,
# `nn.RMSNorm` and the two from-scratch modules.

# %%
input_means = torch.linspace(-4, 4, 41)
d_wide, eps = 256, 1e-5
token_batch = torch.randn(41, d_wide) + input_means[:, None]  # (41, d): row k has mean ≈ μ_k
with torch.no_grad():
    ln_out_mean = LayerNorm(d_wide, eps=eps)(token_batch).mean(-1)
    rms_out_mean = RMSNorm(d_wide, eps=eps)(token_batch).mean(-1)
row_mean = token_batch.mean(-1)
row_var = token_batch.var(-1, correction=0)
check_close(
    "RMSNorm's output mean = μ/√(μ² + σ² + ε), eq. (rms-output-mean)",
    rms_out_mean,
    row_mean / torch.sqrt(row_mean**2 + row_var + eps),
    atol=1e-12,
)
check_close("LN's output mean = 0", ln_out_mean, torch.zeros(41), atol=1e-12)

# %%
TIMING_SHAPE, TIMING_ROUNDS = (1024, 4096), 9
previous_threads = torch.get_num_threads()
torch.set_num_threads(1)
activations = torch.randn(TIMING_SHAPE, dtype=torch.float32)  # (B·T, d)
width = TIMING_SHAPE[1]
timed_norms = {
    "nn.LayerNorm": nn.LayerNorm(width, dtype=torch.float32),
    "nn.RMSNorm": nn.RMSNorm(width, eps=1e-5, dtype=torch.float32),
    "LayerNorm (ours)": LayerNorm(width).float(),
    "RMSNorm (ours)": RMSNorm(width, eps=1e-5).float(),
}
samples = {name: [] for name in timed_norms}
with torch.no_grad():
    for norm in timed_norms.values():
        norm(activations)  # warm-up
    for _ in range(TIMING_ROUNDS):
        for name, norm in timed_norms.items():
            samples[name] += time_call(partial(norm, activations), repeats=1, warmup=0).samples
torch.set_num_threads(previous_threads)
timings = {name: Timing(tuple(s)) for name, s in samples.items()}
for name, timing in timings.items():
    print(f"{name:>17}: {timing}")
for name in ("nn.LayerNorm", "nn.RMSNorm"):
    probe = timed_norms[name](torch.randn(2, width, dtype=torch.float32, requires_grad=True))
    print(f"{name} ends in the autograd node {type(probe.grad_fn).__name__}")
torch_ratio = timings["nn.RMSNorm"].median / timings["nn.LayerNorm"].median
scratch_ratio = timings["RMSNorm (ours)"].median / timings["LayerNorm (ours)"].median
print(
    f"time(RMSNorm) / time(LayerNorm): torch modules {torch_ratio:.2f}, "
    f"from scratch {scratch_ratio:.2f}"
)


# %%
def speed_phrase(ratio: float) -> str:
    return f"{1 / ratio:.1f}× faster" if ratio < 1 else f"{ratio:.1f}× slower"


fig, (ax_mean, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_mean.plot(row_mean, ln_out_mean, "o", color=PALETTE[0], ms=4, label="LayerNorm")
ax_mean.plot(row_mean, rms_out_mean, "o", color=PALETTE[1], ms=4, label="RMSNorm")
mu_grid = torch.linspace(-4, 4, 200)
ax_mean.plot(
    mu_grid,
    mu_grid / torch.sqrt(mu_grid**2 + 1),
    ":",
    color="k",
    lw=1,
    label=r"$\mu/\sqrt{\mu^2+1}$",
)
ax_mean.set(
    xlabel=r"mean $\mu$ of the token's features ($\sigma = 1$)",
    ylabel="mean of the normalised features",
    title="LN removes a token's mean; RMSNorm keeps it, squashed",
)
ax_mean.legend(loc="upper left")
names = list(timings)
medians_ms = np.array([timings[n].median * 1e3 for n in names])
iqr_ms = (
    np.array(
        [
            [timings[n].median - timings[n].iqr[0], timings[n].iqr[1] - timings[n].median]
            for n in names
        ]
    )
    * 1e3
)
colours = [PALETTE[0], PALETTE[1], PALETTE[0], PALETTE[1]]
ax_time.bar(names, medians_ms, yerr=iqr_ms.T, color=colours, alpha=0.85, capsize=4)
for bar, hatch in zip(ax_time.patches, ["", "", "//", "//"], strict=True):
    bar.set_hatch(hatch)
ax_time.set(
    ylabel="forward time (ms), median and IQR",
    title=f"(1024, 4096) float32, 1 thread: RMSNorm is {speed_phrase(scratch_ratio)}\n"
    f"from scratch, {speed_phrase(torch_ratio)} as torch modules",
)
ax_time.tick_params(axis="x", labelrotation=15)
fig.suptitle("Same normalised scale, different mean; the speed depends on the implementation")
plt.show()

# %% [markdown]
# **Reading the figure.** Left: LN's outputs have mean 0 for every token; RMSNorm passes the
# mean on, squashed by {eq}`rms-output-mean` toward $\pm1$ as $|\mu|$ grows past $\sigma$. A
# model trained with one norm therefore cannot be switched to the other without retraining
# (nothing forces the tokens of a pre-norm residual stream to have zero mean).
#
# Right: the from-scratch pair compares like with like, each a chain of element-wise PyTorch
# operations. LN's chain makes more passes over the $(1024,4096)$ tensor (mean, variance,
# subtraction, division, gain, bias) than RMSNorm's (square, mean, multiply, gain), and at this
# size each pass streams the whole tensor through memory, so RMSNorm wins, by the printed
# ratio. The torch modules do not compare like with like: in PyTorch 2.13 on CPU,
# `nn.LayerNorm` is one fused kernel that reads the tensor once or twice, while `nn.RMSNorm`
# runs as a chain of operations (see the autograd nodes printed above). That is why the
# printed torch ratio can favour LN. With fused kernels on both sides, as in GPU training
# code for LLMs, both are bound by memory traffic (read $x$, write $y$), so the saved
# reduction should be worth little; this notebook does not measure that case.
# {cite:t}`zhang2019root`'s 7–64 % are their measurements of whole models in their
# implementations, not a property of the formula. On this shared machine the
# timings are noisy; the medians and IQRs above are the evidence, and no check asserts a
# speed.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} Where does $\epsilon$ go?
# Inside the square root, $x/\sqrt{m+\epsilon}$, in PyTorch {cite}`pytorch2025rmsnorm` and in
# the reference code released with LLaMA {cite}`touvron2023llama`. The RMSNorm authors' own
# PyTorch module adds it outside, $x/(\sqrt m+\epsilon)$ with $\epsilon=10^{-8}$
# {cite}`zhang2019root`. The two agree closely for ordinary activations but not for tiny ones:
# as $x\to0$ the first behaves like $x/\sqrt\epsilon$, the second like $x/\epsilon$. Loading
# weights trained with one into the other gives slightly different outputs, and the defaults
# of $\epsilon$ differ too ($10^{-5}$, $10^{-6}$, $10^{-8}$, or PyTorch's machine epsilon).
# The cell below compares the two placements with the same $\epsilon=10^{-5}$.
# :::

# %%
for scale in (1.0, 1e-3):
    token = scale * torch.randn(64)
    inside = token / torch.sqrt(token.pow(2).mean() + 1e-5)
    outside = token / (token.pow(2).mean().sqrt() + 1e-5)
    print(f"|x| ~ {scale:g}: max |inside − outside| = {(inside - outside).abs().max():.2e}")

# %% [markdown]
# :::{dropdown} Why compute RMSNorm in float32 inside a float16 model?
# float16's largest value is 65504, so $x_i^2$ overflows as soon as $|x_i|>255.9$, and the
# sum of $d$ squares overflows even earlier. Transformer residual streams do hold features of
# that size. The overflowing mean square becomes `inf` and the output becomes 0 (or NaN).
# `nn.RMSNorm` and the module above compute in float32 and cast back. bfloat16 has float32's
# range and does not overflow, but it has only 8 bits of mantissa, which is why its
# reductions are done in float32 too.
# :::

# %%
large_token = torch.full((1, 4096), 300.0, dtype=torch.float16)  # one token, features of 300
naive = large_token / torch.sqrt(large_token.pow(2).mean(-1, keepdim=True) + 1e-5)
with torch.no_grad():
    upcast = RMSNorm(4096, eps=1e-5).half()(large_token)
print(f"float16 mean square: {large_token.pow(2).mean().item()}; naive output {naive[0, 0].item()}")
check_equal(
    "float32 computation: every output is 1", upcast, torch.ones(1, 4096, dtype=torch.float16)
)

# %% [markdown]
# :::{dropdown} LLaMA's RMSNorm: float32, then cast, then the gain
# LLaMA's reference implementation normalises `x.float()`, casts the result back to the
# input's type, *then* multiplies by the gain in that type {cite}`touvron2023llama`.
# `nn.RMSNorm` (PyTorch 2.13 on CPU) multiplies by the gain in float32 and casts once at the
# end. Both avoid the overflow; they differ by one rounding of the half-precision type, which
# matters only if you compare outputs bit for bit across implementations.
# :::

# %%
with torch.no_grad():
    normalised = half_tokens.float() * torch.rsqrt(
        half_tokens.float().pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps
    )
    llama_style = normalised.half() * half_ref.weight  # cast, then the gain in float16
    torch_style = half_ref(half_tokens)
check_close(
    "LLaMA-style vs nn.RMSNorm in float16: within one float16 rounding",
    llama_style,
    torch_style,
    atol=0.0,
    rtol=2**-10,
)
print(f"entries that differ: {(llama_style != torch_style).sum().item()} of {llama_style.numel()}")

# %% [markdown]
# :::{dropdown} What is QK-norm, and why does it use these norms?
# Some large models normalise the queries and keys of each head (with LayerNorm or RMSNorm,
# per head over $d_\text{head}$) before the dot product. Without it, attention logits can grow
# without bound during training, the softmax saturates and training diverges.
# {cite:t}`dehghani2023scaling` added it to train a 22-billion-parameter vision transformer;
# {cite:t}`henry2020query` proposed normalising queries and keys with a learned scale. With an
# RMSNorm of gain $g$ and $\epsilon=0$,
# $\lVert\hat q\rVert=\lVert\hat k\rVert=\sqrt{d_\text{head}}$ before the gain,
# so by Cauchy–Schwarz every logit $\hat q^\top\hat k/\sqrt{d_\text{head}}$ is at most
# $\sqrt{d_\text{head}}\max_i g_i^2$ in size, whatever the weights. The cell below checks the
# bound on queries and keys of huge norm.
# :::

# %%
head_dim = 64
queries, keys = 1e3 * torch.randn(10, head_dim), 1e3 * torch.randn(20, head_dim)
qk_norm = RMSNorm(head_dim, eps=0.0, elementwise_affine=False)
raw_logits = queries @ keys.T / math.sqrt(head_dim)  # (10, 20)
normed_logits = qk_norm(queries) @ qk_norm(keys).T / math.sqrt(head_dim)
check_true(
    "QK-norm: |logit| ≤ √d_head",
    bool(normed_logits.abs().max() <= math.sqrt(head_dim) + 1e-9),
    f"max |logit| {normed_logits.abs().max():.2f} ≤ {math.sqrt(head_dim):.0f} "
    f"(without QK-norm: {raw_logits.abs().max():.0f})",
)

# %% [markdown]
# :::{dropdown} "RMSNorm treats the mean as 0." Is that what it does?
# No: nothing is assumed. RMSNorm computes a different function that divides by
# $\sqrt{\mu^2+\sigma^2}$ and leaves the mean in the output ({eq}`rms-output-mean`,
# Experiment 2). It equals LN only on zero-mean tokens. The justification is empirical:
# re-centring invariance turned out not to matter much for training quality
# {cite}`zhang2019root`, and the network's weights can learn to produce whatever mean the next
# layer needs.
# :::
#
# :::{dropdown} "Does RMSNorm have a bias?"
# Not in `nn.RMSNorm`, LLaMA, or most LLMs that use it. Only the gain $g$ is learned,
# {eq}`rms-params`. The RMSNorm paper mentions an optional bias, which is rarely used; LN, too,
# is often used without $\beta$ in recent models (`nn.LayerNorm(d, bias=False)`).
# :::

# %% [markdown]
# ## Check yourself
#
# 1. For $x=[2,-1,0,3]$, $\epsilon=0$, unit gains and no bias, what are RMSNorm's and LN's
#    outputs?
#
#    :::{dropdown} Answer
#    $m=(4+1+0+9)/4=3.5$, so RMSNorm gives $x/\sqrt{3.5}\approx[1.0690,-0.5345,0,1.6036]$. For
#    LN, $\mu=1$ and $\sigma^2=(1+4+1+4)/4=2.5$, so it gives
#    $(x-1)/\sqrt{2.5}\approx[0.6325,-1.2649,-0.6325,1.2649]$. Check with
#    {eq}`rms-mean-square`: $\mu^2+\sigma^2=1+2.5=3.5=m$. The next cell computes both with the
#    torch modules.
#    :::

# %%
x_exercise = torch.tensor([2.0, -1.0, 0.0, 3.0])
with torch.no_grad():
    check_close(
        "exercise 1: RMSNorm",
        nn.RMSNorm(4, eps=0.0)(x_exercise),
        torch.tensor([1.0690, -0.5345, 0.0, 1.6036]),
        atol=5e-5,
    )
    check_close(
        "exercise 1: LayerNorm",
        nn.LayerNorm(4, eps=0.0)(x_exercise),
        torch.tensor([0.6325, -1.2649, -0.6325, 1.2649]),
        atol=5e-5,
    )

# %% [markdown]
# 2. A Llama-2-7B-like model has 32 layers of width $d=4096$, two norms per layer and a final
#    norm. How many parameters do its RMSNorms have, and how many would LayerNorms with bias
#    have?
#
#    :::{dropdown} Answer
#    $2\cdot32+1=65$ norms of $d$ parameters each: $65\cdot4096=266{,}240$ for RMSNorm, twice
#    that, $532{,}480$, for LN. Either way a negligible share of 6.7 billion
#    ([chapter 08](08_transformer_parameters.ipynb) counts everything). Checked next by
#    counting the modules.
#    :::

# %%
llama_norms = nn.ModuleList(nn.RMSNorm(4096) for _ in range(2 * 32 + 1))
layer_norms = nn.ModuleList(nn.LayerNorm(4096) for _ in range(2 * 32 + 1))
check_equal("exercise 2: RMSNorm parameters", count_parameters(llama_norms), 266_240)
check_equal("exercise 2: LayerNorm parameters", count_parameters(layer_norms), 532_480)

# %% [markdown]
# 3. A token arrives whose features are all equal, $x=c\mathbf 1$ with $c=-2$. What do LN and
#    RMSNorm output (unit gains, zero bias, $\epsilon=10^{-5}$)?
#
#    :::{dropdown} Answer
#    LN: $x-\mu=0$, so the output is $\beta=0$ for every feature; the token's information is
#    erased. RMSNorm: $m=c^2=4$, so the output is $c/\sqrt{4+\epsilon}\approx-1$ in every
#    feature: it keeps the sign (and, through $g$, the direction $\mathbf 1$). This is
#    {eq}`rms-output-mean` with $\sigma=0$.
#    :::

# %%
constant_token = torch.full((8,), -2.0)
with torch.no_grad():
    check_close(
        "exercise 3: LN(c·1) = 0", nn.LayerNorm(8)(constant_token), torch.zeros(8), atol=1e-12
    )
    check_close(
        "exercise 3: RMSNorm(c·1) = c/√(c²+ε)",
        nn.RMSNorm(8, eps=1e-5)(constant_token),
        torch.full((8,), -2.0 / math.sqrt(4 + 1e-5)),
        atol=1e-12,
    )

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`zhang2019root`: Section 3 (the RMSNorm formula, the gain without bias), Table 1
#   (invariances of LN and RMSNorm), the reported 7–64 % running-time reductions.
# - {cite:t}`ba2016layer`: Section 3 (layer normalization), Section 5.1 and Table 1
#   (invariance under weight and data re-scaling and re-centring).
# - {cite:t}`touvron2023llama`: Section 2 (pre-normalization with RMSNorm); the reference
#   code's float32 normalisation and $\epsilon$ inside the root.
# - {cite:t}`pytorch2025rmsnorm`: `nn.RMSNorm`, its `eps=None` default (machine epsilon of the
#   computation type) and parameters.
# - {cite:t}`dehghani2023scaling` (QK normalization in ViT-22B, Section 2) and
#   {cite:t}`henry2020query` (query–key normalization).

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
# # 04. Batch normalization vs layer normalization
#
# **The question.** What do batch normalization and layer normalization compute, how do they
# behave in training and in evaluation, and when do you use which?
#
# **What you will be able to answer.** Both formulas with their exact axes, $\gamma$, $\beta$
# and the running statistics (with the unbiased variance in the buffer); why BN is a fixed
# affine map at inference that folds into the previous convolution; the backward pass in one
# line; and why BN fails at small batches while LN does not care.

# %%
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.ticker import NullFormatter
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.devices import get_device
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **Both** standardise activations and then apply a learnable per-feature scale and shift:
#   $y=\gamma\,\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}+\beta$. They differ in **which numbers
#   $\mu$ and $\sigma^2$ are averaged over**.
# - **BatchNorm** computes them **per channel, over the batch and the spatial positions**,
#   $(N,H,W)$ for a conv layer and $N$ for a linear one. In training it uses the batch's
#   statistics (biased variance) and keeps running averages, updated as
#   $\hat\mu\leftarrow0.9\,\hat\mu+0.1\,\mu_B$ (PyTorch's `momentum=0.1`); the running variance
#   averages the *unbiased* batch variance. In `eval()` mode it uses those buffers instead, so
#   it becomes a fixed affine map per channel, which can be folded into the preceding conv or
#   linear layer. In training, a sample's output depends on the other samples in its batch.
# - **LayerNorm** computes them **per sample, over the feature dimensions** (in a Transformer,
#   per token over the $d$ features). It has no running statistics, does the same thing in
#   training and evaluation, and does not depend on the batch at all.
# - **When to use which.** The notes' rule "BN for grid-like data, LN for sequences" is
#   misleading: Vision Transformers and ConvNeXt use LN on images. The real issue is the
#   batch. BN needs large batches with consistent statistics. It fails with tiny batches
#   (detection, segmentation, large models per GPU), with padded variable-length sequences,
#   and with a train/eval mismatch. The small-batch fixes are GroupNorm (batch-independent) and
#   SyncBN (statistics over all GPUs).
# - **Why it helps.** Not clearly by reducing "internal covariate shift", as the original paper
#   argued: {cite:t}`santurkar2018how` found that BN need not reduce it, and that BN makes the
#   loss landscape smoother, which permits larger learning rates.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x\in\mathbb R^{N\times C\times H\times W}$ | activations, channel axis 1 | `x`, (N, C, H, W) |
# | $\mathcal S$ | the set of entries one mean and variance are taken over | `dims` |
# | $M=\lvert\mathcal S\rvert$ | how many numbers that is | `count` |
# | $\mu,\ \sigma^2$ | mean and **biased** variance over $\mathcal S$ | `mean`, `var` |
# | $\epsilon$ | small constant in the square root | `eps` ($10^{-5}$) |
# | $\hat x$ | the standardised input | `x_hat` |
# | $\gamma,\ \beta$ | learnable scale and shift | `weight`, `bias` |
# | $\hat\mu,\ \hat\sigma^2$ | BN's running mean and variance | `running_mean`, `running_var` |
# | $m$ | the running averages' update weight | `momentum` (0.1) |
#
# ### BatchNorm in training
#
# BN {cite}`ioffe2015batch` normalises each channel $c$ with statistics over every entry of
# that channel in the batch, $\mathcal S_c=\{(n,h,w)\}$, so $M=NHW$ (for an $(N,C)$ input,
# $\mathcal S_c$ is the batch and $M=N$; for $(N,C,L)$ it is $M=NL$):
#
# $$
# \mu_c=\frac1{M}\sum_{n,h,w}x_{nchw},\qquad
# \sigma_c^2=\frac1{M}\sum_{n,h,w}\big(x_{nchw}-\mu_c\big)^2
# $$ (norm-bn-stats)
#
# $$
# \hat x_{nchw}=\frac{x_{nchw}-\mu_c}{\sqrt{\sigma_c^2+\epsilon}},\qquad
# y_{nchw}=\gamma_c\,\hat x_{nchw}+\beta_c
# $$ (norm-bn)
#
# All positions of a channel share the statistics, and $\gamma_c,\beta_c$: a convolution
# applies the same filter everywhere, so its output channel is normalised as one feature. The
# notes' "across the batch for each feature" is the $(N,C)$ case only. $\gamma$ and $\beta$
# let the layer undo the normalisation if that is what the loss wants
# ($\gamma_c=\sqrt{\sigma_c^2+\epsilon}$, $\beta_c=\mu_c$ give back $x$). A bias in the layer
# before BN is wasted: adding a constant to channel $c$ moves $\mu_c$ by the same constant,
# and {eq}`norm-bn` subtracts it again. $\beta_c$ plays its role.
#
# ### Running statistics and evaluation mode
#
# At inference the output for one image must not depend on which other images share its
# batch, and the batch may have size 1. So in training BN also keeps exponential moving
# averages of the batch statistics, in PyTorch's convention ($m$ = `momentum` = 0.1, the weight
# of the *new* value; $\hat\mu_0=0$, $\hat\sigma^2_0=1$):
#
# $$
# \hat\mu\leftarrow(1-m)\,\hat\mu+m\,\mu_c,\qquad
# \hat\sigma^2\leftarrow(1-m)\,\hat\sigma^2+m\,\frac{M}{M-1}\,\sigma_c^2
# $$ (norm-running)
#
# The factor $M/(M-1)$ is Bessel's correction. The biased variance of $M$ draws has expectation
# $\mathbb E[\sigma_c^2]=\frac{M-1}{M}\sigma^2_{\text{pop}}$, so the buffer stores an unbiased
# estimate of the population variance, as in the paper's inference procedure (its Algorithm 2)
# and PyTorch's documentation {cite}`pytorch2025batchnorm`. Normalisation in training still
# divides by the **biased** $\sigma_c^2$ of {eq}`norm-bn-stats`. With $M=NHW$ in the
# thousands the two hardly differ. With $M=2$ the factor is 2. With `momentum=None`, PyTorch
# uses $m=1/t$ at the $t$-th batch, which gives the plain average of all batches so far.
# `num_batches_tracked` counts $t$. It is a **buffer**, like the two running statistics: it is
# saved in the `state_dict`, and the optimizer never sees it.
#
# In `eval()` mode the buffers replace the batch statistics:
#
# $$
# y_{nchw}=\gamma_c\,\frac{x_{nchw}-\hat\mu_c}{\sqrt{\hat\sigma_c^2+\epsilon}}+\beta_c
# =a_c\,x_{nchw}+b_c,\qquad a_c=\frac{\gamma_c}{\sqrt{\hat\sigma_c^2+\epsilon}},\quad
# b_c=\beta_c-a_c\hat\mu_c
# $$ (norm-bn-eval)
#
# This is a fixed affine map per channel. If it follows a convolution with weights
# $W_{c\,\cdot}$ (output channel $c$) and bias $b^{\text{conv}}_c$, the two compose into one
# convolution, so BN costs nothing at inference:
#
# $$
# W'_{c\,\cdot}=a_c\,W_{c\,\cdot},\qquad b'_c=a_c\big(b^{\text{conv}}_c-\hat\mu_c\big)+\beta_c
# $$ (norm-fold)
#
# The same holds for a linear layer (row $c$ of its weight matrix).
#
# ### LayerNorm
#
# LN {cite}`ba2016layer` takes the statistics over the last $D$ dimensions of **each sample**,
# the `normalized_shape`: over the $d$ features of one token in a Transformer ($(B,T,d)$ input,
# `normalized_shape=d`), or over $(C,H,W)$ for a whole feature map. With $\mathcal S$ the
# $M$ entries of one sample (or one token) in those dimensions, $M=d$ for a token:
#
# $$
# \mu=\frac1M\sum_{i\in\mathcal S}x_i,\quad
# \sigma^2=\frac1M\sum_{i\in\mathcal S}(x_i-\mu)^2,\quad
# y_i=\gamma_i\,\frac{x_i-\mu}{\sqrt{\sigma^2+\epsilon}}+\beta_i
# $$ (norm-ln)
#
# Here $\gamma,\beta$ have the shape `normalized_shape`, one value per feature, the axis that
# was averaged over. In BN they are per channel, the axis that was *not* averaged over. There
# are no running statistics: LN computes the same function in training and in evaluation,
# and a sample's output never depends on the other samples.
#
# ### The backward pass
#
# The gradient takes the same form for both layers; only $\mathcal S$ changes. Write
# $s=\sqrt{\sigma^2+\epsilon}$ and $g_i=\partial L/\partial\hat x_i=\gamma_i\,\partial
# L/\partial y_i$. Since $\partial\mu/\partial x_j=1/M$ and
# $\partial\sigma^2/\partial x_j=2(x_j-\mu)/M$, we get $\partial s/\partial x_j=\hat x_j/M$, and
# for $i,j\in\mathcal S$:
#
# $$
# \frac{\partial\hat x_i}{\partial x_j}=\frac1s\Big(\delta_{ij}-\frac1M-\frac{\hat x_i\hat
# x_j}{M}\Big)
# \quad\Longrightarrow\quad
# \frac{\partial L}{\partial x_j}=\frac{1}{Ms}\Big(M\,g_j-\sum_{i\in\mathcal S}g_i
# -\hat x_j\sum_{i\in\mathcal S}g_i\hat x_i\Big)
# $$ (norm-backward)
#
# The result is exact, with $\epsilon$ included. In BN, $\gamma_c$ is constant over
# $\mathcal S_c$ and comes out of the bracket. This gives the compact formula
# $\frac{\partial L}{\partial x}=\frac{\gamma}{Ms}\big(M\,dy-\sum dy-\hat x\sum dy\,\hat
# x\big)$, with $dy=\partial L/\partial y$. In LN, $\gamma_i$ varies over $\mathcal S$ and must
# stay inside as $g=\gamma\odot dy$. The parameter gradients sum over everything that a
# parameter multiplies (BN: over $N,H,W$; LN: over the batch and token axes):
#
# $$
# \frac{\partial L}{\partial\gamma}=\sum dy\odot\hat x,\qquad
# \frac{\partial L}{\partial\beta}=\sum dy
# $$ (norm-param-grads)
#
# The bracket in {eq}`norm-backward` removes from $g$ its mean and (up to $\epsilon$) its
# component along $\hat x$. So $\sum_j\partial L/\partial x_j=0$: shifting the whole set
# does not change the output, and the gradient has no component in that direction. Likewise,
# rescaling the set does not change the output when $\epsilon=0$, and then
# $\sum_j\hat x_j\,\partial L/\partial x_j=0$ too; with $\epsilon>0$ this sum is
# $\frac{\epsilon}{\sigma^2+\epsilon}\cdot\frac1s\sum_i g_i\hat x_i$, tiny unless
# $\sigma^2$ is comparable to $\epsilon$. In eval mode $\mu,s$ are constants, and the gradient
# is just $a_c\,dy$.
#
# ### Why small batches hurt BN
#
# Batch statistics are estimates. For $M$ independent draws with variance
# $\sigma^2_{\text{pop}}$, and for Gaussian data in the case of the variance:
#
# $$
# \operatorname{sd}(\mu_B)=\frac{\sigma_{\text{pop}}}{\sqrt M},\qquad
# \operatorname{sd}(\sigma_B^2)=\sigma^2_{\text{pop}}\,\frac{\sqrt{2(M-1)}}{M}
# $$ (norm-noise)
#
# (the second because $M\sigma_B^2/\sigma^2_{\text{pop}}\sim\chi^2_{M-1}$, whose variance is
# $2(M-1)$). At $M=2$ the normalisation is extreme. The mean is $(x_1+x_2)/2$, the biased
# variance is $\big((x_1-x_2)/2\big)^2$, and {eq}`norm-bn` gives
#
# $$
# \hat x_{1,2}=\pm\Big(1+\frac{4\epsilon}{(x_1-x_2)^2}\Big)^{-1/2}\approx\pm1
# $$ (norm-two-samples)
#
# In training, every feature is then reduced to the sign of $x_1-x_2$. At evaluation, the
# running statistics give a continuous $\hat x$ that the next layer never saw in training.
# Experiment 2 measures what this does to accuracy.

# %% [markdown]
# ## Implementation from scratch
#
# ### BatchNorm
#
# One class covers `nn.BatchNorm1d` ((N, C) or (N, C, L) input) and `nn.BatchNorm2d`
# ((N, C, H, W)): the statistics run over every axis except the channel axis 1. The argument
# names, the parameter names (`weight` = $\gamma$, `bias` = $\beta$) and the buffer names are
# PyTorch's, so the `state_dict`s are interchangeable. Like PyTorch, it raises an error when a
# channel has a single value in training, where the variance would be 0 and $\hat x$
# meaningless.


# %%
class BatchNorm(nn.Module):
    """Batch normalization over every axis but the channel axis 1, eqs. (norm-bn-stats) to
    (norm-bn-eval). Input (N, C), (N, C, L) or (N, C, H, W)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))  # γ, (C,)
            self.bias = nn.Parameter(torch.zeros(num_features))  # β, (C,)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:  # buffers: in the state_dict, not in parameters()
            self.register_buffer("running_mean", torch.zeros(num_features))  # μ̂_0 = 0
            self.register_buffer("running_var", torch.ones(num_features))  # σ̂²_0 = 1
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected (N, {self.num_features}, ...), got {tuple(x.shape)}")
        dims = [0, *range(2, x.dim())]  # every axis but the channel axis
        shape = [1, -1] + [1] * (x.dim() - 2)  # (1, C, 1, 1): broadcast a (C,) vector
        if self.training or not self.track_running_stats:
            count = x.numel() // self.num_features  # M = N·H·W
            if count == 1:
                raise ValueError(f"expected more than 1 value per channel, got {tuple(x.shape)}")
            mean = x.mean(dims)  # (C,), eq. (norm-bn-stats)
            var = x.var(dims, correction=0)  # (C,), biased: divides by M
            if self.training and self.track_running_stats:
                with torch.no_grad():  # eq. (norm-running): no gradient flows into the buffers
                    self.num_batches_tracked += 1
                    if self.momentum is None:  # cumulative average: m = 1/t
                        m = 1.0 / float(self.num_batches_tracked)
                    else:
                        m = self.momentum
                    self.running_mean.mul_(1 - m).add_(m * mean)
                    self.running_var.mul_(1 - m).add_(m * var * count / (count - 1))  # unbiased
        else:
            mean, var = self.running_mean, self.running_var  # eq. (norm-bn-eval)
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)  # eq. (norm-bn)
        if not self.affine:
            return x_hat
        return self.weight.view(shape) * x_hat + self.bias.view(shape)


# %% [markdown]
# ### LayerNorm
#
# {eq}`norm-ln` over the last `len(normalized_shape)` axes, with PyTorch's argument names
# (including `bias`, which lets you keep $\gamma$ and drop $\beta$).


# %%
class LayerNorm(nn.Module):
    """Layer normalization over the trailing `normalized_shape` axes, eq. (norm-ln)."""

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
        dims = tuple(range(-len(self.normalized_shape), 0))  # the trailing axes
        mean = x.mean(dims, keepdim=True)  # (..., 1, 1): one mean per sample/token
        var = x.var(dims, correction=0, keepdim=True)  # biased, as in BN
        y = (x - mean) / torch.sqrt(var + self.eps)  # eq. (norm-ln)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


# %% [markdown]
# ### A hand-written backward
#
# {eq}`norm-backward` and {eq}`norm-param-grads` as `torch.autograd.Function`s. The forward
# saves $\hat x$ and $1/s$ (not $x$), which is all the backward needs. The bracket of
# {eq}`norm-backward` is shared: the two layers differ only in the axes $\mathcal S$ and in
# where $\gamma$ broadcasts.


# %%
def normalization_input_grad(
    grad_x_hat: torch.Tensor, x_hat: torch.Tensor, inv_std: torch.Tensor, dims: list[int]
) -> torch.Tensor:
    """eq. (norm-backward): ∂L/∂x from g = ∂L/∂x̂, for x̂ standardised over the axes `dims`."""
    count = math.prod(x_hat.shape[d] for d in dims)  # M
    sum_g = grad_x_hat.sum(dims, keepdim=True)  # Σ g_i
    sum_g_x_hat = (grad_x_hat * x_hat).sum(dims, keepdim=True)  # Σ g_i x̂_i
    return inv_std / count * (count * grad_x_hat - sum_g - x_hat * sum_g_x_hat)


class BatchNormFunction(torch.autograd.Function):
    """Training-mode batch norm, eq. (norm-bn), with the backward of eq. (norm-backward)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        eps: float,
    ) -> torch.Tensor:
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        mean = x.mean(dims, keepdim=True)  # (1, C, 1, 1)
        inv_std = 1 / torch.sqrt(x.var(dims, correction=0, keepdim=True) + eps)  # 1/s
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.dims, ctx.shape = dims, shape
        return weight.view(shape) * x_hat + bias.view(shape)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        x_hat, inv_std, weight = ctx.saved_tensors
        grad_x_hat = grad_out * weight.view(ctx.shape)  # g = γ_c dy, γ constant over S_c
        grad_x = normalization_input_grad(grad_x_hat, x_hat, inv_std, ctx.dims)
        grad_weight = (grad_out * x_hat).sum(ctx.dims)  # eq. (norm-param-grads), (C,)
        grad_bias = grad_out.sum(ctx.dims)  # (C,)
        return grad_x, grad_weight, grad_bias, None  # no gradient for eps


class LayerNormFunction(torch.autograd.Function):
    """Layer norm over the trailing weight.dim() axes, eq. (norm-ln), with the backward of
    eq. (norm-backward)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        eps: float,
    ) -> torch.Tensor:
        dims = list(range(x.dim() - weight.dim(), x.dim()))  # the normalized axes
        mean = x.mean(dims, keepdim=True)  # (..., 1)
        inv_std = 1 / torch.sqrt(x.var(dims, correction=0, keepdim=True) + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.dims = dims
        return weight * x_hat + bias

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        x_hat, inv_std, weight = ctx.saved_tensors
        grad_x_hat = grad_out * weight  # g = γ ⊙ dy: γ varies over S, so it stays inside
        grad_x = normalization_input_grad(grad_x_hat, x_hat, inv_std, ctx.dims)
        batch_dims = list(range(x_hat.dim() - weight.dim()))  # everything γ is shared over
        grad_weight = (grad_out * x_hat).sum(batch_dims)  # eq. (norm-param-grads)
        grad_bias = grad_out.sum(batch_dims)
        return grad_x, grad_weight, grad_bias, None


# %% [markdown]
# ### Folding eval-mode BN into the convolution before it
#
# {eq}`norm-fold`: scale each output channel's filter by $a_c$ and move the shift into the
# bias.


# %%
def fold_batchnorm_into_conv(conv: nn.Conv2d, bn: BatchNorm) -> nn.Conv2d:
    """One convolution equal to bn(conv(x)) with bn in eval mode, eq. (norm-fold)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # a_c, (C_out,)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))  # (C_out, C_in, k, k)
        fused.bias = nn.Parameter((conv_bias - bn.running_mean) * scale + bn.bias)  # (C_out,)
    return fused


# %% [markdown]
# ## Verification
#
# Everything here runs in float64, so agreement to `atol=1e-12` means the same computation.
#
# ### The errata's example: one feature, the batch $[1,2,3,4]$
#
# One training step of a fresh `BatchNorm1d(1)`. The closed forms: the batch mean is 2.5 and
# the biased variance 1.25, so the output is $(x-2.5)/\sqrt{1.25+\epsilon}$. The running
# mean becomes $0.9\cdot0+0.1\cdot2.5=0.25$. The running variance becomes
# $0.9\cdot1+0.1\cdot\frac43\cdot1.25=0.9+0.1\cdot1.6667=1.066667$, with the unbiased
# variance $5/3$. Afterwards, in eval mode, the same batch gives
# $(x-0.25)/\sqrt{1.066667+\epsilon}$.

# %%
batch = torch.tensor([[1.0], [2.0], [3.0], [4.0]])  # (N, C) = (4, 1)
ours_bn, torch_bn = BatchNorm(1), nn.BatchNorm1d(1)
eps = 1e-5
closed_form = {
    "train output": (batch - 2.5) / math.sqrt(1.25 + eps),
    "running_mean": torch.tensor([0.1 * 2.5]),
    "running_var": torch.tensor([0.9 * 1.0 + 0.1 * (4 / 3) * 1.25]),
    "eval output": (batch - 0.25) / math.sqrt(0.9 + 0.1 * 5 / 3 + eps),
}
errata_values = {
    "train output": torch.tensor([[-1.3416], [-0.4472], [0.4472], [1.3416]]),
    "running_mean": torch.tensor([0.25]),
    "running_var": torch.tensor([1.066667]),
    "eval output": torch.tensor([[0.7262], [1.6944], [2.6627], [3.6309]]),
}
results = {}
for name, module in [("ours", ours_bn), ("torch", torch_bn)]:
    with torch.no_grad():
        train_output = module(batch)  # one training step
        module.eval()
        results[name] = {
            "train output": train_output,
            "running_mean": module.running_mean.clone(),
            "running_var": module.running_var.clone(),
            "eval output": module(batch),
        }
for key, value in closed_form.items():
    check_close(f"{key}: ours vs closed form", results["ours"][key], value, atol=1e-12)
    check_close(f"{key}: nn.BatchNorm1d vs closed form", results["torch"][key], value, atol=1e-12)
    # the errata print 4 decimals (running_var 6), so a rounding error up to 5e-5
    check_close(f"{key}: errata's rounded values", value, errata_values[key], atol=5e-5)
print("train output:", closed_form["train output"].flatten().numpy().round(4))
print("eval output: ", closed_form["eval output"].flatten().numpy().round(4))

# %% [markdown]
# The same batch gives two different outputs in train and eval mode: after one step the
# running statistics (0.25, 1.0667) are still far from the batch's (2.5, 1.25), because they
# started at (0, 1) and moved only 10 % of the way.
#
# ### BatchNorm against `nn.BatchNorm1d` and `nn.BatchNorm2d`
#
# For six configurations (each input layout, non-default `momentum` and `eps`,
# `momentum=None`, no affine, no running statistics), the from-scratch module loads the torch
# module's `state_dict` (random $\gamma,\beta$), and both see the same five training batches
# with shifted means and scales. After each step we compare the output and the gradients with
# respect to $x$, $\gamma$, $\beta$ for a random upstream gradient. After the five steps we
# compare the buffers, and then the eval-mode outputs and gradients.


# %%
def forward_and_grads(
    module: nn.Module, x: torch.Tensor, upstream: torch.Tensor
) -> list[torch.Tensor]:
    """The output, ∂L/∂x and the gradients of the module's parameters, for L = Σ upstream·y."""
    x = x.clone().requires_grad_()
    module.zero_grad()
    y = module(x)
    (y * upstream).sum().backward()
    grads = [p.grad.clone() for p in module.parameters()]
    return [y.detach(), x.grad, *grads]


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.flatten() for t in tensors])


def compare_batchnorm(torch_class: type[nn.Module], shape: tuple[int, ...], **kwargs) -> dict:
    """Ours vs torch over 5 training steps and one eval step; returns flat tensors to compare."""
    reference = torch_class(shape[1], **kwargs)
    if reference.affine:
        with torch.no_grad():
            reference.weight.uniform_(0.5, 2.0)  # γ
            reference.bias.normal_()  # β
    ours = BatchNorm(shape[1], **kwargs)
    ours.load_state_dict(reference.state_dict())  # same keys: parameters and buffers
    train = {"ours": [], "torch": []}
    for _ in range(5):
        x = 3.0 * torch.randn(shape) + torch.randn(1) * 2  # a shifted, scaled batch
        upstream = torch.randn(shape)
        train["ours"] += forward_and_grads(ours, x, upstream)
        train["torch"] += forward_and_grads(reference, x, upstream)
    ours.eval(), reference.eval()
    x, upstream = torch.randn(shape), torch.randn(shape)
    buffers = [list(module.buffers()) for module in (ours, reference)]
    return {
        "train": (flat(train["ours"]), flat(train["torch"])),
        "buffers": tuple(flat(b) for b in buffers) if buffers[0] else None,
        "eval": (
            flat(forward_and_grads(ours, x, upstream)),
            flat(forward_and_grads(reference, x, upstream)),
        ),
    }


# %%
batchnorm_cases = [
    ("BatchNorm1d (N, C)", nn.BatchNorm1d, (16, 5), {}),
    (
        "BatchNorm1d (N, C, L), momentum 0.3, eps 1e-3",
        nn.BatchNorm1d,
        (8, 5, 7),
        {"momentum": 0.3, "eps": 1e-3},
    ),
    ("BatchNorm2d (N, C, H, W)", nn.BatchNorm2d, (4, 5, 6, 6), {}),
    ("BatchNorm2d, momentum=None", nn.BatchNorm2d, (4, 5, 3, 3), {"momentum": None}),
    ("BatchNorm2d, affine=False", nn.BatchNorm2d, (4, 5, 3, 3), {"affine": False}),
    ("BatchNorm2d, no running stats", nn.BatchNorm2d, (4, 5, 3, 3), {"track_running_stats": False}),
]
for name, torch_class, shape, kwargs in batchnorm_cases:
    compared = compare_batchnorm(torch_class, shape, **kwargs)
    for mode, what in [
        ("train", "5 train steps: y, ∂x, ∂γ, ∂β"),
        ("buffers", "running_mean, running_var, num_batches_tracked"),
        ("eval", "eval: y, ∂x, ∂γ, ∂β"),
    ]:
        if compared[mode] is None:
            continue  # track_running_stats=False: neither module has buffers
        check_close(f"{name}: {what}", *compared[mode], atol=1e-12)

# %% [markdown]
# The buffer check includes `num_batches_tracked` (5 after five steps in both). That it
# is a buffer and not a parameter, and that the two modules expose the same names:

# %%
ours_bn, torch_bn = BatchNorm(8), nn.BatchNorm2d(8)
check_equal(
    "state_dict keys, ours vs nn.BatchNorm2d",
    np.array(sorted(ours_bn.state_dict())),
    np.array(sorted(torch_bn.state_dict())),
)
check_equal(
    "parameters of nn.BatchNorm2d (what the optimizer sees)",
    np.array([name for name, _ in torch_bn.named_parameters()]),
    np.array(["weight", "bias"]),
)
check_equal(
    "buffers of nn.BatchNorm2d",
    np.array([name for name, _ in torch_bn.named_buffers()]),
    np.array(["running_mean", "running_var", "num_batches_tracked"]),
)

# %% [markdown]
# ### LayerNorm against `nn.LayerNorm`
#
# Per token over $d$ on a (B, T, d) input, per sample over $(C,H,W)$ on images, without the
# affine part, and without $\beta$, each with random $\gamma,\beta$ copied into ours. LN must
# give the same outputs in train and eval mode.

# %%
layernorm_cases = [
    ("LayerNorm(d) on (B, T, d)", (4, 6, 10), 10, {}),
    ("LayerNorm((C, H, W)) on (N, C, H, W)", (3, 4, 5, 5), (4, 5, 5), {}),
    ("LayerNorm(d, elementwise_affine=False)", (4, 6, 10), 10, dict(elementwise_affine=False)),
    ("LayerNorm(d, bias=False), eps 1e-3", (4, 6, 10), 10, dict(bias=False, eps=1e-3)),
]
for name, shape, normalized_shape, kwargs in layernorm_cases:
    reference = nn.LayerNorm(normalized_shape, **kwargs)
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_()
    ours_ln = LayerNorm(normalized_shape, **kwargs)
    ours_ln.load_state_dict(reference.state_dict())
    x, upstream = torch.randn(shape) * 3 + 1, torch.randn(shape)
    check_close(
        f"{name}: y, ∂x, ∂γ, ∂β",
        flat(forward_and_grads(ours_ln, x, upstream)),
        flat(forward_and_grads(reference, x, upstream)),
        atol=1e-12,
    )
    train_output = ours_ln(x)
    check_equal(f"{name}: train mode = eval mode", ours_ln.eval()(x), train_output)

# %% [markdown]
# ### The hand-written backward
#
# `BatchNormFunction` and `LayerNormFunction` against autograd through the modules above
# (which match torch), and against central finite differences with
# `torch.autograd.gradcheck`, for $x$, $\gamma$ and $\beta$ at once. We also check the two
# invariants of {eq}`norm-backward` with $\epsilon=0$: per channel, $\partial L/\partial x$
# sums to 0 and is orthogonal to $\hat x$.

# %%
x = torch.randn(6, 3, 4, 4) * 2 + 1  # (N, C, H, W)
upstream = torch.randn(6, 3, 4, 4)
bn = BatchNorm(3)
with torch.no_grad():
    bn.weight.uniform_(0.5, 2.0)
    bn.bias.normal_()
autograd_grads = forward_and_grads(bn, x, upstream)
x_leaf = x.clone().requires_grad_()
weight, bias = bn.weight.detach().clone().requires_grad_(), bn.bias.detach().clone()
bias.requires_grad_()
y = BatchNormFunction.apply(x_leaf, weight, bias, bn.eps)
(y * upstream).sum().backward()
check_close(
    "BatchNormFunction: y, ∂x, ∂γ, ∂β vs autograd through BatchNorm",
    flat([y.detach(), x_leaf.grad, weight.grad, bias.grad]),
    flat(autograd_grads),
    atol=1e-12,
)
x_leaf = x.clone().requires_grad_()
(BatchNormFunction.apply(x_leaf, weight.detach(), bias.detach(), 0.0) * upstream).sum().backward()
x_hat = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), correction=0, keepdim=True)
check_close(
    "BN, ε = 0: Σ ∂L/∂x and Σ x̂·∂L/∂x per channel",
    torch.stack([x_leaf.grad.sum((0, 2, 3)), (x_hat * x_leaf.grad).sum((0, 2, 3))]),
    torch.zeros(2, 3),
    atol=1e-12,
)
small = torch.randn(4, 2, 3) * 2 + 1, torch.rand(2) + 0.5, torch.randn(2)  # x, γ, β
inputs = tuple(t.clone().requires_grad_() for t in small)
check_true(
    "BatchNormFunction passes gradcheck (finite differences)",
    torch.autograd.gradcheck(lambda a, w, b: BatchNormFunction.apply(a, w, b, 1e-5), inputs),
)

# %%
x = torch.randn(3, 5, 8) * 2 + 1  # (B, T, d)
upstream = torch.randn(3, 5, 8)
ln = LayerNorm(8)
with torch.no_grad():
    ln.weight.normal_()
    ln.bias.normal_()
autograd_grads = forward_and_grads(ln, x, upstream)
x_leaf = x.clone().requires_grad_()
weight, bias = ln.weight.detach().clone().requires_grad_(), ln.bias.detach().clone()
bias.requires_grad_()
y = LayerNormFunction.apply(x_leaf, weight, bias, ln.eps)
(y * upstream).sum().backward()
check_close(
    "LayerNormFunction: y, ∂x, ∂γ, ∂β vs autograd through LayerNorm",
    flat([y.detach(), x_leaf.grad, weight.grad, bias.grad]),
    flat(autograd_grads),
    atol=1e-12,
)
small = torch.randn(2, 3, 4) * 2 + 1, torch.randn(4), torch.randn(4)  # x (B, T, d), γ, β
inputs = tuple(t.clone().requires_grad_() for t in small)
check_true(
    "LayerNormFunction passes gradcheck (finite differences)",
    torch.autograd.gradcheck(lambda a, w, b: LayerNormFunction.apply(a, w, b, 1e-5), inputs),
)

# %% [markdown]
# Had we pulled $\gamma$ out of the bracket for LN as for BN (the compact formula with a
# per-feature $\gamma$), the input gradient would be wrong whenever $\gamma$ is not constant:

# %%
x_hat = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, correction=0, keepdim=True) + 1e-5)
inv_std = 1 / torch.sqrt(x.var(-1, correction=0, keepdim=True) + 1e-5)
gamma_outside = weight.detach() * normalization_input_grad(upstream, x_hat, inv_std, [-1])
error = (gamma_outside - x_leaf.grad).abs().max().item()
check_true("LN with γ pulled out of the bracket is wrong", error > 0.1, f"max abs err {error:.2f}")

# %% [markdown]
# ### Eval-mode BN folds into the convolution
#
# A conv (no bias, as is usual before BN) followed by BN, trained for a few steps so that the
# running statistics and $\gamma,\beta$ are not trivial, then put in eval mode. The folded
# convolution of {eq}`norm-fold` must equal the pair, and equal PyTorch's own
# `fuse_conv_bn_eval`.

# %%
conv, bn = nn.Conv2d(3, 4, kernel_size=3, padding=1, bias=False), BatchNorm(4)
with torch.no_grad():
    bn.weight.uniform_(0.5, 2.0)
    bn.bias.normal_()
    for _ in range(10):
        bn(conv(torch.randn(8, 3, 6, 6) * 2 + 1))  # training steps: the buffers move
conv.eval(), bn.eval()
images = torch.randn(5, 3, 6, 6)  # (N, C_in, H, W)
fused = fold_batchnorm_into_conv(conv, bn)
torch_bn = nn.BatchNorm2d(4).eval()
torch_bn.load_state_dict(bn.state_dict())
torch_fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, torch_bn)
with torch.no_grad():
    check_close("folded conv vs conv → BN (eval)", fused(images), bn(conv(images)), atol=1e-12)
    check_close(
        "folded conv vs torch's fuse_conv_bn_eval", fused(images), torch_fused(images), atol=1e-12
    )

# %% [markdown]
# ## Experiments
#
# ### 1. Batch statistics are noisy, and a sample's output depends on its batch mates
#
# For a standard normal feature, 20,000 batches of each size $M$: the spread of the batch mean
# and of the batch variance, against {eq}`norm-noise`, and the distribution of $\hat x$ at
# $M=2$, against {eq}`norm-two-samples`.

# %%
BATCH_SIZES_NOISE = np.array([2, 4, 8, 16, 32, 64, 128])
N_BATCHES = 20_000
spread_mean, spread_var, x_hat_by_size = [], [], {}
for size in BATCH_SIZES_NOISE:
    draws = torch.from_numpy(rng.standard_normal((size, N_BATCHES)))  # (M, batches)
    spread_mean.append(draws.mean(0).std().item())  # sd over batches of μ_B
    spread_var.append(draws.var(0, correction=0).std().item())  # ... of the biased σ²_B
    # each column is one batch: as channels of one BatchNorm, each gets its own statistics
    x_hat_by_size[int(size)] = BatchNorm(N_BATCHES, affine=False)(draws)  # (M, batches)
spread_mean, spread_var = np.array(spread_mean), np.array(spread_var)
theory_mean = 1 / np.sqrt(BATCH_SIZES_NOISE)  # eq. (norm-noise), σ_pop = 1
theory_var = np.sqrt(2 * (BATCH_SIZES_NOISE - 1)) / BATCH_SIZES_NOISE
# the spread of 20,000 draws is known to about 1 % (0.5 % for the mean), so allow 3 %
check_close("sd(μ_B) vs 1/√M", spread_mean, theory_mean, atol=0.0, rtol=0.03)
check_close("sd(σ²_B) vs √(2(M-1))/M", spread_var, theory_var, atol=0.0, rtol=0.03)
two = torch.from_numpy(rng.standard_normal((2, N_BATCHES)))  # (2, batches)
predicted = 1 / torch.sqrt(1 + 4e-5 / (two[0] - two[1]) ** 2)  # eq. (norm-two-samples), ε = 1e-5
x_hat_two = BatchNorm(N_BATCHES, affine=False)(two)  # (2, batches)
check_close(
    "M = 2: x̂₁ vs sign(x₁-x₂)(1 + 4ε/(x₁-x₂)²)^(-1/2)",
    x_hat_two[0],
    torch.sign(two[0] - two[1]) * predicted,
    atol=1e-12,
)
x_hat_by_size = {size: x_hat.detach().numpy() for size, x_hat in x_hat_by_size.items()}
at_two = np.abs(x_hat_by_size[2])
print(
    f"M = 2: {np.mean(at_two > 0.99):.1%} of |x̂| exceed 0.99; median |x̂| = {np.median(at_two):.5f}"
)

# %%
fig, (ax_spread, ax_hist) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_spread.loglog(BATCH_SIZES_NOISE, spread_mean, "o", color=PALETTE[0], label=r"sd$(\mu_B)$")
ax_spread.loglog(BATCH_SIZES_NOISE, theory_mean, "-", color=PALETTE[0], label=r"$1/\sqrt{M}$")
ax_spread.loglog(BATCH_SIZES_NOISE, spread_var, "s", color=PALETTE[1], label=r"sd$(\sigma_B^2)$")
ax_spread.loglog(BATCH_SIZES_NOISE, theory_var, "--", color=PALETTE[1], label=r"$\sqrt{2(M-1)}/M$")
ax_spread.set_xticks(BATCH_SIZES_NOISE, labels=[str(m) for m in BATCH_SIZES_NOISE])
ax_spread.set_yticks([0.1, 0.2, 0.4, 0.7], labels=["0.1", "0.2", "0.4", "0.7"], minor=False)
ax_spread.xaxis.set_minor_formatter(NullFormatter())
ax_spread.yaxis.set_minor_formatter(NullFormatter())
ax_spread.set(
    xlabel="values per channel in the batch, $M$",
    ylabel="spread over batches (population sd = 1)",
    title="Batch statistics are noisy at small M",
)
ax_spread.legend()
bins = np.linspace(-3, 3, 61)
for size, colour in [(2, PALETTE[1]), (4, PALETTE[2]), (64, PALETTE[0])]:
    ax_hist.hist(
        x_hat_by_size[size].ravel(),
        bins=bins,
        density=True,
        histtype="step",
        lw=1.5,
        color=colour,
        label=f"M = {size}",
    )
ax_hist.set(
    xlabel=r"normalised value $\hat x$",
    ylabel="density",
    yscale="log",
    title=r"At M = 2 almost every $\hat x$ is $\pm1$",
)
ax_hist.legend()
fig.suptitle(
    f"At M = 2 the batch mean scatters by {spread_mean[0]:.2f} population sd, and BN's output "
    "is only a sign"
)
plt.show()

# %% [markdown]
# The printout gives the fraction of $|\hat x|$ above 0.99 at $M=2$: training with two samples
# per batch hands the next layer one bit per feature. At $M=4$ the distribution is
# already spread out, and at $M=64$ it is close to the standard normal.
#
# What this means for one sample: in training, its output changes when its batch mates change.
# In eval mode and in LN it does not.

# %%
sample = torch.randn(1, 6)  # (1, C)
mates_a, mates_b = torch.randn(3, 6), torch.randn(3, 6) + 1  # two sets of batch mates
bn, ln = BatchNorm(6), LayerNorm(6)
with torch.no_grad():
    bn(torch.randn(64, 6))  # one training step, so the eval-mode buffers are not (0, 1)
    outputs = {}
    for mode in ("train", "eval"):
        bn.train(mode == "train")
        outputs[mode] = [bn(torch.cat([sample, mates]))[0] for mates in (mates_a, mates_b)]
    ln_outputs = [ln(torch.cat([sample, mates]))[0] for mates in (mates_a, mates_b)]
change = (outputs["train"][0] - outputs["train"][1]).abs().max().item()
check_true("BN, train mode: the sample's output changes with its batch mates", change > 0.1)
print(f"    max change of the sample's output: {change:.3f}")
check_close("BN, eval mode: the same output with either batch", *outputs["eval"], atol=1e-12)
check_close("LN: the same output with either batch", *ln_outputs, atol=1e-12)

# %% [markdown]
# ### 2. Batch size: BN vs LN vs no normalisation on digits
#
# An MLP $64\to64\to10$ on scikit-learn's 8×8 digits (a stratified 75/25 split) with
# a BatchNorm, a LayerNorm or nothing between the hidden linear layer and the ReLU. Each is
# trained at batch sizes 2 to 64 for the same number of epochs (2), so every run sees the
# same examples. The learning rate grows in proportion to the batch size
# ($\eta=0.005\cdot B$, SGD with momentum 0.9), the common linear scaling heuristic, so that small
# and large batches take comparable steps per epoch. Each setting is repeated with 10 seeds.
#
# To make this cheap, the $3\times10=30$ networks train side by side in one module: weights
# carry a leading replica axis, activations have shape (B, R, width), and each replica draws
# its own batches. BN replicas are the channels of one `BatchNorm(10 · width)`, whose
# statistics run over the batch axis only, so every (replica, unit) pair is normalised on its
# own. Replica $s$ of each normalisation starts from the same weights and sees the same
# batches, so the three differ only in the normalisation.


# %%
class ReplicatedLinear(nn.Module):
    """R independent linear layers, (B, R, in) → (B, R, out), initialised like nn.Linear."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)  # (R, in, out), (R, out)

    @classmethod
    def initialised(cls, n_seeds: int, repeat: int, d_in: int, d_out: int) -> "ReplicatedLinear":
        """n_seeds random layers (bound 1/√d_in, as nn.Linear), each repeated `repeat` times."""
        bound = 1 / math.sqrt(d_in)
        weight = torch.empty(n_seeds, d_in, d_out).uniform_(-bound, bound)
        bias = torch.empty(n_seeds, d_out).uniform_(-bound, bound)
        return cls(weight.repeat(repeat, 1, 1), bias.repeat(repeat, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_replica = x.transpose(0, 1)  # (R, B, in)
        out = torch.baddbmm(self.bias[:, None, :], per_replica, self.weight)  # (R, B, out)
        return out.transpose(0, 1)  # (B, R, out): replica r computes b_r + x_r W_r


class ThreeNormsMLP(nn.Module):
    """n_seeds MLPs 64 → width → 10 for each of: BatchNorm, LayerNorm, no normalisation
    (replicas 0…S-1, S…2S-1, 2S…3S-1), all trained at once."""

    def __init__(self, n_seeds: int, width: int = 64, n_classes: int = 10) -> None:
        super().__init__()
        self.n_seeds = n_seeds
        self.hidden = ReplicatedLinear.initialised(n_seeds, 3, 64, width)
        self.batch_norm = BatchNorm(n_seeds * width)  # one channel per (replica, unit)
        self.layer_norm = LayerNorm(width, elementwise_affine=False)  # per (sample, replica)
        self.ln_weight = nn.Parameter(torch.ones(n_seeds, width))  # each replica its own γ, β
        self.ln_bias = nn.Parameter(torch.zeros(n_seeds, width))
        self.output = ReplicatedLinear.initialised(n_seeds, 3, width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden(x)  # (B, R, width)
        h_bn, h_ln, h_none = h.split(self.n_seeds, dim=1)  # (B, S, width) each
        h_bn = self.batch_norm(h_bn.flatten(1)).view_as(h_bn)  # statistics over B only
        h_ln = self.layer_norm(h_ln) * self.ln_weight + self.ln_bias  # over width only
        return self.output(torch.relu(torch.cat([h_bn, h_ln, h_none], dim=1)))  # (B, R, 10)


# %% [markdown]
# Before training, a check that the replicas really are independent networks: each one's
# output must equal that of an ordinary `nn.Sequential` with torch's own modules and the
# replica's weights, on the replica's own batch (in training mode, so BN uses batch
# statistics).

# %%
N_CHECK_SEEDS, CHECK_WIDTH = 2, 8
side_by_side = ThreeNormsMLP(N_CHECK_SEEDS, CHECK_WIDTH)
with torch.no_grad():
    for p in side_by_side.parameters():
        p.normal_()  # random γ, β too
x = torch.randn(5, 3 * N_CHECK_SEEDS, 64)  # (B, R, 64): a different batch for each replica
replica_outputs, sequential_outputs = side_by_side(x), []
for r in range(3 * N_CHECK_SEEDS):
    kind, s = divmod(r, N_CHECK_SEEDS)
    units = slice(s * CHECK_WIDTH, (s + 1) * CHECK_WIDTH)
    norm = [nn.BatchNorm1d(CHECK_WIDTH), nn.LayerNorm(CHECK_WIDTH), nn.Identity()][kind]
    sequential = nn.Sequential(
        nn.Linear(64, CHECK_WIDTH), norm, nn.ReLU(), nn.Linear(CHECK_WIDTH, 10)
    )
    with torch.no_grad():
        for linear, replicated in [
            (sequential[0], side_by_side.hidden),
            (sequential[3], side_by_side.output),
        ]:
            linear.weight.copy_(replicated.weight[r].T)
            linear.bias.copy_(replicated.bias[r])
        if kind == 0:
            norm.weight.copy_(side_by_side.batch_norm.weight[units])
            norm.bias.copy_(side_by_side.batch_norm.bias[units])
        elif kind == 1:
            norm.weight.copy_(side_by_side.ln_weight[s])
            norm.bias.copy_(side_by_side.ln_bias[s])
    sequential_outputs.append(sequential(x[:, r]))  # (B, 10)
check_close(
    "replica r of ThreeNormsMLP = its own nn.Sequential, all 6 replicas",
    replica_outputs.detach(),
    torch.stack(sequential_outputs, dim=1).detach(),
    atol=1e-12,
)

# %% [markdown]
# The training loop. SGD with momentum is written out in two lines, the update of
# `torch.optim.SGD(momentum=0.9)` from chapter 01 of Part I: creating a `torch.optim`
# optimizer imports PyTorch's compiler stack, seconds of this notebook's budget. The loss is
# the sum over replicas of each replica's mean cross-entropy, so each replica gets exactly its
# own gradient. The last incomplete batch of an epoch is dropped: a batch of 1 would make BN
# raise, see the Pitfalls.

# %%
digits_x, digits_y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    digits_x / 16.0, digits_y, test_size=0.25, stratify=digits_y, random_state=0
)
device = get_device()
x_train, x_test = (torch.tensor(a, dtype=torch.float32, device=device) for a in (x_train, x_test))
y_train, y_test = (torch.tensor(a, device=device) for a in (y_train, y_test))
print(f"{len(x_train)} training and {len(x_test)} test images, 64 pixels each, on {device}")
N_SEEDS, EPOCHS, LR_PER_EXAMPLE, MOMENTUM = 10, 2, 0.005, 0.9
BATCH_SIZES = [2, 4, 8, 16, 32, 64]
NORMS = ["BatchNorm", "LayerNorm", "none"]


def train_side_by_side(batch_size: int) -> ThreeNormsMLP:
    """Train the 3·N_SEEDS replicas for EPOCHS epochs at one batch size, lr ∝ batch size."""
    torch.manual_seed(0)  # the same initial weights at every batch size
    model = ThreeNormsMLP(N_SEEDS).to(device=device, dtype=torch.float32)
    params = list(model.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    lr = LR_PER_EXAMPLE * batch_size
    order_generator = torch.Generator().manual_seed(1)
    n_train, n_batches = len(x_train), len(x_train) // batch_size
    for _ in range(EPOCHS):
        orders = [torch.randperm(n_train, generator=order_generator) for _ in range(N_SEEDS)]
        order = torch.stack(orders * 3, dim=1).to(device)  # (n, R): replica s of each norm alike
        for rows in order[: n_batches * batch_size].view(n_batches, batch_size, -1):  # (B, R)
            logits = model(x_train[rows])  # (B, R, 10)
            loss = (
                F.cross_entropy(logits.flatten(0, 1), y_train[rows].flatten(), reduction="sum")
                / batch_size
            )  # Σ over replicas of each replica's mean loss
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p, v in zip(params, velocity, strict=True):
                    v.mul_(MOMENTUM).add_(p.grad)  # b_t = μ b_{t-1} + g_t
                    p.sub_(lr * v)
    return model


def test_accuracy(model: ThreeNormsMLP, batch_size: int | None) -> np.ndarray:
    """Test accuracy of each replica, shape (3, S): in eval mode (batch_size None), or in train
    mode on test batches of `batch_size` (BN then uses those batches' statistics)."""
    test_x = x_test[:, None].expand(-1, 3 * N_SEEDS, -1)  # (n, R, 64): all replicas see it
    with torch.no_grad():
        if batch_size is None:
            predictions, targets = model.eval()(test_x).argmax(-1), y_test
        else:
            copy_in_train_mode = copy.deepcopy(model).train()  # its buffers may change
            n_used = len(test_x) // batch_size * batch_size
            batches = test_x[:n_used].split(batch_size)
            predictions = torch.cat([copy_in_train_mode(b).argmax(-1) for b in batches])
            targets = y_test[:n_used]
        correct = (predictions == targets[:, None]).float()  # (n, R)
    return correct.mean(0).view(3, N_SEEDS).cpu().numpy()


# %%
accuracy_eval, accuracy_batch_stats = {}, {}
for batch_size in tqdm(BATCH_SIZES, desc="batch sizes", leave=False):
    model = train_side_by_side(batch_size)
    accuracy_eval[batch_size] = test_accuracy(model, None)  # (3, S)
    accuracy_batch_stats[batch_size] = test_accuracy(model, batch_size)
mean_eval = np.array([accuracy_eval[b].mean(1) for b in BATCH_SIZES])  # (n_sizes, 3)
std_eval = np.array([accuracy_eval[b].std(1) for b in BATCH_SIZES])
mean_batch_stats = np.array([accuracy_batch_stats[b].mean(1) for b in BATCH_SIZES])
print(f"test accuracy, mean ± sd over {N_SEEDS} seeds (eval mode)")
print("batch size " + "".join(f"{name:>16}" for name in NORMS))
for i, batch_size in enumerate(BATCH_SIZES):
    cells = "".join(f"{mean_eval[i, k]:>10.3f} ± {std_eval[i, k]:.3f}" for k in range(3))
    print(f"{batch_size:>10} {cells}")
print("BatchNorm with batch statistics on test batches of the training size:")
print("  " + ", ".join(f"B={b}: {mean_batch_stats[i, 0]:.3f}" for i, b in enumerate(BATCH_SIZES)))

# %%
bn_acc, ln_acc, none_acc = mean_eval.T  # (n_sizes,) each
check_true(
    "BN at B = 2: > 0.05 below LN and no normalisation at B = 2, and below BN at B = 64",
    bool(bn_acc[0] < min(ln_acc[0], none_acc[0], bn_acc[-1]) - 0.05),
    f"{bn_acc[0]:.3f} vs {ln_acc[0]:.3f}, {none_acc[0]:.3f}, {bn_acc[-1]:.3f}",
)
check_true(
    "LN does not degrade at small batches: B = 2 as good as B = 64 (within 0.03)",
    bool(ln_acc[0] > ln_acc[-1] - 0.03),
    f"{ln_acc[0]:.3f} vs {ln_acc[-1]:.3f}",
)
check_true(
    "BN is the best of the three at B = 32 and 64",
    bool(np.all(bn_acc[-2:] > np.maximum(ln_acc[-2:], none_acc[-2:]))),
    ", ".join(f"B = {b}: {a:.3f}" for b, a in zip(BATCH_SIZES[-2:], bn_acc[-2:], strict=True)),
)
gap = mean_eval[:, 0] - mean_batch_stats[:, 0]  # eval mode minus batch statistics
check_true(
    "BN's train/eval gap is large at B = 2 and small at B = 64",
    bool(abs(gap[0]) > 0.1 and abs(gap[-1]) < 0.05),
    f"{gap[0]:+.3f} at B = 2, {gap[-1]:+.3f} at B = 64",
)

# %%
fig, (ax_norms, ax_modes) = plt.subplots(1, 2, figsize=(11, 4.2))
for k, (name, colour) in enumerate(zip(NORMS, [PALETTE[1], PALETTE[0], "0.4"], strict=True)):
    ax_norms.errorbar(
        BATCH_SIZES,
        mean_eval[:, k],
        yerr=std_eval[:, k],
        fmt="o-",
        capsize=3,
        color=colour,
        label=name,
    )
ax_norms.set_xscale("log", base=2)
ax_norms.set_xticks(BATCH_SIZES, labels=[str(b) for b in BATCH_SIZES])
ax_norms.set(
    xlabel="batch size B (same 2 epochs, lr ∝ B)",
    ylabel="test accuracy (eval mode)",
    title="Test accuracy vs batch size",
)
ax_norms.legend(loc="lower right")
ax_modes.plot(BATCH_SIZES, mean_eval[:, 0], "o-", color=PALETTE[1], label="BN, eval mode")
ax_modes.plot(
    BATCH_SIZES,
    mean_batch_stats[:, 0],
    "s--",
    color=PALETTE[1],
    label="BN, batch statistics (train mode)",
)
ax_modes.plot(BATCH_SIZES, mean_eval[:, 1], "o-", color=PALETTE[0], label="LN, either mode")
ax_modes.set_xscale("log", base=2)
ax_modes.set_xticks(BATCH_SIZES, labels=[str(b) for b in BATCH_SIZES])
ax_modes.set(
    xlabel="batch size B (training, and the test batches)",
    ylabel="test accuracy",
    title="BN's train/eval discrepancy",
)
ax_modes.legend(loc="lower right")
fig.suptitle(
    f"BN drops from {bn_acc[-1]:.2f} (B = 64) to {bn_acc[0]:.2f} (B = 2) and its two modes "
    f"disagree; LN stays at {ln_acc[0]:.2f}"
)
plt.show()

# %% [markdown]
# Read it against the printed table. LN and the unnormalised net are about as accurate at
# $B=2$ as at $B=64$ (checked for LN): with the same epochs and a scaled learning rate, batch
# size hardly matters to them. BN is the only one that loses accuracy at $B=2$, well outside
# the spread over seeds. Its accuracy with batch statistics (right panel, dashed) is lower
# still, and the gap between its two modes closes as the batch grows: at $B=2$ the network
# was trained on the sign-like features of {eq}`norm-two-samples` and is tested in eval mode
# on continuous ones. At the largest batch sizes BN is the best of the three, consistent with
# its reputation for tolerating large steps. This is the notes' table row "depends on batch
# size", made concrete. The lesson is not "use LN because the data is not a grid". It is: do
# not compute statistics over too few values.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} Forgetting `model.eval()` at test time
# In train mode BN normalises the test batch with its own statistics, so a prediction depends
# on what else is in the batch. A single image alone raises an error (next pitfall). Worse,
# every test forward pass **updates the running statistics** with test data, so the model
# changes as you evaluate it. `model.eval()` switches BN (and dropout) to inference behaviour;
# `torch.no_grad()` does *not*, it only turns off gradient tracking. The cell below shows the
# buffers moving during an "evaluation" in train mode.
# :::

# %%
bn = BatchNorm(4)
before = bn.running_mean.clone()
with torch.no_grad():
    bn(torch.randn(32, 4) + 3)  # "evaluating" under no_grad, but still in train mode
moved = (bn.running_mean - before).abs().max().item()
check_true("no_grad alone does not stop the running statistics", moved > 0.1, f"moved {moved:.2f}")
bn.eval()
before = bn.running_mean.clone()
with torch.no_grad():
    bn(torch.randn(32, 4) + 3)
check_equal("in eval mode the buffers stay put", bn.running_mean, before)

# %% [markdown]
# :::{dropdown} BN with a batch of 1 in train mode
# One value per channel has variance 0, and $\hat x$ would be $0/\sqrt\epsilon=0$ for
# everything, so PyTorch raises. This happens when the last batch of an epoch has a single
# example (use `drop_last=True`), or with batch size 1 on a large model. An $(1,C,H,W)$ input
# does *not* raise, because each channel still has $HW$ values. BN then normalises each image
# over its own pixels, as instance normalisation would, and the running statistics average
# per-image statistics.
# :::

# %%
for name, module in [("ours", BatchNorm(3)), ("nn.BatchNorm1d", nn.BatchNorm1d(3))]:
    try:
        module(torch.randn(1, 3))
        raised = False
    except ValueError as error:
        raised = True
        message = str(error)
    check_true(f"{name}: batch of 1 in train mode raises ValueError", raised, message)
single_image = torch.randn(1, 3, 4, 4)
check_close(
    "(1, C, H, W) in train mode: ours vs nn.BatchNorm2d",
    BatchNorm(3)(single_image),
    nn.BatchNorm2d(3)(single_image),
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} Fine-tuning with "frozen" BN
# When fine-tuning a pretrained CNN with small batches, you usually want BN's statistics kept
# from pretraining. Setting `requires_grad=False` on $\gamma,\beta$ freezes only the affine
# part; the running statistics are buffers, not parameters, and keep being overwritten in
# train mode (with noisy small-batch estimates). To freeze BN, put the BN modules in eval mode
# after every `model.train()` call (as detection libraries do with a "frozen BN" layer).
# :::

# %%
bn = BatchNorm(4)
bn.weight.requires_grad_(False)
bn.bias.requires_grad_(False)
bn(torch.randn(8, 4) + 2)
check_true(
    "requires_grad=False on γ, β: running_mean still updated",
    bool(bn.running_mean.abs().max() > 0.05),
    f"num_batches_tracked = {int(bn.num_batches_tracked)}",
)

# %% [markdown]
# :::{dropdown} BN before or after the activation? And the bias before it?
# The paper puts BN on the pre-activation $Wx$, before the nonlinearity, and drops the layer's
# bias because BN's mean subtraction cancels it ({cite:t}`ioffe2015batch`, Section 3.2). That
# is the common choice in CNNs (`conv(bias=False) → BN → ReLU`). BN after the ReLU also
# trains; which order is better depends on the architecture, and no order is "the" correct
# one. The cancellation of the bias in training mode is exact:
# :::

# %%
linear = nn.Linear(5, 4)
no_bias = nn.Linear(5, 4, bias=False)
no_bias.weight = linear.weight
inputs = torch.randn(16, 5)
check_close(
    "train-mode BN(Wx + b) = BN(Wx): the bias is wasted",
    BatchNorm(4)(linear(inputs)),
    BatchNorm(4)(no_bias(inputs)),
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} "BN works because it reduces internal covariate shift." True?
# That was the original motivation {cite}`ioffe2015batch`: keep each layer's input
# distribution fixed while the layers below change. {cite:t}`santurkar2018how` tested it.
# They injected random, time-varying noise after each BN layer, which deliberately
# *re-introduces* distribution shift, and the network still trained about as well as with
# plain BN. By their measure, BN did not even reduce internal covariate shift much. What they
# found instead is that BN makes the loss and its gradients smoother (smaller Lipschitz
# constants along the training path). That lets a larger learning rate work, as in
# Experiment 2 at large batches. The honest interview answer: BN stabilises and speeds up
# optimisation; *why* is still debated, and internal covariate shift is not an accepted
# explanation.
# :::
#
# :::{dropdown} "BN for grid-like data, LN for sequences." Is that the rule?
# No. Vision Transformers use LN on image patches {cite}`dosovitskiy2021image`. ConvNeXt, a
# pure CNN, swaps BN for LN (over the channels at each position) and matches or beats the BN
# version {cite}`liu2022convnet`. What decides is whether the batch gives good statistics:
# - **Batch size.** Detection and segmentation fit 1–2 images per GPU, and BN's accuracy
#   drops sharply there {cite}`wu2018group`.
# - **Sequences.** Padded positions enter BN's statistics (next pitfall), and the batch
#   statistics of Transformer activations on text fluctuate strongly during training
#   {cite}`shen2020powernorm`.
# - **Inference.** Autoregressive decoding runs one token at a time, and an LN-based model
#   behaves the same at batch 1 as in training.
#
# BN is still a good default for CNNs trained with large batches, and it is free at inference
# once folded.
# :::
#
# :::{dropdown} Padding in sequences
# A batch of sentences of different lengths is padded to one length. BN over $(N,L)$ per
# channel counts the padded positions as data, so the real tokens' outputs depend on how much
# padding the batch happened to get. LN per token over $d$ never looks at other positions.
# Below, the same two sentences of 4 tokens, padded with zeros to length 4 and to length 8:
# :::

# %%
sentences = torch.randn(2, 6, 4)  # (N, C, L): 2 sentences, 6 channels, 4 real tokens
padded = torch.cat([sentences, torch.zeros(2, 6, 4)], dim=2)  # (N, C, 8): 4 padding tokens
bn_change = (BatchNorm(6)(padded)[..., :4] - BatchNorm(6)(sentences)).abs().max().item()
check_true("BN: real tokens change when padding is added", bn_change > 0.1, f"{bn_change:.3f}")
per_token = LayerNorm(6)  # on (N, L, C): per token over the channels
check_close(
    "LN: real tokens unchanged by padding",
    per_token(padded.transpose(1, 2))[:, :4],
    per_token(sentences.transpose(1, 2)),
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} What do you use when batches are small?
# - **GroupNorm** {cite}`wu2018group`: per sample, split the $C$ channels into $G$ groups and
#   normalise each group over $(C/G,H,W)$, with per-channel $\gamma,\beta$. It is independent of
#   the batch, like LN. $G=1$ is LN over $(C,H,W)$, and $G=C$ is instance normalisation
#   (checked below). Wu and He found it matches BN at large batches and stays flat as the
#   batch shrinks.
# - **SyncBN** (`nn.SyncBatchNorm`): compute BN's statistics over the whole global batch, all
#   GPUs together, at the cost of a communication per BN layer {cite}`peng2018megdet`.
# - **Frozen BN**: keep pretrained statistics fixed (pitfall above).
# :::

# %%
feature_maps = torch.randn(4, 6, 5, 5)  # (N, C, H, W)
check_close(
    "GroupNorm(1, C) = LayerNorm over (C, H, W)",
    nn.GroupNorm(1, 6)(feature_maps),
    LayerNorm((6, 5, 5))(feature_maps),
    atol=1e-12,
)
check_close(
    "GroupNorm(C, C) = InstanceNorm2d",
    nn.GroupNorm(6, 6)(feature_maps),
    nn.InstanceNorm2d(6)(feature_maps),
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} Momentum conventions differ between frameworks
# PyTorch's `momentum=0.1` is the weight of the **new** batch statistic
# {eq}`norm-running`. Keras's `BatchNormalization(momentum=0.99)` is the weight of the **old**
# running value, the same update written the other way round; its default `epsilon` is also
# $10^{-3}$ rather than $10^{-5}$ {cite}`keras2025batchnorm`. Porting weights or
# hyperparameters between the two without converting ($m_{\text{torch}}=1-m_{\text{keras}}$)
# is a classic bug.
# :::
#
# :::{dropdown} Does LN have running statistics, or a train/eval difference?
# Neither. It has $\gamma,\beta$ (if `elementwise_affine`) and nothing else. Its statistics
# come from the sample itself, at training and at inference (checked in the Verification).
# RMSNorm drops the mean subtraction and $\beta$; LLaMA and many recent LLMs use it
# {cite}`touvron2023llama` (Part III, chapter 07).
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A fresh `nn.BatchNorm1d(1)` (momentum 0.1, eps $10^{-5}$) sees the batches $[0, 2]$ and
#    then $[1, 5]$ in training mode. What are `running_mean` and `running_var`, and what does
#    it output for the input 3 in eval mode?
#
#    :::{dropdown} Answer
#    Batch 1: mean 1, unbiased variance $((0-1)^2+(2-1)^2)/1=2$, so $\hat\mu=0.1$ and
#    $\hat\sigma^2=0.9\cdot1+0.1\cdot2=1.1$. Batch 2: mean 3, unbiased variance
#    $((1-3)^2+(5-3)^2)/1=8$, so $\hat\mu=0.9\cdot0.1+0.1\cdot3=0.39$ and
#    $\hat\sigma^2=0.9\cdot1.1+0.1\cdot8=1.79$. In eval mode,
#    $3\mapsto(3-0.39)/\sqrt{1.79+10^{-5}}\approx1.9508$. The next cell checks it against
#    PyTorch.
#    :::

# %%
exercise_bn = nn.BatchNorm1d(1)
with torch.no_grad():
    for values in ([0.0, 2.0], [1.0, 5.0]):
        exercise_bn(torch.tensor(values)[:, None])
    exercise_bn.eval()
    eval_output = exercise_bn(torch.tensor([[3.0]]))
check_close("exercise 1: running_mean", exercise_bn.running_mean, torch.tensor([0.39]), atol=1e-12)
check_close("exercise 1: running_var", exercise_bn.running_var, torch.tensor([1.79]), atol=1e-12)
expected_output = (3 - 0.39) / math.sqrt(1.79 + 1e-5)
check_close(
    "exercise 1: eval output for 3", eval_output, torch.tensor([[expected_output]]), atol=1e-12
)
print(f"eval output for 3: {expected_output:.4f}")

# %% [markdown]
# 2. How many learnable parameters and how many buffer entries does `nn.BatchNorm2d(64)`
#    have, and `nn.LayerNorm(768)`? Why is the convolution before a BN usually created with
#    `bias=False`?
#
#    :::{dropdown} Answer
#    BatchNorm2d(64): $\gamma,\beta$, 128 parameters; buffers `running_mean` and
#    `running_var` (64 each) plus `num_batches_tracked` (1), 129 entries. LayerNorm(768):
#    1,536 parameters, no buffers. The conv bias is cancelled by BN's mean subtraction in
#    training (checked in the Pitfalls), and $\beta$ already provides a per-channel shift.
#    :::

# %%
check_equal("BatchNorm2d(64) parameters", count_parameters(nn.BatchNorm2d(64)), 128)
check_equal(
    "BatchNorm2d(64) buffer entries", sum(b.numel() for b in nn.BatchNorm2d(64).buffers()), 129
)
check_equal("LayerNorm(768) parameters", count_parameters(nn.LayerNorm(768)), 1536)
check_equal("LayerNorm(768) buffers", len(list(nn.LayerNorm(768).buffers())), 0)

# %% [markdown]
# 3. A CNN with BN gives different predictions for the same image depending on whether it is
#    sent alone or inside a batch, and alone it sometimes raises an error. What is wrong, and
#    what is the fix? If the deployment really must run with batches of 1 *and* the model must
#    train with tiny batches, what would you change?
#
#    :::{dropdown} Answer
#    The model is in train mode at inference: BN uses the batch's statistics (so the output
#    depends on the batch, and a $(1,C)$ input raises) and keeps overwriting its running
#    statistics. Call `model.eval()`. Inference at batch 1 is then fine, since eval-mode BN is a
#    fixed affine map. The problem is training with tiny batches: replace BN with GroupNorm or
#    LayerNorm, use SyncBN across devices, or freeze BN statistics from a pretrained model.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`ioffe2015batch`: Algorithm 1 (the BN transform), Algorithm 2 (inference with the
#   population statistics and the unbiased variance $\frac{m}{m-1}\mathbb E[\sigma_B^2]$),
#   Section 3.2 (per feature map over batch and positions; the bias before BN is redundant;
#   BN before the nonlinearity), the internal-covariate-shift motivation.
# - {cite:t}`ba2016layer`: Section 3 (layer normalization per sample over the hidden units;
#   the same computation at training and test time).
# - {cite:t}`santurkar2018how`: Sections 2 and 3 (noisy BN still trains; BN does not reduce
#   internal covariate shift; smoother loss landscape).
# - {cite:t}`wu2018group`: Group Normalization, its relation to LN and instance norm, and
#   BN's degradation at small batches.
# - {cite:t}`pytorch2025batchnorm`: `nn.BatchNorm1d/2d` and `nn.LayerNorm`, the biased
#   variance for normalising and the unbiased one in the running buffer, `momentum` and
#   `momentum=None`.
# - {cite:t}`dosovitskiy2021image` (LN in Vision Transformers), {cite:t}`liu2022convnet`,
#   Section 2.6 (ConvNeXt replaces BN with LN), {cite:t}`shen2020powernorm` (why BN struggles
#   in NLP), {cite:t}`peng2018megdet` (cross-GPU BN), {cite:t}`keras2025batchnorm` (Keras's
#   momentum convention), {cite:t}`touvron2023llama`, Section 2.2 (RMSNorm in LLaMA).

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
# # 07. How convolution works; receptive fields
#
# **The question.** Describe how a convolutional layer works (kernel, stride, padding,
# dilation), and how its receptive field grows with depth.
#
# **What you will be able to answer.** Write the operation a `Conv2d` computes and its output
# size and parameter count from memory; implement it with loops and with im2col plus one matrix
# product; compute the receptive field of any stack of convolutions and pooling layers (the
# notes' formula is wrong); and say why the part of that field that matters is much smaller.

# %%
import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from sklearn.datasets import load_sample_image
from torch import nn

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import time_call

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks against torch can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **The operation.** A convolutional layer slides $C_\text{out}$ small kernels of shape
#   $C_\text{in}\times K\times K$ over the zero-padded input and, at every position, takes the
#   dot product of the kernel with the patch under it and adds a bias:
#   $y[c_o,i,j]=b[c_o]+\sum_{c_i,m,n}w[c_o,c_i,m,n]\,x[c_i,\,Si+Dm-P,\,Sj+Dn-P]$ with stride
#   $S$, padding $P$ and dilation $D$. The same weights are used at every position. Strictly,
#   this is *cross-correlation*: a mathematical convolution flips the kernel first. Since the
#   kernel is learned, the flip makes no difference to what a network can represent.
# - **Sizes.** Each spatial side has $O=\lfloor(W+2P-D(K-1)-1)/S\rfloor+1$ outputs (224 pixels,
#   $K=7$, $S=2$, $P=3$: 112). The layer has $C_\text{out}(C_\text{in}K^2/G+1)$ parameters
#   with $G$ groups, whatever the image size.
# - **How it is computed.** *im2col* copies every patch into a column of a matrix. The layer
#   is then one matrix product, (kernels) × (patches), which BLAS libraries run fast. The price
#   is memory: the patch matrix is up to $K^2$ times the input (stride 1).
# - **Receptive field.** The receptive field (RF) of a unit is the set of input pixels that can
#   change its value. Each layer widens it by $(K_l-1)D_l$ times the *jump* $j_{l-1}$, the
#   product of the strides of all *earlier* layers:
#   $r_l=r_{l-1}+(K_l-1)D_l\,j_{l-1}$, $j_l=j_{l-1}S_l$. The notes' $RF_{pre}+(K-1)\times S$
#   uses the current layer's stride instead. That is wrong: for three 3×3 stride-2 convolutions
#   it gives 13 instead of 15, and for a single one 5 instead of 3.
# - **Effective receptive field.** "Deep units see almost the whole image" describes the
#   *theoretical* RF. The gradient of a unit with respect to its input is roughly Gaussian:
#   its width grows like $\sqrt L$ with depth $L$, while the RF grows like $L$. Most of the RF
#   barely matters {cite}`luo2016understanding`.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | PyTorch argument |
# |---|---|---|
# | $x[c_i,u,v]$ | input: $C_\text{in}$ channels of $H\times W$ (one image) | `input` |
# | $w[c_o,c_i,m,n]$ | kernel: $C_\text{out}\times C_\text{in}/G\times K_h\times K_w$ | `weight` |
# | $b[c_o]$ | bias, one per output channel | `bias` |
# | $S$, $P$, $D$ | stride, zero padding on each side, dilation | `stride`, `padding`, `dilation` |
# | $G$ | number of groups: channels are split into $G$ independent convolutions | `groups` |
# | $O_h, O_w$ | output height and width | |
# | $r_l$, $j_l$ | receptive field and jump of layer $l$ (defined below) | |
#
# $S$, $P$, $D$ and $K$ may differ between height and width; the formulas hold per axis, so
# they are written for one.
#
# ### The operation
#
# Output channel $c_o$ at position $(i,j)$ is a dot product between kernel $c_o$ and the input
# patch whose top-left corner is at $(Si-P,\,Sj-P)$. Kernel entries are placed $D$ pixels apart:
#
# $$
# y[c_o,i,j]=b[c_o]+\sum_{c_i=0}^{C_\text{in}-1}\sum_{m=0}^{K_h-1}\sum_{n=0}^{K_w-1}
# w[c_o,c_i,m,n]\;x[c_i,\,Si+Dm-P,\,Sj+Dn-P]
# $$ (conv-def)
#
# Here $x$ is taken to be $0$ outside the image, which is what zero padding means. With $G$
# groups, the channels are split into $G$ blocks. Output channel $c_o$ belongs to block
# $g=\lfloor c_o G/C_\text{out}\rfloor$ and sums only over the $C_\text{in}/G$ input channels
# of that block, so `weight` has $C_\text{in}/G$ input channels. $G=C_\text{in}$ gives a
# *depthwise* convolution: one kernel per channel.
#
# The weights do not depend on $(i,j)$. That is *weight sharing*: the same detector is applied
# at every position. Each output depends only on a $K_h\times K_w$ patch; that is *local
# connectivity*. Chapter 08 counts what the two save over a fully connected layer.
#
# ### Cross-correlation, not convolution
#
# {eq}`conv-def` is a sliding dot product, which signal processing calls cross-correlation.
# The convolution of mathematics flips the kernel:
#
# $$
# (x\ast k)[i,j]=\sum_{m,n}k[m,n]\,x[i-m,\,j-n]
# $$ (conv-true-conv)
#
# Over a $K\times K$ kernel, substituting $m\to K-1-m$ turns {eq}`conv-true-conv` into
# {eq}`conv-def` with the flipped kernel $\bar k[m,n]=k[K-1-m,\,K-1-n]$. So `F.conv2d` with a
# flipped kernel equals `scipy.signal.convolve2d`, and with the kernel as it is it equals
# `scipy.signal.correlate2d` (checked below). Deep-learning libraries keep the name
# "convolution" for the operation without the flip.
#
# ### Output size
#
# Pad the input to width $W+2P$. Output $i$ reads padded positions $Si,\,Si+D,\dots,
# Si+D(K-1)$, so it fits when $Si+D(K-1)\le W+2P-1$. The valid $i$ are
# $0,1,\dots,\lfloor(W+2P-D(K-1)-1)/S\rfloor$:
#
# $$
# O=\Big\lfloor\frac{W+2P-D(K-1)-1}{S}\Big\rfloor+1
# $$ (conv-out-size)
#
# $D(K-1)+1$ is the span of a dilated kernel. With $S=1$, $D=1$ and $P=(K-1)/2$ (odd $K$),
# $O=W$: "same" padding. When the division is not exact, the last few rows and columns of the
# input are never read.
#
# ### Parameters and cost
#
# Each of the $C_\text{out}$ kernels has $C_\text{in}/G\cdot K_hK_w$ weights and one bias.
# Each output value costs that many multiply-adds:
#
# $$
# \#\text{params}=C_\text{out}\Big(\frac{C_\text{in}}{G}K_hK_w+1\Big),\qquad
# \text{MACs}=C_\text{out}\,\frac{C_\text{in}}{G}\,K_hK_w\;O_hO_w
# $$ (conv-params)
#
# The parameter count does not depend on the image size. The cost does, through $O_hO_w$.
#
# ### im2col: the layer as one matrix product
#
# Collect the inputs that {eq}`conv-def` reads for output $(i,j)$ into one column, indexed by
# $(c_i,m,n)$. This gives a matrix with $C_\text{in}K_hK_w$ rows and $O_hO_w$ columns
# {cite}`chellapilla2006high`:
#
# $$
# X_\text{col}\big[(c_i,m,n),\,(i,j)\big]=x[c_i,\,Si+Dm-P,\,Sj+Dn-P],\qquad
# Y=W_\text{mat}\,X_\text{col}+b\,\mathbf 1^\top
# $$ (conv-im2col)
#
# $W_\text{mat}$ is `weight` reshaped to $C_\text{out}\times C_\text{in}K_hK_w$, and $Y$
# reshapes to $C_\text{out}\times O_h\times O_w$. With groups, rows and kernels split into $G$
# blocks and there are $G$ products. Every input pixel is copied into up to $K_hK_w$ columns.
# That is the memory price paid for one large, fast matrix product.
#
# ### The backward pass is im2col's adjoint
#
# Let $\Delta=\partial\mathcal L/\partial Y$, of shape $C_\text{out}\times O_hO_w$. Since $Y$
# is linear in $W_\text{mat}$ and in $X_\text{col}$,
#
# $$
# \frac{\partial\mathcal L}{\partial W_\text{mat}}=\Delta\,X_\text{col}^\top,\qquad
# \frac{\partial\mathcal L}{\partial X_\text{col}}=W_\text{mat}^\top\Delta,\qquad
# \frac{\partial\mathcal L}{\partial x}=\operatorname{col2im}\Big(
# \frac{\partial\mathcal L}{\partial X_\text{col}}\Big),\qquad
# \frac{\partial\mathcal L}{\partial b}=\Delta\,\mathbf 1
# $$ (conv-backward)
#
# im2col is a linear map that copies pixels. Its adjoint, col2im, adds every column entry
# back onto the pixel it was copied from, so
# $\langle\operatorname{im2col}(x),C\rangle=\langle x,\operatorname{col2im}(C)\rangle$ (PyTorch
# calls the two `F.unfold` and `F.fold`). The gradient with respect to the input is itself a
# convolution with the transposed kernels. A *transposed convolution* (`ConvTranspose2d`)
# computes exactly this map.
#
# ### Receptive field
#
# Stack $L$ layers. Layer $l$ has kernel $K_l$, stride $S_l$, padding $P_l$ and dilation
# $D_l$; pooling layers count as convolutions with their $K$ and $S$. Define for layer $l$:
#
# - $r_l$, the receptive field: how many consecutive input pixels (per axis) one unit depends on;
# - $j_l$, the jump: how many input pixels apart two neighbouring units of layer $l$ are;
# - $s_l$, the first input pixel seen by unit $0$ of layer $l$ (negative: inside the padding).
#
# The input itself has $r_0=1$, $j_0=1$, $s_0=0$. A unit of layer $l$ reads $K_l$ units of
# layer $l-1$, $D_l$ apart, so it covers $(K_l-1)D_l+1$ consecutive units of layer $l-1$.
# Neighbouring units of layer $l-1$ see input windows shifted by $j_{l-1}$ pixels. The union of
# the windows is therefore $(K_l-1)D_l$ shifts of $j_{l-1}$ wider than one window. Moving one
# unit along layer $l$ moves $S_l$ units along layer $l-1$:
#
# $$
# r_l=r_{l-1}+(K_l-1)\,D_l\,j_{l-1},\qquad j_l=j_{l-1}\,S_l,\qquad s_l=s_{l-1}-P_l\,j_{l-1}
# $$ (conv-rf)
#
# Unit $i$ of layer $L$ then sees input pixels $s_L+ij_L,\dots,s_L+ij_L+r_L-1$. Unrolled:
#
# $$
# r_L=1+\sum_{l=1}^{L}(K_l-1)\,D_l\prod_{i<l}S_i
# $$ (conv-rf-closed)
#
# The notes write $RF=RF_{pre}+(K-1)\times S$, i.e. $r_l=r_{l-1}+(K_l-1)S_l$. That uses the
# stride of the *current* layer, which only sets how far apart that layer's own units are
# ($j_l$). It cannot change what one of its units sees. A single 3×3 stride-2 convolution sees
# 3 pixels, but the notes' formula gives $1+2\cdot2=5$. Three of them see
# $1+2\cdot1+2\cdot2+2\cdot4=15$ pixels, but the notes' formula gives $1+4+4+4=13$. The
# Experiments section measures both with autograd {cite}`araujo2019computing`.
#
# ### Effective receptive field
#
# Not every pixel of the RF matters equally. Take a linear stack of $L$ layers whose kernels
# are all-ones $K\times K$ boxes (stride 1). Then $\partial y_\text{centre}/\partial x$ is the
# $L$-fold convolution of the box with itself. Per axis, that is the distribution of a sum of
# $L$ independent offsets, each uniform on $\{-\tfrac{K-1}2,\dots,\tfrac{K-1}2\}$, with variance
# $(K^2-1)/12$. By the central limit theorem it tends to a Gaussian with standard deviation
#
# $$
# \sigma_L=\sqrt{L\,\frac{K^2-1}{12}}\quad\Big(=\sqrt{2L/3}\text{ for }K=3\Big),
# \qquad\text{while } r_L=1+L(K-1)
# $$ (conv-erf-std)
#
# The region that carries most of the gradient grows like $\sqrt L$; the RF grows like $L$.
# {cite:t}`luo2016understanding` found the same roughly Gaussian shape and $\sqrt L$ growth with
# random weights, and, less cleanly, with nonlinearities; Experiment 4 measures it.

# %% [markdown]
# ## Implementation from scratch
#
# ### Output size and parameter count
#
# Sizes follow torch's convention: an `int` means the same value on both axes, a pair is
# (height, width).


# %%
def as_pair(value: int | Sequence[int]) -> tuple[int, int]:
    """(value, value) for an int, (height, width) for a pair, as torch reads size arguments."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return int(height), int(width)


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Number of outputs along one axis, eq. (conv-out-size)."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_parameter_count(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Number of parameters of a Conv2d, eq. (conv-params)."""
    k_h, k_w = as_pair(kernel_size)
    return out_channels * (in_channels // groups * k_h * k_w + int(bias))


# %% [markdown]
# ### 1. Loops: {eq}`conv-def` as written
#
# One dot product per output value: for each image, output channel and position, cut the
# patch out of the padded input and multiply it with the kernel. Python runs the four loops,
# so this version is only for small inputs. Padding shifts coordinates: padded position
# $Si+Dm$ holds $x[Si+Dm-P]$.


# %%
def conv2d_loops(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """F.conv2d by eq. (conv-def), one output value at a time.

    (B, C_in, H, W) -> (B, C_out, O_h, O_w); weight (C_out, C_in / G, K_h, K_w).
    """
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = as_pair(stride), as_pair(padding), as_pair(dilation)
    batch, _, height, width = input.shape
    c_out, c_in_per_group, k_h, k_w = weight.shape
    o_h = conv_output_size(height, k_h, s_h, p_h, d_h)
    o_w = conv_output_size(width, k_w, s_w, p_w, d_w)
    padded = F.pad(input, (p_w, p_w, p_h, p_h))  # (B, C_in, H + 2P_h, W + 2P_w): zeros around x
    output = input.new_zeros(batch, c_out, o_h, o_w)
    for b in range(batch):
        for c_o in range(c_out):
            group = c_o // (c_out // groups)
            channels = slice(group * c_in_per_group, (group + 1) * c_in_per_group)
            for i in range(o_h):
                rows = slice(s_h * i, s_h * i + d_h * (k_h - 1) + 1, d_h)  # S i + D m, m < K_h
                for j in range(o_w):
                    cols = slice(s_w * j, s_w * j + d_w * (k_w - 1) + 1, d_w)  # S j + D n
                    patch = padded[b, channels, rows, cols]  # (C_in / G, K_h, K_w)
                    output[b, c_o, i, j] = (weight[c_o] * patch).sum()  # eq. (conv-def)
            if bias is not None:
                output[b, c_o] += bias[c_o]
    return output


# %% [markdown]
# ### 2. im2col by indexing, and one matrix product
#
# {eq}`conv-im2col`: the padded rows read by output row $i$ and kernel row $m$ are $Si+Dm$, a
# small $(O_h, K_h)$ table of indices, and the same holds for columns. Indexing the padded
# input with both tables gathers every patch at once. The row order matches `F.unfold`:
# channel, then kernel row, then kernel column.


# %%
def patch_indices(
    out_size: int, kernel_size: int, stride: int, dilation: int, device: torch.device
) -> torch.Tensor:
    """Padded positions S i + D m read by output i and kernel offset m, shape (O, K)."""
    outputs = torch.arange(out_size, device=device)[:, None]  # (O, 1)
    offsets = torch.arange(kernel_size, device=device)[None, :]  # (1, K)
    return stride * outputs + dilation * offsets  # (O, K)


def im2col(
    input: torch.Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> torch.Tensor:
    """Patches as columns, eq. (conv-im2col): (B, C, H, W) -> (B, C K_h K_w, O_h O_w), F.unfold."""
    (k_h, k_w), (s_h, s_w) = as_pair(kernel_size), as_pair(stride)
    (p_h, p_w), (d_h, d_w) = as_pair(padding), as_pair(dilation)
    batch, channels, height, width = input.shape
    o_h = conv_output_size(height, k_h, s_h, p_h, d_h)
    o_w = conv_output_size(width, k_w, s_w, p_w, d_w)
    padded = F.pad(input, (p_w, p_w, p_h, p_h))  # (B, C, H + 2P_h, W + 2P_w)
    rows = patch_indices(o_h, k_h, s_h, d_h, input.device)  # (O_h, K_h)
    cols = patch_indices(o_w, k_w, s_w, d_w, input.device)  # (O_w, K_w)
    patches = padded[
        :, :, rows[:, :, None, None], cols[None, None, :, :]
    ]  # (B, C, O_h, K_h, O_w, K_w)
    patches = patches.permute(0, 1, 3, 5, 2, 4)  # (B, C, K_h, K_w, O_h, O_w)
    return patches.reshape(batch, channels * k_h * k_w, o_h * o_w)


# %% [markdown]
# The convolution is then one batched matrix product. With $G$ groups, the rows of the
# patch matrix (channel-major) split into $G$ contiguous blocks, and so do the kernels:
# `(G, C_out/G, C_in/G·K²) @ (B, G, C_in/G·K², L)`.


# %%
def conv2d_im2col(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """F.conv2d as im2col + one batched matmul, eq. (conv-im2col)."""
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = as_pair(stride), as_pair(padding), as_pair(dilation)
    batch, _, height, width = input.shape
    c_out, c_in_per_group, k_h, k_w = weight.shape
    o_h = conv_output_size(height, k_h, s_h, p_h, d_h)
    o_w = conv_output_size(width, k_w, s_w, p_w, d_w)
    patch_size = c_in_per_group * k_h * k_w
    columns = im2col(input, (k_h, k_w), stride, padding, dilation)  # (B, C_in K_h K_w, L)
    columns = columns.reshape(batch, groups, patch_size, o_h * o_w)  # (B, G, C_in/G K_h K_w, L)
    kernels = weight.reshape(groups, c_out // groups, patch_size)  # (G, C_out/G, C_in/G K_h K_w)
    output = kernels @ columns  # (B, G, C_out/G, L)
    output = output.reshape(batch, c_out, o_h, o_w)
    if bias is not None:
        output = output + bias[:, None, None]  # (B, C_out, O_h, O_w)
    return output


# %% [markdown]
# ### 3. col2im and a hand-written backward
#
# Autograd differentiates `conv2d_im2col` by itself, through the indexing and the matrix
# product. Writing {eq}`conv-backward` by hand shows what that backward is. col2im uses the
# same index tables as im2col, but *adds* each column entry into the pixel it came from, with
# `index_add_` (several columns share a pixel).


# %%
def col2im(
    columns: torch.Tensor,
    output_size: Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> torch.Tensor:
    """Adjoint of im2col, F.fold: (B, C K_h K_w, O_h O_w) -> (B, C, H, W), summing overlaps."""
    height, width = output_size
    (k_h, k_w), (s_h, s_w) = as_pair(kernel_size), as_pair(stride)
    (p_h, p_w), (d_h, d_w) = as_pair(padding), as_pair(dilation)
    batch, patch_rows, _ = columns.shape
    channels = patch_rows // (k_h * k_w)
    o_h = conv_output_size(height, k_h, s_h, p_h, d_h)
    o_w = conv_output_size(width, k_w, s_w, p_w, d_w)
    padded_w = width + 2 * p_w
    rows = patch_indices(o_h, k_h, s_h, d_h, columns.device)  # (O_h, K_h)
    cols = patch_indices(o_w, k_w, s_w, d_w, columns.device)  # (O_w, K_w)
    flat_index = rows[:, :, None, None] * padded_w + cols[None, None, :, :]  # (O_h, K_h, O_w, K_w)
    patches = columns.reshape(batch, channels, k_h, k_w, o_h, o_w)
    patches = patches.permute(0, 1, 4, 2, 5, 3)  # (B, C, O_h, K_h, O_w, K_w), like flat_index
    padded = columns.new_zeros(batch, channels, (height + 2 * p_h) * padded_w)
    padded.index_add_(2, flat_index.flatten(), patches.reshape(batch, channels, -1))
    padded = padded.reshape(batch, channels, height + 2 * p_h, padded_w)
    return padded[:, :, p_h : p_h + height, p_w : p_w + width]  # drop the padding


class Conv2dIm2colFunction(torch.autograd.Function):
    """conv2d_im2col with the backward of eq. (conv-backward) written by hand."""

    @staticmethod
    def forward(
        ctx: Any,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: int | Sequence[int],
        padding: int | Sequence[int],
        dilation: int | Sequence[int],
        groups: int,
    ) -> torch.Tensor:
        batch, _, height, width = input.shape
        c_out, _, k_h, k_w = weight.shape
        (s_h, s_w), (p_h, p_w), (d_h, d_w) = as_pair(stride), as_pair(padding), as_pair(dilation)
        o_h = conv_output_size(height, k_h, s_h, p_h, d_h)
        o_w = conv_output_size(width, k_w, s_w, p_w, d_w)
        columns = im2col(input, (k_h, k_w), stride, padding, dilation)  # (B, C_in K², L)
        columns = columns.reshape(batch, groups, -1, o_h * o_w)  # X_col: (B, G, C_in/G K², L)
        kernels = weight.reshape(groups, c_out // groups, -1)  # W_mat: (G, C_out/G, C_in/G K²)
        output = (kernels @ columns).reshape(batch, c_out, o_h, o_w)  # eq. (conv-im2col)
        if bias is not None:
            output = output + bias[:, None, None]
        ctx.save_for_backward(columns, weight)  # X_col is needed for ∂L/∂W
        ctx.geometry = ((height, width), stride, padding, dilation, groups, bias is not None)
        return output

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        columns, weight = ctx.saved_tensors  # (B, G, C_in/G K², L), (C_out, C_in/G, K_h, K_w)
        (height, width), stride, padding, dilation, groups, has_bias = ctx.geometry
        batch, c_out = grad_output.shape[:2]
        kernel_size = weight.shape[2:]
        delta = grad_output.reshape(batch, groups, c_out // groups, -1)  # Δ: (B, G, C_out/G, L)
        kernels = weight.reshape(groups, c_out // groups, -1)  # W_mat: (G, C_out/G, C_in/G K²)
        grad_weight = (delta @ columns.transpose(-1, -2)).sum(0)  # Δ X_colᵀ: (G, C_out/G, ·)
        grad_columns = kernels.transpose(-1, -2) @ delta  # W_matᵀ Δ: (B, G, C_in/G K², L)
        grad_columns = grad_columns.reshape(batch, -1, grad_columns.shape[-1])  # (B, C_in K², L)
        grad_input = col2im(grad_columns, (height, width), kernel_size, stride, padding, dilation)
        grad_bias = grad_output.sum((0, 2, 3)) if has_bias else None  # Δ 1
        return grad_input, grad_weight.reshape(weight.shape), grad_bias, None, None, None, None


# %% [markdown]
# ### 4. A `Conv2d` module
#
# The module stores what `nn.Conv2d` stores, under the same names, and initialises like it.
# Torch's default `kaiming_uniform_(a=√5)` works out to
# $\mathcal U(-1/\sqrt{\text{fan}_\text{in}},1/\sqrt{\text{fan}_\text{in}})$ with
# $\text{fan}_\text{in}=C_\text{in}K_hK_w/G$, and the bias uses the same bound.


# %%
class Conv2d(nn.Module):
    """nn.Conv2d (zero padding) from scratch, computed by conv2d_im2col."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError("in_channels and out_channels must be divisible by groups")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = as_pair(kernel_size), as_pair(stride)
        self.padding, self.dilation = as_pair(padding), as_pair(dilation)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight[0].numel())  # 1/√fan_in, fan_in = C_in/G K_h K_w
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return conv2d_im2col(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


# %% [markdown]
# ### 5. Receptive field by formula
#
# A layer is described by its kind, kernel, stride, padding and dilation. `receptive_field`
# runs the recursion {eq}`conv-rf`; `receptive_field_notes` is the notes' formula, kept to
# show where it goes wrong. `run_stack` builds the same stack from `F.conv2d` and
# `F.avg_pool2d` (one channel), so that autograd can measure the field.


# %%
class LayerSpec(NamedTuple):
    """One layer of a stack: 'conv' or 'avgpool', with its kernel, stride, padding, dilation."""

    kind: str
    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


def receptive_field(layers: Sequence[LayerSpec]) -> tuple[int, int, int]:
    """RF r_L, jump j_L and first pixel s_L of unit 0 after the stack, eq. (conv-rf)."""
    rf, jump, start = 1, 1, 0  # r_0, j_0, s_0: one input pixel
    for layer in layers:
        rf += (layer.kernel_size - 1) * layer.dilation * jump  # the jump *before* this layer
        start -= layer.padding * jump
        jump *= layer.stride
    return rf, jump, start


def receptive_field_notes(layers: Sequence[LayerSpec]) -> int:
    """The notes' RF = RF_pre + (K - 1) × S, with the current layer's stride (wrong)."""
    rf = 1
    for layer in layers:
        rf += (layer.kernel_size - 1) * layer.stride
    return rf


def run_stack(
    layers: Sequence[LayerSpec], x: torch.Tensor, kernels: list[torch.Tensor]
) -> torch.Tensor:
    """The stack on a one-channel input (B, 1, H, W); kernels[l] (1, 1, K, K) is layer l's."""
    for layer, kernel in zip(layers, kernels, strict=True):
        if layer.kind == "conv":
            x = F.conv2d(x, kernel, None, layer.stride, layer.padding, layer.dilation)
        else:  # average pooling is a convolution with a constant kernel
            x = F.avg_pool2d(x, layer.kernel_size, layer.stride, layer.padding)
    return x


# %% [markdown]
# ## Verification
#
# ### im2col and col2im against `F.unfold` and `F.fold`
#
# im2col only copies values, so it must equal `F.unfold` *exactly*. col2im must equal
# `F.fold`, and be im2col's adjoint: $\langle\operatorname{im2col}(x),C\rangle=
# \langle x,\operatorname{col2im}(C)\rangle$ for random $x$ and $C$.

# %%
x = torch.randn(2, 3, 9, 11)  # (B, C, H, W)
geometry = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 3))
columns = im2col(x, **geometry)  # (B, C K_h K_w, L)
check_equal(
    "im2col vs F.unfold (non-square kernel, stride, padding, dilation)",
    columns,
    F.unfold(x, **geometry),
)
random_columns = torch.randn_like(columns)
folded = col2im(random_columns, (9, 11), **geometry)
check_close("col2im vs F.fold", folded, F.fold(random_columns, (9, 11), **geometry), atol=1e-12)
check_close(
    "adjoint: <im2col(x), C> = <x, col2im(C)>",
    (columns * random_columns).sum(),
    (x * folded).sum(),
    atol=1e-12,
)

# %% [markdown]
# ### Forward and gradients against `F.conv2d`, over random configurations
#
# Twenty random cases: groups 1–3, 1–3 channels per group on each side, kernel
# sides 1–4, strides 1–3, padding 0–2 and dilation 1–3, each drawn separately for height and
# width. Each case gets a random input, kernel, bias and upstream gradient $\Delta$.
# All outputs (and all gradients) of the twenty cases are concatenated into one vector
# and compared in one check, in float64. The output shapes must match {eq}`conv-out-size`.


# %%
class ConvCase(NamedTuple):
    """Shapes and keyword arguments (stride, padding, dilation, groups) of one F.conv2d call."""

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    arguments: dict[str, Any]

    def output_shape(self) -> tuple[int, int, int]:
        """(C_out, O_h, O_w) by eq. (conv-out-size)."""
        stride, padding, dilation = (self.arguments[k] for k in ("stride", "padding", "dilation"))
        o_h, o_w = (
            conv_output_size(
                self.input_shape[2 + a],
                self.weight_shape[2 + a],
                stride[a],
                padding[a],
                dilation[a],
            )
            for a in range(2)
        )
        return self.weight_shape[0], o_h, o_w


def draw_pair(generator: np.random.Generator, low: int, high: int) -> tuple[int, int]:
    """Two independent integers in [low, high): one for the height, one for the width."""
    first, second = generator.integers(low, high, size=2)
    return int(first), int(second)


def random_conv_case(generator: np.random.Generator) -> ConvCase:
    """A random F.conv2d call, batch 2, whose output is not empty."""
    while True:
        groups = int(generator.integers(1, 4))
        c_in, c_out = (groups * g for g in draw_pair(generator, 1, 4))
        case = ConvCase(
            input_shape=(2, c_in, *draw_pair(generator, 4, 13)),
            weight_shape=(c_out, c_in // groups, *draw_pair(generator, 1, 5)),
            arguments=dict(
                stride=draw_pair(generator, 1, 4),
                padding=draw_pair(generator, 0, 3),
                dilation=draw_pair(generator, 1, 4),
                groups=groups,
            ),
        )
        if min(case.output_shape()[1:]) >= 1:
            return case


# %%
cases = [random_conv_case(rng) for _ in range(20)]
outputs = {"ours": [], "torch": []}
gradients = {"ours": [], "torch": [], "hand-written": []}
torch_shapes = []
for case in cases:
    x = torch.randn(case.input_shape, requires_grad=True)  # (B, C_in, H, W)
    weight = torch.randn(case.weight_shape, requires_grad=True)  # (C_out, C_in/G, K_h, K_w)
    bias = torch.randn(case.weight_shape[0], requires_grad=True)  # (C_out,)
    ours = conv2d_im2col(x, weight, bias, **case.arguments)
    reference = F.conv2d(x, weight, bias, **case.arguments)
    hand_written = Conv2dIm2colFunction.apply(x, weight, bias, *case.arguments.values())
    delta = torch.randn_like(reference)  # Δ = ∂L/∂y, the upstream gradient
    for name, y in [("ours", ours), ("torch", reference), ("hand-written", hand_written)]:
        grads = torch.autograd.grad(y, (x, weight, bias), delta)
        gradients[name].append(torch.cat([g.flatten() for g in grads]))
    outputs["ours"].append(ours.detach().flatten())
    outputs["torch"].append(reference.detach().flatten())
    torch_shapes.append(tuple(reference.shape[1:]))

formula_shapes = [case.output_shape() for case in cases]
check_equal(
    "output shapes, eq. (conv-out-size) vs F.conv2d (20 cases)",
    np.array(formula_shapes),
    np.array(torch_shapes),
)
check_close(
    "conv2d_im2col vs F.conv2d, forward (20 cases)",
    torch.cat(outputs["ours"]),
    torch.cat(outputs["torch"]),
    atol=1e-12,
)
check_close(
    "conv2d_im2col vs F.conv2d, ∂L/∂(x, w, b) by autograd (20 cases)",
    torch.cat(gradients["ours"]),
    torch.cat(gradients["torch"]),
    atol=1e-12,
)
check_close(
    "hand-written backward, eq. (conv-backward), vs F.conv2d's (20 cases)",
    torch.cat(gradients["hand-written"]),
    torch.cat(gradients["torch"]),
    atol=1e-12,
)

# %% [markdown]
# The loops are slow, so they are checked on the first eight cases only (forward; they have
# no backward of their own).

# %%
loop_outputs, loop_references = [], []
for case in cases[:8]:
    x, weight = torch.randn(case.input_shape), torch.randn(case.weight_shape)
    bias = torch.randn(case.weight_shape[0])
    loop_outputs.append(conv2d_loops(x, weight, bias, **case.arguments).flatten())
    loop_references.append(F.conv2d(x, weight, bias, **case.arguments).flatten())
check_close(
    "conv2d_loops vs F.conv2d (8 cases)",
    torch.cat(loop_outputs),
    torch.cat(loop_references),
    atol=1e-12,
)

# %% [markdown]
# Finally, central finite differences, independent of any autograd. For a random direction
# $v$ in the space of $(x, w, b)$ and $\mathcal L=\langle y,\Delta\rangle$, the hand-written
# gradient must give $\langle\nabla\mathcal L,v\rangle=\big(\mathcal L(\theta+\epsilon v)-
# \mathcal L(\theta-\epsilon v)\big)/2\epsilon$. $\mathcal L$ is quadratic in $\theta=(x,w,b)$
# (bilinear in $x$ and $w$), so the central difference has no truncation error, and
# $\epsilon=10^{-3}$ leaves only rounding.

# %%
EPS = 1e-3
analytic, numeric = [], []
for case in cases:
    theta = [torch.randn(case.input_shape), torch.randn(case.weight_shape)]
    theta.append(torch.randn(case.weight_shape[0]))  # (x, w, b)
    direction = [torch.randn_like(t) for t in theta]  # v
    leaves = [t.clone().requires_grad_(True) for t in theta]
    y = Conv2dIm2colFunction.apply(*leaves, *case.arguments.values())
    delta = torch.randn_like(y)
    grads = torch.autograd.grad(y, leaves, delta)  # through the hand-written backward
    analytic.append(sum((g * v).sum() for g, v in zip(grads, direction, strict=True)))
    plus = [t + EPS * v for t, v in zip(theta, direction, strict=True)]  # θ + εv
    minus = [t - EPS * v for t, v in zip(theta, direction, strict=True)]  # θ - εv
    loss_plus = (conv2d_im2col(*plus, **case.arguments) * delta).sum()
    loss_minus = (conv2d_im2col(*minus, **case.arguments) * delta).sum()
    numeric.append((loss_plus - loss_minus) / (2 * EPS))
check_close(
    "hand-written backward vs central differences, <∇L, v> (20 cases)",
    torch.stack(analytic),
    torch.stack(numeric),
    atol=1e-9,
)

# %% [markdown]
# ### The module against `nn.Conv2d`
#
# Seeded the same way, `Conv2d` and `nn.Conv2d` must draw the same initial weights (up to
# the last bit of torch's bound, $\sqrt3\cdot\sqrt{1/3}/\sqrt{\text{fan}_\text{in}}$ vs our
# $1/\sqrt{\text{fan}_\text{in}}$). Forward and all gradients must then agree.

# %%
layer_arguments = dict(
    in_channels=4,
    out_channels=6,
    kernel_size=(3, 5),
    stride=(2, 1),
    padding=(1, 2),
    dilation=(1, 2),
    groups=2,
)
torch.manual_seed(1)
ours_layer = Conv2d(**layer_arguments)
torch.manual_seed(1)
torch_layer = nn.Conv2d(**layer_arguments)
check_close(
    "initial weight, Conv2d vs nn.Conv2d (same seed)",
    ours_layer.weight,
    torch_layer.weight,
    atol=1e-15,
)
check_close(
    "initial bias, Conv2d vs nn.Conv2d (same seed)", ours_layer.bias, torch_layer.bias, atol=1e-15
)
with torch.no_grad():
    ours_layer.weight.copy_(torch_layer.weight)
    ours_layer.bias.copy_(torch_layer.bias)

x = torch.randn(3, 4, 10, 12, requires_grad=True)  # (B, C_in, H, W)
x_ours = x.detach().clone().requires_grad_(True)
loss_torch = (torch_layer(x) ** 2).sum()
loss_ours = (ours_layer(x_ours) ** 2).sum()
check_close("Conv2d vs nn.Conv2d: loss", loss_ours, loss_torch, atol=1e-10)
loss_torch.backward()
loss_ours.backward()
check_close("Conv2d vs nn.Conv2d: ∂L/∂x", x_ours.grad, x.grad, atol=1e-12)
check_close(
    "Conv2d vs nn.Conv2d: ∂L/∂weight", ours_layer.weight.grad, torch_layer.weight.grad, atol=1e-12
)
check_close(
    "Conv2d vs nn.Conv2d: ∂L/∂bias", ours_layer.bias.grad, torch_layer.bias.grad, atol=1e-12
)

# %% [markdown]
# ### Cross-correlation vs convolution
#
# A random, non-symmetric 3×3 kernel on a random image, no padding ("valid" mode in SciPy):
# `F.conv2d` is `correlate2d`, and `F.conv2d` with the kernel flipped on both axes is
# `convolve2d`, {eq}`conv-true-conv`.

# %%
image = torch.randn(12, 15)  # (H, W)
kernel = torch.randn(3, 3)  # (K, K), no symmetry
torch_result = F.conv2d(image[None, None], kernel[None, None])[0, 0]  # (H - 2, W - 2)
flipped_result = F.conv2d(image[None, None], kernel.flip(0, 1)[None, None])[0, 0]
check_close(
    "F.conv2d vs scipy.signal.correlate2d",
    torch_result,
    scipy.signal.correlate2d(image.numpy(), kernel.numpy(), mode="valid"),
    atol=1e-12,
)
check_close(
    "F.conv2d with flipped kernel vs scipy.signal.convolve2d",
    flipped_result,
    scipy.signal.convolve2d(image.numpy(), kernel.numpy(), mode="valid"),
    atol=1e-12,
)
gap = torch_result.numpy() - scipy.signal.convolve2d(image.numpy(), kernel.numpy(), mode="valid")
check_true(
    "without the flip, F.conv2d is not convolve2d",
    bool(np.abs(gap).max() > 0.1),
    f"max difference {np.abs(gap).max():.2f}",
)

# %% [markdown]
# ### Output size and parameter count: the errata's numbers
#
# The ResNet stem, a 7×7 stride-2 convolution with padding 3 on a 224×224 image, gives
# 112×112 by {eq}`conv-out-size` and by torch. {eq}`conv-params` must match torch's parameter
# counts, including grouped and depthwise layers.

# %%
stem_size = conv_output_size(224, kernel_size=7, stride=2, padding=3)
stem = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
check_equal("224 px, K=7, S=2, P=3: output size by formula", stem_size, 112)
check_equal("… and by nn.Conv2d", stem(torch.zeros(1, 3, 224, 224)).shape[-1], stem_size)
for c_in, c_out, k, g in [(3, 64, 7, 1), (64, 128, 3, 1), (64, 128, 3, 4), (64, 64, 3, 64)]:
    n_formula = conv_parameter_count(c_in, c_out, k, g)
    n_torch = count_parameters(nn.Conv2d(c_in, c_out, k, groups=g))
    check_equal(
        f"parameters of Conv2d({c_in}, {c_out}, {k}, groups={g}) = {n_formula:,}",
        n_formula,
        n_torch,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. What a convolution computes on a real image
#
# The Sobel kernel $\begin{bmatrix}-1&0&1\\-2&0&2\\-1&0&1\end{bmatrix}$ takes the difference
# between the columns to the right and to the left of a pixel (with some smoothing across
# rows). It responds to *vertical* edges, where the intensity changes from left to right, and
# its transpose responds to horizontal edges. Both kernels go into one `weight` of shape
# (2, 1, 3, 3), and `conv2d_im2col` computes both maps in one call on the grayscale
# `china.jpg` that scikit-learn ships. The image is downsampled 2× by averaging, to keep the
# figure light. The kernel is antisymmetric, so flipping it negates it: a library that really
# convolves (SciPy's `convolve2d`) returns the *negated* map. Here the naming difference shows
# up as a sign.

# %%
rgb = load_sample_image("china.jpg").astype(np.float64) / 255  # (427, 640, 3)
gray = torch.from_numpy(rgb @ np.array([0.299, 0.587, 0.114]))  # (427, 640), luma
gray = F.avg_pool2d(gray[None, None], 2)[0, 0]  # (213, 320)
sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])  # (3, 3)
sobel = torch.stack([sobel_x, sobel_x.T])[:, None]  # (2, 1, 3, 3): vertical, horizontal edges
edges = conv2d_im2col(gray[None, None], sobel, padding=1)[0]  # (2, 213, 320)
check_close(
    "Sobel maps: conv2d_im2col vs F.conv2d",
    edges,
    F.conv2d(gray[None, None], sobel, padding=1)[0],
    atol=1e-12,
)
scipy_edges = scipy.signal.convolve2d(gray.numpy(), sobel_x.numpy(), mode="same")  # zero-padded
check_close(
    "true convolution with Sobel = −(cross-correlation)", -scipy_edges, edges[0], atol=1e-12
)
magnitude = edges.pow(2).sum(0).sqrt()  # (213, 320): |∇| estimate
print(
    f"image {tuple(gray.shape)}, edge magnitude: median {magnitude.median():.3f}, "
    f"99th percentile {magnitude.quantile(0.99):.3f}"
)

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 2.6))
panels = [
    (gray, "input (grayscale)", "gray", None),
    (edges[0], "Sobel x: vertical edges", "RdBu_r", 2.0),
    (edges[1], "Sobel y: horizontal edges", "RdBu_r", 2.0),
    (magnitude, "magnitude $\\sqrt{g_x^2+g_y^2}$", "magma", None),
]
for ax, (values, title, cmap, limit) in zip(axes, panels, strict=True):
    kwargs = dict(vmin=-limit, vmax=limit) if limit else {}
    ax.imshow(values.numpy(), cmap=cmap, **kwargs)
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
fig.suptitle("A 3×3 kernel slid over the image: each Sobel map lights up edges of one orientation")
plt.show()

# %% [markdown]
# The frame around the magnitude map, brightest along the sky at the top, comes from the
# padding, not from the image: at the border the kernel sees a jump from the image to the
# zeros that padding adds. Reflect or replicate padding (`padding_mode` of `nn.Conv2d`)
# avoids it. The cell compares the mean response on the outermost rows and columns with the
# interior, for zero and for replicate padding.


# %%
def border_over_interior(maps: torch.Tensor) -> float:
    """Mean |response| on the outermost rows and columns over the mean in the interior."""
    border = torch.ones_like(maps[0], dtype=torch.bool)  # (H, W)
    border[1:-1, 1:-1] = False
    return float(maps.abs()[:, border].mean() / maps.abs()[:, ~border].mean())


replicated = F.conv2d(F.pad(gray[None, None], (1, 1, 1, 1), mode="replicate"), sobel)[0]
zero_ratio, replicate_ratio = border_over_interior(edges), border_over_interior(replicated)
check_true(
    "zero padding: border responses ≫ interior; replicate padding: not",
    zero_ratio > 3 > replicate_ratio,
    f"border / interior {zero_ratio:.1f} (zeros) vs {replicate_ratio:.1f} (replicate)",
)

# %% [markdown]
#
# ### 2. Loops vs im2col vs `F.conv2d`
#
# One image with 3 channels, 8 output channels, a 3×3 kernel with padding 1, in float32, at
# growing image sizes. The timings are medians (`time_call`); the loops run at the small sizes
# only.

# %%
TIMING_SIZES = (8, 16, 32, 64, 128)
LOOP_SIZES = (8, 16)
timing_weight = torch.randn(8, 3, 3, 3, dtype=torch.float32)  # (C_out, C_in, K, K)
timings: dict[str, dict[int, float]] = {"loops": {}, "im2col + matmul": {}, "F.conv2d": {}}
with torch.no_grad():
    for size in TIMING_SIZES:
        x = torch.randn(1, 3, size, size, dtype=torch.float32)
        methods = {"im2col + matmul": conv2d_im2col, "F.conv2d": F.conv2d}
        if size in LOOP_SIZES:
            methods["loops"] = conv2d_loops
        for name, method in methods.items():
            repeats = 3 if name == "loops" else 15
            timing = time_call(
                lambda m=method, x=x: m(x, timing_weight, None, 1, 1), repeats=repeats, warmup=1
            )
            timings[name][size] = timing.median
print("median time per call (ms)")
print(f"{'side':>6} " + " ".join(f"{name:>16}" for name in timings))
for size in TIMING_SIZES:
    row = [
        f"{timings[name][size] * 1e3:16.3f}" if size in timings[name] else f"{'—':>16}"
        for name in timings
    ]
    print(f"{size:>6} " + " ".join(row))
loops_over_im2col = timings["loops"][LOOP_SIZES[-1]] / timings["im2col + matmul"][LOOP_SIZES[-1]]
im2col_over_torch = timings["im2col + matmul"][128] / timings["F.conv2d"][128]
print(
    f"at {LOOP_SIZES[-1]}×{LOOP_SIZES[-1]} the loops take {loops_over_im2col:.0f}× as long as "
    f"im2col; at 128×128 im2col takes {im2col_over_torch:.1f}× as long as F.conv2d"
)

# %% [markdown]
# The patch matrix costs memory. With stride 1 and "same" padding, every pixel is copied into
# $K^2$ columns:

# %%
x = torch.randn(1, 3, 128, 128, dtype=torch.float32)
patch_bytes = im2col(x, 3, padding=1).numel() * 4
check_equal(
    "im2col memory / input memory, K = 3, stride 1, same padding", patch_bytes // (x.numel() * 4), 9
)

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for colour, (name, times) in zip(PALETTE, timings.items(), strict=False):
    sides = sorted(times)
    ax.loglog(
        [s * s for s in sides], [times[s] * 1e3 for s in sides], "o-", color=colour, label=name
    )
ax.set(xlabel="pixels per channel ($H\\times W$)", ylabel="median time per call (ms)")
ax.set_title(
    f"im2col is {loops_over_im2col:.0f}× faster than loops at {LOOP_SIZES[-1]}×{LOOP_SIZES[-1]};\n"
    f"F.conv2d is {im2col_over_torch:.1f}× faster than im2col at 128×128"
)
ax.legend()
plt.show()

# %% [markdown]
# The loops cost one Python iteration per output value, so their time grows with the number of
# pixels from the start. im2col replaces them with a gather and one matrix product; at small
# sizes its time is mostly fixed overhead. `F.conv2d` dispatches to an optimised kernel
# (oneDNN on CPU, cuDNN on GPU), which avoids materialising the patch matrix or tiles it, and
# chooses among direct, im2col-style, FFT or Winograd algorithms.
#
# ### 3. Receptive field: the notes' formula vs autograd
#
# Three 3×3 convolutions with stride 2 and padding 1, all-ones kernels, on a 64×64 input. The
# gradient of one output unit (the centre one, at index 4 of the 8×8 output) with respect to
# the input is nonzero exactly on the pixels that can change that unit: its RF. The stack is
# linear with positive weights, so no two paths can cancel.


# %%
def centre_gradient(
    layers: Sequence[LayerSpec], size: int, kernels: list[torch.Tensor]
) -> tuple[torch.Tensor, int]:
    """∂y[centre]/∂x of a one-channel stack on a size×size input, and the centre unit's index."""
    x = torch.randn(1, 1, size, size, requires_grad=True)
    y = run_stack(layers, x, kernels)  # (1, 1, O, O)
    centre = y.shape[-1] // 2
    y[0, 0, centre, centre].backward()
    return x.grad[0, 0], centre  # (size, size)


def support_interval(gradient: torch.Tensor) -> tuple[int, int]:
    """First and last row holding a nonzero gradient (the RF's extent along one axis)."""
    rows = torch.nonzero(gradient.abs().sum(1) > 0).flatten()
    return int(rows[0]), int(rows[-1])


# %%
three_strided = [LayerSpec("conv", 3, stride=2, padding=1)] * 3
ones = [torch.ones(1, 1, 3, 3)] * 3
rf_gradient, centre = centre_gradient(three_strided, 64, ones)
first, last = support_interval(rf_gradient)
rf, jump, start = receptive_field(three_strided)
print(f"formula: r = {rf}, jump = {jump}, first pixel of unit {centre} = {start + centre * jump}")
notes_rf = receptive_field_notes(three_strided)
print(f"autograd: rows {first}…{last} have a nonzero gradient; the notes' formula says {notes_rf}")
check_equal("three 3×3 stride-2 convs: RF by autograd vs eq. (conv-rf)", last - first + 1, rf)
check_equal("… and the RF is 15", rf, 15)
check_equal("… the RF's first pixel: autograd vs s_L + i j_L", first, start + centre * jump)
check_equal("the notes' formula gives 13", receptive_field_notes(three_strided), 13)
single = [LayerSpec("conv", 3, stride=2, padding=1)]
single_gradient, _ = centre_gradient(single, 64, ones[:1])
single_first, single_last = support_interval(single_gradient)
check_equal(
    "one 3×3 stride-2 conv: RF by autograd (the notes say 5)", single_last - single_first + 1, 3
)

# %%
fig, (ax_map, ax_row) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(1, 1.3))
view = slice(first - 5, last + 6)
ax_map.imshow(
    rf_gradient[view, view].numpy(),
    cmap="viridis",
    extent=(first - 5.5, last + 5.5, last + 5.5, first - 5.5),
)
ax_map.add_patch(
    Rectangle(
        (first - 0.5, first - 0.5),
        rf,
        rf,
        fill=False,
        color=PALETTE[4],
        lw=2,
        label=f"eq. (conv-rf): {rf}×{rf}",
    )
)
notes_corner = first + (rf - notes_rf) / 2 - 0.5
ax_map.add_patch(
    Rectangle(
        (notes_corner, notes_corner),
        notes_rf,
        notes_rf,
        fill=False,
        color="w",
        ls="--",
        lw=1.5,
        label=f"notes: {notes_rf}×{notes_rf}",
    )
)
ax_map.set(
    xlabel="input column",
    ylabel="input row",
    title="$\\partial y_{centre}/\\partial x$ (all-ones kernels)",
)
ax_map.grid(False)
ax_map.legend(loc="lower left", fontsize=8, labelcolor="w")
columns_index = np.arange(first - 5, last + 6)
ax_row.bar(columns_index, rf_gradient[first + rf // 2, view].numpy(), color=PALETTE[0], width=0.8)
ax_row.axvspan(first - 0.5, last + 0.5, color=PALETTE[4], alpha=0.15, label=f"RF, {rf} pixels")
ax_row.set(
    xlabel="input column",
    ylabel="gradient = number of paths",
    title="One row through the centre of the RF",
)
ax_row.legend()
fig.suptitle(
    f"Three 3×3 stride-2 convolutions see {last - first + 1} pixels, not the notes' {notes_rf}; "
    "the centre is reached by more paths"
)
plt.show()

# %% [markdown]
# With all-ones kernels, the gradient at a pixel counts the paths from that pixel to the output
# unit. The centre of the RF is reached by many paths, and the border pixels by one. The
# nonuniformity already appears with three layers; Experiment 4 follows it with depth.
#
# Now random stacks: two to five layers, each a convolution (kernel 1–5, stride 1–3,
# dilation 1–3, random padding) or an average pooling (kernel 2–3, stride 1–3), with random
# positive kernels. Each stack runs on an input large enough that the centre unit's RF lies
# inside the image. The formula's interval $[s_L+ij_L,\ s_L+ij_L+r_L-1]$ must equal the rows
# where autograd finds a nonzero gradient.


# %%
def random_stack(generator: np.random.Generator) -> list[LayerSpec]:
    """Two to five random conv / average-pool layers."""
    layers = []
    for _ in range(int(generator.integers(2, 6))):
        if generator.random() < 0.7:
            k, d = int(generator.integers(1, 6)), int(generator.integers(1, 4))
            p = int(generator.integers(0, (k - 1) * d // 2 + 1))
            layers.append(LayerSpec("conv", k, int(generator.integers(1, 4)), p, d))
        else:
            k = int(generator.integers(2, 4))
            layers.append(
                LayerSpec(
                    "avgpool",
                    k,
                    int(generator.integers(1, 4)),
                    int(generator.integers(0, k // 2 + 1)),
                )
            )
    return layers


def describe(layers: Sequence[LayerSpec]) -> str:
    """'c3s2p1d1 → a2s2p0 …': kind, kernel, stride, padding (and dilation for convs)."""
    return " → ".join(
        f"{'c' if layer.kind == 'conv' else 'a'}{layer.kernel_size}s{layer.stride}p{layer.padding}"
        + (f"d{layer.dilation}" if layer.kind == "conv" else "")
        for layer in layers
    )


# %%
STACK_INPUT = 160
formula_intervals, autograd_intervals, rows = [], [], []
while len(formula_intervals) < 12:
    layers = random_stack(rng)
    rf, jump, start = receptive_field(layers)
    if rf > STACK_INPUT // 2:
        continue  # keep the RF well inside the image
    try:
        kernels = [torch.rand(1, 1, layer.kernel_size, layer.kernel_size) + 0.5 for layer in layers]
        gradient, centre = centre_gradient(layers, STACK_INPUT, kernels)
    except RuntimeError:
        continue  # some layer's output would be empty
    first_pixel = start + centre * jump
    if first_pixel < 0 or first_pixel + rf > STACK_INPUT:
        continue
    formula_intervals.append((first_pixel, first_pixel + rf - 1))
    autograd_intervals.append(support_interval(gradient))
    rows.append((describe(layers), rf, receptive_field_notes(layers), autograd_intervals[-1]))
print(f"{'stack':<52} {'eq.':>4} {'notes':>5}  autograd rows")
for description, rf, notes, (lo, hi) in rows:
    print(f"{description:<52} {rf:>4} {notes:>5}  {lo}…{hi} ({hi - lo + 1})")
check_equal(
    "12 random stacks: RF interval by eq. (conv-rf) vs autograd",
    np.array(formula_intervals),
    np.array(autograd_intervals),
)
n_notes_wrong = sum(notes != rf for _, rf, notes, _ in rows)
print(f"the notes' formula is wrong on {n_notes_wrong} of {len(rows)} stacks")

# %% [markdown]
# ### 4. The effective receptive field is much smaller than the RF
#
# Stacks of $L$ 3×3 convolutions (stride 1, padding 1, RF $2L+1$) of two kinds:
#
# - *uniform*: one channel, all-ones kernels, no nonlinearity, where {eq}`conv-erf-std` gives
#   the width exactly;
# - *random ReLU*: 8 channels, He-initialised random kernels
#   ($\mathcal N(0,2/\text{fan}_\text{in})$), ReLU between layers, like a real (untrained)
#   CNN.
#
# For each, the map $|\partial y_\text{centre}/\partial x|$ is averaged over 4 random nets
# and 8 random inputs each, in float32. Its width $\sigma$ is the standard deviation of its
# column marginal, treated as a distribution over pixel positions. Each input is the RF plus
# a margin of 4 pixels, so borders never matter.

# %%
ERF_DEPTHS = (1, 2, 4, 8, 16, 32)
ERF_CHANNELS = 8  # channels of the random ReLU CNNs
ERF_NETS = 4  # random nets averaged
ERF_BATCH = 8  # random inputs per net
ERF_MARGIN = 4  # pixels between the RF and the border


def erf_width(gradient_map: np.ndarray) -> float:
    """Standard deviation, in pixels, of the column marginal of a nonnegative map."""
    marginal = gradient_map.sum(0) / gradient_map.sum()
    positions = np.arange(len(marginal))
    mean = (marginal * positions).sum()
    return float(np.sqrt((marginal * (positions - mean) ** 2).sum()))


def uniform_erf(depth: int) -> np.ndarray:
    """∂y_centre/∂x of `depth` all-ones 3×3 convolutions (float64, linear, one channel)."""
    layers = [LayerSpec("conv", 3, 1, 1)] * depth
    size = 2 * depth + 1 + 2 * ERF_MARGIN
    gradient, _ = centre_gradient(layers, size, [torch.ones(1, 1, 3, 3)] * depth)
    return gradient.numpy()


def random_relu_erf(depth: int) -> np.ndarray:
    """Mean |∂y_centre/∂x| (summed over input channels) of random He-initialised ReLU CNNs."""
    size = 2 * depth + 1 + 2 * ERF_MARGIN
    total = np.zeros((size, size))
    for _ in range(ERF_NETS):
        layers: list[nn.Module] = []
        for index in range(depth):
            conv = nn.Conv2d(
                ERF_CHANNELS, ERF_CHANNELS, 3, padding=1, bias=False, dtype=torch.float32
            )
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            layers += [conv, nn.ReLU()] if index < depth - 1 else [conv]
        net = nn.Sequential(*layers)
        x = torch.randn(
            ERF_BATCH, ERF_CHANNELS, size, size, dtype=torch.float32, requires_grad=True
        )
        y = net(x)  # (B, C, size, size)
        centre = size // 2
        y[:, 0, centre, centre].sum().backward()  # each image's gradient lands in its own x
        total += x.grad.abs().sum(1).mean(0).double().numpy()
    return total / ERF_NETS


# %%
erf_maps = {"uniform": {}, "random ReLU": {}}
for depth in ERF_DEPTHS:
    erf_maps["uniform"][depth] = uniform_erf(depth)
    erf_maps["random ReLU"][depth] = random_relu_erf(depth)
erf_widths = {
    kind: np.array([erf_width(maps[d]) for d in ERF_DEPTHS]) for kind, maps in erf_maps.items()
}
depths = np.array(ERF_DEPTHS)
check_close(
    "uniform stack: ERF width vs √(2L/3), eq. (conv-erf-std)",
    erf_widths["uniform"],
    np.sqrt(2 * depths / 3),
    atol=1e-9,
)

# %% [markdown]
# How much of the gradient falls in the central square of half the RF's side, a quarter of its
# area? And how does the width grow? A power law $\sigma\propto L^\alpha$ fitted over
# $L=4\dots32$ gives $\alpha$; the RF has $\alpha=1$.


# %%
def central_mass(gradient_map: np.ndarray, depth: int) -> float:
    """Fraction of the map's mass in the central (L + 1) × (L + 1) square: half the RF's side
    2L + 1, a quarter of its area."""
    centre, half = gradient_map.shape[0] // 2, depth // 2
    inner = gradient_map[centre - half : centre + half + 1, centre - half : centre + half + 1]
    return float(inner.sum() / gradient_map.sum())


# %%
fit_depths = depths >= 4
for kind, widths in erf_widths.items():
    exponent = np.polyfit(np.log(depths[fit_depths]), np.log(widths[fit_depths]), 1)[0]
    mass = central_mass(erf_maps[kind][16], 16)
    print(
        f"{kind:>11}: σ at L = {ERF_DEPTHS}: {np.round(widths, 2)}; σ ∝ L^{exponent:.2f}; "
        f"L = 16: {mass:.1%} of the gradient in the central quarter of the RF"
    )
    check_true(
        f"{kind}: ERF width grows like √L, not L",
        bool(0.35 < exponent < 0.65),
        f"exponent {exponent:.2f}",
    )
    check_true(
        f"{kind}: L = 16, most gradient in a quarter of the RF", bool(mass > 0.8), f"{mass:.1%}"
    )

# %%
deep = 16
relu_map = erf_maps["random ReLU"][deep] / erf_maps["random ReLU"][deep].max()
uniform_map = erf_maps["uniform"][deep]
side = relu_map.shape[0]
rf_deep = 2 * deep + 1
relu_mass = central_mass(erf_maps["random ReLU"][deep], deep)
relu_exponent = np.polyfit(
    np.log(depths[fit_depths]), np.log(erf_widths["random ReLU"][fit_depths]), 1
)[0]

fig, (ax_map, ax_profile, ax_width) = plt.subplots(
    1, 3, figsize=(13, 3.9), width_ratios=(1, 1.2, 1.2)
)
image_plot = ax_map.imshow(relu_map, cmap="magma", extent=(-0.5, side - 0.5, side - 0.5, -0.5))
ax_map.add_patch(
    Rectangle(
        (ERF_MARGIN - 0.5, ERF_MARGIN - 0.5),
        rf_deep,
        rf_deep,
        fill=False,
        color=PALETTE[5],
        lw=1.5,
        ls="--",
        label=f"RF {rf_deep}×{rf_deep}",
    )
)
ax_map.set(xlabel="input column", ylabel="input row", title=f"random ReLU CNN, L = {deep}")
ax_map.grid(False)
ax_map.legend(loc="lower left", fontsize=8, labelcolor="w")
fig.colorbar(image_plot, ax=ax_map, shrink=0.8, label="|∂y/∂x| / max")

positions = np.arange(side) - side // 2
for colour, (kind, maps) in zip(PALETTE, erf_maps.items(), strict=False):
    marginal = maps[deep].sum(0) / maps[deep].sum()
    sigma = erf_width(maps[deep])
    ax_profile.plot(positions, marginal, "o", ms=3, color=colour, label=f"{kind}, σ = {sigma:.2f}")
    gaussian = np.exp(-(positions**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    ax_profile.plot(positions, gaussian, "-", lw=1, color=colour)
ax_profile.axvspan(-deep - 0.5, deep + 0.5, color="0.5", alpha=0.12, label=f"RF, {rf_deep} px")
ax_profile.set(
    xlabel="column offset from the centre (px)",
    ylabel="share of the gradient",
    title="Column marginal (dots) vs Gaussian of equal σ",
)
ax_profile.legend(fontsize=8)

ax_width.loglog(depths, 2 * depths + 1, "k-", label="RF $r_L = 2L+1$")
for colour, (kind, widths) in zip(PALETTE, erf_widths.items(), strict=False):
    ax_width.loglog(depths, 2 * widths, "o-", color=colour, label=f"ERF, 2σ ({kind})")
exact_label = "exact $2\\sqrt{2L/3}$ (dotted)"
ax_width.loglog(depths, 2 * np.sqrt(2 * depths / 3), ":", color="0.2", lw=2, label=exact_label)
ax_width.set(
    xlabel="depth L (3×3 convs)", ylabel="width (px)", title="RF grows like L, the ERF like √L"
)
ax_width.set_xticks(depths, labels=[str(d) for d in depths])
ax_width.set_yticks([2, 5, 10, 20, 50], labels=["2", "5", "10", "20", "50"])
ax_width.minorticks_off()
ax_width.legend(fontsize=8, loc="lower right")
fig.suptitle(
    f"At L = {deep} the RF is {rf_deep} px wide, yet {relu_mass:.0%} of the gradient of a random "
    f"ReLU CNN falls in its central quarter (ERF ∝ $L^{{{relu_exponent:.2f}}}$)"
)
plt.show()

# %% [markdown]
# The gradient is close to Gaussian in both nets. Its width is set by how far a random walk of
# $L$ kernel offsets spreads, not by how far it *can* go. Training changes the picture
# somewhat: {cite:t}`luo2016understanding` report that the effective RF grows during training,
# but it stays a fraction of the theoretical one. This is one reason why very deep stacks,
# downsampling and dilation are all used to get context, and why a unit's nominal RF
# overstates how much of the image it uses.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "RF = RF_pre + (K − 1) × S." What is wrong with it?
# It multiplies by the current layer's stride. The stride of layer $l$ sets how far apart
# layer $l$'s units are, not what one of them sees; it affects the RF of layers $l+1$ on.
# The growth term is $(K_l-1)D_l$ times the product of the *earlier* strides, {eq}`conv-rf`.
# Three 3×3 stride-2 convolutions: 15, not 13; one: 3, not 5 (Experiment 3). The notes'
# formula also ignores dilation.
# :::
#
# :::{dropdown} `padding="same"` with an even kernel: where does the extra pixel go?
# "Same" needs a total padding of $D(K-1)$, which is odd for even $K$ and odd $D$, so it cannot
# be split evenly. PyTorch (like TensorFlow) puts the extra pixel at the end: right and bottom.
# It then has to copy a zero-padded input, and warns. The output is then shifted by half a
# pixel relative to the input, which matters when maps of different layers are aligned
# (segmentation, detection). PyTorch allows `"same"` only with stride 1. The cell below checks
# where the padding goes.
# :::

# %%
x = torch.randn(1, 1, 8, 8)
kernel_4 = torch.randn(1, 1, 4, 4)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the warning about the padded copy
    same = F.conv2d(x, kernel_4, padding="same")
check_close(
    "'same', K = 4: pad 1 left/top, 2 right/bottom",
    same,
    F.conv2d(F.pad(x, (1, 2, 1, 2)), kernel_4),
    atol=1e-12,
)
check_true(
    "… not 2 left/top, 1 right/bottom",
    bool((same - F.conv2d(F.pad(x, (2, 1, 2, 1)), kernel_4)).abs().max() > 0.1),
)

# %% [markdown]
# :::{dropdown} Stride or dilation to grow the receptive field?
# Both multiply the growth of the RF. A stride of 2 downsamples: every *later* layer's growth
# doubles, and compute drops 4× per layer, but resolution is lost. Dilation $D$ grows this
# layer's RF by $(K-1)D$ at full resolution and the same parameter count, but the kernel has
# holes. Stacking dilated layers with a common factor leaves a regular grid of pixels that
# never reach the output (the "gridding" artifact). That is why dilation rates are usually
# mixed or increased (1, 2, 4, …). The cell below counts the pixels that two 3×3 layers with
# $D=2$ actually touch inside their 9×9 RF, and compares rates (1, 2).
# :::

# %%
for rates in [(2, 2), (1, 2)]:
    layers = [LayerSpec("conv", 3, 1, 0, d) for d in rates]
    gradient, _ = centre_gradient(layers, 21, [torch.ones(1, 1, 3, 3)] * 2)
    rf = receptive_field(layers)[0]
    touched = int((gradient != 0).sum())
    print(f"dilations {rates}: RF {rf}×{rf} = {rf * rf} pixels, {touched} of them reach the output")
    check_equal(
        f"dilations {rates}: RF by autograd",
        support_interval(gradient)[1] - support_interval(gradient)[0] + 1,
        rf,
    )
check_equal(
    "dilations (2, 2): only the 5×5 even-offset grid is touched",
    int(
        (
            centre_gradient([LayerSpec("conv", 3, 1, 0, 2)] * 2, 21, [torch.ones(1, 1, 3, 3)] * 2)[
                0
            ]
            != 0
        ).sum()
    ),
    25,
)

# %% [markdown]
# :::{dropdown} What is the output size of a transposed convolution? Is it an inverse?
# `ConvTranspose2d` computes the adjoint map of {eq}`conv-backward`: the gradient of a
# convolution with respect to its input. So its output size inverts {eq}`conv-out-size`:
# $O=(I-1)S-2P+D(K-1)+\text{output\_padding}+1$. Because the floor in {eq}`conv-out-size`
# maps several input sizes to one output size, `output_padding` (less than $S$) picks which
# one. It is the transpose, not the inverse: it restores the *shape*, not the values. Applying
# a conv and then its transpose multiplies by $W^\top W$, not by the identity. The cell
# checks the size formula and that `F.conv_transpose2d` equals both autograd's input gradient
# and col2im of $W_\text{mat}^\top\Delta$.
# :::

# %%
x = torch.randn(2, 3, 11, 11, requires_grad=True)
weight = torch.randn(5, 3, 3, 3)  # (C_out, C_in, K, K)
y = F.conv2d(x, weight, stride=2, padding=1)  # (2, 5, 6, 6)
delta = torch.randn_like(y)
(input_gradient,) = torch.autograd.grad(y, x, delta)
output_padding = 11 - ((6 - 1) * 2 - 2 * 1 + 1 * (3 - 1) + 1)  # the size the floor lost
transposed = F.conv_transpose2d(delta, weight, stride=2, padding=1, output_padding=output_padding)
check_equal(
    "transposed conv output size (I−1)S − 2P + D(K−1) + output_padding + 1",
    transposed.shape[-1],
    11,
)
check_close("F.conv_transpose2d = ∂(conv)/∂x applied to Δ", transposed, input_gradient, atol=1e-12)
columns_gradient = weight.reshape(5, -1).T @ delta.reshape(2, 5, -1)  # W_matᵀ Δ: (2, 27, 36)
check_close(
    "… = col2im(W_matᵀ Δ), eq. (conv-backward)",
    col2im(columns_gradient, (11, 11), 3, 2, 1),
    input_gradient,
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} How many parameters do grouped and depthwise-separable convolutions save?
# With $G$ groups each output channel sees $C_\text{in}/G$ input channels, so weights and
# MACs drop $G$-fold, {eq}`conv-params`. A depthwise convolution ($G=C_\text{in}$) filters
# each channel on its own. Followed by a 1×1 "pointwise" convolution that mixes channels, it
# forms a *depthwise-separable* convolution: $C(K^2+1)+C_\text{out}(C+1)$ parameters instead
# of $C_\text{out}(CK^2+1)$, about $K^2$ times fewer when $C_\text{out}\gg K^2$ (MobileNet,
# Xception). A common slip is to forget that `weight` has $C_\text{in}/G$ input channels, not
# $C_\text{in}$.
# :::

# %%
channels = 64
standard = nn.Conv2d(channels, channels, 3, padding=1)
separable = nn.Sequential(
    nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.Conv2d(channels, channels, 1)
)
n_standard, n_separable = count_parameters(standard), count_parameters(separable)
check_equal(
    "depthwise-separable parameters: C(K²+1) + C(C+1)", n_separable, channels * 10 + channels * 65
)
print(
    f"3×3, 64 → 64 channels: standard {n_standard:,} parameters, depthwise-separable "
    f"{n_separable:,} ({n_standard / n_separable:.1f}× fewer)"
)

# %% [markdown]
# :::{dropdown} "A 1×1 convolution does nothing spatial, so why use it?"
# It is a linear layer applied to the channel vector of every pixel, with shared weights:
# $y[:,i,j]=Wx[:,i,j]+b$. It mixes channels cheaply (bottlenecks in ResNet and Inception,
# the pointwise half of depthwise-separable convolutions, and the position-wise feed-forward
# layer of a Transformer on image patches). Its RF growth is zero. The cell checks it against
# `nn.Linear` applied to the channels-last tensor.
# :::

# %%
pointwise = nn.Conv2d(6, 4, kernel_size=1)
linear = nn.Linear(6, 4)
with torch.no_grad():
    linear.weight.copy_(pointwise.weight[:, :, 0, 0])
    linear.bias.copy_(pointwise.bias)
x = torch.randn(2, 6, 5, 7)  # (B, C, H, W)
per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (B, H, W, C) → Linear → back
check_close(
    "1×1 conv = nn.Linear on every pixel's channel vector", pointwise(x), per_pixel, atol=1e-12
)

# %% [markdown]
# :::{dropdown} Convolution or cross-correlation: does the name matter?
# For learned kernels, no: a network that needs the flipped kernel learns it. It matters when
# a fixed kernel is ported between libraries. `scipy.signal.convolve2d`, `np.convolve` and
# textbook signal processing flip the kernel; `F.conv2d`, TensorFlow's `conv2d` and
# `scipy.signal.correlate2d` do not. An antisymmetric kernel such as Sobel changes sign
# (Experiment 1). The gradient of a cross-correlation with respect to its input is a true
# convolution with the same kernel, which is where the flip shows up in backprop derivations.
# :::
#
# :::{dropdown} Does max pooling count in the receptive field the same way?
# For the RF, yes: a $K\times K$ max pool with stride $S$ enters {eq}`conv-rf` like a
# convolution. Its gradient, though, flows only to the maximum of each window. An autograd
# measurement through max pooling finds a *sparse* subset of the RF, which depends on the
# input, so the autograd checks above use average pooling.
# :::
#
# :::{dropdown} "By the final layers, neurons see almost the entire image." True?
# Their *theoretical* RF may cover the image. The pixels that matter form a roughly Gaussian
# blob whose width grows like $\sqrt L$ (Experiment 4), so most of that RF contributes little
# {cite}`luo2016understanding`. Global context usually comes from downsampling, global
# pooling or attention, not from a nominally large RF.
# :::
#
# :::{dropdown} Is a convolution translation invariant?
# No, it is translation *equivariant*: shifting the input shifts the output (with stride 1,
# away from the borders). Invariance comes only from pooling, and stride breaks even
# equivariance. [Chapter 08](08_conv_vs_fully_connected.ipynb) shows both numerically and
# compares a CNN with a fully connected net at equal parameter budget.
# :::
#
# :::{dropdown} Why is im2col used if it wastes memory?
# It turns the convolution into a single GEMM, the most heavily optimised routine on every
# processor {cite}`chellapilla2006high`. The patch matrix is $K^2$ times the input for stride
# 1 (9× for 3×3, checked in Experiment 2). Libraries avoid materialising it all at once (tiled
# or implicit GEMM in cuDNN) or use other algorithms: direct convolution, FFT for large
# kernels, Winograd for 3×3. The framework picks per layer shape.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. The ResNet stem: a 7×7 convolution with stride 2 and padding 3, then a 3×3 max pool with
#    stride 2 and padding 1, then a 3×3 convolution with stride 1 and padding 1. For a 224×224
#    input, what are the output size, the jump and the receptive field?
#
#    :::{dropdown} Answer
#    Sizes: $\lfloor(224+6-6-1)/2\rfloor+1=112$, then $\lfloor(112+2-2-1)/2\rfloor+1=56$, then
#    56. Jumps: 1, 2, 4, 4. RF: $1+6\cdot1=7$, $7+2\cdot2=11$, $11+2\cdot4=19$. The notes'
#    formula would give $1+12+4+2=19$ too, by coincidence here; on the errata's example it
#    does not. The next cell checks the sizes with torch's layers, and the RF with autograd
#    (average pooling in place of max pooling, as explained in the pitfalls).
#    :::

# %%
stem_layers = [
    LayerSpec("conv", 7, 2, 3),
    LayerSpec("avgpool", 3, 2, 1),
    LayerSpec("conv", 3, 1, 1),
]
stem_net = nn.Sequential(
    nn.Conv2d(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, 1), nn.Conv2d(64, 64, 3, 1, 1)
)
size = 224
for layer in stem_layers:
    size = conv_output_size(size, layer.kernel_size, layer.stride, layer.padding, layer.dilation)
check_equal(
    "ResNet stem output size: formula vs torch",
    size,
    stem_net(torch.zeros(1, 3, 224, 224)).shape[-1],
)
stem_rf, stem_jump, _ = receptive_field(stem_layers)
kernels = [torch.rand(1, 1, layer.kernel_size, layer.kernel_size) + 0.5 for layer in stem_layers]
lo, hi = support_interval(centre_gradient(stem_layers, 64, kernels)[0])
check_equal("ResNet stem: (output size, jump, RF)", (size, stem_jump, stem_rf), (56, 4, 19))
check_equal("ResNet stem: RF by autograd", hi - lo + 1, stem_rf)
check_equal(
    "ResNet stem: the notes' formula happens to agree here", receptive_field_notes(stem_layers), 19
)

# %% [markdown]
# 2. Three 3×3 convolutions with stride 1 and dilations 1, 2 and 4 (padding equal to the
#    dilation) on a 64×64 input. What are the RF and the output size? Compare with three 3×3
#    stride-2 convolutions.
#
#    :::{dropdown} Answer
#    RF $1+2\cdot1+2\cdot2+2\cdot4=15$, the same as the strided stack, but the output stays
#    64×64 instead of 8×8, and the layers have the same parameters. Doubling dilations grow
#    the RF exponentially with depth at full resolution, which is the design of WaveNet's and
#    DeepLab's context modules. They also cover the RF without holes, unlike equal dilations
#    (see the pitfalls).
#    :::

# %%
dilated = [LayerSpec("conv", 3, 1, d, d) for d in (1, 2, 4)]
dilated_gradient, _ = centre_gradient(dilated, 64, [torch.ones(1, 1, 3, 3)] * 3)
lo, hi = support_interval(dilated_gradient)
dilated_out = run_stack(dilated, torch.zeros(1, 1, 64, 64), [torch.ones(1, 1, 3, 3)] * 3).shape[-1]
check_equal(
    "dilations 1, 2, 4: (RF by formula, RF by autograd, output size)",
    (receptive_field(dilated)[0], hi - lo + 1, dilated_out),
    (15, 15, 64),
)
check_true(
    "… and no holes inside the 15×15 RF",
    bool((dilated_gradient[lo : hi + 1, lo : hi + 1] > 0).all()),
)

# %% [markdown]
# 3. VGG replaced a 5×5 convolution by two 3×3 ones. With 64 channels in and out, compare
#    the receptive fields and the parameter counts.
#
#    :::{dropdown} Answer
#    Both see 5×5 ($1+2+2=5$). Two 3×3 layers have $2\cdot64(64\cdot9+1)=73{,}856$
#    parameters, one 5×5 layer $64(64\cdot25+1)=102{,}464$: 28 % fewer, with an extra
#    nonlinearity in between. Three 3×3 layers against one 7×7 save 45 %.
#    :::

# %%
two_small = nn.Sequential(nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3))
one_large = nn.Conv2d(64, 64, 5)
check_equal(
    "parameters: two 3×3 vs one 5×5 (64 channels)",
    (count_parameters(two_small), count_parameters(one_large)),
    (73_856, 102_464),
)
check_equal(
    "RF: two 3×3 vs one 5×5",
    receptive_field([LayerSpec("conv", 3)] * 2)[0],
    receptive_field([LayerSpec("conv", 5)])[0],
)
for n_small, k_large in [(2, 5), (3, 7)]:
    small = n_small * conv_parameter_count(64, 64, 3)
    large = conv_parameter_count(64, 64, k_large)
    print(
        f"{n_small} × 3×3: {small:,} parameters, one {k_large}×{k_large}: {large:,}, "
        f"{1 - small / large:.0%} fewer"
    )

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`dumoulin2016guide`: the output-size relations for padding, stride and dilation
#   (Chapters 2 and 5) and transposed convolution as the transpose of the convolution matrix
#   (Chapter 4).
# - {cite:t}`araujo2019computing`: the receptive-field recursion with the jump (product of
#   earlier strides) and the closed form {eq}`conv-rf-closed`.
# - {cite:t}`luo2016understanding`: the effective receptive field; its Gaussian shape and
#   $\sqrt L$ growth for uniform and random weights, and its growth during training.
# - {cite:t}`chellapilla2006high`: unfolding convolutions into a matrix product (im2col).
# - {cite:t}`lecun1998gradient`: convolutional networks with shared weights and subsampling
#   (LeNet-5, Section II).
# - {cite:t}`pytorch2025conv2d`: the semantics of `nn.Conv2d` (cross-correlation, `groups`,
#   `padding="same"`, the output-size formula, the default initialisation).

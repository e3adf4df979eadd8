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
# # 08. Why convolutions rather than fully connected layers for images
#
# **The question.** Why do we use convolutions for images rather than just fully connected (FC)
# layers? (The notes' third reason, "translation invariance", should read translation
# *equivariance*; see below.)
#
# **What you will be able to answer.** Count the parameters of both layers; name the two
# mechanisms (local connectivity and weight sharing) and show that an FC layer *can* compute a
# convolution exactly but has to learn every position separately; state what equivariance and
# invariance mean, where each holds (stride 1, global pooling) and where it breaks (borders,
# stride); and say what a CNN gains over an MLP with the same number of parameters, and when
# that gain disappears.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import PowerNorm
from matplotlib.patches import Rectangle
from sklearn.datasets import load_digits, load_sample_image
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
EXACT = torch.float64  # the exact checks run in float64 (atol 1e-12); training runs in float32

# %% [markdown]
# ## Short answer
#
# - **Parameters.** An FC layer connects every input to every output: from a 224×224×3 image
#   to 1000 units that is $150{,}528\cdot1000+1000=150{,}529{,}000$ parameters, and the number
#   grows with the image. A 3×3 convolution from 64 to 128 channels has
#   $128\,(64\cdot9+1)=73{,}856$, whatever the image size.
# - **Two mechanisms.** *Local connectivity*: each output depends on a $K\times K$ patch only.
#   *Weight sharing*: the same kernel is used at every position. A convolution *is* an FC layer
#   whose weight matrix is mostly zeros, and whose non-zero entries are copies of a few kernel
#   weights (a doubly block Toeplitz matrix). So an FC layer can represent any convolution, but
#   nothing makes it find one: it must learn the same detector at every position separately,
#   from examples at every position. That is the inductive bias of a CNN: a local pattern
#   means the same thing wherever it appears.
# - **Equivariance, not invariance.** The notes call this "translation invariance". A
#   convolution is translation **equivariant**: shifting the input shifts the feature map,
#   $\mathrm{conv}(T_\delta x)=T_\delta\,\mathrm{conv}(x)$. This holds exactly for stride 1 with
#   circular padding, and away from the borders with zero padding. **Invariance**,
#   $g(T_\delta x)=g(x)$, comes only from pooling, exactly from *global* pooling on top of
#   equivariant layers. Strides and pooling layers break even the equivariance: a stride-2
#   layer is equivariant only to even shifts. Real CNNs are therefore *not* invariant to
#   1-pixel shifts {cite}`azulay2019why`; low-pass filtering before subsampling (blur pooling)
#   repairs much of it {cite}`zhang2019making`.
# - **Other consequences.** A fully convolutional net (convolutions plus global pooling) accepts
#   any input size. "FC layers lose spatial relationships" is better put as: an FC layer is
#   blind to pixel order. Permute the pixels of every image the same way and it learns exactly
#   as well, whereas a CNN assumes that neighbouring pixels belong together.
# - **Measured here.** With equal parameter budgets (5,130 vs 5,110), a small CNN and an MLP
#   are both accurate on centred 8×8 digits. On digits shifted by 1 pixel the CNN keeps much
#   more of its accuracy, and on digits placed at random positions it needs several times
#   fewer examples. The bias pays off where the data vary in position, and with little data.
#   At very large scale, weaker biases (vision transformers) catch up and win
#   {cite}`dosovitskiy2021image`.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | PyTorch |
# |---|---|---|
# | $x$, of shape $C_\text{in}\times H\times W$ | an image | `x`, (B, C_in, H, W) |
# | $w$, of shape $C_\text{out}\times C_\text{in}\times K\times K$ | kernel | `conv.weight` |
# | $b$, of length $C_\text{out}$ | bias | `conv.bias` |
# | $S$, $P$ | stride, padding on each side | `stride`, `padding` |
# | $O_h, O_w$ | output height and width, $O=\lfloor(H+2P-K)/S\rfloor+1$ | |
# | $T_\delta$ | shift by $\delta=(\delta_1,\delta_2)$ pixels, {eq}`cfc-shift` | `torch.roll` |
# | $n_\text{in}, n_\text{out}$ | input and output sizes of an FC layer | `nn.Linear` |
#
# How a convolution computes its output, and the output-size formula, are the subject of
# [chapter 07](07_convolution.ipynb); here the layer is `F.conv2d` / `nn.Conv2d`.
#
# ### Parameter counts
#
# An FC layer $y=Vz+c$ from $n_\text{in}$ inputs to $n_\text{out}$ outputs has a weight per
# pair and a bias per output. A convolution has one $C_\text{in}\times K\times K$ kernel and one
# bias per output channel:
#
# $$
# \#\text{FC}=n_\text{out}\,(n_\text{in}+1),\qquad
# \#\text{conv}=C_\text{out}\,(C_\text{in}K^2+1)
# $$ (cfc-params)
#
# For a 224×224×3 image and 1000 outputs, $n_\text{in}=150{,}528$ and
# $\#\text{FC}=150{,}529{,}000$. For a 3×3 convolution from 64 to 128 channels,
# $\#\text{conv}=128\cdot577=73{,}856$. Only the FC count contains $H$ and $W$.
#
# ### A convolution is an FC layer with a constrained matrix
#
# The convolution is linear in $x$, so flattening $x$ to a vector of length $C_\text{in}HW$
# and $y$ to one of length $C_\text{out}O_hO_w$ turns it into a matrix product
# $\operatorname{vec}(y)=M\operatorname{vec}(x)+b\otimes\mathbf 1$. Output $(o,i,j)$ reads input
# pixel $(c,u,v)$ through kernel entry $(m,n)=(u-Si+P,\;v-Sj+P)$, if that entry exists:
#
# $$
# M\big[(o,i,j),(c,u,v)\big]=\begin{cases}
# w[o,c,\,u-Si+P,\,v-Sj+P] & \text{if } 0\le u-Si+P<K \text{ and } 0\le v-Sj+P<K,\\
# 0 & \text{otherwise.}\end{cases}
# $$ (cfc-dense)
#
# With circular padding the input indices wrap around, and the kernel row is
# $m=(u-Si+P)\bmod H$ (likewise for $n$). The two mechanisms can be read off {eq}`cfc-dense`:
#
# - **Local connectivity**: a row of $M$ has at most $C_\text{in}K^2$ non-zero entries out of
#   $C_\text{in}HW$.
# - **Weight sharing**: the entry depends on $(i,j)$ and $(u,v)$ only through the offset
#   $(u-Si,\,v-Sj)$. Every block row repeats the same kernel, moved by $S$ pixels. For one
#   channel and stride 1, $M$ is *doubly block Toeplitz* (constant along diagonals, in blocks
#   that are themselves constant along diagonals), or doubly block *circulant* with circular
#   padding.
#
# An FC layer holds a free matrix of the same shape. It can therefore compute any
# convolution exactly, by setting $V=M$ (checked below), but it has $C_\text{out}O_hO_w\cdot
# C_\text{in}HW$ numbers to learn instead of $C_\text{out}C_\text{in}K^2$. Tying weights also
# changes the gradient. If the loss $\mathcal L$ depends on $w$ only through $M$, the chain rule
# sums the gradients of all copies of a kernel weight:
#
# $$
# \frac{\partial\mathcal L}{\partial w[o,c,m,n]}=
# \sum_{\substack{(i,j,u,v):\ M[(o,i,j),(c,u,v)]\\ \text{is a copy of } w[o,c,m,n]}}
# \frac{\partial\mathcal L}{\partial M[(o,i,j),(c,u,v)]}
# $$ (cfc-tied-grad)
#
# A kernel weight learns from every position at once. In an FC layer each copy learns only
# from the examples in which its own position is informative.
#
# The converse holds too. An FC layer on a $C\times H\times W$ map is a convolution with an
# $H\times W$ kernel and no padding: the kernel covers the whole input, and the output is
# $1\times1$. Run that convolution on a larger input and it slides the old FC layer over it,
# which is how fully convolutional networks turn a classifier into a dense predictor
# {cite}`long2015fully`. A network of convolutions and global pooling has no layer whose size
# depends on $H,W$, so it accepts any input size.
#
# ### Shifts: equivariance and invariance
#
# Let $T_\delta$ shift an image circularly by $\delta=(\delta_1,\delta_2)$ pixels (down and to
# the right), which is what `torch.roll(x, δ, dims=(-2, -1))` does:
#
# $$
# (T_\delta x)[c,u,v]=x\big[c,\,(u-\delta_1)\bmod H,\,(v-\delta_2)\bmod W\big]
# $$ (cfc-shift)
#
# A map $f$ is **equivariant** to shifts if shifting its input shifts its output, and
# **invariant** if shifting its input changes nothing:
#
# $$
# f(T_\delta x)=T_\delta f(x)\quad\text{(equivariant)},\qquad
# g(T_\delta x)=g(x)\quad\text{(invariant)}
# $$ (cfc-equivariance)
#
# A stride-1 convolution with circular padding is equivariant. Write it as
# $y[o,i,j]=b[o]+\sum_{c,m,n}w[o,c,m,n]\,x[c,(i+m-P)\bmod H,(j+n-P)\bmod W]$ and put $T_\delta x$
# in place of $x$:
#
# $$
# \mathrm{conv}(T_\delta x)[o,i,j]=b[o]+\sum_{c,m,n}w[o,c,m,n]\,
# x[c,\,(i-\delta_1+m-P)\bmod H,\,\dots]=y[o,\,(i-\delta_1)\bmod H,\,(j-\delta_2)\bmod W]
# =(T_\delta y)[o,i,j]
# $$ (cfc-conv-equivariant)
#
# A pointwise nonlinearity commutes with any permutation of positions, and so with $T_\delta$.
# A composition of equivariant maps is equivariant, so a whole stack of stride-1 convolutions
# and ReLUs is equivariant. Note that $\mathrm{conv}(T_\delta x)\ne\mathrm{conv}(x)$: the
# feature map moves with the input. That is the point. The detector's response moves with the
# object, and later layers find it wherever it is.
#
# With *zero* padding, the shifted image has new content entering at one border and content
# leaving at the other. Output $(i,j)$ still matches as long as its receptive field avoids the
# padding in both images. After $L$ layers of $3\times3$ convolutions with $P=1$, the mismatch
# is a frame $L$ pixels wide around the region the two images share (Experiment 2).
#
# **Invariance from global pooling.** Global average pooling,
# $\mathrm{GAP}(y)[o]=\frac1{HW}\sum_{i,j}y[o,i,j]$, sums over all positions, and $T_\delta$ only
# reorders them. So $\mathrm{GAP}(T_\delta y)=\mathrm{GAP}(y)$, and with {eq}`cfc-equivariance`
#
# $$
# \mathrm{GAP}\big(f(T_\delta x)\big)=\mathrm{GAP}\big(T_\delta f(x)\big)=\mathrm{GAP}\big(f(x)\big)
# $$ (cfc-gap)
#
# Equivariant layers followed by global pooling give an invariant network. The invariance is
# made by the pooling, not by the convolutions. Global *max* pooling, the maximum over
# positions, is invariant for the same reason: reordering the positions does not change the
# maximum. The digit CNN of Experiment 4 uses it.
#
# ### Stride breaks equivariance
#
# A stride-$S$ convolution is a stride-1 convolution followed by keeping every $S$-th output,
# $\mathrm{conv}_S(x)[i]=\mathrm{conv}_1(x)[Si]$ (per axis, same padding). Shift the input by
# $\delta$ and use {eq}`cfc-conv-equivariant`:
#
# $$
# \mathrm{conv}_S(T_\delta x)[i]=\mathrm{conv}_1(x)[Si-\delta]
# \;\overset{\text{if } \delta=S\delta'}{=}\;\mathrm{conv}_1(x)[S(i-\delta')]
# =\mathrm{conv}_S(x)[i-\delta']
# $$ (cfc-stride)
#
# When $S$ divides $\delta$, the output shifts by $\delta/S$. Otherwise the layer samples
# $\mathrm{conv}_1(x)$ on a *different grid* ($Si-\delta$ instead of $Si$), and the two grids
# share no sample. No shift of $\mathrm{conv}_S(x)$ equals $\mathrm{conv}_S(T_\delta x)$, except
# by accident. A network with strides $S_1,\dots,S_L$ is equivariant only to multiples of
# $\prod_l S_l$: 32 pixels for a typical ImageNet CNN. Max pooling with stride 2 is a
# subsampling too, and fails in the same way. Global pooling after subsampling is therefore
# only approximately invariant: the average over one sampling grid is not the average over
# another.
#
# How far apart the two grids' samples are depends on how much the feature map changes
# between neighbouring pixels. Subsampling a signal with content above the coarse grid's
# Nyquist frequency *aliases*: the discarded samples are not predictable from the kept ones.
# {cite:t}`zhang2019making` low-pass filters before subsampling. The subsampling step becomes
# a *blur pool*: a depthwise convolution with a fixed binomial filter, then keeping every
# $S$-th sample:
#
# $$
# \mathrm{BlurPool}_S(y)=\mathrm{subsample}_S\big(a\ast y\big),\qquad
# a=\frac{\beta\beta^\top}{(\mathbf 1^\top\beta)^2},\quad
# \beta\in\{(1,1),\,(1,2,1),\,(1,3,3,1),\,(1,4,6,4,1)\}
# $$ (cfc-blurpool)
#
# A strided convolution becomes conv (stride 1) → ReLU → blur pool, and a max pool becomes max
# (stride 1) → blur pool. The filter $(1,1)$ gives average pooling. Each of these $\beta$
# sums to zero with alternating signs ($1-2+1=0$, since $(1-1)^n=0$), so $a$ removes the
# highest frequency, where the two sampling grids differ most. The shifted and unshifted
# outputs become close, though still not equal (Experiment 3).
#
# The alternating sum has one exact consequence. It says that the even-indexed taps of
# $\beta$ sum to the same as the odd-indexed ones. So every input pixel gives exactly a
# quarter of its weight to the kept samples, whichever of the four sampling grids is kept
# ($S=2$, circular padding, even sizes). The mean of a blur-pooled map therefore equals the
# mean of its input. Global average pooling right after a blur pool does not notice the
# subsampling at all. In a blur-pooled network, only the subsamplings that are followed by
# further nonlinear layers still break the invariance.

# %% [markdown]
# ## Implementation from scratch
#
# ### The dense matrix of a convolution
#
# {eq}`cfc-dense` as index arithmetic. For every entry of $M$, `conv_tap_index` computes the
# flat index of the kernel weight it copies, or `n_taps` (one past the last weight) where the
# entry is zero. Gathering from the kernel, with a zero appended, then builds $M$. A gather is
# differentiable, so autograd through `conv_as_dense_matrix` sums the gradients of the copies
# as {eq}`cfc-tied-grad` says.


# %%
def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output length along one axis, O = ⌊(size + 2P − K)/S⌋ + 1 (chapter 07)."""
    return (size + 2 * padding - kernel_size) // stride + 1


def conv_tap_index(
    weight_shape: tuple[int, int, int, int],
    input_size: tuple[int, int],
    stride: int = 1,
    padding: int = 0,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """For each entry of the dense matrix, eq. (cfc-dense), the flat index of the kernel weight
    it copies, or C_out·C_in·K·K where the entry is zero. Shape (C_out·O_h·O_w, C_in·H·W)."""
    c_out, c_in, k_h, k_w = weight_shape
    height, width = input_size
    if padding_mode not in ("zeros", "circular"):
        raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
    if padding_mode == "circular" and (k_h > height or k_w > width):
        raise ValueError("circular padding needs a kernel no larger than the image")

    def kernel_offset(size: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel row m = u − S·i + P linking output i to input u along one axis, and validity."""
        out = torch.arange(conv_output_size(size, k, stride, padding))[:, None]  # (O, 1)
        offset = torch.arange(size)[None, :] - stride * out + padding  # (O, size)
        if padding_mode == "circular":
            offset = offset % size  # input indices wrap around
        return offset, (offset >= 0) & (offset < k)

    m, valid_m = kernel_offset(height, k_h)  # (O_h, H)
    n, valid_n = kernel_offset(width, k_w)  # (O_w, W)
    o = torch.arange(c_out).view(-1, 1, 1, 1, 1, 1)
    c = torch.arange(c_in).view(1, 1, 1, -1, 1, 1)
    m, valid_m = m.view(1, -1, 1, 1, height, 1), valid_m.view(1, -1, 1, 1, height, 1)
    n, valid_n = n.view(1, 1, -1, 1, 1, width), valid_n.view(1, 1, -1, 1, 1, width)
    flat = ((o * c_in + c) * k_h + m) * k_w + n  # (C_out, O_h, O_w, C_in, H, W)
    n_taps = c_out * c_in * k_h * k_w
    flat = torch.where(valid_m & valid_n, flat, n_taps)  # point at the appended zero
    return flat.reshape(c_out * flat.shape[1] * flat.shape[2], c_in * height * width)


def conv_as_dense_matrix(
    weight: torch.Tensor,
    input_size: tuple[int, int],
    stride: int = 1,
    padding: int = 0,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """The matrix M of eq. (cfc-dense), differentiable in `weight`: (C_out·O_h·O_w, C_in·H·W)."""
    tap = conv_tap_index(tuple(weight.shape), input_size, stride, padding, padding_mode)
    taps = torch.cat([weight.reshape(-1), weight.new_zeros(1)])  # (C_out·C_in·K·K + 1,)
    return taps[tap]


# %% [markdown]
# `linear_from_conv` builds the FC layer that computes a given `nn.Conv2d` on a fixed input
# size: weight $M$, and each output channel's bias repeated at its $O_hO_w$ positions.


# %%
def linear_from_conv(conv: nn.Conv2d, input_size: tuple[int, int]) -> nn.Linear:
    """An nn.Linear equal to `conv` on inputs of size `input_size`, eq. (cfc-dense).

    Covers square kernels, equal stride and padding on both axes, no dilation, no groups.
    """
    if (
        len(set(conv.stride)) != 1
        or isinstance(conv.padding, str)
        or len(set(conv.padding)) != 1
        or conv.dilation != (1, 1)
        or conv.groups != 1
    ):
        raise ValueError("only equal stride/padding per axis, dilation 1 and groups 1")
    (stride, _), (padding, _) = conv.stride, conv.padding
    with torch.no_grad():
        dense = conv_as_dense_matrix(
            conv.weight, input_size, stride, padding, conv.padding_mode
        )  # (C_out·O_h·O_w, C_in·H·W)
        n_positions = dense.shape[0] // conv.out_channels  # O_h·O_w
        fc = nn.Linear(dense.shape[1], dense.shape[0], dtype=dense.dtype)
        fc.weight.copy_(dense)
        fc.bias.copy_(conv.bias.repeat_interleave(n_positions))  # b ⊗ 1
    return fc


# %% [markdown]
# ### Shifts and the best matching roll
#
# `translate` moves images and fills the uncovered border with zeros, which is what happens
# to a digit on a blank background. `torch.roll` is the circular shift $T_\delta$ of
# {eq}`cfc-shift`. To test whether *some* shift of the output matches, `roll_errors` computes
# $\lVert a-T_r b\rVert/\lVert b\rVert$ for every roll $r$ at once. Expanding the square gives
# $\lVert a\rVert^2+\lVert b\rVert^2-2\langle a,T_rb\rangle$. The inner products for all $r$
# form a circular cross-correlation, which the FFT computes in one go:
# $\operatorname{IFFT}\big(\hat a\,\overline{\hat b}\big)[r]=\sum_p a[p]\,b[p-r]=\langle a,
# T_rb\rangle$.


# %%
def translate(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Move images (..., H, W) by dy pixels down and dx right, filling with zeros."""
    height, width = images.shape[-2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top : top + height, left : left + width]


def roll_errors(moved: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """‖moved − T_r reference‖ / ‖reference‖ for every roll r of the last two axes: (H, W).

    Entry [r_h, r_w] is for torch.roll(reference, (r_h, r_w), dims=(-2, -1)); the leading axes
    (channels) are summed in the norm.
    """
    size = moved.shape[-2:]
    cross = torch.fft.irfft2(
        torch.fft.rfft2(moved) * torch.fft.rfft2(reference).conj(), s=size
    )  # (..., H, W): ⟨moved, T_r reference⟩ per channel
    inner = cross.reshape(-1, *size).sum(0)  # (H, W)
    squared = moved.pow(2).sum() + reference.pow(2).sum() - 2 * inner
    return squared.clamp_min(0).sqrt() / reference.norm()


def best_roll_error(moved: torch.Tensor, reference: torch.Tensor) -> float:
    """min over rolls r of ‖moved − T_r reference‖ / ‖reference‖.

    The FFT finds the best roll; the error there is recomputed directly, because the expanded
    square loses the digits of a near-zero error to cancellation.
    """
    errors = roll_errors(moved, reference)  # (H, W)
    r_h, r_w = divmod(int(errors.argmin()), errors.shape[1])
    rolled = torch.roll(reference, (r_h, r_w), dims=(-2, -1))
    return ((moved - rolled).norm() / reference.norm()).item()


# %% [markdown]
# ### Blur pooling
#
# {eq}`cfc-blurpool` as a module: the binomial filter is a row of Pascal's triangle, the outer
# product makes it 2-D, and a depthwise convolution (`groups=channels`) applies it to each
# channel separately before keeping every `stride`-th sample. Even-sized filters are padded
# one more pixel on the bottom/right than the top/left, as in Zhang's implementation.


# %%
class BlurPool2d(nn.Module):
    """Anti-aliased subsampling, eq. (cfc-blurpool): binomial blur, then stride."""

    def __init__(
        self, channels: int, filter_size: int = 3, stride: int = 2, padding_mode: str = "circular"
    ) -> None:
        super().__init__()
        self.channels, self.stride, self.padding_mode = channels, stride, padding_mode
        self.pad = ((filter_size - 1) // 2, filter_size // 2) * 2  # (left, right, top, bottom)
        beta = torch.tensor([math.comb(filter_size - 1, k) for k in range(filter_size)])
        kernel = torch.outer(beta, beta) / beta.sum() ** 2  # (k, k), sums to 1
        self.register_buffer("kernel", kernel.expand(channels, 1, -1, -1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) → (B, C, H/S, W/S)
        padded = F.pad(x, self.pad, mode=self.padding_mode)
        kernel = self.kernel.to(x.dtype)
        return F.conv2d(padded, kernel, stride=self.stride, groups=self.channels)


# %% [markdown]
# ### Two digit classifiers with the same budget
#
# The CNN has two 3×3 convolutions (16 and 32 channels), a 2×2 max pool between them, global
# max pooling and a linear read-out. None of its layers depends on the image size. Global max
# pooling asks "does this pattern occur anywhere?", which suits the strokes of a digit;
# global average pooling dilutes them with the empty background (swap in
# `nn.AdaptiveAvgPool2d(1)` to compare). The MLP has one hidden layer whose width is chosen
# so that its parameter count, from {eq}`cfc-params`, comes closest to the CNN's.


# %%
def make_cnn() -> nn.Sequential:
    """Conv(1→16) → ReLU → MaxPool 2 → Conv(16→32) → ReLU → global max pool → Linear."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d(1),  # invariant like eq. (cfc-gap); any size gives (B, 32, 1, 1)
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def make_mlp(n_pixels: int, budget: int, n_classes: int = 10) -> nn.Sequential:
    """n_pixels → h → n_classes, with h chosen so the parameter count is closest to `budget`."""
    # eq. (cfc-params) for both layers: h(n_pixels + 1) + n_classes(h + 1)
    hidden = round((budget - n_classes) / (n_pixels + 1 + n_classes))
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(n_pixels, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_classes),
    )


# %% [markdown]
# ## Verification
#
# ### The FC layer with the dense matrix equals the convolution, forward and backward
#
# For several layers (stride 1 and 2, zero and circular padding, several channels), in
# float64: the FC layer from `linear_from_conv` must give the convolution's output, the same
# input gradient, and a weight gradient that, summed over the copies of each kernel weight
# ({eq}`cfc-tied-grad`), equals the convolution's kernel gradient. The bias gradient is
# likewise summed over positions.

# %%
dense_cases = [  # (C_in, C_out, K, stride, padding, padding_mode, (H, W))
    (1, 1, 3, 1, 1, "zeros", (6, 6)),
    (2, 3, 3, 1, 1, "circular", (5, 7)),
    (3, 4, 3, 2, 1, "zeros", (8, 9)),
    (2, 2, 5, 2, 2, "circular", (8, 8)),
    (2, 3, 2, 1, 0, "zeros", (5, 6)),
]
for c_in, c_out, k, stride, padding, mode, size in dense_cases:
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, padding_mode=mode, dtype=EXACT)
    fc = linear_from_conv(conv, size)
    x = torch.randn(4, c_in, *size, dtype=EXACT, requires_grad=True)  # (B, C_in, H, W)
    x_fc = x.detach().clone().requires_grad_(True)
    y_conv = conv(x)  # (B, C_out, O_h, O_w)
    y_fc = fc(x_fc.flatten(1)).view_as(y_conv)  # vec(y) = M vec(x) + b ⊗ 1
    upstream = torch.randn_like(y_conv)  # a random ∂L/∂y
    (y_conv * upstream).sum().backward()
    (y_fc * upstream).sum().backward()
    tap = conv_tap_index(tuple(conv.weight.shape), size, stride, padding, mode)
    n_taps = conv.weight.numel()
    tied_grad = torch.zeros(n_taps + 1, dtype=EXACT).index_add_(
        0, tap.flatten(), fc.weight.grad.flatten()
    )[:n_taps]  # eq. (cfc-tied-grad): sum over the copies of each kernel weight
    label = f"C {c_in}→{c_out}, K={k}, S={stride}, P={padding} {mode}, {size}"
    check_close(f"FC(M) vs conv, {label}", y_fc, y_conv, atol=1e-12)
    check_close("   ∂L/∂x", x_fc.grad, x.grad, atol=1e-12)
    check_close(
        "   Σ copies of ∂L/∂M vs ∂L/∂w",
        tied_grad.view_as(conv.weight),
        conv.weight.grad,
        atol=1e-12,
    )
    check_close(
        "   Σ positions of ∂L/∂(b⊗1) vs ∂L/∂b",
        fc.bias.grad.view(c_out, -1).sum(1),
        conv.bias.grad,
        atol=1e-12,
    )

# %% [markdown]
# The same through autograd: differentiating `conv_as_dense_matrix` itself with respect to the
# kernel gives the summed gradient without any explicit scatter, which `gradcheck` confirms
# against finite differences.

# %%
weight = torch.randn(2, 2, 3, 3, dtype=EXACT, requires_grad=True)
x_small = torch.randn(2, 2 * 5 * 5, dtype=EXACT)  # (B, C_in·H·W)
check_true(
    "gradcheck: x ↦ M(w) x is differentiable in w as eq. (cfc-tied-grad) says",
    torch.autograd.gradcheck(
        lambda w: x_small @ conv_as_dense_matrix(w, (5, 5), padding=1).T, (weight,)
    ),
    "finite differences vs autograd, float64",
)

# %% [markdown]
# ### An FC layer is a convolution whose kernel covers the image
#
# The converse direction: copy an `nn.Linear` on $C\times H\times W$ inputs into a convolution
# with an $H\times W$ kernel, and the outputs agree. Run on a larger image, the same
# convolution gives a *map* of outputs, one per placement of the window.

# %%
channels, height, width, n_out = 3, 5, 4, 6
fc = nn.Linear(channels * height * width, n_out, dtype=EXACT)
full_kernel = nn.Conv2d(channels, n_out, (height, width), dtype=EXACT)
with torch.no_grad():
    full_kernel.weight.copy_(fc.weight.view(n_out, channels, height, width))
    full_kernel.bias.copy_(fc.bias)
x = torch.randn(7, channels, height, width, dtype=EXACT)
check_close(
    "nn.Linear vs Conv2d with an H×W kernel",
    full_kernel(x).flatten(1),
    fc(x.flatten(1)),
    atol=1e-12,
)
larger = torch.randn(1, channels, height + 3, width + 5, dtype=EXACT)
print(
    f"the same layer on a {tuple(larger.shape[-2:])} input: "
    f"output {tuple(full_kernel(larger).shape)}"
)

# %% [markdown]
# ### The errata's checks: equivariance, invariance, stride, parameters
#
# A stride-1 convolution with circular padding and a random kernel, on a random 16×16 image,
# shifted by $\delta=(3,5)$, in float64.

# %%
conv_circ = nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular", dtype=EXACT)
x = torch.randn(1, 2, 16, 16, dtype=EXACT)  # (B, C, H, W)
delta = (3, 5)
shifted = torch.roll(x, delta, dims=(-2, -1))  # T_δ x, eq. (cfc-shift)
with torch.no_grad():
    conv_of_shifted, conv_of_x = conv_circ(shifted), conv_circ(x)
check_close(
    "circular padding: conv(roll(x)) == roll(conv(x)), eq. (cfc-conv-equivariant)",
    conv_of_shifted,
    torch.roll(conv_of_x, delta, dims=(-2, -1)),
    atol=1e-12,
)
moved_vs_unmoved = (conv_of_shifted - conv_of_x).abs().max().item()
check_true(
    "conv(roll(x)) == conv(x) is False: equivariant, not invariant",
    not torch.allclose(conv_of_shifted, conv_of_x),
    f"max |conv(roll(x)) − conv(x)| = {moved_vs_unmoved:.2f}",
)
check_close(
    "global mean after conv is shift-invariant, eq. (cfc-gap)",
    conv_of_shifted.mean((-2, -1)),
    conv_of_x.mean((-2, -1)),
    atol=1e-12,
)

# %% [markdown]
# A stride-2 convolution is a stride-1 convolution that keeps every second output, and a
# 1-pixel shift of its input is matched by *no* circular shift of its output: all
# $8\times8=64$ rolls are tried, by a loop and by `roll_errors`, which must agree.

# %%
conv_s2 = nn.Conv2d(2, 4, 3, stride=2, padding=1, padding_mode="circular", dtype=EXACT)
with torch.no_grad():
    conv_s1_of_x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), conv_s2.weight, conv_s2.bias)
    out_x, out_moved = conv_s2(x), conv_s2(torch.roll(x, 1, dims=-1))  # (1, 4, 8, 8)
    out_moved_2 = conv_s2(torch.roll(x, 2, dims=-1))
check_close(
    "stride-2 conv == stride-1 conv, every 2nd output",
    out_x,
    conv_s1_of_x[..., ::2, ::2],
    atol=1e-12,
)
loop_errors = torch.tensor(
    [
        [
            (out_moved - torch.roll(out_x, (r_h, r_w), (-2, -1))).norm() / out_x.norm()
            for r_w in range(8)
        ]
        for r_h in range(8)
    ]
)  # (8, 8)
check_close(
    "roll_errors (FFT) vs a loop over all rolls",
    roll_errors(out_moved, out_x),
    loop_errors,
    atol=1e-12,
)
any_roll_matches = any(
    torch.allclose(out_moved, torch.roll(out_x, (r_h, r_w), (-2, -1)), atol=1e-8)
    for r_h in range(8)
    for r_w in range(8)
)
check_true(
    "stride 2, shift by 1 px: no roll of the output matches",
    not any_roll_matches,
    f"smallest relative error over the 64 rolls {loop_errors.min():.2f}",
)
check_close(
    "stride 2, shift by 2 px: output rolled by 1 matches, eq. (cfc-stride)",
    out_moved_2,
    torch.roll(out_x, 1, dims=-1),
    atol=1e-12,
)

# %% [markdown]
# The parameter counts of {eq}`cfc-params`, on built modules. The big FC layer is built on the
# `meta` device, which records shapes without allocating its 0.6 GB of weights.

# %%
with torch.device("meta"):
    fc_imagenet = nn.Linear(224 * 224 * 3, 1000)
conv_64_128 = nn.Conv2d(64, 128, 3)
check_equal("FC 224×224×3 → 1000: parameters", count_parameters(fc_imagenet), 150_529_000)
check_equal("FC count = n_out(n_in + 1)", count_parameters(fc_imagenet), 1000 * (150_528 + 1))
check_equal("3×3 conv 64 → 128: parameters", count_parameters(conv_64_128), 73_856)
check_equal("conv count = C_out(C_in K² + 1)", count_parameters(conv_64_128), 128 * (64 * 9 + 1))

# %% [markdown]
# ### Blur pooling
#
# With the filter $(1,1)$, {eq}`cfc-blurpool` is a 2×2 average pool, which `F.avg_pool2d`
# computes independently. Every filter sums to 1, so a constant image stays constant.

# %%
x = torch.randn(2, 3, 8, 10, dtype=EXACT)
check_close(
    "BlurPool2d(filter 2) vs F.avg_pool2d(2)", BlurPool2d(3, 2)(x), F.avg_pool2d(x, 2), atol=1e-12
)
for filter_size in (3, 5):
    check_close(
        f"BlurPool2d(filter {filter_size}) keeps a constant image constant",
        BlurPool2d(3, filter_size)(torch.full_like(x, 2.5)),
        torch.full((2, 3, 4, 5), 2.5, dtype=EXACT),
        atol=1e-12,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. What the dense matrix of a convolution looks like
#
# One channel, a 6×6 image and a 3×3 kernel with padding 1: $M$ is $36\times36$. The figure
# colours each entry by the kernel weight it copies (grey: zero).

# %%
kernel_3x3 = torch.arange(1.0, 10.0, dtype=EXACT).view(1, 1, 3, 3)  # weights 1..9, to tell apart
dense_zeros = conv_as_dense_matrix(kernel_3x3, (6, 6), padding=1)  # (36, 36)
dense_circular = conv_as_dense_matrix(kernel_3x3, (6, 6), padding=1, padding_mode="circular")
n_entries = dense_zeros.numel()
n_nonzero_zeros = int((dense_zeros != 0).sum())
n_nonzero_circ = int((dense_circular != 0).sum())
n_distinct = len(set(dense_zeros[dense_zeros != 0].tolist()))
check_equal("circular: every row holds all 9 kernel weights", n_nonzero_circ, 36 * 9)
check_equal("zero padding: non-zeros = (Σ_i #valid rows)²", n_nonzero_zeros, (6 * 3 - 2) ** 2)
print(
    f"M has {n_entries:,} entries; {n_nonzero_zeros} non-zero with zero padding, "
    f"{n_nonzero_circ} with circular padding; {n_distinct} distinct values"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
cmap = plt.get_cmap("viridis", 9).with_extremes(bad="0.92")
for ax, dense, title in zip(
    axes,
    (dense_zeros, dense_circular),
    ("zero padding: doubly block Toeplitz", "circular padding: doubly block circulant"),
    strict=True,
):
    shown = np.ma.masked_equal(dense.numpy(), 0)
    image = ax.imshow(shown, cmap=cmap, vmin=0.5, vmax=9.5)
    for edge in range(6, 36, 6):  # block boundaries: one block per image row
        ax.axhline(edge - 0.5, color="k", lw=0.4)
        ax.axvline(edge - 0.5, color="k", lw=0.4)
    ax.set(title=title, xlabel="input pixel (row-major)", ylabel="output pixel (row-major)")
    ax.grid(False)
fig.colorbar(image, ax=axes, label="kernel weight copied (1..9)", ticks=range(1, 10))
fig.suptitle(
    f"A 3×3 conv is a {dense_zeros.shape[0]}×{dense_zeros.shape[1]} FC matrix with "
    f"{n_nonzero_zeros} non-zeros and only {n_distinct} distinct values"
)
plt.show()

# %% [markdown]
# Each 6×6 block links one row of the output to one row of the input. Only the three block
# diagonals are non-zero (local connectivity across rows), each block is banded (across
# columns), and the same three blocks repeat down the diagonals (weight sharing). Circular
# padding adds the corner blocks and corner entries, where the image wraps around. An FC layer
# on the same image would learn all 1,296 entries independently. For a realistic layer, 3
# to 64 channels on a 224×224 image, the cell below compares the sizes.

# %%
side, c_in, c_out = 224, 3, 64
dense_entries = (c_out * side * side) * (c_in * side * side)
conv_weights = count_parameters(nn.Conv2d(c_in, c_out, 3, padding=1))
print(
    f"Conv2d({c_in}, {c_out}, 3, padding=1) on {side}×{side}: {conv_weights:,} parameters; "
    f"its dense matrix has {dense_entries:.2e} entries ({dense_entries * 4 / 1e12:.1f} TB in "
    f"float32), {dense_entries / conv_weights:.1e} times more"
)

# %% [markdown]
# ### 2. Equivariance on a real image, and the frame zero padding leaves
#
# The grayscale `china.jpg` that scikit-learn ships, downsampled 4× by averaging. Two crops of
# the same size stand for two photographs: the second is taken with the camera moved, so its
# content appears $\delta=(8,12)$ pixels further down and to the right. New content enters
# at the top and left, and content leaves at the bottom and right. The feature extractor $f$
# is three random 3×3 convolutions with zero padding and ReLUs between them ($L=3$), in
# float64. The comparison is $f(T_\delta x)$ vs $T_\delta f(x)$ on the region both crops
# share.

# %%
rgb = load_sample_image("china.jpg").astype(np.float64) / 255  # (427, 640, 3)
gray = torch.from_numpy(rgb @ np.array([0.299, 0.587, 0.114]))  # (427, 640), luma
gray = F.avg_pool2d(gray[None, None], 4)[0, 0]  # (106, 160)
gray = gray[:104]  # (104, 160): both sides divisible by 4, for the stride experiments

torch.manual_seed(1)
n_layers = 3
feature_stack = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1, dtype=EXACT),
    nn.ReLU(),
    nn.Conv2d(4, 4, 3, padding=1, dtype=EXACT),
    nn.ReLU(),
    nn.Conv2d(4, 1, 3, padding=1, dtype=EXACT),
)
crop_h, crop_w, top, left = 72, 112, 20, 30
delta = (8, 12)
crop = gray[top : top + crop_h, left : left + crop_w]  # x
moved_crop = gray[
    top - delta[0] : top - delta[0] + crop_h, left - delta[1] : left - delta[1] + crop_w
]
check_close(
    "the moved crop is x shifted by δ (on the shared region)",
    moved_crop[delta[0] :, delta[1] :],
    crop[: crop_h - delta[0], : crop_w - delta[1]],
    atol=0.0,
)
with torch.no_grad():
    features = feature_stack(crop[None, None])[0, 0]  # f(x), (72, 112)
    features_moved = feature_stack(moved_crop[None, None])[0, 0]  # f(T_δ x)
shared_moved = features_moved[delta[0] :, delta[1] :]  # f(T_δ x) on the shared region
shared_shifted = features[: crop_h - delta[0], : crop_w - delta[1]]  # T_δ f(x) there
error_map = (shared_moved - shared_shifted).abs()  # (64, 100)

# %%
interior = error_map[n_layers:-n_layers, n_layers:-n_layers]
frame_edge = torch.cat(  # the innermost ring of the frame, L − 1 pixels from the edge
    [
        error_map[n_layers - 1, n_layers - 1 : -n_layers + 1],
        error_map[-n_layers, n_layers - 1 : -n_layers + 1],
        error_map[n_layers - 1 : -n_layers + 1, n_layers - 1],
        error_map[n_layers - 1 : -n_layers + 1, -n_layers],
    ]
)
check_close(
    f"f(T_δ x) == T_δ f(x) outside a frame of L = {n_layers} px",
    interior,
    torch.zeros_like(interior),
    atol=1e-12,
)
check_true(
    f"the mismatch reaches exactly L = {n_layers} px in",
    bool(frame_edge.max() > 1e-6),
    f"max error {error_map.max():.3f} in the frame, {frame_edge.max():.3f} on its innermost "
    f"ring, {interior.abs().max():.1e} inside; feature range {features.abs().max():.2f}",
)

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.0))
feature_range = dict(vmin=float(features.min()), vmax=float(features.max()))
panels = [
    (gray.numpy(), "the image; x (solid), $T_\\delta x$ (dashed)", "gray", {}),
    (shared_moved.numpy(), "$f(T_\\delta x)$, shared region", "viridis", feature_range),
    (shared_shifted.numpy(), "$T_\\delta f(x)$, shared region", "viridis", feature_range),
    (
        error_map.numpy(),
        "$|f(T_\\delta x)-T_\\delta f(x)|$ (power scale)",
        "magma",
        dict(norm=PowerNorm(gamma=0.3)),
    ),
]
for ax, (values, title, cmap_name, scale) in zip(axes, panels, strict=True):
    ax.imshow(values, cmap=cmap_name, **scale)
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
for (row, col), style in (((top, left), "-"), ((top - delta[0], left - delta[1]), "--")):
    axes[0].add_patch(
        Rectangle((col - 0.5, row - 0.5), crop_w, crop_h, fill=False, ec=PALETTE[1], ls=style)
    )
fig.suptitle(
    f"Shift then convolve = convolve then shift, except in a {n_layers}-pixel frame "
    f"({n_layers} layers × 1 px of zero padding)"
)
plt.show()

# %% [markdown]
# The last panel is black except for a thin frame: the convolutions are equivariant wherever
# the padding is not involved. The frame grows by $(K-1)/2$ pixels per layer. Deep networks
# with zero padding thus have a wide border band in which equivariance does not hold, and
# the padding tells the network where the border is (see Pitfalls).
#
# ### 3. Stride breaks equivariance; blur pooling repairs most of it
#
# The same image (104×160), now with *circular* padding so that the borders play no part.
# A random 3×3 convolution to 8 channels is followed by one of four ways of halving the
# resolution: the convolution itself with stride 2 (then ReLU); ReLU then a 2×2 max pool;
# ReLU then a blur pool with the filter $(1,2,1)$ or $(1,4,6,4,1)$ ({eq}`cfc-blurpool`). The
# input is shifted right by $\delta=0,1,2,3$ pixels. For each shift, `best_roll_error` finds
# the best-matching roll of the unshifted output. Its relative error is the equivariance
# error, zero if some shift of the feature map explains the new one.
#
# The second panel asks about *invariance* in a deeper net. Two such stages (8, then 16
# channels, total stride 4) are followed by global average pooling. The panel shows the
# relative change of the pooled 16-vector for shifts $\delta=0,\dots,4$, with a stride-1 net
# for reference, on a log scale. Exact zeros are drawn at $10^{-16}$, float64's rounding
# level.

# %%
torch.manual_seed(2)
conv_a = nn.Conv2d(1, 8, 3, padding=1, padding_mode="circular", dtype=EXACT)
conv_b = nn.Conv2d(8, 16, 3, padding=1, padding_mode="circular", dtype=EXACT)


def downsampling_stage(x: torch.Tensor, conv: nn.Conv2d, kind: str) -> torch.Tensor:
    """conv → ReLU → halve the resolution (or not), in one of the ways compared."""
    if kind == "stride-2 conv":  # eq. (cfc-stride): conv_2 = subsample ∘ conv_1
        padded = F.pad(x, (1, 1, 1, 1), mode="circular")
        return F.relu(F.conv2d(padded, conv.weight, conv.bias, stride=2))
    features = F.relu(conv(x))
    if kind == "stride 1 (no subsampling)":
        return features
    if kind == "max pool 2×2":
        return F.max_pool2d(features, 2)
    filter_size = {"blur pool (1,2,1)": 3, "blur pool (1,4,6,4,1)": 5}[kind]
    return BlurPool2d(conv.out_channels, filter_size)(features)  # eq. (cfc-blurpool)


STAGE_KINDS = ["stride-2 conv", "max pool 2×2", "blur pool (1,2,1)", "blur pool (1,4,6,4,1)"]
image = gray[None, None]  # (1, 1, 104, 160)
one_stage_error, pooled_change = {}, {}
with torch.no_grad():
    for kind in [*STAGE_KINDS, "stride 1 (no subsampling)"]:
        reference = downsampling_stage(image, conv_a, kind)
        reference_pooled = downsampling_stage(reference, conv_b, kind).mean((-2, -1))  # GAP
        one_stage, pooled = [], []
        for shift in range(5):
            moved = torch.roll(image, shift, dims=-1)
            out = downsampling_stage(moved, conv_a, kind)
            one_stage.append(best_roll_error(out, reference))
            moved_pooled = downsampling_stage(out, conv_b, kind).mean((-2, -1))
            pooled.append(
                ((moved_pooled - reference_pooled).norm() / reference_pooled.norm()).item()
            )
        one_stage_error[kind], pooled_change[kind] = np.array(one_stage), np.array(pooled)

print("best-roll equivariance error of one stage, shift δ =   0      1      2      3")
for kind in STAGE_KINDS:
    print(f"{kind:>27}: " + " ".join(f"{e:6.3f}" for e in one_stage_error[kind][:4]))
print("change of the pooled features (two stages),  δ =   0        1        2        3        4")
for kind in [*STAGE_KINDS, "stride 1 (no subsampling)"]:
    print(f"{kind:>27}: " + " ".join(f"{e:8.1e}" for e in pooled_change[kind]))

# %%
for kind in STAGE_KINDS:
    check_close(
        f"{kind}: even shifts are matched exactly (δ = 0, 2)",
        one_stage_error[kind][[0, 2]],
        np.zeros(2),
        atol=1e-9,
    )
    check_close(
        f"{kind}: two stages + GAP invariant to δ = 4 (total stride)",
        pooled_change[kind][4],
        0.0,
        atol=1e-9,
    )
check_close(
    "stride 1 + GAP: invariant to every shift",
    pooled_change["stride 1 (no subsampling)"],
    np.zeros(5),
    atol=1e-9,
)
odd = [1, 3]
stride_odd = one_stage_error["stride-2 conv"][odd].mean()
blur5_odd = one_stage_error["blur pool (1,4,6,4,1)"][odd].mean()
check_true(
    "odd shifts: blur pooling cuts the equivariance error of a stride-2 conv",
    bool(blur5_odd < 0.5 * stride_odd),
    f"mean over δ = 1, 3: {stride_odd:.3f} (stride-2 conv) vs {blur5_odd:.3f} (blur (1,4,6,4,1))",
)
max_change = {kind: pooled_change[kind][1:4].max() for kind in STAGE_KINDS}
check_true(
    "two stages + GAP: blur pooling changes the pooled features less than stride or max pool",
    bool(
        max_change["blur pool (1,4,6,4,1)"]
        < min(max_change["stride-2 conv"], max_change["max pool 2×2"])
    ),
    ", ".join(f"{kind} {value:.1e}" for kind, value in max_change.items()),
)
for kind in ("blur pool (1,2,1)", "blur pool (1,4,6,4,1)"):
    check_close(
        f"{kind}: GAP after the last blur pool ignores its subsampling (δ = 2)",
        pooled_change[kind][2],
        0.0,
        atol=1e-12,
    )
blur_gain = max_change["stride-2 conv"] / max_change["blur pool (1,4,6,4,1)"]

# %%
fig, (ax_eq, ax_inv) = plt.subplots(1, 2, figsize=(12, 4.4))
bar_width = 0.2
ROUNDING = 1e-16
for n, kind in enumerate(STAGE_KINDS):
    ax_eq.bar(
        np.arange(4) + (n - 1.5) * bar_width,
        one_stage_error[kind][:4],
        bar_width,
        color=PALETTE[n],
        label=kind,
    )
    ax_inv.semilogy(
        range(5), np.maximum(pooled_change[kind], ROUNDING), "o-", color=PALETTE[n], label=kind
    )
ax_inv.semilogy(
    range(5),
    np.maximum(pooled_change["stride 1 (no subsampling)"], ROUNDING),
    "s--",
    color="k",
    label="stride 1 (no subsampling)",
)
ax_eq.set(
    xticks=range(4),
    xlabel="horizontal shift δ of the input (px)",
    ylabel="‖stage(T_δ x) − best roll‖ / ‖stage(x)‖",
    title="One stage: even shifts are matched exactly, odd ones not",
)
ax_inv.set(
    xticks=range(5),
    ylim=(ROUNDING / 3, 0.1),
    xlabel="horizontal shift δ of the input (px)",
    ylabel="relative change of the pooled features",
    title="Two stages + global average pooling",
)
handles, names = ax_inv.get_legend_handles_labels()
fig.legend(handles, names, loc="lower center", ncol=5, bbox_to_anchor=(0.5, -0.06))
fig.suptitle(
    f"A 1-px shift changes a stride-2 layer's output by {stride_odd:.0%} "
    f"(blur pool: {blur5_odd:.1%}); after global pooling, blur pooling is "
    f"{blur_gain:,.0f}× closer to invariant"
)
plt.show()

# %% [markdown]
# Even shifts are explained exactly by a roll of the output ({eq}`cfc-stride`) and odd ones
# are not, for every way of subsampling. Blurring before subsampling does not remove the odd
# shifts' error, but it shrinks it: the blurred feature map changes slowly from pixel to
# pixel, so the two sampling grids see similar values.
#
# After two stages and global average pooling, the strided and max-pooled nets are unchanged
# only by shifts that are multiples of the total stride (0 and 4). A 2-pixel shift reaches
# the second stage as a 1-pixel shift and is not matched either. With blur pooling, a 2-pixel
# shift is matched exactly, as the alternating-sum argument of the Derivation predicts: the
# first stage is exactly equivariant to it, and the pooled mean does not see the second
# subsampling. The odd shifts leave a small error from the first subsampling, which the
# second stage's ReLU passes on. The weights here are random. {cite:t}`zhang2019making`
# reports the same effect in trained ImageNet networks, where blur pooling also slightly
# raised accuracy. Note how small all the pooled changes are: averaging over 1,040 positions
# hides most of the aliasing. A trained classifier near a decision boundary is still flipped
# by it {cite}`azulay2019why`.
#
# ### 4. A CNN vs an MLP on digits, at the same parameter budget
#
# scikit-learn's 8×8 digits (1797 images, scaled to $[0,1]$), split 70/30 with stratification.
# Both models are trained with Adam (learning rate $10^{-2}$, batches of 128, 200 steps),
# float32, on `get_device()`.

# %%
device = get_device()
digits = load_digits()
images = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8)
labels = torch.tensor(digits.target)
train_idx, test_idx = train_test_split(
    np.arange(len(labels)), test_size=0.3, random_state=0, stratify=digits.target
)
x_train, y_train = images[train_idx].to(device), labels[train_idx].to(device)
x_test, y_test = images[test_idx].to(device), labels[test_idx].to(device)

torch.manual_seed(0)
cnn_budget = count_parameters(make_cnn())
n_cnn, n_mlp = cnn_budget, count_parameters(make_mlp(64, cnn_budget))
print(
    f"CNN: {n_cnn:,} parameters; MLP 64 → {make_mlp(64, cnn_budget)[1].out_features} → 10: "
    f"{n_mlp:,} parameters"
)
check_true(
    "equal budget: parameter counts within 1 %",
    abs(n_cnn - n_mlp) / n_cnn < 0.01,
    f"{n_cnn:,} vs {n_mlp:,}",
)


# %%
def train_classifier(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int, seed: int
) -> nn.Module:
    """Adam (lr 1e-2) on the cross-entropy, minibatches drawn without replacement per epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, len(x))
    order, start = torch.randperm(len(x), generator=generator), 0
    for _ in range(steps):
        if start + batch_size > len(x):
            order, start = torch.randperm(len(x), generator=generator), 0
        batch = order[start : start + batch_size].to(x.device)
        start += batch_size
        loss = F.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correctly classified images."""
    return (model(x).argmax(1) == y).float().mean().item()


# %%
models = {}
for name, make in [("CNN", make_cnn), ("MLP", lambda: make_mlp(64, cnn_budget))]:
    torch.manual_seed(0)
    models[name] = train_classifier(make().to(device), x_train, y_train, 200, 128, seed=0)

SHIFTS = [0, 1, 2]
DIRECTIONS = [(1, 0), (-1, 0), (0, 1), (0, -1)]  # down, up, right, left
shifted_accuracy = {
    name: np.array(
        [
            np.mean(
                [
                    accuracy(model, translate(x_test, s * dy, s * dx), y_test)
                    for dy, dx in DIRECTIONS
                ]
            )
            for s in SHIFTS
        ]
    )
    for name, model in models.items()
}
for name, accs in shifted_accuracy.items():
    print(
        f"{name}: test accuracy {accs[0]:.3f}; shifted by 1 px {accs[1]:.3f}, by 2 px {accs[2]:.3f}"
    )

# %% [markdown]
# On centred digits both are accurate, within a few points of each other (checked below).
# The digits of this data set are centred and size-normalised, so the convolution's bias has
# little to exploit. Shifted by one pixel (averaged over the four directions), the MLP loses
# far more. Its first layer has
# learned a weight for each pixel position, and the shifted strokes fall on weights trained
# for other strokes. Two pixels remove part of each 8×8 digit for both models.

# %%
drop = {name: accs[0] - accs[1] for name, accs in shifted_accuracy.items()}
centred_gap = shifted_accuracy["CNN"][0] - shifted_accuracy["MLP"][0]
check_true(
    "centred digits: CNN and MLP within 3 points",
    bool(abs(centred_gap) < 0.03),
    f"CNN {shifted_accuracy['CNN'][0]:.3f} vs MLP {shifted_accuracy['MLP'][0]:.3f}",
)
check_true(
    "1-px shift: the CNN loses less accuracy than the MLP",
    bool(drop["CNN"] < drop["MLP"]),
    f"drop {drop['CNN']:.3f} (CNN) vs {drop['MLP']:.3f} (MLP)",
)
with torch.no_grad():
    any_size = models["CNN"](torch.zeros(3, 1, 20, 13, device=device))
check_equal("fully convolutional CNN on 20×13 images: output shape", tuple(any_size.shape), (3, 10))
try:
    with torch.no_grad():
        models["MLP"](torch.zeros(3, 1, 20, 13, device=device))
    mlp_refused, mlp_message = False, "accepted"
except RuntimeError as error:
    mlp_refused, mlp_message = True, str(error).splitlines()[0]
check_true("the MLP refuses 20×13 images", mlp_refused, mlp_message)

# %% [markdown]
# The CNN accepts images of any size because global pooling removes the spatial axes; the
# MLP's first layer insists on exactly 64 inputs.
#
# **Sample efficiency.** The position variability is now put into the data. Each digit is
# pasted at a random position of a 12×12 canvas (up to 2 pixels either side of the centre,
# in each direction), for training and test alike. The CNN is unchanged (5,130 parameters:
# its size does not depend on the image). The MLP, with 144 inputs, gets a hidden width that
# again matches the budget. Both are trained on the first $n$ of a shuffled training set,
# for the same 150 steps (batches of 64), and tested on the whole placed test set.


# %%
def paste_at_random_positions(
    digit_images: torch.Tensor, canvas: int, generator: np.random.Generator
) -> torch.Tensor:
    """Each 8×8 image at a uniformly random position of a canvas×canvas zero image."""
    n, size = len(digit_images), digit_images.shape[-1]
    out = torch.zeros(n, 1, canvas, canvas)
    rows, cols = generator.integers(0, canvas - size + 1, size=(2, n))
    for k in range(n):
        out[k, 0, rows[k] : rows[k] + size, cols[k] : cols[k] + size] = digit_images[k, 0]
    return out


CANVAS = 12
placed_train = paste_at_random_positions(images[train_idx], CANVAS, rng).to(device)
placed_test = paste_at_random_positions(images[test_idx], CANVAS, rng).to(device)
training_order = torch.from_numpy(rng.permutation(len(train_idx)))
TRAIN_SIZES = [50, 150, 500, len(train_idx)]
placed_mlp = make_mlp(CANVAS * CANVAS, cnn_budget)
print(
    f"MLP on {CANVAS}×{CANVAS}: 144 → {placed_mlp[1].out_features} → 10, "
    f"{count_parameters(placed_mlp):,} parameters; CNN {cnn_budget:,}"
)

placed_accuracy = {"CNN": [], "MLP": []}
for n_train in tqdm(TRAIN_SIZES, desc="training-set sizes", leave=False):
    subset = training_order[:n_train].to(device)
    for name, make in [("CNN", make_cnn), ("MLP", lambda: make_mlp(CANVAS * CANVAS, cnn_budget))]:
        torch.manual_seed(0)
        model = train_classifier(
            make().to(device), placed_train[subset], y_train[subset], 150, 64, seed=0
        )
        placed_accuracy[name].append(accuracy(model, placed_test, y_test))
placed_accuracy = {name: np.array(accs) for name, accs in placed_accuracy.items()}
for n_train, cnn_acc, mlp_acc in zip(TRAIN_SIZES, *placed_accuracy.values(), strict=True):
    print(f"n = {n_train:4d}: CNN {cnn_acc:.3f}, MLP {mlp_acc:.3f}")
check_true(
    "digits at random positions: the CNN beats the MLP at every training-set size",
    bool(np.all(placed_accuracy["CNN"] > placed_accuracy["MLP"])),
    ", ".join(
        f"n={n}: {c:.2f} vs {m:.2f}"
        for n, c, m in zip(TRAIN_SIZES, placed_accuracy["CNN"], placed_accuracy["MLP"], strict=True)
    ),
)

# %%
fig, (ax_shift, ax_size) = plt.subplots(1, 2, figsize=(12, 4.2))
colours = {"CNN": PALETTE[0], "MLP": PALETTE[1]}
for name in models:
    ax_shift.plot(
        SHIFTS,
        shifted_accuracy[name],
        "o-",
        color=colours[name],
        label=f"{name} ({count_parameters(models[name]):,} params)",
    )
    placed_params = cnn_budget if name == "CNN" else count_parameters(placed_mlp)
    ax_size.semilogx(
        TRAIN_SIZES,
        placed_accuracy[name],
        "o-",
        color=colours[name],
        label=f"{name} ({placed_params:,} params)",
    )
ax_shift.set(
    xticks=SHIFTS,
    ylim=(0, 1),
    xlabel="shift of the test digits (px, mean of 4 directions)",
    ylabel="test accuracy",
    title="Centred 8×8 digits, test digits shifted",
)
ax_size.set(
    ylim=(0, 1),
    xlabel="training images (log scale)",
    ylabel="test accuracy",
    title=f"Digits at random positions on a {CANVAS}×{CANVAS} canvas",
)
for ax, corner in ((ax_shift, "upper right"), (ax_size, "lower right")):
    ax.axhline(0.1, color="0.5", ls=":", lw=1, label="chance (10 classes)")
    ax.legend(loc=corner)
mlp_full = placed_accuracy["MLP"][-1]
cnn_needed = TRAIN_SIZES[int(np.argmax(placed_accuracy["CNN"] >= mlp_full))]
fig.suptitle(
    f"Same budget: a 1-px shift costs the CNN {100 * drop['CNN']:.0f} points of accuracy, the MLP "
    f"{100 * drop['MLP']:.0f}; "
    f"with {cnn_needed} images the CNN beats the MLP trained on {TRAIN_SIZES[-1]}"
)
plt.show()

# %% [markdown]
# The left panel is the robustness half of the story; the right panel is the statistical
# half. When position varies, the MLP must see each digit at each position to learn it; the
# CNN's shared kernels learn a stroke once and apply it everywhere, and global pooling
# discards where it was. With centred digits (left panel, shift 0) the advantage nearly
# vanishes.
# The bias helps exactly where its assumption describes the data.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "CNNs are translation invariant." Are they?
# Only approximately, and less than people assume. Convolutions are equivariant, global
# pooling makes that invariant, but every stride-2 layer or pooling layer makes the chain
# equivariant only to multiples of its stride (Experiment 3). {cite:t}`azulay2019why` showed
# that shifting an image by a few pixels, even one, can change the prediction of standard
# ImageNet CNNs (VGG16, ResNet50, InceptionResNetV2), the more so the deeper the network.
# They traced it to subsampling that ignores the sampling theorem, and found that data
# augmentation teaches invariance mainly for images like the training ones.
# Blur pooling {cite}`zhang2019making` reduces the effect without removing it.
# :::
#
# :::{dropdown} Does the inductive bias always win?
# No: it helps most with little data and data whose content moves around (Experiment 4). On centred
# digits the MLP comes within a few points of the CNN. At large scale, a vision transformer, which
# has almost no locality bias (only its patch embedding), trails ResNets when trained on ImageNet-1k
# alone but matches or beats them after pre-training on 14M–300M images
# {cite}`dosovitskiy2021image`. Modernised CNNs close the gap again {cite}`liu2022convnet`, so the
# architecture's bias is one factor among data, training recipe and scale.
# :::
#
# :::{dropdown} Padding leaks absolute position
# Zero padding is a signal: a unit near the border sees zeros that an interior unit does not.
# A constant image makes this visible. Its convolution is constant with circular padding, but
# not with zero padding, so deeper layers can tell where they are. CNNs do use this: absolute
# position can be decoded from their features {cite}`islam2020how`, and they can classify
# images by where a pattern sits {cite}`kayhan2020translation`. The cell below checks the
# constant-image case.
# :::

# %%
constant = torch.ones(1, 1, 8, 8, dtype=EXACT)
with torch.no_grad():
    zero_padded = feature_stack(constant)[0, 0]  # the 3-layer stack of Experiment 2
    circ_layer = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", dtype=EXACT)
    circular_padded = circ_layer(constant)[0, 0]
check_true(
    "zero padding: a constant image gives a position-dependent map",
    bool(zero_padded.max() - zero_padded.min() > 1e-3),
    f"range {zero_padded.min():.3f} .. {zero_padded.max():.3f}",
)
check_close(
    "circular padding: a constant image gives a constant map",
    circular_padded,
    torch.full_like(circular_padded, circular_padded[0, 0].item()),
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} Pooling or strided convolution for downsampling?
# Both subsample, so both alias (Experiment 3). A strided convolution learns its downsampling and
# skips the computation of outputs that would be thrown away; a network can use only convolutions
# with strides and match the accuracy of max pooling {cite}`springenberg2015striving`. Max pooling
# is often credited with shift invariance, because the maximum does not care where in its window the
# peak is. That holds only for shifts that stay inside the window. Its subsampling aliases like any
# other: in Experiment 3 it does somewhat better than the strided convolution, and both do worse
# than blur pooling. Average pooling is a blur pool with the box filter $(1,1)$. To reduce aliasing,
# blur before subsampling {cite}`zhang2019making`. Global average pooling at the end, instead of
# flattening into an FC layer, removes most of a classifier's parameters and makes it accept any
# size {cite}`lin2014network`.
# :::
#
# :::{dropdown} What is a 1×1 convolution for?
# It is an FC layer applied to the channel vector of every pixel, with the same weights at
# every pixel ([chapter 07](07_convolution.ipynb) checks this against `nn.Linear`). It mixes
# channels without looking at neighbours. It is used to change the number of channels
# cheaply (bottlenecks in ResNets and Inception), and it adds nonlinearity per pixel
# {cite}`lin2014network`. In {eq}`cfc-params` it costs $C_\text{out}(C_\text{in}+1)$.
# :::
#
# :::{dropdown} "FC layers lose spatial relationships": what is actually true?
# An FC layer treats the pixels as a list whose order means nothing. Permute the pixels of every
# image with one fixed permutation $\pi$ and permute the columns of the first weight matrix the same
# way. The MLP then computes exactly the same function, and gradient descent follows exactly the
# same path: the permuted problem is the same problem. It does not "lose" spatial relationships so
# much as it never assumes any, and must learn them from data. A CNN assumes them, which is why it
# would be hurt by the permutation. The cell below trains two MLPs for five SGD steps, one on
# permuted pixels, and compares their outputs.
# :::

# %%
torch.manual_seed(3)
permutation = torch.from_numpy(rng.permutation(64))
mlp_plain = make_mlp(64, cnn_budget).to(EXACT)
mlp_permuted = make_mlp(64, cnn_budget).to(EXACT)
with torch.no_grad():
    mlp_permuted.load_state_dict(mlp_plain.state_dict())
    mlp_permuted[1].weight.copy_(mlp_plain[1].weight[:, permutation])  # columns follow π
x_digits = images[train_idx[:256]].to(EXACT).flatten(1)  # (256, 64)
y_digits = labels[train_idx[:256]]
for model, inputs in ((mlp_plain, x_digits), (mlp_permuted, x_digits[:, permutation])):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), y_digits).backward()
        optimizer.step()
with torch.no_grad():
    check_close(
        "MLP after 5 steps on permuted pixels == MLP on the original pixels",
        mlp_permuted(x_digits[:, permutation]),
        mlp_plain(x_digits),
        atol=1e-10,
    )

# %% [markdown]
# :::{dropdown} Convolutions have few parameters, so they are cheap?
# Parameters, not computation. The 3×3 conv from 64 to 128 channels has 73,856 parameters,
# but on a 56×56 map it performs one multiply-add per weight per output position. An FC
# layer between the same maps would have about a million times more parameters. The cell
# below prints both.
# :::

# %%
side = 56
conv_macs = 128 * 64 * 9 * side * side  # C_out·C_in·K²·O_h·O_w
fc_same_maps = (128 * side * side) * (64 * side * side + 1)  # eq. (cfc-params)
print(
    f"Conv2d(64, 128, 3, padding=1) on {side}×{side}: {count_parameters(conv_64_128):,} "
    f"parameters, {conv_macs / 1e6:.0f} M multiply-adds; an FC layer between the same maps: "
    f"{fc_same_maps:.2e} parameters ({fc_same_maps / count_parameters(conv_64_128):,.0f}×)"
)

# %% [markdown]
# ## Check yourself
#
# 1. A classifier for 32×32 RGB images starts with `Conv2d(3, 64, 3, padding=1)`. Head A
#    flattens the 64×32×32 map into `Linear(·, 10)`; head B applies global average pooling,
#    then `Linear(64, 10)`. How many parameters does each model have?
#
#    :::{dropdown} Answer
#    The convolution: $64(3\cdot9+1)=1{,}792$. Head A: $10(64\cdot1024+1)=655{,}370$, total
#    657,162. Head B: $10(64+1)=650$, total 2,442. The flattening head holds 99.7 % of the
#    first model's parameters, and it ties the model to 32×32 inputs. The next cell checks
#    both totals on built modules.
#    :::

# %%
head_a = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.Flatten(), nn.Linear(64 * 32 * 32, 10))
head_b = nn.Sequential(
    nn.Conv2d(3, 64, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)
)
check_equal(
    "exercise 1: parameters with the flattening head",
    count_parameters(head_a),
    64 * (3 * 9 + 1) + 10 * (64 * 1024 + 1),
)
check_equal(
    "exercise 1: parameters with global pooling",
    count_parameters(head_b),
    64 * (3 * 9 + 1) + 10 * (64 + 1),
)
print(f"head A: {count_parameters(head_a):,}, head B: {count_parameters(head_b):,}")

# %% [markdown]
# 2. Write `Conv2d(3, 8, 3, padding=1)` on 12×12 images as an FC layer. What shape does its
#    matrix $M$ have, how many entries are non-zero (for a kernel with no zero weights), and
#    how many distinct values can they take?
#
#    :::{dropdown} Answer
#    $M$ is $(8\cdot144)\times(3\cdot144)=1152\times432$, 497,664 entries. For one pair of
#    channels, output row $i$ reads input rows $i-1,i,i+1$ that exist, so summing over the 12
#    rows gives $12\cdot3-2=34$ (row, kernel row) pairs; the same for columns; $34^2=1156$
#    non-zeros per channel pair, $24\cdot1156=27{,}744$ in all, 5.6 % of $M$. They copy only
#    $8\cdot3\cdot9=216$ distinct weights. The next cell builds $M$ and counts.
#    :::

# %%
exercise_conv = nn.Conv2d(3, 8, 3, padding=1, dtype=EXACT)
exercise_dense = conv_as_dense_matrix(exercise_conv.weight.detach(), (12, 12), padding=1)
check_equal("exercise 2: shape of M", tuple(exercise_dense.shape), (8 * 144, 3 * 144))
check_equal(
    "exercise 2: non-zeros of M", int((exercise_dense != 0).sum()), 8 * 3 * (12 * 3 - 2) ** 2
)
check_equal(
    "exercise 2: distinct non-zero values",
    len(set(exercise_dense[exercise_dense != 0].tolist())),
    8 * 3 * 9,
)

# %% [markdown]
# 3. A network has three 3×3 convolutions with stride 2 and circular padding. To which input
#    shifts is it exactly equivariant, and by how much does its output move?
#
#    :::{dropdown} Answer
#    By {eq}`cfc-stride` applied three times: to shifts that are multiples of $2^3=8$ pixels,
#    which move the output by $\delta/8$. A shift of 4 pixels reaches the third layer as a
#    shift of 1, which its stride cannot follow. The next cell checks both on a 32×32 input.
#    :::

# %%
torch.manual_seed(4)
three_strides = nn.Sequential(
    *[
        nn.Conv2d(c, 4, 3, stride=2, padding=1, padding_mode="circular", dtype=EXACT)
        for c in (1, 4, 4)
    ]
)
x = torch.randn(1, 1, 32, 32, dtype=EXACT)
with torch.no_grad():
    out_x = three_strides(x)  # (1, 4, 4, 4)
    out_8 = three_strides(torch.roll(x, 8, dims=-1))
    out_4 = three_strides(torch.roll(x, 4, dims=-1))
check_close(
    "exercise 3: shift by 8 px → output rolled by 1",
    out_8,
    torch.roll(out_x, 1, dims=-1),
    atol=1e-12,
)
best_4 = best_roll_error(out_4, out_x)
check_true(
    "exercise 3: shift by 4 px → no roll matches",
    best_4 > 1e-3,
    f"best relative error over all rolls {best_4:.2f}",
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`goodfellow2016deep`, Chapter 9: sparse interactions, parameter sharing and
#   equivariance (Section 9.2), pooling and invariance (9.3), convolution as an infinitely
#   strong prior (9.4).
# - {cite:t}`lecun1998gradient`, Section II: why FC networks on raw pixels need too many
#   parameters and have no built-in shift invariance; local receptive fields, shared weights
#   and subsampling.
# - {cite:t}`azulay2019why`: CNNs' sensitivity to 1-pixel shifts, and subsampling that ignores
#   the sampling theorem as the cause.
# - {cite:t}`zhang2019making`: blur pooling (the binomial filters of {eq}`cfc-blurpool`, the
#   order conv → ReLU → blur → subsample) and its effect on shift consistency.
# - {cite:t}`dosovitskiy2021image`, Section 4: ViT vs ResNets as the pre-training data grow;
#   {cite:t}`liu2022convnet`: a modernised CNN at the same scale.
# - {cite:t}`islam2020how` and {cite:t}`kayhan2020translation`: absolute position in CNN
#   features, and zero padding as its source.
# - {cite:t}`springenberg2015striving`: strided convolutions instead of pooling;
#   {cite:t}`lin2014network`: 1×1 convolutions and global average pooling;
#   {cite:t}`long2015fully`: FC layers as convolutions, fully convolutional networks.

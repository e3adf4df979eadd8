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
# # 09. Data augmentation for images
#
# **The question.** What techniques of data augmentation are used in computer vision, and what
# does each one do to the image and to its label?
#
# **What you will be able to answer.** The main families (geometric, colour, noise, occlusion,
# mixing, policies) with the formula of each; why a transform must preserve the label, and
# which common ones do not (a flipped digit); why augmentation is applied to the training set
# only, freshly at every epoch, and what test-time augmentation is; what mixup and CutMix do
# to the labels and why their loss is a cross-entropy against a soft label.

# %%
import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Patch
from PIL import Image, ImageEnhance
from sklearn.datasets import load_digits, load_sample_image
from sklearn.model_selection import train_test_split
from torch import nn
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.devices import get_device
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the exact checks can use atol 1e-12
device = get_device()

# %% [markdown]
# ## Short answer
#
# Augmentation trains on random transforms $g(x)$ of each training image, drawn anew every
# time the image is used, with a label that is still correct for $g(x)$. It is a cheap way to
# enlarge a small data set, a regulariser, and a way to teach invariances that the
# architecture does not have.
#
# - **Geometric**: horizontal flip, random crop (with padding, or the random-resized crop of
#   ImageNet training, the most important augmentation there), translation, rotation,
#   scaling, shear. All but the flip and the crop resample the image through an affine map
#   with bilinear interpolation.
# - **Colour (photometric)**: brightness, contrast, saturation (blends with black, with the
#   mean grey, with the per-pixel grey) and hue.
# - **Noise and blur**: additive Gaussian noise, Gaussian blur. For a linear model and the
#   squared loss, input noise is exactly an L2 penalty in expectation.
# - **Occlusion**: Cutout and random erasing blank out a rectangle. The notes list Cutout as
#   "noise-based"; it adds no noise, it deletes a region, so that the model cannot rely on one
#   part of the object.
# - **Mixing**, which changes the labels: mixup takes $\tilde x=\lambda x_i+(1-\lambda)x_j$
#   and $\tilde y=\lambda y_i+(1-\lambda)y_j$ with $\lambda\sim\mathrm{Beta}(\alpha,\alpha)$.
#   CutMix pastes a box of $x_j$ into $x_i$ and weights the labels by area, so $y_j$ gets the
#   pasted fraction of the pixels. The loss is the cross-entropy against that soft label.
# - **Policies**: AutoAugment learns which operations to apply and how strongly; RandAugment
#   applies $N$ random operations at one shared magnitude $M$, two hyperparameters tuned like
#   any regulariser; TrivialAugment applies one operation at a random strength.
#
# Three rules the notes leave out. A transform must **preserve the label**: a horizontal flip
# is right for cats and wrong for digits, text or left/right anatomy, and a 180° rotation turns a
# 6 into a 9; for detection and segmentation the boxes and masks must be transformed with the
# image. Augmentation is **for training only**: validation and test images are left alone,
# except in **test-time augmentation** (TTA), which averages the predictions over a few fixed
# views of each test image. And its **strength is a hyperparameter**: on 100 digits below,
# small shifts and rotations raise the test accuracy while horizontal flips lower it.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x\in[0,1]^{C\times H\times W}$ | an image: $C$ channels, $H$ rows, $W$ columns | `images[b]` |
# | $x_{c,i,j}$ | the value of channel $c$ at row $i$ (down) and column $j$ (right) | |
# | $B$ | number of images in a batch, shape $(B,C,H,W)$ | `images.shape[0]` |
# | $y\in\{0,1\}^K$ | one-hot label over $K$ classes; soft labels are in the simplex | `targets` |
# | $g\sim\mathcal G$ | a random transform from an augmentation distribution | `augment` |
# | $f(x)\in\Delta^K$ | the model's predicted class probabilities | `model` |
# | $\lambda$ | mixing weight of mixup and CutMix | `lam` |
#
# ### What augmentation optimises
#
# Training on augmented data minimises the loss $\ell$ (the cross-entropy) averaged over the
# transforms of each of the $n$ training examples $(x_i,y_i)$,
#
# $$
# R_{\text{aug}}(f)=\frac1n\sum_{i=1}^n\ \mathbb E_{g\sim\mathcal G}\Big[\ell\big(f(g(x_i)),\,
# y_i\big)\Big]
# $$ (aug-risk)
#
# instead of the empirical risk $\frac1n\sum_i\ell(f(x_i),y_i)$: each training point is
# replaced by a cloud of nearby points, a *vicinal* distribution {cite}`chapelle2000vicinal`.
# Drawing a fresh $g$ every time an image enters a batch gives an unbiased stochastic gradient
# of {eq}`aug-risk`. Augmenting once and storing $k$ copies (a "fixed enlarged data set")
# replaces the inner expectation by a fixed $k$-sample average, which the network can
# memorise like any other finite data set.
#
# {eq}`aug-risk` is only the right objective if every $g(x)$ still carries the label $y$. For
# the distribution of the data that means
#
# $$
# p\big(y\mid g(x)\big)=p(y\mid x)\quad\text{for every } g \text{ in the support of }\mathcal G,
# $$ (aug-label-preserving)
#
# i.e. the transform maps an image of class $y$ to an image that a person would also label
# $y$. A mirrored cat is a cat; a mirrored 3 is not a 3, and a 6 rotated by 180° is a 9. A
# transform that breaks {eq}`aug-label-preserving` trains the network on wrong labels, and the
# Experiments measure what that costs.
#
# ### Geometric transforms
#
# **Flip.** The horizontal flip reverses the column index,
#
# $$
# \operatorname{flip}(x)_{c,i,j}=x_{c,\,i,\,W-1-j},
# $$ (aug-flip)
#
# an involution: flipping twice gives the image back.
#
# **Random crop with padding.** Pad the image by $p$ pixels of a fill value (zeros, or the
# dataset mean after normalisation) to $\bar x\in\mathbb R^{C\times(H+2p)\times(W+2p)}$, and cut
# an $H\times W$ window at a random offset:
#
# $$
# \operatorname{crop}(x)_{c,i,j}=\bar x_{c,\,i+t,\,j+l},\qquad t,l\sim\mathcal U\{0,\dots,2p\}.
# $$ (aug-crop)
#
# It is a translation by $(p-t,\,p-l)$ pixels with fill at the borders: the CIFAR recipe is
# $p=4$ on $32\times32$ images plus a random flip.
#
# **Affine transforms by resampling.** Rotation, scaling and non-integer shifts move pixels to
# positions between the grid points, so the output is computed backwards: for every output
# pixel, find where it comes from in the input and interpolate there. This is what
# `F.affine_grid` and `F.grid_sample` do (the spatial transformer of
# {cite:t}`jaderberg2015spatial`), and what we write from scratch. Positions are in
# *normalised* coordinates, $-1$ at the left/top edge of the image and $+1$ at the right/bottom
# edge. With PyTorch's default `align_corners=False`, the centre of pixel $j$ of $n$ and the
# inverse map from a normalised coordinate $x$ to a fractional pixel index are
#
# $$
# x_j=\frac{2j+1}{n}-1,\qquad \operatorname{ix}(x)=\frac{(x+1)\,n-1}{2}
# $$ (aug-normalised)
#
# (with `align_corners=True` the $\pm1$ are the centres of the corner pixels instead:
# $x_j=2j/(n-1)-1$ and $\operatorname{ix}(x)=(x+1)(n-1)/2$). A $2\times3$ matrix $\theta$
# gives the sampling position of each output pixel $(i,j)$:
#
# $$
# \begin{pmatrix}x^{\text{in}}_{ij}\\ y^{\text{in}}_{ij}\end{pmatrix}
# =\theta\begin{pmatrix}x_j\\ y_i\\ 1\end{pmatrix}.
# $$ (aug-affine-grid)
#
# At a fractional position, column $u=\operatorname{ix}(x^{\text{in}})$ and row
# $v=\operatorname{ix}(y^{\text{in}})$, bilinear interpolation mixes the four surrounding
# pixels. With
# $u_0=\lfloor u\rfloor$, $a=u-u_0$, $v_0=\lfloor v\rfloor$, $b=v-v_0$,
#
# $$
# \operatorname{sample}(x;u,v)_c=(1-a)(1-b)\,x_{c,v_0,u_0}+a(1-b)\,x_{c,v_0,u_0+1}
# +(1-a)\,b\,x_{c,v_0+1,u_0}+a\,b\,x_{c,v_0+1,u_0+1},
# $$ (aug-bilinear)
#
# where a pixel outside the image counts as 0 (`padding_mode="zeros"`). At a grid point
# ($a=b=0$) the sample is the pixel itself, with no blur.
#
# To rotate the content counterclockwise on screen by $\varphi$, scale it by $s$ and shift it
# by $(t_u,t_v)$ pixels (right, down), work in pixel units centred on the image, $u$ to the
# right and $v$ down. The content moves as $p^{\text{out}}=sR_\varphi p^{\text{in}}+t$ with
# $R_\varphi=\begin{pmatrix}\cos\varphi&\sin\varphi\\-\sin\varphi&\cos\varphi\end{pmatrix}$
# (counterclockwise because $v$ points down), so the sampler needs the inverse,
# $p^{\text{in}}=\frac1sR_\varphi^\top(p^{\text{out}}-t)$. Substituting $u=xW/2$ and $v=yH/2$,
#
# $$
# \theta=\big[\,A\ \big|\ -A\tau\,\big],\qquad
# A=\frac1s\begin{pmatrix}\cos\varphi&-\frac HW\sin\varphi\\[2pt]
# \frac WH\sin\varphi&\cos\varphi\end{pmatrix},\qquad
# \tau=\begin{pmatrix}2t_u/W\\ 2t_v/H\end{pmatrix}.
# $$ (aug-rotation-theta)
#
# The factors $H/W$ and $W/H$ are easy to forget: without them a rotation of a non-square image
# in normalised coordinates shears it. For $\varphi=90°$ on a square image,
# $A=\begin{pmatrix}0&-1\\1&0\end{pmatrix}$ maps pixel centres onto pixel centres, so the
# rotation is an exact permutation of the pixels, `torch.rot90`; the horizontal flip is
# $A=\operatorname{diag}(-1,1)$.
#
# **Random-resized crop** {cite}`szegedy2015going`, the standard ImageNet augmentation, cuts a
# box of random area and aspect ratio and resizes it to the output size. A box of height $h$
# and width $w$ whose top-left corner is at row $r$ and column $l$ is the affine map
#
# $$
# \theta=\begin{pmatrix}w/W&0&(2l+w)/W-1\\0&h/H&(2r+h)/H-1\end{pmatrix},\qquad
# a\sim\mathcal U(0.08,1),\ \ \ln\rho\sim\mathcal U(\ln\tfrac34,\ln\tfrac43),\ \
# w=\sqrt{aHW\rho},\ h=\sqrt{aHW/\rho}.
# $$ (aug-rrc)
#
# With an integer box and an output of the box's own size, output pixel centres land on input
# pixel centres, and the resized crop is the plain crop {eq}`aug-crop`.
#
# ### Colour transforms
#
# Brightness, contrast and saturation, as PIL's `ImageEnhance` and torchvision's
# `ColorJitter` define them {cite}`torchvision2025colorjitter`, all blend the image with a
# "degenerate" image $d$ by a factor $\gamma\ge0$ and clip to the valid range:
#
# $$
# L=0.299\,R+0.587\,G+0.114\,B,\qquad
# \operatorname{blend}(x,d,\gamma)=\operatorname{clip}\big(\gamma x+(1-\gamma)d,\ 0,\ 1\big),
# $$ (aug-blend)
#
# where $L$ is the luma of ITU-R BT.601 (torchvision rounds the first weight to 0.2989).
# Brightness blends with black ($d=0$, i.e. $\gamma x$), contrast with a uniform grey at the
# image's mean luma ($d=\bar L$), saturation with the image's own grey version ($d=L$, per
# pixel). $\gamma=1$ is the identity and $\gamma=0$ returns $d$. For $\gamma\in[0,1]$ the blend
# is a convex combination and never clips, and then saturation keeps each pixel's luma and
# contrast keeps the mean luma, because $L$ is linear. `ColorJitter` draws each $\gamma$ from
# $\mathcal U[1-s,1+s]$ for a strength $s$ and applies the three in a random order; hue is a
# rotation of the hue channel after a conversion to HSV (left out here).
#
# ### Noise, and why it regularises
#
# Additive Gaussian noise is $\tilde x=x+\sigma\varepsilon$ with $\varepsilon\sim\mathcal
# N(0,I)$. For a linear model $w^\top x$ and the squared loss, averaging over the noise gives
# the clean loss plus a ridge penalty {cite}`bishop1995training`:
#
# $$
# \mathbb E_\varepsilon\big[(y-w^\top(x+\sigma\varepsilon))^2\big]
# =(y-w^\top x)^2+\sigma^2\lVert w\rVert^2,
# $$ (aug-noise-ridge)
#
# because the cross term has mean zero and $\mathbb E[(w^\top\varepsilon)^2]=\lVert w\rVert^2$.
# Augmentations whose outputs the test data never contain (heavy noise, Cutout holes, mixup
# blends) can only help as regularisers of this kind; flips, crops and small rotations can
# also teach an invariance that the test data need.
#
# ### Occlusion: Cutout and random erasing
#
# With $M\in\{0,1\}^{H\times W}$ the indicator of a rectangle and $v$ a fill value,
#
# $$
# \operatorname{erase}(x)_{c,i,j}=(1-M_{ij})\,x_{c,i,j}+M_{ij}\,v.
# $$ (aug-cutout)
#
# Cutout {cite}`devries2017cutout` uses a fixed-size square with its centre uniform over the
# image, so the square is often partly outside, and $v=0$ on normalised inputs (the dataset
# mean). Random erasing {cite}`zhong2020random` draws the area and the aspect ratio of the
# rectangle, keeps it inside the image, fills it with random values, and is applied with a
# probability. Either way the label is kept: the object must be recognised from what is left.
#
# ### Mixing: mixup and CutMix
#
# Mixup {cite}`zhang2018mixup` mixes two training examples $i$ and $j$ (in practice, a batch and
# a shuffled copy of it), images and labels alike:
#
# $$
# \tilde x=\lambda x_i+(1-\lambda)x_j,\qquad \tilde y=\lambda y_i+(1-\lambda)y_j,\qquad
# \lambda\sim\mathrm{Beta}(\alpha,\alpha).
# $$ (aug-mixup)
#
# The cross-entropy is linear in its target, so the loss against the soft label is the mixed
# loss that implementations often write out:
#
# $$
# \operatorname{CE}(f(\tilde x),\tilde y)=-\sum_k\tilde y_k\log f_k(\tilde x)
# =\lambda\,\operatorname{CE}(f(\tilde x),y_i)+(1-\lambda)\operatorname{CE}(f(\tilde x),y_j).
# $$ (aug-mixup-loss)
#
# The Beta distribution with equal parameters is symmetric about $\tfrac12$, with
#
# $$
# \mathbb E[\lambda]=\frac12,\qquad \operatorname{Var}[\lambda]=\frac{\alpha^2}{(2\alpha)^2
# (2\alpha+1)}=\frac1{4(2\alpha+1)}.
# $$ (aug-beta-moments)
#
# $\alpha\to0$ puts $\lambda$ near 0 or 1 (almost no mixing, variance $\to\tfrac14$), $\alpha=1$
# makes it uniform (variance $\tfrac1{12}$), large $\alpha$ concentrates it at $\tfrac12$. The
# mixup paper used $\alpha\in[0.1,0.4]$ on ImageNet and $\alpha=1$ on CIFAR-10.
#
# CutMix {cite}`yun2019cutmix` pastes a box of $x_j$ into $x_i$ instead. With $M$ the box's
# indicator,
#
# $$
# \tilde x=(1-M)\odot x_i+M\odot x_j,\qquad \tilde y=\lambda' y_i+(1-\lambda')y_j,\qquad
# \lambda'=1-\frac{\sum_{ij}M_{ij}}{HW}.
# $$ (aug-cutmix)
#
# The box is drawn from $\lambda\sim\mathrm{Beta}(\alpha,\alpha)$ (the paper uses $\alpha=1$)
# with sides $r_h=H\sqrt{1-\lambda}$, $r_w=W\sqrt{1-\lambda}$, so that
# $r_hr_w/(HW)=1-\lambda$, and a centre uniform over the image. The errata's formula
# $\lambda=1-r_wr_h/(WH)$ holds only if the box lies inside the image; when it sticks out it is
# clipped, and $\lambda'$ must be recomputed from the pixels actually pasted, or the label
# claims more of $x_j$ than the image shows. A $16\times16$ patch inside a $32\times32$ image
# gives $\lambda'=1-256/1024=0.75$.
#
# ### Test-time augmentation
#
# TTA averages the predicted probabilities over $T$ fixed views $g_1,\dots,g_T$ of a test
# image (the identity, a flip, a few crops):
#
# $$
# \hat p(y\mid x)=\frac1T\sum_{t=1}^T f\big(g_t(x)\big).
# $$ (aug-tta)
#
# It costs $T$ forward passes and uses only label-preserving views; {cite:t}`krizhevsky2012imagenet`
# averaged ten crops (four corners and the centre, and their flips).

# %% [markdown]
# ## Implementation from scratch
#
# Every transform is a function of a float tensor of images in $[0,1]$, shape $(B,C,H,W)$; a
# single $(C,H,W)$ image is passed as `image[None]`. Deterministic transforms take their
# parameters as arguments, and each random transform draws its parameters (one set per image,
# from torch's global generator, on the images' device) and calls the deterministic one, so
# that every random transform is vectorised over the batch and checkable through its
# deterministic core. No torchvision: it is not installed here, and the point is to see
# every formula.
#
# ### Flip and crop
#
# {eq}`aug-flip` is `flip(-1)`. {eq}`aug-crop` cuts one window per image with advanced
# indexing: the row indices of image $b$ are $t_b+0,\dots,t_b+h-1$, the column indices
# $l_b+0,\dots,l_b+w-1$, and indexing with a $(B,1,1)$ batch index, $(B,h,1)$ rows and
# $(B,1,w)$ columns gathers all windows at once.


# %%
def hflip(images: torch.Tensor) -> torch.Tensor:
    """eq. (aug-flip): reverse the column axis, (..., C, H, W) -> (..., C, H, W)."""
    return images.flip(-1)


def random_hflip(images: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Flip each image of the batch independently with probability p."""
    flip = torch.rand(images.shape[0], device=images.device) < p  # (B,)
    return torch.where(flip[:, None, None, None], hflip(images), images)


def crop(
    images: torch.Tensor, top: torch.Tensor, left: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """One height×width window per image, starting at (top[b], left[b]); (B, C, h, w)."""
    rows = top[:, None] + torch.arange(height, device=images.device)  # (B, h)
    cols = left[:, None] + torch.arange(width, device=images.device)  # (B, w)
    batch = torch.arange(images.shape[0], device=images.device)[:, None, None]  # (B, 1, 1)
    windows = images[batch, :, rows[:, :, None], cols[:, None, :]]  # (B, h, w, C)
    return windows.permute(0, 3, 1, 2)


def translate(images: torch.Tensor, down: int, right: int, fill: float = 0.0) -> torch.Tensor:
    """Shift every image by (down, right) whole pixels, filling the uncovered border."""
    pad = max(abs(down), abs(right))
    B, _, H, W = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), value=fill)  # (B, C, H + 2p, W + 2p)
    offset = torch.full((B,), pad, device=images.device)
    return crop(padded, offset - down, offset - right, H, W)


def random_crop(images: torch.Tensor, padding: int, fill: float = 0.0) -> torch.Tensor:
    """eq. (aug-crop): pad by `padding`, cut an H×W window at a uniform offset per image."""
    B, _, H, W = images.shape
    padded = F.pad(images, (padding,) * 4, value=fill)  # (B, C, H + 2p, W + 2p)
    top = torch.randint(0, 2 * padding + 1, (B,), device=images.device)  # t
    left = torch.randint(0, 2 * padding + 1, (B,), device=images.device)  # l
    return crop(padded, top, left, H, W)


# %% [markdown]
# ### The affine sampler
#
# `affine_grid` is {eq}`aug-affine-grid` on the pixel centres {eq}`aug-normalised`, and
# `grid_sample_bilinear` is {eq}`aug-bilinear` with zero padding: for each of the four
# neighbours, a flat index into the $H\cdot W$ pixels (clamped so the gather stays in range)
# and a weight that is zeroed where the neighbour lies outside. Both take PyTorch's argument
# names. Everything is differentiable by autograd, with respect to the image and to the grid:
# $a=u-\lfloor u\rfloor$ has derivative 1 in $u$ (the floor has derivative 0), which is how a
# spatial transformer learns $\theta$.


# %%
def normalised_coordinates(
    n: int, align_corners: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """eq. (aug-normalised): the normalised coordinates of the n pixel centres, (n,)."""
    j = torch.arange(n, dtype=dtype, device=device)
    if align_corners:
        return 2 * j / (n - 1) - 1 if n > 1 else torch.zeros_like(j)
    return (2 * j + 1) / n - 1


def pixel_index(coordinate: torch.Tensor, n: int, align_corners: bool) -> torch.Tensor:
    """eq. (aug-normalised), inverted: a normalised coordinate -> fractional pixel index."""
    if align_corners:
        return (coordinate + 1) / 2 * (n - 1)
    return ((coordinate + 1) * n - 1) / 2


def affine_grid(
    theta: torch.Tensor, size: tuple[int, ...] | torch.Size, align_corners: bool = False
) -> torch.Tensor:
    """eq. (aug-affine-grid): sampling positions (B, H, W, 2), as (x, y), for output `size`."""
    _, _, H, W = size
    x = normalised_coordinates(W, align_corners, theta.dtype, theta.device)  # (W,)
    y = normalised_coordinates(H, align_corners, theta.dtype, theta.device)  # (H,)
    base = torch.stack([x.expand(H, W), y[:, None].expand(H, W), torch.ones_like(x).expand(H, W)])
    return torch.einsum("khw,bjk->bhwj", base, theta)  # (B, H, W, 2)


def grid_sample_bilinear(
    input: torch.Tensor, grid: torch.Tensor, align_corners: bool = False
) -> torch.Tensor:
    """eq. (aug-bilinear) at every grid position, zeros outside: (B, C, H, W) -> (B, C, Ho, Wo)."""
    B, C, H, W = input.shape
    Ho, Wo = grid.shape[1:3]
    u = pixel_index(grid[..., 0], W, align_corners)  # (B, Ho, Wo), fractional column
    v = pixel_index(grid[..., 1], H, align_corners)  # (B, Ho, Wo), fractional row
    u0, v0 = u.floor(), v.floor()
    a, b = u - u0, v - v0  # (B, Ho, Wo), in [0, 1)
    flat = input.reshape(B, C, H * W)
    output = torch.zeros(B, C, Ho, Wo, dtype=input.dtype, device=input.device)
    for du, weight_u in ((0, 1 - a), (1, a)):
        for dv, weight_v in ((0, 1 - b), (1, b)):
            col, row = u0 + du, v0 + dv  # (B, Ho, Wo)
            inside = (col >= 0) & (col <= W - 1) & (row >= 0) & (row <= H - 1)
            index = (row.clamp(0, H - 1) * W + col.clamp(0, W - 1)).long()  # (B, Ho, Wo)
            index = index.reshape(B, 1, Ho * Wo).expand(B, C, Ho * Wo)
            neighbour = flat.gather(2, index).reshape(B, C, Ho, Wo)
            output = output + neighbour * (weight_u * weight_v * inside)[:, None]
    return output


# %% [markdown]
# ### Rotation, scaling, translation and the random-resized crop
#
# `affine_theta` builds {eq}`aug-rotation-theta` for a batch of angles (degrees,
# counterclockwise on screen), scales and shifts (pixels, right and down). `resized_crop`
# builds {eq}`aug-rrc` for a batch of boxes. The random versions draw their parameters per
# image; `random_resized_crop` clips a box that would be larger than the image, where
# torchvision redraws up to ten times and then falls back to a central crop.


# %%
def affine_theta(
    angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """eq. (aug-rotation-theta): angle (B,) in degrees, scale (B,), shift (B, 2) -> (B, 2, 3)."""
    phi = torch.deg2rad(angle)
    cos, sin = torch.cos(phi) / scale, torch.sin(phi) / scale  # (B,)
    A = torch.stack(
        [
            torch.stack([cos, -sin * height / width], -1),
            torch.stack([sin * width / height, cos], -1),
        ],
        -2,
    )  # (B, 2, 2)
    tau = torch.stack([2 * shift[:, 0] / width, 2 * shift[:, 1] / height], -1)  # (B, 2)
    return torch.cat([A, -(A @ tau[:, :, None])], -1)  # (B, 2, 3)


def affine(
    images: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    """Rotate, scale and shift each image of the batch, bilinear, zeros outside."""
    theta = affine_theta(angle, scale, shift, *images.shape[-2:])
    return grid_sample_bilinear(images, affine_grid(theta, images.shape))


def random_affine(
    images: torch.Tensor,
    max_angle: float,
    scale_range: tuple[float, float] = (1.0, 1.0),
    max_shift: float = 0.0,
) -> torch.Tensor:
    """Angle ~ U(±max_angle)°, scale ~ U(scale_range), shift ~ U(±max_shift)² pixels."""
    B = images.shape[0]
    options = dict(dtype=images.dtype, device=images.device)
    angle = (2 * torch.rand(B, **options) - 1) * max_angle
    scale = torch.empty(B, **options).uniform_(*scale_range)
    shift = (2 * torch.rand(B, 2, **options) - 1) * max_shift
    return affine(images, angle, scale, shift)


def resized_crop(
    images: torch.Tensor,
    top: torch.Tensor,
    left: torch.Tensor,
    height: torch.Tensor,
    width: torch.Tensor,
    size: tuple[int, int],
) -> torch.Tensor:
    """eq. (aug-rrc): the box (top, left, height, width) of each image, resampled to `size`."""
    B, C, H, W = images.shape
    zero = torch.zeros_like(top)
    theta = torch.stack(
        [
            torch.stack([width / W, zero, (2 * left + width) / W - 1], -1),
            torch.stack([zero, height / H, (2 * top + height) / H - 1], -1),
        ],
        -2,
    )  # (B, 2, 3)
    return grid_sample_bilinear(images, affine_grid(theta, (B, C, *size)))


def random_resized_crop(
    images: torch.Tensor,
    size: tuple[int, int],
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """eq. (aug-rrc): a box of random area fraction and log-uniform aspect ratio, resized."""
    B, _, H, W = images.shape
    options = dict(dtype=images.dtype, device=images.device)
    area = torch.empty(B, **options).uniform_(*scale) * H * W  # a · H · W
    aspect = torch.empty(B, **options).uniform_(math.log(ratio[0]), math.log(ratio[1])).exp()
    width = (area * aspect).sqrt().clamp(max=W)
    height = (area / aspect).sqrt().clamp(max=H)
    top = torch.rand(B, **options) * (H - height)
    left = torch.rand(B, **options) * (W - width)
    return resized_crop(images, top, left, height, width, size)


# %% [markdown]
# ### Colour
#
# {eq}`aug-blend` and its three degenerate images. A factor is a number, or a tensor that
# broadcasts against the images, e.g. shape $(B,1,1,1)$ for one factor per image.
# `color_jitter` draws the three factors per image and applies them in a fixed order.

# %%
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, eq. (aug-blend)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """eq. (aug-blend): L = 0.299 R + 0.587 G + 0.114 B, (..., 3, H, W) -> (..., 1, H, W)."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=images.dtype, device=images.device)
    return torch.einsum("c,...chw->...hw", weights, images).unsqueeze(-3)


def blend(
    images: torch.Tensor, degenerate: torch.Tensor, factor: float | torch.Tensor
) -> torch.Tensor:
    """eq. (aug-blend): clip(γ x + (1 - γ) d, 0, 1)."""
    return (factor * images + (1 - factor) * degenerate).clamp(0.0, 1.0)


def adjust_brightness(images: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """Blend with black."""
    return blend(images, torch.zeros_like(images), factor)


def adjust_contrast(images: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """Blend with a uniform grey at each image's mean luma."""
    mean_luma = luminance(images).mean(dim=(-3, -2, -1), keepdim=True)  # (..., 1, 1, 1)
    return blend(images, mean_luma, factor)


def adjust_saturation(images: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """Blend with each pixel's own grey value."""
    return blend(images, luminance(images), factor)


def color_jitter(
    images: torch.Tensor, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4
) -> torch.Tensor:
    """Each factor ~ U[max(0, 1 - s), 1 + s] per image; brightness, contrast, saturation."""
    B = images.shape[0]
    for adjust, strength in [
        (adjust_brightness, brightness),
        (adjust_contrast, contrast),
        (adjust_saturation, saturation),
    ]:
        factor = torch.empty(B, 1, 1, 1, dtype=images.dtype, device=images.device)
        images = adjust(images, factor.uniform_(max(0.0, 1 - strength), 1 + strength))
    return images


# %% [markdown]
# ### Noise and occlusion
#
# `gaussian_noise` does not clip: clipping to $[0,1]$ would bias the mean of dark and bright
# pixels. `box_mask` builds the rectangle indicator $M$ of {eq}`aug-cutout` for one box per
# image, clipping it at the borders simply by comparing indices; `erase` applies
# {eq}`aug-cutout`, and `cutout` draws a centre uniformly over the pixels.


# %%
def gaussian_noise(images: torch.Tensor, std: float) -> torch.Tensor:
    """x + σ ε with ε ~ N(0, I), no clipping."""
    return images + std * torch.randn_like(images)


def box_mask(
    top: torch.Tensor,
    left: torch.Tensor,
    height: torch.Tensor,
    width: torch.Tensor,
    image_height: int,
    image_width: int,
) -> torch.Tensor:
    """Indicator of the box rows [top, top+height) × cols [left, left+width), (B, H, W) bool;
    the parts outside the image are dropped."""
    rows = torch.arange(image_height, device=top.device)  # (H,)
    cols = torch.arange(image_width, device=top.device)  # (W,)
    in_rows = (rows >= top[:, None]) & (rows < (top + height)[:, None])  # (B, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + width)[:, None])  # (B, W)
    return in_rows[:, :, None] & in_cols[:, None, :]


def erase(images: torch.Tensor, mask: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """eq. (aug-cutout): the value v inside the mask (B, H, W), the image elsewhere."""
    return torch.where(mask[:, None], value, images)


def cutout(images: torch.Tensor, size: int, value: float = 0.0) -> torch.Tensor:
    """Cutout: a size×size square per image, centre uniform over the pixels, clipped."""
    B, _, H, W = images.shape
    centre_row = torch.randint(0, H, (B,), device=images.device)
    centre_col = torch.randint(0, W, (B,), device=images.device)
    side = torch.full((B,), size, device=images.device)
    mask = box_mask(centre_row - size // 2, centre_col - size // 2, side, side, H, W)
    return erase(images, mask, value)


# %% [markdown]
# ### Mixup and CutMix
#
# Both pair each image with a partner from a random permutation of the batch (an image may
# be paired with itself, which changes nothing) and draw one $\lambda$ per image (the mixup
# paper's code draws one per batch; both are unbiased), and both return the mixed images, the soft
# targets, the label weight and the partners, so that the checks can see all of them.
# `mix_pairs` is {eq}`aug-mixup` for given $\lambda$ and partners; `paste_box` is
# {eq}`aug-cutmix` for a given mask, with $\lambda'$ computed from the mask itself. The box
# sides are rounded to whole pixels, which is one more reason to recompute $\lambda'$.


# %%
def mix_pairs(
    images: torch.Tensor, targets: torch.Tensor, lam: torch.Tensor, partner: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """eq. (aug-mixup) for weights lam (B,) and partner indices (B,)."""
    lam_image = lam[:, None, None, None]  # (B, 1, 1, 1)
    mixed = lam_image * images + (1 - lam_image) * images[partner]  # (B, C, H, W)
    mixed_targets = lam[:, None] * targets + (1 - lam[:, None]) * targets[partner]  # (B, K)
    return mixed, mixed_targets


def mixup(
    images: torch.Tensor, targets: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup: λ ~ Beta(α, α) per image, partners from a random permutation."""
    B = images.shape[0]
    lam = torch.distributions.Beta(alpha, alpha).sample((B,)).to(images)  # (B,)
    partner = torch.randperm(B, device=images.device)
    return (*mix_pairs(images, targets, lam, partner), lam, partner)


def paste_box(
    images: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, partner: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """eq. (aug-cutmix): the partner's pixels inside the mask (B, H, W); λ' from the mask."""
    mixed = torch.where(mask[:, None], images[partner], images)  # (B, C, H, W)
    lam = 1 - mask.flatten(1).to(images.dtype).mean(1)  # (B,), λ' = 1 - pasted fraction
    mixed_targets = lam[:, None] * targets + (1 - lam[:, None]) * targets[partner]
    return mixed, mixed_targets, lam, partner


def cutmix(
    images: torch.Tensor, targets: torch.Tensor, alpha: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """CutMix: sides √(1-λ)·(H, W) with λ ~ Beta(α, α), centre uniform, clipped box."""
    B, _, H, W = images.shape
    lam = torch.distributions.Beta(alpha, alpha).sample((B,)).to(images)  # (B,)
    side_ratio = (1 - lam).sqrt()
    height, width = (side_ratio * H).round().long(), (side_ratio * W).round().long()
    centre_row = torch.randint(0, H, (B,), device=images.device)
    centre_col = torch.randint(0, W, (B,), device=images.device)
    mask = box_mask(centre_row - height // 2, centre_col - width // 2, height, width, H, W)
    return paste_box(images, targets, mask, torch.randperm(B, device=images.device))


# %% [markdown]
# ### Test-time augmentation
#
# {eq}`aug-tta`: the mean of the softmax outputs over a list of deterministic views.


# %%
@torch.no_grad()
def predict_with_tta(
    model: nn.Module, images: torch.Tensor, views: list[Callable[[torch.Tensor], torch.Tensor]]
) -> torch.Tensor:
    """eq. (aug-tta): class probabilities averaged over the views, (B, K)."""
    return torch.stack([model(view(images)).softmax(-1) for view in views]).mean(0)


# %% [markdown]
# ## Verification
#
# Exact checks run in float64 on the CPU. Where PyTorch has the same operation
# (`F.affine_grid`, `F.grid_sample`, `torch.rot90`, `F.cross_entropy` with soft targets) it
# is the reference; the colour transforms are checked against PIL's `ImageEnhance`, an
# independent implementation of the same three blends in 8-bit integers; the random
# transforms are checked through their deterministic cores and by Monte-Carlo means of their
# parameters.
#
# ### Flip and crop

# %%
images = torch.rand(4, 3, 6, 9)  # (B, C, H, W)
check_equal("flip twice = identity", hflip(hflip(images)), images)
check_equal("hflip vs np.flip(axis=-1)", hflip(images), np.flip(images.numpy(), axis=-1).copy())
flip_theta = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(4, 2, 3)
check_close(
    "hflip vs the affine sampler with A = diag(-1, 1)",
    grid_sample_bilinear(images, affine_grid(flip_theta, images.shape)),
    hflip(images),
    atol=1e-12,
)

# %% [markdown]
# The crop of the padded batch at offsets $(t_b,l_b)$ must equal plain slicing, the offset
# $(p,p)$ must give the image back, and a translation by whole pixels must move the content
# and fill the uncovered border.

# %%
PAD = 2
padded = F.pad(images, (PAD,) * 4)  # (B, C, H + 2p, W + 2p)
top, left = torch.tensor([0, 1, 4, PAD]), torch.tensor([3, 0, 4, PAD])
windows = crop(padded, top, left, 6, 9)
by_slicing = torch.stack(
    [padded[b, :, t : t + 6, s : s + 9] for b, (t, s) in enumerate(zip(top, left, strict=True))]
)
check_equal("crop vs a loop of slices", windows, by_slicing)
check_equal("crop at offset (p, p) = the image", windows[3], images[3])
moved = translate(images, down=1, right=-2)
check_equal("translate(1, -2): content moved", moved[..., 1:, :-2], images[..., :-1, 2:])
check_true(
    "translate(1, -2): uncovered row and columns are the fill value 0",
    bool((moved[..., 0, :] == 0).all() and (moved[..., -2:] == 0).all()),
)

# %% [markdown]
# `random_crop` must return, for every image, one of the $(2p+1)^2$ windows, with offsets
# uniform on $\{0,\dots,2p\}$, so $\mathbb E[t]=\mathbb E[l]=p$. Each output is compared with
# all 25 windows of its padded image (random pixels, so exactly one matches).

# %%
many = torch.rand(4000, 1, 4, 4)
cropped = random_crop(many, PAD)  # (N, 1, 4, 4)
offsets = [(t, s) for t in range(2 * PAD + 1) for s in range(2 * PAD + 1)]  # (t, l)
padded_many = F.pad(many, (PAD,) * 4)
matches = torch.stack(
    [(cropped == padded_many[..., t : t + 4, s : s + 4]).flatten(1).all(1) for t, s in offsets], 1
)  # (N, 25)
check_equal("every random crop is exactly one window", matches.sum(1), torch.ones(4000).long())
offset_of = torch.tensor(offsets)[matches.double().argmax(1)]  # (N, 2)
check_mean_close("random_crop: E[t] = p", offset_of[:, 0].double(), PAD, z_max=4)
check_mean_close("random_crop: E[l] = p", offset_of[:, 1].double(), PAD, z_max=4)

# %% [markdown]
# ### The affine sampler against `F.affine_grid` and `F.grid_sample`
#
# Random $\theta$ and random grids, some positions outside the image (zero padding), both
# values of `align_corners`. Forward outputs and the gradients with respect to the image and
# to the grid are compared with PyTorch's, and `torch.autograd.gradcheck` compares our
# autograd gradients with central finite differences.

# %%
for align in (False, True):
    theta = torch.randn(3, 2, 3)
    check_close(
        f"affine_grid vs F.affine_grid, align_corners={align}",
        affine_grid(theta, (3, 2, 5, 7), align),
        F.affine_grid(theta, [3, 2, 5, 7], align_corners=align),
        atol=1e-12,
    )
    source = torch.randn(3, 2, 6, 8, requires_grad=True)  # (B, C, H, W)
    grid = (2.4 * torch.rand(3, 5, 7, 2) - 1.2).requires_grad_()  # (B, Ho, Wo, 2), ±1.2
    ours = grid_sample_bilinear(source, grid, align)
    reference = F.grid_sample(
        source, grid, mode="bilinear", padding_mode="zeros", align_corners=align
    )
    check_close(f"grid_sample, align_corners={align}: output", ours, reference, atol=1e-12)
    upstream = torch.randn_like(ours)
    our_grads = torch.autograd.grad(ours, (source, grid), upstream)
    reference_grads = torch.autograd.grad(reference, (source, grid), upstream)
    for name, got, want in zip(("image", "grid"), our_grads, reference_grads, strict=True):
        check_close(f"grid_sample, align_corners={align}: ∂/∂{name}", got, want, atol=1e-12)
small_source = torch.randn(1, 2, 3, 4, requires_grad=True)
small_grid = (2.2 * torch.rand(1, 2, 3, 2) - 1.1).requires_grad_()
check_true(
    "grid_sample_bilinear: torch.autograd.gradcheck (image and grid, float64)",
    torch.autograd.gradcheck(grid_sample_bilinear, (small_source, small_grid)),
)

# %% [markdown]
# ### Rotation, scaling and shifts
#
# A rotation by 90° of a square image maps pixel centres to pixel centres, so it must equal
# `torch.rot90`; 180° on a non-square image must equal flipping both axes; a shift by whole
# pixels must equal `translate`. Last, {eq}`aug-rotation-theta` itself: converted to pixel
# units centred on the image, the sampling positions of a $5\times8$ image must be
# $\frac1sR_\varphi^\top(p^{\text{out}}-t)$, a rigid motion in pixels and not in normalised
# coordinates.

# %%
square = torch.rand(2, 3, 7, 7)
ones, no_shift = torch.ones(2), torch.zeros(2, 2)
check_close(
    "affine by 90° vs torch.rot90",
    affine(square, torch.full((2,), 90.0), ones, no_shift),
    torch.rot90(square, 1, dims=(-2, -1)),
    atol=1e-12,
)
wide = torch.rand(2, 3, 5, 8)
check_close(
    "affine by 180° of a 5×8 image vs flip of both axes",
    affine(wide, torch.full((2,), 180.0), ones, no_shift),
    wide.flip(-1, -2),
    atol=1e-12,
)
check_close(
    "affine shift by (2, -1) px vs translate(down=-1, right=2)",
    affine(wide, torch.zeros(2), ones, torch.tensor([[2.0, -1.0]] * 2)),
    translate(wide, down=-1, right=2),
    atol=1e-12,
)

H_WIDE, W_WIDE = 5, 8
angle, scale, shift = torch.tensor([33.0]), torch.tensor([1.3]), torch.tensor([[0.7, -1.6]])
positions = affine_grid(affine_theta(angle, scale, shift, H_WIDE, W_WIDE), (1, 1, H_WIDE, W_WIDE))
sampled_px = torch.stack(
    [
        pixel_index(positions[..., 0], W_WIDE, False) - (W_WIDE - 1) / 2,
        pixel_index(positions[..., 1], H_WIDE, False) - (H_WIDE - 1) / 2,
    ],
    -1,
)[0]  # (H, W, 2), (u, v) relative to the centre
rows, cols = torch.meshgrid(torch.arange(H_WIDE), torch.arange(W_WIDE), indexing="ij")
output_px = torch.stack([cols - (W_WIDE - 1) / 2, rows - (H_WIDE - 1) / 2], -1).double()
phi = math.radians(angle.item())
rotation = torch.tensor([[math.cos(phi), math.sin(phi)], [-math.sin(phi), math.cos(phi)]])
expected_px = (output_px - shift[0]) @ rotation / scale  # rows of (1/s) Rᵀ (p - t)
check_close("eq. (aug-rotation-theta) in pixel units, 5×8", sampled_px, expected_px, atol=1e-12)

# %% [markdown]
# The resized crop: the whole image at its own size is the identity, and an integer box at
# its own size is the plain crop {eq}`aug-crop`.

# %%
B_WIDE = wide.shape[0]
check_close(
    "resized_crop of the whole image = identity",
    resized_crop(
        wide, torch.zeros(2), torch.zeros(2), torch.full((2,), 5.0), torch.full((2,), 8.0), (5, 8)
    ),
    wide,
    atol=1e-12,
)
box_top, box_left = torch.tensor([1, 0]), torch.tensor([2, 5])
check_close(
    "resized_crop of an integer 3×3 box at 3×3 = crop",
    resized_crop(
        wide,
        box_top.double(),
        box_left.double(),
        torch.full((2,), 3.0),
        torch.full((2,), 3.0),
        (3, 3),
    ),
    crop(wide, box_top, box_left, 3, 3),
    atol=1e-12,
)

# %% [markdown]
# ### Colour against PIL
#
# A quarter-resolution crop of scikit-learn's `china.jpg`, 8-bit. PIL computes in integers
# (it rounds the grey image and truncates the blend), so the comparison is in 8-bit levels
# with a tolerance of one level. A factor of 1 must return the image bit for bit, and the
# invariants of {eq}`aug-blend` must hold exactly: for $\gamma\in[0,1]$ saturation keeps every
# pixel's luma and contrast keeps the mean luma, and saturation 0 makes R = G = B.

# %%
photo_uint8 = np.ascontiguousarray(load_sample_image("china.jpg")[::4, ::4])  # (107, 160, 3)
photo = torch.tensor(photo_uint8).permute(2, 0, 1)[None] / 255.0  # (1, 3, H, W)
colour_pairs = [
    ("brightness", adjust_brightness, ImageEnhance.Brightness),
    ("contrast", adjust_contrast, ImageEnhance.Contrast),
    ("saturation", adjust_saturation, ImageEnhance.Color),
]
for name, adjust, enhancer in colour_pairs:
    for factor in (0.0, 0.5, 1.5):
        reference = np.asarray(enhancer(Image.fromarray(photo_uint8)).enhance(factor))
        ours = 255 * adjust(photo, factor)[0].permute(1, 2, 0)  # (H, W, 3), in 8-bit levels
        check_close(f"{name} {factor} vs PIL ImageEnhance (levels)", ours, reference, atol=1.0)
    check_equal(f"{name}, factor 1 = identity", adjust(photo, 1.0), photo)
check_close(
    "saturation 0.3 keeps every pixel's luma",
    luminance(adjust_saturation(photo, 0.3)),
    luminance(photo),
    atol=1e-12,
)
check_close(
    "contrast 0.3 keeps the mean luma",
    luminance(adjust_contrast(photo, 0.3)).mean(),
    luminance(photo).mean(),
    atol=1e-12,
)
grey = adjust_saturation(photo, 0.0)
check_equal("saturation 0: R = G = B", grey[:, 0], grey[:, 2])

# %% [markdown]
# ### Noise
#
# The added noise must have mean 0 and mean square $\sigma^2$, and {eq}`aug-noise-ridge` must
# hold for a linear model: the Monte-Carlo mean of the noisy squared error equals the clean
# error plus $\sigma^2\lVert w\rVert^2$.

# %%
SIGMA = 0.1
clean = torch.rand(100_000, 1, 1, 1)
added = gaussian_noise(clean, SIGMA) - clean
check_mean_close("noise: E[x̃ - x] = 0", added, 0.0, z_max=4)
check_mean_close("noise: E[(x̃ - x)²] = σ²", added**2, SIGMA**2, z_max=4)
w_linear, x_linear, y_linear = torch.randn(5), torch.rand(5), 0.3
noisy_inputs = gaussian_noise(x_linear.expand(100_000, 1, 1, 5), SIGMA)[:, 0, 0]  # (N, 5)
noisy_errors = (y_linear - noisy_inputs @ w_linear) ** 2  # (N,)
ridge_form = (y_linear - x_linear @ w_linear) ** 2 + SIGMA**2 * w_linear.pow(2).sum()
check_mean_close("eq. (aug-noise-ridge)", noisy_errors, ridge_form.item(), z_max=4)

# %% [markdown]
# ### Cutout
#
# A box that sticks out of the image is clipped: rows $-1..1$ and columns $5..8$ of a
# $6\times7$ image keep rows 0–1 and columns 5–6, four pixels. Inside the box the value is the
# fill, outside the image is untouched. For the random `cutout`, the erased fraction averaged
# over centres has an exact value: the centre row and column are independent and uniform, so
# it is the mean clipped height times the mean clipped width, divided by $HW$.

# %%
canvas = torch.rand(1, 3, 6, 7)
box = box_mask(torch.tensor([-1]), torch.tensor([5]), torch.tensor([3]), torch.tensor([4]), 6, 7)
erased = erase(canvas, box, value=0.5)
check_equal("box (-1, 5, 3×4) clipped to a 6×7 image: pixel count", box.sum(), 4)
check_true("inside: the fill value", bool((erased[:, :, box[0]] == 0.5).all()))
check_equal("outside: the image", erased[:, :, ~box[0]], canvas[:, :, ~box[0]])

CUT, H_CUT, W_CUT = 5, 8, 8
blank = torch.ones(20_000, 1, H_CUT, W_CUT)
erased_fraction = 1 - cutout(blank, CUT).mean(dim=(1, 2, 3))  # (N,)


def mean_clipped_length(size: int, n: int) -> float:
    """Mean length of [c - size//2, c - size//2 + size) ∩ [0, n) over centres c = 0..n-1."""
    starts = np.arange(n) - size // 2
    return float(np.mean(np.minimum(starts + size, n) - np.maximum(starts, 0)))


expected_fraction = mean_clipped_length(CUT, H_CUT) * mean_clipped_length(CUT, W_CUT)
expected_fraction /= H_CUT * W_CUT
check_mean_close(
    f"cutout {CUT}×{CUT} on {H_CUT}×{W_CUT}: mean erased fraction",
    erased_fraction,
    expected_fraction,
    z_max=4,
)
print(f"nominal fraction {CUT**2 / (H_CUT * W_CUT):.3f}; after clipping {expected_fraction:.3f}")

# %% [markdown]
# ### Mixup
#
# The soft labels must sum to 1, the mixed loss {eq}`aug-mixup-loss` must equal PyTorch's
# cross-entropy against the soft label, and the Monte-Carlo mean and variance of $\lambda$
# must match {eq}`aug-beta-moments` for small, uniform and large $\alpha$.

# %%
N_MIX, K_MIX = 20_000, 10
mix_images = torch.rand(N_MIX, 1, 4, 4)
labels = torch.randint(0, K_MIX, (N_MIX,))
one_hot = F.one_hot(labels, K_MIX).double()  # (N, K)
mixed, soft_targets, lam, partner = mixup(mix_images, one_hot, alpha=0.4)
check_close("mixup: soft labels sum to 1", soft_targets.sum(1), torch.ones(N_MIX), atol=1e-12)
check_close(
    "mixup: mixed image of pair 0",
    mixed[0],
    lam[0] * mix_images[0] + (1 - lam[0]) * mix_images[partner[0]],
    atol=1e-12,
)
logits = torch.randn(N_MIX, K_MIX)
mixed_loss = (
    lam * F.cross_entropy(logits, labels, reduction="none")
    + (1 - lam) * F.cross_entropy(logits, labels[partner], reduction="none")
).mean()  # eq. (aug-mixup-loss), the form implementations write out
check_close(
    "λ CE(y_i) + (1-λ) CE(y_j) vs F.cross_entropy against the soft label",
    mixed_loss,
    F.cross_entropy(logits, soft_targets),
    atol=1e-12,
)
for alpha in (0.2, 1.0, 4.0):
    lam_samples = mixup(mix_images, one_hot, alpha)[2]
    check_mean_close(f"Beta({alpha}, {alpha}): E[λ] = 1/2", lam_samples, 0.5, z_max=4)
    check_mean_close(
        f"Beta({alpha}, {alpha}): Var[λ] = 1/(4(2α+1))",
        (lam_samples - 0.5) ** 2,
        1 / (4 * (2 * alpha + 1)),
        z_max=4,
    )

# %% [markdown]
# ### CutMix
#
# Every image gets its own class and its own constant value, so a pixel of the mixed image
# tells which image it came from. For every image whose partner is another image, the
# fraction of its pixels that came from the partner must be the partner's label weight
# $1-\lambda'$, to rounding. Then the errata's example, and the same patch pushed halfway
# out of the image.

# %%
N_CUT = 2000
tagged = torch.arange(N_CUT).double()[:, None, None, None].expand(N_CUT, 1, 32, 32)
own_class = torch.eye(N_CUT)  # (N, N): image b is class b
pasted, cut_targets, lam_cut, cut_partner = cutmix(tagged, own_class, alpha=1.0)
other = cut_partner != torch.arange(N_CUT)
pasted_fraction = (pasted == tagged[cut_partner]).flatten(1).double().mean(1)  # (N,)
partner_weight = cut_targets[torch.arange(N_CUT), cut_partner]  # (N,)
check_close(
    "CutMix: partner's label weight = fraction of pixels pasted",
    partner_weight[other],
    pasted_fraction[other],
    atol=1e-12,
)
check_close(
    "CutMix: 1 - λ' = pasted fraction", 1 - lam_cut[other], pasted_fraction[other], atol=1e-12
)

inside_box = box_mask(
    torch.tensor([8]), torch.tensor([8]), torch.tensor([16]), torch.tensor([16]), 32, 32
)
corner_box = box_mask(
    torch.tensor([-8]), torch.tensor([-8]), torch.tensor([16]), torch.tensor([16]), 32, 32
)
pair = torch.stack([torch.zeros(1, 32, 32), torch.ones(1, 32, 32)])  # (2, 1, 32, 32)
swap = torch.tensor([1, 0])
lam_inside = paste_box(pair, torch.eye(2), inside_box.expand(2, 32, 32), swap)[2]
lam_corner = paste_box(pair, torch.eye(2), corner_box.expand(2, 32, 32), swap)[2]
check_equal("errata: 16×16 patch inside a 32×32 image, λ'", lam_inside[0], 0.75)
check_equal("16×16 patch centred on the corner: only 8×8 pasted, λ'", lam_corner[0], 1 - 64 / 1024)
print(f"λ' = {lam_corner[0]:.4f} for the corner patch; the unclipped formula says 0.75")

# %% [markdown]
# ### Test-time augmentation
#
# With the identity as the only view, {eq}`aug-tta` is the model's softmax; with several views
# it is still a probability vector.

# %%
probe = nn.Sequential(nn.Flatten(), nn.Linear(16, K_MIX))
probe_images = mix_images[:8]
check_close(
    "TTA with the identity view = softmax",
    predict_with_tta(probe, probe_images, [lambda x: x]),
    probe(probe_images).softmax(-1).detach(),
    atol=1e-12,
)
tta_views = [lambda x: x, hflip, lambda x: translate(x, 1, 0), lambda x: translate(x, 0, -1)]
check_close(
    "TTA over four views: rows sum to 1",
    predict_with_tta(probe, probe_images, tta_views).sum(1),
    torch.ones(8),
    atol=1e-12,
)

# %% [markdown]
# ## Experiments
#
# ### 1. Every transform on one photograph
#
# scikit-learn's `china.jpg` (a temple) and `flower.jpg`, cropped to $384\times576$ and
# averaged over $3\times3$ blocks to $128\times192$. Each panel is one transform from the
# Implementation section; mixup and CutMix mix the temple with the flower, and their titles
# give the label each produces.


# %%
def load_photo(name: str) -> torch.Tensor:
    """A bundled sample image as (1, 3, 128, 192) in [0, 1]: central crop, 3×3 block means."""
    pixels = torch.tensor(load_sample_image(name)).permute(2, 0, 1) / 255.0  # (3, 427, 640)
    return F.avg_pool2d(pixels[None, :, 21:405, 32:608], 3)


temple, flower = load_photo("china.jpg"), load_photo("flower.jpg")
photo_pair = torch.cat([temple, flower])  # (2, 3, 128, 192)
photo_labels = torch.eye(2)  # temple, flower
swap_pair = torch.tensor([1, 0])
torch.manual_seed(5)
mixup_weight = torch.tensor([0.6, 0.6])
cutmix_box = box_mask(
    torch.tensor([40, 0]),
    torch.tensor([100, 0]),
    torch.tensor([80, 0]),
    torch.tensor([70, 0]),
    128,
    192,
)
cutmix_panel, _, cutmix_lam, _ = paste_box(photo_pair, photo_labels, cutmix_box, swap_pair)
panels = {
    "original": temple,
    "horizontal flip": hflip(temple),
    "random crop, padding 24": random_crop(temple, 24),
    "rotate 20°, scale 1.1,\nshift (12, −8) px": affine(
        temple, torch.tensor([20.0]), torch.tensor([1.1]), torch.tensor([[12.0, -8.0]])
    ),
    "random-resized crop": random_resized_crop(temple, (128, 192)),
    "brightness 1.2, contrast 0.6,\nsaturation 1.8": adjust_saturation(
        adjust_contrast(adjust_brightness(temple, 1.2), 0.6), 1.8
    ),
    "Gaussian noise σ = 0.1": gaussian_noise(temple, 0.1),
    "Cutout 64×64": cutout(temple, 64),
    f"mixup λ = {mixup_weight[0]:.1f}:\nlabel {mixup_weight[0]:.1f} temple, "
    f"{1 - mixup_weight[0]:.1f} flower": mix_pairs(
        photo_pair, photo_labels, mixup_weight, swap_pair
    )[0][:1],
    f"CutMix: label {cutmix_lam[0]:.2f} temple,\n{1 - cutmix_lam[0]:.2f} flower (box area)": (
        cutmix_panel[:1]
    ),
}

# %%
fig, axes = plt.subplots(2, 5, figsize=(13, 4.6))
for ax, (title, panel) in zip(axes.flat, panels.items(), strict=True):
    ax.imshow(panel[0].permute(1, 2, 0).clamp(0, 1).numpy())  # clipped for display only
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
fig.suptitle(
    "Eight augmentations keep the label 'temple'; mixup and CutMix change it "
    f"(to {mixup_weight[0]:.0%} and {cutmix_lam[0]:.0%} temple)"
)
plt.show()

# %% [markdown]
# The flip, the crop, the small rotation and the colour changes all leave an image a person
# would still call a temple; the random-resized crop may zoom in on a part of it, which is the
# point (the object at another scale) and the risk (a crop that misses the object keeps a label
# it no longer shows). Mixup gives a ghostly double exposure that no real image looks like;
# CutMix gives a natural-looking patch, and its label follows the area.
#
# ### 2. A label-changing transform
#
# The first image of each class in scikit-learn's digits, and its mirror image. The flipped
# images keep their labels under {eq}`aug-risk`, although several no longer look like any
# digit, or look like a different one.

# %%
digits = load_digits()
first_of_class = [int(np.flatnonzero(digits.target == k)[0]) for k in range(10)]
fig, axes = plt.subplots(2, 10, figsize=(10, 2.5))
for k, index in enumerate(first_of_class):
    for row, image in enumerate([digits.images[index], digits.images[index][:, ::-1]]):
        axes[row, k].imshow(image, cmap="gray_r")
        axes[row, k].set_axis_off()
    axes[0, k].set_title(f"{k}", fontsize=9)
axes[1, 0].set_title("mirrored:", fontsize=9, loc="left")
fig.suptitle("A horizontal flip does not preserve a digit's label (bottom: the flipped images)")
plt.show()

# %% [markdown]
# ### 3. Accuracy with and without augmentation, on 100 digits
#
# A small convolutional network (a $3\times3$ convolution with 32 channels and stride 2, a
# ReLU, and a linear layer to the 10 classes) is trained on only 100 of the 1797 $8\times8$
# digits (10 per class), and tested on the other 1697. Each run takes the same 100 full-batch
# Adam steps (learning rate $2\cdot10^{-2}$), with a fresh random augmentation of every image at
# every step, on `device` in float32 (`torch.optim.Adam`, whose update chapter 01 of Part I
# derives and checks).
#
# Seven ways to augment: none; translations by up to one pixel (random crop with padding 1);
# small rotations, scalings and sub-pixel shifts by the affine sampler; Cutout of a $2\times2$
# square; mixup with $\alpha=0.2$; CutMix with $\alpha=1$; and the label-changing horizontal
# flip. An eighth run trains without augmentation on a *fixed* enlarged set: the 100 images and
# four randomly translated copies of each, drawn once, in batches of 100 for the same 100
# steps (so every run sees the same number of images). Every configuration is repeated with
# three seeds (initial weights, batches and augmentations). Each model is evaluated on the
# test set as it is, and on the test set shifted by one pixel in each of the four directions
# (averaged), a distribution shift that only some augmentations prepare for.

# %%
N_TRAIN, BATCH, STEPS, LEARNING_RATE, SEEDS = 100, 100, 100, 2e-2, (0, 1, 2)
digit_images = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8)
train_index, test_index = train_test_split(
    np.arange(len(digits.target)), train_size=N_TRAIN, stratify=digits.target, random_state=0
)
x_train, x_test = digit_images[train_index].to(device), digit_images[test_index].to(device)
y_train = torch.tensor(digits.target[train_index], device=device)
y_test = torch.tensor(digits.target[test_index], device=device)

Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
augmentations: dict[str, Augment] = {
    "none": lambda x, t: (x, t),
    "translate ±1 px": lambda x, t: (random_crop(x, padding=1), t),
    "rotate ±15°, scale, shift": lambda x, t: (random_affine(x, 15.0, (0.9, 1.1), 1.0), t),
    "Cutout 2×2": lambda x, t: (cutout(x, 2), t),
    "mixup α = 0.2": lambda x, t: mixup(x, t, 0.2)[:2],
    "CutMix α = 1": lambda x, t: cutmix(x, t, 1.0)[:2],
    "h-flip (label-changing)": lambda x, t: (random_hflip(x), t),
}


def make_cnn() -> nn.Sequential:
    """3×3 conv, 32 channels, stride 2 (8×8 -> 4×4), ReLU, linear 512 -> 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(512, 10)
    )


def train_cnn(x: torch.Tensor, y: torch.Tensor, augment: Augment, seed: int) -> nn.Module:
    """STEPS Adam steps on batches of BATCH, each batch augmented afresh; eval mode at the end."""
    torch.manual_seed(seed)  # initial weights, batch order and augmentations
    model = make_cnn().to(device=device, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    targets = F.one_hot(y, 10).float()  # (N, 10); mixup and CutMix make them soft
    order, start = torch.randperm(len(x), device=device), 0
    for _ in range(STEPS):
        if start + BATCH > len(x):  # a new epoch: reshuffle
            order, start = torch.randperm(len(x), device=device), 0
        batch = order[start : start + BATCH]
        start += BATCH
        images, soft = augment(x[batch], targets[batch])  # a new draw at every step
        loss = F.cross_entropy(model(images), soft)  # eq. (aug-mixup-loss) for soft targets
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correctly classified images."""
    return (model(x).argmax(1) == y).float().mean().item()


ONE_PIXEL_SHIFTS = [(1, 0), (-1, 0), (0, 1), (0, -1)]  # (down, right)


def shifted_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy on the test images shifted by one pixel, averaged over four directions."""
    return float(np.mean([accuracy(model, translate(x, dy, dx), y) for dy, dx in ONE_PIXEL_SHIFTS]))


print(
    f"{len(x_train)} training and {len(x_test)} test images on {device}; "
    f"the CNN has {count_parameters(make_cnn())} parameters"
)


# %%
torch.manual_seed(100)
fixed_copies = [x_train] + [random_crop(x_train, padding=1) for _ in range(4)]
x_fixed, y_fixed = torch.cat(fixed_copies), y_train.repeat(len(fixed_copies))  # (500, 1, 8, 8)
runs = [(name, augment, x_train, y_train) for name, augment in augmentations.items()]
runs.append(("translate, fixed 4 copies", augmentations["none"], x_fixed, y_fixed))
clean_acc = {name: [] for name, *_ in runs}
shifted_acc = {name: [] for name, *_ in runs}
trained = {}
for (name, augment, x_run, y_run), seed in tqdm(
    [(run, seed) for run in runs for seed in SEEDS], desc="training", leave=False
):
    model = train_cnn(x_run, y_run, augment, seed)
    clean_acc[name].append(accuracy(model, x_test, y_test))
    shifted_acc[name].append(shifted_accuracy(model, x_test, y_test))
    trained[name, seed] = model
clean_acc = {name: np.array(a) for name, a in clean_acc.items()}
shifted_acc = {name: np.array(a) for name, a in shifted_acc.items()}
print(
    f"{'augmentation':>26}   test accuracy   shifted by 1 px   (mean ± sd over {len(SEEDS)} seeds)"
)
for name in clean_acc:
    c, s = clean_acc[name], shifted_acc[name]
    print(f"{name:>26}   {c.mean():.3f} ± {c.std():.3f}   {s.mean():.3f} ± {s.std():.3f}")

# %%
kind_colour = {"none": "0.55", "h-flip (label-changing)": PALETTE[1]}
kind_colour |= {name: PALETTE[2] for name in ("mixup α = 0.2", "CutMix α = 1")}
kind_colour |= {"translate, fixed 4 copies": PALETTE[4]}
names = list(clean_acc)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
for ax, results, title in [
    (axes[0], clean_acc, "test digits as they are"),
    (axes[1], shifted_acc, "test digits shifted by 1 px"),
]:
    positions = np.arange(len(names))[::-1]
    for y_pos, name in zip(positions, names, strict=True):
        colour = kind_colour.get(name, PALETTE[0])
        ax.barh(y_pos, results[name].mean(), xerr=results[name].std(), color=colour, alpha=0.8)
        ax.plot(results[name], np.full(len(SEEDS), y_pos), "k.", ms=4)
    ax.axvline(results["none"].mean(), color="0.3", ls=":", lw=1)
    ax.set(xlabel="accuracy (bars: mean ± sd; dots: seeds)", title=title)
    ax.set_xlim(0.3 if results is shifted_acc else 0.8, 0.95)
axes[0].set_yticks(positions, names)
kind_legend = [
    Patch(color="0.55", label="no augmentation"),
    Patch(color=PALETTE[0], label="label-preserving"),
    Patch(color=PALETTE[2], label="label-mixing"),
    Patch(color=PALETTE[1], label="label-changing"),
    Patch(color=PALETTE[4], label="fixed enlarged set"),
]
fig.legend(handles=kind_legend, loc="outside lower center", ncol=len(kind_legend))
geometric = ("translate ±1 px", "rotate ±15°, scale, shift")
best_geometric = max(geometric, key=lambda name: clean_acc[name].mean())
fig.suptitle(
    f"'{best_geometric}' raises test accuracy from {clean_acc['none'].mean():.1%} to "
    f"{clean_acc[best_geometric].mean():.1%} (on shifted digits from "
    f"{shifted_acc['none'].mean():.0%} to {shifted_acc[best_geometric].mean():.0%}); "
    f"flips lower it to {clean_acc['h-flip (label-changing)'].mean():.1%}"
)
plt.show()

# %% [markdown]
# The checks below assert only what holds with a margin over seeds and devices: the
# label-changing flip costs accuracy, a geometric augmentation beats none on the clean test set,
# and the translation-trained models are far more accurate on shifted digits than any model
# that never saw a shift.

# %%
flip_cost = clean_acc["none"].mean() - clean_acc["h-flip (label-changing)"].mean()
check_true(
    "h-flip lowers test accuracy by more than 1.5 points",
    bool(flip_cost > 0.015),
    f"{clean_acc['none'].mean():.3f} -> {clean_acc['h-flip (label-changing)'].mean():.3f}",
)
check_true(
    "a geometric augmentation beats none on the clean test set",
    bool(clean_acc[best_geometric].mean() > clean_acc["none"].mean()),
    f"{best_geometric}: {clean_acc[best_geometric].mean():.3f} vs {clean_acc['none'].mean():.3f}",
)
check_true(
    "on shifted digits, translation (on the fly) beats none by more than 30 points",
    bool(shifted_acc["translate ±1 px"].mean() > shifted_acc["none"].mean() + 0.3),
    f"{shifted_acc['translate ±1 px'].mean():.3f} vs {shifted_acc['none'].mean():.3f}",
)

# %% [markdown]
# Reading the table and the figure:
#
# - **Geometric augmentation** is the clear win: it adds plausible digits to a training set of
#   100, and on shifted test digits the model that never saw a shift falls apart while the
#   translation-trained one loses far less. This network has a linear layer over positions,
#   so it is not shift-invariant by construction; the augmentation teaches the invariance.
# - **The horizontal flip** lowers accuracy: half of each batch carries images of no digit (or of
#   another digit) under the original label, against {eq}`aug-label-preserving`. The next cell
#   shows which classes pay.
# - **Cutout, mixup and CutMix** do little here: their means stay within about a seed's spread
#   of no augmentation, one way or the other. Their published gains are for large networks
#   trained for hundreds of epochs, where there is more to regularise; on an $8\times8$ digit
#   a $2\times2$ hole or a pasted box removes a large part of the evidence, and a blend of two
#   digits looks like no test digit.
# - **A fixed enlarged set** (four translated copies drawn once) helps on the clean test set
#   about as much as augmenting on the fly, but less on shifted digits: it contains 4 fixed
#   shifts per image instead of a new one at every step.


# %%
def per_class_accuracy(name: str) -> np.ndarray:
    """Accuracy of each class on the clean test set, averaged over the seeds, (10,)."""
    correct = np.zeros(10)
    for seed in SEEDS:
        with torch.no_grad():
            predicted = trained[name, seed](x_test).argmax(1)
        hits = (predicted == y_test).cpu().numpy()
        correct += np.bincount(y_test.cpu().numpy(), weights=hits, minlength=10)
    return correct / (len(SEEDS) * np.bincount(y_test.cpu().numpy(), minlength=10))


class_change = per_class_accuracy("h-flip (label-changing)") - per_class_accuracy("none")
worst = np.argsort(class_change)[:3]
print(
    "h-flip vs none, change of per-class accuracy: "
    + ", ".join(f"digit {k}: {class_change[k]:+.3f}" for k in worst)
    + f"; largest gain {class_change.max():+.3f}"
)

# %% [markdown]
# ### 4. Test-time augmentation
#
# {eq}`aug-tta` with five views, the identity and the four one-pixel shifts, on the clean test
# set, for the models trained without augmentation and with translations. TTA asks the model
# about shifted digits, so it helps a model that has learnt about shifts and can hurt one that
# has not (the shifted views are the inputs on which the unaugmented model fails).

# %%
shift_views = [lambda x: x] + [
    lambda x, shift=shift: translate(x, *shift) for shift in ONE_PIXEL_SHIFTS
]
tta_accuracy = {}
for name in ("none", "translate ±1 px", "rotate ±15°, scale, shift"):
    plain = clean_acc[name].mean()
    with_tta = np.mean(
        [
            (predict_with_tta(trained[name, seed], x_test, shift_views).argmax(1) == y_test)
            .float()
            .mean()
            .item()
            for seed in SEEDS
        ]
    )
    tta_accuracy[name] = (plain, with_tta)
    print(f"{name:>26}: test accuracy {plain:.3f} without TTA, {with_tta:.3f} with 5-view TTA")

# %%
check_true(
    "TTA over shifts helps the translation-trained model",
    bool(tta_accuracy["translate ±1 px"][1] > tta_accuracy["translate ±1 px"][0]),
    "{:.3f} -> {:.3f}".format(*tta_accuracy["translate ±1 px"]),
)
check_true(
    "TTA over shifts hurts the model trained without augmentation",
    bool(tta_accuracy["none"][1] < tta_accuracy["none"][0]),
    "{:.3f} -> {:.3f}".format(*tta_accuracy["none"]),
)
check_true(
    "on shifted digits, translating on the fly beats the fixed enlarged set",
    bool(shifted_acc["translate ±1 px"].mean() > shifted_acc["translate, fixed 4 copies"].mean()),
    f"{shifted_acc['translate ±1 px'].mean():.3f} vs "
    f"{shifted_acc['translate, fixed 4 copies'].mean():.3f}",
)

# %% [markdown]
# TTA is not free accuracy: averaging over views is only as good as the model's predictions
# on those views, so its views should be the transforms the model was trained with.
#
# ## Pitfalls and follow-up questions
#
# :::{dropdown} Should the validation and test sets be augmented too?
# No. They estimate the accuracy on the images the model will meet, and augmenting them
# measures something else; model selection on an augmented validation set picks the model
# that is best on a distribution nobody deploys on. The one exception is TTA, which is part of
# the predictor: then the same fixed views are used on validation, test and production data
# alike. A related leak: if a data set is enlarged with augmented copies *before* it is split,
# copies of one image land in both the training and the validation fold, and the validation
# score is optimistic. Split first, then augment the training part.
# :::
#
# :::{dropdown} Is a horizontal flip always safe? Which transforms change the label?
# A transform is safe only if {eq}`aug-label-preserving` holds for the task. Horizontal flips
# are wrong for digits and text (Experiment 2 and 3), for road signs with arrows, and for
# anatomy with a side (the heart is on the left of a chest X-ray); a label such as "left hand"
# flips with the image. Vertical flips are wrong for most photographs but fine for satellite
# and microscope images. A 180° rotation turns a 6 into a 9. Colour jitter is wrong when
# colour is the label (ripe fruit, traffic lights). A random-resized crop down to 8 % of the
# area can cut the object out. In detection and segmentation the targets move with the image:
# boxes through their transformed corners, masks through the same $\theta$ with
# nearest-neighbour sampling (labels must not be interpolated).
# :::
#
# :::{dropdown} How strong should the augmentation be?
# It is a hyperparameter, tuned on the validation set like weight decay. Too weak does
# nothing; too strong leaves the data distribution and the model underfits (the training loss
# stays high). AutoAugment searched for a policy of operations and magnitudes with
# reinforcement learning {cite}`cubuk2019autoaugment`, at great cost. RandAugment
# {cite}`cubuk2020randaugment` showed that two numbers suffice: apply $N$ operations drawn
# uniformly, all at one magnitude $M$, and tune $N$ and $M$ by grid search; the best magnitude
# grew with the model's size. TrivialAugment {cite}`muller2021trivialaugment` applies one
# operation at a uniformly random magnitude and needs no tuning at all.
# :::
#
# :::{dropdown} Normalise first or augment first?
# Augment first, on images in $[0,1]$ (or 8-bit), then normalise with the dataset mean and
# standard deviation. The colour transforms clip to $[0,1]$ and their luma weights assume that
# range; brightness multiplies the values, which on zero-mean normalised inputs scales them
# around the mean colour, a contrast change rather than a brightness change. The fill value
# changes meaning too: a zero in the padding or a Cutout hole is black before normalisation
# and the mean colour after (Cutout used the latter). Mixup is the exception: normalisation
# is an affine map, which commutes with a convex combination, so mixup gives the same result
# on either side (Check yourself 3).
# :::
#
# :::{dropdown} Mixup together with label smoothing?
# Both soften the targets. Label smoothing {cite}`szegedy2016rethinking` with strength
# $\varepsilon$ on top of mixup gives the target
# $(1-\varepsilon)\big(\lambda y_i+(1-\lambda)y_j\big)+\varepsilon/K$, so the largest target
# probability is at most $(1-\varepsilon)\max(\lambda,1-\lambda)+\varepsilon/K$. Training recipes
# do combine them, but the two softenings add up and can leave the model under-confident:
# tune them together, and check calibration on the (unaugmented) validation set.
# :::
#
# :::{dropdown} Is augmentation a regulariser, or does it teach invariance?
# Both, and Experiment 3 separates them. On the clean test set the digits are centred, so the
# gain from shifts is regularisation: more distinct training images for the same labels. On
# shifted test digits the gain is invariance, and it is far larger, because the shift is now
# in the test distribution and the network (with a linear layer over positions) has no
# invariance of its own. Noise is a pure regulariser, exactly ridge for a linear model
# {eq}`aug-noise-ridge`. Invariance built into the architecture (convolution and pooling,
# chapter 08) holds for every input; invariance learnt from augmentation holds only
# approximately and only for the range of transforms seen in training.
# :::
#
# :::{dropdown} On the fly, or pre-compute an enlarged data set?
# On the fly: a new draw each time an image is used is an unbiased estimate of
# {eq}`aug-risk`, and the network cannot memorise a sample it sees once. A pre-computed set
# has a fixed number of views; Experiment 3 shows the fixed copies falling behind on shifted
# digits. Pre-computing is only worth it when a transform is very expensive, and then it
# still has to happen after the train/validation split.
# :::
#
# :::{dropdown} Why do ImageNet models train on random-resized crops but test on a centre crop?
# The random-resized crop {eq}`aug-rrc` is the strongest single augmentation for ImageNet
# {cite}`szegedy2015going`, but zooming in makes objects look larger in training than in the
# centre crop used at test time. {cite:t}`touvron2019fixing` measured this train/test
# resolution discrepancy and fixed it by testing at a higher resolution (or fine-tuning at the
# test resolution). Downscaling with bilinear sampling also aliases; torchvision resizes with
# an antialiasing filter by default.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Which augmentations would you use for (a) chest X-rays, (b) handwritten digits for a
#    postal code reader, (c) satellite images of fields?
#
#    :::{dropdown} Answer
#    (a) Small rotations, crops and brightness/contrast changes (scanners differ), no
#    horizontal flip (the heart is on the left) and no strong colour changes (grey images).
#    (b) Small shifts, rotations, scalings and elastic distortions
#    {cite}`simard2003best`; no flips and no large rotations (6 and 9). (c) All flips and
#    rotations by multiples of 90° (no "up" in a view from above), colour jitter for
#    lighting and season.
#    :::
#
# 2. CutMix pastes a $12\times20$ box (height × width) of image $j$ into a $32\times32$ image
#    $i$, with the box's top-left corner at row 26 and column 20. What are $\lambda'$ and the
#    label, and what would the unclipped formula $1-r_hr_w/(HW)$ have said? The next cell
#    checks the answer with `paste_box`.
#
#    :::{dropdown} Answer
#    The box covers rows 26–37 and columns 20–39; inside the image only rows 26–31 (6) and
#    columns 20–31 (12) remain, 72 pixels. So $\lambda'=1-72/1024=0.9296875$ and the label
#    is $0.9296875\,y_i+0.0703125\,y_j$. The unclipped formula gives $1-240/1024=0.765625$,
#    which would claim more than three times as much of $y_j$ as the image shows.
#    :::

# %%
exercise_box = box_mask(
    torch.tensor([26]), torch.tensor([20]), torch.tensor([12]), torch.tensor([20]), 32, 32
)
exercise_pair = torch.stack([torch.zeros(1, 32, 32), torch.ones(1, 32, 32)])  # (2, 1, 32, 32)
_, exercise_label, exercise_lam, _ = paste_box(
    exercise_pair, torch.eye(2), exercise_box.expand(2, 32, 32), torch.tensor([1, 0])
)
check_equal("exercise 2: pasted pixels", exercise_box.sum(), 72)
check_equal("exercise 2: λ'", exercise_lam[0], 1 - 72 / 1024)
check_close(
    "exercise 2: label", exercise_label[0], torch.tensor([0.9296875, 0.0703125]), atol=1e-15
)
check_true(
    "exercise 2: the unclipped formula is wrong", 1 - 12 * 20 / 1024 != exercise_lam[0].item()
)

# %% [markdown]
# 3. A model predicts $p=(0.5,\,0.1,\,0.1,\,0.3)$ for a mixup image with $\lambda=0.7$ of
#    class 0 and $0.3$ of class 3. What is its loss? And does it matter whether mixup is
#    applied before or after normalising with a mean and standard deviation? Whether
#    brightness is?
#
#    :::{dropdown} Answer
#    By {eq}`aug-mixup-loss`, $-0.7\ln0.5-0.3\ln0.3=0.4852+0.3612=0.8464$ nats. Normalising is
#    $x\mapsto(x-\mu)/\sigma$, an affine map, and affine maps commute with convex combinations:
#    $(\lambda a+(1-\lambda)b-\mu)/\sigma=\lambda(a-\mu)/\sigma+(1-\lambda)(b-\mu)/\sigma$. So
#    mixup gives the same result before or after. Brightness multiplies by $\gamma$, which does
#    not commute with subtracting $\mu$ (and clips), so its place matters. The next cell checks
#    all three.
#    :::

# %%
probabilities = torch.tensor([[0.5, 0.1, 0.1, 0.3]])
soft_label = torch.tensor([[0.7, 0.0, 0.0, 0.3]])
exercise_loss = F.cross_entropy(probabilities.log(), soft_label)
check_close("exercise 3: mixup loss (nats)", exercise_loss, torch.tensor(0.8464), atol=5e-5)
print(f"loss = {exercise_loss:.4f} nats")
mean_rgb = torch.tensor([0.485, 0.456, 0.406])[:, None, None]  # per-channel mean, (3, 1, 1)
std_rgb = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def normalise(x: torch.Tensor) -> torch.Tensor:
    """(x - μ) / σ per channel."""
    return (x - mean_rgb) / std_rgb


pair_lam, pair_partner = torch.tensor([0.7, 0.7]), torch.tensor([1, 0])
mixed_then_normalised = normalise(mix_pairs(photo_pair, photo_labels, pair_lam, pair_partner)[0])
normalised_then_mixed = mix_pairs(normalise(photo_pair), photo_labels, pair_lam, pair_partner)[0]
check_close(
    "exercise 3: mixup commutes with normalisation",
    mixed_then_normalised,
    normalised_then_mixed,
    atol=1e-12,
)
brightness_gap = (normalise(adjust_brightness(temple, 1.3)) - 1.3 * normalise(temple)).abs().max()
check_true(
    "exercise 3: brightness does not commute with normalisation",
    bool(brightness_gap > 0.1),
    f"largest difference {brightness_gap:.2f}",
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`zhang2018mixup`: mixup, {eq}`aug-mixup`, with $\lambda\sim\mathrm{Beta}(\alpha,
#   \alpha)$; the values of $\alpha$ used on ImageNet and CIFAR-10; mixup as vicinal risk
#   minimisation.
# - {cite:t}`yun2019cutmix`: CutMix, Section 3.1 (box sides $\sqrt{1-\lambda}$ of the image's,
#   uniform centre, $\alpha=1$) and the adjustment of $\lambda$ to the pasted area in their
#   code.
# - {cite:t}`devries2017cutout`: Cutout, a square with its centre anywhere in the image, so
#   that it may be partly outside.
# - {cite:t}`zhong2020random`: random erasing (random area, aspect ratio and fill, applied
#   with a probability).
# - {cite:t}`cubuk2020randaugment` (RandAugment, $N$ and $M$, magnitude growing with model
#   size), {cite:t}`cubuk2019autoaugment` (AutoAugment) and
#   {cite:t}`muller2021trivialaugment` (TrivialAugment).
# - {cite:t}`shorten2019survey`: the families of image augmentation, as a survey.
# - {cite:t}`simard2003best`: affine and elastic distortions of handwritten digits as
#   training data.
# - {cite:t}`krizhevsky2012imagenet`: random crops and flips for ImageNet, and ten-crop
#   test-time averaging.
# - {cite:t}`szegedy2015going`: the random-resized crop (8 %–100 % of the area, aspect ratio
#   in $[3/4,4/3]$); {cite:t}`touvron2019fixing`: the train/test resolution discrepancy it
#   causes.
# - {cite:t}`jaderberg2015spatial`: the affine grid generator and the differentiable
#   bilinear sampler; {cite:t}`pytorch2025gridsample`: `F.grid_sample`'s normalised coordinates
#   and `align_corners`.
# - {cite:t}`torchvision2025colorjitter`: `ColorJitter`'s factor ranges and blends, and the
#   luma weights.
# - {cite:t}`chapelle2000vicinal`: vicinal risk minimisation, {eq}`aug-risk`;
#   {cite:t}`bishop1995training`: training with input noise is Tikhonov (ridge) regularisation,
#   {eq}`aug-noise-ridge`.
# - {cite:t}`szegedy2016rethinking`, Section 7: label smoothing.

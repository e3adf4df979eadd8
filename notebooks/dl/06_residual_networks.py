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
# # 06. Residual networks
#
# **The question.** What is the significance of residual networks?
#
# **What you will be able to answer.** Which problem ResNets were built to solve (the
# degradation of *training* loss with depth, not overfitting and not mainly vanishing
# gradients); why the block $y=x+\mathcal F(x)$ has the Jacobian $I+\partial\mathcal F/\partial
# x$ and what that does to the gradient; how the residual stream's variance grows with depth
# and why zero-initialised branches fix it; and where BN, ReLU and projections go in a block.

# %%
import copy
import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.devices import get_device
from notebook_utils.nn import count_parameters, gradient_norms
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **The block.** A residual block adds its input to the output of a few layers, the
#   *branch*: $y=x+\mathcal F(x)$. The layers learn the residual $\mathcal F=\mathcal H-x$
#   of the mapping $\mathcal H$ they should compute, so the identity is $\mathcal F=0$, which
#   is where small weights already are. When the branch changes the shape (more channels,
#   stride 2), the shortcut becomes a projection $W_sx$, in ResNet a 1×1 convolution with
#   stride.
# - **Why it mattered: the degradation problem.** The notes say residual connections give
#   "direct feature access" and help with vanishing gradients. That is not what ResNets were
#   built for. {cite:t}`he2016deep` observed that deeper *plain* nets, trained with batch
#   normalisation and He initialisation (which had already tamed vanishing gradients), reached
#   a higher **training** error than shallower ones. That is an optimisation failure, not
#   overfitting: the deeper net could copy the shallower one and make its extra layers the
#   identity, yet SGD does not find that solution. With residual blocks the deeper nets train
#   about as well as the shallow ones (Experiment 3: a 32-layer plain MLP with BN ends orders
#   of magnitude above the 4-layer one; its residual twin closes most of the gap, and with
#   zero-initialised branches all of it).
# - **The gradient.** $\partial y/\partial x=I+\partial\mathcal F/\partial x$. Over a stack,
#   $\partial\mathcal L/\partial x_l=\prod_i\big(I+\partial\mathcal F_i/\partial
#   x_i\big)^\top\partial\mathcal L/\partial x_L$ contains the term $\partial\mathcal
#   L/\partial x_L$ unchanged: the gradient reaches every block through the identity path,
#   whatever the branches do. A 30-layer sigmoid MLP of width 64 passes an input gradient of
#   about $10^{-19}$ without skips and about 10 with them (measured in Experiment 1).
# - **The unrolled view.** Expanding the product gives $2^n$ paths through $n$ blocks, one
#   per subset of branches taken. {cite:t}`veit2016residual` found that a ResNet behaves like
#   an ensemble of these paths, that most of the gradient flows along the short ones, and
#   that deleting one block after training barely hurts it (Experiment 4).
# - **The cost of adding.** Every block adds its output to the stream, so the stream's
#   variance grows with depth: it doubles per block for unnormalised, variance-keeping
#   branches and grows linearly for normalised ones (Experiment 2). Zero-initialising the
#   last layer of each branch (or the $\gamma$ of its last BN, {cite:t}`goyal2017accurate`)
#   makes every block the identity at the start; Fixup {cite}`zhang2019fixup` adds a
#   depth-dependent scaling and trains without any normalisation.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x_l\in\mathbb R^n$ | input of block $l$ ($l=0,\dots,L$), the *residual stream* | `x` |
# | $\mathcal F_l$ | the branch of block $l$: a few layers with their own weights | `block.branch` |
# | $J_l=\partial\mathcal F_l/\partial x_l$ | the branch's Jacobian, $n\times n$ | `jacobian` |
# | $W_s$ | a projection on the shortcut, used when shapes change | `block.shortcut` |
# | $g_l=\partial\mathcal L/\partial x_l$ | gradient w.r.t. the stream (a column) | `x.grad` |
# | $\mathbb E$ | expectation over the random weights at initialisation | a mean over blocks |
#
# As in [chapter 02](02_vanishing_gradients.ipynb), gradients are column vectors and the
# chain rule multiplies transposed Jacobians.
#
# ### Why deeper plain nets should not train worse
#
# Take a plain net of depth $L$ that reaches training loss $\ell$. A net of depth $L+k$ can
# compute exactly the same function: copy the $L$ layers and let the $k$ extra ones be the
# identity (for a ReLU layer whose inputs are non-negative, $W=I$, $b=0$). So the deeper net's
# *best* training loss is at most $\ell$. {cite:t}`he2016deep` (their Fig. 1 and Fig. 4) found
# that SGD nevertheless ends at a higher training loss with the deeper plain net, with BN in
# every layer and gradients of healthy size. Since training error is what got worse, it is not
# overfitting; since the solution exists, it is the optimiser that fails to find it.
#
# Their fix changes the parametrisation, not the function class. A block computes
#
# $$
# x_{l+1}=x_l+\mathcal F_l(x_l)
# $$ (res-block)
#
# so the identity, which a stack of plain layers has to learn, is $\mathcal F_l=0$. When
# $\mathcal F_l$ changes the number of channels or the resolution, $x_l$ no longer has the
# right shape and the shortcut applies a linear map first:
#
# $$
# x_{l+1}=W_sx_l+\mathcal F_l(x_l)
# $$ (res-projection)
#
# In ResNet $W_s$ is a 1×1 convolution with the branch's stride, followed by BN ("option B";
# option A pads the new channels with zeros instead and has no parameters). The original
# block applies a ReLU *after* the addition,
#
# $$
# x_{l+1}=\operatorname{ReLU}\big(x_l+\mathcal F_l(x_l)\big),\qquad
# \mathcal F_l=\operatorname{BN}\circ W_2\circ\operatorname{ReLU}\circ\operatorname{BN}\circ W_1
# $$ (res-post)
#
# while the pre-activation block of {cite:t}`he2016identity` moves BN and ReLU into the branch,
# $\mathcal F_l=W_2\circ\operatorname{ReLU}\circ\operatorname{BN}\circ W_1\circ
# \operatorname{ReLU}\circ\operatorname{BN}$, so that {eq}`res-block` holds exactly.
#
# ### The Jacobian of a block
#
# Differentiating {eq}`res-block`:
#
# $$
# \frac{\partial x_{l+1}}{\partial x_l}=I+J_l
# $$ (res-jacobian)
#
# With a projection it is $W_s+J_l$; with the ReLU after the addition {eq}`res-post` it is
# $D_l(I+J_l)$, where $D_l=\operatorname{diag}\big(\mathbb 1[x_l+\mathcal F_l(x_l)>0]\big)$
# zeroes the rows of the units the ReLU switches off. A plain layer has only the $J_l$.
#
# ### The gradient through a stack
#
# Applying {eq}`res-block` from block $l$ to block $L$ gives the stream as its start plus
# everything the branches added:
#
# $$
# x_L=x_l+\sum_{i=l}^{L-1}\mathcal F_i(x_i)
# $$ (res-unrolled)
#
# The chain rule with {eq}`res-jacobian`, and the derivative of {eq}`res-unrolled`, give the
# same gradient in two forms:
#
# $$
# g_l=(I+J_l)^\top(I+J_{l+1})^\top\cdots(I+J_{L-1})^\top g_L
# =g_L+\sum_{i=l}^{L-1}\Big(\frac{\partial\mathcal F_i(x_i)}{\partial x_l}\Big)^{\!\top}g_L
# $$ (res-gradient)
#
# The first term, $g_L$, reaches block $l$ unchanged, however many blocks lie in between and
# whatever their Jacobians are. For $g_l$ to vanish, the sum would have to cancel $g_L$
# exactly, which does not happen for a generic minibatch {cite}`he2016identity`. Compare the
# plain net, where $g_l=J_l^\top\cdots J_{L-1}^\top g_L$ is a single product of $L-l$ factors
# ([chapter 02](02_vanishing_gradients.ipynb), eq. `vg-chain`), which shrinks or grows
# geometrically.
#
# ### The unrolled view: a sum over paths
#
# Multiplying out the product in {eq}`res-gradient` gives one term for every subset $S$ of
# the blocks $\{l,\dots,L-1\}$:
#
# $$
# g_l=\sum_{S\subseteq\{l,\dots,L-1\}}\Big(\prod_{i\in S}^{\rightarrow}J_i^\top\Big)\,g_L
# $$ (res-paths)
#
# where $\prod^{\rightarrow}$ multiplies in increasing $i$ ($J_{i_1}^\top J_{i_2}^\top\cdots$
# with $i_1<i_2<\dots$) and the empty product is $I$. Each term is the gradient along one
# path through the network: through the branches in $S$ and along the shortcut at every
# other block. The forward pass unrolls the same way {cite}`veit2016residual`. Of the $2^n$
# paths through $n$ blocks,
#
# $$
# \#\{\text{paths through exactly }k\text{ branches}\}=\binom nk
# $$ (res-path-count)
#
# so path lengths are binomially distributed around $n/2$. A path through $k$ branches
# contributes a product of $k$ branch Jacobians; if these shrink the gradient, long paths
# contribute little. {cite:t}`veit2016residual` measured this in a 110-layer ResNet (54
# blocks): most of the gradient came from paths through about 5 to 17 blocks, far fewer than
# the 27 that a typical path passes through.
#
# ### The variance of the residual stream
#
# At initialisation, let the last weight matrix of each branch have i.i.d. zero-mean entries,
# independent of everything before it. Flipping its sign flips $\mathcal F_l$ and leaves the
# distribution unchanged, so $\mathbb E[x_l^\top\mathcal F_l(x_l)]=0$ and
#
# $$
# \mathbb E\lVert x_{l+1}\rVert^2=\mathbb E\lVert x_l\rVert^2+\mathbb E\lVert\mathcal
# F_l(x_l)\rVert^2
# $$ (res-var)
#
# Every block adds its own variance; what it adds depends on the branch.
#
# **Unnormalised branch.** Take $\mathcal F(x)=W_2\operatorname{ReLU}(W_1x)$ with
# $\operatorname{Var}(W_1)=2/n$ (He) and $\operatorname{Var}(W_2)=1/n$ (the variance-keeping
# choice for a linear output). By chapter 02's variance recursion (eq. `vg-relu-moment`) the
# ReLU layer keeps the second moment and so does $W_2$: $\mathbb E\lVert\mathcal
# F(x)\rVert^2=\lVert x\rVert^2$, and {eq}`res-var` doubles the stream at every block. With
# the branch scaled by $\alpha$, $x+\alpha\mathcal F(x)$:
#
# $$
# \mathbb E\lVert x_L\rVert^2=(1+\alpha^2)^L\,\lVert x_0\rVert^2
# \quad\xrightarrow{\ \alpha=1/\sqrt L\ }\quad
# \Big(1+\frac1L\Big)^L\lVert x_0\rVert^2<e\,\lVert x_0\rVert^2
# $$ (res-var-exp)
#
# With $\alpha=1$, 50 blocks multiply the second moment by $2^{50}\approx10^{15}$, and the
# backward pass, by the same argument applied to $(I+J_l)^\top$, grows the gradient toward the
# input at about the same rate. Scaling each branch by $1/\sqrt L$ keeps the whole stack
# within a factor $e$ in expectation. This is the simplest form of the depth-dependent
# scaling that Fixup {cite}`zhang2019fixup` and GPT-2's initialisation use.
#
# **Normalised branch (pre-activation).** With
# $\mathcal F(x)=W_2\operatorname{ReLU}(\operatorname{BN}(W_1\operatorname{ReLU}
# (\operatorname{BN}(x))))$ and both weights He-initialised, the branch never sees the scale of
# $x$: whatever $W_1\operatorname{ReLU}(\operatorname{BN}(x))$ is, the second BN gives each
# of its units a second moment of 1, the ReLU keeps half of it (in expectation over the sign
# of $W_1$), and $W_2$ with variance $2/n$ doubles it back, so $\mathbb E[\mathcal
# F_i(x)^2]=1$ per unit for any $x$. Then
#
# $$
# \mathbb E[x_{L,i}^2]=\mathbb E[x_{0,i}^2]+L
# $$ (res-var-linear)
#
# Growth is linear instead of exponential. It also means that block $l$ adds a share of
# about $1/l$ of what is already in the stream: deep blocks start close to the identity on
# their own {cite}`de2020batch`.
#
# **Zero-initialised branch.** If the last layer of every branch is zero (or the $\gamma$ of
# its last BN), then $\mathcal F_l\equiv0$ at initialisation: $x_L=x_0$, every $J_l=0$, and
# $g_l=g_L$ exactly by {eq}`res-gradient`. The network starts as the identity
# {cite}`goyal2017accurate,zhang2019fixup`. It does not stay there: the zeroed layer's own
# gradient, $\delta\,h^\top$ with $h$ the activation entering it, is not zero, so it moves in
# the first step, and the layers before it receive gradients from the second step on.

# %% [markdown]
# ## Implementation from scratch
#
# ### The residual block
#
# One module covers {eq}`res-block`, {eq}`res-projection` and {eq}`res-post`: a branch, a
# shortcut (the identity unless given) and an optional activation after the addition. With
# `skip=False` the addition is dropped and the same module, with the same weights, is a plain
# block; the experiments compare the two that way.


# %%
class ResidualBlock(nn.Module):
    """activation(shortcut(x) + branch(x)): eq. (res-block), (res-projection) or (res-post).

    `shortcut=None` is the identity; `skip=False` drops the addition (a plain block with the
    same parameters).
    """

    def __init__(
        self,
        branch: nn.Module,
        shortcut: nn.Module | None = None,
        activation: nn.Module | None = None,
        skip: bool = True,
    ) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.activation = activation if activation is not None else nn.Identity()
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)  # F(x), same shape as the output
        if self.skip:  # eq. (res-block): x + F(x); eq. (res-projection): W_s x + F(x)
            out = out + self.shortcut(x)
        return self.activation(out)  # the ReLU after the addition of eq. (res-post)


# %% [markdown]
# ### Branches: MLP and convolutional, original and pre-activation
#
# The MLP branches use `nn.Linear` and `nn.BatchNorm1d` in the two orders of
# {eq}`res-post`. `basic_block` is the convolutional block of ResNet-18/34 in torchvision's
# layout: two 3×3 convolutions without bias, each followed by BN, the first one strided, the
# ReLU after the addition, and a 1×1 convolution with BN on the shortcut (torchvision's
# `downsample`) when the stride or the number of channels changes.


# %%
def mlp_branch(width: int, order: str = "post") -> nn.Sequential:
    """Two linear layers with BN: 'post' (original) or 'pre' (pre-activation) order."""
    if order == "post":  # Linear → BN → ReLU → Linear → BN, then ReLU after the addition
        return nn.Sequential(
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
        )
    if order == "pre":  # BN → ReLU → Linear → BN → ReLU → Linear, nothing after the addition
        return nn.Sequential(
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, width),
        )
    raise ValueError(f"order must be 'post' or 'pre', got {order!r}")


def mlp_block(width: int, order: str = "post") -> ResidualBlock:
    activation = nn.ReLU() if order == "post" else None  # eq. (res-post) vs (res-block)
    return ResidualBlock(mlp_branch(width, order), activation=activation)


def basic_block(in_channels: int, out_channels: int, stride: int = 1) -> ResidualBlock:
    """ResNet's basic block (torchvision's BasicBlock), eq. (res-post) with convolutions."""
    branch = nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )
    shortcut = None  # identity
    if stride != 1 or in_channels != out_channels:  # eq. (res-projection)
        shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    return ResidualBlock(branch, shortcut, activation=nn.ReLU())


# %% [markdown]
# ### Zero-initialised branches, and the plain twin of a net
#
# `zero_init_branch_` zeroes the last layer of a block's branch: the $\gamma$ (and $\beta$) of
# a final BN, as torchvision's `zero_init_residual=True` does after {cite:t}`goyal2017accurate`,
# or the weight and bias of a final linear or convolutional layer. `plain_twin` copies a net
# and removes every addition and every projection, so the plain net has exactly the weights
# of the residual one on the main path.


# %%
def zero_init_branch_(block: ResidualBlock) -> ResidualBlock:
    """Zero the last layer of the branch, so that F ≡ 0 and the block starts as its shortcut."""
    last = [
        m
        for m in block.branch.modules()
        if isinstance(m, nn.Linear | nn.Conv2d | nn.BatchNorm1d | nn.BatchNorm2d)
    ][-1]
    nn.init.zeros_(last.weight)  # BN: γ = 0; linear/conv: W = 0
    if last.bias is not None:
        nn.init.zeros_(last.bias)  # BN: β = 0
    return block


def set_skip_(model: nn.Module, skip: bool) -> nn.Module:
    for module in model.modules():
        if isinstance(module, ResidualBlock):
            module.skip = skip
    return model


def plain_twin(model: nn.Module) -> nn.Module:
    """A deep copy without additions and projections: same weights on the main path."""
    twin = set_skip_(copy.deepcopy(model), False)
    for module in twin.modules():
        if isinstance(module, ResidualBlock):
            module.shortcut = nn.Identity()
    return twin


# %% [markdown]
# ### Deep nets for the experiments
#
# `ResidualMLP` is a stem (linear, BN, ReLU), `n_blocks` two-layer blocks and a linear head:
# $2\cdot$`n_blocks`$+2$ linear layers, the depth quoted in the experiments. `SmallResNet` is
# the CIFAR layout of {cite:t}`he2016deep` (Section 4.2) shrunk to 8×8 digit images: a 3×3
# stem, three stages of `n` basic blocks with 8, 16 and 32 channels (the second and third
# start with stride 2 and a projection), global average pooling and a linear head, $6n+2$
# layers. Both use He initialisation (fan-out for convolutions, as torchvision's ResNet does)
# and zero biases.


# %%
def he_init_(model: nn.Module) -> nn.Module:
    """He-normal weights (fan-in for linear, fan-out for conv as in torchvision), zero biases."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return model


class ResidualMLP(nn.Module):
    def __init__(
        self, in_features: int, width: int, out_features: int, n_blocks: int, order: str = "post"
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[mlp_block(width, order) for _ in range(n_blocks)])
        # the pre-activation net ends with the BN and ReLU its last block did not apply
        self.final = (
            nn.Sequential(nn.BatchNorm1d(width), nn.ReLU()) if order == "pre" else nn.Identity()
        )
        self.head = nn.Linear(width, out_features)
        he_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.final(self.blocks(self.stem(x))))  # (B, out_features)


class SmallResNet(nn.Module):
    def __init__(self, n: int, widths: tuple[int, ...] = (8, 16, 32), n_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        blocks, in_channels = [], widths[0]
        for stage, channels in enumerate(widths):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(basic_block(in_channels, channels, stride))
                in_channels = channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(widths[-1], n_classes)
        he_init_(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.stem(images))  # (B, C, H', W')
        return self.head(features.mean(dim=(2, 3)))  # global average pooling, (B, n_classes)


# %% [markdown]
# ## Verification
#
# ### Zero-initialised branches make the identity
#
# Ten pre-activation MLP blocks with their last linear layer zeroed: the output must equal the
# input bit for bit, in training and in evaluation mode, and the Jacobian of the whole stack
# must be exactly $I$ (the errata's check). Then a basic block with $\gamma=0$ in its last BN:
# the branch outputs exactly $0\cdot\hat x+0$, and the ReLU after the addition returns the
# input unchanged when the input is non-negative, as every input after a ReLU is.

# %%
torch.manual_seed(0)
zero_stack = nn.Sequential(*[zero_init_branch_(mlp_block(16, "pre")) for _ in range(10)])
x_check = torch.randn(32, 16)  # (B, n)
for mode in ("train", "eval"):
    zero_stack.train(mode == "train")
    check_equal(f"10 zero-init blocks, {mode} mode: output vs input", zero_stack(x_check), x_check)
zero_stack.eval()  # per-example Jacobian, so BN must not mix the batch
stack_jacobian = torch.autograd.functional.jacobian(zero_stack, x_check[:1])  # (1, n, 1, n)
check_equal("Jacobian of the 10 zero-init blocks vs I", stack_jacobian[0, :, 0], torch.eye(16))

zero_gamma_block = zero_init_branch_(basic_block(8, 8))
images_check = torch.relu(torch.randn(4, 8, 6, 6))  # (B, C, H, W), non-negative like after a ReLU
for mode in ("train", "eval"):
    zero_gamma_block.train(mode == "train")
    check_equal(
        f"basic block with zero γ, {mode} mode: output vs input",
        zero_gamma_block(images_check),
        images_check,
    )

# %% [markdown]
# ### The Jacobian of a block is $I+J_{\mathcal F}$
#
# {eq}`res-jacobian` for a randomly initialised pre-activation block (BN in evaluation mode,
# with non-trivial running statistics so that it is not the identity map), and its
# post-activation form $D(W_s+J_{\mathcal F})$ for a basic block with a projection
# shortcut, each against autograd's Jacobian of the whole block.

# %%
torch.manual_seed(1)


def randomise_bn_(model: nn.Module) -> nn.Module:
    """Random running statistics and affine parameters, so that eval-mode BN is not trivial."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            nn.init.normal_(module.weight, 1.0, 0.3)
            nn.init.normal_(module.bias, 0.0, 0.3)
    return model


pre_block = randomise_bn_(mlp_block(16, "pre")).eval()
x_one = torch.randn(16)  # one example


def batched(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda v: module(v.unsqueeze(0)).squeeze(0)  # (n,) → (n,)


block_jacobian = torch.autograd.functional.jacobian(batched(pre_block), x_one)  # (n, n)
branch_jacobian = torch.autograd.functional.jacobian(batched(pre_block.branch), x_one)
check_close(
    "pre-activation block: Jacobian vs I + J_F, eq. (res-jacobian)",
    block_jacobian,
    torch.eye(16) + branch_jacobian,
    atol=1e-12,
)

projection_block = randomise_bn_(basic_block(4, 6, stride=2)).eval()
image_one = torch.randn(4, 6, 6)  # (C, H, W)
j_block = torch.autograd.functional.jacobian(batched(projection_block), image_one).reshape(54, 144)
j_branch = torch.autograd.functional.jacobian(batched(projection_block.branch), image_one)
j_shortcut = torch.autograd.functional.jacobian(batched(projection_block.shortcut), image_one)
pre_relu = projection_block.branch(image_one[None]) + projection_block.shortcut(image_one[None])
relu_mask = torch.diag((pre_relu.flatten() > 0).to(torch.float64))  # D, (54, 54)
check_close(
    "basic block with projection: Jacobian vs D (W_s + J_F)",
    j_block,
    relu_mask @ (j_shortcut.reshape(54, 144) + j_branch.reshape(54, 144)),
    atol=1e-12,
)

# %% [markdown]
# ### The gradient through a stack, and the sum over paths
#
# Six pre-activation blocks in evaluation mode, one example, loss $r^\top x_6$ for a fixed
# $r$ (so $g_6=r$). The gradient at the input three ways: autograd; the product of
# $(I+J_l)^\top$ of {eq}`res-gradient`, with each $J_l$ evaluated at the block's own input;
# and the sum of the $2^6=64$ path terms of {eq}`res-paths`. The direct term alone, $g_6$, is
# then compared with the full gradient.

# %%
torch.manual_seed(2)
path_stack = nn.Sequential(*[randomise_bn_(mlp_block(16, "pre")) for _ in range(6)]).eval()
readout = torch.randn(16)  # g_L = r
x_input = torch.randn(16, requires_grad=True)
(path_stack(x_input[None])[0] @ readout).backward()

stream, branch_jacobians = x_input.detach(), []
for block in path_stack:
    branch_jacobians.append(torch.autograd.functional.jacobian(batched(block.branch), stream))
    stream = batched(block)(stream)  # x_{l+1}
grad_product = readout.clone()
for jacobian in reversed(branch_jacobians):
    grad_product = (torch.eye(16) + jacobian).T @ grad_product  # eq. (res-gradient)

grad_paths = torch.zeros(16)
for subset in range(2**6):  # bit i set: the path goes through branch i
    term = readout.clone()
    for i in reversed(range(6)):  # J_{i1}ᵀ J_{i2}ᵀ ⋯ g_L, applied from the right
        if subset >> i & 1:
            term = branch_jacobians[i].T @ term
    grad_paths += term  # eq. (res-paths)
check_close("Π (I + J_l)ᵀ g_L vs autograd", grad_product, x_input.grad, atol=1e-12)
check_close("sum over the 64 paths vs autograd", grad_paths, x_input.grad, atol=1e-12)
direct_share = float(readout.norm() / x_input.grad.norm())
print(f"‖g_L‖ / ‖g_0‖ = {direct_share:.2f}: the direct path alone is of the size of the gradient")

# %% [markdown]
# ### The basic block against torchvision's arithmetic
#
# torchvision is not a dependency of the book, so its `BasicBlock.forward` is written out
# below with `torch.nn.functional` (`conv1`, `bn1`, `relu`, `conv2`, `bn2`, `downsample`,
# the addition, `relu`) on a copy of our block's weights. Forward outputs, the gradients of
# the input and of every parameter, and the BN running statistics after a training step must
# agree, in training and in evaluation mode, for an identity and for a projection shortcut.


# %%
def torchvision_basic_block(
    x: torch.Tensor, state: dict[str, torch.Tensor], stride: int, training: bool
) -> torch.Tensor:
    """torchvision's BasicBlock.forward with functional ops, on a state dict of our block."""

    def bn(t: torch.Tensor, prefix: str) -> torch.Tensor:
        return F.batch_norm(
            t,
            state[f"{prefix}.running_mean"],
            state[f"{prefix}.running_var"],
            state[f"{prefix}.weight"],
            state[f"{prefix}.bias"],
            training=training,
            momentum=0.1,
            eps=1e-5,
        )

    identity = x
    out = F.conv2d(x, state["branch.0.weight"], stride=stride, padding=1)  # conv1
    out = F.relu(bn(out, "branch.1"))  # bn1, relu
    out = F.conv2d(out, state["branch.3.weight"], padding=1)  # conv2
    out = bn(out, "branch.4")  # bn2
    if "shortcut.0.weight" in state:  # downsample = conv1x1 + BN
        identity = bn(F.conv2d(x, state["shortcut.0.weight"], stride=stride), "shortcut.1")
    return F.relu(out + identity)


for in_channels, out_channels, stride in [(6, 6, 1), (4, 8, 2)]:
    for training in (True, False):
        torch.manual_seed(3)
        block = randomise_bn_(basic_block(in_channels, out_channels, stride)).train(training)
        state = {k: v.clone() for k, v in block.state_dict().items()}
        for name, _ in block.named_parameters():
            state[name].requires_grad_(True)
        x_ours = torch.randn(5, in_channels, 7, 7, requires_grad=True)  # (B, C, H, W)
        x_ref = x_ours.detach().clone().requires_grad_(True)
        upstream = torch.randn_like(block(x_ours.detach().clone()))  # ∂L/∂output
        block.load_state_dict(
            {k: v.detach() for k, v in state.items()}
        )  # undo that call's BN update
        ours, reference = block(x_ours), torchvision_basic_block(x_ref, state, stride, training)
        (ours * upstream).sum().backward()
        (reference * upstream).sum().backward()
        kind = f"{'projection' if stride > 1 else 'identity'}, {'train' if training else 'eval'}"
        check_close(f"basic block ({kind}): forward", ours, reference, atol=1e-12)
        check_close(f"basic block ({kind}): ∂L/∂x", x_ours.grad, x_ref.grad, atol=1e-12)
        param_err = max(
            float((p.grad - state[name].grad).abs().max()) for name, p in block.named_parameters()
        )
        check_close(f"basic block ({kind}): ∂L/∂θ, all parameters", param_err, 0.0, atol=1e-12)
        buffers = [k for k in state if k.endswith(("running_mean", "running_var"))]
        buffer_err = max(float((block.state_dict()[k] - state[k]).abs().max()) for k in buffers)
        check_close(f"basic block ({kind}): BN running statistics", buffer_err, 0.0, atol=1e-12)

# %% [markdown]
# Both implementations go through autograd, so a last check compares the block's gradient with
# central finite differences (`torch.autograd.gradcheck`, float64), in training mode, where BN
# couples the examples of the batch.

# %%
torch.manual_seed(4)
gradcheck_block = randomise_bn_(basic_block(2, 3, stride=2)).train()
gradcheck_input = torch.randn(3, 2, 4, 4, requires_grad=True)  # (B, C, H, W)
check_true(
    "basic block, train mode: autograd vs central finite differences (gradcheck)",
    torch.autograd.gradcheck(gradcheck_block, (gradcheck_input,), eps=1e-6, atol=1e-7),
    "eps 1e-6, atol 1e-7",
)

# %% [markdown]
# ### What a projection costs
#
# A projection shortcut from $C_\text{in}$ to $C_\text{out}$ channels has
# $C_\text{in}C_\text{out}$ weights and $2C_\text{out}$ BN parameters.

# %%
for in_channels, out_channels in [(8, 16), (64, 128), (256, 512)]:
    block = basic_block(in_channels, out_channels, stride=2)
    projection_params = count_parameters(block.shortcut)
    check_equal(
        f"{in_channels}→{out_channels}: projection parameters = C_in·C_out + 2·C_out",
        projection_params,
        in_channels * out_channels + 2 * out_channels,
    )
    print(
        f"  {projection_params:,} of the block's {count_parameters(block):,} parameters "
        f"({projection_params / count_parameters(block):.1%})"
    )

# %% [markdown]
# ## Experiments
#
# The data are the 1797 digit images of scikit-learn (8×8 pixels, 10 classes), each pixel
# standardised (Experiment 2 alone uses Gaussian inputs, for the reason given there). Nets at
# initialisation run in float64 on the CPU, training runs in float32 on `get_device()`.

# %%
digits_x, digits_y = load_digits(return_X_y=True)
digits_x = (digits_x - digits_x.mean(0)) / (digits_x.std(0) + 1e-8)  # standardise each pixel
batch_index = rng.choice(len(digits_x), size=256, replace=False)
x_batch = torch.from_numpy(digits_x[batch_index])  # (B, 64)
y_batch = torch.from_numpy(digits_y[batch_index])  # (B,)

# %% [markdown]
# ### 1. Gradient norms at initialisation: plain vs residual
#
# **The errata's number first.** A 30-layer sigmoid MLP of width 64 (Xavier-normal weights,
# zero biases), one random input $x\sim\mathcal N(0,I)$, loss = the sum of the 64 outputs, so
# $\lVert g_L\rVert=\sqrt{64}=8$. The plain net computes $h\leftarrow\sigma(Wh+b)$, the
# residual one $h\leftarrow h+\sigma(Wh+b)$, with the same weights. The errata report
# $\lVert\partial\mathcal L/\partial x\rVert$ of about $10^{-18}$ without skips and about 9
# with them (their seed); the cell measures ours.

# %%
torch.manual_seed(0)
sigmoid_net = nn.Sequential(
    *[ResidualBlock(nn.Sequential(nn.Linear(64, 64), nn.Sigmoid())) for _ in range(30)]
)
for module in sigmoid_net.modules():
    if isinstance(module, nn.Linear):
        nn.init.xavier_normal_(module.weight)
        nn.init.zeros_(module.bias)
x_random = torch.randn(1, 64)
input_grad_norm = {}
for skip in (False, True):
    x_leaf = x_random.clone().requires_grad_(True)
    set_skip_(sigmoid_net, skip)(x_leaf).sum().backward()
    input_grad_norm[skip] = float(x_leaf.grad.norm())
print(
    f"30 sigmoid layers, width 64: ‖∂L/∂x‖ = {input_grad_norm[False]:.2e} plain, "
    f"{input_grad_norm[True]:.2f} residual (‖g_L‖ = 8)"
)
check_true(
    "plain: ‖∂L/∂x‖ within a factor 10 of 1e-18",
    bool(1e-19 < input_grad_norm[False] < 1e-17),
    f"{input_grad_norm[False]:.1e}",
)
check_true(
    "residual: ‖∂L/∂x‖ of order 10 (between 1 and 100)",
    bool(1 < input_grad_norm[True] < 100),
    f"{input_grad_norm[True]:.2f}",
)

# %% [markdown]
# **Layer by layer.** On the batch of 256 digits with the cross-entropy loss, the weight
# gradients $\lVert\partial\mathcal L/\partial W_l\rVert_F$ (read with `gradient_norms`) of
# four MLPs and two convolutional nets, each residual net next to its plain twin with the same
# weights:
#
# - the sigmoid net above with a linear head (31 layers);
# - a 32-layer ReLU MLP of width 64 with BN in every layer and He initialisation (the original
#   block order), plain and residual: the setting of {cite:t}`he2016deep`, where vanishing
#   gradients should no longer be the problem;
# - the 32-layer `SmallResNet` ($n=5$, the layout of ResNet-32) and its plain twin.

# %%
sigmoid_head = nn.Linear(64, 10)
nn.init.xavier_normal_(sigmoid_head.weight)
nn.init.zeros_(sigmoid_head.bias)
torch.manual_seed(0)
bn_mlp = ResidualMLP(64, 64, 10, n_blocks=15)  # 32 linear layers
torch.manual_seed(0)
small_resnet = SmallResNet(n=5)  # 32 layers
images_batch = x_batch.reshape(-1, 1, 8, 8)  # (B, 1, 8, 8)

init_nets = {
    "sigmoid MLP, 31 layers": (nn.Sequential(set_skip_(sigmoid_net, True), sigmoid_head), x_batch),
    "BN-ReLU MLP, 32 layers": (bn_mlp, x_batch),
    "BN-ReLU CNN, 32 layers": (small_resnet, images_batch),
}
init_grads = {}
for name, (residual_net, inputs) in init_nets.items():
    for kind, net in [("plain", plain_twin(residual_net)), ("residual", residual_net)]:
        net.zero_grad()
        F.cross_entropy(net(inputs), y_batch).backward()
        norms = gradient_norms(net)  # input side first; projections are not layers of the path
        init_grads[name, kind] = np.array([v for k, v in norms.items() if "shortcut" not in k])
for (name, kind), norms in init_grads.items():
    print(
        f"{name:>24}, {kind:>8}: ‖∂L/∂W‖ first layer {norms[0]:.2e}, last {norms[-1]:.2e}, "
        f"max/min over layers {norms.max() / norms.min():.1e}"
    )

# %%
spread = {key: norms.max() / norms.min() for key, norms in init_grads.items()}
check_true(
    "sigmoid: plain first-layer gradient < 1e-12 × residual's",
    bool(
        init_grads["sigmoid MLP, 31 layers", "plain"][0]
        < 1e-12 * init_grads["sigmoid MLP, 31 layers", "residual"][0]
    ),
)
for name in ("BN-ReLU MLP, 32 layers", "BN-ReLU CNN, 32 layers"):
    plain_first = init_grads[name, "plain"][0]
    check_true(
        f"{name}, plain: first-layer gradient not small (≥ the last layer's)",
        bool(plain_first >= init_grads[name, "plain"][-1]),
        f"{plain_first:.2e} vs {init_grads[name, 'plain'][-1]:.2e}",
    )
    check_true(
        f"{name}: residual spread over layers < plain spread",
        bool(spread[name, "residual"] < spread[name, "plain"]),
        f"{spread[name, 'residual']:.1f} vs {spread[name, 'plain']:.1f}",
    )

# %%
init_names = list(init_nets)
NET_COLOURS = dict(zip(init_names, PALETTE[:3], strict=True))
fig, (ax_mlp, ax_cnn) = plt.subplots(1, 2, figsize=(11, 4.4))
for (name, kind), norms in init_grads.items():
    ax = ax_cnn if "CNN" in name else ax_mlp
    ax.semilogy(
        np.arange(1, len(norms) + 1),
        norms,
        color=NET_COLOURS[name],
        ls="-" if kind == "residual" else "--",
        label=f"{name}, {kind}",
    )
ax_mlp.set(
    xlabel="layer (1 = input side)",
    ylabel=r"$\|\partial\mathcal{L}/\partial W_l\|_F$",
    title="MLPs",
)
ax_cnn.set(
    xlabel="layer (1 = input side)",
    ylabel=r"$\|\partial\mathcal{L}/\partial W_l\|_F$",
    title="CNNs (ResNet-32 layout on 8×8 digits)",
)
ax_mlp.legend(loc="lower right", fontsize=8)
ax_cnn.legend(loc="lower right", fontsize=8)
bn_nets = ("BN-ReLU MLP, 32 layers", "BN-ReLU CNN, 32 layers")
bn_plain_spread = max(spread[name, "plain"] for name in bn_nets)
bn_residual_spread = max(spread[name, "residual"] for name in bn_nets)
fig.suptitle(
    f"At init: plain sigmoid spans {spread[init_names[0], 'plain']:.0e}×, plain BN nets grow "
    f"{bn_plain_spread:.0f}× toward the input, residual BN nets stay within "
    f"{bn_residual_spread:.0f}×"
)
plt.show()

# %% [markdown]
# The sigmoid net is chapter 02's vanishing gradient, and the skips remove it. The BN nets
# are the more interesting case: with BN and He initialisation the plain net's gradients do
# not vanish at all. They *grow* toward the input (a known effect of BN in deep plain nets,
# {cite:t}`yang2019mean`), while the residual twin keeps them within a narrow band. So "the
# plain net cannot train because its early layers receive no gradient" is not the explanation
# for what Experiment 3 shows.
#
# ### 2. The residual stream's variance
#
# Fifty blocks of width 64 on one batch of 256 standard-normal inputs, with four branches from
# the Derivation:
# unnormalised $W_2\operatorname{ReLU}(W_1x)$ with $\operatorname{Var}(W_1)=2/n$,
# $\operatorname{Var}(W_2)=1/n$; the same scaled by $1/\sqrt{50}$; the pre-activation branch
# with BN and He weights; and a zero-initialised last layer. The figure shows the second moment
# $\mathbb E[x_{l,i}^2]$ of the stream, and the norm of the gradient $\lVert g_l\rVert$ for
# the loss $r^\top x_{50}$ summed over the batch, for a fixed random $r$. (The digits would
# do for three of the four stacks, but three of their pixels are 0 in every image, and a BN
# that normalises a constant input divides by $\sqrt\epsilon$, which inflates that
# coordinate's gradient 300-fold; Gaussian inputs keep the picture clean.)

# %%
N_BLOCKS, WIDTH = 50, 64


def unnormalised_branch(width: int, scale: float) -> nn.Sequential:
    branch = nn.Sequential(
        nn.Linear(width, width, bias=False), nn.ReLU(), nn.Linear(width, width, bias=False)
    )
    nn.init.normal_(branch[0].weight, 0.0, math.sqrt(2 / width))  # He
    nn.init.normal_(branch[2].weight, 0.0, scale * math.sqrt(1 / width))  # variance-keeping × α
    return branch


def stream_stack(kind: str) -> nn.Sequential:
    torch.manual_seed(0)
    if kind == "pre-activation BN":
        stack = he_init_(nn.Sequential(*[mlp_block(WIDTH, "pre") for _ in range(N_BLOCKS)]))
        return stack
    scale = 1 / math.sqrt(N_BLOCKS) if kind.startswith("scaled") else 1.0
    blocks = [ResidualBlock(unnormalised_branch(WIDTH, scale)) for _ in range(N_BLOCKS)]
    if kind == "zero-init last layer":
        blocks = [zero_init_branch_(block) for block in blocks]
    return nn.Sequential(*blocks)


gaussian_batch = torch.randn(256, WIDTH)  # (B, n), E[x_0²] = 1
stream_readout = torch.randn(WIDTH)  # r
stream_runs = {}
for kind in ["unnormalised", "scaled by 1/√L", "pre-activation BN", "zero-init last layer"]:
    stack = stream_stack(kind)
    streams = [gaussian_batch.clone().requires_grad_(True)]
    for block in stack:
        streams.append(block(streams[-1]))  # x_{l+1}, (B, n)
    grads = torch.autograd.grad((streams[-1] @ stream_readout).sum(), streams)  # g_0 … g_L
    stream_runs[kind] = dict(
        moment=np.array([float(s.detach().pow(2).mean()) for s in streams]),  # E[x_l²], (L+1,)
        grad=np.array([float(g.norm()) for g in grads]),  # ‖g_l‖, (L+1,)
        final=streams[-1].detach(),
    )

# %% [markdown]
# Each claim of {eq}`res-var`–{eq}`res-var-linear` is an expectation over the weights, checked
# over the 50 blocks with `check_mean_close`: the per-block ratio of the second moment is 2
# for the unnormalised branch and $1+1/50$ for the scaled one, and the per-block increment is
# 1 for the pre-activation branch (its BN divides by $\sqrt{\sigma^2+\epsilon}$ and so leaves
# a relative error of order $10^{-5}$, covered by `atol`). The zero-initialised stack must
# return its input exactly, with $g_l=g_L$ at every block.

# %%
moments = {kind: run["moment"] for kind, run in stream_runs.items()}
check_mean_close(
    "unnormalised: E‖x_{l+1}‖² / E‖x_l‖², eq. (res-var-exp), α = 1",
    moments["unnormalised"][1:] / moments["unnormalised"][:-1],
    2.0,
    z_max=4,
)
check_mean_close(
    "scaled by 1/√L: E‖x_{l+1}‖² / E‖x_l‖², eq. (res-var-exp)",
    moments["scaled by 1/√L"][1:] / moments["scaled by 1/√L"][:-1],
    1 + 1 / N_BLOCKS,
    z_max=4,
)
check_mean_close(
    "pre-activation BN: E[x_{l+1}²] - E[x_l²], eq. (res-var-linear)",
    np.diff(moments["pre-activation BN"]),
    1.0,
    z_max=4,
    atol=1e-3,
)
check_equal("zero-init: x_50 vs x_0", stream_runs["zero-init last layer"]["final"], gaussian_batch)
check_close(
    "zero-init: ‖g_l‖ vs ‖g_50‖ at every block",
    stream_runs["zero-init last layer"]["grad"],
    np.full(N_BLOCKS + 1, stream_runs["zero-init last layer"]["grad"][-1]),
    atol=1e-12,
)
for kind, run in stream_runs.items():
    print(
        f"{kind:>21}: E[x²] from {run['moment'][0]:.3f} to {run['moment'][-1]:.3g}, "
        f"‖g_0‖ / ‖g_50‖ = {run['grad'][0] / run['grad'][-1]:.3g}"
    )

# %%
STREAM_STYLES = {
    "unnormalised": (PALETTE[1], "-"),
    "scaled by 1/√L": (PALETTE[0], "-"),
    "pre-activation BN": (PALETTE[2], "-"),
    "zero-init last layer": ("k", ":"),
}
blocks_axis = np.arange(N_BLOCKS + 1)
fig, (ax_moment, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.4))
for kind, run in stream_runs.items():
    colour, style = STREAM_STYLES[kind]
    ax_moment.semilogy(blocks_axis, run["moment"], color=colour, ls=style, label=kind)
    ax_grad.semilogy(blocks_axis, run["grad"], color=colour, ls=style, label=kind)
ax_moment.semilogy(
    blocks_axis,
    moments["unnormalised"][0] * 2.0**blocks_axis,
    color="0.6",
    lw=0.8,
    ls="--",
    label=r"$2^l\,\mathbb{E}[x_0^2]$",
)
ax_moment.plot(
    blocks_axis,
    moments["pre-activation BN"][0] + blocks_axis,
    color="0.6",
    lw=0.8,
    ls="-.",
    label=r"$\mathbb{E}[x_0^2]+l$",
)
ax_moment.set(xlabel="block l", ylabel=r"$\mathbb{E}[x_{l,i}^2]$", title="Forward: the stream")
ax_grad.set(xlabel="block l", ylabel=r"$\|g_l\|$", title="Backward: the gradient")
ax_moment.legend(fontsize=8)
growth = {kind: run["moment"][-1] / run["moment"][0] for kind, run in stream_runs.items()}
fig.suptitle(
    f"Over 50 blocks: unnormalised branches multiply E[x²] by {growth['unnormalised']:.0e}, "
    f"BN branches by {growth['pre-activation BN']:.0f} (+1 per block), "
    f"branches scaled by 1/√L by {growth['scaled by 1/√L']:.2f} (≈ e)"
)
plt.show()

# %% [markdown]
# The backward panel mirrors the forward one: with unnormalised branches the gradient
# explodes toward the input (the printed ratio $\lVert g_0\rVert/\lVert g_{50}\rVert$), so a
# residual connection is no protection against *exploding* gradients, only against their
# vanishing. Scaling the branches or zero-initialising them removes the growth without any
# normalisation layer; that is the idea of Fixup {cite}`zhang2019fixup` and SkipInit
# {cite}`de2020batch`.
#
# ### 3. The degradation problem
#
# MLPs of 4, 16 and 32 linear layers (1, 7 and 15 blocks, width 64, BN in every layer, He
# initialisation) trained on all 1797 digits, once plain and once residual with the same
# initial weights (`plain_twin`). A fourth residual run of depth 32 zero-initialises the last
# BN's $\gamma$ in every block. Same minibatches of 128 for every run, SGD with momentum 0.9
# and learning rate 0.1, 100 steps, float32 on `get_device()`. The quantity is the
# **training** loss. The legend gives each net's first-layer gradient norm at step 0, to show
# that the plain nets do not start with vanishing gradients.

# %%
device = get_device()
DEPTHS, TRAIN_STEPS, TRAIN_BATCH, LEARNING_RATE = (4, 16, 32), 100, 128, 0.1
train_x = torch.tensor(digits_x, dtype=torch.float32, device=device)  # (N, 64)
train_y = torch.tensor(digits_y, device=device)  # (N,)


def train(model: nn.Module) -> dict[str, object]:
    """SGD on the digits; minibatch losses, first-layer gradient norm at step 0, the model."""
    model = model.to(device=device, dtype=torch.float32).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9, foreach=True)
    batches = torch.Generator().manual_seed(0)  # the same minibatches for every run
    losses, first_layer_norm = [], 0.0
    for step in range(TRAIN_STEPS):
        index = torch.randint(0, len(train_x), (TRAIN_BATCH,), generator=batches).to(device)
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            first_layer_norm = next(iter(gradient_norms(model).values()))
        optimizer.step()
        losses.append(loss.item())
    return dict(loss=np.array(losses), first=first_layer_norm, model=model)


train_configs = [(depth, kind) for depth in DEPTHS for kind in ("plain", "residual")]
train_configs.append((32, "residual, zero γ"))
train_runs = {}
for depth, kind in tqdm(train_configs, desc="training", leave=False):
    torch.manual_seed(0)
    model = ResidualMLP(64, 64, 10, n_blocks=(depth - 2) // 2)
    if kind == "plain":
        model = plain_twin(model)
    elif kind == "residual, zero γ":
        for block in model.blocks:
            zero_init_branch_(block)
    train_runs[depth, kind] = train(model)

final_loss = {key: float(run["loss"][-20:].mean()) for key, run in train_runs.items()}
for (depth, kind), run in train_runs.items():
    print(
        f"depth {depth:2d}, {kind:<16}: ‖∂L/∂W_1‖ at step 0 {run['first']:.2f}, "
        f"mean training loss over the last 20 steps {final_loss[depth, kind]:.4f}"
    )

# %%
check_true(
    "plain nets: the training loss grows with depth (4 < 16 < 32)",
    bool(final_loss[4, "plain"] < final_loss[16, "plain"] < final_loss[32, "plain"]),
    " < ".join(f"{final_loss[d, 'plain']:.4f}" for d in DEPTHS),
)
check_true(
    "depth 32: plain ends ≥ 5× above its residual twin",
    bool(final_loss[32, "plain"] > 5 * final_loss[32, "residual"]),
    f"{final_loss[32, 'plain']:.3f} vs {final_loss[32, 'residual']:.4f}",
)
best_shallow = min(final_loss[4, "plain"], final_loss[4, "residual"])
check_true(
    "depth 32 with zero γ: below the default residual net, within 2× of the best 4-layer net",
    bool(
        final_loss[32, "residual, zero γ"] < final_loss[32, "residual"]
        and final_loss[32, "residual, zero γ"] < 2 * best_shallow
    ),
    f"{final_loss[32, 'residual, zero γ']:.4f} vs {final_loss[32, 'residual']:.4f} "
    f"and {best_shallow:.4f}",
)
check_true(
    "plain 32 does not start with a vanishing first-layer gradient",
    bool(train_runs[32, "plain"]["first"] > train_runs[32, "residual"]["first"]),
    f"{train_runs[32, 'plain']['first']:.2f} vs residual {train_runs[32, 'residual']['first']:.2f}",
)


# %%
def smooth(values: np.ndarray, span: int = 10) -> np.ndarray:
    """Trailing moving average over `span` steps, for readable minibatch curves."""
    kernel = np.ones(span) / span
    return np.convolve(values, kernel, mode="valid")


DEPTH_COLOURS = dict(zip(DEPTHS, PALETTE[:3], strict=True))
fig, ax = plt.subplots(figsize=(8, 4.4))
for (depth, kind), run in train_runs.items():
    style = {"plain": "--", "residual": "-", "residual, zero γ": ":"}[kind]
    curve = smooth(run["loss"])
    ax.semilogy(
        np.arange(len(curve)) + 10,
        curve,
        color=DEPTH_COLOURS[depth],
        ls=style,
        lw=2.2 if kind == "residual, zero γ" else 1.6,
        label=f"{depth} layers, {kind} (‖∂L/∂W₁‖₀ = {run['first']:.2f})",
    )
ax.set(
    xlabel="SGD step",
    ylabel="training loss (cross-entropy, 10-step average)",
    title=f"Plain BN nets degrade with depth (32 layers: {final_loss[32, 'plain']:.2f}, "
    f"4 layers: {final_loss[4, 'plain']:.3f}); residual 32: {final_loss[32, 'residual']:.3f}",
)
ax.legend(fontsize=8, loc="lower left", ncols=2)
plt.show()

# %% [markdown]
# Read the numbers above against the Derivation. All six nets of the first two rows share the
# initial weights depth for depth, they see the same minibatches, and the plain 32-layer net
# starts with the *largest* first-layer gradient, not the smallest. Yet its training loss
# stays far above that of the 4-layer net, which the 32-layer net could imitate exactly: the
# degradation problem of {cite:t}`he2016deep`, in a few seconds on a CPU. With the shortcuts
# the deep net no longer falls behind by orders of magnitude. In this short budget the
# residual net of depth 32 with the default $\gamma=1$ still ends a few times above the
# shallow ones; when its blocks start as the identity (zero $\gamma$) it follows the shallow
# nets' curve from the first step, since at initialisation it *is* a shallow net (stem and
# head) with 15 identity blocks in between.
#
# ### 4. Deleting one block after training
#
# {cite:t}`veit2016residual` deleted single blocks from trained networks at test time: a
# ResNet barely noticed, a plain VGG net collapsed to chance. The same test on the two trained
# 32-layer nets of Experiment 3: replace block $l$ by the identity and measure the loss in
# evaluation mode on the 256 training images of Experiment 1. In the residual net this is the
# same as deleting only the branch, since the block's input is non-negative and
# $\operatorname{ReLU}(x+0)=x$.


# %%
def loss_without_block(model: ResidualMLP, deleted: int | None) -> float:
    """Loss on the 256-image batch (eval mode) with block `deleted` left out (the identity)."""
    kept = [block for i, block in enumerate(model.blocks) if i != deleted]
    lesioned = nn.Sequential(model.stem, *kept, model.final, model.head).eval()  # shares weights
    with torch.no_grad():
        return float(F.cross_entropy(lesioned(lesion_x), lesion_y))


lesion_x = x_batch.to(device=device, dtype=torch.float32)  # (256, 64)
lesion_y = y_batch.to(device)


lesion = {}
for kind in ("plain", "residual"):
    trained = train_runs[32, kind]["model"]
    intact = loss_without_block(trained, None)
    lesion[kind] = dict(
        intact=intact,
        deleted=np.array([loss_without_block(trained, i) for i in range(len(trained.blocks))]),
    )
    print(
        f"{kind:>8}: loss {intact:.4f} intact; with one block deleted, median "
        f"{np.median(lesion[kind]['deleted']):.3f}, worst {lesion[kind]['deleted'].max():.3f}"
    )
chance = math.log(10)
check_true(
    "residual: deleting any single block keeps the loss below ln 10 / 2",
    bool(lesion["residual"]["deleted"].max() < chance / 2),
    f"worst {lesion['residual']['deleted'].max():.3f} < {chance / 2:.3f}",
)
check_true(
    "plain: deleting a block costs more than in the residual net (median)",
    bool(np.median(lesion["plain"]["deleted"]) > np.median(lesion["residual"]["deleted"])),
    f"{np.median(lesion['plain']['deleted']):.3f} vs "
    f"{np.median(lesion['residual']['deleted']):.3f}",
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
block_numbers = np.arange(1, len(lesion["plain"]["deleted"]) + 1)
for kind, colour in [("plain", PALETTE[1]), ("residual", PALETTE[0])]:
    ax.semilogy(
        block_numbers,
        lesion[kind]["deleted"],
        "o-",
        color=colour,
        label=f"{kind}, one block deleted",
    )
    ax.axhline(lesion[kind]["intact"], color=colour, ls=":", label=f"{kind}, intact")
ax.axhline(chance, color="0.5", lw=0.8, label="ln 10 (uniform guess)")
ax.set(
    xlabel="deleted block (1 = input side)",
    ylabel="training loss (eval mode)",
    title=f"Deleting a block: residual median {np.median(lesion['residual']['deleted']):.2f}, "
    f"plain median {np.median(lesion['plain']['deleted']):.1f}",
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# In the plain net every deletion sends the loss above that of a uniform guess; in the
# residual net most deletions barely move it, and only the first blocks, which turn the stem's
# features into what the rest expects, cost more (the printed median and worst case).
# A plain net is one path: remove a link and every later layer receives inputs it never saw.
# A residual net is a sum over paths {eq}`res-paths`; deleting block $l$ removes only the
# paths through branch $l$, half of them, and keeps every path that skipped it. This is the
# "ensemble of shallow networks" view, and it is why stochastic depth (dropping random blocks
# during training, {cite:t}`huang2016deep`) works at all.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "ResNets solve the vanishing gradient problem." Is that the reason they work?
# Not the reason they were introduced. {cite:t}`he2016deep` state that vanishing and exploding
# gradients had largely been handled by normalised initialisation and intermediate
# normalisation layers, and that their plain nets with BN had gradients of healthy size; the
# problem was the *degradation* of training error with depth. Experiment 1 shows that a
# plain BN net's gradients do not vanish, and Experiment 3 that it still trains worse. What is
# true is that the identity path guarantees a gradient term $\partial\mathcal L/\partial x_L$
# at every block ({eq}`res-gradient`), which is why residual nets also survive activations
# and initialisations that would make a plain net vanish (the sigmoid net of Experiment 1).
# :::
#
# :::{dropdown} "The deeper plain net is worse because it overfits."
# No: overfitting means a low training error and a high test error. The degradation problem is
# a higher *training* error, for a model class that contains the shallower net's solution.
# Experiment 3 measures only training loss.
# :::
#
# :::{dropdown} Where do BN and ReLU go relative to the addition?
# The original block {eq}`res-post` ends with BN inside the branch and a ReLU after the
# addition, so the shortcut passes through a ReLU at every block and the stream is always
# non-negative. The pre-activation block {cite}`he2016identity` puts BN → ReLU → weights twice
# inside the branch and nothing after the addition: the identity path is then exactly the
# identity, {eq}`res-unrolled` holds, and a final BN + ReLU is needed before the head (the
# `final` module of `ResidualMLP`). He et al. trained a 1001-layer pre-activation ResNet this
# way. Putting BN *after* the addition is worse: it normalises the shortcut too, so the
# identity path is no longer an identity.
# :::
#
# :::{dropdown} Would scaling or gating the shortcut help?
# It hurts. With $x_{l+1}=\lambda x_l+\mathcal F_l(x_l)$ the direct term of
# {eq}`res-gradient` becomes $\lambda^{L-l}g_L$: vanishing for $\lambda<1$, exploding for
# $\lambda>1$ (Check yourself, question 1). {cite:t}`he2016identity` tried constant scaling,
# gates and 1×1 convolutions on the shortcut, and all trained worse than the identity.
# Highway networks {cite}`srivastava2015highway` came first with a learned gate,
# $y=T(x)\odot\mathcal H(x)+(1-T(x))\odot x$. A residual block is the gate-free special case,
# whose shortcut cannot close.
# :::
#
# :::{dropdown} When is a projection shortcut needed, and what does it cost?
# Only where the branch changes the shape: a 1×1 convolution with the branch's stride maps
# $x$ to the new number of channels and resolution ({eq}`res-projection`). It costs
# $C_\text{in}C_\text{out}$ weights (plus BN), a noticeable share of a block (Verification),
# and the path through it is no longer an identity. {cite:t}`he2016deep` compared zero-padding
# the new channels (A), projections only where shapes change (B) and projections everywhere
# (C): B and C were only marginally better than A, so projections everywhere are not worth
# their cost. The deeper ResNets (50 layers and more) use bottleneck blocks, 1×1 → 3×3 → 1×1,
# to keep the 3×3 convolution narrow.
# :::
#
# :::{dropdown} How do residual connections appear in transformers?
# Every attention and MLP sublayer is a residual branch. The original transformer used
# post-norm, $\operatorname{LN}(x+\mathcal F(x))$: a normalisation on the main path, like BN
# after the addition, which needs a learning-rate warm-up to train. Most current models use
# pre-norm, $x+\mathcal F(\operatorname{LN}(x))$, the pre-activation ResNet idea: a clean
# identity path, and a residual stream whose variance grows linearly with depth
# ({eq}`res-var-linear`) {cite}`xiong2020layer`. Hence the final LayerNorm before the output
# head, and initialisations that scale the branches' output projections down with depth
# (GPT-2 uses $1/\sqrt N$ for $N$ residual layers, {cite:t}`radford2019language`, the
# $\alpha=1/\sqrt L$ of {eq}`res-var-exp`). Chapter 09 of the NLP part measures both orders.
# :::
#
# :::{dropdown} What is stochastic depth, and why does it work?
# During training each block's branch is dropped with a probability that grows with depth
# (to 0.5 for the last block), so $x_{l+1}=x_l$ for that minibatch; at test time every branch
# is used, scaled by its survival probability {cite}`huang2016deep`. Training gets cheaper and
# regularised, and a net of over 1000 layers trained better this way. It only works because
# the identity path keeps the network valid with a block missing, which is Experiment 4 seen
# from the training side.
# :::
#
# :::{dropdown} If the plain BN net's gradients do not vanish, why does it train worse?
# Partly because they are too *large* near the input (Experiment 1), which limits the usable
# learning rate. {cite:t}`balduzzi2017shattered` add a second reason: in a deep plain net the
# gradient with respect to the input decorrelates between nearby inputs, until it looks like
# white noise (the correlation decays exponentially with depth, like $2^{-L}$ for ReLU), so a
# gradient step says little about the loss nearby. In a residual net it decays only
# sublinearly (like $1/\sqrt L$). Neither is "the gradient is zero".
# :::
#
# :::{dropdown} Do residual networks need batch normalisation?
# No. BN keeps a pre-activation stream's growth linear ({eq}`res-var-linear`), but scaling the
# branches does the same job: zero-initialise the last layer of each branch and scale the
# others with depth (Fixup, {cite:t}`zhang2019fixup`), or multiply each branch by a learnable
# scalar that starts at 0 (SkipInit, {cite:t}`de2020batch`). Experiment 2's scaled and
# zero-initialised stacks have no normalisation layer and stay bounded.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. He et al. tried scaling the shortcut by $\lambda=0.5$. With all branches at zero, by what
#    factor does the gradient at the input of a 54-block net differ from $g_L$? And with
#    $\lambda=1$? The next cell builds the net and checks.
#
#    :::{dropdown} Answer
#    With $\mathcal F_l\equiv0$, $x_{l+1}=\lambda x_l$, so $g_0=\lambda^{54}g_L$:
#    $0.5^{54}\approx5.6\times10^{-17}$, a vanished gradient in a net whose branches do
#    nothing, against exactly $g_L$ for $\lambda=1$.
#    :::

# %%
torch.manual_seed(5)
readout_check = torch.randn(16)
for shortcut_scale in (0.5, 1.0):
    blocks = [
        zero_init_branch_(ResidualBlock(unnormalised_branch(16, 1.0), shortcut=None))
        for _ in range(54)
    ]
    x_leaf = torch.randn(1, 16, requires_grad=True)
    stream = x_leaf
    for block in blocks:
        stream = shortcut_scale * stream + block.branch(stream)  # λ x + F(x)
    (stream[0] @ readout_check).backward()
    check_close(
        f"λ = {shortcut_scale}: g_0 vs λ^54 g_L",
        x_leaf.grad[0],
        shortcut_scale**54 * readout_check,
        atol=0.0,
        rtol=1e-12,
    )
print(f"0.5^54 = {0.5**54:.2e}")

# %% [markdown]
# 2. A toy version of Veit et al.'s path analysis: 54 blocks whose branches all scale the
#    gradient by the same number $a=0.25$ (scalars instead of Jacobians). Which path length
#    carries the most gradient, and what share of the gradient comes from paths through at
#    most 17 branches? The next cell computes the shares from {eq}`res-path-count` and checks
#    them against the coefficients of the expanded product $\prod_l(1+a\,t)$.
#
#    :::{dropdown} Answer
#    By {eq}`res-paths` the gradient is $(1+a)^{54}$, and the paths through $k$ branches
#    contribute $\binom{54}{k}a^k$ of it. The share is a binomial distribution with $p=a/(1+a)
#    =0.2$: it peaks at $k=10$–$11$ (mean $54\cdot0.2=10.8$), and paths of at most 17 branches
#    carry nearly all of it (printed below), although the typical path passes through 27.
#    :::

# %%
n_paths_blocks, branch_gain = 54, 0.25
shares = (
    np.array([math.comb(n_paths_blocks, k) * branch_gain**k for k in range(n_paths_blocks + 1)])
    / (1 + branch_gain) ** n_paths_blocks
)  # eq. (res-path-count), normalised
product_coefficients = np.polynomial.polynomial.polypow([1.0, branch_gain], n_paths_blocks)
check_close(
    "C(54, k) a^k vs coefficients of (1 + a t)^54",
    shares,
    product_coefficients / product_coefficients.sum(),
    atol=1e-12,
)
check_close("shares sum to 1", shares.sum(), 1.0, atol=1e-12)
print(
    f"most gradient at k = {int(np.argmax(shares))} branches; "
    f"paths through ≤ 17 branches carry {shares[:18].sum():.1%}; "
    f"paths through ≤ 17 are {sum(math.comb(54, k) for k in range(18)) / 2**54:.2%} of all paths"
)

# %% [markdown]
# 3. To make a residual MLP start as the identity you zero-initialise *both* linear layers of
#    every branch (biases zero too). What happens during training?
#
#    :::{dropdown} Answer
#    Nothing happens in the branches, ever. The gradient of the last layer is $\delta\,h^\top$
#    with $h=\operatorname{ReLU}(W_1x+b_1)=0$, and the gradient of the first layer passes
#    through $W_2=0$: both are exactly zero, so the weights never leave zero and only the
#    layers outside the branches learn. Zero only the *last* layer: its input $h$ is then
#    non-zero and it starts learning at once (the cell below checks both).
#    :::

# %%
torch.manual_seed(6)
for zeroed in ("last layer", "both layers"):
    block = zero_init_branch_(ResidualBlock(unnormalised_branch(16, 1.0)))
    if zeroed == "both layers":
        nn.init.zeros_(block.branch[0].weight)
    block(torch.randn(8, 16)).pow(2).sum().backward()
    first, last = gradient_norms(block).values()
    print(f"{zeroed:>11} zeroed: ‖∂L/∂W_1‖ = {first:.3g}, ‖∂L/∂W_2‖ = {last:.3g}")
    if zeroed == "last layer":
        check_true("last layer zeroed: W_2 gets a gradient", bool(last > 0), f"{last:.3g}")
    else:
        check_equal("both zeroed: gradients of W_1 and W_2", np.array([first, last]), np.zeros(2))

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`he2016deep`: Section 1 and Figs. 1 and 4 (the degradation problem, plain nets with
#   BN and healthy gradients), Section 3 (residual learning, projection shortcuts), Section 4.1
#   (plain vs residual 18/34-layer nets, shortcut options A/B/C), Section 4.2 (the CIFAR
#   layout with $6n+2$ layers that `SmallResNet` shrinks).
# - {cite:t}`he2016identity`: Section 2 (the unrolled stream and gradient, {eq}`res-unrolled`
#   and {eq}`res-gradient`), Section 3 (scaled and gated shortcuts), Section 4 (the
#   pre-activation block and the 1001-layer net).
# - {cite:t}`veit2016residual`: the unrolled view as a sum over paths, the lesion study, and
#   the effective path lengths in a 110-layer ResNet.
# - {cite:t}`srivastava2015highway`: highway networks, the gated shortcut.
# - {cite:t}`goyal2017accurate`: the initialisation of $\gamma=0$ in the last BN of each
#   residual block.
# - {cite:t}`zhang2019fixup`: Fixup, zero-initialised residual branches with depth-dependent
#   scaling and no normalisation.
# - {cite:t}`de2020batch`: BN in residual branches scales them down relative to the skip by
#   about $\sqrt l$ (the linear growth of {eq}`res-var-linear`); SkipInit.
# - {cite:t}`balduzzi2017shattered`: shattered gradients in plain vs residual nets.
# - {cite:t}`yang2019mean`: gradient explosion at initialisation in deep plain nets with BN.
# - {cite:t}`huang2016deep`: stochastic depth.
# - {cite:t}`xiong2020layer`: pre-norm vs post-norm transformers and the warm-up that
#   post-norm needs; {cite:t}`radford2019language`, Section 2.3: GPT-2's $1/\sqrt N$ scaling
#   of the residual layers at initialisation.

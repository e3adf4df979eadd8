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
# # 09. Pre-norm vs post-norm, and where RoPE goes
#
# **The question.** In what order are the norm, RoPE and the residual connection applied? What
# is the difference between pre-norm and post-norm?
#
# **What you will be able to answer.** Write both block orders as equations, with RoPE in its
# one place (the projected queries and keys, never the MLP), and the final norm that pre-norm
# needs; say why the pre-norm residual stream grows with depth while post-norm's does not, why
# post-norm's output-side gradients do not shrink with depth while pre-norm's do, and what that
# does to training at a high learning rate, with and without warm-up.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.data import token_task_batch
from notebook_utils.devices import get_device
from notebook_utils.gpt import GPT, Block, GPTConfig, apply_rope, rope_cos_sin
from notebook_utils.nn import gradient_norms
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **Two sub-layers, two orders.** A block has an attention sub-layer and an MLP sub-layer,
#   each with its own norm $\operatorname{N}$ and its own residual connection. **Pre-norm**
#   (GPT-2, LLaMA and most current LLMs) normalises the *input of each branch* and leaves the
#   residual stream alone: $h=x+\operatorname{MHA}(\operatorname{N}_1(x))$,
#   $y=h+\operatorname{FFN}(\operatorname{N}_2(h))$, and one **final norm** before the LM
#   head. **Post-norm** (the original Transformer) normalises *after each addition*:
#   $h=\operatorname{N}_1(x+\operatorname{MHA}(x))$,
#   $y=\operatorname{N}_2(h+\operatorname{FFN}(h))$.
# - **Where RoPE goes.** Inside attention only: project $Q,K,V$ from the (normalised)
#   input, rotate $Q$ and $K$ by their positions, then take the dot products. RoPE never
#   touches $V$, the residual stream or the MLP. The notes' single chain
#   "Norm → QKV → RoPE → Attention/MLP → Residual" merges the two sub-layers: the MLP has no
#   QKV and no RoPE.
# - **Pre-norm trains easily.** Each layer *adds* to an un-normalised stream, so every layer
#   has an identity path to the output, and gradients at initialisation are well behaved.
#   Deep pre-norm models train at high learning rates without warm-up
#   {cite}`xiong2020layer`. The price: the stream's variance grows with depth (with unit,
#   uncorrelated sub-layer outputs, $1+L$ after $L$ sub-layers), so each later layer changes
#   the stream by a smaller fraction: later layers contribute less.
# - **Post-norm keeps the stream at unit scale**, but every gradient passes through all the
#   norms above it, and the last layers' gradients do not shrink with depth while pre-norm's
#   shrink like $1/\sqrt L$. At a high learning rate it needs a warm-up, or it fails. In this
#   notebook, at AdamW lr $5\cdot10^{-3}$, a 6-layer post-norm model stays at chance on a
#   reversal task that pre-norm learns, with or without a 100-step warm-up (the numbers are
#   printed in the Experiments).
# - **Variants** mix the two: sandwich norm (Gemma 2 normalises each branch's input *and*
#   output), DeepNorm (post-norm with an up-weighted residual), QK-norm (normalise $q$ and $k$
#   inside attention).

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x\in\mathbb R^{T\times d}$ | the residual stream entering a block, a row per token | `x` |
# | $\operatorname{N}$ | a norm with gain $\gamma$ and bias $\beta$ (LayerNorm here) | `norm1` |
# | $W_Q,W_K,W_V,W_O$ | attention projections; $h$ heads of width $d_h=d/h$ | `attn.qkv` |
# | $R_p$ | the RoPE rotation for position $p$, acting on one head's $d_h$ dims | `rotate` |
# | $\operatorname{FFN}$ | the MLP, $\operatorname{GELU}(uW_1+b_1)W_2+b_2$ | `mlp.up`, `mlp.down` |
# | $L$ | number of blocks; $2L$ sub-layers | `n_layer` |
# | $f_k$ | the output of sub-layer $k$ (its branch), before it is added | |
#
# ### The norm
#
# LayerNorm {cite}`ba2016layer` centres and scales each token's vector $z\in\mathbb R^d$,
# then applies a learned gain and bias (chapter 07 compares it with RMSNorm):
#
# $$
# \operatorname{N}(z)=\gamma\odot\frac{z-\mu}{\sqrt{\sigma^2+\epsilon}}+\beta,\qquad
# \mu=\frac1d\sum_i z_i,\quad \sigma^2=\frac1d\sum_i(z_i-\mu)^2
# $$ (prepost-ln)
#
# With $\gamma=1,\beta=0$ (their initial values) every output row has mean exactly 0 and
# variance $\sigma^2/(\sigma^2+\epsilon)$, which is 1 up to $\epsilon$, *whatever the scale
# of $z$*.
#
# ### Attention, with RoPE in its place
#
# For an input $u$ (the normalised stream in pre-norm, the raw stream in post-norm), head
# $j$ at query position $m$ and key position $n$:
#
# $$
# q_m=R_m\,(u_mW_Q^{(j)}),\quad k_n=R_n\,(u_nW_K^{(j)}),\quad v_n=u_nW_V^{(j)},\qquad
# \operatorname{MHA}(u)_m=\Big[\textstyle\sum_{n\le m}
# \operatorname{softmax}_n\big(q_m^\top k_n/\sqrt{d_h}\big)\,v_n\Big]_{j=1..h}W_O
# $$ (prepost-attn)
#
# RoPE comes **after** the projection because only there does it make the score relative:
# $R_m$ is a rotation, so $q_m^\top k_n=(u_mW_Q)^\top R_m^\top R_n(u_nW_K)=(u_mW_Q)^\top
# R_{n-m}(u_nW_K)$ depends on the positions only through $n-m$ (chapter 03 derives RoPE).
# Rotating the input *before* the projection would give
# $u_m^\top R_m^\top W_QW_K^\top R_n u_n$, and $W_QW_K^\top$ does not commute with the
# rotations, so absolute positions leak in. The values are not rotated: they carry content,
# and the mixing weights already know the offsets. The rotation here is the "half-split"
# pairing of the shared model (dimension $i$ turns with $i+d_h/2$) at angle $p\,\theta_i$,
# $\theta_i=b^{-2i/d_h}$, $b=10^4$:
#
# $$
# R_p\,z=z\odot\cos(p\theta)+\operatorname{rot}(z)\odot\sin(p\theta),\qquad
# \operatorname{rot}(z)=[-z_{d_h/2+1:d_h},\ z_{1:d_h/2}]
# $$ (prepost-rope)
#
# The MLP acts on each token alone; it has no $Q$, $K$, $V$ and nothing to rotate:
#
# $$
# \operatorname{FFN}(u)=\operatorname{GELU}(uW_1+b_1)\,W_2+b_2
# $$ (prepost-ffn)
#
# ### The two orders
#
# **Pre-norm** normalises inside each branch, and the stream is a plain sum:
#
# $$
# h=x+\operatorname{MHA}(\operatorname{N}_1(x)),\qquad
# y=h+\operatorname{FFN}(\operatorname{N}_2(h))
# $$ (prepost-pre)
#
# Nothing normalises the stream itself, so after the last block a final norm is needed
# before the head (GPT-2 added it when it moved the norms into the branches
# {cite}`radford2019language`):
#
# $$
# \text{logits}=\operatorname{N}_\text{final}(x_L)\,W_\text{LM}
# $$ (prepost-final)
#
# **Post-norm** {cite}`vaswani2017attention` normalises after each addition:
#
# $$
# h=\operatorname{N}_1(x+\operatorname{MHA}(x)),\qquad y=\operatorname{N}_2(h+\operatorname{FFN}(h))
# $$ (prepost-post)
#
# Its stream is already normalised at the end of every block, so no final norm is needed. In
# both orders RoPE sits in the same place, inside {eq}`prepost-attn`: the order of the norms
# does not move it.
#
# ### The pre-norm stream grows with depth
#
# Unroll {eq}`prepost-pre` over $K=2L$ sub-layers: the stream is the embedding plus the sum of
# every branch output,
#
# $$
# x_K=x_0+\sum_{k=1}^{K}f_k,\qquad f_k=F_k\big(\operatorname{N}(x_{k-1})\big)
# $$ (prepost-unroll)
#
# The norm makes each branch's input unit-scale, so the size of $f_k$ does not depend on the
# size of the stream. If the $f_k$ have mean 0 and are uncorrelated with each other and with
# $x_0$ (true at initialisation, where each branch has its own independent random weights),
# the variances add:
#
# $$
# \operatorname{Var}(x_K)=\operatorname{Var}(x_0)+\sum_{k=1}^{K}\operatorname{Var}(f_k)
# \;=\;1+K\quad\text{for unit variances}
# $$ (prepost-var)
#
# For $K=24$ unit-variance sub-layer outputs on a unit-variance embedding, the stream has
# variance 25 (simulated below). Two consequences:
#
# - **Later layers contribute less.** Sub-layer $k$ changes the stream by a fraction
#   $\operatorname{Var}(f_k)/\operatorname{Var}(x_{k-1})=1/k$: the first sub-layer doubles
#   the variance, the 24th adds only 1/24 of what is already there. This is the usual reading
#   of why deep layers of pre-norm LLMs can be removed with little loss, and of the
#   "representation collapse" of pre-norm, where consecutive layers' representations become
#   almost the same {cite}`xie2023residual,sun2025curse`.
# - **The final norm shrinks the gradient.** The next subsection shows that a norm divides
#   the gradient flowing back through it by $\sigma$, the standard deviation of its input. In
#   pre-norm, every branch writes into the stream with the identity and reaches the head
#   through $\operatorname{N}_\text{final}$, whose input has $\sigma=\sqrt{1+K}$. So the
#   gradients of the weights near the output fall like $1/\sqrt L$.
#
# In post-norm, every addition is renormalised to unit variance, so the stream never grows.
# The cost is that the embedding's contribution to $x_K$ is divided at every norm by the
# standard deviation of the sum, $\sqrt{1+\operatorname{Var}(f_k)}$: there is no clean
# identity path from input to output.
#
# ### How a norm scales the gradient
#
# Differentiate {eq}`prepost-ln` with $\gamma=1,\beta=0$, writing $s=\sqrt{\sigma^2+\epsilon}$
# and $n=(z-\mu)/s$ for the output. With $\partial\mu/\partial z_j=1/d$ and
# $\partial s/\partial z_j=(z_j-\mu)/(ds)=n_j/d$:
#
# $$
# \frac{\partial n}{\partial z}=\frac1s\Big(I-\frac{\mathbf 1\mathbf 1^\top}{d}
# -\frac{nn^\top}{d}\Big)
# $$ (prepost-ln-jacobian)
#
# The matrix in brackets removes the mean direction and (up to $\epsilon$) the direction of
# $n$, and leaves every other direction as it is, so its spectral norm is 1 and
# $\|\partial n/\partial z\|_2=1/s$. Backpropagation through a norm divides the gradient by
# the standard deviation of the norm's input. This is {cite:t}`xiong2020layer`'s result, in
# one line: at initialisation, the gradient of the last layer's weights does not depend on
# $L$ in post-norm (the last norm's input has variance about $1+\operatorname{Var}(f)$ for
# any depth), and shrinks like $1/\sqrt L$ in pre-norm (variance $1+2L\operatorname{Var}(f)$
# by {eq}`prepost-var`). With a large learning rate, the large output-side gradients of a
# deep post-norm model give large early updates of the layers nearest the output; a
# warm-up keeps the first steps small until the optimiser's statistics settle.
#
# ### A warm-up
#
# A linear warm-up multiplies the peak learning rate $\eta$ by a ramp over the first $W$
# steps:
#
# $$
# \eta_t=\eta\,\min\Big(1,\frac{t+1}{W}\Big),\qquad t=0,1,2,\dots
# $$ (prepost-warmup)
#
# {cite:t}`liu2020understanding` add a caveat to the gradient story. Adam divides each
# gradient by its own running scale, so the *size* of a gradient alone cannot explain the
# failure. They point instead to how strongly post-norm's output depends on its residual
# branches: a small change in the weights is amplified through the stack of norms, and large
# early updates push the model into a bad region. Their fix, Admin, rescales the residual
# at initialisation.
#
# ### Variants
#
# - **Sandwich norm** normalises the input and the output of each branch, and keeps the
#   un-normalised stream of pre-norm: $h=x+\operatorname{N}_\text{post}(\operatorname{MHA}
#   (\operatorname{N}_\text{pre}(x)))$. It was introduced for CogView {cite}`ding2021cogview`;
#   Gemma 2 uses it with RMSNorm around both sub-layers {cite}`team2024gemma2`. Each branch
#   then adds a unit-scale vector, whatever its weights do.
# - **DeepNorm** {cite}`wang2022deepnet` keeps post-norm but up-weights the residual,
#   $x_{l+1}=\operatorname{N}(\alpha x_l+F(x_l))$, and scales down the initial weights of the
#   MLP and of the value and output projections by $\beta$. For an $N$-layer decoder-only
#   model $\alpha=(2N)^{1/4}$ and $\beta=(8N)^{-1/4}$; this bounds the size of each update and
#   trained post-norm models to 1,000 layers.
# - **QK-norm** {cite}`henry2020query,dehghani2023scaling` normalises $q$ and $k$ per head
#   inside {eq}`prepost-attn`, before the dot product (and, in LLMs that use it with RoPE,
#   before the rotation). It bounds the attention logits, which otherwise grow during
#   training until the softmax saturates.

# %% [markdown]
# ## Implementation from scratch
#
# LayerNorm, {eq}`prepost-ln`, with the biased variance, as `nn.LayerNorm` computes it:


# %%
def layer_norm(
    x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """eq. (prepost-ln) over the last axis of x (..., d)."""
    mean = x.mean(-1, keepdim=True)  # (..., 1)
    var = x.var(-1, unbiased=False, keepdim=True)  # (..., 1): divides by d, not d - 1
    return gain * (x - mean) / torch.sqrt(var + eps) + bias


class LayerNormFromScratch(nn.Module):
    """eq. (prepost-ln) as a module; `weight` and `bias` are named as in nn.LayerNorm."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # gain γ
        self.bias = nn.Parameter(torch.zeros(d_model))  # β

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, self.weight, self.bias, self.eps)


# %% [markdown]
# The RoPE tables and the rotation, {eq}`prepost-rope`, in float64:


# %%
def rope_tables(
    positions: torch.Tensor, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos(p θ_i) and sin(p θ_i), θ_i = base^(-2i/head_dim), each angle for both halves."""
    theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (hd/2,)
    angles = positions.to(torch.float64)[:, None] * theta  # (T, hd/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, hd): dimension i pairs with i + hd/2
    return angles.cos(), angles.sin()


def rotate(z: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """eq. (prepost-rope): R_p z for z of shape (..., T, hd) and tables (T, hd)."""
    half = z.shape[-1] // 2
    rotated_half = torch.cat([-z[..., half:], z[..., :half]], dim=-1)  # rot(z), (..., T, hd)
    return z * cos + rotated_half * sin


# %% [markdown]
# What both block orders share: two norms, causal multi-head attention
# {eq}`prepost-attn` with RoPE on the projected queries and keys
# ([chapter 01](01_self_attention.ipynb) builds attention itself step by step), and the MLP
# {eq}`prepost-ffn`. The parameters are named as in the shared `Block`, so its weights load
# with `load_state_dict(strict=True)`, which also checks that the two have exactly the same
# parameters. `trace` returns each sub-layer's branch output and the stream after it, for the
# experiments; `forward` returns the block's output.


# %%
class BlockSublayers(nn.Module):
    """The norms, attention and MLP of one block; subclasses fix the order."""

    def __init__(self, d_model: int, n_head: int, d_ff: int) -> None:
        super().__init__()
        self.n_head, self.head_dim = n_head, d_model // n_head
        self.norm1 = LayerNormFromScratch(d_model)
        self.norm2 = LayerNormFromScratch(d_model)
        self.attn = nn.ModuleDict(
            {"qkv": nn.Linear(d_model, 3 * d_model), "proj": nn.Linear(d_model, d_model)}
        )
        self.mlp = nn.ModuleDict({"up": nn.Linear(d_model, d_ff), "down": nn.Linear(d_ff, d_model)})

    def attention(
        self, u: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor:
        """eq. (prepost-attn): u (B, T, d) -> (B, T, d)."""
        b, t, d = u.shape
        q, k, v = self.attn["qkv"](u).split(d, dim=-1)  # (B, T, d) each
        q, k, v = (z.view(b, t, self.n_head, self.head_dim).transpose(1, 2) for z in (q, k, v))
        if rope is not None:  # RoPE here: after the projection, on q and k only
            q, k = rotate(q, *rope), rotate(k, *rope)  # (B, H, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T)
        causal = torch.ones(t, t, dtype=torch.bool, device=u.device).tril()  # key n <= query m
        weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)  # (B, H, T, T)
        heads = (weights @ v).transpose(1, 2).reshape(b, t, d)  # (B, T, H·hd)
        return self.attn["proj"](heads)

    def ffn(self, u: torch.Tensor) -> torch.Tensor:
        """eq. (prepost-ffn): position-wise, no QKV and no RoPE."""
        return self.mlp["down"](F.gelu(self.mlp["up"](u), approximate="tanh"))

    def trace(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(attention branch, stream after it), (MLP branch, stream after it)]."""
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        return self.trace(x, rope)[-1][1]


# %% [markdown]
# The two orders differ only in where the norms sit. Pre-norm, {eq}`prepost-pre`:


# %%
class PreNormBlock(BlockSublayers):
    def trace(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        attn_out = self.attention(self.norm1(x), rope)  # eq. (prepost-pre): norm inside
        h = x + attn_out  # the stream itself is never normalised
        ffn_out = self.ffn(self.norm2(h))
        y = h + ffn_out
        return [(attn_out, h), (ffn_out, y)]


# %% [markdown]
# Post-norm, {eq}`prepost-post`:


# %%
class PostNormBlock(BlockSublayers):
    def trace(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        attn_out = self.attention(x, rope)  # eq. (prepost-post): the raw stream goes in
        h = self.norm1(x + attn_out)  # norm after the addition
        ffn_out = self.ffn(h)
        y = self.norm2(h + ffn_out)
        return [(attn_out, h), (ffn_out, y)]


# %% [markdown]
# The whole decoder around the blocks: embeddings, the stack, the final norm
# {eq}`prepost-final` **only in pre-norm**, and the LM head. It borrows the shared model's
# embedding tables and head, and copies each of its blocks into one of ours.


# %%
class DecoderFromScratch(nn.Module):
    """Our blocks and final norm, with the embeddings and head of a shared GPT."""

    def __init__(self, model: GPT) -> None:
        super().__init__()
        cfg = model.cfg
        self.shared = model
        self.pre_norm = cfg.norm_position == "pre"
        block_class = PreNormBlock if self.pre_norm else PostNormBlock
        self.blocks = nn.ModuleList(
            block_class(cfg.d_model, cfg.n_head, cfg.ff_dim) for _ in range(cfg.n_layer)
        )
        self.blocks.to(model.head.weight.dtype)  # float32 or float64, as the shared model
        for ours, theirs in zip(self.blocks, model.blocks, strict=True):
            ours.load_state_dict(theirs.state_dict(), strict=True)
        self.final_norm = LayerNormFromScratch(cfg.d_model) if self.pre_norm else None
        if self.final_norm is not None and model.final_norm is not None:
            self.final_norm.to(model.head.weight.dtype)
            self.final_norm.load_state_dict(model.final_norm.state_dict(), strict=True)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.shared.tok_emb(idx)  # (B, T, d)
        if self.shared.pos_emb is not None:  # learned absolute positions, added once
            x = x + self.shared.pos_emb(torch.arange(idx.shape[1], device=idx.device))
        return x

    def trace(
        self, idx: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The embedding x_0 and [(branch f_k, stream x_k)] for every sub-layer k = 1..2L."""
        x0 = x = self.embed(idx)
        states: list[tuple[torch.Tensor, torch.Tensor]] = []
        for block in self.blocks:
            states += block.trace(x, rope)
            x = states[-1][1]
        return x0, states

    def forward(
        self, idx: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x, rope)
        if self.final_norm is not None:
            x = self.final_norm(x)  # eq. (prepost-final): pre-norm only
        return x @ self.shared.head.weight.T  # (B, T, V)


# %% [markdown]
# ## Verification
#
# Everything here runs in float64, so agreement to `atol=1e-12` means the same computation.
#
# ### LayerNorm and its Jacobian
#
# {eq}`prepost-ln` against `F.layer_norm` with a random gain and bias, then
# {eq}`prepost-ln-jacobian` against autograd's Jacobian, and its spectral norm against $1/s$:

# %%
z = 3.0 * torch.randn(4, 7, 32) + 1.5  # (B, T, d): any scale and offset
gain, bias = torch.randn(32), torch.randn(32)
check_close(
    "layer_norm vs F.layer_norm",
    layer_norm(z, gain, bias),
    F.layer_norm(z, (32,), gain, bias, eps=1e-5),
    atol=1e-12,
)


def layer_norm_jacobian(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """eq. (prepost-ln-jacobian) for one vector z of shape (d,), with γ = 1, β = 0."""
    d = z.shape[-1]
    s = torch.sqrt(z.var(unbiased=False) + eps)
    n = (z - z.mean()) / s  # (d,)
    return (torch.eye(d) - torch.ones(d, d) / d - torch.outer(n, n) / d) / s  # (d, d)


z_row = 5.0 * torch.randn(32)  # (d,), standard deviation about 5
autograd_jacobian = torch.autograd.functional.jacobian(
    lambda t: layer_norm(t, torch.ones(32), torch.zeros(32)), z_row
)
check_close(
    "LayerNorm Jacobian vs autograd", layer_norm_jacobian(z_row), autograd_jacobian, atol=1e-12
)
s_row = torch.sqrt(z_row.var(unbiased=False) + 1e-5)
check_close(
    "‖∂N/∂z‖₂ = 1/s (the norm divides gradients by its input's std)",
    torch.linalg.matrix_norm(layer_norm_jacobian(z_row), ord=2),
    1 / s_row,
    atol=1e-12,
)

# %% [markdown]
# ### RoPE
#
# Our tables against `rope_cos_sin`, and our rotation against `apply_rope`. The shared model
# computes the angles in float64 but **stores the tables in float32**, so the tables can only
# agree to float32 rounding; given the same tables, the rotations agree exactly.

# %%
positions = torch.arange(12)
cos64, sin64 = rope_tables(positions, head_dim=16)
cos32, sin32 = rope_cos_sin(positions, head_dim=16)
check_close("cos table vs rope_cos_sin (float32 tables)", cos64, cos32, atol=1e-7)
check_close("sin table vs rope_cos_sin (float32 tables)", sin64, sin32, atol=1e-7)
heads = torch.randn(2, 4, 12, 16)  # (B, H, T, hd)
check_close(
    "rotate vs apply_rope, same tables",
    rotate(heads, cos64, sin64),
    apply_rope(heads, cos64, sin64),
    atol=1e-12,
)

# %% [markdown]
# ### Our blocks against the shared `Block`, both orders
#
# A shared `Block` of each order with random weights (including the norms' gains and biases,
# so that they are tested too), copied into ours; the same input and RoPE tables; outputs
# and input gradients compared.

# %%
SMALL = dict(vocab_size=11, block_size=16, n_layer=2, n_head=4, d_model=32, position="rope")
x_block = torch.randn(3, 10, 32, requires_grad=True)  # (B, T, d)
rope_block = tuple(t.double() for t in rope_cos_sin(torch.arange(10), head_dim=8))
upstream = torch.randn(3, 10, 32)  # a random ∂L/∂y
for order, block_class in [("pre", PreNormBlock), ("post", PostNormBlock)]:
    shared_block = Block(GPTConfig(**SMALL, norm_position=order))
    with torch.no_grad():
        for p in shared_block.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    ours_block = block_class(32, 4, 128)
    ours_block.load_state_dict(shared_block.state_dict(), strict=True)
    out_ours = ours_block(x_block, rope_block)  # (B, T, d)
    out_shared, _ = shared_block(x_block, rope_block)
    check_close(f"{order}-norm block vs shared Block", out_ours, out_shared, atol=1e-12)
    (grad_ours,) = torch.autograd.grad((out_ours * upstream).sum(), x_block)
    (grad_shared,) = torch.autograd.grad((out_shared * upstream).sum(), x_block)
    check_close(f"{order}-norm block ∂L/∂x vs shared Block", grad_ours, grad_shared, atol=1e-12)

# %% [markdown]
# ### The whole model: final norm in pre-norm only
#
# `DecoderFromScratch` against `GPT.forward`, for both orders, with RoPE and with learned
# positions. The pre-norm comparison would fail without the final norm, and the post-norm one
# with it.

# %%
idx = torch.randint(0, 11, (3, 16))  # (B, T) token ids
for order in ("pre", "post"):
    for position in ("rope", "learned"):
        model = GPT(GPTConfig(**{**SMALL, "position": position}, norm_position=order))
        rope = None
        if position == "rope":
            rope = tuple(t.double() for t in rope_cos_sin(torch.arange(16), model.cfg.head_dim))
        check_close(
            f"{order}-norm, {position} positions: logits vs GPT.forward",
            DecoderFromScratch(model)(idx, rope),
            model(idx)[0],
            atol=1e-12,
        )
check_equal(
    "a post-norm GPT has no final norm",
    GPT(GPTConfig(**SMALL, norm_position="post")).final_norm is None,
    True,
)

# %% [markdown]
# ### RoPE belongs after the projection
#
# With RoPE after the projection, attention depends only on offsets: shifting every position
# by the same amount leaves the attention output unchanged (up to float64 rounding of the
# larger angles). Rotating the *input* before the projection, as if RoPE were applied to the
# stream, breaks this.

# %%
block = PreNormBlock(32, 1, 128)  # one head of width 32, so the input can be rotated too
u = torch.randn(2, 10, 32)  # (B, T, d): a normalised stream
shift = 37
tables = rope_tables(torch.arange(10), 32)
tables_shifted = rope_tables(torch.arange(10) + shift, 32)
after = block.attention(u, tables)
after_shifted = block.attention(u, tables_shifted)
check_close(
    "RoPE on q, k: attention unchanged by a shift of positions", after, after_shifted, atol=1e-12
)
before = block.attention(rotate(u, *tables), None)  # rotate the stream, then project
before_shifted = block.attention(rotate(u, *tables_shifted), None)
gap = (before - before_shifted).abs().max().item()
check_true("RoPE on the input: a shift changes the output", gap > 1e-3, f"max abs change {gap:.3f}")

# %% [markdown]
# ### Post-norm outputs have mean 0 and variance 1 per token
#
# With the norms at their initial gain 1 and bias 0, every token of every post-norm block's
# output has mean 0 and variance $\sigma^2/(\sigma^2+\epsilon)$; for $\epsilon=10^{-5}$ that is
# 1 within $10^{-4}$ unless $\sigma^2$ is tiny.

# %%
post_model = GPT(GPTConfig(**{**SMALL, "n_layer": 4}, norm_position="post"))
rope_16 = tuple(t.double() for t in rope_cos_sin(torch.arange(16), head_dim=8))
_, post_states = DecoderFromScratch(post_model).trace(idx, rope_16)
block_outputs = torch.stack([stream for _, stream in post_states[1::2]])  # (L, B, T, d)
check_close(
    "post-norm block outputs: per-token mean",
    block_outputs.mean(-1),
    torch.zeros(block_outputs.shape[:-1]),
    atol=1e-12,
)
check_close(
    "post-norm block outputs: per-token variance",
    block_outputs.var(-1, unbiased=False),
    torch.ones(block_outputs.shape[:-1]),
    atol=1e-4,
)

# %% [markdown]
# ### The pre-norm stream's variance is $1+K$
#
# {eq}`prepost-var`, simulated with a pre-norm stack of $K=24$ random linear sub-layers,
# $f_k=\operatorname{N}(x_{k-1})W_k$ with fresh weights $W_k$ of variance $1/d$ for every
# token, so that the tokens are independent samples. Given $x_{k-1}$, $f_k$ has mean 0 and
# $\mathbb E\|f_k\|^2/d=\|\operatorname{N}(x_{k-1})\|^2/d=1$ (a norm with $\epsilon=0$), and
# it is uncorrelated with everything before it, although it depends on it. So
# $\mathbb E\|x_K\|^2/d=1+K=25$ exactly, and the Monte-Carlo mean must agree within its
# standard error.


# %%
def random_pre_norm_stream(n_tokens: int, n_sublayers: int, d: int) -> torch.Tensor:
    """x_K of eq. (prepost-unroll) with random linear branches; one row per token."""
    x = torch.randn(n_tokens, d)  # x_0, unit variance
    for _ in range(n_sublayers):
        w = torch.randn(n_tokens, d, d) / math.sqrt(d)  # fresh W_k per token, variance 1/d
        normed = layer_norm(x, torch.ones(d), torch.zeros(d), eps=0.0)  # ‖N(x)‖² = d
        x = x + torch.einsum("nd,nde->ne", normed, w)  # x_k = x_{k-1} + f_k
    return x


stream_24 = random_pre_norm_stream(n_tokens=2000, n_sublayers=24, d=16)  # (n, d)
check_mean_close(
    "pre-norm stream after 24 unit sub-layers: E‖x‖²/d = 1 + 24",
    stream_24.pow(2).mean(-1),
    25.0,
    z_max=4,
)

# %% [markdown]
# ## Experiments
#
# ### 1. The residual stream at initialisation, 24 blocks deep
#
# 24-block models (48 sub-layers, $d=64$, RoPE), one of each order for each of two
# initialisations, traced sub-layer by sub-layer on a batch of the task used later.
# {cite:t}`xiong2020layer`'s analysis assumes the original Transformer's initialisation:
# Xavier-uniform matrices (each of $W_Q,W_K,W_V$ separately) and unit-variance token
# embeddings, so that branch outputs and the stream start at comparable scales. The shared
# GPT instead uses GPT-2's initialisation, with weights of standard deviation 0.02 and the
# residual projections scaled down by $1/\sqrt{2L}$ {cite}`radford2019language`; we trace
# that too.

# %%
N_DIGITS, SEP = 8, 10  # reverse 8 digits; token 10 separates source and target
VOCAB = 11
DEEP_LAYERS = 24
INITS = ("xavier", "gpt2")


def reversal_batch(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs [source, SEP, target[:-1]] and next-token targets, each (B, 2·N_DIGITS)."""
    source, target = token_task_batch("reverse", batch, N_DIGITS, 10, generator)  # (B, 8) each
    sequence = torch.cat([source, torch.full((batch, 1), SEP), target], dim=1)  # (B, 17)
    return sequence[:, :-1], sequence[:, 1:]


def xavier_init_(model: GPT) -> GPT:
    """The original Transformer's initialisation: Xavier-uniform matrices, unit embeddings."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("attn.qkv.weight"):
                for w in p.chunk(3, dim=0):  # W_Q, W_K, W_V, each d × d
                    nn.init.xavier_uniform_(w)
            elif name.startswith("blocks") and p.dim() == 2:
                nn.init.xavier_uniform_(p)
        nn.init.normal_(model.tok_emb.weight, std=1.0)
    return model


def deep_model(order: str, n_layer: int, init: str, seed: int = 0) -> GPT:
    """A float32 GPT of the given depth and order, untied head, RoPE, at initialisation."""
    torch.manual_seed(seed)
    cfg = GPTConfig(
        vocab_size=VOCAB,
        block_size=2 * N_DIGITS,
        n_layer=n_layer,
        n_head=4,
        d_model=64,
        norm_position=order,
        position="rope",
        tie_weights=False,
    )
    model = GPT(cfg)
    return (xavier_init_(model) if init == "xavier" else model).float()


probe_inputs, probe_targets = reversal_batch(16, torch.Generator().manual_seed(1))
probe_rope = rope_cos_sin(torch.arange(2 * N_DIGITS), 16)  # float32 tables, as GPT uses
stream_var, branch_var, branch_share = {}, {}, {}
with torch.no_grad():
    for init in INITS:
        for order in ("pre", "post"):
            x0, states = DecoderFromScratch(deep_model(order, DEEP_LAYERS, init)).trace(
                probe_inputs, probe_rope
            )
            variance = [x0.var(-1, unbiased=False).mean().item()]  # per-token variance, x_0
            variance += [x.var(-1, unbiased=False).mean().item() for _, x in states]  # x_1..x_K
            stream_var[init, order] = np.array(variance)
            branch_var[init, order] = np.array(  # Var(f_k), k = 1..K
                [f.var(-1, unbiased=False).mean().item() for f, _ in states]
            )
            previous = [x0] + [x for _, x in states[:-1]]  # x_{k-1}
            branch_share[init, order] = np.array(  # ‖f_k‖ / ‖x_{k-1}‖, averaged over tokens
                [
                    (f.norm(dim=-1) / xp.norm(dim=-1)).mean().item()
                    for (f, _), xp in zip(states, previous, strict=True)
                ]
            )
K = 2 * DEEP_LAYERS
for key, variance in stream_var.items():
    print(
        f"{key[0]:>6} init, {key[1]:>4}-norm: Var(x_0) = {variance[0]:.3g}, "
        f"Var(x_{K}) = {variance[-1]:.3g}, ratio {variance[-1] / variance[0]:.3g}"
    )

# %% [markdown]
# With Xavier initialisation, {eq}`prepost-var` predicts the pre-norm stream's variance from
# the branch variances alone, if the branches are uncorrelated. We check the prediction
# against the measured curve, and the linear growth. The branches are uncorrelated only on
# average over weight draws; with one draw and 256 tokens the cross terms are small but not
# zero, so the tolerance is 10 %.

# %%
predicted = stream_var["xavier", "pre"][0] + np.cumsum(branch_var["xavier", "pre"])
check_close(
    "pre-norm Var(x_k) vs Var(x_0) + Σ Var(f_j), eq. (prepost-var)",
    stream_var["xavier", "pre"][1:] / predicted,
    np.ones(K),
    atol=0.1,
)
slope, intercept = np.polyfit(np.arange(K + 1), stream_var["xavier", "pre"], 1)
residual = stream_var["xavier", "pre"] - (slope * np.arange(K + 1) + intercept)
r_squared = 1 - residual.var() / stream_var["xavier", "pre"].var()
check_true(
    "pre-norm variance grows linearly in k",
    r_squared > 0.98,
    f"R² = {r_squared:.4f}, slope {slope:.3f} per sub-layer",
)
later = np.arange(4, K + 1)  # k >= 4, where Var(x_0) no longer dominates
share_slope = np.polyfit(np.log(later), np.log(branch_share["xavier", "pre"][later - 1]), 1)[0]
check_true(
    "pre-norm ‖f_k‖/‖x_(k-1)‖ falls like k^(-1/2)",
    abs(share_slope + 0.5) < 0.1,
    f"log-log slope {share_slope:.2f}",
)
check_close(
    "post-norm Var(x_k) = 1 after every sub-layer",
    stream_var["xavier", "post"][1:],
    np.ones(K),
    atol=1e-4,
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
sublayer = np.arange(K + 1)
styles = {
    ("xavier", "pre"): (PALETTE[0], "-"),
    ("xavier", "post"): (PALETTE[1], "-"),
    ("gpt2", "pre"): (PALETTE[0], "--"),
    ("gpt2", "post"): (PALETTE[1], "--"),
}
for (init, order), variance in stream_var.items():
    color, ls = styles[init, order]
    label = f"{order}-norm, {'Xavier' if init == 'xavier' else 'GPT-2'} init"
    axes[0].plot(sublayer, variance, ls, color=color, label=label)
    axes[1].plot(sublayer[1:], branch_share[init, order], ls, color=color, label=label)
axes[0].plot(
    sublayer[1:], predicted, ":", color="0.3", label="Var(x₀) + Σ Var(f), eq. (prepost-var)"
)
axes[0].set(
    yscale="log",
    xlabel="sub-layer k (2 per block)",
    ylabel="per-token variance of $x_k$",
    title="The pre-norm stream grows; post-norm's stays at 1",
)
axes[1].set(
    yscale="log",
    xlabel="sub-layer k",
    ylabel=r"$\|f_k\|\,/\,\|x_{k-1}\|$",
    title="Each pre-norm sub-layer moves the stream less",
)
axes[0].legend(fontsize=8)
growth = {init: stream_var[init, "pre"][-1] / stream_var[init, "pre"][0] for init in INITS}
fig.suptitle(
    f"{DEEP_LAYERS} blocks at initialisation: pre-norm's variance grows {growth['xavier']:.0f}× "
    f"(Xavier init) and {growth['gpt2']:.1f}× (GPT-2 init); post-norm's is reset to 1 each time"
)
plt.show()

# %% [markdown]
# Under Xavier initialisation the pre-norm variance climbs linearly, as {eq}`prepost-var`
# predicts from the measured branch variances, and each sub-layer's update becomes a smaller
# fraction of the stream (right: the ratio falls like $1/\sqrt k$, the printed slope; the
# zigzag is attention and MLP sub-layers alternating, with outputs of different sizes).
# Post-norm's stream is 1 after every sub-layer, and each update keeps the same relative
# size. GPT-2's initialisation starts the branches small (dashed), so the stream grows only
# by the printed factor. That is its purpose: scaling the residual projections by
# $1/\sqrt{2L}$ makes each branch's variance $\propto 1/(2L)$, so the sum of the $2L$ branch
# outputs stays bounded at any depth.
#
# ### 2. Gradients at initialisation: post-norm's last layers do not shrink with depth
#
# One backward pass of the task's loss through models of depth $L=3\dots24$, Xavier
# initialisation, and the norm of the gradient of each block's MLP output matrix $W_2$
# (`gradient_norms`, the Frobenius norm). {cite:t}`xiong2020layer` prove that the expected
# gradient of the last layer's $W_2$ does not depend on $L$ in post-norm, and shrinks like
# $1/\sqrt L$ in pre-norm. Their statement is about the expectation over weight draws; with
# one draw per depth, each point scatters by some 10 %, so the checked log-log slope of
# pre-norm gets a tolerance of 0.15, and post-norm's is only checked not to be negative.

# %%
DEPTHS = [3, 6, 12, 24]
last_layer_grad, per_layer_grad = {}, {}
for order in ("pre", "post"):
    last_layer_grad[order] = []
    for n_layer in DEPTHS:
        model = deep_model(order, n_layer, "xavier")
        logits, _ = model(probe_inputs)  # (B, T, V)
        F.cross_entropy(
            logits[:, N_DIGITS:].transpose(1, 2), probe_targets[:, N_DIGITS:]
        ).backward()
        norms = gradient_norms(model)
        per_block = [norms[f"blocks.{i}.mlp.down.weight"] for i in range(n_layer)]
        last_layer_grad[order].append(per_block[-1])
        per_layer_grad[order] = np.array(per_block)  # keeps the deepest model's profile
    print(
        f"{order:>4}-norm, ‖∂L/∂W₂‖ of the last block for L = {DEPTHS}: "
        + ", ".join(f"{g:.3g}" for g in last_layer_grad[order])
    )

slopes = {
    order: np.polyfit(np.log(DEPTHS), np.log(last_layer_grad[order]), 1)[0]
    for order in ("pre", "post")
}
check_true(
    "pre-norm: last-layer gradient falls like L^(-1/2)",
    abs(slopes["pre"] + 0.5) < 0.15,
    f"log-log slope {slopes['pre']:.2f}",
)
check_true(
    "post-norm: last-layer gradient does not shrink with L",
    slopes["post"] > -0.1,
    f"log-log slope {slopes['post']:.2f}",
)
ratio_deepest = last_layer_grad["post"][-1] / last_layer_grad["pre"][-1]
print(f"at L = {DEPTHS[-1]} the last block's gradient is {ratio_deepest:.1f}× larger in post-norm")
block_ratio = per_layer_grad["post"] / per_layer_grad["pre"]  # (DEEP_LAYERS,)
check_true(
    f"L = {DEEP_LAYERS}: post-norm's gradient exceeds pre-norm's in every block",
    bool(block_ratio.min() > 1),
    f"ratio {block_ratio[0]:.1f}× in block 1, {block_ratio[-1]:.1f}× in block {DEEP_LAYERS}",
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for color, order in zip(PALETTE, ("pre", "post"), strict=False):
    axes[0].plot(
        np.arange(1, DEEP_LAYERS + 1),
        per_layer_grad[order],
        "o-",
        ms=3,
        color=color,
        label=f"{order}-norm",
    )
    axes[1].loglog(
        DEPTHS,
        last_layer_grad[order],
        "o-",
        color=color,
        label=f"{order}-norm (slope {slopes[order]:.2f})",
    )
reference = last_layer_grad["pre"][0] * (np.array(DEPTHS) / DEPTHS[0]) ** -0.5
axes[1].loglog(DEPTHS, reference, ":", color="0.4", label=r"$\propto L^{-1/2}$")
axes[1].set_xticks(DEPTHS, [str(n) for n in DEPTHS])
axes[1].minorticks_off()
all_last = np.concatenate([last_layer_grad["pre"], last_layer_grad["post"], reference])
y_ticks = sorted({float(f"{v:.1g}") for v in np.geomspace(all_last.min(), all_last.max(), 4)})
axes[1].set_yticks(y_ticks, [f"{v:g}" for v in y_ticks])
axes[0].set(
    xlabel="block (1 = input side)",
    ylabel=r"$\|\partial L/\partial W_2\|_F$",
    title=f"Per block, L = {DEEP_LAYERS}",
)
axes[1].set(
    xlabel="number of blocks L",
    ylabel=r"last block's $\|\partial L/\partial W_2\|_F$",
    title="Last block vs depth",
)
for ax in axes:
    ax.legend()
fig.suptitle(
    f"At initialisation, post-norm's last-block gradient does not shrink with depth; pre-norm's "
    f"falls like $L^{{-1/2}}$ ({ratio_deepest:.1f}× smaller at L = {DEPTHS[-1]})"
)
plt.show()

# %% [markdown]
# The right panel is {cite:t}`xiong2020layer`'s theorem, measured: pre-norm's last-block
# gradient falls with the printed log-log slope, close to $-1/2$, because the final norm
# divides it by the stream's growing standard deviation {eq}`prepost-ln-jacobian`; post-norm's
# does not fall (its slope is printed too). So the deeper the model, the larger post-norm's
# output-side gradients are *relative to pre-norm's*: the printed factor at $L=24$. Within
# one model (left), post-norm's gradients are larger than pre-norm's in every block, but
# they do not increase toward the output here: both orders have their largest gradients on
# the input side. In pre-norm that is where the stream is still small, so each block's norm
# amplifies most {eq}`prepost-ln-jacobian`. The claim to remember is the comparison across
# orders and depths, not a profile inside one model.
#
# ### 3. Training at the same learning rate, with and without warm-up
#
# The task: reverse 8 random digits. A decoder-only LM reads
# $[s_1..s_8,\ \texttt{SEP},\ t_1..t_8]$ and is trained with next-token cross-entropy on the
# 8 target positions only ($t=\operatorname{reverse}(s)$; the source is random, so predicting
# it is pointless). Chance is $\ln 10$ per target digit. The model is the shared GPT, 6 blocks,
# $d=64$, 4 heads, RoPE, GPT-2 initialisation, the same initial weights and the same batches
# of 32 for every run; AdamW at peak learning rate $5\cdot10^{-3}$, with and without a
# 100-step linear warm-up {eq}`prepost-warmup`. Each run is 120 steps, a few seconds.

# %%
device = get_device()
PEAK_LR, WARMUP_STEPS, STEPS, BATCH, SEED = 5e-3, 100, 120, 32, 0
RUNS = [("pre", 0), ("pre", WARMUP_STEPS), ("post", 0), ("post", WARMUP_STEPS)]


def train_reversal(order: str, warmup: int) -> tuple[GPT, np.ndarray]:
    """Train one 6-block GPT; returns the model and its loss at every step."""
    torch.manual_seed(SEED)  # the same initial weights for both orders (same shapes)
    cfg = GPTConfig(
        vocab_size=VOCAB,
        block_size=2 * N_DIGITS,
        n_layer=6,
        n_head=4,
        d_model=64,
        norm_position=order,
        position="rope",
    )
    model = GPT(cfg).to(device=device, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, fused=True)
    ramp = torch.optim.lr_scheduler.LambdaLR(  # eq. (prepost-warmup); no warm-up: factor 1
        optimizer, lambda t: min(1.0, (t + 1) / warmup) if warmup else 1.0
    )
    data = torch.Generator().manual_seed(SEED + 1)  # the same batches for every run
    losses = []
    for _ in tqdm(range(STEPS), desc=f"{order}-norm, warm-up {warmup}", leave=False):
        inputs, targets = (t.to(device) for t in reversal_batch(BATCH, data))  # (B, 16) each
        logits, _ = model(inputs)  # (B, 16, V)
        loss = F.cross_entropy(logits[:, N_DIGITS:].transpose(1, 2), targets[:, N_DIGITS:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ramp.step()
        losses.append(loss.item())
    return model, np.array(losses)


models, losses = {}, {}
for order, warmup in RUNS:
    models[order, warmup], losses[order, warmup] = train_reversal(order, warmup)

# %% [markdown]
# Accuracy per target digit on 256 fresh sequences, each digit predicted from the true
# prefix (teacher forcing):

# %%
test_inputs, test_targets = reversal_batch(256, torch.Generator().manual_seed(99))
test_inputs, test_targets = test_inputs.to(device), test_targets.to(device)
digit_accuracy, final_loss = {}, {}
with torch.no_grad():
    for run, model in models.items():
        predicted_digits = model(test_inputs)[0][:, N_DIGITS:].argmax(-1)  # (B, 8)
        digit_accuracy[run] = (predicted_digits == test_targets[:, N_DIGITS:]).float().mean().item()
        final_loss[run] = losses[run][-10:].mean()  # mean of the last 10 training steps
chance = math.log(10)
for (order, warmup), loss in final_loss.items():
    print(
        f"{order:>4}-norm, warm-up {warmup:3d}: final loss {loss:.3f}, "
        f"digit accuracy {digit_accuracy[order, warmup]:.3f}"
    )
print(f"chance: loss ln 10 = {chance:.3f}, digit accuracy 0.100")

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
for run in RUNS:
    order, warmup = run
    color = PALETTE[0] if order == "pre" else PALETTE[1]
    ax.plot(
        losses[run],
        color=color,
        ls="-" if warmup == 0 else "--",
        lw=1.4,
        label=f"{order}-norm, {'no warm-up' if warmup == 0 else f'{warmup}-step warm-up'} "
        f"(digit acc. {digit_accuracy[run]:.2f})",
    )
ax.axhline(math.log(10), ls=":", color="0.5", label="chance, ln 10")
ax.axvline(WARMUP_STEPS, ls=":", color="0.8")
ax.set(xlabel="training step", ylabel="cross-entropy on the target digits (nats)")
ax.legend(fontsize=8, loc="lower left")
ax.set_title(
    f"At lr {PEAK_LR:g}, pre-norm learns (loss {final_loss['pre', 0]:.2f} after {STEPS} "
    f"steps);\npost-norm stays at ln 10 = {chance:.2f} ({final_loss['post', 0]:.2f}), "
    f"with a {WARMUP_STEPS}-step warm-up too ({final_loss['post', WARMUP_STEPS]:.2f})"
)
plt.show()

# %%
for warmup in (0, WARMUP_STEPS):
    check_true(
        f"pre-norm, warm-up {warmup}: loss well below chance",
        bool(final_loss["pre", warmup] < chance - 0.2),
        f"final loss {final_loss['pre', warmup]:.3f} vs ln 10 = {chance:.3f}",
    )
    check_true(
        f"post-norm, warm-up {warmup}: still at chance",
        bool(abs(final_loss["post", warmup] - chance) < 0.05),
        f"final loss {final_loss['post', warmup]:.3f} vs ln 10 = {chance:.3f}",
    )

# %% [markdown]
# The printed numbers say what happened. At the same learning rate, from the same initial
# weights and on the same batches, both pre-norm runs move off $\ln 10$ within the first few
# dozen steps and keep improving; 120 steps are not enough to finish the task, but the
# digit accuracy is well above chance. Both post-norm runs sit at $\ln 10$ for the whole
# run: they predict the uniform distribution over digits and ignore the source. Here the
# 100-step warm-up did **not** rescue post-norm: at the end of the ramp the learning rate is
# back at its peak, and the model has not left chance. How long a warm-up must be depends
# on the peak learning rate, the depth and the optimiser; it is not a fixed number of steps.
# To explore, change `WARMUP_STEPS`, `PEAK_LR`, `STEPS` or `SEED` and rerun this section.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Norm → QKV → RoPE → Attention/MLP → Residual." Is that the order?
# For the attention sub-layer of a pre-norm model, yes. But a block has **two** sub-layers,
# and the chain merges them: the MLP sub-layer is norm → MLP → residual, with no projections
# to $Q,K,V$ and nothing to rotate. The chain also leaves out the final norm of
# {eq}`prepost-final`. In post-norm the attention input is the un-normalised stream, and the
# norm comes after the residual addition; RoPE still sits on the projected $q,k$.
# :::
#
# :::{dropdown} Why does pre-norm need a final norm, and post-norm not?
# In pre-norm the stream is a raw sum whose scale grows with depth {eq}`prepost-var`, and
# the head would see a vector whose size depends on $L$ and on the input. The final norm
# brings it to unit scale. In post-norm the last operation of the last block already is a
# norm. Forgetting the final norm is a real bug in from-scratch implementations; the
# Verification above fails without it.
# :::
#
# :::{dropdown} Is pre-norm simply better?
# No. It is easier to train, and that is why large models use it. Post-norm models that do
# train often reach a better final quality at moderate depth {cite}`liu2020understanding`,
# because every layer keeps a full-size say in the stream. Pre-norm's later layers each
# change the stream by a shrinking fraction (Experiment 1), which is linked to deep layers
# that can be pruned with little loss and to representation collapse
# {cite}`xie2023residual,sun2025curse`. The variants (DeepNorm, sandwich, ResiDual's two
# streams) try to keep post-norm's quality with pre-norm's stability.
# :::
#
# :::{dropdown} Adam normalises gradient scales. Why would large gradients matter?
# They do not matter as such: Adam's step is about the learning rate per coordinate whatever
# the gradient's size. What matters is what a step does to the output. In post-norm the
# output depends strongly on every residual branch, and the norms amplify small weight
# changes; at a high learning rate the first, poorly estimated Adam steps move the model into
# a region it does not leave (here: the uniform prediction at $\ln 10$)
# {cite}`liu2020understanding`. Warm-up helps because it keeps those first steps small
# while Adam's second-moment estimates fill in.
# :::
#
# :::{dropdown} Does the warm-up length matter?
# Yes, and it is not universal. In Experiment 3, 100 steps were not enough at lr $5\cdot
# 10^{-3}$. The needed length grows with the peak learning rate and with depth. Pre-norm
# models are usually still trained with a short warm-up; it costs little, protects against
# the same early instability, and in Experiment 3 it also made pre-norm learn faster (compare
# the two printed pre-norm losses).
# :::
#
# :::{dropdown} Where does QK-norm go relative to RoPE? And sandwich norm relative to the residual?
# QK-norm normalises $q$ and $k$ per head after the projection. In the open LLMs that
# combine it with RoPE, the norm comes first and the rotation second. A rotation preserves
# a vector's length, so the order matters only through the norm's per-dimension gain: a gain
# applied after the rotation would act on mixed pairs of dimensions. Sandwich norm's second
# norm is *inside* the branch, before the addition:
# $x+\operatorname{N}_\text{post}(F(\operatorname{N}_\text{pre}(x)))$. Putting it after the
# addition would make it a post-norm model.
# :::
#
# :::{dropdown} Does the growing stream hurt in low precision?
# It can. The stream of a deep pre-norm model can reach magnitudes where fp16's range and
# bf16's 8-bit mantissa matter: adding a small update to a large stream loses the update's
# low bits. GPT-2's $1/\sqrt{2L}$ scaling of the residual projections at initialisation
# slows the growth (Experiment 1, dashed), and training in bf16 with fp32 master weights is
# the usual answer.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A pre-norm model has 32 blocks. At initialisation the embedding has variance 1 per
#    component, and each of the 64 sub-layers adds an uncorrelated output of variance 1.
#    What is the standard deviation of the stream at the final norm? By what factor does
#    the final norm scale the gradient flowing back through it? What fraction of the
#    stream's variance did the last sub-layer write?
#
#    :::{dropdown} Answer
#    By {eq}`prepost-var` the variance is $1+64=65$ and the standard deviation
#    $\sqrt{65}\approx8.06$. By {eq}`prepost-ln-jacobian` the final norm divides the
#    gradient by about that, a factor $\approx0.124$. The last sub-layer wrote $1/65\approx
#    1.5\,\%$ of the variance. The cell simulates the stream with random linear sub-layers and
#    checks both numbers.
#    :::

# %%
stream_64 = random_pre_norm_stream(n_tokens=1000, n_sublayers=64, d=16)  # (n, d)
check_mean_close("E‖x‖²/d after 64 sub-layers = 65", stream_64.pow(2).mean(-1), 65.0, z_max=4)
row = stream_64[0] * math.sqrt(65 / stream_64[0].var(unbiased=False))  # a stream row with σ² = 65
gradient_scale = torch.linalg.matrix_norm(layer_norm_jacobian(row, eps=0.0), ord=2)
check_close("final norm's gradient scale = 1/√65", gradient_scale, 1 / math.sqrt(65), atol=1e-12)
print(
    f"std √65 = {math.sqrt(65):.2f}, gradient scale {gradient_scale:.3f}, last share {1 / 65:.3%}"
)

# %% [markdown]
# 2. In a post-norm block with RoPE, which vectors are rotated, and is the input to the
#    attention projections normalised?
#
#    :::{dropdown} Answer
#    Only the projected queries and keys, exactly as in pre-norm {eq}`prepost-attn`. The
#    input to the projections is the stream $x$ as it leaves the previous block, which in
#    post-norm was normalised by that block's last norm (for the first block: the raw
#    embedding). The block's own norms come after its additions.
#    :::
#
# 3. Gemma 2's sandwich norm puts an RMSNorm with gain 1 on each branch's output. At
#    initialisation, how does the stream's variance grow with the number of sub-layers $K$,
#    and does it depend on the scale of the branch weights?
#
#    :::{dropdown} Answer
#    Each branch now adds a vector with mean square exactly 1 per component, whatever its
#    weights are. If the branch outputs are uncorrelated, {eq}`prepost-var` gives
#    $\operatorname{Var}(x_0)+K$: still linear growth, now with slope 1 fixed by the norm's
#    gain, and independent of the initialisation scale. (Gemma also multiplies the
#    embeddings by $\sqrt d$, so $\operatorname{Var}(x_0)$ is not small.)
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`xiong2020layer`: pre-LN vs post-LN, the gradient of the last layer at
#   initialisation (Theorem 1: independent of $L$ for post-LN, $\propto 1/\sqrt L$ for
#   pre-LN), and pre-LN training without warm-up; Experiment 2 measures the theorem.
# - {cite:t}`liu2020understanding`: why post-LN fails (dependence on the residual branches,
#   amplified updates) beyond gradient size; Admin.
# - {cite:t}`vaswani2017attention`: the post-norm block, section 3.1 ("LayerNorm(x +
#   Sublayer(x))") and the warm-up schedule, section 5.3.
# - {cite:t}`radford2019language`: GPT-2 moves the norm to the input of each sub-block, adds
#   a final norm, and scales residual weights by $1/\sqrt N$ at initialisation (section 2.3).
# - {cite:t}`ba2016layer`: LayerNorm, {eq}`prepost-ln`.
# - {cite:t}`wang2022deepnet`: DeepNorm, its $\alpha$ and $\beta$.
# - {cite:t}`ding2021cogview`: sandwich-LN; {cite:t}`team2024gemma2`: pre- and post-norm
#   RMSNorm around each sub-layer in Gemma 2.
# - {cite:t}`henry2020query`, {cite:t}`dehghani2023scaling`: QK-norm and the growth of
#   attention logits.
# - {cite:t}`xie2023residual`: representation collapse in pre-LN, and ResiDual;
#   {cite:t}`sun2025curse`: the variance growth of pre-LN and less effective deep layers.

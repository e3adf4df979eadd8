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
# # 01. Transformers and multi-head self-attention
#
# **The question.** How do Transformers and multi-head self-attention work?
# 1.1 Why use several heads? 1.2 Why scale the scores by $\sqrt{d_k}$ before the softmax?
# 1.3 Why add a positional encoding to the input?
#
# **What you will be able to answer.** Write scaled dot-product and multi-head attention with
# every shape; say why more heads cost nothing, why $\sqrt{d_k}$ (a saturated softmax stops the
# gradients; overflow is not the reason), and why attention without positions sees a bag of
# tokens.

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.devices import get_device
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **Self-attention.** Each token $i$ makes a query $q_i$, a key $k_i$ and a value $v_i$ by
#   three linear maps of its embedding. Its output is an average of all the values, weighted
#   by a softmax over $j$ of $q_i^\top k_j/\sqrt{d_k}$:
#   $\operatorname{Attn}(Q,K,V)=\operatorname{softmax}\big(QK^\top/\sqrt{d_k}+M\big)V$. The mask
#   $M$ is $-\infty$ where attention is not allowed (future tokens, padding).
# - **1.1 Multi-head.** One softmax gives a token *one* weighted average. With $h$ heads, each
#   with its own projections into $d_k=d/h$ dimensions, a token reads from $h$ places for $h$
#   reasons at once (say, the previous token and the first token), and $W^O$ mixes the
#   results. The heads cost nothing extra: $4d^2+4d$ parameters and the same FLOPs as one
#   full-width head, for any $h$.
# - **1.2 The $\sqrt{d_k}$.** If the components of $q$ and $k$ have unit variance,
#   $\operatorname{Var}(q^\top k)=d_k$. The logits then grow like $\sqrt{d_k}$, the softmax
#   saturates to nearly one-hot, its Jacobian $\operatorname{diag}(p)-pp^\top$ goes to zero,
#   and the gradients to $W^Q,W^K$ **vanish**. Dividing by $\sqrt{d_k}$ brings the logits back
#   to unit variance for every $d_k$. The notes' reason, numerical stability, is not it:
#   subtracting the row maximum inside the softmax already prevents overflow.
# - **1.3 Positions.** Without them, self-attention is *permutation-equivariant*: shuffling
#   the input tokens shuffles the outputs the same way, so the model sees a bag of tokens.
#   Adding a position-dependent vector (or rotating $q,k$ by position, as RoPE does) breaks the
#   symmetry. The reason is this symmetry, not "parallel processing" (a convolution is parallel
#   and still knows order). Nuance: a causal mask breaks the symmetry too, and decoder-only
#   models without any positional encoding still learn positions.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $X\in\mathbb R^{N\times d}$ | a sequence of $N$ token embeddings, one per row | `x`, (B, N, d) |
# | $d=d_\text{model}$, $h$ | model width, number of heads | `d_model`, `n_heads` |
# | $d_k=d_v=d/h$ | width of one head's queries/keys and values | `d_k` |
# | $W^Q_i,W^K_i,W^V_i\in\mathbb R^{d\times d_k}$ | projections of head $i$ | blocks of `w_q`… |
# | $W^O\in\mathbb R^{d\times d}$ | output projection | `w_o` |
# | $Q,K,V$ | queries, keys, values, one row per token | `q, k, v`, (B, H, N, d_k) |
# | $A\in\mathbb R^{N\times N}$ | attention weights, row $i$ = where token $i$ looks | `weights` |
# | $M\in\{0,-\infty\}^{N\times N}$ | additive mask | boolean `mask`, True = may attend |
#
# The math multiplies row vectors from the right ($XW$); `nn.Linear` stores the transpose,
# $xW^\top+b$, so $W^Q$ is `w_q.weight.T`.
#
# ### Scaled dot-product attention
#
# Attention {cite}`vaswani2017attention` scores every query against every key, turns each row
# of scores into a probability distribution, and averages the values with it:
#
# $$
# \operatorname{Attn}(Q,K,V)=\operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt{d_k}}+M\Big)V
# $$ (attn-sdpa)
#
# The softmax acts on each row. The mask says which keys a query may see; for a decoder it is
# causal, query $i$ sees keys $j\le i$:
#
# $$
# M_{ij}=\begin{cases}0 & \text{if query } i \text{ may attend to key } j
# \ (\text{causal: } j\le i),\\ -\infty & \text{otherwise.}\end{cases}
# $$ (attn-mask)
#
# Row $i$ of $A$ is non-negative and sums to 1, so output $i$ is a convex combination
# $\sum_j A_{ij}v_j$ of the values: a soft lookup, addressed by content, into the other
# tokens. The softmax is computed after subtracting the row maximum $m=\max_l z_l$:
#
# $$
# \operatorname{softmax}(z)_j=\frac{e^{z_j-m}}{\sum_l e^{z_l-m}}
# $$ (attn-softmax)
#
# The shift cancels in the ratio. The largest exponential is $e^0=1$, so nothing overflows and
# the denominator is at least 1, *whatever the scale of $z$*. This is where numerical
# stability comes from. The one exception is a row in which every key is masked: then
# $m=-\infty$ and $z_j-m$ is NaN (see Pitfalls).
#
# ### Multi-head attention
#
# Each head attends in its own $d_k$-dimensional projection of the input. The heads' outputs
# are concatenated and mixed by $W^O$:
#
# $$
# \text{head}_i=\operatorname{Attn}(XW^Q_i,\,XW^K_i,\,XW^V_i),\qquad
# \operatorname{MHA}(X)=[\text{head}_1,\dots,\text{head}_h]\,W^O
# $$ (attn-mha)
#
# Put the $h$ matrices $W^Q_i$ side by side and you get one $d\times d$ matrix $W^Q$.
# Computing $XW^Q$ once and cutting its columns into $h$ blocks of $d_k$ is the same as $h$
# separate projections, and that is what implementations do: a reshape
# $(B,N,d)\to(B,N,h,d_k)\to(B,h,N,d_k)$. With biases, the four $d\times d$ projections have
#
# $$
# P=4(d^2+d)=4d^2+4d
# $$ (attn-params)
#
# parameters, with no $h$ in it. Counting a multiply-add as 2 FLOPs, one sequence costs
#
# $$
# F=\underbrace{4\cdot 2Nd^2}_{\text{4 projections}}+\underbrace{h\cdot 2N^2d_k}_{QK^\top}
# +\underbrace{h\cdot 2N^2d_k}_{AV}=8Nd^2+4N^2d
# $$ (attn-flops)
#
# because $h\,d_k=d$. Time is $O(N^2d+Nd^2)$, and the score matrices take $hN^2$ numbers per
# sequence.
#
# ### 1.1 Why several heads
#
# For each query, one head has one distribution $A_{i,:}$ and returns one average. Suppose a
# token needs two facts that sit at two positions $a$ and $b$, such as the token before it
# and the first token. A single head has to split its weight, and it returns the blend
# $\alpha v_a+(1-\alpha)v_b$. A linear read-out of the blend can pick out the token with the
# larger weight, but it cannot also recover the other one. With $h$ heads, a token gets $h$
# independent distributions. In each head, $W^Q_iW_i^{K\top}$ (rank $\le d_k$) decides what
# counts as relevant and $W^V_i$ decides what is read. Experiment 3 trains both models on
# exactly this task. The price of $h$ heads is only that each one scores in $d_k=d/h$
# dimensions, since {eq}`attn-params` and {eq}`attn-flops` do not depend on $h$.
#
# ### 1.2 Why divide by $\sqrt{d_k}$
#
# Let the components of $q,k\in\mathbb R^{d_k}$ be independent with mean 0 and variance 1.
# Each product $q_lk_l$ has mean 0 and variance $\mathbb E[q_l^2]\,\mathbb E[k_l^2]=1$, and the
# products for different $l$ are uncorrelated, so (Vaswani et al., footnote 4):
#
# $$
# \operatorname{Var}(q^\top k)=\sum_{l=1}^{d_k}\operatorname{Var}(q_lk_l)=d_k,\qquad
# \operatorname{Var}\Big(\frac{q^\top k}{\sqrt{d_k}}\Big)=1
# $$ (attn-var)
#
# Unscaled logits therefore have standard deviation $\sqrt{d_k}$, and the gaps between the
# largest logit and the rest grow with it. The softmax drifts toward one-hot. That matters
# because of its Jacobian:
#
# $$
# \frac{\partial p_i}{\partial z_j}=p_i(\delta_{ij}-p_j),\qquad
# J=\operatorname{diag}(p)-pp^\top
# $$ (attn-softmax-jacobian)
#
# Near a one-hot $p$, every entry of $J$ has a factor close to 0 (a $p_j\approx0$ or a
# $1-p_i\approx0$), so $J\to0$. The gradient that reaches the logits, $J\,\partial L/\partial
# p$, vanishes, and with it the gradient to $W^Q$ and $W^K$: the attention pattern freezes
# wherever it happened to start. For $z=[a,0,0]$ the top eigenvalue of $J$ works out to
# $\tfrac32\,p_1(1-p_1)$, which falls like $e^{-a}$ (the Verification section evaluates it
# at $a=1$ and $a=20$). Dividing by $\sqrt{d_k}$ is a fixed softmax temperature that cancels
# the growth in {eq}`attn-var`. It sets the scale of the logits at initialisation; it does
# not bound them once the weights have been trained.
#
# ### 1.3 Why positions are needed
#
# Let $P$ be a permutation matrix, so $PX$ is the same tokens in another order. Without a mask,
# $Q,K,V$ become $PQ,PK,PV$ and the scores become $PQK^\top P^\top$: rows and columns reordered
# by the same permutation. A row-wise softmax does not care about the order within a row, and
# each row is computed on its own, so $\operatorname{softmax}(PSP^\top)=P\operatorname{softmax}
# (S)P^\top$. Multiplying by $PV$ and using $P^\top P=I$:
#
# $$
# \operatorname{Attn}(PX)=P\operatorname{Attn}(X)
# $$ (attn-equivariance)
#
# The rest of a Transformer layer (feed-forward network, LayerNorm, residuals) acts on each
# row alone, so a whole encoder without positions is equivariant. Anything pooled from it, such
# as a mean or the output of a [CLS] token kept in place, is *invariant*: "dog bites man" and
# "man bites dog" look the same. Adding a position-dependent vector, $x_i+p_i$, gives each row
# its index and breaks the symmetry (chapters 02 and 03 compare the ways to do this). A
# causal mask also breaks it, because $PMP^\top\neq M$: query $i$ sees a different set of
# tokens after a shuffle.

# %% [markdown]
# ## Implementation from scratch
#
# The softmax of {eq}`attn-softmax`, with the maximum subtracted:


# %%
def softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, eq. (attn-softmax)."""
    shifted = scores - scores.amax(dim=-1, keepdim=True)  # (..., N_k): the largest entry is 0
    e = shifted.exp()
    return e / e.sum(dim=-1, keepdim=True)


# %% [markdown]
# Masks are boolean, **True where a query may attend**, the convention of
# `F.scaled_dot_product_attention`. (`nn.MultiheadAttention` uses the opposite one, True =
# blocked; the Verification section passes it `~mask`.) The causal mask of {eq}`attn-mask` is a
# lower triangle:


# %%
def causal_mask(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, n) boolean mask, True where query i may attend to key j, i.e. j <= i."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


# %% [markdown]
# Scaled dot-product attention, {eq}`attn-sdpa`, written out the way the equation reads. It
# returns the weights too, so that they can be checked and plotted:


# %%
def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """eq. (attn-sdpa): q (..., N_q, d_k), k (..., N_k, d_k), v (..., N_k, d_v), and a boolean
    mask broadcastable to (..., N_q, N_k). Returns the output (..., N_q, d_v) and the weights
    (..., N_q, N_k)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., N_q, N_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # eq. (attn-mask): + M
    weights = softmax(scores)  # (..., N_q, N_k), each row sums to 1
    return weights @ v, weights  # (..., N_q, d_v), (..., N_q, N_k)


# %% [markdown]
# Multi-head self-attention, {eq}`attn-mha`. Each projection is one `nn.Linear(d, d)`, the $h$
# heads' matrices side by side. The heads come from a reshape, so all $h$ of them run in one
# batched matrix product. Like `nn.MultiheadAttention`, `forward` returns the output and the
# attention weights.


# %%
class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, eq. (attn-mha), with biases as in nn.MultiheadAttention."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads, self.d_k = n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)  # [W^Q_1, …, W^Q_h]
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)  # W^O

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape  # (B, N, d)
        return t.view(b, n, self.n_heads, self.d_k).transpose(1, 2)  # (B, H, N, d_k)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, d = x.shape  # (B, N, d)
        q = self.split_heads(self.w_q(x))  # (B, H, N, d_k)
        k = self.split_heads(self.w_k(x))  # (B, H, N, d_k)
        v = self.split_heads(self.w_v(x))  # (B, H, N, d_k)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, N, d_k), (B, H, N, N)
        concat = heads.transpose(1, 2).reshape(b, n, d)  # (B, N, H·d_k): [head_1, …, head_h]
        return self.w_o(concat), weights  # (B, N, d), (B, H, N, N)


# %% [markdown]
# ## Verification
#
# Everything in this section runs in float64, so agreement to `atol=1e-12` means the same
# computation, not merely a similar one.
#
# ### Attention against `F.scaled_dot_product_attention`
#
# Three masks: none, causal, and a padding mask for a batch whose second sequence has only 4
# real tokens. A padding mask has shape (B, 1, 1, N) and hides the padded keys from every
# query.

# %%
B, H, N, D_K = 2, 3, 7, 8
q, k, v = (torch.randn(B, H, N, D_K) for _ in range(3))  # (B, H, N, d_k) each
lengths = torch.tensor([7, 4])  # real tokens per sequence; the rest is padding
padding = (torch.arange(N) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, N)

ours, _ = scaled_dot_product_attention(q, k, v)
check_close(
    "attention, no mask, vs F.sdpa", ours, F.scaled_dot_product_attention(q, k, v), atol=1e-12
)
ours, _ = scaled_dot_product_attention(q, k, v, causal_mask(N))
reference = F.scaled_dot_product_attention(q, k, v, is_causal=True)
check_close("attention, causal mask, vs F.sdpa(is_causal=True)", ours, reference, atol=1e-12)
ours, _ = scaled_dot_product_attention(q, k, v, padding)
reference = F.scaled_dot_product_attention(q, k, v, attn_mask=padding)
check_close("attention, padding mask, vs F.sdpa(attn_mask=...)", ours, reference, atol=1e-12)

# %% [markdown]
# ### Multi-head attention against `nn.MultiheadAttention`
#
# `nn.MultiheadAttention` keeps $W^Q,W^K,W^V$ stacked in one `in_proj_weight` of shape
# $(3d, d)$. Splitting it into three blocks, and copying `out_proj`, gives our module the same
# weights:

# %%
D_MODEL, N_HEADS = 16, 4
ours_mha = MultiHeadSelfAttention(D_MODEL, N_HEADS)
torch_mha = nn.MultiheadAttention(D_MODEL, N_HEADS, batch_first=True)
with torch.no_grad():
    for i, linear in enumerate([ours_mha.w_q, ours_mha.w_k, ours_mha.w_v]):
        linear.weight.copy_(torch_mha.in_proj_weight[i * D_MODEL : (i + 1) * D_MODEL])  # (d, d)
        linear.bias.copy_(torch_mha.in_proj_bias[i * D_MODEL : (i + 1) * D_MODEL])  # (d,)
    ours_mha.w_o.weight.copy_(torch_mha.out_proj.weight)
    ours_mha.w_o.bias.copy_(torch_mha.out_proj.bias)

# %% [markdown]
# We compare outputs and attention weights, per head and averaged over heads (what
# `nn.MultiheadAttention` returns by default), without a mask and with a causal one. Note the
# `~` in front of the mask passed to `nn.MultiheadAttention`.

# %%
x = torch.randn(2, 6, D_MODEL)  # (B, N, d)
for name, mask in [("no mask", None), ("causal", causal_mask(6))]:
    out, weights = ours_mha(x, mask)  # (B, N, d), (B, H, N, N)
    torch_mask = None if mask is None else ~mask  # nn.MultiheadAttention: True = blocked
    ref_out, ref_weights = torch_mha(x, x, x, attn_mask=torch_mask, average_attn_weights=False)
    _, ref_mean_weights = torch_mha(x, x, x, attn_mask=torch_mask)  # (B, N, N)
    check_close(f"MHA output, {name}, vs nn.MultiheadAttention", out, ref_out, atol=1e-12)
    check_close(f"MHA weights per head, {name}", weights, ref_weights, atol=1e-12)
    check_close(f"MHA weights averaged, {name}", weights.mean(1), ref_mean_weights, atol=1e-12)

# %% [markdown]
# The gradients agree too. Autograd differentiates through both implementations, and the
# gradients with respect to the input and to every weight must match (the three blocks of ours
# stacked, to compare with `in_proj_weight`):

# %%
x = torch.randn(2, 6, D_MODEL, requires_grad=True)  # (B, N, d)
upstream = torch.randn(2, 6, D_MODEL)  # (B, N, d): a random ∂L/∂output
(ours_mha(x, causal_mask(6))[0] * upstream).sum().backward()
ours_x_grad, x.grad = x.grad, None
(torch_mha(x, x, x, attn_mask=~causal_mask(6))[0] * upstream).sum().backward()
check_close("∂L/∂x, ours vs nn.MultiheadAttention", ours_x_grad, x.grad, atol=1e-12)
ours_in_grad = torch.cat(
    [ours_mha.w_q.weight.grad, ours_mha.w_k.weight.grad, ours_mha.w_v.weight.grad]
)
check_close(
    "∂L/∂W_QKV vs ∂L/∂in_proj_weight", ours_in_grad, torch_mha.in_proj_weight.grad, atol=1e-12
)
check_close(
    "∂L/∂W_O vs ∂L/∂out_proj.weight",
    ours_mha.w_o.weight.grad,
    torch_mha.out_proj.weight.grad,
    atol=1e-12,
)

# %% [markdown]
# ### The softmax Jacobian, and how fast it vanishes
#
# {eq}`attn-softmax-jacobian` against autograd's Jacobian of `torch.softmax`, then the top
# eigenvalue ($=$ spectral norm, since $J$ is symmetric and positive semi-definite) at the
# logits $[1,0,0]$ and $[20,0,0]$, against the closed form $\tfrac32p_1(1-p_1)$ from the
# Derivation.


# %%
def softmax_jacobian(p: torch.Tensor) -> torch.Tensor:
    """eq. (attn-softmax-jacobian): diag(p) - p pᵀ for probabilities p of shape (..., n)."""
    return torch.diag_embed(p) - p[..., :, None] * p[..., None, :]  # (..., n, n)


# %%
z = torch.randn(5)
autograd_jacobian = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, -1), z)
check_close(
    "softmax Jacobian vs autograd", softmax_jacobian(softmax(z)), autograd_jacobian, atol=1e-12
)

# %%
jacobian_norms = []
for a in (1.0, 20.0):
    p = softmax(torch.tensor([a, 0.0, 0.0]))
    top_eigenvalue = torch.linalg.eigvalsh(softmax_jacobian(p))[-1]  # eigenvalues ascend
    largest_entry = p[0] * (p[1] + p[2])  # ∂p₁/∂z₁ = p₁(1 - p₁), without the cancellation
    # atol, not rtol: J's entry p₁ - p₁² carries an absolute rounding error ~1e-16 (p₁ ≈ 1)
    check_close(
        f"‖J‖₂ at [{a:g}, 0, 0] vs 3/2·p₁(1-p₁)", top_eigenvalue, 1.5 * largest_entry, atol=1e-15
    )
    print(f"    logits [{a:g}, 0, 0]: ‖J‖₂ = {top_eigenvalue:.3g}, ∂p₁/∂z₁ = {largest_entry:.3g}")
    jacobian_norms.append(top_eigenvalue.item())
print(f"‖J‖₂ shrinks ×{jacobian_norms[1] / jacobian_norms[0]:.1e} from [1, 0, 0] to [20, 0, 0]")

# %% [markdown]
# Moving one logit from 1 to 20 shrinks the Jacobian by the factor printed last. Keep the
# spectral norm and the largest entry $\partial p_1/\partial z_1=p_1(1-p_1)$ apart when
# quoting such numbers: here the norm is 1.5 times the entry.
#
# ### Parameters and FLOPs do not depend on $h$
#
# {eq}`attn-params` for `nn.MultiheadAttention(512, h)` and for ours, and {eq}`attn-flops`
# against PyTorch's FLOP counter. The counter counts the matrix products of our forward pass,
# which is what {eq}`attn-flops` counts too; the softmax, the scaling and the biases add only
# $O(hN^2+Nd)$ element-wise operations.

# %%
d, n_tokens = 512, 128
x = torch.randn(1, n_tokens, d)  # (B, N, d)
for h in (1, 8, 16):
    n_torch = sum(p.numel() for p in nn.MultiheadAttention(d, h).parameters())
    ours_mha = MultiHeadSelfAttention(d, h)
    n_ours = sum(p.numel() for p in ours_mha.parameters())
    check_equal(
        f"h = {h:2d}: parameters of nn.MultiheadAttention({d}, h) = 4d²+4d",
        n_torch,
        4 * d**2 + 4 * d,
    )
    check_equal(f"h = {h:2d}: parameters of ours", n_ours, n_torch)
    with FlopCounterMode(display=False) as counter:
        ours_mha(x)
    flops = counter.get_total_flops()
    check_equal(
        f"h = {h:2d}: FLOPs of ours = 8Nd² + 4N²d", flops, 8 * n_tokens * d**2 + 4 * n_tokens**2 * d
    )
print(f"parameters for every h: {n_torch:,}; FLOPs for N = {n_tokens}: {flops:,}")

# %% [markdown]
# ### Permutation equivariance, and what breaks it
#
# {eq}`attn-equivariance`: permuting the tokens and then attending gives the same result as
# attending and then permuting. A causal mask breaks this, and so does adding a
# position-dependent vector to each token:

# %%
mha = MultiHeadSelfAttention(D_MODEL, N_HEADS)
n = 8
x = torch.randn(1, n, D_MODEL)  # (B, N, d)
perm = torch.randperm(n)
positions = torch.randn(n, D_MODEL)  # (N, d): any position-dependent vectors


def permutation_error(mask: torch.Tensor | None, pos: torch.Tensor | float) -> float:
    """max |MHA(permuted input) - permuted MHA(input)| with `pos` added by position."""
    shuffled_first = mha(x[:, perm] + pos, mask)[0]  # (B, N, d)
    shuffled_after = mha(x + pos, mask)[0][:, perm]  # (B, N, d)
    return (shuffled_first - shuffled_after).abs().max().item()


check_close(
    "MHA(X[perm]) vs MHA(X)[perm], no mask", mha(x[:, perm])[0], mha(x)[0][:, perm], atol=1e-12
)
causal_error = permutation_error(causal_mask(n), 0.0)
check_true(
    "a causal mask breaks equivariance", causal_error > 0.1, f"max abs err {causal_error:.3f}"
)
position_error = permutation_error(None, positions)
check_true("positional vectors break it", position_error > 0.1, f"max abs err {position_error:.3f}")

# %% [markdown]
# ## Experiments
#
# ### 1. $q^\top k$ has variance $d_k$
#
# For each $d_k$ from 4 to 512, 20,000 pairs $q,k$ with independent standard-normal
# components, the variance of $q^\top k$ before and after dividing by $\sqrt{d_k}$:

# %%
D_K_GRID = np.array([2**p for p in range(2, 10)])  # 4, 8, …, 512
N_PAIRS = 20_000
var_raw, var_scaled = [], []
for d_k in D_K_GRID:
    q = torch.randn(N_PAIRS, d_k, dtype=torch.float32)  # (n, d_k), float32 to sample faster
    k = torch.randn(N_PAIRS, d_k, dtype=torch.float32)  # (n, d_k)
    dots = (q * k).sum(-1).double()  # (n,): one q·k per pair
    var_raw.append(dots.var().item())
    var_scaled.append((dots / math.sqrt(d_k)).var().item())
var_raw, var_scaled = np.array(var_raw), np.array(var_scaled)
# sampling error of a variance from 20,000 draws is ~1-2 %, so allow 5 %
check_close("Var(q·k) / d_k, d_k = 4…512", var_raw / D_K_GRID, np.ones(len(D_K_GRID)), atol=0.05)
check_close("Var(q·k / √d_k), d_k = 4…512", var_scaled, np.ones(len(D_K_GRID)), atol=0.05)
at_64 = int(np.flatnonzero(D_K_GRID == 64)[0])
print(f"d_k = 64: Var(q·k) = {var_raw[at_64]:.1f}, Var(q·k/√d_k) = {var_scaled[at_64]:.2f}")

# %%
fig, ax = plt.subplots()
ax.loglog(D_K_GRID, D_K_GRID, ":", color="0.5", label="$d_k$, the prediction")
ax.loglog(D_K_GRID, var_raw, "o-", color=PALETTE[1], label=r"$q^\top k$")
ax.loglog(D_K_GRID, var_scaled, "o-", color=PALETTE[0], label=r"$q^\top k/\sqrt{d_k}$")
ax.set_xscale("log", base=2)
ax.set(
    xlabel="head dimension $d_k$",
    ylabel="variance of the logit",
    title=r"$q^\top k$ has variance $d_k$; dividing by $\sqrt{d_k}$ brings it back to 1",
)
ax.legend()
plt.show()

# %% [markdown]
# ### 2. Without the scaling, the softmax saturates and the gradients vanish
#
# Now one query against 32 keys, 500 such rows per $d_k$. For each row we measure how spread
# out the attention is (its entropy; $\ln 32$ is uniform, 0 is one-hot), the spectral norm of
# the softmax Jacobian {eq}`attn-softmax-jacobian`, and the size of the gradient that reaches
# the logits, $J\,\partial L/\partial p$, when a random gradient $\partial L/\partial p$ with
# unit-variance entries arrives from above (in a layer it is $V\,\partial L/\partial
# \text{output}$). The logits are divided by 1 (no scaling), by $\sqrt{d_k}$, or by $d_k$
# (too much, for a follow-up question).

# %%
N_KEYS, N_ROWS = 32, 500
SCALES = {"none": lambda d_k: 1.0, "1/√d_k": lambda d_k: d_k**-0.5, "1/d_k": lambda d_k: 1 / d_k}
saturation = {name: {"entropy": [], "jacobian": [], "gradient": []} for name in SCALES}
for d_k in D_K_GRID:
    q = torch.randn(N_ROWS, 1, d_k, dtype=torch.float32)  # (R, 1, d_k): one query per row
    k = torch.randn(N_ROWS, N_KEYS, d_k, dtype=torch.float32)  # (R, N, d_k)
    dots = (q @ k.transpose(-2, -1)).double()  # (R, 1, N); float32 samples, float64 from here
    grad_p = torch.randn(N_ROWS, 1, N_KEYS)  # (R, 1, N): a unit-variance ∂L/∂p from above
    for name, scale in SCALES.items():
        logits = (dots * scale(d_k)).requires_grad_()  # (R, 1, N)
        p = softmax(logits)  # (R, 1, N)
        (p * grad_p).sum().backward()  # logits.grad = J ∂L/∂p, eq. (attn-softmax-jacobian)
        jacobian_norm = torch.linalg.eigvalsh(softmax_jacobian(p.detach()[:, 0]))[:, -1]  # (R,)
        stats = saturation[name]
        stats["entropy"].append(torch.special.entr(p.detach()).sum(-1).median().item())
        stats["jacobian"].append(jacobian_norm.median().item())
        stats["gradient"].append(logits.grad.norm(dim=-1).median().item())
saturation = {
    name: {key: np.array(vals) for key, vals in s.items()} for name, s in saturation.items()
}

# %%
print("medians over rows    d_k =", "".join(f"{d_k:>9d}" for d_k in D_K_GRID))
for name, stats in saturation.items():
    for key, values in stats.items():
        print(f"{key:>8} ({name:>6}):     ", "".join(f"{value:9.2g}" for value in values))

# %%
none, scaled, over = (saturation[name] for name in SCALES)
jacobian_ratio = none["jacobian"][-1] / scaled["jacobian"][-1]  # at d_k = 512
gradient_ratio = none["gradient"][-1] / scaled["gradient"][-1]
check_true("d_k = 512: unscaled ‖J‖₂ ≪ scaled", jacobian_ratio < 0.1, f"×{jacobian_ratio:.2g}")
check_true("d_k = 512: unscaled ‖∂L/∂z‖ ≪ scaled", gradient_ratio < 0.05, f"×{gradient_ratio:.2g}")
for key in ("entropy", "jacobian", "gradient"):
    spread = scaled[key].max() / scaled[key].min()
    check_true(f"scaled by 1/√d_k: {key} flat in d_k", spread < 1.25, f"max/min = {spread:.2f}")
check_true(
    "scaled by 1/d_k: attention near uniform at d_k = 512",
    over["entropy"][-1] > 0.99 * math.log(N_KEYS),
    f"entropy {over['entropy'][-1]:.3f} vs ln 32 = {math.log(N_KEYS):.3f}",
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
styles = {"none": PALETTE[1], "1/√d_k": PALETTE[0], "1/d_k": PALETTE[2]}
labels = {"none": "no scaling", "1/√d_k": r"$/\sqrt{d_k}$", "1/d_k": r"$/d_k$"}
panels = [
    ("entropy", "attention entropy (nats)", "Rows become one-hot"),
    ("jacobian", r"$\|\operatorname{diag}(p)-pp^\top\|_2$", "The softmax Jacobian vanishes"),
    ("gradient", r"$\|\partial L/\partial z\|$ at the logits", "So does the gradient"),
]
for ax, (key, ylabel, title) in zip(axes, panels, strict=True):
    for name, stats in saturation.items():
        ax.plot(D_K_GRID, stats[key], "o-", ms=4, color=styles[name], label=labels[name])
    ax.set_xscale("log", base=2)
    if key != "entropy":
        ax.set_yscale("log")
    ax.set(xlabel="head dimension $d_k$", ylabel=ylabel, title=title)
axes[0].axhline(math.log(N_KEYS), ls=":", color="0.5", label="uniform, ln 32")
axes[0].legend()
fig.suptitle(
    r"Without $/\sqrt{d_k}$ the softmax saturates: at $d_k=512$ the gradient at the logits is "
    rf"{1 / gradient_ratio:.0f}× smaller; with it, nothing depends on $d_k$"
)
plt.show()

# %% [markdown]
# Read the printed medians. Without scaling, the entropy falls toward 0 as $d_k$ grows (rows
# become one-hot); once the rows are peaked, the Jacobian's norm and the gradient at the logits
# fall by orders of magnitude (the checks print the ratio to the scaled version at
# $d_k=512$). Dividing by $\sqrt{d_k}$ makes all three curves flat: how peaked attention starts
# out no longer depends on the head size. Dividing by $d_k$ overshoots the other way, and
# attention starts out almost uniform.
#
# ### 3. What two heads learn that one head cannot
#
# The task is a toy, built so that each position needs two facts from two places. Take
# sequences of 16 random tokens from a vocabulary of 16. At every position $i\ge1$, the model
# must output both the **previous token** $x_{i-1}$ and the **first token** $x_0$. The model
# has token and learned position embeddings, one causal attention layer with a residual
# connection, and two linear read-outs from the residual stream, one per target. Nothing else:
# no feed-forward layer, no nonlinearity after the attention. We train it with $h=1$ and $h=2$
# at the same width $d=32$. Both have the same parameter count, and both start from the same
# initial weights.

# %%
VOCAB = 16  # tokens 0…15
SEQ_LEN = 16
WIDTH = 32  # d_model


class PreviousAndFirstToken(nn.Module):
    """Embeddings, one causal attention layer with a residual, and two linear read-outs."""

    def __init__(self, n_heads: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, WIDTH)
        self.position_embedding = nn.Embedding(SEQ_LEN, WIDTH)
        self.attention = MultiHeadSelfAttention(WIDTH, n_heads)
        self.read_previous = nn.Linear(WIDTH, VOCAB)
        self.read_first = nn.Linear(WIDTH, VOCAB)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = tokens.shape[1]  # tokens: (B, N)
        x = self.token_embedding(tokens) + self.position_embedding.weight[:n]  # (B, N, d)
        mask = causal_mask(n, tokens.device)  # (N, N)
        attended, weights = self.attention(x, mask)  # (B, N, d), (B, H, N, N)
        stream = x + attended  # (B, N, d): the residual stream
        return self.read_previous(stream), self.read_first(stream), weights  # (B, N, V) ×2


def targets_of(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Previous and first token for positions 1…N-1, each of shape (B, N-1)."""
    return tokens[:, :-1], tokens[:, :1].expand(-1, tokens.shape[1] - 1)


# %% [markdown]
# Training: Adam, 250 steps of 64 fresh random sequences, the sum of the two cross-entropies
# over positions $1\dots N-1$, timed.


# %%
device = get_device()


def train(n_heads: int, steps: int = 250) -> tuple[PreviousAndFirstToken, np.ndarray]:
    """Train one model; return it and its loss per step and read-out, shape (steps, 2)."""
    torch.manual_seed(1)  # the same initial weights for every n_heads (the shapes are equal)
    model = PreviousAndFirstToken(n_heads).to(device=device, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = torch.Generator().manual_seed(2)  # the same batches for every n_heads
    losses = []
    for _ in range(steps):
        tokens = torch.randint(0, VOCAB, (64, SEQ_LEN), generator=data).to(device)  # (B, N)
        logits_prev, logits_first, _ = model(tokens)  # (B, N, V) each
        prev, first = targets_of(tokens)  # (B, N-1) each
        loss_prev = F.cross_entropy(logits_prev[:, 1:].transpose(1, 2), prev)
        loss_first = F.cross_entropy(logits_first[:, 1:].transpose(1, 2), first)
        optimizer.zero_grad()
        (loss_prev + loss_first).backward()
        optimizer.step()
        losses.append([loss_prev.item(), loss_first.item()])
    return model, np.array(losses)


models, losses = {}, {}
for h in (1, 2):
    start = time.perf_counter()
    models[h], losses[h] = train(h)
    seconds, (final_prev, final_first) = time.perf_counter() - start, losses[h][-1]
    print(
        f"{h} head(s): trained in {seconds:.1f} s on {device}; final losses: previous token "
        f"{final_prev:.3f}, first token {final_first:.3f} (chance: {math.log(VOCAB):.3f})"
    )
n_params = [sum(p.numel() for p in models[h].parameters()) for h in (1, 2)]
check_equal("parameters, 1 head vs 2 heads", n_params[0], n_params[1])

# %% [markdown]
# On 1,000 fresh sequences we measure each read-out's accuracy, and where each head puts its
# attention: its mean weight on the previous position $i-1$ and on the first position 0. Both
# are taken over positions $i\ge2$, because at $i=1$ the previous token *is* the first token.

# %%
test_tokens = torch.randint(0, VOCAB, (1000, SEQ_LEN), generator=torch.Generator().manual_seed(3))
test_tokens = test_tokens.to(device)  # (B, N)
prev_target, first_target = targets_of(test_tokens)  # (B, N-1) each
rows = torch.arange(2, SEQ_LEN, device=device)  # query positions i ≥ 2
accuracy, mass_prev, mass_first = {}, {}, {}
with torch.no_grad():
    for h, model in models.items():
        logits_prev, logits_first, weights = model(test_tokens)  # weights: (B, H, N, N)
        accuracy[h] = (
            (logits_prev[:, 2:].argmax(-1) == prev_target[:, 1:]).float().mean().item(),
            (logits_first[:, 2:].argmax(-1) == first_target[:, 1:]).float().mean().item(),
        )
        mass_prev[h] = weights[:, :, rows, rows - 1].mean((0, 2)).cpu().numpy()  # (H,)
        mass_first[h] = weights[:, :, rows, 0].mean((0, 2)).cpu().numpy()  # (H,)
        for head in range(h):
            print(
                f"{h} head(s), head {head}: weight on previous position {mass_prev[h][head]:.3f}, "
                f"on first position {mass_first[h][head]:.3f}"
            )
        prev_acc, first_acc = accuracy[h]
        print(f"{h} head(s): accuracy previous token {prev_acc:.3f}, first token {first_acc:.3f}")
print(f"chance accuracy: 1/{VOCAB} = {1 / VOCAB:.3f}")

# %%
check_true(
    "2 heads solve both read-outs",
    min(accuracy[2]) > 0.99,
    f"accuracies {accuracy[2][0]:.3f}, {accuracy[2][1]:.3f}",
)
check_true(
    "1 head solves one read-out and is near chance on the other",
    max(accuracy[1]) > 0.99 and min(accuracy[1]) < 2 / VOCAB,
    f"accuracies {accuracy[1][0]:.3f}, {accuracy[1][1]:.3f}",
)
prev_head, first_head = int(np.argmax(mass_prev[2])), int(np.argmax(mass_first[2]))
check_true(
    "the two heads split the jobs",
    prev_head != first_head and mass_prev[2][prev_head] > 0.9 and mass_first[2][first_head] > 0.9,
    f"head {prev_head} → previous ({mass_prev[2][prev_head]:.3f}), "
    f"head {first_head} → first ({mass_first[2][first_head]:.3f})",
)

# %% [markdown]
# The figure shows the loss of each read-out during training, and the attention maps of each
# head for one test sequence (query position down, key position across; the causal mask
# leaves the upper triangle empty).

# %%
role = {prev_head: "previous token", first_head: "first token"}
single_role = "first token" if mass_first[1][0] > mass_prev[1][0] else "previous token"
maps = [
    (models[2], 0, f"2 heads, head 0: {role[0]}"),
    (models[2], 1, f"2 heads, head 1: {role[1]}"),
    (models[1], 0, f"1 head: {single_role} only"),
]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.9), width_ratios=[1.3, 1, 1, 1])
for h, style in [(1, "--"), (2, "-")]:
    for j, name in enumerate(["previous token", "first token"]):
        axes[0].plot(
            losses[h][:, j],
            style,
            color=PALETTE[j],
            lw=1.2,
            label=f"{h} head{'s' * (h > 1)}: {name}",
        )
axes[0].axhline(math.log(VOCAB), ls=":", color="0.5", label=f"chance, ln {VOCAB}")
axes[0].set(
    xlabel="training step", ylabel="cross-entropy (nats)", title="Training loss per read-out"
)
axes[0].legend(fontsize=8)
with torch.no_grad():
    for ax, (model, head, title) in zip(axes[1:], maps, strict=True):
        weights = model(test_tokens[:1])[2][0, head].cpu()  # (N, N)
        image = ax.imshow(weights, vmin=0, vmax=1)
        ax.set(xlabel="key position j", ylabel="query position i", title=title)
        ax.grid(False)
fig.colorbar(image, ax=axes[1:], label="attention weight", shrink=0.9)
fig.suptitle(
    f"Two heads split the jobs (weight {mass_prev[2][prev_head]:.2f} on the previous token in "
    f"one, {mass_first[2][first_head]:.2f} on the first token in the other); one head does one"
)
plt.show()

# %% [markdown]
# The measurements above say what happened. With two heads, one head puts nearly all of its
# weight on position $i-1$ (a *previous-token head*, a building block of induction heads
# {cite}`olsson2022induction`) and the other on position 0, and both read-outs are solved.
# With one head, the model commits to one of the two jobs and sits at chance on the other,
# where its loss stays at the chance level $\ln 16$ (printed after training). Both models have
# the same number of parameters and the same FLOPs. What the single head lacks is a second
# distribution. Real heads are rarely this clean (see the follow-up on redundant heads), but
# the mechanism is the same.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "More heads means more computation." True?
# No. For a fixed $d$, the parameter count $4d^2+4d$ and the FLOPs $8Nd^2+4N^2d$ do not depend
# on $h$ (checked above for $h=1,8,16$). What does change: the $h$ score matrices take $hN^2$
# numbers of memory if they are materialised, and very small $d_k$ gives matrix products that
# use the hardware less efficiently. Each head's score matrix $W^Q_iW^{K\top}_i$ also has rank
# at most $d_k$, so too many heads can make every head too narrow.
# :::
#
# :::{dropdown} Does every head learn something different?
# Often not. {cite:t}`michel2019sixteen` removed heads from trained translation models and
# BERT at test time. A large fraction of the heads could be pruned with little loss, and some
# layers could be cut down to a single head. In Experiment 3, two heads are necessary because
# the task has exactly two jobs. With more heads than jobs, nothing forces the extra heads to
# specialise.
# :::
#
# :::{dropdown} What is the cost of self-attention in sequence length?
# $O(N^2d)$ time for $QK^\top$ and $AV$, and $O(N^2)$ memory per head if the score matrix is
# stored. At long context that quadratic term dominates the $O(Nd^2)$ projections.
# FlashAttention {cite}`dao2022flashattention` computes the same exact result tile by tile
# without ever storing the $N\times N$ matrix (chapter 11); the FLOPs stay quadratic.
# :::
#
# :::{dropdown} Masks: which way round, and where do NaNs come from?
# A causal mask hides future keys; a padding mask hides padded keys. Conventions differ:
# in `F.scaled_dot_product_attention` a boolean True means "may attend", in
# `nn.MultiheadAttention` it means "blocked". An additive float mask with $-\infty$ avoids the
# ambiguity. If a query can see **no** key at all (a fully padded sequence, or left padding
# combined with a causal mask), its row is all $-\infty$: the maximum is $-\infty$, and
# $-\infty-(-\infty)$ is NaN. A NaN in one row can then spread through the backward pass to
# every weight. Libraries differ on this, as the next cell shows for the installed PyTorch.
# The fixes: make sure every query sees at least one key, or mask with a large finite negative
# number and leave those positions out of the loss.
# :::

# %%
q, k, v = (torch.randn(1, 1, 3, 4) for _ in range(3))  # (B, H, N, d_k)
allowed = torch.ones(3, 3, dtype=torch.bool)
allowed[1] = False  # query 1 may attend to nothing
ours, _ = scaled_dot_product_attention(q, k, v, allowed)
sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
mha_nan = nn.MultiheadAttention(4, 1, batch_first=True)
mha_row = mha_nan(q[0], q[0], q[0], attn_mask=~allowed)[0][0, 1]  # (d,)
print(f"PyTorch {torch.__version__}, the fully masked row:")
print(f"  ours:                   {ours[0, 0, 1].numpy().round(3)}")
print(f"  F.sdpa:                 {sdpa[0, 0, 1].numpy().round(3)}")
print(f"  nn.MultiheadAttention:  {mha_row.detach().numpy().round(3)}")
check_true("our attention returns NaN for a fully masked row", bool(ours[0, 0, 1].isnan().all()))

# %% [markdown]
# :::{dropdown} "We scale by $\sqrt{d_k}$ for numerical stability." Right?
# No. That is the notes' answer, and it confuses two things. Overflow is prevented by
# subtracting the row maximum {eq}`attn-softmax`, at any scale of the logits. The cell below
# shows a naive softmax overflowing where the shifted one does not. The scaling is about
# *optimisation*: without it the softmax saturates and the gradients vanish (Experiment 2).
# The notes call the gradients "unstable"; they are not unstable, they go to zero.
# :::

# %%
logits = torch.tensor([1000.0, 0.0, -1000.0])
naive = logits.exp() / logits.exp().sum()  # e^1000 overflows to inf, and inf/inf is NaN
print(f"naive: {naive.numpy()}, shifted: {softmax(logits).numpy()}")
check_true(
    "the max-shift alone prevents overflow",
    bool(naive.isnan().any() and softmax(logits).isfinite().all()),
)

# %% [markdown]
# :::{dropdown} Why not divide by $d_k$ instead?
# At initialisation, dividing by $d_k$ gives logits of variance $1/d_k$, so attention starts
# out nearly uniform. In Experiment 2 its entropy at $d_k=512$ is within 1 % of $\ln 32$, and
# the model has to grow its weights to attend to anything. $\sqrt{d_k}$ is the one power that
# keeps the initial logit scale independent of $d_k$. There is a real twist, though. After
# training, $q$ and $k$ are no longer independent: aligned vectors give $q^\top k$ that grows
# like $d_k$, not $\sqrt{d_k}$. This is why μP {cite}`yang2022tensor` uses $1/d_k$ so that
# hyperparameters transfer across widths.
# :::
#
# :::{dropdown} Is $\sqrt{d_k}$ a softmax temperature? Are there other choices?
# Yes: $\operatorname{softmax}(z/\tau)$ with $\tau=\sqrt{d_k}$ fixed. A lower temperature
# sharpens attention, a higher one flattens it. The $\sqrt{d_k}$ only fixes the scale at
# initialisation; during training $\|q\|$ and $\|k\|$ can still grow and saturate the softmax
# again. {cite:t}`dehghani2023scaling` saw this while scaling Vision Transformers: attention
# logits grew until training diverged. Their fix normalises $q$ and $k$ with a LayerNorm
# before the dot product ("QK-norm"), which bounds the logits.
# :::
#
# :::{dropdown} Do decoder-only models need positional encodings at all?
# Less than you would think. The causal mask already breaks permutation symmetry (checked
# above), and {cite:t}`haviv2022nope` found that causal language models with no positional
# encoding ("NoPE") come close to models that have one. A bidirectional encoder without
# positions cannot tell order at all. One way a causal model can find its position: a head that
# attends uniformly averages $i+1$ values, and the average of $i+1$ random vectors has squared
# norm about $d/(i+1)$, a signal that shrinks with position. The next cell measures this.
# :::

# %%
n, d_nope = 64, 64
values = torch.randn(512, n, d_nope)  # (B, N, d): random unit-variance values
uniform_causal = causal_mask(n) / causal_mask(n).sum(-1, keepdim=True)  # (N, N), rows sum to 1
averaged = uniform_causal @ values  # (B, N, d): what a head with all-zero scores outputs
squared_norm = averaged.pow(2).sum(-1).mean(0)  # (N,)
position = torch.arange(n)
check_close(
    "causal uniform attention: E‖out_i‖² · (i+1)/d ≈ 1",
    squared_norm * (position + 1) / d_nope,
    torch.ones(n),
    atol=0.1,
)
print(
    "squared norm of the output at positions 0, 3, 15, 63:",
    squared_norm[[0, 3, 15, 63]].numpy().round(2),
)

# %% [markdown]
# :::{dropdown} "Transformers need positions because they process tokens in parallel." Right?
# Only roughly. A convolution also processes every position in parallel, and it knows order,
# because its weights depend on the offset between positions. What makes attention order-blind
# is that its weights depend only on the *contents* $q_i^\top k_j$, through
# {eq}`attn-equivariance`. Positions have to enter the contents (added embeddings) or the
# score (relative biases, RoPE).
# :::
#
# :::{dropdown} Can I split the embedding into $h$ slices first and project each slice?
# That is a different model. If head $i$ projects only the $i$-th slice of $x$, each head sees
# $d/h$ input features instead of all $d$. If, on top of that, the heads share one small
# projection, the parameter count becomes $3(d/h)^2+d^2+d$, and the heads differ only in which
# slice they read. In {eq}`attn-mha` every head projects the full input with its own matrices.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. How many parameters has one multi-head attention layer of BERT-base ($d=768$, $h=12$,
#    with biases)? How many with $h=1$?
#
#    :::{dropdown} Answer
#    $4d^2+4d=2{,}362{,}368$ in both cases, because the count does not depend on $h$. The cell
#    below checks it against `nn.MultiheadAttention` and our class.
#    :::

# %%
d, expected = 768, 4 * 768**2 + 4 * 768
for h in (12, 1):
    check_equal(
        f"BERT-base attention, h = {h}, nn.MultiheadAttention",
        sum(p.numel() for p in nn.MultiheadAttention(d, h).parameters()),
        expected,
    )
    check_equal(
        f"BERT-base attention, h = {h}, ours",
        sum(p.numel() for p in MultiHeadSelfAttention(d, h).parameters()),
        expected,
    )
print(f"{expected:,} parameters")

# %% [markdown]
# 2. The projections are initialised so that the components of $q$ and $k$ have variance
#    $\sigma^2=4$ each instead of 1. What is the standard deviation of the scaled logit
#    $q^\top k/\sqrt{d_k}$ for $d_k=64$? For $d_k=512$?
#
#    :::{dropdown} Answer
#    Each product $q_lk_l$ has variance $\sigma^2\cdot\sigma^2=16$, so
#    $\operatorname{Var}(q^\top k)=16\,d_k$ and the scaled logit has variance 16, standard
#    deviation 4, for *every* $d_k$. The $\sqrt{d_k}$ removes the dependence on the head size,
#    not the scale of the projections: that is up to the initialisation and the LayerNorm
#    before attention. The cell below samples it.
#    :::

# %%
sigma = 2.0
for d_k in (64, 512):
    q, k = sigma * torch.randn(10_000, d_k), sigma * torch.randn(10_000, d_k)  # (n, d_k) each
    std = ((q * k).sum(-1) / math.sqrt(d_k)).std().item()
    check_close(f"std of q·k/√d_k with σ² = 4, d_k = {d_k}", std, sigma**2, atol=0.1)

# %% [markdown]
# 3. A BERT-style encoder is trained *without* positional embeddings and classifies from the
#    [CLS] token at position 0. You shuffle the words after [CLS]. How does the prediction
#    change?
#
#    :::{dropdown} Answer
#    Not at all. By {eq}`attn-equivariance`, applied layer after layer, shuffling the rows of
#    the input shuffles the rows of every layer's output in the same way. The [CLS] row stays
#    where it is, so its output is exactly the same. The classifier sees a bag of words.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`vaswani2017attention`: section 3.2.1 and eq. (1) (scaled dot-product attention),
#   footnote 4 (the variance argument of {eq}`attn-var`), section 3.2.2 (multi-head attention,
#   $d_k=d_\text{model}/h$), section 3.5 (positional encodings).
# - {cite:t}`bahdanau2015attention`: attention as a learned soft alignment, before Transformers.
# - {cite:t}`rush2018annotated`: an annotated, runnable implementation of the whole
#   Transformer, which the layout of this chapter follows.
# - {cite:t}`pytorch_attention`: `nn.MultiheadAttention` (the stacked `in_proj_weight`, the
#   boolean mask convention) and `F.scaled_dot_product_attention`, the references of the
#   Verification section.
# - {cite:t}`michel2019sixteen` (pruning heads), {cite:t}`olsson2022induction`
#   (previous-token heads), {cite:t}`haviv2022nope` (NoPE),
#   {cite:t}`dao2022flashattention` (attention without the $N\times N$ matrix),
#   {cite:t}`yang2022tensor` (μP's $1/d_k$), {cite:t}`dehghani2023scaling` (QK-norm).
# - Further reading from the notes: the repository
#   [audreycs/transformer_from_scratch](https://github.com/audreycs/transformer_from_scratch),
#   a compact encoder–decoder in PyTorch. Note that its attention cuts the embedding into
#   per-head slices *before* projecting, with one small projection shared by all heads,
#   unlike {eq}`attn-mha` (see the last follow-up question).

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
# # 05. Multi-query and grouped-query attention
#
# **The question.** What is multi-query attention? (The notes call it a "multi-query KV
# cache"; the method is Multi-Query *Attention*, and its generalisation is grouped-query
# attention.)
#
# **What you will be able to answer.** Which key/value head each query head reads; why
# MHA and MQA are the two ends of GQA; what shrinks (the KV cache and the bytes read per
# generated token, by $h/g$) and what does not (the attention FLOPs, most of the weights);
# how an MHA checkpoint is converted to GQA; what it costs in quality; and how MLA and
# tensor parallelism change the picture.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.data import token_task_batch
from notebook_utils.gpt import GPT, CausalSelfAttention, GPTConfig
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import format_bytes, time_call

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the equivalence checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **Multi-query attention (MQA)** {cite}`shazeer2019fast`: all $h$ query heads share **one**
#   key head and **one** value head; each head keeps its own query projection. The attention
#   pattern still differs per head (different queries), but the keys and values stored per
#   token are $2d_h$ numbers per layer instead of $2hd_h$.
# - **Grouped-query attention (GQA)** {cite}`ainslie2023gqa`: $g$ key/value heads, each shared
#   by a group of $h/g$ consecutive query heads; query head $i$ reads key/value head
#   $\lfloor i/(h/g)\rfloor$. $g=h$ is ordinary multi-head attention (MHA), $g=1$ is MQA: one
#   module with a `n_kv_head` parameter covers all three.
# - **Why.** Decoding is memory-bandwidth-bound ([chapter 04](04_kv_cache.ipynb)): each new
#   token reads the whole KV cache, $2\,L\,g\,d_h\,T\,B\,\beta$ bytes. Sharing K/V divides the
#   cache and that traffic by $h/g$ (by $h$ for MQA). The attention FLOPs do not change, and
#   the weights shrink by at most half (only $W_K,W_V$ get smaller). Llama-2-70B (64 query
#   heads, 8 KV heads) stores 327,680 B per token in fp16 instead of 2,621,440 with MHA: 8×.
# - **Cost.** Fewer KV heads means less capacity: MQA loses some quality and was found to
#   make training less stable; GQA with a few groups (8 in Llama-2-70B, in every Llama 3
#   model, in Mistral 7B) gets close to MHA quality at close to MQA speed
#   {cite}`touvron2023llama2,dubey2024llama,jiang2023mistral`.
# - **From an MHA checkpoint**: mean-pool the key (and value) projections of each group into
#   one head and continue pre-training briefly ("uptraining", about 5 % of the original
#   compute in {cite:t}`ainslie2023gqa`).
#
# The notes define MQA correctly (shared K and V, separate Q) but give it the wrong name and
# leave out why it exists: the KV cache and the memory traffic shrink by a factor of $h$.
# They also leave out its price (quality, stability), GQA, uptraining, and MLA
# {cite}`deepseekai2024deepseekv2`, which compresses K and V into one small latent vector
# per token instead of sharing heads.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $X\in\mathbb R^{N\times d}$ | the input sequence, one token per row | `x`, (B, T, d) |
# | $h$, $g$ | query heads, key/value heads ($g$ divides $h$) | `n_head`, `n_kv_head` |
# | $m=h/g$ | query heads per group | `group_size` |
# | $d_h=d/h$ | width of one head | `head_dim` |
# | $W^Q_i$, $i=0..h-1$ | query projection of head $i$, $d\times d_h$ | $d_h$ rows of `w_q` |
# | $W^K_j,W^V_j$, $j=0..g-1$ | projections of KV head $j$, $d\times d_h$ | of `w_k`, `w_v` |
# | $W^O$ | output projection, $hd_h\times d$ | `w_o` |
# | $L$, $T$, $S$ | layers, new positions, keys attended to | |
# | $B$, $\beta$ | batch size, bytes per stored number | |
#
# Heads are numbered from 0, as in the code. [Chapter 01](01_self_attention.ipynb) derives
# scaled dot-product and multi-head attention; this chapter changes only where the keys and
# values come from.
#
# ### Grouped-query attention
#
# Query head $i$ belongs to group
#
# $$
# \gamma(i)=\Big\lfloor \frac{i}{m}\Big\rfloor,\qquad m=\frac hg,
# $$ (mqa-group)
#
# so heads $0..m-1$ share KV head 0, heads $m..2m-1$ share KV head 1, and so on. With
# $Q_i=XW^Q_i$, $K_j=XW^K_j$, $V_j=XW^V_j$ and the causal mask $M$:
#
# $$
# \text{head}_i=\operatorname{softmax}\!\Big(\frac{Q_iK_{\gamma(i)}^\top}{\sqrt{d_h}}+M\Big)
# V_{\gamma(i)},\qquad
# \operatorname{GQA}(X)=[\text{head}_0,\dots,\text{head}_{h-1}]\,W^O
# $$ (mqa-gqa)
#
# The two ends: for $g=h$, $m=1$ and $\gamma(i)=i$, every head has its own keys and values,
# which is {eq}`attn-mha`, multi-head attention. For $g=1$, $\gamma(i)=0$ for every $i$: one
# key and one value head shared by all queries, Shazeer's multi-query attention.
#
# ### GQA is MHA with tied key/value heads
#
# Head $i$'s output in {eq}`mqa-gqa` depends on $W^Q_i$, $W^K_{\gamma(i)}$ and
# $W^V_{\gamma(i)}$ only. Build an MHA layer whose key and value projections are copies,
#
# $$
# \widetilde W^K_i=W^K_{\gamma(i)},\qquad \widetilde W^V_i=W^V_{\gamma(i)},\qquad i=0..h-1,
# $$ (mqa-expand)
#
# with the same $W^Q$ and $W^O$: every head computes exactly the same thing, so the outputs
# are equal. GQA is therefore the subset of MHA in which the $m$ key heads (and value heads)
# of each group are tied. Nothing is gained in expressiveness by GQA; what is gained is that
# the tied copies need to be computed and stored only once.
#
# ### Converting an MHA checkpoint: mean pooling
#
# Going the other way, an MHA layer has $h$ different key heads and GQA can keep only $g$.
# {cite:t}`ainslie2023gqa` replace each group by the mean of its heads (and the same for values
# and biases):
#
# $$
# W^K_j=\frac1m\sum_{i:\,\gamma(i)=j}\widetilde W^K_i
# $$ (mqa-meanpool)
#
# The mean is the tied weight closest to the heads it replaces. For any matrix $A$, expanding
# the square around $\bar W=W^K_j$ and using $\sum_{i}(\widetilde W^K_i-\bar W)=0$:
#
# $$
# \sum_{i:\,\gamma(i)=j}\big\|\widetilde W^K_i-A\big\|_F^2
# =\sum_{i:\,\gamma(i)=j}\big\|\widetilde W^K_i-\bar W\big\|_F^2+m\,\big\|\bar W-A\big\|_F^2
# $$ (mqa-pythagoras)
#
# so $A=\bar W$ minimises the left side: mean pooling is the orthogonal projection of the MHA
# weights onto the GQA subset. Close in weights is not the same as close in function (the
# softmax is not linear), which is why the converted model is trained a little more.
#
# ### Parameters
#
# With biases, the four projections have $d\cdot hd_h+hd_h$ (queries), $2(d\cdot gd_h+gd_h)$
# (keys and values) and $hd_h\cdot d+d$ (output) parameters. With $hd_h=d$:
#
# $$
# P(g)=2d^2+2d+2\,g\,d_h\,(d+1)
# $$ (mqa-params)
#
# $P(h)=4d^2+4d$ is {eq}`attn-params`. Without biases, $P(g)/P(h)=\tfrac12+\tfrac{g}{2h}$: even
# MQA keeps more than half of the attention weights, because $W^Q$ and $W^O$ do not shrink.
#
# ### Cache size and bytes read per generated token
#
# The cache holds one key and one value vector of width $d_h$ per KV head, layer, position
# and sequence ([chapter 04](04_kv_cache.ipynb), {eq}`kv-bytes`):
#
# $$
# \text{KV bytes}=2\cdot L\cdot g\cdot d_h\cdot T\cdot B\cdot\beta,\qquad
# \frac{\text{KV bytes}_\text{MHA}}{\text{KV bytes}_\text{GQA}}=\frac hg
# $$ (mqa-cache)
#
# A decode step for one new token per sequence, with $S$ positions cached, reads the whole
# cache once and does $4hd_hS$ FLOPs per layer and sequence in $QK^\top$ and $AV$:
#
# $$
# \text{bytes read}=2LgSd_hB\beta,\qquad \text{FLOPs}=4LhSd_hB,\qquad
# I=\frac{\text{FLOPs}}{\text{bytes}}=\frac{2}{\beta}\cdot\frac hg
# $$ (mqa-traffic)
#
# The FLOPs have no $g$ in them: GQA does the same arithmetic on fewer bytes. For MHA in fp16
# the attention part of decoding does 1 FLOP per byte it reads; GQA does $h/g$. Even MQA with
# $h=64$ stays far below what an accelerator can do per byte (about 150 FLOP/byte for an
# A100, chapter 04), so this part of decoding remains memory-bound and its time falls roughly
# in proportion to $g$.
#
# ### Computing it without copying
#
# The simplest implementation copies each KV head $m$ times (`repeat_interleave`) and then
# runs MHA: correct by {eq}`mqa-expand`, but it materialises an $h$-head cache and reads it,
# which throws the saving away. Instead, stack the $m$ query heads of group $j$ and their $T$
# positions into one $(mT)\times d_h$ matrix $Q_{(j)}$:
#
# $$
# Z_{(j)}=\frac{Q_{(j)}K_j^\top}{\sqrt{d_h}}\in\mathbb R^{mT\times S},\qquad
# O_{(j)}=\operatorname{softmax}\big(Z_{(j)}+M\big)\,V_j
# $$ (mqa-stack)
#
# One matrix product per KV head reads $K_j$ and $V_j$ once for all $m$ heads. At decode
# time ($T=1$) MHA multiplies $h$ single query rows by $h$ different key matrices
# (matrix–vector products, one pass over memory per head); MQA multiplies one
# $h\times d_h$ matrix by one key matrix, so what is read once is used $h$ times. This is the
# sense of the title of {cite:t}`shazeer2019fast`, "one write-head": what is written to
# memory (the cache) comes from a single head, while all $h$ heads read from it.

# %% [markdown]
# ## Implementation from scratch
#
# The group of a query head, {eq}`mqa-group`:


# %%
def kv_head_of(query_head: int, n_head: int, n_kv_head: int) -> int:
    """eq. (mqa-group): the key/value head that query head `query_head` reads."""
    if n_head % n_kv_head:
        raise ValueError(f"n_kv_head={n_kv_head} must divide n_head={n_head}")
    if not 0 <= query_head < n_head:
        raise ValueError(f"query_head must be in [0, {n_head}), got {query_head}")
    return query_head // (n_head // n_kv_head)


# %% [markdown]
# Attention with $g$ key/value heads, {eq}`mqa-gqa` computed as {eq}`mqa-stack`: the query
# tensor $(B,h,T,d_h)$ is reshaped to $(B,g,mT,d_h)$, which puts heads $jm..jm+m-1$ (the heads
# of group $j$ by {eq}`mqa-group`) next to KV head $j$. The $T$ queries are the last $T$ of
# the $S$ positions, so query $t$ may see keys up to $S-T+t$, as in a decode step with a
# cache.


# %%
def grouped_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True
) -> torch.Tensor:
    """eq. (mqa-gqa) for q (B, h, T, d_h) and k, v (B, g, S, d_h); returns (B, h, T, d_h).

    Each key/value head is read once for its h/g query heads, eq. (mqa-stack); nothing is
    copied.
    """
    B, h, T, d_h = q.shape
    g, S = k.shape[1], k.shape[2]
    if h % g or v.shape != k.shape or S < T:
        raise ValueError(f"need g | h, k and v alike and S >= T; got {q.shape}, {k.shape}")
    m = h // g
    q_groups = q.reshape(B, g, m * T, d_h)  # (B, g, m·T, d_h): rows (head in group, position)
    scores = q_groups @ k.transpose(-2, -1) / math.sqrt(d_h)  # (B, g, m·T, S)
    if causal:
        allowed = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)
        scores = scores.view(B, g, m, T, S).masked_fill(~allowed, float("-inf"))  # (B,g,m,T,S)
        scores = scores.view(B, g, m * T, S)
    weights = torch.softmax(scores, dim=-1)  # (B, g, m·T, S)
    return (weights @ v).view(B, h, T, d_h)  # (B, g, m·T, d_h) -> (B, h, T, d_h)


# %% [markdown]
# Shazeer's multi-query attention as the paper writes it, with no head axis on the keys and
# values at all (one $d_h$-vector per position), as an independent implementation of $g=1$:


# %%
def multi_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal MQA: q (B, h, T, d_h) and one key/value per position, k, v (B, S, d_h)."""
    T, S = q.shape[2], k.shape[1]
    scores = torch.einsum("bhtd,bsd->bhts", q, k) / math.sqrt(q.shape[-1])  # (B, h, T, S)
    allowed = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return torch.einsum("bhts,bsd->bhtd", weights, v)  # (B, h, T, d_h)


# %% [markdown]
# The module: four projections, where the key and value projections have $g\,d_h$ outputs
# instead of $h\,d_h$. An optional cache `past=(k, v)` of shape $(B,g,S_\text{past},d_h)$ holds
# the keys and values of earlier positions; the module returns the updated one, as the shared
# GPT's attention does.


# %%
class GroupedQueryAttention(nn.Module):
    """Causal self-attention with n_head query heads and n_kv_head key/value heads.

    n_kv_head = n_head is multi-head attention, n_kv_head = 1 multi-query attention.
    """

    def __init__(self, d_model: int, n_head: int, n_kv_head: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        if n_kv_head < 1 or n_head % n_kv_head:
            raise ValueError(f"n_kv_head={n_kv_head} must divide n_head={n_head}")
        self.n_head, self.n_kv_head = n_head, n_kv_head
        self.head_dim = d_model // n_head
        self.group_size = n_head // n_kv_head
        self.w_q = nn.Linear(d_model, n_head * self.head_dim, bias=bias)  # [W^Q_0 … W^Q_{h-1}]
        self.w_k = nn.Linear(d_model, n_kv_head * self.head_dim, bias=bias)  # [W^K_0 … W^K_{g-1}]
        self.w_v = nn.Linear(d_model, n_kv_head * self.head_dim, bias=bias)
        self.w_o = nn.Linear(n_head * self.head_dim, d_model, bias=bias)  # W^O

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Output (B, T, d) for the T new positions of x (B, T, d), and the updated cache."""
        B, T, _ = x.shape
        h, g, d_h = self.n_head, self.n_kv_head, self.head_dim
        q = self.w_q(x).view(B, T, h, d_h).transpose(1, 2)  # (B, h, T, d_h)
        k = self.w_k(x).view(B, T, g, d_h).transpose(1, 2)  # (B, g, T, d_h)
        v = self.w_v(x).view(B, T, g, d_h).transpose(1, 2)  # (B, g, T, d_h)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, g, S, d_h)
            v = torch.cat([past[1], v], dim=2)
        heads = grouped_attention(q, k, v)  # (B, h, T, d_h), eq. (mqa-gqa)
        out = self.w_o(heads.transpose(1, 2).reshape(B, T, h * d_h))  # (B, T, d)
        return out, (k, v)


# %% [markdown]
# Moving weights between layouts. `nn.MultiheadAttention` stacks $W^Q,W^K,W^V$ in one
# `in_proj_weight` (only $g=h$); the shared GPT's `CausalSelfAttention` stacks them in one
# `qkv` layer with $(h+2g)\,d_h$ outputs, in the order queries, keys, values.


# %%
@torch.no_grad()
def load_from_torch_mha(module: GroupedQueryAttention, mha: nn.MultiheadAttention) -> None:
    """Copy nn.MultiheadAttention's weights into `module` (which must have g = h)."""
    if module.n_kv_head != module.n_head:
        raise ValueError("nn.MultiheadAttention has as many key/value heads as query heads")
    weights = mha.in_proj_weight.chunk(3)  # 3 × (d, d)
    biases = mha.in_proj_bias.chunk(3)
    for linear, weight, bias in zip(
        [module.w_q, module.w_k, module.w_v], weights, biases, strict=True
    ):
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    module.w_o.weight.copy_(mha.out_proj.weight)
    module.w_o.bias.copy_(mha.out_proj.bias)


@torch.no_grad()
def load_from_shared(module: GroupedQueryAttention, shared: CausalSelfAttention) -> None:
    """Copy the shared GPT's attention weights (qkv rows: h·d_h queries, g·d_h keys, values)."""
    h, g, d_h = module.n_head, module.n_kv_head, module.head_dim
    sizes = [h * d_h, g * d_h, g * d_h]
    targets = [module.w_q, module.w_k, module.w_v]
    for linear, weight in zip(targets, shared.qkv.weight.split(sizes), strict=True):
        linear.weight.copy_(weight)
    if shared.qkv.bias is not None:
        for linear, bias in zip(targets, shared.qkv.bias.split(sizes), strict=True):
            linear.bias.copy_(bias)
    module.w_o.load_state_dict(shared.proj.state_dict())


# %% [markdown]
# Changing the number of key/value heads of a projection. Its output rows are $g$ blocks of
# $d_h$, one per KV head. Copying each block to the $m$ heads of its group is
# {eq}`mqa-expand`; mean pooling the blocks of each group is {eq}`mqa-meanpool`. For the
# experiments, two other conversions that {cite:t}`ainslie2023gqa` compare against: keep the
# first head of each group, or start the key/value projections from scratch (drawn like the
# shared GPT's initialisation, $\mathcal N(0,0.02^2)$ weights and zero biases).


# %%
def expand_kv_heads(rows: torch.Tensor, n_kv_head: int, head_dim: int) -> torch.Tensor:
    """eq. (mqa-expand): the (g·d_h, ...) rows of a K or V projection (weight or bias), with
    each head's block repeated for the heads of its group: (n_kv_head·d_h, ...)."""
    g = rows.shape[0] // head_dim
    if n_kv_head % g:
        raise ValueError(f"cannot expand {g} heads to {n_kv_head}")
    blocks = rows.reshape(g, head_dim, *rows.shape[1:])  # (g, d_h, ...)
    return blocks.repeat_interleave(n_kv_head // g, dim=0).reshape(-1, *rows.shape[1:])


def pool_kv_heads(
    rows: torch.Tensor,
    n_kv_head: int,
    head_dim: int,
    how: str = "mean",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The (g·d_h, ...) rows of a K or V projection reduced to n_kv_head heads: the mean of
    each group (eq. (mqa-meanpool)), its first head, or fresh random weights."""
    g = rows.shape[0] // head_dim
    if g % n_kv_head:
        raise ValueError(f"cannot pool {g} heads into {n_kv_head}")
    groups = rows.reshape(n_kv_head, g // n_kv_head, head_dim, *rows.shape[1:])  # (g', m, d_h, …)
    if how == "mean":
        pooled = groups.mean(dim=1)
    elif how == "first":
        pooled = groups[:, 0]
    elif how == "random":
        pooled = torch.zeros_like(groups[:, 0])  # biases: zero
        if rows.dim() > 1:  # weights: N(0, 0.02²)
            pooled = 0.02 * torch.randn(pooled.shape, generator=generator, dtype=rows.dtype)
    else:
        raise ValueError(f"how must be 'mean', 'first' or 'random', got {how!r}")
    return pooled.reshape(-1, *rows.shape[1:])


# %% [markdown]
# The same two operations on a whole module, and on every layer of a shared GPT (whose `qkv`
# rows are split into queries, keys and values first):


# %%
def regroup_kv(rows: torch.Tensor, n_kv_head: int, head_dim: int, **pool: object) -> torch.Tensor:
    """Expand (more heads) or pool (fewer heads) the rows of a K or V projection."""
    if n_kv_head >= rows.shape[0] // head_dim:
        return expand_kv_heads(rows, n_kv_head, head_dim)
    return pool_kv_heads(rows, n_kv_head, head_dim, **pool)  # type: ignore[arg-type]


@torch.no_grad()
def with_kv_heads(
    module: GroupedQueryAttention, n_kv_head: int, **pool: object
) -> GroupedQueryAttention:
    """A copy of `module` with n_kv_head key/value heads (expanded or pooled)."""
    d_model, bias = module.w_q.in_features, module.w_q.bias is not None
    new = GroupedQueryAttention(d_model, module.n_head, n_kv_head, bias=bias)
    new = new.to(module.w_q.weight.dtype)
    new.w_q.load_state_dict(module.w_q.state_dict())
    new.w_o.load_state_dict(module.w_o.state_dict())
    for old_linear, new_linear in [(module.w_k, new.w_k), (module.w_v, new.w_v)]:
        for name, param in old_linear.named_parameters():
            getattr(new_linear, name).copy_(regroup_kv(param, n_kv_head, module.head_dim, **pool))
    return new


@torch.no_grad()
def gpt_with_kv_heads(model: GPT, n_kv_head: int, **pool: object) -> GPT:
    """A copy of the shared GPT with n_kv_head key/value heads in every layer."""
    cfg = model.cfg
    h, g, d_h = cfg.n_head, cfg.kv_heads, cfg.head_dim
    new_cfg = GPTConfig(**{**cfg.__dict__, "n_kv_head": n_kv_head})
    state = model.state_dict()
    for name in [n for n in state if n.endswith(("attn.qkv.weight", "attn.qkv.bias"))]:
        q, k, v = state[name].split([h * d_h, g * d_h, g * d_h])
        k, v = (regroup_kv(t, n_kv_head, d_h, **pool) for t in (k, v))
        state[name] = torch.cat([q, k, v])
    new = GPT(new_cfg).to(model.tok_emb.weight.dtype)
    new.load_state_dict(state)
    return new


# %% [markdown]
# The parameter count {eq}`mqa-params` (with or without biases) and the cache size
# {eq}`mqa-cache`:


# %%
def attention_parameters(d_model: int, n_head: int, n_kv_head: int, bias: bool = True) -> int:
    """eq. (mqa-params): parameters of the four projections, general head_dim = d/h."""
    d_h = d_model // n_head
    qkv_out = (n_head + 2 * n_kv_head) * d_h
    weights = d_model * qkv_out + n_head * d_h * d_model
    biases = qkv_out + d_model
    return weights + int(bias) * biases


def kv_cache_bytes(
    n_layers: int, n_kv_heads: int, head_dim: int, seq_len: int, batch: int, bytes_per_elem: int
) -> int:
    """eq. (mqa-cache): 2 (K and V) × layers × KV heads × head dim × tokens × batch × bytes."""
    return 2 * n_layers * n_kv_heads * head_dim * seq_len * batch * bytes_per_elem


# %% [markdown]
# ## Verification
#
# All checks in float64, so `atol=1e-12` means the same computation up to rounding.
#
# ### $g=h$ is multi-head attention: against `nn.MultiheadAttention`
#
# With $g=h$ our module must be MHA. `nn.MultiheadAttention` is the reference (chapter 01's
# from-scratch MHA was checked against it with the same tolerance). Its boolean mask means
# "blocked", so it gets the upper triangle.

# %%
D, H, B, N = 32, 8, 3, 10
x = torch.randn(B, N, D)  # (B, N, d)
causal_blocked = torch.ones(N, N, dtype=torch.bool).triu(diagonal=1)  # True = may not attend
torch_mha = nn.MultiheadAttention(D, H, batch_first=True)
ours_mha = GroupedQueryAttention(D, H, H)
load_from_torch_mha(ours_mha, torch_mha)
reference, _ = torch_mha(x, x, x, attn_mask=causal_blocked, need_weights=False)
check_close("g = h vs nn.MultiheadAttention (causal)", ours_mha(x)[0], reference, atol=1e-12)

# %% [markdown]
# ### Against the shared GPT's attention, for $g\in\{h,2,1\}$, with and without a cache
#
# The shared `CausalSelfAttention` implements GQA differently: it copies each KV head with
# `repeat_interleave` and calls `F.scaled_dot_product_attention`. With the same weights, the
# outputs and the returned keys and values must agree: for a full pass over 10 tokens, and for
# a prefill of 6 tokens followed by 4 decode steps of one token each with the cache.

# %%
for g in (H, 2, 1):
    shared = CausalSelfAttention(GPTConfig(50, 64, 1, H, D, n_kv_head=g))
    ours = GroupedQueryAttention(D, H, g)
    load_from_shared(ours, shared)
    out, (k, v) = ours(x)
    ref_out, (ref_k, ref_v) = shared(x)
    check_close(f"g = {g}: full pass, output vs shared GPT", out, ref_out, atol=1e-12)
    check_close(
        f"g = {g}: full pass, cached K and V",
        torch.stack([k, v]),
        torch.stack([ref_k, ref_v]),
        atol=1e-12,
    )
    ours_cache, shared_cache = None, None
    ours_steps, shared_steps = [], []
    for start, stop in [(0, 6), (6, 7), (7, 8), (8, 9), (9, 10)]:  # prefill, then decode
        step_out, ours_cache = ours(x[:, start:stop], ours_cache)
        ref_step, shared_cache = shared(x[:, start:stop], past=shared_cache)
        ours_steps.append(step_out)
        shared_steps.append(ref_step)
    check_close(
        f"g = {g}: prefill + 4 decode steps vs shared GPT",
        torch.cat(ours_steps, 1),
        torch.cat(shared_steps, 1),
        atol=1e-12,
    )
    check_close(
        f"g = {g}: prefill + 4 decode steps vs one full pass",
        torch.cat(ours_steps, 1),
        out,
        atol=1e-12,
    )

# %% [markdown]
# ### The attention core against `F.scaled_dot_product_attention(enable_gqa=True)`
#
# PyTorch's fused attention accepts fewer key/value heads than query heads when asked
# (`enable_gqa=True`). Three queries at the end of 9 positions (a chunk of a cached decode),
# $h=8$ and every $g$ that divides it:

# %%
print(f"PyTorch {torch.__version__}")
q = torch.randn(2, H, 3, 4)  # (B, h, T, d_h)
for g in (8, 4, 2, 1):
    k, v = torch.randn(2, g, 9, 4), torch.randn(2, g, 9, 4)  # (B, g, S, d_h)
    mask = torch.ones(3, 9, dtype=torch.bool).tril(diagonal=9 - 3)  # (T, S): True = may attend
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    check_close(
        f"g = {g}: grouped_attention vs F.sdpa(enable_gqa=True)",
        grouped_attention(q, k, v),
        reference,
        atol=1e-12,
    )

# %% [markdown]
# ### MQA is GQA with $g=1$
#
# Shazeer's einsum form, with keys and values that have no head axis, against our grouped
# attention with a head axis of length 1:

# %%
k, v = torch.randn(2, 9, 4), torch.randn(2, 9, 4)  # (B, S, d_h): one key, one value per position
check_close(
    "multi-query attention (einsum) vs grouped_attention, g = 1",
    multi_query_attention(q, k, v),
    grouped_attention(q, k[:, None], v[:, None]),
    atol=1e-12,
)

# %% [markdown]
# ### GQA equals MHA with copied key/value heads, {eq}`mqa-expand`
#
# Each GQA module ($h=8$) is expanded to an MHA module ($g=h$) whose key and value heads are
# copies within each group; the two must give the same output. Pooling the expanded module
# back must return the original weights (the mean of $m$ equal copies is the copy).

# %%
for g in (4, 2, 1):
    gqa = GroupedQueryAttention(D, H, g)
    expanded = with_kv_heads(gqa, H)
    check_equal(f"g = {g}: expanded module has h key heads", expanded.n_kv_head, H, quiet=True)
    check_close(f"g = {g}: GQA vs MHA with copied K/V heads", gqa(x)[0], expanded(x)[0], atol=1e-12)
    pooled_back = with_kv_heads(expanded, g, how="mean")
    check_close(
        f"g = {g}: mean-pooling the copies returns the GQA weights",
        torch.cat([p.flatten() for p in pooled_back.parameters()]),
        torch.cat([p.flatten() for p in gqa.parameters()]),
        atol=1e-15,
    )

# %% [markdown]
# ### Mean pooling is the closest tied weight, {eq}`mqa-pythagoras`
#
# For the key projection of a random MHA layer, pooled into $g=2$ groups of $m=4$: the
# identity with $A$ = the first head of each group (what "first-head" conversion keeps), and
# with $A$ = a random matrix.

# %%
mha_keys = GroupedQueryAttention(D, H, H).w_k.weight.detach()  # (h·d_h, d)
d_h, g, m = D // H, 2, H // 2
heads = mha_keys.reshape(g, m, d_h, D)  # (g, m, d_h, d)
mean = pool_kv_heads(mha_keys, g, d_h).reshape(g, 1, d_h, D)
for name, A in [("first head", heads[:, :1]), ("random A", torch.randn(g, 1, d_h, D))]:
    lhs = ((heads - A) ** 2).sum()
    rhs = ((heads - mean) ** 2).sum() + m * ((mean - A) ** 2).sum()
    check_close(f"eq. (mqa-pythagoras), A = {name}", lhs, rhs, atol=1e-12)

# %% [markdown]
# ### Parameters: {eq}`mqa-params` against `count_parameters`
#
# For every $g$ that divides $h=8$, with and without biases; and for the attention block of
# Llama-2-70B ($d=8192$, $h=64$, $g=8$, no biases), built on PyTorch's `meta` device, which
# records shapes without allocating memory.

# %%
for bias in (True, False):
    counted = [count_parameters(GroupedQueryAttention(D, H, g, bias=bias)) for g in (8, 4, 2, 1)]
    formula = [attention_parameters(D, H, g, bias=bias) for g in (8, 4, 2, 1)]
    check_equal(
        f"eq. (mqa-params), d = {D}, h = 8, g = 8, 4, 2, 1, bias = {bias}", counted, formula
    )
check_equal("g = h: 4d² + 4d (chapter 01)", attention_parameters(D, H, H), 4 * D**2 + 4 * D)
with torch.device("meta"):
    llama70b_attention = GroupedQueryAttention(8192, 64, 8, bias=False)
    llama70b_mha_attention = GroupedQueryAttention(8192, 64, 64, bias=False)
llama70b_params = count_parameters(llama70b_attention)
llama70b_mha_params = count_parameters(llama70b_mha_attention)
check_equal(
    "Llama-2-70B attention block, eq. (mqa-params)",
    llama70b_params,
    attention_parameters(8192, 64, 8, bias=False),
)
print(
    f"Llama-2-70B, one layer's attention: {llama70b_params:,} parameters with g = 8, "
    f"{llama70b_mha_params:,} with g = h = 64 (ratio {llama70b_params / llama70b_mha_params:.3f})"
)

# %% [markdown]
# ### Cache bytes: {eq}`mqa-cache` against the shared GPT's cache
#
# The `nbytes` of the keys and values that the shared GPT returns, for 8 query heads and
# $g=8,4,2,1$ (3 layers, $d=64$, float32, a batch of 2 prompts of 13 tokens):

# %%
KV_SWEEP = [8, 4, 2, 1]
toy_cache_bytes = {}
for g in KV_SWEEP:
    toy_cfg = GPTConfig(vocab_size=50, block_size=64, n_layer=3, n_head=8, d_model=64, n_kv_head=g)
    toy_model = GPT(toy_cfg).float().eval()
    with torch.no_grad():
        _, cache = toy_model(torch.randint(0, 50, (2, 13)), use_cache=True)
    toy_cache_bytes[g] = sum(k.nbytes + v.nbytes for k, v in cache)
check_equal(
    "shared GPT cache nbytes = eq. (mqa-cache), g = 8, 4, 2, 1",
    [toy_cache_bytes[g] for g in KV_SWEEP],
    [kv_cache_bytes(3, g, 8, 13, 2, 4) for g in KV_SWEEP],
)
print({g: f"{toy_cache_bytes[g]:,} B" for g in KV_SWEEP})

# %% [markdown]
# ### Llama-2-70B, the errata's numbers
#
# 80 layers, 64 query heads, 8 key/value heads, $d_h=128$, fp16 ($\beta=2$)
# {cite}`touvron2023llama2`:

# %%
LLAMA2_70B = dict(n_layers=80, n_head=64, n_kv_head=8, head_dim=128)
gqa_per_token = kv_cache_bytes(80, 8, 128, seq_len=1, batch=1, bytes_per_elem=2)
mha_per_token = kv_cache_bytes(80, 64, 128, seq_len=1, batch=1, bytes_per_elem=2)
check_equal("Llama-2-70B, GQA (g = 8): bytes per token", gqa_per_token, 327_680)
check_equal("Llama-2-70B if it were MHA (g = 64): bytes per token", mha_per_token, 2_621_440)
check_equal("ratio = h/g = 8", mha_per_token / gqa_per_token, 64 / 8)
print(
    f"4096 tokens: {format_bytes(gqa_per_token * 4096)} per sequence with GQA, "
    f"{format_bytes(mha_per_token * 4096)} with MHA"
)

# %% [markdown]
# ## Experiments
#
# ### 1. What shrinks with $g$: the cache, and (less) the weights
#
# Both quantities relative to MHA, against the fraction $g/h$ of key/value heads kept: the
# cache measured on the shared GPT above ($h=8$) and from {eq}`mqa-cache` for the Llama-2-70B
# shape ($h=64$), and the attention parameters counted for both shapes (the large one on the
# `meta` device).

# %%
LLAMA_KV_SWEEP = [64, 32, 16, 8, 4, 2, 1]
llama_cache = np.array([kv_cache_bytes(80, g, 128, 1, 1, 2) for g in LLAMA_KV_SWEEP])
toy_params, llama_params = [], []
for g in KV_SWEEP:
    toy_params.append(count_parameters(GroupedQueryAttention(64, 8, g)))
for g in LLAMA_KV_SWEEP:
    with torch.device("meta"):
        llama_params.append(count_parameters(GroupedQueryAttention(8192, 64, g, bias=False)))
toy_params, llama_params = np.array(toy_params), np.array(llama_params)
for g, cache_b, params in zip(LLAMA_KV_SWEEP, llama_cache, llama_params, strict=True):
    print(
        f"Llama-2-70B shape, g = {g:2d}: cache {cache_b:>9,} B/token "
        f"({cache_b / llama_cache[0]:.4f} of MHA), attention weights per layer {params:>11,} "
        f"({params / llama_params[0]:.3f} of MHA)"
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.9), sharex=True)
toy_fraction = np.array(KV_SWEEP) / 8
llama_fraction = np.array(LLAMA_KV_SWEEP) / 64
toy_cache_rel = np.array([toy_cache_bytes[g] for g in KV_SWEEP]) / toy_cache_bytes[8]
axes[0].plot(
    llama_fraction,
    llama_cache / llama_cache[0],
    "-",
    color=PALETTE[0],
    label="Llama-2-70B shape, eq. (mqa-cache)",
)
axes[0].plot(
    toy_fraction, toy_cache_rel, "o", color=PALETTE[1], label="shared GPT, h = 8, measured nbytes"
)
axes[0].set(ylabel="KV cache / MHA's", title="KV cache: proportional to g")
axes[1].plot(
    llama_fraction,
    llama_params / llama_params[0],
    "-",
    color=PALETTE[0],
    label="Llama-2-70B shape (no biases)",
)
axes[1].plot(
    toy_fraction,
    toy_params / toy_params[0],
    "o",
    color=PALETTE[1],
    label="d = 64, h = 8 (biases), counted",
)
axes[1].axhline(0.5, ls=":", color="0.5", label="limit ½ (W_Q and W_O stay)")
axes[1].set(ylabel="attention parameters / MHA's", title="Attention weights: ½ + g/(2h)")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set(xlabel="fraction of key/value heads kept, g/h", ylim=(0, 1.05))
    ax.axvline(8 / 64, color="0.3", ls="--", lw=1)
    ax.annotate(
        "Llama-2-70B: g = 8",
        (8 / 64, 1.0),
        xytext=(4, -4),
        textcoords="offset points",
        fontsize=8,
        va="top",
    )
    ax.legend(loc="lower right", fontsize=8)
fig.suptitle(
    f"Llama-2-70B's 8 KV heads cut its cache ×{llama_cache[0] / llama_cache[3]:.0f} but its "
    f"attention weights only ×{llama_params[0] / llama_params[3]:.2f}"
)
plt.show()

# %% [markdown]
# The cache follows $g/h$ exactly (measured and formula lie on the same line), while the
# weights approach one half: $W^Q$ and $W^O$ do not depend on $g$. GQA is a memory-traffic
# optimisation, not a way to make the model smaller. (The Llama 2 ablation of GQA widened the
# feed-forward layers to keep the total parameter count comparable
# {cite}`touvron2023llama2`.)
#
# ### 2. Bytes read and time per decode step
#
# One decode step of the attention core at long context: one new query per sequence for
# $h=8$ heads of width $d_h=64$, against a cache of $S=8192$ positions, batch 1, float32. The
# bytes of keys and values read follow {eq}`mqa-traffic`. The measured time is the median of
# 15 runs (5 for the slow copy approach), after 2 warm-up runs, on the CPU with one thread,
# of three implementations: `grouped_attention` ({eq}`mqa-stack`),
# `F.scaled_dot_product_attention(enable_gqa=True)`, and the copy approach
# (`repeat_interleave` the KV heads to $h$, then MHA), which is what the shared GPT does.
# Only the attention core is timed (not the projections), and the cache tensors are created
# once and reused: the CPU's last-level cache (tens of MiB on a server CPU) can hold the
# smaller KV caches between runs, which helps small $g$ beyond the byte ratio. (A GPU's
# on-chip memory is far too small to hold a real model's cache, so there every step reads
# it from memory.)

# %%
H_DEC, D_H_DEC, S_DEC, B_DEC = 8, 64, 8192, 1


def copy_kv_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """GQA by copying each key/value head to its query heads first (the shared GPT's way)."""
    m = q.shape[1] // k.shape[1]
    if m > 1:
        k, v = k.repeat_interleave(m, dim=1), v.repeat_interleave(m, dim=1)  # (B, h, S, d_h)
    return F.scaled_dot_product_attention(q, k, v)


decode_query = torch.randn(B_DEC, H_DEC, 1, D_H_DEC, dtype=torch.float32)  # (B, h, 1, d_h)
decode_time = {"grouped_attention": [], "F.sdpa(enable_gqa=True)": [], "copy K/V to h heads": []}
bytes_read = []
with torch.no_grad():
    for g in KV_SWEEP:
        k_cache = torch.randn(B_DEC, g, S_DEC, D_H_DEC, dtype=torch.float32)  # (B, g, S, d_h)
        v_cache = torch.randn(B_DEC, g, S_DEC, D_H_DEC, dtype=torch.float32)
        bytes_read.append(kv_cache_bytes(1, g, D_H_DEC, S_DEC, B_DEC, 4))
        calls = {
            "grouped_attention": lambda k=k_cache, v=v_cache: grouped_attention(
                decode_query, k, v, causal=False
            ),
            "F.sdpa(enable_gqa=True)": lambda k=k_cache, v=v_cache: F.scaled_dot_product_attention(
                decode_query, k, v, enable_gqa=True
            ),
            "copy K/V to h heads": lambda k=k_cache, v=v_cache: copy_kv_attention(
                decode_query, k, v
            ),
        }
        results = {name: call() for name, call in calls.items()}
        for name in ("F.sdpa(enable_gqa=True)", "copy K/V to h heads"):
            check_close(
                f"g = {g}: {name} vs grouped_attention (float32)",
                results[name],
                results["grouped_attention"],
                atol=1e-5,
                quiet=True,
            )
        for name, call in calls.items():
            repeats = 5 if name == "copy K/V to h heads" else 15  # the copy is slow
            decode_time[name].append(time_call(call, repeats=repeats, warmup=2).median)
bytes_read = np.array(bytes_read)
decode_time = {name: np.array(times) for name, times in decode_time.items()}
for i, g in enumerate(KV_SWEEP):
    print(
        f"g = {g}: K/V read {format_bytes(bytes_read[i]):>9}; "
        + ", ".join(f"{name} {times[i] * 1e3:6.2f} ms" for name, times in decode_time.items())
    )
speedup = decode_time["grouped_attention"][0] / decode_time["grouped_attention"][-1]
print(
    f"grouped_attention: g = 8 → g = 1 is ×{speedup:.1f} faster "
    f"for ×{bytes_read[0] / bytes_read[-1]:.0f} fewer bytes"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.9))
axes[0].plot(KV_SWEEP, bytes_read / 2**20, "o-", color=PALETTE[0])
axes[0].set(
    xlabel="key/value heads g (of 8 query heads)",
    ylabel="K/V bytes read per step (MiB)",
    title=f"Traffic ∝ g (S = {S_DEC}, eq. mqa-traffic)",
)
for i, (name, times) in enumerate(decode_time.items()):
    axes[1].plot(KV_SWEEP, times * 1e3, "o-", color=PALETTE[i], label=name)
axes[1].set(
    xlabel="key/value heads g (of 8 query heads)",
    ylabel="median time per decode step (ms)",
    title="Measured, CPU, 1 thread",
    yscale="log",
)
axes[1].legend(fontsize=8)
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xticks(KV_SWEEP, [str(g) for g in KV_SWEEP])
fig.suptitle(
    f"Reading each KV head once makes a decode step ×{speedup:.0f} faster from g = 8 to 1; "
    "copying the heads to h first throws the saving away"
)
plt.show()

# %% [markdown]
# The left panel is the formula: the bytes a decode step must read fall in proportion to
# $g$. The right panel is what this CPU does (numbers printed above). With
# `grouped_attention` and PyTorch's `enable_gqa`, a step at $g=1$ is faster than at $g=8$;
# for `grouped_attention` by a factor of the order of the byte ratio (printed). In between the
# curves need not be smooth: they depend on which of the CPU's caches the keys and values fit
# in, and on other processes sharing the machine. The copy
# approach writes an $h$-head cache at every step and then reads it, so it gains little or
# nothing over MHA (printed): the shared GPT's `repeat_interleave` is fine for checking
# equivalences but is not how GQA should be run. Fused GPU kernels (FlashAttention, vLLM's
# paged attention) likewise load each KV head once per group. These are timings of one
# operation on one CPU; the direction, not the factor, is what carries over to an
# accelerator.
#
# ### 3. Quality on a toy task: MHA, GQA and MQA trained alike
#
# Does sharing heads cost quality? A tiny version of the question: one-layer shared GPTs
# ($d=32$, $h=4$, so $d_h=8$) with $g=4$ (MHA), $2$ (GQA) and $1$ (MQA), trained on the same
# task with the same data, seeds, optimiser and number of steps. The task is sorting: the
# model reads 8 random digits from a vocabulary of 16, a separator, and must output the digits
# in ascending order. Loss and accuracy are measured on the 8 output positions of 512
# held-out sequences; two seeds per configuration show the seed-to-seed spread.

# %%
SORT_LEN, SORT_VOCAB, SEPARATOR = 8, 16, 16
TRAIN_STEPS, UPTRAIN_STEPS, BATCH, LR = 150, 15, 32, 1e-2
SEEDS = (0, 1)


def sort_batch(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-token targets (B, 2·len) for [digits, separator, sorted digits]."""
    source, target = token_task_batch("sort", batch, SORT_LEN, SORT_VOCAB, generator)
    sequence = torch.cat([source, torch.full((batch, 1), SEPARATOR), target], dim=1)
    return sequence[:, :-1], sequence[:, 1:]


def toy_gpt(n_kv_head: int, seed: int) -> GPT:
    torch.manual_seed(seed)
    cfg = GPTConfig(
        vocab_size=SORT_VOCAB + 1,
        block_size=2 * SORT_LEN,
        n_layer=1,
        n_head=4,
        d_model=32,
        n_kv_head=n_kv_head,
    )
    return GPT(cfg).float()


test_inputs, test_targets = sort_batch(512, torch.Generator().manual_seed(1000))


@torch.no_grad()
def evaluate(model: GPT) -> tuple[float, float, torch.Tensor]:
    """Test loss and accuracy on the sorted outputs, and the logits (512, len, V)."""
    logits = model(test_inputs)[0][:, SORT_LEN:]  # (512, len, V): predictions of the output
    targets = test_targets[:, SORT_LEN:]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).item()
    return loss, (logits.argmax(-1) == targets).float().mean().item(), logits


def train(model: GPT, steps: int, seed: int, record_every: int = 0) -> list[float]:
    """AdamW on fresh batches; returns the test loss every `record_every` steps."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    curve = []
    for step in range(1, steps + 1):
        inputs, targets = sort_batch(BATCH, generator)
        logits = model(inputs)[0][:, SORT_LEN:]
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets[:, SORT_LEN:].reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if record_every and step % record_every == 0:
            curve.append(evaluate(model)[0])
    return curve


# %%
RECORD_EVERY = 10
curves, final, trained = {}, {}, {}
for g in (4, 2, 1):
    for seed in SEEDS:
        model = toy_gpt(g, seed)
        curves[g, seed] = train(model, TRAIN_STEPS, seed, RECORD_EVERY)
        final[g, seed] = evaluate(model)[:2]
        trained[g, seed] = model
for g in (4, 2, 1):
    losses = [final[g, s][0] for s in SEEDS]
    accuracies = [final[g, s][1] for s in SEEDS]
    print(
        f"g = {g} ({count_parameters(trained[g, 0]):,} parameters): test loss "
        + ", ".join(f"{v:.3f}" for v in losses)
        + "; accuracy "
        + ", ".join(f"{a:.3f}" for a in accuracies)
        + f" (seeds {SEEDS})"
    )
print(f"chance: loss ln {SORT_VOCAB} = {math.log(SORT_VOCAB):.2f}, accuracy {1 / SORT_VOCAB:.3f}")

# %%
mean_loss = {g: float(np.mean([final[g, s][0] for s in SEEDS])) for g in (4, 2, 1)}
check_true(
    "after the same steps, MQA's test loss (mean of the seeds) is above MHA's",
    mean_loss[1] > mean_loss[4],
    f"MQA {mean_loss[1]:.3f} > MHA {mean_loss[4]:.3f}",
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
steps_axis = np.arange(RECORD_EVERY, TRAIN_STEPS + 1, RECORD_EVERY)
labels = {4: "MHA, g = 4", 2: "GQA, g = 2", 1: "MQA, g = 1"}
for i, g in enumerate((4, 2, 1)):
    for seed, style in zip(SEEDS, ["-", "--"], strict=True):
        ax.plot(
            steps_axis, curves[g, seed], style, color=PALETTE[i], label=f"{labels[g]}, seed {seed}"
        )
ax.set(xlabel="training step", ylabel="test cross-entropy (nats)", yscale="log", title="")
ax.legend(ncol=3, fontsize=8, loc="upper right")
ax.set_title(
    f"After {TRAIN_STEPS} steps: test loss {mean_loss[4]:.2f} (MHA), {mean_loss[2]:.2f} (GQA), "
    f"{mean_loss[1]:.2f} (MQA), mean of 2 seeds"
)
plt.show()

# %% [markdown]
# What this shows, and what it does not. At the same number of steps, MQA ends behind MHA on
# average over the two seeds (checked above); the individual runs are noisy (the curves
# cross), and GQA with 2 groups is not separated from either end by two seeds (printed).
# Two seeds and 150 steps measure a tendency, not an effect size. The models are not equal
# in size: sharing K/V removes parameters (printed), and a toy this small is limited by
# capacity, so the gap here is likely larger than at scale, where
# {cite:t}`ainslie2023gqa` found GQA-8 close to MHA and MQA a little below. What a 150-step
# toy cannot show is the training instability of MQA that they report; none of these runs
# diverged.
#
# ### 4. Converting a trained MHA checkpoint: mean pooling, first head, random
#
# Take each trained MHA model ($g=4$) and turn it into GQA ($g=2$) and MQA ($g=1$) in the
# three ways of the Implementation section. First, how far do the outputs move? The relative
# change of the test logits, $\|\Delta z\|/\|z_\text{MHA}\|$, and the test loss right after
# the conversion. Then "uptraining": continue training each converted model for 15 steps,
# 10 % of the original 150 (the paper's 5 % would be 8 steps here, too few to read anything),
# and compare with the GQA and MQA models trained from scratch for 150 steps.

# %%
CONVERSIONS = ("mean", "first", "random")
converted = {}
for seed in SEEDS:
    mha_logits = evaluate(trained[4, seed])[2]
    for g in (2, 1):
        for how in CONVERSIONS:
            model = gpt_with_kv_heads(
                trained[4, seed], g, how=how, generator=torch.Generator().manual_seed(seed)
            )
            loss, accuracy, logits = evaluate(model)
            moved = ((logits - mha_logits).norm() / mha_logits.norm()).item()
            train(model, UPTRAIN_STEPS, seed=100 + seed)
            converted[g, how, seed] = dict(moved=moved, loss=loss, uptrained=evaluate(model)[0])
for g in (2, 1):
    for how in CONVERSIONS:
        rows = [converted[g, how, s] for s in SEEDS]
        print(
            f"g = {g}, {how:>6}: logits moved "
            + ", ".join(f"{r['moved']:.2f}" for r in rows)
            + "; loss after conversion "
            + ", ".join(f"{r['loss']:.2f}" for r in rows)
            + f"; after {UPTRAIN_STEPS} steps "
            + ", ".join(f"{r['uptrained']:.2f}" for r in rows)
        )

# %%
for g in (2, 1):
    for seed in SEEDS:
        by_method = {how: converted[g, how, seed] for how in CONVERSIONS}
        for key, when in [
            ("moved", "logits moved"),
            ("loss", "loss after conversion"),
            ("uptrained", "loss after uptraining"),
        ]:
            kept = max(by_method["mean"][key], by_method["first"][key])
            check_true(
                f"g = {g}, seed {seed}: random init is worst, {when}",
                by_method["random"][key] > kept,
                f"random {by_method['random'][key]:.2f} > {kept:.2f} (worse of mean, first)",
            )

# %% [markdown]
# How many steps from scratch does the short uptraining of the mean-pooled checkpoint
# replace? Read off the from-scratch curves of Experiment 3, the first recorded step at which
# the model trained from scratch is as good:

# %%
steps_equivalent = {}
for g in (2, 1):
    for seed in SEEDS:
        target = converted[g, "mean", seed]["uptrained"]
        below = np.nonzero(np.array(curves[g, seed]) <= target)[0]
        steps_equivalent[g, seed] = int(steps_axis[below[0]]) if below.size else None
        print(
            f"g = {g}, seed {seed}: mean-pooled + {UPTRAIN_STEPS} steps reaches loss {target:.2f}; "
            f"from scratch this takes {steps_equivalent[g, seed]} steps"
        )

# %%
fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.2), sharey=True)
positions = np.arange(len(CONVERSIONS))
mha_loss = np.mean([final[4, s][0] for s in SEEDS])
for ax, g in zip(axes, (2, 1), strict=True):
    for offset, (key, label, colour) in enumerate(
        [
            ("loss", "right after conversion", PALETTE[1]),
            ("uptrained", f"after {UPTRAIN_STEPS} more steps", PALETTE[0]),
        ]
    ):
        values = np.array([[converted[g, how, s][key] for s in SEEDS] for how in CONVERSIONS])
        x_bars = positions + (offset - 0.5) * 0.38
        ax.bar(x_bars, values.mean(1), width=0.36, color=colour, alpha=0.85, label=label)
        for j in range(len(SEEDS)):
            ax.plot(x_bars, values[:, j], "k.", ms=5)
    ax.axhline(mha_loss, color=PALETTE[2], ls="--", label=f"MHA checkpoint, {TRAIN_STEPS} steps")
    ax.axhline(
        mean_loss[g],
        color=PALETTE[3],
        ls=":",
        lw=2,
        label=f"same g from scratch, {TRAIN_STEPS} steps",
    )
    ax.axhline(math.log(SORT_VOCAB), color="0.5", ls="-.", lw=1, label=f"chance, ln {SORT_VOCAB}")
    ax.set_xticks(positions, ["mean pooling", "first head", "random K/V"])
    ax.set(
        title=f"MHA (g = 4) → {labels[g]}", xlabel="conversion of the K/V projections", yscale="log"
    )
axes[0].set_ylabel("test cross-entropy (nats), mean of 2 seeds (dots)")
handles, legend_labels = axes[1].get_legend_handles_labels()
fig.legend(handles, legend_labels, loc="outside lower center", ncol=5, fontsize=8)
fig.suptitle(
    "Keeping the trained K/V heads (mean or first) beats re-initialising them; "
    f"{UPTRAIN_STEPS} steps then recover much of the loss"
)
plt.show()

# %% [markdown]
# Reading the printed numbers: every conversion moves the outputs a lot on this toy (the
# relative change of the logits is of order one), because its four heads are specialised
# and averaging two different key projections does not give either one's attention pattern.
# Large models have many redundant heads (chapter 01, on pruning heads), which is why
# conversion hurts them less. Still, the trained projections are worth keeping: mean pooling
# and first-head are much better than re-initialising the key/value projections, right after
# the conversion and after uptraining (checked for both $g$ and both seeds). Between mean
# pooling and first-head, this toy does not give a consistent winner (printed);
# {cite:t}`ainslie2023gqa` found mean pooling best on T5-XXL. The last cell puts a number on
# uptraining: the short continuation of the mean-pooled checkpoint reaches a loss that
# training from scratch needs several times more steps to reach (printed), though not yet the
# loss of the full from-scratch run.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "MQA is faster because it does fewer FLOPs." Right?
# Not in the attention itself. $QK^\top$ and $AV$ still cost $4hd_hS$ per token and layer,
# {eq}`mqa-traffic`, whatever $g$ is; only the key and value projections shrink, from
# $2\cdot2d\cdot hd_h$ to $2\cdot 2d\cdot gd_h$ FLOPs per token. What falls by $h/g$ is the
# number of bytes read from the cache, which is what a memory-bound decode step waits for.
# The cell counts the FLOPs of one decode step of the attention core with PyTorch's counter.
# It follows that GQA speeds up training and prefill, which are compute-bound, only by the
# FLOPs of the smaller projections (Check yourself, question 3), not by $h/g$.
# :::

# %%
decode_q = torch.randn(2, 8, 1, 16)  # (B, h, 1, d_h): one new token
core_flops = {}
for g in (8, 1):
    k_cache = torch.randn(2, g, 300, 16)  # (B, g, S, d_h)
    with FlopCounterMode(display=False) as counter:
        grouped_attention(decode_q, k_cache, k_cache.clone())
    core_flops[g] = counter.get_total_flops()
check_equal("decode-step attention FLOPs, g = 1 vs g = 8", core_flops[1], core_flops[8])
check_equal("= 4·B·h·S·d_h, eq. (mqa-traffic)", core_flops[8], 4 * 2 * 8 * 300 * 16)

# %% [markdown]
# :::{dropdown} Does sharing key/value heads cost quality?
# Some. {cite:t}`shazeer2019fast` reported a small quality loss for MQA against MHA, smaller
# than that of MHA baselines shrunk to a similar cache size by using fewer or narrower heads.
# {cite:t}`ainslie2023gqa` found uptrained MQA below MHA, and MQA unstable in fine-tuning,
# particularly on long-input tasks; GQA with 8 groups came close to MHA's quality while
# decoding almost as fast as MQA. This is why most recent open models use GQA rather than
# MQA: Llama-2-70B (64 query heads, 8 KV heads; the 7B and 13B models kept MHA)
# {cite}`touvron2023llama2`, every Llama 3 model (8 KV heads) {cite}`dubey2024llama`, Mistral
# 7B (32 query heads, 8 KV heads) {cite}`jiang2023mistral`. PaLM used MQA
# {cite}`chowdhery2022palm`. Experiment 3 shows the direction on a toy, with no claim about
# the size of the effect at scale.
# :::
#
# :::{dropdown} Which query heads go with which KV head?
# {eq}`mqa-group` groups *consecutive* query heads: head $i$ reads KV head $\lfloor i/m\rfloor$.
# That is what `repeat_interleave` (and Hugging Face's `repeat_kv`, an `expand` and a
# `reshape`) produce. Tiling the KV heads instead (`k.repeat(1, m, 1, 1)`) pairs head $i$ with
# KV head $i \bmod g$: a different model. Nothing fails when a checkpoint is loaded the wrong
# way; the outputs are just wrong. The cell shows both on random tensors.
# :::

# %%
q = torch.randn(1, 8, 5, 4)  # (B, h, T, d_h)
k, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)  # (B, g, S, d_h), m = 4
ours = grouped_attention(q, k, v)
interleaved = F.scaled_dot_product_attention(
    q, k.repeat_interleave(4, 1), v.repeat_interleave(4, 1), is_causal=True
)
tiled = F.scaled_dot_product_attention(
    q, k.repeat(1, 4, 1, 1), v.repeat(1, 4, 1, 1), is_causal=True
)
check_close(
    "consecutive groups (repeat_interleave) = eq. (mqa-group)", ours, interleaved, atol=1e-12
)
tiling_error = (tiled - ours).abs().max().item()
check_true(
    "tiled KV heads (repeat) give a different model",
    tiling_error > 0.1,
    f"max |difference| {tiling_error:.2f}",
)

# %% [markdown]
# :::{dropdown} Tensor parallelism: what if there are fewer KV heads than GPUs?
# Tensor parallelism splits the heads across $t$ devices: each gets $h/t$ query heads and
# must hold the KV heads they read. With $g\ge t$, each device stores $g/t$ KV heads and the
# cache is split without overlap. With $g<t$, a KV head's query heads sit on several devices
# and each of them needs a copy: every device stores one KV head, and the total cache is $t/g$
# times the model's. MQA on 8 devices stores its single head 8 times, the same per-device
# memory as GQA with $g=8$. The cell prints the numbers for the Llama-2-70B shape. This is one
# reason to prefer $g$ equal to a common tensor-parallel degree (8); for MQA,
# {cite:t}`pope2023efficiently` split the cache across devices by batch instead of by head.
# :::


# %%
def kv_bytes_per_device(
    n_kv_head: int, devices: int, n_layers: int, head_dim: int, bytes_per_elem: int
) -> int:
    """Cache bytes per token on each of `devices` tensor-parallel devices (heads split,
    KV heads replicated when there are fewer of them than devices)."""
    heads_here = max(n_kv_head // devices, 1)
    return kv_cache_bytes(n_layers, heads_here, head_dim, 1, 1, bytes_per_elem)


for g in (8, 1):
    for devices in (1, 8, 16):
        per_device = kv_bytes_per_device(g, devices, 80, 128, 2)
        total = per_device * devices
        print(
            f"Llama-2-70B shape, g = {g}, {devices:2d} devices: {per_device:>7,} B/token per "
            f"device, {total:>9,} in total "
            f"({total / kv_cache_bytes(80, g, 128, 1, 1, 2):.0f}× the model's cache)"
        )
check_equal(
    "8 devices: MQA stores as much per device as GQA-8",
    kv_bytes_per_device(1, 8, 80, 128, 2),
    kv_bytes_per_device(8, 8, 80, 128, 2),
)

# %% [markdown]
# :::{dropdown} What does multi-head latent attention (MLA) do instead?
# DeepSeek-V2 {cite}`deepseekai2024deepseekv2` keeps all heads distinct but caches less per
# token: each token's hidden state is projected down to one latent vector $c_t$ of width
# $d_c$, and the keys and values of all heads are up-projections of it,
# $k_{t,i}=W^{UK}_ic_t$, $v_{t,i}=W^{UV}_ic_t$. Only $c_t$ is cached. At inference the
# up-projections can be absorbed: $q_i^\top W^{UK}_ic_t$ is a query times $c_t$ after folding
# $W^{UK}_i$ into the query projection, and $W^{UV}_i$ folds into $W^O$, so attention runs
# against the latents directly. Rotary embeddings do not commute with that folding (the
# rotation sits between the two matrices), so a small separate key of width $d_h^R$, shared
# by all heads, carries the position and is cached too. Per token and layer that is
# $d_c+d_h^R$ numbers instead of $2hd_h$. With DeepSeek-V2's $d_c=4d_h=512$,
# $d_h^R=d_h/2=64$, $h=128$, $d_h=128$ (printed below) the cache equals that of GQA with 2.25
# groups, while the paper reports quality above MHA's. Sharing heads (GQA) and compressing
# them (MLA) are two different ways to shrink the same term of {eq}`mqa-cache`.
# :::

# %%
MLA = dict(d_c=512, d_rope=64, n_head=128, head_dim=128)
mla_elements = MLA["d_c"] + MLA["d_rope"]  # per token and layer
mha_elements = 2 * MLA["n_head"] * MLA["head_dim"]
equivalent_groups = mla_elements / (2 * MLA["head_dim"])
print(
    f"MLA: {mla_elements} numbers per token and layer vs {mha_elements:,} for MHA "
    f"(×{mha_elements / mla_elements:.1f} smaller), = GQA with {equivalent_groups} groups"
)
check_close(
    "MLA cache = GQA with 2.25 groups (DeepSeek-V2, section 2.1.4)", equivalent_groups, 2.25, atol=0
)

# %% [markdown]
# :::{dropdown} Why not simply use fewer heads, or narrower ones?
# Both shrink the cache too, but they also take away query heads, and with them attention
# patterns: each head gets one softmax, one place to look (chapter 01, Experiment 3). GQA and
# MQA keep all $h$ query heads, and so $h$ attention patterns, and share only what is stored.
# Shazeer's comparison found the shrunk MHA baselines worse than MQA at a similar cache size.
# :::
#
# :::{dropdown} Where does GQA not help?
# Wherever there is no cache to read: an encoder's self-attention, training, and the prefill
# of a prompt are compute-bound, and there GQA saves only the FLOPs of the smaller $W_K,W_V$
# (a fraction of the layer's FLOPs, not a factor $h/g$; question 3 below puts a number on
# it). {cite:t}`ainslie2023gqa` applied it to the decoder of T5 only, for this reason. Its
# benefit also grows with context and batch: at batch 1 and short context the weights
# dominate the bytes read per step (chapter 04, Experiment 4), and shrinking the cache
# changes little.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Mistral 7B has 32 layers, 32 query heads, 8 key/value heads and $d_h=128$. How much
#    cache does a batch of 16 sequences of 8192 tokens take in bf16? And with MHA?
#
#    :::{dropdown} Answer
#    $2\cdot32\cdot8\cdot128\cdot8192\cdot16\cdot2=2^{34}$ B $=16$ GiB; MHA would need
#    $h/g=4$ times more, 64 GiB. Per token that is 128 KiB against 512 KiB. The cell checks it.
#    :::

# %%
mistral_gqa = kv_cache_bytes(32, 8, 128, 8192, 16, 2)
mistral_mha = kv_cache_bytes(32, 32, 128, 8192, 16, 2)
check_equal("exercise 1: Mistral 7B, 16 × 8192 tokens, GiB", mistral_gqa / 2**30, 16.0)
check_equal("exercise 1: with MHA, GiB", mistral_mha / 2**30, 64.0)
check_equal(
    "exercise 1: KiB per token, GQA and MHA",
    [kv_cache_bytes(32, g, 128, 1, 1, 2) / 2**10 for g in (8, 32)],
    [128.0, 512.0],
)

# %% [markdown]
# 2. Llama-3-70B has 64 query heads and 8 key/value heads. Which query heads read KV head 3?
#
#    :::{dropdown} Answer
#    $m=64/8=8$ heads per group, and $\lfloor i/8\rfloor=3$ for $i=24,\dots,31$.
#    :::

# %%
readers = [i for i in range(64) if kv_head_of(i, 64, 8) == 3]
check_equal("exercise 2: query heads of KV head 3", readers, list(range(24, 32)))

# %% [markdown]
# 3. A colleague wants to switch a BERT-base encoder ($d=768$, $h=12$, sequences of 512
#    tokens) to MQA to speed up training. What fraction of the attention block's FLOPs does
#    it save?
#
#    :::{dropdown} Answer
#    Per sequence the block costs $2Nd(h+2g)d_h$ for the input projections, $2Nd^2$ for
#    $W^O$ and $4N^2d$ for $QK^\top$ and $AV$. Going from $g=12$ to $g=1$ removes
#    $4Nd\cdot11d_h$ of it: about a third of the attention block, and much less of the whole
#    layer once the MLP's $16Nd^2$ is counted (both printed below). What MQA was made for, the
#    memory traffic of reading a cache, does not arise: an encoder has no cache. The cell
#    counts the FLOPs of our module on PyTorch's `meta` device, which tracks shapes but
#    computes no numbers.
#    :::

# %%
N_BERT, D_BERT, H_BERT = 512, 768, 12
bert_flops = {}
for g in (12, 1):
    with torch.device("meta"):
        block = GroupedQueryAttention(D_BERT, H_BERT, g)
        tokens = torch.empty(1, N_BERT, D_BERT)
    with FlopCounterMode(display=False) as counter:
        block(tokens)
    bert_flops[g] = counter.get_total_flops()
    d_h = D_BERT // H_BERT
    formula = (
        2 * N_BERT * D_BERT * (H_BERT + 2 * g) * d_h
        + 2 * N_BERT * D_BERT**2
        + 4 * N_BERT**2 * D_BERT
    )
    check_equal(
        f"exercise 3: attention-block FLOPs, g = {g}, counted vs formula", bert_flops[g], formula
    )
saving = bert_flops[12] - bert_flops[1]
layer_flops = bert_flops[12] + 16 * N_BERT * D_BERT**2  # + the MLP (d_ff = 4d, two matrices)
print(
    f"MQA saves {saving / bert_flops[12]:.1%} of the attention block's FLOPs, "
    f"{saving / layer_flops:.1%} of the layer's"
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`shazeer2019fast`: multi-query attention, one key and value head shared by all
#   query heads; the analysis of incremental decoding as bound by loading keys and values;
#   the quality comparison with smaller MHA baselines.
# - {cite:t}`ainslie2023gqa`: grouped-query attention and the interpolation between MHA and
#   MQA; uptraining an MHA checkpoint (mean pooling of the key/value heads, compared with
#   first-head and random initialisation; about 5 % of the pre-training steps); MQA's quality
#   loss and fine-tuning instability; GQA applied to the decoder only.
# - {cite:t}`deepseekai2024deepseekv2`: section 2.1, multi-head latent attention (low-rank
#   joint compression of keys and values, decoupled rotary key, absorbed up-projections) and
#   its cache compared with MHA, GQA and MQA (equal to GQA with 2.25 groups).
# - {cite:t}`touvron2023llama2`: Llama 2's 70B model with grouped-query attention and 8
#   key/value heads, and the GQA ablation of appendix A.2.1.
# - {cite:t}`dubey2024llama`: Llama 3's use of GQA with 8 key/value heads in every model size.
# - {cite:t}`jiang2023mistral`: Mistral 7B's shape (32 query heads, 8 key/value heads).
# - {cite:t}`chowdhery2022palm`: PaLM's use of multi-query attention.
# - {cite:t}`pope2023efficiently`: partitioning attention and the KV cache for inference,
#   including multi-query attention, across devices.
# - {cite:t}`pytorch_attention`: `nn.MultiheadAttention` and
#   `F.scaled_dot_product_attention` (with `enable_gqa`), the references of the Verification
#   section.

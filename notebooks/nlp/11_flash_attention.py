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
# # 11. FlashAttention: the algorithm
#
# **The question.** What is FlashAttention, and why is it faster? (The notes call it "IO-aware
# precise attention"; it is IO-aware *exact* attention.)
#
# **What you will be able to answer.** Which matrices make standard attention slow (the
# $N\times N$ scores, not $Q,K,V$); how the online softmax computes attention one block of keys
# at a time, derived line by line; why the result is exact and the FLOPs are not reduced; what
# the backward pass keeps (the output and one log-sum-exp per row) and how it rebuilds $P$; and
# how the memory of naive and tiled attention grows with $N$.

# %%
import os

# The torch profiler (used by peak_memory_bytes on a CPU) logs to stderr unless its level is
# raised; the variable must be set before torch is imported.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

import functools
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.ticker import NullLocator

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import format_bytes, peak_memory_bytes, time_call

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **What it computes.** FlashAttention {cite}`dao2022flashattention` returns exactly
#   $O=\operatorname{softmax}(QK^\top/\sqrt d)\,V$, the same numbers as standard attention up
#   to floating-point rounding: it is *exact*, not an approximation.
# - **What the bottleneck is.** Not $Q$, $K$, $V$ (the notes' claim): they are $N\times d$.
#   The large objects are the $N\times N$ scores $S=QK^\top/\sqrt d$ and probabilities
#   $P=\operatorname{softmax}(S)$, which a standard implementation writes to GPU memory (HBM)
#   and reads back. FlashAttention never forms them: it walks over blocks of keys with the
#   **online softmax** (a running row maximum $m$, a running sum $\ell$, and an output
#   accumulator rescaled by $e^{m_\text{old}-m_\text{new}}$ when the maximum grows).
# - **What it saves.** HBM traffic and memory, not FLOPs: both do $4N^2d$ FLOPs per head
#   forward, and the backward even *adds* a recomputation of $S$. HBM accesses drop from
#   $\Theta(Nd+N^2)$ to $\Theta(N^2d^2/M)$ ($M$ = on-chip SRAM size), and extra memory from
#   $O(N^2)$ to $O(N)$.
# - **Backward.** Only $O$ and $\text{LSE}=m+\log\ell$ (one number per query row) are kept;
#   $P=e^{S-\text{LSE}}$ is recomputed block by block.
# - **Versions.** FlashAttention-2 {cite}`dao2023flashattention2`: better parallelism and work
#   split (query blocks across programs, one division by $\ell$ at the end). FlashAttention-3
#   {cite}`shah2024flashattention3`: Hopper GPUs, asynchronous copies and warp specialisation,
#   FP8. Flash-Decoding {cite}`dao2023flashdecoding`: for decoding ($N_q=1$), split the KV length
#   across programs and merge the partial results.
#
# This chapter is the algorithm, in PyTorch, on a CPU. The Triton kernel and the GPU
# measurements are in [the GPU chapter](../gpu/01_flash_attention_profiling.ipynb); attention
# itself is in [chapter 01](01_self_attention.ipynb).

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $N$, $d$ | sequence length, head dimension | `n`, `d` |
# | $Q,K,V,O\in\mathbb R^{N\times d}$ | queries, keys, values, output (one head) | `q, k, v, o` |
# | $S,P\in\mathbb R^{N\times N}$ | scaled scores and softmax probabilities | `scores`, `probs` |
# | $B_r$, $B_c$ | query rows and key columns of one tile | `block_q`, `block_k` |
# | $m$, $\ell$ | running maximum and running sum of exponentials, per query row | `m`, `l` |
# | $\tilde O$ | unnormalised output accumulator | `acc` |
# | $\text{LSE}_i=\log\sum_je^{S_{ij}}$ | log-sum-exp of score row $i$ | `lse` |
# | $M$ | on-chip memory (SRAM), in numbers | — |
#
# ### Where standard attention spends its memory
#
# For one head, with a mask $A$ that is $0$ where query $i$ may see key $j$ and $-\infty$
# elsewhere (causal: $j\le i$),
#
# $$
# S=\frac{QK^\top}{\sqrt d}+A,\qquad P=\operatorname{softmax}_\text{row}(S),\qquad O=PV.
# $$ (flash-attention)
#
# $Q,K,V,O$ hold $4Nd$ numbers; $S$ and $P$ hold $2N^2$. With $N\gg d$ (say $N=32768$,
# $d=128$), $S$ alone is $N/d=256$ times larger than $Q$. A standard implementation writes $S$
# to HBM, reads it for the softmax, writes $P$, and reads $P$ for $PV$: $\Theta(N^2)$ memory
# and $\Theta(Nd+N^2)$ HBM accesses, which makes it memory-bound on a GPU
# (the GPU chapter does the roofline arithmetic). The FLOPs are the two matrix products,
#
# $$
# F_\text{forward}=2N^2d+2N^2d=4N^2d,
# $$ (flash-flops)
#
# and any algorithm that computes every score, FlashAttention included, does them all.
#
# ### The online softmax of one row of numbers
#
# Start with a row $x_1,\dots,x_N$. The safe softmax subtracts the maximum so that no
# exponential overflows, which costs three passes: find $m=\max_jx_j$, sum
# $\ell=\sum_je^{x_j-m}$, then output $e^{x_i-m}/\ell$. {cite:t}`milakov2018online` fuse the
# first two. After $t$ elements keep
#
# $$
# m_t=\max_{j\le t}x_j,\qquad \ell_t=\sum_{j\le t}e^{x_j-m_t},
# $$ (flash-row-state)
#
# with $m_0=-\infty$, $\ell_0=0$. When $x_{t+1}$ arrives the maximum may grow, and every term
# of $\ell_t$ was computed relative to the old one. Since
# $e^{x_j-m_{t+1}}=e^{x_j-m_t}\,e^{m_t-m_{t+1}}$, the old sum is rescaled, not recomputed:
#
# $$
# m_{t+1}=\max(m_t,x_{t+1}),\qquad
# \ell_{t+1}=e^{m_t-m_{t+1}}\,\ell_t+e^{x_{t+1}-m_{t+1}}.
# $$ (flash-row-update)
#
# By induction $\ell_N=\sum_je^{x_j-m_N}$, so $\operatorname{softmax}(x)_i=e^{x_i-m_N}/\ell_N$
# and $\log\sum_je^{x_j}=m_N+\log\ell_N$. Every exponent is $\le0$: the recurrence is as stable
# as the three-pass version.
#
# ### From a row of numbers to attention
#
# Attention does not need the probabilities, only their weighted sum of values
# $o=\sum_jp_jv_j$. Carry a third quantity, the unnormalised output, rescaled the same way:
#
# $$
# \tilde o_t=\sum_{j\le t}e^{s_j-m_t}\,v_j,\qquad
# \tilde o_{t+1}=e^{m_t-m_{t+1}}\,\tilde o_t+e^{s_{t+1}-m_{t+1}}\,v_{t+1},\qquad
# o=\frac{\tilde o_N}{\ell_N}.
# $$ (flash-row-output)
#
# Now process keys in blocks $J$ of $B_c$ keys instead of one at a time, and a block of $B_r$
# queries at once: $m,\ell$ become vectors of length $B_r$, $\tilde O$ a $B_r\times d$
# matrix, and the tile $S_J=Q_IK_J^\top/\sqrt d$ has $B_r\times B_c$ entries. The update per
# key block is
#
# $$
# m^\text{new}=\max\big(m,\operatorname{rowmax}(S_J)\big),\quad
# \ell^\text{new}=e^{m-m^\text{new}}\ell+\operatorname{rowsum}\big(e^{S_J-m^\text{new}}\big),\quad
# \tilde O^\text{new}=\operatorname{diag}\big(e^{m-m^\text{new}}\big)\tilde O
# +e^{S_J-m^\text{new}}V_J,
# $$ (flash-block-update)
#
# and at the end
#
# $$
# O=\operatorname{diag}(\ell)^{-1}\tilde O,\qquad \text{LSE}=m+\log\ell.
# $$ (flash-final)
#
# The factor $e^{-m}$ cancels between $\tilde O$ and $\ell$, so nothing is approximated; only
# the order of the floating-point additions differs from the standard computation. Only the
# tile $S_J$ ever exists ($B_r\times B_c$ numbers), plus $O(N)$ for $m$, $\ell$, LSE.
# {cite:t}`rabe2021self` used the same idea to compute attention in sub-quadratic memory.
#
# ### Merging two partial results
#
# Let $(m_a,\ell_a,\tilde o_a)$ and $(m_b,\ell_b,\tilde o_b)$ be the states of
# {eq}`flash-row-output` over two *disjoint* sets of keys. The state over their union is
#
# $$
# m=\max(m_a,m_b),\quad \ell=e^{m_a-m}\ell_a+e^{m_b-m}\ell_b,\quad
# \tilde o=e^{m_a-m}\tilde o_a+e^{m_b-m}\tilde o_b.
# $$ (flash-merge)
#
# {eq}`flash-block-update` is this merge with $b$ = the new block. The merge is associative
# (and commutative): both sides of $(a\oplus b)\oplus c=a\oplus(b\oplus c)$ equal the state over
# $a\cup b\cup c$, because $\max$ is associative and each $\ell$, $\tilde o$ is a sum over keys
# expressed relative to the final maximum. So key blocks can be processed in any order and in
# parallel, and combined by a tree: that is what Flash-Decoding does across the KV length.
#
# ### The backward pass from $O$ and the LSE
#
# Given $dO=\partial L/\partial O$, the chain rule through {eq}`flash-attention` gives
#
# $$
# dV=P^\top dO,\quad dP=dO\,V^\top,\quad D=\operatorname{rowsum}(dO\circ O),\quad
# dS=P\circ(dP-D\mathbf 1^\top),\quad dQ=\frac{dS\,K}{\sqrt d},\quad
# dK=\frac{dS^\top Q}{\sqrt d}.
# $$ (flash-backward)
#
# The softmax Jacobian gives $dS_{ij}=P_{ij}\big(dP_{ij}-\sum_lP_{il}dP_{il}\big)$, and
# $\sum_lP_{il}dP_{il}=\sum_lP_{il}\,dO_i^\top v_l=dO_i^\top O_i$: the correction $D$ needs
# only $O$. And every probability comes back from one number per row,
#
# $$
# P_{ij}=e^{S_{ij}-\text{LSE}_i},
# $$ (flash-recompute)
#
# so the backward recomputes each tile of $S$ from $Q$ and $K$ and never reads a stored $P$.
# That costs one extra matrix product: five $N\times N\times d$ products ($S$, $dV$, $dP$,
# $dQ$, $dK$), $10N^2d$ FLOPs, against $8N^2d$ for a backward that reads a stored $P$.
#
# ### What the IO analysis says
#
# With $M$ numbers of SRAM, {cite:t}`dao2022flashattention` (Theorem 2) count
# $\Theta(Nd+N^2)$ HBM accesses for standard attention and $\Theta(N^2d^2/M)$ for
# FlashAttention. The ratio is $d^2/M$: for $d=64$ to $128$ and $M$ around $10^5$ numbers,
# this is a fraction of the $N^2$ term (computed in the Experiments), and on a GPU memory
# traffic, not arithmetic, is what standard attention waits for.

# %% [markdown]
# ## Implementation from scratch
#
# ### The one-pass softmax of a row
#
# {eq}`flash-row-state` and {eq}`flash-row-update`, element by element in plain Python, so the
# recurrence reads exactly as written. The guard for $m=-\infty$ is a pitfall discussed below.


# %%
def online_softmax(x: list[float]) -> tuple[list[float], float]:
    """Softmax of a row with the running max and sum of eq. (flash-row-update), in one pass
    over the row (plus the final division). Returns the probabilities and log-sum-exp."""
    m, ell = -math.inf, 0.0  # eq. (flash-row-state): empty state
    for x_t in x:
        m_new = max(m, x_t)
        ell = ell * math.exp(m - m_new) + math.exp(x_t - m_new)  # eq. (flash-row-update)
        m = m_new
    return [math.exp(x_i - m) / ell for x_i in x], m + math.log(ell)


# %% [markdown]
# ### Partial states and their merge
#
# A state is the triple $(m,\ell,\tilde O)$ of {eq}`flash-row-output` for a block of query rows
# over some set of keys. `attention_state` builds it for one block of keys directly;
# `merge_states` is {eq}`flash-merge`.


# %%
def attention_state(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(m, l, acc) of q (..., N_q, d) over the keys k, v (..., N_k, d), eq. (flash-row-output)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., N_q, N_k)
    m = scores.amax(dim=-1)  # (..., N_q)
    weights = (scores - m[..., None]).exp()  # (..., N_q, N_k), entries <= 1
    return m, weights.sum(dim=-1), weights @ v  # (..., N_q), (..., N_q), (..., N_q, d)


def merge_states(
    a: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    b: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The state over the union of two disjoint key sets, eq. (flash-merge)."""
    (m_a, l_a, acc_a), (m_b, l_b, acc_b) = a, b
    m = torch.maximum(m_a, m_b)
    scale_a, scale_b = (m_a - m).exp(), (m_b - m).exp()  # (..., N_q), both <= 1
    return m, scale_a * l_a + scale_b * l_b, scale_a[..., None] * acc_a + scale_b[..., None] * acc_b


# %% [markdown]
# ### Tiled attention: the forward pass
#
# An outer loop over query blocks (on a GPU, the programs that run in parallel) and an inner
# loop over key blocks, each step applying {eq}`flash-block-update`; batch and heads ride along
# as leading dimensions. With a causal mask, key blocks that start after the last query of the
# block are skipped, and only tiles that cross the diagonal are masked element by element.
# Slicing handles an $N$ that is not a multiple of the block size (the last block is shorter).


# %%
def flash_attention_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    block_q: int = 64,
    block_k: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact attention of q, k, v (..., N, d) without the N×N matrices. Returns the output
    (..., N, d) and the log-sum-exp of each score row (..., N), eqs. (flash-block-update) and
    (flash-final). At most one (block_q, block_k) tile of scores exists at a time."""
    n_q, n_k, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d)
    out = torch.empty_like(q)  # (..., N, d)
    lse = torch.empty(q.shape[:-1], dtype=q.dtype)  # (..., N): the O(N) extra memory
    for q_start in range(0, n_q, block_q):
        q_blk = q[..., q_start : q_start + block_q, :]  # (..., B_r, d)
        rows = q_blk.shape[-2]
        m = torch.full(q_blk.shape[:-1], -math.inf, dtype=q.dtype)  # (..., B_r)
        ell = torch.zeros(q_blk.shape[:-1], dtype=q.dtype)  # (..., B_r)
        acc = torch.zeros_like(q_blk)  # (..., B_r, d)
        k_stop = min(n_k, q_start + rows) if causal else n_k  # later keys are all masked
        for k_start in range(0, k_stop, block_k):
            k_blk = k[..., k_start : k_start + block_k, :]  # (..., B_c, d)
            v_blk = v[..., k_start : k_start + block_k, :]  # (..., B_c, d)
            scores = q_blk @ k_blk.transpose(-2, -1) * scale  # (..., B_r, B_c): one tile
            if causal and k_start + k_blk.shape[-2] - 1 > q_start:  # tile crosses the diagonal
                q_idx = torch.arange(q_start, q_start + rows)[:, None]
                k_idx = torch.arange(k_start, k_start + k_blk.shape[-2])[None, :]
                scores = scores.masked_fill(k_idx > q_idx, -math.inf)
            m_new = torch.maximum(m, scores.amax(dim=-1))  # eq. (flash-block-update)
            m_safe = m_new.masked_fill(m_new == -math.inf, 0.0)  # a row with no key seen yet
            rescale = (m - m_safe).exp()  # (..., B_r): e^{m - m_new}, 1 if the max is unchanged
            weights = (scores - m_safe[..., None]).exp()  # (..., B_r, B_c), entries <= 1
            ell = rescale * ell + weights.sum(dim=-1)
            acc = rescale[..., None] * acc + weights @ v_blk  # (..., B_r, d)
            m = m_new
        out[..., q_start : q_start + rows, :] = acc / ell[..., None]  # eq. (flash-final)
        lse[..., q_start : q_start + rows] = m + ell.log()
    return out, lse


# %% [markdown]
# ### The reference: naive attention
#
# {eq}`flash-attention` as written, materialising $S$ and $P$ (as in chapter 01), plus the
# row log-sum-exp for comparison.


# %%
def naive_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """eq. (flash-attention) with the full (..., N, N) score matrix. Returns (O, LSE)."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., N, N)
    if causal:
        allowed = torch.ones(n_q, n_k, dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, -math.inf)
    probs = torch.softmax(scores, dim=-1)  # (..., N, N)
    return probs @ v, torch.logsumexp(scores, dim=-1)  # (..., N, d), (..., N)


# %% [markdown]
# ### The backward pass, tile by tile
#
# {eq}`flash-backward` with $P$ rebuilt from the LSE by {eq}`flash-recompute`. As in
# FlashAttention-2, the outer loop runs over key blocks (each accumulates its own $dK_J$,
# $dV_J$) and the inner loop over query blocks, which add their share to $dQ$. $D$ is computed
# once, from $O$ and $dO$ only.


# %%
def flash_attention_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    d_out: torch.Tensor,
    causal: bool = False,
    block_q: int = 64,
    block_k: int = 64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dQ, dK, dV of attention from O and LSE (never a stored P), eq. (flash-backward)."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1])
    d_row = (d_out * out).sum(dim=-1)  # (..., N): D = rowsum(dO ∘ O)
    dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
    for k_start in range(0, n_k, block_k):
        k_blk = k[..., k_start : k_start + block_k, :]  # (..., B_c, d)
        v_blk = v[..., k_start : k_start + block_k, :]
        cols = k_blk.shape[-2]
        q_first = k_start if causal else 0  # earlier queries see none of these keys
        for q_start in range(q_first - q_first % block_q, n_q, block_q):
            sl = slice(q_start, q_start + block_q)
            q_blk, do_blk = q[..., sl, :], d_out[..., sl, :]  # (..., B_r, d)
            scores = q_blk @ k_blk.transpose(-2, -1) * scale  # (..., B_r, B_c), recomputed
            if causal:
                q_idx = torch.arange(q_start, q_start + q_blk.shape[-2])[:, None]
                k_idx = torch.arange(k_start, k_start + cols)[None, :]
                scores = scores.masked_fill(k_idx > q_idx, -math.inf)
            probs = (scores - lse[..., sl, None]).exp()  # eq. (flash-recompute)
            dv[..., k_start : k_start + cols, :] += probs.transpose(-2, -1) @ do_blk  # Pᵀ dO
            d_probs = do_blk @ v_blk.transpose(-2, -1)  # (..., B_r, B_c): dO Vᵀ
            d_scores = probs * (d_probs - d_row[..., sl, None])  # P ∘ (dP − D)
            dq[..., sl, :] += d_scores @ k_blk * scale  # dS K / √d
            dk[..., k_start : k_start + cols, :] += d_scores.transpose(-2, -1) @ q_blk * scale
    return dq, dk, dv


# %% [markdown]
# ## Verification
#
# Everything here is float64, so agreement to `atol=1e-12` means the same computation.
#
# ### The one-pass softmax of a row

# %%
row = torch.randn(13) * 5
probs_1pass, lse_1pass = online_softmax(row.tolist())
check_close("1-pass softmax vs torch.softmax", probs_1pass, torch.softmax(row, 0), atol=1e-15)
check_close("1-pass log-sum-exp vs torch.logsumexp", lse_1pass, torch.logsumexp(row, 0), atol=1e-13)

# %% [markdown]
# ### The merge is associative
#
# Four key blocks of a (2 heads × 5 queries) problem, merged left to right, right to left, as
# a balanced tree and in a shuffled order: all four give the same state and the same attention.

# %%
q, k, v = torch.randn(2, 5, 8), torch.randn(2, 20, 8), torch.randn(2, 20, 8)  # (H, N, d)
states = [attention_state(q, k[:, j : j + 5], v[:, j : j + 5]) for j in range(0, 20, 5)]
a, b, c, e = states
orders = {
    "((a⊕b)⊕c)⊕e": merge_states(merge_states(merge_states(a, b), c), e),
    "a⊕(b⊕(c⊕e))": merge_states(a, merge_states(b, merge_states(c, e))),
    "(a⊕b)⊕(c⊕e)": merge_states(merge_states(a, b), merge_states(c, e)),
    "(e⊕b)⊕(c⊕a)": merge_states(merge_states(e, b), merge_states(c, a)),
}
reference_out, reference_lse = naive_attention(q, k, v)
for name, (m, ell, acc) in orders.items():
    check_close(f"merge {name}: O vs naive", acc / ell[..., None], reference_out, atol=1e-12)
    check_close(f"merge {name}: LSE vs naive", m + ell.log(), reference_lse, atol=1e-12)

# %% [markdown]
# ### Tiled attention against naive attention and `F.scaled_dot_product_attention`
#
# Causal and not, with $N=100$, which no block size below divides, and with unequal query and
# key blocks. The LSE is checked against `torch.logsumexp` of the full score matrix.

# %%
q, k, v = (torch.randn(2, 3, 100, 16) for _ in range(3))  # (B, H, N, d)
for causal in (False, True):
    ref_out, ref_lse = naive_attention(q, k, v, causal)
    sdpa_out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    for block_q, block_k in ((32, 32), (16, 48), (128, 7)):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        tag = f"causal={causal}, B_r={block_q}, B_c={block_k}"
        check_close(f"tiled vs naive, {tag}", out, ref_out, atol=1e-12)
        check_close(f"tiled vs F.sdpa, {tag}", out, sdpa_out, atol=1e-12)
        check_close(f"LSE vs torch.logsumexp, {tag}", lse, ref_lse, atol=1e-12)

# %% [markdown]
# The notes' errata quote the error of four key blocks against naive attention in float64:

# %%
q, k, v = (torch.randn(1, 1, 64, 16) for _ in range(3))
out_4_blocks, _ = flash_attention_forward(q, k, v, block_q=64, block_k=16)  # T_c = 4
err_4_blocks = (out_4_blocks - naive_attention(q, k, v)[0]).abs().max().item()
print(f"4 key blocks vs naive, float64: max abs error {err_4_blocks:.2e}")
check_true("4 key blocks agree with naive attention to rounding (< 1e-15)", err_4_blocks < 1e-15)

# %% [markdown]
# ### The backward pass against autograd
#
# {eq}`flash-backward`, fed only $Q,K,V,O,\text{LSE}$ and $dO$, against autograd through naive
# attention.

# %%
q, k, v = (torch.randn(2, 2, 90, 16, requires_grad=True) for _ in range(3))
d_out = torch.randn(2, 2, 90, 16)
for causal in (False, True):
    naive_out, _ = naive_attention(q, k, v, causal)
    grads_ref = torch.autograd.grad(naive_out, (q, k, v), d_out)
    with torch.no_grad():
        out, lse = flash_attention_forward(q, k, v, causal, 32, 32)
        grads = flash_attention_backward(q, k, v, out, lse, d_out, causal, 32, 24)
    for name, ours, ref in zip(("dQ", "dK", "dV"), grads, grads_ref, strict=True):
        check_close(f"{name} from (O, LSE) vs autograd, causal={causal}", ours, ref, atol=1e-12)

# %% [markdown]
# ## Experiments
#
# ### 1. Memory: $N^2$ for naive attention, $N$ for tiled
#
# Peak memory allocated by torch during one call, one head, $d=64$, float32, measured with
# `peak_memory_bytes` (on a CPU it is rebuilt from the profiler's allocation events; the
# inputs, allocated before the call, do not count). Naive attention materialises the scores.
# Tiled attention holds the output $O$ ($Nd$ numbers), the LSE ($N$ numbers) and a few
# $256\times256$ temporaries of the current tile, whose size does not depend on $N$. (At
# $N=256$ the single tile *is* the whole score matrix, so tiling cannot win there.)

# %%
D_HEAD, BLOCK = 64, 256
lengths = [256, 512, 1024, 2048]
peak = {"naive": [], "tiled": []}
for n in lengths:
    q, k, v = (torch.randn(1, 1, n, D_HEAD, dtype=torch.float32) for _ in range(3))
    peak["naive"].append(peak_memory_bytes(functools.partial(naive_attention, q, k, v)))
    tiled_call = functools.partial(flash_attention_forward, q, k, v, False, BLOCK, BLOCK)
    peak["tiled"].append(peak_memory_bytes(tiled_call))
scores_bytes = [n * n * 4 for n in lengths]
output_bytes = [n * (D_HEAD + 1) * 4 for n in lengths]  # O and the LSE
tile_overhead = [t - o for t, o in zip(peak["tiled"], output_bytes, strict=True)]
for n, naive_b, tiled_b, s_b, extra in zip(
    lengths, peak["naive"], peak["tiled"], scores_bytes, tile_overhead, strict=True
):
    print(
        f"N={n:5d}: naive {format_bytes(naive_b):>9} ({naive_b / s_b:.2f} × the N² scores), "
        f"tiled {format_bytes(tiled_b):>9} (O + LSE + {format_bytes(extra)}), "
        f"ratio {naive_b / tiled_b:5.1f}"
    )
naive_slope = np.polyfit(np.log(lengths), np.log(peak["naive"]), 1)[0]
print(f"log-log slope of naive attention's peak memory: {naive_slope:.2f}")
check_true("naive peak memory grows like N² (slope in [1.8, 2.2])", 1.8 <= naive_slope <= 2.2)
tile_bytes_fp32 = BLOCK * BLOCK * 4
print(f"tiled extra beyond O + LSE, in tiles of {format_bytes(tile_bytes_fp32)}:", end=" ")
print(", ".join(f"{extra / tile_bytes_fp32:.1f}" for extra in tile_overhead))
check_true(
    "tiled peak memory = O + LSE + at most 5 score tiles, at every N",
    max(tile_overhead) <= 5 * tile_bytes_fp32,
)

# %%
fig, ax = plt.subplots()
x = np.array(lengths, dtype=float)
ax.loglog(x, peak["naive"], "o-", color=PALETTE[0], label="naive (materialises $S$, $P$)")
ax.loglog(x, peak["tiled"], "s-", color=PALETTE[1], label=f"tiled, $B_r=B_c={BLOCK}$")
ax.loglog(x, scores_bytes, "--", color="gray", label="$N^2$ scores in fp32 (slope 2)")
ax.loglog(x, output_bytes, ":", color="gray", label="$O$ and LSE in fp32 (slope 1)")
ax.set(
    xlabel="sequence length $N$ (one head, $d=64$, float32)",
    ylabel="peak memory during the call (bytes)",
    title=(
        f"Naive attention's memory grows as $N^{{{naive_slope:.1f}}}$, tiled is $O$ + LSE + a few "
        "tiles: "
        f"{peak['naive'][-1] / peak['tiled'][-1]:.0f}× less at N={lengths[-1]}"
    ),
)
ax.set_xticks(lengths, labels=[str(n) for n in lengths])
ax.xaxis.set_minor_locator(NullLocator())
ax.legend()
plt.show()

# %% [markdown]
# At long context the gap is what the notes' example is about. One head of $S$ in fp16 at
# $N=32768$ is exactly 2 GiB, and a model with 32 heads would need 64 GiB per layer and batch
# element, before $P$; the tiled forward needs the LSE, $N$ numbers.

# %%
n_long = 32768
s_bytes_fp16 = n_long**2 * 2
print(f"S for one head, N={n_long}, fp16: {format_bytes(s_bytes_fp16)}")
print(f"LSE for one head, N={n_long}, fp32: {format_bytes(n_long * 4)}")
check_equal("one head's fp16 score matrix at N=32768 is 2 GiB", s_bytes_fp16, 2 * 2**30)

# %% [markdown]
# ### 2. The IO count and the FLOPs
#
# The FLOPs are the same (forward) or larger (backward); what shrinks is the HBM traffic. With
# the asymptotic counts of the Derivation and $M=10^5$ numbers of SRAM (about 200 KB in bf16),
# the ratio $d^2/M$ of FlashAttention's accesses to the $N^2$ term of standard attention:

# %%
SRAM_NUMBERS = 100_000
for d in (64, 128):
    print(f"d={d:3d}: N²d²/M ÷ N² = d²/M = {d * d / SRAM_NUMBERS:.3f}")
n, d = 4096, 64
print(f"forward FLOPs, N={n}, d={d}: {4 * n * n * d / 1e9:.2f} GFLOP for both algorithms")
print(
    f"backward FLOPs: {8 * n * n * d / 1e9:.2f} GFLOP reading a stored P, "
    f"{10 * n * n * d / 1e9:.2f} GFLOP recomputing it (+25%)"
)

# %% [markdown]
# ### 3. Time on a CPU is not the point
#
# A CPU has no software-managed SRAM beside a slow HBM for a kernel to exploit: its caches are
# automatic, and PyTorch's matmul already blocks for them. The tiled version also pays Python
# and operator-dispatch overhead for each of the $T_rT_c$ tiles. So on a CPU there is no
# reason for it to be faster, and the table shows no consistent gain. Medians of `time_call`
# (5 runs after 1 warm-up, float32, one head, $d=64$):

# %%
n = 1024
q, k, v = (torch.randn(1, 1, n, D_HEAD, dtype=torch.float32) for _ in range(3))
timings = {
    "naive (S, P materialised)": time_call(lambda: naive_attention(q, k, v), repeats=5, warmup=1),
    f"tiled, B={BLOCK} ({(n // BLOCK) ** 2} tiles)": time_call(
        lambda: flash_attention_forward(q, k, v, False, BLOCK, BLOCK), repeats=5, warmup=1
    ),
    "tiled, B=64 (256 tiles)": time_call(
        lambda: flash_attention_forward(q, k, v, False, 64, 64), repeats=5, warmup=1
    ),
    "F.scaled_dot_product_attention": time_call(
        lambda: F.scaled_dot_product_attention(q, k, v), repeats=5, warmup=1
    ),
}
print(f"N={n}, one head, d={D_HEAD}, float32, {torch.get_num_threads()} thread(s)")
for name, timing in timings.items():
    print(f"  {name:32s} {timing}")

# %% [markdown]
# With a few large tiles the tiled loop costs about what the two big matmuls cost: the first,
# second and fourth rows are within a small factor of each other, and their order changes
# from run to run on this shared machine. With many small tiles the per-tile overhead
# dominates. None of these numbers says anything about a GPU; kernel timings on a GPU are in
# [the GPU chapter](../gpu/01_flash_attention_profiling.ipynb).

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "FlashAttention approximates attention." / "It reduces the FLOPs."
# Neither. The output is the same as standard attention's up to rounding (checked above to
# $10^{-12}$ in float64); sparse and low-rank attention are the approximate methods. The
# forward does the same $4N^2d$ FLOPs and the backward does *more* ($10N^2d$ vs $8N^2d$). The
# gain is fewer HBM reads and writes and $O(N)$ instead of $O(N^2)$ extra memory.
# :::
#
# :::{dropdown} A row whose keys are all masked gives NaN
# If a query sees no key (padding, or a causal mask with left padding), its row is all
# $-\infty$, so $m=-\infty$ and $e^{m_\text{old}-m_\text{new}}=e^{-\infty-(-\infty)}$ is NaN.
# Kernels replace $m=-\infty$ by $0$ inside the exponent (`m_safe` above), which makes the
# weights $0$ and $\ell=0$; the final $\tilde O/\ell$ is then $0/0$ and must be defined (most
# kernels output $0$ for such rows). The next cell shows the unguarded update going NaN.
# :::

# %%
m_old, m_new = -math.inf, -math.inf  # a row that has only seen masked keys
unguarded = math.exp(m_old - m_new) if not math.isnan(m_old - m_new) else float("nan")
m_safe = 0.0 if m_new == -math.inf else m_new
print(f"e^(m_old - m_new) unguarded: {unguarded}; guarded: {math.exp(m_old - m_safe)}")
check_true("the unguarded rescale of an all-masked row is NaN", math.isnan(unguarded))

# %% [markdown]
# :::{dropdown} Rescale order and numerical stability
# The accumulator must be rescaled by $e^{m_\text{old}-m_\text{new}}$ *before* the new block's
# $e^{S_J-m_\text{new}}V_J$ is added, and $m$ must be updated only after both $\ell$ and
# $\tilde O$ have used the old value. Subtracting the running maximum keeps every exponent
# $\le0$; without it, a score of 100 overflows fp16 and even $e^{89}$ overflows fp32. Accumulate
# $\ell$ and $\tilde O$ in fp32 even when $Q,K,V$ are bf16. FlashAttention-1 divided by $\ell$
# after every block; FlashAttention-2 divides once at the end, which saves non-matmul FLOPs.
# :::
#
# :::{dropdown} How big can the blocks be?
# The tiles must fit on chip. For $d=128$ and $B_r=B_c=128$ in bf16, $Q_I$, $K_J$ and $V_J$ take
# 32 KiB each; the fp32 score tile and output accumulator take 64 KiB each (computed below). An
# H100 has 228 KB of shared memory and a 256 KB register file per SM
# {cite}`nvidia2024hopper`: the bf16 tiles fit in shared memory, while the fp32 tile and
# accumulator live in registers. That is why $d=256$ needs smaller blocks.
# :::

# %%
d, block_r, block_c, bf16, fp32 = 128, 128, 128, 2, 4
tile_bytes = {
    "Q_I (bf16)": block_r * d * bf16,
    "K_J (bf16)": block_c * d * bf16,
    "V_J (bf16)": block_c * d * bf16,
    "S tile (fp32)": block_r * block_c * fp32,
    "O accumulator (fp32)": block_r * d * fp32,
}
for name, size in tile_bytes.items():
    print(f"{name:22s} {format_bytes(size)}")
qkv_bytes = sum(list(tile_bytes.values())[:3])
total_bytes = sum(tile_bytes.values())
print(f"Q, K, V tiles: {format_bytes(qkv_bytes)}; all five: {format_bytes(total_bytes)}")
check_true("the bf16 Q, K, V tiles fit in an H100 SM's 228 KB of shared memory", qkv_bytes <= 228e3)

# %% [markdown]
# :::{dropdown} Why not just store $P$ for the backward, as autograd does?
# Storing $P$ costs $N^2$ numbers per head per layer, exactly what FlashAttention avoids; the
# LSE rebuilds it with one extra matmul per tile, {eq}`flash-recompute`. Recomputing is cheaper
# than reading $N^2$ numbers back from HBM, so even the backward gets faster.
# :::
#
# :::{dropdown} How is decoding different?
# With one query ($N_q=1$) there is only one query block, so a FlashAttention-style kernel uses
# one program per head and leaves most of the GPU idle. Flash-Decoding splits the KV cache into
# chunks processed in parallel and combines the partial $(m,\ell,\tilde o)$ with
# {eq}`flash-merge`, which is valid because the merge is associative.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Why does FlashAttention's backward need $O$, and not only the LSE?
#
#    :::{dropdown} Answer
#    For $D_i=\sum_jP_{ij}dP_{ij}$ in $dS=P\circ(dP-D)$, which equals $dO_i^\top O_i$
#    ({eq}`flash-backward`). Without $O$ this sum would need a full pass over the row of $P$.
#    :::
#
# 2. Which counts change between standard attention and FlashAttention: FLOPs, HBM accesses,
#    extra memory?
#
#    :::{dropdown} Answer
#    HBM accesses ($\Theta(Nd+N^2)\to\Theta(N^2d^2/M)$) and extra memory ($O(N^2)\to O(N)$).
#    The forward FLOPs are equal; the backward's grow by one recomputed matmul.
#    :::
#
# 3. A query row has scores $(1, 3)$ in key block $a$ and $(2, 5)$ in key block $b$. Write the
#    two states $(m,\ell)$, merge them with {eq}`flash-merge`, and give the LSE of the row. The
#    next cell is the solution, checked.

# %%
m_a, l_a = 3.0, math.exp(1 - 3) + math.exp(3 - 3)  # block a: max 3
m_b, l_b = 5.0, math.exp(2 - 5) + math.exp(5 - 5)  # block b: max 5
m_ab = max(m_a, m_b)
l_ab = math.exp(m_a - m_ab) * l_a + math.exp(m_b - m_ab) * l_b  # eq. (flash-merge)
lse_ab = m_ab + math.log(l_ab)
print(f"m = {m_ab}, ℓ = {l_ab:.6f}, LSE = {lse_ab:.6f}")
check_close(
    "exercise 3: merged LSE vs logsumexp of the row",
    lse_ab,
    torch.logsumexp(torch.tensor([1.0, 3.0, 2.0, 5.0]), 0),
    atol=1e-12,
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`dao2022flashattention`: the tiled forward (Algorithm 1), the backward from the
#   saved statistics (Appendix B), the IO counts of Theorem 2, and the word *exact*.
# - {cite:t}`milakov2018online`: the one-pass softmax normaliser, {eq}`flash-row-update`.
# - {cite:t}`rabe2021self`: attention in sub-quadratic memory with the same rescaling.
# - {cite:t}`dao2023flashattention2`: the loop order, one division at the end, key-block-outer
#   backward.
# - {cite:t}`shah2024flashattention3`: FlashAttention-3 on Hopper (asynchrony, FP8).
# - {cite:t}`dao2023flashdecoding`: Flash-Decoding, split-KV with a final merge.
# - {cite:t}`nvidia2024hopper`: shared memory (228 KB) and register file per SM of an H100.
# - {cite:t}`pytorch2025sdpa`: `F.scaled_dot_product_attention`, the reference in
#   Verification.

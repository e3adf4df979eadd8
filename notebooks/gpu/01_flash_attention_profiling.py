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
# # 01. FlashAttention on a GPU: a Triton kernel, profiled
#
# **The question.** What is FlashAttention, and why is it faster than standard attention? (The
# notes call it "IO-aware precise attention"; it is IO-aware *exact* attention.) Write its
# forward pass as a GPU kernel and measure it against PyTorch's own attention backends.
#
# **What you will be able to answer.** Where standard attention spends its time (moving the
# $N\times N$ score matrix, not multiplying); how the online softmax lets attention be computed
# one block of keys at a time; what each line of a FlashAttention forward kernel in Triton does;
# what the backward pass keeps (the output and one log-sum-exp per row, not $P$); and how to
# read time, TFLOP/s and peak memory of naive attention, a hand-written kernel and PyTorch's
# SDPA backends across sequence lengths.

# %%
import os

import torch

# The Triton interpreter runs @triton.jit kernels on CPU tensors, in NumPy. It is switched on
# by an environment variable that Triton reads when the kernels are defined, so it is set here,
# before `import triton`, and only when there is no CUDA device.
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
# The torch profiler (used below to find peak memory on a CPU) logs two lines per run to
# stderr unless its log level is raised.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

try:
    import triton
    import triton.language as tl

    HAVE_TRITON = True
except ImportError:  # Triton publishes wheels for Linux only
    from types import SimpleNamespace

    HAVE_TRITON = False
    # Stand-ins, so that the kernel's definitions below still read and execute (never run).
    triton = SimpleNamespace(jit=lambda fn: fn)
    tl = SimpleNamespace(constexpr=int)

import functools
import math
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import torch.nn.functional as F
from matplotlib.ticker import NullLocator

import notebook_utils
from notebook_utils.attention_bench import (
    load_results,
    naive_attention,
    run_attention_sweep,
    sdpa_backend_fns,
)
from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.devices import describe_device, get_device
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import format_bytes

use_book_style()
rng = seed_everything(0)
device = get_device()
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
print(describe_device(device))
if HAVE_TRITON:
    print(f"Triton {triton.__version__}, interpreter: {INTERPRETED}")
else:
    print("Triton is not installed (no wheel for this platform): the kernel cells are skipped.")

# %% [markdown]
# ## Short answer
#
# - **What it is.** FlashAttention {cite}`dao2022flashattention` computes *exact* attention,
#   $O=\operatorname{softmax}(QK^\top/\sqrt d)\,V$, without ever writing the $N\times N$ score
#   matrix $S$ and probability matrix $P$ to GPU memory (HBM). Each GPU program keeps one block
#   of queries on chip, streams the blocks of $K$ and $V$ past it, and merges them with the
#   **online softmax**: a running row maximum $m$, a running sum $\ell$, and an output
#   accumulator that is rescaled by $e^{m_\text{old}-m_\text{new}}$ whenever the maximum grows.
#   The result equals standard attention up to floating-point rounding.
# - **Why it is faster.** Not by doing fewer FLOPs: both do $4N^2d$ per head (half of that with
#   a causal mask, when the kernel skips the masked blocks). The notes blame "huge Q, K, V", but
#   those are only $N\times d$. What is huge is $S$ and $P$: standard attention writes and reads
#   $N^2$ numbers several times, which gives it about $d/b$ FLOPs per byte ($b$ bytes per
#   number), far below what a GPU needs to keep its tensor cores busy. It is **memory-bound**.
#   The fused kernel reads $Q,K,V$ and writes $O$, and is **compute-bound**.
# - **Memory.** The extra memory is $O(N)$ per head (one log-sum-exp per query), not $O(N^2)$.
# - **Backward.** It keeps only $O$ and $\text{LSE}=m+\log\ell$, and *recomputes* $S$ and
#   $P=e^{S-\text{LSE}}$ block by block: more FLOPs, far less memory traffic, still faster.
# - **Versions.** FlashAttention-2 {cite}`dao2023flashattention2` parallelises over query
#   blocks, divides by $\ell$ once at the end and cuts the other non-matmul work.
#   FlashAttention-3 {cite}`shah2024flashattention3` is written for Hopper GPUs (H100, H200):
#   asynchronous copies (TMA), warp-group matrix instructions (wgmma), warp specialisation that
#   overlaps the softmax with the matmuls, and FP8. The kernel in this chapter is
#   FlashAttention-2 in Triton.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $N$, $d$ | sequence length, head dimension | `seq_len`, `HEAD_DIM` |
# | $B$, $H$ | batch size, number of heads | `batch`, `heads` |
# | $Q,K,V,O\in\mathbb R^{N\times d}$ | queries, keys, values, output (one head) | `q, k, v, o` |
# | $S,P\in\mathbb R^{N\times N}$ | scaled scores, attention probabilities | `s`, `p` (a tile) |
# | $B_r$, $B_c$ | rows (queries) and columns (keys) of one tile | `BLOCK_M`, `BLOCK_N` |
# | $T_r=\lceil N/B_r\rceil$, $T_c=\lceil N/B_c\rceil$ | numbers of query, key blocks | grid, loop |
# | $m_i$, $\ell_i$ | running max and running sum of query row $i$ | `row_max`, `row_sum` |
# | $\tilde O$ | unnormalised output accumulator | `acc` |
# | $\text{LSE}_i$ | log-sum-exp of row $i$ of $S$ | `lse` |
# | $b$ | bytes per number (2 in bf16/fp16, 4 in fp32) | `element_size()` |
#
# ### Attention, and what it costs
#
# For one head,
#
# $$
# S=\frac{QK^\top}{\sqrt d}+M,\qquad P=\operatorname{softmax}_\text{row}(S),\qquad O=PV
# $$ (fa-gpu-attention)
#
# where the mask $M$ is $0$ where query $i$ may see key $j$ and $-\infty$ elsewhere (causal:
# $j\le i$). $QK^\top$ is $N^2$ dot products of length $d$, a multiply and an add each, so
# $2N^2d$ FLOPs, and $PV$ is as much again:
#
# $$
# F=4N^2d\ \text{per head},\qquad F_\text{causal}=2N^2d
# $$ (fa-gpu-flops)
#
# (the causal count is the convention of FlashAttention benchmarks, which the harness
# `attention_flops` follows: only the useful half of the matrix counts).
#
# A standard implementation runs three kernels: a matmul writes $S$ to HBM, a softmax reads $S$
# and writes $P$, a matmul reads $P$. Counting the numbers that cross HBM:
#
# $$
# \text{bytes}_\text{naive}=b\,\big(\underbrace{3Nd}_{\text{read }Q,K,V}+
# \underbrace{N^2}_{\text{write }S}+\underbrace{2N^2}_{\text{read }S,\text{ write }P}+
# \underbrace{N^2}_{\text{read }P}+\underbrace{Nd}_{\text{write }O}\big)=b\,(4N^2+4Nd)
# $$ (fa-gpu-naive-bytes)
#
# A masking, a dropout, or a softmax done in fp32 adds more passes over $N^2$ numbers. The
# *arithmetic intensity* is FLOPs per byte moved. A GPU that does $\pi$ FLOP/s and moves $\beta$
# bytes/s needs at least $\max(F/\pi,\ \text{bytes}/\beta)$ seconds: a kernel is memory-bound
# when its intensity is below the ridge point $\pi/\beta$ of this roofline
# {cite}`williams2009roofline`. For standard attention
#
# $$
# I_\text{naive}=\frac{4N^2d}{b\,(4N^2+4Nd)}=\frac{d}{b\,(1+d/N)}\approx\frac{d}{b}
# $$ (fa-gpu-intensity)
#
# which is $32$ FLOP/B for $d=64$ in bf16, whatever $N$. An H200 does about 989 dense bf16
# TFLOP/s and moves 4.8 TB/s {cite}`nvidia2024h200`, a ridge point of about 200 FLOP/B (the
# Experiments compute both numbers). Standard attention uses its tensor cores a fraction of the
# time, and the $N^2$ traffic is the bottleneck: this is the correction to the notes.
#
# A fused kernel never writes $S$ or $P$. Each of the $T_r$ query blocks reads $Q_i$ once,
# reads every block of $K$ and $V$, and writes $O_i$ once:
#
# $$
# \text{bytes}_\text{flash}\le b\,(2Nd+2Nd\,T_r),\qquad
# I_\text{flash}\ge\frac{4N^2d}{b\,2Nd\,(1+N/B_r)}\approx\frac{2B_r}{b}
# $$ (fa-gpu-flash-intensity)
#
# That bound counts every read of $K$ and $V$ as HBM traffic, which gives $128$ FLOP/B for
# $B_r=128$ in bf16, already four times naive attention's. In practice the programs of one head
# run at the same time and find $K$ and $V$ in the L2 cache, so HBM sees $Q,K,V,O$ about once
# and the intensity grows like $N/b$: the kernel is limited by compute. In the IO model of
# {cite:t}`dao2022flashattention` (Theorem 2), with on-chip memory of $M$ numbers, standard
# attention makes $\Theta(Nd+N^2)$ HBM accesses and FlashAttention $\Theta(N^2d^2/M)$.
#
# ### The online softmax
#
# Take one query row: scores $s_1,\dots,s_N$ (a row of $S$) and values $v_1,\dots,v_N$ (rows of
# $V$). Cut the keys into blocks $J_1,\dots,J_T$. After the first $t$ blocks, keep three things:
# the largest score seen, the sum of exponentials relative to it, and the output weighted the
# same way,
#
# $$
# m^{(t)}=\max_{j\in J_{\le t}}s_j,\qquad
# \ell^{(t)}=\sum_{j\in J_{\le t}}e^{s_j-m^{(t)}},\qquad
# \tilde o^{(t)}=\sum_{j\in J_{\le t}}e^{s_j-m^{(t)}}\,v_j
# $$ (fa-gpu-state)
#
# with $J_{\le t}=J_1\cup\dots\cup J_t$, and $m^{(0)}=-\infty$, $\ell^{(0)}=0$,
# $\tilde o^{(0)}=0$ before any block. When block $t+1$ arrives:
#
# $$
# m^{(t+1)}=\max\Big(m^{(t)},\ \max_{j\in J_{t+1}}s_j\Big)
# $$ (fa-gpu-online-m)
#
# $$
# \ell^{(t+1)}=e^{m^{(t)}-m^{(t+1)}}\,\ell^{(t)}+\sum_{j\in J_{t+1}}e^{s_j-m^{(t+1)}}
# $$ (fa-gpu-online-l)
#
# $$
# \tilde o^{(t+1)}=e^{m^{(t)}-m^{(t+1)}}\,\tilde o^{(t)}+\sum_{j\in J_{t+1}}e^{s_j-m^{(t+1)}}\,v_j
# $$ (fa-gpu-online-o)
#
# *Why this is right.* Multiply the definition of $\ell^{(t)}$ in {eq}`fa-gpu-state` by
# $e^{m^{(t)}-m^{(t+1)}}$: each term $e^{s_j-m^{(t)}}$ becomes $e^{s_j-m^{(t+1)}}$. So the first
# part of {eq}`fa-gpu-online-l` is the sum over the old keys, taken relative to the new
# maximum, and the second part adds the new keys: together, the definition of $\ell^{(t+1)}$.
# The same step proves {eq}`fa-gpu-online-o`, and induction from $t=0$ (where
# $e^{-\infty}=0$ wipes the empty state) gives the state after all $T$ blocks. Then
#
# $$
# o=\frac{\tilde o^{(T)}}{\ell^{(T)}}=\sum_j\frac{e^{s_j}}{\sum_le^{s_l}}\,v_j,\qquad
# \text{LSE}=\log\sum_je^{s_j}=m^{(T)}+\log\ell^{(T)}
# $$ (fa-gpu-final)
#
# because the factor $e^{-m^{(T)}}$ cancels in the ratio. Nothing is approximated: the
# algorithm is exact, and only the order of the floating-point additions differs from a
# two-pass softmax. It is also *stable*: every exponent $s_j-m^{(t+1)}$ and
# $m^{(t)}-m^{(t+1)}$ is $\le0$, so no exponential exceeds 1, and $\ell\ge1$ once the block
# holding the maximum has been seen. The same idea, a softmax normaliser computed in one pass,
# is {cite:t}`milakov2018online`'s online softmax; {cite:t}`rabe2021self` used it to compute
# attention in $O(\sqrt N)$ memory. FlashAttention-1 divided by $\ell$ at every step;
# FlashAttention-2 keeps $\tilde o$ unnormalised and divides once, in {eq}`fa-gpu-final`.
#
# For a block of $B_r$ query rows, $m$ and $\ell$ are vectors, $\tilde O$ is $B_r\times d$,
# $S_j=Q_iK_j^\top/\sqrt d$ is a $B_r\times B_c$ tile, and {eq}`fa-gpu-online-o` becomes
# one matrix product per tile, on the tensor cores:
# $\tilde O\leftarrow\Lambda\,\tilde O+e^{S_j-m_\text{new}}V_j$, where the diagonal matrix
# $\Lambda=\operatorname{diag}(e^{m_\text{old}-m_\text{new}})$ rescales each row.
#
# Two partial states over disjoint key sets $a$ and $b$ merge the same way, in any order:
#
# $$
# m=\max(m_a,m_b),\quad \ell=e^{m_a-m}\ell_a+e^{m_b-m}\ell_b,\quad
# \tilde o=e^{m_a-m}\tilde o_a+e^{m_b-m}\tilde o_b
# $$ (fa-gpu-merge)
#
# which is what split-KV decoding kernels use to combine the partial results of several
# programs (Check yourself, question 1, merges two blocks by hand).
#
# ### Base-2 exponentials
#
# GPUs evaluate $2^x$ in one instruction; $e^x$ costs a multiplication more. Kernels fold
# $\log_2e$ into the score scale, $s'=s\log_2e$, $m'=m\log_2e$. The sums do not change,
# because $2^{s'-m'}=e^{s-m}$, and the log-sum-exp comes back as
#
# $$
# e^{s-m}=2^{(s-m)\log_2e},\qquad \text{LSE}=\ln2\,\big(m'+\log_2\ell\big)
# $$ (fa-gpu-base2)
#
# ### Tiles on a GPU, and the causal mask
#
# The kernel runs one program per (query block $i$, batch $\times$ head). A program loads
# $Q_i$ ($B_r\times d$) once, loops over the key blocks $j$, loading $K_j$ and $V_j$
# ($B_c\times d$) into on-chip memory, computes the tile $S_{ij}$ with a matrix instruction,
# updates $m,\ell,\tilde O$, and at the end writes $O_i$ and $\text{LSE}_i$. No $N\times N$
# array exists anywhere, on chip or off; the only extra HBM memory is the LSE, $N$ numbers
# per head.
#
# With a causal mask, a key block whose first key comes after the last query of block $i$ is
# entirely masked: it is skipped, never loaded. A key block whose last key comes before the
# first query is entirely visible: no mask is computed for it. Only the blocks that straddle
# the diagonal are masked element by element. With $B_r=B_c$ and $T$ blocks, query block $i$
# (counted from 0) visits $i+1$ key blocks, so the kernel visits
#
# $$
# \frac{\sum_{i=0}^{T-1}(i+1)}{T^2}=\frac{T(T+1)/2}{T^2}=\frac12+\frac1{2T}
# $$ (fa-gpu-causal-blocks)
#
# of the tiles. It does half the work plus the diagonal tiles, half of whose entries are masked.
# That excess matters only for short sequences (small $T$).
#
# ### The backward pass, from $O$ and the LSE
#
# Given $dO=\partial L/\partial O$, the chain rule through {eq}`fa-gpu-attention` gives
#
# $$
# dV=P^\top dO,\quad dP=dO\,V^\top,\quad D_i=\sum_jP_{ij}\,dP_{ij}=dO_i^\top O_i,\quad
# dS=P\circ\big(dP-D\mathbf 1^\top\big),\quad dQ=\frac{dS\,K}{\sqrt d},\quad
# dK=\frac{dS^\top Q}{\sqrt d}
# $$ (fa-gpu-backward)
#
# The softmax's Jacobian gives $dS_{ij}=P_{ij}\big(dP_{ij}-\sum_lP_{il}dP_{il}\big)$, and the sum
# is $dO_i^\top\sum_lP_{il}v_l=dO_i^\top O_i$: it needs only $O$, which is why $O$ is kept. Every
# entry of $P$ comes back from one number per row, $P_{ij}=e^{S_{ij}-\text{LSE}_i}$, so the
# backward recomputes $S$ and $P$ tile by tile from $Q$, $K$ and the LSE. It does five
# $N\times N\times d$ matmuls ($S$, $dV$, $dP$, $dQ$, $dK$), $10N^2d$ FLOPs, against the
# forward's $4N^2d$, and stores $O(N)$ extra instead of the $N^2$ entries of $P$.

# %% [markdown]
# ## Implementation from scratch
#
# ### The algorithm in PyTorch
#
# First the algorithm with torch operations, shaped like the kernel: an outer loop over query
# blocks (on a GPU, these are the programs that run in parallel) and an inner loop over key
# blocks. Batch and heads ride along as leading dimensions. It is slow next to a fused kernel,
# but it runs anywhere, it can be checked in float64 to $10^{-12}$, and on a CPU it is fast
# enough to measure.


# %%
def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    block_m: int = 128,
    block_n: int = 128,
) -> tuple[torch.Tensor, torch.Tensor]:
    """FlashAttention's forward in torch ops. q, k, v: (B, H, N, d).

    Returns the output (B, H, N, d) and the log-sum-exp of each score row (B, H, N), eqs.
    (fa-gpu-online-m) to (fa-gpu-final). Never holds more than one (block_m, block_n) tile of
    scores per (batch, head). Accumulates in float32 at least (float64 stays float64).
    """
    batch, heads, n, d = q.shape
    acc_dtype = torch.promote_types(q.dtype, torch.float32)
    scale = 1.0 / math.sqrt(d)
    out = torch.empty_like(q)
    lse = torch.empty(batch, heads, n, dtype=acc_dtype, device=q.device)
    for start_m in range(0, n, block_m):  # one GPU program per query block
        end_m = min(start_m + block_m, n)
        q_block = q[:, :, start_m:end_m].to(acc_dtype)  # (B, H, Br, d)
        row_max = torch.full(q_block.shape[:-1], -math.inf, dtype=acc_dtype, device=q.device)
        row_sum = torch.zeros_like(row_max)  # (B, H, Br)
        acc = torch.zeros_like(q_block)  # (B, H, Br, d): õ, unnormalised
        keys_end = end_m if causal else n  # causal: key blocks past the diagonal are skipped
        for start_n in range(0, keys_end, block_n):
            end_n = min(start_n + block_n, keys_end)
            k_block = k[:, :, start_n:end_n].to(acc_dtype)  # (B, H, Bc, d)
            v_block = v[:, :, start_n:end_n].to(acc_dtype)  # (B, H, Bc, d)
            s = (
                q_block @ k_block.transpose(-2, -1) * scale
            )  # (B, H, Br, Bc), eq. (fa-gpu-attention)
            if causal and end_n - 1 > start_m:  # this tile straddles the diagonal: mask it
                query_idx = torch.arange(start_m, end_m, device=q.device)[:, None]
                key_idx = torch.arange(start_n, end_n, device=q.device)[None, :]
                s = s.masked_fill(key_idx > query_idx, -math.inf)
            new_max = torch.maximum(row_max, s.amax(dim=-1))  # eq. (fa-gpu-online-m)
            rescale = torch.exp(row_max - new_max)  # e^{m_old - m_new} <= 1
            p = torch.exp(s - new_max[..., None])  # (B, H, Br, Bc), entries <= 1
            row_sum = rescale * row_sum + p.sum(dim=-1)  # eq. (fa-gpu-online-l)
            acc = rescale[..., None] * acc + p @ v_block  # eq. (fa-gpu-online-o)
            row_max = new_max
        out[:, :, start_m:end_m] = (acc / row_sum[..., None]).to(q.dtype)  # eq. (fa-gpu-final)
        lse[:, :, start_m:end_m] = row_max + torch.log(row_sum)
    return out, lse


# %% [markdown]
# ### The backward pass from the LSE
#
# {eq}`fa-gpu-backward`, with $P$ recomputed one key block at a time from the saved LSE. All
# queries are processed at once here (a real kernel also tiles the queries); what matters is
# that only a $N\times B_c$ slice of $P$ ever exists.


# %%
def attention_backward_from_lse(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor,
    causal: bool = False,
    block_n: int = 128,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dQ, dK, dV of attention from the saved output and log-sum-exp, eq. (fa-gpu-backward)."""
    n, d = q.shape[-2:]
    scale = 1.0 / math.sqrt(d)
    delta = (grad_out * out).sum(dim=-1)  # (B, H, N): D_i = dO_i · O_i
    grad_q = torch.zeros_like(q)
    grad_k, grad_v = torch.empty_like(k), torch.empty_like(v)
    for start_n in range(0, n, block_n):
        end_n = min(start_n + block_n, n)
        k_block, v_block = k[:, :, start_n:end_n], v[:, :, start_n:end_n]  # (B, H, Bc, d)
        s = q @ k_block.transpose(-2, -1) * scale  # (B, H, N, Bc): recomputed scores
        if causal:
            key_idx = torch.arange(start_n, end_n, device=q.device)[None, :]
            s = s.masked_fill(key_idx > torch.arange(n, device=q.device)[:, None], -math.inf)
        p = torch.exp(s - lse[..., None])  # (B, H, N, Bc): P = e^{S - LSE}, recomputed
        grad_v[:, :, start_n:end_n] = p.transpose(-2, -1) @ grad_out  # dV = Pᵀ dO
        grad_p = grad_out @ v_block.transpose(-2, -1)  # (B, H, N, Bc): dP = dO Vᵀ
        grad_s = p * (grad_p - delta[..., None])  # dS = P ∘ (dP - D)
        grad_q += grad_s @ k_block * scale  # dQ = dS K / √d, summed over key blocks
        grad_k[:, :, start_n:end_n] = grad_s.transpose(-2, -1) @ q * scale  # dK = dSᵀ Q / √d
    return grad_q, grad_k, grad_v


# %% [markdown]
# ### The Triton kernel
#
# Triton {cite}`tillet2019triton` programs a GPU one *block* at a time: a kernel is a Python
# function decorated with `@triton.jit`, run once per program of a grid. Inside, `tl.arange`
# builds vectors of indices, `tl.load` and `tl.store` move whole blocks between HBM and the
# chip at pointer + offsets (with a mask for the elements that do not exist), and `tl.dot`
# multiplies two blocks on the tensor cores. Arguments annotated `tl.constexpr` are
# compile-time constants (block sizes, head dimension, flags): Triton compiles one version per
# combination, and decides threads, shared memory and software pipelining itself.
#
# Memory layout: the wrapper below makes `q, k, v` contiguous, so the slice of one
# (batch, head) is a dense $N\times d$ row-major matrix starting at `batch_head * N * d`, and
# element $(n, c)$ of it is at offset `n * d + c`. Plain pointer arithmetic is enough (and it
# reads the same in every recent Triton; block pointers and tensor descriptors would also do).
#
# The inner loop visits the key blocks `[key_start, key_end)` and updates the state of the
# online softmax. It is a `@triton.jit` function called from the kernel, and is inlined there.
# It is called twice per program with a compile-time flag `MASKED`, so that the blocks that
# need no mask (all of them but the tail block, or all but the diagonal blocks when causal)
# run without a single comparison:
#
# - `key_idx`, `kv_offsets`: the indices of the $B_c$ keys of this block and the offsets of
#   their rows. A masked block loads zeros past `seq_len` instead of reading past the tensor.
# - `s = tl.dot(q, tl.trans(k)) * qk_scale`: the score tile $S_{ij}$ of {eq}`fa-gpu-attention`,
#   $B_r\times B_c$, accumulated in fp32, already multiplied by $\log_2e$ ({eq}`fa-gpu-base2`).
# - `tl.where(allowed, s, -inf)`: keys past the end, and with a causal mask keys after the
#   query, get a score of $-\infty$, so $e^{s-m}=0$ for them. (A zero-padded key would get
#   score 0, not $-\infty$, and a share of the attention: the Pitfalls section shows it.)
# - `new_max`, `rescale`, `p`, `row_sum`, `acc`: {eq}`fa-gpu-online-m`,
#   {eq}`fa-gpu-online-l` and {eq}`fa-gpu-online-o` line by line, with `tl.exp2`. `p` is cast
#   to the input dtype (bf16 on a GPU) for the second matmul, and `tl.dot(p, v, acc)` adds the
#   product into the fp32 accumulator.


# %%
@triton.jit
def attend_to_key_blocks(
    acc,
    row_sum,
    row_max,
    q,
    k_ptr,
    v_ptr,
    query_idx,
    key_start,
    key_end,
    seq_len,
    qk_scale,
    HEAD_DIM: tl.constexpr,
    BLOCK_N: tl.constexpr,
    MASKED: tl.constexpr,
    CAUSAL: tl.constexpr,
):
    """Online-softmax update of one query block with the key blocks in [key_start, key_end).

    acc (BLOCK_M, HEAD_DIM), row_sum and row_max (BLOCK_M,) are the state of eq. (fa-gpu-state)
    in fp32, with row_max in base-2 units (eq. fa-gpu-base2); q is (BLOCK_M, HEAD_DIM).
    """
    dims = tl.arange(0, HEAD_DIM)
    for block_start in range(key_start, key_end, BLOCK_N):
        key_idx = block_start + tl.arange(0, BLOCK_N)  # (BLOCK_N,)
        kv_offsets = key_idx[:, None] * HEAD_DIM + dims[None, :]  # (BLOCK_N, HEAD_DIM)
        if MASKED:  # rows past seq_len are not read: zeros instead
            in_range = key_idx < seq_len
            k = tl.load(k_ptr + kv_offsets, mask=in_range[:, None], other=0.0)
            v = tl.load(v_ptr + kv_offsets, mask=in_range[:, None], other=0.0)
        else:
            k = tl.load(k_ptr + kv_offsets)
            v = tl.load(v_ptr + kv_offsets)
        s = tl.dot(q, tl.trans(k)) * qk_scale  # (BLOCK_M, BLOCK_N): S_ij · log2(e)
        if MASKED:
            allowed = in_range[None, :]
            if CAUSAL:
                allowed = allowed & (key_idx[None, :] <= query_idx[:, None])
            s = tl.where(allowed, s, float("-inf"))
        new_max = tl.maximum(row_max, tl.max(s, 1))  # eq. (fa-gpu-online-m)
        rescale = tl.exp2(row_max - new_max)  # e^{m_old - m_new}
        p = tl.exp2(s - new_max[:, None])  # (BLOCK_M, BLOCK_N)
        row_sum = row_sum * rescale + tl.sum(p, 1)  # eq. (fa-gpu-online-l)
        acc = acc * rescale[:, None]  # eq. (fa-gpu-online-o): rescale, then add P_ij V_j
        acc = tl.dot(p.to(v.dtype), v, acc)
        row_max = new_max
    return acc, row_sum, row_max


# %% [markdown]
# The kernel itself, one program per (query block, batch × head):
#
# - `tl.program_id(0)` is the query block, `tl.program_id(1)` the (batch, head) slice. Query
#   blocks of the same head are neighbours in the launch order, so they run at the same time
#   and share $K$ and $V$ through the L2 cache. With a causal mask the order is reversed, so
#   that the programs with the most key blocks start first and the short ones fill the gaps
#   at the end. The slice offset is computed in int64: $B\cdot H\cdot N\cdot d$ can pass
#   $2^{31}$ with long sequences and large batches.
# - `q` is loaded once (zeros for the rows past `seq_len`), and the state starts at
#   $m=-\infty$, $\ell=0$, $\tilde O=0$.
# - Non-causal: the full key blocks unmasked, then the tail block (if $N$ is not a multiple of
#   $B_c$) masked. Causal: the blocks strictly below the diagonal, `[0, diag_start)`,
#   unmasked, then the blocks of the diagonal masked, and nothing after them: the skipped
#   blocks of {eq}`fa-gpu-causal-blocks`. This needs $B_r$ to be a multiple of $B_c$.
# - The end is {eq}`fa-gpu-final`: one division per row, and the LSE converted back from base
#   2 by {eq}`fa-gpu-base2` (the constant is $\ln 2$). Stores are masked to the real rows.


# %%
@triton.jit
def flash_attention_forward_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    o_ptr,
    lse_ptr,
    seq_len,
    qk_scale,
    HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    CAUSAL: tl.constexpr,
):
    """O and LSE of one block of BLOCK_M queries of one (batch, head) slice.

    q, k, v, o: contiguous (B*H, seq_len, HEAD_DIM); lse: float32 (B*H, seq_len).
    qk_scale = log2(e) / sqrt(HEAD_DIM). Needs BLOCK_M % BLOCK_N == 0.
    """
    block_m = tl.program_id(0)
    if CAUSAL:  # longest programs (most key blocks) first
        block_m = tl.num_programs(0) - 1 - block_m
    batch_head = tl.program_id(1).to(tl.int64)
    slice_offset = batch_head * seq_len * HEAD_DIM  # int64
    q_ptr += slice_offset
    k_ptr += slice_offset
    v_ptr += slice_offset
    o_ptr += slice_offset

    query_idx = block_m * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,)
    dims = tl.arange(0, HEAD_DIM)
    q_offsets = query_idx[:, None] * HEAD_DIM + dims[None, :]  # (BLOCK_M, HEAD_DIM)
    q_in_range = query_idx < seq_len
    q = tl.load(q_ptr + q_offsets, mask=q_in_range[:, None], other=0.0)  # stays on chip

    row_max = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)  # m^(0) = -inf
    row_sum = tl.zeros([BLOCK_M], dtype=tl.float32)  # ℓ^(0) = 0
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)  # õ^(0) = 0
    if CAUSAL:
        diag_start = block_m * BLOCK_M  # keys before it are visible to every query here
        acc, row_sum, row_max = attend_to_key_blocks(
            acc, row_sum, row_max, q, k_ptr, v_ptr, query_idx, 0, diag_start,
            seq_len, qk_scale, HEAD_DIM, BLOCK_N, MASKED=False, CAUSAL=True,
        )  # fmt: skip
        diag_end = tl.minimum(diag_start + BLOCK_M, seq_len)  # later keys: skipped
        acc, row_sum, row_max = attend_to_key_blocks(
            acc, row_sum, row_max, q, k_ptr, v_ptr, query_idx, diag_start, diag_end,
            seq_len, qk_scale, HEAD_DIM, BLOCK_N, MASKED=True, CAUSAL=True,
        )  # fmt: skip
    else:
        full_end = (seq_len // BLOCK_N) * BLOCK_N  # keys of the full blocks
        acc, row_sum, row_max = attend_to_key_blocks(
            acc, row_sum, row_max, q, k_ptr, v_ptr, query_idx, 0, full_end,
            seq_len, qk_scale, HEAD_DIM, BLOCK_N, MASKED=False, CAUSAL=False,
        )  # fmt: skip
        acc, row_sum, row_max = attend_to_key_blocks(
            acc, row_sum, row_max, q, k_ptr, v_ptr, query_idx, full_end, seq_len,
            seq_len, qk_scale, HEAD_DIM, BLOCK_N, MASKED=True, CAUSAL=False,
        )  # fmt: skip

    out = acc / row_sum[:, None]  # eq. (fa-gpu-final)
    tl.store(o_ptr + q_offsets, out.to(o_ptr.dtype.element_ty), mask=q_in_range[:, None])
    lse = (row_max + tl.log2(row_sum)) * 0.6931471805599453  # eq. (fa-gpu-base2), × ln 2
    tl.store(lse_ptr + batch_head * seq_len + query_idx, lse, mask=q_in_range)


# %% [markdown]
# Block sizes and the number of warps and pipeline stages decide the speed, and the best
# choice depends on the GPU, the head dimension and the mask. On a GPU, Triton's autotuner
# times a few candidate configurations the first time it sees a new (sequence length, head
# dimension, causal, dtype) and keeps the fastest. Under the interpreter, timing means nothing
# (see Experiments), so a single small block size is used there: 32, so that short test
# sequences still span several blocks and a tail.

# %%
SUPPORTED_HEAD_DIMS = (16, 32, 64, 128)  # powers of two (tl.arange), >= 16 (tl.dot)
SUPPORTED_DTYPES = ("float16", "bfloat16", "float32")
INTERPRETER_BLOCK = 32
# (BLOCK_M, BLOCK_N, num_warps, num_stages); BLOCK_M must be a multiple of BLOCK_N.
GPU_CONFIGS = (
    (64, 64, 4, 3),
    (128, 64, 4, 3),
    (128, 64, 8, 3),
    (128, 128, 8, 2),
    (128, 32, 4, 4),
)
LOG2_E = 1.4426950408889634


@functools.cache
def autotuned_forward_kernel() -> "triton.runtime.Autotuner":
    """The kernel wrapped in Triton's autotuner over GPU_CONFIGS (GPU only; built on first use)."""
    configs = [
        triton.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=warps, num_stages=stages)
        for bm, bn, warps, stages in GPU_CONFIGS
    ]
    return triton.autotune(configs=configs, key=["seq_len", "HEAD_DIM", "CAUSAL"])(
        flash_attention_forward_kernel
    )


# %% [markdown]
# The wrapper checks its inputs, lays them out as the kernel expects, and launches one program
# per (query block, batch × head). It returns the output and the LSE, the two things the
# backward pass of {eq}`fa-gpu-backward` needs.


# %%
def flash_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention output (B, H, N, d) and float32 log-sum-exp (B, H, N) from the Triton kernel.

    q, k, v: (B, H, N, d) of one dtype (fp16, bf16 or fp32) on one device: CUDA, or CPU when
    the Triton interpreter is on (TRITON_INTERPRET=1). d in SUPPORTED_HEAD_DIMS.
    """
    interpreted = os.environ.get("TRITON_INTERPRET") == "1"
    if q.dim() != 4 or not q.shape == k.shape == v.shape:
        raise ValueError(
            f"q, k, v must share one (B, H, N, d) shape, got {q.shape}, {k.shape}, {v.shape}"
        )
    if not q.dtype == k.dtype == v.dtype or str(q.dtype).removeprefix("torch.") not in (
        SUPPORTED_DTYPES
    ):
        raise ValueError(
            f"q, k, v must share one of {SUPPORTED_DTYPES}, got {q.dtype}, {k.dtype}, {v.dtype}"
        )
    if not q.device == k.device == v.device:
        raise ValueError("q, k, v must be on one device")
    if q.device.type != "cuda" and not interpreted:
        raise ValueError("the kernel needs CUDA tensors, or TRITON_INTERPRET=1 for CPU tensors")
    batch, heads, seq_len, head_dim = q.shape
    if head_dim not in SUPPORTED_HEAD_DIMS:
        raise ValueError(f"head dim {head_dim} not in {SUPPORTED_HEAD_DIMS}")
    if batch * heads > 65535:  # CUDA's limit on the second grid dimension
        raise ValueError(f"batch × heads = {batch * heads} > 65535")
    q3, k3, v3 = (t.reshape(batch * heads, seq_len, head_dim).contiguous() for t in (q, k, v))
    out = torch.empty_like(q3)  # (B·H, N, d)
    lse = torch.empty(batch * heads, seq_len, dtype=torch.float32, device=q.device)
    qk_scale = LOG2_E / math.sqrt(head_dim)  # 1/√d and log2(e) in one factor
    if interpreted:
        grid = (triton.cdiv(seq_len, INTERPRETER_BLOCK), batch * heads)
        flash_attention_forward_kernel[grid](
            q3, k3, v3, out, lse, seq_len, qk_scale,
            HEAD_DIM=head_dim, BLOCK_M=INTERPRETER_BLOCK, BLOCK_N=INTERPRETER_BLOCK,
            CAUSAL=causal,
        )  # fmt: skip
    else:

        def grid(meta: dict[str, int]) -> tuple[int, int]:
            return (triton.cdiv(seq_len, meta["BLOCK_M"]), batch * heads)

        autotuned_forward_kernel()[grid](
            q3, k3, v3, out, lse, seq_len, qk_scale, HEAD_DIM=head_dim, CAUSAL=causal
        )
    return out.view(batch, heads, seq_len, head_dim), lse.view(batch, heads, seq_len)


# %% [markdown]
# ## Verification
#
# ### The tiled algorithm against naive attention and SDPA
#
# In float64, with blocks of 64 queries and 32 keys on a sequence of 300 (so the last query
# block and the last key block are partial), causal and not. The LSE is checked against
# `torch.logsumexp` of the scaled, masked scores.


# %%
def reference_lse(q: torch.Tensor, k: torch.Tensor, causal: bool) -> torch.Tensor:
    """log-sum-exp of each row of S = q kᵀ/√d (masked), computed in float64."""
    n = q.shape[-2]
    scores = q.double() @ k.double().transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, N, N)
    if causal:
        scores = scores.masked_fill(
            ~torch.ones(n, n, dtype=torch.bool, device=q.device).tril(), -math.inf
        )
    return torch.logsumexp(scores, dim=-1)  # (B, H, N)


q, k, v = (torch.randn(2, 3, 300, 32, dtype=torch.float64) for _ in range(3))  # (B, H, N, d)
for causal in (False, True):
    out, lse = tiled_attention(q, k, v, causal, block_m=64, block_n=32)
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    check_close(f"tiled vs F.sdpa, causal={causal}", out, sdpa, atol=1e-12)
    check_close(
        f"tiled vs naive, causal={causal}", out, naive_attention(q, k, v, causal), atol=1e-12
    )
    check_close(
        f"tiled LSE vs torch.logsumexp, causal={causal}",
        lse,
        reference_lse(q, k, causal),
        atol=1e-12,
    )

# %% [markdown]
# ### The backward from the LSE against autograd
#
# The gradients of {eq}`fa-gpu-backward`, computed from $O$, the LSE and $dO$ only, against
# autograd through naive attention (which stores $P$), in float64.

# %%
q, k, v = (torch.randn(2, 2, 200, 16, dtype=torch.float64, requires_grad=True) for _ in range(3))
grad_out = torch.randn(2, 2, 200, 16, dtype=torch.float64)
for causal in (False, True):
    reference_grads = torch.autograd.grad(naive_attention(q, k, v, causal), (q, k, v), grad_out)
    with torch.no_grad():
        out, lse = tiled_attention(q, k, v, causal)
        ours = attention_backward_from_lse(q, k, v, out, lse, grad_out, causal, block_n=64)
    for name, g, ref in zip(("dQ", "dK", "dV"), ours, reference_grads, strict=True):
        check_close(f"{name} from (O, LSE) vs autograd, causal={causal}", g, ref, atol=1e-12)

# %% [markdown]
# ### The Triton kernel against SDPA and naive attention
#
# Without a GPU the kernel runs in the interpreter, in float32 (the interpreter's bf16 is
# broken, see Pitfalls), on small shapes: head dimensions 16 to 128, several blocks, and
# lengths that are not multiples of the block size. Its matmuls are NumPy's, in float32, so
# the tolerance is $10^{-5}$. On a GPU the same cell runs natively in bf16 and fp16 on larger
# shapes: the outputs are then compared with an fp32 computation from the same rounded inputs,
# with tolerances of a few bf16/fp16 rounding steps of numbers of size about 1.

# %%
# (batch, heads, N, d), dtype, atol on O. On a GPU each (d, dtype, mask) is compiled for
# every autotuner configuration, so the list is short there.
if device.type == "cuda":
    KERNEL_CASES = [
        ((2, 4, 1000, 64), torch.bfloat16, 2e-2),
        ((2, 4, 1000, 64), torch.float16, 4e-3),
        ((1, 2, 2048, 128), torch.bfloat16, 2e-2),
        ((3, 2, 77, 64), torch.bfloat16, 2e-2),
    ]
else:
    KERNEL_CASES = [
        ((1, 2, 64, 16), torch.float32, 1e-5),
        ((2, 1, 77, 32), torch.float32, 1e-5),
        ((1, 1, 100, 64), torch.float32, 1e-5),
        ((1, 1, 40, 128), torch.float32, 1e-5),
    ]

if HAVE_TRITON:
    for (batch, heads, n, d), dtype, atol in KERNEL_CASES:
        q, k, v = (torch.randn(batch, heads, n, d, device=device).to(dtype) for _ in range(3))
        for causal in (False, True):
            out, lse = flash_attention(q, k, v, causal)
            what = f"Triton kernel {tuple(q.shape)} {str(dtype)[6:]} causal={causal}"
            reference = F.scaled_dot_product_attention(
                q.float(), k.float(), v.float(), is_causal=causal
            )
            check_close(f"{what} vs F.sdpa", out, reference, atol=atol)
            check_close(
                f"{what} vs naive",
                out,
                naive_attention(q.float(), k.float(), v.float(), causal),
                atol=atol,
            )
            check_close(
                f"{what}, LSE vs logsumexp", lse, reference_lse(q, k, causal), atol=atol / 4
            )
else:
    print("Triton is not installed: the kernel checks are skipped.")

# %% [markdown]
# The wrapper refuses what the kernel cannot do, rather than computing garbage:


# %%
def raises_value_error(fn: Callable[..., object], *args: object) -> bool:
    """Whether fn(*args) raises ValueError."""
    try:
        fn(*args)
    except ValueError:
        return True
    return False


x = torch.randn(1, 1, 32, 16, device=device)
check_true(
    "a head dim that is not a power of two >= 16 is refused",
    raises_value_error(flash_attention, x[..., :12], x[..., :12], x[..., :12]),
)
check_true("mismatched shapes are refused", raises_value_error(flash_attention, x, x[:, :, :8], x))
check_true("mixed dtypes are refused", raises_value_error(flash_attention, x, x.double(), x))

# %% [markdown]
# ## Experiments
#
# ### Experiment 1: time and memory against sequence length, on this machine
#
# The profiling harness `notebook_utils.attention_bench` times each implementation at a fixed
# number of tokens: batch $=$ tokens $/N$, so every point does the same number of queries and
# the work per point grows like $N$. It records the median time, TFLOP/s by
# {eq}`fa-gpu-flops`, and the peak memory of one call above the inputs. On a CPU the
# contenders are naive attention, PyTorch's CPU flash backend and `tiled_attention`, in
# float32. The Triton kernel is not timed there: the interpreter executes it operation by
# operation in NumPy, one program after the other, and its time says nothing about the
# kernel. On a GPU the same cell runs in bf16 and adds the Triton kernel.

# %%
if device.type == "cuda":
    LIVE = dict(
        seq_lens=[512, 1024, 2048, 4096],
        total_tokens=8192,
        heads=8,
        head_dim=64,
        dtype=torch.bfloat16,
    )
else:
    LIVE = dict(
        seq_lens=[128, 256, 512, 1024], total_tokens=1024, heads=2, head_dim=64, dtype=torch.float32
    )
live_impls = {
    "naive": naive_attention,
    "sdpa_flash": sdpa_backend_fns(device)["sdpa_flash"],
    "tiled_torch": lambda q, k, v, causal: tiled_attention(q, k, v, causal)[0],
}
if HAVE_TRITON and device.type == "cuda":
    live_impls["triton_ours"] = lambda q, k, v, causal: flash_attention(q, k, v, causal)[0]
live_rows = run_attention_sweep(
    live_impls,
    seq_lens=LIVE["seq_lens"],
    total_tokens=LIVE["total_tokens"],
    heads=LIVE["heads"],
    head_dims=[LIVE["head_dim"]],
    causal_modes=[False, True],
    dtype=LIVE["dtype"],
    device=device,
    warmup=1,
    repeats=3,
    record_kernels=False,
)
for row in live_rows:  # the time last and unpadded: its digits vary from run to run
    if row["status"] != "ok":
        print(f"{row['impl']:>12} N={row['n']:5} causal={row['causal']!s:5} {row['status']}")
        continue
    print(
        f"{row['impl']:>12} N={row['n']:5} causal={row['causal']!s:5} "
        f"peak {format_bytes(row['peak_memory_bytes']):>9}, median {row['time_ms']:.2f} ms"
    )

# %% [markdown]
# At a fixed number of tokens, naive attention's score matrix holds
# $\text{tokens}\cdot H\cdot N$ numbers, so its memory should grow in proportion to $N$, while
# the tiled loop's extra memory (the output, the LSE and one tile of scores per
# (batch, head)) should not grow at all. The checks read the measured peaks:

# %%
live = {(r["impl"], r["n"], r["causal"]): r for r in live_rows}
n_small, n_large = LIVE["seq_lens"][0], LIVE["seq_lens"][-1]
element = torch.empty((), dtype=LIVE["dtype"]).element_size()
for n in LIVE["seq_lens"]:
    score_bytes = LIVE["total_tokens"] * LIVE["heads"] * n * element  # B·H·N² numbers
    check_true(
        f"naive attention at N={n} holds at least its score matrix",
        live[("naive", n, False)]["peak_memory_bytes"] >= score_bytes,
        f"peak {format_bytes(live[('naive', n, False)]['peak_memory_bytes'])} >= "
        f"{format_bytes(score_bytes)}",
    )
naive_growth = (
    live[("naive", n_large, False)]["peak_memory_bytes"]
    / live[("naive", n_small, False)]["peak_memory_bytes"]
)
tiled_growth = (
    live[("tiled_torch", n_large, False)]["peak_memory_bytes"]
    / live[("tiled_torch", n_small, False)]["peak_memory_bytes"]
)
check_true(
    f"naive memory grows about like N from N={n_small} to {n_large}",
    naive_growth > 0.5 * n_large / n_small,
    f"×{naive_growth:.2f} for N ×{n_large // n_small}",
)
check_true(
    "tiled attention's memory does not grow with N", tiled_growth <= 1.0, f"×{tiled_growth:.2f}"
)
blocks = math.ceil(n_large / 128)  # T of eq. (fa-gpu-causal-blocks), blocks of 128
causal_ratio = (
    live[("tiled_torch", n_large, True)]["time_ms"]
    / live[("tiled_torch", n_large, False)]["time_ms"]
)
print(
    f"tiled, N = {n_large}: causal / non-causal median time {causal_ratio:.2f} (ms ratio); "
    f"fraction of tiles visited, eq. (fa-gpu-causal-blocks): {0.5 + 0.5 / blocks:.3f}"
)

# %%
IMPL_LABELS = {
    "naive": "naive (N×N matrix)",
    "sdpa_math": "SDPA math",
    "sdpa_flash": "SDPA flash",
    "sdpa_efficient": "SDPA mem-efficient",
    "sdpa_cudnn": "SDPA cuDNN",
    "tiled_torch": "tiled, torch ops (ours)",
    "triton_ours": "Triton kernel (ours)",
}
IMPL_COLORS = {
    "naive": PALETTE[7],
    "sdpa_math": PALETTE[3],
    "sdpa_flash": PALETTE[0],
    "sdpa_efficient": PALETTE[5],
    "sdpa_cudnn": PALETTE[2],
    "tiled_torch": PALETTE[4],
    "triton_ours": PALETTE[1],
}


def rows_of(rows: list[dict], impl: str, causal: bool, head_dim: int | None = None) -> list[dict]:
    """The ok rows of one implementation and mask, sorted by N."""
    return sorted(
        (
            r
            for r in rows
            if r["impl"] == impl
            and r["causal"] == causal
            and r["status"] == "ok"
            and (head_dim is None or r["head_dim"] == head_dim)
        ),
        key=lambda r: r["n"],
    )


fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4))
for impl in live_impls:
    color = IMPL_COLORS[impl]
    for causal, style in ((False, "-o"), (True, "--s")):
        rs = rows_of(live_rows, impl, causal)
        ax_time.plot(
            [r["n"] for r in rs],
            [r["time_ms"] for r in rs],
            style,
            color=color,
            ms=4,
            label=f"{IMPL_LABELS[impl]}{', causal' if causal else ''}",
        )
    rs = rows_of(live_rows, impl, False)
    ax_mem.plot(
        [r["n"] for r in rs],
        [r["peak_memory_bytes"] / 2**20 for r in rs],
        "-o",
        color=color,
        ms=4,
        label=IMPL_LABELS[impl],
    )
ax_time.set(
    xscale="log",
    yscale="log",
    xlabel="sequence length N",
    ylabel="time (ms)",
    title=f"Time at {LIVE['total_tokens']} tokens, d = {LIVE['head_dim']}",
)
ax_mem.set(
    xscale="log",
    yscale="log",
    xlabel="sequence length N",
    ylabel="peak extra memory (MiB)",
    title="Peak memory of one call",
)
for ax in (ax_time, ax_mem):
    ax.set_xticks(LIVE["seq_lens"], [str(n) for n in LIVE["seq_lens"]], minor=False)
    ax.xaxis.set_minor_locator(NullLocator())
ax_time.legend(fontsize=7, ncol=2)
ax_mem.legend(fontsize=8)
fig.suptitle(
    f"{describe_device(device).split(',')[0]}: naive attention's memory grows "
    f"×{naive_growth:.1f} from N = {n_small} to {n_large}; the tiled loop's does not grow "
    f"(×{tiled_growth:.2f})"
)
plt.show()

# %% [markdown]
# The memory panel is the $O(N^2)$ versus $O(N)$ claim, measured: at a fixed number of tokens
# naive attention's peak grows with $N$ (the growth factor is in the title), while the tiled
# loop's does not grow (it even falls, because its one tile of scores per (batch, head)
# shrinks with the batch). On a CPU the torch profiler sees only tensors that live between
# operators, so a fused SDPA operator shows just its output: the flash operator's internal
# buffers are per thread and small. The time panel is noisy, on a machine shared with other
# jobs. A CPU has no tensor cores to starve and large caches, so the gap between naive and
# fused attention is smaller than on a GPU, and the Python loop of the tiled version pays some
# tens of microseconds of operator overhead per tile. With the causal mask the tiled version
# skips the masked tiles: the printed time ratio can be compared with the fraction of tiles it
# visits, {eq}`fa-gpu-causal-blocks` (on a busy machine, the noise can swamp the difference).
# Naive attention computes the whole matrix and masks afterwards.
#
# ### Experiment 2: the recorded runs
#
# A GPU run is not repeated every time the book is built. `tools/gpu_sweep.py` runs the full
# sweep (naive attention with a limit on the score size, the Triton kernel, every SDPA
# backend; bf16; causal and not; head dimensions 64 and 128; $N$ from 1k to 16k at 16k tokens;
# plus the measured matmul and copy ceilings of the machine) and writes a JSON file with the
# hardware, the versions and the date to `notebooks/gpu/results/`. The chapter plots whatever
# files are there, preferring the newest GPU run; until one exists it plots the CPU run that
# the same script made with `--cpu` (float32, no Triton kernel).


# %%
def find_results_dir() -> Path | None:
    """notebooks/gpu/results: next to this notebook, or in the repository notebook_utils is in."""
    repo = Path(notebook_utils.__file__).resolve().parents[2]
    for candidate in (
        Path("results"),
        Path("notebooks/gpu/results"),
        repo / "notebooks" / "gpu" / "results",
    ):
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    return None


results_dir = find_results_dir()
recorded = {}
if results_dir is not None:
    recorded = {path.name: load_results(path) for path in sorted(results_dir.glob("*.json"))}
for name, doc in recorded.items():
    env = doc["environment"]
    print(
        f"{name}: {env['device_type']} '{env['device_name']}', torch {env['torch']}, "
        f"triton {env['triton']}, {env['date'][:10]}, {len(doc['rows'])} rows"
    )
gpu_runs = [doc for doc in recorded.values() if doc["environment"]["device_type"] == "cuda"]
cpu_runs = [doc for doc in recorded.values() if doc["environment"]["device_type"] != "cuda"]
shown = max(gpu_runs or cpu_runs, key=lambda doc: doc["environment"]["date"], default=None)
if shown is None:
    print("No recorded results found: run tools/gpu_sweep.py to make some.")
elif not gpu_runs:
    print(
        "No GPU run is recorded yet: the figures below show the CPU run, and the GPU numbers "
        "are pending (tools/gpu_sweep.py on a GPU writes them)."
    )
else:
    print(
        f"Showing the GPU run of {shown['environment']['date'][:10]} on "
        f"{shown['environment']['device_name']}."
    )
if shown is not None:
    print(f"notes of the shown run: {shown['notes']}")

# %% [markdown]
# Each figure shows one head dimension: time, TFLOP/s (useful FLOPs of {eq}`fa-gpu-flops` per
# second, with the machine's measured matmul throughput as a dashed line, the practical
# ceiling) and peak memory, without and with the causal mask. The title names the machine and
# the versions, and states the speed-up and memory saving of the fastest fused
# implementation over naive attention at the longest sequence naive attention could run. In a
# CPU run, the memory of the two SDPA backends is only their output, for the profiler reason
# given above, even though the math backend builds the $N\times N$ matrix inside its operator;
# a GPU run reads the allocator's peak, which sees everything.


# %%
def plot_recorded(doc: dict, head_dim: int) -> tuple[float, float, str, int] | None:
    """Time, TFLOP/s and memory against N for one head dim; returns the title's numbers."""
    env, rows = doc["environment"], doc["rows"]
    impls = [i for i in IMPL_LABELS if any(r["impl"] == i for r in rows)]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharex=True)
    for row_axes, causal in zip(axes, (False, True), strict=True):
        for impl in impls:
            rs = rows_of(rows, impl, causal, head_dim)
            if not rs:
                continue
            ns = [r["n"] for r in rs]
            style = dict(color=IMPL_COLORS[impl], marker="o", ms=3, label=IMPL_LABELS[impl])
            row_axes[0].plot(ns, [r["time_ms"] for r in rs], **style)
            row_axes[1].plot(ns, [r["tflops"] for r in rs], **style)
            row_axes[2].plot(ns, [r["peak_memory_bytes"] / 2**20 for r in rs], **style)
        ceiling = doc["ceilings"].get("matmul_tflops")
        if ceiling:
            row_axes[1].axhline(
                ceiling,
                ls="--",
                color="0.4",
                lw=1,
                label=f"matmul ceiling, measured ({ceiling:.3g} TFLOP/s)",
            )
        mask = "causal" if causal else "no mask"
        row_axes[0].set(yscale="log", ylabel="time (ms)", title=f"Time, {mask}")
        row_axes[1].set(ylabel="TFLOP/s", title=f"Throughput, {mask}")
        row_axes[2].set(yscale="log", ylabel="peak extra memory (MiB)", title=f"Memory, {mask}")
    ns_all = sorted({r["n"] for r in rows if r["head_dim"] == head_dim})
    for ax in axes[1]:
        ax.set(xscale="log", xlabel="sequence length N")
        ax.set_xticks(ns_all, [f"{n // 1024}k" if n >= 1024 else str(n) for n in ns_all])
        ax.xaxis.set_minor_locator(NullLocator())
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    versions = f"torch {env['torch']}" + (f", triton {env['triton']}" if env["triton"] else "")
    header = (
        f"{env['device_name']} ({env['device_type']}), {rows[0]['dtype']}, d = {head_dim}, "
        f"{versions}, {env['date'][:10]}"
    )
    # The finding: at the longest N where naive attention ran (no mask), the fastest fused one.
    naive = {r["n"]: r for r in rows_of(rows, "naive", False, head_dim)}
    fused = [
        r
        for r in rows
        if r["status"] == "ok"
        and not r["causal"]
        and r["head_dim"] == head_dim
        and r["impl"] not in ("naive", "sdpa_math")
        and r["n"] in naive
    ]
    if not fused:
        fig.suptitle(header)
        plt.show()
        return None
    n_cmp = max(r["n"] for r in fused)
    best = min((r for r in fused if r["n"] == n_cmp), key=lambda r: r["time_ms"])
    speedup = naive[n_cmp]["time_ms"] / best["time_ms"]
    memory_ratio = naive[n_cmp]["peak_memory_bytes"] / max(best["peak_memory_bytes"], 1)
    fig.suptitle(
        f"{header}\nAt N = {n_cmp}, {IMPL_LABELS[best['impl']]} is {speedup:.1f}× faster than "
        f"naive attention and needs {memory_ratio:.0f}× less memory"
    )
    plt.show()
    return speedup, memory_ratio, best["impl"], n_cmp


if shown is not None:
    for head_dim in sorted({r["head_dim"] for r in shown["rows"]}):
        finding = plot_recorded(shown, head_dim)
        if finding is None:
            continue
        speedup, memory_ratio, best_impl, n_cmp = finding
        print(
            f"d = {head_dim}, N = {n_cmp}, no mask: {best_impl} is {speedup:.1f}× faster than "
            f"naive and uses {memory_ratio:.0f}× less memory"
        )

# %% [markdown]
# ### What the numbers mean
#
# The roofline of the machine that made the shown run, from its two measured ceilings, and
# the arithmetic intensity of naive attention from {eq}`fa-gpu-intensity` and of the kernel
# from the pessimistic bound {eq}`fa-gpu-flash-intensity`, at the bf16 size $b=2$ of a GPU
# run, next to the H200's datasheet numbers:

# %%
H200_BF16_DENSE_TFLOPS = 989.0  # datasheet: 1,979 with 2:4 sparsity, so half of it dense
H200_HBM_TBPS = 4.8
H100_EXP_TFLOPS = 3.9  # T exponentials/s (special function units), FlashAttention-3, section 3


def naive_intensity(n: int, d: int, bytes_per_number: int) -> float:
    """FLOP per HBM byte of standard attention, eq. (fa-gpu-intensity)."""
    return 4 * n * n * d / (bytes_per_number * (4 * n * n + 4 * n * d))


def flash_intensity_bound(n: int, d: int, bytes_per_number: int, block_m: int) -> float:
    """Lower bound on a fused kernel's FLOP per HBM byte, eq. (fa-gpu-flash-intensity)."""
    return 4 * n * n * d / (bytes_per_number * 2 * n * d * (1 + math.ceil(n / block_m)))


h200_ridge = H200_BF16_DENSE_TFLOPS * 1e12 / (H200_HBM_TBPS * 1e12)
print(
    f"H200 datasheet ridge point: {H200_BF16_DENSE_TFLOPS:.0f} TFLOP/s / "
    f"{H200_HBM_TBPS} TB/s = {h200_ridge:.0f} FLOP/B"
)
for d in (64, 128):
    print(
        f"d = {d}, N = 16384, bf16: naive attention {naive_intensity(16384, d, 2):.1f} FLOP/B, "
        f"fused kernel (B_r = 128) >= {flash_intensity_bound(16384, d, 2, 128):.1f} FLOP/B"
    )
check_close("naive intensity -> d/b for large N", naive_intensity(1 << 20, 64, 2), 32.0, atol=1e-2)
if shown is not None:
    ceilings = shown["ceilings"]
    if ceilings.get("matmul_tflops") and ceilings.get("copy_gbps"):
        ridge = ceilings["matmul_tflops"] * 1e12 / (ceilings["copy_gbps"] * 1e9)
        print(
            f"shown run ({shown['environment']['device_name']}): matmul "
            f"{ceilings['matmul_tflops']:.3g} TFLOP/s, copy {ceilings['copy_gbps']:.3g} GB/s, "
            f"ridge point {ridge:.0f} FLOP/B"
        )
exp_vs_matmul = {d: (1 / H100_EXP_TFLOPS) / (4 * d / H200_BF16_DENSE_TFLOPS) for d in (64, 128)}
print(
    "time of the N² exponentials / time of the 4N²d matmul FLOPs, both at peak: "
    + ", ".join(f"d = {d}: {r:.2f}" for d, r in exp_vs_matmul.items())
)

# %% [markdown]
# Read the figures with these numbers:
#
# - **Naive attention is memory-bound.** Its intensity is a few tens of FLOP per byte, a
#   fraction of a GPU's ridge point, so its time follows the $N^2$ bytes moved, and its
#   TFLOP/s stay a small fraction of the matmul line. Its memory grows like $N$ at a fixed
#   token count (like $N^2$ per sequence), until it exceeds the limit the sweep sets and is
#   skipped. PyTorch's math backend is the same algorithm, and behaves the same.
# - **The fused kernels are compute-bound.** Their intensity is far above the ridge point,
#   their TFLOP/s approach a fixed fraction of the matmul line as $N$ grows, and their extra
#   memory is the LSE: flat at a fixed token count.
# - **Causal.** With block skipping, causal attention takes about half the time of the
#   non-causal one at large $N$, so its TFLOP/s (counted on half the FLOPs) are close to the
#   non-causal ones. At small $N$ the masked diagonal tiles, $1/(2T)$ of
#   {eq}`fa-gpu-causal-blocks`, cost more in proportion.
# - **Exponentials.** On an H100 or H200 the special function units do about 3.9 T
#   exponentials per second against 989 TFLOP/s of dense matmul
#   {cite}`shah2024flashattention3`: the printed ratio says that at $d=64$ computing the $N^2$
#   exponentials takes about as long as the $4N^2d$ matmul FLOPs, at $d=128$ half as long.
#   A kernel that does the two one after the other cannot reach the matmul line; FlashAttention-3
#   overlaps them (ping-pong scheduling between warp groups, and the softmax of one tile during
#   the matmul of the next).
#
# **Where our kernel should lose or win.** Unless an FA3 implementation has been registered and
# activated (`torch.nn.attention.activate_flash_attention_impl`, an opt-in that needs an
# outside package; `tools/gpu_sweep.py` records which one ran), SDPA's flash backend runs the
# FlashAttention-2 kernels compiled into PyTorch. They were written for Ampere's `mma.sync`
# instructions, and {cite:t}`shah2024flashattention3` measured FlashAttention-2 at about 35 % of
# an H100's peak. Triton compiles `tl.dot` to Hopper's wgmma instructions and pipelines the
# loads of $K$ and $V$ itself, so a plain Triton kernel can keep up with, or beat, the
# FlashAttention-2 backend on an H200. It does not use everything FlashAttention-3 does: loads
# through TMA descriptors, warp specialisation (producer warps that only copy, consumer warps
# that only compute), the overlap of softmax and matmul, FP8. The cuDNN backend runs NVIDIA's
# own fused attention, which on Hopper is built on these features, and may well be the
# fastest SDPA backend in this sweep; the memory-efficient backend (xFormers' kernel) should
# trail the flash one.
#
# **Targets for the GPU run** (to be measured, not results): in bf16 on the H200, the Triton
# kernel's forward throughput at least $0.9\times$ that of PyTorch's flash backend for
# $N\ge4\text{k}$, reported also as a fraction of the measured bf16 matmul throughput; and a
# peak extra memory of $O(N)$ (the output and the LSE) against naive attention's $O(N^2)$.
# The next cell evaluates them on the recorded GPU run, when there is one.


# %%
def target_report(doc: dict) -> list[str]:
    """Our kernel vs SDPA flash at N >= 4096, and as a fraction of the matmul ceiling."""
    ok = {
        (r["impl"], r["n"], r["head_dim"], r["causal"]): r
        for r in doc["rows"]
        if r["status"] == "ok"
    }
    ceiling = doc["ceilings"].get("matmul_tflops")
    lines = []
    for (impl, n, head_dim, causal), ours in sorted(ok.items()):
        flash = ok.get(("sdpa_flash", n, head_dim, causal))
        if impl != "triton_ours" or n < 4096 or flash is None:
            continue
        ratio = ours["tflops"] / flash["tflops"]
        of_matmul = f", {ours['tflops'] / ceiling:.0%} of matmul" if ceiling else ""
        lines.append(
            f"d = {head_dim}, N = {n}, causal = {causal}: {ours['tflops']:.0f} TFLOP/s, "
            f"{ratio:.2f}× SDPA flash ({'met' if ratio >= 0.9 else 'missed'})"
            f"{of_matmul}"
        )
    return lines


if gpu_runs:
    for line in target_report(shown) or ["the shown GPU run has no Triton kernel rows"]:
        print(line)
else:
    print("Targets pending: no GPU run is recorded yet.")

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "FlashAttention is faster because it does fewer FLOPs." Right?
# No. The forward does the same $4N^2d$ FLOPs ({eq}`fa-gpu-flops`), and the backward does more
# than a standard backward, because it recomputes $S$ and $P$. It is faster because it moves
# far fewer bytes: standard attention is memory-bound on the $N\times N$ matrices, and the
# fused kernel is compute-bound. It is also not an approximation (sparse or low-rank attention
# are): the output is the same up to rounding, as the checks above show.
# :::
#
# :::{dropdown} Why not materialise $P$ and keep it for the backward?
# It is $N^2$ numbers per head: at $N=32\,768$ in fp16, 2 GiB per head and per sequence
# (Check yourself, question 3). Storing it costs memory, and writing and reading it costs the
# HBM traffic that FlashAttention exists to avoid. The LSE, $N$ numbers, rebuilds any entry:
# $P_{ij}=e^{S_{ij}-\text{LSE}_i}$.
# :::
#
# :::{dropdown} Masking the tail: why $-\infty$ scores *and* masked loads?
# When $N$ is not a multiple of $B_c$, the last key block reaches past the tensor. The loads
# must be masked: memory past the end holds anything, and $0\cdot\text{NaN}=\text{NaN}$, so a
# garbage value in $V$ poisons the row even with a zero weight. The scores of those keys must
# be $-\infty$: a key loaded as zeros has score $q^\top0=0$, not $-\infty$, and takes
# $e^{0-m}$ of the softmax. The cell below pads $K$ and $V$ with zeros instead of masking.
# :::

# %%
q, k, v = (torch.randn(1, 1, 40, 16, dtype=torch.float64) for _ in range(3))  # N = 40
k_padded, v_padded = (F.pad(t, (0, 0, 0, 24)) for t in (k, v))  # to 64 = 2 blocks of 32
padded_out = F.scaled_dot_product_attention(q, k_padded, v_padded)  # zero keys, no mask
error = (padded_out - F.scaled_dot_product_attention(q, k, v)).abs().max().item()
print(f"zero-padded keys without a mask: max error {error:.3f}")
check_true("zero padding instead of -inf changes the output", error > 0.1, f"{error:.3f}")
check_true(
    "0 × NaN is NaN, so masked loads matter", bool(torch.isnan(torch.tensor(0.0) * math.nan))
)

# %% [markdown]
# :::{dropdown} Fully masked rows: where NaNs come from
# If every key a row has seen so far is masked, its running max is $-\infty$ and the update
# computes $e^{-\infty-(-\infty)}=e^{\text{NaN}}$. In this kernel it cannot happen: key block 0
# is visible to every query (causal or not), and it is the first block every program visits,
# so $m$ is finite after it, and a later fully masked tile only gives $e^{-\infty-m}=0$. It
# does happen with padding masks, sliding windows, or a causal mask aligned to the bottom right
# when there are more queries than keys. Kernels then replace a $-\infty$ maximum by 0 before
# subtracting, and define the output of an empty row (zeros, and an LSE of $-\infty$).
# :::

# %%
minus_inf = torch.tensor(-math.inf)
check_true("(-inf) - (-inf) is NaN", bool(torch.isnan(minus_inf - minus_inf)))

# %% [markdown]
# :::{dropdown} Why subtract the running maximum at all?
# Without it, $e^{s}$ overflows float32 for $s>88.7$ and fp16 for $s>11.1$, and scores that
# large occur (the logits grow during training; see the self-attention chapter). With it, every
# exponent is $\le0$. The rescaling factors $e^{m_\text{old}-m_\text{new}}\le1$ only ever shrink
# the old state, so rounding errors do not grow either. Keeping $\tilde O$ unnormalised until
# the end saves one division per element per tile; it is safe because $\ell\ge1$ at the end.
# :::

# %%
check_true(
    "e^89 overflows float32 and e^12 overflows float16",
    bool(
        torch.isinf(torch.exp(torch.tensor(89.0)))
        and torch.isinf(torch.exp(torch.tensor(12.0, dtype=torch.float16)))
    ),
)

# %% [markdown]
# :::{dropdown} bf16 under the Triton interpreter
# The interpreter computes with NumPy, which has no bfloat16 type. In the Triton installed
# here, the kernel fed bf16 tensors runs without an error and returns wrong numbers, while
# fp16 and fp32 are fine: the cell below measures it when the interpreter is on. This is why
# the CPU checks run in float32, and the bf16 checks need a GPU.
# :::

# %%
if HAVE_TRITON and INTERPRETED:
    q, k, v = (torch.randn(1, 1, 64, 32) for _ in range(3))
    reference = F.scaled_dot_product_attention(q, k, v)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        out, _ = flash_attention(q.to(dtype), k.to(dtype), v.to(dtype))
        error = (out.float() - reference).abs().max().item()
        print(f"interpreter, {str(dtype)[6:]:>8}: max error vs fp32 SDPA {error:.3g}")
    check_true(
        f"under the interpreter of Triton {triton.__version__}, bf16 gives wrong results",
        error > 0.1,
        f"max error {error:.3g}",
    )
else:
    print("The interpreter is off (a GPU runs the kernel natively), or Triton is missing.")

# %% [markdown]
# :::{dropdown} `tl.dot` shapes, block sizes and the head dimension
# On NVIDIA GPUs `tl.dot` needs every dimension of its operands to be at least 16 (the tensor
# core tiles), and `tl.arange` needs a power of two. So $B_r,B_c\ge16$ and the head dimension
# must be 16, 32, 64 or 128 here. Real kernels pad other sizes up to a power of two; 256 is
# left out here, because its tiles need smaller blocks or more shared memory, a tuning this
# chapter does not do. The interpreter is more lenient than the GPU compiler: a kernel that runs
# in it can still fail to compile. So the unit tests also compile this kernel for a Hopper
# target (sm_90) on a machine without a GPU, and the GPU run repeats the checks first.
# :::
#
# :::{dropdown} Why does the backward recompute, and is that slower?
# It does more FLOPs ({eq}`fa-gpu-backward`: five matmuls over the tiles) but moves fewer
# bytes, and the backward of standard attention is even more memory-bound than its forward
# (it reads $P$ and writes $dP$ and $dS$). {cite:t}`dao2022flashattention` (Figure 2) count
# more FLOPs for their forward plus backward than for the standard one, and far fewer HBM
# bytes, and measure it several times faster. The same trade is gradient checkpointing,
# applied inside one kernel.
# :::
#
# :::{dropdown} What changes for decoding, with one query at a time?
# With $N_q=1$ there is one query block per (batch, head), too few programs to fill a GPU, and
# each must stream a long KV cache on its own. Split-KV decoding (Flash-Decoding
# {cite}`dao2023flashdecoding`) cuts the keys into chunks, runs one program per chunk, and
# merges the partial $(m,\ell,\tilde o)$ with {eq}`fa-gpu-merge`.
# :::
#
# :::{dropdown} Why 32-bit offsets overflow
# The element offset of the last (batch, head) slice is $(BH-1)Nd$. At $B\cdot H=512$,
# $N=16\,384$ and $d=128$ that is about $1.07\times10^9$, and twice that passes $2^{31}$.
# Program ids are 32-bit integers in Triton; the kernel casts the slice index to int64
# before multiplying.
# :::
#
# :::{dropdown} Why is the kernel not timed on a CPU?
# The interpreter executes the kernel one program at a time, each Triton operation as NumPy
# calls on small arrays, with Python overhead per operation. Its time measures the interpreter,
# not the algorithm, and not the kernel that a GPU would run. The timed stand-in on a CPU is
# `tiled_attention`, the same algorithm in torch operations.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. One query, five keys with scores $s=(1,3,2\mid5,0)$ and scalar values $v=(1,2,3\mid4,5)$,
#    in two blocks. Compute $(m,\ell,\tilde o)$ of each block, merge them with
#    {eq}`fa-gpu-merge`, and check the output and the LSE against the full softmax.
#
#    :::{dropdown} Answer
#    Block $a$: $m_a=3$, $\ell_a=e^{-2}+1+e^{-1}\approx1.503$,
#    $\tilde o_a=e^{-2}+2+3e^{-1}\approx3.239$. Block $b$: $m_b=5$, $\ell_b=1+e^{-5}$,
#    $\tilde o_b=4+5e^{-5}$. Merged: $m=5$, $\ell=e^{-2}\ell_a+\ell_b$,
#    $\tilde o=e^{-2}\tilde o_a+\tilde o_b$, output $\tilde o/\ell$ and
#    $\text{LSE}=5+\log\ell$. The cell below does it and compares with `torch.softmax` and
#    `torch.logsumexp`.
#    :::

# %%
scores = torch.tensor([1.0, 3.0, 2.0, 5.0, 0.0], dtype=torch.float64)
values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)


def block_state(s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(m, ℓ, õ) of one block, eq. (fa-gpu-state)."""
    m = s.max()
    return m, torch.exp(s - m).sum(), (torch.exp(s - m) * v).sum()


(m_a, l_a, o_a), (m_b, l_b, o_b) = (
    block_state(scores[:3], values[:3]),
    block_state(scores[3:], values[3:]),
)
m = torch.maximum(m_a, m_b)  # eq. (fa-gpu-merge)
merged_l = torch.exp(m_a - m) * l_a + torch.exp(m_b - m) * l_b
merged_o = torch.exp(m_a - m) * o_a + torch.exp(m_b - m) * o_b
check_close(
    "merged output vs full softmax",
    merged_o / merged_l,
    torch.softmax(scores, 0) @ values,
    atol=1e-14,
)
check_close(
    "merged LSE vs torch.logsumexp", m + torch.log(merged_l), torch.logsumexp(scores, 0), atol=1e-14
)
print(f"output {float(merged_o / merged_l):.6f}, LSE {float(m + torch.log(merged_l)):.6f}")

# %% [markdown]
# 2. An upper bound on the shared memory of one program: the $Q$ tile plus `num_stages`
#    copies of the $K$ and $V$ tiles (the software pipeline keeps several tiles in flight), all
#    in bf16. Which of `GPU_CONFIGS` stay under the 227 KiB that one block may use on a Hopper
#    GPU {cite}`nvidia2024hopper`, for $d=128$?
#
#    :::{dropdown} Answer
#    $2\,(B_rd+2\,\text{stages}\,B_cd)$ bytes: $(128,64,\cdot,3)$ needs at most
#    $2\cdot128\cdot(128+6\cdot64)$ B $=128$ KiB, and $(128,128,8,2)$ at most
#    $2\cdot128\cdot(128+4\cdot128)$ B $=160$ KiB; all of them fit. $(128,128)$ with 3 stages
#    would need up to 224 KiB, too close to the limit. The compiler often needs less (on Hopper
#    $Q$ can stay in registers, and it may keep fewer copies in flight) and sometimes a little
#    more (buffers to change data layouts); the autotuner drops a configuration that does not
#    fit. The cell below prints the bound for each.
#    :::

# %%
HOPPER_SMEM_PER_BLOCK = 227 * 1024
for block_m, block_n, _warps, stages in GPU_CONFIGS:
    smem = 2 * (block_m * 128 + 2 * stages * block_n * 128)
    print(f"BLOCK_M={block_m:3} BLOCK_N={block_n:3} stages={stages}: <= {smem / 1024:3.0f} KiB")
check_equal("(128, 64, stages 3), d = 128: bytes", 2 * (128 * 128 + 2 * 3 * 64 * 128), 128 * 1024)
check_true(
    "every GPU config stays under 227 KiB at d = 128",
    all(
        2 * (bm * 128 + 2 * st * bn * 128) <= HOPPER_SMEM_PER_BLOCK for bm, bn, _, st in GPU_CONFIGS
    ),
)

# %% [markdown]
# 3. A forward pass at $N=32\,768$, $d=128$, fp16, one head and one sequence: how many bytes
#    does FlashAttention keep for the backward, and how many would $P$ take?
#
#    :::{dropdown} Answer
#    $O$: $Nd\cdot2=8$ MiB (the output is needed anyway), the LSE: $4N=128$ KiB in fp32;
#    $P$: $N^2\cdot2=2$ GiB, 16 384 times the LSE. The cell below computes it.
#    :::

# %%
n, d = 32_768, 128
lse_bytes, p_bytes = 4 * n, 2 * n * n
check_equal("P at N = 32768 in fp16, bytes", p_bytes, 2 * 2**30)
check_equal("LSE at N = 32768 in fp32, bytes", lse_bytes, 128 * 2**10)
print(
    f"O {format_bytes(2 * n * d)}, LSE {format_bytes(lse_bytes)}, P {format_bytes(p_bytes)} "
    f"(P / LSE = {p_bytes // lse_bytes})"
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`dao2022flashattention`: Algorithm 0 (standard attention and its HBM traffic),
#   Algorithm 1 and section 3.1 (tiling, the online softmax and recomputation), Theorem 2 (HBM
#   accesses $\Theta(N^2d^2M^{-1})$ against $\Theta(Nd+N^2)$), the backward pass of
#   appendix B.
# - {cite:t}`dao2023flashattention2`: section 3.1 (unnormalised accumulator, one division at
#   the end, the log-sum-exp as the only statistic saved), section 3.2 (parallelism over
#   query blocks, one program per (query block, batch × head)), causal block skipping.
# - {cite:t}`shah2024flashattention3`: Hopper's wgmma, TMA and warp specialisation; the
#   overlap of softmax and matmuls; the 3.9 T exponentials/s against 989 TFLOP/s of an H100
#   (section 3); FlashAttention-2 at about 35 % of an H100.
# - {cite:t}`milakov2018online`: the one-pass softmax normaliser, {eq}`fa-gpu-online-l`.
# - {cite:t}`rabe2021self`: attention in sub-quadratic memory with the same running
#   statistics, before FlashAttention.
# - {cite:t}`tillet2019triton`: the Triton language and compiler; {cite:t}`triton2025fusedattention`
#   (the fused-attention tutorial, whose structure the kernel follows: an inner function for
#   the key loop, separate masked and unmasked stages, base-2 exponentials).
# - {cite:t}`williams2009roofline`: the roofline model and the ridge point.
# - {cite:t}`nvidia2024h200` (bf16 tensor-core throughput and memory bandwidth of the H200),
#   {cite:t}`nvidia2024hopper` (shared memory per block on Hopper).
# - {cite:t}`pytorch2025sdpa`: `F.scaled_dot_product_attention`, `sdpa_kernel` and its
#   backends, the flash-attention implementation registry.
# - {cite:t}`dao2023flashdecoding`: split-KV decoding and the merge of partial softmax states.

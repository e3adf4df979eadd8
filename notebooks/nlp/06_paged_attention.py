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
# # 06. PagedAttention
#
# **The question.** What is PagedAttention?
#
# **What you will be able to answer.** How a block table maps a sequence's tokens to
# fixed-size blocks anywhere in a preallocated pool, as page tables do for virtual memory; why
# attention over these blocks is exactly ordinary attention; why the waste per sequence is at most
# one partly filled block; how reference counts and copy-on-write let parallel samples share one
# prompt; and what the scheme costs (a gather in the kernel, preemption when blocks run out).

# %%
import math
from collections import deque
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Patch

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.gpt import (
    GPT,
    CausalSelfAttention,
    apply_rope,
    example_configs,
    rope_cos_sin,
)
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import time_call

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the equivalence checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **The problem.** A serving system keeps a KV cache per sequence
#   ([chapter 04](04_kv_cache.ipynb)). Stored contiguously, each sequence needs one buffer
#   reserved up front, and since nobody knows when it will stop, the buffer is sized for the
#   maximum length. Slots reserved for tokens that come later, or never, are wasted, and buffers
#   of different sizes leave holes between them (external fragmentation). Fewer sequences fit,
#   so the batch, and the throughput, are smaller.
# - **The idea, from operating systems.** Cut each sequence's cache into **blocks** of $b$
#   tokens (vLLM's default is 16), place them anywhere in one pool allocated at start-up, and give
#   each sequence a **block table** mapping logical block $\lfloor t/b\rfloor$ to a physical
#   block. This is virtual memory: sequence = process, block = page, block table = page table.
#   Blocks are allocated on demand, one at a time, from a free list.
# - **Attention is unchanged.** The PagedAttention kernel reads the keys and values through the
#   block table and ignores the unused tail of the last block. It computes the same numbers as
#   attention over a contiguous cache (checked below to `1e-12`); only the memory layout changes.
# - **Waste.** All blocks have the same size, so any free block serves any request: no external
#   fragmentation. The only waste is the unfilled end of each sequence's last block,
#   $b\lceil T/b\rceil-T\le b-1$ slots, about $(b-1)/2$ on average. A 1000-token sequence with
#   $b=16$ uses $\lceil1000/16\rceil=63$ blocks and wastes 8 slots; a contiguous buffer reserved
#   for 2048 tokens wastes 1048.
# - **Sharing.** Blocks carry reference counts. Forking a sequence (parallel sampling, beam
#   search) copies its block table and increments the counts; a write into a shared block first
#   copies it (**copy-on-write**). $n$ samples of a $P$-token prompt save $(n-1)\lfloor P/b\rfloor$
#   blocks.
# - **The claim.** The vLLM authors report under 4 % of KV memory wasted, against 60–80 % in
#   earlier systems, and 2–4× the throughput {cite}`kwon2023efficient,kwon2023vllm`. Those are
#   their measurements; the simulation below prints what a stream of synthetic requests gives.
#
# The notes are right but thin: they describe the block table, and leave out the fixed block
# size, the bound on waste, sharing with reference counts and copy-on-write, and the price (a
# gather in the kernel).

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $b$ | block size: token slots per block | `block_size` |
# | $N$ | physical blocks in the pool | `num_blocks` |
# | $T_s$ | tokens cached for sequence $s$ | `lengths[s]` |
# | $\mathcal B_s[j]$ | physical block of logical block $j$ of sequence $s$ | `block_tables[s][j]` |
# | $\mathcal K^{(\ell)},\mathcal V^{(\ell)}$ | pools of layer $\ell$ | `key_pools[l]` |
# | $g$, $h$, $d_h$ | key/value heads, query heads, head width | `n_kv_heads`, `h`, `head_dim` |
# | $T_\max$ | length a contiguous buffer is reserved for | `MAX_LEN` |
# | $P$, $G$ | prompt length, generated tokens | `prompt_len`, `n_new` |
#
# ### The analogy: virtual memory
#
# An operating system gives each process the illusion of one contiguous address space
# {cite}`denning1970virtual`. Memory is cut into fixed-size pages; a per-process page table maps
# each virtual page to a physical frame anywhere in RAM; a frame is allocated when the page is
# first touched; `fork()` shares the parent's frames and copies one only when either process
# writes to it. PagedAttention applies each idea to the KV cache {cite}`kwon2023efficient`:
#
# | operating system | PagedAttention |
# |---|---|
# | process | sequence (one request, or one sample of it) |
# | virtual address | token position $t$ |
# | page, frame | logical block, physical block of $b$ token slots |
# | page table | block table, one per sequence, used by every layer |
# | allocate on first touch | allocate a block when the last one is full |
# | `fork()` with copy-on-write | parallel samples or beams sharing the prompt's blocks |
# | swap to disk | swap blocks to CPU memory, or drop and recompute them |
# | the MMU translates addresses | the attention kernel reads the block table itself |
#
# ### Address translation
#
# Token $t$ of sequence $s$ lives in logical block $j=\lfloor t/b\rfloor$ at offset
# $o=t\bmod b$, so its key in layer $\ell$ is
#
# $$
# k^{(\ell)}_{s,t}=\mathcal K^{(\ell)}\big[\mathcal B_s[\lfloor t/b\rfloor],\,:,\,t\bmod b,\,:\big]
# $$ (paged-address)
#
# and likewise its value. One table serves all layers: physical block $p$ means rows $p$ of every
# layer's pools. Gathering the blocks of the table in order and keeping the first $T_s$ slots
# rebuilds the contiguous cache:
#
# $$
# K_s=\big[\mathcal K[\mathcal B_s[0]];\ \mathcal K[\mathcal B_s[1]];\ \dots;\
# \mathcal K[\mathcal B_s[m_s-1]]\big]_{0:T_s},\qquad m_s=\lceil T_s/b\rceil
# $$ (paged-gather)
#
# (concatenated along the token axis, per key/value head). A query at position $i$ of sequence
# $s$ then attends as usual:
#
# $$
# o_{s,i}=\sum_{t\le i}\operatorname{softmax}_t\Big(\frac{q_{s,i}^\top k_{s,t}}{\sqrt{d_h}}\Big)
# \,v_{s,t},\qquad i\le T_s-1
# $$ (paged-attn)
#
# The condition $t\le i\le T_s-1$ does two jobs: it is the causal mask, and it hides the
# slots of the last block from position $T_s$ on, which hold nothing yet (or stale data of a
# previous owner of the block).
# Since {eq}`paged-gather` rebuilds exactly the tensor a contiguous cache would hold, the output
# is the same numbers, not an approximation.
#
# ### Waste
#
# A sequence of $T$ tokens holds $\lceil T/b\rceil$ blocks; all are full except the last, so
#
# $$
# \text{blocks}(T)=\Big\lceil\frac{T}{b}\Big\rceil,\qquad
# \text{waste}_\text{paged}(T)=b\Big\lceil\frac{T}{b}\Big\rceil-T\ \in\{0,\dots,b-1\}
# $$ (paged-blocks)
#
# If $T\bmod b$ is spread evenly over $0..b-1$ (lengths vary over many multiples of $b$), the
# waste is $(b-1)/2$ slots per sequence on average. A contiguous buffer reserved for $T_\max$
# tokens instead wastes
#
# $$
# \text{waste}_\text{contiguous}(T)=T_\max-T
# $$ (paged-contiguous-waste)
#
# when the sequence ends, and more while it is still growing. The vLLM paper sorts the waste of
# contiguous allocation into three kinds {cite}`kwon2023efficient`: slots **reserved** for future
# tokens of a running sequence, **internal fragmentation** (slots that will never be used
# because the sequence stops before $T_\max$) and **external fragmentation** (free memory split
# into holes too small for the next request). Paging leaves only the last block's tail, a kind
# of internal fragmentation bounded by $b-1$. The errata's numbers: $\lceil 1000/16\rceil=63$
# blocks hold 1008 slots, 8 of them empty, while a 2048-slot buffer leaves $2048-1000=1048$.
#
# ### Sharing with copy-on-write
#
# Parallel sampling draws $n$ continuations of one prompt. The prompt is prefilled once, into
# $\lceil P/b\rceil$ blocks; each *fork* copies the block table and increments the reference
# count of every block in it, allocating nothing. Only the last block of a sequence is ever
# written. The $\lfloor P/b\rfloor$ full prompt blocks are therefore shared for good. If
# $r=P\bmod b>0$, the partly filled last block is shared too, and the first write into it must
# not be seen by the other samples: the writer copies it to a fresh block, decrements the count
# of the original, and writes into its copy. The last sample to write finds the count at 1 and
# writes in place, so $n-1$ copies are made. Each sample then owns $r+G$ tokens in private
# blocks, and in total
#
# $$
# \text{blocks}_\text{shared}=\Big\lfloor\frac Pb\Big\rfloor+n\Big\lceil\frac{r+G}{b}\Big\rceil,
# \qquad
# \text{blocks}_\text{separate}=n\Big\lceil\frac{P+G}{b}\Big\rceil
# $$ (paged-shared)
#
# Since $\lceil (P+G)/b\rceil=\lfloor P/b\rfloor+\lceil (r+G)/b\rceil$, sharing saves exactly
# $(n-1)\lfloor P/b\rfloor$ blocks: every full prompt block is stored once instead of $n$ times.

# %% [markdown]
# ## Implementation from scratch
#
# ### The block allocator
#
# A fixed pool of $N$ physical blocks, a free list (used as a stack) and one reference count
# per block. `allocate` pops a free block and sets its count to 1; `share` adds a reference;
# `free` drops one, and the block returns to the free list when none is left. Running out of
# blocks raises `OutOfBlocksError`, which a scheduler turns into preemption (Pitfalls).


# %%
class OutOfBlocksError(RuntimeError):
    """No free physical block is left in the pool."""


class BlockAllocator:
    """A fixed pool of `num_blocks` physical blocks with a free list and reference counts."""

    def __init__(self, num_blocks: int) -> None:
        if num_blocks < 1:
            raise ValueError(f"need at least one block, got {num_blocks}")
        self.num_blocks = num_blocks
        self.free_blocks = list(range(num_blocks - 1, -1, -1))  # a stack: block 0 comes out first
        self.ref_counts = [0] * num_blocks

    @property
    def num_free(self) -> int:
        return len(self.free_blocks)

    @property
    def num_used(self) -> int:
        return self.num_blocks - self.num_free

    def allocate(self) -> int:
        """Take a free block; its reference count becomes 1."""
        if not self.free_blocks:
            raise OutOfBlocksError(f"no free block: all {self.num_blocks} blocks are in use")
        block = self.free_blocks.pop()
        self.ref_counts[block] = 1
        return block

    def share(self, block: int) -> None:
        """One more block table refers to `block`."""
        if self.ref_counts[block] == 0:
            raise ValueError(f"block {block} is free; only a block in use can be shared")
        self.ref_counts[block] += 1

    def free(self, block: int) -> None:
        """One block table fewer refers to `block`; it is free again when none is left."""
        if self.ref_counts[block] == 0:
            raise ValueError(f"block {block} is already free (double free)")
        self.ref_counts[block] -= 1
        if self.ref_counts[block] == 0:
            self.free_blocks.append(block)


def ceil_div(a: int, b: int) -> int:
    """⌈a / b⌉ for non-negative integers, without floating point."""
    return -(-a // b)


# %% [markdown]
# ### The paged KV cache
#
# Per layer, one key pool and one value pool of shape $(N,g,b,d_h)$, allocated once. Per
# sequence, a block table (a list of physical block ids) and a length. Appending works in two
# steps, because a model computes the keys of its layers one after the other:
# `append_slots` reserves the slots of $T$ new positions for all layers at once (allocating
# blocks, copying a shared last block first) and returns their (block, offset) pairs,
# {eq}`paged-address`; then each layer `write`s its keys and values there. It checks that enough
# blocks are free *before* changing anything, so a failed append leaves the cache as it was.


# %%
class PagedKVCache:
    """Per-layer K/V pools of shape (num_blocks, g, b, d_h) and one block table per sequence."""

    def __init__(
        self,
        n_layers: int,
        n_kv_heads: int,
        head_dim: int,
        block_size: int,
        num_blocks: int,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (num_blocks, n_kv_heads, block_size, head_dim)
        self.key_pools = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.value_pools = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.block_size = block_size
        self.allocator = BlockAllocator(num_blocks)
        self.block_tables: dict[int, list[int]] = {}  # sequence id -> physical block ids
        self.lengths: dict[int, int] = {}  # sequence id -> tokens cached
        self.copies = 0  # copy-on-write copies made so far

    @classmethod
    def for_model(cls, model: GPT, block_size: int, num_blocks: int) -> "PagedKVCache":
        cfg = model.cfg
        dtype = model.tok_emb.weight.dtype
        return cls(cfg.n_layer, cfg.kv_heads, cfg.head_dim, block_size, num_blocks, dtype)

    def add_sequence(self, seq_id: int) -> None:
        if seq_id in self.block_tables:
            raise ValueError(f"sequence {seq_id} exists already")
        self.block_tables[seq_id], self.lengths[seq_id] = [], 0

    def _needs_copy(self, seq_id: int, n_new: int) -> bool:
        """Would appending write into a partly filled last block that another table shares?"""
        table, length = self.block_tables[seq_id], self.lengths[seq_id]
        partly_filled = length % self.block_size != 0
        return n_new > 0 and partly_filled and self.allocator.ref_counts[table[-1]] > 1

    def blocks_needed(self, seq_id: int, n_new: int) -> int:
        """Blocks that appending n_new positions takes from the free list (new + copied)."""
        length, table = self.lengths[seq_id], self.block_tables[seq_id]
        new_blocks = ceil_div(length + n_new, self.block_size) - len(table)  # eq. (paged-blocks)
        return new_blocks + int(self._needs_copy(seq_id, n_new))

    def append_slots(self, seq_id: int, n_new: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Reserve positions length .. length+n_new-1; return their physical blocks and offsets,
        two (n_new,) tensors, eq. (paged-address)."""
        needed = self.blocks_needed(seq_id, n_new)
        if needed > self.allocator.num_free:
            raise OutOfBlocksError(
                f"sequence {seq_id} needs {needed} more blocks for {n_new} positions; "
                f"{self.allocator.num_free} of {self.allocator.num_blocks} are free"
            )
        if self._needs_copy(seq_id, n_new):
            self._copy_on_write(seq_id)
        table, length, b = self.block_tables[seq_id], self.lengths[seq_id], self.block_size
        while len(table) * b < length + n_new:
            table.append(self.allocator.allocate())
        positions = range(length, length + n_new)
        blocks = torch.tensor([table[t // b] for t in positions], dtype=torch.long)  # (n_new,)
        offsets = torch.tensor([t % b for t in positions], dtype=torch.long)  # eq. (paged-address)
        self.lengths[seq_id] = length + n_new
        return blocks, offsets

    def _copy_on_write(self, seq_id: int) -> None:
        """Give the sequence a private copy of its shared last block, in every layer."""
        table = self.block_tables[seq_id]
        shared, private = table[-1], self.allocator.allocate()
        for pool in self.key_pools + self.value_pools:
            pool[private] = pool[shared]  # (g, b, d_h)
        self.allocator.free(shared)  # one reference fewer on the shared original
        table[-1] = private
        self.copies += 1

    def write(
        self,
        layer: int,
        blocks: torch.Tensor,
        offsets: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
    ) -> None:
        """Store k, v of shape (..., g, T, d_h) at the slots (blocks, offsets), each (..., T)."""
        self.key_pools[layer][blocks, :, offsets] = k.movedim(-3, -2)  # (..., T, g, d_h)
        self.value_pools[layer][blocks, :, offsets] = v.movedim(-3, -2)

    def append(self, seq_id: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Append T positions to every layer: keys, values of shape (L, g, T, d_h)."""
        blocks, offsets = self.append_slots(seq_id, keys.shape[2])
        for layer in range(len(self.key_pools)):
            self.write(layer, blocks, offsets, keys[layer], values[layer])

    def gather(self, layer: int, seq_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The sequence's keys and values in layer `layer`, contiguous: (g, T, d_h) each,
        eq. (paged-gather)."""
        table = torch.tensor(self.block_tables[seq_id], dtype=torch.long)  # (m,)
        n_kv, b, d_h = self.key_pools[layer].shape[1:]
        out = []
        for pool in (self.key_pools[layer], self.value_pools[layer]):
            blocks = pool.index_select(0, table)  # (m, g, b, d_h)
            flat = blocks.transpose(0, 1).reshape(n_kv, len(table) * b, d_h)  # (g, m·b, d_h)
            out.append(flat[:, : self.lengths[seq_id]])  # drop the tail of the last block
        return out[0], out[1]

    def fork(self, parent: int, child: int) -> None:
        """The child shares all of the parent's blocks (no copy): counts + 1."""
        self.add_sequence(child)
        self.block_tables[child] = list(self.block_tables[parent])
        for block in self.block_tables[child]:
            self.allocator.share(block)
        self.lengths[child] = self.lengths[parent]

    def free(self, seq_id: int) -> None:
        """Drop the sequence; blocks no other table refers to go back to the free list."""
        for block in self.block_tables.pop(seq_id):
            self.allocator.free(block)
        del self.lengths[seq_id]

    def block_table_tensor(self, seq_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Block tables padded to the longest, (B, m_max), and lengths, (B,). The padding
        points at block 0; attention masks it like the tail of a last block."""
        tables = [self.block_tables[s] for s in seq_ids]
        padded = torch.zeros(len(tables), max(1, *map(len, tables)), dtype=torch.long)
        for i, table in enumerate(tables):
            padded[i, : len(table)] = torch.tensor(table, dtype=torch.long)
        return padded, torch.tensor([self.lengths[s] for s in seq_ids])


# %% [markdown]
# ### Attention through the block table
#
# A batch of sequences of different lengths, each bringing $T$ new queries (its last $T$
# positions: $T=1$ in decoding). Advanced indexing `pool[block_tables]` gathers every
# sequence's blocks in table order, {eq}`paged-gather`, into a padded $(B,g,m_\max b,d_h)$
# tensor; one comparison of positions, {eq}`paged-attn`, masks the future, the tail of the last
# block and the padding blocks. Values at masked slots are zeroed as well: a stale slot may
# hold anything, even NaN, and $0\cdot\text{NaN}$ is NaN. (A real kernel never reads those
# slots; it loops over the $\lceil T_s/b\rceil$ blocks of each sequence.)


# %%
def gather_blocks(pool: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """eq. (paged-gather) for a batch: the blocks of pool (N, g, b, d_h) listed in tables
    (B, m), in table order, as (B, g, m·b, d_h)."""
    B, m = tables.shape
    _, g, b, d_h = pool.shape
    return pool[tables].transpose(1, 2).reshape(B, g, m * b, d_h)  # pool[tables]: (B, m, g, b, d_h)


def paged_attention(
    q: torch.Tensor,
    key_pool: torch.Tensor,
    value_pool: torch.Tensor,
    block_tables: torch.Tensor,
    lengths: torch.Tensor,
) -> torch.Tensor:
    """Attention of q (B, h, T, d_h), the last T positions of each sequence, over its paged
    keys and values; block_tables (B, m) and lengths (B,). Returns (B, h, T, d_h)."""
    _, h, T, d_h = q.shape
    _, g, b, _ = key_pool.shape
    m = block_tables.shape[1]
    keys = gather_blocks(key_pool, block_tables)  # (B, g, S, d_h), S = m·b
    values = gather_blocks(value_pool, block_tables)
    key_pos = torch.arange(m * b)  # (S,)
    query_pos = lengths[:, None] - T + torch.arange(T)[None, :]  # (B, T): absolute positions
    allowed = key_pos[None, None, :] <= query_pos[:, :, None]  # (B, T, S): eq. (paged-attn)
    stored = (key_pos[None, :] < lengths[:, None])[:, None, :, None]  # (B, 1, S, 1)
    values = torch.where(stored, values, 0.0)  # stale slots may hold NaN
    if g != h:  # grouped-query attention: h/g query heads per key/value head
        keys = keys.repeat_interleave(h // g, dim=1)  # (B, h, S, d_h)
        values = values.repeat_interleave(h // g, dim=1)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(d_h)  # (B, h, T, S)
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    return torch.softmax(scores, dim=-1) @ values  # (B, h, T, d_h)


# %% [markdown]
# ### The shared GPT on a paged cache
#
# As in [chapter 04](04_kv_cache.ipynb), a forward pass written with the shared model's weights
# (embeddings, norms, MLPs, the `qkv` and `proj` of `CausalSelfAttention`), with the paged cache
# in place of the contiguous one. What changes is that every sequence of the batch has its own
# length: the slots are reserved per sequence, and each new token gets the position
# `lengths[s] + i` of its own sequence (for RoPE, its own rotation), so prompts of different
# lengths decode together without padding the cache.


# %%
def paged_self_attention(
    attn: CausalSelfAttention,
    x: torch.Tensor,
    layer: int,
    cache: PagedKVCache,
    seq_ids: list[int],
    slots: tuple[torch.Tensor, torch.Tensor],
    rope: tuple[torch.Tensor, torch.Tensor] | None,
) -> torch.Tensor:
    """One attention sublayer for the T new positions of x (B, T, d); slots from append_slots."""
    cfg = attn.cfg
    B, T, _ = x.shape
    h, g, d_h = cfg.n_head, cfg.kv_heads, cfg.head_dim
    q, k, v = attn.qkv(x).split([h * d_h, g * d_h, g * d_h], dim=-1)
    q = q.view(B, T, h, d_h).transpose(1, 2)  # (B, h, T, d_h)
    k = k.view(B, T, g, d_h).transpose(1, 2)  # (B, g, T, d_h)
    v = v.view(B, T, g, d_h).transpose(1, 2)  # (B, g, T, d_h)
    if rope is not None:  # keys are stored rotated, as in chapter 04
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    cache.write(layer, *slots, k, v)  # slots: (B, T) blocks and offsets
    tables, lengths = cache.block_table_tensor(seq_ids)
    out = paged_attention(q, cache.key_pools[layer], cache.value_pools[layer], tables, lengths)
    return attn.proj(out.transpose(1, 2).reshape(B, T, h * d_h))  # (B, T, d)


def paged_forward(
    model: GPT, idx: torch.Tensor, cache: PagedKVCache, seq_ids: list[int]
) -> torch.Tensor:
    """Logits (B, T, V) for T new tokens idx (B, T), token b continuing sequence seq_ids[b]."""
    cfg = model.cfg
    B, T = idx.shape
    starts = torch.tensor([cache.lengths[s] for s in seq_ids])  # (B,)
    reserved = [cache.append_slots(s, T) for s in seq_ids]  # copy-on-write happens here
    slots = (torch.stack([r[0] for r in reserved]), torch.stack([r[1] for r in reserved]))
    positions = starts[:, None] + torch.arange(T)[None, :]  # (B, T): per-sequence positions
    x = model.tok_emb(idx)  # (B, T, d)
    if cfg.position == "learned":
        x = x + model.pos_emb(positions)
    elif cfg.position == "sinusoidal":
        x = x + model.get_buffer("pos_table")[positions]
    rope = None
    if cfg.position == "rope":
        cos, sin = rope_cos_sin(positions.flatten(), cfg.head_dim, cfg.rope_base)  # (B·T, d_h)
        rope = (cos.view(B, 1, T, -1), sin.view(B, 1, T, -1))  # broadcast over heads
    for layer, block in enumerate(model.blocks):
        args = (layer, cache, seq_ids, slots, rope)
        if block.pre_norm:  # x + f(norm(x))
            x = x + paged_self_attention(block.attn, block.norm1(x), *args)
            x = x + block.mlp(block.norm2(x))
        else:  # norm(x + f(x))
            x = block.norm1(x + paged_self_attention(block.attn, x, *args))
            x = block.norm2(x + block.mlp(x))
    if model.final_norm is not None:
        x = model.final_norm(x)
    return model.head(x)  # (B, T, V)


# %% [markdown]
# Decoding a batch of prompts of different lengths: each prompt is prefilled on its own (its
# own number of positions), then all sequences decode together, one token each per step.


# %%
@torch.no_grad()
def paged_greedy_decode(
    model: GPT, prompts: list[torch.Tensor], n_new: int, cache: PagedKVCache
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Greedy continuations of the 1-D prompts (each P_s + n_new tokens) and the step logits,
    (B, n_new, V), decoding with the paged cache."""
    seq_ids = list(range(len(prompts)))
    last_logits = []
    for s, prompt in zip(seq_ids, prompts, strict=True):
        cache.add_sequence(s)
        last_logits.append(paged_forward(model, prompt[None], cache, [s])[0, -1])  # prefill
    logits = torch.stack(last_logits)  # (B, V)
    new_tokens, step_logits = [], []
    for step in range(n_new):
        if step > 0:  # decode: one position per sequence, each at its own length
            logits = paged_forward(model, new_tokens[-1], cache, seq_ids)[:, -1]  # (B, V)
        step_logits.append(logits)
        new_tokens.append(logits.argmax(dim=-1, keepdim=True))  # (B, 1)
    generated = torch.cat(new_tokens, dim=1)  # (B, n_new)
    sequences = [torch.cat([p, generated[s]]) for s, p in enumerate(prompts)]
    return sequences, torch.stack(step_logits, dim=1)


# %% [markdown]
# Parallel sampling with a shared prompt: prefill once, fork $n-1$ times, and sample each
# continuation with its own random draws. The first write of each sample into the shared last
# block triggers copy-on-write inside `append_slots`.


# %%
@torch.no_grad()
def paged_parallel_sample(
    model: GPT,
    prompt: torch.Tensor,
    n_samples: int,
    n_new: int,
    cache: PagedKVCache,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n_samples continuations of the 1-D prompt, sampled at temperature 1, sharing its blocks:
    tokens (n, P + n_new) and the logits each token was drawn from (n, n_new, V)."""
    cache.add_sequence(0)
    logits = paged_forward(model, prompt[None], cache, [0])[:, -1]  # prefill once: (1, V)
    for child in range(1, n_samples):
        cache.fork(0, child)
    logits = logits.expand(n_samples, -1)  # (n, V): every sample starts from the same logits
    seq_ids = list(range(n_samples))
    new_tokens, step_logits = [], []
    for _ in range(n_new):
        step_logits.append(logits)
        token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
        new_tokens.append(token)  # (n, 1)
        logits = paged_forward(model, token, cache, seq_ids)[:, -1]  # stores the token's K, V
    tokens = torch.cat([prompt.expand(n_samples, -1), *new_tokens], dim=1)
    return tokens, torch.stack(step_logits, dim=1)


# %% [markdown]
# ### A serving simulator
#
# To measure waste, requests with random prompt and output lengths are served by a simple loop
# over steps. At each step the scheduler admits waiting requests first come, first served, and
# stops at the first one that does not fit (as vLLM's scheduler does); every running sequence
# then stores one more token; finished sequences release their memory. A request is admitted
# with its prompt already in the cache (the prefill) and finishes after $G$ steps, holding
# $P+G$ tokens. Memory is a budget of token slots, and three allocators share it:
#
# - **contiguous, reserved for $T_\max$**: each request takes one region of `MAX_LEN` slots
#   at admission;
# - **contiguous, exact length (an oracle)**: each request takes exactly $P+G$ slots, which a
#   real system cannot know in advance; regions are placed first-fit, so holes form between
#   them;
# - **paged**: $\lceil T/b\rceil$ blocks, one more whenever the last one is full. Admission needs
#   the blocks of the prompt and its next token, plus a 1 % watermark of free blocks (vLLM's
#   default). When the running sequences need more blocks than are free, the latest arrival is
#   preempted: its blocks are freed and it goes back to the front of the queue, to be
#   recomputed (prompt and tokens generated so far) when it is admitted again.
#
# At every step the budget splits into token states, slots reserved for future tokens, internal
# fragmentation (slots that will never hold a token), external fragmentation (free slots while
# the next request would fit in total but finds no hole) and the rest of the free slots.

# %%
MAX_LEN = 2048
MEMORY_PARTS = (
    "token states",
    "reserved for future tokens",
    "internal fragmentation",
    "external fragmentation",
    "free",
)


@dataclass
class ServingRun:
    """One simulated serving run. Memory (in token slots) and batch size are averaged over the
    saturated steps: those at which a request was still waiting, so memory was the limit."""

    policy: str
    steps: int  # steps until every request is served
    mean_batch: float
    max_batch: int
    memory: dict[str, float]
    preemptions: int = 0
    recomputed_tokens: int = 0

    @property
    def waste(self) -> float:
        """Share of the allocated slots that hold no token state (reserved + internal)."""
        allocated = sum(self.memory[part] for part in MEMORY_PARTS[:3])
        return 1.0 - self.memory["token states"] / allocated


class StepRecorder:
    """Adds up the memory split and the batch size of every step, and of the saturated ones."""

    def __init__(self) -> None:
        self.totals = {"all": np.zeros(len(MEMORY_PARTS)), "saturated": np.zeros(len(MEMORY_PARTS))}
        self.batches: dict[str, list[int]] = {"all": [], "saturated": []}

    def record(self, parts: list[float], batch: int, saturated: bool) -> None:
        for kind in ("all", "saturated") if saturated else ("all",):
            self.totals[kind] += parts
            self.batches[kind].append(batch)

    def summary(self, policy: str, preemptions: int = 0, recomputed: int = 0) -> ServingRun:
        """Averages over the saturated steps (over all steps if every request fitted at once)."""
        kind = "saturated" if self.batches["saturated"] else "all"
        batches = self.batches[kind]
        memory = dict(zip(MEMORY_PARTS, self.totals[kind] / len(batches), strict=True))
        steps = len(self.batches["all"])
        return ServingRun(
            policy, steps, float(np.mean(batches)), max(batches), memory, preemptions, recomputed
        )


def sample_requests(
    n: int, rng: np.random.Generator, prompt_median: float = 160.0, output_median: float = 200.0
) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output lengths, lognormal (σ = 0.9), with prompt + output ≤ MAX_LEN."""
    prompts = np.clip(rng.lognormal(np.log(prompt_median), 0.9, n).astype(int), 1, MAX_LEN // 2)
    outputs = np.clip(rng.lognormal(np.log(output_median), 0.9, n).astype(int), 1, None)
    return prompts, np.minimum(outputs, MAX_LEN - prompts)


class FirstFitAllocator:
    """Contiguous regions of a linear space of `capacity` slots, placed in the first hole that
    is large enough."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.regions: dict[int, tuple[int, int]] = {}  # owner -> (start, size)

    def allocate(self, owner: int, size: int) -> bool:
        cursor = 0  # end of the previous region
        for start, region_size in sorted(self.regions.values()):
            if start - cursor >= size:
                break
            cursor = start + region_size
        if cursor + size > self.capacity:
            return False  # no hole large enough (the total free space may still be)
        self.regions[owner] = (cursor, size)
        return True

    def free(self, owner: int) -> None:
        del self.regions[owner]


def simulate_contiguous(
    prompts: np.ndarray, outputs: np.ndarray, budget: int, reserve_max: bool
) -> ServingRun:
    """Serve the stream with one contiguous region per request: MAX_LEN slots, or P + G."""
    final = prompts + outputs
    size = np.full_like(final, MAX_LEN) if reserve_max else final
    allocator, recorder = FirstFitAllocator(budget), StepRecorder()
    queue, running = deque(range(len(final))), np.zeros(0, dtype=int)
    length = np.zeros_like(final)
    while queue or running.size:
        admitted = []
        while queue and allocator.allocate(queue[0], int(size[queue[0]])):
            admitted.append(queue.popleft())
        running = np.concatenate([running, np.array(admitted, dtype=int)])
        length[admitted] = prompts[admitted]  # prefill
        length[running] += 1  # one decode step
        free = budget - size[running].sum()
        stuck = bool(queue) and size[queue[0]] <= free  # fits in total, but in no hole
        parts = [
            length[running].sum(),  # token states
            (final[running] - length[running]).sum(),  # reserved for future tokens
            (size[running] - final[running]).sum(),  # internal fragmentation
            free if stuck else 0,  # external fragmentation
            0 if stuck else free,
        ]
        recorder.record(parts, running.size, saturated=bool(queue))
        done = length[running] >= final[running]
        for request in running[done]:
            allocator.free(int(request))
        running = running[~done]
    policy = f"contiguous, reserve {MAX_LEN}" if reserve_max else "contiguous, exact (oracle)"
    return recorder.summary(policy)


def simulate_paged(
    prompts: np.ndarray, outputs: np.ndarray, budget: int, block_size: int
) -> ServingRun:
    """Serve the stream with blocks of block_size slots, preempting by recomputation."""
    b = block_size
    final = prompts + outputs
    free_blocks = budget // b
    watermark = max(1, free_blocks // 100)
    recorder = StepRecorder()
    queue, running = deque(range(len(final))), []
    length, generated = np.zeros_like(final), np.zeros_like(final)
    preemptions = recomputed = 0
    while queue or running:
        while queue:  # admit first come, first served: prompt (+ tokens so far) and one more
            request = queue[0]
            context = prompts[request] + generated[request]
            if ceil_div(context + 1, b) + watermark > free_blocks and running:
                break
            queue.popleft()
            free_blocks -= ceil_div(context, b)
            length[request] = context  # prefill (again, after a preemption: recomputation)
            running.append(request)
        active = np.array(running)
        new_block = length[active] % b == 0  # the last block is full
        while new_block.sum() > free_blocks:  # out of blocks: preempt the latest arrival
            victim = max(running)
            running.remove(victim)
            free_blocks += ceil_div(length[victim], b)
            queue.appendleft(victim)
            preemptions, recomputed = preemptions + 1, recomputed + int(length[victim])
            active = np.array(running)
            new_block = length[active] % b == 0
        free_blocks -= int(new_block.sum())
        length[active] += 1  # one decode step
        generated[active] += 1
        held = b * ((length[active] + b - 1) // b)  # eq. (paged-blocks), in slots
        parts = [length[active].sum(), 0, (held - length[active]).sum(), 0, budget - held.sum()]
        recorder.record(parts, active.size, saturated=bool(queue))
        done = length[active] >= final[active]
        free_blocks += int(held[done].sum()) // b
        running = [int(r) for r in active[~done]]
    return recorder.summary(f"paged, b = {b}", preemptions, recomputed)


# %% [markdown]
# ## Verification
#
# ### The errata's numbers, and the allocator's bookkeeping
#
# A 1000-token sequence in a cache with $b=16$ (one layer, one tiny head: only the counts
# matter here), against {eq}`paged-blocks` and {eq}`paged-contiguous-waste`:

# %%
cache = PagedKVCache(1, 1, 1, block_size=16, num_blocks=100)
cache.add_sequence(0)
cache.append(0, torch.zeros(1, 1, 1000, 1), torch.zeros(1, 1, 1000, 1))
blocks_used = len(cache.block_tables[0])
check_equal("1000 tokens, b = 16: blocks in the table = ⌈1000/16⌉", blocks_used, 63)
check_equal("1000 tokens, b = 16: empty slots in the last block", blocks_used * 16 - 1000, 8)
check_equal("free list + used = pool", cache.allocator.num_free + blocks_used, 100)
check_equal("2048-slot contiguous buffer, 1000 tokens: empty slots", MAX_LEN - 1000, 1048)

# %% [markdown]
# Running out of blocks is an error that names the shortfall, and leaves the cache unchanged:

# %%
length_before, free_before = cache.lengths[0], cache.allocator.num_free
room = 16 * (blocks_used + free_before) - length_before  # slots left: last block's tail + free
try:
    cache.append_slots(0, room + 1)
    raised = ""
except OutOfBlocksError as error:
    raised = str(error)
print(f"OutOfBlocksError: {raised}")
check_true(
    "out of blocks: the error is raised, the length and free list are unchanged",
    bool(raised) and cache.lengths[0] == length_before and cache.allocator.num_free == free_before,
    f"length {cache.lengths[0]}, {cache.allocator.num_free} free",
)

# %% [markdown]
# ### Paged attention equals contiguous attention
#
# Five sequences of lengths 1 to 50 in a pool of 8-token blocks, grouped-query heads ($h=4$,
# $g=2$). The tokens are appended one at a time in random order across the sequences, and a
# sixth sequence is allocated and freed midway, so the physical blocks of each sequence are
# scattered through the pool. A plain list of tensors per sequence is the contiguous reference.
# Every slot that holds no live token is then set to NaN: if the gather or the mask were off by
# one slot, the output would show it.

# %%
H, G_KV, D_HEAD, BLOCK = 4, 2, 8, 8
LENGTHS = [1, 7, 16, 29, 50]
paged = PagedKVCache(1, G_KV, D_HEAD, BLOCK, num_blocks=24)
reference_k = {s: torch.zeros(G_KV, 0, D_HEAD) for s in range(len(LENGTHS))}
reference_v = {s: torch.zeros(G_KV, 0, D_HEAD) for s in range(len(LENGTHS))}
for s in range(len(LENGTHS)):
    paged.add_sequence(s)
paged.add_sequence(99)  # a sequence that will be freed, leaving holes
order = rng.permutation(np.repeat(np.arange(len(LENGTHS)), LENGTHS))
for step, s in enumerate(order.tolist()):
    if step == len(order) // 2:
        paged.free(99)
    elif step < len(order) // 2 and step % 10 == 0:
        paged.append(99, torch.randn(1, G_KV, 1, D_HEAD), torch.randn(1, G_KV, 1, D_HEAD))
    k_new, v_new = torch.randn(1, G_KV, 1, D_HEAD), torch.randn(1, G_KV, 1, D_HEAD)
    paged.append(s, k_new, v_new)
    reference_k[s] = torch.cat([reference_k[s], k_new[0]], dim=1)
    reference_v[s] = torch.cat([reference_v[s], v_new[0]], dim=1)
for s, table in paged.block_tables.items():
    print(f"sequence {s} ({paged.lengths[s]:2d} tokens): block table {table}")

# %%
live = torch.zeros(paged.allocator.num_blocks, BLOCK, dtype=torch.bool)  # (N, b)
for s, table in paged.block_tables.items():
    for t in range(paged.lengths[s]):
        live[table[t // BLOCK], t % BLOCK] = True
for pool in paged.key_pools + paged.value_pools:
    pool.masked_fill_(~live[:, None, :, None], float("nan"))  # poison every unused slot
print(f"{int((~live).sum())} of {live.numel()} slots poisoned with NaN")
for s in range(len(LENGTHS)):
    k_s, v_s = paged.gather(0, s)
    check_equal(
        f"gather through the table, sequence {s}: K, V = contiguous reference",
        torch.stack([k_s, v_s]),
        torch.stack([reference_k[s], reference_v[s]]),
        quiet=s < len(LENGTHS) - 1,
    )


# %% [markdown]
# The two references compute attention on each sequence's contiguous keys and values, one
# sequence at a time: PyTorch's `F.scaled_dot_product_attention` with the causal mask for the
# last $T$ positions, and the softmax formula written out.


# %%
def contiguous_attention_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q (h, T, d_h) for the last T positions; k, v (g, S, d_h) contiguous."""
    h, T, _ = q.shape
    S = k.shape[1]
    k, v = k.repeat_interleave(h // k.shape[0], 0), v.repeat_interleave(h // v.shape[0], 0)
    causal = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)  # (T, S)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal)  # (h, T, d_h)


def contiguous_attention_naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    h, T, d_h = q.shape
    S = k.shape[1]
    k, v = k.repeat_interleave(h // k.shape[0], 0), v.repeat_interleave(h // v.shape[0], 0)
    out = torch.zeros_like(q)
    for i in range(T):  # query i sits at position S - T + i and sees keys 0 .. S - T + i
        visible = S - T + i + 1
        scores = torch.einsum("hd,hsd->hs", q[:, i], k[:, :visible]) / math.sqrt(d_h)
        weights = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
        out[:, i] = torch.einsum(
            "hs,hsd->hd", weights / weights.sum(-1, keepdim=True), v[:, :visible]
        )
    return out


# %%
for T_new, seq_ids in [(1, list(range(len(LENGTHS)))), (4, [1, 2, 3, 4])]:
    tables, lengths = paged.block_table_tensor(seq_ids)
    q = torch.randn(len(seq_ids), H, T_new, D_HEAD)  # (B, h, T, d_h)
    ours = paged_attention(q, paged.key_pools[0], paged.value_pools[0], tables, lengths)
    sdpa = torch.stack(
        [
            contiguous_attention_sdpa(q[i], reference_k[s], reference_v[s])
            for i, s in enumerate(seq_ids)
        ]
    )
    naive = torch.stack(
        [
            contiguous_attention_naive(q[i], reference_k[s], reference_v[s])
            for i, s in enumerate(seq_ids)
        ]
    )
    label = f"T = {T_new} queries, lengths {lengths.tolist()}"
    check_close(f"paged vs contiguous SDPA, {label}", ours, sdpa, atol=1e-12)
    check_close(f"paged vs contiguous naive softmax, {label}", ours, naive, atol=1e-12)

# %% [markdown]
# ### Decoding the shared GPT from a paged cache
#
# The three small models of [chapter 04](04_kv_cache.ipynb) (one per family of switches), float64.
# Three prompts of 5, 11 and 17 tokens decode 12 greedy tokens together from one pool of 4-token
# blocks. For each sequence, the logits at every step must equal those of the shared model's full
# forward pass over that sequence alone, and the tokens those of `GPT.generate` on that prompt
# alone (with its own contiguous cache). The smallest gap between the two largest logits is
# printed, since identical tokens mean something only without near-ties.

# %%
CONFIGS = example_configs()  # the three small models, notebook_utils.gpt
models = {}
for name, cfg in CONFIGS.items():
    torch.manual_seed(0)
    models[name] = GPT(cfg).eval()

PROMPT_LENGTHS, N_NEW, GPT_BLOCK = (5, 11, 17), 12, 4
prompts = [torch.randint(0, 50, (p,)) for p in PROMPT_LENGTHS]
for name, model in models.items():
    cache = PagedKVCache.for_model(model, block_size=GPT_BLOCK, num_blocks=40)
    sequences, step_logits = paged_greedy_decode(model, prompts, N_NEW, cache)
    print(
        f"{name}: {cache.allocator.num_used} blocks used, "
        f"tables {list(cache.block_tables.values())}"
    )
    margins = []
    for s, (prompt, sequence) in enumerate(zip(prompts, sequences, strict=True)):
        with torch.no_grad():
            full_logits = model(sequence[None])[0][0]  # (P + n_new, V)
        P = len(prompt)
        reference = full_logits[P - 1 : -1]  # the logits that chose tokens P .. P + n_new - 1
        top2 = reference.topk(2, dim=-1).values
        margins.append((top2[:, 0] - top2[:, 1]).min().item())
        check_close(
            f"  prompt of {P}: paged logits at every step vs full forward",
            step_logits[s],
            reference,
            atol=1e-12,
        )
        check_equal(
            f"  prompt of {P}: tokens vs GPT.generate",
            sequence,
            model.generate(prompt[None], N_NEW)[0],
        )
    check_true(
        "  no near-tie among the greedy choices", min(margins) > 1e-8, f"gap {min(margins):.2e}"
    )
    check_equal(
        "  blocks used = Σ ⌈(P + n_new - 1)/b⌉",
        cache.allocator.num_used,
        sum(ceil_div(p + N_NEW - 1, GPT_BLOCK) for p in PROMPT_LENGTHS),
    )

# %% [markdown]
# ### Copy-on-write: a write after a fork never reaches the other sequence
#
# Sequence A holds 10 tokens in 4-token blocks (two full, one with 2 of 4 slots). B is forked
# from A, so all three blocks have count 2. Appending to B must copy the shared last block
# before writing; A's keys and values, and the physical contents of the blocks they still share,
# must not change by a single bit. Then the same from A's side.

# %%
N_LAYERS = 2
cow = PagedKVCache(N_LAYERS, 1, 3, block_size=4, num_blocks=12)
cow.add_sequence(0)
cow.append(0, torch.randn(N_LAYERS, 1, 10, 3), torch.randn(N_LAYERS, 1, 10, 3))
cow.fork(0, 1)
counts_after_fork = [cow.allocator.ref_counts[b] for b in cow.block_tables[0]]
check_equal("after the fork: counts of A's three blocks", counts_after_fork, [2, 2, 2])


def snapshot(cache: PagedKVCache, seq_id: int) -> torch.Tensor:
    """The sequence's K and V in every layer, (L, 2, g, T, d_h)."""
    layers = range(len(cache.key_pools))
    return torch.stack([torch.stack(cache.gather(layer, seq_id)) for layer in layers])


a_before = snapshot(cow, 0)
shared_contents = torch.stack([pool[cow.block_tables[0]] for pool in cow.key_pools])
new_k, new_v = torch.randn(N_LAYERS, 1, 5, 3), torch.randn(N_LAYERS, 1, 5, 3)
cow.append(1, new_k, new_v)  # B writes 5 tokens: copy-on-write of the last block, then 1 new block
check_equal("A's K, V after 5 writes to B: bit for bit", snapshot(cow, 0), a_before)
check_equal(
    "contents of A's physical blocks after the writes to B",
    torch.stack([pool[cow.block_tables[0]] for pool in cow.key_pools]),
    shared_contents,
)
b_expected = torch.cat([a_before, torch.stack([new_k, new_v], dim=1)], dim=3)
check_equal("B's K, V = A's 10 tokens + its own 5", snapshot(cow, 1), b_expected)
check_equal(
    "tables: full blocks shared, last block copied",
    [
        cow.block_tables[0][:2] == cow.block_tables[1][:2],
        cow.block_tables[0][2] != cow.block_tables[1][2],
    ],
    [True, True],
)
check_equal("copies made", cow.copies, 1)
b_before = snapshot(cow, 1)
cow.append(0, torch.randn(N_LAYERS, 1, 3, 3), torch.randn(N_LAYERS, 1, 3, 3))  # A writes in place
check_equal("B's K, V after 3 writes to A: bit for bit", snapshot(cow, 1), b_before)
check_equal("A's last block is now its own, so no second copy", cow.copies, 1)

# %% [markdown]
# ### Parallel sampling with the shared GPT
#
# Four samples of 9 tokens each from one 10-token prompt, at temperature 1, with 4-token blocks,
# on the LLaMA-style model. Each sample's logits must equal the full forward pass over that
# sample's own tokens (so the shared prompt blocks and the copies hold the right keys), and the
# blocks in use must equal {eq}`paged-shared`.

# %%
P_SAMPLE, N_SAMPLES, G_SAMPLE, B_SAMPLE = 10, 4, 9, 4
llama_style = models[list(CONFIGS)[1]]
sample_prompt = torch.randint(0, 50, (P_SAMPLE,))
sampling_cache = PagedKVCache.for_model(llama_style, block_size=B_SAMPLE, num_blocks=40)
samples, sample_logits = paged_parallel_sample(
    llama_style,
    sample_prompt,
    N_SAMPLES,
    G_SAMPLE,
    sampling_cache,
    torch.Generator().manual_seed(0),
)
with torch.no_grad():
    full = llama_style(samples)[0]  # (n, P + G, V)
check_close(
    f"{N_SAMPLES} samples: logits at every step vs full forward of each sample",
    sample_logits,
    full[:, P_SAMPLE - 1 : -1],
    atol=1e-12,
)
print("samples:", [s[P_SAMPLE:].tolist() for s in samples])
check_true(
    "the samples differ (so the writes really diverged)",
    len({tuple(s.tolist()) for s in samples}) == N_SAMPLES,
)


# %%
def shared_blocks(n: int, prompt_len: int, n_new: int, b: int) -> int:
    """eq. (paged-shared): blocks of n samples that share the prompt."""
    return prompt_len // b + n * ceil_div(prompt_len % b + n_new, b)


def separate_blocks(n: int, prompt_len: int, n_new: int, b: int) -> int:
    """eq. (paged-shared): blocks of n samples that each store the prompt."""
    return n * ceil_div(prompt_len + n_new, b)


# %%
check_equal(
    "blocks in use = ⌊P/b⌋ + n⌈(P mod b + G)/b⌉",
    sampling_cache.allocator.num_used,
    shared_blocks(N_SAMPLES, P_SAMPLE, G_SAMPLE, B_SAMPLE),
)
check_equal("copy-on-write copies = n - 1", sampling_cache.copies, N_SAMPLES - 1)

# %% [markdown]
# What the pool looks like now: each cell is a physical block, coloured by the sample that owns
# it, with its reference count. The two full prompt blocks are shared by all four samples
# (count 4). The prompt's partly filled last block (id 2) now belongs to the sample that wrote
# last, in place; the other three wrote into copies of it.

# %%
owner = np.full(sampling_cache.allocator.num_blocks, -1)
for s, table in sampling_cache.block_tables.items():
    for block in table:
        owner[block] = N_SAMPLES if sampling_cache.allocator.ref_counts[block] > 1 else s
colours = [PALETTE[i] for i in range(N_SAMPLES)] + ["0.35", "0.93"]
cell_colour = [colours[o] if o >= 0 else colours[-1] for o in owner]
fig, ax = plt.subplots(figsize=(10, 1.9))
for block, colour in enumerate(cell_colour):
    ax.add_patch(plt.Rectangle((block, 0), 0.92, 0.92, color=colour))
    count = sampling_cache.allocator.ref_counts[block]
    if count:
        ax.text(block + 0.46, 0.46, str(count), ha="center", va="center", fontsize=8, color="w")
ax.set(xlim=(0, len(owner)), ylim=(0, 1), yticks=[], xlabel="physical block id (number: count)")
ax.grid(False)
handles = [Patch(color=PALETTE[i], label=f"sample {i}") for i in range(N_SAMPLES)]
handles += [Patch(color="0.35", label="shared prompt"), Patch(color="0.93", label="free")]
ax.legend(handles=handles, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.6))
n_shared = sum(1 for b in range(len(owner)) if sampling_cache.allocator.ref_counts[b] > 1)
ax.set_title(
    f"{N_SAMPLES} samples in {sampling_cache.allocator.num_used} blocks: {n_shared} prompt blocks "
    f"stored once, vs {separate_blocks(N_SAMPLES, P_SAMPLE, G_SAMPLE, B_SAMPLE)} without sharing"
)
plt.show()

# %% [markdown]
# ## Experiments
#
# ### 1. Waste and batch size under a stream of requests
#
# 300 requests, prompt and output lengths lognormal (medians 160 and 200 tokens, $\sigma=0.9$,
# capped so that $P+G\le 2048$), all waiting at the start. The KV budget is
# $16\times2048=32{,}768$ token slots: exactly 16 maximum-length reservations. The same requests
# are served by the six allocators. Memory and batch size are averaged over the steps at which
# requests were still waiting: there memory is what limits the batch. (Once the queue is empty,
# the last long requests finish with a small batch whatever the allocator.)

# %%
N_REQUESTS, BUDGET = 300, 16 * MAX_LEN
prompt_lens, output_lens = sample_requests(N_REQUESTS, rng)
print(
    f"prompt: median {np.median(prompt_lens):.0f}, mean {prompt_lens.mean():.0f}; output: median "
    f"{np.median(output_lens):.0f}, mean {output_lens.mean():.0f}; final length max "
    f"{(prompt_lens + output_lens).max()}"
)
runs = [
    simulate_contiguous(prompt_lens, output_lens, BUDGET, reserve_max=True),
    simulate_contiguous(prompt_lens, output_lens, BUDGET, reserve_max=False),
    *[simulate_paged(prompt_lens, output_lens, BUDGET, b) for b in (1, 8, 16, 32)],
]
total_tokens = int((prompt_lens + output_lens).sum())
print(
    f"{'policy':>27} {'waste':>6} {'ext. frag.':>10} {'mean batch':>10} {'max':>4} "
    f"{'steps':>6} {'preemptions':>11} {'recomputed':>10}"
)
for run in runs:
    ext = run.memory["external fragmentation"] / BUDGET
    print(
        f"{run.policy:>27} {run.waste:6.1%} {ext:10.1%} {run.mean_batch:10.1f} {run.max_batch:4d} "
        f"{run.steps:6d} {run.preemptions:11d} {run.recomputed_tokens / total_tokens:10.1%}"
    )
print("waste: share of allocated slots holding no token; ext. frag.: share of the budget;")
print("recomputed: tokens prefilled again after preemption, share of all tokens of the stream")

# %% [markdown]
# Checks on the simulator: the five parts add up to the budget at every step (so their averages
# do too); max-length reservation never runs more than 16 requests; and the paged runs' tail
# waste per running sequence matches $(b-1)/2$ within 1 % (lengths grow by one each step, so
# $T\bmod b$ cycles through all values).

# %%
by_policy = {run.policy: run for run in runs}
check_close(
    "memory parts sum to the budget, every policy",
    [sum(run.memory.values()) for run in runs],
    [float(BUDGET)] * len(runs),
    atol=1e-6,
)
check_equal(
    f"reserve {MAX_LEN}: max batch = budget / {MAX_LEN}", runs[0].max_batch, BUDGET // MAX_LEN
)
for b in (1, 8, 16, 32):
    run = by_policy[f"paged, b = {b}"]
    per_sequence = run.memory["internal fragmentation"] / run.mean_batch
    check_close(
        f"b = {b:2d}: tail waste per sequence vs (b-1)/2",
        per_sequence,
        (b - 1) / 2,
        atol=1e-9,
        rtol=0.01,
    )

# %%
fig, (ax_memory, ax_batch) = plt.subplots(1, 2, figsize=(13, 4.6), width_ratios=[1.6, 1])
part_colours = [PALETTE[2], PALETTE[4], PALETTE[1], PALETTE[3], "0.85"]
labels = [run.policy for run in runs]
left = np.zeros(len(runs))
for part, colour in zip(MEMORY_PARTS, part_colours, strict=True):
    share = np.array([run.memory[part] / BUDGET for run in runs])
    ax_memory.barh(labels, 100 * share, left=100 * left, color=colour, label=part)
    left += share
ax_memory.invert_yaxis()
ax_memory.set(xlabel="share of the KV budget, mean over saturated steps (%)", xlim=(0, 100))
ax_memory.set_title("Where the KV memory goes")
ax_memory.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))
ax_batch.barh(labels, [run.mean_batch for run in runs], color=PALETTE[0])
for i, run in enumerate(runs):
    ax_batch.text(run.mean_batch, i, f" {run.mean_batch:.0f}", va="center", fontsize=9)
ax_batch.invert_yaxis()
ax_batch.set(xlabel="mean running batch while the queue waits (sequences)", yticklabels=[])
ax_batch.set_title("Sequences served at once")
paged16, reserve_max = by_policy["paged, b = 16"], runs[0]
fig.suptitle(
    f"Reserving {MAX_LEN} slots wastes {reserve_max.waste:.0%} of the allocated KV memory; "
    f"16-token blocks waste {paged16.waste:.1%} and run "
    f"{paged16.mean_batch / reserve_max.mean_batch:.1f}× the batch"
)
plt.show()

# %% [markdown]
# Reading the numbers printed above: reserving the maximum length leaves most of every region
# empty, and the batch is capped at 16. The oracle, which knows each final length, still holds
# slots for tokens not yet generated (about half of each output, on average, over a sequence's
# life) and leaves holes between regions of different sizes, the external fragmentation of the
# first-fit allocator. Paging's only waste is the tail of the last block, which grows with $b$
# as $(b-1)/2$ per sequence; with $b=16$ it stays a few percent, the order of magnitude of the
# vLLM authors' "under 4 %" (their number comes from real traces and a real system; ours from
# this synthetic stream). The freed memory becomes batch size: more sequences decode per step,
# so the same requests finish in fewer steps. The paged runs pay for it with preemptions:
# admission only reserves the prompt, so when the running sequences grow and the blocks run out,
# the latest arrivals are evicted and their tokens prefilled again later (the recomputed
# column; the step counts above do not charge for these extra prefills). Block size barely
# changes the batch here: even $b=32$ wastes a small share of the memory.
#
# ### 2. Memory saved by sharing the prompt
#
# Parallel sampling of $n$ continuations of 200 tokens from a 500-token prompt with $b=16$.
# Both ways run through `PagedKVCache`'s bookkeeping (`append_slots`, `fork`; no keys or values
# are written, only blocks counted): prefill once and fork, or prefill every sample separately.
# Tokens are appended one step at a time, round-robin over the samples, as a decoder does.


# %%
def measure_blocks(n: int, prompt_len: int, n_new: int, b: int, share: bool) -> tuple[int, int]:
    """Blocks in use and copies made after n samples of n_new tokens from one prompt."""
    cache = PagedKVCache(1, 1, 1, b, num_blocks=n * ceil_div(prompt_len + n_new, b))
    for s in range(n):
        if share and s > 0:
            cache.fork(0, s)
        else:
            cache.add_sequence(s)
            cache.append_slots(s, prompt_len)  # prefill (the bookkeeping only: no K, V written)
    for _ in range(n_new):
        for s in range(n):
            cache.append_slots(s, 1)
    return cache.allocator.num_used, cache.copies


# %%
P_SHARE, G_SHARE, B_SHARE = 500, 200, 16
SAMPLE_COUNTS = [1, 2, 4, 8, 16]
measured = {
    share: [measure_blocks(n, P_SHARE, G_SHARE, B_SHARE, share) for n in SAMPLE_COUNTS]
    for share in (True, False)
}
check_equal(
    "shared: blocks in use = eq. (paged-shared), n = 1..16",
    [used for used, _ in measured[True]],
    [shared_blocks(n, P_SHARE, G_SHARE, B_SHARE) for n in SAMPLE_COUNTS],
)
check_equal(
    "separate: blocks in use = n⌈(P+G)/b⌉",
    [used for used, _ in measured[False]],
    [separate_blocks(n, P_SHARE, G_SHARE, B_SHARE) for n in SAMPLE_COUNTS],
)
check_equal(
    "saving = (n-1)⌊P/b⌋ blocks",
    [sep - sh for (sh, _), (sep, _) in zip(measured[True], measured[False], strict=True)],
    [(n - 1) * (P_SHARE // B_SHARE) for n in SAMPLE_COUNTS],
)
check_equal(
    "copy-on-write copies = n - 1 (P mod b ≠ 0)",
    [copies for _, copies in measured[True]],
    [n - 1 for n in SAMPLE_COUNTS],
)

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
n_grid = np.arange(1, 17)
ax.plot(
    n_grid,
    [separate_blocks(n, P_SHARE, G_SHARE, B_SHARE) for n in n_grid],
    color=PALETTE[1],
    label="separate prompts, $n\\lceil (P+G)/b\\rceil$",
)
ax.plot(
    n_grid,
    [shared_blocks(n, P_SHARE, G_SHARE, B_SHARE) for n in n_grid],
    color=PALETTE[0],
    label="shared prompt, eq. (paged-shared)",
)
for share, colour in ((False, PALETTE[1]), (True, PALETTE[0])):
    ax.plot(SAMPLE_COUNTS, [used for used, _ in measured[share]], "o", color=colour, ms=6)
ax.plot([], [], "o", color="0.3", label="measured with PagedKVCache")
ax.set(xlabel="samples n", ylabel=f"blocks of {B_SHARE} tokens in use")
ratio = measured[False][-1][0] / measured[True][-1][0]
ax.set_title(f"16 samples of a {P_SHARE}-token prompt: sharing uses {ratio:.1f}× fewer blocks")
ax.legend()
plt.show()

# %% [markdown]
# The saving is the prompt's full blocks times $n-1$, so it matters when the prompt is long
# compared with the outputs (a long system prompt or document, many samples), and it is larger
# still for beam search, where beams also share the tokens they generated before they split.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "PagedAttention is a new kind of attention." Is it?
# No. It is a memory layout and a kernel that reads it. The attention formula is untouched:
# the Verification section gets the same outputs as contiguous attention to `1e-12`, and the
# same logits and tokens as the shared GPT with its contiguous cache. What PagedAttention
# changes is how many sequences fit in memory, and so the batch size and the throughput.
# :::
#
# :::{dropdown} How do you choose the block size?
# Smaller blocks waste less, $(b-1)/2$ slots per sequence (Experiment 1 prints it per $b$), and
# share at a finer grain (prefix caching reuses only full blocks). Larger blocks make the
# kernel's memory reads longer and more regular, and shrink the block tables and the
# bookkeeping (one allocation per $b$ tokens). With $b=1$ the waste is zero but every token is a
# separate lookup. In the paper's ablation, blocks that were too small left the GPU's
# parallelism unused when reading the cache, and blocks that were too large wasted memory and
# shared less, more so on a trace of short sequences; vLLM's default is 16
# {cite}`kwon2023efficient`.
# :::
#
# :::{dropdown} What does the gather cost?
# A real kernel does not build a contiguous copy, as `paged_attention` does here; it walks each
# sequence's block table and loads every block from where it lies. The indirection and the
# variable lengths still cost: the paper measures its attention kernel 20–26 % slower than
# FasterTransformer's kernel over contiguous memory {cite}`kwon2023efficient`, a loss that the
# larger batch repays end to end. Materialising the gather is much worse: the copy reads and
# writes the whole cache, more memory traffic than the decode attention that then reads it once.
# The cell times both on the CPU for 4 sequences of 512 tokens, 8 heads of 64, float32, 16-token
# blocks in scattered order (medians of 7 runs; a sketch of the cost, not a kernel benchmark).
# :::


# %%
batch, length, heads, d_h, block = 4, 512, 8, 64, 16
n_per_seq = length // block
key_pool = torch.randn(batch * n_per_seq, heads, block, d_h, dtype=torch.float32)
value_pool = torch.randn_like(key_pool)
scattered = torch.from_numpy(rng.permutation(batch * n_per_seq).reshape(batch, n_per_seq))
query = torch.randn(batch, heads, 1, d_h, dtype=torch.float32)  # one decode query per sequence
keys, values = gather_blocks(key_pool, scattered), gather_blocks(value_pool, scattered)
attention_s = time_call(lambda: F.scaled_dot_product_attention(query, keys, values)).median
gather_s = time_call(
    lambda: (gather_blocks(key_pool, scattered), gather_blocks(value_pool, scattered))
).median
print(
    f"SDPA on a contiguous cache {attention_s * 1e3:.2f} ms; gathering K and V into one "
    f"{gather_s * 1e3:.2f} ms ({gather_s / attention_s:.0f}× the attention), medians of 7"
)

# %% [markdown]
# :::{dropdown} What happens when the blocks run out?
# The scheduler preempts whole sequences (all samples of a request together, since they share
# blocks), latest arrivals first. vLLM can *swap* their blocks to CPU memory and back, or drop
# them and *recompute*: when the request is resumed, its prompt and the tokens it has generated
# are prefilled again as one longer prompt, which is fast because prefill is compute-bound
# ([chapter 04](04_kv_cache.ipynb)). The simulation above used recomputation and printed how
# many preemptions it took. Admission control trades these off: admitting only on the prompt's
# blocks fills memory well but risks preemptions; a watermark of free blocks reduces them.
# :::
#
# :::{dropdown} Can requests share a prefix, not just the samples of one request?
# Yes, with prefix caching. A full block is identified by a hash of its tokens and of the
# tokens before it (the hash of the previous block), so two requests that start with the same
# system prompt map the same logical blocks to the same hash, and the second one reuses the
# physical blocks instead of prefilling them. Finished requests' blocks stay cached with count
# 0 and are evicted least recently used first. vLLM's automatic prefix caching works this way
# {cite}`vllm2024prefix`; SGLang's RadixAttention keeps a radix tree over token sequences to
# the same end, at token rather than block granularity {cite}`zheng2024sglang`. Only full blocks
# are shared: a 1000-token common prefix with $b=16$ reuses 992 tokens (Check yourself).
# :::
#
# :::{dropdown} Where does the scheduler fit in?
# Paging is what makes *continuous batching* cheap {cite}`yu2022orca`: sequences join and leave
# the running batch at every step, and a joining sequence needs only the blocks of its prompt,
# not a region sized for its worst case. vLLM's scheduler admits waiting requests first come,
# first served while blocks remain, and preempts the latest when the running ones need more
# (the simulator above follows this policy).
# :::
#
# :::{dropdown} Why not allocate the exact final length?
# Nobody knows it: generation stops at an end-of-sequence token or a limit. Even the oracle of
# Experiment 1, which knows every final length, reserves slots for tokens that will only be
# written later and fragments the free space into holes between regions of different sizes.
# :::
#
# :::{dropdown} Does copy-on-write copy the whole prompt?
# No, at most one block per sample: the full blocks are never written again, so they stay
# shared for good. Only the partly filled last block is copied, once per writer except the
# last, and not at all when $P$ is a multiple of $b$.
# :::
#
# :::{dropdown} One block table per layer?
# One per sequence. Every layer has its own pools (or one pool with a layer axis), and the
# physical block id indexes all of them: the $\ell$-th layer's keys of logical block $j$ are at
# $\mathcal K^{(\ell)}[\mathcal B_s[j]]$. Allocation, sharing and copy-on-write are decided once
# per token for all layers, as `append_slots` does.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Llama-2-7B stores 0.5 MiB of fp16 keys and values per token
#    ([chapter 04](04_kv_cache.ipynb)). Eight samples of 100 tokens are drawn from one
#    1000-token prompt, with $b=16$. How many blocks, and how many MiB, with and without
#    sharing the prompt? How many copy-on-write copies are made?
#
#    :::{dropdown} Answer
#    Without sharing: $8\lceil1100/16\rceil=8\cdot69=552$ blocks. With sharing, by
#    {eq}`paged-shared`: $\lfloor1000/16\rfloor+8\lceil(8+100)/16\rceil=62+8\cdot7=118$ blocks,
#    a saving of $7\cdot62=434$. A block is $16\times0.5=8$ MiB, so 4416 MiB against 944 MiB.
#    $1000\bmod16=8\ne0$, so the shared last block is copied by 7 of the 8 samples. The cell
#    runs it through `PagedKVCache`.
#    :::

# %%
used_shared, copies_shared = measure_blocks(8, 1000, 100, 16, share=True)
used_separate, _ = measure_blocks(8, 1000, 100, 16, share=False)
check_equal("exercise 1: blocks with / without sharing", [used_shared, used_separate], [118, 552])
check_equal(
    "exercise 1: MiB with / without sharing",
    [used_shared * 16 * 0.5, used_separate * 16 * 0.5],
    [944.0, 4416.0],
)
check_equal("exercise 1: copy-on-write copies", copies_shared, 7)

# %% [markdown]
# 2. With $b=16$, what is the expected tail waste of 256 running Llama-2-7B sequences, in MiB?
#    Compare with reserving 2048 slots for sequences that end, on average, at 500 tokens.
#
#    :::{dropdown} Answer
#    $(b-1)/2=7.5$ slots per sequence, so $256\cdot7.5\cdot0.5=960$ MiB. The contiguous
#    reservations leave $2048-500=1548$ slots per sequence once finished, $256\cdot1548\cdot0.5
#    =198{,}144$ MiB, about 194 GiB, far more than an 80 GB accelerator holds: that batch would
#    not even fit. The cell checks the tail waste by averaging over lengths
#    1..16,000.
#    :::

# %%
lengths_grid = np.arange(1, 16_001)
mean_tail = np.mean(16 * ((lengths_grid + 15) // 16) - lengths_grid)
check_close(
    "exercise 2: mean tail waste over lengths 1..16000 = (b-1)/2", mean_tail, 7.5, atol=1e-12
)
check_close("exercise 2: MiB for 256 sequences", 256 * mean_tail * 0.5, 960.0, atol=1e-9)
check_equal("exercise 2: contiguous leftover, MiB", 256 * (2048 - 500) * 0.5, 198_144.0)

# %% [markdown]
# 3. Every request starts with the same 1000-token system prompt and then differs. With
#    $b=16$ and prefix caching by block hashes, how many of its tokens can a new request reuse,
#    and why not all 1000?
#
#    :::{dropdown} Answer
#    $\lfloor1000/16\rfloor=62$ full blocks, 992 tokens. The 63rd block holds the last 8 tokens
#    of the system prompt *and* the first 8 tokens of the request's own text, so its hash
#    differs from one request to the next; those 8 tokens are prefilled again. The cell
#    hashes the blocks of two such requests the way prefix caching does (each block's hash
#    covers its tokens and the previous block's hash) and counts the common ones.
#    :::


# %%
def block_hashes(tokens: list[int], b: int) -> list[int]:
    """Hash of each full block, chained: (hash of the previous block, tokens of this block)."""
    hashes, previous = [], 0
    for start in range(0, len(tokens) - b + 1, b):
        previous = hash((previous, tuple(tokens[start : start + b])))
        hashes.append(previous)
    return hashes


system_prompt = rng.integers(0, 32000, 1000).tolist()
request_a = system_prompt + rng.integers(0, 32000, 50).tolist()
request_b = system_prompt + rng.integers(0, 32000, 70).tolist()
common = 0
for hash_a, hash_b in zip(block_hashes(request_a, 16), block_hashes(request_b, 16), strict=False):
    if hash_a != hash_b:
        break
    common += 1
check_equal("exercise 3: reusable tokens of the system prompt", common * 16, 992)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`kwon2023efficient`: section 3 (the three kinds of waste of contiguous allocation),
#   section 4 (PagedAttention, block tables, the block manager, copy-on-write for parallel
#   sampling and beam search, preemption by swapping or recomputation, first-come-first-served
#   scheduling), section 7 (the block-size ablation and the 20–26 % kernel overhead), and the
#   2–4× throughput reported in the abstract.
# - {cite:t}`kwon2023vllm`: the "under 4 %" versus "60–80 %" memory waste, quoted as the
#   authors' claim.
# - {cite:t}`denning1970virtual`: virtual memory, paging and page tables, the analogy.
# - {cite:t}`yu2022orca`: iteration-level (continuous) batching, which the scheduler builds on.
# - {cite:t}`zheng2024sglang`: RadixAttention, prefix sharing across requests with a radix tree
#   and LRU eviction.
# - {cite:t}`vllm2024prefix`: automatic prefix caching by chained hashes of full blocks.

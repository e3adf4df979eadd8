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
# # 04. The KV cache
#
# **The question.** What is the KV cache? Why is it allowed, what does it save, and what does it
# cost?
#
# **What you will be able to answer.** Why caching keys and values is exact for a causal decoder
# and wrong for a bidirectional encoder; what prefill and decode do; the cost of one generated
# token with and without the cache; the memory formula, and the numbers for Llama-2, Mistral,
# Llama-3 and GPT-3; and why decoding is limited by memory bandwidth, not by FLOPs.

# %%
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.gpt import (
    GPT,
    CausalSelfAttention,
    GPTConfig,
    apply_rope,
    example_configs,
    rope_cos_sin,
)
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
# - **What it is.** A decoder generates one token at a time. To produce token $t+1$, the newest
#   token's query must attend, in every layer, to the keys and values of all $t$ tokens so far.
#   The KV cache keeps those keys and values, per layer and per head, so that each step computes
#   $q,k,v$ for the **one new token** only, appends its $k,v$, and attends over the cache.
# - **Why it is exact.** Attention is causal: token $i$ only sees tokens $\le i$, so its hidden
#   state, and therefore its key and value, in every layer, is fixed once token $i$ has been
#   processed. Later tokens cannot change it. In a bidirectional encoder they do, and a cache
#   would be wrong. With a cache the logits are those of a full forward pass, up to rounding.
# - **Prefill and decode.** The prompt is cached too. Its tokens go through the model in one
#   parallel pass (*prefill*), which fills the cache; then *decode* runs one token per step.
# - **What it saves.** Without the cache, step $t$ re-runs the whole prefix: per layer
#   $O(t\,d^2)$ for the projections and MLP plus $O(t^2d)$ for attention. With it, one token:
#   $O(d^2+t\,d)$. Generating $n$ tokens drops from $O(n^2d^2+n^3d)$ to $O(nd^2+n^2d)$.
# - **What it costs.** Memory, linear in length and batch:
#   $\text{bytes}=2\cdot n_\text{layers}\cdot n_\text{kv heads}\cdot d_\text{head}\cdot T\cdot
#   B\cdot\text{bytes/elem}$. Llama-2-7B in fp16: 0.5 MiB per token, 2 GiB for 4096 tokens.
#   Each step then reads all the weights and the whole cache to do about 2 FLOPs per weight,
#   about 1 FLOP per byte at batch 1, so decoding is **memory-bandwidth-bound**. Multi-query
#   and grouped-query attention shrink the cache ([chapter 05](05_multi_query_attention.ipynb));
#   paged attention manages it ([chapter 06](06_paged_attention.ipynb)).
#
# The notes leave out the prompt (its tokens are cached too, in the prefill), the reason the
# cache is valid (causality), the memory formula, and the fact that decoding becomes
# memory-bound. They also say the cache "accelerates the attention computation". What it
# removes is the recomputation of the whole prefix, projections and MLPs included; the
# attention of the new token over the cache still costs $O(t\,d)$ per layer and grows with $t$.
# (And a typo: "need to be store" should read "need to be stored".)

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x_1,\dots,x_t$ | the tokens so far (prompt, then generated ones) | `tokens`, (B, t) |
# | $z^{(\ell)}_i\in\mathbb R^{d}$ | token $i$'s state after layer $\ell$ | `x`, (B, T, d) |
# | $L$, $d$, $V$ | layers, model width, vocabulary size | `n_layer`, `d_model`, `vocab_size` |
# | $h$, $g$, $d_h$ | query heads, KV heads, head width $d/h$ | `n_head`, `kv_heads`, `head_dim` |
# | $d_\text{ff}$, $m$ | MLP width, number of MLP matrices (2 GELU, 3 SwiGLU) | `ff_dim` |
# | $T$, $S$ | positions processed in one forward pass, keys they attend to | `T`, `S` |
# | $B$ | batch size (sequences decoded together) | `batch` |
# | $\beta$ | bytes per stored number (2 for fp16/bf16) | `bytes_per_elem` |
#
# A pre-norm decoder layer (GPT-2, LLaMA) maps each token's hidden state through
# $q_i=W_Q\,\mathrm{n}(z^{(\ell-1)}_i)$, $k_i=W_K\,\mathrm{n}(z^{(\ell-1)}_i)$,
# $v_i=W_V\,\mathrm{n}(z^{(\ell-1)}_i)$ per head, then attention, a residual, an MLP and
# another residual ([chapter 01](01_self_attention.ipynb) derives attention; $\mathrm n$ is the
# norm). With RoPE, $q_i$ and $k_i$ are also rotated by an angle that depends on $i$ alone.
#
# ### Why the keys and values of earlier tokens never change
#
# With the causal mask, token $i$ attends to keys $j\le i$ only. Its output in layer $\ell$ is
#
# $$
# o^{(\ell)}_i=\sum_{j\le i}\operatorname{softmax}_j\!\Big(\frac{q_i^\top k_j}{\sqrt{d_h}}\Big)
# \,v_j,\qquad z^{(\ell)}_i=F_\ell\big(z^{(\ell-1)}_i,\ o^{(\ell)}_i\big)
# $$ (kv-attn)
#
# where $F_\ell$ is the rest of the layer (residuals, norm, MLP), which acts on each token
# separately. Claim: $z^{(\ell)}_i$ depends only on $x_1,\dots,x_i$, for every layer. For
# $\ell=0$ it is the embedding of $x_i$ at position $i$. If it holds for layer $\ell-1$, then
# $q_i,k_j,v_j$ for $j\le i$ depend only on $x_1,\dots,x_i$, and so do $o^{(\ell)}_i$ and
# $z^{(\ell)}_i$ by {eq}`kv-attn`. By induction, for every layer,
#
# $$
# k^{(\ell)}_i,\ v^{(\ell)}_i\ \text{ are functions of } x_1,\dots,x_i \text{ only.}
# $$ (kv-causal)
#
# Appending $x_{t+1}$ therefore leaves every $k^{(\ell)}_i,v^{(\ell)}_i$ with $i\le t$ as it
# was: they can be computed once and stored. In a bidirectional encoder the sum in
# {eq}`kv-attn` runs over all $j$, so $z^{(1)}_i$ depends on $x_{t+1}$, and every key and value
# from layer 2 on changes when a token arrives. Layer 1's keys and values survive (they come from
# the embeddings), but nothing above does.
#
# **What is stored, and why not $Q$.** The new token's output {eq}`kv-attn` needs its own query
# $q_{t+1}$ and everyone's keys and values. The old queries $q_1..q_t$ were needed only for
# the old outputs, which are already computed. The old hidden states are not needed either:
# later tokens read earlier tokens *only* through $k$ and $v$. So storing $k,v$ per layer lets
# the model skip the prefix entirely, its MLPs included.
#
# **Prefill and decode.** The $P$ prompt tokens are all known, so one forward pass with
# $T=S=P$ computes every prompt position in parallel (a causal mask inside), fills the cache
# with $P$ keys and values per layer, and gives the logits of the first new token. Each decode
# step then runs a forward pass with $T=1$ new token and $S=$ everything so far.
#
# ### Cost of one forward pass
#
# Count a multiply-add as 2 FLOPs and count only matrix products (norms, softmax and rotations
# are $O(Td)$). One forward pass over $T$ new positions that attend to $S$ keys costs
#
# $$
# F(T,S)=L\Big[\underbrace{2Td(h+2g)d_h}_{q,k,v}+\underbrace{2Td^2}_{W_O}
# +\underbrace{2m\,T d\,d_\text{ff}}_{\text{MLP}}+\underbrace{4hTSd_h}_{QK^\top,\ AV}\Big]
# +\underbrace{2TdV}_{\text{head}}
# $$ (kv-flops)
#
# (times $B$ for a batch). To produce token $t+1$ from $t$ tokens, decoding **without** a cache
# re-runs everything, $T=S=t$; **with** the cache it runs one position, $T=1$, $S=t$. For the
# GPT-2 shape ($g=h$, $hd_h=d$, $d_\text{ff}=4d$, $m=2$) the per-layer terms are
#
# $$
# F_\text{no cache}(t)=L\,(24\,t\,d^2+4\,t^2d)+2tdV,\qquad
# F_\text{cache}(t)=L\,(24\,d^2+4\,t\,d)+2dV
# $$ (kv-flops-step)
#
# The cache divides the weight term by $t$ and the attention term by $t$. Summed over $n$
# generated tokens (prompt ignored), the total falls from $O(n^2d^2+n^3d)$ to
# $O(nd^2+n^2d)$. The attention term of the cached step still grows with $t$; it equals the
# weight term at $t=6d$.
#
# ### Memory
#
# Every layer stores one key and one value vector of width $d_h$ per key/value head, per
# position, per sequence:
#
# $$
# \text{KV bytes}=2\times L\times g\times d_h\times T\times B\times\beta
# $$ (kv-bytes)
#
# The factor 2 is $K$ and $V$. Only $g$, the number of *key/value* heads, enters: with
# grouped-query attention ($g<h$) the cache is $h/g$ times smaller than with multi-head
# attention. For Llama-2-7B ($L=32$, $g=32$, $d_h=128$, $\beta=2$) one token costs
# $2\cdot32\cdot32\cdot128\cdot2=524{,}288$ B $=0.5$ MiB, and a 4096-token sequence 2 GiB.
#
# ### Decoding is memory-bandwidth-bound
#
# A decode step at batch $B$ reads every weight once (the batch shares them) and each
# sequence's cache once. With $W=L\big(d(h+2g)d_h+d^2+m\,d\,d_\text{ff}\big)+dV$ the weights
# used in matrix products, FLOPs and bytes per step are
#
# $$
# \text{FLOPs}=B\,\big(2W+4LhSd_h\big),\qquad
# \text{bytes}=\beta\,W+B\cdot 2LgSd_h\beta,\qquad
# I=\frac{\text{FLOPs}}{\text{bytes}}
# $$ (kv-intensity)
#
# At batch 1 and short context, $I\approx 2W/(\beta W)=2/\beta=1$ FLOP/byte in fp16. A
# modern accelerator does about a hundred times more FLOPs per byte it can read, so the step
# waits on memory: its time is about bytes / bandwidth. Batching multiplies the FLOPs on the
# weights, but each sequence brings its own cache, whose intensity stays at $h/g$ (1 for MHA):
# at long context, the cache traffic caps $I$ whatever the batch. Prefill is different: $T$
# positions share each weight read, $I\approx T$, and it is compute-bound.

# %% [markdown]
# ## Implementation from scratch
#
# The shared model `notebook_utils.gpt.GPT` keeps its cache as a tuple of per-layer $(k,v)$
# tensors that grow by `torch.cat` at every step. Here the cache is written from scratch:
# buffers preallocated for `max_len` positions, one per layer, of shape $(B,g,T_\max,d_h)$,
# and a length pointer. A layer *appends* its new keys and values at the pointer and attends
# over everything before it; the pointer moves once all layers have appended.


# %%
class KVCache:
    """Preallocated per-layer key/value buffers with a shared length pointer.

    Layer `l` stores its keys in `keys[l]` of shape (B, g, max_len, d_h); positions
    0 .. length-1 are filled. Keys are stored after any rotary embedding.
    """

    def __init__(
        self,
        n_layers: int,
        batch: int,
        n_kv_heads: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (batch, n_kv_heads, max_len, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]  # (B, g, T_max, d_h)
        self.values = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.max_len = max_len
        self.length = 0  # positions already in the cache, in every layer

    @classmethod
    def for_model(cls, model: GPT, batch: int, max_len: int) -> "KVCache":
        cfg = model.cfg
        dtype = model.tok_emb.weight.dtype
        return cls(cfg.n_layer, batch, cfg.kv_heads, max_len, cfg.head_dim, dtype)

    def append(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v (B, g, T, d_h) at positions length .. length+T-1 of `layer` and return
        the layer's keys and values so far, views of shape (B, g, length+T, d_h)."""
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"cache holds {self.max_len} positions, {end} needed")
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, n_new: int) -> None:
        """Move the pointer after every layer has appended its `n_new` positions."""
        self.length += n_new

    def crop(self, length: int) -> None:
        """Forget every position from `length` on (the buffers are reused, not freed)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot crop a cache of length {self.length} to {length}")
        self.length = length

    @property
    def nbytes(self) -> int:
        """Bytes of the buffers, eq. (kv-bytes) with T = max_len."""
        return sum(t.nbytes for t in self.keys + self.values)


# %% [markdown]
# Attention for $T$ new positions, {eq}`kv-attn`, with the shared model's weights: `qkv` is one
# `nn.Linear` whose output is $[q\ (h\,d_h),\ k\ (g\,d_h),\ v\ (g\,d_h)]$ and `proj` is $W_O$
# (the layout of `CausalSelfAttention` in `gpt.py`). The new keys are rotated (RoPE) *before*
# they are appended: the rotation depends on the key's own position only, so a cached key never
# needs rotating again. New query $i$ sits at absolute position `start + i` and may see keys up
# to there. `causal=False` drops the mask, which turns the layer into an encoder layer; it is
# only used to show that the cache is then wrong.


# %%
def cached_attention(
    attn: CausalSelfAttention,
    x: torch.Tensor,
    layer: int,
    cache: KVCache,
    rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    causal: bool = True,
) -> torch.Tensor:
    """Attend from the T new positions of x (B, T, d) to the cached and new keys; eq. (kv-attn)."""
    cfg = attn.cfg
    B, T, _ = x.shape
    h, g, d_h = cfg.n_head, cfg.kv_heads, cfg.head_dim
    q, k, v = attn.qkv(x).split([h * d_h, g * d_h, g * d_h], dim=-1)
    q = q.view(B, T, h, d_h).transpose(1, 2)  # (B, h, T, d_h)
    k = k.view(B, T, g, d_h).transpose(1, 2)  # (B, g, T, d_h)
    v = v.view(B, T, g, d_h).transpose(1, 2)  # (B, g, T, d_h)
    if rope is not None:  # rotate before caching: keys are stored rotated
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    start = cache.length
    keys, values = cache.append(layer, k, v)  # (B, g, S, d_h) each, S = start + T
    if g != h:  # each group of h/g query heads reads one key/value head
        keys = keys.repeat_interleave(h // g, dim=1)  # (B, h, S, d_h)
        values = values.repeat_interleave(h // g, dim=1)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(d_h)  # (B, h, T, S)
    if causal:
        query_pos = start + torch.arange(T)[:, None]  # (T, 1): absolute positions
        key_pos = torch.arange(keys.shape[2])[None, :]  # (1, S)
        scores = scores.masked_fill(key_pos > query_pos, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, h, T, S)
    out = (weights @ values).transpose(1, 2).reshape(B, T, h * d_h)  # (B, T, h·d_h)
    return attn.proj(out)  # (B, T, d)


# %% [markdown]
# The whole model, using the shared GPT's embeddings, norms and MLPs and the attention above.
# Positions continue from the cache's pointer: forgetting this offset is the classic bug (see
# Pitfalls). `positions` can be passed explicitly, which a batch with left padding needs.


# %%
def forward_with_cache(
    model: GPT,
    idx: torch.Tensor,
    cache: KVCache,
    causal: bool = True,
    positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits (B, T, V) for the T new tokens idx (B, T) that continue the cached sequence."""
    cfg = model.cfg
    T = idx.shape[1]
    if positions is None:
        positions = torch.arange(cache.length, cache.length + T)  # (T,): continue the sequence
    x = model.tok_emb(idx)  # (B, T, d)
    if cfg.position == "learned":
        x = x + model.pos_emb(positions)
    elif cfg.position == "sinusoidal":
        x = x + model.get_buffer("pos_table")[positions]
    rope = rope_cos_sin(positions, cfg.head_dim, cfg.rope_base) if cfg.position == "rope" else None
    for layer, block in enumerate(model.blocks):
        if block.pre_norm:  # x + f(norm(x))
            x = x + cached_attention(block.attn, block.norm1(x), layer, cache, rope, causal)
            x = x + block.mlp(block.norm2(x))
        else:  # norm(x + f(x))
            x = block.norm1(x + cached_attention(block.attn, x, layer, cache, rope, causal))
            x = block.norm2(x + block.mlp(x))
    cache.advance(T)  # every layer has appended its T positions
    if model.final_norm is not None:
        x = model.final_norm(x)
    return model.head(x)  # (B, T, V)


# %% [markdown]
# Greedy decoding: prefill the prompt in one pass, then feed one token per step. It returns the
# tokens and the logits from which each new token was chosen.


# %%
@torch.no_grad()
def greedy_decode(
    model: GPT, prompt: torch.Tensor, n_new: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (B, P + n_new) and step logits (B, n_new, V), decoding with a KVCache."""
    cache = KVCache.for_model(model, batch=prompt.shape[0], max_len=prompt.shape[1] + n_new)
    logits = forward_with_cache(model, prompt, cache)[:, -1]  # prefill: (B, V)
    tokens, step_logits = [prompt], []
    for step in range(n_new):
        if step > 0:  # decode: one new position, attending to the cache
            logits = forward_with_cache(model, tokens[-1], cache)[:, -1]  # (B, V)
        step_logits.append(logits)
        tokens.append(logits.argmax(dim=-1, keepdim=True))  # (B, 1)
    return torch.cat(tokens, dim=1), torch.stack(step_logits, dim=1)


# %% [markdown]
# The reference decodes with no cache at all: each step runs the shared model on the whole
# sequence so far, and reads the logits of the last position.


# %%
@torch.no_grad()
def greedy_decode_without_cache(
    model: GPT, prompt: torch.Tensor, n_new: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (B, P + n_new) and step logits (B, n_new, V), re-running the full sequence."""
    tokens, step_logits = prompt, []
    for _ in range(n_new):
        logits = model(tokens)[0][:, -1]  # (B, V): full forward over all t tokens
        step_logits.append(logits)
        tokens = torch.cat([tokens, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return tokens, torch.stack(step_logits, dim=1)


# %% [markdown]
# The FLOPs of one forward pass, {eq}`kv-flops`, and the cache size, {eq}`kv-bytes`:


# %%
def forward_flops(cfg: GPTConfig, new_tokens: int, total_len: int, batch: int = 1) -> int:
    """Matrix-product FLOPs of a forward pass over T new positions attending to S keys,
    eq. (kv-flops)."""
    T, S = new_tokens, total_len
    d, h, g, d_h = cfg.d_model, cfg.n_head, cfg.kv_heads, cfg.head_dim
    n_mlp = 3 if cfg.mlp == "swiglu" else 2
    per_layer = (
        2 * T * d * (h + 2 * g) * d_h  # q, k, v
        + 2 * T * h * d_h * d  # W_O
        + 2 * n_mlp * T * d * cfg.ff_dim  # MLP
        + 4 * h * T * S * d_h  # QKᵀ and AV
    )
    return batch * (cfg.n_layer * per_layer + 2 * T * d * cfg.vocab_size)


def kv_cache_bytes(
    n_layers: int, n_kv_heads: int, head_dim: int, seq_len: int, batch: int, bytes_per_elem: float
) -> float:
    """eq. (kv-bytes): 2 (K and V) × layers × KV heads × head dim × tokens × batch × bytes."""
    return 2 * n_layers * n_kv_heads * head_dim * seq_len * batch * bytes_per_elem


# %% [markdown]
# ## Verification
#
# Three small models, one per family of switches of the shared GPT, all in float64:

# %%
CONFIGS = example_configs()  # the three small models, notebook_utils.gpt
models = {}
for name, cfg in CONFIGS.items():
    torch.manual_seed(0)
    models[name] = GPT(cfg).eval()
gpt2_style = models[next(iter(CONFIGS))]

# %% [markdown]
# ### Causality: the prefix's keys and values do not change
#
# {eq}`kv-causal`: run the model on a 10-token prefix, then on the same prefix followed by 6
# more tokens, and compare the keys and values of the 10 prefix positions in every layer. Then
# the same with the mask removed, which is what a bidirectional encoder does.

# %%
PREFIX, EXTRA = 10, 6
sequence = torch.randint(0, 50, (2, PREFIX + EXTRA))  # (B, N)


def prefix_kv_change(model: GPT, causal: bool) -> list[tuple[float, float]]:
    """Per layer: max |ΔK| and |ΔV| of the prefix positions, relative to max |K| and |V|."""
    short = KVCache.for_model(model, batch=2, max_len=PREFIX)
    long = KVCache.for_model(model, batch=2, max_len=PREFIX + EXTRA)
    with torch.no_grad():
        forward_with_cache(model, sequence[:, :PREFIX], short, causal=causal)
        forward_with_cache(model, sequence, long, causal=causal)
    changes = []
    for layer in range(model.cfg.n_layer):
        k_old, v_old = short.keys[layer], short.values[layer]  # (B, g, P, d_h)
        k_new, v_new = long.keys[layer][:, :, :PREFIX], long.values[layer][:, :, :PREFIX]
        k_change = ((k_new - k_old).abs().max() / k_old.abs().max()).item()
        v_change = ((v_new - v_old).abs().max() / v_old.abs().max()).item()
        changes.append((k_change, v_change))
    return changes


kv_change = {causal: prefix_kv_change(gpt2_style, causal) for causal in (True, False)}
for causal, label in [(True, "causal decoder"), (False, "bidirectional")]:
    for layer, (dk, dv) in enumerate(kv_change[causal]):
        print(f"{label:>15}, layer {layer + 1}: max |ΔK| / max |K| = {dk:.2e}, ΔV: {dv:.2e}")

# %%
check_close(
    "causal: prefix K, V after 6 more tokens vs before, every layer (relative)",
    np.array(kv_change[True]),
    np.zeros((3, 2)),
    atol=1e-13,
)
check_close(
    "bidirectional: layer 1's prefix K, V unchanged (they come from the embeddings)",
    np.array(kv_change[False][0]),
    np.zeros(2),
    atol=1e-13,
)
smallest_upper = min(min(pair) for pair in kv_change[False][1:])
check_true(
    "bidirectional: prefix K, V of layers ≥ 2 change",
    smallest_upper > 1e-3,
    f"smallest relative change {smallest_upper:.2e}",
)

# %% [markdown]
# ### The cache after prefill equals the shared model's, and prefill is token-by-token in one go
#
# After prefilling a prompt, our buffers hold the same keys and values, per layer, as the
# tuple that `GPT.forward(use_cache=True)` returns (its keys are also stored after RoPE).
# Prefilling in one pass also gives the same cache and the same last logits as feeding the
# prompt one token at a time, which is what decoding does:

# %%
prompt = torch.randint(0, 50, (3, 8))  # (B, P)
for name, model in models.items():
    with torch.no_grad():
        reference_logits, reference_cache = model(prompt, use_cache=True)
        one_pass = KVCache.for_model(model, batch=3, max_len=8)
        one_pass_logits = forward_with_cache(model, prompt, one_pass)  # (B, P, V)
        stepwise = KVCache.for_model(model, batch=3, max_len=8)
        for i in range(8):
            last_logits = forward_with_cache(model, prompt[:, i : i + 1], stepwise)
    ours_kv = torch.stack(
        [torch.stack([k, v]) for k, v in zip(one_pass.keys, one_pass.values, strict=True)]
    )
    shared_kv = torch.stack([torch.stack(pair) for pair in reference_cache])  # (L, 2, B, g, P, d_h)
    stepwise_kv = torch.stack(
        [torch.stack([k, v]) for k, v in zip(stepwise.keys, stepwise.values, strict=True)]
    )
    print(name)
    check_close("  prefill logits vs GPT.forward", one_pass_logits, reference_logits, atol=1e-12)
    check_close("  cached K, V vs GPT.forward's cache", ours_kv, shared_kv, atol=1e-12)
    check_close("  one-pass prefill vs token-by-token: K, V", ours_kv, stepwise_kv, atol=1e-12)
    check_close(
        "  one-pass prefill vs token-by-token: last logits",
        one_pass_logits[:, -1:],
        last_logits,
        atol=1e-12,
    )

# %% [markdown]
# ### Decoding with the cache = decoding without it
#
# For each model, a batch of 3 prompts of 8 tokens, 24 greedy steps. At every step the logits
# from our cached decoder must equal those of a full forward pass over the sequence so far
# (float64, `atol=1e-12`), the tokens must be identical, and so must the tokens of the shared
# `GPT.generate` with and without its own cache. A token comparison is only meaningful if no
# step was a near-tie, so the smallest gap between the two largest logits is printed too.

# %%
N_NEW = 24
for name, model in models.items():
    tokens, step_logits = greedy_decode(model, prompt, N_NEW)
    tokens_ref, step_logits_ref = greedy_decode_without_cache(model, prompt, N_NEW)
    top2 = step_logits_ref.topk(2, dim=-1).values  # (B, n_new, 2)
    margin = (top2[..., 0] - top2[..., 1]).min().item()
    print(f"{name}: smallest top-1/top-2 logit gap over all steps {margin:.2e}")
    check_close(
        "  logits at every step, cache vs full forward", step_logits, step_logits_ref, atol=1e-12
    )
    check_equal("  greedy tokens, cache vs no cache", tokens, tokens_ref)
    check_equal("  vs GPT.generate(use_cache=True)", tokens, model.generate(prompt, N_NEW))
    check_equal(
        "  vs GPT.generate(use_cache=False)", tokens, model.generate(prompt, N_NEW, use_cache=False)
    )
    check_true("  no near-tie among the greedy choices", margin > 1e-8, f"gap {margin:.2e}")

# %% [markdown]
# ### FLOPs: {eq}`kv-flops` against PyTorch's FLOP counter
#
# `FlopCounterMode` counts the FLOPs of every matrix product that actually runs. For a step
# that produces token $t+1$: without a cache, our forward over all $t$ tokens ($T=S=t$); with
# it, one token against a cache of $t-1$ ($T=1$, $S=t$). Our attention computes the full
# $T\times S$ score matrix and masks it afterwards, as {eq}`kv-flops` counts.

# %%
for name in list(CONFIGS)[:2]:
    model, cfg = models[name], CONFIGS[name]
    for t in (5, 17, 40):
        seq = torch.randint(0, 50, (2, t))  # (B, t)
        with torch.no_grad(), FlopCounterMode(display=False) as no_cache_counter:
            forward_with_cache(model, seq, KVCache.for_model(model, batch=2, max_len=t))
        cache = KVCache.for_model(model, batch=2, max_len=t)
        with torch.no_grad():
            forward_with_cache(model, seq[:, :-1], cache)
            with FlopCounterMode(display=False) as cache_counter:
                forward_with_cache(model, seq[:, -1:], cache)
        check_equal(
            f"{name[:12]}, t = {t:2d}: counted FLOPs without cache = F(t, t)",
            no_cache_counter.get_total_flops(),
            forward_flops(cfg, t, t, batch=2),
        )
        check_equal(
            f"{name[:12]}, t = {t:2d}: counted FLOPs with cache = F(1, t)",
            cache_counter.get_total_flops(),
            forward_flops(cfg, 1, t, batch=2),
        )

# %% [markdown]
# For the GPT-2 shape, {eq}`kv-flops` reduces to {eq}`kv-flops-step`:

# %%
cfg = CONFIGS[next(iter(CONFIGS))]
L, d, V = cfg.n_layer, cfg.d_model, cfg.vocab_size
t_grid = np.arange(1, 49)
check_equal(
    "F(t, t) = L(24td² + 4t²d) + 2tdV for t = 1..48",
    [forward_flops(cfg, t, t) for t in t_grid],
    L * (24 * t_grid * d**2 + 4 * t_grid**2 * d) + 2 * t_grid * d * V,
)
check_equal(
    "F(1, t) = L(24d² + 4td) + 2dV for t = 1..48",
    [forward_flops(cfg, 1, t) for t in t_grid],
    L * (24 * d**2 + 4 * t_grid * d) + 2 * d * V,
)

# %% [markdown]
# ### Bytes: {eq}`kv-bytes` against the cache tensors
#
# The formula against the `nbytes` of the cache that the shared model actually returns, for
# multi-head, grouped-query and multi-query models and three dtypes, and against the buffers of
# our `KVCache` (allocated for `max_len` positions):

# %%
for n_kv in (8, 2, 1):
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        cfg = GPTConfig(
            vocab_size=50, block_size=64, n_layer=3, n_head=8, d_model=64, n_kv_head=n_kv
        )
        model = GPT(cfg).to(dtype).eval()
        batch, seq_len = 2, 13
        with torch.no_grad():
            _, cache = model(torch.randint(0, 50, (batch, seq_len)), use_cache=True)
        measured = sum(k.nbytes + v.nbytes for k, v in cache)
        predicted = kv_cache_bytes(cfg.n_layer, n_kv, cfg.head_dim, seq_len, batch, dtype.itemsize)
        check_equal(
            f"g = {n_kv}, {str(dtype)[6:]:>8}: GPT cache nbytes = eq. (kv-bytes)",
            measured,
            predicted,
        )
ours = KVCache.for_model(gpt2_style, batch=3, max_len=40)
check_equal(
    "our KVCache buffers, nbytes = eq. (kv-bytes) with T = max_len",
    ours.nbytes,
    kv_cache_bytes(3, 4, 8, 40, 3, 8),
)

# %% [markdown]
# ## Experiments
#
# ### 1. What a new token changes, layer by layer
#
# The verification measured how much the prefix's keys and values move when 6 tokens are
# appended. Plotted per layer:

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
layers = np.arange(1, 4)
for ax, (index, kind) in zip(axes, [(0, "keys"), (1, "values")], strict=True):
    for offset, (causal, label, color) in enumerate(
        [(True, "causal decoder", PALETTE[0]), (False, "bidirectional encoder", PALETTE[1])]
    ):
        heights = [pair[index] for pair in kv_change[causal]]
        x_bars = layers + (offset - 0.5) * 0.35
        ax.bar(x_bars, heights, width=0.35, color=color, label=label)
        for x_bar, height in zip(x_bars, heights, strict=True):
            if height < 1e-12:  # a zero-height bar is invisible: say what it is
                ax.annotate(
                    "0" if height == 0 else f"{height:.0e}",
                    (x_bar, 0),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    ax.set(
        xlabel="layer",
        ylabel="max |change| / max |value|",
        title=f"Prefix {kind}",
        xticks=layers,
    )
axes[0].legend()
fig.suptitle(
    "Appending tokens changes nothing cached in a causal decoder (largest change "
    f"{max(max(p) for p in kv_change[True]):.0e}); in an encoder every layer ≥ 2 moves "
    f"(≥ {smallest_upper:.0e})"
)
plt.show()

# %% [markdown]
# In the causal model the bars are zero (to float64 rounding, the printed maximum). Without the
# mask, layer 1 is still unchanged, since its keys and values are projections of the
# embeddings, but from layer 2 on every prefix position has attended to the new tokens and its
# keys and values have moved. A cache would keep the stale ones.
#
# ### 2. Cost per generated token, counted and timed
#
# A larger model for timing, in float32 as models are run: 4 layers, $d=128$, 4 heads,
# vocabulary 256. For each length $t$, the FLOPs of one step from {eq}`kv-flops` (checked
# against the counter above) and its wall-clock time: our forward over all $t$ tokens (no
# cache) versus one token against a cache of $t-1$ (the cache is cropped back before each
# timed run, so every run does the same work). Times are medians of 7 runs after 2 warm-up
# runs, on the CPU, with one thread (`OMP_NUM_THREADS=1` in the book's build).

# %%
TIMING_CFG = GPTConfig(vocab_size=256, block_size=1024, n_layer=4, n_head=4, d_model=128)
torch.manual_seed(0)
timing_model = GPT(TIMING_CFG).float().eval()
LENGTHS = [16, 32, 64, 128, 256, 512]
long_sequence = torch.randint(0, 256, (1, max(LENGTHS)))  # (1, T_max)

no_cache_time, cache_time = [], []
with torch.no_grad():
    for t in LENGTHS:
        seq = long_sequence[:, :t]

        def without_cache(seq: torch.Tensor = seq) -> torch.Tensor:
            fresh = KVCache.for_model(timing_model, batch=1, max_len=seq.shape[1])
            return forward_with_cache(timing_model, seq, fresh)

        cache = KVCache.for_model(timing_model, batch=1, max_len=t)
        forward_with_cache(timing_model, seq[:, :-1], cache)  # prefill t - 1 tokens

        def with_cache(seq: torch.Tensor = seq, cache: KVCache = cache) -> torch.Tensor:
            cache.crop(seq.shape[1] - 1)
            return forward_with_cache(timing_model, seq[:, -1:], cache)

        no_cache_time.append(time_call(without_cache).median)
        cache_time.append(time_call(with_cache).median)
no_cache_time, cache_time = np.array(no_cache_time), np.array(cache_time)
for t, a, b in zip(LENGTHS, no_cache_time, cache_time, strict=True):
    print(
        f"t = {t:3d}: without cache {a * 1e3:7.2f} ms, with cache {b * 1e3:6.3f} ms, ×{a / b:.0f}"
    )
growth_no_cache = no_cache_time[-1] / no_cache_time[0]
growth_cache = cache_time[-1] / cache_time[0]
print(
    f"time per token from t = {LENGTHS[0]} to t = {LENGTHS[-1]}: ×{growth_no_cache:.1f} "
    f"without cache, ×{growth_cache:.2f} with cache"
)

# %%
flops_no_cache = np.array([forward_flops(TIMING_CFG, t, t) for t in LENGTHS])
flops_cache = np.array([forward_flops(TIMING_CFG, 1, t) for t in LENGTHS])
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (no_cache, cached, ylabel, title) in zip(
    axes,
    [
        (flops_no_cache, flops_cache, "FLOPs per generated token", "Counted, eq. (kv-flops)"),
        (no_cache_time * 1e3, cache_time * 1e3, "time per generated token (ms)", "Measured"),
    ],
    strict=True,
):
    ax.loglog(LENGTHS, no_cache, "o-", color=PALETTE[1], label="without cache: re-run t tokens")
    ax.loglog(LENGTHS, cached, "o-", color=PALETTE[0], label="with cache: 1 token vs t keys")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="sequence length t (tokens)", ylabel=ylabel, title=title)
axes[0].legend()
fig.suptitle(
    f"Without a cache a token costs more the longer the sequence (time ×{growth_no_cache:.0f} "
    f"from t={LENGTHS[0]} to {LENGTHS[-1]}); with it ×{growth_cache:.1f} (CPU, 1 thread)"
)
plt.show()

# %% [markdown]
# The counted FLOPs follow {eq}`kv-flops-step`: without a cache they grow a little faster than
# linearly in $t$ (the $t^2d$ attention term joins the $td^2$ one), with it they are almost
# flat, because at $t\le512<6d$ the attention term is still smaller than the weights. The
# measured times (printed above) follow the same shapes: without the cache the step time grows
# by the printed factor, with it the step stays nearly flat. For a model this small on a CPU
# the cached step is mostly the fixed cost of running about a hundred small operations from
# Python, not arithmetic, which is also why the measured ratio between the two curves is
# smaller than the FLOP ratio at short lengths. On a real model at long context, the cached
# step's $O(t\,d)$ attention, and above all its memory traffic, is what grows (Experiment 4).
#
# ### 3. Cache memory against length and key/value heads, measured
#
# The bytes of the cache tensors the shared model returns, for prompts of 4 to 64 tokens and 8
# query heads sharing 8, 4, 2 or 1 key/value heads ($d=64$, 3 layers, float32, batch 2):

# %%
SEQ_LENGTHS = [4, 8, 16, 32, 64]
KV_HEADS = [8, 4, 2, 1]
measured_bytes = {}
with torch.no_grad():
    for n_kv in KV_HEADS:
        cfg = GPTConfig(
            vocab_size=50, block_size=64, n_layer=3, n_head=8, d_model=64, n_kv_head=n_kv
        )
        model = GPT(cfg).float().eval()
        measured_bytes[n_kv] = []
        for seq_len in SEQ_LENGTHS:
            _, cache = model(torch.randint(0, 50, (2, seq_len)), use_cache=True)
            measured_bytes[n_kv].append(sum(k.nbytes + v.nbytes for k, v in cache))
per_token = {n_kv: measured_bytes[n_kv][-1] / (2 * SEQ_LENGTHS[-1]) for n_kv in KV_HEADS}
for n_kv in KV_HEADS:
    print(f"{n_kv} KV heads: {per_token[n_kv]:.0f} B per token per sequence")
check_equal(
    "measured bytes = eq. (kv-bytes) on the whole grid",
    [measured_bytes[n_kv] for n_kv in KV_HEADS],
    [[kv_cache_bytes(3, n_kv, 8, s, 2, 4) for s in SEQ_LENGTHS] for n_kv in KV_HEADS],
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for i, n_kv in enumerate(KV_HEADS):
    axes[0].plot(
        SEQ_LENGTHS,
        np.array(measured_bytes[n_kv]) / 1024,
        "o-",
        color=PALETTE[i],
        label=f"g = {n_kv}",
    )
axes[0].set(
    xlabel="sequence length T (tokens)", ylabel="cache (KiB)", title="Linear in T, slope ∝ g"
)
axes[0].legend(title="KV heads")
axes[1].bar(
    [str(g) for g in KV_HEADS], [per_token[g] for g in KV_HEADS], color=PALETTE[: len(KV_HEADS)]
)
axes[1].set(
    xlabel="key/value heads g (of 8 query heads)",
    ylabel="bytes per token per sequence",
    title="Proportional to g",
)
fig.suptitle(
    f"The cache grows linearly with length and with KV heads: {per_token[8]:.0f} B/token "
    f"with 8 heads, {per_token[1]:.0f} with 1"
)
plt.show()

# %% [markdown]
# ### 4. Real models: memory per token, and why decoding waits on memory
#
# {eq}`kv-bytes` for published configurations, in fp16/bf16 ($\beta=2$). Layers, heads, key/value
# heads and $d_h$ are from the papers' architecture tables; $d_\text{ff}$ and vocabulary sizes
# (needed only for the weight count) are those of the released configurations. GPT-3 uses
# $d_\text{ff}=4d$, learned positions, LayerNorm with biases, and (as GPT-2) a tied head.

# %%
LLAMA = dict(norm="rmsnorm", position="rope", mlp="swiglu", tie_weights=False, bias=False)


def published_config(
    vocab: int, context: int, layers: int, heads: int, width: int, **kw: object
) -> GPTConfig:
    return GPTConfig(
        vocab_size=vocab, block_size=context, n_layer=layers, n_head=heads, d_model=width, **kw
    )


PUBLISHED = {  # name: (config, context length, source)
    "Llama-2-7B": (
        published_config(32000, 4096, 32, 32, 4096, n_kv_head=32, d_ff=11008, **LLAMA),
        4096,
        "LLaMA paper Table 2; Llama 2 paper Table 1",
    ),
    "Llama-2-70B": (
        published_config(32000, 4096, 80, 64, 8192, n_kv_head=8, d_ff=28672, **LLAMA),
        4096,
        "LLaMA paper Table 2 (65B shape); Llama 2 paper Table 1, A.2.1 (GQA)",
    ),
    "Mistral-7B": (
        published_config(32000, 8192, 32, 32, 4096, n_kv_head=8, d_ff=14336, **LLAMA),
        8192,
        "Mistral 7B paper Table 1",
    ),
    "Llama-3-8B": (
        published_config(128256, 8192, 32, 32, 4096, n_kv_head=8, d_ff=14336, **LLAMA),
        8192,
        "Llama 3 paper Table 3; 8192 = the first release's context",
    ),
    "GPT-3 175B": (
        published_config(50257, 2048, 96, 96, 12288),
        2048,
        "GPT-3 paper Table 2.1",
    ),
}


# %% [markdown]
# The weights are counted from the same configurations. The count below is the shared GPT's
# (checked on small models against `count_parameters`, with and without biases, tied and
# untied), and `matmul_weights` is $W$ of {eq}`kv-intensity`, the weights read by the matrix
# products of one step.


# %%
def parameter_count(cfg: GPTConfig) -> int:
    """Parameters of GPT(cfg): embeddings, layers (attention, MLP, 2 norms), final norm, head."""
    d, f, b = cfg.d_model, cfg.ff_dim, int(cfg.bias)
    qkv_out = (cfg.n_head + 2 * cfg.kv_heads) * cfg.head_dim
    n_mlp = 3 if cfg.mlp == "swiglu" else 2
    attention = d * qkv_out + b * qkv_out + d * d + b * d
    mlp = n_mlp * d * f + b * ((n_mlp - 1) * f + d)
    norm = d * (2 if cfg.norm == "layernorm" and cfg.bias else 1)
    positions = cfg.block_size * d if cfg.position == "learned" else 0
    final_norm = norm if cfg.norm_position == "pre" else 0  # post-norm has none
    head = 0 if cfg.tie_weights else cfg.vocab_size * d
    layers = cfg.n_layer * (attention + mlp + 2 * norm)
    return cfg.vocab_size * d + positions + layers + final_norm + head


def matmul_weights(cfg: GPTConfig) -> int:
    """W of eq. (kv-intensity): the weight matrices multiplied in one step (layers and head)."""
    d, n_mlp = cfg.d_model, 3 if cfg.mlp == "swiglu" else 2
    per_layer = d * (cfg.n_head + 2 * cfg.kv_heads) * cfg.head_dim + d * d + n_mlp * d * cfg.ff_dim
    return cfg.n_layer * per_layer + d * cfg.vocab_size


# %%
for cfg in [CONFIGS[name] for name in CONFIGS] + [TIMING_CFG]:
    check_equal(
        f"parameter_count vs count_parameters(GPT), {cfg.position}, bias={cfg.bias}",
        parameter_count(cfg),
        count_parameters(GPT(cfg)),
    )
    check_equal(
        "  2 × matmul_weights = FLOPs of a step minus attention, eq. (kv-flops)",
        2 * matmul_weights(cfg),
        forward_flops(cfg, 1, 0),
    )

# %% [markdown]
# The table: bytes per token, the cache of one full-context sequence, the fp16 weights, and how
# many cached tokens fit next to the weights on an 80 GB accelerator ($80\cdot10^9$ bytes).

# %%
GPU_BYTES = 80e9
FP16 = 2
rows = {}
print(
    f"{'model':<12}{'L':>4}{'h':>4}{'g':>4}{'d_h':>5}{'B/token':>11}{'context':>9}"
    f"{'cache':>11}{'weights':>11}{'cache=weights at':>18}{'tokens in 80 GB':>17}"
)
for name, (cfg, context, _) in PUBLISHED.items():
    per_token_bytes = kv_cache_bytes(cfg.n_layer, cfg.kv_heads, cfg.head_dim, 1, 1, FP16)
    weight_bytes = FP16 * parameter_count(cfg)
    room = GPU_BYTES - weight_bytes
    fit = f"{room / per_token_bytes:,.0f}" if room > 0 else "weights > 80 GB"
    rows[name] = dict(per_token=per_token_bytes, weights=weight_bytes, room=room)
    print(
        f"{name:<12}{cfg.n_layer:>4}{cfg.n_head:>4}{cfg.kv_heads:>4}{cfg.head_dim:>5}"
        f"{per_token_bytes:>11,.0f}{context:>9}{format_bytes(per_token_bytes * context):>11}"
        f"{weight_bytes / 1e9:>8.1f} GB{weight_bytes / per_token_bytes:>11,.0f} tokens{fit:>17}"
    )
full_sequences = rows["Llama-2-7B"]["room"] / (rows["Llama-2-7B"]["per_token"] * 4096)
print(f"Llama-2-7B on 80 GB: room for {full_sequences:.1f} cached sequences of 4096 tokens")
print("sources:", "; ".join(f"{name}: {src}" for name, (_, _, src) in PUBLISHED.items()))

# %%
check_equal("Llama-2-7B: bytes per token (fp16)", rows["Llama-2-7B"]["per_token"], 524_288)
check_equal("Llama-2-7B: = 0.5 MiB", rows["Llama-2-7B"]["per_token"] / 2**20, 0.5)
check_equal("Llama-2-7B: 4096 tokens = 2 GiB", rows["Llama-2-7B"]["per_token"] * 4096 / 2**30, 2.0)
check_equal("Llama-2-70B: bytes per token (fp16)", rows["Llama-2-70B"]["per_token"], 327_680)
check_equal(
    "Llama-2-7B weights: 6,738,415,616 parameters (the released 7B)",
    parameter_count(PUBLISHED["Llama-2-7B"][0]),
    6_738_415_616,
)

# %% [markdown]
# Per token, Llama-2-70B stores less than Llama-2-7B: grouped-query attention with 8 key/value
# heads shrinks its cache by $64/8=8$, more than its 80 layers add. Mistral-7B and Llama-3-8B
# store a quarter of Llama-2-7B's. GPT-3's 96 full heads in 96 layers cost several MiB per
# token (printed).
#
# Now the bandwidth side, {eq}`kv-intensity`, for one decode step at full context, as a
# function of the batch size. For reference: an A100 80 GB (SXM) does 312 TFLOP/s in bf16 and
# reads 2.039 TB/s from its memory, about 153 FLOPs per byte. Below that intensity a step
# waits for memory.

# %%
A100_FLOPS, A100_BYTES_PER_S = 312e12, 2.039e12
RIDGE = A100_FLOPS / A100_BYTES_PER_S
BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])


def decode_intensity(cfg: GPTConfig, context: int, batch: np.ndarray | int) -> np.ndarray:
    """eq. (kv-intensity): FLOPs per byte of one decode step at `context` cached tokens."""
    W = matmul_weights(cfg)
    attention_flops = 4 * cfg.n_layer * cfg.n_head * context * cfg.head_dim
    cache_bytes = kv_cache_bytes(cfg.n_layer, cfg.kv_heads, cfg.head_dim, context, 1, FP16)
    flops = np.asarray(batch) * (2 * W + attention_flops)
    return flops / (FP16 * W + np.asarray(batch) * cache_bytes)


for name, (cfg, context, _) in PUBLISHED.items():
    W = matmul_weights(cfg)
    at_1 = decode_intensity(cfg, context, 1)
    step_bytes = FP16 * W + rows[name]["per_token"] * context
    print(
        f"{name:<12} batch 1, {context} tokens: {at_1:.2f} FLOP/byte; reads "
        f"{step_bytes / 1e9:.1f} GB per token → ≥ {step_bytes / A100_BYTES_PER_S * 1e3:.1f} ms "
        f"per token on an A100; intensity at batch 1024: "
        f"{decode_intensity(cfg, context, 1024):.1f}, limit h/g + 2W/cache = "
        f"{cfg.n_head / cfg.kv_heads + 2 * W / (rows[name]['per_token'] * context):.1f}"
    )
print(f"A100 ridge point: {RIDGE:.0f} FLOP/byte")

# %%
intensities_at_1 = [decode_intensity(cfg, ctx, 1) for cfg, ctx, _ in PUBLISHED.values()]
check_true(
    "batch-1 decode at full context: 1–2 FLOP/byte for every model",
    bool(min(intensities_at_1) >= 1.0 and max(intensities_at_1) <= 2.0),
    f"range {min(intensities_at_1):.2f} – {max(intensities_at_1):.2f}",
)
short_context = decode_intensity(PUBLISHED["Llama-2-7B"][0], 0, 1)
check_close("Llama-2-7B, empty cache, batch 1: I = 2/β = 1", short_context, 1.0, atol=1e-12)

# %%
CONTEXTS = np.logspace(np.log10(256), np.log10(131072), 60)
fig, axes = plt.subplots(1, 2, figsize=(13, 5.6))
for i, (name, (cfg, context, _)) in enumerate(PUBLISHED.items()):
    total_gb = (rows[name]["weights"] + rows[name]["per_token"] * CONTEXTS) / 1e9
    axes[0].loglog(CONTEXTS, total_gb, color=PALETTE[i], label=name)
    axes[1].loglog(
        BATCHES,
        decode_intensity(cfg, context, BATCHES),
        "o-",
        ms=3,
        color=PALETTE[i],
        label=f"{name}, {context} tokens",
    )
mistral = PUBLISHED["Mistral-7B"][0]
window_gb = (
    rows["Mistral-7B"]["weights"] + rows["Mistral-7B"]["per_token"] * np.minimum(CONTEXTS, 4096)
) / 1e9
axes[0].loglog(CONTEXTS, window_gb, "--", color=PALETTE[2], label="Mistral-7B, 4096-token window")
axes[0].axhline(GPU_BYTES / 1e9, color="0.3", ls=":", label="80 GB accelerator")
axes[0].set(
    xlabel="context length (tokens), batch 1",
    ylabel="fp16 weights + KV cache (GB)",
    title="Memory at batch 1",
)
axes[0].set_xscale("log", base=2)
axes[0].legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
axes[1].loglog(BATCHES, BATCHES * 1.0, ":", color="0.5", label="weights only (no cache): I = B")
axes[1].axhline(RIDGE, color="0.3", ls="--", label=f"A100 ridge, {RIDGE:.0f} FLOP/byte")
axes[1].set_xscale("log", base=2)
axes[1].set(
    xlabel="batch size B (sequences decoded together)",
    ylabel="arithmetic intensity (FLOP/byte)",
    title="Decode step at full context",
)
axes[1].legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
llama7_gb_at_4k = (rows["Llama-2-7B"]["weights"] + rows["Llama-2-7B"]["per_token"] * 4096) / 1e9
fig.suptitle(
    "The cache rivals the weights at long context, and decoding stays far below the ridge: "
    f"{min(intensities_at_1):.1f}–{max(intensities_at_1):.1f} FLOP/byte at batch 1"
)
plt.show()

# %% [markdown]
# Left: at batch 1 and long context the cache becomes as large as the weights. The table prints
# the number of cached tokens at which the two are equal; for Llama-2-7B it is a few full
# 4096-token sequences, which a batch reaches at once. The weights of GPT-3 and
# Llama-2-70B alone exceed one 80 GB device. With 8 key/value heads the same context costs a
# quarter of the multi-head cache. Mistral's rolling buffer stops the growth at its 4096-token
# window (Pitfalls).
#
# Right: at batch 1 every model sits at 1–2 FLOPs per byte (printed), two orders of magnitude
# below the A100's ridge, so a decode step takes about bytes / bandwidth: the printed lower
# bounds are a few milliseconds per token for the 7B–8B models. Batching shares the weight
# reads, and without a cache the intensity would grow like $B$ (the dotted line). But every
# sequence brings its own cache, whose traffic grows with $B$ as well, so at full context the
# intensity saturates at $h/g+2W/(\text{cache bytes per sequence})$ (printed): about 7 for
# Llama-2-7B, higher for the grouped-query models. Long-context decoding stays memory-bound at
# any batch size, which is the case for shrinking the cache.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "The KV cache speeds up the attention computation." Right?
# Not quite, and it is the notes' phrasing. What the cache removes is the recomputation of the
# whole prefix in every layer: its projections, its MLPs, its attention. The new token's own
# attention still reads all $t$ cached keys and values, $O(t\,d)$ per layer, and at long context
# this is the part that dominates the step (in FLOPs past $t=6d$, in bytes much earlier). The
# cache trades memory for compute: $O(d^2+td)$ per step instead of $O(td^2+t^2d)$, for
# {eq}`kv-bytes` bytes of memory.
# :::
#
# :::{dropdown} Why cache K and V but not Q? Why not the hidden states?
# The only thing a later token reads from an earlier one is its key (to score it) and its value
# (to average it). An old query was used to compute that old token's own output, which is done.
# Old hidden states are used only to make that token's next-layer $q,k,v$, and we keep the
# $k,v$. So the cache holds exactly what the future needs, and the prefix never runs again.
# :::
#
# :::{dropdown} Positions: the offset, learned or RoPE
# The new token is at position $t$, not 0. A decoder that feeds the new token with positions
# restarting at 0 adds the wrong position embedding (learned/sinusoidal) or rotates the query
# and key by the wrong angle (RoPE); the output changes and nothing raises an error. The cell
# below makes this mistake on purpose. With RoPE, keys are cached *after* rotation: the angle
# depends on the key's own position, so it never changes, and the relative-position property
# $q_m^\top k_n=f(m-n)$ holds between the new query and every cached key.
# :::

# %%
for name in list(CONFIGS)[:2]:
    model = models[name]
    cache = KVCache.for_model(model, batch=3, max_len=9)
    with torch.no_grad():
        forward_with_cache(model, prompt, cache)  # prefill 8 tokens
        wrong = forward_with_cache(model, prompt[:, :1], cache, positions=torch.tensor([0]))
        reference = model(torch.cat([prompt, prompt[:, :1]], dim=1))[0][:, -1:]
    error = (wrong - reference).abs().max().item()
    check_true(
        f"{name[:12]}: position 0 instead of 8 changes the logits far beyond 1e-12",
        error > 1e-6,
        f"max abs change {error:.2e}",
    )

# %% [markdown]
# :::{dropdown} Is the cached output *exactly* the uncached one?
# In exact arithmetic, yes. In floating point, the two paths multiply matrices of different
# shapes (a $1\times d$ row against a $t\times d$ block), so the sums can be ordered differently
# and round differently. Float64 agreed to `1e-12` above; the cell below measures float32.
# A difference of that size can flip a greedy choice only on a near-tie, which is why
# "identical tokens" needs the margin check done in the Verification section.
# :::

# %%
model32 = copy.deepcopy(gpt2_style).float()
prompt32 = prompt[:1]
_, logits32 = greedy_decode(model32, prompt32, N_NEW)
_, logits32_ref = greedy_decode_without_cache(model32, prompt32, N_NEW)
float32_gap = (logits32 - logits32_ref).abs().max().item()
print(f"float32: max |cached - uncached| logit over {N_NEW} steps = {float32_gap:.2e}")
check_close("float32 cached vs uncached logits", logits32, logits32_ref, atol=1e-5)

# %% [markdown]
# :::{dropdown} Batching prompts of different lengths
# A batch shares one cache tensor, so shorter prompts are padded. With **left padding** the new
# tokens of all sequences sit in the same column, but each sequence's positions must start at
# its first real token (position ids are per sequence, not the column index), and the padded
# keys must be masked in every step. Right padding would put the next token of a short sequence
# after its padding. A sequence that finishes early keeps its slot, and its cache, until the
# batch ends, which wastes memory: serving systems instead add and remove sequences at every
# step and allocate the cache in blocks, which is paged attention
# ([chapter 06](06_paged_attention.ipynb)) {cite}`kwon2023efficient`.
# :::
#
# :::{dropdown} Memory grows linearly: what limits what?
# {eq}`kv-bytes` is linear in $T$ and in $B$, so on a fixed device the cache bounds
# batch × context. For Llama-2-7B on 80 GB, the table above leaves room for the printed
# number of tokens, and the line under it converts that into full 4096-token sequences.
# The levers are in the formula: fewer key/value heads (MQA, $g=1$ {cite}`shazeer2019fast`;
# GQA, $1<g<h$; see [chapter 05](05_multi_query_attention.ipynb)), fewer bytes per element
# (an 8-bit cache halves $\beta$, 4-bit quarters it, plus a small overhead for the scales),
# fewer positions (sliding windows, next item), and less waste (paged allocation).
# {cite:t}`pope2023efficiently` work through these trade-offs for serving at scale, including
# multi-query attention.
# :::
#
# :::{dropdown} Sliding-window attention and the rolling buffer
# If each layer only attends to the last $W$ positions (Mistral-7B: $W=4096$
# {cite}`jiang2023mistral`), a key older than $W$ is never read again. The cache can then be a
# ring of $W$ slots, position $i$ going to slot $i \bmod W$, and its size stops at $W$ tokens
# (the dashed line in Experiment 4). Information from further back still arrives, indirectly,
# through the layers.
# :::
#
# :::{dropdown} The cache is per layer: can layers share it?
# Layer $\ell$'s keys are projections of layer $\ell-1$'s outputs, so every layer has its own
# keys and values; that is the factor $L$ in {eq}`kv-bytes`. A model can be *trained* to reuse
# one layer's keys and values in neighbouring layers, but a model trained without this has no
# such redundancy to exploit.
# :::
#
# :::{dropdown} Can an encoder, or an encoder–decoder, use a cache?
# A bidirectional encoder cannot (Experiment 1): every new token changes every earlier token's
# states from layer 2 on. An encoder–decoder caches two things in the decoder: the
# cross-attention keys and values, computed once from the encoder output and fixed for the whole
# generation, and the decoder's causal self-attention keys and values, which grow as above.
# :::
#
# :::{dropdown} Prefill vs decode: which is the bottleneck?
# Prefill processes $P$ tokens per weight read, intensity about $P$ FLOPs per byte: it is
# compute-bound and sets the *time to first token*. Decode processes one token per sequence per
# weight read: it is memory-bound and sets the *time per output token*. Serving systems
# schedule the two differently, and batching decode steps is how they recover throughput.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Llama-2-13B has 40 layers, 40 heads (all of them key/value heads) and $d_h=128$. How many
#    bytes does its fp16 cache take per token, and for a batch of 8 sequences of 4096 tokens?
#
#    :::{dropdown} Answer
#    $2\cdot40\cdot40\cdot128\cdot2=819{,}200$ B per token (0.78 MiB), and
#    $819{,}200\cdot4096\cdot8=26{,}843{,}545{,}600$ B $=25$ GiB for the batch, about as much as
#    its fp16 weights (printed by the cell below, with $d=5120$ and $d_\text{ff}=13824$ from the
#    released configuration). The cell checks it.
#    :::

# %%
per_token_13b = kv_cache_bytes(40, 40, 128, 1, 1, 2)
batch_13b = kv_cache_bytes(40, 40, 128, 4096, 8, 2)
check_equal("exercise 1: Llama-2-13B bytes per token", per_token_13b, 819_200)
check_equal("exercise 1: batch of 8 × 4096 tokens, in GiB", batch_13b / 2**30, 25.0)
llama2_13b = published_config(32000, 4096, 40, 40, 5120, d_ff=13824, **LLAMA)
weights_13b = FP16 * parameter_count(llama2_13b)
print(f"cache {batch_13b / 1e9:.1f} GB vs fp16 weights {weights_13b / 1e9:.1f} GB")

# %% [markdown]
# 2. With the cache, a decode step still grows with $t$. For the GPT-2 shape, at what length does
#    the attention term of {eq}`kv-flops-step` equal the weight term? What is it for GPT-2 small
#    ($d=768$, context 1024)?
#
#    :::{dropdown} Answer
#    $24d^2=4td$ at $t=6d$: 4608 for GPT-2 small, beyond its 1024-token context, so its cached
#    steps are dominated by the weights (in FLOPs). The cell checks it with `forward_flops`.
#    :::

# %%
gpt2_small = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, d_model=768)
crossover = 6 * gpt2_small.d_model
attention_part = forward_flops(gpt2_small, 1, crossover) - forward_flops(gpt2_small, 1, 0)
weight_part = forward_flops(gpt2_small, 1, 0) - 2 * gpt2_small.d_model * gpt2_small.vocab_size
check_equal(
    f"exercise 2: at t = 6d = {crossover}, attention FLOPs = weight FLOPs",
    attention_part,
    weight_part,
)

# %% [markdown]
# 3. A prefix language model attends bidirectionally inside the prompt and causally after it.
#    Can it use a KV cache?
#
#    :::{dropdown} Answer
#    Yes, after the prompt. The prompt's tokens attend to each other but never to generated
#    tokens, so once the prompt is processed its keys and values are fixed; generated tokens
#    attend causally, so {eq}`kv-causal` holds for them. What is *not* allowed is appending to
#    the bidirectional part: adding a token to the prompt changes every prompt position's states
#    from layer 2 on, and the prompt must be re-encoded.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`vaswani2017attention`: section 3.2.3, the masked (causal) decoder self-attention
#   that makes the cache valid.
# - {cite:t}`pope2023efficiently`: sections 2–3, the memory and compute costs of inference, the
#   KV cache's size, why decoding is memory-bound at small batch, and multi-query attention for
#   serving.
# - {cite:t}`shazeer2019fast`: incremental decoding is bound by loading keys and values;
#   multi-query attention as the fix.
# - {cite:t}`kwon2023efficient`: paged KV-cache memory (vLLM), and the waste of contiguous
#   per-sequence allocation.
# - {cite:t}`touvron2023llama` (Table 2: layers, width and heads of the 7B and 65B shapes) and
#   {cite:t}`touvron2023llama2` (Table 1: 4096-token context, grouped-query attention in the
#   70B model; appendix A.2.1: 8 key/value heads).
# - {cite:t}`jiang2023mistral`: Table 1 (Mistral-7B's shape, 8 key/value heads) and section 2
#   (sliding window and rolling buffer cache).
# - {cite:t}`dubey2024llama`: Table 3, Llama-3-8B's shape (32 layers, 8 key/value heads); its
#   first release had an 8192-token context, which later versions extend.
# - {cite:t}`brown2020gpt3`: Table 2.1, GPT-3 175B's shape (96 layers, 96 heads, $d_h=128$),
#   context 2048.
# - {cite:t}`nvidia2020a100`: the A100 80 GB's bf16 throughput and memory bandwidth.
# - {cite:t}`williams2009roofline`: the roofline model, arithmetic intensity against the ridge
#   point.

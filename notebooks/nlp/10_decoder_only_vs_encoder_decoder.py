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
# # 10. Decoder-only vs encoder–decoder transformers
#
# **The question.** What is the structure of today's LLMs? How does a decoder-only Transformer
# differ from an encoder–decoder, and why are the chat LLMs (GPT, Llama, Qwen, DeepSeek)
# decoder-only?
#
# **What you will be able to answer.** Draw the encoder, decoder, cross-attention and prefix-LM
# masks and say which stack uses which; count the training targets a sequence gives under
# next-token prediction, prompt masking and T5's span corruption; say what each architecture
# caches when it generates, and where the real difference is (an input that grows); and which
# claims about "which is better" are settled and which are not.

# %%
import copy
import math
import warnings
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.data import token_task_batch
from notebook_utils.devices import get_device
from notebook_utils.gpt import GPT, GPTConfig, KVCache
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the equivalence checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **Three layouts.** An *encoder–decoder* (the original Transformer, T5, BART) reads the
#   input $x$ with a bidirectional encoder, and a second stack, the decoder, writes the output
#   $y$ with causal self-attention plus *cross-attention* to the encoder's output. A
#   *decoder-only* model (GPT, Llama) is one stack with causal self-attention over the single
#   sequence $[x;y]$. An *encoder-only* model (BERT) is one bidirectional stack: it produces
#   contextual embeddings for classification and retrieval, not text.
# - **Masks.** Encoder self-attention: every source position sees every source position.
#   Decoder self-attention: target position $i$ sees targets $j\le i$. Cross-attention: every
#   target position sees every source position. A *prefix LM* is one stack with
#   bidirectional attention inside the prefix and causal attention after it. Over $[x;y]$,
#   the encoder–decoder's pattern of who-sees-whom *is* the prefix-LM mask. What differs is
#   two sets of weights, and the decoder reading only the encoder's last layer.
# - **Training targets.** Next-token prediction on a length-$T$ sequence gives $T-1$
#   targets: every token but the first. With the prompt masked (SFT, or our toy task) there
#   are $|y|$ of them. T5's span corruption at a 15 % noise rate gives about $0.15T$ target
#   tokens, plus one sentinel per span and an end token.
# - **KV cache: both have one.** The notes say decoder-only models "naturally support KV
#   caching"; so do encoder–decoders. Their decoder caches its causal self-attention keys and
#   values, and the cross-attention keys and values are computed **once** from the encoder
#   output: $2L_\text{dec}Sd$ numbers per sequence, fixed by the source length $S$. The real
#   difference shows when the *input grows*, as in a multi-turn chat. A bidirectional encoder
#   must re-encode the whole input, because every old position's state changes. A decoder-only
#   model keeps its cached prefix and processes only the new tokens.
# - **Why decoder-only dominates.** One stack is simpler to build, scale and serve, and every
#   token is a training target. Every task becomes "continue this text", which is what makes
#   prompting and in-context learning work through one interface, and a chat's history is a
#   prefix that can stay cached. "It scales better" is **not** settled. T5 found an
#   encoder–decoder with a denoising objective best at equal compute (with twice the
#   parameters) {cite}`raffel2020exploring`.
#   {cite:t}`wang2022what` found a causal decoder best for zero-shot use after plain
#   pre-training, and a non-causal model best after multitask fine-tuning. Encoder-only models
#   are still the standard for embeddings and classification.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x=(x_1,\dots,x_S)$ | source (input) tokens | `src`, (B, S) |
# | $y=(y_1,\dots,y_T)$ | target (output) tokens | `tgt`, (B, T) |
# | $M\in\{0,1\}^{N_q\times N_k}$ | $M_{ij}=1$: query $i$ may attend to key $j$ | boolean `mask` |
# | $H\in\mathbb R^{S\times d}$ | the encoder's output ("memory") | `memory`, (B, S, d) |
# | $L$, $L_\text{enc}$, $L_\text{dec}$ | layers of a stack | `n_layer`, … |
# | $d$, $h$, $d_h=d/h$ | width, heads, head width | `d_model`, `n_head` |
# | $\mathrm n(\cdot)$ | LayerNorm | `norm1`, … |
#
# Attention itself, $\operatorname{softmax}(QK^\top/\sqrt{d_h}+\text{mask})V$ with the masked
# scores set to $-\infty$, is derived in [chapter 01](01_self_attention.ipynb); the KV cache of a
# decoder-only model in [chapter 04](04_kv_cache.ipynb). This chapter is about which queries
# see which keys, and what follows from it.
#
# ### Three masks, and a fourth
#
# The encoder's self-attention is bidirectional, the decoder's is causal, and the decoder's
# cross-attention lets every target position read every source position:
#
# $$
# M^\text{enc}_{ij}=1\ \ (i,j\le S),\qquad
# M^\text{dec}_{ij}=[\,j\le i\,]\ \ (i,j\le T),\qquad
# M^\text{cross}_{ij}=1\ \ (i\le T,\ j\le S)
# $$ (encdec-masks)
#
# A decoder-only model runs one causal mask over the $N=S+1+T$ tokens of
# $[x;\texttt{SEP};y]$. A prefix LM runs one stack over the same sequence, with bidirectional
# attention inside a prefix of length $P$:
#
# $$
# M^\text{prefix}_{ij}=[\,j\le i\ \text{ or }\ j\le P\,]\qquad (i,j\le N)
# $$ (encdec-prefix)
#
# Now put the encoder–decoder's three masks into one matrix over $[x;y]$, with rows and columns
# ordered source first. Source positions never see target positions (the encoder does not
# read $y$):
#
# $$
# \begin{pmatrix} M^\text{enc} & 0\\ M^\text{cross} & M^\text{dec}\end{pmatrix}
# =M^\text{prefix}\ \text{ with } N=S+T,\ P=S
# $$ (encdec-concat)
#
# So who can influence whom is the same in an encoder–decoder and in a prefix LM whose prefix
# is the source. {cite:t}`raffel2020exploring` (section 3.2.1) make this comparison. What
# differs is the wiring. The encoder–decoder has separate weights for source and target
# positions, and each decoder layer reads the encoder's *last* layer. In the prefix LM, layer
# $\ell$ of a target position reads layer $\ell-1$ of the source positions.
#
# ### The layers
#
# With pre-norm residual blocks (the arrangement of the shared GPT, and of
# `nn.Transformer(norm_first=True)`), an encoder layer is a decoder-only block with a
# bidirectional mask. A decoder layer adds a cross-attention sublayer whose queries come from
# the target stream $z$ and whose keys and values come from the encoder output $H$:
#
# $$
# \begin{aligned}
# z&\leftarrow z+\operatorname{Attn}\big(\mathrm n(z)W_Q,\ \mathrm n(z)W_K,\ \mathrm n(z)W_V;\
# M^\text{dec}\big)\\
# z&\leftarrow z+\operatorname{Attn}\big(\mathrm n(z)W'_Q,\ HW'_K,\ HW'_V;\ M^\text{cross}\big)\\
# z&\leftarrow z+\operatorname{MLP}\big(\mathrm n(z)\big)
# \end{aligned}
# $$ (encdec-decoder-layer)
#
# With biases and $d_\text{ff}=4d$, an attention sublayer has $4d^2+4d$ parameters, the MLP
# $8d^2+5d$, a LayerNorm $2d$. So
#
# $$
# P_\text{enc layer}=P_\text{GPT block}=12d^2+13d,\qquad P_\text{dec layer}=16d^2+19d
# $$ (encdec-params)
#
# Forward FLOPs are about twice the number of weights each token is multiplied by. A source
# token passes through the encoder only, and a target token through the decoder only. So an
# encoder–decoder with $L$ layers in each stack costs about as much per sequence as a
# decoder-only model with $L$ layers over $[x;y]$, but it has about twice the parameters.
# That is the "$2P$ parameters, $M$ FLOPs" row of Raffel et al.'s Table 2.
#
# ### Training targets per sequence
#
# Both architectures model $p(y\mid x)$ left to right and are trained by teacher forcing, with
# the same loss:
#
# $$
# \mathcal L=-\sum_{t=1}^{|y|}\log p_\theta\big(y_t\mid x,\,y_{<t}\big)
# $$ (encdec-loss)
#
# The encoder–decoder reads $x$ through the encoder and feeds the decoder the shifted targets
# $[\texttt{BOS};y_1,\dots,y_{T-1}]$. The decoder-only model reads $[x;\texttt{SEP};y]$ and
# takes the loss at the positions that predict $y$ only; the logit at position $p$ predicts
# token $p+1$, so the positions are $S,\dots,S+T-1$ (0-based). How many targets a sequence gives
# depends on the objective:
#
# $$
# \begin{aligned}
# N_\text{next token}&=T-1 &&\text{(every token but the first)}\\
# N_\text{prompt masked}&=|y| &&\text{(SFT; an encoder–decoder on } (x,y))\\
# N_\text{MLM}&\approx rT &&\text{(BERT, } r=0.15)\\
# N_\text{span}&=n_\text{noise}+n_\text{spans}+1 &&\text{(T5; sentinels and an end token)}
# \end{aligned}
# $$ (encdec-targets)
#
# T5's span corruption {cite}`raffel2020exploring` (section 3.3.4) draws the count of corrupted
# tokens and spans deterministically from the noise density $r$ and the mean span length
# $\mu$, then places the spans at random:
#
# $$
# n_\text{noise}=\operatorname{round}(rT),\qquad n_\text{spans}=\operatorname{round}
# (n_\text{noise}/\mu),\qquad |\text{inputs}|=T-n_\text{noise}+n_\text{spans}+1
# $$ (encdec-span)
#
# Each corrupted span is replaced in the input by one sentinel token. The target lists each
# sentinel followed by the tokens it hides. With $r=0.15$ and $\mu=3$, a 512-token sequence
# gives $77$ target tokens, $26$ sentinels and an end token, against $511$ targets for
# next-token prediction. The encoder's input is shorter too, which makes a denoising step
# cheaper. In exchange, far fewer positions carry a loss.
#
# ### What is cached when generating
#
# The encoder–decoder encodes $x$ once. Each decoder layer then projects the encoder output to
# its cross-attention keys and values **once**, and these stay fixed while $y$ is generated.
# Its causal self-attention keys and values grow by one position per step, exactly as in a
# decoder-only model. After $t$ decoder positions, per sequence,
#
# $$
# N_\text{cross}=2\,L_\text{dec}\,S\,d,\qquad N_\text{self}(t)=2\,L_\text{dec}\,t\,d,
# \qquad\text{vs. decoder-only: } 2\,L\,(S+1+t)\,d
# $$ (encdec-cache)
#
# numbers (the 2 is $K$ and $V$; $d=h\,d_h$). The totals have the same form, so the cache is no
# argument for either architecture. What differs is what happens when the input changes. A
# causal model's keys and values at position $i$ depend on tokens $1..i$ only (the induction of
# [chapter 04](04_kv_cache.ipynb)), so appending tokens leaves them untouched. A bidirectional
# encoder's state at every position depends on every source token, so appending one token to $x$
# changes the whole memory $H$, every cross-attention key and value, and so every decoder state
# computed from them. In a chat of $K$ turns of $n$ tokens each, with the history as the
# source, the encoder processes
#
# $$
# \sum_{k=1}^{K}kn=\frac{nK(K+1)}{2}\ \text{ tokens, against } nK \text{ for a decoder-only
# model that keeps its cache}
# $$ (encdec-reencode)
#
# (per layer, ignoring the quadratic attention term). This is the notes' remark that the
# encoder–decoder is awkward for chat, made precise.

# %% [markdown]
# ## Implementation from scratch
#
# ### Masks
#
# Boolean, **True where a query may attend**, the convention of
# `F.scaled_dot_product_attention` and of [chapter 01](01_self_attention.ipynb):


# %%
def bidirectional_mask(n_queries: int, n_keys: int) -> torch.Tensor:
    """eq. (encdec-masks), M^enc and M^cross: every query sees every key."""
    return torch.ones(n_queries, n_keys, dtype=torch.bool)


def causal_mask(n: int) -> torch.Tensor:
    """eq. (encdec-masks), M^dec: query i sees keys j <= i."""
    return torch.ones(n, n, dtype=torch.bool).tril()


def prefix_lm_mask(n: int, prefix_len: int) -> torch.Tensor:
    """eq. (encdec-prefix): causal, plus every query sees the whole prefix."""
    key = torch.arange(n)[None, :]  # (1, n)
    return causal_mask(n) | (key < prefix_len)  # (n, n)


def encoder_decoder_mask(n_source: int, n_target: int) -> torch.Tensor:
    """The three masks of an encoder–decoder as one matrix over [source; target]."""
    top = torch.cat(
        [bidirectional_mask(n_source, n_source), torch.zeros(n_source, n_target, dtype=torch.bool)],
        dim=1,
    )  # (S, S+T): the encoder never reads the target
    bottom = torch.cat(
        [bidirectional_mask(n_target, n_source), causal_mask(n_target)], dim=1
    )  # (T, S+T): cross-attention, then causal self-attention
    return torch.cat([top, bottom], dim=0)  # (S+T, S+T)


# %% [markdown]
# ### Attention whose keys come from elsewhere
#
# One module serves all three uses: queries from `x`, keys and values from a separate
# `context` tensor. For self-attention the context is `x` itself; for cross-attention it is the
# encoder output. `keys_values` is separate from `forward` so that a decoder can compute the
# cross-attention keys and values once and reuse them at every step.


# %%
class Attention(nn.Module):
    """Multi-head attention, queries from x, keys and values from a context (chapter 01)."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.n_head, self.d_h = n_head, d_model // n_head
        self.w_q = nn.Linear(d_model, d_model)  # [W_Q of head 1, …, head h]
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape  # (B, N, d)
        return t.view(b, n, self.n_head, self.d_h).transpose(1, 2)  # (B, h, N, d_h)

    def keys_values(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (B, h, N_k, d_h) of a context (B, N_k, d)."""
        return self.split_heads(self.w_k(context)), self.split_heads(self.w_v(context))

    def forward(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Queries from x (B, N_q, d) attend to keys/values (B, h, N_k, d_h); mask (N_q, N_k)."""
        q = self.split_heads(self.w_q(x))  # (B, h, N_q, d_h)
        scores = q @ keys.transpose(-2, -1) / math.sqrt(self.d_h)  # (B, h, N_q, N_k)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        heads = torch.softmax(scores, dim=-1) @ values  # (B, h, N_q, d_h)
        b, _, n_q, _ = heads.shape
        return self.w_o(heads.transpose(1, 2).reshape(b, n_q, -1))  # (B, N_q, d)


# %% [markdown]
# The two layers, pre-norm as in {eq}`encdec-decoder-layer`, with a GELU MLP of width $4d$.
# The encoder layer takes a mask so that the same stack can be run as an encoder (no mask) or
# as a prefix LM ({eq}`encdec-prefix`). The decoder layer's self-attention takes an optional
# cache of earlier positions' keys and values and returns the updated one. Its $T$ new queries
# sit at positions $S_\text{self}-T,\dots,S_\text{self}-1$ among the $S_\text{self}$ cached and
# new keys, hence the offset of the causal mask.


# %%
class MLP(nn.Module):
    """Position-wise feed-forward network, d -> 4d -> d with GELU."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, 4 * d_model)
        self.down = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.down(F.gelu(self.up(x)))
        return out


class EncoderLayer(nn.Module):
    """Bidirectional self-attention (or any given mask) and an MLP, pre-norm."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.norm1, self.self_attn = nn.LayerNorm(d_model), Attention(d_model, n_head)
        self.norm2, self.mlp = nn.LayerNorm(d_model), MLP(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        normed = self.norm1(x)  # (B, S, d)
        x = x + self.self_attn(normed, *self.self_attn.keys_values(normed), mask)
        return x + self.mlp(self.norm2(x))


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention and an MLP, eq. (encdec-decoder-layer)."""

    def __init__(self, d_model: int, n_head: int) -> None:
        super().__init__()
        self.norm1, self.self_attn = nn.LayerNorm(d_model), Attention(d_model, n_head)
        self.norm2, self.cross_attn = nn.LayerNorm(d_model), Attention(d_model, n_head)
        self.norm3, self.mlp = nn.LayerNorm(d_model), MLP(d_model)

    def forward(
        self,
        z: torch.Tensor,
        cross_kv: tuple[torch.Tensor, torch.Tensor],
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """z (B, T, d): the T new target positions. Returns z and the self-attention (k, v)."""
        normed = self.norm1(z)
        k, v = self.self_attn.keys_values(normed)  # (B, h, T, d_h) each
        if past is not None:  # the keys and values of the earlier positions
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        n_new, n_all = z.shape[1], k.shape[2]
        mask = torch.ones(n_new, n_all, dtype=torch.bool, device=z.device).tril(n_all - n_new)
        z = z + self.self_attn(normed, k, v, mask)  # M^dec
        z = z + self.cross_attn(self.norm2(z), *cross_kv)  # M^cross: no mask at all
        return z + self.mlp(self.norm3(z)), (k, v)


# %% [markdown]
# The model: one token embedding shared by both stacks and tied to the output head (as in T5
# and in the shared GPT), learned positions for each stack, a final LayerNorm after each stack,
# and GPT-2's initialisation. `encode` runs once per input. `cross_keys_values` projects the
# memory into every decoder layer's cross-attention keys and values, also once. `decode` runs the
# decoder on new target positions, optionally continuing a self-attention cache.


# %%
class EncoderDecoder(nn.Module):
    """A small pre-norm encoder–decoder (the layout of nn.Transformer(norm_first=True))."""

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        n_encoder_layers: int,
        n_decoder_layers: int,
        n_head: int,
        d_model: int,
    ) -> None:
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.src_pos = nn.Embedding(max_len, d_model)
        self.tgt_pos = nn.Embedding(max_len, d_model)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, n_head) for _ in range(n_encoder_layers))
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder = nn.ModuleList(DecoderLayer(d_model, n_head) for _ in range(n_decoder_layers))
        self.decoder_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied, as in the shared GPT
        for name, p in self.named_parameters():  # GPT-2's initialisation, as in gpt.py
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:
                nn.init.ones_(p)
            else:
                depth = n_encoder_layers + n_decoder_layers
                residual = name.endswith(("w_o.weight", "down.weight"))
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * depth) if residual else 0.02)

    def encode(self, src: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The memory H (B, S, d) of source tokens src (B, S); no mask = bidirectional."""
        x = self.tok_emb(src) + self.src_pos.weight[: src.shape[1]]  # (B, S, d)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x)

    def cross_keys_values(self, memory: torch.Tensor) -> KVCache:
        """Every decoder layer's cross-attention keys and values, computed once from H."""
        return tuple(layer.cross_attn.keys_values(memory) for layer in self.decoder)

    def decode(
        self, tgt_in: torch.Tensor, cross_kv: KVCache, past: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Decoder states (B, T, d) for the T new input tokens tgt_in, and the updated cache."""
        start = 0 if past is None else past[0][0].shape[2]  # positions already cached
        z = self.tok_emb(tgt_in) + self.tgt_pos.weight[start : start + tgt_in.shape[1]]
        presents = []
        for i, layer in enumerate(self.decoder):
            z, present = layer(z, cross_kv[i], None if past is None else past[i])
            presents.append(present)
        return self.decoder_norm(z), tuple(presents)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for the shifted targets tgt_in (B, T), given src (B, S)."""
        states, _ = self.decode(tgt_in, self.cross_keys_values(self.encode(src)))
        logits: torch.Tensor = self.head(states)
        return logits


# %% [markdown]
# ### The two ways of reading a transduction example
#
# The toy task is `token_task_batch("reverse", …)`: the source is $S$ random digits and the
# target is the same digits reversed. One extra token (id 10) is the separator of the
# decoder-only sequence and the start token of the decoder. The decoder-only model reads
# $[x;\texttt{SEP};y]$; its loss keeps only the positions that predict $y$, through labels of
# $-100$ (`ignore_index`) elsewhere. This is the same prompt masking as in supervised
# fine-tuning. The encoder–decoder reads $x$ in the encoder and $[\texttt{SEP};y_{<T}]$ in the
# decoder. Both return the loss {eq}`encdec-loss` and the argmax predictions for $y$.

# %%
N_DIGITS = 10  # tokens 0..9 are digits
SEP = 10  # separator (decoder-only) and start token (encoder–decoder)
VOCAB = 11
IGNORE = -100  # F.cross_entropy's ignore_index


def decoder_only_sequence(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """[source; SEP; target], (B, S + 1 + T)."""
    sep = torch.full_like(src[:, :1], SEP)
    return torch.cat([src, sep, tgt], dim=1)


def prompt_masked_labels(sequence: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """Labels (B, N-1) for logits[:, :-1]: the next token, IGNORE where it is still prompt."""
    labels = sequence[:, 1:].clone()  # the logit at position p predicts token p + 1
    labels[:, : prompt_len - 1] = IGNORE  # tokens 1 .. prompt_len-1 belong to the prompt
    return labels


def decoder_only_loss(
    model: GPT, src: torch.Tensor, tgt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """eq. (encdec-loss) with the prompt masked; returns the loss and predictions (B, T)."""
    sequence = decoder_only_sequence(src, tgt)  # (B, S+1+T)
    labels = prompt_masked_labels(sequence, src.shape[1] + 1)  # (B, S+T)
    logits = model(sequence)[0][:, :-1]  # (B, S+T, V)
    loss = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE)
    return loss, logits[:, src.shape[1] :].argmax(-1)  # positions S .. S+T-1 predict y


def encoder_decoder_loss(
    model: EncoderDecoder, src: torch.Tensor, tgt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """eq. (encdec-loss) with teacher forcing; returns the loss and predictions (B, T)."""
    tgt_in = torch.cat([torch.full_like(tgt[:, :1], SEP), tgt[:, :-1]], dim=1)  # shift right
    logits = model(src, tgt_in)  # (B, T, V)
    return F.cross_entropy(logits.transpose(1, 2), tgt), logits.argmax(-1)


# %% [markdown]
# ### Greedy decoding with the encoder–decoder's two caches
#
# Encode once, compute the cross-attention keys and values once, then feed one token per step
# and grow the self-attention cache. The reference path re-runs everything at every step,
# encoder included. (The decoder-only model uses the shared `GPT.generate`, whose cache
# [chapter 04](04_kv_cache.ipynb) builds from scratch.)


# %%
@torch.no_grad()
def greedy_decode(
    model: EncoderDecoder, src: torch.Tensor, n_new: int, use_cache: bool = True
) -> tuple[torch.Tensor, torch.Tensor, KVCache, KVCache | None]:
    """Tokens (B, n_new), step logits (B, n_new, V), the cross-attention K/V and the
    self-attention cache."""
    cross_kv = model.cross_keys_values(model.encode(src))  # eq. (encdec-cache): once
    tokens = torch.full_like(src[:, :1], SEP)  # (B, 1): the start token
    past: KVCache | None = None
    step_logits = []
    for _ in range(n_new):
        if use_cache:  # one new position, attending to the cached ones
            states, past = model.decode(tokens[:, -1:], cross_kv, past)
        else:  # everything again: encoder, cross K/V, and the whole target prefix
            states, _ = model.decode(tokens, model.cross_keys_values(model.encode(src)))
        logits = model.head(states[:, -1])  # (B, V)
        step_logits.append(logits)
        tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], dim=1)
    return tokens[:, 1:], torch.stack(step_logits, dim=1), cross_kv, past


# %% [markdown]
# ### Span corruption
#
# T5's rule {eq}`encdec-span`: the numbers of noise tokens and of spans are fixed by $T$, $r$
# and $\mu$. The noise tokens are cut into $n_\text{spans}$ non-empty spans at random, and the
# kept tokens into as many. The two kinds then alternate, starting with kept tokens. Cutting $n$
# items into $k$ non-empty pieces uniformly means choosing $k-1$ distinct cut points among the
# $n-1$ gaps.

# %%
SENTINEL_START = 1000  # sentinel k is 1000 + k (T5 uses the last ids of its vocabulary)
EOS = 999


def span_counts(length: int, noise_density: float, mean_span: float) -> tuple[int, int]:
    """eq. (encdec-span): (n_noise, n_spans), with T5's guards against empty sets."""
    n_noise = min(max(int(np.round(length * noise_density)), 1), length - 1)
    n_spans = max(int(np.round(n_noise / mean_span)), 1)
    return n_noise, n_spans


def random_segmentation(n_items: int, n_segments: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths of n_segments non-empty pieces that add up to n_items, uniformly at random."""
    cuts = np.sort(rng.choice(np.arange(1, n_items), size=n_segments - 1, replace=False))
    return np.diff(np.concatenate([[0], cuts, [n_items]]))


def span_corruption(
    tokens: np.ndarray,
    rng: np.random.Generator,
    noise_density: float = 0.15,
    mean_span: float = 3.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T5's span corruption: inputs, targets (both end with EOS) and the noise mask (T,)."""
    n_noise, n_spans = span_counts(len(tokens), noise_density, mean_span)
    noise_lengths = random_segmentation(n_noise, n_spans, rng)
    kept_lengths = random_segmentation(len(tokens) - n_noise, n_spans, rng)
    run_lengths = np.stack([kept_lengths, noise_lengths], axis=1).ravel()  # kept, noise, …
    noise = np.repeat(np.tile([False, True], n_spans), run_lengths)  # (T,)
    span_starts = noise & ~np.concatenate([[False], noise[:-1]])  # first token of each span
    sentinels = SENTINEL_START + np.cumsum(span_starts) - 1  # the span index of each token
    inputs, targets = [], []
    for token, is_noise, starts, sentinel in zip(
        tokens, noise, span_starts, sentinels, strict=True
    ):
        if starts:  # one sentinel in the input and in the target for each span
            inputs.append(sentinel)
            targets.append(sentinel)
        (targets if is_noise else inputs).append(token)
    return np.array([*inputs, EOS]), np.array([*targets, EOS]), noise


def undo_span_corruption(inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The original sequence: each sentinel of the input replaced by the span it hides."""
    spans: dict[int, list[int]] = {}
    current = -1
    for token in targets[:-1]:
        if token >= SENTINEL_START:
            current = int(token)
            spans[current] = []
        else:
            spans[current].append(int(token))
    restored: list[int] = []
    for token in inputs[:-1]:
        restored.extend(spans[int(token)] if token >= SENTINEL_START else [int(token)])
    return np.array(restored)


# %% [markdown]
# ## Verification
#
# ### The masks
#
# {eq}`encdec-concat`: the encoder–decoder's three masks, put together over $[x;y]$, are the
# prefix-LM mask with the source as prefix. Check it for a few shapes, and that
# `prefix_lm_mask` reduces to the causal mask with no prefix and to the bidirectional mask with
# a full one:

# %%
for n_source, n_target in [(1, 1), (6, 6), (5, 9)]:
    check_equal(
        f"encoder–decoder mask over [x; y] = prefix-LM mask, S = {n_source}, T = {n_target}",
        encoder_decoder_mask(n_source, n_target),
        prefix_lm_mask(n_source + n_target, n_source),
    )
check_equal("prefix-LM mask with P = 0 is causal", prefix_lm_mask(7, 0), causal_mask(7))
check_equal(
    "prefix-LM mask with P = N is bidirectional", prefix_lm_mask(7, 7), torch.ones(7, 7) > 0
)

# %% [markdown]
# ### Cross-attention against `nn.MultiheadAttention`
#
# `nn.MultiheadAttention(d, h)` with a separate key/value input is cross-attention. It stacks
# $W_Q,W_K,W_V$ into one `in_proj_weight`. Copy our weights in, give it target queries and
# source keys, and compare:

# %%
D_CHECK, H_CHECK = 16, 4
cross = Attention(D_CHECK, H_CHECK)
torch_cross = nn.MultiheadAttention(D_CHECK, H_CHECK, batch_first=True)
with torch.no_grad():
    torch_cross.in_proj_weight.copy_(
        torch.cat([cross.w_q.weight, cross.w_k.weight, cross.w_v.weight])
    )
    torch_cross.in_proj_bias.copy_(torch.cat([cross.w_q.bias, cross.w_k.bias, cross.w_v.bias]))
    torch_cross.out_proj.weight.copy_(cross.w_o.weight)
    torch_cross.out_proj.bias.copy_(cross.w_o.bias)
target_states, memory_states = torch.randn(3, 5, D_CHECK), torch.randn(3, 7, D_CHECK)  # T=5, S=7
ours = cross(target_states, *cross.keys_values(memory_states))  # (B, T, d)
reference = torch_cross(target_states, memory_states, memory_states, need_weights=False)[0]
check_close(
    "cross-attention vs nn.MultiheadAttention(q=target, k=v=memory)", ours, reference, atol=1e-12
)

# %% [markdown]
# ### The whole stack against `nn.Transformer`
#
# `nn.Transformer(norm_first=True, activation="gelu")` is the same pre-norm architecture, with a
# final LayerNorm after each stack. It does not include the embeddings or the output head.
# Copy the weights of a 2 + 2-layer model into it, feed both the same embedded inputs with
# PyTorch's causal target mask, and compare the decoder outputs. This checks the wiring: which
# norm feeds which sublayer, and that the cross-attention reads the *final* encoder output.


# %%
def copy_attention(ours: Attention, theirs: nn.MultiheadAttention) -> None:
    """Load our W_Q, W_K, W_V, W_O into nn.MultiheadAttention's stacked parameters."""
    theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
    theirs.out_proj.weight.copy_(ours.w_o.weight)
    theirs.out_proj.bias.copy_(ours.w_o.bias)


@torch.no_grad()
def as_torch_transformer(model: EncoderDecoder, n_head: int) -> nn.Transformer:
    """An nn.Transformer with the weights of our encoder and decoder stacks."""
    d = model.tok_emb.embedding_dim
    with warnings.catch_warnings():  # "nested tensors are off with norm_first": irrelevant here
        warnings.simplefilter("ignore", UserWarning)
        reference = nn.Transformer(
            d, n_head, len(model.encoder), len(model.decoder), dim_feedforward=4 * d,
            dropout=0.0, activation="gelu", batch_first=True, norm_first=True,
            dtype=model.tok_emb.weight.dtype,
        )  # fmt: skip
    pairs: list[tuple[nn.Module, nn.Module]] = []
    for ours, theirs in zip(model.encoder, reference.encoder.layers, strict=True):
        copy_attention(ours.self_attn, theirs.self_attn)
        pairs += [(ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2)]
        pairs += [(ours.mlp.up, theirs.linear1), (ours.mlp.down, theirs.linear2)]
    for ours, theirs in zip(model.decoder, reference.decoder.layers, strict=True):
        copy_attention(ours.self_attn, theirs.self_attn)
        copy_attention(ours.cross_attn, theirs.multihead_attn)
        pairs += [(ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2)]
        pairs += [(ours.norm3, theirs.norm3)]
        pairs += [(ours.mlp.up, theirs.linear1), (ours.mlp.down, theirs.linear2)]
    pairs += [(model.encoder_norm, reference.encoder.norm)]
    pairs += [(model.decoder_norm, reference.decoder.norm)]
    for ours_module, their_module in pairs:
        their_module.load_state_dict(ours_module.state_dict())
    return reference


# %%
S_CHECK = T_CHECK = 6
torch.manual_seed(0)
checked_model = EncoderDecoder(VOCAB, 2 * S_CHECK + 1, 2, 2, H_CHECK, D_CHECK)
for p in checked_model.parameters():  # away from the special initialisation (zero biases…)
    p.data += 0.1 * torch.randn_like(p)
torch_transformer = as_torch_transformer(checked_model, H_CHECK)
src_check = torch.randint(0, N_DIGITS, (3, S_CHECK))  # (B, S)
tgt_in_check = torch.randint(0, VOCAB, (3, T_CHECK))  # (B, T)
ours, _ = checked_model.decode(
    tgt_in_check, checked_model.cross_keys_values(checked_model.encode(src_check))
)  # (B, T, d)
reference = torch_transformer(
    checked_model.tok_emb(src_check) + checked_model.src_pos.weight[:S_CHECK],
    checked_model.tok_emb(tgt_in_check) + checked_model.tgt_pos.weight[:T_CHECK],
    tgt_mask=nn.Transformer.generate_square_subsequent_mask(T_CHECK),
)
check_close("encoder–decoder stack vs nn.Transformer(norm_first=True)", ours, reference, atol=1e-12)

# %% [markdown]
# ### The outputs obey the masks
#
# A mask is a claim about dependence: output $i$ may change when input token $j$ changes only if
# $M_{ij}=1$. To measure the dependence, replace one input token at a time and record which
# outputs move. Where the mask is 0 the attention weight is exactly 0, so the output should be
# bit-identical. Where it is 1, the output should change. For the encoder–decoder: the encoder
# outputs against the source tokens, the decoder outputs against the decoder's input tokens,
# and the decoder outputs against the source tokens. For the shared GPT: its outputs over
# $[x;\texttt{SEP};y]$. For a prefix LM: the encoder stack run with the mask
# {eq}`encdec-prefix`.


# %%
def dependence(
    outputs_of: Callable[[torch.Tensor], torch.Tensor], tokens: torch.Tensor, atol: float = 1e-12
) -> tuple[torch.Tensor, float, float]:
    """(N_out, N_in) boolean: does output i change when input token j is replaced?

    Also returns the smallest change where there is one and the largest where there is none.
    """
    n = tokens.shape[0]
    variants = tokens.repeat(n + 1, 1)  # (n+1, n): row 0 unchanged, row j+1 changes token j
    variants[torch.arange(n) + 1, torch.arange(n)] = (tokens + 1) % N_DIGITS
    with torch.no_grad():
        outputs = outputs_of(variants)  # (n+1, N_out, ·)
    change = (outputs[1:] - outputs[:1]).abs().amax(dim=-1).T  # (N_out, N_in)
    depends = change > atol
    largest_non_change = change[~depends].max().item() if (~depends).any() else 0.0
    return depends, change[depends].min().item(), largest_non_change


source_tokens = torch.randint(0, N_DIGITS, (S_CHECK,))  # (S,)
target_tokens = torch.randint(0, N_DIGITS, (T_CHECK,))  # (T,) decoder inputs
memory_fixed = checked_model.encode(source_tokens[None])
measured = {
    "encoder self-attention": dependence(checked_model.encode, source_tokens),
    "decoder self-attention": dependence(
        lambda t: checked_model.decode(
            t, checked_model.cross_keys_values(memory_fixed.expand(len(t), -1, -1))
        )[0],
        target_tokens,
    ),
    "cross-attention": dependence(
        lambda s: checked_model.decode(
            target_tokens.expand(len(s), -1),
            checked_model.cross_keys_values(checked_model.encode(s)),
        )[0],
        source_tokens,
    ),
}
torch.manual_seed(0)
checked_gpt = GPT(
    GPTConfig(
        vocab_size=VOCAB, block_size=2 * S_CHECK + 1, n_layer=2, n_head=H_CHECK, d_model=D_CHECK
    )
)
joint_tokens = decoder_only_sequence(source_tokens[None], target_tokens[None])[0]  # (S+1+T,)
measured["decoder-only"] = dependence(lambda t: checked_gpt(t)[0], joint_tokens)
prefix_mask = prefix_lm_mask(len(joint_tokens), S_CHECK + 1)
measured["prefix LM"] = dependence(lambda t: checked_model.encode(t, prefix_mask), joint_tokens)

expected_masks = {
    "encoder self-attention": bidirectional_mask(S_CHECK, S_CHECK),
    "decoder self-attention": causal_mask(T_CHECK),
    "cross-attention": bidirectional_mask(T_CHECK, S_CHECK),
    "decoder-only": causal_mask(len(joint_tokens)),
    "prefix LM": prefix_mask,
}
for name, (depends, smallest_change, largest_non_change) in measured.items():
    check_equal(f"{name}: measured dependence = mask", depends, expected_masks[name])
    print(
        f"    smallest change where allowed {smallest_change:.1e}, "
        f"largest where masked {largest_non_change:.1e}"
    )

# %% [markdown]
# So changing a *later* target token leaves every earlier decoder output bit-identical. Changing
# *any* source token moves every decoder output and every encoder output. The figure draws the
# measured dependence, which the checks above found equal to the masks. The middle panel of the
# bottom row assembles the encoder–decoder's blocks over $[x;y]$ ({eq}`encdec-concat`). The
# encoder does not read $y$, so its top-right block is zero by construction.

# %%
blocks = torch.cat(
    [
        torch.cat([measured["encoder self-attention"][0], torch.zeros(S_CHECK, T_CHECK) > 0], 1),
        torch.cat([measured["cross-attention"][0], measured["decoder self-attention"][0]], 1),
    ]
)  # (S+T, S+T)
panels = [
    ("encoder self-attention\n(bidirectional)", measured["encoder self-attention"][0], None),
    ("decoder self-attention\n(causal)", measured["decoder self-attention"][0], None),
    ("cross-attention\n(target reads all source)", measured["cross-attention"][0], None),
    ("decoder-only on [x; SEP; y]\n(causal)", measured["decoder-only"][0], S_CHECK + 0.5),
    ("encoder–decoder over [x; y]\n(the three blocks)", blocks, S_CHECK - 0.5),
    ("prefix LM on [x; SEP; y]\n(prefix = x; SEP)", measured["prefix LM"][0], S_CHECK + 0.5),
]
fig, axes = plt.subplots(2, 3, figsize=(12, 8.2))
for ax, (title, depends, split) in zip(axes.ravel(), panels, strict=True):
    ax.imshow(depends.numpy(), cmap="Blues", vmin=0, vmax=1.3)
    ax.set(title=title, xlabel="input token j (key side)", ylabel="output position i (query)")
    ax.grid(False)
    if split is not None:  # the boundary between source (and SEP) and target
        ax.axvline(split, color=PALETTE[1], lw=1.5)
        ax.axhline(split, color=PALETTE[1], lw=1.5)
axes[0, 0].set(xlabel="source token j", ylabel="encoder output i")
axes[0, 1].set(xlabel="decoder input token j", ylabel="decoder output i")
axes[0, 2].set(xlabel="source token j", ylabel="decoder output i")
fig.suptitle(
    "Measured dependence (blue: output i changes when token j is replaced) equals each mask; "
    "over [x; y] the encoder–decoder has the prefix-LM pattern"
)
plt.show()

# %% [markdown]
# ### Training targets and span corruption
#
# The loss mask of our decoder-only sequence keeps exactly $|y|$ positions, and plain
# next-token prediction on the same sequence would keep $T_\text{seq}-1$
# ({eq}`encdec-targets`):

# %%
src_batch, tgt_batch = token_task_batch(
    "reverse", 4, S_CHECK, N_DIGITS, torch.Generator().manual_seed(0)
)
joint = decoder_only_sequence(src_batch, tgt_batch)  # (B, S+1+T)
kept = (prompt_masked_labels(joint, S_CHECK + 1) != IGNORE).sum(1)
check_equal("prompt-masked targets per sequence = |y|", kept, torch.full((4,), T_CHECK))
check_equal(
    "next-token targets per sequence = length - 1",
    (prompt_masked_labels(joint, 1) != IGNORE).sum(1),
    torch.full((4,), joint.shape[1] - 1),
)

# %% [markdown]
# Span corruption on a toy sentence, with T5's settings ($r=0.15$, $\mu=3$): the
# input keeps the unmasked words and one sentinel per span, and the target spells out the
# spans. Checks: the counts of {eq}`encdec-span`, spans that are runs of noise tokens, and a
# round trip that restores the sentence.

# %%
WORDS = (
    "a small model reads the whole source once and then writes the target one token at a time "
    "while every new token looks back at the tokens it has already written and at the source "
    "through the cross attention of each layer"
).split()
toy = np.arange(len(WORDS))  # token ids 0 .. T-1


def show(ids: np.ndarray) -> str:
    """Words for ids, <Xk> for sentinel k, </s> for the end token."""
    return " ".join(
        "</s>" if i == EOS else f"<X{i - SENTINEL_START}>" if i >= SENTINEL_START else WORDS[i]
        for i in ids
    )


inputs, targets, noise = span_corruption(toy, rng)
n_noise, n_spans = span_counts(len(toy), 0.15, 3.0)
print(f"T = {len(toy)}: {n_noise} noise tokens in {n_spans} spans")
print("inputs: ", show(inputs))
print("targets:", show(targets))
check_equal("noise tokens in the mask", int(noise.sum()), n_noise)
check_equal("target length = n_noise + n_spans + 1", len(targets), n_noise + n_spans + 1)
check_equal(
    "input length = T - n_noise + n_spans + 1", len(inputs), len(toy) - n_noise + n_spans + 1
)
check_equal(
    "round trip: inputs + targets restore the sequence", undo_span_corruption(inputs, targets), toy
)

# %% [markdown]
# The T5 code picks the raw length so that the corrupted input is exactly 512 tokens: 568 raw
# tokens give 512 inputs and 114 targets (its `random_spans_helper`). Our implementation of
# {eq}`encdec-span` reproduces both numbers. At 512 raw tokens, 200 random draws all give the
# same lengths (the counts are deterministic, only the positions are random), and the mean span
# length is $n_\text{noise}/n_\text{spans}$:

# %%
inputs, targets, _ = span_corruption(rng.integers(0, 100, 568), rng)
check_equal(
    "T5's lengths: 568 raw tokens -> (inputs, targets)", (len(inputs), len(targets)), (512, 114)
)
lengths, restored_ok, span_lengths = set(), True, []
for _ in range(200):
    sequence = rng.integers(0, 100, 512)
    inputs, targets, noise = span_corruption(sequence, rng)
    lengths.add((len(inputs), len(targets)))
    restored_ok &= bool(np.array_equal(undo_span_corruption(inputs, targets), sequence))
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], noise.astype(int), [0]]))))[::2]
    span_lengths.extend(runs)
n_noise_512, n_spans_512 = span_counts(512, 0.15, 3.0)
check_equal("512 tokens, 200 draws: (inputs, targets) lengths", sorted(lengths), [(462, 104)])
check_true("512 tokens, 200 draws: every round trip restores the sequence", restored_ok)
check_close(
    "mean span length = n_noise / n_spans",
    np.mean(span_lengths),
    n_noise_512 / n_spans_512,
    atol=1e-12,
)
print(
    f"512 tokens: {n_noise_512} noise tokens ({n_noise_512 / 512:.3f} of T) in {n_spans_512} "
    f"spans, mean span {n_noise_512 / n_spans_512:.2f}; "
    f"targets {n_noise_512 + n_spans_512 + 1} = {(n_noise_512 + n_spans_512 + 1) / 512:.3f} T"
)

# %% [markdown]
# ### The encoder–decoder's caches
#
# Greedy decoding with the two caches must give the same logits as re-running everything at
# each step. The cross-attention keys and values must have the size of {eq}`encdec-cache`,
# $2L_\text{dec}Sd$ numbers per sequence, whatever the number of generated tokens. The
# self-attention cache must hold $2L_\text{dec}td$.

# %%
N_NEW = 9
for n_new in (1, N_NEW):
    _, cached_logits, cross_kv, past = greedy_decode(checked_model, src_check, n_new)
    _, uncached_logits, _, _ = greedy_decode(checked_model, src_check, n_new, use_cache=False)
    check_close(
        f"{n_new} step(s): cached vs uncached decoder logits",
        cached_logits,
        uncached_logits,
        atol=1e-12,
    )
    batch, n_dec = src_check.shape[0], len(checked_model.decoder)
    cross_numbers = sum(k.numel() + v.numel() for k, v in cross_kv)
    self_numbers = sum(k.numel() + v.numel() for k, v in past)
    check_equal(
        f"{n_new} step(s): cross K/V numbers = 2·L_dec·S·d·B",
        cross_numbers,
        2 * n_dec * S_CHECK * D_CHECK * batch,
    )
    check_equal(
        f"{n_new} step(s): self-attention K/V numbers = 2·L_dec·t·d·B",
        self_numbers,
        2 * n_dec * n_new * D_CHECK * batch,
    )

# %% [markdown]
# ## Experiments
#
# ### 1. The same toy task, both architectures
#
# Reversal of $S=6$ digits. Both models have width $d=32$ and 4 heads. The decoder-only model is
# the shared GPT with 2 layers, over sequences of $2S+1=13$ tokens. The encoder–decoder has 1
# encoder and 1 decoder layer. Both train for the same steps, from the same batches, with Adam.
# First the parameter counts ({eq}`encdec-params`) and the forward FLOPs per example (measured
# with `FlopCounterMode`):

# %%
LENGTH, WIDTH, HEADS = 6, 32, 4
torch.manual_seed(0)
decoder_only = GPT(
    GPTConfig(vocab_size=VOCAB, block_size=2 * LENGTH + 1, n_layer=2, n_head=HEADS, d_model=WIDTH)
)
torch.manual_seed(0)
encoder_decoder = EncoderDecoder(VOCAB, 2 * LENGTH + 1, 1, 1, HEADS, WIDTH)
d = WIDTH
check_equal(
    "encoder layer parameters = 12d² + 13d",
    count_parameters(encoder_decoder.encoder[0]),
    12 * d**2 + 13 * d,
)
check_equal(
    "GPT block parameters = 12d² + 13d",
    count_parameters(decoder_only.blocks[0]),
    12 * d**2 + 13 * d,
)
check_equal(
    "decoder layer parameters = 16d² + 19d",
    count_parameters(encoder_decoder.decoder[0]),
    16 * d**2 + 19 * d,
)


def forward_flops(run: Callable[[], object]) -> int:
    """FLOPs counted by torch for one call."""
    with FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())


one_src, one_tgt = token_task_batch(
    "reverse", 1, LENGTH, N_DIGITS, torch.Generator().manual_seed(0)
)
params = {
    "decoder-only": count_parameters(decoder_only),
    "encoder–decoder": count_parameters(encoder_decoder),
}
flops = {
    "decoder-only": forward_flops(lambda: decoder_only_loss(decoder_only, one_src, one_tgt)),
    "encoder–decoder": forward_flops(
        lambda: encoder_decoder_loss(encoder_decoder, one_src, one_tgt)
    ),
}
for name in params:
    print(f"{name:16s} {params[name]:7,} parameters, {flops[name]:9,} forward FLOPs per example")
print(
    "encoder–decoder / decoder-only: "
    f"parameters ×{params['encoder–decoder'] / params['decoder-only']:.2f}, "
    f"FLOPs ×{flops['encoder–decoder'] / flops['decoder-only']:.2f}"
)
check_true(
    "the encoder–decoder spends fewer forward FLOPs per example",
    flops["encoder–decoder"] < flops["decoder-only"],
    f"{flops['encoder–decoder']:,} < {flops['decoder-only']:,}",
)

# %% [markdown]
# The parameter counts are close (their ratio is printed). The encoder–decoder needs fewer
# FLOPs per example, because each token passes through one layer of one stack, not through the
# two layers of the single stack, and the decoder-only sequence has one more token (SEP).
#
# Training: batches of 32 fresh sequences, the same stream for both models, float32. Every 10
# steps we measure the exact-match accuracy on 512 held-out sequences: the fraction whose
# whole target is predicted right. It is measured with teacher forcing, in one forward pass. For
# exact match, that is the same as greedy decoding. If every argmax is right given the true
# prefix, greedy decoding feeds itself that same prefix and reproduces it. If one argmax is
# wrong, the greedy output is wrong at that position or earlier. The last cell of this
# experiment checks the equivalence by decoding.

# %%
STEPS, BATCH, LR, EVAL_EVERY = 200, 32, 5e-3, 10
device = get_device()
test_src, test_tgt = token_task_batch(
    "reverse", 512, LENGTH, N_DIGITS, torch.Generator().manual_seed(2)
)
test_src, test_tgt = test_src.to(device), test_tgt.to(device)


def train(
    model: nn.Module, loss_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]], name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Train in float32; return the loss per step and the exact match every EVAL_EVERY steps."""
    model.to(device=device, dtype=torch.float32).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    data = torch.Generator().manual_seed(1)  # the same batches for both models
    losses, exact_match = [], []
    for step in tqdm(range(STEPS + 1), desc=name, leave=False):
        if step % EVAL_EVERY == 0:
            with torch.no_grad():
                _, predictions = loss_fn(model, test_src, test_tgt)
            exact_match.append((predictions == test_tgt).all(1).float().mean().item())
        if step == STEPS:
            break
        src, tgt = token_task_batch("reverse", BATCH, LENGTH, N_DIGITS, data)
        loss, _ = loss_fn(model, src.to(device), tgt.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses), np.array(exact_match)


curves = {
    "decoder-only": train(decoder_only, decoder_only_loss, "decoder-only"),
    "encoder–decoder": train(encoder_decoder, encoder_decoder_loss, "encoder–decoder"),
}
eval_steps = np.arange(0, STEPS + 1, EVAL_EVERY)
first_solved = {}
for name, (losses, exact_match) in curves.items():
    solved = np.flatnonzero(exact_match >= 0.99)
    first_solved[name] = int(eval_steps[solved[0]]) if solved.size else None
    print(
        f"{name:16s} final loss {losses[-1]:.4f}, exact match {exact_match[-1]:.3f}, "
        f"first ≥ 0.99 at step {first_solved[name]}"
    )

# %%
check_true(
    "decoder-only reaches exact match ≥ 0.99 no later than the encoder–decoder",
    first_solved["decoder-only"] is not None
    and (
        first_solved["encoder–decoder"] is None
        or first_solved["decoder-only"] <= first_solved["encoder–decoder"]
    ),
    f"step {first_solved['decoder-only']} vs {first_solved['encoder–decoder']}",
)
for name, (_, exact_match) in curves.items():
    check_true(
        f"{name}: learns the reversal", exact_match[-1] > 0.95, f"exact match {exact_match[-1]:.3f}"
    )

# %% [markdown]
# Teacher-forced exact match equals greedy exact match, sequence by sequence. The decoder-only
# model decodes with `GPT.generate`, the encoder–decoder with `greedy_decode` (both cached),
# on float64 copies:

# %%
decoder_only_64 = copy.deepcopy(decoder_only).cpu().double().eval()
encoder_decoder_64 = copy.deepcopy(encoder_decoder).cpu().double().eval()
src_cpu, tgt_cpu = test_src.cpu(), test_tgt.cpu()
prompt = torch.cat([src_cpu, torch.full_like(src_cpu[:, :1], SEP)], dim=1)  # (B, S+1)
greedy = {
    "decoder-only": decoder_only_64.generate(prompt, LENGTH)[:, LENGTH + 1 :],
    "encoder–decoder": greedy_decode(encoder_decoder_64, src_cpu, LENGTH)[0],
}
with torch.no_grad():
    forced = {
        "decoder-only": decoder_only_loss(decoder_only_64, src_cpu, tgt_cpu)[1],
        "encoder–decoder": encoder_decoder_loss(encoder_decoder_64, src_cpu, tgt_cpu)[1],
    }
for name in greedy:
    check_equal(
        f"{name}: greedy exact match = teacher-forced exact match, per sequence",
        (greedy[name] == tgt_cpu).all(1),
        (forced[name] == tgt_cpu).all(1),
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for color, (name, (losses, exact_match)) in zip(PALETTE, curves.items(), strict=False):
    label = f"{name} ({params[name]:,} params)"
    axes[0].plot(losses, color=color, lw=1.2, label=label)
    axes[1].plot(eval_steps, exact_match, "o-", ms=3, color=color, label=label)
axes[0].axhline(math.log(N_DIGITS), ls=":", color="0.5", label="chance, ln 10")
axes[0].set(
    yscale="log", xlabel="training step", ylabel="cross-entropy on y (nats)", title="Training loss"
)
axes[1].set(
    xlabel="training step",
    ylabel="exact match (whole target right)",
    title="Exact match on 512 held-out sequences",
)
axes[0].legend(loc="lower left")
axes[1].legend(loc="lower right")
fig.suptitle(
    f"Both learn to reverse {LENGTH} digits in {STEPS} steps; exact match ≥ 0.99 first at step "
    f"{first_solved['decoder-only']} (decoder-only) and {first_solved['encoder–decoder']} "
    "(encoder–decoder)"
)
plt.show()

# %% [markdown]
# Both models solve the task within the same steps, and here the decoder-only model got there
# first (the steps are in the title; a check above confirms the order). We have not isolated
# why. One difference is depth on the target side: every layer of the decoder-only model lets
# a target position read the source, while our encoder–decoder reads it through a single
# cross-attention. This is one seed of one toy task at a few tens of thousands of parameters.
# It shows that both layouts learn a transduction with the same loss {eq}`encdec-loss`. It says
# nothing about which is better at scale, where the evidence is mixed (see the Pitfalls).
#
# ### 2. Targets per sequence
#
# For a 512-token sequence, {eq}`encdec-targets` gives the number of positions that carry a
# loss. For the prompt-masked objectives, take half the sequence as prompt.

# %%
T_SEQ = 512
targets_per_sequence = {
    "next token\n(GPT pre-training)": (T_SEQ - 1, 0),
    "prompt masked\n(|y| = T/2)": (T_SEQ // 2, 0),
    "MLM, 15 %\n(BERT)": (round(0.15 * T_SEQ), 0),
    "span corruption\n(T5, 15 %, μ = 3)": (n_noise_512, n_spans_512 + 1),
}
for name, (tokens, extra) in targets_per_sequence.items():
    print(f"{name.splitlines()[0]:16s} {tokens:4d} target tokens + {extra:2d} sentinels/end")

# %% [markdown]
# ### 3. When the input grows
#
# Append one token to the source and re-run. For the encoder–decoder, compare the encoder output
# at the first $S$ positions before and after. For the decoder-only model, compare the cached
# keys and values of the first $S$ positions in every layer. Both use the trained float64
# models. The decoder-only model can also simply continue from its cache; the result must equal
# a full re-run.

# %%
grown_src = torch.cat([src_cpu[:64], torch.randint(0, N_DIGITS, (64, 1))], dim=1)  # (B, S+1)
with torch.no_grad():
    memory_before = encoder_decoder_64.encode(src_cpu[:64])  # (B, S, d)
    memory_after = encoder_decoder_64.encode(grown_src)[:, :LENGTH]
    cross_before = encoder_decoder_64.cross_keys_values(memory_before)[0][0]  # layer 0's keys
    cross_after = encoder_decoder_64.cross_keys_values(memory_after)[0][0]
    _, kv_before = decoder_only_64(src_cpu[:64], use_cache=True)
    logits_after, kv_after = decoder_only_64(grown_src, use_cache=True)
    logits_continued, _ = decoder_only_64(
        grown_src[:, -1:], past_key_values=kv_before, use_cache=True
    )
encoder_change = (memory_after - memory_before).abs().amax(dim=(0, 2))  # (S,)
kv_change = torch.stack(
    [
        torch.maximum(
            (k_a[:, :, :LENGTH] - k_b).abs().amax(dim=(0, 1, 3)),
            (v_a[:, :, :LENGTH] - v_b).abs().amax(dim=(0, 1, 3)),
        )
        for (k_b, v_b), (k_a, v_a) in zip(kv_before, kv_after, strict=True)
    ]
).amax(0)  # (S,): over layers, heads, batch and width
print("encoder output change per old position:", encoder_change.numpy().round(3))
print(
    "encoder–decoder, layer-0 cross-attention keys: max change "
    f"{(cross_after - cross_before).abs().max():.3f}"
)
check_true(
    "encoder–decoder: every old position's memory changes",
    bool((encoder_change > 1e-3).all()),
    f"smallest change {encoder_change.min():.3g}",
)
check_close(
    "decoder-only: old positions' K/V, all layers, after appending",
    kv_change,
    torch.zeros(LENGTH),
    atol=1e-12,
)
check_close(
    "decoder-only: continuing from the cache = re-running the grown input",
    logits_continued[:, -1],
    logits_after[:, -1],
    atol=1e-12,
)

# %% [markdown]
# The encoder's states at all the old positions move, so a growing input costs a full
# re-encoding, and new cross-attention keys and values in every decoder layer. The decoder-only
# model's cached keys and values do not move, to rounding. In a chat, {eq}`encdec-reencode`
# counts the cost: 10 turns of 100 tokens make the encoder process 5,500 tokens in total,
# against 1,000 for a decoder-only model that keeps its cache.

# %%
turns, per_turn = 10, 100
reencoded = sum(k * per_turn for k in range(1, turns + 1))
check_equal(
    "eq. (encdec-reencode): n K (K + 1) / 2", reencoded, per_turn * turns * (turns + 1) // 2
)
print(
    f"{turns} turns of {per_turn} tokens: re-encoding {reencoded:,} tokens, "
    f"prefix cache {turns * per_turn:,}"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), width_ratios=[1.3, 1])
names = list(targets_per_sequence)
real = [targets_per_sequence[n][0] for n in names]
extra = [targets_per_sequence[n][1] for n in names]
axes[0].bar(names, real, color=PALETTE[0], label="target tokens from the text")
axes[0].bar(names, extra, bottom=real, color=PALETTE[2], label="sentinels + end token")
for i, (r, e) in enumerate(zip(real, extra, strict=True)):
    axes[0].text(i, r + e + 8, f"{r + e}", ha="center")
axes[0].set(ylabel=f"positions with a loss, T = {T_SEQ}", title="Training targets per sequence")
axes[0].tick_params(axis="x", labelsize=8)
axes[0].legend()
positions = np.arange(LENGTH)
axes[1].bar(positions - 0.2, encoder_change.numpy(), 0.4, color=PALETTE[1], label="encoder output")
axes[1].bar(
    positions + 0.2, kv_change.numpy(), 0.4, color=PALETTE[0], label="decoder-only cached K/V"
)
for position, change in zip(positions, kv_change.numpy(), strict=True):
    axes[1].text(position + 0.2, 0.002, f"{change:.0g}", ha="center", color=PALETTE[0])
axes[1].set(
    xlabel="old source position",
    ylabel="max |change| after appending a token",
    title="States of the old positions after appending a token",
    ylim=(0, 1.35 * encoder_change.max().item()),
)
axes[1].legend(loc="upper left")
fig.suptitle(
    f"Next-token prediction trains on {T_SEQ - 1} of {T_SEQ} positions, span corruption on "
    f"{n_noise_512 + n_spans_512 + 1}; a growing input moves every encoder state "
    "and no cached decoder K/V"
)
plt.show()

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Decoder-only models naturally support KV caching." Right?
# Not as a difference between the two. It is the notes' claim, and it is wrong as stated. An
# encoder–decoder's decoder is causal and caches its self-attention keys and values exactly as
# a GPT does. Its cross-attention keys and values are computed once from the encoder output,
# $2L_\text{dec}Sd$ numbers per sequence, and reused at every step (checked above). The real
# asymmetry is the *input*: when it grows (a new chat turn), a bidirectional encoder must
# re-encode it all, while a decoder-only model appends to its cache (Experiment 3). Serving
# systems build *prefix caching* on this: many requests share a system prompt, which is
# processed once.
# :::
#
# :::{dropdown} "Decoder-only scales better." Is that established?
# No. {cite:t}`raffel2020exploring` compared architectures at matched compute (Table 2): the
# encoder–decoder with a denoising objective came out best, and it stayed ahead of the
# decoder-only and prefix-LM models even when its two stacks shared their parameters.
# {cite:t}`wang2022what` found the causal decoder with next-token prediction best for *zero-shot*
# use after unsupervised pre-training alone. After multitask fine-tuning, a non-causal model
# trained with a masked objective was best. UL2 {cite}`tay2023ul2` argues that the objective
# and the architecture are separate choices: its mixture of denoisers trains either kind. What
# is clear is why the field standardised on decoder-only: one stack, one objective that uses
# every token, one interface for every task (prompting, in-context learning
# {cite}`radford2019language,brown2020gpt3`, chat), and a cacheable history.
# :::
#
# :::{dropdown} Where are encoder-only models in this picture?
# The notes leave them out. BERT {cite}`devlin2019bert` is a bidirectional encoder trained by
# masked language modelling: 15 % of the tokens are hidden and predicted, so about $0.15T$
# targets per sequence. Every position sees the whole text, which is what an embedding, a
# classifier or a tagger needs. It cannot generate text left to right without a decoder. For
# sentence embeddings, retrieval and classification at low cost, encoder-only models are
# still the default. Decoder-only LLMs can also be used as embedders (by pooling or taking the
# last token), but their token states only see the left context.
# :::
#
# :::{dropdown} Is a prefix LM a decoder-only model?
# It is a single stack like one, with the mask {eq}`encdec-prefix`: bidirectional over the
# prompt, causal after it. It sees the input the way an encoder–decoder does
# ({eq}`encdec-concat`), with one set of weights. Caching works after the prompt, because the
# prompt never attends to generated tokens. Extending the prompt (a new chat turn) changes every
# prompt position's states, as in an encoder.
# :::
#
# :::{dropdown} Does the decoder attend to every encoder layer?
# No. In the standard layout, every decoder layer's cross-attention reads the *final* encoder
# output $H$ (checked against `nn.Transformer` above). Each decoder layer has its own
# $W'_K,W'_V$, so there are $L_\text{dec}$ different sets of cross keys and values, but all are
# projections of the same $H$. In a prefix LM, a target position at layer $\ell$ reads the
# source positions' layer-$(\ell-1)$ states instead.
# :::
#
# :::{dropdown} Comparing "equal size" models: parameters or FLOPs?
# Both, and they disagree. With $L$ layers in each stack, an encoder–decoder has about twice
# the parameters of an $L$-layer decoder-only model, for about the same FLOPs per example,
# because each token passes through only one of the stacks. At equal parameters (Experiment 1),
# it spends fewer FLOPs. Raffel et al. report both ("$2P$ parameters, $M$ FLOPs" against "$P$,
# $M$"). A claim that one architecture "is better" should say which budget it held fixed.
# :::
#
# :::{dropdown} Prompt masking: the classic off-by-one
# The logit at position $p$ predicts token $p+1$. With a prompt of length $P$ (here
# $[x;\texttt{SEP}]$, $P=S+1$), the first target $y_1$ is predicted at position $P-1$, the
# separator. Masking the labels "at the prompt positions" instead of "where the *next* token is
# still prompt" silently drops $y_1$, or trains on predicting the separator. The count check
# (`|y|` targets per sequence) catches both. Padding must be masked the same way.
# :::
#
# :::{dropdown} Are all chat LLMs decoder-only?
# GPT, Llama, Qwen, Mistral and DeepSeek publish decoder-only architectures. The Gemini
# reports describe decoder Transformers, but give only part of the details. Encoder–decoders
# remain common where an input is read once and transformed: translation, speech recognition
# (Whisper), and T5/Flan-T5-style models for summarisation and extraction. They are
# also used when one encoded input serves many decoded outputs, since the encoding is shared.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. T5 corrupts a raw sequence of 1024 tokens at $r=0.15$, $\mu=3$. How many input and
#    target tokens does the example have, end tokens included?
#
#    :::{dropdown} Answer
#    $n_\text{noise}=\operatorname{round}(153.6)=154$ and
#    $n_\text{spans}=\operatorname{round}(51.33)=51$. Inputs: $1024-154+51+1=922$. Targets:
#    $154+51+1=206$, about $0.2T$ (and $0.15T$ without the sentinels and the end token). The
#    cell checks it with `span_corruption`.
#    :::

# %%
inputs, targets, _ = span_corruption(rng.integers(0, 100, 1024), rng)
check_equal("exercise 1: (inputs, targets) for T = 1024", (len(inputs), len(targets)), (922, 206))

# %% [markdown]
# 2. An encoder–decoder with $L_\text{dec}=12$ decoder layers and $d=768$ (the T5-base shape)
#    reads a 512-token source and writes in bf16. How many bytes do its cross-attention keys
#    and values take per sequence? Does this grow while it generates?
#
#    :::{dropdown} Answer
#    $2\cdot12\cdot512\cdot768\cdot2=18{,}874{,}368$ B $=18$ MiB, by {eq}`encdec-cache`, and
#    it does not grow: it depends on $S$, not on the number of generated tokens. The
#    self-attention cache grows by $2\cdot12\cdot768\cdot2$ B $=36$ KiB per generated token.
#    The cell builds a model of that shape on PyTorch's `meta` device (shapes without data)
#    and sums the bytes of its cross-attention keys and values.
#    :::

# %%
with torch.device("meta"):  # shapes and dtypes only: no memory, no arithmetic
    t5_base_shape = EncoderDecoder(VOCAB, 512, 1, 12, 12, 768).to(torch.bfloat16)
    cross_kv_512 = t5_base_shape.cross_keys_values(
        t5_base_shape.encode(torch.zeros(1, 512, dtype=torch.long))
    )
cross_bytes = sum(k.nbytes + v.nbytes for k, v in cross_kv_512)
check_equal(
    "exercise 2: cross K/V bytes, L_dec = 12, S = 512, d = 768, bf16", cross_bytes, 18_874_368
)
check_equal("exercise 2: self-attention K/V bytes per generated token", 2 * 12 * 768 * 2, 36 * 1024)

# %% [markdown]
# 3. A user adds a sentence to the *beginning* of a long conversation (say, a new system
#    prompt). Which architecture can reuse its cache?
#
#    :::{dropdown} Answer
#    Neither. A decoder-only model's key and value at position $i$ depend on tokens $1..i$, so a
#    change at the front changes every position after it, and the cache is valid only up to the
#    first changed token. Prefix caching reuses *prefixes*, which is why serving systems put the
#    fixed part of a prompt (system prompt, instructions) first and the variable part last. The
#    encoder must re-encode in any case.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`vaswani2017attention`: section 3.1 and Figure 1 (the encoder–decoder layout,
#   cross-attention as "encoder–decoder attention"), section 3.2.3 (the three uses of
#   attention and the causal mask).
# - {cite:t}`raffel2020exploring`: section 3.2 with Figures 3 and 4 (fully visible, causal and
#   prefix masks; encoder–decoder, language model and prefix LM), Table 2 (the architecture
#   comparison at matched parameters and FLOPs, and the encoder–decoder with denoising as the
#   best), section 3.1.4 with Figure 2 (the objective with sentinels), section 3.3.4 and the T5
#   code's `random_spans_noise_mask` and `random_spans_helper` (span corruption, 15 %, mean span
#   3, the 568 → 512/114 lengths).
# - {cite:t}`wang2022what`: the causal decoder best for zero-shot after unsupervised
#   pre-training; non-causal models with a masked objective best after multitask fine-tuning.
# - {cite:t}`tay2023ul2`: the mixture of denoisers, and the separation of objective from
#   architecture.
# - {cite:t}`devlin2019bert`: the encoder-only model and the masked LM objective (15 % of the
#   tokens).
# - {cite:t}`radford2019language` and {cite:t}`brown2020gpt3`: decoder-only models doing tasks
#   from a prompt, zero-shot and in-context (few-shot).
# - {cite:t}`pytorch2025transformer`: `nn.Transformer` with `norm_first=True`, the reference
#   for the whole stack; {cite:t}`pytorch_attention`: `nn.MultiheadAttention`, the reference for
#   cross-attention.

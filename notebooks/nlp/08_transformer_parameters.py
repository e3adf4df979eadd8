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
# # 08. Counting the parameters of a transformer
#
# **The question.** What parameters are learnable in a Transformer, and how many are there?
#
# **What you will be able to answer.** Every learnable tensor of a GPT-style decoder with its
# shape; the exact count of GPT-2 small (124,439,808) and of Llama-2-7B (6,738,415,616) from a
# formula; the $12d^2$-per-layer rule and when it fails; where the parameters of small and
# large models live; and how much memory the weights and the Adam states take.

# %%
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.gpt import GPT, GPTConfig
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# In a GPT-style decoder with width $d$, $L$ layers, vocabulary $V$ and context $T$:
#
# - **Embeddings.** The token embedding, $V\times d$. Learned absolute positions (GPT-2,
#   BERT) add $T\times d$; sinusoidal encodings, RoPE and ALiBi have **no** parameters.
# - **Per layer.** Attention: $W_Q,W_K,W_V,W_O$, $4d^2$ (plus $4d$ biases). With grouped-query
#   attention $W_K,W_V$ shrink to $d\times n_\text{kv}d_\text{head}$. Feed-forward: $8d^2+5d$
#   with GELU and width $4d$ (two matrices with biases), or $3\,d\,d_\text{ff}$ with SwiGLU
#   (three matrices, no biases). Two norms: $2d$ each for LayerNorm, $d$ for RMSNorm. That is
#   **$\approx12d^2$ per layer**; GPT-2 has exactly $12d^2+13d$.
# - **The rest.** A final norm, and the output head ($V\times d$), which GPT-2 **ties** to
#   the token embedding (no extra parameters) and LLaMA does not.
# - **Totals.** GPT-2 small: $Vd+Td+L(12d^2+13d)+2d=$ 124,439,808, checked below by building
#   the model. Llama-2-7B: 6,738,415,616. Embeddings are about a third of GPT-2 small but
#   a few percent or less of the large models.
# - **Memory.** 2 bytes per parameter for bf16 weights; about 16 bytes per parameter to train
#   with Adam in mixed precision (weights, gradients, a float32 master copy and two Adam
#   moments), before activations. Training costs about $6N$ FLOPs per token.
#
# The notes list token embeddings, $W_Q,W_K,W_V,W_O$ ("four weight matrix" should read "four
# weight matrices"), the norms, the FFN and the head. They give RMSNorm a "scale and shift":
# it has a scale only ([chapter 07](07_layernorm_vs_rmsnorm.ipynb)). They leave out learned
# position embeddings, the biases, the final norm, tying of the head, SwiGLU's third matrix,
# and the smaller $W_K,W_V$ of grouped-query attention.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | `GPTConfig` field |
# |---|---|---|
# | $V$ | vocabulary size | `vocab_size` |
# | $T$ | context length (positions) | `block_size` |
# | $d$ | model width | `d_model` |
# | $L$ | number of layers (blocks) | `n_layer` |
# | $h,\ d_\text{head}=d/h$ | query heads and their width | `n_head`, `head_dim` |
# | $n_\text{kv}$ | key/value heads ($h$: MHA, 1: MQA, between: GQA) | `n_kv_head` |
# | $d_\text{ff}$ | hidden width of the feed-forward network | `d_ff` ($4d$ by default) |
# | $b\in\{0,1\}$ | 1 if the linear layers (and LayerNorms) have biases | `bias` |
#
# A linear map from $m$ to $n$ features has an $m\times n$ weight and, with a bias, $n$ more
# numbers. Everything below is a sum of such terms.
#
# ### Embeddings
#
# The token embedding is a $V\times d$ table, one row per token. GPT-2
# {cite}`radford2019language` and BERT also learn a $T\times d$ table of absolute positions:
#
# $$
# P_\text{emb}=Vd+\underbrace{Td}_{\text{learned positions only}}
# $$ (tparam-embedding)
#
# Sinusoidal encodings are a fixed function of the position; RoPE rotates queries and keys by
# fixed position-dependent angles; ALiBi adds a fixed distance penalty to the attention
# scores. None of them has parameters.
#
# ### Attention
#
# The queries use $h$ heads of width $d_\text{head}$, so $W_Q$ is $d\times hd_\text{head}=d\times
# d$ and $W_O$ is $d\times d$. Keys and values use $n_\text{kv}$ heads, so $W_K,W_V$ are
# $d\times n_\text{kv}d_\text{head}$ ([chapter 01](01_self_attention.ipynb) builds
# multi-head attention; with $n_\text{kv}<h$ several query heads share one key/value head):
#
# $$
# P_\text{attn}=2d^2+2\,d\,n_\text{kv}d_\text{head}
# +b\,\big(2d+2\,n_\text{kv}d_\text{head}\big)
# \ \overset{n_\text{kv}=h}{=}\ 4d^2+4bd
# $$ (tparam-attention)
#
# The number of heads does not appear in the multi-head case: splitting $d$ into heads is a
# reshape.
#
# ### Feed-forward network
#
# GPT-2's FFN maps $d\to d_\text{ff}\to d$ with a GELU in between. LLaMA's SwiGLU
# {cite}`shazeer2020glu` multiplies a gated branch $\operatorname{SiLU}(xW_1)$ with a second
# projection $xW_3$ before $W_2$, one matrix more:
#
# $$
# P_\text{FFN}^\text{GELU}=2\,d\,d_\text{ff}+b\,(d_\text{ff}+d)
# \ \overset{d_\text{ff}=4d}{=}\ 8d^2+5d\ (b=1),\qquad
# P_\text{FFN}^\text{SwiGLU}=3\,d\,d_\text{ff}+b\,(2d_\text{ff}+d)
# $$ (tparam-ffn)
#
# To keep the SwiGLU FFN near $8d^2$, LLaMA shrinks the width to $\tfrac23\cdot4d$
# {cite}`touvron2023llama`, and its reference code rounds it up to a multiple of 256. For
# $d=4096$ this gives
#
# $$
# d_\text{ff}=256\left\lceil\frac{\lfloor 8d/3\rfloor}{256}\right\rceil=256\cdot
# \left\lceil\frac{10922}{256}\right\rceil=11008
# $$ (tparam-llama-dff)
#
# ### Norms and the head
#
# Each block has two norms (before attention and before the FFN in a pre-norm model), and a
# pre-norm model has one more after the last block:
#
# $$
# P_\text{norm}=\begin{cases}2d & \text{LayerNorm with bias }(\gamma,\beta)\\
# d & \text{RMSNorm }(g),\ \text{or LayerNorm without bias}\end{cases}
# $$ (tparam-norm)
#
# The output head maps $d$ to $V$ logits with a $V\times d$ matrix and no bias. GPT-2 **ties**
# it to the token embedding {cite}`press2017using`: the same tensor serves both, and it is
# counted once. LLaMA keeps them separate, $Vd$ more.
#
# ### The total
#
# Putting the pieces together ($\mathbb 1$ is 1 when its condition holds, 0 otherwise):
#
# $$
# N=P_\text{emb}+L\,\big(P_\text{attn}+P_\text{FFN}+2P_\text{norm}\big)
# +\mathbb 1_\text{pre-norm}P_\text{norm}+\mathbb 1_\text{untied}\,Vd
# $$ (tparam-total)
#
# For GPT-2 (MHA, GELU with $d_\text{ff}=4d$, LayerNorm with biases, learned positions, tied
# head) each layer has $(4d^2+4d)+(8d^2+5d)+4d$ parameters:
#
# $$
# P_\text{layer}=12d^2+13d,\qquad
# N_\text{GPT-2}=Vd+Td+L\,(12d^2+13d)+2d
# $$ (tparam-gpt2)
#
# For GPT-2 small ($V=50257$, $T=1024$, $d=768$, $L=12$): $P_\text{layer}=7{,}077{,}888+9{,}984=
# 7{,}087{,}872$, and $N=38{,}597{,}376+786{,}432+85{,}054{,}464+1{,}536=124{,}439{,}808$.
#
# The $12d^2$ rule counts only the weight matrices of the blocks. It is off by the factor
# $1+13/(12d)$ per layer (0.14 % at $d=768$), but it leaves out the embeddings entirely. Their
# share of the total is about
#
# $$
# \frac{Vd}{Vd+12Ld^2}=\frac{1}{1+12Ld/V}
# $$ (tparam-embedding-share)
#
# which is large for small models ($12Ld/V\approx2.2$ for GPT-2 small) and small for large
# ones.
#
# ### Memory
#
# Inference needs the weights: 4 bytes per parameter in float32, 2 in bf16 or fp16.
# Training with Adam in mixed precision keeps, per parameter {cite}`rajbhandari2020zero` (the
# paper uses fp16; bf16 takes the same 2 bytes):
#
# $$
# \underbrace{2}_{\text{bf16 weights}}+\underbrace{2}_{\text{bf16 gradients}}
# +\underbrace{4}_{\text{fp32 master weights}}+\underbrace{4+4}_{\text{Adam } m,\,v
# \text{ in fp32}}=16\ \text{bytes}
# $$ (tparam-memory)
#
# The master copy exists because bf16 cannot represent small updates to large weights. Plain
# float32 training with Adam also needs $4+4+4+4=16$ bytes: mixed precision saves compute
# and activation memory, not model-state memory. Activations, temporary buffers and
# fragmentation come on top.
#
# ### Compute
#
# A weight matrix of $m\times n$ costs $2mn$ FLOPs per token in the forward pass (a multiply
# and an add per entry) and twice that in the backward pass (gradients with respect to the
# input and to the weight). So training costs
#
# $$
# C_\text{train}\approx6N\ \text{FLOPs per token}
# $$ (tparam-flops)
#
# where $N$ counts the parameters that take part in matrix products: not the embedding
# lookups, but the head (tied or not), and the attention scores add $O(LTd)$ per token on
# top. {cite:t}`kaplan2020scaling` use this rule with $N$ the non-embedding parameters.

# %% [markdown]
# ## Implementation from scratch
#
# The formula {eq}`tparam-total`, component by component, for any `GPTConfig` of the shared
# model (`notebook_utils.gpt`). It never builds the model.

# %%
COMPONENTS = (
    "token embedding",
    "position embedding",
    "attention",
    "feed-forward",
    "norms",
    "LM head",
)


def norm_parameters(cfg: GPTConfig) -> int:
    """eq. (tparam-norm): 2d for LayerNorm with bias, d for RMSNorm or LayerNorm without."""
    has_shift = cfg.norm == "layernorm" and cfg.bias
    return cfg.d_model * (2 if has_shift else 1)


def attention_parameters(cfg: GPTConfig) -> int:
    """eq. (tparam-attention) for one layer: W_Q, W_O are d × d; W_K, W_V are d × n_kv·d_head."""
    d, kv_width, b = cfg.d_model, cfg.kv_heads * cfg.head_dim, int(cfg.bias)
    return 2 * d * d + 2 * d * kv_width + b * (2 * d + 2 * kv_width)


def ffn_parameters(cfg: GPTConfig) -> int:
    """eq. (tparam-ffn) for one layer: 2 (GELU) or 3 (SwiGLU) matrices of d × d_ff."""
    d, d_ff, b = cfg.d_model, cfg.ff_dim, int(cfg.bias)
    n_in = 2 if cfg.mlp == "swiglu" else 1  # matrices that map d -> d_ff
    return (n_in + 1) * d * d_ff + b * (n_in * d_ff + d)


def parameter_count(cfg: GPTConfig) -> dict[str, int]:
    """eq. (tparam-total), split into the components of COMPONENTS."""
    V, T, d, L = cfg.vocab_size, cfg.block_size, cfg.d_model, cfg.n_layer
    n_norms = 2 * L + (1 if cfg.norm_position == "pre" else 0)  # a final norm in pre-norm
    return {
        "token embedding": V * d,  # eq. (tparam-embedding)
        "position embedding": T * d if cfg.position == "learned" else 0,
        "attention": L * attention_parameters(cfg),
        "feed-forward": L * ffn_parameters(cfg),
        "norms": n_norms * norm_parameters(cfg),
        "LM head": 0 if cfg.tie_weights else V * d,  # tied: the embedding matrix, counted once
    }


# %% [markdown]
# To compare with a built model, each of its parameters is assigned to a component by name.
# `named_parameters()` lists each tensor once, so a tied head (which *is* `tok_emb.weight`)
# does not appear under `head`.


# %%
def parameters_by_component(model: nn.Module) -> dict[str, int]:
    """The parameters of a shared-GPT model, summed per component of COMPONENTS."""
    counts = dict.fromkeys(COMPONENTS, 0)
    for name, p in model.named_parameters():  # each tensor once
        if name.startswith("tok_emb."):
            component = "token embedding"
        elif name.startswith("pos_emb."):
            component = "position embedding"
        elif ".attn." in name:
            component = "attention"
        elif ".mlp." in name:
            component = "feed-forward"
        elif "norm" in name:
            component = "norms"
        elif name.startswith("head."):
            component = "LM head"
        else:
            raise ValueError(f"unexpected parameter {name}")
        counts[component] += p.numel()
    return counts


def build_on_meta(cfg: GPTConfig) -> GPT:
    """The model with shape-only tensors: no memory, so billions of parameters cost nothing."""
    with torch.device("meta"):
        return GPT(cfg)


# %% [markdown]
# ### Memory
#
# {eq}`tparam-memory` as a function, with the bytes of each part named.

# %%
MIXED_PRECISION_ADAM_BYTES = {  # per parameter, eq. (tparam-memory)
    "bf16 weights": 2,
    "bf16 gradients": 2,
    "fp32 master weights": 4,
    "Adam m (fp32)": 4,
    "Adam v (fp32)": 4,
}


def memory_bytes(n_params: int) -> dict[str, int]:
    """Bytes for the weights alone (fp32, bf16) and for mixed-precision Adam training."""
    return {
        "fp32 weights": 4 * n_params,
        "bf16 weights": 2 * n_params,
        "mixed-precision Adam": sum(MIXED_PRECISION_ADAM_BYTES.values()) * n_params,
    }


# %% [markdown]
# ## Verification
#
# ### GPT-2 small: 124,439,808
#
# The configuration of GPT-2 small in the shared model is its default (pre-norm LayerNorm with
# biases, learned positions, GELU, tied head). Built on the meta device it has shapes but no
# data, so no memory is allocated. Three numbers must agree: the formula, `count_parameters`
# of the built model, and the errata's 124,439,808. Then the components, one by one, and one
# block against $12d^2+13d$.

# %%
gpt2_small = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, d_model=768)
model = build_on_meta(gpt2_small)
formula = parameter_count(gpt2_small)
check_equal(
    "GPT-2 small: formula vs count_parameters", sum(formula.values()), count_parameters(model)
)
check_equal("GPT-2 small: count_parameters vs 124,439,808", count_parameters(model), 124_439_808)
check_equal(
    "GPT-2 small: formula vs built model, per component",
    np.array(list(formula.values())),
    np.array(list(parameters_by_component(model).values())),
)
d = gpt2_small.d_model
per_layer = count_parameters(model.blocks[0])
check_equal("GPT-2 small: one block vs 12d² + 13d", per_layer, 12 * d**2 + 13 * d)
check_equal("GPT-2 small: one block vs 7,087,872", per_layer, 7_087_872)
print(
    f"one block: {per_layer:,} parameters; 12d² = {12 * d**2:,} "
    f"(ratio {per_layer / (12 * d**2):.4f})"
)
for name, count in formula.items():
    print(f"  {name:>18}: {count:>12,}")

# %% [markdown]
# ### The GPT-2 family
#
# Same vocabulary and context, wider and deeper {cite}`radford2019language`. The formula
# {eq}`tparam-gpt2` and the built models must agree.

# %%
GPT2_FAMILY = {  # name: (n_layer, n_head, d_model)
    "GPT-2 small": (12, 12, 768),
    "GPT-2 medium": (24, 16, 1024),
    "GPT-2 large": (36, 20, 1280),
    "GPT-2 XL": (48, 25, 1600),
}
gpt2_configs = {
    name: GPTConfig(vocab_size=50257, block_size=1024, n_layer=L, n_head=h, d_model=d)
    for name, (L, h, d) in GPT2_FAMILY.items()
}
expected_totals = [124_439_808, 354_823_168, 774_030_080, 1_557_611_200]
built_models = {}  # kept for the experiments
for (name, cfg), expected in zip(gpt2_configs.items(), expected_totals, strict=True):
    built_models[name] = build_on_meta(cfg)
    built = count_parameters(built_models[name])
    V, T, d, L = cfg.vocab_size, cfg.block_size, cfg.d_model, cfg.n_layer
    closed_form = V * d + T * d + L * (12 * d**2 + 13 * d) + 2 * d  # eq. (tparam-gpt2)
    check_equal(
        f"{name}: closed form = formula = built = {expected:,}",
        np.array([closed_form, sum(parameter_count(cfg).values()), built]),
        np.full(3, expected),
    )

# %% [markdown]
# ### LLaMA-style models: RMSNorm, SwiGLU, RoPE, no biases, untied head
#
# Llama-2-7B {cite}`touvron2023llama2` has $L=32$, $d=4096$, 32 heads, $V=32000$ and the FFN
# width {eq}`tparam-llama-dff`. Two grouped-query models check the $W_K,W_V$ term of
# {eq}`tparam-attention`: a Mistral-7B-shaped model ($n_\text{kv}=8$, $d_\text{ff}=14336$
# {cite}`jiang2023mistral`) and Llama-2-70B ($L=80$, $d=8192$, 64 heads, $n_\text{kv}=8$,
# $d_\text{ff}=28672$).


# %%
def llama_style(
    n_layer: int, n_head: int, d_model: int, d_ff: int, n_kv_head: int | None = None
) -> GPTConfig:
    """A LLaMA-style configuration of the shared GPT (vocabulary 32000, context 4096)."""
    return GPTConfig(
        vocab_size=32000,
        block_size=4096,
        n_layer=n_layer,
        n_head=n_head,
        n_kv_head=n_kv_head,
        d_model=d_model,
        d_ff=d_ff,
        norm="rmsnorm",
        position="rope",
        mlp="swiglu",
        bias=False,
        tie_weights=False,
    )


llama_dff = 256 * math.ceil(int(8 * 4096 / 3) / 256)  # eq. (tparam-llama-dff)
check_equal("LLaMA's FFN width for d = 4096", llama_dff, 11008)
large_configs = {
    "Llama-2-7B": llama_style(32, 32, 4096, llama_dff),
    "Mistral-7B shape (GQA)": llama_style(32, 32, 4096, 14336, n_kv_head=8),
    "Llama-2-70B (GQA)": llama_style(80, 64, 8192, 28672, n_kv_head=8),
}
expected_totals = [6_738_415_616, 7_241_732_096, 68_976_648_192]
for (name, cfg), expected in zip(large_configs.items(), expected_totals, strict=True):
    built = built_models[name] = build_on_meta(cfg)
    check_equal(
        f"{name}: formula = built = {expected:,}",
        np.array([sum(parameter_count(cfg).values()), count_parameters(built)]),
        np.full(2, expected),
    )
    check_equal(
        f"{name}: per component",
        np.array(list(parameter_count(cfg).values())),
        np.array(list(parameters_by_component(built).values())),
        quiet=True,
    )

# %% [markdown]
# The per-component comparison ran quietly for each model above and would have raised on a
# mismatch. In Llama-2-7B, RMSNorm has only `weight`, so the $2L+1=65$ norms hold $65d$
# parameters, not $130d$:

# %%
llama_7b = built_models["Llama-2-7B"]
norm_names = {name.split(".")[-1] for name, _ in llama_7b.named_parameters() if "norm" in name}
check_equal("Llama-2-7B: norm parameter names", np.array(sorted(norm_names)), np.array(["weight"]))
check_equal(
    "Llama-2-7B: norm parameters = 65·d", parameters_by_component(llama_7b)["norms"], 65 * 4096
)

# %% [markdown]
# ### Every switch of the shared model
#
# The formula must hold for any configuration, not only the famous ones. The switches (norm,
# norm position, position encoding, FFN, bias, tying, and MHA/GQA/MQA) make 384 combinations;
# a seeded random sample of 64 of them is built, as small models on the CPU.

# %%
switches = list(
    itertools.product(
        ["layernorm", "rmsnorm"],
        ["pre", "post"],
        ["learned", "sinusoidal", "rope", "none"],
        ["gelu", "swiglu"],
        [True, False],  # bias
        [True, False],  # tie_weights
        [8, 2, 1],  # n_kv_head: MHA, GQA, MQA
    )
)
sampled = rng.choice(len(switches), size=64, replace=False)
formula_counts, built_counts = [], []
for index in sampled:
    norm, norm_position, position, mlp, bias, tie, n_kv = switches[index]
    cfg = GPTConfig(
        vocab_size=37, block_size=16, n_layer=2, n_head=8, d_model=32, n_kv_head=n_kv,
        d_ff=48, norm=norm, norm_position=norm_position, position=position, mlp=mlp,
        bias=bias, tie_weights=tie,
    )  # fmt: skip
    formula_counts.append(list(parameter_count(cfg).values()))
    built_counts.append(list(parameters_by_component(GPT(cfg)).values()))
check_equal(
    f"formula vs built model, per component, {len(sampled)} of {len(switches)} configurations",
    np.array(formula_counts),
    np.array(built_counts),
)

# %% [markdown]
# ### Buffers and positions without parameters
#
# Sinusoidal encodings live in a *buffer* of the shared model: saved with the model if
# persistent, moved by `.to(device)`, but not a parameter, so the optimizer never sees it.
# RoPE's angles are computed in the forward pass and stored nowhere.

# %%
for position in ("learned", "sinusoidal", "rope"):
    cfg = GPTConfig(
        vocab_size=37, block_size=16, n_layer=2, n_head=4, d_model=32, position=position
    )
    built = GPT(cfg)
    n_position_params = sum(
        p.numel() for n, p in built.named_parameters() if n.startswith("pos_emb")
    )
    n_buffer_entries = sum(b.numel() for b in built.buffers())
    check_equal(
        f"{position}: position parameters (T·d if learned, else 0) and buffer entries "
        "(T·d if sinusoidal, else 0)",
        np.array([n_position_params, n_buffer_entries]),
        np.array([16 * 32 * (position == "learned"), 16 * 32 * (position == "sinusoidal")]),
    )

# %% [markdown]
# ### The memory rule against a real optimizer
#
# {eq}`tparam-memory` counts two Adam moments per parameter. `torch.optim.AdamW` on a small
# model, after one step, must hold exactly $2N$ state entries besides its step counters.

# %%
small_model = GPT(GPTConfig(vocab_size=37, block_size=16, n_layer=2, n_head=4, d_model=32))
optimizer = torch.optim.AdamW(small_model.parameters(), lr=1e-3)
tokens = torch.randint(0, 37, (2, 16))
logits, _ = small_model(tokens)
logits.square().mean().backward()
optimizer.step()
state_entries = sum(
    value.numel()
    for state in optimizer.state.values()
    for key, value in state.items()
    if key != "step"
)
n_small = count_parameters(small_model)
check_equal("AdamW state entries = 2N (exp_avg, exp_avg_sq)", state_entries, 2 * n_small)
check_equal(
    "16 bytes per parameter for mixed-precision Adam", sum(MIXED_PRECISION_ADAM_BYTES.values()), 16
)

# %% [markdown]
# ## Experiments
#
# ### 1. Where the parameters live
#
# The components of {eq}`tparam-total` for four models, counted on the built models. The
# table gives the counts; the figure gives the shares. The second panel shows the embedding
# share {eq}`tparam-embedding-share` of GPT-2-shaped models (learned positions, tied head,
# $V=50257$) as the width grows, for the four depths of the GPT-2 family.

# %%
showcase = {  # label: the model built in the Verification
    "GPT-2 small": built_models["GPT-2 small"],
    "GPT-2 XL": built_models["GPT-2 XL"],
    "Llama-2-7B": built_models["Llama-2-7B"],
    "Llama-2-70B": built_models["Llama-2-70B (GQA)"],
}
component_counts = {name: parameters_by_component(built) for name, built in showcase.items()}
print(f"{'':>20}" + "".join(f"{name:>16}" for name in showcase))
for component in COMPONENTS:
    print(f"{component:>20}" + "".join(f"{component_counts[n][component]:>16,}" for n in showcase))
print(f"{'total':>20}" + "".join(f"{sum(component_counts[n].values()):>16,}" for n in showcase))
shares = {
    name: {c: count / sum(counts.values()) for c, count in counts.items()}
    for name, counts in component_counts.items()
}
embedding_share = {
    name: shares[name]["token embedding"]
    + shares[name]["position embedding"]
    + shares[name]["LM head"]
    for name in showcase
}
for name, share in embedding_share.items():
    in_blocks = component_counts[name]["attention"] + component_counts[name]["feed-forward"]
    print(
        f"{name}: embeddings and head {share:.1%}, blocks {1 - share:.1%}; inside the blocks, "
        f"attention {component_counts[name]['attention'] / in_blocks:.1%}"
    )


# %%
def gpt2_embedding_share(
    d: np.ndarray, n_layer: int, vocab: int = 50257, context: int = 1024
) -> np.ndarray:
    """Share of the token and position embeddings in a GPT-2-shaped model, eq. (tparam-gpt2)."""
    embeddings = vocab * d + context * d
    return embeddings / (embeddings + n_layer * (12 * d**2 + 13 * d) + 2 * d)


fig, (ax_bars, ax_share) = plt.subplots(1, 2, figsize=(12, 4.6), width_ratios=[1.15, 1])
colours = dict(
    zip(
        COMPONENTS,
        [PALETTE[0], PALETTE[5], PALETTE[1], PALETTE[2], PALETTE[7], PALETTE[3]],
        strict=True,
    )
)
names = list(showcase)
left = np.zeros(len(names))
for component in COMPONENTS:
    values = np.array([shares[name][component] for name in names])
    ax_bars.barh(names, values, left=left, color=colours[component], label=component)
    left += values
totals = [sum(component_counts[n].values()) for n in names]
ax_bars.set_yticks(
    range(len(names)),
    labels=[
        f"{n}\n{t / 1e9:.2f} B" if t > 1e9 else f"{n}\n{t / 1e6:.1f} M"
        for n, t in zip(names, totals, strict=True)
    ],
)
ax_bars.invert_yaxis()
ax_bars.set(xlabel="share of all parameters", xlim=(0, 1), title="Where the parameters live")
ax_bars.legend(ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8)

widths = np.geomspace(256, 8192, 60)
for n_layer, style in [(12, ":"), (24, "--"), (36, "-."), (48, "-")]:
    ax_share.semilogx(
        widths,
        gpt2_embedding_share(widths, n_layer),
        style,
        color="k",
        lw=1.2,
        label=f"L = {n_layer}",
    )
for (name, cfg), colour in zip(gpt2_configs.items(), PALETTE[:4], strict=True):
    share = gpt2_embedding_share(np.array(cfg.d_model), cfg.n_layer)
    ax_share.semilogx(
        cfg.d_model, share, "o", color=colour, ms=8, label=f"{name} (L = {cfg.n_layer})"
    )
width_ticks = [256, 512, 1024, 2048, 4096, 8192]
ax_share.set_xticks(width_ticks, labels=[str(w) for w in width_ticks])
ax_share.xaxis.set_minor_formatter(NullFormatter())
ax_share.set(
    xlabel="model width d",
    ylabel="share of embeddings (token + position)",
    title="GPT-2 shapes: the share falls with width and depth",
)
ax_share.legend(fontsize=8)
fig.suptitle(
    f"Embeddings (with an untied head) are {embedding_share['GPT-2 small']:.0%} of GPT-2 small, "
    f"{embedding_share['GPT-2 XL']:.0%} of GPT-2 XL, "
    f"{embedding_share['Llama-2-70B']:.1%} of Llama-2-70B"
)
plt.show()

# %% [markdown]
# The embedding and head shares in the text come from the printed table. In GPT-2 small the
# 38.6 million numbers of the token table are almost a third of the model, so the "$12Ld^2$"
# rule, which ignores them, underestimates it badly; by GPT-2 XL the blocks dominate. Inside
# the blocks, attention holds about a third and the FFN two thirds both in GPT-2 ($4d^2$ vs
# $8d^2$) and in Llama-2-7B ($4d^2$ vs $3\,d\cdot11008\approx8.06d^2$), as printed above. In
# Llama-2-70B, GQA shrinks $W_K,W_V$ eightfold and the FFN is $3.5d$ wide, so the FFN alone
# holds most of the model.
#
# ### 2. Memory for the weights and for training
#
# {eq}`tparam-memory` for the same models, in gigabytes ($10^9$ bytes). Activations and the KV
# cache ([chapter 04](04_kv_cache.ipynb)) come on top.

# %%
print(f"{'':>14}{'parameters':>16}{'fp32 weights':>14}{'bf16 weights':>14}{'Adam, mixed':>14}")
memory = {}
for name, counts in component_counts.items():
    n_params = sum(counts.values())
    memory[name] = memory_bytes(n_params)
    row = "".join(f"{value / 1e9:>11.1f} GB" for value in memory[name].values())
    print(f"{name:>14}{n_params:>16,}{row}")
check_close(
    "GPT-2 XL (1.5 B): mixed-precision Adam states ≈ 24 GB, as in the ZeRO paper",
    memory["GPT-2 XL"]["mixed-precision Adam"] / 1e9,
    24.0,
    atol=1.0,
)

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} A tied head counted twice
# With a tied head, `head.weight` and `tok_emb.weight` are the same tensor. `model.parameters()`
# and `count_parameters` yield it once. Summing over modules, or over
# `named_parameters(remove_duplicate=False)`, counts it twice, and GPT-2 small "grows" by
# $Vd$ to the number below. The same pitfall hits optimizers built from hand-made parameter
# lists: a tensor listed twice gets two updates per step.
# :::

# %%
double_counted = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
check_true(
    "GPT-2 small: head and embedding are one tensor", model.head.weight is model.tok_emb.weight
)
check_equal("counted twice: 124,439,808 + V·d", double_counted, 124_439_808 + 50257 * 768)
print(f"with the tied matrix counted twice: {double_counted:,}")

# %% [markdown]
# :::{dropdown} "GPT-2 small has 117M parameters." Where does 124M come from?
# The GPT-2 paper's Table 2 lists 117M, 345M, 762M and 1542M for its four sizes
# {cite}`radford2019language`. Counting the released configurations gives the numbers
# verified above (124M, 355M, 774M, 1558M). Quote the counted numbers, and say which
# convention (tied head counted once, embeddings included) you use.
# :::
#
# :::{dropdown} Buffers are not parameters
# Running statistics of BatchNorm, a sinusoidal position table, a causal mask or a RoPE
# cos/sin cache registered with `register_buffer` are part of the `state_dict` but not of
# `parameters()`: they are not learned and not counted. Conversely, a frozen parameter
# (`requires_grad=False`) is still a parameter; `count_parameters(model, trainable_only=True)`
# leaves it out.
# :::
#
# :::{dropdown} How many FLOPs does training take? "$6N$ per token"
# Each weight does one multiply-add per token in the forward pass (2 FLOPs) and two in the
# backward pass (4 FLOPs), {eq}`tparam-flops`. The rule counts weights used in matrix products:
# embedding lookups cost nothing, while the head (even a tied one) is a $d\times V$ product,
# and attention scores add $2\cdot2\,T d$ per layer and token in the forward pass.
# {cite:t}`kaplan2020scaling` write $C\approx6N$ with $N$ the non-embedding parameters. The
# cell below counts the FLOPs of one training step of GPT-2 small on a sequence of 1024
# tokens (on the meta device, so nothing is computed) and checks the exact decomposition.
# :::

# %%
tokens_meta = torch.zeros(1, 1024, dtype=torch.long, device="meta")
with FlopCounterMode(display=False) as flop_counter:
    logits, _ = model(tokens_meta)
    logits.sum().backward()
training_flops = flop_counter.get_total_flops()
matmul_params = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
T, d, L = 1024, 768, 12
attention_flops = 3 * L * 4 * T * T * d  # QKᵀ and AV (2·T²·d each, full T×T), ×3 for training
check_equal(
    "training FLOPs = 6·T·N_matmul + attention",
    training_flops,
    6 * T * matmul_params + attention_flops,
)
print(
    f"N_matmul = {matmul_params:,} (N = {count_parameters(model):,}); training FLOPs per token "
    f"= {training_flops / T / 1e9:.2f} G = {training_flops / T / count_parameters(model):.2f} × N"
)

# %% [markdown]
# The counter counts the full $T\times T$ score matrix (masked entries included), and so does
# the check. Relative to $6N_\text{matmul}$ the attention term is $2LTd/N_\text{matmul}$: it
# grows with the context and shrinks with the width, as the next line computes for two
# models at their full context.


# %%
for name, built in [("GPT-2 small", model), ("Llama-2-7B", llama_7b)]:
    cfg = built.cfg
    n_matmul = sum(m.weight.numel() for m in built.modules() if isinstance(m, nn.Linear))
    ratio = 2 * cfg.n_layer * cfg.block_size * cfg.d_model / n_matmul
    print(f"{name}, T = {cfg.block_size}: attention adds {ratio:.1%} to 6·N_matmul")

# %% [markdown]
# :::{dropdown} Biases: do they matter for the count?
# Hardly. GPT-2 small's biases (linear layers and LayerNorm $\beta$) are a fraction of a percent
# of its parameters, printed below. LLaMA drops all of them; some models keep a few (Qwen,
# for example, keeps biases on the QKV projection).
# :::

# %%
bias_params = sum(p.numel() for n, p in model.named_parameters() if n.endswith("bias"))
print(f"GPT-2 small: {bias_params:,} bias parameters, {bias_params / count_parameters(model):.3%}")

# %% [markdown]
# :::{dropdown} Why does SwiGLU use $d_\text{ff}\approx\tfrac83d$ instead of $4d$?
# To keep the parameter count (and the FLOPs) of the FFN where they were. Three matrices of
# $d\times\tfrac83d$ hold $8d^2$, like two of $d\times4d$. LLaMA then rounds up to a multiple
# of 256 for efficient kernels {eq}`tparam-llama-dff`, which is why its FFN is slightly larger
# than $8d^2$.
# :::
#
# :::{dropdown} Does the number of heads change the parameter count?
# Not for multi-head attention: $h$ heads of width $d/h$ use the same $d\times d$ matrices
# {eq}`tparam-attention`. What changes the count is the number of key/value heads: MQA and
# GQA shrink $W_K,W_V$ (Check yourself, question 3).
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A GPT-2-style model (learned positions, tied head, LayerNorm, GELU with $4d$) has
#    $d=2048$, $L=24$, $V=50257$ and $T=2048$. How many parameters, and how far off is
#    $12Ld^2$?
#
#    :::{dropdown} Answer
#    Per layer $12d^2+13d=50{,}331{,}648+26{,}624=50{,}358{,}272$, times 24 is
#    $1{,}208{,}598{,}528$. Embeddings $Vd=102{,}926{,}336$ and $Td=4{,}194{,}304$, final norm
#    $2d=4{,}096$: in total $1{,}315{,}723{,}264$. $12Ld^2=1{,}207{,}959{,}552$ misses about
#    8 %, almost all of it the embeddings. The next cell builds the model and checks.
#    :::

# %%
exercise_cfg = GPTConfig(vocab_size=50257, block_size=2048, n_layer=24, n_head=16, d_model=2048)
exercise_total = count_parameters(build_on_meta(exercise_cfg))
check_equal("exercise 1: built model", exercise_total, 1_315_723_264)
check_equal("exercise 1: formula", sum(parameter_count(exercise_cfg).values()), 1_315_723_264)
print(f"12·L·d² = {12 * 24 * 2048**2:,} misses {1 - 12 * 24 * 2048**2 / exercise_total:.1%}")

# %% [markdown]
# 2. Can you fully fine-tune Llama-2-7B with Adam in mixed precision on one 80 GB GPU?
#
#    :::{dropdown} Answer
#    No. The model states alone take $16\times6.74\times10^9\approx108$ GB, before any
#    activation. The bf16 weights alone (13.5 GB) fit easily, which is why inference and
#    adapter methods (LoRA) work on one GPU. Full fine-tuning needs the states sharded across
#    GPUs (ZeRO {cite}`rajbhandari2020zero`), offloaded, or an optimizer with smaller states.
#    :::

# %%
llama_memory = memory_bytes(6_738_415_616)
check_close(
    "exercise 2: Adam states of Llama-2-7B (GB)",
    llama_memory["mixed-precision Adam"] / 1e9,
    107.8,
    atol=0.05,
)
check_close(
    "exercise 2: bf16 weights of Llama-2-7B (GB)",
    llama_memory["bf16 weights"] / 1e9,
    13.5,
    atol=0.05,
)
check_true("exercise 2: does not fit in 80 GB", llama_memory["mixed-precision Adam"] > 80e9)

# %% [markdown]
# 3. Llama-2-70B uses 8 key/value heads for its 64 query heads. How many parameters does this
#    save compared with multi-head attention?
#
#    :::{dropdown} Answer
#    Per layer, $W_K$ and $W_V$ shrink from $d\times d$ to $d\times n_\text{kv}d_\text{head}$
#    with $d=8192$ and $n_\text{kv}d_\text{head}=8\cdot128=1024$: a saving of
#    $2d(d-1024)=117{,}440{,}512$. Over 80 layers: $9{,}395{,}240{,}960$, about 9.4 billion,
#    an eighth of what the MHA model would have. The next cell builds the MHA variant.
#    :::

# %%
mha_70b = llama_style(80, 64, 8192, 28672)  # n_kv_head = n_head
saving = count_parameters(build_on_meta(mha_70b)) - 68_976_648_192
check_equal("exercise 3: parameters saved by GQA", saving, 80 * 2 * 8192 * (8192 - 1024))
print(f"GQA saves {saving:,} parameters")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`radford2019language`: Section 2.3 (the GPT-2 architecture: pre-norm, a final
#   LayerNorm, context 1024, vocabulary 50,257) and Table 2 (the four sizes and their quoted
#   parameter counts).
# - {cite:t}`touvron2023llama`: Section 2.2 (RMSNorm pre-normalization, SwiGLU with a
#   $\tfrac23 4d$ hidden width, RoPE); {cite:t}`touvron2023llama2`: Table 1 and Section 2.2
#   (Llama 2 sizes, grouped-query attention in the 70B model).
# - {cite:t}`jiang2023mistral`: Table 1 (the Mistral 7B shape).
# - {cite:t}`shazeer2020glu`: the GLU variants of the FFN, SwiGLU among them.
# - {cite:t}`press2017using`: tying the input and output embeddings.
# - {cite:t}`kaplan2020scaling`: Section 2.1 (parameter and compute counts, $C\approx6N$ per
#   token, non-embedding parameters).
# - {cite:t}`rajbhandari2020zero`: Section 3.1 (model states in mixed-precision Adam training:
#   $2+2+12$ bytes per parameter; 24 GB for a 1.5B-parameter GPT-2).

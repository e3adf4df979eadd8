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
# # 02. Absolute position encoding
#
# **The question.** What is the absolute position encoding of the Transformer, and what are its
# limitations?
#
# **What you will be able to answer.** Write the sinusoidal encoding; show that
# $\langle PE_p,PE_{p+k}\rangle=\sum_i\cos(\omega_ik)$, which depends on the offset only and is
# the same for $+k$ and $-k$; say why that does not stop attention from knowing direction;
# what learned position embeddings are (and that BERT did not invent them); and why neither
# kind works past the length it was trained on.

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.devices import get_device
from notebook_utils.gpt import GPT, GPTConfig, sinusoidal_positions
from notebook_utils.nn import count_parameters
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the identities can be checked to 1e-10

# %% [markdown]
# ## Short answer
#
# - **What it is.** Attention alone sees a bag of tokens
#   ([chapter 01](01_self_attention.ipynb)), so the original Transformer adds a vector that
#   depends only on the position $p$ to each token embedding, $x_p=e_{t_p}+PE_p$, once, at the
#   input. Vaswani et al. use fixed sinusoids:
#   $PE_{p,2i}=\sin(\omega_ip)$, $PE_{p,2i+1}=\cos(\omega_ip)$ with
#   $\omega_i=10000^{-2i/d}$, wavelengths from $2\pi$ to about $2\pi\cdot10^4$ tokens.
# - **The dot-product property.** $\langle PE_p,PE_{p+k}\rangle=\sum_i\cos(\omega_ik)$: it
#   depends only on the offset $k$, not on $p$, and it is *even* in $k$, so $+k$ and $-k$ give
#   the same value. The notes are right that the raw product carries no direction. But
#   attention does not compute $PE_p^\top PE_q$. It computes
#   $(x_p+PE_p)\,W_QW_K^\top(x_q+PE_q)^\top$, and $W_QW_K^\top$ need not be symmetric: one choice
#   of it makes the position–position term odd in $k$. So direction *can* be represented. What
#   is true is that generic projections turn the clean distance signal into a noisy one
#   {cite}`yan2019tener`.
# - **Learned absolute embeddings** are a trained table with one row per position, up to a
#   maximum length. They did not come with BERT and they do not fix the direction problem.
#   ConvS2S {cite}`gehring2017convolutional` had them before the Transformer, Vaswani et al.
#   found them nearly as good as sinusoids, and GPT-1 {cite}`radford2018improving` used them
#   before BERT {cite}`devlin2019bert`. The schemes that make the score a function of the
#   relative offset are the relative ones: Shaw et al. {cite}`shaw2018self`, Transformer-XL
#   {cite}`dai2019transformerxl`, T5's bias {cite}`raffel2020exploring`, RoPE
#   {cite}`su2024roformer` ([chapter 03](03_rope.ipynb)), ALiBi {cite}`press2022train`.
# - **The limitation that matters most: length.** A learned table has no row past its
#   maximum length (BERT: 512), and rows that training never reached stay at their random
#   initial values. Sinusoids are defined at every position, but the model has never seen the
#   vectors past its training length. In the experiment below, a model with learned positions
#   falls to chance at the first unseen position, and one with sinusoids loses most of its
#   accuracy there. Relative schemes degrade too, later (RoPE needs interpolation to go much
#   further, [chapter 03](03_rope.ipynb)).

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $p,q$ | positions $0,1,\dots$ in the sequence | `p`, `q` |
# | $k=q-p$ | offset between a query at $p$ and a key at $q$ | `k` or `offset` |
# | $d$ | model width, even | `d_model` |
# | $i=0,\dots,d/2-1$ | index of a frequency (a pair of dimensions $2i,2i+1$) | `i` |
# | $\omega_i$ | angular frequency of pair $i$, radians per token | `frequencies` |
# | $PE_p\in\mathbb R^d$ | encoding of position $p$ (a row vector) | `table[p]` |
# | $e_t$ | embedding of token $t$ | `tok_emb` |
# | $W_Q,W_K\in\mathbb R^{d\times d_k}$ | query and key projections | `w_q`, `w_k` |
#
# ### The sinusoidal encoding
#
# The encoding of position $p$ puts a sine and a cosine of the same angle in each pair of
# dimensions {cite}`vaswani2017attention`:
#
# $$
# PE_{p,2i}=\sin(\omega_ip),\qquad PE_{p,2i+1}=\cos(\omega_ip),\qquad
# \omega_i=10000^{-2i/d},\quad i=0,\dots,\tfrac d2-1
# $$ (ape-pe)
#
# The frequencies fall geometrically from $\omega_0=1$ to $\omega_{d/2-1}=10000^{-(d-2)/d}$,
# so the wavelengths $2\pi/\omega_i$ run from $2\pi\approx6.3$ tokens to almost
# $2\pi\cdot10^4$ tokens. Like the digits of a number, the fast pairs tell nearby positions
# apart and the slow ones tell far-apart positions apart. Each pair is a point on the unit
# circle, so every encoding has the same norm:
#
# $$
# \|PE_p\|^2=\sum_{i=0}^{d/2-1}\big(\sin^2\omega_ip+\cos^2\omega_ip\big)=\frac d2
# $$ (ape-norm)
#
# ### The dot product depends only on the offset, and not on its sign
#
# Take the pairs of $PE_p$ and $PE_{p+k}$ and use $\sin a\sin b+\cos a\cos b=\cos(a-b)$:
#
# $$
# \langle PE_p,PE_{p+k}\rangle=\sum_{i=0}^{d/2-1}\big[\sin\omega_ip\,\sin\omega_i(p+k)
# +\cos\omega_ip\,\cos\omega_i(p+k)\big]=\sum_{i=0}^{d/2-1}\cos(\omega_ik)
# $$ (ape-dot)
#
# Two facts follow. $p$ has dropped out: the similarity of two encodings depends only on how
# far apart they are. And cosine is even, so $k$ and $-k$ give the same number: from the raw
# product alone, "5 tokens ahead" and "5 tokens behind" look identical. At $k=0$ it is $d/2$
# ({eq}`ape-norm`), its maximum. It falls as $|k|$ grows, because the fast terms start to
# cancel, but not monotonically: a sum of cosines of different periods has ripples. The
# Verification section finds where it first goes up.
#
# ### A shift is a rotation
#
# The same identities, written for one pair, give a linear map from $PE_p$ to $PE_{p+k}$ that
# does not depend on $p$. With $a=\omega_ip$ and $b=\omega_ik$,
# $(\sin(a+b),\cos(a+b))=(\sin a\cos b+\cos a\sin b,\ \cos a\cos b-\sin a\sin b)$, so
#
# $$
# PE_{p+k}^\top=M_k\,PE_p^\top,\qquad M_k=\operatorname{blockdiag}_i
# \begin{pmatrix}\cos\omega_ik&\sin\omega_ik\\-\sin\omega_ik&\cos\omega_ik\end{pmatrix}
# $$ (ape-shift)
#
# Each block rotates pair $i$ by the angle $\omega_ik$. Vaswani et al. chose sinusoids for this
# reason: attending "$k$ positions back" is a fixed linear function of the encoding. Since
# $M_k$ is orthogonal, $\langle PE_p,PE_{p+k}\rangle=PE_p M_kPE_p^\top$, which is
# {eq}`ape-dot` again. RoPE ([chapter 03](03_rope.ipynb)) applies the same rotations to
# queries and keys instead of adding them to the input.
#
# ### What attention sees: the projections
#
# Write $A=W_QW_K^\top\in\mathbb R^{d\times d}$, which has rank at most $d_k$ and is in general
# not symmetric. The attention score of a query at $p$ and a key at $q$ is
#
# $$
# s_{pq}=(x_p+PE_p)\,A\,(x_q+PE_q)^\top
# =\underbrace{x_pAx_q^\top}_{\text{content}}+x_pAPE_q^\top+PE_pAx_q^\top
# +\underbrace{PE_pAPE_q^\top}_{\text{position–position}}
# $$ (ape-score)
#
# The notes' argument is about $PE_pPE_q^\top$, which is the position–position term only in
# the special case $A=I$. For a general $A$, that term depends on $p$ as well as on $k$, and
# it is not even in $k$. Better, some $A$ turn it into a clean *odd* function of the offset.
# Take $A$ block-diagonal with blocks $\alpha_iI+\beta_iJ$, where
# $J=\begin{pmatrix}0&1\\-1&0\end{pmatrix}$. For one pair, $u=(\sin a,\cos a)$ and
# $v=(\sin(a+b),\cos(a+b))$, we have $uv^\top=\cos b$ and
# $uJv^\top=\sin a\cos(a+b)-\cos a\sin(a+b)=-\sin b$, hence
#
# $$
# PE_p\,A\,PE_{p+k}^\top=\sum_{i=0}^{d/2-1}\big[\alpha_i\cos(\omega_ik)-\beta_i\sin(\omega_ik)\big]
# $$ (ape-bilinear)
#
# The $\beta$ part is odd in $k$: with it, a head can score "$k$ behind" differently from
# "$k$ ahead", for every $p$. So the projections can represent direction. What they usually do
# instead is mix pairs and frequencies, and then the position–position term depends on $p$ and
# on content and is hard to read, which is the accurate form of the notes' claim
# {cite}`yan2019tener`.
#
# ### Learned absolute embeddings
#
# The alternative is a trainable table $P\in\mathbb R^{L_\text{max}\times d}$, one row per
# position, looked up like a token embedding:
#
# $$
# x_p=e_{t_p}+P_p,\qquad \frac{\partial\mathcal L}{\partial P_p}=\sum_{\text{sequences}}
# \frac{\partial\mathcal L}{\partial x_p}\quad(\text{zero if no training sequence reaches }p)
# $$ (ape-learned)
#
# Nothing ties $P_p$ to $P_{p+1}$, so neither {eq}`ape-dot` nor {eq}`ape-shift` holds. Their
# dot products need not depend on the offset alone, nor be even in it. Two consequences for
# length: positions $p\ge L_\text{max}$ have no row at all, and rows
# $L_\text{train}\le p<L_\text{max}$ receive no gradient if training never reaches them, so
# they keep their random initial values.
#
# ### Why sinusoids do not extrapolate either
#
# $PE_p$ exists for every $p$, and {eq}`ape-shift` says the *relation* between positions is the
# same everywhere. But the network reads $x_p=e_{t_p}+PE_p$ through learned weights, which fit
# the vectors it saw. Past $L_\text{train}$ the slow pairs reach angles never seen in training,
# and nothing in training forced the model to use only the shift structure. That was Vaswani et
# al.'s hope ("may allow the model to extrapolate"). ALiBi's authors measured the opposite:
# the perplexity of sinusoidal (and rotary) language models gets worse as the evaluation
# length grows past the training length {cite}`press2022train`.
# Experiment 2 measures it on a toy task.

# %% [markdown]
# ## Implementation from scratch
#
# The table of {eq}`ape-pe` in float64, one row per position:


# %%
def sinusoidal_frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """ω_i = base^(-2i/d) for i = 0 … d/2-1, eq. (ape-pe). Shape (d/2,)."""
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    return base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)


def sinusoidal_table(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """PE[p, 2i] = sin(ω_i p), PE[p, 2i+1] = cos(ω_i p), eq. (ape-pe). Shape (P, d), float64."""
    angles = torch.arange(n_positions, dtype=torch.float64)[:, None] * sinusoidal_frequencies(
        d_model, base
    )  # (P, d/2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)  # (P, d): sin, cos, …


# %% [markdown]
# The closed form {eq}`ape-dot` of the dot product at offset $k$:


# %%
def encoding_dot_at_offset(offsets: torch.Tensor, d_model: int) -> torch.Tensor:
    """⟨PE_p, PE_{p+k}⟩ = Σ_i cos(ω_i k) for each offset k, eq. (ape-dot). Shape of offsets."""
    angles = offsets.to(torch.float64)[..., None] * sinusoidal_frequencies(d_model)  # (..., d/2)
    return angles.cos().sum(-1)


# %% [markdown]
# The shift matrix $M_k$ of {eq}`ape-shift`, and the block matrix $A$ of {eq}`ape-bilinear`
# with weights $\alpha_i$ on $I$ and $\beta_i$ on $J$:


# %%
def shift_matrix(offset: int, d_model: int) -> torch.Tensor:
    """M_k: block-diagonal 2×2 rotations by ω_i k, so that PE_{p+k}ᵀ = M_k PE_pᵀ,
    eq. (ape-shift). Shape (d, d)."""
    angles = offset * sinusoidal_frequencies(d_model)  # (d/2,)
    cos, sin = angles.cos(), angles.sin()
    blocks = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    return torch.block_diag(*blocks)  # (d, d), blocks (d/2, 2, 2)


def pairwise_bilinear(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """A = blockdiag(α_i I + β_i J), J = [[0, 1], [-1, 0]], eq. (ape-bilinear). Shape (d, d)."""
    blocks = torch.stack(
        [torch.stack([alpha, beta], -1), torch.stack([-beta, alpha], -1)], -2
    )  # (d/2, 2, 2)
    return torch.block_diag(*blocks)


# %% [markdown]
# ## Verification
#
# ### Our table against the shared model's
#
# `notebook_utils.gpt.sinusoidal_positions` is the table that `GPT(position="sinusoidal")`
# adds to its inputs. It computes in float64 and returns float32, so the two tables can
# differ by float32 rounding, at most about $6\times10^{-8}$ for entries of size at most 1.

# %%
D_MODEL = 512
table = sinusoidal_table(1024, D_MODEL)  # (1024, 512), float64
check_close(
    "our sinusoidal table vs notebook_utils.gpt.sinusoidal_positions (float32)",
    table,
    sinusoidal_positions(1024, D_MODEL),
    atol=1e-7,
)
check_close(
    "PE[p, 2i] = sin(p / 10000^(2i/d)), spelled out for p = 7, i = 100",
    table[7, 200],
    math.sin(7 / 10000 ** (200 / D_MODEL)),
    atol=1e-15,
)

# %% [markdown]
# ### The dot-product identity and the numbers in the errata
#
# {eq}`ape-dot` against the direct dot products, for every $p<512$ and every offset with both
# positions inside the table; then the values the errata quote at $d=512$.

# %%
p_grid = torch.arange(0, 512)
offset_grid = torch.arange(-256, 257)
q_grid = p_grid[:, None] + offset_grid[None, :]  # (P, K): the position of the key
inside = (q_grid >= 0) & (q_grid < len(table))
gram = table @ table.T  # (1024, 1024): every ⟨PE_p, PE_q⟩
direct = gram[p_grid[:, None], q_grid.clamp(0, len(table) - 1)]  # (P, K)
closed_form = encoding_dot_at_offset(offset_grid, D_MODEL).expand(len(p_grid), -1)  # (P, K)
check_close(
    "⟨PE_p, PE_{p+k}⟩ = Σ cos(ω_i k) for p < 512, |k| ≤ 256",
    direct[inside],
    closed_form[inside],
    atol=1e-10,
)


def pe_dot(p: int, q: int) -> float:
    """⟨PE_p, PE_q⟩ from the table, d = 512."""
    return float(table[p] @ table[q])


check_close("⟨PE_50, PE_55⟩ = 189.596668 (errata)", pe_dot(50, 55), 189.596668, atol=5e-7)
check_close(
    "⟨PE_50, PE_45⟩ = ⟨PE_50, PE_55⟩: even in k", pe_dot(50, 45), pe_dot(50, 55), atol=1e-12
)
check_close("⟨PE_200, PE_205⟩ = ⟨PE_50, PE_55⟩: no p", pe_dot(200, 205), pe_dot(50, 55), atol=1e-12)
check_close(
    "⟨PE_p, PE_p⟩ = d/2 = 256 for all p, eq. (ape-norm)",
    (table * table).sum(-1),
    torch.full((len(table),), D_MODEL / 2),
    atol=1e-10,
)

# %% [markdown]
# Where does the product first go *up* as the offset grows?

# %%
dot_by_offset = encoding_dot_at_offset(torch.arange(0, 1024), D_MODEL)  # (1024,), k = 0 … 1023
first_increase = int(torch.nonzero(dot_by_offset.diff() > 0)[0]) + 1
check_equal("first k with ⟨PE_0, PE_k⟩ > ⟨PE_0, PE_{k-1}⟩ (errata: 44)", first_increase, 44)
print(
    f"k = {first_increase - 1}: {dot_by_offset[first_increase - 1]:.4f}, "
    f"k = {first_increase}: {dot_by_offset[first_increase]:.4f}"
)

# %% [markdown]
# ### A shift is a rotation
#
# {eq}`ape-shift`: $M_kPE_p^\top=PE_{p+k}^\top$ for the errata's $M_5PE_{33}$, then for all
# positions at once and several offsets, negative ones included. $M_k$ is orthogonal and
# $M_{-k}=M_k^\top$.

# %%
check_close("M_5 PE_33 = PE_38", shift_matrix(5, D_MODEL) @ table[33], table[38], atol=1e-12)
for offset in (-37, 1, 5, 100):
    shifted = table[200:700] @ shift_matrix(offset, D_MODEL).T  # (500, d): rows M_k PE_pᵀ
    check_close(
        f"M_{offset} PE_p = PE_(p{offset:+d}) for p = 200 … 699",
        shifted,
        table[200 + offset : 700 + offset],
        atol=1e-12,
    )
m_5 = shift_matrix(5, D_MODEL)
check_close(
    "M_5ᵀ M_5 = I and M_{-5} = M_5ᵀ",
    torch.cat([m_5.T @ m_5, shift_matrix(-5, D_MODEL)]),
    torch.cat([torch.eye(D_MODEL), m_5.T]),
    atol=1e-12,
)

# %% [markdown]
# ### After the projections, $+k$ and $-k$ differ
#
# The position–position term of {eq}`ape-score` with random (seeded) $W_Q,W_K$ of shape
# $512\times64$, entries $\mathcal N(0,1/d)$, for $p=50$ and $k=\pm5$. Then the block matrix
# of {eq}`ape-bilinear` with random $\alpha_i,\beta_i$, against its closed form for every $p$.

# %%
generator = torch.Generator().manual_seed(0)
w_q = torch.randn(D_MODEL, 64, generator=generator) / math.sqrt(D_MODEL)  # (d, d_k)
w_k = torch.randn(D_MODEL, 64, generator=generator) / math.sqrt(D_MODEL)  # (d, d_k)
random_a = w_q @ w_k.T  # (d, d): A = W_Q W_Kᵀ, rank 64


def position_score(a: torch.Tensor, p: int, q: int) -> float:
    """The position–position term PE_p A PE_qᵀ of eq. (ape-score)."""
    return float(table[p] @ a @ table[q])


ahead, behind = position_score(random_a, 50, 55), position_score(random_a, 50, 45)
print(f"random W_Q, W_K: score(p=50, k=+5) = {ahead:.4f}, score(p=50, k=-5) = {behind:.4f}")
check_true(
    "random projections: k = +5 and k = -5 differ",
    abs(ahead - behind) > 1e-3,
    f"|difference| = {abs(ahead - behind):.4f}",
)
shifted_p = position_score(random_a, 200, 205)
check_true(
    "random projections: the score depends on p too",
    abs(shifted_p - ahead) > 1e-3,
    f"p = 50: {ahead:.4f}, p = 200: {shifted_p:.4f}",
)

# %%
alpha = torch.randn(D_MODEL // 2, generator=generator)  # (d/2,)
beta = torch.randn(D_MODEL // 2, generator=generator)  # (d/2,)
block_a = pairwise_bilinear(alpha, beta)  # (d, d)
frequencies = sinusoidal_frequencies(D_MODEL)
offsets = torch.arange(-100, 101)
bilinear_closed = (
    alpha * (offsets[:, None] * frequencies).cos() - beta * (offsets[:, None] * frequencies).sin()
).sum(-1)  # (K,), eq. (ape-bilinear)
for p in (100, 400):
    check_close(
        f"PE_p A PE_(p+k)ᵀ = Σ α cos(ωk) - β sin(ωk), p = {p}, |k| ≤ 100",
        table[p] @ block_a @ table[p + offsets].T,
        bilinear_closed,
        atol=1e-10,
    )
odd_part = (bilinear_closed - bilinear_closed.flip(0)) / 2  # (K,): offsets are symmetric
check_true(
    "with β ≠ 0 the score has an odd part in k",
    float(odd_part.abs().max()) > 1.0,
    f"max |odd part| = {float(odd_part.abs().max()):.2f}",
)

# %% [markdown]
# ## Experiments
#
# ### 1. The dot product against the offset
#
# Left: {eq}`ape-dot` at $d=512$ for $|k|\le300$, measured from the table at two positions
# $p$ (the curves lie on top of each other), and at $d=64$. Middle: the position–position score
# $PE_pAPE_{p+k}^\top$ of {eq}`ape-score` for the random $A=W_QW_K^\top$ above, at two
# positions. Right: the same score for $A=\operatorname{blockdiag}(J)$, the case
# $\alpha_i=0,\beta_i=1$ of {eq}`ape-bilinear`, which is $-\sum_i\sin(\omega_ik)$.

# %%
offsets = torch.arange(-300, 301)  # (K,)
raw_curves = {p: (table[p] * table[p + offsets]).sum(-1) for p in (400, 700)}  # (K,) each
small_width = sinusoidal_table(1024, 64)
raw_small = (small_width[400] * small_width[400 + offsets]).sum(-1)  # (K,)
random_curves = {p: table[p] @ random_a @ table[p + offsets].T for p in (400, 700)}  # (K,) each
rotation_a = pairwise_bilinear(torch.zeros(D_MODEL // 2), torch.ones(D_MODEL // 2))  # (d, d)
odd_curves = {p: table[p] @ rotation_a @ table[p + offsets].T for p in (400, 700)}  # (K,) each
asymmetry_random = float((random_curves[400] - random_curves[400].flip(0)).abs().max())
check_close("raw product at p = 400 vs p = 700", raw_curves[400], raw_curves[700], atol=1e-10)
check_close("raw product is even: k vs -k", raw_curves[400], raw_curves[400].flip(0), atol=1e-10)
print(f"random A: max over k of |score(+k) - score(-k)| at p = 400 is {asymmetry_random:.3f}")
minus_sine_sum = -(offsets[:, None] * frequencies).sin().sum(-1)  # (K,)
check_close(
    "A = blockdiag(J): score = -Σ sin(ω_i k), p = 400", odd_curves[400], minus_sine_sum, atol=1e-10
)
check_close("A = blockdiag(J): odd in k", odd_curves[700], -odd_curves[700].flip(0), atol=1e-10)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
k_np = offsets.numpy()
axes[0].plot(k_np, raw_curves[400].numpy(), color=PALETTE[0], lw=2.5, label="$d=512$, $p=400$")
axes[0].plot(k_np, raw_curves[700].numpy(), "--", color=PALETTE[1], label="$d=512$, $p=700$")
axes[0].plot(k_np, raw_small.numpy(), color=PALETTE[2], lw=1.2, label="$d=64$, $p=400$")
axes[0].set(ylabel=r"$\langle PE_p, PE_{p+k}\rangle$", title="Raw: same for every $p$, even in $k$")
for ax, curves, title in (
    (axes[1], random_curves, "Random $A$: depends on $p$, not even"),
    (axes[2], odd_curves, r"$A=\mathrm{blockdiag}(J)$: odd in $k$, no $p$"),
):
    ax.plot(k_np, curves[400].numpy(), color=PALETTE[0], lw=2.5, label="$p=400$")
    ax.plot(k_np, curves[700].numpy(), "--", color=PALETTE[1], lw=1.2, label="$p=700$")
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set(ylabel=r"$PE_p\,A\,PE_{p+k}^\top$", title=title)
for ax in axes:
    ax.set_xlabel("offset $k$ (tokens)")
    ax.legend(fontsize=8)
fig.suptitle(
    "Sinusoidal encodings: the raw dot product has no direction; after $W_QW_K^\\top$ it can have"
)
plt.show()

# %% [markdown]
# On the left, the two $d=512$ curves coincide (checked above) and are mirror images about
# $k=0$: a peak of $d/2$ at $k=0$, a fast drop over the first few dozen tokens, then slow
# ripples. The narrower $d=64$ encoding spreads only 32 frequencies over the same range, and
# its curve is rougher relative to its peak of 32. In the middle, a random projection gives a
# noisy score that changes with $p$ and is not mirror-symmetric (the printed asymmetry). On the
# right, $A=\operatorname{blockdiag}(J)$ gives a score that is the same for every $p$ and
# changes sign with $k$: a head with this $A$ tells "ahead" from "behind" at every position.
#
# ### 2. Learned embeddings, and what happens past the training length
#
# First, the plain fact. A learned table with `block_size` rows cannot encode position
# `block_size`: the shared model refuses the input, and the embedding lookup itself has no
# row to return.

# %%
V, L_TRAIN = 16, 16  # vocabulary, training length
short_cfg = GPTConfig(vocab_size=V, block_size=L_TRAIN, n_layer=1, n_head=2, d_model=32)
short_model = GPT(short_cfg)
too_long = torch.zeros(1, L_TRAIN + 1, dtype=torch.long)  # (B, T) with T = block_size + 1
errors = {}
try:
    short_model(too_long)
except ValueError as err:
    errors["GPT.forward"] = err
try:
    short_model.pos_emb(torch.tensor([L_TRAIN]))  # row L_TRAIN of a table with L_TRAIN rows
except IndexError as err:
    errors["nn.Embedding"] = err
for where, err in errors.items():
    print(f"{where}: {type(err).__name__}: {err}")
check_equal("both refuse position block_size", sorted(errors), ["GPT.forward", "nn.Embedding"])
print(f"position parameters of this model: {short_model.pos_emb.weight.numel()} = {L_TRAIN} × 32")

# %% [markdown]
# Now a task that needs position and nothing else. Each sequence is random tokens from a
# vocabulary of 16, and at every position $i\ge3$ the model must output the token **three
# positions back**, $x_{i-3}$ (no shortcut through content exists: the tokens are independent).
# We train the shared GPT, one layer with two heads and $d=32$, on length $L_\text{train}=16$
# with each of the four position options of `GPTConfig`: `learned`, `sinusoidal`, `rope` and
# `none`. Every model is built with `block_size=64`, so the learned table has 64 rows, of which
# training reaches only the first 16. Then we test on sequences of 64 tokens. Two departures
# from the shared model's defaults, the same for all four: the output head is not tied to the
# token embedding, and the token embedding starts at unit scale, as in Vaswani et al. (see the
# pitfall on scale for why this matters to the sinusoidal model).
#
# Because attention is causal, the output at position $i$ depends only on tokens $0,\dots,i$,
# not on how long the sequence goes on. So accuracy *per query position* says everything:
# accuracy on sequences of length $L$ is its average over the positions $i<L$.
#
# Training: Adam, 150 steps of 32 fresh random sequences.

# %%
OFFSET, L_EVAL = 3, 64  # predict x_{i-3}; evaluation length
TRAIN_STEPS, BATCH, LR = 150, 32, 1e-2
device = get_device()


def lookback_loss(model: GPT, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of predicting x_{i-3} at positions i ≥ 3, and the hits (B, T-3)."""
    logits, _ = model(tokens)  # (B, T, V)
    predicted, target = logits[:, OFFSET:], tokens[:, :-OFFSET]  # (B, T-3, V), (B, T-3)
    loss = F.cross_entropy(predicted.transpose(1, 2), target)
    return loss, predicted.argmax(-1) == target


def train_lookback(position: str) -> tuple[GPT, list[float], torch.Tensor | None]:
    """Train one model on length L_TRAIN; return it, its losses and its initial position table."""
    torch.manual_seed(1)  # the same initial weights wherever the shapes agree
    cfg = GPTConfig(
        vocab_size=V,
        block_size=L_EVAL,
        n_layer=1,
        n_head=2,
        d_model=32,
        position=position,
        tie_weights=False,
    )
    model = GPT(cfg).to(device=device, dtype=torch.float32)
    torch.nn.init.normal_(model.tok_emb.weight, std=1.0)  # unit scale, as √d·e in Vaswani et al.
    initial_table = model.pos_emb.weight.detach().clone() if model.pos_emb is not None else None
    optimizer, losses = torch.optim.Adam(model.parameters(), lr=LR), []
    data = torch.Generator().manual_seed(2)  # the same batches for every model
    for _ in range(TRAIN_STEPS):
        tokens = torch.randint(0, V, (BATCH, L_TRAIN), generator=data).to(device)  # (B, T)
        loss, _ = lookback_loss(model, tokens)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses, initial_table


POSITIONS = ("learned", "sinusoidal", "rope", "none")
models, train_losses, initial_tables = {}, {}, {}
start = time.perf_counter()
for position in POSITIONS:
    models[position], train_losses[position], initial_tables[position] = train_lookback(position)
print(f"trained 4 models × {TRAIN_STEPS} steps in {time.perf_counter() - start:.1f} s on {device}")

# %% [markdown]
# Accuracy per query position on 512 fresh sequences of length 64, and a check of
# {eq}`ape-learned`: the rows of the learned table past the training length are bit-for-bit
# their random initial values.

# %%
test_tokens = torch.randint(0, V, (512, L_EVAL), generator=torch.Generator().manual_seed(3)).to(
    device
)  # (B, 64)
accuracy_by_position = {}
with torch.no_grad():
    for position, model in models.items():
        _, hits = lookback_loss(model, test_tokens)  # (B, 61): query positions 3 … 63
        accuracy_by_position[position] = hits.float().mean(0).cpu().numpy()
query_positions = np.arange(OFFSET, L_EVAL)
seen = query_positions < L_TRAIN
summary = {}
for position, acc in accuracy_by_position.items():
    summary[position] = (
        acc[seen].mean(),
        acc[~seen & (query_positions < 32)].mean(),
        acc[query_positions >= 32].mean(),
    )
    print(
        f"{position:>10}: final training loss {train_losses[position][-1]:.3f}; accuracy at "
        f"positions 3–15 {summary[position][0]:.3f}, 16–31 {summary[position][1]:.3f}, "
        f"32–63 {summary[position][2]:.3f}"
    )
print(f"chance: 1/{V} = {1 / V:.4f}")

# %%
learned_table = models["learned"].pos_emb.weight.detach().cpu()
check_equal(
    f"learned rows {L_TRAIN}…{L_EVAL - 1} never moved from their random initial values",
    learned_table[L_TRAIN:],
    initial_tables["learned"][L_TRAIN:].cpu(),
)
moved = (learned_table[:L_TRAIN] - initial_tables["learned"][:L_TRAIN].cpu()).norm(dim=1)
check_true("rows 0…15 did move", bool((moved > 0.1).all()), f"smallest change {moved.min():.3f}")
for position in ("learned", "sinusoidal", "rope"):
    check_true(
        f"{position}: solved at the training length",
        summary[position][0] > 0.99,
        f"accuracy {summary[position][0]:.3f}",
    )
check_true(
    "learned: at chance past the training length",
    summary["learned"][1] < 0.15,
    f"accuracy at 16–31 {summary['learned'][1]:.3f} vs chance {1 / V:.3f}",
)
for position in ("sinusoidal", "rope"):
    check_true(
        f"{position}: far below its trained accuracy at 32–63",
        summary[position][2] < 0.5,
        f"accuracy {summary[position][2]:.3f}",
    )
check_true(
    "rope: well above chance at 16–31",
    summary["rope"][1] > 0.3,
    f"accuracy {summary['rope'][1]:.3f}",
)
check_true(
    "none: not solved even at the training length",
    summary["none"][0] < 0.5,
    f"accuracy {summary['none'][0]:.3f}",
)

# %% [markdown]
# The learned table also illustrates the remark about direction: its trained Gram matrix
# $P_pP_q^\top$ is not a function of $q-p$, and not even in it.

# %%
learned_gram = learned_table[:L_TRAIN].double() @ learned_table[:L_TRAIN].double().T  # (16, 16)
ahead_behind = [(float(learned_gram[p, p + 3]), float(learned_gram[p, p - 3])) for p in (5, 10)]
print(
    "learned table, ⟨P_p, P_(p+3)⟩ vs ⟨P_p, P_(p-3)⟩:",
    ", ".join(
        f"p = {p}: {a:+.3f} vs {b:+.3f}" for p, (a, b) in zip((5, 10), ahead_behind, strict=True)
    ),
)
check_true(
    "learned: ⟨P_p, P_(p+3)⟩ ≠ ⟨P_p, P_(p-3)⟩", all(abs(a - b) > 1e-3 for a, b in ahead_behind)
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), width_ratios=[1, 1.6])
colors = dict(zip(POSITIONS, PALETTE, strict=False))
for position in POSITIONS:
    smoothed = np.convolve(train_losses[position], np.ones(10) / 10, mode="valid")
    axes[0].plot(smoothed, color=colors[position], label=position)
axes[0].axhline(math.log(V), ls=":", color="0.5", label=f"chance, ln {V}")
axes[0].set(
    xlabel="training step",
    ylabel="cross-entropy (nats), 10-step mean",
    title=f"Training at length {L_TRAIN}",
)
axes[0].legend()
for position in POSITIONS:
    axes[1].plot(
        query_positions,
        accuracy_by_position[position],
        "o-",
        ms=3,
        color=colors[position],
        label=position,
    )
axes[1].axvspan(L_TRAIN - 0.5, L_EVAL, color="0.92", zorder=0)
axes[1].axhline(1 / V, ls=":", color="0.5", label=f"chance, 1/{V}")
axes[1].text(L_TRAIN + 9, 0.8, "never seen in training", fontsize=9, color="0.4")
axes[1].set(
    xlabel="query position $i$",
    ylabel="accuracy of predicting $x_{i-3}$",
    title="Accuracy per position on sequences of 64 tokens",
)
axes[1].legend(loc="upper right")
fig.suptitle(
    f"Past the training length {L_TRAIN}, learned positions fall to chance; sinusoidal and RoPE"
    f" degrade (accuracy at 32–63: {summary['learned'][2]:.2f}, {summary['sinusoidal'][2]:.2f},"
    f" {summary['rope'][2]:.2f})"
)
plt.show()

# %% [markdown]
# What the printed numbers show:
#
# - **Learned** positions solve the task at the training length and drop to chance at the
#   first unseen position. That is forced: rows 16 to 63 are still the random vectors they were
#   initialised to (checked bit for bit).
# - **Sinusoidal** positions also solve it, and past position 15 they lose most of their
#   accuracy, though not all of it. $PE_{16}$ exists and is related to $PE_{13}$ by the same
#   rotation $M_3$ as $PE_{15}$ to $PE_{12}$, but the trained weights were fitted to 16
#   particular vectors, and nothing made them rely on that structure alone.
# - **RoPE** makes the attention score a function of the offset
#   ([chapter 03](03_rope.ipynb)), and the offset to find, 3, is the same at every position,
#   so it keeps much of its accuracy just past 16. It still degrades further out: a query at
#   position 40 also scores keys at offsets 16 to 40, rotation angles the model never saw, and
#   nothing stops some of those scores from beating offset 3. Position Interpolation and its
#   successors exist for this reason.
# - **No positions** at all: a one-layer causal model has only the causal mask to go on
#   ([chapter 01](01_self_attention.ipynb)). That does not locate "three back", and the model
#   does not solve the task even at the training length.
#
# RoPE's accuracy does not fall smoothly; it drops in steps, at particular positions. The
# head dimension here is 16, so RoPE's two fastest pairs turn by $\theta_0=1$ and
# $\theta_1=10000^{-1/8}\approx0.32$ radians per token. Some offsets put both pairs back
# within a fraction of a radian of their angles at offset 3, for example $3+19$, since 19 tokens
# is about three turns of the first pair and one turn of the second. To those pairs, the key at
# such an offset looks like the key three back; only the slower pairs can tell them apart, and
# training, with offsets of at most 15, never had to teach them to. A query at position $i$
# first sees offset $i$, so an alias offset $o$ can only hurt from position $o$ on. The cell
# lists the offsets past 15 where both fast pairs are within 0.7 rad of their angles at
# offset 3, and the positions where the measured accuracy drops most.

# %%
rope_frequencies = 10000.0 ** (-torch.arange(0, 16, 2) / 16)  # (8,): θ_i for head_dim 16
candidates = torch.arange(L_TRAIN, L_EVAL)  # offsets never seen in training
angle_gap = (
    torch.remainder((candidates - OFFSET)[:, None] * rope_frequencies[:2] + math.pi, 2 * math.pi)
    - math.pi
)  # (K, 2): wrapped to (-π, π]
alias_offsets = candidates[angle_gap.norm(dim=1) < 0.7].tolist()
rope_accuracy = accuracy_by_position["rope"]
drops = rope_accuracy[:-1] - rope_accuracy[1:]  # drop from position i-1 to i
past = query_positions[1:] >= L_TRAIN
largest_drops = query_positions[1:][past][np.argsort(-drops[past])[:2]].tolist()
print(f"alias offsets (both fast pairs within 0.7 rad of offset 3): {alias_offsets}")
print(
    f"positions of RoPE's two largest accuracy drops: {largest_drops}, by "
    f"{', '.join(f'{drops[query_positions[1:] == i][0]:.2f}' for i in largest_drops)}"
)
check_true(
    "RoPE's largest drop is at an alias offset",
    largest_drops[0] in alias_offsets,
    f"drop at {largest_drops[0]}, aliases {alias_offsets}",
)

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Absolute PE cannot represent direction." True?
# Only for the raw product $PE_p^\top PE_{p+k}=\sum_i\cos\omega_ik$ of *sinusoidal*
# encodings, which is even in $k$. Attention scores go through $A=W_QW_K^\top$, which is not
# symmetric: with blocks $\alpha_iI+\beta_iJ$ the position–position term is
# $\sum_i\alpha_i\cos\omega_ik-\beta_i\sin\omega_ik$, odd in $k$ through $\beta$ (checked in
# Verification). For *learned* absolute embeddings the claim does not even start: their
# products depend on $p$ and are not even in $k$. The accurate version is TENER's
# {cite}`yan2019tener`: the distance and direction information survives the projections only
# in a noisy, entangled form.
# :::
#
# :::{dropdown} "So BERT adopted learnable position embeddings as a fix." Right?
# No; the causality is backwards. Learned absolute embeddings predate BERT: ConvS2S
# {cite}`gehring2017convolutional` used them, Vaswani et al. tried them and found "nearly
# identical results" to sinusoids (their Table 3, row E), and GPT-1
# {cite}`radford2018improving` used them the year before BERT {cite}`devlin2019bert`. And they
# fix nothing about direction: a learned table is still absolute, added at the input, and goes
# through the same projections. The fixes are **relative** schemes, which make the score
# depend on $q-p$ directly: learned embeddings of the clipped offset inside attention
# {cite}`shaw2018self`, Transformer-XL's relative terms {cite}`dai2019transformerxl`, T5's
# learned scalar bias per offset bucket {cite}`raffel2020exploring`, RoPE's rotations
# {cite}`su2024roformer`, ALiBi's linear penalty {cite}`press2022train`.
# :::
#
# :::{dropdown} Why sinusoids and not simply $p$, or $p/L$?
# $p$ grows without bound and would swamp the token embedding; $p/L$ gives the same position a
# different code in sequences of different lengths. Sinusoids are bounded
# ({eq}`ape-norm`: the same norm at every position), distinct for positions within the longest
# wavelength, and related by a fixed rotation {eq}`ape-shift`, which a linear layer can use.
# The base 10000 only sets the longest wavelength, about $2\pi\cdot10^4$ tokens, far beyond
# the contexts of 2017.
# :::
#
# :::{dropdown} Why add the encoding instead of concatenating it?
# Concatenating $[e_t, PE_p]$ and then multiplying by $W_Q$ is the same as adding $e_tW_Q^{(1)}$
# and $PE_pW_Q^{(2)}$: adding is concatenation with the two projections tied to one space,
# which saves width. In high dimension the model can keep position and content in nearly
# orthogonal subspaces. The cost is that every layer sees them mixed, which is one motivation
# for schemes that act inside attention instead (relative bias, RoPE).
# :::
#
# :::{dropdown} Scale: why Experiment 2 re-initialises the token embeddings
# The entries of $PE_p$ are of size 1 and $\|PE_p\|=\sqrt{d/2}$, while GPT-2-style token
# embeddings start with entries of standard deviation 0.02. The shared model adds the two as
# they are, so at initialisation the position drowns the token, by the factor printed below,
# and the sinusoidal model has to grow its token embeddings before it can learn anything. (Try
# it: delete the `init.normal_` line of `train_lookback` and watch its loss.) Vaswani et al.
# multiply the token embeddings by $\sqrt d$ (their section 3.4), which puts the two at the
# same scale; with learned positions both tables start small and the issue does not arise.
# :::

# %%
initial_token_norm = 0.02 * math.sqrt(32)  # E‖e‖ ≈ 0.02 √d at initialisation
print(
    f"d = 32: ‖PE_p‖ = √(d/2) = {math.sqrt(16):.2f}, initial ‖e_t‖ ≈ 0.02·√d = "
    f"{initial_token_norm:.3f}: ratio {math.sqrt(16) / initial_token_norm:.0f}×"
)

# %% [markdown]
# :::{dropdown} How do models go past their training length, then?
# With learned tables: they don't, without fine-tuning; GPT-2 and BERT have hard limits of 1024
# and 512 positions. With RoPE, by rescaling the positions or frequencies so that the angles
# stay in the trained range (Position Interpolation {cite}`chen2023extending`, NTK-aware
# scaling and YaRN {cite}`peng2024yarn`), plus a short fine-tune; see
# [chapter 03](03_rope.ipynb). ALiBi was designed to extrapolate without either.
# :::
#
# :::{dropdown} Do decoder-only models need a position encoding at all?
# Not strictly. The causal mask breaks permutation symmetry, and trained causal LMs without
# positions (NoPE) come close to those with them {cite}`haviv2022nope`. That takes depth: in
# the one-layer model of Experiment 2, `none` could not find "three tokens back".
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Without a computer: for $d=4$, what is $\langle PE_3,PE_5\rangle$? And $\|PE_p\|^2$?
#
#    :::{dropdown} Answer
#    $d=4$ has two frequencies, $\omega_0=1$ and $\omega_1=10000^{-1/2}=0.01$. By
#    {eq}`ape-dot` with $k=2$: $\cos 2+\cos0.02\approx-0.416+1.000=0.584$. And
#    $\|PE_p\|^2=d/2=2$ for every $p$. The cell below checks both against the table.
#    :::

# %%
small = sinusoidal_table(8, 4)  # (8, 4)
check_close(
    "d = 4: ⟨PE_3, PE_5⟩ = cos 2 + cos 0.02",
    small[3] @ small[5],
    math.cos(2) + math.cos(0.02),
    atol=1e-14,
)
check_close("d = 4: ‖PE_p‖² = 2", (small * small).sum(-1), torch.full((8,), 2.0), atol=1e-14)
print(f"⟨PE_3, PE_5⟩ = {float(small[3] @ small[5]):.4f}")

# %% [markdown]
# 2. How many parameters does the learned position table of GPT-2 small
#    ($L_\text{max}=1024$, $d=768$) have, and of BERT-base ($512\times768$)? What does a
#    sinusoidal table cost?
#
#    :::{dropdown} Answer
#    $1024\cdot768=786{,}432$ and $512\cdot768=393{,}216$ parameters; a sinusoidal table costs
#    none (the shared model keeps it as a non-trainable buffer). The cell counts them in the
#    shared model with GPT-2's width and length (one layer, a one-token vocabulary and a
#    one-unit MLP, to keep it small).
#    :::

# %%
for name, length in (("GPT-2 small", 1024), ("BERT-base", 512)):
    width_cfg = dict(vocab_size=1, block_size=length, n_layer=1, n_head=12, d_model=768, d_ff=1)
    learned = GPT(GPTConfig(**width_cfg, position="learned"))
    sinusoid = GPT(GPTConfig(**width_cfg, position="sinusoidal"))
    check_equal(
        f"{name}: learned position parameters = {length}·768",
        count_parameters(learned) - count_parameters(sinusoid),
        length * 768,
    )

# %% [markdown]
# 3. A model with learned positions was trained on 512 tokens, with a table of 2048 rows
#    "for later". You feed it 1024 tokens. What happens, and what would you do instead?
#
#    :::{dropdown} Answer
#    It runs, and it is wrong past 512: rows 512 to 2047 never received a gradient
#    ({eq}`ape-learned`), so they are still random (Experiment 2 checks this bit for bit).
#    Options: fine-tune on longer sequences; initialise the new rows by interpolating the
#    trained ones (what some vision transformers do for larger images); or, when designing the
#    model, use a relative scheme (RoPE with interpolation, ALiBi).
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`vaswani2017attention`: section 3.5 (the sinusoidal encoding {eq}`ape-pe`, the
#   linear-shift motivation, learned embeddings "nearly identical", the hope of
#   extrapolation), Table 3 row E, section 3.4 (token embeddings multiplied by $\sqrt d$).
# - {cite:t}`gehring2017convolutional` (learned position embeddings in ConvS2S, before the
#   Transformer); {cite:t}`radford2018improving` (GPT-1, learned embeddings);
#   {cite:t}`devlin2019bert` (BERT, learned embeddings, 512 positions).
# - {cite:t}`yan2019tener`, section 3 (the sinusoidal product is symmetric in $k$, and the
#   projections blur distance and direction).
# - Relative schemes: {cite:t}`shaw2018self`, {cite:t}`dai2019transformerxl`,
#   {cite:t}`raffel2020exploring` (T5's bucketed relative bias), {cite:t}`su2024roformer`
#   (RoPE), {cite:t}`press2022train` (ALiBi, and its measurements of sinusoidal models past the
#   training length).
# - {cite:t}`chen2023extending` (Position Interpolation), {cite:t}`peng2024yarn` (NTK-aware
#   scaling and YaRN), {cite:t}`haviv2022nope` (NoPE).

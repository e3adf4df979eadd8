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
# # 03. Rotary position embedding (RoPE)
#
# **The question.** What is RoPE? Why is it needed? When and where is it applied in attention?
#
# **What you will be able to answer.** Derive why rotating queries and keys by their positions
# makes the attention score depend only on the offset $n-m$, with its sign; write RoPE in both
# pairing conventions and say why they are the same model up to a permutation of weights; say
# where it is applied (queries and keys, after the projection, in every layer, not values);
# read its frequency spectrum; and say why a RoPE model needs Position Interpolation,
# NTK-aware scaling or YaRN to run past its training length.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.gpt import GPT, GPTConfig, apply_rope, rope_cos_sin
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the identities can be checked to 1e-10

# %% [markdown]
# ## Short answer
#
# - **What.** RoPE {cite}`su2024roformer` encodes position by *rotating* each query and key.
#   The $d$ dimensions of a head are split into $d/2$ pairs, and pair $i$ of a vector at
#   position $m$ is rotated by the angle $m\theta_i$, with $\theta_i=b^{-2i/d}$ and $b=10000$.
#   In complex form, pair $i$ is multiplied by $e^{\mathrm im\theta_i}$.
# - **Why it works.** Rotations compose: $R_m^\top R_n=R_{n-m}$. So
#   $(R_mq)^\top(R_nk)=q^\top R_{n-m}k$, and the score depends on the two positions only
#   through the offset $n-m$, *with its sign*: "4 ahead" and "4 behind" score differently.
#   The sinusoidal dot product of [chapter 02](02_absolute_position_encoding.ipynb) cannot do
#   that. Rotations also preserve norms, so RoPE changes no vector's length, and it has no
#   parameters.
# - **Why it is needed.** Attention is blind to order without some position signal
#   ([chapter 01](01_self_attention.ipynb)). RoPE puts relative position into the score
#   itself, in every layer, instead of adding an absolute vector to the input once.
# - **Where.** In every attention layer, per head, on $Q$ and $K$ *after* their projections
#   and before $QK^\top$; the causal mask is then added to the scores. Not on $V$: the values
#   are what the output is made of, and rotating them would tie the output to absolute
#   positions. No position vector is ever added to the residual stream. In decoding, each key
#   is rotated once, at its own position, and cached rotated.
# - **Caveats the notes miss.** Two pairing conventions exist: adjacent dimensions
#   $(2i,2i+1)$ (the paper) and the two halves $(i,i+d/2)$ (GPT-NeoX, Hugging Face's Llama).
#   They are the same model after a fixed permutation of the query and key weights, but a
#   checkpoint must be run with its own. RoPE does not "work well for long context" by itself:
#   past the training length it meets angles it never saw, and models are extended with
#   Position Interpolation, NTK-aware scaling or YaRN. Its "long-term decay" is an upper bound:
#   the scores of unrelated queries and keys do not decay at all. "Use RoPE or an absolute
#   PE, never both" is common practice, not a law. (And typos in the notes: "attentin",
#   "when and where does it be applied".)

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $d$ | head dimension (even) | `head_dim` |
# | $i=0,\dots,d/2-1$ | index of a pair of dimensions | `i` |
# | $\theta_i$ | rotation speed of pair $i$, radians per token | `rope_frequencies` |
# | $b$ | the base, 10000 in the paper | `base` |
# | $m,n$ | positions of the query and of the key | `m`, `n` |
# | $q,k\in\mathbb R^d$ | one head's query and key *before* rotation (column vectors) | `q`, `k` |
# | $R_m=R_{\Theta,m}$ | the rotation for position $m$, a $d\times d$ matrix | `rotation_matrix` |
# | $z_i=x_{2i}+\mathrm i\,x_{2i+1}$ | pair $i$ of $x$ as a complex number | `view_as_complex` |
#
# ### The rotation
#
# Each pair gets its own speed, falling geometrically as in the sinusoidal encoding:
#
# $$
# \theta_i=b^{-2i/d},\qquad i=0,\dots,\tfrac d2-1
# $$ (rope-theta)
#
# The rotation for position $m$ turns pair $i$ (dimensions $2i,2i+1$) by $m\theta_i$:
#
# $$
# R_{\Theta,m}=\operatorname{blockdiag}_{i}\begin{pmatrix}\cos m\theta_i&-\sin m\theta_i\\
# \sin m\theta_i&\cos m\theta_i\end{pmatrix}
# $$ (rope-rotation)
#
# and RoPE applies it to the projected query of the token at $m$ and the projected key of the
# token at $n$ (per head, $W_Q,W_K$ being that head's projections):
#
# $$
# \tilde q_m=R_{\Theta,m}\,W_Qx_m,\qquad \tilde k_n=R_{\Theta,n}\,W_Kx_n
# $$ (rope-apply)
#
# ### The score depends only on $n-m$
#
# Each block is a 2-D rotation, and 2-D rotations compose by adding angles:
# $R(\alpha)^\top R(\beta)=R(-\alpha)R(\beta)=R(\beta-\alpha)$. Block by block, this gives
#
# $$
# R_{\Theta,m}^\top R_{\Theta,n}=R_{\Theta,n-m},\qquad
# \tilde q_m^\top\tilde k_n=q^\top R_{\Theta,m}^\top R_{\Theta,n}\,k=q^\top R_{\Theta,n-m}\,k
# $$ (rope-relative)
#
# The positions appear only as $n-m$. Swapping them gives $q^\top R_{\Theta,m-n}k=
# q^\top R_{\Theta,n-m}^\top k$, which is a different number unless $q$ and $k$ are special:
# RoPE knows *direction*. Compare the sinusoidal product $\sum_i\cos\omega_i(n-m)$ of
# [chapter 02](02_absolute_position_encoding.ipynb), which is even in $n-m$. Since every
# $R_{\Theta,m}$ is orthogonal, $\|\tilde q_m\|=\|q\|$ and $\|\tilde k_n\|=\|k\|$: the
# rotation changes directions only.
#
# ### Complex form
#
# Read pair $i$ of a vector as one complex number $z_i=x_{2i}+\mathrm ix_{2i+1}$. Multiplying
# by $e^{\mathrm i\varphi}$ rotates it by $\varphi$, so RoPE is
#
# $$
# \tilde z_i=z_i\,e^{\mathrm im\theta_i},\qquad
# \tilde q_m^\top\tilde k_n=\operatorname{Re}\sum_{i=0}^{d/2-1}
# z^{(q)}_i\,\overline{z^{(k)}_i}\;e^{\mathrm i(m-n)\theta_i}
# $$ (rope-complex)
#
# The right side uses $\operatorname{Re}(a\bar b)=a_xb_x+a_yb_y$ for the real dot product of
# two pairs. This is how Meta's original LLaMA code {cite}`touvron2023llama` computes RoPE,
# with `torch.polar` and complex multiplication.
#
# ### The half-split convention
#
# GPT-NeoX {cite}`black2022gptneox` and Hugging Face's Llama {cite}`wolf2020transformers` pair
# dimension $i$ with dimension $i+d/2$ instead of $2i$ with $2i+1$. With
# $\operatorname{rotate\_half}(x)=[-x_{d/2:d},\ x_{0:d/2}]$ and the angles repeated for both
# halves, $\phi=[m\theta_0,\dots,m\theta_{d/2-1},m\theta_0,\dots,m\theta_{d/2-1}]$:
#
# $$
# \tilde x=x\odot\cos\phi+\operatorname{rotate\_half}(x)\odot\sin\phi
# $$ (rope-half)
#
# Component $i<d/2$ becomes $x_i\cos m\theta_i-x_{i+d/2}\sin m\theta_i$ and component $i+d/2$
# becomes $x_{i+d/2}\cos m\theta_i+x_i\sin m\theta_i$: the same rotation, applied to the pair
# $(x_i,x_{i+d/2})$. Let $P$ be the permutation that lists the even dimensions first, then the
# odd ones: $(Px)_j=x_{2j}$ and $(Px)_{j+d/2}=x_{2j+1}$. Then
#
# $$
# \operatorname{RoPE}_\text{half}(Px)=P\,\operatorname{RoPE}_\text{adjacent}(x),\qquad
# (P\tilde q)^\top(P\tilde k)=\tilde q^\top\tilde k
# $$ (rope-permutation)
#
# So a model trained with one convention becomes the same model in the other after permuting
# the rows of each head's $W_Q$ and $W_K$ by $P$ (and their biases, if any). This is what
# Hugging Face's Llama conversion script does. Running a checkpoint with the other convention
# *without* the permutation silently gives wrong attention.
#
# ### Where it goes, and why not on $V$
#
# Per layer, the order is: norm, projections $Q,K,V$, split into heads, RoPE on $Q$ and $K$,
# scores $QK^\top/\sqrt d$, mask, softmax, weighted sum of $V$. The output of query $m$ is
# $\sum_na_{mn}v_n$ with weights that depend on contents and offsets only. Shift every
# position by $s$ and nothing changes, because the scores depend only on differences:
#
# $$
# \operatorname{Attn}_{\text{positions }m+s}(X)=\operatorname{Attn}_{\text{positions }m}(X)
# $$ (rope-shift)
#
# If $V$ were rotated too, the output would be $\sum_na_{mn}R_{\Theta,n}v_n$. Shifting the
# positions by $s$ multiplies it by $R_{\Theta,s}$: the output now carries the *absolute*
# position, rotated into the residual stream, which is what RoPE was meant to avoid.
#
# ### The "long-term decay" is an upper bound
#
# Write $h_i=z^{(q)}_i\overline{z^{(k)}_i}$ (with $h_{d/2}=0$) and
# $S_j=\sum_{l=0}^{j-1}e^{\mathrm ir\theta_l}$ for the offset $r=m-n$. Summation by parts
# (Abel) on {eq}`rope-complex` gives the bound of the RoFormer paper (its section 3.4.3):
#
# $$
# \Big|\sum_{i=0}^{d/2-1}h_ie^{\mathrm ir\theta_i}\Big|
# =\Big|\sum_{i=0}^{d/2-1}S_{i+1}(h_{i+1}-h_i)\Big|
# \le\Big(\max_i|h_{i+1}-h_i|\Big)\sum_{j=1}^{d/2}|S_j|
# $$ (rope-decay)
#
# The factor $\frac1{d/2}\sum_j|S_j|$ shrinks as $|r|$ grows, since the phases
# $r\theta_l$ spread out. That is a statement about a *bound*. For independent random $q,k$
# the distribution of the score does not depend on $r$ at all ($R_{\Theta,r}k$ has the same
# distribution as $k$), so the typical score does not decay; it decays when $q$ and $k$ are
# aligned, e.g. $q=k$, where $h_i=|z_i|^2>0$. Experiment 3 shows all three.
#
# ### Past the training length: interpolation
#
# A model trained on positions $[0,L)$ has seen, in pair $i$, the angles $[0,L\theta_i)$. Pairs
# whose wavelength $2\pi/\theta_i$ is shorter than $L$ have turned full circle and have seen
# every angle; the slow pairs, with wavelength longer than $L$, have not. At positions past
# $L$ those pairs produce angles never seen in training. Three fixes, for a new length
# $L'=sL$:
#
# - **Position Interpolation** {cite}`chen2023extending` squeezes the positions back into
#   the trained range, $m\mapsto m/s$:
#
#   $$
#   \phi_i(m)=\frac ms\,\theta_i,\qquad 0\le\frac ms<L\ \text{ for }\ 0\le m<L'
#   $$ (rope-pi)
#
#   Every angle is then one the model has seen, at the price of resolution: adjacent tokens
#   now differ by $\theta_i/s$ in every pair, the fast ones included.
# - **NTK-aware scaling** {cite}`bloc972023ntk` changes the base instead,
#   $b'=b\,s^{d/(d-2)}$. The fastest pair keeps $\theta_0=1$, the slowest is slowed by
#   exactly $s$ (like PI), and the pairs in between by less:
#
#   $$
#   \theta_i'=(b')^{-2i/d}=\theta_i\,s^{-2i/(d-2)}
#   $$ (rope-ntk)
#
# - **YaRN** {cite}`peng2024yarn` interpolates per pair by wavelength ("NTK-by-parts"): with
#   $r_i=L\theta_i/2\pi$ the number of turns pair $i$ makes in the training length, and a ramp
#   $\gamma(r)$ that is 0 below $\alpha$ turns, 1 above $\beta$, linear in between,
#
#   $$
#   \theta_i''=\big(1-\gamma(r_i)\big)\frac{\theta_i}{s}+\gamma(r_i)\,\theta_i
#   $$ (rope-yarn)
#
#   so the fast pairs are left alone and the slow ones are interpolated like PI. YaRN also
#   divides the logits by a temperature, $\sqrt{1/t}=0.1\ln s+1$. All three are followed by a
#   short fine-tune at the new length in their papers; NTK-aware scaling was proposed to work
#   without one.

# %% [markdown]
# ## Implementation from scratch
#
# The speeds {eq}`rope-theta`, the angles $m\theta_i$ for a vector of positions (positions may
# be fractional, for Position Interpolation), and the explicit matrix {eq}`rope-rotation`:


# %%
def rope_frequencies(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """θ_i = base^(-2i/d), eq. (rope-theta). Shape (d/2,), float64."""
    if head_dim % 2:
        raise ValueError(f"head_dim must be even, got {head_dim}")
    return base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)


def rope_angles(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """m θ_i for every position m and pair i. Shape (T, d/2), float64."""
    return positions.to(torch.float64)[:, None] * rope_frequencies(head_dim, base)


def rotation_matrix(position: float, head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """R_{Θ,m}: block-diagonal 2×2 rotations by m θ_i, eq. (rope-rotation). Shape (d, d)."""
    angles = position * rope_frequencies(head_dim, base)  # (d/2,)
    cos, sin = angles.cos(), angles.sin()
    blocks = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return torch.block_diag(*blocks)  # (d, d), from blocks (d/2, 2, 2)


# %% [markdown]
# RoPE in the paper's adjacent-pair convention, twice: by complex multiplication
# {eq}`rope-complex`, and by writing out the rotation of each pair. Both take `x` of shape
# $(\dots,T,d)$ and one position per row.


# %%
def rope_adjacent_complex(
    x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0
) -> torch.Tensor:
    """Pairs (2i, 2i+1) as complex numbers, times e^{i m θ_i}, eq. (rope-complex)."""
    d = x.shape[-1]
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())  # (…, T, d/2)
    angles = rope_angles(positions, d, base)  # (T, d/2)
    phase = torch.polar(torch.ones_like(angles), angles)  # e^{i m θ_i}, (T, d/2)
    return torch.view_as_real(pairs * phase).flatten(-2)  # (…, T, d)


def rope_adjacent(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Pairs (2i, 2i+1) rotated by m θ_i, written out, eq. (rope-rotation)."""
    angles = rope_angles(positions, x.shape[-1], base)  # (T, d/2)
    cos, sin = angles.cos(), angles.sin()
    even, odd = x[..., 0::2], x[..., 1::2]  # (…, T, d/2) each
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.flatten(-2)  # (…, T, d): interleave back to 0, 1, 2, …


# %% [markdown]
# The half-split convention {eq}`rope-half`, and the permutation $P$ of
# {eq}`rope-permutation`, as an index vector and as Hugging Face's conversion writes it for a
# weight matrix: a `view`, a `transpose` and a `reshape` per head.


# %%
def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[-x_{d/2:}, x_{:d/2}]: the partner of each dimension in the half-split pairing."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rope_half_split(
    x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0
) -> torch.Tensor:
    """Pairs (i, i + d/2) rotated by m θ_i, eq. (rope-half)."""
    angles = rope_angles(positions, x.shape[-1], base)  # (T, d/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, d): φ, both halves
    return x * angles.cos() + rotate_half(x) * angles.sin()


def adjacent_to_half_permutation(head_dim: int) -> torch.Tensor:
    """P as indices: the even dimensions, then the odd ones. x_half = x_adjacent[..., P]."""
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])


def permute_rows_for_half_split(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Reorder the output rows of a (n_heads·d, d_in) query or key weight, head by head, by P."""
    rows, cols = weight.shape
    head_dim = rows // n_heads
    per_head = weight.reshape(n_heads, head_dim // 2, 2, cols)  # row 2j + a -> (j, a)
    return per_head.transpose(1, 2).reshape(rows, cols)  # -> (a, j): evens first, then odds


# %% [markdown]
# Single-head causal attention with RoPE on the queries and keys, and optionally on the values
# (the wrong thing, for the experiment of {eq}`rope-shift`):


# %%
def rope_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    positions: torch.Tensor,
    rotate_values: bool = False,
) -> torch.Tensor:
    """Causal attention of x (T, d_in) with weights (d_in, d); RoPE on q and k, eq. (rope-apply)."""
    q = rope_half_split(x @ w_q, positions)  # (T, d)
    k = rope_half_split(x @ w_k, positions)  # (T, d)
    v = x @ w_v  # (T, d)
    if rotate_values:
        v = rope_half_split(v, positions)
    scores = q @ k.T / math.sqrt(q.shape[-1])  # (T, T)
    causal = torch.ones_like(scores, dtype=torch.bool).tril()
    weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)  # (T, T)
    return weights @ v  # (T, d)


# %% [markdown]
# The score of one query vector placed at $m$ against one key vector placed at $n$:


# %%
def rope_score(q: torch.Tensor, k: torch.Tensor, m: float, n: float) -> float:
    """(R_m q)ᵀ (R_n k) for q, k of shape (d,), eq. (rope-relative)."""
    rotated_q = rope_adjacent(q[None], torch.tensor([m]))[0]  # (d,)
    rotated_k = rope_adjacent(k[None], torch.tensor([n]))[0]  # (d,)
    return float(rotated_q @ rotated_k)


# %% [markdown]
# The bound {eq}`rope-decay` for given $q,k$ and a vector of offsets $r$, next to the actual
# score $\operatorname{Re}\sum_ih_ie^{\mathrm ir\theta_i}$:


# %%
def decay_bound_and_score(
    q: torch.Tensor, k: torch.Tensor, offsets: torch.Tensor, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """For q, k of shape (N, d) and offsets r (R,): the bound of eq. (rope-decay) and the
    score q_mᵀ k_n at m - n = r, both (N, R)."""
    d = q.shape[-1]
    z_q = torch.view_as_complex(q.reshape(-1, d // 2, 2).contiguous())  # (N, d/2)
    z_k = torch.view_as_complex(k.reshape(-1, d // 2, 2).contiguous())  # (N, d/2)
    h = z_q * z_k.conj()  # (N, d/2)
    h_next = torch.cat([h[:, 1:], torch.zeros_like(h[:, :1])], dim=1)  # h_{i+1}, h_{d/2} = 0
    max_step = (h_next - h).abs().amax(dim=1)  # (N,)
    angles = rope_angles(offsets, d, base)  # (R, d/2): r θ_i
    phases = torch.polar(torch.ones_like(angles), angles)  # e^{i r θ_i}, (R, d/2)
    partial_sums = phases.cumsum(dim=1)  # S_1 … S_{d/2}, (R, d/2)
    bound = max_step[:, None] * partial_sums.abs().sum(dim=1)[None, :]  # (N, R)
    score = (h[:, None, :] * phases[None]).sum(-1).real  # (N, R)
    return bound, score


# %% [markdown]
# And the three ways to extend the context: the positions of PI {eq}`rope-pi`, and the speeds
# of NTK-aware scaling {eq}`rope-ntk` and of YaRN's by-parts interpolation {eq}`rope-yarn`
# (with YaRN's defaults for LLaMA, $\alpha=1$, $\beta=32$).


# %%
def interpolated_positions(length: int, scale: float) -> torch.Tensor:
    """Position Interpolation: m / s for m = 0 … L'-1, eq. (rope-pi)."""
    return torch.arange(length, dtype=torch.float64) / scale


def ntk_aware_frequencies(head_dim: int, scale: float, base: float = 10000.0) -> torch.Tensor:
    """θ'_i for the base b·s^(d/(d-2)), eq. (rope-ntk)."""
    return rope_frequencies(head_dim, base * scale ** (head_dim / (head_dim - 2)))


def yarn_frequencies(
    head_dim: int,
    scale: float,
    train_length: int,
    base: float = 10000.0,
    alpha: float = 1.0,
    beta: float = 32.0,
) -> torch.Tensor:
    """θ''_i of YaRN's NTK-by-parts interpolation, eq. (rope-yarn)."""
    theta = rope_frequencies(head_dim, base)  # (d/2,)
    turns = train_length * theta / (2 * math.pi)  # r_i: turns in the training length
    ramp = ((turns - alpha) / (beta - alpha)).clamp(0.0, 1.0)  # γ(r_i)
    return (1 - ramp) * theta / scale + ramp * theta


# %% [markdown]
# ## Verification
#
# ### Three ways to rotate, one result
#
# The complex form, the written-out rotation and the explicit matrix
# $R_{\Theta,m}$ of {eq}`rope-rotation`, on random vectors at random positions, float64.

# %%
HEAD_DIM = 128
x = torch.randn(4, 50, HEAD_DIM)  # (B, T, d)
positions = torch.randint(0, 8192, (50,))  # (T,): any positions, not only 0 … T-1
by_complex = rope_adjacent_complex(x, positions)
by_pairs = rope_adjacent(x, positions)
by_matrix = torch.stack(
    [x[:, t] @ rotation_matrix(float(m), HEAD_DIM).T for t, m in enumerate(positions)], dim=1
)  # (B, T, d): row vectors, so x Rᵀ
check_close(
    "RoPE: complex multiplication vs written-out rotation", by_complex, by_pairs, atol=1e-12
)
check_close("RoPE: written-out rotation vs the matrix R_{Θ,m}", by_pairs, by_matrix, atol=1e-12)
check_close(
    "norms are preserved, ‖R_m x‖ = ‖x‖",
    by_pairs.norm(dim=-1),
    x.norm(dim=-1),
    atol=1e-12,
)

# %% [markdown]
# ### The two conventions, and the shared model
#
# {eq}`rope-permutation` on vectors; then on weights: a two-head attention layer in the
# adjacent convention and the same layer with its $W_Q,W_K$ rows permuted by
# `permute_rows_for_half_split` and run in the half-split convention give identical scores.
# The permutation written as Hugging Face writes it must agree with the index vector $P$.

# %%
perm = adjacent_to_half_permutation(HEAD_DIM)
check_close(
    "RoPE_half(P x) = P RoPE_adjacent(x)",
    rope_half_split(x[..., perm], positions),
    rope_adjacent(x, positions)[..., perm],
    atol=1e-12,
)

n_heads, d_in, seq_len = 2, 48, 20
w_q = torch.randn(n_heads * HEAD_DIM, d_in) / math.sqrt(d_in)  # (H·d, d_in), nn.Linear layout
w_k = torch.randn(n_heads * HEAD_DIM, d_in) / math.sqrt(d_in)
tokens = torch.randn(seq_len, d_in)  # (T, d_in)
seq_positions = torch.arange(seq_len)
full_perm = torch.cat([h * HEAD_DIM + perm for h in range(n_heads)])
check_equal(
    "HF-style view/transpose = index permutation P, per head",
    permute_rows_for_half_split(w_q, n_heads),
    w_q[full_perm],
)


def head_scores(w_q: torch.Tensor, w_k: torch.Tensor, rope: str) -> torch.Tensor:
    """Scores (H, T, T) of the two heads with the given RoPE convention."""
    apply = rope_adjacent if rope == "adjacent" else rope_half_split
    q = (tokens @ w_q.T).view(seq_len, n_heads, HEAD_DIM).transpose(0, 1)  # (H, T, d)
    k = (tokens @ w_k.T).view(seq_len, n_heads, HEAD_DIM).transpose(0, 1)  # (H, T, d)
    return apply(q, seq_positions) @ apply(k, seq_positions).transpose(-2, -1)  # (H, T, T)


adjacent_scores = head_scores(w_q, w_k, "adjacent")
half_scores = head_scores(
    permute_rows_for_half_split(w_q, n_heads), permute_rows_for_half_split(w_k, n_heads), "half"
)
check_close(
    "scores: adjacent vs half-split with permuted W_Q, W_K",
    half_scores,
    adjacent_scores,
    atol=1e-10,
)
wrong_scores = head_scores(w_q, w_k, "half")  # the same weights, the other convention
print(
    f"without the permutation the scores change by up to "
    f"{float((wrong_scores - adjacent_scores).abs().max()):.1f} "
    f"(scores are of size {float(adjacent_scores.abs().mean()):.1f} on average)"
)

# %% [markdown]
# Our half-split RoPE against the shared model's `apply_rope(x, *rope_cos_sin(...))`, which
# computes the angles in float64 and stores the cosines and sines in float32. The tolerance
# is that rounding, about $6\times10^{-8}$ per cosine, times the size of $x$.

# %%
shared = apply_rope(x[:, None], *rope_cos_sin(positions, HEAD_DIM))[:, 0]  # (B, T, d)
check_close(
    "our half-split RoPE vs notebook_utils.gpt.apply_rope (float32 cos/sin)",
    rope_half_split(x, positions),
    shared,
    atol=2e-6,
)

# %% [markdown]
# ### The score depends only on the offset, with its sign
#
# The errata's checks, then {eq}`rope-relative` as a matrix identity, then the offset property
# over 2,000 random pairs of positions up to 8,192, each shifted by a random amount.

# %%
q, k = torch.randn(HEAD_DIM), torch.randn(HEAD_DIM)
check_close(
    "score(m=3, n=7) = score(m=10, n=14)",
    rope_score(q, k, 3, 7),
    rope_score(q, k, 10, 14),
    atol=1e-12,
)
forward, backward = rope_score(q, k, 3, 7), rope_score(q, k, 7, 3)
check_true(
    "score(3, 7) ≠ score(7, 3): RoPE knows direction",
    abs(forward - backward) > 1e-3,
    f"{forward:.4f} vs {backward:.4f}",
)
check_close(
    "R_mᵀ R_n = R_{n-m} for m = 3, n = 7",
    rotation_matrix(3, HEAD_DIM).T @ rotation_matrix(7, HEAD_DIM),
    rotation_matrix(4, HEAD_DIM),
    atol=1e-12,
)

# %%
generator = torch.Generator().manual_seed(1)
m_pos = torch.randint(0, 8192, (2000,), generator=generator)  # (N,)
n_pos = torch.randint(0, 8192, (2000,), generator=generator)  # (N,)
shift = torch.randint(-4096, 4096, (2000,), generator=generator)  # (N,)
qs, ks = torch.randn(2000, HEAD_DIM), torch.randn(2000, HEAD_DIM)  # (N, d): one pair per row
scores = (rope_adjacent(qs, m_pos) * rope_adjacent(ks, n_pos)).sum(-1)  # (N,): row i at m_i, n_i
shifted_scores = (rope_adjacent(qs, m_pos + shift) * rope_adjacent(ks, n_pos + shift)).sum(-1)
relative_scores = (qs * rope_adjacent(ks, n_pos - m_pos)).sum(-1)  # qᵀ R_{n-m} k
check_close("2,000 pairs: score(m + s, n + s) = score(m, n)", shifted_scores, scores, atol=1e-9)
check_close("2,000 pairs: score(m, n) = qᵀ R_{n-m} k", relative_scores, scores, atol=1e-9)
swapped_scores = (rope_adjacent(qs, n_pos) * rope_adjacent(ks, m_pos)).sum(-1)
differs = (swapped_scores - scores).abs() > 1e-6
check_true(
    "swapping m and n changes the score (pairs with m ≠ n)",
    bool(differs[m_pos != n_pos].all()),
    f"smallest change {float((swapped_scores - scores).abs()[m_pos != n_pos].min()):.2e}",
)

# %% [markdown]
# The speeds for $d=128$, as quoted in the errata:

# %%
theta_128 = rope_frequencies(128)
check_close("d = 128: θ_0 = 1", theta_128[0], 1.0, atol=1e-15)
check_close("d = 128: θ_63 = 10000^(-126/128) = 1.1548e-4", theta_128[63], 1.1548e-4, atol=5e-9)
print(f"θ_63 = {float(theta_128[63]):.6e}")

# %% [markdown]
# ### Queries and keys only: the shared model's cache, and shift invariance
#
# The shared `GPT(position="rope")` rotates $q$ and $k$ inside each layer and caches keys
# *after* rotation. We recompute layer 0's keys and values by hand from its weights: the cached
# keys must equal our half-split RoPE of $W_Kx$ at each key's own position, and the cached
# values must equal $W_Vx$, not rotated. Then one more token: the cache grows by one rotated
# key, and the old keys are left exactly as they were (never rotated again).

# %%
cfg = GPTConfig(vocab_size=32, block_size=64, n_layer=1, n_head=2, d_model=32, position="rope")
gpt = GPT(cfg).eval()  # float64, the default dtype here
prompt = torch.randint(0, 32, (1, 10), generator=generator)  # (B, T)
with torch.no_grad():
    _, cache = gpt(prompt, use_cache=True)
    next_token = torch.randint(0, 32, (1, 1), generator=generator)
    _, grown = gpt(next_token, past_key_values=cache, use_cache=True)
    tokens_all = torch.cat([prompt, next_token], dim=1)  # (B, 11)
    hidden = gpt.blocks[0].norm1(gpt.tok_emb(tokens_all))  # (B, 11, d_model)
    _, k_proj, v_proj = gpt.blocks[0].attn.qkv(hidden).split(cfg.d_model, dim=-1)
k_heads = k_proj.view(1, 11, 2, cfg.head_dim).transpose(1, 2)  # (B, H, 11, hd)
v_heads = v_proj.view(1, 11, 2, cfg.head_dim).transpose(1, 2)  # (B, H, 11, hd)
our_keys = rope_half_split(k_heads, torch.arange(11))  # each key at its own position
check_close(
    "cached keys = RoPE(W_K x) at their positions", cache[0][0], our_keys[:, :, :10], atol=2e-6
)
check_close("cached values = W_V x, not rotated", cache[0][1], v_heads[:, :, :10], atol=1e-12)
check_close(
    "after one more token: new key rotated at position 10",
    grown[0][0][:, :, 10],
    our_keys[:, :, 10],
    atol=2e-6,
)
check_equal("after one more token: old keys untouched", grown[0][0][:, :, :10], cache[0][0])

# %% [markdown]
# {eq}`rope-shift`: the same tokens at positions $0\dots T-1$ and at $s\dots s+T-1$, with RoPE
# on $Q,K$ only, give the same outputs. With $V$ rotated as well, the outputs at the shifted
# positions are the unshifted ones rotated by $R_{\Theta,s}$ (in the half-split layout).

# %%
d_in, d_head, n_tokens, offset_s = 24, 16, 12, 1000
w_q3, w_k3, w_v3 = (torch.randn(d_in, d_head) / math.sqrt(d_in) for _ in range(3))
x_seq = torch.randn(n_tokens, d_in)  # (T, d_in)
at_zero, at_s = torch.arange(n_tokens), offset_s + torch.arange(n_tokens)
qk_only = [rope_attention(x_seq, w_q3, w_k3, w_v3, pos) for pos in (at_zero, at_s)]
with_v = [
    rope_attention(x_seq, w_q3, w_k3, w_v3, pos, rotate_values=True) for pos in (at_zero, at_s)
]
check_close(
    "RoPE on Q, K: outputs unchanged by a shift of 1000", qk_only[1], qk_only[0], atol=1e-12
)
check_close(
    "RoPE on V too: shifted outputs = R_s · unshifted outputs",
    with_v[1],
    rope_half_split(with_v[0], torch.full((n_tokens,), float(offset_s))),
    atol=1e-12,
)
v_shift_change = float((with_v[1] - with_v[0]).abs().max())
check_true(
    "RoPE on V: the shift changes the outputs",
    v_shift_change > 0.1,
    f"max change {v_shift_change:.3f}",
)

# %% [markdown]
# ## Experiments
#
# ### 1. The score as a function of the two positions
#
# One random query vector $q$ and key vector $k$ ($d=64$), the query placed at every position
# $m<64$ and the key at every $n<64$. By {eq}`rope-relative` the matrix of scores is constant
# along each diagonal $n-m=\text{const}$ (a Toeplitz matrix), and not symmetric.

# %%
q64, k64 = torch.randn(64), torch.randn(64)
grid = torch.arange(64)
score_grid = rope_adjacent(q64.expand(64, -1), grid) @ rope_adjacent(k64.expand(64, -1), grid).T
diagonal_spread = max(
    float(score_grid.diagonal(r).max() - score_grid.diagonal(r).min()) for r in range(-63, 64)
)
check_true(
    "score(m, n) is constant along every diagonal n - m",
    diagonal_spread < 1e-10,
    f"largest spread along a diagonal {diagonal_spread:.1e}",
)
asymmetry = float((score_grid - score_grid.T).abs().max())
check_true("score(m, n) ≠ score(n, m)", asymmetry > 1.0, f"max |S - Sᵀ| = {asymmetry:.2f}")
by_offset = torch.stack([score_grid.diagonal(r)[0] for r in range(-63, 64)])  # (127,), r = n - m

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), width_ratios=[1, 1.4])
image = axes[0].imshow(
    score_grid.numpy(), cmap="RdBu_r", vmin=-score_grid.abs().max(), vmax=score_grid.abs().max()
)
axes[0].set(
    xlabel="key position $n$",
    ylabel="query position $m$",
    title="score$(m,n)$: constant along diagonals",
)
axes[0].grid(False)
fig.colorbar(image, ax=axes[0], shrink=0.85, label=r"$\tilde q_m^\top\tilde k_n$")
offsets_np = np.arange(-63, 64)
axes[1].plot(offsets_np, by_offset.numpy(), color=PALETTE[0], lw=2, label="score at $n-m=r$")
axes[1].plot(
    offsets_np,
    by_offset.flip(0).numpy(),
    "--",
    color=PALETTE[1],
    lw=1.2,
    label="score at $n-m=-r$ (mirror)",
)
axes[1].axvline(0, color="0.6", lw=0.8)
axes[1].set(
    xlabel="offset $r=n-m$ (tokens)",
    ylabel="score",
    title="A function of the offset, different for $+r$ and $-r$",
)
axes[1].legend()
fig.suptitle(
    f"RoPE: the score depends only on n - m (spread along diagonals {diagonal_spread:.0e})"
    ", and on its sign"
)
plt.show()

# %% [markdown]
# ### 2. The frequency spectrum
#
# For $d=128$, the speed $\theta_i$ and the wavelength $2\pi/\theta_i$ of every pair, with
# the paper's base $10^4$ and Llama 3's $5\times10^5$ {cite}`dubey2024llama`. A pair whose
# wavelength is below the context length turns full circle inside it; the others never do.

# %%
CONTEXT = 4096
pair_index = np.arange(64)
spectra = {b: rope_frequencies(128, b).numpy() for b in (1e4, 5e5)}
wavelengths = {b: 2 * np.pi / theta for b, theta in spectra.items()}
full_turns = {b: int((lam <= CONTEXT).sum()) for b, lam in wavelengths.items()}
for b in spectra:
    print(
        f"base {b:.0e}: wavelengths {wavelengths[b][0]:.2f} … {wavelengths[b][-1]:.3g} tokens; "
        f"{full_turns[b]} of 64 pairs turn full circle within {CONTEXT} tokens"
    )
check_equal("base 1e4, d = 128: pairs with 2π/θ_i ≤ 4096", full_turns[1e4], 46)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for color, (b, theta) in zip(PALETTE, spectra.items(), strict=False):
    axes[0].semilogy(pair_index, theta, "o-", ms=3, color=color, label=f"base $b={b:.0e}$")
    axes[1].semilogy(
        pair_index,
        wavelengths[b],
        "o-",
        ms=3,
        color=color,
        label=f"base {b:.0e}: {full_turns[b]} pairs below",
    )
axes[0].set(
    xlabel="pair index $i$",
    ylabel=r"$\theta_i$ (radians per token)",
    title=r"Speeds fall geometrically, $\theta_i=b^{-2i/d}$",
)
axes[1].axhline(CONTEXT, ls=":", color="0.3", label=f"context length {CONTEXT}")
axes[1].set(
    xlabel="pair index $i$",
    ylabel=r"wavelength $2\pi/\theta_i$ (tokens)",
    title="Which pairs turn full circle within the context",
)
for ax in axes:
    ax.legend()
fig.suptitle(
    f"d = 128: with base 1e4, {full_turns[1e4]} of 64 pairs complete a turn within "
    f"{CONTEXT} tokens; with Llama 3's 5e5, {full_turns[5e5]}"
)
plt.show()

# %% [markdown]
# The fast pairs (small $i$) tell neighbouring tokens apart and wrap around many times, so
# they say nothing about large distances on their own. The slow pairs barely move over the
# whole context: they carry coarse distance, and they are the ones that meet new angles past
# the training length (Experiment 4). A larger base stretches every wavelength, which is one
# way long-context models keep more pairs inside the range they were trained on.
#
# ### 3. The long-term decay is a bound, not a behaviour
#
# The bound {eq}`rope-decay` and the actual score, for 2,000 random pairs $q,k$ with
# independent standard-normal entries ($d=128$), at offsets from 0 to 4,096 on a log grid; and
# the score when the key equals the query, $k=q$.

# %%
decay_offsets = torch.unique(torch.logspace(0, math.log10(4096), 60).round()).to(torch.float64)
decay_offsets = torch.cat([torch.zeros(1), decay_offsets])  # (R,): r = 0, 1, 2, …, 4096
q_rand, k_rand = torch.randn(2000, 128), torch.randn(2000, 128)
bound, score = decay_bound_and_score(q_rand, k_rand, decay_offsets)  # (N, R) each
bound_same, score_same = decay_bound_and_score(q_rand, q_rand, decay_offsets)  # k = q
half_d = 64
relative_bound = (
    torch.polar(torch.ones(len(decay_offsets), half_d), rope_angles(decay_offsets, 128))
    .cumsum(1)
    .abs()
    .mean(1)
)  # (R,)
direct = (
    rope_adjacent(q_rand[:5], torch.full((5,), 700.0))
    * rope_adjacent(k_rand[:5], torch.full((5,), 700.0) - decay_offsets[30])
).sum(-1)  # m - n = r_30
check_close(
    "Re Σ h_i e^{irθ_i} = the rotated dot product (5 pairs, one r)",
    score[:5, 30],
    direct,
    atol=1e-10,
)
check_true(
    "|score| ≤ bound for every pair and every offset",
    bool((score.abs() <= bound).all()),
    f"largest |score| / bound = {float((score.abs() / bound).max()):.3f}",
)
small, large = decay_offsets <= 16, decay_offsets >= 1000

# %%
check_mean_close(
    "independent q, k: mean |score| at r ≥ 1000 minus at r ≤ 16, per pair",
    score.abs()[:, large].mean(1) - score.abs()[:, small].mean(1),
    0.0,
    z_max=4,
)
same_ratio = float(score_same.abs()[:, large].mean() / score_same.abs()[:, 0].mean())
check_true(
    "k = q: the score does decay",
    same_ratio < 0.3,
    f"mean |score| at r ≥ 1000 is {same_ratio:.3f} × its value at r = 0",
)
bound_ratio = float(bound[:, large].mean() / bound[:, 0].mean())
print(
    f"bound at r ≥ 1000 / bound at r = 0: {bound_ratio:.3f}; "
    f"mean |score| / mean bound at r ≥ 1000: {float(score.abs()[:, large].mean()):.2f} / "
    f"{float(bound[:, large].mean()):.1f}"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
r_np = decay_offsets.numpy()
r_plot = np.maximum(r_np, 0.7)  # r = 0 drawn just left of 1 on the log axis
axes[0].semilogx(r_plot, relative_bound.numpy(), "o-", ms=3, color=PALETTE[0])
axes[0].set(
    xlabel="offset $|m-n|$ (tokens)",
    ylabel=r"$\frac{1}{d/2}\sum_j|S_j|$",
    title="The relative bound of RoFormer, d = 128",
)
curves = [
    (bound.mean(0), "bound, independent $q,k$", PALETTE[0], "-"),
    (score.abs().mean(0), "$|$score$|$, independent $q,k$", PALETTE[1], "-"),
    (bound_same.mean(0), "bound, $k=q$", PALETTE[0], "--"),
    (score_same.abs().mean(0), "$|$score$|$, $k=q$", PALETTE[2], "--"),
]
for values, label, color, style in curves:
    axes[1].loglog(r_plot, values.numpy(), style, color=color, marker="o", ms=3, label=label)
axes[1].set(
    xlabel="offset $|m-n|$ (tokens)",
    ylabel="mean over 2,000 pairs",
    title="Actual scores under the bound",
)
axes[1].legend(fontsize=8)
fig.suptitle(
    f"The bound decays (×{bound_ratio:.2f} by r ≥ 1000); random scores do not; "
    f"aligned ones (k = q) do (×{same_ratio:.2f})"
)
plt.show()

# %% [markdown]
# The bound holds everywhere (checked), and it does fall with distance. But it sits far above
# the scores (the printed ratio), and the typical score of independent vectors is flat in the
# offset (the mean-difference check), exactly as the rotation-invariance argument predicts.
# Only when $q$ and $k$ point the same way does the score itself fall with distance, like the
# sinusoidal dot product of [chapter 02](02_absolute_position_encoding.ipynb). A trained model
# can learn either behaviour; RoPE does not impose a decay.
#
# ### 4. Past the training length: which angles are new, and how interpolation fixes it
#
# A model trained at $L=2048$ (LLaMA's length {cite}`touvron2023llama`) is run at $L'=8192$,
# $s=4$, with $d=128$. For each pair, the largest angle met at the new length, divided by the
# largest angle seen in training (angles capped at $2\pi$: a pair that has turned full circle
# has seen them all).
# A ratio above 1 means angles the model never saw.

# %%
L_TRAIN, L_NEW = 2048, 8192
SCALE = L_NEW / L_TRAIN
theta = rope_frequencies(128)
max_position = {"none": L_NEW - 1, "PI": float(interpolated_positions(L_NEW, SCALE).max())}
speeds = {
    "none": theta,
    "PI": theta,
    "NTK-aware": ntk_aware_frequencies(128, SCALE),
    "YaRN": yarn_frequencies(128, SCALE, L_TRAIN),
}
trained_range = (L_TRAIN * theta).clamp(max=2 * math.pi)  # (64,)
coverage = {
    name: (max_position.get(name, L_NEW - 1) * speed).clamp(max=2 * math.pi) / trained_range
    for name, speed in speeds.items()
}  # (64,) each
for name, ratio in coverage.items():
    new_pairs = torch.nonzero(ratio > 1 + 1e-12).flatten().tolist()
    print(
        f"{name:>9}: largest ratio {float(ratio.max()):.3f}; pairs with unseen angles: "
        f"{f'{new_pairs[0]}…{new_pairs[-1]} ({len(new_pairs)})' if new_pairs else 'none'}; "
        f"pair 0 turns {float(speeds[name][0] / (SCALE if name == 'PI' else 1)):.3f} rad/token"
    )

# %%
check_true(
    "PI: every position m/s stays below L_train",
    max_position["PI"] < L_TRAIN,
    f"largest interpolated position {max_position['PI']:.2f} < {L_TRAIN}",
)
check_true(
    "PI and YaRN: no unseen angles",
    float(max(coverage["PI"].max(), coverage["YaRN"].max())) <= 1.0,
    f"largest ratios {float(coverage['PI'].max()):.4f}, {float(coverage['YaRN'].max()):.4f}",
)
check_true(
    "no scaling: the slow pairs see up to 4× their trained range",
    abs(float(coverage["none"].max()) - (L_NEW - 1) / L_TRAIN) < 1e-12,
    f"{float(coverage['none'].max()):.4f}",
)
ntk = speeds["NTK-aware"]
check_close("NTK-aware: θ'_0 = θ_0 (fastest pair unchanged)", ntk[0], theta[0], atol=1e-15)
check_close(
    "NTK-aware: θ'_63 = θ_63 / s (slowest pair interpolated)",
    ntk[63],
    theta[63] / SCALE,
    atol=1e-15,
)
check_true(
    "NTK-aware: slow pairs before the last still see new angles",
    float(coverage["NTK-aware"].max()) > 1,
    f"largest ratio {float(coverage['NTK-aware'].max()):.3f}",
)
turns = L_TRAIN * theta / (2 * math.pi)
yarn = speeds["YaRN"]
check_close("YaRN: pairs with ≥ 32 turns keep θ_i", yarn[turns >= 32], theta[turns >= 32], atol=0)
check_close(
    "YaRN: pairs with ≤ 1 turn get θ_i / s", yarn[turns <= 1], theta[turns <= 1] / SCALE, atol=1e-18
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
styles = {"none": "-", "PI": "-", "NTK-aware": "--", "YaRN": ":"}
for color, name in zip(PALETTE, coverage, strict=False):
    axes[0].plot(pair_index, coverage[name].numpy(), styles[name], color=color, lw=2, label=name)
    step = speeds[name] / (SCALE if name == "PI" else 1.0) / theta
    axes[1].semilogy(pair_index, step.numpy(), styles[name], color=color, lw=2, label=name)
first_slow = int(torch.nonzero(turns < 1)[0])
for ax in axes:
    ax.axvline(first_slow, color="0.6", lw=0.8)
    ax.set_xlabel("pair index $i$")
    ax.legend()
axes[0].axhline(1, color="0.3", ls=":")
axes[0].set(
    ylabel="largest angle at 8192 / largest trained",
    title=f"Unseen angles (ratio > 1) from pair {first_slow} on, without scaling",
)
axes[1].set(
    ylabel="angle per token / original $\\theta_i$", title="What each method costs: slower rotation"
)
fig.suptitle(
    "Running at 4× the training length: PI and YaRN keep every angle in the trained "
    "range; PI slows every pair, YaRN only the slow ones"
)
plt.show()

# %% [markdown]
# Without scaling, every pair from the first one that does not complete a turn in 2,048
# tokens (the grey line) meets angles up to 4 times beyond its trained range; the fast pairs
# are fine because they have seen every angle already. This is the numeric form of
# "RoPE does not extrapolate": in [chapter 02](02_absolute_position_encoding.ipynb) a RoPE
# model trained on 16 tokens failed at exactly the offsets where its fast pairs alias. PI
# removes every unseen angle, but it also divides the fast pairs' speed by 4, so neighbouring
# tokens become 4 times harder to tell apart. NTK-aware scaling keeps the fast pairs and
# interpolates only the slowest one fully; the slow pairs before it are slowed by less than
# $s$ and still meet new angles (the printed pairs and largest ratio). YaRN's by-parts rule
# interpolates exactly the pairs that need it and leaves the others alone; its attention
# temperature, not modelled here, corrects the sharpening of the softmax at long lengths.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "RoPE works well for long context." Does it?
# Within the length it was trained on, it works well, and its relative form means a pattern
# learned at one position works at every other. Past that length it meets angles it has never
# seen (Experiment 4), and language models with RoPE degrade quickly there
# {cite}`press2022train`. Long-context models are extended with Position Interpolation
# {cite}`chen2023extending`, NTK-aware scaling {cite}`bloc972023ntk` or YaRN
# {cite}`peng2024yarn`, usually with a short fine-tune, and trained with larger bases.
# :::
#
# :::{dropdown} "Use either RoPE or an absolute positional encoding, never both." A rule?
# A convention. Nothing in the math stops a model from adding an absolute embedding at the
# input and rotating $q,k$ in attention; it is simply redundant for most purposes, so modern
# models do one or the other. The design space is wider than the notes suggest: GPT-J and
# GPT-NeoX {cite}`black2022gptneox` rotate only part of each head's dimensions and leave the
# rest without any position signal.
# :::
#
# :::{dropdown} Which pairing does a checkpoint use, and what if I get it wrong?
# The paper and Meta's original LLaMA code rotate adjacent pairs $(2i,2i+1)$; GPT-NeoX and
# Hugging Face's Llama rotate $(i,i+d/2)$ with `rotate_half`. The two are the same model after
# permuting the rows of $W_Q,W_K$ per head (checked exactly in Verification), which is what
# Hugging Face's conversion script does. Running weights with the wrong convention raises no
# error; it just computes different scores (the printed change in Verification) and a broken
# model.
# :::
#
# :::{dropdown} Why is RoPE not applied to $V$?
# The scores need position; the values are the content being moved. With $Q,K$ rotated, the
# weights depend on offsets only and the output is the same under a shift of all positions
# (checked). Rotating $V$ as well rotates every output by the absolute position
# ($R_{\Theta,s}$ for a shift $s$, checked), putting absolute position into the residual
# stream.
# :::
#
# :::{dropdown} With a KV cache, are cached keys re-rotated at each step?
# No. A key's rotation depends only on its own position, which never changes, so it is
# rotated once and cached rotated; the new query is rotated by its position (the cache
# length). The shared model's cache was checked to hold exactly this. Re-rotating cached keys
# by the current position would double-rotate them and break the relative property.
# :::
#
# :::{dropdown} Precision: why compute the angles in float32 or float64?
# The angle $m\theta_0=m$ radians grows with position, and low-precision positions are not
# even integers any more. bfloat16 has 8 significant bits, so many positions collapse onto
# the same value, as the next cell counts. Implementations (the shared model included) compute
# $m\theta_i$, its cosine and sine in float32 or float64 and only then cast.
# :::

# %%
positions_4k = torch.arange(4096, dtype=torch.float32)
distinct_bf16 = len(torch.unique(positions_4k.to(torch.bfloat16)))
distinct_high = len(torch.unique(positions_4k.to(torch.bfloat16)[2048:]))
print(
    f"positions 0…4095 in bfloat16: {distinct_bf16} distinct values; "
    f"positions 2048…4095: {distinct_high} distinct values"
)
check_true(
    "bfloat16 cannot hold positions exactly", distinct_bf16 < 4096, f"{distinct_bf16} < 4096"
)

# %% [markdown]
# :::{dropdown} Where exactly, in which order?
# In every layer: (norm) → $Q,K,V$ projections → split into heads → RoPE on $Q$ and $K$ →
# $QK^\top/\sqrt d$ → mask → softmax → weights times $V$ → output projection → residual. The
# mask goes on the scores, after RoPE, as the notes say; it does not interact with the
# rotation. Absolute encodings, by contrast, are added once, to the input embeddings.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. For $d=128$ and $b=10^4$, how many pairs complete a full turn within 4,096 tokens?
#
#    :::{dropdown} Answer
#    Pair $i$ turns once in $2\pi/\theta_i=2\pi\cdot10^{4i/64}$ tokens. This is at most
#    4,096 when $i\le64\log_{10}(4096/2\pi)/4\approx45.0$, so pairs 0 to 45: 46 pairs, as
#    Experiment 2 counted. The cell checks the closed form.
#    :::

# %%
largest_i = math.floor(64 * math.log10(4096 / (2 * math.pi)) / 4)
check_equal("pairs 0 … floor(64·log10(4096/2π)/4) complete a turn", largest_i + 1, full_turns[1e4])

# %% [markdown]
# 2. A RoPE model trained at 2,048 tokens is extended to 8,192 by Position Interpolation. By
#    how many radians does pair 0 turn between adjacent tokens now? And with NTK-aware scaling?
#
#    :::{dropdown} Answer
#    PI divides every position by $s=4$: $\theta_0/4=0.25$ rad instead of 1. NTK-aware scaling
#    keeps $\theta_0'=b'^0=1$ rad. That is the resolution PI gives up.
#    :::

# %%
pi_step = float(rope_angles(interpolated_positions(2, SCALE), 128)[1, 0])
check_close("PI: pair 0 turns θ_0 / 4 per token", pi_step, 0.25, atol=1e-15)
check_close("NTK-aware: pair 0 still turns 1 rad per token", ntk[0], 1.0, atol=1e-15)

# %% [markdown]
# 3. Show that with RoPE, $\tilde q_m^\top\tilde k_n=\tilde q_n^\top\tilde k_m$ for all
#    $m,n$ if $q=k$. Does that make RoPE direction-blind for a head whose $W_Q=W_K$?
#
#    :::{dropdown} Answer
#    With $k=q$: $q^\top R_{n-m}q$ and $q^\top R_{m-n}q=q^\top R_{n-m}^\top q=
#    (q^\top R_{n-m}q)^\top$, the same scalar. So yes: if queries and keys were the *same*
#    vectors, the score would be even in the offset, like the sinusoidal product. A head with
#    $W_Q=W_K$ applied to the same token is in that case. In general $W_Q\neq W_K$ and the
#    score is direction-aware, as the checks above show.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`su2024roformer`: section 3.2 (the rotation, its complex form and
#   $R_m^\top R_n=R_{n-m}$), section 3.4.2 (the efficient element-wise form), section 3.4.3
#   (the long-term decay bound {eq}`rope-decay` and its figure).
# - {cite:t}`black2022gptneox` (GPT-NeoX, half-split rotary on part of the dimensions);
#   {cite:t}`wolf2020transformers` (Hugging Face's Llama: `rotate_half`, and the conversion
#   script that permutes $W_Q,W_K$).
# - {cite:t}`chen2023extending` (Position Interpolation, {eq}`rope-pi`),
#   {cite:t}`bloc972023ntk` (NTK-aware scaling, {eq}`rope-ntk`), {cite:t}`peng2024yarn`
#   (NTK-by-parts with $\alpha=1,\beta=32$, {eq}`rope-yarn`, and the attention temperature).
# - {cite:t}`press2022train` (measured extrapolation of sinusoidal, rotary and T5 positions);
#   {cite:t}`touvron2023llama` (LLaMA: RoPE, 2,048-token training length);
#   {cite:t}`dubey2024llama` (Llama 3's base of 500,000); {cite:t}`vaswani2017attention`
#   (the sinusoidal encoding that RoPE's frequencies come from).

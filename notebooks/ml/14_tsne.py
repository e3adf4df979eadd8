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
# # 14. t-SNE
#
# **The question.** How does t-SNE work? (The notes' question 23.)
#
# **What you will be able to answer.** What $P$, $Q$, perplexity and the Student-t kernel are,
# why the cost is $\mathrm{KL}(P\|Q)$ and what its gradient is (as a matrix product), what
# early exaggeration, momentum and gains do, what perplexity changes in the picture, and
# which features of a t-SNE plot mean nothing: cluster sizes and the gaps between clusters.

# %%
import numbers
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import brentq
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import procrustes
from scipy.spatial.distance import squareform
from scipy.special import rel_entr
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE as SklearnTSNE
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.validation import check_random_state, validate_data

from notebook_utils.checks import check_close, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import format_bytes, time_call

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# t-SNE (t-distributed stochastic neighbour embedding) places $N$ points $y_i$ in 2-D so that
# each point keeps the *same neighbours* it had in the original space. The notes' one line
# ("places similar points close together") is true but leaves out everything an interviewer
# asks about:
#
# - **Input similarities.** Each point $i$ gets a Gaussian over the other points,
#   $p_{j|i}\propto\exp(-\|x_i-x_j\|^2/2\sigma_i^2)$, whose width $\sigma_i$ is set by binary
#   search so that its *perplexity* $2^{H(P_i)}$ equals a user value (default 30), i.e. about
#   30 effective neighbours for every point, in dense and sparse regions alike. Then
#   $p_{ij}=(p_{j|i}+p_{i|j})/2N$.
# - **Map similarities.** A Student-t (Cauchy) kernel,
#   $q_{ij}\propto(1+\|y_i-y_j\|^2)^{-1}$, normalised over all pairs. Its heavy tail lets
#   moderately far points sit far apart in 2-D, which relieves the *crowding problem*.
# - **Cost and gradient.** Minimise $C=\mathrm{KL}(P\|Q)=\sum_{i\ne j}p_{ij}\log(p_{ij}/q_{ij})$
#   by gradient descent, with
#   $\partial C/\partial y_i=4\sum_j(p_{ij}-q_{ij})(1+\|y_i-y_j\|^2)^{-1}(y_i-y_j)$: springs
#   that pull neighbours together and push everything else apart. Tricks: early exaggeration
#   ($P\times12$ for 250 iterations in scikit-learn), momentum and per-coordinate gains.
# - **What it keeps.** KL punishes neighbours placed far apart much more than far points
#   placed close, so t-SNE keeps *local* structure. Cluster sizes, distances between clusters
#   and densities in the plot carry little information; the picture depends on perplexity and
#   on the seed (the cost is non-convex); there is no map for new points; the exact method
#   costs $O(N^2)$ per iteration, Barnes–Hut $O(N\log N)$.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | code |
# |---|---|---|
# | $x_i\in\mathbb R^D$, $i=1,\dots,N$ | data points | `X` |
# | $y_i\in\mathbb R^2$ | their positions in the map | `Y`, `embedding_` |
# | $d_{ij}^2=\lVert x_i-x_j\rVert^2$ | squared input distances | `sq_dist` |
# | $\sigma_i$, $\beta_i=1/2\sigma_i^2$ | width and precision of point $i$'s Gaussian | `beta` |
# | $p_{j\mid i}$ | conditional input similarity (row $i$ sums to 1) | `cond_p` |
# | $p_{ij}$ | joint input similarity (all $N(N-1)$ pairs sum to 1) | `P` |
# | $K_{ij}=(1+\lVert y_i-y_j\rVert^2)^{-1}$ | Student-t kernel in the map, $K_{ii}=0$ | `K` |
# | $Z=\sum_{k\ne l}K_{kl}$, $q_{ij}=K_{ij}/Z$ | joint map similarity | `Z`, `K / Z` |
# | $\mathrm{Perp}$ | perplexity | `perplexity` |
#
# ### Input similarities and perplexity
#
# SNE {cite}`hinton2002sne` turns distances into the probability that $i$ would pick $j$ as
# its neighbour under a Gaussian centred on $x_i$:
#
# $$
# p_{j\mid i}=\frac{\exp(-\beta_i d_{ij}^2)}{\sum_{k\ne i}\exp(-\beta_i d_{ik}^2)},\qquad
# p_{i\mid i}=0,\qquad \beta_i=\frac{1}{2\sigma_i^2}.
# $$ (tsne-pcond)
#
# One $\sigma$ for all points would give points in dense regions hundreds of neighbours and
# isolated points none. t-SNE instead fixes the *perplexity* of every row,
#
# $$
# \mathrm{Perp}(P_i)=2^{H(P_i)},\qquad H(P_i)=-\sum_j p_{j\mid i}\log_2 p_{j\mid i}\ \text{bits}.
# $$ (tsne-perplexity)
#
# A uniform distribution over $k$ neighbours has $H=\log_2k$ and perplexity exactly $k$, so
# perplexity reads as an effective number of neighbours: 30 uniform neighbours give
# $H=\log_2 30=4.9069$ bits. To find $\beta_i$, write the entropy in nats with
# $Z_i(\beta)=\sum_{k\ne i}e^{-\beta d_{ik}^2}$:
#
# $$
# H_e(\beta)=\log Z_i(\beta)+\beta\sum_j p_{j\mid i}\,d_{ij}^2,\qquad
# \frac{dH_e}{d\beta}=-\beta\,\mathrm{Var}_{p_{\cdot\mid i}}\!\left(d_{i\cdot}^2\right)\le0 .
# $$ (tsne-entropy-beta)
#
# (Differentiate: $d\log Z_i/d\beta=-\mathbb E_p[d^2]$ and $d\,\mathbb E_p[d^2]/d\beta=
# -\mathrm{Var}_p(d^2)$.) The entropy falls monotonically as $\beta$ grows, from $\log(N-1)$
# (uniform) to 0 (only the nearest neighbour), so each $\beta_i$ is found by bisection on
# $H_e(\beta_i)=\log\mathrm{Perp}$. The perplexity can be at most $N-1$ (uniform over all other
# points); scikit-learn rejects $\mathrm{Perp}\ge N$.
#
# The conditionals are not symmetric. t-SNE uses the symmetric joint distribution
#
# $$
# p_{ij}=\frac{p_{j\mid i}+p_{i\mid j}}{2N},
# $$ (tsne-pjoint)
#
# which sums to 1 over all ordered pairs and gives every point $\sum_jp_{ij}\ge1/2N$, so an
# outlier (whose $p_{i\mid j}$ are all tiny) still takes part in the cost.
#
# ### Map similarities: the Student-t kernel and the crowding problem
#
# In the map, t-SNE uses a Student-t distribution with one degree of freedom (a Cauchy
# kernel), normalised over all pairs:
#
# $$
# K_{ij}=\left(1+\|y_i-y_j\|^2\right)^{-1}\ (i\ne j),\qquad K_{ii}=0,\qquad
# q_{ij}=\frac{K_{ij}}{\sum_{k\ne l}K_{kl}} .
# $$ (tsne-kernel)
#
# Why not a Gaussian, as in SNE? In 10-D, 11 points can be mutually equidistant; in 2-D at
# most 3. Moderately distant points of a high-dimensional neighbourhood cannot all
# keep their distance in 2-D, and with a Gaussian kernel in the map they all crowd into the
# centre: the *crowding problem* {cite}`vandermaaten2008tsne`. The Cauchy kernel decays as
# $1/r^2$ instead of $e^{-r^2/2}$, so a given small similarity is matched at a much larger map
# distance: at squared distance 9 it is $1/(1+9)=0.1$ where the Gaussian is
# $e^{-4.5}=0.0111$, nine times smaller. Dissimilar points are pushed far apart and clusters
# separate.
#
# ### The cost and its gradient
#
# t-SNE minimises the Kullback–Leibler divergence of $Q$ from $P$:
#
# $$
# C=\mathrm{KL}(P\|Q)=\sum_{i\ne j}p_{ij}\log\frac{p_{ij}}{q_{ij}} .
# $$ (tsne-kl)
#
# KL is asymmetric. A pair with large $p_{ij}$ (neighbours in the data) placed far apart
# (small $q_{ij}$) costs $p_{ij}\log(p_{ij}/q_{ij})$, large; a pair with small $p_{ij}$ placed
# close costs little, because its term is weighted by the small $p_{ij}$. The cost therefore
# keeps neighbours together and cares little about how far apart non-neighbours end up.
#
# Since $\sum p_{ij}=1$, $C=\sum p_{ij}\log p_{ij}-\sum_{k\ne l}p_{kl}\log K_{kl}+\log Z$.
# With $\partial K_{kl}/\partial\|y_k-y_l\|^2=-K_{kl}^2$ and
# $\partial\|y_i-y_j\|^2/\partial y_i=2(y_i-y_j)$, and each pair appearing twice (as $(i,j)$
# and $(j,i)$), the middle term gives $4\sum_jp_{ij}K_{ij}(y_i-y_j)$ and $\log Z$ gives
# $-4\sum_j q_{ij}K_{ij}(y_i-y_j)$:
#
# $$
# \frac{\partial C}{\partial y_i}=4\sum_{j}(p_{ij}-q_{ij})\,K_{ij}\,(y_i-y_j) .
# $$ (tsne-grad)
#
# Each pair acts as a spring along $y_i-y_j$: attractive where $p_{ij}>q_{ij}$, repulsive where
# $p_{ij}<q_{ij}$, and damped by $K_{ij}$ at long range. Computing it as written would build an
# $(N,N,2)$ array of differences $y_i-y_j$. With $W=(P-Q)\circ K$ (element-wise product),
# $\sum_jW_{ij}(y_i-y_j)=\big(\sum_jW_{ij}\big)y_i-(WY)_i$, so the whole gradient is one
# matrix product:
#
# $$
# \nabla_Y C=4\,\big(\mathrm{diag}(W\mathbf 1)-W\big)\,Y,\qquad W=(P-Q)\circ K .
# $$ (tsne-grad-matrix)
#
# $\mathrm{diag}(W\mathbf 1)-W$ is the graph Laplacian of the weights $W$. Only $N\times N$
# arrays are needed, and $WY$ is a BLAS call.
#
# ### Optimisation: exaggeration, momentum and gains
#
# The cost is non-convex, and plain gradient descent from a random start gets stuck with
# clusters split in pieces. The original paper and scikit-learn {cite}`sklearn2025tsne` add
# three devices.
#
# - **Early exaggeration.** For the first iterations $P$ is replaced by $\alpha P$. The
#   attraction term of {eq}`tsne-grad` is then $\alpha$ times stronger, so clusters contract
#   into tight groups that can move past each other. The 2008 paper used $\alpha=4$ (its
#   reference code for 100 iterations); the Barnes–Hut paper {cite}`vandermaaten2014barneshut`
#   and scikit-learn use $\alpha=12$ for 250 iterations.
# - **Momentum** $\mu=0.5$ during exaggeration and $0.8$ afterwards.
# - **Gains** (the delta-bar-delta rule of {cite:t}`jacobs1988increased`): each coordinate has
#   a gain $g$ that grows by $0.2$ while the gradient still points against the last step
#   (the descent goes on in the same direction) and shrinks by the factor $0.8$ when it points
#   along it (the last step overshot), with a floor of $0.01$:
#
# $$
# g_t=\begin{cases}g_{t-1}+0.2&\text{if }\Delta_{t-1}\,\nabla_t<0\\
# \max(0.8\,g_{t-1},\,0.01)&\text{otherwise}\end{cases},\qquad
# \Delta_t=\mu\,\Delta_{t-1}-\eta\,g_t\circ\nabla_t,\qquad Y_t=Y_{t-1}+\Delta_t .
# $$ (tsne-update)
#
# The learning rate scikit-learn calls `'auto'` is
#
# $$
# \eta=\max\!\left(\frac{N}{4\alpha},\,50\right)
# $$ (tsne-lr)
#
# from {cite:t}`belkina2019automated` and {cite:t}`kobak2019art`, who propose $\eta=N/\alpha$
# for implementations whose gradient omits the factor 4 of {eq}`tsne-grad` (the reference code,
# openTSNE, FIt-SNE); scikit-learn keeps the 4 and so divides by it. A learning rate that is
# too small for large $N$ leaves clusters fragmented; the old fixed default of 200 was too
# small for $N$ in the tens of thousands.

# %% [markdown]
# ## Implementation from scratch
#
# ### Input similarities
#
# Squared Euclidean distances from the Gram matrix, $d_{ij}^2=\|x_i\|^2+\|x_j\|^2-2x_i^\top
# x_j$, clipped at zero against rounding.


# %%
def squared_distances(X: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances, shape (N, N), zero diagonal."""
    sq_norms = np.einsum("ij,ij->i", X, X)  # (N,)
    sq_dist = sq_norms[:, None] + sq_norms[None, :] - 2.0 * (X @ X.T)  # (N, N)
    np.maximum(sq_dist, 0.0, out=sq_dist)
    np.fill_diagonal(sq_dist, 0.0)
    return sq_dist


# %% [markdown]
# The bisection on $\beta_i$, vectorised over points: every row still searching is updated at
# once. It follows scikit-learn's rule {cite}`sklearn2025tsne`: start at $\beta=1$, double
# (too wide) or halve (too narrow) until the target is bracketed, then bisect, and stop a row
# when its entropy is within `tol` nats of $\log\mathrm{Perp}$. With the lower end of the
# bracket starting at 0, "halve" and "bisect towards the lower end" are the same formula.


# %%
def conditional_probabilities(
    sq_dist: np.ndarray, perplexity: float, tol: float = 1e-5, max_steps: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """p_{j|i} of eq. (tsne-pcond), shape (N, N), and the precisions β_i, shape (N,), such
    that each row's entropy is within `tol` nats of log(perplexity), eq. (tsne-entropy-beta).
    """
    n = sq_dist.shape[0]
    target = np.log(perplexity)  # nats
    beta = np.ones(n)
    beta_low, beta_high = np.zeros(n), np.full(n, np.inf)  # the bracket of each row
    cond_p = np.zeros_like(sq_dist)
    rows = np.arange(n)  # rows still searching
    for _ in range(max_steps):
        dist = sq_dist[rows]  # (R, N)
        kernel = np.exp(-dist * beta[rows, None])  # eq. (tsne-pcond), numerator
        kernel[np.arange(rows.size), rows] = 0.0  # p_{i|i} = 0
        norm = kernel.sum(axis=1)  # (R,) = Z_i(β)
        norm[norm == 0.0] = 1e-8  # all neighbours at +∞: avoid 0/0, as scikit-learn does
        cond_p[rows] = kernel / norm[:, None]
        entropy = np.log(norm) + beta[rows] * np.einsum("ij,ij->i", dist, cond_p[rows])
        too_wide, too_narrow = entropy - target > tol, entropy - target < -tol
        b, low, high = beta[rows], beta_low[rows], beta_high[rows]
        beta_low[rows] = np.where(too_wide, b, low)  # H too large: β must grow
        beta_high[rows] = np.where(too_narrow, b, high)  # H too small: β must shrink
        beta[rows] = np.where(
            too_wide,
            np.where(np.isinf(high), 2.0 * b, (b + high) / 2.0),
            np.where(too_narrow, (b + low) / 2.0, b),
        )
        rows = rows[too_wide | too_narrow]
        if rows.size == 0:
            break
    return cond_p, beta


def joint_probabilities(cond_p: np.ndarray) -> np.ndarray:
    """Symmetric p_ij of eq. (tsne-pjoint), shape (N, N), zero diagonal.

    Off-diagonal entries are floored at machine epsilon, as in scikit-learn, so that log p_ij
    is finite.
    """
    joint_p = cond_p + cond_p.T  # (N, N)
    joint_p /= joint_p.sum()  # = 2N when every row of cond_p sums to 1
    np.maximum(joint_p, np.finfo(np.float64).eps, out=joint_p)
    np.fill_diagonal(joint_p, 0.0)
    return joint_p


def entropy_bits(probabilities: np.ndarray) -> np.ndarray:
    """H = -Σ p log2 p along the last axis, with 0 log 0 = 0, eq. (tsne-perplexity)."""
    log_p = np.log2(np.where(probabilities > 0, probabilities, 1.0))
    return -(probabilities * log_p).sum(axis=-1)


# %% [markdown]
# ### KL divergence and gradient, in matrix form
#
# {eq}`tsne-kernel`, {eq}`tsne-kl` and {eq}`tsne-grad-matrix`. The kernel comes from the Gram
# matrix as above; $W$ is built in place in a second buffer. For $N=1000$ each $N\times N$
# array is 4 MB (float32) or 8 MB (float64), and allocating two fresh ones per iteration
# costs about as much as the arithmetic, so the optimiser passes reusable `buffers`. The KL
# itself is needed only to decide when to stop, so it is computed only on request.


# %%
def kl_divergence_and_gradient(
    joint_p: np.ndarray,
    Y: np.ndarray,
    compute_kl: bool = True,
    buffers: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, np.ndarray]:
    """KL(P‖Q) of eq. (tsne-kl) (NaN unless `compute_kl`) and its gradient w.r.t. Y, shape
    (N, 2), by eq. (tsne-grad-matrix). Works in the dtype of `joint_p` and `Y`."""
    if buffers is None:
        buffers = (np.empty_like(joint_p), np.empty_like(joint_p))
    kernel, weights = buffers  # (N, N) each, overwritten
    sq_norms = np.einsum("ij,ij->i", Y, Y)  # (N,)
    np.matmul(Y, -2.0 * Y.T, out=kernel)  # (N, N): -2 y_iᵀ y_j
    kernel += sq_norms[:, None]
    kernel += (sq_norms + 1.0)[None, :]  # 1 + ‖y_i - y_j‖²
    np.reciprocal(kernel, out=kernel)  # eq. (tsne-kernel): K_ij
    np.fill_diagonal(kernel, 0.0)
    norm = kernel.sum()  # Z
    kl = np.nan
    if compute_kl:
        q = np.maximum(kernel / norm, np.finfo(kernel.dtype).eps)  # floored like p_ij
        kl = float(rel_entr(joint_p, q).sum())  # eq. (tsne-kl); p_ii = 0 terms give 0
    np.multiply(kernel, -1.0 / norm, out=weights)  # -Q
    weights += joint_p  # P - Q
    weights *= kernel  # W = (P - Q) ∘ K
    grad = 4.0 * (weights.sum(axis=1)[:, None] * Y - weights @ Y)  # eq. (tsne-grad-matrix)
    return kl, grad


# %% [markdown]
# ### The optimiser
#
# One phase of gradient descent with momentum and gains, {eq}`tsne-update`. The stopping rules
# are scikit-learn's: every 50 iterations the KL is evaluated, and the phase stops if it has
# not improved for `n_iter_without_progress` iterations or if the (gain-scaled) gradient norm
# is below `min_grad_norm`. Like scikit-learn (and unlike the reference code), the velocity
# and the gains are reset at the start of each phase.

# %%
EXAGGERATION_ITER = 250  # iterations with early exaggeration and momentum 0.5
N_ITER_CHECK = 50  # the KL is evaluated, and the stopping rules checked, this often
MIN_GAIN = 0.01


# %%
def gradient_descent(
    joint_p: np.ndarray,
    Y: np.ndarray,
    first_iter: int,
    max_iter: int,
    momentum: float,
    learning_rate: float,
    n_iter_without_progress: int,
    min_grad_norm: float,
) -> tuple[np.ndarray, int]:
    """Iterations first_iter, ..., max_iter - 1 of eq. (tsne-update) from Y, shape (N, 2).
    Returns the new Y and the index of the last iteration run."""
    velocity, gains = np.zeros_like(Y), np.ones_like(Y)  # Δ_0 = 0, g_0 = 1
    buffers = (np.empty_like(joint_p), np.empty_like(joint_p))
    best_kl, best_iter, i = np.inf, first_iter, first_iter
    for i in range(first_iter, max_iter):
        check = (i + 1) % N_ITER_CHECK == 0
        kl, grad = kl_divergence_and_gradient(joint_p, Y, compute_kl=check, buffers=buffers)
        gains = np.where(velocity * grad < 0.0, gains + 0.2, gains * 0.8)  # eq. (tsne-update)
        np.maximum(gains, MIN_GAIN, out=gains)
        step = gains * grad
        velocity = momentum * velocity - learning_rate * step
        Y = Y + velocity
        if check:
            if kl < best_kl:
                best_kl, best_iter = kl, i
            elif i - best_iter > n_iter_without_progress:
                break
            if np.linalg.norm(step) <= min_grad_norm:
                break
    return Y, i


# %% [markdown]
# ### The estimator
#
# `TSNE` follows scikit-learn's `sklearn.manifold.TSNE` {cite}`sklearn2025tsne`: the same
# parameters (the subset for Euclidean distances and the exact method), `fit_transform`,
# `embedding_`, `kl_divergence_`, `n_iter_`, `learning_rate_`, and no `transform` (see the
# pitfalls). The initialisation `'pca'` projects on the first two principal axes and rescales
# them so that the first has standard deviation $10^{-4}$, as scikit-learn does; `'random'`
# draws $\mathcal N(0,10^{-8})$ coordinates as in the paper. Two choices differ from
# scikit-learn, and the text says why:
#
# - The optimisation runs in float32 (the distances and $P$ are computed in float64 first).
#   scikit-learn also stores the embedding in float32; float32 halves the memory traffic of
#   the $N\times N$ arrays, which is what an iteration costs. The gradient check below runs the
#   same function in float64.
# - `kl_divergence_` is the KL of the returned embedding. scikit-learn reports the value from
#   its last KL evaluation, before the final update.
#
# The Student-t kernel has one degree of freedom whatever `n_components` is, as in the
# paper; scikit-learn uses `max(1, n_components - 1)` degrees of freedom, which is the same
# for 2-D maps.


# %%
def auto_learning_rate(n_samples: int, early_exaggeration: float) -> float:
    """scikit-learn's learning_rate='auto', eq. (tsne-lr)."""
    return max(n_samples / early_exaggeration / 4.0, 50.0)


def pca_initialisation(
    X: np.ndarray, n_components: int, random_state: np.random.RandomState
) -> np.ndarray:
    """The first principal coordinates of X, scaled so that the first has std 1e-4.

    Columns that PCA cannot provide (fewer features than components, or constant data) are
    filled with the random initialisation's N(0, 1e-8) noise.
    """
    centred = X - X.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, s.size)
    Y = 1e-4 * random_state.standard_normal((X.shape[0], n_components))
    scale = np.std(u[:, 0] * s[0])
    if scale > 0:
        Y[:, :k] = u[:, :k] * s[:k] / scale * 1e-4  # (N, k): PC1 has std 1e-4
    return Y


class TSNE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Exact t-SNE (van der Maaten and Hinton, 2008) with scikit-learn's API and schedule.

    Parameters
    ----------
    n_components : dimension of the map.
    perplexity : target perplexity of every conditional p_{.|i}; must be < n_samples.
    early_exaggeration : factor α on P during the first 250 iterations.
    learning_rate : η, or 'auto' for max(N / α / 4, 50).
    max_iter : total number of iterations, the 250 exaggerated ones included.
    n_iter_without_progress, min_grad_norm : stopping rules of the second phase.
    init : 'pca', 'random' or an array of shape (n_samples, n_components).
    random_state : seed of the random initialisation.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        perplexity: float = 30.0,
        early_exaggeration: float = 12.0,
        learning_rate: float | str = "auto",
        max_iter: int = 1000,
        n_iter_without_progress: int = 300,
        min_grad_norm: float = 1e-7,
        init: str | np.ndarray = "pca",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.init = init
        self.random_state = random_state

    def _initial_embedding(self, X: np.ndarray) -> np.ndarray:
        random_state = check_random_state(self.random_state)
        if isinstance(self.init, np.ndarray):
            if self.init.shape != (X.shape[0], self.n_components):
                raise ValueError(
                    f"init has shape {self.init.shape}, expected {(X.shape[0], self.n_components)}"
                )
            return self.init.astype(np.float64)
        if self.init == "pca":
            return pca_initialisation(X, self.n_components, random_state)
        if self.init == "random":
            return 1e-4 * random_state.standard_normal((X.shape[0], self.n_components))
        raise ValueError(f"init must be 'pca', 'random' or an array, got {self.init!r}")

    def fit_transform(self, X: np.ndarray, y: None = None) -> np.ndarray:
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples = X.shape[0]
        if not (isinstance(self.n_components, numbers.Integral) and self.n_components >= 1):
            raise ValueError(f"n_components must be a positive int, got {self.n_components}")
        if not 0 < self.perplexity < n_samples:
            raise ValueError(
                f"perplexity ({self.perplexity}) must be positive and less than n_samples "
                f"({n_samples})"
            )
        if self.learning_rate == "auto":
            self.learning_rate_ = auto_learning_rate(n_samples, self.early_exaggeration)
        else:
            self.learning_rate_ = float(self.learning_rate)
        sq_dist = squared_distances(X.astype(np.float64))
        cond_p, _ = conditional_probabilities(sq_dist, self.perplexity)
        joint_p = joint_probabilities(cond_p).astype(np.float32)  # the optimiser's dtype
        Y = self._initial_embedding(X).astype(np.float32)
        schedule = dict(learning_rate=self.learning_rate_, min_grad_norm=self.min_grad_norm)
        n_exaggerated = min(EXAGGERATION_ITER, self.max_iter)
        Y, last = gradient_descent(  # phase 1: α P, momentum 0.5
            self.early_exaggeration * joint_p,
            Y,
            0,
            n_exaggerated,
            momentum=0.5,
            n_iter_without_progress=EXAGGERATION_ITER,
            **schedule,
        )
        if self.max_iter > last + 1:  # phase 2: P, momentum 0.8
            Y, last = gradient_descent(
                joint_p,
                Y,
                last + 1,
                self.max_iter,
                momentum=0.8,
                n_iter_without_progress=self.n_iter_without_progress,
                **schedule,
            )
        self.n_iter_ = last
        self.kl_divergence_, _ = kl_divergence_and_gradient(joint_p, Y)
        self.embedding_ = Y
        return Y

    def fit(self, X: np.ndarray, y: None = None) -> "TSNE":
        self.fit_transform(X)
        return self

    @property
    def _n_features_out(self) -> int:
        return self.embedding_.shape[1]


# %% [markdown]
# ## Verification
#
# ### Perplexity: every row hits its target
#
# First the closed form of {eq}`tsne-perplexity`: a uniform distribution over 30 neighbours
# has entropy $\log_2 30$ bits and perplexity exactly 30.

# %%
uniform_30 = np.full(30, 1 / 30)
check_close("H(uniform over 30) vs log2(30) bits", entropy_bits(uniform_30), 4.9069, atol=5e-5)
check_close("perplexity of uniform over 30", 2 ** entropy_bits(uniform_30), 30.0, atol=1e-12)

# %% [markdown]
# Now the bisection, on the 1000 handwritten digits (8×8 images, 64 features) used in the
# experiments below: every row of `conditional_probabilities` must have perplexity 30. The
# search stops within $10^{-5}$ nats of $\log 30$, a relative error of at most $10^{-5}$ in
# the perplexity.

# %%
digits = load_digits()
digit_index = np.sort(rng.choice(len(digits.target), size=1000, replace=False))
X_digits, y_digits = digits.data[digit_index], digits.target[digit_index]  # (1000, 64), (1000,)
PERPLEXITY = 30.0
sq_dist_digits = squared_distances(X_digits)  # (1000, 1000)
cond_p_digits, beta_digits = conditional_probabilities(sq_dist_digits, PERPLEXITY)
row_perplexity = 2 ** entropy_bits(cond_p_digits)  # (1000,)
check_close(
    "digits: perplexity of each row vs 30",
    row_perplexity,
    np.full(1000, PERPLEXITY),
    atol=0.0,
    rtol=2e-5,
)
check_close(
    "digits: each row of p_{j|i} sums to 1", cond_p_digits.sum(axis=1), np.ones(1000), atol=1e-12
)
sigma_digits = np.sqrt(1 / (2 * beta_digits))  # σ_i
print(
    f"σ_i ranges from {sigma_digits.min():.1f} to {sigma_digits.max():.1f} "
    f"(median {np.median(sigma_digits):.1f}): one width per point, as the density requires"
)

# %% [markdown]
# An independent solver: SciPy's Brent root finder on $H_e(\beta)-\log 30$ from
# {eq}`tsne-entropy-beta`, for 20 rows. Our bisection stops as soon as the entropy is within
# $10^{-5}$ nats, so $\beta_i$ agrees to about $10^{-5}/|dH_e/d\beta|$, i.e. to a relative
# $10^{-4}$.


# %%
def entropy_nats(beta: float, sq_dist_row: np.ndarray) -> float:
    """H_e(β) of eq. (tsne-entropy-beta) for one row of squared distances (self excluded)."""
    kernel = np.exp(-beta * (sq_dist_row - sq_dist_row.min()))  # shift: same p, no underflow
    p = kernel / kernel.sum()
    return float(-(p[p > 0] * np.log(p[p > 0])).sum())


brent_beta = np.zeros(20)
for i in range(20):
    row = np.delete(sq_dist_digits[i], i)  # distances to the other points
    brent_beta[i] = brentq(
        lambda b, row=row: entropy_nats(b, row) - np.log(PERPLEXITY),
        1e-8,
        10.0,
        xtol=1e-14,
        rtol=1e-14,
    )
check_close(
    "β_i: our bisection vs scipy.optimize.brentq (20 rows)",
    beta_digits[:20],
    brent_beta,
    atol=0.0,
    rtol=1e-4,
)

# %% [markdown]
# And scikit-learn's $P$, from its private helper `sklearn.manifold._t_sne._joint_probabilities`
# (the function `TSNE(method='exact')` calls). It is not public API, so the import is guarded
# and the check is skipped, with a message, if a future version moves it. scikit-learn feeds
# float32 distances to its binary search; the digits' squared distances are integers below
# $2^{24}$, exact in float32, so the two computations see the same numbers.

# %%
joint_p_digits = joint_probabilities(cond_p_digits)  # (1000, 1000)
check_close("digits: P is symmetric", joint_p_digits, joint_p_digits.T, atol=0.0)
check_close("digits: Σ p_ij = 1", joint_p_digits.sum(), 1.0, atol=1e-12)
try:
    from sklearn.manifold._t_sne import _joint_probabilities as sklearn_joint_probabilities
except ImportError:
    print("sklearn.manifold._t_sne._joint_probabilities not found: comparison skipped")
else:
    sklearn_p = squareform(sklearn_joint_probabilities(sq_dist_digits, PERPLEXITY, 0))
    check_close(
        "digits: our p_ij vs scikit-learn's _joint_probabilities",
        joint_p_digits,
        sklearn_p,
        atol=1e-15,
        rtol=1e-9,
    )

# %% [markdown]
# ### The gradient: matrix form, explicit sum, finite differences
#
# On a small problem in float64 (40 random points in 5-D, a random map $Y$): the matrix form
# {eq}`tsne-grad-matrix` must equal the explicit sum {eq}`tsne-grad` computed with an
# $(N,N,2)$ array of differences, and both must equal central finite differences of the KL,
# $(C(Y+hE)-C(Y-hE))/2h$ per coordinate, whose error is $O(h^2)$ plus rounding $O(\epsilon
# C/h)$; $h=10^{-5}$ keeps both small.


# %%
def kl_gradient_by_difference_array(joint_p: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """eq. (tsne-grad) as written: builds the (N, N, 2) array of y_i - y_j."""
    diff = Y[:, None, :] - Y[None, :, :]  # (N, N, 2)
    kernel = 1.0 / (1.0 + (diff**2).sum(axis=-1))  # (N, N)
    np.fill_diagonal(kernel, 0.0)
    q = kernel / kernel.sum()
    return 4.0 * (((joint_p - q) * kernel)[:, :, None] * diff).sum(axis=1)  # (N, 2)


X_small = rng.standard_normal((40, 5))  # (40, 5)
p_small = joint_probabilities(conditional_probabilities(squared_distances(X_small), 10.0)[0])
Y_small = rng.standard_normal((40, 2))  # (40, 2)
kl_small, grad_small = kl_divergence_and_gradient(p_small, Y_small)
check_close(
    "gradient: matrix form vs (N, N, 2) sum",
    grad_small,
    kl_gradient_by_difference_array(p_small, Y_small),
    atol=1e-15,
)

h = 1e-5
finite_diff = np.zeros_like(Y_small)
for index in np.ndindex(*Y_small.shape):
    shift = np.zeros_like(Y_small)
    shift[index] = h
    kl_plus, _ = kl_divergence_and_gradient(p_small, Y_small + shift)
    kl_minus, _ = kl_divergence_and_gradient(p_small, Y_small - shift)
    finite_diff[index] = (kl_plus - kl_minus) / (2 * h)
relative_error = np.abs(grad_small - finite_diff).max() / np.abs(grad_small).max()
check_close(
    "gradient vs central finite differences (float64)",
    grad_small,
    finite_diff,
    atol=1e-7 * np.abs(grad_small).max(),
)
print(f"max relative error {relative_error:.1e} (relative to max |∂C/∂y|)")

# %% [markdown]
# scikit-learn's exact objective, `sklearn.manifold._t_sne._kl_divergence` (private as well,
# guarded the same way), computes the same KL and gradient from the condensed $P$:

# %%
try:
    from sklearn.manifold._t_sne import _kl_divergence as sklearn_kl_divergence
except ImportError:
    print("sklearn.manifold._t_sne._kl_divergence not found: comparison skipped")
else:
    sklearn_kl, sklearn_grad = sklearn_kl_divergence(Y_small.ravel(), squareform(p_small), 1, 40, 2)
    check_close("KL vs scikit-learn's _kl_divergence", kl_small, sklearn_kl, atol=1e-12)
    check_close(
        "gradient vs scikit-learn's _kl_divergence",
        grad_small,
        sklearn_grad.reshape(40, 2),
        atol=1e-14,
    )

# %% [markdown]
# ### The heavy tail
#
# The numbers quoted in the derivation, and the two kernels over a range of distances: beyond
# $r\approx1.6$ the Student-t kernel is the larger one, and the ratio grows like
# $e^{r^2/2}/r^2$.

# %%
check_close("Student-t kernel at r² = 9: 1/(1+9)", 1 / (1 + 9), 0.1, atol=1e-15)
check_close("Gaussian kernel at r² = 9: exp(-9/2)", np.exp(-9 / 2), 0.0111, atol=5e-5)
print(f"ratio at r = 3: {(1 / (1 + 9)) / np.exp(-9 / 2):.2f}")
crossing = brentq(lambda r: 1 / (1 + r**2) - np.exp(-(r**2) / 2), 0.5, 3.0)
check_close("the kernels cross at r ≈ 1.6", crossing, 1.6, atol=0.05)

# %%
r = np.linspace(0, 5, 200)
fig, ax = plt.subplots(figsize=(6.4, 3.6))
ax.semilogy(r, 1 / (1 + r**2), label="Student-t, $(1+r^2)^{-1}$ (t-SNE's map)")
ax.semilogy(r, np.exp(-(r**2) / 2), "--", label="Gaussian, $e^{-r^2/2}$ (SNE's map)")
ax.plot([3, 3], [np.exp(-4.5), 0.1], "k:", lw=1)
ax.annotate("×9 at r = 3", (3, 0.03), xytext=(3.2, 0.03))
ax.set(
    xlabel="distance in the map r",
    ylabel="kernel (log scale)",
    ylim=(1e-5, 1.5),
    title="The Student-t kernel's heavy tail: ×9 the Gaussian at r = 3",
)
ax.legend()
plt.show()

# %% [markdown]
# ### The optimiser, step for step
#
# With the same $P$ and starting map, our `gradient_descent` and scikit-learn's private
# `_gradient_descent` driving its `_kl_divergence` (both guarded) must produce the same
# iterates, in float64, on 200 digits. They do only for a few dozen iterations: the
# iteration is chaotic, and rounding differences grow exponentially. So the check is on the
# first 15 iterations of the exaggerated phase, and the cell also prints how far apart the
# two are after 120.


# %%
def run_both(
    joint_p: np.ndarray, Y_start: np.ndarray, n_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """n_iter exaggerated iterations of our optimiser and of scikit-learn's, from Y_start."""
    n, lr = len(Y_start), auto_learning_rate(len(Y_start), 12.0)
    ours, _ = gradient_descent(
        12.0 * joint_p,
        Y_start,
        0,
        n_iter,
        momentum=0.5,
        learning_rate=lr,
        n_iter_without_progress=EXAGGERATION_ITER,
        min_grad_norm=1e-7,
    )
    theirs, _, _ = sklearn_gradient_descent(
        sklearn_kl_divergence,
        Y_start.ravel().copy(),
        0,
        n_iter,
        n_iter_check=N_ITER_CHECK,
        n_iter_without_progress=EXAGGERATION_ITER,
        momentum=0.5,
        learning_rate=lr,
        args=[squareform(12.0 * joint_p), 1, n, 2],
    )
    return ours, theirs.reshape(n, 2)


n_step = 200
p_step = joint_probabilities(
    conditional_probabilities(sq_dist_digits[:n_step, :n_step], PERPLEXITY)[0]
)
Y_start = 1e-4 * rng.standard_normal((n_step, 2))  # (200, 2), the paper's random start
try:
    from sklearn.manifold._t_sne import _gradient_descent as sklearn_gradient_descent
    from sklearn.manifold._t_sne import _kl_divergence as sklearn_kl_divergence
except ImportError:
    print("scikit-learn's private _gradient_descent not found: comparison skipped")
else:
    Y_ours, Y_sklearn = run_both(p_step, Y_start, 15)
    moved = np.abs(Y_ours - Y_start).max()
    check_close(
        f"15 steps vs scikit-learn's _gradient_descent (|ΔY| up to {moved:.2f})",
        Y_ours,
        Y_sklearn,
        atol=1e-9 * moved,
    )
    Y_ours, Y_sklearn = run_both(p_step, Y_start, 120)
    print(
        f"after 120 steps: max |ours - scikit-learn's| = {np.abs(Y_ours - Y_sklearn).max():.2g}"
        f", while the map spans {np.ptp(Y_sklearn, axis=0).max():.2g}"
    )

# %% [markdown]
# ## Experiments
#
# ### 1. Our t-SNE against scikit-learn's on 1000 digits
#
# Both from a PCA start with perplexity 30, exaggeration 12 and the automatic learning rate;
# scikit-learn with its default Barnes–Hut method (its exact method loops over the points in
# Python and is much slower at this size). Two long runs of a chaotic iteration cannot be
# compared point by point, so the comparison is on what a t-SNE map is for:
#
# - **trustworthiness** {cite}`venna2001neighborhood` (`sklearn.manifold.trustworthiness`,
#   $k=5$): 1 when every point's 5 nearest neighbours in the map were also among its
#   nearest neighbours in the data, lower when the map invents neighbours;
# - **5-NN accuracy** in the map, 5-fold cross-validated: how well the digit classes survive
#   as neighbourhoods;
# - the exact KL {eq}`tsne-kl` of each map under the same $P$.
#
# The wall-clock times are single runs on a shared machine, printed for orientation only, not
# as a benchmark.

# %%
start = time.perf_counter()
ours_digits = TSNE(perplexity=PERPLEXITY, random_state=0).fit(X_digits)
ours_seconds = time.perf_counter() - start
start = time.perf_counter()
sklearn_digits = SklearnTSNE(perplexity=PERPLEXITY, random_state=0).fit(X_digits)
sklearn_seconds = time.perf_counter() - start
print(
    f"single runs, not a benchmark: ours {ours_seconds:.1f} s (exact), "
    f"scikit-learn {sklearn_seconds:.1f} s (Barnes–Hut)"
)


# %%
def map_quality(X: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Trustworthiness (k = 5) and cross-validated 5-NN accuracy of the map Y of X."""
    knn = KNeighborsClassifier(n_neighbors=5)
    return {
        "trustworthiness": trustworthiness(X, Y, n_neighbors=5),
        "5-NN accuracy": cross_val_score(knn, Y, labels, cv=5).mean(),
    }


quality = {
    "ours (exact)": map_quality(X_digits, ours_digits.embedding_, y_digits),
    "scikit-learn (Barnes–Hut)": map_quality(X_digits, sklearn_digits.embedding_, y_digits),
}
joint_p_float32 = joint_p_digits.astype(np.float32)
exact_kl = {
    "ours (exact)": ours_digits.kl_divergence_,
    "scikit-learn (Barnes–Hut)": kl_divergence_and_gradient(
        joint_p_float32, sklearn_digits.embedding_.astype(np.float32)
    )[0],
}
for name, scores in quality.items():
    print(
        f"{name:>26}: trustworthiness {scores['trustworthiness']:.4f}, "
        f"5-NN accuracy {scores['5-NN accuracy']:.3f}, exact KL {exact_kl[name]:.3f}"
    )
print(
    f"scikit-learn's own kl_divergence_ (Barnes–Hut, on its sparse P): "
    f"{sklearn_digits.kl_divergence_:.3f}"
)
ours_q, sklearn_q = quality["ours (exact)"], quality["scikit-learn (Barnes–Hut)"]
check_close(
    "trustworthiness: ours vs scikit-learn's (margin 0.02)",
    ours_q["trustworthiness"],
    sklearn_q["trustworthiness"],
    atol=0.02,
)
check_close(
    "5-NN accuracy: ours vs scikit-learn's (margin 0.03)",
    ours_q["5-NN accuracy"],
    sklearn_q["5-NN accuracy"],
    atol=0.03,
)
check_close(
    "exact KL: ours vs scikit-learn's map (margin 10 %)",
    exact_kl["ours (exact)"],
    exact_kl["scikit-learn (Barnes–Hut)"],
    atol=0.0,
    rtol=0.1,
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), width_ratios=[1, 1, 0.8])
digit_colours = plt.get_cmap("tab10")
for ax, (name, model) in zip(
    axes[:2],
    [("ours (exact)", ours_digits), ("scikit-learn (Barnes–Hut)", sklearn_digits)],
    strict=True,
):
    Y = model.embedding_
    ax.scatter(Y[:, 0], Y[:, 1], c=y_digits, cmap=digit_colours, s=6, vmin=-0.5, vmax=9.5)
    for digit in range(10):
        centre = np.median(Y[y_digits == digit], axis=0)
        ax.text(*centre, str(digit), fontsize=12, weight="bold", ha="center", va="center")
    ax.set(title=name, xlabel="map axis 1 (no units)", ylabel="map axis 2 (no units)")
metric_names = ["trustworthiness", "5-NN accuracy"]
positions = np.arange(len(metric_names))
for offset, (name, scores), colour in zip((-0.2, 0.2), quality.items(), PALETTE[:2], strict=True):
    values = [scores[m] for m in metric_names]
    bars = axes[2].bar(positions + offset, values, width=0.4, color=colour, label=name)
    axes[2].bar_label(bars, fmt="%.3f", fontsize=8)
axes[2].set(
    xticks=positions,
    xticklabels=metric_names,
    ylim=(0.8, 1.02),
    ylabel="score",
    title="Map quality",
)
axes[2].legend(loc="upper center", bbox_to_anchor=(0.5, -0.12))
fig.suptitle(
    f"Our exact t-SNE matches scikit-learn's: trustworthiness "
    f"{ours_q['trustworthiness']:.3f} vs {sklearn_q['trustworthiness']:.3f}, 5-NN accuracy "
    f"{ours_q['5-NN accuracy']:.3f} vs {sklearn_q['5-NN accuracy']:.3f}"
)
plt.show()

# %% [markdown]
# The maps differ in where each cluster sits and how it is oriented (a rotation or
# reflection of the whole map changes nothing in $Q$, and the two runs follow different
# chaotic paths), but the same digit classes form the same islands, and the numbers above
# agree within the stated margins.
#
# Why the matrix form matters: one gradient evaluation for the 1000 digits, as the matrix
# product {eq}`tsne-grad-matrix` and as the explicit sum over an $(N,N,2)$ array
# {eq}`tsne-grad`, both in float64 (medians of repeated runs):

# %%
Y_timing = ours_digits.embedding_.astype(np.float64)
timing_buffers = (np.empty_like(joint_p_digits), np.empty_like(joint_p_digits))
matrix_time = time_call(
    lambda: kl_divergence_and_gradient(joint_p_digits, Y_timing, False, timing_buffers),
    repeats=5,
    warmup=1,
)
array_time = time_call(
    lambda: kl_gradient_by_difference_array(joint_p_digits, Y_timing), repeats=3, warmup=1
)
print(f"matrix form:      {matrix_time}")
print(f"(N, N, 2) array:  {array_time}")
print(f"the matrix form is {array_time.median / matrix_time.median:.0f}× faster per iteration")

# %% [markdown]
# ### 2. What perplexity does
#
# The same 300 digits at perplexity 2, 5, 30 and 100. Perplexity is the effective number of
# neighbours each point tries to keep, so it sets $\sigma_i$ (the median is printed) and with
# it the scale of structure the map shows. Two numbers per map: trustworthiness at $k=5$ and
# at $k=30$ (are the map's 5 or 30 nearest neighbours real?), and the number of *islands*,
# the connected groups of points when every pair closer than 5 times the map's median
# nearest-neighbour distance is linked (a scale-free count of what the eye sees as separate
# clumps).

# %%
PERPLEXITIES = (2, 5, 30, 100)
sweep_index = np.sort(rng.choice(len(X_digits), size=300, replace=False))
X_sweep, y_sweep = X_digits[sweep_index], y_digits[sweep_index]  # (300, 64), (300,)
sq_dist_sweep = squared_distances(X_sweep)


def count_islands(Y: np.ndarray, link_factor: float = 5.0) -> int:
    """Connected components of the graph linking map points closer than `link_factor` times
    the median nearest-neighbour distance."""
    distance = np.sqrt(squared_distances(Y.astype(np.float64)))  # (N, N)
    np.fill_diagonal(distance, np.inf)
    threshold = link_factor * np.median(distance.min(axis=1))
    return connected_components(csr_matrix(distance < threshold), directed=False)[0]


sweep = {}
for perplexity in PERPLEXITIES:
    Y = TSNE(perplexity=perplexity, random_state=0).fit_transform(X_sweep)
    _, beta = conditional_probabilities(sq_dist_sweep, perplexity)
    sweep[perplexity] = dict(
        map=Y,
        median_sigma=np.median(np.sqrt(1 / (2 * beta))),
        trust_5=trustworthiness(X_sweep, Y, n_neighbors=5),
        trust_30=trustworthiness(X_sweep, Y, n_neighbors=30),
        islands=count_islands(Y),
        extent=float(np.ptp(Y, axis=0).max()),
    )
    s = sweep[perplexity]
    print(
        f"perplexity {perplexity:>3}: median σ {s['median_sigma']:5.1f}, trustworthiness "
        f"k=5 {s['trust_5']:.3f}, k=30 {s['trust_30']:.3f}, {s['islands']:>2} islands, "
        f"map extent {s['extent']:.0f}"
    )
check_true(
    "perplexity 2 breaks the digits into more islands than perplexity 30",
    sweep[2]["islands"] > sweep[30]["islands"],
    f"{sweep[2]['islands']} vs {sweep[30]['islands']}",
)
check_true(
    "perplexity 100 keeps more of the 30-neighbourhoods than perplexity 2",
    sweep[100]["trust_30"] > sweep[2]["trust_30"],
    f"{sweep[100]['trust_30']:.3f} vs {sweep[2]['trust_30']:.3f}",
)

# %%
fig, axes = plt.subplots(1, 4, figsize=(14, 3.9))
for ax, (perplexity, s) in zip(axes, sweep.items(), strict=True):
    Y = s["map"]
    ax.scatter(Y[:, 0], Y[:, 1], c=y_sweep, cmap=digit_colours, s=8, vmin=-0.5, vmax=9.5)
    ax.set(
        title=f"perplexity {perplexity}: {s['islands']} islands",
        xlabel=f"median σ = {s['median_sigma']:.1f}; T(30) = {s['trust_30']:.3f}",
    )
    ax.tick_params(labelsize=7)
fig.suptitle(
    f"Small perplexity shatters classes into islands ({sweep[2]['islands']} at 2); large "
    f"perplexity keeps larger neighbourhoods (trustworthiness at k = 30: "
    f"{sweep[2]['trust_30']:.2f} → {sweep[100]['trust_30']:.2f})"
)
plt.show()

# %% [markdown]
# At perplexity 2 each point only cares about its one or two nearest neighbours, so the map
# is made of tiny chains and clumps that split the digit classes; nothing holds a class
# together. Around 30 most classes form one compact group each (some groups touch, so there
# are fewer islands than classes). At 100 (a third of these 300 points) every point sees a
# large part of the data, the classes crowd together and the map shrinks, but neighbourhoods
# of 30 points are kept best. The map's extent (printed above) changes several-fold between
# panels: the scale of a t-SNE map means nothing either.
# {cite:t}`wattenberg2016misread` show the same on synthetic data; there is no single right
# perplexity, and looking at several is the honest practice.
#
# ### 3. What distances in the plot do not mean
#
# Two synthetic data sets in 10-D, 300 points each, with perplexity 30:
#
# - **sizes**: two Gaussian blobs, one with standard deviation 1 and one with 10, centres 100
#   apart;
# - **gaps**: three blobs of standard deviation 1 whose centres are 20 apart (A–B) and 200
#   apart (B–C).
#
# Cluster size is measured as the RMS distance of a cluster's points to its centroid, gaps as
# distances between centroids; the top row shows a linear (PCA) view of the data, which keeps
# these ratios.

# %%
DIM = 10


def rms_radius(points: np.ndarray) -> float:
    """Root-mean-square distance of the points to their centroid."""
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))


def centroid_gaps(points: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Distances between the centroids of clusters 0 and 1 and of clusters 1 and 2."""
    centroids = np.array([points[labels == k].mean(axis=0) for k in range(3)])  # (3, d)
    return (
        float(np.linalg.norm(centroids[0] - centroids[1])),
        float(np.linalg.norm(centroids[1] - centroids[2])),
    )


def pca_view(points: np.ndarray) -> np.ndarray:
    """Projection on the first two principal axes, shape (N, 2)."""
    centred = points - points.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


narrow, wide = rng.standard_normal((150, DIM)), 10 * rng.standard_normal((150, DIM))
wide[:, 0] += 100
X_sizes, y_sizes = np.vstack([narrow, wide]), np.repeat([0, 1], 150)  # (300, 10)
Y_sizes = TSNE(random_state=0).fit_transform(X_sizes)
size_ratio_data = rms_radius(X_sizes[y_sizes == 1]) / rms_radius(X_sizes[y_sizes == 0])
size_ratio_map = rms_radius(Y_sizes[y_sizes == 1]) / rms_radius(Y_sizes[y_sizes == 0])

centres = np.zeros((3, DIM))
centres[1:, 0] = 20.0  # A at 0, B 20 away along axis 0
centres[2, 1] = 200.0  # C 200 away from B along axis 1
X_gaps = np.vstack([c + rng.standard_normal((100, DIM)) for c in centres])  # (300, 10)
y_gaps = np.repeat([0, 1, 2], 100)
Y_gaps = TSNE(random_state=0).fit_transform(X_gaps)
gaps_data, gaps_map = centroid_gaps(X_gaps, y_gaps), centroid_gaps(Y_gaps, y_gaps)
gap_ratio_data, gap_ratio_map = gaps_data[1] / gaps_data[0], gaps_map[1] / gaps_map[0]
print(f"size ratio wide/narrow: data {size_ratio_data:.1f}, map {size_ratio_map:.2f}")
print(f"gap ratio (B–C)/(A–B): data {gap_ratio_data:.1f}, map {gap_ratio_map:.2f}")
p_gaps = joint_probabilities(conditional_probabilities(squared_distances(X_gaps), 30.0)[0])
mass_ab = p_gaps[np.ix_(y_gaps == 0, y_gaps == 1)].sum()
mass_bc = p_gaps[np.ix_(y_gaps == 1, y_gaps == 2)].sum()
print(f"P mass between A and B: {mass_ab:.1e}; between B and C: {mass_bc:.1e}")
knn_gaps = cross_val_score(KNeighborsClassifier(n_neighbors=5), Y_gaps, y_gaps, cv=5).mean()
print(
    f"three blobs: trustworthiness {trustworthiness(X_gaps, Y_gaps, n_neighbors=5):.3f}, "
    f"5-NN accuracy in the map {knn_gaps:.3f}"
)
check_true(
    "the 10× larger blob is not 3× larger in the map", size_ratio_map < 3, f"{size_ratio_map:.2f}"
)
check_true(
    "the 10× larger gap is not 3× larger in the map", gap_ratio_map < 3, f"{gap_ratio_map:.2f}"
)

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
cluster_colours = [PALETTE[0], PALETTE[1], PALETTE[2]]
panels = [
    (
        axes[0, 0],
        pca_view(X_sizes),
        y_sizes,
        f"data (PCA view): wide blob {size_ratio_data:.1f}× larger",
    ),
    (axes[1, 0], Y_sizes, y_sizes, f"t-SNE map: wide blob {size_ratio_map:.2f}× as large"),
    (axes[0, 1], pca_view(X_gaps), y_gaps, f"data (PCA view): gap B–C {gap_ratio_data:.1f}× A–B"),
    (axes[1, 1], Y_gaps, y_gaps, f"t-SNE map: gap B–C {gap_ratio_map:.2f}× A–B"),
]
for ax, points, labels, title in panels:
    for k in np.unique(labels):
        name = "ABC"[k] if labels is y_gaps else ["σ = 1", "σ = 10"][k]
        ax.scatter(*points[labels == k].T, s=6, color=cluster_colours[k], label=name)
    ax.set(title=title, xlabel="axis 1", ylabel="axis 2")
    ax.set_aspect("equal", adjustable="datalim")  # equal units on both axes, same box size
    ax.legend(loc="best", markerscale=2)
fig.suptitle("t-SNE equalises cluster sizes and gaps: neither is a distance in the data")
plt.show()

# %% [markdown]
# Each blob gets the same share of the map because each point keeps about 30 neighbours
# whatever its density: $\sigma_i$ adapts to the local spread, so a wide blob and a narrow
# one produce statistically the same $P$. Between clusters, $p_{ij}$ is essentially zero
# whether the gap is 20 or 200 (both are many $\sigma$'s away; the $P$ mass between clusters is
# printed above), so the cost cannot tell the two gaps apart and the repulsion spaces the
# clusters evenly. A t-SNE plot shows which
# points are neighbours; it does not show how large a cluster is or how far apart two
# clusters are {cite}`wattenberg2016misread`.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "The plot shows two big clusters far apart." What can you conclude?
# That the points within each cluster are each other's neighbours, and little else.
# Experiment 3 shows a blob with 10 times the spread drawn at the same size and a gap 10
# times wider drawn at the same length. Densities are equalised too: every point keeps about
# `perplexity` neighbours whatever the local density. To compare sizes or distances, measure
# them in the data (or in a linear projection such as PCA).
# :::
#
# :::{dropdown} Is t-SNE a clustering method?
# No. It has no cluster assignments, and the islands it draws depend on perplexity
# (Experiment 2: many more islands at perplexity 2 than at 30, on the same digits); at
# small perplexity even structureless noise shows clumps {cite}`wattenberg2016misread`.
# Cluster in the data, then use the map to look at the clusters.
# :::
#
# :::{dropdown} Why do two runs give different pictures?
# The cost is non-convex and the optimisation is chaotic: the step-for-step check above
# agreed with scikit-learn to rounding error for 15 iterations, yet after 120 iterations from
# the same start the two differ by as much as the map's size (printed there). Different
# random starts land in different local minima of similar quality. The next cell runs two
# random initialisations on the 300 digits of Experiment 2 and compares the maps after the
# best rotation, reflection and scaling (Procrustes disparity: 0 for identical shapes, 1 for
# unrelated ones). A PCA
# start (scikit-learn's default since version 1.2) makes runs reproducible and keeps more of
# the global arrangement {cite}`kobak2019art`.
# :::

# %%
seed_maps = [TSNE(init="random", random_state=seed).fit(X_sweep) for seed in (0, 1)]
seed_trust = [trustworthiness(X_sweep, m.embedding_, n_neighbors=5) for m in seed_maps]
_, _, disparity = procrustes(seed_maps[0].embedding_, seed_maps[1].embedding_)
for seed, (model, trust) in enumerate(zip(seed_maps, seed_trust, strict=True)):
    print(f"random start, seed {seed}: KL {model.kl_divergence_:.3f}, trustworthiness {trust:.3f}")
check_true(
    "the two maps differ beyond rotation and scale",
    disparity > 0.1,
    f"Procrustes disparity {disparity:.2f}",
)
check_close(
    "…yet are about equally trustworthy (margin 0.01)", seed_trust[0], seed_trust[1], atol=0.01
)

# %% [markdown]
# :::{dropdown} How do I place new points in an existing map?
# Plain t-SNE cannot: it optimises the coordinates of the $N$ given points and learns no
# function $x\mapsto y$, so neither scikit-learn's `TSNE` nor ours has a `transform` (checked
# below). Options are to rerun on old and new points together (the old ones move), to
# optimise only the new points' positions against the fixed map (openTSNE does this), to
# train a network to output the map (parametric t-SNE), or to use UMAP, which has a
# `transform`. The same reason rules t-SNE out as a feature extractor for a model that must
# score unseen data.
# :::

# %%
check_true(
    "no transform for new points, in scikit-learn's TSNE or ours",
    not hasattr(SklearnTSNE(), "transform") and not hasattr(TSNE(), "transform"),
)

# %% [markdown]
# :::{dropdown} Why does scikit-learn default to Barnes–Hut, and what does it approximate?
# Exact t-SNE needs all $N^2$ pairs per iteration, in time and memory (computed below for
# 70 000 MNIST digits). Barnes–Hut t-SNE {cite}`vandermaaten2014barneshut` makes both forces
# cheap: $P$ is kept only over the $\lfloor3\,\mathrm{Perp}\rfloor$ nearest neighbours (a
# sparse matrix, so attraction costs $O(N\,\mathrm{Perp})$), and the repulsion from a distant
# group of points is replaced by that of their centre of mass, found in a quadtree, which
# costs $O(N\log N)$ (scikit-learn's `angle=0.5` sets the accuracy). Its `kl_divergence_` is
# therefore computed with the sparse $P$; that is why it differs from the exact KL of the
# same map in Experiment 1. FIt-SNE {cite}`linderman2019fast` goes further with an
# interpolation scheme that is $O(N)$.
# :::

# %%
n_mnist = 70_000
print(
    f"one float32 N×N array for N = {n_mnist}: {format_bytes(4 * n_mnist**2)}; "
    f"learning rate 'auto' = {auto_learning_rate(n_mnist, 12.0):.0f}"
)

# %% [markdown]
# :::{dropdown} Should I run PCA first?
# Usually yes for wide data (thousands of features: gene expression, embeddings): reducing to
# about 50 principal components first removes noise dimensions that blur the distances and
# makes the neighbour search faster; the reference implementation does this by default. The
# 64-pixel digits did not need it.
# :::
#
# :::{dropdown} What about UMAP?
# UMAP {cite}`mcinnes2018umap` builds a similar weighted $k$-nearest-neighbour graph and
# optimises a cross-entropy between fuzzy graphs with negative sampling. It is faster on
# large data, has a `transform`, and tends to keep more of the global arrangement, but the
# same cautions apply: cluster sizes and gaps are not distances, and the picture depends on
# `n_neighbors` (its perplexity) and `min_dist`. With a PCA start and exaggeration the two
# methods give similar maps {cite}`kobak2019art`.
# :::
#
# :::{dropdown} My map is one round ball, or clusters are split into pieces. What went wrong?
# Usually the optimisation, not the data. Too few iterations, or a learning rate too small
# for $N$ (the old fixed default of 200 on hundreds of thousands of points), leave clusters
# fragmented; with a learning rate far too large, points fly apart into a ball with every
# point at about the same distance from its neighbours. The `'auto'` rate {eq}`tsne-lr` and
# a PCA start avoid both in most cases {cite}`belkina2019automated`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A conditional distribution puts probabilities $(1/2, 1/4, 1/8, 1/8)$ on four neighbours
#    and zero elsewhere. What is its perplexity? The next cell checks the answer.
#
#    :::{dropdown} Answer
#    $H=\tfrac12\cdot1+\tfrac14\cdot2+2\cdot\tfrac18\cdot3=1.75$ bits, so the perplexity is
#    $2^{1.75}\approx3.36$: fewer than 4 effective neighbours, because the mass is uneven.
#    :::

# %%
exercise_p = np.array([1 / 2, 1 / 4, 1 / 8, 1 / 8, 0.0])
check_close("exercise 1: entropy in bits", entropy_bits(exercise_p), 1.75, atol=1e-12)
check_close("exercise 1: perplexity", 2 ** entropy_bits(exercise_p), 3.3636, atol=1e-4)

# %% [markdown]
# 2. Why does t-SNE minimise $\mathrm{KL}(P\|Q)$ and not $\mathrm{KL}(Q\|P)$, and what would
#    change?
#
#    :::{dropdown} Answer
#    $\mathrm{KL}(P\|Q)$ weights each pair by $p_{ij}$: it is large when neighbours in the data
#    (large $p_{ij}$) are placed far apart (small $q_{ij}$) and nearly indifferent to
#    non-neighbours placed close. That is the local-structure preference a visualisation
#    wants. $\mathrm{KL}(Q\|P)$ would weight by $q_{ij}$ and punish placing non-neighbours
#    close, while letting true neighbours drift apart: it would favour separating things over
#    keeping neighbourhoods.
#    :::
#
# 3. With 5000 points and scikit-learn's defaults, what learning rate does `'auto'` choose,
#    and how much memory does one float32 $N\times N$ array of the exact method take? The
#    next cell checks both.
#
#    :::{dropdown} Answer
#    $\eta=\max(5000/(4\cdot12),50)=104.17$, and $5000^2\cdot4$ bytes $=10^8$ bytes, about
#    95 MiB: the exact method is still possible at this size, but each iteration reads
#    several such arrays.
#    :::

# %%
check_close("exercise 3: learning rate 'auto'", auto_learning_rate(5000, 12.0), 104.17, atol=5e-3)
check_close("exercise 3: float32 N×N array in MiB", 4 * 5000**2 / 2**20, 95.37, atol=5e-3)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`vandermaaten2008tsne`: Section 2 (SNE, perplexity, the binary search), Section 3
#   (symmetric $P$, the Student-t kernel, the crowding problem, the gradient, eq. 5, and the
#   optimisation tricks: momentum, gains, early exaggeration).
# - {cite:t}`hinton2002sne`: Stochastic Neighbor Embedding and the perplexity-calibrated
#   Gaussian.
# - {cite:t}`vandermaaten2014barneshut`: Barnes–Hut t-SNE (sparse $P$ over $3\,\mathrm{Perp}$
#   neighbours, quadtree repulsion) and the exaggeration of 12 for 250 iterations.
# - {cite:t}`sklearn2025tsne`: `sklearn.manifold.TSNE`, whose schedule, stopping rules,
#   `learning_rate='auto'`, PCA start and binary search the from-scratch class follows; its
#   private `_joint_probabilities`, `_kl_divergence` and `_gradient_descent` serve as
#   references in the Verification section.
# - {cite:t}`jacobs1988increased`: the delta-bar-delta gains.
# - {cite:t}`belkina2019automated` and {cite:t}`kobak2019art`: the learning rate $N/\alpha$,
#   PCA initialisation; {cite:t}`kobak2019art` also for t-SNE vs UMAP.
# - {cite:t}`wattenberg2016misread`: what perplexity does, and why cluster sizes and
#   distances between clusters in a t-SNE plot mean little.
# - {cite:t}`venna2001neighborhood`: trustworthiness.
# - {cite:t}`linderman2019fast` (FIt-SNE) and {cite:t}`mcinnes2018umap` (UMAP).

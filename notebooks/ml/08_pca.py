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
# # 08. Principal component analysis (PCA)
#
# **The question.** Explain Principal Component Analysis (PCA). (The notes number it 7, a
# second time; it is this book's chapter 8.)
#
# **What you will be able to answer.** What PCA computes and why (maximum variance = minimum
# reconstruction error), both ways to compute it and why the SVD is the better one, what the
# explained variance and the reconstruction error are, and why centring is required while
# scaling to unit variance is a choice.

# %%
import numbers

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Tags
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# PCA finds the orthonormal directions along which centred data vary most; keeping the top $k$
# of them gives the best rank-$k$ linear approximation of the data.
#
# - **Recipe.** Centre the data, $X_c=X-\mathbf 1\mu^\top$ (required). Diagonalise the
#   covariance $C=\tfrac1{n-1}X_c^\top X_c=V\Lambda V^\top$ and sort the eigenvalues
#   $\lambda_1\ge\dots\ge\lambda_d$. The columns of $V_k$ (the top $k$ eigenvectors) are the
#   principal axes, and the scores are $Z=X_cV_k$.
# - **Explained variance.** The variance along axis $i$ is $\lambda_i$. Its share is
#   $\mathrm{EVR}_i=\lambda_i/\sum_j\lambda_j$, and $k$ is often the smallest number whose
#   cumulative share passes 90–99 %.
# - **Compute it with the SVD.** If $X_c=USV^\top$, then $V$ holds the axes,
#   $\lambda_i=s_i^2/(n-1)$ and $Z=U_kS_k$. $X^\top X$ is never formed, and forming it squares
#   the condition number: small eigenvalues computed from the covariance lose accuracy.
# - **Reconstruction.** $\hat X=ZV_k^\top+\mathbf 1\mu^\top$ has squared error
#   $(n-1)\sum_{i>k}\lambda_i$, and no rank-$k$ approximation does better (Eckart–Young). That
#   is the real reason to keep high-variance directions.
# - **Corrections to the notes.** Centring is required: without it the first "component"
#   points at the mean. Scaling every feature to unit variance is optional: it is PCA on the
#   correlation matrix. Use it when features have different units. Skip it when the variances
#   carry meaning, as with pixels. The notes also leave out the sort, the SVD route,
#   reconstruction, how to choose $k$, and that the signs are arbitrary. PCA is linear and
#   sensitive to outliers.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | scikit-learn |
# |---|---|---|
# | $X\in\mathbb R^{n\times d}$ | data, one sample $x_j$ per row | `X` |
# | $\mu=\tfrac1n\sum_j x_j$ | the mean of the samples | `mean_` |
# | $X_c=X-\mathbf 1\mu^\top$ | centred data | |
# | $C=\tfrac1{n-1}X_c^\top X_c$ | sample covariance, $d\times d$ | `get_covariance()` |
# | $\lambda_i$ | eigenvalues of $C$, sorted, descending | `explained_variance_` |
# | $v_i$ | the unit eigenvector of $\lambda_i$, the $i$-th principal axis | `components_[i]` |
# | $s_i$ | singular values of $X_c$ | `singular_values_` |
# | $V_k=[v_1,\dots,v_k]$ | the top $k$ principal axes, $d\times k$ | `components_.T` |
# | $Z=X_cV_k$ | scores (the transformed data), $n\times k$ | `transform(X)` |
#
# ### Maximum variance
#
# Project every centred sample onto a unit vector $w$: $t_j=(x_j-\mu)^\top w$. The $t_j$ have
# mean zero and sample variance
#
# $$
# \frac1{n-1}\sum_j t_j^2=\frac1{n-1}\lVert X_cw\rVert^2=w^\top Cw .
# $$ (pca-projected-variance)
#
# Maximise it subject to $w^\top w=1$. The Lagrangian $w^\top Cw-\lambda(w^\top w-1)$ is
# stationary where
#
# $$
# Cw=\lambda w ,
# $$ (pca-eig)
#
# so $w$ is an eigenvector. At such a $w$ the variance is $w^\top Cw=\lambda$, so the best
# $w$ is the eigenvector with the largest eigenvalue. The second axis maximises the same
# quantity subject to $w\perp v_1$. It is $v_2$, and so on. $C$ is symmetric and positive
# semi-definite, so its eigenvalues are real and $\ge0$ and its eigenvectors can be chosen
# orthonormal. This is the covariance eigendecomposition
#
# $$
# X_c=X-\mathbf 1\mu^\top,\qquad C=\frac1{n-1}X_c^\top X_c=V\Lambda V^\top,\qquad
# \lambda_1\ge\lambda_2\ge\dots\ge\lambda_d\ge0 .
# $$ (pca-cov)
#
# The scores are the coordinates of the centred samples in the new basis:
#
# $$
# Z=X_cV_k\qquad(n\times k).
# $$ (pca-scores)
#
# Their covariance is $V_k^\top CV_k=\operatorname{diag}(\lambda_1,\dots,\lambda_k)$, so the
# scores are uncorrelated. The total variance does not depend on the basis, since
# $\sum_j\lambda_j=\operatorname{tr}C=\sum_f\operatorname{Var}(x_{\cdot f})$, the sum of the
# feature variances. The share of axis $i$ is its explained-variance ratio:
#
# $$
# \mathrm{EVR}_i=\frac{\lambda_i}{\sum_{j=1}^{d}\lambda_j}=\frac{\lambda_i}{\operatorname{tr}C}.
# $$ (pca-evr)
#
# ### The SVD route
#
# Write the thin SVD of the centred data, $X_c=USV^\top$, with $U$ ($n\times r$) and $V$
# ($d\times r$) having orthonormal columns, $r=\min(n,d)$, and $s_1\ge\dots\ge s_r\ge0$. Then
# $X_c^\top X_c=VSU^\top USV^\top=VS^2V^\top$, which is {eq}`pca-cov` with the same $V$ and
#
# $$
# \lambda_i=\frac{s_i^2}{n-1},\qquad Z=X_cV_k=U_kS_k .
# $$ (pca-svd)
#
# Both routes give the same axes and variances in exact arithmetic. In floating point they do
# not, as shown below.
#
# ### Minimum reconstruction error (Eckart–Young)
#
# Map the scores back with $V_k$ and add the mean back:
#
# $$
# \hat X_k=ZV_k^\top+\mathbf 1\mu^\top .
# $$ (pca-reconstruction)
#
# $P=V_kV_k^\top$ projects orthogonally onto the span of the axes, so every centred sample
# splits by Pythagoras, $\lVert x_c\rVert^2=\lVert Px_c\rVert^2+\lVert x_c-Px_c\rVert^2$.
# Summed over samples, the first term is $(n-1)\operatorname{tr}(V_k^\top CV_k)$, the variance
# kept, and the second is the squared reconstruction error. Their sum is fixed, so
# **maximising the variance kept and minimising the squared error are the same problem**.
# With the SVD, $X_cV_kV_k^\top=\sum_{i\le k}s_iu_iv_i^\top$, so the residual is
# $\sum_{i>k}s_iu_iv_i^\top$. Its squared Frobenius norm is a sum over orthonormal terms:
#
# $$
# \lVert X-\hat X_k\rVert_F^2=\sum_{i>k}s_i^2=(n-1)\sum_{i>k}\lambda_i .
# $$ (pca-eckart-young)
#
# {cite:t}`eckart1936approximation` proved more: no matrix of rank $k$ (projection or not)
# is closer to $X_c$ in Frobenius norm. Allowing an offset as well (an affine subspace), the
# best offset is the mean, which is why PCA centres. Maximum variance is how
# {cite:t}`hotelling1933analysis` set PCA up. Closest fit is how {cite:t}`pearson1901lines`
# did, and {eq}`pca-eckart-young` says they are the same thing.
#
# ### Without centring, the first axis points at the mean
#
# An SVD of the *uncentred* $X$ maximises the mean squared projection
# $\tfrac1n\sum_j(x_j^\top w)^2$ instead of the variance. Because
# $\tfrac1n X^\top X=\tfrac{n-1}{n}C+\mu\mu^\top$, this maximises
#
# $$
# w^\top\Big(\tfrac{n-1}{n}C+\mu\mu^\top\Big)w=\tfrac{n-1}{n}w^\top Cw+(\mu^\top w)^2 .
# $$ (pca-uncentred)
#
# When $\lVert\mu\rVert^2$ is large compared with $\lambda_1$, the second term wins and the
# first "axis" is close to $\mu/\lVert\mu\rVert$, whatever the spread of the data.
#
# ### Standardising is PCA of the correlation matrix
#
# Scaling each centred feature by its standard deviation, $\tilde X=X_cD^{-1/2}$ with
# $D=\operatorname{diag}(C)$, gives data whose covariance is the correlation matrix
#
# $$
# R=D^{-1/2}CD^{-1/2} .
# $$ (pca-correlation)
#
# The eigenvectors of $R$ are not those of $C$ rescaled, so the two give different axes.
# Covariance PCA changes when one feature's unit changes: measuring a length in mm instead of
# m multiplies its variance by $10^6$. Correlation PCA does not change under any per-feature
# rescaling. Centring is part of both. Scaling is the choice.
#
# ### Why the SVD is more accurate: forming $X^\top X$ squares the condition number
#
# From {eq}`pca-svd`, $\kappa(X_c^\top X_c)=s_1^2/s_r^2=\kappa(X_c)^2$. An eigensolver for a
# symmetric matrix is backward stable: the eigenvalues it returns are exact for some $C+E$
# with $\lVert E\rVert\lesssim\epsilon\lVert C\rVert=\epsilon\lambda_1$, where $\epsilon$ is
# the unit roundoff. Forming $C$ in floating point adds an error of the same size. By Weyl's
# inequality each eigenvalue then moves by up to about $\epsilon\lambda_1$:
#
# $$
# \frac{|\hat\lambda_i-\lambda_i|}{\lambda_i}\lesssim\epsilon\,\frac{\lambda_1}{\lambda_i}
# =\epsilon\,\frac{s_1^2}{s_i^2}\qquad\text{(eigh of }C\text{)} .
# $$ (pca-eigh-error)
#
# An SVD computed directly from $X_c$ moves each $s_i$ by up to about $\epsilon s_1$ instead
# {cite}`golub2013matrix`. $\lambda_i=s_i^2/(n-1)$ doubles the relative error:
#
# $$
# \frac{|\hat\lambda_i-\lambda_i|}{\lambda_i}\lesssim2\epsilon\,\frac{s_1}{s_i}
# \qquad\text{(SVD of }X_c\text{)} .
# $$ (pca-svd-error)
#
# For a direction whose variance is below $\epsilon\lambda_1$, the covariance route returns
# noise. In float32 ($\epsilon=2^{-23}\approx1.2\times10^{-7}$, its machine epsilon) that is
# any direction with less than about $10^{-7}$ of the top variance, i.e.
# $s_i/s_1\lesssim3\times10^{-4}$, a condition number of a few thousand.
#
# ### Whitening
#
# Dividing each score by its standard deviation,
#
# $$
# Z_{\text{white}}=Z\,\Lambda_k^{-1/2},
# $$ (pca-whiten)
#
# gives scores with identity covariance (scikit-learn's `whiten=True`).
#
# ### The sign
#
# If $v$ is an eigenvector, so is $-v$, and an SVD may return either. To make the output
# deterministic, this chapter flips each axis so that its entry of largest absolute value is
# positive. scikit-learn's `svd_flip(..., u_based_decision=False)` does the same, and its PCA
# has used that rule since version 1.5 (before, the sign was decided by $U$, so older results
# can differ in sign).

# %% [markdown]
# ## Implementation from scratch
#
# Two small functions come first: the sign rule and the choice of $k$. A float
# `n_components` in $(0,1)$ keeps the fewest axes whose cumulative EVR exceeds it. This is
# scikit-learn's rule, including the strict "exceeds".


# %%
def flip_signs(components: np.ndarray) -> np.ndarray:
    """Flip each row (k, d) so that its entry of largest absolute value is positive."""
    largest = np.argmax(np.abs(components), axis=1)  # (k,)
    signs = np.sign(components[np.arange(len(components)), largest])  # (k,)
    signs[signs == 0] = 1  # an all-zero row stays as it is
    return components * signs[:, None]


def resolve_n_components(
    n_components: int | float | None, explained_variance_ratio: np.ndarray, max_components: int
) -> int:
    """The number of axes to keep: all (None), an int, or a cumulative-EVR threshold in (0, 1)."""
    if n_components is None:
        return max_components
    if isinstance(n_components, numbers.Real) and not isinstance(n_components, numbers.Integral):
        if not 0 < n_components < 1:
            raise ValueError(f"a float n_components must lie in (0, 1), got {n_components}")
        cumulative = np.cumsum(explained_variance_ratio)  # eq. (pca-evr), summed
        k = int(np.searchsorted(cumulative, n_components, side="right")) + 1
        return min(k, max_components)
    if isinstance(n_components, numbers.Integral) and 0 <= n_components <= max_components:
        return int(n_components)
    raise ValueError(
        f"n_components={n_components!r} must be None, a float in (0, 1) or an int in "
        f"[0, min(n_samples, n_features)] = [0, {max_components}]"
    )


# %% [markdown]
# The estimator follows scikit-learn's API. `__init__` only stores the parameters, `fit`
# learns attributes whose names end in `_`, and `transform` and `inverse_transform` implement
# {eq}`pca-scores`, {eq}`pca-whiten` and {eq}`pca-reconstruction`. `solver="eigh"` takes the
# covariance route {eq}`pca-cov` and `solver="svd"` the SVD route {eq}`pca-svd`. float32 data
# stay float32, as in scikit-learn, which the numerical experiment below relies on.
# `ClassNamePrefixFeaturesOutMixin` names the outputs `pca0, pca1, …` inside a `Pipeline`.


# %%
class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis by covariance eigendecomposition or by SVD.

    Parameters
    ----------
    n_components : int, float in (0, 1) or None, default None
        Axes to keep: an int, the fewest axes whose cumulative explained-variance ratio
        exceeds a float, or all min(n_samples, n_features) axes for None.
    solver : {"svd", "eigh"}, default "svd"
        "svd": thin SVD of the centred data. "eigh": eigendecomposition of the covariance.
    whiten : bool, default False
        Divide the scores by their standard deviations, so that they have unit variance.

    Attributes
    ----------
    mean_ : (n_features,)
    components_ : (n_components_, n_features), the principal axes as rows, sorted
    explained_variance_ : (n_components_,), the eigenvalues λ_i of the covariance
    explained_variance_ratio_ : (n_components_,), λ_i / trace(C)
    singular_values_ : (n_components_,), s_i = sqrt((n - 1) λ_i)
    n_components_ : int
    """

    def __init__(
        self, n_components: int | float | None = None, solver: str = "svd", whiten: bool = False
    ) -> None:
        self.n_components = n_components
        self.solver = solver
        self.whiten = whiten

    def fit(self, X: np.ndarray, y: None = None) -> "PCA":
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples, n_features = X.shape
        max_components = min(n_samples, n_features)
        self.mean_ = X.mean(axis=0)  # μ, (d,)
        centred = X - self.mean_  # eq. (pca-cov): X_c, (n, d)
        if self.solver == "svd":
            _, singular_values, components = np.linalg.svd(centred, full_matrices=False)
            explained_variance = singular_values**2 / (n_samples - 1)  # eq. (pca-svd)
        elif self.solver == "eigh":
            covariance = centred.T @ centred / (n_samples - 1)  # eq. (pca-cov): C, (d, d)
            eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending order
            order = np.argsort(eigenvalues)[::-1][:max_components]  # sorted, descending
            # C is positive semi-definite; rounding can return tiny negative eigenvalues
            explained_variance = np.clip(eigenvalues[order], 0.0, None)
            components = eigenvectors[:, order].T  # (r, d): one axis per row
            singular_values = np.sqrt(explained_variance * (n_samples - 1))  # eq. (pca-svd)
        else:
            raise ValueError(f"solver must be 'svd' or 'eigh', got {self.solver!r}")
        components = flip_signs(components)
        total_variance = centred.var(axis=0, ddof=1).sum()  # trace C
        ratio = (
            explained_variance / total_variance  # eq. (pca-evr)
            if total_variance > 0
            else np.zeros_like(explained_variance)
        )
        k = resolve_n_components(self.n_components, ratio, max_components)
        self.n_components_ = k
        self.components_ = components[:k]
        self.explained_variance_ = explained_variance[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.singular_values_ = singular_values[:k]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        scores = (X - self.mean_) @ self.components_.T  # eq. (pca-scores): (n, k)
        if self.whiten:  # eq. (pca-whiten); a zero variance is clipped to avoid 0/0
            scores = scores / np.sqrt(np.maximum(self.explained_variance_, np.finfo(X.dtype).eps))
        return scores

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32], ensure_min_features=0)  # (n, k)
        if self.whiten:
            Z = Z * np.sqrt(np.maximum(self.explained_variance_, np.finfo(Z.dtype).eps))
        return Z @ self.components_ + self.mean_  # eq. (pca-reconstruction): (n, d)

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# %% [markdown]
# ## Verification
#
# ### The toy example from the errata
#
# Four points, $(2,0),(0,1),(-2,0),(0,-1)$. Their mean is $0$ and
# $X_c^\top X_c=\operatorname{diag}(8,2)$, so $C=\operatorname{diag}(8/3,2/3)$. The
# eigenvalues are $8/3$ and $2/3$, the EVR is $[0.8,0.2]$, and the axes are the coordinate
# axes. Both solvers and scikit-learn must give these values.

# %%
toy = np.array([[2.0, 0.0], [0.0, 1.0], [-2.0, 0.0], [0.0, -1.0]])
toy_eigenvalues = np.array([8 / 3, 2 / 3])  # diag(8, 2) / (n - 1), by hand
for solver in ("eigh", "svd"):
    toy_pca = PCA(solver=solver).fit(toy)
    check_close(
        f"toy, {solver}: eigenvalues = [8/3, 2/3]",
        toy_pca.explained_variance_,
        toy_eigenvalues,
        atol=1e-14,
    )
    check_close(
        f"toy, {solver}: EVR = [0.8, 0.2]",
        toy_pca.explained_variance_ratio_,
        np.array([0.8, 0.2]),
        atol=1e-14,
    )
    check_close(f"toy, {solver}: axes = e1, e2", toy_pca.components_, np.eye(2), atol=1e-14)
toy_singular_values = np.linalg.svd(toy, compute_uv=False)  # the mean is already 0
check_close(
    "toy: s_i² / (n - 1) = eigenvalues", toy_singular_values**2 / 3, toy_eigenvalues, atol=1e-14
)
check_close(
    "toy: sklearn explained_variance_",
    SklearnPCA().fit(toy).explained_variance_,
    toy_eigenvalues,
    atol=1e-14,
)
print("s_i² / (n - 1) =", np.round(toy_singular_values**2 / 3, 4))

# %% [markdown]
# ### Against `sklearn.decomposition.PCA` on the digits
#
# The digits are 1797 images of 8×8 pixels with grey levels 0–16, so $d=64$. Three pixels
# are 0 in every image. Their variance is zero, so the last three eigenvalues are zero, and
# any orthonormal basis of that null space is a valid set of last axes. The comparison of
# axes therefore covers the axes with non-zero variance.
#
# Only directions are defined, so each comparison first aligns the signs of our axes with
# scikit-learn's, then compares. The chapter's sign rule is scikit-learn's, so the alignment
# should change nothing, and that is checked as well. The reference is `svd_solver="full"`.
# The default, `"auto"`, picks the covariance route for tall data like these (at least ten
# times more samples than features, at most 1000 features).

# %%
digits = load_digits()
X_digits = digits.data  # (1797, 64), grey levels 0..16
sk_digits = SklearnPCA(svd_solver="full").fit(X_digits)
nonzero = sk_digits.explained_variance_ > 1e-9 * sk_digits.explained_variance_[0]
n_informative = int(nonzero.sum())
gaps = -np.diff(sk_digits.explained_variance_[:n_informative])
print(f"{n_informative} of {X_digits.shape[1]} eigenvalues are non-zero")
print(f"smallest gap between them: {gaps.min() / sk_digits.explained_variance_[0]:.1e} λ1")


# %%
def align_signs(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Row signs (k,) that turn each row of `ours` toward the same row of `reference`."""
    return np.where(np.sum(ours * reference, axis=1) < 0, -1.0, 1.0)


digits_fits = {solver: PCA(solver=solver).fit(X_digits) for solver in ("svd", "eigh")}
sk_scores = sk_digits.transform(X_digits)[:, :n_informative]  # (n, n_informative)
for solver, ours in digits_fits.items():
    ours_axes = ours.components_[:n_informative]  # (n_informative, 64)
    signs = align_signs(ours_axes, sk_digits.components_[:n_informative])  # (n_informative,)
    check_equal(
        f"digits, {solver}: signs already agree (no axis flipped)", signs, np.ones(n_informative)
    )
    check_close(
        f"digits, {solver}: components_ up to sign",
        signs[:, None] * ours_axes,
        sk_digits.components_[:n_informative],
        atol=1e-9,
    )
    check_close(
        f"digits, {solver}: explained_variance_",
        ours.explained_variance_,
        sk_digits.explained_variance_,
        atol=1e-9,
    )
    check_close(
        f"digits, {solver}: explained_variance_ratio_",
        ours.explained_variance_ratio_,
        sk_digits.explained_variance_ratio_,
        atol=1e-12,
    )
    check_close(
        f"digits, {solver}: singular_values_ (non-zero)",
        ours.singular_values_[:n_informative],
        sk_digits.singular_values_[:n_informative],
        atol=1e-9,
    )
    check_close(
        f"digits, {solver}: transform up to sign",
        ours.transform(X_digits)[:, :n_informative] * signs,
        sk_scores,
        atol=1e-8,
    )
    check_close(f"digits, {solver}: mean_", ours.mean_, sk_digits.mean_, atol=1e-13)

# %% [markdown]
# The two solvers must also agree with each other, and each must invert itself. With all 64
# axes kept, `inverse_transform(transform(X))` is $X$ again.

# %%
svd_fit, eigh_fit = digits_fits["svd"], digits_fits["eigh"]
check_close(
    "digits: eigh vs svd axes (non-zero variance)",
    eigh_fit.components_[:n_informative],
    svd_fit.components_[:n_informative],
    atol=1e-9,
)
check_close(
    "digits: eigh vs svd eigenvalues",
    eigh_fit.explained_variance_,
    svd_fit.explained_variance_,
    atol=1e-9,
)
for solver, ours in digits_fits.items():
    check_close(
        f"digits, {solver}: inverse_transform(transform(X)) = X, all 64 axes",
        ours.inverse_transform(ours.transform(X_digits)),
        X_digits,
        atol=1e-10,
    )

# %% [markdown]
# The other parameters are checked the same way. `n_components=0.9` must pick the same $k$ as
# scikit-learn. With `whiten=True` the scores must match scikit-learn's and have identity
# covariance, and `inverse_transform` must match too.

# %%
ours_90 = PCA(n_components=0.9).fit(X_digits)
sk_90 = SklearnPCA(n_components=0.9, svd_solver="full").fit(X_digits)
check_equal("digits: k for 90 % of the variance", ours_90.n_components_, sk_90.n_components_)
print(f"90 % of the digits' variance needs k = {ours_90.n_components_} of 64 axes")

ours_white = PCA(n_components=20, whiten=True).fit(X_digits)
sk_white = SklearnPCA(n_components=20, whiten=True, svd_solver="full").fit(X_digits)
white_scores = ours_white.transform(X_digits)  # (n, 20)
check_close(
    "digits: whitened transform vs sklearn",
    white_scores,
    sk_white.transform(X_digits),
    atol=1e-9,
)
check_close(
    "digits: whitened scores have identity covariance",
    np.cov(white_scores, rowvar=False),
    np.eye(20),
    atol=1e-10,
)
check_close(
    "digits: whitened inverse_transform vs sklearn",
    ours_white.inverse_transform(white_scores),
    sk_white.inverse_transform(white_scores),
    atol=1e-9,
)

# %% [markdown]
# ### Inside a `Pipeline` and `cross_val_score`
#
# The wine data have 178 wines, 13 chemical measurements in different units, and 3
# cultivars. Standardise, keep 2 axes, and fit a logistic regression. The five fold scores
# must be the same with either PCA. `tests/unit/test_ml_08_estimators.py` also runs
# scikit-learn's estimator checks on the class.

# %%
wine = load_wine()
X_wine, y_wine = wine.data, wine.target  # (178, 13), 3 classes


def wine_pipeline_scores(pca: BaseEstimator, standardise: bool = True) -> np.ndarray:
    """Five-fold accuracies of [StandardScaler →] PCA → logistic regression on the wines."""
    steps = [StandardScaler()] if standardise else []
    pipeline = make_pipeline(*steps, pca, LogisticRegression(max_iter=2000))
    return cross_val_score(pipeline, X_wine, y_wine, cv=5)


check_close(
    "wine pipeline: fold accuracies, ours vs sklearn PCA",
    wine_pipeline_scores(PCA(n_components=2)),
    wine_pipeline_scores(SklearnPCA(n_components=2)),
    atol=1e-12,
)

# %% [markdown]
# ## Experiments
#
# ### 1. Explained variance and reconstruction error vs $k$
#
# For every $k$ from 0 to 64, fit `PCA(n_components=k)` on the digits, reconstruct with
# `inverse_transform(transform(X))`, and measure the squared error. {eq}`pca-eckart-young`
# predicts it exactly from the eigenvalues of one full fit. For comparison, the same error is
# computed for a random $k$-dimensional subspace through the mean, which should always do
# worse.

# %%
eigenvalues = svd_fit.explained_variance_  # (64,), from the full fit
n_samples = X_digits.shape[0]
centred_digits = X_digits - X_digits.mean(axis=0)  # (n, 64)
total_squared = np.sum(centred_digits**2)  # the error at k = 0
ks = np.arange(0, 65)
measured_error, random_error = [], []
for k in ks:
    pca_k = PCA(n_components=int(k)).fit(X_digits)
    reconstruction = pca_k.inverse_transform(pca_k.transform(X_digits))  # (n, 64)
    measured_error.append(np.sum((X_digits - reconstruction) ** 2))
    basis, _ = np.linalg.qr(rng.standard_normal((64, max(k, 1))))  # (64, k), orthonormal
    basis = basis[:, :k]
    residual = centred_digits - centred_digits @ basis @ basis.T  # (n, 64)
    random_error.append(np.sum(residual**2))
measured_error, random_error = np.array(measured_error), np.array(random_error)
predicted_error = (n_samples - 1) * np.array([eigenvalues[k:].sum() for k in ks])
check_close(
    "digits: ‖X - X̂_k‖² vs (n-1) Σ_{i>k} λ_i, for k = 0..64",
    measured_error,
    predicted_error,
    atol=1e-6,
    rtol=1e-9,
)
check_true(
    f"digits: PCA beats a random subspace at every 0 < k < {n_informative}",
    bool(np.all(measured_error[1:n_informative] < random_error[1:n_informative])),
    f"smallest ratio random / PCA "
    f"{np.min(random_error[1:n_informative] / measured_error[1:n_informative]):.2f}",
)

# %%
evr_full = svd_fit.explained_variance_ratio_  # (64,)
cumulative_evr = np.cumsum(evr_full)
k_for = {
    share: int(np.searchsorted(cumulative_evr, share, side="right")) + 1 for share in (0.9, 0.99)
}
print(f"EVR of the first axis: {evr_full[0]:.3f}; first 10 axes: {cumulative_evr[9]:.3f}")
print(f"k for 90 %: {k_for[0.9]}, for 99 %: {k_for[0.99]}")

fig, (ax_scree, ax_error) = plt.subplots(1, 2, figsize=(11, 4.2))
component_index = np.arange(1, 65)
ax_scree.bar(component_index, evr_full, color=PALETTE[0], label="EVR of axis $i$ (scree)")
ax_cumulative = ax_scree.twinx()
ax_cumulative.plot(component_index, cumulative_evr, color=PALETTE[1], label="cumulative EVR")
for share, style in ((0.9, "--"), (0.99, ":")):
    ax_cumulative.axhline(share, color="0.4", ls=style, lw=1)
    ax_cumulative.axvline(k_for[share], color="0.4", ls=style, lw=1)
    ax_cumulative.annotate(
        f"{share:.0%} at k = {k_for[share]}",
        (k_for[share], share),
        xytext=(4, -14),
        textcoords="offset points",
    )
ax_cumulative.set(ylim=(0, 1.05), ylabel="cumulative EVR")
ax_cumulative.grid(False)
ax_scree.set(xlabel="axis i", ylabel="explained-variance ratio", title="Scree and cumulative EVR")
handles = ax_scree.get_legend_handles_labels()[0] + ax_cumulative.get_legend_handles_labels()[0]
ax_scree.legend(handles=handles, loc="center right")
ax_error.semilogy(
    ks, measured_error / total_squared, "o", ms=3, color=PALETTE[0], label="PCA, measured"
)
ax_error.semilogy(
    ks,
    predicted_error / total_squared,
    "-",
    color="k",
    lw=1,
    label=r"$\Sigma_{i>k}\,\lambda_i\,/\,\mathrm{tr}\,C$ (eq. pca-eckart-young)",
)
ax_error.semilogy(ks, random_error / total_squared, "-", color=PALETTE[1], label="random subspace")
ax_error.set(
    xlabel="k (axes kept)",
    ylabel="squared error / error at k = 0",
    ylim=(1e-6, 1.5),
    title="Reconstruction error = discarded variance",
)
ax_error.legend(loc="lower left")
fig.suptitle(
    f"Digits: {k_for[0.9]} of 64 axes keep 90 % of the variance; "
    "the error left is exactly the discarded eigenvalues"
)
plt.show()

# %% [markdown]
# The measured points sit on the line {eq}`pca-eckart-young` at every $k$. The error of a
# random subspace falls roughly linearly in $k$, while PCA's falls fast because the
# eigenvalues decay fast: the cell above prints how few axes hold 90 % and 99 %. The error
# reaches zero at $k=61$, the number of non-zero eigenvalues. At $k=64$ it is rounding
# (below the plot's floor).
#
# What the error means in pixels: a few digits reconstructed from $k$ axes.

# %%
shown_ks = (1, 5, 10, k_for[0.9], 40)
shown_images = [int(np.flatnonzero(digits.target == label)[0]) for label in (0, 3, 5, 8)]
fig, axes = plt.subplots(
    len(shown_images), len(shown_ks) + 1, figsize=(8, 5.6), constrained_layout=False
)
for col, k in enumerate((*shown_ks, None)):
    if k is None:
        images, title = X_digits[shown_images], "original"
    else:
        pca_k = PCA(n_components=k).fit(X_digits)
        images = pca_k.inverse_transform(pca_k.transform(X_digits[shown_images]))
        share = pca_k.explained_variance_ratio_.sum()
        title = f"k = {k}\n({share:.0%} var.)"
    for row, image in enumerate(images):
        axes[row, col].imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        axes[row, col].set_axis_off()
    axes[0, col].set_title(title, fontsize=9, fontweight="normal")
fig.suptitle(f"Digits are readable from about k = 10 axes; at k = {k_for[0.9]} (90 %) nearly exact")
fig.subplots_adjust(top=0.84, wspace=0.05, hspace=0.05)
plt.show()

# %% [markdown]
# ### 2. Centring is required
#
# The notes' first step says "standardise". The part of it that is essential is subtracting
# the mean. To see what goes wrong without it, take an SVD of *uncentred* data, as in
# {eq}`pca-uncentred`. The first example is a 2-D cloud whose long axis is at 120° while its
# mean lies in a different direction. The second is the digits, whose mean image is far from
# the origin.

# %%
cloud_angle = np.deg2rad(120.0)
cloud_axes = np.array(
    [[np.cos(cloud_angle), np.sin(cloud_angle)], [-np.sin(cloud_angle), np.cos(cloud_angle)]]
)  # (2, 2): rows are the true axes
cloud_mean = np.array([8.0, 2.0])
cloud = cloud_mean + (rng.standard_normal((300, 2)) * np.array([2.0, 0.5])) @ cloud_axes  # (300, 2)


def uncentred_first_axis(X: np.ndarray) -> np.ndarray:
    """First right singular vector of X itself, no centring; sign: toward the mean."""
    first = np.linalg.svd(X, full_matrices=False)[2][0]  # (d,)
    return first if first @ X.mean(axis=0) >= 0 else -first


def abs_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)))


cloud_pc1 = PCA(n_components=1).fit(cloud).components_[0]  # (2,)
cloud_uncentred = uncentred_first_axis(cloud)  # (2,)
digits_uncentred = uncentred_first_axis(X_digits)  # (64,)
cloud_cov = np.cov(cloud, rowvar=False)
digits_cov = np.cov(X_digits, rowvar=False)
centring_rows = {
    "cloud": (cloud_pc1, cloud_uncentred, cloud.mean(0), cloud_cov),
    "digits": (svd_fit.components_[0], digits_uncentred, X_digits.mean(0), digits_cov),
}
for name, (pc1, uncentred, mean, cov) in centring_rows.items():
    kept = (uncentred @ cov @ uncentred) / (pc1 @ cov @ pc1)  # eq. (pca-projected-variance)
    print(
        f"{name:>6}: |cos(uncentred axis, mean)| = {abs_cosine(uncentred, mean):.3f}, "
        f"|cos(uncentred axis, PC1)| = {abs_cosine(uncentred, pc1):.3f}, "
        f"variance along it = {kept:.2f} of λ1"
    )
check_true(
    "uncentred first axis ≈ the mean direction (|cos| > 0.9) for both",
    abs_cosine(cloud_uncentred, cloud.mean(0)) > 0.9
    and abs_cosine(digits_uncentred, X_digits.mean(0)) > 0.9,
    f"cloud {abs_cosine(cloud_uncentred, cloud.mean(0)):.3f}, "
    f"digits {abs_cosine(digits_uncentred, X_digits.mean(0)):.3f}",
)
check_true(
    "cloud: the centred PC1 is the true long axis (|cos| > 0.99)",
    abs_cosine(cloud_pc1, cloud_axes[0]) > 0.99,
    f"|cos| = {abs_cosine(cloud_pc1, cloud_axes[0]):.4f}",
)

# %%
fig, ax = plt.subplots(figsize=(6.4, 4.6))
ax.scatter(*cloud.T, s=6, color="0.6", label="samples")
centre = cloud.mean(0)
for vector, colour, label in (
    (cloud_pc1, PALETTE[0], "PC1 of the centred data"),
    (cloud_uncentred, PALETTE[1], "first axis without centring"),
):
    for sign in (1, -1):
        ax.plot(
            *np.stack([centre, centre + sign * 6 * vector]).T,
            color=colour,
            lw=2.5,
            label=label if sign == 1 else None,
        )
ax.annotate("", xy=centre, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="k"))
ax.plot(0, 0, "k+", ms=10, label="origin → mean")
ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
ax.legend(loc="lower left")
uncentred_angle = np.degrees(np.arccos(abs_cosine(cloud_uncentred, cloud_pc1)))
ax.set_title(
    f"Without centring, the first axis points at the mean ({uncentred_angle:.0f}° off PC1)"
)
plt.show()

# %% [markdown]
# For the digits, the uncentred first axis is essentially the mean image, printed above as a
# cosine close to 1. The variance along it is a fraction of $\lambda_1$. The later uncentred
# axes are then forced to be orthogonal to the mean, which is not what the data need either.
# (Uncentred SVD is a legitimate tool, e.g. `TruncatedSVD` on sparse text counts, where
# centring would destroy sparsity. But it is not PCA.)
#
# ### 3. Standardising is a choice: wine vs digits
#
# The wine features have very different scales. Proline's values run into the hundreds and
# thousands, with a standard deviation in the hundreds, while most other features vary by less
# than one. Covariance PCA
# {eq}`pca-cov` and correlation PCA {eq}`pca-correlation` are compared on them.

# %%
feature_std = X_wine.std(axis=0, ddof=1)
covariance_pca = PCA().fit(X_wine)
correlation_pca = PCA().fit(StandardScaler().fit_transform(X_wine))
proline = wine.feature_names.index("proline")
print(
    f"proline's std: {feature_std[proline]:.0f}; median std of the others: "
    f"{np.median(np.delete(feature_std, proline)):.2f}"
)
print(
    f"share of total variance that is proline's: "
    f"{feature_std[proline] ** 2 / np.sum(feature_std**2):.4f}"
)
for name, pca in (("covariance", covariance_pca), ("correlation", correlation_pca)):
    loading = np.abs(pca.components_[0])
    print(
        f"{name:>11} PCA: EVR1 = {pca.explained_variance_ratio_[0]:.3f}, "
        f"|loading| of proline on PC1 = {loading[proline]:.4f}, "
        f"largest |loading| = {loading.max():.3f} ({wine.feature_names[loading.argmax()]})"
    )
check_true(
    "covariance PCA: PC1 is proline (|loading| > 0.999)",
    bool(abs(covariance_pca.components_[0, proline]) > 0.999),
    f"{abs(covariance_pca.components_[0, proline]):.5f}",
)
check_true(
    "correlation PCA: no feature dominates PC1 (all |loadings| < 0.5)",
    bool(np.abs(correlation_pca.components_[0]).max() < 0.5),
    f"max {np.abs(correlation_pca.components_[0]).max():.3f}",
)
unscaled_accuracy = wine_pipeline_scores(PCA(n_components=2), standardise=False).mean()
scaled_accuracy = wine_pipeline_scores(PCA(n_components=2), standardise=True).mean()
print(
    f"2 axes → logistic regression, 5-fold accuracy: covariance PCA {unscaled_accuracy:.3f}, "
    f"correlation PCA {scaled_accuracy:.3f}"
)

# %%
fig, (ax_loading, ax_cov, ax_corr) = plt.subplots(
    1, 3, figsize=(13, 4.2), gridspec_kw=dict(width_ratios=[1.3, 1, 1])
)
feature_index = np.arange(len(wine.feature_names))
short_names = [
    name.replace("od280/od315_of_diluted_wines", "OD280/OD315").replace("_", " ")
    for name in wine.feature_names
]
for offset, (name, pca, colour) in enumerate(
    (("covariance", covariance_pca, PALETTE[1]), ("correlation", correlation_pca, PALETTE[0]))
):
    ax_loading.barh(
        feature_index + 0.4 * offset - 0.2,
        np.abs(pca.components_[0]),
        height=0.4,
        color=colour,
        label=f"{name} PCA",
    )
ax_loading.set(yticks=feature_index, xlabel="|loading| on PC1", title="Who makes PC1")
ax_loading.set_yticklabels(short_names, fontsize=7.5)
ax_loading.invert_yaxis()
ax_loading.legend(loc="upper right")
for ax, name, pca, data in (
    (ax_cov, "covariance", covariance_pca, X_wine),
    (ax_corr, "correlation", correlation_pca, StandardScaler().fit_transform(X_wine)),
):
    scores = pca.transform(data)[:, :2]  # (178, 2)
    for label in range(3):
        ax.scatter(*scores[y_wine == label].T, s=8, color=PALETTE[label], label=f"cultivar {label}")
    evr = pca.explained_variance_ratio_
    ax.set(xlabel=f"PC1 ({evr[0]:.1%})", ylabel=f"PC2 ({evr[1]:.1%})", title=f"{name} PCA")
    ax.legend(loc="best", fontsize=8)
fig.suptitle(
    "Wine: covariance PCA's PC1 is proline alone "
    f"({covariance_pca.explained_variance_ratio_[0]:.1%} of the variance); "
    "standardised, PC1 mixes all 13 features and separates the cultivars"
)
plt.show()

# %% [markdown]
# On the wines, covariance PCA's first axis is the proline axis and explains almost all the
# variance. That is a statement about the units in which each feature happens to be recorded,
# not about the chemistry. After standardising, PC1 mixes many features, and two axes
# separate the three cultivars much better (the cross-validated accuracies are printed above).
#
# **When not to standardise.** When all features share one unit and their variances mean
# something, standardising throws that information away. Pixels are the standard case. A
# border pixel that is almost always blank has a tiny variance, mostly noise from the few
# images that touch it, and standardising inflates that noise to unit variance, as much as a
# central stroke pixel. The digits show the cost. Reconstruct from $k$ axes of each PCA
# (standardise → PCA → inverse → unstandardise for the correlation version) and measure the
# error in grey levels, which is what one cares about for images. By
# {eq}`pca-eckart-young`, covariance PCA is optimal for this error, and the question is by
# how much the other loses.

# %%
pixel_std = X_digits.std(axis=0)
scaler = StandardScaler().fit(X_digits)  # constant pixels keep scale 1
print(
    f"{int(np.sum((pixel_std > 0) & (pixel_std < 1)))} of 64 pixels have a std below one grey "
    f"level (of 16); standardising multiplies the smallest non-zero std, "
    f"{pixel_std[pixel_std > 0].min():.3f}, by {1 / pixel_std[pixel_std > 0].min():.0f}"
)
digits_correlation_pca = PCA().fit(scaler.transform(X_digits))
correlation_scores = digits_correlation_pca.transform(scaler.transform(X_digits))  # (n, 64)
covariance_scores = svd_fit.transform(X_digits)  # (n, 64)
pixel_error = {"covariance PCA": [], "correlation PCA": []}
for k in ks:
    cov_rec = covariance_scores[:, :k] @ svd_fit.components_[:k] + svd_fit.mean_
    corr_rec = scaler.inverse_transform(
        correlation_scores[:, :k] @ digits_correlation_pca.components_[:k]
        + digits_correlation_pca.mean_
    )
    pixel_error["covariance PCA"].append(np.mean((X_digits - cov_rec) ** 2))
    pixel_error["correlation PCA"].append(np.mean((X_digits - corr_rec) ** 2))
pixel_error = {name: np.array(errors) for name, errors in pixel_error.items()}
k_90 = ours_90.n_components_
excess = (
    pixel_error["correlation PCA"][1:n_informative] / pixel_error["covariance PCA"][1:n_informative]
)
check_true(
    "digits: standardising never lowers the pixel error (Eckart–Young), 1 ≤ k ≤ 60",
    bool(np.all(excess >= 1 - 1e-12)),
    f"ratio from {excess.min():.3f} to {excess.max():.2f}",
)
for k in (5, 10, 20):
    print(
        f"k = {k:>2}: mean squared pixel error covariance PCA "
        f"{pixel_error['covariance PCA'][k]:.2f}, correlation PCA "
        f"{pixel_error['correlation PCA'][k]:.2f} (grey levels²)"
    )

# %%
fig, ax = plt.subplots(figsize=(6.4, 4))
for (name, errors), colour in zip(pixel_error.items(), (PALETTE[0], PALETTE[1]), strict=True):
    ax.plot(ks, errors, color=colour, label=name)
ax.set(
    xlabel="k (axes kept)",
    ylabel="mean squared error (grey levels²)",
    xlim=(0, 64),
    title=f"On pixels, standardising costs {excess[k_90 - 1]:.1f}× the error at k = {k_90} (90 %)",
)
ax.legend()
plt.show()

# %% [markdown]
# ### 4. The SVD keeps the small eigenvalues, the covariance route loses them
#
# Build data whose singular values are known: $X_c=U\operatorname{diag}(s)V^\top$ with random
# orthonormal $U$ (its columns orthogonal to $\mathbf 1$, so the data are already centred) and
# $V$. The $s_i$ fall from 1 to $10^{-5}$ (times $\sqrt{n-1}$, so that $\lambda_1=1$), so
# $\lambda$ spans ten decades. Store the data in float32 and fit both solvers in float32. The
# reference is the SVD of the *same* float32 numbers, computed in float64. By
# {eq}`pca-svd-error` with float64's $\epsilon$, its own relative error is below $10^{-10}$, far
# below anything measured here. {eq}`pca-eigh-error` and
# {eq}`pca-svd-error` predict relative errors of about $\epsilon\lambda_1/\lambda_i$ and
# $\epsilon\sqrt{\lambda_1/\lambda_i}$.

# %%
n_tall, d_small = 2000, 11
random_centred = rng.standard_normal((n_tall, d_small))
random_centred -= random_centred.mean(axis=0)
left, _ = np.linalg.qr(random_centred)  # (n, d): orthonormal, orthogonal to the ones vector
right, _ = np.linalg.qr(rng.standard_normal((d_small, d_small)))  # (d, d)
designed_s = np.sqrt(n_tall - 1) * np.logspace(0, -5, d_small)  # κ(X_c) = 1e5
X32 = ((left * designed_s) @ right.T).astype(np.float32)  # (n, d), float32 data
X32_as64 = X32.astype(np.float64)
reference_eigenvalues = np.linalg.svd(X32_as64 - X32_as64.mean(0), compute_uv=False) ** 2 / (
    n_tall - 1
)
eps32 = float(np.finfo(np.float32).eps)


def relative_errors(fitted: BaseEstimator) -> np.ndarray:
    """|λ̂_i - λ_i| / λ_i against the float64 reference, (d,)."""
    estimate = fitted.explained_variance_.astype(np.float64)
    return np.abs(estimate - reference_eigenvalues) / reference_eigenvalues


float32_fits = {
    "ours, eigh": PCA(solver="eigh").fit(X32),
    "ours, SVD": PCA(solver="svd").fit(X32),
    "sklearn, covariance_eigh": SklearnPCA(svd_solver="covariance_eigh").fit(X32),
    "sklearn, full (SVD)": SklearnPCA(svd_solver="full").fit(X32),
}
float32_errors = {name: relative_errors(fit) for name, fit in float32_fits.items()}
check_equal("float32 in, float32 out", str(float32_fits["ours, eigh"].components_.dtype), "float32")
for name, errors in float32_errors.items():
    print(f"{name:>25}: relative error of λ_min {errors[-1]:.1e}, worst {errors.max():.1e}")
ratio = reference_eigenvalues[0] / reference_eigenvalues  # λ1 / λ_i, (d,)
check_true(
    "SVD: every λ within 10 ε √(λ1/λi)",
    bool(np.all(float32_errors["ours, SVD"] < 10 * eps32 * np.sqrt(ratio))),
    f"worst {np.max(float32_errors['ours, SVD'] / (eps32 * np.sqrt(ratio))):.2f} ε √(λ1/λi)",
)
far_below = ratio > 10 / eps32  # λ_i < ε λ1 / 10
check_true(
    "eigh: every λ below ε λ1 / 10 is off by more than 25 %",
    bool(np.all(float32_errors["ours, eigh"][far_below] > 0.25)),
    f"{int(far_below.sum())} such λ, errors "
    + ", ".join(f"{e:.2f}" for e in float32_errors["ours, eigh"][far_below]),
)

# %%
fig, ax = plt.subplots(figsize=(7, 4.3))
floor = 1e-9  # exact zeros would vanish on the log scale
styles = {
    "ours, eigh": (PALETTE[1], "o", "-"),
    "sklearn, covariance_eigh": (PALETTE[1], "x", ":"),
    "ours, SVD": (PALETTE[0], "o", "-"),
    "sklearn, full (SVD)": (PALETTE[0], "x", ":"),
}
for name, (colour, marker, line) in styles.items():
    ax.loglog(
        reference_eigenvalues,
        np.maximum(float32_errors[name], floor),
        marker=marker,
        ls=line,
        color=colour,
        label=name,
    )
ax.loglog(
    reference_eigenvalues,
    eps32 * ratio,
    color="0.5",
    lw=1,
    ls="--",
    label=r"$\epsilon\,\lambda_1/\lambda_i$ (eq. pca-eigh-error)",
)
ax.loglog(
    reference_eigenvalues,
    eps32 * np.sqrt(ratio),
    color="0.5",
    lw=1,
    ls="-.",
    label=r"$\epsilon\,\sqrt{\lambda_1/\lambda_i}$ (eq. pca-svd-error)",
)
ax.set(
    xlabel=r"true eigenvalue $\lambda_i$ ($\lambda_1 = 1$)",
    ylabel=r"relative error of $\hat\lambda_i$ (float32)",
    ylim=(floor / 2, 20),
    title=f"Forming XᵀX squares κ: eigh loses λ below ε λ1 ≈ {eps32:.0e}; the SVD keeps them",
)
ax.invert_xaxis()
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# The covariance route's error grows like $\epsilon\lambda_1/\lambda_i$ and is of order one
# near $\lambda_i\approx\epsilon\lambda_1$. Below that, the computed eigenvalue is rounding
# noise, often negative and then clipped to 0, a 100 % error. The SVD stays below
# $\epsilon\sqrt{\lambda_1/\lambda_i}$, several decades better. scikit-learn's two solvers
# behave like ours. Its `svd_solver="auto"` picks `covariance_eigh` for tall data, a good
# trade for speed when the trailing eigenvalues do not matter. In float64 the same cliff
# sits at $\lambda_i/\lambda_1\approx10^{-16}$, so it bites only with nearly collinear
# features or float32/float16 data, for example PCA on a GPU.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Step 1: standardise the data (mean 0, variance 1)." Is that right?
# Only half of it is required. Subtracting the mean is part of PCA: without it the first axis
# points at the mean (Experiment 2). Dividing by the standard deviation is a modelling choice,
# PCA on the correlation matrix {eq}`pca-correlation`. Do it when the features have unrelated
# units (the wines). Do not do it when they share a unit and their variances carry meaning
# (pixels, spectra, the same sensor on several channels), where it inflates noise in
# near-constant features (Experiment 3).
# :::
#
# :::{dropdown} Why are my components' signs different from my colleague's (or from last year's)?
# Eigenvectors are defined up to sign, and which sign an SVD returns depends on the LAPACK
# build, the solver and the library version. scikit-learn fixes it with `svd_flip`, and
# changed the rule in version 1.5. Compare components up to sign (align, then compare, as the
# Verification does), and never read meaning into the sign of a loading alone. Only relative
# signs within one component mean something.
# :::
#
# :::{dropdown} How do I choose $k$?
# Common rules: the smallest $k$ whose cumulative EVR passes a threshold, e.g. 90 % or 99 %
# (`n_components=0.9`, used in the Verification). The elbow of the scree plot. For
# compression, a target reconstruction error, which {eq}`pca-eckart-young` turns into an
# eigenvalue sum. When PCA feeds a model, cross-validate $k$ as a hyperparameter of the
# pipeline. scikit-learn's `n_components="mle"` picks $k$ by the likelihood of probabilistic
# PCA. There is no universal threshold: 90 % of the digits' variance is a different thing
# from 90 % of a dataset with heavy noise.
# :::
#
# :::{dropdown} Is PCA a feature-selection method?
# No. Every component is a linear combination of *all* the original features, so keeping $k$
# components still needs every feature at prediction time. The loadings say which features
# build a component, and that depends on their scale (wine's proline). To drop features, use
# feature selection (L1 penalties, mutual information, permutation importance), or sparse PCA
# if you want components with few non-zero loadings.
# :::
#
# :::{dropdown} Does the highest-variance direction carry the most information?
# Not necessarily. Variance is unit-dependent, and the direction that separates classes can
# have *small* variance. PCA ignores labels. Its justification is optimal reconstruction
# {eq}`pca-eckart-young`, not class separation. The next chapter (09, PCA vs LDA) builds a
# dataset where PC1 carries no class information at all and Fisher's LDA finds the
# direction that does.
# :::
#
# :::{dropdown} PCA is linear. What if the structure is curved?
# PCA can only find a flat subspace. Points on a circle or a Swiss roll need as many axes as
# the space they sit in, even though they are intrinsically 1- or 2-dimensional. Kernel PCA
# (PCA in a feature space given by a kernel), autoencoders, Isomap, t-SNE and UMAP handle
# curved structure. The last two are for visualisation only, since they have no reliable
# `transform` for new points.
# :::
#
# :::{dropdown} How sensitive is PCA to outliers?
# Very. Squared error lets one far point pull the axes toward it. The cell below has 200
# points stretched along $x_1$ (standard deviations 3 and 1) and adds a single point at
# $(0,60)$. It prints how far PC1 turns. Robust alternatives: robust PCA (a low-rank plus
# sparse decomposition), PCA on a robust covariance estimate (e.g. minimum covariance
# determinant), or removing outliers first.
# :::

# %%
stretched = rng.standard_normal((200, 2)) * np.array([3.0, 1.0])  # (200, 2)
with_outlier = np.vstack([stretched, [[0.0, 60.0]]])  # (201, 2)
clean_axis = PCA(n_components=1).fit(stretched).components_[0]
outlier_axis = PCA(n_components=1).fit(with_outlier).components_[0]
turn = np.degrees(np.arccos(abs_cosine(clean_axis, outlier_axis)))
check_true("one outlier of 201 points turns PC1 by more than 45°", bool(turn > 45), f"{turn:.0f}°")

# %% [markdown]
# :::{dropdown} What does whitening do, and when does it hurt?
# `whiten=True` divides each score by $\sqrt{\lambda_i}$ {eq}`pca-whiten`, so the scores have
# identity covariance (checked in the Verification). That helps models that assume
# comparable, uncorrelated inputs, e.g. ICA or $k$-means on isotropic clusters. It also
# blows up the low-variance axes, which are often mostly noise. Whitening with many
# components amplifies noise, so keep $k$ small or add a small constant to $\lambda_i$
# before dividing (common in ZCA whitening of images). `inverse_transform` undoes it.
# :::
#
# :::{dropdown} What if $d$ is much larger than $n$ (e.g. 100 images of $10^4$ pixels)?
# After centring, the data span at most $n-1$ dimensions, so at most $n-1$ eigenvalues are
# non-zero (the exercise below checks this). Do not form the $d\times d$ covariance: the thin
# SVD of the $n\times d$ matrix costs $O(n^2d)$. For large data, randomised SVD
# (`svd_solver="randomized"`) computes only the top $k$, and `IncrementalPCA` processes the
# data in batches.
# :::
#
# :::{dropdown} Where does data leakage hide in PCA?
# In fitting PCA, or the scaler before it, on the full dataset before splitting. The test
# set's variance then shapes the axes. Put scaler and PCA inside the `Pipeline`, as in the
# Verification, so that each fold fits them on its training part only.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. For the four toy points $(2,0),(0,1),(-2,0),(0,-1)$, keep one axis and reconstruct. What
#    is the total squared reconstruction error, by hand and by {eq}`pca-eckart-young`?
#
#    :::{dropdown} Answer
#    PC1 is the $x_1$ axis, so each reconstruction keeps $x_1$ and sets $x_2=0$. The two
#    points $(0,\pm1)$ lose 1 each and the others lose nothing, for a total of 2. The formula
#    gives $(n-1)\lambda_2=3\cdot\tfrac23=2$. The next cell checks both.
#    :::

# %%
toy_k1 = PCA(n_components=1).fit(toy)
toy_error = np.sum((toy - toy_k1.inverse_transform(toy_k1.transform(toy))) ** 2)
check_close("exercise 1: toy error at k = 1 vs (n-1) λ2 = 2", toy_error, 3 * (2 / 3), atol=1e-14)

# %% [markdown]
# 2. You re-express one wine feature in units ten times smaller, so its values are multiplied
#    by 10. What changes in covariance PCA, and what in correlation PCA?
#
#    :::{dropdown} Answer
#    Covariance PCA changes: that feature's variance grows 100-fold, so it gains weight in
#    every axis and the EVR shifts. Correlation PCA does not change at all, because
#    standardising divides the factor 10 out again. The next cell checks both on the
#    magnesium feature.
#    :::

# %%
magnesium = wine.feature_names.index("magnesium")
rescaled_wine = X_wine.copy()
rescaled_wine[:, magnesium] *= 10
rescaled_correlation = PCA().fit(StandardScaler().fit_transform(rescaled_wine))
check_close(
    "exercise 2: correlation-PCA EVR unchanged by a unit change",
    rescaled_correlation.explained_variance_ratio_,
    correlation_pca.explained_variance_ratio_,
    atol=1e-12,
)
covariance_shift = np.abs(
    PCA().fit(rescaled_wine).explained_variance_ratio_ - covariance_pca.explained_variance_ratio_
).max()
check_true(
    "exercise 2: covariance-PCA EVR does change",
    bool(covariance_shift > 0.01),
    f"largest change {covariance_shift:.3f}",
)

# %% [markdown]
# 3. You have $n=20$ samples with $d=500$ features. How many eigenvalues of the covariance
#    can be non-zero, and which solver would you use?
#
#    :::{dropdown} Answer
#    At most $n-1=19$. The centred rows sum to zero, so they span at most 19 dimensions. The
#    thin SVD of the $20\times500$ matrix is cheap, whereas the covariance route would build
#    and diagonalise a $500\times500$ matrix of rank 19. The next cell counts the non-zero
#    eigenvalues of random data.
#    :::

# %%
wide = rng.standard_normal((20, 500))  # (n, d) with d ≫ n
wide_eigenvalues = PCA(solver="eigh").fit(wide).explained_variance_  # (20,)
n_nonzero = int(np.sum(wide_eigenvalues > 1e-10 * wide_eigenvalues[0]))
check_equal("exercise 3: non-zero eigenvalues for n = 20, d = 500", n_nonzero, 19)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`pearson1901lines`: PCA as the line and plane of closest fit (minimum
#   reconstruction error).
# - {cite:t}`hotelling1933analysis`: PCA as successive directions of maximum variance, the
#   eigenvectors of the covariance (correlation) matrix.
# - {cite:t}`eckart1936approximation`: the best rank-$k$ approximation in Frobenius norm is
#   the truncated SVD, {eq}`pca-eckart-young`.
# - {cite:t}`jolliffe2016review`: Sections 2–3, covariance vs correlation PCA and when each
#   is appropriate, choosing $k$, and the SVD formulation.
# - {cite:t}`golub2013matrix`: Sections 8.1 and 8.6, perturbation of symmetric eigenvalues
#   (Weyl) and the computation of the SVD without forming $X^\top X$, behind
#   {eq}`pca-eigh-error` and {eq}`pca-svd-error`.
# - {cite:t}`sklearn2025pca`: the `PCA` attributes, the `svd_solver` choices (`"auto"`,
#   `"full"`, `"covariance_eigh"`), the `svd_flip` sign rule and `whiten`, against which the
#   from-scratch class is checked.

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
# # 09. PCA vs LDA
#
# **The question.** What is the difference between PCA and LDA (Fisher's linear discriminant
# analysis)? (The notes' question 9.)
#
# **What you will be able to answer.** What each method optimises and why the top-variance
# direction can carry no class information, how LDA is computed (a generalised eigenproblem,
# not an eigendecomposition of a scatter matrix), why LDA gives at most $C-1$ axes and why
# they are not orthogonal, and when LDA's assumptions fail.

# %%
import numbers

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
from scipy.special import softmax
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.datasets import load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# PCA and LDA both project data onto a few linear axes, but they answer different questions.
# PCA ignores the labels and keeps the directions of largest variance. LDA uses the labels
# and keeps the directions along which the class means are far apart *relative to* the spread
# inside each class.
#
# - **PCA** maximises $w^\top Cw$ over unit $w$: the top eigenvectors of the covariance
#   (chapter 08). Its justification is optimal reconstruction: the top $k$ axes give the
#   smallest squared error of any rank-$k$ linear approximation. It gives at most
#   $\min(n-1,d)$ non-trivial axes, and they are orthonormal.
# - **LDA** maximises Fisher's criterion
#   $J(w)=\dfrac{w^\top S_Bw}{w^\top S_Ww}$ (between-class over within-class scatter). The
#   optimal axes solve the **generalised** eigenproblem $S_Bw=\lambda S_Ww$, i.e. they are
#   eigenvectors of $S_W^{-1}S_B$. For two classes $w^\star\propto S_W^{-1}(\mu_1-\mu_0)$.
# - **At most $\min(C-1,d)$ LDA axes**, because $S_B$ is a sum of $C$ rank-one terms whose
#   vectors sum to zero, so $\operatorname{rank}S_B\le C-1$. The LDA axes are orthogonal in
#   the $S_W$ inner product, $w_i^\top S_Ww_j=0$, **not** in the Euclidean one.
# - **Corrections to the notes.** "High variance means more distinguishing information" is
#   false. Variance depends on units, and the direction that separates the classes can have
#   tiny variance. Below, PC1 of a two-class dataset classifies at chance while Fisher's
#   direction is almost perfect. LDA does not take "the eigenvectors of the scatter matrices":
#   it solves $S_Bw=\lambda S_Ww$, whose solutions are in general not orthogonal.
# - LDA is also a classifier: it is the Bayes rule for Gaussian classes with one shared
#   covariance, and it is optimal only under that assumption.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | scikit-learn (`LinearDiscriminantAnalysis`) |
# |---|---|---|
# | $x_i\in\mathbb R^d$, $y_i\in\{1,\dots,C\}$ | sample $i$ and its class | `X`, `y` |
# | $n_c$, $\pi_c=n_c/n$ | class size and empirical prior | `priors_` |
# | $\mu_c$, $\mu$ | class means and overall mean | `means_`, `xbar_` |
# | $S_W$ | within-class scatter, $d\times d$ | $n\cdot$`covariance_` |
# | $S_B$ | between-class scatter, $d\times d$ | |
# | $w_1,\dots,w_{C-1}$ | discriminant axes, as columns of $W$ | `scalings_` |
#
# ### The scatter matrices
#
# The within-class scatter sums squared deviations from each sample's own class mean, and the
# between-class scatter treats every class mean as $n_c$ points:
#
# $$
# S_W=\sum_{c=1}^{C}\sum_{i:\,y_i=c}(x_i-\mu_c)(x_i-\mu_c)^\top,\qquad
# S_B=\sum_{c=1}^{C}n_c(\mu_c-\mu)(\mu_c-\mu)^\top .
# $$ (lda-scatter)
#
# They add up to the total scatter $S_T=\sum_i(x_i-\mu)(x_i-\mu)^\top=S_W+S_B$: write
# $x_i-\mu=(x_i-\mu_c)+(\mu_c-\mu)$ and note that the cross terms vanish because the
# deviations from a class mean sum to zero within the class.
#
# **Rank.** $S_B$ is a sum of $C$ rank-one matrices built from the vectors $\mu_c-\mu$. These
# satisfy $\sum_c n_c(\mu_c-\mu)=0$, so they span at most $C-1$ dimensions:
#
# $$
# \operatorname{rank}S_B\le\min(C-1,\,d) .
# $$ (lda-rank)
#
# ### Fisher's criterion
#
# Project every sample onto a direction $w$, $t_i=w^\top x_i$. The projected class means are
# $w^\top\mu_c$, so $w^\top S_Bw$ measures how far apart they are, and $w^\top S_Ww$ measures
# how wide each class is along $w$. {cite:t}`fisher1936use` asked for the direction that
# maximises their ratio:
#
# $$
# J(w)=\frac{w^\top S_Bw}{w^\top S_Ww} .
# $$ (lda-fisher)
#
# $J$ does not change when $w$ is scaled, so only directions matter. Setting the gradient to
# zero, $\nabla J=\frac{2}{w^\top S_Ww}\big(S_Bw-J(w)\,S_Ww\big)=0$, gives
#
# $$
# S_Bw=\lambda S_Ww,\qquad\lambda=J(w) .
# $$ (lda-geneig)
#
# This is a **generalised** symmetric-definite eigenproblem: $S_B$ is symmetric and $S_W$ is
# symmetric positive definite when the data are not degenerate. When $S_W$ is invertible it is
# the same as $S_W^{-1}S_Bw=\lambda w$, but $S_W^{-1}S_B$ is not symmetric, so it is better
# not to form it. `scipy.linalg.eigh(S_B, S_W)` solves {eq}`lda-geneig` directly through a
# Cholesky factor $S_W=LL^\top$: with $u=L^\top w$ it becomes the ordinary symmetric problem
# $L^{-1}S_BL^{-\top}u=\lambda u$, whose eigenvectors $u$ are orthonormal. It returns real
# eigenvalues $\lambda_1\ge\lambda_2\ge\dots\ge0$ and eigenvectors normalised so that
#
# $$
# W^\top S_WW=I .
# $$ (lda-normalisation)
#
# Every eigenvalue is the value of $J$ at its eigenvector, so the best axis is $w_1$, the next
# best axis that is $S_W$-orthogonal to it is $w_2$, and so on. By {eq}`lda-rank` at most
# $C-1$ eigenvalues are non-zero; the other eigenvectors have $w^\top S_Bw=0$ and carry no
# class separation. That is why LDA gives at most $\min(C-1,d)$ useful axes, whereas PCA gives
# up to $\min(n-1,d)$.
#
# **Not orthogonal.** {eq}`lda-normalisation` says the axes are orthogonal in the inner
# product $\langle a,b\rangle=a^\top S_Wb$. In the ordinary sense, $w_1^\top w_2\ne0$ in
# general: only when $S_W\propto I$ do the two notions agree. LDA's "explained variance ratio"
# is the share of the eigenvalues, $\lambda_i/\sum_j\lambda_j$: a share of between-class
# separation, not of variance.
#
# ### Two classes: a closed form
#
# With $C=2$, $\mu_c-\mu=\pi_{1-c}(\mu_c-\mu_{1-c})$, so $S_B=\frac{n_0n_1}{n}(\mu_1-\mu_0)
# (\mu_1-\mu_0)^\top$ and $S_Bw$ always points along $\mu_1-\mu_0$. {eq}`lda-geneig` then
# gives
#
# $$
# w^\star\propto S_W^{-1}(\mu_1-\mu_0) .
# $$ (lda-two-class)
#
# This is *not* $\mu_1-\mu_0$: $S_W^{-1}$ turns the direction away from the axes along which
# the classes are wide. The counterexample in the Experiments is the extreme case.
#
# ### LDA as a classifier
#
# Assume each class is Gaussian, $x\mid y=c\sim\mathcal N(\mu_c,\Sigma)$, with **one** shared
# covariance $\Sigma$. By Bayes' rule, the log posterior is, up to a term that is the same for
# all classes,
#
# $$
# \log p(y=c\mid x)=-\tfrac12(x-\mu_c)^\top\Sigma^{-1}(x-\mu_c)+\log\pi_c+\text{const}(x) .
# $$ (lda-gaussian)
#
# The quadratic term $x^\top\Sigma^{-1}x$ is the same for every class, so the decision
# boundaries are linear. Estimate $\Sigma$ by the pooled covariance $\hat\Sigma=S_W/n$ and
# take $W$ to be all $d$ generalised eigenvectors of $(S_B/n,\hat\Sigma)$. By
# {eq}`lda-normalisation`, $W^\top\hat\Sigma W=I$, so $WW^\top=\hat\Sigma^{-1}$ and the
# Mahalanobis distance is a Euclidean distance in the discriminant coordinates:
#
# $$
# (x-\mu_c)^\top\hat\Sigma^{-1}(x-\mu_c)=\lVert W^\top(x-\mu_c)\rVert^2 .
# $$ (lda-nearest-mean)
#
# The coordinates beyond the first $C-1$ have $w^\top(\mu_c-\mu)=0$ for every class, so they
# add the same amount to every class's distance and can be dropped. **The Gaussian
# shared-covariance classifier is therefore the nearest class mean in the $(C-1)$-dimensional
# discriminant space, with a $\log\pi_c$ bonus.** The class below predicts that way, and the
# Verification checks that it matches scikit-learn's classifier (which uses the Gaussian
# form) exactly.

# %% [markdown]
# ## Implementation from scratch
#
# First the two scatter matrices {eq}`lda-scatter`, with one pass over the classes.


# %%
def scatter_matrices(
    X: np.ndarray, class_index: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class means (C, d), within-class scatter S_W (d, d) and between-class scatter S_B (d, d).

    `class_index` holds integer labels 0..C-1, one per row of X (n, d).
    """
    overall_mean = X.mean(axis=0)  # μ, (d,)
    n_features = X.shape[1]
    class_means = np.zeros((n_classes, n_features))  # (C, d)
    within = np.zeros((n_features, n_features))  # S_W, (d, d)
    between = np.zeros((n_features, n_features))  # S_B, (d, d)
    for c in range(n_classes):
        members = X[class_index == c]  # (n_c, d)
        class_means[c] = members.mean(axis=0)
        deviations = members - class_means[c]  # (n_c, d)
        within += deviations.T @ deviations  # eq. (lda-scatter), S_W
        gap = class_means[c] - overall_mean  # (d,)
        between += len(members) * np.outer(gap, gap)  # eq. (lda-scatter), S_B
    return class_means, within, between


def fisher_criterion(w: np.ndarray, within: np.ndarray, between: np.ndarray) -> np.ndarray:
    """J(w) = wᵀS_Bw / wᵀS_Ww for one direction (d,) or many directions as columns (d, m)."""
    w = w.reshape(len(w), -1)  # (d, m)
    numerator = np.einsum("dm,de,em->m", w, between, w)  # wᵀ S_B w, (m,)
    denominator = np.einsum("dm,de,em->m", w, within, w)  # wᵀ S_W w, (m,)
    return numerator / denominator  # eq. (lda-fisher)


# %% [markdown]
# The estimator follows scikit-learn's API and is a classifier and a transformer at once, as
# `LinearDiscriminantAnalysis` is. Its scatter matrices are divided by $n$ so that the axes
# have scikit-learn's normalisation: {eq}`lda-normalisation` with $S_W/n$, i.e. the projected
# data have identity within-class covariance. `transform` centres with the overall mean and
# projects onto the first `n_components_` axes. `predict` is the nearest class mean in the full
# $(C-1)$-dimensional discriminant space plus $\log\pi_c$, {eq}`lda-nearest-mean`, which is the
# Gaussian shared-covariance rule {eq}`lda-gaussian`. Asking for more than $\min(C-1,d)$
# components **raises** a `ValueError` in `fit`, as scikit-learn does. `shrinkage=α` replaces
# $\hat\Sigma$ by $(1-\alpha)\hat\Sigma+\alpha\frac{\operatorname{tr}\hat\Sigma}{d}I$, which
# makes it invertible when $d\ge n$ (see the Pitfalls).


# %%
class FisherLDA(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Fisher's linear discriminant analysis by the generalised eigenproblem S_B w = λ S_W w.

    Parameters
    ----------
    n_components : int or None, default None
        Axes returned by `transform`, at most min(n_classes - 1, n_features); None keeps all.
    shrinkage : float in [0, 1] or None, default None
        Shrink the pooled within-class covariance toward a multiple of the identity.

    Attributes
    ----------
    classes_ : (C,), priors_ : (C,), means_ : (C, d), xbar_ : (d,)
    scalings_ : (d, min(C - 1, d)), discriminant axes as columns, sorted by eigenvalue,
        normalised so that scalings_.T @ (pooled within-class covariance) @ scalings_ = I
    eigenvalues_ : (min(C - 1, d),), J at each axis, computed with S_B / n and S_W / n
    explained_variance_ratio_ : (n_components_,), eigenvalue shares
    n_components_ : int
    """

    def __init__(self, n_components: int | None = None, shrinkage: float | None = None) -> None:
        self.n_components = n_components
        self.shrinkage = shrinkage

    def fit(self, X: np.ndarray, y: np.ndarray) -> "FisherLDA":
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, class_index = np.unique(y, return_inverse=True)
        n_samples, n_features = X.shape
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("LDA needs at least 2 classes; y has 1 class")
        max_components = min(n_classes - 1, n_features)  # eq. (lda-rank)
        if self.n_components is None:
            self.n_components_ = max_components
        elif (
            isinstance(self.n_components, numbers.Integral)
            and 1 <= self.n_components <= max_components
        ):
            self.n_components_ = int(self.n_components)
        else:
            raise ValueError(
                f"n_components={self.n_components!r} cannot be larger than "
                f"min(n_features, n_classes - 1) = {max_components}"
            )
        class_means, within, between = scatter_matrices(X, class_index, n_classes)
        pooled_covariance = within / n_samples  # Σ̂ = S_W / n, (d, d)
        if self.shrinkage is not None:
            alpha = float(self.shrinkage)
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"shrinkage must lie in [0, 1], got {self.shrinkage!r}")
            target = np.trace(pooled_covariance) / n_features * np.eye(n_features)
            pooled_covariance = (1 - alpha) * pooled_covariance + alpha * target
        try:  # eq. (lda-geneig); eigh also normalises as in eq. (lda-normalisation)
            eigenvalues, axes = scipy.linalg.eigh(between / n_samples, pooled_covariance)
        except np.linalg.LinAlgError as error:
            raise ValueError(
                "the within-class covariance is singular (e.g. n_features >= n_samples); "
                "set shrinkage"
            ) from error
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, axes = eigenvalues[order], axes[:, order]  # (d,), (d, d): sorted
        largest = np.argmax(np.abs(axes), axis=0)  # sign rule: largest entry positive
        axes = axes * np.sign(axes[largest, np.arange(n_features)])
        self.priors_ = np.bincount(class_index, minlength=n_classes) / n_samples
        self.means_ = class_means
        self.xbar_ = X.mean(axis=0)
        self.scalings_ = axes[:, :max_components]  # (d, C-1)
        self.eigenvalues_ = eigenvalues[:max_components]
        total = eigenvalues.sum()
        self.explained_variance_ratio_ = (eigenvalues / total)[: self.n_components_]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return (X - self.xbar_) @ self.scalings_[:, : self.n_components_]  # (n, k)

    def _log_posterior_unnormalised(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        projected = X @ self.scalings_  # (n, C-1)
        projected_means = self.means_ @ self.scalings_  # (C, C-1)
        gaps = projected[:, None, :] - projected_means[None, :, :]  # (n, C, C-1)
        squared_distances = np.sum(gaps**2, axis=2)  # eq. (lda-nearest-mean), (n, C)
        return -0.5 * squared_distances + np.log(self.priors_)  # eq. (lda-gaussian)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self._log_posterior_unnormalised(X), axis=1)  # (n, C)

    def predict(self, X: np.ndarray) -> np.ndarray:
        scores = self._log_posterior_unnormalised(X)  # checks that the model is fitted first
        return self.classes_[np.argmax(scores, axis=1)]

    @property
    def _n_features_out(self) -> int:
        return self.n_components_


# %% [markdown]
# ## Verification
#
# ### Against `LinearDiscriminantAnalysis` on wine and iris
#
# Both solvers of scikit-learn are compared: `"eigen"` solves the same generalised
# eigenproblem, and `"svd"` (the default) reaches the same axes by two SVDs without forming
# $S_W$. Each axis is defined up to sign, so the signs are aligned before comparing. The
# `"eigen"` solver does not centre in `transform`, so its projections are centred first. Both
# normalise the axes so that the projected within-class covariance is the identity, which
# {eq}`lda-normalisation` with $\hat\Sigma=S_W/n$ gives too, so the projections must agree
# exactly, not only up to scale. Predictions, posterior probabilities and
# `explained_variance_ratio_` are compared as well.

# %%
datasets = {"wine": load_wine(return_X_y=True), "iris": load_iris(return_X_y=True)}
for name, (X_data, y_data) in datasets.items():
    ours = FisherLDA().fit(X_data, y_data)
    ours_projection = ours.transform(X_data)  # (n, C-1)
    for solver in ("eigen", "svd"):
        reference = LinearDiscriminantAnalysis(solver=solver).fit(X_data, y_data)
        reference_projection = reference.transform(X_data)
        reference_projection -= reference_projection.mean(axis=0)  # "eigen" does not centre
        signs = np.sign(np.sum(ours_projection * reference_projection, axis=0))  # (C-1,)
        check_close(
            f"{name}, solver={solver}: transform up to sign per axis",
            ours_projection * signs,
            reference_projection,
            atol=1e-10,
        )
        check_equal(
            f"{name}, solver={solver}: predict", ours.predict(X_data), reference.predict(X_data)
        )
        check_close(
            f"{name}, solver={solver}: predict_proba",
            ours.predict_proba(X_data),
            reference.predict_proba(X_data),
            atol=1e-10,
        )
        check_close(
            f"{name}, solver={solver}: explained_variance_ratio_",
            ours.explained_variance_ratio_,
            reference.explained_variance_ratio_,
            atol=1e-12,
        )

# %% [markdown]
# The axes must also solve {eq}`lda-geneig` and satisfy {eq}`lda-normalisation`, with each
# eigenvalue equal to $J$ at its axis {eq}`lda-fisher`.

# %%
X_wine, y_wine = datasets["wine"]
wine_lda = FisherLDA().fit(X_wine, y_wine)
_, wine_within, wine_between = scatter_matrices(X_wine, y_wine, 3)
n_wine = len(X_wine)
residual = wine_between @ wine_lda.scalings_ - wine_within @ wine_lda.scalings_ * (
    wine_lda.eigenvalues_
)  # S_B W - S_W W Λ, (d, C-1)
check_close("wine: S_B w = λ S_W w", residual, np.zeros_like(residual), atol=1e-8)
check_close(
    "wine: Wᵀ (S_W / n) W = I",
    wine_lda.scalings_.T @ (wine_within / n_wine) @ wine_lda.scalings_,
    np.eye(2),
    atol=1e-10,
)
check_close(
    "wine: J(w_i) = λ_i",
    fisher_criterion(wine_lda.scalings_, wine_within, wine_between),
    wine_lda.eigenvalues_,
    atol=1e-10,
)

# %% [markdown]
# ### Two classes: the closed form and the maximum of $J$
#
# Keep two wine classes. The eigen solution must point along $S_W^{-1}(\mu_1-\mu_0)$
# {eq}`lda-two-class` (both are normalised to unit length and sign-aligned), and $J$ there
# must beat $J$ at every one of 2000 random directions.

# %%
two_classes = y_wine < 2
X_two, y_two = X_wine[two_classes], y_wine[two_classes]  # (130, 13)
two_lda = FisherLDA().fit(X_two, y_two)
two_means, two_within, two_between = scatter_matrices(X_two, y_two, 2)
closed_form = np.linalg.solve(two_within, two_means[1] - two_means[0])  # eq. (lda-two-class)
closed_form /= np.linalg.norm(closed_form)
eigen_axis = two_lda.scalings_[:, 0] / np.linalg.norm(two_lda.scalings_[:, 0])
eigen_axis *= np.sign(eigen_axis @ closed_form)
check_close(
    "two classes: eigen axis vs S_W⁻¹(μ1 - μ0), unit norm", eigen_axis, closed_form, atol=1e-8
)
random_directions = rng.standard_normal((X_two.shape[1], 2000))  # (d, 2000)
j_random = fisher_criterion(random_directions, two_within, two_between)  # (2000,)
j_best = fisher_criterion(closed_form, two_within, two_between)[0]
check_true(
    "two classes: J(w*) ≥ J at 2000 random directions",
    bool(j_best >= j_random.max()),
    f"J(w*) = {j_best:.3f}, best random {j_random.max():.3f}, median {np.median(j_random):.4f}",
)

# %% [markdown]
# ### At most $C-1$ components
#
# Three Gaussian classes in 10 dimensions: $S_B$ has rank 2 {eq}`lda-rank`, so LDA returns
# two axes, although the data have ten. Asking for three raises a `ValueError` in both
# implementations (scikit-learn raises; it does not clip).

# %%
n_per_class, d_ten = 100, 10
centres_ten = 2.0 * rng.standard_normal((3, d_ten))  # (3, 10)
X_ten = np.vstack([centre + rng.standard_normal((n_per_class, d_ten)) for centre in centres_ten])
y_ten = np.repeat(np.arange(3), n_per_class)  # (300,)
ten_lda = FisherLDA().fit(X_ten, y_ten)
_, _, ten_between = scatter_matrices(X_ten, y_ten, 3)
check_equal("3 classes in 10-D: rank S_B", np.linalg.matrix_rank(ten_between), 2)
check_equal("3 classes in 10-D: n_components_", ten_lda.n_components_, 2)
check_equal("3 classes in 10-D: transform shape", ten_lda.transform(X_ten).shape, (300, 2))
raised = {}
for name, too_many in {
    "ours": FisherLDA(n_components=3),
    "sklearn": LinearDiscriminantAnalysis(n_components=3),
}.items():
    try:
        too_many.fit(X_ten, y_ten)
        raised[name] = False
    except ValueError:
        raised[name] = True
check_true(
    "n_components=3 raises ValueError in ours and sklearn", all(raised.values()), str(raised)
)

# %% [markdown]
# ## Experiments
#
# ### 1. The top-variance direction can carry no class information
#
# Two classes of 500 points each. Both have $x_1\sim\mathcal N(0,10^2)$, and they differ only
# in $x_2$: $\mathcal N(0,0.3^2)$ against $\mathcal N(1.5,0.3^2)$. Almost all the variance is
# along $x_1$, so PC1 is the $x_1$ axis, which says nothing about the class. Fisher's direction
# weighs the spread of the classes and picks $x_2$. Each direction is turned into a 1-D
# classifier by thresholding the projection halfway between the two projected class means,
# and scored on a fresh test sample from the same distribution.


# %%
def draw_two_stripes(n_each: int) -> tuple[np.ndarray, np.ndarray]:
    """The errata's counterexample: the classes differ only along the low-variance axis x2."""
    x1 = 10.0 * rng.standard_normal(2 * n_each)  # same for both classes
    x2 = 0.3 * rng.standard_normal(2 * n_each) + np.repeat([0.0, 1.5], n_each)
    return np.column_stack([x1, x2]), np.repeat([0, 1], n_each)


def midpoint_threshold_accuracy(
    direction: np.ndarray, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test
) -> float:
    """Project on `direction`, threshold halfway between the projected class means."""
    mean0 = (X_train[y_train == 0] @ direction).mean()
    mean1 = (X_train[y_train == 1] @ direction).mean()
    predicted = np.abs(X_test @ direction - mean1) < np.abs(X_test @ direction - mean0)
    return float(np.mean(predicted.astype(int) == y_test))


X_stripes, y_stripes = draw_two_stripes(500)
X_stripes_test, y_stripes_test = draw_two_stripes(500)
pc1 = PCA(n_components=1).fit(X_stripes).components_[0]
pc1 *= np.sign(pc1[0])
fisher_direction = FisherLDA().fit(X_stripes, y_stripes).scalings_[:, 0]
fisher_direction = fisher_direction / np.linalg.norm(fisher_direction)
accuracy_pc1 = midpoint_threshold_accuracy(
    pc1, X_stripes, y_stripes, X_stripes_test, y_stripes_test
)
accuracy_fisher = midpoint_threshold_accuracy(
    fisher_direction, X_stripes, y_stripes, X_stripes_test, y_stripes_test
)
print(f"PC1              = ({pc1[0]:.3f}, {pc1[1]:.3f}), test accuracy {accuracy_pc1:.1%}")
print(
    f"Fisher direction = ({fisher_direction[0]:.3f}, {fisher_direction[1]:.3f}),"
    f" test accuracy {accuracy_fisher:.1%}"
)
check_true(
    "PC1 is near chance, Fisher's direction near perfect",
    bool(accuracy_pc1 < 0.6 and accuracy_fisher > 0.97),
    f"{accuracy_pc1:.3f} vs {accuracy_fisher:.3f}",
)

# %%
fig, (ax_data, ax_pc1, ax_fisher) = plt.subplots(1, 3, figsize=(13, 4))
for label, colour in ((0, PALETTE[0]), (1, PALETTE[1])):
    ax_data.scatter(*X_stripes[y_stripes == label].T, s=5, alpha=0.5, color=colour)
arrow_length = 25.0
for direction, colour, name in (
    (pc1, "0.2", "PC1"),
    (fisher_direction, PALETTE[2], "Fisher"),
):
    ax_data.plot(*np.outer([-1, 1], arrow_length * direction).T, color=colour, lw=2, label=name)
ax_data.set(
    xlabel="$x_1$ (standard deviation 10)",
    ylabel="$x_2$ (class gap 1.5)",
    xlim=(-40, 40),
    ylim=(-3, 4),
    title="The data (axes not to scale)",
)
ax_data.legend(loc="upper left", fontsize=8)
for ax, direction, name, accuracy in (
    (ax_pc1, pc1, "PC1", accuracy_pc1),
    (ax_fisher, fisher_direction, "Fisher direction", accuracy_fisher),
):
    projected = X_stripes_test @ direction  # (1000,)
    bins = np.linspace(projected.min(), projected.max(), 50)
    for label, colour in ((0, PALETTE[0]), (1, PALETTE[1])):
        ax.hist(
            projected[y_stripes_test == label],
            bins=bins,
            alpha=0.6,
            color=colour,
            label=f"class {label}",
        )
    ax.set(
        xlabel=f"projection on {name}",
        ylabel="test samples",
        title=f"{name}: test accuracy {accuracy:.1%}",
    )
    ax.legend(fontsize=8)
fig.suptitle(
    f"The top-variance direction carries no class information: PC1 {accuracy_pc1:.1%}, "
    f"Fisher {accuracy_fisher:.1%}"
)
plt.show()

# %% [markdown]
# PC1 is the $x_1$ axis and the two classes overlap completely along it, so the 1-D
# classifier is at chance. Fisher's direction is the $x_2$ axis and the two histograms barely
# touch. Variance ranked the directions by how much the data *move*, not by how much the
# movement *says about the label*. Change the unit of $x_2$ (multiply it by 100) and PC1
# becomes $x_2$: what PCA finds depends on units, whereas LDA's direction only rescales with
# the feature and its projections and accuracy stay the same.

# %% [markdown]
# ### 2. Wine in two dimensions: PCA against LDA
#
# The 13 wine features are standardised first, because PCA on raw wine is dominated by
# proline, whose values are in the hundreds (chapter 08). LDA does not need this: rescaling a
# feature rescales $S_W$ and $S_B$ together and leaves the projections unchanged. Both methods
# reduce to two dimensions, and a 5-nearest-neighbour classifier and a nearest-centroid
# classifier are scored in each 2-D space by 5-fold cross-validation. The reduction sits
# inside the `Pipeline`, so LDA sees only the training folds' labels.

# %%
reducers = {
    "PCA": lambda: PCA(n_components=2),
    "LDA": lambda: FisherLDA(n_components=2),
}
classifiers = {
    "5-NN": lambda: KNeighborsClassifier(n_neighbors=5),
    "nearest centroid": lambda: NearestCentroid(),
}
cv_accuracy = {}
for reducer_name, make_reducer in reducers.items():
    for classifier_name, make_classifier in classifiers.items():
        pipeline = make_pipeline(StandardScaler(), make_reducer(), make_classifier())
        scores = cross_val_score(pipeline, X_wine, y_wine, cv=5)
        cv_accuracy[reducer_name, classifier_name] = scores.mean()
        print(f"{reducer_name} → 2-D, {classifier_name:>16}: CV accuracy {scores.mean():.3f}")
check_true(
    "wine: LDA's 2-D space is at least as good as PCA's for both classifiers",
    all(cv_accuracy["LDA", c] >= cv_accuracy["PCA", c] for c in classifiers),
    ", ".join(
        f"{c}: {cv_accuracy['LDA', c]:.3f} vs {cv_accuracy['PCA', c]:.3f}" for c in classifiers
    ),
)

# %%
X_wine_scaled = StandardScaler().fit_transform(X_wine)
wine_pca_2d = PCA(n_components=2).fit(X_wine_scaled)
wine_lda_2d = FisherLDA(n_components=2).fit(X_wine_scaled, y_wine)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, projection, name, axis_names in (
    (axes[0], wine_pca_2d.transform(X_wine_scaled), "PCA", ("PC1", "PC2")),
    (axes[1], wine_lda_2d.transform(X_wine_scaled), "LDA", ("LD1", "LD2")),
):
    for label in range(3):
        ax.scatter(
            *projection[y_wine == label].T,
            s=12,
            alpha=0.7,
            color=PALETTE[label],
            label=f"cultivar {label}",
        )
    ax.set(
        xlabel=axis_names[0],
        ylabel=axis_names[1],
        title=f"{name}: 5-NN CV accuracy {cv_accuracy[name, '5-NN']:.3f}",
    )
    ax.legend(fontsize=8)
fig.suptitle("With the labels, LDA's two axes separate the three wines more cleanly than PCA's")
plt.show()

# %% [markdown]
# PCA's plane already shows the three cultivars, since here the between-class spread is a
# large part of the variance; the classes still touch. LDA's plane is chosen for separation and
# its clusters are tight and apart. On wine the gap in cross-validated accuracy printed above is
# small, because three well-separated classes are easy either way; the counterexample of
# Experiment 1 is where it becomes the whole story.

# %% [markdown]
# ### 3. LDA axes are not orthogonal
#
# The cosine between LDA's two axes is printed for the raw and for the standardised wines,
# next to the cosine between PCA's two axes. The LDA axes are $S_W$-orthogonal instead
# {eq}`lda-normalisation`, which is checked too. Their Euclidean angle even changes with the
# units of the features, because rescaling a feature rescales the axes' entries unevenly.


# %%
def axis_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the Euclidean angle between two axes (d,)."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


cosines = {}
for name, X_version in (("raw", X_wine), ("standardised", X_wine_scaled)):
    lda_axes = FisherLDA().fit(X_version, y_wine).scalings_  # (13, 2)
    pca_axes = PCA(n_components=2).fit(X_version).components_  # (2, 13)
    cosines[name] = axis_cosine(*lda_axes.T)
    _, version_within, _ = scatter_matrices(X_version, y_wine, 3)
    print(
        f"wine, {name:>12}: cos(LDA axes) = {cosines[name]:+.3f} "
        f"({np.degrees(np.arccos(cosines[name])):.1f}°), "
        f"cos(PCA axes) = {axis_cosine(*pca_axes):+.1e}"
    )
    check_close(
        f"wine, {name}: PCA axes orthogonal", axis_cosine(*pca_axes), 0.0, atol=1e-12, quiet=True
    )
    check_close(
        f"wine, {name}: LDA axes S_W-orthogonal, w1ᵀ S_W w2 = 0",
        lda_axes[:, 0] @ version_within @ lda_axes[:, 1],
        0.0,
        atol=1e-8,
    )
check_true(
    "wine, raw: LDA axes are not orthogonal",
    bool(abs(cosines["raw"]) > 0.1),
    f"cos = {cosines['raw']:+.3f}",
)

# %% [markdown]
# On the raw wines the two LDA axes are far from perpendicular. After standardising they are
# close to it, by accident of this dataset: nothing in {eq}`lda-geneig` asks for it. PCA's
# axes are orthonormal by construction in both cases.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} When is LDA the right model, and what if the class covariances differ?
# LDA is the Bayes classifier when each class is Gaussian and all classes share one covariance
# {eq}`lda-gaussian`. With different covariances the $x^\top\Sigma_c^{-1}x$ terms no longer
# cancel and the optimal boundary is quadratic: that is QDA
# (`QuadraticDiscriminantAnalysis`), which estimates one covariance per class, i.e.
# $C\,d(d+1)/2$ parameters instead of $d(d+1)/2$. With few samples, LDA's shared estimate often
# wins anyway (bias against variance); regularised discriminant analysis
# {cite}`friedman1989regularized` interpolates between the two. As a projection, Fisher's
# criterion still makes sense without Gaussianity, but with multimodal classes or classes that
# differ only in spread (same mean), $S_B$ is blind to the difference: LDA only sees the means.
# :::
#
# :::{dropdown} What happens when $d\ge n$, e.g. text or genes?
# $S_W$ has rank at most $n-C$, so it is singular and {eq}`lda-geneig` has no unique
# solution; `scipy.linalg.eigh` fails at the Cholesky step (the class above raises a
# `ValueError` that says so). The fix is to shrink the covariance toward a multiple of the
# identity, $(1-\alpha)\hat\Sigma+\alpha\frac{\operatorname{tr}\hat\Sigma}{d}I$. scikit-learn
# offers `shrinkage="auto"` with `solver="lsqr"` or `"eigen"`, which picks $\alpha$ by the
# Ledoit–Wolf formula {cite}`ledoit2004well`; the default `"svd"` solver does not support
# shrinkage. With shrinkage 0.5, the class above predicts exactly as scikit-learn does, as the
# next cell checks (scikit-learn also shrinks the total covariance, which changes its
# `scalings_` but not its predictions). An alternative is PCA first, see below.
# :::

# %%
X_wide = rng.standard_normal((40, 100))  # (n, d) with d > n
y_wide = np.repeat([0, 1], 20)
X_wide[y_wide == 1, :5] += 1.0  # the classes differ in 5 of the 100 features
try:
    FisherLDA().fit(X_wide, y_wide)
    singular_raised = False
except ValueError:
    singular_raised = True
check_true("d > n without shrinkage: FisherLDA raises", singular_raised)
shrunk_ours = FisherLDA(shrinkage=0.5).fit(X_wide, y_wide)
shrunk_sklearn = LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.5).fit(X_wide, y_wide)
check_close(
    "d > n, shrinkage 0.5: predict_proba vs sklearn (solver='eigen')",
    shrunk_ours.predict_proba(X_wide),
    shrunk_sklearn.predict_proba(X_wide),
    atol=1e-10,
)
auto_accuracy = cross_val_score(
    LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), X_wide, y_wide, cv=5
).mean()
print(f"sklearn shrinkage='auto' (Ledoit–Wolf), solver='lsqr': CV accuracy {auto_accuracy:.3f}")

# %% [markdown]
# :::{dropdown} LDA is supervised: where does it overfit?
# The projection uses the labels, so it can fit noise. With many features and few samples,
# almost any labelling is linearly separable, and LDA finds the separating direction. Fitting
# LDA on the whole dataset and then cross-validating a classifier on the projected data leaks
# the test labels into the features. The next cell uses pure noise with **random** labels
# ($n=60$, $d=200$): LDA fitted on everything makes the 1-D projection look perfectly
# separable and the leaky cross-validation reports a high accuracy; with LDA inside the
# `Pipeline` the accuracy drops to chance, as it must. Always fit supervised reductions inside
# the folds.
# :::

# %%
X_noise = rng.standard_normal((60, 200))
y_noise = rng.integers(0, 2, 60)  # labels unrelated to X
leaky_projection = FisherLDA(shrinkage=1e-3).fit(X_noise, y_noise).transform(X_noise)
leaky_accuracy = cross_val_score(
    KNeighborsClassifier(n_neighbors=5), leaky_projection, y_noise, cv=5
).mean()
honest_accuracy = cross_val_score(
    make_pipeline(FisherLDA(shrinkage=1e-3), KNeighborsClassifier(n_neighbors=5)),
    X_noise,
    y_noise,
    cv=5,
).mean()
print(
    f"random labels: LDA fitted on all data {leaky_accuracy:.3f}, inside the folds "
    f"{honest_accuracy:.3f}"
)
check_true(
    "fitting LDA outside the folds inflates CV accuracy on random labels",
    bool(leaky_accuracy > 0.9 and honest_accuracy < 0.75),
    f"{leaky_accuracy:.3f} vs {honest_accuracy:.3f}",
)

# %% [markdown]
# :::{dropdown} Why run PCA before LDA?
# To make $S_W$ invertible and the problem smaller when $d$ is large: project on the top $k\le
# n-C$ principal components, then run LDA in that space. This is the "Fisherfaces" recipe for
# face images {cite}`belhumeur1997eigenfaces`. The risk is the lesson of Experiment 1: PCA
# may throw away a low-variance direction that carried the class difference, so choose $k$ by
# cross-validating the whole pipeline, or use shrinkage instead.
# :::
#
# :::{dropdown} Should I scale features before LDA? Before PCA?
# Before PCA, usually yes, when features have different units: PCA's axes depend on units
# (chapter 08). LDA's projections do not change under per-feature rescaling (its axes rescale
# to compensate), so scaling is harmless but not needed; it can help numerically when scales
# differ by many orders of magnitude.
# :::
#
# :::{dropdown} Does LDA give "components" like PCA? Can I reconstruct $X$ from them?
# LDA gives at most $C-1$ axes; for two classes, one. They are not orthonormal, there is no
# `inverse_transform`, and its `explained_variance_ratio_` is the share of between-class
# separation $\lambda_i/\sum_j\lambda_j$, not of variance. LDA is for separating classes, not
# for compression.
# :::
#
# :::{dropdown} "LDA" in an NLP interview?
# Often it means **latent Dirichlet allocation** {cite}`blei2003latent`, a generative topic
# model for documents (each document a mixture of topics, each topic a distribution over
# words), fitted by variational inference or Gibbs sampling. It shares only the acronym with
# Fisher's linear discriminant analysis. Ask which one is meant.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Two classes have means $\mu_0=(0,0)$ and $\mu_1=(2,1)$ and the same within-class scatter
#    $S_W=\begin{pmatrix}4&0\\0&1\end{pmatrix}$. What is the Fisher direction, and how does it
#    differ from $\mu_1-\mu_0$?
#
#    :::{dropdown} Answer
#    By {eq}`lda-two-class`, $w^\star\propto S_W^{-1}(\mu_1-\mu_0)=(2/4,\,1/1)=(0.5,1)$, i.e.
#    $(1,2)/\sqrt5$. The difference of means is $(2,1)$: LDA turns toward $x_2$ because the
#    classes are four times narrower (in variance) along it. The next cell checks it with
#    data built to have exactly these means and scatter.
#    :::

# %%
pattern = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # mean 0, scatter 4I
one_class = pattern * np.sqrt([2.0 / 4, 0.5 / 4])  # scatter diag(2, 0.5) per class, (4, 2)
X_exercise = np.vstack([one_class, one_class + np.array([2.0, 1.0])])  # μ0 = (0, 0), μ1 = (2, 1)
y_exercise = np.repeat([0, 1], 4)
_, exercise_within, _ = scatter_matrices(X_exercise, y_exercise, 2)
check_close("exercise 1: S_W = diag(4, 1)", exercise_within, np.diag([4.0, 1.0]), atol=1e-12)
exercise_axis = FisherLDA().fit(X_exercise, y_exercise).scalings_[:, 0]
exercise_axis = exercise_axis / np.linalg.norm(exercise_axis)
check_close(
    "exercise 1: Fisher direction = (1, 2)/√5",
    exercise_axis * np.sign(exercise_axis[0]),
    np.array([1.0, 2.0]) / np.sqrt(5),
    atol=1e-12,
)

# %% [markdown]
# 2. You have 10 classes of handwritten digits in 64 dimensions. How many LDA components can
#    you get, and how many PCA components?
#
#    :::{dropdown} Answer
#    LDA: at most $\min(C-1,d)=9$, by {eq}`lda-rank`. PCA: up to $\min(n-1,d)=64$ with the
#    1797 digit images (fewer non-zero ones, since three pixels are constant).
#    :::
#
# 3. Is the Fisher direction of Experiment 1 changed if $x_1$ is measured in a unit 1000 times
#    smaller? Is PC1?
#
#    :::{dropdown} Answer
#    The Fisher *projection* is unchanged: $w$ absorbs the factor, so $J$ and the classifier
#    are the same. PC1 was already $x_1$ and becomes even more so; had $x_2$ been rescaled
#    instead by a large factor, PC1 would swing to $x_2$. PCA's answer depends on units and
#    LDA's does not. The next cell checks the LDA half.
#    :::

# %%
rescale = np.array([1000.0, 1.0])
rescaled_lda = FisherLDA().fit(X_stripes * rescale, y_stripes)
check_close(
    "exercise 3: LDA projection unchanged by rescaling x1 (up to sign)",
    np.abs(rescaled_lda.transform(X_stripes_test * rescale)),
    np.abs(FisherLDA().fit(X_stripes, y_stripes).transform(X_stripes_test)),
    atol=1e-8,
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`fisher1936use`: the discriminant direction as the maximiser of between-group over
#   within-group variance, {eq}`lda-fisher` and the two-class solution {eq}`lda-two-class`.
# - {cite:t}`rao1948utilization`: the extension to $C$ classes, the generalised eigenproblem
#   {eq}`lda-geneig` with at most $C-1$ discriminants.
# - {cite:t}`hastie2009elements`: Section 4.3, LDA as the Gaussian shared-covariance
#   classifier {eq}`lda-gaussian`, reduced-rank LDA as nearest centroid in the discriminant
#   space {eq}`lda-nearest-mean`, QDA and regularised discriminant analysis.
# - {cite:t}`friedman1989regularized`: regularised discriminant analysis, between LDA and QDA,
#   and shrinkage of the covariance.
# - {cite:t}`ledoit2004well`: the automatic shrinkage intensity behind `shrinkage="auto"`.
# - {cite:t}`belhumeur1997eigenfaces`: PCA before LDA ("Fisherfaces") when $S_W$ is singular.
# - {cite:t}`blei2003latent`: latent Dirichlet allocation, the other "LDA".
# - {cite:t}`sklearn2025lda`: `LinearDiscriminantAnalysis`, its `"svd"`, `"eigen"` and
#   `"lsqr"` solvers, `scalings_`, `explained_variance_ratio_`, `shrinkage` and the
#   `n_components` limit, against which the from-scratch class is checked.

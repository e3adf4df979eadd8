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
# # 03. Overfitting and underfitting
#
# **The question.** What are overfitting and underfitting, how do you tell which one you
# have, and how do you prevent each?
#
# **What you will be able to answer.** Define both in numbers (the training error and the
# train–validation gap); read a validation curve and a learning curve; say why the training
# error is optimistic by $2\sigma^2p/n$; implement early stopping with a patience window and
# best-checkpoint restore; and explain why cross-validation diagnoses and selects but does not
# regularise.

# %%
import numbers
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from numpy.polynomial.legendre import leggauss, legvander
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    validation_curve,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.utils.validation import check_is_fitted, validate_data

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.data import noisy_function_1d
from notebook_utils.devices import get_device
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# Both are read off two numbers: the training error and the validation error (on data the
# fit never saw).
#
# - **Underfitting** is a *high training error*: the model cannot even fit the data it is
#   trained on, so its error sits far above the best achievable (the noise level $\sigma^2$
#   for squared loss), on training and validation data alike. **Overfitting** is a *low
#   training error with a large train–validation gap*: the model fits the noise of its
#   training set (training error below $\sigma^2$, zero for an interpolating model) and pays
#   for it on new data.
# - Why there is a gap at all: for least squares with $p$ parameters the training error is
#   optimistic by exactly $2\sigma^2p/n$ in expectation. The gap grows with the model's
#   size and shrinks with the amount of data; a **learning curve** (error vs $n$) shows
#   which regime you are in, a **validation curve** (error vs complexity or regularisation)
#   where the best setting is.
# - **Against overfitting:** more data (or data augmentation), a smaller or more
#   constrained model: L2/weight decay, L1, dropout, noise injection, label smoothing;
#   ensembling; early stopping with a *patience window* and *restore of the best
#   checkpoint*, because a validation curve is noisy and its first uptick is rarely its
#   minimum.
# - **Against underfitting:** a bigger model or better features, less regularisation (lower
#   $\lambda$, less dropout or augmentation), training longer with a better learning rate or
#   optimiser, and checking for bugs: a model that cannot overfit a tiny batch has one.
# - The notes list cross-validation as a way to *prevent* overfitting. It is not:
#   $K$-fold CV *estimates* the generalisation error and *selects* hyperparameters
#   ($\lambda$, depth, number of epochs). The model trained on all the data is the same
#   whether or not CV was run; what regularises is the hyperparameter CV picked.

# %% [markdown]
# ## Derivation
#
# ### Training error, validation error, gap
#
# Data are pairs $(x,y)$ with $y=f(x)+\varepsilon$, $\mathbb E\varepsilon=0$,
# $\operatorname{Var}\varepsilon=\sigma^2$. A learning algorithm maps a training set
# $D=\{(x_i,y_i)\}_{i=1}^n$ to a predictor $\hat f_D$. With squared loss,
#
# $$
# \operatorname{err}_{\text{train}}=\frac1n\sum_{i=1}^n\big(y_i-\hat f_D(x_i)\big)^2,\qquad
# \operatorname{err}_{\text{val}}=\frac1{m}\sum_{j=1}^{m}\big(y'_j-\hat f_D(x'_j)\big)^2,\qquad
# \text{gap}=\operatorname{err}_{\text{val}}-\operatorname{err}_{\text{train}},
# $$ (fit-train-val)
#
# where $(x'_j,y'_j)$, $j=1..m$, is a validation set drawn independently of $D$. Its error
# is an unbiased estimate of the test error
# $\operatorname{Err}=\mathbb E_{x,y}\big[(y-\hat f_D(x))^2\big]$ of this $\hat f_D$; the
# training error is not, because $\hat f_D$ was chosen to make it small. No predictor has
# $\operatorname{Err}<\sigma^2$: the noise is the floor.
#
# In these terms: **underfitting** is $\operatorname{err}_{\text{train}}\gg\sigma^2$ (or
# above what the task needs), **overfitting** is $\operatorname{err}_{\text{train}}$ small
# (often below $\sigma^2$) with a large gap. $\sigma^2$ is unknown on real data; a baseline
# (predicting the mean, a simple model, human error) stands in for it.
#
# ### Degree $n-1$ interpolates $n$ points
#
# The chapter's models are polynomials of degree $q$ fitted by least squares, $p=q+1$
# parameters. The basis does not change the fit; this chapter uses the Legendre
# polynomials $P_k$ moved to $[0,1]$ and normalised,
#
# $$
# \phi_k(x)=\sqrt{2k+1}\,P_k(2x-1),\qquad
# \mathbb E_{x\sim U(0,1)}\big[\phi_j(x)\phi_k(x)\big]=\delta_{jk},
# $$ (fit-legendre)
#
# whose design matrices are far better conditioned than those of the monomials $x^k$. With
# $n$ distinct inputs and degree $q=n-1$ the design matrix $\Phi\in\mathbb R^{n\times n}$ is
# square. In the monomial basis it is the Vandermonde matrix, with
#
# $$
# \det\big[x_i^{\,k}\big]_{i=1..n,\;k=0..n-1}=\prod_{1\le i<j\le n}(x_j-x_i)\neq 0,
# $$ (fit-vandermonde)
#
# and any other polynomial basis multiplies it by an invertible change-of-basis matrix. So
# $\Phi w=y$ has a solution for *every* $y$, noise included: the training error is exactly
# zero and says nothing about the test error.
#
# ### The training error is optimistic by $2\sigma^2p/n$
#
# Fix the inputs $x_1..x_n$ and let the fit be least squares on $p\le n$ linearly
# independent features, $\hat y=Hy$ with $H=\Phi(\Phi^\top\Phi)^{-1}\Phi^\top$, a projection
# of rank $p$. Write
# $f=(f(x_i))_i$. The *in-sample* error asks for new noise $\varepsilon'$ at the same inputs:
# $\operatorname{Err}_{\text{in}}=\frac1n\mathbb E_{\varepsilon'}\lVert f+\varepsilon'-\hat
# y\rVert^2$. Since $(I-H)$ and $H$ are projections of ranks $n-p$ and $p$, and
# $\mathbb E\lVert A\varepsilon\rVert^2=\sigma^2\operatorname{tr}(A^\top A)$,
#
# $$
# \mathbb E\,\operatorname{err}_{\text{train}}
# =\frac1n\mathbb E\lVert(I-H)(f+\varepsilon)\rVert^2=\sigma^2\Big(1-\frac pn\Big)+b_n^2,
# \qquad
# \mathbb E\,\operatorname{Err}_{\text{in}}
# =\sigma^2+\frac1n\mathbb E\lVert(I-H)f-H\varepsilon\rVert^2=\sigma^2\Big(1+\frac pn\Big)+b_n^2,
# $$ (fit-expected-errors)
#
# with $b_n^2=\frac1n\lVert(I-H)f\rVert^2$ the in-sample squared bias (the cross terms have
# mean zero). Their difference does not depend on $f$ at all:
#
# $$
# \mathbb E\,\operatorname{Err}_{\text{in}}-\mathbb E\,\operatorname{err}_{\text{train}}
# =\frac{2\sigma^2p}{n}.
# $$ (fit-optimism)
#
# This is the optimism of the training error {cite}`efron1986biased` (in general
# $\frac2n\sum_i\operatorname{Cov}(\hat y_i,y_i)$, {cite:t}`hastie2009elements`, §7.4). It
# predicts both learning curves: as $n$ grows, the training error rises and the test error
# falls toward the same plateau $\sigma^2+b^2$, with a gap that closes like $p/n$. An
# underfitting model has a large $b^2$, so both curves level off high and more data does
# not help; an overfitting model has a large $p/n$, so the gap is large and more data
# closes it.
#
# ### Cross-validation estimates; selection regularises
#
# $K$-fold cross-validation splits the indices into folds $F_1..F_K$, trains the algorithm
# $\mathcal A_\lambda$ (hyperparameter $\lambda$) on all folds but $F_k$, giving
# $\hat f^{-k}_\lambda$, and averages the errors on the held-out folds:
#
# $$
# \operatorname{CV}_K(\lambda)=\frac1K\sum_{k=1}^K\frac1{|F_k|}\sum_{i\in F_k}
# \big(y_i-\hat f^{-k}_\lambda(x_i)\big)^2 .
# $$ (fit-cv)
#
# (scikit-learn's `cross_val_score` returns the $K$ inner averages; their mean is
# {eq}`fit-cv`.) It is a number that estimates the test error of $\mathcal A_\lambda$
# trained on $\frac{K-1}{K}n$ points. Used for selection,
#
# $$
# \hat\lambda=\arg\min_\lambda \operatorname{CV}_K(\lambda),\qquad
# \hat f=\mathcal A_{\hat\lambda}(D),
# $$ (fit-select)
#
# the final model is the algorithm at $\hat\lambda$ trained on all of $D$. Nothing from the
# $K$ fold models enters $\hat f$: running CV for a fixed $\lambda$ changes nothing, and
# whatever regularisation $\hat f$ has comes from $\hat\lambda$. Selection also has a cost:
# $\min_\lambda\operatorname{CV}_K(\lambda)$ is an optimistic estimate of the error of
# $\hat f$, because the minimum picks up the noise of the estimates as well.
#
# ### L2: ridge
#
# The remedy of choice for an over-flexible linear model is a penalty on the weights
# ({cite:t}`hoerl1970ridge`; chapter 07 treats L1 and L2 in depth). In scikit-learn's
# convention, with features $\Phi$ and an unpenalised intercept,
#
# $$
# \hat w_\alpha=\arg\min_w\ \lVert y-\Phi w\rVert^2+\alpha\lVert w\rVert^2 .
# $$ (fit-ridge)
#
# $\alpha=0$ is least squares (the interpolant when $p\ge n$), $\alpha\to\infty$ predicts
# the mean; in between, test error vs $\alpha$ is U-shaped.
#
# ### Early stopping with patience, and why it regularises
#
# Train by gradient steps and record the validation loss $v_t$ after each epoch $t$. The
# rule the notes give ("stop when the validation loss increases") stops at the first $t$
# with $v_t\ge v_{t-1}$. With a patience of $P$ epochs, keep the best epoch so far and stop
# once it is $P$ epochs old:
#
# $$
# t^\star(t)=\arg\min_{s\le t} v_s,\qquad
# T=\min\{t: t-t^\star(t)\ge P\},\qquad
# \text{return } w_{t^\star(T)} .
# $$ (fit-patience)
#
# The notes' rule is $P=1$. Returning $w_{t^\star}$ needs a *copy* of the weights taken at
# epoch $t^\star$ (the best checkpoint); without it one returns the weights of epoch $T$,
# $P$ epochs past the best.
#
# Why stopping early regularises: take full-batch gradient descent with step $\eta$ on
# $\frac1{2n}\lVert y-\Phi w\rVert^2$ from $w_0=0$, and the SVD
# $\Phi=\sum_j s_ju_jv_j^\top$, $\mu_j=s_j^2/n$. Each step multiplies the distance to the
# least-squares solution along $v_j$ by $1-\eta\mu_j$ (stable for $\eta<2/\mu_{\max}$), so
# after $t$ steps, next to ridge {eq}`fit-ridge` without intercept,
#
# $$
# w_t=\sum_j\big[1-(1-\eta\mu_j)^t\big]\frac{u_j^\top y}{s_j}v_j,\qquad
# \hat w_\alpha=\sum_j\frac{\mu_j}{\mu_j+\alpha/n}\,\frac{u_j^\top y}{s_j}v_j .
# $$ (fit-gd-filter)
#
# Both keep the directions with large $\mu_j$ and suppress the small ones, where the
# noise is fitted; the crossover is at $\mu_j\approx1/(\eta t)$ for gradient descent and
# $\mu_j=\alpha/n$ for ridge. Stopping at epoch $t$ acts roughly like ridge with
# $\alpha\approx n/(\eta t)$ ({cite:t}`goodfellow2016deep`, §7.8). That is a property of
# the *training* procedure, which is why early stopping regularises and CV does not.

# %% [markdown]
# ## Implementation from scratch
#
# ### Polynomial least squares
#
# `legendre_design` is the feature map {eq}`fit-legendre` with the constant $\phi_0=1$;
# `least_squares_polynomial` fits it with `np.linalg.lstsq`, which returns the exact
# interpolant when $q=n-1$.


# %%
def legendre_design(x: np.ndarray, degree: int) -> np.ndarray:
    """Features φ_0..φ_degree of eq. (fit-legendre) at x in [0, 1]: shape (n, degree + 1)."""
    return legvander(2 * x - 1, degree) * np.sqrt(2 * np.arange(degree + 1) + 1)


def least_squares_polynomial(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Coefficients (degree + 1,) of the least-squares polynomial in the basis φ_k."""
    return np.linalg.lstsq(legendre_design(x, degree), y, rcond=None)[0]


def mse(y: np.ndarray, prediction: np.ndarray) -> float:
    """Mean squared error, the loss of eq. (fit-train-val)."""
    return float(np.mean((y - prediction) ** 2))


# %% [markdown]
# For scikit-learn pipelines the same features are a transformer, like
# `PolynomialFeatures(include_bias=False)` without interaction terms: each input column
# becomes $\phi_1..\phi_q$ of it (the intercept of the regressor plays $\phi_0$).


# %%
class LegendreFeatures(TransformerMixin, BaseEstimator):
    """Orthonormal Legendre features φ_1..φ_degree of each column, eq. (fit-legendre)."""

    def __init__(self, degree: int = 3) -> None:
        self.degree = degree

    def fit(self, X: Any, y: Any = None) -> "LegendreFeatures":
        if not isinstance(self.degree, numbers.Integral) or self.degree < 1:
            raise ValueError(f"degree must be an integer >= 1, got {self.degree!r}")
        validate_data(self, X, dtype=np.float64)  # sets n_features_in_
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)  # (n, d)
        blocks = [legendre_design(column, self.degree)[:, 1:] for column in X.T]
        return np.hstack(blocks)  # (n, d · degree)


# %% [markdown]
# ### $K$-fold cross-validation
#
# `kfold_splits` shuffles the indices with a seeded legacy `RandomState` (as
# `KFold(shuffle=True, random_state=seed)` does), cuts them into $K$ folds whose first
# $n \bmod K$ are one larger, and returns sorted index arrays.
# `cross_validation_mse` is {eq}`fit-cv`: a fresh clone of the estimator per fold, so that
# nothing learned on one fold leaks into another, or into the estimator passed in.


# %%
def kfold_splits(n_samples: int, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs of shuffled K-fold cross-validation."""
    order = np.random.RandomState(seed).permutation(n_samples)
    sizes = np.full(n_folds, n_samples // n_folds)
    sizes[: n_samples % n_folds] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    splits = []
    for k in range(n_folds):
        held_out = np.zeros(n_samples, dtype=bool)
        held_out[order[bounds[k] : bounds[k + 1]]] = True
        splits.append((np.flatnonzero(~held_out), np.flatnonzero(held_out)))
    return splits


def cross_validation_mse(
    estimator: BaseEstimator,
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Validation MSE of each fold, shape (K,); their mean is CV_K of eq. (fit-cv)."""
    errors = []
    for train, held_out in splits:
        fold_model = clone(estimator).fit(X[train], y[train])  # \hat f^{-k}
        errors.append(mse(y[held_out], fold_model.predict(X[held_out])))
    return np.array(errors)


# %% [markdown]
# ### Early stopping with patience and best-checkpoint restore
#
# `EarlyStopping` is the rule {eq}`fit-patience`. It sees one validation loss per epoch,
# remembers the best one, its epoch and a *copy* of the weights at that epoch, and says
# when to stop. `patience=1` is the notes' rule.


# %%
class EarlyStopping:
    """Stop once the best validation loss is `patience` epochs old, eq. (fit-patience)."""

    def __init__(self, patience: int) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience
        self.best_loss = np.inf
        self.best_epoch = 0
        self.best_weights: np.ndarray | None = None
        self.epochs_without_improvement = 0

    def update(self, epoch: int, val_loss: float, weights: np.ndarray) -> bool:
        """Record the validation loss after `epoch`; True when training should stop."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_weights = weights.copy()  # the checkpoint: `weights` changes in place
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience


def first_increase_epoch(val_losses: np.ndarray) -> int:
    """The first epoch t >= 2 with v_t >= v_{t-1} (epochs count from 1): the notes' rule."""
    not_better = np.flatnonzero(np.diff(val_losses) >= 0)
    return int(not_better[0]) + 2 if not_better.size else len(val_losses)


# %% [markdown]
# The model trained with it is linear in fixed features, trained by minibatch SGD on
# $\tfrac12$MSE from $w=0$. The epoch's losses are recorded after the epoch; with a
# stopper, the weights returned are the restored checkpoint.


# %%
@dataclass
class TrainingRun:
    weights: np.ndarray  # (p,): the restored best checkpoint when a stopper was used
    train_losses: np.ndarray  # (epochs run,): MSE after each epoch
    val_losses: np.ndarray  # (epochs run,)
    best_epoch: int  # 1-based; the last epoch when no stopper was used

    @property
    def stop_epoch(self) -> int:
        return len(self.val_losses)


def train_sgd(
    features: np.ndarray,
    targets: np.ndarray,
    val_features: np.ndarray,
    val_targets: np.ndarray,
    *,
    lr: float,
    batch_size: int,
    max_epochs: int,
    seed: int,
    stopper: EarlyStopping | None = None,
) -> TrainingRun:
    """Minibatch SGD on ½ MSE of a linear model from w = 0, with optional early stopping."""
    order_rng = np.random.default_rng(seed)  # the minibatch order, reproducible per seed
    n, p = features.shape
    weights = np.zeros(p)  # (p,)
    train_losses, val_losses = [], []
    for epoch in range(1, max_epochs + 1):
        order = order_rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            residual = features[batch] @ weights - targets[batch]  # (b,)
            weights -= lr * features[batch].T @ residual / len(batch)  # in place
        train_losses.append(mse(targets, features @ weights))
        val_losses.append(mse(val_targets, val_features @ weights))
        if stopper is not None and stopper.update(epoch, val_losses[-1], weights):
            break
    best_epoch = epoch
    if stopper is not None:
        weights, best_epoch = stopper.best_weights.copy(), stopper.best_epoch  # the restore
    return TrainingRun(weights, np.array(train_losses), np.array(val_losses), best_epoch)


# %% [markdown]
# ### Gradient descent and ridge in closed form
#
# Both sides of {eq}`fit-gd-filter`, from one SVD; the Verification section runs gradient
# descent step by step against the first and scikit-learn's `Ridge` against the second.


# %%
def spectral_coordinates(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """μ_j = s_j²/n, the least-squares coordinates u_jᵀy/s_j, and V of the SVD of Φ."""
    u, s, vt = np.linalg.svd(features, full_matrices=False)  # (n, r), (r,), (r, p)
    return s**2 / len(y), (u.T @ y) / s, vt.T  # (r,), (r,), (p, r)


def gradient_descent_weights(
    features: np.ndarray, y: np.ndarray, lr: float, steps: np.ndarray
) -> np.ndarray:
    """w_t of eq. (fit-gd-filter) for each t in `steps`: shape (len(steps), p)."""
    mu, coords, v = spectral_coordinates(features, y)
    filters = 1 - (1 - lr * mu[None, :]) ** steps[:, None]  # (T, r)
    return (filters * coords) @ v.T  # (T, p)


def ridge_weights(features: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """ŵ_α of eq. (fit-gd-filter), ridge with no intercept, for each α: shape (A, p)."""
    mu, coords, v = spectral_coordinates(features, y)
    filters = mu[None, :] / (mu[None, :] + alphas[:, None] / len(y))  # (A, r)
    return (filters * coords) @ v.T  # (A, p)


# %% [markdown]
# ## Verification
#
# ### The data of the notes' example, and the test error
#
# Ten points of $\sin 2\pi x$ with noise $\sigma=0.2$, drawn with
# `notebook_utils.data.noisy_function_1d`. The truth is known, so the test error of a fit is
# computed rather than sampled: $\operatorname{Err}=\sigma^2+\mathbb E_x(f(x)-\hat f(x))^2$,
# the second term a midpoint rule over 2000 bins of $[0,1]$.

# %%
SIGMA_SMALL = 0.2  # noise of the notes' example and of most experiments
x_ten, y_ten = noisy_function_1d(10, rng, noise_std=SIGMA_SMALL)
x_grid = (np.arange(2000) + 0.5) / 2000  # (2000,): midpoints, so a mean approximates E_x
f_grid = np.sin(2 * np.pi * x_grid)  # (2000,)


def excess_error(predict_grid: np.ndarray) -> float:
    """E_x (f(x) - f̂(x))², from predictions at x_grid; add σ² for the test error."""
    return mse(f_grid, predict_grid)


# %% [markdown]
# ### The Legendre features are orthonormal
#
# Gauss–Legendre quadrature with 40 nodes integrates polynomials up to degree 79 exactly, so
# it checks {eq}`fit-legendre` up to degree 30 to rounding.

# %%
nodes, quadrature_weights = leggauss(40)  # on [-1, 1]
phi_nodes = legendre_design((nodes + 1) / 2, 30)  # (40, 31), x = (t + 1) / 2 in [0, 1]
gram = phi_nodes.T @ (phi_nodes * quadrature_weights[:, None] / 2)  # E_x[φ_j φ_k], (31, 31)
check_close("E[φ_j φ_k] vs identity, degrees 0..30", gram, np.eye(31), atol=1e-12)

# %% [markdown]
# ### The polynomial fit against `np.polyfit` and scikit-learn
#
# The same least-squares polynomial four ways: `least_squares_polynomial`, `np.polyfit`
# (monomials, with column scaling), `PolynomialFeatures` + `LinearRegression`, and
# `LegendreFeatures` + `LinearRegression`. One trap (as in chapter 02): scikit-learn's
# `LinearRegression` passes its `tol` (default $10^{-6}$) to the least-squares solver as the
# relative cut-off for small singular values, and the degree-9 monomial design on ten points
# has a condition number above $10^8$; `tol=1e-12` keeps the fit exact.

# %%
for degree in (1, 3, 9):
    ours = legendre_design(x_grid, degree) @ least_squares_polynomial(x_ten, y_ten, degree)
    references = {
        "np.polyfit": np.polyval(np.polyfit(x_ten, y_ten, degree), x_grid),
        "PolynomialFeatures": make_pipeline(
            PolynomialFeatures(degree), LinearRegression(tol=1e-12)
        ).fit(x_ten[:, None], y_ten),
        "LegendreFeatures": make_pipeline(
            LegendreFeatures(degree), LinearRegression(tol=1e-12)
        ).fit(x_ten[:, None], y_ten),
    }
    for name, reference in references.items():
        if isinstance(reference, Pipeline):
            reference = reference.predict(x_grid[:, None])  # (2000,)
        check_close(f"degree {degree}: ours vs {name} on [0, 1]", ours, reference, atol=1e-7)
print(f"condition number of the degree-9 monomial design: {np.linalg.cond(np.vander(x_ten)):.1e}")

# %% [markdown]
# ### Degree $n-1$ interpolates $n$ points
#
# {eq}`fit-vandermonde` for $n=2..15$ random points, each with fresh noise: the training
# MSE is zero up to rounding (the targets have variance about 0.5, so `atol=1e-15` means
# zero to about 15 digits).

# %%
interpolation_errors = []
for n_points in range(2, 16):
    x_n, y_n = noisy_function_1d(n_points, rng, noise_std=SIGMA_SMALL)
    coef = least_squares_polynomial(x_n, y_n, n_points - 1)
    interpolation_errors.append(mse(y_n, legendre_design(x_n, n_points - 1) @ coef))
check_close(
    "training MSE of degree n-1 on n points, n = 2..15",
    np.array(interpolation_errors),
    np.zeros(14),
    atol=1e-15,
)

# %% [markdown]
# ### The notes' example: ten points, degrees 1, 3 and 9
#
# The errata's numbers were computed at seed 0 with the same generator; the training MSEs
# match. Its "test MSE" values are $\mathbb E_x(f-\hat f)^2$, the error against the
# noise-free function; the expected test MSE on noisy data adds $\sigma^2=0.04$.

# %%
ERRATA_TRAIN_MSE = {1: 0.165, 3: 0.0072}
ERRATA_NOISE_FREE_ERROR = {1: 0.377, 3: 0.065, 9: 37.2}
ten_point_fits = {}
for degree in (1, 3, 9):
    coef = least_squares_polynomial(x_ten, y_ten, degree)
    train = mse(y_ten, legendre_design(x_ten, degree) @ coef)
    excess = excess_error(legendre_design(x_grid, degree) @ coef)
    ten_point_fits[degree] = (coef, train, excess)
    print(
        f"degree {degree}: train MSE {train:.3g}, error vs f {excess:.4g}, "
        f"test MSE {excess + SIGMA_SMALL**2:.4g}"
    )
for degree, value in ERRATA_TRAIN_MSE.items():
    check_close(
        f"degree {degree}: train MSE vs errata", ten_point_fits[degree][1], value, atol=5e-4
    )
for degree, value in ERRATA_NOISE_FREE_ERROR.items():
    check_close(
        f"degree {degree}: error vs f vs errata",
        ten_point_fits[degree][2],
        value,
        rtol=0.01,
        atol=0,
    )
polyfit_train_9 = mse(y_ten, np.polyval(np.polyfit(x_ten, y_ten, 9), x_ten))
check_close(
    "degree 9: train MSE, ours and np.polyfit's, vs 0",
    np.array([ten_point_fits[9][1], polyfit_train_9]),
    np.zeros(2),
    atol=1e-15,
)
print(f"degree 9 with np.polyfit (monomials): train MSE {polyfit_train_9:.1e}")

# %% [markdown]
# ### The optimism of the training error
#
# {eq}`fit-expected-errors` and {eq}`fit-optimism` by simulation: one fixed design of
# $n=20$ inputs, degree 5 ($p=6$), 20 000 noise draws at once (the fit is linear in $y$,
# so all draws are one matrix product). The tolerances are four standard errors of the
# Monte-Carlo means.


# %%
def optimism_simulation(
    x: np.ndarray, degree: int, sigma: float, n_draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Training and in-sample errors of least squares, one per noise draw: two (n_draws,)."""
    design = legendre_design(x, degree)  # (n, p)
    hat = design @ np.linalg.pinv(design)  # (n, n): H, the projection onto the features
    f_x = np.sin(2 * np.pi * x)  # (n,)
    y = f_x + sigma * rng.standard_normal((n_draws, len(x)))  # (M, n)
    fitted = y @ hat.T  # (M, n): Hy for each draw
    train = np.mean((y - fitted) ** 2, axis=1)  # (M,)
    in_sample = sigma**2 + np.mean((f_x - fitted) ** 2, axis=1)  # (M,): E over fresh noise
    return train, in_sample


x_design, _ = noisy_function_1d(20, rng)
design_degree, n_design = 5, len(x_design)
p_design = design_degree + 1
train_draws, in_sample_draws = optimism_simulation(
    x_design, design_degree, SIGMA_SMALL, 20_000, rng
)
design = legendre_design(x_design, design_degree)
f_design = np.sin(2 * np.pi * x_design)
bias2 = mse(f_design, design @ np.linalg.lstsq(design, f_design, rcond=None)[0])  # b_n²
for name, draws, expected in [
    ("E err_train", train_draws, SIGMA_SMALL**2 * (1 - p_design / n_design) + bias2),
    ("E Err_in", in_sample_draws, SIGMA_SMALL**2 * (1 + p_design / n_design) + bias2),
    ("optimism", in_sample_draws - train_draws, 2 * SIGMA_SMALL**2 * p_design / n_design),
]:
    standard_error = draws.std() / np.sqrt(len(draws))
    check_close(
        f"{name} vs eq. (fit-expected-errors)", draws.mean(), expected, atol=4 * standard_error
    )

# %% [markdown]
# ### Cross-validation from scratch against `KFold` and `cross_val_score`
#
# Twenty points, drawn from a generator of their own (seed 3) so that the experiments that
# use them do not depend on the cells above; Experiment 5 repeats the key numbers on ten such
# data sets. The model is a degree-15 ridge pipeline. The folds of `kfold_splits` must be exactly
# those of `KFold`; the per-fold MSEs of `cross_validation_mse` must equal
# `cross_val_score`'s (negated) to machine precision, for every $\alpha$ of the validation
# curve of Experiment 2, and the latter must equal `validation_curve`'s scores.

# %%
N_CURVE, N_FOLDS, FOLD_SEED, RIDGE_DEGREE, CURVE_SEED = 20, 5, 0, 15, 3
curve_rng = np.random.default_rng(CURVE_SEED)
x_curve, y_curve = noisy_function_1d(N_CURVE, curve_rng, noise_std=SIGMA_SMALL)
X_curve = x_curve[:, None]  # (n, 1)
splits = kfold_splits(N_CURVE, N_FOLDS, FOLD_SEED)
sklearn_folds = KFold(N_FOLDS, shuffle=True, random_state=FOLD_SEED)
for k, ((train, held_out), (sk_train, sk_held_out)) in enumerate(
    zip(splits, sklearn_folds.split(X_curve), strict=True)
):
    check_equal(f"fold {k}: training indices vs KFold", train, sk_train, quiet=True)
    check_equal(f"fold {k}: held-out indices vs KFold", held_out, sk_held_out, quiet=True)
print(f"✓ all {N_FOLDS} folds identical to KFold(shuffle=True, random_state={FOLD_SEED})")


def ridge_polynomial(alpha: float, degree: int = RIDGE_DEGREE) -> Pipeline:
    """Legendre features of degree `degree` and ridge, eq. (fit-ridge)."""
    return make_pipeline(LegendreFeatures(degree), Ridge(alpha=alpha))


alphas = np.logspace(-8, 2, 11)  # (A,): one per decade
ours_per_alpha = np.array(
    [cross_validation_mse(ridge_polynomial(a), X_curve, y_curve, splits) for a in alphas]
)  # (A, K)
sklearn_per_alpha = -np.array(
    [
        cross_val_score(
            ridge_polynomial(a),
            X_curve,
            y_curve,
            cv=sklearn_folds,
            scoring="neg_mean_squared_error",
        )
        for a in alphas
    ]
)  # (A, K)
ridge_train_scores, ridge_val_scores = validation_curve(
    ridge_polynomial(1.0),
    X_curve,
    y_curve,
    param_name="ridge__alpha",
    param_range=alphas,
    cv=sklearn_folds,
    scoring="neg_mean_squared_error",
)
check_close(
    f"per-fold CV MSE, ours vs cross_val_score, {len(alphas)} alphas",
    ours_per_alpha,
    sklearn_per_alpha,
    atol=0,
    rtol=1e-13,
)
check_close(
    "cross_val_score vs validation_curve", sklearn_per_alpha, -ridge_val_scores, atol=0, rtol=1e-13
)

# %% [markdown]
# ### Gradient descent and ridge in closed form
#
# The features of the early-stopping experiment (below): thirty Legendre features scaled by
# $1/(k+1)$ on twenty points. Gradient descent run step by step must follow
# {eq}`fit-gd-filter`, and the ridge side must equal `Ridge(fit_intercept=False)`.

# %%
ES_DEGREE = 29  # p = 30 features for n = 20 training points: over-parameterised
N_ES_TRAIN, N_ES_VAL, SIGMA_ES = 20, 30, 0.3


def smooth_features(x: np.ndarray) -> np.ndarray:
    """φ_k(x) / (k + 1), k = 0..29, shape (n, 30): gradient descent fits low degrees first."""
    return legendre_design(x, ES_DEGREE) / (1 + np.arange(ES_DEGREE + 1))


def draw_es_data(seed: int) -> tuple[np.ndarray, ...]:
    """Training and validation features and targets of one early-stopping problem."""
    data_rng = np.random.default_rng(seed)
    x_tr, y_tr = noisy_function_1d(N_ES_TRAIN, data_rng, noise_std=SIGMA_ES)
    x_va, y_va = noisy_function_1d(N_ES_VAL, data_rng, noise_std=SIGMA_ES)
    return smooth_features(x_tr), y_tr, smooth_features(x_va), y_va


phi_train, y_es_train, phi_val, y_es_val = draw_es_data(seed=0)
gd_lr = 1.0 / np.linalg.norm(phi_train, 2) ** 2 * N_ES_TRAIN  # η = 1/μ_max: stable
gd_steps = np.array([1, 10, 100, 1000])
w_gd = np.zeros(phi_train.shape[1])
stepped = []
for step in range(1, gd_steps[-1] + 1):
    w_gd = w_gd - gd_lr * phi_train.T @ (phi_train @ w_gd - y_es_train) / N_ES_TRAIN
    if step in gd_steps:
        stepped.append(w_gd.copy())
check_close(
    "gradient descent vs eq. (fit-gd-filter) at t = 1, 10, 100, 1000",
    np.array(stepped),
    gradient_descent_weights(phi_train, y_es_train, gd_lr, gd_steps),
    atol=1e-10,
)
check_alphas = np.array([1e-4, 1e-2, 1.0])
sklearn_ridge = np.array(
    [Ridge(alpha=a, fit_intercept=False).fit(phi_train, y_es_train).coef_ for a in check_alphas]
)
check_close(
    "ridge eq. (fit-gd-filter) vs Ridge(fit_intercept=False)",
    ridge_weights(phi_train, y_es_train, check_alphas),
    sklearn_ridge,
    atol=1e-8,
)

# %% [markdown]
# ### Early stopping restores the best checkpoint
#
# One run of SGD (batch 4, $\eta=0.2$) with patience 50, and one run of the same seed for a
# fixed 2000 epochs with no stopping. The stopped run must have followed the long run's
# trajectory, stopped where {eq}`fit-patience` applied to the long run's history says, and
# returned weights identical (bit for bit) to a third run trained for exactly $t^\star$
# epochs; its validation loss must be the recorded minimum.

# %%
SGD_SETTINGS = dict(lr=0.2, batch_size=4, seed=0)
PATIENCE, MAX_EPOCHS = 50, 2000
stopped = train_sgd(
    phi_train,
    y_es_train,
    phi_val,
    y_es_val,
    max_epochs=MAX_EPOCHS,
    stopper=EarlyStopping(PATIENCE),
    **SGD_SETTINGS,
)
full = train_sgd(phi_train, y_es_train, phi_val, y_es_val, max_epochs=MAX_EPOCHS, **SGD_SETTINGS)
best_epoch, stop_epoch = stopped.best_epoch, stopped.stop_epoch
check_equal(
    "validation losses of the stopped run vs the long run",
    stopped.val_losses,
    full.val_losses[:stop_epoch],
)
epochs = np.arange(1, MAX_EPOCHS + 1)
best_so_far = np.array([np.argmin(full.val_losses[:t]) + 1 for t in epochs])  # t*(t)
check_equal(
    "stop epoch vs eq. (fit-patience) on the long run",
    stop_epoch,
    int(epochs[np.argmax(epochs - best_so_far >= PATIENCE)]),
)
retrained = train_sgd(
    phi_train, y_es_train, phi_val, y_es_val, max_epochs=best_epoch, **SGD_SETTINGS
)
check_equal("restored weights vs weights after t* epochs", stopped.weights, retrained.weights)
check_equal(
    "validation loss of the restored weights vs the recorded minimum",
    mse(y_es_val, phi_val @ stopped.weights),
    stopped.val_losses.min(),
)
print(f"best epoch t* = {best_epoch}, stopped at T = {stop_epoch} (patience {PATIENCE})")

# %% [markdown]
# The notes' rule is patience 1; run for real, it must stop where `first_increase_epoch`
# says on the long run's history.

# %%
naive = train_sgd(
    phi_train,
    y_es_train,
    phi_val,
    y_es_val,
    max_epochs=MAX_EPOCHS,
    stopper=EarlyStopping(1),
    **SGD_SETTINGS,
)
check_equal(
    "patience-1 stop epoch vs first increase of the validation loss",
    naive.stop_epoch,
    first_increase_epoch(full.val_losses),
)

# %% [markdown]
# ## Experiments
#
# ### 1. The notes' example: underfitting and overfitting in numbers
#
# The three fits of the Verification section, and the training and test errors of every
# degree from 0 to 9 on the same ten points.

# %%
degrees_ten = np.arange(10)
ten_train, ten_test = [], []
for degree in degrees_ten:
    coef = least_squares_polynomial(x_ten, y_ten, degree)
    ten_train.append(mse(y_ten, legendre_design(x_ten, degree) @ coef))
    ten_test.append(SIGMA_SMALL**2 + excess_error(legendre_design(x_grid, degree) @ coef))
ten_train, ten_test = np.array(ten_train), np.array(ten_test)
best_degree_ten = int(degrees_ten[np.argmin(ten_test)])

fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_fit.plot(x_grid, f_grid, color="0.5", ls="--", label=r"truth $\sin 2\pi x$")
for colour, (degree, (coef, train, excess)) in zip(PALETTE, ten_point_fits.items(), strict=False):
    label = f"degree {degree}: train {train:.2g}, test {excess + SIGMA_SMALL**2:.3g}"
    ax_fit.plot(x_grid, legendre_design(x_grid, degree) @ coef, color=colour, label=label)
ax_fit.plot(x_ten, y_ten, "o", color="k", ms=5, label="10 training points")
ax_fit.set(xlabel="$x$", ylabel="$y$", ylim=(-2, 2), title="Three fits to the same ten points")
ax_fit.legend(loc="lower left", fontsize=8)
ax_err.semilogy(degrees_ten, np.maximum(ten_train, 1e-6), "o-", label="training MSE")
ax_err.semilogy(degrees_ten, ten_test, "s-", label="test MSE")
ax_err.axhline(SIGMA_SMALL**2, color="0.5", ls=":", label=r"noise floor $\sigma^2$")
ax_err.annotate(
    f"{ten_train[9]:.0e}, drawn at $10^{{-6}}$", (9, 1e-6), xytext=(5.6, 1.5e-6), fontsize=8
)
ax_err.set(xlabel="polynomial degree $q$", ylabel="MSE (log scale)", ylim=(5e-7, 1e3))
ax_err.set_title("Training error only falls; test error is a U")
ax_err.legend(loc="lower left")
fig.suptitle(
    f"Degree 1 underfits (train {ten_train[1]:.2f}), degree 9 interpolates and overfits "
    f"(test {ten_test[9]:.0f}); best degree {best_degree_ten}"
)
plt.show()

# %% [markdown]
# Degree 1 has a training error four times the noise floor (printed in the title): it
# cannot follow the sine, and its test error is of the same order. Degree 9 has a training
# error of zero to rounding (`np.polyfit`'s monomials leave about $10^{-19}$, the errata's
# value; the Legendre basis less) and by far the largest test error: a low training error
# with a huge gap. In between, the test error bottoms out near the floor.
#
# ### 2. Validation curves: error vs degree and vs ridge $\alpha$
#
# Twenty points, 5-fold CV via `validation_curve`: the mean training error of the fold
# models, the CV error {eq}`fit-cv`, and, since the truth is known, the test error of the
# model trained on all twenty points. Left: least squares of increasing degree. Right:
# the degree-15 Legendre model with ridge {eq}`fit-ridge`, the L2 remedy.

# %%
curve_degrees = np.arange(1, 16)
degree_train_scores, degree_val_scores = validation_curve(
    make_pipeline(LegendreFeatures(), LinearRegression(tol=1e-12)),
    X_curve,
    y_curve,
    param_name="legendrefeatures__degree",
    param_range=curve_degrees,
    cv=sklearn_folds,
    scoring="neg_mean_squared_error",
)


def full_data_test_error(model: Pipeline) -> float:
    """Test error σ² + E_x (f - f̂)² of `model` trained on all twenty points."""
    return SIGMA_SMALL**2 + excess_error(model.fit(X_curve, y_curve).predict(x_grid[:, None]))


degree_test = np.array(
    [
        full_data_test_error(make_pipeline(LegendreFeatures(d), LinearRegression(tol=1e-12)))
        for d in curve_degrees
    ]
)
alpha_test = np.array([full_data_test_error(ridge_polynomial(a)) for a in alphas])
cv_degree = int(curve_degrees[np.argmin(-degree_val_scores.mean(axis=1))])
cv_alpha = float(alphas[np.argmin(-ridge_val_scores.mean(axis=1))])
oracle_alpha = float(alphas[np.argmin(alpha_test)])
oracle_degree = int(curve_degrees[np.argmin(degree_test)])

# %%
fig, (ax_deg, ax_alpha) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, grid, train_scores, val_scores, test in [
    (ax_deg, curve_degrees, degree_train_scores, degree_val_scores, degree_test),
    (ax_alpha, alphas, ridge_train_scores, ridge_val_scores, alpha_test),
]:
    ax.plot(grid, -train_scores.mean(axis=1), "o-", ms=3, label="training (fold models)")
    ax.plot(grid, -val_scores.mean(axis=1), "s-", ms=3, label="5-fold CV")
    ax.plot(grid, test, "^-", ms=3, label="test, model on all data")
    ax.axhline(SIGMA_SMALL**2, color="0.5", ls=":", label=r"$\sigma^2$")
    ax.set_yscale("log")
ax_deg.set(xlabel="polynomial degree $q$", ylabel="MSE (log scale)", ylim=(1e-3, 1e4))
ax_deg.set_title(f"Least squares: CV picks degree {cv_degree}, test optimum {oracle_degree}")
ax_deg.legend(loc="upper left")
ax_alpha.set_xscale("log")
ax_alpha.invert_xaxis()  # complexity grows to the right on both panels
ax_alpha.set(xlabel=r"ridge $\alpha$ (decreasing →)")
ax_alpha.set_title(
    f"Degree 15 + ridge: CV picks α = {cv_alpha:.0e}, test optimum {oracle_alpha:.0e}"
)
fig.suptitle("Validation curves: training error falls with complexity, CV and test error are U")
plt.show()
print(
    f"least squares: test MSE at CV's degree {cv_degree}: "
    f"{degree_test[curve_degrees == cv_degree][0]:.4f}, at the best degree {oracle_degree}: "
    f"{degree_test.min():.4f}"
)
print(
    f"degree 15 + ridge: test MSE at α = {alphas[0]:.0e}: {alpha_test[0]:.3g}; "
    f"at CV's α = {cv_alpha:.0e}: {alpha_test[alphas == cv_alpha][0]:.3f}; "
    f"at the best α = {oracle_alpha:.0e}: {alpha_test.min():.3f}"
)

# %% [markdown]
# Both panels read the same way: on the left side of each, training and CV error are high
# and close (underfitting); on the right, the training error keeps falling while the CV
# error shoots up (overfitting). Ridge turns the barely regularised degree-15 model, whose
# test error is in the millions, into one within a small factor of the noise floor (printed
# above): the L2 remedy. It does not beat the well-chosen degree 3 here; one reason is that the
# same penalty shrinks the low-degree coefficients that the sine needs.
#
# The CV curve is not the test curve of the final model: each fold model has only 16 points
# and must predict held-out points that can lie beyond its training inputs, where a
# high-degree polynomial extrapolates badly, so the two differ by orders of magnitude on the
# right. CV estimates the error of the *procedure trained on 4/5 of the data*; for
# selection only the position of its minimum matters, and in both panels CV's choice has a
# test error close to the best on the grid (printed above).
#
# ### 3. Learning curves: more data closes the gap of an overfitting model only
#
# For $n$ from 12 to 1000, 200 training sets each: the training error and the test error
# of degree 1 (underfits) and degree 9 ($p=10$, overfits at small $n$). The plot shows
# medians over the training sets: at small $n$ the mean test error of degree 9 is dominated
# by the few sets whose inputs leave an edge of $[0,1]$ empty, where the polynomial
# extrapolates wildly (the printout shows how far mean and median are apart). The checks
# use means, which is what {eq}`fit-expected-errors` is about. The plateau of degree 1 is
# known: the best line through $\sin 2\pi x$ on $U(0,1)$ has slope $-6/\pi$ and leaves the
# error $\tfrac12-3/\pi^2$, so both its curves must approach $\sigma^2+\tfrac12-3/\pi^2$.

# %%
LEARNING_SIZES = np.array([12, 15, 20, 30, 50, 100, 200, 500, 1000])
N_SETS = 200


def learning_curve_errors(degree: int, rng: np.random.Generator) -> np.ndarray:
    """Training and test MSE of N_SETS fits per size: shape (2, len(LEARNING_SIZES), N_SETS)."""
    grid_design = legendre_design(x_grid, degree)  # (2000, p)
    errors = np.empty((2, len(LEARNING_SIZES), N_SETS))
    for i, n in enumerate(LEARNING_SIZES):
        for j in range(N_SETS):
            x, y = noisy_function_1d(n, rng, noise_std=SIGMA_SMALL)
            coef = least_squares_polynomial(x, y, degree)
            errors[0, i, j] = mse(y, legendre_design(x, degree) @ coef)
            errors[1, i, j] = SIGMA_SMALL**2 + excess_error(grid_design @ coef)
    return errors


learning = {degree: learning_curve_errors(degree, rng) for degree in (1, 9)}
means = {degree: errors.mean(axis=2) for degree, errors in learning.items()}  # (2, sizes)
medians = {degree: np.median(errors, axis=2) for degree, errors in learning.items()}
print(
    f"degree 9, n = {LEARNING_SIZES[0]}: mean test MSE {means[9][1, 0]:.2g}, "
    f"median {medians[9][1, 0]:.3g}"
)

# %% [markdown]
# The checks: degree 1 reaches its plateau; degree 9's gap closes at every step; and at
# $n=1000$ the mean training error of degree 9 is $\sigma^2(1-p/n)+b^2$ of
# {eq}`fit-expected-errors` (its bias $b^2$, the error of the best degree-9 polynomial,
# computed by quadrature, is tiny), within four standard errors.

# %%
linear_plateau = SIGMA_SMALL**2 + 0.5 - 3 / np.pi**2
for name, curve in zip(("training", "test"), means[1], strict=True):
    check_close(
        f"degree 1, n = 1000: mean {name} MSE vs σ² + 1/2 - 3/π²",
        curve[-1],
        linear_plateau,
        atol=5e-3,
    )
median_gap_9 = medians[9][1] - medians[9][0]
check_true(
    "degree 9: the median gap shrinks at every step of n",
    bool(np.all(np.diff(median_gap_9) < 0)),
    f"{median_gap_9[0]:.3g} at n = 12 → {median_gap_9[-1]:.2g} at n = 1000",
)
quad_x = (nodes + 1) / 2  # Gauss-Legendre nodes on [0, 1], from the orthonormality check
sine_coefficients = (legendre_design(quad_x, 9).T * quadrature_weights / 2) @ np.sin(
    2 * np.pi * quad_x
)  # E[f φ_k], (10,)
best_degree_9_error = 0.5 - np.sum(sine_coefficients**2)  # E f² - Σ c_k²: b² of degree 9
train_1000 = learning[9][0, -1]  # (N_SETS,)
check_close(
    "degree 9, n = 1000: mean training MSE vs σ²(1 - p/n) + b²",
    train_1000.mean(),
    SIGMA_SMALL**2 * (1 - 10 / 1000) + best_degree_9_error,
    atol=4 * train_1000.std() / np.sqrt(N_SETS),
)
gap_9 = means[9][1] - means[9][0]
print(
    f"degree 9: b² = {best_degree_9_error:.1e}; mean gap at n = 1000 {gap_9[-1]:.2e} "
    f"vs the in-sample 2σ²p/n = {2 * SIGMA_SMALL**2 * 10 / 1000:.2e} (test points are new x)"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, degree in zip(axes, (1, 9), strict=True):
    ax.loglog(LEARNING_SIZES, medians[degree][0], "o-", label="training MSE")
    ax.loglog(LEARNING_SIZES, medians[degree][1], "s-", label="test MSE")
    ax.axhline(SIGMA_SMALL**2, color="0.5", ls=":", label=r"noise floor $\sigma^2$")
    ax.set(xlabel="training-set size $n$", ylabel="median MSE over 200 training sets")
axes[0].axhline(
    linear_plateau, color=PALETTE[2], ls="--", label=r"$\sigma^2+\frac{1}{2}-\frac{3}{\pi^2}$"
)
axes[0].set_ylim(0.02, 0.5)
axes[0].set_title(
    f"Degree 1: both plateau at {medians[1][1, -1]:.3f}, far above σ² = {SIGMA_SMALL**2:.2f}"
)
axes[1].set_title(f"Degree 9: gap {median_gap_9[0]:.2g} at n = 12 closes to {median_gap_9[-1]:.1e}")
axes[0].legend(loc="lower right")
axes[1].legend(loc="upper right")
fig.suptitle("Learning curves: more data cures overfitting (right), not underfitting (left)")
plt.show()
print(
    f"n = 50 → 1000, median test MSE: degree 1 {medians[1][1, 4]:.3f} → {medians[1][1, -1]:.3f}; "
    f"degree 9 {medians[9][1, 4]:.3f} → {medians[9][1, -1]:.3f}"
)

# %% [markdown]
# ### 4. Early stopping: patience vs "stop at the first increase"
#
# The run of the Verification section: thirty features $\phi_k/(k+1)$ on twenty points,
# over-parameterised (trained long enough, it interpolates the noise), SGD with batch 4.
# The scaling by $1/(k+1)$ makes the low degrees the large-$\mu_j$ directions of
# {eq}`fit-gd-filter`, so SGD fits the smooth part of the data first and the noise later;
# the minibatches make the validation curve jitter.

# %%
naive_epoch = naive.stop_epoch
naive_val = full.val_losses[naive_epoch - 1]
without_restore = train_sgd(  # the notes' rule keeps the weights of the epoch it stops at
    phi_train, y_es_train, phi_val, y_es_val, max_epochs=naive_epoch, **SGD_SETTINGS
)
final_weights = {
    "patience 50, restored": stopped.weights,
    "first increase": without_restore.weights,
    f"all {MAX_EPOCHS} epochs": full.weights,
}
for name, weights in final_weights.items():
    test_mse = SIGMA_ES**2 + excess_error(smooth_features(x_grid) @ weights)
    print(f"{name:>22}: test MSE {test_mse:.4f}")
print(
    f"first increase at epoch {naive_epoch} (validation {naive_val:.4f}); "
    f"patience: best epoch {best_epoch} (validation {stopped.val_losses.min():.4f}), "
    f"stopped at {stop_epoch}"
)

# %%
fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(11, 4.2))
for ax in (ax_all, ax_zoom):
    ax.plot(epochs, full.train_losses, color=PALETTE[0], label="training MSE")
    ax.plot(epochs, full.val_losses, color=PALETTE[1], label="validation MSE")
    ax.axvline(naive_epoch, color=PALETTE[3], ls=":", label=f"first increase (epoch {naive_epoch})")
    ax.axvline(best_epoch, color=PALETTE[2], ls="--", label=f"best epoch {best_epoch} (restored)")
    ax.axvline(
        stop_epoch, color=PALETTE[4], ls="-.", label=f"patience {PATIENCE} stops ({stop_epoch})"
    )
    ax.plot(best_epoch, stopped.val_losses.min(), "*", color=PALETTE[2], ms=12)
    ax.set(xlabel="epoch", ylabel="MSE")
ax_all.set(xscale="log", yscale="log", title=f"All {MAX_EPOCHS} epochs: validation loss U-turns")
ax_all.legend(loc="lower left", fontsize=8)
ax_zoom.set(xlim=(1, stop_epoch + 20), ylim=(0.0, 0.4), title="Zoom: the first uptick is noise")
fig.suptitle(
    f"The first increase stops at epoch {naive_epoch} (val {naive_val:.3f}); "
    f"patience restores epoch {best_epoch} (val {stopped.val_losses.min():.3f})"
)
plt.show()

# %% [markdown]
# In the figure, the validation loss falls fast at first and then flattens into a shallow
# valley with small bumps from the minibatches. The first bump ends the notes' rule while
# the loss is still falling; the patience rule rides through it, finds the bottom of the
# valley, waits fifty epochs to be sure, and hands back the weights of the bottom. Training
# on to the end would cost more: the right end of the left panel is the overfitting regime,
# with the training loss still falling and the validation loss rising. In the printout
# above, the restored model has the lowest *test* error of the three.
#
# One run could be luck. The same comparison on 20 problems, each with its own data and
# minibatch order; the test error (not the validation loss, which the patience rule
# minimised) is the fair measure.

# %%
N_ES_REPEATS = 20
repeat_rows = []
for seed in range(1, N_ES_REPEATS + 1):
    problem = draw_es_data(seed)
    settings = dict(lr=0.2, batch_size=4, seed=seed, max_epochs=MAX_EPOCHS)
    with_patience = train_sgd(*problem, stopper=EarlyStopping(PATIENCE), **settings)
    naive_stop = first_increase_epoch(with_patience.val_losses)
    first_increase = train_sgd(*problem, **(settings | dict(max_epochs=naive_stop)))
    repeat_rows.append(
        [
            naive_stop,
            with_patience.best_epoch,
            SIGMA_ES**2 + excess_error(smooth_features(x_grid) @ first_increase.weights),
            SIGMA_ES**2 + excess_error(smooth_features(x_grid) @ with_patience.weights),
        ]
    )
repeats = np.array(repeat_rows)  # (R, 4)
patience_better = int(np.sum(repeats[:, 3] < repeats[:, 2]))
print(
    f"median stop epoch: first increase {np.median(repeats[:, 0]):.0f}, "
    f"patience's best epoch {np.median(repeats[:, 1]):.0f}; median test MSE "
    f"{np.median(repeats[:, 2]):.4f} vs {np.median(repeats[:, 3]):.4f}; "
    f"patience better in {patience_better} of {N_ES_REPEATS}"
)
check_true(
    "patience + restore beats the first increase in most problems",
    patience_better > N_ES_REPEATS // 2,
    f"{patience_better} of {N_ES_REPEATS}",
)

# %% [markdown]
# Early stopping as a regulariser, per {eq}`fit-gd-filter`: on the same data, the test error
# along the full-batch gradient-descent path ($\eta=1/\mu_{\max}$, all $t$ at once from
# the closed form) against $n/(\eta t)$, and along the ridge path against $\alpha$.

# %%
path_steps = np.unique(np.geomspace(1, 1e6, 200).astype(int))
ridge_alphas = np.logspace(-8, 2, 200)
grid_features = smooth_features(x_grid)
gd_path_test = SIGMA_ES**2 + np.mean(
    (gradient_descent_weights(phi_train, y_es_train, gd_lr, path_steps) @ grid_features.T - f_grid)
    ** 2,
    axis=1,
)
ridge_path_test = SIGMA_ES**2 + np.mean(
    (ridge_weights(phi_train, y_es_train, ridge_alphas) @ grid_features.T - f_grid) ** 2, axis=1
)
best_t = path_steps[np.argmin(gd_path_test)]
best_ridge_alpha = ridge_alphas[np.argmin(ridge_path_test)]
print(
    f"gradient descent: best test MSE {gd_path_test.min():.4f} at t = {best_t} "
    f"(n/(ηt) = {N_ES_TRAIN / (gd_lr * best_t):.2g}); ridge: best {ridge_path_test.min():.4f} "
    f"at α = {best_ridge_alpha:.2g}"
)

# %%
fig, ax = plt.subplots()
ax.loglog(N_ES_TRAIN / (gd_lr * path_steps), gd_path_test, label="gradient descent, t steps")
ax.loglog(ridge_alphas, ridge_path_test, "--", label="ridge")
ax.axhline(SIGMA_ES**2, color="0.5", ls=":", label=r"noise floor $\sigma^2$")
ax.invert_xaxis()  # more training / less regularisation to the right
ax.set(
    xlabel=r"ridge $\alpha$, or $n/(\eta t)$ for gradient descent (decreasing →)",
    ylabel="test MSE",
    title="Stopping gradient descent early regularises like ridge",
)
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# The two curves have the same U and nearly the same minimum, at effective strengths of the
# same order (printed above); the correspondence $\alpha\approx n/(\eta t)$ is rough
# because the two filters in {eq}`fit-gd-filter` have different shapes. Stopping time *is*
# a regularisation strength.

# %% [markdown]
# ### 5. Cross-validation is a diagnostic
#
# Back to the twenty points and the degree-15 ridge model. First, running CV changes
# nothing about the model that is fitted: the final model trained on all the data, with or
# without a CV run (ours and scikit-learn's) in between, has identical coefficients, and the
# estimator passed to `cross_val_score` is left unfitted (it fits clones).

# %%
fixed_alpha = 1e-8  # barely regularised: the model overfits
final_without_cv = ridge_polynomial(fixed_alpha).fit(X_curve, y_curve)
model = ridge_polynomial(fixed_alpha)
cv_estimate = cross_validation_mse(model, X_curve, y_curve, splits).mean()
cross_val_score(model, X_curve, y_curve, cv=sklearn_folds, scoring="neg_mean_squared_error")
check_true(
    "cross_val_score leaves the estimator unfitted",
    not hasattr(model[-1], "coef_"),
    "no coef_ on the passed-in Ridge",
)
final_with_cv = model.fit(X_curve, y_curve)
check_equal(
    "final coefficients with vs without running CV",
    final_with_cv[-1].coef_,
    final_without_cv[-1].coef_,
)
print(
    f"α = {fixed_alpha:.0e}: CV estimate {cv_estimate:.3g}, training MSE "
    f"{mse(y_curve, final_with_cv.predict(X_curve)):.2g}, test MSE "
    f"{full_data_test_error(ridge_polynomial(fixed_alpha)):.3g}: CV diagnosed overfitting, "
    "it did not prevent it"
)

# %% [markdown]
# Second, CV *selects*: the $\alpha$ with the lowest CV error, from our loop and from
# `GridSearchCV`, and the model refitted at that $\alpha$ on all the data. `GridSearchCV`'s
# refitted model must be exactly `Ridge` at $\hat\alpha$ trained on all the data: the
# regularisation comes from $\hat\alpha$.

# %%
selected_alpha = float(alphas[np.argmin(ours_per_alpha.mean(axis=1))])  # eq. (fit-select)
search = GridSearchCV(
    ridge_polynomial(1.0),
    {"ridge__alpha": alphas},
    cv=sklearn_folds,
    scoring="neg_mean_squared_error",
).fit(X_curve, y_curve)
check_equal("α̂, ours vs GridSearchCV", selected_alpha, search.best_params_["ridge__alpha"])
refit = ridge_polynomial(selected_alpha).fit(X_curve, y_curve)
check_equal(
    "GridSearchCV's refitted model vs Ridge(α̂) on all data",
    search.best_estimator_.predict(x_grid[:, None]),
    refit.predict(x_grid[:, None]),
)
print(
    f"α̂ = {selected_alpha:.0e}: CV estimate {ours_per_alpha.mean(axis=1).min():.3f}, "
    f"test MSE {full_data_test_error(ridge_polynomial(selected_alpha)):.3f} "
    f"(vs {full_data_test_error(ridge_polynomial(fixed_alpha)):.3g} at α = {fixed_alpha:.0e})"
)

# %% [markdown]
# The same on ten data sets of twenty points (seeds 0 to 9; seed 3 is the one above): the
# test error of the barely regularised model, of the model at CV's $\hat\alpha$, and of the
# best $\alpha$ on the grid, which only an oracle that knows the truth could pick. To save
# time the features are computed once per data set and only `Ridge` runs inside the folds.
# That leaks nothing: `LegendreFeatures` learns nothing from the data (contrast the
# preprocessing pitfall below).

# %%
grid_legendre = LegendreFeatures(RIDGE_DEGREE).fit_transform(x_grid[:, None])  # (2000, 15)
selection_summary = []
for data_seed in range(10):
    x_set, y_set = noisy_function_1d(
        N_CURVE, np.random.default_rng(data_seed), noise_std=SIGMA_SMALL
    )
    features_set = LegendreFeatures(RIDGE_DEGREE).fit_transform(x_set[:, None])  # (n, 15)
    cv_curve = [
        cross_validation_mse(Ridge(alpha=a), features_set, y_set, splits).mean() for a in alphas
    ]
    test_curve = [
        SIGMA_SMALL**2
        + excess_error(Ridge(alpha=a).fit(features_set, y_set).predict(grid_legendre))
        for a in alphas
    ]
    selection_summary.append([test_curve[0], test_curve[int(np.argmin(cv_curve))], min(test_curve)])
selection_summary = np.array(selection_summary)  # (10, 3)
unregularised, cv_selected, oracle = np.median(selection_summary, axis=0)
print(
    f"median test MSE over 10 data sets: α = {alphas[0]:.0e}: {unregularised:.3g}; "
    f"CV's α̂: {cv_selected:.3f}; oracle α: {oracle:.3f}"
)
check_true(
    "CV's α̂ beats the barely regularised model on every data set",
    bool(np.all(selection_summary[:, 1] < selection_summary[:, 0])),
    f"worst ratio {np.max(selection_summary[:, 1] / selection_summary[:, 0]):.1e}",
)

# %% [markdown]
# So the division of labour is: CV measured (the printed CV estimate at the tiny $\alpha$ is
# enormous, an accurate alarm), CV chose ($\hat\alpha$, close to what the oracle picks), and
# ridge at $\hat\alpha$ regularised. Remove the penalty and CV can only report the damage;
# remove CV and a penalty picked some other way (a validation split, a rule of thumb) still
# regularises.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Use k-fold cross-validation to prevent overfitting." Right?
# No (the notes list it under prevention). CV fits $K$ throw-away models to *estimate* the
# error of a training procedure; the model you ship is trained on all the data and is the
# same whether or not you ran CV (Experiment 5 checks it). What prevents overfitting is the
# choice CV informs: a smaller degree, a larger $\alpha$, fewer epochs. CV also has a
# variance of its own, and selecting the minimum of many CV scores overfits the CV estimate
# {cite}`cawley2010overfitting`; report the error of a selected model with an outer loop
# (nested CV) or a held-out test set {cite}`varma2006bias`.
# :::
#
# :::{dropdown} "Stop training when the validation loss increases." Right?
# Only with a patience window and a restore. The validation loss of SGD training jitters,
# so its first uptick usually comes long before its minimum (Experiment 4), and even
# patience alone returns weights $P$ epochs past the best. Keep a copy of the best weights
# and restore them at the end {cite}`prechelt1998early`. Libraries differ here:
# scikit-learn's `MLPRegressor` with `early_stopping=True` counts `n_iter_no_change` epochs
# without an improvement of at least `tol` (a *min delta*) and restores the best weights;
# Keras' `EarlyStopping` has `patience` and `min_delta` but restores only with
# `restore_best_weights=True`, which is off by default. The epoch count is then a
# hyperparameter chosen on the validation set, with the same optimism as any other.
# :::
#
# :::{dropdown} Is the best validation loss an estimate of the test error?
# No, it is biased low: it is a minimum over many epochs (or $\alpha$ values) of noisy
# estimates. The cell below makes it visible with the worst form of it, tuning on the test
# set: choose the degree (1 to 12) with the lowest error on a 20-point "test" set, then
# evaluate the chosen model on fresh data, 200 times.
# :::

# %%
selection_rows = []
for _ in range(200):
    x_tr, y_tr = noisy_function_1d(20, rng, noise_std=SIGMA_SMALL)
    x_te, y_te = noisy_function_1d(20, rng, noise_std=SIGMA_SMALL)
    fits = [least_squares_polynomial(x_tr, y_tr, q) for q in range(1, 13)]
    test_set_errors = [mse(y_te, legendre_design(x_te, len(c) - 1) @ c) for c in fits]
    chosen = fits[int(np.argmin(test_set_errors))]
    fresh_error = SIGMA_SMALL**2 + excess_error(legendre_design(x_grid, len(chosen) - 1) @ chosen)
    selection_rows.append([min(test_set_errors), fresh_error])
reported, fresh = np.array(selection_rows).mean(axis=0)
check_true(
    "the error on the set used for selection is optimistic",
    bool(reported < fresh),
    f"reported {reported:.4f} vs fresh data {fresh:.4f} (mean of 200)",
)

# %% [markdown]
# :::{dropdown} My preprocessing is fitted on all the data before CV. Does it matter?
# Yes, whenever the preprocessing looks at the targets or at the held-out rows: the
# validation folds have then been seen. The classic case is feature selection
# {cite}`ambroise2002selection` ({cite:t}`hastie2009elements`, §7.10.2). Below: 40 samples,
# 2000 features of pure noise, random labels, so every classifier has 50 % accuracy. Pick
# the 20 features most correlated with the labels on all the data, then cross-validate a
# logistic regression: the CV accuracy is far above chance. Put the selection inside the
# pipeline, so that each fold selects on its own training part, and the estimate is honest.
# Scalers and imputers leak less, but the rule is the same: fit every step inside the folds
# (a `Pipeline`).
# :::

# %%
leak_rows = []
for seed in range(5):
    leak_rng = np.random.default_rng(seed)
    X_noise = leak_rng.standard_normal((40, 2000))
    labels = np.repeat([0, 1], 20)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    X_selected = SelectKBest(f_classif, k=20).fit_transform(X_noise, labels)  # sees every row
    leaky = cross_val_score(LogisticRegression(), X_selected, labels, cv=folds).mean()
    honest_pipeline = make_pipeline(SelectKBest(f_classif, k=20), LogisticRegression())
    honest = cross_val_score(honest_pipeline, X_noise, labels, cv=folds).mean()
    leak_rows.append([leaky, honest])
leaky_accuracy, honest_accuracy = np.array(leak_rows).mean(axis=0)
check_true(
    "selection outside the folds inflates CV accuracy on pure noise",
    bool(leaky_accuracy > 0.8 and abs(honest_accuracy - 0.5) < 0.15),
    f"outside {leaky_accuracy:.2f} vs inside the pipeline {honest_accuracy:.2f} (chance 0.50)",
)

# %% [markdown]
# :::{dropdown} More data or more regularisation?
# Read the learning curve. If the gap is large and the validation error still falls with
# $n$ (degree 9 in Experiment 3), more data helps, and so does regularisation, which is
# cheaper. If both curves have flattened at a high level with a small gap (degree 1), more
# data is wasted: the bias $b^2$ does not depend on $n$; make the model more flexible or
# regularise *less*. Data augmentation is "more data" for the cost of compute.
# :::
#
# :::{dropdown} Does a bigger model always overfit more?
# No. The U in complexity is the classical picture for a fixed training procedure. Past the
# interpolation threshold ($p\approx n$), minimum-norm fits and large neural networks can get
# *better* as they grow (double descent, Experiment 4 of chapter 02;
# {cite:t}`belkin2019reconciling`, {cite:t}`nakkiran2020deep`). Early stopping and weight
# decay flatten the peak. Parameter count is a poor measure of effective complexity.
# :::
#
# :::{dropdown} My model underfits. What do I try, in what order?
# First rule out bugs: a model that cannot drive its loss to about zero on a handful of
# examples has one {cite}`karpathy2019recipe`. The cell below has a classic: predictions of
# shape $(N,1)$ minus targets of shape $(N,)$ broadcast to an $(N,N)$ matrix, whose mean is
# minimised by predicting the mean target everywhere; the loss plateaus at the variance of
# $y$ and the model "underfits" eight points. Then: train longer or with a better learning
# rate (look at the training loss curve), reduce regularisation (weight decay, dropout,
# augmentation), grow the model or add features.
# :::

# %%
device = get_device()
x_tiny = torch.rand(8, 1, device=device)  # (N, 1)
y_tiny = torch.sin(2 * torch.pi * x_tiny[:, 0]) + 0.2 * torch.randn(8, device=device)  # (N,)
tiny_losses = {}
for name, shape_bug in [("correct", False), ("broadcast bug", True)]:
    torch.manual_seed(1)
    net = torch.nn.Sequential(
        torch.nn.Linear(1, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 1),
    ).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-2)
    for _ in range(200):
        optimizer.zero_grad()
        prediction = net(x_tiny)  # (N, 1)
        if shape_bug:
            loss = ((prediction - y_tiny) ** 2).mean()  # (N, 1) - (N,) → (N, N)
        else:
            loss = ((prediction[:, 0] - y_tiny) ** 2).mean()  # (N,)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        tiny_losses[name] = ((net(x_tiny)[:, 0] - y_tiny) ** 2).mean().item()
y_variance = y_tiny.var(unbiased=False).item()
check_true(
    "the correct model overfits 8 points; the buggy one stays at Var(y)",
    tiny_losses["correct"] < 0.1 * y_variance and tiny_losses["broadcast bug"] > 0.9 * y_variance,
    f"MSE {tiny_losses['correct']:.3f} vs {tiny_losses['broadcast bug']:.3f}, "
    f"Var(y) {y_variance:.3f}",
)

# %% [markdown]
# :::{dropdown} My restored model is no better than the last one. Why?
# Probably the checkpoint was not a copy. `best = weights` (NumPy, updated in place) or
# `best = model.state_dict()` (PyTorch: a dict of references to the live tensors) keeps
# tracking the training, and "restoring" it returns the final weights. Copy:
# `weights.copy()`, `copy.deepcopy(model.state_dict())`. The cell below runs the stopper of
# the Verification section with the copy removed.
# :::


# %%
class AliasingEarlyStopping(EarlyStopping):
    """The same rule with the bug: the checkpoint is a reference, not a copy."""

    def update(self, epoch: int, val_loss: float, weights: np.ndarray) -> bool:
        stop = super().update(epoch, val_loss, weights)
        if self.best_epoch == epoch:
            self.best_weights = weights  # no copy: follows every later in-place update
        return stop


aliased = train_sgd(
    phi_train,
    y_es_train,
    phi_val,
    y_es_val,
    max_epochs=MAX_EPOCHS,
    stopper=AliasingEarlyStopping(PATIENCE),
    **SGD_SETTINGS,
)
aliased_val = mse(y_es_val, phi_val @ aliased.weights)
check_equal(
    "the aliased 'best' weights are the weights of the stop epoch",
    aliased_val,
    aliased.val_losses[-1],
)
print(
    f"recorded minimum {aliased.val_losses.min():.4f} at epoch {aliased.best_epoch}, "
    f"validation loss of the 'restored' weights {aliased_val:.4f}"
)

# %% [markdown]
# :::{dropdown} What else prevents overfitting besides what the notes list?
# Data augmentation (more effective data), weight decay (L2 by another name, see chapter
# 01 for how it differs in Adam), dropout and noise injection (train on perturbed inputs or
# activations), label smoothing (softer targets for classifiers), ensembling and bagging
# (averages away variance), and early stopping. Each trades some bias for less variance; the
# validation curve of its strength tells you how much.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A validation loss is recorded after epochs 1 to 10:
#    `0.90, 0.70, 0.72, 0.65, 0.66, 0.67, 0.64, 0.65, 0.66, 0.67`. With patience 3, at which
#    epoch does training stop and which epoch's weights are returned? What does the notes'
#    rule return?
#
#    :::{dropdown} Answer
#    The best so far is epoch 2 (0.70) until epoch 4 (0.65), then epoch 7 (0.64). Epochs 8,
#    9 and 10 do not improve on it, so training stops after epoch 10 and returns the weights
#    of epoch 7. The notes' rule stops at epoch 3, the first increase (0.72 > 0.70), with a
#    validation loss 0.08 higher than the best. Epochs 5 and 6 did not stop the patience
#    rule: epoch 4 was only 2 epochs old at epoch 6. The next cell checks it with
#    `EarlyStopping`.
#    :::

# %%
exercise_losses = [0.90, 0.70, 0.72, 0.65, 0.66, 0.67, 0.64, 0.65, 0.66, 0.67]
exercise_stopper = EarlyStopping(patience=3)
for epoch, loss in enumerate(exercise_losses, start=1):
    if exercise_stopper.update(epoch, loss, np.array([float(epoch)])):
        break
check_equal("exercise 1: stop epoch", epoch, 10)
check_equal("exercise 1: restored epoch", exercise_stopper.best_epoch, 7)
check_equal("exercise 1: checkpoint holds epoch 7's weights", exercise_stopper.best_weights, [7.0])
check_equal("exercise 1: the notes' rule", first_increase_epoch(np.array(exercise_losses)), 3)

# %% [markdown]
# 2. A model has training MSE 0.20 and validation MSE 0.21; a baseline that predicts the
#    mean has 0.50, and you believe the noise variance is about 0.05. Your colleague
#    suggests collecting twice as much data. What do the numbers say?
#
#    :::{dropdown} Answer
#    Underfitting: the training error is four times the noise level and the gap is tiny, so
#    the learning curve has already flattened (degree 1 in Experiment 3). Twice the data
#    will barely move either number. Make the model more flexible (more features, a bigger
#    network), lower its regularisation, train longer, and check for bugs.
#    :::
#
# 3. A least-squares model with $p=10$ parameters, noise variance $\sigma^2=0.04$: how many
#    training points make the expected gap between in-sample and training error at most
#    $0.004$? The next cell checks the answer by simulation.
#
#    :::{dropdown} Answer
#    By {eq}`fit-optimism` the gap is $2\sigma^2p/n$, so $n\ge2\cdot0.04\cdot10/0.004=200$.
#    :::

# %%
n_needed = int(np.ceil(2 * 0.04 * 10 / 0.004))
x_exercise, _ = noisy_function_1d(n_needed, rng)
train_ex, in_sample_ex = optimism_simulation(x_exercise, 9, 0.2, 4000, rng)
gap_draws = in_sample_ex - train_ex
check_equal("exercise 3: n", n_needed, 200)
check_close(
    "exercise 3: simulated gap at n = 200 vs 0.004",
    gap_draws.mean(),
    0.004,
    atol=4 * gap_draws.std() / np.sqrt(len(gap_draws)),
)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`bishop2006pattern`, Section 1.1: the polynomial fits of degrees 0 to 9 to ten
#   noisy points of $\sin 2\pi x$ that the notes' example follows.
# - {cite:t}`hastie2009elements`: Section 7.4 (optimism of the training error,
#   {eq}`fit-optimism`), Sections 7.10–7.10.2 ($K$-fold CV and the wrong way to combine it
#   with feature selection), Section 3.4.1 (ridge).
# - {cite:t}`efron1986biased`: the apparent error rate and its optimism.
# - {cite:t}`stone1974cross`: cross-validation for choosing and for assessing a predictor.
# - {cite:t}`cawley2010overfitting` and {cite:t}`varma2006bias`: overfitting in model
#   selection, and the bias of the minimum CV error (nested CV).
# - {cite:t}`ambroise2002selection`: selection bias from feature selection outside CV.
# - {cite:t}`prechelt1998early`: early-stopping criteria with patience-like rules on noisy
#   validation curves; {cite:t}`goodfellow2016deep`, Section 7.8: early stopping and its
#   equivalence to L2 for a quadratic loss ({eq}`fit-gd-filter`).
# - {cite:t}`hoerl1970ridge`: ridge regression.
# - {cite:t}`belkin2019reconciling` and {cite:t}`nakkiran2020deep`: double descent.
# - {cite:t}`karpathy2019recipe`: overfit a tiny batch first, as a test for bugs.
# - {cite:t}`pedregosa2011sklearn` and {cite:t}`sklearn2025validation`: `KFold`,
#   `cross_val_score`, `validation_curve`, `GridSearchCV` and pipelines.

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
# # 11. Imbalanced data
#
# **The question.** How do you deal with an imbalanced dataset?
#
# **What you will be able to answer.** Why accuracy misleads and what to report instead; the
# class-weight formula and why class weights, sample weights and oversampling are one idea;
# what reweighting does to the probabilities and to the decision threshold; how random
# over/under-sampling and SMOTE work, and why they belong inside the training folds only; how
# to pick a threshold from costs; and what focal loss changes in the gradient.

# %%
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import approx_fprime, minimize, minimize_scalar
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    StratifiedKFold,
    StratifiedShuffleSplit,
    TunedThresholdClassifierCV,
    cross_validate,
    train_test_split,
)
from sklearn.neighbors import NearestNeighbors
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_X_y,
    validate_data,
)

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.devices import get_device
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - **Measure first.** Accuracy is dominated by the majority class: with 950 negatives and 50
#   positives, the classifier that always says "negative" has accuracy 0.95, recall 0 and
#   F1 0 (the *accuracy paradox*). Report average precision (PR-AUC, whose random baseline is
#   the prevalence), per-class recall, balanced accuracy (the mean of the per-class recalls)
#   or Matthews' correlation coefficient (MCC), on a test set that keeps the real prevalence.
#   The notes recommend ROC-AUC here while their next question says not to use ROC on
#   imbalanced data; neither is right. ROC-AUC does not depend on the prevalence, which makes
#   it a fine *ranking* measure, but for the same reason it can look excellent while the
#   precision is poor ([chapter 12](12_classification_metrics.ipynb)).
# - **Move the threshold.** Often the cheapest fix: keep a calibrated model and predict
#   positive when $p(x)\ge c_{FP}/(c_{FP}+c_{FN})$, or pick the threshold on a validation set.
# - **Reweight.** Class weights $w_c=n/(C\,n_c)$ (scikit-learn's `"balanced"`) in a weighted
#   cross-entropy $-\sum_i w_{y_i}\log p_{i,y_i}$. Class weights are sample weights, and in
#   expectation they are random oversampling. For logistic regression they mostly add
#   $\log(w_1/w_0)$ to the logit: reweighting is threshold moving done during training, and
#   it leaves the probabilities miscalibrated.
# - **Resample, inside the training folds only.** Random oversampling duplicates minority
#   rows, random undersampling drops majority rows, SMOTE interpolates between a minority
#   point and one of its $k$ nearest minority neighbours. Resampling before the split puts
#   copies of validation rows into training and inflates the validation score.
# - **Focal loss** $-\alpha_t(1-p_t)^\gamma\log p_t$ down-weights examples that are already
#   well classified ($\gamma=0$ is cross-entropy); it was built for detectors that see
#   thousands of easy background boxes per object.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# Binary labels $y_i\in\{0,1\}$ with 1 the rare (positive) class; $n_c$ examples of class $c$,
# $n=n_0+n_1$, $C$ classes (here 2), prevalence $\pi=n_1/n$. A model outputs a score
# $z(x)$ (the logit) and $p(x)=\sigma(z(x))$, the predicted $P(y=1\mid x)$. Thresholding at
# $t$ gives the confusion counts $TP,FP,FN,TN$ of
# [chapter 12](12_classification_metrics.ipynb).
#
# ### The accuracy paradox, and metrics that see the rare class
#
# Accuracy $(TP+TN)/n$ weights every example equally, so the majority class dominates it. The
# classifier that predicts 0 everywhere has $TP=FP=0$, $FN=n_1$, $TN=n_0$:
#
# $$
# \text{accuracy}=\frac{n_0}{n}=1-\pi,\qquad \text{recall}=\frac{TP}{TP+FN}=0,\qquad
# F_1=\frac{2TP}{2TP+FP+FN}=0
# $$ (imb-paradox)
#
# With 950 negatives and 50 positives that is accuracy 0.95, recall 0 and F1 0. Two
# summaries that use all four counts and give this classifier no credit:
#
# $$
# \text{balanced accuracy}=\frac12\Big(\frac{TP}{TP+FN}+\frac{TN}{TN+FP}\Big),\qquad
# \text{MCC}=\frac{TP\cdot TN-FP\cdot FN}{\sqrt{(TP+FP)(TP+FN)(TN+FP)(TN+FN)}}
# $$ (imb-balanced-accuracy)
#
# Balanced accuracy is 0.5 for any constant prediction, and MCC, a correlation between
# prediction and label, is 0 (scikit-learn defines its $0/0$ as 0). Threshold-free, average
# precision (AP) of a constant score equals the prevalence $\pi$, while ROC-AUC is 0.5 at
# every prevalence. That is the real difference between the two curves, worked out in
# [chapter 12](12_classification_metrics.ipynb): ROC-AUC measures ranking and ignores the
# prevalence, AP measures how much the positive predictions can be trusted at this prevalence.
# Neither "handles" imbalance; report AP with the prevalence beside it, and the per-class
# recalls at the threshold you deploy.
#
# ### Class weights
#
# scikit-learn's `class_weight="balanced"` gives class $c$ the weight
#
# $$
# w_c=\frac{n}{C\,n_c}
# $$ (imb-balanced-weights)
#
# so that every class carries the same total weight, $n_c w_c=n/C$, and the total is
# unchanged, $\sum_i w_{y_i}=\sum_c n_c w_c=n$. For 950/50: $w_0=1000/1900=0.5263$ and
# $w_1=1000/100=10$. Only the ratio $w_1/w_0=n_0/n_1=19$ changes the unregularised optimum;
# the overall scale acts like a change of the regularisation strength. When sample weights
# $s_i$ are given too, scikit-learn counts weight instead of rows:
# $w_c=\sum_i s_i/(C\sum_{i:y_i=c}s_i)$.
#
# ### Weighted cross-entropy
#
# With $z_i=w^\top x_i+b$ and the per-example logistic loss
# $\ell(y,z)=-y\log\sigma(z)-(1-y)\log(1-\sigma(z))=\log(1+e^z)-yz$, weighted logistic
# regression minimises, in scikit-learn's scaling,
#
# $$
# J(w,b)=\frac{1}{S}\sum_{i=1}^n s_i\,w_{y_i}\,\ell(y_i,z_i)
# +\frac{\lVert w\rVert^2}{2\,C_{\text{reg}}\,S},\qquad S=\sum_i s_i w_{y_i}
# $$ (imb-weighted-ce)
#
# with $C_{\text{reg}}$ scikit-learn's `C` (inverse regularisation) and the intercept not
# penalised. Multiplying through by $C_{\text{reg}}S$ gives the documented form
# $C_{\text{reg}}\sum_i s_iw_{y_i}\ell_i+\frac12\lVert w\rVert^2$: same minimiser. Since
# $\partial\ell/\partial z=\sigma(z)-y$, the gradient is
#
# $$
# \nabla_w J=\frac1S\sum_i s_iw_{y_i}\big(\sigma(z_i)-y_i\big)\,x_i+\frac{w}{C_{\text{reg}}S},
# \qquad \frac{\partial J}{\partial b}=\frac1S\sum_i s_iw_{y_i}\big(\sigma(z_i)-y_i\big)
# $$ (imb-weighted-grad)
#
# Three ways to write the same objective follow from {eq}`imb-weighted-ce`:
#
# - A class weight is a sample weight: only the product $s_iw_{y_i}$ appears.
# - An integer weight $k$ is $k$ copies of the row: the sum has the same terms.
# - **Random oversampling** draws $m=n_0-n_1$ extra positives uniformly with replacement.
#   Positive $i$ then appears $1+K_i$ times with $K_i\sim\text{Binomial}(m,1/n_1)$, so
#   $\mathbb E[1+K_i]=1+(n_0-n_1)/n_1=n_0/n_1$, and for every fixed parameter vector
#
# $$
# \mathbb E\Big[\sum_{j\in\text{oversampled}}\ell_j\Big]
# =\sum_{i:\,y_i=0}\ell_i+\frac{n_0}{n_1}\sum_{i:\,y_i=1}\ell_i
# =\frac{2n_0}{n}\sum_i w_{y_i}\ell_i
# $$ (imb-oversampling-expectation)
#
# which is the balanced objective up to a constant factor. **Random undersampling** keeps each
# negative with probability $n_1/n_0$ and gives $\frac{2n_1}{n}\sum_iw_{y_i}\ell_i$ in
# expectation. All three aim at the same objective; they differ in its variance and in the
# scale (undersampling has $n/(2n_1)$ times fewer terms, so the same `C` regularises it
# harder, and the dropped negatives are information lost). The expectation is of the
# *objective*; the minimiser of one random draw is only close to the weighted minimiser.
#
# ### What reweighting does to the probabilities
#
# Let $p(x)=P(y=1\mid x)$ be the true posterior. In the large-sample limit, a flexible enough
# model minimises the weighted loss pointwise: at each $x$ it picks the $q$ that minimises
# $-w_1p(x)\log q-w_0(1-p(x))\log(1-q)$. Setting the derivative to zero gives
#
# $$
# q^\star(x)=\frac{w_1p(x)}{w_1p(x)+w_0\big(1-p(x)\big)},\qquad
# \operatorname{logit}q^\star(x)=\operatorname{logit}p(x)+\log\frac{w_1}{w_0}
# $$ (imb-logit-shift)
#
# Reweighting adds the constant $\log(w_1/w_0)$ to the logit. When the logistic model is
# correct (e.g. two Gaussian classes with a shared covariance) only the intercept moves, by
# exactly $\log(w_1/w_0)$; when it is not, the weighted fit also tilts the slopes, trading
# errors on one class for errors on the other. Two consequences:
#
# - The weighted model's "$q\ge\tfrac12$" is the unweighted "$p\ge w_0/(w_0+w_1)$". With
#   balanced weights $w_0/(w_0+w_1)=n_1/n=\pi$: balanced class weights amount to thresholding
#   a calibrated model at the prevalence.
# - $q^\star$ is not a probability of the real population any more. Subtracting
#   $\log(w_1/w_0)$ from the logit undoes the shift; this is the *prior correction* that
#   {cite:t}`king2001logistic` apply to models fitted on case-control samples, where the rare
#   class was over-represented by design.
#
# ### Threshold moving: the cost-optimal threshold
#
# Say a false positive costs $c_{FP}$, a false negative $c_{FN}$, correct decisions nothing.
# Given a calibrated $p(x)$, predicting 1 costs $c_{FP}(1-p)$ in expectation and predicting 0
# costs $c_{FN}\,p$, so predict 1 exactly when $c_{FP}(1-p)<c_{FN}\,p$:
#
# $$
# p(x)>t^\star=\frac{c_{FP}}{c_{FP}+c_{FN}}
# $$ (imb-cost-threshold)
#
# {cite:t}`elkan2001foundations` derives it with costs for correct decisions too, and shows
# the converse of {eq}`imb-logit-shift`: training with class weights $w_1/w_0=c_{FN}/c_{FP}$
# and thresholding at $\tfrac12$ reaches the same decisions. Balanced accuracy is
# $1-\tfrac12(FN/n_1+FP/n_0)$, i.e. the cost $c_{FN}=1/n_1$, $c_{FP}=1/n_0$, so its optimal
# threshold is $t^\star=n_1/n=\pi$, the same threshold as balanced class weights.
#
# F1 is not an expected cost, so it has no formula like {eq}`imb-cost-threshold`; for
# calibrated probabilities the F1-optimal threshold is half the best F1 achievable,
# $t_{F_1}=F_1^\star/2$ {cite}`lipton2014optimal`, so it never exceeds $\tfrac12$. In
# practice, choose the threshold on a validation set that has the real prevalence.
#
# ### SMOTE
#
# SMOTE {cite}`chawla2002smote` creates minority points instead of copying them. For a
# minority point $x_i$, let $\mathcal N_k(i)$ be its $k$ nearest neighbours *among the
# minority class* (Euclidean distance). A synthetic point is
#
# $$
# \tilde x=x_i+u\,(x_j-x_i),\qquad j\sim\text{Uniform}\big(\mathcal N_k(i)\big),\quad
# u\sim\text{Uniform}(0,1)
# $$ (imb-smote)
#
# a random point on the segment from $x_i$ to one of its neighbours. The base points are
# drawn uniformly here (the paper cycles through them, $N/100$ times each for $N\%$
# oversampling). It assumes that the segment between two minority points is minority
# territory, which fails where the classes overlap or a minority point is label noise, and
# it needs a meaningful distance: continuous, scaled features.
#
# ### Focal loss
#
# Write $p_t=p$ if $y=1$ and $p_t=1-p$ if $y=0$, the probability given to the true class, so
# cross-entropy is $-\log p_t$. {cite:t}`lin2017focal` multiply it by a factor that vanishes
# for well-classified examples:
#
# $$
# \mathrm{FL}(p_t)=-\alpha_t\,(1-p_t)^\gamma\log p_t
# $$ (imb-focal)
#
# with $\gamma\ge0$ the focusing parameter and $\alpha_t=\alpha$ for positives and $1-\alpha$
# for negatives (optional). $\gamma=0$ gives the $\alpha$-weighted cross-entropy. With
# $p_t=\sigma(s\,z)$ and $s=2y-1$, $\partial p_t/\partial z=s\,p_t(1-p_t)$, and the chain rule
# gives
#
# $$
# \frac{\partial\,\mathrm{FL}}{\partial z}
# =s\,\alpha_t\,(1-p_t)^\gamma\big(\gamma\,p_t\log p_t-(1-p_t)\big)
# $$ (imb-focal-grad)
#
# At $\gamma=0$ this is $-s\,\alpha_t(1-p_t)=\alpha_t(p-y)$, the cross-entropy gradient. Its
# ratio to that gradient, $(1-p_t)^\gamma\big(1-\gamma p_t\log p_t/(1-p_t)\big)$, is small
# for easy examples ($p_t\to1$) and tends to 1 for hard ones ($p_t\to0$): the thousands of
# easy negatives of a detector stop dominating the sum.

# %% [markdown]
# ## Implementation from scratch
#
# ### Class weights and the weighted logistic loss
#
# {eq}`imb-balanced-weights`, with weighted counts when sample weights are given, as
# scikit-learn does. `y_index` holds class indices $0,\dots,C-1$.


# %%
def balanced_class_weights(
    y_index: np.ndarray, n_classes: int, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """w_c = n / (C n_c), eq. (imb-balanced-weights); n and n_c count sample weight if given."""
    if sample_weight is None:
        sample_weight = np.ones(len(y_index))
    class_totals = np.bincount(y_index, weights=sample_weight, minlength=n_classes)  # (C,)
    return sample_weight.sum() / (n_classes * class_totals)


# %% [markdown]
# The objective {eq}`imb-weighted-ce` and its gradient {eq}`imb-weighted-grad`, for a
# parameter vector $\theta=(w,b)$. `np.logaddexp(0, z)` is $\log(1+e^z)$ without overflow.


# %%
def weighted_logistic_objective(
    theta: np.ndarray, X: np.ndarray, target: np.ndarray, weights: np.ndarray, C: float
) -> tuple[float, np.ndarray]:
    """J(θ) of eq. (imb-weighted-ce) and its gradient, eq. (imb-weighted-grad).

    X (n, d), target (n,) in {0, 1}, weights (n,) = s_i w_{y_i}, θ = (w (d,), b)."""
    w, b = theta[:-1], theta[-1]
    z = X @ w + b  # (n,) logits
    total = weights.sum()  # S
    data_term = np.sum(weights * (np.logaddexp(0.0, z) - target * z)) / total
    loss = data_term + (w @ w) / (2 * C * total)
    residual = weights * (expit(z) - target) / total  # (n,) s_i w_{y_i} (σ(z_i) − y_i) / S
    gradient = np.r_[X.T @ residual + w / (C * total), residual.sum()]  # (d + 1,)
    return float(loss), gradient


# %% [markdown]
# The estimator: binary logistic regression with scikit-learn's `C`, `class_weight` (`None`,
# `"balanced"` or a dict) and `sample_weight`, minimised by L-BFGS from zero. It refuses
# multi-class targets with scikit-learn's wording, and says so in its tags.


# %%
class WeightedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary L2 logistic regression with class and sample weights, eq. (imb-weighted-ce)."""

    def __init__(
        self,
        C: float = 1.0,
        class_weight: str | dict[Any, float] | None = None,
        tol: float = 1e-10,
        max_iter: int = 1000,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter

    def _class_weights(self, y_index: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        if self.class_weight is None:
            return np.ones(2)
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            return balanced_class_weights(y_index, 2, sample_weight)  # eq. (imb-balanced-weights)
        if isinstance(self.class_weight, dict):
            return np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        raise ValueError(f"class_weight must be None, 'balanced' or a dict: {self.class_weight!r}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "WeightedLogisticRegression":
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"needs samples of 2 classes, got 1 class: {self.classes_[0]!r}")
        if target_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {target_type}."
            )
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if np.count_nonzero(np.bincount(y_index, weights=sample_weight, minlength=2)) < 2:
            raise ValueError("needs positive sample weight in 2 classes, got it in 1 class")
        weights = sample_weight * self._class_weights(y_index, sample_weight)[y_index]  # (n,)
        result = minimize(
            weighted_logistic_objective,
            np.zeros(X.shape[1] + 1),
            args=(X, y_index.astype(np.float64), weights, self.C),
            jac=True,
            method="L-BFGS-B",
            options=dict(gtol=self.tol, ftol=1e-15, maxiter=self.max_iter),
        )
        self.coef_ = result.x[None, :-1]  # (1, d), scikit-learn's shape for binary problems
        self.intercept_ = result.x[-1:]  # (1,)
        self.n_iter_ = np.array([result.nit])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]  # (n,) logits

    def predict_proba(self, X: Any) -> np.ndarray:
        p = expit(self.decision_function(X))  # (n,)
        return np.column_stack([1 - p, p])  # (n, 2)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


# %% [markdown]
# ### Samplers
#
# A sampler has one method, `fit_resample(X, y) -> (X_resampled, y_resampled)`, the interface
# of the imbalanced-learn library {cite}`lemaitre2017imbalanced` (not a dependency of this
# book). Each brings every class to the size of the largest class (oversampling) or of the
# smallest (undersampling); the random draws come from `random_state`, as in scikit-learn.
# Random oversampling keeps every row and adds copies drawn with replacement.


# %%
class RandomOverSampler(BaseEstimator):
    """Add copies of random rows of each class until it is as large as the largest class."""

    def __init__(self, random_state: int | np.random.RandomState | None = None) -> None:
        self.random_state = random_state

    def fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = check_X_y(X, y)
        random = check_random_state(self.random_state)
        labels, counts = np.unique(y, return_counts=True)
        rows = [np.arange(len(y))]
        for label, count in zip(labels, counts, strict=True):
            members = np.flatnonzero(y == label)
            rows.append(random.choice(members, counts.max() - count, replace=True))
        rows = np.concatenate(rows)
        return X[rows], y[rows]


# %% [markdown]
# Random undersampling keeps, of every class, a random subset the size of the smallest class.


# %%
class RandomUnderSampler(BaseEstimator):
    """Keep a random subset of each class, as large as the smallest class."""

    def __init__(self, random_state: int | np.random.RandomState | None = None) -> None:
        self.random_state = random_state

    def fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = check_X_y(X, y)
        random = check_random_state(self.random_state)
        labels, counts = np.unique(y, return_counts=True)
        kept = [
            random.choice(np.flatnonzero(y == label), counts.min(), replace=False)
            for label in labels
        ]
        rows = np.sort(np.concatenate(kept))  # keep the original order
        return X[rows], y[rows]


# %% [markdown]
# SMOTE, {eq}`imb-smote`. The $k$ nearest neighbours come from the full matrix of squared
# distances within one class: $O(n_c^2)$ memory, fine for a minority class. A class with
# fewer than $k+1$ points uses all the others; a class of one point can only be copied.


# %%
def k_nearest_neighbours(points: np.ndarray, k: int) -> np.ndarray:
    """Indices (m, k) of the k nearest other points of each of the m points (Euclidean)."""
    squared = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)  # (m, m)
    np.fill_diagonal(squared, np.inf)  # a point is not its own neighbour
    return np.argsort(squared, axis=1, kind="stable")[:, :k]


def smote_interpolate(
    points: np.ndarray, n_new: int, k_neighbors: int, random: np.random.RandomState
) -> np.ndarray:
    """n_new synthetic points (n_new, d) between minority neighbours, eq. (imb-smote)."""
    m = points.shape[0]
    k = min(k_neighbors, m - 1)
    base = random.choice(m, size=n_new)  # (n_new,) indices of x_i
    if k == 0:
        return points[base].copy()
    partner = k_nearest_neighbours(points, k)[base, random.choice(k, size=n_new)]  # x_j
    gap = random.uniform(size=(n_new, 1))  # u ~ U(0, 1)
    return points[base] + gap * (points[partner] - points[base])  # eq. (imb-smote)


# %%
class SMOTE(BaseEstimator):
    """Add synthetic points to each class until it is as large as the largest class."""

    def __init__(
        self, k_neighbors: int = 5, random_state: int | np.random.RandomState | None = None
    ) -> None:
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = check_X_y(X, y, dtype=np.float64)
        random = check_random_state(self.random_state)
        labels, counts = np.unique(y, return_counts=True)
        X_parts, y_parts = [X], [y]
        for label, count in zip(labels, counts, strict=True):
            n_new = counts.max() - count
            if n_new > 0:
                X_parts.append(smote_interpolate(X[y == label], n_new, self.k_neighbors, random))
                y_parts.append(np.full(n_new, label, dtype=y.dtype))
        return np.vstack(X_parts), np.concatenate(y_parts)


# %% [markdown]
# ### Resampling inside the training folds only
#
# The whole point is *where* the sampler runs. `ResampledClassifier(estimator, sampler)` is a
# meta-estimator: `fit` resamples the data it is given and fits a clone of the estimator on
# the result; `predict`, `predict_proba` and `decision_function` pass the data through
# untouched. Inside `cross_validate` or a grid search, `fit` only ever sees training folds,
# so the validation fold keeps its real rows and its real prevalence. (imbalanced-learn's
# `Pipeline` does the same for a sampler step.)


# %%
def _estimator_has(method: str) -> Callable[[Any], bool]:
    """For `available_if`: expose a method only if the wrapped estimator has it."""
    return lambda meta: hasattr(meta.estimator, method)


class ResampledClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit `estimator` on `sampler.fit_resample(X, y)`; predict on X as given."""

    def __init__(self, estimator: BaseEstimator, sampler: BaseEstimator | None = None) -> None:
        self.estimator = estimator
        self.sampler = sampler

    def fit(self, X: Any, y: Any) -> "ResampledClassifier":
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if self.sampler is not None:
            X, y = clone(self.sampler).fit_resample(X, y)  # training rows only
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        self.n_resampled_ = len(y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict(validate_data(self, X, reset=False))

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, reset=False))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.decision_function(validate_data(self, X, reset=False))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = get_tags(self.estimator).classifier_tags.multi_class
        return tags


# %% [markdown]
# ### Thresholds
#
# {eq}`imb-cost-threshold`, and the threshold that maximises a metric on validation data.
# For every distinct score $t$, the counts of "predict 1 when $p\ge t$" come from one sort and
# two cumulative sums, as in [chapter 12](12_classification_metrics.ipynb); the metric is a
# function of the four count arrays.


# %%
def cost_optimal_threshold(cost_fp: float, cost_fn: float) -> float:
    """t* = c_FP / (c_FP + c_FN), eq. (imb-cost-threshold), for calibrated probabilities."""
    return cost_fp / (cost_fp + cost_fn)


def counts_at_every_threshold(
    y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds t_k (distinct scores, descending) and TP, FP, FN, TN of `scores >= t_k`."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_true = scores[order], y_true[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    tp = np.cumsum(sorted_true)[last_of_group]  # (m,)
    fp = last_of_group + 1 - tp
    n_pos = sorted_true.sum()
    return sorted_scores[last_of_group], tp, fp, n_pos - tp, len(scores) - n_pos - fp


def best_threshold(
    y_true: np.ndarray,
    scores: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> tuple[float, float]:
    """The threshold maximising metric(TP, FP, FN, TN) over every distinct score, and its value."""
    thresholds, tp, fp, fn, tn = counts_at_every_threshold(np.asarray(y_true), np.asarray(scores))
    values = metric(tp, fp, fn, tn)  # (m,)
    best = int(np.argmax(values))
    return float(thresholds[best]), float(values[best])


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    """F1 = 2TP / (2TP + FP + FN), eq. (imb-paradox)."""
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def balanced_accuracy_from_counts(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
) -> np.ndarray:
    """Mean of the two per-class recalls, eq. (imb-balanced-accuracy)."""
    return 0.5 * (tp / np.maximum(tp + fn, 1) + tn / np.maximum(tn + fp, 1))


# %% [markdown]
# ### Focal loss
#
# {eq}`imb-focal` on logits. $\log p_t=\log\sigma(s z)$ and $1-p_t=\sigma(-sz)$ are computed
# from the logit directly (`logsigmoid`), so neither underflows for confident predictions.
# The closed-form gradient {eq}`imb-focal-grad` is written next to it, to be checked against
# autograd.


# %%
def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, alpha: float | None = None
) -> torch.Tensor:
    """Per-example focal loss, eq. (imb-focal). logits, targets (...,); targets in {0, 1}."""
    signed = torch.where(targets == 1, logits, -logits)  # s z, so that p_t = σ(s z)
    log_p_t = F.logsigmoid(signed)
    one_minus_p_t = torch.sigmoid(-signed)
    loss = -(one_minus_p_t**gamma) * log_p_t
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss  # α_t
    return loss


def focal_loss_grad(
    logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, alpha: float | None = None
) -> torch.Tensor:
    """∂FL/∂z per example, the closed form eq. (imb-focal-grad)."""
    sign = 2 * targets - 1  # s
    p_t, log_p_t = torch.sigmoid(sign * logits), F.logsigmoid(sign * logits)
    alpha_t = 1.0 if alpha is None else alpha * targets + (1 - alpha) * (1 - targets)
    return sign * alpha_t * (1 - p_t) ** gamma * (gamma * p_t * log_p_t - (1 - p_t))


# %% [markdown]
# ## Verification
#
# ### Class weights and the accuracy paradox: the errata's numbers
#
# 950 negatives and 50 positives: {eq}`imb-balanced-weights` against scikit-learn's
# `compute_class_weight`, and the metrics of the all-negative classifier against
# {eq}`imb-paradox` and {eq}`imb-balanced-accuracy`.

# %%
y_paradox = np.r_[np.zeros(950, dtype=int), np.ones(50, dtype=int)]
weights_paradox = balanced_class_weights(y_paradox, 2)
check_close(
    "balanced weights vs compute_class_weight",
    weights_paradox,
    compute_class_weight("balanced", classes=np.array([0, 1]), y=y_paradox),
    atol=1e-15,
)
check_close(
    "balanced weights = {0: 1000/1900, 1: 10}", weights_paradox, [1000 / 1900, 10.0], atol=1e-15
)
print(f"w_0 = {weights_paradox[0]:.4f}, w_1 = {weights_paradox[1]:.4f}")
uneven_sample_weight = rng.uniform(0.5, 2.0, size=y_paradox.size)
check_close(
    "balanced weights with sample weights vs compute_class_weight",
    balanced_class_weights(y_paradox, 2, uneven_sample_weight),
    compute_class_weight(
        "balanced", classes=np.array([0, 1]), y=y_paradox, sample_weight=uneven_sample_weight
    ),
    atol=1e-12,
)

# %%
all_negative = np.zeros_like(y_paradox)
constant_score = np.zeros(y_paradox.size)
paradox = {
    "accuracy": skm.accuracy_score(y_paradox, all_negative),
    "recall": skm.recall_score(y_paradox, all_negative, zero_division=0),
    "F1": skm.f1_score(y_paradox, all_negative, zero_division=0),
    "balanced accuracy": skm.balanced_accuracy_score(y_paradox, all_negative),
    "MCC": skm.matthews_corrcoef(y_paradox, all_negative),
    "AP": skm.average_precision_score(y_paradox, constant_score),
    "ROC-AUC": skm.roc_auc_score(y_paradox, constant_score),
}
expected = {
    "accuracy": 0.95,
    "recall": 0.0,
    "F1": 0.0,
    "balanced accuracy": 0.5,
    "MCC": 0.0,
    "AP": 0.05,
    "ROC-AUC": 0.5,
}
for name, value in paradox.items():
    check_close(f"all-negative classifier: {name}", value, expected[name], atol=1e-15)

# %% [markdown]
# ### The weighted objective and the estimator
#
# The gradient {eq}`imb-weighted-grad` against forward finite differences (step $10^{-7}$) of
# {eq}`imb-weighted-ce`, at a random point, with uneven weights.

# %%
X_check, y_check = make_classification(
    n_samples=1000, n_features=6, n_informative=4, weights=[0.95], flip_y=0.01, random_state=0
)
theta_random = rng.normal(size=X_check.shape[1] + 1)
weights_check = rng.uniform(0.1, 10.0, size=y_check.size)
args_check = (X_check, y_check.astype(float), weights_check, 0.7)
analytic_gradient = weighted_logistic_objective(theta_random, *args_check)[1]
numeric_gradient = approx_fprime(
    theta_random, lambda t: weighted_logistic_objective(t, *args_check)[0], 1e-7
)
check_close(
    "weighted logistic gradient vs finite differences",
    analytic_gradient,
    numeric_gradient,
    atol=1e-6,
)

# %% [markdown]
# The estimator against `sklearn.linear_model.LogisticRegression` on the same data, with
# balanced weights, with a dict of class weights, and with sample weights. Both minimise the
# same strictly convex objective, so the coefficients must agree to the solvers' tolerance.

# %%
print(f"class counts {np.bincount(y_check)}")
for class_weight, sample_weight in [
    ("balanced", None),
    ({0: 1.0, 1: 7.0}, None),
    ("balanced", uneven_sample_weight),
]:
    ours = WeightedLogisticRegression(C=0.5, class_weight=class_weight)
    reference = LogisticRegression(C=0.5, class_weight=class_weight, tol=1e-12, max_iter=10_000)
    ours.fit(X_check, y_check, sample_weight=sample_weight)
    reference.fit(X_check, y_check, sample_weight=sample_weight)
    label = f"class_weight={class_weight}, sample weights: {sample_weight is not None}"
    check_close(f"{label}: coef vs sklearn", ours.coef_, reference.coef_, atol=1e-6)
    check_close(f"{label}: intercept vs sklearn", ours.intercept_, reference.intercept_, atol=1e-6)
    check_close(
        f"{label}: predict_proba vs sklearn",
        ours.predict_proba(X_check),
        reference.predict_proba(X_check),
        atol=1e-6,
    )

# %% [markdown]
# ### Class weights ≡ sample weights ≡ copies ≡ (in expectation) oversampling
#
# Class weights $\{0:1,\,1:7\}$, the sample weights $s_i=7$ for positives, and every positive
# written seven times give the same objective, hence the same fit.

# %%
weight_ratio = 7
by_class = WeightedLogisticRegression(class_weight={0: 1.0, 1: float(weight_ratio)})
by_class.fit(X_check, y_check)
by_sample = WeightedLogisticRegression().fit(
    X_check, y_check, sample_weight=np.where(y_check == 1, weight_ratio, 1.0)
)
copies = np.repeat(np.arange(y_check.size), np.where(y_check == 1, weight_ratio, 1))
by_copies = WeightedLogisticRegression().fit(X_check[copies], y_check[copies])
for name, model in [("sample weights", by_sample), ("7 copies of each positive", by_copies)]:
    check_close(
        f"class weights vs {name}: (coef, intercept)",
        np.r_[by_class.coef_[0], by_class.intercept_],
        np.r_[model.coef_[0], model.intercept_],
        atol=1e-8,
    )

# %% [markdown]
# Random oversampling gives every positive $n_0/n_1$ appearances on average, so the loss of
# an oversampled draw, at fixed parameters, averages to {eq}`imb-oversampling-expectation`;
# the undersampled loss averages to $\frac{2n_1}{n}\sum_iw_{y_i}\ell_i$. Checked over 200
# draws each, at the balanced fit's parameters.

# %%
balanced_fit = WeightedLogisticRegression(class_weight="balanced").fit(X_check, y_check)
n_neg_check, n_pos_check = np.bincount(y_check)


def summed_logistic_loss(model: WeightedLogisticRegression, X: np.ndarray, y: np.ndarray) -> float:
    """Σ_j ℓ(y_j, z_j) of a fitted model on the rows (X, y)."""
    z = model.decision_function(X)
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


per_example_loss = np.logaddexp(0.0, balanced_fit.decision_function(X_check)) - y_check * (
    balanced_fit.decision_function(X_check)
)
balanced_sum = float(np.sum(balanced_class_weights(y_check, 2)[y_check] * per_example_loss))
over_losses = [
    summed_logistic_loss(
        balanced_fit, *RandomOverSampler(random_state=s).fit_resample(X_check, y_check)
    )
    for s in range(200)
]
under_losses = [
    summed_logistic_loss(
        balanced_fit, *RandomUnderSampler(random_state=s).fit_resample(X_check, y_check)
    )
    for s in range(200)
]
n_total = y_check.size
check_mean_close(
    "oversampled loss vs (2 n_0 / n) × balanced weighted loss",
    over_losses,
    2 * n_neg_check / n_total * balanced_sum,
    z_max=4,
)
check_mean_close(
    "undersampled loss vs (2 n_1 / n) × balanced weighted loss",
    under_losses,
    2 * n_pos_check / n_total * balanced_sum,
    z_max=4,
)

# %% [markdown]
# ### Samplers
#
# The class counts after resampling; every oversampled row is a row of the input; the
# from-scratch neighbours match `sklearn.neighbors.NearestNeighbors`; and every SMOTE point
# lies on a segment from a minority point to one of its $k$ nearest minority neighbours,
# with $u\in[0,1]$ (the smallest distance to such a segment is 0 up to rounding).

# %%
for sampler, expected_counts in [
    (RandomOverSampler(random_state=0), [n_neg_check, n_neg_check]),
    (RandomUnderSampler(random_state=0), [n_pos_check, n_pos_check]),
    (SMOTE(random_state=0), [n_neg_check, n_neg_check]),
]:
    _, y_resampled = sampler.fit_resample(X_check, y_check)
    check_equal(
        f"{type(sampler).__name__}: class counts", np.bincount(y_resampled), expected_counts
    )
X_over, _ = RandomOverSampler(random_state=0).fit_resample(X_check, y_check)
original_rows = {row.tobytes() for row in X_check}
check_true(
    "random oversampling only copies rows",
    all(row.tobytes() in original_rows for row in X_over),
    f"{len(X_over)} rows, {len({row.tobytes() for row in X_over})} distinct",
)

# %%
K_NEIGHBORS = 5
minority = X_check[y_check == 1]  # (n_1, d)
neighbours_ours = k_nearest_neighbours(minority, K_NEIGHBORS)
neighbours_sklearn = (
    NearestNeighbors(n_neighbors=K_NEIGHBORS + 1).fit(minority).kneighbors(minority)[1][:, 1:]
)
check_equal(
    "SMOTE's k nearest neighbours vs sklearn NearestNeighbors", neighbours_ours, neighbours_sklearn
)

X_smote, y_smote = SMOTE(k_neighbors=K_NEIGHBORS, random_state=0).fit_resample(X_check, y_check)
synthetic = X_smote[len(y_check) :]  # (n_new, d), appended after the original rows
starts = minority[:, None, :]  # (n_1, 1, d): x_i
directions = minority[neighbours_ours] - starts  # (n_1, k, d): x_j − x_i
offsets = synthetic[:, None, None, :] - starts[None]  # (n_new, n_1, 1, d)
u = np.sum(offsets * directions[None], axis=-1) / np.sum(directions**2, axis=-1)  # (n_new, n_1, k)
u = np.clip(u, 0.0, 1.0)
distance_to_segment = np.linalg.norm(offsets - u[..., None] * directions[None], axis=-1)
check_close(
    "every SMOTE point lies on a segment to a minority neighbour",
    distance_to_segment.min(axis=(1, 2)),
    np.zeros(len(synthetic)),
    atol=1e-12,
)

# %% [markdown]
# `ResampledClassifier` with no sampler is its estimator, and with a sampler it is the
# estimator fitted on that sampler's output; `predict` sees the data as given.

# %%
plain = ResampledClassifier(LogisticRegression(), None).fit(X_check, y_check)
check_close(
    "ResampledClassifier(no sampler) vs LogisticRegression",
    plain.predict_proba(X_check),
    LogisticRegression().fit(X_check, y_check).predict_proba(X_check),
    atol=0.0,
)
smote_wrapped = ResampledClassifier(LogisticRegression(), SMOTE(random_state=3)).fit(
    X_check, y_check
)
check_close(
    "ResampledClassifier(SMOTE) vs LogisticRegression on SMOTE's output",
    smote_wrapped.predict_proba(X_check),
    LogisticRegression()
    .fit(*SMOTE(random_state=3).fit_resample(X_check, y_check))
    .predict_proba(X_check),
    atol=0.0,
)
check_equal("fitted on 2 n_0 rows", smote_wrapped.n_resampled_, 2 * n_neg_check)

# %% [markdown]
# ### Thresholds and the logit shift, exactly
#
# Two Gaussian classes with unit variance, $x\mid y=0\sim\mathcal N(0,1)$ and
# $x\mid y=1\sim\mathcal N(\mu,1)$, prevalence $\pi$: the posterior is exactly logistic,
# $\operatorname{logit}p(x)=\log\frac{\pi}{1-\pi}-\frac{\mu^2}{2}+\mu x$. Everything below is
# computed from normal CDFs or by Gauss–Hermite quadrature, with no sampling, so the claims
# are checked to optimiser precision:
#
# - the expected cost of "predict 1 when $p(x)\ge t$" is minimised at {eq}`imb-cost-threshold`;
# - the expected F1 is maximised at $t=F_1^\star/2$;
# - the population minimiser of the weighted loss has the same slope and an intercept larger
#   by $\log(w_1/w_0)$, {eq}`imb-logit-shift`.

# %%
PREVALENCE, CLASS_GAP = 0.05, 2.0  # π and μ
TRUE_INTERCEPT = np.log(PREVALENCE / (1 - PREVALENCE)) - CLASS_GAP**2 / 2
TRUE_SLOPE = CLASS_GAP
COST_FP, COST_FN = 1.0, 10.0


def threshold_to_x(t: float | np.ndarray) -> float | np.ndarray:
    """The x at which the true posterior equals t (the posterior increases with x)."""
    return (logit(t) - TRUE_INTERCEPT) / TRUE_SLOPE


def expected_cost(t: float | np.ndarray) -> float | np.ndarray:
    """c_FP P(p ≥ t, y = 0) + c_FN P(p < t, y = 1) for the true posterior p."""
    x_t = threshold_to_x(t)
    return COST_FP * (1 - PREVALENCE) * norm.sf(x_t) + COST_FN * PREVALENCE * norm.cdf(
        x_t - CLASS_GAP
    )


def expected_f1(t: float | np.ndarray) -> float | np.ndarray:
    """F1 of "p ≥ t" in the population: 2TP / (2TP + FP + FN) with rates for counts."""
    x_t = threshold_to_x(t)
    tp, fp = PREVALENCE * norm.sf(x_t - CLASS_GAP), (1 - PREVALENCE) * norm.sf(x_t)
    return 2 * tp / (2 * tp + fp + (PREVALENCE - tp))


bounded = dict(bounds=(1e-4, 1 - 1e-4), method="bounded", options=dict(xatol=1e-10))
t_cost = minimize_scalar(expected_cost, **bounded).x
check_close(
    "argmin expected cost vs c_FP/(c_FP+c_FN) = 1/11",
    t_cost,
    cost_optimal_threshold(COST_FP, COST_FN),
    atol=1e-6,
)
t_f1 = minimize_scalar(lambda t: -expected_f1(t), **bounded).x
check_close("argmax expected F1 vs F1*/2", t_f1, expected_f1(t_f1) / 2, atol=1e-6)
print(f"F1-optimal threshold {t_f1:.4f}, best F1 {expected_f1(t_f1):.4f}")

# %%
hermite_nodes, hermite_weights = np.polynomial.hermite_e.hermegauss(80)
hermite_weights = hermite_weights / np.sqrt(2 * np.pi)  # E[f(Z)], Z ~ N(0, 1)


def population_weighted_loss(theta: np.ndarray, w0: float, w1: float) -> float:
    """E[w_y ℓ(y, a + b x)] over the two-Gaussian population, by quadrature."""
    a, b = theta
    total = 0.0
    for label, prior, weight, mean in [
        (0, 1 - PREVALENCE, w0, 0.0),
        (1, PREVALENCE, w1, CLASS_GAP),
    ]:
        z = a + b * (hermite_nodes + mean)  # (80,)
        total += prior * weight * np.sum(hermite_weights * (np.logaddexp(0.0, z) - label * z))
    return total


w1_over_w0 = (1 - PREVALENCE) / PREVALENCE  # the balanced ratio n_0 / n_1 = 19
fits = {
    ratio: minimize(
        population_weighted_loss,
        np.zeros(2),
        args=(1.0, ratio),
        method="BFGS",
        options=dict(gtol=1e-12),
    ).x
    for ratio in (1.0, w1_over_w0)
}
check_close(
    "unweighted population fit vs true (intercept, slope)",
    fits[1.0],
    [TRUE_INTERCEPT, TRUE_SLOPE],
    atol=1e-6,
)
check_close(
    "weighted fit: intercept shift vs log(w1/w0) = log 19, slope unchanged",
    fits[w1_over_w0] - fits[1.0],
    [np.log(w1_over_w0), 0.0],
    atol=1e-6,
)

# %% [markdown]
# ### Focal loss
#
# In float64: at $\gamma=0$ focal loss is `binary_cross_entropy_with_logits` (with $\alpha$,
# the $\alpha_t$-weighted version); the closed-form gradient {eq}`imb-focal-grad` matches
# autograd; and autograd matches central finite differences (`torch.autograd.gradcheck`).

# %%
logits_check = torch.randn(400, dtype=torch.float64) * 4  # (400,), confident and unsure ones
targets_check = (torch.rand(400, dtype=torch.float64) < 0.3).double()
check_close(
    "focal γ=0 vs binary_cross_entropy_with_logits",
    focal_loss(logits_check, targets_check, gamma=0.0),
    F.binary_cross_entropy_with_logits(logits_check, targets_check, reduction="none"),
    atol=1e-14,
)
alpha_weights = torch.where(targets_check == 1, 0.25, 0.75)
check_close(
    "focal γ=0, α=0.25 vs weighted BCE",
    focal_loss(logits_check, targets_check, gamma=0.0, alpha=0.25),
    F.binary_cross_entropy_with_logits(
        logits_check, targets_check, weight=alpha_weights, reduction="none"
    ),
    atol=1e-14,
)
for gamma, alpha in [(0.0, None), (2.0, None), (2.0, 0.25), (5.0, 0.75)]:
    z = logits_check.clone().requires_grad_()
    focal_loss(z, targets_check, gamma, alpha).sum().backward()
    check_close(
        f"γ={gamma}, α={alpha}: closed-form ∂FL/∂z vs autograd",
        focal_loss_grad(logits_check, targets_check, gamma, alpha),
        z.grad,
        atol=1e-12,
    )
passes_gradcheck = torch.autograd.gradcheck(
    lambda z: focal_loss(z, targets_check[:20], 2.0, 0.25),
    (logits_check[:20].clone().requires_grad_(),),
    eps=1e-6,
    atol=1e-7,
)
check_true(
    "focal loss autograd vs finite differences (gradcheck)", passes_gradcheck, "eps 1e-6, atol 1e-7"
)

# %% [markdown]
# ## Experiments
#
# ### 1. Reweighting is threshold moving
#
# A finite sample from the two-Gaussian population ($\pi=0.05$): logistic regression fitted
# with and without balanced class weights. By {eq}`imb-logit-shift` the two logit lines
# should be parallel, $\log(n_0/n_1)$ apart. On a validation sample, the threshold that
# minimises the cost with $c_{FN}=10\,c_{FP}$ should land near $t^\star=1/11$.


# %%
def sample_two_gaussians(n: int, random: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n draws of (x, y) from the two-Gaussian population: X (n, 1), y (n,)."""
    y = (random.random(n) < PREVALENCE).astype(int)
    return (random.normal(size=n) + CLASS_GAP * y)[:, None], y


X_gauss, y_gauss = sample_two_gaussians(20_000, rng)
X_gauss_val, y_gauss_val = sample_two_gaussians(5_000, rng)
unweighted = WeightedLogisticRegression(C=1e4).fit(X_gauss, y_gauss)
reweighted = WeightedLogisticRegression(C=1e4, class_weight="balanced").fit(X_gauss, y_gauss)
n_neg_gauss, n_pos_gauss = np.bincount(y_gauss)
intercept_shift = float(reweighted.intercept_[0] - unweighted.intercept_[0])
slope_change = float(reweighted.coef_[0, 0] - unweighted.coef_[0, 0])
log_class_ratio = float(np.log(n_neg_gauss / n_pos_gauss))
print(
    f"intercept shift {intercept_shift:.3f} vs log(n0/n1) = {log_class_ratio:.3f}; "
    f"slope change {slope_change:+.3f}"
)
check_close(
    "finite sample: intercept shift vs log(n0/n1)",
    intercept_shift,
    log_class_ratio,
    atol=0.15,  # sampling noise of two fits on 20 000 points, about 1000 positives
)
predicted_reweighted = reweighted.predict(X_gauss_val)
predicted_at_prevalence = unweighted.predict_proba(X_gauss_val)[:, 1] >= y_gauss.mean()
agreement = float(np.mean(predicted_reweighted == predicted_at_prevalence))
check_true(
    "balanced weights at 0.5 ≈ unweighted at threshold π",
    agreement > 0.99,
    f"same decision on {agreement:.2%} of the validation points",
)

# %%
p_gauss_val = unweighted.predict_proba(X_gauss_val)[:, 1]
t_validation, _ = best_threshold(
    y_gauss_val, p_gauss_val, lambda tp, fp, fn, tn: -(COST_FP * fp + COST_FN * fn)
)
t_star = cost_optimal_threshold(COST_FP, COST_FN)
regret = expected_cost(t_validation) / expected_cost(t_star) - 1
print(
    f"validation threshold {t_validation:.3f} vs t* = {t_star:.3f}; its expected cost is "
    f"{regret:.2%} above the optimum; at t = 0.5 it is "
    f"{expected_cost(0.5) / expected_cost(t_star) - 1:.0%} above"
)
check_true("validation threshold costs < 5 % more than t*", regret < 0.05, f"{regret:.2%}")

# %% [markdown]
# The validation cost is a sum over the validation examples; in the figure it is divided by
# their number, to share an axis with the expected cost per example.

# %%
thresholds_grid = np.linspace(0.005, 0.7, 300)
empirical_cost = [
    np.mean(
        COST_FP * ((p_gauss_val >= t) & (y_gauss_val == 0))
        + COST_FN * ((p_gauss_val < t) & (y_gauss_val == 1))
    )
    for t in thresholds_grid
]
x_line = np.linspace(-3, 5, 100)
fig, (ax_cost, ax_logit) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_cost.plot(
    thresholds_grid, expected_cost(thresholds_grid), color=PALETTE[0], label="expected cost, true p"
)
ax_cost.plot(
    thresholds_grid, empirical_cost, color=PALETTE[1], lw=1, label="validation cost, fitted p"
)
ax_cost.axvline(t_star, color="k", ls="--", lw=1, label=f"$t^\\star$ = 1/11 = {t_star:.3f}")
ax_cost.axvline(
    t_validation, color=PALETTE[1], ls=":", label=f"validation choice {t_validation:.3f}"
)
ax_cost.axvline(0.5, color="grey", ls="-.", lw=1, label="default 0.5")
ax_cost.set(
    xlabel="threshold t (predict 1 when p ≥ t)",
    ylabel="cost per example ($c_{FP}$ = 1, $c_{FN}$ = 10)",
    title=f"The cost is lowest at $c_{{FP}}/(c_{{FP}}+c_{{FN}})$; 0.5 costs "
    f"{expected_cost(0.5) / expected_cost(t_star) - 1:.0%} more",
)
ax_cost.legend(fontsize=8)
ax_logit.plot(x_line, TRUE_INTERCEPT + TRUE_SLOPE * x_line, color="k", ls=":", label="true logit")
ax_logit.plot(
    x_line, unweighted.decision_function(x_line[:, None]), color=PALETTE[0], label="unweighted fit"
)
ax_logit.plot(
    x_line,
    reweighted.decision_function(x_line[:, None]),
    color=PALETTE[2],
    label="balanced class weights",
)
ax_logit.axhline(0, color="grey", lw=0.8)
ax_logit.set(
    xlabel="feature x",
    ylabel="logit z(x)",
    title=f"Balanced weights add {intercept_shift:.2f} ≈ log(n₀/n₁) = "
    f"{log_class_ratio:.2f} to the logit",
)
ax_logit.legend(fontsize=8)
plt.show()

# %% [markdown]
# The left panel is flat near its minimum, so a validation set of 5000 points picks a
# threshold whose cost is close to optimal even when it is not exactly $1/11$; the default
# 0.5 is far up the curve. The right panel is {eq}`imb-logit-shift` on a sample: same slope,
# intercept moved by the log weight ratio. So "class weights or threshold moving?" has a
# short answer for a well-specified model: they are the same decision rule, but threshold
# moving keeps calibrated probabilities and can be changed after training when the costs
# change.
#
# ### 2. What random oversampling and SMOTE produce
#
# Twenty minority points in two dimensions among 400 majority points, oversampled to balance
# by each method. Random oversampling stacks copies on the same 20 locations (marker size
# shows the number of copies); SMOTE fills in the segments between neighbours.

# %%
X_small, y_small = make_classification(
    n_samples=420,
    n_features=2,
    n_informative=2,
    n_redundant=0,
    n_clusters_per_class=1,
    weights=[400 / 420],
    flip_y=0,
    class_sep=1.2,
    random_state=4,
)
X_small_over, y_small_over = RandomOverSampler(random_state=0).fit_resample(X_small, y_small)
X_small_smote, y_small_smote = SMOTE(k_neighbors=5, random_state=0).fit_resample(X_small, y_small)
locations, multiplicity = np.unique(X_small_over[y_small_over == 1], axis=0, return_counts=True)
fig, (ax_over, ax_smote) = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, sharey=True)
for ax in (ax_over, ax_smote):
    ax.scatter(*X_small[y_small == 0].T, s=8, color="lightgrey", label="majority")
ax_over.scatter(
    *locations.T, s=12 * multiplicity, color=PALETTE[1], alpha=0.7, label="minority (size ∝ copies)"
)
synthetic_small = X_small_smote[len(y_small) :]
ax_smote.scatter(*synthetic_small.T, s=8, color=PALETTE[2], alpha=0.6, label="synthetic (SMOTE)")
ax_smote.scatter(*X_small[y_small == 1].T, s=25, color=PALETTE[1], label="minority")
ax_over.set(
    xlabel="feature 1",
    ylabel="feature 2",
    title=f"Random oversampling: {len(locations)} points, ≤ {multiplicity.max()} copies each",
)
ax_smote.set(
    xlabel="feature 1",
    title=f"SMOTE: {len(synthetic_small)} new points between neighbours",
)
ax_over.legend(loc="lower left", fontsize=8)
ax_smote.legend(loc="lower left", fontsize=8)
fig.suptitle(
    "Random oversampling stacks copies; SMOTE fills the segments between minority neighbours"
)
plt.show()

# %% [markdown]
# ### 3. Resampling before the split leaks
#
# The experiment the errata ask for. Data with about 7 % positives are split into a training
# set and an untouched test set. On the training set, three numbers for a fully grown
# decision tree:
#
# - **leaky CV**: oversample the whole training set, then run 5-fold CV on the result;
# - **in-fold CV**: 5-fold CV of `ResampledClassifier(tree, sampler)`, which resamples only
#   each training fold;
# - **test**: the same pipeline fitted on the whole training set, scored on the test set.
#
# Leaky CV has two faults: copies (or near-copies, for SMOTE) of each validation positive sit
# in the training folds, and the validation folds are balanced, which is not the prevalence
# the model will meet. Recall only suffers from the first; F1 from both. Five data sets
# (seeds), so the bars have error bars.

# %%
LEAK_SEEDS = range(5)
leak_scores: dict[tuple[str, str, str], list[float]] = {}
for seed in LEAK_SEEDS:
    X_leak, y_leak = make_classification(
        n_samples=1200,
        n_features=8,
        n_informative=4,
        weights=[0.93],
        flip_y=0.02,
        class_sep=0.8,
        random_state=seed,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X_leak, y_leak, test_size=1 / 3, stratify=y_leak, random_state=seed
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    tree = DecisionTreeClassifier(random_state=seed)
    for sampler_name, sampler in [
        ("random oversampling", RandomOverSampler(random_state=seed)),
        ("SMOTE", SMOTE(random_state=seed)),
    ]:
        leaky = cross_validate(
            tree, *sampler.fit_resample(X_train, y_train), cv=folds, scoring=("recall", "f1")
        )
        in_fold = cross_validate(
            ResampledClassifier(tree, sampler), X_train, y_train, cv=folds, scoring=("recall", "f1")
        )
        test_prediction = ResampledClassifier(tree, sampler).fit(X_train, y_train).predict(X_test)
        for metric, score_test in [
            ("recall", skm.recall_score(y_test, test_prediction)),
            ("f1", skm.f1_score(y_test, test_prediction)),
        ]:
            leak_scores.setdefault((sampler_name, metric, "leaky CV"), []).append(
                leaky[f"test_{metric}"].mean()
            )
            leak_scores.setdefault((sampler_name, metric, "in-fold CV"), []).append(
                in_fold[f"test_{metric}"].mean()
            )
            leak_scores.setdefault((sampler_name, metric, "test"), []).append(score_test)
leak_mean = {key: float(np.mean(values)) for key, values in leak_scores.items()}
leak_std = {key: float(np.std(values)) for key, values in leak_scores.items()}
for sampler_name in ("random oversampling", "SMOTE"):
    for metric in ("recall", "f1"):
        print(
            f"{sampler_name:>19} {metric:>6}: "
            + "  ".join(
                f"{kind} {leak_mean[key]:.3f}±{leak_std[key]:.3f}"
                for kind in ("leaky CV", "in-fold CV", "test")
                for key in [(sampler_name, metric, kind)]
            )
        )

# %%
for sampler_name in ("random oversampling", "SMOTE"):
    for metric in ("recall", "f1"):
        leaky_value = leak_mean[sampler_name, metric, "leaky CV"]
        test_value = leak_mean[sampler_name, metric, "test"]
        in_fold_value = leak_mean[sampler_name, metric, "in-fold CV"]
        check_true(
            f"{sampler_name}, {metric}: leaky CV overstates the test score",
            leaky_value > test_value + 0.2,
            f"leaky {leaky_value:.3f} vs test {test_value:.3f}",
        )
        check_true(
            f"{sampler_name}, {metric}: in-fold CV is within 0.1 of the test score",
            abs(in_fold_value - test_value) < 0.1,
            f"in-fold {in_fold_value:.3f} vs test {test_value:.3f}",
        )

# %%
kinds = ("leaky CV", "in-fold CV", "test")
kind_colours = {"leaky CV": PALETTE[1], "in-fold CV": PALETTE[0], "test": PALETTE[2]}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, metric in zip(axes, ("recall", "f1"), strict=True):
    for k, kind in enumerate(kinds):
        positions = np.arange(2) + (k - 1) * 0.27
        ax.bar(
            positions,
            [leak_mean[s, metric, kind] for s in ("random oversampling", "SMOTE")],
            width=0.27,
            yerr=[leak_std[s, metric, kind] for s in ("random oversampling", "SMOTE")],
            capsize=3,
            color=kind_colours[kind],
            label=kind,
        )
    ax.set_xticks(np.arange(2), ["random oversampling", "SMOTE"])
    ax.set(
        ylabel=f"minority-class {'F1' if metric == 'f1' else 'recall'} (mean ± sd, 5 seeds)",
        ylim=(0, 1.15),
    )
    ax.legend(loc="upper right", ncols=3, fontsize=8)
axes[0].set_title(
    f"Recall: leaky CV {leak_mean['random oversampling', 'recall', 'leaky CV']:.2f}, "
    f"test {leak_mean['random oversampling', 'recall', 'test']:.2f}"
)
axes[1].set_title(
    f"F1: leaky CV {leak_mean['random oversampling', 'f1', 'leaky CV']:.2f}, "
    f"test {leak_mean['random oversampling', 'f1', 'test']:.2f}"
)
fig.suptitle(
    "Oversampling before the split inflates the CV score; resampling inside the folds does not"
)
plt.show()

# %% [markdown]
# A fully grown tree memorises its training rows, so a validation positive whose copy sat in
# the training folds is always found: leaky recall is 1 for random oversampling. SMOTE's
# synthetic points are near-copies, and leak almost as much. Resampled inside the folds, the
# CV estimate and the test score agree within the noise. The rule generalises: *anything*
# fitted on data (scaling, feature selection, a sampler) must be fitted on the training
# folds only, which is what putting it inside the estimator passed to `cross_validate`
# guarantees.
#
# ### 4. Comparing the remedies with honest cross-validation
#
# Logistic regression on 3000 points with 5 % positives, each remedy inside the estimator,
# scored by stratified 5-fold CV (error bars are the standard deviation over the five
# folds): no remedy, balanced class weights (`WeightedLogisticRegression`), random
# over-/undersampling and SMOTE (`ResampledClassifier`), and threshold moving, with
# scikit-learn's `TunedThresholdClassifierCV`, which picks the threshold that maximises
# balanced accuracy on an inner validation split of each training fold.

# %%
X_compare, y_compare = make_classification(
    n_samples=3000,
    n_features=10,
    n_informative=4,
    weights=[0.95],
    flip_y=0.01,
    class_sep=0.7,
    random_state=1,
)
plain_model = WeightedLogisticRegression(tol=1e-6)  # CV scores need no more precision
remedies = {
    "none": plain_model,
    "class weights": WeightedLogisticRegression(class_weight="balanced", tol=1e-6),
    "random over": ResampledClassifier(plain_model, RandomOverSampler(random_state=0)),
    "random under": ResampledClassifier(plain_model, RandomUnderSampler(random_state=0)),
    "SMOTE": ResampledClassifier(plain_model, SMOTE(random_state=0)),
    "threshold moving": TunedThresholdClassifierCV(
        plain_model,
        scoring="balanced_accuracy",
        thresholds=np.linspace(0.01, 0.6, 30),
        cv=StratifiedShuffleSplit(n_splits=1, test_size=0.3, random_state=0),
    ),
}
scorers = {
    "accuracy": "accuracy",
    "AP": "average_precision",
    "recall": "recall",
    "balanced accuracy": "balanced_accuracy",
    "ROC-AUC": "roc_auc",
}
compare_folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
remedy_scores = {
    name: cross_validate(model, X_compare, y_compare, cv=compare_folds, scoring=scorers)
    for name, model in remedies.items()
}
print(f"prevalence {y_compare.mean():.3f}")
for name, result in remedy_scores.items():
    print(f"{name:>16}: " + "  ".join(f"{s} {result[f'test_{s}'].mean():.3f}" for s in scorers))

# %%
fig, ax = plt.subplots(figsize=(11, 4.4))
shown = ("accuracy", "AP", "recall", "balanced accuracy")
width = 0.8 / len(remedies)
for r, (name, result) in enumerate(remedy_scores.items()):
    positions = np.arange(len(shown)) + (r - (len(remedies) - 1) / 2) * width
    ax.bar(
        positions,
        [result[f"test_{s}"].mean() for s in shown],
        width=width,
        yerr=[result[f"test_{s}"].std() for s in shown],
        capsize=2,
        color=PALETTE[r],
        label=name,
    )
ax.axhline(y_compare.mean(), color="k", ls=":", lw=1, label="AP of a random ranking (prevalence)")
ax.set_xticks(np.arange(len(shown)), shown)
ax.set(ylabel="score (mean ± sd over 5 CV folds)", ylim=(0, 1.18))
ax.legend(ncols=4, fontsize=8, loc="upper right")
none_ba = remedy_scores["none"]["test_balanced accuracy"].mean()
moved_ba = remedy_scores["threshold moving"]["test_balanced accuracy"].mean()
ax.set_title(
    f"Accuracy ranks 'do nothing' first; balanced accuracy ranks it last "
    f"({none_ba:.2f} vs {moved_ba:.2f} with a moved threshold)"
)
plt.show()

# %%
ap_none = remedy_scores["none"]["test_AP"].mean()
ap_weights = remedy_scores["class weights"]["test_AP"].mean()
for name in ("class weights", "random over", "random under", "SMOTE", "threshold moving"):
    gain = remedy_scores[name]["test_balanced accuracy"].mean() - none_ba
    check_true(f"{name}: balanced accuracy above no remedy", gain > 0.05, f"+{gain:.3f}")
check_close(
    "threshold moving leaves the scores, hence AP, unchanged",
    remedy_scores["threshold moving"]["test_AP"],
    remedy_scores["none"]["test_AP"],
    atol=1e-12,
)
print(f"AP: no remedy {ap_none:.3f}, class weights {ap_weights:.3f}")

# %% [markdown]
# What the numbers say:
#
# - Accuracy is highest for the model that does nothing, and its recall is lowest: the
#   paradox again, now with a real model.
# - Every remedy raises recall and balanced accuracy, and the balanced accuracies end close
#   together. Class weights, random oversampling and SMOTE target the same objective
#   ({eq}`imb-oversampling-expectation`) and land close together; undersampling, which
#   discards most negatives, is no better.
# - Threshold moving reaches the same balanced accuracy *without changing the scores*, so its
#   AP is the plain model's. On these data the reweighted and resampled fits have a lower AP:
#   the classes are mixtures of Gaussian clusters, the linear model is misspecified, and
#   reweighting tilts the boundary (the case after {eq}`imb-logit-shift`) in a way that hurts
#   the ranking at the top. ROC-AUC, printed above, barely moves, which is why it is a poor
#   guide here.
#
# ### 5. Focal loss
#
# The loss {eq}`imb-focal` and the size of its gradient {eq}`imb-focal-grad` relative to
# cross-entropy's, against $p_t$, for several $\gamma$.

# %%
p_t_grid = torch.linspace(0.01, 0.99, 300, dtype=torch.float64)
logits_grid = torch.log(p_t_grid / (1 - p_t_grid))  # logits of positives with p = p_t
ones = torch.ones_like(p_t_grid)
GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
fig, (ax_loss, ax_ratio) = plt.subplots(1, 2, figsize=(11, 4.2))
for colour, gamma in zip(PALETTE, GAMMAS, strict=False):
    ax_loss.plot(
        p_t_grid, focal_loss(logits_grid, ones, gamma), color=colour, label=f"γ = {gamma:g}"
    )
    ratio = focal_loss_grad(logits_grid, ones, gamma) / focal_loss_grad(logits_grid, ones, 0.0)
    ax_ratio.semilogy(p_t_grid, ratio, color=colour, label=f"γ = {gamma:g}")
ax_loss.set(xlabel="probability of the true class $p_t$", ylabel="loss", ylim=(0, 5))
ax_loss.set_title("γ > 0 flattens the loss of well-classified examples")
ax_loss.legend()
easy_logit = torch.tensor([logit(0.9)], dtype=torch.float64)
easy_ones = torch.ones(1, dtype=torch.float64)
easy_ratio = float(
    focal_loss_grad(easy_logit, easy_ones, 2.0) / focal_loss_grad(easy_logit, easy_ones, 0.0)
)
ax_ratio.set(xlabel="probability of the true class $p_t$", ylabel="|∂FL/∂z| / |∂CE/∂z|")
ax_ratio.set_title(f"At $p_t$ = 0.9, γ = 2 keeps {easy_ratio:.3f} of the CE gradient")
ax_ratio.legend()
plt.show()
check_close(
    "gradient ratio at p_t = 0.9, γ = 2 vs (1-p)^γ (1 - γ p log p / (1-p))",
    easy_ratio,
    0.1**2 * (1 - 2 * 0.9 * np.log(0.9) / 0.1),
    atol=1e-12,
)

# %% [markdown]
# Then a training comparison: a small MLP on 3000 points with 3 % positives, trained with
# cross-entropy (CE), CE with `pos_weight` $=n_0/n_1$ (balanced weights up to scale), focal
# loss with $\gamma=2$, and focal with $\gamma=2,\alpha=0.25$ (RetinaNet's setting). Five
# seeds per loss. All $4\times5$ networks train at once as one batched model: each has its own
# parameters and Adam acts element-wise, so this is the same as training them one by one,
# only faster. Reported on a test set: AP, balanced accuracy at threshold 0.5, balanced
# accuracy at the threshold chosen on a validation set, and the mean predicted probability
# next to the true prevalence (a calibration check).

# %%
device = get_device()
X_focal, y_focal = make_classification(
    n_samples=3000,
    n_features=10,
    n_informative=5,
    weights=[0.97],
    flip_y=0.01,
    class_sep=0.8,
    random_state=3,
)
X_fit, X_rest, y_fit, y_rest = train_test_split(
    X_focal, y_focal, test_size=0.5, stratify=y_focal, random_state=0
)
X_val, X_test_focal, y_val, y_test_focal = train_test_split(
    X_rest, y_rest, test_size=0.6, stratify=y_rest, random_state=0
)
pos_weight = float((y_fit == 0).sum() / (y_fit == 1).sum())
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "CE": lambda z, y: F.binary_cross_entropy_with_logits(z, y.expand_as(z), reduction="none"),
    "weighted CE": lambda z, y: F.binary_cross_entropy_with_logits(
        z, y.expand_as(z), pos_weight=torch.tensor(pos_weight, device=z.device), reduction="none"
    ),
    "focal γ=2": lambda z, y: focal_loss(z, y.expand_as(z), gamma=2.0),
    "focal γ=2, α=0.25": lambda z, y: focal_loss(z, y.expand_as(z), gamma=2.0, alpha=0.25),
}
N_SEEDS, HIDDEN, STEPS = 5, 16, 200
print(f"{len(y_fit)} training points, {int(y_fit.sum())} positive; pos_weight {pos_weight:.1f}")


# %%
class BatchedMLP(torch.nn.Module):
    """M independent one-hidden-layer MLPs evaluated in one pass: x (n, d) -> logits (M, n)."""

    def __init__(self, n_models: int, n_features: int, hidden: int) -> None:
        super().__init__()
        self.W1 = torch.nn.Parameter(torch.randn(n_models, n_features, hidden) / n_features**0.5)
        self.b1 = torch.nn.Parameter(torch.zeros(n_models, 1, hidden))
        self.w2 = torch.nn.Parameter(torch.randn(n_models, hidden) / hidden**0.5)
        self.b2 = torch.nn.Parameter(torch.zeros(n_models, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(torch.matmul(x, self.W1) + self.b1)  # (n, d) @ (M, d, H) -> (M, n, H)
        return torch.bmm(h, self.w2.unsqueeze(-1)).squeeze(-1) + self.b2  # (M, n)


# %%
torch.manual_seed(0)


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float32, device=device)


X_fit_t, y_fit_t = to_tensor(X_fit), to_tensor(y_fit)
networks = BatchedMLP(len(LOSSES) * N_SEEDS, X_fit.shape[1], HIDDEN).to(device)
optimizer = torch.optim.Adam(networks.parameters(), lr=1e-2)
for _ in range(STEPS):
    optimizer.zero_grad()
    logits_all = networks(X_fit_t).view(len(LOSSES), N_SEEDS, -1)  # (losses, seeds, n)
    # each network's loss is the mean over examples; summing over networks keeps them independent
    total = sum(
        loss_fn(logits_all[i], y_fit_t).mean(dim=-1).sum()
        for i, loss_fn in enumerate(LOSSES.values())
    )
    total.backward()
    optimizer.step()
with torch.no_grad():
    p_val_all = (
        torch.sigmoid(networks(to_tensor(X_val))).view(len(LOSSES), N_SEEDS, -1).cpu().numpy()
    )
    p_test_all = (
        torch.sigmoid(networks(to_tensor(X_test_focal)))
        .view(len(LOSSES), N_SEEDS, -1)
        .cpu()
        .numpy()
    )

# %%
focal_results: dict[str, dict[str, np.ndarray]] = {}
for i, name in enumerate(LOSSES):
    rows = []
    for p_val, p_test in zip(p_val_all[i], p_test_all[i], strict=True):
        t_tuned, _ = best_threshold(y_val, p_val, balanced_accuracy_from_counts)
        rows.append(
            [
                skm.average_precision_score(y_test_focal, p_test),
                skm.balanced_accuracy_score(y_test_focal, p_test >= 0.5),
                skm.balanced_accuracy_score(y_test_focal, p_test >= t_tuned),
                p_test.mean(),
            ]
        )
    rows = np.array(rows)  # (seeds, 4)
    focal_results[name] = dict(mean=rows.mean(axis=0), std=rows.std(axis=0))
print(f"test prevalence {y_test_focal.mean():.3f}")
print(f"{'':>18}  AP     BA@0.5  BA@tuned  mean p")
for name, result in focal_results.items():
    print(
        f"{name:>18}: "
        + "  ".join(f"{m:.3f}±{s:.3f}" for m, s in zip(result["mean"], result["std"], strict=True))
    )

# %% [markdown]
# `best_threshold` scores every distinct validation probability; the balanced accuracy it
# reports must be scikit-learn's at that threshold:

# %%
t_check, ba_check = best_threshold(y_val, p_val_all[0, 0], balanced_accuracy_from_counts)
check_close(
    "best_threshold's balanced accuracy vs sklearn at that threshold",
    ba_check,
    skm.balanced_accuracy_score(y_val, p_val_all[0, 0] >= t_check),
    atol=1e-12,
)
t_check_f1, f1_check = best_threshold(y_val, p_val_all[0, 0], f1_from_counts)
check_close(
    "best_threshold's F1 vs sklearn at that threshold",
    f1_check,
    skm.f1_score(y_val, p_val_all[0, 0] >= t_check_f1),
    atol=1e-12,
)

# %%
fig, ax = plt.subplots(figsize=(10, 4.2))
panels = ("AP", "balanced accuracy @ 0.5", "balanced accuracy @ tuned t")
width = 0.8 / len(LOSSES)
for r, (name, result) in enumerate(focal_results.items()):
    positions = np.arange(len(panels)) + (r - (len(LOSSES) - 1) / 2) * width
    ax.bar(
        positions,
        result["mean"][:3],
        width=width,
        yerr=result["std"][:3],
        capsize=3,
        color=PALETTE[r],
        label=name,
    )
ax.set_xticks(np.arange(len(panels)), panels)
ax.set(ylabel="test score (mean ± sd, 5 seeds)", ylim=(0, 1.1))
ax.legend(ncols=4, fontsize=8, loc="upper right")
tuned = [result["mean"][2] for result in focal_results.values()]
ax.set_title(
    f"With a tuned threshold the four losses are within {max(tuned) - min(tuned):.3f} "
    "balanced accuracy"
)
plt.show()

# %%
ce, weighted_ce = focal_results["CE"], focal_results["weighted CE"]
check_true(
    "at 0.5, weighted CE beats CE on balanced accuracy",
    bool(weighted_ce["mean"][1] > ce["mean"][1]),
    f"{weighted_ce['mean'][1]:.3f} vs {ce['mean'][1]:.3f}",
)
check_true(
    "CE's AP above weighted CE's",
    bool(ce["mean"][0] > weighted_ce["mean"][0]),
    f"{ce['mean'][0]:.3f} vs {weighted_ce['mean'][0]:.3f}",
)
gap_at_half = weighted_ce["mean"][1] - ce["mean"][1]
gap_tuned = weighted_ce["mean"][2] - ce["mean"][2]
check_true(
    "tuning the threshold closes most of the CE vs weighted-CE gap",
    bool(abs(gap_tuned) < abs(gap_at_half) / 2),
    f"gap {gap_at_half:+.3f} at 0.5, {gap_tuned:+.3f} at tuned thresholds",
)
check_true(
    "CE's mean probability is near the prevalence, weighted CE's is not",
    bool(
        abs(ce["mean"][3] - y_test_focal.mean()) < 0.01
        and weighted_ce["mean"][3] > 2 * y_test_focal.mean()
    ),
    f"CE {ce['mean'][3]:.3f}, weighted CE {weighted_ce['mean'][3]:.3f}, "
    f"prevalence {y_test_focal.mean():.3f}",
)

# %% [markdown]
# On this problem the loss mostly decides *where the 0.5 threshold falls*, and little else.
# At 0.5, weighted CE has the best balanced accuracy, because its probabilities are inflated
# (mean predicted probability well above the prevalence); once each network's threshold is
# picked on validation data, all four losses land close together. Plain CE keeps the best
# AP and weighted CE has the lowest, as class weights lowered AP in Experiment 4. Focal
# loss was designed for something harder than a 3 % tabular problem: a detector scores some
# $10^4$–$10^5$ anchor boxes per image, nearly all easy background, whose many small losses
# add up and swamp the few objects {cite}`lin2017focal`.
#
# Focal loss is not calibrated either (its mean $p$ is also above the prevalence). The
# reason is the same as for {eq}`imb-logit-shift`: at a point where the true posterior is
# $p$, the $q$ that minimises the expected loss $p\,\mathrm{FL}(q)+(1-p)\,\mathrm{FL}(1-q)$
# is $p$ for cross-entropy but is pulled towards $	frac12$ for $\gamma>0$, because
# $(1-p_t)^\gamma$ stops rewarding confident predictions. The next cell finds that $q$.


# %%
def focal_pointwise_minimiser(p: float, gamma: float) -> float:
    """argmin_q of p FL(q) + (1 - p) FL(1 - q) (no α): the focal loss's "probability"."""

    def risk(q: float) -> float:
        return -p * (1 - q) ** gamma * np.log(q) - (1 - p) * q**gamma * np.log(1 - q)

    bounds = (1e-9, 1 - 1e-9)
    return float(minimize_scalar(risk, bounds=bounds, method="bounded", options={"xatol": 1e-10}).x)


for p_true in (0.01, 0.03, 0.1):
    q_ce, q_focal = focal_pointwise_minimiser(p_true, 0.0), focal_pointwise_minimiser(p_true, 2.0)
    print(f"true p = {p_true}: CE gives q = {q_ce:.4f}, focal γ=2 gives q = {q_focal:.4f}")
check_close(
    "γ = 0: the pointwise minimiser is the true p",
    focal_pointwise_minimiser(0.03, 0.0),
    0.03,
    atol=1e-6,
)
check_true(
    "γ = 2: the pointwise minimiser is pulled towards 1/2",
    focal_pointwise_minimiser(0.03, 2.0) > 0.1,
    f"q = {focal_pointwise_minimiser(0.03, 2.0):.4f} for p = 0.03",
)

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Use ROC-AUC, it is good for imbalanced data." True?
# Half. ROC-AUC is the probability that a random positive scores above a random negative; it
# does not depend on the prevalence, so it compares rankers fairly across data sets. But that
# is also why it can be 0.9 while only a few percent of the alarms are real: an FPR of 1 % of
# a million negatives is 10 000 false alarms. The notes recommend it here and advise against
# it one question later; the consistent advice is to report AP (with the prevalence), the
# per-class recall or precision at the deployed threshold, and balanced accuracy or MCC
# ([chapter 12](12_classification_metrics.ipynb) shows AP falling while ROC-AUC stays put as
# negatives multiply).
# :::
#
# :::{dropdown} Should the validation and test sets be rebalanced too?
# No. They estimate performance on the population the model will meet, so they keep its
# prevalence; precision, F1 and AP all depend on it. Rebalance, if at all, only the data the
# model is fitted on, and split with `StratifiedKFold`/`stratify=y` so that each fold keeps
# the prevalence (with 50 positives, an unstratified 5-fold split can leave a fold with a
# handful of positives, and a noisy score).
# :::
#
# :::{dropdown} You oversampled, then ran cross-validation, and got F1 0.97. What went wrong?
# Copies of each validation positive were in the training folds (Experiment 3: leaky recall
# 1.0 for a tree, test recall about half that). Resample inside each training fold: put the
# sampler in the estimator (`ResampledClassifier` here, imbalanced-learn's `Pipeline`
# {cite}`lemaitre2017imbalanced` in practice), never before the split. The same holds for
# SMOTE, scaling, feature selection and target encoding.
# :::
#
# :::{dropdown} Class weights, resampling or threshold moving: which first?
# For a probabilistic model, threshold moving: it keeps the probabilities calibrated, costs
# nothing to retrain, and can follow the costs when they change. Class weights and resampling
# change what the model fits: for a correctly specified model only the intercept
# ({eq}`imb-logit-shift`); for a misspecified one they also move the boundary, which can help
# recall in a region the plain fit neglects, or, as in Experiment 4, cost AP. They also help
# models that have no usable probability, and learners that ignore rare classes while
# fitting (trees that never split on a few positives). Measure with honest CV.
# :::
#
# :::{dropdown} After training with class weights, how do you get probabilities back?
# Subtract $\log(w_1/w_0)$ from the logit, {eq}`imb-logit-shift`; exact in the large-sample
# limit of a well-specified model, and the correction {cite:t}`king2001logistic` use for
# case-control samples. Otherwise recalibrate on a validation set with the real prevalence
# (Platt scaling or isotonic regression, `CalibratedClassifierCV`). The same holds for
# resampled training data.
# :::
#
# :::{dropdown} Where does SMOTE go wrong?
# It draws on segments between minority neighbours, so it assumes the space between them is
# minority territory. With overlapping classes or label noise it puts positives deep inside
# the majority; on one-hot or categorical features it creates values that cannot occur
# (SMOTE-NC and other variants exist); without scaling, the nearest neighbours are decided by
# the feature with the largest units; in high dimensions nearest neighbours are barely nearer
# than the rest. With strong learners it is often no better than class weights (Experiment 4).
# :::
#
# :::{dropdown} Isn't undersampling just throwing data away?
# Yes, and in Experiment 4 it does no better than the other remedies. It earns its place when
# the majority class is huge: training on all positives and a sample of negatives is much
# cheaper, and averaging several models fitted on different negative samples recovers most
# of the lost information. Correct the probabilities afterwards, as for weights: keeping a
# fraction $r$ of the negatives adds $\log(1/r)$ to the logit.
# :::
#
# :::{dropdown} Why did RetinaNet use $\alpha=0.25$ for the *rare* class?
# Because $\gamma$ already does the rebalancing: easy negatives have $p_t$ near 1 and their
# loss is multiplied by $(1-p_t)^\gamma\approx0$. Once that happens, the positives end up
# over-weighted, and a smaller $\alpha$ for them worked best with $\gamma=2$; with $\gamma=0$
# the best $\alpha$ was 0.75, the intuitive direction {cite}`lin2017focal`.
# :::
#
# :::{dropdown} The notes list data augmentation. Where does it fit?
# It is oversampling that knows the domain: label-preserving transformations (crops, flips,
# paraphrases) of minority examples instead of exact copies or straight-line interpolation.
# The same rule applies: augment the training folds only, and check that the transformations
# really preserve the label.
# :::
#
# :::{dropdown} How rare is "too rare"?
# What hurts is the *number* of positives, not the ratio. A million positives among a hundred
# million negatives is an easy problem for a calibrated model with a well-chosen threshold;
# 30 positives are hard at any ratio, and no resampling creates information. With very few
# positives consider framing it as anomaly detection, or collecting more positives.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A data set has 5000 examples with 2 % positives. What are the balanced class weights?
#    If logistic regression is trained with them, by how much does the intercept move (for a
#    well-specified model), and at which threshold on the *unweighted* model's probabilities
#    does it make the same decisions?
#
#    :::{dropdown} Answer
#    $n_1=100$, $n_0=4900$: $w_0=5000/(2\cdot4900)=0.5102$ and $w_1=5000/(2\cdot100)=25$.
#    $\log(w_1/w_0)=\log 49\approx3.89$ is the intercept shift, {eq}`imb-logit-shift`; the
#    weighted "$q\ge\tfrac12$" is the unweighted $p\ge w_0/(w_0+w_1)=1/50=0.02$, the
#    prevalence. The next cell computes all three and checks them.
#    :::

# %%
y_exercise = np.r_[np.zeros(4900, dtype=int), np.ones(100, dtype=int)]
w_exercise = balanced_class_weights(y_exercise, 2)
check_close(
    "exercise 1: balanced weights",
    w_exercise,
    compute_class_weight("balanced", classes=np.array([0, 1]), y=y_exercise),
    atol=1e-15,
)
check_close(
    "exercise 1: log(w1/w0) = log 49", np.log(w_exercise[1] / w_exercise[0]), np.log(49), atol=1e-12
)
check_close(
    "exercise 1: equivalent threshold = prevalence",
    w_exercise[0] / w_exercise.sum(),
    0.02,
    atol=1e-15,
)
print(
    f"w = {w_exercise.round(4)}, shift {np.log(49):.3f}, "
    f"threshold {w_exercise[0] / w_exercise.sum():.3f}"
)

# %% [markdown]
# 2. Missing a fraudulent transaction costs 50, checking a legitimate one costs 1. Which
#    threshold do you apply to a calibrated fraud probability? Your colleague's model was
#    trained with balanced class weights on data with 1 % fraud; which threshold on *its*
#    output makes the same decisions?
#
#    :::{dropdown} Answer
#    $t^\star=1/(1+50)=1/51\approx0.0196$, {eq}`imb-cost-threshold`. The weighted model's
#    logit is larger by $\log(w_1/w_0)=\log99$, so its threshold is
#    $\sigma(\operatorname{logit}(1/51)+\log 99)=\sigma(\log(99/50))=99/149\approx0.664$.
#    Reading 0.5 off a weighted model is the right decision only if the cost ratio happens to
#    equal the class ratio. Checked below on a grid of probabilities.
#    :::

# %%
t_fraud = cost_optimal_threshold(1.0, 50.0)
t_fraud_weighted = float(expit(logit(t_fraud) + np.log(99)))
p_grid = np.linspace(0.001, 0.999, 9999)
q_grid = expit(logit(p_grid) + np.log(99))  # the weighted model's output, eq. (imb-logit-shift)
check_equal(
    "exercise 2: same decisions on both scales", q_grid >= t_fraud_weighted, p_grid >= t_fraud
)
check_close("exercise 2: weighted-scale threshold = 99/149", t_fraud_weighted, 99 / 149, atol=1e-12)
print(f"t* = {t_fraud:.4f}; on the weighted model's scale {t_fraud_weighted:.4f}")

# %% [markdown]
# 3. In Experiment 3, why is leaky recall exactly 1 for random oversampling but below 1 for
#    SMOTE, and why would a 1-nearest-neighbour classifier show the same?
#
#    :::{dropdown} Answer
#    Random oversampling gives each positive about $n_0/n_1$ copies in all (more than ten
#    for 7 % positives), so for practically every validation positive some copy sits in a
#    training fold, and any model that memorises its training set finds it (a fully grown
#    tree; 1-NN at distance 0). SMOTE's points are on segments near, not at, the validation
#    positive, so most but not all are caught.
#    :::
#
# 4. Focal loss with $\gamma=2$: by what factor is the gradient of an example with $p_t=0.9$
#    reduced relative to cross-entropy, and one with $p_t=0.1$?
#
#    :::{dropdown} Answer
#    The ratio is $(1-p_t)^\gamma\big(1-\gamma p_t\log p_t/(1-p_t)\big)$: at $p_t=0.9$,
#    $0.01\,(1+1.8\cdot0.1054/0.1)\approx0.029$ (about 35 times smaller); at $p_t=0.1$,
#    $0.81\,(1+0.2\cdot2.303/0.9)\approx1.22$, slightly *larger* than CE's. The next cell
#    evaluates {eq}`imb-focal-grad` at both points.
#    :::

# %%
for p_t, expected_ratio in [
    (0.9, 0.01 * (1 + 1.8 * -np.log(0.9) / 0.1)),
    (0.1, 0.81 * (1 + 0.2 * -np.log(0.1) / 0.9)),
]:
    z_t = torch.tensor([float(logit(p_t))], dtype=torch.float64)
    ratio_t = focal_loss_grad(z_t, torch.ones(1, dtype=torch.float64), 2.0) / focal_loss_grad(
        z_t, torch.ones(1, dtype=torch.float64), 0.0
    )
    check_close(
        f"exercise 4: gradient ratio at p_t = {p_t}", float(ratio_t), expected_ratio, atol=1e-12
    )
    print(f"p_t = {p_t}: ratio {float(ratio_t):.3f}")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`chawla2002smote`: Section 4 and its pseudocode (SMOTE: $k$ nearest minority
#   neighbours, a random point on the segment), eq. {eq}`imb-smote`.
# - {cite:t}`lin2017focal`: Section 3 (focal loss and its $\alpha$-balanced form,
#   {eq}`imb-focal`), Table 1 (best $\alpha$ for each $\gamma$), the motivation from dense
#   detection.
# - {cite:t}`elkan2001foundations`: the cost-optimal threshold {eq}`imb-cost-threshold` and
#   the equivalence between changing class proportions (weights) and moving the threshold.
# - {cite:t}`king2001logistic`: prior correction of the intercept after over-representing
#   the rare class, {eq}`imb-logit-shift`.
# - {cite:t}`lipton2014optimal`: the F1-optimal threshold of calibrated probabilities is
#   $F_1^\star/2$.
# - {cite:t}`lemaitre2017imbalanced`: the `fit_resample` sampler interface and the
#   resample-in-fit pipeline that `ResampledClassifier` mirrors.
# - {cite:t}`pedregosa2011sklearn`: scikit-learn, whose `LogisticRegression` (objective
#   {eq}`imb-weighted-ce`, `class_weight="balanced"` as {eq}`imb-balanced-weights`) the
#   from-scratch estimator reproduces; {cite:t}`sklearn2025metrics`: balanced accuracy, MCC,
#   average precision and their zero-division conventions; {cite:t}`sklearn2025threshold`:
#   `TunedThresholdClassifierCV`.

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
# # 07. L1 and L2 regularization
#
# **The question.** What are L1 (lasso) and L2 (ridge) regularization, and why does L1 set
# weights exactly to zero while L2 only shrinks them?
#
# **What you will be able to answer.** The two penalised objectives as scikit-learn writes
# them and how each is solved (a closed form for ridge, coordinate descent with
# soft-thresholding for the lasso); why L1 gives exact zeros, from the subgradient, the
# geometry and the Bayesian prior; what the lasso does with correlated features and why the
# elastic net exists; and why features must be standardised and the intercept left alone.

# %%
import itertools
import math
import warnings
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import brentq
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, Ridge, lasso_path
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# Both add a penalty on the weights $w$ to the squared error; the intercept is never
# penalised. In scikit-learn's conventions:
#
# $$\text{Ridge: }\min_w \lVert y-Xw\rVert_2^2+\alpha\lVert w\rVert_2^2,\qquad
# \text{Lasso: }\min_w \tfrac{1}{2n}\lVert y-Xw\rVert_2^2+\alpha\lVert w\rVert_1 .$$
#
# - **L2 (ridge)** has the closed form $\hat w=(X^\top X+\alpha I)^{-1}X^\top y$. Every
#   coefficient is shrunk, none to exactly zero: in the one-variable problem the penalty
#   turns the least-squares value $z$ into $z/(1+\lambda)$. Adding $\alpha I$ makes
#   $X^\top X+\alpha I$ invertible and well conditioned, which is why ridge "helps with
#   multicollinearity". It is the MAP estimate under a Gaussian prior on $w$.
# - **L1 (lasso)** has no closed form; coordinate descent solves it, one weight at a time,
#   by *soft-thresholding*: $z\mapsto\operatorname{sign}(z)\max(|z|-\lambda,0)$, which is
#   *exactly* zero whenever $|z|\le\lambda$. The reason is the kink of $|w|$ at 0: its
#   subgradient there is the whole interval $[-1,1]$, so $w=0$ stays optimal as long as
#   the loss's slope at 0 is at most $\lambda$ in size. L2's pull $\lambda w$ fades as
#   $w\to0$ and cannot hold a weight at zero. Geometrically, the $\ell_1$ ball has corners
#   on the axes. It is the MAP estimate under a Laplace prior.
# - **Correlated features:** the lasso keeps one of a correlated group, and which one can
#   change from one resample of the data to the next; ridge and the **elastic net**
#   (both penalties) spread the weight over the group.
# - **In practice:** standardise the features first (the penalty is not scale-invariant),
#   and note that scikit-learn's `Ridge` and `Lasso` put their $\alpha$ on different scales.
#   In SGD-trained networks a plain L1 subgradient almost never lands on exactly zero;
#   a proximal (soft-threshold) step does.
#
# The notes' bullets are right but leave out the penalties and *why* L1 sparsifies, and
# "removes less important features" is misleading: with correlated features the lasso
# drops features that are as important as the one it keeps (Experiment 4).

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | scikit-learn |
# |---|---|---|
# | $X\in\mathbb R^{n\times p}$, $x_j$ | $n$ samples of $p$ features; column $j$ | `X` |
# | $y\in\mathbb R^n$ | targets | `y` |
# | $w\in\mathbb R^p$, $b$ | coefficients and intercept | `coef_`, `intercept_` |
# | $\alpha\ge0$ | penalty strength | `alpha` |
# | $\rho\in[0,1]$ | share of the L1 penalty in the elastic net | `l1_ratio` |
# | $\lambda$ | penalty strength in the one-variable problems | |
#
# ### The three objectives
#
# scikit-learn's `Ridge` {cite}`pedregosa2011sklearn` minimises the *sum* of squared errors
# plus the squared $\ell_2$ norm {cite}`hoerl1970ridge`:
#
# $$
# \min_{w,b}\ \lVert y-Xw-b\mathbf 1\rVert_2^2+\alpha\lVert w\rVert_2^2
# $$ (reg-ridge-objective)
#
# while `Lasso` {cite}`tibshirani1996lasso` and `ElasticNet` {cite}`zou2005elasticnet`
# minimise the *mean* (halved) plus
# the penalties:
#
# $$
# \min_{w,b}\ \frac{1}{2n}\lVert y-Xw-b\mathbf 1\rVert_2^2+\alpha\lVert w\rVert_1
# $$ (reg-lasso-objective)
#
# $$
# \min_{w,b}\ \frac{1}{2n}\lVert y-Xw-b\mathbf 1\rVert_2^2+\alpha\rho\lVert w\rVert_1
# +\frac{\alpha(1-\rho)}{2}\lVert w\rVert_2^2
# $$ (reg-enet-objective)
#
# The lasso is the elastic net with $\rho=1$. With $\rho=0$, multiplying
# {eq}`reg-enet-objective` by $2n$ gives {eq}`reg-ridge-objective` with $\alpha_{\text{ridge}}
# =n\,\alpha$: the same number means a penalty $n$ times weaker in `ElasticNet` than in
# `Ridge`.
#
# ### The intercept is not penalised: centre the data
#
# $b$ appears only in the squared error. Setting its derivative to zero gives
#
# $$
# b=\bar y-\bar x^\top w,
# $$ (reg-intercept)
#
# with $\bar y$ and $\bar x$ the means of $y$ and of the columns of $X$. Putting it back,
# $y-Xw-b\mathbf 1=(y-\bar y\mathbf 1)-(X-\mathbf 1\bar x^\top)w$: each objective becomes
# the same objective in $w$ alone on **centred** $X$ and $y$, after which {eq}`reg-intercept`
# gives $b$. From here on $X$ and $y$ are centred. Penalising $b$ would make the fit depend
# on where the origin of $y$ is (temperatures in °C or K): adding a constant to $y$ should
# add it to $b$ and change nothing else (checked in the Pitfalls).
#
# ### Ridge: a closed form
#
# {eq}`reg-ridge-objective` is a convex quadratic; its gradient in $w$ is
# $-2X^\top(y-Xw)+2\alpha w$, and setting it to zero gives the normal equations
#
# $$
# (X^\top X+\alpha I)\,\hat w=X^\top y .
# $$ (reg-ridge-solution)
#
# $X^\top X$ is positive semi-definite: with the singular value decomposition
# $X=USV^\top$ its eigenvalues are $s_i^2\ge0$, and zero when columns are collinear, so
# least squares ($\alpha=0$) may have no unique solution. $X^\top X+\alpha I$ has
# eigenvalues $s_i^2+\alpha\ge\alpha>0$: it is invertible for every $\alpha>0$, with
# condition number $(s_{\max}^2+\alpha)/(s_{\min}^2+\alpha)$. That is the precise sense in
# which ridge "helps with multicollinearity". In the same basis,
#
# $$
# \hat w=\sum_i \frac{s_i}{s_i^2+\alpha}\,(u_i^\top y)\,v_i
# =\sum_i \underbrace{\frac{s_i^2}{s_i^2+\alpha}}_{\text{shrinkage}}\,
# \frac{u_i^\top y}{s_i}\,v_i ,
# $$ (reg-ridge-svd)
#
# least squares' component along each principal direction $v_i$, multiplied by a factor in
# $(0,1)$: directions of small variance (small $s_i$) are shrunk most, none is set to zero.
# The sum of the factors, $\mathrm{df}(\alpha)=\sum_i s_i^2/(s_i^2+\alpha)$, is ridge's
# effective number of parameters {cite}`hastie2009elements`. The code solves
# {eq}`reg-ridge-solution` with `np.linalg.solve`; it never forms the inverse, which costs
# more and loses accuracy.
#
# ### One variable: soft threshold vs proportional shrinkage
#
# Everything about sparsity is visible with a single weight. Take
#
# $$
# \hat w_{\ell_1}(z)=\arg\min_w\ \tfrac12(w-z)^2+\lambda|w| .
# $$ (reg-scalar-l1)
#
# $|w|$ has no derivative at 0; its *subdifferential* is $\partial|w|=\{\operatorname{sign}
# (w)\}$ for $w\neq0$ and the interval $[-1,1]$ at $w=0$. A convex function is minimal where
# $0$ belongs to its subdifferential: $0\in w-z+\lambda\,\partial|w|$. For $w>0$ this reads
# $w=z-\lambda$, possible only if $z>\lambda$; for $w<0$, $w=z+\lambda$ if $z<-\lambda$; and
# $w=0$ needs $z\in[-\lambda,\lambda]$. Together:
#
# $$
# \hat w_{\ell_1}(z)=S(z,\lambda)=\operatorname{sign}(z)\max(|z|-\lambda,\,0),
# $$ (reg-soft-threshold)
#
# the **soft-threshold** operator: a whole interval of $z$ maps to exactly zero. With the
# squared penalty instead,
#
# $$
# \hat w_{\ell_2}(z)=\arg\min_w\ \tfrac12(w-z)^2+\tfrac\lambda2 w^2=\frac{z}{1+\lambda},
# $$ (reg-scalar-l2)
#
# zero only if $z$ already is: the penalty's slope $\lambda w$ vanishes near 0, so it
# cannot balance any nonzero slope of the loss there. For the worked example
# $z=(3,\,0.5,\,-2)$ and $\lambda=1$, soft-thresholding gives $(2,\,0,\,-1)$ and ridge
# $(1.5,\,0.25,\,-1)$; the Verification section also finds them by brute force. With an
# orthonormal design ($X^\top X=I$, the unnormalised loss $\tfrac12\lVert y-Xw\rVert^2$) the
# problem separates into $p$ such problems with $z_j=x_j^\top y$.
#
# ### The lasso and elastic net by coordinate descent
#
# Fix every coefficient but $w_j$ and call $r_j=y-\sum_{k\ne j}x_kw_k$ the partial residual.
# As a function of $w_j$, {eq}`reg-enet-objective` is
# $\frac{a_j}{2}w_j^2-c_jw_j+\alpha\rho|w_j|+\text{const}$ with
# $a_j=\lVert x_j\rVert^2/n+\alpha(1-\rho)$ and $c_j=x_j^\top r_j/n$. Dividing by $a_j$ turns
# it into {eq}`reg-scalar-l1` with $z=c_j/a_j$ and $\lambda=\alpha\rho/a_j$, so
#
# $$
# w_j\leftarrow\frac{S\big(x_j^\top r_j/n,\ \alpha\rho\big)}{\lVert x_j\rVert^2/n+\alpha(1-\rho)} .
# $$ (reg-cd-update)
#
# Cycling through $j=1,\dots,p$ and repeating is *cyclic coordinate descent*. It converges
# for this objective because the non-smooth part is a sum of functions of one coordinate
# each {cite}`friedman2010glmnet`. The code keeps the full residual $r=y-Xw$ and forms
# $x_j^\top r_j=x_j^\top r+\lVert x_j\rVert^2w_j$, so one update costs $O(n)$.
#
# The same subgradient argument at $w=0$ tells when the whole solution is zero: $w=0$ is
# optimal iff $|x_j^\top y|/n\le\alpha\rho$ for every $j$, i.e. for
#
# $$
# \alpha\ge\alpha_{\max}=\frac{\max_j|x_j^\top y|}{n\rho} .
# $$ (reg-alpha-max)
#
# Below $\alpha_{\max}$ the feature most correlated with $y$ enters first: this is where
# regularisation paths start.
#
# ### When to stop: the duality gap
#
# "The updates became small" does not bound how far the objective is from its minimum; a
# duality gap does. For the lasso, $P(w)=\frac1{2n}\lVert y-Xw\rVert^2+\alpha\lVert w
# \rVert_1$ has the dual $D(\theta)=\theta^\top y-\frac n2\lVert\theta\rVert^2$ over
# $\{\theta:\lVert X^\top\theta\rVert_\infty\le\alpha\}$ (the Lagrangian of the constraint
# $r=y-Xw$), and weak duality gives $D(\theta)\le P(w^\star)\le P(w)$ for every feasible
# $\theta$. From the current residual $r=y-Xw$, the point $\theta=s\,r/n$ with
# $s=\min\big(1,\ \alpha/\lVert X^\top r/n\rVert_\infty\big)$ is feasible, so
#
# $$
# G(w)=P(w)-D(s\,r/n)\ \ge\ P(w)-P(w^\star)\ \ge0 ,
# $$ (reg-duality-gap)
#
# and $G=0$ at the optimum, where $r/n$ is itself the dual solution
# {cite}`fercoq2015gap`. The elastic net is a lasso on augmented data,
# $\tilde X=\big[\begin{smallmatrix}X\\ \sqrt{n\alpha(1-\rho)}\,I\end{smallmatrix}\big]$ and
# $\tilde y=\big[\begin{smallmatrix}y\\0\end{smallmatrix}\big]$ with penalty $\alpha\rho$
# (the extra rows add exactly $\frac{\alpha(1-\rho)}2\lVert w\rVert^2$), so the same formula
# applies to the augmented residual. scikit-learn's rule, reproduced here: after a sweep in
# which $\max_j|\Delta w_j|\le\mathtt{tol}\cdot\max_j|w_j|$, compute $G$ and stop if
# $G\le\mathtt{tol}\cdot\lVert y\rVert^2/n$. (For $\rho=0$ the feasible scaling is $s=0$
# and the gap never closes; there the code uses ridge's own dual,
# $D(\theta)=\theta^\top y-\frac n2\lVert\theta\rVert^2-\frac{1}{2\alpha}\lVert X^\top\theta
# \rVert^2$ at $\theta=r/n$.)
#
# ### Geometry: corners on the axes
#
# By Lagrange duality, each penalised problem equals a constrained one for some budget $t$:
# minimise the squared error subject to $\lVert w\rVert_1\le t$ (lasso) or $\lVert w\rVert_2
# \le t$ (ridge). The solution is where the smallest level set of the loss first touches the
# ball. At that point the loss's gradient must lie in the ball's *normal cone*. The
# $\ell_2$ ball is smooth: each boundary point has one normal direction, and the touching
# point is on an axis only if the loss gradient there happens to point exactly along it.
# The $\ell_1$ ball is a diamond whose corners lie on the axes, and at a corner the normal
# cone is a whole quarter of directions, so a whole range of loss orientations touch there,
# giving exact zeros (Experiment 3). In $p$ dimensions every face of the $\ell_1$ ball
# except the interiors of its $2^p$ facets lies in a coordinate subspace, so touching it
# anywhere else sets some coefficients exactly to zero.
#
# ### Bayesian view: priors
#
# With the likelihood $y\mid w\sim\mathcal N(Xw,\sigma^2I)$, the maximum a posteriori
# (MAP) estimate minimises $\frac1{2\sigma^2}\lVert y-Xw\rVert^2-\log p(w)$.
#
# - A Gaussian prior $w_j\sim\mathcal N(0,\tau^2)$ adds $\frac1{2\tau^2}\lVert w\rVert^2$;
#   times $2\sigma^2$ this is {eq}`reg-ridge-objective` with $\alpha=\sigma^2/\tau^2$.
#   The posterior is Gaussian, so its mean is the MAP, and Gaussian conditioning gives it a
#   second formula, $\mathbb E[w\mid y]=\tau^2X^\top(\tau^2XX^\top+\sigma^2I)^{-1}y$,
#   which must equal {eq}`reg-ridge-solution`.
# - A Laplace prior $p(w_j)=\frac1{2\beta}e^{-|w_j|/\beta}$ adds $\frac1\beta\lVert w\rVert_1$;
#   times $\sigma^2/n$ this is {eq}`reg-lasso-objective` with $\alpha=\sigma^2/(n\beta)$.
#
# The sparsity belongs to the *mode*: the Laplace prior puts no mass at exactly zero, and
# the posterior mean under it (the "Bayesian lasso") is never exactly zero
# {cite}`park2008bayesian` (checked below in one dimension).
#
# ### The elastic net and correlated features
#
# If two columns are equal, $x_1=x_2$, the lasso objective depends on $w_1,w_2$ only through
# $w_1+w_2$ and $|w_1|+|w_2|$: any split of the same total with equal signs is optimal, and
# the solver's path decides which one comes out. Adding $\frac{\alpha(1-\rho)}2\lVert
# w\rVert^2$ makes the objective strictly convex, hence the solution unique, and among the
# splits of a fixed total the squared norm is smallest for the even one, so the elastic net
# gives equal coefficients to equal features (the *grouping effect*), and nearly equal ones
# to nearly equal features {cite}`zou2005elasticnet`. It also keeps the lasso's exact zeros
# through the $\rho\lVert w\rVert_1$ part.

# %% [markdown]
# ## Implementation from scratch
#
# The one-variable solutions first, {eq}`reg-soft-threshold` and {eq}`reg-scalar-l2`.


# %%
def soft_threshold(z: np.ndarray | float, threshold: float) -> np.ndarray:
    """sign(z) · max(|z| - threshold, 0), element-wise: eq. (reg-soft-threshold)."""
    z = np.asarray(z, dtype=np.float64)
    return np.sign(z) * np.maximum(np.abs(z) - threshold, 0.0)


def ridge_shrinkage(z: np.ndarray | float, lam: float) -> np.ndarray:
    """z / (1 + λ), the minimiser of ½(w - z)² + (λ/2) w²: eq. (reg-scalar-l2)."""
    return np.asarray(z, dtype=np.float64) / (1.0 + lam)


# %% [markdown]
# The three estimators share the centring of {eq}`reg-intercept` and `predict`, so they
# inherit them from one small base class. Like scikit-learn's, they take `fit_intercept`
# and store `coef_` and `intercept_`.


# %%
class CenteredLinearRegressor(RegressorMixin, BaseEstimator):
    """Centring for an unpenalised intercept, eq. (reg-intercept), and a linear `predict`."""

    fit_intercept: bool

    def _validate_and_center(
        self, X: Any, y: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        if self.fit_intercept:
            x_mean, y_mean = X.mean(axis=0), float(y.mean())  # (p,), scalar
        else:
            x_mean, y_mean = np.zeros(X.shape[1]), 0.0
        return X - x_mean, y - y_mean, x_mean, y_mean

    def _set_intercept(self, x_mean: np.ndarray, y_mean: float) -> None:
        self.intercept_ = y_mean - float(x_mean @ self.coef_)  # eq. (reg-intercept)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_  # (n,)


# %% [markdown]
# Ridge solves {eq}`reg-ridge-solution` with `np.linalg.solve`. For $\alpha=0$ (ordinary
# least squares) $X^\top X$ may be singular, so that case goes to `np.linalg.lstsq`, which
# returns the minimum-norm solution.


# %%
class RidgeRegression(CenteredLinearRegressor):
    """Ridge regression, eq. (reg-ridge-objective), by its closed form (reg-ridge-solution)."""

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X: Any, y: Any) -> "RidgeRegression":
        if self.alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {self.alpha}")
        X_centered, y_centered, x_mean, y_mean = self._validate_and_center(X, y)
        if self.alpha > 0:
            gram = X_centered.T @ X_centered + self.alpha * np.eye(X_centered.shape[1])  # (p, p)
            self.coef_ = np.linalg.solve(gram, X_centered.T @ y_centered)  # (p,)
        else:
            self.coef_ = np.linalg.lstsq(X_centered, y_centered, rcond=None)[0]  # (p,)
        self._set_intercept(x_mean, y_mean)
        return self


# %% [markdown]
# Coordinate descent for {eq}`reg-enet-objective` is a function of centred arrays, so that
# the estimators below and the regularisation paths of the Experiments run the same code.
# It updates each coordinate by {eq}`reg-cd-update` and stops by the duality gap
# {eq}`reg-duality-gap` with scikit-learn's rule.


# %%
def enet_duality_gap(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, l1_penalty: float, l2_penalty: float
) -> float:
    """Duality gap (reg-duality-gap) of the elastic net
    P(w) = ||y - Xw||²/(2n) + l1_penalty ||w||₁ + l2_penalty ||w||²/2, centred X (n, p), y (n,)."""
    n = X.shape[0]
    residual = y - X @ w  # (n,)
    if l1_penalty == 0.0:  # ridge: its own dual, evaluated at θ = r / n
        correlation = X.T @ residual / n  # (p,)
        return float(
            residual @ residual / n
            + 0.5 * l2_penalty * (w @ w)
            - residual @ y / n
            + correlation @ correlation / (2 * l2_penalty)
        )
    # the lasso on augmented data: residual [r; -sqrt(n·l2) w], its correlation with X̃
    correlation = X.T @ residual / n - l2_penalty * w  # (p,) = X̃ᵀ r̃ / n
    sq_norm = residual @ residual / n + l2_penalty * (w @ w)  # ||r̃||² / n
    dual_norm = float(np.max(np.abs(correlation), initial=0.0))
    scale = min(1.0, l1_penalty / dual_norm) if dual_norm > 0 else 1.0  # makes θ feasible
    primal = 0.5 * sq_norm + l1_penalty * np.abs(w).sum()
    dual = scale * (residual @ y) / n - 0.5 * scale**2 * sq_norm
    return float(primal - dual)


def enet_coordinate_descent(
    X: np.ndarray,
    y: np.ndarray,
    l1_penalty: float,
    l2_penalty: float,
    w_init: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, float, int]:
    """Cyclic coordinate descent (reg-cd-update) on centred X (n, p), y (n,), from w_init.

    Returns the coefficients (p,), the duality gap and the number of sweeps."""
    n, p = X.shape
    X = np.asfortranarray(X)  # columns contiguous: each update reads one column
    w = np.array(w_init, dtype=np.float64)  # (p,), a copy
    curvature = (X * X).sum(axis=0) / n  # (p,), ||x_j||² / n
    residual = y - X @ w  # (n,), kept equal to y - Xw throughout
    gap_tol = tol * float(y @ y) / n
    gap = math.inf
    for sweep in range(1, max_iter + 1):
        max_change = max_abs_w = 0.0
        for j in range(p):
            if curvature[j] == 0.0:  # a constant column: its coefficient stays 0
                continue
            x_j, w_old = X[:, j], w[j]
            correlation = x_j @ residual / n + curvature[j] * w_old  # x_jᵀ r_j / n
            shrunk = math.copysign(max(abs(correlation) - l1_penalty, 0.0), correlation)
            w_new = shrunk / (curvature[j] + l2_penalty)  # eq. (reg-cd-update)
            if w_new != w_old:
                residual -= (w_new - w_old) * x_j
                w[j] = w_new
            max_change = max(max_change, abs(w_new - w_old))
            max_abs_w = max(max_abs_w, abs(w_new))
        if max_abs_w == 0.0 or max_change <= tol * max_abs_w or sweep == max_iter:
            gap = enet_duality_gap(X, y, w, l1_penalty, l2_penalty)
            if gap <= gap_tol:
                return w, gap, sweep
    warnings.warn(
        f"coordinate descent did not converge: gap {gap:.3g} > {gap_tol:.3g}",
        ConvergenceWarning,
        stacklevel=2,
    )
    return w, gap, max_iter


# %% [markdown]
# `ElasticNetRegression` centres the data, runs the solver from $w=0$, and sets the
# intercept. `LassoRegression` is the elastic net with `l1_ratio` fixed to 1, as in
# scikit-learn. Besides `coef_` and `intercept_`, they keep `dual_gap_` and `n_iter_`
# (sweeps), under scikit-learn's names.


# %%
class ElasticNetRegression(CenteredLinearRegressor):
    """Elastic net, eq. (reg-enet-objective), by cyclic coordinate descent (reg-cd-update)."""

    def __init__(
        self,
        alpha: float = 1.0,
        l1_ratio: float = 0.5,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any) -> "ElasticNetRegression":
        if self.alpha <= 0:
            raise ValueError(f"alpha must be positive (alpha=0 is least squares), got {self.alpha}")
        if not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {self.l1_ratio}")
        X_centered, y_centered, x_mean, y_mean = self._validate_and_center(X, y)
        self.coef_, self.dual_gap_, self.n_iter_ = enet_coordinate_descent(
            X_centered,
            y_centered,
            l1_penalty=self.alpha * self.l1_ratio,
            l2_penalty=self.alpha * (1.0 - self.l1_ratio),
            w_init=np.zeros(X_centered.shape[1]),
            max_iter=self.max_iter,
            tol=self.tol,
        )
        self._set_intercept(x_mean, y_mean)
        return self


class LassoRegression(ElasticNetRegression):
    """The lasso, eq. (reg-lasso-objective): the elastic net with l1_ratio = 1."""

    def __init__(
        self,
        alpha: float = 1.0,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ) -> None:
        super().__init__(
            alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept, max_iter=max_iter, tol=tol
        )


# %% [markdown]
# ## Verification
#
# ### The one-variable solutions, by brute force
#
# The worked example: $z=(3,\,0.5,\,-2)$ and $\lambda=1$. Besides the formulas, each
# objective is minimised over a grid of $w$ with step $10^{-4}$, which knows nothing about
# thresholds.

# %%
z_example, lam_example = np.array([3.0, 0.5, -2.0]), 1.0
w_grid = np.linspace(-5.0, 5.0, 100_001)  # (G,), step 1e-4
l1_objective = 0.5 * (w_grid[:, None] - z_example) ** 2 + lam_example * np.abs(w_grid[:, None])
l2_objective = 0.5 * (w_grid[:, None] - z_example) ** 2 + 0.5 * lam_example * w_grid[:, None] ** 2
soft_by_grid = w_grid[l1_objective.argmin(axis=0)]  # (3,)
ridge_by_grid = w_grid[l2_objective.argmin(axis=0)]  # (3,)

check_equal(
    "soft threshold of z = (3, 0.5, -2), λ = 1 vs (2, 0, -1)",
    soft_threshold(z_example, 1.0),
    [2.0, 0.0, -1.0],
)
check_close(
    "ridge shrinkage of z, λ = 1 vs (1.5, 0.25, -1)",
    ridge_shrinkage(z_example, 1.0),
    [1.5, 0.25, -1.0],
    atol=1e-15,
)
check_close(
    "soft threshold vs grid minimisation", soft_threshold(z_example, 1.0), soft_by_grid, atol=1e-4
)
check_close(
    "ridge shrinkage vs grid minimisation",
    ridge_shrinkage(z_example, 1.0),
    ridge_by_grid,
    atol=1e-4,
)

# %% [markdown]
# The two maps side by side, for $\lambda=1$: soft-thresholding sends the whole band
# $|z|\le\lambda$ to zero and moves everything else by $\lambda$ toward it; ridge scales
# every $z$ by $1/(1+\lambda)$ and sends only $z=0$ to zero.

# %%
z_line = np.linspace(-3.5, 3.5, 701)  # (701,)
fig, ax = plt.subplots(figsize=(6.4, 4.0))
ax.plot(z_line, z_line, ":", color="0.5", lw=1, label="no penalty, $w=z$")
ax.plot(z_line, soft_threshold(z_line, 1.0), color=PALETTE[0], label="L1: $S(z, 1)$")
ax.plot(z_line, ridge_shrinkage(z_line, 1.0), color=PALETTE[1], label="L2: $z/(1+1)$")
ax.axvspan(-1.0, 1.0, color=PALETTE[0], alpha=0.08, label="$|z|\\leq\\lambda$: L1 gives exactly 0")
ax.plot(z_example, soft_by_grid, "o", color=PALETTE[0], ms=6, mfc="none")
ax.plot(z_example, ridge_by_grid, "s", color=PALETTE[1], ms=6, mfc="none", label="grid minimisers")
ax.set(
    xlabel="unpenalised solution $z$",
    ylabel="penalised solution $\\hat w$",
    title="L1 zeroes every |z| ≤ λ; L2 only divides by 1 + λ",
)
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# ### Ridge against scikit-learn
#
# The diabetes data bundled with scikit-learn (442 patients, 10 features), in their original
# units (`scaled=False`), so that the columns have very different scales. Coefficients,
# intercepts and predictions of `RidgeRegression` and `sklearn.linear_model.Ridge` must
# agree to $10^{-10}$ (absolute plus relative), with and without an intercept. The SVD
# form {eq}`reg-ridge-svd` is checked too.

# %%
X_diabetes, y_diabetes = load_diabetes(return_X_y=True, scaled=False)  # (442, 10), (442,)
n_diabetes = X_diabetes.shape[0]
for alpha in (0.1, 10.0):
    for fit_intercept in (True, False):
        ours = RidgeRegression(alpha=alpha, fit_intercept=fit_intercept).fit(X_diabetes, y_diabetes)
        ref = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X_diabetes, y_diabetes)
        what = f"Ridge(alpha={alpha}, fit_intercept={fit_intercept})"
        check_close(f"{what}: coef_", ours.coef_, ref.coef_, atol=1e-10, rtol=1e-10)
        check_close(f"{what}: intercept_", ours.intercept_, ref.intercept_, atol=1e-10, rtol=1e-10)
        check_close(
            f"{what}: predictions",
            ours.predict(X_diabetes),
            ref.predict(X_diabetes),
            atol=1e-10,
            rtol=1e-10,
        )

# %%
X_centered = X_diabetes - X_diabetes.mean(axis=0)  # (n, p)
y_centered = y_diabetes - y_diabetes.mean()  # (n,)
U, singular_values, Vt = np.linalg.svd(X_centered, full_matrices=False)  # (n, p), (p,), (p, p)
alpha = 10.0
ridge_by_svd = Vt.T @ (singular_values / (singular_values**2 + alpha) * (U.T @ y_centered))
ridge_by_solve = RidgeRegression(alpha=alpha).fit(X_diabetes, y_diabetes).coef_
check_close(
    "ridge: SVD form (reg-ridge-svd) vs solve", ridge_by_svd, ridge_by_solve, atol=0.0, rtol=1e-10
)
shrinkage = singular_values**2 / (singular_values**2 + alpha)
print(
    f"shrinkage factors s²/(s² + α) for α = {alpha:g}: from {shrinkage.max():.4f} to "
    f"{shrinkage.min():.4f}; df = {shrinkage.sum():.3f} of {len(shrinkage)}"
)

# %% [markdown]
# ### The lasso and elastic net against scikit-learn
#
# Same data, a tight tolerance for both solvers (`tol=1e-10`), several $\alpha$ and
# `l1_ratio`. Coordinate descent stops at a duality gap below
# $\mathtt{tol}\cdot\lVert y\rVert^2/n$, not at the exact optimum, so the agreement is
# stated as $10^{-6}$. Both implement the same algorithm with the same stopping rule, so
# they should also take the same number of sweeps, printed alongside.

# %%
enet_cases = [(0.1, 1.0), (10.0, 1.0), (1.0, 0.5), (10.0, 0.5), (0.01, 0.2)]
for alpha, l1_ratio in enet_cases:
    if l1_ratio == 1.0:
        ours = LassoRegression(alpha=alpha, tol=1e-10, max_iter=100_000)
        ref = Lasso(alpha=alpha, tol=1e-10, max_iter=100_000)
        what = f"Lasso(alpha={alpha})"
    else:
        ours = ElasticNetRegression(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=100_000)
        ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=100_000)
        what = f"ElasticNet(alpha={alpha}, l1_ratio={l1_ratio})"
    ours.fit(X_diabetes, y_diabetes)
    ref.fit(X_diabetes, y_diabetes)
    check_close(f"{what}: coef_", ours.coef_, ref.coef_, atol=1e-6)
    check_close(f"{what}: intercept_", ours.intercept_, ref.intercept_, atol=1e-6)
    check_close(
        f"{what}: predictions", ours.predict(X_diabetes), ref.predict(X_diabetes), atol=1e-6
    )
    check_true(
        f"{what}: duality gap ≥ 0 and below tol·||y||²/n",
        bool(0 <= ours.dual_gap_ <= 1e-10 * (y_centered @ y_centered) / n_diabetes),
        f"gap {ours.dual_gap_:.2e}",
    )
    print(
        f"   sweeps: ours {ours.n_iter_}, sklearn {ref.n_iter_}; "
        f"zeros: ours {np.sum(ours.coef_ == 0)}, sklearn {np.sum(ref.coef_ == 0)}"
    )

# %% [markdown]
# Two consequences of the derivation. First, {eq}`reg-alpha-max`: at $\alpha_{\max}$ the
# lasso's solution is exactly zero, and just below it exactly one coefficient is nonzero,
# the one of the feature most correlated with $y$. Second, the scale of $\alpha$: the elastic
# net with $\rho=0$ and $\alpha/n$ is ridge with $\alpha$ (our two solvers, closed form and
# coordinate descent, on the same problem).

# %%
alpha_max = np.max(np.abs(X_centered.T @ y_centered)) / n_diabetes  # eq. (reg-alpha-max)
at_max = LassoRegression(alpha=alpha_max).fit(X_diabetes, y_diabetes).coef_
below_max = LassoRegression(alpha=0.99 * alpha_max).fit(X_diabetes, y_diabetes).coef_
check_equal("lasso at α_max: number of nonzero coefficients", np.count_nonzero(at_max), 0)
check_equal(
    "lasso at 0.99 α_max: the one nonzero is argmax_j |x_jᵀy|",
    np.flatnonzero(below_max),
    [np.argmax(np.abs(X_centered.T @ y_centered))],
)
print(f"α_max = {alpha_max:.2f} for the diabetes data in original units")

alpha_ridge = 10.0
enet_as_ridge = ElasticNetRegression(
    alpha=alpha_ridge / n_diabetes, l1_ratio=0.0, tol=1e-12, max_iter=100_000
).fit(X_diabetes, y_diabetes)
ridge_closed_form = RidgeRegression(alpha=alpha_ridge).fit(X_diabetes, y_diabetes)
check_close(
    f"ElasticNet(alpha={alpha_ridge:g}/n, l1_ratio=0) vs Ridge(alpha={alpha_ridge:g})",
    enet_as_ridge.coef_,
    ridge_closed_form.coef_,
    atol=1e-6,
)

# %% [markdown]
# ### The Bayesian view
#
# Ridge with $\alpha=\sigma^2/\tau^2$ against the posterior mean of $w$ computed by Gaussian
# conditioning, $\tau^2X^\top(\tau^2XX^\top+\sigma^2I)^{-1}y$, an $n\times n$ solve instead
# of a $p\times p$ one (no intercept here, so that the prior covers every parameter).

# %%
sigma2, tau2 = 2.0, 0.5
X_small = rng.standard_normal((30, 5))  # (n, p)
y_small = X_small @ rng.standard_normal(5) + math.sqrt(sigma2) * rng.standard_normal(30)  # (n,)
kernel = tau2 * X_small @ X_small.T + sigma2 * np.eye(30)  # (n, n), Cov(y)
posterior_mean = tau2 * X_small.T @ np.linalg.solve(kernel, y_small)  # (p,), Cov(w, y) Cov(y)⁻¹ y
ridge_map = RidgeRegression(alpha=sigma2 / tau2, fit_intercept=False).fit(X_small, y_small).coef_
check_close("ridge (α = σ²/τ²) vs Gaussian posterior mean", ridge_map, posterior_mean, atol=1e-12)

# %% [markdown]
# With a Laplace prior, in one dimension: the observation $z=0.5$ with unit noise and the
# prior $\propto e^{-|w|}$ give the posterior $\propto e^{-(w-z)^2/2-|w|}$. Its mode is the
# soft threshold $S(0.5,1)=0$; its mean, by numerical integration on the grid above, is not.

# %%
z_obs = 0.5
log_posterior = -0.5 * (w_grid - z_obs) ** 2 - np.abs(w_grid)  # (G,), unnormalised
posterior = np.exp(log_posterior - log_posterior.max())
laplace_mean = float(np.sum(w_grid * posterior) / np.sum(posterior))
laplace_mode = float(w_grid[np.argmax(log_posterior)])
check_close(
    "Laplace posterior mode vs soft threshold S(0.5, 1)",
    laplace_mode,
    soft_threshold(z_obs, 1.0),
    atol=1e-4,
)
check_true(
    "the Laplace posterior mean is not zero", abs(laplace_mean) > 0.05, f"mean = {laplace_mean:.4f}"
)

# %% [markdown]
# ### The scikit-learn API
#
# The estimators clone, sit in a `Pipeline` and run under `cross_val_score`; the unit test
# `tests/unit/test_ml_07_estimators.py` runs scikit-learn's full `check_estimator` suite on
# all three. Here, 5-fold $R^2$ of a standardise-then-lasso pipeline, ours against
# scikit-learn's:

# %%
cv_ours = cross_val_score(
    make_pipeline(StandardScaler(), LassoRegression(alpha=1.0)), X_diabetes, y_diabetes, cv=5
)
cv_sklearn = cross_val_score(
    make_pipeline(StandardScaler(), Lasso(alpha=1.0)), X_diabetes, y_diabetes, cv=5
)
check_close("5-fold R² of StandardScaler + lasso, ours vs sklearn", cv_ours, cv_sklearn, atol=1e-6)
print(f"mean R² = {cv_ours.mean():.3f}")

# %% [markdown]
# ## Experiments
#
# ### 1. Regularisation paths
#
# The diabetes features standardised (each column mean 0, variance 1; see the Pitfalls for
# why), the target centred. The lasso path runs our coordinate descent down a grid of 60
# values of $\alpha$ from $\alpha_{\max}$ to $\alpha_{\max}/1000$, each fit starting from the
# previous solution (a *warm start*, which is why whole paths are cheap); the ridge path
# refits the closed form on 60 values of its own $\alpha$. scikit-learn's `lasso_path` (same
# `tol=1e-8`) and `Ridge` on the same grids are the reference.


# %%
def enet_path(
    X: np.ndarray, y: np.ndarray, alphas: np.ndarray, l1_ratio: float, tol: float = 1e-8
) -> np.ndarray:
    """Elastic-net coefficients (p, len(alphas)) on centred X, y, along decreasing alphas,
    each fit warm-started from the previous one."""
    w = np.zeros(X.shape[1])  # (p,)
    path = []
    for alpha in alphas:
        w, _, _ = enet_coordinate_descent(
            X, y, alpha * l1_ratio, alpha * (1 - l1_ratio), w, max_iter=100_000, tol=tol
        )
        path.append(w)
    return np.stack(path, axis=1)  # (p, n_alphas)


# %%
feature_names = load_diabetes().feature_names
X_std = StandardScaler().fit_transform(X_diabetes)  # (n, p), centred and scaled
alpha_max_std = np.max(np.abs(X_std.T @ y_centered)) / n_diabetes  # eq. (reg-alpha-max)
lasso_alphas = alpha_max_std * np.logspace(0, -3, 60)  # (60,), decreasing
lasso_coefs = enet_path(X_std, y_centered, lasso_alphas, l1_ratio=1.0)  # (p, 60)
_, sklearn_lasso_coefs, _ = lasso_path(
    X_std, y_centered, alphas=lasso_alphas, tol=1e-8, max_iter=100_000
)
check_close(
    "lasso path: ours vs sklearn.lasso_path (60 alphas)",
    lasso_coefs,
    sklearn_lasso_coefs,
    atol=1e-6,
)

ridge_alphas = np.logspace(5, -1, 60)  # (60,)
ridge_coefs = np.stack(
    [RidgeRegression(alpha=a).fit(X_std, y_diabetes).coef_ for a in ridge_alphas], axis=1
)  # (p, 60)
sklearn_ridge_coefs = np.stack(
    [Ridge(alpha=a).fit(X_std, y_diabetes).coef_ for a in ridge_alphas], axis=1
)
check_close(
    "ridge path: ours vs sklearn.Ridge (60 alphas)", ridge_coefs, sklearn_ridge_coefs, atol=1e-9
)

# %%
lasso_zeros = np.sum(lasso_coefs == 0, axis=1)  # (p,), how many alphas set each one to 0
ridge_smallest = np.min(np.abs(ridge_coefs))
fig, (ax_ridge, ax_lasso) = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
for j, name in enumerate(feature_names):
    colour = PALETTE[j % len(PALETTE)]
    style = "-" if j < len(PALETTE) else "--"
    ax_ridge.plot(ridge_alphas, ridge_coefs[j], style, color=colour, label=name)
    ax_ridge.plot(
        ridge_alphas[::4], sklearn_ridge_coefs[j, ::4], "o", color=colour, ms=3, mfc="none"
    )
    ax_lasso.plot(lasso_alphas, lasso_coefs[j], style, color=colour)
    ax_lasso.plot(
        lasso_alphas[::3], sklearn_lasso_coefs[j, ::3], "o", color=colour, ms=3, mfc="none"
    )
ax_ridge.plot([], [], "o", color="0.4", ms=3, mfc="none", label="sklearn")
for ax in (ax_ridge, ax_lasso):
    ax.set_xscale("log")
    ax.invert_xaxis()  # weak penalty (the least-squares end) on the right
    ax.axhline(0, color="0.3", lw=0.6)
ax_ridge.set(
    xlabel="α of Ridge (log scale)",
    ylabel="coefficient (target units per standard deviation)",
    title=f"Ridge: all shrink smoothly, smallest |w| = {ridge_smallest:.2g}",
)
ax_lasso.set(
    xlabel="α of Lasso (log scale)",
    title="Lasso: coefficients reach exactly 0, one after another",
)
ax_ridge.legend(ncol=2, fontsize=8, loc="upper left")
fig.suptitle("Regularisation paths on the diabetes data: ours (lines) and scikit-learn's (circles)")
plt.show()

# %% [markdown]
# ### 2. How many coefficients survive
#
# The number of nonzero coefficients along the same grid, for the lasso and for the
# elastic net with $\rho=0.5$ (plotted against its L1 strength $\alpha\rho$, so that both
# start at the same $\alpha_{\max}$ of {eq}`reg-alpha-max`), against ridge's effective
# degrees of freedom $\mathrm{df}(\alpha)=\sum_i s_i^2/(s_i^2+\alpha)$ from
# {eq}`reg-ridge-svd`, while ridge keeps all ten coefficients nonzero at every $\alpha$.

# %%
enet_ratio = 0.5
enet_coefs = enet_path(X_std, y_centered, lasso_alphas / enet_ratio, l1_ratio=enet_ratio)  # (p, 60)
nonzero_lasso = np.count_nonzero(lasso_coefs, axis=0)  # (60,)
nonzero_enet = np.count_nonzero(enet_coefs, axis=0)  # (60,)
nonzero_sklearn = np.count_nonzero(sklearn_lasso_coefs, axis=0)
check_equal("nonzero counts along the lasso path, ours vs sklearn", nonzero_lasso, nonzero_sklearn)
check_true(
    "ridge never sets a coefficient to zero on the path",
    bool(np.all(ridge_coefs != 0)),
    f"min |w| = {ridge_smallest:.3g}",
)
s_std = np.linalg.svd(X_std, compute_uv=False)  # (p,)
ridge_df = np.sum(s_std[:, None] ** 2 / (s_std[:, None] ** 2 + ridge_alphas), axis=0)  # (60,)
half = lasso_alphas[np.argmax(nonzero_lasso >= 5)]
print(f"the lasso keeps 5 of 10 features from α = {half:.3g} (α_max = {alpha_max_std:.3g})")

# %%
fig, (ax_count, ax_df) = plt.subplots(1, 2, figsize=(11, 4.0))
ax_count.step(
    lasso_alphas / alpha_max_std, nonzero_lasso, where="post", color=PALETTE[0], label="lasso"
)
ax_count.step(
    lasso_alphas / alpha_max_std,
    nonzero_enet,
    where="post",
    color=PALETTE[2],
    ls="--",
    label=f"elastic net, ρ = {enet_ratio}",
)
ax_count.axhline(10, color=PALETTE[1], lw=4, alpha=0.4, zorder=0, label="ridge: always 10")
ax_count.set(
    xscale="log",
    xlabel="L1 strength αρ / α_max (ρ = 1 for the lasso; log scale)",
    ylabel="nonzero coefficients",
    title="L1 drops features as α grows; L2 keeps all 10",
)
ax_count.invert_xaxis()
ax_count.legend(loc="lower right")
ax_df.plot(ridge_alphas, ridge_df, color=PALETTE[1], label="ridge df(α) = Σ s²/(s² + α)")
ax_df.axhline(10, color="0.5", ls=":", label="nonzero ridge coefficients")
ax_df.set(
    xscale="log",
    xlabel="α of Ridge (log scale)",
    ylabel="effective parameters",
    title="Ridge shrinks its effective size, not its support",
)
ax_df.invert_xaxis()
ax_df.legend(loc="center left")
plt.show()

# %% [markdown]
# ### 3. The geometry: an $\ell_1$ diamond and an $\ell_2$ circle
#
# Two correlated features, so that the loss's level sets are tilted ellipses. The lasso's
# $\alpha$ is picked from a fine path, in the middle (geometrically) of the range where only
# one coefficient is nonzero; its solution sets the budget $t=\lVert\hat w\rVert_1$. Ridge's
# $\alpha$ is then found (by root finding) so that its solution has $\lVert\hat w\rVert_2=t$,
# the same budget in its own norm. Independently of both solvers, the constrained
# problems are solved by brute force, evaluating the loss at 40 000 points on each ball's
# boundary; the penalised and constrained solutions must coincide.

# %%
n_geo = 100
X_geo = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.6], [0.6, 1.0]], size=n_geo)  # (n, 2)
y_geo = X_geo @ np.array([0.8, 2.0]) + rng.standard_normal(n_geo)  # (n,)
X_geo_c, y_geo_c = X_geo - X_geo.mean(axis=0), y_geo - y_geo.mean()
gram_geo, xty_geo = X_geo_c.T @ X_geo_c / n_geo, X_geo_c.T @ y_geo_c / n_geo  # (2, 2), (2,)


def geo_loss(w: np.ndarray) -> np.ndarray:
    """(1/2n)||y - Xw||² up to a constant, at points w of shape (..., 2): ½ wᵀGw - cᵀw."""
    return 0.5 * np.einsum("...i,ij,...j->...", w, gram_geo, w) - w @ xty_geo


geo_alphas = np.max(np.abs(xty_geo)) * np.logspace(0, -2, 400)  # (400,), from α_max down
geo_path = enet_path(X_geo_c, y_geo_c, geo_alphas, l1_ratio=1.0, tol=1e-12)  # (2, 400)
one_active = geo_alphas[np.count_nonzero(geo_path, axis=0) == 1]
alpha_geo = math.sqrt(one_active.max() * one_active.min())
lasso_geo = LassoRegression(alpha=alpha_geo, tol=1e-12, max_iter=100_000).fit(X_geo, y_geo).coef_
budget = np.abs(lasso_geo).sum()


def ridge_norm_excess(alpha: float) -> float:
    return float(np.linalg.norm(RidgeRegression(alpha=alpha).fit(X_geo, y_geo).coef_) - budget)


alpha_ridge_geo = brentq(ridge_norm_excess, 1e-6, 1e6, xtol=1e-12)
ridge_geo = RidgeRegression(alpha=alpha_ridge_geo).fit(X_geo, y_geo).coef_
print(f"lasso α = {alpha_geo:.3f}: w = {np.round(lasso_geo, 4)}, budget t = {budget:.4f}")
print(f"ridge α = {alpha_ridge_geo:.2f}: w = {np.round(ridge_geo, 4)}")

# %%
edge = np.linspace(0.0, 1.0, 10_000, endpoint=False)[:, None]  # (E, 1)
corners = budget * np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 0]], dtype=float)  # (5, 2)
diamond = np.concatenate([(1 - edge) * a + edge * b for a, b in itertools.pairwise(corners)])
angles = np.linspace(0.0, 2 * np.pi, 40_000, endpoint=False)
circle = budget * np.column_stack([np.cos(angles), np.sin(angles)])  # (40000, 2)
l1_constrained = diamond[np.argmin(geo_loss(diamond))]  # (2,)
l2_constrained = circle[np.argmin(geo_loss(circle))]  # (2,)
check_close("ℓ1-constrained minimum (brute force) vs lasso", l1_constrained, lasso_geo, atol=1e-3)
check_close("ℓ2-constrained minimum (brute force) vs ridge", l2_constrained, ridge_geo, atol=1e-3)
check_true(
    "the lasso solution is on an axis, the ridge solution is not",
    bool(np.sum(lasso_geo == 0) == 1 and np.all(ridge_geo != 0)),
    f"lasso {np.round(lasso_geo, 3)}, ridge {np.round(ridge_geo, 3)}",
)

# %%
ols_geo = np.linalg.solve(gram_geo, xty_geo)  # (2,), least squares
grid_1d = np.linspace(-1.2, 2.6, 200)
grid_w = np.stack(np.meshgrid(grid_1d, grid_1d, indexing="xy"), axis=-1)  # (200, 200, 2)
grid_loss = geo_loss(grid_w)  # (200, 200)
fig, ax = plt.subplots(figsize=(6.2, 5.6))
background = geo_loss(ols_geo) + np.array([0.05, 0.2, 0.5, 1.0, 1.6, 2.4, 3.3])
ax.contour(
    grid_1d, grid_1d, grid_loss, levels=background, colors="0.8", linewidths=0.7, linestyles="solid"
)
ax.fill(*corners.T, color=PALETTE[0], alpha=0.15)
ax.plot(*corners.T, color=PALETTE[0], label=f"ℓ1 ball, ‖w‖₁ ≤ {budget:.2f}")
ax.fill(*circle[::100].T, color=PALETTE[1], alpha=0.08)  # 400 points are enough to draw
ax.plot(*np.vstack([circle, circle[:1]]).T, color=PALETTE[1], label=f"ℓ2 ball, ‖w‖₂ ≤ {budget:.2f}")
for solution, colour, name in [(lasso_geo, PALETTE[0], "lasso"), (ridge_geo, PALETTE[1], "ridge")]:
    ax.contour(
        grid_1d,
        grid_1d,
        grid_loss,
        levels=[geo_loss(solution)],
        colors=colour,
        linewidths=1.2,
        linestyles="solid",
    )
    ax.plot(
        *solution,
        "o",
        color=colour,
        ms=7,
        label=f"{name}: w = ({solution[0]:.2f}, {solution[1]:.2f})",
    )
ax.plot(*ols_geo, "k*", ms=10, label="least squares")
ax.axhline(0, color="0.3", lw=0.6)
ax.axvline(0, color="0.3", lw=0.6)
ax.set(
    xlabel="$w_1$",
    ylabel="$w_2$",
    aspect="equal",
    title="The loss touches the ℓ1 ball at a corner (w₁ = 0),\nthe ℓ2 ball off the axes",
)
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %% [markdown]
# ### 4. Correlated features: the lasso picks one, the elastic net keeps both
#
# **Exact duplicates first.** With $x_2=x_1$, $X^\top X$ is singular (least squares has a
# whole line of solutions) while $X^\top X+\alpha I$ has the finite condition number
# $(s_{\max}^2+\alpha)/\alpha$ derived under {eq}`reg-ridge-solution`. The lasso's objective
# is the same for every split of the total weight, and cyclic coordinate descent gives all
# of it (up to rounding) to the feature it visits first.
# Ridge and the elastic net have unique solutions and split evenly.

# %%
x_dup = rng.standard_normal(50)
X_dup = np.column_stack([x_dup, x_dup])  # (50, 2), two identical columns
y_dup = 2.0 * x_dup + 0.5 * rng.standard_normal(50)
lasso_dup = LassoRegression(alpha=0.1, tol=1e-12).fit(X_dup, y_dup).coef_
sklearn_lasso_dup = Lasso(alpha=0.1, tol=1e-12).fit(X_dup, y_dup).coef_
enet_dup = ElasticNetRegression(alpha=0.1, l1_ratio=0.5, tol=1e-12).fit(X_dup, y_dup).coef_
ridge_dup = RidgeRegression(alpha=1.0).fit(X_dup, y_dup).coef_
check_equal("rank of XᵀX with duplicate columns", np.linalg.matrix_rank(X_dup.T @ X_dup), 1)
gram_dup = X_dup.T @ X_dup  # (2, 2), singular
s_dup = np.linalg.svd(X_dup, compute_uv=False)  # (2,), the second one is 0 up to rounding
check_close(
    "cond(XᵀX + I) vs (s_max² + α) / (s_min² + α), α = 1",
    np.linalg.cond(gram_dup + np.eye(2)),
    (s_dup[0] ** 2 + 1.0) / (s_dup[1] ** 2 + 1.0),
    atol=0.0,
    rtol=1e-10,
)
print(
    f"condition number of XᵀX: {np.linalg.cond(gram_dup):.2g}; "
    f"of XᵀX + I: {np.linalg.cond(gram_dup + np.eye(2)):.1f}"
)
check_close("lasso on duplicates: w₂ = 0 up to rounding", lasso_dup[1], 0.0, atol=1e-12)
check_close(
    "lasso on duplicates vs sklearn (all weight on x₁)", lasso_dup, sklearn_lasso_dup, atol=1e-8
)


def lasso_objective(X: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> float:
    """eq. (reg-lasso-objective) with the intercept at its optimum (centred data)."""
    residual = (y - y.mean()) - (X - X.mean(axis=0)) @ w
    return float(residual @ residual / (2 * len(y)) + alpha * np.abs(w).sum())


total = lasso_dup.sum()
splits = [np.array([total, 0.0]), np.array([total / 2, total / 2]), np.array([0.0, total])]
objectives = [lasso_objective(X_dup, y_dup, w, 0.1) for w in splits]
check_close(
    "lasso objective at (t, 0), (t/2, t/2), (0, t)", objectives, [objectives[0]] * 3, atol=1e-12
)
check_close("elastic net on duplicates: w₁ = w₂", enet_dup[0], enet_dup[1], atol=1e-8)
check_close("ridge on duplicates: w₁ = w₂", ridge_dup[0], ridge_dup[1], atol=1e-12)
print(f"lasso {np.round(lasso_dup, 4)}, elastic net {np.round(enet_dup, 4)}")
print(f"ridge {np.round(ridge_dup, 4)}")

# %% [markdown]
# **Nearly collinear features, under resampling.** A latent $z\sim\mathcal N(0,1)$, two noisy
# copies $x_j=z+0.1\,e_j$ (correlation about 0.99), and $y=x_1+x_2+\varepsilon$ with
# $\varepsilon\sim\mathcal N(0,1)$, $n=100$: both features matter equally. Each bootstrap
# resample (100 rows drawn with replacement) is standardised and fitted by least squares,
# ridge, the lasso ($\alpha=1.5$) and the elastic net ($\alpha=1.5$, $\rho=0.5$); ridge gets
# $\alpha=n\cdot1.5\cdot(1-\rho)=75$, the elastic net's L2 strength in `Ridge`'s units. The
# left panel shows one data set and 100 resamples; the right panel repeats the lasso and
# elastic-net fits on 10 independent data sets with 30 resamples each, and counts how often
# the lasso's choice differs from the one it makes on the full data set.

# %%
N_CORRELATED, ALPHA_CORRELATED, RATIO_CORRELATED = 100, 1.5, 0.5
correlated_models = {
    "least squares": RidgeRegression(alpha=0.0),
    "ridge": RidgeRegression(alpha=N_CORRELATED * ALPHA_CORRELATED * (1 - RATIO_CORRELATED)),
    "lasso": LassoRegression(alpha=ALPHA_CORRELATED, tol=1e-6, max_iter=10_000),
    "elastic net": ElasticNetRegression(
        alpha=ALPHA_CORRELATED, l1_ratio=RATIO_CORRELATED, tol=1e-6, max_iter=10_000
    ),
}


def correlated_data(generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy copies of one latent variable, X (n, 2), and y = x₁ + x₂ + noise (n,)."""
    latent = generator.standard_normal(N_CORRELATED)
    X = latent[:, None] + 0.1 * generator.standard_normal((N_CORRELATED, 2))  # (n, 2)
    return X, X.sum(axis=1) + generator.standard_normal(N_CORRELATED)


def fit_coefficients(model: BaseEstimator, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients (2,) of `model` fitted on standardised X."""
    return model.fit((X - X.mean(axis=0)) / X.std(axis=0), y).coef_


def bootstrap_coefficients(
    model: BaseEstimator,
    X: np.ndarray,
    y: np.ndarray,
    n_resamples: int,
    generator: np.random.Generator,
) -> np.ndarray:
    """Coefficients (n_resamples, 2) of `model` refitted on bootstrap resamples of (X, y)."""
    rows = generator.integers(0, len(y), size=(n_resamples, len(y)))  # (B, n)
    return np.stack([fit_coefficients(model, X[r], y[r]) for r in rows])


X_corr, y_corr = correlated_data(rng)
print(f"correlation of x₁ and x₂: {np.corrcoef(X_corr.T)[0, 1]:.3f}")
resampled = {
    name: bootstrap_coefficients(model, X_corr, y_corr, 100, np.random.default_rng(1))
    for name, model in correlated_models.items()
}  # the same resamples for every model


def support_shares(coefs: np.ndarray) -> dict[str, float]:
    """Share of fits that keep only x₁, only x₂, or both, from coefficients (B, 2)."""
    kept = coefs != 0  # (B, 2)
    return {
        "x₁ only": float(np.mean(kept[:, 0] & ~kept[:, 1])),
        "x₂ only": float(np.mean(~kept[:, 0] & kept[:, 1])),
        "both": float(np.mean(kept[:, 0] & kept[:, 1])),
    }


for name, coefs in resampled.items():
    shares = ", ".join(f"{k} {v:.0%}" for k, v in support_shares(coefs).items())
    print(
        f"{name:>13}: {shares}; mean |w₁ - w₂| = {np.mean(np.abs(coefs[:, 0] - coefs[:, 1])):.2f}"
    )

# %%
N_DATASETS, N_RESAMPLES = 10, 30
dataset_generator = np.random.default_rng(2)
lasso_shares, flip_rates, enet_both = [], [], []
for _ in range(N_DATASETS):
    X_d, y_d = correlated_data(dataset_generator)
    full_support = fit_coefficients(correlated_models["lasso"], X_d, y_d) != 0  # (2,)
    lasso_b = bootstrap_coefficients(
        correlated_models["lasso"], X_d, y_d, N_RESAMPLES, dataset_generator
    )
    enet_b = bootstrap_coefficients(
        correlated_models["elastic net"], X_d, y_d, N_RESAMPLES, dataset_generator
    )
    lasso_shares.append(support_shares(lasso_b))
    flip_rates.append(float(np.mean(np.any((lasso_b != 0) != full_support, axis=1))))
    enet_both.append(support_shares(enet_b)["both"])
mean_flip = float(np.mean(flip_rates))
picks_each = sum(s["x₁ only"] > 0 and s["x₂ only"] > 0 for s in lasso_shares)
print(f"lasso: support differs from the full-data fit in {mean_flip:.0%} of resamples on average")
print(
    f"       (from {min(flip_rates):.0%} to {max(flip_rates):.0%} per data set); in {picks_each} "
    f"of {N_DATASETS} data sets it keeps x₁ alone in some resamples and x₂ alone in others"
)
print(f"elastic net keeps both features in {np.mean(enet_both):.0%} of all resamples")
check_true(
    "the lasso's choice flips across resamples", mean_flip > 0.2, f"mean flip rate {mean_flip:.0%}"
)
check_true(
    "the elastic net keeps both in every resample", bool(np.all(np.array(enet_both) == 1.0)), ""
)

# %%
fig, (ax_scatter, ax_bars) = plt.subplots(1, 2, figsize=(11.5, 4.6), width_ratios=[1, 1.2])
model_colours = {
    "least squares": "0.6",
    "ridge": PALETTE[1],
    "lasso": PALETTE[0],
    "elastic net": PALETTE[2],
}
for name, coefs in resampled.items():
    ax_scatter.plot(*coefs.T, "o", ms=3.5, alpha=0.6, color=model_colours[name], label=name)
ax_scatter.axhline(0, color="0.3", lw=0.6)
ax_scatter.axvline(0, color="0.3", lw=0.6)
lasso_here = support_shares(resampled["lasso"])
ax_scatter.set(
    xlabel="$w_1$ (per standard deviation of $x_1$)",
    ylabel="$w_2$",
    aspect="equal",
    title=f"One data set, 100 resamples: the lasso keeps one feature\nin "
    f"{lasso_here['x₁ only'] + lasso_here['x₂ only']:.0%}, the elastic net both in "
    f"{support_shares(resampled['elastic net'])['both']:.0%}",
)
ax_scatter.legend(loc="upper right", fontsize=8)
positions = np.arange(N_DATASETS)
left = np.zeros(N_DATASETS)
for key, colour in [("x₁ only", PALETTE[0]), ("x₂ only", PALETTE[4]), ("both", "0.75")]:
    widths = np.array([s[key] for s in lasso_shares])
    ax_bars.barh(positions, widths, left=left, color=colour, label=f"lasso keeps {key}")
    left += widths
ax_bars.set(
    yticks=positions,
    yticklabels=[f"data set {i + 1}" for i in positions],
    xlabel=f"share of the {N_RESAMPLES} bootstrap resamples",
    title=f"10 data sets: the lasso's support changes in {mean_flip:.0%} of resamples",
)
ax_bars.invert_yaxis()
ax_bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=8)
plt.show()

# %% [markdown]
# ### 5. L1 in gradient training: subgradient steps vs proximal steps
#
# A network trained by SGD with an L1 term in the loss follows the subgradient
# $\nabla\mathcal L(w)+\alpha\operatorname{sign}(w)$. A weight near zero is pushed by
# $\pm\eta\alpha$ and jumps over zero instead of stopping on it: the L1 term makes it small,
# not zero. The *proximal* step instead takes the gradient step on the loss alone and then
# solves {eq}`reg-scalar-l1` exactly, i.e. soft-thresholds by $\eta\alpha$
# {cite}`parikh2014proximal`:
#
# $$
# w\leftarrow S\big(w-\eta\nabla\mathcal L(w),\ \eta\alpha\big).
# $$ (reg-proximal-step)
#
# Full-batch first, on the standardised diabetes lasso ($\alpha=5$, step $\eta=1/L$ with $L$
# the largest eigenvalue of $X^\top X/n$). The proximal iteration (ISTA) converges to the
# coordinate-descent solution, zeros included. The subgradient iteration gets the decaying
# steps $\eta/\sqrt t$ that make it converge at all, and still only approaches zero: each
# step moves a weight near zero by about $\eta\alpha/\sqrt t$, across zero and back.

# %%
alpha_sgd, n_full_steps = 5.0, 2000
lasso_cd = (
    LassoRegression(alpha=alpha_sgd, tol=1e-12, max_iter=100_000).fit(X_std, y_diabetes).coef_
)
zero_set = lasso_cd == 0  # (p,)
lipschitz = np.linalg.eigvalsh(X_std.T @ X_std / n_diabetes).max()
step = 1.0 / lipschitz
w_sub, w_prox = np.zeros(10), np.zeros(10)
largest_zeroed = {"subgradient": [], "proximal": []}  # max |w_j| over the lasso's zero set
for t in range(1, n_full_steps + 1):
    grad_sub = -X_std.T @ (y_centered - X_std @ w_sub) / n_diabetes  # (p,)
    w_sub = w_sub - step / math.sqrt(t) * (grad_sub + alpha_sgd * np.sign(w_sub))
    grad_prox = -X_std.T @ (y_centered - X_std @ w_prox) / n_diabetes
    w_prox = soft_threshold(w_prox - step * grad_prox, step * alpha_sgd)  # eq. (reg-proximal-step)
    largest_zeroed["subgradient"].append(np.abs(w_sub[zero_set]).max())
    largest_zeroed["proximal"].append(np.abs(w_prox[zero_set]).max())
check_close("proximal gradient (ISTA) vs coordinate descent", w_prox, lasso_cd, atol=1e-6)
check_equal("exact zeros: proximal vs coordinate descent", w_prox == 0, zero_set)
check_equal("exact zeros of the subgradient iterate", np.count_nonzero(w_sub == 0), 0)
first_exact = int(np.argmax(np.array(largest_zeroed["proximal"]) == 0)) + 1
print(
    f"the lasso zeroes {zero_set.sum()} of 10 coefficients; the proximal iterate has them all at "
    f"exactly 0 from step {first_exact}; after {n_full_steps} subgradient steps the largest "
    f"of them is {largest_zeroed['subgradient'][-1]:.3g}"
)

# %%
fig, ax = plt.subplots(figsize=(6.8, 4.0))
steps_axis = np.arange(1, n_full_steps + 1)
for name, colour in [("subgradient, step η/√t", PALETTE[1]), ("proximal, step η", PALETTE[0])]:
    values = np.array(largest_zeroed[name.split(",")[0]])
    ax.loglog(steps_axis, np.where(values > 0, values, np.nan), color=colour, label=name)
ax.plot(steps_axis, step * alpha_sgd / np.sqrt(steps_axis), ":", color="0.4", label="ηα/√t")
ax.axvline(
    first_exact,
    color=PALETTE[0],
    ls="--",
    lw=1,
    label=f"proximal: exactly 0 from step {first_exact}",
)
ax.set(
    xlabel="full-batch step t",
    ylabel="largest |w_j| that the lasso sets to 0",
    title=f"Subgradient steps only approach 0; proximal steps reach it at step {first_exact}",
)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# With minibatches (64 rows, $\eta=0.05$, 100 epochs) the gradient is noisy, so even the
# proximal step leaves a zero only when the minibatch gradient of that coordinate is below
# $\alpha$; over the last 50 epochs, the share of steps at which each coordinate is exactly
# zero:

# %%
sgd_generator = np.random.default_rng(3)
batch, lr_sgd = 64, 0.05
w_sub, w_prox = np.zeros(10), np.zeros(10)
exactly_zero = {"subgradient": [], "proximal": []}
for epoch in range(100):
    order = sgd_generator.permutation(n_diabetes)
    for start in range(0, n_diabetes - batch + 1, batch):
        rows = order[start : start + batch]
        X_b, y_b = X_std[rows], y_centered[rows]  # (B, p), (B,)
        w_sub = w_sub - lr_sgd * (-X_b.T @ (y_b - X_b @ w_sub) / batch + alpha_sgd * np.sign(w_sub))
        w_prox = soft_threshold(
            w_prox + lr_sgd * X_b.T @ (y_b - X_b @ w_prox) / batch, lr_sgd * alpha_sgd
        )
        if epoch >= 50:
            exactly_zero["subgradient"].append(w_sub == 0)
            exactly_zero["proximal"].append(w_prox == 0)
share_zero = {k: np.mean(v, axis=0) for k, v in exactly_zero.items()}  # (p,) each
for name, share in share_zero.items():
    print(f"{name:>11}: " + " ".join(f"{s:4.0%}" for s in share))
print(f"{'lasso zeros':>11}: " + " ".join(f"{'  0 ' if z else '    '}" for z in zero_set))
check_true(
    "minibatch subgradient SGD: no exact zero at any step",
    bool(share_zero["subgradient"].max() == 0),
    "",
)
check_true(
    "minibatch proximal SGD: exact zeros only on the lasso's zero set, at every one of them",
    bool(
        share_zero["proximal"][~zero_set].max() == 0
        and share_zero["proximal"][zero_set].min() > 0.05
    ),
    f"{share_zero['proximal'][zero_set].min():.0%} to "
    f"{share_zero['proximal'][zero_set].max():.0%} of steps",
)

# %% [markdown]
# Adding $\alpha\lVert w\rVert_1$ to the loss of a network gives exactly the subgradient step
# (autograd differentiates $|w|$ as $\operatorname{sign}(w)$), so a
# network trained this way has many small weights and almost no zero ones; pruning then
# needs a threshold. Proximal updates, or the truncated and cumulative-penalty variants
# used for sparse linear models trained online {cite}`langford2009truncated`
# {cite}`tsuruoka2009cumulative`, give exact zeros. Weight decay, the L2 analogue, never
# zeroes anything either way.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} Do I need to standardise the features first?
# Yes. Least squares is equivariant to rescaling a feature (divide a feature by 1000 and
# its coefficient is multiplied by 1000, the predictions do not change), but the penalty
# is not: the same effect
# now needs a coefficient 1000 times larger, which L1 and L2 charge more for, so that
# feature is penalised more (and a feature with a large numeric range is penalised less).
# Standardise (inside a `Pipeline`, so that cross-validation fits the scaler on the training
# folds only), unless the features share units that should be compared as they are. The
# cell below divides the body-mass index of the diabetes data by 1000: the unstandardised
# lasso drops it, although it is the feature most correlated with the target, while the
# standardised pipeline does not change at all.
# :::

# %%
X_rescaled = X_diabetes.copy()
X_rescaled[:, 2] /= 1000.0  # bmi in other units
raw_before = LassoRegression(alpha=10.0).fit(X_diabetes, y_diabetes).coef_
raw_after = LassoRegression(alpha=10.0).fit(X_rescaled, y_diabetes).coef_
support_before, support_after = np.flatnonzero(raw_before), np.flatnonzero(raw_after)
names_before = [feature_names[j] for j in support_before]
names_after = [feature_names[j] for j in support_after]
print(f"unstandardised lasso (alpha=10) keeps {names_before}; with bmi / 1000: {names_after}")
most_correlated = feature_names[np.argmax(np.abs(X_std.T @ y_centered))]
print(f"feature most correlated with the target: {most_correlated}")
check_true(
    "rescaling one feature changes the unstandardised lasso's support",
    not np.array_equal(support_before, support_after),
    "",
)
pipeline = make_pipeline(StandardScaler(), LassoRegression(alpha=1.0, tol=1e-10))
check_close(
    "standardised lasso: predictions before vs after rescaling",
    pipeline.fit(X_rescaled, y_diabetes).predict(X_rescaled),
    pipeline.fit(X_diabetes, y_diabetes).predict(X_diabetes),
    atol=1e-6,
)

# %% [markdown]
# :::{dropdown} Why is the intercept not penalised?
# Because the fit should not depend on the origin of $y$: adding a constant to every
# target should move the intercept by that constant and leave the coefficients alone. That
# holds when only $w$ is penalised ({eq}`reg-intercept`, centring), and fails if $b$ is in
# the penalty, which would pull predictions toward 0. The same reasoning is why neural-network
# recipes usually leave biases and normalisation gains out of weight decay.
# :::

# %%
shift = 1000.0
base = ElasticNetRegression(alpha=1.0, tol=1e-10).fit(X_std, y_diabetes)
shifted = ElasticNetRegression(alpha=1.0, tol=1e-10).fit(X_std, y_diabetes + shift)
check_close("y + 1000: coefficients unchanged", shifted.coef_, base.coef_, atol=1e-9)
check_close(
    "y + 1000: intercept moves by 1000", shifted.intercept_ - base.intercept_, shift, atol=1e-9
)

# %% [markdown]
# :::{dropdown} "L1 does feature selection: it removes the less important features." Does it?
# It removes features, but not necessarily the less important ones. Among correlated
# features it keeps one and drops the others, however important they are, and which one it
# keeps can change with a resample of the data (Experiment 4). Selected sets should be
# reported with their stability, e.g. selection frequencies over subsamples (*stability
# selection*, {cite:t}`meinshausen2010stability`), and the elastic net keeps correlated
# groups together.
# :::
#
# :::{dropdown} Are the lasso's coefficients unbiased for the features it keeps?
# No. Soft-thresholding moves every surviving coefficient by $\lambda$ toward zero
# ({eq}`reg-soft-threshold`), however large it is. A common fix is to use the lasso to
# choose the features and then refit least squares (or a lightly penalised model) on them,
# the *relaxed lasso*.
# :::
#
# :::{dropdown} How many features can the lasso select when $p>n$?
# At most $n$ when its solution is unique (e.g. for data drawn from a continuous
# distribution): the columns of the selected features must be linearly independent, and at
# most $n$ vectors in $\mathbb R^n$ are. With 20 000 genes and 100 patients it keeps at most
# 100 genes. The elastic net has no such limit {cite}`zou2005elasticnet`.
# :::
#
# :::{dropdown} Why not penalise the number of nonzero weights ($\ell_0$) directly?
# Best-subset selection is a combinatorial search (NP-hard in general). $\lVert w\rVert_1$ is
# the convex envelope of $\lVert w\rVert_0$ on the box $\lVert w\rVert_\infty\le1$, the
# closest convex stand-in, which is why it gives sparse solutions with a convex solver.
# :::
#
# :::{dropdown} Are the $\alpha$ of `Ridge` and of `Lasso` comparable?
# No. `Ridge` penalises the *sum* of squared errors, `Lasso` and `ElasticNet` half the
# *mean*, so `ElasticNet(alpha=a / n, l1_ratio=0)` is `Ridge(alpha=a)` (checked in the
# Verification section). A value tuned for one does not carry over to the other, nor to a
# data set with a different $n$ for `Ridge`.
# :::
#
# :::{dropdown} Is L2 regularisation the same as weight decay?
# For plain SGD yes, for Adam no: chapter ML 1 shows that Adam with an L2 term divides the
# decay by $\sqrt{\hat v_t}$, which AdamW's decoupled decay avoids
# {cite}`loshchilov2019adamw`.
# :::
#
# :::{dropdown} Ridge or lasso: which predicts better?
# Neither in general. Ridge tends to win when many features each have a small effect, the
# lasso when a few have large effects and the rest none; the elastic net sits in between.
# Choose $\alpha$ (and $\rho$) by cross-validation (`RidgeCV`, `LassoCV`, `ElasticNetCV`)
# {cite}`hastie2009elements`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Build a design with $X^\top X/n=I$ (orthogonal columns of squared norm $n$, no
#    intercept) and $y=Xz$ with $z=(3,\,0.5,\,-2)$. What do `LassoRegression(alpha=1)` and
#    `RidgeRegression(alpha=?)` return, and which `Ridge` $\alpha$ reproduces the worked example's
#    ridge numbers $(1.5,\,0.25,\,-1)$?
#
#    :::{dropdown} Answer
#    The coordinates separate. The lasso's update {eq}`reg-cd-update` has curvature 1 and
#    correlation $x_j^\top y/n=z_j$, so it returns $S(z,1)=(2,\,0,\,-1)$ after one sweep.
#    Ridge's normal equations {eq}`reg-ridge-solution` read $(n+\alpha)w=nz$, so
#    $w=z/(1+\alpha/n)$: the example's $z/2$ needs $\alpha=n$ in `Ridge`'s units. The next
#    cell checks both with $n=50$.
#    :::

# %%
n_exercise = 50
Q, _ = np.linalg.qr(rng.standard_normal((n_exercise, 3)))  # (n, 3), orthonormal columns
X_exercise = math.sqrt(n_exercise) * Q  # XᵀX / n = I
y_exercise = X_exercise @ z_example
lasso_exercise = LassoRegression(alpha=1.0, fit_intercept=False, tol=1e-12).fit(
    X_exercise, y_exercise
)
ridge_exercise = RidgeRegression(alpha=n_exercise, fit_intercept=False).fit(X_exercise, y_exercise)
check_close("exercise 1: lasso = S(z, 1)", lasso_exercise.coef_, [2.0, 0.0, -1.0], atol=1e-12)
check_close(
    "exercise 1: Ridge(alpha=n) = z / 2", ridge_exercise.coef_, [1.5, 0.25, -1.0], atol=1e-12
)

# %% [markdown]
# 2. Two standardised features have correlations $x_1^\top y/n=3$ and $x_2^\top y/n=-4$.
#    Above which $\alpha$ is the lasso solution zero, which feature enters first, and what is
#    $\alpha_{\max}$ for the elastic net with $\rho=0.5$?
#
#    :::{dropdown} Answer
#    By {eq}`reg-alpha-max`, $\alpha_{\max}=\max(3,4)=4$, and $x_2$ enters first, with a
#    negative coefficient. For $\rho=0.5$ the L1 part is $\alpha\rho$, so
#    $\alpha_{\max}=4/0.5=8$. The next cell builds such data and checks it with the solvers.
#    :::

# %%
X_ex2 = StandardScaler().fit_transform(rng.standard_normal((40, 2)))  # (40, 2), standardised
y_ex2 = X_ex2 @ np.linalg.solve(X_ex2.T @ X_ex2 / 40, [3.0, -4.0])  # (40,), Xᵀy/n = (3, -4)
check_close("exercise 2: Xᵀy / n", X_ex2.T @ (y_ex2 - y_ex2.mean()) / 40, [3.0, -4.0], atol=1e-10)
for model, alpha_zero in [
    (LassoRegression, 4.0),
    (partial(ElasticNetRegression, l1_ratio=0.5), 8.0),
]:
    at_zero = model(alpha=alpha_zero).fit(X_ex2, y_ex2).coef_
    just_below = model(alpha=0.999 * alpha_zero).fit(X_ex2, y_ex2).coef_
    check_true(
        f"exercise 2: zero at α = {alpha_zero:g}, only x₂ (negative) just below",
        bool(np.all(at_zero == 0) and just_below[0] == 0 and just_below[1] < 0),
        f"{just_below.round(4)}",
    )

# %% [markdown]
# 3. Why does the elastic net give identical features identical coefficients, and why does
#    that help when features are only *nearly* identical?
#
#    :::{dropdown} Answer
#    For $x_1=x_2$ the squared error and the L1 term depend only on $w_1+w_2$ (for equal
#    signs), while $w_1^2+w_2^2$ at a fixed sum is smallest at $w_1=w_2$; the strictly convex
#    L2 part breaks the lasso's tie in favour of the even split and makes the solution
#    unique. The solution depends continuously on the data, so nearly identical features get
#    nearly equal coefficients instead of the lasso's all-or-nothing choice that flips with
#    the sample (Experiment 4).
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`tibshirani1996lasso`: the lasso, its constrained form and the diamond picture
#   (Section 2), soft-thresholding for orthonormal designs.
# - {cite:t}`hoerl1970ridge`: ridge regression and $X^\top X+\alpha I$ for non-orthogonal
#   (collinear) problems.
# - {cite:t}`zou2005elasticnet`: the elastic net, the grouping effect (Theorem 1), the lasso's
#   limits with correlated features and with $p>n$ (Section 1).
# - {cite:t}`friedman2010glmnet`: coordinate descent with soft-thresholding for the elastic
#   net (Section 2), warm starts along a path of $\alpha$ starting at $\alpha_{\max}$.
# - {cite:t}`fercoq2015gap`: the duality gap of the lasso and the rescaled residual as a dual
#   feasible point (Section 2), as used in scikit-learn's stopping rule.
# - {cite:t}`hastie2009elements`, Section 3.4: ridge in the SVD basis, its effective degrees
#   of freedom, the $\ell_1$/$\ell_2$ geometry (Figure 3.11) and the Bayesian view.
# - {cite:t}`park2008bayesian`: the Laplace prior and the Bayesian lasso, whose posterior
#   mean is not sparse.
# - {cite:t}`parikh2014proximal`: the proximal operator of the $\ell_1$ norm
#   (soft-thresholding) and the proximal gradient method (Section 4.2).
# - {cite:t}`langford2009truncated` and {cite:t}`tsuruoka2009cumulative`: exact zeros in
#   online and SGD training with L1.
# - {cite:t}`meinshausen2010stability`: stability selection.
# - {cite:t}`pedregosa2011sklearn` and the scikit-learn user guide, *Linear Models*
#   (sections 1.1.2 Ridge, 1.1.3 Lasso, 1.1.5 Elastic-Net): the objectives
#   {eq}`reg-ridge-objective`–{eq}`reg-enet-objective` and the stopping rule of
#   `Lasso`/`ElasticNet`.
# - {cite:t}`loshchilov2019adamw`: L2 vs decoupled weight decay under Adam (chapter ML 1).

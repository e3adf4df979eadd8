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
# # 02. The bias–variance trade-off
#
# **The question.** What is the bias–variance trade-off? What are the bias and the variance
# of a learning algorithm, and how do they add up to its expected test error?
#
# **What you will be able to answer.** Write the decomposition
# $\text{expected test error}=\text{Bias}^2+\text{Variance}+\sigma^2$ and prove it in three
# lines; say what bias is (the error of the *average* model, not the error of a model);
# estimate all three terms by simulation and show that they add up; draw the U-curve over
# model complexity and say where the classical picture stops (double descent).

# %%
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from numpy.polynomial.legendre import legvander
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.data import noisy_function_1d
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# Train the same algorithm on many training sets $D$ drawn from the same distribution, with
# $y=f(x)+\varepsilon$, $\mathbb E\varepsilon=0$, $\operatorname{Var}\varepsilon=\sigma^2$,
# and look at its prediction $\hat f_D(x)$ at one test point $x$.
#
# - **Bias** is how far the *average* prediction is from the truth:
#   $\text{Bias}(x)=\mathbb E_D[\hat f_D(x)]-f(x)$. It is the error of the model class and
#   the fitting procedure, not of one fitted model. The notes' "how far off the model's
#   predictions are from the actual values" is the total error, which also contains the
#   variance and the noise.
# - **Variance** is how much the prediction moves from one training set to the next:
#   $\mathbb E_D\big[(\hat f_D(x)-\mathbb E_D\hat f_D(x))^2\big]$.
# - For squared loss the expected test error splits exactly:
#   $\mathbb E_{D,\varepsilon}\big[(y-\hat f_D(x))^2\big]=\text{Bias}(x)^2+\text{Var}(x)+\sigma^2$,
#   and averaging over $x$ gives the expected test MSE. The cross terms vanish because the
#   test noise is independent of $D$ and the deviations from the average prediction average
#   to zero. $\sigma^2$ is the irreducible part.
# - More flexible models usually have lower bias and higher variance, so the test error is
#   U-shaped in complexity (polynomial degree, $1/k$ in $k$-NN). Ridge regularisation, bagging
#   and early stopping move a model along the trade-off without changing its class.
# - The U is not the whole story. Past the interpolation threshold (as many parameters as
#   training points), minimum-norm fits can get *better* again as the model grows: **double
#   descent** {cite}`belkin2019reconciling`. For 0-1 loss there is no such additive split.
#
# This chapter estimates every term by simulating many training sets, checks the estimates
# against closed forms, and checks that they add up to the test error measured on fresh data.

# %% [markdown]
# ## Derivation
#
# ### Setting
#
# | symbol | meaning |
# |---|---|
# | $f(x)$ | the true regression function; here $\sin 2\pi x$ on $[0,1]$ |
# | $\varepsilon$ | noise, independent of $x$, mean 0, variance $\sigma^2$ (here $\sigma=0.3$) |
# | $D=\{(x_i,y_i)\}_{i=1}^n$ | a training set of $n$ independent draws of $(x,y)$ |
# | $\hat f_D$ | the model fitted to $D$ (for example the least-squares polynomial of degree $q$) |
# | $(x,y)$ | a test point, independent of $D$, with $y=f(x)+\varepsilon$ |
#
# $$
# y = f(x) + \varepsilon, \qquad \mathbb E[\varepsilon]=0, \quad
# \operatorname{Var}[\varepsilon]=\sigma^2
# $$ (bv-model)
#
# The randomness of the prediction $\hat f_D(x)$ comes from the training set: which $x_i$
# were drawn and which noise they carry (and, for a randomised algorithm, its seed). Its
# mean over training sets is the *average model*
#
# $$
# \bar f(x) = \mathbb E_D\big[\hat f_D(x)\big].
# $$ (bv-mean-model)
#
# ### Bias and variance at one point
#
# $$
# \operatorname{Bias}(x)=\bar f(x)-f(x), \qquad
# \operatorname{Var}(x)=\mathbb E_D\big[(\hat f_D(x)-\bar f(x))^2\big].
# $$ (bv-bias-variance)
#
# Bias is a property of the average model: a degree-9 polynomial can have almost no bias
# while every single fit is far from $f$. That is why "how far the predictions are from the
# actual values" is not the bias.
#
# ### The decomposition
#
# At a fixed test input $x$, write the error as three pieces that each depend on one source
# of randomness:
#
# $$
# y-\hat f_D(x) = \underbrace{\varepsilon}_{\text{test noise}}
# + \underbrace{f(x)-\bar f(x)}_{\text{fixed}}
# + \underbrace{\bar f(x)-\hat f_D(x)}_{\text{training set}}.
# $$
#
# Square and take the expectation over $D$ and $\varepsilon$. The three squares give
# $\sigma^2$, $\operatorname{Bias}(x)^2$ and $\operatorname{Var}(x)$. The cross terms vanish:
# $\mathbb E[\varepsilon\cdot g(D)]=\mathbb E[\varepsilon]\,\mathbb E[g(D)]=0$ because the
# test noise is independent of the training set, and
# $\mathbb E_D\big[(f-\bar f)(\bar f-\hat f_D)\big]=(f-\bar f)\,\mathbb E_D[\bar f-\hat f_D]=0$
# by the definition of $\bar f$. So
#
# $$
# \mathbb E_{D,\varepsilon}\big[(y-\hat f_D(x))^2\big]
# = \operatorname{Bias}(x)^2+\operatorname{Var}(x)+\sigma^2 .
# $$ (bv-decomposition)
#
# Bias and variance are functions of $x$. The expected test MSE averages
# {eq}`bv-decomposition` over the test inputs $x\sim p(x)$:
#
# $$
# \mathbb E_{x,D,\varepsilon}\big[(y-\hat f_D(x))^2\big]
# = \mathbb E_x\big[\operatorname{Bias}(x)^2\big]+\mathbb E_x\big[\operatorname{Var}(x)\big]
# +\sigma^2 .
# $$ (bv-average)
#
# Nothing here needs Gaussian noise or a particular model; it needs squared loss and a test
# point independent of the training set.
#
# ### Estimating the terms by simulation
#
# With $f$ known we can draw $M$ independent training sets $D_1,\dots,D_M$, fit each, and
# record the predictions $\hat f_m(x)=\hat f_{D_m}(x)$. The sample mean
# $\bar f_M(x)=\frac1M\sum_m\hat f_m(x)$ estimates $\bar f(x)$, and
#
# $$
# \widehat{\operatorname{Var}}(x)=\frac{1}{M-1}\sum_{m=1}^M\big(\hat f_m(x)-\bar f_M(x)\big)^2,
# \qquad
# \widehat{\operatorname{Bias}^2}(x)=\big(\bar f_M(x)-f(x)\big)^2
# -\frac{\widehat{\operatorname{Var}}(x)}{M}.
# $$ (bv-estimators)
#
# Both are unbiased. The correction $-\widehat{\operatorname{Var}}/M$ matters: since
# $\bar f_M$ is itself noisy, $\mathbb E\big[(\bar f_M-f)^2\big]=\operatorname{Bias}^2
# +\operatorname{Var}/M$, so the plain plug-in overstates the bias of a high-variance model.
# The two estimates add up to the average squared distance of the fits from the truth, with
# no Monte-Carlo error at all (expand the square around $\bar f_M$):
#
# $$
# \widehat{\operatorname{Bias}^2}(x)+\widehat{\operatorname{Var}}(x)
# =\frac1M\sum_{m=1}^M\big(\hat f_m(x)-f(x)\big)^2 .
# $$ (bv-identity)
#
# The *measured* test error uses fresh noisy targets $y'_{m}(x)=f(x)+\varepsilon'_m(x)$, one
# per training set and test point, as a held-out test set would. Averaged over the $N=MJ$
# pairs of training set and test point $x_1,\dots,x_J$, it differs from the sum of the
# estimated terms plus $\sigma^2$ by
#
# $$
# \widehat{\text{MSE}}-\Big(\overline{\widehat{\operatorname{Bias}^2}}
# +\overline{\widehat{\operatorname{Var}}}+\sigma^2\Big)
# =\frac1N\sum_{m,j}\Big[\varepsilon'^2_{mj}-\sigma^2
# +2\varepsilon'_{mj}\big(f(x_j)-\hat f_m(x_j)\big)\Big],
# $$ (bv-gap)
#
# where bars are averages over the $x_j$. These are the two terms the derivation says vanish
# in expectation. Given the fitted models, the $N$ summands are independent with mean 0 and,
# for Gaussian noise, variance $2\sigma^4+4\sigma^2(f-\hat f_m)^2$, so the gap has the
# standard error
#
# $$
# \operatorname{se}=\frac1N\Big(\sum_{m,j}2\sigma^4
# +4\sigma^2\big(f(x_j)-\hat f_m(x_j)\big)^2\Big)^{1/2}.
# $$ (bv-gap-se)
#
# The checks below require the gap to be within four of these standard errors; a correct
# decomposition fails that with probability about $6\cdot10^{-5}$.
#
# ### A closed form: shrinking the sample mean
#
# The simplest estimator with a trade-off is a shrunken mean. Draw $x_1,\dots,x_n$
# independently with mean $\mu$ and variance $s^2$, and estimate $\mu$ by $\hat\mu=c\,\bar x$
# with $0\le c\le1$. Then $\mathbb E\hat\mu=c\mu$ and $\operatorname{Var}\hat\mu=c^2s^2/n$:
#
# $$
# \operatorname{Bias}^2=(c-1)^2\mu^2,\qquad \operatorname{Var}=\frac{c^2s^2}{n},\qquad
# \operatorname{MSE}(c)=(1-c)^2\mu^2+\frac{c^2s^2}{n}.
# $$ (bv-shrinkage)
#
# Here the "test point" is the fixed number $\mu$, with no noise, so $\sigma^2=0$. Setting
# $\operatorname{MSE}'(c)=0$ gives the best factor
#
# $$
# c^\star=\frac{\mu^2}{\mu^2+s^2/n}, \qquad
# \operatorname{MSE}(c^\star)=\frac{\mu^2\,s^2/n}{\mu^2+s^2/n}<\frac{s^2}{n}=\operatorname{MSE}(1).
# $$ (bv-shrinkage-opt)
#
# Some shrinkage always beats the unbiased $\bar x$, but too much shrinkage loses, and the
# best amount depends on the unknown $\mu$. Ridge regression makes the same bargain for
# regression coefficients.
#
# ### A closed form: linear smoothers on a fixed design
#
# Keep the training inputs $x_1,\dots,x_n$ fixed and redraw only the noise. Least squares
# (with any fixed basis), $k$-nearest neighbours and kernel smoothers are *linear smoothers*:
# the prediction is a weighted sum of the training targets, $\hat f(x)=s(x)^\top y$ with
# weights $s(x)\in\mathbb R^n$ that depend on the inputs only. With
# $y=f(X)+\varepsilon$, where $f(X)=(f(x_1),\dots,f(x_n))$:
#
# $$
# \operatorname{Bias}(x)=s(x)^\top f(X)-f(x), \qquad
# \operatorname{Var}(x)=\sigma^2\,\lVert s(x)\rVert^2 .
# $$ (bv-smoother)
#
# For least squares on a design matrix $V$ (row $i$ holds the basis functions at $x_i$),
# $s(x)^\top=v(x)^\top V^{+}$, where $V^+$ is the pseudo-inverse. For $k$-NN, $s(x)$ puts
# weight $1/k$ on the $k$ nearest training inputs, so $\operatorname{Var}(x)=\sigma^2/k$ for
# every $x$ {cite}`hastie2009elements`. With random training inputs (the rest of the chapter)
# the variance also includes how the design moves, and there is no closed form.
#
# ### Double descent: minimum-norm least squares
#
# Regress on $p$ random features $\phi(x)\in\mathbb R^p$, collected in the $n\times p$
# matrix $\Phi$. When $p>n$ the least-squares problem has infinitely many solutions that fit
# the training data exactly. The pseudo-inverse picks the one of smallest norm:
#
# $$
# \hat w=\Phi^+y=\sum_{i:\,s_i>0}\frac{u_i^\top y}{s_i}\,v_i ,
# $$ (bv-minnorm)
#
# where $\Phi=\sum_i s_i u_iv_i^\top$ is the singular value decomposition. It is also the
# limit of ridge regression as the penalty goes to zero,
#
# $$
# \hat w_\lambda=(\Phi^\top\Phi+\lambda I)^{-1}\Phi^\top y=\Phi^\top(\Phi\Phi^\top+\lambda I)^{-1}y
# \;\xrightarrow[\lambda\to0]{}\;\Phi^+y .
# $$ (bv-ridge)
#
# {eq}`bv-minnorm` shows where the trouble is. The noise in $y$ reaches $\hat w$ divided by
# the singular values. For $p$ well below or well above $n$, the smallest singular value of
# a random $n\times p$ matrix stays away from zero; at $p\approx n$, a square random matrix
# has a singular value close to zero, and $\hat w$ amplifies the noise along its direction.
# The variance, and with it the test error, peaks at the *interpolation threshold* $p=n$.
# Beyond it, adding features gives the minimum-norm solution more directions to spread over,
# its norm falls, and the test error descends a second time
# {cite}`belkin2019reconciling,hastie2022surprises`.

# %% [markdown]
# ## Implementation from scratch
#
# ### The data and the model
#
# The truth is the default of `notebook_utils.data.noisy_function_1d`: $f(x)=\sin 2\pi x$,
# $x\sim U(0,1)$, $\sigma=0.3$. The test inputs are the midpoints of 200 equal bins of
# $[0,1]$, so an average over them approximates $\mathbb E_x$ for $x\sim U(0,1)$ (the
# midpoint rule).

# %%
SIGMA = 0.3  # noise standard deviation σ
N_TRAIN = 30  # training points per training set
N_SETS = 1000  # training sets M
N_TEST = 200  # test inputs


def true_function(x: np.ndarray) -> np.ndarray:
    """f(x) = sin 2πx, the truth of eq. (bv-model)."""
    return np.sin(2 * np.pi * x)


x_test = (np.arange(N_TEST) + 0.5) / N_TEST  # (J,): midpoints, so means approximate E_x
f_test = true_function(x_test)  # (J,)

# %% [markdown]
# The model of the 1-D experiments is the least-squares polynomial of degree $q$. Every basis
# of the polynomials of degree $\le q$ gives the same fit; Legendre polynomials of $2x-1$
# keep the least-squares problem well conditioned on $[0,1]$, where monomials $x^k$ become
# nearly collinear. `y` may hold several target vectors as columns, fitted at once; that is
# what the fixed-design check uses.


# %%
def polynomial_fit_predict(
    x: np.ndarray, y: np.ndarray, degree: int, x_new: np.ndarray
) -> np.ndarray:
    """Least-squares polynomial of `degree` fitted to (x, y), evaluated at x_new.

    x: (n,) in [0, 1]; y: (n,) or (n, k) for k target vectors; returns (n_new,) or (n_new, k).
    """
    design = legvander(2 * x - 1, degree)  # (n, q + 1): P_0..P_q at 2x - 1
    coef = np.linalg.lstsq(design, y, rcond=None)[0]  # (q + 1,) or (q + 1, k)
    return legvander(2 * x_new - 1, degree) @ coef  # (n_new,) or (n_new, k)


# %% [markdown]
# ### Many training sets
#
# `draw_training_sets` draws $M$ independent training sets with `noisy_function_1d`.
# `fit_each` trains one model per set and stacks its predictions at the test inputs; row $m$
# is $\hat f_m$. The experiments reuse the same training sets for every model they compare,
# so differences between models are not differences between draws.


# %%
def draw_training_sets(
    n_sets: int, n_train: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of `n_sets` independent training sets, each of shape (M, n)."""
    sets = [
        noisy_function_1d(n_train, rng, fn=true_function, noise_std=SIGMA) for _ in range(n_sets)
    ]
    xs, ys = zip(*sets, strict=True)
    return np.stack(xs), np.stack(ys)  # (M, n), (M, n)


def fit_each(degree: int, xs: np.ndarray, ys: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    """Predictions at x_new of one degree-`degree` fit per training set, shape (M, J)."""
    return np.stack(
        [polynomial_fit_predict(x, y, degree, x_new) for x, y in zip(xs, ys, strict=True)]
    )


# %% [markdown]
# ### The decomposition
#
# `bias_variance` is {eq}`bv-estimators`, per test point. It takes any stack of predictions,
# so the same function serves the shrinkage estimator, the polynomials and the random
# features below. `measured_test_mse` scores the same predictions against fresh noisy
# targets and returns the standard error {eq}`bv-gap-se` of the gap {eq}`bv-gap`.


# %%
def bias_variance(predictions: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased estimates of Bias²(x) and Var(x), eq. (bv-estimators).

    predictions: (M, J), row m holds the model of training set m at J test inputs;
    truth: (J,), f at the same inputs. Returns bias² and variance, each of shape (J,).
    """
    n_sets = predictions.shape[0]
    mean_model = predictions.mean(axis=0)  # (J,): f̄_M, eq. (bv-mean-model)
    variance = predictions.var(axis=0, ddof=1)  # (J,)
    bias2 = (mean_model - truth) ** 2 - variance / n_sets  # (J,): unbiased, eq. (bv-estimators)
    return bias2, variance


def measured_test_mse(
    predictions: np.ndarray, y_fresh: np.ndarray, truth: np.ndarray, sigma: float
) -> tuple[float, float]:
    """Test MSE against fresh targets y' = f + ε' (both (M, J)), and the standard error of
    its gap to Bias² + Var + σ² given the predictions, eq. (bv-gap-se)."""
    mse = float(np.mean((y_fresh - predictions) ** 2))
    terms = 2 * sigma**4 + 4 * sigma**2 * (truth - predictions) ** 2  # (M, J): variances
    return mse, float(np.sqrt(terms.sum()) / terms.size)


@dataclass
class Decomposition:
    """Averages over the test inputs of the terms of eq. (bv-average), with the measured MSE."""

    bias2: float
    variance: float
    noise: float
    test_mse: float
    test_mse_se: float

    @property
    def total(self) -> float:
        return self.bias2 + self.variance + self.noise


def decompose(
    predictions: np.ndarray, y_fresh: np.ndarray, truth: np.ndarray, sigma: float
) -> Decomposition:
    """Bias², variance, σ² and the measured test MSE, averaged over the test inputs."""
    bias2, variance = bias_variance(predictions, truth)
    mse, se = measured_test_mse(predictions, y_fresh, truth, sigma)
    return Decomposition(float(bias2.mean()), float(variance.mean()), sigma**2, mse, se)


# %% [markdown]
# ### Minimum-norm least squares on random features
#
# Random ReLU features $\phi(x)=\max(0,W^\top x)/\sqrt p$ with a fixed random matrix
# $W\in\mathbb R^{d\times p}$ whose entries are $\mathcal N(0,1/d)$, the random-features
# model of {cite:t}`mei2022generalization`; the $1/\sqrt p$ keeps $\phi(x)^\top\phi(x')$ of
# order one for every $p$, so one ridge penalty $\lambda$ means the same for every $p$. The
# minimum-norm solution is {eq}`bv-minnorm` through the SVD, with the same cut-off for
# "zero" singular values as `np.linalg.lstsq`; the ridge solution is the dual form of
# {eq}`bv-ridge`, which solves an $n\times n$ system whatever $p$ is.


# %%
def relu_features(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Random ReLU features max(0, Wᵀx)/√p of inputs x (n, d), weights W (d, p): (n, p)."""
    return np.maximum(x @ weights, 0.0) / np.sqrt(weights.shape[1])


def min_norm_least_squares(phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares solution Φ⁺y, eq. (bv-minnorm). phi: (n, p); y: (n,)."""
    u, s, vt = np.linalg.svd(phi, full_matrices=False)  # (n, r), (r,), (r, p), r = min(n, p)
    keep = s > np.finfo(float).eps * max(phi.shape) * s[0]  # lstsq's cut-off for "zero"
    return vt[keep].T @ ((u[:, keep].T @ y) / s[keep])  # (p,): Σ (u_iᵀy / s_i) v_i


def ridge_dual(phi: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge solution Φᵀ(ΦΦᵀ + λI)⁻¹y, eq. (bv-ridge). phi: (n, p); y: (n,); returns (p,)."""
    gram = phi @ phi.T  # (n, n)
    return phi.T @ np.linalg.solve(gram + lam * np.eye(len(y)), y)


# %% [markdown]
# ## Verification
#
# ### The polynomial fit against scikit-learn
#
# `PolynomialFeatures` + `LinearRegression` fits the same model in the monomial basis; the
# predictions must agree, up to the rounding that the monomials' conditioning allows.
#
# One trap on the way. Since version 1.9, scikit-learn's `LinearRegression` passes its `tol`
# (default $10^{-6}$) to the least-squares solver as the cut-off below which singular values
# of the design matrix count as zero, relative to the largest. The monomial design of degree
# 9 on $[0,1]$ has a condition number above $10^6$, so with the default the fit silently
# drops a direction and is no longer the least-squares polynomial. The cell prints the
# condition number and what the default costs; the check uses `tol=1e-12`.

# %%
x_check, y_check = noisy_function_1d(N_TRAIN, rng, fn=true_function, noise_std=SIGMA)
for degree in (0, 1, 3, 6, 9):
    sklearn_model = make_pipeline(PolynomialFeatures(degree), LinearRegression(tol=1e-12))
    sklearn_model.fit(x_check[:, None], y_check)
    check_close(
        f"degree {degree}: polynomial_fit_predict vs sklearn",
        polynomial_fit_predict(x_check, y_check, degree, x_test),
        sklearn_model.predict(x_test[:, None]),
        atol=1e-7,
    )
default_tol = make_pipeline(PolynomialFeatures(9), LinearRegression()).fit(
    x_check[:, None], y_check
)
gap = np.abs(
    default_tol.predict(x_test[:, None]) - polynomial_fit_predict(x_check, y_check, 9, x_test)
)
condition = np.linalg.cond(np.vander(x_check, 10))
print(
    f"degree 9: condition number of the monomial design {condition:.1e}; "
    f"LinearRegression() with the default tol is off by up to {gap.max():.3f}"
)

# %% [markdown]
# ### The shrinkage estimator: closed form against simulation
#
# The errata's example of {eq}`bv-shrinkage`: $x_i\sim\mathcal N(2,1)$, $n=10$, $c=0.8$.
# 400 000 simulated samples, each giving one $\hat\mu=c\bar x$, go through the same
# `bias_variance` as every regression model below (with $M=400\,000$ "training sets" and
# one "test point", the number $\mu$).
#
# The tolerances are Monte-Carlo error bars, not guesses. Here $\hat\mu$ is exactly Gaussian
# with variance $v$ and bias $b$, so the variance estimate has standard deviation
# $v\sqrt{2/(M-1)}$, the bias² estimate $\big(4b^2v/M+2v^2/M^2\big)^{1/2}$ to leading order,
# and the MSE estimate $\big((2v^2+4b^2v)/M\big)^{1/2}$. Each check allows four of them.

# %%
MU, S, N_SAMPLE, C = 2.0, 1.0, 10, 0.8
N_SIMULATIONS = 400_000

samples = rng.normal(MU, S, size=(N_SIMULATIONS, N_SAMPLE))  # (M, n)
mu_hat = C * samples.mean(axis=1, keepdims=True)  # (M, 1): one estimate per sample
sim_bias2, sim_var = bias_variance(mu_hat, np.array([MU]))  # each (1,)
sim_mse = float(np.mean((mu_hat - MU) ** 2))

bias2_exact = (C - 1) ** 2 * MU**2  # eq. (bv-shrinkage)
var_exact = C**2 * S**2 / N_SAMPLE
mse_exact = bias2_exact + var_exact
b, v, m = abs(C - 1) * MU, var_exact, N_SIMULATIONS
mc_sd = {
    "bias²": np.sqrt(4 * b**2 * v / m + 2 * v**2 / m**2),
    "variance": v * np.sqrt(2 / (m - 1)),
    "MSE": np.sqrt((2 * v**2 + 4 * b**2 * v) / m),
}
for name, simulated, exact in [
    ("bias²", sim_bias2[0], bias2_exact),
    ("variance", sim_var[0], var_exact),
    ("MSE", sim_mse, mse_exact),
]:
    check_close(
        f"shrinkage {name}: simulation vs closed form", simulated, exact, atol=4 * mc_sd[name]
    )
    print(
        f"    closed form {exact:.4f}, simulation {simulated:.4f}, 4 × MC sd {4 * mc_sd[name]:.1e}"
    )

# %% [markdown]
# ### Bias and variance of a least-squares fit on a fixed design
#
# {eq}`bv-smoother` gives the exact bias and variance of a least-squares polynomial when the
# training inputs are fixed. Here $s(x)^\top=v(x)^\top V^+$ is computed from the *monomial*
# design matrix with `np.linalg.pinv`, independently of the Legendre fit; the simulation
# refits `polynomial_fit_predict` on 4000 fresh noise vectors. The predictions are exactly
# Gaussian, so the per-point errors have known standard deviations (as for the shrinkage
# estimator); at every $x$ the error must be within 5 of them, and the averages over $x$
# within 4 of the average standard deviation (the standard deviation of an average is at
# most the average of the standard deviations, so this bound is conservative).

# %%
N_NOISE_DRAWS = 4000
x_fixed = x_check  # one draw of the inputs, kept fixed
noise = SIGMA * rng.standard_normal((N_TRAIN, N_NOISE_DRAWS))  # (n, M)
y_fixed = true_function(x_fixed)[:, None] + noise  # (n, M): M training sets, same inputs
for degree in (1, 5):
    predictions = polynomial_fit_predict(x_fixed, y_fixed, degree, x_test).T  # (M, J)
    est_bias2, est_var = bias_variance(predictions, f_test)  # (J,), (J,)
    smoother = np.vander(x_test, degree + 1) @ np.linalg.pinv(np.vander(x_fixed, degree + 1))
    exact_bias = smoother @ true_function(x_fixed) - f_test  # (J,): eq. (bv-smoother)
    exact_var = SIGMA**2 * (smoother**2).sum(axis=1)  # (J,): σ² ‖s(x)‖²
    m = N_NOISE_DRAWS
    sd_bias2 = np.sqrt(4 * exact_bias**2 * exact_var / m + 2 * exact_var**2 / m**2)  # (J,)
    sd_var = exact_var * np.sqrt(2 / (m - 1))  # (J,)
    z = np.maximum(
        np.abs(est_bias2 - exact_bias**2) / sd_bias2, np.abs(est_var - exact_var) / sd_var
    )
    check_true(
        f"degree {degree}, fixed design: every x within 5 MC sd of eq. (bv-smoother)",
        bool(z.max() < 5),
        f"largest |error| / sd = {z.max():.2f} over {N_TEST} points",
    )
    check_close(
        f"degree {degree}, fixed design: mean bias² vs closed form",
        est_bias2.mean(),
        np.mean(exact_bias**2),
        atol=4 * sd_bias2.mean(),
    )
    check_close(
        f"degree {degree}, fixed design: mean variance vs closed form",
        est_var.mean(),
        exact_var.mean(),
        atol=4 * sd_var.mean(),
    )

# %% [markdown]
# ### The terms add up to the measured test error
#
# The errata's point example: a cubic fitted to $n=20$ points, one test input $x_0=0.3$,
# now with random training inputs as in `noisy_function_1d`, where no closed form exists.
# The left side of {eq}`bv-decomposition` is measured directly, as the mean squared error
# against a fresh noisy target for each of 10 000 training sets; the right side is the sum
# of the estimated bias², variance and the known $\sigma^2$. The tolerance is four standard
# errors {eq}`bv-gap-se`.

# %%
X0 = np.array([0.3])
xs20, ys20 = draw_training_sets(10_000, 20, rng)  # (M, 20) each
cubic_at_x0 = fit_each(3, xs20, ys20, X0)  # (M, 1)
y_fresh_x0 = true_function(X0) + SIGMA * rng.standard_normal(cubic_at_x0.shape)  # (M, 1)
point = decompose(cubic_at_x0, y_fresh_x0, true_function(X0), SIGMA)
check_close(
    "cubic at x0 = 0.3: measured E(y - f̂)² vs bias² + variance + σ²",
    point.test_mse,
    point.total,
    atol=4 * point.test_mse_se,
)
print(
    f"    measured {point.test_mse:.4f}; bias² {point.bias2:.4f} + variance "
    f"{point.variance:.4f} + σ² {point.noise:.4f} = {point.total:.4f}"
)

# %% [markdown]
# The same check, averaged over all 200 test inputs, runs for every model in the experiments
# below. One more identity holds exactly, with no Monte-Carlo error: {eq}`bv-identity`, the
# estimated bias² plus variance equal the mean squared distance of the fits from $f$.

# %%
b2_x0, var_x0 = bias_variance(cubic_at_x0, true_function(X0))
check_close(
    "bias² + variance vs mean (f̂ - f)², eq. (bv-identity)",
    b2_x0 + var_x0,
    np.mean((cubic_at_x0 - true_function(X0)) ** 2, axis=0),
    atol=1e-12,
)

# %% [markdown]
# ### Minimum-norm least squares
#
# Against `np.linalg.pinv` and scikit-learn's `LinearRegression(fit_intercept=False)`, whose
# LAPACK solver also returns the minimum-norm solution, below ($p=40$) and above ($p=400$)
# the threshold $n=100$; above it the fit must interpolate. The dual ridge solution must match
# scikit-learn's `Ridge`, and tend to the minimum-norm solution as $\lambda\to0$
# {eq}`bv-ridge`.

# %%
D_INPUT, N_RF = 10, 100  # input dimension d, training points n of the random-features model
x_rf = rng.standard_normal((N_RF, D_INPUT))  # (n, d)
y_rf = rng.standard_normal(N_RF)  # (n,)
for p in (40, 400):
    phi = relu_features(x_rf, rng.standard_normal((D_INPUT, p)) / np.sqrt(D_INPUT))  # (n, p)
    w = min_norm_least_squares(phi, y_rf)  # (p,)
    scale = np.abs(w).max()
    check_close(
        f"p = {p}: min-norm vs np.linalg.pinv", w, np.linalg.pinv(phi) @ y_rf, atol=1e-9 * scale
    )
    cutoff = np.finfo(float).eps * max(phi.shape)  # the cut-off of min_norm_least_squares
    sk = LinearRegression(fit_intercept=False, tol=cutoff).fit(phi, y_rf)
    check_close(f"p = {p}: min-norm vs sklearn LinearRegression", w, sk.coef_, atol=1e-9 * scale)
    sk_ridge = Ridge(alpha=0.1, fit_intercept=False).fit(phi, y_rf)
    check_close(
        f"p = {p}: ridge_dual vs sklearn Ridge",
        ridge_dual(phi, y_rf, 0.1),
        sk_ridge.coef_,
        atol=1e-10,
    )
check_close("p = 400: Φw vs y (interpolation)", phi @ w, y_rf, atol=1e-10)
check_close(
    "p = 400: ridge_dual, λ = 1e-9, vs min-norm", ridge_dual(phi, y_rf, 1e-9), w, atol=1e-6 * scale
)

# %% [markdown]
# ## Experiments
#
# ### 1. The simplest trade-off: how much to shrink the mean
#
# {eq}`bv-shrinkage` as a function of $c$, with the simulation at a few values of $c$ (the
# same 400 000 samples, scaled). Shrinking adds $(1-c)^2\mu^2$ of bias² and removes a
# fraction $1-c^2$ of the variance.

# %%
c_grid = np.linspace(0.5, 1.1, 121)
c_simulated = np.array([0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
x_bar = samples.mean(axis=1, keepdims=True)  # (M, 1)
simulated_mse = np.array([np.mean((c * x_bar - MU) ** 2) for c in c_simulated])
c_star = MU**2 / (MU**2 + S**2 / N_SAMPLE)  # eq. (bv-shrinkage-opt)
mse_star = MU**2 * (S**2 / N_SAMPLE) / (MU**2 + S**2 / N_SAMPLE)
bias_c, var_c = (1 - c_simulated) * MU, c_simulated**2 * S**2 / N_SAMPLE  # eq. (bv-shrinkage)
mse_sd_c = np.sqrt((2 * var_c**2 + 4 * bias_c**2 * var_c) / N_SIMULATIONS)  # MC sd of each MSE
check_close(
    "shrinkage MSE at 6 values of c: simulation vs closed form",
    simulated_mse,
    bias_c**2 + var_c,
    atol=4 * mse_sd_c.max(),
)

fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.plot(c_grid, (1 - c_grid) ** 2 * MU**2, color=PALETTE[0], label="bias² $(1-c)^2\\mu^2$")
ax.plot(c_grid, c_grid**2 * S**2 / N_SAMPLE, color=PALETTE[1], label="variance $c^2s^2/n$")
ax.plot(
    c_grid,
    (1 - c_grid) ** 2 * MU**2 + c_grid**2 * S**2 / N_SAMPLE,
    color="k",
    label="MSE, closed form",
)
ax.plot(c_simulated, simulated_mse, "o", color="k", mfc="white", label="MSE, simulated")
ax.axvline(c_star, color=PALETTE[2], ls=":", label=f"best $c^\\star$ = {c_star:.3f}")
ax.set(
    xlabel="shrinkage factor c",
    ylabel="squared error of $\\hat\\mu$",
    ylim=(0, 0.3),
    title=f"A little shrinkage pays (MSE {mse_star:.4f} at c* vs {S**2 / N_SAMPLE:.3f} at c = 1)",
)
ax.legend(loc="upper right")
plt.show()
print(f"c = {C}: MSE {mse_exact:.3f}, worse than the unbiased x̄ ({S**2 / N_SAMPLE:.3f})")

# %% [markdown]
# The errata's $c=0.8$ shrinks too much: its MSE is more than twice that of $\bar x$ itself.
# The best factor is close to 1 here because $\mu^2$ is large next to $s^2/n$; it depends on
# the $\mu$ we are trying to estimate, which is why in practice the amount of shrinkage (the
# ridge penalty) is chosen by validation.
#
# ### 2. What bias and variance look like
#
# 1000 training sets of $n=30$ points, one polynomial fit per set. The top row shows 25 of
# the fits and the average model $\bar f_M$; the bottom row the per-point estimates
# {eq}`bv-estimators` over all 1000.

# %%
xs, ys = draw_training_sets(N_SETS, N_TRAIN, rng)  # (M, n) each
y_fresh = f_test + SIGMA * rng.standard_normal((N_SETS, N_TEST))  # (M, J): fresh targets
DEGREES = list(range(10))
predictions_by_degree = {q: fit_each(q, xs, ys, x_test) for q in DEGREES}  # each (M, J)

# %%
SHOWN_DEGREES = (1, 3, 9)
fig, axes = plt.subplots(2, 3, figsize=(10, 5.6), sharex=True, sharey="row")
for col, degree in enumerate(SHOWN_DEGREES):
    predictions = predictions_by_degree[degree]  # (M, J)
    bias2, variance = bias_variance(predictions, f_test)
    top, bottom = axes[0, col], axes[1, col]
    top.plot(x_test, predictions[:25].T, color=PALETTE[5], lw=0.7, alpha=0.7)
    top.plot(x_test, f_test, "k--", lw=1.5, label="truth $f$")
    top.plot(x_test, predictions.mean(axis=0), color=PALETTE[1], lw=2, label="average model")
    top.set(title=f"degree {degree}", ylim=(-2, 2))
    positive = np.where(bias2 > 0, bias2, np.nan)  # estimates ≤ 0 are noise around ~0
    bottom.semilogy(x_test, positive, color=PALETTE[0], label="bias²(x), where > 0")
    bottom.semilogy(x_test, variance, color=PALETTE[1], label="variance(x)")
    bottom.set(xlabel="x", ylim=(1e-6, 1e3))
axes[0, 0].set_ylabel("prediction")
axes[1, 0].set_ylabel("squared error")
axes[0, 0].legend(loc="lower left")
axes[1, 0].legend(loc="upper center")
fig.suptitle(
    "Degree 1 is wrong on average (bias); degree 9 is right on average but each fit "
    "swings, most at the edges (variance)",
    fontweight="bold",
)
plt.show()
for degree in SHOWN_DEGREES:
    bias2, variance = bias_variance(predictions_by_degree[degree], f_test)
    print(
        f"degree {degree}: bias² estimate > 0 at {np.sum(bias2 > 0)} of {N_TEST} points; "
        f"largest variance {variance.max():.3g}, standard error of the average model "
        f"there {np.sqrt(variance.max() / N_SETS):.2f}"
    )

# %% [markdown]
# Degree 9's variance is largest near $x=0$ and $x=1$. A training set with no point close to
# an edge leaves the polynomial unconstrained there, and a high-degree polynomial uses the
# freedom. Two things in the figure are Monte-Carlo error, not bias. Where the variance is
# that large, even the average of 1000 fits is noisy (its standard error is
# $\sqrt{\operatorname{Var}/M}$, printed above), which is why degree 9's average model
# wobbles at the edges. And where the true bias² is tiny, its unbiased estimate
# {eq}`bv-estimators` scatters around it and is often negative; the log scale leaves those
# points out (for degree 9, every point).
#
# ### 3. The U-curve
#
# The same 1000 training sets, degrees 0 to 9. For every degree the decomposition is
# checked against the measured test MSE, as in the Verification section.

# %%
results = {q: decompose(predictions_by_degree[q], y_fresh, f_test, SIGMA) for q in DEGREES}
worst_z = 0.0
for q, r in results.items():
    check_close(
        f"degree {q}: measured MSE vs bias² + var + σ²",
        r.test_mse,
        r.total,
        atol=4 * r.test_mse_se,
        quiet=True,
    )
    worst_z = max(worst_z, abs(r.test_mse - r.total) / r.test_mse_se)
check_true(
    "degrees 0-9: measured test MSE = bias² + variance + σ² within 4 se",
    bool(worst_z < 4),
    f"largest |gap| / se = {worst_z:.2f}",
)
print("degree    bias²  variance  bias²+var+σ²  measured")
for q, r in results.items():
    print(f"{q:6d} {r.bias2:8.4f} {r.variance:9.4f} {r.total:13.4f} {r.test_mse:9.4f}")
best_degree = min(results, key=lambda q: results[q].test_mse)

# %%
bias2_curve = np.array([results[q].bias2 for q in DEGREES])
var_curve = np.array([results[q].variance for q in DEGREES])
total_curve = np.array([results[q].total for q in DEGREES])
measured_curve = np.array([results[q].test_mse for q in DEGREES])
Y_TOP = 0.7

fig, ax = plt.subplots(figsize=(7.5, 4.4))
ax.plot(DEGREES, bias2_curve, "o-", color=PALETTE[0], label="bias²")
ax.plot(DEGREES, var_curve, "s-", color=PALETTE[1], label="variance")
ax.axhline(SIGMA**2, color="grey", ls=":", label="noise σ²")
ax.plot(DEGREES, total_curve, "-", color="k", label="bias² + variance + σ²")
ax.plot(DEGREES, measured_curve, "o", color="k", mfc="white", ms=8, label="measured test MSE")
for q in DEGREES:
    if measured_curve[q] > Y_TOP:  # off the chart: say how far
        ax.annotate(
            f"{measured_curve[q]:.3g} ↑",
            (q, Y_TOP),
            xytext=(0, -14),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
ax.set(
    xlabel="polynomial degree q",
    ylabel="squared error (y units²)",
    ylim=(0, Y_TOP),
    xticks=DEGREES,
    title=f"Bias² falls, variance rises: the test MSE is lowest at degree {best_degree}",
)
ax.legend(loc="upper left", bbox_to_anchor=(0.27, 1.0))
plt.show()

# %% [markdown]
# At degrees 7 to 9 the bias² estimates in the table are slightly negative: the true bias²
# is close to zero there, and its unbiased estimate scatters around it by an amount set by
# the variance ($\operatorname{Var}/M$ and more), which is large. The measured test MSE
# sits on the sum at every degree, as the check requires.
#
# The curve is not a smooth U. $\sin 2\pi x$ is odd about $x=\tfrac12$, so the even
# Legendre polynomials (even about $\tfrac12$) cannot help: going from degree 1 to 2 (or 3
# to 4) adds variance and removes no bias. "More complexity means less bias" holds for the
# model class as a whole, not step by step.
#
# The variance of the high degrees is not spread evenly over training sets. The mean squared
# error of one fit, $\frac1J\sum_j(\hat f_m(x_j)-f(x_j))^2+\sigma^2$, is its test MSE; across
# the 1000 training sets its mean is the curve above, while its median tells what a typical
# training set gets.

# %%
per_set_mse = {
    q: np.mean((predictions_by_degree[q] - f_test) ** 2, axis=1) + SIGMA**2 for q in DEGREES
}
for q in (3, 6, 9):
    e = np.sort(per_set_mse[q])
    share = e[-10:].sum() / e.sum()  # the worst 1 % of training sets
    print(
        f"degree {q}: mean {e.mean():8.3f}, median {np.median(e):.3f}; "
        f"the worst 1 % of training sets carry {share:.0%} of the total"
    )

# %% [markdown]
# At degree 9 the typical training set does only a little worse than at degree 3; the mean
# is carried by the few training sets that left an edge uncovered. That is still variance,
# and an expected test error is a mean. But it warns that a variance estimated from a
# handful of training sets (or of bootstrap resamples) can miss most of it.
#
# ### 4. Double descent
#
# The U-curve stops at degree 9 for a reason: with 30 points, degree 29 interpolates. What
# happens beyond the interpolation threshold is easiest to see with the random-features
# model of {eq}`bv-minnorm`, where the number of features $p$ can grow past $n$.
#
# One dimension is a poor place for this experiment. A minimum-norm fit through every noisy
# point of a 1-D training set must swing wherever two training inputs fall close together,
# and the second descent is weak or missing. The standard setting is a higher-dimensional
# input: here $x\sim\mathcal N(0,I_{10})$, a linear truth $f(x)=\beta^\top x$ with
# $\lVert\beta\rVert=1$, noise $\sigma=0.3$ and $n=100$ training points. For each $p$, 20
# repetitions each draw a new training set *and* new random features; the variance below is
# over both. A ridge fit with $\lambda=0.1$ on the same features is the comparison.

# %%
N_REPEATS = 20
N_RF_TEST = 500
N_FEATURES = np.unique(np.r_[np.geomspace(2, 1000, 26).round().astype(int), N_RF])
beta = rng.standard_normal(D_INPUT)
beta /= np.linalg.norm(beta)  # ‖β‖ = 1
x_rf_test = rng.standard_normal((N_RF_TEST, D_INPUT))  # (J, d)
f_rf_test = x_rf_test @ beta  # (J,)
RIDGE_LAMBDA = 0.1

min_norm_pred = np.empty((len(N_FEATURES), N_REPEATS, N_RF_TEST))  # (P, M, J)
ridge_pred = np.empty_like(min_norm_pred)
for r in range(N_REPEATS):
    x_train = rng.standard_normal((N_RF, D_INPUT))  # (n, d)
    y_train = x_train @ beta + SIGMA * rng.standard_normal(N_RF)  # (n,)
    for i, p in enumerate(N_FEATURES):
        weights = rng.standard_normal((D_INPUT, p)) / np.sqrt(D_INPUT)  # (d, p)
        phi_train = relu_features(x_train, weights)  # (n, p)
        phi_test = relu_features(x_rf_test, weights)  # (J, p)
        min_norm_pred[i, r] = phi_test @ min_norm_least_squares(phi_train, y_train)
        ridge_pred[i, r] = phi_test @ ridge_dual(phi_train, y_train, RIDGE_LAMBDA)

# %%
y_rf_fresh = f_rf_test + SIGMA * rng.standard_normal((N_REPEATS, N_RF_TEST))  # (M, J)
rf_results = [
    decompose(min_norm_pred[i], y_rf_fresh, f_rf_test, SIGMA) for i in range(len(N_FEATURES))
]
worst_z = max(abs(r.test_mse - r.total) / r.test_mse_se for r in rf_results)
check_true(
    "random features, every p: measured test MSE = bias² + variance + σ² within 4 se",
    bool(worst_z < 4),
    f"largest |gap| / se = {worst_z:.2f}",
)
per_repeat = np.mean((min_norm_pred - f_rf_test) ** 2, axis=2) + SIGMA**2  # (P, M)
ridge_mse = np.mean((ridge_pred - f_rf_test) ** 2, axis=(1, 2)) + SIGMA**2  # (P,)
mean_mse = per_repeat.mean(axis=1)  # (P,)
median_mse = np.median(per_repeat, axis=1)  # (P,)
rf_variance = np.array([r.variance for r in rf_results])  # (P,)
i_n = int(np.flatnonzero(N_FEATURES == N_RF)[0])
under = N_FEATURES < N_RF
first_min = mean_mse[under].min()
p_first_min = N_FEATURES[under][np.argmin(mean_mse[under])]
check_equal("the mean test MSE peaks at p = n", N_FEATURES[np.argmax(mean_mse)], N_RF)
check_equal("the median test MSE peaks at p = n", N_FEATURES[np.argmax(median_mse)], N_RF)
check_true(
    "the peak is variance",
    bool(rf_variance[i_n] > 0.95 * (mean_mse[i_n] - SIGMA**2)),
    f"at p = n: variance {rf_variance[i_n]:.1f} of test MSE - σ² {mean_mse[i_n] - SIGMA**2:.1f}",
)
check_true(
    f"ridge (λ = {RIDGE_LAMBDA}) has no peak: its test MSE at p = n is below every smaller p's",
    bool(ridge_mse[i_n] < ridge_mse[:i_n].min()),
    f"{ridge_mse[i_n]:.3f} < {ridge_mse[:i_n].min():.3f}",
)
print(
    f"min-norm test MSE: best below the threshold {first_min:.3f} (p = {p_first_min}), "
    f"mean at p = n {mean_mse[i_n]:.1f} (median {median_mse[i_n]:.2f}), "
    f"at p = {N_FEATURES[-1]} {mean_mse[-1]:.3f}"
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.4))
ax.loglog(N_FEATURES, per_repeat, color=PALETTE[5], lw=0.6, alpha=0.5)
ax.plot([], [], color=PALETTE[5], lw=0.6, label="one repetition")
ax.loglog(N_FEATURES, mean_mse, "o-", color="k", ms=4, label=f"mean of {N_REPEATS}")
ax.loglog(N_FEATURES, median_mse, "--", color="k", label="median")
ax.loglog(N_FEATURES, rf_variance, color=PALETTE[1], label="variance (training set + features)")
ax.loglog(N_FEATURES, ridge_mse, color=PALETTE[2], lw=2, label=f"ridge, λ = {RIDGE_LAMBDA}")
ax.axvline(N_RF, color="grey", ls=":", label="interpolation threshold p = n")
ax.axhline(SIGMA**2, color="grey", ls="-.", lw=1, label="noise σ²")
ax.set(
    xlabel="number of random features p",
    ylabel="test MSE (y units²)",
    ylim=(3e-2, 3e3),
    title=f"Minimum-norm least squares: the test error peaks at p = n = {N_RF}, then falls again",
)
ax.legend(loc="upper left", fontsize=8, ncols=2)
plt.show()

# %% [markdown]
# Read the figure from the left. Below the threshold the curve is the classical U: the
# error falls while features are still useful, then rises as the variance grows. At $p=n$
# the feature matrix is square, its smallest singular value is near zero, and the
# minimum-norm fit amplifies the noise; the peak is almost all variance. The mean at $p=n$
# is set by the worst repetitions (for square Gaussian-like matrices the expected inverse
# squared smallest singular value is infinite), so the median is printed too, and it peaks
# in the same place. Past the threshold the error falls again as $p$ grows. Whether the
# second descent ends below the first minimum depends on the noise, $n$ and the features;
# here the printed numbers say. A modest ridge penalty removes the peak altogether
# {cite}`nakkiran2021optimal`: the peak belongs to the *ridgeless* fit, not to large models
# as such.
#
# ### 5. Regularisation moves along the trade-off
#
# At the worst point, $p=n$, draw 20 new repetitions (training set and features) and fit
# each with a range of ridge penalties $\lambda$. The features stay the same within a
# repetition, so the model class is fixed; $\lambda$ trades variance for bias.

# %%
lambdas = np.geomspace(1e-6, 1e2, 17)
p_at_n = N_RF
lambda_pred = np.empty((len(lambdas), N_REPEATS, N_RF_TEST))  # (L, M, J)
for r in range(N_REPEATS):
    x_train = rng.standard_normal((N_RF, D_INPUT))  # (n, d)
    y_train = x_train @ beta + SIGMA * rng.standard_normal(N_RF)  # (n,)
    weights = rng.standard_normal((D_INPUT, p_at_n)) / np.sqrt(D_INPUT)  # (d, p)
    phi_train, phi_test = relu_features(x_train, weights), relu_features(x_rf_test, weights)
    for i, lam in enumerate(lambdas):
        lambda_pred[i, r] = phi_test @ ridge_dual(phi_train, y_train, lam)
lambda_results = [
    decompose(lambda_pred[i], y_rf_fresh, f_rf_test, SIGMA) for i in range(len(lambdas))
]
worst_z = max(abs(r.test_mse - r.total) / r.test_mse_se for r in lambda_results)
check_true(
    "ridge at p = n, every λ: measured test MSE = bias² + variance + σ² within 4 se",
    bool(worst_z < 4),
    f"largest |gap| / se = {worst_z:.2f}",
)
lam_bias2 = np.array([r.bias2 for r in lambda_results])
lam_var = np.array([r.variance for r in lambda_results])
lam_total = np.array([r.total for r in lambda_results])
best_lambda = lambdas[np.argmin(lam_total)]

# %%
fig, ax = plt.subplots(figsize=(7.0, 4.2))
ax.loglog(lambdas, np.maximum(lam_bias2, 1e-4), "o-", color=PALETTE[0], label="bias²")
ax.loglog(lambdas, lam_var, "s-", color=PALETTE[1], label="variance")
ax.loglog(lambdas, lam_total, "-", color="k", label="bias² + variance + σ²")
ax.loglog(
    lambdas,
    [r.test_mse for r in lambda_results],
    "o",
    color="k",
    mfc="white",
    ms=7,
    label="measured test MSE",
)
ax.axhline(SIGMA**2, color="grey", ls=":", label="noise σ²")
ax.set(
    xlabel="ridge penalty λ",
    ylabel="squared error (y units²)",
    title=f"At p = n, ridge trades variance for bias; the best λ here is {best_lambda:.2g}",
)
ax.legend(loc="upper center", ncols=2)
plt.show()

# %% [markdown]
# Bias² is clipped at $10^{-4}$ for the log scale (for the smallest $\lambda$ its estimate is
# noise around a tiny value). The picture is Experiment 3's U turned around: a larger
# $\lambda$ is a *less* flexible model.
#
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Bias is how far off the model's predictions are from the actual values." Right?
# No, that is the total error, $\mathbb E[(y-\hat f_D(x))^2]$, which contains the variance
# and the noise as well. Bias is the error of the *average* prediction over training sets,
# $\mathbb E_D[\hat f_D(x)]-f(x)$. Experiment 2 shows the difference: many degree-9 fits are
# far from the truth, yet their average is on it (up to its Monte-Carlo error), so the
# bias is close to zero and the error is variance.
# :::
#
# :::{dropdown} Can you measure bias and variance on a real data set?
# Not exactly. You need the truth $f$ (to separate bias from noise) and many independent
# training sets. Bootstrap resamples of one training set give a rough proxy for the
# variance, but they are not independent draws from the population, and without $f$ the
# bias² and $\sigma^2$ cannot be told apart: only their sum is estimable. In practice one
# looks at the symptoms instead: a large gap between training and validation error points
# to variance, a high training error to bias.
# :::
#
# :::{dropdown} Does the decomposition work for classification with 0-1 loss?
# Not additively. For squared loss the variance always adds to the error. For 0-1 loss,
# define the "main prediction" as the majority vote over training sets. If the main prediction
# is right at $x$, variance (disagreement with it) adds errors; if it is wrong, variance
# *removes* errors, since some training sets then get $x$ right. So the effect of the variance
# has a sign that depends on the bias, and no split into a non-negative bias, variance and
# noise adds up to the 0-1 error {cite}`friedman1997bias,domingos2000unified`.
# :::
#
# :::{dropdown} How do regularisation, bagging, early stopping and more data move the trade-off?
# - **Ridge / weight decay** shrinks the fit toward zero: more bias, less variance
#   (Experiment 5, and the shrinkage estimator of Experiment 1 is the one-number case).
# - **Bagging** averages models fitted to bootstrap resamples. An average of $B$ models, each
#   with variance $v$ and pairwise correlation $\rho$, has variance
#   $\rho v+(1-\rho)v/B$, while its bias is about that of one model
#   {cite}`breiman1996bagging,hastie2009elements`. It helps high-variance, low-bias models
#   (deep trees), not stable ones.
# - **Early stopping** limits how far gradient descent moves from its initialisation; for
#   least squares it acts much like a ridge penalty that shrinks as training goes on.
# - **More data** lowers the variance (for least squares with $p$ parameters, about
#   $\sigma^2p/n$), and does not change the bias of a fixed, well-specified model class. It
#   also moves the interpolation threshold: in the double-descent regime more data can
#   *hurt* a fixed-size ridgeless model {cite}`nakkiran2020deep`.
# :::
#
# :::{dropdown} "More complexity always means lower bias and higher variance."
# As a tendency for nested model classes, yes; step by step, no. Experiment 3 has steps
# that add variance and remove no bias (degrees 1→2 and 3→4 for an odd target), and
# Experiment 4 has a range past the threshold where *variance falls* as the model grows. The
# x-axis "complexity" also hides a choice: the number of parameters is not the effective
# complexity of a minimum-norm or regularised fit. For neural networks the variance as a
# function of width has been measured to rise and then fall again
# {cite}`yang2020rethinking`.
# :::
#
# :::{dropdown} Why is $\sigma^2$ "irreducible"?
# Because no function of $x$ predicts $\varepsilon$: the best possible predictor, $f(x)$
# itself, still has expected squared error $\sigma^2$. It is irreducible *given the
# features*; a new feature that explains part of $\varepsilon$ makes it smaller.
# :::
#
# :::{dropdown} Does the variance include the randomness of training (initialisation, SGD order)?
# It can, and a statement of "the variance" should say which. The decomposition holds for
# any randomness that is independent of the test point; Experiment 4 includes the random
# features in it. For neural networks the initialisation and the order of the minibatches
# add variance of their own, which is one reason why an ensemble of networks trained on the
# *same* data still helps.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. In the shrinkage example ($\mu=2$, $s=1$, $n=10$), what factor $c$ minimises the MSE,
#    and what is the minimum? Is it below the MSE of $\bar x$? The next cell checks the
#    closed form {eq}`bv-shrinkage-opt` against a numerical minimisation.
#
#    :::{dropdown} Answer
#    $c^\star=\mu^2/(\mu^2+s^2/n)=4/4.1\approx0.976$ and
#    $\operatorname{MSE}(c^\star)=\mu^2(s^2/n)/(\mu^2+s^2/n)=0.4/4.1\approx0.0976$, a little
#    below $s^2/n=0.1$ for $\bar x$. Shrinking helps only slightly here, because the bias it
#    adds grows with $\mu^2=4$, which is large next to the variance $0.1$.
#    :::

# %%
c_fine = np.linspace(0.9, 1.0, 100_001)
mse_fine = (1 - c_fine) ** 2 * MU**2 + c_fine**2 * S**2 / N_SAMPLE  # eq. (bv-shrinkage)
check_close("c* vs numerical argmin", c_fine[np.argmin(mse_fine)], c_star, atol=1e-6)
check_close("MSE(c*) vs numerical minimum", mse_fine.min(), mse_star, atol=1e-10)
print(f"c* = {c_star:.4f}, MSE(c*) = {mse_star:.4f}, MSE(1) = {S**2 / N_SAMPLE:.4f}")

# %% [markdown]
# 2. $k$-nearest-neighbour regression on a fixed design: what are its bias and variance at a
#    test point $x$? Check the variance by simulating 4000 noise draws for $k=1,5,15$.
#
#    :::{dropdown} Answer
#    $k$-NN is a linear smoother with weight $1/k$ on each of the $k$ nearest training
#    inputs, so by {eq}`bv-smoother` $\operatorname{Var}(x)=\sigma^2/k$ at every $x$ and
#    $\operatorname{Bias}(x)=\frac1k\sum_{i\in N_k(x)}f(x_i)-f(x)$. Larger $k$: less
#    variance, more bias, since the average reaches further from $x$. Here $1/k$ plays the
#    role of the degree.
#    :::

# %%
neighbours = NearestNeighbors().fit(x_fixed[:, None])
for k in (1, 5, 15):
    idx = neighbours.kneighbors(x_test[:, None], n_neighbors=k, return_distance=False)  # (J, k)
    knn_pred = y_fixed[idx].mean(axis=1).T  # (M, J): the k-NN prediction for each noise draw
    knn_bias2, knn_var = bias_variance(knn_pred, f_test)
    m = N_NOISE_DRAWS
    exact_knn_var = SIGMA**2 / k
    check_close(
        f"k = {k}: mean variance vs σ²/k",
        knn_var.mean(),
        exact_knn_var,
        atol=4 * exact_knn_var * np.sqrt(2 / (m - 1)),
    )

# %% [markdown]
# 3. You fit a model and see training MSE 0.02 and validation MSE 0.40 on data whose noise
#    variance you believe is about 0.1. Which term of the decomposition dominates, and what
#    would you try first?
#
#    :::{dropdown} Answer
#    Variance. The training error is far below the noise level, so the model fits the noise;
#    the validation error is far above it. Bias cannot be large (the model fits the training
#    data), so reduce variance: regularise (ridge, smaller trees, dropout), average (bagging,
#    ensembles), or get more data. A smaller model class also works, at the risk of adding
#    bias.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`geman1992bias`: the bias/variance decomposition of the squared error of a
#   regression estimator over random training sets, and the dilemma it names.
# - {cite:t}`hastie2009elements`, Section 7.3: the decomposition {eq}`bv-decomposition`, the
#   $k$-NN variance $\sigma^2/k$ and the least-squares variance $\sigma^2p/n$; Section 8.7:
#   bagging; Section 15.2: the variance of an average of correlated models.
# - {cite:t}`belkin2019reconciling`: the double-descent curve and the interpolation
#   threshold, with random Fourier features and minimum-norm solutions.
# - {cite:t}`hastie2022surprises` and {cite:t}`mei2022generalization`: the exact asymptotics
#   of ridgeless least squares and of random-features regression, the model of Experiment 4.
# - {cite:t}`nakkiran2021optimal`: a tuned ridge penalty removes the double-descent peak;
#   {cite:t}`nakkiran2020deep`: double descent in deep networks, and more data can hurt.
# - {cite:t}`friedman1997bias` and {cite:t}`domingos2000unified`: bias and variance for 0-1
#   loss, where the variance can reduce the error.
# - {cite:t}`breiman1996bagging`: bagging as variance reduction.
# - {cite:t}`yang2020rethinking`: the variance of neural networks as a function of width
#   rises, then falls.

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
# # 06. The bootstrap, and bagging
#
# **The question.** What is the bootstrap, and what is it for? (The notes answer with
# bagging, which is one use of the bootstrap, not the bootstrap itself.)
#
# **What you will be able to answer.** How the bootstrap turns one sample into a standard
# error and a confidence interval for almost any statistic, and how good those are for a mean
# and a median compared with the textbook formulas; where the 63.2 % comes from; why the
# bootstrap fails for the maximum and for time series; and what bagging and out-of-bag error
# are, kept apart from the bootstrap they are built on.

# %%
import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import make_friedman1
from sklearn.ensemble import BaggingRegressor
from sklearn.metrics import r2_score
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted, validate_data

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.data import noisy_function_1d
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - The **bootstrap** {cite}`efron1979bootstrap` is an *inference* tool. To learn how much a
#   statistic $\hat\theta$ (a mean, a median, a model's accuracy) would change from one sample
#   to the next, without drawing new samples, draw $B$ samples of size $n$ *with replacement*
#   from the one sample you have, recompute $\hat\theta^*_b$ on each, and read the spread off
#   the replicates: the standard error is their standard deviation,
#   $\widehat{SE}=\sqrt{\tfrac{1}{B-1}\sum_b(\hat\theta^*_b-\bar\theta^*)^2}$, and the 2.5th and
#   97.5th percentiles give a 95 % **percentile interval**. The data stand in for the
#   population.
# - Each bootstrap sample leaves a given point out with probability $(1-1/n)^n\to e^{-1}
#   \approx0.368$, so it holds on average $1-(1-1/n)^n\to1-e^{-1}\approx0.632$ of the distinct
#   points (**the 63.2 % rule**); the rest are *out of bag*.
# - **Bagging** {cite}`breiman1996bagging` (bootstrap *aggregating*) is one application: fit a
#   model on each bootstrap sample and average the predictions. Averaging $B$ predictors of
#   variance $\sigma^2$ and correlation $\rho$ leaves $\rho\sigma^2+(1-\rho)\sigma^2/B$, so it
#   helps unstable, high-variance learners such as deep trees, and each training point's
#   prediction from the trees that never saw it gives a free **out-of-bag (OOB) error**.
# - The notes list bagging's variance reduction as the bootstrap's "advantage", credit it with
#   "training on diverse datasets" (the resamples contain no point the data lacked), and say it
#   "works well for small datasets". Resampling cannot create information: at small $n$ the
#   percentile interval under-covers (checked below), the bootstrap fails outright for
#   extreme-value statistics (the bootstrap distribution of the maximum puts mass
#   $1-(1-1/n)^n\approx0.632$ on the sample maximum itself), and dependent data (time series)
#   need a block bootstrap.

# %% [markdown]
# ## Derivation
#
# ### The plug-in principle
#
# The data $x_1,\dots,x_n$ are independent draws from an unknown distribution $F$. A statistic
# $\hat\theta=s(x_1,\dots,x_n)$ estimates a property $\theta$ of $F$ (its mean, its median).
# Its **standard error** is the standard deviation of $\hat\theta$ over the samples one
# *could* have drawn from $F$:
#
# $$
# SE_F(\hat\theta)=\sqrt{\operatorname{Var}_F\big(s(X_1,\dots,X_n)\big)},\qquad
# X_i\overset{\text{iid}}{\sim}F .
# $$ (boot-se-true)
#
# $F$ is unknown, but the sample gives the **empirical distribution** $\hat F_n$, mass $1/n$ on
# each $x_i$. The bootstrap plugs $\hat F_n$ in for $F$ in {eq}`boot-se-true`. A draw from
# $\hat F_n$ is a data point chosen uniformly at random, so a **bootstrap sample** is
#
# $$
# x^*_j=x_{I_j},\qquad I_j\overset{\text{iid}}{\sim}\mathrm{Uniform}\{1,\dots,n\},\quad
# j=1,\dots,n,
# $$ (boot-resample)
#
# $n$ draws *with replacement*, and $\hat\theta^*=s(x^*_1,\dots,x^*_n)$ is a **bootstrap
# replicate**. The *ideal* bootstrap SE is $SE_{\hat F_n}(\hat\theta^*)$, an average over all
# $n^n$ index vectors. Nobody computes that sum; $B$ random index vectors estimate it:
#
# $$
# \widehat{SE}_B=\sqrt{\frac{1}{B-1}\sum_{b=1}^{B}\big(\hat\theta^*_b-\bar\theta^*\big)^2},
# \qquad \bar\theta^*=\frac1B\sum_{b=1}^{B}\hat\theta^*_b .
# $$ (boot-se)
#
# Two approximations are stacked here, and they behave differently. Replacing $F$ by $\hat F_n$
# is the *statistical* error: it is fixed by the data and does not shrink with $B$. Using $B$
# replicates instead of all $n^n$ is the *Monte-Carlo* error: it shrinks like $1/\sqrt B$, and
# more computation removes it. The bootstrap can only ever tell you about $\hat F_n$.
#
# ### The mean, exactly
#
# For $\hat\theta=\bar x$ the ideal bootstrap has a closed form. Each $x^*_j$ is one of the
# $x_i$ with probability $1/n$, so it has mean $\bar x$ and variance
# $\hat\sigma^2=\frac1n\sum_i(x_i-\bar x)^2$ (the plug-in variance, divisor $n$), and the $n$
# draws are independent:
#
# $$
# \operatorname{Var}_{\hat F_n}(\bar x^*)=\frac{\hat\sigma^2}{n}
# =\frac{n-1}{n}\cdot\frac{s^2}{n},\qquad s^2=\frac{1}{n-1}\sum_i(x_i-\bar x)^2 .
# $$ (boot-mean-var)
#
# The textbook answer is $SE(\bar x)=\sigma/\sqrt n$, estimated by $s/\sqrt n$, and the
# classical 95 % interval for the mean is the **t-interval**
#
# $$
# \bar x\pm t_{n-1,\,0.975}\,\frac{s}{\sqrt n}.
# $$ (boot-t-interval)
#
# Since $\mathbb E[s^2]=\sigma^2$, {eq}`boot-mean-var` says the ideal bootstrap variance is
# biased low by the factor $(n-1)/n$ on average: by 20 % at $n=5$, by 1 % at $n=100$. That is
# one of two reasons bootstrap intervals are too narrow for small samples; the other is that
# they use normal-like quantiles where the t-interval uses the wider $t_{n-1}$ ones.
#
# ### The percentile interval
#
# The 95 % **percentile interval** takes the 2.5th and 97.5th percentiles of the replicates:
#
# $$
# \big[\hat\theta^*_{(\alpha/2)},\ \hat\theta^*_{(1-\alpha/2)}\big],\qquad \alpha=0.05 .
# $$ (boot-percentile)
#
# It is exact when some increasing transformation $g$ makes $g(\hat\theta)-g(\theta)$ normal
# with a distribution that does not depend on $\theta$, because percentiles commute with $g$
# {cite}`efron1993introduction`. When $\hat\theta$ is biased or its skewness changes with
# $\theta$, it is off; the bias-corrected and accelerated (BCa) interval corrects both, and is
# what `scipy.stats.bootstrap` computes unless told `method='percentile'`.
#
# ### The median
#
# For a continuous $F$ with density $f>0$ at its median $m$, the sample median is
# asymptotically normal {cite}`vandervaart1998asymptotic` with
#
# $$
# SE(\hat m)\approx\frac{1}{2f(m)\sqrt n}.
# $$ (boot-median-se)
#
# This needs the density, which is what makes the median's SE hard to estimate by formula and
# a classical use of the bootstrap. For the exponential distribution $f(x)=e^{-x}$ used below,
# $m=\ln2$ and $f(m)=\tfrac12$, so $SE(\hat m)\approx1/\sqrt n$; its standard deviation is
# $\sigma=1$, so the mean's SE is $1/\sqrt n$ too, a coincidence of this distribution (for a
# normal, the median's SE is $\sqrt{\pi/2}\approx1.25$ times the mean's).
#
# The ideal bootstrap of the median also has a closed form {cite}`maritz1978note`. Take $n$
# odd, so the median is the order statistic of rank $r=(n+1)/2$, and sort the data,
# $x_{(1)}<\dots<x_{(n)}$. The bootstrap median is at most $x_{(j)}$ exactly when at least $r$
# of the $n$ draws land on one of the $j$ smallest points, each draw doing so with probability
# $j/n$:
#
# $$
# P_{\hat F_n}\big(\hat m^*\le x_{(j)}\big)=P\big(\mathrm{Binomial}(n,\,j/n)\ge r\big),
# \qquad j=1,\dots,n .
# $$ (boot-median-exact)
#
# So the bootstrap distribution of the median is discrete, on the order statistics near the
# middle, and its variance can be computed without any resampling.
#
# ### The maximum: where the bootstrap fails
#
# For $\hat\theta=\max_i x_i=x_{(n)}$, a bootstrap sample reproduces the sample maximum
# whenever the index of the maximum is drawn at least once:
#
# $$
# P_{\hat F_n}\big(\hat\theta^*=\hat\theta\big)=1-\Big(1-\frac1n\Big)^{n}
# \ \xrightarrow[n\to\infty]{}\ 1-e^{-1}\approx0.632 .
# $$ (boot-max-atom)
#
# The true sampling distribution has no such atom. For $F=\mathrm{Uniform}(0,\theta)$,
# $P(\hat\theta\le\theta(1-t/n))=(1-t/n)^n$, so
#
# $$
# P\Big(\frac{n(\theta-\hat\theta)}{\theta}\le t\Big)=1-\Big(1-\frac tn\Big)^{n}
# \ \xrightarrow[n\to\infty]{}\ 1-e^{-t},
# $$ (boot-max-true)
#
# a continuous exponential law, while the bootstrap analogue $n(\hat\theta-\hat\theta^*)/
# \hat\theta$ keeps 63 % of its mass at zero however large $n$ is: the bootstrap is
# *inconsistent* for the maximum {cite}`bickel1981some`. Worse, every replicate satisfies
# $\hat\theta^*\le\hat\theta<\theta$, so the percentile interval for $\theta$ never contains
# it. The bootstrap works when $\hat\theta$ depends smoothly on the whole of $\hat F_n$; the
# maximum depends on one point.
#
# ### The 63.2 % rule
#
# The same computation for any point $i$: each of the $n$ draws misses it with probability
# $1-1/n$, independently, so
#
# $$
# P(i\notin\text{bootstrap sample})=\Big(1-\frac1n\Big)^{n}\ \uparrow\ e^{-1}\approx0.368 .
# $$ (boot-oob-prob)
#
# (It increases with $n$: $n\ln(1-1/n)=-1-\tfrac{1}{2n}-\tfrac{1}{3n^2}-\dots$ increases to
# $-1$.) Let $U$ be the number of distinct points in the sample and $Z_i$ the indicator that
# point $i$ is missing, so $U=n-\sum_iZ_i$. Linearity of expectation gives the mean fraction,
# and $P(Z_i=Z_k=1)=(1-2/n)^n$ for $i\ne k$ gives the variance:
#
# $$
# \mathbb E\Big[\frac Un\Big]=1-\Big(1-\frac1n\Big)^{n}\ \downarrow\ 1-e^{-1}\approx0.632,
# $$ (boot-unique)
#
# $$
# \operatorname{Var}(U)=nq_1+n(n-1)q_2-n^2q_1^2,\qquad q_1=\Big(1-\frac1n\Big)^{n},\
# q_2=\Big(1-\frac2n\Big)^{n}.
# $$ (boot-unique-var)
#
# For $n=1000$ the expected fraction is 0.6323, already within $2\times10^{-4}$ of its limit.
#
# ### Bagging and out-of-bag error
#
# Bagging is a different use of the same resampling: not to measure a statistic's variability
# but to *reduce* a predictor's. Fit a model $\hat f^*_b$ on each of $B$ bootstrap samples
# $D^*_b$ of the training set and average:
#
# $$
# \hat f_{\text{bag}}(x)=\frac1B\sum_{b=1}^{B}\hat f^*_b(x).
# $$ (boot-bagging)
#
# Suppose the $B$ predictions at a point $x$ each have variance $\sigma^2$ and every pair has
# correlation $\rho$ (over the training set and the resampling). Then
#
# $$
# \operatorname{Var}\Big(\frac1B\sum_b\hat f^*_b\Big)
# =\frac{1}{B^2}\big(B\sigma^2+B(B-1)\rho\sigma^2\big)
# =\rho\sigma^2+\frac{1-\rho}{B}\,\sigma^2
# $$ (boot-avg-var)
#
# {cite}`hastie2009elements`. More trees remove the second term only; the first, set by how
# similar the models are, stays. Bagging leaves the bias of one model unchanged, so it is
# worth doing for low-bias, high-variance learners (deep trees) and nearly useless for stable
# ones (linear regression, where $\rho\approx1$). A random forest lowers $\rho$ further by
# searching a random subset of features at each split (chapter 05).
#
# About $0.368B$ of the models never saw training point $i$. Their average is an honest
# prediction for $x_i$, the **out-of-bag** prediction {cite}`breiman1996outofbag`:
#
# $$
# \hat f_{\text{oob}}(x_i)=\frac{1}{|O_i|}\sum_{b\in O_i}\hat f^*_b(x_i),\qquad
# O_i=\{b:\ i\notin D^*_b\},
# $$ (boot-oob)
#
# and $\frac1n\sum_i\big(y_i-\hat f_{\text{oob}}(x_i)\big)^2$ estimates the test error without a
# held-out set. It is an ensemble of about $0.368B$ models, not $B$, so for small $B$ it is
# pessimistic.

# %% [markdown]
# ## Implementation from scratch
#
# ### Bootstrap replicates from one index matrix
#
# {eq}`boot-resample` for $B$ samples at once is one call, an index matrix of shape $(B, n)$;
# indexing the data with it gives all $B$ resamples, and the statistic is computed along the
# last axis. A leading batch axis lets the coverage experiment bootstrap many samples in one
# go.


# %%
def bootstrap_indices(
    n: int, n_resamples: int, rng: np.random.Generator, batch_shape: tuple[int, ...] = ()
) -> np.ndarray:
    """Indices I_j of eq. (boot-resample) for `n_resamples` samples: shape (*batch, B, n)."""
    return rng.integers(0, n, size=(*batch_shape, n_resamples, n))


def bootstrap_replicates(
    samples: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """θ̂*_b of each sample in `samples` (..., n), for b = 1..B: shape (..., B).

    `statistic` maps an array (..., n) to (...), reducing the last axis (or to (k, ...) for k
    statistics of the same resamples, giving (k, ..., B)).
    """
    n = samples.shape[-1]
    indices = bootstrap_indices(n, n_resamples, rng, samples.shape[:-1])  # (..., B, n)
    resamples = np.take_along_axis(samples[..., None, :], indices, axis=-1)  # (..., B, n)
    return statistic(resamples)  # (..., B)


def row_mean(values: np.ndarray) -> np.ndarray:
    return values.mean(axis=-1)


def row_median(values: np.ndarray) -> np.ndarray:
    """Median along the last axis; for odd n a partition, several times faster than np.median."""
    n = values.shape[-1]
    if n % 2 == 1:
        return np.partition(values, n // 2, axis=-1)[..., n // 2]
    return np.median(values, axis=-1)


def mean_and_median(values: np.ndarray) -> np.ndarray:
    """Both statistics of the same resamples, stacked: (..., n) -> (2, ...)."""
    return np.stack([row_mean(values), row_median(values)])


# %% [markdown]
# {eq}`boot-se` and {eq}`boot-percentile` read the replicates along the last axis.


# %%
def bootstrap_se(replicates: np.ndarray) -> np.ndarray:
    """eq. (boot-se): the standard deviation of the replicates (..., B), divisor B - 1."""
    return replicates.std(axis=-1, ddof=1)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """eq. (boot-percentile): the α/2 and 1 - α/2 quantiles of the replicates, shape (2, ...)."""
    alpha = 1.0 - confidence
    return np.quantile(replicates, [alpha / 2, 1 - alpha / 2], axis=-1)


# %% [markdown]
# ### The closed forms to check against
#
# The t-interval {eq}`boot-t-interval`, the ideal bootstrap SE of the mean
# {eq}`boot-mean-var`, the exact bootstrap distribution of the median
# {eq}`boot-median-exact`, and the median's asymptotic SE {eq}`boot-median-se`.


# %%
def t_interval(samples: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """eq. (boot-t-interval) for each sample in `samples` (..., n): shape (2, ...)."""
    n = samples.shape[-1]
    half_width = stats.t.ppf(0.5 + confidence / 2, df=n - 1) * samples.std(axis=-1, ddof=1)
    centre = samples.mean(axis=-1)
    return np.stack([centre - half_width / math.sqrt(n), centre + half_width / math.sqrt(n)])


def ideal_bootstrap_se_of_mean(sample: np.ndarray) -> float:
    """eq. (boot-mean-var): sqrt(σ̂² / n), σ̂² the plug-in variance (divisor n)."""
    return float(np.sqrt(sample.var(ddof=0) / sample.size))


def exact_bootstrap_median_distribution(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """eq. (boot-median-exact): support x_(1..n) and probabilities of the bootstrap median.

    For an odd sample size with distinct values.
    """
    n = sample.size
    if n % 2 == 0 or np.unique(sample).size != n:
        raise ValueError("needs an odd number of distinct values")
    rank = (n + 1) // 2
    j = np.arange(1, n + 1)
    cdf = stats.binom.sf(rank - 1, n, j / n)  # P(Binomial(n, j/n) >= rank), (n,)
    return np.sort(sample), np.diff(cdf, prepend=0.0)


def ideal_bootstrap_se_of_median(sample: np.ndarray) -> float:
    support, probabilities = exact_bootstrap_median_distribution(sample)
    mean = probabilities @ support
    return float(np.sqrt(probabilities @ (support - mean) ** 2))


def median_asymptotic_se(density_at_median: float, n: int) -> float:
    """eq. (boot-median-se): 1 / (2 f(m) √n)."""
    return 1.0 / (2.0 * density_at_median * math.sqrt(n))


# %% [markdown]
# How far $\widehat{SE}_B$ is from the ideal SE is itself computable. For $B$ replicates with
# standard deviation $\sigma_*$ and excess kurtosis $\kappa$, the sample variance has variance
# about $\sigma_*^4(\kappa+2)/B$, and the delta method ($d\sqrt v=dv/(2\sqrt v)$) turns that
# into
#
# $$
# \operatorname{sd}\big(\widehat{SE}_B\big)\approx\sigma_*\sqrt{\frac{\kappa+2}{4B}}
# \quad\Big(=\frac{\sigma_*}{\sqrt{2B}}\ \text{for normal replicates}\Big).
# $$ (boot-mc-error)
#
# A quantile $\xi_q$ of the replicates is estimated with standard deviation
# $\sqrt{q(1-q)/B}\,/\,g(\xi_q)$, $g$ the density of the replicates; for near-normal
# replicates $g(\xi_q)\approx\varphi(z_q)/\sigma_*$. The verification uses both as tolerances.


# %%
def se_monte_carlo_sd(replicates: np.ndarray) -> float:
    """eq. (boot-mc-error): Monte-Carlo standard deviation of bootstrap_se(replicates)."""
    excess_kurtosis = stats.kurtosis(replicates)  # Fisher's definition: 0 for a normal
    return float(replicates.std(ddof=1) * np.sqrt((excess_kurtosis + 2) / (4 * replicates.size)))


def quantile_monte_carlo_sd(replicates: np.ndarray, q: float) -> float:
    """Monte-Carlo sd of the q-quantile of near-normal replicates: sqrt(q(1-q)/B) σ* / φ(z_q)."""
    density = stats.norm.pdf(stats.norm.ppf(q)) / replicates.std(ddof=1)
    return float(np.sqrt(q * (1 - q) / replicates.size) / density)


# %% [markdown]
# ### The 63.2 % rule
#
# {eq}`boot-oob-prob` to {eq}`boot-unique-var`, and the distinct fraction of each row of an
# index matrix: sort each row and count the places where the value changes.


# %%
def probability_left_out(n: np.ndarray | int) -> np.ndarray:
    """eq. (boot-oob-prob): (1 - 1/n)^n."""
    return (1.0 - 1.0 / np.asarray(n, dtype=np.float64)) ** n


def expected_unique_fraction(n: np.ndarray | int) -> np.ndarray:
    """eq. (boot-unique): 1 - (1 - 1/n)^n."""
    return 1.0 - probability_left_out(n)


def unique_count_variance(n: int) -> float:
    """eq. (boot-unique-var): variance of the number of distinct points in a bootstrap sample."""
    q1, q2 = (1 - 1 / n) ** n, (1 - 2 / n) ** n
    return n * q1 + n * (n - 1) * q2 - n**2 * q1**2


def unique_fraction(indices: np.ndarray) -> np.ndarray:
    """Fraction of distinct values in each row of an index matrix (..., B, n): shape (..., B)."""
    sorted_rows = np.sort(indices, axis=-1)  # (..., B, n)
    distinct = 1 + np.count_nonzero(np.diff(sorted_rows, axis=-1), axis=-1)  # (..., B)
    return distinct / indices.shape[-1]


# %% [markdown]
# ### Averaging correlated predictors
#
# {eq}`boot-avg-var`, and a way to simulate it: $B$ standard normals that share a common part,
# $Z_b=\sqrt\rho\,Z_0+\sqrt{1-\rho}\,\varepsilon_b$, have unit variance and pairwise
# correlation $\rho$.


# %%
def variance_of_average(rho: float, sigma2: float, n_models: np.ndarray | int) -> np.ndarray:
    """eq. (boot-avg-var): ρσ² + (1 - ρ)σ²/B."""
    return rho * sigma2 + (1 - rho) * sigma2 / np.asarray(n_models, dtype=np.float64)


def correlated_predictions(
    rho: float, sigma2: float, n_models: int, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """`n_draws` sets of B predictions with variance σ² and pairwise correlation ρ: (draws, B)."""
    shared = rng.standard_normal((n_draws, 1))  # (draws, 1)
    own = rng.standard_normal((n_draws, n_models))  # (draws, B)
    return math.sqrt(sigma2) * (math.sqrt(rho) * shared + math.sqrt(1 - rho) * own)


# %% [markdown]
# ### A bagging regressor
#
# `BaggedRegressor` follows scikit-learn's `BaggingRegressor`: a base `estimator` (a deep
# `DecisionTreeRegressor` by default) cloned once per bootstrap sample, `n_estimators`,
# `oob_score` and `random_state`. `fit` draws the $(B, n)$ index matrix of
# {eq}`boot-resample`, fits clone $b$ on the rows of row $b$, and keeps the matrix as
# `bootstrap_indices_`; it also accepts a given index matrix, so that the verification can
# hand it scikit-learn's draws. `predict` is {eq}`boot-bagging`. With `oob_score=True`, fit
# stores `oob_prediction_` ({eq}`boot-oob`, NaN for a row that every model saw) and
# `oob_score_`, the $R^2$ of those predictions, as scikit-learn does. Each clone gets its own
# `random_state` from the same generator, because trees break ties between equally good
# splits at random.


# %%
def in_bag_mask(indices: np.ndarray, n: int) -> np.ndarray:
    """mask[b, i] is True when row i is in bootstrap sample b; indices (B, n) -> (B, n)."""
    mask = np.zeros((indices.shape[0], n), dtype=bool)
    mask[np.arange(indices.shape[0])[:, None], indices] = True
    return mask


class BaggedRegressor(RegressorMixin, BaseEstimator):
    """Bagging for regression, eq. (boot-bagging), with out-of-bag predictions, eq. (boot-oob)."""

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        n_estimators: int = 10,
        oob_score: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.oob_score = oob_score
        self.random_state = random_state

    def fit(self, X: Any, y: Any, bootstrap_indices: np.ndarray | None = None) -> "BaggedRegressor":
        if not (isinstance(self.n_estimators, int | np.integer) and self.n_estimators >= 1):
            raise ValueError(f"n_estimators must be a positive integer, got {self.n_estimators}")
        X, y = validate_data(self, X, y, y_numeric=True)
        n = X.shape[0]
        rng = np.random.default_rng(self.random_state)
        if bootstrap_indices is None:
            indices = rng.integers(0, n, size=(self.n_estimators, n))  # (B, n), eq. (boot-resample)
        else:
            indices = np.asarray(bootstrap_indices)
            if indices.ndim != 2 or indices.shape[0] != self.n_estimators:
                raise ValueError(f"bootstrap_indices must have {self.n_estimators} rows")
            if indices.min() < 0 or indices.max() >= n:
                raise ValueError(f"bootstrap_indices must lie in [0, {n})")
        template = DecisionTreeRegressor() if self.estimator is None else self.estimator
        self.estimators_ = []
        for rows in indices:
            model = clone(template)
            seeds = {
                k: int(rng.integers(2**31 - 1))
                for k in model.get_params()
                if k.endswith("random_state")
            }
            self.estimators_.append(model.set_params(**seeds).fit(X[rows], y[rows]))
        self.bootstrap_indices_ = indices
        if self.oob_score:
            self._set_oob_score(X, y)
        return self

    def _set_oob_score(self, X: np.ndarray, y: np.ndarray) -> None:
        out_of_bag = ~in_bag_mask(self.bootstrap_indices_, X.shape[0])  # (B, n)
        per_model = np.stack([model.predict(X) for model in self.estimators_])  # (B, n)
        n_oob = out_of_bag.sum(axis=0)  # (n,): |O_i|
        oob_sum = np.where(out_of_bag, per_model, 0.0).sum(axis=0)  # (n,)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.oob_prediction_ = oob_sum / n_oob  # eq. (boot-oob); NaN where O_i is empty
        has_oob = n_oob > 0
        self.oob_score_ = (
            float(r2_score(y[has_oob], self.oob_prediction_[has_oob]))
            if has_oob.sum() >= 2
            else float("nan")
        )

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        per_model = np.stack([model.predict(X) for model in self.estimators_])  # (B, m)
        return per_model.mean(axis=0)  # eq. (boot-bagging)


# %% [markdown]
# ## Verification
#
# ### The bootstrap SE against the ideal bootstrap, exactly
#
# One sample of $n=101$ points from the exponential distribution (odd $n$, so the median is
# one order statistic), and $B=10{,}000$ replicates of its mean and its median. The
# Monte-Carlo SE must agree with the closed forms {eq}`boot-mean-var` and
# {eq}`boot-median-exact` to within four Monte-Carlo standard deviations {eq}`boot-mc-error`:
# this checks the resampling, not the statistics.

# %%
N_SAMPLE, N_RESAMPLES = 101, 10_000
sample = rng.exponential(size=N_SAMPLE)  # Exp(1): mean 1, sd 1, median ln 2
mean_replicates, median_replicates = bootstrap_replicates(
    sample, mean_and_median, N_RESAMPLES, rng
)  # (B,) each, from the same B resamples
for name, replicates, ideal in [
    ("mean", mean_replicates, ideal_bootstrap_se_of_mean(sample)),
    ("median", median_replicates, ideal_bootstrap_se_of_median(sample)),
]:
    mc_sd = se_monte_carlo_sd(replicates)
    check_close(
        f"bootstrap SE of the {name} (B = {N_RESAMPLES}) vs ideal bootstrap, ±4 MC sd",
        bootstrap_se(replicates),
        ideal,
        atol=4 * mc_sd,
    )

# %% [markdown]
# The whole distribution of the bootstrap median, not only its SE: the empirical CDF of the
# replicates at the order statistics against {eq}`boot-median-exact`. The
# Dvoretzky–Kiefer–Wolfowitz inequality bounds the largest gap between an empirical CDF of $B$
# draws and the true one by $\sqrt{\ln(2/\delta)/(2B)}$ with probability $1-\delta$; the check
# uses $\delta=10^{-6}$.

# %%
support, probabilities = exact_bootstrap_median_distribution(sample)
empirical_cdf = np.searchsorted(np.sort(median_replicates), support, side="right") / N_RESAMPLES
dkw_bound = math.sqrt(math.log(2 / 1e-6) / (2 * N_RESAMPLES))
check_close("sum of the exact bootstrap-median probabilities", probabilities.sum(), 1.0, atol=1e-12)
check_close(
    "ECDF of the bootstrap medians vs eq. (boot-median-exact), DKW bound",
    empirical_cdf,
    np.cumsum(probabilities),
    atol=dkw_bound,
)
print(f"the bootstrap median takes {np.sum(probabilities > 1e-3)} values with probability > 0.1 %")

# %% [markdown]
# ### Against `scipy.stats.bootstrap`
#
# scipy's bootstrap with `method='percentile'` on the same data, with its own random draws.
# The two standard errors and the two pairs of interval endpoints are independent Monte-Carlo
# estimates of the same ideal quantities, so they can only be compared within Monte-Carlo
# error: four standard deviations of a difference of two estimates ($\sqrt2$ times one).

# %%
scipy_result = stats.bootstrap(
    (sample,),
    np.mean,
    n_resamples=N_RESAMPLES,
    vectorized=True,
    method="percentile",
    rng=np.random.default_rng(1),
)
ours_interval = percentile_interval(mean_replicates)  # (2,)
scipy_interval = np.array(scipy_result.confidence_interval)  # (2,)
interval_tolerance = 4 * math.sqrt(2) * quantile_monte_carlo_sd(mean_replicates, 0.025)
check_close(
    "bootstrap SE of the mean vs scipy.stats.bootstrap, ±4√2 MC sd",
    bootstrap_se(mean_replicates),
    scipy_result.standard_error,
    atol=4 * math.sqrt(2) * se_monte_carlo_sd(mean_replicates),
)
check_close(
    "95 % percentile interval of the mean vs scipy (method='percentile'), ±4√2 MC sd",
    ours_interval,
    scipy_interval,
    atol=interval_tolerance,
)

# %% [markdown]
# ### The 63.2 % rule and the maximum's atom
#
# The errata's number: for $n=1000$ the expected fraction of distinct points is
# $1-(1-1/1000)^{1000}=0.6323$. Then a simulation, 2000 bootstrap samples of size 1000, whose
# mean fraction must lie within four standard errors of the exact value, with the standard
# error from {eq}`boot-unique-var`. And the probability that the bootstrap maximum equals the
# sample maximum {eq}`boot-max-atom`, checked on our sample, within four binomial standard
# deviations.

# %%
check_close(
    "E[unique fraction] at n = 1000 vs errata 0.6323",
    expected_unique_fraction(1000),
    0.6323,
    atol=5e-5,
)
n_rule, n_draws_rule = 1000, 2000
simulated_fractions = unique_fraction(bootstrap_indices(n_rule, n_draws_rule, rng))  # (draws,)
fraction_se = math.sqrt(unique_count_variance(n_rule) / n_draws_rule) / n_rule
check_close(
    "simulated unique fraction at n = 1000 vs eq. (boot-unique), ±4 SE",
    simulated_fractions.mean(),
    expected_unique_fraction(n_rule),
    atol=4 * fraction_se,
)
print(
    f"n = 1000: exact {expected_unique_fraction(n_rule):.4f}, simulated "
    f"{simulated_fractions.mean():.4f} ± {fraction_se:.4f}, limit 1 - 1/e = {1 - math.exp(-1):.4f}"
)

max_replicates = bootstrap_replicates(sample, lambda v: v.max(axis=-1), N_RESAMPLES, rng)  # (B,)
atom = float(np.mean(max_replicates == sample.max()))
atom_exact = float(expected_unique_fraction(N_SAMPLE))  # eq. (boot-max-atom)
check_close(
    f"P(bootstrap max = sample max), n = {N_SAMPLE}, vs 1 - (1 - 1/n)^n, ±4 binomial sd",
    atom,
    atom_exact,
    atol=4 * math.sqrt(atom_exact * (1 - atom_exact) / N_RESAMPLES),
)

# %% [markdown]
# ### Averaging correlated predictors
#
# The errata's example of {eq}`boot-avg-var`: $\rho=0.3$, $\sigma^2=1$, $B=10$ gives
# $0.3+0.7/10=0.37$. The simulation draws 200,000 sets of ten correlated predictions; the
# sample variance of normal draws has relative standard deviation $\sqrt{2/(N-1)}$.

# %%
check_close(
    "ρσ² + (1-ρ)σ²/B at ρ = 0.3, σ² = 1, B = 10 vs errata",
    variance_of_average(0.3, 1.0, 10),
    0.37,
    atol=1e-12,
)
n_draws_average = 200_000
average = correlated_predictions(0.3, 1.0, 10, n_draws_average, rng).mean(axis=1)  # (draws,)
check_close(
    "simulated Var(average of 10) vs eq. (boot-avg-var), ±4 sd",
    average.var(ddof=1),
    0.37,
    atol=0.0,
    rtol=4 * math.sqrt(2 / (n_draws_average - 1)),
)

# %% [markdown]
# ### `BaggedRegressor` against `sklearn.ensemble.BaggingRegressor`, on the same draws
#
# scikit-learn exposes its bootstrap draws as `estimators_samples_`, so ours can be fitted on
# exactly the same samples. scikit-learn does not copy the drawn rows, though: when the base
# estimator's `fit` accepts `sample_weight`, as `DecisionTreeRegressor`'s does, it fits each
# tree on all $n$ rows with weights equal to the draw counts. For a regression tree that is the
# same tree: weighted squared error equals squared error over repeated rows, and the tree's
# splitter skips rows of weight zero, so thresholds are placed between the same values. The one
# difference is the tree's own randomness. It visits the features in a random order and keeps
# the first of equally good splits, and a node holding several copies of one row counts as
# several samples (so it is examined, which draws random numbers) where the weighted fit
# counts one (a leaf at once). The random streams then drift apart. With one feature there is
# nothing to break ties between, so on a noisy sine the two must agree to the last bit:

# %%
x_sine, y_sine = noisy_function_1d(200, rng)
X_sine = x_sine[:, None]  # (n, 1)
X_grid = np.linspace(0, 1, 500)[:, None]  # (500, 1)
N_TREES_VERIFY = 50
reference = BaggingRegressor(
    DecisionTreeRegressor(), n_estimators=N_TREES_VERIFY, oob_score=True, random_state=0
).fit(X_sine, y_sine)
drawn = np.stack(reference.estimators_samples_)  # (B, n): scikit-learn's bootstrap indices
ours = BaggedRegressor(n_estimators=N_TREES_VERIFY, oob_score=True, random_state=0).fit(
    X_sine, y_sine, bootstrap_indices=drawn
)
n_oob_trees = (~in_bag_mask(drawn, len(y_sine))).sum(axis=0)  # (n,): |O_i|
check_true(
    "every training row is out of bag for some tree",
    bool(n_oob_trees.min() > 0),
    f"min |O_i| = {n_oob_trees.min()}, mean {n_oob_trees.mean():.1f} of {N_TREES_VERIFY}",
)
check_close(
    "predictions vs BaggingRegressor, same draws",
    ours.predict(X_grid),
    reference.predict(X_grid),
    atol=1e-12,
)
check_close(
    "OOB predictions vs BaggingRegressor.oob_prediction_",
    ours.oob_prediction_,
    reference.oob_prediction_,
    atol=1e-12,
)
check_close(
    "oob_score_ (OOB R²) vs BaggingRegressor", ours.oob_score_, reference.oob_score_, atol=1e-12
)

# %% [markdown]
# With several features, deep nodes with two distinct rows have many equally good splits (any
# feature that separates the two), so the random tie-breaking matters and the same draws no
# longer give the same trees. The cell below fits both on Friedman #1 (ten features, 300
# rows) with scikit-learn's draws, for three seeds. Ours is then checked within a stated
# margin: the change in OOB $R^2$ from breaking ties differently must be smaller than the
# change from drawing new bootstrap samples (the spread of scikit-learn's OOB $R^2$ over the
# three seeds).

# %%
X_friedman, y_friedman = make_friedman1(n_samples=300, noise=1.0, random_state=0)
oob_r2_reference, oob_r2_same_draws = [], []
for seed in range(3):
    reference = BaggingRegressor(
        DecisionTreeRegressor(), n_estimators=30, oob_score=True, random_state=seed
    ).fit(X_friedman, y_friedman)
    ours = BaggedRegressor(n_estimators=30, oob_score=True, random_state=seed).fit(
        X_friedman, y_friedman, bootstrap_indices=np.stack(reference.estimators_samples_)
    )
    oob_r2_reference.append(reference.oob_score_)
    oob_r2_same_draws.append(ours.oob_score_)
gap = np.abs(ours.oob_prediction_ - reference.oob_prediction_)  # the last seed
print(
    f"same draws, different tie-breaking: OOB predictions differ at {np.mean(gap > 1e-9):.0%} "
    f"of the rows, by up to {gap.max():.2f} (y has sd {y_friedman.std():.2f})"
)
print(f"OOB R², sklearn:            {np.round(oob_r2_reference, 4)}")
print(f"OOB R², ours on same draws: {np.round(oob_r2_same_draws, 4)}")
check_true(
    "OOB R², ours vs BaggingRegressor on the same draws: closer than between seeds",
    bool(
        np.max(np.abs(np.subtract(oob_r2_same_draws, oob_r2_reference))) < np.ptp(oob_r2_reference)
    ),
    f"max gap {np.max(np.abs(np.subtract(oob_r2_same_draws, oob_r2_reference))):.4f} < "
    f"seed spread {np.ptp(oob_r2_reference):.4f}",
)

# %% [markdown]
# ## Experiments
#
# ### 1. One sample: the bootstrap against the textbook formulas
#
# The sample of the Verification, $n=101$ points from Exp(1), for which the true answers are
# known: $SE(\bar x)=\sigma/\sqrt n=1/\sqrt n$ and, from {eq}`boot-median-se`,
# $SE(\hat m)\approx1/(2\cdot\tfrac12\sqrt n)=1/\sqrt n$. The table puts the bootstrap SEs
# next to them and the percentile interval of the mean next to the t-interval.

# %%
true_mean, true_median = 1.0, math.log(2)
true_se_mean = 1.0 / math.sqrt(N_SAMPLE)  # σ/√n with σ = 1
asymptotic_se_median = median_asymptotic_se(0.5, N_SAMPLE)  # f(ln 2) = 1/2
mean_interval, median_interval = ours_interval, percentile_interval(median_replicates)
t_int = t_interval(sample)
print(f"{'':>8} {'estimate':>9} {'boot SE':>8} {'analytic':>8}   95 % interval")
print(
    f"{'mean':>8} {sample.mean():9.3f} {bootstrap_se(mean_replicates):8.3f} "
    f"{true_se_mean:8.3f}   percentile [{mean_interval[0]:.3f}, {mean_interval[1]:.3f}], "
    f"t [{t_int[0]:.3f}, {t_int[1]:.3f}], s/√n = {sample.std(ddof=1) / math.sqrt(N_SAMPLE):.3f}"
)
print(
    f"{'median':>8} {np.median(sample):9.3f} {bootstrap_se(median_replicates):8.3f} "
    f"{asymptotic_se_median:8.3f}   percentile [{median_interval[0]:.3f}, "
    f"{median_interval[1]:.3f}]"
)

# %%
fig, (ax_mean, ax_median) = plt.subplots(1, 2, figsize=(11, 4))
ax_mean.hist(
    mean_replicates,
    bins=60,
    density=True,
    color=PALETTE[0],
    alpha=0.6,
    label=f"{N_RESAMPLES} bootstrap replicates",
)
grid = np.linspace(mean_replicates.min(), mean_replicates.max(), 300)
ax_mean.plot(
    grid,
    stats.norm.pdf(grid, sample.mean(), true_se_mean),
    color=PALETTE[1],
    label=f"normal, analytic SE σ/√n = {true_se_mean:.3f}",
)
ax_mean.set(
    xlabel=r"bootstrap mean $\bar x^*$",
    ylabel="density",
    title=f"Mean: bootstrap SE {bootstrap_se(mean_replicates):.3f} vs {true_se_mean:.3f}",
)
ax_mean.set_ylim(top=1.45 * ax_mean.get_ylim()[1])  # room for the legend
# The median's replicates are discrete, so its panel shows distribution functions.
ax_median.ecdf(median_replicates, color=PALETTE[0], label=f"{N_RESAMPLES} bootstrap replicates")
ax_median.plot(
    support, np.cumsum(probabilities), "o", ms=3, color="k", label="exact, eq. (boot-median-exact)"
)
grid = np.linspace(median_interval[0] - 0.1, median_interval[1] + 0.1, 300)
ax_median.plot(
    grid,
    stats.norm.cdf(grid, np.median(sample), asymptotic_se_median),
    color=PALETTE[1],
    label=f"normal, SE 1/(2f(m)√n) = {asymptotic_se_median:.3f}",
)
ax_median.set(
    xlim=(grid[0], grid[-1]),
    xlabel=r"bootstrap median $\hat m^*$",
    ylabel="cumulative probability",
    title=f"Median: bootstrap SE {bootstrap_se(median_replicates):.3f} vs "
    f"{asymptotic_se_median:.3f}",
)
for ax, interval in [(ax_mean, mean_interval), (ax_median, median_interval)]:
    for k, end in enumerate(interval):
        ax.axvline(end, color="k", ls="--", lw=1, label="95 % percentile interval" if k else None)
    ax.legend(loc="upper left")
fig.suptitle(
    f"One sample of n = {N_SAMPLE} from Exp(1): bootstrap SEs near the analytic ones; "
    "bootstrap medians sit on a few data points"
)
plt.show()

# %% [markdown]
# The mean's replicates are smooth and nearly normal. The median's pile onto a handful of
# order statistics (the number printed in the Verification), because the bootstrap median is
# always one of the data points. That lumpiness is why the bootstrap SE of a median, from one
# sample, is a noisy estimate: its relative error shrinks only like $n^{-1/4}$
# {cite}`hall1988exact`, against $n^{-1/2}$ for the mean. A single sample cannot show how
# good an SE estimate is; the next experiment repeats the whole procedure many times.
#
# ### 2. Coverage: how often does the 95 % interval contain the truth?
#
# For each $n$ in 5, 11, 21, 51, 101, draw 500 independent samples from Exp(1); bootstrap
# each with $B=500$ (an index array of shape $(R, B, n)$, one call per $n$); build
# the percentile intervals of the mean and the median and the t-interval of the mean; and
# count how often they contain the true mean 1 and the true median $\ln2$. With 500 samples a
# coverage has a binomial standard error of about 0.01.

# %%
COVERAGE_SIZES = (5, 11, 21, 51, 101)
N_REPEATS, N_RESAMPLES_COVERAGE = 500, 500
coverage = {key: [] for key in ("mean, percentile", "mean, t-interval", "median, percentile")}
se_table = {key: [] for key in ("ideal SE mean", "boot SE mean", "boot SE median", "sd of medians")}
for n in COVERAGE_SIZES:
    samples = rng.exponential(size=(N_REPEATS, n))  # (R, n)
    boot_means, boot_medians = bootstrap_replicates(
        samples, mean_and_median, N_RESAMPLES_COVERAGE, rng
    )  # (R, B) each
    for key, interval, truth in [
        ("mean, percentile", percentile_interval(boot_means), true_mean),
        ("mean, t-interval", t_interval(samples), true_mean),
        ("median, percentile", percentile_interval(boot_medians), true_median),
    ]:
        coverage[key].append(np.mean((interval[0] <= truth) & (truth <= interval[1])))
    se_table["ideal SE mean"].append(np.sqrt(samples.var(axis=1) / n).mean())  # eq. (boot-mean-var)
    se_table["boot SE mean"].append(bootstrap_se(boot_means).mean())
    se_table["boot SE median"].append(bootstrap_se(boot_medians).mean())
    se_table["sd of medians"].append(row_median(samples).std(ddof=1))
coverage = {key: np.array(values) for key, values in coverage.items()}
print(f"{'n':>4} " + " ".join(f"{key:>19}" for key in coverage))
for k, n in enumerate(COVERAGE_SIZES):
    print(f"{n:>4} " + " ".join(f"{values[k]:19.3f}" for values in coverage.values()))

# %% [markdown]
# And the standard errors, averaged over the 500 samples, against the truth. For the mean: the
# true $1/\sqrt n$, the ideal bootstrap SE $\hat\sigma/\sqrt n$ of {eq}`boot-mean-var`, and the
# Monte-Carlo bootstrap SE with $B=500$, which must agree with the ideal one to within a
# percent. For the median: the asymptotic $1/\sqrt n$ of {eq}`boot-median-se`, the standard
# deviation of the 500 sample medians (the true SE at this $n$, up to about 3 % simulation
# error), and the bootstrap SE.

# %%
print(
    f"{'n':>4} | mean: {'1/√n':>6} {'ideal':>6} {'boot':>6} | median: {'1/√n':>6} "
    f"{'sd of medians':>13} {'boot':>6}"
)
for k, n in enumerate(COVERAGE_SIZES):
    print(
        f"{n:>4} |       {1 / math.sqrt(n):6.3f} {se_table['ideal SE mean'][k]:6.3f} "
        f"{se_table['boot SE mean'][k]:6.3f} |         {1 / math.sqrt(n):6.3f} "
        f"{se_table['sd of medians'][k]:13.3f} {se_table['boot SE median'][k]:6.3f}"
    )
check_close(
    "average bootstrap SE of the mean vs average ideal SE, all n",
    np.array(se_table["boot SE mean"]),
    np.array(se_table["ideal SE mean"]),
    atol=0.0,
    rtol=0.01,
)
ratio_small = se_table["ideal SE mean"][0] * math.sqrt(COVERAGE_SIZES[0])
check_true(
    "at n = 5 the bootstrap SE of the mean is biased low",
    bool(ratio_small < 0.9),
    f"average ideal bootstrap SE × √n = {ratio_small:.3f} < 0.9 (truth 1)",
)
ratio_large = se_table["boot SE mean"][-1] * math.sqrt(COVERAGE_SIZES[-1])
check_close("at n = 101 the bootstrap SE of the mean × √n vs 1", ratio_large, 1.0, atol=0.05)
check_close(
    "at n = 101 the bootstrap SE of the median vs the sd of sample medians",
    se_table["boot SE median"][-1],
    se_table["sd of medians"][-1],
    atol=0.0,
    rtol=0.2,
)

# %% [markdown]
# At $n=5$ the bootstrap SE of the mean is far below $1/\sqrt5$ on average. The factor
# $\sqrt{(n-1)/n}=0.89$ of {eq}`boot-mean-var` explains part of it; the rest is that the
# sample standard deviation of five skewed observations is itself biased low (and very
# variable). Both feed directly into the coverage.

# %% [markdown]
# The checks state what the figure shows: the percentile interval of the mean under-covers
# badly at the smallest $n$ and approaches 95 % by $n=101$, and the t-interval does better at
# small $n$ even on skewed data (it is exact only for normal data).
#
# The median's interval looks better at $n=5$, for a reason that is no merit of the
# bootstrap. By {eq}`boot-median-exact`, a bootstrap median of five points equals the smallest
# of them with probability $P(\mathrm{Binomial}(5,\tfrac15)\ge3)$, more than 2.5 %, and the
# largest with the same probability, so the 2.5 % and 97.5 % points are $x_{(1)}$ and
# $x_{(5)}$: the interval is the whole range of the sample. The range misses the true median
# only if all five points fall on the same side of it, so its coverage is exactly
# $1-2\cdot2^{-5}=0.9375$ for any continuous distribution.

# %%
binomial_sd = math.sqrt(0.95 * 0.05 / N_REPEATS)
check_true(
    "percentile interval of the mean under-covers at n = 5",
    bool(coverage["mean, percentile"][0] < 0.95 - 4 * binomial_sd),
    f"{coverage['mean, percentile'][0]:.3f} < 0.95 - 4 sd = {0.95 - 4 * binomial_sd:.3f}",
)
check_true(
    "t-interval covers more than the percentile interval at n = 5",
    bool(coverage["mean, t-interval"][0] > coverage["mean, percentile"][0]),
    f"{coverage['mean, t-interval'][0]:.3f} > {coverage['mean, percentile'][0]:.3f}",
)
check_close(
    "percentile interval of the mean at n = 101 vs 0.95",
    coverage["mean, percentile"][-1],
    0.95,
    atol=0.03,
)
atom_at_minimum = stats.binom.sf(2, 5, 1 / 5)  # P(Binomial(5, 1/5) >= 3)
check_true(
    "n = 5: the bootstrap median sits on the sample minimum more than 2.5 % of the time",
    bool(atom_at_minimum > 0.025),
    f"P = {atom_at_minimum:.4f}",
)
check_close(
    "n = 5: coverage of the median's percentile interval vs 1 - 2·2⁻⁵, ±4 binomial sd",
    coverage["median, percentile"][0],
    1 - 2 * 2.0**-5,
    atol=4 * math.sqrt(0.9375 * 0.0625 / N_REPEATS),
)

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
styles = {
    "mean, percentile": (PALETTE[0], "o-"),
    "mean, t-interval": (PALETTE[2], "s--"),
    "median, percentile": (PALETTE[1], "^-"),
}
for key, values in coverage.items():
    colour, style = styles[key]
    ax.errorbar(
        COVERAGE_SIZES,
        values,
        yerr=2 * np.sqrt(values * (1 - values) / N_REPEATS),
        fmt=style,
        color=colour,
        capsize=3,
        label=key,
    )
ax.axhline(0.95, color="k", lw=1, ls=":", label="nominal 0.95")
ax.set_xscale("log")
ax.set_xticks(COVERAGE_SIZES, [str(n) for n in COVERAGE_SIZES])
ax.set(
    xlabel="sample size n (log scale)",
    ylabel=f"coverage over {N_REPEATS} samples (±2 sd)",
    title=f"Percentile intervals for the mean cover only {coverage['mean, percentile'][0]:.0%} "
    f"at n = {COVERAGE_SIZES[0]} (Exp(1) data)",
)
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# ### 3. The maximum: a failure that more data does not fix
#
# Uniform(0, 1) data, $n=50$, $\theta=1$. The true sampling distribution of
# $n(\theta-\hat\theta)$ comes from 20,000 fresh samples and from {eq}`boot-max-true`; the
# bootstrap's analogue $n(\hat\theta-\hat\theta^*)/\hat\theta$ comes from one sample and
# $B=10{,}000$ resamples. Then the coverage of the percentile interval for $\theta$ over 200
# samples.

# %%
n_max, theta = 50, 1.0
true_scaled = n_max * (theta - rng.uniform(0, theta, size=(20_000, n_max)).max(axis=1))  # (R,)
uniform_sample = rng.uniform(0, theta, size=n_max)
boot_max = bootstrap_replicates(uniform_sample, lambda v: v.max(axis=-1), N_RESAMPLES, rng)
boot_scaled = n_max * (uniform_sample.max() - boot_max) / uniform_sample.max()  # (B,)
atom_uniform = float(np.mean(boot_scaled == 0))
print(
    f"true P(n(θ - max) = 0) = 0; bootstrap puts {atom_uniform:.3f} there "
    f"(1 - (1 - 1/n)^n = {expected_unique_fraction(n_max):.3f})"
)
max_intervals = percentile_interval(
    bootstrap_replicates(
        rng.uniform(0, theta, size=(200, n_max)), lambda v: v.max(axis=-1), 1000, rng
    )
)  # (2, 200)
max_coverage = float(np.mean((max_intervals[0] <= theta) & (theta <= max_intervals[1])))
check_equal("coverage of the percentile interval for θ of Uniform(0, θ)", max_coverage, 0.0)

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
t_grid = np.linspace(0, 6, 300)
ax.plot(
    t_grid,
    1 - (1 - t_grid / n_max) ** n_max,
    color="k",
    lw=1,
    label=r"truth, $1-(1-t/n)^n$ (eq. boot-max-true)",
)
ax.ecdf(
    true_scaled, color=PALETTE[0], ls="--", label=r"truth, 20,000 samples: $n(\theta-\hat\theta)$"
)
ax.ecdf(
    boot_scaled,
    color=PALETTE[1],
    label=r"bootstrap, one sample: $n(\hat\theta-\hat\theta^*)/\hat\theta$",
)
ax.set(
    xlim=(-0.2, 6),
    xlabel="scaled distance of the maximum below its target, t",
    ylabel="cumulative probability",
    title=f"The bootstrap max equals the sample max in {atom_uniform:.0%} of resamples",
)
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# The true distribution starts at zero probability and rises smoothly (close to the
# exponential limit $1-e^{-t}$); the bootstrap one jumps at $t=0$ by the atom printed above. The
# percentile interval for $\theta$ has coverage exactly 0 (checked above), whatever $n$ is.
# The usual repairs are to resample fewer points, $m\ll n$ ("$m$ out of $n$" bootstrap
# {cite}`bickel1997resampling`), or a parametric model of the tail.
#
# ### 4. The 63.2 % rule from $n=1$ to $10^4$
#
# The exact {eq}`boot-unique` at every $n$, its limit, and the simulated fraction of distinct
# points (200 bootstrap samples at each of 30 sizes), with $\pm2$ standard errors from
# {eq}`boot-unique-var`.

# %%
n_all = np.arange(1, 10_001)
n_simulated = np.unique(np.round(np.logspace(0, 4, 30)).astype(int))
simulated_mean, simulated_se = [], []
for n in n_simulated:
    simulated_mean.append(unique_fraction(bootstrap_indices(n, 200, rng)).mean())
    simulated_se.append(math.sqrt(unique_count_variance(n) / 200) / n)
simulated_mean, simulated_se = np.array(simulated_mean), np.array(simulated_se)
z_scores = (simulated_mean - expected_unique_fraction(n_simulated)) / np.maximum(
    simulated_se, 1e-12
)
check_true(
    "simulated fractions within 4 SE of eq. (boot-unique) at all 30 sizes",
    bool(np.all(np.abs(z_scores) < 4)),
    f"max |z| = {np.abs(z_scores).max():.2f}",
)
check_true(
    "1 - (1 - 1/n)^n decreases with n toward 1 - 1/e",
    bool(
        np.all(np.diff(expected_unique_fraction(n_all)) < 0)
        and expected_unique_fraction(10_000) > 1 - math.exp(-1)
    ),
    f"n = 1: {expected_unique_fraction(1):.3f}, n = 2: {expected_unique_fraction(2):.3f}, "
    f"n = 10⁴: {expected_unique_fraction(10_000):.5f} > {1 - math.exp(-1):.5f}",
)

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
ax.plot(n_all, expected_unique_fraction(n_all), color=PALETTE[0], label=r"exact, $1-(1-1/n)^n$")
ax.axhline(1 - math.exp(-1), color="k", ls=":", lw=1, label=r"limit $1-1/e$")
ax.errorbar(
    n_simulated,
    simulated_mean,
    yerr=2 * simulated_se,
    fmt="o",
    ms=4,
    color=PALETTE[1],
    capsize=2,
    label="simulated, 200 resamples (±2 SE)",
)
ax.set_xscale("log")
ax.set(
    xlabel="sample size n (log scale)",
    ylabel="fraction of distinct points in a resample",
    title=f"Distinct fraction {expected_unique_fraction(1000):.4f} at n = 1000, "
    "falling to 1 - 1/e: the 63.2 % rule",
)
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# The fraction falls from 1 at $n=1$ and is close to its limit after a few dozen points (the
# cell below prints the gap); for smaller samples "63.2 %" understates it.

# %%
for n in (10, 30, 100):
    gap_to_limit = expected_unique_fraction(n) - (1 - math.exp(-1))
    print(
        f"n = {n:>3}: 1 - (1 - 1/n)^n = {expected_unique_fraction(n):.4f}, "
        f"{100 * gap_to_limit:.2f} percentage points above 1 - 1/e"
    )

# %% [markdown]
# ### 5. Bagging: averaging, more trees, and out-of-bag error
#
# Left: {eq}`boot-avg-var` against simulation for $\rho\in\{0,0.3,0.7\}$ and $B$ up to 100
# (20,000 draws each). Right: Friedman #1 regression (ten features, five of them noise,
# $n=300$, noise variance 1), a deep tree bagged up to 200 times; the test error on 2000
# fresh points and the OOB error {eq}`boot-oob`, both as functions of the number of trees,
# from one fit of 200 trees (the OOB prediction after $B$ trees averages the out-of-bag ones
# among the first $B$).

# %%
rho_values, n_models_grid = (0.0, 0.3, 0.7), np.array([1, 2, 5, 10, 20, 50, 100])
simulated_variance = {
    rho: np.array(
        [
            correlated_predictions(rho, 1.0, b, 20_000, rng).mean(axis=1).var(ddof=1)
            for b in n_models_grid
        ]
    )
    for rho in rho_values
}
for rho, values in simulated_variance.items():
    check_close(
        f"simulated Var(average) vs eq. (boot-avg-var), ρ = {rho}",
        values,
        variance_of_average(rho, 1.0, n_models_grid),
        atol=0.0,
        rtol=4 * math.sqrt(2 / 19_999),
    )

# %%
N_TREES = 200
X_test, y_test = make_friedman1(n_samples=2000, noise=1.0, random_state=1)
bagged = BaggedRegressor(n_estimators=N_TREES, oob_score=True, random_state=0).fit(
    X_friedman, y_friedman
)
tree_test = np.stack([tree.predict(X_test) for tree in bagged.estimators_])  # (B, m)
tree_train = np.stack([tree.predict(X_friedman) for tree in bagged.estimators_])  # (B, n)
n_trees = np.arange(1, N_TREES + 1)
test_mse = ((np.cumsum(tree_test, axis=0) / n_trees[:, None] - y_test) ** 2).mean(axis=1)  # (B,)
out_of_bag = ~in_bag_mask(bagged.bootstrap_indices_, len(y_friedman))  # (B, n)
oob_count = np.cumsum(out_of_bag, axis=0)  # (B, n): |O_i| among the first b trees
oob_sum = np.cumsum(np.where(out_of_bag, tree_train, 0.0), axis=0)  # (B, n)
with np.errstate(invalid="ignore", divide="ignore"):
    oob_error = np.nanmean((oob_sum / oob_count - y_friedman) ** 2, axis=1)  # (B,)
check_close(
    "OOB MSE after 200 trees vs the class's oob_prediction_",
    oob_error[-1],
    np.mean((bagged.oob_prediction_ - y_friedman) ** 2),
    atol=1e-12,
)
single_tree_mse = test_mse[0]
print(
    f"test MSE: one deep tree {single_tree_mse:.2f}, 10 trees {test_mse[9]:.2f}, "
    f"{N_TREES} trees {test_mse[-1]:.2f}; OOB MSE at {N_TREES} trees {oob_error[-1]:.2f}; "
    f"noise variance 1.00"
)
oob_residuals = (bagged.oob_prediction_ - y_friedman) ** 2  # (n,)
test_residuals = (bagged.predict(X_test) - y_test) ** 2  # (m,)
se_of_gap = math.sqrt(
    oob_residuals.var() / len(oob_residuals) + test_residuals.var() / len(test_residuals)
)
print(
    f"OOB - test MSE at {N_TREES} trees: {oob_error[-1] - test_mse[-1]:+.2f}, "
    f"standard error of that difference {se_of_gap:.2f}"
)
excess_oob, excess_test = oob_error[9] - oob_error[-1], test_mse[9] - test_mse[-1]
print(f"excess over the 200-tree value at B = 10: OOB {excess_oob:+.2f}, test {excess_test:+.2f}")
check_true(
    "bagging 200 trees cuts the test MSE of one deep tree by more than a third",
    bool(test_mse[-1] < 2 / 3 * single_tree_mse),
    f"{test_mse[-1]:.2f} < 2/3 × {single_tree_mse:.2f}",
)
check_close(
    "OOB MSE vs test MSE at 200 trees, ±4 standard errors",
    oob_error[-1],
    test_mse[-1],
    atol=4 * se_of_gap,
)
check_true(
    "at B = 10 the OOB error is further above its limit than the test error",
    bool(excess_oob > excess_test),
    f"{excess_oob:.2f} > {excess_test:.2f}",
)

# %%
fig, (ax_var, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2))
for colour, rho in zip(PALETTE, rho_values, strict=False):
    b_fine = np.arange(1, 101)
    ax_var.plot(
        b_fine,
        variance_of_average(rho, 1.0, b_fine),
        color=colour,
        label=rf"$\rho$ = {rho}: eq. (boot-avg-var); floor $\rho\sigma^2$ dotted",
    )
    ax_var.plot(n_models_grid, simulated_variance[rho], "o", color=colour, ms=4)
    ax_var.axhline(rho, color=colour, ls=":", lw=1)
ax_var.set(
    xscale="log",
    xlabel="number of averaged predictors B (log scale)",
    ylabel=r"variance of the average ($\sigma^2=1$)",
    title="Averaging removes (1-ρ)σ²/B; ρσ² stays (dots: simulation)",
)
ax_var.legend(loc="upper right")
ax_err.plot(n_trees, test_mse, color=PALETTE[0], label="bagged trees, test MSE")
ax_err.plot(n_trees, oob_error, color=PALETTE[1], ls="--", label="bagged trees, OOB MSE")
ax_err.axhline(single_tree_mse, color=PALETTE[2], ls="-.", lw=1, label="one deep tree, test MSE")
ax_err.axhline(1.0, color="k", ls=":", lw=1, label="noise variance")
ax_err.set(
    xscale="log",
    xlabel="number of trees B (log scale)",
    ylabel="mean squared error",
    ylim=(0, 1.75 * single_tree_mse),  # room for the legend above the curves
    title=f"Bagging: test MSE {single_tree_mse:.1f} → {test_mse[-1]:.1f}; OOB follows, from above",
)
ax_err.legend(loc="upper right")
plt.show()

# %% [markdown]
# Two things to read off the right panel. The test error falls fast for the first ten or so
# trees and then flattens: the $(1-\rho)\sigma^2/B$ term is gone and what is left is the
# correlated part, the bias and the noise. And the OOB curve lies above the test curve for
# small $B$ and falls more slowly (the printed excesses at $B=10$), because each point's OOB
# prediction averages only about $0.37B$ trees: a smaller ensemble than the one the test error
# measures. At 200 trees a gap remains (printed, with its standard error, and within four of
# them): the OOB error averages over only $n=300$ training points, so it has a sampling error
# of its own, larger than that of the 2000-point test error.
# Adding trees never makes the bagged model overfit; it only converges.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "The bootstrap reduces variance by averaging models." Does it?
# No. The bootstrap *estimates* the variability of a statistic; it does not change the
# statistic. Averaging models fitted to bootstrap samples is bagging, a separate idea built on
# the same resampling. (The bootstrap estimate of a mean, the average of the $\bar x^*_b$, is
# just $\bar x$ plus Monte-Carlo noise: nothing is reduced.)
# :::
#
# :::{dropdown} "It works well for small datasets." Does it?
# Less well than anything else you could do there. The bootstrap treats the sample as the
# population, so at small $n$ it inherits every accident of the sample: it cannot produce a
# value you did not observe, its SE of the mean is biased low by $\sqrt{(n-1)/n}$, and the
# percentile interval uses normal-like quantiles where the t-interval uses $t_{n-1}$.
# Experiment 2 measured the coverage at $n=5$ (its figure's title): far below 95 %. At small
# $n$, use an exact or a parametric method if one exists; the bootstrap's strength is
# statistics that have no formula (a median, a ratio, a model's AUC) at moderate $n$. Improved
# intervals (BCa, the bootstrap-t) correct part of the error {cite}`efron1993introduction`.
# :::
#
# :::{dropdown} Bootstrap, cross-validation, jackknife: what is each for?
# The **bootstrap** estimates the sampling distribution of a statistic: SE, bias, interval.
# **Cross-validation** {cite}`stone1974cross` estimates the test error of a *fitting
# procedure*, by fitting on part of the data and scoring on the rest; bootstrap versions of
# that exist (OOB, .632). The **jackknife** recomputes the statistic $n$ times leaving one
# point out and estimates
# $SE_{\text{jack}}=\sqrt{\tfrac{n-1}{n}\sum_i(\hat\theta_{(i)}-\hat\theta_{(\cdot)})^2}$: a
# linear approximation to the bootstrap, deterministic and cheap for small $n$. For the mean it
# gives exactly $s/\sqrt n$; for the median it fails, because the leave-one-out medians take
# at most three values, so the estimate rests on the gaps between the few order statistics at
# the centre
# {cite}`efron1993introduction`. The cell below checks the first claim and measures the
# second on the 500 samples of size 101 of Experiment 2.
# :::


# %%
def jackknife_se(samples: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Jackknife SE of the statistic for each sample in `samples` (..., n): shape (...)."""
    n = samples.shape[-1]
    keep = ~np.eye(n, dtype=bool)  # (n, n): row i leaves out point i
    leave_one_out = (
        samples[..., None, :].repeat(n, axis=-2)[..., keep].reshape(*samples.shape[:-1], n, n - 1)
    )  # (..., n, n - 1)
    replicates = statistic(leave_one_out)  # (..., n)
    spread = replicates - replicates.mean(axis=-1, keepdims=True)
    return np.sqrt((n - 1) / n * (spread**2).sum(axis=-1))


check_close(
    "jackknife SE of the mean vs s/√n",
    jackknife_se(samples, row_mean),
    samples.std(axis=-1, ddof=1) / math.sqrt(samples.shape[-1]),
    atol=1e-12,
)
jack_median = jackknife_se(samples, row_median)  # (R,), the last n of Experiment 2
boot_median = bootstrap_se(boot_medians)  # (R,)
print(
    f"SE of the median over {N_REPEATS} samples of n = {samples.shape[-1]}: true (sd of "
    f"medians) {row_median(samples).std(ddof=1):.3f}; jackknife mean {jack_median.mean():.3f}, "
    f"relative sd {jack_median.std() / jack_median.mean():.2f}; bootstrap mean "
    f"{boot_median.mean():.3f}, relative sd {boot_median.std() / boot_median.mean():.2f}"
)
check_true(
    "the jackknife SE of the median is far noisier than the bootstrap's",
    bool(jack_median.std() / jack_median.mean() > 2 * boot_median.std() / boot_median.mean()),
    f"relative sd {jack_median.std() / jack_median.mean():.2f} vs "
    f"{boot_median.std() / boot_median.mean():.2f}",
)

# %% [markdown]
# :::{dropdown} What are the .632 and .632+ estimators?
# Bootstrap estimates of a classifier's prediction error {cite}`efron1983estimating`. The
# leave-one-out bootstrap error $\widehat{\text{Err}}^{(1)}$ scores each point only with the
# models that did not see it (the OOB idea); each such model was trained on only about $0.632n$
# distinct points, so it is pessimistic, while the training error $\overline{\text{err}}$ is
# optimistic. The .632 estimator blends them:
# $\widehat{\text{Err}}^{(.632)}=0.368\,\overline{\text{err}}+0.632\,\widehat{\text{Err}}^{(1)}$.
# For a model that fits its training set perfectly ($\overline{\text{err}}=0$, e.g. 1-nearest
# neighbour) that is too optimistic, and the .632+ estimator {cite}`efron1997improvements`
# moves the weight toward $\widehat{\text{Err}}^{(1)}$ according to how much the model
# overfits, measured against the no-information error rate. In practice, K-fold
# cross-validation is the default and these are mostly asked about as history
# {cite}`hastie2009elements`.
# :::
#
# :::{dropdown} Can I bootstrap a time series by resampling points?
# No. Resampling points independently destroys the dependence, and the SE of a mean of
# positively autocorrelated data comes out far too small. The **moving block bootstrap**
# {cite}`kunsch1989jackknife` resamples blocks of $\ell$ consecutive points (overlapping
# blocks, start chosen uniformly) and concatenates them, which keeps the dependence within each
# block; $\ell$ must grow with $n$ (of order $n^{1/3}$ for the variance of a mean). The cell
# below uses an AR(1) series $x_t=\phi x_{t-1}+\varepsilon_t$ with $\phi=0.6$ and $n=500$,
# whose exact $\operatorname{Var}(\bar x)=\frac{1}{n^2}\sum_{s,t}\gamma(|s-t|)$ with
# $\gamma(h)=\phi^{|h|}/(1-\phi^2)$ is known, and averages the two bootstrap SEs over 50
# series.
# :::

# %%
phi, n_series, n_time, block = 0.6, 50, 500, 25
series = np.empty((n_series, n_time))
series[:, 0] = rng.standard_normal(n_series) / math.sqrt(1 - phi**2)  # stationary start
innovations = rng.standard_normal((n_series, n_time))
for t in range(1, n_time):
    series[:, t] = phi * series[:, t - 1] + innovations[:, t]
lags = np.abs(np.subtract.outer(np.arange(n_time), np.arange(n_time)))  # (n, n)
true_se_ar = math.sqrt((phi**lags / (1 - phi**2)).sum()) / n_time
iid_se = bootstrap_se(bootstrap_replicates(series, row_mean, 500, rng)).mean()
starts = rng.integers(0, n_time - block + 1, size=(n_series, 500, n_time // block))  # (S, B, k)
block_rows = (starts[..., None] + np.arange(block)).reshape(n_series, 500, n_time)  # (S, B, n)
block_means = np.take_along_axis(series[:, None, :], block_rows, axis=-1).mean(axis=-1)
block_se = bootstrap_se(block_means).mean()
print(
    f"SE of the mean of AR(1), φ = {phi}, n = {n_time}: exact {true_se_ar:.4f}; "
    f"iid bootstrap {iid_se:.4f} ({iid_se / true_se_ar:.2f}×); moving blocks of {block}: "
    f"{block_se:.4f} ({block_se / true_se_ar:.2f}×)"
)
check_true(
    "the iid bootstrap underestimates the SE by about half; blocks recover most of it",
    bool(iid_se < 0.6 * true_se_ar < 0.85 * true_se_ar < block_se),
    f"iid {iid_se / true_se_ar:.2f}×, blocks {block_se / true_se_ar:.2f}× the exact SE",
)

# %% [markdown]
# :::{dropdown} How many replicates $B$?
# Enough that the Monte-Carlo error {eq}`boot-mc-error` is small next to the statistical
# error, which no $B$ removes. For an SE, $B$ of a few hundred gives a Monte-Carlo relative
# error of a few percent ($1/\sqrt{2B}$: 5 % at $B=200$); percentile intervals need thousands,
# because they estimate tail quantiles from the few replicates out there
# {cite}`efron1993introduction`. The cell below bootstraps the SE of the mean of the
# Verification sample 200 times at each $B$ and compares the spread with $1/\sqrt{2(B-1)}$.
# :::

# %%
for n_resamples in (25, 200, 1000):
    repeated = bootstrap_se(
        bootstrap_replicates(np.broadcast_to(sample, (200, N_SAMPLE)), row_mean, n_resamples, rng)
    )  # (200,): 200 independent SE estimates from the same sample
    relative_sd = repeated.std(ddof=1) / repeated.mean()
    check_close(
        f"B = {n_resamples}: relative sd of the SE estimate vs 1/√(2(B-1))",
        relative_sd,
        1 / math.sqrt(2 * (n_resamples - 1)),
        atol=0.0,
        rtol=0.2,
    )

# %% [markdown]
# :::{dropdown} Does bagging help every model?
# No: only unstable ones. {eq}`boot-avg-var` needs $\rho$ well below 1, i.e. models that change
# a lot when the training set changes a little (deep trees, 1-nearest neighbour). A linear
# regression fitted on two bootstrap samples gives nearly the same predictions, so
# $\rho\approx1$ and bagging changes almost nothing; it can even hurt a stable model slightly,
# because each model sees only about 63 % distinct points {cite}`breiman1996bagging`. Bagging
# also does not reduce bias: a bagged stump is still about a stump.
# :::
#
# :::{dropdown} Is the OOB error as good as a held-out test set?
# Close, for free, once $B$ is large: in Experiment 5 the gap at 200 trees is within four
# standard errors of the OOB estimate, whose sampling error comes from having only $n$
# training points to score.
# Two caveats. For small $B$ it is pessimistic, since it scores an ensemble of about $0.37B$
# trees. And it is honest only for what was fitted inside the bagging loop: if you used the OOB
# error to choose hyperparameters, it is no longer an unbiased estimate of the chosen model's
# error, the same trap as reusing a validation set.
# :::
#
# :::{dropdown} Why does `scipy.stats.bootstrap` give a different interval by default?
# Its default is `method='BCa'`, which shifts and stretches the percentiles to correct for the
# bias and skewness of $\hat\theta$; the percentile interval is `method='percentile'`, as used
# in the Verification. Both are random: pass `rng` for reproducible results, and expect two
# runs to differ by the Monte-Carlo error {eq}`boot-mc-error`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. You bootstrap a data set of $n=10$ points. What is the probability that a given point is
#    out of bag, and how many distinct points does a bootstrap sample hold on average?
#
#    :::{dropdown} Answer
#    $(1-1/10)^{10}=0.9^{10}\approx0.349$, so on average $10(1-0.349)\approx6.51$ distinct
#    points. The next cell computes both and checks them by simulation.
#    :::

# %%
p_out_10 = 0.9**10
check_close("P(out of bag) at n = 10", probability_left_out(10), p_out_10, atol=1e-15)
simulated_unique_10 = 10 * unique_fraction(bootstrap_indices(10, 100_000, rng)).mean()
check_close(
    "E[distinct points] at n = 10, simulation vs 10(1 - 0.9¹⁰), ±4 SE",
    simulated_unique_10,
    10 * (1 - p_out_10),
    atol=4 * math.sqrt(unique_count_variance(10) / 100_000),
)
print(f"P(out of bag) = {p_out_10:.4f}, E[distinct] = {10 * (1 - p_out_10):.3f}")

# %% [markdown]
# 2. Trees in a bagged ensemble have pairwise correlation $\rho=0.5$. How many trees do you
#    need for the variance of the average to be within 10 % of its floor $\rho\sigma^2$?
#
#    :::{dropdown} Answer
#    $(1-\rho)\sigma^2/B\le0.1\,\rho\sigma^2$ gives $B\ge(1-\rho)/(0.1\rho)=10$. Beyond that,
#    more trees buy almost nothing; lowering $\rho$ (random feature subsets, as in a random
#    forest) is what lowers the floor. The next cell finds the smallest such $B$ from
#    {eq}`boot-avg-var`.
#    :::

# %%
b_needed = next(b for b in range(1, 1000) if variance_of_average(0.5, 1.0, b) <= 1.1 * 0.5)
check_equal("smallest B within 10 % of the floor at ρ = 0.5", b_needed, 10)

# %% [markdown]
# 3. A colleague bootstraps a 95 % interval for the largest claim an insurer will ever see,
#    using the maximum of 10,000 past claims. What goes wrong?
#
#    :::{dropdown} Answer
#    Every bootstrap maximum is one of the observed claims, so the whole interval lies at or
#    below the largest observed claim, and about 63 % of the replicates equal it exactly
#    {eq}`boot-max-atom`. The true maximum of future claims is almost surely larger: the
#    interval cannot cover it. Extremes need extreme-value theory (a fitted tail) or at least an
#    $m$-out-of-$n$ bootstrap.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`efron1979bootstrap`: the bootstrap, the plug-in principle and the Monte-Carlo
#   approximation of {eq}`boot-se`.
# - {cite:t}`efron1993introduction`: chapter 6 (the bootstrap SE and how many replicates),
#   chapter 11 (the jackknife and its failure for the median), chapters 13 and 14 (percentile
#   and BCa intervals), chapter 17 (prediction error, the .632 estimator).
# - {cite:t}`maritz1978note`: the exact bootstrap distribution of the median,
#   {eq}`boot-median-exact`; {cite:t}`hall1988exact`: the $n^{-1/4}$ relative error of the
#   bootstrap variance of a quantile.
# - {cite:t}`vandervaart1998asymptotic`, chapter 21: asymptotic normality of sample quantiles,
#   {eq}`boot-median-se`.
# - {cite:t}`bickel1981some`: the bootstrap's failure for the sample maximum;
#   {cite:t}`bickel1997resampling`: the $m$-out-of-$n$ bootstrap as a repair.
# - {cite:t}`kunsch1989jackknife`: the moving block bootstrap for stationary series.
# - {cite:t}`breiman1996bagging` (bagging, and why it helps unstable learners) and
#   {cite:t}`breiman1996outofbag` (out-of-bag estimates).
# - {cite:t}`hastie2009elements`: section 7.11 (bootstrap estimates of prediction error,
#   .632), section 8.7 (bagging), equation (15.1) (variance of an average of correlated trees,
#   {eq}`boot-avg-var`).
# - {cite:t}`efron1983estimating` (the .632 estimator) and {cite:t}`efron1997improvements`
#   (the .632+ estimator); {cite:t}`stone1974cross` (cross-validation).
# - {cite:t}`scipy2025bootstrap`: `scipy.stats.bootstrap`, its `method` and `rng` arguments;
#   {cite:t}`sklearn2025bagging`: `BaggingRegressor`, its `estimators_samples_`,
#   `oob_prediction_`, and the fit with draw counts as sample weights.

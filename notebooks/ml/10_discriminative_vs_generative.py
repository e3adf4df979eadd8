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
# # 10. Discriminative vs generative models
#
# **The question.** What is the difference between discriminative and generative models? (The
# notes' question 26.)
#
# **What you will be able to answer.** What each kind of model estimates and how it classifies;
# why Gaussian classes with a shared covariance give exactly logistic regression; when naive
# Bayes beats logistic regression and when it loses (Ng & Jordan's two regimes); and what only a
# generative model can do: draw new samples and marginalise a missing feature.

# %%
import warnings
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.optimize
from scipy.special import expit, ndtr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# Both kinds of classifier end up predicting $P(y\mid x)$; they differ in what they estimate
# to get there.
#
# - A **generative classifier** models the joint distribution $P(x,y)=P(y)\,P(x\mid y)$: a
#   prior over classes and a density of the inputs in each class. It fits them by maximum
#   likelihood of the pairs $(x_i,y_i)$ and classifies by Bayes' rule,
#   $P(y\mid x)=P(x\mid y)P(y)/\sum_{y'}P(x\mid y')P(y')$. Examples: naive Bayes, LDA/QDA,
#   a Gaussian mixture per class, hidden Markov models.
# - A **discriminative classifier** models $P(y\mid x)$ directly (logistic regression, a
#   softmax network) or only a decision rule (SVM, trees), fitted to the labels given the
#   inputs. It never models how $x$ is distributed.
# - **They can be the same model family.** Gaussian classes with a shared covariance give
#   $P(y=1\mid x)=\sigma(w^\top x+b)$ with $w=\Sigma^{-1}(\mu_1-\mu_0)$: the logistic form.
#   LDA (or naive Bayes with one variance per feature) and logistic regression fit this *same*
#   family in two ways: by the joint likelihood (cheap, closed form, but relying on the model
#   of $x$), or by the conditional likelihood (iterative, but assuming only the form of
#   $P(y\mid x)$). Only the generative fit can also sample new inputs or marginalise a
#   missing feature.
# - **The trade-off is data vs bias, not labels** {cite}`ng2002discriminative`. Naive Bayes
#   approaches its asymptotic error after $O(\log d)$ examples, logistic regression after
#   $O(d)$; but when naive Bayes' independence assumption is wrong its asymptote is higher.
#   So the generative model often wins with little data and the discriminative one with a lot
#   (the learning curves below cross).
# - **Corrections to the notes.** Generative classifiers need labels too: "discriminative
#   models require large labeled datasets" is not the distinction. Neural networks are not a
#   discriminative class: a softmax classifier is discriminative, while VAEs, GANs and
#   autoregressive language models are generative. GMMs and GANs model $P(x)$, not
#   $P(x,y)$ (a conditional GAN models $P(x\mid y)$). And generative classifiers are not
#   "harder to optimise": naive Bayes is fitted in one pass, in closed form.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | scikit-learn |
# |---|---|---|
# | $x\in\mathbb R^d$, $y\in\{0,\dots,K-1\}$ | input and class | `X`, `y` |
# | $\pi_k=P(y=k)$ | class prior | `class_prior_` (`GaussianNB`) |
# | $\mu_k$, $\mu_{kj}$ | mean of class $k$ (of feature $j$) | `theta_` |
# | $\sigma^2_{kj}$ | variance of feature $j$ in class $k$ | `var_` |
# | $\Sigma$ | covariance shared by the classes (LDA) | `covariance_` |
# | $w$, $b$ | weights and intercept of the log-odds | `coef_`, `intercept_` |
# | $\sigma(a)=1/(1+e^{-a})$ | the logistic (sigmoid) function | `scipy.special.expit` |
# | $C$ | inverse strength of the L2 penalty | `C` (`LogisticRegression`) |
#
# ### Classifying by Bayes' rule
#
# A generative model specifies $P(y)$ and $P(x\mid y)$, hence the joint $P(x,y)$. The posterior
# follows by Bayes' rule:
#
# $$
# P(y=k\mid x)=\frac{\pi_k\,p(x\mid y=k)}{\sum_{j}\pi_j\,p(x\mid y=j)} ,
# $$ (gen-bayes)
#
# and the classifier picks the $k$ with the largest numerator (the denominator $p(x)$ is the
# same for every class). The two kinds of model are fitted to different objectives. On
# training pairs $(x_i,y_i)$ the generative model maximises the **joint** log-likelihood, the
# discriminative one the **conditional** log-likelihood:
#
# $$
# \ell_{\text{joint}}=\sum_{i=1}^n\log P(x_i,y_i)=\sum_i\log\pi_{y_i}+\sum_i\log p(x_i\mid y_i),
# \qquad
# \ell_{\text{cond}}=\sum_{i=1}^n\log P(y_i\mid x_i) .
# $$ (gen-likelihoods)
#
# $\ell_{\text{joint}}=\ell_{\text{cond}}+\sum_i\log p(x_i)$: the generative fit also spends
# effort on explaining the inputs. When its model of $x$ is right, that is extra information
# and it learns faster; when it is wrong, that effort pulls the boundary away from where
# $\ell_{\text{cond}}$ alone would put it. Both objectives need the labels $y_i$.
#
# ### Two classes: the log-odds
#
# With two classes, divide the numerator and denominator of {eq}`gen-bayes` by the numerator:
#
# $$
# P(y=1\mid x)=\frac{1}{1+e^{-a(x)}}=\sigma\big(a(x)\big),\qquad
# a(x)=\log\frac{\pi_1\,p(x\mid y=1)}{\pi_0\,p(x\mid y=0)} .
# $$ (gen-log-odds)
#
# This holds for any class-conditional densities; the shape of $a(x)$ is what the model
# decides.
#
# ### Shared covariance: the posterior is logistic regression
#
# Let $p(x\mid y=k)=\mathcal N(x;\mu_k,\Sigma)$ with the same $\Sigma$ for both classes:
# $\log p(x\mid y=k)=-\tfrac12(x-\mu_k)^\top\Sigma^{-1}(x-\mu_k)-\tfrac12\log\det(2\pi\Sigma)$.
# In the difference $a(x)$ the normalisers cancel, and so does the quadratic term
# $-\tfrac12x^\top\Sigma^{-1}x$ after expanding each square. What is left is linear in $x$:
#
# $$
# a(x)=w^\top x+b,\qquad w=\Sigma^{-1}(\mu_1-\mu_0),\qquad
# b=-\tfrac12\mu_1^\top\Sigma^{-1}\mu_1+\tfrac12\mu_0^\top\Sigma^{-1}\mu_0
# +\log\frac{\pi_1}{\pi_0} .
# $$ (gen-lda-logit)
#
# So $P(y=1\mid x)=\sigma(w^\top x+b)$: exactly the model of logistic regression. This is
# LDA, the generative half of a **generative–discriminative pair**: the same family of
# posteriors, fitted either through $\mu_0,\mu_1,\Sigma,\pi$ (by $\ell_{\text{joint}}$) or
# through $w,b$ directly (by $\ell_{\text{cond}}$). The implication goes one way only:
# many other class-conditional densities also give a linear $a(x)$: any exponential family
# whose sufficient statistic is $x$ itself, such as independent Bernoulli or Poisson features
# {cite}`bishop2006pattern`. Logistic regression fits all of these without knowing which one
# generated the data, which is why the discriminative fit is the more robust one.
#
# In one dimension with $\mu_0=0$, $\mu_1=2$, $\sigma=1$ and equal priors,
# {eq}`gen-lda-logit` gives $w=2$ and $b=-2+0+0=-2$: the log-odds is $2x-2$, so
# $P(y=1\mid x=1)=\sigma(0)=0.5$ and $P(y=1\mid x=2)=\sigma(2)=0.8808$. The Verification
# section computes both from the densities.
#
# ### Naive Bayes
#
# Naive Bayes assumes that the features are independent *within each class*:
# $p(x\mid y=k)=\prod_j p(x_j\mid y=k)$. Gaussian naive Bayes takes each factor to be
# $\mathcal N(\mu_{kj},\sigma^2_{kj})$, so the class-conditional log-density is a sum over
# features:
#
# $$
# \log p(x\mid y=k)=\sum_{j=1}^d\Big[-\tfrac12\log(2\pi\sigma^2_{kj})
# -\frac{(x_j-\mu_{kj})^2}{2\sigma^2_{kj}}\Big] .
# $$ (gen-nb-loglik)
#
# It is a Gaussian with a *diagonal* covariance per class. Put it into {eq}`gen-log-odds`:
#
# $$
# a(x)=\sum_{j=1}^d\Big[\tfrac12\Big(\frac1{\sigma^2_{0j}}-\frac1{\sigma^2_{1j}}\Big)x_j^2
# +\Big(\frac{\mu_{1j}}{\sigma^2_{1j}}-\frac{\mu_{0j}}{\sigma^2_{0j}}\Big)x_j\Big]+c,\qquad
# c=\log\frac{\pi_1}{\pi_0}+\sum_j\Big[\log\frac{\sigma_{0j}}{\sigma_{1j}}
# +\frac{\mu_{0j}^2}{2\sigma^2_{0j}}-\frac{\mu_{1j}^2}{2\sigma^2_{1j}}\Big] .
# $$ (gen-nb-logit)
#
# With a variance per class and feature (what `sklearn.naive_bayes.GaussianNB` fits), the
# log-odds is **quadratic** in each feature, with no cross terms $x_jx_l$. With one variance
# per feature shared by the classes, $\sigma^2_{0j}=\sigma^2_{1j}=\sigma^2_j$, the squares
# cancel and $a(x)$ is linear: {eq}`gen-lda-logit` with a diagonal $\Sigma$. That
# shared-variance naive Bayes and logistic regression are the pair that
# {cite:t}`ng2002discriminative` compare.
#
# ### Fitting naive Bayes: closed form
#
# Maximising $\ell_{\text{joint}}$ in {eq}`gen-likelihoods` separates into one small problem
# per parameter. With $n_k$ examples in class $k$:
#
# $$
# \hat\pi_k=\frac{n_k}{n},\qquad
# \hat\mu_{kj}=\frac1{n_k}\sum_{i:\,y_i=k}x_{ij},\qquad
# \hat\sigma^2_{kj}=\frac1{n_k}\sum_{i:\,y_i=k}(x_{ij}-\hat\mu_{kj})^2+\epsilon,\qquad
# \epsilon=s\cdot\max_j\widehat{\operatorname{Var}}(x_j) .
# $$ (gen-nb-mle)
#
# The variances are the maximum-likelihood ones (divided by $n_k$, not $n_k-1$). The small
# $\epsilon$ is scikit-learn's `var_smoothing` $s$ (default $10^{-9}$) times the largest
# variance of any feature over all the data: it keeps a feature that is constant within a
# class (a pixel that is always 0) from giving $\sigma^2=0$ and an infinite log-density
# {cite}`sklearn2025naivebayes`. The shared variance is the pooled one,
# $\hat\sigma^2_j=\sum_k\frac{n_k}{n}\hat\sigma^2_{kj}$ (before adding $\epsilon$).
#
# The posterior needs $\log\sum_k e^{s_k}$ of the joint log-likelihoods
# $s_k=\log\hat\pi_k+\log p(x\mid y=k)$. These are sums of $d$ terms and easily fall below
# $-745$, where $e^{s_k}$ underflows to 0 in float64. Subtracting the largest one first makes
# the computation safe:
#
# $$
# \log P(y=k\mid x)=s_k-\operatorname{LSE}(s),\qquad
# \operatorname{LSE}(s)=m+\log\sum_{k}e^{s_k-m},\qquad m=\max_k s_k .
# $$ (gen-lse)
#
# ### Fitting logistic regression: Newton's method and L-BFGS
#
# Logistic regression maximises $\ell_{\text{cond}}$ with an L2 penalty on $w$ (not on $b$).
# scikit-learn's parameterisation puts the constant $C$ on the data term
# {cite}`sklearn2025logistic`; dividing by $Cn$ gives the same minimiser in an averaged form,
# whose gradient has a scale that does not grow with $n$:
#
# $$
# L(\theta)=\frac1n\sum_{i=1}^n\Big[\log\big(1+e^{z_i}\big)-y_iz_i\Big]
# +\frac{1}{2Cn}\lVert w\rVert^2,\qquad z_i=w^\top x_i+b,\qquad\theta=(w,b) .
# $$ (gen-lr-objective)
#
# With $\tilde x_i=(x_i,1)$, $p_i=\sigma(z_i)$ and $D=\operatorname{diag}(1,\dots,1,0)/(Cn)$
# (no penalty on $b$), the gradient and Hessian are
#
# $$
# \nabla L=\frac1n\sum_i(p_i-y_i)\,\tilde x_i+D\theta,\qquad
# \nabla^2L=\frac1n\sum_i p_i(1-p_i)\,\tilde x_i\tilde x_i^\top+D .
# $$ (gen-lr-gradient)
#
# The Hessian is positive definite, so $L$ is strictly convex and has one minimiser, but no
# closed form: $p_i$ depends on $\theta$. Newton's method steps
# $\theta\leftarrow\theta-t\,(\nabla^2L)^{-1}\nabla L$, with $t=1$ unless a backtracking line
# search has to shorten it. Each step is a weighted least-squares solve with weights
# $p_i(1-p_i)$, which is why it is also called iteratively reweighted least squares (IRLS)
# {cite}`hastie2009elements`. It converges in a handful of steps (the Verification prints how
# many).
#
# For $K>2$ classes, multinomial logistic regression has one row $\theta_k=(w_k,b_k)$ per class,
# $P(y=k\mid x)=e^{z_k}/\sum_je^{z_j}$ with $z_k=w_k^\top x+b_k$, and
#
# $$
# L(\Theta)=-\frac1n\sum_{i=1}^n\log\frac{e^{z_{i,y_i}}}{\sum_je^{z_{ij}}}
# +\frac1{2Cn}\sum_k\lVert w_k\rVert^2,\qquad
# \frac{\partial L}{\partial\theta_k}=\frac1n\sum_i\big(P(y=k\mid x_i)-[y_i=k]\big)\tilde x_i
# +D\theta_k .
# $$ (gen-softmax-objective)
#
# Its Hessian has $K^2(d+1)^2$ entries, so here the chapter uses L-BFGS, a quasi-Newton method
# that needs only the gradient. Adding the same constant to every $b_k$ changes nothing, so the
# intercepts are defined only up to a shift; starting from zero, every gradient step keeps
# $\sum_kb_k=0$, the convention scikit-learn's result also follows.
#
# ### Why the generative model learns faster, and ends worse
#
# {cite:t}`ng2002discriminative` compare the two members of the pair with $d$ features. Let
# $\varepsilon_\infty$ denote a method's error with infinitely many examples. Then
#
# $$
# \varepsilon_\infty(\text{LR})\le\varepsilon_\infty(\text{NB}),\qquad
# n_{\text{NB}}=O(\log d),\qquad n_{\text{LR}}=O(d),
# $$ (gen-two-regimes)
#
# where $n_{\text{NB}}$ and $n_{\text{LR}}$ are the numbers of examples each needs to come
# within a fixed distance of its own $\varepsilon_\infty$ (with high probability; $O(d)$ for
# the discriminative side is also necessary in the worst case). In the analysis the
# discriminative learner picks the linear rule with the smallest training error, of which
# logistic regression's convex log-loss is the practical stand-in. The inequality holds
# because that learner searches the whole linear family, and naive Bayes' asymptotic boundary
# is one member of the family. The sample complexities differ because naive Bayes estimates
# each of its parameters (two means and a variance per feature, and the prior) from a simple
# average that converges on its own, while the
# discriminative learner fits $w$ as a whole, and the sample complexity of linear rules
# grows with their dimension. If the features really are independent within classes, the two
# asymptotes are equal and naive Bayes is ahead over most of the curve; if not, the curves
# cross. The Experiments section runs both cases.
#
# ### What only a generative model can do
#
# A model of $P(x,y)$ can be **sampled**, class first and then the input:
#
# $$
# y\sim\operatorname{Categorical}(\pi),\qquad x\mid y=k\ \sim\ \mathcal N\big(\mu_k,
# \operatorname{diag}(\sigma^2_{k1},\dots,\sigma^2_{kd})\big) .
# $$ (gen-sample)
#
# And it can classify an input with **missing features** by marginalising them. If $x=(x_o,x_m)$
# with $x_m$ missing, $P(y\mid x_o)\propto\pi_y\int p(x_o,x_m\mid y)\,dx_m$. Under naive Bayes
# the integral factorises and each missing factor integrates to 1, so the missing features
# just drop out of the sum {eq}`gen-nb-loglik`:
#
# $$
# \log P(y=k\mid x_o)=\log\pi_k+\sum_{j\in o}\log p(x_j\mid y=k)-\text{const} .
# $$ (gen-marginal)
#
# A model of $P(y\mid x)$ alone has no $p(x)$ to sample from and no $p(x_m\mid x_o)$ to
# integrate over; it needs the missing value imputed, or a separate model trained without it.

# %% [markdown]
# ## Implementation from scratch
#
# ### The Gaussian log-density, the log-sum-exp and the class moments
#
# {eq}`gen-nb-loglik` term by term, before the sum over features, so that
# {eq}`gen-marginal` can leave some terms out; {eq}`gen-lse`; and the means and variances of
# {eq}`gen-nb-mle`.


# %%
def gaussian_log_density(X: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """log N(x_j; μ_kj, σ²_kj) for every sample, class and feature: the terms of eq.
    (gen-nb-loglik). X is (n, d), means and variances are (K, d); returns (n, K, d)."""
    gaps = X[:, None, :] - means[None, :, :]  # (n, K, d)
    return -0.5 * np.log(2 * np.pi * variances)[None] - 0.5 * gaps**2 / variances[None]


def log_sum_exp(scores: np.ndarray) -> np.ndarray:
    """log Σ_k exp(s_k) along axis 1, shifted by the max: eq. (gen-lse). (n, K) → (n, 1)."""
    top = np.max(scores, axis=1, keepdims=True)  # (n, 1)
    return top + np.log(np.sum(np.exp(scores - top), axis=1, keepdims=True))


def class_moments(
    X: np.ndarray, class_index: np.ndarray, n_classes: int, shared_variance: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class means and maximum-likelihood variances, eq. (gen-nb-mle) before ε; both (K, d).

    With shared_variance, every row of the variances is the pooled one, Σ_k (n_k / n) σ²_k.
    """
    members = [X[class_index == k] for k in range(n_classes)]
    means = np.array([rows.mean(axis=0) for rows in members])  # (K, d)
    variances = np.array([rows.var(axis=0) for rows in members])  # divided by n_k, not n_k - 1
    if shared_variance:
        class_sizes = np.array([len(rows) for rows in members])
        pooled = class_sizes @ variances / len(X)  # (d,)
        variances = np.tile(pooled, (n_classes, 1))
    return means, variances


# %% [markdown]
# ### Gaussian naive Bayes
#
# A scikit-learn classifier with the parameters and fitted attributes of `GaussianNB`
# (`priors`, `var_smoothing`; `theta_`, `var_`, `class_prior_`, `epsilon_`), plus
# `shared_variance` for the pooled variance of Ng & Jordan's model, and a `sample` method for
# {eq}`gen-sample` (the name and return value follow `GaussianMixture.sample`).


# %%
class GaussianNaiveBayes(ClassifierMixin, BaseEstimator):
    """Gaussian naive Bayes fitted by maximum likelihood, eq. (gen-nb-mle).

    Parameters
    ----------
    priors : array of shape (K,) or None, default None
        Class priors; None uses the class frequencies of the training data.
    var_smoothing : float, default 1e-9
        Share of the largest feature variance added to every variance.
    shared_variance : bool, default False
        False: one variance per class and feature, as GaussianNB (quadratic log-odds).
        True: one variance per feature, pooled over the classes (linear log-odds).

    Attributes
    ----------
    classes_ : (K,), class_count_ : (K,), class_prior_ : (K,), theta_ : (K, d),
    var_ : (K, d), epsilon_ : float
    """

    def __init__(
        self,
        priors: np.ndarray | None = None,
        var_smoothing: float = 1e-9,
        shared_variance: bool = False,
    ) -> None:
        self.priors = priors
        self.var_smoothing = var_smoothing
        self.shared_variance = shared_variance

    def fit(self, X: Any, y: Any) -> "GaussianNaiveBayes":
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if self.var_smoothing < 0:
            raise ValueError(f"var_smoothing must be >= 0, got {self.var_smoothing!r}")
        self.classes_, class_index = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        self.class_count_ = np.bincount(class_index, minlength=n_classes).astype(np.float64)
        self.theta_, variances = class_moments(X, class_index, n_classes, self.shared_variance)
        self.epsilon_ = self.var_smoothing * np.max(np.var(X, axis=0))
        self.var_ = variances + self.epsilon_
        if self.priors is None:
            self.class_prior_ = self.class_count_ / len(X)
        else:
            priors = np.asarray(self.priors, dtype=np.float64)
            if priors.shape != (n_classes,):
                raise ValueError("Number of priors must match number of classes.")
            if not np.isclose(priors.sum(), 1.0):
                raise ValueError("The sum of the priors should be 1.")
            if np.any(priors < 0):
                raise ValueError("Priors must be non-negative.")
            self.class_prior_ = priors
        return self

    def joint_log_likelihood(self, X: Any) -> np.ndarray:
        """log π_k + log p(x | y=k), shape (n, K): the numerator of eq. (gen-bayes), in logs."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        per_feature = gaussian_log_density(X, self.theta_, self.var_)  # (n, K, d)
        return np.log(self.class_prior_) + per_feature.sum(axis=2)  # eq. (gen-nb-loglik)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        joint = self.joint_log_likelihood(X)  # (n, K)
        return joint - log_sum_exp(joint)  # eq. (gen-lse)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        joint = self.joint_log_likelihood(X)  # checks that the model is fitted first
        return self.classes_[np.argmax(joint, axis=1)]

    def sample(
        self,
        n_samples: int = 1,
        y: Any = None,
        random_state: int | np.random.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw (X, y) from the fitted joint distribution, eq. (gen-sample).

        With `y` given (labels from `classes_`), draw one x for each of its entries instead
        of drawing the classes from `class_prior_`; `n_samples` is then ignored.
        """
        check_is_fitted(self)
        generator = np.random.default_rng(random_state)
        if y is None:
            class_index = generator.choice(len(self.classes_), size=n_samples, p=self.class_prior_)
        else:
            labels = np.asarray(y)
            if not np.all(np.isin(labels, self.classes_)):
                raise ValueError("y contains labels that are not in classes_")
            class_index = np.searchsorted(self.classes_, labels)
        noise = generator.standard_normal((len(class_index), self.theta_.shape[1]))  # (n, d)
        X = self.theta_[class_index] + np.sqrt(self.var_[class_index]) * noise
        return X, self.classes_[class_index]


# %% [markdown]
# {eq}`gen-marginal` needs only the per-feature terms: a missing feature (NaN) contributes
# nothing to the sum. It is a function rather than a method so that the classifier keeps
# scikit-learn's rule that `predict_proba` rejects NaN.


# %%
def naive_bayes_proba_with_missing(model: GaussianNaiveBayes, X: np.ndarray) -> np.ndarray:
    """P(y | observed features) under a fitted naive Bayes; NaN marks a missing feature.

    eq. (gen-marginal): each missing factor p(x_j | y) integrates to 1, so its term is dropped.
    """
    check_is_fitted(model)
    observed = ~np.isnan(X)  # (n, d)
    per_feature = gaussian_log_density(np.nan_to_num(X), model.theta_, model.var_)  # (n, K, d)
    joint = np.log(model.class_prior_) + np.sum(per_feature * observed[:, None, :], axis=2)
    return np.exp(joint - log_sum_exp(joint))  # (n, K)


# %% [markdown]
# ### Logistic regression
#
# The binary objective {eq}`gen-lr-objective` with its gradient and Hessian
# {eq}`gen-lr-gradient`, then Newton's method with a backtracking (Armijo) line search. The
# design matrix $\tilde X$ carries a column of ones when there is an intercept, and
# `penalty_weights` is the diagonal of $D$.


# %%
def binary_objective(
    theta: np.ndarray, design: np.ndarray, y: np.ndarray, penalty_weights: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """L(θ), ∇L(θ) and the probabilities p_i of eq. (gen-lr-objective) and (gen-lr-gradient)."""
    scores = design @ theta  # (n,)
    probabilities = expit(scores)
    # log(1 + e^z) as logaddexp(0, z): no overflow for large z
    data_term = np.mean(np.logaddexp(0.0, scores) - y * scores)
    loss = data_term + 0.5 * np.sum(penalty_weights * theta**2)
    gradient = design.T @ (probabilities - y) / len(y) + penalty_weights * theta  # (p,)
    return loss, gradient, probabilities


def fit_binary_newton(
    design: np.ndarray, y: np.ndarray, penalty_weights: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, int]:
    """Minimise eq. (gen-lr-objective) by Newton's method (IRLS); stop when max |∇L| <= tol."""
    theta = np.zeros(design.shape[1])  # (p,) with p = d (+ 1 for the intercept)
    loss, gradient, probabilities = binary_objective(theta, design, y, penalty_weights)
    for iteration in range(max_iter):
        if np.max(np.abs(gradient)) <= tol:
            return theta, iteration
        weights = probabilities * (1 - probabilities)  # the IRLS weights p_i (1 - p_i)
        hessian = (design.T * weights) @ design / len(y) + np.diag(penalty_weights)  # (p, p)
        step = np.linalg.solve(hessian, gradient)  # (p,): the Newton direction
        decrease, t = gradient @ step, 1.0
        while True:  # halve the step until the loss drops enough (Armijo)
            candidate = theta - t * step
            trial = binary_objective(candidate, design, y, penalty_weights)
            if trial[0] <= loss - 1e-4 * t * decrease or t < 1e-10:
                break
            t /= 2
        theta, (loss, gradient, probabilities) = candidate, trial
    if np.max(np.abs(gradient)) > tol:
        message = f"Newton's method did not reach tol={tol} in {max_iter} iterations"
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return theta, max_iter


# %% [markdown]
# The multinomial objective {eq}`gen-softmax-objective` and its gradient, minimised by
# `scipy.optimize.minimize(method="L-BFGS-B")` with the stopping rule of scikit-learn's
# `lbfgs` solver (gradient below `tol`, or a relative decrease of $L$ below $64$ machine
# epsilons).


# %%
def multinomial_objective(
    flat_theta: np.ndarray, design: np.ndarray, onehot: np.ndarray, penalty_weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """L(Θ) and its gradient, eq. (gen-softmax-objective); Θ is (K, p), passed flattened."""
    theta = flat_theta.reshape(onehot.shape[1], design.shape[1])  # (K, p)
    scores = design @ theta.T  # (n, K)
    log_probabilities = scores - log_sum_exp(scores)  # log softmax, eq. (gen-lse)
    loss = -np.sum(onehot * log_probabilities) / len(design)
    loss += 0.5 * np.sum(penalty_weights * theta**2)
    residuals = np.exp(log_probabilities) - onehot  # (n, K): P(y=k | x_i) - [y_i = k]
    gradient = residuals.T @ design / len(design) + penalty_weights * theta  # (K, p)
    return loss, gradient.ravel()


def fit_multinomial_lbfgs(
    design: np.ndarray, onehot: np.ndarray, penalty_weights: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, int]:
    """Minimise eq. (gen-softmax-objective) by L-BFGS, from Θ = 0."""
    n_classes, n_params = onehot.shape[1], design.shape[1]
    result = scipy.optimize.minimize(
        multinomial_objective,
        np.zeros(n_classes * n_params),
        args=(design, onehot, penalty_weights),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(np.float64).eps},
    )
    if result.status != 0:
        warnings.warn(f"L-BFGS did not converge: {result.message}", ConvergenceWarning, 3)
    return result.x.reshape(n_classes, n_params), int(result.nit)


# %% [markdown]
# The estimator has the fitted attributes of scikit-learn's `LogisticRegression`: `coef_` is
# $(1,d)$ for two classes (the weights of class `classes_[1]`) and $(K,d)$ for more.


# %%
class LogisticRegression(ClassifierMixin, BaseEstimator):
    """L2-penalised logistic regression: Newton for two classes, L-BFGS (softmax) for more.

    Parameters
    ----------
    C : float, default 1.0
        Inverse penalty strength, as in scikit-learn: minimise ½‖w‖² + C Σ_i loss_i.
    fit_intercept : bool, default True
        Fit an unpenalised intercept b.
    tol : float, default 1e-8
        Stop when the largest entry of the gradient of eq. (gen-lr-objective) is below tol.
    max_iter : int, default 500
        Iterations of Newton (two classes) or L-BFGS (more).

    Attributes
    ----------
    classes_ : (K,), coef_ : (1, d) or (K, d), intercept_ : (1,) or (K,), n_iter_ : int
    """

    def __init__(
        self, C: float = 1.0, fit_intercept: bool = True, tol: float = 1e-8, max_iter: int = 500
    ) -> None:
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any) -> "LogisticRegression":
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C!r}")
        self.classes_, class_index = np.unique(y, return_inverse=True)
        n_samples, n_features = X.shape
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "needs samples of at least 2 classes in the data, but the data contain only "
                f"one class: {self.classes_[0]!r}"
            )
        design = np.hstack([X, np.ones((n_samples, 1))]) if self.fit_intercept else X
        penalty_weights = np.zeros(design.shape[1])  # the diagonal of D: no penalty on b
        penalty_weights[:n_features] = 1.0 / (self.C * n_samples)
        if n_classes == 2:
            target = class_index.astype(np.float64)  # 1 for classes_[1]
            theta, self.n_iter_ = fit_binary_newton(
                design, target, penalty_weights, self.tol, self.max_iter
            )
            theta = theta[None, :]  # (1, p)
        else:
            onehot = np.eye(n_classes)[class_index]  # (n, K)
            theta, self.n_iter_ = fit_multinomial_lbfgs(
                design, onehot, penalty_weights, self.tol, self.max_iter
            )
            if self.fit_intercept:  # Σ_k b_k = 0 up to rounding already; make it exact
                theta[:, -1] -= theta[:, -1].mean()
        self.coef_ = theta[:, :n_features]
        self.intercept_ = theta[:, n_features] if self.fit_intercept else np.zeros(len(theta))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The log-odds w·x + b, shape (n,) for two classes, else the logits z, (n, K)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        scores = X @ self.coef_.T + self.intercept_  # (n, 1) or (n, K)
        return scores.ravel() if len(self.classes_) == 2 else scores

    def predict_log_proba(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:  # log σ(-a) and log σ(a), without overflow
            return -np.logaddexp(0.0, np.column_stack([scores, -scores]))
        return scores - log_sum_exp(scores)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


# %% [markdown]
# ### The shared-covariance log-odds
#
# {eq}`gen-lda-logit`, from given means, covariance and prior, for the checks below.


# %%
def shared_covariance_logit(
    mean_0: np.ndarray, mean_1: np.ndarray, covariance: np.ndarray, prior_1: float
) -> tuple[np.ndarray, float]:
    """(w, b) of a(x) = w·x + b for Gaussian classes sharing a covariance, eq. (gen-lda-logit)."""
    w = np.linalg.solve(covariance, mean_1 - mean_0)  # Σ⁻¹(μ₁ - μ₀), (d,)
    b = -0.5 * mean_1 @ np.linalg.solve(covariance, mean_1)
    b += 0.5 * mean_0 @ np.linalg.solve(covariance, mean_0) + np.log(prior_1 / (1 - prior_1))
    return w, float(b)


# %% [markdown]
# ## Verification
#
# ### The errata's one-dimensional example
#
# $\mu_0=0$, $\mu_1=2$, $\sigma=1$, equal priors. {eq}`gen-lda-logit` must give $w=2$, $b=-2$,
# and the posterior computed directly from the two densities by {eq}`gen-bayes` must equal
# $\sigma(2x-2)$: $0.5$ at $x=1$ and $\sigma(2)=0.8808$ at $x=2$.

# %%
w_1d, b_1d = shared_covariance_logit(np.array([0.0]), np.array([2.0]), np.eye(1), 0.5)
check_close(
    "eq. (gen-lda-logit): (w, b) for μ0=0, μ1=2, σ=1", [w_1d[0], b_1d], [2.0, -2.0], atol=1e-15
)


def posterior_by_bayes_rule(x: np.ndarray, mean_0: float, mean_1: float, sd_0: float, sd_1: float):
    """P(y=1 | x) from two 1-D Gaussian densities and equal priors, eq. (gen-bayes)."""
    density_0 = np.exp(-0.5 * ((x - mean_0) / sd_0) ** 2) / (sd_0 * np.sqrt(2 * np.pi))
    density_1 = np.exp(-0.5 * ((x - mean_1) / sd_1) ** 2) / (sd_1 * np.sqrt(2 * np.pi))
    return 0.5 * density_1 / (0.5 * density_0 + 0.5 * density_1)


x_grid = np.linspace(-3, 5, 81)
check_close(
    "Bayes' rule vs σ(2x − 2) on a grid",
    posterior_by_bayes_rule(x_grid, 0.0, 2.0, 1.0, 1.0),
    expit(2 * x_grid - 2),
    atol=1e-15,
)
posterior_at_1, posterior_at_2 = posterior_by_bayes_rule(np.array([1.0, 2.0]), 0.0, 2.0, 1.0, 1.0)
check_close("P(y=1 | x=1)", posterior_at_1, 0.5, atol=1e-15)
check_close("P(y=1 | x=2) vs the errata's 0.8808", posterior_at_2, 0.8808, atol=5e-5)
print(f"P(y=1 | x=2) = σ(2) = {posterior_at_2:.6f}")

# %% [markdown]
# The same example in a picture, next to the case the derivation warned about: if class 1 has
# $\sigma_1=2$ instead of 1, the log-odds computed from the densities is no longer a line but
# the parabola of {eq}`gen-nb-logit`.

# %%
x_plot = np.linspace(-4, 6, 401)
sd_pairs = {"σ0 = σ1 = 1": (1.0, 1.0), "σ0 = 1, σ1 = 2": (1.0, 2.0)}
fig, (ax_posterior, ax_logit) = plt.subplots(1, 2, figsize=(10, 3.8))
for k, (mean, colour) in enumerate(((0.0, PALETTE[0]), (2.0, PALETTE[1]))):
    weighted = 0.5 * np.exp(-0.5 * (x_plot - mean) ** 2) / np.sqrt(2 * np.pi)
    ax_posterior.fill_between(x_plot, weighted, color=colour, alpha=0.3, label=f"π{k} p(x | y={k})")
ax_posterior.plot(x_plot, expit(2 * x_plot - 2), color="k", label="P(y=1 | x) = σ(2x − 2)")
ax_posterior.plot([1.0, 2.0], [posterior_at_1, posterior_at_2], "o", color="k")
for x_mark, p_mark in ((1.0, posterior_at_1), (2.0, posterior_at_2)):
    ax_posterior.annotate(
        f"{p_mark:.4f}", (x_mark, p_mark), xytext=(-38, 6), textcoords="offset points"
    )
ax_posterior.set(xlabel="x", ylabel="density, probability", title="μ0 = 0, μ1 = 2, σ = 1")
ax_posterior.legend(loc="upper left", fontsize=8)
for (name, (sd_0, sd_1)), colour in zip(sd_pairs.items(), (PALETTE[2], PALETTE[3]), strict=True):
    posterior = posterior_by_bayes_rule(x_plot, 0.0, 2.0, sd_0, sd_1)
    ax_logit.plot(x_plot, np.log(posterior / (1 - posterior)), color=colour, label=name)
ax_logit.axhline(0, color="0.5", lw=0.8)
ax_logit.set(
    xlabel="x", ylabel="log-odds a(x) from the densities", title="μ0 = 0, μ1 = 2", ylim=(-8, 10)
)
ax_logit.legend(loc="upper left")
fig.suptitle(
    f"Shared variance: the log-odds is the line 2x − 2 and P(y=1 | x=2) = {posterior_at_2:.4f}; "
    "unequal variances bend it into a parabola"
)
plt.show()

# %% [markdown]
# ### The shared-covariance log-odds against scikit-learn's LDA
#
# In $d=3$ with a full covariance. `LinearDiscriminantAnalysis` estimates the class means, the
# pooled covariance and the priors, and for two classes stores the log-odds as `coef_` and
# `intercept_`. Feeding its own estimates to `shared_covariance_logit` must give the same
# numbers.

# %%
lda_covariance = np.array([[1.0, 0.6, 0.2], [0.6, 1.5, -0.3], [0.2, -0.3, 0.8]])
lda_means = np.array([[0.0, 0.0, 0.0], [1.0, -0.5, 0.8]])
lda_labels = (rng.random(400) < 0.3).astype(int)
lda_X = lda_means[lda_labels] + rng.multivariate_normal(np.zeros(3), lda_covariance, size=400)
lda = LinearDiscriminantAnalysis(solver="lsqr", store_covariance=True).fit(lda_X, lda_labels)
w_lda, b_lda = shared_covariance_logit(
    lda.means_[0], lda.means_[1], lda.covariance_, lda.priors_[1]
)
check_close("eq. (gen-lda-logit) w vs LDA coef_", w_lda, lda.coef_[0], atol=1e-12)
check_close("eq. (gen-lda-logit) b vs LDA intercept_", b_lda, lda.intercept_[0], atol=1e-12)

# %% [markdown]
# ### `GaussianNaiveBayes` against `sklearn.naive_bayes.GaussianNB`
#
# On wine (13 features, 3 classes) and digits (64 pixels, 10 classes; several pixels are
# constant within a class, so `var_smoothing` matters), with default and with given priors.
# The fitted parameters and the probabilities must agree to rounding. On digits the joint
# log-likelihoods are huge and negative (a pixel that is always 0 in a class has variance
# $\epsilon$; the smallest is printed), so the log-probabilities are compared with a relative
# tolerance.

# %%
wine_X, wine_y = load_wine(return_X_y=True)
digits_X, digits_y = load_digits(return_X_y=True)
for name, (X_data, y_data), priors in [
    ("wine", (wine_X, wine_y), None),
    ("wine, priors (.2, .3, .5)", (wine_X, wine_y), np.array([0.2, 0.3, 0.5])),
    ("digits", (digits_X, digits_y), None),
]:
    ours = GaussianNaiveBayes(priors=priors).fit(X_data, y_data)
    reference = GaussianNB(priors=priors).fit(X_data, y_data)
    parameters = ("theta_", "var_", "class_prior_", "epsilon_")
    check_close(
        f"{name}: theta_, var_, class_prior_, epsilon_ vs GaussianNB",
        np.concatenate([np.ravel(getattr(ours, attribute)) for attribute in parameters]),
        np.concatenate([np.ravel(getattr(reference, attribute)) for attribute in parameters]),
        atol=1e-12,
    )
    check_close(
        f"{name}: predict_proba",
        ours.predict_proba(X_data),
        reference.predict_proba(X_data),
        atol=1e-12,
    )
    check_close(
        f"{name}: predict_log_proba",
        ours.predict_log_proba(X_data),
        reference.predict_log_proba(X_data),
        atol=1e-12,
        rtol=1e-12,
    )
    check_equal(f"{name}: predict", ours.predict(X_data), reference.predict(X_data))
print(f"digits: smallest joint log-likelihood {ours.joint_log_likelihood(digits_X).min():.3g}")

# %% [markdown]
# With `shared_variance=True` the log-odds must be the linear function of
# {eq}`gen-lda-logit` with the diagonal covariance $\operatorname{diag}(\hat\sigma^2_j)$; with
# per-class variances it is not (the quadratic terms of {eq}`gen-nb-logit`).

# %%
cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
cancer_X = StandardScaler().fit_transform(cancer_X)
pooled_nb = GaussianNaiveBayes(shared_variance=True).fit(cancer_X, cancer_y)
w_nb, b_nb = shared_covariance_logit(
    pooled_nb.theta_[0], pooled_nb.theta_[1], np.diag(pooled_nb.var_[0]), pooled_nb.class_prior_[1]
)
log_odds_nb = pooled_nb.joint_log_likelihood(cancer_X) @ np.array([-1.0, 1.0])  # s_1 - s_0
check_close(
    "shared-variance NB log-odds vs w·x + b of eq. (gen-lda-logit)",
    log_odds_nb,
    cancer_X @ w_nb + b_nb,
    atol=1e-10,
)
per_class_nb = GaussianNaiveBayes().fit(cancer_X, cancer_y)
log_odds_quadratic = per_class_nb.joint_log_likelihood(cancer_X) @ np.array([-1.0, 1.0])
linear_fit = np.linalg.lstsq(np.c_[cancer_X, np.ones(len(cancer_X))], log_odds_quadratic)[0]
linear_residual = np.abs(np.c_[cancer_X, np.ones(len(cancer_X))] @ linear_fit - log_odds_quadratic)
check_true(
    "per-class-variance NB log-odds is not linear in x",
    bool(linear_residual.max() > 1.0),
    f"best linear fit misses it by up to {linear_residual.max():.1f} nats",
)

# %% [markdown]
# ### `LogisticRegression` against scikit-learn's
#
# Two classes on standardised breast-cancer data (30 features): scikit-learn's
# `newton-cholesky` solver runs the same Newton iteration to `tol=1e-12`, so the coefficients
# must agree to about $10^{-10}$. Three classes on standardised wine: our L-BFGS has the same
# stopping rule as scikit-learn's `lbfgs`, so the two must agree closely; both stop when the
# objective no longer decreases, with a gradient near $10^{-8}$, which leaves the coefficients
# about $10^{-6}$ from the exact optimum that `newton-cholesky` reaches.

# %%
for C in (1.0, 0.05):
    ours = LogisticRegression(C=C, tol=1e-12).fit(cancer_X, cancer_y)
    reference = SklearnLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12)
    reference.fit(cancer_X, cancer_y)
    check_close(f"binary, C={C}: coef_ vs newton-cholesky", ours.coef_, reference.coef_, atol=1e-10)
    check_close(f"binary, C={C}: intercept_", ours.intercept_, reference.intercept_, atol=1e-10)
    check_close(
        f"binary, C={C}: predict_proba",
        ours.predict_proba(cancer_X),
        reference.predict_proba(cancer_X),
        atol=1e-12,
    )
    print(f"  Newton iterations: {ours.n_iter_}")

# %%
wine_scaled = StandardScaler().fit_transform(wine_X)
ours = LogisticRegression(C=1.0, tol=1e-10).fit(wine_scaled, wine_y)
for solver, atol in (("lbfgs", 1e-10), ("newton-cholesky", 1e-5)):
    reference = SklearnLogisticRegression(C=1.0, solver=solver, tol=1e-10, max_iter=10_000)
    reference.fit(wine_scaled, wine_y)
    check_close(f"3 classes: coef_ vs {solver}", ours.coef_, reference.coef_, atol=atol)
    check_close(
        f"3 classes: intercept_ vs {solver}", ours.intercept_, reference.intercept_, atol=atol
    )
check_close(
    "3 classes: predict_proba vs newton-cholesky",
    ours.predict_proba(wine_scaled),
    reference.predict_proba(wine_scaled),
    atol=1e-6,
)
design_wine = np.c_[wine_scaled, np.ones(len(wine_scaled))]
penalty_wine = np.r_[np.ones(wine_scaled.shape[1]), 0.0] / len(wine_scaled)
_, gradient_at_ours = multinomial_objective(
    np.c_[ours.coef_, ours.intercept_].ravel(), design_wine, np.eye(3)[wine_y], penalty_wine
)
print(
    f"  L-BFGS iterations: {ours.n_iter_}, max |gradient| at the end: "
    f"{np.abs(gradient_at_ours).max():.1e}"
)

# %% [markdown]
# Both estimators work inside scikit-learn's tools: in a `Pipeline` under
# `cross_val_score` they must give the same fold accuracies as the classes they re-implement.

# %%
for ours, reference in [
    (GaussianNaiveBayes(), GaussianNB()),
    (LogisticRegression(), SklearnLogisticRegression(solver="newton-cholesky", tol=1e-10)),
]:
    ours_scores = cross_val_score(make_pipeline(StandardScaler(), ours), wine_X, wine_y, cv=5)
    reference_scores = cross_val_score(
        make_pipeline(StandardScaler(), reference), wine_X, wine_y, cv=5
    )
    check_close(
        f"5-fold CV accuracy of {type(ours).__name__} in a Pipeline",
        ours_scores,
        reference_scores,
        atol=1e-12,
    )

# %% [markdown]
# ### The pair estimates the same thing
#
# When the data really are Gaussian with a shared covariance, LDA (fitted by
# $\ell_{\text{joint}}$) and logistic regression (fitted by $\ell_{\text{cond}}$, nearly
# unpenalised) are two estimators of the same $(w,b)$. With many samples both must land near
# the true values from {eq}`gen-lda-logit`.

# %%
pair_n = 100_000
pair_labels = (rng.random(pair_n) < 0.3).astype(int)
pair_X = lda_means[pair_labels] + rng.multivariate_normal(np.zeros(3), lda_covariance, pair_n)
w_true, b_true = shared_covariance_logit(lda_means[0], lda_means[1], lda_covariance, 0.3)
lda_big = LinearDiscriminantAnalysis(solver="lsqr").fit(pair_X, pair_labels)
logistic_big = LogisticRegression(C=1e4).fit(pair_X, pair_labels)
truth = np.r_[w_true, b_true]
check_close(
    "LDA's (w, b) at n = 100,000 vs eq. (gen-lda-logit)",
    np.r_[lda_big.coef_[0], lda_big.intercept_],
    truth,
    atol=0.05,
)
check_close(
    "logistic regression's (w, b) at n = 100,000 vs eq. (gen-lda-logit)",
    np.r_[logistic_big.coef_[0], logistic_big.intercept_],
    truth,
    atol=0.05,
)

# %% [markdown]
# ### Sampling and marginalising
#
# Samples drawn by `sample` from the naive Bayes fitted to wine must have, class by class, the
# model's means and variances (up to Monte-Carlo error: 200,000 draws, tolerance five
# standard errors). And the shortcut {eq}`gen-marginal` must equal the definition: the
# posterior given $x_o$ computed by integrating the joint density over the missing feature
# numerically (`scipy.integrate.quad`).

# %%
wine_nb = GaussianNaiveBayes().fit(wine_scaled, wine_y)
sampled_X, sampled_y = wine_nb.sample(200_000, random_state=rng)
for k in wine_nb.classes_:
    rows = sampled_X[sampled_y == k]
    standard_error = np.sqrt(wine_nb.var_[k] / len(rows))
    check_close(
        f"class {k}: mean of {len(rows):,} samples vs theta_ (± 5 SE)",
        rows.mean(axis=0) / standard_error,
        wine_nb.theta_[k] / standard_error,
        atol=5.0,
    )
    check_close(
        f"class {k}: variance of the samples vs var_ (relative)",
        rows.var(axis=0) / wine_nb.var_[k],
        np.ones(wine_nb.var_.shape[1]),
        atol=5 * np.sqrt(2 / len(rows)),
    )
check_close(
    "class frequencies of the samples vs class_prior_",
    np.bincount(sampled_y) / len(sampled_y),
    wine_nb.class_prior_,
    atol=5 * np.sqrt(0.25 / len(sampled_y)),
)

# %%
two_feature_nb = GaussianNaiveBayes().fit(wine_scaled[:, [0, 6]], wine_y)  # alcohol, flavanoids


def joint_density(x_missing: float, x_observed: float, model: GaussianNaiveBayes, k: int) -> float:
    """p(x_0, x_1, y=k) under the fitted model, the full density with no shortcut."""
    point = np.array([[x_observed, x_missing]])  # (1, 2)
    log_density = gaussian_log_density(point, model.theta_, model.var_)[0, k].sum()
    return float(model.class_prior_[k] * np.exp(log_density))


def posterior_by_integration(model: GaussianNaiveBayes, x_observed: float) -> np.ndarray:
    """P(y | x_0) = ∫ p(x_0, x_1, y) dx_1 / Σ_y ∫ p(x_0, x_1, y) dx_1, by quadrature."""
    marginals = [
        scipy.integrate.quad(joint_density, -np.inf, np.inf, args=(x_observed, model, k))[0]
        for k in range(len(model.classes_))
    ]
    return np.array(marginals) / np.sum(marginals)


observed_values = np.array([-1.0, 0.0, 1.2])
with_missing = np.c_[observed_values, np.full(3, np.nan)]  # feature 1 missing
check_close(
    "eq. (gen-marginal): drop the term vs integrate it out",
    naive_bayes_proba_with_missing(two_feature_nb, with_missing),
    np.array([posterior_by_integration(two_feature_nb, x) for x in observed_values]),
    atol=1e-8,
)

# %% [markdown]
# ## Experiments
#
# ### 1. Learning curves: two regimes
#
# In the spirit of {cite:t}`ng2002discriminative`: the test error of naive Bayes and logistic
# regression as the training set grows, averaged over many fresh training sets per size, on
# two synthetic problems with $d=12$ features and balanced classes ($n/2$ examples each):
#
# - **(a) naive Bayes' assumptions hold.** Twelve independent features,
#   $x_j\mid y\sim\mathcal N(\pm\delta/2,1)$ with $\delta=0.8$. The Bayes rule is linear and
#   both methods can reach it.
# - **(b) they are violated.** Ten such features, plus two exact copies of the first. The
#   Bayes rule is the same as with the ten features alone, and logistic regression can
#   represent it (it splits the first feature's weight among its copies). Naive Bayes counts
#   the first feature three times, so its boundary is tilted, for good.
#
# Naive Bayes here is the shared-variance one, the exact partner of logistic regression (the
# per-class-variance version is compared in the Pitfalls). Logistic regression uses $C=100$:
# almost unpenalised, as in the paper, but finite, so that it has a solution when the data are
# separable.
#
# Both problems are $x=Az$ with $z\mid y\sim\mathcal N(\pm\Delta/2,I)$ independent
# coordinates ($A$ is the identity in (a); in (b) it copies $z_1$ twice). Both classifiers are
# linear rules $w^\top x+b>0$, i.e. $v^\top z+b>0$ with $v=A^\top w$, and the score
# $v^\top z+b$ is Gaussian within each class. So the test error of a fitted rule is known
# exactly, with no test set:
#
# $$
# \varepsilon(w,b)=\tfrac12\,\Phi\Big(\frac{b-v^\top\Delta/2}{\lVert v\rVert}\Big)
# +\tfrac12\,\Phi\Big(-\frac{b+v^\top\Delta/2}{\lVert v\rVert}\Big),\qquad v=A^\top w .
# $$ (gen-linear-error)
#
# The Bayes rule ($v\propto\Delta$, $b=0$) gives the Bayes error $\Phi(-\lVert\Delta\rVert/2)$;
# naive Bayes with infinite data in (b) uses $v=\delta\,(3,1,\dots,1)$.

# %%
N_FEATURES, N_COPIES, SEPARATION = 12, 2, 0.8
TRAIN_SIZES = (6, 10, 16, 24, 40, 64, 100, 160, 250, 400, 640, 1000)
N_REPEATS, LOGISTIC_C = 60, 100.0
MIXING = {  # A, shape (12, number of independent coordinates)
    "(a) NB's assumptions hold": np.eye(N_FEATURES),
    "(b) two duplicated features": np.vstack(
        [np.eye(N_FEATURES - N_COPIES), np.tile(np.eye(1, N_FEATURES - N_COPIES), (N_COPIES, 1))]
    ),
}


def draw_problem(
    mixing: np.ndarray, n: int, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """x = A z with z | y ~ N(±δ/2, I); n/2 examples per class. Returns X (n, 12), y (n,)."""
    y = np.repeat([0, 1], n // 2)
    z = generator.standard_normal((n, mixing.shape[1])) + SEPARATION * (y[:, None] - 0.5)
    return z @ mixing.T, y


def linear_rule_error(w: np.ndarray, b: float, mixing: np.ndarray) -> float:
    """Exact error of the rule w·x + b > 0 on the problem x = A z, eq. (gen-linear-error)."""
    v = mixing.T @ w  # weights on the independent coordinates z
    half_margin = SEPARATION * v.sum() / 2  # v·Δ/2 with Δ = δ (1, ..., 1)
    spread = np.linalg.norm(v)
    return float(0.5 * ndtr((b - half_margin) / spread) + 0.5 * ndtr(-(b + half_margin) / spread))


def naive_bayes_rule(model: GaussianNaiveBayes) -> tuple[np.ndarray, float]:
    """(w, b) of a shared-variance naive Bayes: eq. (gen-lda-logit) with Σ = diag(σ²)."""
    return shared_covariance_logit(
        model.theta_[0], model.theta_[1], np.diag(model.var_[0]), model.class_prior_[1]
    )


asymptotes = {}
for name, mixing in MIXING.items():
    k = mixing.shape[1]
    asymptotes[name] = {
        "Bayes": linear_rule_error(np.linalg.pinv(mixing.T) @ np.ones(k), 0.0, mixing)
    }
    asymptotes[name]["NB"] = linear_rule_error(np.ones(N_FEATURES), 0.0, mixing)
    print(name + ": " + ", ".join(f"{key} {value:.4f}" for key, value in asymptotes[name].items()))
check_close(
    "(a): Bayes error vs Φ(-δ√12 / 2)",
    asymptotes["(a) NB's assumptions hold"]["Bayes"],
    ndtr(-SEPARATION * np.sqrt(12) / 2),
    atol=1e-15,
)

# %% [markdown]
# Before using {eq}`gen-linear-error`, a check against a test set: one fitted logistic
# regression on (b), its error counted on 400,000 fresh points (tolerance five standard errors).

# %%
mixing_b = MIXING["(b) two duplicated features"]
probe = LogisticRegression(C=LOGISTIC_C).fit(*draw_problem(mixing_b, 40, rng))
X_probe, y_probe = draw_problem(mixing_b, 400_000, rng)
probe_exact = linear_rule_error(probe.coef_[0], probe.intercept_[0], mixing_b)
check_close(
    "eq. (gen-linear-error) vs error on 400,000 test points",
    np.mean(probe.predict(X_probe) != y_probe),
    probe_exact,
    atol=5 * np.sqrt(probe_exact * (1 - probe_exact) / len(y_probe)),
)

# %% [markdown]
# The loop calls the fitting code of the two classes directly, `class_moments` with
# {eq}`gen-lda-logit` for naive Bayes and `fit_binary_newton` for logistic regression: at these
# sizes scikit-learn's input validation inside `fit` would take longer than the fits themselves.
# The Verification section showed that the classes compute exactly this.

# %%
NB, LR = "naive Bayes", "logistic regression"


def fit_both(X: np.ndarray, y: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """(w, b) of shared-variance naive Bayes and of logistic regression (C = LOGISTIC_C)."""
    means, variances = class_moments(X, y, 2, shared_variance=True)
    variances += 1e-9 * np.max(np.var(X, axis=0))  # ε of the default var_smoothing
    naive_bayes = shared_covariance_logit(means[0], means[1], np.diag(variances[0]), 0.5)
    design = np.hstack([X, np.ones((len(X), 1))])  # (n, d + 1)
    penalty_weights = np.r_[np.full(X.shape[1], 1 / (LOGISTIC_C * len(X))), 0.0]
    theta, _ = fit_binary_newton(design, y.astype(np.float64), penalty_weights, 1e-5, 100)
    return {NB: naive_bayes, LR: (theta[:-1], float(theta[-1]))}


X_check, y_check = draw_problem(mixing_b, 40, rng)
fast_rules = fit_both(X_check, y_check)
nb_class = GaussianNaiveBayes(shared_variance=True).fit(X_check, y_check)
lr_class = LogisticRegression(C=LOGISTIC_C, tol=1e-5).fit(X_check, y_check)
check_close(
    "fit_both vs GaussianNaiveBayes: (w, b)",
    np.r_[fast_rules[NB][0], fast_rules[NB][1]],
    np.r_[naive_bayes_rule(nb_class)[0], naive_bayes_rule(nb_class)[1]],
    atol=1e-12,
)
check_close(
    "fit_both vs LogisticRegression: (w, b)",
    np.r_[fast_rules[LR][0], fast_rules[LR][1]],
    np.r_[lr_class.coef_[0], lr_class.intercept_],
    atol=1e-12,
)


def learning_curves(mixing: np.ndarray, generator: np.random.Generator) -> dict[str, np.ndarray]:
    """Exact test error of both learners, shape (len(TRAIN_SIZES), N_REPEATS) each."""
    errors = {learner: np.zeros((len(TRAIN_SIZES), N_REPEATS)) for learner in (NB, LR)}
    for i, n in enumerate(TRAIN_SIZES):
        for r in range(N_REPEATS):
            rules = fit_both(*draw_problem(mixing, n, generator))
            for learner, (w, b) in rules.items():
                errors[learner][i, r] = linear_rule_error(w, b, mixing)
    return errors


curves = {
    name: learning_curves(mixing, rng)
    for name, mixing in tqdm(MIXING.items(), desc="learning curves")
}

# %% [markdown]
# The table lists the mean test error at each size, and the difference "NB − LR" with its
# standard error over the repeats (the same training sets serve both learners, so the
# difference is paired).

# %%
summary = {}
for name, errors in curves.items():
    gap = errors[NB] - errors[LR]  # (sizes, repeats), paired
    gap_mean, gap_se = gap.mean(axis=1), gap.std(axis=1, ddof=1) / np.sqrt(N_REPEATS)
    summary[name] = (gap_mean, gap_se)
    print(f"{name}\n     n      NB       LR      NB − LR (± SE)")
    for i, n in enumerate(TRAIN_SIZES):
        print(
            f"{n:6d}   {errors[NB][i].mean():.4f}   {errors[LR][i].mean():.4f}   "
            f"{gap_mean[i]:+.4f} ± {gap_se[i]:.4f}"
        )


def last_crossing(gap_mean: np.ndarray) -> tuple[int, int, float]:
    """The sizes between which NB − LR last changes sign, and the crossing by linear
    interpolation in log n."""
    i = int(np.flatnonzero(np.diff(np.sign(gap_mean)) != 0)[-1])
    n_lo, n_hi = TRAIN_SIZES[i], TRAIN_SIZES[i + 1]
    t = gap_mean[i] / (gap_mean[i] - gap_mean[i + 1])
    return n_lo, n_hi, float(np.exp(np.log(n_lo) + t * (np.log(n_hi) - np.log(n_lo))))


crossing_lo, crossing_hi, crossing_n = last_crossing(summary["(b) two duplicated features"][0])
print(
    f"\n(b): the curves cross between n = {crossing_lo} and n = {crossing_hi} "
    f"(n ≈ {crossing_n:.0f} by interpolation in log n); logistic regression is ahead after that"
)

# %% [markdown]
# The claims the figure makes, checked on these numbers: in (a) naive Bayes is ahead by more
# than two standard errors at every $n$ from 16 to 1000 and both end within 0.005 of the
# Bayes error; in (b) naive Bayes is ahead from $n=16$ to $40$, logistic regression from
# $n=250$ on, and each ends within 0.005 of its own asymptote.

# %%
sizes = np.array(TRAIN_SIZES)
gap_a, se_a = summary["(a) NB's assumptions hold"]
gap_b, se_b = summary["(b) two duplicated features"]
nb_leads_a, nb_leads_b, lr_leads_b = sizes >= 16, (sizes >= 16) & (sizes <= 40), sizes >= 250
check_true(
    "(a): NB ahead by > 2 SE for 16 <= n <= 1000",
    bool(np.all(gap_a[nb_leads_a] < -2 * se_a[nb_leads_a])),
    f"NB − LR between {gap_a[nb_leads_a].min():+.4f} and {gap_a[nb_leads_a].max():+.4f}",
)
check_true(
    "(b): NB ahead by > 2 SE for 16 <= n <= 40",
    bool(np.all(gap_b[nb_leads_b] < -2 * se_b[nb_leads_b])),
    f"NB − LR between {gap_b[nb_leads_b].min():+.4f} and {gap_b[nb_leads_b].max():+.4f}",
)
check_true(
    "(b): LR ahead by > 2 SE for n >= 250",
    bool(np.all(gap_b[lr_leads_b] > 2 * se_b[lr_leads_b])),
    f"NB − LR between {gap_b[lr_leads_b].min():+.4f} and {gap_b[lr_leads_b].max():+.4f}",
)
check_true(
    "(a), n = 6: LR ahead by > 2 SE; (b), n = 6: LR ahead on average",
    bool(gap_a[0] > 2 * se_a[0]) and bool(gap_b[0] > 0),
    f"NB − LR {gap_a[0]:+.4f} ± {se_a[0]:.4f} and {gap_b[0]:+.4f} ± {se_b[0]:.4f}",
)
final = {name: [errors[key][-1].mean() for key in (NB, LR)] for name, errors in curves.items()}
for name in curves:
    check_close(
        f"{name}: NB and LR at n = 1000 vs their asymptotes (NB's, Bayes)",
        final[name],
        [asymptotes[name]["NB"], asymptotes[name]["Bayes"]],
        atol=0.005,
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, (name, errors) in zip(axes, curves.items(), strict=True):
    for learner, colour in ((NB, PALETTE[0]), (LR, PALETTE[1])):
        mean = errors[learner].mean(axis=1)
        se = errors[learner].std(axis=1, ddof=1) / np.sqrt(N_REPEATS)
        label = f"{learner} (shared variance)" if learner == NB else learner
        ax.plot(sizes, mean, "o-", ms=3, color=colour, label=label)
        ax.fill_between(sizes, mean - 2 * se, mean + 2 * se, color=colour, alpha=0.25)
    ax.axhline(asymptotes[name]["Bayes"], color="k", ls=":", lw=1, label="Bayes error")
    if not np.isclose(asymptotes[name]["NB"], asymptotes[name]["Bayes"]):
        ax.axhline(asymptotes[name]["NB"], color=PALETTE[0], ls="--", lw=1, label="NB's asymptote")
        ax.axvline(crossing_n, color="0.5", lw=0.8)
        ax.annotate(
            f"cross at n ≈ {crossing_n:.0f}",
            (crossing_n, 0.22),
            xytext=(5, 0),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set(xscale="log", xlabel="training examples n", title=name)
axes[0].set_ylabel(f"test error (mean ± 2 SE, {N_REPEATS} training sets)")
axes[1].legend(loc="upper right")
fig.suptitle(
    "Naive Bayes learns faster; with duplicated features logistic regression overtakes it at "
    f"n ≈ {crossing_n:.0f} and ends lower"
)
plt.show()

# %% [markdown]
# Reading the curves. In (a), naive Bayes is ahead from $n=16$ on and logistic regression only
# catches up near $n=1000$: both converge to the Bayes error, naive Bayes faster, as
# {eq}`gen-two-regimes` says. In (b), naive Bayes reaches its asymptote early but stays there,
# above the Bayes error, because no amount of data fixes a wrong independence assumption;
# logistic regression keeps improving and overtakes it at the crossing printed above.
#
# One detail in the table: at $n=6$ (three examples per class) logistic regression is ahead
# in both problems (checked above). With fewer examples than features it separates the
# training data and lands near the difference of the class means (a nearest-centroid rule),
# while naive Bayes divides each mean difference by a variance estimated from a handful of
# points. The asymptotic analysis says nothing about this smallest-sample corner.
#
# ### 2. Sampling from the fitted model
#
# A generative classifier is also a model of the inputs, so it can produce new ones by
# {eq}`gen-sample`. First in two dimensions: two classes with correlated features, the naive
# Bayes fitted to them, and 400 samples drawn from it.

# %%
tilted_covariance = np.array([[1.0, 0.8], [0.8, 1.0]])
tilted_means = np.array([[-1.0, 0.0], [1.0, 0.5]])
tilted_y = np.repeat([0, 1], 200)
tilted_X = tilted_means[tilted_y] + rng.multivariate_normal(np.zeros(2), tilted_covariance, 400)
tilted_nb = GaussianNaiveBayes().fit(tilted_X, tilted_y)
tilted_samples, tilted_sample_y = tilted_nb.sample(400, random_state=rng)


def within_class_correlation(X: np.ndarray, y: np.ndarray) -> float:
    """Mean over classes of the correlation between the two features."""
    return float(np.mean([np.corrcoef(X[y == k].T)[0, 1] for k in np.unique(y)]))


correlation_real = within_class_correlation(tilted_X, tilted_y)
correlation_sampled = within_class_correlation(tilted_samples, tilted_sample_y)
print(f"within-class correlation: real {correlation_real:.2f}, sampled {correlation_sampled:.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
for ax, (X_points, y_points, title) in zip(
    axes,
    [
        (tilted_X, tilted_y, f"real data: correlation {correlation_real:.2f} in each class"),
        (tilted_samples, tilted_sample_y, f"NB samples: correlation {correlation_sampled:.2f}"),
    ],
    strict=True,
):
    for k in (0, 1):
        ax.scatter(*X_points[y_points == k].T, s=8, alpha=0.6, color=PALETTE[k], label=f"class {k}")
    ax.set(xlabel="$x_1$", title=title, aspect="equal")
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="upper left")
fig.suptitle("Naive Bayes can generate data, but only with axis-aligned classes: the tilt is lost")
plt.show()

# %% [markdown]
# Then on the 8×8 digits: the naive Bayes fitted to all 1,797 images has a mean and a
# variance for every pixel and class, and {eq}`gen-sample` draws new images from them (clipped
# to the pixel range 0–16 for display). A logistic regression trained on the real images
# measures whether the samples look like their class. The pixels of a real digit are strongly
# correlated with their neighbours (strokes are continuous); the sampled pixels are
# independent by construction.

# %%
digits_nb = GaussianNaiveBayes().fit(digits_X, digits_y)
samples_per_class = 200
digit_labels = np.repeat(digits_nb.classes_, samples_per_class)
digit_samples, _ = digits_nb.sample(y=digit_labels, random_state=rng)
digit_samples = np.clip(digit_samples, 0, 16)
digits_scaler = StandardScaler().fit(digits_X)
digits_logistic = LogisticRegression(C=0.1, tol=1e-5).fit(
    digits_scaler.transform(digits_X), digits_y
)
sample_accuracy = np.mean(
    digits_logistic.predict(digits_scaler.transform(digit_samples)) == digit_labels
)


def neighbour_correlation(images: np.ndarray, labels: np.ndarray) -> float:
    """Mean within-class correlation of horizontally adjacent pixels (non-constant ones)."""
    values = []
    for k in np.unique(labels):
        pixels = images[labels == k].reshape(-1, 8, 8)
        left, right = (
            pixels[:, :, :-1].reshape(len(pixels), -1),
            pixels[:, :, 1:].reshape(len(pixels), -1),
        )
        for j in range(left.shape[1]):
            if left[:, j].std() > 0.5 and right[:, j].std() > 0.5:
                values.append(np.corrcoef(left[:, j], right[:, j])[0, 1])
    return float(np.mean(values))


neighbours_real = neighbour_correlation(digits_X, digits_y)
neighbours_sampled = neighbour_correlation(digit_samples, digit_labels)
print(
    f"a logistic regression trained on real digits labels {sample_accuracy:.1%} of the "
    f"samples as the class they were drawn from\nneighbouring-pixel correlation within a "
    f"class: real {neighbours_real:.2f}, sampled {neighbours_sampled:.2f}"
)

# %%
first_real = np.array([np.flatnonzero(digits_y == k)[0] for k in range(10)])
first_sampled = np.array([np.flatnonzero(digit_labels == k)[:2] for k in range(10)])
rows = [
    ("real", digits_X[first_real]),
    ("class mean θ", digits_nb.theta_),
    ("sample 1", digit_samples[first_sampled[:, 0]]),
    ("sample 2", digit_samples[first_sampled[:, 1]]),
]
fig, axes = plt.subplots(len(rows), 10, figsize=(9, 4.2))
for (row_name, images), row_axes in zip(rows, axes, strict=True):
    for k, ax in enumerate(row_axes):
        ax.imshow(images[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
    row_axes[0].set_ylabel(row_name, fontsize=8)
fig.suptitle(
    f"Samples from naive Bayes are recognisable ({sample_accuracy:.1%} classified as their "
    f"class) but speckled: neighbouring pixels correlate {neighbours_sampled:.2f}, "
    f"not {neighbours_real:.2f}",
    fontsize=10,
)
plt.show()

# %% [markdown]
# The samples carry the class (the logistic regression recognises most of them), and the class
# means are smooth digits; but each pixel of a sample is drawn on its own, so the strokes break
# up into speckle. What naive Bayes throws away to learn fast, the correlations, is exactly
# what makes an image look real. Better generative models of images (mixtures, VAEs,
# diffusion models) spend their capacity on those dependencies. A logistic regression, in
# contrast, has nothing to sample from: it never modelled $p(x)$.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Discriminative models require large labeled datasets." Do generative ones not?
# They do: fitting $P(x\mid y)$ needs the label of every training example, exactly like
# fitting $P(y\mid x)$. The real difference is *how many* examples each needs to approach its
# best error, {eq}`gen-two-regimes`: $O(\log d)$ for naive Bayes vs $O(d)$ for logistic
# regression {cite}`ng2002discriminative`, which is the first regime of Experiment 1. What a
# generative model can do, and a discriminative one cannot directly, is use *unlabelled*
# inputs as well: their likelihood $\sum_y P(x,y)$ is defined, so EM can fit a mixture to
# labelled and unlabelled data together (semi-supervised learning). Whether that helps depends
# on the model of $x$ being right.
# :::
#
# :::{dropdown} Are neural networks discriminative?
# A network is a function class, not a kind of model. A softmax classifier is discriminative
# (it models $P(y\mid x)$). VAEs, GANs, normalising flows, diffusion models and autoregressive
# language models are networks that model $p(x)$, or $p(x\mid y)$ when conditioned on a label,
# and are generative. An LLM is a generative model of text, $p(x)=\prod_tp(x_t\mid x_{<t})$; the
# same network fine-tuned with a classification head is discriminative.
# :::
#
# :::{dropdown} The notes list GMMs and GANs as models of $P(X,y)$. Are they?
# No. A Gaussian mixture models $p(x)=\sum_c\pi_c\,\mathcal N(x;\mu_c,\Sigma_c)$; its
# components are latent clusters, not labels, so it is a generative model of $x$ alone
# (unsupervised). It becomes a generative *classifier* only when one mixture is fitted per
# class as $p(x\mid y)$. A GAN models $p(x)$ implicitly, through a sampler with no density; a
# conditional GAN models $p(x\mid y)$. None of these is a model of the joint $P(x,y)$ as
# such, and none is a classifier out of the box.
# :::
#
# :::{dropdown} "Discriminative models are usually more accurate." Always?
# Only asymptotically, and only when the generative model is wrong: $\varepsilon_\infty$ of
# logistic regression is at most naive Bayes' {eq}`gen-two-regimes`. With few examples the
# generative model is often better, and when its assumptions hold it leads over most of the
# curve and ties at the end (Experiment 1a). The two regimes are not a law either:
# {cite:t}`xue2008comment` ran further empirical and simulation studies and found that they do
# not appear reliably. The interview answer is conditional: which is better depends on $n$,
# $d$, the penalty, and how wrong the model of $x$ is.
# :::
#
# :::{dropdown} "Generative models are computationally expensive and harder to optimise."
# Naive Bayes is the cheapest classifier there is: means and variances in one pass over the
# data {eq}`gen-nb-mle`, no iterations, trivially parallel and updatable online. Logistic
# regression needs an iterative solver. Deep generative models of images or text are
# expensive, but because they model high-dimensional $x$, not because they are generative.
# :::
#
# :::{dropdown} Why are naive Bayes' probabilities over-confident?
# Correlated features are counted as independent evidence, so the log-odds adds up the same
# information several times. In Experiment 1b the first feature enters naive Bayes'
# log-odds three times. Its accuracy suffers a little; its probabilities suffer more, as the
# log-loss on the (b) data shows (next cell). Naive Bayes is often a decent ranker and a poor
# probability estimator; calibrate it (Platt scaling, isotonic regression) before using its
# probabilities.
# :::

# %%
X_train_b, y_train_b = draw_problem(mixing_b, 1000, rng)
X_test_b, y_test_b = draw_problem(mixing_b, 10_000, rng)
calibration = {}
for name, model in [
    (NB, GaussianNaiveBayes(shared_variance=True)),
    (LR, LogisticRegression(C=LOGISTIC_C)),
]:
    probabilities = model.fit(X_train_b, y_train_b).predict_proba(X_test_b)  # (n, 2)
    calibration[name] = (
        -np.mean(np.log(probabilities[np.arange(len(y_test_b)), y_test_b])),
        np.mean(probabilities.max(axis=1)),
        np.mean(model.predict(X_test_b) == y_test_b),
    )
    log_loss, confidence, accuracy = calibration[name]
    print(
        f"(b), n = 1000, {name:19s}: log-loss {log_loss:.3f}, mean confidence "
        f"{confidence:.3f}, accuracy {accuracy:.3f}"
    )
over_confidence = {name: values[1] - values[2] for name, values in calibration.items()}
check_true(
    "NB: higher log-loss, and more over-confident (confidence − accuracy), than LR",
    bool(calibration[NB][0] > calibration[LR][0])
    and bool(over_confidence[NB] > over_confidence[LR]),
    f"log-loss {calibration[NB][0]:.3f} vs {calibration[LR][0]:.3f}; over-confidence "
    f"{over_confidence[NB]:+.3f} vs {over_confidence[LR]:+.3f}",
)

# %% [markdown]
# :::{dropdown} "Generative models are useful for handling missing data." Always?
# Half true. A generative model has a principled answer built in: marginalise the missing
# features, {eq}`gen-marginal`. Naive Bayes drops their terms; a Gaussian with a shared
# covariance keeps the rows and columns of $\Sigma$ that belong to the observed features,
# $p(x_o\mid y=k)=\mathcal N(x_o;\mu_{k,o},\Sigma_{oo})$, and so still uses the correlations
# between what is seen. A discriminative model needs the value: impute it (the mean, or a model
# of $x_m$ given $x_o$, which is a generative model again), or train one model per pattern of
# missing features, which is impossible when every example misses different ones. But
# marginalising is only as good as the model of $x$. The cell below hides a random half (then
# three quarters) of the pixels of each test digit and compares naive Bayes and a
# shared-covariance Gaussian (LDA with shrinkage 0.1), both marginalised, with logistic
# regression fed mean-imputed pixels.
# :::


# %%
def shared_gaussian_proba_with_missing(
    means: np.ndarray, covariance: np.ndarray, priors: np.ndarray, X: np.ndarray
) -> np.ndarray:
    """P(y | observed features) for Gaussian classes N(μ_k, Σ); NaN marks a missing feature.

    Each row keeps its own observed block: p(x_o | y=k) = N(x_o; μ_{k,o}, Σ_oo), eq. (gen-marginal).
    The log-determinant of Σ_oo is the same for every class, so it cancels in the posterior.
    """
    log_joint = np.zeros((len(X), len(priors)))  # (n, K)
    for i, x in enumerate(X):
        observed = ~np.isnan(x)
        factor = scipy.linalg.cho_factor(covariance[np.ix_(observed, observed)])
        gaps = x[observed] - means[:, observed]  # (K, |o|)
        mahalanobis = np.sum(gaps * scipy.linalg.cho_solve(factor, gaps.T).T, axis=1)
        log_joint[i] = np.log(priors) - 0.5 * mahalanobis
    return np.exp(log_joint - log_sum_exp(log_joint))


digits_train_X, digits_test_X, digits_train_y, digits_test_y = train_test_split(
    digits_X, digits_y, test_size=0.5, random_state=0, stratify=digits_y
)
nb_missing = GaussianNaiveBayes().fit(digits_train_X, digits_train_y)
lda_missing = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1, store_covariance=True)
lda_missing.fit(digits_train_X, digits_train_y)
scaler_missing = StandardScaler().fit(digits_train_X)
logistic_missing = LogisticRegression(C=0.1, tol=1e-5).fit(
    scaler_missing.transform(digits_train_X), digits_train_y
)
missing_accuracy = {}
for hidden_share in (0.0, 0.5, 0.75):
    hidden = rng.random(digits_test_X.shape) < hidden_share  # (n, 64), a new pattern per row
    X_hidden = np.where(hidden, np.nan, digits_test_X)
    X_imputed = np.where(hidden, digits_train_X.mean(axis=0), digits_test_X)
    nb_proba = naive_bayes_proba_with_missing(nb_missing, X_hidden)
    lda_proba = shared_gaussian_proba_with_missing(
        lda_missing.means_, lda_missing.covariance_, lda_missing.priors_, X_hidden
    )
    lr_predictions = logistic_missing.predict(scaler_missing.transform(X_imputed))
    missing_accuracy[hidden_share] = {
        "NB, marginalised": np.mean(nb_proba.argmax(axis=1) == digits_test_y),
        "shared Gaussian, marginalised": np.mean(lda_proba.argmax(axis=1) == digits_test_y),
        "LR, mean-imputed": np.mean(lr_predictions == digits_test_y),
    }
    print(
        f"{hidden_share:4.0%} of pixels hidden: "
        + ", ".join(f"{name} {acc:.3f}" for name, acc in missing_accuracy[hidden_share].items())
    )
check_close(
    "shared Gaussian with nothing hidden vs LinearDiscriminantAnalysis.predict_proba",
    shared_gaussian_proba_with_missing(
        lda_missing.means_, lda_missing.covariance_, lda_missing.priors_, digits_test_X
    ),
    lda_missing.predict_proba(digits_test_X),
    atol=1e-9,
)
visible, half, quarter = (missing_accuracy[share] for share in (0.0, 0.5, 0.75))
check_true(
    "all visible: LR > shared Gaussian > NB",
    bool(visible["LR, mean-imputed"] > visible["shared Gaussian, marginalised"])
    and bool(visible["shared Gaussian, marginalised"] > visible["NB, marginalised"]),
)
check_true(
    "half hidden: NB marginalised < LR imputed < shared Gaussian marginalised",
    bool(half["NB, marginalised"] < half["LR, mean-imputed"])
    and bool(half["LR, mean-imputed"] < half["shared Gaussian, marginalised"]),
)
check_true(
    "3/4 hidden: shared Gaussian marginalised > LR imputed",
    bool(quarter["shared Gaussian, marginalised"] > quarter["LR, mean-imputed"]),
    f"{quarter['shared Gaussian, marginalised']:.3f} vs {quarter['LR, mean-imputed']:.3f}",
)

# %% [markdown]
# With every pixel visible, logistic regression is the most accurate of the three and naive
# Bayes the least (it is a poor model of images, Experiment 2). With half the pixels hidden,
# naive Bayes marginalised is still behind the imputed logistic regression: a principled
# answer from a wrong model. The shared-covariance Gaussian, which models the correlations
# between pixels, is ahead of logistic regression once pixels are missing, because it predicts
# the hidden pixels from the visible ones implicitly, where mean imputation does not. So the
# right claim is conditional: a *good* generative model handles missing inputs better than a
# discriminative model with naive imputation.
#
# :::{dropdown} What does the L2 penalty do to this comparison?
# A strong penalty pulls logistic regression toward a *generative-looking* rule. Setting the
# gradient {eq}`gen-lr-gradient` to zero gives $w=C\sum_i(y_i-p_i)\,x_i$. As $C\to0$, $w\to0$,
# every $p_i$ tends to the base rate $\bar y$ (the unpenalised intercept fits it), and
# $w\approx C\sum_i(y_i-\bar y)\,x_i=C\,\frac{n_0n_1}{n}(\hat\mu_1-\hat\mu_0)$: the difference
# of the class means, the nearest-centroid rule, i.e. naive Bayes with one variance for every
# feature. So a well-tuned $C$
# borrows some of the generative model's data efficiency, and a comparison of "naive Bayes vs
# logistic regression" at small $n$ depends on $C$. The next cell checks the limit and the
# effect on Experiment 1a at $n=16$.
# :::

# %%
mixing_a = MIXING["(a) NB's assumptions hold"]
X_small, y_small = draw_problem(mixing_a, 16, rng)
mean_difference = X_small[y_small == 1].mean(axis=0) - X_small[y_small == 0].mean(axis=0)
tiny_c_weights = LogisticRegression(C=1e-6).fit(X_small, y_small).coef_[0]
cosine = tiny_c_weights @ mean_difference
cosine /= np.linalg.norm(tiny_c_weights) * np.linalg.norm(mean_difference)
check_close("C = 1e-6: cosine between w and μ̂₁ − μ̂₀", cosine, 1.0, atol=1e-5)
small_n_errors: dict[str, list[float]] = {"LR, C = 1": [], "LR, C = 100": [], "NB": []}
for _ in range(N_REPEATS):
    X_train, y_train = draw_problem(mixing_a, 16, rng)
    for c in (1, 100):
        logistic = LogisticRegression(C=c, tol=1e-5).fit(X_train, y_train)
        error = linear_rule_error(logistic.coef_[0], logistic.intercept_[0], mixing_a)
        small_n_errors[f"LR, C = {c}"].append(error)
    naive_bayes = GaussianNaiveBayes(shared_variance=True).fit(X_train, y_train)
    small_n_errors["NB"].append(linear_rule_error(*naive_bayes_rule(naive_bayes), mixing_a))
print(
    f"(a), n = 16, mean exact test error over {N_REPEATS} training sets: "
    + ", ".join(f"{name} {np.mean(values):.4f}" for name, values in small_n_errors.items())
)

# %% [markdown]
# :::{dropdown} Is scikit-learn's `GaussianNB` the partner of logistic regression?
# Not exactly: it fits a variance per class *and* feature, so its log-odds is quadratic
# {eq}`gen-nb-logit` and it has $d$ more parameters than the shared-variance model. With few
# examples per class those extra variances are poorly estimated, and the quadratic terms add
# noise to the boundary even when the true one is linear. The next cell repeats Experiment 1a
# at three sizes with both versions (the per-class one is not linear, so its error is counted on
# 5,000 test points).
# :::

# %%
X_test_a, y_test_a = draw_problem(mixing_a, 5_000, rng)
print("(a)    n   NB, shared variance   NB, per-class variances (GaussianNB)")
for n in (10, 24, 100):
    shared_errors, per_class_errors = [], []
    for _ in range(N_REPEATS // 2):
        X_train, y_train = draw_problem(mixing_a, n, rng)
        naive_bayes = GaussianNaiveBayes(shared_variance=True).fit(X_train, y_train)
        shared_errors.append(linear_rule_error(*naive_bayes_rule(naive_bayes), mixing_a))
        per_class = GaussianNaiveBayes().fit(X_train, y_train)
        per_class_errors.append(np.mean(per_class.predict(X_test_a) != y_test_a))
    print(
        f"    {n:6d}        {np.mean(shared_errors):.4f}"
        f"                {np.mean(per_class_errors):.4f}"
    )

# %% [markdown]
# :::{dropdown} The class priors change between training and deployment. Which model adapts?
# A generative model separates $P(y)$ from $P(x\mid y)$: if only the priors change (label shift),
# replace $\pi$ and keep the class-conditionals (`GaussianNaiveBayes(priors=...)`). A
# discriminative model can do the same through Bayes' rule, multiplying $P(y\mid x)$ by
# $\pi^{\text{new}}_y/\pi^{\text{old}}_y$ and renormalising, because the prior enters the
# log-odds only through the additive term $\log(\pi_1/\pi_0)$ of {eq}`gen-lda-logit`. If
# $P(x\mid y)$ itself changes (covariate shift within classes), neither trick applies.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. In the errata's example ($\mu_0=0$, $\mu_1=2$, $\sigma=1$), the prior of class 1 drops to
#    $\pi_1=0.2$. Where is the decision threshold now, and what is $P(y=1\mid x=2)$?
#
#    :::{dropdown} Answer
#    Only $b$ changes, by $\log(\pi_1/\pi_0)=\log(1/4)$: the log-odds is $2x-2-\log4$. It is 0
#    at $x^\ast=1+\tfrac12\log4=1+\log2\approx1.693$, so the threshold moves toward the rarer
#    class. At $x=2$ the log-odds is $2-\log4$, and $P=\sigma(2-\log 4)=e^2/(e^2+4)\approx0.649$.
#    The next cell computes both from the densities.
#    :::

# %%
threshold = scipy.optimize.brentq(
    lambda x: 0.2 * np.exp(-0.5 * (x - 2) ** 2) - 0.8 * np.exp(-0.5 * x**2), 0.0, 4.0, xtol=1e-14
)
check_close("threshold with π1 = 0.2 vs 1 + log 2", threshold, 1 + np.log(2), atol=1e-12)
w_prior, b_prior = shared_covariance_logit(np.array([0.0]), np.array([2.0]), np.eye(1), 0.2)
posterior_prior = expit(w_prior[0] * 2.0 + b_prior)
check_close(
    "P(y=1 | x=2) with π1 = 0.2 vs e²/(e² + 4)",
    posterior_prior,
    np.e**2 / (np.e**2 + 4),
    atol=1e-15,
)
print(f"threshold {threshold:.4f}, P(y=1 | x=2) = {posterior_prior:.4f}")

# %% [markdown]
# 2. Both classes have mean 0, class 0 has $\sigma_0=1$, class 1 has $\sigma_1=2$, equal priors.
#    For which $x$ does naive Bayes predict class 1? Could logistic regression on $x$ learn this
#    rule?
#
#    :::{dropdown} Answer
#    By {eq}`gen-nb-logit`, $a(x)=\tfrac12(1-\tfrac14)x^2+\log\tfrac12=\tfrac38x^2-\log2$.
#    Class 1 wins when $|x|>\sqrt{8\log2/3}\approx1.360$: on *both* sides, because the wide
#    class owns the tails. A linear log-odds in $x$ has a single threshold, so logistic
#    regression on $x$ cannot; on the features $(x,x^2)$ it can. The cell below finds the
#    threshold from a naive Bayes fitted to a large sample.
#    :::

# %%
wide_y = np.repeat([0, 1], 200_000)
wide_x = rng.standard_normal(len(wide_y)) * np.where(wide_y == 1, 2.0, 1.0)
wide_nb = GaussianNaiveBayes().fit(wide_x[:, None], wide_y)
fitted_threshold = scipy.optimize.brentq(
    lambda x: wide_nb.predict_proba(np.array([[x]]))[0, 1] - 0.5, 0.0, 4.0
)
check_close(
    "fitted NB threshold vs √(8 log 2 / 3)", fitted_threshold, np.sqrt(8 * np.log(2) / 3), atol=0.02
)
check_equal(
    "NB predicts class 1 at x = -3 and x = 3, class 0 at x = 0",
    wide_nb.predict(np.array([[-3.0], [0.0], [3.0]])),
    np.array([1, 0, 1]),
)

# %% [markdown]
# 3. You have 40 labelled examples with 30 features, and a year later 40,000. Which classifier
#    would you start with, and which would you expect to win later? What could make the first
#    answer wrong?
#
#    :::{dropdown} Answer
#    With 40 examples and 30 features, naive Bayes (or LDA with shrinkage) is the safe start: it
#    estimates each parameter from simple averages and reaches its asymptote quickly. With
#    40,000, logistic regression (or anything discriminative and more flexible), because it
#    removes the bias of the independence assumption. The first answer is wrong when the
#    features are strongly dependent (duplicates, many near-copies): then naive Bayes' asymptote
#    can be so poor that it never leads, and a strongly regularised logistic regression, which
#    behaves like a nearest-centroid rule at small $n$, is the better start.
#    :::
#
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`ng2002discriminative`: the generative–discriminative pair of naive Bayes and
#   logistic regression, Proposition 1 (logistic regression's asymptotic error is no larger),
#   the $O(\log d)$ vs $O(d)$ sample complexities, and the learning-curve experiments that
#   Experiment 1 imitates.
# - {cite:t}`xue2008comment`: a re-examination of those experiments, the caveat that the two
#   regimes are not universal.
# - {cite:t}`bishop2006pattern`, Section 4.2 (probabilistic generative models; the logistic
#   posterior of Gaussian classes with a shared covariance, Section 4.2.1) and Section 4.3
#   (logistic regression, IRLS, multiclass logistic regression).
# - {cite:t}`hastie2009elements`, Sections 4.3 (LDA), 4.4 (logistic regression fitted by
#   Newton/IRLS; 4.4.5, logistic regression or LDA?) and 6.6.3 (naive Bayes).
# - {cite:t}`sklearn2025naivebayes`: `GaussianNB`'s model and `var_smoothing`, which the
#   from-scratch class reproduces.
# - {cite:t}`sklearn2025logistic`: the penalised objective of `LogisticRegression` with $C$, and
#   the `newton-cholesky` and `lbfgs` solvers used as references.
# - {cite:t}`goodfellow2016deep`, Chapter 20: deep generative models (VAEs, GANs), for the
#   point that networks can be generative.

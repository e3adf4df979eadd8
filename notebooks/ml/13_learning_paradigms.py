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
# # 13. Supervised, unsupervised and reinforcement learning
#
# **The question.** What is the difference between supervised, unsupervised and reinforcement
# learning? (And where do self-supervised and semi-supervised learning fit?)
#
# **What you will be able to answer.** What the data and the feedback are in each paradigm, with
# one worked example each: a classifier, k-means and a Gaussian mixture fitted by EM,
# Q-learning on a grid world and ε-greedy on a bandit, each checked against a reference.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    DensityMixin,
    TransformerMixin,
)
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# The three differ in **what the data are** and **what feedback** the learner gets.
#
# - **Supervised**: a fixed data set of i.i.d. pairs $(x_i,y_i)$. The label is *instructive*:
#   it says what the right output was, and training minimises a loss between prediction and
#   label (cross-entropy, squared error). A spam filter, a price regressor.
# - **Unsupervised**: only the $x_i$, and no feedback at all. The goal is structure in $p(x)$:
#   clusters (k-means minimises within-cluster squared distance), a density (a Gaussian mixture
#   fitted by EM maximises the likelihood), a low-dimensional subspace (PCA).
# - **Reinforcement**: no data set is given. An agent acts, and *its own actions generate the
#   data* $(s_t,a_t,r_{t+1},s_{t+1})$: sequential, correlated and dependent on the current
#   policy, so not i.i.d. The feedback is *evaluative*: a scalar reward that says how good the
#   outcome was, not which action would have been right, and often only much later. The goal
#   is the largest expected return $J(\pi)=\mathbb E_\pi\big[\sum_{t\ge0}\gamma^t r_{t+1}\big]$,
#   and the agent must explore to find it. RL is not only "trial-and-error policy optimization",
#   as the notes say: there are value-based methods (Q-learning, DQN), policy-based ones
#   (policy gradient, PPO), actor-critic, and model-based ones that plan with a known or learned
#   model (dynamic programming, MCTS).
# - The notes leave out **self-supervised** learning, which makes labels from the data itself
#   (the next token for GPT, a masked token for BERT, another view of the same image for
#   contrastive encoders): a supervised loss on unlabelled data, and how every LLM is
#   pre-trained. **Semi-supervised** learning uses a few labels and many unlabelled points.
# - Two of the notes' RL examples need correcting: self-driving stacks are mostly supervised
#   perception plus imitation of human driving, with RL a small part at most; AlphaGo is
#   supervised learning on human games, then RL by self-play, then Monte-Carlo tree search at
#   play time.

# %% [markdown]
# ## Derivation
#
# ### Supervised: a classifier from labelled pairs
#
# Given $n$ i.i.d. pairs $(x_i,y_i)$ with $x_i\in\mathbb R^d$ and $y_i\in\{1,\dots,C\}$, softmax
# (multinomial logistic) regression models the class probabilities with a weight matrix
# $W\in\mathbb R^{C\times d}$ and biases $b\in\mathbb R^C$:
#
# $$
# p(y=c\mid x)=\frac{\exp(w_c^\top x+b_c)}{\sum_{c'}\exp(w_{c'}^\top x+b_{c'})}
# $$ (par-softmax)
#
# and is fitted by minimising the cross-entropy to the given labels (plus a penalty):
#
# $$
# \mathcal L(W,b)=-\frac1n\sum_{i=1}^n\log p(y_i\mid x_i)
# $$ (par-cross-entropy)
#
# The label $y_i$ tells the learner exactly which output was right for $x_i$: the gradient of
# its term in {eq}`par-cross-entropy` with respect to the scores is
# $p(\cdot\mid x_i)-e_{y_i}$ ($e_{y_i}$ the one-hot label), so each step moves the prediction
# toward the label. Other chapters treat classifiers in depth; here it is the baseline that
# sees the labels the next two learners do not.
#
# ### Unsupervised: k-means
#
# k-means looks for $K$ centres $\mu_1,\dots,\mu_K$ and an assignment $z_i\in\{1,\dots,K\}$
# of each point that minimise the *inertia*, the within-cluster sum of squares:
#
# $$
# J(\mu,z)=\sum_{i=1}^n\lVert x_i-\mu_{z_i}\rVert^2
# $$ (par-inertia)
#
# Minimising over both at once is NP-hard; Lloyd's algorithm {cite}`lloyd1982least` alternates
# two exact partial minimisations:
#
# $$
# z_i\leftarrow\arg\min_k\lVert x_i-\mu_k\rVert^2,\qquad
# \mu_k\leftarrow\frac{1}{|\{i:z_i=k\}|}\sum_{i:z_i=k}x_i
# $$ (par-lloyd)
#
# The first step minimises $J$ over $z$ with $\mu$ fixed (each point takes its nearest
# centre); the second minimises it over $\mu$ with $z$ fixed (the mean minimises a sum of
# squared distances). Neither can increase $J$, and there are finitely many assignments, so
# Lloyd's algorithm stops after finitely many steps, at a *local* minimum that depends on the
# start. Hence two remedies. k-means++ {cite}`arthur2007kmeanspp` picks the first centre
# uniformly and each next one with probability proportional to the squared distance $D(x)^2$
# to the nearest centre chosen so far,
#
# $$
# P(\text{next centre}=x_i)=\frac{D(x_i)^2}{\sum_jD(x_j)^2},
# $$ (par-kmeanspp)
#
# which spreads the start and is $O(\log K)$-competitive with the optimum in expectation. And
# `n_init` restarts keep the run with the lowest inertia.
#
# ### Unsupervised: a Gaussian mixture fitted by EM
#
# A Gaussian mixture model (GMM) is a density: $K$ Gaussians with weights $\pi_k\ge0$,
# $\sum_k\pi_k=1$, means $\mu_k$ and full covariances $\Sigma_k$,
#
# $$
# p(x\mid\theta)=\sum_{k=1}^K\pi_k\,\mathcal N(x\mid\mu_k,\Sigma_k),
# \qquad
# \ell(\theta)=\frac1n\sum_{i=1}^n\log p(x_i\mid\theta),
# $$ (par-gmm)
#
# and $\ell$, the mean log-likelihood, is what scikit-learn reports as `lower_bound_`. The EM
# algorithm {cite}`dempster1977em` treats the component $z_i$ of each point as a hidden
# variable. The **E-step** computes the posterior of $z_i$, the *responsibilities*,
#
# $$
# r_{ik}=\frac{\pi_k\,\mathcal N(x_i\mid\mu_k,\Sigma_k)}
# {\sum_j\pi_j\,\mathcal N(x_i\mid\mu_j,\Sigma_j)},
# $$ (par-e-step)
#
# and the **M-step** refits each Gaussian to the points it is responsible for, a weighted
# version of the maximum-likelihood estimates:
#
# $$
# N_k=\sum_ir_{ik},\quad \pi_k=\frac{N_k}{n},\quad
# \mu_k=\frac1{N_k}\sum_ir_{ik}x_i,\quad
# \Sigma_k=\frac1{N_k}\sum_ir_{ik}(x_i-\mu_k)(x_i-\mu_k)^\top .
# $$ (par-m-step)
#
# Why the likelihood never decreases: for any distribution $q_i$ over the components,
# Jensen's inequality gives a lower bound (the ELBO), with the gap a KL divergence,
#
# $$
# \log p(x_i\mid\theta)=\underbrace{\sum_kq_{ik}\log\frac{\pi_k\mathcal N(x_i\mid\mu_k,\Sigma_k)}
# {q_{ik}}}_{\text{ELBO}(q_i,\theta)}+\operatorname{KL}\big(q_i\,\Vert\,p(z_i\mid x_i,\theta)\big).
# $$ (par-elbo)
#
# The E-step sets $q_i$ to the posterior at $\theta^{\text{old}}$, so the KL is zero and the
# bound touches $\log p$. The M-step maximises the ELBO over $\theta$ with $q$ fixed, which is
# what {eq}`par-m-step` does. So
# $\ell(\theta^{\text{new}})\ge\text{ELBO}(q,\theta^{\text{new}})\ge
# \text{ELBO}(q,\theta^{\text{old}})=\ell(\theta^{\text{old}})$: EM climbs, like Lloyd's
# algorithm, to a local optimum that depends on the start. (scikit-learn adds a small
# `reg_covar` to the diagonal of each $\Sigma_k$, so that a component on a few points does not
# collapse to a singular covariance.)
#
# k-means is the limit of this model with $\pi_k=1/K$ and $\Sigma_k=\sigma^2I$ for all $k$ as
# $\sigma\to0$: $r_{ik}\propto\exp(-\lVert x_i-\mu_k\rVert^2/2\sigma^2)$ becomes 1 for the
# nearest centre and 0 otherwise, and the M-step's $\mu_k$ becomes Lloyd's mean
# {cite}`bishop2006pattern`. That is why k-means draws straight boundaries halfway between
# centres and fails on elongated clusters, where a GMM with full covariances does not
# (Experiment 1).
#
# ### Reinforcement: returns, values and Q-learning
#
# A Markov decision process has states $s$, actions $a$, transition probabilities
# $P(s'\mid s,a)$, rewards $r$ and a discount $\gamma\in[0,1)$. From step $t$ the agent
# collects the **return**
#
# $$
# G_t=\sum_{k=0}^{\infty}\gamma^k r_{t+k+1}=r_{t+1}+\gamma G_{t+1},
# $$ (par-return)
#
# and a policy $\pi(a\mid s)$ is good when its expected return
# $J(\pi)=\mathbb E_\pi[G_0]$ is large. For rewards $[1,1,1]$ and $\gamma=0.9$,
# $G_0=1+0.9+0.81=2.71$ (checked below). The action value $Q^\pi(s,a)=\mathbb E_\pi[G_t\mid
# s_t=s,a_t=a]$ of the best policy satisfies the Bellman optimality equation
#
# $$
# Q^*(s,a)=\sum_{s'}P(s'\mid s,a)\Big[r(s,a,s')+\gamma\max_{a'}Q^*(s',a')\Big],
# $$ (par-bellman)
#
# and acting greedily, $\pi^*(s)=\arg\max_aQ^*(s,a)$, is optimal. When $P$ and $r$ are known,
# *value iteration* applies the right-hand side as an update until it stops changing, a
# $\gamma$-contraction in the max norm, so it converges to $Q^*$ from any start:
#
# $$
# Q_{k+1}(s,a)=\sum_{s'}P(s'\mid s,a)\Big[r(s,a,s')+\gamma\max_{a'}Q_k(s',a')\Big].
# $$ (par-value-iteration)
#
# That is planning with a model (dynamic programming), not learning. Q-learning
# {cite}`watkins1992qlearning` does without the model: after each real transition
# $(s,a,r,s')$ it moves $Q(s,a)$ toward a one-sample estimate of the right-hand side of
# {eq}`par-bellman`, with a step size $\alpha$,
#
# $$
# Q(s,a)\leftarrow Q(s,a)+\alpha\Big[r+\gamma\max_{a'}Q(s',a')-Q(s,a)\Big],
# $$ (par-q-learning)
#
# with $\max_{a'}Q(s',a')=0$ when $s'$ is terminal. The update uses the greedy action at $s'$
# whatever the agent does next, so Q-learning is *off-policy*: it learns $Q^*$ while behaving
# ε-greedily (a random action with probability ε), provided every pair $(s,a)$ keeps being
# tried and the step sizes decay suitably {cite}`watkins1992qlearning`.
#
# ### Reinforcement without states: the multi-armed bandit
#
# A $K$-armed bandit is RL with one state: arm $a$ pays a random reward with unknown mean
# $\mu_a$. The agent only sees the reward of the arm it pulled, so it cannot know whether
# another arm was better without trying it: the feedback is evaluative. Its loss against an
# oracle that always pulls the best arm, $\mu^*=\max_a\mu_a$, is the (pseudo-)regret
#
# $$
# R_T=\sum_{t=1}^{T}\big(\mu^*-\mu_{a_t}\big).
# $$ (par-regret)
#
# ε-greedy pulls the arm with the best sample-mean reward, except with probability ε a
# uniformly random arm. Once the estimates have found the best arm, every step still explores
# with probability ε and then pays the average gap, so the regret grows linearly:
#
# $$
# \mathbb E[\mu^*-\mu_{a_t}]\;\to\;\varepsilon\Big(\mu^*-\frac1K\sum_a\mu_a\Big).
# $$ (par-epsilon-regret)
#
# With ε = 0 it never explores and can lock onto a bad arm forever, also linear regret; a
# decaying ε or an optimistic rule such as UCB {cite}`auer2002finite` does better, with
# regret growing like $\log T$.
#
# ### Self-supervised: labels made from the data
#
# A sequence $x_1,\dots,x_T$ with no annotation already contains $T-1$ supervised examples,
# "predict $x_t$ from $x_{<t}$", and next-token pre-training {cite}`brown2020gpt3` minimises
# the cross-entropy of {eq}`par-cross-entropy` over them:
#
# $$
# \mathcal L(\theta)=-\sum_{t=2}^{T}\log p_\theta(x_t\mid x_{<t}).
# $$ (par-next-token)
#
# Masked prediction {cite}`devlin2019bert` hides a random subset of positions and predicts
# them from both sides; contrastive learning {cite}`chen2020simple` asks two augmented views
# of the same image to map to nearby vectors. The loss is supervised, the data are not
# labelled by anyone, which is why it scales to the whole web.

# %% [markdown]
# ## Implementation from scratch
#
# ### The data: three stretched blobs
#
# One data set serves the supervised and the unsupervised examples: three Gaussian blobs
# sheared by a linear map, so that each cluster is an elongated ellipse (close to the data of
# scikit-learn's example on the assumptions of k-means). The supervised learner sees the
# labels, the clustering methods do not.

# %%
ANISOTROPIC_MAP = [[0.6, -0.6], [-0.4, 0.8]]
blob_points, blob_labels = make_blobs(n_samples=600, centers=3, random_state=170)
X_blobs = blob_points @ np.array(ANISOTROPIC_MAP)  # (600, 2): stretched, tilted clusters
y_blobs = blob_labels  # (600,): used only by the classifier and to score the clusterings
print(f"{X_blobs.shape[0]} points, {X_blobs.shape[1]} features, classes {np.bincount(y_blobs)}")

# %% [markdown]
# ### Supervised: softmax regression
#
# scikit-learn's `LogisticRegression` fits {eq}`par-softmax` by minimising
# {eq}`par-cross-entropy` with an L2 penalty; its `predict_proba` is the softmax of the
# learned scores, which the Verification section recomputes by hand.

# %%
X_train, X_test, y_train, y_test = train_test_split(
    X_blobs, y_blobs, test_size=0.5, random_state=0, stratify=y_blobs
)
classifier = LogisticRegression().fit(X_train, y_train)
test_accuracy = classifier.score(X_test, y_test)
print(f"softmax regression, test accuracy {test_accuracy:.3f}")

# %% [markdown]
# ### Unsupervised: k-means
#
# Three functions, then the estimator. `squared_distances` is the $\lVert x_i-\mu_k\rVert^2$
# table both steps of {eq}`par-lloyd` need; `kmeans_plusplus` draws the starting centres by
# {eq}`par-kmeanspp`; `lloyd` iterates {eq}`par-lloyd` with scikit-learn's stopping rule (the
# assignment did not change, or the centres moved by at most `tol` in squared norm in total).
# When a cluster loses all its points, its centre moves to the point farthest from its own
# centre, as in scikit-learn. scikit-learn's own k-means++ is a greedy variant that draws
# $2+\lfloor\ln K\rfloor$ candidates per step and keeps the best one; this one draws one, as
# in the paper.


# %%
def squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """‖x_i - μ_k‖² for every point and centre, shape (n, K)."""
    return ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)  # (n, K, d) -> (n, K)


def kmeans_plusplus(
    X: np.ndarray, n_clusters: int, random_state: np.random.RandomState
) -> np.ndarray:
    """Starting centres by D² sampling, eq. (par-kmeanspp), shape (n_clusters, d)."""
    n_samples = X.shape[0]
    centers = np.empty((n_clusters, X.shape[1]))  # (K, d)
    centers[0] = X[random_state.randint(n_samples)]  # the first one uniformly
    closest_sq = squared_distances(X, centers[:1])[:, 0]  # D(x)², (n,)
    for k in range(1, n_clusters):
        total = closest_sq.sum()
        # fewer distinct points than clusters: every D(x) is 0, so draw uniformly
        probabilities = closest_sq / total if total > 0 else np.full(n_samples, 1 / n_samples)
        centers[k] = X[random_state.choice(n_samples, p=probabilities)]
        closest_sq = np.minimum(closest_sq, squared_distances(X, centers[k : k + 1])[:, 0])
    return centers


def lloyd(
    X: np.ndarray, centers: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, float, int, list[float]]:
    """Lloyd's iterations, eq. (par-lloyd), from `centers` (K, d).

    Returns the labels (n,), the centres (K, d), the inertia, the number of iterations, and
    the inertia after every half-step (assignment, then update), to check that it never rises.
    """
    n_clusters = centers.shape[0]
    labels_old = np.full(X.shape[0], -1)
    history = []
    for _ in range(max_iter):
        distances = squared_distances(X, centers)  # (n, K)
        labels = distances.argmin(axis=1)  # eq. (par-lloyd), assignment step
        history.append(float(distances.min(axis=1).sum()))  # J(z_new, μ_old)
        one_hot = np.eye(n_clusters)[labels]  # (n, K)
        counts, sums = one_hot.sum(axis=0), one_hot.T @ X  # (K,), (K, d)
        own_distance = distances[np.arange(len(X)), labels]  # (n,)
        empty = np.flatnonzero(counts == 0)
        if empty.size and own_distance.max() > 0:  # relocate empty clusters to far points
            farthest = np.argsort(own_distance)[::-1][: empty.size]
            for cluster, point in zip(empty, farthest, strict=True):
                sums[labels[point]] -= X[point]
                counts[labels[point]] -= 1
                sums[cluster], counts[cluster] = X[point], 1
        new_centers = np.where(
            counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centers
        )  # eq. (par-lloyd), update step: the mean of each cluster
        shift = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        history.append(float(((X - centers[labels]) ** 2).sum()))  # J(z_new, μ_new)
        if np.array_equal(labels, labels_old) or shift <= tol:
            break
        labels_old = labels
    labels = squared_distances(X, centers).argmin(axis=1)  # labels that match the centres
    inertia = float(((X - centers[labels]) ** 2).sum())  # eq. (par-inertia)
    n_iter = len(history) // 2  # two half-steps per iteration
    return labels, centers, inertia, n_iter, history


# %% [markdown]
# The estimator follows `sklearn.cluster.KMeans`: the same parameters (without
# `sample_weight`, `algorithm` and `copy_x`), `fit` runs `n_init` restarts and keeps the lowest
# inertia, and the fitted attributes have the same names. `transform` gives the distances to
# the centres, and `score` is minus the inertia of new data, as in scikit-learn. Like
# scikit-learn, `tol` is relative: it is multiplied by the mean variance of the features.


# %%
class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """k-means clustering by Lloyd's algorithm, eq. (par-lloyd), with k-means++ starts.

    Parameters
    ----------
    n_clusters : int, default 8
    init : {"k-means++", "random"} or array of shape (n_clusters, n_features)
        k-means++ (eq. (par-kmeanspp)), `n_clusters` distinct points drawn uniformly, or
        given centres.
    n_init : int or "auto", default "auto"
        Restarts; the one with the lowest inertia is kept. "auto" is 1 for k-means++ and 10
        for "random", as in scikit-learn; given centres are used once.
    max_iter : int, default 300
    tol : float, default 1e-4
        Stop when the centres move by at most tol × (mean feature variance) in total.
    random_state : int, RandomState or None

    Attributes
    ----------
    cluster_centers_ : (n_clusters, n_features)
    labels_ : (n_samples,), the nearest centre of each training point
    inertia_ : float, eq. (par-inertia) on the training data
    n_iter_ : int, Lloyd iterations of the kept run
    inertia_path_ : list of the inertia after every half-step of the kept run
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | np.ndarray = "k-means++",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> "KMeans":
        X = validate_data(self, X, dtype=np.float64)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")
        random_state = check_random_state(self.random_state)
        given_centers = not isinstance(self.init, str)
        if given_centers:
            centers_init = np.array(self.init, dtype=np.float64)  # a copy
            if centers_init.shape != (self.n_clusters, X.shape[1]):
                raise ValueError(
                    f"init has shape {centers_init.shape}, expected {(self.n_clusters, X.shape[1])}"
                )
            n_init = 1
        elif self.init in ("k-means++", "random"):
            n_init = self.n_init
            if n_init == "auto":  # scikit-learn's default
                n_init = 1 if self.init == "k-means++" else 10
        else:
            raise ValueError(f"init must be 'k-means++', 'random' or an array, got {self.init!r}")
        tol = float(np.mean(np.var(X, axis=0))) * self.tol  # scikit-learn's relative tolerance
        best = None
        for _ in range(n_init):
            if given_centers:
                centers = centers_init
            elif self.init == "k-means++":
                centers = kmeans_plusplus(X, self.n_clusters, random_state)
            else:
                centers = X[random_state.choice(n_samples, self.n_clusters, replace=False)]
            run = lloyd(X, centers, self.max_iter, tol)
            if best is None or run[2] < best[2]:
                best = run
        labels, centers, inertia, n_iter, history = best
        self.labels_, self.cluster_centers_, self.inertia_ = labels, centers, inertia
        self.n_iter_, self.inertia_path_ = n_iter, history
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return squared_distances(X, self.cluster_centers_).argmin(axis=1)  # (n,)

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.sqrt(squared_distances(X, self.cluster_centers_))  # (n, K)

    def score(self, X: np.ndarray, y: None = None) -> float:
        """Minus the inertia of X with its nearest centres (higher is better)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return -float(squared_distances(X, self.cluster_centers_).min(axis=1).sum())

    @property
    def _n_features_out(self) -> int:
        return self.cluster_centers_.shape[0]


# %% [markdown]
# ### Unsupervised: a Gaussian mixture fitted by EM
#
# The estimator follows `sklearn.mixture.GaussianMixture` with full covariances (the only
# `covariance_type` here). The E-step works in logs, with the Cholesky factor $L_k$ of
# $\Sigma_k=L_kL_k^\top$: $\log\mathcal N(x\mid\mu_k,\Sigma_k)=-\tfrac12\big(d\log2\pi+
# 2\sum_j\log(L_k)_{jj}+\lVert L_k^{-1}(x-\mu_k)\rVert^2\big)$, and {eq}`par-e-step` is a
# softmax over components, computed with `logsumexp`. Like scikit-learn it starts from a
# k-means labelling (`init_params="kmeans"`, with the `KMeans` above) or random
# responsibilities, lets `weights_init`, `means_init` and `precisions_init` override the
# start, stops when the mean log-likelihood {eq}`par-gmm` changes by less than `tol`, records
# it at every iteration in `lower_bounds_`, and adds `reg_covar` to each covariance's diagonal.
# The M-step adds $10\,\epsilon_{\text{machine}}$ to each $N_k$, as scikit-learn does, so that
# a component with no responsibility does not divide by zero.


# %%
def gaussian_log_density(X: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log N(x_i | μ_k, Σ_k) for every point and component, shape (n, K)."""
    n_samples, n_features = X.shape
    log_density = np.empty((n_samples, len(means)))  # (n, K)
    for k, (mean, covariance) in enumerate(zip(means, covariances, strict=True)):
        cholesky = np.linalg.cholesky(covariance)  # L_k, (d, d), lower triangular
        whitened = solve_triangular(cholesky, (X - mean).T, lower=True)  # L⁻¹(x - μ), (d, n)
        log_det = 2 * np.log(np.diag(cholesky)).sum()  # log |Σ_k|
        log_density[:, k] = -0.5 * (
            n_features * np.log(2 * np.pi) + log_det + (whitened**2).sum(axis=0)
        )
    return log_density


def gaussian_m_step(
    X: np.ndarray, responsibilities: np.ndarray, reg_covar: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (K,), means (K, d) and covariances (K, d, d) from responsibilities (n, K),
    eq. (par-m-step), with reg_covar added to each covariance's diagonal."""
    n_features = X.shape[1]
    component_sizes = responsibilities.sum(axis=0) + 10 * np.finfo(float).eps  # N_k, (K,)
    means = responsibilities.T @ X / component_sizes[:, None]  # (K, d)
    covariances = np.empty((len(means), n_features, n_features))  # (K, d, d)
    for k, mean in enumerate(means):
        centred = X - mean  # (n, d)
        covariances[k] = (responsibilities[:, k] * centred.T) @ centred / component_sizes[k]
        covariances[k] += reg_covar * np.eye(n_features)
    weights = component_sizes / component_sizes.sum()  # π_k = N_k / n
    return weights, means, covariances


# %%
class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture with full covariances, fitted by EM, eqs. (par-e-step), (par-m-step).

    Parameters
    ----------
    n_components : int, default 1
    tol : float, default 1e-3
        Stop when the mean log-likelihood changes by less than tol.
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default 100
    n_init : int, default 1
        Restarts; the one with the highest final mean log-likelihood is kept.
    init_params : {"kmeans", "random"}, default "kmeans"
    weights_init, means_init, precisions_init : arrays or None
        Starting weights (K,), means (K, d) and precision matrices Σ⁻¹ (K, d, d).
    random_state : int, RandomState or None

    Attributes
    ----------
    weights_ (K,), means_ (K, d), covariances_ (K, d, d), precisions_ (K, d, d),
    precisions_cholesky_ (K, d, d): upper triangular U_k = L_k^{-T} with Σ_k⁻¹ = U_k U_kᵀ,
    converged_, n_iter_, lower_bound_ (mean log-likelihood at the last E-step),
    lower_bounds_ (its value at every iteration of the kept run).
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: np.ndarray | None = None,
        means_init: np.ndarray | None = None,
        precisions_init: np.ndarray | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_components = n_components
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state

    def _initial_parameters(
        self, X: np.ndarray, random_state: np.random.RandomState
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_samples = X.shape[0]
        if self.init_params == "kmeans":
            labels = KMeans(self.n_components, n_init=1, random_state=random_state).fit(X).labels_
            responsibilities = np.eye(self.n_components)[labels]  # (n, K), one-hot
        elif self.init_params == "random":
            responsibilities = random_state.uniform(size=(n_samples, self.n_components))
            responsibilities /= responsibilities.sum(axis=1, keepdims=True)
        else:
            raise ValueError(f"init_params must be 'kmeans' or 'random', not {self.init_params!r}")
        weights, means, covariances = gaussian_m_step(X, responsibilities, self.reg_covar)
        if self.weights_init is not None:
            weights = np.array(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            means = np.array(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            covariances = np.linalg.inv(np.asarray(self.precisions_init, dtype=np.float64))
        return weights, means, covariances

    def _e_step(
        self, X: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """Log-responsibilities (n, K), eq. (par-e-step), and the mean log-likelihood."""
        try:
            weighted = gaussian_log_density(X, means, covariances) + np.log(weights)  # (n, K)
        except np.linalg.LinAlgError as error:
            raise ValueError(
                "a covariance matrix is singular: decrease n_components, increase reg_covar "
                "or scale the data"
            ) from error
        log_likelihood = logsumexp(weighted, axis=1)  # log p(x_i | θ), (n,)
        return weighted - log_likelihood[:, None], float(log_likelihood.mean())

    def fit(self, X: np.ndarray, y: None = None) -> "GaussianMixture":
        self.fit_predict(X)
        return self

    def fit_predict(self, X: np.ndarray, y: None = None) -> np.ndarray:
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if X.shape[0] < self.n_components:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_components={self.n_components}"
            )
        random_state = check_random_state(self.random_state)
        best = None
        for _ in range(self.n_init):
            parameters = self._initial_parameters(X, random_state)
            lower_bound, lower_bounds, converged = -np.inf, [], False
            for _ in range(self.max_iter):
                previous = lower_bound
                log_responsibilities, lower_bound = self._e_step(X, *parameters)  # E-step
                parameters = gaussian_m_step(X, np.exp(log_responsibilities), self.reg_covar)
                lower_bounds.append(lower_bound)
                if abs(lower_bound - previous) < self.tol:
                    converged = True
                    break
            if best is None or lower_bound > best[0]:
                best = (lower_bound, parameters, len(lower_bounds), lower_bounds, converged)
        self.lower_bound_, parameters, self.n_iter_, self.lower_bounds_, self.converged_ = best
        if not self.converged_:
            warnings.warn(
                "EM did not converge: increase max_iter or tol", ConvergenceWarning, stacklevel=2
            )
        self.weights_, self.means_, self.covariances_ = parameters
        identity = np.eye(X.shape[1])
        self.precisions_cholesky_ = np.stack(
            [solve_triangular(np.linalg.cholesky(c), identity, lower=True).T for c in parameters[2]]
        )  # U_k = L_k^{-T}, (K, d, d)
        self.precisions_ = self.precisions_cholesky_ @ self.precisions_cholesky_.transpose(0, 2, 1)
        return self.predict(X)  # a last E-step, so that fit_predict(X) = fit(X).predict(X)

    def _log_responsibilities(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        weighted = gaussian_log_density(X, self.means_, self.covariances_) + np.log(self.weights_)
        log_likelihood = logsumexp(weighted, axis=1)  # (n,)
        return weighted - log_likelihood[:, None], log_likelihood

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.exp(self._log_responsibilities(X)[0])  # r_ik, (n, K)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._log_responsibilities(X)[0].argmax(axis=1)  # (n,)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return self._log_responsibilities(X)[1]  # log p(x_i | θ), (n,)

    def score(self, X: np.ndarray, y: None = None) -> float:
        return float(self.score_samples(X).mean())  # ℓ(θ) on X, eq. (par-gmm)


# %% [markdown]
# ### Reinforcement: returns, the cliff walk, value iteration and Q-learning
#
# {eq}`par-return` twice: as the sum, and by the backward recursion
# $G_t=r_{t+1}+\gamma G_{t+1}$, which gives every $G_t$ of an episode in one pass.


# %%
def discounted_return(rewards: list[float], gamma: float) -> float:
    """G_0 = Σ_k γ^k r_{k+1}, eq. (par-return), for rewards [r_1, r_2, ...]."""
    return float(sum(gamma**k * reward for k, reward in enumerate(rewards)))


def returns_to_go(rewards: list[float], gamma: float) -> np.ndarray:
    """[G_0, G_1, ...] by G_t = r_{t+1} + γ G_{t+1}, eq. (par-return), backwards from the end."""
    returns, following = np.empty(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        following = rewards[t] + gamma * following
        returns[t] = following
    return returns


# %% [markdown]
# The environment is the cliff walk of {cite:t}`sutton2018reinforcement` (Example 6.6): a
# $4\times12$ grid, start at the bottom-left, goal at the bottom-right, and the cells between
# them a cliff. Every move costs $-1$; stepping into the cliff costs $-100$ and sends the
# agent back to the start; a move off the grid leaves it in place; entering the goal ends the
# episode. It is deterministic, so a model is a table: `next_state[s, a]`, `reward[s, a]` and
# `ends[s, a]` (the move enters the goal). The book uses no discount; here $\gamma=0.9$, the
# errata's value, which also makes every update below a contraction.

# %%
GRID_ROWS, GRID_COLS = 4, 12
ACTION_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left
ACTION_ARROWS = ("↑", "→", "↓", "←")


def cliff_walk() -> dict[str, np.ndarray | int]:
    """The cliff walk as tables over states s = row * GRID_COLS + col and the 4 actions."""
    n_states = GRID_ROWS * GRID_COLS
    start, goal = (GRID_ROWS - 1) * GRID_COLS, GRID_ROWS * GRID_COLS - 1
    is_cliff = np.zeros(n_states, bool)
    is_cliff[start + 1 : goal] = True  # the bottom row between start and goal
    next_state = np.zeros((n_states, 4), int)  # (S, A)
    reward = np.full((n_states, 4), -1.0)  # (S, A)
    for s in range(n_states):
        row, col = divmod(s, GRID_COLS)
        for a, (d_row, d_col) in enumerate(ACTION_MOVES):
            new_row = min(max(row + d_row, 0), GRID_ROWS - 1)  # off the grid: stay
            new_col = min(max(col + d_col, 0), GRID_COLS - 1)
            next_state[s, a] = new_row * GRID_COLS + new_col
            if is_cliff[next_state[s, a]]:
                next_state[s, a], reward[s, a] = start, -100.0
    playable = ~is_cliff
    playable[goal] = False  # states where the agent can stand and act
    ends = next_state == goal  # (S, A)
    return dict(
        next_state=next_state, reward=reward, ends=ends, start=start, goal=goal, playable=playable
    )


CLIFF = cliff_walk()
GAMMA = 0.9


# %% [markdown]
# Value iteration {eq}`par-value-iteration` on the known model gives $Q^*$, the reference for
# Q-learning. With deterministic moves the sum over $s'$ has one term.


# %%
def value_iteration(
    mdp: dict[str, np.ndarray | int], gamma: float, tol: float = 1e-12
) -> tuple[np.ndarray, int]:
    """Q* of a deterministic MDP by eq. (par-value-iteration), shape (S, A), and the sweeps."""
    q = np.zeros(mdp["reward"].shape)  # (S, A)
    for sweep in range(1, 10_000):
        future = np.where(mdp["ends"], 0.0, q.max(axis=1)[mdp["next_state"]])  # (S, A)
        q_new = mdp["reward"] + gamma * future
        if np.abs(q_new - q).max() < tol:
            return q_new, sweep
        q = q_new
    raise RuntimeError("value iteration did not converge")


def policy_values(mdp: dict[str, np.ndarray | int], policy: np.ndarray, gamma: float) -> np.ndarray:
    """V^π (S,) of a deterministic policy (S,), by solving V = r_π + γ P_π V exactly."""
    n_states = len(policy)
    states = np.arange(n_states)
    transition = np.zeros((n_states, n_states))  # P_π, (S, S); rows into the goal stay zero
    keeps_going = ~mdp["ends"][states, policy]
    transition[states[keeps_going], mdp["next_state"][states, policy][keeps_going]] = 1.0
    rewards = mdp["reward"][states, policy]  # r_π, (S,)
    return np.linalg.solve(np.eye(n_states) - gamma * transition, rewards)


# %% [markdown]
# Q-learning {eq}`par-q-learning` with an ε-greedy behaviour policy. Each episode starts in a
# random playable state ("exploring starts"), so that every pair $(s,a)$ keeps being tried,
# and is cut after 200 steps. The table is saved after every episode for the learning curves.


# %%
def q_learning_update(
    q: np.ndarray,
    s: int,
    a: int,
    reward: float,
    s_next: int,
    ends: bool,
    alpha: float,
    gamma: float,
) -> None:
    """One step of eq. (par-q-learning) on the table q (S, A), in place."""
    target = reward + (0.0 if ends else gamma * q[s_next].max())
    q[s, a] += alpha * (target - q[s, a])


def q_learning(
    mdp: dict[str, np.ndarray | int],
    n_episodes: int,
    epsilon: float,
    alpha: float,
    gamma: float,
    rng: np.random.Generator,
    max_steps: int = 200,
) -> np.ndarray:
    """Tabular Q-learning with ε-greedy behaviour and exploring starts.

    Returns the Q-table after every episode, shape (n_episodes, S, A).
    """
    q = np.zeros(mdp["reward"].shape)  # (S, A), Q_0 = 0
    playable_states = np.flatnonzero(mdp["playable"])
    snapshots = np.empty((n_episodes, *q.shape))
    for episode in range(n_episodes):
        s = int(rng.choice(playable_states))
        for _ in range(max_steps):
            explore = rng.random() < epsilon
            a = int(rng.integers(4)) if explore else int(q[s].argmax())  # ε-greedy
            s_next, ends = int(mdp["next_state"][s, a]), bool(mdp["ends"][s, a])
            q_learning_update(q, s, a, float(mdp["reward"][s, a]), s_next, ends, alpha, gamma)
            if ends:
                break
            s = s_next
        snapshots[episode] = q
    return snapshots


def greedy_return(
    mdp: dict[str, np.ndarray | int], q: np.ndarray, gamma: float, max_steps: int = 100
) -> float:
    """Discounted return G_0 of the greedy policy of q from the start (cut after max_steps)."""
    s, rewards = int(mdp["start"]), []
    for _ in range(max_steps):
        a = int(q[s].argmax())
        rewards.append(float(mdp["reward"][s, a]))
        if mdp["ends"][s, a]:
            break
        s = int(mdp["next_state"][s, a])
    return discounted_return(rewards, gamma)


# %% [markdown]
# ### Reinforcement: an ε-greedy bandit
#
# Many independent bandit problems run side by side as the rows of one array: each row has
# its own arm means, drawn from $\mathcal N(0,1)$, rewards $\mathcal N(\mu_a,1)$, and
# sample-mean estimates updated incrementally, $\hat\mu_a\leftarrow\hat\mu_a+(r-\hat\mu_a)/N_a$
# (the testbed of {cite:t}`sutton2018reinforcement`, Section 2.3). The function returns the
# per-step regret {eq}`par-regret` of every run.


# %%
def epsilon_greedy_regret(
    arm_means: np.ndarray, epsilon: float, n_steps: int, rng: np.random.Generator
) -> np.ndarray:
    """Per-step regret μ* - μ_{a_t} of ε-greedy on R bandits with means (R, K): (n_steps, R)."""
    n_runs, n_arms = arm_means.shape
    runs = np.arange(n_runs)
    estimates = np.zeros((n_runs, n_arms))  # μ̂, (R, K)
    pulls = np.zeros((n_runs, n_arms))  # N_a, (R, K)
    best_mean = arm_means.max(axis=1)  # μ*, (R,)
    regret = np.empty((n_steps, n_runs))
    for t in range(n_steps):
        explore = rng.random(n_runs) < epsilon
        arms = np.where(explore, rng.integers(n_arms, size=n_runs), estimates.argmax(axis=1))
        rewards = arm_means[runs, arms] + rng.standard_normal(n_runs)  # (R,)
        pulls[runs, arms] += 1
        estimates[runs, arms] += (rewards - estimates[runs, arms]) / pulls[runs, arms]
        regret[t] = best_mean - arm_means[runs, arms]  # eq. (par-regret), one term
    return regret


# %% [markdown]
# ### Self-supervised: turning a sequence into examples
#
# Five lines make the labels of {eq}`par-next-token` and of masked prediction out of a
# sentence that nobody annotated.

# %%
tokens = "the cat sat on the mat".split()
next_token_pairs = [(tokens[:t], tokens[t]) for t in range(1, len(tokens))]  # (x_<t, x_t)
masked_positions = np.sort(rng.choice(len(tokens), size=2, replace=False))
masked_input = ["[MASK]" if i in masked_positions else w for i, w in enumerate(tokens)]
masked_targets = {int(i): tokens[i] for i in masked_positions}
for context, target in next_token_pairs[:3]:
    print(f"input {' '.join(context)!r:<22} -> target {target!r}")
print(f"masked input {' '.join(masked_input)!r} -> targets {masked_targets}")
check_equal("next-token examples from T tokens vs T - 1", len(next_token_pairs), len(tokens) - 1)

# %% [markdown]
# ## Verification
#
# ### The classifier's probabilities are a softmax of linear scores
#
# `predict_proba` must equal {eq}`par-softmax` computed from `coef_` and `intercept_`.

# %%
scores = X_test @ classifier.coef_.T + classifier.intercept_  # w_c·x + b_c, (n, C)
softmax = np.exp(scores - logsumexp(scores, axis=1, keepdims=True))  # eq. (par-softmax)
check_close(
    "softmax of the scores vs LogisticRegression.predict_proba",
    softmax,
    classifier.predict_proba(X_test),
    atol=1e-12,
)

# %% [markdown]
# ### k-means against scikit-learn from the same starting centres
#
# Given the same initial centres, Lloyd's algorithm is deterministic, so ours and
# `sklearn.cluster.KMeans(init=centres, n_init=1, algorithm="lloyd")` must produce the same
# labels, the same number of iterations, and centres and inertia equal up to rounding
# (scikit-learn subtracts the data mean first and sums in a different order). Two starts:
# three data points picked by k-means++ on the stretched blobs, and a deliberately poor start
# of five centres on a line.

# %%
poor_start = np.column_stack([np.linspace(-8, 4, 5), np.zeros(5)])  # (5, 2)
kmeanspp_start = kmeans_plusplus(X_blobs, 3, np.random.RandomState(1))  # (3, 2)
for name, start in [("k-means++ start", kmeanspp_start), ("poor start", poor_start)]:
    ours = KMeans(len(start), init=start).fit(X_blobs)
    reference = SklearnKMeans(len(start), init=start, n_init=1, algorithm="lloyd").fit(X_blobs)
    check_equal(f"k-means, {name}: labels vs sklearn", ours.labels_, reference.labels_)
    check_equal(f"k-means, {name}: iterations vs sklearn", ours.n_iter_, reference.n_iter_)
    check_close(
        f"k-means, {name}: centres vs sklearn",
        ours.cluster_centers_,
        reference.cluster_centers_,
        atol=1e-12,
    )
    check_close(
        f"k-means, {name}: inertia vs sklearn",
        ours.inertia_,
        reference.inertia_,
        atol=0.0,
        rtol=1e-12,
    )

# %% [markdown]
# Each half-step of {eq}`par-lloyd` is an exact minimisation, so the inertia recorded after
# every half-step of the poor start can only go down (up to rounding, hence the $10^{-9}$
# relative slack):

# %%
path = np.array(KMeans(5, init=poor_start).fit(X_blobs).inertia_path_)
largest_rise = float(np.max(np.diff(path) / path[:-1]))
check_true(
    "k-means inertia never rises over the half-steps",
    bool(largest_rise <= 1e-9),
    f"{len(path)} half-steps, {path[0]:.1f} -> {path[-1]:.1f}, largest relative rise "
    f"{largest_rise:.1e}",
)

# %% [markdown]
# With random starts the two implementations draw different centres, so only the outcome of
# the restarts can be compared: ten k-means++ restarts of ours and of scikit-learn's on the
# stretched blobs must find the same partition (adjusted Rand index 1, defined in Experiment
# 1) and the same inertia. This needs a tight `tol`: with the default $10^{-4}$ a run may
# stop while its centres still creep toward the fixed point, and two runs that found the same
# partition stop at slightly different inertias.

# %%
ours_restarts = KMeans(3, n_init=10, tol=1e-10, random_state=0).fit(X_blobs)
sklearn_restarts = SklearnKMeans(3, n_init=10, tol=1e-10, random_state=0).fit(X_blobs)
check_close(
    "k-means, 10 k-means++ restarts: ARI between our partition and sklearn's",
    adjusted_rand_score(ours_restarts.labels_, sklearn_restarts.labels_),
    1.0,
    atol=1e-12,
)
check_close(
    "k-means, 10 k-means++ restarts: best inertia vs sklearn's",
    ours_restarts.inertia_,
    sklearn_restarts.inertia_,
    atol=0.0,
    rtol=1e-12,
)

# %% [markdown]
# ### The Gaussian mixture against scikit-learn from the same start
#
# With `weights_init`, `means_init` and `precisions_init` given, the start no longer depends
# on the random k-means initialisation, and EM is deterministic: both implementations must
# follow the same path. The start is deliberately rough (three data points as means, unit
# covariances, equal weights), so that EM takes many iterations. The comparison covers the
# mean log-likelihood at every iteration, the iteration count and the fitted parameters.

# %%
gmm_start = dict(
    weights_init=np.full(3, 1 / 3),
    means_init=X_blobs[[0, 1, 2]],  # (3, 2)
    precisions_init=np.stack([np.eye(2)] * 3),  # (3, 2, 2)
)
ours_gmm = GaussianMixture(3, **gmm_start).fit(X_blobs)
sklearn_gmm = SklearnGaussianMixture(3, covariance_type="full", **gmm_start).fit(X_blobs)
check_equal("GMM: EM iterations vs sklearn", ours_gmm.n_iter_, sklearn_gmm.n_iter_)
check_close(
    "GMM: mean log-likelihood at every iteration vs sklearn",
    np.array(ours_gmm.lower_bounds_),
    np.array(sklearn_gmm.lower_bounds_),
    atol=1e-9,
)
for attribute in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
    check_close(
        f"GMM: {attribute} vs sklearn",
        getattr(ours_gmm, attribute),
        getattr(sklearn_gmm, attribute),
        atol=1e-7,
    )
check_close(
    "GMM: predict_proba vs sklearn",
    ours_gmm.predict_proba(X_blobs),
    sklearn_gmm.predict_proba(X_blobs),
    atol=1e-7,
)
check_close(
    "GMM: score_samples vs sklearn",
    ours_gmm.score_samples(X_blobs),
    sklearn_gmm.score_samples(X_blobs),
    atol=1e-7,
)

# %% [markdown]
# The tolerances: the two codes compute the same formulas in a different order (our
# densities go through a Cholesky factor of each covariance, scikit-learn's through one of
# each precision matrix), so every iteration differs by rounding, about $10^{-15}$ relative.
# EM can amplify such differences over many iterations, hence the looser tolerance on the
# parameters; the printed errors show how far below it they stay on this run.
#
# EM's monotone climb {eq}`par-elbo` is checked on the same run, and on a run started from
# random responsibilities with a hundred iterations (no early stop):

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol = 0: it runs all 100 iterations
    long_run = GaussianMixture(3, init_params="random", tol=0.0, random_state=0).fit(X_blobs)
for name, bounds in [
    ("rough start", ours_gmm.lower_bounds_),
    ("random start", long_run.lower_bounds_),
]:
    steps = np.diff(bounds)
    check_true(
        f"GMM, {name}: mean log-likelihood never decreases",
        bool(steps.min() >= -1e-12),
        f"{len(bounds)} iterations, {bounds[0]:.4f} -> {bounds[-1]:.4f}, "
        f"smallest change {steps.min():.1e}",
    )

# %% [markdown]
# ### The return and the errata's example
#
# Rewards $[1,1,1]$ and $\gamma=0.9$ give $G_0=1+0.9+0.81=2.71$; the backward recursion of
# {eq}`par-return` must give the same $G_0$ and, for every $t$, the sum from $t$ on.

# %%
check_close(
    "G_0 of rewards [1, 1, 1] with γ = 0.9", discounted_return([1, 1, 1], 0.9), 2.71, atol=1e-12
)
episode_rewards = list(rng.normal(size=20))
check_close(
    "G_t by the recursion vs the sum, for all t of a 20-step episode",
    returns_to_go(episode_rewards, 0.9),
    np.array([discounted_return(episode_rewards[t:], 0.9) for t in range(20)]),
    atol=1e-12,
)

# %% [markdown]
# ### Value iteration against an exact solve and a closed form
#
# Two independent checks of $Q^*$. First, the value of the greedy policy of $Q^*$, computed
# by solving the linear system $V=r_\pi+\gamma P_\pi V$ (no iteration), must equal
# $\max_aQ^*(s,a)$ in every state. Second, every move costs $-1$ until the goal, so the best
# policy takes a shortest safe path, and from the start that is $1+11+1=13$ moves along the
# cliff's edge: $V^*(\text{start})=-\sum_{k=0}^{12}\gamma^k=-(1-\gamma^{13})/(1-\gamma)$.

# %%
Q_STAR, n_sweeps = value_iteration(CLIFF, GAMMA)
optimal_policy = Q_STAR.argmax(axis=1)  # (S,)
playable = CLIFF["playable"]
check_close(
    "V of the greedy policy of Q* (linear solve) vs max_a Q*",
    policy_values(CLIFF, optimal_policy, GAMMA)[playable],
    Q_STAR.max(axis=1)[playable],
    atol=1e-10,
)
check_close(
    "V*(start) vs -(1 - γ^13) / (1 - γ)",
    Q_STAR[CLIFF["start"]].max(),
    -(1 - GAMMA**13) / (1 - GAMMA),
    atol=1e-10,
)
print(f"value iteration: {n_sweeps} sweeps; V*(start) = {Q_STAR[CLIFF['start']].max():.4f}")

# %% [markdown]
# The check that Q-learning finds $Q^*$ is part of Experiment 2.
#
# ## Experiments
#
# ### 1. One data set, three kinds of feedback
#
# The classifier (with labels), k-means and the GMM (without), all with three clusters, on
# the stretched blobs. The clusterings are scored against the hidden labels by the adjusted
# Rand index (ARI) {cite}`hubert1985comparing`: 1 for the same partition up to renaming the
# clusters, about 0 for a random one. Both clusterers get ten restarts.

# %%
kmeans_fit = KMeans(3, n_init=10, random_state=0).fit(X_blobs)
gmm_fit = GaussianMixture(3, n_init=10, random_state=0).fit(X_blobs)
kmeans_ari = adjusted_rand_score(y_blobs, kmeans_fit.labels_)
gmm_ari = adjusted_rand_score(y_blobs, gmm_fit.predict(X_blobs))
print(f"softmax regression (labels): test accuracy {test_accuracy:.3f}")
print(f"k-means (no labels): ARI {kmeans_ari:.3f}, inertia {kmeans_fit.inertia_:.1f}")
print(f"GMM (no labels): ARI {gmm_ari:.3f}, mean log-likelihood {gmm_fit.lower_bound_:.3f}")
gmm_partition = gmm_fit.predict(X_blobs)  # (600,)
gmm_labels_inertia = sum(
    ((X_blobs[gmm_partition == k] - X_blobs[gmm_partition == k].mean(axis=0)) ** 2).sum()
    for k in range(3)
)  # eq. (par-inertia) of the GMM's partition, each cluster at its own mean
check_true("k-means misses the stretched clusters", bool(kmeans_ari < 0.8), f"ARI {kmeans_ari:.3f}")
check_true("the GMM recovers them", bool(gmm_ari > 0.95), f"ARI {gmm_ari:.3f}")
check_true(
    "k-means is not stuck: the true partition has a larger inertia than its own",
    bool(gmm_labels_inertia > kmeans_fit.inertia_),
    f"{gmm_labels_inertia:.1f} (GMM's partition) > {kmeans_fit.inertia_:.1f} (k-means')",
)


# %% [markdown]
# The last check is the point: k-means is not failing to optimise, it optimises the wrong
# objective for these data. The GMM's partition, almost the true one, has a *larger* inertia
# than the one k-means finds, so no restart of k-means would pick it.


# %%
def draw_covariance_ellipse(
    ax: plt.Axes, mean: np.ndarray, covariance: np.ndarray, colour: str
) -> None:
    """The 2-standard-deviation ellipse of a 2-D Gaussian."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    angle = np.degrees(np.arctan2(eigenvectors[1, 1], eigenvectors[0, 1]))
    width, height = 2 * 2 * np.sqrt(eigenvalues[::-1])  # 2 σ on each side
    ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, color=colour, lw=2))


fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True)
grid_x, grid_y = np.meshgrid(np.linspace(-6, 4, 300), np.linspace(-4, 5, 300))
grid_points = np.column_stack([grid_x.ravel(), grid_y.ravel()])  # (90000, 2)
regions = classifier.predict(grid_points).reshape(grid_x.shape)
axes[0].contourf(
    grid_x, grid_y, regions, levels=[-0.5, 0.5, 1.5, 2.5], colors=PALETTE[:3], alpha=0.15
)
panels = [
    (axes[0], y_blobs, f"Supervised: softmax regression\ntest accuracy {test_accuracy:.1%}"),
    (axes[1], kmeans_fit.labels_, f"Unsupervised: k-means\nARI {kmeans_ari:.2f}"),
    (axes[2], gmm_partition, f"Unsupervised: GMM (full covariances)\nARI {gmm_ari:.2f}"),
]
for ax, labels, title in panels:
    ax.scatter(*X_blobs.T, c=[PALETTE[k] for k in labels], s=8, alpha=0.7)
    ax.set(xlabel="$x_1$", title=title)
axes[0].set_ylabel("$x_2$")
axes[1].scatter(*kmeans_fit.cluster_centers_.T, marker="x", s=120, c="k", label="centres")
axes[1].legend(loc="upper right")
for mean, covariance, colour in zip(gmm_fit.means_, gmm_fit.covariances_, PALETTE, strict=False):
    draw_covariance_ellipse(axes[2], mean, covariance, colour)
axes[2].plot([], [], color="k", lw=2, label="2σ ellipses")
axes[2].legend(loc="upper right")
fig.suptitle(
    f"Without labels, k-means cuts the stretched clusters (ARI {kmeans_ari:.2f}); "
    f"a GMM with full covariances recovers them (ARI {gmm_ari:.2f})"
)
plt.show()

# %% [markdown]
# The colours of the two clustering panels are arbitrary cluster numbers; the ARI does not
# depend on them. Both estimators follow scikit-learn's API, so model selection works as for
# any estimator. `cross_val_score` on a `GaussianMixture` uses its `score`, the held-out mean
# log-likelihood, which can choose the number of components: it climbs steeply up to the
# true number and then flattens (extra components fit noise, and the likelihood can even
# creep up), so the rule is the fewest components within 0.01 nats per point of the best.
# And `KMeans` goes into a `Pipeline` after a scaler.

# %%
held_out_log_likelihood = {
    k: cross_val_score(GaussianMixture(k, random_state=0), X_blobs, cv=5).mean()
    for k in range(1, 6)
}
for k, value in held_out_log_likelihood.items():
    print(f"{k} components: held-out mean log-likelihood {value:.3f}")
best_value = max(held_out_log_likelihood.values())
smallest_good_k = min(k for k, v in held_out_log_likelihood.items() if v > best_value - 0.01)
check_equal("fewest components within 0.01 of the best held-out likelihood", smallest_good_k, 3)
pipeline_labels = make_pipeline(StandardScaler(), KMeans(3, random_state=0)).fit_predict(X_blobs)
pipeline_ari = adjusted_rand_score(y_blobs, pipeline_labels)
print(f"StandardScaler + KMeans in a Pipeline: ARI {pipeline_ari:.3f}")

# %% [markdown]
# ### 2. Q-learning on the cliff walk, checked against $Q^*$
#
# Q-learning with $\alpha=0.5$ for 1500 episodes, with two behaviour policies: ε = 0.1 and
# ε = 0.5. After every episode, two curves: the discounted return of the *greedy* policy of
# the current table from the start (what the agent would get if it stopped exploring), and
# the largest error $\max_{s,a}|Q(s,a)-Q^*(s,a)|$ over playable states.

# %%
N_EPISODES, ALPHA = 1500, 0.5
EPSILONS = (0.1, 0.5)
q_histories = {eps: q_learning(CLIFF, N_EPISODES, eps, ALPHA, GAMMA, rng) for eps in EPSILONS}
greedy_returns = {
    eps: np.array([greedy_return(CLIFF, q, GAMMA) for q in history])
    for eps, history in q_histories.items()
}
q_errors = {
    eps: np.abs(history - Q_STAR)[:, playable].max(axis=(1, 2))
    for eps, history in q_histories.items()
}
optimal_return = float(Q_STAR[CLIFF["start"]].max())
for eps in EPSILONS:
    first_optimal = int(np.argmax(np.isclose(greedy_returns[eps], optimal_return)))
    print(
        f"ε = {eps}: greedy return optimal from episode {first_optimal + 1}; "
        f"final max |Q - Q*| = {q_errors[eps][-1]:.1e}"
    )

# %% [markdown]
# The claims, for the final tables: with ε = 0.5, every pair is tried often, and $Q$ has
# converged to $Q^*$; with either ε the greedy policy of $Q$ is optimal in every playable
# state. Optimal means $Q^*(s,\arg\max_aQ(s,a))=V^*(s)$: several actions can tie (where going
# right or down first gives equally short paths), so the greedy actions need not be the same
# as those of `Q_STAR.argmax`.

# %%
check_true(
    "ε = 0.5: Q-learning's Q equals Q*",
    bool(q_errors[0.5][-1] < 1e-6),
    f"max |Q - Q*| = {q_errors[0.5][-1]:.1e} < 1e-6",
)
for eps in EPSILONS:
    greedy_actions = q_histories[eps][-1].argmax(axis=1)  # (S,)
    value_of_greedy = Q_STAR[np.arange(len(greedy_actions)), greedy_actions]
    check_close(
        f"ε = {eps}: Q*(s, greedy action of Q) vs V*(s), all playable s",
        value_of_greedy[playable],
        Q_STAR.max(axis=1)[playable],
        atol=1e-9,
    )

# %%
fig, (ax_policy, ax_return, ax_error) = plt.subplots(
    1, 3, figsize=(14, 4), gridspec_kw=dict(width_ratios=[1.5, 1, 1])
)
final_q = q_histories[0.5][-1]
cells = np.zeros((GRID_ROWS, GRID_COLS))
cells[-1, 1:-1] = 1  # the cliff
ax_policy.imshow(cells, cmap="Greys", vmin=0, vmax=3)
state, path_cells = CLIFF["start"], [divmod(CLIFF["start"], GRID_COLS)]
while state != CLIFF["goal"]:
    state = int(CLIFF["next_state"][state, final_q[state].argmax()])
    path_cells.append(divmod(state, GRID_COLS))
path_rows, path_cols = np.array(path_cells).T
ax_policy.plot(path_cols, path_rows, color=PALETTE[1], lw=6, alpha=0.35, zorder=1)
for state in np.flatnonzero(CLIFF["playable"]):
    row, col = divmod(state, GRID_COLS)
    ax_policy.text(col, row, ACTION_ARROWS[final_q[state].argmax()], ha="center", va="center")
for state, letter in [(CLIFF["start"], "S"), (CLIFF["goal"], "G")]:
    row, col = divmod(state, GRID_COLS)
    ax_policy.text(col - 0.4, row + 0.4, letter, ha="left", va="bottom", fontsize=8, weight="bold")
ax_policy.text(5.5, 3, "cliff: -100, back to S", ha="center", va="center", color="w")
ax_policy.set_xticks(np.arange(-0.5, GRID_COLS), minor=True)
ax_policy.set_yticks(np.arange(-0.5, GRID_ROWS), minor=True)
ax_policy.grid(True, which="minor", color="0.8", lw=0.6)
ax_policy.grid(False, which="major")
ax_policy.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
ax_policy.set_title(f"Greedy actions after {N_EPISODES} episodes (ε = 0.5),\npath from S in orange")
episodes = np.arange(1, N_EPISODES + 1)
for eps, colour in zip(EPSILONS, PALETTE, strict=False):
    ax_return.plot(episodes, greedy_returns[eps], color=colour, label=f"ε = {eps}")
    ax_error.semilogy(episodes, q_errors[eps], color=colour, label=f"ε = {eps}")
ax_return.axhline(optimal_return, color="k", ls=":", label=f"V*(start) = {optimal_return:.2f}")
ax_return.set(
    xscale="log",
    ylim=(-11, -7),
    xlabel="episode",
    ylabel="return of the greedy policy",
    title="The policy is right early",
)
ax_return.legend(loc="lower right")
ax_error.set(xscale="log", xlabel="episode", ylabel="max |Q - Q*|", title="The values take longer")
ax_error.legend(loc="lower left")
fig.suptitle(
    "Q-learning finds the optimal cliff-edge path; with more exploration Q itself converges to Q*"
)
plt.show()

# %% [markdown]
# Until the table knows the way, the greedy policy walks into a wall or in a loop forever and
# collects $-1$ per step, $-1/(1-\gamma)=-10$ in the limit (the evaluation cuts it after 100
# steps); a greedy policy that walks into the cliff would fall far below the axis. With
# ε = 0.1 the agent rarely tries the moves a good policy never makes (walking into the cliff
# from far away, say), so their values stay wrong for long, but these are not the argmax
# anywhere and the policy is optimal anyway: control needs the ranking of the actions, not
# their values.
#
# ### 3. Exploration in a bandit: regret against ε
#
# 1000 ten-armed bandits, 1000 steps each, for ε ∈ {0, 0.01, 0.1, 0.3}. The figure shows the
# cumulative regret {eq}`par-regret` averaged over the runs.

# %%
N_BANDITS, N_ARMS, N_PULLS = 1000, 10, 1000
BANDIT_EPSILONS = (0.0, 0.01, 0.1, 0.3)
arm_means = rng.standard_normal((N_BANDITS, N_ARMS))  # μ_a, (R, K)
regrets = {eps: epsilon_greedy_regret(arm_means, eps, N_PULLS, rng) for eps in BANDIT_EPSILONS}
for eps, regret in regrets.items():
    print(
        f"ε = {eps:<4}: regret after {N_PULLS} steps {regret.sum(axis=0).mean():6.1f}, "
        f"per step over the last 200 {regret[-200:].mean():.3f}"
    )

# %% [markdown]
# The prediction {eq}`par-epsilon-regret` for the long-run per-step regret, averaged over
# the runs, against the last 200 steps: for ε = 0.3, where the best arm is almost always
# found by then, it should hold within 5 %; for smaller ε the estimates are still poorer and
# the measured regret lies above the prediction, never below.

# %%
average_gap = (arm_means.max(axis=1) - arm_means.mean(axis=1)).mean()  # E[μ* - mean μ_a]
for eps in BANDIT_EPSILONS[1:]:
    measured = regrets[eps][-200:].mean()
    print(f"ε = {eps:<4}: predicted {eps * average_gap:.3f}, measured {measured:.3f}")
check_close(
    "ε = 0.3: late per-step regret vs ε (μ* - mean μ)",
    regrets[0.3][-200:].mean(),
    0.3 * average_gap,
    atol=0.0,
    rtol=0.05,
)
final_regret = {eps: regret.sum(axis=0).mean() for eps, regret in regrets.items()}
best_eps = min(final_regret, key=final_regret.get)
check_equal("ε with the least regret after 1000 steps", best_eps, 0.1)

# %%
fig, (ax_total, ax_step) = plt.subplots(1, 2, figsize=(12, 4.2))
steps = np.arange(1, N_PULLS + 1)
window = np.ones(25) / 25  # moving average over 25 steps, for the per-step panel
for eps, colour in zip(BANDIT_EPSILONS, PALETTE, strict=False):
    mean_regret = regrets[eps].mean(axis=1)  # (T,), mean over runs
    ax_total.plot(steps, mean_regret.cumsum(), color=colour, label=f"ε = {eps}")
    smoothed = np.convolve(mean_regret, window, mode="valid")
    ax_step.plot(steps[len(window) - 1 :], smoothed, color=colour, label=f"ε = {eps}")
    if eps > 0:
        ax_step.axhline(eps * average_gap, color=colour, ls=":", lw=1.2)  # eq. (par-epsilon-regret)
ax_step.plot([], [], "k:", lw=1.2, label="ε (μ* - mean μ)")
ax_total.set(
    xlabel="step t", ylabel="cumulative regret (mean over runs)", title="Cumulative regret"
)
ax_step.set(
    xlabel="step t",
    ylabel="regret per step (mean over runs)",
    title="Per-step regret settles at ε (μ* - mean μ)",
)
ax_total.legend()
ax_step.legend(loc="upper right", ncols=2)
fig.suptitle(
    f"ε = {best_eps} has the least regret after {N_PULLS} steps: greedy locks onto a bad arm, "
    "a large ε keeps paying for exploration"
)
plt.show()
greedy_found_best = float(np.mean(regrets[0.0][-1] == 0))
check_true(
    "greedy (ε = 0) ends on a suboptimal arm in most runs",
    bool(greedy_found_best < 0.5),
    f"best arm at the last step in {greedy_found_best:.0%} of the runs",
)

# %% [markdown]
# Greedy (ε = 0) never explores: it keeps pulling whichever arm first looks good, and in most
# runs (the check above) that is not the best one, so its per-step regret stays flat and its
# regret grows linearly from the start. ε = 0.3 finds the best arm fastest, then pays
# ε(μ* - mean μ) for its exploration on every step. ε = 0.01 explores too little to have
# found the best arm in many runs after 1000 steps; its per-step regret is still falling,
# toward a floor ten times lower than that of ε = 0.1, so over a long enough horizon it
# overtakes. The lesson holds for RL in general: what data the agent sees depends on how it
# explores, a choice supervised learning never has to make.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "RL learns from sequential decision-making data." What is wrong with that?
# It hides what makes RL hard. The data are not given: the agent's own actions generate them,
# so the distribution of states shifts whenever the policy changes, consecutive samples are
# correlated (not i.i.d.), and what the agent never tries it never sees. DQN
# {cite}`mnih2015human` needed a replay buffer to break the correlation between consecutive
# samples, and a target network to keep its regression targets from moving with every update.
# Offline RL learns from a fixed log of someone else's episodes, and then the difficulty is the
# opposite one: it cannot try the actions the log lacks.
# :::
#
# :::{dropdown} Is RL "trial and error with policy optimization"?
# Only one family. *Value-based* methods learn $Q^*$ and act greedily (Q-learning, SARSA, DQN);
# *policy-based* methods follow the gradient of $J(\pi)$ (REINFORCE, PPO); *actor-critic*
# methods do both; *model-based* methods learn or are given $P$ and $r$ and plan with them
# (value iteration above, Dyna, MCTS). And with a known model there is no trial and error at
# all: value iteration computed $Q^*$ here without a single episode.
# :::
#
# :::{dropdown} Instructive vs evaluative feedback: what is the difference, concretely?
# A label says "the answer was class 3", whatever you predicted: it tells you the right output
# and, through the loss, how far you were. A reward says "you got 0.4 for the action you took":
# nothing about the other actions, so to learn that one was better the agent must try it
# (Experiment 3). Rewards can also be delayed: a chess game's reward arrives at the end, and
# the agent must work out which moves earned it (credit assignment), which {eq}`par-bellman`
# does by passing values back one step at a time.
# :::
#
# :::{dropdown} Are self-driving cars and AlphaGo examples of reinforcement learning?
# Mostly not self-driving cars: production stacks train perception (detection, segmentation,
# tracking) by supervised learning on labelled sensor data, and end-to-end driving models
# learn to imitate human drivers {cite}`bojarski2016end`, behaviour cloning, which is
# supervised learning on (observation, human action) pairs. RL appears in simulation and
# research. AlphaGo {cite}`silver2016mastering` used all three: a policy network trained by
# supervised learning on about 30 million positions from human expert games, improved by
# policy-gradient RL in self-play, a value network regressed on self-play outcomes, and
# Monte-Carlo tree search, a planner, combining both at play time.
# :::
#
# :::{dropdown} Where do self-supervised, semi-supervised and RLHF fit?
# Self-supervised learning creates the targets from the input (the next token, a masked
# token, another view of the same image), so it trains with a supervised loss on unlabelled
# data; it is how GPT-style and BERT-style models and contrastive image encoders are
# pre-trained. Semi-supervised learning combines a few labels with many unlabelled points
# (pseudo-labels, consistency between augmentations). RLHF trains a reward model by supervised
# learning on human preference pairs, then optimises the language model against it with RL
# (PPO); DPO folds both into one supervised-style loss on the preference pairs.
# :::
#
# :::{dropdown} Is k-means a special case of a Gaussian mixture?
# It is the limit of a GMM with equal weights and one shared covariance $\sigma^2I$ as
# $\sigma\to0$: the responsibilities become hard and EM becomes Lloyd's algorithm. So k-means
# assumes round clusters of similar size and spread, and draws linear boundaries halfway
# between centres (Experiment 1). It is also scale-dependent: standardise features whose
# units differ. A GMM with full covariances handles ellipses, gives soft assignments and a
# likelihood (so BIC or held-out likelihood can choose $K$), at the price of more parameters
# and singular covariances on small clusters (hence `reg_covar`).
# :::
#
# :::{dropdown} How do you choose $K$ for k-means?
# The inertia always falls as $K$ grows (to 0 at $K=n$), so it cannot be minimised over $K$.
# The usual tools are the elbow of the inertia curve, the silhouette score, the gap statistic,
# and for a GMM the BIC or the held-out log-likelihood (as `cross_val_score` did above). And
# most honestly: the $K$ that is useful for what the clusters are for.
# :::
#
# :::{dropdown} Does Q-learning converge? Why does it walk right along the cliff's edge?
# Tabular Q-learning converges to $Q^*$ with probability 1 if every pair is tried infinitely
# often and the step sizes satisfy $\sum_t\alpha_t=\infty$, $\sum_t\alpha_t^2<\infty$
# {cite}`watkins1992qlearning`; with deterministic transitions, as here, a constant $\alpha$
# suffices. It is off-policy: it learns the values of the greedy policy, the shortest path
# along the edge, while behaving ε-greedily, which sometimes steps off that edge into the
# cliff. SARSA, on-policy, learns the values of the ε-greedy behaviour itself and prefers a
# safer path a row away from the cliff {cite}`sutton2018reinforcement`. With function
# approximation (neural networks) Q-learning has no such guarantee.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Which paradigm: (a) a spam filter trained on emails that users marked as spam; (b) a news
#    site that picks which headline to show and observes whether it is clicked; (c) word2vec;
#    (d) grouping customers by purchase history?
#
#    :::{dropdown} Answer
#    (a) Supervised: the user's mark is a label. (b) A *contextual bandit*, the simplest RL:
#    the click is evaluative feedback about the headline shown only, and the site must explore
#    to learn about the others. (c) Self-supervised: the targets are the neighbouring words of
#    the text itself. (d) Unsupervised: clustering, with no labels and no feedback.
#    :::
#
# 2. One Q-learning step: $Q(s,a)=-2$, the agent receives $r=-1$ and lands in $s'$ with
#    $\max_{a'}Q(s',a')=-3$; $\alpha=0.5$, $\gamma=0.9$. What is the new $Q(s,a)$?
#
#    :::{dropdown} Answer
#    The target is $-1+0.9\cdot(-3)=-3.7$, the error $-3.7-(-2)=-1.7$, and the new value
#    $-2+0.5\cdot(-1.7)=-2.85$. The next cell applies `q_learning_update` to a two-state table.
#    :::

# %%
exercise_q = np.array([[-2.0, 0.0], [-3.0, -5.0]])  # (2 states, 2 actions)
q_learning_update(exercise_q, s=0, a=0, reward=-1.0, s_next=1, ends=False, alpha=0.5, gamma=0.9)
check_close("exercise 2: Q(s, a) after one update", exercise_q[0, 0], -2.85, atol=1e-12)

# %% [markdown]
# 3. A three-armed bandit has means $0.2$, $0.5$ and $0.8$. ε-greedy with ε = 0.1 already knows
#    which arm is best. What is its expected regret per step, and after 1000 steps?
#
#    :::{dropdown} Answer
#    By {eq}`par-epsilon-regret`: with probability 0.1 a uniform arm, whose expected gap is
#    $0.8-0.5=0.3$, so $0.1\times0.3=0.03$ per step and about 30 after 1000 steps. The next
#    cell simulates 2000 runs of 1000 steps whose greedy choice is the best arm and checks
#    the mean regret against 30.
#    :::

# %%
three_arm_means = np.array([0.2, 0.5, 0.8])
exploring = rng.random((2000, 1000)) < 0.1  # (runs, steps)
random_arms = rng.integers(3, size=(2000, 1000))
pulled = np.where(exploring, random_arms, 2)  # greedy = the best arm, index 2
regret_per_run = (0.8 - three_arm_means[pulled]).sum(axis=1)  # (runs,)
check_mean_close("exercise 3: regret over 1000 steps", regret_per_run, 30.0, z_max=4)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`sutton2018reinforcement`: Chapter 2 (bandits, ε-greedy, the 10-armed testbed),
#   Chapter 3 (returns {eq}`par-return`, Bellman optimality {eq}`par-bellman`), Section 4.4
#   (value iteration), Section 6.5 and Example 6.6 (Q-learning, the cliff walk, Q-learning
#   vs SARSA).
# - {cite:t}`watkins1992qlearning`: the Q-learning update and its convergence conditions.
# - {cite:t}`lloyd1982least` (Lloyd's algorithm); {cite:t}`arthur2007kmeanspp` (k-means++,
#   D² sampling and its $O(\log K)$ guarantee).
# - {cite:t}`dempster1977em` (the EM algorithm and its monotone likelihood);
#   {cite:t}`bishop2006pattern`, Chapter 9 (k-means, EM for Gaussian mixtures, the ELBO
#   decomposition {eq}`par-elbo`, k-means as the small-variance limit).
# - {cite:t}`sklearn2025clustering`: the `KMeans` and `GaussianMixture` pages, whose
#   parameters, stopping rules and attributes the from-scratch classes follow.
# - {cite:t}`hubert1985comparing` (the adjusted Rand index).
# - {cite:t}`auer2002finite` (UCB and logarithmic regret).
# - {cite:t}`silver2016mastering` (AlphaGo: supervised policy network, self-play RL, value
#   network, MCTS); {cite:t}`mnih2015human` (DQN: replay buffer and target network).
# - {cite:t}`bojarski2016end` (end-to-end driving by imitation of human steering).
# - {cite:t}`brown2020gpt3` (next-token pre-training), {cite:t}`devlin2019bert` (masked-token
#   pre-training), {cite:t}`chen2020simple` (contrastive self-supervised learning, SimCLR).

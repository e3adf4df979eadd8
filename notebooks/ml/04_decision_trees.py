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
# # 04. Decision trees for classification
#
# **The question.** How does a decision tree for classification choose its splits? Define the
# Gini impurity, the entropy and the information gain.
#
# **What you will be able to answer.** How CART grows a tree greedily from the impurity
# decrease, with the formulas and their maxima; why Gini and entropy work as split scores and
# the misclassification rate does not; what information gain's bias is and how gain ratio fixes
# it; how deep trees overfit and how cost-complexity pruning cuts them back.

# %%
import inspect
import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import sklearn.tree
from matplotlib.colors import ListedColormap
from matplotlib.ticker import NullFormatter
from sklearn.datasets import load_breast_cancer, make_classification, make_moons
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.trees import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    Tree,
    best_split,
    entropy,
    gini,
    grow_tree,
)

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - A classification tree cuts the feature space by recursive binary tests $x_j\le t$; each
#   leaf predicts the majority class of its training samples (and their class proportions as
#   probabilities). CART grows it **greedily**: at every node it tries every feature and every
#   threshold (midpoints between consecutive sorted values) and keeps the split with the
#   largest **weighted impurity decrease**
#   $\Delta=I(\text{parent})-\frac{N_L}{N}I(L)-\frac{N_R}{N}I(R)$, then recurses into both
#   children until a stopping rule (depth, minimum node size, purity) holds.
# - Impurity is the score, not the goal: the notes' "the goal is to measure impurity" misses
#   that the tree *maximises the decrease* of impurity, split after split.
# - **Gini** $=1-\sum_k p_k^2$ (the chance that two labels drawn from the node disagree;
#   largest, $1-1/C$, for $C$ equally frequent classes; CART's default). **Entropy**
#   $H=-\sum_k p_k\log_2 p_k$ bits (largest, $\log_2 C$, for equal classes; ID3 and C4.5).
#   The entropy decrease is the **information gain**
#   $IG=H(\text{parent})-\sum_k\frac{N_k}{N}H(\text{child}_k)$.
# - Both are strictly concave, so every split that changes the class proportions scores
#   above zero; the misclassification rate $1-\max_k p_k$ is only piecewise linear and can
#   score a clearly useful split at exactly zero.
# - Fully grown trees overfit; limit the depth or grow and then prune by cost complexity,
#   minimising $R_\alpha(T)=R(T)+\alpha|T|$ (scikit-learn's `ccp_alpha`). Information gain
#   favours attributes with many values (C4.5 divides by the split information: gain ratio).
#
# Example: a parent with classes $[5,5]$ has $H=1$ bit and Gini $0.5$; the split into
# $[4,1]$ and $[1,4]$ leaves $H=0.7219$ in each child, so $IG=0.2781$ bits, and the Gini
# decrease is $0.5-0.32=0.18$ (checked below).

# %% [markdown]
# ## Derivation
#
# ### Impurity of a node
#
# A node holds $N$ training samples, $N_k$ of class $k\in\{1,\dots,C\}$, and
# $p_k=N_k/N$. An impurity $I(p)$ is zero when the node is pure (one $p_k=1$) and largest
# when the classes are equally frequent. The three classical ones:
#
# $$
# \operatorname{Gini}(p)=1-\sum_{k=1}^{C}p_k^2=\sum_{k\ne l}p_k p_l
# $$ (tree-gini)
#
# $$
# H(p)=-\sum_{k=1}^{C}p_k\log_2 p_k \qquad (0\log 0=0)
# $$ (tree-entropy)
#
# $$
# E(p)=1-\max_k p_k
# $$ (tree-misclass)
#
# Gini is the probability that two labels drawn at random (with replacement) from the node
# differ, or the error rate of a rule that guesses a class at random in proportion to $p$;
# entropy is the average number of bits needed to encode a label of the node; $E$ is the error
# rate of predicting the majority class. Their maxima, at $p_k=1/C$: since
# $\sum_k p_k^2\ge(\sum_k p_k)^2/C=1/C$ (Cauchy–Schwarz), $\operatorname{Gini}\le1-1/C$; by
# Jensen's inequality on the concave $\log_2$, $H=\sum_k p_k\log_2(1/p_k)\le\log_2\sum_k
# p_k(1/p_k)=\log_2 C$; and $\max_k p_k\ge1/C$ gives $E\le1-1/C$. For two classes, with
# $p$ the share of class 1:
#
# $$
# \operatorname{Gini}=2p(1-p),\qquad H=-p\log_2p-(1-p)\log_2(1-p),\qquad E=\min(p,1-p).
# $$ (tree-two-class)
#
# ### The impurity decrease, and information gain
#
# A split $s=(j,t)$ sends the samples with $x_j\le t$ to the left child $L$ and the others to
# the right child $R$, with $N_L+N_R=N$. Its score is the **weighted impurity decrease**
#
# $$
# \Delta I(s)=I(p)-\frac{N_L}{N}I(p_L)-\frac{N_R}{N}I(p_R),
# $$ (tree-decrease)
#
# where $p_L,p_R$ are the children's class proportions. With the entropy, $\Delta I$ is the
# **information gain**, the mutual information between the label and the side of the split
# within the node (the notes' LaTeX for it is broken; for $K$ children in general):
#
# $$
# IG=H(\text{parent})-\sum_{k=1}^{K}\frac{N_k}{N}H(\text{child}_k).
# $$ (tree-ig)
#
# Why is $\Delta I\ge0$, and when is it zero? The parent's proportions are the mixture of its
# children's, $p=\frac{N_L}{N}p_L+\frac{N_R}{N}p_R$, so {eq}`tree-decrease` is the gap in
# Jensen's inequality $I\big(w p_L+(1-w)p_R\big)\ge wI(p_L)+(1-w)I(p_R)$ with $w=N_L/N$: it is
# non-negative for any concave $I$. Gini and entropy are **strictly** concave (Gini's Hessian
# is $-2$ times the identity; entropy's is $-\operatorname{diag}(1/p_k)/\ln2$), so the gap is
# positive whenever $p_L\ne p_R$: every split that changes the class mix is rewarded. $E$ is
# concave but piecewise linear, so the gap is exactly zero whenever $p_L$ and $p_R$ lie on the
# same linear piece, i.e. have the same majority class. A split that carves a pure node out of
# a mixed one can then score zero (Experiment 1), and a greedy tree on $E$ stalls.
#
# ### Growing the tree
#
# CART {cite}`breiman1984cart` chooses, at each node, the split with the largest decrease,
#
# $$
# (j^\star,t^\star)=\arg\max_{j,\,t}\ \Delta I(j,t)
# =\arg\min_{j,\,t}\ \big(N_L\,I(p_L)+N_R\,I(p_R)\big),
# $$ (tree-best-split)
#
# the second form because $I(p)$ and $N$ are fixed within the node. For feature $j$ only the
# order of its values matters: with the node's values sorted, $v_{(1)}\le\dots\le v_{(N)}$, a
# threshold anywhere between two consecutive distinct values gives the same partition, so
# there are at most $N-1$ candidates, and CART takes the midpoints
# $t=\tfrac12\big(v_{(i)}+v_{(i+1)}\big)$. In sorted order the left child of cut $i$ holds the
# first $i$ samples, so its class counts are a **cumulative sum** of the one-hot labels, and
# the right child's are the node's counts minus those: scoring all cuts of one feature costs
# one sort, $O(N\log N)$, not $O(N^2)$. The tree then recurses into both children and stops at
# a node that is pure, at `max_depth`, smaller than `min_samples_split`, or that cannot leave
# `min_samples_leaf` samples on each side. The greedy choice is not globally optimal (finding
# the smallest consistent tree is NP-complete {cite}`hyafil1976np`), which is why tree
# learners grow first and prune afterwards.
#
# A leaf predicts the class proportions of its training samples, $\hat p_k(\text{leaf})$, and
# the class with the largest of them.
#
# ### Feature importance
#
# scikit-learn's `feature_importances_` ("mean decrease in impurity") sums the weighted
# decreases of the splits on each feature, over the internal nodes $t$ of the tree, and
# normalises to sum to one:
#
# $$
# \operatorname{imp}(j)\ \propto\sum_{t:\ j_t=j}\big(N_t I(t)-N_{L(t)}I(L(t))
# -N_{R(t)}I(R(t))\big).
# $$ (tree-importance)
#
# ### Regression trees
#
# For a real target $y$ the leaf predicts the mean of its samples, and the impurity is the
# mean squared error around that mean, the node's variance:
#
# $$
# I_{\mathrm{SE}}(\text{node})=\frac1N\sum_{i\in\text{node}}(y_i-\bar y)^2
# =\frac1N\sum_i y_i^2-\Big(\frac1N\sum_i y_i\Big)^2.
# $$ (tree-mse)
#
# The same decrease {eq}`tree-decrease` is then the *variance reduction*, and it too can be
# scored from cumulative sums, of $1$, $y$ and $y^2$ in sorted order.
#
# ### Cost-complexity pruning
#
# Let $R(T)$ be the tree's training cost, the sum over its leaves $\tilde T$ of
# $\frac{N_\ell}{N}I(\ell)$ (CART's book uses the misclassification rate here; scikit-learn
# uses the splitting impurity), and $|\tilde T|$ the number of leaves. For $\alpha\ge0$,
#
# $$
# R_\alpha(T)=R(T)+\alpha\,|\tilde T|.
# $$ (tree-ccp)
#
# Collapsing the subtree $T_t$ under an internal node $t$ into a leaf changes $R_\alpha$ by
# $R(t)-R(T_t)-\alpha(|\tilde T_t|-1)$, which is $\le0$ once $\alpha$ reaches
#
# $$
# \alpha_{\text{eff}}(t)=\frac{R(t)-R(T_t)}{|\tilde T_t|-1}.
# $$ (tree-weakest-link)
#
# *Weakest-link pruning* repeatedly collapses the node with the smallest
# $\alpha_{\text{eff}}$; the sequence of $\alpha$s at which this happens is scikit-learn's
# `cost_complexity_pruning_path`, and `ccp_alpha` picks one tree of the sequence (chosen by
# cross-validation) {cite}`hastie2009elements,sklearn2025tree`.

# %% [markdown]
# ## Implementation from scratch
#
# The tree lives in the package, `notebook_utils.trees`, because the next chapter builds random
# forests and gradient boosting on it; this section shows its code and explains it. Both
# estimators, `DecisionTreeClassifier` and `DecisionTreeRegressor`, share one split search by
# giving every sample a vector of **statistics** whose sum over a node is all an impurity needs:
# the one-hot label for classification (summed: the class counts $N_k$), the triple
# $(1,y,y^2)$ for regression (summed: $N,\sum y,\sum y^2$).
#
# ### The impurities
#
# {eq}`tree-gini`, {eq}`tree-entropy` and {eq}`tree-mse`, each a function of summed statistics
# of shape `(..., s)`, so that one call scores every candidate cut at once. The entropy uses
# `scipy.special.entr` $=-p\ln p$ (zero at $p=0$), converted to bits. The misclassification
# rate {eq}`tree-misclass` is not used for growing trees; it is defined here for the
# experiments.

# %%
for impurity_function in (gini, entropy):
    print(inspect.getsource(impurity_function))


# %%
def misclassification(counts: np.ndarray) -> np.ndarray:
    """Misclassification rate 1 - max_k p_k of class counts (..., C), eq. (tree-misclass)."""
    return 1.0 - counts.max(axis=-1) / counts.sum(axis=-1)


# %% [markdown]
# ### The split search
#
# `best_split` implements {eq}`tree-best-split` for one node. Per feature: sort the node's
# samples by that feature, take the cumulative sum of their statistics (row $i$ is the left
# child of the cut after sorted sample $i$), get the right child by subtraction, and score
# every cut with one vectorised call of the impurity. Cuts between equal values, and cuts
# that leave fewer than `min_samples_leaf` samples on a side, are masked out. Within a feature
# the first of equal minima wins, across features the earlier one (a later feature must be
# *strictly* better), exactly like scikit-learn's scan, except that scikit-learn visits the
# features in a random order (Verification, last part).

# %%
print(inspect.getsource(best_split))

# %% [markdown]
# The threshold is computed as $v_{(i)}/2+v_{(i+1)}/2$ rather than $(v_{(i)}+v_{(i+1)})/2$,
# which cannot overflow, and is the formula scikit-learn uses, so both produce the same
# floating-point number.
#
# ### Growing the tree
#
# `grow_tree` is the recursion: record the node, stop if a stopping rule holds, otherwise
# split and recurse left, then right. Nodes are numbered in that order (depth-first, left
# child first) and stored as parallel arrays, the layout of scikit-learn's `tree_`, which is
# what lets the Verification compare the two trees array by array. `max_features` and the
# random generator are there for the random forest of the next chapter: by default every
# feature is searched, in order.

# %%
print(inspect.getsource(grow_tree))

# %% [markdown]
# ### Prediction and feature importances
#
# `Tree.apply` sends all rows down together, one level per iteration: each row still at an
# internal node moves to the child its test selects. `feature_importances` is
# {eq}`tree-importance`.

# %%
print(inspect.getsource(Tree.apply))
print(inspect.getsource(Tree.feature_importances))

# %% [markdown]
# ### The estimators
#
# The classifier follows scikit-learn's API: `__init__` only stores the hyperparameters,
# `fit` validates `X` and `y` (`validate_data`, `check_classification_targets`), encodes the
# labels as one-hot statistics and grows the tree, and `predict_proba` returns the leaf's class
# proportions. The regressor differs only in its statistics $(1,y,y^2)$, its impurity
# {eq}`tree-mse` and its leaf value, the mean. Both pass scikit-learn's estimator checks
# (`tests/unit/test_ml_04_estimators.py`).

# %%
print(inspect.getsource(DecisionTreeClassifier.fit))
print(inspect.getsource(DecisionTreeRegressor.fit))

# %% [markdown]
# A first run on the errata's example: one feature, ten samples, classes $[5,5]$, arranged so
# that the best cut leaves $[4,1]$ and $[1,4]$. `best_split` returns the weighted child
# impurity $N_L H(L)+N_R H(R)$, so the information gain is $H(\text{parent})$ minus that over
# $N$.

# %%
toy_x = np.arange(10.0)[:, None]  # (10, 1)
toy_labels = np.array([0, 0, 1, 0, 0, 1, 1, 0, 1, 1])  # [4, 1] left of 4.5, [1, 4] right
toy_one_hot = np.eye(2)[toy_labels]  # (10, 2)
toy_split = best_split(toy_x, toy_one_hot, entropy, min_samples_leaf=1, features=np.arange(1))
toy_gain = entropy(toy_one_hot.sum(0)) - toy_split.children_impurity / len(toy_x)
print(f"best split: x <= {toy_split.threshold}, information gain {toy_gain:.4f} bits")

# %% [markdown]
# ## Verification
#
# ### The impurities against closed forms
#
# The errata's numbers: the parent $[5,5]$ has $H=1$ and Gini $0.5$. The children $[4,1]$ and
# $[1,4]$ have $H=-0.8\log_2 0.8-0.2\log_2 0.2=0.7219$ and Gini $1-0.8^2-0.2^2=0.32$, so
# $IG=1-0.7219=0.2781$ bits and the Gini decrease is $0.5-0.32=0.18$. The maxima are
# $1-1/C$ and $\log_2 C$ at equal proportions.

# %%
parent, left, right = np.array([5.0, 5.0]), np.array([4.0, 1.0]), np.array([1.0, 4.0])
h_child = -(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2))  # closed form, 0.7219
check_close("H([5, 5]) = 1 bit", entropy(parent), 1.0, atol=1e-15)
check_close("Gini([5, 5]) = 0.5", gini(parent), 0.5, atol=1e-15)
check_close(
    "H([4, 1]) = H([1, 4]) = 0.7219", entropy(np.stack([left, right])), [h_child] * 2, atol=1e-15
)


def impurity_decrease(
    impurity: Callable[[np.ndarray], np.ndarray],
    parent_counts: np.ndarray,
    children_counts: np.ndarray,
) -> float:
    """Eq. (tree-decrease) for any number of children: I(parent) - Σ N_k/N I(child_k)."""
    n_children = children_counts.sum(axis=1)
    weights = n_children / n_children.sum()
    return float(impurity(parent_counts) - np.sum(weights * impurity(children_counts)))


children = np.stack([left, right])  # (2, 2)
information_gain = impurity_decrease(entropy, parent, children)
gini_decrease = impurity_decrease(gini, parent, children)
check_close("IG([5,5] → [4,1] + [1,4]) = 1 - 0.7219", information_gain, 1 - h_child, atol=1e-15)
check_close("Gini decrease = 0.5 - 0.32 = 0.18", gini_decrease, 0.18, atol=1e-15)
check_close("the toy best_split's IG matches", toy_gain, 1 - h_child, atol=1e-15)
print(f"IG = {information_gain:.4f} bits, Gini decrease = {gini_decrease:.4f}")
for n_classes in (2, 3, 10):
    uniform = np.ones(n_classes)
    check_close(
        f"C = {n_classes}: max Gini = 1 - 1/C", gini(uniform), 1 - 1 / n_classes, atol=1e-15
    )
    check_close(
        f"C = {n_classes}: max H = log2 C", entropy(uniform), math.log2(n_classes), atol=1e-14
    )

# %% [markdown]
# The maxima are maxima: over 20 000 random proportion vectors of 5 classes (Dirichlet
# draws), none exceeds them.

# %%
random_counts = rng.dirichlet(np.ones(5), size=20_000)  # (20000, 5), rows sum to 1
check_true(
    "Gini ≤ 1 - 1/5 and H ≤ log2 5 on random proportions",
    bool(gini(random_counts).max() <= 0.8 and entropy(random_counts).max() <= math.log2(5)),
    f"max Gini {gini(random_counts).max():.4f} ≤ 0.8, max H {entropy(random_counts).max():.4f}"
    f" ≤ {math.log2(5):.4f}",
)

# %% [markdown]
# ### The classifier against `sklearn.tree.DecisionTreeClassifier`
#
# Data: three classes, six continuous features (`make_classification`), 400 samples to fit and
# 200 to predict. scikit-learn converts `X` to float32 before fitting, so the data are rounded
# to float32 first; then both trees see the same numbers and the midpoint thresholds must
# agree *exactly*.
#
# When two splits of a node tie (the same weighted child impurity), the two implementations
# can pick different ones: scikit-learn visits the features in a random order drawn from
# `random_state`, ours in index order. So the comparison first fits scikit-learn with 20 seeds
# and checks that all 20 trees are the same, which means that no node had a tie that mattered;
# with `max_depth=4` and `min_samples_leaf=10` this holds on these data for both criteria.
# Then ours must reproduce scikit-learn's tree node for node: the same feature, threshold,
# children and sample count at every node, impurities and class proportions to 1e-12, the
# same feature importances, predictions and probabilities.

# %%
features_all, labels_all = make_classification(
    n_samples=600,
    n_features=6,
    n_informative=4,
    n_redundant=0,
    n_classes=3,
    flip_y=0.05,
    random_state=1,
)
features_all = features_all.astype(np.float32).astype(np.float64)  # what sklearn's tree sees
x_train, x_test, y_train, y_test = train_test_split(
    features_all, labels_all, test_size=200, random_state=0, stratify=labels_all
)
N_SEEDS = 20
STRUCTURE = ("feature", "threshold", "children_left", "children_right", "n_node_samples")


def n_distinct_trees(trees: list[Any]) -> int:
    """How many different structures (features, thresholds, children) a list of trees has."""
    return len({tuple(getattr(t.tree_, a).tobytes() for a in STRUCTURE[:3]) for t in trees})


def compare_trees(
    name: str, ours: DecisionTreeClassifier | DecisionTreeRegressor, reference: Any
) -> None:
    """Node-for-node comparison of our fitted tree with a fitted sklearn tree."""
    for attribute in STRUCTURE:
        check_equal(
            f"{name}: {attribute}",
            getattr(ours.tree_, attribute),
            getattr(reference.tree_, attribute),
            quiet=True,
        )
    check_close(
        f"{name}: impurity", ours.tree_.impurity, reference.tree_.impurity, atol=1e-12, quiet=True
    )
    check_close(
        f"{name}: node values",
        ours.tree_.value,
        reference.tree_.value[:, 0, :],
        atol=1e-12,
        quiet=True,
    )
    check_close(
        f"{name}: feature_importances_",
        ours.feature_importances_,
        reference.feature_importances_,
        atol=1e-12,
        quiet=True,
    )
    print(
        f"✓ {name}: same structure ({ours.tree_.node_count} nodes, depth "
        f"{ours.get_depth()}), impurities, values and importances (atol 1e-12)"
    )


for criterion in ("gini", "entropy"):
    hyper = dict(criterion=criterion, max_depth=4, min_samples_leaf=10)
    references = [
        sklearn.tree.DecisionTreeClassifier(random_state=seed, **hyper).fit(x_train, y_train)
        for seed in range(N_SEEDS)
    ]
    check_equal(
        f"{criterion}: sklearn's trees for {N_SEEDS} seeds are one tree (no ties)",
        n_distinct_trees(references),
        1,
    )
    ours = DecisionTreeClassifier(**hyper).fit(x_train, y_train)
    compare_trees(f"{criterion} tree vs sklearn", ours, references[0])
    check_equal(
        f"{criterion}: test predictions", ours.predict(x_test), references[0].predict(x_test)
    )
    check_close(
        f"{criterion}: test predict_proba",
        ours.predict_proba(x_test),
        references[0].predict_proba(x_test),
        atol=1e-12,
    )

# %% [markdown]
# ### The regressor against `sklearn.tree.DecisionTreeRegressor`
#
# A continuous target, $y=\sin 2x_1+\tfrac12x_2^2+\varepsilon$ with two further irrelevant
# features, grown to full depth with at least 5 samples per leaf. With a continuous target,
# exact ties between splits are unlikely, and the seeds check confirms there are none here.

# %%
regression_x = rng.uniform(-2, 2, size=(500, 4)).astype(np.float32).astype(np.float64)
regression_y = (
    np.sin(2 * regression_x[:, 0]) + 0.5 * regression_x[:, 1] ** 2 + 0.3 * rng.standard_normal(500)
)
regression_train, regression_test = slice(0, 350), slice(350, None)
references = [
    sklearn.tree.DecisionTreeRegressor(min_samples_leaf=5, random_state=seed).fit(
        regression_x[regression_train], regression_y[regression_train]
    )
    for seed in range(N_SEEDS)
]
check_equal(
    f"regression: sklearn's trees for {N_SEEDS} seeds are one tree (no ties)",
    n_distinct_trees(references),
    1,
)
ours_regressor = DecisionTreeRegressor(min_samples_leaf=5).fit(
    regression_x[regression_train], regression_y[regression_train]
)
compare_trees("regression tree vs sklearn", ours_regressor, references[0])
check_close(
    "regression: test predictions",
    ours_regressor.predict(regression_x[regression_test]),
    references[0].predict(regression_x[regression_test]),
    atol=1e-12,
)

# %% [markdown]
# ### Fully grown trees, where ties do occur
#
# Grown to purity, the same classification data produce ties: deep in the tree, a node of a
# few dozen samples often has two splits whose children have the same class counts up to a
# permutation of the classes (hence the same impurities), or two features that cut off the
# same few samples, and scikit-learn's own trees then differ from seed to seed. A node-for-node
# comparison is then meaningless. Two checks that remain exact:
#
# 1. **Every split is a best split.** At each internal node of our fully grown tree, a depth-1
#    scikit-learn tree fitted on the same samples finds a split with the same weighted child
#    impurity $N_L I(L)+N_R I(R)$ (to 1e-9), even where it picks another feature.
# 2. **The results are as good.** Both fit the training data perfectly, and our test accuracy
#    is within 0.03 of the mean of scikit-learn's 20 seeds (the line also prints the range
#    that scikit-learn's own seeds span).


# %%
def node_members(tree: Tree, x: np.ndarray) -> np.ndarray:
    """Boolean (n_nodes, n) matrix: which rows of x pass through each node."""
    members = np.zeros((tree.node_count, len(x)), dtype=bool)
    members[0] = True
    for node in range(tree.node_count):  # parents come before children (depth-first order)
        left, right = tree.children_left[node], tree.children_right[node]
        if left >= 0:
            goes_left = x[:, tree.feature[node]] <= tree.threshold[node]
            members[left] = members[node] & goes_left
            members[right] = members[node] & ~goes_left
    return members


def weighted_children_impurity(tree: Any, node: int) -> float:
    """N_L I(L) + N_R I(R) of an internal node of a fitted tree (ours or sklearn's)."""
    children = [tree.children_left[node], tree.children_right[node]]
    return float(sum(tree.n_node_samples[c] * tree.impurity[c] for c in children))


for criterion in ("gini", "entropy"):
    ours = DecisionTreeClassifier(criterion=criterion).fit(x_train, y_train)
    members = node_members(ours.tree_, x_train)
    internal = np.flatnonzero(ours.tree_.children_left >= 0)
    gaps, other_feature = [], 0
    for node in internal:
        stump = sklearn.tree.DecisionTreeClassifier(criterion=criterion, max_depth=1)
        stump.fit(x_train[members[node]], y_train[members[node]])
        gaps.append(
            weighted_children_impurity(ours.tree_, node)
            - weighted_children_impurity(stump.tree_, 0)
        )
        other_feature += int(stump.tree_.feature[0] != ours.tree_.feature[node])
    check_close(
        f"{criterion}: our split's N_L I(L) + N_R I(R) = sklearn stump's, at all "
        f"{len(internal)} internal nodes",
        np.array(gaps),
        np.zeros(len(gaps)),
        atol=1e-9,
    )
    print(f"   (at {other_feature} of them the stump split on another feature: a tie)")
    references = [
        sklearn.tree.DecisionTreeClassifier(criterion=criterion, random_state=seed).fit(
            x_train, y_train
        )
        for seed in range(N_SEEDS)
    ]
    reference_accuracy = np.array([r.score(x_test, y_test) for r in references])
    our_accuracy = ours.score(x_test, y_test)
    check_equal(
        f"{criterion}: training accuracy of the full tree", ours.score(x_train, y_train), 1.0
    )
    check_true(
        f"{criterion}: test accuracy within 0.03 of sklearn's mean over {N_SEEDS} seeds",
        bool(abs(our_accuracy - reference_accuracy.mean()) <= 0.03),
        f"ours {our_accuracy:.3f}, sklearn {reference_accuracy.mean():.3f} (seeds span "
        f"{reference_accuracy.min():.3f}–{reference_accuracy.max():.3f}, "
        f"{n_distinct_trees(references)} distinct trees)",
    )

# %% [markdown]
# ## Experiments
#
# ### 1. Impurity curves for two classes, and why the misclassification rate fails
#
# The left panel plots {eq}`tree-two-class` against $p$. Entropy is divided by 2 so that all
# three peak at $0.5$. Scaled so, entropy lies just above Gini ($H(p)\ge4p(1-p)$, with
# equality only at $p=0,\tfrac12,1$; checked below): the two curves have nearly the same
# shape, one reason why the two criteria usually choose the same splits.
#
# The right panel is the geometry of {eq}`tree-decrease`. Take a parent of 100 samples with
# classes $[80,20]$ ($p=0.2$) and the split into $[60,0]$, a pure child, and $[20,20]$. The
# weighted child impurity is the point at $p=0.2$ on the chord between
# $(p_L,I(p_L))=(0,I(0))$ and $(p_R,I(p_R))=(0.5,I(0.5))$; the decrease is the vertical gap
# between the curve and the chord. For Gini and entropy the gap is positive; for the
# misclassification rate the chord *is* the curve, and the decrease is zero.

# %%
example_parent = np.array([80.0, 20.0])
example_children = np.array([[60.0, 0.0], [20.0, 20.0]])
criteria = {
    "Gini": gini,
    "entropy / 2": lambda counts: entropy(counts) / 2,
    "misclassification": misclassification,
}
example_decrease = {
    name: impurity_decrease(function, example_parent, example_children)
    for name, function in criteria.items()
}
check_close(
    "misclassification decrease of [80,20] → [60,0] + [20,20] is 0",
    example_decrease["misclassification"],
    0.0,
    atol=1e-15,
)
check_close("Gini decrease = 0.32 - 0.4·0.5 = 0.12", example_decrease["Gini"], 0.12, atol=1e-15)
information_gain = 2 * example_decrease["entropy / 2"]
check_close("IG = H(0.2) - 0.4·1 bit", information_gain, entropy(example_parent) - 0.4, atol=1e-15)
for name, value in example_decrease.items():
    print(f"{name:>18}: decrease {max(value, 0.0):.4f}")  # ≥ 0 by Jensen; hides "-0.0000"
p_inner = np.linspace(0.001, 0.999, 999)
entropy_gap = entropy(np.stack([1 - p_inner, p_inner], axis=1)) / 2 - gini(
    np.stack([1 - p_inner, p_inner], axis=1)
)
check_true(
    "H/2 ≥ Gini on (0, 1), equal at p = 1/2",
    bool(entropy_gap.min() >= -1e-15),
    f"min gap {entropy_gap.min():.1e} at p = {p_inner[entropy_gap.argmin()]:.3f}, "
    f"max gap {entropy_gap.max():.3f}",
)
print(f"information gain: {information_gain:.4f} bits")

# %%
p_grid = np.linspace(0, 1, 401)
two_class = np.stack([1 - p_grid, p_grid], axis=1)  # (401, 2): proportions as counts
colours = dict(zip(criteria, PALETTE, strict=False))
fig, (ax_curves, ax_chord) = plt.subplots(1, 2, figsize=(11, 4.2))
for name, function in criteria.items():
    ax_curves.plot(p_grid, function(two_class), color=colours[name], label=name)
ax_curves.set(
    xlabel="share of class 1, $p$", ylabel="impurity", title="Gini and entropy are strictly concave"
)
ax_curves.legend()
p_parent, p_left, p_right, w_left = 0.2, 0.0, 0.5, 0.6  # the split [80,20] → [60,0] + [20,20]
left_value = {name: float(f(np.array([1 - p_left, p_left]))) for name, f in criteria.items()}
right_value = {name: float(f(np.array([1 - p_right, p_right]))) for name, f in criteria.items()}
zoom = p_grid <= 0.55
for offset, (name, function) in zip((-0.008, 0.0, 0.008), criteria.items(), strict=True):
    colour = colours[name]
    ax_chord.plot(p_grid[zoom], function(two_class)[zoom], color=colour, label=name)
    # eq. (tree-decrease): the weighted children's impurity is the chord at p_parent
    chord_at_parent = w_left * left_value[name] + (1 - w_left) * right_value[name]
    parent_value = float(function(np.array([1 - p_parent, p_parent])))
    ax_chord.vlines(p_parent + offset, chord_at_parent, parent_value, color=colour, lw=4)
chord_ends = [left_value["Gini"], right_value["Gini"]]  # 0 and 0.5 for all three criteria
ax_chord.plot([p_left, p_right], chord_ends, "o--", color="k", lw=1, ms=4, label="children")
ax_chord.annotate("parent, p = 0.2", (p_parent, 0.02), ha="center", color="0.3")
ax_chord.set(
    xlabel="share of class 1, $p$",
    ylabel="impurity",
    title="[80,20] → [60,0] + [20,20]: bars are the decreases",
)
ax_chord.legend(loc="upper left")
fig.suptitle(
    f"A useful split: Gini decrease {example_decrease['Gini']:.2f}, IG "
    f"{information_gain:.3f} bits, misclassification decrease "
    f"{max(example_decrease['misclassification'], 0.0):.2f}"
)
plt.show()

# %% [markdown]
# The zero is not an accident of one split. Put the same 100 samples on a line: the 60 pure
# class-0 samples first, then the mixed 40 alternating $1,0,1,0,\dots,1,0$. A cut's left part
# keeps class 0 as its majority (it holds the 60), and its right part, a suffix of the
# alternating run, never holds more 1s than 0s, so no cut changes the number of majority-class
# errors: **every** one of the 99 cuts has a misclassification decrease of zero, and a
# tree grown on that criterion has no reason to prefer any of them (scikit-learn does not
# offer it as a split criterion). `best_split` with each criterion:

# %%
line_labels = np.concatenate([np.zeros(60, dtype=int), np.tile([1, 0], 20)])  # (100,)
line_x, line_one_hot = np.arange(100.0)[:, None], np.eye(2)[line_labels]  # (100, 1), (100, 2)
line_thresholds = {}
for name, function in criteria.items():
    split = best_split(line_x, line_one_hot, function, min_samples_leaf=1, features=np.arange(1))
    decrease = function(line_one_hot.sum(0)) - split.children_impurity / 100
    line_thresholds[name] = split.threshold
    print(f"{name:>18}: best cut x <= {split.threshold:>4}, decrease {decrease:.4f}")
check_equal(
    "Gini and entropy cut off the pure block (x <= 59.5)",
    [line_thresholds["Gini"], line_thresholds["entropy / 2"]],
    [59.5, 59.5],
)
n_left = np.arange(1, 100)
left_counts = np.cumsum(line_one_hot, axis=0)[:-1]  # (99, 2)
all_cuts = (
    misclassification(line_one_hot.sum(0))
    - (
        n_left * misclassification(left_counts)
        + (100 - n_left) * misclassification(line_one_hot.sum(0) - left_counts)
    )
    / 100
)
check_close("misclassification decrease of all 99 cuts", all_cuts, np.zeros(99), atol=1e-15)

# %% [markdown]
# Gini and entropy both cut at $59.5$, isolating the pure block of 60; the misclassification
# rate scores that cut (and every other) at zero and returns the first one, $x\le0.5$.
#
# ### 2. Depth against accuracy: trees overfit
#
# The breast-cancer data (569 tumours, 30 features, 2 classes), 5-fold cross-validation of our
# classifier at depths 1 to 10 (it works inside `cross_validate` like any scikit-learn model),
# and, on the right, the same cross-validation of fully grown scikit-learn trees pruned with
# each `ccp_alpha` of the pruning path {eq}`tree-weakest-link`.

# %%
cancer_x, cancer_y = load_breast_cancer(return_X_y=True)
folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
depths = np.arange(1, 11)
depth_scores = [
    cross_validate(
        DecisionTreeClassifier(max_depth=int(d)),
        cancer_x,
        cancer_y,
        cv=folds,
        return_train_score=True,
    )
    for d in depths
]
depth_train = np.array([s["train_score"].mean() for s in depth_scores])
depth_test = np.array([s["test_score"].mean() for s in depth_scores])
best_depth = int(depths[np.argmax(depth_test)])
print("depth:   " + " ".join(f"{d:>6}" for d in depths))
print("train:   " + " ".join(f"{a:6.3f}" for a in depth_train))
print("CV test: " + " ".join(f"{a:6.3f}" for a in depth_test))

# %%
pruning_path = (
    sklearn.tree.DecisionTreeClassifier(random_state=0)
    .fit(cancer_x, cancer_y)
    .cost_complexity_pruning_path(cancer_x, cancer_y)
)
alphas = pruning_path.ccp_alphas[:-1]  # the last alpha prunes down to the root
alpha_scores = [
    cross_validate(
        sklearn.tree.DecisionTreeClassifier(ccp_alpha=a, random_state=0),
        cancer_x,
        cancer_y,
        cv=folds,
        return_train_score=True,
    )
    for a in alphas
]
alpha_train = np.array([s["train_score"].mean() for s in alpha_scores])
alpha_test = np.array([s["test_score"].mean() for s in alpha_scores])
best_alpha = alphas[np.argmax(alpha_test)]
print(f"train - CV accuracy at depth 10: {depth_train[-1] - depth_test[-1]:.3f}")
check_true(
    "deep trees overfit: train accuracy 1 at depth 10, CV accuracy below its peak",
    bool(depth_train[-1] == 1.0 and depth_test[-1] < depth_test.max()),
    f"depth 10: train {depth_train[-1]:.3f}, CV {depth_test[-1]:.3f}; best CV "
    f"{depth_test.max():.3f} at depth {best_depth}",
)
check_true(
    "pruning beats the unpruned tree in CV accuracy",
    bool(alpha_test.max() > alpha_test[0]),
    f"α = 0: {alpha_test[0]:.3f}, best α = {best_alpha:.4f}: {alpha_test.max():.3f}",
)

# %%
fig, (ax_depth, ax_alpha) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_depth.plot(depths, depth_train, "o-", color=PALETTE[0], label="training (mean of 5 folds)")
ax_depth.plot(depths, depth_test, "o-", color=PALETTE[1], label="held-out fold (mean of 5)")
ax_depth.set(xlabel="max_depth", ylabel="accuracy", title="Depth: training accuracy climbs to 1")
ax_depth.legend(loc="lower right")
ax_alpha.semilogx(alphas[1:], alpha_train[1:], "o-", color=PALETTE[0], label="training")
ax_alpha.semilogx(alphas[1:], alpha_test[1:], "o-", color=PALETTE[1], label="held-out fold")
ax_alpha.axhline(alpha_test[0], color=PALETTE[1], ls=":", lw=1, label="held-out, α = 0")
ax_alpha.xaxis.set_minor_formatter(NullFormatter())  # the log axis' minor labels overlap
alpha_ticks = [0.002, 0.005, 0.01, 0.02, 0.05]
ax_alpha.set_xticks(alpha_ticks, [f"{a:g}" for a in alpha_ticks])
ax_alpha.set(
    xlabel="ccp_alpha (log scale)", ylabel="accuracy", title="Pruning: larger α, fewer leaves"
)
ax_alpha.legend(loc="lower left")
fig.suptitle(
    f"Breast cancer: a full tree fits training data perfectly but scores {depth_test[-1]:.3f} "
    f"in CV; depth {best_depth} scores {depth_test.max():.3f}, pruning {alpha_test.max():.3f}"
)
plt.show()

# %% [markdown]
# The training accuracy rises to 1 with depth while the cross-validated accuracy peaks at a
# small depth and then falls back; the gap between the two at depth 10 is printed above.
# Pruning a full tree by cost complexity reaches the same region from the other side. The
# differences between depths are a few samples out of 569, so the exact best depth moves with
# the folds; the shape does not.

# %% [markdown]
# ### 3. Decision boundaries on two moons
#
# A tree's decision regions are unions of axis-aligned boxes. On two noisy interleaved moons
# (2-D; 400 training points, and 2000 test points so that the test accuracies differ by more
# than their noise), a stump draws one line, depth 4 a coarse staircase that follows the moons,
# and the fully grown tree carves small boxes around individual noisy points.

# %%
moons_x, moons_y = make_moons(n_samples=2400, noise=0.35, random_state=0)
moons_train_x, moons_test_x, moons_train_y, moons_test_y = train_test_split(
    moons_x, moons_y, train_size=400, random_state=0
)
boundary_depths = (1, 4, None)
moons_trees = {
    depth: DecisionTreeClassifier(max_depth=depth).fit(moons_train_x, moons_train_y)
    for depth in boundary_depths
}
moons_accuracy = {
    depth: (tree.score(moons_train_x, moons_train_y), tree.score(moons_test_x, moons_test_y))
    for depth, tree in moons_trees.items()
}
for depth, (train_accuracy, test_accuracy) in moons_accuracy.items():
    leaves = moons_trees[depth].get_n_leaves()
    print(
        f"max_depth {depth}: {leaves} leaves, train {train_accuracy:.3f}, test {test_accuracy:.3f}"
    )
check_true(
    "moons: the full tree fits all training points yet tests worse than depth 4",
    bool(moons_accuracy[None][0] == 1.0 and moons_accuracy[None][1] < moons_accuracy[4][1]),
    f"full: test {moons_accuracy[None][1]:.3f}; depth 4: test {moons_accuracy[4][1]:.3f}",
)

# %%
low, high = moons_train_x.min(axis=0) - 0.2, moons_train_x.max(axis=0) + 0.2
grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], 300), np.linspace(low[1], high[1], 250))
grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])  # (75000, 2)
region_colours = ListedColormap(["#cfe3f2", "#f6d8c6"])  # light blue, light vermillion
fig, axes = plt.subplots(1, 3, figsize=(12, 3.9), sharey=True)
for ax, depth in zip(axes, boundary_depths, strict=True):
    regions = moons_trees[depth].predict(grid).reshape(grid_x.shape)
    ax.pcolormesh(grid_x, grid_y, regions, cmap=region_colours, shading="auto")
    for label, colour in ((0, PALETTE[0]), (1, PALETTE[1])):
        chosen = moons_train_y == label
        ax.scatter(*moons_train_x[chosen].T, s=6, color=colour, label=f"class {label}")
    train_accuracy, test_accuracy = moons_accuracy[depth]
    ax.set(
        xlabel="$x_1$",
        title=f"max_depth={depth}: train {train_accuracy:.2f}, test {test_accuracy:.2f}",
    )
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="lower left", markerscale=2)
fig.suptitle("Trees draw axis-aligned boxes; the full tree boxes in single noisy points")
plt.show()

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "The goal of a tree is to measure impurity." What is the goal?
# To predict well, which greedy growth approximates by choosing, node after node, the split
# with the largest impurity decrease {eq}`tree-decrease`. Impurity is only the score of a
# node; what is compared is the parent's impurity against the size-weighted impurities of the
# children. Neither Gini nor entropy is minimised globally: the greedy tree is not the tree of
# lowest total impurity for its size.
# :::
#
# :::{dropdown} Gini or entropy?
# They rarely disagree: both are strictly concave, zero at the ends and similar in shape
# (Experiment 1), and a theoretical and empirical comparison found that they choose different
# splits in only a small fraction of cases {cite}`raileanu2004theoretical`. Gini avoids the
# logarithm and is CART's and scikit-learn's default; entropy is what
# ID3 and C4.5 use and has the information-theoretic reading (the mutual information between
# the label and the side of the split). The misclassification rate is the one to avoid for
# growing, though it is a sensible cost for pruning.
# :::
#
# :::{dropdown} Information gain prefers attributes with many values. Why, and what fixes it?
# A multi-way split on an attribute with many distinct values (a customer id, a date) puts few
# samples in each child, and small children are pure by chance, so $IG$ approaches
# $H(\text{parent})$, its maximum, whether or not the attribute means anything. C4.5
# {cite}`quinlan1993c45` divides by the *split information*, the entropy of the partition
# itself, $SI=-\sum_k\frac{N_k}{N}\log_2\frac{N_k}{N}$, and ranks by the **gain ratio**
# $IG/SI$; for an id with $N$ distinct values $SI=\log_2N$. The next cell computes both for an
# id and for a binary attribute that carries real information. CART's binary splits are less
# exposed, but the same bias survives in another form: a continuous feature offers many more
# thresholds than a binary one, so pure noise with many distinct values collects spurious
# impurity decrease, and inflates its `feature_importances_` {cite}`strobl2007bias` (second
# cell).
# :::

# %%
n_samples = 100
labels = np.repeat([0, 1], n_samples // 2)  # (100,), H = 1 bit
id_attribute = np.arange(n_samples)  # one value per sample
binary_attribute = np.where(rng.random(n_samples) < 0.8, labels, 1 - labels)  # 80 % agreement


def gain_and_ratio(attribute: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Information gain, eq. (tree-ig), of a split into one child per value, and gain ratio."""
    values = np.unique(attribute)
    counts = np.array([np.bincount(labels[attribute == v], minlength=2) for v in values])
    gain = impurity_decrease(entropy, np.bincount(labels).astype(float), counts.astype(float))
    split_information = float(entropy(counts.sum(axis=1).astype(float)))
    return gain, gain / split_information


for name, attribute in (("id (100 values)", id_attribute), ("binary", binary_attribute)):
    gain, ratio = gain_and_ratio(attribute, labels)
    print(f"{name:>16}: IG {gain:.3f} bits, gain ratio {ratio:.3f}")
check_close(
    "IG of the id attribute = H(parent) = 1 bit",
    gain_and_ratio(id_attribute, labels)[0],
    1.0,
    atol=1e-12,
)
check_close(
    "its gain ratio = 1 / log2(100)",
    gain_and_ratio(id_attribute, labels)[1],
    1 / math.log2(n_samples),
    atol=1e-12,
)

# %%
noise_x = np.column_stack(
    [
        features_all,  # the 3-class data of the Verification, 600 samples
        rng.standard_normal(len(features_all)),  # continuous noise: 600 distinct values
        rng.integers(0, 2, len(features_all)),  # binary noise: 2 values
    ]
)
noise_importances = np.zeros(2)
for _ in range(10):  # fully grown trees on bootstrap resamples
    resample = rng.integers(0, len(noise_x), len(noise_x))
    tree = DecisionTreeClassifier().fit(noise_x[resample], labels_all[resample])
    noise_importances += tree.feature_importances_[-2:] / 10
print(
    f"mean importance over 10 fully grown trees: continuous noise {noise_importances[0]:.4f}, "
    f"binary noise {noise_importances[1]:.4f} (a real feature's share if all were equal: "
    f"{1 / noise_x.shape[1]:.4f})"
)
check_true(
    "continuous noise gets more impurity importance than binary noise",
    bool(noise_importances[0] > noise_importances[1]),
    f"{noise_importances[0]:.4f} > {noise_importances[1]:.4f}",
)

# %% [markdown]
# :::{dropdown} How do you stop a tree from overfitting?
# *Pre-pruning*: stop early with `max_depth`, `min_samples_leaf`, `min_samples_split` or
# `min_impurity_decrease`. *Post-pruning*: grow the full tree and cut it back. CART's
# cost-complexity pruning {eq}`tree-ccp` is the standard: weakest-link pruning
# {eq}`tree-weakest-link` gives a nested sequence of subtrees, one per range of $\alpha$, and
# cross-validation picks $\alpha$ (Experiment 2) {cite}`breiman1984cart,hastie2009elements`.
# Post-pruning sees splits that only pay off one level down (XOR-like structure, Check
# yourself 2), which early stopping on a small decrease would never reach. The next cell checks
# that scikit-learn's first non-zero `ccp_alpha` is the smallest $\alpha_{\text{eff}}$ of
# {eq}`tree-weakest-link` over the internal nodes of its full tree. C4.5 instead prunes with a
# pessimistic (upper-confidence) estimate of each leaf's error.
# :::


# %%
def subtree_cost_and_leaves(tree: Any, node: int, n_total: int) -> tuple[float, int]:
    """R(T_t) = Σ_leaves N_l/N I(l) and the number of leaves of the subtree under `node`."""
    left, right = tree.children_left[node], tree.children_right[node]
    if left < 0:
        return tree.n_node_samples[node] / n_total * tree.impurity[node], 1
    cost_left, leaves_left = subtree_cost_and_leaves(tree, left, n_total)
    cost_right, leaves_right = subtree_cost_and_leaves(tree, right, n_total)
    return cost_left + cost_right, leaves_left + leaves_right


full_tree = sklearn.tree.DecisionTreeClassifier(random_state=0).fit(cancer_x, cancer_y).tree_
n_total = full_tree.n_node_samples[0]
effective_alphas = []
for node in np.flatnonzero(full_tree.children_left >= 0):
    subtree_cost, n_leaves = subtree_cost_and_leaves(full_tree, node, n_total)
    node_cost = full_tree.n_node_samples[node] / n_total * full_tree.impurity[node]  # R(t)
    effective_alphas.append((node_cost - subtree_cost) / (n_leaves - 1))  # eq. (tree-weakest-link)
check_close(
    "weakest link: min α_eff = sklearn's first non-zero ccp_alpha",
    min(effective_alphas),
    pruning_path.ccp_alphas[1],
    atol=1e-15,
)

# %% [markdown]
# :::{dropdown} How does a regression tree differ?
# Only in the impurity and the leaf value: the impurity is the node's mean squared error around
# its mean {eq}`tree-mse`, the decrease is the reduction of variance, and a leaf predicts the
# mean of its targets, so the fitted function is piecewise constant (the regressor above
# matches scikit-learn's). With absolute error the leaf value becomes the median. Gradient
# boosting fits such trees to residuals (next chapter).
# :::
#
# :::{dropdown} CART, ID3 and C4.5: what is the difference?
# - **CART** {cite}`breiman1984cart`: binary splits ($x_j\le t$, or a subset of categories);
#   Gini for classification, squared error for regression; cost-complexity pruning with
#   $\alpha$ chosen by cross-validation; surrogate splits for missing values.
# - **ID3** {cite}`quinlan1986id3`: one branch per value of a categorical attribute; information
#   gain; classification only; no pruning.
# - **C4.5** {cite}`quinlan1993c45`, ID3's successor: gain ratio; binary thresholds on numeric
#   attributes; pruning with a pessimistic error estimate; a sample with a missing value goes
#   down every branch with a fractional weight.
#
# scikit-learn implements an optimised CART (binary splits, Gini/entropy/log-loss or squared
# error, cost-complexity pruning; since version 1.3 also missing values, sent to the side that
# scores best) {cite}`sklearn2025tree`.
# :::
#
# :::{dropdown} Do trees need feature scaling?
# No. A split only uses the order of a feature's values, so any strictly increasing
# transformation of a feature leaves the training partitions, and hence the tree's structure
# and its predictions on the training points, unchanged; for an affine one (standardisation)
# the thresholds move with the data and the predictions on any point are unchanged. The next
# cell checks both on the breast-cancer data.
# :::

# %%
cancer_train_x, cancer_test_x, cancer_train_y, _ = train_test_split(
    cancer_x, cancer_y, test_size=0.3, random_state=0, stratify=cancer_y
)
plain = DecisionTreeClassifier().fit(cancer_train_x, cancer_train_y)
scaled = make_pipeline(StandardScaler(), DecisionTreeClassifier()).fit(
    cancer_train_x, cancer_train_y
)
check_equal(
    "standardised features: same test predictions",
    scaled.predict(cancer_test_x),
    plain.predict(cancer_test_x),
)
monotone = DecisionTreeClassifier().fit(np.cbrt(cancer_train_x), cancer_train_y)
check_equal(
    "cube-root features: same leaf for every training point",
    monotone.apply(np.cbrt(cancer_train_x)),
    plain.apply(cancer_train_x),
)

# %% [markdown]
# :::{dropdown} Why are trees called unstable, and what is done about it?
# A small change of the data can change an early split, and everything below it changes too.
# The next cell fits full trees to two bootstrap resamples of the same moons training set and
# counts the test points on which they disagree. Averaging many such trees, decorrelated by
# bootstrap samples and random feature subsets, is the random forest; fitting shallow trees in
# sequence to the residuals is gradient boosting (next chapter). Ties between equally good
# splits are a second source of arbitrariness: scikit-learn's trees depend on `random_state`
# even with all features searched (Verification).
# :::

# %%
bootstrap_predictions = []
for _ in range(2):
    resample = rng.integers(0, len(moons_train_x), len(moons_train_x))
    tree = DecisionTreeClassifier().fit(moons_train_x[resample], moons_train_y[resample])
    bootstrap_predictions.append(tree.predict(moons_test_x))
disagreement = float(np.mean(bootstrap_predictions[0] != bootstrap_predictions[1]))
print(f"two full trees on bootstrap resamples disagree on {disagreement:.1%} of the test points")
check_true(
    "the two trees disagree on at least 5 % of the test points",
    bool(disagreement >= 0.05),
    f"{disagreement:.3f}",
)

# %% [markdown]
# :::{dropdown} What does a tree cost to train and to use?
# Per node, sorting each of $p$ features costs $O(N\log N)$ for its $N$ samples; each depth
# level holds every sample once, so a balanced tree costs about $O(p\,n\log n\cdot\text{depth})$
# and $O(p\,n\log^2 n)$ at full depth. Prediction is $O(\text{depth})$ comparisons per sample.
# (scikit-learn re-sorts per node as here; histogram-based boosting libraries bin each feature
# once into a few hundred values at most and scan histograms instead.)
# :::
#
# :::{dropdown} Are a tree's predicted probabilities calibrated?
# Not a fully grown tree's: its leaves are pure, so every probability is 0 or 1. Limiting the
# leaf size makes them proportions of a few samples, still coarse and over-confident out of
# sample; averaging trees (a forest) or an explicit calibration step fixes this.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A node holds classes $[8,4]$. Split A gives $[6,0]+[2,4]$, split B gives $[6,2]+[2,2]$.
#    Compute the Gini decrease and the misclassification decrease of each. Which split does
#    each criterion prefer? The next cell checks the answer.
#
#    :::{dropdown} Answer
#    Parent Gini $1-(2/3)^2-(1/3)^2=4/9$. A: the children have Gini $0$ and $4/9$, weights
#    $1/2$ each, so the decrease is $4/9-2/9=2/9\approx0.222$. B: $[6,2]$ has Gini $3/8$ and
#    weight $2/3$, $[2,2]$ has $1/2$ and weight $1/3$, so the decrease is
#    $4/9-(1/4+1/6)=1/36\approx0.028$. Misclassification: the parent's is $1/3$; A leaves
#    $\tfrac12\cdot\tfrac13=1/6$ (decrease $1/6$), B leaves
#    $\tfrac23\cdot\tfrac14+\tfrac13\cdot\tfrac12=1/3$ (decrease $0$: both children keep class
#    0 as their majority). Both criteria prefer A, but only Gini sees any value in B.
#    :::

# %%
node_counts = np.array([8.0, 4.0])
split_a = np.array([[6.0, 0.0], [2.0, 4.0]])
split_b = np.array([[6.0, 2.0], [2.0, 2.0]])
answers = {
    ("Gini", "A"): 2 / 9,
    ("Gini", "B"): 1 / 36,
    ("misclassification", "A"): 1 / 6,
    ("misclassification", "B"): 0.0,
}
for (name, which), expected in answers.items():
    function = gini if name == "Gini" else misclassification
    children_counts = split_a if which == "A" else split_b
    check_close(
        f"exercise 1: {name} decrease of split {which}",
        impurity_decrease(function, node_counts, children_counts),
        expected,
        atol=1e-15,
    )

# %% [markdown]
# 2. Labels are the XOR of two binary features, $y=[x_1\ne x_2]$, with the four combinations
#    equally frequent. What is the impurity decrease of the best root split, and how deep must
#    a tree be to classify perfectly? What would a rule "stop when the best decrease is zero"
#    do here?
#
#    :::{dropdown} Answer
#    Either root split leaves each child with half of each class, so the decrease is exactly
#    zero for Gini and entropy alike. CART still splits (it takes the best split, even a
#    useless-looking one, and stops only on the rules listed above), and at depth 2 every leaf
#    is pure. A "stop at zero gain" rule, or `min_impurity_decrease > 0`, would return a
#    single leaf with accuracy 0.5: greedy splitting cannot see interactions one level ahead,
#    which is another argument for growing deep and pruning afterwards. The next cell checks
#    this with our tree.
#    :::

# %%
xor_x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).repeat(25, axis=0)  # (100, 2)
xor_y = (xor_x[:, 0] != xor_x[:, 1]).astype(int)
xor_tree = DecisionTreeClassifier(max_depth=2).fit(xor_x, xor_y)
root_decrease = xor_tree.tree_.impurity[0] - weighted_children_impurity(xor_tree.tree_, 0) / 100
check_close("exercise 2: the XOR root split's Gini decrease", root_decrease, 0.0, atol=1e-15)
check_equal(
    "exercise 2: a depth-2 tree classifies XOR perfectly", xor_tree.score(xor_x, xor_y), 1.0
)

# %% [markdown]
# 3. A feature takes the values $1,2,2,5,9$ in a node. Which thresholds does CART try, and why
#    midpoints?
#
#    :::{dropdown} Answer
#    The distinct values are $1,2,5,9$, so there are three candidate cuts, at $1.5$, $3.5$ and
#    $7$; no cut can separate the two samples with value 2. Any threshold between two
#    consecutive values gives the same training partition; the midpoint is the one farthest
#    from both, a maximum-margin choice for unseen values in the gap. (The next chapter's
#    histogram-based methods instead cut at bin edges.)
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`breiman1984cart`: the CART algorithm (binary splits, the Gini criterion, regression
#   trees, cost-complexity and weakest-link pruning; Chapters 2–4 and 8).
# - {cite:t}`quinlan1986id3` (ID3 and information gain) and {cite:t}`quinlan1993c45` (C4.5:
#   gain ratio, thresholds on numeric attributes, pessimistic pruning).
# - {cite:t}`hastie2009elements`, Section 9.2: the three node impurities for classification,
#   their two-class forms, and cost-complexity pruning {eq}`tree-ccp`.
# - {cite:t}`hyafil1976np`: constructing optimal binary decision trees is NP-complete.
# - {cite:t}`strobl2007bias`: impurity importances favour variables with many possible split
#   points.
# - {cite:t}`raileanu2004theoretical`: how often Gini and information gain disagree.
# - {cite:t}`sklearn2025tree`: scikit-learn's decision trees (the mathematical formulation, the
#   criteria, `ccp_alpha` and `cost_complexity_pruning_path`, missing values) that the
#   from-scratch trees are checked against.

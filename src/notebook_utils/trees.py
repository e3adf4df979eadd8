"""CART decision trees from scratch: a classifier (Gini or entropy) and a regressor (squared error).

Chapter ml/04 explains this code (equation labels ``tree-*`` refer to it); chapter ml/05 builds
random forests and gradient boosting on it.

The trees follow scikit-learn's CART: every split is binary, ``x[:, j] <= t``, with ``t`` the
midpoint between two consecutive distinct sorted values of feature ``j``, and each node takes the
split with the largest weighted impurity decrease. Both estimators share one split search:

* each sample carries a vector of *statistics* (the one-hot label for classification,
  ``(1, y, y²)`` for regression), so a node's impurity is a function of their sum;
* for one feature, sorting the node's samples and taking cumulative sums of the statistics gives
  the statistics of the left child at every cut position at once, and the right child's are the
  node's total minus the left's. Scoring every threshold of a feature is therefore one sort and a
  few vectorised array operations, ``O(n log n)`` instead of ``O(n²)``.

A fitted tree is stored as parallel arrays indexed by node id, numbered depth-first with the left
child first, in the layout of scikit-learn's ``tree_`` (leaves have children ``-1`` and feature
and threshold ``-2``), so the two can be compared array by array.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import entr
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "LEAF",
    "UNDEFINED",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "Split",
    "Tree",
    "best_split",
    "entropy",
    "gini",
    "grow_tree",
    "squared_error",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Impurity = Callable[[FloatArray], FloatArray]
MaxFeatures = int | float | Literal["sqrt", "log2"] | None

LEAF = -1  # the children of a leaf, as in scikit-learn's tree_
UNDEFINED = -2  # the feature and threshold of a leaf
PURE = float(np.finfo(np.float64).eps)  # a node with impurity <= PURE is not split (as sklearn)


# ---------------------------------------------------------------------------------------------
# Impurities. Each maps summed statistics of shape (..., s) to one impurity per row, shape (...).


def gini(counts: FloatArray) -> FloatArray:
    """Gini impurity ``1 - Σ_k p_k²`` of class counts ``(..., C)``, eq. (tree-gini)."""
    p = counts / counts.sum(axis=-1, keepdims=True)
    return np.asarray(1.0 - np.sum(p * p, axis=-1), dtype=np.float64)


def entropy(counts: FloatArray) -> FloatArray:
    """Entropy ``-Σ_k p_k log2 p_k`` in bits of class counts ``(..., C)``, eq. (tree-entropy)."""
    p = counts / counts.sum(axis=-1, keepdims=True)
    return np.asarray(entr(p).sum(axis=-1) / math.log(2), dtype=np.float64)


def squared_error(sums: FloatArray) -> FloatArray:
    """Variance ``mean(y²) - mean(y)²`` from the sums ``(..., 3) = (n, Σy, Σy²)``, eq. (tree-mse).

    This is the node's mean squared error around its mean prediction, computed like
    scikit-learn does (which is what makes the two trees agree to rounding).
    """
    n, sum_y, sum_y2 = sums[..., 0], sums[..., 1], sums[..., 2]
    return np.asarray(sum_y2 / n - (sum_y / n) ** 2, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# The split search, shared by the classifier and the regressor.


@dataclass(frozen=True)
class Split:
    """The best split ``x[:, feature] <= threshold`` of a node.

    ``children_impurity`` is ``n_left · I(left) + n_right · I(right)``: the node's weighted
    impurity decrease is ``n · I(node) - children_impurity``, so the best split minimises it.
    """

    feature: int
    threshold: float
    children_impurity: float


def best_split(
    x: FloatArray,
    stats: FloatArray,
    impurity: Impurity,
    min_samples_leaf: int,
    features: IntArray,
) -> Split | None:
    """The split with the lowest weighted child impurity, eq. (tree-best-split), or None.

    Parameters
    ----------
    x:
        The node's samples, shape ``(n, p)``.
    stats:
        Their statistics, shape ``(n, s)``: one-hot labels, or ``(1, y, y²)`` rows.
    impurity:
        Maps summed statistics ``(..., s)`` to impurities ``(...)``.
    min_samples_leaf:
        Each child must keep at least this many samples.
    features:
        The feature indices to search, in order; a later feature wins only if strictly better.
    """
    n = len(x)
    total = stats.sum(axis=0)  # (s,)
    n_left = np.arange(1, n)  # (n - 1,): left-child sizes, cutting after sorted sample i
    n_right = n - n_left
    size_ok = (n_left >= min_samples_leaf) & (n_right >= min_samples_leaf)  # (n - 1,)
    best: Split | None = None
    for j in features:
        order = np.argsort(x[:, j], kind="stable")
        values = x[order, j]  # (n,), sorted
        left = np.cumsum(stats[order], axis=0)[:-1]  # (n - 1, s): statistics of the left child
        right = total - left  # (n - 1, s)
        cost = n_left * impurity(left) + n_right * impurity(right)  # (n - 1,), N_L I(L) + N_R I(R)
        valid = size_ok & (values[1:] > values[:-1])  # cut only between distinct values
        if not valid.any():
            continue
        i = int(np.flatnonzero(valid)[np.argmin(cost[valid])])  # first of equal minima
        if best is None or cost[i] < best.children_impurity:
            threshold = values[i] / 2.0 + values[i + 1] / 2.0  # the midpoint, without overflow
            if threshold >= values[i + 1]:  # adjacent floats: the midpoint rounds up
                threshold = values[i]
            best = Split(int(j), float(threshold), float(cost[i]))
    return best


# ---------------------------------------------------------------------------------------------
# The tree: parallel arrays, grown depth-first.


@dataclass
class Tree:
    """A fitted tree as parallel arrays indexed by node id (depth-first, left child first).

    ``value`` holds, per node, the class proportions ``(n_nodes, C)`` for a classifier or the
    mean target ``(n_nodes, 1)`` for a regressor.
    """

    children_left: IntArray
    children_right: IntArray
    feature: IntArray
    threshold: FloatArray
    impurity: FloatArray
    n_node_samples: IntArray
    depth: IntArray
    value: FloatArray

    @property
    def node_count(self) -> int:
        return len(self.feature)

    @property
    def max_depth(self) -> int:
        return int(self.depth.max())

    @property
    def n_leaves(self) -> int:
        return int(np.sum(self.children_left == LEAF))

    def apply(self, x: FloatArray) -> IntArray:
        """The leaf that each row of ``x`` ``(m, p)`` falls into, shape ``(m,)``.

        All rows descend together, one level per iteration of the loop.
        """
        node = np.zeros(len(x), dtype=np.intp)  # every row starts at the root
        while True:
            active = np.flatnonzero(self.children_left[node] != LEAF)  # rows not yet at a leaf
            if len(active) == 0:
                return node
            at = node[active]
            goes_left = x[active, self.feature[at]] <= self.threshold[at]
            node[active] = np.where(goes_left, self.children_left[at], self.children_right[at])

    def feature_importances(self, n_features: int) -> FloatArray:
        """Total weighted impurity decrease per feature, normalised to sum to 1 (if any split).

        Each internal node ``t`` adds ``n_t I(t) - n_left I(left) - n_right I(right)`` to its
        feature, eq. (tree-importance): scikit-learn's ``feature_importances_`` (mean decrease
        in impurity).
        """
        importances = np.zeros(n_features)
        weighted = self.n_node_samples * self.impurity  # (n_nodes,)
        for node in np.flatnonzero(self.children_left != LEAF):
            left, right = self.children_left[node], self.children_right[node]
            decrease = weighted[node] - weighted[left] - weighted[right]
            importances[self.feature[node]] += decrease
        total = importances.sum()
        return importances / total if total > 0 else importances


@dataclass
class _Nodes:
    """The growing tree's columns, one list per ``Tree`` field."""

    children_left: list[int] = field(default_factory=list)
    children_right: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    impurity: list[float] = field(default_factory=list)
    n_node_samples: list[int] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    value: list[FloatArray] = field(default_factory=list)


def grow_tree(
    x: FloatArray,
    stats: FloatArray,
    impurity: Impurity,
    node_value: Callable[[FloatArray], FloatArray],
    *,
    max_depth: int | None,
    min_samples_split: int,
    min_samples_leaf: int,
    n_split_features: int,
    rng: np.random.RandomState,
) -> Tree:
    """Grow a CART tree by recursive best splits (depth-first, left child first).

    A node becomes a leaf when it is at ``max_depth``, has fewer than ``min_samples_split``
    (or ``2 · min_samples_leaf``) samples, is pure, or has no valid split. Each split searches
    ``n_split_features`` features (all of them, in order, when that is ``p``; otherwise a random
    subset drawn per node, as a random forest does). ``node_value`` maps a node's summed
    statistics to what it predicts.
    """
    nodes = _Nodes()
    n_features = x.shape[1]
    depth_limit = math.inf if max_depth is None else max_depth

    def grow(rows: IntArray, depth: int) -> int:
        node_stats = stats[rows].sum(axis=0)
        node_impurity = float(impurity(node_stats))
        node_id = len(nodes.feature)
        nodes.children_left.append(LEAF)
        nodes.children_right.append(LEAF)
        nodes.feature.append(UNDEFINED)
        nodes.threshold.append(float(UNDEFINED))
        nodes.impurity.append(node_impurity)
        nodes.n_node_samples.append(len(rows))
        nodes.depth.append(depth)
        nodes.value.append(node_value(node_stats))
        too_small = len(rows) < max(min_samples_split, 2 * min_samples_leaf)
        if depth >= depth_limit or too_small or node_impurity <= PURE:
            return node_id
        if n_split_features < n_features:
            features = rng.choice(n_features, size=n_split_features, replace=False)
        else:
            features = np.arange(n_features)
        split = best_split(x[rows], stats[rows], impurity, min_samples_leaf, features)
        if split is None:  # every searched feature is constant on this node
            return node_id
        nodes.feature[node_id], nodes.threshold[node_id] = split.feature, split.threshold
        goes_left = x[rows, split.feature] <= split.threshold
        nodes.children_left[node_id] = grow(rows[goes_left], depth + 1)
        nodes.children_right[node_id] = grow(rows[~goes_left], depth + 1)
        return node_id

    grow(np.arange(len(x)), depth=0)
    return Tree(
        children_left=np.array(nodes.children_left, dtype=np.intp),
        children_right=np.array(nodes.children_right, dtype=np.intp),
        feature=np.array(nodes.feature, dtype=np.intp),
        threshold=np.array(nodes.threshold, dtype=np.float64),
        impurity=np.array(nodes.impurity, dtype=np.float64),
        n_node_samples=np.array(nodes.n_node_samples, dtype=np.intp),
        depth=np.array(nodes.depth, dtype=np.intp),
        value=np.array(nodes.value, dtype=np.float64),
    )


# ---------------------------------------------------------------------------------------------
# The scikit-learn estimators.


def _n_split_features(max_features: MaxFeatures, n_features: int) -> int:
    """How many features each split searches, from scikit-learn's ``max_features`` options."""
    if max_features is None:
        return n_features
    if max_features == "sqrt":
        return max(1, int(math.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(math.log2(n_features)))
    is_int = isinstance(max_features, int | np.integer) and not isinstance(max_features, bool)
    if is_int and 1 <= max_features <= n_features:
        return int(max_features)
    if isinstance(max_features, float) and 0.0 < max_features <= 1.0:
        return max(1, int(max_features * n_features))
    raise ValueError(
        "max_features must be an int in [1, n_features], a float in (0, 1], 'sqrt', 'log2' "
        f"or None; got {max_features!r}"
    )


def _check_int(name: str, value: object, minimum: int, none_ok: bool = False) -> None:
    if none_ok and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


class _BaseTree(BaseEstimator):  # type: ignore[misc]  # sklearn ships no type hints
    """Hyperparameters and fitting code shared by the classifier and the regressor."""

    criterion: str
    max_depth: int | None
    min_samples_split: int
    min_samples_leaf: int
    max_features: MaxFeatures
    random_state: int | np.random.RandomState | None
    tree_: Tree

    def _fit_tree(
        self,
        x: FloatArray,
        stats: FloatArray,
        impurity: Impurity,
        node_value: Callable[[FloatArray], FloatArray],
    ) -> None:
        _check_int("max_depth", self.max_depth, 1, none_ok=True)
        _check_int("min_samples_split", self.min_samples_split, 2)
        _check_int("min_samples_leaf", self.min_samples_leaf, 1)
        self.tree_ = grow_tree(
            x,
            stats,
            impurity,
            node_value,
            max_depth=self.max_depth,
            min_samples_split=self.min_samples_split,
            min_samples_leaf=self.min_samples_leaf,
            n_split_features=_n_split_features(self.max_features, x.shape[1]),
            rng=check_random_state(self.random_state),
        )
        self.feature_importances_ = self.tree_.feature_importances(x.shape[1])

    def apply(self, X: ArrayLike) -> IntArray:
        """The index of the leaf each sample falls into, shape ``(n_samples,)``."""
        check_is_fitted(self)
        x = validate_data(self, X, reset=False)
        return self.tree_.apply(x)

    def get_depth(self) -> int:
        check_is_fitted(self)
        return self.tree_.max_depth

    def get_n_leaves(self) -> int:
        check_is_fitted(self)
        return self.tree_.n_leaves


class DecisionTreeClassifier(ClassifierMixin, _BaseTree):  # type: ignore[misc]
    """CART classification tree, splitting on the Gini impurity or the entropy.

    Parameters
    ----------
    criterion:
        ``"gini"`` (``1 - Σ p_k²``, CART's default) or ``"entropy"`` (``-Σ p_k log2 p_k``,
        whose decrease is the information gain).
    max_depth:
        The root has depth 0; ``None`` grows until the leaves are pure or too small.
    min_samples_split:
        A node with fewer samples is a leaf.
    min_samples_leaf:
        A split must leave at least this many samples on each side.
    max_features:
        Features searched per split (scikit-learn's options); ``None`` searches all, in order.
    random_state:
        Seeds the per-node feature subsets when ``max_features`` is set.

    Attributes
    ----------
    classes_, n_classes_, n_features_in_, tree_, feature_importances_
    """

    def __init__(
        self,
        criterion: Literal["gini", "entropy"] = "gini",
        max_depth: int | None = None,
        min_samples_split: int = 2,
        min_samples_leaf: int = 1,
        max_features: MaxFeatures = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> DecisionTreeClassifier:
        impurities: dict[str, Impurity] = {"gini": gini, "entropy": entropy}
        if self.criterion not in impurities:
            raise ValueError(f"criterion must be 'gini' or 'entropy', got {self.criterion!r}")
        x, labels = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(labels)
        self.classes_, y_index = np.unique(labels, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        one_hot = np.eye(self.n_classes_)[y_index]  # (n, C): summed, these are class counts

        def class_proportions(counts: FloatArray) -> FloatArray:
            return counts / float(counts.sum())

        self._fit_tree(x, one_hot, impurities[self.criterion], class_proportions)
        return self

    def predict_proba(self, X: ArrayLike) -> FloatArray:
        """Class proportions of the training samples in each sample's leaf, ``(n, C)``."""
        leaves = self.apply(X)  # (n,)
        return np.asarray(self.tree_.value[leaves], dtype=np.float64)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The majority class of each sample's leaf (the first class on a tie)."""
        proba = self.predict_proba(X)  # (n, C)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])


class DecisionTreeRegressor(RegressorMixin, _BaseTree):  # type: ignore[misc]
    """CART regression tree: splits minimise the children's squared error; leaves predict means.

    Parameters are those of :class:`DecisionTreeClassifier`, with ``criterion`` fixed to
    ``"squared_error"``.
    """

    def __init__(
        self,
        criterion: Literal["squared_error"] = "squared_error",
        max_depth: int | None = None,
        min_samples_split: int = 2,
        min_samples_leaf: int = 1,
        max_features: MaxFeatures = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> DecisionTreeRegressor:
        if self.criterion != "squared_error":
            raise ValueError(f"criterion must be 'squared_error', got {self.criterion!r}")
        x, target = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        y_values = np.asarray(target, dtype=np.float64)
        # (n, 3) statistics per sample; summed over a node, they are (n, Σy, Σy²)
        stats = np.column_stack([np.ones_like(y_values), y_values, y_values**2])

        def mean(sums: FloatArray) -> FloatArray:
            return np.array([sums[1] / sums[0]])

        self._fit_tree(x, stats, squared_error, mean)
        return self

    def predict(self, X: ArrayLike) -> FloatArray:
        """The mean training target of each sample's leaf, shape ``(n,)``."""
        leaves = self.apply(X)  # (n,)
        return np.asarray(self.tree_.value[leaves, 0], dtype=np.float64)

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
# # 12. Precision, recall, F1, ROC-AUC and the PR curve
#
# **The question.** What are precision, recall, the F1 score, the ROC curve and its AUC, and the
# precision–recall curve? When do you use ROC and when PR?
#
# **What you will be able to answer.** Each metric as a formula of the confusion counts; how
# the ROC and PR curves are built from sorted scores (ties included); what AUC means as a
# probability; why average precision is a step sum; and what each curve does when negatives
# become more frequent.

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import rankdata
from sklearn import metrics as skm

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - From the confusion counts of a thresholded classifier: **precision**
#   $P=TP/(TP+FP)$ is the fraction of predicted positives that are positive, **recall**
#   (= true-positive rate, sensitivity) $R=TP/(TP+FN)$ the fraction of positives caught, and
#   **F1** $=2PR/(P+R)=2TP/(2TP+FP+FN)$ their harmonic mean; $F_\beta$ weights recall
#   $\beta$ times as much as precision. None of them uses $TN$.
# - The **ROC curve** plots $TPR$ against $FPR=FP/(FP+TN)$ as the threshold sweeps down
#   the scores. Its area, **AUC**, is the probability that a random positive scores above a
#   random negative, ties counting one half: $P(s^+>s^-)+\tfrac12P(s^+=s^-)$ (the
#   Mann–Whitney statistic). A random scorer gets 0.5.
# - The **PR curve** plots precision against recall; **average precision** is the step sum
#   $\text{AP}=\sum_n(R_n-R_{n-1})P_n$, not a trapezoid. A random scorer gets AP equal to the
#   prevalence.
# - Both curves rank by score; tied scores must move together (one diagonal step), or the
#   result depends on the order of the rows.
# - The notes' ✅/❌ table is wrong as absolute rules. ROC measures ranking quality and does
#   not depend on the prevalence (multiplying the negatives leaves it unchanged, exactly); PR
#   measures how trustworthy positive predictions are *at this prevalence*, so it drops when
#   negatives multiply. Use PR/AP when positives are rare and the positive class is what you
#   act on; use ROC to compare rankers across data sets with different prevalences; pick the
#   operating threshold from the costs of FP and FN, which neither area does for you.

# %% [markdown]
# ## Derivation
#
# ### Confusion counts and the thresholded metrics
#
# A classifier outputs a score $s(x)$; predicting positive when $s(x)\ge t$ splits the $n$
# examples into four counts: true positives $TP$, false positives $FP$, false negatives $FN$
# and true negatives $TN$. With $n_+=TP+FN$ positives and $n_-=FP+TN$ negatives:
#
# $$
# P=\frac{TP}{TP+FP},\qquad R=TPR=\frac{TP}{TP+FN},\qquad FPR=\frac{FP}{FP+TN}
# $$ (met-rates)
#
# The F-measure {cite}`vanrijsbergen1979information` is a weighted harmonic mean; substituting
# {eq}`met-rates` gives a form in counts that has no division by zero unless
# $TP=FP=FN=0$:
#
# $$
# F_\beta=\frac{(1+\beta^2)PR}{\beta^2P+R}=\frac{(1+\beta^2)TP}{(1+\beta^2)TP+\beta^2FN+FP},
# \qquad F_1=\frac{2TP}{2TP+FP+FN}
# $$ (met-fbeta)
#
# (Divide numerator and denominator of the first form by $PR$ to get
# $(1+\beta^2)/(\beta^2/R+1/P)$, then put $1/P=(TP+FP)/TP$ and $1/R=(TP+FN)/TP$.) The notes
# name F1 in the title and never define it.
#
# **Zero division.** scikit-learn computes $P$ with a zero denominator (no predicted
# positives) and $R$ with a zero denominator (no actual positives) as the `zero_division`
# value (default `"warn"`: 0 with a warning). $F_\beta$ uses the count form of
# {eq}`met-fbeta`, so it hits `zero_division` only when $TP=FP=FN=0$; if there are positives
# but no predictions, $F_\beta=0$ whatever `zero_division` says {cite}`sklearn2025metrics`.
#
# ### The ROC curve, with ties
#
# Sort the examples by score, descending, and let $t_1>t_2>\dots>t_m$ be the *distinct*
# scores. Lowering the threshold to $t_k$ admits every example with score $t_k$ at once, so
# with $\mathrm{TP}_k$, $\mathrm{FP}_k$ the counts with $s\ge t_k$:
#
# $$
# \big(FPR_k,\ TPR_k\big)=\Big(\frac{\mathrm{FP}_k}{n_-},\ \frac{\mathrm{TP}_k}{n_+}\Big),
# \qquad k=0,\dots,m,\quad \mathrm{TP}_0=\mathrm{FP}_0=0\ (t_0=+\infty)
# $$ (met-roc)
#
# A group of tied scores with $a$ positives and $b$ negatives is one segment from
# $(FPR,TPR)$ to $(FPR+b/n_-,\ TPR+a/n_+)$: a diagonal when both are non-zero. Treating the
# tied examples one at a time in some order would draw a staircase instead, whose area depends
# on that order.
#
# ### AUC = P(s⁺ > s⁻) + ½ P(s⁺ = s⁻)
#
# The ROC curve is piecewise linear, so its area is exact by the trapezoid rule:
#
# $$
# \text{AUC}=\sum_{k=1}^{m}\big(FPR_k-FPR_{k-1}\big)\,\frac{TPR_k+TPR_{k-1}}{2}
# $$ (met-auc-trapezoid)
#
# Group $k$ has $b_k$ negatives and $a_k$ positives. Its term is
# $\frac{b_k}{n_-}\cdot\frac1{n_+}\big(\mathrm{TP}_{k-1}+\tfrac12a_k\big)$: each of the $b_k$
# negatives is beaten by the $\mathrm{TP}_{k-1}$ positives with strictly higher scores and
# tied with the $a_k$ positives of its own group, which count one half. Summing over groups
# counts every (positive, negative) pair once:
#
# $$
# \text{AUC}=\frac{1}{n_+n_-}\sum_{i:\,y_i=1}\ \sum_{j:\,y_j=0}
# \Big(\mathbb 1[s_i>s_j]+\tfrac12\,\mathbb 1[s_i=s_j]\Big)
# =P(s^+>s^-)+\tfrac12P(s^+=s^-)
# $$ (met-auc-pairs)
#
# the Mann–Whitney $U$ statistic divided by $n_+n_-$ {cite}`mann1947test,hanley1982meaning`.
# It has an $O(n\log n)$ form through ranks: give every example its rank in ascending order
# of score, tied examples the *average* of their ranks; the positives' rank sum minus its
# smallest possible value $n_+(n_++1)/2$ is $U$:
#
# $$
# \text{AUC}=\frac{\sum_{i:\,y_i=1}\operatorname{rank}(s_i)-n_+(n_++1)/2}{n_+\,n_-}
# $$ (met-auc-rank)
#
# The average rank is what makes a tie count one half: two tied examples at ranks $r,r+1$
# both get $r+\tfrac12$.
#
# ### The PR curve and average precision
#
# At the same thresholds, $P_k=\mathrm{TP}_k/(\mathrm{TP}_k+\mathrm{FP}_k)$ and
# $R_k=\mathrm{TP}_k/n_+$. scikit-learn lists them with recall decreasing and appends the
# point $(R,P)=(0,1)$ with no threshold. Average precision weights each precision by the
# recall gained at that threshold:
#
# $$
# \text{AP}=\sum_{k=1}^{m}\big(R_k-R_{k-1}\big)\,P_k ,\qquad R_0=0
# $$ (met-ap)
#
# Without ties this is the mean, over the positives, of the precision at that positive's
# rank. It is a right-endpoint step sum on purpose: between two PR points, precision does
# not change linearly with recall (it is a ratio of counts), so the trapezoid rule draws a
# straight line the classifier cannot achieve and can overestimate the area, most where
# consecutive points are far apart (coarse or tied scores, and the first segment from the
# appended point $(0,1)$) {cite}`davis2006relationship`. scikit-learn therefore computes
# {eq}`met-ap` and says that it differs from `auc(recall, precision)`
# {cite}`sklearn2025metrics`.
#
# ### What prevalence does to each curve
#
# Replicate every negative $c$ times. At every threshold $\mathrm{FP}_k$ and $n_-$ both
# scale by $c$ and the positives are untouched, so $(FPR_k,TPR_k)$ are *the same numbers*:
# the ROC curve and AUC do not move. Precision becomes
#
# $$
# P_k(c)=\frac{\mathrm{TP}_k}{\mathrm{TP}_k+c\,\mathrm{FP}_k}
# =\frac{\pi\,TPR_k}{\pi\,TPR_k+(1-\pi)\,FPR_k}
# $$ (met-precision-prevalence)
#
# with $\pi=n_+/(n_++c\,n_-)$ the prevalence: for any $FPR_k>0$ it falls as $\pi$ falls.
# A scorer that ranks at random has $TPR_k=FPR_k$, so $P_k=\pi$ and AP $=\pi$: the PR
# baseline is the prevalence, while the ROC baseline is 0.5 whatever $\pi$ is
# {cite}`saito2015precision`.

# %% [markdown]
# ## Implementation from scratch
#
# Labels are 0/1 arrays, scores real arrays. Each function sits in its own cell so that the
# property tests can load it.
#
# ### Confusion counts and $F_\beta$
#
# {eq}`met-rates` and the count form of {eq}`met-fbeta`, with scikit-learn's zero-division
# rule.


# %%
def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) of 0/1 labels and 0/1 predictions."""
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    tn = int(np.sum(~y_true & ~y_pred))
    return tp, fp, fn, tn


# %%
def safe_divide(numerator: float, denominator: float, zero_division: float = 0.0) -> float:
    """numerator / denominator, or `zero_division` when the denominator is 0 (sklearn's rule)."""
    return numerator / denominator if denominator != 0 else float(zero_division)


# %%
def precision_recall_fbeta(
    tp: int, fp: int, fn: int, beta: float = 1.0, zero_division: float = 0.0
) -> tuple[float, float, float]:
    """Precision, recall and F-beta from counts, eq. (met-rates) and (met-fbeta)."""
    precision = safe_divide(tp, tp + fp, zero_division)  # eq. (met-rates)
    recall = safe_divide(tp, tp + fn, zero_division)
    b2 = beta**2
    # eq. (met-fbeta), count form: zero division only when TP = FP = FN = 0
    f_beta = safe_divide((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, zero_division)
    return precision, recall, f_beta


# %% [markdown]
# ### Counts at every distinct threshold
#
# One stable sort, descending. The indices where the sorted score changes are the last
# example of each tie group; cumulative sums read there give $\mathrm{TP}_k$ and
# $\mathrm{FP}_k$ after a whole group has been admitted, which is what groups the ties.


# %%
def counts_at_thresholds(
    y_true: np.ndarray, y_score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FP_k, TP_k and the threshold t_k at each distinct score, highest first."""
    y_true, y_score = np.asarray(y_true, dtype=float), np.asarray(y_score, dtype=float)
    order = np.argsort(-y_score, kind="stable")
    sorted_score, sorted_true = y_score[order], y_true[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_score)), sorted_score.size - 1]
    tps = np.cumsum(sorted_true)[last_of_group]
    fps = (last_of_group + 1) - tps  # examples admitted minus positives admitted
    return fps, tps, sorted_score[last_of_group]


# %% [markdown]
# ### ROC curve and AUC three ways
#
# {eq}`met-roc` with the starting point at $t_0=+\infty$ (scikit-learn's convention since
# version 1.3), then the trapezoid {eq}`met-auc-trapezoid`, the rank formula
# {eq}`met-auc-rank` and the brute-force pair count {eq}`met-auc-pairs`.


# %%
def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, ...]:
    """FPR, TPR and thresholds at every distinct score, eq. (met-roc)."""
    fps, tps, thresholds = counts_at_thresholds(y_true, y_score)
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]  # k = 0: nothing predicted positive
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, thresholds]


# %%
def trapezoid_area(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the piecewise-linear curve through (x, y), x non-decreasing."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


# %%
def roc_auc_trapezoid(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """ROC-AUC by the trapezoid rule on the tie-grouped curve, eq. (met-auc-trapezoid)."""
    fpr, tpr, _ = roc_curve(y_true, y_score)
    return trapezoid_area(fpr, tpr)


# %%
def roc_auc_rank(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """ROC-AUC as the Mann–Whitney U / (n+ n-), average ranks for ties, eq. (met-auc-rank)."""
    is_positive = np.asarray(y_true).astype(bool)
    n_pos, n_neg = is_positive.sum(), (~is_positive).sum()
    ranks = rankdata(y_score, method="average")  # ascending, ties share their mean rank
    u_statistic = ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u_statistic / (n_pos * n_neg))


# %%
def roc_auc_pairs(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """ROC-AUC by counting all (positive, negative) pairs, eq. (met-auc-pairs). O(n+ n-)."""
    is_positive = np.asarray(y_true).astype(bool)
    y_score = np.asarray(y_score, dtype=float)
    pos, neg = y_score[is_positive][:, None], y_score[~is_positive][None, :]  # (n+, 1), (1, n-)
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


# %% [markdown]
# The version people write first: sort, then take one step per *example*. On distinct scores
# it is correct; on ties the staircase depends on the order in which the sort leaves the
# tied rows.


# %%
def roc_auc_naive(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """WRONG on ties: one ROC step per example, ties broken by the order of the rows."""
    y_true = np.asarray(y_true, dtype=float)
    order = np.argsort(-np.asarray(y_score, dtype=float), kind="stable")
    tpr = np.r_[0.0, np.cumsum(y_true[order])] / y_true.sum()
    fpr = np.r_[0.0, np.cumsum(1 - y_true[order])] / (1 - y_true).sum()
    return trapezoid_area(fpr, tpr)


# %% [markdown]
# ### PR curve and average precision
#
# Same counts; precision is 0 where nothing is predicted positive (it cannot happen at a
# real threshold, which always admits at least one example), and the point $(R,P)=(0,1)$ is
# appended, as scikit-learn does. AP is {eq}`met-ap`.


# %%
def precision_recall_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall (decreasing) and thresholds (increasing), as sklearn returns them."""
    fps, tps, thresholds = counts_at_thresholds(y_true, y_score)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


# %%
def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """AP = Σ (R_k − R_{k−1}) P_k, a step sum, eq. (met-ap)."""
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    # recall is decreasing, so -diff(recall) are the recall gains, each paid at precision P_k
    return float(-np.sum(np.diff(recall) * precision[:-1]))


# %% [markdown]
# ### Multi-class averaging
#
# For $C$ classes, count $TP_c,FP_c,FN_c$ one-vs-rest. **Macro** averaging computes $F_1$
# per class and takes the plain mean (every class counts the same); **micro** averaging sums
# the counts over classes first and computes one $F_1$ (every example counts the same). In
# single-label problems every false positive of one class is a false negative of another, so
# $\sum_cFP_c=\sum_cFN_c$ and micro-$F_1$ equals accuracy.


# %%
def f1_multiclass(y_true: np.ndarray, y_pred: np.ndarray, average: str) -> float:
    """Micro or macro F1 from one-vs-rest counts."""
    classes = np.union1d(y_true, y_pred)
    counts = np.array([confusion_counts(y_true == c, y_pred == c)[:3] for c in classes])
    if average == "micro":
        return precision_recall_fbeta(*counts.sum(axis=0))[2]
    return float(np.mean([precision_recall_fbeta(*row)[2] for row in counts]))


# %% [markdown]
# ## Verification
#
# ### The errata's numbers
#
# $TP=40$, $FP=10$, $FN=20$, $TN=30$ (labels and predictions built to have those counts):

# %%
y_true_counts = np.r_[np.ones(60), np.zeros(40)].astype(int)
y_pred_counts = np.r_[np.ones(40), np.zeros(20), np.ones(10), np.zeros(30)].astype(int)
tp, fp, fn, tn = confusion_counts(y_true_counts, y_pred_counts)
check_equal("counts (TP, FP, FN, TN)", (tp, fp, fn, tn), (40, 10, 20, 30))
precision, recall, f1 = precision_recall_fbeta(tp, fp, fn)
fpr_counts, accuracy = fp / (fp + tn), (tp + tn) / (tp + fp + fn + tn)
check_close(
    "P, R, F1, FPR, specificity, accuracy vs errata",
    np.round([precision, recall, f1, fpr_counts, 1 - fpr_counts, accuracy], 4),
    np.array([0.8, 0.6667, 0.7273, 0.25, 0.75, 0.70]),
    atol=1e-12,
)
check_close("F1 vs sklearn.f1_score", f1, skm.f1_score(y_true_counts, y_pred_counts), atol=1e-15)
for beta in (0.5, 2.0):
    ours = precision_recall_fbeta(tp, fp, fn, beta=beta)[2]
    reference = skm.fbeta_score(y_true_counts, y_pred_counts, beta=beta)
    check_close(f"F_{beta} vs sklearn.fbeta_score", ours, reference, atol=1e-15)

# %% [markdown]
# Zero division: no positives and no positive predictions gives $F_1=$ `zero_division`;
# positives but no predictions gives $F_1=0$ whatever `zero_division` is.

# %%
for labels, predictions in [([0, 0, 0], [0, 0, 0]), ([1, 0, 0], [0, 0, 0])]:
    for zero_division in (0.0, 1.0):
        ours = precision_recall_fbeta(
            *confusion_counts(labels, predictions)[:3], 1.0, zero_division
        )
        reference = (
            skm.precision_score(labels, predictions, zero_division=zero_division),
            skm.recall_score(labels, predictions, zero_division=zero_division),
            skm.f1_score(labels, predictions, zero_division=zero_division),
        )
        check_equal(f"(P, R, F1) y={labels}, zero_division={zero_division}", ours, reference)

# %% [markdown]
# The four-example case $y=[0,0,1,1]$, $s=[0.1,0.4,0.35,0.8]$ (the Check yourself section
# works it out by hand):

# %%
y_small, s_small = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
check_close("AUC (trapezoid) = 0.75", roc_auc_trapezoid(y_small, s_small), 0.75, atol=1e-15)
check_close("AP = 0.8333", average_precision(y_small, s_small), 5 / 6, atol=1e-15)

# %% [markdown]
# ### Against scikit-learn on random and on tied scores
#
# Two data sets of 2000 examples: continuous scores (no ties) and the same scores rounded to
# one decimal (11 distinct values, hundreds of examples per tie group). The curves must match
# array for array, thresholds included.


# %%
def compare_with_sklearn(name: str, y_true: np.ndarray, y_score: np.ndarray) -> None:
    """Check every curve and area against sklearn.metrics and print one line per check."""
    ours_roc = roc_curve(y_true, y_score)
    reference_roc = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    for what, ours, reference in zip(
        ("FPR", "TPR", "thresholds"), ours_roc, reference_roc, strict=True
    ):
        check_close(f"{name}: roc_curve {what}", ours, reference, atol=1e-15)
    ours_pr = precision_recall_curve(y_true, y_score)
    reference_pr = skm.precision_recall_curve(y_true, y_score)
    for what, ours, reference in zip(
        ("precision", "recall", "thresholds"), ours_pr, reference_pr, strict=True
    ):
        check_close(f"{name}: precision_recall_curve {what}", ours, reference, atol=1e-15)
    reference_auc = skm.roc_auc_score(y_true, y_score)
    for method in (roc_auc_trapezoid, roc_auc_rank, roc_auc_pairs):
        check_close(
            f"{name}: {method.__name__}", method(y_true, y_score), reference_auc, atol=1e-12
        )
    ours_ap, reference_ap = (
        average_precision(y_true, y_score),
        skm.average_precision_score(y_true, y_score),
    )
    check_close(f"{name}: average_precision", ours_ap, reference_ap, atol=1e-12)


labels_random = rng.integers(0, 2, size=2000)
scores_random = rng.normal(size=2000) + 0.8 * labels_random
scores_tied = np.round(1 / (1 + np.exp(-scores_random)), 1)
print(
    f"distinct scores: {np.unique(scores_random).size} (random), "
    f"{np.unique(scores_tied).size} (rounded)"
)
compare_with_sklearn("random", labels_random, scores_random)
compare_with_sklearn("tied", labels_random, scores_tied)

# %% [markdown]
# The naive AUC agrees on distinct scores and disagrees on ties. Worse, on ties it depends on
# the order of the rows: sorting the data set by label first (positives on top or at the
# bottom) moves it in opposite directions, while the correct value stays put.

# %%
naive_random = roc_auc_naive(labels_random, scores_random)
check_close(
    "naive AUC on distinct scores",
    naive_random,
    roc_auc_rank(labels_random, scores_random),
    atol=1e-12,
)
correct_tied = roc_auc_rank(labels_random, scores_tied)
naive_tied = roc_auc_naive(labels_random, scores_tied)
positives_first = np.argsort(-labels_random, kind="stable")
negatives_first = np.argsort(labels_random, kind="stable")
naive_pos_first = roc_auc_naive(labels_random[positives_first], scores_tied[positives_first])
naive_neg_first = roc_auc_naive(labels_random[negatives_first], scores_tied[negatives_first])
print(
    f"tied scores: correct AUC {correct_tied:.4f}; naive AUC {naive_tied:.4f} (row order "
    f"as given), {naive_pos_first:.4f} (positives first), {naive_neg_first:.4f} (negatives first)"
)
check_true("naive AUC is wrong on ties", abs(naive_pos_first - correct_tied) > 0.01)

# %% [markdown]
# ### AUC is the pair probability, exactly
#
# {eq}`met-auc-pairs` by brute force over all $n_+n_-\approx10^6$ pairs, in exact rational
# arithmetic (integer counts of wins and ties), against the trapezoid area multiplied by
# $2n_+n_-$, which must be the integer $2\cdot\#\text{wins}+\#\text{ties}$.

# %%
is_pos = labels_random.astype(bool)
pair_pos, pair_neg = scores_tied[is_pos][:, None], scores_tied[~is_pos][None, :]
wins, ties = int(np.sum(pair_pos > pair_neg)), int(np.sum(pair_pos == pair_neg))
n_pairs = int(is_pos.sum() * (~is_pos).sum())
twice_area = roc_auc_trapezoid(labels_random, scores_tied) * 2 * n_pairs
print(f"{n_pairs} pairs: {wins} wins, {ties} ties → AUC = {(wins + ties / 2) / n_pairs:.6f}")
check_close(
    "2·n+·n-·AUC(trapezoid) vs 2·wins + ties", twice_area, float(2 * wins + ties), atol=1e-6
)
check_equal("it is that integer", round(twice_area), 2 * wins + ties)

# %% [markdown]
# ### Micro and macro F1

# %%
labels_3 = rng.choice(3, size=600, p=[0.7, 0.2, 0.1])
predictions_3 = np.where(rng.random(600) < 0.7, labels_3, rng.integers(0, 3, 600))
for average in ("micro", "macro"):
    check_close(
        f"{average} F1 vs sklearn",
        f1_multiclass(labels_3, predictions_3, average),
        skm.f1_score(labels_3, predictions_3, average=average),
        atol=1e-15,
    )
micro_f1 = f1_multiclass(labels_3, predictions_3, "micro")
check_close("micro F1 = accuracy", micro_f1, np.mean(labels_3 == predictions_3), atol=1e-15)
print(f"micro F1 {micro_f1:.4f}, macro F1 {f1_multiclass(labels_3, predictions_3, 'macro'):.4f}")

# %% [markdown]
# ## Experiments
#
# ### Multiplying the negatives: ROC stays, PR drops
#
# Positives score $\mathcal N(1.5,1)$, negatives $\mathcal N(0,1)$ (separation
# $d'=1.5$, so the population AUC is $\Phi(d'/\sqrt2)$), 500 of each. Then every negative
# is replicated 10 and 100 times: the same classifier, the same ranking, prevalence 50 %,
# 9.1 % and 1 %.

# %%
D_PRIME = 1.5
positives = rng.normal(D_PRIME, 1.0, size=500)
negatives = rng.normal(0.0, 1.0, size=500)
REPLICATIONS = (1, 10, 100)
curves = {}
for copies in REPLICATIONS:
    scores = np.r_[positives, np.tile(negatives, copies)]
    labels = np.r_[np.ones(positives.size), np.zeros(negatives.size * copies)].astype(int)
    curves[copies] = dict(
        roc=roc_curve(labels, scores),
        pr=precision_recall_curve(labels, scores),
        auc=roc_auc_trapezoid(labels, scores),
        ap=average_precision(labels, scores),
        prevalence=labels.mean(),
        labels=labels,
        scores=scores,
    )
    check_close(
        f"×{copies}: AP vs sklearn",
        curves[copies]["ap"],
        skm.average_precision_score(labels, scores),
        atol=1e-12,
    )
for copies in REPLICATIONS[1:]:
    for what, ours, base in zip(
        ("FPR", "TPR"), curves[copies]["roc"][:2], curves[1]["roc"][:2], strict=True
    ):
        check_close(f"×{copies}: ROC {what} identical to ×1", ours, base, atol=0.0)
    check_close(
        f"×{copies}: AUC identical to ×1", curves[copies]["auc"], curves[1]["auc"], atol=0.0
    )
for copies in REPLICATIONS:
    c = curves[copies]
    print(f"×{copies:>3}: prevalence {c['prevalence']:.4f}  AUC {c['auc']:.4f}  AP {c['ap']:.4f}")
check_true("AP falls as negatives multiply", curves[1]["ap"] > curves[10]["ap"] > curves[100]["ap"])

# %%
fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4.2))
for color, copies in zip(PALETTE, REPLICATIONS, strict=False):
    c = curves[copies]
    fpr, tpr, _ = c["roc"]
    precision_c, recall_c, _ = c["pr"]
    label = f"negatives ×{copies} (π = {c['prevalence']:.3f})"
    ax_roc.plot(
        fpr,
        tpr,
        color=color,
        lw=2.5 - 0.7 * REPLICATIONS.index(copies),
        label=f"{label}, AUC {c['auc']:.3f}",
    )
    ax_pr.step(recall_c, precision_c, where="post", color=color, label=f"{label}, AP {c['ap']:.3f}")
    ax_pr.axhline(c["prevalence"], color=color, ls=":", lw=1)
ax_roc.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="random ranking, AUC 0.5")
ax_roc.set(
    xlabel="false-positive rate FPR",
    ylabel="true-positive rate TPR",
    title=f"ROC: identical curves, AUC {curves[1]['auc']:.3f} at every ratio",
)
ax_pr.set(
    xlabel="recall",
    ylabel="precision",
    ylim=(0, 1.3),
    yticks=np.linspace(0, 1, 6),
    title=f"PR: AP falls {curves[1]['ap']:.2f} → {curves[10]['ap']:.2f} → {curves[100]['ap']:.2f}",
)
ax_roc.legend(loc="lower right", fontsize=8)
ax_pr.legend(
    loc="upper right", fontsize=8, title="dotted: prevalence = random AP", title_fontsize=8
)
plt.show()

# %% [markdown]
# The three ROC curves lie on top of each other: FPR is a rate *within* the negatives, and
# replication does not change any rate. The PR curves fall towards their dotted baselines:
# at the same recall, the same fraction of negatives above the threshold is now 10 or 100
# times more negatives, {eq}`met-precision-prevalence`. The errata report AP 0.8508 → 0.4424
# at ×10 for their sample; this sample's values are printed above (a different seed and sample
# size move the third decimal, not the picture).
#
# The random-ranking baseline, checked: a constant score puts everything in one tie group, so
# the PR "curve" is one step at precision $\pi$ and AP $=\pi$ exactly, while AUC is 0.5.

# %%
for copies in REPLICATIONS:
    constant = np.zeros_like(curves[copies]["scores"])
    check_close(
        f"×{copies}: AP of a constant score = prevalence",
        average_precision(curves[copies]["labels"], constant),
        curves[copies]["prevalence"],
        atol=1e-15,
    )
check_close("AUC of a constant score", roc_auc_rank(curves[100]["labels"], constant), 0.5, atol=0)

# %% [markdown]
# So instead of the notes' table:
#
# - **ROC/AUC** answers *how well does the score rank positives above negatives*, which does
#   not depend on the prevalence. It is the right summary to compare rankers across data sets
#   or over time as the prevalence drifts. When negatives vastly outnumber positives it can
#   look excellent while the precision at any useful recall is low: an FPR of 1 % is 1000 false
#   alarms among 100 000 negatives.
# - **PR/AP** answers *how trustworthy are the positive predictions at this prevalence*. It is
#   the more informative summary when positives are rare and you act on the predicted
#   positives (fraud, screening, retrieval), and it is perfectly valid on balanced data too.
#   AP values are only comparable at the same prevalence; report the prevalence next to them.
# - "False positives matter more" does not pick a curve: both curves contain the FPs (FPR in
#   ROC, precision in PR). It picks a **threshold**: the operating point minimising the expected
#   cost $c_{FP}\,FP+c_{FN}\,FN$, read off either curve.
#
# ### Choosing the threshold is a separate decision
#
# An area summarises all thresholds; deploying a classifier needs one. The $F_1$ at every
# threshold of the PR curve is $2P_kR_k/(P_k+R_k)$. The ranking is the same at ×1 and ×10,
# but the best threshold is not.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
best = {}
for color, copies in zip(PALETTE, REPLICATIONS[:2], strict=False):
    precision_c, recall_c, thresholds_c = curves[copies]["pr"]
    precision_c, recall_c = precision_c[:-1], recall_c[:-1]  # drop the appended (0, 1) point
    f1_curve = np.divide(
        2 * precision_c * recall_c,
        precision_c + recall_c,
        out=np.zeros_like(precision_c),
        where=precision_c + recall_c > 0,
    )
    i_best = int(np.argmax(f1_curve))
    best[copies] = (thresholds_c[i_best], f1_curve[i_best])
    ax.plot(thresholds_c, f1_curve, color=color, label=f"negatives ×{copies}")
    ax.plot(
        *best[copies],
        "o",
        color=color,
        ms=8,
        label=f"best: t = {best[copies][0]:.2f}, F1 = {best[copies][1]:.3f}",
    )
ax.set(
    xlabel="threshold t (predict positive when s ≥ t)",
    ylabel="F1",
    title=f"Same AUC ({curves[1]['auc']:.3f}), best-F1 threshold moves "
    f"{best[1][0]:.2f} → {best[10][0]:.2f}",
)
ax.set_ylim(0, 1.15)
ax.legend(loc="upper right", fontsize=9, ncols=2)
plt.show()
check_true("the best-F1 threshold rises with the number of negatives", best[10][0] > best[1][0])
check_close(
    "best F1 at ×1 vs sklearn f1_score at that threshold",
    best[1][1],
    skm.f1_score(curves[1]["labels"], curves[1]["scores"] >= best[1][0]),
    atol=1e-12,
)

# %% [markdown]
# With ten times more negatives, each unit of recall costs ten times more false positives,
# so the F1-optimal threshold moves up. The model (its ranking, its AUC) did not change; the
# decision did. Choose the threshold on validation data, from F1 only if FP and FN cost
# the same, otherwise from the costs.
#
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "My model has 99 % accuracy." Is that good?
# Not by itself: with 1 % positives, predicting "negative" always gets 99 % accuracy and
# recall 0 — the accuracy paradox, worked out in chapter 11 (imbalanced data). Report recall
# and precision (or AP) of the rare class, and compare against the trivial baseline.
# :::
#
# :::{dropdown} Is average precision the area under the PR curve?
# Not the area under the *linearly interpolated* one. `sklearn.metrics.auc(recall, precision)`
# draws straight lines between PR points, which the classifier cannot achieve, and comes out
# larger; AP is the step sum {eq}`met-ap` {cite}`davis2006relationship`. Other definitions
# exist too: PASCAL VOC's 11-point AP takes, at each recall level, the maximum precision to
# its right. Always say which AP you report. The cell below compares the two on the random
# and the tied scores of the Verification section, and on six examples where one tie group
# takes recall from 1/3 to 1 while precision falls from 1 to 0.6: the straight line credits
# the average precision 0.8 over that stretch, but breaking the tie in a random order
# gives a curve below the line. With distinct scores the points are dense and the two agree
# closely; the gap opens where points are far apart.
# :::

# %%
for name, scores in [("distinct", scores_random), ("tied", scores_tied)]:
    precision_c, recall_c, _ = precision_recall_curve(labels_random, scores)
    print(
        f"{name} scores: AP (step sum) {average_precision(labels_random, scores):.4f}, "
        f"trapezoid area {skm.auc(recall_c, precision_c):.4f}"
    )
y_tie, s_tie = np.array([1, 1, 0, 0, 1, 0]), np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1])
precision_tie, recall_tie, _ = precision_recall_curve(y_tie, s_tie)
check_close(
    "6 examples: AP = 1/3 + 2/3 · 0.6", average_precision(y_tie, s_tie), 11 / 15, atol=1e-15
)
check_close(
    "6 examples: trapezoid = 1/3 + 2/3 · 0.8",
    skm.auc(recall_tie, precision_tie),
    13 / 15,
    atol=1e-15,
)

# %% [markdown]
# :::{dropdown} Micro or macro averaging for multi-class F1?
# Macro averages the per-class F1 scores, so a rare class counts as much as a frequent one;
# micro pools the counts, so frequent classes dominate, and for single-label data micro-F1
# equals accuracy (checked in Verification). Use macro when the rare classes matter;
# `average="weighted"` weights the per-class scores by class size, which sits in between.
# :::
#
# :::{dropdown} What does F1 not see?
# True negatives: {eq}`met-fbeta` has no $TN$. Adding 10 000 correctly rejected negatives
# changes accuracy and specificity, not F1. That is a feature when negatives are
# uninteresting (retrieval) and a blind spot when correct rejections matter; Matthews'
# correlation coefficient uses all four counts.
# :::

# %%
f1_before = precision_recall_fbeta(tp, fp, fn)[2]
accuracy_after = (tp + tn + 10_000) / (tp + fp + fn + tn + 10_000)
print(
    f"errata counts: F1 {f1_before:.4f}, accuracy {accuracy:.4f}; with 10 000 more TN: "
    f"F1 {precision_recall_fbeta(tp, fp, fn)[2]:.4f}, accuracy {accuracy_after:.4f}"
)

# %% [markdown]
# :::{dropdown} Does a high AUC mean good probabilities?
# No. AUC depends only on the order of the scores, so any strictly increasing transformation
# (cubing a probability, a temperature in the sigmoid) leaves it unchanged while the
# probabilities become badly calibrated. Check calibration separately (reliability diagram,
# Brier score, log-loss).
# :::

# %%
probabilities = 1 / (1 + np.exp(-(curves[1]["scores"] - D_PRIME / 2) * D_PRIME))
for name, p in [("Bayes posterior", probabilities), ("posterior cubed", probabilities**3)]:
    print(
        f"{name:>16}: AUC {roc_auc_rank(curves[1]['labels'], p):.4f}, "
        f"Brier {skm.brier_score_loss(curves[1]['labels'], p):.4f}"
    )
check_close(
    "AUC unchanged by a monotone transform",
    roc_auc_rank(curves[1]["labels"], probabilities**3),
    curves[1]["auc"],
    atol=1e-12,
)

# %% [markdown]
# :::{dropdown} Is the PR curve monotone like the ROC curve?
# No. Lowering the threshold never lowers TPR or FPR, so ROC only goes up and right. Precision
# goes up when the next group is mostly positive and down when it is mostly negative, so the
# PR curve zig-zags (the first points, with a handful of predictions, zig-zag the most). That
# is another reason not to connect its points with straight lines.
# :::

# %%
precision_1 = curves[1]["pr"][0][:-1]
increases = int(np.sum(np.diff(precision_1[::-1]) > 0))
print(
    f"×1 data: precision rises at {increases} of {precision_1.size - 1} threshold steps "
    "as the threshold is lowered"
)
check_true("the PR curve is not monotone", increases > 0)

# %% [markdown]
# :::{dropdown} Why does scikit-learn's ROC start at threshold $+\infty$?
# The point $(0,0)$, "predict nothing positive", needs a threshold above every score. Since
# version 1.3 scikit-learn uses `np.inf` there (before, the maximum score plus one). With the
# default `drop_intermediate=True`, `roc_curve` also drops collinear points, which changes the
# arrays but not the area.
# :::
#
# :::{dropdown} An interviewer asks for AUC in $O(n\log n)$ without drawing a curve.
# Rank formula {eq}`met-auc-rank`: one sort (with average ranks for ties), one sum. It is also
# the basis of the Mann–Whitney test of whether AUC differs from 0.5.
# :::
#
# ## Check yourself
#
# 1. Compute ROC-AUC and AP by hand for $y=[0,0,1,1]$, $s=[0.1,0.4,0.35,0.8]$.
#
#    :::{dropdown} Answer
#    Pairs (positive, negative): $0.35>0.1$ ✓, $0.35<0.4$ ✗, $0.8>0.1$ ✓, $0.8>0.4$ ✓, so
#    AUC $=3/4=0.75$. Lowering the threshold: at 0.8, $P=1$, $R=\tfrac12$; at 0.4, $P=\tfrac12$,
#    $R=\tfrac12$ (no recall gained); at 0.35, $P=\tfrac23$, $R=1$; at 0.1, no recall gained.
#    AP $=\tfrac12\cdot1+\tfrac12\cdot\tfrac23=\tfrac56\approx0.8333$. The next cell checks
#    both against the pair count and scikit-learn.
#    :::

# %%
check_close("hand AUC 3/4 vs pair count", roc_auc_pairs(y_small, s_small), 0.75, atol=0)
check_close(
    "hand AP 5/6 vs sklearn", skm.average_precision_score(y_small, s_small), 5 / 6, atol=1e-15
)

# %% [markdown]
# 2. A scorer outputs 0.5 for every example on a data set with 2 % positives. What are its
#    AUC and AP? What if it outputs a random number instead?
#
#    :::{dropdown} Answer
#    Constant: one tie group, so the ROC is the diagonal (AUC exactly 0.5) and the PR curve is
#    one step at precision 0.02 (AP exactly 0.02). Random scores: both are the same *in
#    expectation*, with noise; AP's noise around 0.02 is large relative to 0.02 when there are
#    few positives.
#    :::
#
# 3. Recall 0.9 at FPR 0.05 sounds good. With 1 positive per 1000 examples, what fraction of
#    alarms are real?
#
#    :::{dropdown} Answer
#    {eq}`met-precision-prevalence`: $P=\dfrac{0.001\cdot0.9}{0.001\cdot0.9+0.999\cdot0.05}
#    \approx0.0177$: fewer than 2 alarms in 100 are real. The ROC point is the same at any
#    prevalence; the precision is not. The next cell checks the formula on counts.
#    :::

# %%
n_positive, n_negative = 1_000, 999_000
precision_formula = 0.001 * 0.9 / (0.001 * 0.9 + 0.999 * 0.05)
precision_counts = (0.9 * n_positive) / (0.9 * n_positive + 0.05 * n_negative)
check_close("precision at prevalence 0.1 %", precision_counts, precision_formula, atol=1e-15)
print(f"precision = {precision_formula:.4f}")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`fawcett2006introduction`: Sections 4–7 (building the ROC curve from sorted
#   scores, ties as diagonal segments, AUC and its probabilistic meaning, invariance to class
#   skew).
# - {cite:t}`hanley1982meaning` and {cite:t}`mann1947test`: AUC as the Mann–Whitney
#   statistic, eq. {eq}`met-auc-pairs` and {eq}`met-auc-rank`.
# - {cite:t}`davis2006relationship`: Sections 3–4 (ROC/PR correspondence, why linear
#   interpolation in PR space is over-optimistic).
# - {cite:t}`saito2015precision`: PR vs ROC on imbalanced data, the prevalence baseline of
#   PR.
# - {cite:t}`vanrijsbergen1979information`, Chapter 7: the F-measure.
# - {cite:t}`sklearn2025metrics`: `roc_curve`, `precision_recall_curve`,
#   `average_precision_score` (step sum, not interpolated) and the `zero_division` rule,
#   which the from-scratch functions reproduce; {cite:t}`pedregosa2011sklearn`.

"""scikit-learn's estimator checks on TSNE of notebooks/ml/14_tsne.py.

TSNE has `fit` and `fit_transform` but, like scikit-learn's, no `transform`; the checks adapt
to that, and every one of them passes, so no expected failures are listed.
"""

from __future__ import annotations

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/14_tsne.py")

# Perplexity 2, as scikit-learn configures its own TSNE for these checks: they fit data sets
# of a few dozen samples, and the perplexity must stay below n_samples. 300 iterations (250
# exaggerated, 50 not) keep the checks fast.
ESTIMATORS = [
    ch.TSNE(perplexity=2, max_iter=300, random_state=0),
    ch.TSNE(perplexity=2, max_iter=300, init="random", random_state=0),
]

test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)

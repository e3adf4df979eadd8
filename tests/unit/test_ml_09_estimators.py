"""scikit-learn's estimator checks on FisherLDA of notebooks/ml/09_pca_vs_lda.py."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/09_pca_vs_lda.py")

ESTIMATORS = [
    ch.FisherLDA(),
    ch.FisherLDA(n_components=1),
    ch.FisherLDA(shrinkage=0.3),
]


def expected_failed_checks(estimator: BaseEstimator) -> dict[str, str]:
    """Checks that cannot pass by design, with the reason."""
    if estimator.shrinkage is None:
        return {
            "check_array_api_input": (
                "its data come from make_classification with redundant features, exact linear "
                "combinations of others, so S_W is singular; without shrinkage FisherLDA raises "
                "a ValueError on purpose (the chapter's d >= n pitfall), and the instance with "
                "shrinkage passes this check"
            )
        }
    return {}


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS, expected_failed_checks)

"""scikit-learn's estimator checks on KMeans and GaussianMixture of
notebooks/ml/13_learning_paradigms.py."""

from __future__ import annotations

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/13_learning_paradigms.py")

ESTIMATORS = [
    ch.KMeans(),
    ch.KMeans(n_clusters=3, init="random", n_init=3),
    ch.GaussianMixture(),
    ch.GaussianMixture(n_components=2, init_params="random", n_init=2),
]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)

"""scikit-learn's estimator checks on the from-scratch random forests and gradient boosting of
notebooks/ml/05_random_forest_vs_gradient_boosting.py.

The ensembles are built on the pure-NumPy trees of `notebook_utils.trees`, so they are checked
with few trees to keep the run short; one instance of each also uses scikit-learn's tree as the
`estimator` template, the configuration the chapter's experiments use.
"""

from __future__ import annotations

import sklearn.tree

from tests.chapter_code import load_chapter_definitions
from tests.estimator_checks import sklearn_estimator_checks

ch = load_chapter_definitions("notebooks/ml/05_random_forest_vs_gradient_boosting.py")

ESTIMATORS = [
    ch.RandomForestRegressor(n_estimators=5),
    ch.RandomForestRegressor(n_estimators=5, estimator=sklearn.tree.DecisionTreeRegressor()),
    ch.RandomForestClassifier(n_estimators=5),
    ch.RandomForestClassifier(n_estimators=5, estimator=sklearn.tree.DecisionTreeClassifier()),
    ch.GradientBoostingRegressor(n_estimators=10),
    ch.GradientBoostingRegressor(n_estimators=10, subsample=0.7),
    ch.GradientBoostingRegressor(n_estimators=10, estimator=sklearn.tree.DecisionTreeRegressor()),
]


test_sklearn_estimator_checks = sklearn_estimator_checks(ESTIMATORS)

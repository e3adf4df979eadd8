"""scikit-learn's estimator checks on the CART trees of chapter ml/04 (`notebook_utils.trees`).

The trees live in the package rather than in the chapter because chapter ml/05 builds random
forests and gradient boosting on them, so they are imported directly, without the chapter loader.
"""

from __future__ import annotations

from notebook_utils.trees import DecisionTreeClassifier, DecisionTreeRegressor
from tests.estimator_checks import sklearn_estimator_checks

test_sklearn_estimator_checks = sklearn_estimator_checks(
    [DecisionTreeClassifier(), DecisionTreeRegressor()]
)

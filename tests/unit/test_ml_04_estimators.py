"""scikit-learn's estimator checks on the CART trees of chapter ml/04 (`notebook_utils.trees`).

The trees live in the package rather than in the chapter because chapter ml/05 builds random
forests and gradient boosting on them, so they are imported directly, without the chapter loader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from notebook_utils.trees import DecisionTreeClassifier, DecisionTreeRegressor


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """Checks that cannot apply to these trees, with the reason (none so far)."""
    return {}


@parametrize_with_checks(
    [DecisionTreeClassifier(), DecisionTreeRegressor()],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator: Any, check: Callable[[Any], None]) -> None:
    check(estimator)

"""scikit-learn's own estimator checks, as one pytest test per (estimator, check).

Every from-scratch estimator of the book runs them. A check that cannot apply to an
estimator is named in ``expected_failed_checks`` with the reason (it is then run as an
expected failure), never skipped::

    test_sklearn_estimator_checks = sklearn_estimator_checks([ch.PCA(), ch.PCA(solver="eigh")])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

ExpectedFailures = Callable[[BaseEstimator], dict[str, str]]


def sklearn_estimator_checks(
    estimators: Sequence[BaseEstimator], expected_failed_checks: ExpectedFailures | None = None
) -> Callable[..., None]:
    """A test function, parametrized over ``estimators`` and scikit-learn's checks."""

    @parametrize_with_checks(list(estimators), expected_failed_checks=expected_failed_checks)
    def test_sklearn_estimator_checks(estimator: Any, check: Callable[[Any], None]) -> None:
        check(estimator)

    return test_sklearn_estimator_checks

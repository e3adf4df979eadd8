"""Shared test configuration."""

import os

# scikit-learn's estimator checks include an array-API check that skips itself unless SciPy's
# array-API support is on; turn it on so that check runs rather than being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

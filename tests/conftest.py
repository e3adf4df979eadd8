"""Shared test configuration."""

import os

# scikit-learn's estimator checks include an array-API check that skips itself unless SciPy's
# array-API support is on; turn it on so that check runs rather than being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Property tests: no per-example deadline. These machines are shared and noisy, and a timing
# is never a pass/fail criterion in this project (an example that is slow is not wrong).
from hypothesis import settings

settings.register_profile("book", deadline=None)
settings.load_profile("book")

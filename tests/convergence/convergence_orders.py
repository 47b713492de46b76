"""Helpers of the convergence tests: fit the observed order and assert it two-sided.

The observed order is the least-squares slope of ``log(error)`` against ``log(h)`` over all
resolutions (DESIGN.md section 6).  The assertion message carries the observed order, the
local orders between consecutive resolutions and the errors, so a failure explains itself.
"""

from __future__ import annotations

import numpy as np

from fpsolve.analysis import observed_order

__all__ = ["observed_order", "assert_order", "ORDER_TOL"]

#: Two-sided tolerance on the observed order.  The schemes are second order; the fits below run
#: over resolutions where the local orders already lie within about 0.1 of 2 (measured), so
#: 0.15 catches a drop to first order (or a spurious super-convergence) without flaking on
#: the residual pre-asymptotic curvature.
ORDER_TOL = 0.15


def assert_order(name: str, h, err, *, order: float = 2.0, tol: float = ORDER_TOL) -> float:
    """Assert ``|observed order - order| < tol`` with a self-explaining message."""
    observed = observed_order(h, err)
    local = np.diff(np.log(err)) / np.diff(np.log(h))
    assert abs(observed - order) < tol, (
        f"{name}: observed order {observed:.3f}, expected {order} +- {tol} "
        f"(local orders {np.array2string(local, precision=3)}, h = {np.asarray(h)}, "
        f"errors = {np.array2string(np.asarray(err), precision=3)})")
    return observed

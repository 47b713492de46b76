"""Observed orders of convergence from errors measured at several resolutions."""

from __future__ import annotations

import numpy as np

from ..errors import FpsolveError

__all__ = ["observed_order"]


def observed_order(h, err) -> float:
    """Least-squares slope of ``log(err)`` against ``log(h)``: the observed order ``q`` of an
    error ``err ~ C h^q``.

    Parameters
    ----------
    h : array_like, shape (m,)
        Resolutions (grid spacings, time steps), positive, ``m >= 2``.
    err : array_like, shape (m,)
        Errors at those resolutions, positive and finite.

    Raises
    ------
    FpsolveError
        When the shapes differ, fewer than two points are given, or a value is not positive
        and finite (a zero error has no logarithm: the quantity is exact, not convergent).

    Examples
    --------
    >>> round(observed_order([0.1, 0.05, 0.025], [3e-3, 7.5e-4, 1.875e-4]), 12)
    2.0
    """
    h, err = np.asarray(h, dtype=float), np.asarray(err, dtype=float)
    if h.shape != err.shape or h.ndim != 1 or h.size < 2:
        raise FpsolveError(f"h, err: expected two 1-D arrays of equal length >= 2, got shapes "
                           f"{h.shape} and {err.shape}")
    for name, v in (("h", h), ("err", err)):
        if not np.all(np.isfinite(v) & (v > 0)):
            raise FpsolveError(f"{name}: expected positive finite values to fit an order, got {v}")
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])

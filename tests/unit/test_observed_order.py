"""fpsolve.analysis.observed_order: the fitted order of convergence."""

from __future__ import annotations

import numpy as np
import pytest

from fpsolve.analysis import observed_order
from fpsolve.errors import FpsolveError


@pytest.mark.parametrize("q", [1.0, 2.0, 4.0])
def test_exact_power_laws(q):
    h = np.array([0.2, 0.1, 0.05, 0.025])
    # err = C h^q exactly: the log-log fit recovers q to round-off of the logarithms.
    assert observed_order(h, 3.7 * h ** q) == pytest.approx(q, abs=1e-12)


def test_least_squares_over_noisy_points():
    h = np.array([0.1, 0.05, 0.025])
    err = 2.0 * h ** 2 * np.array([1.0, 1.1, 1.0])
    # Slope of the least-squares line through (log h, log err), computed independently.
    x, y = np.log(h), np.log(err)
    expected = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert observed_order(h, err) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("h, err, match", [
    ([0.1, 0.05], [1e-3, 0.0], "err: expected positive"),
    ([0.1, 0.05], [1e-3, np.nan], "err: expected positive"),
    ([0.1, -0.05], [1e-3, 1e-4], "h: expected positive"),
    ([0.1], [1e-3], "h, err: expected two 1-D arrays"),
    ([0.1, 0.05, 0.025], [1e-3, 1e-4], "h, err: expected two 1-D arrays"),
])
def test_bad_input(h, err, match):
    with pytest.raises(FpsolveError, match=match):
        observed_order(h, err)

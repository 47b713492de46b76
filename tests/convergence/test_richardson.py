"""Fourth order of Richardson extrapolation (fpsolve.extrapolate_stationary).

Density (L1 at the cell centers), cell current (L1, summed over components) and entropy
production rate (absolute) of the extrapolated result against exact answers on the OU NESS and
on the nonlinear NESS ``a = -(D + Q) grad U`` with a tilted double well (accuracy_cases.py).
The order is the least-squares log-log slope over four grids, asserted two-sided.
"""

from __future__ import annotations

import numpy as np
import pytest
from accuracy_cases import NonlinearNESS, l1, ou_ness
from convergence_orders import assert_order

import fpsolve as fp

#: Fourth order +- 0.2: the local orders measured from 96^2 on lie in 3.90-4.05 for every
#: quantity on both problems (docs/theory.md), so the band catches a fall to third order
#: without flaking on the remaining pre-asymptotic curvature.
ORDER, TOL = 4.0, 0.2
RESOLUTIONS = (96, 128, 192, 256)


def _study(case, options):
    out = {"h": [], "density": [], "current": [], "epr": [], "estimate": []}
    for n in RESOLUTIONS:
        op = case.operator((n, n), **options)
        ext = fp.extrapolate_stationary(op)
        x = op.grid.cell_centers()
        out["h"].append(op.grid.spacing[0])
        out["density"].append(l1(op.grid, ext.p - case.density(x)))
        out["current"].append(l1(op.grid, ext.current - case.current(x)))
        out["epr"].append(abs(ext.epr - case.epr))
        out["estimate"].append(ext.error["density_l1"])
    return out


# Richardson needs an error expansion in h^2.  The SG rates have one; the default "fitted"
# rates stop their refit iteration at a relative change of 5 %, which leaves a remainder
# without such an expansion: on the nonlinear NESS the extrapolated EPR then converges at
# order ~3.3 only (measured), so the nonlinear case runs with scheme="sg".  The OU NESS runs
# with the default rates as well.
STUDIES = {"ou-ness": (ou_ness, {}), "ou-ness-sg": (ou_ness, {"scheme": "sg"}),
           "nonlinear-sg": (NonlinearNESS, {"scheme": "sg"})}


@pytest.fixture(scope="module", params=list(STUDIES))
def study(request):
    make, options = STUDIES[request.param]
    return _study(make(), options)


@pytest.mark.parametrize("quantity", ["density", "current", "epr"])
def test_extrapolation_is_fourth_order(study, quantity):
    assert_order(f"extrapolated {quantity}", study["h"], study[quantity], order=ORDER, tol=TOL)


def test_extrapolation_error_estimate_is_sharp(study):
    # the three-grid estimate of the extrapolated density error: within a factor 1.5 of the
    # truth on every grid (measured 0.70-1.0)
    ratio = np.array(study["estimate"]) / np.array(study["density"])
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), ratio

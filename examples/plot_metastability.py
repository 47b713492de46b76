"""
Metastability: why the default solve is GTH elimination
=======================================================

In the double well ``U = 40 (x^2 - 1)^2`` the barrier is 40 ``k_B T`` high: the density at the
barrier top is ``e^-40 ~ 4e-18`` of its value in the wells, and the two wells exchange
probability through a bottleneck whose conductance is ~1e-15 of the in-well rates.  The problem
is mirror symmetric, so each well holds *exactly* one half.  A normwise solver (sparse LU,
``method="direct"``) meets a condition number ``kappa ~ 1e18``: its residual is at round-off,
yet the well masses can be wrong by O(1).  The default solve, Grassmann-Taufer-Heyman (GTH)
elimination, is accurate componentwise -- every cell to a few ulps -- and gets 1/2 to
round-off; ``res.conditioning`` reports where the bottleneck is and how bad it is.
(The validation case ``metastable`` does the same in 2-D and for a 1e-300 tail.)
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import fpsolve as fp
from fpsolve import plotting

BARRIER = 40.0


def drift(x):                                        # a = -U'(x), D = 1
    return (-4.0 * BARRIER * x[0] * (x[0] ** 2 - 1.0))[None]


grid = fp.CartesianGrid([(-2.0, 2.0)], (400,))       # mirror-symmetric grid
x = grid.axis_centers(0)
op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(drift))

gth = fp.solve_stationary(op)                         # default: GTH elimination
with warnings.catch_warnings():
    warnings.simplefilter("ignore")                   # it warns: not converged, bottleneck
    lu = fp.solve_stationary(op, method="direct")    # normwise sparse LU, for contrast

for name, res in (("default (GTH)", gth), ('method="direct" (LU)', lu)):
    left = grid.integrate(np.where(x < 0, res.p, 0.0))
    print(f"{name:22s} method = {res.method:6s} left-well mass = {left:.15f}  "
          f"residual = {res.residual:.1e}  converged = {res.converged}")
cond = gth.conditioning
print(f"bottleneck on axis {cond['axis']} at x = {cond['at']:.2f}: condition estimate "
      f"kappa = {cond['kappa']:.1e}, density range max/min = {1 / cond['dynamic_range']:.0e}")

# Tolerance: GTH computes every cell to relative accuracy ~ (number of cells) x eps, so the
# mass of a well, a sum of positive terms, is exact to about 400 x 2.2e-16 = 1e-13; tol = 1e-12.
left = grid.integrate(np.where(x < 0, gth.p, 0.0))
print(f"RESULT left_well_mass={left:.16f} exact=0.5 tol=1e-12")

# %%
# Left: on a log scale the LU density sits on a noise floor (its round-off, relative to the
# largest entry) and its right well is too small by orders of magnitude, although its residual
# is smaller than GTH's.  Right: the well masses.
fig, (ax1, ax2) = plotting.figure(1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [2, 1]})
ax1.semilogy(x, gth.p, lw=2, label="default solve (GTH)")
ax1.semilogy(x, np.where(lu.p > 0, lu.p, np.nan), ".", ms=2, label='method="direct" (LU)')
ax1.axvline(cond["at"], color="gray", ls="--", lw=0.8, label="bottleneck (res.conditioning)")
ax1.set(xlabel="x", ylabel="p(x)", ylim=(1e-45, 1e3), title="barrier 40: density")
ax1.legend(fontsize=8, loc="lower center")
masses = [[grid.integrate(np.where(s, r.p, 0.0)) for s in (x < 0, x > 0)] for r in (gth, lu)]
ax2.bar([0, 1], masses[0], width=0.35, label="GTH")
ax2.bar([0.4, 1.4], masses[1], width=0.35, label="LU")
ax2.axhline(0.5, color="k", lw=0.8)
ax2.set(xticks=[0.2, 1.2], xticklabels=["left well", "right well"], ylabel="mass",
        title="exact: 1/2 each")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

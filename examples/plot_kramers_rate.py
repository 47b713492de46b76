"""
First passage over a barrier and Kramers' rate
==============================================

How long does a particle in the left well of ``U(x) = b (x^2 - 1)^2`` (``D = 1``, energies in
units of ``k_B T``) take to reach the bottom of the right well?  The mean first-passage time
``tau(x)`` solves the backward equation ``G^T tau = -1`` with an absorbing wall at the target;
``fp.mean_first_passage_time`` solves it on the grid.  In one dimension the exact answer is a
double quadrature, ``tau(x) = int_x^1 dy e^{U(y)} int_L^y dz e^{-U(z)}``, and for high barriers
Kramers' formula ``tau_K = 2 pi e^{Delta U} / sqrt(U''(-1) |U''(0)|)`` takes over: the grid
matches the quadrature to second order in ``h`` at every barrier, while Kramers' formula is
only the leading term of an expansion in ``1 / Delta U``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import quad

import fpsolve as fp
from fpsolve import plotting

L, n = -2.2, 300   # box [-2.2, 1]; n = 300 puts a cell centre exactly at x = -1


def exact_mfpt(b, x0=-1.0):
    """Exact 1-D quadrature (reflecting at L: U(L) - U(-1) = 59 b, so the absorbing wall the
    grid puts there changes tau by exp(-59 b), far below round-off)."""
    def inner(y):
        return quad(lambda z: np.exp(-b * (z * z - 1) ** 2), L, y)[0]

    return quad(lambda y: np.exp(b * (y * y - 1) ** 2) * inner(y), x0, 1.0, limit=200)[0]


def kramers(b):
    return 2 * np.pi * np.exp(b) / np.sqrt(8 * b * 4 * b)    # U''(-1) = 8b, U''(0) = -4b


barriers = np.array([2.0, 3.0, 4.0, 6.0, 8.0, 10.0])
grid = fp.CartesianGrid([(L, 1.0)], (n,), boundary="absorbing")
x = grid.axis_centers(0)
i0 = int(np.argmin(np.abs(x + 1.0)))                  # the cell centred at the left minimum
taus, exacts = [], []
for b in barriers:
    model = fp.FokkerPlanckModel.from_potential(lambda x, b=b: b * (x[0] ** 2 - 1) ** 2, 1.0)
    mfpt = fp.mean_first_passage_time(fp.FokkerPlanckOperator(grid, model))
    taus.append(mfpt.tau[i0])
    exacts.append(exact_mfpt(b))
    print(f"b = {b:4.1f}  tau grid = {taus[-1]:10.4f}  exact = {exacts[-1]:10.4f}  "
          f"Kramers = {kramers(b):10.4f}  exact / Kramers = {exacts[-1] / kramers(b):.3f}")
taus, exacts = np.array(taus), np.array(exacts)

# Tolerance: the grid's tau is second order in h; measured relative error constants
# |tau/tau_exact - 1| / h^2 are 1.8 .. 2.4 for b = 3 .. 8 (n = 180, 300, 540), so the relative
# tolerance 8 h^2 (= 9.1e-4 at h = 0.0107) is three times the largest.
h = grid.spacing[0]
k = int(np.flatnonzero(barriers == 8.0)[0])
print(f"RESULT mfpt_barrier_8={taus[k]:.6f} exact={exacts[k]:.6f} tol={8 * h**2 * exacts[k]:.3e}")

# %%
# Left: tau grows like exp(Delta U) (Arrhenius); grid and quadrature coincide.  Right: the
# ratio exact / Kramers approaches 1 like 1 + c / Delta U -- Kramers' formula is asymptotic.
fig, (ax1, ax2) = plotting.figure(1, 2, figsize=(9.5, 3.8))
ax1.semilogy(barriers, exacts, "k-", lw=1, label="exact quadrature")
ax1.semilogy(barriers, taus, "o", label="grid (mean_first_passage_time)")
ax1.semilogy(barriers, kramers(barriers), "s--", mfc="none", label="Kramers")
ax1.set(xlabel="barrier Delta U = b", ylabel="tau(-1)", title="mean first-passage time")
ax1.legend(fontsize=8)
ax2.plot(1 / barriers, exacts / kramers(barriers), "s-", label="exact / Kramers")
ax2.plot(1 / barriers, taus / exacts, "o-", label="grid / exact")
ax2.axhline(1.0, color="gray", lw=0.8)
ax2.set(xlabel="1 / Delta U", ylabel="ratio", xlim=(0, None), title="Kramers is asymptotic")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

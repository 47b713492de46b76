"""
The relaxation spectrum of a nonequilibrium process
===================================================

Every density relaxes to the stationary state as a sum of modes ``exp(lambda_k t)``: the
eigenvalues of the generator ``G``.  For the Ornstein-Uhlenbeck process ``dx = A x dt +
sqrt(2 D) dW`` they are known exactly, ``lambda = n1 mu1 + n2 mu2`` with ``mu`` the eigenvalues of
``A`` (here ``-1 +- 0.8i``).  Out of equilibrium they are complex: relaxation *oscillates* while
it decays.  ``fp.relaxation_spectrum`` finds the slowest ones; their error is second order in
``h``, and a Richardson extrapolation of two grids, ``(4 lambda_h - lambda_2h) / 3``, removes
the leading term.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import fpsolve as fp
from fpsolve import plotting

A = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D = np.array([[1.0, 0.3], [0.3, 0.5]])
model = fp.FokkerPlanckModel(lambda x: np.tensordot(A, x, axes=1), diffusion=D)
mu = np.linalg.eigvals(A)
exact = np.array([i * mu[0] + j * mu[1] for i in range(5) for j in range(5)])
exact = exact[np.argsort(-exact.real)][:12]          # the slowest exact eigenvalues


def spectrum(n, k=9):
    grid = fp.CartesianGrid([(-7, 7), (-7, 7)], (n, n))
    ev = fp.relaxation_spectrum(fp.FokkerPlanckOperator(grid, model), k=k).eigenvalues
    # order the computed eigenvalues like their nearest exact ones
    return ev[np.argsort([np.argmin(np.abs(exact - e)) + 1e-3 * e.imag for e in ev])]


coarse, fine = spectrum(48), spectrum(96)
richardson = (4 * fine - coarse) / 3
nearest = np.array([exact[np.argmin(np.abs(exact - e))] for e in richardson])
for c, f, r, e in zip(coarse, fine, richardson, nearest):
    print(f"n=48: {c:.4f}   n=96: {f:.4f}   Richardson: {r:.4f}   exact: {e:.2f}")

# The slowest nonzero mode, lambda_1 = -1 + 0.8i (its conjugate is the other).  Tolerance: the
# Richardson value is fourth order in h; its measured error on the grid pairs 32/64, 40/80,
# 48/96 is 1.8e-3, 7.6e-4, 3.8e-4 = 0.052 h^4 (h = 14/48 of the coarse grid), so
# tol = 0.15 h^4 = 1.1e-3 is three times that constant.
lam1 = richardson[np.argmin(np.abs(richardson - (-1 + 0.8j)))]
tol = 0.15 * (14 / 48) ** 4
print(f"RESULT lambda1_real={lam1.real:.6f} exact=-1 tol={tol:.1e}")
print(f"RESULT lambda1_imag={abs(lam1.imag):.6f} exact=0.8 tol={tol:.1e}")

# %%
# The computed eigenvalues approach the exact lattice n1 mu1 + n2 mu2 from the right
# (slightly too slow relaxation on coarse grids); Richardson lands on it.
fig, ax = plotting.figure(figsize=(6, 4.5))
ax.plot(exact.real, exact.imag, "k+", ms=12, mew=1.5, label="exact n1 mu1 + n2 mu2")
ax.plot(coarse.real, coarse.imag, "o", mfc="none", label="grid 48 x 48")
ax.plot(fine.real, fine.imag, "s", mfc="none", label="grid 96 x 96")
ax.plot(richardson.real, richardson.imag, "x", label="Richardson (4 fine - coarse) / 3")
ax.set(xlabel="Re lambda", ylabel="Im lambda", title="slowest eigenvalues of G (2-D OU NESS)",
       xlim=(-3.4, 0.3))
ax.legend(fontsize=8)
plt.show()

"""
Time evolution: a Gaussian packet relaxing in a harmonic trap
=============================================================

``fp.evolve`` integrates ``dp/dt = G p`` (TR-BDF2 steps by default: second order in ``dt``,
non-negative densities, mass conserved to round-off).  In the Ornstein-Uhlenbeck process
``dx = -x dt + sqrt(2) dW`` a Gaussian stays Gaussian: started from ``N(m0, v0)`` it is
``N(m0 e^-t, v0 e^-2t + 1 - e^-2t)`` at time ``t``.  The packet drifts to the centre and
spreads to the stationary variance 1; the grid follows the exact density with an error that is
second order in ``h`` and ``dt``.  The taught number is the variance at ``t = 1``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import fpsolve as fp
from fpsolve import plotting

m0, v0 = 2.0, 0.1                                   # initial mean and variance


def exact(x, t):
    m, v = m0 * np.exp(-t), v0 * np.exp(-2 * t) + 1 - np.exp(-2 * t)
    return np.exp(-(x - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v), m, v


grid = fp.CartesianGrid([(-6, 6)], (200,))         # reflecting walls, 6 std devs away
x = grid.axis_centers(0)
op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, 1.0))
p0 = exact(x, 0.0)[0]
p0 /= grid.integrate(p0)
times = np.array([0.0, 0.1, 0.25, 0.5, 1.0, 2.0])
ts = fp.evolve(op, p0, times, dt=0.01)
print(ts.message)

variances, l1 = [], []
for t, p in zip(times, ts.p):
    mean = grid.integrate(p * x)
    variances.append(grid.integrate(p * x * x) - mean**2)
    l1.append(grid.integrate(np.abs(p - exact(x, t)[0])))
    print(f"t = {t:4.2f}  mean = {mean:.5f} (exact {exact(x, t)[1]:.5f})  "
          f"var = {variances[-1]:.5f} (exact {exact(x, t)[2]:.5f})  L1 error = {l1[-1]:.1e}")

# Tolerance: the error is second order in h and dt together (halving both divides it by 4.0);
# the measured variance error at t = 1 is 3.9e-4, 9.6e-5, 2.4e-5 for h = 0.12, 0.06, 0.03
# (dt = h / 6), i.e. 0.027 h^2, so tol = 0.08 h^2 = 2.9e-4 is three times that constant.
h = grid.spacing[0]
k = int(np.flatnonzero(times == 1.0)[0])
print(f"RESULT variance_t1={variances[k]:.7f} exact={exact(x, 1.0)[2]:.7f} tol={0.08 * h**2:.1e}")

# %%
# Grid densities (lines) on top of the exact Gaussians (dots), and the L1 error in time.
fig, (ax1, ax2) = plotting.figure(1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [2, 1]})
for t, p, c in zip(times, ts.p, plt.cm.viridis(np.linspace(0, 0.9, len(times)))):
    ax1.plot(x, p, color=c, lw=1.5, label=f"t = {t:g}")
    ax1.plot(x[::5], exact(x[::5], t)[0], ".", color="k", ms=2.5)
ax1.set(xlabel="x", ylabel="p(x, t)", xlim=(-4, 4), title="OU relaxation from N(2, 0.1)")
ax1.legend(fontsize=8)
ax2.semilogy(times[1:], l1[1:], "o-")
ax2.set(xlabel="t", ylabel="L1 error", title="grid - exact")
fig.tight_layout()
plt.show()

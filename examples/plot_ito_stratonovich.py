"""
Itô, Stratonovich and anti-Itô: one SDE, three stationary densities
===================================================================

With multiplicative noise the symbol ``dx = b(x) dt + sqrt(2 D(x)) dW`` is ambiguous until the
stochastic integral is fixed.  Read in the Itô, Stratonovich or anti-Itô (Hänggi-Klimontovich)
convention, the same ``b`` and ``D`` are three different processes, with the Itô drifts
``a = b + alpha D'`` (``alpha`` = 0, 1/2, 1) and the stationary densities
``p(x) = D(x)^(alpha - 1) exp(-k Phi(x)) / Z``.  For ``b = -k x`` and ``D = 1 + m sin^2 x``
(``fpsolve.models.PositionDependentDiffusion1D``) the grid reproduces all three, second order
in ``h``; the taught number is the variance ``<x^2>`` in each convention.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import quad

import fpsolve as fp
from fpsolve import plotting

pdd = fp.models.PositionDependentDiffusion1D((-5, 5), modulation=2.0)   # D = 1 + 2 sin^2 x
grid = fp.CartesianGrid([(-5, 5)], (200,))
x = grid.axis_centers(0)
h = grid.spacing[0]

fig, (ax1, ax2) = plotting.figure(1, 2, figsize=(9.5, 3.8))
for conv, color in (("ito", "C0"), ("stratonovich", "C1"), ("anti-ito", "C2")):
    res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, pdd.model(conv)), error=False)
    var = grid.integrate(res.p * x**2)
    # exact <x^2> by adaptive quadrature of the exact density (breakpoints at the D wiggles)
    exact = quad(lambda y, c=conv: y * y * pdd.stationary_density(y, c), -5, 5, limit=200,
                 points=np.arange(-4, 5))[0]
    p_exact = pdd.stationary_density(x, conv)
    print(f"{conv:13s} <x^2> grid = {var:.6f}  exact = {exact:.6f}  "
          f"max |p - p_exact| / max p = {np.abs(res.p - p_exact).max() / p_exact.max():.1e}")
    # Tolerance: the midpoint moment of a second-order density has error C h^2; measured
    # |C| = 0.008 .. 0.066 for the three conventions (n = 100, 200, 400), so tol = 0.2 h^2
    # = 5e-4 is three times the largest constant -- and 200 times smaller than the 0.1 that
    # separates the conventions.
    print(f"RESULT variance_{conv.replace('-', '_')}={var:.8f} exact={exact:.8f} "
          f"tol={0.2 * h**2:.1e}")
    ax1.plot(x, res.p, color=color, lw=2, alpha=0.6, label=f"grid, {conv}")
    ax1.plot(x[::6], p_exact[::6], "k.", ms=3)
    ax2.plot(x, res.p - p_exact, color=color, label=conv)

ax1.plot([], [], "k.", label="exact")
ax1.set(xlabel="x", ylabel="p(x)", title="b = -x, D = 1 + 2 sin^2 x")
ax1.legend(fontsize=8)
ax2.set(xlabel="x", ylabel="p - p_exact", title=f"error, h = {h:.2f}")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

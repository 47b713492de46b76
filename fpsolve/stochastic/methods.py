"""The SDE integrators and their declared convergence orders.

All schemes integrate ``dx = a dt + sigma dW`` with ``sigma sigma^T = 2 D`` (``sigma`` the lower
Cholesky factor), i.e. the Ito Fokker-Planck equation ``dp/dt = -d_i(a_i p) + d_i d_j(D_ij p)``
of the model, whatever convention the model's drift was written in: the kernels only see the
tabulated Ito drift ``a = model.ito_drift(grid)`` (Heun its Stratonovich form).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _kernels

__all__ = ["METHODS", "METHOD_ORDERS", "EulerMaruyama", "Heun", "Milstein", "SDEMethod"]


@dataclass(frozen=True)
class SDEMethod:
    """An SDE scheme: its kernel code and its orders of convergence.

    Attributes
    ----------
    name : str
    code : int
        Selector of the step in :func:`fpsolve.stochastic._kernels.advance`.
    strong_order, weak_order : float
        Orders for general (multiplicative) noise within the scheme's scope.
    strong_order_additive, weak_order_additive : float
        Orders for additive (constant) noise.
    scope : str
        Noise for which the orders hold.
    formula : str
        One step, ``dW = sqrt(dt) xi`` with standard normals ``xi``.
    """

    name: str
    code: int
    strong_order: float
    weak_order: float
    strong_order_additive: float
    weak_order_additive: float
    scope: str
    formula: str


EulerMaruyama = SDEMethod(
    "euler_maruyama", _kernels.EULER_MARUYAMA, 0.5, 1.0, 1.0, 1.0,
    "any D (Ito drift a)",
    "x' = x + a(x) dt + sigma(x) dW")
Heun = SDEMethod(
    "heun", _kernels.HEUN, 1.0, 1.0, 1.0, 2.0,
    "constant or diagonal D; strong order 1 needs commutative noise (1-D, additive, or "
    "sigma_kk depending on x_k only), otherwise 0.5",
    "y = x + a_S(x) dt + sigma(x) dW,  x' = x + (a_S(x) + a_S(y)) dt / 2 + (sigma(x) + "
    "sigma(y)) dW / 2,  a_S = a - (1/2) div D")
Milstein = SDEMethod(
    "milstein", _kernels.MILSTEIN, 1.0, 1.0, 1.0, 1.0,
    "diagonal D; strong order 1 needs sigma_kk to depend on x_k only (commutative noise)",
    "x'_k = x_k + a_k dt + sigma_kk dW_k + (1/2) sigma_kk sigma_kk' (dW_k^2 - dt)")

#: The schemes by name.
METHODS = {m.name: m for m in (EulerMaruyama, Heun, Milstein)}

#: Declared orders by name: ``{"strong": ..., "weak": ..., "strong_additive": ...,
#: "weak_additive": ...}``.
METHOD_ORDERS = {m.name: {"strong": m.strong_order, "weak": m.weak_order,
                          "strong_additive": m.strong_order_additive,
                          "weak_additive": m.weak_order_additive} for m in METHODS.values()}

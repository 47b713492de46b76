"""Counter-based random numbers of the ensembles: keys, ziggurat tables, normal variates.

Each normal variate used by :func:`~fpsolve.stochastic.simulate` is a pure function of a 64-bit
key, the trajectory index, the step index and the component (see
:mod:`fpsolve.stochastic._kernels_rng`): Philox4x32-10 bits turned into normals by a 256-layer
ziggurat.  :func:`standard_normal` returns exactly the variates a simulation with the same key
uses, which makes them testable and lets users reproduce a single trajectory.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._numba import derive_key, seed_sequence
from ..errors import SolverError
from . import _kernels_rng

__all__ = ["ZIGGURAT_LAYERS", "derive_key", "seed_sequence", "standard_normal", "ziggurat_table"]

ZIGGURAT_LAYERS = 256


@lru_cache(maxsize=1)
def ziggurat_table() -> np.ndarray:
    """Ziggurat table ``(3, 257)`` for the half-normal ``f(x) = exp(-x^2 / 2)``, 256 layers.

    Rows: the acceptance bound ``2^53 x_{i+1} / x_i`` (an exact integer in a double), the layer
    width ``x_i / 2^53`` and ``f(x_i)`` (with ``x_256 = 0``, ``f = 1``).  ``x_0 = v / f(r)`` is
    the equivalent width of the base layer (rectangle plus tail beyond ``x_1 = r``); every layer
    has area ``v``.  ``r`` is found by bisection so that the top layer closes
    (``x_255 (1 - f(x_255)) = v``) to round-off; it agrees with Marsaglia & Tsang's
    ``r = 3.6541528853610088``.
    """
    n = ZIGGURAT_LAYERS
    lo, hi = 3.0, 4.0
    for _ in range(200):                    # bisection on the closure residual (sign change)
        mid = 0.5 * (lo + hi)
        if _closure(mid, n)[0] > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 4 * math.ulp(mid):
            break
    r = 0.5 * (lo + hi)
    _, x = _closure(r, n)
    f = np.exp(-0.5 * x**2)
    table = np.zeros((3, n + 1))
    table[0, :n] = np.floor(2.0**53 * x[1:] / x[:-1])
    table[1, :n] = x[:-1] / 2.0**53
    table[2] = f
    return table


def _closure(r: float, n: int):
    """Top-layer area minus ``v`` for tail start ``r``, and the abscissae ``x_0 .. x_n``."""
    def f(t):
        return math.exp(-0.5 * t * t)

    v = r * f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    x = np.zeros(n + 1)
    x[0], x[1] = v / f(r), r
    for i in range(1, n - 1):
        y = f(x[i]) + v / x[i]
        if y >= 1.0:                        # layers run out before the top: r too small
            return -1.0, x
        x[i + 1] = math.sqrt(-2.0 * math.log(y))
    return x[n - 1] * (1.0 - f(x[n - 1])) - v, x


def standard_normal(key, n_traj: int, n_steps: int, d: int, *, traj0: int = 0,
                    step0: int = 0) -> np.ndarray:
    """The normals ``xi[s, i, k]`` of trajectory ``traj0 + i``, step ``step0 + s``, component k.

    ``dW = sqrt(dt) xi`` are the Brownian increments of a simulation with the same ``key``
    (see :func:`derive_key`); shape ``(n_steps, n_traj, d)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.stochastic.rng import derive_key, standard_normal
    >>> xi = standard_normal(derive_key(1), 3, 4, 2)
    >>> xi.shape, bool(np.array_equal(xi[2:], standard_normal(derive_key(1), 3, 2, 2, step0=2)))
    ((4, 3, 2), True)
    """
    key = np.asarray(key, dtype=np.uint64)
    if key.shape != (2,) or np.any(key >= 2**32):
        raise SolverError(f"key: expected two 32-bit words (uint64, shape (2,)), got {key!r}")
    for name, v in (("n_traj", n_traj), ("n_steps", n_steps), ("d", d)):
        if int(v) != v or v < 1:
            raise SolverError(f"{name}: expected a positive int, got {v!r}")
    out = np.empty((int(n_steps), int(n_traj), int(d)))
    _kernels_rng.fill_normals(key, ziggurat_table(), int(traj0), int(step0), out)
    return out

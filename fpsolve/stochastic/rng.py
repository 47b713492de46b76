"""The normal variates of the ensembles, as a public function.

Each normal variate used by :func:`~fpsolve.stochastic.simulate` (and the Langevin noise of
:func:`~fpsolve.learning.sgd` chains) is a pure function of a 64-bit key, the trajectory (chain)
index, the step index and the component: Philox4x32-10 bits turned into normals by a 256-layer
ziggurat (the one counter layout of :mod:`fpsolve._random`).  :func:`standard_normal` returns
exactly the variates a simulation with the same key uses, which makes them testable and lets
users reproduce a single trajectory.
"""

from __future__ import annotations

import numpy as np

from .._random import ZIGGURAT_LAYERS, derive_key, fill_normals, seed_sequence, ziggurat_table
from ..errors import SolverError

__all__ = ["ZIGGURAT_LAYERS", "derive_key", "seed_sequence", "standard_normal", "ziggurat_table"]


def standard_normal(key, n_traj: int, n_steps: int, d: int, *, traj0: int = 0,
                    step0: int = 0) -> np.ndarray:
    """The normals ``xi[s, i, k]`` of trajectory ``traj0 + i``, step ``step0 + s``, component k.

    ``dW = sqrt(dt) xi`` are the Brownian increments of a simulation with the same ``key``
    (see :func:`~fpsolve.derive_key`), and ``sqrt(2 eta T) xi`` the Langevin noise of chain
    ``traj0 + i`` of an SGD run; shape ``(n_steps, n_traj, d)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve import derive_key
    >>> from fpsolve.stochastic import standard_normal
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
    fill_normals(key, ziggurat_table(), int(traj0), int(step0), out)
    return out

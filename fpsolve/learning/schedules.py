"""Minibatch schedules with and without replacement, and the keys of their random streams.

``"wr"`` (with replacement, the SGD/SGLD convention): every step draws ``B`` distinct indices
afresh, uniformly among all ``B``-subsets and independently of every other step (a partial
Fisher-Yates shuffle of the identity per step).

``"wor"`` (without replacement, SGWORLD): each epoch draws one uniform permutation of the ``N``
indices and walks through it in ``N // B`` disjoint consecutive batches.  When ``B`` does not
divide ``N`` the last ``N mod B`` indices of each epoch's permutation are dropped (as
``drop_last=True`` in common data loaders); since every epoch reshuffles, every index is still
used equally often on average.

The batch of step ``t`` of chain ``c`` is a pure function of ``(key, c, t)`` (counter-based
Philox4x32-10, see :mod:`fpsolve.learning._kernels`): reproducible from a seed, independent of
the number of threads, of how a run is split into chunks, and of resuming.
"""

from __future__ import annotations

import numpy as np

from .._numba import derive_key
from ..errors import FpsolveError
from . import _kernels

__all__ = ["SCHEDULES", "derive_key", "minibatch_indices", "check_batch_size"]

SCHEDULES = ("wr", "wor")


def check_batch_size(batch_size, n_samples: int, schedule: str) -> int:
    """Validate ``schedule`` and ``1 <= batch_size <= n_samples``; return ``batch_size``."""
    if schedule not in SCHEDULES:
        raise FpsolveError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
            or not 1 <= batch_size <= n_samples):
        raise FpsolveError(f"batch_size: expected an int in [1, N = {n_samples}], got "
                           f"{batch_size!r}")
    return int(batch_size)


def minibatch_indices(n_samples: int, batch_size: int, n_steps: int, *, schedule: str = "wr",
                      rng=None, chain: int = 0, step0: int = 0) -> np.ndarray:
    """The minibatches that :func:`~fpsolve.learning.sgd` uses, shape ``(n_steps, B)``.

    Parameters
    ----------
    n_samples : int
        ``N``, the size of the training set.
    batch_size : int
        ``B``, with ``1 <= B <= N``.
    n_steps : int
    schedule : {"wr", "wor"}
    rng : Generator, int, SeedSequence, None or key
        As for :func:`derive_key`; a ``uint64`` array of shape (2,) is used as the key itself
        (``SGDResult.key``).
    chain : int
        Chain index (each chain has its own stream).
    step0 : int
        Global index of the first step.

    Returns
    -------
    ndarray of int64, shape (n_steps, batch_size)

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import minibatch_indices
    >>> b = minibatch_indices(6, 3, 4, schedule="wor", rng=0)
    >>> [sorted(np.r_[b[0], b[1]].tolist()), sorted(np.r_[b[2], b[3]].tolist())]
    [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]
    """
    n = _count("n_samples", n_samples, 1)
    b = check_batch_size(batch_size, n, schedule)
    steps = _count("n_steps", n_steps, 0)
    chain, step0 = _count("chain", chain, 0), _count("step0", step0, 0)
    key = as_key(rng)
    out = np.empty((steps, b), dtype=np.int64)
    pool = np.arange(n + b, dtype=np.int64)
    _kernels.fill_batches(key, schedule == "wor", chain, step0, n, b, pool, out)
    return out


def as_key(rng) -> np.ndarray:
    """A key array ``(2,)`` given as such, or :func:`derive_key` of ``rng``."""
    if isinstance(rng, np.ndarray) and rng.dtype == np.uint64 and rng.shape == (2,):
        if np.any(rng >= 2**32):
            raise FpsolveError(f"rng: a key must hold two 32-bit words, got {rng!r}")
        return rng
    return derive_key(rng)


def _count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise FpsolveError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)

"""Minibatch schedules with and without replacement.

``"wr"`` (with replacement, the SGD/SGLD convention): every step draws ``B`` distinct indices
afresh, uniformly among all ``B``-subsets and independently of every other step (a partial
Fisher-Yates shuffle of the identity per step).

``"wor"`` (without replacement, SGWORLD): each epoch draws one uniform permutation of the ``N``
indices and walks through it in ``N // B`` disjoint consecutive batches.  When ``B`` does not
divide ``N`` the last ``N mod B`` indices of each epoch's permutation are dropped (as
``drop_last=True`` in common data loaders); since every epoch reshuffles, every index is still
used equally often on average.

``"wor-palindromic"``: WOR epochs in pairs; epoch ``2e + 1`` walks the batches of epoch ``2e``'s
permutation in reverse order (a time-symmetric pair of epochs).

The batch of step ``t`` of chain ``c`` is a pure function of ``(key, c, t)`` (counter-based
Philox4x32-10, see :mod:`fpsolve._random`): reproducible from a seed, independent of
the number of threads, of how a run is split into chunks, and of resuming.
"""

from __future__ import annotations

import numpy as np

from ..._random import as_key
from ..._runs import check_count
from ...errors import FpsolveError
from . import _kernels
from .chains import MODES

__all__ = ["SCHEDULES", "check_batch_size", "epoch_layout", "minibatch_indices"]

SCHEDULES = ("wr", "wor", "wor-palindromic")


def check_batch_size(batch_size, n_samples: int, schedule: str) -> int:
    """Validate ``schedule`` and ``1 <= batch_size <= n_samples``; return ``batch_size``."""
    if schedule not in SCHEDULES:
        raise FpsolveError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
            or not 1 <= batch_size <= n_samples):
        raise FpsolveError(f"batch_size: expected an int in [1, N = {n_samples}], got "
                           f"{batch_size!r}")
    return int(batch_size)


def epoch_layout(schedule: str, batch_size, n_samples: int, who: str) -> tuple[int, int, int]:
    """``(B, R, dropped)`` of a run: batch size (``N`` for the ``"full"`` schedule when None), steps
    per epoch ``R = N // B`` and the ``N mod B`` indices a WOR epoch drops (0 for WR);
    :class:`FpsolveError` naming ``batch_size`` (and ``who``) for a bad or missing size."""
    if batch_size is None:
        if schedule != "full":
            raise FpsolveError(f"batch_size: {who} needs a batch size (an int in "
                               f"[1, N = {n_samples}])")
        batch_size = n_samples
    wor = schedule.startswith("wor")
    b = check_batch_size(batch_size, n_samples, schedule if wor else "wr")
    return b, n_samples // b, n_samples % b if wor else 0


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
    schedule : {"wr", "wor", "wor-palindromic"}
    rng : Generator, int, SeedSequence, None or key
        As for :func:`~fpsolve.derive_key`; a ``uint64`` array of shape (2,) is used as the key
        itself (``SGDResult.key``).
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
    n = check_count("n_samples", n_samples, 1)
    b = check_batch_size(batch_size, n, schedule)
    steps = check_count("n_steps", n_steps, 0)
    chain, step0 = check_count("chain", chain, 0), check_count("step0", step0, 0)
    key = as_key(rng)
    out = np.empty((steps, b), dtype=np.int64)
    pool = np.arange(n + b, dtype=np.int64)
    _kernels.fill_batches(key, MODES[schedule], chain, step0, n, b, pool, out)
    return out

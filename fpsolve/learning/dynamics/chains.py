"""Chains of SGD, samplers and slice runs as runs of the one engine (:mod:`fpsolve._runs`).

:class:`ChainRun` holds what the chain kernel (:func:`~._kernels.run_chains`) needs -- the
model kernel, the parameters of every chain, the record array and the scratch -- and implements
the run contract of :func:`fpsolve._runs.drive` (``advance``, ``state``, ``restore``,
``fingerprint``).  The drivers (:func:`~fpsolve.learning.sgd`, :func:`~fpsolve.learning.sample`,
:func:`~fpsolve.learning.slices.runs`) only validate their arguments and build results.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..._random import ziggurat_table
from ..._runs import fingerprint, raise_divergence
from ...errors import FpsolveError
from . import _kernels

__all__ = ["MODES", "ChainRun"]

#: Schedule names -> kernel modes.
MODES = {"wr": _kernels.WR, "wor": _kernels.WOR, "full": _kernels.FULL,
         "wor-palindromic": _kernels.PALINDROME}


class ChainRun:
    """``C`` chains from global step ``step0`` to ``step0 + n_steps`` (see the module docstring).

    Parameters
    ----------
    kernel : ModelKernel
    w : ndarray, shape (C, d)
        Parameters at ``step0`` (advanced in place).
    key : ndarray of uint64, shape (2,)
    schedule : str
        A key of :data:`MODES`.
    batch_size : int
    eta, temperature : float
        Step size and ``T`` of the noise ``sqrt(2 eta T) zeta`` (0: none).
    out : ndarray, shape (n_rows, C, d)
        Records: ``out[k - row0] = w`` after global step ``k every``.
    every, row0 : int
    max_loss : float
    step0, n_steps : int
    free : ndarray of int, optional
        Parameters that move (default all; noise needs all; an empty array also means all).
    control : (gref, gbar), optional
        Per-sample gradients at a reference point and their mean (control variate).
    lm : bool
        Leimkuhler-Matthews noise.
    midpoint : bool
        Midpoint steps (two gradients per step on the same batch).
    label : str
        Name in divergence messages.
    key_fixed : bool
        The caller chose ``key`` (a resumed checkpoint must have the same); otherwise a resumed
        run takes the key of the checkpoint.
    chain0 : int
        Global index of row 0 of ``w``: row ``c`` is chain ``chain0 + c`` and draws its random
        stream (a shard of a larger run, :meth:`shard`).
    """

    #: Axis of the chains in each array of :meth:`state` (None: the same in every shard).
    state_axes = {"w": 0, "out": 1, "key": None}

    def __init__(self, kernel, w, key, *, schedule, batch_size, eta, temperature, out, every,
                 row0, max_loss, step0=0, n_steps, free=None, control=None, lm=False,
                 midpoint=False, label="sgd", key_fixed=True, chain0=0):
        C, d = w.shape
        self.chain0, self.schedule, self.temperature = int(chain0), schedule, temperature
        self.kernel, self.w, self.key, self.out = kernel, w, key, out
        self.mode, self.b, self.eta = MODES[schedule], int(batch_size), float(eta)
        self.amp, self.lm = math.sqrt(2.0 * eta * temperature), bool(lm)
        self.midpoint = bool(midpoint)
        self.every, self.row0, self.max_loss = int(every), int(row0), float(max_loss)
        self.step, self.n_steps, self.step0, self.label = step0, step0 + n_steps, step0, label
        self.key_fixed = key_fixed
        # empty: every parameter moves (the kernel's contiguous, vectorizable loops)
        self.free = np.zeros(0, np.int64) if free is None else np.asarray(free, np.int64)
        self.cv = control is not None
        self.gref, self.gbar = control if self.cv else (np.zeros((1, d)), np.zeros(d))
        n = kernel.n_samples
        self.pool = np.tile(np.arange(n + self.b, dtype=np.int64), (C, 1))
        self.tmp, self.grad = np.zeros((C, kernel.scratch)), np.zeros((C, d))
        self.work = np.zeros((C, 3 * d))         # per chain: a step's normals, the midpoint
        self.scratch = np.zeros((C, 5, 1), dtype=np.uint64)
        self.status = np.zeros((C, 3))
        self.fingerprint = fingerprint(
            kernel.x, kernel.y, kernel.theta, kernel.kind, repr(kernel.batch), w, schedule, self.b,
            self.eta, self.amp, self.lm, self.midpoint, self.free, self.every, self.row0,
            self.max_loss,
            step0, out.shape[1:], self.gref, self.gbar)

    def advance(self, count: int) -> None:
        """Run ``count`` steps of every chain; raise naming the first divergence."""
        k = self.kernel
        _kernels.run_chains(k.kind, k.batch, k.x, k.y, k.theta, self.key, ziggurat_table(),
                            self.mode, self.b, self.eta, self.amp, self.lm, self.midpoint,
                            self.free, self.max_loss, self.step, count, self.every, self.row0,
                            self.chain0, self.gref, self.gbar, self.cv, self.w, self.out, self.pool,
                            self.tmp, self.grad, self.work, self.scratch, self.status)
        raise_divergence(self.status, self.label, self.eta, self.max_loss, self.chain0)
        self.step += count

    def rows_done(self) -> int:
        """Rows of ``out`` written so far."""
        return int(np.clip(self.step // self.every - self.row0 + 1, 0, self.out.shape[0]))

    def state(self) -> dict:
        return {"w": self.w, "out": self.out[:self.rows_done()], "key": self.key}

    def restore(self, state: dict) -> None:
        key = state["key"].astype(np.uint64)
        if self.key_fixed and not np.array_equal(key, self.key):
            raise FpsolveError("rng: differs from the key saved in the checkpoint; pass the same "
                               "seed or rng=None to take the checkpoint's key")
        self.key[...] = key
        self.w[...] = state["w"]
        rows = state["out"]
        self.out[:rows.shape[0]] = rows

    @property
    def n_streams(self) -> int:
        """Chains of this run (the axis that :meth:`shard` splits)."""
        return self.w.shape[0]

    def shard(self, c0: int, c1: int) -> ChainRun:
        """The chains ``[c0, c1)`` as a run of their own, from the current step and with their
        own random streams: run to the end and merged back (:mod:`fpsolve._distributed`), the
        shards give this run bit for bit."""
        part = copy.copy(self)
        C = c1 - c0
        part.w, part.out = self.w[c0:c1].copy(), np.ascontiguousarray(self.out[:, c0:c1])
        part.chain0, part.key = self.chain0 + c0, self.key.copy()
        part.pool, part.tmp = self.pool[:C].copy(), self.tmp[:C].copy()
        part.grad, part.work = self.grad[:C].copy(), self.work[:C].copy()
        part.scratch, part.status = self.scratch[:C].copy(), np.zeros((C, 3))
        return part

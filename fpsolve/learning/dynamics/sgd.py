"""Minibatch SGD and its Langevin variants (SGLD, SGWORLD) as streaming numba simulations.

One step of chain ``c`` is

    w_{t+1} = w_t - eta grad L_{B_t}(w_t) + sqrt(2 eta T) zeta_t,

with ``L_B`` the mean per-sample loss over the minibatch ``B_t`` of the chosen schedule
(:mod:`fpsolve.learning.dynamics.schedules`) and ``zeta_t`` standard normal.  ``noise=None``
(``T = 0``) is plain SGD; ``noise=T`` adds the Langevin term: SGLD with ``schedule="wr"``,
SGWORLD with ``schedule="wor"`` (``T = 1`` samples ``exp(-L)`` in the small-``eta`` limit).

Chains run in parallel (``prange``), each with its own counter-based stream, in the one chain
loop of :mod:`fpsolve.learning.dynamics._kernels` for every model (built-in, MLP or user
model) on the one run engine (:mod:`fpsolve._runs`): progress, checkpoint/resume and
continuation from a result, all bit-identical to one uninterrupted run.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._progress import check_progress
from ..._random import as_key
from ..._distributed import execute
from ..._runs import (check_count, check_positive, check_temperature, check_threshold,
                      initial_points)
from ...errors import FpsolveError
from ...results import LabelledResult
from ..data.datasets import as_dataset
from ..models.gradient import GradientModel
from .chains import ChainRun
from .schedules import check_batch_size

__all__ = ["SGDResult", "mlp_sgd", "sgd"]

MAX_RECORD_BYTES = 4 * 2**30


@dataclass(frozen=True)
class SGDResult(LabelledResult):
    """A thinned SGD trajectory.

    Attributes
    ----------
    w : ndarray, shape (n_saved, n_chains, d)
        Parameters after the global steps ``steps[k]`` (``w[0]`` is the initial point).
    steps : ndarray of int, shape (n_saved,)
        Global step counts ``step0, step0 + record_every, ...`` (``step0 = 0`` unless the run
        continues another, see :func:`sgd`).
    w_final : ndarray, shape (n_chains, d)
        Parameters after global step ``step0 + n_steps``.
    key : ndarray of uint64, shape (2,)
        Philox key of the run (pass it as ``rng`` to reproduce it or its minibatches).
    model : GradientModel
    eta, noise : float
        Learning rate and temperature ``T`` (0 for plain SGD).
    batch_size, n_steps, record_every : int
    schedule : str
    step0 : int
        Global step of ``w[0]``.
    """

    w: np.ndarray
    steps: np.ndarray
    w_final: np.ndarray
    key: np.ndarray
    model: Any
    eta: float
    noise: float
    batch_size: int
    n_steps: int
    record_every: int
    schedule: str
    step0: int = 0

    @property
    def path(self) -> np.ndarray:
        """The recorded path ``(n_saved, n_chains, d)`` (``w``), as every trajectory result
        names it."""
        return self.w

    @property
    def stride(self) -> int:
        """Steps between two records (``record_every``)."""
        return self.record_every

    @property
    def step_end(self) -> int:
        """Global step of ``w_final`` (where a continuation starts)."""
        return self.step0 + self.n_steps


def sgd(model: GradientModel, data, w0, *, eta: float, batch_size: int, n_steps: int,
        schedule: str = "wr", record_every: int | None = None, n_chains: int = 1, rng=None,
        noise: float | None = None, max_loss: float | None = None,
        chunk_size: int | None = None, checkpoint=None, progress=False,
        client=None) -> SGDResult:
    """Run ``n_chains`` independent chains of minibatch SGD (or SGLD / SGWORLD).

    Parameters
    ----------
    model : GradientModel
    data : Dataset or (x, y)
    w0 : array_like, shape (d,) or (n_chains, d), or SGDResult
        Initial parameters (shared by all chains when 1-D).  An :class:`SGDResult` continues
        that run: its final parameters, key and step counter (``step0 = w0.step_end``), so that
        two halves give one whole run bit for bit (pass ``rng=None``; the other arguments may
        change, e.g. ``eta`` for a schedule of learning rates).
    eta : float
        Learning rate, > 0.
    batch_size : int
        ``B``, with ``1 <= B <= N``.
    n_steps : int
        Steps per chain, >= 0.
    schedule : {"wr", "wor", "wor-palindromic"}
        Minibatches with or without replacement (see
        :mod:`fpsolve.learning.dynamics.schedules`; the WOR schedules drop the last ``N mod B``
        indices of each epoch).
    record_every : int, optional
        Keep ``w`` every this many steps (default ``max(1, n_steps // 1000)``).
    n_chains : int, default 1
    rng : Generator, int, SeedSequence, None or key
        Source of the Philox key (:func:`~fpsolve.derive_key`).  To resume from a
        checkpoint pass the same int/SeedSequence/key, or None to take the key of the file.
    noise : float, optional
        Temperature ``T >= 0`` of the additive noise ``sqrt(2 eta T) zeta``; None is plain SGD.
    max_loss : float, optional
        Divergence threshold on the minibatch loss (default ``1e12 max(1, max_c L(w0_c))``;
        ``inf`` stops only on non-finite losses or parameters).
    chunk_size : int, optional
        Steps per kernel call; checkpoints and the progress bar are updated once per call.
        Default: adaptive (one call without bar and checkpoint; calls of ~0.5 s with a bar,
        checkpoints every ~10 s).  The result does not depend on it.
    checkpoint : str or Path, optional
        ``.npz`` file written atomically after every chunk; if it exists, the run resumes from
        it (its arguments must match; ``n_steps`` may grow).
    progress : bool or None, default False
        Progress bar policy of :mod:`fpsolve._progress` (None: a bar when stderr is a terminal
        and the run lasts over 2 s).
    client : distributed.Client, Executor or Backend, optional
        Run the chains in shards on a cluster (:mod:`fpsolve.distributed`), bit-identical to
        ``client=None``; a checkpoint then keeps finished shards and is written at the end.

    Returns
    -------
    SGDResult

    Raises
    ------
    FpsolveError
        Bad input (naming the argument), a checkpoint of another run, or divergence (naming
        the step, the chain and the loss): results never contain NaNs.

    Notes
    -----
    Every model runs in the same chain loop: the built-in regression, softmax and MLP models
    and user models (:class:`~fpsolve.learning.models.UserModel`).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import RegressionNetwork, paper_regression, sgd
    >>> w0 = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
    >>> res = sgd(RegressionNetwork(), paper_regression(), w0, eta=1e-6, batch_size=10,
    ...           n_steps=1000, record_every=100, n_chains=4, rng=0)
    >>> res.w.shape, int(res.steps[-1]), bool(np.isfinite(res.w_final).all())
    ((11, 4, 7), 1000, True)
    """
    progress = check_progress(progress)
    run, start = _prepare(model, data, w0, eta, batch_size, n_steps, schedule, record_every,
                          n_chains, rng, noise, max_loss)
    execute(run, client=client, checkpoint=checkpoint, progress=progress,
            chunk=None if chunk_size is None else check_count("chunk_size", chunk_size),
            desc=f"sgd ({schedule})", what="model, data, w0, eta, batch_size, schedule, "
            "noise, record_every, max_loss or n_chains")
    w = run.out
    w.setflags(write=False)
    return SGDResult(w=w, steps=run.step0 + np.arange(w.shape[0]) * run.every, w_final=run.w,
                     key=run.key, model=model, eta=run.eta, noise=start["T"],
                     batch_size=run.b, n_steps=run.n_steps - run.step0,
                     record_every=run.every, schedule=schedule, step0=run.step0)


def mlp_sgd(model, data, w0, **kwargs) -> SGDResult:
    """Deprecated alias of :func:`sgd`, which runs every model (MLP included)."""
    warnings.warn("mlp_sgd is deprecated: sgd runs the MLPClassifier too", DeprecationWarning,
                  stacklevel=2)
    return sgd(model, data, w0, **kwargs)


def _prepare(model, data, w0, eta, batch_size, n_steps, schedule, record_every, n_chains,
             rng, noise, max_loss):
    """Validate every argument; return the chain run and the checked scalars."""
    if not isinstance(model, GradientModel):
        raise FpsolveError(f"model: expected a GradientModel, got {type(model).__name__}")
    data = as_dataset(data)
    kernel = model.chain_kernel(data)
    n_chains = check_count("n_chains", n_chains)
    w0, key, step0, key_fixed = _start(w0, rng, n_chains, model)
    n_steps = check_count("n_steps", n_steps, 0)
    every = (max(1, n_steps // 1000) if record_every is None
             else check_count("record_every", record_every))
    if step0 % every:
        raise FpsolveError(f"record_every: a continued run records at multiples of "
                           f"record_every from its start, step {step0}; {every} does not "
                           f"divide it")
    b = check_batch_size(batch_size, data.N, schedule)
    T = check_temperature(noise)
    limit = (1e12 * max(1.0, max(model.loss(w, data) for w in w0)) if max_loss is None
             else check_threshold("max_loss", max_loss))
    if (n_steps // every + 1) * w0.size * 8 > MAX_RECORD_BYTES:
        raise FpsolveError(f"record_every: {every} keeps {n_steps // every + 1} records of "
                           f"{w0.size} numbers (over 4 GiB); thin more")
    out = np.zeros((n_steps // every + 1,) + w0.shape)
    out[0] = w0
    run = ChainRun(kernel, w0, key, schedule=schedule, batch_size=b,
                   eta=check_positive("eta", eta), temperature=T, out=out, every=every,
                   row0=step0 // every, max_loss=limit, step0=step0, n_steps=n_steps,
                   label="sgd", key_fixed=key_fixed)
    return run, {"T": T}


def _start(w0, rng, n_chains, model):
    """``(w (C, d), key, step0, key_fixed)`` from initial parameters or a result to continue."""
    if isinstance(w0, SGDResult):
        if rng is not None and not np.array_equal(as_key(rng), w0.key):
            raise FpsolveError("rng: a continued run keeps the key of its SGDResult; pass "
                               "rng=None")
        if w0.w_final.shape[0] != n_chains:
            raise FpsolveError(f"n_chains: the continued run has {w0.w_final.shape[0]} "
                               f"chains, got {n_chains}")
        return np.array(w0.w_final, order="C"), w0.key.copy(), int(w0.step_end), True
    w = initial_points("w0", w0, n_chains, model.n_params)
    return w, as_key(rng), 0, rng is not None

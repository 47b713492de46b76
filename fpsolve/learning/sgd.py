"""Minibatch SGD and its Langevin variants (SGLD, SGWORLD) as streaming numba simulations.

One step of chain ``c`` is

    w_{t+1} = w_t - eta grad L_{B_t}(w_t) + sqrt(2 eta T) zeta_t,

with ``L_B`` the mean per-sample loss over the minibatch ``B_t`` of the chosen schedule
(:mod:`fpsolve.learning.schedules`) and ``zeta_t`` standard normal.  ``noise=None`` (``T = 0``)
is plain SGD; ``noise=T`` adds the Langevin term: SGLD with ``schedule="wr"``, SGWORLD with
``schedule="wor"`` (``T = 1`` samples ``exp(-L)`` in the small-``eta`` limit).

Chains run in parallel (``prange``), each with its own counter-based stream, and the run is cut
into chunks: after each chunk the state can be saved to an ``.npz`` checkpoint, from which a
later call with the same arguments resumes bit-identically.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import FpsolveError
from ..results import LabelledResult
from . import _kernels
from .datasets import as_dataset
from .models import GradientModel
from .schedules import as_key, check_batch_size

__all__ = ["SGDResult", "sgd"]

_log = logging.getLogger(__name__)
_MAX_RECORD_BYTES = 4 * 2**30


@dataclass(frozen=True)
class SGDResult(LabelledResult):
    """A thinned SGD trajectory.

    Attributes
    ----------
    w : ndarray, shape (n_saved, n_chains, d)
        Parameters after steps ``steps[k]`` (``w[0]`` is the initial point).
    steps : ndarray of int, shape (n_saved,)
        ``0, record_every, 2 record_every, ...``.
    w_final : ndarray, shape (n_chains, d)
        Parameters after ``n_steps`` steps.
    key : ndarray of uint64, shape (2,)
        Philox key of the run (pass it as ``rng`` to reproduce it or its minibatches).
    model : GradientModel
    eta, noise : float
        Learning rate and temperature ``T`` (0 for plain SGD).
    batch_size, n_steps, record_every : int
    schedule : str
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


def sgd(model: GradientModel, data, w0, *, eta: float, batch_size: int, n_steps: int,
        schedule: str = "wr", record_every: int | None = None, n_chains: int = 1, rng=None,
        noise: float | None = None, max_loss: float | None = None,
        chunk_size: int | None = None, checkpoint=None, progress: bool = False) -> SGDResult:
    """Run ``n_chains`` independent chains of minibatch SGD (or SGLD / SGWORLD).

    Parameters
    ----------
    model : GradientModel
    data : Dataset or (x, y)
    w0 : array_like, shape (d,) or (n_chains, d)
        Initial parameters (shared by all chains when 1-D).
    eta : float
        Learning rate, > 0.
    batch_size : int
        ``B``, with ``1 <= B <= N``.
    n_steps : int
        Steps per chain, >= 0.
    schedule : {"wr", "wor"}
        Minibatches with or without replacement (see :mod:`fpsolve.learning.schedules`;
        ``"wor"`` drops the last ``N mod B`` indices of each epoch).
    record_every : int, optional
        Keep ``w`` every this many steps (default ``max(1, n_steps // 1000)``).
    n_chains : int, default 1
    rng : Generator, int, SeedSequence, None or key
        Source of the Philox key (:func:`~fpsolve.learning.derive_key`).  To resume from a
        checkpoint pass the same int/SeedSequence/key, or None to take the key of the file.
    noise : float, optional
        Temperature ``T >= 0`` of the additive noise ``sqrt(2 eta T) zeta``; None is plain SGD.
    max_loss : float, optional
        Divergence threshold on the minibatch loss (default ``1e12 max(1, max_c L(w0_c))``;
        ``inf`` stops only on non-finite losses or parameters).
    chunk_size : int, optional
        Steps per chunk (default ``max(1, 2^22 // n_chains)``); checkpoints and the progress
        bar are updated once per chunk.
    checkpoint : str or Path, optional
        ``.npz`` file written atomically after every chunk; if it exists, the run resumes from
        it (its arguments must match; ``n_steps`` may grow).
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    SGDResult

    Raises
    ------
    FpsolveError
        Bad input (naming the argument), a checkpoint of another run, or divergence (naming
        the step, the chain and the loss): results never contain NaNs.

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
    run = _prepare(model, data, w0, eta, batch_size, n_steps, schedule, record_every, n_chains,
                   rng, noise, max_loss, chunk_size)
    state = _load_checkpoint(checkpoint, run, rng) if checkpoint is not None else None
    if state is None:
        state = _fresh_state(run, rng)
    _advance(run, state, checkpoint, progress)
    w = state["traj"]
    w.setflags(write=False)
    return SGDResult(w=w, steps=np.arange(w.shape[0]) * run["every"], w_final=state["w"],
                     key=state["key"], model=model, eta=run["eta"], noise=run["T"],
                     batch_size=run["b"], n_steps=run["n_steps"], record_every=run["every"],
                     schedule=schedule)


def _positive(name, value, *, integer=False, minimum=1):
    if integer:
        ok = (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
              and value >= minimum)
        if not ok:
            raise FpsolveError(f"{name}: expected an int >= {minimum}, got {value!r}")
        return int(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise FpsolveError(f"{name}: expected a finite number > 0, got {value!r}")
    return v


def _temperature(noise) -> float:
    """``noise`` as a temperature ``T >= 0`` (None: 0, plain SGD)."""
    if noise is None:
        return 0.0
    try:
        T = float(noise)
    except (TypeError, ValueError):
        T = math.nan
    if not (math.isfinite(T) and T >= 0):
        raise FpsolveError(f"noise: expected a temperature >= 0 or None, got {noise!r}")
    return T


def _threshold(max_loss) -> float:
    """``max_loss > 0``; ``inf`` keeps only the non-finite checks."""
    try:
        v = float(max_loss)
    except (TypeError, ValueError):
        v = math.nan
    if not v > 0:
        raise FpsolveError(f"max_loss: expected a number > 0 (inf allowed), got {max_loss!r}")
    return v


def _prepare(model, data, w0, eta, batch_size, n_steps, schedule, record_every, n_chains,
             rng, noise, max_loss, chunk_size) -> dict:
    """Validate every argument; return the run description (kernel arguments included)."""
    if not isinstance(model, GradientModel):
        raise FpsolveError(f"model: expected a GradientModel, got {type(model).__name__}")
    data = as_dataset(data)
    kind, x, y, a, c, m = model.kernel_arguments(data)
    n_chains = _positive("n_chains", n_chains, integer=True)
    w0 = np.array(w0, dtype=float)
    if w0.ndim == 1:
        w0 = np.broadcast_to(w0, (n_chains, w0.size))
    if w0.shape != (n_chains, model.n_params) or not np.all(np.isfinite(w0)):
        raise FpsolveError(f"w0: expected finite values of shape ({model.n_params},) or "
                           f"({n_chains}, {model.n_params}), got shape {w0.shape}")
    n_steps = _positive("n_steps", n_steps, integer=True, minimum=0)
    every = (max(1, n_steps // 1000) if record_every is None
             else _positive("record_every", record_every, integer=True))
    run = dict(model=model, data=data, kernel=(kind, x, y, a, c, m), w0=np.array(w0),
               eta=_positive("eta", eta), b=check_batch_size(batch_size, data.N, schedule),
               n_steps=n_steps, every=every, wor=schedule == "wor", schedule=schedule,
               T=_temperature(noise))
    run["chunk"] = (max(1, 2**22 // n_chains) if chunk_size is None
                    else _positive("chunk_size", chunk_size, integer=True))
    run["max_loss"] = (1e12 * max(1.0, max(model.loss(w, data) for w in w0))
                       if max_loss is None else _threshold(max_loss))
    if (n_steps // every + 1) * w0.size * 8 > _MAX_RECORD_BYTES:
        raise FpsolveError(f"record_every: {every} keeps {n_steps // every + 1} records of "
                           f"{w0.size} numbers (over 4 GiB); thin more")
    return run


def _fingerprint(run) -> str:
    """Everything that determines the trajectory except the key and ``n_steps``."""
    h = hashlib.sha256()
    for arr in (run["kernel"][1], run["kernel"][2], run["w0"]):
        h.update(np.ascontiguousarray(arr).tobytes())
    return (f"{run['model']!r}|eta={run['eta']!r}|B={run['b']}|{run['schedule']}|T={run['T']!r}"
            f"|every={run['every']}|max_loss={run['max_loss']!r}|chains={run['w0'].shape[0]}"
            f"|{h.hexdigest()}")


def _fresh_state(run, rng) -> dict:
    traj = np.zeros((run["n_steps"] // run["every"] + 1,) + run["w0"].shape)
    traj[0] = run["w0"]
    return dict(w=run["w0"].copy(), step=0, traj=traj, key=as_key(rng))


def _load_checkpoint(path, run, rng) -> dict | None:
    """The saved state if ``path`` exists and belongs to this run; None if absent."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            saved = {k: f[k] for k in ("w", "step", "traj", "key", "fingerprint")}
    except (OSError, ValueError, KeyError) as exc:
        raise FpsolveError(f"checkpoint: cannot read {str(path)!r} ({exc})") from None
    step = int(saved["step"])
    if str(saved["fingerprint"]) != _fingerprint(run):
        raise FpsolveError(f"checkpoint: {str(path)!r} belongs to a run with other arguments "
                           f"(model, data, w0, eta, batch_size, schedule, noise, record_every, "
                           f"max_loss or n_chains differ); delete it or pass another path")
    key = saved["key"].astype(np.uint64)
    if rng is not None and not np.array_equal(as_key(rng), key):
        raise FpsolveError(f"rng: differs from the key saved in checkpoint {str(path)!r}")
    if step > run["n_steps"]:
        raise FpsolveError(f"n_steps: the checkpoint {str(path)!r} is already at step {step} "
                           f"> n_steps = {run['n_steps']}")
    state = _fresh_state(run, key)
    k = min(saved["traj"].shape[0], state["traj"].shape[0])
    state["traj"][:k] = saved["traj"][:k]
    state.update(w=saved["w"].copy(), step=step)
    _log.info("resuming %s at step %d", path, step)
    return state


def _save_checkpoint(path, run, state) -> None:
    """Write the state to ``path`` atomically (a finished chunk is never lost)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, w=state["w"], step=np.int64(state["step"]), key=state["key"],
                 traj=state["traj"][:state["step"] // run["every"] + 1],
                 fingerprint=np.str_(_fingerprint(run)))
    os.replace(tmp, path)


def _advance(run, state, checkpoint, progress) -> None:
    """Run the remaining chunks in place; raise on divergence."""
    kind, x, y, a, c, m = run["kernel"]
    C, d = state["w"].shape
    b, n, amp = run["b"], x.shape[0], math.sqrt(2.0 * run["eta"] * run["T"])
    grad, tmp = np.empty((C, d)), np.zeros((C, max(m, 1)))
    status = np.zeros((C, 3))
    with tqdm(total=run["n_steps"], initial=state["step"], disable=not progress,
              unit="step", desc=f"sgd ({run['schedule']})") as bar:
        while state["step"] < run["n_steps"]:
            count = min(run["chunk"], run["n_steps"] - state["step"])
            pool = np.tile(np.arange(n + b, dtype=np.int64), (C, 1))
            _kernels.sgd_chunk(kind, x, y, a, c, m, state["key"], run["wor"], b, run["eta"],
                               amp, run["max_loss"], state["step"], count, run["every"],
                               state["w"], state["traj"], pool, tmp, grad, status)
            _check_status(status, run)
            state["step"] += count
            if checkpoint is not None:
                _save_checkpoint(checkpoint, run, state)
            bar.update(count)
            _log.debug("sgd: step %d of %d", state["step"], run["n_steps"])


def _check_status(status, run, label: str = "sgd") -> None:
    """Raise naming the first diverged step and chain (shared by sgd and the samplers)."""
    bad = np.flatnonzero(status[:, 0] != _kernels.OK)
    if bad.size == 0:
        return
    ch = bad[np.argmin(status[bad, 1])]
    code, step, loss = int(status[ch, 0]), int(status[ch, 1]), status[ch, 2]
    what = (f"minibatch loss {loss:.6g} is not <= max_loss = {run['max_loss']:.6g}"
            if code == _kernels.BAD_LOSS else
            f"parameters became non-finite (minibatch loss before the step {loss:.6g})")
    raise FpsolveError(f"{label} diverged at step {step} of chain {ch}: {what}; {bad.size} of "
                       f"{status.shape[0]} chains diverged (eta = {run['eta']!r} may be too "
                       f"large)")

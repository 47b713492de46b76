"""The one run engine of every trajectory driver: argument checks, chunked stepping, progress,
checkpoint/resume and the divergence report.

:func:`~fpsolve.stochastic.simulate`, :func:`~fpsolve.learning.sgd`,
:func:`~fpsolve.learning.sample` and :func:`~fpsolve.learning.slices.runs` differ in their step
kernel, not in their bookkeeping.  Each builds a *run*: an object with

``step``, ``n_steps``
    Steps done so far (global counter) and the total.
``advance(count)``
    Run the kernel for ``count`` more steps from ``step`` (it updates ``step``) and raise if
    a trajectory or chain failed (see :func:`raise_divergence`).
``state() -> dict`` / ``restore(dict)``
    Every array that a resumed run needs, by name (written to and read from checkpoints).
``fingerprint``
    A string fixed by every argument that determines the result (except ``n_steps``).

and hands it to :func:`drive`, which cuts the run into kernel calls, draws the progress bar,
writes checkpoints and resumes from them.  A run that can be split across processes also has

``n_streams``, ``shard(i0, i1)``, ``state_axes``
    Its trajectories or chains; a picklable run of the streams ``[i0, i1)`` from the current
    step (each keeping its own random stream); the axis of the streams in each array of
    ``state()`` (None: equal in every shard).  Optionally ``cuts()``: the stream indices where
    shards may start and end (reduction blocks), None for any.

and :mod:`fpsolve._distributed` runs the shards on a cluster and merges their states.  Every
driver's random numbers are pure functions of ``(key, trajectory, step)``
(:mod:`fpsolve._random`), so how a run is cut -- in time or into shards -- never changes its
trajectories.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from pathlib import Path

import numpy as np

from ._progress import progress_bar, show_progress
from .errors import FpsolveError

__all__ = ["CHUNK_SECONDS", "check_count", "check_positive", "check_temperature",
           "check_threshold", "drive", "fingerprint", "initial_points", "load_checkpoint",
           "raise_divergence", "resume", "save_checkpoint"]

_log = logging.getLogger(__name__)

#: With a progress bar or a checkpoint the run is cut into kernel calls of about this many
#: seconds.  Every call ends in a barrier of the worker threads, which costs ~10 ms on a loaded
#: machine (measured: 100 calls over a 2 s run cost +50 % at load 7 on 2 cores), so calls must
#: be long, not numerous.
CHUNK_SECONDS = 0.5
#: Seconds between two checkpoint writes when no chunk size is given (a write copies every
#: record so far).
CHECKPOINT_SECONDS = 10.0
#: The first adaptive call runs this fraction of the steps; later ones are sized from its speed.
_FIRST_CHUNK = 1e-3


# ----------------------------------------------------------------------------- argument checks
def check_count(name: str, value, minimum: int = 1, error=FpsolveError) -> int:
    """``value`` as an int ``>= minimum`` (bools refused); ``error`` naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise error(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def check_positive(name: str, value, *, strict: bool = True, error=FpsolveError) -> float:
    """``value`` as a finite float ``> 0`` (``>= 0`` with ``strict=False``)."""
    v = _as_float(value)
    if not (math.isfinite(v) and (v > 0 if strict else v >= 0)):
        raise error(f"{name}: expected a finite number {'>' if strict else '>='} 0, got "
                    f"{value!r}")
    return v


def check_temperature(noise) -> float:
    """``noise`` as a temperature ``T >= 0`` (None: 0, plain SGD)."""
    if noise is None:
        return 0.0
    T = _as_float(noise)
    if not (math.isfinite(T) and T >= 0):
        raise FpsolveError(f"noise: expected a temperature >= 0 or None, got {noise!r}")
    return T


def check_threshold(name: str, value) -> float:
    """A divergence threshold ``> 0``; ``inf`` keeps only the non-finite checks."""
    v = _as_float(value)
    if not v > 0:
        raise FpsolveError(f"{name}: expected a number > 0 (inf allowed), got {value!r}")
    return v


def initial_points(name: str, w0, n: int, d: int, what: str = "n_chains") -> np.ndarray:
    """``w0 (d,)`` repeated, or ``w0 (n, d)``, as a writable C-contiguous float copy."""
    w = np.array(w0, dtype=float)
    if w.ndim == 1:
        w = np.broadcast_to(w, (n, w.size))
    if w.shape != (n, d) or not np.all(np.isfinite(w)):
        raise FpsolveError(f"{name}: expected finite values of shape ({d},) or ({n}, {d}) "
                           f"({what} = {n}), got shape {np.shape(w0)}")
    return np.array(w, order="C")


# ----------------------------------------------------------------------------- checkpoints
def fingerprint(*parts) -> str:
    """SHA-256 of the arrays (by bytes, dtype and shape) and the reprs of everything else."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.hexdigest()


def save_checkpoint(path, fingerprint: str, step: int, state: dict) -> None:
    """Write ``state`` (name -> array) after ``step`` steps to ``path`` atomically: a temporary
    file in the same directory, flushed and renamed over the old one, so an interruption at any
    moment leaves the last finished chunk intact."""
    path = Path(path)
    arrays = {"fingerprint": np.array(fingerprint), "step": np.array(step, dtype=np.int64)}
    arrays.update({f"state__{k}": np.asarray(v) for k, v in state.items()})
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, expected: str, error=FpsolveError, what: str = "the arguments"):
    """``(step, state)`` saved in ``path``, or None when it does not exist; ``error`` naming
    ``checkpoint`` when it is not a checkpoint or belongs to a run with other arguments."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise error(f"checkpoint: cannot read {str(path)!r} as a checkpoint ({exc})") from None
    if "fingerprint" not in arrays or str(arrays["fingerprint"]) != expected:
        raise error(f"checkpoint: {str(path)!r} was written by a run with other arguments "
                    f"({what}); delete it or pass another path")
    state = {k[len("state__"):]: v for k, v in arrays.items() if k.startswith("state__")}
    return int(arrays["step"]), state


# ----------------------------------------------------------------------------- the loop
def resume(run, checkpoint, error=FpsolveError, what="the arguments") -> None:
    """Restore ``run`` from ``checkpoint`` when that file exists (None: nothing to do)."""
    if checkpoint is None:
        return
    saved = load_checkpoint(checkpoint, run.fingerprint, error, what)
    if saved is not None:
        if saved[0] > run.n_steps:
            raise error(f"n_steps: the checkpoint {str(checkpoint)!r} is already at step "
                        f"{saved[0]} > n_steps = {run.n_steps}")
        run.restore(saved[1])
        run.step = saved[0]
        _log.info("resuming %s at step %d", checkpoint, run.step)


def drive(run, *, checkpoint=None, progress=None, chunk=None, desc=None, unit="step",
          error=FpsolveError, what="the arguments") -> None:
    """Advance ``run`` to ``run.n_steps`` in kernel calls; resume from and write ``checkpoint``.

    ``chunk``: steps per call.  None sizes calls adaptively -- one call for the whole run when
    neither a bar nor a checkpoint needs intermediate stops, else calls of about
    :data:`CHUNK_SECONDS` (:data:`CHECKPOINT_SECONDS` between checkpoint writes without a bar).
    Drivers whose floating sums depend on the cut (observables) pass a fixed ``chunk``.
    """
    resume(run, checkpoint, error, what)
    bar_on = show_progress(progress)
    seconds = CHUNK_SECONDS if bar_on else CHECKPOINT_SECONDS
    stops = bar_on or checkpoint is not None
    left = run.n_steps - run.step
    count = chunk if chunk is not None else (max(1, int(left * _FIRST_CHUNK)) if stops else left)
    last_save = time.perf_counter()
    with progress_bar(progress=progress, total=run.n_steps, initial=run.step, unit=unit,
                      desc=desc) as bar:
        while run.step < run.n_steps:
            count = max(1, min(count, run.n_steps - run.step))
            start = time.perf_counter()
            run.advance(count)
            bar.update(count)
            now = time.perf_counter()
            if checkpoint is not None and (chunk is not None or not bar_on
                                           or now - last_save >= CHECKPOINT_SECONDS
                                           or run.step == run.n_steps):
                save_checkpoint(checkpoint, run.fingerprint, run.step, run.state())
                last_save = now
            if chunk is None:    # next call ~`seconds` long, growing at most 8x (noise)
                rate = count / max(now - start, 1e-9)
                count = max(1, min(8 * count, int(rate * seconds)))


def raise_divergence(status, label: str, eta: float, max_loss: float, chain0: int = 0) -> None:
    """Raise naming the first diverged step and chain; ``status (C, 3)`` = (code, step, loss)
    with code 0 (running), 1 (minibatch loss above ``max_loss``), 2 (non-finite parameters);
    row ``c`` is chain ``chain0 + c`` (a shard of a larger run)."""
    bad = np.flatnonzero(status[:, 0] != 0)
    if bad.size == 0:
        return
    ch = bad[np.argmin(status[bad, 1])]
    code, step, loss = int(status[ch, 0]), int(status[ch, 1]), status[ch, 2]
    what = (f"minibatch loss {loss:.6g} is not <= max_loss = {max_loss:.6g}" if code == 1 else
            f"parameters became non-finite (minibatch loss before the step {loss:.6g})")
    raise FpsolveError(f"{label} diverged at step {step} of chain {chain0 + ch}: {what}; "
                       f"{bad.size} of {status.shape[0]} chains diverged (eta = {eta!r} may be "
                       f"too large)")

"""Checkpoints of ensemble simulations: the full state after each finished chunk.

A checkpoint is an ``.npz`` file holding the step counter, the Philox key, the per-trajectory
state (positions, winding, exit data), the positions saved so far, the observables'
accumulators and a fingerprint of every argument that determines the result.  It is written to
a temporary file in the same directory and renamed over the old one (an atomic replace on POSIX
and Windows), so an interruption at any moment leaves the last finished chunk intact.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import SolverError

__all__ = ["STATE_FIELDS", "fingerprint", "load_checkpoint", "save_checkpoint"]

#: Per-trajectory state arrays of a simulation, saved under these names.
STATE_FIELDS = ("x", "wind", "t_exit", "side", "fail")


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


def save_checkpoint(path, *, fingerprint: str, step: int, key, state: dict, positions,
                    observables: dict) -> None:
    """Atomically write the simulation state after ``step`` steps to ``path``.

    ``positions`` is the array of saved rows up to ``step`` (or None); ``observables`` maps each
    observable name to its ``state()`` dict.
    """
    path = Path(path)
    arrays = {"fingerprint": np.array(fingerprint), "step": np.array(step, dtype=np.int64),
              "key": np.asarray(key)}
    arrays.update({f"state__{k}": v for k, v in state.items()})
    if positions is not None:
        arrays["positions"] = positions
    for name, obs_state in observables.items():
        arrays.update({f"obs__{name}__{k}": v for k, v in obs_state.items()})
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, expected_fingerprint: str) -> dict | None:
    """The saved state as a dict (keys ``step``, ``key``, ``state``, ``positions``,
    ``observables``), or None when ``path`` does not exist.

    Raises :class:`~fpsolve.errors.SolverError` naming ``checkpoint`` when the file is not a
    checkpoint or was written by a simulation with different arguments.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise SolverError(f"checkpoint: cannot read {str(path)!r} as a checkpoint ({exc})") \
            from exc
    if "fingerprint" not in arrays or str(arrays["fingerprint"]) != expected_fingerprint:
        raise SolverError(f"checkpoint: {str(path)!r} was written by a simulation with "
                          "different arguments (model, grid, x0, dt, n_steps, method, rng, "
                          "chunk_steps, observables ...); delete it or pass another path")
    observables: dict = {}
    for k, v in arrays.items():
        if k.startswith("obs__"):
            _, name, field = k.split("__", 2)
            observables.setdefault(name, {})[field] = v
    return {"step": int(arrays["step"]), "key": arrays["key"],
            "state": {k: arrays[f"state__{k}"] for k in STATE_FIELDS},
            "positions": arrays.get("positions"), "observables": observables}

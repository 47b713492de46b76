"""Argument checks of :func:`~fpsolve.stochastic.simulate` (each error names its argument)."""

from __future__ import annotations

import copy
import math

import numpy as np

from .._runs import check_count, check_positive
from ..errors import SolverError
from ..grids import CartesianGrid
from ..models import FokkerPlanckModel
from .observables import PathObservable

_BUFFER_DOUBLES = 2**22   # path buffer of a chunk when observables need every step (32 MB)
_PROGRESS_CHUNKS = 20     # default number of chunks with progress or checkpoints


def _check_model(model) -> FokkerPlanckModel:
    inner = getattr(model, "model", None)
    if not isinstance(model, FokkerPlanckModel) and isinstance(inner, FokkerPlanckModel):
        model = inner
    if not isinstance(model, FokkerPlanckModel):
        raise SolverError(f"model: expected a FokkerPlanckModel, got {type(model).__name__}")
    return model


def _check_grid(grid) -> CartesianGrid:
    if not isinstance(grid, CartesianGrid):
        raise SolverError(f"grid: expected a CartesianGrid, got {type(grid).__name__}")
    return grid


def _check_dt(dt) -> float:
    return check_positive("dt", dt, error=SolverError)


def _count(name, value, minimum) -> int:
    return check_count(name, value, minimum, SolverError)


def _check_x0(x0, grid, n_traj) -> np.ndarray:
    d = grid.ndim
    x = np.array(x0, dtype=float, ndmin=1)
    if x.ndim == 1 and x.shape != (d,) and d == 1:
        x = x[:, None]                      # 1-D: (n_traj,) positions
    if x.ndim == 1 and x.shape == (d,):
        count = 1 if n_traj is None else _count("n_traj", n_traj, 1)
        x = np.repeat(x[None], count, axis=0)
    if x.ndim != 2 or x.shape[1] != d or x.shape[0] < 1:
        raise SolverError(f"x0: expected shape ({d},) or (n_traj, {d}), got {np.shape(x0)}")
    if n_traj is not None and _count("n_traj", n_traj, 1) != x.shape[0]:
        raise SolverError(f"n_traj: {n_traj} does not match the {x.shape[0]} rows of x0")
    if x.shape[0] >= 2**32:
        raise SolverError(f"n_traj: at most 2^32 - 1 trajectories, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise SolverError("x0: contains NaN or inf")
    lo, hi = np.array(grid.bounds).T
    outside = np.any((x < lo) | (x > hi), axis=1)
    if outside.any():
        i = int(np.argmax(outside))
        raise SolverError(f"x0: position {tuple(x[i].tolist())} (trajectory {i}) lies outside "
                          f"the walls {list(grid.bounds)}")
    return np.ascontiguousarray(x)


def _check_noise(noise, n_steps, shape) -> np.ndarray:
    if noise is None:
        return np.zeros((0, 0, shape[1]))
    noise = np.ascontiguousarray(noise, dtype=float)
    if noise.shape != (n_steps,) + shape:
        raise SolverError(f"normals: expected shape {(n_steps,) + shape} (n_steps, n_traj, d), "
                          f"got {noise.shape}")
    if not np.all(np.isfinite(noise)):
        raise SolverError("normals: contains NaN or inf")
    return noise


def _check_observables(observables, n_traj, dt, n_steps) -> list:
    if isinstance(observables, PathObservable):
        observables = [observables]
    out, names = [], set()
    for obs in observables:
        if not isinstance(obs, PathObservable):
            raise SolverError(f"observables: expected PathObservable instances, got "
                              f"{type(obs).__name__}")
        if obs.name in names:
            raise SolverError(f"observables: duplicate name {obs.name!r}; pass name=...")
        names.add(obs.name)
        obs = copy.deepcopy(obs)
        obs.start(n_traj, dt, n_steps)
        out.append(obs)
    return out


def _chunk(chunk_steps, n_steps, shape, buffered, split) -> int:
    if chunk_steps is not None:
        return _count("chunk_steps", chunk_steps, 1)
    chunk = math.ceil(n_steps / _PROGRESS_CHUNKS) if split else n_steps
    if buffered:
        chunk = min(chunk, max(1, _BUFFER_DOUBLES // (shape[0] * shape[1])))
    return chunk


def _initial_state(x) -> dict:
    n, d = x.shape
    return {"x": x.copy(), "wind": np.zeros((n, d), dtype=np.int64),
            "t_exit": np.full(n, np.nan), "side": np.zeros(n, dtype=np.int64),
            "fail": np.full((n, 2), -1, dtype=np.int64)}

"""``simulate``: ensembles of trajectories of the SDE that belongs to a Fokker-Planck model."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from .._distributed import execute
from .._runs import fingerprint
from ..errors import AccuracyWarning, DiffusionError, SolverError
from . import _kernels
from ._simulation_checks import (_check_dt, _check_grid, _check_model, _check_noise,
                                 _check_observables, _check_x0, _chunk, _count, _initial_state)
from .methods import METHOD_ORDERS, METHODS
from .rng import derive_key, seed_sequence, ziggurat_table
from .stiffness import check_stiffness
from .tables import tabulate
from .trajectories import TrajectoryResult

__all__ = ["simulate"]

#: Reflections per trajectory step above which simulate warns: one step in ten hitting a wall
#: means the step length is a sizeable fraction of the distance the density
#: keeps from the walls (free diffusion reaches it at sqrt(2 D dt) ~ box / 10).
WALL_HIT_LIMIT = 0.1


def simulate(model, x0, *, grid, dt, n_steps, n_traj=None, method="euler_maruyama",
             record_every=1, rng=None, observables=(), chunk_steps=None, checkpoint=None,
             progress=False, table_grid=None, exit_correction=True, normals=None, noise=None,
             traj_offset=0, client=None) -> TrajectoryResult:
    """Simulate ``n_traj`` trajectories of ``dx = a dt + sigma dW`` (``sigma sigma^T = 2 D``).

    Parameters
    ----------
    model : FokkerPlanckModel
        Any convention: the trajectories follow the Ito drift ``a = model.ito_drift`` (an object
        with a ``model`` attribute, such as a gallery problem, is unpacked).
    x0 : array_like, shape (d,) or (n_traj, d)
        Initial positions, inside the walls (a scalar or ``(n_traj,)`` in 1-D).
    grid : CartesianGrid, keyword-only
        Box and walls: ``reflecting`` (specular reflection), ``periodic`` (wrap, counted in
        ``winding``) or ``absorbing`` (the trajectory stops; ``exit_time``, ``exit_side``).
    dt : float, keyword-only
    n_steps : int, keyword-only
    n_traj : int, optional, keyword-only
        Default: the number of rows of ``x0`` (1 for a single point).
    method : {"euler_maruyama", "heun", "milstein"}, keyword-only
        See :data:`fpsolve.stochastic.methods.METHODS` for the declared orders.
    record_every : int, default 1, keyword-only
        Save positions every ``record_every`` steps; 0 saves none (``positions`` is None).
    rng : Generator, int, SeedSequence or None, keyword-only
        Source of the 64-bit Philox key (:func:`~fpsolve.stochastic.rng.derive_key`).
    observables : sequence of PathObservable, keyword-only
        Streaming observables; copies are accumulated and returned in ``result.observables``.
    chunk_steps : int, optional, keyword-only
        Steps per kernel call (progress, checkpoints and observables work per chunk).  Default:
        all steps; ``n_steps / 20`` with progress or checkpoint; capped so that a chunk's path
        buffer stays near 32 MB when observables are given.
    checkpoint : str or Path, optional, keyword-only
        ``.npz`` file written after each chunk; if it exists, the run resumes from it (it must
        come from a call with the same arguments; with ``rng`` None or a Generator its saved key
        is reused).
    progress : bool, default False, keyword-only
        Show a tqdm progress bar.
    table_grid : CartesianGrid, optional, keyword-only
        Grid on which drift and noise are tabulated (same box); default ``grid`` refined to
        at least 256 cells per axis in 1-D/2-D (64 in 3-D), at most 2^20 cells.
    exit_correction : bool, default True, keyword-only
        Brownian-bridge test for crossings of absorbing walls within a step.
    normals : ndarray, shape (n_steps, n_traj, d), optional, keyword-only
        Standard normals to use instead of generated ones (``dW = sqrt(dt) normals``), e.g. to
        compare schemes on the same Brownian path.
    noise : ndarray, optional, keyword-only
        Deprecated alias of ``normals`` (one release): ``noise`` means a temperature in
        :func:`~fpsolve.learning.sgd`.
    traj_offset : int, default 0, keyword-only
        Index of the first trajectory: row ``i`` draws the random stream of trajectory
        ``traj_offset + i``, so runs with offsets ``0, n, 2n, ...`` are the parts of one run.
    client : distributed.Client, Executor or Backend, optional, keyword-only
        Run the trajectories in shards on a cluster (:mod:`fpsolve.distributed`); the result
        is bit-identical to ``client=None``.  Observables must support shards (the built-in
        ones do); shards then end at their reduction blocks (at most 16 shards).

    Returns
    -------
    TrajectoryResult

    Raises
    ------
    SolverError
        Invalid arguments (named), a non-finite position during the run (reduce ``dt``), or
        ``dt`` at or beyond the explicit stability bound ``2 / max |l|`` over the drift
        Jacobian's eigenvalues ``l`` with ``Re l < 0`` (:mod:`fpsolve.stochastic.stiffness`; an
        :class:`~fpsolve.errors.FpsolveWarning` from half the bound on).
    DiffusionError
        The interpolated noise factor is not positive definite at a visited point (the
        message gives the trajectory, step and position).

    Notes
    -----
    Drift and Cholesky factor of ``2 D`` are tabulated at the cell centers of ``table_grid``
    and interpolated multilinearly (:mod:`fpsolve.stochastic.tables`); constant ``D`` is used
    directly, and a drift that is affine on the table is evaluated as ``b + M x``.  Reflection
    folds the end of a step back into the box; an absorbed trajectory's exit time is interpolated
    linearly along the step when its end lies outside, and is the step's midpoint when the
    Brownian-bridge test (probability ``exp(-2 u v / (2 D_kk dt))`` for distances ``u, v`` of the
    step's ends to the wall) detects a crossing in between.
    Variates are counter based (Philox4x32-10 + ziggurat): results are bit-identical for any
    number of threads and any ``chunk_steps`` (the floating sums of the observables depend on
    ``chunk_steps`` at round-off level).

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.stochastic import simulate
    >>> from fpsolve.models.gallery import OrnsteinUhlenbeck
    >>> grid = fp.CartesianGrid([(-8, 8)] * 2, 16)
    >>> res = simulate(OrnsteinUhlenbeck(-np.eye(2)), [0.0, 0.0], grid=grid, dt=0.01,
    ...                n_steps=500, n_traj=2000, rng=42, record_every=0)
    >>> bool(np.allclose(np.cov(res.final_positions.T), np.eye(2), atol=0.1))  # S = I
    True
    """
    if noise is not None:
        warnings.warn("simulate(noise=) is deprecated; use normals=", DeprecationWarning,
                      stacklevel=2)
        normals = noise if normals is None else normals
    run = _prepare(model, x0, grid, dt, n_steps, n_traj, method, record_every, rng,
                   observables, chunk_steps, checkpoint, progress, table_grid,
                   exit_correction, normals, traj_offset)
    execute(_SDERun(run), client=client, checkpoint=checkpoint, progress=bool(progress),
            chunk=run["chunk"], error=SolverError, what="model, grid, x0, dt, n_steps, "
            "method, rng, chunk_steps, observables ...")
    return _result(run)


# ----------------------------------------------------------------------------- preparation
def _prepare(model, x0, grid, dt, n_steps, n_traj, method, record_every, rng, observables,
             chunk_steps, checkpoint, progress, table_grid, exit_correction, noise,
             traj_offset) -> dict:
    model, grid = _check_model(model), _check_grid(grid)
    dt, n_steps = _check_dt(dt), _count("n_steps", n_steps, 1)
    if method not in METHODS:
        raise SolverError(f"method: unknown name {method!r}; expected one of {tuple(METHODS)}")
    record_every = _count("record_every", record_every, 0)
    x = _check_x0(x0, grid, n_traj)
    noise = _check_noise(noise, n_steps, x.shape)
    obs = _check_observables(observables, x.shape[0], dt, n_steps)
    chunk = _chunk(chunk_steps, n_steps, x.shape, bool(obs), progress or checkpoint is not None)
    tables = tabulate(model, grid, method, table_grid=table_grid)
    check_stiffness(tables, dt, method)
    run = {"tables": tables, "method": method, "dt": dt, "n_steps": n_steps, "step": 0,
           "record_every": record_every, "obs": obs, "chunk": chunk, "grid": grid,
           "noise": noise, "bridge": bool(exit_correction), "state": _initial_state(x),
           "traj0": _count("traj_offset", traj_offset, 0)}
    if run["traj0"] + x.shape[0] >= 2**32:
        raise SolverError(f"traj_offset: trajectories up to {run['traj0'] + x.shape[0]} "
                          f"exceed the 2^32 - 1 random streams")
    n_saved = n_steps // record_every + 1 if record_every else 0
    run["positions"] = np.full((n_saved, *x.shape), np.nan) if record_every else None
    if record_every:
        run["positions"][0] = x
    rng_fixed = not (rng is None or isinstance(rng, np.random.Generator))
    run["fingerprint"] = fingerprint(
        x, dt, n_steps, method, record_every, chunk, bool(exit_correction), repr(grid),
        repr(tables.table_grid), tables.drift, tables.sigma, tables.dsigma,
        np.zeros(0) if noise.size == 0 else noise, [o.config() for o in obs],
        derive_key(rng) if rng_fixed else "key-from-checkpoint",
        *([run["traj0"]] if run["traj0"] else []))
    seq = seed_sequence(rng)
    run["key"], run["entropy"] = derive_key(seq), seq.entropy
    return run


# ----------------------------------------------------------------------------- running
def _run_chunk(run, m: int) -> None:
    """Advance all trajectories by ``m`` steps, feed the observables, record positions."""
    st, tb, step0, every = run["state"], run["tables"], run["step"], run["record_every"]
    if run["obs"]:
        path = np.full((m + 1,) + st["x"].shape, np.nan)
        alive = np.isnan(st["t_exit"]) & (st["fail"][:, 0] < 0)
        path[0][alive] = st["x"][alive]
        stride, row0 = 1, step0
    elif every:
        path, stride, row0 = run["positions"], every, 0
    else:
        path, stride, row0 = np.zeros((0,) + st["x"].shape), 0, 0
    _kernels.advance(METHODS[run["method"]].code, st["x"], st["wind"], st["t_exit"], st["side"],
                     st["fail"], tb.drift, tb.sigma, tb.dsigma, tb.tgeo, tb.tint, tb.wall,
                     tb.kind, run["key"], ziggurat_table(), run["noise"], step0, m, run["dt"],
                     run["bridge"], path, stride, row0, run["traj0"])
    if run["obs"]:
        for obs in run["obs"]:
            obs.update(path, step0)
        if every:
            g = np.arange(step0 + 1, step0 + m + 1)
            g = g[g % every == 0]
            run["positions"][g // every] = path[g - step0]


def _raise_on_failure(run) -> None:
    fail = run["state"]["fail"]
    bad = np.flatnonzero(fail[:, 0] >= 0)
    if bad.size == 0:
        return
    i = int(bad[np.argmin(fail[bad, 0])])
    step, reason = int(fail[i, 0]), int(fail[i, 1])
    where = tuple(run["state"]["x"][i].tolist())
    i += run["traj0"]
    if reason == 1:
        raise DiffusionError(f"diffusion: the interpolated noise factor is not positive definite "
                             f"at x = {where} (trajectory {i}, step {step}); D must be positive "
                             "definite wherever trajectories go")
    raise SolverError(f"dt: step {step} of trajectory {i} from x = {where} gave a non-finite "
                      f"position; reduce dt")


#: Per-trajectory state arrays of a simulation (checkpointed under these names).
STATE_FIELDS = ("x", "wind", "t_exit", "side", "fail")


class _SDERun:
    """A simulation as a run of the engine (:func:`fpsolve._runs.drive`)."""

    def __init__(self, run):
        self.run, self.n_steps, self.fingerprint = run, run["n_steps"], run["fingerprint"]

    @property
    def step(self) -> int:
        return self.run["step"]

    @step.setter
    def step(self, value: int) -> None:
        self.run["step"] = value

    def advance(self, m: int) -> None:
        _run_chunk(self.run, m)
        self.run["step"] += m
        _raise_on_failure(self.run)

    def state(self) -> dict:
        run, every = self.run, self.run["record_every"]
        out = {k: run["state"][k] for k in STATE_FIELDS}
        out["key"] = run["key"]
        if run["positions"] is not None:
            out["positions"] = run["positions"][:run["step"] // every + 1]
        for obs in run["obs"]:
            out.update({f"obs__{obs.name}__{k}": v for k, v in obs.state().items()})
        return out

    @property
    def n_streams(self) -> int:
        return self.run["state"]["x"].shape[0]

    @property
    def state_axes(self) -> dict:
        axes = dict.fromkeys(STATE_FIELDS, 0) | {"key": None, "positions": 1}
        for obs in self.run["obs"]:
            axes.update({f"obs__{obs.name}__{k}": a for k, a in (obs.state_axes or {}).items()})
        return axes

    def cuts(self):
        """Block edges common to every observable (None: shards may end anywhere)."""
        cuts = [c for c in (obs.cuts() for obs in self.run["obs"]) if c is not None]
        return None if not cuts else functools.reduce(np.intersect1d, cuts)

    def shard(self, i0: int, i1: int) -> _SDERun:
        """Trajectories ``[i0, i1)`` from the current step, with their own streams."""
        run = dict(self.run, traj0=self.run["traj0"] + i0,
                   state={k: v[i0:i1].copy() for k, v in self.run["state"].items()},
                   obs=[obs.shard(i0, i1) for obs in self.run["obs"]])
        if run["noise"].size:
            run["noise"] = np.ascontiguousarray(run["noise"][:, i0:i1])
        if run["positions"] is not None:
            run["positions"] = np.ascontiguousarray(run["positions"][:, i0:i1])
        return _SDERun(run)

    def restore(self, saved: dict) -> None:
        run = self.run
        if not np.array_equal(saved["key"], run["key"]):
            run["entropy"] = None           # the checkpoint's key, not the one of rng
        run["key"] = saved["key"]
        for k in STATE_FIELDS:
            run["state"][k] = np.ascontiguousarray(saved[k])
        if run["positions"] is not None:
            run["positions"][:saved["positions"].shape[0]] = saved["positions"]
        for obs in run["obs"]:
            prefix = f"obs__{obs.name}__"
            obs.load_state({k[len(prefix):]: v for k, v in saved.items()
                            if k.startswith(prefix)})


def _result(run) -> TrajectoryResult:
    st, every = run["state"], run["record_every"]
    times = (np.arange(run["positions"].shape[0]) * every * run["dt"] if every
             else np.zeros(0))
    seed = {"key": [int(k) for k in run["key"]]}
    if run["entropy"] is not None:
        seed["entropy"] = run["entropy"]
    winding, rate = _wall_hits(run)
    return TrajectoryResult(
        positions=run["positions"], times=times, final_positions=st["x"],
        exit_time=st["t_exit"], exit_side=st["side"], winding=winding,
        observables={o.name: o for o in run["obs"]}, dt=run["dt"], n_steps=run["n_steps"],
        method=run["method"], seed=seed, grid=run["grid"], table_grid=run["tables"].table_grid,
        orders=dict(METHOD_ORDERS[run["method"]]),
        options={"record_every": every, "chunk_steps": run["chunk"],
                 "exit_correction": run["bridge"], "wall_hit_rate": rate})


def _wall_hits(run) -> tuple[np.ndarray, float]:
    """``(winding, rate)``: the kernel counts wraps on periodic axes and reflecting steps on
    reflecting ones in the same array; the winding keeps the wraps, the rate is the number of
    reflections (summed over the reflecting axes) per trajectory step.  Above
    ``WALL_HIT_LIMIT`` an AccuracyWarning: a step then carries trajectories across a sizeable
    part of the box (or an unstable drift throws them from wall to wall), and the reflection is
    resolved only to O(sqrt(dt))."""
    wind = run["state"]["wind"]
    reflecting = np.array([b == "reflecting" for b in run["grid"].boundary])
    steps = wind.shape[0] * max(run["step"], 1)
    rate = float(wind[:, reflecting].sum() / steps) if steps else 0.0
    if rate > WALL_HIT_LIMIT:
        warnings.warn(f"simulate: {rate:.3g} reflections per trajectory step (limit "
                      f"{WALL_HIT_LIMIT:g}): dt = {run['dt']:g} moves trajectories across a large "
                      "part of the box or the drift throws them from wall to wall; reduce dt",
                      AccuracyWarning, stacklevel=4)
    winding = wind.copy()
    winding[:, reflecting] = 0
    return winding, rate

"""Running on a cluster: shards of one run, sweeps over parameter grids, warm workers.

Every trajectory driver takes ``client=``: a Dask ``distributed.Client``, a
:class:`concurrent.futures.Executor` (a process pool) or a :class:`Backend` wrapping either with
a sharding policy.  The trajectories or chains are cut into shards by index; each shard runs the
numba kernels on a worker with its own random streams; the merged result is bit-identical to
the run in one process (docs/distributed.md).

:func:`sweep` maps a study over a grid of parameters (learning rates x batch sizes x seeds) on
the same kind of client and returns a :class:`SweepTable`; :func:`warm_up` loads the compiled
kernels in every worker before the first task needs them.

Examples
--------
>>> from concurrent.futures import ThreadPoolExecutor
>>> from fpsolve.distributed import sweep
>>> def study(a, b):
...     return {"sum": a + b}
>>> with ThreadPoolExecutor(2) as pool:
...     table = sweep(study, {"a": [1, 2], "b": [10, 20]}, client=pool)
>>> table.column("sum").tolist(), len(table)
([11, 21, 12, 22], 4)
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from ._distributed import Backend, ShardReport, VersionError, as_backend
from .errors import FpsolveError

__all__ = ["Backend", "ShardReport", "SweepTable", "VersionError", "local_cluster", "sweep",
           "warm_up"]


@dataclass(frozen=True)
class SweepTable:
    """The results of a :func:`sweep`, one row per combination of parameters.

    Attributes
    ----------
    names : tuple of str
        The swept parameters, in the order of the grid.
    cases : list of dict
        ``cases[k]``: the parameters of row ``k`` (the product of the grid, last name fastest).
    results : list
        ``results[k]``: what the study returned for ``cases[k]``.
    seconds : float
        Wall time of the sweep.
    retried : int
        Cases run again after a worker was lost.
    """

    names: tuple
    cases: list
    results: list
    seconds: float = 0.0
    retried: int = 0

    def __len__(self) -> int:
        return len(self.cases)

    def column(self, name: str) -> np.ndarray:
        """A parameter, or an entry of dict results, over the rows, shape ``(len(self),)``."""
        if name in self.names:
            return np.array([case[name] for case in self.cases])
        try:
            return np.array([result[name] for result in self.results])
        except (KeyError, TypeError, IndexError):
            raise FpsolveError(f"name: expected a parameter {self.names} or a key of the "
                               f"study's dict results, got {name!r}") from None

    def rows(self) -> list[dict]:
        """Each row as one dict: the parameters, and the result's entries (a dict result) or
        ``result``."""
        return [dict(case, **(res if isinstance(res, dict) else {"result": res}))
                for case, res in zip(self.cases, self.results)]

    def to_dataframe(self):
        """The rows as a ``pandas.DataFrame`` (pandas must be installed)."""
        import pandas as pd
        return pd.DataFrame(self.rows())


def sweep(study, grid: dict, *, client=None, fixed: dict | None = None) -> SweepTable:
    """Call ``study(**case, **fixed)`` for every combination ``case`` of the ``grid``.

    Parameters
    ----------
    study : callable
        A module-level function (it is pickled to the workers), returning anything picklable;
        a dict of numbers gives columns (:meth:`SweepTable.column`).  Seeds are parameters like
        any other, so every case is reproducible wherever it runs.
    grid : dict of str -> sequence
        Values of each swept parameter; the cases are their Cartesian product.
    client : distributed.Client, Executor or Backend, optional
        Where the cases run, concurrently; None runs them here, one after the other.
    fixed : dict, optional
        Keyword arguments shared by every case.

    Returns
    -------
    SweepTable
        Rows in grid order, whichever case finished first.
    """
    if not callable(study):
        raise FpsolveError(f"study: expected a callable, got {type(study).__name__}")
    if not isinstance(grid, dict) or not grid or any(
            isinstance(v, (str, bytes)) or not np.iterable(v) or len(v) == 0
            for v in grid.values()):
        raise FpsolveError(f"grid: expected a dict of parameter name -> non-empty sequence of "
                           f"values, got {grid!r}")
    names, fixed = tuple(grid), dict(fixed or {})
    cases = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    start, results, retried = time.perf_counter(), [None] * len(cases), 0
    if client is None:
        results = [study(**case, **fixed) for case in cases]
    else:
        backend = as_backend(client)
        backend.check_versions()
        items = [(study, case, fixed) for case in cases]
        for i, result in backend.imap(_call, items, label=lambda it: f"case {it[1]}"):
            results[i] = result
        retried = backend.retried
    return SweepTable(names, cases, results, time.perf_counter() - start, retried)


def _call(study, case, fixed):
    return study(**case, **fixed)


def warm_up(client) -> dict:
    """Load the compiled kernels of simulate and of the chain loop in every worker (from the
    on-disk cache, or compiling them once); ``{worker: seconds}``.

    A worker process pays this (about 1 s) on its first task otherwise; call it once after
    starting the cluster so that timings and the first shards are not skewed.
    """
    backend = as_backend(client)
    if backend.dask:
        return dict(backend.client.run(_warm))
    n = backend.n_workers()
    return {f"task {i}": s for i, s in backend.imap(_warm, [()] * n)}


def _warm() -> float:
    """A tiny simulate with every observer and a tiny SGD run: loads their kernels."""
    from .grids import CartesianGrid
    from .learning import LinearRegression, sgd
    from .models import FokkerPlanckModel
    from .stochastic import CellCurrent, Histogram, simulate

    start = time.perf_counter()
    grid = CartesianGrid([(-4.0, 4.0)] * 2, 8)
    model = FokkerPlanckModel(lambda x: -x, 1.0)
    simulate(model, [0.0, 0.0], grid=grid, dt=0.01, n_steps=2, n_traj=2, rng=0,
             observables=[Histogram(grid), CellCurrent(grid)])
    x = np.linspace(-1, 1, 8)[:, None]
    sgd(LinearRegression(1), (x, x[:, 0]), [0.0], eta=0.01, batch_size=2, n_steps=2, rng=0)
    return time.perf_counter() - start


def local_cluster(n_workers: int, *, threads_per_worker: int = 1, **kwargs):
    """A Dask ``Client`` of a ``LocalCluster`` with ``n_workers`` worker processes (needs
    ``fpsolve[distributed]``); closing the client (or leaving its ``with`` block) closes the
    cluster."""
    try:
        from distributed import Client
    except ImportError:
        raise FpsolveError("client: Dask is not installed; pip install 'fpsolve[distributed]'"
                           ) from None
    return Client(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                  dashboard_address=":0", **kwargs)

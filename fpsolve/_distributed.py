"""Runs of the engine on a cluster: shards by stream index, exact merges, retries, resume.

A run of :mod:`fpsolve._runs` that can be split (``n_streams``, ``shard``, ``state_axes``) is cut
into shards of consecutive trajectories or chains ``[i0, i1)``.  Each shard is pickled to a
worker, advanced there by :func:`~fpsolve._runs.drive` from the run's current step to its end,
and its ``state()`` comes back.  Every random number is a pure function of ``(key, stream,
step)`` and every floating sum over trajectories is reduced over fixed blocks that shards
respect (``cuts``), so the merged state -- arrays concatenated along their stream axis -- is the
state of one run in one process, bit for bit, for any number of shards and workers.

The cluster is a Dask ``distributed.Client`` or any :class:`concurrent.futures.Executor`
(a process pool; threads would run two parallel kernels at once), wrapped in a
:class:`Backend`.  dask is imported only when a Dask client is used.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._progress import progress_bar
from ._runs import drive, fingerprint, load_checkpoint, resume, save_checkpoint
from ._version import __version__
from .errors import FpsolveError

__all__ = ["Backend", "ShardReport", "VersionError", "as_backend", "execute", "plan_shards"]

_log = logging.getLogger(__name__)


class VersionError(FpsolveError):
    """A worker runs another version of fpsolve than the client."""


@dataclass
class ShardReport:
    """What a sharded run did.

    Attributes
    ----------
    ranges : list of (int, int)
        The shards ``[i0, i1)`` of stream indices.
    seconds : float
        Wall time of the whole run on the client.
    shard_seconds : list of float
        Time each shard ran on its worker (``drive``; compile or cache load included).
    workers : list of str
        ``host:pid`` of the process that returned each shard.
    retries : int
        Shards run again after a worker was lost (resubmitted here, or rescheduled by the
        Dask scheduler when the worker died under them).
    resumed : int
        Shards taken from their checkpoints instead of being run.
    """

    ranges: list = field(default_factory=list)
    seconds: float = 0.0
    shard_seconds: list = field(default_factory=list)
    workers: list = field(default_factory=list)
    retries: int = 0
    resumed: int = 0


class Backend:
    """A Dask client or an executor, with the sharding policy of the runs given to it.

    Parameters
    ----------
    client : distributed.Client or concurrent.futures.Executor
    shards : int, optional
        Shards per run (default: the number of workers; at most the number of streams, and
        with block-reduced observables at most their number of blocks).
    retries : int, default 2
        How often a shard whose worker was lost is submitted again before the run fails.
    check_versions : bool, default True
        Refuse workers with another fpsolve version (:class:`VersionError`).

    Attributes
    ----------
    reports : list of ShardReport
        One per run, the latest last.
    """

    def __init__(self, client, *, shards: int | None = None, retries: int = 2,
                 check_versions: bool = True):
        self.dask = hasattr(client, "scheduler_info") and hasattr(client, "run_on_scheduler")
        if not (self.dask or isinstance(client, cf.Executor)):
            raise FpsolveError(f"client: expected a distributed.Client or a "
                               f"concurrent.futures.Executor, got {type(client).__name__}")
        if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int)
                                   or shards < 1):
            raise FpsolveError(f"shards: expected an int >= 1 or None, got {shards!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise FpsolveError(f"retries: expected an int >= 0, got {retries!r}")
        self.client, self.shards, self.retries = client, shards, retries
        self.check, self.reports, self._checked = check_versions, [], False

    def n_workers(self) -> int:
        """Workers of the cluster (an executor's ``_max_workers``, else 1)."""
        if self.dask:
            return max(1, len(self.client.scheduler_info()["workers"]))
        return max(1, int(getattr(self.client, "_max_workers", 1)))

    def submit(self, func, *args):
        """A future of ``func(*args)`` on a worker (Dask: impure, no Dask-level retries)."""
        if self.dask:
            return self.client.submit(func, *args, pure=False)
        return self.client.submit(func, *args)

    def wait(self, futures) -> set:
        """The futures of ``futures`` that are done, after waiting for at least one."""
        if self.dask:
            from distributed import wait
            return set(wait(list(futures), return_when="FIRST_COMPLETED").done)
        return set(cf.wait(futures, return_when=cf.FIRST_COMPLETED).done)

    def versions(self) -> dict:
        """``{worker: fpsolve version}`` of the Dask workers (empty for an executor: each
        shard checks its own)."""
        return dict(self.client.run(worker_version)) if self.dask else {}

    def check_versions(self) -> None:
        """Raise :class:`VersionError` naming the workers whose fpsolve is not ours."""
        if not self.check or self._checked:
            return
        bad = {w: v for w, v in self.versions().items() if v != __version__}
        if bad:
            raise VersionError(f"client: workers {sorted(bad)} run fpsolve "
                               f"{sorted(set(bad.values()))}, this process {__version__}; "
                               f"install the same fpsolve on every worker")
        self._checked = True

    def imap(self, func, items, *, label=repr):
        """Yield ``(i, func(*items[i]))`` as the calls finish on the workers; a call whose
        worker was lost runs again (``retries`` times); a failure raises naming
        ``label(items[i])``.  ``self.retried`` counts the calls run again."""
        pending = {self.submit(func, *args): (i, 0) for i, args in enumerate(items)}
        self.retried = 0
        while pending:
            for future in self.wait(pending):
                i, tries = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:
                    if isinstance(exc, FpsolveError) or tries >= self.retries:
                        _cancel(pending)
                        raise FpsolveError(f"{label(items[i])} failed: {type(exc).__name__}: "
                                           f"{exc}") from exc
                    self.retried += 1
                    pending[self.submit(func, *items[i])] = (i, tries + 1)
                    continue
                self.retried += self.rescheduled(future)
                yield i, result

    def rescheduled(self, future) -> int:
        """Times the Dask scheduler ran ``future`` again because its worker died (0 when the
        scheduler does not say)."""
        if not self.dask:
            return 0
        try:
            return int(self.client.run_on_scheduler(_suspicious, key=future.key))
        except Exception:  # noqa: BLE001 - an answer we can do without
            return 0


def _suspicious(dask_scheduler=None, key=None) -> int:
    task = dask_scheduler.tasks.get(key)
    return 0 if task is None else int(getattr(task, "suspicious", 0))


def worker_version() -> str:
    """The fpsolve version of the process this runs in."""
    return __version__


def as_backend(client) -> Backend:
    """``client`` as a :class:`Backend` (a Backend is returned as it is)."""
    return client if isinstance(client, Backend) else Backend(client)


# ----------------------------------------------------------------------------- planning
def plan_shards(n: int, shards: int, cuts=None) -> list[tuple[int, int]]:
    """At most ``shards`` consecutive ranges covering ``0 .. n``, as even as the allowed
    boundaries ``cuts`` (sorted stream indices with 0 and n; None: any index) permit."""
    allowed = np.arange(n + 1) if cuts is None else np.asarray(cuts, dtype=np.int64)
    if allowed[0] != 0 or allowed[-1] != n:
        raise FpsolveError(f"shards: boundaries {allowed.tolist()} do not span 0 .. {n}")
    ideal = np.arange(1, shards) * n / shards
    inner = allowed[np.abs(allowed[:, None] - ideal[None, :]).argmin(axis=0)] if shards > 1 \
        else np.zeros(0, np.int64)
    edges = np.unique(np.concatenate([[0], inner, [n]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def run_shard(run, version: str, chunk):
    """Worker side: advance ``run`` to its end; ``(state, seconds, 'host:pid')``."""
    if version != __version__:
        raise VersionError(f"client: this worker runs fpsolve {__version__}, the client "
                           f"{version}; install the same fpsolve on every worker")
    start = time.perf_counter()
    drive(run, chunk=chunk)
    return run.state(), time.perf_counter() - start, f"{socket.gethostname()}:{os.getpid()}"


# ----------------------------------------------------------------------------- the run
def execute(run, *, client=None, checkpoint=None, progress=None, chunk=None, desc=None,
            unit="step", error=FpsolveError, what="the arguments") -> None:
    """Advance ``run`` to its end: :func:`~fpsolve._runs.drive` in this process when
    ``client`` is None, else in shards on ``client`` (a Backend, Dask client or executor),
    merged into ``run`` bit-identically.  ``checkpoint``: resumes and is written at the end;
    while shards run, each finished shard is kept in ``<checkpoint>.shard-<i0>-<i1>.npz``."""
    if client is None:
        drive(run, checkpoint=checkpoint, progress=progress, chunk=chunk, desc=desc,
              unit=unit, error=error, what=what)
        return
    backend = as_backend(client)
    resume(run, checkpoint, error, what)
    if run.step < run.n_steps:
        backend.check_versions()
        report = ShardReport()
        start = time.perf_counter()
        parts = _run_shards(run, backend, report, checkpoint, progress, chunk, desc)
        merge(run, parts)
        report.seconds = time.perf_counter() - start
        backend.reports.append(report)
        _log.info("%d shards in %.3g s (%d retried, %d resumed)", len(report.ranges),
                  report.seconds, report.retries, report.resumed)
    if checkpoint is not None:
        save_checkpoint(checkpoint, run.fingerprint, run.step, run.state())
        for path in Path(checkpoint).parent.glob(Path(checkpoint).name + ".shard-*.npz"):
            path.unlink()


def merge(run, parts) -> None:
    """Restore ``run`` at its end from the shard states ``parts`` (``(i0, i1, state)`` in
    order): arrays with a stream axis are concatenated, the others taken from shard 0."""
    axes, first = run.state_axes, parts[0][2]
    merged = {}
    for name, value in first.items():
        axis = axes[name]
        merged[name] = value if axis is None else np.concatenate(
            [np.asarray(p[2][name]) for p in parts], axis=axis)
    run.restore(merged)
    run.step = run.n_steps


def _shard_file(checkpoint, i0, i1) -> Path:
    return Path(f"{checkpoint}.shard-{i0}-{i1}.npz")


def _run_shards(run, backend, report, checkpoint, progress, chunk, desc) -> list:
    """Submit the shards (those without a finished checkpoint), retry lost ones, save each
    finished shard; ``[(i0, i1, state), ...]`` in stream order."""
    cuts = run.cuts() if hasattr(run, "cuts") else None
    report.ranges = plan_shards(run.n_streams, backend.shards or backend.n_workers(), cuts)
    key = fingerprint(run.fingerprint, run.step, run.n_steps)
    done, pending = {}, {}

    def submit(i0, i1, tries):
        pending[backend.submit(run_shard, run.shard(i0, i1), __version__, chunk)] = \
            (i0, i1, tries)

    for i0, i1 in report.ranges:
        saved = None if checkpoint is None else load_checkpoint(
            _shard_file(checkpoint, i0, i1), fingerprint(key, i0, i1))
        if saved is not None:
            done[i0] = (i0, i1, saved[1])
            report.resumed += 1
        else:
            submit(i0, i1, 0)
    with progress_bar(progress=progress, total=len(report.ranges), initial=len(done),
                      unit="shard", desc=desc) as bar:
        while pending:
            for future in backend.wait(pending):
                i0, i1, tries = pending.pop(future)
                state = _collect(future, run, backend, report, pending, (i0, i1, tries),
                                 done, checkpoint, submit)
                if state is not None:
                    done[i0] = (i0, i1, state)
                    if checkpoint is not None:
                        save_checkpoint(_shard_file(checkpoint, i0, i1),
                                        fingerprint(key, i0, i1), run.n_steps, state)
                    bar.update(1)
    return [done[i0] for i0, _ in report.ranges]


def _collect(future, run, backend, report, pending, shard, done, checkpoint, submit):
    """The state of a finished shard; None after resubmitting a lost one; raises when a shard
    failed for good (a deterministic error, or ``retries`` lost workers)."""
    i0, i1, tries = shard
    try:
        state, seconds, worker = future.result()
    except FpsolveError as exc:     # deterministic (bad input, divergence, version): no retry
        _cancel(pending)
        raise type(exc)(f"shard [{i0}, {i1}) of {run.n_streams} streams: {exc}"
                        f"{_kept(done, checkpoint)}") from exc
    except Exception as exc:        # noqa: BLE001 - a lost worker or connection: run again
        if tries >= backend.retries:
            _cancel(pending)
            raise FpsolveError(f"shard [{i0}, {i1}) of {run.n_streams} streams failed "
                               f"{tries + 1} times, last with {type(exc).__name__}: {exc}"
                               f"{_kept(done, checkpoint)}") from exc
        _log.warning("shard [%d, %d) lost (%s); submitting it again", i0, i1, exc)
        report.retries += 1
        submit(i0, i1, tries + 1)
        return None
    report.retries += backend.rescheduled(future)
    report.shard_seconds.append(seconds)
    report.workers.append(worker)
    return state


def _cancel(pending) -> None:
    for future in pending:
        future.cancel()
    pending.clear()


def _kept(done, checkpoint) -> str:
    if checkpoint is None or not done:
        return "; pass checkpoint= to keep finished shards for a rerun"
    return (f"; the {len(done)} finished shards are kept next to {str(checkpoint)!r}: call "
            f"again with the same arguments to resume")

"""Where ``fpsolve reproduce`` runs its cases: one after the other in this process, or
concurrently on a Dask cluster (``--workers N`` starts a local one, ``--scheduler ADDRESS``
joins a running one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import FpsolveError
from .validation_registry import Case, run_case

__all__ = ["case_entries"]


def case_entries(cases, *, quick: bool, out: Path, workers: int = 0, scheduler=None,
                 started=None):
    """``(case, entry)`` of each case of ``cases`` as it finishes (:func:`run_case` entries,
    figures under ``out / case.name``); ``started(i, case)`` is called before the ``i``-th
    case runs here (from 1).
    On a cluster the cases run concurrently and finish in any order; a case whose worker was
    lost runs again."""
    if not (workers or scheduler):
        for i, case in enumerate(cases, 1):
            if started is not None:
                started(i, case)
            yield case, _run_case_at(case, quick, out / case.name, out)
        return
    from .distributed import Backend, local_cluster
    cases = list(cases)
    try:
        if scheduler:
            from distributed import Client
            client = Client(scheduler)
        else:
            client = local_cluster(workers)
    except (ImportError, OSError) as exc:
        raise FpsolveError(f"--workers/--scheduler: no Dask cluster ({exc}); pip install "
                           f"'fpsolve[distributed]'") from None
    items = [(case, quick, out / case.name, out) for case in cases]
    with client:
        for i, entry in Backend(client).imap(_run_case_at, items,
                                             label=lambda it: f"case {it[0].name}"):
            yield cases[i], entry


def _run_case_at(case: Case, quick: bool, outdir: Path, relative_to: Path) -> dict[str, Any]:
    return run_case(case, quick=quick, outdir=outdir, relative_to=relative_to)

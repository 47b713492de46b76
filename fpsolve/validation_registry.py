"""Validation cases: discovery, loading, checks, one case's entry of the reproduce report and
the provenance of a run (:func:`environment`, :func:`git_commit`).

A validation case is a directory ``validation/<name>/`` holding

``compute.py``
    ``main(quick: bool = False) -> dict``: the key numbers of the case (floats, ints, bools,
    strings, lists, nested dicts; NumPy scalars and arrays are converted to plain JSON values).
    Arrays meant only for the figures go under the key ``"_data"``: they are handed to
    ``plot.main`` and never written to the report.
``plot.py``
    ``main(results: dict, outdir: pathlib.Path) -> list[pathlib.Path]``: writes figures into
    ``outdir`` (which exists) and returns their paths.  ``results`` is the dict returned by
    ``compute.main``, ``"_data"`` included.  Optional: a case without ``plot.py`` has no figures.
    :func:`run_case` hands ``plot.main`` a private staging folder inside the case's output
    folder and moves each returned figure into place with :func:`os.replace`, so a figure
    appears whole or not at all, and runs writing into the same folder never interleave.
``expected.json``
    ``{"title": str, "description": str, "budget_s": {"quick": s, "full": s},
    "checks": {key: spec, ...}}`` where ``key`` names an entry of the compute result (dotted
    paths such as ``"orders.density"`` reach into nested dicts, integer parts index lists) and
    ``spec`` is one or more of ``{"max": x}``, ``{"min": x}``, ``{"range": [lo, hi]}``,
    ``{"value": v}`` (exact), ``{"value": v, "rtol": r}``, ``{"value": v, "atol": a}``
    (both tolerances add, as in :func:`numpy.isclose`) and ``{"equals": v}``.

Modules are loaded by file path under a name unique to the case directory, so two cases'
``compute.py`` never clash in :data:`sys.modules`.  A case imports ``fpsolve`` and third-party
packages only; code shared by cases belongs in ``fpsolve``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import FpsolveError
from .validation_checks import (
    CHECK_KINDS,
    evaluate_check,
    evaluate_checks,
    is_number,
    lookup,
    to_jsonable,
    validate_check,
)

__all__ = ["CHECK_KINDS", "ENV_VAR", "Case", "default_cases_dir", "checkout_cases_dir",
           "installed_cases_dir", "discover_cases", "read_case",
           "load_case_module", "lookup", "to_jsonable", "evaluate_check", "evaluate_checks",
           "run_case", "sibling_module", "environment", "git_commit"]

logger = logging.getLogger(__name__)

#: Environment variable overriding the validation directory.
ENV_VAR = "FPSOLVE_VALIDATION_DIR"

#: Folder holding the ``fpsolve`` package folder: the repository root in a source checkout.
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One validation case: its directory ``path`` (named ``name``) and its ``expected.json``.

    ``budget_s`` maps ``"quick"``/``"full"`` to seconds; ``checks`` maps (dotted) result keys to
    check specifications; ``problem`` says why the case cannot run (invalid ``expected.json``,
    no ``compute.py``) and is ``None`` for a valid case.
    """

    name: str
    path: Path
    title: str = ""
    description: str = ""
    budget_s: Mapping[str, float] = field(default_factory=dict)
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    problem: str | None = None

    def budget(self, quick: bool) -> float | None:
        """Budget in seconds of the quick or the full run (``None`` for an invalid case)."""
        return self.budget_s.get("quick" if quick else "full")


def default_cases_dir() -> Path:
    """Directory of the validation cases, the first of

    1. ``$FPSOLVE_VALIDATION_DIR`` when set;
    2. the ``validation`` folder of the source checkout fpsolve is imported from (a source tree,
       ``pip install -e .``): see :func:`checkout_cases_dir`;
    3. the copy of that folder installed with the package, ``fpsolve/_validation`` (``pip
       install .``; the build step in ``setup.py`` ships it): see :func:`installed_cases_dir`.

    When none is found, the checkout's path is returned (and :func:`discover_cases` says it
    is not a directory).
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    checkout = checkout_cases_dir()
    if checkout is not None:
        return checkout
    installed = installed_cases_dir()
    if installed is not None:
        return installed
    return _SOURCE_ROOT / "validation"


def checkout_cases_dir() -> Path | None:
    """``<repository root>/validation`` when fpsolve is imported from a source checkout (the
    folder above the package holds ``pyproject.toml`` and ``validation/``), else ``None``."""
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "validation").is_dir():
        return _SOURCE_ROOT / "validation"
    return None


def installed_cases_dir() -> Path | None:
    """The validation cases installed with the package (``fpsolve/_validation``, copied from the
    source tree's ``validation/`` when the wheel is built), or ``None`` when absent or not on
    the file system (the cases are imported by file path)."""
    from importlib.resources import files

    folder = files(__package__) / "_validation"
    if not isinstance(folder, Path):
        return None
    return folder if folder.is_dir() else None


def discover_cases(cases_dir: str | os.PathLike | None = None) -> dict[str, Case]:
    """Find the cases in ``cases_dir`` (default :func:`default_cases_dir`), sorted by name.

    Returns
    -------
    dict of str to Case
        Every subdirectory holding a ``compute.py`` or an ``expected.json`` (names starting with
        ``.`` or ``_`` are skipped).  A case that cannot be read comes with its ``problem`` set,
        so that one broken case does not hide the others.

    Raises
    ------
    FpsolveError
        If ``cases_dir`` is not a directory.
    """
    root = Path(cases_dir) if cases_dir is not None else default_cases_dir()
    if not root.is_dir():
        raise FpsolveError(f"cases_dir {str(root)!r} is not a directory; expected a folder "
                           f"of validation cases (set --cases-dir or ${ENV_VAR})")
    cases = {}
    for sub in sorted(root.iterdir()):
        if not sub.is_dir() or sub.name.startswith((".", "_")):
            continue
        if not ((sub / "compute.py").is_file() or (sub / "expected.json").is_file()):
            continue
        try:
            cases[sub.name] = read_case(sub)
        except FpsolveError as exc:
            logger.warning("validation case %s is invalid: %s", sub.name, exc)
            cases[sub.name] = Case(sub.name, sub, problem=str(exc))
    return cases


def read_case(path: str | os.PathLike) -> Case:
    """Read and validate the case in directory ``path``.

    Raises
    ------
    FpsolveError
        If ``compute.py`` is missing or ``expected.json`` is missing, not JSON, or does not
        follow the contract of the module docstring.
    """
    path = Path(path)
    source = path / "expected.json"
    if not (path / "compute.py").is_file():
        raise FpsolveError(f"case directory {str(path)!r} has no compute.py")
    try:
        spec = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FpsolveError(f"cannot read {str(source)!r}: {exc}") from exc
    if not isinstance(spec, dict):
        raise FpsolveError(f"{source}: expected a JSON object at top level")
    budget = spec.get("budget_s")
    if not (isinstance(budget, dict)
            and all(is_number(budget.get(k)) and budget[k] > 0 for k in ("quick", "full"))):
        raise FpsolveError(f"{source}: 'budget_s' must be {{\"quick\": s, \"full\": s}} with "
                           f"positive numbers, got {budget!r}")
    checks = spec.get("checks", {})
    if not isinstance(checks, dict):
        raise FpsolveError(f"{source}: 'checks' must be an object, got {checks!r}")
    for key, check in checks.items():
        validate_check(key, check, source)
    return Case(path.name, path, title=str(spec.get("title", path.name)),
                description=str(spec.get("description", "")),
                budget_s={k: float(budget[k]) for k in ("quick", "full")}, checks=checks)


def load_case_module(case: Case, stem: str) -> ModuleType:
    """Import ``<case.path>/<stem>.py`` under a module name unique to the case directory.

    The module is (re-)executed on every call and registered in :data:`sys.modules` as
    ``_fpsolve_case_<name>_<hash>_<stem>``.

    Raises
    ------
    FpsolveError
        If the file does not exist.
    """
    file = Path(case.path) / f"{stem}.py"
    if not file.is_file():
        raise FpsolveError(f"case {case.name!r}: {str(file)!r} does not exist")
    digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:8]
    return _import_file(file, f"_fpsolve_case_{re.sub(r'[^0-9a-zA-Z_]', '_', case.name)}_"
                              f"{digest}_{stem}")


def sibling_module(file: str | os.PathLike, stem: str) -> ModuleType:
    """The module ``<stem>.py`` next to ``file``, imported once per process under a name unique
    to its path (case directories are not packages, so their helper modules cannot be imported
    by name; the import is cached in :data:`sys.modules`, so siblings share one instance)."""
    path = Path(file).resolve().parent / f"{stem}.py"
    if not path.is_file():
        raise FpsolveError(f"stem: {str(path)!r} does not exist")
    name = f"_fpsolve_sibling_{stem}_" + hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return sys.modules[name] if name in sys.modules else _import_file(path, name)


def _import_file(path: Path, name: str) -> ModuleType:
    """Execute ``path`` as module ``name``, registered in :data:`sys.modules` (dataclasses and
    pickling look modules up by name) unless the execution fails."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def run_case(case: Case, *, quick: bool, outdir: str | os.PathLike,
             relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run one case: compute, evaluate the checks, plot into ``outdir`` (created if needed).

    Exceptions raised by the case are recorded, never propagated.  ``quick`` is passed to
    ``compute.main`` and selects the budget; figure paths are reported relative to
    ``relative_to`` when they lie inside it.

    Returns
    -------
    dict
        ``{"title", "description", "passed", "seconds", "budget_s", "within_budget", "results",
        "checks", "figures", "error"}``: ``seconds`` is the wall time of compute plus plot,
        ``passed`` means no error and every check passed (the budget is reported apart),
        ``error`` is ``None`` or the traceback text.  A ``KeyboardInterrupt`` propagates.
    """
    entry = {"title": case.title or case.name, "description": case.description,
             "passed": False, "seconds": 0.0, "budget_s": case.budget(quick),
             "within_budget": True, "results": {}, "checks": {}, "figures": [], "error": None}
    logger.info("running validation case %s (quick=%s)", case.name, quick)
    start = time.perf_counter()
    _run_steps(case, quick, entry, Path(outdir), relative_to)
    entry["seconds"] = time.perf_counter() - start
    entry["within_budget"] = entry["budget_s"] is None or entry["seconds"] <= entry["budget_s"]
    entry["passed"] = entry["error"] is None and all(c["passed"] for c in entry["checks"].values())
    logger.info("case %s %s in %.2f s", case.name, "passed" if entry["passed"] else "failed",
                entry["seconds"])
    return entry


def _run_steps(case: Case, quick: bool, entry: dict[str, Any], outdir: Path,
               relative_to: str | os.PathLike | None) -> None:
    """Fill ``results``, ``checks``, ``figures`` and ``error`` of ``entry`` in place."""
    raw: Mapping[str, Any] = {}
    try:
        if case.problem is not None:
            raise FpsolveError(case.problem)
        raw = _compute(case, quick)
        entry["results"] = to_jsonable({k: v for k, v in raw.items() if k != "_data"})
    except Exception:
        entry["error"] = traceback.format_exc()
    entry["checks"] = evaluate_checks(case.checks, entry["results"])
    if entry["error"] is None:
        try:
            entry["figures"] = _plot(case, raw, outdir, relative_to)
        except Exception:
            entry["error"] = traceback.format_exc()


def _compute(case: Case, quick: bool) -> Mapping[str, Any]:
    results = load_case_module(case, "compute").main(quick=quick)
    if not isinstance(results, Mapping):
        raise FpsolveError(f"case {case.name!r}: compute.main returned "
                           f"{type(results).__name__}; expected a dict")
    return results


def _plot(case: Case, results: Mapping[str, Any], outdir: Path,
          relative_to: str | os.PathLike | None) -> list[str]:
    if not (case.path / "plot.py").is_file():
        logger.info("case %s has no plot.py; no figures", case.name)
        return []
    outdir.mkdir(parents=True, exist_ok=True)
    # Staging folder inside outdir (same file system, so os.replace is atomic), unique per call.
    staging = Path(tempfile.mkdtemp(prefix=".plot-", suffix=".tmp", dir=outdir))
    try:
        paths = _plot_into(case, results, staging)
        paths = [_move_figure(p, staging, outdir) for p in paths]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    figures = []
    for p in paths:
        if relative_to is not None and p.resolve().is_relative_to(Path(relative_to).resolve()):
            p = p.resolve().relative_to(Path(relative_to).resolve())
        figures.append(p.as_posix())
    return figures


def _plot_into(case: Case, results: Mapping[str, Any], staging: Path) -> list[Path]:
    """Run the case's ``plot.main`` into ``staging``; the paths it returned, all checked."""
    try:
        paths = load_case_module(case, "plot").main(dict(results), staging)
    finally:
        if "matplotlib.pyplot" in sys.modules:  # free figures the case left open
            sys.modules["matplotlib.pyplot"].close("all")
    if not isinstance(paths, (list, tuple)):
        raise FpsolveError(f"case {case.name!r}: plot.main returned {type(paths).__name__}; "
                           "expected a list of paths")
    for p in map(Path, paths):
        if not p.is_file():
            raise FpsolveError(f"case {case.name!r}: plot.main returned {str(p)!r}, "
                               "which is not a file")
    return list(map(Path, paths))


def _move_figure(path: Path, staging: Path, outdir: Path) -> Path:
    """Move a figure written under ``staging`` to the same place under ``outdir`` (atomic
    replace); a path outside ``staging`` stays where the case wrote it."""
    if not path.resolve().is_relative_to(staging.resolve()):
        return path
    target = outdir / path.resolve().relative_to(staging.resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def environment() -> dict[str, Any]:
    """Python, NumPy, SciPy and Numba versions (``None`` when not installed), the platform, the
    machine's core count and the cores this process may use."""
    from importlib.metadata import PackageNotFoundError, version as dist_version

    versions: dict[str, Any] = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "numba"):
        try:
            versions[name] = dist_version(name)
        except PackageNotFoundError:
            versions[name] = None
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count())
    return {**versions, "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "cpus_usable": usable}


def git_commit(source: str | os.PathLike | None = None) -> str | None:
    """Short commit hash of the git checkout holding the package folder ``source`` (default:
    the folder fpsolve is imported from) at its root; ``None`` outside such a checkout (an
    installed copy, no git, git refusing the directory) -- never an error."""
    source = Path(source if source is not None else Path(__file__).parent).resolve()
    try:
        top = _git(source, "rev-parse", "--show-toplevel")
        # a site-packages copy inside some other repository is not a checkout of the package
        if Path(top).resolve() != source.parent:
            return None
        return _git(source, "rev-parse", "--short", "HEAD") or None
    except (OSError, subprocess.SubprocessError):
        return None


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          timeout=10, check=True)
    return done.stdout.strip()

"""The ``fpsolve`` command: list and reproduce the validation cases.

::

    fpsolve list                                   # name, title, quick budget of every case
    fpsolve reproduce [--quick] [--out DIR] [CASE ...]
    fpsolve --version

``reproduce`` runs the selected cases (all by default) in the order given, writes the figures
of case ``c`` into ``DIR/c/`` and the report to ``DIR/report.json``, then prints a summary
table.  While it runs, stderr gets one line when a case starts and one when it ends (name,
elapsed seconds, verdict), terminal or not, so a log shows where a long run stands; a tqdm bar
over the cases is added when stderr is a terminal (``--no-progress`` removes the bar, not the
lines).  The report records the command line, the fpsolve version, the git commit (when fpsolve
runs from a checkout), the Python / NumPy / SciPy / Numba versions, the core count, start and
end time and, per case, its title, description, checks and figures.

State after faults:

- Every file is written atomically: the report through a uniquely named temporary file in the
  same folder and :func:`os.replace`, each figure in a private staging folder moved into place
  the same way.  A reader sees the previous or the new file, never a partial one.
- The report is rewritten before the first case (so the previous run's report stops looking
  current at once) and after every case, with ``"complete": false`` and ``"passed": false``
  until the run ends; only a finished run sets ``complete`` and, if every case passed,
  ``passed``.
- Ctrl-C stops the run: the report lists the cases that finished, ``"complete": false``,
  ``"interrupted": true``, and the exit status is 130.
- One run at a time per output folder: ``reproduce`` holds an exclusive ``flock`` on
  ``DIR/.fpsolve-reproduce.lock`` (never deleted) while it runs.  A second run into the same
  folder does not wait: it exits at once with status 2 and one line on stderr (runs take
  minutes; waiting silently would look like a hang).  Different folders run side by side.

Exit status: 0 when every case passed, 1 when one failed, 2 for usage errors (unknown case,
missing validation directory, no cases, ``--out`` not writable or in use), 130 on Ctrl-C.
The case contract is documented in :mod:`fpsolve.validation_registry`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
from datetime import datetime, UTC
from pathlib import Path
from typing import Any, TextIO

from ._version import __version__
from .errors import FpsolveError
from ._cli_pool import case_entries
from .validation_registry import ENV_VAR, Case, discover_cases, environment, git_commit

try:  # POSIX; elsewhere concurrent runs are not locked out
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["main", "build_parser", "package_version", "new_report", "write_text_atomic",
           "LOCK_NAME"]

logger = logging.getLogger(__name__)

#: Lock file that ``reproduce`` holds in its output folder while it runs.
LOCK_NAME = ".fpsolve-reproduce.lock"


def package_version() -> str:
    """Version of fpsolve, ``fpsolve.__version__`` (read from :mod:`fpsolve._version`, not from
    the package root)."""
    return __version__


def new_report(argv: list[str], selected: list[Case], *, quick: bool) -> dict[str, Any]:
    """The report of a ``reproduce`` run that has not run a case yet.

    ``complete`` and ``passed`` stay false until :func:`_finish_report` closes the run, so a
    report read while the run goes on, or left by a run that was stopped, never reads as
    passed.
    """
    return {
        "complete": False, "passed": False, "interrupted": False,
        "command": shlex.join(["fpsolve", *argv]),
        "fpsolve_version": package_version(), "git_commit": git_commit(),
        "environment": environment(), "quick": bool(quick),
        "started": _now(), "finished": None,
        "selected": [case.name for case in selected], "cases": {}}


def _finish_report(report: dict[str, Any], *, interrupted: bool) -> None:
    """Close the run: end time, ``complete`` (every selected case ran) and ``passed``."""
    report["finished"] = _now()
    report["interrupted"] = interrupted
    report["complete"] = not interrupted and len(report["cases"]) == len(report["selected"])
    report["passed"] = report["complete"] and all(c["passed"] for c in report["cases"].values())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``fpsolve`` command."""
    # options shared by the main parser and the subcommands; SUPPRESS keeps a subcommand's
    # default from overwriting a value given before the subcommand name
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cases-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help=f"validation cases directory (default: ${ENV_VAR}, else the "
                             "'validation' folder of the fpsolve source tree, else the copy "
                             "installed with fpsolve)")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log progress (-v) or debug details (-vv) to stderr")
    parser = argparse.ArgumentParser(prog="fpsolve", parents=[common],
                                     description="Fokker-Planck solver toolkit.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", parents=[common], help="list the validation cases")
    rep = sub.add_parser("reproduce", parents=[common],
                         help="run validation cases, write figures and report.json")
    rep.add_argument("cases", nargs="*", metavar="CASE", help="cases to run (default: all)")
    rep.add_argument("--quick", action="store_true", help="run the quick versions")
    rep.add_argument("--out", default="fpsolve-report", type=Path, metavar="DIR",
                     help="output directory (default: ./fpsolve-report)")
    rep.add_argument("--no-progress", action="store_true",
                     help="no progress bar (it is off anyway when stderr is not a terminal)")
    pool = rep.add_mutually_exclusive_group()
    pool.add_argument("--workers", type=int, default=0, metavar="N",
                      help="run the cases concurrently on a local Dask cluster of N worker "
                           "processes (needs fpsolve[distributed])")
    pool.add_argument("--scheduler", metavar="ADDRESS",
                      help="run the cases concurrently on the Dask cluster of this scheduler "
                           "(its workers must see --out and the cases)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``fpsolve`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 a validation case failed, 2 usage error (including an
        unwritable or busy ``--out``), 130 interrupted by Ctrl-C.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or argparse's own usage error (code 2)
        return int(exc.code or 0)
    _configure_logging(getattr(args, "verbose", 0))
    if args.version:
        print(f"fpsolve {package_version()}")
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        cases = discover_cases(getattr(args, "cases_dir", None))
    except FpsolveError as exc:
        print(f"fpsolve: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "list":
        return _list_cases(cases, sys.stdout)
    return _reproduce(args, cases, argv)


def _configure_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("fpsolve").setLevel(level)


def _list_cases(cases: dict[str, Case], out: TextIO) -> int:
    if not cases:
        print("fpsolve: no validation cases found", file=sys.stderr)
        return 0
    width = max(len(name) for name in cases)
    for name, case in cases.items():
        title = case.title if case.problem is None else f"INVALID: {case.problem}"
        quick = case.budget(True)
        budget = f"{quick:g} s" if quick is not None else "-"
        print(f"{name:<{width}}  {title}  (quick: {budget})", file=out)
    return 0


def _select(cases: dict[str, Case], names: list[str]) -> list[Case] | None:
    """Cases named on the command line, in that order (duplicates dropped); ``None`` and a
    message on stderr when a name is unknown or nothing is there to run."""
    if not cases:
        print("fpsolve: error: no validation cases found", file=sys.stderr)
        return None
    unknown = [n for n in names if n not in cases]
    if unknown:
        print(f"fpsolve: error: unknown case(s) {', '.join(unknown)}; known cases: "
              f"{', '.join(cases)}", file=sys.stderr)
        return None
    return [cases[n] for n in dict.fromkeys(names or cases)]


def _reproduce(args: argparse.Namespace, cases: dict[str, Case], argv: list[str]) -> int:
    selected = _select(cases, args.cases)
    if selected is None:
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _lock(out)
    except OSError as exc:
        _error(f"--out {str(out)!r} is not a writable directory ({exc.strerror or exc})")
        return 2
    if lock is None:
        _error(f"--out {str(out)!r} is in use by another 'fpsolve reproduce' run (lock file "
               f"{LOCK_NAME}); wait for it to finish or choose another --out")
        return 2
    with lock:  # closing the lock file releases the lock
        # Figures go to files only: a non-interactive backend unless the user chose one.
        os.environ.setdefault("MPLBACKEND", "Agg")
        report = new_report(argv, selected, quick=args.quick)
        path = out / "report.json"
        try:
            return _run_cases(report, selected, args, path)
        except OSError as exc:
            _error(f"cannot write the report {str(path)!r} ({exc.strerror or exc})")
            return 2


def _run_cases(report: dict[str, Any], selected: list[Case], args: argparse.Namespace,
               path: Path) -> int:
    """Run ``selected``, rewriting the report at ``path`` before the first case and after
    each; the exit status (130 on Ctrl-C, with the finished cases reported)."""
    try:
        _write_report(report, path)  # the previous run's report stops looking current now
        serial = not (args.workers or args.scheduler)
        entries = case_entries(_progress(selected, disable=args.no_progress) if serial
                               else selected, quick=args.quick, out=path.parent,
                               workers=args.workers, scheduler=args.scheduler,
                               started=lambda i, case: _case_line(
                                   f"[{i}/{len(selected)}] {case.name}: started"))
        for i, (case, entry) in enumerate(entries, 1):
            report["cases"][case.name] = entry
            _case_line(f"[{i}/{len(selected)}] {case.name}: {_verdict(entry)} in "
                       f"{entry['seconds']:.1f} s")
            _write_report(report, path)
        status = None
    except KeyboardInterrupt:
        status = 130
    except FpsolveError as exc:    # the cluster could not be reached or lost a case for good
        _error(str(exc))
        status = 2
    _finish_report(report, interrupted=status is not None)
    _write_report(report, path)
    for line in _summary_lines(report, path):
        print(line)
    return status or (0 if report["passed"] else 1)


def _error(message: str) -> None:
    """One line on stderr, the form of every usage error of the command."""
    print(f"fpsolve: error: {message}", file=sys.stderr)


def _lock(out: Path) -> TextIO | None:
    """Open and lock ``out/LOCK_NAME`` exclusively without waiting: the open file (closing it
    releases the lock), or ``None`` when another process holds it.  The lock file is never
    deleted (deleting it would let a third run lock a fresh inode beside a second one)."""
    handle = open(out / LOCK_NAME, "a", encoding="utf-8")
    if fcntl is None:  # no flock on this platform: runs are not serialized
        logger.warning("no fcntl module: concurrent runs into %s are not locked out", out)
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except BaseException:
        handle.close()
        raise
    return handle


def _progress(cases: list[Case], *, disable: bool):
    """Iterate over ``cases`` with a tqdm bar on stderr when it is a terminal."""
    from tqdm import tqdm

    disable = disable or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    bar = tqdm(cases, desc="validation", unit="case", file=sys.stderr, disable=disable)
    for case in bar:
        bar.set_postfix_str(case.name)
        yield case


def _case_line(line: str) -> None:
    """One progress line on stderr, flushed at once (a log read while the run goes on must be
    current); through tqdm so that a bar on a terminal is redrawn below it."""
    from tqdm import tqdm

    tqdm.write(f"fpsolve reproduce: {line}", file=sys.stderr)
    sys.stderr.flush()


def _verdict(entry: dict[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``ERROR`` with the checks passed, as in the summary table."""
    status = "ERROR" if entry["error"] else ("PASS" if entry["passed"] else "FAIL")
    n_ok = sum(c["passed"] for c in entry["checks"].values())
    over = ", over budget" if not entry["within_budget"] else ""
    return f"{status} ({n_ok}/{len(entry['checks'])} checks{over})"


def _write_report(report: dict[str, Any], path: Path) -> None:
    """Write ``report`` as JSON to ``path`` atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` by a file holding ``text``, atomically.

    The text goes to a temporary file with a unique name in the same directory, is flushed to
    disk and moved over ``path`` with :func:`os.replace`, so a reader sees the old or the new
    file, never a mix, even while other processes write the same path.  Ctrl-C is held back
    while the file is written (where the platform allows) and the temporary file is removed on
    any failure.
    """
    path = Path(path)
    with _sigint_deferred():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would give
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _sigint_deferred():
    """Block SIGINT inside the block (main thread, POSIX); a Ctrl-C typed meanwhile is
    delivered, as KeyboardInterrupt, when the block ends."""
    can_block = (hasattr(signal, "pthread_sigmask")
                 and threading.current_thread() is threading.main_thread())
    if not can_block:
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _summary_lines(report: dict[str, Any], path: Path) -> list[str]:
    """Summary table of a report: one row per case, then the overall verdict."""
    entries = report["cases"]
    width = max([len("case"), *map(len, entries)])
    lines = [f"{'case':<{width}}  status  {'seconds':>9}  {'budget':>7}  checks"]
    for name, e in entries.items():
        status = "ERROR" if e["error"] else ("PASS" if e["passed"] else "FAIL")
        budget = f"{e['budget_s']:g}" if e["budget_s"] is not None else "-"
        over = "" if e["within_budget"] else " (over budget)"
        n_ok = sum(c["passed"] for c in e["checks"].values())
        lines.append(f"{name:<{width}}  {status:<6}  {e['seconds']:>9.2f}  {budget:>7}  "
                     f"{n_ok}/{len(e['checks'])}{over}")
    failed = [n for n, e in entries.items() if not e["passed"]]
    verdict = (f"{len(failed)} of {len(entries)} case(s) failed: {', '.join(failed)}" if failed
               else f"all {len(entries)} case(s) passed")
    if not report["complete"]:
        verdict = (f"INTERRUPTED after {len(entries)} of {len(report['selected'])} case(s), "
                   f"{len(failed)} failed; the report is marked incomplete")
    lines.append(f"{verdict} ({'quick' if report['quick'] else 'full'} run); report: {path}")
    return lines


if __name__ == "__main__":  # python -m fpsolve.cli, before the console script is installed
    sys.exit(main())

"""The ``fpsolve`` command: list and reproduce the validation cases.

::

    fpsolve list                                   # name, title, quick budget of every case
    fpsolve reproduce [--quick] [--out DIR] [CASE ...]
    fpsolve --version

``reproduce`` runs the selected cases (all by default) in the order given, writes the figures
of case ``c`` into ``DIR/c/`` and the report to ``DIR/report.json`` (rewritten after every
case, so an interrupted run leaves a valid partial report), then prints a summary table.
Exit status: 0 when every case passed, 1 when one failed, 2 for usage errors (unknown case,
missing validation directory, no cases).  The case contract is documented in
:mod:`fpsolve.validation_registry`.
"""

from __future__ import annotations

import argparse
import os
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from .errors import FpsolveError
from .validation_registry import ENV_VAR, Case, discover_cases, run_case

__all__ = ["main", "build_parser", "package_version"]

logger = logging.getLogger(__name__)


def package_version() -> str:
    """Version of fpsolve: ``fpsolve.__version__``, else the installed metadata, else
    ``"unknown"``."""
    import fpsolve

    version = getattr(fpsolve, "__version__", None)
    if version:
        return str(version)
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("fpsolve")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``fpsolve`` command."""
    # options shared by the main parser and the subcommands; SUPPRESS keeps a subcommand's
    # default from overwriting a value given before the subcommand name
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cases-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help=f"validation cases directory (default: ${ENV_VAR}, else the "
                             "'validation' folder of the fpsolve source tree)")
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
        Exit status: 0 success, 1 a validation case failed, 2 usage error.
    """
    parser = build_parser()
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
    return _reproduce(args, cases)


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


def _reproduce(args: argparse.Namespace, cases: dict[str, Case]) -> int:
    selected = _select(cases, args.cases)
    if selected is None:
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Figures go to files only: a non-interactive backend unless the user chose one.
    os.environ.setdefault("MPLBACKEND", "Agg")
    report: dict[str, Any] = {
        "fpsolve_version": package_version(), "quick": bool(args.quick),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cases": {}, "passed": False}
    for case in _progress(selected, disable=args.no_progress):
        report["cases"][case.name] = run_case(case, quick=args.quick, outdir=out / case.name,
                                              relative_to=out)
        report["passed"] = all(c["passed"] for c in report["cases"].values())
        _write_report(report, out / "report.json")
    for line in _summary_lines(report, out / "report.json"):
        print(line)
    return 0 if report["passed"] else 1


def _progress(cases: list[Case], *, disable: bool):
    """Iterate over ``cases`` with a tqdm bar on stderr when it is a terminal."""
    from tqdm import tqdm

    disable = disable or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    bar = tqdm(cases, desc="validation", unit="case", file=sys.stderr, disable=disable)
    for case in bar:
        bar.set_postfix_str(case.name)
        yield case


def _write_report(report: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: readers never see a half-written report


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
    lines.append(f"{verdict} ({'quick' if report['quick'] else 'full'} run); report: {path}")
    return lines


if __name__ == "__main__":  # python -m fpsolve.cli, before the console script is installed
    sys.exit(main())

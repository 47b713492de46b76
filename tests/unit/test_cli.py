"""Tests of the ``fpsolve`` command and of the validation-case registry.

The validation cases used here are tiny fakes written into ``tmp_path`` by the fixtures; they
are not the repository's ``validation/`` cases.  Comparisons are exact unless a tolerance is
commented.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime

import numpy as np
import pytest

from fpsolve.cli import LOCK_NAME, main, package_version, write_text_atomic
from fpsolve.errors import FpsolveError
from fpsolve.validation_registry import (
    ENV_VAR,
    discover_cases,
    evaluate_check,
    evaluate_checks,
    load_case_module,
    lookup,
    read_case,
    git_commit,
    run_case,
    sibling_module,
    to_jsonable,
)

PLOT = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

def main(results, outdir):
    fig, ax = plt.subplots()
    ax.plot(results["_data"]["x"], results["_data"]["y"])
    path = outdir / "curve.png"
    fig.savefig(path)
    return [path]
"""

CASES = {
    "good": (
        """
        import numpy as np
        LABEL = "good"
        def main(quick=False):
            x = np.linspace(0.0, 1.0, 5)
            return {"error": 1e-9, "order": np.float64(2.01), "quick": quick,
                    "orders": {"density": 1.98, "current": [2.0, 2.02]},
                    "_data": {"x": x, "y": x**2}}
        """,
        {"error": {"max": 1e-6}, "order": {"value": 2.0, "atol": 0.05},
         "orders.density": {"range": [1.9, 2.1]}, "orders.current": {"min": 1.9},
         "orders.current.1": {"value": 2.0, "rtol": 0.02}},
        PLOT,
    ),
    "bad": (
        """
        LABEL = "bad"
        def main(quick=False):
            return {"error": 0.5, "order": 1.0}
        """,
        {"error": {"max": 1e-6}, "order": {"value": 1.0, "rtol": 1e-12},
         "missing": {"equals": True}},
        None,
    ),
    "boom": (
        """
        def main(quick=False):
            raise RuntimeError("case exploded")
        """,
        {"error": {"max": 1.0}},
        None,
    ),
}


def write_case(root, name, compute, checks, plot=None, budget=None):
    """Write a fake case ``root/name`` and return its directory."""
    d = root / name
    d.mkdir(parents=True)
    (d / "compute.py").write_text(textwrap.dedent(compute))
    if plot is not None:
        (d / "plot.py").write_text(plot)
    spec = {"title": f"The {name} case", "description": "fake case for tests",
            "budget_s": budget or {"quick": 60, "full": 900}, "checks": checks}
    (d / "expected.json").write_text(json.dumps(spec))
    return d


@pytest.fixture
def cases_dir(tmp_path):
    root = tmp_path / "cases"
    for name, (compute, checks, plot) in CASES.items():
        write_case(root, name, compute, checks, plot)
    (root / "not_a_case").mkdir()  # no compute.py, no expected.json: ignored
    return root


def reproduce(cases_dir, out, *names, quick=True):
    argv = ["--cases-dir", str(cases_dir), "reproduce", "--out", str(out), "--no-progress"]
    return main(argv + (["--quick"] if quick else []) + list(names))


# ---------------------------------------------------------------- command line


def test_reproduce_all_records_pass_fail_and_error(cases_dir, tmp_path, capsys):
    out = tmp_path / "report"
    assert reproduce(cases_dir, out) == 1
    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"complete", "passed", "interrupted", "command", "fpsolve_version",
                           "git_commit", "environment", "quick", "started", "finished",
                           "selected", "cases"}
    assert report["quick"] is True and report["passed"] is False
    assert report["complete"] is True and report["interrupted"] is False
    assert list(report["cases"]) == ["bad", "boom", "good"]
    keys = {"title", "description", "passed", "seconds", "budget_s", "within_budget",
            "results", "checks", "figures", "error"}
    assert all(set(entry) == keys for entry in report["cases"].values())

    good, bad, boom = (report["cases"][n] for n in ("good", "bad", "boom"))
    assert good["passed"] and good["error"] is None and good["title"] == "The good case"
    assert "_data" not in good["results"] and good["results"]["quick"] is True
    assert good["results"]["order"] == 2.01  # np.float64 converted to a JSON float
    assert all(c["passed"] for c in good["checks"].values())
    assert good["checks"]["orders.density"] == {"expected": {"range": [1.9, 2.1]},
                                                "measured": 1.98, "passed": True}
    assert good["budget_s"] == 60 and good["within_budget"] is True and good["seconds"] >= 0
    assert good["figures"] == ["good/curve.png"]
    assert (out / "good" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "good").iterdir()) == ["curve.png"]  # no staging left

    assert not bad["passed"] and bad["error"] is None
    assert not bad["checks"]["error"]["passed"] and bad["checks"]["error"]["measured"] == 0.5
    assert bad["checks"]["order"]["passed"]
    assert bad["checks"]["missing"] == {"expected": {"equals": True}, "measured": None,
                                        "passed": False}
    assert not boom["passed"] and "RuntimeError: case exploded" in boom["error"]
    assert boom["checks"]["error"]["measured"] is None and boom["figures"] == []

    table = capsys.readouterr().out
    assert "good" in table and "PASS" in table and "FAIL" in table and "ERROR" in table
    assert "2 of 3 case(s) failed" in table


def test_reproduce_selected_passing_case_exits_zero(cases_dir, tmp_path, capsys):
    out = tmp_path / "report"
    assert reproduce(cases_dir, out, "good", quick=False) == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["cases"]) == ["good"] and report["passed"] is True
    assert report["quick"] is False
    assert report["cases"]["good"]["budget_s"] == 900  # the full budget
    assert report["cases"]["good"]["results"]["quick"] is False
    assert "all 1 case(s) passed" in capsys.readouterr().out


def test_reproduce_keeps_command_line_order(cases_dir, tmp_path):
    out = tmp_path / "report"
    assert reproduce(cases_dir, out, "good", "bad", "good") == 1
    assert list(json.loads((out / "report.json").read_text())["cases"]) == ["good", "bad"]


def test_unknown_case_exits_2_and_lists_known_cases(cases_dir, tmp_path, capsys):
    out = tmp_path / "report"
    assert reproduce(cases_dir, out, "good", "nope") == 2
    err = capsys.readouterr().err
    assert "nope" in err and "bad, boom, good" in err
    assert not (out / "report.json").exists()


def test_list_prints_name_title_and_quick_budget(cases_dir, capsys):
    assert main(["list", "--cases-dir", str(cases_dir)]) == 0  # option after the command
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[2].split() == ["good", "The", "good", "case", "(quick:", "60", "s)"]


def test_env_var_selects_cases_dir(cases_dir, monkeypatch, capsys):
    monkeypatch.setenv(ENV_VAR, str(cases_dir))
    assert main(["list"]) == 0
    assert capsys.readouterr().out.count("case") == 3


def test_missing_cases_dir_exits_2(tmp_path, capsys):
    assert main(["--cases-dir", str(tmp_path / "absent"), "list"]) == 2
    assert "absent" in capsys.readouterr().err


def test_empty_cases_dir_reproduce_exits_2(tmp_path, capsys):
    assert reproduce(tmp_path, tmp_path / "out") == 2
    assert "no validation cases" in capsys.readouterr().err


def test_version_and_usage(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fpsolve {package_version()}"
    assert package_version()
    assert main([]) == 2  # no command: help on stderr
    assert main(["frobnicate"]) == 2  # argparse usage error


def test_invalid_case_is_listed_and_fails_alone(cases_dir, tmp_path, capsys):
    broken = write_case(cases_dir, "broken", "def main(quick=False):\n    return {}\n",
                        {"x": {"maximum": 1}})
    assert read_case(cases_dir / "good").problem is None
    with pytest.raises(FpsolveError, match="unknown fields"):
        read_case(broken)
    assert main(["--cases-dir", str(cases_dir), "list"]) == 0
    assert "INVALID" in capsys.readouterr().out
    out = tmp_path / "report"
    assert reproduce(cases_dir, out, "broken", "good") == 1
    report = json.loads((out / "report.json").read_text())
    assert "unknown fields" in report["cases"]["broken"]["error"]
    assert report["cases"]["good"]["passed"]


def test_over_budget_is_reported_not_failed(tmp_path):
    d = write_case(tmp_path, "slow", "import time\ndef main(quick=False):\n"
                   "    time.sleep(0.02)\n    return {'x': 1}\n", {"x": {"equals": 1}},
                   budget={"quick": 0.001, "full": 0.001})
    entry = run_case(read_case(d), quick=True, outdir=tmp_path / "out")
    assert entry["passed"] and entry["within_budget"] is False  # slept 20 ms > 1 ms budget


def test_plot_must_return_existing_files(tmp_path):
    d = write_case(tmp_path, "liar", "def main(quick=False):\n    return {'x': 1}\n",
                   {"x": {"equals": 1}},
                   plot="def main(results, outdir):\n    return [outdir / 'none.png']\n")
    entry = run_case(read_case(d), quick=True, outdir=tmp_path / "out")
    assert not entry["passed"] and "not a file" in entry["error"]
    assert entry["checks"]["x"]["passed"]


def test_case_modules_do_not_clash(cases_dir):
    cases = discover_cases(cases_dir)
    good = load_case_module(cases["good"], "compute")
    bad = load_case_module(cases["bad"], "compute")
    assert good.__name__ != bad.__name__
    assert (good.LABEL, bad.LABEL) == ("good", "bad")


def test_sibling_module_is_imported_once_per_path(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "helper.py").write_text(f"LABEL = {name!r}\nSTATE = []\n")
    a = sibling_module(tmp_path / "a" / "compute.py", "helper")
    b = sibling_module(tmp_path / "b" / "compute.py", "helper")
    assert (a.LABEL, b.LABEL) == ("a", "b") and a.__name__ != b.__name__
    a.STATE.append(1)
    # A second import from another sibling of the same directory shares the instance.
    assert sibling_module(tmp_path / "a" / "plot.py", "helper").STATE == [1]
    with pytest.raises(FpsolveError, match="stem: .*missing.py"):
        sibling_module(tmp_path / "a" / "compute.py", "missing")


# ---------------------------------------------------------------- check evaluator


@pytest.mark.parametrize(
    ("spec", "measured", "passed"),
    [
        ({"max": 1.0}, 1.0, True),  # bounds are inclusive
        ({"max": 1.0}, 1.0000001, False),
        ({"max": 1.0}, [0.5, 0.9], True),
        ({"max": 1.0}, [0.5, 1.1], False),  # every element must pass
        ({"min": 2}, 2, True),
        ({"min": 2}, 1.99, False),
        ({"range": [1.9, 2.1]}, 2.1, True),
        ({"range": [1.9, 2.1]}, 1.89, False),
        ({"range": [1.9, 2.1]}, 2.11, False),
        # rtol relative to the expected value: |2.02 - 2| = 0.02 <= 0.011 * 2 = 0.022
        ({"value": 2.0, "rtol": 0.011}, 2.02, True),
        ({"value": 2.0, "rtol": 0.009}, 2.02, False),  # 0.02 > 0.018
        ({"value": -2.0, "rtol": 0.011}, -2.02, True),  # |v| in the tolerance
        # atol: |0.3 - 0.25| = 0.05, a margin of 1e-9 above/below float round-off
        ({"value": 0.25, "atol": 0.05 + 1e-9}, 0.3, True),
        ({"value": 0.25, "atol": 0.05 - 1e-9}, 0.3, False),
        ({"value": [1.0, 2.0], "atol": 0.1}, [1.05, 1.95], True),
        ({"value": [1.0, 2.0], "atol": 0.1}, [1.05], False),  # shape mismatch
        ({"value": 0.0, "atol": 1e-3, "rtol": 1.0}, 5e-4, True),  # tolerances add
        ({"value": 3}, 3, True),  # bare value: exact
        ({"value": 3}, 3.0000001, False),
        ({"value": "ok"}, "ok", True),
        ({"equals": True}, True, True),
        ({"equals": True}, False, False),
        ({"equals": "upwind"}, "upwind", True),
        ({"equals": [1, 2]}, [1, 2], True),
        ({"equals": [1, 2]}, np.array([1, 2]), True),
        ({"equals": [1, 2]}, [1, 2, 3], False),
        ({"min": 0.0, "max": 1.0}, 0.5, True),  # several kinds: all must hold
        ({"min": 0.0, "max": 1.0}, -0.5, False),
        ({"max": 1.0}, math.nan, False),
        ({"max": 1.0}, None, False),
        ({"max": 1.0}, "small", False),
        ({"max": 1.0}, [], False),
        ({"equals": True}, None, False),
    ],
)
def test_evaluate_check(spec, measured, passed):
    assert evaluate_check(spec, measured) is passed


def test_evaluate_checks_missing_key_fails_with_null():
    results = {"a": 1.0, "orders": {"density": 2.0}, "ratio.raw": 3.0}
    checks = {"a": {"max": 2}, "orders.density": {"min": 1.9}, "orders.current": {"min": 1.9},
              "nope": {"equals": True}, "ratio.raw": {"value": 3.0}}
    out = evaluate_checks(checks, results)
    assert {k: v["passed"] for k, v in out.items()} == {
        "a": True, "orders.density": True, "orders.current": False, "nope": False,
        "ratio.raw": True}
    assert out["nope"]["measured"] is None and out["orders.current"]["measured"] is None
    assert out["orders.density"]["measured"] == 2.0


def test_lookup_and_to_jsonable():
    results = {"a": {"b": [10, 20]}}
    assert lookup(results, "a.b.1") == 20 and lookup(results, "a.b.-1") == 20
    assert lookup(results, "a.b.2") is None and lookup(results, "a.c", "dflt") == "dflt"
    assert to_jsonable({"x": np.arange(3), "y": (np.int64(1), np.bool_(True))}) == {
        "x": [0, 1, 2], "y": [1, True]}
    with pytest.raises(FpsolveError, match=r"results\.z"):
        to_jsonable({"z": 1j})


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ({"x": {}}, "non-empty"),
        ({"x": {"rtol": 0.1}}, "need a 'value'"),
        ({"x": {"max": "1"}}, "must be a number"),
        ({"x": {"value": 1, "atol": -1}}, ">= 0"),
        ({"x": {"range": [2, 1]}}, "lo <= hi"),
    ],
)
def test_invalid_checks_are_rejected(tmp_path, checks, message):
    d = write_case(tmp_path, "c", "def main(quick=False):\n    return {}\n", checks)
    with pytest.raises(FpsolveError, match=message):
        read_case(d)


def test_invalid_budget_is_rejected(tmp_path):
    d = write_case(tmp_path, "c", "def main(quick=False):\n    return {}\n", {},
                   budget={"quick": 1})
    with pytest.raises(FpsolveError, match="budget_s"):
        read_case(d)


# ---------------------------------------------------------------- state after faults
#
# These tests run the command in child processes on fake cases.  A case that must be caught
# mid-run writes a "ready" file and then waits (for a "release" file, or for the signal); every
# wait is bounded by WAIT_S so that a broken build fails instead of hanging.

WAIT_S = 20.0  # far above the ~1.5 s a child needs to import fpsolve and reach a case

QUICK = "def main(quick=False):\n    return {'x': 1}\n"

HOLD = """
import pathlib, time
def main(quick=False):
    pathlib.Path({ready!r}).write_text("ready")
    deadline = time.monotonic() + {wait}
    while not pathlib.Path({release!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {{"x": 1}}
"""


def hold_case(root, name, tmp_path):
    """A case that signals ``ready`` and runs until ``release`` exists; their paths."""
    ready, release = tmp_path / f"{name}.ready", tmp_path / f"{name}.release"
    write_case(root, name, HOLD.format(ready=str(ready), release=str(release), wait=WAIT_S),
               {"x": {"equals": 1}})
    return ready, release


def spawn(cases_dir, out, *names):
    """``fpsolve reproduce --quick`` in a child process (SIGINT raising KeyboardInterrupt
    there even when this process runs with SIGINT ignored, as background jobs do)."""
    cmd = [sys.executable, "-m", "fpsolve.cli", "--cases-dir", str(cases_dir), "reproduce",
           "--quick", "--no-progress", "--out", str(out), *names]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cases_dir, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                            signal.SIG_DFL))


def wait_for(path):
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize("names", [("quick", "hold", "after"), ("hold", "quick")],
                         ids=["second-case", "first-case"])
def test_sigint_exits_130_with_incomplete_report(tmp_path, names):
    root = tmp_path / "cases"
    write_case(root, "quick", QUICK, {"x": {"equals": 1}})
    write_case(root, "after", QUICK, {"x": {"equals": 1}})
    ready, _ = hold_case(root, "hold", tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    # a previous, passing run's report must not survive looking current
    (out / "report.json").write_text(json.dumps({"complete": True, "passed": True,
                                                 "cases": {"old": {"passed": True}}}))
    proc = spawn(root, out, *names)
    wait_for(ready)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is False and report["passed"] is False
    assert report["interrupted"] is True and report["finished"] is not None
    assert report["selected"] == list(names)
    assert list(report["cases"]) == list(names[:names.index("hold")])  # finished ones only
    assert "INTERRUPTED after" in stdout and "Traceback" not in stderr


def test_second_run_into_busy_out_exits_2(tmp_path, capsys):
    root = tmp_path / "cases"
    write_case(root, "quick", QUICK, {"x": {"equals": 1}})
    ready, release = hold_case(root, "hold", tmp_path)
    out = tmp_path / "out"
    first = spawn(root, out, "hold")
    try:
        wait_for(ready)
        running = json.loads((out / "report.json").read_text())
        # mid-run: written before the first case, never passed while incomplete
        assert running["complete"] is False and running["passed"] is False
        assert running["cases"] == {} and running["selected"] == ["hold"]
        # the second run in this process: flock excludes it all the same (own open file)
        assert reproduce(root, out, "quick") == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.splitlines()) == 1
        assert "in use" in captured.err and LOCK_NAME in captured.err
        assert json.loads((out / "report.json").read_text())["selected"] == ["hold"]
    finally:
        release.touch()
        first.communicate(timeout=WAIT_S)
    assert first.returncode == 0
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is True and report["passed"] is True
    assert list(report["cases"]) == ["hold"]


def _main_in_child(argv, err):
    # a forked child runs the command: a real second process without a second fpsolve import
    sys.stderr, sys.stdout = open(err, "w"), open(os.devnull, "w")
    status = main(argv)
    sys.stderr.flush()
    os._exit(status)  # skip the atexit handlers of the forked pytest process


def poll_json(path, done, bad, reads):
    """Parse ``path`` over and over until ``done`` (once at least); parse errors go to
    ``bad``."""
    while True:
        try:
            json.loads(path.read_text())
            reads[0] += 1
        except FileNotFoundError:
            pass
        except ValueError as exc:
            bad.append(exc)
        if done.wait(0.001):  # the pause leaves the cores to the runs
            return


def test_concurrent_runs_never_expose_invalid_json(tmp_path):
    root = tmp_path / "cases"
    for name in ("a", "b", "c"):
        write_case(root, name, QUICK, {"x": {"equals": 1}})
    out = tmp_path / "out"
    report, bad, reads, done = out / "report.json", [], [0], threading.Event()
    argv = ["--cases-dir", str(root), "reproduce", "--quick", "--no-progress", "--out", str(out)]
    ctx = multiprocessing.get_context("fork")
    runs = [ctx.Process(target=_main_in_child, args=(argv, tmp_path / f"err{i}"))
            for i in range(6)]
    for run in runs:
        run.start()
    # the reader thread starts after the forks (forking a process with threads is unsafe)
    reader = threading.Thread(target=poll_json, args=(report, done, bad, reads))
    reader.start()
    try:
        for run in runs:
            run.join(WAIT_S)
    finally:
        done.set()
        reader.join()
    codes = sorted(run.exitcode for run in runs)
    assert set(codes) <= {0, 2} and codes[0] == 0, codes  # locked out, or ran and passed
    for i, run in enumerate(runs):
        lines = (tmp_path / f"err{i}").read_text().splitlines()
        if run.exitcode == 2:
            assert len(lines) == 1, lines  # one line when locked out
        else:  # nothing but the start and end line of each of the 3 cases
            assert len(lines) == 6 and all(CASE_LINE.match(line) for line in lines), lines
    assert bad == [] and reads[0] > 0
    final = json.loads(report.read_text())
    assert final["complete"] is True and final["passed"] is True
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME, "report.json"]  # no temp files


def _write_many(path, seed):
    # reports of different lengths, so that two writers sharing a file would corrupt it
    for i in range(60):
        write_text_atomic(path, json.dumps({"writer": seed, "i": i, "pad": "x" * (seed * 997)}))


def test_atomic_writer_with_concurrent_writers(tmp_path):
    path = tmp_path / "report.json"
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_write_many, args=(path, seed)) for seed in range(1, 5)]
    for w in writers:
        w.start()
    bad = []
    while any(w.is_alive() for w in writers):
        try:
            json.loads(path.read_text())
        except FileNotFoundError:
            pass
        except ValueError as exc:
            bad.append(exc)
    for w in writers:
        w.join()
    assert [w.exitcode for w in writers] == [0] * 4 and bad == []
    assert json.loads(path.read_text())["i"] == 59
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would have made it


@pytest.mark.parametrize("target", ["file/sub", "file"])
def test_unwritable_out_exits_2_with_one_line(tmp_path, target):
    write_case(tmp_path / "cases", "quick", QUICK, {"x": {"equals": 1}})
    (tmp_path / "file").write_text("a regular file")  # no directory can exist below it
    proc = spawn(tmp_path / "cases", tmp_path / target)
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and stderr.startswith("fpsolve: error: --out")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only directories; see the file/sub test")
def test_read_only_out_exits_2(tmp_path, capsys):
    write_case(tmp_path / "cases", "quick", QUICK, {"x": {"equals": 1}})
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert reproduce(tmp_path / "cases", out) == 2
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--out" in err


def test_report_records_provenance(cases_dir, tmp_path):
    out = tmp_path / "report"
    assert reproduce(cases_dir, out, "good") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["command"] == (f"fpsolve --cases-dir {cases_dir} reproduce --out {out} "
                                 "--no-progress --quick good")
    assert report["fpsolve_version"] == package_version()
    assert report["git_commit"] == git_commit()
    env = report["environment"]
    assert env["numpy"] == np.__version__
    assert env["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert env["scipy"] and env["numba"] and env["cpu_count"] == os.cpu_count()
    assert 1 <= env["cpus_usable"] <= env["cpu_count"]
    started, finished = (datetime.fromisoformat(report[k]) for k in ("started", "finished"))
    assert started <= finished
    assert report["cases"]["good"]["description"] == "fake case for tests"


def test_git_commit_outside_a_checkout_is_none(tmp_path):
    assert git_commit(tmp_path / "fpsolve") is None  # not a repository (tmp is no checkout)
    if git_commit() is not None:  # running from a checkout: a short hexadecimal hash
        assert re.fullmatch(r"[0-9a-f]{4,40}", git_commit())
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=m"]
    try:
        subprocess.run([*git, "init", "-q", str(tmp_path / "repo")], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no usable git")
    pkg = tmp_path / "repo" / "lib" / "fpsolve"  # a copy below the root, as in site-packages
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    subprocess.run([*git, "-C", str(pkg), "add", "."], check=True)
    subprocess.run([*git, "-C", str(pkg), "commit", "-qm", "x"], check=True)
    assert git_commit(pkg) is None and git_commit(pkg.parent) is not None


def test_failed_plot_leaves_no_partial_figure(tmp_path):
    d = write_case(tmp_path, "halfplot", QUICK, {"x": {"equals": 1}},
                   plot="def main(results, outdir):\n"
                        "    (outdir / 'fig.png').write_bytes(b'half')\n"
                        "    raise RuntimeError('plot died')\n")
    outdir = tmp_path / "out"
    entry = run_case(read_case(d), quick=True, outdir=outdir)
    assert "plot died" in entry["error"] and entry["figures"] == []
    assert list(outdir.iterdir()) == []  # neither the half figure nor the staging folder


# ---------------------------------------------------------------- per-case progress lines

CASE_LINE = re.compile(r"^fpsolve reproduce: \[(\d+)/(\d+)\] (\S+): (.*)$")


@pytest.mark.parametrize("no_progress", [True, False], ids=["no-progress", "default"])
def test_reproduce_prints_start_and_end_lines_to_a_pipe(tmp_path, no_progress):
    root = tmp_path / "cases"
    write_case(root, "quick", QUICK, {"x": {"equals": 1}})
    write_case(root, "wrong", QUICK, {"x": {"equals": 2}})
    write_case(root, "boom", CASES["boom"][0], CASES["boom"][1])
    cmd = [sys.executable, "-m", "fpsolve.cli", "--cases-dir", str(root), "reproduce",
           "--quick", "--out", str(tmp_path / "out"), "wrong", "quick", "boom"]
    if no_progress:
        cmd.append("--no-progress")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=WAIT_S,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    # stderr is a pipe: the lines come all the same, and nothing else (no tqdm bar)
    lines = proc.stderr.splitlines()
    parsed = [CASE_LINE.match(line) for line in lines]
    assert all(parsed), lines
    got = [(int(m[1]), int(m[2]), m[3], m[4]) for m in parsed]
    assert [g[:3] for g in got] == [(1, 3, "wrong")] * 2 + [(2, 3, "quick")] * 2 + \
        [(3, 3, "boom")] * 2
    assert [g[3] for g in got[::2]] == ["started"] * 3
    ends = [g[3] for g in got[1::2]]
    assert re.fullmatch(r"FAIL \(0/1 checks\) in \d+\.\d s", ends[0]), ends
    assert re.fullmatch(r"PASS \(1/1 checks\) in \d+\.\d s", ends[1]), ends
    assert re.fullmatch(r"ERROR \(0/1 checks\) in \d+\.\d s", ends[2]), ends
    assert "case(s) failed" in proc.stdout  # the summary stays on stdout


def test_case_lines_are_on_stderr_before_the_case_ends(tmp_path):
    root = tmp_path / "cases"
    write_case(root, "quick", QUICK, {"x": {"equals": 1}})
    ready, release = hold_case(root, "hold", tmp_path)
    proc = spawn(root, tmp_path / "out", "quick", "hold")
    try:
        wait_for(ready)
        # the child flushes each line: read what it wrote so far, without waiting for its end
        seen = ""
        deadline = time.monotonic() + WAIT_S
        while "[2/2] hold: started" not in seen:
            assert time.monotonic() < deadline, seen
            seen += proc.stderr.readline()
        assert "[1/2] quick: started" in seen and "[1/2] quick: PASS" in seen
    finally:
        release.touch()
        _, rest = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0
    assert "[2/2] hold: PASS (1/1 checks) in" in rest

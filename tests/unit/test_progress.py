"""Progress bars (issue 15 item 4): the ``progress`` policy of :mod:`fpsolve._progress` and the
drivers that follow it (GMRES in multigrid solves, ``evolve``, ``learning.sample``).

``progress=True`` draws a bar on stderr whatever stderr is; ``False`` never; ``None`` (auto) only
when stderr is a terminal, after ``AUTO_DELAY`` seconds.  The bars must not change any result:
comparisons between runs with and without a bar are exact.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import fpsolve as fp
from fpsolve import _progress
from fpsolve.errors import FpsolveError
from fpsolve.learning import LinearRegression
from fpsolve.learning.dynamics.samplers import sample
from fpsolve.solvers.evolve import evolve
from fpsolve.solvers.multigrid import cartesian_hierarchy, krylov_solve


class FakeTerminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _krylov(progress):
    lap = sp.diags([-1.0, 2.05, -1.0], [-1, 0, 1], shape=(256, 256), format="csr")
    ml = cartesian_hierarchy(lap, (256,), (False,), coarse_cells=16)
    return krylov_solve(ml, np.ones(256), tol=1e-12, maxiter=50, probe=3, progress=progress)


def _evolve(progress):
    grid = fp.CartesianGrid([(-5, 5)], (100,))
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, 1.0))
    x = grid.axis_centers(0)
    p0 = np.exp(-(x - 2.0) ** 2 / 0.5)
    return evolve(op, p0 / p0.sum(), [0.0, 0.5, 1.0], dt=0.004, progress=progress).p


def _sample(progress):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    data = (x, x @ [1.0, -1.0] + rng.normal(size=100))
    res = sample("sgworld", LinearRegression(2, s=1.0), data, eta=1e-3, batch_size=10,
                 n_epochs=203, burn_in=3, n_chains=2, rng=1, record="step", thin=3,
                 progress=progress, warn=False)
    return res.samples


# what each driver writes into its bar: (run, text in the bar, total count)
DRIVERS = {"gmres": (_krylov, "GMRES", "/50"),
           "evolve": (_evolve, "evolve (auto)", "250/250"),
           "sample": (_sample, "SGWORLD", "2030/2030")}


def _first(result):
    return result[0] if isinstance(result, tuple) else result


@pytest.mark.parametrize("name", DRIVERS)
def test_progress_true_draws_a_bar_on_a_pipe(name, capsys):
    run, label, count = DRIVERS[name]
    run(True)
    err = capsys.readouterr().err
    assert label in err and count in err, err


@pytest.mark.parametrize("name", DRIVERS)
@pytest.mark.parametrize("progress", [False, None], ids=["off", "auto"])
def test_no_bar_when_off_or_when_stderr_is_not_a_terminal(name, progress, capsys):
    run = DRIVERS[name][0]
    run(progress)
    assert capsys.readouterr().err == ""  # capsys's stderr is not a terminal


@pytest.mark.parametrize("name", DRIVERS)
def test_auto_draws_on_a_terminal_and_false_still_silences_it(name, monkeypatch):
    run, label, _ = DRIVERS[name]
    monkeypatch.setattr(_progress, "AUTO_DELAY", 0.0)  # these runs end before the real delay
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    run(None)
    assert label in term.getvalue()
    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    run(False)
    assert quiet.getvalue() == ""


def test_auto_waits_before_drawing_on_a_terminal(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", term)
    _evolve(None)  # ~0.05 s, far below AUTO_DELAY = 2 s
    assert term.getvalue() == ""


@pytest.mark.parametrize("name", DRIVERS)
def test_results_do_not_depend_on_the_bar(name):
    run = DRIVERS[name][0]
    with_bar, without = _first(run(True)), _first(run(False))
    assert np.array_equal(with_bar, without)  # bit for bit: same arithmetic, chunked or not


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_bad_progress_is_rejected_naming_the_argument(bad):
    with pytest.raises(FpsolveError, match="progress"):
        _progress.check_progress(bad)
    with pytest.raises(FpsolveError, match="progress"):
        _evolve(bad)


def test_show_progress_policy(monkeypatch):
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    assert _progress.show_progress(None) is True
    assert _progress.show_progress(np.bool_(False)) is False
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress.show_progress(None) is False and _progress.show_progress(True) is True

"""Thread budget of the parallel kernels (fpsolve._numba.threads_for)."""

from __future__ import annotations

import numpy as np

import fpsolve as fp
from fpsolve import _numba


def test_threads_for_limits_and_restores():
    before = _numba.get_num_threads()
    with _numba.threads_for(10):
        assert _numba.get_num_threads() == 1            # small work: one thread
    assert _numba.get_num_threads() == before
    with _numba.threads_for(10**9):
        assert _numba.get_num_threads() == before       # never above the current setting
    try:
        with _numba.threads_for(10):
            raise RuntimeError
    except RuntimeError:
        pass
    assert _numba.get_num_threads() == before           # restored on errors too


def test_operator_results_do_not_depend_on_the_thread_budget(monkeypatch):
    # Every kernel writes each cell independently, so one thread and several give equal bits.
    grid = fp.CartesianGrid([(-3.0, 3.0)] * 2, (40, 30))
    model = fp.FokkerPlanckModel(lambda x: -x + 0.3 * x[::-1], [[1.0, 0.2], [0.2, 0.6]])
    p = np.random.default_rng(1).random(grid.shape)
    serial = fp.FokkerPlanckOperator(grid, model)
    monkeypatch.setattr(_numba, "ITEMS_PER_THREAD", 1)
    threaded = fp.FokkerPlanckOperator(grid, model)
    np.testing.assert_array_equal(serial.apply(p), threaded.apply(p))
    assert (serial.matrix() != threaded.matrix()).nnz == 0

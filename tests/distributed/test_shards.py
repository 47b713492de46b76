"""Shards of one run, merged: bit-identical to the run in one process (no Dask needed).

An executor with one thread runs the shards one after the other in this process, which tests the
split and the merge of every driver cheaply; a process pool ships them through pickle.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from shard_cases import (assert_identical, run_sample, run_sgd, run_simulate, run_slice)

from fpsolve._distributed import VersionError, plan_shards, run_shard
from fpsolve.distributed import Backend, sweep
from fpsolve.errors import FpsolveError
from fpsolve.learning.dynamics.samplers import SAMPLERS


@pytest.fixture(scope="module")
def serial():
    """One thread: shards run one at a time (two parallel numba kernels must not overlap)."""
    with ThreadPoolExecutor(1) as pool:
        yield pool


def test_plan_shards_are_even_and_respect_cuts():
    assert plan_shards(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert plan_shards(2, 5) == [(0, 1), (1, 2)]            # never more shards than streams
    cuts = np.array([0, 43, 87, 131, 175, 218, 262, 306, 350])
    assert plan_shards(350, 3, cuts) == [(0, 131), (131, 218), (218, 350)]
    with pytest.raises(FpsolveError, match="shards: boundaries"):
        plan_shards(10, 2, np.array([0, 5]))


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_simulate_shards_are_bit_identical(serial, shards):
    # 700 trajectories: the 16 reduction blocks of the histogram and the current hold 43 or 44
    # trajectories, so shards end at block edges that are not multiples of the kernel block.
    assert_identical(run_simulate(Backend(serial, shards=shards)), run_simulate())


def test_simulate_with_trajectory_offset_is_that_part_of_one_run():
    import fpsolve as fp
    from fpsolve.stochastic import simulate
    grid = fp.CartesianGrid([(-3.0, 3.0)], 8)
    model = fp.FokkerPlanckModel(lambda x: -x, 0.5)
    full = simulate(model, np.zeros((30, 1)), grid=grid, dt=0.01, n_steps=20, rng=5)
    part = simulate(model, np.zeros((10, 1)), grid=grid, dt=0.01, n_steps=20, rng=5,
                    traj_offset=20)
    np.testing.assert_array_equal(part.positions, full.positions[:, 20:], strict=True)


@pytest.mark.parametrize("schedule", ["wr", "wor", "wor-palindromic"])
def test_sgd_shards_are_bit_identical(serial, schedule):
    assert_identical(run_sgd(Backend(serial, shards=3), schedule), run_sgd(schedule=schedule))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sample_shards_are_bit_identical(serial, name):
    assert_identical(run_sample(name, Backend(serial, shards=2)), run_sample(name))


def test_slice_shards_are_bit_identical(serial):
    assert_identical(run_slice(Backend(serial, shards=4)), run_slice())


def test_sharded_checkpoint_resumes_and_continues(serial, tmp_path):
    # A sharded run writes the whole-run checkpoint at its end; a longer call resumes from it
    # (sharded again) and equals one uninterrupted run.
    path = tmp_path / "run.npz"
    run_sgd(Backend(serial, shards=2), checkpoint=path)
    assert path.exists() and not list(tmp_path.glob("*.shard-*"))
    again = run_sgd(Backend(serial, shards=3), checkpoint=path)
    assert_identical(again, run_sgd())


def test_process_pool_ships_shards_through_pickle():
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        backend = Backend(pool, shards=3)
        assert_identical(run_sgd(backend), run_sgd())
    report = backend.reports[-1]
    assert report.ranges == [(0, 2), (2, 5), (5, 7)] and report.retries == 0
    assert len(report.shard_seconds) == 3 and len(set(report.workers)) >= 1


def test_divergence_in_a_shard_names_the_global_chain(serial):
    w0 = np.tile([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0], (6, 1))
    w0[4] = 50.0                                           # chain 4 starts far out: diverges
    from fpsolve.learning import RegressionNetwork, paper_regression, sgd
    with pytest.raises(FpsolveError, match=r"shard \[3, 6\).*chain 4"):
        sgd(RegressionNetwork(), paper_regression(), w0, eta=1e-6, batch_size=10,
            n_steps=200, n_chains=6, rng=0, max_loss=1e6, client=Backend(serial, shards=2))


def test_worker_of_another_version_is_refused():
    with pytest.raises(VersionError, match="runs fpsolve .* the client 0.0.0-other"):
        run_shard(None, "0.0.0-other", None)


def test_client_and_options_are_checked():
    with pytest.raises(FpsolveError, match="client: expected a distributed.Client"):
        run_sgd(client="localhost:8786")
    with pytest.raises(FpsolveError, match="shards: expected an int >= 1"):
        Backend(ThreadPoolExecutor(1), shards=0)
    with pytest.raises(FpsolveError, match="grid: expected a dict"):
        sweep(max, {"a": []})


def _study(eta, seed):
    from shard_cases import W0

    from fpsolve.learning import RegressionNetwork, paper_regression, sgd
    res = sgd(RegressionNetwork(), paper_regression(), W0, eta=eta, batch_size=10, n_steps=50,
              n_chains=2, rng=seed)
    return {"w_mean": float(res.w_final.mean()), "final": res.w_final}


def test_sweep_is_the_same_table_on_a_pool(serial):
    grid = {"eta": [1e-6, 1e-5], "seed": [0, 1, 2]}
    local, pooled = sweep(_study, grid), sweep(_study, grid, client=serial)
    assert local.cases == pooled.cases and len(local) == 6
    assert local.cases[1] == {"eta": 1e-6, "seed": 1}       # last name varies fastest
    np.testing.assert_array_equal(local.column("w_mean"), pooled.column("w_mean"), strict=True)
    for a, b in zip(local.results, pooled.results):
        np.testing.assert_array_equal(a["final"], b["final"], strict=True)
    assert local.rows()[0].keys() == {"eta", "seed", "w_mean", "final"}

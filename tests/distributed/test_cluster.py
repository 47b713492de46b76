"""A real Dask LocalCluster with two worker processes: bit identity, a worker killed mid-run,
a shard that fails for good and resumes, workers of another version."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from shard_cases import W0, assert_identical, run_sample, run_sgd, run_simulate, run_slice

distributed = pytest.importorskip("distributed")

from fpsolve.distributed import Backend, VersionError, local_cluster, sweep, warm_up  # noqa: E402
from fpsolve.errors import FpsolveError  # noqa: E402
from fpsolve.learning import RegressionNetwork, paper_regression, sgd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as c:
        warm_up(c)
        yield c



def test_two_worker_processes_are_bit_identical(client):
    backend = Backend(client, shards=3)
    assert_identical(run_simulate(backend), run_simulate())
    assert_identical(run_sgd(backend, "wor"), run_sgd(schedule="wor"))
    assert_identical(run_sample("sgldcv", backend), run_sample("sgldcv"))
    assert_identical(run_slice(backend), run_slice())
    assert len({w for r in backend.reports for w in r.workers}) == 2   # both workers ran shards


def _study(eta, seed):
    res = sgd(RegressionNetwork(), paper_regression(), W0, eta=eta, batch_size=10, n_steps=50,
              rng=seed)
    return {"w0": float(res.w_final[0, 0])}


def test_sweep_on_the_cluster_equals_the_local_sweep(client):
    grid = {"eta": [1e-6, 3e-6], "seed": [0, 1]}
    np.testing.assert_array_equal(sweep(_study, grid, client=client).column("w0"),
                                  sweep(_study, grid).column("w0"), strict=True)


def _long_sgd(client=None, **kwargs):
    # ~1-2 s per shard on a loaded 2-core machine: long enough to be killed in the middle
    return sgd(RegressionNetwork(), paper_regression(), W0, eta=1e-6, batch_size=10,
               n_steps=1_500_000, record_every=500_000, n_chains=4, rng=2, client=client, **kwargs)


def _kill_a_busy_worker(client, timeout=60.0):
    """SIGKILL the process of a worker that is running a task (its nanny starts a new one)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            time.sleep(0.3)                      # inside the kernel, not before it
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)
    raise AssertionError("no worker became busy")


def test_a_worker_killed_mid_run_gives_the_same_result():
    expected = _long_sgd()
    with local_cluster(2) as c:
        backend = Backend(c, shards=2)
        killer = threading.Thread(target=_kill_a_busy_worker, args=(c,))
        killer.start()
        result = _long_sgd(backend)
        killer.join()

    assert_identical(result, expected)
    assert backend.reports[-1].retries >= 1        # the killed shard ran again


def _break_shard(chain0):
    from fpsolve.learning.dynamics import chains
    real = chains.ChainRun.advance

    def advance(self, count):
        if self.chain0 == chain0:
            raise RuntimeError("injected failure")
        return real(self, count)

    chains.ChainRun.real_advance, chains.ChainRun.advance = real, advance


def _repair():
    from fpsolve.learning.dynamics import chains
    chains.ChainRun.advance = getattr(chains.ChainRun, "real_advance", chains.ChainRun.advance)


def test_a_shard_failing_for_good_keeps_the_others_and_resumes(client, tmp_path):
    path, backend = tmp_path / "sgd.npz", Backend(client, shards=3, retries=1)
    client.run(_break_shard, 2)                       # shard [2, 5) of 7 chains fails
    try:
        with pytest.raises(FpsolveError, match=r"shard \[2, 5\) of 7 streams failed 2 times"):
            run_sgd(backend, checkpoint=path)
        # the other shards finished (or finish now) and are kept
        deadline = time.time() + 30
        while len(list(tmp_path.glob("sgd.npz.shard-*.npz"))) < 2 and time.time() < deadline:
            time.sleep(0.1)
    finally:
        client.run(_repair)
    kept = sorted(p.name for p in tmp_path.glob("sgd.npz.shard-*.npz"))
    assert "sgd.npz.shard-2-5.npz" not in kept and len(kept) >= 1
    assert_identical(run_sgd(backend, checkpoint=path), run_sgd())
    assert backend.reports[-1].resumed == len(kept)


def _pretend_version(version):
    import fpsolve._distributed as d
    d.real_version = getattr(d, "real_version", d.__version__)
    d.__version__ = version or d.real_version


def test_workers_with_another_version_are_refused(client):
    client.run(_pretend_version, "0.0.0-other")
    try:
        with pytest.raises(VersionError, match=r"run fpsolve \['0.0.0-other'\]"):
            run_sgd(Backend(client))
    finally:
        client.run(_pretend_version, None)


def test_reproduce_runs_cases_concurrently_on_local_workers(tmp_path):
    import json

    from fpsolve.cli import main
    for name, value in [("one", 0.1), ("two", 2.0), ("three", 0.3)]:
        case = tmp_path / "cases" / name
        case.mkdir(parents=True)
        (case / "compute.py").write_text(f"import os\n\ndef main(quick=False):\n"
                                         f"    return {{'error': {value}, 'pid': os.getpid()}}\n")
        (case / "expected.json").write_text(json.dumps(
            {"title": name, "description": "fake case", "checks": {"error": {"max": 1.0}},
             "budget_s": {"quick": 60, "full": 60}}))
    argv = ["--cases-dir", str(tmp_path / "cases"), "reproduce", "--quick", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "serial")]) == 1          # "two" fails
    assert main(argv + ["--out", str(tmp_path / "pool"), "--workers", "2"]) == 1
    serial, pool = (json.loads((tmp_path / d / "report.json").read_text())
                    for d in ("serial", "pool"))
    assert pool["complete"] and set(pool["cases"]) == {"one", "two", "three"}
    for name in serial["cases"]:
        assert pool["cases"][name]["passed"] == serial["cases"][name]["passed"]
        assert pool["cases"][name]["results"]["error"] == serial["cases"][name]["results"]["error"]
    assert len({c["results"]["pid"] for c in pool["cases"].values()}) >= 1
    assert {c["results"]["pid"] for c in pool["cases"].values()} != {os.getpid()}

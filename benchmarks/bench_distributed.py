"""Throughput of shards on a Dask LocalCluster: 2 worker processes against 1, in one run.

Targets (issue 12): a 2-worker LocalCluster reaches >= 1.7x the 1-worker throughput on a 2-D SDE
ensemble of >= 1e9 particle-steps and on an SGD sweep; the scheduling overhead per shard is
measured; a worker killed during a run gives the same result, with the retry count.

Every worker is one process with one thread and one numba thread (``NUMBA_NUM_THREADS=1``), so
"1 worker" and "2 workers" compare one core against two.  Both clusters are warmed up first
(:func:`fpsolve.distributed.warm_up`); the cold cost of a fresh worker is printed apart.

Run: ``python benchmarks/bench_distributed.py [--quick]`` (needs ``fpsolve[distributed]``).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

# the same numba thread count here as in the workers: a function pickled by value from this
# script makes a worker re-read numba's configuration, which refuses a different count
os.environ["NUMBA_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

import fpsolve as fp  # noqa: E402
from fpsolve.distributed import Backend, local_cluster, sweep, warm_up  # noqa: E402
from fpsolve.learning import RegressionNetwork, paper_regression, sgd  # noqa: E402
from fpsolve.models.gallery import OrnsteinUhlenbeck  # noqa: E402
from fpsolve.stochastic import simulate  # noqa: E402

W0 = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def ensemble(client, n_traj, n_steps):
    grid = fp.CartesianGrid([(-6.0, 6.0)] * 2, 32)
    model = OrnsteinUhlenbeck(-np.array([[1.0, 0.5], [-0.5, 1.0]]))
    return simulate(model, [0.0, 0.0], grid=grid, dt=1e-3, n_steps=n_steps, n_traj=n_traj,
                    rng=1, record_every=0, client=client)


def sgd_case(eta, seed, n_steps):
    res = sgd(RegressionNetwork(), paper_regression(), W0, eta=eta, batch_size=10,
              n_steps=n_steps, record_every=n_steps, rng=seed)
    return {"w0": float(res.w_final[0, 0])}


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return time.perf_counter() - start, out


def throughput(sizes):
    """Seconds of the SDE ensemble and of the SGD sweep on 1 and on 2 workers."""
    n_traj, n_steps, sweep_steps = sizes
    grid = {"eta": [1e-6, 2e-6], "seed": [0, 1, 2, 3], "n_steps": [sweep_steps]}
    out, results = {}, {}
    for n in (1, 2):
        with local_cluster(n, env=ENV) as client:
            cold = warm_up(client)
            print(f"{n} worker(s): warm-up (kernel load per fresh worker) "
                  f"{', '.join(f'{s:.2f} s' for s in cold.values())}")
            backend = Backend(client, shards=n)
            out[("sde", n)], results[("sde", n)] = timed(ensemble, backend, n_traj, n_steps)
            out[("sweep", n)], results[("sweep", n)] = timed(sweep, sgd_case, grid,
                                                              client=client)
            if n == 2:
                overhead(client)
    same = np.array_equal(results[("sde", 1)].final_positions,
                          results[("sde", 2)].final_positions)
    return out, same and np.array_equal(results[("sweep", 1)].column("w0"),
                                        results[("sweep", 2)].column("w0"))


def overhead(client):
    """Per-shard cost of a run whose shards do (almost) nothing: pickling, scheduling, merge."""
    backend = Backend(client, shards=16)
    sgd(RegressionNetwork(), paper_regression(), W0, eta=1e-6, batch_size=10, n_steps=1,
        n_chains=16, rng=0, client=backend)          # the first run loads nothing new
    best = min(timed(sgd, RegressionNetwork(), paper_regression(), W0, eta=1e-6,
                     batch_size=10, n_steps=1, n_chains=16, rng=0, client=backend)[0]
               for _ in range(3))
    ran = np.mean(backend.reports[-1].shard_seconds)
    print(f"scheduling overhead: {1e3 * best / 16:.1f} ms per shard (16 shards of 1 step on 2 "
          f"workers, best of 3; {1e3 * ran:.2f} ms of it in the shard itself)")


def kill_during_run(n_steps):
    """A 2-worker run of 4 chains in 2 shards; one busy worker is killed mid-run."""
    def run(client=None):
        return sgd(RegressionNetwork(), paper_regression(), W0, eta=1e-6, batch_size=10,
                   n_steps=n_steps, record_every=n_steps // 4, n_chains=4, rng=2, client=client)

    expected = run()
    with local_cluster(2, env=ENV) as client:
        warm_up(client)
        backend = Backend(client, shards=2)
        killer = threading.Thread(target=_kill_busy, args=(client,))
        killer.start()
        got = run(backend)
        killer.join()
    same = np.array_equal(got.w, expected.w) and np.array_equal(got.w_final, expected.w_final)
    print(f"worker killed mid-run: result identical = {same}, retries = "
          f"{backend.reports[-1].retries}, {backend.reports[-1].seconds:.2f} s")


def _kill_busy(client):
    while True:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            time.sleep(0.5)
            os.kill(client.run(os.getpid, workers=[busy[0]])[busy[0]], signal.SIGKILL)
            return
        time.sleep(0.05)


def main(quick=False):
    sizes = (2000, 20_000, 200_000) if quick else (20_000, 50_000, 2_000_000)
    print(f"SDE ensemble: {sizes[0]} trajectories x {sizes[1]} steps = "
          f"{sizes[0] * sizes[1]:.2g} particle-steps (2-D OU, Euler-Maruyama); SGD sweep: 8 "
          f"cases of {sizes[2]} steps; {os.cpu_count()} cores")
    seconds, same = throughput(sizes)
    for what, target in (("sde", 1.7), ("sweep", 1.7)):
        ratio = seconds[(what, 1)] / seconds[(what, 2)]
        print(f"{what:5s}: 1 worker {seconds[(what, 1)]:7.2f} s, 2 workers "
              f"{seconds[(what, 2)]:7.2f} s, ratio {ratio:.2f}x (target >= {target}x): "
              f"{'met' if ratio >= target else 'NOT met'}")
    print(f"results of 1 and 2 workers identical: {same}")
    kill_during_run(3_000_000 if not quick else 1_500_000)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    main(parser.parse_args().quick)

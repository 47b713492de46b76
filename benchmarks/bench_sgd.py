"""Throughput of minibatch SGD (WR) for the paper's 7-parameter regression network at B = 10.

Target (issue "learning foundation"): >= 1e6 WR steps per second per core, so that 3e7 steps
are a one-minute job.  Baseline in the same run: the same loop in plain NumPy
(``Generator.choice(N, B, replace=False)`` and a vectorized gradient per step).

    python benchmarks/bench_sgd.py [--steps 3000000] [--numpy-steps 20000]
"""

from __future__ import annotations

import argparse

import numpy as np

from fpsolve._numba import get_num_threads
from fpsolve.learning import RegressionNetwork, paper_regression, sgd

from _common import timer

W0 = np.array([1.28, 1.23, 0.70, -0.70, 0.95, -0.95, 0.0])   # near the paper's minimum
ETA, B = 1e-7, 10


def numpy_sgd(x, y, w, n_steps, rng):
    """Plain NumPy loop: draw B distinct indices, vectorized minibatch gradient, update."""
    n, a, lam = x.size, x.size / (2 * 0.1**2), 1e-3
    for _ in range(n_steps):
        i = rng.choice(n, B, replace=False)
        xb, yb = x[i], y[i]
        t = np.tanh(np.outer(xb, w[0:2]) + w[2:4])
        s = w[4:6] * (1 - t**2)
        r = yb - (t @ w[4:6] + w[6])
        df = np.hstack([s * xb[:, None], s, t, np.ones((B, 1))])
        w = w - ETA * a * (-2 * (r[:, None] * df).mean(axis=0) + 2 * lam * w)
    return w


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--numpy-steps", type=int, default=20_000)
    args = parser.parse_args()
    net, data = RegressionNetwork(), paper_regression()
    kw = dict(eta=ETA, batch_size=B, rng=0)
    sgd(net, data, W0, n_steps=100, n_chains=2, **kw)          # compile (or load the cache)
    t: dict = {}
    with timer(t, "one"):
        sgd(net, data, W0, n_steps=args.steps, record_every=1000, **kw)
    with timer(t, "wor"):
        sgd(net, data, W0, n_steps=args.steps, record_every=1000, schedule="wor", **kw)
    with timer(t, "sgld"):
        sgd(net, data, W0, n_steps=args.steps, record_every=1000, noise=1.0, **kw)
    threads = get_num_threads()
    with timer(t, "all"):
        sgd(net, data, W0, n_steps=args.steps, record_every=1000, n_chains=threads, **kw)
    with timer(t, "numpy"):
        numpy_sgd(data.x, data.y, W0.copy(), args.numpy_steps, np.random.default_rng(0))
    rate = args.steps / t["one"]
    rate_all = args.steps * threads / t["all"]
    rate_np = args.numpy_steps / t["numpy"]
    print(f"WR SGD, 7-parameter network, N = {data.N}, B = {B}:")
    print(f"  numba, 1 chain:            {rate:.3g} steps/s (target >= 1e6 per core)")
    print(f"  numba, 1 chain, WOR:       {args.steps / t['wor']:.3g} steps/s; "
          f"SGLD (WR + noise): {args.steps / t['sgld']:.3g} steps/s")
    print(f"  numba, {threads} chains on {threads} threads: {rate_all:.3g} steps/s in all, "
          f"{rate_all / threads:.3g} per thread")
    print(f"  plain NumPy loop:          {rate_np:.3g} steps/s (ratio numba / NumPy "
          f"{rate / rate_np:.0f}x)")
    print(f"  projected time of 3e7 steps on one core: {3e7 / rate:.1f} s (target <= 60 s)")


if __name__ == "__main__":
    main()

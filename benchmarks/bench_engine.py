"""Throughput of the one chain engine against a plain numba loop and against a baseline checkout.

Targets (issue "One trajectory engine"):

* ``sgd`` >= 2.5e6 WR steps/s per core on the paper's 7-parameter network (B = 10), and >= 1.2x
  a plain numba loop doing the same work (the loop below: ``np.random.randint`` partial
  Fisher-Yates draws, the tanh-network gradient inline, no records, no checks);
* MLP and softmax steps no slower than before the engine: with ``--baseline PATH`` (a checkout
  of the older fpsolve, e.g. ``git worktree add /tmp/base <commit>``) the same workloads run in a
  subprocess on that checkout, interleaved with this one, and the ratios are printed;
* (issue "Samplers beyond the paper") a user model -- the paper's network written as a numba
  per-sample gradient, :class:`~fpsolve.learning.UserModel` -- within 1.5x of the built-in
  model's step time, and the cost per epoch of midpoint SGWORLD against SGWORLD.

SDE ensembles against a plain ``prange`` loop: ``python benchmarks/bench_ensemble.py``.

Each workload runs ``--repeat`` rounds, alternating with the plain loop and the baseline, and the
fastest round of each counts (load on a shared machine only slows a run down).

    python benchmarks/bench_engine.py [--steps 3000000] [--repeat 3] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
from _common import median_seconds

W0 = np.array([1.28, 1.23, 0.70, -0.70, 0.95, -0.95, 0.0])   # near the paper's minimum
ETA, B = 1e-7, 10


def plain_numba_loop():
    """A plain numba SGD loop on the paper's network (compiled here, not cached)."""
    import numba

    @numba.njit(cache=False)
    def loop(x, y, w, eta, b, n_steps, a, lam, seed):
        np.random.seed(seed)
        n, d = x.size, w.size
        pool, g = np.arange(n), np.empty(d)
        for _ in range(n_steps):
            g[:] = 0.0
            for j in range(b):                           # partial Fisher-Yates
                r = j + np.random.randint(n - j)
                pool[j], pool[r] = pool[r], pool[j]
                i = pool[j]
                t0, t1 = math.tanh(w[0] * x[i] + w[2]), math.tanh(w[1] * x[i] + w[3])
                res = y[i] - (w[4] * t0 + w[5] * t1 + w[6])
                s0, s1 = w[4] * (1 - t0 * t0) * res, w[5] * (1 - t1 * t1) * res
                g[0] += s0 * x[i]
                g[1] += s1 * x[i]
                g[2] += s0
                g[3] += s1
                g[4] += res * t0
                g[5] += res * t1
                g[6] += res
            for q in range(d):
                w[q] -= eta * a * (-2.0 * g[q] / b + 2.0 * lam * w[q])
        return w

    return loop


def user_network():
    """The paper's network as a user model: ``l_i = a [(y_i - f_i)^2 + lam |w|^2]``."""
    import numba

    from fpsolve.learning import UserModel
    from fpsolve.learning.models._kernels import fast_tanh   # the built-in model's tanh

    a, lam = 200 / (2 * 0.1**2), 1e-3

    @numba.njit
    def per_sample(w, x, y, g):
        t0, t1 = fast_tanh(w[0] * x[0] + w[2]), fast_tanh(w[1] * x[0] + w[3])
        r = y - (w[4] * t0 + w[5] * t1 + w[6])
        s0, s1 = w[4] * (1 - t0 * t0) * r, w[5] * (1 - t1 * t1) * r
        df = (s0 * x[0], s1 * x[0], s0, s1, r * t0, r * t1, r)
        reg = 0.0
        for q in range(7):
            g[q] = a * (-2.0 * df[q] + 2.0 * lam * w[q])
            reg += w[q] * w[q]
        return a * (r * r + lam * reg)

    return UserModel(per_sample, 7)


def workloads(steps: int) -> dict:
    """name -> a zero-argument callable running one workload of this checkout's fpsolve."""
    import fpsolve.learning as fl
    from fpsolve.learning import (MLPClassifier, RegressionNetwork, SoftmaxRegression,
                                  load_digits, paper_regression, sgd)
    # before the engine the MLP had its own driver (mlp_sgd); now sgd runs every model
    run_mlp = sgd if hasattr(fl, "dynamics") else fl.mlp_sgd
    net, data = RegressionNetwork(), paper_regression()
    digits = load_digits()
    soft, mlp = SoftmaxRegression(64, 10), MLPClassifier(64, 16, 10)
    ws, wm = np.zeros(soft.n_params), mlp.initial_weights(0)
    kw = dict(batch_size=B, rng=0, record_every=1000)
    loads = {
        "sgd_wr": lambda: sgd(net, data, W0, eta=ETA, n_steps=steps, **kw),
        "sgd_wor": lambda: sgd(net, data, W0, eta=ETA, n_steps=steps, schedule="wor", **kw),
        "sgld": lambda: sgd(net, data, W0, eta=ETA, n_steps=steps, noise=1.0, **kw),
        "softmax": lambda: sgd(soft, digits, ws, eta=1e-6, n_steps=steps // 20, **kw),
        "mlp": lambda: run_mlp(mlp, digits, wm, eta=1e-6, n_steps=steps // 40, **kw),
    }
    if hasattr(fl, "UserModel"):                           # only after the engine
        user = user_network()
        loads["user_wr"] = lambda: sgd(user, data, W0, eta=ETA, n_steps=steps, **kw)
        skw = dict(batch_size=B, n_epochs=steps // 20, rng=0, warn=False, w0=W0, n_chains=1)
        loads["sgworld_epochs"] = lambda: fl.sample("sgworld", net, data, eta=ETA, **skw)
        loads["midpoint_epochs"] = lambda: fl.sample("midpoint-sgworld", net, data, eta=ETA,
                                                     **skw)
    return loads


def measure(steps: int) -> dict:
    """Steps per second of every workload, one run each (compiled beforehand)."""
    loads, rates = workloads(steps), {}
    sizes = {"softmax": steps // 20, "mlp": steps // 40, "sgworld_epochs": steps // 20,
             "midpoint_epochs": steps // 20}
    for fn in workloads(100).values():
        fn()                                               # compile or load the cache
    for name, fn in loads.items():
        seconds, _ = median_seconds(fn, 1)
        rates[name] = sizes.get(name, steps) / seconds
    return rates


def best(runs: list[dict]) -> dict:
    """The fastest of several rounds per workload (load on a shared machine only slows)."""
    return {k: max(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="checkout of an older fpsolve to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:                                         # a baseline run: print JSON only
        print(json.dumps(measure(args.steps)))
        return
    from fpsolve._numba import threads_for
    from fpsolve.learning import paper_regression
    data = paper_regression()
    loop = plain_numba_loop()
    a = data.N / (2 * 0.1**2)
    loop(data.x, data.y, W0.copy(), ETA, B, 100, a, 1e-3, 0)
    ours_runs, base_runs, plain_runs = [], [], []
    env = dict(os.environ, PYTHONPATH=args.baseline or "", NUMBA_NUM_THREADS="1")
    for _ in range(args.repeat):        # rounds alternate: the loop, this checkout, the baseline
        with threads_for(1):
            seconds, _ = median_seconds(lambda: loop(data.x, data.y, W0.copy(), ETA, B,
                                                     args.steps, a, 1e-3, 0), 1)
            plain_runs.append(seconds)
            ours_runs.append(measure(args.steps))
        if args.baseline:
            out = subprocess.run([sys.executable, __file__, "--child", "--steps",
                                  str(args.steps)], env=env, capture_output=True, text=True,
                                 check=True, cwd=os.path.dirname(os.path.abspath(__file__)))
            base_runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    plain, ours = min(plain_runs), best(ours_runs)
    base = best(base_runs) if base_runs else None
    print(f"one chain, one thread, B = {B} (paper's network unless noted), steps/s "
          "(epochs/s for the *_epochs rows, R = N / B = 20 steps):")
    print(f"  plain numba loop (WR):     {args.steps / plain:.3g}")
    for name, rate in ours.items():
        line = f"  {name:<26s} {rate:.3g}"
        if name == "sgd_wr":
            line += (f"  ({rate * plain / args.steps:.2f}x the plain loop; targets >= 2.5e6, "
                     ">= 1.2x)")
        if base and name in base:
            line += f"  baseline {base[name]:.3g} (ratio {rate / base[name]:.2f})"
        print(line)
    if "user_wr" in ours:
        print(f"  user model / built-in step time: {ours['sgd_wr'] / ours['user_wr']:.2f} "
              "(target <= 1.5)")
        print(f"  midpoint SGWORLD / SGWORLD cost per epoch: "
              f"{ours['sgworld_epochs'] / ours['midpoint_epochs']:.2f} (target: 1)")


if __name__ == "__main__":
    main()

"""Throughput of the posterior samplers and cost of their exact stationary moments.

Baselines measured in the same run: ``sgd(noise=1)`` (the SGD kernel that SGLD and SGWORLD
reduce to; the ratio should be ~1) and a plain NumPy SGLD loop.  Then the cost of
``stationary_moments``: exact SGLD (a d^2 x d^2 solve) against SGWORLD's Monte Carlo over
permutations (kernel ``epoch_maps``), per permutation and epoch step.

    python benchmarks/bench_samplers.py [--steps 1000000] [--numpy-steps 20000]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import timer

from fpsolve._numba import get_num_threads
from fpsolve.learning import LinearRegression, sgd
from fpsolve.learning.posteriors import stationary_moments
from fpsolve.learning.dynamics.samplers import sample

N, B, ETA = 1000, 10, 1e-6


def data_set(d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, d)) * rng.uniform(0.3, 2.0, size=(N, 1))
    return x, x @ rng.normal(size=d) + rng.normal(size=N)


def numpy_sgld(x, y, w, n_steps, rng):
    """Plain NumPy: B distinct indices, vectorized gradient of l_i = N/2 (y_i - x_i w)^2."""
    for _ in range(n_steps):
        i = rng.choice(N, B, replace=False)
        g = -N * ((y[i] - x[i] @ w)[:, None] * x[i]).mean(axis=0) + N * 1e-3 * w
        w = w - ETA * g + np.sqrt(2 * ETA) * rng.standard_normal(w.size)
    return w


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--numpy-steps", type=int, default=20_000)
    args = parser.parse_args()
    data, model = data_set(2), LinearRegression(2, s=1.0)
    epochs = args.steps // (N // B)
    kw = dict(eta=ETA, batch_size=B, n_chains=1, rng=0, warn=False)
    for name in ("ula", "sgld", "sgworld", "sgldcv"):                  # compile / load cache
        sample(name, model, data, n_epochs=2, **(kw | ({"batch_size": None}
                                                       if name == "ula" else {})))
    sgd(model, data, np.zeros(2), eta=ETA, batch_size=B, n_steps=10, noise=1.0)
    t: dict = {}
    with timer(t, "sgd"):
        sgd(model, data, np.zeros(2), eta=ETA, batch_size=B, n_steps=args.steps, noise=1.0,
            record_every=args.steps // 10)
    for name in ("sgld", "sgworld", "sgldcv"):
        with timer(t, name):
            sample(name, model, data, n_epochs=epochs, **kw)
    with timer(t, "ula"):                                # full gradient: N / B x the work
        sample("ula", model, data, n_epochs=args.steps // 100, **(kw | {"batch_size": None}))
    with timer(t, "numpy"):
        numpy_sgld(data[0], data[1], np.zeros(2), args.numpy_steps, np.random.default_rng(0))
    print(f"samplers, LinearRegression d = 2, N = {N}, B = {B}, one chain "
          f"({get_num_threads()} threads available)")
    base = args.steps / t["sgd"]
    print(f"  sgd(noise=1) baseline : {base:12.3e} steps/s")
    for name in ("sgld", "sgworld", "sgldcv"):
        rate = epochs * (N // B) / t[name]
        print(f"  {name:22s} : {rate:12.3e} steps/s   ratio to sgd {rate / base:5.2f}")
    print(f"  {'ula (full gradient)':22s} : {args.steps / 100 / t['ula']:12.3e} steps/s")
    rate_np = args.numpy_steps / t["numpy"]
    print(f"  numpy SGLD loop        : {rate_np:12.3e} steps/s   sgld speed-up "
          f"{epochs * (N // B) / t['sgld'] / rate_np:7.1f}x")

    data10, model10 = data_set(10), LinearRegression(10, s=1.0)
    eta = 1e-7
    stationary_moments("sgworld", model10, data10, eta=eta, batch_size=B, n_perm=64)   # compile
    with timer(t, "exact"):
        stationary_moments("sgld", model10, data10, eta=eta, batch_size=B)
    for n_perm in (512, 2048):
        with timer(t, f"mc{n_perm}"):
            stationary_moments("sgworld", model10, data10, eta=eta, batch_size=B, n_perm=n_perm)
    print(f"stationary moments, d = 10, N = {N}, B = {B} (R = {N // B})")
    print(f"  SGLD exact (100 x 100 solve)     : {t['exact']:8.3f} s")
    for n_perm in (512, 2048):
        s = t[f"mc{n_perm}"]
        print(f"  SGWORLD Monte Carlo, {n_perm:5d} perms : {s:8.3f} s   "
              f"({s / (n_perm * N // B) * 1e6:.2f} us per permutation step, jackknife included)")


if __name__ == "__main__":
    main()

"""False-alarm rate and power of ``fluctuation_test``'s verdict on exact OU NESS windows.

Samples: the 2-D OU NESS of the ft-ou case (A = [[-1, 0.8], [-0.8, -1]], D = [[1, 0.3],
[0.3, 0.5]]) sampled *exactly* at steps dt (Gaussian transition x' = M x + chol(Q) xi,
M = expm(A dt), Q = S - M S M^T) from the exact p_ss = N(0, S).  The total entropy production
of a window of ``n_steps`` steps is the log ratio of forward and time-reversed path
probabilities of this exactly sampled chain,

    dS = ln p_ss(x_0) - ln p_ss(x_n) + sum_k [ln T(x_{k+1} | x_k) - ln T(x_k | x_{k+1})],

which obeys the detailed (and integral) fluctuation theorem exactly, with no discretization
bias: every verdict failure on these samples is a false alarm.  Power: the same samples scaled
by 1.05 (a 5 % error in the entropy), which violate the DFT.  Printed per sample size N
(windows per test): the false-alarm rate at the nominal level ``alpha`` with its 95 % Wilson
interval, the power, and the same two rates of the former verdict (IFT |z| <= 3 and
|slope - 1| <= 0.05) for comparison.

    python benchmarks/bench_fluctuation_verdict.py [--seeds 1000] [--mean-ds 1 2]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import scipy.linalg as sla

from _common import A_OU, D_OU
from fpsolve.linear import stationary_covariance
from fpsolve.stochastic.fluctuation import fluctuation_test

N_SIZES = (5_000, 20_000, 100_000)


def exact_ou_windows(n_windows, n_steps, dt, seed, A=A_OU, D=D_OU):
    """``n_windows`` independent exact total entropy productions of ``n_steps``-step windows."""
    S = stationary_covariance(A, D)
    M = sla.expm(A * dt)
    Q = S - M @ S @ M.T
    Si, Qi = np.linalg.inv(S), np.linalg.inv(Q)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_windows, 2)) @ np.linalg.cholesky(S).T
    ds = -0.5 * np.einsum("ij,jk,ik->i", x, Si, x)            # ln p_ss(x_0) + const
    L = np.linalg.cholesky(Q)
    for _ in range(n_steps):
        y = x @ M.T + rng.standard_normal((n_windows, 2)) @ L.T
        fwd, bwd = y - x @ M.T, x - y @ M.T
        ds += 0.5 * (np.einsum("ij,jk,ik->i", bwd, Qi, bwd)
                     - np.einsum("ij,jk,ik->i", fwd, Qi, fwd))
        x = y
    return ds + 0.5 * np.einsum("ij,jk,ik->i", x, Si, x)      # - ln p_ss(x_n) - const


def wilson(k, n, z=1.96):
    """95 % Wilson score interval of a binomial rate ``k / n``."""
    p, den = k / n, 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def old_verdict(r) -> bool:
    """The verdict before issue 13: IFT within 3 CLT standard errors and |slope - 1| <= 0.05."""
    return abs(r.ift_z) <= 3 and abs(r.dft_slope.value - 1) <= 0.05


def run(mean_ds, seeds, alpha, n_steps=10):
    # sigma tau = <dS> of the continuous process; the sampled chain's entropy is a little lower.
    sigma = 72 / 41
    dt = mean_ds / sigma / n_steps
    fails = {n: np.zeros(4, int) for n in N_SIZES}       # new FA, new pass@1.05, old FA, old pass
    means = []
    for seed in range(seeds):
        ds = exact_ou_windows(max(N_SIZES), n_steps, dt, seed)
        means.append(ds.mean())
        for n in N_SIZES:
            r = fluctuation_test(ds[:n], n_bootstrap=0, alpha=alpha)
            w = fluctuation_test(1.05 * ds[:n], n_bootstrap=0, alpha=alpha)
            fails[n] += [not r.verdict, bool(w.verdict), not old_verdict(r), old_verdict(w)]
    return float(np.mean(means)), fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--mean-ds", type=float, nargs="+", default=[1.0, 2.0])
    args = ap.parse_args()
    for target in args.mean_ds:
        t0 = time.perf_counter()
        mean, fails = run(target, args.seeds, args.alpha)
        print(f"window <dS> = {mean:.3f} (target {target}), {args.seeds} seeds, alpha = "
              f"{args.alpha}, {time.perf_counter() - t0:.0f} s")
        for n, (fa, miss, old_fa, old_miss) in fails.items():
            lo, hi = wilson(fa, args.seeds)
            print(f"  N = {n:>6}: false alarms {fa / args.seeds:.2%} [95 % CI {lo:.2%}, {hi:.2%}]"
                  f"  power vs 1.05 dS {1 - miss / args.seeds:.2%}   |  former verdict: false "
                  f"alarms {old_fa / args.seeds:.2%}, power {1 - old_miss / args.seeds:.2%}")


if __name__ == "__main__":
    main()

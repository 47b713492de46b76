"""Scope of SGWORLD and of the midpoint SGWORLD: covariance error vs eta from exact moments.

Three Bayesian linear regressions, ``LinearRegression(d, s=1, lam=1e-3)``, ``N = 1000``:

* ``1-D heterogeneous``: ``x_i = s_i z_i``, ``s_i ~ U(0.3, 2)``, ``z_i ~ N(0, 1)`` (the inputs of
  the ``sgworld-posterior`` validation case with ``d = 1``);
* ``2-D correlated``: log-normal input scales ``s_i = exp(0.5 e_i)`` times correlated normals
  (covariance eigenvalues 1 and 1/110 on axes rotated by pi/5): condition number of ``H`` ~ 120;
* ``10-D heteroscedastic``: log-normal scales ``exp(0.75 e_i)`` times normals with covariance
  eigenvalues geometric from 1 to 1/30 on random axes.

For ULA, SGLD, SGLDCV, SGWORLD, SGWORLD with Leimkuhler-Matthews noise (``lm``), palindromic
SGWORLD (``pal``) and SGWORLD with midpoint steps (``mp``, palindromic ``mp-pal``;
:mod:`fpsolve.learning.theory.sampler_schemes`) the exact stationary moments (closed form / linear
solve / permutation Monte Carlo with control variates) give the relative covariance error at
``R eta lambda_max`` in ``[1e-3, 0.1]`` (fitted log-log slopes) and the largest ``eta`` with
KL <= 1e-4 on ``R eta lambda_max`` in ``[1e-3, 10]``.  Ratios are within this run.

    python benchmarks/bench_sampler_scope.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from fpsolve.errors import FpsolveError
from fpsolve.learning.posteriors import (
    first_order_bias,
    gaussian_posterior,
    linearize,
    moment_errors,
    stationary_moments,
)

N, KL_LEVEL, SMALL = 1000, 1e-4, 0.1
SAMPLERS = {"ULA": ("ula", None), "SGLD": ("sgld", None), "SGLDCV": ("sgldcv", None),
            "SGWORLD": ("sgworld", None), "lm": ("sgworld", {"noise": "lm"}),
            "pal": ("sgworld", {"schedule": "wor-palindromic"}),
            "mp": ("sgworld", {"step": "midpoint"}),
            "mp-pal": ("sgworld", {"step": "midpoint", "schedule": "wor-palindromic"})}
def _scope_module():
    """The designs live with the validation case that checks them
    (validation/sgworld-posterior/scope.py): one definition for the case and this benchmark."""
    path = Path(__file__).resolve().parents[1] / "validation" / "sgworld-posterior" / "scope.py"
    spec = importlib.util.spec_from_file_location("sgworld_scope", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCOPE = _scope_module()
CONFIGS, design = _SCOPE.CONFIGS, _SCOPE.design


def errors(label, model, data, post, eta, B, n_perm):
    name, rule = SAMPLERS[label]
    try:
        mo = stationary_moments(name, model, data, eta=eta, batch_size=B, rule=rule,
                                n_perm=n_perm, rng=1)
    except FpsolveError:                 # second moments diverge at this eta
        return None
    return moment_errors(mo, post)


def slope(r, y):
    return float(np.polyfit(np.log(r), np.log(y), 1)[0])


def kl_eta(r, kl):
    """Largest ``R eta lambda`` before KL first exceeds the level (log-log interpolation)."""
    for i, v in enumerate(kl):
        if v is None or not v <= KL_LEVEL:      # NaN: moments of an unstable estimate
            if i == 0:
                return 0.0
            if v is None or not np.isfinite(v):
                return float(r[i - 1])
            t = np.log(KL_LEVEL / kl[i - 1]) / np.log(v / kl[i - 1])
            return float(np.exp(np.log(r[i - 1]) + t * np.log(r[i] / r[i - 1])))
    return float(r[-1])


def describe(data, model, B, post) -> str:
    lam = np.linalg.eigvalsh(post.precision)
    h = linearize("sgworld", model, data).h
    tr = np.trace(h, axis1=1, axis2=2)
    x = {n: np.linalg.norm(first_order_bias(n, model, data, batch_size=B)[1])
         for n in ("ula", "sgworld", "sgld")}
    return (f"cond(H) = {lam[-1] / lam[0]:.0f}, CV of tr h_i = {tr.std() / tr.mean():.2f}, "
            f"first order |X|_F: SGWORLD/ULA = {x['sgworld'] / x['ula']:.3g}, "
            f"SGLD/SGWORLD = {x['sgld'] / x['sgworld']:.3g}")


def config(name, B, quick):
    data, model = design(name)
    post = gaussian_posterior(model, data)
    lam, R = np.linalg.eigvalsh(post.precision)[-1], N // B
    d = model.n_params
    # the Monte Carlo error of E[Phi (x) Phi] is O(eta^3) after the control variates, an
    # O(eta^2) relative error of the covariance -- the order of the midpoint's bias: cheap
    # low-dimensional maps get many permutations
    # (KL ~ 1e-4 is reached where the bias is ~ 1e-2: 512 permutations suffice there)
    n_perm = {1: 16384, 2: 8192}.get(d, 1024) // (8 if quick else 1)
    r_small = np.logspace(-3, -1, 3 if quick else 5)
    r_kl = np.logspace(-3, 1, 9 if quick else 17)
    print(f"\n{name}, d = {d}, B = {B}, R = {R}: {describe(data, model, B, post)}")
    print(f"  {'sampler':8s} {'cov err @ R eta lam = 1e-3':>27s} {'@ 0.1':>19s} {'slope':>6s}"
          f" {'/ULA max':>9s} {'SGWORLD/ min':>12s} {'R eta lam(KL=1e-4)':>19s}")
    res = {}
    for label in SAMPLERS:
        small = [errors(label, model, data, post, r / (R * lam), B, n_perm) for r in r_small]
        kl = [errors(label, model, data, post, r / (R * lam), B, 512) for r in r_kl]
        res[label] = (np.array([e["rel_cov_error"] for e in small]),
                      np.array([e["rel_cov_error_se"] for e in small]),
                      kl_eta(r_kl, [None if e is None else e["kl"] for e in kl]))
    for label, (c, se, rk) in res.items():
        print(f"  {label:8s} {c[0]:13.3e} +- {se[0]:8.1e} {c[-1]:10.3e} +- {se[-1]:6.1e} "
              f"{slope(r_small, c):6.2f} {(c / res['ULA'][0]).max():9.3g} "
              f"{(res['SGWORLD'][0] / c).min():12.3g} {rk:12.3g} ({rk / res['SGLD'][2]:.3g}x"
              f" SGLD)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    t = time.perf_counter()
    print(f"exact stationary moments, N = {N}; covariance error = |P - H^-1|_F / |H^-1|_F; "
          f"'/ULA max' and 'SGWORLD/ min' over R eta lambda_max in [1e-3, {SMALL}]")
    with np.errstate(all="ignore"):          # KL of non-positive estimates at R eta lam ~ 10
        for name, B in CONFIGS:
            config(name, B, args.quick)
    print(f"\n{time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()

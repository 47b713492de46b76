"""Error report (fpsolve.estimate_error): estimate / true L1 error on problems with exact answers,
and the cost of the report relative to the plain stationary solve, measured in the same run.

    python benchmarks/bench_error_report.py [--table] [--cost 200 1024] [--scheme fitted]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import fpsolve as fp
from fpsolve.errors import AccuracyWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "convergence"))
from accuracy_cases import (NonlinearNESS, double_well_1d, fast_rotation,  # noqa: E402
                            high_peclet, ou_ness, position_dependent, tilted_ring)

TABLE = [(ou_ness, (64, 64)), (ou_ness, (200, 200)), (ou_ness, (24, 24)),
         (high_peclet, (200, 200)), (high_peclet, (400, 400)), (high_peclet, (64, 64)),
         (fast_rotation, (200, 200)), (tilted_ring, (64,)), (tilted_ring, (16,)),
         (position_dependent, (100,)), (lambda: position_dependent("ito"), (20,)),
         (double_well_1d, (200,)), (double_well_1d, (24,)),
         (lambda: double_well_1d(12.0), (40,)), (NonlinearNESS, (64, 64)),
         (NonlinearNESS, (200, 200)), (NonlinearNESS, (24, 24))]


def report(op):
    """(result, report, solve seconds, report seconds, warned)."""
    t0 = time.perf_counter()
    res = fp.solve_stationary(op, error=False)
    t1 = time.perf_counter()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        rep = fp.estimate_error(res.operator, res.p)
    t2 = time.perf_counter()
    warned = any(issubclass(w.category, AccuracyWarning) for w in rec)
    return res, rep, t1 - t0, t2 - t1, warned


def table(scheme: str) -> None:
    print(f"| problem | grid | true L1 | estimate | ratio | order | Peclet | warns |  ({scheme})")
    for make, shape in TABLE:
        case = make()
        res, rep, *_, warned = report(case.operator(shape, scheme=scheme))
        true = case.density_error(res.grid, res.p)
        print(f"| {case.name} | {'x'.join(map(str, shape))} | {true:.2e} | {rep.density_l1:.2e} "
              f"| {rep.density_l1 / true:.2f} | {rep.orders['density']:.2f} | {rep.peclet:.1f} "
              f"| {'yes' if warned else 'no'} |")


def cost(n: int, scheme: str) -> None:
    op = ou_ness().operator((n, n), scheme=scheme)
    fp.solve_stationary(ou_ness().operator((16, 16)))            # warm up the kernels
    res, rep, t_solve, t_report, _ = report(op)
    print(f"OU NESS {n}^2 ({scheme}, {res.method}): solve {t_solve:.2f} s, error report "
          f"{t_report:.2f} s, ratio {t_report / t_solve:.2f} (grids {rep.shapes})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--cost", type=int, nargs="*", default=[])
    parser.add_argument("--scheme", default="fitted")
    args = parser.parse_args()
    if args.table:
        table(args.scheme)
    for n in args.cost:
        cost(n, args.scheme)


if __name__ == "__main__":
    main()

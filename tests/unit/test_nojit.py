"""The package runs with NUMBA_DISABLE_JIT=1 (DESIGN.md section 4, rule 4).

A fresh interpreter with the JIT disabled builds a small 2-D operator with full D, solves the
stationary state and computes current and entropy production; the numbers must equal those of the
compiled kernels in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import json, numpy as np, fpsolve as fp
grid = fp.CartesianGrid([(-4, 4), (-4, 4)], (12, 10), boundary=["periodic", "reflecting"])
model = fp.FokkerPlanckModel(lambda x: np.stack([1 - np.sin(x[0]) - 0.2 * x[1], -x[1]]),
                             [[1.0, 0.3], [0.3, 0.5]])
res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, model))
cur = fp.probability_current(res)
print(json.dumps({"p": res.p.ravel().tolist(), "J": cur.cells.ravel().tolist(),
                  "epr": fp.entropy_production_rate(res)}))
"""


def run(disable_jit: bool) -> dict:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1" if disable_jit else "0")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pure_python_kernels_give_the_same_answer():
    jit, plain = run(False), run(True)
    # Same arithmetic in compiled and interpreted form; parallel reductions may reorder sums, so
    # allow a few hundred ulps of the O(1) values.
    for key in ("p", "J"):
        np.testing.assert_allclose(plain[key], jit[key], rtol=1e-12, atol=1e-13)
    assert abs(plain["epr"] - jit["epr"]) <= 1e-12 * max(1.0, abs(jit["epr"]))
    assert jit["epr"] > 0.01  # the periodic tilt drives a current: a nonequilibrium state

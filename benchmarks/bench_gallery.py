"""Run time of the teaching gallery: every ``examples/plot_*.py`` in its own process (Agg
backend), seconds per script and in total.  Target (issue "Documentation site, teaching
gallery"): each script < 20 s and the whole gallery < 3 min on 2 cores.  Timings belong here,
not in the tests (tests/examples/ checks what each script teaches).

    python benchmarks/bench_gallery.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    env = dict(os.environ, MPLBACKEND="Agg")
    times = {}
    for script in sorted(EXAMPLES.glob("plot_*.py")):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(script)], cwd=EXAMPLES, env=env, check=True,
                       capture_output=True)
        times[script.stem] = time.perf_counter() - t0
        print(f"{script.stem:32s} {times[script.stem]:6.1f} s (target < 20 s)", flush=True)
    print(f"total {sum(times.values()):.1f} s for {len(times)} examples (target < 180 s)")


if __name__ == "__main__":
    main()

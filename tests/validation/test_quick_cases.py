"""Every registered validation case passes its checks in quick mode (as `fpsolve reproduce
--quick` runs it), within its declared quick budget times a safety factor for slow machines.

Cases whose declared quick budget exceeds ``DEFAULT_BUDGET_S`` run only with ``--run-slow``, so
that the default test run stays well under ten minutes on two cores; `fpsolve reproduce --quick`
runs all of them.
"""

from __future__ import annotations

import pytest

from fpsolve.validation_registry import discover_cases, run_case

CASES = list(discover_cases().values())
DEFAULT_BUDGET_S = 30


def _param(case):
    marks = [pytest.mark.slow] if case.budget(True) > DEFAULT_BUDGET_S else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_quick_case_passes(case, tmp_path):
    entry = run_case(case, quick=True, outdir=tmp_path)
    assert entry["error"] is None, entry["error"]
    failed = {k: v for k, v in entry["checks"].items() if not v["passed"]}
    assert not failed, f"failed checks: {failed}"
    assert entry["figures"], "the case wrote no figure"
    # The quick budget is declared for 2 cores; a factor 3 absorbs a loaded CI machine.
    assert entry["seconds"] <= 3 * case.budget(True), f"{entry['seconds']:.1f} s"


def test_core_cases_are_registered():
    names = [c.name for c in CASES]
    for name in ("ou-ness", "ft-ou", "ft-nonlinear", "mfpt"):
        assert name in names

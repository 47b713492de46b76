"""Every registered validation case passes its checks in quick mode (as `fpsolve reproduce
--quick` runs it), within its declared quick budget times a safety factor for slow machines."""

from __future__ import annotations

import pytest

from fpsolve.validation_registry import discover_cases, run_case

CASES = list(discover_cases().values())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_quick_case_passes(case, tmp_path):
    entry = run_case(case, quick=True, outdir=tmp_path)
    assert entry["error"] is None, entry["error"]
    failed = {k: v for k, v in entry["checks"].items() if not v["passed"]}
    assert not failed, f"failed checks: {failed}"
    assert entry["figures"], "the case wrote no figure"
    # The quick budget is declared for 2 cores; a factor 3 absorbs a loaded CI machine.
    assert entry["seconds"] <= 3 * case.budget(True), f"{entry['seconds']:.1f} s"


def test_ou_ness_is_registered():
    assert "ou-ness" in [c.name for c in CASES]

"""Shared pytest configuration: the ``--run-slow`` switch and the hypothesis profiles.

Tests marked ``@pytest.mark.slow`` are skipped unless ``--run-slow`` is given, so the default run
stays well under the 10-minute budget of DESIGN.md section 6.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=<name>``):

* ``small`` (default): few examples, no deadline -- numba compilation and sparse solves make
  per-example timings meaningless, and the default run must stay fast.
* ``thorough``: many more examples, for occasional local hunts.
"""

from __future__ import annotations

import os

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    settings = None

if settings is not None:
    settings.register_profile("small", max_examples=20, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("thorough", max_examples=400, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "small"))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked 'slow' (long convergence studies)")


def pytest_configure(config):
    # Also declared in pyproject.toml; repeated so that the marker is known when pytest is run
    # with another configuration file.
    config.addinivalue_line("markers", "slow: long-running tests, enabled with --run-slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: enable with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)

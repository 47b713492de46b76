"""Training sets: the paper's regression data (generated and published) and the container."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fpsolve.errors import FpsolveError
from fpsolve.learning import Dataset, RegressionNetwork, load_regression, paper_regression

REFERENCE = Path(__file__).parents[2].parent / "shared" / "reference" / "regression-paper-data"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(),
                                     reason=f"reference data not found at {REFERENCE}")


def test_paper_regression_recipe():
    x, y = paper_regression(0)
    assert x.shape == y.shape == (200,)
    assert np.array_equal(x, np.round(np.arange(-3.0, 3.0 - 1e-9, 0.03), 2))
    noise = y - np.exp(-x**2)
    # 200 standard-normal draws scaled by 0.1: the sample std has relative standard error
    # 1/sqrt(2 * 199) = 5 %; +-25 % is 5 standard errors (false-failure rate < 1e-6; seeded)
    assert 0.075 < noise.std(ddof=1) < 0.125
    # the mean of 200 draws has standard error 0.1/sqrt(200) = 0.007; 5 SE
    assert abs(noise.mean()) < 0.035


def test_paper_regression_seeded():
    assert np.array_equal(paper_regression(5).y, paper_regression(5).y)
    assert not np.array_equal(paper_regression(5).y, paper_regression(6).y)


def test_dataset_container():
    data = Dataset([[0.0, 1.0], [2.0, 3.0]], [1, 0])
    assert data.N == len(data) == 2 and data.x.shape == (2, 2) and data.y.dtype == np.int64
    x, y = data
    assert x is data.x and y is data.y
    with pytest.raises(ValueError):
        data.x[0, 0] = 5.0                            # read-only copies


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((2, 2, 2)), np.zeros(2), "x:"),
    (np.zeros(0), np.zeros(0), "x:"),
    (np.zeros(3), np.zeros(4), "y:"),
    (np.zeros(3), np.zeros((3, 1)), "y:"),
    (np.zeros(3), np.array(["a", "b", "c"]), "y:"),
    ([0.0, np.nan], [0.0, 1.0], "x:"),
    ([0.0, 1.0], [0.0, np.inf], "y:"),
])
def test_dataset_bad_input(x, y, message):
    with pytest.raises(FpsolveError, match=message):
        Dataset(x, y)


def test_load_regression_roundtrip(tmp_path):
    x, y = paper_regression(2)
    np.savetxt(tmp_path / "x.txt", x, fmt="%.17g")
    np.savetxt(tmp_path / "y.txt", y, fmt="%.17g")
    data = load_regression(tmp_path / "x.txt", tmp_path / "y.txt")
    assert np.array_equal(data.x, x) and np.array_equal(data.y, y)   # %.17g round-trips


def test_load_regression_bad_files(tmp_path):
    (tmp_path / "x.txt").write_text("0\n1\n2\n")
    (tmp_path / "y.txt").write_text("0\n1\n")
    (tmp_path / "bad.txt").write_text("zero\none\n")
    with pytest.raises(FpsolveError, match="x_path"):
        load_regression(tmp_path / "missing.txt", tmp_path / "y.txt")
    with pytest.raises(FpsolveError, match="y_path"):
        load_regression(tmp_path / "x.txt", tmp_path / "y.txt")
    with pytest.raises(FpsolveError, match="y_path"):
        load_regression(tmp_path / "x.txt", tmp_path / "bad.txt")


@needs_reference
def test_reference_data_follow_the_recipe():
    data = load_regression(REFERENCE / "x_train.txt", REFERENCE / "y_train.txt")
    assert data.N == 200
    # the published inputs are the decimal grid -3.00, -2.97, ..., 2.97 (printed to ~16 digits)
    assert np.allclose(data.x, paper_regression().x, rtol=0, atol=1e-12)
    noise = data.y - np.exp(-data.x**2)
    assert 0.075 < noise.std(ddof=1) < 0.125           # 5 SE, as in test_paper_regression_recipe


@needs_reference
def test_reference_minimum_is_critical_point_of_our_loss():
    """wmin.txt is a critical point of L with the paper's normalization and parameter order."""
    data = load_regression(REFERENCE / "x_train.txt", REFERENCE / "y_train.txt")
    w = np.loadtxt(REFERENCE / "wmin.txt")
    net = RegressionNetwork(2, s=0.1, lam=1e-3)
    typical = np.median(np.linalg.norm(net.per_sample_gradients(w, data), axis=1))
    # observed |grad L| / typical |grad l_i| ~ 1e-16 (wmin is given to 16 digits); a wrong
    # order, scale or ridge term gives O(1e-2) or more.  1e-10 bounds round-off (eps x N terms
    # of size typical) with margin.
    assert np.linalg.norm(net.gradient(w, data)) < 1e-10 * typical
    assert np.linalg.eigvalsh(net.hessian(w, data)).min() > 0        # a minimum


def test_paper_regression_takes_rng_and_the_deprecated_seed():
    gen = paper_regression(np.random.default_rng(4))
    assert np.array_equal(gen.y, paper_regression(4).y)
    with pytest.warns(DeprecationWarning, match="seed"):
        assert np.array_equal(paper_regression(seed=4).y, gen.y)

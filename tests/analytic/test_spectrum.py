"""Relaxation spectra against the exact Ornstein-Uhlenbeck spectrum."""

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.errors import SolverError
from fpsolve.solvers import spectrum as spectrum_module
from fpsolve.solvers.spectrum import relaxation_spectrum

A_ROT = np.array([[-1.0, 0.8], [-0.8, -1.0]])


def _ou_1d(n, k=1.3, D=0.7):
    # Stationary std sqrt(D / k) ~ 0.73: the box [-8, 8] truncates at 11 standard deviations.
    grid = fp.CartesianGrid([(-8, 8)], (n,))
    return fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -k * x, D))


def _ou_2d(n):
    # a = A x with D = I: stationary covariance I (A + A^T = -2 I), box [-6, 6]^2.
    grid = fp.CartesianGrid([(-6, 6), (-6, 6)], (n, n))
    model = fp.FokkerPlanckModel(lambda x: np.einsum("ij,j...->i...", A_ROT, x), 1.0)
    return fp.FokkerPlanckOperator(grid, model)


def test_ou_1d_eigenvalues_converge_at_second_order():
    # Exact spectrum of a = -k x: -n k, n = 0, 1, 2, ... (Hermite modes).
    k = 1.3
    exact = -k * np.arange(6)
    errs = []
    for n in (100, 200, 400):  # the first is diagonalized densely, the others by ARPACK
        spec = relaxation_spectrum(_ou_1d(n, k), k=6)
        # The stationary eigenvalue is zero to round-off (columns of G sum to 0): measured 5e-14.
        assert abs(spec.eigenvalues[0]) < 1e-10
        errs.append(np.abs(spec.eigenvalues[1:] - exact[1:]))
        np.testing.assert_allclose(spec.rates, -spec.eigenvalues.real)
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    # Second order: each halving of h divides the error by 4 (measured 3.96..4.00 for n = 1..5);
    # 3.7..4.3 leaves room for the O(h^4) term at the coarsest grid.
    assert np.all((ratios > 3.7) & (ratios < 4.3)), f"error ratios {ratios}"
    # Error constant: measured |err_n| = 0.20 n (n + 1) h^2 at every grid; bound 0.3.
    n_mode, h = np.arange(1, 6), 16 / 400
    assert np.all(errs[-1] < 0.3 * n_mode * (n_mode + 1) * h**2)


def test_ou_2d_rotational_drift_gives_complex_pair():
    # OU spectrum = {n1 l1 + n2 l2} with l = -1 +- 0.8 i the eigenvalues of A: the slowest
    # nonzero eigenvalues are the complex pair itself, then -2 (n1 = n2 = 1).
    expected = np.array([0, -1 + 0.8j, -1 - 0.8j, -2])
    errs = []
    for n in (32, 64):
        spec = relaxation_spectrum(_ou_2d(n), k=4)
        errs.append(np.abs(spec.eigenvalues - expected))
        assert spec.eigenvalues[1].imag > 0  # conjugate pairs: positive imaginary part first
    # Zero mode to round-off; the others second order in h.
    assert errs[1][0] < 1e-10
    ratios = errs[0][1:] / errs[1][1:]
    # Measured ratios 3.90..3.93 (the coarse grid has only 2.7 cells per stationary std);
    # 3.5..4.4 still tells order 2 from 1 (ratio 2) and 3 (ratio 8).
    assert np.all((ratios > 3.5) & (ratios < 4.4)), f"error ratios {ratios}"
    # Error constants at n = 64 (h = 0.1875): measured 0.21 h^2 for the pair, 0.60 h^2 for -2;
    # bounds with 1.5x margin.
    h = 12 / 64
    assert np.all(errs[1][1:] < np.array([0.32, 0.32, 0.9]) * h**2)


def test_stationary_mode_is_the_stationary_density():
    op = _ou_1d(400)
    spec = relaxation_spectrum(op, k=3, return_modes=True)
    assert spec.modes.shape == (3, 400)
    p = fp.solve_stationary(op).p
    # Both are the null vector of G normalized to unit mass: ARPACK's relative residual
    # (~1e-11) bounds the difference.
    np.testing.assert_allclose(spec.modes[0].real, p, atol=1e-8 * p.max())
    # Mode 1 of OU is x p_s(x) (first Hermite polynomial), up to normalization.
    x = op.grid.axis_centers(0)
    mode = spec.modes[1].real
    cos = abs(mode @ (x * p)) / (np.linalg.norm(mode) * np.linalg.norm(x * p))
    # Discretization error O(h^2) ~ 1e-3 in the shape; the cosine is 1 - O(h^4).
    assert cos > 1 - 1e-4


def test_dense_and_arpack_agree(monkeypatch):
    op = _ou_2d(8)
    dense = relaxation_spectrum(op, k=5)
    monkeypatch.setattr(spectrum_module, "DENSE_LIMIT", 10)
    sparse = relaxation_spectrum(op, k=5)
    assert (dense.extra["solver"], sparse.extra["solver"]) == ("dense", "arpack")
    # Same discrete operator: the difference is solver round-off, ARPACK residual ~1e-11.
    np.testing.assert_allclose(sparse.eigenvalues, dense.eigenvalues, atol=1e-8)


def test_absorbing_spectrum_has_no_zero_mode():
    grid = fp.CartesianGrid([(0, 1)], (200,), boundary="absorbing")
    op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: 0 * x, 1.0))
    spec = relaxation_spectrum(op, k=3)
    # Dirichlet Laplacian: rates (n pi)^2, n = 1, 2, 3; second-order error ~ (n pi)^4 h^2 / 8.
    np.testing.assert_allclose(spec.rates, (np.pi * np.arange(1, 4)) ** 2, rtol=2e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0), r"k: expected an integer in \[1, 50\]"),
    (dict(k=51), r"k: expected an integer in \[1, 50\]"),
    (dict(k=2.5), "k: expected an integer"),
    (dict(sigma=0.0), "sigma: expected a finite real shift < 0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(SolverError, match=match):
        relaxation_spectrum(_ou_1d(50), **kwargs)

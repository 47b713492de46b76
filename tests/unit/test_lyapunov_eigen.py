"""Eigenbasis Lyapunov/Stein solvers (fpsolve.linear.symmetric) against SciPy's Bartels-Stewart
and fpsolve.linear's general solvers on random stable symmetric problems."""

import numpy as np
import pytest
import scipy.linalg as sla

from fpsolve.errors import DiffusionError, ModelError
from fpsolve.linear import (diagonal_chain_entropy_production, diagonal_lyapunov, diagonal_stein,
                            discrete_stationary_covariance, symmetric_chain_entropy_production,
                            orthogonal_complement, stationary_covariance,
                            symmetric_discrete_stationary_covariance,
                            symmetric_stationary_covariance)

EPS = np.finfo(float).eps


def _problem(d, seed, spread=100.0):
    """Symmetric negative definite ``A`` with eigenvalues in ``[-spread, -1]`` (condition number
    ``spread``, as for a Hessian) and an SPD ``D``, both with random eigenvectors."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    A = -(Q * np.geomspace(1.0, spread, d)) @ Q.T
    B = rng.normal(size=(d, d))
    return 0.5 * (A + A.T), B @ B.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("d, seed", [(1, 0), (7, 1), (60, 2), (200, 3)])
def test_continuous_matches_bartels_stewart(d, seed):
    A, D = _problem(d, seed)
    S = symmetric_stationary_covariance(A, D)
    ref = sla.solve_continuous_lyapunov(A, -2.0 * D)
    # both backward stable: forward error ~ kappa(A) * d * eps * |S|; kappa(A) = 100 here and
    # a factor 100 of slack for the constants (measured: ~1e-14 relative at d = 200)
    tol = 100 * 100 * max(d, 10) * EPS * np.abs(ref).max()
    assert np.abs(S - ref).max() < tol
    assert np.abs(S - stationary_covariance(A, D)).max() < tol
    # residual of the equation itself: round-off of the products, d * eps * |A| |S|
    assert np.abs(A @ S + S @ A + 2 * D).max() < 10 * d * EPS * np.abs(A).max() * np.abs(S).max()
    assert np.array_equal(S, S.T)


@pytest.mark.parametrize("d, seed", [(1, 4), (9, 5), (80, 6)])
def test_discrete_matches_stein_solver(d, seed):
    A, Q = _problem(d, seed, spread=50.0)
    eta = 1.5 / 50.0                      # eta * lambda in [0.03, 1.5]: mu of both signs
    M = np.eye(d) + eta * A
    S = symmetric_discrete_stationary_covariance(M, Q)
    ref = discrete_stationary_covariance(M, Q)
    # 1 / (1 - max |mu|) ~ 33 amplifies the relative round-off of both solves
    assert np.abs(S - ref).max() < 1e3 * d * EPS * np.abs(ref).max()
    assert np.abs(M @ S @ M + Q - S).max() < 10 * d * EPS * np.abs(S).max()


def test_diagonal_forms_are_the_entrywise_formulas():
    k, mu = np.array([1.0, 2.0, 5.0]), np.array([0.9, -0.5, 0.0])
    D = np.array([[1.0, 0.2, -0.1], [0.2, 2.0, 0.3], [-0.1, 0.3, 1.5]])
    S = diagonal_lyapunov(k, D)
    # one product and one division per entry: 2 ulps
    assert np.allclose(np.diag(k) @ S + S @ np.diag(k), 2 * D, rtol=4 * EPS, atol=0)
    T = diagonal_stein(mu, D)
    assert np.allclose(np.diag(mu) @ T @ np.diag(mu) + D, T, rtol=8 * EPS, atol=8 * EPS)


def test_orthogonal_complement():
    Z = np.linalg.qr(np.random.default_rng(7).normal(size=(6, 2)))[0]
    P = orthogonal_complement(Z)
    assert P.shape == (6, 4)
    # SVD columns: orthonormal to a few ulps per entry
    assert np.abs(P.T @ P - np.eye(4)).max() < 20 * EPS and np.abs(P.T @ Z).max() < 20 * EPS
    assert np.array_equal(orthogonal_complement(np.zeros((3, 0))), np.eye(3))


GOOD = np.eye(2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: symmetric_stationary_covariance([[-1, 0.5], [0, -1]], GOOD), ModelError,
     "A: .*symmetric"),
    (lambda: symmetric_stationary_covariance([[1, 0], [0, -1]], GOOD), ModelError,
     "A: .*negative definite"),
    (lambda: symmetric_stationary_covariance(-GOOD, np.eye(3)), DiffusionError, "D: "),
    (lambda: symmetric_discrete_stationary_covariance(-1.0 * GOOD, GOOD), ModelError,
     "M: .*stable"),
    (lambda: symmetric_discrete_stationary_covariance(0.5 * GOOD, [[1, 2], [0, 1]]),
     DiffusionError, "Q: .*symmetric"),
    (lambda: diagonal_lyapunov([1.0, 0.0], GOOD), ModelError, "k: .*positive"),
    (lambda: diagonal_stein([0.5, 1.0], GOOD), ModelError, "mu: .*modulus"),
    (lambda: orthogonal_complement(np.ones((2, 1))), ModelError, "Z: .*orthonormal"),
])
def test_bad_inputs_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_chain_entropy_production_diagonal_equals_general_and_vanishes_at_balance():
    A, Q = _problem(12, 8, spread=20.0)
    M = np.eye(12) + 0.05 * A                    # eta lambda in [0.05, 1]
    S = symmetric_discrete_stationary_covariance(M, Q)
    ep = symmetric_chain_entropy_production(M, Q, S)
    mu, V = np.linalg.eigh(M)
    diag = diagonal_chain_entropy_production(mu, V.T @ Q @ V, V.T @ S @ V)
    # the same trace in two bases: round-off of O(d^3) products on O(1/(1 - mu)) entries
    assert ep > 0 and abs(diag - ep) < 1e4 * EPS * 12
    # Q commuting with M: detailed balance, zero up to round-off of tr(Q^-1 R) ~ d
    Qc = (V * np.linspace(1.0, 2.0, 12)) @ V.T
    Sc = symmetric_discrete_stationary_covariance(M, Qc)
    assert abs(symmetric_chain_entropy_production(M, Qc, Sc)) < 1e3 * EPS * 12

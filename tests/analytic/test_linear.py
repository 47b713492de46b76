"""Gaussian theory (fpsolve.linear) against closed forms, independent solves and series."""

import numpy as np
import pytest

from fpsolve.errors import DiffusionError, ModelError
from fpsolve.linear import (circulation, current_matrix, discrete_entropy_production,
                            discrete_stationary_covariance, entropy_production_rate,
                            stationary_covariance)

EPS = np.finfo(float).eps
A_ROT = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D_ROT = np.array([[1.0, 0.3], [0.3, 0.5]])


def _random_problem(d, seed):
    """A stable, non-normal drift matrix and an SPD diffusion matrix, both O(1)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) / np.sqrt(d) - 1.5 * np.eye(d)  # circular law: Re(eig) < -0.5
    B = rng.normal(size=(d, d))
    return A, B @ B.T / d + 0.5 * np.eye(d)


def test_one_dimensional_ou_variance_is_d_over_rate():
    S = stationary_covariance([[-3.0]], [[0.6]])
    # closed form D / |A|; a 1x1 Lyapunov solve is one division: a few ulps
    assert S[0, 0] == pytest.approx(0.2, rel=4 * EPS)
    assert entropy_production_rate(-3.0, 0.6) < 1e-30  # exact zero up to round-off squared
    assert abs(current_matrix(-3.0, 0.6)[0, 0]) < 10 * EPS * 3.0  # round-off of A + D / S


@pytest.mark.parametrize("d", [2, 7, 60])
def test_lyapunov_residual_and_spd(d):
    A, D = _random_problem(d, seed=d)
    S = stationary_covariance(A, D)
    residual = np.abs(A @ S + S @ A.T + 2 * D).max()
    # Bartels-Stewart is backward stable: residual ~ d eps |A| |S| (100 covers the constant)
    assert residual < 100 * d * EPS * np.abs(A).max() * np.abs(S).max()
    assert np.array_equal(S, S.T)
    assert np.linalg.eigvalsh(S).min() > 0


def test_rotational_ou_covariance_matches_kronecker_solve():
    S = stationary_covariance(A_ROT, D_ROT)
    # independent solve of (I x A + A x I) vec(S) = -2 vec(D)
    K = np.kron(np.eye(2), A_ROT) + np.kron(A_ROT, np.eye(2))
    S_ref = np.linalg.solve(K, -2 * D_ROT.ravel(order="F")).reshape(2, 2, order="F")
    np.testing.assert_allclose(S, S_ref, rtol=1e-13)  # both O(1)-conditioned 2x2/4x4 solves


@pytest.mark.parametrize("d", [2, 30])
def test_epr_equals_alternative_trace_forms(d):
    A, D = _random_problem(d, seed=100 + d)
    S = stationary_covariance(A, D)
    Om = current_matrix(A, D)
    direct = np.trace(Om.T @ np.linalg.solve(D, Om) @ S)
    lyapunov_form = np.trace(A.T @ np.linalg.solve(D, A) @ S) + np.trace(A)
    epr = entropy_production_rate(A, D)
    assert epr > 0
    # three routes through O(1)-conditioned matrices: agreement to ~d eps relative
    assert epr == pytest.approx(direct, rel=1e-12)
    assert epr == pytest.approx(lyapunov_form, rel=1e-11)  # tr(A) cancellation costs a digit


def test_stationary_current_is_divergence_free():
    A, D = _random_problem(5, seed=3)
    S = stationary_covariance(A, D)
    W = current_matrix(A, D) @ S
    # Omega S antisymmetric and tr(Omega) = 0 <=> div(Omega x p) = 0; round-off of A S + D
    np.testing.assert_allclose(W + W.T, 0.0, atol=1e3 * EPS)
    assert abs(np.trace(current_matrix(A, D))) < 1e3 * EPS


def test_detailed_balance_gives_zero_current_and_epr():
    rng = np.random.default_rng(7)
    B = rng.normal(size=(6, 6))
    H = B @ B.T + np.eye(6)
    D = np.diag(rng.uniform(0.5, 2.0, 6))
    A = -D @ H  # D^-1 A = -H symmetric: detailed balance, S = H^-1
    np.testing.assert_allclose(stationary_covariance(A, D), np.linalg.inv(H), atol=1e-12)
    # Omega is pure round-off of A S + D ~ eps |A| |S| (cond(H) ~ 1e2 here)
    assert np.abs(current_matrix(A, D)).max() < 1e-11
    assert entropy_production_rate(A, D) < 1e-20  # round-off squared


def test_isotropic_rotation_closed_form():
    # A = -g I + w J, D = d I: S = (d / g) I, Omega = w J, EPR = tr(w^2 I / g) = 2 w^2 / g
    g, w, d = 0.7, 1.9, 0.4
    A = np.array([[-g, w], [-w, -g]])
    epr = entropy_production_rate(A, d * np.eye(2))
    assert epr == pytest.approx(2 * w**2 / g, rel=1e-13)  # O(1) arithmetic round-off


def test_epr_of_a_given_gaussian():
    A, D = _random_problem(4, seed=11)
    rng = np.random.default_rng(12)
    B = rng.normal(size=(4, 4))
    S = B @ B.T + np.eye(4)  # not stationary: the instantaneous EPR of N(0, S)
    Om = A + D @ np.linalg.inv(S)
    expected = np.trace(Om.T @ np.linalg.inv(D) @ Om @ S)
    np.testing.assert_allclose(current_matrix(A, D, S), Om, rtol=1e-12)  # inverses of cond ~ 1e2
    assert entropy_production_rate(A, D, S) == pytest.approx(expected, rel=1e-11)


def test_discrete_lyapunov_matches_iterated_sum():
    rng = np.random.default_rng(5)
    B = rng.normal(size=(5, 5))
    H = B @ B.T / 5 + 0.5 * np.eye(5)
    M = np.eye(5) - 0.2 * H + 0.05 * rng.normal(size=(5, 5))
    Q = np.diag(rng.uniform(0.1, 1.0, 5))
    S = discrete_stationary_covariance(M, Q)
    series, term = np.zeros((5, 5)), Q.copy()
    for _ in range(2000):  # spectral radius < 0.99: 0.99^4000 ~ 4e-18 truncation
        series += term
        term = M @ term @ M.T
    assert np.max(np.abs(M)) > 0 and max(abs(np.linalg.eigvals(M))) < 0.99
    np.testing.assert_allclose(S, series, rtol=1e-11)  # 2000 summed terms: accumulated round-off
    np.testing.assert_allclose(M @ S @ M.T + Q, S, rtol=1e-12)


def test_circulation_is_antisymmetric_and_vanishes_when_commuting():
    H = np.diag([1.0, 2.0, 4.0])
    S = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.3], [0.1, 0.3, 2.0]])
    C = circulation(H, S, 0.05)
    assert np.array_equal(C, -C.T)
    np.testing.assert_allclose(C, 0.025 * (H @ S - S @ H), rtol=1e-15)  # same products
    assert discrete_entropy_production(C, np.eye(3), S) > 0
    assert not np.any(circulation(H, np.diag([3.0, 2.0, 1.0]), 0.05))  # diagonal: commute
    assert discrete_entropy_production(np.zeros((3, 3)), np.eye(3), S) == 0.0


def test_discrete_entropy_production_equals_continuous_epr_for_gradient_drift():
    # A = -H symmetric, anisotropic D: C(eta = 1) = -Omega S and both formulas coincide
    rng = np.random.default_rng(9)
    B = rng.normal(size=(4, 4))
    H = B @ B.T / 4 + np.eye(4)
    _, D = _random_problem(4, seed=10)
    S = stationary_covariance(-H, D)
    ep = discrete_entropy_production(circulation(H, S, 1.0), D, S)
    assert ep > 0
    assert ep == pytest.approx(entropy_production_rate(-H, D), rel=1e-12)  # same products


def test_dimension_120_is_fast_and_accurate():
    A, D = _random_problem(120, seed=120)
    S = stationary_covariance(A, D)
    residual = np.abs(A @ S + S @ A.T + 2 * D).max()
    assert residual < 100 * 120 * EPS * np.abs(A).max() * np.abs(S).max()  # as above
    assert entropy_production_rate(A, D, S) > 0


GOOD = np.eye(2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: stationary_covariance(np.ones((2, 3)), GOOD), ModelError, "A: expected a square"),
    (lambda: stationary_covariance([[-1, np.nan], [0, -1]], GOOD), ModelError, "A: .*NaN"),
    (lambda: stationary_covariance([[0, 1], [-1, 0]], GOOD), ModelError, "A: .*not stable"),
    (lambda: stationary_covariance([[1, 0], [0, -1]], GOOD), ModelError, "A: .*not stable"),
    (lambda: stationary_covariance(np.zeros((2, 2)), GOOD), ModelError, "A: .*not stable"),
    (lambda: stationary_covariance(-GOOD, [[1, 0.5], [0, 1]]), DiffusionError, "D: .*symmetric"),
    (lambda: stationary_covariance(-GOOD, [[1, 2], [2, 1]]), DiffusionError, "D: .*definite"),
    (lambda: stationary_covariance(-GOOD, np.eye(3)), DiffusionError, "D: expected shape"),
    (lambda: discrete_stationary_covariance(1.2 * GOOD, GOOD), ModelError, "M: .*not stable"),
    (lambda: discrete_stationary_covariance(0.5 * GOOD, -GOOD), DiffusionError, "Q: "),
    (lambda: current_matrix(-GOOD, GOOD, [[1, 0], [0, -1]]), ModelError, "S: .*definite"),
    (lambda: circulation([[1, 1], [0, 1]], GOOD, 0.1), ModelError, "H: .*symmetric"),
    (lambda: circulation(GOOD, GOOD, 0.0), ModelError, "eta: "),
    (lambda: discrete_entropy_production(GOOD, GOOD, GOOD), ModelError, "C: .*antisymmetric"),
])
def test_bad_inputs_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()

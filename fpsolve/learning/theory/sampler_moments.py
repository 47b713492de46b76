"""Exact stationary moments of the samplers for a quadratic loss, and their O(eta) theory.

Every step of a sampler on a quadratic loss is an affine map with random coefficients
``x' = (I - eta H_b) x - eta q_b + sqrt(2 eta) zeta`` (``x = w - w*``, ``H_b``, ``q_b`` the
batch means of the per-sample Hessians ``h_i`` and of the per-sample gradient estimates at
``w*``; :func:`linearize` gives them at the minimum of any loss).

* :func:`stationary_moments` -- ULA in closed form, SGLD and SGLDCV *exactly* by the linear
  equation of the second moments (batches independent between steps), SGWORLD by Monte Carlo
  over permutations of the exact epoch map, with closed-form control variates and jackknife
  error bars (products of 100 random batch means over a random permutation of 1000 samples have
  no tractable closed form).
* :func:`first_order_bias` -- the O(eta) coefficients of the stationary mean and covariance.

Step rules beyond Euler (palindromic WOR schedules, Leimkuhler-Matthews noise, midpoint steps)
are dispatched to :mod:`fpsolve.learning.theory.sampler_schemes` (``rule=`` or sampler attributes).

Derivations on docs/sgworld.md; the public names are also importable from
:mod:`fpsolve.learning.posteriors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._numba import one_blas_thread
from ...errors import FpsolveError, ModelError
from . import _kernels as _ks
from ..._runs import check_positive
from ..dynamics.samplers import RECORDS, as_sampler
from ..dynamics.samplers import batch_layout as _batch
from ..._random import as_key
from ..models.minimum import find_minimum
from .gaussian import _population_covariance
from .sampler_schemes import (
    check_rule_batch,
    full_gradient_covariance,
    period_stationary,
    rule_first_order_bias,
    rule_moments,
    step_rule,
)

__all__ = ["Linearization", "StationaryMoments", "first_order_bias", "linearize",
           "stationary_moments"]

# Control variates are Taylor terms of the epoch map; beyond eta R lambda_max ~ 1 they no longer
# track it and would add variance instead of removing it.
_CV_LIMIT = 0.5


@dataclass(frozen=True)
class Linearization:
    """A sampler's step linearized at the minimum ``w`` of ``L``.

    ``H (d, d)`` Hessian of ``L``; ``h (N, d, d)`` per-sample Hessians; ``q (N, d)`` the
    per-sample gradient estimates at ``w`` (``grad l_i(w)`` for SGLD and SGWORLD;
    ``grad l_i(w) - grad l_i(w_ref) + grad L(w_ref)`` for SGLDCV), of mean zero.  Exact for
    quadratic losses.
    """

    w: np.ndarray
    H: np.ndarray
    h: np.ndarray
    q: np.ndarray

    @property
    def cov(self) -> np.ndarray:
        """``H^-1``, the posterior covariance."""
        return np.linalg.inv(self.H)


def linearize(sampler, model, data, *, w_star=None) -> Linearization:
    """:class:`Linearization` of ``sampler`` at the minimum of ``L`` (found from ``w_star``)."""
    s = as_sampler(sampler)
    m = find_minimum(model, data, np.zeros(model.n_params) if w_star is None else w_star)
    h = np.asarray(model.per_sample_hessians(m.w, data), dtype=float)
    q = np.asarray(model.per_sample_gradients(m.w, data), dtype=float)
    if s.control_variate:
        w_ref = m.w if s.w_ref is None else s.w_ref
        g_ref = np.asarray(model.per_sample_gradients(w_ref, data), dtype=float)
        q = q - g_ref + g_ref.mean(axis=0)
    q = q - q.mean(axis=0)          # mean_i grad l_i(w*) = grad L(w*) = 0 up to round-off
    return Linearization(m.w, 0.5 * (m.H + m.H.T), h, q)


# ----------------------------------------------------------------------------- moments
@dataclass(frozen=True)
class StationaryMoments:
    """Stationary mean and covariance of a sampler (:func:`stationary_moments`).

    Attributes
    ----------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)
    method : str
        ``"closed form"`` (ULA), ``"exact"`` (SGLD, SGLDCV) or ``"monte carlo"`` (SGWORLD).
    replicates : tuple of ndarray or None
        Jackknife (leave-one-group-out) means ``(G, d)`` and covariances ``(G, d, d)`` of the
        Monte Carlo estimate; None when exact.
    sampler : str
    record : str
    eta : float
    batch_size : int
    n_perm : int
        Permutations used (0 when exact).
    control_variates : bool
    """

    mean: np.ndarray
    cov: np.ndarray
    method: str
    replicates: tuple | None
    sampler: str
    record: str
    eta: float
    batch_size: int
    n_perm: int = 0
    control_variates: bool = False


def stationary_moments(sampler, model, data, *, eta: float, batch_size: int | None = None,
                       record: str = "epoch", n_perm: int = 2048, n_groups: int = 8, rng=0,
                       control_variates: bool | None = None, w_star=None,
                       rule=None) -> StationaryMoments:
    """Stationary mean and covariance of a sampler on a quadratic loss.

    Parameters
    ----------
    sampler : Sampler or str
    model : GradientModel
        Quadratic loss (:class:`~fpsolve.learning.LinearRegression`) for exact results; other
        models are linearized at their minimum (:func:`linearize`).
    data : Dataset or (x, y)
    eta, batch_size, record : keyword-only
        As for :func:`~fpsolve.learning.dynamics.samplers.sample`.
    n_perm, n_groups, rng : keyword-only
        SGWORLD only: permutations (split into ``n_groups`` groups for the jackknife) and the
        seed of their Philox stream.
    control_variates : bool, optional, keyword-only
        SGWORLD only: subtract the closed-form control variates (default: when
        ``eta R lambda_max <= 0.5``).
    w_star : array_like, optional, keyword-only
        Start of the search for the minimum.
    rule : StepRule or dict, optional, keyword-only
        Schedule, noise and step (:func:`~.sampler_schemes.step_rule`; default: the sampler's
        ``schedule``, ``noise`` and ``step`` attributes).  Rules other than Euler steps with
        Euler noise on ``"full"``, ``"wr"`` or ``"wor"`` are computed by
        :func:`~.sampler_schemes.rule_moments` (full gradient: closed form; WOR and palindromic
        WOR: permutation Monte Carlo, epoch ends only).

    Returns
    -------
    StationaryMoments

    Raises
    ------
    FpsolveError
        If the second moments diverge at this ``eta`` (naming the spectral radius).

    Notes
    -----
    SGLD: with ``E H_b = H`` and ``Cov`` of batch means of ``B`` distinct indices
    ``kappa = (N - B) / (B (N - 1))`` times the population covariance, the stationary mean is
    ``w*`` and ``P = Sigma + Delta`` (``Sigma = H^-1``) solves the ``d^2`` linear equations

        H Delta + Delta H - eta (H Delta H + kappa Lh(Delta))
            = eta (kappa Sigma_q + H + kappa Lh(Sigma)),      Lh(S) = mean_i dh_i S dh_i.

    SGWORLD: the epoch map ``x_R = Phi x_0 + ups + nu`` (:mod:`~._kernels`) gives
    ``m = (I - E Phi)^-1 E ups`` and ``vec E[x x^T] = (I - E Phi (x) Phi)^-1 vec(E[Phi m ups^T]
    + E[ups m^T Phi^T] + E[ups ups^T] + E Q)``; the expectations are permutation averages with
    control variates of known mean.  ``record="step"`` averages the moments over the ``R``
    phases of an epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> from fpsolve.learning.posteriors import gaussian_posterior, stationary_moments
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 1)) * rng.uniform(0.5, 2, size=(50, 1))
    >>> data, model = (x, x[:, 0] + rng.normal(size=50)), LinearRegression(1, s=1.0)
    >>> post = gaussian_posterior(model, data)
    >>> ula = stationary_moments("ula", model, data, eta=1e-3)
    >>> sgld = stationary_moments("sgld", model, data, eta=1e-3, batch_size=5)
    >>> bool(sgld.cov[0, 0] > ula.cov[0, 0] > post.cov[0, 0])
    True
    """
    with one_blas_thread():
        s = as_sampler(sampler)
        args = (model, data, eta, batch_size, record, n_perm, n_groups, rng, control_variates,
                w_star)
        r = step_rule(s, rule=rule)
        if r.classical:
            return _stationary_moments(s, *args)
        return _rule_stationary_moments(s, r, *args)


def _stationary_moments(s, model, data, eta, batch_size, record, n_perm, n_groups, rng,
                        control_variates, w_star) -> StationaryMoments:
    lin = linearize(s, model, data, w_star=w_star)
    eta, N = check_positive("eta", eta), lin.q.shape[0]
    if record not in RECORDS:
        raise FpsolveError(f"record: expected one of {RECORDS}, got {record!r}")
    b, R = _batch(s, batch_size, N, 4)
    common = dict(sampler=s.name, record=record, eta=eta, batch_size=b)
    if s.schedule == "full":
        return StationaryMoments(lin.w, _ula_covariance(lin.H, eta), "closed form", None,
                                 **common)
    if s.schedule == "wr":
        return StationaryMoments(lin.w, lin.cov + _wr_delta(lin, eta, b), "exact", None,
                                 **common)
    lam = np.linalg.eigvalsh(lin.H)[-1]
    cv = eta * R * lam <= _CV_LIMIT if control_variates is None else bool(control_variates)
    G = _count("n_groups", n_groups, 2)
    n_g = _count("n_perm", n_perm, 2 * G) // G
    mean, cov, (rep_m, rep_c) = _wor_moments(lin, eta, b, as_key(rng), n_g, G, cv, record)
    return StationaryMoments(lin.w + mean, cov, "monte carlo", (lin.w + rep_m, rep_c),
                             n_perm=n_g * G, control_variates=cv, **common)


def _rule_stationary_moments(s, r, model, data, eta, batch_size, record, n_perm, n_groups, rng,
                             control_variates, w_star) -> StationaryMoments:
    """:func:`stationary_moments` of a step rule beyond Euler (:mod:`.sampler_schemes`)."""
    lin, eta = linearize(s, model, data, w_star=w_star), check_positive("eta", eta)
    if record != "epoch":
        raise FpsolveError(f"record: the moments of rule {r} are computed at epoch ends only; "
                           f"expected 'epoch', got {record!r}")
    b, R = check_rule_batch(r, batch_size, lin.q.shape[0])
    common = dict(sampler=f"{s.name}[{r.schedule}, noise={r.noise}, step={r.step}]",
                  record=record, eta=eta, batch_size=b)
    if r.schedule == "full":
        return StationaryMoments(lin.w, full_gradient_covariance(lin.H, eta, r), "closed form",
                                 None, **common)
    if r.schedule == "wr":
        raise FpsolveError(f"rule: exact moments of WR batches with noise={r.noise!r}, "
                           f"step={r.step!r} are not implemented (WOR and full only)")
    lam = np.linalg.eigvalsh(lin.H)[-1]
    cv = eta * R * lam <= _CV_LIMIT if control_variates is None else bool(control_variates)
    G = _count("n_groups", n_groups, 2)
    n_g = _count("n_perm", n_perm, 2 * G) // G
    m, cov, (rep_m, rep_c) = rule_moments(lin, eta, b, r, as_key(rng), n_g, G, cv)
    return StationaryMoments(lin.w + m, cov, "monte carlo", (lin.w + rep_m, rep_c),
                             n_perm=n_g * G, control_variates=cv, **common)


def _count(name, value, minimum) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise FpsolveError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _ula_covariance(H, eta) -> np.ndarray:
    """``(H - eta H^2 / 2)^-1``, the exact stationary covariance of ULA."""
    lam = np.linalg.eigvalsh(H)
    if eta * lam[-1] >= 2:
        raise FpsolveError(f"eta: ULA diverges (eta * largest Hessian eigenvalue = "
                           f"{eta * lam[-1]:.4g}; expected < 2)")
    P = np.linalg.inv(H - 0.5 * eta * H @ H)
    return 0.5 * (P + P.T)


def _kron_sum(X, Y) -> np.ndarray:
    """``sum_n X_n (x) Y_n`` in the row-major ``vec`` convention:
    ``vec(A P B^T) = (A (x) B) vec P``.

    ``X, Y (n, d, d)``: entry ``[(i, k), (j, l)] = sum_n X_nij Y_nkl``.
    """
    n, d, _ = X.shape
    G = X.reshape(n, d * d).T @ Y.reshape(n, d * d)
    return G.reshape(d, d, d, d).transpose(0, 2, 1, 3).reshape(d * d, d * d)


def _wr_delta(lin, eta, b) -> np.ndarray:
    """``P - Sigma`` of SGLD/SGLDCV from the linear second-moment equation (Notes above)."""
    H, (N, d) = lin.H, lin.q.shape
    kappa = (N - b) / (b * (N - 1))
    dh = lin.h - H
    I = np.eye(d)
    Lh = _kron_sum(dh, dh) / N
    op = np.kron(H, I) + np.kron(I, H) - eta * (np.kron(H, H) + kappa * Lh)
    mu = np.linalg.eigvals(np.eye(d * d) - eta * op)
    if np.abs(mu).max() >= 1:
        raise FpsolveError(f"eta: the second moments of the chain diverge at eta = {eta:.4g} "
                           f"(spectral radius of the second-moment map {np.abs(mu).max():.6g} "
                           f">= 1)")
    Sigma = lin.cov
    rhs = kappa * (_population_covariance(lin.q) + (Lh @ Sigma.reshape(-1)).reshape(d, d)) + H
    delta = eta * np.linalg.solve(op, rhs.reshape(-1)).reshape(d, d)
    return 0.5 * (delta + delta.T)


def _wor_sums(lin, eta, b, key, perm0, n) -> dict:
    """Sums over ``n`` permutations of the epoch-map quantities (``_kernels``)."""
    N, d = lin.q.shape
    h = np.ascontiguousarray(lin.h.reshape(N, d * d))
    out = {k: np.empty((n, d, d)) for k in ("phi", "Q", "T", "J")}
    out.update(ups=np.empty((n, d)), S=np.empty((n, d)))
    _ks.epoch_maps(h, np.ascontiguousarray(lin.q), lin.H.reshape(-1).copy(), eta, b, key, perm0,
                   out["phi"], out["ups"], out["Q"], out["T"], out["J"], out["S"])
    phi, ups = out["phi"], out["ups"]
    sums = {k: v.sum(axis=0) for k, v in out.items()}
    sums.update(K=_kron_sum(phi, phi), UU=ups.T @ ups, PU=np.einsum("nab,nc->abc", phi, ups),
                n=n)
    return sums


def _wor_solve(sums, lin, eta, b, cv, check=True) -> tuple[np.ndarray, np.ndarray]:
    """Epoch-end deviation mean ``m`` and covariance from permutation sums (``check``: the
    spectral radius of ``E[Phi (x) Phi]``, skipped for jackknife replicates)."""
    N, d = lin.q.shape
    R, n, I = N // b, sums["n"], np.eye(d)
    E = {k: v / n for k, v in sums.items() if k != "n"}
    if cv:   # closed-form means of the control variates (docs/sgworld.md)
        dh = lin.h - lin.H
        C_hh, C_hq = np.einsum("nij,njk->ik", dh, dh) / N, np.einsum("nij,nj->i", dh, lin.q) / N
        pairs = R * (R - 1) / 2
        dT = E["T"] - pairs * (lin.H @ lin.H - C_hh / (N - 1))
        E["phi"] = E["phi"] - eta**2 * dT
        E["K"] = E["K"] - eta**2 * (np.kron(dT, I) + np.kron(I, dT))
        E["ups"] = E["ups"] - eta**2 * (E["S"] + pairs * C_hq / (N - 1))
        E["Q"] = E["Q"] + 4 * eta**2 * E["J"]
    m, S2 = period_stationary(E, eta, check)
    cov = S2 - np.outer(m, m)
    return m, 0.5 * (cov + cov.T)


def _phase_average(lin, eta, b, key, perm0, n, m, cov) -> tuple[np.ndarray, np.ndarray]:
    """Sums over ``n`` permutations of the phase-averaged first and second moments."""
    N, d = lin.q.shape
    mu, M = np.empty((n, d)), np.empty((n, d, d))
    _ks.phase_moments(np.ascontiguousarray(lin.h.reshape(N, d * d)),
                      np.ascontiguousarray(lin.q), eta, b, key, perm0, m,
                      cov + np.outer(m, m), mu, M)
    return mu.sum(axis=0) / (N // b), M.sum(axis=0) / (N // b)


def _wor_moments(lin, eta, b, key, n_g, G, cv, record):
    """Pooled estimate and jackknife replicates of SGWORLD's stationary moments."""
    groups = [_wor_sums(lin, eta, b, key, g * n_g, n_g) for g in range(G)]
    total = {k: sum(s[k] for s in groups) for k in groups[0]}
    m, cov = _wor_solve(total, lin, eta, b, cv)
    reps = [_wor_solve({k: total[k] - s[k] for k in total}, lin, eta, b, cv, False)
            for s in groups]
    if record == "epoch":
        return m, cov, (np.array([r[0] for r in reps]), np.array([r[1] for r in reps]))
    # every step: the phase average of the R conditional moments given (m, cov) at epoch ends;
    # replicates add the epoch-end jackknife shifts (the phase average maps them through
    # identically to first order in eta R lambda).
    phase = [_phase_average(lin, eta, b, key, g * n_g, n_g, m, cov) for g in range(G)]
    mu_t, M_t = sum(p[0] for p in phase), sum(p[1] for p in phase)

    def moments(mu, M, n):
        mu, M = mu / n, M / n
        c = M - np.outer(mu, mu)
        return mu, 0.5 * (c + c.T)

    m_s, c_s = moments(mu_t, M_t, n_g * G)
    rep_m, rep_c = [], []
    for (mu, M), (m_r, c_r) in zip(phase, reps):
        a, c = moments(mu_t - mu, M_t - M, n_g * (G - 1))
        rep_m.append(a + m_r - m)
        rep_c.append(c + c_r - cov)
    return m_s, c_s, (np.array(rep_m), np.array(rep_c))


def first_order_bias(sampler, model, data, *, batch_size: int | None = None,
                     w_star=None, rule=None) -> tuple[np.ndarray, np.ndarray]:
    """O(eta) coefficients ``(m1, X)``: stationary mean ``w* + eta m1``, covariance
    ``H^-1 + eta X``, up to O(eta^2) (both recording modes of SGWORLD; ``rule`` as for
    :func:`stationary_moments`, general formula :func:`~.sampler_schemes.rule_first_order_bias`).

    Notes
    -----
    ``H X + X H = Y`` with ``Y = H`` (ULA; ``X = I/2``), ``Y = H + kappa (Sigma_q + Lh(H^-1))``
    (SGLD, SGLDCV: gradient noise and multiplicative Hessian noise add up), and
    ``Y = H - (kappa / 2) (C_hh H^-1 + H^-1 C_hh)`` with ``C_hh = mean_i dh_i dh_i``
    (SGWORLD: the gradient noise cancels over an epoch and the Hessian noise *lowers* the
    covariance); ``m1 = -(kappa / 2) H^-1 C_hq``, ``C_hq = mean_i dh_i q_i``, for SGWORLD and 0
    otherwise.  ``kappa = (N - B) / (B (N - 1))``.  Leimkuhler-Matthews noise removes the ``H``
    in ``Y`` (ULA's discretization bias); the midpoint step on WOR batches removes all of ``Y``
    and ``m1``.  Derivation on docs/sgworld.md.
    """
    s = as_sampler(sampler)
    r = step_rule(s, rule=rule)
    lin = linearize(s, model, data, w_star=w_star)
    if r.classical:
        N = lin.q.shape[0]
        b, _ = _batch(s, batch_size, N, 3)
        if r.schedule == "wor" and N % b:
            raise ModelError(f"batch_size: the epoch theory needs B to divide N = {N}, got {b}")
    else:
        b, _ = check_rule_batch(r, batch_size, lin.q.shape[0])
    return rule_first_order_bias(lin, r, b)

"""Diagnostics of sampler output and distances between distributions.

* Mixing: split R-hat and the multi-chain effective sample size (Gelman et al., *Bayesian Data
  Analysis*, 3rd ed., section 11.4-11.5; Vehtari et al. 2021, Bayesian Anal. 16, 667), with a
  :class:`MixingWarning` when R-hat exceeds :data:`RHAT_THRESHOLD`.
* Gaussian distances: Kullback-Leibler divergence, 2-Wasserstein distance and relative
  covariance error, written so that tiny differences keep their digits.
* Histograms against exact bin probabilities: total variation and Kullback-Leibler divergence,
  with the values expected from sampling noise alone.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla

from ..errors import ConvergenceWarning, FpsolveError

__all__ = [
    "RHAT_THRESHOLD",
    "MixingWarning",
    "check_mixing",
    "effective_sample_size",
    "gaussian_kl",
    "gaussian_w2",
    "histogram_distances",
    "relative_covariance_error",
    "rhat",
]

#: R-hat above which :func:`check_mixing` warns (Gelman et al. 2013 suggest 1.1, Vehtari et al.
#: 2021 1.01; 1.05 flags chains that have clearly not mixed without firing on short healthy runs).
RHAT_THRESHOLD = 1.05


class MixingWarning(ConvergenceWarning):
    """Chains have not mixed: R-hat above :data:`RHAT_THRESHOLD` for some parameter."""


def _chains(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=float)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or x.shape[0] < 4 or not np.all(np.isfinite(x)):
        raise FpsolveError(f"samples: expected finite values of shape (n_samples >= 4, n_chains, "
                           f"d), got shape {np.shape(samples)}")
    return x


def rhat(samples) -> np.ndarray:
    """Split R-hat of each parameter.

    Parameters
    ----------
    samples : array_like, shape (n, n_chains, d) or (n, n_chains)

    Returns
    -------
    ndarray, shape (d,)
        ``sqrt(var_plus / W)`` over the ``2 n_chains`` half-chains (Gelman et al. 2013, eq.
        11.4): ``W`` the mean within-half variance, ``var_plus = (n'-1)/n' W + B/n'`` with the
        between-half variance ``B/n'`` of the half means.  1 for constant samples.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.diagnostics import rhat
    >>> x = np.random.default_rng(0).normal(size=(1000, 4, 1))
    >>> bool(abs(rhat(x)[0] - 1) < 0.01)
    True
    """
    x = _chains(samples)
    n = x.shape[0] // 2
    halves = np.concatenate([x[:n], x[x.shape[0] - n:]], axis=1)       # (n, 2C, d)
    W = halves.var(axis=0, ddof=1).mean(axis=0)
    B_n = halves.mean(axis=0).var(axis=0, ddof=1)
    var_plus = (n - 1) / n * W + B_n
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(var_plus / W)
    return np.where(W > 0, r, np.where(B_n > 0, np.inf, 1.0))


def effective_sample_size(samples) -> np.ndarray:
    """Multi-chain effective sample size of each parameter's mean.

    Parameters
    ----------
    samples : array_like, shape (n, n_chains, d) or (n, n_chains)

    Returns
    -------
    ndarray, shape (d,)
        ``C n / tau`` with ``tau = -1 + 2 sum_k P_k`` over Geyer's initial positive and monotone
        sequence of pair sums ``P_k = rho_{2k} + rho_{2k+1}`` of the combined autocorrelation
        ``rho_t = 1 - (W - mean_c gamma_{c,t}) / var_plus`` (Vehtari et al. 2021, eq. 10; the
        chain autocovariances ``gamma`` by FFT).  ``C n`` for constant samples.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.diagnostics import effective_sample_size
    >>> x = np.random.default_rng(0).normal(size=(2000, 2))  # independent draws
    >>> bool(3000 < effective_sample_size(x)[0] < 5000)
    True
    """
    x = _chains(samples)
    n, C, d = x.shape
    xc = x - x.mean(axis=0)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(xc, n=size, axis=0)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:n] / n            # (n, C, d)
    W = x.var(axis=0, ddof=1).mean(axis=0)
    var_plus = (n - 1) / n * W + (x.mean(axis=0).var(axis=0, ddof=1) if C > 1 else 0.0)
    ess = np.full(d, float(n * C))
    for k in range(d):
        if var_plus[k] > 0:
            rho = 1.0 - (W[k] - acov[:, :, k].mean(axis=1)) / var_plus[k]
            ess[k] = n * C / _geyer_tau(rho)
    return ess


def _geyer_tau(rho) -> float:
    """``-1 + 2 sum P_k`` over the initial positive, monotone pair sums of ``rho``."""
    m = (rho.size - 1) // 2
    pairs = rho[:2 * m:2] + rho[1:2 * m:2]
    positive = np.flatnonzero(pairs <= 0)
    pairs = pairs[:positive[0] if positive.size else m]
    pairs = np.minimum.accumulate(pairs)
    return max(-1.0 + 2.0 * pairs.sum(), 1.0 / np.log10(max(rho.size, 10)))


def check_mixing(r, *, what: str = "chains", threshold: float = RHAT_THRESHOLD) -> bool:
    """Warn (:class:`MixingWarning`) if any R-hat in ``r`` exceeds ``threshold``.

    Returns True when the chains look mixed.
    """
    r = np.asarray(r, dtype=float)
    bad = np.flatnonzero(~(r <= threshold))
    if bad.size:
        worst = bad[np.argmax(np.where(np.isfinite(r[bad]), r[bad], np.inf))]
        warnings.warn(f"{what}: chains have not mixed: R-hat = {r[worst]:.4g} > {threshold} for "
                      f"parameter {worst} ({bad.size} of {r.size} parameters); run longer, "
                      f"burn in more or lower eta", MixingWarning, stacklevel=3)
    return bad.size == 0


# ----------------------------------------------------------------------------- Gaussians
def _gaussian_args(mean, cov, mean_ref, cov_ref):
    m, m0 = np.atleast_1d(np.asarray(mean, float)), np.atleast_1d(np.asarray(mean_ref, float))
    S, S0 = np.atleast_2d(np.asarray(cov, float)), np.atleast_2d(np.asarray(cov_ref, float))
    d = m0.size
    if m.shape != (d,) or S.shape != (d, d) or S0.shape != (d, d):
        raise FpsolveError(f"mean, cov: expected shapes ({d},) and ({d}, {d}) to match the "
                           f"reference, got {m.shape} and {S.shape}")
    return m - m0, 0.5 * (S + S.T), 0.5 * (S0 + S0.T)


def gaussian_kl(mean, cov, mean_ref, cov_ref) -> float:
    """``KL(N(mean, cov) || N(mean_ref, cov_ref))``.

    Notes
    -----
    With ``e`` the eigenvalues of ``L^-1 (cov - cov_ref) L^-T`` (``L`` the Cholesky factor of
    ``cov_ref``), ``KL = (1/2) [sum (e - log1p(e)) + dm^T cov_ref^-1 dm]``: no cancellation of
    ``tr - d - log det`` for nearly equal covariances.  ``inf`` if ``cov`` is not positive
    definite.

    Examples
    --------
    >>> from fpsolve.learning.diagnostics import gaussian_kl
    >>> round(gaussian_kl([1.0], [[1.0]], [0.0], [[1.0]]), 12)
    0.5
    """
    dm, S, S0 = _gaussian_args(mean, cov, mean_ref, cov_ref)
    L = np.linalg.cholesky(S0)
    Li = sla.solve_triangular(L, np.eye(dm.size), lower=True)
    e = np.linalg.eigvalsh(Li @ (S - S0) @ Li.T)
    if np.any(e <= -1):
        return float("inf")
    z = Li @ dm
    return float(0.5 * (np.sum(e - np.log1p(e)) + z @ z))


def gaussian_w2(mean, cov, mean_ref, cov_ref) -> float:
    """2-Wasserstein distance between ``N(mean, cov)`` and ``N(mean_ref, cov_ref)``.

    Notes
    -----
    ``W2^2 = |dm|^2 + tr(S + S0 - 2 (S0^1/2 S S0^1/2)^1/2)``.  Writing ``S = S0 + Delta`` and
    ``(S0^1/2 S S0^1/2)^1/2 = S0 + X`` in the eigenbasis of ``S0 = diag(s)``,
    ``X_ij = (s_i^1/2 s_j^1/2 Delta_ij - (X^2)_ij) / (s_i + s_j)`` (fixed-point iteration), and
    ``tr(...) = tr Delta - 2 tr X`` keeps its digits for small ``Delta``; large ``Delta`` falls
    back to :func:`scipy.linalg.sqrtm`.

    Examples
    --------
    >>> from fpsolve.learning.diagnostics import gaussian_w2
    >>> round(gaussian_w2([0.0], [[4.0]], [0.0], [[1.0]]), 12)  # |2 - 1|
    1.0
    """
    dm, S, S0 = _gaussian_args(mean, cov, mean_ref, cov_ref)
    s, V = np.linalg.eigh(S0)
    D = V.T @ (S - S0) @ V
    r = np.sqrt(np.outer(s, s)) * D
    den = s[:, None] + s[None, :]
    X = r / den
    # The iteration contracts while |X| is small next to S0; beyond that it can diverge (and
    # overflow), so it stops and the direct square root takes over.
    limit, converged = (0.5 * s.min() if s.min() > 0 else 0.0), False
    for _ in range(100 if np.abs(X).max() < limit else 0):
        X_new = (r - X @ X) / den
        if not np.abs(X_new).max() < limit:
            break
        converged = np.abs(X_new - X).max() <= 1e-15 * max(np.abs(X_new).max(), 1e-300)
        X = X_new
        if converged:
            break
    if not converged:
        root = sla.sqrtm(np.diag(np.sqrt(s)) @ (V.T @ S @ V) @ np.diag(np.sqrt(s)))
        X = np.real(root) - np.diag(s)
    w2 = dm @ dm + np.trace(D) - 2.0 * np.trace(X)
    return float(np.sqrt(max(w2, 0.0)))


def relative_covariance_error(cov, cov_ref) -> float:
    """``|cov - cov_ref|_F / |cov_ref|_F`` (Frobenius norms).

    Examples
    --------
    >>> from fpsolve.learning.diagnostics import relative_covariance_error
    >>> round(relative_covariance_error([[1.1, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]), 12)
    0.070710678119
    """
    S, S0 = np.atleast_2d(np.asarray(cov, float)), np.atleast_2d(np.asarray(cov_ref, float))
    if S.shape != S0.shape:
        raise FpsolveError(f"cov: expected shape {S0.shape}, got {S.shape}")
    return float(np.linalg.norm(S - S0) / np.linalg.norm(S0))


# ----------------------------------------------------------------------------- histograms
def histogram_distances(points, edges, probs, *, n_eff: float | None = None) -> dict:
    """Total variation and KL of the histogram of ``points`` against bin probabilities.

    Parameters
    ----------
    points : array_like, shape (n, k)
    edges : sequence of k arrays
        Bin edges per axis (increasing).
    probs : array_like, shape (len(edges[0]) - 1, ...)
        Exact probability of each bin (their sum may be < 1: the rest lies outside).
    n_eff : float, optional
        Effective number of independent points (default ``n``) for the noise levels.

    Returns
    -------
    dict
        ``tv = (1/2) sum |p_hat - p|`` (mass outside the bins included), ``kl = sum p_hat
        log(p_hat / p)`` (``inf`` if a point falls in a bin of probability 0),
        ``tv_noise = sum sqrt(p (1 - p) / (2 pi n_eff))`` and ``kl_noise = (M - 1) / (2 n_eff)``
        (``M`` bins of positive probability): the values expected from sampling noise alone
        for exact samples (large ``n_eff``), and ``n``, ``n_eff``.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.diagnostics import histogram_distances
    >>> pts = np.array([[0.25, 0.5], [0.75, 0.5]])
    >>> out = histogram_distances(pts, [np.array([0, 0.5, 1]), np.array([0, 1])],
    ...                           np.array([[0.5], [0.5]]))
    >>> out["tv"], out["kl"]
    (0.0, 0.0)
    """
    pts = np.asarray(points, dtype=float)
    p = np.asarray(probs, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != len(edges) or p.shape != tuple(len(e) - 1 for e in edges):
        raise FpsolveError(f"points, edges, probs: expected points (n, {len(edges)}) and probs "
                           f"of shape {tuple(len(e) - 1 for e in edges)}, got {pts.shape} and "
                           f"{p.shape}")
    n = pts.shape[0]
    counts, _ = np.histogramdd(pts, bins=list(edges))
    ph = counts / n
    outside = 1.0 - ph.sum()
    tv = 0.5 * (np.abs(ph - p).sum() + abs(outside - max(1.0 - p.sum(), 0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = float(np.sum(np.where(ph > 0, ph * np.log(ph / np.where(p > 0, p, 0.0)), 0.0)))
    ne = float(n if n_eff is None else n_eff)
    return {"tv": float(tv), "kl": kl, "n": n, "n_eff": ne,
            "tv_noise": float(np.sum(np.sqrt(p * (1 - p) / (2 * np.pi * ne)))),
            "kl_noise": float((np.count_nonzero(p > 0) - 1) / (2 * ne))}

"""Exact posteriors, exact stationary moments of the samplers, and their Fokker-Planck models.

The samplers of :mod:`fpsolve.learning.dynamics.samplers` target ``p(w) ~ exp(-L(w))``.  This module
gives the references they are measured against (derivations on docs/sgworld.md):

* :func:`gaussian_posterior` -- ``exp(-L)`` for a quadratic ``L`` (Bayesian linear regression):
  ``N(w*, H^-1)``; :func:`grid_posterior` -- any 1-3 parameter posterior (or a 2-D slice
  spanned by ``basis``) by quadrature on a grid.
* :func:`stationary_moments` -- the stationary mean and covariance of each sampler for a
  quadratic loss, where every step is an affine map with random coefficients
  ``x' = (I - eta H_b) x - eta q_b + sqrt(2 eta) zeta`` (``x = w - w*``, ``H_b``, ``q_b`` the
  batch means of the per-sample Hessians ``h_i`` and of the per-sample gradient estimates at
  ``w*``).  ULA in closed form, SGLD and SGLDCV *exactly* by the linear equation of the second
  moments (batches independent between steps), SGWORLD by Monte Carlo over permutations of the
  exact epoch map, with closed-form control variates and jackknife error bars (products of 100
  random batch means over a random permutation of 1000 samples have no tractable closed form).
* :func:`first_order_bias` -- the O(eta) coefficients of the stationary mean and covariance.
* :class:`StepRule`, :func:`step_rule` -- schedules, noises and steps beyond Euler (palindromic
  WOR epochs, Leimkuhler-Matthews noise, the midpoint step whose WOR bias is O(eta^2)); both
  functions above take ``rule=`` (:mod:`fpsolve.learning.theory.sampler_schemes`).
* :func:`moment_errors` -- KL, W2 and covariance errors against the posterior, with errors.
* :func:`sampler_fokker_planck_model` -- the Fokker-Planck model of a sampler (SGLD: drift
  ``-eta grad L``, ``D = eta I + D_minibatch``; SGWORLD: ``-eta grad L_eff``,
  ``D = eta I + D_WOR / R``) for the grid solvers.

The stationary moments live in :mod:`fpsolve.learning.theory.sampler_moments`, the grid
references in :mod:`fpsolve.learning.posterior_grids`; their public names are importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .diagnostics import gaussian_kl, gaussian_w2, relative_covariance_error
from .posterior_grids import grid_posterior, sampler_fokker_planck_model
from .theory.sampler_moments import (
    Linearization,
    StationaryMoments,
    first_order_bias,
    linearize,
    stationary_moments,
)
from .models.minimum import find_minimum
from .theory.sampler_schemes import StepRule, step_rule

__all__ = [
    "GaussianPosterior",
    "Linearization",
    "StationaryMoments",
    "StepRule",
    "first_order_bias",
    "gaussian_posterior",
    "grid_posterior",
    "linearize",
    "moment_errors",
    "sampler_fokker_planck_model",
    "stationary_moments",
    "step_rule",
]


@dataclass(frozen=True)
class GaussianPosterior:
    """``N(mean, cov)`` with ``precision = cov^-1`` (the Hessian of ``L``)."""

    mean: np.ndarray
    cov: np.ndarray
    precision: np.ndarray


def gaussian_posterior(model, data, *, w0=None) -> GaussianPosterior:
    """The posterior ``exp(-L)`` of a quadratic loss: ``N(w*, H^-1)``.

    Exact for :class:`~fpsolve.learning.LinearRegression` (Gaussian likelihood and prior); for
    other models it is the Laplace approximation at the minimum reached from ``w0`` (zero).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> from fpsolve.learning.posteriors import gaussian_posterior
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> post = gaussian_posterior(LinearRegression(2, s=1.0, lam=0.0), (x, [1.0, 1.0]))
    >>> post.mean.round(12).tolist(), post.cov.round(12).tolist()
    ([1.0, 0.5], [[1.0, 0.0], [0.0, 0.25]])
    """
    m = find_minimum(model, data, np.zeros(model.n_params) if w0 is None else w0)
    cov = np.linalg.inv(m.H)
    return GaussianPosterior(m.w, 0.5 * (cov + cov.T), m.H)


def moment_errors(moments: StationaryMoments, posterior: GaussianPosterior) -> dict:
    """Distances of the stationary Gaussian ``N(mean, cov)`` from the posterior, with errors.

    Returns
    -------
    dict
        ``kl`` (:func:`~.diagnostics.gaussian_kl`, stationary || posterior), ``w2``,
        ``rel_cov_error`` (Frobenius), ``whitened_cov_error``
        (``|Sigma^-1/2 P Sigma^-1/2 - I|_F / sqrt(d)``), ``mean_error`` (Mahalanobis), each with
        a ``*_se`` jackknife standard error (0 when exact).

    Notes
    -----
    For SGLD the stationary law is not exactly Gaussian (random multiplicative coefficients);
    the KL of its moment-matched Gaussian is a lower bound of the true KL, because the Gaussian
    maximizes the entropy at given moments and the cross entropy with a Gaussian posterior
    depends on the first two moments only.
    """
    def metrics(m, P):
        mu, S, Hp = posterior.mean, posterior.cov, posterior.precision
        L = np.linalg.cholesky(Hp)
        W = L.T @ P @ L - np.eye(mu.size)
        dm = m - mu
        return {"kl": gaussian_kl(m, P, mu, S), "w2": gaussian_w2(m, P, mu, S),
                "rel_cov_error": relative_covariance_error(P, S),
                "whitened_cov_error": float(np.linalg.norm(W) / np.sqrt(mu.size)),
                "mean_error": float(np.sqrt(max(dm @ Hp @ dm, 0.0)))}

    out = metrics(moments.mean, moments.cov)
    reps = ([metrics(m, P) for m, P in zip(*moments.replicates)]
            if moments.replicates is not None else None)
    for k in list(out):
        if reps is None:
            out[k + "_se"] = 0.0
        else:
            v = np.array([r[k] for r in reps])
            # a replicate with an infinite metric (its covariance not positive definite, KL =
            # inf) leaves the jackknife error unbounded: inf, not NaN
            out[k + "_se"] = (float(np.sqrt((v.size - 1) / v.size * ((v - v.mean())**2).sum()))
                              if np.all(np.isfinite(v)) else float("inf"))
    return out


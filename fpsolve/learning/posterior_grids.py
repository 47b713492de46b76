"""Grid references for the samplers: the posterior ``exp(-L)`` and the samplers' Fokker-Planck
models, tabulated at the cell centers of a grid.

* :func:`grid_posterior` -- any 1-3 parameter posterior (or a 2-D slice spanned by ``basis``)
  by quadrature on a grid.
* :func:`sampler_fokker_planck_model` -- the Fokker-Planck model of a sampler (SGLD: drift
  ``-eta grad L``, ``D = eta I + D_minibatch``; SGWORLD: ``-eta grad L_eff``,
  ``D = eta I + D_WOR / R``) for the grid solvers.

Derivations on docs/sgworld.md; the public names are also importable from
:mod:`fpsolve.learning.posteriors`.
"""

from __future__ import annotations

import numpy as np
from findiff import Diff

from ..errors import FpsolveError, ModelError
from ..models import FokkerPlanckModel
from .._runs import check_positive
from .data.datasets import as_dataset
from .dynamics.samplers import as_sampler
from .dynamics.samplers import batch_layout as _batch
from .models.minimum import find_minimum
from .theory import CHUNK

__all__ = ["grid_posterior", "sampler_fokker_planck_model"]


def _embedding(model, grid, basis, origin):
    """``(basis (d, k), origin (d,))`` mapping grid points ``theta`` to ``w``."""
    d, k = model.n_params, grid.ndim
    B = np.eye(d) if basis is None else np.asarray(basis, dtype=float)
    o = np.zeros(d) if origin is None else np.asarray(origin, dtype=float)
    if B.shape != (d, k) or o.shape != (d,):
        raise FpsolveError(f"basis, origin: expected shapes ({d}, {k}) and ({d},) for a "
                           f"{k}-D grid and {d} parameters, got {B.shape} and {o.shape}")
    if not np.allclose(B.T @ B, np.eye(k), atol=1e-12):
        raise FpsolveError("basis: expected orthonormal columns")
    return B, o


def _points(x, B, o):
    """Grid points ``x (k, ...)`` as parameter vectors ``(n, d)``."""
    return o + np.moveaxis(np.asarray(x, dtype=float), 0, -1).reshape(-1, B.shape[1]) @ B.T


def grid_posterior(model, data, grid, *, basis=None, origin=None) -> np.ndarray:
    """Normalized density of ``exp(-L)`` at the cell centers of ``grid``.

    Parameters
    ----------
    model : GradientModel
    data : Dataset or (x, y)
    grid : CartesianGrid
        Must hold all but a negligible part of the mass (the density is normalized on it).
    basis, origin : array_like, optional, keyword-only
        Orthonormal ``(d, k)`` columns and ``(d,)`` point: grid point ``theta`` is
        ``w = origin + basis theta`` (default: the grid spans all ``d = k`` parameters).  The
        result is the density of ``theta`` when the orthogonal complement factorizes from it
        (e.g. the class-difference parameters of binary softmax regression).

    Returns
    -------
    p : ndarray, shape grid.shape
        ``sum(p) * grid.cell_volume == 1`` (midpoint quadrature, O(h^2)).
    """
    B, o = _embedding(model, grid, basis, origin)
    W = _points(grid.cell_centers(), B, o)
    data = as_dataset(data)
    logp = -np.array([model.loss(w, data) for w in W])
    p = np.exp(logp - logp.max()).reshape(grid.shape)
    return p / (p.sum() * grid.cell_volume)


def _gradient_stack(model, data, W, B) -> np.ndarray:
    """Per-sample gradients at the rows of ``W``, projected on ``basis``: ``(n, N, k)``."""
    N = as_dataset(data).N
    chunk = max(1, CHUNK // (N * model.n_params))
    return np.concatenate([np.asarray(model.per_sample_gradients(W[i:i + chunk], data)) @ B
                           for i in range(0, W.shape[0], chunk)])


def _pop_cov(G) -> np.ndarray:
    """Population covariances ``(n, k, k)`` of stacks ``G (n, N, k)``."""
    dG = G - G.mean(axis=1, keepdims=True)
    return np.matmul(dG.transpose(0, 2, 1), dG) / G.shape[1]


def _grid_gradient(f, grid) -> np.ndarray:
    """Second-order finite-difference gradient ``(k, *shape)`` of a cell field ``f`` (findiff)."""
    return np.stack([Diff(a, grid.spacing[a], acc=2)(f) for a in range(grid.ndim)])


def _sampler_fields(s, model, data, grid, eta, b, B, o, w_ref):
    """Ito drift ``(k, *shape)`` and diffusion ``(k, k, *shape)`` of sampler ``s`` on ``grid``."""
    N, k, shape = as_dataset(data).N, grid.ndim, grid.shape
    G = _gradient_stack(model, data, _points(grid.cell_centers(), B, o), B)
    kappa, R = (N - b) / (b * (N - 1)), N // b
    g = np.moveaxis(G.mean(axis=1), -1, 0).reshape((k,) + shape)          # grad L
    drift, D = -eta * g, np.broadcast_to(eta * np.eye(k), (G.shape[0], k, k)).copy()
    if s.schedule == "wr":
        if s.control_variate:
            G = G - (np.asarray(model.per_sample_gradients(w_ref, data)) @ B)[None]
        D += 0.5 * eta**2 * kappa * _pop_cov(G)
    elif s.schedule == "wor":
        if N % b:
            raise ModelError(f"batch_size: the WOR epoch theory needs B to divide N = {N}, "
                             f"got {b}")
        Sg = _pop_cov(G)
        drift = drift - 0.25 * eta**2 * kappa * _grid_gradient(
            np.trace(Sg, axis1=1, axis2=2).reshape(shape), grid)        # -eta grad L_eff
        Hs = np.stack([_grid_gradient(g[a], grid) for a in range(k)])    # d_b (grad L)_a
        Hs = np.moveaxis(Hs, (0, 1), (-2, -1)).reshape(-1, k, k)
        Hs = 0.5 * (Hs + Hs.transpose(0, 2, 1))
        c = eta**4 * R**2 * (R**2 - 1) / (24 * (N - 1)) / R              # D_WOR / R, leading
        D += c * Hs @ Sg @ Hs
    return drift, np.moveaxis(D, (1, 2), (0, 1)).reshape((k, k) + shape)


def sampler_fokker_planck_model(sampler, model, data, grid, *, eta: float,
                                batch_size: int | None = None, basis=None,
                                origin=None) -> FokkerPlanckModel:
    """Fokker-Planck model (Ito, time in steps) of a sampler, evaluated on ``grid``.

    Parameters
    ----------
    sampler : Sampler or str
    model, data
        As for :func:`~fpsolve.learning.dynamics.samplers.sample`.
    grid : CartesianGrid
        The grid the model will be discretized on: the fields are tabulated at its cell
        centers (one stack of per-sample gradients), and the model serves only this grid.
    eta, batch_size : keyword-only
    basis, origin : keyword-only
        As for :func:`grid_posterior`: the chain's projection must be Markov.

    Returns
    -------
    FokkerPlanckModel

    Notes
    -----
    Drift and diffusion are the first two Kramers-Moyal moments per step at leading order:
    ULA ``a = -eta grad L``, ``D = eta I``; SGLD adds the minibatch diffusion
    ``(eta^2 / 2) kappa Sigma_g`` (:func:`~fpsolve.learning.minibatch_diffusion`), SGLDCV the
    same with the covariance of ``grad l_i - grad l_i(w_ref)``.  SGWORLD (epoch ends) uses the
    epoch-level theory of :mod:`fpsolve.learning.theory.wor` divided by ``R`` (same stationary
    density): ``a = -eta grad L_eff``, ``L_eff = L + (eta / 4) kappa tr Sigma_g``, and
    ``D = eta I + D_WOR / R`` with the leading ``D_WOR = (eta^4 / 2) R^2 (R^2 - 1) / (12 (N-1))
    H Sigma_g H``; the derivatives of ``tr Sigma_g`` and ``grad L`` are second-order finite
    differences on the grid (findiff, as for ``div D`` in the model layer).
    """
    s = as_sampler(sampler)
    eta, data = check_positive("eta", eta), as_dataset(data)
    b, _ = _batch(s, batch_size, data.N, 3)
    B, o = _embedding(model, grid, basis, origin)
    w_ref = None
    if s.control_variate:
        w_ref = (find_minimum(model, data, o).w if s.w_ref is None else np.array(s.w_ref))
    centers = grid.cell_centers()
    a, D = _sampler_fields(s, model, data, grid, eta, b, B, o, w_ref)

    def diffusion(x):
        if np.shape(x) != centers.shape or not np.array_equal(x, centers):
            raise ModelError("x: this sampler model is tabulated at the cell centers of the grid "
                             "it was built for; build another one for other points")
        return D

    return FokkerPlanckModel(a, diffusion)

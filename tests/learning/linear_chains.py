"""Test helper shared by the learning tests: the linear Gaussian chain of the SGD theory."""

from __future__ import annotations

import numpy as np


def chain(th, n_steps, n_chains, seed):
    """The linear Gaussian chain ``x' = (I - eta H) x + N(0, 2D)`` of a GaussianTheory ``th``
    from a stationary start (displacement coordinates), shape ``(n_steps + 1, n_chains, d)``."""
    rng = np.random.default_rng(seed)
    d = th.H.shape[0]
    X = np.empty((n_steps + 1, n_chains, d))
    X[0] = rng.normal(size=(n_chains, d)) @ np.linalg.cholesky(th.Sigma_disc).T
    M, L = np.eye(d) - th.eta * th.H, np.linalg.cholesky(2 * th.D)
    for k in range(n_steps):
        X[k + 1] = X[k] @ M.T + rng.normal(size=(n_chains, d)) @ L.T
    return X

"""Building blocks of the digits-ft case: noiseless directions, streamed runs, moments.

The numerics are public fpsolve API: the reduced Gaussian theory in the Hessian eigenbasis
(:func:`fpsolve.learning.theory.gaussian.reduced_gaussian_theory`, eigenbasis Lyapunov solvers of
:mod:`fpsolve.linear.symmetric`) and the regrouped stochastic entropy production
(:class:`fpsolve.learning.theory.estimators.EntropyProductionStream`).  Directions in which every
per-sample gradient of the data term vanishes identically (the softmax shift of all classes,
weights of pixels that are 0 in every image) carry no noise and are removed (basis ``Z``); the
theory lives on the orthogonal complement ``P``.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import numpy as np

from fpsolve.learning import minibatch_indices
from fpsolve.learning.theory.estimators import EntropyProductionStream
from fpsolve.learning.theory import reduced_gaussian_theory
from fpsolve.linear import orthogonal_complement as complement

try:  # ships with scikit-learn, which this case needs anyway
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


@contextmanager
def single_threaded_blas():
    """One BLAS thread: LAPACK eigensolvers slow down 10x when their threads compete with the
    numba chains (or with other jobs) on a small machine."""
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ----------------------------------------------------------------------------- null directions
def symmetry_directions(n_features, blocks, x):
    """Orthonormal basis ``(d, m)`` of the exactly noiseless directions of a classifier.

    ``blocks`` lists ``(kind, offset, rows, cols)`` parameter blocks in row-major layout:
    ``("shift", o, K, c)`` -- a ``(K, c)`` output block whose rows may all move by the same
    vector (softmax invariance); ``("input", o, h, n_features)`` -- a ``(h, n_features)`` block
    multiplying the inputs, whose columns for pixels that are 0 in every image never see data.
    """
    d = max(o + r * c for _, o, r, c in blocks)
    dead = np.flatnonzero(np.all(x == 0, axis=0))
    vecs = []
    for kind, o, rows, cols in blocks:
        for col in (range(cols) if kind == "shift" else dead):
            if kind == "shift":
                v = np.zeros(d)
                v[o + np.arange(rows) * cols + col] = 1.0
                vecs.append(v)
            else:
                for r in range(rows):
                    v = np.zeros(d)
                    v[o + r * cols + col] = 1.0
                    vecs.append(v)
    if not vecs:
        return np.zeros((d, 0))
    U, s, _ = np.linalg.svd(np.array(vecs).T, full_matrices=False)
    return U[:, s > 1e-10 * s[0]]


def null_analysis(H, D, Z, *, rtol=1e-10) -> dict:
    """How the exact null space ``Z`` and the remaining noiseless directions sit in ``(H, D)``.

    ``rtol`` relative to the largest eigenvalue of ``D`` defines "noiseless".  Reports the
    invariance residual ``|(1 - Z Z^T) H Z| / |H|`` (0: decoupled, deterministic relaxation),
    the count of further noiseless directions on the complement and how strongly ``H`` couples
    them to the noisy ones (nonzero: the linear chain moves deterministically along directions
    that the noise never reaches, its path probabilities have no time reverse, and the Gaussian
    entropy production is infinite).
    """
    P = complement(Z)
    eD, VD = np.linalg.eigh(P.T @ D @ P)
    tiny = eD < rtol * eD[-1]
    Hr = P.T @ H @ P
    N0 = VD[:, tiny]
    coupling = (np.linalg.norm(Hr @ N0 - N0 @ (N0.T @ Hr @ N0)) / np.linalg.norm(Hr)
                if N0.shape[1] else 0.0)
    hz = H @ Z
    return {"n_params": int(H.shape[0]), "n_symmetry": int(Z.shape[1]),
            "symmetry_invariance": float(np.linalg.norm(hz - Z @ (Z.T @ hz)) / np.linalg.norm(H))
            if Z.shape[1] else 0.0,
            "symmetry_noise": float(np.linalg.norm(Z.T @ D @ Z) / np.linalg.norm(D))
            if Z.shape[1] else 0.0,
            "n_extra_noiseless": int(tiny.sum()), "extra_coupling": float(coupling),
            "D_condition_active": float(eD[-1] / eD[~tiny][0])}


# ----------------------------------------------------------------------------- theory
def reduced_theory(H, D1, w, P, eta):
    """Reduced Gaussian theory at ``eta`` from ``H``, ``D1 = D / eta^2`` and the basis ``P``."""
    return reduced_gaussian_theory(H, eta**2 * D1, eta, w=w, basis=P)


def eigenvalues(th):
    """Hessian eigenvalues ``lambda (r,)`` of a reduced theory (its ``H`` is diagonal)."""
    return np.diag(th.H)


def regularized_entropy_production(H, D1, P, eta, eps) -> list:
    """Gaussian entropy production with ``D + eps (tr D / r) I`` for each ``eps``: it grows like
    ``1 / eps`` when ``D`` is singular on directions that ``H`` couples to the noisy ones."""
    r = P.shape[1]
    Dr = P.T @ D1 @ P
    out = []
    for e in eps:
        Dreg = Dr + e * np.trace(Dr) / r * np.eye(r)
        out.append(reduced_gaussian_theory(P.T @ H @ P, eta**2 * Dreg, eta).entropy_production)
    return out


# ----------------------------------------------------------------------------- runs
def chunks(advance, w, n_steps, chunk, record_every, seed):
    """Yield recorded chunks ``(chunk / record_every + 1, C, d)`` of a run continuing from ``w``.

    ``advance(w, n_steps, record_every, rng) -> SGDResult``; each chunk has its own key from
    ``SeedSequence(seed).spawn`` and starts where the last ended.
    """
    for s in np.random.SeedSequence(seed).spawn(max(1, n_steps // chunk)):
        res = advance(w, chunk, record_every, s)
        w = res.w_final
        yield res.w


class MomentAccumulator:
    """Per-chain sums of ``y`` and ``y y^T`` over thinned records ``Y (n, C, r)``."""

    def __init__(self):
        self.s1 = self.s2 = None
        self.n = 0

    def add(self, Y):
        s1, s2 = Y.sum(0), np.einsum("tci,tcj->cij", Y, Y)
        self.s1 = s1 if self.s1 is None else self.s1 + s1
        self.s2 = s2 if self.s2 is None else self.s2 + s2
        self.n += Y.shape[0]

    def covariance(self):
        """Pooled covariance about the pooled mean, and the per-chain covariances."""
        m = self.s1.sum(0) / (self.n * self.s1.shape[0])
        per = self.s2 / self.n - np.outer(m, m)
        return per.mean(0), per


def direction_variances(per_chain_cov, Sigma, k):
    """Variances along the top ``k`` eigenvectors of ``Sigma`` over theory: ratios and stderrs
    (spread of the chains), plus the full theory spectrum and the projected variances."""
    ev, V = np.linalg.eigh(Sigma)
    proj = np.einsum("ik,cij,jk->ck", V, per_chain_cov, V)      # (C, r)
    ratio = proj / ev
    mean = ratio.mean(0)
    se = ratio.std(0, ddof=1) / np.sqrt(ratio.shape[0])
    top = slice(-1, -k - 1, -1)
    return {"ratio": mean[top], "stderr": se[top], "theory": ev[top],
            "max_abs_err": float(np.abs(mean[top] - 1).max()),
            "_spectrum": ev[::-1], "_projected": proj.mean(0)[::-1],
            "_empirical_eigs": np.linalg.eigvalsh(per_chain_cov.mean(0))[::-1]}


# ----------------------------------------------------------------------------- linear chain
def linear_chain(th, G, batch_size, *, n_steps, n_chains, chunk, seed, windows,
                 noise="batch"):
    """The linearized chain ``y' = mu y + xi`` from its stationary Gaussian law, with ``xi``
    either the real minibatch noise at the minimum (``-eta`` times the batch mean of the
    centered per-sample gradients ``G (N, r)`` in eigen-coordinates, WR batches) or Gaussian
    with the same covariance ``2 D``.  Returns the ``EntropyProductionStream``."""
    rng = np.random.default_rng(seed)
    N, r = G.shape
    mu = 1.0 - th.eta * eigenvalues(th)
    # the chain runs in eigen-coordinates: the same theory read in those coordinates
    acc = EntropyProductionStream(dataclasses.replace(th, w=None, basis=None), windows)
    y = rng.standard_normal((n_chains, r)) @ np.linalg.cholesky(th.Sigma_disc).T
    LQ = np.linalg.cholesky(2.0 * th.D)
    for c0 in range(0, n_steps, chunk):
        Y = np.empty((chunk + 1, n_chains, r))
        Y[0] = y
        if noise == "batch":
            idx = np.stack([minibatch_indices(N, batch_size, chunk, rng=seed, chain=c, step0=c0)
                            for c in range(n_chains)], axis=1)          # (chunk, C, B)
            xi = -th.eta * G[idx].mean(axis=2)
        else:
            xi = rng.standard_normal((chunk, n_chains, r)) @ LQ.T
        for t in range(chunk):
            Y[t + 1] = mu * Y[t] + xi[t]
        y = Y[-1]
        acc.add(Y)
    return acc

"""Building blocks of the digits-ft case: reduced Gaussian theory and streamed stationary runs.

Pure functions and small accumulators; ``runs.py`` and ``compute.py`` string them together.

*Reduced theory.*  Directions in which every per-sample gradient of the data term vanishes
identically (the softmax shift ``W_k -> W_k + u`` of all classes, weights of pixels that are 0 in
every image) carry no noise (``D v = 0``) and are eigenvectors of ``H`` with eigenvalue
``N lam`` (the prior only): SGD relaxes along them deterministically to 0.  They are removed
(basis ``Z``); the theory lives on the orthogonal complement ``P``.  There, with
``H_r = V diag(lam) V^T``, the continuous and discrete Lyapunov equations are diagonal in the
eigenbasis of ``H_r``:

    Sigma_ij = (2 / eta) D_ij / (lam_i + lam_j),      Sigma_disc_ij = 2 D_ij / (1 - mu_i mu_j),

``mu = 1 - eta lam``, ``D`` in eigen-coordinates.  One symmetric eigendecomposition, O(d^3) with a
small constant, replaces Bartels-Stewart's Schur decompositions (cross-checked in runs.py).

*Entropy production of the linear chain.*  With ``M = I - eta H``, ``Q = 2 D``, the exact-chain
stochastic entropy production of a window (``form="exact"`` of
:func:`fpsolve.learning.entropy_production_windows`) rearranges to

    dS = sum_t (y_{t+1} - y_t) . A y_t + (1/2) [q(y_end) - q(y_start)],
    A = Q^-1 M - M Q^-1,   q(y) = y . B y,   B = Sigma_disc^-1 - Q^-1 + M Q^-1 M,

(``A`` antisymmetric; the ``Q^-1`` terms that grow like ``1 / (eta lam)`` cancel analytically,
so the result is well conditioned, and ``B = 0`` at detailed balance).  Per step it costs two
products with ``r x r`` matrices, done as one GEMM per recorded chunk.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from fpsolve.learning import minibatch_indices

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


def complement(Z):
    """Orthonormal basis ``(d, d - m)`` of the orthogonal complement of ``Z (d, m)``."""
    U = np.linalg.svd(Z, full_matrices=True)[0] if Z.shape[1] else np.eye(Z.shape[0])
    return U[:, Z.shape[1]:]


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
@dataclass
class ReducedTheory:
    """Gaussian theory of SGD on the complement of the noiseless directions (module docstring).

    Matrices are in eigen-coordinates ``y = (w - w*) @ T``, ``T = P V`` (``d x r``).  When
    ``D`` is singular the entropy productions are ``inf`` and ``A``, ``B`` are None.
    """

    eta: float
    w: np.ndarray
    T: np.ndarray
    lam: np.ndarray
    D: np.ndarray
    Sigma: np.ndarray
    Sigma_disc: np.ndarray
    C: np.ndarray
    entropy_production: float
    entropy_production_exact: float
    A: np.ndarray
    B: np.ndarray
    seconds: float

    @property
    def mu(self):
        return 1.0 - self.eta * self.lam

    def coordinates(self, W):
        """``y = (W - w*) @ T`` for parameters of any leading shape."""
        return (np.asarray(W) - self.w) @ self.T


def reduced_theory(H, D1, w, P, eta) -> ReducedTheory:
    """Theory at ``eta`` from the Hessian ``H``, ``D1 = D / eta^2`` and the basis ``P``."""
    t0 = time.perf_counter()
    lam, V = np.linalg.eigh(P.T @ H @ P)
    if lam[0] <= 0 or eta * lam[-1] >= 2:
        raise ValueError(f"not a stable minimum: eta lam in [{eta * lam[0]}, {eta * lam[-1]}]")
    T = P @ V
    Dt = eta**2 * (T.T @ D1 @ T)
    Dt = 0.5 * (Dt + Dt.T)
    mu = 1.0 - eta * lam
    S = (2.0 / eta) * Dt / (lam[:, None] + lam[None, :])
    Sd = 2.0 * Dt / (1.0 - mu[:, None] * mu[None, :])
    C = 0.5 * eta * (lam[:, None] - lam[None, :]) * S
    try:
        L = sla.cholesky(Dt, lower=True)
    except np.linalg.LinAlgError:   # noiseless directions coupled by H: no time reverse
        return ReducedTheory(eta, np.asarray(w, float), T, lam, Dt, S, Sd, C, np.inf, np.inf,
                             None, None, time.perf_counter() - t0)
    R = sla.cholesky(S, lower=True)
    X = sla.solve_triangular(R, sla.solve_triangular(L, C, lower=True).T, lower=True)
    ep = float(np.sum(X * X))                      # -tr(C D^-1 C Sigma^-1)
    Qi = sla.cho_solve((L, True), np.eye(lam.size)) / 2.0
    Qi = 0.5 * (Qi + Qi.T)
    Sdi = sla.cho_solve((sla.cholesky(Sd, lower=True), True), np.eye(lam.size))
    p = 1.0 - mu**2
    Rm = p[:, None] * Sd * p[None, :] + mu[:, None] * (2.0 * Dt) * mu[None, :]
    ep_exact = 0.5 * (float(np.sum(Qi * Rm)) - lam.size)
    A = Qi * (mu[None, :] - mu[:, None])
    B = 0.5 * (Sdi + Sdi.T) - Qi + mu[:, None] * Qi * mu[None, :]
    return ReducedTheory(eta, np.asarray(w, float), T, lam, Dt, S, Sd, C, ep, ep_exact, A, B,
                         time.perf_counter() - t0)


def regularized_entropy_production(H, D1, P, eta, eps) -> list:
    """Gaussian entropy production with ``D + eps (tr D / r) I`` for each ``eps``: it grows like
    ``1 / eps`` when ``D`` is singular on directions that ``H`` couples to the noisy ones."""
    r = P.shape[1]
    Dr = P.T @ D1 @ P
    out = []
    for e in eps:
        Dreg = Dr + e * np.trace(Dr) / r * np.eye(r)
        out.append(reduced_theory(P.T @ H @ P, Dreg, np.zeros(r), np.eye(r), eta)
                   .entropy_production)
    return out


def gaussian_start(th: ReducedTheory, n, rng):
    """``n`` draws of ``w* + T y``, ``y ~ N(0, Sigma_disc)``: the linear chain's stationary law."""
    L = np.linalg.cholesky(th.Sigma_disc)
    y = np.random.default_rng(rng).standard_normal((n, th.lam.size)) @ L.T
    return th.w + y @ th.T.T


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


class EntropyAccumulator:
    """Stochastic entropy production of every step and of windows, streamed over chunks.

    ``add(Y)`` takes eigen-coordinates ``Y (m + 1, C, r)`` of consecutive steps (each chunk
    starting where the previous one ended).  Window ``k`` values ``dS`` are kept for every ``k``
    in ``windows`` (windows do not straddle chunks).
    """

    def __init__(self, th: ReducedTheory, windows):
        self.th, self.windows = th, tuple(windows)
        self.AB = np.hstack([th.A.T, th.B])
        self.samples = {k: [] for k in self.windows}
        self.total, self.steps, self.q_first, self.q_last = None, 0, None, None
        self.seconds = 0.0

    def add(self, Y):
        t0 = time.perf_counter()
        m, C, r = Y.shape[0] - 1, Y.shape[1], Y.shape[2]
        U = (Y.reshape(-1, r) @ self.AB).reshape(m + 1, C, 2 * r)
        s = np.einsum("tci,tci->tc", Y[1:] - Y[:-1], U[:-1, :, :r])
        q = np.einsum("tci,tci->tc", Y, U[:, :, r:])
        self.total = s.sum(0) if self.total is None else self.total + s.sum(0)
        if self.q_first is None:
            self.q_first = q[0]
        self.q_last, self.steps = q[-1], self.steps + m
        for k in self.windows:
            nw = m // k
            if nw:
                ds = s[:nw * k].reshape(nw, k, C).sum(1) + 0.5 * (q[k:nw * k + 1:k]
                                                                   - q[:nw * k:k])
                self.samples[k].append(ds)
        self.seconds += time.perf_counter() - t0

    def chain_rates(self):
        """Entropy production per step of each chain over its whole run, ``(C,)``."""
        return (self.total + 0.5 * (self.q_last - self.q_first)) / self.steps

    def window_samples(self, k):
        return np.concatenate(self.samples[k]) if self.samples[k] else np.zeros((0, 1))


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
def linear_chain(th: ReducedTheory, G, batch_size, *, n_steps, n_chains, chunk, seed, windows,
                 noise="batch"):
    """The linearized chain ``y' = mu y + xi`` from its stationary Gaussian law, with ``xi``
    either the real minibatch noise at the minimum (``-eta`` times the batch mean of the
    centered per-sample gradients ``G (N, r)`` in eigen-coordinates, WR batches) or Gaussian
    with the same covariance ``2 D``.  Returns the :class:`EntropyAccumulator`."""
    rng = np.random.default_rng(seed)
    N, r = G.shape
    acc = EntropyAccumulator(th, windows)
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
            Y[t + 1] = th.mu * Y[t] + xi[t]
        y = Y[-1]
        acc.add(Y)
    return acc

"""Stationary SGD experiments near a minimum: the numbers behind the regression validation cases.

Pure functions (no files, no figures, no printing) shared by ``validation/regression-wr`` and
``validation/regression-wor``:

* :func:`regression_problem` -- the paper's tanh network at the Newton minimum of a data set;
* :func:`diffusion_agreement` -- per-step ``D`` from per-sample gradients against one-step
  displacements, with the standard error of every entry;
* :func:`step_entropy_forms` -- the single-step entropy production of
  :func:`~fpsolve.learning.theory.estimators.entropy_production_windows` as a quadratic form
  ``sigma = u^T K u + c`` of ``u = (x_n, x_{n+1} - x_n)``, so that its mean over 10^9 steps
  needs only the second moments of ``u`` (one batched matrix product per chunk);
* :func:`stationary_chunks` -- long stationary SGD runs (burn-in, many chains, fresh Philox
  keys per chunk) streamed as recorded trajectory chunks;
* :func:`stationary_run` -- two-point moments and windowed entropy production accumulated over
  those chunks (:class:`StationaryRun`);
* :func:`wr_stationary_shift` -- the O(eta) shift of the WR stationary mean by the cubic part of
  the loss; :func:`epoch_noise_scaling` -- per-epoch displacement covariance against ``eta``.

Standard errors come from the spread between independent chains (never from correlated steps),
except the IFT's: ``E[exp(-sigma_n) | x_n] = 1`` for the Gaussian chain, so the terms
``exp(-sigma_n) - 1`` of successive windows are uncorrelated and the plain error is right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FpsolveError
from .data.datasets import as_dataset
from .theory.estimators import entropy_production_windows
from .models.gradient import GradientModel, RegressionNetwork
from .dynamics.schedules import minibatch_indices
from .dynamics.sgd import sgd
from .theory import empirical_diffusion, find_minimum, gaussian_theory, minibatch_diffusion
from .theory.wor import wor_epoch_statistics

__all__ = ["PAPER_START", "RegressionProblem", "regression_problem", "diffusion_agreement",
           "step_entropy_forms", "stationary_chunks", "WindowStatistics", "StationaryRun",
           "stationary_run", "wr_stationary_shift", "epoch_noise_scaling", "loglog_slope"]

#: Start of Newton's method near the paper's minimum, ``(w1, ..., w7)``.
PAPER_START = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
_FD_STEP = np.finfo(float).eps ** (1 / 3)  # central differences: truncation vs round-off


@dataclass(frozen=True)
class RegressionProblem:
    """A model, its training set, the minimum of the full loss (``H`` there) and ``B``."""

    model: GradientModel
    data: object
    minimum: object
    batch_size: int

    @property
    def w(self) -> np.ndarray:
        return self.minimum.w

    @property
    def H(self) -> np.ndarray:
        return self.minimum.H

    def theory(self, eta: float):
        """:class:`~fpsolve.learning.theory.gaussian.GaussianTheory` at the minimum for ``eta``."""
        D = minibatch_diffusion(self.model, self.data, self.w, eta=eta,
                                batch_size=self.batch_size)
        return gaussian_theory(self.H, D, eta)


def regression_problem(data, *, batch_size: int = 10, hidden: int = 2, s: float = 0.1,
                       lam: float = 1e-3, w0=None) -> RegressionProblem:
    """The tanh network ``RegressionNetwork(hidden, s=s, lam=lam)`` at its minimum on ``data``.

    ``w0`` (default :data:`PAPER_START`) starts :func:`~fpsolve.learning.find_minimum`.

    Examples
    --------
    >>> from fpsolve.learning import paper_regression
    >>> from fpsolve.learning.studies import regression_problem
    >>> p = regression_problem(paper_regression(0))
    >>> p.minimum.converged, p.w.shape
    (True, (7,))
    """
    model = RegressionNetwork(hidden, s=s, lam=lam)
    data = as_dataset(data)
    start = PAPER_START if w0 is None else w0
    return RegressionProblem(model, data, find_minimum(model, data, start), int(batch_size))


def diffusion_agreement(problem, eta: float, *, n: int, rng: int) -> dict:
    """Per-step ``D`` from per-sample gradients against ``n`` one-step WR displacements.

    Returns ``D`` (:func:`~fpsolve.learning.theory.gaussian.minibatch_diffusion`), ``D_emp``
    (:func:`~fpsolve.learning.empirical_diffusion`), ``stderr`` (the standard error of
    every entry of ``D_emp``, from the same displacements' own fourth moments) and ``corr``
    (the correlation matrix of ``D``).  ``rng`` must be an int: the batches are drawn twice.
    """
    model, data, w, B = problem.model, problem.data, problem.w, problem.batch_size
    G = model.per_sample_gradients(w, data)
    idx = minibatch_indices(G.shape[0], B, n, schedule="wr", rng=rng)
    dw = np.concatenate([-eta * G[idx[i:i + 2**15]].mean(axis=1)
                         for i in range(0, n, 2**15)])
    dw -= dw.mean(axis=0)
    stderr = 0.5 * (dw[:, :, None] * dw[:, None, :]).std(axis=0, ddof=1) / np.sqrt(n)
    D = minibatch_diffusion(model, data, w, eta=eta, batch_size=B)
    sd = np.sqrt(np.diag(D))
    return {"D": D, "stderr": stderr, "corr": D / np.outer(sd, sd),
            "D_emp": empirical_diffusion(model, data, w, eta=eta, batch_size=B, n=n, rng=rng)}


def step_entropy_forms(theory, forms=("exact", "midpoint", "prepoint")) -> dict:
    """``{form: (K (2d, 2d), c)}`` with ``sigma_n = u^T K u + c``, ``u = (x_n, x_{n+1} - x_n)``.

    ``sigma_n`` is the single-step entropy production of
    :func:`~fpsolve.learning.theory.estimators.entropy_production_windows` (system part included), a
    quadratic polynomial without linear part in every form; ``K`` is read off by polarization
    at points scaled to the stationary spread of ``x`` and of the step.  The step coordinates
    keep the form well conditioned: in ``(x_n, x_{n+1})`` its ``D^-1`` terms of size
    ``1 / (eta lambda)`` would cancel to the O(1) result.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.theory import gaussian_theory
    >>> from fpsolve.learning.studies import step_entropy_forms
    >>> th = gaussian_theory(np.diag([1.0, 2.0]), [[0.01, 0.005], [0.005, 0.02]], 0.1)
    >>> K, c = step_entropy_forms(th)["prepoint"]
    >>> K.shape, round(c, 12)   # the constant is -eta tr H
    ((4, 4), -0.3)
    """
    d = theory.H.shape[0]
    a = np.r_[np.sqrt(np.diag(theory.Sigma_disc)), np.sqrt(2 * np.diag(theory.D))]
    i, j = np.triu_indices(2 * d)
    U = np.zeros((1 + i.size, 2 * d))
    U[1 + np.arange(i.size), i] += a[i]
    U[1 + np.arange(i.size), j] += a[j]     # diagonal pairs: 2 a_i e_i
    out = {}
    for form in forms:
        X = np.stack([U[:, :d], U[:, :d] + U[:, d:]])
        s = entropy_production_windows(X, theory, window=1, form=form)[0]
        c, q = s[0], s[1:] - s[0]             # q = u^T K u at each point
        diag = q[i == j] / (4 * a**2)
        Q = np.zeros((2 * d, 2 * d))
        Q[i, j] = (q - diag[i] * a[i]**2 - diag[j] * a[j]**2) / (2 * a[i] * a[j])
        K = Q + Q.T
        K[np.diag_indices(2 * d)] = diag
        out[form] = (K, float(c))
    return out


def stationary_chunks(problem, *, eta: float, n_chains: int, burn_in: int, n_steps: int,
                      chunk: int, schedule: str = "wr", record_every: int = 1, rng=0,
                      w0=None):
    """Yield the recorded chunks ``X (chunk / record_every + 1, C, d)`` of stationary SGD.

    ``n_chains`` chains start at ``w0`` (default the minimum), run ``burn_in`` unrecorded steps,
    then ``n_steps`` steps in chunks of ``chunk`` (both multiples of ``record_every``); each
    chunk starts where the last ended, with its own key from ``SeedSequence(rng).spawn``.  For
    ``"wor"`` every chunk starts a fresh epoch (make ``chunk`` a multiple of ``N / B``).
    """
    if chunk % record_every or n_steps % chunk or burn_in % record_every:
        raise FpsolveError(f"chunk: expected record_every | chunk | n_steps and record_every "
                           f"| burn_in, got {record_every}, {chunk}, {n_steps}, {burn_in}")
    seeds = np.random.SeedSequence(rng).spawn(1 + n_steps // chunk)
    w = problem.w if w0 is None else np.asarray(w0, dtype=float)
    kw = {"eta": eta, "batch_size": problem.batch_size, "n_chains": n_chains, "schedule": schedule}
    if burn_in:
        w = sgd(problem.model, problem.data, w, n_steps=burn_in, record_every=burn_in,
                rng=seeds[0], **kw).w_final
    for seed in seeds[1:]:
        res = sgd(problem.model, problem.data, w, n_steps=chunk, record_every=record_every,
                  rng=seed, **kw)
        w = res.w_final
        yield res.w


@dataclass(frozen=True)
class WindowStatistics:
    """Entropy production over windows of ``window`` steps, pooled over a stationary run.

    ``n`` windows; ``mean``, ``var`` of ``dS``; ``ift`` = mean of ``exp(-dS)``, ``ift_stderr``
    its plain standard error and ``ift_stderr_chains`` that from the spread of the chains'
    means; ``samples`` an evenly strided subset of ``dS`` (for histograms and
    :func:`~fpsolve.stochastic.fluctuation.fluctuation_test`).
    """

    form: str
    window: int
    n: int
    mean: float
    var: float
    ift: float
    ift_stderr: float
    ift_stderr_chains: float
    samples: np.ndarray


@dataclass(frozen=True)
class StationaryRun:
    """Two-point moments and windowed entropy production of a stationary run.

    ``n_pairs`` recorded steps ``u = (x_t, x_{t+1} - x_t)`` per chain, ``x = w - center``;
    ``sum_u (C, 2d)`` and ``sum_uu (C, 2d, 2d)`` the per-chain sums of ``u`` and ``u u^T``;
    ``windows`` maps ``(form, window)`` to :class:`WindowStatistics`; ``cloud`` a thinned
    sample of ``x``.
    """

    center: np.ndarray
    n_pairs: int
    sum_u: np.ndarray
    sum_uu: np.ndarray
    windows: dict
    cloud: np.ndarray

    @property
    def d(self) -> int:
        return self.center.size

    def chain_means(self) -> np.ndarray:
        """Per-chain means of ``x``, shape ``(C, d)``."""
        return self.sum_u[:, :self.d] / self.n_pairs

    def mean(self):
        """Mean of ``x`` and its standard error (between chains), each ``(d,)``."""
        return _pooled(self.chain_means())

    def covariance(self):
        """Covariance of ``x`` (pooled second moment minus the pooled mean) and stderrs."""
        m = self.sum_u[:, :self.d].sum(axis=0) / (self.n_pairs * self.sum_u.shape[0])
        per = self.sum_uu[:, :self.d, :self.d] / self.n_pairs - np.outer(m, m)
        return _pooled(per)

    def area_velocity(self):
        """``A = antisym <x_t (x_{t+1} - x_t)^T>`` per recorded interval, and stderrs."""
        K = self.sum_uu[:, :self.d, self.d:] / self.n_pairs
        return _pooled(0.5 * (K - K.transpose(0, 2, 1)))

    def mean_quadratic(self, K, c=0.0):
        """Mean of ``u^T K u + c`` over all steps (e.g. a form of :func:`step_entropy_forms`)
        and its standard error."""
        return _pooled(np.einsum("cij,ij->c", self.sum_uu, K) / self.n_pairs + c)


def stationary_run(problem, chunks, *, n_chunks: int, center=None, entropy=None,
                   max_samples: int = 10**6, n_cloud: int = 20_000) -> StationaryRun:
    """Accumulate a :class:`StationaryRun` over the ``n_chunks`` chunks of
    :func:`stationary_chunks`.

    ``entropy`` maps a form to ``(K, c, windows, n)``: ``(K, c)`` from
    :func:`step_entropy_forms`, the window lengths to evaluate on each chunk (a window does not
    straddle chunks) and the number of leading chunks to use (None: all).  About
    ``max_samples`` evenly strided window values are kept per ``(form, window)``.
    """
    center = problem.w if center is None else np.asarray(center, dtype=float)
    acc, win, cloud = None, {}, []
    for i, X in enumerate(chunks):
        x = X[:-1] - center
        dx = np.diff(X, axis=0)
        u = np.concatenate([x, dx], axis=-1).transpose(1, 0, 2)      # (C, m, 2d)
        part = [u.sum(axis=1), u.transpose(0, 2, 1) @ u, u.shape[1]]
        acc = part if acc is None else [a + b for a, b in zip(acc, part)]
        cloud.append(x[::max(1, x.shape[0] // 4)].reshape(-1, x.shape[-1]))
        for form, (K, c, windows, n_use) in (entropy or {}).items():
            if n_use is None or i < n_use:
                total = u.shape[0] * u.shape[1] * (n_chunks if n_use is None else n_use)
                _add_windows(win, form, _step_sigma(x, dx, K, c), windows, total, max_samples)
    cloud = np.concatenate(cloud)
    cloud = cloud[::max(1, cloud.shape[0] // n_cloud)]
    stats = {key: _window_summary(key, *v) for key, v in win.items()}
    return StationaryRun(center, acc[2], acc[0], acc[1], stats, cloud)


def _step_sigma(x, dx, K, c) -> np.ndarray:
    """``u_t^T K u_t + c`` for ``u_t = (x_t, dx_t)``, arrays ``(m, C, d)``: shape (m, C)."""
    d = x.shape[-1]
    Ux = (x.reshape(-1, d) @ K[:d]).reshape(x.shape[:-1] + (2 * d,))
    Ud = (dx.reshape(-1, d) @ K[d:, d:]).reshape(x.shape)
    return (np.einsum("tci,tci->tc", x, Ux[..., :d])
            + 2 * np.einsum("tci,tci->tc", dx, Ux[..., d:])
            + np.einsum("tci,tci->tc", dx, Ud) + c)


def _add_windows(win, form, sigma, windows, total, max_samples) -> None:
    """Sum the per-step ``sigma (m, C)`` over windows; update the sums and strided samples."""
    m, C = sigma.shape
    for k in windows:
        nw = m // k
        if nw == 0:
            continue
        S = sigma[:nw * k].reshape(nw, k, C).sum(axis=1)
        e = np.exp(-S)
        stride = max(1, total // (k * max_samples))
        new = [e.sum(0), (e * e).sum(0), S.sum(0), (S * S).sum(0), nw, [S[::stride].ravel()]]
        old = win.get((form, k))
        win[(form, k)] = new if old is None else (
            [a + b for a, b in zip(old[:5], new[:5])] + [old[5] + new[5]])


def _window_summary(key, e1, e2, s1, s2, n, samples) -> WindowStatistics:
    C = e1.size
    N = n * C
    ift = e1.sum() / N
    var = s2.sum() / N - (s1.sum() / N) ** 2
    ift_se = np.sqrt(max(e2.sum() / N - ift**2, 0.0) / N)
    return WindowStatistics(key[0], key[1], N, float(s1.sum() / N), float(var * N / (N - 1)),
                            float(ift), float(ift_se),
                            float((e1 / n).std(ddof=1) / np.sqrt(C)),
                            np.concatenate(samples))


def _pooled(per_chain):
    """Mean over chains (axis 0) and its standard error."""
    per_chain = np.asarray(per_chain, dtype=float)
    return per_chain.mean(axis=0), per_chain.std(axis=0, ddof=1) / np.sqrt(per_chain.shape[0])


def wr_stationary_shift(problem, Sigma) -> np.ndarray:
    """O(eta) shift of the stationary mean of WR SGD by the cubic part of the loss.

    WR minibatch gradients are unbiased, so the stationary state has ``<grad L(w)> = 0``;
    expanding around the mean ``w* + delta`` with fluctuations of covariance ``Sigma``,
    ``H delta + (1/2) grad tr(H(w) Sigma) = 0``: ``delta = -(1/2) H^-1 grad tr(H(w*) Sigma)``
    (central differences of the exact Hessian), with relative corrections O(eta).
    """
    w, d = problem.w, problem.w.size
    g = np.empty(d)
    for k in range(d):
        e = np.zeros(d)
        e[k] = _FD_STEP * (1.0 + abs(w[k]))
        hp = problem.model.hessian(w + e, problem.data)
        hm = problem.model.hessian(w - e, problem.data)
        g[k] = np.sum((hp - hm) * Sigma) / (2 * e[k])
    return -0.5 * np.linalg.solve(problem.H, g)


def epoch_noise_scaling(problem, etas, *, n_perm: int, rng: int = 0) -> dict:
    """Trace of the one-epoch displacement covariance from the minimum, WOR and WR, per eta.

    Returns lists ``eta``, ``wor``, ``wr`` (traces of
    :func:`~fpsolve.learning.wor_epoch_statistics` covariances, ``replace=False/True``) and
    ``rel_stderr = sqrt(2 / n_perm)``, the relative standard error of a Gaussian trace
    dominated by one direction (an upper bound otherwise).
    """
    out = {"eta": [], "wor": [], "wr": []}
    for i, eta in enumerate(etas):
        for key, replace in (("wor", False), ("wr", True)):
            st = wor_epoch_statistics(problem.model, problem.data, problem.w, eta=eta,
                                      batch_size=problem.batch_size, n_perm=n_perm,
                                      rng=rng + i, replace=replace)
            out[key].append(float(np.trace(st.cov)))
        out["eta"].append(float(eta))
    out["rel_stderr"] = float(np.sqrt(2.0 / n_perm))
    return out


def loglog_slope(x, y):
    """Least-squares slope of ``log y`` against ``log x`` and its standard error."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    A = np.c_[lx, np.ones_like(lx)]
    coef, res, *_ = np.linalg.lstsq(A, ly, rcond=None)
    dof = max(lx.size - 2, 1)
    s2 = float(res[0]) / dof if res.size else 0.0
    cov = s2 * np.linalg.inv(A.T @ A)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))

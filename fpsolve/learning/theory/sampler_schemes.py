"""Step rules beyond Euler-Maruyama for the samplers, and their exact stationary moments.

A *step rule* (:class:`StepRule`) fixes how one step of a sampler uses its batch: the batch
schedule (``"full"``, ``"wr"``, ``"wor"``, ``"wor-palindromic"`` -- epoch ``2k + 1`` walks the
batches of epoch ``2k`` backwards), the noise (``"euler"``: ``sqrt(2 eta) xi_t``; ``"lm"``:
Leimkuhler-Matthews ``sqrt(eta / 2) (xi_t + xi_{t+1})``) and the step (``"euler"`` or the
stochastic ``"midpoint"``).  On a quadratic loss every rule is an affine map with random
coefficients ``x' = A_k x + u_k + N(0, Q_k)``:

==============  ==========================================  ==================================
step / noise    ``A_k``, ``u_k``                             ``Q_k``
==============  ==========================================  ==================================
euler / euler   ``I - eta H_k``, ``-eta q_k``                 ``2 eta I``
euler / lm      same (chain ``y = x - sqrt(eta/2) xi_t``)      ``2 eta (I - eta H_k / 2)^2``
midpoint        ``I - eta H_k + eta^2 H_k^2 / 2``,           ``2 eta (I - eta H_k / 2)^2
                ``-eta (I - eta H_k / 2) q_k``                + eta^3 H_k^2 / 2``
==============  ==========================================  ==================================

(``alpha``, ``gamma``, ``beta``, ``zeta`` of :mod:`~._kernels` are the coefficients of
``eta^2 H_k^2``, ``eta^2 H_k q_k``, ``-eta^2 H_k / 2`` and ``eta^3 H_k^2 / 2`` in those columns.)
The midpoint step evaluates the batch gradient twice, on the same batch, with two independent
normal draws ``xi``, ``xi'``::

    w~ = w - (eta / 2) g_k(w) + sqrt(eta / 2) (xi + xi'),    w' = w - eta g_k(w~) + sqrt(2 eta) xi.

The shared ``xi`` gives the ``-eta^2 H_k`` of the noise that the ``eta^2 H_k^2 / 2`` of the drift
needs; ``xi'`` makes ``E[(w~ - w)(w~ - w)^T] = eta I``, so that the third derivatives of a
non-quadratic loss enter the mean step as in the exact flow (weak order 2 with the full gradient;
on a quadratic loss ``xi'`` only adds the ``O(eta^3)`` noise ``eta^3 H_k^2 / 2``).  Its first-order
bias vanishes on WOR schedules (:func:`rule_first_order_bias`, derivation on docs/sgworld.md);
:func:`rule_moments` gives the stationary moments of any rule on a WOR schedule by the
permutation Monte Carlo of :mod:`~.sampler_moments` with control variates, and
:func:`full_gradient_covariance` in closed form for the full gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ...errors import FpsolveError, ModelError
from . import _kernels as _ks
from ..dynamics.samplers import as_sampler
from ..dynamics.schedules import epoch_layout
from .gaussian import _population_covariance

__all__ = ["NOISES", "SCHEDULES", "STEPS", "StepRule", "check_rule_batch", "cv_expectations",
           "full_gradient_covariance", "rule_first_order_bias", "rule_moments", "step_rule"]

SCHEDULES = ("full", "wr", "wor", "wor-palindromic")
NOISES = ("euler", "lm")
STEPS = ("euler", "midpoint")


@dataclass(frozen=True)
class StepRule:
    """Schedule, noise and step of a sampler (module docstring).

    Attributes
    ----------
    schedule : {"full", "wr", "wor", "wor-palindromic"}
    noise : {"euler", "lm"}
    step : {"euler", "midpoint"}
    control_variate : bool
        SGLDCV's gradient estimate (``w_ref`` at the minimum unless the sampler gives one).
    """

    schedule: str = "wor"
    noise: str = "euler"
    step: str = "euler"
    control_variate: bool = False

    def __post_init__(self):
        for name, value, allowed in (("schedule", self.schedule, SCHEDULES),
                                     ("noise", self.noise, NOISES), ("step", self.step, STEPS)):
            if value not in allowed:
                raise FpsolveError(f"{name}: expected one of {allowed}, got {value!r}")
        if self.step == "midpoint" and self.noise != "euler":
            raise FpsolveError("noise: the midpoint step carries its own noise; expected "
                               f"noise='euler' with step='midpoint', got {self.noise!r}")

    @property
    def classical(self) -> bool:
        """Euler steps and noise on a plain schedule (ULA, SGLD, SGLDCV, SGWORLD)."""
        return self.noise == "euler" and self.step == "euler" and self.schedule != \
            "wor-palindromic"

    @property
    def coefficients(self) -> tuple[float, float, float, float]:
        """``(alpha, gamma, beta, zeta)`` of the affine step (module docstring)."""
        if self.step == "midpoint":
            return 0.5, 0.5, 2.0, 1.0
        return 0.0, 0.0, 2.0 if self.noise == "lm" else 0.0, 0.0

    @property
    def offset(self) -> float:
        """``Cov x - Cov y`` in units of ``eta I``: ``1/2`` for LM noise (``x = y + sqrt(eta/2)
        xi``, ``xi`` independent of ``y``), else 0."""
        return 0.5 if self.noise == "lm" else 0.0

    def order(self, R: int) -> np.ndarray:
        """Batch indices of one period of the schedule (one epoch, two when palindromic)."""
        k = np.arange(R, dtype=np.int64)
        return np.concatenate([k, k[::-1]]) if self.schedule == "wor-palindromic" else k


def step_rule(sampler=None, *, rule=None) -> StepRule:
    """The :class:`StepRule` of ``sampler`` (attributes ``schedule``, ``noise`` -- default
    ``"euler"`` -- and ``step`` -- default ``"euler"``), or ``rule`` (a StepRule or a dict of
    its fields) when given; a dict ``rule`` overrides the sampler's fields."""
    if isinstance(rule, StepRule):
        return rule
    if rule is not None and not isinstance(rule, dict):
        raise FpsolveError(f"rule: expected a StepRule, a dict or None, got {rule!r}")
    base = {}
    if sampler is not None:
        s = as_sampler(sampler)
        base = dict(schedule=s.schedule, noise=getattr(s, "noise", "euler"),
                    step=getattr(s, "step", "euler"), control_variate=s.control_variate)
    return StepRule(**(base | (rule or {})))


def check_rule_batch(rule: StepRule, batch_size, N) -> tuple[int, int]:
    """``(B, R)`` for ``rule``; WOR rules need ``B | N`` (the epoch theory)."""
    b, R, dropped = epoch_layout(rule.schedule, batch_size, N, f"schedule {rule.schedule!r}")
    if dropped:
        raise ModelError(f"batch_size: the epoch theory needs B to divide N = {N}, got {b}")
    return b, R


# ----------------------------------------------------------------------------- first order
def rule_first_order_bias(lin, rule: StepRule, b: int) -> tuple[np.ndarray, np.ndarray]:
    """O(eta) coefficients ``(m1, X)`` of ``rule`` on the linearization ``lin``.

    Notes
    -----
    ``H X + X H = Y`` with ``Y = (1 + 2 alpha - beta + 2 offset) H + Y_b``:

    * full gradient: ``Y_b = 0``;
    * WR: ``Y_b = kappa (Sigma_q + Lh(H^-1)) + alpha kappa (C_hh H^-1 + H^-1 C_hh)``;
    * WOR, forward or palindromic: ``Y_b = kappa (alpha - 1/2) (C_hh H^-1 + H^-1 C_hh)``;

    and ``m1 = kappa (gamma - 1/2) H^-1 C_hq`` (WOR), ``gamma kappa H^-1 C_hq`` (WR), 0 (full).
    Euler: ``alpha = gamma = beta = 0``; LM: ``beta = 2``, ``offset = 1/2``; midpoint:
    ``alpha = gamma = 1/2``, ``beta = 2`` -- so only the midpoint step on a WOR schedule has
    ``Y = 0`` and ``m1 = 0``.  Derivation on docs/sgworld.md.
    """
    (N, d), H = lin.q.shape, lin.H
    Sigma = np.linalg.inv(H)
    alpha, gamma, beta, _ = rule.coefficients
    kappa, dh = (N - b) / (b * (N - 1)), lin.h - H
    C_hh = np.einsum("nij,njk->ik", dh, dh) / N
    C_hq = np.einsum("nij,nj->i", dh, lin.q) / N
    sym = C_hh @ Sigma + Sigma @ C_hh
    Y, m1 = (1 + 2 * alpha - beta + 2 * rule.offset) * H, np.zeros(d)
    if rule.schedule == "wr":
        Lh = np.einsum("nij,jk,nkl->il", dh, Sigma, dh) / N
        Y = Y + kappa * (_population_covariance(lin.q) + Lh) + alpha * kappa * sym
        m1 = gamma * kappa * Sigma @ C_hq
    elif rule.schedule.startswith("wor"):
        Y = Y + kappa * (alpha - 0.5) * sym
        m1 = kappa * (gamma - 0.5) * Sigma @ C_hq
    X = sla.solve_sylvester(H, H, Y)
    return m1, 0.5 * (X + X.T)


def full_gradient_covariance(H, eta, rule: StepRule) -> np.ndarray:
    """Exact stationary covariance of ``rule`` with the full gradient.

    Per eigenvalue ``lambda`` of ``H`` (``u = eta lambda``), ``p = eta (2 (1 - beta u / 4)^2
    + zeta u^2 / 2) / (1 - a^2) + offset eta`` with ``a = 1 - u + alpha u^2``: LM gives
    ``p = 1 / lambda`` exactly, the midpoint step ``p = (1 + u^3 / 8 + O(u^4)) / lambda``.
    """
    lam, V = np.linalg.eigh(H)
    alpha, _, beta, zeta = rule.coefficients
    u = eta * lam
    a = 1 - u + alpha * u**2
    if np.abs(a).max() >= 1:
        raise FpsolveError(f"eta: {rule.step} steps diverge at eta = {eta:.4g} (|1 - eta lambda "
                           f"+ alpha (eta lambda)^2| = {np.abs(a).max():.6g} >= 1)")
    p = eta * (2 * (1 - 0.25 * beta * u) ** 2 + 0.5 * zeta * u**2) / (1 - a**2) \
        + rule.offset * eta
    P = (V * p) @ V.T
    return 0.5 * (P + P.T)


# ----------------------------------------------------------------------------- WOR moments
def cv_expectations(lin, rule: StepRule, b: int, order) -> dict:
    """Exact means of the control variates ``t``, ``s`` (``jc`` has mean 0) of
    :func:`~._kernels.scheme_epoch_map` for the batch sequence ``order``.

    Pairs of positions ``a < c`` on distinct batches have ``E[H_c H_a] = H^2 - C_hh/(N-1)`` and
    ``E[H_c q_a] = -C_hq/(N-1)``; on the same batch ``E H_a^2 = H^2 + kappa C_hh`` and
    ``E H_a q_a = kappa C_hq`` (pair formula of sampling without replacement).
    """
    (N, d), H = lin.q.shape, lin.H
    alpha, gamma = rule.coefficients[:2]
    kappa, dh = (N - b) / (b * (N - 1)), lin.h - H
    C_hh = np.einsum("nij,njk->ik", dh, dh) / N
    C_hq = np.einsum("nij,nj->i", dh, lin.q) / N
    order = np.asarray(order)
    n = order.size
    n_eq = int(sum(c * (c - 1) // 2 for c in np.bincount(order)))
    n_ne = n * (n - 1) // 2 - n_eq
    same, other = H @ H + kappa * C_hh, H @ H - C_hh / (N - 1)
    t = n_ne * other + (n_eq + alpha * n) * same
    s = (-n_ne / (N - 1) + (n_eq + gamma * n) * kappa) * C_hq
    return {"T": t, "S": s, "J": np.zeros((d, d))}


def _sums(lin, eta, b, key, perm0, n, rule, order) -> dict:
    """Sums over ``n`` permutations of the period maps of ``order`` and their products."""
    N, d = lin.q.shape
    out = {k: np.empty((n, d, d)) for k in ("phi", "Q", "T", "J")}
    out.update(ups=np.empty((n, d)), S=np.empty((n, d)))
    _ks.scheme_epoch_maps(np.ascontiguousarray(lin.h.reshape(N, d * d)),
                          np.ascontiguousarray(lin.q), lin.H.reshape(-1).copy(), eta, b, key,
                          perm0, order, np.array(rule.coefficients), out["phi"], out["ups"],
                          out["Q"], out["T"], out["J"], out["S"])
    phi, ups = out["phi"], out["ups"]
    sums = {k: v.sum(axis=0) for k, v in out.items()}
    K = np.einsum("nij,nkl->ikjl", phi, phi).reshape(d * d, d * d)   # row-major vec(A P A^T)
    sums.update(K=K, UU=ups.T @ ups, PU=np.einsum("nab,nc->abc", phi, ups), n=n)
    return sums


def _expect(sums, cv_mean, eta, cv) -> dict:
    """Permutation averages, with the control variates of known mean subtracted (``cv``):
    ``Phi ~ I - eta sum_a H_a + eta^2 t``, ``ups ~ eta^2 s``, ``Q ~ const - 4 eta^2 jc``."""
    E = {k: v / sums["n"] for k, v in sums.items() if k != "n"}
    if cv:
        I = np.eye(E["phi"].shape[0])
        dT = E["T"] - cv_mean["T"]
        E["phi"] = E["phi"] - eta**2 * dT
        E["K"] = E["K"] - eta**2 * (np.kron(dT, I) + np.kron(I, dT))
        E["ups"] = E["ups"] - eta**2 * (E["S"] - cv_mean["S"])
        E["Q"] = E["Q"] + 4 * eta**2 * E["J"]
    return E


def period_stationary(E, eta, check) -> tuple[np.ndarray, np.ndarray]:
    """Mean and second moment at the ends of periods of the averaged period map ``E`` (a
    sampler's epoch or pair of epochs); FpsolveError naming ``eta`` when they diverge."""
    d = E["phi"].shape[0]
    m = np.linalg.solve(np.eye(d) - E["phi"], E["ups"])
    rho = np.abs(np.linalg.eigvals(E["K"])).max() if check else 0.0
    if rho >= 1:
        raise FpsolveError(f"eta: the second moments diverge at eta = {eta:.4g} (spectral "
                           f"radius of E[Phi (x) Phi] {rho:.6g} >= 1)")
    cross = np.einsum("abc,b->ac", E["PU"], m)
    rhs = cross + cross.T + E["UU"] + E["Q"]
    return m, np.linalg.solve(np.eye(d * d) - E["K"], rhs.reshape(-1)).reshape(d, d)


def _push(E, m, S2) -> tuple[np.ndarray, np.ndarray]:
    """Mean and second moment after one map ``E`` from ``(m, S2)`` independent of it."""
    cross = np.einsum("abc,b->ac", E["PU"], m)
    S = (E["K"] @ S2.reshape(-1)).reshape(S2.shape) + cross + cross.T + E["UU"] + E["Q"]
    return E["phi"] @ m + E["ups"], S


def _estimate(pair, fwd, means, eta, cv, rule, check=True):
    """Epoch-end mean and covariance (palindromic: averaged over even and odd epoch ends)."""
    m, S2 = period_stationary(_expect(pair, means[0], eta, cv), eta, check)
    if fwd is not None:
        m_o, S_o = _push(_expect(fwd, means[1], eta, cv), m, S2)
        m, S2 = 0.5 * (m + m_o), 0.5 * (S2 + S_o)
    cov = S2 - np.outer(m, m) + rule.offset * eta * np.eye(m.size)
    return m, 0.5 * (cov + cov.T)


def rule_moments(lin, eta, b, rule: StepRule, key, n_g, G, cv):
    """Epoch-end ``(m, cov, (rep_m, rep_c))`` of a WOR ``rule``: the deviation mean and the
    covariance from ``G`` groups of ``n_g`` permutations, with jackknife replicates."""
    R = lin.q.shape[0] // b
    order = rule.order(R)
    palin = rule.schedule == "wor-palindromic"
    means = (cv_expectations(lin, rule, b, order),
             cv_expectations(lin, rule, b, order[:R]) if palin else None)
    groups = [(_sums(lin, eta, b, key, g * n_g, n_g, rule, order),
               _sums(lin, eta, b, key, g * n_g, n_g, rule, order[:R]) if palin else None)
              for g in range(G)]

    def total(i, skip=None):
        if groups[0][i] is None:
            return None
        parts = [grp[i] for j, grp in enumerate(groups) if j != skip]
        return {k: sum(p[k] for p in parts) for k in parts[0]}

    m, cov = _estimate(total(0), total(1), means, eta, cv, rule)
    reps = [_estimate(total(0, j), total(1, j), means, eta, cv, rule, False) for j in range(G)]
    return m, cov, (np.array([r[0] for r in reps]), np.array([r[1] for r in reps]))

"""SGD as a Fokker-Planck process on a two-parameter slice: grid solution against SGD itself.

Freeze all parameters but ``free = (i, j)`` and run minibatch SGD (with replacement) in the two
free ones, ``x' = x - eta grad_x L_B``.  Per step its drift is exactly ``a(x) = -eta grad_x L``
and half its covariance is ``D(x) = (eta^2 / 2) (N - B) / (B (N - 1)) Sigma_g(x)``
(:func:`~fpsolve.learning.minibatch_diffusion` on the slice).  With time counted in SGD steps
the Ito equation ``dp/dt = -d_k (a_k p) + d_k d_l (D_kl p)`` is the diffusion approximation of
the chain.  Unlike the Gaussian theory it keeps the nonlinear drift and the position-dependent
``D``; like it, it drops the discreteness of time (relative corrections O(eta H)).  Two other
``approximation``s: ``"second-moment"`` (``D + a a^T / 2``, the full Kramers-Moyal coefficient)
and ``"modified"`` (the backward-error modified equation of the chain, second order in eta H).
``validation/regression-slice`` measures where each holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from findiff import Diff

from ..._runs import check_count, check_positive
from ...errors import FpsolveError
from ...grids import CartesianGrid
from ...models import FokkerPlanckModel
from ...operators import FokkerPlanckOperator
from ...results import StationaryResult
from ...solvers import solve_stationary
from ..dynamics.schedules import check_batch_size
from ..models.minimum import as_vector as _vector
from ..theory import (CHUNK, GaussianTheory, finite_population, find_minimum,
                     gaussian_theory)

__all__ = ["SliceProblem", "sgd_fokker_planck", "slice_drift_diffusion"]
APPROXIMATIONS = ("covariance", "second-moment", "modified")


@dataclass(frozen=True)
class SliceProblem:
    """The Fokker-Planck problem of SGD on a slice (:func:`sgd_fokker_planck`).

    ``model`` (Ito; drift the cell array ``drift (2, *grid.shape)``, diffusion a callable that
    returns the precomputed ``D (2, 2, *grid.shape)`` at ``grid``'s cell centers and evaluates
    afresh elsewhere) on ``grid``; ``free`` the moving indices, ``at (d,)`` all parameters with
    the free ones at ``center (2,)``, the minimum of ``L`` on the slice; ``theory`` the Gaussian
    theory of the slice there; ``eta``, ``batch_size``, ``schedule``, ``approximation``.
    """

    model: FokkerPlanckModel
    grid: CartesianGrid
    drift: np.ndarray
    D: np.ndarray
    free: tuple
    at: np.ndarray
    center: np.ndarray
    theory: GaussianTheory
    eta: float
    batch_size: int
    schedule: str
    approximation: str

    def solve(self) -> StationaryResult:
        """Stationary density of the slice model (:func:`fpsolve.solve_stationary`)."""
        return solve_stationary(FokkerPlanckOperator(self.grid, self.model))


def sgd_fokker_planck(model, data, *, free, at, eta: float, batch_size: int,
                      schedule: str = "wr", grid=None, n_cells: int = 128, width: float = 6.0,
                      approximation: str = "covariance") -> SliceProblem:
    """The 2-D Fokker-Planck model of minibatch SGD in the parameters ``free``.

    Parameters
    ----------
    model : GradientModel
        ``loss``, ``gradient``, ``hessian``, ``per_sample_gradients`` taking stacks ``(n, d)``.
    data : Dataset or (x, y)
    free : (int, int)
        Distinct indices of the moving parameters.
    at : array_like, shape (d,)
        Frozen values; the free entries start the Newton search for the slice minimum.
    eta, batch_size, schedule
        Learning rate ``> 0``, ``1 <= B <= N``; only ``"wr"`` (the WOR slice model is not
        implemented).
    grid : CartesianGrid, optional
        2-D grid.  Default: the box ``center +- width sqrt(diag Sigma)`` (``Sigma`` the larger
        of the continuous and discrete Lyapunov variances), reflecting, ``n_cells`` cells on
        one axis and more on the other, so that the cell aspect ratio keeps the operator an
        M-matrix despite the correlation of ``D``.
    n_cells, width : int, float
    approximation : {"covariance", "second-moment", "modified"}
        ``a = -eta grad L`` and ``D`` half the covariance of a step (the paper's), or half its
        second moment ``D + a a^T / 2`` (for a quadratic loss the stationary covariance is then
        exactly the chain's ``Sigma_disc``, but the tails are too heavy), or the modified
        equation whose time-1 map matches the chain's first two moments to O((eta H)^2):

            a~ = a - (J a) / 2 - (D : grad grad a) / 2,
            D~ = D - (J D + D J^T) / 2 - (a . grad) D / 2,      J_kl = d_l a_k

        (``log`` of the one-step operator; derivatives by second-order differences on the
        grid, so its diffusion callable works on ``grid`` only).

    Returns
    -------
    SliceProblem

    Notes
    -----
    ``a``, ``D`` come from stacked per-sample gradients at all cell centers (chunks of 2^20
    floats).  ``FokkerPlanckModel`` takes a cell array for the drift but only a constant or a
    callable for the diffusion, hence the callable returning the table.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> from fpsolve.learning.slices import sgd_fokker_planck
    >>> x = np.random.default_rng(0).normal(size=(50, 3)); y = x @ [1.0, -1.0, 0.5]
    >>> prob = sgd_fokker_planck(LinearRegression(3), (x, y), free=(0, 2), at=np.zeros(3),
    ...                          eta=1e-4, batch_size=5, n_cells=32)
    >>> min(prob.grid.shape), bool(prob.solve().converged)
    (32, True)
    """
    free, at, N = _check_slice(model, data, free, at)
    eta, B = check_positive("eta", eta), check_batch_size(batch_size, N, schedule)
    if schedule != "wr":
        raise FpsolveError("schedule: only 'wr' is implemented for the slice Fokker-Planck "
                           "model (the WOR epoch theory on slices is not)")
    if approximation not in APPROXIMATIONS:
        raise FpsolveError(f"approximation: expected one of {APPROXIMATIONS}, got "
                           f"{approximation!r}")
    view = _slice_view(model, at, free)
    minimum = find_minimum(view, data, at[list(free)])
    at = view.embed(minimum.w)
    kw = {"free": free, "at": at, "eta": eta, "batch_size": B,
          "second_moment": approximation == "second-moment"}
    D0 = slice_drift_diffusion(model, data, minimum.w[:, None], **kw)[1][..., 0]
    theory = gaussian_theory(minimum.H, D0, eta)   # a = 0 at the minimum: any approximation
    if grid is None:
        grid = _default_grid(model, data, minimum.w, theory, kw,
                             check_positive("width", width),
                             check_count("n_cells", n_cells, 3))
    elif not isinstance(grid, CartesianGrid) or grid.ndim != 2:
        raise FpsolveError(f"grid: expected a 2-D CartesianGrid, got {grid!r}")
    centers = grid.cell_centers()
    a, D = slice_drift_diffusion(model, data, centers, **kw)
    if approximation == "modified":
        a, D = _modified(grid, a, D)

    def diffusion(x):
        if np.shape(x) == centers.shape and np.array_equal(x, centers):
            return D
        if approximation == "modified":
            raise FpsolveError("x: the modified diffusion is tabulated on problem.grid only")
        return slice_drift_diffusion(model, data, x, **kw)[1]

    return SliceProblem(FokkerPlanckModel(a, diffusion, "ito"), grid, a, D, free, at,
                        minimum.w, theory, eta, B, schedule, approximation)


def slice_drift_diffusion(model, data, points, *, free, at, eta: float, batch_size: int,
                          second_moment: bool = False):
    """Drift ``a = -eta grad L (2, ...)`` and diffusion ``D (2, 2, ...)`` per step at ``points``.

    ``points (2, ...)`` are slice coordinates ``(w_i, w_j)``; the other arguments are those of
    :func:`sgd_fokker_planck` (``at`` used as given).  ``D = (eta^2 / 2) (N - B) / (B (N - 1))
    Sigma_g`` with ``Sigma_g`` the population covariance of the free components of the
    per-sample gradients (plus ``a a^T / 2`` with ``second_moment``).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> from fpsolve.learning.slices import slice_drift_diffusion
    >>> x = np.eye(3)[[0, 1, 2, 0]]; y = np.ones(4)
    >>> a, D = slice_drift_diffusion(LinearRegression(3, lam=0.0), (x, y), np.zeros((2, 5)),
    ...                              free=(0, 1), at=np.zeros(3), eta=0.1, batch_size=2)
    >>> a.shape, D.shape
    ((2, 5), (2, 2, 5))
    """
    free, at, N = _check_slice(model, data, free, at)
    eta, B = check_positive("eta", eta), check_batch_size(batch_size, N, "wr")
    pts = np.asarray(points, dtype=float)
    if pts.ndim < 1 or pts.shape[0] != 2:
        raise FpsolveError(f"points: expected shape (2, ...), got {pts.shape}")
    flat, cols = pts.reshape(2, -1).T, list(free)
    a, D = np.empty((flat.shape[0], 2)), np.empty((flat.shape[0], 2, 2))
    step = max(1, CHUNK // (N * at.size))
    for s in range(0, flat.shape[0], step):
        W = np.repeat(at[None, :], min(step, flat.shape[0] - s), axis=0)
        W[:, cols] = flat[s:s + step]
        G = np.asarray(model.per_sample_gradients(W, data), dtype=float)[:, :, cols]
        dG = G - G.mean(axis=1, keepdims=True)
        a[s:s + step] = -eta * G.mean(axis=1)
        D[s:s + step] = np.einsum("nki,nkj->nij", dG, dG) / N
    D *= 0.5 * eta**2 * finite_population(N, B)
    if second_moment:
        D += 0.5 * a[:, :, None] * a[:, None, :]
    lead = pts.shape[1:]
    return (np.moveaxis(a, -1, 0).reshape((2,) + lead),
            np.moveaxis(D, (-2, -1), (0, 1)).reshape((2, 2) + lead))


def _modified(grid, a, D):
    """Drift and diffusion of the modified equation (:func:`sgd_fokker_planck`)."""
    d = [Diff(k, grid.spacing[k], acc=2) for k in range(2)]

    def grad(f):   # (2, *shape): d_l f
        return np.stack([d[k](f) for k in range(2)], axis=-3)

    J = np.stack([grad(a[k]) for k in range(2)])                      # J[k, l] = d_l a_k
    hess = np.stack([np.stack([grad(J[k, l]) for l in range(2)]) for k in range(2)])
    dD = np.stack([np.stack([grad(D[k, l]) for l in range(2)]) for k in range(2)])
    JD = np.einsum("km...,ml...->kl...", J, D)
    a_mod = a - 0.5 * np.einsum("kl...,l...->k...", J, a) - 0.5 * np.einsum(
        "lm...,klm...->k...", D, hess)
    D_mod = D - 0.5 * (JD + JD.swapaxes(0, 1)) - 0.5 * np.einsum("m...,klm...->kl...", a, dD)
    return a_mod, D_mod


def _default_grid(model, data, center, theory, kw, width, n_cells):
    """Box ``center +- width sqrt(diag Sigma)`` with cells of aspect ``r = h_1 / h_0``.

    The bond weights ``D_kk / h_k^2 - |D_01| / (h_0 h_1)`` are all >= 0 (M-matrix) where
    ``|D_01| / D_00 <= r <= D_11 / |D_01|``; ``r`` is the geometric mean of the tightest such
    bounds over a 9 x 9 lattice of the box (each point's interval holds ``sqrt(D_11 / D_00)``;
    if they do not overlap, the mean balances the violations and the operator warns).  The
    axis needing fewer cells gets ``n_cells``.
    """
    half = width * np.sqrt(np.maximum(np.diag(theory.Sigma), np.diag(theory.Sigma_disc)))
    lattice = center[:, None, None] + half[:, None, None] * np.stack(
        np.meshgrid(*2 * [np.linspace(-1, 1, 9)], indexing="ij"))
    D = slice_drift_diffusion(model, data, lattice, **kw)[1]
    off = np.abs(D[0, 1]) + np.finfo(float).tiny
    r = math.sqrt((off / D[0, 0]).max() * (D[1, 1] / off).min())
    ratio = half[0] / half[1] * r  # n_0 / n_1
    big = max(n_cells, round(n_cells * max(ratio, 1 / ratio)))
    return CartesianGrid(np.c_[center - half, center + half],
                         (big, n_cells) if ratio >= 1 else (n_cells, big))


def _slice_view(model, at, free):
    """The loss as a function of the two free parameters (for :func:`find_minimum`)."""
    idx = list(free)

    def embed(u):
        w = at.copy()
        w[idx] = u
        return w

    return SimpleNamespace(
        embed=embed, loss=lambda u, data: model.loss(embed(u), data),
        gradient=lambda u, data: np.asarray(model.gradient(embed(u), data))[idx],
        hessian=lambda u, data: np.asarray(model.hessian(embed(u), data))[np.ix_(idx, idx)])


def _check_slice(model, data, free, at):
    """Validated ``free`` (two distinct ints), ``at (d,)`` and the sample count ``N``."""
    at = _vector("at", at)
    d = getattr(model, "n_params", at.size)
    if at.size != d:
        raise FpsolveError(f"at: expected shape ({d},) (model.n_params), got {at.shape}")
    pair = tuple(free) if isinstance(free, (tuple, list)) else ()
    if (len(pair) != 2 or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                                  and 0 <= k < d for k in pair) or pair[0] == pair[1]):
        raise FpsolveError(f"free: expected two distinct indices in [0, {d}), got {free!r}")
    N = np.asarray(model.per_sample_gradients(at, data)).shape[0]
    return (int(pair[0]), int(pair[1])), at, N

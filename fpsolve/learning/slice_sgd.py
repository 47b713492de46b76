"""SGD restricted to a two-parameter slice, with streaming statistics to compare against the
slice's Fokker-Planck solution (:func:`~fpsolve.learning.slices.sgd_fokker_planck`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FpsolveError
from ..results import LabelledResult
from . import _kernels_slice
from .models import GradientModel, _positive_int
from .schedules import as_key
from .slices import SliceProblem

__all__ = ["SliceSGDResult", "slice_sgd", "total_variation"]

_BLOCKS = 16  # fixed reduction blocks of slice_sgd (sums independent of the thread count)


@dataclass(frozen=True)
class SliceSGDResult(LabelledResult):
    """Streaming statistics of SGD on a slice (:func:`slice_sgd`); time in SGD steps.

    ``counts (n_blocks, *grid.shape)``: visits per cell after each counted step, per block of
    chains; ``current_sums (n_blocks, 2, *grid.shape)``: increments ``x' - x`` summed in the
    cell of the midpoint; ``block_steps (n_blocks,)``: counted steps per block; ``entropy
    (n_chains,)``: each chain's total entropy production (midpoint rule ``F(x_mid) . dx`` with
    the grid's force, plus ``ln p(x_first) - ln p(x_last)`` with the grid density); ``steps``:
    counted steps per chain; ``w_final (n_chains, d)``; ``key`` the Philox key.
    """

    grid: Any
    counts: np.ndarray
    current_sums: np.ndarray
    block_steps: np.ndarray
    entropy: np.ndarray
    steps: int
    w_final: np.ndarray
    key: np.ndarray

    @property
    def density(self) -> np.ndarray:
        """Histogram density ``(grid.shape)``, normalized so the box holds ``1 - outside``."""
        return self.counts.sum(0) / (self.block_steps.sum() * self.grid.cell_volume)

    @property
    def outside(self) -> float:
        """Fraction of counted positions outside the box."""
        return 1.0 - float(self.counts.sum() / self.block_steps.sum())

    @property
    def current(self) -> np.ndarray:
        """Empirical (Stratonovich) probability current per step, ``(2, *grid.shape)``."""
        return self.current_sums.sum(0) / (self.block_steps.sum() * self.grid.cell_volume)

    def entropy_production(self) -> tuple[float, float]:
        """Mean entropy production per step and its standard error (spread over chains)."""
        rate = self.entropy / self.steps
        return float(rate.mean()), float(rate.std(ddof=1) / math.sqrt(rate.size))

    def total_variation(self, p, *, bins=None) -> tuple[float, float]:
        """TV distance to the density ``p`` and the expected TV of sampling noise alone.

        The noise level is ``(1/2) sqrt(2/pi) sum_k s_k``, ``s_k`` the standard error of the
        mass in bin ``k`` from the spread over blocks: the mean TV of an unbiased histogram
        from its own limit (blocks independent).  ``bins`` as in :func:`total_variation`.
        """
        frac = _coarse(self.counts, bins) / self.block_steps[:, None, None]
        noise = 0.5 * math.sqrt(2 / math.pi) * (frac.std(0, ddof=1) / math.sqrt(len(frac))).sum()
        return total_variation(p, self.density, self.grid, bins=bins), float(noise)


def slice_sgd(model, data, problem: SliceProblem, *, n_steps: int, n_chains: int = 64,
              burn_in: int | None = None, rng=None, stationary=None) -> SliceSGDResult:
    """SGD in the two free parameters only, with histogram, current and entropy production.

    Parameters
    ----------
    model, data : GradientModel, Dataset
    problem : SliceProblem
        Slice, learning rate, batch size, and the grid of the statistics.
    n_steps, burn_in : int
        Counted steps per chain after ``burn_in`` uncounted ones (default ``4 / (eta
        lambda_min(H))``, four relaxation times of the linear theory).
    n_chains : int
        Chains start at independent draws from the chain's Gaussian ``N(center, Sigma_disc)``.
    rng : Generator, int, SeedSequence, None or key
        Seed of the batches (Philox key, as in :func:`~fpsolve.learning.sgd`) and the starts.
    stationary : StationaryResult, optional
        Grid density of the entropy's system part (``problem.solve()`` when omitted).

    Returns
    -------
    SliceSGDResult

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> from fpsolve.learning import sgd_fokker_planck, slice_sgd
    >>> x = np.random.default_rng(0).normal(size=(50, 3)); y = x @ [1.0, -1.0, 0.5]
    >>> prob = sgd_fokker_planck(LinearRegression(3), (x, y), free=(0, 2), at=np.zeros(3),
    ...                          eta=1e-4, batch_size=5, n_cells=32)
    >>> res = slice_sgd(LinearRegression(3), (x, y), prob, n_steps=2000, n_chains=8, rng=1)
    >>> res.density.shape == prob.grid.shape, res.current.shape[0], res.outside < 0.01
    (True, 2, True)
    """
    if not isinstance(model, GradientModel) or not isinstance(problem, SliceProblem):
        raise FpsolveError(f"model, problem: expected a GradientModel and a SliceProblem, got "
                           f"{type(model).__name__} and {type(problem).__name__}")
    n_steps, n_chains = _positive_int("n_steps", n_steps), _positive_int("n_chains", n_chains, 2)
    burn = (math.ceil(4 / (problem.eta * np.linalg.eigvalsh(problem.theory.H)[0]))
            if burn_in is None else _positive_int("burn_in", burn_in, 0))
    key, cols = as_key(rng), list(problem.free)
    w = np.repeat(problem.at[None, :], n_chains, axis=0)
    w[:, cols] = np.random.default_rng(key.tolist()).multivariate_normal(
        problem.center, problem.theory.Sigma_disc, size=n_chains)
    p = (problem.solve() if stationary is None else stationary).p
    run = _SliceRun(model.kernel_arguments(data), key, problem, w)
    run.advance(0, burn, count=False)
    x0 = w[:, cols].copy()
    run.advance(burn, n_steps, count=True)
    logp = np.log(np.maximum(p, np.finfo(float).tiny)).ravel()
    system = run.interpolate(logp, x0) - run.interpolate(logp, w[:, cols])
    g = problem.grid
    return SliceSGDResult(g, run.hist.reshape((-1,) + g.shape),
                          np.moveaxis(run.cur, -1, 1).reshape((-1, 2) + g.shape),
                          run.steps_per_block(), run.acc[:, 0] + system, n_steps, w, key)


def total_variation(p, q, grid, *, bins=None) -> float:
    """``(1/2) sum_k |P_k - Q_k|`` over bins, plus half the mass one density lacks in the box.

    ``p``, ``q``: densities on the 2-D ``grid`` (cell values); ``bins``: ``(b0, b1)`` bins per
    axis of (nearly) equal numbers of cells (an int for both; None: every cell a bin).

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.learning.slice_sgd import total_variation
    >>> g = fp.CartesianGrid([(0, 1), (0, 1)], 4)
    >>> total_variation(np.ones((4, 4)), 0.5 * np.ones((4, 4)), g)  # half of q lies outside
    0.5
    """
    P, Q = (_coarse(np.asarray(r, float) * grid.cell_volume, bins) for r in (p, q))
    return float(0.5 * (np.abs(P - Q).sum() + abs(P.sum() - Q.sum())))


# ----------------------------------------------------------------------------- helpers

class _SliceRun:
    """Kernel arguments and accumulators of one :func:`slice_sgd` run."""

    chunk = 2**16  # steps per kernel call (divergence is checked after each)

    def __init__(self, kern, key, problem, w):
        self.kern, self.key, self.w = kern, key, w
        self.eta, self.b, g = problem.eta, problem.batch_size, problem.grid
        self.free = np.array(problem.free, dtype=np.int64)
        self.geo = np.array([g.bounds[0][0], g.spacing[0], g.bounds[1][0], g.spacing[1]])
        self.shape = np.array(g.shape, dtype=np.int64)
        self.force = np.ascontiguousarray(problem.model.fields(g).force.reshape(2, -1))
        C, d, N, nb = w.shape[0], w.shape[1], kern[1].shape[0], min(_BLOCKS, w.shape[0])
        self.pool = np.tile(np.arange(N + self.b, dtype=np.int64), (C, 1))
        self.tmp, self.grad = np.zeros((C, max(kern[5], 1))), np.empty((C, d))
        self.hist = np.zeros((nb, g.size), dtype=np.int64)
        self.cur, self.acc = np.zeros((nb, g.size, 2)), np.zeros((C, 3))
        self.status = np.full(C, -1, dtype=np.int64)

    def advance(self, step0, n_steps, *, count):
        kind, x, y, a, c, m = self.kern
        for s in range(step0, step0 + n_steps, self.chunk):
            k = min(self.chunk, step0 + n_steps - s)
            _kernels_slice.slice_chunk(kind, x, y, a, c, m, self.key, False, self.b, self.eta,
                                       self.free, s, k, count, self.w, self.geo, self.shape,
                                       self.force, self.pool, self.tmp, self.grad, self.hist,
                                       self.cur, self.acc, self.status)
            if np.any(self.status >= 0):
                ch = int(np.argmax(self.status >= 0))
                raise FpsolveError(f"slice SGD diverged at step {self.status[ch]} of chain {ch}"
                                   f" (eta = {self.eta!r} may be too large)")

    def interpolate(self, table, pts):
        out = np.empty(pts.shape[0])
        _kernels_slice.interpolate(table, np.ascontiguousarray(pts), self.geo, self.shape, out)
        return out

    def steps_per_block(self):
        nb, C = self.hist.shape[0], self.w.shape[0]
        return np.array([self.acc[b * C // nb:(b + 1) * C // nb, 1].sum() for b in range(nb)])



def _coarse(a, bins):
    """Sum ``a (..., n0, n1)`` into ``bins = (b0, b1)`` bins of (nearly) equal numbers of cells
    per axis (None: every cell a bin)."""
    shape = a.shape[-2:]
    b = shape if bins is None else tuple(np.broadcast_to(bins, 2).tolist())
    if not all(isinstance(k, int) and 1 <= k <= n for k, n in zip(b, shape)):
        raise FpsolveError(f"bins: expected one or two ints in [1, {shape}], got {bins!r}")
    for axis, (k, n) in enumerate(zip(b, shape), start=a.ndim - 2):
        a = np.add.reduceat(a, np.linspace(0, n, k + 1).round().astype(int)[:-1], axis=axis)
    return a

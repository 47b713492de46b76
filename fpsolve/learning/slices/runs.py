"""SGD restricted to a two-parameter slice, with streaming statistics to compare against the
slice's Fokker-Planck solution (:func:`~fpsolve.learning.sgd_fokker_planck`).

The chains run in the one chain loop of :mod:`fpsolve.learning.dynamics` (only the two free
parameters move, without noise) on the run engine, and the statistics are the streaming
observers of :mod:`fpsolve.stochastic` -- :class:`~fpsolve.stochastic.Histogram`,
:class:`~fpsolve.stochastic.CellCurrent` and :class:`~fpsolve.stochastic.RunningEntropy` --
fed with the path of the slice coordinates after every kernel call.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._random import as_key
from ..._distributed import execute
from ..._runs import check_count
from ...errors import FpsolveError
from ...results import LabelledResult
from ...stochastic import CellCurrent, Histogram, RunningEntropy
from ..dynamics.chains import ChainRun
from ..models.gradient import GradientModel
from .problem import SliceProblem

__all__ = ["SliceSGDResult", "slice_sgd", "total_variation"]

#: Steps per kernel call (fixed, so the floating sums of the observers do not depend on timing)
#: and the cap of a call's path buffer in doubles (32 MB).
_CHUNK, _BUFFER_DOUBLES = 2**16, 2**22


@dataclass(frozen=True)
class SliceSGDResult(LabelledResult):
    """Streaming statistics of SGD on a slice (:func:`slice_sgd`); time in SGD steps.

    ``counts (n_blocks, *grid.shape)``: visits per cell after each counted step, per block of
    chains; ``current_sums (n_blocks, 2, *grid.shape)``: increments ``x' - x`` summed in the
    cell of the midpoint; ``block_steps (n_blocks,)``: counted steps per block; ``entropy
    (n_chains,)``: each chain's total entropy production (midpoint rule ``F(x_mid) . dx`` with
    the grid's force, plus ``ln p(x_first) - ln p(x_last)`` with the grid density); ``n_steps``:
    counted steps per chain; ``w_final (n_chains, d)``; ``key`` the Philox key.
    """

    grid: Any
    counts: np.ndarray
    current_sums: np.ndarray
    block_steps: np.ndarray
    entropy: np.ndarray
    n_steps: int
    w_final: np.ndarray
    key: np.ndarray

    @property
    def steps(self) -> int:
        """Deprecated alias of ``n_steps`` (``steps`` names global step counts elsewhere)."""
        warnings.warn("SliceSGDResult.steps is deprecated; use n_steps", DeprecationWarning,
                      stacklevel=2)
        return self.n_steps

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
        rate = self.entropy / self.n_steps
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
              burn_in: int | None = None, rng=None, stationary=None,
              progress=None, client=None) -> SliceSGDResult:
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
    progress : bool or None
        Progress bar policy of :mod:`fpsolve._progress`.
    client : distributed.Client, Executor or Backend, optional
        Run the chains in shards on a cluster (:mod:`fpsolve.distributed`), shards ending at
        the observers' reduction blocks; bit-identical to ``client=None``.

    Returns
    -------
    SliceSGDResult

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression, sgd_fokker_planck, slice_sgd
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
    n_steps, n_chains = check_count("n_steps", n_steps), check_count("n_chains", n_chains, 2)
    burn = (math.ceil(4 / (problem.eta * np.linalg.eigvalsh(problem.theory.H)[0]))
            if burn_in is None else check_count("burn_in", burn_in, 0))
    key, cols = as_key(rng), list(problem.free)
    w = np.repeat(problem.at[None, :], n_chains, axis=0)
    w[:, cols] = np.random.default_rng(key.tolist()).multivariate_normal(
        problem.center, problem.theory.Sigma_disc, size=n_chains)
    p = (problem.solve() if stationary is None else stationary).p
    run = _SliceRun(model.chain_kernel(data), key, problem, w, burn, n_steps, p)
    execute(run, client=client, progress=progress, chunk=run.chunk, desc="slice sgd")
    hist, cur, ent = run.observers
    g = problem.grid
    return SliceSGDResult(g, hist.state()["_acc"].reshape((-1,) + g.shape),
                          np.moveaxis(cur.state()["_acc"], -1, 1).reshape((-1, 2) + g.shape),
                          run.steps_per_block(), ent.total.copy(), n_steps, w, key)


def total_variation(p, q, grid, *, bins=None) -> float:
    """``(1/2) sum_k |P_k - Q_k|`` over bins, plus half the mass one density lacks in the box.

    ``p``, ``q``: densities on the 2-D ``grid`` (cell values); ``bins``: ``(b0, b1)`` bins per
    axis of (nearly) equal numbers of cells (an int for both; None: every cell a bin).

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.learning.slices import total_variation
    >>> g = fp.CartesianGrid([(0, 1), (0, 1)], 4)
    >>> total_variation(np.ones((4, 4)), 0.5 * np.ones((4, 4)), g)  # half of q lies outside
    0.5
    """
    P, Q = (_coarse(np.asarray(r, float) * grid.cell_volume, bins) for r in (p, q))
    return float(0.5 * (np.abs(P - Q).sum() + abs(P.sum() - Q.sum())))


# ----------------------------------------------------------------------------- helpers

class _SliceRun(ChainRun):
    """The chains of :func:`slice_sgd` on the engine: burn-in, then counted steps whose path
    (slice coordinates) feeds the observers after every kernel call."""

    def __init__(self, kernel, key, problem, w, burn, n_steps, p):
        C, d = w.shape
        self.chunk = max(1, min(_CHUNK, _BUFFER_DOUBLES // (C * d)))
        super().__init__(kernel, w, key, schedule="wr", batch_size=problem.batch_size,
                         eta=problem.eta, temperature=0.0,
                         out=np.empty((self.chunk + 1, C, d)), every=1, row0=0,
                         max_loss=math.inf, n_steps=burn + n_steps, free=problem.free,
                         label="slice SGD")
        self.burn, self.cols = burn, list(problem.free)
        g = problem.grid
        logp = np.log(np.maximum(p, np.finfo(float).tiny))
        # medium entropy F . dx plus the system part ln p(x_first) - ln p(x_last) (U = ln p)
        self.observers = (Histogram(g), CellCurrent(g),
                          RunningEntropy(g, problem.model.fields(g).force, potential=logp))
        for obs in self.observers:
            obs.start(C, 1.0, n_steps)

    def advance(self, count: int) -> None:
        start = self.step
        self.row0 = start                  # out[r] = w after global step start + r - 1
        self.out[0] = self.w
        super().advance(count)
        first = max(self.burn - start, 0)  # rows of the burn-in are not counted
        if first < count:
            path = np.ascontiguousarray(self.out[first:count + 1][:, :, self.cols])
            for obs in self.observers:
                obs.update(path, start + first - self.burn)

    def steps_per_block(self) -> np.ndarray:
        """Counted steps of each observer block of chains (blocks as the histogram's)."""
        return np.diff(self.observers[0].cuts()).astype(float) * (self.n_steps - self.burn)

    # the engine's shard contract: the chains' parameters and the observers' sums
    @property
    def state_axes(self) -> dict:
        axes = {"w": 0, "key": None}
        for k, obs in enumerate(self.observers):
            axes.update({f"obs{k}__{name}": a for name, a in obs.state_axes.items()})
        return axes

    def state(self) -> dict:
        out = {"w": self.w, "key": self.key}
        for k, obs in enumerate(self.observers):
            out.update({f"obs{k}__{name}": v for name, v in obs.state().items()})
        return out

    def restore(self, state: dict) -> None:
        self.key[...], self.w[...] = state["key"], state["w"]
        for k, obs in enumerate(self.observers):
            obs.load_state({name: state[f"obs{k}__{name}"] for name in obs.state_axes})

    def cuts(self) -> np.ndarray:
        return np.intersect1d(self.observers[0].cuts(), self.observers[1].cuts())

    def shard(self, c0: int, c1: int) -> _SliceRun:
        part = super().shard(c0, c1)
        part.observers = tuple(obs.shard(c0, c1) for obs in self.observers)
        return part


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

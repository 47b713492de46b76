"""The finite-volume Fokker-Planck operator on a Cartesian grid."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._numba import threads_for
from ..errors import ModelError
from . import _kernels
from .bonds import BondSet, build_bonds

__all__ = ["FokkerPlanckOperator"]


class FokkerPlanckOperator:
    """Finite-volume generator ``G`` of ``dp/dt = G p`` for a model on a grid.

    Parameters
    ----------
    grid : CartesianGrid
    model : FokkerPlanckModel
    warn_positivity : bool, keyword-only, default True
        Warn (:class:`~fpsolve.errors.PositivityWarning`) when some bond weights are negative.

    Notes
    -----
    Cell-centered finite volumes; fluxes live on lattice bonds (axis bonds through faces and,
    for off-diagonal ``D``, diagonal bonds).  A bond ``x -> y`` carries the exponentially fitted
    flux ``Phi = c [B(dPsi) p_x - B(-dPsi) p_y]`` (see :mod:`fpsolve.operators.bonds`), and
    ``dp_x/dt = sum(inflows) - sum(outflows)``.  Consequences, all exact up to round-off:
    columns of ``G`` sum to zero (minus exits through absorbing walls), off-diagonals are
    non-negative when all bond weights are (M-matrix), and gradient drifts with constant ``D``
    have the discrete Boltzmann density as null vector.  Second order in ``h`` on smooth
    problems.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.CartesianGrid([(-4, 4)], (64,))
    >>> op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, 1.0))
    >>> G = op.matrix()
    >>> bool(np.allclose(np.asarray(G.sum(axis=0)).ravel(), 0.0, atol=1e-12))
    True
    """

    def __init__(self, grid, model, *, warn_positivity: bool = True):
        self.grid = grid
        self.model = model
        fields = model.fields(grid)
        with threads_for(grid.size):
            self.bonds: BondSet = build_bonds(grid, fields, warn=warn_positivity)
        #: Diffusion tensor at cell centers, shape ``(d, d, *grid.shape)``.
        self.diffusion = fields.D
        self._exit_rate = self.bonds.exit_rate
        self._matrix = None

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(n, n)`` of the generator, ``n = grid.size``."""
        return (self.grid.size, self.grid.size)

    @property
    def has_absorbing(self) -> bool:
        """Whether probability leaves through absorbing walls."""
        return self.grid.has_absorbing

    def _flat(self, p, name: str = "p") -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if p.shape != self.grid.shape and p.shape != (self.grid.size,):
            raise ModelError(f"{name}: expected shape {self.grid.shape} (grid.shape), got {p.shape}")
        return np.ascontiguousarray(p.ravel())

    def bond_fluxes(self, p) -> np.ndarray:
        """Net flux ``Phi_k(x)`` of every bond (rate times density), shape ``(K, *grid.shape)``.

        This is the one flux from which :meth:`apply`, :meth:`matrix` and the probability
        current are built.
        """
        b = self.bonds
        out = np.empty_like(b.rate_forward)
        with threads_for(self.grid.size):
            _kernels.bond_fluxes(b.rate_forward, b.rate_backward, b.neighbor, self._flat(p), out)
        return out.reshape((-1,) + self.grid.shape)

    def apply(self, p) -> np.ndarray:
        """``dp/dt = G p`` for a density ``p`` of shape ``grid.shape``."""
        flat = self._flat(p)
        flux = self.bond_fluxes(flat).reshape(len(self.bonds.offsets), -1)
        out = np.empty_like(flat)
        with threads_for(self.grid.size):
            _kernels.flux_divergence(flux, self.bonds.previous, self._exit_rate, flat, out)
        return out.reshape(self.grid.shape)

    def matrix(self) -> sp.csr_matrix:
        """The generator as a ``scipy.sparse`` CSR matrix (cached; do not modify in place)."""
        if self._matrix is None:
            b = self.bonds
            K, n = b.rate_forward.shape
            w = 2 * K + 1
            indices = np.empty(n * w, dtype=np.int64)
            data = np.empty(n * w)
            with threads_for(n):
                _kernels.assemble_csr(b.rate_forward, b.rate_backward, b.neighbor, b.previous,
                                      self._exit_rate, indices, data)
            indptr = np.arange(0, n * w + 1, w, dtype=np.int64)
            G = sp.csr_matrix((data, indices, indptr), shape=(n, n))
            G.sum_duplicates()
            G.eliminate_zeros()
            self._matrix = G
        return self._matrix

    def __repr__(self) -> str:
        return f"FokkerPlanckOperator({self.grid!r}, {self.model!r})"

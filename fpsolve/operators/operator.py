"""The finite-volume Fokker-Planck operator on a Cartesian grid."""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp

from .._numba import threads_for
from ..grids import CartesianGrid
from ..grids.memory import check_memory
from ..errors import GridError, ModelError
from . import _kernels
from .bonds import BondSet, build_bonds
from .schemes import DEFAULT_SCHEME, REFIT_FLOOR, check_scheme, density_fitted_bonds

__all__ = ["FokkerPlanckOperator"]


class FokkerPlanckOperator:
    """Finite-volume generator ``G`` of ``dp/dt = G p`` for a model on a grid.

    Parameters
    ----------
    grid : CartesianGrid
    model : FokkerPlanckModel
    warn_positivity : bool, keyword-only, default True
        Warn (:class:`~fpsolve.errors.PositivityWarning`) when some bond weights are negative.
    scheme : {"fitted", "sg", "split", "sqra"}, keyword-only, default "fitted"
        How the symmetric weight of each bond is fitted (:mod:`fpsolve.operators.schemes`).
        ``"fitted"`` starts with Scharfetter-Gummel rates and sets :attr:`needs_refit`: the
        stationary solver then refits the rates to its density (:meth:`refitted`).

    Notes
    -----
    Cell-centered finite volumes; fluxes live on lattice bonds (axis bonds through faces and,
    for off-diagonal ``D``, diagonal bonds).  A bond ``x -> y`` carries the exponentially fitted
    flux ``Phi = c w [exp(-dPsi/2) p_x - exp(dPsi/2) p_y]`` with a positive scheme weight ``w``
    (Scharfetter-Gummel: ``c w exp(-+dPsi/2) = c B(+-dPsi)``; see :mod:`fpsolve.operators.bonds`
    and :mod:`fpsolve.operators.schemes`), and
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

    def __init__(self, grid, model, *, warn_positivity: bool = True,
                 scheme: str = DEFAULT_SCHEME):
        if not isinstance(grid, CartesianGrid):
            raise GridError("grid: expected a CartesianGrid as the first argument "
                            f"(grid, model), got {type(grid).__name__}")
        check_memory(grid)
        self.grid = grid
        self.model = model
        #: Bond-rate scheme name.
        self.scheme = check_scheme(scheme)
        #: How many times the rates were refitted to a density (:meth:`refitted`).
        self.refits = 0
        fields = model.fields(grid)
        with threads_for(grid.size):
            self.bonds: BondSet = build_bonds(grid, fields, warn=warn_positivity, scheme=scheme)
        #: Diffusion tensor at cell centers, shape ``(d, d, *grid.shape)``.
        self.diffusion = fields.D
        self._exit_rate = self.bonds.exit_rate
        self._matrix = None

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(n, n)`` of the generator, ``n = grid.size``."""
        return (self.grid.size, self.grid.size)

    @property
    def is_m_matrix(self) -> bool:
        """Whether every bond rate is non-negative (``-G`` an M-matrix): the condition of the
        componentwise-accurate GTH solve and of non-negative densities."""
        b = self.bonds
        return bool((b.rate_forward >= 0).all() and (b.rate_backward >= 0).all())

    def on_grid(self, grid) -> FokkerPlanckOperator:
        """The operator of the same model and scheme on another ``grid`` (positivity warnings
        off: coarse grids of error estimates and multigrid guesses may violate them)."""
        return type(self)(grid, self.model, warn_positivity=False, scheme=self.scheme)

    @property
    def needs_refit(self) -> bool:
        """True for a ``"fitted"`` operator not yet refitted: a stationary solve should follow
        with :func:`~fpsolve.operators.schemes.refit_to_density`."""
        return self.scheme == "fitted" and self.refits == 0

    def refitted(self, p, *, floor: float = REFIT_FLOOR) -> FokkerPlanckOperator:
        """A new operator whose bond weights are fitted to the density ``p``.

        Each bond gets the fitting drop ``zeta = dPsi - ln(p_x / p_y)`` (SG rates where a density
        is below ``floor * max(p)``); the rate ratio ``exp(-dPsi)``, and with it exact Boltzmann
        densities, M-matrix and mass conservation, is unchanged.  Grid, model, exits and scheme
        are shared; ``refits`` counts up.

        Parameters
        ----------
        p : ndarray, shape grid.shape
            Density, e.g. the stationary solve of this operator.
        floor : float, keyword-only
            Relative density below which bonds keep SG rates.
        """
        new = copy.copy(self)
        with threads_for(self.grid.size):
            new.bonds = density_fitted_bonds(self.bonds, self._flat(p), floor=floor)
        new.refits = self.refits + 1
        new._matrix = None
        return new

    @property
    def has_absorbing(self) -> bool:
        """Whether probability leaves through absorbing walls."""
        return self.grid.has_absorbing

    def _flat(self, p, name: str = "p") -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if p.shape != self.grid.shape and p.shape != (self.grid.size,):
            raise ModelError(f"{name}: expected shape {self.grid.shape} (grid.shape), "
                             f"got {p.shape}")
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
        return (f"FokkerPlanckOperator({self.grid!r}, {self.model!r}, scheme={self.scheme!r}"
                + (f", refits={self.refits})" if self.refits else ")"))

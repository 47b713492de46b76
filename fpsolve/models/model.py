"""The continuous Fokker-Planck problem: drift, diffusion and the stochastic convention."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from findiff import Diff

from ..errors import ModelError
from .fields import ModelFields, check_finite, check_positive_definite

__all__ = ["FokkerPlanckModel", "CONVENTIONS"]

#: Weight alpha of the diffusion gradient in the Ito drift a = b + alpha * div D.
CONVENTIONS = {"ito": 0.0, "stratonovich": 0.5, "anti-ito": 1.0}


class FokkerPlanckModel:
    """A Fokker-Planck problem ``dp/dt = -d_i(a_i p) + d_i d_j(D_ij p)`` (Ito form).

    Parameters
    ----------
    drift : callable or ndarray
        ``b(x)`` for points ``x`` of shape ``(d, ...)`` returning shape ``(d, ...)``, or an array
        of shape ``(d, *grid.shape)`` with values at the cell centers of the grid it is used on.
    diffusion : float, array_like or callable, default 1.0
        Scalar ``D`` (times the identity), per-axis diagonal ``(d,)``, constant tensor ``(d, d)``,
        or a callable ``x -> (d, d, ...)`` (a return of shape ``(d, ...)`` is read as the diagonal,
        one of shape ``(...)`` as a scalar field).
    convention : {"ito", "stratonovich", "anti-ito"}
        How ``b`` is to be read.  The Ito drift is ``a = b + alpha div D`` with alpha = 0, 1/2, 1.
    diffusion_divergence : callable, optional, keyword-only
        ``x -> (d, ...)`` giving ``(div D)_i = d_j D_ij``; if omitted and ``D`` depends on ``x`` it
        is computed with second-order finite differences (findiff) on the grid.

    Notes
    -----
    The anti-Ito (Haenggi-Klimontovich) reading gives ``J = b p - D grad p`` exactly.  The
    Stratonovich reading uses ``a = b + (1/2) div D``, which is the Stratonovich-to-Ito drift for
    noise amplitudes ``sigma`` with ``sigma_kj d_k sigma_ij = d_j D_ij``: always in one dimension,
    for constant ``D`` and for diagonal ``D(x)`` with ``sigma = sqrt(2 D)``.

    Internally the flux is written ``J = D (F p - grad p)`` with the effective force
    ``F = D^-1 (a - div D)``; the operator integrates ``F`` along lattice bonds.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> model = fp.FokkerPlanckModel(lambda x: -x, diffusion=0.5)
    >>> model.is_constant_diffusion
    True
    """

    def __init__(self, drift, diffusion=1.0, convention: str = "ito", *,
                 diffusion_divergence: Callable | None = None):
        if convention not in CONVENTIONS:
            raise ModelError(f"convention: unknown name {convention!r}; "
                             f"expected one of {tuple(CONVENTIONS)}")
        if not callable(drift):
            drift = np.asarray(drift, dtype=float)
            if drift.ndim < 2:
                raise ModelError("drift: expected a callable or an array of shape (d, *grid.shape),"
                                 f" got shape {drift.shape}")
        self.drift = drift
        self.convention = convention
        self._diffusion = _normalize_diffusion(diffusion)
        self._div_d = diffusion_divergence
        self._potential = None
        self._force = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_potential(cls, potential: Callable, diffusion=1.0, *, force: Callable | None = None,
                       diffusion_divergence: Callable | None = None) -> FokkerPlanckModel:
        """Model whose zero-current stationary density is ``exp(-U)`` for any ``D(x)``.

        The Ito drift is ``a = D (-grad U + f) + div D`` with an optional non-conservative force
        ``f`` (``force``, callable ``x -> (d, ...)``).  With ``f = 0`` the current vanishes for
        ``p = exp(-U)``; the finite-volume operator uses exact differences of ``U`` along bonds,
        so the discrete Boltzmann density ``exp(-U(x_i))`` is its exact null vector.

        Examples
        --------
        >>> import fpsolve as fp
        >>> model = fp.FokkerPlanckModel.from_potential(lambda x: 0.5 * (x**2).sum(0))
        >>> model.has_potential
        True
        """
        if not callable(potential):
            raise ModelError("potential: expected a callable x -> U(x) of shape x.shape[1:]")
        if force is not None and not callable(force):
            raise ModelError("force: expected a callable x -> f(x) of shape (d, ...)")
        model = cls(_potential_drift_unavailable, diffusion, "ito",
                    diffusion_divergence=diffusion_divergence)
        model._potential = potential
        model._force = force
        return model

    # ----------------------------------------------------------------- properties
    @property
    def has_potential(self) -> bool:
        """Whether the model was built from a potential ``U``."""
        return self._potential is not None

    @property
    def is_constant_diffusion(self) -> bool:
        """Whether ``D`` does not depend on position."""
        return not callable(self._diffusion)

    @property
    def ndim(self) -> int | None:
        """Dimension implied by a constant diffusion tensor (None when not determined)."""
        D = self._diffusion
        return None if callable(D) or D.ndim == 0 else D.shape[0]

    # ----------------------------------------------------------------- pointwise evaluation
    def diffusion_tensor(self, x) -> np.ndarray:
        """Diffusion tensor at points ``x (d, ...)``, shape ``(d, d, ...)``."""
        x = np.asarray(x, dtype=float)
        d, pts = x.shape[0], x.shape[1:]
        D = self._diffusion
        if callable(D):
            val = np.asarray(D(x), dtype=float)
            if val.shape == pts:
                val = val * np.eye(d).reshape((d, d) + (1,) * len(pts))
            elif val.shape == (d,) + pts:
                val = np.einsum("ij,j...->ij...", np.eye(d), val)
            elif val.shape != (d, d) + pts:
                raise ModelError(f"diffusion: callable returned shape {val.shape}; expected "
                                 f"{(d, d) + pts}, {(d,) + pts} or {pts}")
            return val
        if D.ndim == 0:
            mat = float(D) * np.eye(d)
        elif D.ndim == 1:
            mat = np.diag(D)
        else:
            mat = D
        if mat.shape != (d, d):
            raise ModelError(f"diffusion: constant tensor of shape {mat.shape} does not match "
                             f"the dimension d = {d}")
        return np.broadcast_to(mat.reshape((d, d) + (1,) * len(pts)), (d, d) + pts)

    # ----------------------------------------------------------------- grid evaluation
    def fields(self, grid) -> ModelFields:
        """Diffusion, effective force and potential sampled at the cell centers of ``grid``.

        Raises :class:`~fpsolve.errors.ModelError` for non-finite values or mismatched shapes
        and :class:`~fpsolve.errors.DiffusionError` where ``D`` is not symmetric positive
        definite, naming the first offending point.
        """
        if self.ndim is not None and self.ndim != grid.ndim:
            raise ModelError(f"diffusion: model is {self.ndim}-dimensional, grid is {grid.ndim}-D")
        x = grid.cell_centers()
        D = np.ascontiguousarray(self.diffusion_tensor(x))
        if not self.is_constant_diffusion:
            check_finite("diffusion", D, x)
            check_positive_definite(D, x)
        div_d = self._divergence_of_d(grid, x, D)
        if self.has_potential:
            U = self._eval("potential", self._potential, x, ())
            force = (np.zeros_like(x) if self._force is None
                     else self._eval("force", self._force, x, (grid.ndim,)))
            return ModelFields(D=D, force=force, potential=U, div_D=div_d)
        b = self._drift_on_cells(grid, x)
        alpha = CONVENTIONS[self.convention]
        # J = b p - (1 - alpha) (div D) p - D grad p  =>  F = D^-1 (b - (1 - alpha) div D)
        rhs = b if alpha == 1.0 else b - (1.0 - alpha) * div_d
        force = _solve_tensor(D, rhs, constant=self.is_constant_diffusion)
        return ModelFields(D=D, force=force, potential=None, div_D=div_d)

    def ito_drift(self, grid) -> np.ndarray:
        """Ito drift ``a = D F + div D`` at the cell centers of ``grid``, shape ``(d, *shape)``.

        For potential models ``F = -grad U + f`` with ``grad U`` from second-order finite
        differences (findiff) on the grid.
        """
        fields = self.fields(grid)
        force = fields.force
        if fields.potential is not None:
            force = force - np.stack([
                Diff(k, grid.spacing[k], acc=2, periodic=grid.periodic[k])(fields.potential)
                for k in range(grid.ndim)])
        return np.einsum("ij...,j...->i...", fields.D, force) + fields.div_D

    def _drift_on_cells(self, grid, x) -> np.ndarray:
        if callable(self.drift):
            return self._eval("drift", self.drift, x, (grid.ndim,))
        expected = (grid.ndim,) + grid.shape
        if self.drift.shape != expected:
            raise ModelError(f"drift: array has shape {self.drift.shape}; expected {expected} "
                             "(d, *grid.shape)")
        check_finite("drift", self.drift, x)
        return self.drift

    def _divergence_of_d(self, grid, x, D) -> np.ndarray:
        if self.is_constant_diffusion:
            return np.zeros_like(x)
        if self._div_d is not None:
            return self._eval("diffusion_divergence", self._div_d, x, (grid.ndim,))
        div = np.zeros_like(x)
        for j in range(grid.ndim):
            dj = Diff(j, grid.spacing[j], acc=2, periodic=grid.periodic[j])
            for i in range(grid.ndim):
                div[i] += dj(D[i, j])
        return div

    @staticmethod
    def _eval(name, func, x, lead) -> np.ndarray:
        """``func(x)`` with shape ``lead + x.shape[1:]``.  Accepted besides the exact shape: a
        scalar for a scalar field, size-1 point axes (``(d, 1, 1)``: constant per component)
        and, in 1-D only, a vector field without its component axis.  Anything else -- e.g. a
        ``(1, ...)`` or ``(...)`` drift on a 2-D grid, which broadcasting would copy onto every
        component -- raises :class:`ModelError` naming ``name`` and both shapes."""
        val = np.asarray(func(x), dtype=float)
        expected = lead + x.shape[1:]
        if val.shape != expected:
            if lead == (1,) and val.shape == expected[1:]:
                val = val[None]
            ok = (val.shape[:len(lead)] == lead and val.ndim == len(expected)) or val.ndim == 0
            if not ok or (lead and val.ndim == 0):
                raise ModelError(f"{name}: callable returned shape {val.shape}; expected "
                                 f"{expected} (one row per component)")
            try:
                val = np.broadcast_to(val, expected).copy()
            except ValueError:
                raise ModelError(f"{name}: callable returned shape {val.shape}; "
                                 f"expected {expected}") from None
        check_finite(name, val, x)
        return val

    def __repr__(self) -> str:
        kind = "potential" if self.has_potential else f"drift, convention={self.convention!r}"
        diff = "position-dependent" if callable(self._diffusion) else "constant"
        return f"FokkerPlanckModel({kind}, {diff} diffusion)"


def _potential_drift_unavailable(x):  # pragma: no cover - never evaluated on grids
    raise ModelError("drift: a potential model defines its drift through U; use fields()")


def _normalize_diffusion(diffusion):
    if callable(diffusion):
        return diffusion
    D = np.asarray(diffusion, dtype=float)
    if D.ndim > 2 or (D.ndim == 2 and D.shape[0] != D.shape[1]):
        raise ModelError(f"diffusion: expected a scalar, (d,), (d, d) or a callable, got shape "
                         f"{D.shape}")
    if not np.all(np.isfinite(D)):
        raise ModelError("diffusion: constant value contains NaN or inf")
    if D.ndim == 2:
        check_positive_definite(D[:, :, None], np.zeros((D.shape[0], 1)))
    elif np.any(D <= 0):
        raise ModelError(f"diffusion: expected positive values, got {D}")
    return D


def _solve_tensor(D: np.ndarray, rhs: np.ndarray, *, constant: bool) -> np.ndarray:
    """Solve ``D F = rhs`` pointwise for ``D (d, d, ...)`` and ``rhs (d, ...)``."""
    if constant:
        Dinv = np.linalg.inv(D[(slice(None), slice(None)) + (0,) * (D.ndim - 2)])
        return np.tensordot(Dinv, rhs, axes=(1, 0))
    Dm = np.moveaxis(D, (0, 1), (-2, -1))
    r = np.moveaxis(rhs, 0, -1)[..., None]
    return np.moveaxis(np.linalg.solve(Dm, r)[..., 0], -1, 0)

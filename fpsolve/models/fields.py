"""Model ingredients sampled at the cell centers of a grid, with input checks.

The operator interpolates these cell values to bond midpoints (faces and plaquette centers)
by averaging, which is second order and keeps the user's callables out of its kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DiffusionError, ModelError

__all__ = ["ModelFields", "check_finite", "check_positive_definite"]


@dataclass(frozen=True)
class ModelFields:
    """Model ingredients sampled at cell centers (``S = grid.shape``).

    Attributes
    ----------
    D : ndarray, shape (d, d, *S)
        Diffusion tensor.
    force : ndarray, shape (d, *S)
        Effective force ``F`` in ``J = D (F p - grad p)``; for a potential model only the
        non-conservative part (the conservative part is ``-grad U``).
    potential : ndarray, shape S, or None
        Potential ``U`` when the model has one.
    div_D : ndarray, shape (d, *S)
        Divergence ``(div D)_i = d_j D_ij`` (zero for constant ``D``).
    """

    D: np.ndarray
    force: np.ndarray
    potential: np.ndarray | None
    div_D: np.ndarray


def check_finite(name: str, values: np.ndarray, points: np.ndarray) -> None:
    """Raise :class:`ModelError` naming ``name`` and the first point where ``values`` is not
    finite.  ``values`` has shape ``(..., *P)`` and ``points`` shape ``(d, *P)``."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    lead = values.ndim - (points.ndim - 1)
    mask = bad.reshape((-1,) + points.shape[1:]).any(axis=0) if lead else bad
    idx = np.unravel_index(int(np.argmax(mask)), mask.shape)
    where = tuple(float(points[(k,) + idx]) for k in range(points.shape[0]))
    raise ModelError(f"{name}: non-finite value (NaN or inf) at x = {where} "
                     f"({int(mask.sum())} points affected)")


def check_positive_definite(D: np.ndarray, points: np.ndarray, *, rtol: float = 1e-12) -> None:
    """Raise :class:`DiffusionError` at the first point where ``D (d, d, *P)`` is not symmetric
    or not positive definite.  Symmetry is tested to ``rtol`` relative to the largest entry."""
    d = D.shape[0]
    scale = np.max(np.abs(D)) or 1.0
    asym = np.abs(D - np.swapaxes(D, 0, 1)).max(axis=(0, 1)) > rtol * scale
    if asym.any():
        _raise_at("diffusion: tensor is not symmetric", asym, points)
    # Sylvester's criterion (leading principal minors > 0) is exact and vectorizes for d <= 3.
    if d == 1:
        bad = ~(D[0, 0] > 0)
    elif d == 2:
        bad = ~((D[0, 0] > 0) & (D[0, 0] * D[1, 1] - D[0, 1] * D[1, 0] > 0))
    elif d == 3:
        m2 = D[0, 0] * D[1, 1] - D[0, 1] * D[1, 0]
        det = np.linalg.det(np.moveaxis(D, (0, 1), (-2, -1)))
        bad = ~((D[0, 0] > 0) & (m2 > 0) & (det > 0))
    else:
        bad = ~(np.linalg.eigvalsh(np.moveaxis(D, (0, 1), (-2, -1)))[..., 0] > 0)
    if bad.any():
        _raise_at("diffusion: tensor is not positive definite", bad, points)


def _raise_at(message: str, mask: np.ndarray, points: np.ndarray) -> None:
    idx = np.unravel_index(int(np.argmax(mask)), mask.shape)
    where = tuple(float(points[(k,) + idx]) for k in range(points.shape[0]))
    raise DiffusionError(f"{message} at x = {where} ({int(mask.sum())} points affected)")

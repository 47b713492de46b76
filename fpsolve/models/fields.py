"""Evaluation of model ingredients on the half-spacing mesh of a grid.

The finite-volume operator needs the diffusion tensor and the effective force at bond midpoints:
face centers (axis bonds) and edge/corner centers (diagonal bonds).  All of them, and the cell
centers, are nodes of the *half mesh* whose axis ``k`` has the ``2 n_k + 1`` nodes
``lo_k + m h_k / 2``: odd ``m`` are cell centers, even ``m`` are faces (walls included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DiffusionError, ModelError

__all__ = ["ModelFields", "half_mesh_axes", "half_mesh_points", "interpolate_to_half_mesh",
           "check_finite", "check_positive_definite"]


@dataclass(frozen=True)
class ModelFields:
    """Model ingredients sampled on the half mesh of a grid (shapes use ``H = 2*shape + 1``).

    Attributes
    ----------
    D : ndarray, shape (d, d, *H)
        Diffusion tensor.
    force : ndarray, shape (d, *H)
        Effective force ``F`` in ``J = D (F p - grad p)``; for a potential model only the
        non-conservative part (the conservative part is ``-grad U``).
    potential : ndarray, shape H, or None
        Potential ``U`` when the model has one.
    """

    D: np.ndarray
    force: np.ndarray
    potential: np.ndarray | None


def half_mesh_axes(grid) -> list[np.ndarray]:
    """Node coordinates of the half mesh, one array of length ``2 n_k + 1`` per axis."""
    return [np.linspace(lo, hi, 2 * n + 1) for (lo, hi), n in zip(grid.bounds, grid.shape)]


def half_mesh_points(grid) -> np.ndarray:
    """All half-mesh nodes, shape ``(d, *H)``."""
    return np.stack(np.meshgrid(*half_mesh_axes(grid), indexing="ij"))


def interpolate_to_half_mesh(values: np.ndarray, grid) -> np.ndarray:
    """Linear interpolation of cell values ``(..., *grid.shape)`` to the half mesh.

    Face nodes take the mean of the two adjacent cells (second order); wall nodes are linearly
    extrapolated, or averaged across the seam on periodic axes.
    """
    out = np.asarray(values, dtype=float)
    lead = out.ndim - grid.ndim
    for k, n in enumerate(grid.shape):
        ax = lead + k
        v = np.moveaxis(out, ax, 0)
        new = np.empty((2 * n + 1,) + v.shape[1:])
        new[1::2] = v
        new[2:-1:2] = 0.5 * (v[1:] + v[:-1])
        if grid.periodic[k]:
            new[0] = new[-1] = 0.5 * (v[0] + v[-1])
        else:
            new[0] = 1.5 * v[0] - 0.5 * v[1]
            new[-1] = 1.5 * v[-1] - 0.5 * v[-2]
        out = np.moveaxis(new, 0, ax)
    return out


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

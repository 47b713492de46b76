"""Relaxation spectra: the slowest eigenvalues of the Fokker-Planck generator."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from ..errors import ConvergenceError, SolverError
from ..results import SpectrumResult

__all__ = ["relaxation_spectrum", "eigenpairs_near", "DENSE_LIMIT"]

#: Grids with at most this many cells are diagonalized densely (LAPACK) instead of by ARPACK.
DENSE_LIMIT = 100

#: Default shift, relative to the largest diagonal rate ``max|G_ii|``: small enough to sit
#: closer to 0 than any relaxation rate of a resolved grid (those are ``>~ max|G_ii| / n^2``),
#: large enough that ``G - sigma I`` is safely nonsingular.
SIGMA_SCALE = 1e-8


def relaxation_spectrum(op, k: int = 6, *, return_modes: bool = False,
                        sigma: float | None = None) -> SpectrumResult:
    """The ``k`` slowest eigenvalues of the generator ``G`` (largest real parts).

    Parameters
    ----------
    op : FokkerPlanckOperator
    k : int
        Number of eigenvalues, ``1 <= k <= grid.size``.
    return_modes : bool, keyword-only
        Also return the eigenvectors (right eigenvectors of ``G``: density modes).
    sigma : float, optional, keyword-only
        Real shift ``< 0`` of the shift-invert transformation.  Default
        ``-1e-8 max|G_ii|``.

    Returns
    -------
    SpectrumResult
        ``eigenvalues`` (complex, shape ``(k,)``) sorted by ``rates = -Re(lambda)`` ascending,
        conjugate pairs with the positive imaginary part first; ``modes`` (complex, shape
        ``(k, *grid.shape)``) normalized to ``sum|mode| * cell_volume = 1`` with the entry of
        largest modulus real and positive, so the stationary mode is the stationary density.
        ``extra`` holds ``"sigma"``, ``"solver"`` and the relative ``"residuals"``
        ``||G v - lambda v|| / ||diag(G) v||`` of the returned pairs.

    Notes
    -----
    For conservative operators (no absorbing wall) ``G`` is singular, and its eigenvalue 0
    (the stationary state) is included.  ARPACK runs in shift-invert mode, ``(G - sigma I)^-1``
    with a small *negative* ``sigma`` (never exactly 0, where the factorization would be
    singular), which finds the eigenvalues nearest ``sigma``.  The ordering by distance is not
    the ordering by real part when imaginary parts are large, so ``max(2k + 2, k + 10)``
    eigenvalues are computed and the ``k`` with the largest real parts kept; an eigenvalue
    whose modulus exceeds all of those may still be missed.  Grids with at most
    :data:`DENSE_LIMIT` cells are diagonalized densely.  Discretization error of the
    eigenvalues: second order in ``h`` on smooth problems.

    Examples
    --------
    Ornstein-Uhlenbeck ``a = -x``, ``D = 1``: the eigenvalues are ``0, -1, -2, ...``.

    >>> import numpy as np, fpsolve as fp
    >>> from fpsolve.solvers.spectrum import relaxation_spectrum
    >>> grid = fp.CartesianGrid([(-8, 8)], (400,))
    >>> op = fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x, 1.0))
    >>> spec = relaxation_spectrum(op, k=3)
    >>> bool(np.allclose(spec.rates, [0, 1, 2], atol=3e-3))  # error 0.2 n (n + 1) h^2
    True
    >>> spec.extra["solver"]
    'arpack'
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= op.grid.size:
        raise SolverError(f"k: expected an integer in [1, {op.grid.size}] (grid.size), got {k!r}")
    G = op.matrix()
    if sigma is None:
        sigma = -SIGMA_SCALE * float(np.abs(G.diagonal()).max())
    if not (np.isscalar(sigma) and np.isfinite(sigma) and sigma < 0):
        raise SolverError(f"sigma: expected a finite real shift < 0, got {sigma!r}")
    vals, vecs, solver = eigenpairs_near(G, k, float(sigma))
    order = _slowest_first(vals)[:k]
    vals, vecs = vals[order], vecs[:, order]
    res = [_pair_residual(G, lam, v) for lam, v in zip(vals, vecs.T)]
    modes = None
    if return_modes:
        modes = np.stack([_normalize_mode(v, op.grid.cell_volume) for v in vecs.T])
        modes = modes.reshape((k,) + op.grid.shape)
    msg = f"{solver}: {k} eigenvalues, largest relative residual {max(res):.1e}"
    return SpectrumResult(rates=-vals.real, eigenvalues=vals, modes=modes, grid=op.grid,
                          message=msg,
                          extra={"sigma": float(sigma), "solver": solver,
                                 "residuals": np.asarray(res)})


def eigenpairs_near(G, k: int, sigma: float):
    """At least ``k`` eigenpairs of ``G`` nearest the real shift ``sigma`` (all, if dense).

    Returns ``(values, vectors, solver)``: complex arrays of shapes ``(m,)`` and ``(n, m)``,
    ``m >= k``, unsorted, and the name of the solver used (``"dense"`` or ``"arpack"``).
    ``G - sigma I`` must be nonsingular.  Raises :class:`~fpsolve.errors.ConvergenceError`
    when ARPACK does not converge.
    """
    n = G.shape[0]
    m = max(2 * k + 2, k + 10)
    if n <= DENSE_LIMIT or m >= n - 1:
        vals, vecs = np.linalg.eig(G.toarray())
        return vals.astype(complex), vecs.astype(complex), "dense"
    try:
        vals, vecs = spla.eigs(G.tocsc(), k=m, sigma=sigma, which="LM")
    except spla.ArpackNoConvergence as exc:
        raise ConvergenceError(
            f"ARPACK shift-invert at sigma = {sigma:.3g} did not converge for {m} eigenvalues "
            f"({len(exc.eigenvalues)} converged)") from exc
    return vals.astype(complex), vecs.astype(complex), "arpack"


def _slowest_first(vals: np.ndarray) -> np.ndarray:
    """Indices sorting ``vals`` by ``-Re`` ascending, conjugate pairs with ``Im > 0`` first."""
    order = list(np.argsort(-vals.real, kind="stable"))
    for i in range(len(order) - 1):
        a, b = vals[order[i]], vals[order[i + 1]]
        # A conjugate pair whose real parts differ by round-off: put Im > 0 first.
        if a.imag < 0 and abs(a - np.conj(b)) <= 1e-10 * abs(a):
            order[i], order[i + 1] = order[i + 1], order[i]
    return np.asarray(order, dtype=int)


def _pair_residual(G, lam, v) -> float:
    scale = np.linalg.norm(G.diagonal() * v)
    return float(np.linalg.norm(G @ v - lam * v) / scale) if scale > 0 else float("inf")


def _normalize_mode(v: np.ndarray, cell_volume: float) -> np.ndarray:
    i = int(np.argmax(np.abs(v)))
    v = v * (abs(v[i]) / v[i])
    return v / (np.abs(v).sum() * cell_volume)

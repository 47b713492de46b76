"""Minima of a model's full loss: a safeguarded Newton method.

Models (duck-typed, as :class:`~fpsolve.learning.models.GradientModel`) provide
``loss(w, data)``, ``gradient`` and ``hessian``.  The theory of SGD near a minimum
(:mod:`fpsolve.learning.theory`) and the samplers' default start use it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..._runs import check_count
from ...errors import ConvergenceWarning, ModelError, SolverError

__all__ = ["Minimum", "as_vector", "find_minimum", "minimize", "model_array"]

_ARMIJO = 1e-4       # sufficient-decrease constant of the backtracking line search
_HALVINGS = 50       # step halvings before the line search gives up (2^-50 ~ float epsilon)

@dataclass(frozen=True)
class Minimum:
    """A minimum found by :func:`find_minimum` or :func:`~.wor.wor_stationary_mean`.

    ``w (d,)`` the minimizer; ``H (d, d)`` the Hessian of the full loss ``L`` at ``w`` (positive
    definite); ``grad_norm`` the norm of the minimized function's gradient at ``w``;
    ``converged`` whether the Newton step fell below the tolerance; ``n_steps`` steps taken.
    """

    w: np.ndarray
    H: np.ndarray
    grad_norm: float
    converged: bool
    n_steps: int


def find_minimum(model, data, w0, *, tol: float = 1e-10, maxiter: int = 50) -> Minimum:
    """Minimize the full loss ``L`` by a safeguarded Newton method.

    Parameters
    ----------
    model, data : object
        ``loss``, ``gradient``, ``hessian`` (module docstring); the training set.
    w0 : array_like, shape (d,)
        Starting point.
    tol, maxiter : keyword-only
        Stop when the Newton step ``|p| <= tol (1 + |w|)``; after ``maxiter`` steps (or a failed
        line search) stop with a ``ConvergenceWarning``.

    Returns
    -------
    Minimum
        ModelError if the point reached is not a minimum (``H`` not positive definite).

    Notes
    -----
    Saddle-free Newton: ``p = -|H|^-1 grad L`` (absolute eigenvalues of ``H``) is a descent
    direction everywhere; halve it until Armijo, ``L(w + t p) <= L(w) + 1e-4 t grad L . p``.
    Near a minimum the full step is taken: quadratic convergence, one step for a quadratic loss.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from fpsolve.learning import find_minimum
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> quad = SimpleNamespace(loss=lambda w, _: 0.5 * w @ A @ w - w.sum(),
    ...                        gradient=lambda w, _: A @ w - 1.0, hessian=lambda w, _: A)
    >>> m = find_minimum(quad, None, np.zeros(2))
    >>> m.n_steps, np.allclose(m.w, np.linalg.solve(A, [1.0, 1.0]))
    (1, True)
    """
    return minimize(lambda w: model.loss(w, data), lambda w: model.gradient(w, data),
                     lambda w: model.hessian(w, data), w0, tol, maxiter)


def minimize(fun, grad, hess, w0, tol, maxiter) -> Minimum:
    """Minimize ``fun`` (with ``grad`` and ``hess``) from ``w0``: saddle-free Newton with Armijo
    backtracking, then the positive-definiteness check (see :func:`find_minimum`)."""
    w, maxiter = as_vector("w0", w0), check_count("maxiter", maxiter, 0)
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol > 0):
        raise SolverError(f"tol: expected a positive finite number, got {tol!r}")
    f, converged = float(fun(w)), False
    for step in range(maxiter + 1):
        g = model_array("gradient", grad(w), w.shape)
        H = model_array("hessian", hess(w), 2 * w.shape)
        H = 0.5 * (H + H.T)
        lam, V = np.linalg.eigh(H)
        # |eigenvalues|, floored: a singular H gives a long step to backtrack, not an overflow
        floor = 1e-12 * np.abs(lam).max() + np.finfo(float).tiny
        p = -V @ ((V.T @ g) / np.maximum(np.abs(lam), floor))
        if np.linalg.norm(p) <= tol * (1.0 + np.linalg.norm(w)):
            converged = True
            break
        if step == maxiter or (w_f := _backtrack(fun, w, f, g, p)) is None:
            break
        w, f = w_f
    if lam[0] <= 0:
        raise ModelError(f"w0: Newton's method ended at a point that is not a minimum "
                         f"(smallest Hessian eigenvalue {lam[0]:.6g}; expected > 0)")
    if not converged:
        warnings.warn(f"Newton's method stopped after {step} steps with step norm "
                      f"{np.linalg.norm(p):.3g} above tol", ConvergenceWarning, stacklevel=3)
    return Minimum(w, H, float(np.linalg.norm(g)), converged, step)


def _backtrack(fun, w, f, g, p):
    """``(w + t p, f)`` for the first ``t = 1, 1/2, ...`` meeting Armijo; None if none does."""
    slope, t = float(g @ p), 1.0
    for _ in range(_HALVINGS):
        f_new = float(fun(w + t * p))
        # round-off allowance: near the minimum f changes by less than its own last digits
        if f_new <= f + _ARMIJO * t * slope + 8 * np.finfo(float).eps * abs(f):
            return w + t * p, f_new
        t *= 0.5
    return None


def model_array(name, X, shape) -> np.ndarray:
    """``X`` as a float array of ``shape`` with finite values; ModelError naming ``name``."""
    X = np.asarray(X, dtype=float)
    if X.shape != shape or not np.all(np.isfinite(X)):
        raise ModelError(f"model: {name} must return finite values of shape {shape}, got "
                         f"shape {X.shape}")
    return X




def as_vector(name, v, d=None) -> np.ndarray:
    """``v`` as a finite float vector (of size ``d`` if given); SolverError naming ``name``."""
    v = np.array(v, dtype=float)
    if v.ndim != 1 or (d is not None and v.size != d) or not np.all(np.isfinite(v)):
        raise SolverError(f"{name}: expected a finite vector of shape ({d or 'd'},), got "
                          f"shape {v.shape}")
    return v

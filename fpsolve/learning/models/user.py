"""Models the user brings: a per-sample gradient compiled into the chain kernel, or a batched
Python/NumPy function (a slower path through the same kernel).

A :class:`UserModel` is a :class:`~fpsolve.learning.models.GradientModel` like the built-in ones:
:func:`~fpsolve.learning.sgd`, :func:`~fpsolve.learning.sample` (every sampler), the diagnostics,
checkpoints and -- with its Hessian, given or by finite differences -- the Gaussian theory and
the exact sampler moments take it.  The loss convention is the package's: ``L = mean_i l_i`` is
the negative log posterior, the per-sample loss ``l_i`` includes its share of the prior.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from ..._numba import jit_inline_uncached, jit_typed, objmode
from ..._runs import check_count
from ...errors import FpsolveError, ModelError
from ..data.datasets import as_dataset
from .dispatch import BATCH_SIGNATURE, ModelKernel, read_only
from .gradient import GradientModel

__all__ = ["UserModel"]

#: Python batch functions of live UserModels (weak methods), by id: the kernel finds them in
#: object mode.
_PYTHON_BATCH: dict[int, object] = {}
_IDS = itertools.count()
#: Central-difference step of the finite-difference Hessians, relative to 1 + |w_k|:
#: eps^(1/3) balances the O(h^2) truncation against the O(eps / h) round-off.
_FD_STEP = np.finfo(float).eps ** (1 / 3)


def _compile_per_sample(per_sample):
    """The batch function of :data:`BATCH_SIGNATURE` summing ``per_sample`` (compiled once per
    model: it closes over the user's function, so it is not cached on disk).  The user's Python
    function is compiled again to be inlined into the batch loop (a call per sample would cost
    as much as a small model's arithmetic)."""
    body = getattr(per_sample, "py_func", per_sample)
    per_sample = jit_inline_uncached(body)

    def batch(w, x, y, idx, start, b, theta, tmp, out):
        d = w.size
        g = tmp[:d]
        out[:] = 0.0
        loss = 0.0
        for j in range(start, start + b):
            i = idx[j]
            loss += per_sample(w, x[i], y[i], g)
            for q in range(d):
                out[q] += g[q]
        for q in range(d):
            out[q] /= b
        return loss / b
    return jit_typed(BATCH_SIGNATURE)(batch)


def _python_batch_call(key, w, x, y, idx, out):
    """Object-mode body: call the registered Python batch function, check, copy the gradient."""
    loss, grad = _PYTHON_BATCH[key]()(w, x[idx], y[idx])
    out[:] = grad
    return float(loss)


def _compile_python_batch():
    def batch(w, x, y, idx, start, b, theta, tmp, out):
        sel = idx[start:start + b].copy()
        with objmode(loss="float64"):
            loss = _python_batch_call(int(theta[0]), w, x, y, sel, out)
        return loss
    return jit_typed(BATCH_SIGNATURE)(batch)


class UserModel(GradientModel):
    """A model defined by its per-sample loss gradient (numba) or a batched NumPy function.

    Parameters
    ----------
    per_sample : numba-jitted function, optional
        ``per_sample(w, x_i, y_i, grad) -> l_i``: writes ``grad l_i(w)`` (shape ``(d,)``) into
        ``grad`` and returns ``l_i``; ``w (d,)``, ``x_i (F,)`` (read-only), ``y_i`` a float.  It
        is compiled into the one chain loop (``numba.njit`` without a signature is fine).
    n_params : int
        ``d``.
    batch : callable, optional
        Instead of ``per_sample``: ``batch(w, x_b, y_b) -> (mean loss, mean gradient (d,))``
        over the rows of a minibatch, plain Python/NumPy.  The chain kernel calls it in object
        mode (the GIL serializes the chains): slower, same schedules, samplers and records.
    hessian : callable, optional
        ``hessian(w, data) -> (d, d)`` of the full loss; default central finite differences of
        the gradient (error ``O(h^2)``, ``h ~ eps^(1/3)``: about 1e-10 relative).
    name : str, optional
        Used in messages and ``repr`` (default the function's name).

    Examples
    --------
    >>> import numba, numpy as np
    >>> from fpsolve.learning import UserModel, sgd
    >>> @numba.njit
    ... def square(w, x, y, g):            # l_i = (y_i - w . x_i)^2 / 2
    ...     r = y - (w[0] * x[0] + w[1] * x[1])
    ...     g[0], g[1] = -r * x[0], -r * x[1]
    ...     return 0.5 * r * r
    >>> x = np.random.default_rng(0).normal(size=(50, 2)); y = x @ [1.0, -2.0]
    >>> model = UserModel(square, 2)
    >>> res = sgd(model, (x, y), np.zeros(2), eta=0.1, batch_size=5, n_steps=500, rng=1)
    >>> np.round(res.w_final[0], 6).tolist()
    [1.0, -2.0]
    """

    kind = -2      # no built-in kernel: chain_kernel compiles the user's function

    def __init__(self, per_sample=None, n_params=None, *, batch=None, hessian=None, name=None):
        if (per_sample is None) == (batch is None):
            raise FpsolveError("per_sample, batch: give exactly one of a numba per-sample "
                               "gradient and a Python batch function")
        self.n_params = check_count("n_params", n_params)
        self.per_sample, self.batch, self.hessian_fn = per_sample, batch, hessian
        fn = per_sample if per_sample is not None else batch
        if not callable(fn) or (hessian is not None and not callable(hessian)):
            raise FpsolveError(f"per_sample, batch, hessian: expected callables, got "
                               f"{type(fn).__name__}")
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.width, self._kernel, self._checked = 1, None, set()
        self._key = next(_IDS)
        if batch is not None:
            _PYTHON_BATCH[self._key] = weakref.WeakMethod(self._checked_batch)
            weakref.finalize(self, _PYTHON_BATCH.pop, self._key, None)

    def __repr__(self):
        return f"UserModel({self.name}, n_params={self.n_params})"

    # ------------------------------------------------------------------ the kernel
    def kernel_arguments(self, data):
        raise FpsolveError("model: a UserModel has no built-in kernel arguments; the chain "
                           "kernels take it through chain_kernel(data)")

    def chain_kernel(self, data) -> ModelKernel:
        """The model and ``data`` as the chain kernels see them (the user's function checked on
        the first sample, then compiled into the batch signature once)."""
        data = as_dataset(data)
        x = data.x.reshape(-1, 1) if data.x.ndim == 1 else data.x
        self._check(x, data.y)
        if self._kernel is None:
            try:
                self._kernel = (_compile_per_sample(self.per_sample) if self.batch is None
                                else _compile_python_batch())
            except Exception as exc:  # numba's typing errors are long; name the function
                raise ModelError(f"per_sample ({self.name}): cannot be compiled as "
                                 f"f(w float64[d], x_i float64[F] read-only, y_i float64, "
                                 f"grad float64[d]) -> float64 ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200]})") from None
        return ModelKernel(self._kernel, read_only(x), read_only(data.y),
                           np.array([float(self._key)]), self.n_params)

    def _check(self, x, y):
        """Call the user's function once on sample 0 (plain Python where possible, so a write
        out of range raises instead of corrupting memory) and check what comes back."""
        if id(x) in self._checked:
            return
        w = np.zeros(self.n_params)
        if self.batch is not None:
            self._checked_batch(w, x[:1], y[:1].astype(float))
        else:
            fn = getattr(self.per_sample, "py_func", self.per_sample)
            grad = np.full(self.n_params, np.nan)
            try:
                loss = fn(w, np.array(x[0], dtype=float), float(y[0]), grad)
            except IndexError as exc:
                raise ModelError(f"per_sample ({self.name}): wrote outside grad of shape "
                                 f"({self.n_params},) ({exc})") from None
            _check_output(self.name, loss, grad, self.n_params)
        self._checked.add(id(x))

    def _checked_batch(self, w, xb, yb):
        out = self.batch(w, xb, yb)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ModelError(f"batch ({self.name}): expected (loss, gradient), got "
                             f"{type(out).__name__}")
        grad = np.asarray(out[1], dtype=float)
        _check_output(self.name, out[0], grad, self.n_params, what="batch")
        return float(out[0]), grad

    # ------------------------------------------------------------------ the model contract
    def _batch(self, w, data, batch):
        w = self._params(w)
        k = self.chain_kernel(data)
        idx = np.arange(k.n_samples) if batch is None else np.asarray(batch, dtype=np.int64)
        if idx.ndim != 1 or idx.size < 1 or idx.min() < 0 or idx.max() >= k.n_samples:
            raise FpsolveError(f"batch: expected a non-empty vector of indices in "
                               f"[0, {k.n_samples}), got {np.asarray(batch)!r}")
        g = np.empty(self.n_params)
        loss = k.batch(w, k.x, k.y, np.ascontiguousarray(idx), 0, idx.size, k.theta,
                       np.zeros(k.scratch), g)
        return float(loss), g

    def per_sample_gradients(self, w, data) -> np.ndarray:
        """``grad l_i``, shape ``(N, d)``; a stack ``w (n, d)`` gives ``(n, N, d)``."""
        w_arr = np.asarray(w, dtype=float)
        if w_arr.ndim == 2:
            return np.stack([self.per_sample_gradients(v, data) for v in w_arr])
        w_arr, k = self._params(w_arr), self.chain_kernel(data)   # built once, not per sample
        idx, tmp, out = np.arange(k.n_samples), np.zeros(k.scratch), np.empty((k.n_samples,
                                                                              self.n_params))
        for i in range(k.n_samples):
            k.batch(w_arr, k.x, k.y, idx, i, 1, k.theta, tmp, out[i])
        return out

    def hessian(self, w, data) -> np.ndarray:
        """The full loss's Hessian: the user's function, else central differences."""
        if self.hessian_fn is not None:
            H = np.asarray(self.hessian_fn(self._params(w), data), dtype=float)
            if H.shape != (self.n_params,) * 2 or not np.all(np.isfinite(H)):
                raise ModelError(f"hessian ({self.name}): expected finite values of shape "
                                 f"{(self.n_params,) * 2}, got shape {H.shape}")
            return 0.5 * (H + H.T)
        return _fd_jacobian(lambda v: self.gradient(v, data), self._params(w))

    def per_sample_hessians(self, w, data) -> np.ndarray:
        """Per-sample Hessians ``(N, d, d)`` by central differences of the per-sample
        gradients."""
        return _fd_jacobian(lambda v: self.per_sample_gradients(v, data), self._params(w))


def _check_output(name, loss, grad, d, what="per_sample"):
    if grad.shape != (d,):
        raise ModelError(f"{what} ({name}): the gradient has shape {grad.shape}, expected "
                         f"({d},)")
    if not np.all(np.isfinite(grad)):
        raise ModelError(f"{what} ({name}): the gradient of shape ({d},) has non-finite or "
                         f"unwritten entries at w = 0: {np.flatnonzero(~np.isfinite(grad))}")
    if not (np.ndim(loss) == 0 and np.isfinite(float(loss))):
        raise ModelError(f"{what} ({name}): expected a finite scalar loss, got {loss!r}")


def _fd_jacobian(f, w):
    """``J[..., k] = d f / d w_k`` by central differences (symmetrized for square results)."""
    cols = []
    for k in range(w.size):
        h = _FD_STEP * (1.0 + abs(w[k]))
        e = np.zeros(w.size)
        e[k] = h
        cols.append((np.asarray(f(w + e)) - np.asarray(f(w - e))) / (2 * h))
    J = np.stack(cols, axis=-1)
    return 0.5 * (J + np.swapaxes(J, -1, -2))

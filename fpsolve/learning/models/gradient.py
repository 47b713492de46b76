"""Learning models with analytic per-sample gradients and exact Hessians (numba kernels).

Loss normalization (Adhikari et al., arXiv 2306.03521).  For a training set of ``N`` samples the
per-sample loss is

* regression (:class:`RegressionNetwork`, :class:`LinearRegression`):
  ``l_i = N / (2 s^2) [ (y_i - f(x_i; w))^2 + lam |w|^2 ]`` (defaults ``s = 0.1``,
  ``lam = 1e-3``), so that ``L`` is the negative log posterior of Gaussian noise of width ``s``
  and a Gaussian prior;
* classification (:class:`SoftmaxRegression`): ``l_i = N [ CE_i + lam |w|^2 / 2 ]`` with the
  cross-entropy ``CE_i = -log softmax(z(x_i))_{y_i}``; ``|w|^2`` includes the biases.

The full loss is ``L = mean_i l_i`` and a minibatch loss is the mean over the batch, so every
minibatch gradient is an unbiased estimate of ``grad L``.  All derivatives are analytic.
"""

from __future__ import annotations

import numpy as np

from ..._runs import check_count, check_positive
from ...errors import FpsolveError
from ..data.datasets import Dataset, as_dataset
from . import _kernels
from .dispatch import ModelKernel

__all__ = ["GradientModel", "RegressionNetwork", "LinearRegression", "SoftmaxRegression",
           "LogisticRegression"]


class GradientModel:
    """Base class: a parametric model with a per-sample loss ``l_i(w)`` and its derivatives.

    Subclasses set ``kind`` (the kernel's model code), ``n_params``, ``width`` (hidden units or
    classes) and implement ``_prefactors(N) -> (a, c)`` with ``l_i = a [r_i + c |w|^2]`` and
    ``_inputs(data) -> x (N, F)``.  Everything else runs the shared kernels of
    :mod:`fpsolve.learning.models._kernels`: ``loss``, ``gradient``, ``minibatch_gradient``,
    ``per_sample_gradients`` (also for a stack of parameter vectors), ``hessian``,
    ``per_sample_hessians`` and the SGD loop of :func:`~fpsolve.learning.sgd`.  ``data`` is a
    :class:`~fpsolve.learning.Dataset` or a pair ``(x, y)``.
    """

    kind: int
    n_params: int
    width: int = 1

    # ------------------------------------------------------------------ subclass contract
    def _prefactors(self, N: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _inputs(self, data: Dataset) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _targets(self, data: Dataset) -> np.ndarray:
        return data.y.astype(float)

    # ------------------------------------------------------------------ shared machinery
    def kernel_arguments(self, data):
        """``(kind, x (N, F), y (N,), a, c, m)``: the model as the kernels see it."""
        data = as_dataset(data)
        x = np.ascontiguousarray(self._inputs(data), dtype=float)
        a, c = self._prefactors(data.N)
        return self.kind, x, np.ascontiguousarray(self._targets(data)), a, c, self.width

    def chain_kernel(self, data) -> ModelKernel:
        """The model and ``data`` as the chain kernels see them (one dispatch for all models)."""
        kind, x, y, a, c, m = self.kernel_arguments(data)
        return ModelKernel.build(_BATCH[kind], x, y, (a, c, m), m, kind)

    def _params(self, w) -> np.ndarray:
        w = np.array(w, dtype=float)
        if w.shape != (self.n_params,):
            raise FpsolveError(f"w: expected shape ({self.n_params},), got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise FpsolveError("w: contains non-finite values")
        return w

    def _scratch(self):
        return np.zeros(max(self.width, 1))

    def loss(self, w, data) -> float:
        """Full loss ``L(w) = mean_i l_i(w)``."""
        return self._batch(w, data, None)[0]

    def gradient(self, w, data) -> np.ndarray:
        """``grad L (d,)``, the mean of the per-sample gradients."""
        return self._batch(w, data, None)[1]

    def minibatch_gradient(self, w, data, batch) -> np.ndarray:
        """Gradient ``(d,)`` of the minibatch loss ``mean_{i in batch} l_i`` (the SGD kernel's)."""
        return self._batch(w, data, batch)[1]

    def _batch(self, w, data, batch):
        w = self._params(w)
        kind, x, y, a, c, m = self.kernel_arguments(data)
        idx = np.arange(x.shape[0]) if batch is None else np.asarray(batch, dtype=np.int64)
        if idx.ndim != 1 or idx.size < 1 or idx.min() < 0 or idx.max() >= x.shape[0]:
            raise FpsolveError(f"batch: expected a non-empty vector of indices in "
                               f"[0, {x.shape[0]}), got {np.asarray(batch)!r}")
        g = np.empty(self.n_params)
        loss = _kernels.batch_gradient(kind, w, x, y, np.ascontiguousarray(idx), 0, idx.size,
                                       a, c, m, self._scratch(), g)
        return float(loss), g

    def per_sample_gradients(self, w, data) -> np.ndarray:
        """Per-sample gradients ``grad l_i``, shape ``(N, d)``; a stack ``w (n, d)`` gives
        ``(n, N, d)``."""
        kind, x, y, a, c, m = self.kernel_arguments(data)
        w_arr = np.asarray(w, dtype=float)
        if w_arr.ndim == 2:
            ws = np.stack([self._params(v) for v in w_arr]) if w_arr.size else w_arr
            out = np.empty((ws.shape[0], x.shape[0], self.n_params))
            _kernels.stacked_sample_gradients(kind, np.ascontiguousarray(ws), x, y, a, c, m,
                                              self._scratch(), out)
            return out
        out = np.empty((x.shape[0], self.n_params))
        _kernels.sample_gradients(kind, self._params(w), x, y, a, c, m, self._scratch(), out)
        return out

    def hessian(self, w, data) -> np.ndarray:
        """Exact Hessian of the full loss, shape ``(d, d)``."""
        return self._hessians(w, data, _kernels.loss_hessian, ())

    def per_sample_hessians(self, w, data) -> np.ndarray:
        """Exact Hessians of the per-sample losses ``l_i``, shape ``(N, d, d)``."""
        return self._hessians(w, data, _kernels.sample_hessians, (as_dataset(data).N,))

    def _hessians(self, w, data, kernel, lead):
        w = self._params(w)
        kind, x, y, a, c, m = self.kernel_arguments(data)
        out = np.empty(lead + (self.n_params, self.n_params))
        kernel(kind, w, x, y, a, c, m, self._scratch(), np.empty(self.n_params), out)
        return out


class RegressionNetwork(GradientModel):
    """One-hidden-layer tanh network ``f(x; w) = sum_k v_k tanh(u_k x + c_k) + b``.

    Parameters are ordered ``w = (u_1..u_H, c_1..c_H, v_1..v_H, b)`` (``d = 3 H + 1``); for
    ``hidden=2`` this is the paper's ``(w1, ..., w7)`` with
    ``f = w5 tanh(w1 x + w3) + w6 tanh(w2 x + w4) + w7``.

    Parameters
    ----------
    hidden : int, default 2
    s : float, default 0.1
        Noise scale of the loss ``l_i = N / (2 s^2) [(y_i - f_i)^2 + lam |w|^2]``.
    lam : float, default 1e-3
        Ridge coefficient.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import RegressionNetwork, paper_regression
    >>> net, data = RegressionNetwork(), paper_regression()
    >>> w = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
    >>> net.per_sample_gradients(w, data).shape, net.hessian(w, data).shape
    ((200, 7), (7, 7))
    """

    kind = _kernels.NET

    def __init__(self, hidden: int = 2, *, s: float = 0.1, lam: float = 1e-3):
        self.width = check_count("hidden", hidden)
        self.s = check_positive("s", s)
        self.lam = check_positive("lam", lam, strict=False)
        self.n_params = 3 * self.width + 1

    def __repr__(self):
        return f"RegressionNetwork(hidden={self.width}, s={self.s!r}, lam={self.lam!r})"

    def _prefactors(self, N):
        return N / (2.0 * self.s**2), self.lam

    def _inputs(self, data):
        if data.x.ndim == 2 and data.x.shape[1] != 1:
            raise FpsolveError(f"data: RegressionNetwork expects scalar inputs x of shape (N,), "
                               f"got {data.x.shape}")
        return data.x.reshape(-1, 1)

    def predict(self, w, x) -> np.ndarray:
        """``f(x; w)`` for inputs ``x`` of any shape."""
        w, h = self._params(w), self.width
        x = np.asarray(x, dtype=float)[..., None]
        return np.tanh(w[:h] * x + w[h:2 * h]) @ w[2 * h:3 * h] + w[3 * h]


class LinearRegression(GradientModel):
    """Linear model ``f(x; w) = w^T x`` without intercept (append a constant feature for one).

    Parameters
    ----------
    d : int
        Number of features and of parameters; inputs have shape ``(N, d)`` (or ``(N,)`` if
        ``d == 1``).
    s, lam : float
        As in :class:`RegressionNetwork` (defaults 0.1 and 1e-3).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> model = LinearRegression(2, lam=0.0)
    >>> float(model.loss([1.0, 2.0], (x, x @ [1.0, 2.0])))
    0.0
    """

    kind = _kernels.LINEAR

    def __init__(self, d: int, *, s: float = 0.1, lam: float = 1e-3):
        self.n_params = check_count("d", d)
        self.s = check_positive("s", s)
        self.lam = check_positive("lam", lam, strict=False)

    def __repr__(self):
        return f"LinearRegression({self.n_params}, s={self.s!r}, lam={self.lam!r})"

    def _prefactors(self, N):
        return N / (2.0 * self.s**2), self.lam

    def _inputs(self, data):
        return _features(data, self.n_params, f"LinearRegression({self.n_params}) expects ")

    def predict(self, w, x) -> np.ndarray:
        """``f(x; w) = x @ w``."""
        return np.asarray(x, dtype=float).reshape(-1, self.n_params) @ self._params(w)


class _CrossEntropyModel(GradientModel):
    """Shared by the classifiers: ``l_i = N [CE_i + lam |w|^2 / 2]`` on ``n_features`` inputs."""

    n_features: int
    lam: float

    def _prefactors(self, N):
        return float(N), 0.5 * self.lam

    def _inputs(self, data):
        return _features(data, self.n_features)


class SoftmaxRegression(_CrossEntropyModel):
    """Multinomial logistic regression: logits ``z_k = W_k x + b_k``.

    Parameters are the weights ``W (n_classes, n_features)`` row-major, then the biases
    ``b (n_classes,)``: ``d = n_classes (n_features + 1)``.  Labels are ints in
    ``[0, n_classes)``.  Loss ``l_i = N [CE_i + lam |w|^2 / 2]`` (biases regularized too).

    Parameters
    ----------
    n_features : int
    n_classes : int, >= 2
    lam : float, default 1e-3

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import SoftmaxRegression
    >>> model = SoftmaxRegression(2, 3, lam=0.0)
    >>> data = (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 2]))
    >>> bool(np.isclose(model.loss(np.zeros(9), data), 2 * np.log(3)))
    True
    """

    kind = _kernels.SOFTMAX

    def __init__(self, n_features: int, n_classes: int, *, lam: float = 1e-3):
        self.n_features = check_count("n_features", n_features)
        self.width = check_count("n_classes", n_classes, minimum=2)
        self.lam = check_positive("lam", lam, strict=False)
        self.n_params = self.width * (self.n_features + 1)

    def __repr__(self):
        return f"SoftmaxRegression({self.n_features}, {self.width}, lam={self.lam!r})"

    def _targets(self, data):
        y = data.y
        if y.dtype.kind != "i" or y.min() < 0 or y.max() >= self.width:
            raise FpsolveError(f"data: expected integer labels y in [0, {self.width}), got "
                               f"dtype {y.dtype}, range [{y.min()}, {y.max()}]")
        return y.astype(float)

    def predict(self, w, x) -> np.ndarray:
        """Class probabilities, shape ``(N, n_classes)``."""
        w, K, F = self._params(w), self.width, self.n_features
        z = np.asarray(x, dtype=float).reshape(-1, F) @ w[:K * F].reshape(K, F).T + w[K * F:]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


class LogisticRegression(_CrossEntropyModel):
    """Binary logistic regression ``P(y = 1 | x) = sigma(z)`` with an L2 prior.

    ``z = w[:F] x + w[F]`` (weights, then the bias).

    Loss ``l_i = N [CE_i + lam |w|^2 / 2]``, ``CE_i = log(1 + e^z_i) - y_i z_i`` (the bias is
    regularized too), so ``L = mean_i l_i`` is the negative log posterior of a Gaussian prior of
    precision ``N lam``; labels ``y in {0, 1}``.

    Parameters
    ----------
    n_features : int
    lam : float, default 1e-3

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LogisticRegression
    >>> model = LogisticRegression(2, lam=0.0)
    >>> data = (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]))
    >>> bool(np.isclose(model.loss(np.zeros(3), data), 2 * np.log(2)))
    True
    """

    kind = _kernels.LOGISTIC

    def __init__(self, n_features: int, *, lam: float = 1e-3):
        self.n_features = check_count("n_features", n_features)
        self.lam = check_positive("lam", lam, strict=False)
        self.n_params = self.n_features + 1

    def __repr__(self):
        return f"LogisticRegression({self.n_features}, lam={self.lam!r})"

    def _targets(self, data):
        y = np.asarray(data.y)
        if not np.all((y == 0) | (y == 1)):
            raise FpsolveError("data: expected labels y in {0, 1}")
        return y.astype(float)

    def predict(self, w, x) -> np.ndarray:
        """``P(y = 1 | x)``, shape ``(N,)``."""
        w, F = self._params(w), self.n_features
        z = np.asarray(x, dtype=float).reshape(-1, F) @ w[:F] + w[F]
        return 0.5 * (1.0 + np.tanh(0.5 * z))


_BATCH = {_kernels.NET: _kernels.net_batch, _kernels.LINEAR: _kernels.linear_batch,
          _kernels.SOFTMAX: _kernels.softmax_batch, _kernels.LOGISTIC: _kernels.logistic_batch}


def _features(data, n_features: int, who: str = "expected ") -> np.ndarray:
    """``x`` as ``(N, n_features)``; FpsolveError naming ``data`` otherwise."""
    x = data.x.reshape(-1, 1) if data.x.ndim == 1 else data.x
    if x.shape[1] != n_features:
        raise FpsolveError(f"data: {who}x of shape (N, {n_features}), got {data.x.shape}")
    return x

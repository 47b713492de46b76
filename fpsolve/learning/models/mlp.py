"""A one-hidden-layer tanh classifier with analytic gradients, exact Hessians and its SGD loop.

:class:`MLPClassifier` (e.g. 64-16-10 on the 8x8 digits, 1210 parameters) has the loss
normalization of :class:`~fpsolve.learning.SoftmaxRegression` (Adhikari et al., arXiv
2306.03521): ``l_i = N [CE_i + lam |w|^2 / 2]``, so that ``L = mean_i l_i`` is the negative log
posterior of the softmax likelihood under a Gaussian prior of precision ``N lam``.

Gradients (per sample, per minibatch, full) run on the numba kernels of
:mod:`fpsolve.learning.models._kernels_mlp`.  The exact Hessian and Hessian-vector products are
NumPy: per-sample Jacobians have Kronecker structure, so the Gauss-Newton part is assembled from
small GEMMs over the samples instead of one ``(N K, d)`` product (Notes of :meth:`hessian`).
SGD (plain, SGLD, SGWORLD), the samplers and slice runs take it like every model
(:meth:`MLPClassifier.chain_kernel`).
"""

from __future__ import annotations

import math

import numpy as np

from ..._runs import check_count, check_positive
from ...errors import FpsolveError
from ..data.datasets import as_dataset
from . import _kernels_mlp
from .dispatch import MLP, ModelKernel
from .gradient import GradientModel

__all__ = ["MLPClassifier"]

_CHUNK = 2**22              # floats per temporary array of the Hessian assembly (32 MB)
_MAX_SAMPLE_HESSIANS = 2**27  # floats of per_sample_hessians (1 GiB)


class MLPClassifier(GradientModel):
    """Classifier ``softmax(W2 tanh(W1 x + b1) + b2)`` with an L2 prior.

    Parameters are ``W1 (hidden, n_features)`` row-major, ``b1 (hidden,)``,
    ``W2 (n_classes, hidden)`` row-major, ``b2 (n_classes,)``:
    ``d = hidden (n_features + 1) + n_classes (hidden + 1)``.  Loss
    ``l_i = N [CE_i + lam |w|^2 / 2]`` (all parameters regularized).

    The model provides the public contract of :class:`~fpsolve.learning.GradientModel`
    (``loss``, ``gradient``, ``minibatch_gradient``, ``per_sample_gradients`` also for stacks,
    ``hessian``, ``per_sample_hessians``) plus :meth:`hessian_vector_product`, on its own
    kernels; :func:`~fpsolve.learning.sgd` and the samplers run it through :meth:`chain_kernel`.

    Parameters
    ----------
    n_features : int
    hidden : int, default 16
    n_classes : int, >= 2, default 10
    lam : float, default 1e-3

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.models.mlp import MLPClassifier
    >>> model = MLPClassifier(64, 16, 10)
    >>> model.n_params
    1210
    >>> data = (np.zeros((2, 64)), np.array([0, 9]))
    >>> bool(np.isclose(model.loss(np.zeros(1210), data), 2 * np.log(10)))
    True
    """

    kind = -1   # its own kernels (fpsolve.learning.models._kernels_mlp), not the shared ones

    def __init__(self, n_features: int, hidden: int = 16, n_classes: int = 10, *,
                 lam: float = 1e-3):
        self.n_features = check_count("n_features", n_features)
        self.hidden = check_count("hidden", hidden)
        self.width = check_count("n_classes", n_classes, minimum=2)
        self.lam = check_positive("lam", lam, strict=False)
        nf, nh, kc = self.n_features, self.hidden, self.width
        self.n_params = nh * (nf + 1) + kc * (nh + 1)
        # aug layout: W1aug (nh, nf + 1) with b1 as last column, then W2aug (kc, nh + 1)
        j, f = np.divmod(np.arange(nh * (nf + 1)), nf + 1)
        k, m = np.divmod(np.arange(kc * (nh + 1)), nh + 1)
        o2 = nh * nf + nh
        self._perm = np.r_[np.where(f < nf, j * nf + f, nh * nf + j),
                           np.where(m < nh, o2 + k * nh + m, o2 + kc * nh + k)]

    def __repr__(self):
        return (f"MLPClassifier({self.n_features}, {self.hidden}, {self.width}, "
                f"lam={self.lam!r})")

    # ------------------------------------------------------------------ data and parameters
    def kernel_arguments(self, data):
        raise FpsolveError("model: MLPClassifier has no kernel arguments of the built-in "
                           "models; the chain kernels take it through chain_kernel(data)")

    def chain_kernel(self, data) -> ModelKernel:
        """The model and ``data`` as the chain kernels see them (labels as exact floats)."""
        x, y, a, c = self.arrays(data)
        return ModelKernel.build(_kernels_mlp.mlp_batch, x, y, (a, c, self.hidden, self.width),
                                 2 * self.hidden + self.width, MLP)

    def arrays(self, data):
        """``(x (N, F) float, y (N,) int64, a, c)``: the data and ``l_i = a [CE_i + c |w|^2]``."""
        data = as_dataset(data)
        x = data.x.reshape(-1, 1) if data.x.ndim == 1 else data.x
        if x.shape[1] != self.n_features:
            raise FpsolveError(f"data: expected x of shape (N, {self.n_features}), got "
                               f"{data.x.shape}")
        y = data.y
        if y.dtype.kind != "i" or y.min() < 0 or y.max() >= self.width:
            raise FpsolveError(f"data: expected integer labels y in [0, {self.width}), got "
                               f"dtype {y.dtype}, range [{y.min()}, {y.max()}]")
        return (np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(y, dtype=np.int64),
                float(data.N), 0.5 * self.lam)

    def unpack(self, w):
        """Views ``(W1, b1, W2, b2)`` of the parameter vector ``w``."""
        w, nf, nh, kc = self._params(w), self.n_features, self.hidden, self.width
        o2 = nh * nf + nh
        return (w[:nh * nf].reshape(nh, nf), w[nh * nf:o2], w[o2:o2 + kc * nh].reshape(kc, nh),
                w[o2 + kc * nh:])

    def initial_weights(self, rng=None) -> np.ndarray:
        """Random ``w``: weights ``N(0, 1 / fan_in)``, biases 0 (``rng`` as numpy's)."""
        rng = np.random.default_rng(rng)
        w = np.zeros(self.n_params)
        nf, nh, kc = self.n_features, self.hidden, self.width
        w[:nh * nf] = rng.standard_normal(nh * nf) / math.sqrt(nf)
        o2 = nh * nf + nh
        w[o2:o2 + kc * nh] = rng.standard_normal(kc * nh) / math.sqrt(nh)
        return w

    def predict(self, w, x) -> np.ndarray:
        """Class probabilities, shape ``(N, n_classes)``."""
        W1, b1, W2, b2 = self.unpack(w)
        z = np.tanh(np.asarray(x, dtype=float).reshape(-1, self.n_features) @ W1.T + b1)
        z = z @ W2.T + b2
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def _tmp(self):
        return np.zeros(2 * self.hidden + self.width)

    # ------------------------------------------------------------------ gradients (kernels)
    def _batch(self, w, data, batch):
        w = self._params(w)
        x, y, a, c = self.arrays(data)
        idx = np.arange(x.shape[0]) if batch is None else np.asarray(batch, dtype=np.int64)
        if idx.ndim != 1 or idx.size < 1 or idx.min() < 0 or idx.max() >= x.shape[0]:
            raise FpsolveError(f"batch: expected a non-empty vector of indices in "
                               f"[0, {x.shape[0]}), got {np.asarray(batch)!r}")
        g = np.empty(self.n_params)
        loss = _kernels_mlp.batch_gradient(w, x, y, np.ascontiguousarray(idx), 0, idx.size,
                                           self.hidden, self.width, a, c, self._tmp(), g)
        return float(loss), g

    def per_sample_gradients(self, w, data) -> np.ndarray:
        """Per-sample gradients ``grad l_i``, shape ``(N, d)``; a stack ``w (n, d)`` gives
        ``(n, N, d)``."""
        x, y, a, c = self.arrays(data)
        w_arr = np.asarray(w, dtype=float)
        if w_arr.ndim == 2:
            ws = (np.stack([self._params(v) for v in w_arr]) if w_arr.size
                  else np.empty((0, self.n_params)))
            out = np.empty((ws.shape[0], x.shape[0], self.n_params))
            _kernels_mlp.stacked_sample_gradients(ws, x, y, self.hidden, self.width, a, c, out)
            return out
        out = np.empty((x.shape[0], self.n_params))
        _kernels_mlp.sample_gradients(self._params(w), x, y, self.hidden, self.width, a, c,
                                      self._tmp(), out)
        return out

    # ------------------------------------------------------------------ second derivatives
    def _forward(self, w, x, y):
        """Augmented inputs, hidden values, ``T' = 1 - T^2``, probabilities, ``R = P - Y``."""
        W1, b1, W2, b2 = self.unpack(w)
        xa = np.c_[x, np.ones(x.shape[0])]
        T = np.tanh(x @ W1.T + b1)
        z = T @ W2.T + b2
        z -= z.max(axis=1, keepdims=True)
        P = np.exp(z)
        P /= P.sum(axis=1, keepdims=True)
        R = P.copy()
        R[np.arange(y.size), y] -= 1.0
        return xa, T, 1.0 - T * T, P, R, W2

    def _data_hessian_aug(self, w, x, y) -> np.ndarray:
        """``sum_i hess CE_i`` in the augmented layout (``W1aug``, ``W2aug``)."""
        nf, nh, kc = self.n_features, self.hidden, self.width
        n1 = nh * (nf + 1)
        out = np.zeros((self.n_params, self.n_params))
        step = max(1, _CHUNK // (nh * nh * (nf + 1)))
        for s in range(0, x.shape[0], step):
            xa, T, Tp, P, R, W2 = self._forward(w, x[s:s + step], y[s:s + step])
            ta = np.c_[T, np.ones(T.shape[0])]
            G = P[:, :, None] * (np.eye(kc) - P[:, None, :])              # diag p - p p^T
            WG = np.einsum("kj,nkl->njl", W2, G)                          # W2^T G   (n, nh, kc)
            M = Tp[:, :, None] * np.einsum("njl,lm->njm", WG, W2) * Tp[:, None, :]
            M[:, np.arange(nh), np.arange(nh)] += ((R @ W2) * (-2.0 * T * Tp))  # 2nd order
            B11 = _kron_sum(M.reshape(-1, nh * nh), xa, xa)               # (nh^2, nf+1, nf+1)
            out[:n1, :n1] += B11.reshape(nh, nh, nf + 1, nf + 1).transpose(0, 2, 1, 3).reshape(
                n1, n1)
            C12 = Tp[:, :, None] * WG                                      # (n, nh, kc)
            B12 = _kron_sum(C12.reshape(-1, nh * kc), xa, ta).reshape(nh, kc, nf + 1, nh + 1)
            # second order: d^2 z_k / dW1aug_jf dW2_kj = T'_j xa_f, weighted by R_k
            B12[np.arange(nh), :, :, np.arange(nh)] += np.einsum("nk,nj,nf->jkf", R, Tp, xa)
            B12 = B12.transpose(0, 2, 1, 3).reshape(n1, -1)
            out[:n1, n1:] += B12
            out[n1:, :n1] += B12.T
            B22 = _kron_sum(G.reshape(-1, kc * kc), ta, ta).reshape(kc, kc, nh + 1, nh + 1)
            out[n1:, n1:] += B22.transpose(0, 2, 1, 3).reshape(kc * (nh + 1), -1)
        return out

    def hessian(self, w, data) -> np.ndarray:
        """Exact Hessian of the full loss, shape ``(d, d)``.

        Notes
        -----
        ``H = sum_i [J_i^T (diag p_i - p_i p_i^T) J_i + sum_k (p_ik - y_ik) hess z_ik] + N lam I``
        with ``J_i`` the Jacobian of the logits.  In the layout ``W1aug = (W1 | b1)``,
        ``W2aug = (W2 | b2)``, ``J_i = [(W2 diag T'_i) (x) xa_i^T | I (x) ta_i^T]``, so every
        block is a sum over samples of Kronecker products, assembled as GEMMs of the
        ``(nf + 1)``-wide inputs: O(N (hidden^2 nf^2 + ...)) instead of O(N K d^2).
        """
        w = self._params(w)
        x, y, a, c = self.arrays(data)
        H = np.empty((self.n_params, self.n_params))
        H[np.ix_(self._perm, self._perm)] = self._data_hessian_aug(w, x, y) * (a / x.shape[0])
        H[np.diag_indices_from(H)] += 2.0 * a * c
        return 0.5 * (H + H.T)

    def per_sample_hessians(self, w, data) -> np.ndarray:
        """Exact Hessians of the per-sample losses ``l_i``, shape ``(N, d, d)`` (at most
        ``2^27`` floats, else FpsolveError: use :meth:`hessian_vector_product`)."""
        w = self._params(w)
        x, y, a, c = self.arrays(data)
        if x.shape[0] * self.n_params**2 > _MAX_SAMPLE_HESSIANS:
            raise FpsolveError(f"data: {x.shape[0]} per-sample Hessians of {self.n_params} "
                               f"parameters exceed 2^27 floats; use hessian_vector_product")
        out = np.empty((x.shape[0], self.n_params, self.n_params))
        for i in range(x.shape[0]):
            out[i][np.ix_(self._perm, self._perm)] = a * self._data_hessian_aug(
                w, x[i:i + 1], y[i:i + 1])
            out[i][np.diag_indices(self.n_params)] += 2.0 * a * c
        return out

    def hessian_vector_product(self, w, data, v) -> np.ndarray:
        """Exact ``H v`` (full loss) without forming ``H``: O(N d) work.

        ``v`` of shape ``(d,)``; the result has shape ``(d,)``.
        """
        w = self._params(w)
        v = np.asarray(v, dtype=float)
        if v.shape != (self.n_params,) or not np.all(np.isfinite(v)):
            raise FpsolveError(f"v: expected finite values of shape ({self.n_params},), got "
                               f"shape {v.shape}")
        x, y, a, c = self.arrays(data)
        nf, nh, kc = self.n_features, self.hidden, self.width
        n1 = nh * (nf + 1)
        va = v[self._perm]
        V1, V2 = va[:n1].reshape(nh, nf + 1), va[n1:].reshape(kc, nh + 1)
        xa, T, Tp, P, R, W2 = self._forward(w, x, y)
        ta = np.c_[T, np.ones(T.shape[0])]
        u = xa @ V1.T                                   # directional pre-activations (N, nh)
        Jv = (Tp * u) @ W2.T + ta @ V2.T                # J_i v                       (N, kc)
        GJv = P * Jv - P * (P * Jv).sum(axis=1, keepdims=True)
        h1 = ((GJv @ W2) * Tp + (R @ W2) * (-2.0 * T * Tp) * u + Tp * (R @ V2[:, :nh])).T @ xa
        h2 = GJv.T @ ta
        h2[:, :nh] += R.T @ (Tp * u)
        out = np.empty(self.n_params)
        out[self._perm] = np.r_[h1.ravel(), h2.ravel()] * (a / x.shape[0])
        return out + 2.0 * a * c * v


def _kron_sum(coef, u, v):
    """``sum_n coef[n, q] u[n, :, None] v[n, None, :]`` for every ``q``: ``(Q, U, V)`` by GEMM."""
    n, Q = coef.shape
    left = (coef[:, :, None] * u[:, None, :]).reshape(n, Q * u.shape[1])
    return (left.T @ v).reshape(Q, u.shape[1], v.shape[1])

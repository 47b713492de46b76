"""The one model-kernel dispatch: how the chain kernels see any model.

A model enters the chain kernels of :mod:`fpsolve.learning.dynamics` as a :class:`ModelKernel`:
a compiled minibatch-gradient function of the fixed signature :data:`BATCH_SIGNATURE`,

    batch(w, x, y, idx, start, b, theta, tmp, out) -> loss

(``out`` = gradient of ``mean_{j in [start, start + b)} l_{idx[j]}`` at ``w``, the minibatch
loss returned; ``theta`` the model's constants, ``tmp`` scratch), plus the data arrays and
constants.  The chain kernels take ``batch`` as a first-class function typed by this signature,
so one compiled chain loop (cached on disk) serves every model: the built-in ones
(:mod:`fpsolve.learning.models._kernels`, :mod:`~fpsolve.learning.models._kernels_mlp`) and
user models whose function is compiled for the same signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ..._numba import jit_typed, types

__all__ = ["BATCH_SIGNATURE", "BATCH_TYPE", "DATA_X", "DATA_Y", "MLP", "ModelKernel",
           "compiled_batch", "read_only"]

_F1, _I1 = types.float64[::1], types.int64[::1]
#: The data ``x (N, F)`` and ``y (N,)`` reach the kernels read-only.
DATA_X = types.Array(types.float64, 2, "C", readonly=True)
DATA_Y = types.Array(types.float64, 1, "C", readonly=True)

#: ``batch(w, x, y, idx, start, b, theta, tmp, out) -> loss``.
BATCH_SIGNATURE = types.float64(_F1, DATA_X, DATA_Y, _I1, types.int64, types.int64, _F1, _F1,
                                _F1)

#: Kernel code of the MLP (the other built-in codes are those of models._kernels).
MLP = 16

#: The type of a model's batch function as an argument of the chain kernels.
BATCH_TYPE = types.FunctionType(BATCH_SIGNATURE)


@cache
def compiled_batch(func):
    """``func`` compiled for :data:`BATCH_SIGNATURE` (once per process, cached on disk)."""
    return jit_typed(BATCH_SIGNATURE)(func)


@dataclass(frozen=True)
class ModelKernel:
    """A model and its data as the chain kernels see them.

    Attributes
    ----------
    batch : compiled function of :data:`BATCH_SIGNATURE`
    x : ndarray, shape (N, F), C-contiguous float
    y : ndarray, shape (N,), float (class labels as exact floats)
    theta : ndarray of float
        The model's constants (built-in models: ``(a, c, width, ...)``).
    scratch : int
        Floats of scratch space per chain (``tmp``).
    kind : int
        A built-in model's kernel code (``MLP`` or one of :mod:`._kernels`): the chain kernel
        calls those directly, where the compiler can inline them; -1 (user models) calls
        ``batch``.
    """

    batch: object
    x: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    scratch: int
    kind: int = -1

    @classmethod
    def build(cls, func, x, y, theta, scratch, kind=-1) -> ModelKernel:
        """Compile ``func`` and lay out the arrays as the signature requires."""
        return cls(compiled_batch(func), read_only(x), read_only(y),
                   np.ascontiguousarray(theta, dtype=float), max(int(scratch), 1), int(kind))

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]


def read_only(a) -> np.ndarray:
    """A C-contiguous float view of ``a`` that the kernels cannot write."""
    view = np.ascontiguousarray(a, dtype=float).view()
    view.setflags(write=False)
    return view

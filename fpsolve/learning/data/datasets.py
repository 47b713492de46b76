"""Training sets: a validated container and the nonlinear-regression data of the paper.

The regression example of Adhikari et al., "Machine learning in and out of equilibrium"
(arXiv 2306.03521) trains on N = 200 points ``x = -3.00, -2.97, ..., 2.97`` with targets
``y = exp(-x^2) + 0.1 * standard normal``.  :func:`paper_regression` draws a statistically
equivalent set from its own seed; :func:`load_regression` reads the published files.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import FpsolveError

__all__ = ["Dataset", "paper_regression", "load_regression", "as_dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs and targets of a training set of ``N`` samples (read-only copies).

    Parameters
    ----------
    x : array_like, shape (N,) or (N, n_features)
        Inputs; scalar inputs may be given as a vector.
    y : array_like, shape (N,)
        Targets: real numbers (regression) or integer class labels (classification).

    Attributes
    ----------
    x, y : ndarray
        The validated arrays (``x`` float, ``y`` float or int), not writeable.
    N : int
        Number of samples.

    Notes
    -----
    A dataset unpacks like a tuple, ``x, y = data``.

    Examples
    --------
    >>> from fpsolve.learning import Dataset
    >>> data = Dataset([0.0, 1.0, 2.0], [1.0, 0.5, 0.0])
    >>> data.N, data.x.shape
    (3, (3,))
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        x = np.array(self.x, dtype=float)
        y = np.array(self.y)
        if x.ndim not in (1, 2) or x.shape[0] < 1 or (x.ndim == 2 and x.shape[1] < 1):
            raise FpsolveError(f"x: expected shape (N,) or (N, n_features) with N >= 1, got "
                               f"shape {x.shape}")
        if y.shape != (x.shape[0],):
            raise FpsolveError(f"y: expected shape ({x.shape[0]},) to match x, got {y.shape}")
        if y.dtype.kind in "biu":
            y = y.astype(np.int64)
        elif y.dtype.kind == "f":
            y = y.astype(float)
        else:
            raise FpsolveError(f"y: expected real numbers or integer labels, got dtype {y.dtype}")
        for name, arr in (("x", x), ("y", y)):
            if not np.all(np.isfinite(arr)):
                raise FpsolveError(f"{name}: contains non-finite values")
            arr.setflags(write=False)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def N(self) -> int:
        """Number of samples."""
        return int(self.x.shape[0])

    def __iter__(self):
        return iter((self.x, self.y))

    def __len__(self) -> int:
        return self.N


def as_dataset(data) -> Dataset:
    """``data`` as a :class:`Dataset` (a Dataset or a pair ``(x, y)``)."""
    if isinstance(data, Dataset):
        return data
    try:
        x, y = data
    except (TypeError, ValueError):
        raise FpsolveError(f"data: expected a Dataset or a pair (x, y), got "
                           f"{type(data).__name__}") from None
    return Dataset(x, y)


def paper_regression(rng=0, *, seed=None) -> Dataset:
    """The 200-point regression set of the paper, drawn from ``rng``.

    ``x = -3.00, -2.97, ..., 2.97`` (``k * 3 / 100`` for ``k = -100 .. 99``, correctly rounded)
    and ``y = exp(-x^2) + 0.1 * z`` with ``z`` standard normal from
    ``numpy.random.default_rng(rng)``.  Statistically equivalent to, not equal to, the authors'
    published set (load that with :func:`load_regression`).

    Parameters
    ----------
    rng : Generator, int or None, default 0
    seed : int, optional
        Deprecated alias of ``rng`` (one release).

    Returns
    -------
    Dataset
        ``x`` and ``y`` of shape (200,); unpacks as ``x, y``.

    Examples
    --------
    >>> from fpsolve.learning import paper_regression
    >>> x, y = paper_regression(1)
    >>> x.shape, float(x[0]), float(x[-1])
    ((200,), -3.0, 2.97)
    """
    if seed is not None:
        warnings.warn("paper_regression(seed=) is deprecated; use rng=", DeprecationWarning,
                      stacklevel=2)
        rng = seed
    rng = np.random.default_rng(rng)
    x = np.arange(-100, 100) * 3 / 100
    return Dataset(x, np.exp(-x**2) + 0.1 * rng.standard_normal(x.size))


def load_regression(x_path, y_path) -> Dataset:
    """Read a regression set from two text files, one number per line.

    Parameters
    ----------
    x_path, y_path : str or Path
        Inputs and targets (``numpy.loadtxt`` format); the counts must agree.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fpsolve.learning import load_regression
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "x.txt").write_text("0.0\\n1.0\\n"); _ = (d / "y.txt").write_text("1.0\\n0.5\\n")
    >>> load_regression(d / "x.txt", d / "y.txt").N
    2
    """
    arrays = []
    for name, path in (("x_path", x_path), ("y_path", y_path)):
        if not Path(path).is_file():
            raise FpsolveError(f"{name}: no such file {str(path)!r}")
        try:
            arrays.append(np.atleast_1d(np.loadtxt(path, dtype=float)))
        except ValueError as exc:
            raise FpsolveError(f"{name}: cannot read numbers from {str(path)!r} ({exc})") from None
    x, y = arrays
    if x.ndim != 1 or y.shape != x.shape:
        raise FpsolveError(f"y_path: expected one number per line and as many as x_path "
                           f"({x.shape}), got {y.shape}")
    return Dataset(x, y)

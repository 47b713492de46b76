"""Digit-classification training sets: the 8x8 digits of scikit-learn and MNIST IDX files.

Nothing is downloaded.  :func:`load_digits` reads the 1797 8x8 images that ship inside
scikit-learn (``sklearn.datasets.load_digits`` opens a file bundled with the package);
:func:`load_idx` reads MNIST-format IDX files (optionally gzip-compressed) from paths the user
gives.  Both return a :class:`~fpsolve.learning.Dataset` with flattened images
``x (N, rows * cols)`` scaled to ``[0, 1]`` and integer labels ``y (N,)``, ready for
:class:`~fpsolve.learning.SoftmaxRegression` or :class:`~fpsolve.learning.models.mlp.MLP`.

IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
``0x00 0x00 type ndim`` (``type`` 0x08 = unsigned byte), then ``ndim`` big-endian int32 sizes,
then the data in C order.  MNIST images are ``0x00000803`` (N, 28, 28), labels ``0x00000801``
(N,).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ...errors import FpsolveError
from .datasets import Dataset

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "image_dataset", "load_digits", "load_idx", "read_idx"]

#: IDX magic numbers of unsigned-byte images (3 dimensions) and labels (1 dimension).
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
_GZIP = b"\x1f\x8b"


def image_dataset(images, labels, *, n_classes: int = 10, image_shape=None,
                  max_value: float = 1.0, source: str = "images") -> Dataset:
    """Validate images and labels; return flattened, scaled inputs as a :class:`Dataset`.

    Parameters
    ----------
    images : array_like, shape (N, rows, cols) or (N, rows * cols)
        Pixel values.
    labels : array_like of int, shape (N,)
        Class labels in ``[0, n_classes)``.
    n_classes : int, default 10, keyword-only
    image_shape : (int, int), optional, keyword-only
        Required ``(rows, cols)``; a flat ``images (N, P)`` must then have ``P = rows cols``.
    max_value : float, default 1, keyword-only
        Inputs are ``images / max_value`` (16 for the 8x8 digits, 255 for MNIST bytes).
    source : str, keyword-only
        Named in error messages (a file name, or ``"images"``).

    Returns
    -------
    Dataset
        ``x (N, rows * cols)`` floats, ``y (N,)`` int64.

    Raises
    ------
    FpsolveError
        Wrong shapes (naming the expected and the found shape), label counts that differ, labels
        that are not integers or lie outside ``[0, n_classes)`` (naming the first bad index).

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning.data.digits import image_dataset
    >>> d = image_dataset(np.zeros((3, 2, 2)), [0, 1, 2], n_classes=3)
    >>> d.x.shape, d.y.tolist()
    ((3, 4), [0, 1, 2])
    """
    x = np.asarray(images)
    if x.ndim not in (2, 3) or x.shape[0] < 1 or x.size == 0:
        raise FpsolveError(f"{source}: expected images of shape (N, rows, cols) or "
                           f"(N, rows * cols) with N >= 1, got shape {x.shape}")
    if image_shape is not None:
        rows, cols = (int(v) for v in image_shape)
        if x.shape[1:] not in ((rows, cols), (rows * cols,)):
            raise FpsolveError(f"{source}: expected images of shape (N, {rows}, {cols}) or "
                               f"(N, {rows * cols}), got {x.shape}")
    y = np.asarray(labels)
    if y.shape != (x.shape[0],):
        raise FpsolveError(f"{source}: expected {x.shape[0]} labels (one per image), got "
                           f"labels of shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise FpsolveError(f"{source}: expected integer labels, got dtype {y.dtype}")
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if bad.size:
        raise FpsolveError(f"{source}: labels must lie in [0, {n_classes}); label {int(y[bad[0]])}"
                           f" at index {int(bad[0])} ({bad.size} out of range)")
    return Dataset(x.reshape(x.shape[0], -1).astype(float) / float(max_value),
                   y.astype(np.int64))


def load_digits(*, normalize: bool = True) -> Dataset:
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, 10 classes).

    Parameters
    ----------
    normalize : bool, default True, keyword-only
        Scale the pixel values ``0..16`` to ``[0, 1]``.

    Returns
    -------
    Dataset
        ``x (1797, 64)``, ``y (1797,)`` with labels ``0..9``.

    Raises
    ------
    FpsolveError
        When scikit-learn is not installed (it is the only source of the file).

    Examples
    --------
    >>> from fpsolve.learning.data.digits import load_digits
    >>> data = load_digits()
    >>> data.x.shape, float(data.x.max()), sorted(set(data.y.tolist())) == list(range(10))
    ((1797, 64), 1.0, True)
    """
    try:
        from sklearn.datasets import load_digits as _sklearn_digits
    except ImportError:
        raise FpsolveError("load_digits: needs scikit-learn, which ships the 8x8 digits file "
                           "(pip install \"fpsolve[digits]\"); or read MNIST with "
                           "load_idx") from None
    bunch = _sklearn_digits()
    return image_dataset(bunch.images, bunch.target, image_shape=(8, 8),
                         max_value=16.0 if normalize else 1.0, source="sklearn digits")


def load_idx(images_path, labels_path, *, n_classes: int = 10, image_shape=None,
             normalize: bool = True, limit: int | None = None) -> Dataset:
    """Read MNIST-format IDX image and label files (plain or gzip-compressed).

    Parameters
    ----------
    images_path, labels_path : str or Path
        IDX files of unsigned bytes: images ``(N, rows, cols)`` (magic ``0x00000803``) and
        labels ``(N,)`` (magic ``0x00000801``), e.g. ``train-images-idx3-ubyte[.gz]`` and
        ``train-labels-idx1-ubyte[.gz]``.
    n_classes : int, default 10, keyword-only
        Labels must lie in ``[0, n_classes)``.
    image_shape : (int, int), optional, keyword-only
        Required image size, e.g. ``(28, 28)``.
    normalize : bool, default True, keyword-only
        Scale the bytes ``0..255`` to ``[0, 1]``.
    limit : int, optional, keyword-only
        Keep the first ``limit`` samples.

    Returns
    -------
    Dataset
        ``x (N, rows * cols)`` and ``y (N,)``.

    Raises
    ------
    FpsolveError
        Naming the file: missing, wrong magic number, truncated header or data, trailing bytes,
        wrong image shape, label count that differs from the image count, label out of range.

    Examples
    --------
    >>> import struct, tempfile, pathlib
    >>> import numpy as np
    >>> from fpsolve.learning.data.digits import load_idx
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "img").write_bytes(struct.pack(">IIII", 0x803, 2, 2, 2) + bytes(range(8)))
    >>> _ = (d / "lab").write_bytes(struct.pack(">II", 0x801, 2) + bytes([3, 7]))
    >>> data = load_idx(d / "img", d / "lab", normalize=False)
    >>> data.x.tolist(), data.y.tolist()
    ([[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]], [3, 7])
    """
    images = read_idx(images_path, IMAGES_MAGIC, "images_path")
    labels = read_idx(labels_path, LABELS_MAGIC, "labels_path")
    if labels.shape[0] != images.shape[0]:
        raise FpsolveError(f"labels_path: {str(labels_path)!r} holds {labels.shape[0]} labels "
                           f"but images_path {str(images_path)!r} holds {images.shape[0]} images")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise FpsolveError(f"limit: expected an int >= 1 or None, got {limit!r}")
        images, labels = images[:limit], labels[:limit]
    bad = np.flatnonzero(labels >= n_classes)
    if bad.size:
        raise FpsolveError(f"labels_path: {str(labels_path)!r}: labels must lie in "
                           f"[0, {n_classes}); label {int(labels[bad[0]])} at index "
                           f"{int(bad[0])} ({bad.size} out of range)")
    return image_dataset(images, labels.astype(np.int64), n_classes=n_classes,
                         image_shape=image_shape, max_value=255.0 if normalize else 1.0,
                         source=f"images_path {str(images_path)!r}")


def read_idx(path, magic: int, name: str = "path") -> np.ndarray:
    """The array of unsigned bytes in the IDX file ``path``, whose magic must be ``magic``.

    ``name`` is the argument named in error messages.  The shape is that of the header.
    """
    path = Path(path)
    if not path.is_file():
        raise FpsolveError(f"{name}: no such file {str(path)!r}")
    raw = path.read_bytes()
    if raw[:2] == _GZIP:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise FpsolveError(f"{name}: {str(path)!r} is a damaged gzip file ({exc})") from None
    where = f"{name}: {str(path)!r}"
    if len(raw) < 4:
        raise FpsolveError(f"{where} is truncated: {len(raw)} bytes, shorter than the 4-byte "
                           f"magic number")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise FpsolveError(f"{where} has magic number 0x{found:08x}; expected 0x{magic:08x} "
                           f"(IDX unsigned bytes, {magic & 0xFF} dimensions)")
    ndim = magic & 0xFF
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise FpsolveError(f"{where} is truncated: {len(raw)} bytes, shorter than its "
                           f"{head}-byte header")
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) - head < size:
        raise FpsolveError(f"{where} is truncated: the header announces shape {shape} "
                           f"({size} bytes of data), the file holds {len(raw) - head}")
    if len(raw) - head > size:
        raise FpsolveError(f"{where} has {len(raw) - head - size} bytes after the {size} bytes "
                           f"of data its header announces (shape {shape}): not an IDX file of "
                           f"this type")
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=head).reshape(shape)

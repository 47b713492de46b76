"""Digit data sets: the bundled 8x8 digits, IDX files written by the tests, and bad input.

The IDX files are built here byte by byte from the format description (4-byte big-endian magic
``0x0000 type ndim``, big-endian int32 sizes, unsigned-byte data), independent of the reader.
"""

from __future__ import annotations

import gzip
import struct
import sys

import numpy as np
import pytest

from fpsolve.errors import FpsolveError
from fpsolve.learning.data.digits import (IMAGES_MAGIC, LABELS_MAGIC, image_dataset, load_digits,
                                          load_idx)


def idx_bytes(magic, shape, data: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in shape) + data


IMAGES = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2) * 20
LABELS = np.array([7, 0, 9], dtype=np.uint8)


@pytest.fixture
def idx_files(tmp_path):
    img, lab = tmp_path / "images-idx3-ubyte", tmp_path / "labels-idx1-ubyte"
    img.write_bytes(idx_bytes(IMAGES_MAGIC, IMAGES.shape, IMAGES.tobytes()))
    lab.write_bytes(idx_bytes(LABELS_MAGIC, LABELS.shape, LABELS.tobytes()))
    return img, lab


def test_load_idx_roundtrip(idx_files):
    data = load_idx(*idx_files)
    assert data.x.shape == (3, 4) and data.y.tolist() == [7, 0, 9]
    # bytes / 255: the same correctly rounded division per pixel
    assert np.array_equal(data.x, IMAGES.reshape(3, 4) / 255.0)
    raw = load_idx(*idx_files, normalize=False, limit=2, image_shape=(2, 2))
    assert np.array_equal(raw.x, IMAGES[:2].reshape(2, 4).astype(float))


def test_load_idx_reads_gzip(idx_files, tmp_path):
    img, lab = tmp_path / "img.gz", tmp_path / "lab.gz"
    img.write_bytes(gzip.compress(idx_files[0].read_bytes()))
    lab.write_bytes(gzip.compress(idx_files[1].read_bytes()))
    assert np.array_equal(load_idx(img, lab).x, load_idx(*idx_files).x)


def write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("which, content, message", [
    ("images", idx_bytes(LABELS_MAGIC, (3,), bytes(3)),
     "magic number 0x00000801; expected 0x00000803"),
    ("labels", idx_bytes(IMAGES_MAGIC, (3, 1, 1), bytes(3)), "magic number 0x00000803"),
    ("images", b"\x00\x00\x08", "truncated: 3 bytes"),
    ("images", idx_bytes(IMAGES_MAGIC, (3, 2), b""), "shorter than its 16-byte header"),
    ("images", idx_bytes(IMAGES_MAGIC, (3, 2, 2), bytes(11)),
     r"truncated: the header announces shape \(3, 2, 2\)"),
    ("labels", idx_bytes(LABELS_MAGIC, (3,), bytes(2)), "12 bytes of data|holds 2"),
    ("labels", idx_bytes(LABELS_MAGIC, (3,), bytes(5)), "2 bytes after"),
    ("labels", idx_bytes(LABELS_MAGIC, (2,), bytes(2)), "holds 2 labels but images_path"),
    ("labels", idx_bytes(LABELS_MAGIC, (3,), bytes([1, 10, 3])),
     r"\[0, 10\); label 10 at index 1"),
    ("images", b"\x1f\x8bnot gzip at all", "damaged gzip"),
])
def test_load_idx_bad_files_name_the_file(idx_files, tmp_path, which, content, message):
    bad = write(tmp_path, f"bad-{which}", content)
    args = (bad, idx_files[1]) if which == "images" else (idx_files[0], bad)
    with pytest.raises(FpsolveError, match=message) as err:
        load_idx(*args)
    assert f"bad-{which}" in str(err.value)


def test_load_idx_wrong_image_shape_and_missing_file(idx_files, tmp_path):
    with pytest.raises(FpsolveError, match=r"images-idx3-ubyte.*\(N, 28, 28\)"):
        load_idx(*idx_files, image_shape=(28, 28))
    with pytest.raises(FpsolveError, match="labels_path: no such file"):
        load_idx(idx_files[0], tmp_path / "missing")
    with pytest.raises(FpsolveError, match="limit"):
        load_idx(*idx_files, limit=0)


@pytest.mark.parametrize("images, labels, kw, message", [
    (np.zeros((3, 2, 2, 1)), [0, 1, 2], {}, r"shape \(N, rows, cols\)"),
    (np.zeros(5), [0], {}, r"shape \(N, rows, cols\)"),
    (np.zeros((3, 5)), [0, 1, 2], {"image_shape": (2, 2)}, r"\(N, 2, 2\) or \(N, 4\)"),
    (np.zeros((3, 3, 2)), [0, 1, 2], {"image_shape": (2, 3)}, r"\(N, 2, 3\)"),
    (np.zeros((3, 4)), [0, 1], {}, "expected 3 labels"),
    (np.zeros((3, 4)), [0.0, 1.0, 2.0], {}, "integer labels"),
    (np.zeros((3, 4)), [0, -1, 2], {}, "label -1 at index 1"),
    (np.zeros((3, 4)), [0, 1, 3], {"n_classes": 3}, r"\[0, 3\); label 3 at index 2"),
])
def test_image_dataset_bad_input(images, labels, kw, message):
    with pytest.raises(FpsolveError, match=message):
        image_dataset(images, labels, **kw)


def test_load_digits():
    pytest.importorskip("sklearn")
    data = load_digits()
    assert data.x.shape == (1797, 64) and data.y.shape == (1797,)
    assert data.x.min() == 0.0 and data.x.max() == 1.0      # 0..16 scaled by 1/16 exactly
    assert np.bincount(data.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.array_equal(load_digits(normalize=False).x, data.x * 16)


def test_load_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)   # import raises ImportError
    with pytest.raises(FpsolveError, match="scikit-learn"):
        load_digits()

"""Save and load fpsolve results: one compressed ``.npz`` file per result, never pickle.

:func:`save` writes any of the frozen result dataclasses listed in :data:`RESULT_CLASSES`;
:func:`load` rebuilds it.  One generic mechanism covers every field, so a new field of a result
class is saved without new code here:

* arrays (any dtype but ``object``) and NumPy scalars are stored as ``.npy`` members, bit for
  bit, with their dtype, shape and read-only flag;
* ``None``, ``bool``, ``int`` (any size), ``float`` (NaN and infinities included), ``complex``
  and ``str`` are stored in a JSON header, exactly (floats by their shortest ``repr``);
* ``tuple``, ``list`` and ``dict`` (keys of the same kinds) are stored element by element;
* a :class:`~fpsolve.grids.CartesianGrid` is stored by its spec (``bounds``, ``shape``,
  ``boundary``) and rebuilt by its constructor;
* a dataclass defined in fpsolve and nested in a field (e.g. the
  :class:`~fpsolve.stochastic.fluctuation.Estimate` of a fluctuation test) is stored field by
  field when all its fields can be, and rebuilt by its constructor.

**What is not stored.**  Everything else is left out and comes back as ``None``: the
``operator`` of the grid results (it holds the model, whose drift and diffusion are user
callables), the ``model`` of an SGD run, the ``sampler`` of a sampling run, and any callable,
arbitrary object, object array or subclass of the types above.  Each left-out value is reported
by a ``logging`` INFO record of the ``fpsolve.io`` logger, when saving and again when loading.
Analysis functions that need the operator (:func:`~fpsolve.analysis.probability_current`,
:func:`~fpsolve.analysis.entropy_production_rate`) refuse a loaded grid result with a
``SolverError`` that says so; rebuild the operator and attach it first:
``dataclasses.replace(result, operator=FokkerPlanckOperator(result.grid, model))``.

File format (version :data:`FORMAT_VERSION`): an ``.npz`` archive (``np.savez_compressed``)
with a JSON header in the member ``__fpsolve_result__`` (format name and version, the result
class's module and name, ``fpsolve.__version__``, the encoded fields) and the arrays in members
``a0``, ``a1``, ...  Files are read with ``allow_pickle=False``.  NetCDF is not implemented:
``.nc`` and other non-``.npz`` data suffixes are refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from ._io_tree import _Decoder, _Encoder, _import_class
from .errors import FpsolveError

__all__ = ["FORMAT_VERSION", "RESULT_CLASSES", "load", "save"]

logger = logging.getLogger(__name__)

#: Version of the file layout written by :func:`save`; :func:`load` refuses newer versions.
FORMAT_VERSION = 1

#: ``(module, name)`` of every result class :func:`save` writes and :func:`load` rebuilds.
RESULT_CLASSES = (
    ("fpsolve.results", "StationaryResult"), ("fpsolve.results", "TimeSeriesResult"),
    ("fpsolve.results", "QuasiStationaryResult"), ("fpsolve.results", "FirstPassageResult"),
    ("fpsolve.results", "SpectrumResult"),
    ("fpsolve.stochastic.trajectories", "TrajectoryResult"),
    ("fpsolve.stochastic.entropy", "StochasticEntropyResult"),
    ("fpsolve.stochastic.fluctuation", "FluctuationTestResult"),
    ("fpsolve.learning.sgd", "SGDResult"), ("fpsolve.learning.samplers", "SampleResult"),
    ("fpsolve.learning.slice_sgd", "SliceSGDResult"),
)

_FORMAT_NAME = "fpsolve-result"
_HEADER = "__fpsolve_result__"
# Suffixes of other data formats: refused rather than silently turned into "name.nc.npz".
_OTHER_FORMATS = {".nc": "NetCDF", ".nc4": "NetCDF", ".cdf": "NetCDF", ".netcdf": "NetCDF",
                  ".h5": "HDF5", ".hdf5": "HDF5", ".zarr": "Zarr", ".npy": "NumPy .npy",
                  ".pkl": "pickle", ".pickle": "pickle", ".json": "JSON", ".csv": "CSV",
                  ".txt": "text"}


def save(path, result) -> Path:
    """Write ``result`` to a compressed ``.npz`` file (no pickle).

    Parameters
    ----------
    path : str or os.PathLike
        Target file.  ``".npz"`` is appended unless ``path`` already ends with it (as
        ``np.savez`` does), so ``"run_T0.5"`` becomes ``"run_T0.5.npz"``.  Suffixes of other
        data formats (``.nc``, ``.h5``, ``.json``, ...) are refused: NetCDF is not implemented.
        An existing file is replaced atomically (written to a temporary file, then renamed).
    result : dataclass instance
        One of :data:`RESULT_CLASSES`.

    Returns
    -------
    pathlib.Path
        The path written (with its ``.npz`` suffix); pass it to :func:`load`.

    Raises
    ------
    FpsolveError
        ``result`` is not a supported result, or ``path`` has another data format's suffix.

    Notes
    -----
    Values that cannot be stored (the ``operator``, models, samplers, any callable or
    arbitrary object; see the module docstring) are left out with a ``logging`` INFO record
    each, and come back from :func:`load` as ``None``.

    Examples
    --------
    >>> import pathlib, tempfile, fpsolve as fp
    >>> from fpsolve.io import load, save
    >>> op = fp.FokkerPlanckOperator(fp.CartesianGrid([(-3, 3)], (16,)),
    ...                              fp.FokkerPlanckModel(lambda x: -x))
    >>> res = fp.solve_stationary(op)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = save(pathlib.Path(tmp) / "ou", res)
    ...     back = load(written)
    >>> written.name, type(back).__name__
    ('ou.npz', 'StationaryResult')
    >>> bool((back.p == res.p).all()), back.grid == res.grid, back.operator is None
    (True, True, True)
    """
    cls = type(result)
    if (cls.__module__, cls.__qualname__) not in RESULT_CLASSES:
        known = ", ".join(name for _, name in RESULT_CLASSES)
        raise FpsolveError(f"result: expected an fpsolve result ({known}), "
                           f"got {cls.__module__}.{cls.__qualname__}")
    target = _npz_path(path)
    enc = _Encoder()
    fields = {f.name: enc.encode(getattr(result, f.name), f.name)
              for f in dataclasses.fields(result) if f.init}
    for where, kind in enc.dropped:
        logger.info("save: %s.%s (%s) is not stored; load() gives None", cls.__name__, where,
                    kind)
    header = {"format": _FORMAT_NAME, "format_version": FORMAT_VERSION,
              "fpsolve_version": _fpsolve_version(), "module": cls.__module__,
              "name": cls.__qualname__, "fields": fields,
              "dropped": [where for where, _ in enc.dropped]}
    _write_atomic(target, {_HEADER: np.array(json.dumps(header)), **enc.arrays})
    return target


def load(path):
    """Read a result written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.  When ``path`` does not exist and does not end with ``".npz"``, ``path +
        ".npz"`` is tried, so ``load(p)`` reads what ``save(p, result)`` wrote.

    Returns
    -------
    result
        An instance of the stored class (one of :data:`RESULT_CLASSES`) with equal arrays
        (same dtype, shape, bits and read-only flag), scalars, strings, containers and grids.
        Fields that were not stored (the ``operator``, models, samplers, callables, arbitrary
        objects) are ``None`` (one ``logging`` INFO record each); fields the class gained after
        the file was written take their default, or ``None``.

    Raises
    ------
    FileNotFoundError
        No such file.
    FpsolveError
        ``path`` is not an fpsolve result file (another ``.npz``, ``.npy``, pickle or any other
        file, or a damaged header), holds an unknown result class, or was written in a newer
        format version than this fpsolve reads.

    Examples
    --------
    See :func:`save`.
    """
    path = _existing(path)
    header, arrays = _read(path)
    cls = _result_class(header, path)
    dec, kwargs = _Decoder(arrays, path), {}
    try:
        for f in (f for f in dataclasses.fields(cls) if f.init):
            if f.name in header["fields"]:
                kwargs[f.name] = dec.decode(header["fields"][f.name])
            else:   # a field the class gained after the file was written
                kwargs[f.name] = _default(f)
                logger.info("load: %s.%s is not in %s; using %r", cls.__name__, f.name, path,
                            kwargs[f.name])
        result = cls(**kwargs)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise FpsolveError(f"path: {str(path)!r} is damaged or was written by an incompatible "
                           f"fpsolve {header.get('fpsolve_version')} "
                           f"({type(exc).__name__}: {exc})") from exc
    _check_grid_shapes(result, path)
    for where in header.get("dropped", []):
        logger.info("load: %s.%s was not stored; it is None", cls.__name__, where)
    return result


#: Fields whose last ``grid.ndim`` axes are the grid's shape, checked by :func:`load`.
_GRID_FIELDS = {"StationaryResult": ("p",), "TimeSeriesResult": ("p",),
                "QuasiStationaryResult": ("p",), "FirstPassageResult": ("tau",)}


def _check_grid_shapes(result, path) -> None:
    """Raise :class:`FpsolveError` naming file and field when a grid-valued array does not have
    the shape of the stored grid (a swapped or truncated member)."""
    grid = getattr(result, "grid", None)
    for name in _GRID_FIELDS.get(type(result).__name__, ()) if grid is not None else ():
        arr = getattr(result, name, None)
        if arr is not None and np.shape(arr)[-grid.ndim:] != grid.shape:
            raise FpsolveError(f"path: {str(path)!r}: field {name!r} has shape {np.shape(arr)}; "
                               f"expected {grid.shape} on its grid (last axes)")


# ------------------------------------------------------------------------------ files
def _npz_path(path) -> Path:
    """``path`` with ``.npz`` appended unless present; other data formats are refused."""
    target = _as_path(path)
    suffix = target.suffix.lower()
    if suffix in _OTHER_FORMATS:
        raise FpsolveError(f"path: {_OTHER_FORMATS[suffix]} files ({suffix!r}) are not "
                           "supported (NetCDF is not implemented); use a '.npz' path or a "
                           "path without suffix")
    return target if suffix == ".npz" else target.with_name(target.name + ".npz")


def _write_atomic(target: Path, members: dict) -> None:
    """Write to a temporary file beside ``target``, then rename it over ``target``."""
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **members)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _as_path(path) -> Path:
    try:
        return Path(os.fspath(path))
    except TypeError as exc:
        raise FpsolveError(f"path: expected a str or os.PathLike, got {path!r}") from exc


def _existing(path) -> Path:
    """``path``, or ``path + '.npz'`` when only that exists."""
    path = _as_path(path)
    with_suffix = path.with_name(path.name + ".npz")
    if not path.exists() and path.suffix.lower() != ".npz" and with_suffix.exists():
        return with_suffix
    return path


def _read(path: Path) -> tuple[dict, dict]:
    """The JSON header and the arrays of an fpsolve result file."""
    not_ours = f"path: {str(path)!r} is not an fpsolve result file"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: _member(data, k, path) for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FpsolveError):
            raise
        # TypeError: a .npy file loads as a bare array, which is no archive
        raise FpsolveError(f"{not_ours} ({type(exc).__name__}: {exc})") from exc
    try:
        header = json.loads(str(arrays.pop(_HEADER)[()]))
    except (KeyError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
        raise FpsolveError(f"{not_ours} (no fpsolve header; another .npz?)")
    return header, arrays


def _member(data, key: str, path: Path) -> np.ndarray:
    """Member ``key`` of an open archive; a damaged member (``zlib.error``, CRC mismatch,
    truncated data) raises :class:`FpsolveError` naming the file and the member."""
    try:
        return data[key]
    except Exception as exc:  # zlib.error is no OSError/ValueError; any failure is damage
        raise FpsolveError(f"path: {str(path)!r}: member {key!r} is damaged "
                           f"({type(exc).__name__}: {exc})") from exc


def _result_class(header: dict, path: Path):
    """The result class named in ``header``, after the format-version check."""
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise FpsolveError(f"path: {str(path)!r} has a damaged header (format_version "
                           f"{version!r})")
    if version > FORMAT_VERSION:
        raise FpsolveError(f"path: {str(path)!r} was written in result-file format version "
                           f"{version} by fpsolve {header.get('fpsolve_version')}; this fpsolve "
                           f"({_fpsolve_version()}) reads versions up to {FORMAT_VERSION}: "
                           "upgrade fpsolve")
    key = (header.get("module"), header.get("name"))
    if key not in RESULT_CLASSES:
        raise FpsolveError(f"path: {str(path)!r} holds an unknown result class "
                           f"{key[0]}.{key[1]}; known: "
                           + ", ".join(f"{m}.{n}" for m, n in RESULT_CLASSES))
    return _import_class(*key)

def _default(f: dataclasses.Field):
    """Default of field ``f``, or None when it has none."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _fpsolve_version() -> str:
    # Imported here: fpsolve/__init__.py may import this module before it sets __version__.
    from . import __version__
    return __version__

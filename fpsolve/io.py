"""Save and load fpsolve results: one compressed ``.npz`` (default) or NetCDF-4 file per result,
never pickle; label them as :class:`xarray.Dataset` objects.

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
``a0``, ``a1``, ...  Files are read with ``allow_pickle=False``.

**NetCDF and xarray** (optional extra: ``pip install "fpsolve[xarray]"``).
:func:`to_xarray` (also ``result.to_xarray()``) labels a result as an :class:`xarray.Dataset`:
one variable per stored array, named by its field path (``p``, ``error.density_cells``,
``observables.x``), with named dimensions: grid axes ``x0, x1, ...`` (or the model's
``names``) with the cell centers as coordinates, ``time`` and ``step`` (with a copy of
``times``/``steps`` as coordinate), ``mode``, ``axis``, ``trajectory``, ``window``,
``sample``, ``chain``, ``parameter``, ``block``; other arrays get ``<name>_dim<i>``.
Scalars, strings and nested reports are flattened into attributes (``residual``,
``converged`` as 0/1, ``error.density_l1``, ``conditioning.kappa``, ...) beside the repr of
what is not stored (``operator``, ``model``, ``sampler``), the bond ``scheme``, and the
fpsolve/NumPy/SciPy versions.  The JSON header of the ``.npz`` format sits in the attribute
``fpsolve_result``: :func:`from_xarray` rebuilds the result from it and nothing else.
``save(path, result, format="netcdf")`` writes that dataset with h5netcdf (arrays compressed,
checksummed and bit for bit: complex, boolean and other dtypes NetCDF lacks are stored as
real/imaginary pairs or raw bytes, their dtype in the variable attribute ``fpsolve_dtype``);
:func:`load` recognizes either format by its first bytes.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ._io_tree import _FORMAT_NAME, FORMAT_VERSION, RESULT_CLASSES, decode_result, encode_result
from .errors import FpsolveError

__all__ = ["FORMAT_VERSION", "RESULT_CLASSES", "from_xarray", "load", "save", "to_xarray"]

_HEADER = "__fpsolve_result__"
# Suffixes of other data formats: refused rather than silently turned into "name.nc.npz".
_OTHER_FORMATS = {".nc": "NetCDF", ".nc4": "NetCDF", ".cdf": "NetCDF", ".netcdf": "NetCDF",
                  ".h5": "HDF5", ".hdf5": "HDF5", ".zarr": "Zarr", ".npy": "NumPy .npy",
                  ".pkl": "pickle", ".pickle": "pickle", ".json": "JSON", ".csv": "CSV",
                  ".txt": "text"}
_NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf", ".netcdf")
_FORMATS = ("npz", "netcdf")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def save(path, result, *, format: str | None = None) -> Path:
    """Write ``result`` to a compressed ``.npz`` (default) or NetCDF-4 file (no pickle).

    Parameters
    ----------
    path : str or os.PathLike
        Target file.  The format's suffix (``".npz"``; ``".nc"`` for NetCDF) is appended
        unless ``path`` already ends with it (as ``np.savez`` does), so ``"run_T0.5"``
        becomes ``"run_T0.5.npz"``.  Suffixes of other data formats (``.h5``, ``.json``, ...)
        are refused.  An existing file is replaced atomically (written to a temporary file,
        then renamed).
    result : dataclass instance
        One of :data:`RESULT_CLASSES`.
    format : {"npz", "netcdf"}, optional, keyword-only
        File format; by default ``"netcdf"`` when ``path`` ends with ``.nc``, ``.nc4``,
        ``.cdf`` or ``.netcdf``, else ``"npz"``.  NetCDF needs the optional extra
        ``pip install "fpsolve[xarray]"`` (xarray and h5netcdf with h5py).

    Returns
    -------
    pathlib.Path
        The path written (with its suffix); pass it to :func:`load`.

    Raises
    ------
    FpsolveError
        ``result`` is not a supported result, ``format`` is unknown, ``path`` has another
        data format's suffix, or NetCDF was asked for without xarray/h5netcdf installed.

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
    fmt = _check_format(format)
    if fmt is None:   # from the suffix: NetCDF suffixes mean NetCDF, anything else .npz
        fmt = "netcdf" if _as_path(path).suffix.lower() in _NETCDF_SUFFIXES else "npz"
    if fmt == "netcdf":
        from ._xarray import save_netcdf  # xarray is optional: imported only when asked for
        return save_netcdf(path, result)
    target = _npz_path(path)
    header, arrays = encode_result(result)
    _write_atomic(target, {_HEADER: np.array(json.dumps(header)), **arrays})
    return target


def load(path):
    """Read a result written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        The file, ``.npz`` or NetCDF (recognized by its first bytes).  When ``path`` does not
        exist and has no suffix of either format, ``path + ".npz"`` and then ``path + ".nc"``
        are tried, so ``load(p)`` reads what ``save(p, result)`` wrote.

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
        ``path`` is not an fpsolve result file (another ``.npz`` or NetCDF, ``.npy``, pickle
        or any other file, or a damaged header or member/variable; the message names the file
        and the member or variable), holds an unknown result class, or was written in a newer
        format version than this fpsolve reads; or a NetCDF file is read without
        xarray/h5netcdf installed.

    Examples
    --------
    See :func:`save`.
    """
    path = _existing(path)
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic == _HDF5_MAGIC:   # NetCDF-4 is HDF5
        from ._xarray import load_netcdf
        return load_netcdf(path)
    header, arrays = _read(path)
    return decode_result(header, arrays, path)


def to_xarray(result):
    """Label ``result`` as an :class:`xarray.Dataset` (also ``result.to_xarray()``).

    Parameters
    ----------
    result : dataclass instance
        One of :data:`RESULT_CLASSES`.

    Returns
    -------
    xarray.Dataset
        Variables, dimensions, coordinates and attributes as described in the module
        docstring; :func:`from_xarray` rebuilds ``result`` from it.

    Raises
    ------
    FpsolveError
        ``result`` is not a supported result, or xarray is not installed (the message names
        the extra ``pip install "fpsolve[xarray]"``).

    Examples
    --------
    >>> import fpsolve as fp
    >>> op = fp.FokkerPlanckOperator(fp.CartesianGrid([(-3, 3)], (6,)),
    ...                              fp.FokkerPlanckModel(lambda x: -x))
    >>> ds = fp.solve_stationary(op).to_xarray()
    >>> ds["p"].dims, ds["x0"].values.tolist(), ds.attrs["converged"]
    (('x0',), [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], 1)
    """
    from ._xarray import to_xarray as convert
    return convert(result)


def from_xarray(dataset):
    """The result that :func:`to_xarray` labelled; ``operator``, ``model`` and ``sampler``
    are ``None``, as after :func:`load`.

    Parameters
    ----------
    dataset : xarray.Dataset
        Made by :func:`to_xarray` (it carries the attribute ``fpsolve_result``).

    Returns
    -------
    result
        An instance of one of :data:`RESULT_CLASSES`, arrays bit for bit.

    Raises
    ------
    FpsolveError
        ``dataset`` has no fpsolve header, or a variable is missing or does not fit it.
    """
    from ._xarray import from_xarray as convert
    return convert(dataset)


# ------------------------------------------------------------------------------ files
def _npz_path(path) -> Path:
    """``path`` with ``.npz`` appended unless present; other data formats are refused."""
    target = _as_path(path)
    suffix = target.suffix.lower()
    if suffix in _OTHER_FORMATS:
        raise FpsolveError(f"path: {_OTHER_FORMATS[suffix]} files ({suffix!r}) are not "
                           "written by format='npz'; use a '.npz' path, a path without "
                           "suffix, or format='netcdf' for '.nc'")
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
    """``path``, or ``path + '.npz'`` (or ``'.nc'``) when only that exists."""
    path = _as_path(path)
    if path.exists() or path.suffix.lower() in (".npz",) + _NETCDF_SUFFIXES:
        return path
    for suffix in (".npz", ".nc"):
        if path.with_name(path.name + suffix).exists():
            return path.with_name(path.name + suffix)
    return path


def _check_format(format):
    if format is not None and format not in _FORMATS:
        raise FpsolveError(f"format: expected one of {_FORMATS} or None, got {format!r}")
    return format


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

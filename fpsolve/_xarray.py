"""Results as :class:`xarray.Dataset` objects and NetCDF-4 files (see :mod:`fpsolve.io`).

One encoding for both file formats: :func:`fpsolve.io.encode_result` turns a result into the
JSON header and its arrays, here with each array named by its field path; this module only
labels those arrays (dimensions, coordinates, attributes) and maps dtypes that NetCDF lacks.
xarray, h5netcdf and h5py are imported when a function here is called, never at import.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .errors import FpsolveError
from .io import _NETCDF_SUFFIXES, _OTHER_FORMATS, _as_path, decode_result, encode_result

_EXTRA = 'pip install "fpsolve[xarray]"'
_HEADER = "fpsolve_result"      # global attribute holding the JSON header of fpsolve.io
_DTYPE = "fpsolve_dtype"        # variable attribute (files only): the array's own dtype
_NATIVE = {"i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"}   # NetCDF-4 dtypes
_G = None                       # stands for the grid's axes in _DIMS
_WALK = ("trajectory", "chain", "parameter")
#: Dimensions of the arrays of each result class, by variable name; others get
#: ``<name>_dim<i>``, as does an array whose shape does not fit.
_DIMS = {
    "StationaryResult": {"p": (_G,), "error.density_cells": (_G,)},
    "TimeSeriesResult": {"times": ("time",), "p": ("time", _G)},
    "QuasiStationaryResult": {"p": (_G,)},
    "FirstPassageResult": {"tau": (_G,)},
    "SpectrumResult": {"rates": ("mode",), "eigenvalues": ("mode",), "modes": ("mode", _G),
                       "extra.residuals": ("mode",)},
    "ExtrapolatedResult": {"p": (_G,), "fine_p": (_G,), "current": ("axis", _G)},
    "TrajectoryResult": {"positions": ("time", "trajectory", "axis"), "times": ("time",),
                         "final_positions": ("trajectory", "axis"),
                         "exit_time": ("trajectory",), "exit_side": ("trajectory",),
                         "winding": ("trajectory", "axis")},
    "StochasticEntropyResult": {"system": ("window", "trajectory"), "starts": ("window",),
                                "medium": ("window", "trajectory"),
                                "total": ("window", "trajectory")},
    "SGDResult": {"w": ("step", "chain", "parameter"), "steps": ("step",),
                  "w_final": ("chain", "parameter"), "key": ("key_word",)},
    "SampleResult": {"samples": ("sample", "chain", "parameter"), "steps": ("sample",),
                     "ess": ("parameter",), "rhat": ("parameter",), "w_ref": ("parameter",),
                     "w_final": ("chain", "parameter"), "key": ("key_word",)},
    "SliceSGDResult": {"counts": ("block", _G), "current_sums": ("block", "axis", _G),
                       "block_steps": ("block",), "entropy": ("chain",),
                       "w_final": ("chain", "parameter"), "key": ("key_word",)},
}
#: Dimensions labelled by a variable of their own length (a copy becomes the coordinate).
_INDEX = {"time": "times", "step": "steps", "sample": "steps"}


def _require(modules, why: str):
    """Import ``modules``; a missing one raises FpsolveError naming ``why`` and the extra."""
    import importlib
    try:
        return [importlib.import_module(m) for m in modules]
    except ImportError as exc:
        raise FpsolveError(f"{why} needs the optional extra: {_EXTRA} ({exc})") from exc


# ------------------------------------------------------------------------------ labelling
def to_xarray(result):
    """See :func:`fpsolve.io.to_xarray`."""
    xr, = _require(["xarray"], "to_xarray")
    header, arrays = encode_result(result, name=_variable_name, verb="to_xarray")
    grid = getattr(result, "grid", None)
    axes = _axis_names(result, grid)
    spec, sizes = _DIMS.get(type(result).__name__, {}), {}
    variables = {}
    for name, arr in arrays.items():
        # xarray converts datetime64/timedelta64 units: keep the int64 ticks and the dtype
        attrs = {_DTYPE: arr.dtype.str} if arr.dtype.kind in "Mm" else {}
        data = arr.view(np.int64) if attrs else arr
        variables[name] = xr.Variable(_dims(name, arr, spec.get(name), axes, sizes), data, attrs)
    coords = {}
    for k, axis in enumerate(axes):
        if sizes.get(axis) == grid.shape[k]:
            coords[axis] = (axis, grid.axis_centers(k), {"long_name": f"cell centers of {axis}"})
    for dim, name in _INDEX.items():
        if name in arrays and arrays[name].shape == (sizes.get(dim),):
            coords[dim] = (dim, np.array(arrays[name]), {"long_name": f"copy of {name}"})
    return xr.Dataset(variables, coords=coords, attrs=_attributes(result, header))


def _variable_name(where: str) -> str:
    """``error.density_cells``, ``observables.x``, ``dft_points.0`` from encoder paths."""
    return re.sub(r"\[(.*?)\]", lambda m: "." + m.group(1).strip("'\""), where).replace("/", "_")


def _axis_names(result, grid) -> list[str]:
    if grid is None:
        return []
    model = getattr(getattr(result, "operator", None), "model", None)
    names = getattr(model, "names", None)
    if (isinstance(names, (tuple, list)) and len(names) == grid.ndim
            and len(set(map(str, names))) == grid.ndim):
        return [str(n) for n in names]
    return [f"x{k}" for k in range(grid.ndim)]


def _dims(name: str, arr, want, axes, sizes: dict) -> tuple:
    dims = [d for w in want or () for d in (axes if w is _G else [w])]
    if (len(dims) != arr.ndim or name in dims
            or any(sizes.get(d, n) != n for d, n in zip(dims, arr.shape))):
        dims = [f"{name}_dim{i}" for i in range(arr.ndim)]
    sizes.update(zip(dims, arr.shape))
    return tuple(dims)


def _attributes(result, header: dict) -> dict:
    """Scalars and strings of the header tree flattened into NetCDF-valid attributes."""
    import numpy
    import scipy
    attrs = {"fpsolve_class": f"{header['module']}.{header['name']}"}
    for name in header["dropped"]:
        value = getattr(result, name, None)   # top-level fields only: operator, model, ...
        if "." in name or "[" in name or value is None:
            continue
        attrs[name] = _text(value)
        for sub in ("model", "scheme"):
            if getattr(value, sub, None) is not None:
                attrs.setdefault(sub, _text(getattr(value, sub)))
    for name, node in header["fields"].items():
        _flatten(node, name, attrs)
    attrs.update(fpsolve_version=header["fpsolve_version"], numpy_version=numpy.__version__,
                 scipy_version=scipy.__version__, **{_HEADER: json.dumps(header)})
    return attrs


def _text(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 2000 else text[:1997] + "..."


def _flatten(node, key: str, attrs: dict) -> None:
    """Add the scalars under ``node`` (an encoded value) to ``attrs`` as ``key[.sub...]``."""
    if isinstance(node, list):
        return _sequence(node, key, attrs)
    if not isinstance(node, dict):
        if node is not None:
            attrs[key] = _scalar(node)
        return None
    (tag, body), = node.items()
    if tag == "complex":
        attrs[key] = repr(complex(*body))
    elif tag == "tuple":
        _sequence(body, key, attrs)
    elif tag == "dict":
        for k, v in body:
            _flatten(v, f"{key}.{k if isinstance(k, (str, int)) else json.dumps(k)}", attrs)
    elif tag == "grid":
        attrs.update({f"{key}.bounds": np.array(body["bounds"], float).ravel(),
                      f"{key}.shape": np.array(body["shape"]),
                      f"{key}.boundary": ", ".join(body["boundary"])})
    elif tag == "dataclass":
        for k, v in body["fields"].items():
            _flatten(v, f"{key}.{k}", attrs)
    return None   # arrays are variables; dropped values are described by _attributes


def _sequence(items: list, key: str, attrs: dict) -> None:
    if items and all(type(v) in (int, float) for v in items):
        attrs[key] = np.array([_scalar(v) for v in items])
    elif items and all(type(v) is str for v in items):
        attrs[key] = ", ".join(items)
    else:
        for i, v in enumerate(items):
            _flatten(v, f"{key}.{i}", attrs)


def _scalar(value):
    if type(value) is bool:
        return int(value)             # NetCDF has no boolean attributes
    if type(value) is int and not -2**63 <= value < 2**63:
        return str(value)
    return value


# ------------------------------------------------------------------------------ rebuilding
def from_xarray(dataset, path="<dataset>"):
    """See :func:`fpsolve.io.from_xarray`; ``path`` names the source in errors."""
    try:
        header = json.loads(str(dataset.attrs[_HEADER]))
    except (KeyError, ValueError, AttributeError) as exc:
        raise FpsolveError(f"dataset: {str(path)!r} is not an fpsolve result (no valid "
                           f"{_HEADER!r} attribute: {type(exc).__name__})") from exc
    if not isinstance(header, dict) or "fields" not in header:
        raise FpsolveError(f"dataset: {str(path)!r} has a damaged {_HEADER!r} attribute")
    return decode_result(header, _Variables(dataset, path), path)


class _Variables:
    """The variables of a dataset as the ``arrays`` mapping of the decoder: fresh arrays with
    their dtypes restored; a missing or unreadable variable raises FpsolveError naming it."""

    def __init__(self, dataset, path):
        self.dataset, self.path = dataset, path

    def __getitem__(self, name: str) -> np.ndarray:
        where = f"path: {str(self.path)!r}: variable {name!r}"
        if name not in self.dataset.variables:
            raise FpsolveError(f"{where} is missing")
        var = self.dataset.variables[name]
        try:
            return _restore(np.array(var.values), var.attrs.get(_DTYPE))
        except Exception as exc:   # h5py/zlib/checksum errors: any failure is damage
            raise FpsolveError(f"{where} is damaged ({type(exc).__name__}: {exc})") from exc


def _restore(arr: np.ndarray, dtype) -> np.ndarray:
    """Inverse of :func:`_for_file`'s mapping of one array (no-op without ``dtype``)."""
    if dtype is None:
        return arr
    dtype = np.dtype(str(dtype))
    if dtype.kind in "Mm":
        arr = arr.view(dtype)
    elif dtype.kind == "b":
        arr = arr.astype(np.uint8, copy=False).view(bool)
    elif dtype.kind == "c":
        arr = arr.reshape(-1).view(dtype.newbyteorder("=")).reshape(arr.shape[:-1])
    elif dtype.str[1:] not in _NATIVE:
        arr = arr.astype(np.uint8, copy=False).reshape(-1).view(dtype).reshape(arr.shape[:-1])
    return arr.astype(dtype, copy=False)


# ------------------------------------------------------------------------------ files
def save_netcdf(path, result) -> Path:
    """Write ``to_xarray(result)`` to NetCDF-4 with h5netcdf (see :func:`fpsolve.io.save`)."""
    _require(["xarray", "h5netcdf", "h5py"], 'format: "netcdf"')
    target = _as_path(path)
    suffix = target.suffix.lower()
    if suffix in _OTHER_FORMATS and suffix not in _NETCDF_SUFFIXES or suffix == ".npz":
        raise FpsolveError(f"path: format='netcdf' writes NetCDF ('.nc'), not {suffix!r}")
    if suffix not in _NETCDF_SUFFIXES:
        target = target.with_name(target.name + ".nc")
    dataset, encoding = _for_file(to_xarray(result))
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        dataset.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def load_netcdf(path: Path):
    """Read a NetCDF-4 file written by :func:`save_netcdf` (see :func:`fpsolve.io.load`)."""
    why = f"path: {str(path)!r} is NetCDF; reading it"
    xr, _, _ = _require(["xarray", "h5netcdf", "h5py"], why)
    try:
        dataset = xr.open_dataset(path, engine="h5netcdf", decode_cf=False, cache=False)
    except Exception as exc:   # HDF5 that is not NetCDF, truncated files, ...
        raise FpsolveError(f"path: {str(path)!r} is not an fpsolve result file "
                           f"({type(exc).__name__}: {exc})") from exc
    with dataset:
        if _HEADER not in dataset.attrs:
            raise FpsolveError(f"path: {str(path)!r} is not an fpsolve result file (no "
                               f"{_HEADER!r} attribute; another NetCDF file?)")
        return from_xarray(dataset, path)


def _for_file(dataset):
    """``dataset`` with every array in a NetCDF-4 dtype (bool as uint8, complex as real and
    imaginary parts on a last dimension ``complex``, other dtypes as raw bytes), its dtype in
    the attribute ``fpsolve_dtype``, and the encoding: no fill value (it would replace NaN
    payloads), gzip with shuffle and a Fletcher-32 checksum so damaged data is detected."""
    out, encoding = dataset.copy(), {}
    for name, var in dataset.data_vars.items():
        arr, dims, dt = var.values, var.dims, var.dtype
        if dt.kind == "b":
            arr = arr.view(np.uint8)
        elif dt.kind == "c":
            flat = np.ascontiguousarray(arr, dtype=dt.newbyteorder("=")).reshape(-1)
            arr = flat.view(f"f{dt.itemsize // 2}").reshape(arr.shape + (2,))
            dims += ("complex",)
        elif dt.str[1:] not in _NATIVE:
            flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
            arr = flat.reshape(arr.shape + (dt.itemsize,))
            dims += (f"bytes{dt.itemsize}",)
        out[name] = (dims, arr, {_DTYPE: dt.str, **var.attrs})
    for name, var in out.variables.items():
        encoding[name] = {"_FillValue": None}
        if var.ndim and var.size and name in out.data_vars:
            encoding[name].update(zlib=True, complevel=4, shuffle=True, fletcher32=True)
    return out, encoding

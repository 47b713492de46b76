"""The JSON tree of :mod:`fpsolve.io`: encoding of result fields (arrays to ``.npy`` members,
scalars, containers, grids, nested fpsolve dataclasses) and its inverse, and the header of a
result built on it, shared by the ``.npz`` and NetCDF formats."""

from __future__ import annotations

import dataclasses
import importlib
import logging
from pathlib import Path

import numpy as np

from ._version import __version__
from .errors import FpsolveError
from .grids import CartesianGrid

logger = logging.getLogger("fpsolve.io")

#: Version of the file layout written by :func:`save`; :func:`load` refuses newer versions.
FORMAT_VERSION = 1

#: ``(module, name)`` of every result class :func:`save` writes and :func:`load` rebuilds.
RESULT_CLASSES = (
    ("fpsolve.results", "StationaryResult"), ("fpsolve.results", "TimeSeriesResult"),
    ("fpsolve.results", "QuasiStationaryResult"), ("fpsolve.results", "FirstPassageResult"),
    ("fpsolve.results", "SpectrumResult"), ("fpsolve.results", "ExtrapolatedResult"),
    ("fpsolve.stochastic.trajectories", "TrajectoryResult"),
    ("fpsolve.stochastic.entropy", "StochasticEntropyResult"),
    ("fpsolve.stochastic.fluctuation", "FluctuationTestResult"),
    ("fpsolve.learning.dynamics.sgd", "SGDResult"),
    ("fpsolve.learning.dynamics.samplers", "SampleResult"),
    ("fpsolve.learning.slices.runs", "SliceSGDResult"),
)

#: Module paths of result classes in files written before the learning layers (fpsolve 0.1.0),
#: read as their new homes.
MOVED_RESULT_MODULES = {"fpsolve.learning.sgd": "fpsolve.learning.dynamics.sgd",
                        "fpsolve.learning.samplers": "fpsolve.learning.dynamics.samplers",
                        "fpsolve.learning.slice_sgd": "fpsolve.learning.slices.runs"}

_FORMAT_NAME = "fpsolve-result"
_SCALARS = (type(None), bool, int, float, str)


# ------------------------------------------------------------------------------ header
def encode_result(result, *, name=None, verb: str = "save") -> tuple[dict, dict]:
    """The JSON header and the arrays of ``result``, shared by the .npz and NetCDF formats.

    ``name(where)`` names the array members (default ``a0, a1, ...``); ``verb`` starts the
    INFO records of the values left out.  Raises :class:`FpsolveError` for non-results.
    """
    cls = type(result)
    if (cls.__module__, cls.__qualname__) not in RESULT_CLASSES:
        known = ", ".join(name for _, name in RESULT_CLASSES)
        raise FpsolveError(f"result: expected an fpsolve result ({known}), "
                           f"got {cls.__module__}.{cls.__qualname__}")
    enc = _Encoder(name)
    fields = {f.name: enc.encode(getattr(result, f.name), f.name)
              for f in dataclasses.fields(result) if f.init}
    for where, kind in enc.dropped:
        logger.info("%s: %s.%s (%s) is not stored; load() gives None", verb, cls.__name__,
                    where, kind)
    header = {"format": _FORMAT_NAME, "format_version": FORMAT_VERSION,
              "fpsolve_version": _fpsolve_version(), "module": cls.__module__,
              "name": cls.__qualname__, "fields": fields,
              "dropped": [where for where, _ in enc.dropped]}
    return header, enc.arrays


def decode_result(header: dict, arrays, path):
    """Inverse of :func:`encode_result`: the result described by ``header`` with the arrays
    ``arrays`` (a mapping from member name to array) read from ``path`` (named in errors)."""
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
                "QuasiStationaryResult": ("p",), "FirstPassageResult": ("tau",),
                "ExtrapolatedResult": ("p", "fine_p", "current")}


def _check_grid_shapes(result, path) -> None:
    """Raise :class:`FpsolveError` naming file and field when a grid-valued array does not have
    the shape of the stored grid (a swapped or truncated member)."""
    grid = getattr(result, "grid", None)
    for name in _GRID_FIELDS.get(type(result).__name__, ()) if grid is not None else ():
        arr = getattr(result, name, None)
        if arr is not None and np.shape(arr)[-grid.ndim:] != grid.shape:
            raise FpsolveError(f"path: {str(path)!r}: field {name!r} has shape {np.shape(arr)}; "
                               f"expected {grid.shape} on its grid (last axes)")


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
    module = header.get("module")
    key = (MOVED_RESULT_MODULES.get(module, module), header.get("name"))
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
    return __version__


# ------------------------------------------------------------------------------ encoding
class _Encoder:
    """Turns a value into a JSON tree; arrays go to ``arrays`` under keys ``a0, a1, ...``.

    Every JSON object of the tree is a one-key tag (``{"array": ...}``, ``{"tuple": ...}``,
    ...); lists and plain scalars stand for themselves.  ``name(where)``, when given, names
    the member of the array found at ``where`` (a path such as ``"error.density_cells"``;
    NetCDF variables are named so); a name already taken gets ``_<count>`` appended.
    """

    def __init__(self, name=None):
        self.name = name
        self.arrays: dict[str, np.ndarray] = {}
        self.dropped: list[tuple[str, str]] = []   # (where, type name) of left-out values
        self._count = 0

    def encode(self, value, where: str):
        kind = type(value)
        if kind is np.ndarray or isinstance(value, np.generic):
            return self._array(value, where)
        if kind in _SCALARS:
            return value
        if kind is complex:
            return {"complex": [value.real, value.imag]}
        if kind is CartesianGrid:
            return {"grid": {"bounds": [list(b) for b in value.bounds],
                             "shape": list(value.shape), "boundary": list(value.boundary)}}
        if kind in (tuple, list):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"tuple": items} if kind is tuple else items
        if kind is dict:
            return {"dict": [[self.encode(k, f"{where}.key"), self.encode(v, f"{where}[{k!r}]")]
                             for k, v in value.items()]}
        if dataclasses.is_dataclass(value) and kind.__module__.startswith("fpsolve."):
            return self._dataclass(value, where)
        return self._drop(value, where)

    def _array(self, value, where: str):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            return self._drop(value, where)
        key = f"a{self._count}" if self.name is None else self.name(where)
        if key in self.arrays:
            key = f"{key}_{self._count}"
        self._count += 1
        self.arrays[key] = arr
        if isinstance(value, np.generic):
            return {"scalar": key}
        return {"array": {"member": key, "readonly": not value.flags.writeable,
                          "shape": list(arr.shape)}}

    def _dataclass(self, value, where: str):
        """Field by field, or not at all when one of its fields cannot be stored."""
        n_arrays, n_dropped = len(self.arrays), len(self.dropped)
        fields = {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                  for f in dataclasses.fields(value) if f.init}
        if len(self.dropped) == n_dropped:
            return {"dataclass": {"module": type(value).__module__,
                                  "name": type(value).__qualname__, "fields": fields}}
        for key in list(self.arrays)[n_arrays:]:
            del self.arrays[key]
        del self.dropped[n_dropped:]
        return self._drop(value, where)

    def _drop(self, value, where: str):
        self.dropped.append((where, type(value).__qualname__))
        return {"dropped": type(value).__qualname__}


# ------------------------------------------------------------------------------ decoding
class _Decoder:
    """Inverse of :class:`_Encoder`; a malformed tree raises KeyError, TypeError or ValueError."""

    def __init__(self, arrays: dict, path: Path):
        self.arrays, self.path = arrays, path

    def decode(self, node):
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            raise ValueError(f"unexpected entry {node!r}")
        (tag, body), = node.items()
        if tag == "array":
            arr = self.arrays[body["member"]]
            if "shape" in body and list(arr.shape) != body["shape"]:   # files before 0.x: none
                raise FpsolveError(f"path: {str(self.path)!r}: member {body['member']!r} has "
                                   f"shape {arr.shape}; the header records {tuple(body['shape'])}")
            arr.setflags(write=not body["readonly"])
            return arr
        if tag == "scalar":
            return self.arrays[body][()]
        if tag == "complex":
            return complex(*body)
        if tag == "tuple":
            return tuple(self.decode(v) for v in body)
        if tag == "dict":
            return {self.decode(k): self.decode(v) for k, v in body}
        if tag == "grid":
            return CartesianGrid(body["bounds"], body["shape"], boundary=body["boundary"])
        if tag == "dataclass":
            cls = _import_class(body["module"], body["name"])
            return cls(**{k: self.decode(v) for k, v in body["fields"].items()})
        if tag == "dropped":
            return None
        raise ValueError(f"unknown entry type {tag!r}")


def _import_class(module: str, name: str):
    """The dataclass ``module.name``, which must be defined in fpsolve (else ValueError)."""
    if not (isinstance(module, str) and module.startswith("fpsolve.")):
        raise ValueError(f"class {module}.{name} is not an fpsolve class")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, TypeError) as exc:
        raise ValueError(f"this fpsolve has no class {module}.{name}") from exc
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"{module}.{name} is not a dataclass")
    return cls

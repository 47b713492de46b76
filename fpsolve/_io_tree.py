"""The JSON tree of :mod:`fpsolve.io`: encoding of result fields (arrays to ``.npy`` members,
scalars, containers, grids, nested fpsolve dataclasses) and its inverse."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np

from .errors import FpsolveError
from .grids import CartesianGrid

_SCALARS = (type(None), bool, int, float, str)


# ------------------------------------------------------------------------------ encoding
class _Encoder:
    """Turns a value into a JSON tree; arrays go to ``arrays`` under keys ``a0, a1, ...``.

    Every JSON object of the tree is a one-key tag (``{"array": ...}``, ``{"tuple": ...}``,
    ...); lists and plain scalars stand for themselves.
    """

    def __init__(self):
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
        key = f"a{self._count}"
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

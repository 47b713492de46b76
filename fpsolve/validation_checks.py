"""Checks of validation results: the ``expected.json`` check specifications and their evaluation.

See :mod:`fpsolve.validation_registry` for the case layout; a check names a (dotted) key of a
case's results and one or more of ``max``, ``min``, ``range``, ``value`` (with optional ``rtol``
and ``atol``) and ``equals``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FpsolveError

__all__ = ["CHECK_KINDS", "is_number", "validate_check", "lookup", "to_jsonable", "evaluate_check",
           "evaluate_checks"]

#: Check kinds of ``expected.json``; ``rtol``/``atol`` qualify ``value``.
CHECK_KINDS = ("max", "min", "range", "value", "equals")
_TOLERANCES = ("rtol", "atol")
_MISSING = object()


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def validate_check(key: str, check: Any, source: Path) -> None:
    """Raise FpsolveError unless ``check`` is a valid check specification."""
    where = f"{source}: check {key!r}"
    if not isinstance(check, dict) or not check:
        raise FpsolveError(f"{where} must be a non-empty object, got {check!r}")
    unknown = set(check) - set(CHECK_KINDS) - set(_TOLERANCES)
    if unknown:
        raise FpsolveError(f"{where} has unknown fields {sorted(unknown)}; expected "
                           f"{list(CHECK_KINDS)} with optional {list(_TOLERANCES)} for 'value'")
    if set(check) & set(_TOLERANCES) and "value" not in check:
        raise FpsolveError(f"{where}: 'rtol'/'atol' need a 'value'")
    if not set(check) & set(CHECK_KINDS):
        raise FpsolveError(f"{where} has no check kind; expected one of {list(CHECK_KINDS)}")
    for name in ("max", "min", *_TOLERANCES):
        if name in check and not (is_number(check[name])
                                  and (name not in _TOLERANCES or check[name] >= 0)):
            raise FpsolveError(f"{where}: {name!r} must be a number (>= 0 for a tolerance), "
                               f"got {check[name]!r}")
    rng = check.get("range", [0, 0])
    if not (isinstance(rng, list) and len(rng) == 2 and all(map(is_number, rng))
            and rng[0] <= rng[1]):
        raise FpsolveError(f"{where}: 'range' must be [lo, hi] with lo <= hi, got {rng!r}")


def lookup(results: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Value of ``key`` in ``results``; a dotted key walks nested dicts and (by index) lists.

    A key present verbatim (dots included) wins over the dotted walk; ``default`` is returned
    when nothing matches.
    """
    if key in results:
        return results[key]
    node: Any = results
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and re.fullmatch(r"-?\d+", part) and \
                -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


def to_jsonable(obj: Any, where: str = "results") -> Any:
    """Convert ``obj`` (NumPy scalars/arrays, tuples, paths included) to plain JSON values;
    raise :class:`FpsolveError` naming the key for values with no JSON form (complex, objects).
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), where)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise FpsolveError(f"{where}: {type(obj).__name__} value {obj!r} is not JSON-serializable; "
                       "expected numbers, bools, strings, lists or dicts")


def evaluate_check(spec: Mapping[str, Any], measured: Any) -> bool:
    """Whether ``measured`` satisfies the check ``spec`` (all of its kinds at once).

    Numeric kinds (``max``, ``min``, ``range``, ``value`` with a tolerance) apply element-wise
    to a list and need every element to pass; an empty list, ``None``, NaN or a non-numeric
    value fails them.  ``equals`` and a bare ``value`` compare with ``==``.
    """
    if measured is None or measured is _MISSING:
        return False
    ok = True
    if "equals" in spec:
        ok = ok and _equal(measured, spec["equals"])
    if "value" in spec and not set(spec) & set(_TOLERANCES):
        ok = ok and _equal(measured, spec["value"])
    numeric = set(spec) & {"max", "min", "range", *_TOLERANCES}
    if ok and numeric:
        ok = _numeric_check(spec, measured)
    return bool(ok)


def _equal(a: Any, b: Any) -> bool:
    try:  # as plain JSON values, == compares lists element-wise and NumPy scalars by value
        return bool(to_jsonable(a) == b)
    except FpsolveError:
        return False


def _numeric_check(spec: Mapping[str, Any], measured: Any) -> bool:
    try:
        x = np.asarray(measured, dtype=float)
        if x.size == 0:
            return False
        ok = np.ones(x.shape, dtype=bool)
        if "max" in spec:
            ok &= x <= spec["max"]
        if "min" in spec:
            ok &= x >= spec["min"]
        if "range" in spec:
            ok &= (spec["range"][0] <= x) & (x <= spec["range"][1])
        if set(spec) & set(_TOLERANCES):
            v = np.asarray(spec["value"], dtype=float)
            ok = ok & (np.abs(x - v) <= spec.get("atol", 0.0) + spec.get("rtol", 0.0) * np.abs(v))
    except (TypeError, ValueError):  # strings, ragged lists, shape mismatch with 'value'
        return False
    return bool(np.all(ok))


def evaluate_checks(checks: Mapping[str, Mapping[str, Any]],
                    results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Evaluate every check against ``results``: ``{key: {"expected": spec, "measured": value,
    "passed": bool}}``; a key missing from ``results`` fails with ``measured = None``.
    """
    out = {}
    for key, spec in checks.items():
        measured = lookup(results, key, _MISSING)
        out[key] = {"expected": dict(spec),
                    "measured": None if measured is _MISSING else measured,
                    "passed": evaluate_check(spec, measured)}
    return out

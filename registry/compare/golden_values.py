"""The values of golden calls: recorded as JSON, compared under a tolerance, shown shortened.

A golden call's arguments and result are stored as JSON (``golden.json`` in a version's tree), so
they are readable in ``git show`` and compared without running anything. Plain JSON values
stand for themselves (``None``, ``bool``, ``int``, ``str``, finite ``float``, ``list``, a ``dict``
with string keys); everything else is an object with one ``$`` key::

    {"$tuple": [...]}                    {"$float": "nan"}  ("inf", "-inf")
    {"$complex": [re, im]}               {"$dict": [[key, value], ...]}  (keys not all plain strings)
    {"$ndarray": {"dtype": "float64", "shape": [2, 3], "data": [...]}}  (data flat, C order)
    {"$scalar": {"dtype": "int64", "value": 3}}                          (a numpy scalar)
    {"$namedtuple": {"type": "ProbeAnalysis", "fields": {...}}}          (results only)
    {"$dataclass": {"type": "ProbeResult", "fields": {...}}}             (results only)

A result may be a NamedTuple or a dataclass instance (compared by type name and fields, never
rebuilt); an argument must be rebuilt to replay the call, so it may not. What cannot be encoded
(another object, a value larger than its budget) raises :class:`Unrecordable` naming why.

:func:`encode` and :func:`decode` run in the validation kernel (no import beyond the standard
library; numpy only when the value holds numpy objects, so it is already imported).
:func:`same` compares two encoded values as validation compares outputs
(:mod:`gilgamesh.registry.compare.outputs`): integers exactly, floats with ``math.isclose``
under the relative tolerance (0: exactly), strings as texts whose numbers are compared that way,
NaN equal to NaN; an array by its shape and elements (not its dtype, as its printed form).
"""

from __future__ import annotations

import math
import sys

__all__ = ["Unrecordable", "Budget", "encode", "decode", "same", "show", "size", "MAX_VALUES", "MAX_TEXT"]

MAX_VALUES = 10_000  # scalars in one call's arguments and result together
MAX_TEXT = 10_000  # characters of one string


class Unrecordable(Exception):
    """A value that has no golden-call encoding; the message says what it is (``a Figure``)."""


def _type_name(value) -> str:
    t = type(value)
    module = t.__module__
    return t.__qualname__ if module in ("builtins", "__main__") else f"{module}.{t.__qualname__}"


class Budget:
    __slots__ = ("left",)

    def __init__(self, values: int):
        self.left = values

    def take(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise Unrecordable(f"too large (more than {MAX_VALUES} values)")


def _float(x: float):
    if math.isfinite(x):
        return x
    return {"$float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def encode(value, budget=None, *, objects: bool = False):
    """``value`` as golden-call JSON; ``objects``: NamedTuple and dataclass instances allowed (results)."""
    budget = Budget(MAX_VALUES) if budget is None else budget
    return _encode(value, budget, objects, 0)


def _encode(value, budget: Budget, objects: bool, depth: int):
    if depth > 20:
        raise Unrecordable("nested more than 20 levels deep")
    budget.take()
    if value is None or isinstance(value, bool):
        return value
    t = type(value)
    if t is int:
        return value
    if t is float:
        return _float(value)
    if t is str:
        if len(value) > MAX_TEXT:
            raise Unrecordable(f"a string longer than {MAX_TEXT} characters")
        return value
    if t is complex:
        return {"$complex": [_float(value.real), _float(value.imag)]}
    if t is list:
        return [_encode(v, budget, objects, depth + 1) for v in value]
    if t is tuple:
        return {"$tuple": [_encode(v, budget, objects, depth + 1) for v in value]}
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: _encode(v, budget, objects, depth + 1) for k, v in value.items()}
        return {"$dict": [[_encode(k, budget, objects, depth + 1), _encode(v, budget, objects, depth + 1)]
                          for k, v in value.items()]}
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            return {"$ndarray": _array(value, budget, np)}
        if isinstance(value, np.generic) and value.dtype.kind in "biufc":
            return {"$scalar": {"dtype": value.dtype.str if value.dtype.kind == "c" else value.dtype.name,
                                "value": _plain(value.item())}}
    if objects and isinstance(value, tuple) and isinstance(getattr(t, "_fields", None), tuple):
        return {"$namedtuple": {"type": t.__qualname__,
                                "fields": {f: _encode(getattr(value, f), budget, objects, depth + 1) for f in t._fields}}}
    if objects and hasattr(t, "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses

        return {"$dataclass": {"type": t.__qualname__,
                               "fields": {f.name: _encode(getattr(value, f.name), budget, objects, depth + 1)
                                          for f in dataclasses.fields(value)}}}
    raise Unrecordable(f"a {_type_name(value)}")


def _plain(x):
    if isinstance(x, float):
        return _float(x)
    if isinstance(x, complex):
        return {"$complex": [_float(x.real), _float(x.imag)]}
    return x


def _array(a, budget: Budget, np) -> dict:
    kind = a.dtype.kind
    if kind not in "biufcU" or a.dtype.fields is not None:
        raise Unrecordable(f"a numpy array of dtype {a.dtype}")
    budget.take(max(a.size - 1, 0))
    flat = a.ravel().tolist()
    if kind in "fc":
        flat = [_plain(x) for x in flat]
    elif kind == "U" and any(len(s) > MAX_TEXT for s in flat):
        raise Unrecordable(f"an array of strings longer than {MAX_TEXT} characters")
    return {"dtype": a.dtype.name if kind != "U" else a.dtype.str, "shape": list(a.shape), "data": flat}


def _unfloat(x):
    if isinstance(x, dict):
        if "$float" in x:
            return float(x["$float"])
        if "$complex" in x:
            re, im = x["$complex"]
            return complex(_unfloat(re), _unfloat(im))
    return x


def decode(value):
    """The Python value of an encoded argument (numpy imported only for numpy values)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, inner), = value.items()
        if key == "$tuple":
            return tuple(decode(v) for v in inner)
        if key in ("$float", "$complex"):
            return _unfloat(value)
        if key == "$dict":
            return {decode(k): decode(v) for k, v in inner}
        if key == "$ndarray":
            import numpy as np

            data = [_unfloat(x) for x in inner["data"]]
            return np.array(data, dtype=inner["dtype"]).reshape(inner["shape"])
        if key == "$scalar":
            import numpy as np

            return np.dtype(inner["dtype"]).type(_unfloat(inner["value"]))
        if key.startswith("$"):
            raise Unrecordable(f"a {inner.get('type', key[1:])} cannot be rebuilt as an argument")
    return {k: decode(v) for k, v in value.items()}


def size(value) -> int:
    """How many values an encoded value (or a golden call) holds, as the budgets count them."""
    if isinstance(value, list):
        return 1 + sum(size(v) for v in value)
    if isinstance(value, dict):
        if "$ndarray" in value:
            return max(len(value["$ndarray"]["data"]), 1)
        return 1 + sum(size(v) for v in value.values())
    return 1


# -- comparing (in the validation runner, on the encoded values) --------------------------------------

def _number(x):
    """``(kind, value)`` of an encoded number (``"int"``, ``"float"``, ``"complex"``), else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return "int", x
    if isinstance(x, float):
        return "float", x
    if isinstance(x, dict) and len(x) == 1:
        if "$float" in x:
            return "float", float(x["$float"])
        if "$complex" in x:
            return "complex", _unfloat(x)
        if "$scalar" in x:
            return _number(x["$scalar"]["value"])
    return None


def _close(a, b, tolerance: float) -> bool:
    if a == b:
        return True
    if isinstance(a, complex) or isinstance(b, complex):
        a, b = complex(a), complex(b)
        return _close(a.real, b.real, tolerance) and _close(a.imag, b.imag, tolerance)
    if math.isnan(a) and math.isnan(b):
        return True
    return tolerance > 0 and math.isclose(a, b, rel_tol=tolerance, abs_tol=0.0)


def same(expected, got, tolerance: float) -> bool:
    """Whether two encoded values agree under ``tolerance`` (see the module docstring)."""
    m, n = _number(expected), _number(got)
    if m is not None or n is not None:
        if m is None or n is None:
            return False
        if m[0] == n[0] == "int":
            return m[1] == n[1]
        if tolerance == 0 and m[0] != n[0]:
            return False  # exact: 1000 is not 1000.0, as in the outputs
        return _close(m[1], n[1], tolerance)
    if isinstance(expected, str) and isinstance(got, str):
        from gilgamesh.registry.compare.outputs import texts_match  # the runner has nbval loaded already

        return texts_match(expected, got, tolerance)
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(same(a, b, tolerance) for a, b in zip(expected, got))
    if isinstance(expected, dict) and isinstance(got, dict):
        if "$ndarray" in expected and "$ndarray" in got:
            a, b = expected["$ndarray"], got["$ndarray"]
            return a["shape"] == b["shape"] and same(a["data"], b["data"], tolerance)
        if expected.keys() != got.keys():
            return False
        return all(same(expected[k], got[k], tolerance) for k in expected)
    return expected == got


# -- showing (in publish reports) --------------------------------------------------------------------

def show(value, limit: int = 80) -> str:
    """An encoded value as short Python-like text: ``array([1.0, 2.0, ...], shape=(100,))``."""
    text = _show(value, limit)
    return text if len(text) <= limit else text[: max(limit - 3, 1)] + "..."


def _show(value, limit: int) -> str:
    if isinstance(value, list):
        return _items(value, "[", "]", limit)
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "...")
    if not isinstance(value, dict):
        return repr(value)
    if len(value) == 1:
        (key, inner), = value.items()
        if key == "$tuple":
            return _items(inner, "(", ",)" if len(inner) == 1 else ")", limit)
        if key == "$float":
            return f"float({inner!r})"
        if key == "$complex":
            return repr(_unfloat(value))
        if key == "$dict":
            return "{" + ", ".join(f"{_show(k, limit)}: {_show(v, limit)}" for k, v in inner[:8]) + (", ..." if len(inner) > 8 else "") + "}"
        if key == "$ndarray":
            shape = "(" + ", ".join(map(str, inner["shape"])) + ("," if len(inner["shape"]) == 1 else "") + ")"
            return f"array({_items(inner['data'], '[', ']', limit)}, shape={shape}, dtype={inner['dtype']})"
        if key == "$scalar":
            return f"{inner['dtype']}({_show(inner['value'], limit)})"
        if key in ("$namedtuple", "$dataclass"):
            return inner["type"] + "(" + ", ".join(f"{k}={_show(v, limit)}" for k, v in inner["fields"].items()) + ")"
    return "{" + ", ".join(f"{k!r}: {_show(v, limit)}" for k, v in list(value.items())[:8]) + (", ..." if len(value) > 8 else "") + "}"


def _items(values: list, opening: str, closing: str, limit: int) -> str:
    parts, size = [], 0
    for v in values:
        text = _show(v, limit)
        size += len(text) + 2
        if size > limit and parts:
            parts.append("...")
            break
        parts.append(text)
    return opening + ", ".join(parts) + closing

"""Arguments of a model call, checked against the endpoint's annotations before any model code runs.

The signature comes from the registry's stored snapshot (``endpoints`` of the index entry:
parameters with their annotation and default as source text), so checking needs neither the
module nor a worker. The same parsed annotations give the JSON Schema of the OpenAPI document
and the fields of the web UI's try-it form.

Supported annotations are the endpoint types of DESIGN.md section 4: ``float``, ``int``, ``bool``,
``str``, ``list[X]``, ``dict[str, X]``, ``numpy.ndarray`` (nested JSON arrays of numbers),
``X | None`` (and ``Optional[X]``); anything else is accepted unchecked (publish refuses it).
"""

from __future__ import annotations

import ast
import json
from typing import Any

from gilgamesh.errors import BadArguments
from gilgamesh.pyparse import parse_python

__all__ = ["Binder", "ArgumentProblem", "Annotation", "parse_annotation", "default_value", "NO_DEFAULT"]

NO_DEFAULT = object()


class ArgumentProblem:
    """One bad argument: which parameter (None for the body as a whole) and what is wrong."""

    __slots__ = ("parameter", "message")

    def __init__(self, parameter: str | None, message: str):
        self.parameter, self.message = parameter, message

    def to_dict(self) -> dict:
        return {"parameter": self.parameter, "message": self.message}

    def __str__(self) -> str:
        return self.message


class _Mismatch(Exception):
    def __init__(self, where: str, expected: str, got: Any):
        self.where, self.expected, self.got = where, expected, got


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover - JSON has no other types


class Annotation:
    """One parsed annotation: checks (and coerces) a JSON value, and says its JSON Schema."""

    description = "a value"
    plural = "values"
    is_array = False

    def check(self, value: Any, where: str = "") -> Any:
        return value

    def schema(self) -> dict:
        return {}

    def form_kind(self) -> str:
        """How the try-it form asks for it: number, integer, boolean, string or json."""
        return "json"


class _Any(Annotation):
    pass


class _Float(Annotation):
    description, plural = "a number", "numbers"

    def check(self, value, where=""):
        if type(value) is float:
            return value
        if type(value) is int:
            return float(value)
        raise _Mismatch(where, self.description, value)

    def schema(self):
        return {"type": "number"}

    def form_kind(self):
        return "number"


class _Int(Annotation):
    description, plural = "an integer", "integers"

    def check(self, value, where=""):
        if type(value) is int:
            return value
        if type(value) is float and value.is_integer():
            return int(value)  # 3.0 from a JSON encoder that writes every number as a float
        raise _Mismatch(where, self.description, value)

    def schema(self):
        return {"type": "integer"}

    def form_kind(self):
        return "integer"


class _Exact(Annotation):
    """A JSON scalar taken as it is: exactly ``python_type`` (so ``true`` is no number here)."""

    python_type: type
    json_type: str

    def check(self, value, where=""):
        if type(value) is self.python_type:
            return value
        raise _Mismatch(where, self.description, value)

    def schema(self):
        return {"type": self.json_type}

    def form_kind(self):
        return self.json_type


class _Bool(_Exact):
    description, plural = "true or false", "booleans"
    python_type, json_type = bool, "boolean"


class _Str(_Exact):
    description, plural = "a string", "strings"
    python_type, json_type = str, "string"


class _None(Annotation):
    description, plural = "null", "nulls"

    def check(self, value, where=""):
        if value is None:
            return None
        raise _Mismatch(where, self.description, value)

    def schema(self):
        return {"type": "null"}


class _List(Annotation):
    def __init__(self, item: Annotation):
        self.item = item
        self.description = f"an array of {item.plural}"
        self.plural = f"arrays of {item.plural}"

    def check(self, value, where=""):
        if type(value) is not list:
            raise _Mismatch(where, self.description, value)
        check = self.item.check
        return [check(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def schema(self):
        return {"type": "array", "items": self.item.schema()}


class _Dict(Annotation):
    def __init__(self, value: Annotation):
        self.value = value
        self.description = f"an object whose values are {value.plural}"
        self.plural = f"objects of {value.plural}"

    def check(self, value, where=""):
        if type(value) is not dict:
            raise _Mismatch(where, self.description, value)
        check = self.value.check
        return {k: check(v, f"{where}[{k!r}]") for k, v in value.items()}

    def schema(self):
        return {"type": "object", "additionalProperties": self.value.schema()}


def _array_shape(value, where: str) -> tuple:
    if type(value) is list:
        shapes = {_array_shape(v, f"{where}[{i}]") for i, v in enumerate(value)}
        if len(shapes) > 1:
            raise _Mismatch(where, "a rectangular array (every row the same length)", value)
        return (len(value),) + (shapes.pop() if shapes else ())
    if type(value) in (int, float):  # not bool: the schema (and _Float) say number
        return ()
    raise _Mismatch(where, "a number", value)


class _NdArray(Annotation):
    description, plural = "an array of numbers (nested arrays for more dimensions)", "arrays of numbers"
    is_array = True

    def check(self, value, where=""):
        if type(value) is not list:
            raise _Mismatch(where, self.description, value)
        _array_shape(value, where)
        return value  # the worker turns it into a numpy array

    def schema(self):
        return {
            "type": "array",
            "items": {"anyOf": [{"type": "number"}, {"type": "array"}]},
            "description": "a numpy array: nested JSON arrays of numbers",
        }


class _Union(Annotation):
    def __init__(self, options: list[Annotation]):
        self.options = options
        self.description = " or ".join(o.description for o in options)
        self.plural = " or ".join(o.plural for o in options)
        self.is_array = any(o.is_array for o in options)

    def check(self, value, where=""):
        inner = None
        for option in self.options:
            try:
                return option.check(value, where)
            except _Mismatch as e:
                # Report the deepest mismatch of the option the value's type was meant for.
                if e.where != where and inner is None:
                    inner = e
        raise inner or _Mismatch(where, self.description, value)

    def schema(self):
        return {"anyOf": [o.schema() for o in self.options]}

    def form_kind(self):
        kinds = {o.form_kind() for o in self.options if not isinstance(o, _None)}
        return kinds.pop() if len(kinds) == 1 else "json"


_SIMPLE = {"float": _Float, "int": _Int, "bool": _Bool, "str": _Str, "None": _None}
_ARRAYS = {"ndarray", "numpy.ndarray", "np.ndarray", "numpy.typing.NDArray", "NDArray", "npt.NDArray"}
_LISTS = {"list", "List", "typing.List"}
_DICTS = {"dict", "Dict", "typing.Dict"}
_OPTIONALS = {"Optional", "typing.Optional"}
_UNIONS = {"Union", "typing.Union"}


def _from_node(node: ast.AST) -> Annotation:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return _None()
        if isinstance(node.value, str):
            return parse_annotation(node.value)
        return _Any()
    text = ast.unparse(node)
    if text in _SIMPLE:
        return _SIMPLE[text]()
    if text in _ARRAYS:
        return _NdArray()
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        options = []
        for side in (node.left, node.right):
            part = _from_node(side)
            options.extend(part.options if isinstance(part, _Union) else [part])
        return _Union(options)
    if isinstance(node, ast.Subscript):
        base = ast.unparse(node.value)
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in _ARRAYS:
            return _NdArray()
        if base in _LISTS and len(args) == 1:
            return _List(_from_node(args[0]))
        if base in _DICTS and len(args) == 2:
            return _Dict(_from_node(args[1]))
        if base in _OPTIONALS and len(args) == 1:
            return _Union([_from_node(args[0]), _None()])
        if base in _UNIONS:
            return _Union([_from_node(a) for a in args])
    return _Any()


def parse_annotation(text: str | None) -> Annotation:
    """Parse an annotation's source text (``"list[float]"``, ``"np.ndarray | None"``)."""
    if not text:
        return _Any()
    try:
        return _from_node(parse_python(text, mode="eval").body)
    except SyntaxError:
        return _Any()


def default_value(text: str | None) -> Any:
    """A default's source text as a JSON value, or :data:`NO_DEFAULT` if it is not a JSON literal."""
    if text is None:
        return NO_DEFAULT
    try:
        value = ast.literal_eval(text)
        if isinstance(value, tuple):
            value = list(value)
        json.dumps(value, allow_nan=False)
        return value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NO_DEFAULT


class _Param:
    __slots__ = ("name", "kind", "annotation", "annotation_text", "required", "default_text")

    def __init__(self, spec: dict):
        self.name = spec["name"]
        self.kind = spec.get("kind", "positional_or_keyword")
        self.annotation_text = spec.get("annotation")
        self.annotation = parse_annotation(self.annotation_text)
        self.default_text = spec.get("default")
        self.required = self.default_text is None


class Binder:
    """Binds a JSON object of arguments to an endpoint's parameters, or names what is wrong."""

    def __init__(self, label: str, signature: dict):
        self.label = label
        self.params = [_Param(p) for p in signature.get("params", [])
                       if p.get("kind") not in ("var_positional", "var_keyword")]
        self.by_name = {p.name: p for p in self.params}
        self.has_positional_only = any(p.kind == "positional_only" for p in self.params)
        self.returns = parse_annotation(signature.get("returns"))

    def bind(self, arguments: Any) -> tuple[list, dict, tuple]:
        """``(positional, keywords, array parameter names)`` for the worker; raise :class:`BadArguments`."""
        if type(arguments) is not dict:
            raise BadArguments(
                f"bad arguments to {self.label}: the body must be a JSON object of arguments, "
                f"got {_json_type(arguments)}",
                details=[ArgumentProblem(None, "the body must be a JSON object")],
            )
        problems = []
        keywords = {}
        arrays = []
        for name, value in arguments.items():
            param = self.by_name.get(name)
            if param is None:
                known = ", ".join(p.name for p in self.params) or "none"
                problems.append((name, f"unknown parameter {name!r} (parameters: {known})"))
                continue
            try:
                keywords[name] = param.annotation.check(value)
            except _Mismatch as e:
                problems.append((name, f"parameter {name!r}{' at ' + e.where if e.where else ''}: "
                                       f"expected {e.expected}, got {_json_type(e.got)}"))
                continue
            if param.annotation.is_array and value is not None:
                arrays.append(name)
        for param in self.params:
            if param.required and param.name not in arguments:
                problems.append((param.name, f"missing required parameter {param.name!r}"))
        positional: list = []
        if not problems and self.has_positional_only:
            positional, moved, problems = self._positional_only(keywords)
            arrays = [moved.index(a) if a in moved else a for a in arrays]
        if problems:
            raise BadArguments(
                f"bad arguments to {self.label}: " + "; ".join(m for _, m in problems),
                details=[ArgumentProblem(p, m) for p, m in problems],
            )
        return positional, keywords, tuple(arrays)

    def _positional_only(self, keywords: dict) -> tuple[list, list, list]:
        """Move positional-only arguments out of ``keywords`` (they cannot be passed by name)."""
        only = [p for p in self.params if p.kind == "positional_only"]
        given = [p.name in keywords for p in only]
        if not any(given):
            return [], [], []
        last = max(i for i, g in enumerate(given) if g)
        gaps = [p.name for p, g in zip(only[:last], given[:last]) if not g]
        if gaps:
            return [], [], [(g, f"parameter {g!r} is positional-only: give it too, since "
                                f"{only[last].name!r} comes after it") for g in gaps]
        moved = [p.name for p in only[:last + 1]]
        return [keywords.pop(n) for n in moved], moved, []

    def request_schema(self) -> dict:
        """The JSON Schema of the request body."""
        properties = {}
        for p in self.params:
            schema = dict(p.annotation.schema())
            default = default_value(p.default_text)
            if default is not NO_DEFAULT:
                schema["default"] = default
            properties[p.name] = schema
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        required = [p.name for p in self.params if p.required]
        if required:
            schema["required"] = required
        return schema

    def form_fields(self) -> list[dict]:
        """What the try-it form shows for each parameter."""
        fields = []
        for p in self.params:
            default = default_value(p.default_text)
            fields.append({
                "name": p.name,
                "kind": p.annotation.form_kind(),
                "type": p.annotation.description,
                "annotation": p.annotation_text,
                "required": p.required,
                "default": None if default is NO_DEFAULT else json.dumps(default),
                "default_text": p.default_text,
            })
        return fields

"""The endpoint type grammar: one reading of an annotation's text, for every part that needs one.

docs/guide.md (section 2, Endpoints) names the JSON-compatible types an endpoint may take and return: ``float``,
``int``, ``bool``, ``str``, ``list[X]``, ``dict[str, X]``, ``numpy.ndarray`` (a JSON array) and
``X | None``. Authors spell them in many ways (``Optional[float]``, ``Union[float, None]``,
``typing.List[int]``, ``np.ndarray``, ``npt.NDArray[np.float64]``, a string under ``from __future__
import annotations``), and the runtime renders them in others (``typing.Optional[float]``,
``numpy.ndarray[typing.Any, numpy.dtype[numpy.float64]]``). :func:`parse_type` reads all of them
into one tree, and everything reads that tree:

* the publish check (step 5): :func:`endpoint_type_problem` says why a type is not JSON-compatible;
* the service's argument binder and the OpenAPI document: :func:`parse_annotation` gives an
  :class:`Annotation` that checks a JSON value and says its JSON Schema;
* the semver rules: :func:`canonical_type` makes two spellings of one type compare equal, and
  :func:`accepts` says whether every value of one type is a value of another (a return type may
  narrow in a patch, a parameter type may widen).

This module is plain Python (no numpy): the registry core and the service both import it.
"""

from __future__ import annotations

import ast
import json
from typing import Any, NamedTuple

from gilgamesh.pyparse import parse_python

__all__ = [
    "TypeExpr", "parse_type", "canonical_type", "accepts", "endpoint_type_problem", "ENDPOINT_TYPES",
    "Annotation", "Mismatch", "parse_annotation", "default_value", "NO_DEFAULT", "MAX_RANK", "nested_array_schema",
]

ENDPOINT_TYPES = "float, int, bool, str, list[...], dict[str, ...], numpy.ndarray, X | None"

_SCALARS = {"float": "float", "int": "int", "bool": "bool", "str": "str", "None": "None", "NoneType": "None",
            "complex": "complex", "bytes": "bytes", "Any": "Any", "typing.Any": "Any"}
_ARRAYS = {"ndarray", "numpy.ndarray", "np.ndarray", "numpy.typing.NDArray", "NDArray", "npt.NDArray"}
_LISTS = {"list", "List", "typing.List", "Sequence", "typing.Sequence", "collections.abc.Sequence"}
_DICTS = {"dict", "Dict", "typing.Dict", "Mapping", "typing.Mapping", "collections.abc.Mapping"}
_TUPLES = {"tuple", "Tuple", "typing.Tuple"}
_OPTIONALS = {"Optional", "typing.Optional"}
_UNIONS = {"Union", "typing.Union"}
_NUMERIC_TOWER = {"int": {"int", "float", "complex"}, "float": {"float", "complex"}, "bool": {"bool", "int", "float", "complex"}}


class TypeExpr(NamedTuple):
    """One node of a parsed annotation.

    ``kind`` is a scalar name (``float``, ``int``, ``bool``, ``str``, ``None``, ``Any``, ...),
    ``ndarray``, ``list``, ``dict``, ``tuple``, ``union`` or ``other`` (a type the grammar does not
    know, kept as its text in ``name``). ``args`` are the item types (``list``: one; ``dict``: key
    and value; ``tuple`` and ``union``: the members).
    """

    kind: str
    args: tuple = ()
    name: str = ""

    def text(self) -> str:
        if self.kind == "list":
            return f"list[{self.args[0].text()}]"
        if self.kind == "dict":
            return f"dict[{self.args[0].text()}, {self.args[1].text()}]"
        if self.kind == "tuple":
            return "tuple[" + ", ".join(a.text() for a in self.args) + "]" if self.args else "tuple"
        if self.kind == "union":
            return " | ".join(a.text() for a in self.args)
        if self.kind == "ndarray":
            return "numpy.ndarray"
        if self.kind == "other":
            return self.name
        return self.kind


_ANY = TypeExpr("Any")


def _union(members: list[TypeExpr]) -> TypeExpr:
    flat: list[TypeExpr] = []
    for m in members:
        for part in (m.args if m.kind == "union" else (m,)):
            if part not in flat:
                flat.append(part)
    if len(flat) == 1:
        return flat[0]
    # None last, the rest in a stable order: ``Optional[float]`` and ``None | float`` are one type.
    return TypeExpr("union", tuple(sorted(flat, key=lambda t: (t.kind == "None", t.text()))))


def _other_name(text: str) -> str:
    """A class's name as either side may spell it: ``__main__.ProbeAnalysis`` is ``ProbeAnalysis``."""
    for prefix in ("__main__.", "builtins.", "typing.", "collections.abc."):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def _from_node(node: ast.AST) -> TypeExpr:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return TypeExpr("None")
        if isinstance(node.value, str):
            return parse_type(node.value)
        return TypeExpr("other", name=repr(node.value))
    text = ast.unparse(node)
    if text in _SCALARS:
        return TypeExpr(_SCALARS[text])
    if text in _ARRAYS:
        return TypeExpr("ndarray")
    if text in _LISTS:
        return TypeExpr("list", (_ANY,))
    if text in _DICTS:
        return TypeExpr("dict", (_ANY, _ANY))
    if text in _TUPLES:
        return TypeExpr("tuple")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([_from_node(node.left), _from_node(node.right)])
    if isinstance(node, ast.Subscript):
        base = ast.unparse(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in _ARRAYS:
            return TypeExpr("ndarray")
        if base in _LISTS and len(args) == 1:
            return TypeExpr("list", (_from_node(args[0]),))
        if base in _DICTS and len(args) == 2:
            return TypeExpr("dict", (_from_node(args[0]), _from_node(args[1])))
        if base in _TUPLES:
            return TypeExpr("tuple", tuple(_from_node(a) for a in args))
        if base in _OPTIONALS and len(args) == 1:
            return _union([_from_node(args[0]), TypeExpr("None")])
        if base in _UNIONS:
            return _union([_from_node(a) for a in args])
    return TypeExpr("other", name=_other_name(text))


def parse_type(text: str | None) -> TypeExpr | None:
    """The tree of an annotation's source text; None for no annotation."""
    if text is None or not str(text).strip():
        return None
    try:
        return _from_node(parse_python(str(text), mode="eval").body)
    except (SyntaxError, ValueError, RecursionError):
        return TypeExpr("other", name=str(text))


def canonical_type(text: str | None) -> str | None:
    """One spelling per type: ``Optional[np.ndarray]`` and ``numpy.ndarray | None`` read the same."""
    tree = parse_type(text)
    return None if tree is None else tree.text()


def accepts(wide: TypeExpr | None, narrow: TypeExpr | None) -> bool:
    """True if every value of ``narrow`` is a value of ``wide`` (None, no annotation, is Any)."""
    if wide is None or wide.kind == "Any" or wide == TypeExpr("other", name="object"):
        return True
    if narrow is None or narrow.kind == "Any":
        return False
    if narrow.kind == "union":
        return all(accepts(wide, m) for m in narrow.args)
    if wide.kind == "union":
        return any(accepts(m, narrow) for m in wide.args)
    if narrow.kind in _NUMERIC_TOWER and wide.kind in _NUMERIC_TOWER[narrow.kind] | {"complex"}:
        return wide.kind in _NUMERIC_TOWER[narrow.kind]
    if wide.kind != narrow.kind:
        return False
    if wide.kind == "other":
        return wide.name == narrow.name
    if wide.kind == "tuple" and wide.args and len(wide.args) != len(narrow.args):
        return False
    return all(accepts(w, n) for w, n in zip(wide.args, narrow.args))


def _endpoint_problem(tree: TypeExpr) -> str | None:
    if tree.kind in ("float", "int", "bool", "str", "None", "ndarray"):
        return None
    if tree.kind == "union":
        return next((p for p in map(_endpoint_problem, tree.args) if p), None)
    if tree.kind == "list":
        return _endpoint_problem(tree.args[0]) if tree.args[0].kind != "Any" else "has a list annotation without an item type"
    if tree.kind == "dict":
        if tree.args[0].kind != "str":
            return "has a dict whose keys are not str"
        if tree.args[1].kind == "Any":
            return "has a dict annotation without key and value types"
        return _endpoint_problem(tree.args[1])
    return f"has type {tree.text()!r}, which is not JSON-compatible ({ENDPOINT_TYPES})"


def endpoint_type_problem(text: str | None) -> str | None:
    """Why an annotation is not a JSON-compatible endpoint type (``has no annotation``, ...), or None."""
    tree = parse_type(text)
    if tree is None:
        return "has no annotation"
    return _endpoint_problem(tree)


# -- JSON values against a type: the service's argument binder and OpenAPI schemas ---------------

NO_DEFAULT = object()


class Mismatch(Exception):
    """A JSON value that is not of the expected type: where in it, what was expected, what came."""

    def __init__(self, where: str, expected: str, got: Any):
        self.where, self.expected, self.got = where, expected, got


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
        raise Mismatch(where, self.description, value)

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
        raise Mismatch(where, self.description, value)

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
        raise Mismatch(where, self.description, value)

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
        raise Mismatch(where, self.description, value)

    def schema(self):
        return {"type": "null"}


class _List(Annotation):
    def __init__(self, item: Annotation):
        self.item = item
        self.description = f"an array of {item.plural}"
        self.plural = f"arrays of {item.plural}"

    def check(self, value, where=""):
        if type(value) is not list:
            raise Mismatch(where, self.description, value)
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
            raise Mismatch(where, self.description, value)
        check = self.value.check
        return {k: check(v, f"{where}[{k!r}]") for k, v in value.items()}

    def schema(self):
        return {"type": "object", "additionalProperties": self.value.schema()}


def _array_shape(value, where: str) -> tuple:
    if type(value) is list:
        shapes = {_array_shape(v, f"{where}[{i}]") for i, v in enumerate(value)}
        if len(shapes) > 1:
            raise Mismatch(where, "a rectangular array (every row the same length)", value)
        return (len(value),) + (shapes.pop() if shapes else ())
    if type(value) in (int, float):  # not bool: the schema (and _Float) say number
        return ()
    raise Mismatch(where, "a number", value)


MAX_RANK = 4  # dimensions of an array whose annotation does not say how many


def nested_array_schema(rank: int, leaf: dict) -> dict:
    """``rank`` levels of JSON arrays around ``leaf``: the JSON Schema of a ``rank``-D array."""
    schema = leaf
    for _ in range(rank):
        schema = {"type": "array", "items": schema}
    return schema


class _NdArray(Annotation):
    """A numpy array: rectangular nested JSON arrays of numbers, of the annotation's rank.

    ``np.ndarray[tuple[int, int], np.dtype[np.float64]]`` says its rank (2); a bare
    ``np.ndarray`` or ``npt.NDArray[...]`` takes 1 to :data:`MAX_RANK` dimensions. The schema is
    one fixed-depth array per rank allowed (what code generators turn into typed lists), and the
    check refuses what JSON Schema cannot say: rows of unequal length.
    """

    plural = "arrays of numbers"
    is_array = True

    def __init__(self, rank: int | None = None):
        self.rank = rank
        if rank is None:
            self.description = f"an array of numbers (nested arrays for up to {MAX_RANK} dimensions)"
        elif rank == 1:
            self.description = "an array of numbers"
        else:
            self.description = f"a {rank}-dimensional array of numbers (arrays nested {rank} deep)"

    def check(self, value, where=""):
        if type(value) is not list:
            raise Mismatch(where, self.description, value)
        rank = len(_array_shape(value, where))
        if not (rank == self.rank if self.rank is not None else 1 <= rank <= MAX_RANK):
            raise Mismatch(where, self.description, value)
        return value  # the worker turns it into a numpy array

    def schema(self, leaf: dict | None = None):
        leaf = leaf or {"type": "number"}
        ranks = [self.rank] if self.rank is not None else range(1, MAX_RANK + 1)
        options = [nested_array_schema(r, leaf) for r in ranks]
        schema = options[0] if len(options) == 1 else {"anyOf": options}
        return {**schema, "description": f"A numpy array: {self.description}, every row the same length."}


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
            except Mismatch as e:
                # Report the deepest mismatch of the option the value's type was meant for.
                if e.where != where and inner is None:
                    inner = e
        raise inner or Mismatch(where, self.description, value)

    def schema(self):
        options = []
        for o in self.options:
            schema = o.schema()
            # An array of any rank is a union already: one flat anyOf reads better to generators.
            options.extend(schema["anyOf"] if set(schema) <= {"anyOf", "description"} and "anyOf" in schema else [schema])
        return {"anyOf": options}

    def form_kind(self):
        kinds = {o.form_kind() for o in self.options if not isinstance(o, _None)}
        return kinds.pop() if len(kinds) == 1 else "json"


_CHECKERS = {"float": _Float, "int": _Int, "bool": _Bool, "str": _Str, "None": _None}


def _annotation(tree: TypeExpr, rank: int | None = None) -> Annotation:
    if tree.kind == "ndarray":
        return _NdArray(rank)
    if tree.kind in _CHECKERS:
        return _CHECKERS[tree.kind]()
    if tree.kind == "list":
        return _List(_annotation(tree.args[0], rank))
    if tree.kind == "dict":
        return _Dict(_annotation(tree.args[1], rank))
    if tree.kind == "union":
        # The order the author wrote is the order values are tried in: ``int | float`` keeps ints.
        return _Union([_annotation(a, rank) for a in tree.args])
    return _Any()  # publish refuses these for endpoints; old versions are served unchecked


def _written_order(text: str, tree: TypeExpr) -> TypeExpr:
    """A union's members in the order the author wrote them (the canonical tree sorts them)."""
    if tree.kind != "union":
        return tree
    try:
        node = parse_python(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return tree
    members: list[ast.AST] = []

    def walk(n):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, ast.Subscript) and ast.unparse(n.value) in _UNIONS | _OPTIONALS:
            for a in (n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]):
                walk(a)
            if ast.unparse(n.value) in _OPTIONALS:
                members.append(ast.Constant(None))
        else:
            members.append(n)

    walk(node)
    ordered = []
    for m in members:
        t = _from_node(m)
        if t not in ordered:
            ordered.append(t)
    return TypeExpr("union", tuple(ordered)) if set(ordered) == set(tree.args) else tree


def parse_annotation(text: str | None) -> Annotation:
    """The checker of an annotation's source text (``"list[float]"``, ``"np.ndarray | None"``)."""
    tree = parse_type(text)
    if tree is None:
        return _Any()
    return _annotation(_written_order(str(text), tree), _array_rank(str(text)))


def _array_rank(text: str) -> int | None:
    """The rank an array annotation spells with a shape (``np.ndarray[tuple[int, int], ...]``: 2)."""
    if "[" not in text:
        return None
    try:
        tree = parse_python(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) in _ARRAYS and isinstance(node.slice, ast.Tuple):
            shape = node.slice.elts[0]
            if isinstance(shape, ast.Subscript) and ast.unparse(shape.value) in _TUPLES:
                dims = shape.slice.elts if isinstance(shape.slice, ast.Tuple) else [shape.slice]
                if dims and not any(isinstance(d, ast.Constant) and d.value is Ellipsis for d in dims):
                    return len(dims)
    return None


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

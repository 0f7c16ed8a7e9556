"""The public API of a notebook, read statically from its import cells.

The snapshot is what the semver check diffs, what the docs check walks and where endpoint
signatures come from. It is plain JSON, stored with every version (``gilgamesh.json``, key
``api``)::

    {"analyze": {"kind": "function", "cell": 9, "doc": true,
                 "params": [{"name": "V", "kind": "positional_or_keyword",
                             "annotation": "list[float]", "default": null}, ...],
                 "returns": "dict[str, float]"},
     "ProbeResult": {"kind": "class", "cell": 8, "doc": true,
                     "methods": {"__init__": {"kind": "method", "params": [...], "returns": null}, ...},
                     "attributes": {"UNITS": "'SI'"}},
     "E_CHARGE": {"kind": "constant", "cell": 2, "value": "1.602176634e-19"}}

``default`` is the default's source text, or null when the parameter is required. Public means
listed in ``__all__`` when the notebook defines it, else not starting with ``_``; imported names
are never public. Async functions and methods carry ``"async": true``; a method's ``kind`` is
``method``, ``staticmethod``, ``classmethod`` or ``property``; dunder methods are public (they
are how a class is used). Definitions inside top-level ``if``/``try``/``with`` blocks count, and
``name = other_public_function`` makes ``name`` a function with that signature. The ``@``
spelling is rewritten before parsing; cells that do not parse are skipped here (the structure
check reports them).
"""

from __future__ import annotations

import ast

from gilgamesh.notebook import ParsedNotebook
from gilgamesh.pyparse import parse_python
from gilgamesh.spelling import rewrite_at_spelling

__all__ = ["api_snapshot", "parse_import_cells", "function_signature"]

def parse_import_cells(nb: ParsedNotebook) -> list[tuple[int, ast.Module]]:
    """``(cell number, module AST)`` of each import cell that parses."""
    trees = []
    for cell in nb.import_cells():
        try:
            trees.append((cell.number, parse_python(rewrite_at_spelling(cell.source))))
        except SyntaxError:
            continue
    return trees


def _text(node: ast.AST | None) -> str | None:
    return None if node is None else ast.unparse(node)


def function_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict:
    """Parameters (in order) and return annotation of a function definition."""
    a = fn.args
    params = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, arg in enumerate(positional):
        kind = "positional_only" if i < len(a.posonlyargs) else "positional_or_keyword"
        params.append({"name": arg.arg, "kind": kind, "annotation": _text(arg.annotation), "default": _text(defaults[i])})
    if a.vararg:
        params.append({"name": a.vararg.arg, "kind": "var_positional", "annotation": _text(a.vararg.annotation), "default": None})
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        params.append({"name": arg.arg, "kind": "keyword_only", "annotation": _text(arg.annotation), "default": _text(default)})
    if a.kwarg:
        params.append({"name": a.kwarg.arg, "kind": "var_keyword", "annotation": _text(a.kwarg.annotation), "default": None})
    return {"params": params, "returns": _text(fn.returns)}


def _declared_all(trees) -> list[str] | None:
    for _, tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    return None
                if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                    return list(value)
    return None


_METHOD_KINDS = {"staticmethod": "staticmethod", "classmethod": "classmethod", "property": "property",
                 "functools.cached_property": "property", "cached_property": "property"}


def _method_kind(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    for d in fn.decorator_list:
        kind = _METHOD_KINDS.get(ast.unparse(d))
        if kind:
            return kind
    return "method"


def _is_public_member(name: str) -> bool:
    """Public methods and the dunder protocol (``__init__``, ``__call__``, ``__len__``, ...)."""
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _class_entry(node: ast.ClassDef, cell: int) -> dict:
    methods = {}
    fields = []
    attributes = {}
    for item in _flat_body(node.body):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_public_member(item.name):
            if any(ast.unparse(d).endswith(".setter") or ast.unparse(d).endswith(".deleter") for d in item.decorator_list):
                continue  # part of the property defined above
            methods[item.name] = {"kind": _method_kind(item), **function_signature(item)}
            if isinstance(item, ast.AsyncFunctionDef):
                methods[item.name]["async"] = True
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            fields.append({"name": item.target.id, "annotation": _text(item.annotation), "default": _text(item.value)})
            if not item.target.id.startswith("_"):
                attributes[item.target.id] = _text(item.value)
        elif isinstance(item, ast.Assign):
            for name in _target_names(item.targets):
                if not name.startswith("_"):
                    attributes[name] = _text(item.value)[:200]
    is_dataclass = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
    entry = {"kind": "class", "cell": cell, "doc": ast.get_docstring(node) is not None, "methods": methods,
             "attributes": attributes}
    if is_dataclass and "__init__" not in methods:
        # The generated __init__ is the class's call signature.
        methods["__init__"] = {
            "kind": "method",
            "params": [{"name": "self", "kind": "positional_or_keyword", "annotation": None, "default": None}]
            + [{"name": f["name"], "kind": "positional_or_keyword", "annotation": f["annotation"], "default": f["default"]}
               for f in fields if not (f["annotation"] or "").startswith(("ClassVar", "typing.ClassVar"))],
            "returns": None,
        }
    return entry


def _flat_body(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements of a body with conditional blocks (if/try/with) opened: every branch may define."""
    out = []
    for node in body:
        if isinstance(node, ast.If):
            out += _flat_body(node.body) + _flat_body(node.orelse)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            out += _flat_body(node.body)
            for handler in node.handlers:
                out += _flat_body(handler.body)
            out += _flat_body(node.orelse) + _flat_body(node.finalbody)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            out += _flat_body(node.body)
        else:
            out.append(node)
    return out


def _target_names(targets: list[ast.expr]) -> list[str]:
    names = []
    for t in targets:
        if isinstance(t, ast.Name):
            names.append(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            names += _target_names(t.elts)
        elif isinstance(t, ast.Starred):
            names += _target_names([t.value])
    return names


def api_snapshot(nb: ParsedNotebook, trees: list[tuple[int, ast.Module]] | None = None) -> dict:
    """The public API of the notebook's import cells, as documented in the module docstring."""
    trees = parse_import_cells(nb) if trees is None else trees
    declared = _declared_all(trees)
    found: dict[str, dict] = {}
    for cell, tree in trees:
        for node in _flat_body(tree.body):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = {
                    "kind": "function", "cell": cell, "doc": ast.get_docstring(node) is not None,
                    **function_signature(node),
                }
                if isinstance(node, ast.AsyncFunctionDef):
                    found[node.name]["async"] = True
            elif isinstance(node, ast.ClassDef):
                found[node.name] = _class_entry(node, cell)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                aliased = node.value.id if isinstance(node.value, ast.Name) else None
                for name in _target_names(targets):
                    if name == "__all__":
                        continue
                    if aliased in found and found[aliased]["kind"] != "constant":
                        found[name] = {**found[aliased], "cell": cell}  # ``analyze = analyze_v2``
                    else:
                        found[name] = {"kind": "constant", "cell": cell, "value": _text(node.value)[:200]}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    found.pop(bound, None)
    if declared is not None:
        return {n: found[n] for n in declared if n in found}
    return {n: e for n, e in found.items() if not n.startswith("_")}

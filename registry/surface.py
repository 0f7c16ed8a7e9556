"""The public API of a notebook, read statically from its import cells.

The snapshot is what the semver check diffs, what the docs check walks and where endpoint
signatures come from. It is plain JSON, stored with every version (``gilgamesh.json``, key
``api``)::

    {"analyze": {"kind": "function", "cell": 9, "doc": true,
                 "params": [{"name": "V", "kind": "positional_or_keyword",
                             "annotation": "list[float]", "default": null}, ...],
                 "returns": "dict[str, float]"},
     "ProbeResult": {"kind": "class", "cell": 8, "doc": true,
                     "methods": {"__init__": {"params": [...], "returns": null}, ...}},
     "E_CHARGE": {"kind": "constant", "cell": 2, "value": "1.602176634e-19"}}

``default`` is the default's source text, or null when the parameter is required. Public means
listed in ``__all__`` when the notebook defines it, else not starting with ``_``; imported names
are never public. The ``@`` spelling is rewritten before parsing; cells that do not parse are
skipped here (the structure check reports them).
"""

from __future__ import annotations

import ast

from gilgamesh.notebook import ParsedNotebook
from gilgamesh.spelling import rewrite_at_spelling

__all__ = ["api_snapshot", "parse_import_cells", "function_signature"]

def parse_import_cells(nb: ParsedNotebook) -> list[tuple[int, ast.Module]]:
    """``(cell number, module AST)`` of each import cell that parses."""
    trees = []
    for cell in nb.import_cells():
        try:
            trees.append((cell.number, ast.parse(rewrite_at_spelling(cell.source))))
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


def _class_entry(node: ast.ClassDef, cell: int) -> dict:
    methods = {}
    fields = []
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
            not item.name.startswith("_") or item.name == "__init__" or item.name == "__call__"
        ):
            methods[item.name] = function_signature(item)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            fields.append({"name": item.target.id, "annotation": _text(item.annotation), "default": _text(item.value)})
    is_dataclass = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
    entry = {"kind": "class", "cell": cell, "doc": ast.get_docstring(node) is not None, "methods": methods}
    if is_dataclass and "__init__" not in methods:
        # The generated __init__ is the class's call signature.
        methods["__init__"] = {
            "params": [{"name": "self", "kind": "positional_or_keyword", "annotation": None, "default": None}]
            + [{"name": f["name"], "kind": "positional_or_keyword", "annotation": f["annotation"], "default": f["default"]} for f in fields],
            "returns": None,
        }
    return entry


def api_snapshot(nb: ParsedNotebook, trees: list[tuple[int, ast.Module]] | None = None) -> dict:
    """The public API of the notebook's import cells, as documented in the module docstring."""
    trees = parse_import_cells(nb) if trees is None else trees
    declared = _declared_all(trees)
    found: dict[str, dict] = {}
    for cell, tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = {
                    "kind": "function", "cell": cell, "doc": ast.get_docstring(node) is not None,
                    **function_signature(node),
                }
            elif isinstance(node, ast.ClassDef):
                found[node.name] = _class_entry(node, cell)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and t.id != "__all__" and node.value is not None:
                        found[t.id] = {"kind": "constant", "cell": cell, "value": _text(node.value)[:200]}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    found.pop(bound, None)
    if declared is not None:
        return {n: found[n] for n in declared if n in found}
    return {n: e for n, e in found.items() if not n.startswith("_")}

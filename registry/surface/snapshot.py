"""The public surface of an API notebook: one model, read from the module as it really is.

The surface is what the semver rules diff, what the documentation check walks, where endpoint
signatures (and so the argument binder and the OpenAPI document) come from. It is plain JSON,
stored with every version (``gilgamesh.json``: ``api``, and ``api_format``)::

    {"analyze": {"kind": "function", "cell": 9, "doc": true, "form": "function",
                 "params": [{"name": "V", "kind": "positional_or_keyword",
                             "annotation": "list[float]", "default": null}, ...],
                 "returns": "dict[str, float]"},
     "ProbeResult": {"kind": "class", "cell": 8, "doc": true, "bases": ["Base"], "hashable": false,
                     "methods": {"__init__": {"kind": "method", "params": [...], "returns": null}, ...},
                     "attributes": {"UNITS": "'SI'"},
                     "fields": [{"name": "T_e", "annotation": "float", "kw_only": false, "default": null}],
                     "field_kind": "dataclass", "frozen": false},
     "Sweep": {"kind": "class", ..., "typeddict": {"total": true,
               "keys": {"V": {"annotation": "list[float]", "required": true}}}},
     "Species": {"kind": "class", ..., "enum": {"ARGON": "'Ar'"}},
     "E_CHARGE": {"kind": "constant", "cell": 2, "value": "1.602176634e-19", "type": "float"}}

Two sources, one model:

* format 3 (:data:`FORMAT`, ``api_format: 3``): the module after its code ran, described by
  :mod:`gilgamesh.registry.surface.live` in the validation kernel (or, for a working copy and a
  publish without the kernel, in a sandboxed process that runs the import cells); the ``ast``
  adds only what the runtime lacks: the cell each name was defined in, and the annotations and
  defaults as the author wrote them where a ``def`` matches the runtime signature; format 2 was
  the same without ``form``, ``hashable``, ``frozen`` and ``typeddict``: a version stored in it is
  described again, or, if its code no longer runs, compared as stored (what it lacks, the semver
  rules take as unknown);
* format 1: read statically from the import cells (what versions published before format 2
  stored, and the fallback when the code cannot run). Public means listed in ``__all__`` when the
  notebook assigns it a literal list, else not starting with ``_``; imported names are never
  public. It knows ``form`` (a ``yield`` in the body) and a dataclass's ``frozen=`` but not
  ``hashable``, and reads a TypedDict's keys as class attributes.

``default`` is the default's source text (or repr), null when the parameter is required. A
method's ``kind`` is ``method``, ``staticmethod``, ``classmethod`` or ``property``; dunder
methods are public (they are how a class is used); the class's constructor is ``__init__``.
A function's or method's ``form`` is how a call returns: ``function`` (its value), ``generator``,
``coroutine`` (``async def``) or ``async generator``.
Snapshots of different formats are never diffed against each other: the older side is derived
again in the newer format (:func:`probe_surface`), or both are read statically.
"""

from __future__ import annotations

import ast

from gilgamesh.notebook import ParsedNotebook
from gilgamesh.pyparse import parse_python
from gilgamesh.spelling import rewrite_at_spelling

__all__ = ["api_snapshot", "parse_import_cells", "function_signature", "static_facts", "merge_surface",
           "probe_surface", "flat_body", "target_names", "FORMAT"]

FORMAT = 3  # 3: with form, hashable, frozen, typeddict (:mod:`gilgamesh.registry.surface.live`)

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


def function_form(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """How a call returns: ``function``, ``generator``, ``coroutine`` or ``async generator``
    (a ``yield`` of its own body, not of a nested function, class or lambda)."""
    todo, found = list(fn.body), False
    while todo and not found:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        found = isinstance(node, (ast.Yield, ast.YieldFrom))
        todo.extend(ast.iter_child_nodes(node))
    if isinstance(fn, ast.AsyncFunctionDef):
        return "async generator" if found else "coroutine"
    return "generator" if found else "function"


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
    for item in flat_body(node.body):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_public_member(item.name):
            if any(ast.unparse(d).endswith(".setter") or ast.unparse(d).endswith(".deleter") for d in item.decorator_list):
                continue  # part of the property defined above
            methods[item.name] = {"kind": _method_kind(item), **function_signature(item)}
            if methods[item.name]["kind"] != "property":
                methods[item.name]["form"] = function_form(item)
            if isinstance(item, ast.AsyncFunctionDef):
                methods[item.name]["async"] = True
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            fields.append({"name": item.target.id, "annotation": _text(item.annotation), "default": _text(item.value)})
            if not item.target.id.startswith("_"):
                attributes[item.target.id] = _text(item.value)
        elif isinstance(item, ast.Assign):
            for name in target_names(item.targets):
                if not name.startswith("_"):
                    attributes[name] = _text(item.value)[:200]
    is_dataclass = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
    entry = {"kind": "class", "cell": cell, "doc": ast.get_docstring(node) is not None, "methods": methods,
             "attributes": attributes}
    if is_dataclass:
        entry["frozen"] = any(isinstance(d, ast.Call) and "dataclass" in ast.unparse(d.func) and any(
            k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value is True for k in d.keywords)
            for d in node.decorator_list)
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


def flat_body(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements of a body with conditional blocks (if/try/with) opened: every branch may define."""
    out = []
    for node in body:
        if isinstance(node, ast.If):
            out += flat_body(node.body) + flat_body(node.orelse)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            out += flat_body(node.body)
            for handler in node.handlers:
                out += flat_body(handler.body)
            out += flat_body(node.orelse) + flat_body(node.finalbody)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            out += flat_body(node.body)
        else:
            out.append(node)
    return out


def target_names(targets: list[ast.expr]) -> list[str]:
    """The names an assignment binds (tuples and starred targets unpacked)."""
    names = []
    for t in targets:
        if isinstance(t, ast.Name):
            names.append(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            names += target_names(t.elts)
        elif isinstance(t, ast.Starred):
            names += target_names([t.value])
    return names


def api_snapshot(nb: ParsedNotebook, trees: list[tuple[int, ast.Module]] | None = None, *, everything: bool = False) -> dict:
    """The format-1 (static) snapshot of the notebook's import cells; ``everything``: private names too."""
    trees = parse_import_cells(nb) if trees is None else trees
    declared = _declared_all(trees)
    found: dict[str, dict] = {}
    for cell, tree in trees:
        for node in flat_body(tree.body):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = {
                    "kind": "function", "cell": cell, "doc": ast.get_docstring(node) is not None,
                    **function_signature(node), "form": function_form(node),
                }
                if isinstance(node, ast.AsyncFunctionDef):
                    found[node.name]["async"] = True
            elif isinstance(node, ast.ClassDef):
                found[node.name] = _class_entry(node, cell)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                aliased = node.value.id if isinstance(node.value, ast.Name) else None
                for name in target_names(targets):
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
    if everything:
        return found
    if declared is not None:
        return {n: found[n] for n in declared if n in found}
    return {n: e for n, e in found.items() if not n.startswith("_")}


# -- the runtime surface, completed by the static facts --------------------------------------------

def static_facts(nb: ParsedNotebook, trees: list[tuple[int, ast.Module]] | None = None) -> dict:
    """What the ``ast`` knows that the runtime does not: which cell binds each name, imports.

    ``{"bound": [names bound at top level by import cells, in order], "imported": [names bound
    by import statements], "cells": {name: cell}}``; the live probe takes it to choose the public
    names when the module has no ``__all__``.
    """
    trees = parse_import_cells(nb) if trees is None else trees
    bound: dict[str, int] = {}
    imported: set[str] = set()
    for cell, tree in trees:
        for node in flat_body(tree.body):
            names: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
                imported.discard(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = target_names(targets)
                imported.difference_update(names)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    name = (alias.asname or alias.name).split(".")[0]
                    names.append(name)
                    imported.add(name)
            for name in names:
                bound.setdefault(name, cell)
    return {"bound": list(bound), "imported": sorted(imported), "cells": bound}


def _same_params(a: list | None, b: list | None) -> bool:
    return a is not None and b is not None and [(p["name"], p["kind"]) for p in a] == [(p["name"], p["kind"]) for p in b]


def _written(live: dict, static: dict | None) -> dict:
    """A live signature with the annotations and defaults as written, where a ``def`` matches it."""
    if not static or not _same_params(live.get("params"), static.get("params")):
        return live
    params = [{**p, "annotation": q["annotation"] if q["annotation"] is not None else p["annotation"],
               "default": q["default"] if (q["default"] is None) == (p["default"] is None) else p["default"]}
              for p, q in zip(live["params"], static["params"])]
    returns = static.get("returns") if static.get("returns") is not None else live.get("returns")
    return {**live, "params": params, "returns": returns}


def merge_surface(nb: ParsedNotebook, live: dict, trees: list[tuple[int, ast.Module]] | None = None) -> dict:
    """The format-2 snapshot: the live description plus cells, docs and written annotations."""
    trees = parse_import_cells(nb) if trees is None else trees
    facts = static_facts(nb, trees)
    static = api_snapshot(nb, trees, everything=True)
    api = {}
    for name, entry in live["api"].items():
        entry = dict(entry)
        written = static.get(name)
        if written is not None and written.get("kind") == entry["kind"]:
            if entry["kind"] == "function":
                entry = _written(entry, written)
            elif entry["kind"] == "class":
                methods = dict(entry.get("methods", {}))
                for m, sig in methods.items():
                    methods[m] = _written(sig, written.get("methods", {}).get(m))
                entry["methods"] = methods
            entry["doc"] = bool(entry.get("doc")) or bool(written.get("doc"))
        cell = (written or {}).get("cell") or facts["cells"].get(name)
        if cell is not None:
            entry["cell"] = cell
        api[name] = entry
    return api


def probe_surface(nb: ParsedNotebook, root: str, timeout: float = 60.0) -> tuple[dict | None, str | None]:
    """Run the import cells in a sandboxed process and describe the module: ``(snapshot, error)``.

    For a working copy (``gilgamesh diff``), a publish without the validation kernel, and a
    predecessor published before format 2. ``gilgamesh.api`` imports resolve in the registry at
    ``root``. The error names the cell that raised; the snapshot is then None.
    """
    import json
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    from gilgamesh.errors import GilgameshError

    from gilgamesh.registry.sandbox.launch import Limits, sandboxed, use_sandbox
    from gilgamesh.registry.store.settings import default_settings, read_settings

    remote = "://" in root
    settings = default_settings() if remote else read_settings(root)
    try:
        sandbox = use_sandbox(settings)
    except GilgameshError as e:
        return None, str(e)

    trees = parse_import_cells(nb)
    job = {"cells": [[c.number, rewrite_at_spelling(c.source)] for c in nb.import_cells()], "facts": static_facts(nb, trees)}
    scratch = tempfile.mkdtemp(prefix="gilgamesh-surface-")
    try:
        for sub in ("tmp", "cache", "work"):
            os.makedirs(os.path.join(scratch, sub))
        job_file = os.path.join(scratch, "job.json")
        with open(job_file, "w", encoding="utf-8") as f:
            json.dump(job, f)
        env = {k: v for k, v in os.environ.items() if k != "GILGAMESH_TOKEN"}
        env.update({"GILGAMESH_REGISTRY": root if remote else os.path.abspath(root), "GILGAMESH_CACHE": os.path.join(scratch, "cache"),
                    "TMPDIR": os.path.join(scratch, "tmp"), "MPLBACKEND": "Agg",
                    "MPLCONFIGDIR": os.path.join(scratch, "tmp")})
        argv = [sys.executable, "-m", "gilgamesh.registry.surface.live", job_file]
        if sandbox:
            # Against a registry over HTTP the imports fetch their dependencies: the network stays
            # (this is the author's own working copy, run on the author's machine).
            argv = sandboxed(argv, registry_root=None if remote else os.path.abspath(root), scratch=scratch, env=env,
                             limits=Limits.from_settings(settings), cwd=os.path.join(scratch, "work"), network=remote)
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, cwd=os.path.join(scratch, "work"),
                                  env=env, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            return None, f"the import cells did not finish within {timeout:g} s"
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            return None, "the import cells could not run" + (": " + " / ".join(tail) if tail else "")
        if "error" in out:
            where = f" (cell {out['cell']})" if out.get("cell") else ""
            return None, f"the import cells raised {out['error']}{where}"
        return merge_surface(nb, out["surface"], trees), None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

"""The documentation of a notebook read statically (nothing is executed): what ``gilgamesh show``
and the service's pages show, as the one documentation model (:mod:`gilgamesh.documentation.model`),
from the notebook's static API snapshot (:mod:`gilgamesh.registry.surface.snapshot`).
"""

from __future__ import annotations

import inspect

from gilgamesh.documentation.model import DocModel, Member, format_params

__all__ = ["from_notebook"]


def from_notebook(data: bytes, name: str | None = None, version: str | None = None, summary: str | None = None,
                  references: dict | None = None, registry: str = "") -> DocModel:
    """The documentation of a notebook, read statically (no cell is executed)."""
    import ast

    from gilgamesh.notebook import parse_notebook
    from gilgamesh.registry.surface.snapshot import api_snapshot, parse_import_cells

    nb = parse_notebook(data)
    trees = parse_import_cells(nb)
    snapshot = api_snapshot(nb, trees)
    docstrings = {}
    for _, tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                docstrings[node.name] = ast.get_docstring(node)
    members = []
    for attr, entry in snapshot.items():
        if entry["kind"] == "function":
            signature = format_params(entry)
        elif entry["kind"] == "class":
            init = entry.get("methods", {}).get("__init__")
            signature = format_params({"params": init["params"][1:], "returns": None}) if init else "()"
        else:
            continue
        doc = docstrings.get(attr) or nb.markdown_above(entry["cell"], attr) or ""
        members.append(Member(attr, entry["kind"], signature, inspect.cleandoc(doc) if doc else ""))
    meta = nb.metadata
    return DocModel(
        name or meta.get("name", ""), version or meta.get("version", ""),
        summary if summary is not None else str(meta.get("summary", "")).strip(),
        nb.narrative(), members, references or {}, registry,
    )

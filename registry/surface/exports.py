"""Definitions that look public but are not exported: a top-level ``def`` or ``class`` whose name
does not start with ``_``, which the notebook's ``__all__`` leaves out.

Such a name is not part of the API (docs/guide.md, section 2: the public API is what ``__all__``
names), so a new function forgotten there is "no API change". The publish report, ``validate``
and ``gilgamesh diff`` name each one as a note, never as a problem: leaving a helper out may be
meant. Read from the import cells' ``ast`` and the version's surface (the names it exports,
however ``__all__`` is built); nothing runs here.
"""

from __future__ import annotations

import ast

from gilgamesh.registry.surface.snapshot import flat_body, target_names

__all__ = ["declares_all", "unexported_definitions", "export_notes"]


def declares_all(trees: list[tuple[int, ast.Module]]) -> bool:
    """Whether the import cells set ``__all__`` (assigned, extended or appended to, at top level)."""
    for _, tree in trees:
        for node in flat_body(tree.body):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if "__all__" in target_names(targets):
                    return True
            elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                  and isinstance(node.value.func, ast.Attribute) and isinstance(node.value.func.value, ast.Name)
                  and node.value.func.value.id == "__all__"):
                return True
    return False


def unexported_definitions(trees: list[tuple[int, ast.Module]], exported) -> list[tuple[str, str, int]]:
    """``(kind, name, cell)`` of each public-looking definition that ``__all__`` leaves out.

    ``exported``: the names the version exports (its surface's keys). A name bound again later
    by an import, an assignment or ``del`` is not a definition any more; none is reported when
    the notebook has no ``__all__`` (every public-looking name is then exported).
    """
    if not declares_all(trees):
        return []
    defined: dict[str, tuple[str, int]] = {}
    for cell, tree in trees:
        for node in flat_body(tree.body):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined[node.name] = ("class" if isinstance(node, ast.ClassDef) else "function", cell)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for name in target_names(node.targets if isinstance(node, ast.Assign) else [node.target]):
                    defined.pop(name, None)
            elif isinstance(node, ast.Delete):
                for name in target_names(node.targets):
                    defined.pop(name, None)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    defined.pop((alias.asname or alias.name).split(".")[0], None)
    exported = set(exported)
    return [(kind, name, cell) for name, (kind, cell) in defined.items()
            if not name.startswith("_") and name not in exported]


def export_notes(trees: list[tuple[int, ast.Module]], exported) -> list[str]:
    """The report's note for each definition of :func:`unexported_definitions`."""
    return [f"{kind} {name!r} (cell {cell}) is not exported: __all__ leaves it out, so it is not part of the API "
            f"(add it to __all__ to export it, or name it '_{name}' to mark it private)"
            for kind, name, cell in unexported_definitions(trees, exported)]

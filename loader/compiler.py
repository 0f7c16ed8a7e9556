"""Notebook bytes -> the compiled payload that the code cache stores and the loader runs.

Only the cold path comes here (a notebook not yet in the code cache). Each cell that runs on
import (every code cell not tagged ``example``) is rewritten from the ``@`` spelling and compiled
on its own, with a filename naming the API, the version and the cell, so that line numbers in
tracebacks are lines of the cell. ``from __future__`` imports carry over to later cells, as they
do in a Jupyter kernel.

The payload is a marshal-able dict, read by field name::

    {"name", "version", "sha256", "dependencies": {name: exact version}, "source_root",
     "summary", "narrative",
     "cells": ((cell number, filename, source, code), ...),
     "docs":  ((cell number, (names defined in the cell that the markdown above documents),
                markdown above the cell), ...)}

``source_root`` is the directory the cell files are written to (``""``: no files, the sources
are registered in ``linecache`` instead). ``dependencies`` are the versions recorded at publish:
every ``gilgamesh.api`` mention whose spec chooses a recorded version is rewritten to that exact
version (:func:`~gilgamesh.spelling.pin_api_references`), so a published version runs with what
it was validated with, transitively, whatever newer compatible versions exist.
"""

from __future__ import annotations

import __future__
import os
from types import CodeType

from gilgamesh.notebook import documents, parse_notebook
from gilgamesh.spelling import pin_api_references, rewrite_at_spelling

__all__ = ["compile_notebook", "dependency_pin", "cell_basename", "cell_filename", "source_files"]

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def cell_basename(name: str, version: str, number: int) -> str:
    """``langmuir@1.2.0 cell 7.py``: what a traceback shows for cell 7."""
    return f"{name}@{version} cell {number}.py"


def cell_filename(source_root: str, name: str, version: str, number: int) -> str:
    """The filename a cell is compiled with: its file in the cache, or a ``<...>`` name."""
    if source_root:
        return os.path.join(source_root, cell_basename(name, version, number))
    return f"<gilgamesh {name}@{version} cell {number}>"


def _defined_names(code: CodeType) -> set[str]:
    return {c.co_name for c in code.co_consts if isinstance(c, CodeType) and not c.co_name.startswith("<")}


def _undocumented_names(code: CodeType) -> tuple[str, ...]:
    """Functions and classes a cell defines at top level that may lack a docstring.

    Their code objects are the cell's constants. A class body that sets no ``__doc__`` has no
    docstring, whatever a decorator puts there later (``@dataclass`` writes the signature);
    functions are checked when the module has run (``__doc__ is None``).
    """
    names = []
    for c in code.co_consts:
        if isinstance(c, CodeType) and not c.co_name.startswith("<"):
            is_class_body = "__qualname__" in c.co_names and "__module__" in c.co_names
            if not (is_class_body and "__doc__" in c.co_names):
                names.append(c.co_name)
    return tuple(names)


def dependency_pin(dependencies: dict):
    """``pin(name, part)``: the exact module part of the recorded version a spec chooses, or None."""
    from gilgamesh.errors import GilgameshError
    from gilgamesh.versions import Version, spec_from_module_part

    def pin(name: str, part: str):
        recorded = dependencies.get(name)
        if not isinstance(recorded, str):
            return None
        try:
            spec, version = spec_from_module_part(part), Version(recorded)
        except GilgameshError:
            return None
        if spec.exact is not None:
            chosen = spec.exact == version
        else:
            chosen = not version.is_prerelease and version.release[:len(spec.parts)] == spec.parts
        return "v" + recorded.replace(".", "_") if chosen else None

    return pin


def compile_notebook(data: bytes, name: str, version: str, sha256: str, source_root: str,
                     dependencies: dict | None = None) -> dict:
    """Compile the import cells of a notebook; see the module docstring for the payload."""
    nb = parse_notebook(data)
    dependencies = dict(dependencies or {})
    pin = dependency_pin(dependencies)
    flags = 0
    cells = []
    docs = []
    for cell in nb.import_cells():
        source = rewrite_at_spelling(cell.source)
        if dependencies:
            source = pin_api_references(source, pin)
        filename = cell_filename(source_root, name, version, cell.number)
        code = compile(source, filename, "exec", flags, dont_inherit=True)
        flags |= code.co_flags & _FUTURE_FLAGS
        cells.append((cell.number, filename, source, code))
        above = nb.markdown_above(cell.number)
        if above:
            # Only the names that cell documents (it names them, or it is not a section heading).
            names = tuple(n for n in _undocumented_names(code) if documents(above, n))
            if names:
                docs.append((cell.number, names, above))
    # A name a later cell defines again is documented there, not here.
    for i, (number, names, markdown) in enumerate(docs):
        later = {n for c in cells if c[0] > number for n in _defined_names(c[3])}
        docs[i] = (number, tuple(n for n in names if n not in later), markdown)
    docs = [d for d in docs if d[1]]
    summary = nb.metadata.get("summary") if isinstance(nb.metadata.get("summary"), str) else ""
    return {
        "name": name, "version": version, "sha256": sha256, "dependencies": dependencies,
        "source_root": source_root, "summary": summary.strip(), "narrative": nb.narrative(),
        "cells": tuple(cells), "docs": tuple(docs),
    }


def source_files(payload: dict) -> list[tuple[str, str]]:
    """``(basename, source)`` of each compiled cell: the files tracebacks read."""
    name, version = payload["name"], payload["version"]
    return [(cell_basename(name, version, number), source) for number, _, source, _ in payload["cells"]]

"""Reading an API notebook's cells without nbformat (which is slow to import; docs/architecture.md, The lean import path).

Cells are numbered from 1 in notebook order, markdown cells included: that is the number every
message (publish report, traceback, validation mismatch) uses.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from gilgamesh.errors import PublishRefused, Problem

__all__ = ["Cell", "ParsedNotebook", "parse_notebook", "EXAMPLE_TAG"]

EXAMPLE_TAG = "example"


class Cell(NamedTuple):
    number: int  # 1-based position in the notebook
    kind: str  # "code", "markdown" or "raw"
    source: str
    tags: tuple[str, ...]

    @property
    def runs_on_import(self) -> bool:
        return self.kind == "code" and EXAMPLE_TAG not in self.tags


class ParsedNotebook(NamedTuple):
    raw: dict
    metadata: dict  # metadata.gilgamesh
    cells: list[Cell]

    def import_cells(self) -> list[Cell]:
        """The code cells that run when the notebook is imported (``example`` cells do not)."""
        return [c for c in self.cells if c.runs_on_import]

    def markdown_above(self, cell_number: int) -> str | None:
        """The markdown cell directly above ``cell_number``, if that is what stands there."""
        i = cell_number - 2
        if i >= 0 and self.cells[i].kind == "markdown" and self.cells[i].source.strip():
            return self.cells[i].source.strip()
        return None

    def narrative(self) -> str:
        """The markdown cells joined: the module's ``__doc__``."""
        return "\n\n".join(c.source.strip() for c in self.cells if c.kind == "markdown" and c.source.strip())


def _source(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def parse_notebook(data: bytes | str) -> ParsedNotebook:
    """Parse notebook bytes; raise :class:`PublishRefused` naming what is unreadable.

    This is the lenient parse used on import and as the first step of publishing; the publish
    pipeline checks the nbformat schema separately.
    """
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        raw = json.loads(data)
    except UnicodeDecodeError as e:
        raise PublishRefused("the notebook is not UTF-8", details=[Problem("structure", f"not UTF-8: {e}")])
    except json.JSONDecodeError as e:
        raise PublishRefused(
            "the notebook is not valid JSON",
            details=[Problem("structure", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")],
        )
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise PublishRefused(
            "the file is not a Jupyter notebook",
            details=[Problem("structure", "not a Jupyter notebook: expected a JSON object with a 'cells' list")],
        )
    metadata = raw.get("metadata")
    meta = metadata.get("gilgamesh") if isinstance(metadata, dict) else None
    cells = []
    for i, cell in enumerate(raw["cells"], start=1):
        if not isinstance(cell, dict):
            cells.append(Cell(i, "invalid", "", ()))
            continue
        cell_meta = cell.get("metadata")
        tags = cell_meta.get("tags", ()) if isinstance(cell_meta, dict) else ()
        tags = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
        cells.append(Cell(i, str(cell.get("cell_type", "invalid")), _source(cell.get("source", "")), tags))
    return ParsedNotebook(raw, meta if isinstance(meta, dict) else {}, cells)

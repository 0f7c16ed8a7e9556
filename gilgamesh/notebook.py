"""Reading an API notebook's cells without nbformat (which is slow to import; docs/architecture.md, The lean import path).

Cells are numbered from 1 in notebook order, markdown cells included: that is the number every
message (publish report, traceback, validation mismatch) uses.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from gilgamesh.errors import PublishRefused, Problem

__all__ = ["Cell", "ParsedNotebook", "parse_notebook", "documents", "mentions", "section_heading", "EXAMPLE_TAG"]

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

    def markdown_above(self, cell_number: int, name: str | None = None) -> str | None:
        """The markdown cell directly above ``cell_number``, if that is what stands there; with
        ``name``, only if that cell documents the definition ``name`` (:func:`documents`)."""
        i = cell_number - 2
        if i >= 0 and self.cells[i].kind == "markdown" and self.cells[i].source.strip():
            text = self.cells[i].source.strip()
            return text if name is None or documents(text, name) else None
        return None

    def narrative(self) -> str:
        """The markdown cells joined: the module's ``__doc__``."""
        return "\n\n".join(c.source.strip() for c in self.cells if c.kind == "markdown" and c.source.strip())


# -- which markdown cell documents a definition (docs/guide.md, section 2: Cells) ---------------------
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?[ \t]*#*[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?=\S)(.+?)(?<=\S)\1[ \t]*:?[ \t]*$")


def section_heading(markdown: str) -> str | None:
    """The heading a markdown cell starts with (``## References`` -> ``References``), else None.

    A heading is an ATX heading (``#`` to ``######``), a setext one (a line underlined with
    ``===`` or ``---``), or a line that is all bold (``**References**``, as headings are often
    written), on the cell's first non-blank line.
    """
    lines = markdown.strip().splitlines()
    if not lines:
        return None
    m = _ATX_HEADING.match(lines[0])
    if m:
        return (m.group(1) or "").strip()
    if len(lines) > 1 and lines[0].strip() and _SETEXT_UNDERLINE.match(lines[1]):
        return lines[0].strip()
    m = _BOLD_LINE.match(lines[0])
    return m.group(2).strip() if m else None


def mentions(markdown: str, name: str) -> bool:
    """Whether ``markdown`` names the definition ``name``: the name as a word, in any case, with
    ``_`` (and a CamelCase boundary) read as a space or a hyphen too. ``thermal_speed`` is named
    by ``## Thermal speed`` and by ``thermal_speed()`` in backticks; ``ProbeResult`` by "probe result"."""
    words = [w for part in name.split("_") for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[^\W_]+", part)]
    if not words:
        return False
    pattern = r"(?<!\w)" + r"[\s_\-]*".join(re.escape(w) for w in words) + r"(?!\w)"
    return re.search(pattern, markdown, re.IGNORECASE) is not None


def documents(markdown: str, name: str) -> bool:
    """Whether a markdown cell standing directly above the cell that defines ``name`` is that
    definition's documentation: it names it (:func:`mentions`), or it does not start with a heading.

    A cell that starts with a heading and does not name the definition is a section of the
    notebook (``# Title``, ``## References``, ``## Changelog``, ``## Examples``), never a function's
    documentation. The publish check (docs/guide.md, section 4, check 4), the loader's ``__doc__``,
    ``gilgamesh show``, the docs pages and the OpenAPI document all take this one rule.
    """
    return section_heading(markdown) is None or mentions(markdown, name)


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

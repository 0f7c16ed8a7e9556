"""Rendering a version's documentation (a :class:`~gilgamesh.documentation.model.DocModel`):
markdown for Jupyter, text for the terminal (``gilgamesh show``, ``print(gilgamesh.docs(...))``).

Docstrings are parsed into one structure (:mod:`gilgamesh.documentation.docstrings`) and rendered
from it: parameters as a list with their types, units and descriptions, never numpydoc's
underlined section titles as headings. Citations are links in markdown and labels in text
(:mod:`gilgamesh.documentation.citations`), with the references listed below.
"""

from __future__ import annotations

import shutil

from gilgamesh.documentation import citations, docstrings
from gilgamesh.documentation.model import DocModel
from gilgamesh.documentation.plaintext import markdown_to_text

__all__ = ["Documentation", "to_markdown", "to_terminal"]


# -- markdown (Jupyter) -----------------------------------------------------------------------
def to_markdown(model: DocModel) -> str:
    """The narrative and the API as markdown; Jupyter renders the LaTeX."""
    head = f"**{model.name} {model.version}**"
    if model.summary:
        head += f" — {model.summary}"
    parts = [head, _cited_markdown(model)]
    if model.members:
        api = ["---", "#### API"]
        for m in model.members:
            prefix = "class " if m.kind == "class" else ""
            api.append(f"```python\n{prefix}{m.name}{m.signature}\n```")
            doc = docstrings.to_markdown(docstrings.parse_docstring(m.doc))
            if doc:
                api.append(doc)
        parts.append("\n\n".join(api))
    if model.references:
        parts.append(_references_markdown(model))
    return "\n\n".join(p for p in parts if p) + "\n"


def _citation_href(model: DocModel):
    """A citation's link: its entry's DOI or URL, else the entry on the registry's bibliography page."""
    from urllib.parse import quote

    served = model.registry.rstrip("/") if model.registry.startswith(("http://", "https://")) else ""

    def href(key: str, entry: dict) -> str | None:
        return entry.get("url") or (f"{served}/bibliography#{quote(key, safe='')}" if served else None)

    return href


def _cited_markdown(model: DocModel) -> str:
    narrative = model.narrative.strip()
    if "\\cite" not in narrative:
        return narrative
    return citations.link_citations(narrative, model.references, _citation_href(model))


def _references_markdown(model: DocModel) -> str:
    href = _citation_href(model)
    lines = ["---", "**References**", ""]
    for key, entry in model.references.items():
        target = href(key, entry)
        label = entry.get("label") or key
        lines.append(f"- **{label}**: {entry.get('text') or ''}" + (f" <{target}>" if target else ""))
    return "\n".join(lines)


# -- text (terminal) --------------------------------------------------------------------------
def to_terminal(model: DocModel, width: int | None = None, compact: bool = False) -> str:
    """The documentation as terminal text: a title line, the narrative, then the API.

    ``compact``: without the title (the caller has its own), and every section title ending in a
    colon rather than underlined, as IPython's inspector shows a module (``waves?``).
    """
    if width is None:
        width = max(40, min(100, shutil.get_terminal_size((88, 24)).columns))
    title = f"{model.name} {model.version}" + (f" — {model.summary}" if model.summary else "")
    out = [] if compact else [title, "━" * min(len(title), width), ""]
    if model.narrative.strip():
        out += [markdown_to_text(citations.text_citations(model.narrative, model.references), width), ""]
    if model.members:
        out += ["API:", ""] if compact else ["API", "---", ""]
        for m in model.members:
            prefix = "class " if m.kind == "class" else ""
            out.append(f"{prefix}{m.name}{m.signature}")
            body = docstrings.to_text(docstrings.parse_docstring(m.doc), width - 4, underline=not compact)
            out += ["    " + line if line else "" for line in body.splitlines()]
            out.append("")
    if model.references:
        out += ["References:", ""] if compact else ["References", "---", ""]
        for key, entry in model.references.items():
            line = f"{entry.get('label') or key}: {entry.get('text') or ''}" + (f" {entry['url']}" if entry.get("url") else "")
            out += [markdown_to_text(line, width), ""]
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


# -- entry points -----------------------------------------------------------------------------
class Documentation:
    """``gilgamesh.docs(...)``: rendered as markdown in Jupyter, as text when printed."""

    def __init__(self, model: DocModel):
        self.model = model

    def _repr_markdown_(self) -> str:
        return to_markdown(self.model)

    def __str__(self) -> str:
        return to_terminal(self.model)

    def __repr__(self) -> str:
        return f"<Documentation of {self.model.name}@{self.model.version}: print() it, or display it in Jupyter>"

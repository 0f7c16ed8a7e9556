"""The documentation of an API version as data: its narrative and its public functions and classes.

A :class:`DocModel` is what every renderer shows (Jupyter, the terminal, the service's pages):
the narrative (the notebook's markdown cells, equations left as LaTeX) and each public member
with its signature and its docstring as written (:mod:`gilgamesh.documentation.docstrings` reads that).
:func:`gilgamesh.registry.surface.static_docs.from_notebook` builds it statically from the
notebook's bytes, running nothing (``gilgamesh show``, the docs pages);
:func:`gilgamesh.loader.docs.from_module` builds it from an imported module. Public means ``__all__`` when the notebook defines it, else not starting with ``_``, as in
the API snapshot; a function without a docstring takes the markdown cell above its cell.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DocModel", "Member", "format_params"]


class Member(NamedTuple):
    name: str
    kind: str  # "function" or "class"
    signature: str  # "(V: list[float], area: float = 1e-06) -> dict[str, float]"
    doc: str


class DocModel(NamedTuple):
    name: str
    version: str
    summary: str
    narrative: str
    members: list[Member]
    references: dict = {}  # the cited bibliography entries, as published (gilgamesh/documentation/citations.py)
    registry: str = ""  # where it was published: an http(s) URL links citations to its bibliography

    @property
    def title(self) -> str:
        return f"{self.name} {self.version}"


def format_params(entry: dict) -> str:
    """An API-snapshot signature (registry/surface/snapshot.py) in ``inspect.Signature`` style.

    The one formatter of snapshot signatures: the docs (``show``, the docs pages) and the web UI's
    endpoint headings (an index entry's ``endpoints`` are snapshot signatures) print it, with the
    ``*`` and ``/`` markers of keyword-only and positional-only parameters.
    """
    params = list(entry.get("params") or [])
    out = []
    star_done = False
    for i, p in enumerate(params):
        kind = p.get("kind")
        if kind == "keyword_only" and not star_done:
            out.append("*")
            star_done = True
        text = p["name"]
        if kind == "var_positional":
            text, star_done = "*" + text, True
        elif kind == "var_keyword":
            text = "**" + text
        if p.get("annotation"):
            text += f": {p['annotation']}"
        if p.get("default") is not None:
            text += f" = {p['default']}" if p.get("annotation") else f"={p['default']}"
        out.append(text)
        if kind == "positional_only" and (i + 1 == len(params) or params[i + 1].get("kind") != "positional_only"):
            out.append("/")
    sig = f"({', '.join(out)})"
    if entry.get("returns"):
        sig += f" -> {entry['returns']}"
    return sig

"""Citations in an API notebook's markdown: ``\\cite{key}``, ``\\citep{a,b}`` (and ``\\citet``).

The registry resolves the keys a version cites against its bibliography when the version is
published (registry/store/bibliography.py) and stores what it found with the version as
``references``: ``{key: {"label", "text", "url"}}`` in the order of first citation. Every renderer
reads that one record: the docs pages and Jupyter turn each citation into a link to its entry
and list the references below the narrative; the terminal shows the labels as text.

Plain Python only (no BibTeX parser here): Jupyter's display of a module uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["CITATION", "cited_keys", "replace_citations", "link_citations", "text_citations", "references_text"]

# natbib's spellings: \cite and \citet are textual ("Chen 2016"), \citep parenthetical ("(Chen 2016)").
CITATION = re.compile(r"\\(cite|citet|citep)\*?(?:\[[^\]]*\])?\{([^{}]*)\}")
# Code is not prose: a citation inside a fenced block or an inline code span stays as written.
_CODE = re.compile(r"(^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\2[^\n]*$|`+[^`\n]*`+)", re.S | re.M)


def _keys(group: str) -> list[str]:
    return [k.strip() for k in group.split(",") if k.strip()]


def _outside_code(markdown: str, function: Callable[[str], str]) -> str:
    out, last = [], 0
    for code in _CODE.finditer(markdown):
        out.append(function(markdown[last:code.start()]))
        out.append(code.group(0))
        last = code.end()
    out.append(function(markdown[last:]))
    return "".join(out)


def cited_keys(markdown: str) -> list[str]:
    """Every key cited in ``markdown`` (outside code), each once, in order of first citation."""
    found: dict[str, None] = {}

    def collect(text: str) -> str:
        for match in CITATION.finditer(text):
            for key in _keys(match.group(2)):
                found.setdefault(key, None)
        return text

    _outside_code(markdown, collect)
    return list(found)


def replace_citations(markdown: str, one: Callable[[str], str], sep: str = "; ") -> str:
    """``markdown`` with each citation replaced: ``one(key)`` per key, parenthesised for ``\\citep``."""

    def citation(match: re.Match) -> str:
        keys = _keys(match.group(2))
        if not keys:
            return match.group(0)
        inner = sep.join(one(k) for k in keys)
        return f"({inner})" if match.group(1) == "citep" else inner

    return _outside_code(markdown, lambda text: CITATION.sub(citation, text))


def _escape_label(label: str) -> str:
    return re.sub(r"([\[\]\\*_`])", r"\\\1", label)


def link_citations(markdown: str, references: dict, href: Callable[[str, dict], str | None]) -> str:
    """Citations as markdown links ``[Chen 2016](href)``; a key without an entry shows as ``[?key]``."""

    def one(key: str) -> str:
        entry = references.get(key)
        if entry is None:
            return f"[?{_escape_label(key)}]"
        target = href(key, entry)
        label = _escape_label(entry.get("label") or key)
        return f"[{label}]({target})" if target else label

    return replace_citations(markdown, one)


def text_citations(markdown: str, references: dict) -> str:
    """Citations as plain text labels (the terminal, ``help()``)."""
    return replace_citations(markdown, lambda k: (references.get(k) or {}).get("label") or f"?{k}")


def references_text(references: dict, markdown: str) -> str:
    """The references ``markdown`` cites, as a plain-text list under a ``References`` heading
    (``""`` when it cites none that the references hold)."""
    cited = [k for k in cited_keys(markdown) if k in references]
    if not cited:
        return ""
    lines = ["", "", "References", "----------"]
    for key in cited:
        entry = references[key]
        url = entry.get("url")
        lines.append(f"{entry.get('label') or key}: {entry.get('text') or ''}" + (f" {url}" if url else ""))
    return "\n".join(lines) + "\n"

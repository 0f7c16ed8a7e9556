"""The two spellings of a versioned import and the rewrite from one to the other.

``gilgamesh.api.langmuir@1.2`` (notebooks) becomes ``gilgamesh.api.langmuir.v1_2`` (Python).
The rewrite touches code only: an ``@`` inside a string or a comment is left alone. It is shared
by the IPython extension, the loader (API notebooks may use the ``@`` spelling) and the registry
(which reads dependencies out of the rewritten code).
"""

from __future__ import annotations

import io
import re
import tokenize

__all__ = ["rewrite_at_spelling", "find_api_references", "find_bad_specs", "bad_spec_message", "pin_api_references", "ApiReference"]

_NUM = r"(?:0|[1-9][0-9]*)"
_AT_RE = re.compile(
    rf"\bgilgamesh\.api\.([a-z][a-z0-9_]*)@({_NUM}(?:\.{_NUM}(?:\.{_NUM}(?:(?:a|b|rc){_NUM})?)?)?)(?![\w])"
)
# After the rewrite: every mention of an API module in code, pinned or not.
_REF_RE = re.compile(r"\bgilgamesh\.api\.([A-Za-z_][A-Za-z0-9_]*)(?:\.(v[0-9][0-9a-z_]*))?")
# Token types whose text is not code; f-string parts are their own tokens from Python 3.12 on.
_PROTECTED = {tokenize.STRING, tokenize.COMMENT} | {
    getattr(tokenize, t) for t in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, t)
}
# Any ``gilgamesh.api.NAME@...``: what follows the ``@`` up to a space, comma or bracket.
_ANY_AT_RE = re.compile(r"\bgilgamesh\.api\.([a-z][a-z0-9_]*)@([^\s,()\[\]]*)")
_FROM_API_RE = re.compile(r"^\s*from\s+gilgamesh\.api\s+import\s+(.+)$", re.M)


def _protected_spans(source: str) -> list[tuple[int, int]] | None:
    """Character spans of strings and comments, or None if the source does not tokenize."""
    line_starts = [0]
    for line in source.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    spans = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in _PROTECTED:
                (sr, sc), (er, ec) = tok.start, tok.end
                spans.append((line_starts[sr - 1] + sc, line_starts[er - 1] + ec))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return spans


def _outside(spans: list[tuple[int, int]] | None, pos: int) -> bool:
    return spans is None or not any(a <= pos < b for a, b in spans)


def rewrite_at_spelling(source: str) -> str:
    """Rewrite every ``gilgamesh.api.NAME@SPEC`` in code to ``gilgamesh.api.NAME.vSPEC``."""
    if "@" not in source or "gilgamesh.api." not in source:
        return source
    spans = _protected_spans(source)

    def replace(m: re.Match) -> str:
        if not _outside(spans, m.start()):
            return m.group(0)
        return f"gilgamesh.api.{m.group(1)}.v{m.group(2).replace('.', '_')}"

    return _AT_RE.sub(replace, source)


def find_bad_specs(source: str) -> list[tuple[str, str]]:
    """``(name, text after @)`` of every ``gilgamesh.api.NAME@X`` in code whose X is not a spec."""
    if "@" not in source or "gilgamesh.api." not in source:
        return []
    spans = _protected_spans(source)
    bad = []
    for m in _ANY_AT_RE.finditer(source):
        if _outside(spans, m.start()) and not _AT_RE.match(source, m.start()):
            bad.append((m.group(1), m.group(2)))
    return bad


def bad_spec_message(name: str, spec: str) -> str:
    """What is wrong with ``gilgamesh.api.NAME@SPEC`` and how a spec is written."""
    shown = f"{spec!r} is not a version spec" if spec else "the '@' is not followed by a version spec"
    return (f"gilgamesh.api.{name}@{spec}: {shown}; write MAJOR, MAJOR.MINOR or an exact version, "
            f"e.g. gilgamesh.api.{name}@1.2 or gilgamesh.api.{name}@1.2.0")


class ApiReference(tuple):
    """``(name, version_part or None, offset)`` of one ``gilgamesh.api`` mention in code."""

    __slots__ = ()

    def __new__(cls, name: str, part: str | None, offset: int):
        return tuple.__new__(cls, (name, part, offset))

    name = property(lambda self: self[0])
    part = property(lambda self: self[1])
    offset = property(lambda self: self[2])


def find_api_references(source: str) -> list[ApiReference]:
    """Every ``gilgamesh.api.NAME[.vX_Y]`` in code (strings and comments excluded).

    ``from gilgamesh.api import NAME`` counts as a bare (unpinned) reference to NAME.
    Call it on rewritten source.
    """
    if "gilgamesh" not in source:
        return []
    spans = _protected_spans(source)
    refs = [
        ApiReference(m.group(1), m.group(2), m.start())
        for m in _REF_RE.finditer(source)
        if _outside(spans, m.start())
    ]
    for m in _FROM_API_RE.finditer(source):
        if _outside(spans, m.start(1)):
            names = m.group(1).strip().strip("()")
            for item in names.split(","):
                name = item.strip().split(" as ")[0].strip()
                if name:
                    refs.append(ApiReference(name, None, m.start(1)))
    return refs


def pin_api_references(source: str, pin) -> str:
    """Rewrite each ``gilgamesh.api.NAME.vSPEC`` in code to the exact module part ``pin`` names.

    ``pin(name, part)`` returns the exact part (``"v1_0_0"``) or None to leave the mention alone.
    Imports, ``from`` imports and attribute chains are all mentions, so what a published version
    reaches through any of them is the version recorded at its publish. Call it on rewritten source.
    """
    if "gilgamesh.api." not in source:
        return source
    spans = _protected_spans(source)

    def replace(m: re.Match) -> str:
        if m.group(2) is None or not _outside(spans, m.start()):
            return m.group(0)
        exact = pin(m.group(1), m.group(2))
        return m.group(0) if exact is None else f"gilgamesh.api.{m.group(1)}.{exact}"

    return _REF_RE.sub(replace, source)

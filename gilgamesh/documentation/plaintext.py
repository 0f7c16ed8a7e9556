"""Markdown as readable terminal text (``gilgamesh show``, docstrings in the terminal).

Headings underlined, paragraphs and lists wrapped, code and display equations kept verbatim
(indented), inline LaTeX and code spans left as written and never split across lines.
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["markdown_to_text"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_PROTECT = re.compile(r"(\$\$.+?\$\$|\$[^$\n]+\$|`[^`\n]+`)")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_NBSP = "\x00"


def _inline(text: str) -> str:
    """Inline markdown as plain text; math and code spans stay as written and are never split."""
    pieces = _PROTECT.split(text)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:  # a protected span: keep it whole when wrapping
            out.append(piece.replace(" ", _NBSP))
        else:
            piece = _LINK.sub(lambda m: (f"[image: {m.group(1)}]" if m.group(0).startswith("!")
                                        else f"{m.group(1)} <{m.group(2)}>"), piece)
            out.append(_STRONG.sub(r"\2", piece))
    return "".join(out)


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    lines = textwrap.wrap(_inline(text), width=width, initial_indent=first, subsequent_indent=rest,
                          break_long_words=False, break_on_hyphens=False) or [first.rstrip()]
    return [line.replace(_NBSP, " ") for line in lines]


def markdown_to_text(markdown: str, width: int = 88) -> str:
    """Markdown as readable terminal text: underlined headings, wrapped paragraphs and lists,
    code and display equations kept verbatim (indented), inline LaTeX left as written."""
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.extend(_wrap(" ".join(" ".join(paragraph).split()), width))
            out.append("")
            paragraph.clear()

    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _FENCE.match(line):  # fenced code: verbatim
            flush()
            fence = stripped[:3]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                out.append("    " + lines[i])
                i += 1
            out.append("")
        elif stripped.startswith(("$$", "\\begin{")):  # display math: verbatim, on its own lines
            flush()
            end = "$$" if stripped.startswith("$$") else "\\end{"
            block = [stripped]
            closed = (len(stripped) >= 4 and stripped.endswith("$$")) if end == "$$" else end in stripped
            while not closed and i + 1 < len(lines):
                i += 1
                block.append(lines[i].strip())
                closed = block[-1].endswith("$$") if end == "$$" else end in block[-1]
            out.extend("    " + b for b in block)
            out.append("")
        elif (m := _HEADING.match(line)):
            flush()
            title = _inline(m.group(2)).replace(_NBSP, " ")
            level = len(m.group(1))
            out.append(title.upper() if level == 1 else title)
            out.append(("=" if level == 1 else "-" if level == 2 else "~") * min(len(title), width))
            out.append("")
        elif (m := _LIST_ITEM.match(line)):
            flush()
            indent, bullet, text = m.group(1), m.group(2), m.group(3)
            while i + 1 < len(lines) and lines[i + 1].strip() and not _LIST_ITEM.match(lines[i + 1]) \
                    and lines[i + 1].startswith(" "):
                i += 1
                text += " " + lines[i].strip()
            lead = "  " + indent + ("•" if bullet in "-*+" else bullet) + " "
            out.extend(_wrap(text, width, lead, " " * len(lead)))
            if i + 1 >= len(lines) or not _LIST_ITEM.match(lines[i + 1]):
                out.append("")
        elif stripped.startswith(">"):
            flush()
            out.extend(_wrap(stripped.lstrip("> "), width, "  | ", "  | "))
        elif stripped.startswith("|"):  # a table: as written
            flush()
            out.append("  " + stripped)
        elif not stripped:
            flush()
        elif line.startswith("    "):  # indented code
            flush()
            out.append(line)
        else:
            paragraph.append(line)
        i += 1
    flush()
    while out and not out[-1]:
        out.pop()
    collapsed: list[str] = []
    for line in out:
        if line or (collapsed and collapsed[-1]):
            collapsed.append(line)
    return "\n".join(collapsed)

"""Docstrings as one structure, rendered as markdown (Jupyter, OpenAPI) and as terminal text.

An API function's docstring is written in numpydoc, Google or reStructuredText field style, or
is the markdown cell above it (docs/guide.md, section 2). :func:`parse_docstring` reads any of them with
``docstring_parser`` (imported here on first use, never on the import path of ``gilgamesh.api``)
into a :class:`Docstring`: summary, description, parameters (type, unit, description), returns,
raises, notes, references and examples. Every text field is markdown with LaTeX left for the
renderer: reStructuredText inline markup (````x````, ``:math:`x```, ``:func:`f```, ``.. math::``)
is translated once, here, so no renderer shows it raw.

A unit written in square brackets in a parameter's or a return's description
(``Electron temperature [eV].``) is taken out into ``unit``: that is the lab's convention.
The HTML renderer is the service's (it needs a markdown engine and the sanitizer).
"""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import NamedTuple

__all__ = [
    "Parameter",
    "Returned",
    "Raised",
    "Docstring",
    "parse_docstring",
    "to_markdown",
    "to_text",
    "rst_to_markdown",
    "parameter_descriptions",
]


class Parameter(NamedTuple):
    name: str
    type: str  # as the docstring writes it ("float", "list of float"); "" when it says none
    unit: str  # "eV", from "[eV]" in the description; "" when none is given
    description: str  # markdown
    optional: bool
    default: str  # as written in the docstring; "" when it gives none


class Returned(NamedTuple):
    name: str  # numpydoc may name a return value; "" otherwise
    type: str
    unit: str  # the whole value's, when the description gives one unit
    description: str
    # A description of several fields, each with its unit ("``T_e`` [eV]; ``V_f`` and ``V_p``
    # [V]"): (field, unit) pairs, and the units stay in the description where they were written.
    field_units: tuple[tuple[str, str], ...] = ()


class Raised(NamedTuple):
    type: str  # "ValueError"
    description: str


class Docstring(NamedTuple):
    summary: str  # one line
    description: str  # markdown paragraphs after the summary
    parameters: tuple[Parameter, ...] = ()
    returns: tuple[Returned, ...] = ()
    raises: tuple[Raised, ...] = ()
    notes: str = ""
    references: str = ""
    examples: str = ""  # markdown: prose and ```python fences (doctest lines kept as written)

    @property
    def is_empty(self) -> bool:
        return not any(self)


EMPTY = Docstring("", "")


# -- parsing --------------------------------------------------------------------------------
def parse_docstring(text: str | None) -> Docstring:
    """The structure of a docstring (numpydoc, Google, reST fields, or plain markdown)."""
    text = inspect.cleandoc(text) if isinstance(text, str) else ""
    if not text.strip():
        return EMPTY
    import docstring_parser

    try:
        parsed = docstring_parser.parse(text)
    except docstring_parser.ParseError:
        parsed = None
    if parsed is None or not parsed.meta:
        return _prose(text)
    parameters, returns, raises, sections = [], [], [], {"notes": [], "references": [], "examples": []}
    for meta in parsed.meta:
        kind = meta.args[0] if meta.args else ""
        if isinstance(meta, docstring_parser.DocstringParam) and kind in ("param", "parameter", "arg", "argument",
                                                                          "key", "keyword", "other_param"):
            description, unit = _take_unit(rst_to_markdown(meta.description or ""))
            optional = bool(meta.is_optional) or (meta.type_name or "").rstrip().endswith("optional")
            parameters.append(Parameter(meta.arg_name, _clean_type(meta.type_name), unit, description,
                                        optional, meta.default or ""))
        elif isinstance(meta, docstring_parser.DocstringReturns):
            description, unit = _take_unit(rst_to_markdown(meta.description or ""))
            returns.append(Returned(meta.return_name or "", _clean_type(meta.type_name), unit, description,
                                    _field_units(description) if not unit else ()))
        elif isinstance(meta, docstring_parser.DocstringRaises):
            raises.append(Raised(meta.type_name or "", rst_to_markdown(meta.description or "")))
        elif kind in ("examples", "example"):
            sections["examples"].append(_example(meta))
        elif kind in sections:
            sections[kind].append(rst_to_markdown(meta.description or ""))
        elif kind in ("note",):
            sections["notes"].append(rst_to_markdown(meta.description or ""))
        elif kind in ("reference",):
            sections["references"].append(rst_to_markdown(meta.description or ""))
    summary = " ".join((parsed.short_description or "").split())
    return Docstring(
        rst_to_markdown(summary), rst_to_markdown(parsed.long_description or ""),
        tuple(parameters), tuple(returns), tuple(raises),
        "\n\n".join(s for s in sections["notes"] if s), _references("\n\n".join(sections["references"])),
        "\n\n".join(s for s in sections["examples"] if s),
    )


def _prose(text: str) -> Docstring:
    """A docstring without sections (often the markdown cell above the function)."""
    text = rst_to_markdown(text)
    head, _, rest = text.partition("\n\n")
    heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", head)
    if heading and "\n" not in head:
        return Docstring(heading.group(1), rest.strip())
    if "\n" in head.strip() or head.lstrip().startswith(("$$", "```", "-", "*", "|", ">")):
        return Docstring("", text.strip())  # no one-line summary to take
    return Docstring(head.strip(), rest.strip())


def _clean_type(text: str | None) -> str:
    return " ".join((text or "").split()).removesuffix(", optional").strip()


# "[eV]", "[m^-3]", "[rad/s]": a unit in brackets, not a markdown link "[text](url)", not "[1]"
# (a numbered reference), not an index "x[0]".
_UNIT = re.compile(r"(?:(?<=\s)|^)\[([^\[\]()\n]{1,24})\](?!\()")


def _units(description: str) -> list[re.Match]:
    return [m for m in _UNIT.finditer(description) if m.group(1).strip() and not m.group(1).strip().isdigit()]


def _take_unit(description: str) -> tuple[str, str]:
    """The description without its unit, and the unit; a description with several units (each
    of its own field) keeps them where they are, and gives none."""
    units = _units(description)
    if len(units) != 1:
        return description, ""
    m = units[0]
    rest = (description[:m.start()] + description[m.end():]).strip()
    rest = re.sub(r"\s+([.,;:)])", r"\1", re.sub(r"[ \t]{2,}", " ", rest))
    return rest, m.group(1).strip()


# A field as a description names it: `T_e` (markdown code), the name alone.
_FIELD = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def _field_units(description: str) -> tuple[tuple[str, str], ...]:
    """``(field, unit)`` for each field named before a unit in its clause: "`T_e` [eV]; `V_f` and
    `V_p` [V]" gives T_e eV, V_f V, V_p V. A clause ends at a semicolon, or at a unit."""
    units = {m.start(): m for m in _units(description)}
    pairs, named = [], []
    for token in re.finditer(r";|" + _FIELD.pattern + "|" + _UNIT.pattern, description):
        if token.start() in units:
            unit = units[token.start()].group(1).strip()
            pairs.extend((name, unit) for name in named)
            named = []
        elif token.group(0) == ";":
            named = []
        elif token.group(1):
            named.append(token.group(1))
    return tuple(pairs)


def _example(meta) -> str:
    snippet = getattr(meta, "snippet", None)
    description = (meta.description or "").strip("\n")
    if snippet:
        return "```python\n" + snippet.rstrip() + ("\n" + description if description else "") + "\n```"
    return _fence_doctests(description)


def _fence_doctests(text: str) -> str:
    """Prose with ``>>>`` blocks: the blocks (with their output lines) become python fences."""
    out, block = [], []
    for line in text.splitlines():
        if line.lstrip().startswith(">>>") or (block and line.strip()):
            block.append(line)
            continue
        if block:
            out.append("```python\n" + textwrap.dedent("\n".join(block)) + "\n```")
            block = []
        out.append(line)
    if block:
        out.append("```python\n" + textwrap.dedent("\n".join(block)) + "\n```")
    return "\n".join(out).strip()


def _references(text: str) -> str:
    """numpydoc's ``.. [1] text`` lines as a numbered markdown list."""
    if not text:
        return ""
    items = re.split(r"^\s*\.\.\s+\[([^\]]+)\]\s*", text, flags=re.M)
    if len(items) < 3:
        return text
    out = [items[0].strip()] if items[0].strip() else []
    for label, body in zip(items[1::2], items[2::2]):
        body = " ".join(body.split())
        out.append(f"{label}. {body}" if label.isdigit() else f"- [{label}] {body}")
    return "\n".join(out)


# -- reStructuredText inline markup -> markdown ---------------------------------------------
_DOUBLE_BACKTICKS = re.compile(r"``(.+?)``", re.S)
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|obj|mod|attr|data|exc|const|ref|doc|term|any):`!?~?([^`]+)`")
_CITATION_REF = re.compile(r"\[([0-9]+|#\w*)\]_")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([a-zA-Z-]+)::[ \t]*(.*)$")


def rst_to_markdown(text: str) -> str:
    """Markdown for the reStructuredText that numpydoc docstrings carry; markdown stays as it is."""
    if not text:
        return ""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, name, argument = m.groups()
        body = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i])
            i += 1
        content = textwrap.dedent("\n".join(body)).strip()
        if name == "math":
            equation = "\n".join(part for part in (argument.strip(), content) if part)
            out += ["", "$$", equation, "$$", ""]
        elif name in ("code", "code-block", "sourcecode"):
            out += ["", f"```{argument.strip()}", content, "```", ""]
        else:  # note, warning, versionadded, seealso, ...: a labelled paragraph
            label = name.replace("-", " ").capitalize()
            out += ["", f"**{label}.** " + " ".join(part for part in (argument.strip(), content) if part), ""]
    text = "\n".join(out)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    text = _DOUBLE_BACKTICKS.sub(lambda m: "`" + " ".join(m.group(1).split()) + "`", text)
    text = _CITATION_REF.sub(r"[\1]", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# -- markdown -------------------------------------------------------------------------------
def _escape(name: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", name)


def _demote_headings(markdown: str) -> str:
    """Headings inside a member's documentation become bold lines: the member is the heading."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        out.append(f"**{m.group(1)}**" if m else line)
    return "\n".join(out)


def _type_and_unit(type_: str, unit: str, optional: bool = False, default: str = "") -> str:
    bits = []
    if type_:
        bits.append(f"`{type_}`")
    if optional:
        bits.append(f"default `{default}`" if default else "optional")
    text = ", ".join(bits)
    if unit:
        text += (" " if text else "") + f"[{unit}]"
    return text


def to_markdown(doc: Docstring) -> str:
    """Markdown of a docstring: sections as bold labels over real lists, never as headings."""
    parts = [p for p in (doc.summary, _demote_headings(doc.description)) if p]
    if doc.parameters:
        items = []
        for p in doc.parameters:
            head = f"**{_escape(p.name)}**"
            kind = _type_and_unit(p.type, p.unit, p.optional, p.default)
            items.append(_item(head + (f" ({kind})" if kind else ""), p.description))
        parts.append("**Parameters**\n\n" + "\n".join(items))
    if doc.returns:
        items = []
        for r in doc.returns:
            kind = _type_and_unit(r.type, r.unit)
            head = " ".join(x for x in (f"**{_escape(r.name)}**" if r.name else "", f"({kind})" if r.name and kind
                                        else kind) if x)
            items.append(_item(head, r.description))
        parts.append("**Returns**\n\n" + "\n".join(items))
    if doc.raises:
        parts.append("**Raises**\n\n" + "\n".join(_item(f"`{r.type}`" if r.type else "", r.description)
                                                 for r in doc.raises))
    for label, text in (("Notes", doc.notes), ("References", doc.references), ("Examples", doc.examples)):
        if text:
            parts.append(f"**{label}**\n\n{_demote_headings(text)}")
    return "\n\n".join(parts)


def _item(head: str, description: str) -> str:
    """One list item; a description of several paragraphs stays inside the item (indented)."""
    if not description:
        return f"- {head}"
    body = description.replace("\n", "\n  ")
    return f"- {head}: {body}" if head else f"- {body}"


# -- terminal text --------------------------------------------------------------------------
def to_text(doc: Docstring, width: int = 88, underline: bool = True) -> str:
    """Terminal text of a docstring: the sections underlined, each item with its text indented;
    ``underline=False``: each section title ends in a colon instead (``Parameters:``), as IPython's
    inspector writes its own fields (``Signature:``, ``Docstring:``)."""
    from gilgamesh.documentation.plaintext import markdown_to_text

    def prose(text: str, indent: str = "") -> list[str]:
        body = markdown_to_text(text, max(20, width - len(indent)))
        return [indent + line if line else "" for line in body.splitlines()]

    out: list[str] = []
    for text in (doc.summary, doc.description):
        if text:
            out += prose(text) + [""]

    def section(title: str, items: list[tuple[str, str]]) -> None:
        out.extend([title, "-" * len(title)] if underline else [title + ":"])
        for head, description in items:
            if head:
                out.append(head)
            if description:
                out.extend(prose(description, "    " if head else ""))
        out.append("")

    if doc.parameters:
        section("Parameters", [(p.name + _text_kind(p.type, p.unit, p.optional, p.default), p.description)
                               for p in doc.parameters])
    if doc.returns:
        section("Returns", [((r.name + " : " if r.name else "") + (r.type or "") + (f" [{r.unit}]" if r.unit else ""),
                             r.description) for r in doc.returns])
    if doc.raises:
        section("Raises", [(r.type, r.description) for r in doc.raises])
    for title, text in (("Notes", doc.notes), ("References", doc.references), ("Examples", doc.examples)):
        if text:
            section(title, [("", text)])
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _text_kind(type_: str, unit: str, optional: bool, default: str) -> str:
    bits = [b for b in (type_, ("default " + default) if default else "optional" if optional else "") if b]
    text = (" : " + ", ".join(bits)) if bits else ""
    return text + (f" [{unit}]" if unit else "")


# -- per-parameter descriptions (OpenAPI) ---------------------------------------------------
def parameter_descriptions(doc: Docstring) -> dict[str, str]:
    """``{parameter: "description [unit]"}`` as OpenAPI parameter descriptions (markdown)."""
    out = {}
    for p in doc.parameters:
        text = p.description
        if p.unit:
            text = f"{text} [{p.unit}]" if text else f"[{p.unit}]"
        if text:
            out[p.name] = text
    return out

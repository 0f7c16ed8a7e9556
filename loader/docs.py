"""Documentation of an API version, for Jupyter (markdown) and for the terminal (DESIGN.md 3).

A :class:`DocModel` is what both show: the narrative (the notebook's markdown cells, equations
left as LaTeX) and the public functions and classes with their signatures and docstrings. It is
built either from an imported module (introspection: what ``gilgamesh.docs`` and the rich display
of a module show) or statically from the notebook (``gilgamesh show``: nothing is executed).
Public means ``__all__`` when the notebook defines it, else not starting with ``_``, as in the
registry's API snapshot; a function without a docstring takes the markdown cell above its cell.
"""

from __future__ import annotations

import inspect
import re
import shutil
import textwrap
from types import ModuleType
from typing import NamedTuple

__all__ = [
    "DocModel",
    "Member",
    "Documentation",
    "docs",
    "from_module",
    "from_notebook",
    "to_markdown",
    "to_terminal",
    "markdown_to_text",
    "module_markdown",
    "handle_markdown",
    "render_terminal",
]


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

    @property
    def title(self) -> str:
        return f"{self.name} {self.version}"


# -- building -------------------------------------------------------------------------------
def _public_names(namespace: dict) -> list[str]:
    declared = namespace.get("__all__")
    if isinstance(declared, (list, tuple)):
        return [n for n in declared if isinstance(n, str)]
    return [n for n in namespace if not n.startswith("_")]


def _signature(obj, module_name: str) -> str:
    """``inspect.signature`` text, with the API's own classes named as the notebook names them."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    if inspect.isclass(obj):  # calling a class returns an instance, whatever __init__ says
        sig = sig.replace(return_annotation=inspect.Signature.empty)
    return str(sig).replace(module_name + ".", "")


def from_module(module, summary: str = "") -> DocModel:
    """The documentation of an imported API module (its objects as they are)."""
    state = getattr(getattr(module, "__spec__", None), "loader_state", None)
    name = state.name if state is not None else module.__name__
    version = state.version if state is not None else getattr(module, "__version__", "")
    members = []
    namespace = vars(module)
    for attr in _public_names(namespace):
        obj = namespace.get(attr)
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported names are not this API's
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = inspect.cleandoc(obj.__doc__) if isinstance(obj.__doc__, str) else ""
            kind = "class" if inspect.isclass(obj) else "function"
            members.append(Member(attr, kind, _signature(obj, module.__name__), doc))
    return DocModel(name, version, summary, module.__doc__ or "", members)


def _format_params(entry: dict) -> str:
    """An API-snapshot signature (registry/surface.py) in ``inspect.Signature`` style."""
    params = [p for p in entry["params"]]
    out = []
    star_done = False
    for i, p in enumerate(params):
        kind = p["kind"]
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
        if kind == "positional_only" and (i + 1 == len(params) or params[i + 1]["kind"] != "positional_only"):
            out.append("/")
    sig = f"({', '.join(out)})"
    if entry.get("returns"):
        sig += f" -> {entry['returns']}"
    return sig


def from_notebook(data: bytes, name: str | None = None, version: str | None = None, summary: str | None = None) -> DocModel:
    """The documentation of a notebook, read statically (no cell is executed)."""
    import ast

    from gilgamesh.notebook import parse_notebook
    from gilgamesh.registry.surface import api_snapshot, parse_import_cells

    nb = parse_notebook(data)
    trees = parse_import_cells(nb)
    snapshot = api_snapshot(nb, trees)
    docstrings = {}
    for _, tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                docstrings[node.name] = ast.get_docstring(node)
    members = []
    for attr, entry in snapshot.items():
        if entry["kind"] == "function":
            signature = _format_params(entry)
        elif entry["kind"] == "class":
            init = entry.get("methods", {}).get("__init__")
            signature = _format_params({"params": init["params"][1:], "returns": None}) if init else "()"
        else:
            continue
        doc = docstrings.get(attr) or nb.markdown_above(entry["cell"]) or ""
        members.append(Member(attr, entry["kind"], signature, inspect.cleandoc(doc) if doc else ""))
    meta = nb.metadata
    return DocModel(
        name or meta.get("name", ""), version or meta.get("version", ""),
        summary if summary is not None else str(meta.get("summary", "")).strip(),
        nb.narrative(), members,
    )


# -- markdown (Jupyter) -----------------------------------------------------------------------
def to_markdown(model: DocModel) -> str:
    """The narrative and the API as markdown; Jupyter renders the LaTeX."""
    head = f"**{model.name} {model.version}**"
    if model.summary:
        head += f" — {model.summary}"
    parts = [head, model.narrative.strip()]
    if model.members:
        api = ["---", "#### API"]
        for m in model.members:
            prefix = "class " if m.kind == "class" else ""
            api.append(f"```python\n{prefix}{m.name}{m.signature}\n```")
            if m.doc:
                api.append(m.doc)
        parts.append("\n\n".join(api))
    return "\n\n".join(p for p in parts if p) + "\n"


# -- text (terminal) --------------------------------------------------------------------------
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


def to_terminal(model: DocModel, width: int | None = None) -> str:
    """The documentation as terminal text: a title line, the narrative, then the API."""
    if width is None:
        width = max(40, min(100, shutil.get_terminal_size((88, 24)).columns))
    title = f"{model.name} {model.version}" + (f" — {model.summary}" if model.summary else "")
    out = [title, "━" * min(len(title), width), ""]
    if model.narrative.strip():
        out += [markdown_to_text(model.narrative, width), ""]
    if model.members:
        out += ["API", "---", ""]
        for m in model.members:
            prefix = "class " if m.kind == "class" else ""
            out.append(f"{prefix}{m.name}{m.signature}")
            if m.doc:
                body = markdown_to_text(m.doc, width - 4)
                out += ["    " + line if line else "" for line in body.splitlines()]
            out.append("")
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


def docs(module, summary: str = "") -> Documentation:
    """The documentation of an imported API module (``gilgamesh.docs`` imports it first)."""
    if not isinstance(module, ModuleType):
        raise TypeError(f"docs() takes a string such as 'langmuir@1.2' or an API module, not {type(module).__name__}")
    return Documentation(from_module(module, summary))


def module_markdown(module, summary: str = "") -> str:
    """What Jupyter shows for an API module."""
    return to_markdown(from_module(module, summary))


def handle_markdown(name: str, versions: dict) -> str:
    """What Jupyter shows for a bare handle: the published ``versions`` (index entries), no code run."""
    rows = ["| version | published | |", "|---|---|---|"]
    for version, entry in sorted(versions.items(), key=lambda kv: _version_key(kv[0]), reverse=True):
        flag = f"yanked: {entry.get('yank_reason') or ''}" if entry.get("yanked") else ""
        rows.append(f"| `{version}` | {entry.get('published_at') or ''} | {flag} |")
    return f"**{name}**: import a version, e.g. `gilgamesh.api.{name}.v1_2`\n\n" + "\n".join(rows) + "\n"


def _version_key(text: str):
    from gilgamesh.versions import Version

    return Version(text).key


def render_terminal(name: str, spec: str | None, reader) -> str:
    """``gilgamesh show NAME@SPEC``: the documentation as terminal text, read statically."""
    resolution = reader.resolve(name, spec or None)
    entry = reader.entry(name, resolution.version)
    data = reader.notebook_bytes(name, resolution.version)
    model = from_notebook(data, name, resolution.version, entry.get("summary"))
    return to_terminal(model)

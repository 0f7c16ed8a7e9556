"""Documentation of an API version, for Jupyter (markdown) and for the terminal (DESIGN.md 3).

What both show is a :class:`~gilgamesh.registry.documentation.DocModel`: the narrative and the
public functions and classes with their signatures and docstrings. It is built either from an
imported module (introspection: what ``gilgamesh.docs`` and the rich display of a module show)
or statically from the notebook (``gilgamesh show``: nothing is executed). Docstrings are parsed
into one structure (:mod:`gilgamesh.docstrings`) and rendered from it: parameters as a list with
their types, units and descriptions, never numpydoc's underlined section titles as headings.
"""

from __future__ import annotations

import inspect
import shutil
from types import ModuleType

from gilgamesh import citations, docstrings
from gilgamesh.plaintext import markdown_to_text
from gilgamesh.registry.documentation import DocModel, Member, from_notebook

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


def _published(module) -> tuple[dict, str]:
    """The module's cited references as published, and the registry it came from."""
    state = getattr(getattr(module, "__spec__", None), "loader_state", None)
    if state is None:
        return {}, ""
    try:
        references = state.index.versions()[state.version].get("references") or {}
        return (references if isinstance(references, dict) else {}), str(state.index.location or "")
    except Exception:  # an index of before citations still documents
        return {}, ""


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
    references, registry = _published(module)
    return DocModel(name, version, summary, _narrative(module, name, version), members, references, registry)


def _narrative(module, name: str, version: str) -> str:
    """The notebook's markdown narrative, citations as written (``__doc__`` shows them as text
    for help()); for a module the loader did not make, its ``__doc__`` without the synopsis."""
    from .finder import compiled, synopsis, summary_of

    state = getattr(getattr(module, "__spec__", None), "loader_state", None)
    if state is not None:
        try:
            return compiled(state)["narrative"]
        except Exception:  # noqa: BLE001 - the cache is gone and the registry too: document what is here
            pass
    doc = module.__doc__ or ""
    first = synopsis(name, version, summary_of(module))
    return doc[len(first):].lstrip("\n") if doc.startswith(first + "\n") else doc


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
def to_terminal(model: DocModel, width: int | None = None) -> str:
    """The documentation as terminal text: a title line, the narrative, then the API."""
    if width is None:
        width = max(40, min(100, shutil.get_terminal_size((88, 24)).columns))
    title = f"{model.name} {model.version}" + (f" — {model.summary}" if model.summary else "")
    out = [title, "━" * min(len(title), width), ""]
    if model.narrative.strip():
        out += [markdown_to_text(citations.text_citations(model.narrative, model.references), width), ""]
    if model.members:
        out += ["API", "---", ""]
        for m in model.members:
            prefix = "class " if m.kind == "class" else ""
            out.append(f"{prefix}{m.name}{m.signature}")
            body = docstrings.to_text(docstrings.parse_docstring(m.doc), width - 4)
            out += ["    " + line if line else "" for line in body.splitlines()]
            out.append("")
    if model.references:
        out += ["References", "---", ""]
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
    model = from_notebook(data, name, resolution.version, entry.get("summary"), entry.get("references"))
    return to_terminal(model)

"""The documentation of an imported API module: what ``gilgamesh.docs`` and Jupyter's display show.

Built by introspection (the module's objects as they are) into the one documentation model
(:mod:`gilgamesh.documentation.model`) and rendered by :mod:`gilgamesh.documentation.render`;
``gilgamesh show`` builds the same model statically from the notebook (nothing is executed).
"""

from __future__ import annotations

import inspect
from types import ModuleType

from gilgamesh.documentation.model import DocModel, Member
from gilgamesh.documentation.render import Documentation, to_markdown

__all__ = ["docs", "from_module", "module_markdown", "handle_markdown", "InspectorDocs", "inspector_docs"]


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
    return DocModel(name, version, summary, _narrative(module), members, references, registry)


def _narrative(module) -> str:
    """The notebook's markdown narrative, citations as written (``__doc__`` shows them as text
    for help()); a module the loader did not make documents its ``__doc__``."""
    state = getattr(getattr(module, "__spec__", None), "loader_state", None)
    narrative = getattr(state, "narrative", None)
    return narrative if narrative is not None else (module.__doc__ or "")


# -- entry points -----------------------------------------------------------------------------
def docs(module, summary: str = "") -> Documentation:
    """The documentation of an imported API module (``gilgamesh.docs`` imports it first)."""
    if not isinstance(module, ModuleType):
        raise TypeError(f"docs() takes a string such as 'langmuir@1.2' or an API module, not {type(module).__name__}")
    return Documentation(from_module(module, summary))


def module_markdown(module, summary: str = "") -> str:
    """What Jupyter shows for an API module."""
    return to_markdown(from_module(module, summary))


class InspectorDocs:
    """The structured docstring of an API function, class or module as IPython's inspector shows
    it (``analyze?``, ``analyze??``, Jupyter's contextual help): ``text`` replaces the raw
    docstring of ``text/plain``, ``markdown`` is the ``text/markdown`` Jupyter renders, and
    :meth:`html` the docstring of ``text/html`` (which IPython sends with ``enable_html_pager``)."""

    def __init__(self, text: str, markdown: str):
        self.text = text
        self.markdown = markdown
        self._html: str | None = None

    def html(self) -> str:
        """The markdown as HTML, the way notebook cells render it (LaTeX left for MathJax)."""
        if self._html is None:
            import html

            try:
                from nbconvert.filters.markdown_mistune import markdown2html_mistune

                self._html = f'<div class="gilgamesh-docstring">{markdown2html_mistune(self.markdown)}</div>'
            except Exception:  # noqa: BLE001 - no markdown engine: the text, as IPython shows one
                self._html = f"<pre>{html.escape(self.text)}</pre>"
        return self._html


def _api_module(obj) -> ModuleType | None:
    """The API module (a published version the loader imported) ``obj`` is or belongs to."""
    import sys

    module = obj if isinstance(obj, ModuleType) else sys.modules.get(getattr(obj, "__module__", None) or "")
    state = getattr(getattr(module, "__spec__", None), "loader_state", None)
    if state is None or not getattr(module, "__name__", "").startswith("gilgamesh.api."):
        return None  # a handle (gilgamesh.api.langmuir) has no version to document
    return module


def _summary(module) -> str:
    """The version's one-line summary, from the index it was resolved against."""
    state = module.__spec__.loader_state
    try:
        return state.index.versions()[state.version].get("summary", "") or ""
    except Exception:  # an index without summaries still documents
        return ""


def inspector_docs(obj, width: int = 80) -> InspectorDocs | None:
    """What IPython's inspector shows as the docstring of ``obj``, rendered from the one structure
    (:mod:`gilgamesh.documentation.docstrings`: parameters with their types and units, returns,
    raises), as ``gilgamesh.docs()`` renders it; None for an object that is not an API module or
    one of its own functions and classes, or that has no docstring (IPython shows those as it would)."""
    from gilgamesh.documentation import docstrings
    from gilgamesh.documentation.render import to_terminal

    module = _api_module(obj)
    if module is None:
        return None
    if obj is module:
        model = from_module(module, _summary(module))
        synopsis = (module.__doc__ or "").split("\n", 1)[0]
        text = "\n\n".join(p for p in (synopsis, to_terminal(model, width, compact=True).rstrip()) if p)
        return InspectorDocs(text, to_markdown(model))
    if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not isinstance(obj.__doc__, str):
        return None
    parsed = docstrings.parse_docstring(obj.__doc__)
    if parsed.is_empty:
        return None
    prefix = "class " if inspect.isclass(obj) else ""
    signature = f"```python\n{prefix}{obj.__name__}{_signature(obj, module.__name__)}\n```"
    body = docstrings.to_markdown(parsed)
    return InspectorDocs(docstrings.to_text(parsed, width, underline=False), f"{signature}\n\n{body}\n")


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

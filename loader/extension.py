"""The IPython extension: ``%load_ext gilgamesh`` (the kernel "Python 3 (Gilgamesh)" preloads it).

It installs the finder and adds an input transformer that rewrites the notebook spelling
``gilgamesh.api.langmuir@1.2`` to the Python spelling ``gilgamesh.api.langmuir.v1_2`` before a
cell runs, the same rewrite the loader applies to API notebooks' own code. ``@`` in strings and
comments is left alone, and so is the matrix-multiplication ``@`` of ordinary code.

It also adds mime hooks to IPython's inspector (``Inspector.mime_hooks``, IPython >= 8.22), so
that ``analyze?`` and ``analyze??`` (in a terminal, and Jupyter's ``inspect_request``: the
contextual help, the ``?`` pager) show an API function's, class's or module's docstring rendered
from its structure, parameters with their types and units, as ``gilgamesh.docs()`` does, not the
raw numpydoc: ``text/plain`` with that text as its ``Docstring`` field (``??`` shows it above the
source), ``text/markdown`` (what JupyterLab renders) and, where IPython sends HTML at all
(``InteractiveShell.enable_html_pager``), ``text/html``. Every other object is shown as IPython
would.
"""

from __future__ import annotations

from gilgamesh.spelling import bad_spec_message, find_bad_specs, rewrite_at_spelling

__all__ = ["rewrite_cell_lines", "inspector_hooks", "load_ipython_extension", "unload_ipython_extension"]

_INSPECTOR_MIMES = ("text/plain", "text/html", "text/markdown")


def rewrite_cell_lines(lines: list[str]) -> list[str]:
    """An IPython ``input_transformers_post`` entry: the ``@`` spelling of a cell rewritten."""
    source = "".join(lines)
    bad = find_bad_specs(source)
    if bad:
        # Else Python sees "gilgamesh.api.x@banana" and says only "invalid syntax".
        raise SyntaxError(bad_spec_message(*bad[0]))
    rewritten = rewrite_at_spelling(source)
    if rewritten == source:
        return lines
    return rewritten.splitlines(keepends=True)


def inspector_hooks(ip) -> dict:
    """``{mime: hook}`` for ``ip.inspector.mime_hooks``: the structured docstring of API objects.

    A hook takes IPython's ``InspectorHookData`` and returns what the bundle holds under its mime
    type (``text/plain`` and ``text/html``: IPython's ``(title, body)`` fields, rebuilt with the
    structured docstring; ``text/markdown``: the markdown), or None to leave IPython's own.
    """
    last: list = [None, None, None]  # (obj, its __doc__, InspectorDocs): one inspection asks three hooks

    def docs_of(obj):
        from gilgamesh.loader.docs import inspector_docs

        doc = getattr(obj, "__doc__", None)
        if last[0] is not obj or last[1] is not doc:
            last[:] = [obj, doc, inspector_docs(obj)]
        return last[2]

    def fields(data, mime: str, docs):
        make = getattr(ip.inspector, "_make_info_unformatted", None)
        if make is None or not isinstance(getattr(data, "info_dict", None), dict):
            return None

        def formatter(text):  # the docstring field gets the structured rendering; others stay
            return {"text/plain": text, "text/html": docs.html()} if text == docs.text else {}

        info = dict(data.info_dict, docstring=docs.text)
        bundle = make(data.obj, info, formatter, data.detail_level, list(data.omit_sections))
        found = list(bundle.get(mime) or [])
        omitted = set(data.omit_sections)
        if not any(head == "Docstring" for head, _ in found) and not omitted & {"Docstring", "docstring"}:
            # ``??`` shows the source instead of the docstring: the structured one goes above it.
            heads = [head for head, _ in found]
            at = heads.index("Source") if "Source" in heads else len(found)
            found.insert(at, ("Docstring", docs.text if mime == "text/plain" else docs.html()))
        return found

    def make_hook(mime: str):
        def hook(data, legacy_info=None):
            if legacy_info is not None or not hasattr(data, "obj"):
                return None  # IPython < 8.22 calls hook(obj, info): its own bundle stays
            try:
                docs = docs_of(data.obj)
                if docs is None:
                    return None
                return docs.markdown if mime == "text/markdown" else fields(data, mime, docs)
            except Exception:  # noqa: BLE001 - the inspector must answer whatever the docstring holds
                return None

        hook.gilgamesh_inspector = True
        return hook

    return {mime: make_hook(mime) for mime in _INSPECTOR_MIMES}


def _install_inspector_hooks(ip) -> None:
    hooks = getattr(getattr(ip, "inspector", None), "mime_hooks", None)
    if not isinstance(hooks, dict):
        return  # an IPython without mime hooks shows the raw docstring
    for mime, hook in inspector_hooks(ip).items():
        if not getattr(hooks.get(mime), "gilgamesh_inspector", False):
            if mime in hooks:
                continue  # someone else's hook for this mime type stays
            hooks[mime] = hook


def _remove_inspector_hooks(ip) -> None:
    hooks = getattr(getattr(ip, "inspector", None), "mime_hooks", None)
    if isinstance(hooks, dict):
        for mime in [m for m, hook in hooks.items() if getattr(hook, "gilgamesh_inspector", False)]:
            del hooks[mime]


def load_ipython_extension(ip) -> None:
    """Install the finder, the ``@`` rewrite and the inspector's hooks in the shell ``ip`` (idempotent)."""
    import gilgamesh.api  # noqa: F401  (installs the finder)

    if rewrite_cell_lines not in ip.input_transformers_post:
        ip.input_transformers_post.append(rewrite_cell_lines)
    _install_inspector_hooks(ip)


def unload_ipython_extension(ip) -> None:
    """Stop rewriting and rendering docstrings; modules already imported stay."""
    while rewrite_cell_lines in ip.input_transformers_post:
        ip.input_transformers_post.remove(rewrite_cell_lines)
    _remove_inspector_hooks(ip)

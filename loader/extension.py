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

In a Jupyter kernel it also tells the frontend which versions the kernel imported: after each
cell whose run changed that set, it sends ``{"imports": [{"name", "version", "specs", "yanked",
"deprecated"}]}`` on the comm ``gilgamesh.imports``, which it opens itself (Gilgamesh's lab
extension registers that target and names them in JupyterLab's status bar). Nothing is executed
on the frontend's behalf; a frontend without the target closes the comm, and the next change
opens it again.
"""

from __future__ import annotations

from gilgamesh.spelling import bad_spec_message, find_bad_specs, rewrite_at_spelling

__all__ = ["rewrite_cell_lines", "inspector_hooks", "imported_versions", "ImportsComm", "COMM_TARGET",
           "load_ipython_extension", "unload_ipython_extension"]

_INSPECTOR_MIMES = ("text/plain", "text/html", "text/markdown")
COMM_TARGET = "gilgamesh.imports"
_PREFIX = "gilgamesh.api."


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


def imported_versions(modules: dict | None = None) -> list[dict]:
    """The API versions this process imported (``sys.modules``), each with the specs that chose it:
    ``[{"name": "plasma", "version": "1.0.0", "specs": ["1", "1.0.0"], "yanked", "deprecated"}]``."""
    import sys

    found: dict[str, dict] = {}
    for key, module in list((modules if modules is not None else sys.modules).items()):
        if not key.startswith(_PREFIX) or key.count(".") != 3:
            continue
        state = getattr(getattr(module, "__spec__", None), "loader_state", None)
        version = getattr(state, "version", None)
        if not isinstance(version, str):
            continue
        item = found.setdefault(state.module_name, {"name": state.name, "version": version, "specs": [],
                                                    "yanked": bool(state.yanked), "deprecated": bool(state.deprecated)})
        spec = key.rpartition(".")[2][1:].replace("_", ".")
        if spec not in item["specs"]:
            item["specs"].append(spec)
    for item in found.values():
        item["specs"].sort()
    return sorted(found.values(), key=lambda i: (i["name"], i["version"]))


class ImportsComm:
    """The comm ``gilgamesh.imports``: after each cell, the imported versions, when they changed."""

    def __init__(self, ip):
        self.ip = ip
        self.comm = None
        self.sent = None

    def __call__(self, *args) -> None:  # IPython's post_run_cell event (it passes the result)
        try:
            imports = imported_versions()
            if imports == self.sent or (not imports and self.sent is None):
                return
            data = {"imports": imports}
            if self.comm is None:
                from comm import create_comm

                self.comm = create_comm(target_name=COMM_TARGET, data=data)
                self.comm.on_close(self._closed)
            else:
                self.comm.send(data)
            self.sent = imports
        except Exception:  # noqa: BLE001 - telling the frontend must never break a cell
            self.comm = None

    def _closed(self, msg=None) -> None:
        self.comm, self.sent = None, None  # a frontend without the target: open again on the next change

    def close(self) -> None:
        if self.comm is not None:
            try:
                self.comm.close()
            except Exception:  # noqa: BLE001
                pass
        self.comm = None


def _in_kernel(ip) -> bool:
    return getattr(ip, "kernel", None) is not None


def load_ipython_extension(ip) -> None:
    """Install the finder, the ``@`` rewrite and the inspector's hooks in the shell ``ip`` (idempotent);
    in a kernel, the comm that names the imported versions to the frontend."""
    import gilgamesh.api  # noqa: F401  (installs the finder)

    if rewrite_cell_lines not in ip.input_transformers_post:
        ip.input_transformers_post.append(rewrite_cell_lines)
    _install_inspector_hooks(ip)
    if _in_kernel(ip) and not isinstance(getattr(ip, "_gilgamesh_imports", None), ImportsComm):
        ip._gilgamesh_imports = ImportsComm(ip)
        ip.events.register("post_run_cell", ip._gilgamesh_imports)


def unload_ipython_extension(ip) -> None:
    """Stop rewriting and rendering docstrings (and naming imports to the frontend); modules already imported stay."""
    while rewrite_cell_lines in ip.input_transformers_post:
        ip.input_transformers_post.remove(rewrite_cell_lines)
    _remove_inspector_hooks(ip)
    imports = getattr(ip, "_gilgamesh_imports", None)
    if isinstance(imports, ImportsComm):
        try:
            ip.events.unregister("post_run_cell", imports)
        except ValueError:
            pass
        imports.close()
        ip._gilgamesh_imports = None

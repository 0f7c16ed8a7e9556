"""The import graph: no circles anywhere (imports inside functions count), and every import goes
down the layers that docs/architecture.md draws.

Read from the source with ``ast``: a test of the code as written, whatever a run happens to import.
"""

from __future__ import annotations

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {"gilgamesh": "gilgamesh", "loader": "gilgamesh.loader", "registry": "gilgamesh.registry",
            "service": "gilgamesh.service"}
# Lowest first; a module may import its own layer and those below. A module's layer is the one
# of the longest prefix that names it.
LAYERS = [
    ("core", ["gilgamesh.versions", "gilgamesh.errors", "gilgamesh.config", "gilgamesh.notebook",
              "gilgamesh.spelling", "gilgamesh.pyparse", "gilgamesh.environment", "gilgamesh.lockfile",
              "gilgamesh.files", "gilgamesh.documentation", "gilgamesh.trust", "gilgamesh.jsonschema_formats"]),
    ("registry.sandbox", ["gilgamesh.registry.sandbox"]),
    ("registry.store", ["gilgamesh.registry.store"]),
    ("registry.compare", ["gilgamesh.registry.compare"]),
    ("registry.surface", ["gilgamesh.registry.surface"]),
    ("registry.compat", ["gilgamesh.registry.compat"]),
    ("registry.validation", ["gilgamesh.registry.validation"]),
    ("registry.publish", ["gilgamesh.registry.publish"]),
    ("registry.sync", ["gilgamesh.registry.sync", "gilgamesh.registry.hooks"]),
    ("registry.facade", ["gilgamesh.registry.facade", "gilgamesh.registry"]),
    ("loader", ["gilgamesh.loader"]),
    ("service.calls", ["gilgamesh.service.options", "gilgamesh.service.calls"]),
    ("service", ["gilgamesh.service", "gilgamesh.service.calls.route"]),  # the model route is HTTP
    # The Jupyter server extension: the service's read routes (and fork) inside Jupyter's server.
    ("service.jupyter", ["gilgamesh.service.jupyter"]),
    ("entry points", ["gilgamesh", "gilgamesh.api", "gilgamesh.cli", "gilgamesh.dask", "gilgamesh.__main__"]),
]
# Imports that run the code of a published notebook go up by design: the loader's IPython
# extension and a model worker process import API modules (gilgamesh.use, gilgamesh.api).
UPWARD_BY_DESIGN = {("gilgamesh.loader.extension", "gilgamesh.api"), ("gilgamesh.service.calls.worker", "gilgamesh")}


def _modules() -> dict[str, str]:
    found = {}
    for folder, package in PACKAGES.items():
        for dirpath, dirnames, files in os.walk(os.path.join(REPO, folder)):
            dirnames[:] = [d for d in dirnames if d not in ("node_modules", "__pycache__", "static", "templates")]
            for name in files:
                if not name.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(REPO, folder))[:-3].replace(os.sep, ".")
                if folder == "gilgamesh" and rel.split(".")[0] in ("loader", "registry", "service"):
                    continue
                module = package if rel == "__init__" else f"{package}.{rel.removesuffix('.__init__')}"
                found[module] = os.path.join(dirpath, name)
    return found


def _imports(path: str, module: str, modules: dict) -> set[str]:
    """The product modules ``module`` imports anywhere in its code (``from pkg import sub`` is sub)."""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                out.add(target)
    return out


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


MODULES = _modules()
GRAPH = {m: _imports(p, m, MODULES) for m, p in MODULES.items()}


def test_every_import_goes_down_the_layers():
    upward = sorted(f"{m} ({LAYERS[_layer(m)][0]}) imports {t} ({LAYERS[_layer(t)][0]})"
                    for m, targets in GRAPH.items() for t in targets
                    if _layer(t) > _layer(m) and (m, t) not in UPWARD_BY_DESIGN)
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, circles

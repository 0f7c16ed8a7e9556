"""The lab's API notebooks, loaded the way users load them.

TEMPORARY: until the loader lands, ``api`` executes each notebook's import cells itself (after
the @ rewrite), registering the modules under their ``gilgamesh.api`` names so that langmuir's
``from gilgamesh.api.plasma@1 import ...`` finds plasma. Once ``import gilgamesh.api...`` works,
this becomes a registry in tmp_path and a plain import.
"""

from __future__ import annotations

import glob
import os
import sys
import types

import pytest

from gilgamesh.notebook import parse_notebook
from gilgamesh.spelling import rewrite_at_spelling
from lab_notebooks import NOTEBOOKS, PUBLISH_ORDER, notebook_path, read_notebook


@pytest.fixture(scope="session")
def lab_registry(tmp_path_factory):
    """``(root, outcomes)``: a registry holding every lab notebook, published in dependency order."""
    from gilgamesh.registry.publish import publish
    from gilgamesh.registry.store import init_registry

    root = str(tmp_path_factory.mktemp("lab") / "registry")
    init_registry(root)
    outcomes = [publish(root, read_notebook(n, v), publisher="test", validate=False) for n, v in PUBLISH_ORDER]
    return root, outcomes


def _highest(name: str, spec: str) -> str:
    """The highest published x.y.z of ``api_notebooks/name`` matching a 1- or 2-part spec."""
    versions = [os.path.basename(p)[:-6] for p in glob.glob(os.path.join(NOTEBOOKS, name, "*.ipynb"))]
    parts = spec.split(".")
    matching = [v for v in versions if v.split(".")[: len(parts)] == parts]
    return max(matching, key=lambda v: tuple(map(int, v.split("."))))


@pytest.fixture(scope="session")
def api():
    """``api("langmuir", "1.2")``: the module of langmuir@1.2."""
    added: list[str] = []

    def load(name: str, spec: str) -> types.ModuleType:
        module_name = f"gilgamesh.api.{name}.v{spec.replace('.', '_')}"
        if module_name in sys.modules:
            return sys.modules[module_name]
        version = _highest(name, spec)
        with open(notebook_path(name, version), "rb") as f:
            nb = parse_notebook(f.read())
        for dep_name, dep_spec in (("plasma", "1"),):  # the only dependency among the lab's APIs
            if name != dep_name:
                load(dep_name, dep_spec)
        module = types.ModuleType(module_name, nb.narrative())
        sys.modules[module_name] = module
        added.append(module_name)
        for cell in nb.import_cells():
            code = compile(rewrite_at_spelling(cell.source), f"<{name}@{version} cell {cell.number}>", "exec")
            exec(code, module.__dict__)
        return module

    yield load
    for module_name in added:
        sys.modules.pop(module_name, None)

"""The lab's API notebooks, imported the way users import them.

One registry per session in tmp_path holds every notebook of api_notebooks/, published in
dependency order (static checks only: validation runs in test_api_notebooks.py); the tests then
``import gilgamesh.api.<name>.v<spec>`` through the real loader with ``GILGAMESH_REGISTRY`` and
``GILGAMESH_CACHE`` pointing into tmp_path. Afterwards the finder, the resolutions and every
``gilgamesh.api`` module this session added are gone again.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from lab_notebooks import PUBLISH_ORDER, add_lab_bibliography, read_notebook


@pytest.fixture(scope="session")
def lab_registry(tmp_path_factory):
    """``(root, outcomes)``: a registry holding every lab notebook, published in dependency order."""
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("lab") / "registry")
    init_registry(root)
    add_lab_bibliography(root)
    outcomes = [publish(root, read_notebook(n, v), publisher="test", validate=False) for n, v in PUBLISH_ORDER]
    return root, outcomes


@pytest.fixture(scope="session")
def lab_imports(lab_registry, tmp_path_factory):
    """The environment in which ``import gilgamesh.api...`` reads the lab registry."""
    import gilgamesh

    patch = pytest.MonkeyPatch()
    patch.setenv("GILGAMESH_REGISTRY", lab_registry[0])
    patch.setenv("GILGAMESH_CACHE", str(tmp_path_factory.mktemp("cache")))
    before = set(sys.modules)
    meta_path = list(sys.meta_path)
    gilgamesh.refresh()  # resolutions made against another registry must not leak in
    yield
    gilgamesh.refresh()
    for name in [m for m in sys.modules if m.startswith("gilgamesh.api") and m not in before]:
        module = sys.modules.pop(name)
        parent_name, _, attr = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and parent.__dict__.get(attr) is module:
            delattr(parent, attr)
    sys.meta_path[:] = meta_path  # the finder goes if this session installed it
    patch.undo()


@pytest.fixture(scope="session")
def api(lab_imports):
    """``api("langmuir", "1.2")`` is ``import gilgamesh.api.langmuir.v1_2``."""

    def load(name: str, spec: str):
        return importlib.import_module(f"gilgamesh.api.{name}.v{spec.replace('.', '_')}")

    return load

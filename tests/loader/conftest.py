"""Fixtures of the loader tests: a published registry, a private cache per test, clean imports.

Every test gets its own ``GILGAMESH_CACHE`` and leaves no trace: the finder is taken off
``sys.meta_path``, ``gilgamesh.api`` and ``gilgamesh.api.*`` leave ``sys.modules`` and the
process's resolutions are forgotten.
"""

from __future__ import annotations

import shutil
import sys

import pytest

from loader_kit import PUBLISHED, YANK_REASON, fixture_bytes


@pytest.fixture(scope="session")
def api_registry(tmp_path_factory) -> str:
    """A registry with the fixture APIs published (read-only for tests: copy it to change it)."""
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import Store, init_registry, writer_lock

    root = str(tmp_path_factory.mktemp("loader") / "registry")
    init_registry(root)
    for name in PUBLISHED:
        publish(root, fixture_bytes(name), publisher="test", validate=False)
    with writer_lock(root):
        Store(root).set_yanked("langmuir", "1.1.0", YANK_REASON, "test")
    return root


def _forget_imports() -> None:
    from gilgamesh.loader import finder

    finder.uninstall()
    finder.reset()
    for key in [k for k in sys.modules if k == "gilgamesh.api" or k.startswith("gilgamesh.api.")]:
        del sys.modules[key]


@pytest.fixture(autouse=True)
def loader_env(api_registry, tmp_path, monkeypatch):
    """The published registry, a cache of the test's own, and no import left behind."""
    monkeypatch.setenv("GILGAMESH_REGISTRY", api_registry)
    monkeypatch.setenv("GILGAMESH_CACHE", str(tmp_path / "cache"))
    _forget_imports()
    meta_path = list(sys.meta_path)
    yield tmp_path
    _forget_imports()
    sys.meta_path[:] = [f for f in meta_path if type(f).__name__ != "ApiFinder"]


@pytest.fixture
def own_registry(api_registry, tmp_path, monkeypatch) -> str:
    """A copy of the published registry that the test may change (publish, yank, remove)."""
    root = str(tmp_path / "own-registry")
    shutil.copytree(api_registry, root, symlinks=True)
    monkeypatch.setenv("GILGAMESH_REGISTRY", root)
    return root

"""Fixtures of the service tests: the seeded registry, the servers, the artifacts folder."""

from __future__ import annotations

import os

import pytest
import service_apis as apis
from service_kit import ARTIFACTS, Server, seed


@pytest.fixture(scope="session")
def service_env(tmp_path_factory):
    """A private cache for the workers' loader (inherited by the worker processes)."""
    cache = str(tmp_path_factory.mktemp("cache"))
    saved = {k: os.environ.get(k) for k in ("GILGAMESH_CACHE", "GILGAMESH_TOKEN")}
    os.environ["GILGAMESH_CACHE"] = cache
    os.environ.pop("GILGAMESH_TOKEN", None)
    yield cache
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def png():
    return apis.plot_png()


@pytest.fixture(scope="session")
def seeded_registry(tmp_path_factory, png):
    root = str(tmp_path_factory.mktemp("seeded") / "registry")
    seed(root, png)
    return root


@pytest.fixture(scope="session")
def server(seeded_registry, service_env):
    """The read-only service: short time limits so that a hang costs the suite a second."""
    s = Server(seeded_registry, call_timeout=1.5, max_body_size=64 * 1024, model_workers=2, max_model_workers=2).start()
    s.wait_workers_ready()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def artifacts():
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def fresh_registry(tmp_path, png):
    """A registry of its own for a test that writes."""
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    return root

"""Shared fixtures: registries in tmp_path, an environment isolated from the user's registry and cache."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # tests import the notebook factory as `nbfactory`


@pytest.fixture
def registry(tmp_path):
    """An empty registry directory."""
    from gilgamesh.registry.store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    return root


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Keep the user's registry, cache and kernels out of the test."""
    monkeypatch.setenv("GILGAMESH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GILGAMESH_REGISTRY", str(tmp_path / "no-registry-here"))
    monkeypatch.delenv("GILGAMESH_TOKEN", raising=False)
    return tmp_path

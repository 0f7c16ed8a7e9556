"""Shared fixtures: an empty registry in tmp_path; tests import helpers from nbfactory and support."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # tests import the notebook factory as `nbfactory`


@pytest.fixture
def registry(tmp_path):
    """An empty registry directory."""
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    return root

"""Shared fixtures: an empty registry in tmp_path; tests import helpers from nbfactory and support."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # tests import the notebook factory as `nbfactory`

# Pre-started validation kernels (registry/validation/prestart.py) are off for the suite unless
# GILGAMESH_PRESTART says otherwise: the tests that use them have a keeper of their own
# (tests/registry/test_prestart.py). Any other keeper the run starts lives in a runtime directory
# of the run (xdist's workers inherit the controller's), stopped and removed when the run ends.
os.environ.setdefault("GILGAMESH_PRESTART", "0")
_OWN_RUNTIME_DIR = None
if "GILGAMESH_RUNTIME_DIR" not in os.environ:
    import tempfile

    _OWN_RUNTIME_DIR = os.environ["GILGAMESH_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gk-run-", dir="/tmp")


def pytest_unconfigure(config):
    if _OWN_RUNTIME_DIR is not None and os.environ.get("GILGAMESH_RUNTIME_DIR") == _OWN_RUNTIME_DIR:
        import shutil

        from gilgamesh.registry.validation import prestart

        prestart.stop(every=True)  # a test's stand-in interpreter (sys.executable) has a keeper of its own
        shutil.rmtree(_OWN_RUNTIME_DIR, ignore_errors=True)


@pytest.fixture
def registry(tmp_path):
    """An empty registry directory."""
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    return root

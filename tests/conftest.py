"""Shared fixtures: registries in tmp_path, the CLI as a real subprocess, state snapshots."""

from __future__ import annotations

import hashlib
import os
import subprocess
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


def run_cli(*args, env=None, input=None, timeout=300, cwd=None) -> subprocess.CompletedProcess:
    """Run ``python -m gilgamesh ARGS`` as a real subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gilgamesh", *map(str, args)],
        capture_output=True, text=True, env=full_env, input=input, timeout=timeout, cwd=cwd,
    )


def registry_state(root: str) -> dict:
    """Everything a write could change: refs, index files, blobs, and the journal."""
    refs = subprocess.run(
        ["git", "-C", os.path.join(root, "store.git"), "for-each-ref", "--format=%(refname) %(objectname)"],
        capture_output=True, text=True, check=True,
    ).stdout
    files = {}
    for sub in ("index", "blobs"):
        d = os.path.join(root, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                files[f"{sub}/{name}"] = hashlib.sha256(f.read()).hexdigest()
    return {"refs": refs, "files": files, "journal": os.path.exists(os.path.join(root, "journal.json"))}

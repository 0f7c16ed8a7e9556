"""Helpers shared by the top-level tests: the CLI as a real subprocess, registry state snapshots.

(Not in conftest.py: several conftest modules exist, so ``from conftest import`` is ambiguous.)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys


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

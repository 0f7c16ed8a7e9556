"""Helpers of the loader tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "notebooks", "loader")
# Publish order: each version after its predecessor, dependencies first.
PUBLISHED = ["langmuir-1.1.0", "langmuir-1.2.0", "langmuir-1.2.1", "langmuir-1.3.0rc1", "langmuir-2.0.0",
             "plasma-1.0.0", "broken-1.0.0"]
YANK_REASON = "wrong sign in the ion current"


def fixture_bytes(name: str) -> bytes:
    """The bytes of ``tests/notebooks/loader/<name>.ipynb``."""
    with open(os.path.join(FIXTURES, name + ".ipynb"), "rb") as f:
        return f.read()


def run_python(code: str, env: dict | None = None, cwd: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -c code`` in a fresh process with the test's environment (plus ``env``)."""
    full = dict(os.environ)
    full.update(env or {})
    full.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=cwd,
                          timeout=timeout)

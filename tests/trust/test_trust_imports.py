"""``cryptography`` stays off the import path: ``gilgamesh.api`` never loads it, and neither do the
modules of ``gilgamesh.trust`` that need no signature (the tree, statements)."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(out.stdout.split())


def test_gilgamesh_api_loads_no_cryptography_and_no_trust():
    loaded = loaded_after("import gilgamesh.api")
    assert not {m for m in loaded if m.startswith(("cryptography", "gilgamesh.trust"))}


def test_the_tree_and_statements_load_no_cryptography():
    loaded = loaded_after("import gilgamesh.trust, gilgamesh.trust.merkle, gilgamesh.trust.statement")
    assert "gilgamesh.trust.statement" in loaded and not {m for m in loaded if m.startswith("cryptography")}

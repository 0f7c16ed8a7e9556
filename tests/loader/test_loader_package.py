"""The public surface of ``gilgamesh`` and the loader's agreements with the rest of the code."""

from __future__ import annotations

import os
import tomllib

import gilgamesh
from gilgamesh.loader import finder
from gilgamesh.registry.store.layout import Layout
from loader_kit import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_public_surface():
    assert set(gilgamesh.__all__) == {"use", "docs", "refresh", "load_ipython_extension",
                                      "unload_ipython_extension", "__version__"}
    assert all(callable(getattr(gilgamesh, n)) for n in gilgamesh.__all__ if n != "__version__")


def test_version_matches_the_package_metadata():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        assert gilgamesh.__version__ == tomllib.load(f)["project"]["version"]


def test_import_gilgamesh_loads_nothing_else():
    result = run_python("import sys\nbefore = set(sys.modules)\nimport gilgamesh\n"
                        "print(sorted(m for m in set(sys.modules) - before))\n"
                        "print(any(type(f).__name__ == 'ApiFinder' for f in sys.meta_path))")
    assert result.stdout.splitlines() == ["['gilgamesh']", "False"]


def test_registry_paths_agree_with_the_registry_layout(tmp_path):
    layout = Layout(str(tmp_path))
    assert finder._index_file(str(tmp_path), "langmuir") == layout.index_file("langmuir")
    assert finder._journal_file(str(tmp_path)) == layout.journal_file


def test_resolution_memo_fields_are_the_resolved_version_records():
    from gilgamesh.loader import cache
    from gilgamesh.registry.store.resolved import FIELDS, MEMO_FIELDS, ResolvedVersion
    from gilgamesh.versions import Resolution

    assert cache.ENTRY_FIELDS == MEMO_FIELDS
    assert set(MEMO_FIELDS) <= set(finder.Resolved.__slots__) and set(MEMO_FIELDS) <= set(FIELDS)
    entry = {"sha256": "ab" * 32, "dependencies": {"b": "1.0.0", "a": "2.0.0"}, "deprecated": True}
    record = ResolvedVersion.of("demo", "1", Resolution("1.0.0", False, None, None), entry)
    memo = record.memo_entry()
    assert tuple(memo) == cache.ENTRY_FIELDS
    assert memo["deprecated"] == "no message given" and memo["environment"] is None
    resolved = finder.Resolved("demo", "v1", memo, None)
    assert (resolved.version, resolved.sha256, resolved.dependencies) == ("1.0.0", "ab" * 32, {"a": "2.0.0", "b": "1.0.0"})

"""The lab-day scenario: the lab's own notebooks across every path (sync, lock, serve, Dask, publish).

Seeding a registry the way ``make seed`` does runs the validation kernels of all eight lab
notebooks (15-30 s), so it happens once per test session (:func:`lab_seed`); each scenario
module copies the seeded registry and builds its sites from the copy.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
# git_remotes (the git daemon and git http-backend servers) lives with the registry tests;
# lab_day_kit is this folder's own.
for path in (os.path.join(TESTS, "registry"), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from lab_day_kit import LAB_VERSIONS, REPO, gilgamesh_cli, lab_notebooks  # noqa: E402


@pytest.fixture(scope="session")
def lab_seed(tmp_path_factory):
    """``{"root", "cache", "published"}``: a registry seeded exactly as ``make seed`` does it.

    Not to be written to: a module copies it (``lab_day_kit.copy_registry``).
    """
    work = tmp_path_factory.mktemp("lab-seed")
    root, cache = str(work / "registry"), str(work / "cache")
    steps = [
        ("init", "--registry", root),
        ("bib", "add", "--registry", root, "api_notebooks/references.bib"),
        ("publish", "--registry", root, "--json", *lab_notebooks()),
    ]
    done = None
    for step in steps:
        done = gilgamesh_cli(*step, cache=cache, user="seed", cwd=REPO, timeout=900)
        assert done.returncode == 0, f"make seed's {step[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    published = json.loads(done.stdout)["results"]
    created = sorted((r["name"], r["version"]) for r in published if r["ok"] and r["created"])
    assert created == sorted(LAB_VERSIONS), published
    return {"root": root, "cache": cache, "published": published}

"""The compatibility promise on the lab's own notebooks: langmuir 2.0.0 is no 1.x release.

langmuir 2.0.0 returns a ``ProbeAnalysis`` where 1.x returned a dict, and makes ``area`` and
``ion_mass_amu`` keyword-only (its ``*``). Relabelled as 1.3.0, with or without that ``*``, it
must be refused naming ``analyze``: every ``langmuir@1`` caller reads ``result["T_e"]``.
"""

from __future__ import annotations

import json

import pytest

from gilgamesh.errors import PublishRefused
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import init_registry
from lab_notebooks import read_notebook

STAR = "def analyze(V: list[float], I: list[float], *, area: float, ion_mass_amu: float) -> ProbeAnalysis:"
NO_STAR = "def analyze(V: list[float], I: list[float], area: float, ion_mass_amu: float) -> ProbeAnalysis:"


@pytest.fixture(scope="module")
def langmuir_1(tmp_path_factory):
    """A registry holding plasma 1.0.0 and langmuir 1.0.0 to 1.2.0 (static checks only)."""
    root = str(tmp_path_factory.mktemp("compat") / "registry")
    init_registry(root)
    for name, version in [("plasma", "1.0.0"), ("langmuir", "1.0.0"), ("langmuir", "1.1.0"), ("langmuir", "1.2.0")]:
        publish(root, read_notebook(name, version), publisher="test", validate=False)
    return root


def relabelled(star: bool) -> bytes:
    nb = json.loads(read_notebook("langmuir", "2.0.0"))
    nb["metadata"]["gilgamesh"]["version"] = "1.3.0"
    found = 0
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if STAR in source:
            found += 1
            cell["source"] = source if star else source.replace(STAR, NO_STAR)
    assert found == 1
    return (json.dumps(nb, indent=1) + "\n").encode()


def _analyze_problems(info) -> list[str]:
    return [p.message for p in info.value.details if p.check == "semver" and p.message.startswith("analyze")]


@pytest.mark.parametrize("star", [True, False], ids=["with *", "without *"])
def test_langmuir_2_relabelled_as_1_3_is_refused_naming_analyze(langmuir_1, star):
    with pytest.raises(PublishRefused) as info:
        publish(langmuir_1, relabelled(star), publisher="test", validate=False)
    messages = _analyze_problems(info)
    assert any("the return type changed from dict[str, float] to ProbeAnalysis" in m
               and "needs a MAJOR bump over langmuir@1.2.0, but 1.3.0 is a MINOR bump" in m for m in messages), messages
    kind_changes = [m for m in messages if "changed from positional_or_keyword to keyword_only" in m]
    assert len(kind_changes) == (2 if star else 0)


def test_the_validation_kernel_sees_the_same_surface(langmuir_1):
    """The full publish: the surface is described in the validation kernel after the last cell."""
    with pytest.raises(PublishRefused) as info:
        publish(langmuir_1, relabelled(star=False), publisher="test")
    assert not [p for p in info.value.details if p.check == "validation"], info.value.details
    assert any("return type changed from dict[str, float] to ProbeAnalysis" in m for m in _analyze_problems(info))

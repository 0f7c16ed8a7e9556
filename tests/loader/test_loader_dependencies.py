"""The dependency lock: a published version imports the dependency versions recorded at its publish.

A small lab: ``plasma`` 1.0.0 (its ``debye`` scales by 1), ``langmuir`` 1.2.0 published against it
(``plasma@1`` resolved to 1.0.0), then a plasma patch 1.0.1 whose ``debye`` scales by 2 and
``helicon`` 1.0.0 published against the patch. What langmuir 1.2.0 computes must not move.
"""

from __future__ import annotations

import sys

import pytest

import gilgamesh
import nbfactory as f
from loader_kit import run_python


def _plasma(version: str, factor: str) -> bytes:
    return f.to_bytes(f.notebook("plasma", version, [
        f.markdown("# plasma\n\nThe Debye length."),
        f.code(f"FACTOR = {factor}\n\ndef debye(x: float) -> float:\n    \"\"\"Scaled.\"\"\"\n    return x * FACTOR"),
    ]))


def _user(name: str, version: str, spelling: str) -> bytes:
    return f.to_bytes(f.notebook(name, version, [
        f.markdown(f"# {name}\n\nUses plasma."),
        f.code(f"{spelling}\n\ndef probe(x: float) -> float:\n    \"\"\"Through plasma.\"\"\"\n"
               "    return plasma.debye(x)\n\ndef plasma_version() -> str:\n    \"\"\"Which plasma.\"\"\"\n"
               "    return plasma.__version__"),
    ]))


@pytest.fixture
def lab(tmp_path, monkeypatch):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "lab")
    init_registry(root)
    publish(root, _plasma("1.0.0", "1.0"), validate=False)
    # Three spellings of the same dependency: the @ form, an import, an attribute chain.
    langmuir = publish(root, _user("langmuir", "1.2.0", "import gilgamesh.api.plasma@1 as plasma"), validate=False)
    assert langmuir.metadata["dependencies"] == {"plasma": "1.0.0"}
    publish(root, _plasma("1.0.1", "2.0"), validate=False)  # the patch
    helicon = publish(root, _user("helicon", "1.0.0", "from gilgamesh.api.plasma.v1_0 import debye\n"
                                  "import gilgamesh.api.plasma.v1_0\nplasma = gilgamesh.api.plasma.v1_0"),
                      validate=False)
    assert helicon.metadata["dependencies"] == {"plasma": "1.0.1"}
    monkeypatch.setenv("GILGAMESH_REGISTRY", root)
    return root


def test_a_plasma_patch_leaves_langmuir_120_results_unchanged(lab):
    langmuir = gilgamesh.use("langmuir@1.2")
    assert langmuir.plasma_version() == "1.0.0"
    assert langmuir.probe(3.0) == 3.0  # plasma 1.0.0's factor, not the patch's 2.0
    # An unpinned reader of plasma@1 gets the patch: the newest compatible release.
    assert gilgamesh.use("plasma@1").debye(3.0) == 6.0


def test_the_diamond_loads_two_plasmas_side_by_side(lab):
    langmuir = gilgamesh.use("langmuir@1.2.0")
    helicon = gilgamesh.use("helicon@1.0")
    assert (langmuir.plasma_version(), helicon.plasma_version()) == ("1.0.0", "1.0.1")
    assert (langmuir.probe(1.0), helicon.probe(1.0)) == (1.0, 2.0)
    old, new = sys.modules["gilgamesh.api.plasma.v1_0_0"], sys.modules["gilgamesh.api.plasma.v1_0_1"]
    assert old is not new and langmuir.plasma is old and helicon.plasma is new
    assert helicon.debye is new.debye  # the from-import too


def test_the_pins_are_transitive_and_hold_in_a_fresh_process(lab, tmp_path):
    from gilgamesh.registry.publish.pipeline import publish

    # An API that depends on langmuir 1.2.0 runs langmuir's own pin of plasma (1.0.0).
    publish(lab, f.to_bytes(f.notebook("analysis", "1.0.0", [
        f.markdown("# analysis"),
        f.code("import gilgamesh.api.langmuir.v1_2 as lm\n\ndef run() -> float:\n    \"\"\"Run.\"\"\"\n"
               "    return lm.probe(5.0)"),
    ])), validate=False)
    code = ("import gilgamesh\nimport gilgamesh.api.plasma.v1 as p\na = gilgamesh.use('analysis@1.0')\n"
            "print(a.run(), p.__version__, a.lm.plasma_version())")
    out = run_python(code, {"GILGAMESH_REGISTRY": lab})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["5.0", "1.0.1", "1.0.0"]
    # Warm (code cache filled): the same answer.
    again = run_python(code, {"GILGAMESH_REGISTRY": lab})
    assert again.stdout == out.stdout


def test_tracebacks_show_the_pinned_source(lab):
    langmuir = gilgamesh.use("langmuir@1.2")
    source = langmuir.__spec__.loader.get_source(langmuir.__name__)
    assert "gilgamesh.api.plasma.v1_0_0 as plasma" in source


def test_pinning_rewrites_code_only():
    from gilgamesh.loader.compiler import dependency_pin
    from gilgamesh.spelling import pin_api_references

    pin = dependency_pin({"plasma": "1.0.0", "pre": "2.0.0rc1"})
    source = ("import gilgamesh.api.plasma.v1 as p  # gilgamesh.api.plasma.v1 in a comment\n"
              "s = 'gilgamesh.api.plasma.v1'\nx = gilgamesh.api.plasma.v1_0.debye\n"
              "y = gilgamesh.api.plasma.v2\nz = gilgamesh.api.pre.v2\nw = gilgamesh.api.pre.v2_0_0rc1\n")
    out = pin_api_references(source, pin).splitlines()
    assert out[0] == "import gilgamesh.api.plasma.v1_0_0 as p  # gilgamesh.api.plasma.v1 in a comment"
    assert out[1] == "s = 'gilgamesh.api.plasma.v1'"
    assert out[2] == "x = gilgamesh.api.plasma.v1_0_0.debye"
    assert out[3] == "y = gilgamesh.api.plasma.v2"  # not chosen by the spec: left alone
    assert out[4] == "z = gilgamesh.api.pre.v2"  # a range never chooses a pre-release
    assert out[5] == "w = gilgamesh.api.pre.v2_0_0rc1"

"""What the publish report notes without refusing, through the real CLI (issue 30, items 3 and 4).

* A public function without a docstring is documented only by a markdown cell above it that is
  about it (it names it, or it is not a section heading such as ``## References``); the report
  says which cell was taken, and the loader, ``gilgamesh show`` and the check read the same cell.
* A public-looking definition that ``__all__`` leaves out is named by ``validate``, ``publish`` and
  ``diff``: "no API changes" no longer hides a function forgotten there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import nbfactory as f
from support import run_cli

pytestmark = pytest.mark.slow


def _write(tmp_path, name: str, cells: list[dict], version: str = "1.0.0", **meta) -> str:
    path = tmp_path / f"{name}-{version}.ipynb"
    path.write_bytes(f.to_bytes(f.notebook(name, version, cells, **meta)))
    return str(path)


SECTION_ABOVE = [
    f.markdown("# speeds\n\nPlasma speeds."),
    f.code("import math"),
    f.markdown("## References / Changelog\n\n- Chen (2016), *Introduction to Plasma Physics*.\n- 1.0.0: first release."),
    f.code("def bohm_speed(T_e: float) -> float:\n    return math.sqrt(1.602176634e-19 * T_e / 6.6335e-26)"),
]


def test_a_section_heading_above_a_function_is_not_its_documentation(tmp_path, registry):
    path = _write(tmp_path, "speeds", SECTION_ABOVE)
    out = run_cli("validate", path, "--registry", registry)
    assert out.returncode == 1, out.stdout
    assert "public function 'bohm_speed' has no docstring, and the markdown cell 3 right above its cell does not " \
           "document it: it starts with the heading 'References / Changelog' and does not name 'bohm_speed'" in out.stderr
    assert "cell 4" in out.stderr
    # Naming the function in that cell makes it the documentation; the report says which cell it took.
    cells = list(SECTION_ABOVE)
    cells[2] = f.markdown("## Bohm speed\n\nThe speed ions enter a sheath at, for cold ions, in m/s.")
    path = _write(tmp_path, "speeds", cells)
    out = run_cli("validate", path, "--registry", registry)
    assert out.returncode == 0, out.stderr
    assert "  note: function 'bohm_speed' (cell 4) has no docstring: its documentation is the markdown cell 3 " \
           "right above it" in out.stdout
    data = json.loads(run_cli("validate", path, "--json", "--registry", registry).stdout)
    assert data["results"][0]["notes"] == [
        "function 'bohm_speed' (cell 4) has no docstring: its documentation is the markdown cell 3 right above it"]


def test_the_loader_show_and_the_report_take_the_same_cell(tmp_path, registry):
    """A helper left out of __all__ under ``## Changelog`` gets no __doc__ from it; the exported
    function named by the heading above it gets that cell, in Python and in ``gilgamesh show``."""
    cells = [
        f.markdown("# speeds\n\nPlasma speeds."),
        f.code("import math\n\n__all__ = ['thermal_speed']"),
        f.markdown("## Thermal speed\n\nThe mean speed of Maxwellian electrons, in m/s, for $T_e$ in eV."),
        f.code("def thermal_speed(T_e: float) -> float:\n    return math.sqrt(8 * 1.602176634e-19 * T_e / (math.pi * 9.109e-31))"),
        f.markdown("## Changelog\n\n- 1.0.0: first release."),
        f.code("def helper(x):\n    return 2 * x\n\ndef _private(x):\n    return x"),
    ]
    path = _write(tmp_path, "speeds", cells)
    out = run_cli("publish", path, "--registry", registry)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "  note: function 'thermal_speed' (cell 4) has no docstring: its documentation is the markdown cell 3 " \
           "right above it" in lines
    assert "  note: function 'helper' (cell 6) is not exported: __all__ leaves it out, so it is not part of the API " \
           "(add it to __all__ to export it, or name it '_helper' to mark it private)" in lines
    assert not any("_private" in line for line in lines)

    cache = tmp_path / "cache"  # the import, in a fresh Python
    script = ("import gilgamesh\nm = gilgamesh.use('speeds@1')\n"
              "print(repr(m.thermal_speed.__doc__.splitlines()[0]))\nprint(repr(m.helper.__doc__))")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, GILGAMESH_REGISTRY=registry, GILGAMESH_CACHE=str(cache)))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["'## Thermal speed'", "None"]

    shown = run_cli("show", "speeds@1", "--registry", registry)
    assert shown.returncode == 0, shown.stderr
    api = shown.stdout.split("\nAPI\n", 1)[1]
    assert "thermal_speed(T_e: float) -> float\n    Thermal speed" in api
    assert "Changelog" not in api and "helper" not in api


def test_diff_names_a_function_that_all_leaves_out(tmp_path, registry):
    old = [f.markdown("# speeds\n\nPlasma speeds."),
           f.code("__all__ = ['double']\n\ndef double(x: float) -> float:\n    \"\"\"Twice x.\"\"\"\n    return 2 * x")]
    out = run_cli("publish", _write(tmp_path, "speeds", old), "--registry", registry)
    assert out.returncode == 0, out.stderr
    assert "note:" not in out.stdout
    # The next version adds a function but forgets __all__: no API change, and the reason named.
    new = old + [f.code("def triple(x: float) -> float:\n    \"\"\"Thrice x.\"\"\"\n    return 3 * x")]
    path = _write(tmp_path, "speeds", new, version="1.1.0")
    out = run_cli("diff", "speeds@1.0.0", path, "--registry", registry)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [
        "  no API changes",
        "  note: function 'triple' (cell 3) is not exported: __all__ leaves it out, so it is not part of the API "
        "(add it to __all__ to export it, or name it '_triple' to mark it private)",
    ]
    data = json.loads(run_cli("diff", "speeds@1.0.0", path, "--json", "--registry", registry).stdout)
    assert data["changes"] == [] and data["notes"] == [out.stdout.splitlines()[2].removeprefix("  note: ")]
    # validate says it too, under the (empty) API changes.
    out = run_cli("validate", path, "--registry", registry)
    assert out.returncode == 0, out.stderr
    assert "  API changes over 1.0.0: none" in out.stdout
    assert "  note: function 'triple' (cell 3) is not exported: __all__ leaves it out" in out.stdout
    # Published, the diff between the two versions names it as well.
    assert run_cli("publish", path, "--registry", registry).returncode == 0
    out = run_cli("diff", "speeds@1.0.0", "speeds@1.1.0", "--registry", registry)
    assert "  note: function 'triple' (cell 3) is not exported" in out.stdout
    # Exported, it is a MINOR change and no note is left.
    fixed = [old[0], f.code(old[1]["source"].replace("['double']", "['double', 'triple']")), new[2]]
    out = run_cli("diff", "speeds@1.0.0", _write(tmp_path, "speeds", fixed, version="1.2.0"), "--registry", registry)
    assert "MINOR" in out.stdout and "triple" in out.stdout and "note:" not in out.stdout

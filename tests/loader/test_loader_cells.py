"""What runs on import (not the examples) and where errors point (API, version, cell, line)."""

from __future__ import annotations

import linecache
import math
import os
import sys
import traceback

import pytest

import gilgamesh
from loader_kit import run_python

RAISE_LINE = '        raise ValueError(f"V and I differ in length ({len(V)} != {len(I)})")'


def test_example_cells_do_not_run(capsys):
    import gilgamesh.api.langmuir.v1_2 as langmuir

    assert not hasattr(langmuir, "EXAMPLE_RAN")
    assert "EXAMPLE RAN" not in capsys.readouterr().out
    # The example cell holds a magic: compiled on import, it would be a SyntaxError.
    import gilgamesh.loader.finder as finder

    cells = finder.compiled(gilgamesh.api.langmuir.v1_2.__spec__.loader_state)["cells"]
    assert [number for number, _, _, _ in cells] == [2, 4, 6]


def test_traceback_names_api_version_cell_and_line():
    from gilgamesh.api.langmuir.v1_2 import analyze

    with pytest.raises(ValueError, match="differ in length") as info:
        analyze([1.0], [1.0, 2.0])
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert os.path.basename(frame.filename) == "langmuir@1.2.1 cell 6.py"
    assert frame.lineno == 4  # the line within cell 6
    assert frame.name == "analyze"
    assert frame.line == RAISE_LINE.strip()
    text = "".join(traceback.format_exception(info.value))
    assert 'langmuir@1.2.1 cell 6.py", line 4, in analyze\n    ' + RAISE_LINE.strip() in text


def test_error_at_import_points_into_the_cell():
    with pytest.raises(FileNotFoundError, match="probe-17.csv") as info:
        import gilgamesh.api.broken.v1  # noqa: F401
    frames = traceback.extract_tb(info.value.__traceback__)
    cells = [(os.path.basename(f.filename), f.lineno, f.line) for f in frames if "broken@" in f.filename]
    assert cells == [("broken@1.0.0 cell 3.py", 5, "TABLE = load(CALIBRATION)"),
                     ("broken@1.0.0 cell 3.py", 3, "raise FileNotFoundError(path)")]
    assert "(raised while importing broken@1.0.0: cell 3)" in info.value.__notes__
    assert "gilgamesh.api.broken.v1" not in sys.modules and "gilgamesh.api.broken.v1_0_0" not in sys.modules


def test_uncaught_error_in_a_plain_script_shows_the_cell_source(tmp_path):
    script = tmp_path / "analysis.py"
    script.write_text("from gilgamesh.api.langmuir.v1_2 import analyze\n\nanalyze([1.0, 2.0], [1.0])\n")
    result = run_python(open(script).read())
    assert result.returncode == 1
    # Python's own printer reads the cell's file: every line of the traceback is there.
    assert 'langmuir@1.2.1 cell 6.py", line 4, in analyze\n    ' + RAISE_LINE.strip() in result.stderr
    assert result.stderr.rstrip().endswith("ValueError: V and I differ in length (2 != 1)")


def test_a_plain_script_imports_and_computes(tmp_path):
    script = tmp_path / "analysis.py"
    script.write_text(
        "import math\n"
        "from gilgamesh.api.langmuir.v1_2 import analyze\n"
        "import gilgamesh.api.plasma.v1 as plasma\n"
        "V = [0.5 * k for k in range(-20, 1)]\n"
        "I = [1e-3 * math.exp(v / 3.0) for v in V]\n"
        "print(round(analyze(V, I)['T_e'], 6), round(plasma.debye_length(1e17, 3.0) * 1e5, 4))\n"
    )
    result = run_python(script.read_text())
    assert result.returncode == 0, result.stderr
    debye = math.sqrt(8.8541878128e-12 * 3.0 / (1e17 * 1.602176634e-19))
    assert result.stdout == f"3.0 {round(debye * 1e5, 4)}\n"
    assert result.stderr == ""  # pinned imports: no warning


def test_pdb_breaks_in_a_cell_and_lists_its_source(tmp_path):
    import gilgamesh.api.langmuir.v1_2 as langmuir

    cell_file = langmuir.analyze.__code__.co_filename
    script = tmp_path / "debug_me.py"
    script.write_text("from gilgamesh.api.langmuir.v1_2 import analyze\nanalyze([1.0], [2.0])\n")
    commands = "\n".join([f"break {cell_file}:3", "continue", "p len(V)", "list", "quit"]) + "\n"
    import subprocess

    result = subprocess.run([sys.executable, "-m", "pdb", str(script)], input=commands, capture_output=True,
                            text=True, timeout=120, env=dict(os.environ))
    assert f"Breakpoint 1 at {cell_file}:3" in result.stdout
    assert f"> {cell_file}(3)analyze()" in result.stdout
    assert "1\n" in result.stdout
    assert "if len(V) != len(I):" in result.stdout  # `list` shows the cell's lines


def test_without_a_writable_cache_sources_go_to_linecache(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GILGAMESH_CACHE", str(blocker / "cache"))  # no directory can be made there
    from gilgamesh.api.langmuir.v1_2 import analyze

    filename = analyze.__code__.co_filename
    assert filename == "<gilgamesh langmuir@1.2.1 cell 6>"
    assert linecache.getline(filename, 4) == RAISE_LINE + "\n"
    with pytest.raises(ValueError) as info:
        analyze([1.0], [])
    assert RAISE_LINE.strip() in "".join(traceback.format_exception(info.value))


def test_cell_files_are_restored_when_cleaned_from_the_cache(tmp_path):
    import shutil

    import gilgamesh.api.langmuir.v1_2 as langmuir

    cell_dir = os.path.dirname(langmuir.analyze.__code__.co_filename)
    shutil.rmtree(cell_dir)
    result = run_python("import gilgamesh.api.langmuir.v1_2")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(cell_dir)) == [f"langmuir@1.2.1 cell {n}.py" for n in (2, 4, 6)]

"""What a publish report says, and that it says it once: issue 11's points, each against real runs.

Static refusals are checked with ``validate=False`` where no kernel is needed; everything about
outputs runs a real kernel through the real validation subprocess.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import tempfile

import pytest

import nbfactory as f
from support import run_cli
from gilgamesh.errors import PublishRefused
from gilgamesh.registry.compare.figures import compare_figures, figure_difference
from gilgamesh.registry.publish.pipeline import publish

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def scratch_in_tmp(tmp_path, monkeypatch):
    """Validation scratch directories go to tmp_path, and none is left behind."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert os.listdir(scratch) == [], "a validation scratch directory was left behind"


def ran(source: str, *outputs: dict, tags: tuple[str, ...] = (), count: int = 1) -> dict:
    cell = f.code(source, *tags, outputs=list(outputs))
    cell["execution_count"] = count
    return cell


def stdout(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def api(cells: list[dict], name: str = "demo", version: str = "1.0.0", **meta) -> bytes:
    return f.to_bytes(f.notebook(name, version, [f.markdown(f"# {name}\n\nA fixture.")] + cells, **meta))


def refused(registry, data: bytes, **kw) -> list[tuple[str, int | None, str]]:
    with pytest.raises(PublishRefused) as info:
        publish(registry, data, **kw)
    return [(p.check, p.cell, p.message) for p in info.value.details]


# -- 1. a notebook that was never run -----------------------------------------------------------

def test_a_notebook_never_run_is_refused_naming_gilgamesh_run(registry, tmp_path):
    cells = [f.markdown("Twice."), f.code("def twice(x: float) -> float:\n    return 2 * x"), f.code("twice(2.0)", "example")]
    data = f.to_bytes(f.notebook("demo", "1.0.0", [f.markdown("# demo\n\nA fixture.")] + cells, executed=False))
    problems = refused(registry, data)
    assert len(problems) == 1 and problems[0][:2] == ("validation", None)
    assert "the notebook was never run: none of its 2 code cells has stored outputs" in problems[0][2]
    assert "`gilgamesh run NOTEBOOK.ipynb`" in problems[0][2]
    # The command line names the file it was given.
    path = tmp_path / "my demo.ipynb"
    path.write_bytes(data)
    out = run_cli("validate", str(path), "--registry", registry)
    assert out.returncode == 1
    assert f"run it and save its outputs with `gilgamesh run '{path}'`" in out.stderr


# -- 2. figures ---------------------------------------------------------------------------------

def _curve_png(scale: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.linspace(0, 10, 200)
    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    ax.plot(x, scale * np.exp(-x / 3))
    ax.set_ylim(0, 1.2)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return base64.b64encode(out.getvalue()).decode()


def _reencode(png_b64: str) -> str:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "Matplotlib version9.9.9, https://matplotlib.org/")
    out = io.BytesIO()
    Image.open(io.BytesIO(base64.b64decode(png_b64))).save(out, "PNG", compress_level=9, pnginfo=info)
    return base64.b64encode(out.getvalue()).decode()


def _figure(png: str) -> dict:
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<IPython.core.display.Image object>"},
            "metadata": {}}


def test_a_curve_changed_by_ten_percent_is_a_different_figure():
    stored, changed = _curve_png(1.0), _curve_png(1.1)
    why = figure_difference(stored, changed)
    assert why is not None and why.startswith("the figure differs from the stored one: ")
    assert compare_figures([_figure(stored)], [_figure(changed)]) == why


def test_a_figure_whose_only_change_is_png_encoder_metadata_is_the_same_figure():
    stored = _curve_png(1.0)
    reencoded = _reencode(stored)
    assert base64.b64decode(reencoded) != base64.b64decode(stored)
    assert figure_difference(stored, reencoded) is None
    assert compare_figures([_figure(stored)], [_figure(reencoded)]) is None


FIGURE_CELL = ("import base64, io\nimport numpy as np\nfrom IPython.display import Image, display\n"
               "x = np.linspace(0, 10, 200)\nfig, ax = plt.subplots(figsize=(4, 3), dpi=80)\n"
               "ax.plot(x, {scale} * np.exp(-x / 3))\nax.set_ylim(0, 1.2)\nout = io.BytesIO()\n"
               "fig.savefig(out, format='png')\nplt.close(fig)\ndisplay(Image(out.getvalue()))")


def test_validation_refuses_a_figure_the_code_no_longer_makes_and_accepts_a_reencoded_one(registry):
    """End to end: the stored figure is of a model 10 % off what the code computes; then of the right one, re-encoded."""
    stored = _curve_png(1.0)
    cells = [ran("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt", tags=("example",)),
             ran(FIGURE_CELL.format(scale="1.1"), _figure(stored), tags=("example",))]
    problems = refused(registry, api(cells))
    assert [(c, n) for c, n, _ in problems] == [("validation", 3)]
    assert problems[0][2].startswith("the figure differs from the stored one: ")
    cells[1]["source"] = FIGURE_CELL.format(scale="1.0")
    cells[1]["outputs"] = [_figure(_reencode(stored))]
    assert publish(registry, api(cells)).created


# -- 3. nbval markers on cells that run on import -----------------------------------------------

def test_nbval_markers_that_would_break_an_import_are_refused(registry):
    cells = [
        f.code("# NBVAL_SKIP\nX = 1"),  # 2
        f.code("Y = 1", "raises-exception"),  # 3
        f.code("# NBVAL_RAISES_EXCEPTION\nZ = 1 / 0"),  # 4
        f.code("W = 1", "nbval-skip"),  # 5
        f.code("# NBVAL_SKIP\nprint('only validation skips this')", "example"),  # 6: fine, imports never run it
        f.code("# NBVAL_IGNORE_OUTPUT\nV = 1"),  # 7: fine
    ]
    problems = refused(registry, api(cells), validate=False)
    assert [(c, n) for c, n, _ in problems] == [("structure", 2), ("structure", 3), ("structure", 4), ("structure", 5)]
    assert problems[0][2] == ("the cell runs on import but carries the comment '# NBVAL_SKIP': validation would skip it, "
                              "yet every import runs it and would fail; tag the cell 'example' (only validation runs it) "
                              "or remove the marker")
    assert "the tag 'raises-exception': validation would accept its error" in problems[1][2]


# -- 4 and 9. one report, no false follow-ons ----------------------------------------------------

def test_static_problems_and_output_problems_come_in_one_report(registry):
    cells = [
        f.markdown("Twice."),
        ran("def twice(x: float) -> float:\n    !echo hi\n    return 2 * x"),  # 3: a shell line on import
        ran("print(twice(2.0))", stdout("hi\n5.0\n"), tags=("example",)),  # 4: stale output
        ran("def undocumented(x):\n    return x"),  # 5: no docs
    ]
    problems = refused(registry, api(cells, endpoints=["twice"]))
    assert [(c, n) for c, n, _ in problems] == [("structure", 3), ("documentation", 5), ("validation", 4)]
    assert "!shell lines cannot run on import" in problems[0][2]
    assert problems[2][2].startswith("stdout output differs at line 2: expected '5.0', got '4.0'")


def test_a_shell_line_in_a_function_cell_yields_no_false_follow_on_errors(registry):
    base = api([f.markdown("Twice."), ran("def twice(x: float) -> float:\n    return 2 * x")], endpoints=["twice"])
    publish(registry, base, validate=False)
    cells = [f.markdown("Twice."), ran("def twice(x: float) -> float:\n    !echo hi\n    return 2 * x")]
    problems = refused(registry, api(cells, version="1.0.1", endpoints=["twice"]), validate=False)
    assert [(c, n) for c, n, _ in problems] == [("structure", 3)]
    assert "line 2: IPython magics and !shell lines cannot run on import ('!echo hi')" in problems[0][2]


# -- 5. tolerance 0 ---------------------------------------------------------------------------------

def test_tolerance_zero_compares_text_exactly(registry):
    cells = [ran("print(1000.0)", stdout("1000\n")), ran("print('2.10')", stdout("2.1\n"))]
    problems = refused(registry, api(cells, tolerance=0))
    assert [(c, n) for c, n, _ in problems] == [("validation", 2), ("validation", 3)]
    assert problems[0][2].startswith("stdout output differs: expected '1000\\n', got '1000.0\\n'")
    assert publish(registry, api(cells, tolerance=1e-6), dry_run=True).metadata["validation"]["passed"]


# -- regex sanitizers ------------------------------------------------------------------------------

def test_sanitizers_rewrite_both_sides_before_the_comparison():
    from nbformat import from_dict

    from gilgamesh.registry.compare.outputs import compare_outputs
    from gilgamesh.registry.compare.sanitize import read_sanitizers

    stored = [from_dict(stdout("<Probe object at 0x7f3a1c2b>, run 17 of 2024-01-02\n"))]
    fresh = [from_dict(stdout("<Probe object at 0x55d0e8aa>, run 17 of 2025-06-30\n"))]
    assert compare_outputs(stored, fresh) is not None
    sanitizers, problems = read_sanitizers([{"regex": "0x[0-9a-f]+", "replace": "ADDRESS"},
                                            {"regex": r"\d{4}-\d\d-\d\d", "replace": "DATE"}])
    assert problems == [] and compare_outputs(stored, fresh, sanitizers=sanitizers) is None
    # What is not sanitized is still compared.
    fresh[0].text = fresh[0].text.replace("run 17", "run 18")
    assert compare_outputs(stored, fresh, sanitizers=sanitizers) is not None


def test_a_bad_sanitizer_is_refused_naming_it(registry):
    sanitize = [{"regex": "0x[0-9a-f]+", "replace": "ADDRESS"}, {"regex": "(unclosed", "replace": ""},
                {"regex": "a", "replace": "\\2"}, "0x.*", {"regex": "b", "flags": "i"}]
    problems = refused(registry, api([ran("X = 1")], sanitize=sanitize), validate=False)
    assert problems == [
        ("metadata", None, "metadata.gilgamesh.sanitize[1].regex '(unclosed' is not a valid regular expression: "
                           "missing ), unterminated subpattern at position 0"),
        ("metadata", None, "metadata.gilgamesh.sanitize[2].replace '\\\\2' does not fit its regex 'a': "
                           "invalid group reference 2 at position 1"),
        ("metadata", None, 'metadata.gilgamesh.sanitize[3] must be an object with a "regex" string (and a "replace" string)'),
        ("metadata", None, "metadata.gilgamesh.sanitize[4] has unknown key(s) 'flags' (known: regex, replace)"),
    ]


# -- 7. a bad spec ----------------------------------------------------------------------------------

def test_a_bad_spec_is_named_on_import_cells_and_in_the_kernel(registry):
    problems = refused(registry, api([ran("from gilgamesh.api.langmuir@banana import analyze")]))
    assert problems == [("dependencies", 2,
                         "gilgamesh.api.langmuir@banana: 'banana' is not a version spec; write MAJOR, MAJOR.MINOR or an "
                         "exact version, e.g. gilgamesh.api.langmuir@1.2 or gilgamesh.api.langmuir@1.2.0")]
    # In an example cell too, and once: the kernel's own SyntaxError there is not repeated.
    problems = refused(registry, api([ran("X = 1"), ran("import gilgamesh.api.plasma@banana as p", tags=("example",))]))
    assert [(c, n) for c, n, _ in problems] == [("dependencies", 3)]


def test_the_extension_names_a_bad_spec_in_a_notebook():
    """What Jupyter shows for the cell: a SyntaxError naming the spec, not a bare 'invalid syntax'."""
    from IPython.core.interactiveshell import InteractiveShell

    from gilgamesh.loader.extension import load_ipython_extension

    shell = InteractiveShell.instance()
    try:
        load_ipython_extension(shell)
        result = shell.run_cell("from gilgamesh.api.langmuir@banana import analyze", silent=True)
        error = result.error_before_exec or result.error_in_exec
        assert isinstance(error, SyntaxError)
        assert str(error.msg).startswith("gilgamesh.api.langmuir@banana: 'banana' is not a version spec; write MAJOR")
    finally:
        InteractiveShell.clear_instance()


# -- 8. messages that say what to do --------------------------------------------------------------

def test_a_kernel_that_does_not_start_in_time_names_the_limit(registry):
    with open(os.path.join(registry, "settings.json")) as fh:
        settings = json.load(fh)
    settings["validation_startup_timeout"] = 0.001  # no kernel starts that fast: the limit is what we test
    with open(os.path.join(registry, "settings.json"), "w") as fh:
        json.dump(settings, fh)
    problems = refused(registry, api([ran("X = 1")]))
    assert len(problems) == 1
    message = problems[0][2]
    assert message.startswith("the kernel did not start within the kernel start limit of 0.001 s "
                              "(validation_startup_timeout in the registry's settings.json)"), message
    assert "()" not in message


# -- a loaded machine: the run's time limit does not count the kernel's start -------------------

def test_the_time_limit_counts_from_the_kernel_answering_not_from_its_start(registry, tmp_path, monkeypatch):
    """A kernel that takes 3 s to start passes under a 1 s limit: only the start limit bounds its start."""
    slow = tmp_path / "slow-python"
    slow.write_text(f"#!/bin/sh\nsleep 3\nexec {sys.executable} \"$@\"\n")
    slow.chmod(0o755)
    with open(os.path.join(registry, "settings.json")) as fh:
        settings = json.load(fh)
    settings["validation_timeout"] = 1
    with open(os.path.join(registry, "settings.json"), "w") as fh:
        json.dump(settings, fh)
    monkeypatch.setattr(sys, "executable", str(slow))  # the runner and its kernel both start through it
    outcome = publish(registry, api([ran("X = 1"), ran("print(X)", stdout("1\n"), tags=("example",))]), dry_run=True)
    assert outcome.metadata["validation"]["passed"] and outcome.metadata["validation"]["cells"] == 2

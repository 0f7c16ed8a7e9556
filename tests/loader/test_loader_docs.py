"""Inline documentation: __doc__, docstrings from markdown, help(), Jupyter display, the terminal."""

from __future__ import annotations

import inspect
import pydoc
import sys

import pytest

import gilgamesh
from gilgamesh.documentation.plaintext import markdown_to_text
from gilgamesh.documentation.render import Documentation, to_terminal
from gilgamesh.registry.facade import LocalRegistry

EQUATION = "$$I_e = I_{es} \\exp\\left(\\frac{e (V - V_p)}{k_B T_e}\\right)$$"
ABOVE_ELECTRON_TEMPERATURE = ("## Electron temperature\n\nThe inverse slope of $\\ln I$ against $V$, in eV, "
                              "from the points of positive current.")


@pytest.fixture
def langmuir():
    import gilgamesh.api.langmuir.v1_2 as module

    return module


def test_module_doc_is_a_synopsis_line_then_the_narrative(langmuir):
    # The first line is what help() prints after the module's name.
    assert langmuir.__doc__.startswith("Planar Langmuir probe analysis (langmuir 1.2.1)\n\n"
                                       "# Langmuir probe analysis\n\nA planar probe")
    assert EQUATION in langmuir.__doc__
    assert "## Example" in langmuir.__doc__  # every markdown cell, in order
    assert "import math" not in langmuir.__doc__  # code is not narrative


def test_function_without_docstring_takes_the_markdown_cell_above(langmuir):
    assert langmuir.electron_temperature.__doc__ == ABOVE_ELECTRON_TEMPERATURE
    assert inspect.getdoc(langmuir.electron_temperature) == ABOVE_ELECTRON_TEMPERATURE


def test_own_docstring_wins(langmuir):
    assert langmuir.analyze.__doc__ == ("Electron temperature (eV) and ion saturation current density (A/m^2) "
                                        "of one sweep.")


def test_markdown_above_the_cell_reaches_functions_in_a_later_cache_hit(langmuir, tmp_path):
    # The same docs come from the code cache in a fresh session (no compile this time).
    gilgamesh.refresh()
    for key in [k for k in sys.modules if k.startswith("gilgamesh.api.langmuir.")]:
        del sys.modules[key]
    again = gilgamesh.use("langmuir@1.2")
    assert again is not langmuir
    assert again.electron_temperature.__doc__ == ABOVE_ELECTRON_TEMPERATURE


def test_help_shows_narrative_and_functions(langmuir):
    text = pydoc.plain(pydoc.render_doc(langmuir))
    assert "A planar probe in a Maxwellian plasma" in text
    assert "analyze(V: list[float], I: list[float], area: float = 1e-06) -> dict[str, float]" in text
    assert "The inverse slope of $\\ln I$ against $V$" in text


def test_inspect_reads_the_cell_source(langmuir):
    source = inspect.getsource(langmuir.analyze)
    assert source.startswith("def analyze(V: list[float], I: list[float], area: float = 1e-06)")
    assert 'raise ValueError(f"V and I differ in length' in source
    assert inspect.getsourcefile(langmuir.analyze).endswith("langmuir@1.2.1 cell 6.py")


def test_repr_markdown_of_a_module(langmuir):
    markdown = langmuir._repr_markdown_()
    assert markdown.startswith("**langmuir 1.2.1** — Planar Langmuir probe analysis")
    assert EQUATION in markdown
    assert "```python\nanalyze(V: list[float], I: list[float], area: float = 1e-06) -> dict[str, float]\n```" in markdown
    # The markdown cell above documents the function; its heading is not a heading inside the API.
    assert ("```python\nelectron_temperature(V, I)\n```\n\nElectron temperature\n\nThe inverse slope of "
            "$\\ln I$ against $V$, in eV, from the points of positive current.") in markdown
    assert "\n#" not in markdown.split("#### API")[1]
    assert "math" not in markdown.split("#### API")[1]  # imported names are not this API's
    assert repr(langmuir) == "<module 'gilgamesh.api.langmuir.v1_2_1' (langmuir@1.2.1)>"


def test_repr_markdown_of_a_handle_lists_versions_without_running_code():
    import gilgamesh.api.langmuir as handle

    markdown = handle._repr_markdown_()
    assert "| `2.0.0` |" in markdown and "| `1.3.0rc1` |" in markdown
    assert "yanked: wrong sign in the ion current" in markdown
    assert not [k for k in sys.modules if k.startswith("gilgamesh.api.langmuir.")]


def test_gilgamesh_docs():
    doc = gilgamesh.docs("langmuir@2")
    assert isinstance(doc, Documentation)
    assert doc._repr_markdown_().startswith("**langmuir 2.0.0**")
    text = str(doc)
    assert text.startswith("langmuir 2.0.0 — Planar Langmuir probe analysis\n")
    assert "analyze(V: list[float], I: list[float], *, area: float = 1e-06) -> dict[str, float]" in text
    assert gilgamesh.docs(gilgamesh.use("langmuir@2"))._repr_markdown_() == doc._repr_markdown_()


def test_terminal_docs_reads_the_notebook_without_running_it(api_registry):
    text = to_terminal(LocalRegistry(api_registry).documentation("langmuir", "1.2"))
    assert not [k for k in sys.modules if k.startswith("gilgamesh.api.")]
    lines = text.splitlines()
    assert lines[0] == "langmuir 1.2.1 — Planar Langmuir probe analysis"
    assert lines[lines.index("LANGMUIR PROBE ANALYSIS") + 1] == "=" * len("LANGMUIR PROBE ANALYSIS")
    assert lines[lines.index("Electron temperature") + 1] == "-" * len("Electron temperature")
    assert "    " + EQUATION in lines  # display equations verbatim, on their own line
    assert "analyze(V: list[float], I: list[float], area: float = 1e-06) -> dict[str, float]" in lines
    at = lines.index("electron_temperature(V, I)")
    assert lines[at + 1].startswith("    ") and "The inverse slope of $\\ln I$ against $V$" in text


@pytest.mark.parametrize("spec", ["1.2.1", "2.0.0"])
def test_terminal_docs_of_a_static_notebook_matches_the_live_module(api_registry, spec):
    static = to_terminal(LocalRegistry(api_registry).documentation("langmuir", spec))
    live = str(gilgamesh.docs(f"langmuir@{spec}"))
    assert static == live


def test_a_class_without_docstring_takes_the_markdown_above_even_as_a_dataclass():
    import gilgamesh.api.langmuir.v2 as langmuir

    expected = "A sweep as measured: voltages (V), currents (A) and the probe area (m$^2$)."
    assert langmuir.Sweep.__doc__ == expected  # not the signature @dataclass writes
    assert "class Sweep(V: list[float], I: list[float], area: float = 1e-06)\n    " + expected \
        in str(gilgamesh.docs(langmuir))


def test_a_name_defined_again_later_takes_its_docs_from_there():
    import nbfactory as f

    from gilgamesh.loader.compiler import compile_notebook

    data = f.to_bytes(f.notebook("twice", "1.0.0", [
        f.markdown("First A."), f.code("class A:\n    pass\n\ndef g():\n    pass"),
        f.markdown("Second A."), f.code("class A:\n    \"\"\"Its own.\"\"\""),
    ]))
    docs = compile_notebook(data, "twice", "1.0.0", "0" * 64, "")["docs"]
    assert docs == ((2, ("g",), "First A."),)


@pytest.mark.parametrize("markdown, expected", [
    ("# Title", "TITLE\n====="),
    ("## Sub section", "Sub section\n-----------"),
    ("### Deeper", "Deeper\n~~~~~~"),
    ("one\ntwo  three", "one two three"),
    ("**bold** and __strong__ and *em*", "bold and strong and *em*"),
    ("see [the docs](https://x.org/a)", "see the docs <https://x.org/a>"),
    ("![probe](probe.png)", "[image: probe]"),
    ("- first\n- second\n  continued", "  • first\n  • second continued"),
    ("1. one\n2. two", "  1. one\n  2. two"),
    ("```python\nx = 1\n```", "    x = 1"),
    ("$$\na + b\n$$", "    $$\n    a + b\n    $$"),
    ("\\begin{align}\nx &= 1\n\\end{align}", "    \\begin{align}\n    x &= 1\n    \\end{align}"),
    ("> quoted text", "  | quoted text"),
    ("| a | b |\n|---|---|", "  | a | b |\n  |---|---|"),
    ("para one\n\n\n\npara two", "para one\n\npara two"),
])
def test_markdown_to_text(markdown, expected):
    assert markdown_to_text(markdown) == expected


def test_wrapping_never_splits_inline_math_or_code():
    words = "word " * 12
    text = markdown_to_text(f"{words}$a + b = c + d$ {words}`x = y + z` end", width=40)
    assert "$a + b = c + d$" in text and "`x = y + z`" in text
    assert all(len(line) <= 40 for line in text.splitlines() if "$" not in line and "`" not in line)

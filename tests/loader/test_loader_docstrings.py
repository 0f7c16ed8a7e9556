"""Docstrings rendered from one structure: Jupyter's display, help(), IPython's ``?``, the terminal.

The fixture ``tests/notebooks/docs/waves-1.0.0.ipynb`` documents one function in numpydoc, one in
Google style and one by the markdown cell above it, with units in brackets.
"""

from __future__ import annotations

import os

import pytest

from loader_kit import run_python

DOCS_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", "docs")


def waves_bytes() -> bytes:
    with open(os.path.join(DOCS_FIXTURES, "waves-1.0.0.ipynb"), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def docs_registry(tmp_path_factory) -> str:
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("docs") / "registry")
    init_registry(root)
    from gilgamesh.registry.facade import LocalRegistry

    with open(os.path.join(DOCS_FIXTURES, "references.bib"), encoding="utf-8") as f:  # what the fixture cites
        LocalRegistry(root, "test").add_bibliography(f.read(), "references.bib")
    publish(root, waves_bytes(), publisher="test", validate=False)
    return root


@pytest.fixture
def waves_env(docs_registry, loader_env, monkeypatch) -> dict:
    monkeypatch.setenv("GILGAMESH_REGISTRY", docs_registry)
    return {"GILGAMESH_REGISTRY": docs_registry, "GILGAMESH_CACHE": str(loader_env / "cache")}


# One fresh process, a real IPython shell: help() as a user types it, the ``?`` inspector, and
# the display formatter Jupyter calls on the module.
IPYTHON_SCRIPT = r'''
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "gilgamesh")
ip.run_cell("import gilgamesh.api.waves@1 as waves")
module = ip.user_ns["waves"]
help(module)
print("=====inspect module")
print(ip.object_inspect_text("waves", detail_level=0))
print("=====inspect function")
print(ip.object_inspect_text("waves.plasma_frequency"))
print("=====markdown")
data, _ = ip.display_formatter.format(module)
print(data["text/markdown"])
'''


@pytest.fixture
def ipython_output(waves_env) -> dict[str, str]:
    result = run_python(IPYTHON_SCRIPT, env=dict(waves_env, NO_COLOR="1", TERM="dumb"))
    assert result.returncode == 0, result.stderr
    parts = result.stdout.split("=====")
    return {"help": parts[0], **{p.split("\n", 1)[0]: p.split("\n", 1)[1] for p in parts[1:]}}


def test_help_inspector_and_jupyter_display_in_a_real_ipython(ipython_output, waves_env):
    import re

    strip = re.compile(r"\x1b\[[0-9;]*m")
    help_text = ipython_output["help"]
    assert "NAME\n    gilgamesh.api.waves.v1_0_0 - Two plasma speeds for the docs tests (waves 1.0.0)\n" in help_text
    # help() and ``?`` name the notebook the version came from, not the loader's own file.
    notebook = os.path.join(waves_env["GILGAMESH_CACHE"], "notebooks")
    assert f"FILE\n    {notebook}{os.sep}" in help_text and ".ipynb\n" in help_text
    inspected = strip.sub("", ipython_output["inspect module"])
    file_line = next(line for line in inspected.splitlines() if line.startswith("File:"))
    assert file_line.split()[-1].startswith(notebook) and file_line.endswith(".ipynb")
    assert "finder.py" not in inspected
    assert "Two plasma speeds for the docs tests (waves 1.0.0)" in inspected
    function = strip.sub("", ipython_output["inspect function"])
    assert "waves@1.0.0 cell 3.py" in function and "Electron density [m^-3]." in function

    markdown = ipython_output["markdown"]
    api = markdown.split("#### API", 1)[1]
    # numpydoc's section titles are labels over lists, never headings or underlines.
    assert "----------" not in api and "\n#" not in api
    assert ("**Parameters**\n\n- **n\\_e** (`float` [m^-3]): Electron density.\n"
            "- **Z** (`int`, optional): Ion charge state, used for `n_i`.") in api
    assert "**Returns**\n\n- **omega\\_pe** (`float` [rad/s]): The angular frequency; divide by $2\\pi$ for Hz." in api
    assert "**Raises**\n\n- `ValueError`: If `n_e` is not positive." in api
    assert "$$\n\\omega_{pe} = \\sqrt{n_e e^2 / (\\varepsilon_0 m_e)}\n$$" in api  # .. math:: as display math
    assert "```python\n>>> round(plasma_frequency(1e16) / 1e9, 2)\n5.64\n```" in api
    # Google style, and a function documented by the markdown cell above it.
    assert "- **T\\_e** ([eV]): Electron temperature.\n- **mass** ([u]): Ion mass, 39.948 for argon." in api
    assert "```python\nthermal_speed(T_e: float) -> float\n```\n\nThermal speed\n\nThe mean speed" in api
    assert not re.search(r"(?<!`)``(?!`)", api) and ":math:" not in api  # no reStructuredText left


def test_terminal_text_has_the_sections_as_plain_text(waves_env):
    import gilgamesh

    text = str(gilgamesh.docs("waves@1"))
    lines = text.splitlines()
    at = lines.index("plasma_frequency(n_e: float, Z: int = 1) -> float")
    block = lines[at:at + 40]
    assert "    Parameters" in block and "    ----------" in block
    assert "    n_e : float [m^-3]" in block and "        Electron density." in block
    assert "    omega_pe : float [rad/s]" in block
    assert "``Z``" not in text and ":math:" not in text

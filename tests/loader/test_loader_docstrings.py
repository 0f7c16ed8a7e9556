"""Docstrings rendered from one structure: Jupyter's display, help(), IPython's ``?``, the terminal.

The fixture ``tests/notebooks/docs/waves-1.0.0.ipynb`` documents one function in numpydoc, one in
Google style and one by the markdown cell above it, with units in brackets.
"""

from __future__ import annotations

import os

import pytest

from loader_kit import run_python
from support import CHROMIUM, CHROMIUM_ARGS

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
print("@@@@@inspect module")
print(ip.object_inspect_text("waves", detail_level=0))
print("@@@@@inspect function")
print(ip.object_inspect_text("waves.plasma_frequency"))
print("@@@@@markdown")
data, _ = ip.display_formatter.format(module)
print(data["text/markdown"])
'''


@pytest.fixture
def ipython_output(waves_env) -> dict[str, str]:
    result = run_python(IPYTHON_SCRIPT, env=dict(waves_env, NO_COLOR="1", TERM="dumb"))
    assert result.returncode == 0, result.stderr
    parts = result.stdout.split("@@@@@")  # (the text holds "=====": headings underlined)
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
    # ``?`` shows the docstring structured (issue 30): the unit beside the type, not in the text.
    assert "waves@1.0.0 cell 3.py" in function and "n_e : float [m^-3]\n    Electron density." in function

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


# -- IPython's inspector in a real kernel: ``?`` and ``??`` as Jupyter asks for them -------------------
# jupyter_client starts ipykernel with the extension preloaded, as the kernel "Python 3 (Gilgamesh)"
# does; the questions are the kernel protocol's own: ``inspect_request`` (JupyterLab's contextual
# help, Shift-Tab) and an ``execute_request`` of ``name?`` (whose answer is a pager payload).
import re as _re

_ANSI = _re.compile(r"\x1b\[[0-9;]*m")


class _Kernel:
    def __init__(self, env: dict, *arguments: str):
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(extra_arguments=["--ext=gilgamesh", *arguments], env=dict(os.environ, **env))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str) -> dict:
        reply = self.client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        return reply["content"]

    def inspect(self, code: str, detail_level: int = 0) -> dict:
        reply = self.client.inspect(code, len(code), detail_level, reply=True, timeout=60)
        assert reply["content"]["status"] == "ok" and reply["content"]["found"], reply["content"]
        return reply["content"]["data"]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel(waves_env):
    k = _Kernel(waves_env)
    k.run("import gilgamesh.api.waves@1 as waves\nfrom gilgamesh.api.waves@1 import sound_speed")
    yield k
    k.close()


def _docstring_field(plain: str) -> str:
    """The ``Docstring:`` field of an inspector's text/plain, up to the next field."""
    text = _ANSI.sub("", plain)
    body = text.split("Docstring:", 1)[1]
    return _re.split(r"\n(?:Source|File|Type|Init docstring|Class docstring|String form):", body)[0]


@pytest.mark.slow
def test_the_inspector_of_a_real_kernel_shows_the_structured_docstring(kernel):
    data = kernel.inspect("waves.plasma_frequency")
    doc = _docstring_field(data["text/plain"])
    # Parameters with their types and units, returns: the structure, not the raw numpydoc.
    assert "Parameters\n----------" not in data["text/plain"] and "-------" not in doc
    assert "Parameters:\nn_e : float [m^-3]\n    Electron density.\nZ : int, optional\n" in doc
    assert "Returns:\nomega_pe : float [rad/s]\n    The angular frequency; divide by $2\\pi$ for Hz." in doc
    assert "Raises:\nValueError\n    If `n_e` is not positive." in doc
    assert "``Z``" not in doc and ":math:" not in doc and "Electron density [m^-3]" not in doc
    # JupyterLab renders text/markdown: the rendering gilgamesh.docs() shows.
    markdown = data["text/markdown"]
    assert markdown.startswith("```python\nplasma_frequency(n_e: float, Z: int = 1) -> float\n```")
    assert ("**Parameters**\n\n- **n\\_e** (`float` [m^-3]): Electron density.\n"
            "- **Z** (`int`, optional): Ion charge state, used for `n_i`.") in markdown
    assert "**Returns**\n\n- **omega\\_pe** (`float` [rad/s])" in markdown and "----------" not in markdown
    assert "text/html" not in data  # ipykernel sends HTML only with enable_html_pager

    # ``??``: the structured docstring above the source (which keeps its numpydoc, as written).
    detailed = _ANSI.sub("", kernel.inspect("waves.plasma_frequency", detail_level=1)["text/plain"])
    head, source = detailed.split("\nSource:", 1)
    assert "n_e : float [m^-3]\n    Electron density." in head and "----------" not in head
    assert "Parameters\n    ----------" in source

    # A function imported by name (no module in front), Google style, and one documented by
    # the markdown cell above it.
    google = _docstring_field(kernel.inspect("sound_speed")["text/plain"])
    assert "Parameters:\nT_e [eV]\n    Electron temperature.\nmass [u]\n    Ion mass, 39.948 for argon." in google
    assert "Returns:\nfloat [m/s]\n    The Bohm speed." in google and "Args:" not in google
    markdown_doc = kernel.inspect("waves.thermal_speed")["text/markdown"]
    assert "Thermal speed\n\nThe mean speed of Maxwellian electrons" in markdown_doc

    # The module: its narrative and every function structured, as gilgamesh.docs() has them.
    module = kernel.inspect("waves")
    doc = _docstring_field(module["text/plain"])
    assert doc.strip().startswith("Two plasma speeds for the docs tests (waves 1.0.0)")
    api = doc.split("\nAPI:\n", 1)[1]  # (the narrative's own headings are underlined, as markdown text)
    assert "    n_e : float [m^-3]\n        Electron density." in api and "-------" not in api
    assert module["text/markdown"].startswith("**waves 1.0.0** — Two plasma speeds for the docs tests")
    assert "#### API" in module["text/markdown"]

    # ``name?`` run as a cell: the pager payload carries the same rendering.
    content = kernel.run("waves.plasma_frequency?")
    page = next(p for p in content["payload"] if p.get("source") == "page")["data"]
    assert "n_e : float [m^-3]\n    Electron density." in _ANSI.sub("", page["text/plain"])
    assert "Parameters\n----------" not in page["text/plain"]

    # Anything else is shown as IPython would.
    plain = _ANSI.sub("", kernel.inspect("len")["text/plain"])
    assert "Return the number of items in a container." in plain
    assert "text/markdown" not in kernel.inspect("len")


@pytest.mark.slow
@pytest.mark.browser
def test_the_inspectors_html_renders_structured_in_chromium(waves_env, tmp_path):
    """No JupyterLab here: the kernel's own inspector reply (with IPython's HTML pager on, the
    only way ipykernel sends ``text/html``) rendered by headless Chromium."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make browser' installs Debian's chromium")
    k = _Kernel(waves_env, "--InteractiveShell.enable_html_pager=True")
    try:
        k.run("import gilgamesh.api.waves@1 as waves")
        data = k.inspect("waves.plasma_frequency")
    finally:
        k.close()
    assert "text/html" in data
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_content(f"<!doctype html><html><body><main id='inspector'>{data['text/html']}</main></body></html>")
            docstring = page.locator("#inspector .gilgamesh-docstring")
            assert docstring.count() == 1
            # Parameters and returns are lists, their names bold and their types as code.
            items = docstring.locator("li").all_inner_texts()
            assert "n_e (float [m^-3]): Electron density." in items
            assert "Z (int, optional): Ion charge state, used for n_i." in items
            assert any(i.startswith("omega_pe (float [rad/s]): The angular frequency") for i in items)
            assert docstring.locator("strong", has_text="Parameters").count() == 1
            assert docstring.locator("li code", has_text="float").count() >= 2
            text = docstring.inner_text()
            assert "----------" not in text and "``" not in text and ":math:" not in text
            page.screenshot(path=str(tmp_path / "inspector.png"), full_page=True)
        finally:
            browser.close()

"""The notebook spelling: the IPython extension, the kernel "Python 3 (Gilgamesh)", nbclient."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gilgamesh.loader.extension import rewrite_cell_lines
from gilgamesh.loader.kernelspec import DISPLAY_NAME, KERNEL_NAME, install_kernelspec
from loader_kit import FIXTURES, run_python


@pytest.mark.parametrize("cell, expected", [
    ("from gilgamesh.api.langmuir@1.2 import analyze\n", "from gilgamesh.api.langmuir.v1_2 import analyze\n"),
    ("import gilgamesh.api.plasma@1 as p\nx = 1\n", "import gilgamesh.api.plasma.v1 as p\nx = 1\n"),
    ("import gilgamesh.api.langmuir@1.3.0rc1\n", "import gilgamesh.api.langmuir.v1_3_0rc1\n"),
    ("s = 'gilgamesh.api.langmuir@1.2'\n", "s = 'gilgamesh.api.langmuir@1.2'\n"),
    ("x = 1  # gilgamesh.api.langmuir@1.2\n", "x = 1  # gilgamesh.api.langmuir@1.2\n"),
    ("c = a @ b\n", "c = a @ b\n"),
])
def test_rewrite_cell_lines(cell, expected):
    assert "".join(rewrite_cell_lines(cell.splitlines(keepends=True))) == expected


def test_load_ext_in_an_ipython_shell():
    # A real InteractiveShell, in its own process: IPython installs process-wide hooks.
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'gilgamesh')\n"
        "import gilgamesh; gilgamesh.load_ipython_extension(ip)  # twice: still one transformer\n"
        "from gilgamesh.loader.extension import rewrite_cell_lines\n"
        "print(ip.input_transformers_post.count(rewrite_cell_lines))\n"
        "r = ip.run_cell('from gilgamesh.api.langmuir@1.2 import analyze\\n"
        "import gilgamesh.api.langmuir@2 as lm2\\n"
        "note = \"gilgamesh.api.langmuir@1.2\"')\n"
        "print(r.success, ip.user_ns['analyze'].__module__, ip.user_ns['lm2'].__version__, ip.user_ns['note'])\n"
        "print(ip.object_inspect_text('analyze').count('Electron temperature (eV)') > 0)\n"
        "data, _ = ip.display_formatter.format(ip.user_ns['lm2'])\n"
        "print(data['text/markdown'].splitlines()[0])\n"
        "ip.run_line_magic('unload_ext', 'gilgamesh')\n"
        "r = ip.run_cell('import gilgamesh.api.langmuir@1.2')\n"
        "print(r.success)\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "1",
        "True gilgamesh.api.langmuir.v1_2_1 2.0.0 gilgamesh.api.langmuir@1.2",
        "True",
        "**langmuir 2.0.0** — Planar Langmuir probe analysis",
    ]
    assert "SyntaxError" in result.stdout  # without the extension the @ spelling is not Python again
    assert lines[-1] == "False"


def test_install_kernelspec_into_a_prefix(tmp_path):
    path = install_kernelspec(prefix=str(tmp_path))
    assert path == str(tmp_path / "share" / "jupyter" / "kernels" / KERNEL_NAME)
    with open(os.path.join(path, "kernel.json")) as f:
        spec = json.load(f)
    assert spec["display_name"] == DISPLAY_NAME == "Python 3 (Gilgamesh)"
    assert spec["argv"] == [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext=gilgamesh"]
    assert spec["language"] == "python"
    assert os.path.exists(os.path.join(path, "logo-64x64.png"))
    assert install_kernelspec(prefix=str(tmp_path)) == path  # again: replaced in place


def test_cli_kernel_install(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gilgamesh", "kernel", "install", "--prefix", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert os.path.exists(tmp_path / "share" / "jupyter" / "kernels" / "gilgamesh" / "kernel.json")


@pytest.mark.slow
def test_notebook_in_the_gilgamesh_kernel(tmp_path, monkeypatch):
    """A real notebook, run by nbclient in the installed kernel, loads two majors side by side."""
    import nbformat
    from nbclient import NotebookClient

    install_kernelspec(prefix=str(tmp_path / "jupyter-prefix"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter-prefix" / "share" / "jupyter"))
    nb = nbformat.read(os.path.join(FIXTURES, "uses_two_majors.ipynb"), as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    def stdout(i: int) -> str:
        return "".join(o.get("text", "") for o in nb.cells[i].outputs if o.output_type == "stream")

    assert stdout(1) == "['T_e', 'j_is'] ['I_sat', 'T_e', 'j_is']\nTrue\n"
    assert stdout(2) == (
        "gilgamesh.api.langmuir.v1_2_1 gilgamesh.api.langmuir.v2_0_0\nTrue\n"
        "['gilgamesh.api.langmuir.v1_2', 'gilgamesh.api.langmuir.v1_2_1', "
        "'gilgamesh.api.langmuir.v2', 'gilgamesh.api.langmuir.v2_0_0']\n"
    )
    assert stdout(3) == "gilgamesh.api.langmuir@1.2\n"
    assert "The inverse slope of $\\ln I$ against $V$" in stdout(4)  # what `?` shows
    result = [o for o in nb.cells[5].outputs if o.output_type == "execute_result"][0]
    assert result.data["text/markdown"].startswith("**langmuir 2.0.0** — Planar Langmuir probe analysis")
    assert "$$I_e = I_{es}" in result.data["text/markdown"]
    assert result.data["text/plain"] == "<module 'gilgamesh.api.langmuir.v2_0_0' (langmuir@2.0.0)>"

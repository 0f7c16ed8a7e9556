"""Session locks: ``gilgamesh lock`` writes ``gilgamesh.lock``; plain Python, ``%load_ext gilgamesh``
and the Gilgamesh kernel honour it (as do model calls, see tests/service/test_reproducibility.py).

The analysis pins ``langmuir@1.2`` (1.2.1 when it is locked) and ``plasma@1``; afterwards
langmuir 1.2.2 is published. A locked session keeps 1.2.1; an unlocked one drifts to 1.2.2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from loader_kit import fixture_bytes, run_python

ANALYSIS_PY = (
    "import warnings\nwarnings.simplefilter('always')\n"
    "from gilgamesh.api.langmuir.v1_2 import analyze\nimport gilgamesh.api.plasma.v1 as plasma\n"
    "import sys\nprint(sys.modules[analyze.__module__].__version__, plasma.__version__)\n"
)


def _cli(*argv, cwd=None, env=None) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "gilgamesh", *argv], capture_output=True, text=True, cwd=cwd,
                          env=full, timeout=120)


def _notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s, "id": f"c{i}"}
             for i, s in enumerate(sources)]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells,
                       "metadata": {"kernelspec": {"name": "gilgamesh", "display_name": "Python 3 (Gilgamesh)",
                                                   "language": "python"}}})


def _publish_langmuir_122(root: str) -> None:
    from gilgamesh.registry.publish.pipeline import publish

    newer = fixture_bytes("langmuir-1.2.1").replace(b'"version": "1.2.1"', b'"version": "1.2.2"')
    publish(root, newer, validate=False)


@pytest.fixture
def analysis(own_registry, tmp_path):
    """A directory with a script and a notebook, locked; langmuir 1.2.2 published afterwards."""
    work = tmp_path / "analysis"
    work.mkdir()
    (work / "analysis.py").write_text(ANALYSIS_PY)
    (work / "analysis.ipynb").write_text(_notebook(
        "from gilgamesh.api.langmuir@1.2 import analyze\nimport gilgamesh.api.plasma@1 as plasma",
        "import sys\nprint(sys.modules[analyze.__module__].__version__, plasma.__version__)"))
    out = _cli("lock", str(work / "analysis.py"), str(work / "analysis.ipynb"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(f"Locked 2 version(s) in {work / 'gilgamesh.lock'}")
    _publish_langmuir_122(own_registry)
    return work


def test_the_lock_file_is_readable_and_complete(analysis):
    lock = json.loads((analysis / "gilgamesh.lock").read_text())
    assert lock["gilgamesh_lock"] == 1
    assert lock["requested"] == {"langmuir@1.2": "1.2.1", "plasma@1": "1.0.0"}
    assert lock["sources"] == ["analysis.ipynb", "analysis.py"]
    by_name = {(p["name"], p["version"]): p for p in lock["packages"]}
    assert set(by_name) == {("langmuir", "1.2.1"), ("plasma", "1.0.0")}
    # Dependencies included: plasma 1.0.0 was published against langmuir 1.2.1.
    assert by_name[("plasma", "1.0.0")]["dependencies"] == {"langmuir": "1.2.1"}
    assert all(len(p["sha256"]) == 64 for p in lock["packages"])


def test_a_script_honours_the_lock_in_its_directory(analysis, tmp_path):
    locked = run_python(ANALYSIS_PY, cwd=str(analysis))
    assert locked.returncode == 0, locked.stderr
    assert locked.stdout.split() == ["1.2.1", "1.0.0"]
    assert "Warning" not in locked.stderr
    # The same code elsewhere drifts to the newest 1.2.x ...
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_python(ANALYSIS_PY, cwd=str(elsewhere)).stdout.split() == ["1.2.2", "1.0.0"]
    # ... unless GILGAMESH_LOCK names the lock.
    pinned = run_python(ANALYSIS_PY, {"GILGAMESH_LOCK": str(analysis / "gilgamesh.lock")}, cwd=str(elsewhere))
    assert pinned.stdout.split() == ["1.2.1", "1.0.0"]
    # Warm: the parsed lock is a memo; the answer is the same.
    assert run_python(ANALYSIS_PY, cwd=str(analysis)).stdout == locked.stdout


def test_load_ext_in_ipython_honours_the_lock(analysis):
    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'gilgamesh')\n"
        "r = ip.run_cell('from gilgamesh.api.langmuir@1.2 import analyze\\nimport gilgamesh.api.plasma@1 as p')\n"
        "import sys\n"
        "print(r.success, sys.modules[ip.user_ns['analyze'].__module__].__version__, ip.user_ns['p'].__version__)\n"
    )
    result = run_python(script, cwd=str(analysis))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1.2.1", "1.0.0"]


@pytest.mark.slow
def test_a_notebook_in_the_gilgamesh_kernel_honours_the_lock(analysis, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from gilgamesh.loader.kernelspec import KERNEL_NAME, install_kernelspec

    install_kernelspec(prefix=str(tmp_path / "jupyter-prefix"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter-prefix" / "share" / "jupyter"))
    nb = nbformat.read(str(analysis / "analysis.ipynb"), as_version=4)
    # The kernel runs in the notebook's directory, as Jupyter starts it.
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=120, resources={"metadata": {"path": str(analysis)}})
    client.execute()
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert printed.split() == ["1.2.1", "1.0.0"]


def test_lock_keeps_what_is_locked_and_upgrade_re_resolves(analysis):
    again = _cli("lock", str(analysis))  # a directory: its notebooks and scripts
    assert again.returncode == 0, again.stderr
    assert json.loads((analysis / "gilgamesh.lock").read_text())["requested"]["langmuir@1.2"] == "1.2.1"
    upgraded = _cli("lock", "--upgrade", str(analysis / "analysis.py"), "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["requested"]["langmuir@1.2"] == "1.2.2"
    assert run_python(ANALYSIS_PY, cwd=str(analysis)).stdout.split() == ["1.2.2", "1.0.0"]


def test_a_locked_version_that_was_yanked_warns(analysis, own_registry):
    from gilgamesh.registry.store.git_store import Store, writer_lock

    with writer_lock(own_registry):
        Store(own_registry).set_yanked("langmuir", "1.2.1", "bad fit near the floating potential", "test")
    result = run_python(ANALYSIS_PY, cwd=str(analysis))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1.2.1", "1.0.0"]  # still the locked version
    assert "YankedVersionWarning: langmuir@1.2.1 is yanked: bad fit near the floating potential" in result.stderr


def test_a_locked_sha256_that_does_not_match_is_refused(analysis):
    path = analysis / "gilgamesh.lock"
    lock = json.loads(path.read_text())
    for p in lock["packages"]:
        if p["name"] == "langmuir":
            p["sha256"] = "0" * 64
    path.write_text(json.dumps(lock, indent=2))
    result = run_python(ANALYSIS_PY, cwd=str(analysis))
    assert result.returncode != 0
    assert f"langmuir@1.2.1 is locked with sha256 {'0' * 64} in {path}" in result.stderr
    assert "refused" in result.stderr


def test_an_import_the_lock_does_not_cover_warns_and_resolves_as_usual(analysis):
    code = "import warnings\nwarnings.simplefilter('always')\nimport gilgamesh.api.langmuir.v2 as m\nprint(m.__version__)"
    result = run_python(code, cwd=str(analysis))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2.0.0"
    assert "UnlockedImportWarning: langmuir.v2 is not covered by the session lock" in result.stderr


def test_a_damaged_lock_is_an_error_naming_the_file(analysis):
    (analysis / "gilgamesh.lock").write_text("{not json")
    result = run_python(ANALYSIS_PY, cwd=str(analysis))
    assert result.returncode != 0
    assert f"the session lock {analysis / 'gilgamesh.lock'} is not valid JSON" in result.stderr
    refused = _cli("lock", str(analysis / "analysis.py"))
    assert refused.returncode == 1 and "is not valid JSON" in refused.stderr


def test_lock_refuses_bad_input_and_writes_nothing(analysis, tmp_path):
    missing = _cli("lock", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "nope.py: no such file or directory" in missing.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "uses.py").write_text("import gilgamesh.api.langmuir.v9 as m\n")
    refused = _cli("lock", str(bad / "uses.py"))
    assert refused.returncode == 1 and "langmuir@9 does not resolve" in refused.stderr
    assert not (bad / "gilgamesh.lock").exists()

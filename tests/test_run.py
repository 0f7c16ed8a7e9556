"""``gilgamesh run`` and ``gilgamesh fork`` as an author uses them: real CLI subprocesses, real kernels.

One registry for the module holds ``base@1.0.0`` and ``demo@1.0.0``, which imports ``base@1`` with
the notebook spelling: a notebook that runs it needs the Gilgamesh extension and the registry,
which is what a plain kernel lacks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

import nbfactory as f
from support import run_cli

pytestmark = pytest.mark.slow

DEMO_CELLS = [
    f.markdown("# demo\n\nA fixture that imports another API."),
    f.code("from gilgamesh.api.base@1 import UNIT"),
    f.markdown("Twice a length."),
    f.code("def twice(x: float) -> float:\n    return 2 * x"),
    f.code("print(twice(2.0), UNIT)", "example"),
]


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("run") / "registry")
    init_registry(root)
    base = [f.markdown("# base\n\nUnits."), f.code("UNIT = 'm'")]
    publish(root, f.to_bytes(f.notebook("base", "1.0.0", base)), validate=False)
    publish(root, f.to_bytes(f.notebook("demo", "1.0.0", DEMO_CELLS)), validate=False)
    return root


@pytest.fixture
def env(tmp_path):
    """Each CLI run with its own cache: nothing fetched by an earlier test helps."""
    return {"GILGAMESH_CACHE": str(tmp_path / "cache")}


def write(path, cells, name="demo", version="1.1.0", executed=False) -> str:
    path.write_bytes(f.to_bytes(f.notebook(name, version, cells, executed=executed)))
    return str(path)


def code_cells(path) -> list:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)  # what was saved is a notebook Jupyter opens
    return [c for c in nb.cells if c.cell_type == "code"]


def texts(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def test_run_saves_the_outputs_of_a_notebook_that_imports_from_the_registry_and_validate_accepts_them(reg, env, tmp_path):
    path = write(tmp_path / "never run.ipynb", DEMO_CELLS + [f.code("# NBVAL_IGNORE_OUTPUT\nimport os\nprint(os.getcwd())", "example")])
    os.chmod(path, 0o640)
    # Never run: validation refuses it, naming the command that fixes it.
    refused = run_cli("validate", path, "--registry", reg, env=env)
    assert refused.returncode == 1 and "gilgamesh run" in refused.stderr

    out = run_cli("run", path, "--registry", reg, env=env)
    assert out.returncode == 0, out.stderr
    assert f"{path}: ran 4 code cells in " in out.stdout and out.stdout.rstrip().endswith("outputs saved")
    # Progress per cell, on stderr, in order.
    progress = [line for line in out.stderr.splitlines() if line.startswith("[")]
    assert [line.split(" ... ")[0] for line in progress] == [
        "[1/4] cell 2: from gilgamesh.api.base@1 import UNIT", "[2/4] cell 4: def twice(x: float) -> float:",
        "[3/4] cell 5: print(twice(2.0), UNIT)", "[4/4] cell 6: # NBVAL_IGNORE_OUTPUT"]
    assert all(" ... ok (" in line for line in progress)
    cells = code_cells(path)
    assert [c.execution_count for c in cells] == [1, 2, 3, 4]
    assert texts(cells[2]) == "4.0 m\n"
    cwd = texts(cells[3]).strip()
    assert os.path.basename(cwd) == "work" and "gilgamesh-validate-" in cwd  # validation's scratch, now gone
    assert not os.path.exists(cwd)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o640)
    assert [n for n in os.listdir(tmp_path) if n.startswith(".gilgamesh-run-")] == []

    validated = run_cli("validate", path, "--registry", reg, env=env)
    assert validated.returncode == 0, validated.stderr
    assert "demo@1.1.0 is valid" in validated.stdout


def test_a_failing_cell_keeps_the_outputs_up_to_it_and_here_runs_beside_the_notebook(reg, env, tmp_path):
    (tmp_path / "data.txt").write_text("42\n")
    reads = write(tmp_path / "reads.ipynb", [
        f.markdown("# reads"), f.code("import os\nprint(open('data.txt').read().strip(), os.getcwd())"),
        f.code("open('written.txt', 'w').write('from the kernel')")])
    old = {"output_type": "stream", "name": "stdout", "text": "from an earlier run\n"}
    fails = write(tmp_path / "fails.ipynb", [
        f.markdown("# fails"), f.code("print('before')"), f.code("z = 1 / 0\nprint('unreached')"),
        dict(f.code("print('after')", outputs=[old]), execution_count=7)], executed=True)

    out = run_cli("run", "--here", fails, reads, "--registry", reg, env=env)
    assert out.returncode == 1
    assert (f"error: {fails}: cell 3 ('z = 1 / 0') raised ZeroDivisionError: division by zero "
            "(line 1: z = 1 / 0); outputs saved up to that cell") in out.stderr
    assert "[2/3] cell 3: z = 1 / 0 ... failed (" in out.stderr
    before, failing, after = code_cells(fails)
    assert texts(before) == "before\n"
    assert [o.output_type for o in failing.outputs] == ["error"] and failing.outputs[0].ename == "ZeroDivisionError"
    assert after.execution_count == 7 and texts(after) == old["text"]  # not run: as it was, like Jupyter

    # The other notebook ran all the same, in its own directory.
    assert f"{reads}: ran 2 code cells" in out.stdout
    assert texts(code_cells(reads)[0]) == f"42 {tmp_path}\n"
    assert (tmp_path / "written.txt").read_text() == "from the kernel"


def test_missing_files_and_non_notebooks_are_named_before_any_kernel_runs(reg, env, tmp_path):
    good = write(tmp_path / "good.ipynb", [f.code("print(1)")])
    before = open(good, "rb").read()
    out = run_cli("run", good, str(tmp_path / "missing.ipynb"), "--registry", reg, env=env)
    assert out.returncode == 2
    assert f"error: {tmp_path / 'missing.ipynb'}: no such file" in out.stderr
    (tmp_path / "script.py").write_text("print(1)\n")
    out = run_cli("run", good, str(tmp_path / "script.py"), "--registry", reg, env=env)
    assert out.returncode == 1
    assert f"error: {tmp_path / 'script.py'} is not a Jupyter notebook (nbformat 4) that can be run" in out.stderr
    assert open(good, "rb").read() == before  # no kernel ran, nothing was saved


def test_a_forked_notebook_runs_with_gilgamesh_run_and_with_the_kernel_it_names(reg, env, tmp_path):
    path = str(tmp_path / "mine.ipynb")
    out = run_cli("fork", "demo@1", path, "--registry", reg, env=env)
    assert out.returncode == 0, out.stderr
    assert f"gilgamesh run {path}" in out.stdout
    kernelspec = json.load(open(path))["metadata"]["kernelspec"]
    assert kernelspec == {"name": "gilgamesh", "display_name": "Python 3 (Gilgamesh)", "language": "python"}

    ran = run_cli("run", path, "--registry", reg, env=env)
    assert ran.returncode == 0, ran.stderr
    assert texts(code_cells(path)[2]) == "4.0 m\n"

    # Jupyter's way: nbclient starts the kernel the notebook names, as installed by `gilgamesh kernel install`.
    prefix = tmp_path / "prefix"
    assert run_cli("kernel", "install", "--prefix", str(prefix)).returncode == 0
    jupyter_env = {**os.environ, **env, "GILGAMESH_REGISTRY": reg, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    script = ("import sys, nbformat\nfrom nbclient import NotebookClient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "NotebookClient(nb, kernel_name=nb.metadata.kernelspec.name, startup_timeout=300).execute()\n"
              "print(''.join(o.get('text', '') for o in nb.cells[-1].outputs), end='')\n")
    done = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, env=jupyter_env,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4.0 m\n"

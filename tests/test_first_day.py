"""What a new lab member trips over (issue 30), each through the real thing: pip building the
wheel, the README's and the guide's examples run as written on a fresh copy of the checkout, and
``gilgamesh kernel install`` from two environments.

(``serve`` on a taken port: tests/service/test_serve.py; publishing over HTTP without a token:
tests/service/test_cli_http.py; ``/healthz`` on a Dask cluster: tests/service/test_dask.py.)
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import zipfile

import pytest

import nbfactory as f
from support import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- 1. pip install / pip wheel is quiet and complete ------------------------------------------------
@pytest.mark.slow
def test_the_wheel_builds_without_package_would_be_ignored_and_holds_the_service_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                          "-w", str(tmp_path), ROOT], capture_output=True, text=True, timeout=600)
    printed = out.stdout + out.stderr
    assert out.returncode == 0, printed
    assert "Package would be ignored" not in printed, printed
    assert "is absent from the `packages` configuration" not in printed, printed
    (wheel,) = glob.glob(str(tmp_path / "gilgamesh-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())

    # Every module, under the names pyproject.toml maps the directories to.
    mapping = {"gilgamesh": "gilgamesh", "loader": "gilgamesh/loader", "registry": "gilgamesh/registry",
               "service": "gilgamesh/service"}
    for top, installed in mapping.items():
        for directory, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__")]
            relative = os.path.relpath(directory, os.path.join(ROOT, top))
            for name in files:
                if name.endswith(".py"):
                    path = "/".join(p for p in (installed, relative, name) if p != ".")
                    assert path in names, f"{path} is not in the wheel"
    # What service/app.py finds beside itself at run time: the templates and the static files.
    service = os.path.join(ROOT, "service")
    wanted = [os.path.relpath(p, service) for p in glob.glob(os.path.join(service, "templates", "*"))]
    wanted += [os.path.relpath(p, service) for p in glob.glob(os.path.join(service, "static", "*")) if os.path.isfile(p)]
    katex = os.path.join(service, "static", "node_modules", "katex", "dist", "katex.min.js")
    if os.path.exists(katex):  # `make static` installed KaTeX: it is served from the wheel too
        wanted.append(os.path.relpath(katex, service))
    assert any(w.startswith("templates/") for w in wanted) and "static/app.js" in wanted
    for relative in wanted:
        assert f"gilgamesh/service/{relative}" in names, f"{relative} is not in the wheel"
    assert not any("__pycache__" in n for n in names)


# -- 2. the README's and the guide's examples, as written -------------------------------------------
def _sh_block(document: str, needle: str) -> list[str]:
    """The lines of the one ```sh block of ``document`` that holds ``needle``."""
    with open(os.path.join(ROOT, document), encoding="utf-8") as fh:
        blocks = [b for b in re.findall(r"```sh\n(.*?)```", fh.read(), re.S) if needle in b]
    assert len(blocks) == 1, f"{document}: {len(blocks)} sh blocks hold {needle!r}"
    return blocks[0].splitlines()


def _run_block(lines: list[str], cwd: str, env: dict, home: str) -> list[str]:
    """Run every ``gilgamesh`` and ``export`` line of a block in ``cwd``, as a shell would (``~``
    is ``home``); ``serve`` (which runs until stopped) is left out. Returns the commands run."""
    env = dict(env)
    ran = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            value = value.replace("$PWD", cwd)
            env[name] = home + value[1:] if value.startswith("~") else value
            continue
        assert words[0] == "gilgamesh", f"not a gilgamesh command: {line}"
        if words[1] == "serve":
            continue
        args = []
        for word in words[1:]:
            matched = sorted(glob.glob(word, root_dir=cwd)) if any(c in word for c in "*?[") else []
            args += matched or [word]
        out = run_cli(*args, env=env, cwd=cwd, timeout=900)
        assert out.returncode == 0, f"`{line.split('#')[0].strip()}` exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        ran.append(" ".join(words))
    return ran


@pytest.fixture
def fresh_clone(tmp_path):
    """``(clone, env, home)``: a working directory holding what a fresh clone has (api_notebooks/),
    and an environment that reaches nothing of this machine's (registry, cache, Jupyter, token)."""
    clone = tmp_path / "clone"
    shutil.copytree(os.path.join(ROOT, "api_notebooks"), clone / "api_notebooks")
    home = tmp_path / "home"
    home.mkdir()
    env = {"GILGAMESH_REGISTRY": str(home / ".gilgamesh" / "registry"), "GILGAMESH_CACHE": str(home / "cache"),
           "GILGAMESH_TOKEN": "", "GILGAMESH_LOCK": "", "JUPYTER_DATA_DIR": str(home / "jupyter"),
           "JUPYTER_PATH": ""}
    return str(clone), env, str(home)


def _seeded(root: str) -> str:
    """A registry holding the lab's notebooks and bibliography, as `make seed` leaves it (without
    validating them again: tests/physics validates each)."""
    from gilgamesh.registry.facade import LocalRegistry, publish_order
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    init_registry(root)
    with open(os.path.join(ROOT, "api_notebooks", "references.bib"), encoding="utf-8") as fh:
        LocalRegistry(root, "test").add_bibliography(fh.read(), "references.bib")
    files = []
    for path in sorted(glob.glob(os.path.join(ROOT, "api_notebooks", "*", "*.ipynb"))):
        with open(path, "rb") as fh:
            files.append((path, fh.read()))
    for _, data in publish_order(files):
        publish(root, data, publisher="test", validate=False)
    return root


@pytest.mark.slow
def test_the_readme_session_runs_as_written_on_a_fresh_clone(fresh_clone):
    """README, Using it: init, the bibliography, publish everything (validated), read, fork, run,
    validate, yank, a token, the kernel."""
    clone, env, home = fresh_clone
    ran = _run_block(_sh_block("README.md", "gilgamesh init "), clone, env, home)
    assert any(c.startswith("gilgamesh publish api_notebooks/") for c in ran) and len(ran) >= 14
    assert os.path.isfile(os.path.join(home, ".gilgamesh", "registry", "index", "langmuir.json"))
    assert os.path.isfile(os.path.join(home, "jupyter", "kernels", "gilgamesh", "kernel.json"))


@pytest.mark.slow
def test_the_fork_examples_of_the_readme_and_the_guide_run_as_written_on_a_fresh_clone(fresh_clone):
    """README, Writing an API notebook (`fork plasma@1 work/plasma-1.2.0.ipynb`: work/ is made) and
    the guide's section 4 (fork, run, diff, validate, publish)."""
    clone, env, home = fresh_clone
    env["GILGAMESH_REGISTRY"] = _seeded(os.path.join(home, "registry"))
    before = {p: open(p, "rb").read() for p in glob.glob(os.path.join(clone, "api_notebooks", "*", "*.ipynb"))}
    readme = _run_block(_sh_block("README.md", "gilgamesh fork plasma@"), clone, env, home)
    guide = _run_block(_sh_block("docs/guide.md", "gilgamesh fork langmuir@"), clone, env, home)
    assert [c.split()[1] for c in readme] == ["fork", "run", "diff", "publish"]
    assert [c.split()[1] for c in guide] == ["fork", "run", "diff", "validate", "publish"]
    listed = json.loads(run_cli("list", "--json", env=env, cwd=clone).stdout)
    latest = {row["name"]: row["latest"] for row in listed}
    assert latest["plasma"] == "1.2.0"
    versions = json.loads(run_cli("versions", "langmuir", "--json", env=env, cwd=clone).stdout)
    assert "1.3.0" in [row["version"] for row in versions]
    # The published notebooks of the checkout are untouched (the tests freeze their sha256).
    assert {p: open(p, "rb").read() for p in before} == before


# -- 7. kernel install from two environments --------------------------------------------------------
def _second_environment(path) -> str:
    """A real second Python environment (its own sys.prefix and python), importing this checkout's
    Gilgamesh through a .pth; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = os.path.join(path, "bin", "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(purelib, "gilgamesh_checkout.pth"), "w") as fh:
        fh.write("".join(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages()))
    return python


def _cli_in(python: str, *args, env: dict, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "gilgamesh", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=cwd, timeout=300)


def _argv0(kernel_dir) -> str:
    with open(os.path.join(kernel_dir, "kernel.json")) as fh:
        return json.load(fh)["argv"][0]


@pytest.mark.parametrize("where", ["user", "prefix"])
def test_kernel_install_in_a_second_environment_keeps_the_first_ones_kernel(tmp_path, registry, where):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    other = _second_environment(tmp_path / "lab-b" / ".venv")
    here = sys.executable
    data = tmp_path / "jupyter-data"
    prefix = tmp_path / "jupyter-prefix"
    kernels = data / "kernels" if where == "user" else prefix / "share" / "jupyter" / "kernels"
    # Jupyter finds the kernels there (the user's directory, or the prefix on JUPYTER_PATH), nothing else of this machine.
    env = {"JUPYTER_DATA_DIR": str(data), "JUPYTER_PATH": str(prefix / "share" / "jupyter") if where == "prefix" else "",
           "GILGAMESH_REGISTRY": registry}
    option = [] if where == "user" else ["--prefix", prefix]

    first = _cli_in(here, "kernel", "install", *option, "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["name"] == "gilgamesh" and _argv0(kernels / "gilgamesh") == here

    second = _cli_in(other, "kernel", "install", *option, env=env)
    assert second.returncode == 0, second.stderr
    assert "'Python 3 (Gilgamesh, lab-b)' (gilgamesh-lab-b" in second.stdout
    assert f"runs another environment's Python, {here}: left as it is" in second.stdout
    assert "--replace" in second.stdout
    assert _argv0(kernels / "gilgamesh") == here  # the first environment's kernel is still its own
    assert _argv0(kernels / "gilgamesh-lab-b") == other

    # Each environment's working copy names the kernel that runs that environment.
    for python, name, display in ((here, "gilgamesh", "Python 3 (Gilgamesh)"),
                                  (other, "gilgamesh-lab-b", "Python 3 (Gilgamesh, lab-b)")):
        target = tmp_path / f"{name}.ipynb"
        forked = _cli_in(python, "fork", "demo@1", target, env=env)
        assert forked.returncode == 0, forked.stderr
        assert "install the kernel once" not in forked.stdout  # it is installed
        kernelspec = json.loads(target.read_text())["metadata"]["kernelspec"]
        assert kernelspec == {"name": name, "display_name": display, "language": "python"}
        assert _argv0(kernels / kernelspec["name"]) == python

    # Installing again changes nothing; --replace takes the name and says whose it was.
    again = _cli_in(other, "kernel", "install", *option, "--json", env=env)
    assert json.loads(again.stdout)["name"] == "gilgamesh-lab-b" and json.loads(again.stdout)["replaced"] is None
    replaced = _cli_in(other, "kernel", "install", *option, "--replace", env=env)
    assert replaced.returncode == 0, replaced.stderr
    assert f"It replaced the kernel 'gilgamesh' that ran {here}." in replaced.stdout
    assert _argv0(kernels / "gilgamesh") == other

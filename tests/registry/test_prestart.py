"""Pre-started validation kernels (registry/validation/prestart.py, keeper.py): real CLI processes,
a real keeper, real kernels, real git.

Each test has a keeper of its own (its own GILGAMESH_RUNTIME_DIR, a short path for the socket),
stopped when it ends; the suite itself runs with pre-starting off (tests/conftest.py). A run says
which way it went on stderr (``GILGAMESH_PRESTART=verbose``): "ran in a pre-started kernel" when
the job went to a runner the keeper had ready.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import nbformat
import psutil
import pytest

import nbfactory as f
from support import run_cli, update_settings

pytestmark = pytest.mark.slow

PRESTARTED = "ran in a pre-started kernel"
STARTED_KEEPER = "started a keeper of pre-started kernels"


@pytest.fixture
def keeper(monkeypatch):
    """The CLI's environment for a keeper of this test's own; the keeper is stopped afterwards and
    nothing of it may be left."""
    from gilgamesh.registry.validation import prestart

    runtime = tempfile.mkdtemp(prefix="gk-", dir="/tmp")
    env = {"GILGAMESH_PRESTART": "verbose", "GILGAMESH_RUNTIME_DIR": runtime, "GILGAMESH_PRESTART_IDLE": "300"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # this process's own calls (status, stop) reach the same keeper
    yield env
    state = prestart.status()
    pids = [] if state is None else [state["pid"], *state["handed"], *(r["pid"] for r in state["runners"])]
    prestart.stop(every=True)
    _gone(pids)
    shutil.rmtree(runtime, ignore_errors=True)


def _gone(pids, timeout=30.0):
    until = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < until:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.1)
    assert not alive, f"still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _ready(timeout=120.0) -> dict:
    """The keeper's state once it has a runner whose kernel is ready."""
    from gilgamesh.registry.validation import prestart

    until = time.monotonic() + timeout
    while time.monotonic() < until:
        state = prestart.status()
        if state and any(r["state"] == "ready" and r["alive"] for r in state["runners"]):
            return state
        time.sleep(0.1)
    raise AssertionError(f"no runner became ready: {prestart.status()}")


def _write(path, cells, version="1.0.0", name="demo", executed=False) -> str:
    path.write_bytes(f.to_bytes(f.notebook(name, version, cells, executed=executed)))
    return str(path)


def _outputs(path) -> list[str]:
    nb = nbformat.read(str(path), as_version=4)
    return ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells if c.cell_type == "code"]


PROBE = ("import os, random, sys\n"
         "print(os.getpid(), random.random(), hash('gilgamesh'), 'colorsys' in sys.modules)")


def test_a_ready_kernel_serves_one_job_and_the_next_job_gets_a_fresh_one(registry, keeper, tmp_path):
    update_settings(registry, sandbox=False, require_sandbox=False)  # the kernel's pid is the host's
    first = _write(tmp_path / "first.ipynb", [f.markdown("# demo"), f.code("import colorsys\n" + PROBE)])
    second = _write(tmp_path / "second.ipynb", [f.markdown("# demo"), f.code(PROBE)])
    third = _write(tmp_path / "third.ipynb", [f.markdown("# demo"), f.code(PROBE)])

    out = run_cli("run", first, "--registry", registry, env=keeper)  # no keeper yet: it starts one
    assert out.returncode == 0, out.stderr
    assert STARTED_KEEPER in out.stderr and PRESTARTED not in out.stderr
    runs = []
    for path in (first, second, third):
        ready = _ready()
        (runner,) = ready["runners"]
        out = run_cli("run", path, "--registry", registry, env=keeper)
        assert out.returncode == 0, out.stderr
        assert PRESTARTED in out.stderr and f"runner pid {runner['pid']}" in out.stderr
        assert not _alive(runner["pid"])  # killed after its one job
        pid, rand, hashed, colorsys_loaded = _outputs(path)[0].split()
        assert not _alive(int(pid))  # the kernel too
        runs.append((int(pid), rand, hashed, colorsys_loaded))
    assert len({r[0] for r in runs}) == 3  # three kernels
    assert len({r[1] for r in runs}) == 3 and len({r[2] for r in runs}) == 3  # random and hash seeded anew
    assert [r[3] for r in runs] == ["True", "False", "False"]  # what one notebook imported, the next lacks


def test_a_missing_import_is_still_caught_by_a_pre_started_kernel(registry, keeper, tmp_path):
    imports = _write(tmp_path / "imports.ipynb", [f.markdown("# demo"), f.code("import colorsys\nprint(colorsys.rgb_to_hsv(1, 0, 0))")])
    forgets = _write(tmp_path / "forgets.ipynb", [f.markdown("# demo"), f.code("print(colorsys.rgb_to_hsv(1, 0, 0))")],
                     version="1.0.1", executed=True)
    assert run_cli("run", imports, "--registry", registry, env=keeper).returncode == 0  # starts the keeper
    _ready()
    out = run_cli("run", imports, "--registry", registry, env=keeper)
    assert out.returncode == 0 and PRESTARTED in out.stderr, out.stderr
    _ready()
    refused = run_cli("validate", forgets, "--registry", registry, env=keeper)
    assert refused.returncode == 1
    assert PRESTARTED in refused.stderr
    assert "NameError: name 'colorsys' is not defined" in refused.stderr


def test_validate_then_publish_runs_the_notebook_once_and_a_changed_environment_runs_it_again(registry, keeper, tmp_path):
    path = tmp_path / "demo.ipynb"
    path.write_bytes(f.simple_api(extra="print(scale(1.5))"))
    assert run_cli("run", str(path), "--registry", registry, env=keeper).returncode == 0
    _ready()
    validated = run_cli("validate", str(path), "--registry", registry, "--json", env=keeper)
    assert validated.returncode == 0, validated.stderr
    assert PRESTARTED in validated.stderr
    assert json.loads(validated.stdout)["results"][0]["validation"]["cached"] is False
    published = run_cli("publish", str(path), "--registry", registry, "--json", env=keeper)
    assert published.returncode == 0, published.stderr
    assert "ran in a" not in published.stderr  # no kernel was asked for
    assert json.loads(published.stdout)["results"][0]["validation"]["cached"] is True

    # The same bytes in another environment (a setting the kernel runs under) run again.
    path.write_bytes(f.simple_api(version="1.0.1", extra="print(scale(1.5))"))
    assert run_cli("run", str(path), "--registry", registry, env=keeper).returncode == 0
    assert run_cli("validate", str(path), "--registry", registry, env=keeper).returncode == 0
    update_settings(registry, validation_memory_mb=3000)
    published = run_cli("publish", str(path), "--registry", registry, "--json", env=keeper)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["results"][0]["validation"]["cached"] is False


def test_a_changed_environment_discards_the_ready_kernel(registry, keeper, tmp_path):
    packages = tmp_path / "packages"  # on PYTHONPATH: stands for site-packages, where installs land
    packages.mkdir()
    env = {**keeper, "PYTHONPATH": str(packages)}
    nb = _write(tmp_path / "nb.ipynb", [f.markdown("# demo"), f.code("print(1)")])
    assert run_cli("run", nb, "--registry", registry, env=env).returncode == 0
    (old,) = _ready()["runners"]

    (packages / "newly_installed.py").write_text("X = 1\n")  # a distribution came: the directory's time moved
    out = run_cli("run", nb, "--registry", registry, env=env)
    assert out.returncode == 0, out.stderr
    assert PRESTARTED not in out.stderr and "ran in a newly started kernel" in out.stderr
    assert not _alive(old["pid"])  # discarded, never used
    (new,) = _ready()["runners"]
    assert new["key"] != old["key"] and new["slot"] == old["slot"]

    update_settings(registry, sandbox_processes=200)  # a setting of the sandbox
    out = run_cli("run", nb, "--registry", registry, env=env)
    assert out.returncode == 0 and PRESTARTED not in out.stderr, out.stderr
    assert not _alive(new["pid"])

    # Another variable the kernel sees is another environment: its own runner, this one left alone.
    (ready,) = _ready()["runners"]
    out = run_cli("run", nb, "--registry", registry, env={**env, "LC_GILGAMESH_TEST": "1"})
    assert out.returncode == 0 and PRESTARTED not in out.stderr, out.stderr
    assert _alive(ready["pid"])


def test_the_keeper_exits_when_idle_and_leaves_nothing(registry, keeper, tmp_path):
    from gilgamesh.registry.validation import prestart

    env = {**keeper, "GILGAMESH_PRESTART_IDLE": "3"}
    nb = _write(tmp_path / "nb.ipynb", [f.markdown("# demo"), f.code("print(1)")])
    assert run_cli("run", nb, "--registry", registry, env=env).returncode == 0
    state = _ready()
    assert state["idle"] == 3
    (runner,) = state["runners"]
    _gone([state["pid"], runner["pid"]], timeout=60)
    assert prestart.status() is None
    assert not [n for n in os.listdir(keeper["GILGAMESH_RUNTIME_DIR"]) if n.endswith(".sock")]


def test_a_dead_or_broken_keeper_falls_back_to_the_direct_launch(registry, keeper, tmp_path):
    from gilgamesh.registry.validation import prestart

    nb = _write(tmp_path / "nb.ipynb", [f.markdown("# demo"), f.code("print(1)")])
    assert run_cli("run", nb, "--registry", registry, env=keeper).returncode == 0
    state = _ready()
    (runner,) = state["runners"]
    os.kill(state["pid"], signal.SIGKILL)  # its socket stays behind; its runner dies with it
    _gone([state["pid"], runner["pid"]])
    path = prestart.socket_path(keeper["GILGAMESH_RUNTIME_DIR"])
    assert os.path.exists(path)
    out = run_cli("run", nb, "--registry", registry, env=keeper)
    assert out.returncode == 0, out.stderr
    assert STARTED_KEEPER in out.stderr and _outputs(nb) == ["1\n"]
    replacement = _ready()  # a new keeper took over the socket
    assert replacement["pid"] != state["pid"]
    prestart.stop()
    _gone([replacement["pid"], *(r["pid"] for r in replacement["runners"])])

    # Something that answers nonsense on the keeper's socket.
    assert not os.path.exists(path)  # the keeper that stopped took its socket with it
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fake.bind(path)
    fake.listen(4)

    def answer():
        conn, _ = fake.accept()
        conn.recv(65536)
        conn.sendall(b"nonsense\n")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        out = run_cli("run", nb, "--registry", registry, env=keeper)
    finally:
        fake.close()
        os.unlink(path)
    assert out.returncode == 0, out.stderr
    assert "the keeper failed" in out.stderr and _outputs(nb) == ["1\n"]


def test_the_environment_key(tmp_path):
    from gilgamesh.registry.validation.fingerprint import environment_key, keyed_environment, runner_environment

    env = runner_environment({"PATH": "/usr/bin", "GILGAMESH_TOKEN": "secret", "PWD": "/here", "HOME": "/root",
                              "TMPDIR": "/scratch/tmp", "GILGAMESH_PRESTART": "1", "PYTHONPATH": str(tmp_path)})
    assert "GILGAMESH_TOKEN" not in env and "GILGAMESH_PRESTART" not in env
    assert keyed_environment(env, sandbox=True) == {"PATH": "/usr/bin", "PYTHONPATH": str(tmp_path)}
    assert keyed_environment(env, sandbox=False) == {"PATH": "/usr/bin", "HOME": "/root", "PYTHONPATH": str(tmp_path)}
    settings = {"sandbox": True, "validation_memory_mb": 2048}
    key, parts = environment_key("/r", settings, True, env, 4)
    assert environment_key("/r", settings, True, {**env, "PWD": "/elsewhere", "TMPDIR": "/x"}, 4)[0] == key
    assert environment_key("/r", settings, True, {**env, "HOME": "/elsewhere"}, 4)[0] == key  # not in the sandbox
    assert environment_key("/r", settings, False, env, 4)[0] != key
    assert environment_key("/other", settings, True, env, 4)[0] != key
    assert environment_key("/r", {**settings, "validation_memory_mb": 1}, True, env, 4)[0] != key
    assert environment_key("/r", settings, True, {**env, "LANG": "C"}, 4)[0] != key
    assert environment_key("/r", settings, True, env, 5)[0] != key
    mtime = os.stat(tmp_path).st_mtime_ns
    (tmp_path / "new.dist-info").mkdir()
    os.utime(tmp_path, ns=(mtime + 10**9, mtime + 10**9))
    assert environment_key("/r", settings, True, env, 4)[0] != key  # a distribution came
    assert parts["python"][2] == __import__("sys").version

"""``serve()`` as users run it: several processes on one port, sharing the registry; imports over HTTP."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import service_apis as apis
import pytest
from service_kit import assert_error, http

SERVE = textwrap.dedent("""
    import sys
    from gilgamesh.service.app import serve
    serve("127.0.0.1", 0, sys.argv[1], workers=int(sys.argv[2]), model_workers=1)
""")


@pytest.fixture
def served(fresh_registry, service_env):
    """``serve(..., workers=2)`` in a subprocess; yields (url, registry root)."""
    from gilgamesh.registry.publish.pipeline import publish

    publish(fresh_registry, apis.small("shared", "1.0.0"), publisher="t", validate=False)
    proc = subprocess.Popen([sys.executable, "-c", SERVE, fresh_registry, "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = match.group(1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the forked processes start listening
            try:
                if http("GET", url + "/healthz", timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(0.05)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    yield url, fresh_registry
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:  # pragma: no cover - diagnostic
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def _pids_seen(url: str, want: int, attempts: int = 400) -> set:
    pids = set()
    for _ in range(attempts):
        pids.add(http("GET", url + "/healthz").json()["pid"])
        if len(pids) >= want:
            break
    return pids


def test_workers_share_the_port_and_see_new_versions(served):
    url, root = served
    assert len(_pids_seen(url, 2)) == 2, "two server processes answer on one port"
    from gilgamesh.registry.publish.pipeline import publish

    # Published by another process (this one), with no restart: every server process serves it.
    publish(root, apis.small("shared", "1.1.0", "return x + 10"), publisher="t", validate=False)
    answered_by = set()
    for _ in range(400):
        r = http("GET", url + "/api/notebooks/shared/1")
        assert r.json()["version"] == "1.1.0"
        call = http("POST", url + "/models/shared/1/inc", {"x": 1})
        assert call.json() == {"result": 11.0, "name": "shared", "version": "1.1.0"}
        answered_by.add(http("GET", url + "/healthz").json()["pid"])
        if len(answered_by) == 2:
            break
    assert len(answered_by) == 2


def test_import_over_http_uses_the_service(served, tmp_path):
    """``GILGAMESH_REGISTRY=http://...`` makes an import fetch from the service (then cache by sha256)."""
    url, _ = served
    env = dict(os.environ, GILGAMESH_REGISTRY=url, GILGAMESH_CACHE=str(tmp_path / "cache"))
    script = "from gilgamesh.api.shared.v1 import inc; print(inc(1.0))"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2.0"
    cached = [f for _, _, files in os.walk(tmp_path / "cache") for f in files]
    assert cached, "the fetched notebook is cached"


def test_serve_refuses_a_missing_registry(tmp_path):
    out = subprocess.run([sys.executable, "-c", SERVE, str(tmp_path / "none"), "1"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0
    assert "no registry at" in out.stderr


def test_serve_on_a_port_in_use_is_one_line_naming_it_and_port(fresh_registry):
    """Issue 30: a second `gilgamesh serve` (or `make serve` twice) on a taken port."""
    import socket

    from support import run_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli("serve", "--registry", fresh_registry, "--port", port, timeout=120)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and f"port {port} is already in use" in lines[0] and "--port" in lines[0]
    assert "Gilgamesh serving" not in out.stdout  # it never claimed to serve


def test_yank_through_one_process_is_seen_by_all(served):
    url, root = served
    from gilgamesh.registry.store.tokens import create_token

    token = create_token(root, "dana")
    r = http("POST", url + "/api/notebooks/shared/1.0.0/yank", {"reason": "test"}, token=token)
    assert r.status == 200
    for _ in range(50):
        assert http("GET", url + "/api/notebooks/shared/1.0.0").json()["yanked"] is True
    assert_error(http("GET", url + "/api/notebooks/shared/1"), 404, "no release of shared@1")


def _descendants(pid: int) -> set[int]:
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.parametrize("how", ["group", "parent"])
def test_stopping_leaves_no_process(fresh_registry, service_env, how):
    """SIGTERM to the process group (a service manager) or to the parent alone: everything stops."""
    proc = subprocess.Popen([sys.executable, "-c", SERVE, fresh_registry, "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    family: set = set()
    try:
        url = re.search(r"at (http://127\.0\.0\.1:\d+)/", proc.stdout.readline()).group(1)
        # 2 servers, a worker each; a sandboxed worker runs under bwrap and bwrap's init (its PID namespace's 1).
        expected = 4 if shutil.which("bwrap") is None else 8
        deadline = time.monotonic() + 60
        # Until the family settles: a launch passes through short-lived steps (prlimit, setpriv).
        while len(_descendants(proc.pid)) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        family = _descendants(proc.pid)
        assert len(family) == expected
        assert http("GET", url + "/healthz").status == 200
        if how == "group":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.05)
        assert not [p for p in family if _alive(p)]
        stderr = proc.stderr.read()
        assert "replacing" not in stderr, stderr
    finally:
        for pid in [proc.pid, *family]:  # whatever failed above, nothing of ours is left running
            if _alive(pid) and _is_ours(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _is_ours(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"gilgamesh" in f.read()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

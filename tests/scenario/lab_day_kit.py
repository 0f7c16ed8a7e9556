"""Helpers of the lab-day scenario: the CLI as a subprocess in a clean environment, the lab's
notebooks, a real HTTP client, and process groups that are always ended.

(Not in conftest.py: several conftest modules exist, so ``from conftest import`` is ambiguous.)
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = os.path.join(REPO, "api_notebooks")
BIN = os.path.dirname(sys.executable)

sys.path.insert(0, os.path.join(REPO, "tests", "physics"))
from lab_notebooks import PUBLISHED  # noqa: E402 - the lab's versions, frozen with their sha256

LAB_VERSIONS = list(PUBLISHED)
LAB_APIS = tuple(dict.fromkeys(name for name, _ in LAB_VERSIONS))

# CODATA 2018, as plasma's notebook has them.
E = 1.602176634e-19  # elementary charge [C]
EPS0 = 8.8541878128e-12  # vacuum permittivity [F/m]
AMU = 1.66053906660e-27  # atomic mass constant [kg]


def debye_length(T_e: float, n_e: float) -> float:
    """The electron Debye length [m], computed here independently of the notebook."""
    return math.sqrt(EPS0 * T_e / (E * n_e))


def clean_env(cache: str, **extra: str) -> dict:
    """The caller's environment without any GILGAMESH_* variable (no registry, token or lock
    leaks in; the pre-started kernels' switches stay, tests/conftest.py's), with ``cache`` as the
    loader's cache and ``extra`` on top."""
    keep = ("GILGAMESH_PRESTART", "GILGAMESH_PRESTART_IDLE", "GILGAMESH_RUNTIME_DIR")  # the keeper's switches
    env = {k: v for k, v in os.environ.items() if not k.startswith("GILGAMESH_") or k in keep}
    env.update({"GILGAMESH_CACHE": cache, "GILGAMESH_LOCK": ""})
    env.update(extra)
    return env


def gilgamesh_cli(*args, cache: str, user: str = "tester", cwd: str | None = None, env: dict | None = None,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m gilgamesh ARGS`` as a real subprocess."""
    full = clean_env(cache, GILGAMESH_USER=user)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "gilgamesh", *map(str, args)], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=timeout)


def ok_json(done: subprocess.CompletedProcess):
    """The JSON a command printed, which must have succeeded."""
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
    return json.loads(done.stdout)


def lab_notebooks() -> list[str]:
    """``api_notebooks/*/*.ipynb`` relative to the repository, sorted as the shell sorts the glob."""
    return sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(NOTEBOOKS, "*", "*.ipynb")))


def copy_registry(source: str, target: str) -> str:
    """A copy of a registry directory (its hooks find their registry relative to the store)."""
    shutil.copytree(source, target, symlinks=True)
    return target


def read_notebook(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_notebook(path, nb: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")


def cell_text(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


# -- HTTP -------------------------------------------------------------------------------------------
class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def json(self):
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8")


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 120) -> Answer:
    """One request with the standard library's client; an HTTP error status is an answer too."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


# -- processes --------------------------------------------------------------------------------------
def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """End a process started with ``start_new_session=True`` and everything it started."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Children the leader left (a model worker that outlived it) are in its group still.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def serving(root: str, cache: str, log_dir: str):
    """``gilgamesh serve --registry ROOT --port 0`` as a subprocess; yields its base URL (the
    port the kernel chose, read from the line the server prints)."""
    os.makedirs(log_dir, exist_ok=True)
    out, err = os.path.join(log_dir, "serve.out"), os.path.join(log_dir, "serve.err")
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "gilgamesh", "serve", "--registry", root, "--port", "0"],
                                stdout=o, stderr=e, env=clean_env(cache), start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 90
        while url is None:
            with open(out, encoding="utf-8", errors="replace") as f:
                found = re.search(r"at (http://127\.0\.0\.1:\d+)/", f.read())
            if found:
                url = found.group(1)
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gilgamesh serve did not start (exit {proc.poll()}): {open(err).read()[-3000:]}")
            else:
                time.sleep(0.05)  # polling the log file, under the deadline above
        yield url
    finally:
        stop_group(proc)


class DaskCluster:
    """``dask scheduler`` and one ``dask worker``, both with ``--preload gilgamesh.dask --registry ROOT``,
    as real processes on loopback (as tests/service/test_dask.py starts them)."""

    def __init__(self, work: str, registry: str):
        self.work, self.registry = work, registry
        self.procs: list[subprocess.Popen] = []
        dask = os.path.join(BIN, "dask")
        preload = ["--preload", "gilgamesh.dask", "--registry", registry]
        scheduler_file = os.path.join(work, "scheduler.json")
        self._start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", scheduler_file, *preload], "scheduler")
        deadline = time.monotonic() + 90
        while not os.path.exists(scheduler_file):
            if self.procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start: {self.log('scheduler')}")
            time.sleep(0.05)  # polling for the file the scheduler writes, under the deadline above
        with open(scheduler_file) as f:
            self.address = json.load(f)["address"]
        self._start([dask, "worker", self.address, "--nworkers", "1", "--nthreads", "2", "--no-dashboard",
                     "--name", "lab-w0", "--local-directory", os.path.join(work, "worker-space"), *preload], "worker")

    def _start(self, argv: list[str], label: str) -> None:
        env = clean_env(os.path.join(self.work, f"cache-{label}"))
        with open(os.path.join(self.work, f"{label}.log"), "wb") as log:
            self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                               start_new_session=True))

    def log(self, label: str) -> str:
        with open(os.path.join(self.work, f"{label}.log"), encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_group(proc)

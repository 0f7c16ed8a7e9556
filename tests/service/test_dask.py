"""Model calls and batch analyses on a real Dask cluster: ``dask scheduler`` and ``dask worker
--preload gilgamesh.dask`` processes on loopback, the service with ``dask_scheduler``, and the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from nbfactory import code, markdown, notebook, to_bytes
from service_kit import Server, assert_error, http
from support import run_cli

pytest.importorskip("distributed", reason="gilgamesh[dask] is part of the test extra")

BIN = os.path.dirname(sys.executable)
DASK = os.path.join(BIN, "dask")

MODEL = '''import os
import socket
import time


def square(x: float) -> float:
    """x squared, times the version's factor."""
    return FACTOR * x * x


def host() -> str:
    """Where the call ran."""
    return socket.gethostname()


def slow(seconds: float) -> float:
    """Sleep, then answer."""
    time.sleep(seconds)
    return seconds


def fail(x: float) -> float:
    """Always raises."""
    raise ValueError(f"no model for x={x}")


def crash() -> float:
    """Kills its own process."""
    os._exit(3)
'''


def model(version: str, factor: float) -> bytes:
    return to_bytes(notebook("dsk", version, [
        markdown("# Dask test model"),
        code(f"FACTOR = {factor}"),
        code(MODEL),
    ], endpoints=["square", "host", "slow", "fail", "crash"]))


def _wait_file(path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear (exit {proc.poll()})")
        time.sleep(0.05)


class Cluster:
    """A scheduler and workers as real processes; ``stop()`` ends every one of them."""

    def __init__(self, tmp, registry: str | None, workers: int = 1, allowed_failures: int = 0):
        self.tmp, self.registry = tmp, registry
        self.procs: list[subprocess.Popen] = []
        self.scheduler_file = str(tmp / "scheduler.json")
        env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=str(allowed_failures),
                   GILGAMESH_CACHE=str(tmp / "cache-scheduler"))
        # The scheduler unpickles the task graph: it imports the API functions that pickled by
        # reference, so it gets the preload too (pinned() functions need none).
        preload = ["--preload", "gilgamesh.dask", "--registry", registry] if registry else []
        self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", self.scheduler_file, *preload], env, "scheduler")
        _wait_file(self.scheduler_file, self.procs[0])
        with open(self.scheduler_file) as f:
            self.address = json.load(f)["address"]
        self.worker_logs = []
        for i in range(workers):
            self.add_worker(i)

    def _start(self, argv, env, label):
        log = open(self.tmp / f"{label}.log", "wb")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                           start_new_session=True))
        log.close()
        return self.procs[-1]

    def add_worker(self, i: int, registry: str | None = None) -> subprocess.Popen:
        env = dict(os.environ, GILGAMESH_CACHE=str(self.tmp / f"cache-{i}"))
        env.pop("GILGAMESH_REGISTRY", None)
        argv = [DASK, "worker", self.address, "--nworkers", "1", "--nthreads", "2", "--no-dashboard",
                "--name", f"w{i}", "--preload", "gilgamesh.dask", "--registry", registry or self.registry]
        self.worker_logs.append(self.tmp / f"worker-{i}.log")
        return self._start(argv, env, f"worker-{i}")

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30)

    def wait_workers(self, n: int, timeout: float = 90) -> None:
        with self.client() as client:
            client.wait_for_workers(n, timeout=timeout)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("dask") / "registry")
    init_registry(root)
    publish(root, model("1.0.0", 1.0), publisher="t", validate=False)
    return root


@pytest.fixture(scope="module")
def cluster(registry, tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"), registry)
    try:
        c.wait_workers(1)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def served(cluster, registry, service_env):
    s = Server(registry, dask_scheduler=cluster.address, call_timeout=3).start()
    yield s
    s.stop()


def call(server, function: str, args: dict, spec: str = "1"):
    return http("POST", f"{server.url}/models/dsk/{spec}/{function}", args, timeout=120)


# -- model calls through the service ---------------------------------------------------------------
def test_a_call_runs_on_the_cluster_with_the_same_contract(served):
    r = call(served, "square", {"x": 3})
    assert r.status == 200, r.body
    assert r.json() == {"result": 9.0, "name": "dsk", "version": "1.0.0"}
    assert r.header("Gilgamesh-Version") == "1.0.0"
    assert served.ctx.pool.pids() == []  # no model process of the service's own
    ran_on = call(served, "host", {}).json()["result"]
    import shutil

    # Sandboxed as validation is where the worker's host has bwrap (its own UTS namespace).
    assert ran_on == ("sandbox" if shutil.which("bwrap") else socket.gethostname())


def test_healthz_reports_the_clusters_workers_and_the_worker_log_names_its_registry(served, cluster, registry):
    """Issue 30: ``/healthz`` in ``--dask-scheduler`` mode counts the cluster's workers (not the
    service's own, none); each worker's log says what the preload configured."""
    with cluster.client() as client:
        expected = len(client.scheduler_info()["workers"])
    assert expected > 0
    deadline = time.monotonic() + 30  # the service's client hears from the scheduler every 2 s
    while True:
        health = http("GET", served.url + "/healthz")
        assert health.status == 200
        if health.json()["workers"] == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert health.json()["workers"] == expected, health.json()
    assert served.ctx.pool.pids() == []  # the count is the cluster's: the service runs no model process

    log = open(cluster.worker_logs[0]).read()
    configured = [line for line in log.splitlines() if "imports Gilgamesh API versions" in line]
    assert configured, log
    line = configured[0]
    assert f"registry {registry} (1 APIs)" in line, line
    assert f"cache {cluster.tmp / 'cache-0'}" in line, line
    assert "sandbox for model calls: " in line and "token none" in line, line


def test_bad_arguments_are_refused_before_a_task_is_submitted(served):
    before = served.ctx.pool._ids
    first = next(before)
    assert_error(call(served, "square", {"x": "three"}), 400, "parameter 'x'")
    assert_error(call(served, "square", {}), 400, "'x'")
    assert next(served.ctx.pool._ids) == first + 1  # no task was numbered for them
    assert_error(call(served, "nothing", {}), 404)


def test_a_model_error_answers_422_with_the_notebook_traceback(served):
    error = assert_error(call(served, "fail", {"x": 2}), 422, "dsk@1.0.0 fail raised ValueError: no model for x=2.0")
    assert any("dsk@1.0.0 cell 3.py" in line for line in error["details"])


def test_a_call_past_its_limit_answers_504_and_the_next_one_succeeds(served):
    started = time.monotonic()
    assert_error(call(served, "slow", {"seconds": 60}), 504, "time limit")
    assert time.monotonic() - started < 3 + 8
    assert call(served, "square", {"x": 2}).json()["result"] == 4.0


def test_a_model_that_kills_its_process_answers_500_and_the_worker_lives(served):
    assert_error(call(served, "crash", {}), 500)
    assert call(served, "square", {"x": 5}).json()["result"] == 25.0


def test_a_dask_worker_killed_mid_call_answers_500_and_the_service_lives(served, cluster):
    with cluster.client() as client:
        pids = client.run(os.getpid)  # the worker processes (their nannies are their parents)
    assert len(pids) == 1
    (pid,) = pids.values()
    answer = {}
    caller = threading.Thread(target=lambda: answer.setdefault("r", call(served, "slow", {"seconds": 2.5})))
    caller.start()
    time.sleep(1.0)  # the call is running on that worker
    os.kill(pid, signal.SIGKILL)
    caller.join(60)
    assert_error(answer["r"], 500, "the Dask worker running the call died")
    assert http("GET", served.url + "/healthz").status == 200
    # The nanny starts a new worker; the next call waits for it and succeeds.
    r = call(served, "square", {"x": 6})
    assert r.status == 200 and r.json()["result"] == 36.0


def test_a_cluster_that_does_not_answer_gets_504_and_the_task_is_cancelled(tmp_path):
    import asyncio

    from gilgamesh.errors import ModelTimeout
    from gilgamesh.service.calls.dask import DaskCalls

    empty = Cluster(tmp_path, None, workers=0)  # a scheduler with no worker: the task never runs
    try:
        async def main():
            calls = DaskCalls(empty.address, call_timeout=0.5, slack=0.5)
            try:
                with pytest.raises(ModelTimeout, match="not answered by the Dask cluster"):
                    await calls.call("dsk", "1.0.0", "square", [2.0], {}, ())
                assert calls.cancelled == 1
                assert not calls.client.futures  # the client holds no future of it any more
            finally:
                await calls.close()

        asyncio.run(main())
    finally:
        empty.stop()


# -- the batch path -------------------------------------------------------------------------------
def test_client_map_runs_api_functions_and_pinned_ones_on_the_workers(cluster, registry, tmp_path, monkeypatch):
    import gilgamesh
    from gilgamesh.dask import Pinned, pinned
    from gilgamesh.errors import LockError

    monkeypatch.setenv("GILGAMESH_REGISTRY", registry)
    monkeypatch.setenv("GILGAMESH_CACHE", str(tmp_path / "cache"))
    gilgamesh.refresh()
    from gilgamesh.api.dsk.v1 import square

    with cluster.client() as client:
        traces = [float(i) for i in range(200)]
        # Functions of API modules pickle by reference: the workers import the same spelling.
        assert client.gather(client.map(square, traces)) == [x * x for x in traces]
        f = pinned("dsk@1", "square")
        assert (f.version, f.sha256) == ("1.0.0", gilgamesh.use("dsk@1.0.0").__spec__.loader_state.sha256)
        assert client.gather(client.map(f, traces)) == [x * x for x in traces]
        # A lock file pins what a batch imports, even after a newer version is published.
        script = tmp_path / "analysis.py"
        script.write_text("from gilgamesh.api.dsk.v1 import square\n")
        locked = run_cli("lock", script, "--registry", registry)
        assert locked.returncode == 0, locked.stderr
        from gilgamesh.registry.publish.pipeline import publish

        publish(registry, model("1.1.0", 10.0), publisher="t", validate=False)
        gilgamesh.refresh()
        newest = pinned("dsk@1", square)
        assert newest.version == "1.1.0" and client.submit(newest, 2.0).result() == 40.0
        old = pinned("dsk@1", "square", lock=str(tmp_path / "gilgamesh.lock"))
        assert old.version == "1.0.0" and client.submit(old, 2.0).result() == 4.0
        with pytest.raises(LockError, match="not covered by the lock"):
            pinned("dsk@2", "square", lock=str(tmp_path / "gilgamesh.lock"))
        # A registry that publishes other bytes under the pinned version is refused on the worker.
        forged = Pinned("dsk", "1.0.0", "0" * 64, "square")
        with pytest.raises(Exception, match="publishes sha256"):
            client.submit(forged, 1.0).result()


def test_a_worker_whose_registry_does_not_answer_does_not_start(cluster, tmp_path):
    proc = cluster.add_worker(9, registry=str(tmp_path / "missing"))
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker started with a registry that does not exist")
    log = open(cluster.worker_logs[-1]).read()
    assert "no registry at" in log and str(tmp_path / "missing") in log


# -- the CLI ------------------------------------------------------------------------------------------
def test_serve_dask_scheduler_from_the_command_line_and_the_setting(cluster, registry, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "gilgamesh", "serve", "--registry", registry, "--port", "0",
                             "--dask-scheduler", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+)/", line).group(1)
        r = http("POST", f"{url}/models/dsk/1.0/square", {"x": 4}, timeout=120)
        assert r.status == 200 and r.json()["result"] == 16.0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    # The registry's setting does the same; a bad one is an error naming the file's key.
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.service.app import ServiceContext
    from gilgamesh.service.calls.dask import DaskCalls

    other = str(tmp_path / "registry")
    init_registry(other)
    settings = os.path.join(other, "settings.json")
    data = json.load(open(settings))
    with open(settings, "w") as f:
        json.dump({**data, "dask_scheduler": cluster.address}, f)
    ctx = ServiceContext(other)
    assert isinstance(ctx.pool, DaskCalls) and ctx.pool.address == cluster.address
    ctx.executor.shutdown()
    with open(settings, "w") as f:
        json.dump({**data, "dask_scheduler": 8786}, f)
    with pytest.raises(Exception, match="dask_scheduler must be the address of a Dask scheduler"):
        ServiceContext(other)
    assert "--dask-scheduler ADDRESS" in run_cli("serve", "--help").stdout

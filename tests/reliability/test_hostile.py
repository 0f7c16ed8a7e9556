"""Hostile notebooks at validation and at model calls: contained, the service healthy, nothing leaked.

Six notebooks are published to a service whose registry limits validation to ``TIMEOUT``
seconds and ``MEMORY_MB`` of address space: an endless loop, a memory hog, processes left running
after the kernel ends (one in a new session, one double-forked), a write into the registry, a
write next to it (outside the scratch directory), and a read of the registry's token store. Each must
be refused with a message naming the problem, in time; afterwards no process of theirs is alive,
no file they tried to write exists, the registry is unchanged, the token store's content appears
in no answer and no log, and the service still serves and publishes.

Then the probes of ``corpus.PROBE_SOURCE``, once in a validation kernel and once in a model call
(one run each tries them all): sending what they read to a listener this test opens on the host's
loopback and to an abstract unix socket, a route to an address outside, a file in this test's tmp
directory, ``/etc/shadow`` and ``/root``, the host's ``/proc/PID/environ`` of this process and of the
service (which holds fake secrets in its environment), the environment itself, filling the disk,
and a fork bomb. Each must be stopped by the sandbox, within its limits, and the service stay
healthy.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

import psutil
import pytest
import requests

import nbfactory as f
from corpus import probe_api, probe_notebook
from reliability_kit import Service, tree_snapshot

TIMEOUT = 8  # validation_timeout of the registry under test, seconds
MEMORY_MB = 1024  # validation_memory_mb
GRACE = 5 + 10  # validation's own grace for a hung runner, plus slack for a loaded 2-core machine
SCRATCH_MB, FILE_MB, PROCESSES = 32, 8, 64  # sandbox_scratch_mb, sandbox_file_mb, sandbox_processes
# Fake secrets in the service's environment (it publishes and serves): no sandboxed process may see
# them. One has a name no deny-list would catch: the environment is allow-listed.
SECRETS = {
    "GILGAMESH_TOKEN": "gil-" + uuid.uuid4().hex,
    "LAB_API_TOKEN": "lab-" + uuid.uuid4().hex,
    "AWS_SECRET_ACCESS_KEY": "aws-" + uuid.uuid4().hex,
    "LAB_DATABASE_URL": f"postgres://lab:{uuid.uuid4().hex}@db.lab/lab",
}


def _hostile(name: str, source: str) -> bytes:
    cells = [f.markdown(f"# {name}\n\nA hostile notebook."), f.code(source, "example")]
    return f.to_bytes(f.notebook(name, "1.0.0", cells))


def cases(marker: str, root: str, outside: str) -> dict[str, tuple[bytes, list[str]]]:
    """name -> (notebook, words one of which the refusal must contain)."""
    escape_registry = os.path.join(root, "index", f"{marker}.json")
    escape_outside = os.path.join(outside, f"{marker}.txt")
    tokens = os.path.join(root, "tokens.json")
    return {
        "endless": (_hostile("endless", "while True:\n    pass"), ["time limit"]),
        "memory": (_hostile("memory", "hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))"),
                   ["MemoryError", "memory"]),
        "background": (_hostile("background", (
            "import os, subprocess, sys, time\n"
            # A process in a new session, and a double fork: both out of the kernel's process group.
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)', '{marker}'], start_new_session=True)\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(3600)', '{marker}'])\n"
            "    os._exit(0)\n"
            "time.sleep(0.5)")), ["still running"]),
        "escape-registry": (_hostile("escape_registry", (
            f"with open({escape_registry!r}, 'w') as fh:\n"
            "    fh.write('{}')")), ["Read-only", "Permission", "No such file"]),
        "escape-outside": (_hostile("escape_outside", (
            f"with open({escape_outside!r}, 'w') as fh:\n"
            "    fh.write('escaped')")), ["Read-only", "Permission", "No such file"]),
        "tokens": (_hostile("tokens", f"print(open({tokens!r}).read())"), ["Permission", "No such file"]),
    }


def _marked_processes(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def limited_service(tmp_path_factory, private_cache):
    from gilgamesh.files import atomic_write
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.registry.store.tokens import create_token

    base = tmp_path_factory.mktemp("hostile")
    root = str(base / "registry")
    init_registry(root)
    with open(os.path.join(root, "settings.json"), "rb") as fh:
        settings = json.loads(fh.read())
    settings.update(validation_timeout=TIMEOUT, validation_memory_mb=MEMORY_MB, sandbox_scratch_mb=SCRATCH_MB,
                    sandbox_file_mb=FILE_MB, sandbox_processes=PROCESSES)
    atomic_write(os.path.join(root, "settings.json"), json.dumps(settings).encode())
    token = create_token(root, "alice")
    service = Service(root, str(base / "service.log"), env=SECRETS)
    try:
        yield service, token
    finally:
        service.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "endless", "memory", "background", "escape-registry", "escape-outside", "tokens",
])
def test_a_hostile_notebook_is_refused_in_time_and_leaves_nothing(name, limited_service, tmp_path, figures):
    service, token = limited_service
    root, url = service.root, service.url
    marker = "hostile-" + uuid.uuid4().hex
    outside = tmp_path / "outside"
    outside.mkdir()
    data, words = cases(marker, root, str(outside))[name]
    with open(os.path.join(root, "tokens.json")) as fh:
        token_hashes = [t["sha256"] for u in json.loads(fh.read())["users"].values() for t in u["tokens"]]
    before = tree_snapshot(root)

    start = time.perf_counter()
    r = requests.post(url + "/api/notebooks", data=data, timeout=600, headers={"Authorization": f"Bearer {token}"})
    seconds = time.perf_counter() - start

    leftovers = _marked_processes(marker)
    for p in leftovers:  # never leave them to the machine, whatever the verdict
        try:
            p.kill()
        except psutil.Error:
            pass
    escaped = [str(p) for p in outside.iterdir()]
    in_registry = os.path.join(root, "index", f"{marker}.json")
    if os.path.exists(in_registry):
        escaped.append(in_registry)
        os.unlink(in_registry)

    failures = []
    if r.status_code != 422:
        failures.append(f"HTTP {r.status_code} after {seconds:.1f} s: {r.text[:400]}")
    elif not any(w in r.text for w in words):
        failures.append(f"refused, but not naming the problem ({' or '.join(words)}): {r.text[:400]}")
    if seconds > TIMEOUT + GRACE:
        failures.append(f"answered after {seconds:.1f} s, past the limit of {TIMEOUT} s")
    if leftovers:
        failures.append(f"processes left running: {[p.pid for p in leftovers]}")
    if escaped:
        failures.append(f"files written outside the scratch directory: {escaped}")
    if any(h in r.text or h in service.log() for h in token_hashes):
        failures.append("a token hash is in the answer or the service's log")
    if tree_snapshot(root) != before:
        failures.append("the registry changed")
    assert service.alive() and requests.get(url + "/healthz", timeout=30).status_code == 200
    assert not failures, "\n".join(failures)
    figures(f"{name}: refused in (s; limit {TIMEOUT} s)", f"{seconds:.1f}")
    figures(f"{name}: refusal", [d["message"][:160] for d in r.json()["error"]["details"]])


def test_the_service_publishes_after_the_hostile_notebooks(limited_service):
    service, token = limited_service
    fine = requests.post(service.url + "/api/notebooks", data=f.simple_api("fine", "1.0.0"), timeout=300,
                         headers={"Authorization": f"Bearer {token}"})
    assert fine.status_code == 201, fine.text
    assert requests.post(service.url + "/models/fine/1/scale", json={"x": 2}, timeout=60).json()["result"] == 4.0


SNEAKY_CELLS = [
    f.markdown("# sneaky\n\nEndpoints that reach for what a model has no business touching."),
    f.markdown("Read a file."),
    f.code("def peek(path: str) -> str:\n    return open(path).read()[:400]"),
    f.markdown("Remove a file."),
    f.code("def remove(path: str) -> bool:\n    import os\n    os.unlink(path)\n    return True"),
]


def test_a_model_call_cannot_read_the_token_store_or_remove_registry_files(limited_service):
    """The same walls at call time: anyone may call an endpoint, and its code runs in the service."""
    service, token = limited_service
    root, url = service.root, service.url
    published = requests.post(url + "/api/notebooks", timeout=300, headers={"Authorization": f"Bearer {token}"},
                              data=f.to_bytes(f.notebook("sneaky", "1.0.0", SNEAKY_CELLS, endpoints=["peek", "remove"])))
    assert published.status_code == 201, published.text
    with open(os.path.join(root, "tokens.json")) as fh:
        token_hashes = [t["sha256"] for u in json.loads(fh.read())["users"].values() for t in u["tokens"]]
    decoy = os.path.join(root, "index", "decoy.json")  # stands for any file of the registry
    with open(decoy, "w") as fh:
        fh.write("{}")
    try:
        peek = requests.post(url + "/models/sneaky/1/peek", json={"path": os.path.join(root, "tokens.json")}, timeout=60)
        remove = requests.post(url + "/models/sneaky/1/remove", json={"path": decoy}, timeout=60)
        assert not any(h in peek.text for h in token_hashes), "a model call read the token store"
        assert os.path.exists(decoy), "a model call removed a file of the registry"
        assert remove.status_code == 422
    finally:
        if os.path.exists(decoy):
            os.unlink(decoy)


class Listeners:
    """A TCP listener on the host's loopback and an abstract unix socket: whatever reaches them is kept."""

    def __init__(self):
        self.received: list[bytes] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.name = "gilgamesh-hostile-" + uuid.uuid4().hex
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.name)
        self.unix.listen()
        self.stopped = False
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in (self.tcp, self.unix)]
        for t in self.threads:
            t.start()

    def _accept(self, server: socket.socket) -> None:
        server.settimeout(0.2)
        while not self.stopped:
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self.received.append(conn.recv(1 << 16) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self) -> None:
        self.stopped = True
        for t in self.threads:
            t.join()
        self.tcp.close()
        self.unix.close()


@pytest.fixture
def listeners():
    found = Listeners()
    try:
        yield found
    finally:
        found.close()


def _python_dirs_in_root() -> set[str]:
    """What /root may show inside: the first step of the interpreter's own directories there."""
    import sys

    return {p.split("/")[2] for p in (sys.prefix, sys.base_prefix, os.path.realpath(sys.executable))
            if p.startswith("/root/")}


def escapes(found: dict, args: dict, host_files_gone: bool) -> list[str]:
    """Every way the probes' findings show that something got out of the sandbox."""
    failures = []

    def stopped(key):
        if found[key][0] != "error":
            failures.append(f"{key}: not stopped: {str(found[key][1])[:200]}")

    for key in ("tcp_loopback", "unix_abstract", "route_outside", "secret_file", "etc_shadow", "root_bashrc", "home"):
        stopped(key)
    if found["interfaces"] != ["ok", ["lo"]]:
        failures.append(f"network interfaces other than loopback: {found['interfaces']}")
    listing = found["root_listing"]
    if listing[0] == "ok" and not set(listing[1]) <= _python_dirs_in_root():
        failures.append(f"/root shows {listing[1]}")
    for pid, result in found["host_proc"].items():
        if int(pid) in found["visible_pids"]:
            failures.append(f"the host's pid {pid} is visible inside")
        elif result[0] != "error":
            failures.append(f"/proc/{pid}/environ of the host read: {result[1][:120]}")
    if len(found["visible_pids"]) > 16:
        failures.append(f"{len(found['visible_pids'])} processes visible: not a PID namespace of its own")
    if found["init_environ"][0] == "ok" and found["init_environ"][1]:
        failures.append(f"the sandbox's init has an environment: {found['init_environ'][1][:120]}")
    if found["uid"] in (0, os.getuid()):
        failures.append(f"runs as uid {found['uid']}, the host's")
    leaked = sorted(set(SECRETS) & set(found["environ"]))
    if leaked:
        failures.append(f"secret variables in the environment: {leaked}")
    disk = found["disk"]
    if disk[0] != "ok":
        failures.append(f"filling the disk failed otherwise: {disk[1]}")
    else:
        disk = disk[1]
        if "ENOSPC" not in disk["errors"] or not SCRATCH_MB // 2 <= disk["written_mb"] <= SCRATCH_MB:
            failures.append(f"the scratch limit of {SCRATCH_MB} MB was not what stopped the writes: {disk}")
        if disk["filesystem_mb"] != SCRATCH_MB:
            failures.append(f"the scratch is not a {SCRATCH_MB} MB file system: {disk}")
        if "EFBIG" not in disk["errors"]:
            failures.append(f"no file stopped at the file-size limit of {FILE_MB} MB: {disk}")
        if not host_files_gone and any(os.path.exists(p) for p in disk["paths"]):
            failures.append(f"the files written are on the host's disk: {disk['paths']}")
    bomb = found["fork_bomb"]
    if bomb[0] != "ok":
        failures.append(f"the fork bomb failed otherwise: {bomb[1]}")
    elif not bomb[1]["fork_refused"] or bomb[1]["peak_processes"] > PROCESSES + 1:  # + bwrap's init, root's
        failures.append(f"the fork bomb was not bounded by the limit of {PROCESSES}: {bomb[1]}")
    return failures


def _probe_results(text: str) -> dict:
    """The findings a validation refusal carries (``PROBES {...}``)."""
    start = text.index("PROBES ") + len("PROBES ")
    return json.JSONDecoder().raw_decode(text[start:])[0]


@pytest.fixture(scope="module")
def contained_api(limited_service):
    """The model API whose endpoints try to get out, published once."""
    service, token = limited_service
    published = requests.post(service.url + "/api/notebooks", data=probe_api(), timeout=300,
                              headers={"Authorization": f"Bearer {token}"})
    assert published.status_code == 201, published.text
    return service.url + "/models/contained/1/"


@pytest.mark.slow
@pytest.mark.parametrize("where", ["validation", "model"])
def test_notebook_code_is_contained(where, limited_service, contained_api, listeners, tmp_path, figures):
    service, token = limited_service
    auth = {"Authorization": f"Bearer {token}"}
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret-" + uuid.uuid4().hex)
    args = {"port": listeners.port, "socket_name": listeners.name, "secret_path": str(secret),
            "host_pids": [os.getpid(), service.proc.pid], "bomb_seconds": 2.0}
    start = time.perf_counter()
    if where == "validation":
        r = requests.post(service.url + "/api/notebooks", data=probe_notebook(args), headers=auth, timeout=600)
        assert r.status_code == 422 and "PROBES " in r.text, r.text[:1000]
        details = [d["message"] for d in r.json()["error"]["details"]]
        found = _probe_results(next(m for m in details if "PROBES " in m))
    else:
        r = requests.post(contained_api + "probe", json=args, timeout=300)
        assert r.status_code == 200, r.text[:1000]
        found = json.loads(r.json()["result"])
    seconds = time.perf_counter() - start

    failures = escapes(found, args, host_files_gone=where == "validation")
    for value in [*SECRETS.values(), secret.read_text()]:
        if value in r.text or value in service.log():
            failures.append(f"a secret is in the answer or the service's log: {value[:12]}...")
    if listeners.received:
        failures.append(f"the listeners on the host received {listeners.received[:2]}")
    assert service.alive() and requests.get(service.url + "/healthz", timeout=30).status_code == 200
    if where == "model":  # the worker whose scratch is full still serves (or was replaced)
        ping = requests.post(contained_api + "ping", json={}, timeout=60)
        assert ping.status_code == 200 and ping.json()["result"] == "pong", ping.text
    assert not failures, "\n".join(failures)
    figures(f"{where}: all probes, one run (s)", f"{seconds:.1f}")
    for key in ("tcp_loopback", "unix_abstract", "route_outside", "secret_file", "etc_shadow", "root_bashrc", "home"):
        figures(f"{where}: {key}", found[key][1][:90])
    figures(f"{where}: /root inside", found["root_listing"][1])
    figures(f"{where}: host /proc/PID/environ", sorted({r[1][:60] for r in found["host_proc"].values()}))
    figures(f"{where}: pids visible, uid", f"{found['visible_pids']}, {found['uid']}")
    figures(f"{where}: environment names", sorted(found["environ"]))
    figures(f"{where}: disk", found["disk"][1])
    figures(f"{where}: fork bomb", found["fork_bomb"][1])


def test_a_model_call_leaves_no_process_running(limited_service, contained_api):
    """What a call starts (in a session of its own, or double-forked away) ends before it answers."""
    service, _ = limited_service
    marker = "linger-" + uuid.uuid4().hex
    r = requests.post(contained_api + "linger", json={"marker": marker}, timeout=120)
    leftovers = _marked_processes(marker)
    for p in leftovers:
        p.kill()
    assert r.status_code == 200 and r.json()["result"] == 2, r.text
    assert not leftovers, f"processes left running by a model call: {[p.pid for p in leftovers]}"
    assert "left running" in service.log()
    assert requests.post(contained_api + "ping", json={}, timeout=60).json()["result"] == "pong"


def test_a_service_requiring_the_sandbox_runs_no_model_where_bwrap_is_missing(tmp_path):
    """No silent fallback for model calls either: 503 naming the cause; the rest of the service serves."""
    import shutil

    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)  # bwrap is installed: the registry requires the sandbox
    publish(root, f.simple_api("demo", "1.0.0"), publisher="seed")
    bin_dir = tmp_path / "bin"  # a PATH with git, without bwrap
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    service = Service(root, str(tmp_path / "service.log"), env={"PATH": str(bin_dir)})
    try:
        r = requests.post(service.url + "/models/demo/1/scale", json={"x": 2}, timeout=60)
        assert r.status_code == 503, r.text
        assert "requires the sandbox" in r.text and "bubblewrap is not installed" in r.text, r.text
        assert requests.get(service.url + "/api/notebooks/demo", timeout=30).status_code == 200
        assert requests.get(service.url + "/healthz", timeout=30).status_code == 200
    finally:
        service.stop()

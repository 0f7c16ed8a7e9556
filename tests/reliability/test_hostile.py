"""Hostile notebooks at validation: refused within the limit, the service healthy, nothing leaked.

Six notebooks are published to a service whose registry limits validation to ``TIMEOUT``
seconds and ``MEMORY_MB`` of address space: an endless loop, a memory hog, processes left running
after the kernel ends (one in a new session, one double-forked), a write into the registry, a
write next to it (outside the scratch directory), and a read of the registry's token store. Each must
be refused with a message naming the problem, in time; afterwards no process of theirs is alive,
no file they tried to write exists, the registry is unchanged, the token store's content appears
in no answer and no log, and the service still serves and publishes.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import psutil
import pytest
import requests

import nbfactory as f
from reliability_kit import Service, tree_snapshot

TIMEOUT = 8  # validation_timeout of the registry under test, seconds
MEMORY_MB = 1024  # validation_memory_mb
GRACE = 5 + 10  # validation's own grace for a hung runner, plus slack for a loaded 2-core machine


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
    from gilgamesh.registry.store import atomic_write, init_registry
    from gilgamesh.registry.tokens import create_token

    base = tmp_path_factory.mktemp("hostile")
    root = str(base / "registry")
    init_registry(root)
    with open(os.path.join(root, "settings.json"), "rb") as fh:
        settings = json.loads(fh.read())
    settings.update(validation_timeout=TIMEOUT, validation_memory_mb=MEMORY_MB)
    atomic_write(os.path.join(root, "settings.json"), json.dumps(settings).encode())
    token = create_token(root, "alice")
    service = Service(root, str(base / "service.log"))
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

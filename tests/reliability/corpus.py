"""The bad-input corpus: malformed notebooks and malformed requests, each with what must be named.

``NOTEBOOKS`` go through ``gilgamesh publish`` and ``POST /api/notebooks``; ``REQUESTS`` are HTTP
only. Every case carries the words its answer must contain, chosen so that they name *this*
problem (a generic "refused" would pass any case, so none of them is that).
"""

from __future__ import annotations

import json
from typing import NamedTuple

import nbfactory as f

__all__ = ["NotebookCase", "RequestCase", "NOTEBOOKS", "request_cases", "SEED_APIS"]


class NotebookCase(NamedTuple):
    id: str
    data: bytes
    expected: str  # must appear in the CLI's stderr and in the HTTP error envelope


class RequestCase(NamedTuple):
    id: str
    method: str
    path: str
    body: bytes | None
    status: int  # the 4xx expected
    expected: str  # must appear in the error envelope
    headers: dict | None = None
    token: bool = False  # send a valid publish token


def _nb(name="bad", version="1.0.0", cells=None, **meta) -> dict:
    cells = cells if cells is not None else [f.markdown("# bad\n\nA test API."), f.code("X = 1")]
    return f.notebook(name, version, cells, **meta)


def _with(nb: dict, path: str, value) -> bytes:
    """``nb`` with the value at a dotted ``path`` replaced (``...=DELETE`` removes it)."""
    nb = json.loads(json.dumps(nb))
    *parents, last = path.split(".")
    target = nb
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is DELETE:
        del target[last]
    else:
        target[int(last) if isinstance(target, list) else last] = value
    return f.to_bytes(nb)


DELETE = object()
GOOD = _nb()
MD = f.markdown("Documented.")

NOTEBOOKS: list[NotebookCase] = [
    # Not a notebook at all.
    NotebookCase("invalid-json", b'{"cells": [', "not valid JSON"),
    NotebookCase("invalid-utf8", b'{"cells": [], "x": "\xff\xfe"}', "not UTF-8"),
    NotebookCase("json-array", b"[1, 2, 3]", "not a Jupyter notebook"),
    NotebookCase("json-string", b'"notebook"', "not a Jupyter notebook"),
    NotebookCase("cells-not-a-list", _with(GOOD, "cells", {"0": 1}), "not a Jupyter notebook"),
    NotebookCase("nan-literal", f.to_bytes(GOOD).replace(b'"nbformat": 4,', b'"nbformat": NaN,', 1), "nbformat must be 4"),
    # Wrong nbformat.
    NotebookCase("nbformat-3", _with(GOOD, "nbformat", 3), "nbformat must be 4, found 3"),
    NotebookCase("nbformat-missing", _with(GOOD, "nbformat", DELETE), "nbformat must be 4, found None"),
    NotebookCase("nbformat-string", _with(GOOD, "nbformat", "4"), "nbformat must be 4, found '4'"),
    NotebookCase("cell-type-unknown", _with(GOOD, "cells.1.cell_type", "javascript"), "not a valid nbformat 4 notebook at cells/1"),
    NotebookCase("cell-source-number", _with(GOOD, "cells.1.source", 42), "not a valid nbformat 4 notebook at cells/1"),
    # Shapes nbformat itself trips on before its schema speaks (they answered 500).
    NotebookCase("nbformat-minor-string", _with(GOOD, "nbformat_minor", "5"),
                 "not a valid nbformat 4 notebook at nbformat_minor: '5' is not of type 'integer'"),
    NotebookCase("cell-not-an-object", _with(GOOD, "cells.1", 5), "not a valid nbformat 4 notebook at cells/1: 5 is not of type 'object'"),
    NotebookCase("cell-type-number", _with(GOOD, "cells.1.cell_type", 5), "not a valid nbformat 4 notebook at cells/1/cell_type"),
    NotebookCase("kernelspec-list", _with(GOOD, "metadata.kernelspec", ["python3"]),
                 "not a valid nbformat 4 notebook at metadata/kernelspec"),
    NotebookCase("kernel-language-r", _with(GOOD, "metadata.kernelspec.language", "R"), "kernel language is 'R'"),
    # Missing or wrong metadata.
    NotebookCase("metadata-gilgamesh-missing", _with(GOOD, "metadata.gilgamesh", DELETE), "metadata.gilgamesh is missing"),
    NotebookCase("metadata-gilgamesh-list", _with(GOOD, "metadata.gilgamesh", ["bad", "1.0.0"]), "metadata.gilgamesh must be an object"),
    NotebookCase("name-missing", _with(GOOD, "metadata.gilgamesh.name", DELETE), "metadata.gilgamesh.name is missing"),
    NotebookCase("version-missing", _with(GOOD, "metadata.gilgamesh.version", DELETE), "metadata.gilgamesh.version is missing"),
    NotebookCase("summary-missing", _with(GOOD, "metadata.gilgamesh.summary", DELETE), "metadata.gilgamesh.summary is missing"),
    NotebookCase("summary-two-lines", _with(GOOD, "metadata.gilgamesh.summary", "one\ntwo"), "summary must be one non-empty line"),
    NotebookCase("endpoints-string", _with(GOOD, "metadata.gilgamesh.endpoints", "scale"), "endpoints must be a list of function names"),
    NotebookCase("unknown-field", _with(GOOD, "metadata.gilgamesh.licence", "MIT"), "metadata.gilgamesh.licence is not a known field"),
    # Names outside the grammar, path tricks among them.
    NotebookCase("name-uppercase", f.to_bytes(_nb("Langmuir")), "Invalid API name: 'Langmuir'"),
    NotebookCase("name-keyword", f.to_bytes(_nb("class")), "Invalid API name: 'class'"),
    NotebookCase("name-digit-first", f.to_bytes(_nb("1probe")), "Invalid API name: '1probe'"),
    NotebookCase("name-too-long", f.to_bytes(_nb("a" * 65)), "Invalid API name: '" + "a" * 65 + "'"),
    NotebookCase("name-unicode", f.to_bytes(_nb("langmüir")), "Invalid API name: 'langmüir'"),
    NotebookCase("name-number", f.to_bytes(_nb(7)), "Invalid API name: 7"),
    NotebookCase("name-dotdot", f.to_bytes(_nb("../../etc/passwd")), "Invalid API name: '../../etc/passwd'"),
    NotebookCase("name-slash", f.to_bytes(_nb("a/b")), "Invalid API name: 'a/b'"),
    NotebookCase("name-nul", f.to_bytes(_nb("a\x00b")), "Invalid API name: 'a\\x00b'"),
    # Versions outside the grammar.
    NotebookCase("version-v-prefix", f.to_bytes(_nb(version="v1.0.0")), "Invalid version: 'v1.0.0'"),
    NotebookCase("version-two-parts", f.to_bytes(_nb(version="1.2")), "Invalid version: '1.2'"),
    NotebookCase("version-leading-zero", f.to_bytes(_nb(version="01.2.3")), "Invalid version: '01.2.3'"),
    NotebookCase("version-post", f.to_bytes(_nb(version="1.0.0.post1")), "Invalid version: '1.0.0.post1'"),
    NotebookCase("version-dev", f.to_bytes(_nb(version="1.0.0.dev1")), "Invalid version: '1.0.0.dev1'"),
    NotebookCase("version-local", f.to_bytes(_nb(version="1.0.0+lab")), "Invalid version: '1.0.0+lab'"),
    NotebookCase("version-unnormalized-rc", f.to_bytes(_nb(version="1.0.0-rc1")), "Invalid version: '1.0.0-rc1'"),
    NotebookCase("version-path-trick", f.to_bytes(_nb(version="1.0.0/../../x")), "Invalid version: '1.0.0/../../x'"),
    NotebookCase("version-number", f.to_bytes(_nb(version=1.0)), "Invalid version: 1.0"),
    # Code that may not be published.
    NotebookCase("magic-on-import", f.to_bytes(_nb(cells=[MD, f.code("%matplotlib inline\nX = 1")])),
                 "IPython magics and !shell lines cannot run on import"),
    NotebookCase("shell-on-import", f.to_bytes(_nb(cells=[MD, f.code("!rm -rf /tmp/x\nX = 1")])),
                 "IPython magics and !shell lines cannot run on import"),
    NotebookCase("syntax-error", f.to_bytes(_nb(cells=[MD, f.code("def broken(:\n    pass")])), "syntax error"),
    NotebookCase("undocumented", f.to_bytes(_nb(cells=[f.code("def area(s: float) -> float:\n    return s * s")])),
                 "public function 'area' has no docstring"),
    NotebookCase("endpoint-missing", f.to_bytes(_nb(endpoints=["nowhere"])), "endpoint 'nowhere' is not a function"),
    NotebookCase("endpoint-unannotated", f.to_bytes(_nb(cells=[MD, f.code("def g(a):\n    return a")], endpoints=["g"])),
                 "parameter 'a' has no annotation"),
    NotebookCase("endpoint-object-type", f.to_bytes(_nb(cells=[MD, f.code("def g(a: object) -> float:\n    return 1.0")], endpoints=["g"])),
                 "parameter 'a' has type 'object'"),
    NotebookCase("dependency-unpinned", f.to_bytes(_nb(cells=[MD, f.code("import gilgamesh.api.demo")])),
                 "imported without a version"),
    NotebookCase("dependency-missing", f.to_bytes(_nb(cells=[MD, f.code("from gilgamesh.api.nosuch.v1 import x")])),
                 "gilgamesh.api.nosuch.v1 does not resolve"),
    # Runs, but not as stored: validation names the cell.
    NotebookCase("raises-on-run", f.to_bytes(_nb(cells=[MD, f.code("X = 1 / 0")])), "ZeroDivisionError"),
    # A published version with other bytes.
    NotebookCase("conflict", f.simple_api("demo", "1.0.0", extra="EXTRA = 1"), "already published with different content"),
]

# The registry the HTTP cases run against: demo@1.0.0 (scale) and arrays@1.0.0 (total, norm).
ARRAYS_CELLS = [
    f.markdown("# arrays\n\nSums and norms."),
    f.code("import numpy as np"),
    f.markdown("The sum of some numbers."),
    f.code("def total(values: list[float]) -> float:\n    return float(sum(values))"),
    f.markdown("The Euclidean norm of a vector."),
    f.code("def norm(v: np.ndarray) -> float:\n    return float(np.sqrt((v * v).sum()))"),
]
SEED_APIS = {
    ("demo", "1.0.0"): f.simple_api("demo", "1.0.0"),
    ("arrays", "1.0.0"): f.to_bytes(f.notebook("arrays", "1.0.0", ARRAYS_CELLS, endpoints=["total", "norm"])),
}

_J = {"Content-Type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000

def request_cases(limit: int) -> list[RequestCase]:
    """The HTTP cases for a service whose request bodies are limited to ``limit`` bytes."""
    return [
        # Unknown routes and methods.
        RequestCase("unknown-route", "GET", "/api/nothing", None, 404, "no route GET /api/nothing"),
        RequestCase("unknown-route-deep", "GET", "/models", None, 404, "no route GET /models"),
        RequestCase("put-notebooks", "PUT", "/api/notebooks", b"{}", 405, "PUT is not allowed on /api/notebooks"),
        RequestCase("delete-notebooks", "DELETE", "/api/notebooks", None, 405, "DELETE is not allowed on /api/notebooks"),
        RequestCase("patch-health", "PATCH", "/healthz", b"{}", 405, "PATCH is not allowed on /healthz"),
        RequestCase("get-model", "GET", "/models/demo/1/scale", None, 405, "GET is not allowed"),
        # Names and specs outside the grammar, path tricks.
        RequestCase("name-uppercase", "GET", "/api/notebooks/Demo", None, 400, "Invalid API name: 'Demo'"),
        RequestCase("name-dotdot-encoded", "GET", "/api/notebooks/..%2F..%2Fetc", None, 400, "Invalid API name: '../../etc'"),
        RequestCase("name-dotdot-notebook", "GET", "/api/notebooks/..%2Fstore.git/1.0.0/notebook", None, 400, "Invalid API name: '../store.git'"),
        RequestCase("spec-zero", "GET", "/api/notebooks/demo/0", None, 400, "0.x has no compatibility promise"),
        RequestCase("spec-x", "GET", "/api/notebooks/demo/1.x", None, 400, "Invalid version spec: '1.x'"),
        RequestCase("spec-dotdot", "GET", "/api/notebooks/demo/..%2F..%2Ftokens.json/notebook", None, 400, "Invalid version spec"),
        RequestCase("docs-bad-name", "GET", "/docs/..%2Fsettings/1", None, 400, "Invalid API name"),
        RequestCase("missing-api", "GET", "/api/notebooks/nosuch", None, 404, "no API named 'nosuch'"),
        RequestCase("missing-version", "GET", "/api/notebooks/demo/9.9.9", None, 404, "demo has no version 9.9.9"),
        RequestCase("missing-notebook", "GET", "/api/notebooks/demo/2/notebook", None, 404, "no release of demo@2"),
        RequestCase("spec-too-many-digits", "GET", "/api/notebooks/demo/" + "1" * 5000, None, 400, "Invalid version spec"),
        RequestCase("citation-bad-format", "GET", "/api/notebooks/demo/1/citation?format=xml", None, 400,
                    "?format must be json or bibtex, not 'xml'"),
        # Publishing requests.
        RequestCase("publish-empty-body", "POST", "/api/notebooks", b"", 400, "the request body is empty", token=True),
        RequestCase("publish-over-limit", "POST", "/api/notebooks", b"x" * (limit + 1), 413,
                    "larger than this service accepts", token=True),
        RequestCase("publish-bad-content-length", "POST", "/api/notebooks", None, 400, "Invalid Content-Length",
                    headers={"Content-Length": "abc"}, token=True),
        RequestCase("publish-dry-run-typo", "POST", "/api/notebooks?dry_run=ture", f.to_bytes(GOOD), 400,
                    "?dry_run must be true or false", token=True),
        RequestCase("bibliography-not-utf8", "POST", "/bibliography", b"@misc{x, title={Caf\xe9}}", 422,
                    "not UTF-8 text (byte 19)", token=True),
        RequestCase("yank-no-reason", "POST", "/api/notebooks/demo/1.0.0/yank", b"{}", 400, "a yank needs a reason", token=True),
        RequestCase("yank-not-json", "POST", "/api/notebooks/demo/1.0.0/yank", b"reason: x", 400, "not valid JSON", token=True),
        RequestCase("yank-range", "POST", "/api/notebooks/demo/1/yank", b'{"reason": "r"}', 400, "Invalid version: '1'", token=True),
        RequestCase("yank-missing", "POST", "/api/notebooks/demo/9.9.9/yank", b'{"reason": "r"}', 404, "demo has no version 9.9.9", token=True),
        RequestCase("yank-too-many-digits", "POST", "/api/notebooks/demo/" + "1" * 5000 + ".0.0/yank", b'{"reason": "r"}',
                    400, "Invalid version", token=True),
        # Model calls: wrong types, missing and extra arguments, NaN, huge arrays.
        RequestCase("call-not-json", "POST", "/models/demo/1/scale", b"x=1", 400, "not valid JSON", _J),
        RequestCase("call-invalid-utf8", "POST", "/models/demo/1/scale", b'{"x": "\xff"}', 400, "not valid JSON", _J),
        RequestCase("call-array-body", "POST", "/models/demo/1/scale", b"[1, 2]", 400, "must be a JSON object", _J),
        RequestCase("call-wrong-type", "POST", "/models/demo/1/scale", b'{"x": "ten"}', 400, "parameter 'x': expected a number", _J),
        RequestCase("call-bool-for-float", "POST", "/models/demo/1/scale", b'{"x": true}', 400, "parameter 'x': expected a number", _J),
        RequestCase("call-missing-arg", "POST", "/models/demo/1/scale", b"{}", 400, "missing required parameter 'x'", _J),
        RequestCase("call-extra-arg", "POST", "/models/demo/1/scale", b'{"x": 1, "y": 2}', 400, "unknown parameter 'y'", _J),
        RequestCase("call-nan", "POST", "/models/demo/1/scale", b'{"x": NaN}', 400, "NaN", _J),
        RequestCase("call-infinity", "POST", "/models/demo/1/scale", b'{"x": Infinity}', 400, "Infinity", _J),
        RequestCase("call-deep-nesting", "POST", "/models/arrays/1/total", b'{"values": ' + DEEP + b"}", 400, "nest", _J),
        RequestCase("call-list-of-strings", "POST", "/models/arrays/1/total", b'{"values": [1, "2"]}', 400, "parameter 'values'", _J),
        RequestCase("call-ragged-array", "POST", "/models/arrays/1/norm", b'{"v": [[1, 2], [3]]}', 400, "rectangular", _J),
        RequestCase("call-huge-array", "POST", "/models/arrays/1/total",
                    b'{"values": [' + b"1.5," * (limit // 4) + b"1.5]}", 413, "larger than this service accepts", _J),
        RequestCase("call-unknown-function", "POST", "/models/demo/1/nowhere", b"{}", 404, "no endpoint 'nowhere'", _J),
        RequestCase("call-private-function", "POST", "/models/demo/1/__init__", b"{}", 404, "no endpoint '__init__'", _J),
        RequestCase("call-non-endpoint", "POST", "/models/demo/1/math", b"{}", 404, "no endpoint 'math'", _J),
        RequestCase("call-missing-api", "POST", "/models/nosuch/1/scale", b"{}", 404, "no API named 'nosuch'", _J),
        RequestCase("call-bad-spec", "POST", "/models/demo/1.x/scale", b"{}", 400, "Invalid version spec: '1.x'", _J),
    ]


# -- hostile code: what a notebook may try once it runs (tests/reliability/test_hostile.py) ----------
# One function runs every probe and returns what each yielded, so that one kernel (validation) or
# one model call tries them all. Each probe really tries: it sends what it read to the listener it
# reaches, writes until the disk is full, forks until forking fails. The only address outside this
# machine is asked for a route (a UDP connect, which sends nothing): no packet may leave it.
PROBE_SOURCE = r'''
def probe(port: int, socket_name: str, secret_path: str, host_pids: list[int], bomb_seconds: float) -> str:
    """Try to get out: network, files outside the registry, processes, disk, /proc, environment."""
    import errno, json, os, socket, time

    def attempt(fn):
        try:
            return ["ok", fn()]
        except Exception as e:  # what stopped it
            return ["error", f"{type(e).__name__}: {e}"[:200]]

    def read(path):
        with open(path, "rb") as fh:
            return fh.read(4096).decode("utf-8", "replace")

    loot = attempt(lambda: read(secret_path))[1] + json.dumps(dict(os.environ))

    def tcp(host):
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(loot.encode())
        return "sent"

    def abstract():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("\0" + socket_name)
            s.sendall(loot.encode())
            return "sent"
        finally:
            s.close()

    def route(host):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((host, 53))  # a route lookup; nothing is sent
            return "a route to " + host
        finally:
            s.close()

    def fill():
        # Files of at most the file-size limit, until the scratch is full; they stay there.
        base = os.environ.get("TMPDIR") or os.getcwd()
        written, errors, paths, chunk = 0, set(), [], b"x" * (1 << 20)
        for i in range(4096):
            path = os.path.join(base, f"fill-{i}")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except OSError as e:
                errors.add(errno.errorcode.get(e.errno, str(e.errno)))
                break
            paths.append(path)
            try:
                while True:
                    written += os.write(fd, chunk)
            except OSError as e:
                errors.add(errno.errorcode.get(e.errno, str(e.errno)))
                if e.errno != errno.EFBIG:
                    break
            finally:
                os.close(fd)
        vfs = os.statvfs(base)
        return {"written_mb": written >> 20, "errors": sorted(errors), "paths": paths[:2] + paths[-1:],
                "filesystem_mb": (vfs.f_blocks * vfs.f_frsize) >> 20}

    def bomb():
        # Every process forks until bomb_seconds pass, then reaps its children and exits.
        started = time.monotonic()
        root = os.fork()
        if root == 0:
            refused, kids = False, 0
            while time.monotonic() - started < bomb_seconds:
                try:
                    pid = os.fork()
                except OSError:
                    refused = True
                    time.sleep(0.02)
                    continue
                if pid == 0:
                    kids = 0
                else:
                    kids += 1
            for _ in range(kids):
                os.wait()
            os._exit(3 if refused else 0)
        peak = 0
        while True:
            pid, status = os.waitpid(root, os.WNOHANG)
            if pid:
                break
            peak = max(peak, sum(1 for p in os.listdir("/proc") if p.isdigit()))
            time.sleep(0.02)
        return {"peak_processes": peak, "fork_refused": os.WEXITSTATUS(status) == 3,
                "seconds": round(time.monotonic() - started, 1)}

    found = {
        "tcp_loopback": attempt(lambda: tcp("127.0.0.1")),
        "unix_abstract": attempt(abstract),
        "route_outside": attempt(lambda: route("192.0.2.1")),  # TEST-NET-1: never routed anywhere
        "interfaces": attempt(lambda: [name for _, name in socket.if_nameindex()]),
        "secret_file": attempt(lambda: read(secret_path)),
        "etc_shadow": attempt(lambda: read("/etc/shadow")),
        "root_listing": attempt(lambda: sorted(os.listdir("/root"))),
        "root_bashrc": attempt(lambda: read("/root/.bashrc")),
        "home": attempt(lambda: os.listdir("/home")),
        "host_proc": {str(pid): attempt(lambda pid=pid: read(f"/proc/{pid}/environ")) for pid in host_pids},
        "init_environ": attempt(lambda: read("/proc/1/environ")),
        "visible_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "uid": os.getuid(),
        "environ": dict(os.environ),
        "disk": attempt(fill),
        "fork_bomb": attempt(bomb),
    }
    return json.dumps(found)
'''


LINGER_SOURCE = r'''
def linger(marker: str) -> int:
    """Leave two processes running: one in a session of its own, one double-forked away."""
    import os, subprocess, sys, time
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)", marker]
    subprocess.Popen(sleeper, start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, sleeper)
        os._exit(0)
    os.wait()
    time.sleep(0.5)  # both have started their sleep
    return 2
'''


def probe_api(name: str = "contained") -> bytes:
    """A model API whose one endpoint runs the probes when called."""
    cells = [f.markdown(f"# {name}\n\nA model endpoint that tries to get out of its sandbox."),
             f.code(PROBE_SOURCE.strip()),
             f.markdown("Answer, to show the worker still serves."),
             f.code('def ping() -> str:\n    return "pong"'),
             f.code(LINGER_SOURCE.strip())]
    return f.to_bytes(f.notebook(name, "1.0.0", cells, endpoints=["probe", "ping", "linger"]))


def probe_notebook(args: dict, name: str = "escape") -> bytes:
    """A notebook whose example cell runs the probes at validation and raises with what they yielded."""
    call = f"raise RuntimeError('PROBES ' + probe(**{args!r}))"
    cells = [f.markdown(f"# {name}\n\nA notebook that tries to get out while it is validated."),
             f.code(PROBE_SOURCE.strip() + "\n\n" + call, "example")]
    return f.to_bytes(f.notebook(name, "1.0.0", cells))

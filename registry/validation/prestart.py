"""Pre-started validation kernels, the caller's side: ask the keeper for a ready runner, run one job.

Starting a kernel is most of a validation's cost (about half a second of a publish). So a small
long-lived process, the *keeper* (:mod:`gilgamesh.registry.validation.keeper`), keeps one runner
ready per environment: the sandboxed runner process of :mod:`gilgamesh.registry.validation.runner`
with its kernel started and connected, waiting for its single job on stdin. It is everything a
validation needs before the notebook is known, and nothing of any notebook.

**Single use.** The runner runs one job (a validation or a ``gilgamesh run``), then kills its
kernel and ends; the keeper kills what may be left of it and starts the next runner at once. No
kernel runs two jobs, and none is forked from a parent that imported anything: each is a fresh
interpreter started by jupyter_client, as without the keeper, so a missing import still fails
and ``random`` and ``hash`` are seeded anew.

**The environment.** A runner is handed only to a job whose environment key
(:func:`gilgamesh.registry.validation.fingerprint.environment_key`: interpreter, installed
distributions, Gilgamesh's own code, registry, ``settings.json``, the variables the kernel sees,
validator version) is the one it was started with. A ready runner whose key no longer matches
the environment of a job from the same place (the same registry, interpreter and variables) is
discarded, never used; one for another place waits for its own (four at most, the least recently
used go first).

**The keeper.** One per user and interpreter: a unix socket ``keeper-<hash>.sock`` in
``$GILGAMESH_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/gilgamesh``, else ``<tmp>/gilgamesh-<uid>``
(a directory of mode 0700 owned by the user, checked before every use; the keeper also checks its
caller's uid on the socket). The first validation, ``publish`` or ``run`` that finds none starts
one (detached: it outlives that command) and runs its own notebook without it; the keeper then
starts a runner for that environment, so the next command finds it ready. It exits by itself
after ``GILGAMESH_PRESTART_IDLE`` seconds without a request (default 600), killing its ready
runners, and at once when its own code changed. It never holds a token: its environment and the
ones it is sent are the sandbox's allow-list (without the sandbox, an environment with a variable
named like a credential is not sent, and that run starts its own kernel).

**Protocol** (one JSON object a line on the socket): ``{"op": "take", "key", "slot", "launch",
"source", "protocol"}`` is answered ``{"ok": true, "pid", "job", "sandboxed", "prestarted",
"ready", ...}`` with the runner's stdin, stdout and stderr passed along (``SCM_RIGHTS``); the
caller writes the notebook's part of the job on stdin, reads the report from stdout (after one
whitespace byte, the runner's "ready"), then sends ``{"op": "end", "reported", "kill"}``, which
the keeper answers, once the runner and everything it started are gone and its scratch directory
removed, with ``{"ok": true, "returncode"}``. Closing the connection early ends the job the same
way. ``prepare`` starts a runner for an environment without taking it; ``status`` and ``stop``
are for tests and benchmarks.

**Falling back.** Whatever goes wrong before the job reached the runner (no keeper, a keeper that
does not answer or answers nonsense, a runner that died or whose kernel did not start) leaves the
run to the direct launch of :mod:`gilgamesh.registry.validation.launch`: nothing breaks, it is
only slower. ``GILGAMESH_PRESTART=0`` turns pre-starting off; ``GILGAMESH_PRESTART=verbose``
prints a line on stderr saying which way each run went.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import selectors
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["run_prestarted", "enabled", "runtime_dir", "socket_path", "request", "prepare", "status", "stop",
           "DEFAULT_IDLE_SECONDS", "MAX_SOCKET_PATH"]

DEFAULT_IDLE_SECONDS = 600.0
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes
ANSWER_TIMEOUT = 15.0  # seconds for the keeper to answer (it may start a runner first)
CONNECT_TIMEOUT = 2.0
_OFF = ("0", "off", "false", "no")


def enabled() -> bool:
    """Whether validation may use a pre-started runner (``GILGAMESH_PRESTART``, default on)."""
    return os.environ.get("GILGAMESH_PRESTART", "1").strip().lower() not in _OFF


def _verbose() -> bool:
    return os.environ.get("GILGAMESH_PRESTART", "").strip().lower() == "verbose"


def _note(message: str) -> None:
    if _verbose():
        sys.stderr.write(f"gilgamesh: {message}\n")
        sys.stderr.flush()


def idle_seconds() -> float:
    try:
        return max(0.1, float(os.environ.get("GILGAMESH_PRESTART_IDLE") or DEFAULT_IDLE_SECONDS))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


def runtime_dir() -> str | None:
    """The user's directory for the keeper's socket, made 0700 if missing; None if it is not a
    directory of this user's that no one else may enter."""
    explicit = os.environ.get("GILGAMESH_RUNTIME_DIR")
    if explicit:
        path = os.path.abspath(explicit)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "gilgamesh")
    else:
        path = os.path.join(tempfile.gettempdir(), f"gilgamesh-{os.geteuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return None
    return path


def socket_path(directory: str) -> str:
    """The keeper's socket for this interpreter (one keeper per user and interpreter)."""
    from gilgamesh.registry.validation.fingerprint import PROTOCOL

    who = json.dumps([os.path.realpath(sys.executable), sys.prefix, os.path.dirname(os.path.abspath(__file__)), PROTOCOL])
    return os.path.join(directory, f"keeper-{hashlib.sha256(who.encode()).hexdigest()[:16]}.sock")


def _request_spec(root: str, settings: dict, sandbox: bool) -> tuple[dict | None, str]:
    """The environment part of a request (its key, its slot, how to start its runner), or None and why."""
    from gilgamesh.registry.sandbox.launch import allowed_environment
    from gilgamesh.registry.validation.fingerprint import (
        PROTOCOL, SHELL_BOOKKEEPING, environment_key, holds_secrets, runner_environment)

    env = runner_environment(os.environ)
    if sandbox:
        sent = allowed_environment(env)
    else:
        sent = {k: v for k, v in env.items() if k not in SHELL_BOOKKEEPING}
        if holds_secrets(sent):
            return None, ("the kernel was not pre-started: without the sandbox it would see a variable named like a "
                          "credential, which the keeper is not given")
    key, parts = environment_key(root, settings, sandbox, env)
    # One place (registry, interpreter, variables): its ready runner is stale when the key moves on.
    slot = hashlib.sha256(json.dumps([root, parts["python"], parts["environment"], sandbox],
                                     sort_keys=True).encode()).hexdigest()
    return {"protocol": PROTOCOL, "key": key, "slot": slot, "source": parts["source"],
            "launch": {"root": root, "settings": settings, "sandbox": sandbox, "env": sent, "python": sys.executable}}, ""


# -- the conversation ------------------------------------------------------------------------------
class Connection:
    """One connection to the keeper: JSON lines, file descriptors passed along."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []

    def send(self, message: dict, fds: tuple[int, ...] = ()) -> None:
        data = (json.dumps(message) + "\n").encode()
        if fds:
            sent = socket.send_fds(self.sock, [data], list(fds))
            data = data[sent:]
        if data:
            self.sock.sendall(data)

    def receive(self) -> dict:
        """The next message; its descriptors go to ``self.fds``. Raises EOFError, OSError, ValueError."""
        while b"\n" not in self.buffer:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 4)
            self.fds += fds
            if not data:
                raise EOFError("the keeper closed the connection")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("not a message")
        return message

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
        self.sock.close()


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _connect(path: str) -> Connection | None:
    """A connection to the keeper at ``path``; None if none listens there. Raises OSError otherwise."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError:
        sock.close()
        raise
    if peer_uid(sock) != os.geteuid():
        sock.close()
        raise OSError("the keeper's socket belongs to another user")
    sock.settimeout(ANSWER_TIMEOUT)
    return Connection(sock)


def _spawn_keeper(path: str, first: dict | None) -> None:
    """Start a keeper for ``path``, detached (it outlives this process); ``first``: the request to
    prepare a runner for at once."""
    from gilgamesh.registry.sandbox.launch import allowed_environment

    env = allowed_environment(os.environ)  # never a token
    env["GILGAMESH_PRESTART_IDLE"] = repr(idle_seconds())
    log_path = path.removesuffix(".sock") + ".log"  # what the keepers did, the last megabyte or so
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        if os.path.exists(log_path) and os.path.getsize(log_path) > 1 << 20:
            flags |= os.O_TRUNC
        log = os.fdopen(os.open(log_path, flags, 0o600), "ab")
    except OSError:
        log = subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gilgamesh.registry.validation.keeper", path],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, cwd="/", env=env, start_new_session=True,
        )
    except OSError:
        return
    finally:
        if log is not subprocess.DEVNULL:
            log.close()
    try:
        proc.stdin.write(json.dumps(first or {}).encode())
        proc.stdin.close()
    except OSError:
        pass
    # It forks the keeper and exits at once; reap it without waiting here.
    threading.Thread(target=proc.wait, daemon=True).start()


def request(message: dict, spawn: bool = False) -> dict | None:
    """Send one message that is not a job (``prepare``, ``status``, ``stop``) to this user's
    keeper; its answer, or None when there is none (with ``spawn``, one is started to prepare
    ``message`` if it is a ``prepare``)."""
    directory = runtime_dir()
    if directory is None:
        return None
    path = socket_path(directory)
    try:
        conn = _connect(path)
    except OSError:
        return None
    if conn is None:
        if spawn:
            _spawn_keeper(path, message if message.get("op") == "prepare" else None)
        return None
    try:
        conn.send(message)
        return conn.receive()
    except (OSError, EOFError, ValueError):
        return None
    finally:
        conn.close()


def prepare(root: str, settings: dict, wait: float = 0.0) -> dict | None:
    """Have a runner ready for this process's validations against ``root`` with ``settings``
    (starting the keeper if there is none). Without ``wait``, the keeper's answer, or None; with
    it, the runner's state (``{"pid", "slot", "key", "state", "alive"}``) once its kernel is
    ready, waiting up to ``wait`` seconds, or None."""
    from gilgamesh.registry.sandbox.launch import use_sandbox

    spec, _why = _request_spec(os.path.abspath(root) if "://" not in root else root, settings, use_sandbox(settings))
    if spec is None:
        return None
    answer = request({"op": "prepare", **spec}, spawn=True)
    if not wait:
        return answer
    until = time.monotonic() + wait
    while time.monotonic() < until:
        if answer is None:  # a keeper was being started
            time.sleep(0.05)
            answer = request({"op": "prepare", **spec}, spawn=False)
            continue
        for runner in (status() or {}).get("runners", []):
            if runner["slot"] == spec["slot"] and runner["key"] == spec["key"] and runner["state"] == "ready":
                return runner
        time.sleep(0.05)
    return None


def status() -> dict | None:
    """The keeper's state (its pid, its ready runners), or None when there is none."""
    return request({"op": "status"})


def stop(every: bool = False) -> dict | None:
    """Stop this user's keeper for this interpreter (its runners killed); its answer, or None when
    there was none. ``every``: each keeper in the runtime directory, whatever its interpreter
    (the answer is then the last one's)."""
    if not every:
        return request({"op": "stop"})
    directory = runtime_dir()
    answer = None
    for name in sorted(os.listdir(directory)) if directory else ():
        if name.startswith("keeper-") and name.endswith(".sock"):
            try:
                conn = _connect(os.path.join(directory, name))
            except OSError:
                continue
            if conn is None:
                continue
            try:
                conn.send({"op": "stop"})
                answer = conn.receive()
            except (OSError, EOFError, ValueError):
                pass
            finally:
                conn.close()
    return answer


# -- one job ---------------------------------------------------------------------------------------
def run_prestarted(data: bytes, part, root: str, settings: dict, sandbox: bool, grace: float) -> dict | None:
    """Run the notebook ``data`` in a pre-started runner; the runner's report, or None when there
    is none to use (the caller then starts its own). ``part(probe_out)``: the notebook's part of
    the job (:func:`gilgamesh.registry.validation.launch.notebook_part`); ``grace``: the seconds
    past the run's limits after which it is killed here."""
    if not enabled():
        return None
    directory = runtime_dir()
    if directory is None:
        _note("the kernel was not pre-started: no private runtime directory for the keeper "
              "(GILGAMESH_RUNTIME_DIR, XDG_RUNTIME_DIR)")
        return None
    path = socket_path(directory)
    if len(path.encode()) > MAX_SOCKET_PATH:
        _note(f"the kernel was not pre-started: the keeper's socket path is too long ({path})")
        return None
    spec, why = _request_spec(root, settings, sandbox)
    if spec is None:
        _note(why)
        return None
    try:
        conn = _connect(path)
    except OSError as e:
        _note(f"the kernel was not pre-started: the keeper did not answer ({e})")
        return None
    if conn is None:
        _spawn_keeper(path, {"op": "prepare", **spec})
        _note("started a keeper of pre-started kernels; this run starts its own kernel")
        return None
    try:
        return _take(conn, spec, data, part, path, grace)
    finally:
        conn.close()


def _take(conn: Connection, spec: dict, data: bytes, part, path: str, grace: float) -> dict | None:
    try:
        conn.send({"op": "take", **spec})
        reply = conn.receive()
    except (OSError, EOFError, ValueError) as e:
        _note(f"the kernel was not pre-started: the keeper failed ({type(e).__name__}: {e})")
        return None
    if not reply.get("ok") or len(conn.fds) != 3 or not isinstance(reply.get("job"), dict):
        _note(f"the kernel was not pre-started: {reply.get('reason') or 'the keeper handed no runner'}")
        if reply.get("respawn"):
            _spawn_keeper(path, {"op": "prepare", **spec})
        return None
    fds, conn.fds = conn.fds, []
    try:
        return _run_job(conn, reply, fds, data, part, grace)
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def _run_job(conn: Connection, reply: dict, fds: list[int], data: bytes, part, grace: float) -> dict | None:
    from gilgamesh.registry.validation.reports import ended_early, parse_report, progress_cell, timed_out

    job = reply["job"]
    rest = part(job["probe_out"])
    saving = bool(rest.get("save"))
    payload = json.dumps({**rest, "notebook_b64": base64.b64encode(data).decode()}).encode()
    stdin_fd, stdout_fd, stderr_fd = fds
    fds[0] = -1  # closed by the writer
    delivered = threading.Event()

    def write() -> None:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(stdin_fd, view):]
            delivered.set()
        except OSError:
            pass  # the runner is gone: it never took the job
        finally:
            os.close(stdin_fd)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    deadline = time.monotonic() + float(job["startup_timeout"]) + float(job["timeout"]) + grace
    out, err = bytearray(), bytearray()
    selector = selectors.DefaultSelector()
    selector.register(stdout_fd, selectors.EVENT_READ, out)
    selector.register(stderr_fd, selectors.EVENT_READ, err)
    open_fds = 2
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for key, _ in selector.select(min(remaining, 1.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                open_fds -= 1
                continue
            key.data.extend(chunk)
            if saving and key.fd == stderr_fd:  # `gilgamesh run`: the cells' progress, as it comes
                sys.stderr.write(chunk.decode(errors="replace"))
                sys.stderr.flush()
            elif key.fd == stderr_fd and len(err) > 65536:
                del err[:-32768]
    selector.close()
    finished = open_fds == 0
    report = parse_report(bytes(out)) if finished else None
    took = delivered.is_set() or bool(out.strip())
    cell = progress_cell(job)  # before the keeper removes the scratch directory
    try:
        conn.send({"op": "end", "reported": report is not None, "kill": not finished})
        ended = conn.receive()
    except (OSError, EOFError, ValueError):
        ended = None  # the keeper is gone, and its runners with it
    writer.join(timeout=1)
    if not finished:
        return timed_out(job, cell)
    if report is None and (not took or ended is None):
        _note("the pre-started runner ended before it reported "
              f"({'before it took its job' if not took else 'its keeper is gone'}); this run starts its own kernel")
        return None
    if report is None:
        return ended_early(ended.get("returncode"), bool(reply.get("sandboxed")), bytes(err), job, cell)
    if "stale" in report:
        _note(f"{report['stale']}; this run starts its own kernel")
        return None
    _note(f"ran in a {'pre-started' if reply.get('prestarted') else 'newly started'} kernel "
          f"(runner pid {reply.get('pid')}, keeper pid {reply.get('keeper')}, "
          f"{'ready' if reply.get('ready') else 'still starting'} when taken)")
    return report

"""A model worker process: imports API modules once, then runs calls sent by the server.

Run as ``python -m gilgamesh.service.calls.worker FD SERVER_PID`` with ``GILGAMESH_REGISTRY`` naming the registry;
``FD`` is this end of the socketpair (see :mod:`gilgamesh.service.calls.protocol`). Sandboxed
(``GILGAMESH_CONTAINED=1``: a PID namespace of its own, this worker pid 2 under bwrap's init), it
kills whatever a call left running before answering it. Modules come from
the loader (``gilgamesh.use("name@version")``), so the compiled-code cache is shared with every
other process of the machine. Whatever the model prints goes to stderr, never into the protocol.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import socket
import sys
import time
import traceback

from gilgamesh.service.calls.protocol import (
    CALL, CALL_BOUND, ERROR, IMPORTED, IMPORTING, OK, READY, REPLY_HEADER, REQUEST_HEADER,
)

__all__ = ["main", "encode_result", "as_arrays", "NON_FINITE"]



def _die_with_parent() -> None:
    """Ask the kernel to kill this worker when the server dies, even inside a hung model call."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _jsonable(obj):
    """``json.dumps`` fallback: numpy arrays and scalars, sets and tuples-likes."""
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"a value of type {type(obj).__name__} is not JSON-compatible")


# JSON has no spelling for the non-finite floats: a result carries them as these strings, never
# as null (which would be indistinguishable from a missing value). The OpenAPI document declares
# every number of a result as such a number or one of these strings.
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _spelled(obj):
    """The same value with NaN and the infinities as the strings of :data:`NON_FINITE`."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else NON_FINITE[repr(obj)]
    if isinstance(obj, dict):
        return {k: _spelled(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_spelled(v) for v in obj]
    return obj


def encode_result(value) -> bytes:
    """The result as JSON bytes; NaN and infinities become ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    try:
        return json.dumps(value, allow_nan=False, default=_jsonable).encode()
    except ValueError:
        plain = json.loads(json.dumps(value, default=_jsonable))  # NaN survives this round trip
        return json.dumps(_spelled(plain), allow_nan=False).encode()


INDEX_CATCH_UP = 2.0  # seconds a worker waits for an index file its service already read from git


def _load_module(name: str, version: str):
    """The module of ``name@version`` through the loader: one module object per version, and the
    compiled-code cache shared with every other process of the machine."""
    import gilgamesh
    from gilgamesh.errors import VersionNotFound

    try:
        return gilgamesh.use(f"{name}@{version}")
    except VersionNotFound:
        pass
    # Published after this warm worker first read the API's index (the loader reads it once per
    # process): forget the resolutions, read it again. The service may have seen the version in
    # the git refs while its writer was still writing the index file, which is all a sandboxed
    # worker can read: give the writer a moment to finish.
    deadline = time.monotonic() + INDEX_CATCH_UP
    while True:
        gilgamesh.refresh()
        try:
            return gilgamesh.use(f"{name}@{version}")
        except VersionNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _error(kind: str, message: str, details: list | None = None) -> bytes:
    return json.dumps({"type": kind, "message": message, "details": details or []}).encode()


def _model_traceback(exc: BaseException) -> list[str]:
    """The frames of the model's code (this module's own left out), most recent last.

    File names are shortened to their last part (``geo@1.1.0 cell 9.py``): the answer names the
    notebook cell, not where this machine keeps its caches.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    frames = traceback.extract_tb(tb)
    for frame in frames:
        frame.filename = os.path.basename(frame.filename)
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return [line.rstrip() for line in "".join(lines).splitlines() if line.strip()][-40:]


class Leftovers:
    """What model calls leave running in this worker's PID namespace, ended after each call.

    ``ns_last_pid`` (the namespace's last pid handed out: one read, a few microseconds) tells
    whether a call started anything; only then is ``/proc`` read. Threads of this worker are not
    listed there, so everything but bwrap's init (1) and this process is the call's.
    """

    PATH = "/proc/sys/kernel/ns_last_pid"

    def __init__(self):
        self.last = self._last_pid()

    def _last_pid(self) -> bytes:
        with open(self.PATH, "rb") as f:
            return f.read()

    def end(self) -> int:
        """Kill and reap what was started since the last look; return how many."""
        if self._last_pid() == self.last:
            return 0
        me, killed = os.getpid(), []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in (1, me):
                try:
                    os.kill(int(entry), signal.SIGKILL)
                    killed.append(int(entry))
                except OSError:
                    pass
        for pid in killed:
            try:
                os.waitpid(pid, 0)  # ours: reaped; adopted by init (a double fork): init reaps it
            except ChildProcessError:
                pass
        self.last = self._last_pid()
        return len(killed)


class Worker:
    """The state of one worker: its socket and the modules it has imported."""

    def __init__(self, sock: socket.socket, leftovers: Leftovers | None = None):
        self.sock = sock
        self.modules: dict[tuple[str, str], object] = {}
        self.out: list[bytes] = []
        self.leftovers = leftovers

    def reply(self, cid: int, kind: int, payload: bytes = b"", seconds: float = 0.0) -> None:
        self.out.append(REPLY_HEADER.pack(len(payload) + REPLY_HEADER.size - 4, cid, kind, seconds) + payload)

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(b"".join(self.out))
            self.out.clear()

    def module(self, cid: int, name: str, version: str):
        key = (name, version)
        module = self.modules.get(key)
        if module is None:
            self.reply(cid, IMPORTING)
            self.flush()
            module = _load_module(name, version)
            self.modules[key] = module
            self.reply(cid, IMPORTED)
            self.flush()  # the call's own time limit starts now: the server must know at once
        return module

    def call(self, request: tuple) -> None:
        if request[0] == CALL_BOUND:  # the body reader's pickled arguments
            _, cid, name, version, function, bound = request
            positional, keywords, arrays = pickle.loads(bound)
        else:
            _, cid, name, version, function, positional, keywords, arrays = request
        label = f"{name}@{version} {function}"
        try:
            module = self.module(cid, name, version)
        except BaseException as e:  # the notebook's own code raised while importing
            self.reply(cid, ERROR, _error(
                "ModelError", f"{name}@{version} failed to import: {type(e).__name__}: {e}", _model_traceback(e)))
            return
        fn = getattr(module, function, None)
        if not callable(fn):
            self.reply(cid, ERROR, _error("NotFound", f"{name}@{version} defines no function {function!r}"))
            return
        if arrays:
            try:
                positional, keywords = as_arrays(positional, keywords, arrays)
            except ValueError as e:
                self.reply(cid, ERROR, _error("BadArguments", f"bad arguments to {label}: {e}"))
                return
        started = time.perf_counter()
        try:
            result = fn(*positional, **keywords)
        except BaseException as e:  # SystemExit too: a model cannot stop its worker that way
            self.reply(cid, ERROR, _error("ModelError", f"{label} raised {type(e).__name__}: {e}", _model_traceback(e)),
                       time.perf_counter() - started)
            return
        try:
            payload = encode_result(result)
        except (TypeError, ValueError, RecursionError) as e:
            self.reply(cid, ERROR, _error("ModelError", f"{label} returned a value that is not JSON-compatible: {e}"),
                       time.perf_counter() - started)
            return
        self.reply(cid, OK, payload, time.perf_counter() - started)

    def serve(self) -> None:
        buf = bytearray()  # grows in place: large arguments arrive in many reads
        recv = self.sock.recv
        header = REQUEST_HEADER
        while True:
            data = recv(1 << 20)
            if not data:
                return  # the server closed its end
            buf += data
            while len(buf) >= 4:
                (n,) = header.unpack_from(buf)
                if len(buf) < 4 + n:
                    break
                request = pickle.loads(buf[4:4 + n])
                del buf[:4 + n]
                if request[0] == CALL or request[0] == CALL_BOUND:
                    self.call(request)
                    if self.leftovers is not None and self.leftovers.end():
                        print(f"killed the processes that {request[2]}@{request[3]} {request[4]} left running",
                              file=sys.stderr)
                    # Each answer goes out as soon as it is known: held back for a batch, it
                    # would wait on the next call, and a slow next call would make this one
                    # look like it ran past its time limit.
                    self.flush()


def as_arrays(positional: list, keywords: dict, arrays: tuple) -> tuple[list, dict]:
    """The arguments with those the endpoint takes as arrays made numpy arrays."""
    import numpy

    positional = list(positional)
    for key in arrays:
        if isinstance(key, int):
            positional[key] = numpy.asarray(positional[key])
        else:
            keywords[key] = numpy.asarray(keywords[key])
    return positional, keywords


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _die_with_parent()
    sock = socket.socket(fileno=int(argv[0]))
    if len(argv) > 1 and os.getppid() != int(argv[1]):  # the server died before that was armed
        return 0
    os.dup2(2, 1)  # print() in a model lands on stderr, never in the protocol
    sys.stdout = sys.stderr
    # Stopping is the server's to decide: it closes this worker's socket (an idle worker exits on
    # EOF) and kills a busy one; the server's death kills it in any case (PR_SET_PDEATHSIG).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        import numpy  # noqa: F401  warm: the first call with an array must not pay for it
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    import gilgamesh  # noqa: F401  the loader, before the first call

    leftovers = Leftovers() if os.environ.get("GILGAMESH_CONTAINED") == "1" else None
    worker = Worker(sock, leftovers)
    try:
        worker.reply(0, READY)
        worker.flush()
        worker.serve()
    except (BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

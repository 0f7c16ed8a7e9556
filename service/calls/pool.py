"""Warm model worker processes, driven from the server's event loop, and the fair scheduling of calls.

Each worker is a separate Python process (``gilgamesh.service.calls.worker``) joined to the server by a
socketpair; it runs its calls one at a time, in order, so the server always knows which call a
worker is running (the oldest it has not answered). Scheduling:

- **Slow calls never wait behind each other, nor hold fast ones back.** A call goes to an idle
  worker. Only *cheap* calls (their endpoint's measured duration under :data:`CHEAP` seconds) may
  queue on a busy worker, and only behind other cheap calls of a worker that keeps up: one write
  and one wake-up then carry a whole loop turn's calls, which keeps a cheap call's cost close to
  calling in-process. The worker measures every call and reports its duration.
- **The pool grows** from ``size`` workers up to ``max_size`` while calls that are not cheap
  occupy them, keeping one spare started so that a fast call finds a worker at once; workers
  beyond ``size`` that stayed idle for :data:`IDLE_RETIRE` seconds are stopped.
- **Waiting is fair and bounded.** Calls that find no worker wait in a queue served round-robin
  across (API, endpoint), so a burst of one endpoint does not starve the others; past
  ``queue_limit`` waiting calls a call is refused at once with 503 and ``Retry-After``.

A call that runs past its time limit gets 504 and its worker is killed and replaced; a call that
kills its worker gets 500 and the worker is replaced. Either way the calls queued behind it on
that worker had not started, so they are sent to another worker and complete normally.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from gilgamesh import errors
from gilgamesh.errors import GilgameshError, ModelCrashed, ModelTimeout, ServiceBusy
from gilgamesh.registry.sandbox.launch import Limits, sandboxed, use_sandbox
from gilgamesh.registry.store.settings import default_settings, read_settings
from gilgamesh.service.options import ServiceOptions

from gilgamesh.service.calls.binder import ArgumentProblem
from gilgamesh.service.calls.body_reader import BodyReader
from gilgamesh.service.calls.protocol import CALL, CALL_BOUND, ERROR, IMPORTED, IMPORTING, OK, READY, REPLY_HEADER, REQUEST_HEADER

__all__ = ["WorkerPool", "CHEAP", "default_size", "default_max_size"]

log = logging.getLogger("gilgamesh.service")

_BATCH = 64  # cheap calls queued on one worker before the next one is used
_KEEPS_UP = 0.005  # seconds a worker's current (cheap) call may have run for it to take more
CHEAP = 0.002  # seconds: an endpoint measured faster than this may be batched
IDLE_RETIRE = 30.0  # seconds an extra worker may stay idle before it is stopped


def default_size() -> int:
    """The warm workers of a pool by default: one per core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def default_max_size(size: int) -> int:
    """How far a pool grows by default while slow calls occupy its workers."""
    return max(size, 4 * default_size())


class _Call:
    __slots__ = ("cid", "key", "label", "frame", "future", "costly", "large")

    def __init__(self, cid: int, key: tuple, label: str, frame: bytes, future: asyncio.Future, large: bool):
        self.cid, self.key, self.label, self.frame, self.future = cid, key, label, frame, future
        self.large = large  # its worker parses a large body first: never batched, whatever the endpoint costs
        self.costly = False  # not known to be cheap when it was given to its worker


class _FairQueue:
    """Calls waiting for a worker, served round-robin across their (API, endpoint) keys."""

    def __init__(self):
        self.queues: dict[tuple, collections.deque[_Call]] = {}
        self.rotation: collections.deque[tuple] = collections.deque()  # keys with waiting calls
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def push(self, call: _Call, front: bool = False) -> None:
        queue = self.queues.get(call.key)
        if queue is None:
            queue = self.queues[call.key] = collections.deque()
            if front:
                self.rotation.appendleft(call.key)
            else:
                self.rotation.append(call.key)
        if front:
            queue.appendleft(call)
        else:
            queue.append(call)
        self.size += 1

    def peek(self) -> _Call | None:
        return self.queues[self.rotation[0]][0] if self.rotation else None

    def pop(self) -> _Call:
        key = self.rotation.popleft()
        queue = self.queues[key]
        call = queue.popleft()
        if queue:
            self.rotation.append(key)  # its next call waits for the other keys' turn
        else:
            del self.queues[key]
        self.size -= 1
        return call

    def drain(self) -> list[_Call]:
        calls = [c for q in self.queues.values() for c in q]
        self.queues.clear()
        self.rotation.clear()
        self.size = 0
        return calls


class _Worker:
    """The server's handle on one worker process."""

    def __init__(self, pool: "WorkerPool", proc: subprocess.Popen, sock: socket.socket):
        self.pool = pool
        self.proc = proc
        self.sock = sock
        self.fd = sock.fileno()
        self.ready = False
        self.dead = False
        self.inflight: collections.deque[_Call] = collections.deque()
        self.costly = 0  # calls in flight that are not cheap
        self.outbox: list[bytes] = []
        self.unsent: collections.deque[memoryview] = collections.deque()  # what the socket did not take yet
        self.buf = b""
        self.head_since = 0.0  # when the call it runs now started (as far as the server knows)
        self.idle_since = time.monotonic()
        self.importing = False

    def __repr__(self) -> str:
        return f"<worker pid {self.proc.pid}, {len(self.inflight)} in flight>"


class WorkerPool:
    """``size`` warm worker processes (growing to ``max_size``) for the models of the registry at ``registry_root``.

    ``registry_root`` is a registry directory (the service's), or the URL of a registry service (a
    Dask worker's, gilgamesh/dask.py): the default settings apply to that, and a sandboxed worker
    keeps the network to reach it (never its token: the sandbox passes no credential).
    """

    def __init__(
        self,
        registry_root: str,
        size: int | None = None,
        call_timeout: float = ServiceOptions.default("call_timeout"),
        import_timeout: float = ServiceOptions.default("import_timeout"),
        *,
        max_size: int | None = None,
        queue_limit: int = ServiceOptions.default("queue_limit"),
    ):
        if size is None:
            size = default_size() if max_size is None else min(default_size(), max_size)
        max_size = default_max_size(size) if max_size is None else max_size
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        if max_size < size:
            raise ValueError(f"the most model workers ({max_size}) must be at least the warm ones ({size})")
        if queue_limit < 0:
            raise ValueError("the queue limit cannot be negative")
        self.registry_root = registry_root
        self.size = size
        self.max_size = max_size
        self.queue_limit = queue_limit
        self.idle_retire = IDLE_RETIRE
        self.call_timeout = call_timeout
        self.import_timeout = import_timeout
        self.workers: list[_Worker] = []
        self.pending = _FairQueue()
        self.costs: dict[str, float] = {}  # seconds per call, by endpoint of a version (a running estimate)
        self._ids = itertools.count(1)
        self._flush_scheduled = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.TimerHandle | None = None
        # One periodic check of every worker's running call, rather than a timer per call: a
        # timer armed and cancelled per call costs more than the call at thousands a second.
        self._tick = min(0.05, max(0.005, min(call_timeout, import_timeout) / 20))
        self.bodies = BodyReader()  # large request bodies, parsed away from the event loop
        self.replaced = 0  # workers replaced after a timeout or a crash (for tests and logs)
        self.refused = 0  # calls refused with 503 because the queue was full
        self.scratch: str | None = None  # the sandboxed workers' writable directory
        self.limits: Limits | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the workers (on the running event loop); calls queue until one is ready."""
        remote = "://" in self.registry_root
        settings = default_settings() if remote else read_settings(self.registry_root)
        sandbox = use_sandbox(settings)  # raises SandboxRequired (503) where bwrap is required but missing
        self._loop = asyncio.get_running_loop()
        if sandbox:
            # Published code runs here at anyone's request: give it the validation sandbox. A warm
            # worker lives long, so no CPU-time limit: each call has its own time limit.
            self.limits = dataclasses.replace(Limits.from_settings(settings), cpu_seconds=None)
            self.scratch = tempfile.mkdtemp(prefix="gilgamesh-workers-")
            for sub in ("cache", "tmp", "matplotlib"):
                os.makedirs(os.path.join(self.scratch, sub))
        for _ in range(self.size):
            self._spawn()
        self._ticker = self._loop.call_later(self._tick, self._check_deadlines)

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ, GILGAMESH_REGISTRY=self.registry_root)
        argv = [sys.executable, "-m", "gilgamesh.service.calls.worker", str(theirs.fileno()), str(os.getpid())]
        if self.scratch is not None:
            env.update(GILGAMESH_CACHE=os.path.join(self.scratch, "cache"), TMPDIR=os.path.join(self.scratch, "tmp"),
                       MPLCONFIGDIR=os.path.join(self.scratch, "matplotlib"), GILGAMESH_CONTAINED="1")
            # Inside, the worker's parent is bwrap, not this server: no parent-pid check (argv[5]).
            remote = "://" in self.registry_root
            argv = sandboxed(argv[:-1], registry_root=None if remote else self.registry_root, scratch=self.scratch,
                             env=env, limits=self.limits, network=remote)
        try:
            # A process group of its own: a Ctrl-C or SIGTERM sent to the server's group is the
            # server's to act on (it stops its workers); the worker dies with the server anyway.
            proc = subprocess.Popen(
                argv, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env, process_group=0,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        worker = _Worker(self, proc, ours)
        self.workers.append(worker)
        self._loop.add_reader(worker.fd, self._on_readable, worker)

    async def close(self) -> None:
        """Stop every worker; calls still waiting fail with 503."""
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
        workers = list(self.workers)
        for worker in workers:
            for call in self._retire(worker, None):  # EOF: an idle worker exits at once
                if not call.future.done():
                    call.future.set_exception(errors.RegistryUnavailable("the service is shutting down"))
        for call in self.pending.drain():
            if not call.future.done():
                call.future.set_exception(errors.RegistryUnavailable("the service is shutting down"))
        deadline = time.monotonic() + 1.0
        for worker in workers:
            while worker.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            if worker.proc.poll() is None:  # busy in a model call
                worker.proc.kill()
                worker.proc.wait()
        self.workers.clear()
        self.bodies.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def pids(self) -> list[int]:
        """The process of each live worker (bwrap's, for a sandboxed one: it ends with the worker)."""
        return [w.proc.pid for w in self.workers if not w.dead]

    def worker_count(self) -> int:
        """The live model workers (``/healthz``'s ``workers``)."""
        return len(self.pids())

    # -- calls -------------------------------------------------------------------------------
    def call(self, name: str, version: str, function: str, positional: list, keywords: dict,
             arrays: tuple = ()) -> asyncio.Future:
        """Run ``name@version``'s ``function``; the future gives the result as JSON bytes.

        Raises :class:`~gilgamesh.errors.ServiceBusy` (503) at once when no worker can take the
        call and ``queue_limit`` calls already wait.
        """
        return self._submit(CALL, name, version, function, (positional, keywords, arrays), large=False)

    def call_body(self, name: str, version: str, function: str, binder, data: bytes) -> asyncio.Future:
        """:meth:`call` with a large request body as it came: the body reader parses and binds it
        with ``binder``'s signature (:mod:`.body_reader`), then a worker runs the call."""
        label = f"{name}@{version} {function}"
        self._check_room(label, large=True)  # a full queue refuses before the body is read
        answer = self._loop.create_future()

        def bound(read: asyncio.Future) -> None:
            if answer.done():
                return
            try:
                ok, value = read.result()
                if not ok:
                    raise _error_from(*value)
                call = self._submit(CALL_BOUND, name, version, function, (value,), large=True)
            except BaseException as e:  # noqa: BLE001 - a 400, a 503, a reader that died: the call's answer
                answer.set_exception(e if isinstance(e, GilgameshError) else ModelCrashed(
                    f"the body of {label} could not be read: {type(e).__name__}: {e}"))
                return
            call.add_done_callback(lambda f: answer.done() or (
                answer.set_exception(f.exception()) if f.exception() else answer.set_result(f.result())))

        self.bodies.read(label, binder.signature, data).add_done_callback(bound)
        return answer

    def _check_room(self, label: str, large: bool) -> _Worker | None:
        """A worker for the call, None for the queue; :class:`ServiceBusy` when the queue is full."""
        if self._closed:
            raise errors.RegistryUnavailable("the service is shutting down: no model calls are taken")
        if self._loop is None:
            self.start()
        worker = self._worker_for(label, large)
        if worker is None and len(self.pending) >= self.queue_limit:
            self.refused += 1
            raise ServiceBusy(
                f"every model worker is busy and {len(self.pending)} calls already wait (the queue limit): "
                f"retry {label} later", retry_after=self._retry_after())
        return worker

    def _submit(self, kind: int, name: str, version: str, function: str, arguments: tuple,
                large: bool) -> asyncio.Future:
        label = f"{name}@{version} {function}"
        worker = self._check_room(label, large)
        cid = next(self._ids)
        payload = pickle.dumps((kind, cid, name, version, function, *arguments), 5)
        future = self._loop.create_future()
        call = _Call(cid, (name, function), label, REQUEST_HEADER.pack(len(payload)) + payload, future, large)
        if worker is None:
            self.pending.push(call)
            self._grow()
        else:
            self._assign(worker, call)
            if call.costly:
                self._grow()  # keep a spare for the next fast call
        return future

    def cheap(self, label: str) -> bool:
        """Whether calls of this endpoint have run fast enough to be batched (never measured: no)."""
        cost = self.costs.get(label)
        return cost is not None and cost < CHEAP

    def _measured(self, label: str, seconds: float) -> None:
        # A slower call counts at once (a slow call must not be batched again), a faster one
        # lowers the estimate gradually.
        cost = self.costs.get(label)
        self.costs[label] = seconds if cost is None or seconds > cost else 0.7 * cost + 0.3 * seconds

    def _batchable(self, call: _Call) -> bool:
        return not call.large and self.cheap(call.label)

    def _worker_for(self, label: str, large: bool) -> _Worker | None:
        """An idle worker; for a cheap call also a worker keeping up with cheap calls only."""
        cheap = not large and self.cheap(label)
        now = time.monotonic()
        for worker in self.workers:
            if not worker.ready:
                continue
            n = len(worker.inflight)
            if n == 0:
                return worker
            if cheap and not worker.costly and n < _BATCH and now - worker.head_since < _KEEPS_UP:
                return worker
        return None

    def _take_waiting(self, worker: _Worker) -> None:
        """Give a worker that answered (or started) the calls waiting for it, fairly."""
        while self.pending and worker.ready and not worker.dead:
            n = len(worker.inflight)
            if n and (worker.costly or n >= _BATCH or not self._batchable(self.pending.peek())):
                return
            self._assign(worker, self.pending.pop())

    def _grow(self) -> None:
        """Start workers for the waiting calls, plus one spare while slow calls occupy the pool."""
        room = self.max_size - len(self.workers)
        if room <= 0 or self._closed:
            return
        starting = sum(1 for w in self.workers if not w.ready)
        idle = sum(1 for w in self.workers if w.ready and not w.inflight)
        # A worker for each waiting call known to be slow (each will need one to itself), and
        # one more while anything else waits or slow calls run: the next fast call's.
        slow = sum(1 for q in self.pending.queues.values() for c in q if c.label in self.costs and not self.cheap(c.label))
        spare = 1 if len(self.pending) > slow or any(w.costly for w in self.workers) else 0
        for _ in range(min(room, slow + spare - starting - idle)):
            self._spawn()

    def _retry_after(self) -> int:
        """Seconds until a waiting call could be served, as far as the measured costs tell."""
        known = [self.costs.get(c.label, 1.0) for q in self.pending.queues.values() for c in q]
        return max(1, min(60, round(sum(known) / self.max_size)))

    def _retire_idle(self, now: float) -> None:
        """Stop one worker beyond ``size`` that has been idle a while (the spare excepted)."""
        if len(self.workers) <= self.size or self.pending:
            return
        idle = [w for w in self.workers if w.ready and not w.inflight]
        keep = 1 if any(w.costly for w in self.workers) else 0
        if len(idle) <= keep:
            return
        oldest = min(idle, key=lambda w: w.idle_since)
        if now - oldest.idle_since > self.idle_retire:
            self._retire(oldest, None)  # EOF: the idle worker exits at once
            self._loop.run_in_executor(None, oldest.proc.wait)  # reaped without blocking the loop

    def _assign(self, worker: _Worker, call: _Call) -> None:
        worker.inflight.append(call)
        call.costly = not self._batchable(call)
        if call.costly:
            worker.costly += 1
        if len(worker.inflight) == 1:
            worker.head_since = time.monotonic()
        # Calls go out at the end of the loop turn, one write per worker: a write wakes the
        # worker, and a wake-up per call costs more CPU than the latency it saves.
        worker.outbox.append(call.frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Send what this loop turn queued, one write per worker."""
        self._flush_scheduled = False
        for worker in self.workers:
            if worker.outbox and not worker.dead:
                data = b"".join(worker.outbox)
                worker.outbox.clear()
                self._send(worker, data)

    def _send(self, worker: _Worker, data: bytes) -> None:
        if worker.unsent:  # a large write is draining: keep the order of the frames
            worker.unsent.append(memoryview(data))
            return
        try:
            sent = worker.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return  # the worker died; its reader sees EOF and settles the calls
        if sent < len(data):
            worker.unsent.append(memoryview(data)[sent:])  # a view: megabytes are never copied again
            self._loop.add_writer(worker.fd, self._on_writable, worker)

    def _on_writable(self, worker: _Worker) -> None:
        """Large arguments: write the rest as the worker reads."""
        unsent = worker.unsent
        while unsent:
            try:
                sent = worker.sock.send(unsent[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                unsent.clear()  # dead: its reader settles the calls
                break
            if sent < len(unsent[0]):
                unsent[0] = unsent[0][sent:]
                return
            unsent.popleft()
        self._loop.remove_writer(worker.fd)

    # -- replies -----------------------------------------------------------------------------
    def _on_readable(self, worker: _Worker) -> None:
        try:
            data = worker.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._on_death(worker)
            return
        buf = worker.buf + data if worker.buf else data
        pos, end = 0, len(buf)
        while end - pos >= REPLY_HEADER.size:
            n, cid, kind, seconds = REPLY_HEADER.unpack_from(buf, pos)
            stop = pos + 4 + n
            if stop > end:
                break
            payload = buf[pos + REPLY_HEADER.size:stop]
            pos = stop
            if kind == OK or kind == ERROR:
                call = self._finished(worker)
                self._measured(call.label, seconds)
                if not call.future.done():  # the client may have gone away
                    if kind == OK:
                        call.future.set_result(payload)
                    else:
                        call.future.set_exception(_rebuild(payload))
            elif kind == IMPORTING:
                worker.importing = True
                worker.head_since = time.monotonic()
            elif kind == IMPORTED:
                worker.importing = False
                worker.head_since = time.monotonic()
            elif kind == READY:
                worker.ready = True
        worker.buf = buf[pos:]
        worker.head_since = time.monotonic()  # the next call starts when the last one answered
        self._take_waiting(worker)
        if self.pending:
            self._grow()

    def _finished(self, worker: _Worker) -> _Call:
        """The call a worker ran is done: it leaves the worker's books."""
        call = worker.inflight.popleft()
        if call.costly:
            worker.costly -= 1
        if not worker.inflight:
            worker.idle_since = time.monotonic()
        return call

    def _check_deadlines(self) -> None:
        """Stop the calls that ran past their time limit (runs every few milliseconds)."""
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.inflight and not worker.dead:
                limit = self.import_timeout if worker.importing else self.call_timeout
                if now - worker.head_since > limit:
                    self._on_deadline(worker)
        self._retire_idle(now)
        if not self._closed:
            self._ticker = self._loop.call_later(self._tick, self._check_deadlines)

    def _on_deadline(self, worker: _Worker) -> None:
        head = self._finished(worker)
        self._measured(head.label, self.call_timeout)
        what = "importing its module" if worker.importing else "the call"
        limit = self.import_timeout if worker.importing else self.call_timeout
        log.warning("%s ran past its time limit (%s, %.3g s); replacing worker pid %d",
                    head.label, what, limit, worker.proc.pid)
        if not head.future.done():
            head.future.set_exception(ModelTimeout(
                f"{head.label} ran past its time limit of {limit:g} s ({what}); it was stopped",
            ))
        self._replace(worker, signal.SIGKILL)

    def _on_death(self, worker: _Worker) -> None:
        if worker.dead:
            return
        try:
            code = worker.proc.wait(timeout=2)  # its socket closed: it has exited or is exiting
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            code = worker.proc.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        if worker.inflight:
            head = self._finished(worker)
            self._measured(head.label, self.call_timeout)
            log.error("worker pid %d died (%s) running %s; replacing it", worker.proc.pid, how, head.label)
            if not head.future.done():
                head.future.set_exception(ModelCrashed(
                    f"{head.label} crashed the worker process running it ({how}); the worker was replaced",
                ))
        elif not self._closed:
            log.error("worker pid %d died (%s) while idle; replacing it", worker.proc.pid, how)
        self._replace(worker, None)

    def _retire(self, worker: _Worker, sig: int | None) -> list[_Call]:
        """Disconnect a worker (signalling it) and return the calls it had not started."""
        worker.dead = True
        try:
            self._loop.remove_reader(worker.fd)
            self._loop.remove_writer(worker.fd)
        except (ValueError, OSError):  # pragma: no cover - loop already closed
            pass
        if sig is not None and worker.proc.poll() is None:
            try:
                worker.proc.send_signal(sig)
            except ProcessLookupError:  # pragma: no cover - raced with its exit
                pass
        worker.sock.close()
        not_started = list(worker.inflight)
        worker.inflight.clear()
        worker.costly = 0
        if worker in self.workers:
            self.workers.remove(worker)
        return not_started

    def _replace(self, worker: _Worker, sig: int | None) -> None:
        not_started = self._retire(worker, sig)
        if sig is not None:
            self._loop.run_in_executor(None, worker.proc.wait)  # reap it without blocking the loop
        if self._closed:
            for call in not_started:
                if not call.future.done():
                    call.future.set_exception(errors.RegistryUnavailable("the service is shutting down"))
            return
        self.replaced += 1
        self._spawn()
        for call in reversed(not_started):  # they had not started: first in line, in their order
            self.pending.push(call, front=True)
        for other in list(self.workers):
            self._take_waiting(other)
        self._grow()


def _rebuild(payload: bytes) -> GilgameshError:
    """The error a worker answered (``{"type", "message", "details"}``), by its class name.

    A detail that is an object names a bad argument (a large body the body reader bound): it
    becomes the same :class:`~.binder.ArgumentProblem` the server's own binding gives.
    """
    data = json.loads(payload)
    return _error_from(data.get("type"), data["message"], data.get("details") or [])


def _error_from(kind: str | None, message: str, details: list) -> GilgameshError:
    details = [ArgumentProblem(d.get("parameter"), d["message"]) if isinstance(d, dict) else d for d in details]
    return errors.rebuild(kind, message, details, default=errors.ModelError)

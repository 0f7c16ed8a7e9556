"""The keeper: one long-lived process per user and interpreter that keeps validation runners ready.

Started by :mod:`gilgamesh.registry.validation.prestart` (which describes what it is for, its
protocol and its environment key) as ``python -m gilgamesh.registry.validation.keeper SOCKET``,
with the first ``prepare`` request on stdin. It forks at once (the starting command reaps the
first process and goes on; the keeper is adopted by init and outlives it), takes the lock file
``SOCKET.lock`` (a second keeper for the same socket waits up to 5 s for it, then gives up),
listens on ``SOCKET`` (mode 0600, in the 0700 runtime directory) and then:

* keeps at most one ready runner per *slot* (a registry, an interpreter and the variables its
  kernel sees), :data:`MAX_SLOTS` slots at most, the least recently used dropped first. A runner
  is the sandboxed validation runner started with ``--prestart``: its kernel starts at once, and
  it waits for its single job on stdin;
* ``take``: hands the slot's runner over (its stdin, stdout and stderr on the socket) when its
  key is the caller's, discards it when the key moved on (the environment changed: it is never
  used), starts one on the spot when there is none, and starts the slot's next runner at once.
  When the caller says ``end`` (or goes away), the runner is waited for, then killed with
  everything it started, and its scratch directory removed;
* exits after ``GILGAMESH_PRESTART_IDLE`` seconds (default 600) without a connection, on
  ``stop``, on SIGTERM, and when a caller's Gilgamesh code is not the code it started with; its
  ready runners die with it (bwrap's ``--die-with-parent``; without the sandbox they read the end
  of their stdin and stop their kernel).

Every runner is started from one long-lived thread: ``--die-with-parent`` (``PR_SET_PDEATHSIG``)
follows the thread that started a process, not the process.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

__all__ = ["Keeper", "main", "MAX_SLOTS"]

MAX_SLOTS = 4  # ready runners (one per slot); each holds a runner and an idle kernel, ~150 MB
LOCK_WAIT = 5.0  # seconds a new keeper waits for the one before it to let go of the socket
TICK = 0.25  # seconds between two looks at the ready runners and the idle clock


def _log(message: str) -> None:
    now = time.time()
    sys.stderr.write(f"{time.strftime('%H:%M:%S', time.localtime(now))}.{int(now * 1000) % 1000:03d} "
                     f"keeper[{os.getpid()}] {message}\n")
    sys.stderr.flush()


class Runner:
    """One runner the keeper started: ready in a slot, or handed to a caller."""

    def __init__(self, proc: subprocess.Popen, prepared, key: str, slot: str):
        self.proc = proc
        self.prepared = prepared
        self.key = key
        self.slot = slot
        self.state = "starting"  # "ready": its kernel answered; "failed": it did not start
        self.used = time.monotonic()
        self._looking = threading.Lock()  # one reader of its first byte at a time

    @property
    def pid(self) -> int:
        return self.proc.pid

    def look(self) -> str:
        """Read the runner's first byte once it came: a newline when its kernel is ready."""
        with self._looking:
            if self.state == "starting" and self.proc.stdout is not None:
                try:
                    readable, _, _ = select.select([self.proc.stdout], [], [], 0)
                    if readable:
                        byte = os.read(self.proc.stdout.fileno(), 1)
                        self.state = "ready" if byte == b"\n" else "failed"
                except (OSError, ValueError):
                    self.state = "failed"
            return self.state

    def close_pipes(self) -> None:
        with self._looking:
            for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
            self.proc.stdin = self.proc.stdout = self.proc.stderr = None

    def end(self, kill: bool, reported: bool) -> int | None:
        """Wait for the runner (unless ``kill``), kill whatever is left of it, remove its scratch."""
        from gilgamesh.registry.sandbox.process_tree import kill_marked, kill_tree
        from gilgamesh.registry.validation.launch import MARKER_VARIABLE

        if not kill:
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        kill_tree(self.proc.pid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if not reported:  # it may have died and left orphans behind, re-parented to init
            kill_marked(MARKER_VARIABLE, self.prepared.marker)
        self.close_pipes()
        shutil.rmtree(self.prepared.scratch, ignore_errors=True)
        return self.proc.returncode


class Keeper:
    def __init__(self, path: str, idle: float):
        from gilgamesh.registry.validation.fingerprint import source_fingerprint

        self.path = path
        self.idle = idle
        self.lock = threading.Lock()
        self.slots: dict[str, Runner] = {}  # slot -> its ready runner
        self.handed: set[Runner] = set()
        self.connections = 0
        self.last = time.monotonic()
        self.stopping = False  # no new jobs; exit once the connections are done
        self.force = False  # exit now, killing the jobs too
        self.source = source_fingerprint()
        self.launcher = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="launcher")
        self.listener: socket.socket | None = None
        self.inode = None

    # -- runners -----------------------------------------------------------------------------------
    def _launch(self, message: dict) -> Runner:
        """Start a pre-started runner for ``message``'s environment (on the launcher thread)."""
        from gilgamesh.registry.validation.launch import prepare_runner

        launch = message["launch"]
        prepared = prepare_runner(launch["root"], launch["settings"], bool(launch["sandbox"]), dict(launch["env"]),
                                  python=launch["python"])
        try:
            proc = subprocess.Popen(prepared.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=prepared.scratch, env=prepared.env, start_new_session=True)
        except BaseException:
            shutil.rmtree(prepared.scratch, ignore_errors=True)
            raise
        _log(f"started runner {proc.pid} for slot {message['slot'][:12]} (key {message['key'][:12]})")
        return Runner(proc, prepared, message["key"], message["slot"])

    def launch(self, message: dict) -> Runner:
        return self.launcher.submit(self._launch, message).result()

    def discard(self, runner: Runner, why: str) -> None:
        _log(f"discarding runner {runner.pid}: {why}")
        runner.end(kill=True, reported=True)

    def _fill(self, message: dict) -> None:
        """Have a ready runner in ``message``'s slot (on the launcher thread)."""
        slot = message["slot"]
        with self.lock:
            present = self.slots.get(slot)
            if self.stopping or (present is not None and present.key == message["key"]):
                return
        try:
            runner = self._launch(message)
        except Exception as e:  # noqa: BLE001 - a runner that cannot start is started on demand, or never
            _log(f"could not start a runner: {type(e).__name__}: {e}")
            return
        dropped = []
        with self.lock:
            old = self.slots.get(slot)
            if self.stopping:
                dropped.append((runner, "the keeper is stopping"))
            else:
                if old is not None:
                    dropped.append((old, "replaced by a runner of the current environment"))
                self.slots[slot] = runner
                while len(self.slots) > MAX_SLOTS:
                    oldest = min(self.slots.values(), key=lambda r: r.used)
                    del self.slots[oldest.slot]
                    dropped.append((oldest, "the least recently used of too many slots"))
        for r, why in dropped:
            self.discard(r, why)

    def fill(self, message: dict) -> None:
        self.launcher.submit(self._fill, message)

    def claim(self, message: dict) -> tuple[Runner, bool]:
        """The slot's ready runner if its key is the message's (True), else a new one (False)."""
        with self.lock:
            runner = self.slots.pop(message["slot"], None)
        if runner is not None:
            if runner.key != message["key"]:
                self.discard(runner, "its environment key no longer matches")
                runner = None
            elif runner.proc.poll() is not None:
                self.discard(runner, "it ended while it waited")
                runner = None
        if runner is not None:
            return runner, True
        return self.launch(message), False

    # -- connections -------------------------------------------------------------------------------
    def handle(self, sock: socket.socket) -> None:
        from gilgamesh.registry.validation.fingerprint import PROTOCOL
        from gilgamesh.registry.validation.prestart import ANSWER_TIMEOUT, Connection, peer_uid

        conn = Connection(sock)
        try:
            if peer_uid(sock) != os.geteuid():
                return
            sock.settimeout(ANSWER_TIMEOUT)
            message = conn.receive()
            op = message.get("op")
            if op == "status":
                conn.send(self.status())
                return
            if op == "stop":
                _log("asked to stop")
                self.stopping = self.force = True
                conn.send({"ok": True, "pid": os.getpid()})
                return
            if op not in ("take", "prepare"):
                conn.send({"ok": False, "reason": f"the keeper knows no operation {op!r}"})
                return
            if message.get("protocol") != PROTOCOL or message.get("source") != self.source:
                _log("a caller runs other Gilgamesh code: stopping")
                self.stopping = True
                conn.send({"ok": False, "respawn": True,
                           "reason": "the keeper of pre-started kernels runs older code; it stops and a new one starts"})
                return
            if self.stopping:
                conn.send({"ok": False, "reason": "the keeper is stopping"})
                return
            if op == "prepare":
                self.fill(message)
                conn.send({"ok": True, "pid": os.getpid()})
                return
            self.take(conn, message)
        except (OSError, EOFError, ValueError, KeyError, TypeError) as e:
            _log(f"a connection failed: {type(e).__name__}: {e}")
        finally:
            conn.close()
            with self.lock:
                self.connections -= 1
                self.last = time.monotonic()

    def take(self, conn, message: dict) -> None:
        runner, prestarted = self.claim(message)
        with self.lock:
            self.handed.add(runner)
        reported, kill = False, True
        try:
            ready = runner.look() == "ready"
            conn.send({"ok": True, "pid": runner.pid, "keeper": os.getpid(), "job": runner.prepared.job,
                       "scratch": runner.prepared.scratch, "marker": runner.prepared.marker,
                       "sandboxed": runner.prepared.sandboxed, "prestarted": prestarted, "ready": ready},
                      fds=(runner.proc.stdin.fileno(), runner.proc.stdout.fileno(), runner.proc.stderr.fileno()))
            runner.close_pipes()  # the caller holds them now: its end of stdin is the job's end
            _log(f"handed runner {runner.pid} ({'pre-started' if prestarted else 'started on demand'}, "
                 f"{'ready' if ready else 'not ready yet'})")
            self.fill(message)  # the next one, at once
            job = runner.prepared.job
            conn.sock.settimeout(float(job["startup_timeout"]) + float(job["timeout"]) + 30)
            try:
                end = conn.receive()
            except (OSError, EOFError, ValueError):
                end = {"op": "end", "kill": True}  # the caller went away, or overran every limit
            reported, kill = bool(end.get("reported")), bool(end.get("kill", True))
        finally:
            code = runner.end(kill=kill, reported=reported)
            with self.lock:
                self.handed.discard(runner)
        _log(f"runner {runner.pid} ended ({code})")
        try:
            conn.send({"ok": True, "returncode": code})
        except OSError:
            pass

    def status(self) -> dict:
        with self.lock:
            slots = list(self.slots.values())
            handed = [r.pid for r in self.handed]
        return {"ok": True, "pid": os.getpid(), "idle": self.idle, "handed": handed,
                "runners": [{"pid": r.pid, "slot": r.slot, "key": r.key, "state": r.look(),
                             "alive": r.proc.poll() is None} for r in slots]}

    # -- the process -------------------------------------------------------------------------------
    def _take_lock(self) -> bool:
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        until = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.lock_fd = fd
                return True
            except OSError:
                if time.monotonic() > until:
                    os.close(fd)
                    return False
                time.sleep(0.05)

    def _listen(self) -> None:
        try:
            os.unlink(self.path)  # a dead keeper's: we hold the lock
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        finally:
            os.umask(old)
        sock.listen(64)
        self.listener = sock
        self.inode = os.stat(self.path).st_ino

    def serve(self, first: dict | None) -> int:
        if not self._take_lock():
            _log("another keeper holds the socket")
            return 0
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "force", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "force", True))
        self._listen()
        _log(f"listening on {self.path} (idle exit after {self.idle:g} s)")
        if first and first.get("op") == "prepare" and first.get("source") == self.source:
            self.fill(first)
        try:
            while not self.force:
                readable, _, _ = select.select([self.listener], [], [], TICK)
                if readable:
                    try:
                        sock, _ = self.listener.accept()
                    except OSError:
                        continue
                    with self.lock:
                        self.connections += 1
                        self.last = time.monotonic()
                    threading.Thread(target=self.handle, args=(sock,), daemon=True).start()
                self._housekeeping()
                with self.lock:
                    if self.connections == 0 and (self.stopping or time.monotonic() - self.last > self.idle):
                        break
        finally:
            self._shutdown()
        return 0

    def _housekeeping(self) -> None:
        dead = []
        with self.lock:
            for slot, runner in list(self.slots.items()):
                runner.look()
                if runner.proc.poll() is not None:
                    del self.slots[slot]
                    dead.append(runner)
        for runner in dead:
            self.discard(runner, "it ended while it waited")

    def _shutdown(self) -> None:
        self.stopping = True
        try:
            if self.listener is not None:
                self.listener.close()
            if self.inode is not None and os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except OSError:
            pass
        with self.lock:
            runners = list(self.slots.values()) + list(self.handed)
            self.slots.clear()
        for runner in runners:
            self.discard(runner, "the keeper exits")
        self.launcher.shutdown(wait=True, cancel_futures=True)
        with self.lock:
            leftover = list(self.slots.values())  # a fill that was under way
            self.slots.clear()
        for runner in leftover:
            self.discard(runner, "the keeper exits")
        _log("exiting")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if os.fork():
        os._exit(0)  # the command that started it reaps this process; the keeper goes on alone
    try:
        first = json.loads(sys.stdin.buffer.read() or b"{}")
    except ValueError:
        first = None
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    from gilgamesh.registry.validation.prestart import idle_seconds

    return Keeper(argv[0], idle_seconds()).serve(first if isinstance(first, dict) else None)


if __name__ == "__main__":
    sys.exit(main())

"""Keeping a tree of processes together and ending all of it.

A notebook under validation may start processes that leave the kernel's process group
(``start_new_session=True``) or double-fork away from it. The validation runner makes itself a
*child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): every orphan among its descendants is
re-parented to it instead of to init, so walking its children finds everything the notebook
started, for as long as the runner lives.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import psutil

__all__ = ["become_subreaper", "living_descendants", "kill_tree", "kill_processes", "kill_marked"]

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux); return False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def living_descendants(pid: int) -> list[psutil.Process]:
    """Every descendant of ``pid`` that has not exited (zombies excluded)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    alive = []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


def kill_processes(processes: list[psutil.Process], reap_timeout: float = 2.0) -> None:
    """SIGKILL ``processes`` and reap those that are our children."""
    for p in processes:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(processes, timeout=reap_timeout)


def kill_tree(pid: int, include_root: bool = True, rounds: int = 20) -> None:
    """SIGKILL every descendant of ``pid`` (again, until none is left), then ``pid`` itself.

    The root goes last: while it lives (as a subreaper) orphans stay in its tree and are found.
    """
    for _ in range(rounds):
        found = living_descendants(pid)
        if not found:
            break
        kill_processes(found, reap_timeout=0.5)
    if include_root:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_marked(variable: str, value: str) -> list[int]:
    """SIGKILL every process of ours whose environment has ``variable=value``; return their pids.

    The last resort when the subreaper itself died: its orphans went to init, but they still
    carry the environment they were started with (unless they scrubbed it).
    """
    me = os.getpid()
    marked = []
    for p in psutil.process_iter():
        if p.pid == me:
            continue
        try:
            if p.environ().get(variable) == value and p.status() != psutil.STATUS_ZOMBIE:
                marked.append(p)
        except (psutil.Error, OSError):
            continue  # gone, or another user's
    kill_processes(marked, reap_timeout=0.5)
    return [p.pid for p in marked]

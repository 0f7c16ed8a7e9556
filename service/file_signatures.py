"""Whether a file changed, asked once per event-loop turn rather than once per request.

The service re-reads the files other processes change (API indexes, ``settings.json``, a session
lock) when their signature (inode, mtime, size) differs from the one last read, so a publish or a
settings change elsewhere is seen by the next request without a restart. At thousands of model
calls a second the ``stat`` behind that is a measurable share of a call, and the requests of one
turn all arrived before it began: one ``stat`` per file and turn answers them all alike.

Why that sees every change a request could rely on: a request's handler runs in a turn that began
after its bytes were read (tornado resumes a read in a later turn, never inline), so a change made
before the request was sent was made before the turn's first ``stat``. The memo is dropped at the
start of the next turn. Outside an event loop (a CLI, a test calling the view directly) every
call stats.
"""

from __future__ import annotations

import asyncio
import os

__all__ = ["signature", "Signature"]

Signature = tuple  # (st_ino, st_mtime_ns, st_size)

# Per running loop (a test may run several, one a thread): path -> signature, or the arguments of
# the OSError that stat raised (a new exception is raised each time: re-raising one object would
# grow its traceback).
_memos: dict[asyncio.AbstractEventLoop, dict[str, Signature | tuple]] = {}


def signature(path: str) -> Signature:
    """``(inode, mtime_ns, size)`` of ``path`` as of this loop turn; raise what ``os.stat`` raised."""
    loop = asyncio._get_running_loop()  # the C accessor: None outside a loop, no exception
    memo = _memos.get(loop) if loop is not None else None
    if memo is not None:
        hit = memo.get(path)
        if hit is not None:
            if len(hit) == 2:
                raise OSError(*hit, path)
            return hit
    try:
        st = os.stat(path)
    except OSError as e:
        found = (e.errno, e.strerror)
        error = e
    else:
        found = (st.st_ino, st.st_mtime_ns, st.st_size)
        error = None
    if loop is not None:
        if memo is None:
            memo = _memos[loop] = {}
            loop.call_soon(_memos.pop, loop, None)  # the next turn stats again
        memo[path] = found
    if error is not None:
        raise error
    return found

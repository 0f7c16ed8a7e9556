"""Large model-call bodies, parsed and bound in a helper process of the lowest priority.

Parsing megabytes of JSON and checking each element against the endpoint's annotations is CPU
work: on the event loop it held every other call up (four cheap calls with 1 MB bodies took a
fast endpoint from thousands of requests a second to hundreds), and in the model workers it
competes with the workers serving fast calls, each of which is a session (bwrap's
``--new-session``) and so a scheduling group of its own, where no per-thread priority reaches.
Here it runs in one process at nice 19, in a scheduling group of its own at the lowest priority,
so the service's event loop and every model worker come first; the service stays responsive
while large bodies wait their turn.

The reader answers with the bound arguments already pickled (numpy arrays made where the
endpoint takes one), which the server hands to a worker as they are: the event loop never
decodes or re-encodes a large body. A bad body is refused with the same 400, message and
details as on the loop, since it is the same :class:`~.binder.Binder`. The reader runs no
model code, so it needs no sandbox.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pickle

__all__ = ["BodyReader", "bind_to_pickle"]

NICE = 19

_binders: dict = {}  # in the reader process: label -> Binder, built once per endpoint's signature


def _lower_priority() -> None:
    """The reader process's initializer: the lowest priority, and it ends with the service.

    Where the kernel groups processes by session for scheduling (autogroup, on by default), a
    nice value only orders the processes of one session: a nice 19 reader in the service's session
    would still take a whole core from the model workers, each a session of its own. So the reader
    starts a session of its own and gives that group the lowest priority too.
    """
    try:
        os.nice(NICE - os.nice(0))
    except OSError:  # pragma: no cover - already at the lowest
        pass
    try:
        os.setsid()
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(NICE))
    except OSError:  # no autogroup here (or no /proc): the nice value alone orders it
        pass
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def bind_to_pickle(label: str, signature: dict, data: bytes) -> tuple[bool, bytes | tuple]:
    """In the reader: ``(True, pickled (positional, keywords, ()))``, or ``(False, (type, message,
    details))`` for a body the binder refuses (an exception object would lose its details in
    the pickle)."""
    from gilgamesh.errors import BadArguments, GilgameshError
    from gilgamesh.service.calls.binder import Binder
    from gilgamesh.service.calls.worker import as_arrays

    binder = _binders.get(label)
    if binder is None or binder.signature != signature:
        binder = _binders[label] = Binder(label, signature)
    try:
        positional, keywords, arrays = binder.bind_body(data)
        if arrays:
            positional, keywords = as_arrays(positional, keywords, arrays)
    except GilgameshError as e:
        return False, (type(e).__name__, e.message, e.to_dict()["details"])  # the envelope's own rendering
    except ValueError as e:  # what numpy makes of a ragged array
        return False, (BadArguments.__name__, f"bad arguments to {label}: {e}", [])
    return True, pickle.dumps((positional, keywords, ()), 5)


class BodyReader:
    """The service's reader process, started with the first large body."""

    def __init__(self):
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def read(self, label: str, signature: dict, data: bytes) -> asyncio.Future:
        """A future of :func:`bind_to_pickle`'s answer for this body."""
        if self._executor is None:
            import multiprocessing

            # spawn, not fork: the service has threads (its executor), which a fork would copy mid-step.
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority)
        return asyncio.get_running_loop().run_in_executor(self._executor, bind_to_pickle, label, signature, data)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

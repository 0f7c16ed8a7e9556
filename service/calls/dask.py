"""Model calls as Dask tasks: ``gilgamesh serve --dask-scheduler ADDRESS`` (docs/guide.md, On a Dask cluster).

:class:`DaskCalls` stands where the service's :class:`~.workers.WorkerPool` stands, with the same
``call()``: the handler has bound and checked the arguments already, so a task is submitted only
for a call that can run; the task (:func:`gilgamesh.service.calls.dask_task.run_model_call`) runs the model in the
warm model worker processes of the Dask worker that takes it and sends back the result's JSON
bytes, which the handler splices into the answer as it does the local pool's.

The HTTP contract stays the local pool's:

- the model's error answers 422 with the notebook's traceback, a call past its time limit 504
  (the Dask worker's model process enforces the limit, from the moment the version is imported);
- a call the cluster has not answered within the limit plus :data:`SLACK` (no worker, a worker
  wedged) answers 504 too, and its task is cancelled;
- a Dask worker that dies running the call answers 500 (``KilledWorker``; a scheduler started with
  ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0`` gives it at once, the default first retries
  the task on other workers); the service lives on, and so does the cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os

from gilgamesh import errors
from gilgamesh.errors import GilgameshError, ModelCrashed, ModelTimeout
from gilgamesh.service.options import ServiceOptions

__all__ = ["DaskCalls", "SLACK", "require_distributed"]

log = logging.getLogger("gilgamesh.service")

SLACK = 10.0  # seconds the cluster may take beyond a call's limit (the hop, a cold import) before 504
CONNECT_TIMEOUT = 30.0

def require_distributed() -> None:
    """Raise a usage error naming the extra when Dask is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise errors.UsageError("--dask-scheduler needs Dask: pip install 'gilgamesh[dask]'") from None


def _rebuild(answer: tuple) -> GilgameshError:
    """The error a Dask task answered, by its class name, with the Dask worker's status."""
    _, kind, message, details, status, retry_after = answer
    return errors.rebuild(kind, message, details, status=status, retry_after=retry_after)


class DaskCalls:
    """Model calls submitted to the Dask scheduler at ``address``."""

    def __init__(self, address: str, call_timeout: float = ServiceOptions.default("call_timeout"),
                 slack: float = SLACK):
        require_distributed()
        self.address = address
        self.call_timeout = call_timeout
        self.slack = slack
        self.client = None
        self._connecting: asyncio.Task | None = None
        self._closed = False
        self._ids = itertools.count(1)
        self._loop = None
        self.cancelled = 0  # tasks cancelled after the cluster did not answer in time (for tests)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (on the running loop); calls wait for the connection."""
        self._loop = asyncio.get_running_loop()
        if self._connecting is None:
            self._connecting = self._loop.create_task(self._connect())

    async def _connect(self):
        from distributed import Client

        try:
            self.client = await asyncio.wait_for(
                Client(self.address, asynchronous=True, name=f"gilgamesh-serve-{os.getpid()}"), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as e:
            log.error("cannot reach the Dask scheduler at %s: %s", self.address, e)
            self._connecting = None  # the next call tries again
            raise errors.RegistryUnavailable(
                f"model calls run on the Dask cluster at {self.address}, which does not answer ({e or 'timed out'})")
        log.info("model calls run on the Dask cluster at %s", self.address)
        return self.client

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self.client is not None:
            await self.client.close()
            self.client = None

    def pids(self) -> list[int]:
        """The local model processes: none, the cluster's workers run the models."""
        return []

    def worker_count(self) -> int:
        """The cluster's Dask workers (``/healthz``'s ``workers``), as the scheduler last told the
        client (it asks every 2 s, never on the request's time); 0 before the client connects."""
        client = self.client
        if client is None:
            return 0
        try:
            info = client.scheduler_info() or {}
        except Exception:  # noqa: BLE001 - a health answer never fails on the cluster's account
            return 0
        count = info.get("n_workers")
        return count if isinstance(count, int) and count >= 0 else len(info.get("workers") or {})

    # -- calls ------------------------------------------------------------------------------
    def call(self, name: str, version: str, function: str, positional: list, keywords: dict,
             arrays: tuple = ()) -> asyncio.Future:
        """Run ``name@version``'s ``function`` on the cluster; the future gives the result's JSON bytes."""
        if self._closed:
            raise errors.RegistryUnavailable("the service is shutting down: no model calls are taken")
        if self._loop is None or self._connecting is None:
            self.start()
        return self._loop.create_task(self._call(name, version, function, positional, keywords, arrays))

    def call_body(self, name: str, version: str, function: str, binder, data: bytes) -> asyncio.Future:
        """:meth:`call` with a request body still to parse and bind (here: the cluster's tasks take
        bound arguments)."""
        return self.call(name, version, function, *binder.bind_body(data))

    async def _call(self, name, version, function, positional, keywords, arrays) -> bytes:
        from gilgamesh.service.calls.dask_task import run_model_call

        client = self.client or await asyncio.shield(self._connecting)
        label = f"{name}@{version} {function}"
        key = f"gilgamesh-{name}-{version}-{function}-{os.getpid()}-{next(self._ids)}"
        future = client.submit(run_model_call, name, version, function, positional, keywords, tuple(arrays),
                               self.call_timeout, key=key, pure=False)
        try:
            answer = await asyncio.wait_for(future, self.call_timeout + self.slack)
        except asyncio.TimeoutError:
            self.cancelled += 1
            await client.cancel(future, force=True)
            raise ModelTimeout(f"{label} was not answered by the Dask cluster at {self.address} within its time "
                               f"limit of {self.call_timeout:g} s (and {self.slack:g} s for the cluster): "
                               "the task is cancelled") from None
        except asyncio.CancelledError:
            await client.cancel(future, force=True)  # the service is closing
            raise
        except GilgameshError:
            raise
        except Exception as e:  # noqa: BLE001 - what the cluster raised: KilledWorker, a lost connection
            from distributed import KilledWorker

            if isinstance(e, KilledWorker):
                raise ModelCrashed(f"{label}: the Dask worker running the call died (the model may have "
                                   "crashed it, or the worker was stopped); the call was not retried") from None
            raise ModelCrashed(f"{label}: the Dask cluster at {self.address} failed the call: "
                               f"{type(e).__name__}: {e}") from None
        if answer[0] == "ok":
            return answer[1]
        raise _rebuild(answer)

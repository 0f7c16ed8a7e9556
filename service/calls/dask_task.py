"""What runs on a Dask worker for ``gilgamesh serve --dask-scheduler``: one model call as a task.

:class:`gilgamesh.service.calls.dask.DaskCalls` submits :func:`run_model_call`; on the Dask worker
it runs the call in that worker's own warm, sandboxed model processes (the service's
:class:`~gilgamesh.service.calls.pool.WorkerPool`), which the ``gilgamesh.dask`` preload configured
and its teardown stops.
"""

from __future__ import annotations

__all__ = ["run_model_call"]


def _pool(worker, timeout: float):
    """This Dask worker's warm model worker processes for calls of ``timeout`` seconds."""
    from gilgamesh.config import registry_location
    from gilgamesh.service.calls.pool import WorkerPool

    pools = getattr(worker, "gilgamesh_pools", None)
    if pools is None:
        pools = worker.gilgamesh_pools = {}
    pool = pools.get(timeout)
    if pool is None:
        threads = max(1, int(getattr(worker.state, "nthreads", 1) or 1)) if hasattr(worker, "state") else 1
        pool = pools[timeout] = WorkerPool(registry_location(), size=threads, call_timeout=timeout,
                                           max_size=max(threads, 2 * threads))
    return pool


async def run_model_call(name: str, version: str, function: str, positional: list, keywords: dict,
                         arrays: tuple, timeout: float) -> tuple:
    """One model call, as a Dask task: ``("ok", result JSON bytes)`` or ``("error", kind, message,
    details, status)``. Errors travel as values: the service rebuilds its own error from them."""
    from distributed import get_worker

    from gilgamesh.errors import GilgameshError

    pool = _pool(get_worker(), timeout)
    try:
        return ("ok", await pool.call(name, version, function, positional, keywords, arrays))
    except GilgameshError as e:
        return ("error", type(e).__name__, e.message, [str(d) for d in e.details], e.http_status,
                getattr(e, "retry_after", None))

"""Gilgamesh on a Dask cluster (``pip install gilgamesh[dask]``): the worker preload, pinned batch
functions, and model calls as tasks (docs/guide.md, On a Dask cluster).

**The preload.** ``dask worker SCHEDULER --preload gilgamesh.dask`` configures a worker for any
version of any API: the registry (a directory the worker's host shares, or a service URL), the
cache and the token, from ``--preload-argv "--registry URL --cache DIR --token T"`` or from the
usual ``GILGAMESH_REGISTRY``, ``GILGAMESH_CACHE`` and ``GILGAMESH_TOKEN``. It checks that the
registry answers and warms the loader, so a worker that starts is one that can import, and logs
what it configured (the registry, the cache, whether model calls run sandboxed, whether a token
is set) in the worker's own log.

**Batch analyses.** Functions of ``gilgamesh.api`` modules pickle by reference, so
``client.map(analyze, traces)`` runs on the workers, which import the same spelling through the
loader. :func:`pinned` goes further: ``client.map(pinned("langmuir@1.2", "analyze"), traces)``
names the exact version and sha256 resolved here (or locked in ``gilgamesh.lock``), and every
worker imports exactly that notebook, once per process, or refuses.

**Model calls.** ``gilgamesh serve --dask-scheduler ADDRESS`` submits each model call as a
:func:`gilgamesh.service.calls.dask_task.run_model_call` task. On the worker it runs in warm model worker processes of its own
(``gilgamesh.service.calls.pool``, sandboxed as validation is where the host has bwrap), so a model
that hangs or crashes costs its call a 504 or a 500, never the Dask worker.
"""

from __future__ import annotations

import os
import threading

__all__ = ["dask_setup", "dask_teardown", "pinned", "Pinned"]

_PINNED_MODULES: dict[tuple[str, str, str], object] = {}
_PINNED_LOCK = threading.Lock()


# -- batch: a function pinned to one exact version ------------------------------------------------
class Pinned:
    """A function of one exact API version, ``name@version`` with its sha256, callable anywhere.

    It pickles as those four strings; called in a process, it imports that version there once
    (through the loader, so from the registry and the cache) and refuses a registry that publishes
    other bytes under that version.
    """

    __slots__ = ("name", "version", "sha256", "function")

    def __init__(self, name: str, version: str, sha256: str, function: str):
        self.name, self.version, self.sha256, self.function = name, version, sha256, function

    def __reduce__(self):
        return (Pinned, (self.name, self.version, self.sha256, self.function))

    def __repr__(self) -> str:
        return f"pinned({self.name}@{self.version} {self.function}, sha256 {self.sha256[:12]})"

    @property
    def __name__(self) -> str:  # what Dask names the tasks after
        return f"{self.name}-{self.version}-{self.function}"

    def resolve(self):
        """The function itself, imported in this process."""
        key = (self.name, self.version, self.sha256)
        module = _PINNED_MODULES.get(key)
        if module is None:
            with _PINNED_LOCK:
                module = _PINNED_MODULES.get(key)
                if module is None:
                    module = _PINNED_MODULES[key] = _import_exact(self.name, self.version, self.sha256)
        return getattr(module, self.function)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)


def _import_exact(name: str, version: str, sha256: str):
    import gilgamesh
    from gilgamesh.errors import IntegrityError, VersionNotFound

    try:
        module = gilgamesh.use(f"{name}@{version}")
    except VersionNotFound:
        # Published after this long-lived worker first read the API's index (read once per
        # process): read it again.
        gilgamesh.refresh()
        module = gilgamesh.use(f"{name}@{version}")
    state = module.__spec__.loader_state
    if state.sha256 != sha256:
        raise IntegrityError(
            f"{name}@{version} was pinned with sha256 {sha256}, but the registry this process imports from "
            f"({state.index.location}) publishes sha256 {state.sha256}: refused (is this worker configured "
            "with another registry?)")
    return module


def pinned(spec: str, function, *, lock: str | None = None) -> Pinned:
    """``function`` (a name, or a function of the API) of the exact version ``spec`` resolves to now.

    With ``lock`` (the path of a ``gilgamesh.lock``), the version and sha256 are the lock's for
    that spelling, as a session run under that lock would import them; a spec the lock does not
    cover is refused. Use the result wherever a function goes: ``client.map(pinned(...), traces)``.
    """
    from gilgamesh.errors import LockError, UsageError
    from gilgamesh.versions import module_part_for, parse_name_spec

    name, parsed = parse_name_spec(spec)
    attr = function if isinstance(function, str) else getattr(function, "__name__", None)
    if not isinstance(attr, str) or not attr.isidentifier():
        raise UsageError(f"pinned() needs a function of {name} or its name, not {function!r}")
    if lock is not None:
        from gilgamesh.lockfile import parse_lock, spelling_pins

        with open(lock, "rb") as f:
            pins = spelling_pins(parse_lock(f.read(), lock))
        part = module_part_for(parsed) if parsed.text else ""
        pin = pins.get(f"{name}.{part}")
        if pin is None:
            raise LockError(f"{spec} is not covered by the lock {lock}; run 'gilgamesh lock' to add it")
        exact_part, sha256 = pin
        version = exact_part[1:].replace("_", ".")
    else:
        import gilgamesh

        state = gilgamesh.use(spec).__spec__.loader_state
        version, sha256 = state.version, state.sha256
    result = Pinned(name, version, sha256, attr)
    if not callable(result.resolve()):  # here first: a typo is an error now, not on 10,000 tasks
        raise UsageError(f"{name}@{version} has no function {attr!r}")
    return result


# -- the worker preload --------------------------------------------------------------------------
def _click_command():
    import click

    @click.command()
    @click.option("--registry", default=None, help="registry directory or http(s):// URL (default: $GILGAMESH_REGISTRY)")
    @click.option("--cache", default=None, help="the loader's cache directory (default: $GILGAMESH_CACHE)")
    @click.option("--token", default=None, help="a token for a --private registry service (default: $GILGAMESH_TOKEN)")
    def dask_setup(worker, registry, cache, token):
        """Configure a Dask worker (or scheduler) to import Gilgamesh API versions."""
        from gilgamesh.errors import GilgameshError

        try:
            setup(worker, registry=registry, cache=cache, token=token)
        except GilgameshError as e:
            _stop(worker, f"gilgamesh.dask: {e}; this worker cannot import API versions, so it stops")
            raise

    return dask_setup


def _stop(server, reason: str) -> None:
    """Close a server whose preload failed (Dask would run it on, failing every task it takes)."""
    import asyncio

    _log().error(reason)
    close = getattr(server, "close", None)
    if close is None:
        return

    async def stop():
        await asyncio.sleep(0.5)  # after the start that is running this preload
        try:
            await close(nanny=True, reason="gilgamesh-preload-failed")
        except TypeError:  # a scheduler's close takes no nanny
            await close()

    try:
        asyncio.get_running_loop().create_task(stop())
    except RuntimeError:
        pass


def setup(worker, *, registry: str | None = None, cache: str | None = None, token: str | None = None) -> None:
    """What the preload does: configure this process, check the registry, warm the loader."""
    from gilgamesh.config import registry_location

    for key, value in (("GILGAMESH_REGISTRY", registry), ("GILGAMESH_CACHE", cache), ("GILGAMESH_TOKEN", token)):
        if value:
            os.environ[key] = value
    location = registry_location()
    import numpy  # noqa: F401  warm: the first task with an array must not pay for it

    import gilgamesh
    from gilgamesh.config import cache_dir
    from gilgamesh.registry import open_reader

    gilgamesh.refresh()
    names = open_reader(location).names()  # raises, naming the registry, if it does not answer
    sandbox = _sandbox_state(location)
    worker.gilgamesh = {"registry": location, "apis": len(names), "cache": cache_dir(), "sandbox": sandbox}
    # What this process was configured with, in the worker's own log (`dask worker` prints it).
    _log().info("%s %s imports Gilgamesh API versions: registry %s (%d APIs), cache %s, sandbox for model calls: "
                "%s, token %s", type(worker).__name__.lower(), getattr(worker, "address", "?"), location, len(names),
                cache_dir(), sandbox, "set" if os.environ.get("GILGAMESH_TOKEN") else "none")


def _sandbox_state(location: str) -> str:
    """How model calls on this worker run their notebook code, in words for the log."""
    from gilgamesh.errors import GilgameshError
    from gilgamesh.registry.sandbox.launch import use_sandbox
    from gilgamesh.registry.store.settings import default_settings, read_settings

    try:  # as the worker's model processes decide it (gilgamesh.service.calls.pool)
        settings = default_settings() if "://" in location else read_settings(location)
        if use_sandbox(settings):
            return "bwrap (contained as validation is)"
        return "off (the registry's settings.json)" if not settings.get("sandbox", True) else \
            "none (bwrap is not installed: model calls run unconfined)"
    except GilgameshError as e:  # SandboxRequired: model calls here will answer 503 with this
        return f"unavailable, model calls will be refused: {e}"


def _log():
    """The preload's logger, printed where Dask prints its own (Dask configures only its loggers,
    so an INFO line of another logger would be dropped)."""
    import logging

    log = logging.getLogger("gilgamesh.dask")
    if not log.handlers:
        handlers = logging.getLogger("distributed").handlers
        for handler in handlers:
            log.addHandler(handler)
        if handlers:
            log.propagate = False  # not twice where the root logger has a handler too
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
    return log


try:  # the preload's entry point: a click command when click is there (it comes with distributed)
    dask_setup = _click_command()
except ImportError:  # pragma: no cover - without distributed there is no preload to run
    def dask_setup(worker):
        setup(worker)


async def dask_teardown(worker) -> None:
    """Stop this worker's model worker processes."""
    pools = getattr(worker, "gilgamesh_pools", None) or {}
    for pool in list(pools.values()):
        await pool.close()
    pools.clear()

"""The Tornado application: the route table, the shared context, and ``gilgamesh serve``.

``make_app(registry_root, ...)`` builds the application (tests run it on port 0);
``serve(host, port, registry, workers, private)`` binds the port, forks ``workers`` server
processes sharing it, and serves until interrupted. Each server process has its own pool of
warm model workers and reads the registry's index per request (a ``stat``), so a version
published by any process, or by the CLI, is served by all of them at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import os
import secrets
import signal
import sys

import tornado.httpserver
import tornado.netutil
import tornado.process
import tornado.web

from gilgamesh.errors import GilgameshError, NotFound
from gilgamesh.registry.sandbox.launch import SandboxRequired

from gilgamesh.service import handlers, pages
from gilgamesh.service.calls.binder import Binder
from gilgamesh.service.docs import DocsCache, render_api_reference, render_notebook_body
from gilgamesh.service.http_policy import Cors
from gilgamesh.service.calls.route import MODEL_PATH, ModelCalls, ModelCallsFirst
from gilgamesh.service.registry_view import RegistryView
from gilgamesh.service.calls.pool import WorkerPool
from gilgamesh.service.options import ServiceOptions

__all__ = ["make_app", "make_server", "serve", "ServiceContext", "ServiceOptions", "STATIC_DIR", "KATEX_DIR"]

log = logging.getLogger("gilgamesh.service")

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC_DIR = os.path.join(HERE, "static")
TEMPLATE_DIR = os.path.join(HERE, "templates")
# KaTeX is installed from npm at build time (`npm ci --prefix service/static`), never fetched by
# the browser from the internet.
KATEX_DIR = os.path.join(STATIC_DIR, "node_modules", "katex", "dist")

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class NotRenderable(GilgameshError):
    """A published notebook that the docs renderer cannot turn into a page."""

    http_status = 422


class ServiceContext:
    """What every handler shares: the registry view, the model workers, settings, the executor."""

    def __init__(self, registry_root: str, options: ServiceOptions | None = None):
        from gilgamesh.registry.store.settings import read_settings

        options = options or ServiceOptions()
        self.root = os.path.abspath(registry_root)
        self.view = RegistryView(self.root)  # raises RegistryUnavailable if there is none
        settings = read_settings(self.root)  # a settings file the table refuses: the service does not start
        self.options = options
        self.private = options.private
        self.max_body_size = options.max_body_size
        self.body_timeout = options.body_timeout
        self.validate = options.validate
        # Model calls run in warm local worker processes, or as tasks on a Dask cluster (the
        # --dask-scheduler option, else the registry's dask_scheduler setting).
        self.dask_scheduler = options.dask_scheduler or (settings["dask_scheduler"] or "").strip() or None
        if self.dask_scheduler:
            from gilgamesh.service.calls.dask import DaskCalls

            self.pool = DaskCalls(self.dask_scheduler, call_timeout=options.call_timeout)
        else:
            self.pool = WorkerPool(self.root, size=options.model_workers, call_timeout=options.call_timeout,
                                   import_timeout=options.import_timeout, max_size=options.max_model_workers,
                                   queue_limit=options.queue_limit)
        blocking_threads = options.blocking_threads
        self.executor = concurrent.futures.ThreadPoolExecutor(blocking_threads, thread_name_prefix="gilgamesh")
        self.page_csp = PAGE_CSP
        self.katex_available = os.path.isfile(os.path.join(KATEX_DIR, "katex.min.js"))
        self.docs_cache = DocsCache()
        self.cors = Cors(self.view.reader.layout.settings_file)
        # First renders of docs pages: one per sha256 however many browsers wait for it, and at
        # most half the executor's threads rendering, so that publishes and yanks still get theirs.
        self._renders: dict[str, asyncio.Future] = {}
        self.render_slots = max(1, blocking_threads // 2)
        self._render_semaphore: asyncio.Semaphore | None = None
        self.render_stats = {"renders": 0, "running": 0, "peak": 0}
        self._binders: dict[tuple[str, str, str], Binder] = {}
        self._openapi: tuple[tuple, bytes] | None = None
        self._upstreams: asyncio.Task | None = None
        if not self.katex_available:
            log.warning("KaTeX is not installed (%s): equations show as TeX source; run "
                        "'npm ci --prefix service/static' to install it", KATEX_DIR)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the model workers and the upstream sync (needs the running event loop)."""
        if self.pool._loop is None:
            try:
                self.pool.start()
            except SandboxRequired as e:  # the rest of the service serves; model calls answer 503 with this
                log.error("model workers not started: %s", e)
            if tornado.process.task_id() in (None, 0):  # one of --workers N processes pulls
                from gilgamesh.service.upstreams import keep_current

                self._upstreams = asyncio.get_running_loop().create_task(keep_current(self.root, self.run_blocking))

    async def close(self) -> None:
        if self._upstreams is not None:
            self._upstreams.cancel()
        await self.pool.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def run_blocking(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    # -- registry writes (blocking: run them with run_blocking) -----------------------------------
    def publish(self, data: bytes, user: str, dry_run: bool):
        from gilgamesh.registry.publish.pipeline import publish

        return publish(self.root, data, publisher=user, dry_run=dry_run, validate=self.validate)

    def set_yanked(self, name: str, version: str, reason: str | None, user: str) -> dict:
        from gilgamesh.registry.facade import LocalRegistry

        return LocalRegistry(self.root, user).set_yanked(name, version, reason)

    def set_deprecated(self, name: str, version: str, message: str | None, user: str) -> dict:
        from gilgamesh.registry.facade import LocalRegistry

        return LocalRegistry(self.root, user).set_deprecated(name, version, message)

    def bibliography(self) -> dict:
        from gilgamesh.registry.facade import LocalRegistry

        return LocalRegistry(self.root).bibliography()

    def add_bibliography(self, text: str, user: str, replace: bool) -> dict:
        from gilgamesh.registry.facade import LocalRegistry

        return LocalRegistry(self.root, user).add_bibliography(text, "the request body", replace=replace)

    def citation(self, name: str, spec: str, base_url: str) -> dict:
        from gilgamesh.registry.store.bibliography import version_citation

        resolved = self.view.resolve(name, spec)
        data = self.view.notebook_bytes(resolved.name, resolved.version)
        return version_citation(resolved.name, resolved.version, resolved.entry, data,
                                f"{base_url}/docs/{resolved.name}/{resolved.version}")

    # -- auth -------------------------------------------------------------------------------------
    def verify_token(self, token: str) -> str | None:
        from gilgamesh.registry.store.tokens import verify_token

        return verify_token(self.root, token)

    def may_publish(self, user: str) -> bool:
        """Every token holder, unless the registry's settings.json lists its ``publishers``.

        A settings file the settings table refuses refuses every write (500 naming the problem):
        a typo in it must not open a restricted registry to every token holder.
        """
        from gilgamesh.registry.store.settings import SettingsError, read_settings

        try:
            publishers = read_settings(self.root)["publishers"]
        except SettingsError as e:
            raise GilgameshError(f"writes are refused until the registry's settings are fixed: {e}") from None
        return publishers is None or user in publishers

    # -- models -----------------------------------------------------------------------------------
    def binder(self, name: str, version: str, function: str, entry: dict) -> Binder:
        """The argument binder of an endpoint; raise :class:`NotFound` for a function not exposed."""
        key = (name, version, function)
        binder = self._binders.get(key)
        if binder is None:
            endpoints = entry.get("endpoints") or {}
            if function not in endpoints:
                listed = ", ".join(sorted(endpoints)) or "none"
                raise NotFound(f"{name}@{version} exposes no endpoint {function!r} (endpoints: {listed})")
            binder = self._binders[key] = Binder(f"{name}@{version} {function}", endpoints[function])
        return binder

    # -- derived documents ------------------------------------------------------------------------
    def _index_signature(self) -> tuple:
        sig = []
        try:
            with os.scandir(self.view.reader.layout.index_dir) as it:
                for e in it:
                    if e.name.endswith(".json"):
                        st = e.stat()
                        sig.append((e.name, st.st_ino, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            pass
        return tuple(sorted(sig))

    async def openapi_document(self) -> bytes:
        """The OpenAPI document as JSON bytes, rebuilt when any index changed."""
        signature = self._index_signature()
        if self._openapi is None or self._openapi[0] != signature:
            from gilgamesh.service.openapi import build_openapi

            document = await self.run_blocking(build_openapi, self.view, private=self.private)
            self._openapi = (signature, json.dumps(document, ensure_ascii=False).encode())
        return self._openapi[1]

    async def docs_body(self, name: str, version: str, sha256: str) -> tuple[str, str]:
        """The sanitized HTML of a version's notebook and of its API reference, rendered once per sha256.

        Concurrent first views share one render; renders beyond :attr:`render_slots` wait.
        """
        rendered = self.docs_cache.get(sha256)
        if rendered is not None:
            return rendered
        render = self._renders.get(sha256)
        if render is None:
            render = self._renders[sha256] = asyncio.ensure_future(self._render(name, version, sha256))
            render.add_done_callback(lambda _: self._renders.pop(sha256, None))
        return await asyncio.shield(render)  # a viewer that leaves does not cancel the others' render

    async def _render(self, name: str, version: str, sha256: str) -> tuple[str, str]:
        if self._render_semaphore is None:
            self._render_semaphore = asyncio.Semaphore(self.render_slots)
        async with self._render_semaphore:
            stats = self.render_stats
            stats["renders"] += 1
            stats["running"] += 1
            stats["peak"] = max(stats["peak"], stats["running"])
            try:
                data = self.view.notebook_bytes(name, version)
                references = self.view.entry(name, version).get("references") or {}
                rendered = await self.run_blocking(
                    lambda: (render_notebook_body(data, references), render_api_reference(data)))
            except GilgameshError:
                raise
            except Exception as e:  # what a notebook carries must never be a 500
                log.warning("cannot render %s@%s: %s: %s", name, version, type(e).__name__, e)
                raise NotRenderable(f"{name}@{version} cannot be rendered as a page ({type(e).__name__}: {e}); "
                                    f"its notebook is still served at /api/notebooks/{name}/{version}/notebook") from None
            finally:
                stats["running"] -= 1
        self.docs_cache.put(sha256, rendered)
        return rendered


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # Successful requests are logged at debug level only: at thousands of model calls a second
    # the access log would cost more than the calls themselves.
    status = handler.get_status()
    if status < 400:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%d %s %s %.1fms", status, handler.request.method, handler.request.path,
                      1000.0 * handler.request.request_time())
        return
    log.log(logging.WARNING if status < 500 else logging.ERROR, "%d %s %s %.1fms", status,
            handler.request.method, handler.request.path, 1000.0 * handler.request.request_time())


def make_app(registry_root: str, options: ServiceOptions | None = None, *, cookie_secret: str | None = None,
             **overrides) -> tornado.web.Application:
    """The service for the registry at ``registry_root``; ``app.settings["ctx"]`` is its context.

    ``options`` (:class:`ServiceOptions`), with ``overrides`` of single options by name. With
    ``dask_scheduler`` (or the registry's ``dask_scheduler`` setting) model calls run as tasks on
    that Dask cluster instead (service/calls/dask.py). ``model_workers`` warm worker processes
    (default: one per core) grow up to ``max_model_workers`` while slow calls occupy them; past
    that, ``queue_limit`` calls wait. Call ``await app.settings["ctx"].close()`` to stop its model
    workers.
    """
    ctx = ServiceContext(registry_root, (options or ServiceOptions()).with_options(**overrides))
    c = {"ctx": ctx}
    name = r"([^/]+)"
    cookie_secret = cookie_secret or secrets.token_hex(32)
    model_calls = ModelCalls(ctx, cookie_secret)
    routes = [
        # The model route first: it is the hot path, and tornado tries the patterns in order (the
        # server of make_server hands model calls to it before routing, see ModelCallsFirst).
        (MODEL_PATH, model_calls),
        (r"/", pages.IndexPage, c),
        (r"/healthz", handlers.HealthHandler, c),
        (r"/openapi\.json", handlers.OpenApiHandler, c),
        (r"/api/notebooks/?", handlers.NotebooksHandler, c),
        (rf"/api/notebooks/{name}/?", handlers.ApiHandler, c),
        (rf"/api/notebooks/{name}/{name}/notebook", handlers.NotebookHandler, c),
        (rf"/api/notebooks/{name}/{name}/yank", handlers.YankHandler, c),
        (rf"/api/notebooks/{name}/{name}/deprecate", handlers.DeprecateHandler, c),
        (rf"/api/notebooks/{name}/{name}/dependents", handlers.DependentsHandler, c),
        (rf"/api/notebooks/{name}/{name}/citation", handlers.CitationHandler, c),
        (rf"/api/notebooks/{name}/{name}/?", handlers.ResolveHandler, c),
        (rf"/docs/{name}/{name}/?", pages.DocsPage, c),
        (r"/bibliography/?", pages.BibliographyPage, c),
        (rf"/ui/{name}/?", pages.ApiPage, c),
        (rf"/ui/{name}/{name}/?", pages.ApiPage, c),
        (r"/login", pages.LoginPage, c),
        (r"/logout", pages.LogoutPage, c),
        (r"/vendor/pygments\.css", pages.PygmentsCss, c),
        (r"/vendor/katex/(.*)", handlers.StaticFiles, {"path": KATEX_DIR}),
    ]
    app = tornado.web.Application(
        routes,
        ctx=ctx,
        model_calls=model_calls,
        template_path=TEMPLATE_DIR,
        static_path=STATIC_DIR,
        static_handler_class=handlers.StaticFiles,
        default_handler_class=handlers.NotFoundHandler,
        default_handler_args=c,
        cookie_secret=cookie_secret,
        xsrf_cookies=False,  # JSON writes need a bearer token, which a foreign page cannot send
        log_function=_log_request,
        compress_response=False,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # started by the first model call
    else:
        ctx.start()
    return app


def make_server(app: tornado.web.Application) -> tornado.httpserver.HTTPServer:
    """The HTTP server of ``app`` (add its sockets): the body timeout and size limit of its context."""
    ctx = app.settings["ctx"]
    # The handlers refuse a body past max_body_size with the 413 envelope as it streams in; the
    # server's own limit, above it, only stops a client that keeps sending after that answer.
    return tornado.httpserver.HTTPServer(ModelCallsFirst(app, app.settings["model_calls"]),
                                         max_body_size=2 * ctx.max_body_size + 1, idle_connection_timeout=300,
                                         body_timeout=ctx.body_timeout)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(host: str, port: int, registry: str, workers: int = 1, options: ServiceOptions | None = None,
          **overrides) -> None:
    """Serve the registry at ``registry`` on ``host:port`` until interrupted (blocking).

    ``workers`` server processes share the port; each runs ``options.model_workers`` model
    processes (``overrides``: single options by name). Prints the URL (with the real port when
    ``port`` is 0) once the port is bound.
    """
    options = (options or ServiceOptions()).with_options(**overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    RegistryView(registry)  # fail before binding if there is no registry
    sockets = _bind(host, port)
    bound = sockets[0].getsockname()[1]
    cookie_secret = secrets.token_hex(32)  # shared by every process: a sign-in holds across them
    mode = "private" if options.private else "open reads"
    print(f"Gilgamesh serving {registry} at {_url(host, bound)} "
          f"({workers} process{'es' if workers > 1 else ''}, {mode}); Ctrl-C stops it", flush=True)
    if workers > 1:
        tornado.process.fork_processes(workers)  # returns in each child; the parent waits here
        _die_with_parent()
    try:
        asyncio.run(_serve_forever(sockets, registry, cookie_secret, options))
    except KeyboardInterrupt:
        pass


def _bind(host: str, port: int) -> list:
    """The listening sockets; a port that is taken (or a host that is not this machine's) is one
    line naming it and ``--port``, not a traceback."""
    import errno

    try:
        return tornado.netutil.bind_sockets(port, host)
    except OSError as e:
        where = _url(host, port)
        if e.errno == errno.EADDRINUSE:
            raise GilgameshError(f"port {port} is already in use on {host} (another `gilgamesh serve`?): stop what "
                                 f"listens at {where} or choose another port with --port") from None
        if e.errno == errno.EACCES:
            raise GilgameshError(f"no permission to listen on port {port} on {host}: choose a port above 1023 "
                                 f"with --port") from None
        raise GilgameshError(f"cannot listen at {where}: {e.strerror or e} (check --host and --port)") from None


def _die_with_parent() -> None:
    """A forked server process stops (cleanly, via SIGTERM) when the supervising parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


async def _serve_forever(sockets, registry, cookie_secret, options: ServiceOptions) -> None:
    app = make_app(registry, options, cookie_secret=cookie_secret)
    server = make_server(app)
    server.add_sockets(sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.stop()
        await app.settings["ctx"].close()
        await server.close_all_connections()


if __name__ == "__main__":  # pragma: no cover - `gilgamesh serve` is the entry point
    serve("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 8765, sys.argv[1])

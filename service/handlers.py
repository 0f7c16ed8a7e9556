"""Request handlers: each translates one route of the README's table of routes into a registry call.

``BaseHandler`` owns what every route shares: the JSON helpers, authentication, the request
body limit and the one error envelope (``{"error": {"status", "message", "details"}}``). Domain
errors carry their HTTP status (:mod:`gilgamesh.errors`) and become a response here, once.
Blocking work (git, validation, rendering) goes to the executor of :class:`ServiceContext`.
"""

from __future__ import annotations

import json
import logging
import os

import tornado.web

from gilgamesh import errors
from gilgamesh.errors import GilgameshError
from gilgamesh.versions import Spec, Version, check_name

from gilgamesh.service import http_policy as policy
from gilgamesh.service.calls.request_json import loads_request_json

__all__ = [
    "BaseHandler", "NotebooksHandler", "ApiHandler", "ResolveHandler", "NotebookHandler",
    "YankHandler", "OpenApiHandler", "HealthHandler", "NotFoundHandler", "StaticFiles",
]

log = logging.getLogger("gilgamesh.service")


_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@tornado.web.stream_request_body  # inherited: every handler sees the body as it arrives
class BaseHandler(tornado.web.RequestHandler):
    """JSON helpers, and the HTTP policy of :mod:`.http_policy` applied to every route.

    ``prepare`` runs on the headers alone, before a byte of the body is read: CORS, then
    authentication (:meth:`authorize`: a refused publish costs no memory), then the declared
    body size. Bodies are streamed, so one over the limit is refused with 413 as soon as that is
    known, never buffered whole.
    """

    # The methods that read: on a --private service they need a token too.
    read_methods: tuple[str, ...] = ("GET", "HEAD")
    # The methods that change the registry: they always need a token allowed to publish.
    write_methods: tuple[str, ...] = ()

    def initialize(self, ctx) -> None:
        self.ctx = ctx
        self.user: str | None = None
        self._body = policy.BodyBuffer(ctx.max_body_size)

    # -- the policy, on the headers ------------------------------------------------------------
    def prepare(self) -> None:
        self._set_cors_headers()
        if self.request.method == "OPTIONS":
            return
        self.authorize()
        if not self._finished:
            policy.check_content_length(self.request.headers, self.ctx.max_body_size)

    def authorize(self) -> None:
        """Authenticate as the route requires (sets ``self.user``), or raise 401/403."""
        method = self.request.method
        if method in self.write_methods:
            self.user = self.require_user(write=True)
        elif self.ctx.private and method in self.read_methods:
            self.user = self.require_user(write=False)

    def require_user(self, *, write: bool) -> str:
        return policy.require_user(self.ctx, self.request.headers, self.application.settings["cookie_secret"],
                                   write=write)

    def authenticated_user(self) -> str | None:
        """The user of the request's token (or, for a browser, its signed login cookie)."""
        return policy.request_user(self.ctx, self.request.headers, self.application.settings["cookie_secret"])

    def bearer_token(self) -> str | None:
        return policy.bearer_token(self.request.headers)

    def _set_cors_headers(self) -> None:
        for key, value in self.ctx.cors.headers(self.request.headers.get("Origin")).items():
            self.set_header(key, value)

    def options(self, *args, **kwargs) -> None:
        """A CORS preflight (or a plain ``OPTIONS``): 204 with the route's methods."""
        methods = allowed_methods(self)
        self.set_header("Allow", ", ".join(methods))
        for key, value in self.ctx.cors.preflight(self.request.headers.get("Origin"), methods).items():
            self.set_header(key, value)
        self.set_status(204)
        self.finish()

    # -- the body ---------------------------------------------------------------------------------
    def data_received(self, chunk: bytes) -> None:
        """Accumulate the body as it arrives, refusing it past the limit."""
        if self._finished:
            return  # already refused; the rest of the body is read and dropped
        try:
            self._body.add(chunk)
        except errors.BodyTooLarge as e:
            self.send_error(413, exc_info=(type(e), e, None))

    def body(self) -> bytes:
        return self._body.data() if self._body.chunks else (self.request.body or b"")

    def flag(self, name: str) -> bool:
        """A boolean query argument (absent: false). A value that is none of 1/true/yes, 0/false/no
        is a 400, not a quiet false: ``?dry_run=ture`` must not publish."""
        value = self.get_query_argument(name, "0").lower()
        if value not in _FLAGS:
            raise errors.UsageError(f"?{name} must be true or false (or 1, yes / 0, no), not {value!r}")
        return _FLAGS[value]

    def json_body(self):
        data = self.body()
        if not data.strip():
            return {}
        return loads_request_json(data)

    # -- responses ------------------------------------------------------------------------------
    def write_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", policy.JSON)
        self.finish(json.dumps(obj, ensure_ascii=False).encode())

    def write_error(self, status_code: int, **kwargs) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info:
            exc = exc_info[1]
        else:  # send_error(status) without an exception: tornado's own refusals
            exc = tornado.web.HTTPError(status_code, reason=self._reason)
        status, envelope, headers = policy.error_answer(
            exc, method=self.request.method, path=self.request.path, allowed=allowed_methods(self))
        self.set_status(status)
        self._set_cors_headers()
        for key, value in headers.items():
            self.set_header(key, value)
        if self.prefers_html():
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Content-Security-Policy", self.ctx.page_csp)
            self.finish(self.render_string("error.html", error=envelope["error"], ctx=self.ctx))
            return
        self.set_header("Content-Type", policy.JSON)
        self.finish(policy.envelope_bytes(envelope))

    def prefers_html(self) -> bool:
        """HTML pages answer a browser's errors with a page, everything else with the envelope."""
        return False

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, GilgameshError):
            if value.http_status >= 500:
                log.error("%s %s: %s", self.request.method, self.request.path, value.message)
            return  # expected: the client gets the envelope, the log stays quiet
        super().log_exception(typ, value, tb)

    def head(self, *args, **kwargs):
        """HEAD answers as GET does, without the body (every GET route supports HEAD, RFC 9110)."""
        return self.get(*args, **kwargs)

    # -- helpers -------------------------------------------------------------------------------
    async def run_blocking(self, fn, *args, **kwargs):
        return await self.ctx.run_blocking(fn, *args, **kwargs)


def allowed_methods(handler: tornado.web.RequestHandler) -> list[str]:
    """The methods a handler implements (for the ``Allow`` header of a 405)."""
    base = tornado.web.RequestHandler
    methods = [m for m in handler.SUPPORTED_METHODS
               if getattr(type(handler), m.lower(), None) is not getattr(base, m.lower(), None)]
    if "GET" not in methods and "HEAD" in methods and isinstance(handler, BaseHandler):
        methods.remove("HEAD")  # BaseHandler's HEAD is its GET: nothing without one
    return methods


class StaticFiles(tornado.web.StaticFileHandler):
    """The service's own files and KaTeX: their errors too answer in the one envelope."""

    def write_error(self, status_code: int, **kwargs) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else tornado.web.HTTPError(status_code, reason=self._reason)
        status, envelope, headers = policy.error_answer(
            exc, method=self.request.method, path=self.request.path, allowed=allowed_methods(self))
        self.set_status(status)
        for key, value in headers.items():
            self.set_header(key, value)
        self.set_header("Content-Type", policy.JSON)
        self.finish(policy.envelope_bytes(envelope))


class NotebooksHandler(BaseHandler):
    """``GET /api/notebooks`` lists every API; ``POST`` publishes (``?dry_run=1`` validates only)."""

    def get(self) -> None:
        self.write_json({"notebooks": self.ctx.view.listing()})

    write_methods = ("POST",)

    def authorize(self) -> None:
        dry_run = self.flag("dry_run")
        if dry_run and self.bearer_token() is None and not self.ctx.private:
            self.user = "anonymous"  # validating stores nothing: it needs no publish token
        else:
            super().authorize()

    async def post(self) -> None:
        dry_run = self.flag("dry_run")
        user = self.user
        data = self.body()
        if not data:
            raise errors.UsageError("the request body is empty: send the .ipynb file's bytes")
        outcome = await self.run_blocking(self.ctx.publish, data, user, dry_run)
        if outcome.created:
            self.set_header("Location", f"/api/notebooks/{outcome.name}/{outcome.version}")
        self.write_json(outcome.to_dict(), 201 if outcome.created else 200)


class ApiHandler(BaseHandler):
    """``GET /api/notebooks/{name}``: its versions."""

    def get(self, name: str) -> None:
        name = name
        index = self.ctx.view.api(name)
        self.write_json({
            "name": name,
            "latest": index.version_set.latest_release(),
            "versions": [{"version": v.text, **index.versions[v.text]} for v in index.version_set],
        })


class ResolveHandler(BaseHandler):
    """``GET /api/notebooks/{name}/{spec}``: the resolved version, one object (the document of
    :class:`~gilgamesh.registry.store.resolved.ResolvedVersion`, as ``resolve --json`` prints it)."""

    def get(self, name: str, spec: str) -> None:
        resolved = self.ctx.view.resolve(name, spec)
        self.set_header("Gilgamesh-Version", resolved.version)
        self.write_json(resolved.to_dict())


class DependentsHandler(BaseHandler):
    """``GET /api/notebooks/{name}/{spec}/dependents``: the published versions that depend on it."""

    def get(self, name: str, spec: str) -> None:
        self.ctx.view.api(name)  # 404 for an unknown API, before the spec is read
        self.write_json(self.ctx.view.reader.dependents(name, Spec(spec)))


class CitationHandler(BaseHandler):
    """``GET /api/notebooks/{name}/{version}/citation``: the version's "cite this version" BibTeX.

    JSON (``{"name", "version", "key", "bibtex"}``), or the BibTeX itself for ``Accept:
    application/x-bibtex`` (or ``?format=bibtex``).
    """

    def get(self, name: str, spec: str) -> None:
        form = self.get_query_argument("format", "json")
        if form not in ("json", "bibtex"):
            raise errors.UsageError(f"?format must be json or bibtex, not {form!r}")
        base = f"{self.request.protocol}://{self.request.host}"
        out = self.ctx.citation(name, spec, base)
        self.set_header("Gilgamesh-Version", out["version"])
        if form == "bibtex" or "application/x-bibtex" in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", "application/x-bibtex; charset=utf-8")
            self.finish(out["bibtex"].encode())
            return
        self.write_json(out)


class DeprecateHandler(BaseHandler):
    """``POST /api/notebooks/{name}/{version}/deprecate`` (``{"message": ...}``); ``DELETE`` undoes it."""

    write_methods = ("POST", "DELETE")

    async def post(self, name: str, version: str) -> None:
        user = self.user
        name, version = check_name(name), str(Version(version))
        body = self.json_body()
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message.strip():
            raise errors.UsageError('a deprecation needs a message: send {"message": "use 1.3 instead"}')
        entry = await self.run_blocking(self.ctx.set_deprecated, name, version, message.strip(), user)
        self.write_json({"name": name, **entry})

    async def delete(self, name: str, version: str) -> None:
        user = self.user
        name, version = check_name(name), str(Version(version))
        entry = await self.run_blocking(self.ctx.set_deprecated, name, version, None, user)
        self.write_json({"name": name, **entry})


class NotebookHandler(BaseHandler):
    """``GET /api/notebooks/{name}/{spec}/notebook``: the ``.ipynb`` bytes; the ETag is the sha256."""

    def get(self, name: str, spec: str) -> None:
        spec = spec
        resolved = self.ctx.view.resolve(name, spec)
        sha = resolved.sha256
        self.set_header("Gilgamesh-Version", resolved.version)
        self.set_header("ETag", f'"{sha}"')
        exact = spec == resolved.version
        self.set_header("Cache-Control", "public, max-age=31536000, immutable" if exact else "no-cache")
        if self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        data = self.ctx.view.notebook_bytes(resolved.name, resolved.version)
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header("Content-Disposition", f'attachment; filename="{resolved.name}-{resolved.version}.ipynb"')
        self.finish(data)

    def compute_etag(self):
        return None  # set explicitly above: the content hash, not a hash of the response


class YankHandler(BaseHandler):
    """``POST /api/notebooks/{name}/{version}/yank`` yanks (``{"reason": ...}``); ``DELETE`` unyanks."""

    write_methods = ("POST", "DELETE")

    def _target(self, name: str, version: str) -> tuple[str, str]:
        name, version = check_name(name), version
        Version(version)  # an exact version: yanking a range would be a guess
        return name, version

    async def post(self, name: str, version: str) -> None:
        user = self.user
        name, version = self._target(name, version)
        body = self.json_body()
        reason = body.get("reason") if isinstance(body, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            raise errors.UsageError('a yank needs a reason: send {"reason": "why it is withdrawn"}')
        entry = await self.run_blocking(self.ctx.set_yanked, name, version, reason.strip(), user)
        self.write_json({"name": name, **entry})  # the entry carries the dependents warned of

    async def delete(self, name: str, version: str) -> None:
        user = self.user
        name, version = self._target(name, version)
        entry = await self.run_blocking(self.ctx.set_yanked, name, version, None, user)
        self.write_json({"name": name, **entry})


class OpenApiHandler(BaseHandler):
    """``GET /openapi.json``."""

    async def get(self) -> None:
        document = await self.ctx.openapi_document()
        self.set_header("Content-Type", policy.JSON)
        self.finish(document)


class HealthHandler(BaseHandler):
    """``GET /healthz``: liveness (open even on a private service)."""

    read_methods = ()

    def get(self) -> None:
        # The model workers: this process's own, or the Dask cluster's with --dask-scheduler.
        self.write_json({"status": "ok", "pid": os.getpid(), "workers": self.ctx.pool.worker_count()})


class NotFoundHandler(BaseHandler):
    """Every unknown path: 404 in the envelope."""

    read_methods = ()

    def prepare(self) -> None:
        raise errors.NotFound(f"no route {self.request.method} {self.request.path}")

"""Request handlers: each translates one route of DESIGN.md section 8 into a registry call.

``BaseHandler`` owns what every route shares: the JSON helpers, authentication, the request
body limit and the one error envelope (``{"error": {"status", "message", "details"}}``). Domain
errors carry their HTTP status (:mod:`gilgamesh.errors`) and become a response here, once.
Blocking work (git, validation, rendering) goes to the executor of :class:`ServiceContext`.
"""

from __future__ import annotations

import json
import logging
import os

import tornado.httputil
import tornado.web

from gilgamesh import errors
from gilgamesh.errors import GilgameshError
from gilgamesh.versions import Spec, Version, check_name

__all__ = [
    "BaseHandler", "NotebooksHandler", "ApiHandler", "ResolveHandler", "NotebookHandler",
    "YankHandler", "OpenApiHandler", "HealthHandler", "NotFoundHandler", "StaticFiles",
]

log = logging.getLogger("gilgamesh.service")

_JSON = "application/json; charset=UTF-8"


class BodyTooLarge(GilgameshError):
    """A request body above the service's limit."""

    http_status = 413


def _refuse_constant(name: str):
    """Python's json reads NaN and Infinity, which JSON has no spelling for: refuse them."""
    raise ValueError(f"{name} is not a JSON number")


def loads_request_json(data: bytes):
    """A request body parsed as strict JSON, or :class:`~gilgamesh.errors.UsageError` saying why not."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.UsageError(f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise errors.UsageError("the request body is not valid JSON: it is nested too deeply") from None


@tornado.web.stream_request_body  # inherited: every handler sees the body as it arrives
class BaseHandler(tornado.web.RequestHandler):
    """JSON helpers, authentication, the body limit and the error envelope.

    Bodies are streamed so that one over the limit is refused with 413 as soon as that is
    known (from ``Content-Length``, or while a chunked body arrives), never buffered whole.
    """

    # The methods that read: on a --private service they need a token too (writes always do).
    read_methods: tuple[str, ...] = ("GET", "HEAD")

    def initialize(self, ctx) -> None:
        self.ctx = ctx
        self._chunks: list[bytes] = []
        self._size = 0

    # -- auth ----------------------------------------------------------------------------------
    def bearer_token(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None

    def authenticated_user(self, *, cookie_ok: bool = True) -> str | None:
        """The user of the request's token (or, for a browser, its signed login cookie)."""
        token = self.bearer_token()
        if token is not None:
            return self.ctx.verify_token(token)
        if cookie_ok:
            user = self.get_signed_cookie("gilgamesh_user", max_age_days=7)
            return user.decode() if user else None
        return None

    def require_user(self, *, write: bool) -> str:
        """The user allowed to do this, or raise 401 (no or unknown token) / 403 (not allowed)."""
        token = self.bearer_token()
        if token is None and not write:
            user = self.authenticated_user()
            if user:
                return user
        if token is None:
            what = "publishing and yanking need" if write else "this service is private: reads need"
            raise errors.AuthenticationError(
                f"{what} a token: send 'Authorization: Bearer TOKEN' (create one with 'gilgamesh token create USER')"
            )
        user = self.ctx.verify_token(token)
        if user is None:
            raise errors.AuthenticationError("the token is not known to this registry (revoked, or from another registry)")
        if write and not self.ctx.may_publish(user):
            raise errors.PermissionDenied(f"user {user!r} may not publish or yank in this registry "
                                          "(not listed in the 'publishers' of its settings.json)")
        return user

    def prepare(self) -> None:
        if self.ctx.private and self.request.method in self.read_methods:
            self.require_user(write=False)
        length = self.request.headers.get("Content-Length")
        if length is not None:
            try:
                too_large = int(length) > self.ctx.max_body_size
            except ValueError:
                raise errors.UsageError(f"Invalid Content-Length: {length!r}") from None
            if too_large:
                raise self._too_large()

    def _too_large(self) -> BodyTooLarge:
        limit = self.ctx.max_body_size
        return BodyTooLarge(f"the request body is larger than this service accepts ({limit:,} bytes)")

    def data_received(self, chunk: bytes) -> None:
        """Accumulate the body as it arrives, refusing it past the limit."""
        if self._finished:
            return  # already refused; the rest of an oversized body is read and dropped
        self._size += len(chunk)
        if self._size > self.ctx.max_body_size:
            self._chunks.clear()
            self.send_error(413, exc_info=(BodyTooLarge, self._too_large(), None))
            return
        self._chunks.append(chunk)

    def body(self) -> bytes:
        if len(self._chunks) == 1:
            return self._chunks[0]
        return b"".join(self._chunks) if self._chunks else (self.request.body or b"")

    def json_body(self):
        data = self.body()
        if not data.strip():
            return {}
        return loads_request_json(data)

    # -- responses ------------------------------------------------------------------------------
    def write_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", _JSON)
        self.finish(json.dumps(obj, ensure_ascii=False).encode())

    def write_error(self, status_code: int, **kwargs) -> None:
        error = None
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], GilgameshError):
            error = exc_info[1].to_dict()
            status_code = exc_info[1].http_status
        elif exc_info and isinstance(exc_info[1], tornado.web.HTTPError):
            error = {"status": exc_info[1].status_code, "message": _http_error_message(self, exc_info[1]),
                     "details": []}
        if error is None:
            message = "internal error" if status_code >= 500 else (self._reason or "error")
            error = {"status": status_code, "message": message, "details": []}
        error["status"] = status_code
        self.set_status(status_code)
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="gilgamesh"')
        if status_code == 405:
            self.set_header("Allow", ", ".join(allowed_methods(self)))
        if self.prefers_html():
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Content-Security-Policy", self.ctx.page_csp)
            self.finish(self.render_string("error.html", error=error, ctx=self.ctx))
            return
        self.set_header("Content-Type", _JSON)
        self.finish(json.dumps({"error": error}, ensure_ascii=False).encode())

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


def _http_error_message(handler: tornado.web.RequestHandler, e: tornado.web.HTTPError) -> str:
    """What a tornado ``HTTPError`` says, for the envelope."""
    if e.status_code == 405:
        allowed = ", ".join(allowed_methods(handler)) or "none"
        return f"{handler.request.method} is not allowed on {handler.request.path} (allowed: {allowed})"
    if e.status_code == 404 and not e.log_message:
        return f"no file {handler.request.path}"
    if e.log_message:
        return e.log_message % e.args if e.args else e.log_message
    return e.reason or tornado.httputil.responses.get(e.status_code, "error")


class StaticFiles(tornado.web.StaticFileHandler):
    """The service's own files and KaTeX: their errors too answer in the one envelope."""

    def write_error(self, status_code: int, **kwargs) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError):
            message = _http_error_message(self, exc_info[1])
        else:
            message = "internal error" if status_code >= 500 else self._reason
        if status_code == 405:
            self.set_header("Allow", ", ".join(allowed_methods(self)))
        self.set_header("Content-Type", _JSON)
        self.finish(json.dumps({"error": {"status": status_code, "message": message, "details": []}}).encode())


class NotebooksHandler(BaseHandler):
    """``GET /api/notebooks`` lists every API; ``POST`` publishes (``?dry_run=1`` validates only)."""

    def get(self) -> None:
        self.write_json({"notebooks": self.ctx.view.listing()})

    async def post(self) -> None:
        dry_run = self.get_query_argument("dry_run", "0").lower() in ("1", "true", "yes")
        if dry_run and self.bearer_token() is None and not self.ctx.private:
            user = "anonymous"  # validating stores nothing: it needs no publish token
        else:
            user = self.require_user(write=True)
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
    """``GET /api/notebooks/{name}/{spec}``: the resolved version, one object."""

    def get(self, name: str, spec: str) -> None:
        resolved = self.ctx.view.resolve(name, spec)
        entry = resolved.entry
        self.set_header("Gilgamesh-Version", resolved.version)
        self.write_json({
            "name": resolved.name,
            "version": resolved.version,
            "sha256": entry["sha256"],
            "summary": entry.get("summary", ""),
            "yanked": entry.get("yanked", False),
            "yank_reason": entry.get("yank_reason"),
            "published_at": entry.get("published_at"),
            "publisher": entry.get("publisher"),
            "endpoints": entry.get("endpoints", {}),
            "dependencies": entry.get("dependencies", {}),
            "environment": entry.get("environment"),
            "deprecated": bool(entry.get("deprecated")),
            "deprecation_message": entry.get("deprecation_message") if entry.get("deprecated") else None,
            "changed": entry.get("changed") or {},
            "warning": resolved.warning,
        })


class DependentsHandler(BaseHandler):
    """``GET /api/notebooks/{name}/{spec}/dependents``: the published versions that depend on it."""

    def get(self, name: str, spec: str) -> None:
        self.ctx.view.api(name)  # 404 for an unknown API, before the spec is read
        self.write_json(self.ctx.view.reader.dependents(name, Spec(spec)))


class DeprecateHandler(BaseHandler):
    """``POST /api/notebooks/{name}/{version}/deprecate`` (``{"message": ...}``); ``DELETE`` undoes it."""

    async def post(self, name: str, version: str) -> None:
        user = self.require_user(write=True)
        name, version = check_name(name), str(Version(version))
        body = self.json_body()
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message.strip():
            raise errors.UsageError('a deprecation needs a message: send {"message": "use 1.3 instead"}')
        entry = await self.run_blocking(self.ctx.set_deprecated, name, version, message.strip(), user)
        self.write_json({"name": name, **entry})

    async def delete(self, name: str, version: str) -> None:
        user = self.require_user(write=True)
        name, version = check_name(name), str(Version(version))
        entry = await self.run_blocking(self.ctx.set_deprecated, name, version, None, user)
        self.write_json({"name": name, **entry})


class NotebookHandler(BaseHandler):
    """``GET /api/notebooks/{name}/{spec}/notebook``: the ``.ipynb`` bytes; the ETag is the sha256."""

    def get(self, name: str, spec: str) -> None:
        spec = spec
        resolved = self.ctx.view.resolve(name, spec)
        sha = resolved.entry["sha256"]
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

    def _target(self, name: str, version: str) -> tuple[str, str]:
        name, version = check_name(name), version
        Version(version)  # an exact version: yanking a range would be a guess
        return name, version

    async def post(self, name: str, version: str) -> None:
        user = self.require_user(write=True)
        name, version = self._target(name, version)
        body = self.json_body()
        reason = body.get("reason") if isinstance(body, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            raise errors.UsageError('a yank needs a reason: send {"reason": "why it is withdrawn"}')
        entry = await self.run_blocking(self.ctx.set_yanked, name, version, reason.strip(), user)
        self.write_json({"name": name, **entry})  # the entry carries the dependents warned of

    async def delete(self, name: str, version: str) -> None:
        user = self.require_user(write=True)
        name, version = self._target(name, version)
        entry = await self.run_blocking(self.ctx.set_yanked, name, version, None, user)
        self.write_json({"name": name, **entry})


class OpenApiHandler(BaseHandler):
    """``GET /openapi.json``."""

    async def get(self) -> None:
        document = await self.ctx.openapi_document()
        self.set_header("Content-Type", _JSON)
        self.finish(document)


class HealthHandler(BaseHandler):
    """``GET /healthz``: liveness (open even on a private service)."""

    read_methods = ()

    def get(self) -> None:
        self.write_json({"status": "ok", "pid": os.getpid(), "workers": len(self.ctx.pool.pids())})


class NotFoundHandler(BaseHandler):
    """Every unknown path: 404 in the envelope."""

    read_methods = ()

    def prepare(self) -> None:
        raise errors.NotFound(f"no route {self.request.method} {self.request.path}")

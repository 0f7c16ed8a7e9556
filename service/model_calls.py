"""``POST /models/{name}/{spec}/{function}``: the hot path, on tornado's HTTP message API.

A model call is the one route served thousands of times a second, so it skips the
``RequestHandler`` machinery (per-request header tables, ETag and cookie handling, the output
transforms), which costs more than the call itself; the answer is the same as every other
route's: the result (or the one error envelope), ``Gilgamesh-Version``, keep-alive.

Order of work: the path and the token are checked on the headers, the body is refused past the
limit while it arrives (413), then the spec is resolved against the current index, the arguments
are checked against the endpoint's annotations (400 naming the parameter) and only then does a
warm worker run the model.
"""

from __future__ import annotations

import http.cookies
import json
import logging
import re
import time
import urllib.parse
from email.utils import formatdate

import tornado.httputil
import tornado.web

from gilgamesh import errors
from gilgamesh.errors import GilgameshError

from .handlers import loads_request_json

__all__ = ["ModelCalls", "MODEL_PATH"]

log = logging.getLogger("gilgamesh.service")

MODEL_PATH = r"/models/([^/]+)/([^/]+)/([^/]+)"
_PATH = re.compile(MODEL_PATH + r"\Z")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 422: "Unprocessable Entity", 500: "Internal Server Error",
            503: "Service Unavailable", 504: "Gateway Timeout"}
_JSON = "application/json; charset=UTF-8"

_date = [0, ""]


def _http_date() -> str:
    now = int(time.time())
    if _date[0] != now:  # formatting the Date header costs more than a call: once a second
        _date[0], _date[1] = now, formatdate(now, usegmt=True)
    return _date[1]


def _segment(raw: str) -> str:
    """A path segment percent-decoded as tornado decodes every other route's (bad UTF-8 is a 400)."""
    if "%" not in raw:
        return raw  # the usual case: nothing to decode on the hot path
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise errors.UsageError(f"Invalid unicode in url: {raw!r}") from None


class ModelCalls(tornado.httputil.HTTPServerConnectionDelegate):
    """The route target: one :class:`_Call` per request."""

    def __init__(self, ctx, cookie_secret: str):
        self.ctx = ctx
        self.cookie_secret = cookie_secret

    def start_request(self, server_conn, request_conn) -> "_Call":
        return _Call(self, request_conn)


class _Call(tornado.httputil.HTTPMessageDelegate):
    __slots__ = ("route", "conn", "chunks", "size", "answered", "closed", "match", "started", "method", "path")

    def __init__(self, route: ModelCalls, conn):
        self.route = route
        self.conn = conn
        self.chunks: list[bytes] = []
        self.size = 0
        self.answered = False
        self.closed = False
        self.match = None

    # -- the request as it arrives ---------------------------------------------------------------
    def headers_received(self, start_line, headers) -> None:
        self.started = time.monotonic()
        self.method, self.path = start_line.method, start_line.path.partition("?")[0]
        ctx = self.route.ctx
        try:
            self.match = _PATH.match(self.path)
            if self.match is None:
                raise errors.NotFound(f"no route {self.method} {self.path}")
            if self.method != "POST":
                raise _MethodNotAllowed(f"{self.method} is not allowed here: call a model with POST")
            if ctx.private:
                self._authenticate(headers)
            length = headers.get("Content-Length")
            if length is not None:
                try:
                    too_large = int(length) > ctx.max_body_size
                except ValueError:
                    raise errors.UsageError(f"Invalid Content-Length: {length!r}") from None
                if too_large:
                    raise self._too_large()
        except GilgameshError as e:
            self._fail(e)

    def _authenticate(self, headers) -> None:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            if self.route.ctx.verify_token(token.strip()) is None:
                raise errors.AuthenticationError(
                    "the token is not known to this registry (revoked, or from another registry)")
            return
        cookies = http.cookies.SimpleCookie()
        try:
            cookies.load(headers.get("Cookie", ""))
        except http.cookies.CookieError:
            pass
        morsel = cookies.get("gilgamesh_user")
        if morsel and tornado.web.decode_signed_value(self.route.cookie_secret, "gilgamesh_user", morsel.value,
                                                      max_age_days=7):
            return
        raise errors.AuthenticationError(
            "this service is private: reads need a token: send 'Authorization: Bearer TOKEN' "
            "(create one with 'gilgamesh token create USER')")

    def _too_large(self) -> GilgameshError:
        limit = self.route.ctx.max_body_size
        return _TooLarge(f"the request body is larger than this service accepts ({limit:,} bytes)")

    def data_received(self, chunk: bytes) -> None:
        if self.answered:
            return  # refused already; the rest is read and dropped
        self.size += len(chunk)
        if self.size > self.route.ctx.max_body_size:
            self.chunks.clear()
            self._fail(self._too_large())
            return
        self.chunks.append(chunk)

    def finish(self) -> None:
        if self.answered:
            return
        try:
            self._call()
        except GilgameshError as e:
            self._fail(e)
        except Exception as e:  # a bug of ours: answer it, never leave the client waiting
            log.exception("model call %s failed", self.path)
            self._fail(errors.GilgameshError(f"internal error: {type(e).__name__}"))

    def on_connection_close(self) -> None:
        self.closed = True

    # -- the call --------------------------------------------------------------------------------
    def _call(self) -> None:
        ctx = self.route.ctx
        name, spec, function = (_segment(g) for g in self.match.groups())
        resolved = ctx.view.resolve(name, spec)
        version = resolved.version
        binder = ctx.binder(name, version, function, resolved.entry)
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        if data.strip():
            arguments = loads_request_json(data)  # the same JSON policy as every other body
        else:
            arguments = {}
        positional, keywords, arrays = binder.bind(arguments)
        future = ctx.pool.call(name, version, function, positional, keywords, arrays)
        suffix = b', "name": "' + name.encode() + b'", "version": "' + version.encode() + b'"}'
        warning = resolved.warning
        if resolved.entry.get("deprecated"):
            deprecation = f"{name}@{version} is deprecated: {resolved.entry.get('deprecation_message') or 'no message given'}"
            warning = f"{warning}; {deprecation}" if warning else deprecation

        def done(f) -> None:
            error = f.exception()
            if error is not None:
                self._fail(error if isinstance(error, GilgameshError)
                           else errors.GilgameshError(f"internal error: {type(error).__name__}"))
                return
            extra = {"Gilgamesh-Version": version}
            if warning:
                extra["Gilgamesh-Warning"] = warning.encode("ascii", "replace").decode()
            self._answer(200, b'{"result": ' + f.result() + suffix, extra)

        future.add_done_callback(done)

    # -- answers ---------------------------------------------------------------------------------
    def _fail(self, error: GilgameshError) -> None:
        status = error.http_status
        body = json.dumps({"error": {**error.to_dict(), "status": status}}, ensure_ascii=False).encode()
        extra = {"WWW-Authenticate": 'Bearer realm="gilgamesh"'} if status == 401 else {}
        if status == 405:
            extra["Allow"] = "POST"
        level = logging.WARNING if status < 500 else logging.ERROR
        log.log(level, "%d %s %s %.1fms: %s", status, self.method, self.path,
                1000.0 * (time.monotonic() - self.started), error.message)
        self._answer(status, body, extra)

    def _answer(self, status: int, body: bytes, extra: dict) -> None:
        if self.answered:
            return
        self.answered = True
        if self.closed:
            return  # the client went away; the worker's work is simply dropped
        headers = tornado.httputil.HTTPHeaders({
            "Content-Type": _JSON, "Content-Length": str(len(body)), "Date": _http_date(), **extra,
        })
        self.conn.write_headers(tornado.httputil.ResponseStartLine("HTTP/1.1", status, _REASONS.get(status, "")),
                                headers, body)
        self.conn.finish()


class _MethodNotAllowed(GilgameshError):
    http_status = 405


class _TooLarge(GilgameshError):
    http_status = 413

"""``POST /models/{name}/{spec}/{function}``: the hot path, on tornado's HTTP message API.

A model call is the one route served thousands of times a second, so it skips the
``RequestHandler`` machinery (per-request header tables, ETag and cookie handling, the output
transforms), which costs more than the call itself; the answer is the same as every other
route's: the result (or the one error envelope), ``Gilgamesh-Version``, keep-alive.

The HTTP policy is :mod:`.http_policy`'s, as on every route (the envelope and its status,
authentication, the body limit, CORS). Order of work: the path and the token are checked on the
headers, an ``OPTIONS`` preflight is answered there, the body is refused past the limit while it
arrives (413), then the spec is resolved against the current index, the arguments
are checked against the endpoint's annotations (400 naming the parameter) and only then does a
warm worker run the model. A large body (past :data:`~.protocol.LARGE_BODY`) goes to the worker
as it came, which parses and checks it by the same rules: parsing megabytes of JSON on the
event loop would hold up every other call.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from email.utils import formatdate

import tornado.httputil
import tornado.web

from gilgamesh import errors
from gilgamesh.errors import GilgameshError

from gilgamesh.service import http_policy as policy
from gilgamesh.service.calls.protocol import LARGE_BODY

__all__ = ["ModelCalls", "ModelCallsFirst", "MODEL_PATH"]

log = logging.getLogger("gilgamesh.service")

MODEL_PATH = r"/models/([^/]+)/([^/]+)/([^/]+)"
_PATH = re.compile(MODEL_PATH + r"\Z")
_METHODS = ("POST", "OPTIONS")

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


class ModelCallsFirst(tornado.httputil.HTTPServerConnectionDelegate):
    """The HTTP server's delegate: a model call goes straight to its route, the rest to ``app``.

    The application's router would build a request object and try the route patterns for every
    call, which on this path costs more than the policy checks; any other path is the
    application's as before (the model route stays in its table, so it answers the same there).
    """

    def __init__(self, app: tornado.web.Application, calls: ModelCalls):
        self.app = app
        self.calls = calls

    def start_request(self, server_conn, request_conn) -> "_Dispatch":
        return _Dispatch(self, server_conn, request_conn)

    def on_close(self, server_conn) -> None:
        self.app.on_close(server_conn)


class _Dispatch(tornado.httputil.HTTPMessageDelegate):
    """One request, handed on its start line to the model route or to the application."""

    __slots__ = ("first", "server_conn", "conn", "delegate")

    def __init__(self, first: ModelCallsFirst, server_conn, conn):
        self.first, self.server_conn, self.conn = first, server_conn, conn
        self.delegate = None

    def headers_received(self, start_line, headers):
        match = _PATH.match(start_line.path.partition("?")[0])
        if match is not None:
            self.delegate = _Call(self.first.calls, self.conn, match)
        else:
            self.delegate = self.first.app.start_request(self.server_conn, self.conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes):
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        if self.delegate is not None:
            self.delegate.on_connection_close()


class _Call(tornado.httputil.HTTPMessageDelegate):
    __slots__ = ("route", "conn", "body", "answered", "closed", "match", "started", "method", "path", "origin")

    def __init__(self, route: ModelCalls, conn, match: re.Match | None = None):
        self.route = route
        self.conn = conn
        self.body = policy.BodyBuffer(route.ctx.max_body_size)
        self.answered = False
        self.closed = False
        self.match = match  # when the server's dispatch matched the path already
        self.origin = None

    # -- the request as it arrives ---------------------------------------------------------------
    def headers_received(self, start_line, headers) -> None:
        self.started = time.monotonic()
        self.method, self.path = start_line.method, start_line.path.partition("?")[0]
        self.origin = headers.get("Origin")
        ctx = self.route.ctx
        try:
            if self.match is None:
                self.match = _PATH.match(self.path)
            if self.match is None:
                raise errors.NotFound(f"no route {self.method} {self.path}")
            if self.method == "OPTIONS":
                self._answer(204, b"", {"Allow": ", ".join(_METHODS), **ctx.cors.preflight(self.origin, _METHODS)})
                return
            if self.method != "POST":
                raise errors.MethodNotAllowed(f"{self.method} is not allowed here: call a model with POST")
            if ctx.private:
                policy.require_user(ctx, headers, self.route.cookie_secret, write=False)
            policy.check_content_length(headers, ctx.max_body_size)
        except GilgameshError as e:
            self._fail(e)

    def data_received(self, chunk: bytes) -> None:
        if self.answered:
            return  # refused already; the rest is read and dropped
        try:
            self.body.add(chunk)
        except errors.BodyTooLarge as e:
            self._fail(e)

    def finish(self) -> None:
        if self.answered:
            return
        try:
            self._call()
        except Exception as e:  # a GilgameshError, or a bug of ours: answer it, never leave the client waiting
            self._fail(e)

    def on_connection_close(self) -> None:
        self.closed = True

    # -- the call --------------------------------------------------------------------------------
    def _call(self) -> None:
        ctx = self.route.ctx
        name, spec, function = (_segment(g) for g in self.match.groups())
        resolved = ctx.view.resolve(name, spec)
        version = resolved.version
        binder = ctx.binder(name, version, function, resolved.entry)
        data = self.body.data()
        if len(data) > LARGE_BODY:  # parsed and bound in the worker: the loop serves other calls meanwhile
            future = ctx.pool.call_body(name, version, function, binder, data)
        else:
            future = ctx.pool.call(name, version, function, *binder.bind_body(data))
        suffix = b', "name": "' + name.encode() + b'", "version": "' + version.encode() + b'"}'
        warning = resolved.warning
        if resolved.deprecated:
            deprecation = f"{name}@{version} is deprecated: {resolved.deprecation_message or 'no message given'}"
            warning = f"{warning}; {deprecation}" if warning else deprecation

        def done(f) -> None:
            error = f.exception()
            if error is not None:
                self._fail(error)
                return
            extra = {"Gilgamesh-Version": version}
            if warning:
                extra["Gilgamesh-Warning"] = warning.encode("ascii", "replace").decode()
            self._answer(200, b'{"result": ' + f.result() + suffix, extra)

        future.add_done_callback(done)

    # -- answers ---------------------------------------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        status, envelope, extra = policy.error_answer(error, method=self.method, path=self.path, allowed=_METHODS)
        message = envelope["error"]["message"]
        if status >= 500 and not isinstance(error, GilgameshError):
            log.error("model call %s failed", self.path, exc_info=error)
        level = logging.WARNING if status < 500 else logging.ERROR
        log.log(level, "%d %s %s %.1fms: %s", status, self.method, self.path,
                1000.0 * (time.monotonic() - self.started), message)
        self._answer(status, policy.envelope_bytes(envelope), extra)

    def _answer(self, status: int, body: bytes, extra: dict) -> None:
        if self.answered:
            return
        self.answered = True
        if self.closed:
            return  # the client went away; the worker's work is simply dropped
        headers = tornado.httputil.HTTPHeaders({"Date": _http_date(), **extra})
        if status != 204:  # a 204 has no body, and no Content-Length either (RFC 9110)
            headers["Content-Type"] = policy.JSON
            headers["Content-Length"] = str(len(body))
        headers.update(self.route.ctx.cors.headers(self.origin))
        reason = tornado.httputil.responses.get(status, "")
        self.conn.write_headers(tornado.httputil.ResponseStartLine("HTTP/1.1", status, reason), headers, body)
        self.conn.finish()

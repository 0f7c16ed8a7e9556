"""The HTTP policy every route applies, written once for ``BaseHandler`` and the model-call fast path.

- Errors: one status mapping and one envelope (:func:`error_answer`): a Gilgamesh error answers
  its own status, a tornado ``HTTPError`` its status, anything else 500 (a bug of ours, logged).
- Authentication from the headers alone (:func:`require_user`): a bearer token, or a browser's
  signed sign-in cookie. It runs before any body is read, so a refused request costs no memory.
- The body limit: ``Content-Length`` on the headers, then the body as it arrives (:class:`BodyBuffer`).
- CORS (:class:`Cors`): the origins listed in the registry's ``settings.json`` ``cors_origins``,
  re-read when the file changes; every other origin gets no CORS header, so browsers refuse it.
"""

from __future__ import annotations

import http.cookies
import json
import logging

import tornado.httputil
import tornado.web

from gilgamesh import errors
from gilgamesh.errors import GilgameshError
from gilgamesh.service.file_signatures import signature as file_signature

__all__ = [
    "JSON", "COOKIE", "error_answer", "bearer_token", "cookie_user", "request_user", "require_user",
    "check_content_length", "BodyBuffer", "Cors",
]

log = logging.getLogger("gilgamesh.service")

JSON = "application/json; charset=UTF-8"
COOKIE = "gilgamesh_user"
COOKIE_DAYS = 7


# -- errors ------------------------------------------------------------------------------------
def error_answer(exc: BaseException, *, method: str, path: str, allowed=()) -> tuple[int, dict, dict]:
    """``(status, envelope, extra headers)`` for an exception raised while serving a request."""
    if isinstance(exc, GilgameshError):
        status, envelope = exc.http_status, exc.envelope()
    elif isinstance(exc, tornado.web.HTTPError):
        status = exc.status_code
        envelope = errors.envelope(status, _http_error_message(exc, method, path, allowed))
    else:
        status = 500
        envelope = errors.envelope(500, f"internal error: {type(exc).__name__}")
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="gilgamesh"'
    elif status == 405:
        headers["Allow"] = ", ".join(allowed)
    elif status == 503:
        headers["Retry-After"] = str(getattr(exc, "retry_after", 1))
    return status, envelope, headers


def envelope_bytes(envelope: dict) -> bytes:
    return json.dumps(envelope, ensure_ascii=False).encode()


def _http_error_message(e: tornado.web.HTTPError, method: str, path: str, allowed) -> str:
    if e.status_code == 405:
        return f"{method} is not allowed on {path} (allowed: {', '.join(allowed) or 'none'})"
    if e.status_code == 404 and not e.log_message:
        return f"no file {path}"
    if e.log_message:
        return e.log_message % e.args if e.args else e.log_message
    return e.reason or tornado.httputil.responses.get(e.status_code, "error")


# -- authentication ------------------------------------------------------------------------------
def bearer_token(headers) -> str | None:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def cookie_user(headers, secret: str) -> str | None:
    """The user a browser signed in as (``/login``), from its signed cookie."""
    raw = headers.get("Cookie")
    if not raw or COOKIE not in raw:
        return None
    cookies = http.cookies.SimpleCookie()
    try:
        cookies.load(raw)
    except http.cookies.CookieError:
        return None
    morsel = cookies.get(COOKIE)
    if morsel is None:
        return None
    user = tornado.web.decode_signed_value(secret, COOKIE, morsel.value, max_age_days=COOKIE_DAYS)
    return user.decode() if user else None


def request_user(ctx, headers, secret: str) -> str | None:
    """The user of the request's token, or of its sign-in cookie; None if neither is valid."""
    token = bearer_token(headers)
    if token is not None:
        return ctx.verify_token(token)
    return cookie_user(headers, secret)


def require_user(ctx, headers, secret: str, *, write: bool) -> str:
    """The user allowed to do this, or raise 401 (no or unknown token) / 403 (not allowed).

    Writes need a token (a cookie a foreign page could ride on is not enough); reads of a
    private service take the sign-in cookie too.
    """
    token = bearer_token(headers)
    if token is None and not write:
        user = cookie_user(headers, secret)
        if user:
            return user
    if token is None:
        what = "publishing, yanking and deprecating need" if write else "this service is private: reads need"
        raise errors.AuthenticationError(
            f"{what} a token: send 'Authorization: Bearer TOKEN' (create one with 'gilgamesh token create USER')")
    user = ctx.verify_token(token)
    if user is None:
        raise errors.AuthenticationError("the token is not known to this registry (revoked, or from another registry)")
    if write and not ctx.may_publish(user):
        raise errors.PermissionDenied(f"user {user!r} may not publish, yank or deprecate in this registry "
                                      "(not listed in the 'publishers' of its settings.json)")
    return user


# -- the body limit ------------------------------------------------------------------------------
def _too_large(limit: int) -> errors.BodyTooLarge:
    return errors.BodyTooLarge(f"the request body is larger than this service accepts ({limit:,} bytes)")


def check_content_length(headers, limit: int) -> None:
    """Refuse a declared body over ``limit`` before a byte of it is read."""
    length = headers.get("Content-Length")
    if length is None:
        return
    try:
        declared = int(length)
    except ValueError:
        raise errors.UsageError(f"Invalid Content-Length: {length!r}") from None
    if declared > limit:
        raise _too_large(limit)


class BodyBuffer:
    """A request body as it arrives, refused (:class:`~gilgamesh.errors.BodyTooLarge`) past ``limit``."""

    __slots__ = ("limit", "chunks", "size")

    def __init__(self, limit: int):
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.chunks.clear()
            raise _too_large(self.limit)
        self.chunks.append(chunk)

    def data(self) -> bytes:
        if len(self.chunks) == 1:
            return self.chunks[0]
        return b"".join(self.chunks)


# -- CORS ----------------------------------------------------------------------------------------
class Cors:
    """Cross-origin access for the origins of ``settings.json``'s ``cors_origins``.

    A browser page on a listed origin may call every JSON route (a lab dashboard calling a
    model); its preflight is answered with the route's methods. Credentials (cookies) are never
    allowed across origins: a foreign page authenticates with a bearer token, if at all.
    """

    ALLOW_HEADERS = "Authorization, Content-Type, If-None-Match"
    EXPOSE_HEADERS = "Gilgamesh-Version, Gilgamesh-Warning, Retry-After, ETag, Location"
    MAX_AGE = "600"

    def __init__(self, settings_file: str):
        self.settings_file = settings_file
        self._signature: tuple | None = None
        self._origins: frozenset[str] = frozenset()

    def origins(self) -> frozenset[str]:
        """The allowed origins now (the file is re-read when it changed; see :mod:`.file_signatures`)."""
        try:
            signature = file_signature(self.settings_file)
        except OSError:
            signature = None
        if signature != self._signature:
            self._signature = signature
            self._origins = self._read() if signature else frozenset()
        return self._origins

    def _read(self) -> frozenset[str]:
        """The origins of the settings file as it is now; a file the settings table refuses (it
        changed while the service runs) turns CORS off, logged, until it is fixed."""
        from gilgamesh.registry.store.settings import SettingsError, check_settings

        try:
            with open(self.settings_file, "rb") as f:
                settings = check_settings(json.loads(f.read()), self.settings_file)
        except (OSError, ValueError, SettingsError) as e:
            log.error("CORS is off: %s", e)
            return frozenset()
        return frozenset(origin.strip().rstrip("/").lower() for origin in settings["cors_origins"])

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and origin.lower() in self.origins()

    def headers(self, origin: str | None) -> dict:
        """The CORS headers of an answer to ``origin`` (None: the request sent no ``Origin``).

        While any origin is listed, every answer depends on the request's ``Origin``, allowed,
        refused or absent alike, so every answer says ``Vary: Origin``: a cache must not hand one
        origin's answer to another. With none listed, no answer depends on it.
        """
        if not self.origins():
            return {}
        if not self.allows(origin):
            return {"Vary": "Origin"}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": self.EXPOSE_HEADERS,
                "Vary": "Origin"}

    def preflight(self, origin: str | None, methods) -> dict:
        """The headers of the answer (204) to an ``OPTIONS`` preflight from ``origin``."""
        if not self.allows(origin):
            return self.headers(origin)
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ", ".join(methods),
                "Access-Control-Allow-Headers": self.ALLOW_HEADERS, "Access-Control-Max-Age": self.MAX_AGE,
                "Vary": "Origin"}

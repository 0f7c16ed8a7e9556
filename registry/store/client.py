"""The registry over HTTP: a reader for the loader and the CLI, and the publish/yank client.

``HttpReader`` implements :class:`~gilgamesh.registry.store.reader.RegistryReader` over the service's
JSON routes (the README's table of routes). It sits on the import path of ``gilgamesh.api`` when
``GILGAMESH_REGISTRY`` is a URL, so it uses only the standard library (``urllib``), never tornado
or requests. It caches nothing itself: the loader keeps fetched indexes and notebooks by sha256
(and imports from them while the service is unreachable). Every notebook fetched is verified
against the sha256 the service sends as its ETag.

Errors come back as the :class:`~gilgamesh.errors.GilgameshError` subclass matching the status
of the service's error envelope. ``GILGAMESH_TOKEN`` is sent as a bearer token when set (a
``--private`` service needs it for reads, every service for publishing); it is never logged.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request

from gilgamesh import errors
from gilgamesh.errors import GilgameshError, Problem, RegistryUnavailable

from gilgamesh.registry.store.reader import RegistryReader, verify_sha256

__all__ = ["HttpReader", "publish_over_http", "yank_over_http", "unyank_over_http", "deprecate_over_http",
           "add_bibliography_over_http", "error_from_envelope"]

DEFAULT_TIMEOUT = 30.0  # seconds; a publish runs validation server-side, so it gets longer
PUBLISH_TIMEOUT = 900.0

# The status of an error envelope -> the class rebuilt on this side. A 404 or 422 is refined by
# what was asked (an API, a version, a publish, a model call).
_STATUS_CLASSES = {
    400: errors.UsageError,
    401: errors.AuthenticationError,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.UsageError,
    422: errors.PublishRefused,
    500: errors.GilgameshError,
    503: errors.RegistryUnavailable,
    504: errors.ModelTimeout,
}


def _token(token: str | None) -> str | None:
    return token if token is not None else (os.environ.get("GILGAMESH_TOKEN") or None)


def error_from_envelope(status: int, body: bytes, what: str, classes: dict | None = None) -> GilgameshError:
    """Rebuild the error a service answered with (``{"error": {"status", "message", "details"}}``)."""
    try:
        inner = json.loads(body)["error"]
        message = str(inner["message"])
        raw_details = inner.get("details") or []
    except (ValueError, KeyError, TypeError):
        message = f"{what}: the registry service answered HTTP {status}"
        raw_details = []
    details = []
    for d in raw_details:
        if isinstance(d, dict) and "check" in d and "message" in d:
            details.append(Problem(d["check"], d["message"], d.get("cell")))
        else:
            details.append(d if isinstance(d, str) else json.dumps(d))
    cls = (classes or {}).get(status) or _STATUS_CLASSES.get(status)
    if cls is None:
        cls = errors.UsageError if 400 <= status < 500 else errors.GilgameshError
    err = cls(message, details=details)
    if type(err).http_status != status:
        err.http_status = status  # keep the service's word (e.g. a 413 rebuilt as a UsageError)
    return err


def _request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    token: str | None = None,
    content_type: str = "application/json",
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "",
    classes: dict | None = None,
) -> tuple[bytes, dict]:
    """One HTTP exchange; return ``(body, headers)`` or raise the rebuilt error."""
    headers = {"Accept": "application/json", "User-Agent": "gilgamesh-client"}
    if body is not None:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as e:
        with e:
            if e.code == 401 and not token:
                raise _no_token(what or url, write=method != "GET") from None
            raise error_from_envelope(e.code, e.read(), what or url, classes) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RegistryUnavailable(f"cannot reach the registry service at {_origin(url)}: {reason}") from None


def _no_token(what: str, write: bool) -> errors.AuthenticationError:
    """A 401 to a request that sent no token, in the words of who sends it here: the command line
    and the loader set ``GILGAMESH_TOKEN`` (or the write commands' ``--token``), they never write
    an ``Authorization`` header themselves (the service's own message says that, for other clients)."""
    where = "set GILGAMESH_TOKEN, or pass --token TOKEN to the command" if write else "set GILGAMESH_TOKEN"
    need = f"{what} needs a token" if write else f"{what}: this service is private, reads need a token"
    return errors.AuthenticationError(
        f"{need} and none was given: {where} (`gilgamesh token create USER --registry DIR`, run where the "
        "service's registry directory is, makes one)")


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _json_answer(body: bytes, url: str, what: str):
    """The JSON a service answered; a page that is not (a proxy's sign-in page, a wrong URL) says so."""
    try:
        return json.loads(body)
    except ValueError:
        raise RegistryUnavailable(f"{what}: {_origin(url)} did not answer with JSON; is it the URL of a "
                                  "'gilgamesh serve' service?") from None


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class HttpReader(RegistryReader):
    """A registry served by ``gilgamesh serve`` at ``url``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.location = url.rstrip("/")
        self.token = _token(token)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HttpReader({self.location!r})"

    def _get(self, path: str, what: str, classes: dict | None = None) -> tuple[bytes, dict]:
        return _request("GET", self.location + path, token=self.token, timeout=self.timeout,
                        what=what, classes=classes)

    def _get_json(self, path: str, what: str, classes: dict | None = None):
        return _json_answer(self._get(path, what, classes)[0], self.location, what)

    def _get_list(self, path: str, field: str, what: str) -> list:
        """The list ``field`` of the JSON object at ``path``; another answer says it is not a service."""
        data = self._get_json(path, what)
        if not isinstance(data, dict) or not isinstance(data.get(field), list):
            raise RegistryUnavailable(f"{what}: {self.location} answered JSON without a '{field}' "
                                      "list; is it the URL of a 'gilgamesh serve' service?")
        return data[field]

    def listing(self) -> list[dict]:
        """Every API with its summary, latest release and versions (``GET /api/notebooks``)."""
        return self._get_list("/api/notebooks", "notebooks", "listing the APIs")

    def names(self) -> list[str]:
        return sorted(item["name"] for item in self.listing())

    def bibliography(self) -> list[dict]:
        """The registry's bibliography entries, each with its ``key`` (``GET /bibliography``)."""
        return self._get_list("/bibliography", "entries", "reading the bibliography")

    def api_index(self, name: str) -> dict:
        from gilgamesh.versions import check_name

        check_name(name)
        data = self._get_json(f"/api/notebooks/{_quote(name)}", f"reading {name}", {404: errors.ApiNotFound})
        return {"name": data["name"], "versions": {e["version"]: e for e in data["versions"]}}

    def notebook_bytes(self, name: str, version: str) -> bytes:
        data, headers = self._get(f"/api/notebooks/{_quote(name)}/{_quote(version)}/notebook",
                                  f"fetching {name}@{version}", {404: errors.VersionNotFound})
        etag = {k.lower(): v for k, v in headers.items()}.get("etag", "").removeprefix("W/").strip('"')
        if not etag:
            etag = self.entry(name, version)["sha256"]
        return verify_sha256(data, etag, f"{name}@{version} from {self.location}")

    def resolved(self, name: str, spec: str) -> dict:
        """The service's resolution of ``name@spec`` (``GET /api/notebooks/{name}/{spec}``)."""
        return self._get_json(f"/api/notebooks/{_quote(name)}/{_quote(spec)}", f"resolving {name}@{spec}",
                              {404: errors.VersionNotFound})

    def dependents(self, name: str, spec) -> dict:
        """``GET /api/notebooks/{name}/{spec}/dependents``."""
        text = spec.text if hasattr(spec, "text") else spec
        return self._get_json(f"/api/notebooks/{_quote(name)}/{_quote(text)}/dependents",
                              f"listing the dependents of {name}@{text}", {404: errors.ApiNotFound})


def publish_over_http(url: str, data: bytes, token: str | None, dry_run: bool = False) -> dict:
    """Publish notebook bytes to the service at ``url``; return the outcome (``PublishOutcome.to_dict``).

    Raises :class:`~gilgamesh.errors.PublishRefused` with every problem of the report,
    :class:`~gilgamesh.errors.Conflict`, or an authentication error.
    """
    query = "?dry_run=1" if dry_run else ""
    body, _ = _request("POST", url.rstrip("/") + "/api/notebooks" + query, body=data, token=_token(token),
                       content_type="application/x-ipynb+json", timeout=PUBLISH_TIMEOUT,
                       what="publishing", classes={404: errors.VersionNotFound})
    return _json_answer(body, url, "publishing")


def _yank_request(method: str, url: str, name: str, version: str, body: bytes | None, token: str | None) -> dict:
    path = f"/api/notebooks/{_quote(name)}/{_quote(version)}/yank"
    out, _ = _request(method, url.rstrip("/") + path, body=body, token=_token(token),
                      what=f"changing the yank of {name}@{version}", classes={404: errors.VersionNotFound})
    return _json_answer(out, url, f"changing the yank of {name}@{version}")


def yank_over_http(url: str, name: str, version: str, reason: str | None, token: str | None) -> dict:
    """Yank (``reason`` given) or unyank (``reason`` None) a version; return its index entry."""
    if reason is None:
        return unyank_over_http(url, name, version, token)
    return _yank_request("POST", url, name, version, json.dumps({"reason": reason}).encode(), token)


def unyank_over_http(url: str, name: str, version: str, token: str | None) -> dict:
    """Withdraw the yank of a version; return its index entry."""
    return _yank_request("DELETE", url, name, version, None, token)


def deprecate_over_http(url: str, name: str, version: str, message: str | None, token: str | None) -> dict:
    """Deprecate (``message`` given) or undeprecate (None) a version; return its index entry."""
    path = f"/api/notebooks/{_quote(name)}/{_quote(version)}/deprecate"
    body = None if message is None else json.dumps({"message": message}).encode()
    what = f"changing the deprecation of {name}@{version}"
    out, _ = _request("DELETE" if message is None else "POST", url.rstrip("/") + path, body=body,
                      token=_token(token), what=what, classes={404: errors.VersionNotFound})
    return _json_answer(out, url, what)


def add_bibliography_over_http(url: str, text: str, token: str | None, replace: bool = False) -> dict:
    """Merge a BibTeX text into the bibliography of the service at ``url`` (a token is needed)."""
    query = "?replace=1" if replace else ""
    what = "adding to the bibliography"
    out, _ = _request("POST", url.rstrip("/") + "/bibliography" + query, body=text.encode("utf-8"),
                      token=_token(token), content_type="text/plain; charset=utf-8", what=what,
                      classes={422: errors.BibliographyError})
    return _json_answer(out, url, what)

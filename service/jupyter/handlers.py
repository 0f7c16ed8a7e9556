"""The server extension's routes, under ``{base_url}gilgamesh/``, each behind Jupyter's own auth.

| route | what it answers |
|---|---|
| ``GET gilgamesh/handshake`` | this release and protocol, and whether the lab extension's (``?labextension=&protocol=``) match |
| ``GET gilgamesh/api/notebooks`` | every API with each version, yanked and deprecated ones marked |
| ``GET gilgamesh/api/notebooks/{name}`` | one API's versions |
| ``GET gilgamesh/api/notebooks/{name}/{spec}`` | the version a spec resolves to (the service's document) |
| ``GET gilgamesh/docs/{name}/{spec}`` | that version's documentation as sanitized HTML, in JSON (``latest``: the latest release) |
| ``POST gilgamesh/fork`` | ``{spec, path, bump}``: the working copy of the next version, for the contents API |

Errors answer in the service's one envelope, ``{"error": {"status", "message", "details"}}``.
Registry reads (git-free for a directory, HTTP for a service URL) and renders run on a small
executor of their own, never on Jupyter's event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import posixpath

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async, url_path_join

from gilgamesh import errors
from gilgamesh.errors import GilgameshError
from gilgamesh.versions import Spec, check_name, parse_name_spec

from gilgamesh.service import http_policy as policy
from gilgamesh.service.jupyter.protocol import PROTOCOL, server_extension_version

__all__ = ["setup_handlers", "listing", "RegistryAccess"]

log = logging.getLogger("gilgamesh.jupyter")

VERSION_FIELDS = ("yanked", "yank_reason", "deprecated", "deprecation_message", "published_at")


def listing(reader) -> list[dict]:
    """Every API of ``reader`` with its versions, ascending, each marked yanked, deprecated, pre-release."""
    from gilgamesh.registry.store.reader import version_set_of

    rows = []
    for name in reader.names():
        try:
            index = reader.api_index(name)
        except errors.ApiNotFound:
            continue  # removed between the listing and the read
        entries = index["versions"]
        vset = version_set_of(index)
        ordered = list(vset)
        latest = vset.latest_release()
        summary_of = latest or (ordered[-1].text if ordered else None)
        versions = []
        for v in ordered:
            e = entries[v.text]
            row = {"version": v.text, "prerelease": v.is_prerelease}
            row.update({k: e.get(k) for k in VERSION_FIELDS})
            row["yanked"] = bool(row["yanked"])
            row["deprecated"] = bool(row["deprecated"])
            versions.append(row)
        rows.append({"name": name, "summary": entries[summary_of].get("summary", "") if summary_of else "",
                     "latest": latest, "versions": versions})
    return rows


class RegistryAccess:
    """The registry of ``GILGAMESH_REGISTRY``, opened per call (a path or a URL), and the rendered
    documentation of each version, kept by sha256."""

    def __init__(self, location: str | None = None):
        from gilgamesh.config import registry_location

        self.location = registry_location(location)
        self.executor = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="gilgamesh-jupyter")
        self._docs: dict[str, tuple[str, str]] = {}

    def registry(self):
        from gilgamesh.registry.facade import open_registry

        return open_registry(self.location)

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args))

    # -- blocking reads ---------------------------------------------------------------------------
    def listing(self) -> list[dict]:
        return listing(self.registry().reader)

    def versions(self, name: str) -> dict:
        check_name(name)
        rows = [row for row in listing(_OneApi(self.registry().reader, name))]
        if not rows:
            raise errors.ApiNotFound(f"no API named {name!r} in {self.location}")
        return rows[0]

    def resolved(self, name: str, spec: str) -> dict:
        return self.registry().resolved(check_name(name), Spec(spec))

    def docs(self, name: str, spec: str) -> dict:
        from gilgamesh.service.docs import render_api_reference, render_notebook_body

        reader = self.registry().reader
        version = reader.resolve(check_name(name), None if spec == "latest" else Spec(spec)).version
        entry = reader.entry(name, version)
        sha = entry["sha256"]
        rendered = self._docs.get(sha)
        if rendered is None:
            data = reader.notebook_bytes(name, version)
            try:
                rendered = (render_notebook_body(data, entry.get("references") or {}), render_api_reference(data))
            except Exception as e:  # noqa: BLE001 - what a notebook carries must never be a 500
                raise GilgameshError(f"{name}@{version} cannot be rendered ({type(e).__name__}: {e})") from None
            self._docs[sha] = rendered
        return {"name": name, "version": version, "summary": entry.get("summary", ""), "sha256": sha,
                "yanked": bool(entry.get("yanked")), "yank_reason": entry.get("yank_reason"),
                "deprecated": bool(entry.get("deprecated")), "deprecation_message": entry.get("deprecation_message"),
                "html": rendered[0], "api": rendered[1]}

    def fork(self, text: str, bump: str) -> tuple[str, str, str, dict, dict]:
        """``(name, chosen, new version, kernelspec, notebook)``: what ``gilgamesh fork`` would write."""
        from gilgamesh.loader.kernelspec import kernelspec_metadata

        name, spec = parse_name_spec(text)
        registry = self.registry()
        chosen, new_version = registry.fork_version(name, spec, bump)
        kernelspec = kernelspec_metadata()
        content = json.loads(registry.working_copy(name, chosen, new_version, kernelspec))
        return name, chosen, new_version, kernelspec, content


class _OneApi:
    """A reader that lists one API: the listing of :func:`listing`, for one name."""

    def __init__(self, reader, name: str):
        self.reader, self.name = reader, name

    def names(self) -> list[str]:
        return [self.name]

    def api_index(self, name: str) -> dict:
        return self.reader.api_index(name)


class GilgameshHandler(APIHandler):
    """Jupyter's auth and XSRF rules (``APIHandler``); errors in the service's envelope."""

    def initialize(self, access: RegistryAccess) -> None:
        self.access = access

    def write_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", policy.JSON)
        self.finish(json.dumps(obj, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else tornado.web.HTTPError(status_code, reason=self._reason)
        status, envelope, headers = policy.error_answer(exc, method=self.request.method, path=self.request.path)
        headers.pop("WWW-Authenticate", None)  # Jupyter's login, not the service's bearer tokens
        self.set_status(status)
        for key, value in headers.items():
            self.set_header(key, value)
        self.set_header("Content-Type", policy.JSON)
        self.finish(policy.envelope_bytes(envelope))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, GilgameshError) and value.http_status < 500:
            return  # expected: the panel shows the message
        super().log_exception(typ, value, tb)


class HandshakeHandler(GilgameshHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        theirs = self.get_query_argument("labextension", None)
        try:
            their_protocol = int(self.get_query_argument("protocol", str(PROTOCOL)))
        except ValueError:
            raise errors.UsageError("protocol must be an integer") from None
        mine = server_extension_version()
        if theirs is not None and theirs != mine:
            log.warning("Gilgamesh: the lab extension is %s, the server extension %s (protocol %s and %s): "
                        "reinstall gilgamesh[lab] and reload the page", theirs, mine, their_protocol, PROTOCOL)
        self.write_json({"name": "gilgamesh", "version": mine, "protocol": PROTOCOL, "labextension": theirs,
                         "match": theirs == mine, "compatible": their_protocol == PROTOCOL,
                         "registry": self.access.location})


class NotebooksHandler(GilgameshHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        rows = await self.access.run(self.access.listing)
        self.write_json({"registry": self.access.location, "notebooks": rows})


class ApiHandler(GilgameshHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.write_json(await self.access.run(self.access.versions, name))


class ResolveHandler(GilgameshHandler):
    @tornado.web.authenticated
    async def get(self, name: str, spec: str) -> None:
        self.write_json(await self.access.run(self.access.resolved, name, spec))


class DocsHandler(GilgameshHandler):
    @tornado.web.authenticated
    async def get(self, name: str, spec: str) -> None:
        self.write_json(await self.access.run(self.access.docs, name, spec))


class ForkHandler(GilgameshHandler):
    """``POST gilgamesh/fork`` ``{"spec": "langmuir@1.2", "path": "work/", "bump": "minor", "force": false}``.

    ``path`` is a contents-API path: empty, a directory (there, or ending in ``/``) gets
    ``NAME-VERSION.ipynb`` in it, as ``gilgamesh fork`` does; an existing file is a 409 unless
    ``force``. The answer names the file, the directories to make first, the kernel and the
    notebook itself; the lab extension writes it through the contents API.
    """

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.get_json_body() or {}
        if not isinstance(body, dict):
            raise errors.UsageError('send {"spec": "NAME@SPEC", "path": "..."}')
        text, path = body.get("spec"), body.get("path") or ""
        bump, force = body.get("bump") or "minor", bool(body.get("force"))
        if not isinstance(text, str) or not text.strip():
            raise errors.UsageError('a fork needs a spec: send {"spec": "langmuir@1.2"}')
        if not isinstance(path, str):
            raise errors.UsageError("path must be a string")
        if bump not in ("patch", "minor", "major"):
            raise errors.UsageError(f"bump must be patch, minor or major, not {bump!r}")
        name, chosen, version, kernelspec, content = await self.access.run(self.access.fork, text.strip(), bump)
        cm = self.contents_manager
        target = path.strip().strip("/")
        if not target or path.rstrip().endswith("/") or await ensure_async(cm.dir_exists(target)):
            target = posixpath.join(target, f"{name}-{version}.ipynb") if target else f"{name}-{version}.ipynb"
        if await ensure_async(cm.file_exists(target)) and not force:
            raise errors.Conflict(f"{target} already exists; choose another path (or send \"force\": true)")
        missing = []
        parent = posixpath.dirname(target)
        while parent and not await ensure_async(cm.dir_exists(parent)):
            missing.insert(0, parent)
            parent = posixpath.dirname(parent)
        self.write_json({"name": name, "from": chosen, "version": version, "path": target,
                         "directories": missing, "kernel": kernelspec, "content": content})


def setup_handlers(web_app, location: str | None = None) -> str:
    """Add the routes to Jupyter's ``web_app``; returns the registry location they read."""
    access = RegistryAccess(location)
    base = url_path_join(web_app.settings.get("base_url", "/"), "gilgamesh")
    part = r"([^/]+)"
    args = {"access": access}
    web_app.add_handlers(".*$", [
        (url_path_join(base, "handshake"), HandshakeHandler, args),
        (url_path_join(base, "api", "notebooks") + "/?", NotebooksHandler, args),
        (url_path_join(base, "api", "notebooks", part) + "/?", ApiHandler, args),
        (url_path_join(base, "api", "notebooks", part, part) + "/?", ResolveHandler, args),
        (url_path_join(base, "docs", part, part) + "/?", DocsHandler, args),
        (url_path_join(base, "fork"), ForkHandler, args),
    ])
    web_app.settings["gilgamesh_registry"] = access
    return access.location

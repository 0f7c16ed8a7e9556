"""Helpers of the service tests: a real server on an ephemeral port, a real HTTP client, the envelope check.

(Not in conftest.py: several conftest modules exist, so ``from conftest import`` is ambiguous.)
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.error
import urllib.request

import service_apis as apis
from support import assert_envelope

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "test-artifacts")


class Server:
    """``make_app`` served on 127.0.0.1:<ephemeral> by an event loop in a background thread."""

    def __init__(self, root: str, **options):
        self.root = root
        self.options = options
        self.url = None
        self.ctx = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gilgamesh-test-server", daemon=True)

    def start(self) -> "Server":
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the test server did not start")
        if self._error:
            raise self._error
        return self

    def _run(self) -> None:
        import tornado.netutil

        from gilgamesh.service.app import make_app, make_server

        async def main():
            try:
                app = make_app(self.root, **self.options)
                self.ctx = app.settings["ctx"]
                sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
                server = make_server(app)
                server.add_sockets(sockets)
                self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
                self._stop = asyncio.Event()
                self.loop = asyncio.get_running_loop()
            except BaseException as e:  # surfaced by start()
                self._error = e
                self._ready.set()
                return
            self._ready.set()
            await self._stop.wait()
            server.stop()
            await self.ctx.close()
            await server.close_all_connections()

        asyncio.run(main())

    def stop(self) -> None:
        if self.url and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)

    def wait_workers_ready(self, timeout: float = 60) -> None:
        """Block until every model worker has said it is ready (so timing tests time calls only)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ctx.pool.workers and all(w.ready for w in list(self.ctx.pool.workers)):
                return
            threading.Event().wait(0.02)
        raise RuntimeError("model workers did not start")


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower())


def http(method: str, url: str, body=None, *, token: str | None = None, headers: dict | None = None,
         timeout: float = 60) -> Response:
    """One real HTTP request; any status comes back as a :class:`Response` (never raised)."""
    data = body
    hdrs = {"Accept": "application/json"}
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif isinstance(body, str):
        data = body.encode()
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, dict(r.headers.items()), r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Response(e.code, dict(e.headers.items()), e.read())


def assert_error(response: Response, status: int, *fragments: str) -> dict:
    """The one error envelope with this status (:func:`support.assert_envelope`), naming every fragment."""
    assert response.status == status, (response.status, response.body[:500])
    return assert_envelope(status, response.header("Content-Type") or "", response.body, *fragments)


def seed(root: str, png: str) -> None:
    """The read-only registry: geo 1.0.0, 1.1.0, a yanked 1.2.0, 2.0.0rc1; plain 0.1.0 and 0.2.0."""
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import Store, init_registry

    init_registry(root)
    for data in (apis.geo("1.0.0", png=png), apis.geo_next("1.1.0", png), apis.geo_next("1.2.0", png),
                 apis.geo_next("2.0.0rc1", png), apis.plain("0.1.0"), apis.plain("0.2.0")):
        # Validation (nbval) is tested where publishing is; here it would only slow the setup.
        publish(root, data, publisher="seed", validate=False)
    Store(root).set_yanked("geo", "1.2.0", "wrong units in cube", "seed")

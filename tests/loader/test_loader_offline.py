"""Versions already fetched keep importing when the registry is unreachable (README, Importing)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from loader_kit import run_python

IMPORT_ALL = (
    "import warnings\n"
    "warnings.simplefilter('always')\n"
    "import gilgamesh.api.langmuir.v1_2 as a, gilgamesh.api.langmuir.v2 as b\n"
    "import gilgamesh.api.plasma.v1 as p\n"
    "print(a.__version__, b.__version__, p.__version__, p.langmuir is a)\n"
)


def test_local_registry_removed_after_first_import(own_registry, tmp_path):
    first = run_python(IMPORT_ALL)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "1.2.1 2.0.0 1.0.0 True\n" and first.stderr == ""

    os.rename(own_registry, str(tmp_path / "unplugged"))
    again = run_python(IMPORT_ALL)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "1.2.1 2.0.0 1.0.0 True\n"
    assert f"OfflineWarning: no registry at {own_registry}" in again.stderr
    assert "langmuir resolves offline from its index as seen on" in again.stderr

    # A spec never asked before still resolves against the cached index, to a cached version.
    exact = run_python("import gilgamesh.api.langmuir.v1 as m, gilgamesh.api.langmuir.v2_0_0 as n\n"
                       "print(m.__version__, n.__version__)")
    assert exact.returncode == 0, exact.stderr
    assert exact.stdout == "1.2.1 2.0.0\n"

    # What was never fetched cannot be imported offline, and the error says so.
    never = run_python("import gilgamesh.api.langmuir.v1_2_0")
    assert never.returncode == 1
    assert "RegistryUnavailable" in never.stderr and "langmuir@1.2.0 is not in the local cache" in never.stderr
    unknown = run_python("import gilgamesh.api.broken.v1")
    assert "broken was never imported from" in unknown.stderr and "nothing is cached" in unknown.stderr


def test_offline_in_process(own_registry, tmp_path):
    import shutil

    import gilgamesh
    from gilgamesh.loader import OfflineWarning

    first = gilgamesh.use("langmuir@1.2")
    shutil.rmtree(own_registry)
    gilgamesh.refresh()
    with pytest.warns(OfflineWarning, match="no registry at"):
        assert gilgamesh.use("langmuir@1.2") is first  # the module stays; the spec resolves offline
    assert gilgamesh.use("langmuir@1") is first


class _Service:
    """``gilgamesh serve`` in a thread: the real Tornado app on an ephemeral port."""

    def __init__(self, root: str):
        self.root = root
        self.url = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        import tornado.httpserver
        import tornado.netutil

        from gilgamesh.service.app import make_app

        app = make_app(self.root, model_workers=1, validate=False)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        server.stop()
        await server.close_all_connections()
        await app.settings["ctx"].close()

    def __enter__(self) -> "_Service":
        self._thread.start()
        assert self._ready.wait(60), "the service did not start"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)


def test_http_registry_unreachable_after_first_import(own_registry):
    with _Service(own_registry) as service:
        env = {"GILGAMESH_REGISTRY": service.url}
        first = run_python(IMPORT_ALL, env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout == "1.2.1 2.0.0 1.0.0 True\n"
    # The port is closed now: nothing answers there.
    again = run_python(IMPORT_ALL, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "1.2.1 2.0.0 1.0.0 True\n"
    never = run_python("import gilgamesh.api.langmuir.v1_2_0", env=env)
    assert never.returncode == 1 and "RegistryUnavailable" in never.stderr

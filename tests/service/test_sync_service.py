"""A running service with warm model workers, kept running while its registry syncs."""

from __future__ import annotations

import json
import os
import time

import service_apis as apis
from service_kit import Server, http
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import Store, init_registry
from gilgamesh.registry.sync import sync


def _site(tmp_path, name, *versions):
    root = str(tmp_path / name)
    init_registry(root)
    for api, version in versions:
        publish(root, apis.small(api, version), publisher=name, validate=False)
    return root


def _call(server, path, x=1.0):
    """The model call's answer: ``(version, result)``."""
    answer = http("POST", f"{server.url}/models/{path}", {"x": x})
    assert answer.status == 200, answer.body
    body = answer.json()
    return body["version"], body["result"]


def test_synced_versions_are_served_at_once_by_warm_workers(tmp_path, service_env):
    local = _site(tmp_path, "local", ("plasma", "1.0.0"))
    remote = _site(tmp_path, "remote", ("helicon", "1.0.0"), ("helicon", "1.1.0"))
    server = Server(local, model_workers=1).start()
    try:
        server.wait_workers_ready()
        assert _call(server, "plasma/1/inc") == ("1.0.0", 2.0)  # the worker is warm: it has imported plasma
        pids = [w.proc.pid for w in server.ctx.pool.workers]
        assert http("GET", f"{server.url}/api/notebooks/helicon").status == 404

        report = sync(local, remote)
        assert report.adopted == {"helicon": ["1.0.0", "1.1.0"]}
        assert _call(server, "helicon/1/inc", 41.0) == ("1.1.0", 42.0)
        assert http("GET", f"{server.url}/api/notebooks/helicon/1").json()["version"] == "1.1.0"

        # A yank made at the other site reaches the running service with the next sync.
        Store(remote).set_yanked("helicon", "1.1.0", "wrong sign", "remote")
        sync(local, remote)
        assert http("GET", f"{server.url}/api/notebooks/helicon/1").json()["version"] == "1.0.0"
        assert _call(server, "helicon/1/inc", 1.0) == ("1.0.0", 2.0)
        assert [w.proc.pid for w in server.ctx.pool.workers] == pids  # never restarted
        assert all(w.proc.poll() is None for w in server.ctx.pool.workers)
    finally:
        server.stop()


def test_serve_pulls_its_upstreams_every_interval(tmp_path, service_env):
    local = _site(tmp_path, "local")
    remote = _site(tmp_path, "remote", ("helicon", "1.0.0"))
    settings_file = os.path.join(local, "settings.json")
    with open(settings_file) as f:
        settings = json.load(f)
    settings.update(upstreams=[remote], sync_interval=0.2)
    with open(settings_file, "w") as f:
        json.dump(settings, f)
    server = Server(local, model_workers=1).start()
    try:
        deadline = time.monotonic() + 120
        while http("GET", f"{server.url}/api/notebooks/helicon").status != 200:
            assert time.monotonic() < deadline, "the upstream was never synced"
            time.sleep(0.1)
        publish(remote, apis.small("helicon", "1.1.0"), publisher="remote", validate=False)
        while http("GET", f"{server.url}/api/notebooks/helicon/1").json().get("version") != "1.1.0":
            assert time.monotonic() < deadline, "the upstream's new version was never synced"
            time.sleep(0.1)
        assert _call(server, "helicon/1.1/inc", 1.0) == ("1.1.0", 2.0)
    finally:
        server.stop()

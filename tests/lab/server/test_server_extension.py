"""The server extension's routes in a real Jupyter server (pytest-jupyter), behind Jupyter's own auth."""

from __future__ import annotations

import json
import os
import sys

import pytest
from tornado.httpclient import HTTPClientError

from lab_kit import install_gilgamesh_kernel, seed_registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One registry for the module: the routes only read it (a fork writes nothing there)."""
    return seed_registry(str(tmp_path_factory.mktemp("lab") / "registry"))


@pytest.fixture
def jp_server_config(seeded, monkeypatch, jp_data_dir):
    monkeypatch.setenv("GILGAMESH_REGISTRY", seeded)
    install_gilgamesh_kernel(str(jp_data_dir))
    return {"ServerApp": {"jpserver_extensions": {"gilgamesh.service.jupyter": True}}}


async def get_json(jp_fetch, *parts, **kwargs):
    response = await jp_fetch("gilgamesh", *parts, **kwargs)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def refused(jp_fetch, *parts, **kwargs) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("gilgamesh", *parts, **kwargs)
    return e.value.code, json.loads(e.value.response.body)


async def test_the_handshake_names_both_releases(jp_fetch):
    from gilgamesh import __version__
    from gilgamesh.service.jupyter import PROTOCOL

    same = await get_json(jp_fetch, "handshake", params={"labextension": __version__, "protocol": str(PROTOCOL)})
    assert same["version"] == __version__ and same["match"] and same["compatible"]
    other = await get_json(jp_fetch, "handshake", params={"labextension": "0.0.1", "protocol": str(PROTOCOL + 1)})
    assert other["labextension"] == "0.0.1" and not other["match"] and not other["compatible"]


def test_the_three_versions_are_one():
    """package.json, the lab extension's constant and the Python package name one release: the
    handshake compares the constant with the server's ``gilgamesh.__version__``."""
    from gilgamesh import __version__

    with open(os.path.join(ROOT, "labextension", "package.json"), encoding="utf-8") as fh:
        package = json.load(fh)
    with open(os.path.join(ROOT, "labextension", "src", "version.ts"), encoding="utf-8") as fh:
        constant = fh.read()
    assert package["version"] == __version__
    assert f"LABEXTENSION_VERSION = '{__version__}'" in constant
    with open(os.path.join(ROOT, "service", "jupyter", "protocol.py"), encoding="utf-8") as fh:
        protocol = fh.read().split("PROTOCOL = ")[1].split()[0]
    with open(os.path.join(ROOT, "labextension", "src", "handshake.ts"), encoding="utf-8") as fh:
        assert f"export const PROTOCOL = {protocol};" in fh.read()


async def test_the_listing_marks_yanked_and_deprecated_versions(jp_fetch, seeded):
    data = await get_json(jp_fetch, "api", "notebooks")
    assert data["registry"] == seeded
    apis = {row["name"]: row for row in data["notebooks"]}
    assert sorted(apis) == ["demo", "plasma"]
    assert apis["demo"]["latest"] == "1.1.0" and apis["demo"]["summary"] == "Twice a plasma scale."
    demo = {v["version"]: v for v in apis["demo"]["versions"]}
    assert demo["1.0.0"]["yanked"] and demo["1.0.0"]["yank_reason"] == "wrong factor"
    assert not demo["1.1.0"]["yanked"] and not demo["1.1.0"]["deprecated"]
    plasma = {v["version"]: v for v in apis["plasma"]["versions"]}
    assert plasma["1.0.0"]["deprecated"] and plasma["1.0.0"]["deprecation_message"] == "use 1.1"
    assert [v["version"] for v in apis["plasma"]["versions"]] == ["1.0.0", "1.1.0"]

    one = await get_json(jp_fetch, "api", "notebooks", "plasma")
    assert one == apis["plasma"]


async def test_resolve_and_docs(jp_fetch):
    resolved = await get_json(jp_fetch, "api", "notebooks", "plasma", "1")
    assert resolved["version"] == "1.1.0"
    docs = await get_json(jp_fetch, "docs", "demo", "1.0.0")
    assert docs["version"] == "1.0.0" and docs["yanked"] and docs["yank_reason"] == "wrong factor"
    assert "Twice the plasma scale of x" in docs["api"]
    assert "<script" not in docs["html"].lower()
    assert "y = 2 s x" in docs["html"]
    latest = await get_json(jp_fetch, "docs", "plasma", "latest")
    assert latest["version"] == "1.1.0" and not latest["deprecated"]


async def test_errors_answer_in_the_envelope(jp_fetch):
    status, body = await refused(jp_fetch, "api", "notebooks", "nothing")
    assert status == 404 and "nothing" in body["error"]["message"]
    status, body = await refused(jp_fetch, "api", "notebooks", "plasma", "7")
    assert status == 404 and body["error"]["status"] == 404
    status, body = await refused(jp_fetch, "api", "notebooks", "Bad-Name")
    assert status == 400 and "Invalid API name" in body["error"]["message"]


async def test_every_route_needs_jupyters_auth(jp_fetch):
    for parts in (("handshake",), ("api", "notebooks"), ("docs", "demo", "1")):
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch("gilgamesh", *parts, headers={"Authorization": ""})
        assert e.value.code == 403
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("gilgamesh", "fork", method="POST", body=json.dumps({"spec": "demo@1"}),
                       headers={"Authorization": ""})
    assert e.value.code == 403


async def fork(jp_fetch, **body):
    response = await jp_fetch("gilgamesh", "fork", method="POST", body=json.dumps(body))
    return json.loads(response.body)


async def test_fork_names_the_next_version_and_the_gilgamesh_kernel(jp_fetch, jp_root_dir):
    out = await fork(jp_fetch, spec="demo@1")
    assert (out["name"], out["from"], out["version"]) == ("demo", "1.1.0", "1.2.0")
    assert out["path"] == "demo-1.2.0.ipynb" and out["directories"] == []
    assert out["kernel"]["name"] == "gilgamesh"
    meta = out["content"]["metadata"]
    assert meta["gilgamesh"]["version"] == "1.2.0" and meta["kernelspec"]["name"] == "gilgamesh"
    assert out["content"]["cells"][1]["source"].startswith("from gilgamesh.api.plasma@1 import scale")
    # Nothing is written by the server: the lab extension saves it through the contents API.
    assert not os.listdir(jp_root_dir)

    nested = await fork(jp_fetch, spec="plasma@1.0", path="work/next/", bump="patch")
    assert nested["version"] == "1.0.1" and nested["path"] == "work/next/plasma-1.0.1.ipynb"
    assert nested["directories"] == ["work", "work/next"]

    (jp_root_dir / "work").mkdir()
    into = await fork(jp_fetch, spec="plasma", path="work")
    assert into["path"] == "work/plasma-1.2.0.ipynb" and into["directories"] == []


async def test_fork_never_overwrites_and_checks_what_it_is_sent(jp_fetch, jp_root_dir):
    (jp_root_dir / "demo-1.2.0.ipynb").write_text("{}")
    status, body = await refused(jp_fetch, "fork", method="POST", body=json.dumps({"spec": "demo@1"}))
    assert status == 409 and "already exists" in body["error"]["message"]
    forced = await fork(jp_fetch, spec="demo@1", force=True)
    assert forced["path"] == "demo-1.2.0.ipynb"
    for body, message in (({}, "needs a spec"), ({"spec": "demo@x"}, "Invalid version spec"),
                          ({"spec": "demo@1", "bump": "huge"}, "bump must be"),
                          ({"spec": "nothing@1"}, "nothing")):
        status, answer = await refused(jp_fetch, "fork", method="POST", body=json.dumps(body))
        assert status in (400, 404) and message in answer["error"]["message"], (body, answer)


def test_the_server_extension_does_not_weigh_on_gilgamesh_api():
    """``import gilgamesh.api`` stays lean: the server extension's modules load only in Jupyter."""
    import subprocess

    code = ("import sys, gilgamesh.api, gilgamesh.service.jupyter; "
            "print(sorted(m for m in ('jupyter_server', 'tornado', 'nbformat') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

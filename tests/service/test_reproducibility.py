"""Reproducibility over HTTP and the CLI: pinned dependencies in the model workers, dependents,
yank warnings naming them, deprecation (import warning, ``resolve --json``, ``Gilgamesh-Warning``),
model calls under ``GILGAMESH_LOCK``, and the "used by" list of the web UI in headless Chromium.

The lab: plasma 1.0.0 (``debye`` scales by 1), langmuir 1.2.0 published against it, then the
plasma patch 1.0.1 (scales by 2) and helicon 1.0.0 published against the patch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import nbfactory as f
from gilgamesh.registry.store.tokens import create_token
from service_kit import Server, assert_error, http


def _plasma(version: str, factor: str) -> bytes:
    return f.to_bytes(f.notebook("plasma", version, [
        f.markdown("# plasma\n\nThe Debye length."),
        f.code(f"FACTOR = {factor}\n\ndef debye(x: float) -> float:\n    \"\"\"Scaled.\"\"\"\n    return x * FACTOR"),
    ], endpoints=["debye"]))


def _user(name: str, version: str) -> bytes:
    return f.to_bytes(f.notebook(name, version, [
        f.markdown(f"# {name}\n\nUses plasma."),
        f.code("import gilgamesh.api.plasma@1 as plasma\n\ndef probe(x: float) -> float:\n"
               "    \"\"\"Through plasma.\"\"\"\n    return plasma.debye(x)"),
    ], endpoints=["probe"]))


def build_lab(root: str) -> None:
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    init_registry(root)
    publish(root, _plasma("1.0.0", "1.0"), validate=False)
    publish(root, _user("langmuir", "1.2.0"), validate=False)
    publish(root, _plasma("1.0.1", "2.0"), validate=False)
    publish(root, _user("helicon", "1.0.0"), validate=False)


@pytest.fixture
def lab(tmp_path):
    root = str(tmp_path / "lab")
    build_lab(root)
    return root


@pytest.fixture
def lab_server(lab, service_env):
    server = Server(lab).start()
    server.token = create_token(lab, "ada")
    yield server
    server.stop()


def _cli(*argv, env=None, cwd=None) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    full.pop("GILGAMESH_TOKEN", None)
    full.pop("PYTHONWARNINGS", None)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "gilgamesh", *argv], capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=120)


def test_model_workers_run_the_recorded_dependency_versions(lab_server):
    old = http("POST", f"{lab_server.url}/models/langmuir/1.2/probe", {"x": 3.0})
    new = http("POST", f"{lab_server.url}/models/helicon/1/probe", {"x": 3.0})
    assert (old.status, new.status) == (200, 200), (old.body, new.body)
    assert old.json()["result"] == 3.0  # plasma 1.0.0, as validated; not the patch
    assert new.json()["result"] == 6.0  # plasma 1.0.1
    assert http("POST", f"{lab_server.url}/models/plasma/1/debye", {"x": 3.0}).json()["result"] == 6.0


def test_dependents_over_http_and_the_cli(lab, lab_server):
    answer = http("GET", f"{lab_server.url}/api/notebooks/plasma/1.0.0/dependents")
    assert answer.status == 200
    body = answer.json()
    assert body["versions"] == ["1.0.0"]
    assert [(d["name"], d["version"], d["depends_on"]) for d in body["dependents"]] == \
        [("langmuir", "1.2.0", "plasma@1.0.0")]
    every = http("GET", f"{lab_server.url}/api/notebooks/plasma/1/dependents").json()
    assert every["versions"] == ["1.0.0", "1.0.1"]
    assert [(d["name"], d["depends_on"]) for d in every["dependents"]] == \
        [("helicon", "plasma@1.0.1"), ("langmuir", "plasma@1.0.0")]
    assert http("GET", f"{lab_server.url}/api/notebooks/langmuir/1/dependents").json()["dependents"] == []
    assert_error(http("GET", f"{lab_server.url}/api/notebooks/nosuch/1/dependents"), 404, "nosuch")
    assert_error(http("GET", f"{lab_server.url}/api/notebooks/plasma/x1/dependents"), 400, "x1")

    local = _cli("dependents", "plasma@1.0.1", "--json", "--registry", lab)
    assert local.returncode == 0, local.stderr
    assert [d["name"] for d in json.loads(local.stdout)["dependents"]] == ["helicon"]
    remote = _cli("dependents", "plasma@1", "--json", "--registry", lab_server.url)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == every
    text = _cli("dependents", "plasma@1.0.0", "--registry", lab).stdout
    assert "plasma@1.0.0 chooses 1.0.0; 1 published version(s) depend on it:" in text
    assert "langmuir@1.2.0  (depends on plasma@1.0.0)" in text
    usage = _cli("dependents", "plasma", "--registry", lab)
    assert usage.returncode == 2 and "needs NAME@SPEC" in usage.stderr


def test_yank_warns_naming_the_dependents(lab, lab_server):
    out = _cli("yank", "plasma@1.0.0", "--reason", "wrong constant", "--registry", lab)
    assert out.returncode == 0, out.stderr
    assert "warning: 1 published version(s) depend on plasma@1.0.0: langmuir@1.2.0" in out.stderr
    quiet = _cli("yank", "helicon@1.0.0", "--reason", "superseded", "--registry", lab)
    assert quiet.returncode == 0 and "depend on" not in quiet.stderr
    over_http = http("POST", f"{lab_server.url}/api/notebooks/plasma/1.0.1/yank", {"reason": "typo"},
                     token=lab_server.token)
    assert over_http.status == 200
    assert [d["name"] for d in over_http.json()["dependents"]] == ["helicon"]
    remote = _cli("yank", "plasma@1.0.1", "--reason", "typo again", "--registry", lab_server.url,
                  env={"GILGAMESH_TOKEN": lab_server.token})
    assert remote.returncode == 0, remote.stderr
    assert "depend on plasma@1.0.1: helicon@1.0.0" in remote.stderr


def test_deprecate_warns_on_import_resolve_and_model_calls(lab, lab_server, tmp_path):
    out = _cli("deprecate", "plasma@1.0.1", "--message", "use plasma 1.1: the Debye factor is fixed",
               "--registry", lab)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Deprecated plasma@1.0.1: use plasma 1.1: the Debye factor is fixed"
    resolved = json.loads(_cli("resolve", "plasma@1", "--json", "--registry", lab).stdout)
    assert resolved["version"] == "1.0.1"  # still chosen: a deprecation is not a yank
    assert resolved["deprecated"] is True
    assert resolved["deprecation_message"] == "use plasma 1.1: the Debye factor is fixed"
    # On import, with the message (a fresh process, its own cache).
    code = "import gilgamesh.api.plasma.v1 as p\nprint(p.debye(1.0))"
    env = dict(GILGAMESH_REGISTRY=lab, GILGAMESH_CACHE=str(tmp_path / "cache"))
    full = dict(os.environ, **env)
    full.pop("PYTHONWARNINGS", None)
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)
    assert imported.returncode == 0 and imported.stdout.strip() == "2.0"
    assert "DeprecatedVersionWarning: plasma@1.0.1 is deprecated: use plasma 1.1: the Debye factor is fixed" \
        in imported.stderr
    # Model calls carry it in a header.
    call = http("POST", f"{lab_server.url}/models/plasma/1/debye", {"x": 1.0})
    assert call.status == 200
    assert call.header("Gilgamesh-Warning") == "plasma@1.0.1 is deprecated: use plasma 1.1: the Debye factor is fixed"
    assert http("POST", f"{lab_server.url}/models/plasma/1.0.0/debye", {"x": 1.0}).header("Gilgamesh-Warning") is None
    # The pages say so.
    page = http("GET", f"{lab_server.url}/ui/plasma/1.0.1", headers={"Accept": "text/html"})
    assert "This version is deprecated: use plasma 1.1" in page.body.decode()
    assert 'badge deprecated' in page.body.decode()
    listed = json.loads(_cli("versions", "plasma", "--json", "--registry", lab).stdout)
    assert [(r["version"], r["deprecated"]) for r in listed] == [("1.0.0", False), ("1.0.1", True)]
    assert "deprecated: use plasma 1.1" in _cli("versions", "plasma", "--registry", lab).stdout
    # Undeprecate: over HTTP, with a token.
    assert_error(http("DELETE", f"{lab_server.url}/api/notebooks/plasma/1.0.1/deprecate"), 401)
    undone = http("DELETE", f"{lab_server.url}/api/notebooks/plasma/1.0.1/deprecate", token=lab_server.token)
    assert undone.status == 200 and undone.json()["deprecated"] is False
    assert http("POST", f"{lab_server.url}/models/plasma/1/debye", {"x": 1.0}).header("Gilgamesh-Warning") is None
    again = _cli("deprecate", "plasma@1.0.0", "--message", "old", "--registry", lab_server.url,
                 env={"GILGAMESH_TOKEN": lab_server.token})
    assert again.returncode == 0, again.stderr
    assert json.loads(_cli("resolve", "plasma@1.0.0", "--json", "--registry", lab).stdout)["deprecated"] is True
    assert _cli("undeprecate", "plasma@1.0.0", "--registry", lab).returncode == 0
    assert json.loads(_cli("resolve", "plasma@1.0.0", "--json", "--registry", lab).stdout)["deprecated"] is False


def test_deprecate_refuses_bad_input(lab, lab_server):
    assert _cli("deprecate", "plasma@1", "--message", "m", "--registry", lab).returncode == 2
    assert _cli("deprecate", "plasma@1.0.0", "--message", " ", "--registry", lab).returncode == 2
    missing = _cli("deprecate", "plasma@9.9.9", "--message", "m", "--registry", lab)
    assert missing.returncode == 1 and "plasma has no version 9.9.9" in missing.stderr
    assert_error(http("POST", f"{lab_server.url}/api/notebooks/plasma/1.0.0/deprecate", {"reason": "x"},
                      token=lab_server.token), 400, "message")


def test_model_calls_honour_gilgamesh_lock(lab, tmp_path, monkeypatch, service_env):
    work = tmp_path / "work"
    work.mkdir()
    (work / "use.py").write_text("import gilgamesh.api.plasma.v1 as p\n")
    locked = _cli("lock", str(work / "use.py"), "--registry", lab)
    assert locked.returncode == 0, locked.stderr
    lock = json.loads((work / "gilgamesh.lock").read_text())
    assert lock["requested"] == {"plasma@1": "1.0.1"}
    # Lock plasma@1 to 1.0.0 instead, as a lock made before the patch would.
    from gilgamesh.registry.store.reader import LocalReader

    lock["requested"] = {"plasma@1": "1.0.0"}
    lock["packages"] = [{"name": "plasma", "version": "1.0.0", "sha256": LocalReader(lab).entry("plasma", "1.0.0")["sha256"],
                         "dependencies": {}}]
    (work / "gilgamesh.lock").write_text(json.dumps(lock, indent=2))
    monkeypatch.setenv("GILGAMESH_LOCK", str(work / "gilgamesh.lock"))
    server = Server(lab).start()
    try:
        call = http("POST", f"{server.url}/models/plasma/1/debye", {"x": 3.0})
        assert call.status == 200, call.body
        assert (call.json()["result"], call.header("Gilgamesh-Version")) == (3.0, "1.0.0")
        uncovered = http("POST", f"{server.url}/models/helicon/1/probe", {"x": 3.0})
        assert uncovered.status == 200
        assert "helicon@1 is not covered by the session lock" in uncovered.header("Gilgamesh-Warning")
        lock["packages"][0]["sha256"] = "0" * 64
        (work / "gilgamesh.lock").write_text(json.dumps(lock, indent=2))
        refused = http("POST", f"{server.url}/models/plasma/1/debye", {"x": 3.0})
        assert_error(refused, 500, "locked with sha256 " + "0" * 64)
    finally:
        server.stop()


@pytest.mark.browser
def test_the_version_page_lists_what_uses_it(lab_server, artifacts):
    from playwright.sync_api import sync_playwright

    from support import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make browser' installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(lab_server.url + "/ui/plasma/1.0.0")
            used_by = page.locator("dd.used-by li a")
            assert used_by.all_inner_texts() == ["langmuir@1.2.0"]
            page.locator("dd.used-by li a").first.click()
            page.wait_for_url("**/ui/langmuir/1.2.0")
            assert page.locator("dd.dependencies a").all_inner_texts() == ["plasma@1.0.0"]
            assert page.locator("dd.used-by").inner_text().strip() == "no published version"
            page.goto(lab_server.url + "/ui/plasma/1.0.1")
            assert page.locator("dd.used-by li a").all_inner_texts() == ["helicon@1.0.0"]
            page.screenshot(path=os.path.join(artifacts, "service-used-by.png"), full_page=True)
            assert not errors
        finally:
            browser.close()

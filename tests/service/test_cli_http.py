"""The command line against a running service (``--registry http://...``), as a real subprocess."""

from __future__ import annotations

import json

import pytest
import service_apis as apis
from service_kit import Server, http
from support import run_cli

from gilgamesh.registry.store.tokens import create_token


@pytest.fixture(scope="module")
def remote(tmp_path_factory, service_env):
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("remote") / "registry")
    init_registry(root)
    s = Server(root, validate=False).start()
    s.token = create_token(root, "erin")
    yield s
    s.stop()


def test_publish_list_resolve_yank_over_http(remote, tmp_path):
    nb = tmp_path / "hop.ipynb"
    nb.write_bytes(apis.small("hop", "1.0.0"))
    env = {"GILGAMESH_TOKEN": remote.token, "GILGAMESH_CACHE": str(tmp_path / "cache")}

    refused = run_cli("publish", "--registry", remote.url, str(nb), env={"GILGAMESH_TOKEN": ""})
    assert refused.returncode == 1
    assert "token" in refused.stderr

    out = run_cli("publish", "--registry", remote.url, str(nb), env=env)
    assert out.returncode == 0, out.stderr
    assert "published hop@1.0.0" in out.stdout

    listed = run_cli("list", "--registry", remote.url, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["hop"]

    resolved = run_cli("resolve", "hop@1", "--registry", remote.url, "--json", env=env)
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(resolved.stdout)["version"] == "1.0.0"

    yanked = run_cli("yank", "hop@1.0.0", "--reason", "typo", "--registry", remote.url, env=env)
    assert yanked.returncode == 0, yanked.stderr
    assert json.loads(run_cli("resolve", "hop@1.0.0", "--registry", remote.url, "--json", env=env).stdout)["yanked"]
    assert run_cli("unyank", "hop@1.0.0", "--registry", remote.url, env=env).returncode == 0

    missing = run_cli("resolve", "nope@1", "--registry", remote.url, env=env)
    assert missing.returncode == 1 and "no API named 'nope'" in missing.stderr


def test_resolve_json_is_the_document_the_http_route_answers(remote, tmp_path):
    """One resolved-version record: ``resolve --json`` (local or over HTTP) prints what the route answers."""
    from nbfactory import code, markdown, notebook, to_bytes

    from gilgamesh.registry.publish.pipeline import publish

    publish(remote.root, apis.small("base", "1.0.0"), validate=False, publisher="erin")
    cells = [markdown("# leaf\n\nUses base."), markdown("Add two."),
             code("from gilgamesh.api.base@1 import inc\n\ndef twice(x: float) -> float:\n    return inc(inc(x))")]
    publish(remote.root, to_bytes(notebook("leaf", "1.0.0", cells, summary="Uses base.", endpoints=["twice"])),
            validate=False, publisher="erin")
    env = {"GILGAMESH_CACHE": str(tmp_path / "cache")}
    answered = http("GET", remote.url + "/api/notebooks/leaf/1").json()
    over_http = json.loads(run_cli("resolve", "leaf@1", "--registry", remote.url, "--json", env=env).stdout)
    local = json.loads(run_cli("resolve", "leaf@1", "--registry", remote.root, "--json", env=env).stdout)
    assert answered == over_http == local
    assert answered["dependencies"] == {"base": "1.0.0"}
    assert (answered["spec"], answered["version"], answered["publisher"]) == ("1", "1.0.0", "erin")
    for field in ("name", "sha256", "summary", "yanked", "yank_reason", "endpoints", "environment", "deprecated",
                  "deprecation_message", "changed"):
        assert field in answered, field


def test_validate_over_http_needs_no_publish_token(remote, tmp_path):
    """Validating stores nothing: it asks for no token, and the unexecuted notebook's fix names the file."""
    nb = tmp_path / "val.ipynb"
    nb.write_bytes(apis.small("val", "1.0.0"))
    out = run_cli("validate", "--registry", remote.url, str(nb), env={"GILGAMESH_TOKEN": ""})
    assert out.returncode == 0, out.stderr
    assert "val@1.0.0 is valid and can be published" in out.stdout
    assert "token" not in out.stderr
    listed = run_cli("versions", "val", "--registry", remote.url)
    assert listed.returncode == 1  # nothing was stored


def test_writes_over_http_without_a_token_say_to_set_gilgamesh_token_or_pass_token(remote, tmp_path):
    """Issue 30: a command-line user is told what to set, not which HTTP header to send."""
    nb = tmp_path / "tok.ipynb"
    nb.write_bytes(apis.small("tok", "1.0.0"))
    bib = tmp_path / "refs.bib"
    bib.write_text("@book{chen2016, author = {Francis F. Chen}, title = {Introduction to Plasma Physics}, "
                   "year = {2016}, publisher = {Springer}}\n")
    no_token = {"GILGAMESH_TOKEN": "", "GILGAMESH_CACHE": str(tmp_path / "cache")}

    for command in ("publish", "yank", "unyank", "deprecate", "undeprecate"):
        assert "--token TOKEN" in run_cli(command, "--help").stdout, command
    assert "--token TOKEN" in run_cli("bib", "add", "--help").stdout

    refused = run_cli("publish", str(nb), "--registry", remote.url, env=no_token)
    assert refused.returncode == 1
    assert "publishing needs a token" in refused.stderr
    assert "GILGAMESH_TOKEN" in refused.stderr and "--token" in refused.stderr
    assert "Authorization" not in refused.stderr and "Bearer" not in refused.stderr
    as_json = run_cli("publish", str(nb), "--registry", remote.url, "--json", env=no_token)
    result = json.loads(as_json.stdout)["results"][0]
    assert result["ok"] is False and result["error"]["status"] == 401, result

    # --token instead of the variable, on every command that writes.
    published = run_cli("publish", str(nb), "--registry", remote.url, "--token", remote.token, env=no_token)
    assert published.returncode == 0, published.stderr
    assert "published tok@1.0.0" in published.stdout
    writes = [
        (["yank", "tok@1.0.0", "--reason", "typo"], "Yanked tok@1.0.0"),
        (["unyank", "tok@1.0.0"], "Unyanked tok@1.0.0"),
        (["deprecate", "tok@1.0.0", "--message", "use 2"], "Deprecated tok@1.0.0"),
        (["undeprecate", "tok@1.0.0"], "Undeprecated tok@1.0.0"),
        (["bib", "add", str(bib)], "refs.bib: 1 added"),
    ]
    for args, done in writes:
        without = run_cli(*args, "--registry", remote.url, env=no_token)
        assert without.returncode == 1, (args, without.stdout)
        error = without.stderr.strip().splitlines()[0]
        assert error.startswith("error: ") and "needs a token" in error, (args, error)
        assert "GILGAMESH_TOKEN" in error and "--token" in error and "Bearer" not in error, (args, error)
        given = run_cli(*args, "--registry", remote.url, "--token", remote.token, env=no_token)
        assert given.returncode == 0, (args, given.stderr)
        assert done in given.stdout, (args, given.stdout)

    wrong = run_cli("yank", "tok@1.0.0", "--reason", "typo", "--registry", remote.url, "--token", "ggm_not-a-token",
                    env={"GILGAMESH_TOKEN": remote.token})
    assert wrong.returncode == 1 and "the token is not known to this registry" in wrong.stderr  # --token wins

    # Other HTTP clients keep the service's own words.
    r = http("POST", remote.url + "/api/notebooks", apis.small("tok", "1.0.1"))
    assert r.status == 401 and "Authorization: Bearer" in r.json()["error"]["message"]

"""The command line as a user runs it: real subprocesses against real registries."""

import json
import os
import subprocess
import sys

import pytest

import nbfactory as f
from support import registry_state, run_cli

COMMANDS = ["init", "publish", "validate", "list", "versions", "resolve", "show", "fork", "diff", "run",
            "sync", "yank", "unyank", "serve", "token", "kernel"]


def test_help_names_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    out = run_cli(command, "--help")
    assert out.returncode == 0, out.stderr
    assert "usage: gilgamesh " + command in out.stdout
    if command not in ("token", "kernel"):
        assert "--registry" in out.stdout


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["resolve"], ["yank", "demo@1.0.0"], ["serve", "--port", "x"],
    ["resolve", "Demo@1"], ["resolve", "demo@0"], ["resolve", "demo@1.x"], ["yank", "demo@1.0", "--reason", "r"],
    ["serve", "--port", "70000"], ["serve", "--workers", "0"], ["serve", "--call-timeout", "-1"],
])
def test_usage_errors_exit_2(args, registry):
    out = run_cli(*args, "--registry", registry) if args else run_cli()
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.strip()


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def three_versions(tmp_path):
    return [
        _write(tmp_path, "demo-1.0.0.ipynb", f.simple_api("demo", "1.0.0")),
        _write(tmp_path, "demo-1.1.0.ipynb", f.simple_api("demo", "1.1.0", extra='def more(y: int) -> int:\n    """More."""\n    return y')),
        _write(tmp_path, "demo-1.1.1.ipynb", f.simple_api("demo", "1.1.1", extra='def more(y: int) -> int:\n    """More, faster."""\n    return y + 0')),
    ]


def test_a_session_on_a_new_registry(tmp_path, three_versions):
    reg = str(tmp_path / "reg")
    assert run_cli("init", "--registry", reg).returncode == 0
    # Given in reverse order: the CLI publishes lower versions first.
    out = run_cli("publish", *reversed(three_versions), "--registry", reg)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("published demo@") == 3

    listed = json.loads(run_cli("list", "--json", "--registry", reg).stdout)
    assert listed == [{"name": "demo", "summary": "A test API.", "latest": "1.1.1", "versions": ["1.0.0", "1.1.0", "1.1.1"]}]
    versions = json.loads(run_cli("versions", "demo", "--json", "--registry", reg).stdout)
    assert [v["version"] for v in versions] == ["1.0.0", "1.1.0", "1.1.1"]
    for spec, expected in (("1", "1.1.1"), ("1.0", "1.0.0"), ("1.1.0", "1.1.0")):
        resolved = json.loads(run_cli("resolve", f"demo@{spec}", "--json", "--registry", reg).stdout)
        assert resolved["version"] == expected
        assert resolved["sha256"] == next(v["sha256"] for v in versions if v["version"] == expected)
        assert resolved["yanked"] is False and resolved["dependencies"] == {}
        assert resolved["spec"] == spec and "publisher" in resolved

    before = registry_state(reg)
    again = run_cli("publish", three_versions[0], "--registry", reg)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert registry_state(reg) == before

    changed = _write(tmp_path, "changed.ipynb", f.simple_api("demo", "1.1.0", extra="X = 2"))
    conflict = run_cli("publish", changed, "--registry", reg)
    assert conflict.returncode == 1
    assert "conflict" in conflict.stderr
    assert registry_state(reg) == before


def test_resolve_json_shape_with_dependencies_and_yanks(tmp_path, registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("plasma", "1.0.0"), validate=False)
    cells = [f.markdown("# user"), f.code("from gilgamesh.api.plasma@1 import scale")]
    publish(registry, f.to_bytes(f.notebook("user", "0.1.0", cells)), validate=False)
    assert run_cli("yank", "user@0.1.0", "--reason", "superseded", "--registry", registry).returncode == 0
    data = json.loads(run_cli("resolve", "user@0.1.0", "--json", "--registry", registry).stdout)
    assert data["dependencies"] == {"plasma": "1.0.0"}  # the shape GET /api/notebooks/{name}/{spec} answers
    assert data["yanked"] is True and data["yank_reason"] == "superseded"
    missing = run_cli("resolve", "user@0.1", "--registry", registry)
    assert missing.returncode == 1 and "no release of user@0.1" in missing.stderr
    assert run_cli("unyank", "user@0.1.0", "--registry", registry).returncode == 0
    assert json.loads(run_cli("resolve", "user@0.1", "--json", "--registry", registry).stdout)["version"] == "0.1.0"


BAD = {
    "invalid.ipynb": (b"{not json", "invalid JSON"),
    "nometa.ipynb": (f.to_bytes(dict(f.notebook("x", "1.0.0", []), metadata={})), "metadata.gilgamesh is missing"),
    "path.ipynb": (f.to_bytes(f.notebook("../x", "1.0.0", [])), "Invalid API name: '../x'"),
    "upper.ipynb": (f.to_bytes(f.notebook("Langmuir", "1.0.0", [])), "Invalid API name: 'Langmuir'"),
    "keyword.ipynb": (f.to_bytes(f.notebook("class", "1.0.0", [])), "Invalid API name: 'class'"),
    "vprefix.ipynb": (f.to_bytes(f.notebook("x", "v1.0.0", [])), "Invalid version: 'v1.0.0'"),
    "short.ipynb": (f.to_bytes(f.notebook("x", "1.2", [])), "Invalid version: '1.2'"),
    "zero.ipynb": (f.to_bytes(f.notebook("x", "01.2.3", [])), "Invalid version: '01.2.3'"),
    "endpoint.ipynb": (f.to_bytes(f.notebook("x", "1.0.0", [f.code('def g(a):\n    """D."""\n    return a')], endpoints=["g"])),
                       "parameter 'a' has no annotation"),
    "bare.ipynb": (f.to_bytes(f.notebook("x", "1.0.0", [f.code("import gilgamesh.api.plasma")])), "imported without a version"),
}


def test_bad_input_exits_1_naming_each_problem_and_writes_nothing(tmp_path, registry):
    before = registry_state(registry)
    paths = [_write(tmp_path, name, data) for name, (data, _) in BAD.items()]
    out = run_cli("publish", *paths, "--registry", registry, "--json")
    assert out.returncode == 1
    results = {os.path.basename(r["path"]): r for r in json.loads(out.stdout)["results"]}
    for name, (_, expected) in BAD.items():
        assert not results[name]["ok"]
        assert expected in json.dumps(results[name]["error"]), name
        assert expected in out.stderr
    assert registry_state(registry) == before


def test_unreadable_file_is_a_usage_error(tmp_path, registry):
    out = run_cli("publish", str(tmp_path / "missing.ipynb"), "--registry", registry)
    assert out.returncode == 2 and "cannot read" in out.stderr


def test_missing_registry_is_named(tmp_path):
    out = run_cli("list", "--registry", str(tmp_path / "nowhere"))
    assert out.returncode == 1 and "no registry at" in out.stderr


def test_diff_json_lists_changes_and_the_required_bump(registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    publish(registry, f.simple_api("demo", "2.0.0", scale_default="3.0"), validate=False)
    out = run_cli("diff", "demo@1.0.0", "demo@2.0.0", "--json", "--registry", registry)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["required"] == "major"
    assert [c["kind"] for c in data["changes"]] == ["default-changed"]
    text = run_cli("diff", "demo@1.0.0", "demo@2.0.0", "--registry", registry).stdout
    assert "MAJOR" in text and "factor" in text


def test_diff_of_a_working_copy_against_a_published_version(tmp_path, registry):
    """The working copy's import cells run (a lambda is what its code binds) and it is diffed."""
    from gilgamesh.registry.publish.pipeline import publish

    old = 'def f(x: float, y: float) -> float:\n    """F."""\n    return x + y\n'
    new = 'f = lambda x: x\n'
    publish(registry, f.to_bytes(f.notebook("demo", "1.0.0", [f.markdown("# demo"), f.code(old)])), validate=False)
    path = tmp_path / "demo-1.0.1.ipynb"
    path.write_bytes(f.to_bytes(f.notebook("demo", "1.0.1", [f.markdown("# demo"), f.code(new)])))
    out = run_cli("diff", "demo@1", str(path), "--json", "--registry", registry)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["old"] == "1.0.0" and data["new"] == "1.0.1" and data["new_path"] == str(path)
    assert data["required"] == "major" and data["bump"] == "patch"
    assert sorted(c["kind"] for c in data["changes"]) == ["annotation-changed", "parameter-removed", "return-annotation-changed"]
    text = run_cli("diff", "demo@1.0.0", str(path), "--registry", registry).stdout
    assert f"demo 1.0.0 -> 1.0.1 ({path}): requires a MAJOR bump" in text and "parameter 'y' was removed" in text
    broken = tmp_path / "broken.ipynb"
    broken.write_bytes(b"{not json")
    out = run_cli("diff", "demo@1", str(broken), "--registry", registry)
    assert out.returncode == 1 and "broken.ipynb" not in out.stdout


def test_fork_writes_the_next_version_and_never_overwrites(tmp_path, registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    target = tmp_path / "work.ipynb"
    out = run_cli("fork", "demo@1", str(target), "--registry", registry)
    assert out.returncode == 0, out.stderr
    assert json.loads(target.read_text())["metadata"]["gilgamesh"]["version"] == "1.1.0"
    target.write_text("my edits")
    again = run_cli("fork", "demo@1", str(target), "--registry", registry)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert target.read_text() == "my edits"
    patch = run_cli("fork", "demo@1", str(tmp_path / "p.ipynb"), "--bump", "patch", "--json", "--registry", registry)
    assert json.loads(patch.stdout)["version"] == "1.0.1"


def test_token_create_prints_the_token_last_and_stores_only_its_hash(registry):
    out = run_cli("token", "create", "alice", "--registry", registry)
    assert out.returncode == 0
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("ggm_") and len(token) > 40
    stored = open(os.path.join(registry, "tokens.json")).read()
    assert token not in stored and "alice" in stored
    from gilgamesh.registry.store.tokens import verify_token

    assert verify_token(registry, token) == "alice"
    assert verify_token(registry, token + "x") is None
    assert run_cli("token", "remove", "alice", "--registry", registry).returncode == 0
    assert verify_token(registry, token) is None
    assert run_cli("token", "create", "bad user!", "--registry", registry).returncode == 2


@pytest.mark.slow
def test_twenty_concurrent_publishes_all_land(tmp_path, registry):
    paths = [_write(tmp_path, f"v{i}.ipynb", f.simple_api("demo", f"1.0.{i}")) for i in range(20)]
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-m", "gilgamesh", "publish", p, "--registry", registry],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for p in paths]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    git_dir = os.path.join(registry, "store.git")
    fsck = subprocess.run(["git", "-C", git_dir, "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    tags = subprocess.run(["git", "-C", git_dir, "tag", "--list"], capture_output=True, text=True).stdout.split()
    assert sorted(tags) == sorted(f"demo/v1.0.{i}" for i in range(20))
    from gilgamesh.registry.store.reader import LocalReader
    from gilgamesh.registry.store.git_store import Store

    index_before = json.loads(open(os.path.join(registry, "index", "demo.json")).read())
    assert sorted(index_before["versions"]) == sorted(f"1.0.{i}" for i in range(20))
    Store(registry).rebuild_index()
    assert json.loads(open(os.path.join(registry, "index", "demo.json")).read()) == index_before
    assert LocalReader(registry).resolve("demo", "1.0").version == "1.0.19"


def test_diff_on_a_0x_line_asks_minor_for_breaking_changes(registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "0.1.0"), validate=False)
    publish(registry, f.simple_api("demo", "0.2.0", scale_default="3.0"), validate=False)
    data = json.loads(run_cli("diff", "demo@0.1.0", "demo@0.2.0", "--json", "--registry", registry).stdout)
    assert data["required"] == "minor"
    assert [c["bump"] for c in data["changes"]] == ["minor"]


def test_serve_help_names_its_limits():
    out = run_cli("serve", "--help").stdout
    for flag in ("--host", "--port", "--workers", "--private", "--model-workers", "--call-timeout", "--max-body-mb",
                 "--max-model-workers", "--queue-limit", "--body-timeout"):
        assert flag in out


def test_serve_refuses_a_pool_ceiling_below_its_warm_workers_before_writing(tmp_path):
    target = tmp_path / "new-registry"
    out = run_cli("serve", "--registry", str(target), "--model-workers", "3", "--max-model-workers", "2")
    assert out.returncode == 2 and "--max-model-workers (2) must be at least --model-workers (3)" in out.stderr
    assert not target.exists()


def test_fork_makes_the_directory_it_writes_into(tmp_path, registry):
    """Issue 30: `gilgamesh fork plasma@1 work/plasma-1.2.0.ipynb` on a fresh clone, where work/ is not there."""
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    target = tmp_path / "no" / "such" / "dir" / "x.ipynb"
    out = run_cli("fork", "demo@1", str(target), "--registry", registry)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert json.loads(target.read_text())["metadata"]["gilgamesh"]["version"] == "1.1.0"
    assert f"(made the directory {tmp_path / 'no' / 'such' / 'dir'})" in out.stdout
    # Relative to the working directory, as the README spells it; a PATH ending in / is a directory.
    out = run_cli("fork", "demo@1", "work/demo-next.ipynb", "--registry", registry, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "work" / "demo-next.ipynb").is_file() and "(made the directory work)" in out.stdout
    out = run_cli("fork", "demo@1", "drafts/", "--registry", registry, "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == os.path.join("drafts", "demo-1.1.0.ipynb")
    assert (tmp_path / "drafts" / "demo-1.1.0.ipynb").is_file()
    again = run_cli("fork", "demo@1", "drafts/", "--registry", registry, "--json", cwd=tmp_path)
    assert again.returncode == 1 and json.loads(again.stdout)["error"]["status"] == 409  # not a server error


def test_fork_to_an_unwritable_place_is_a_clean_error(tmp_path, registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    (tmp_path / "a-file").write_text("not a directory")
    out = run_cli("fork", "demo@1", str(tmp_path / "a-file" / "x.ipynb"), "--registry", registry)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "cannot write" in out.stderr and "cannot make the directory" in out.stderr
    assert "Traceback" not in out.stderr


def test_options_may_come_between_a_commands_positionals(tmp_path, registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    target = tmp_path / "p.ipynb"
    out = run_cli("fork", "demo@1", "--bump", "patch", str(target), "--registry", registry)
    assert out.returncode == 0, out.stderr
    assert json.loads(target.read_text())["metadata"]["gilgamesh"]["version"] == "1.0.1"


@pytest.mark.parametrize("args, usage", [
    (["list", "--bogus"], "usage: gilgamesh list"),
    (["fork", "demo@1", "a.ipynb", "b.ipynb"], "usage: gilgamesh fork"),
    (["token", "create", "alice", "--bogus"], "usage: gilgamesh token create"),
])
def test_a_stray_argument_shows_the_commands_own_usage(args, usage, registry):
    out = run_cli(*args, "--registry", registry)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert usage in out.stderr and "unrecognized arguments" in out.stderr


def test_a_registry_url_of_another_scheme_is_a_usage_error(tmp_path):
    out = run_cli("list", "--registry", "ftp://example.org/reg", cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "unsupported registry URL 'ftp://example.org/reg'" in out.stderr
    assert not any(tmp_path.iterdir())


def test_registry_and_json_may_come_before_the_command(registry):
    out = run_cli("--registry", registry, "--json", "list")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_global_registry_survives_intermixed_options(tmp_path, registry):
    from gilgamesh.registry.publish.pipeline import publish

    publish(registry, f.simple_api("demo", "1.0.0"), validate=False)
    target = tmp_path / "w.ipynb"
    out = run_cli("--registry", registry, "fork", "demo@1", "--bump", "patch", str(target))
    assert out.returncode == 0, out.stderr
    assert json.loads(target.read_text())["metadata"]["gilgamesh"]["version"] == "1.0.1"


def test_sync_needs_the_registry_directory_not_a_service_url(tmp_path, registry):
    out = run_cli("sync", registry, "--registry", "http://127.0.0.1:9")
    assert out.returncode == 2 and "'sync' needs a registry directory" in out.stderr

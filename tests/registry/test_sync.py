"""Several sites: sync over a path, git daemon and smart HTTP; conflicts, records, the push hook."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import nbfactory as f
from git_remotes import git_daemon, smart_http
from support import registry_state, run_cli
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.store.git_store import Store, init_registry
from gilgamesh.registry.sync import sync


def _site(tmp_path, name: str) -> str:
    root = str(tmp_path / name)
    init_registry(root)
    return root


def _publish(root, name, version, **kw):
    return publish(root, f.simple_api(name, version, **kw), validate=False, publisher=os.path.basename(root))


def _git(root, *args, check=True):
    return subprocess.run(["git", "-C", os.path.join(root, "store.git"), *args], capture_output=True, text=True, check=check)


def _tags(root) -> dict:
    out = _git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags").stdout
    return dict(line.split() for line in out.splitlines())


def _index(root) -> dict:
    reader = LocalReader(root)
    return {name: reader.api_index(name) for name in reader.names()}


def _assert_derived_state_is_exact(root):
    """The index equals one rebuilt from the refs alone; every tag is in its branch's history."""
    before = _index(root)
    for name in os.listdir(os.path.join(root, "index")):
        os.unlink(os.path.join(root, "index", name))
    Store(root).rebuild_index()
    assert _index(root) == before
    for ref, commit in _tags(root).items():
        name = ref[len("refs/tags/"):].partition("/v")[0]
        assert _git(root, "merge-base", "--is-ancestor", commit, f"refs/heads/api/{name}", check=False).returncode == 0, ref
    assert _git(root, "fsck", "--strict").returncode == 0


def test_two_sites_both_ways_with_a_conflict_and_yanks_at_each(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "demo", "1.0.0")
    _publish(a, "demo", "1.1.0")
    _publish(a, "clash", "1.1.0")
    _publish(b, "demo", "1.2.0")
    _publish(b, "other", "0.1.0")
    _publish(b, "clash", "1.1.0", extra="X = 2")  # same version, different bytes
    Store(a).set_yanked("demo", "1.0.0", "wrong constant at A", "alice")
    Store(b).set_yanked("other", "0.1.0", "withdrawn at B", "bob")
    a_clash, b_clash = _tags(a)["refs/tags/clash/v1.1.0"], _tags(b)["refs/tags/clash/v1.1.0"]

    at_b = sync(b, a)
    assert at_b.adopted == {"demo": ["1.0.0", "1.1.0"]}
    assert [(c["name"], c["version"]) for c in at_b.conflicts] == [("clash", "1.1.0")]
    assert not at_b.ok
    assert _tags(b)["refs/tags/clash/v1.1.0"] == b_clash  # this side's content kept
    kept = at_b.conflicts[0]["kept_at"]
    assert _git(b, "rev-parse", kept).stdout.strip() == a_clash  # theirs kept apart
    assert LocalReader(b).entry("demo", "1.0.0")["yank_reason"] == "wrong constant at A"

    # B unyanks what A yanked, A yanks something of B's: every record reaches both sides.
    Store(b).set_yanked("demo", "1.0.0", None, "bob")
    Store(a).set_yanked("demo", "1.1.0", "superseded at A", "alice")
    at_a = sync(a, b, push=True)
    assert at_a.adopted == {"demo": ["1.2.0"], "other": ["0.1.0"]}
    assert _tags(a)["refs/tags/clash/v1.1.0"] == a_clash
    again = sync(b, a)
    assert again.adopted == {} and [c["name"] for c in again.conflicts] == ["clash"]

    for root in (a, b):
        idx = _index(root)
        assert sorted(idx) == ["clash", "demo", "other"]
        assert sorted(idx["demo"]["versions"]) == ["1.0.0", "1.1.0", "1.2.0"]
        assert not idx["demo"]["versions"]["1.0.0"]["yanked"]  # the later unyank at B wins
        assert idx["demo"]["versions"]["1.1.0"]["yank_reason"] == "superseded at A"
        assert idx["other"]["versions"]["0.1.0"]["yank_reason"] == "withdrawn at B"
        assert LocalReader(root).resolve("demo", "1").version == "1.2.0"
        log = _git(root, "log", "--format=%s", "refs/records/log").stdout.splitlines()
        assert sorted(s for s in log if not s.startswith("merge")) == [
            "unyank demo@1.0.0", "yank demo@1.0.0", "yank demo@1.1.0", "yank other@0.1.0"]
        _assert_derived_state_is_exact(root)
    assert {k: v for k, v in _tags(a).items() if "clash" not in k} == {k: v for k, v in _tags(b).items() if "clash" not in k}
    assert _index(a)["demo"] == _index(b)["demo"]


def test_three_sites_converge_with_yanks_made_at_each(tmp_path):
    sites = [_site(tmp_path, n) for n in ("a", "b", "c")]
    for i, root in enumerate(sites):
        _publish(root, "demo", f"1.{i}.0")
        _publish(root, f"api{i}", "1.0.0")
        _publish(root, "clash", "2.0.0", extra=f"X = {i}")
    a, b, c = sites
    Store(a).set_yanked("api0", "1.0.0", "by A", "a")
    sync(b, a)  # B learns A's
    Store(b).set_yanked("demo", "1.0.0", "by B", "b")  # a version B only has from A
    sync(c, b)  # C learns A's through B
    Store(c).set_yanked("api0", "1.0.0", None, "c")  # C unyanks A's yank
    Store(c).set_yanked("api2", "1.0.0", "by C", "c")
    Store(a).set_yanked("demo", "1.0.0", "by A, not knowing B's yank", "a")  # the latest record wins
    reports = [sync(a, c, push=True), sync(b, c, push=True), sync(a, b, push=True)]
    for r in reports:
        assert [(x["name"], x["version"]) for x in r.conflicts] == [("clash", "2.0.0")]
    final = [_index(root) for root in sites]
    without_clash = [{k: v for k, v in idx.items() if k != "clash"} for idx in final]
    assert without_clash[0] == without_clash[1] == without_clash[2]
    demo = final[0]["demo"]["versions"]
    assert sorted(demo) == ["1.0.0", "1.1.0", "1.2.0"] and demo["1.0.0"]["yank_reason"] == "by A, not knowing B's yank"
    assert not final[0]["api0"]["versions"]["1.0.0"]["yanked"]
    assert not final[0]["api1"]["versions"]["1.0.0"]["yanked"]
    log = _git(a, "log", "--format=%s", "refs/records/log").stdout.splitlines()
    assert sorted(s for s in log if not s.startswith("merge")) == [
        "unyank api0@1.0.0", "yank api0@1.0.0", "yank api2@1.0.0", "yank demo@1.0.0", "yank demo@1.0.0"]
    assert final[0]["api2"]["versions"]["1.0.0"]["yank_reason"] == "by C"
    for i, root in enumerate(sites):  # each kept its own clash
        assert _index(root)["clash"]["versions"]["2.0.0"]["sha256"] == LocalReader(root).entry("clash", "2.0.0")["sha256"]
        _assert_derived_state_is_exact(root)
    assert len({_index(root)["clash"]["versions"]["2.0.0"]["sha256"] for root in sites}) == 3


def test_a_no_op_sync_changes_nothing(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "demo", "1.0.0")
    Store(a).set_yanked("demo", "1.0.0", "r", "a")
    sync(b, a, push=True)
    before = registry_state(b), registry_state(a)
    report = sync(b, a, push=True)
    assert report.ok and not report.adopted and not report.records and not report.pushed
    assert (registry_state(b), registry_state(a)) == before


def test_a_forged_version_is_refused_not_adopted(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "demo", "1.0.0")
    commit = _tags(a)["refs/tags/demo/v1.0.0"]
    _git(a, "update-ref", "refs/tags/demo/v9.0.0", commit)  # metadata says 1.0.0
    report = sync(b, a)
    assert report.adopted == {"demo": ["1.0.0"]}
    assert [r["ref"] for r in report.refused] == ["refs/tags/demo/v9.0.0"]
    assert "refs/tags/demo/v9.0.0" not in _tags(b)
    assert not [r for r in _git(b, "for-each-ref").stdout.splitlines() if "gilgamesh-sync" in r]


def test_plain_git_push_cannot_move_or_delete_a_version(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "clash", "1.0.0")
    _publish(b, "clash", "1.0.0", extra="X = 1")
    Store(a).set_yanked("clash", "1.0.0", "r", "a")
    before = registry_state(a)
    target = os.path.join(a, "store.git")
    forced = _git(b, "push", "--force", target, "+refs/tags/clash/v1.0.0:refs/tags/clash/v1.0.0", check=False)
    assert forced.returncode != 0 and "refusing to move the version tag clash/v1.0.0" in forced.stderr
    deleted = _git(b, "push", target, ":refs/tags/clash/v1.0.0", check=False)
    assert deleted.returncode != 0 and "refusing to delete the version tag" in deleted.stderr
    mirror = _git(b, "push", "--mirror", "--force", target, check=False)
    assert mirror.returncode != 0
    records = _git(b, "push", "--force", target, f"+{_tags(b)['refs/tags/clash/v1.0.0']}:refs/records/log", check=False)
    assert records.returncode != 0 and "would drop records" in records.stderr
    assert {k: v for k, v in registry_state(a).items() if k != "refs"} == {k: v for k, v in before.items() if k != "refs"}
    assert _tags(a)["refs/tags/clash/v1.0.0"] in before["refs"]
    assert LocalReader(a).entry("clash", "1.0.0")["yank_reason"] == "r"
    # A plain push of a new version is fine, and the hook indexes it at once.
    _publish(b, "clash", "1.1.0", extra="X = 1")
    ok = _git(b, "push", target, "refs/tags/clash/v1.1.0:refs/tags/clash/v1.1.0", check=False)
    assert ok.returncode == 0, ok.stderr
    assert LocalReader(a).resolve("clash", "1.1").version == "1.1.0"


def test_the_hook_is_installed_when_a_mirror_is_adopted(tmp_path):
    a = _site(tmp_path, "a")
    _publish(a, "demo", "1.0.0")
    mirror = tmp_path / "m"
    mirror.mkdir()
    subprocess.run(["git", "clone", "-q", "--mirror", os.path.join(a, "store.git"), str(mirror / "store.git")], check=True)
    out = run_cli("init", "--json", "--registry", str(mirror))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["adopted"]["versions"] == {"demo": ["1.0.0"]}
    b = _site(tmp_path, "b")
    _publish(b, "demo", "1.0.0", extra="X = 1")
    pushed = _git(b, "push", "--force", str(mirror / "store.git"), "+refs/tags/demo/v1.0.0:refs/tags/demo/v1.0.0", check=False)
    assert pushed.returncode != 0 and "refusing to move" in pushed.stderr


def test_init_on_an_existing_registry_says_what_it_adopted(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "demo", "1.0.0")
    _publish(a, "demo", "1.1.0")
    # Versions brought with plain git (no hook on this fetch): the index does not know them yet.
    _git(b, "fetch", "-q", os.path.join(a, "store.git"), "refs/tags/*:refs/tags/*")
    assert LocalReader(b).names() == []
    out = run_cli("init", "--registry", b)
    assert out.returncode == 0, out.stderr
    assert "Adopted the registry" in out.stdout and "demo: 1.0.0, 1.1.0" in out.stdout
    assert LocalReader(b).resolve("demo", "1").version == "1.1.0"
    again = run_cli("init", "--registry", b)
    assert "its index already current" in again.stdout and "already exists" not in again.stdout


def test_cli_sync_reports_conflicts_and_exits_1_after_the_rest(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "clash", "1.0.0")
    _publish(a, "demo", "1.0.0")
    _publish(b, "clash", "1.0.0", extra="X = 1")
    out = run_cli("sync", a, "--registry", b)
    assert out.returncode == 1
    assert "conflict: clash@1.0.0" in out.stderr and "adopted demo: 1.0.0" in out.stdout
    assert LocalReader(b).resolve("demo", "1").version == "1.0.0"
    data = json.loads(run_cli("sync", a, "--json", "--registry", b).stdout)
    assert data["ok"] is False and data["conflicts"][0]["name"] == "clash"
    bad = run_cli("sync", str(tmp_path / "nowhere"), "--registry", b)
    assert bad.returncode == 1 and "neither a registry nor a git repository" in bad.stderr
    usage = run_cli("sync", "ftp://x/y", "--registry", b)
    assert usage.returncode == 2


@pytest.mark.parametrize("transport", ["git-daemon", "smart-http"])
def test_sync_over_a_network_remote_both_ways(tmp_path, transport):
    served = tmp_path / "served"
    served.mkdir()
    remote = _site(served, "lab")
    local = _site(tmp_path, "local")
    _publish(remote, "demo", "1.0.0")
    _publish(remote, "clash", "1.0.0")
    _publish(local, "demo", "1.1.0")
    _publish(local, "clash", "1.0.0", extra="X = 1")
    Store(remote).set_yanked("demo", "1.0.0", "remote says no", "r")
    Store(local).set_yanked("demo", "1.1.0", "local says no", "l")
    server = git_daemon if transport == "git-daemon" else smart_http
    with server(str(served)) as base:
        url = f"{base}/lab/store.git"
        report = sync(local, url, push=True)
        assert report.adopted == {"demo": ["1.0.0"]}
        assert [c["name"] for c in report.conflicts] == ["clash"]
        assert "refs/tags/demo/v1.1.0" in report.pushed and not report.push_rejected
        again = sync(local, url, push=True)
        assert not again.adopted and not again.pushed
    for root in (remote, local):  # the remote's hook indexed what was pushed to it
        versions = _index(root)["demo"]["versions"]
        assert versions["1.0.0"]["yank_reason"] == "remote says no"
        assert versions["1.1.0"]["yank_reason"] == "local says no"
    assert _tags(remote)["refs/tags/clash/v1.0.0"] != _tags(local)["refs/tags/clash/v1.0.0"]


def test_deprecations_are_records_both_sides_merge(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _publish(a, "demo", "1.0.0")
    _publish(a, "demo", "1.1.0")
    sync(b, a)
    Store(a).set_deprecated("demo", "1.0.0", "use 1.1", "alice")
    Store(b).set_deprecated("demo", "1.1.0", "use 2.0 when out", "bob")
    sync(a, b, push=True)
    for root in (a, b):
        versions = _index(root)["demo"]["versions"]
        assert versions["1.0.0"]["deprecation_message"] == "use 1.1"
        assert versions["1.1.0"]["deprecated"] and versions["1.1.0"]["deprecation_message"] == "use 2.0 when out"
    Store(b).set_deprecated("demo", "1.0.0", None, "bob")
    sync(b, a, push=True)
    assert not _index(a)["demo"]["versions"]["1.0.0"]["deprecated"]
    assert Store(a).deprecations() == {"demo@1.1.0": {"message": "use 2.0 when out", "by": "bob",
                                                      "at": Store(a).deprecations()["demo@1.1.0"]["at"]}}

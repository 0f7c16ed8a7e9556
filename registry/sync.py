"""Several sites, one truth: ``gilgamesh sync SOURCE [--push]`` over any git remote.

SOURCE is another registry (a directory), a bare store, or any URL git fetches from (``git://``,
smart ``http(s)://``, ``ssh://``, ``file://``): git's own transports carry everything, so no
protocol of ours is involved. One sync, under this registry's writer lock:

1. ``git ls-remote`` lists SOURCE's version tags and record log. What this side holds already
   (same ref, same object) costs nothing more: a no-op sync is that one listing.
2. What it lacks is fetched into a quarantine namespace (``refs/gilgamesh-sync/``), never straight
   into ``refs/tags``, so git cannot move a tag here however the fetch goes.
3. Each version this side lacks is checked (its tree, name, version, sha256) and its tag created,
   create-only. A version both hold with different content is a conflict: this side's tag stays,
   SOURCE's commit is kept apart under ``refs/conflicts/<name>/v<version>/<commit>``, and the
   conflict is reported. The same notebook published at both sites (two commits, one sha256) is
   no conflict.
4. The record logs are merged (registry/store/records.py): no yank, unyank or deprecation is lost.
   So are the bibliographies (registry/store/bibliography.py): the union by key; a key both define
   differently keeps this side's entry, SOURCE's is kept apart under
   ``refs/conflicts/bibliography/<commit>``, and the conflict is reported.
5. The derived state follows (:meth:`Store.reconcile`): index files replaced one by one inside
   ``index/``, blobs, ``api/*`` branches holding the adopted versions.

``--push`` then sends SOURCE the version tags it lacks (never a tag it has: git refuses to move a
tag without ``--force``, and a gilgamesh store's hook refuses even that), the merged record
log and the bibliography merged from SOURCE's side (its own entries win there), each a
fast-forward of SOURCE's own. A gilgamesh store's ``post-receive`` hook updates its index.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from dataclasses import dataclass, field

from gilgamesh.errors import RegistryUnavailable, UsageError

from gilgamesh.registry.store import bibliography

from gilgamesh.registry.store import records

from gilgamesh.registry.store import version_tree
from gilgamesh.registry.store.derive import TAGS, is_version_tag
from gilgamesh.files import atomic_write
from gilgamesh.registry.store.git_store import Store, writer_lock

__all__ = ["sync", "SyncReport", "git_source"]

QUARANTINE = "refs/gilgamesh-sync/"
CONFLICTS = "refs/conflicts/"
URL_SCHEMES = ("git://", "http://", "https://", "ssh://", "file://", "git+ssh://", "ssh+git://")
PUSH_BATCH = 200  # refspecs per git push (keeps the command line short)


@dataclass
class SyncReport:
    source: str
    adopted: dict = field(default_factory=dict)  # name -> [versions] new here
    records: list = field(default_factory=list)  # name@version whose yank/deprecation changed here
    conflicts: list = field(default_factory=list)  # {"name", "version", "ours", "theirs", "kept_at"}
    refused: list = field(default_factory=list)  # {"ref", "reason"}: not a valid version, not adopted
    pushed: list = field(default_factory=list)  # refs sent to SOURCE (--push)
    push_rejected: list = field(default_factory=list)  # {"ref", "reason"}
    # the bibliography: keys new here ("added"), sent to SOURCE ("pushed"), defined differently
    # at both sides ("conflicts": {"key", "ours", "theirs", "kept_at"})
    bibliography: dict = field(default_factory=lambda: {"added": [], "pushed": [], "conflicts": []})

    @property
    def ok(self) -> bool:
        return not (self.conflicts or self.refused or self.push_rejected or self.bibliography["conflicts"])

    def to_dict(self) -> dict:
        return {"source": self.source, "ok": self.ok, "adopted": self.adopted, "records": self.records,
                "conflicts": self.conflicts, "refused": self.refused, "pushed": self.pushed,
                "push_rejected": self.push_rejected, "bibliography": self.bibliography}


def git_source(source: str) -> str:
    """What git fetches from: a URL as given; a registry directory's ``store.git``; a git dir."""
    if source.startswith(URL_SCHEMES):
        return source
    if "://" in source:
        raise UsageError(f"cannot sync from {source!r}: give a directory or a git://, http(s)://, "
                         "ssh:// or file:// URL")
    path = os.path.abspath(os.path.expanduser(source))
    if os.path.isdir(os.path.join(path, "store.git")):
        return os.path.join(path, "store.git")
    if os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path, "objects")):
        return path
    if os.path.isdir(os.path.join(path, ".git")):
        return path
    raise RegistryUnavailable(f"cannot sync from {source}: it is neither a registry nor a git repository")


def _local_registry(source: str) -> str | None:
    if source.startswith(URL_SCHEMES):
        return None
    path = os.path.abspath(os.path.expanduser(source))
    return path if os.path.isdir(os.path.join(path, "index")) and os.path.isdir(os.path.join(path, "store.git")) else None


class _Git:
    """The git CLI on this store, with a clear error naming the remote when it fails."""

    def __init__(self, git_dir: str, source: str):
        self.git_dir = git_dir
        self.source = source
        self.env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true")
        self.env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")

    def run(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["git", "--git-dir", self.git_dir, *args], input=input, capture_output=True,
                              text=True, env=self.env)
        if check and proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()
            raise RegistryUnavailable(f"git {args[0]} with {self.source} failed: "
                                      f"{detail[-1] if detail else 'exit ' + str(proc.returncode)}")
        return proc

    def refs(self, *patterns: str) -> dict[str, str]:
        out = self.run("for-each-ref", "--format=%(objectname) %(refname)", *patterns).stdout
        return {ref: sha for sha, ref in (line.split(" ", 1) for line in out.splitlines())}

    def missing(self, shas) -> set[str]:
        shas = sorted(set(shas))
        if not shas:
            return set()
        out = self.run("cat-file", "--batch-check", input="\n".join(shas) + "\n").stdout
        return {line.split()[0] for line in out.splitlines() if line.endswith(" missing")}

    def update_refs(self, commands: list[str]) -> bool:
        if not commands:
            return True
        return self.run("update-ref", "--stdin", input="\n".join(commands) + "\n", check=False).returncode == 0


def _ls_remote(g: _Git, url: str) -> dict[str, str]:
    out = g.run("ls-remote", url, "refs/tags/*", "refs/records/*", bibliography.BRANCH).stdout
    remote = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.endswith("^{}"):
            remote[ref] = sha
    return remote


def _version_of(store: Store, commit: str, ref: str) -> dict | str:
    """The metadata of a version commit fetched from elsewhere, or why it is not one: its tree must
    hold what registry/store/version_tree.py defines, each file matching the sha256 its metadata records."""
    name, _, version = ref[len(TAGS):].partition("/v")
    try:
        files = version_tree.read_tree(store.repo.commit(commit))
        return version_tree.check_tree(files, name, version)
    except version_tree.BadVersionTree as e:
        return str(e)
    except (ValueError, KeyError, TypeError) as e:
        return f"it is not a version commit ({e})"


def sync(root: str, source: str, push: bool = False) -> SyncReport:
    """Bring every version and record of ``source`` that ``root`` lacks; with ``push``, the other way too."""
    url = git_source(source)
    report = SyncReport(source)
    with writer_lock(root):
        store = Store(root)
        store.settle()
        g = _Git(store.layout.git_dir, source)
        remote = _ls_remote(g, url)
        local = g.refs("refs/tags", "refs/records", CONFLICTS, bibliography.BRANCH)
        if _pull(store, g, url, remote, local, report):  # else every writer kept the index current
            reconciled = store.reconcile()
            report.adopted = reconciled["versions"]
            report.records = reconciled["records"]
            with contextlib.suppress(FileNotFoundError):
                os.unlink(store.layout.journal_file)
        if push:
            _push(store, g, url, remote, report)
    if push:
        target = _local_registry(source)
        if target:  # its hook does this too; a store whose hooks predate them has it done here
            with writer_lock(target):
                theirs = Store(target)
                theirs.settle()
                theirs.reconcile()
    return report


def _pull(store: Store, g: _Git, url: str, remote: dict, local: dict, report: SyncReport) -> bool:
    """Adopt what ``remote`` has that this side lacks; True if any ref here changed."""
    new, clashing = [], []
    for ref, sha in remote.items():
        if not is_version_tag(ref) or local.get(ref) == sha:
            continue
        (clashing if ref in local else new).append(ref)
    log_ref = records.RECORDS_REF
    theirs_log, ours_log = remote.get(log_ref), local.get(log_ref)
    fetch_log = theirs_log is not None and theirs_log != ours_log
    bib_ref = bibliography.BRANCH
    theirs_bib = remote.get(bib_ref)
    fetch_bib = theirs_bib is not None and theirs_bib != local.get(bib_ref)
    wanted = new + clashing + ([log_ref] if fetch_log else []) + ([bib_ref] if fetch_bib else [])
    if not wanted:
        return False
    absent = g.missing(remote[r] for r in wanted)
    to_fetch = [r for r in wanted if remote[r] in absent]
    if to_fetch:
        spec = "".join(f"+{r}:{QUARANTINE}{r[len('refs/'):]}\n" for r in to_fetch)
        g.run("-c", "fetch.writeFetchHead=false", "fetch", "--quiet", "--no-tags", "--no-auto-gc",
              "--stdin", url, input=spec)
    try:
        creates = []
        for ref in new:
            meta = _version_of(store, remote[ref], ref)
            if isinstance(meta, str):
                report.refused.append({"ref": ref, "reason": meta})
                continue
            creates.append(f"create {ref} {remote[ref]}")
        if creates or fetch_log:  # a crash from here on is settled by the next writer's reconcile
            names = sorted({c.split()[1][len(TAGS):].partition("/v")[0] for c in creates})
            atomic_write(store.layout.journal_file, json.dumps({"op": "sync", "names": names}).encode())
        if not g.update_refs(creates):  # a tag created meanwhile (a push here): one by one
            for command in creates:
                g.update_refs([command])
        for ref in clashing:
            _conflict(store, g, ref, local[ref], remote[ref], report)
        if fetch_log:
            merged = records.merge_logs(store.repo, ours_log, theirs_log, url)
            if merged != ours_log:
                g.update_refs([f"update {log_ref} {merged} {ours_log or '0' * 40}"])
        if fetch_bib:
            _pull_bibliography(store, g, local.get(bib_ref), theirs_bib, report)
        return bool(creates) or fetch_log
    finally:
        if to_fetch:
            quarantined = g.refs(QUARANTINE)
            g.update_refs([f"delete {r} {sha}" for r, sha in quarantined.items()])


def _conflict(store: Store, g: _Git, ref: str, ours: str, theirs: str, report: SyncReport) -> None:
    name, _, version = ref[len(TAGS):].partition("/v")
    meta = _version_of(store, theirs, ref)
    if isinstance(meta, str):
        report.refused.append({"ref": ref, "reason": meta})
        return
    mine = store.read_metadata(name, version)["sha256"]
    if meta["sha256"] == mine:
        return  # the same notebook, published at both sites: nothing to keep apart
    kept = f"{CONFLICTS}{name}/v{version}/{theirs}"
    g.update_refs([f"update {kept} {theirs}"])
    report.conflicts.append({"name": name, "version": version, "ours": mine, "theirs": meta["sha256"],
                             "kept_at": kept})


def _pull_bibliography(store: Store, g: _Git, ours: str | None, theirs: str, report: SyncReport) -> None:
    """Merge SOURCE's bibliography into this side's (this side's entry wins a key both define)."""
    merged = bibliography.merge_bibliographies(store, ours, theirs, report.source)
    if merged["commit"] is not None:
        if not g.update_refs([f"update {bibliography.BRANCH} {merged['commit']} {ours or '0' * 40}"]):
            raise RegistryUnavailable("the bibliography changed while it was synced; sync again")
        report.bibliography["added"] = merged["added"]
    if merged["conflicts"]:
        kept = f"{CONFLICTS}bibliography/{theirs}"
        g.update_refs([f"update {kept} {theirs}"])
        report.bibliography["conflicts"] = [{**c, "kept_at": kept} for c in merged["conflicts"]]


def _bibliography_to_push(store: Store, remote: dict, report: SyncReport) -> str | None:
    """The commit that gives SOURCE every entry of this side it lacks, a fast-forward of its own
    bibliography (its entry wins a key both define; that conflict was reported by the pull)."""
    ours = store._ref_sha(bibliography.BRANCH)
    theirs = remote.get(bibliography.BRANCH)
    if ours is None or ours == theirs:
        return None
    if theirs is None:
        report.bibliography["pushed"] = sorted(bibliography.read_bibliography(store.repo, ours))
        return ours
    merged = bibliography.merge_bibliographies(store, theirs, ours, "the other site")
    report.bibliography["pushed"] = merged["added"]
    return merged["commit"]


def _push(store: Store, g: _Git, url: str, remote: dict, report: SyncReport) -> None:
    ours = g.refs("refs/tags", "refs/records")
    specs = sorted(f"{r}:{r}" for r in ours if is_version_tag(r) and r not in remote)
    log_ref = records.RECORDS_REF
    if log_ref in ours and remote.get(log_ref) != ours[log_ref]:
        specs.append(f"{log_ref}:{log_ref}")
    bib_commit = _bibliography_to_push(store, remote, report)
    if bib_commit is not None:
        specs.append(f"{bib_commit}:{bibliography.BRANCH}")
    for i in range(0, len(specs), PUSH_BATCH):
        proc = g.run("push", "--porcelain", "--no-verify", url, *specs[i:i + PUSH_BATCH], check=False)
        seen = False
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or len(parts[0]) != 1:
                continue
            seen = True
            flag, refs, summary = parts[0], parts[1], parts[2]
            target = refs.split(":", 1)[-1]
            if flag == "!":
                report.push_rejected.append({"ref": target, "reason": summary + _hook_reason(proc.stderr)})
            elif flag != "=":
                report.pushed.append(target)
        if proc.returncode != 0 and not seen:
            detail = proc.stderr.strip().splitlines()
            raise RegistryUnavailable(f"git push to {report.source} failed: {detail[-1] if detail else proc.returncode}")


def _hook_reason(stderr: str) -> str:
    said = [line.removeprefix("remote: ").strip() for line in stderr.splitlines() if "gilgamesh:" in line]
    return f" ({said[0]})" if said else ""

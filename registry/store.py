"""The git-backed store: immutable versions as create-only tags, yanks, the derived index.

Every published version is a commit whose tree holds ``notebook.ipynb`` and ``gilgamesh.json``
(the derived metadata), pointed at by the tag ``<name>/v<version>`` and chained on the branch
``api/<name>`` so that ``git log api/langmuir`` and ``git diff langmuir/v1.1.0 langmuir/v1.2.0``
read as history. Yanks live on the branch ``meta/yanks`` and deprecations on ``meta/deprecations``
(one commit per change, nothing deleted).

Writers hold ``write.lock`` (``flock``, so it dies with its holder). A write first records its
intent in ``journal.json``; git objects are written before any ref moves, the tag is created with
``update-ref <tag> <new> <zero>`` (atomic and create-only), and the index is replaced atomically.
A journal found with no live writer is settled by rebuilding that API's index from the refs, so
a crash at any point leaves either the whole version or nothing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import io
import json
import os
import tempfile

import git
from git.objects.fun import tree_to_stream
from gitdb import IStream

from gilgamesh.errors import Conflict, RegistryUnavailable, VersionNotFound

from .layout import Layout
from .reader import LocalReader
from .settings import DEFAULT_SETTINGS, read_settings

__all__ = ["Store", "init_registry", "writer_lock", "recover_if_abandoned", "atomic_write"]

ZERO = "0" * 40
YANKS_REF = "refs/heads/meta/yanks"
DEPRECATIONS_REF = "refs/heads/meta/deprecations"


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


@contextlib.contextmanager
def writer_lock(root: str, blocking: bool = True):
    """Hold the registry's writer lock; yield False instead of waiting if not ``blocking``."""
    fd = os.open(Layout(root).lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def init_registry(root: str) -> "Store":
    """Create a registry at ``root`` (a no-op on an existing one) and return its store.

    A directory holding only ``store.git`` (a mirror made with ``git clone --mirror``, say) is
    adopted: the rest of the registry is derived from its refs.
    """
    layout = Layout(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise RegistryUnavailable(f"cannot create a registry at {root}: it is a file")
    adopting = os.path.isdir(layout.git_dir) and not os.path.isdir(layout.index_dir)
    if os.path.isdir(root) and os.listdir(root) and not layout.exists() and not adopting:
        raise RegistryUnavailable(
            f"cannot create a registry at {root}: the directory is not empty and holds no registry"
        )
    os.makedirs(layout.index_dir, exist_ok=True)
    os.makedirs(layout.blobs_dir, exist_ok=True)
    if not os.path.isdir(layout.git_dir):
        git.Repo.init(layout.git_dir, bare=True, mkdir=True, initial_branch="main")
    if not os.path.exists(layout.settings_file):
        atomic_write(layout.settings_file, _json_bytes(DEFAULT_SETTINGS))
    store = Store(root)
    if adopting:
        with writer_lock(root):
            store.rebuild_index()
    return store


def recover_if_abandoned(root: str) -> None:
    """Settle a journal left by a writer that died; do nothing while a live writer holds the lock."""
    with writer_lock(root, blocking=False) as acquired:
        if acquired and os.path.exists(Layout(root).journal_file):
            Store(root)._recover()


class Store(LocalReader):
    """Write access to a local registry (reads come from :class:`LocalReader`)."""

    def __init__(self, root: str):
        layout = Layout(root)
        if not layout.exists():
            raise RegistryUnavailable(f"no registry at {root} (create one with 'gilgamesh init --registry {root}')")
        self.location = root
        self.layout = layout
        self.repo = git.Repo(layout.git_dir)

    # -- settings ---------------------------------------------------------------------------
    def settings(self) -> dict:
        return read_settings(self.location)

    # -- git reads --------------------------------------------------------------------------
    def _ref_sha(self, ref: str) -> str | None:
        try:
            return self.repo.git.rev_parse("--verify", "--quiet", ref + "^{commit}")
        except git.GitCommandError:
            return None

    def tag_commits(self) -> dict[tuple[str, str], str]:
        """``{(name, version): commit sha}`` for every version tag."""
        out = self.repo.git.for_each_ref("--format=%(refname) %(objectname)", "refs/tags")
        tags = {}
        for line in out.splitlines():
            ref, sha = line.split()
            name, _, v = ref[len("refs/tags/"):].partition("/v")
            tags[(name, v)] = sha
        return tags

    def read_metadata(self, name: str, version: str) -> dict:
        """The derived metadata stored with a version (``gilgamesh.json`` in its tree)."""
        sha = self._ref_sha(f"refs/tags/{name}/v{version}")
        if sha is None:
            raise VersionNotFound(f"{name} has no version {version}")
        return json.loads(self.repo.commit(sha).tree["gilgamesh.json"].data_stream.read())

    def _yanks(self) -> dict:
        sha = self._ref_sha(YANKS_REF)
        if sha is None:
            return {}
        return json.loads(self.repo.commit(sha).tree["yanks.json"].data_stream.read())

    def deprecations(self) -> dict:
        """``{"name@version": {"message", "by", "at"}}`` of every deprecated version."""
        sha = self._ref_sha(DEPRECATIONS_REF)
        if sha is None:
            return {}
        return json.loads(self.repo.commit(sha).tree["deprecations.json"].data_stream.read())

    # -- git writes -------------------------------------------------------------------------
    def _store_blob(self, data: bytes) -> bytes:
        return self.repo.odb.store(IStream(b"blob", len(data), io.BytesIO(data))).binsha

    def _store_tree(self, files: dict[str, bytes]) -> str:
        entries = sorted((self._store_blob(data), 0o100644, path) for path, data in files.items())
        entries.sort(key=lambda e: e[2])
        buf = io.BytesIO()
        tree_to_stream(entries, buf.write)
        raw = buf.getvalue()
        return self.repo.odb.store(IStream(b"tree", len(raw), io.BytesIO(raw))).hexsha.decode()

    def _commit(self, files: dict[str, bytes], message: str, parent: str | None, who: str, when: str) -> str:
        tree = self._store_tree(files)
        actor = git.Actor(who, f"{who}@gilgamesh")
        when = _dt.datetime.fromisoformat(when)
        commit = git.Commit.create_from_tree(
            self.repo, tree, message,
            parent_commits=[self.repo.commit(parent)] if parent else [],
            author=actor, committer=actor, author_date=when, commit_date=when,
        )
        return commit.hexsha

    def _update_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Move ``ref`` to ``new`` only if it still is ``old`` (None: only if it does not exist)."""
        try:
            self.repo.git.update_ref(ref, new, old or ZERO)
            return True
        except git.GitCommandError:
            return False

    # -- publishing -------------------------------------------------------------------------
    def existing_sha256(self, name: str, version: str) -> str | None:
        """The sha256 of a published (name, version), from git (the truth), or None."""
        try:
            return self.read_metadata(name, version)["sha256"]
        except VersionNotFound:
            return None

    def write_version(self, notebook: bytes, metadata: dict) -> bool:
        """Store one new version; return False if the very same bytes are already published.

        ``metadata`` is the derived metadata (``name``, ``version``, ``sha256``, ...). The caller
        holds the writer lock and has run the publish checks.
        """
        name, version, sha = metadata["name"], metadata["version"], metadata["sha256"]
        tag = f"refs/tags/{name}/v{version}"
        existing = self.existing_sha256(name, version)
        if existing is not None:
            if existing == sha:
                return False
            raise Conflict(
                f"conflict: {name}@{version} is already published with different content "
                f"(sha256 {existing}); published versions never change, publish a new version"
            )
        branch = f"refs/heads/api/{name}"
        parent = self._ref_sha(branch)
        commit = self._commit(
            {"notebook.ipynb": notebook, "gilgamesh.json": _json_bytes(metadata)},
            f"publish {name} {version}\n\n{metadata.get('summary', '')}\n",
            parent, metadata.get("publisher", "gilgamesh"), metadata["published_at"],
        )
        blob = self.layout.blob_file(sha)
        if not os.path.exists(blob):
            atomic_write(blob, notebook)
        atomic_write(self.layout.journal_file, _json_bytes({"op": "publish", "name": name, "version": version}))
        if not self._update_ref(tag, commit, None):
            os.unlink(self.layout.journal_file)
            raise Conflict(f"conflict: {name}@{version} was published by someone else meanwhile")
        self._update_ref(branch, commit, parent)
        self._write_index(name)
        os.unlink(self.layout.journal_file)
        return True

    # -- yanks ------------------------------------------------------------------------------
    def set_yanked(self, name: str, version: str, reason: str | None, who: str) -> dict:
        """Yank (``reason`` given) or unyank (``reason`` None) one version; the caller holds the lock."""
        if self.existing_sha256(name, version) is None:
            raise VersionNotFound(f"{name} has no version {version}")
        parent = self._ref_sha(YANKS_REF)
        yanks = self._yanks()
        key = f"{name}@{version}"
        if reason is None:
            if key not in yanks:
                return self.entry(name, version)
            del yanks[key]
            message = f"unyank {key}"
        else:
            if yanks.get(key, {}).get("reason") == reason:
                return self.entry(name, version)
            yanks[key] = {"reason": reason, "by": who, "at": _now()}
            message = f"yank {key}\n\n{reason}\n"
        commit = self._commit({"yanks.json": _json_bytes(yanks)}, message, parent, who, _now())
        atomic_write(self.layout.journal_file, _json_bytes({"op": "yank", "name": name, "version": version}))
        if not self._update_ref(YANKS_REF, commit, parent):  # pragma: no cover - lock held
            raise Conflict("the yank list changed meanwhile; try again")
        self._write_index(name)
        os.unlink(self.layout.journal_file)
        return self.entry(name, version)

    # -- deprecations ----------------------------------------------------------------------
    def set_deprecated(self, name: str, version: str, message: str | None, who: str) -> dict:
        """Deprecate (``message`` given) or undeprecate (None) one version; the caller holds the lock."""
        if self.existing_sha256(name, version) is None:
            raise VersionNotFound(f"{name} has no version {version}")
        parent = self._ref_sha(DEPRECATIONS_REF)
        marks = self.deprecations()
        key = f"{name}@{version}"
        if message is None:
            if key not in marks:
                return self.entry(name, version)
            del marks[key]
            text = f"undeprecate {key}"
        else:
            if marks.get(key, {}).get("message") == message:
                return self.entry(name, version)
            marks[key] = {"message": message, "by": who, "at": _now()}
            text = f"deprecate {key}\n\n{message}\n"
        commit = self._commit({"deprecations.json": _json_bytes(marks)}, text, parent, who, _now())
        atomic_write(self.layout.journal_file, _json_bytes({"op": "deprecate", "name": name, "version": version}))
        if not self._update_ref(DEPRECATIONS_REF, commit, parent):  # pragma: no cover - lock held
            raise Conflict("the deprecation list changed meanwhile; try again")
        self._write_index(name)
        os.unlink(self.layout.journal_file)
        return self.entry(name, version)

    # -- the derived index ------------------------------------------------------------------
    def _index_entries(self, name: str, tags: dict, yanks: dict, deprecations: dict) -> dict:
        versions = {}
        for (n, v), commit in tags.items():
            if n != name:
                continue
            meta = json.loads(self.repo.commit(commit).tree["gilgamesh.json"].data_stream.read())
            versions[v] = _index_entry(meta, yanks.get(f"{n}@{v}"), deprecations.get(f"{n}@{v}"))
        return versions

    def _write_index(self, name: str, tags: dict | None = None, yanks: dict | None = None,
                     deprecations: dict | None = None) -> None:
        tags = self.tag_commits() if tags is None else tags
        yanks = self._yanks() if yanks is None else yanks
        deprecations = self.deprecations() if deprecations is None else deprecations
        versions = self._index_entries(name, tags, yanks, deprecations)
        path = self.layout.index_file(name)
        if versions:
            atomic_write(path, _json_bytes({"name": name, "versions": versions}))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def rebuild_index(self) -> list[str]:
        """Rebuild every index file (and missing blobs) from the git refs; return the API names."""
        tags = self.tag_commits()
        yanks = self._yanks()
        deprecations = self.deprecations()
        names = sorted({n for n, _ in tags})
        for name in names:
            self._write_index(name, tags, yanks, deprecations)
        for commit in tags.values():
            self._ensure_blob(commit)
        for stale in set(self.names()) - set(names):
            os.unlink(self.layout.index_file(stale))
        return names

    def _ensure_blob(self, commit: str) -> None:
        """Restore the fast-path copy of a version's notebook from git if it is missing."""
        tree = self.repo.commit(commit).tree
        sha = json.loads(tree["gilgamesh.json"].data_stream.read())["sha256"]
        if not os.path.exists(self.layout.blob_file(sha)):
            atomic_write(self.layout.blob_file(sha), tree["notebook.ipynb"].data_stream.read())

    def _recover_if_needed(self) -> None:
        """Settle a journal left by a dead writer (the caller holds the lock)."""
        if os.path.exists(self.layout.journal_file):
            self._recover()

    def _remove_stale_ref_locks(self) -> None:
        """Delete the ``*.lock`` files of a git process killed mid ``update-ref``.

        Only writers holding ``write.lock`` run git here, so a ref lock found while we hold it
        belongs to a dead writer; left in place it would block that ref for ever.
        """
        for directory, _, files in os.walk(os.path.join(self.layout.git_dir, "refs")):
            for name in files:
                if name.endswith(".lock"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(directory, name))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.layout.git_dir, "packed-refs.lock"))

    def _recover(self) -> None:
        """Settle an abandoned journal (the caller holds the lock)."""
        self._remove_stale_ref_locks()
        try:
            with open(self.layout.journal_file, "rb") as f:
                journal = json.loads(f.read())
            name = journal["name"]
        except (FileNotFoundError, ValueError, KeyError):
            journal, name = None, None
        if name:
            tags = self.tag_commits()
            # The branch follows the tag if the tag was created but the branch was not moved.
            if journal.get("op") == "publish" and (name, journal["version"]) in tags:
                commit = tags[(name, journal["version"])]
                branch = f"refs/heads/api/{name}"
                head = self._ref_sha(branch)
                parents = [p.hexsha for p in self.repo.commit(commit).parents]
                if head != commit and head in (parents[0] if parents else None, None):
                    self._update_ref(branch, commit, head)
            self._write_index(name, tags)
            for (n, _), commit in tags.items():
                if n == name:
                    self._ensure_blob(commit)
        else:
            self.rebuild_index()
        os.unlink(self.layout.journal_file)


def _index_entry(meta: dict, yank: dict | None, deprecation: dict | None = None) -> dict:
    return {
        "version": meta["version"],
        "sha256": meta["sha256"],
        "summary": meta.get("summary", ""),
        "published_at": meta.get("published_at"),
        "publisher": meta.get("publisher"),
        "endpoints": meta.get("endpoints", {}),
        "dependencies": meta.get("dependencies", {}),
        "environment": meta.get("environment"),
        "yanked": yank is not None,
        "yank_reason": yank["reason"] if yank else None,
        "deprecated": deprecation is not None,
        "deprecation_message": deprecation["message"] if deprecation else None,
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

"""The git-backed store: immutable versions as create-only tags, the record log, the derived index.

Every published version is a commit whose tree registry/store/version_tree.py defines (the notebook,
its derived metadata and the files the metadata hashes), pointed at by the tag
``<name>/v<version>`` and chained on the branch
``api/<name>`` so that ``git log api/langmuir`` and ``git diff langmuir/v1.1.0 langmuir/v1.2.0``
read as history. Yanks and deprecations are records on ``refs/records/log`` (registry/store/records.py),
a log that sites merge and never overwrite.

Writers hold ``write.lock`` (``flock``, so it dies with its holder). A write first records its
intent in ``journal.json``; git objects are written before any ref moves, the tag is created with
``update-ref <tag> <new> <zero>`` (atomic and create-only), and each index file is replaced
atomically inside ``index/`` (never the directory itself: sandboxed workers bind-mount it). A
journal found by the next writer is settled by reconciling the index with the refs, so a crash at
any point leaves either the whole version or nothing. Readers never settle it: they read around it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import io
import json
import os

import git
from git.db import GitCmdObjectDB
from git.objects.fun import tree_to_stream
from gitdb import IStream, LooseObjectDB
from gitdb.util import hex_to_bin

from gilgamesh.errors import Conflict, RegistryUnavailable, VersionNotFound
from gilgamesh.files import atomic_write
from gilgamesh.versions import Version

from gilgamesh.registry.store import records, version_tree
from gilgamesh.registry.store.derive import TAGS, index_entry, is_version_tag, metadata_of, record_fields, version_tags
from gilgamesh.registry.store.hooks import install_hooks
from gilgamesh.registry.store.layout import Layout
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.sandbox.launch import sandbox_available
from gilgamesh.registry.store.settings import initial_settings, read_settings

__all__ = ["Store", "init_registry", "writer_lock", "is_version_tag"]

ZERO = "0" * 40


def _make_published_parts_readable(layout: Layout) -> None:
    """Index and blob files written owner-only (before the sandbox ran as another uid) become 0644."""
    for directory in (layout.index_dir, layout.blobs_dir):
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_file() and not entry.stat().st_mode & 0o004:
                    os.chmod(entry.path, 0o644)


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
    """Create a registry at ``root``, or adopt the one there, and return its store.

    A directory holding only ``store.git`` (a mirror made with ``git clone --mirror``, say) is
    adopted: the rest of the registry is derived from its refs. An existing registry is brought up
    to date with its refs (versions pushed or fetched into it with plain git). Either way the hook
    refusing a push that moves or deletes a version tag is (re)installed. ``store.adopted`` says
    what was found: :meth:`Store.reconcile`'s report, or None for a new registry.
    """
    layout = Layout(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise RegistryUnavailable(f"cannot create a registry at {root}: it is a file")
    had_store = os.path.isdir(layout.git_dir)
    if os.path.isdir(root) and os.listdir(root) and not layout.exists() and not had_store:
        raise RegistryUnavailable(
            f"cannot create a registry at {root}: the directory is not empty and holds no registry"
        )
    os.makedirs(layout.index_dir, exist_ok=True)
    os.makedirs(layout.blobs_dir, exist_ok=True)
    _make_published_parts_readable(layout)
    if not had_store:
        git.Repo.init(layout.git_dir, bare=True, mkdir=True, initial_branch="main")
    install_hooks(layout.git_dir)
    if not os.path.exists(layout.settings_file):
        atomic_write(layout.settings_file, _json_bytes(initial_settings(sandbox_available())))
    else:
        read_settings(root)  # an adopted registry's settings are checked like every reader's
    store = Store(root)
    store.adopted = None
    if had_store:
        with writer_lock(root):
            store.settle()
            store.adopted = store.reconcile()
    return store


class _InProcessWrites(GitCmdObjectDB):
    """git's object database, read through git as usual, written in this process: a new object
    is the same zlib-compressed loose file ``git hash-object -w`` writes, without a git process
    for each blob, tree and commit of a publish."""

    def store(self, istream: IStream) -> IStream:
        return LooseObjectDB.store(self, istream)


class Store(LocalReader):
    """Write access to a local registry (reads come from :class:`LocalReader`)."""

    def __init__(self, root: str):
        layout = Layout(root)
        if not layout.exists():
            raise RegistryUnavailable(f"no registry at {root} (create one with 'gilgamesh init --registry {root}')")
        self.location = root
        self.layout = layout
        self.repo = git.Repo(layout.git_dir, odbt=_InProcessWrites)

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
        return version_tags(self.repo)

    def read_metadata(self, name: str, version: str) -> dict:
        """The derived metadata stored with a version (``gilgamesh.json`` in its tree)."""
        sha = self._ref_sha(f"refs/tags/{name}/v{version}")
        if sha is None:
            raise VersionNotFound(f"{name} has no version {version}")
        return version_tree.metadata_of(self.repo.commit(sha))

    def read_version_file(self, name: str, version: str, path: str) -> bytes:
        """Another file of a version's tree (``golden.json``); raise :class:`VersionNotFound`."""
        sha = self._ref_sha(f"refs/tags/{name}/v{version}")
        if sha is None:
            raise VersionNotFound(f"{name} has no version {version}")
        try:
            return self.repo.commit(sha).tree[path].data_stream.read()
        except KeyError:
            raise VersionNotFound(f"{name}@{version} has no {path}") from None

    def record_state(self) -> records.RecordState:
        """Every version's yank and deprecation, folded from the record log."""
        return records.read_state(self.repo)

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

    def _commit(self, files: dict[str, bytes], message: str, parent: str | list[str] | None, who: str,
                when: str) -> str:
        """A commit of ``files`` on ``parent`` (a sha, several for a merge, or None)."""
        parents = [parent] if isinstance(parent, str) else list(parent or ())
        tree = self._store_tree(files)
        actor = git.Actor(who, f"{who}@gilgamesh")
        when = _dt.datetime.fromisoformat(when)
        # The tree and the parent by sha (both were just written or peeled to a commit): looking
        # them up would start a `git cat-file` only to learn what is known.
        commit = git.Commit.create_from_tree(
            self.repo, git.Tree(self.repo, hex_to_bin(tree)), message,
            parent_commits=[git.Commit(self.repo, hex_to_bin(p)) for p in parents],
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

    def write_version(self, notebook: bytes, metadata: dict, files: dict[str, bytes] | None = None) -> bool:
        """Store one new version; return False if the very same bytes are already published.

        ``metadata`` is the derived metadata (``name``, ``version``, ``sha256``, ...); ``files``
        are more files of the version's tree (``golden.json``). The caller holds the writer lock
        and has run the publish checks.
        """
        name, version, sha = metadata["name"], metadata["version"], metadata["sha256"]
        stored_metadata = _json_bytes(metadata)
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
            version_tree.tree_files(notebook, stored_metadata, files),
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
        # The new entry from the metadata just stored, as it would be read back from the commit.
        known = {**self._current_index(name), version: index_entry(json.loads(stored_metadata))}
        self._write_index(name, known=known)
        os.unlink(self.layout.journal_file)
        return True

    # -- records: yanks and deprecations ---------------------------------------------------------
    def append_record(self, op: str, name: str, version: str, who: str, **detail) -> dict:
        """Append a yank/unyank/deprecate/undeprecate record; the caller holds the writer lock.

        A record that would change nothing (a second identical yank, an unyank of a version not
        yanked) is not written. Returns the version's index entry.
        """
        for key, text in detail.items():
            records.check_text(key, text)  # before anything is written
        if self.existing_sha256(name, version) is None:
            raise VersionNotFound(f"{name} has no version {version}")
        field, sets = records.OPS[op]
        current = self.record_state().of(name, version)[field]
        text_key = "reason" if field == "yank" else "message"
        unchanged = (current is None) if not sets else (current is not None and current.get(text_key) == detail.get(text_key))
        if unchanged:
            return self.entry(name, version)
        atomic_write(self.layout.journal_file, _json_bytes({"op": op, "name": name, "version": version}))
        records.append_record(self.repo, op, name, version, who, **detail)
        self._write_index(name)
        os.unlink(self.layout.journal_file)
        return self.entry(name, version)

    def set_yanked(self, name: str, version: str, reason: str | None, who: str) -> dict:
        """Yank (``reason`` given) or unyank (``reason`` None) one version; the caller holds the lock."""
        if reason is None:
            return self.append_record("unyank", name, version, who)
        return self.append_record("yank", name, version, who, reason=reason)

    def set_deprecated(self, name: str, version: str, message: str | None, who: str) -> dict:
        """Deprecate (``message`` given) or undeprecate (None) one version; the caller holds the lock."""
        if message is None:
            return self.append_record("undeprecate", name, version, who)
        return self.append_record("deprecate", name, version, who, message=message)

    def deprecations(self) -> dict:
        """``{"name@version": {"message", "by", "at"}}`` of every deprecated version."""
        return {f"{n}@{v}": s["deprecation"] for (n, v), s in self.record_state().items() if s["deprecation"]}

    # -- the derived index ------------------------------------------------------------------
    def _current_index(self, name: str) -> dict:
        try:
            with open(self.layout.index_file(name), "rb") as f:
                return json.loads(f.read()).get("versions", {})
        except (FileNotFoundError, ValueError):
            return {}

    def _write_index(self, name: str, tags: dict | None = None, state: records.RecordState | None = None,
                     known: dict | None = None) -> None:
        """Write ``index/<name>.json`` from the refs; entries of ``known`` (version -> entry; None:
        the current index file) are reused for their metadata, since a version never changes."""
        tags = self.tag_commits() if tags is None else tags
        state = self.record_state() if state is None else state
        known = self._current_index(name) if known is None else known
        versions = {}
        for (n, v), commit in tags.items():
            if n == name:
                base = known.get(v) or index_entry(metadata_of(self.repo, commit))
                versions[v] = {**base, **record_fields(state.of(n, v))}
        path = self.layout.index_file(name)
        if versions:
            atomic_write(path, _json_bytes({"name": name, "versions": versions}))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def reconcile(self, names: set[str] | None = None) -> dict:
        """Bring the derived state up to the refs: every index file, missing blobs, the ``api/*``
        branches (each holds every version of its API); the caller holds the writer lock.

        Only what differs is rewritten, each index file atomically in place. ``names`` limits the
        work to these APIs. Returns ``{"versions": {name: [versions added]}, "records": [name@version
        whose yank or deprecation changed], "apis": [every API]}``.
        """
        tags = self.tag_commits()
        state = self.record_state()
        by_name: dict[str, dict[str, str]] = {}
        for (n, v), commit in tags.items():
            by_name.setdefault(n, {})[v] = commit
        wanted = set(by_name) if names is None else set(names)
        added, changed = {}, []
        for name in sorted(wanted):
            versions = by_name.get(name, {})
            current = self._current_index(name)
            new = sorted(set(versions) - set(current), key=Version)
            stale = set(current) - set(versions)
            flips = [v for v in versions if v in current and _differs(current[v], record_fields(state.of(name, v)))]
            if new or stale or flips:
                self._write_index(name, tags, state, {v: e for v, e in current.items() if v in versions})
            if new:
                added[name] = new
                for v in new:
                    self._ensure_blob(versions[v])
                self._rebuild_branch(name, [versions[v] for v in new], tags)
            changed += [f"{name}@{v}" for v in sorted(flips, key=Version)]
        if names is None:
            for stale in set(self.names()) - set(by_name):
                os.unlink(self.layout.index_file(stale))
        return {"versions": added, "records": changed, "apis": sorted(by_name)}

    def rebuild_index(self) -> list[str]:
        """Rebuild every index file (and missing blobs) from the git refs; return the API names."""
        tags = self.tag_commits()
        state = self.record_state()
        names = sorted({n for n, _ in tags})
        for name in names:
            self._write_index(name, tags, state, known={})
        for commit in tags.values():
            self._ensure_blob(commit)
        for stale in set(self.names()) - set(names):
            os.unlink(self.layout.index_file(stale))
        return names

    def _rebuild_branch(self, name: str, commits: list[str], tags: dict) -> None:
        """Make ``api/<name>`` hold ``commits`` (versions adopted from elsewhere) in its history.

        A version's commit never changes, so versions published at two sites are two lines of
        history: the branch moves to the one tip holding both, or to a merge of the tips whose
        tree is the highest version's.
        """
        branch = f"refs/heads/api/{name}"
        head = self._ref_sha(branch)
        candidates = ([head] if head else []) + commits
        tips = self.repo.git.merge_base("--independent", *candidates).split()
        if tips == [head]:
            return
        if len(tips) == 1:
            self._update_ref(branch, tips[0], head)
            return
        ordered = ([head] if head in tips else []) + [t for t in tips if t != head]
        own = {c: v for (n, v), c in tags.items() if n == name}
        top = max(own, key=lambda c: Version(own[c]))
        subject = f"merge {name} versions {', '.join(sorted((own[t] for t in ordered if t in own), key=Version))}"
        merge = git.Commit.create_from_tree(
            self.repo, self.repo.commit(top).tree, subject + "\n",
            parent_commits=[self.repo.commit(t) for t in ordered],
            author=git.Actor("gilgamesh", "gilgamesh@gilgamesh"), committer=git.Actor("gilgamesh", "gilgamesh@gilgamesh"),
        )
        self._update_ref(branch, merge.hexsha, head)

    def _ensure_blob(self, commit: str) -> None:
        """Restore the fast-path copy of a version's notebook from git if it is missing."""
        version = self.repo.commit(commit)
        sha = version_tree.metadata_of(version)["sha256"]
        if not os.path.exists(self.layout.blob_file(sha)):
            atomic_write(self.layout.blob_file(sha), version_tree.notebook_of(version))

    def settle(self) -> None:
        """Settle a journal left by a dead writer (the caller holds the lock)."""
        if os.path.exists(self.layout.journal_file):
            self._recover()

    _recover_if_needed = settle

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
            self.reconcile()
        os.unlink(self.layout.journal_file)


def _differs(entry: dict, fields: dict) -> bool:
    return any(entry.get(k) != v for k, v in fields.items())


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

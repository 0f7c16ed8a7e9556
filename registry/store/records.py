"""Yanks, unyanks, deprecations: an append-only record log that several sites merge, never overwrite.

Each change is one commit on ``refs/records/log`` whose message carries the record as one JSON
line (``Gilgamesh-Record: {...}``) over the empty tree, so ``git log refs/records/log`` reads as
the registry's history of withdrawals. Two sites that both appended are merged with a merge commit
whose parents are both logs (:func:`merge_logs`): a record, once written, stays reachable.

The current state is a fold of every reachable record, oldest first (by the time it was made,
then by commit id, so every site folds the same set to the same state): the last yank or unyank of
a version decides whether it is yanked, the last deprecation or undeprecation whether it is
deprecated. Registries written before the log kept yanks and deprecations on the branches
``meta/yanks`` and ``meta/deprecations``; their entries still count, as records of their time.
"""

from __future__ import annotations

import datetime as _dt
import io
import json

import git
from gitdb import IStream

from gilgamesh.errors import UsageError

__all__ = ["RECORDS_REF", "OPS", "RecordState", "read_state", "append_record", "merge_logs", "record_message",
           "check_text", "is_ancestor"]

RECORDS_REF = "refs/records/log"
LEGACY_YANKS_REF = "refs/heads/meta/yanks"
LEGACY_DEPRECATIONS_REF = "refs/heads/meta/deprecations"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MARK = "Gilgamesh-Record: "
# op -> (the state it sets, whether it sets or clears it)
OPS = {"yank": ("yank", True), "unyank": ("yank", False),
       "deprecate": ("deprecation", True), "undeprecate": ("deprecation", False)}


class RecordState(dict):
    """``{(name, version): {"yank": {...} | None, "deprecation": {...} | None}}``."""

    def of(self, name: str, version: str) -> dict:
        return self.get((name, version), {"yank": None, "deprecation": None})


def _parse(message: str) -> dict | None:
    for line in reversed(message.splitlines()):
        if line.startswith(MARK):
            try:
                record = json.loads(line[len(MARK):])
            except ValueError:
                return None
            if isinstance(record, dict) and record.get("op") in OPS:
                return record
    return None


def _records(repo: git.Repo, head: str) -> list[tuple[str, str, dict]]:
    """Every record reachable from ``head``: ``(at, commit, record)``."""
    out = repo.git.log("--format=%H%x00%B%x01", head)
    found = []
    for chunk in out.split("\x01"):
        commit, _, message = chunk.strip("\n").partition("\x00")
        record = _parse(message)
        if record is not None:
            found.append((str(record.get("at", "")), commit, record))
    return found


def _legacy(repo: git.Repo) -> list[tuple[str, str, dict]]:
    """The yank and deprecation lists of registries written before the log, as records."""
    found = []
    for ref, path, op in ((LEGACY_YANKS_REF, "yanks.json", "yank"),
                          (LEGACY_DEPRECATIONS_REF, "deprecations.json", "deprecate")):
        try:
            raw = repo.git.show(f"{ref}:{path}")
        except git.GitCommandError:
            continue
        for key, detail in json.loads(raw).items():
            name, _, version = key.partition("@")
            found.append((str(detail.get("at", "")), "", {"op": op, "name": name, "version": version, **detail}))
    return found


def ref_sha(repo: git.Repo, ref: str) -> str | None:
    try:
        return repo.git.rev_parse("--verify", "--quiet", ref + "^{commit}")
    except git.GitCommandError:
        return None


def read_state(repo: git.Repo, head: str | None = None) -> RecordState:
    """The fold of the log at ``head`` (default: this store's log), plus the legacy yank list."""
    head = head or ref_sha(repo, RECORDS_REF)
    records = _legacy(repo) + (_records(repo, head) if head else [])
    state = RecordState()
    for _, _, record in sorted(records, key=lambda r: (r[0], r[1])):
        field, sets = OPS[record["op"]]
        key = (record["name"], record["version"])
        current = state.setdefault(key, {"yank": None, "deprecation": None})
        if sets:
            detail = {k: v for k, v in record.items() if k not in ("op", "name", "version")}
            current[field] = detail
        else:
            current[field] = None
    return state


def now() -> str:
    """Microseconds, so that two records of one version made in the same second keep their order."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def check_text(field: str, text) -> None:
    """A record's text (a yank reason, a deprecation message) is stored in a git commit message:
    any text, but no NUL (git cuts the message there) and no unpaired surrogate (not encodable);
    raise :class:`UsageError` naming the field."""
    if not isinstance(text, str):
        return
    if "\x00" in text:
        raise UsageError(f"the {field} may not contain a NUL character (\\u0000, at position {text.index(chr(0))})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UsageError(f"the {field} holds an unpaired surrogate ({text[e.start]!r} at position {e.start}): "
                         "it is not text; send UTF-8 text") from None


def record_message(record: dict) -> str:
    text = record.get("reason") or record.get("message") or ""
    body = f"\n\n{text}" if text else ""
    return f"{record['op']} {record['name']}@{record['version']}{body}\n\n{MARK}{json.dumps(record, sort_keys=True)}\n"


def _store_empty_tree(repo: git.Repo) -> None:
    """Write the empty tree as a real object: git only pretends to hold it, and a fetch or a
    ``fsck`` elsewhere needs it."""
    repo.odb.store(IStream(b"tree", 0, io.BytesIO(b"")))


def _commit(repo: git.Repo, message: str, parents: list[str], who: str) -> str:
    env = {"GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@gilgamesh",
           "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": f"{who}@gilgamesh"}
    args = ["commit-tree", EMPTY_TREE]
    for p in parents:
        args += ["-p", p]
    return repo.git.execute(["git", *args, "-m", message], env=env).strip()


def append_record(repo: git.Repo, op: str, name: str, version: str, who: str, **detail) -> str:
    """Append one record to the log (the caller holds the writer lock); return its commit."""
    if op not in OPS:
        raise ValueError(f"unknown record {op!r}")
    record = {"op": op, "name": name, "version": version, "by": who, "at": now(), **detail}
    parent = ref_sha(repo, RECORDS_REF)
    _store_empty_tree(repo)
    commit = _commit(repo, record_message(record), [parent] if parent else [], who)
    repo.git.update_ref(RECORDS_REF, commit, parent or "0" * 40)
    return commit


def merge_logs(repo: git.Repo, ours: str | None, theirs: str, source: str) -> str:
    """The log holding the records of both ``ours`` and ``theirs`` (commits already in this repo).

    One contains the other: the larger one. Else a merge commit with both as parents.
    """
    if ours is None or ours == theirs or is_ancestor(repo, ours, theirs):
        return theirs
    if is_ancestor(repo, theirs, ours):
        return ours
    _store_empty_tree(repo)
    return _commit(repo, f"merge the records of {source}\n", [ours, theirs], "gilgamesh")


def is_ancestor(repo: git.Repo, a: str, b: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", a, b)
        return True
    except git.GitCommandError:
        return False

"""The derived index, computed from the git refs alone (no file written).

The store writes ``index/<name>.json`` from this; a reader that finds a write in progress (a
``journal.json``, perhaps of a writer that died) reads the API it names from here instead, so a
read never has to settle, or wait for, a writer: reads never write.
"""

from __future__ import annotations

import git

from gilgamesh.registry.store import records
from gilgamesh.registry.store import version_tree

__all__ = ["TAGS", "is_version_tag", "version_tags", "index_entry", "record_fields", "derive_index"]

TAGS = "refs/tags/"


def is_version_tag(ref: str) -> bool:
    """``refs/tags/<name>/v<version>`` (other tags are not versions: the store ignores them)."""
    name, sep, version = ref[len(TAGS):].partition("/v") if ref.startswith(TAGS) else ("", "", "")
    return bool(sep and name and version and "/" not in version)


def version_tags(repo: git.Repo) -> dict[tuple[str, str], str]:
    """``{(name, version): commit sha}`` for every version tag."""
    out = repo.git.for_each_ref("--format=%(refname) %(objectname)", "refs/tags")
    tags = {}
    for line in out.splitlines():
        ref, sha = line.split()
        if is_version_tag(ref):
            name, _, v = ref[len(TAGS):].partition("/v")
            tags[(name, v)] = sha
    return tags


def index_entry(meta: dict) -> dict:
    """The part of an index entry a version's metadata decides (it never changes)."""
    return {
        "version": meta["version"],
        "sha256": meta["sha256"],
        "summary": meta.get("summary", ""),
        "published_at": meta.get("published_at"),
        "publisher": meta.get("publisher"),
        "endpoints": meta.get("endpoints", {}),
        "dependencies": meta.get("dependencies", {}),
        "environment": meta.get("environment"),
        "changed": meta.get("changed") or {},  # behaviour changes accepted with a reason (step 3b)
        "references": meta.get("references") or {},  # the bibliography entries its markdown cites
    }


def record_fields(state: dict) -> dict:
    """The part of an index entry a version's records decide."""
    yank, deprecation = state.get("yank"), state.get("deprecation")
    return {"yanked": yank is not None, "yank_reason": yank.get("reason") if yank else None,
            "deprecated": deprecation is not None,
            "deprecation_message": deprecation.get("message") if deprecation else None}


def metadata_of(repo: git.Repo, commit: str) -> dict:
    return version_tree.metadata_of(repo.commit(commit))


def derive_index(git_dir: str, name: str) -> dict | None:
    """``{"name", "versions"}`` of ``name`` from the refs, or None if it has no version."""
    repo = git.Repo(git_dir)
    try:
        state = records.read_state(repo)
        versions = {v: {**index_entry(metadata_of(repo, c)), **record_fields(state.of(n, v))}
                    for (n, v), c in version_tags(repo).items() if n == name}
    finally:
        repo.close()
    return {"name": name, "versions": versions} if versions else None

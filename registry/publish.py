"""The publish pipeline (DESIGN.md section 5): checks 1-7, then one atomic write.

Expensive work (the nbval run) happens outside the writer lock; under the lock the pipeline only
re-checks what another writer may have changed meanwhile (the version's existence and its
predecessor) and writes. Publishing bytes that are already published is answered from the index
without touching git.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import os
from typing import NamedTuple

from gilgamesh.errors import Conflict, GilgameshError, Problem, PublishRefused
from gilgamesh.notebook import ParsedNotebook, parse_notebook

from . import checks
from .reader import LocalReader
from .surface import api_snapshot, parse_import_cells

__all__ = ["publish", "PublishOutcome", "default_publisher"]


class PublishOutcome(NamedTuple):
    name: str
    version: str
    sha256: str
    created: bool  # False: the same bytes were already published (a no-op success)
    dry_run: bool
    metadata: dict
    warnings: list

    def to_dict(self) -> dict:
        return {
            "name": self.name, "version": self.version, "sha256": self.sha256,
            "created": self.created, "dry_run": self.dry_run, "warnings": list(self.warnings),
            "dependencies": self.metadata.get("dependencies", {}),
            "validation": self.metadata.get("validation"),
        }


def default_publisher() -> str:
    return os.environ.get("GILGAMESH_USER") or getpass.getuser()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _same_bytes_published(reader: LocalReader, name, version, sha: str) -> bool:
    """True if exactly these bytes are published as (name, version); never raises."""
    if not (isinstance(name, str) and isinstance(version, str)):
        return False
    try:
        return reader.entry(name, version)["sha256"] == sha
    except GilgameshError:
        return False


def _already_published(reader: LocalReader, name: str, version: str, sha: str) -> bool:
    """True for the same bytes again; raise :class:`Conflict` for different bytes."""
    try:
        existing = reader.entry(name, version)["sha256"]
    except GilgameshError:
        return False
    if existing == sha:
        return True
    raise Conflict(
        f"conflict: {name}@{version} is already published with different content "
        f"(sha256 {existing}); published versions never change, publish a new version"
    )


def _semver_problems(store, name: str, version: str, snapshot: dict) -> tuple[str | None, list[Problem]]:
    """Step 3: compare with the predecessor; return (predecessor, problems)."""
    from .semver import bump_problems

    try:
        predecessor = store.version_set(name).predecessor(version)
    except GilgameshError:
        return None, []
    if predecessor is None:
        return None, []
    old = store.read_metadata(name, predecessor).get("api", {})
    return predecessor, bump_problems(name, predecessor, old, version, snapshot)


def publish(
    root: str,
    data: bytes,
    *,
    publisher: str | None = None,
    dry_run: bool = False,
    validate: bool = True,
) -> PublishOutcome:
    """Publish notebook bytes to the registry at ``root``, or refuse with every problem found.

    ``dry_run`` runs every check (``gilgamesh validate``) and stores nothing. ``validate=False``
    skips the nbval run (step 7) only; it exists for tests of the other steps.
    """
    sha = hashlib.sha256(data).hexdigest()
    nb = parse_notebook(data)  # raises PublishRefused for bytes that are not a notebook at all
    reader = LocalReader(root)
    meta = nb.metadata
    if _same_bytes_published(reader, meta.get("name"), meta.get("version"), sha):
        # They passed every check when they were published: answer from the index, no nbformat.
        return PublishOutcome(meta["name"], meta["version"], sha, False, dry_run, reader.entry(meta["name"], meta["version"]), [])
    problems = checks.check_structure(nb) + checks.check_import_cells(nb)
    name = meta.get("name") if not any(p.message.startswith("metadata.gilgamesh.name") for p in problems) else None
    version = meta.get("version") if not any(p.message.startswith("metadata.gilgamesh.version") for p in problems) else None
    identified = isinstance(name, str) and isinstance(version, str)

    if identified and not problems:
        _already_published(reader, name, version, sha)  # different bytes: Conflict, before any costly check

    from .store import Store, writer_lock  # git is needed from here on

    store = Store(root)
    readable = checks.without_magics(nb)  # a refused magic line hides no definitions from the checks below
    trees = parse_import_cells(readable)
    snapshot = api_snapshot(readable, trees)
    predecessor = None
    if identified:
        predecessor, found = _semver_problems(store, name, version, snapshot)
        problems += found
    problems += checks.check_documentation(readable, snapshot)
    problems += checks.check_endpoints(readable, trees)
    dependencies, found = checks.check_dependencies(nb, name, store)
    problems += found

    validation = None
    unreadable = any(p.message.startswith(("nbformat must be", "not a valid nbformat")) for p in problems)
    if validate and not unreadable:
        # One report: validation runs whatever else the static checks found. An import cell whose
        # dependency does not resolve fails in the kernel too; that follow-on is left out.
        from .validation import validate_notebook

        validation, found = validate_notebook(data, nb, root, store.settings(), dependencies)
        unresolved = {p.cell for p in problems if p.check == "dependencies" and p.cell is not None}
        problems += [p for p in found if p.cell not in unresolved]

    label = f"{name}@{version}" if identified else "the notebook"
    if problems:
        n = len(problems)
        raise PublishRefused(f"{label} was refused: {n} problem{'s' if n > 1 else ''}", details=problems)

    metadata = {
        "name": name,
        "version": version,
        "sha256": sha,
        "summary": meta["summary"].strip(),
        "authors": meta.get("authors", []),
        "endpoints": {e: {k: snapshot[e][k] for k in ("params", "returns")} for e in meta.get("endpoints", [])},
        "dependencies": dependencies,
        "api": snapshot,
        "publisher": publisher or default_publisher(),
        "published_at": _now(),
        "validation": validation,
        "environment": (validation or {}).get("environment"),
        "predecessor": predecessor,
    }
    if dry_run:
        return PublishOutcome(name, version, sha, False, True, metadata, [])

    with writer_lock(root):
        # Another writer may have published meanwhile: this version, or a new predecessor.
        store._recover_if_needed()
        if _already_published(store, name, version, sha):
            return PublishOutcome(name, version, sha, False, False, store.entry(name, version), [])
        latest_predecessor, found = _semver_problems(store, name, version, snapshot)
        if latest_predecessor != predecessor:
            if found:
                raise PublishRefused(f"{label} was refused: {len(found)} problems", details=found)
            metadata["predecessor"] = latest_predecessor
        created = store.write_version(data, metadata)
    return PublishOutcome(name, version, sha, created, False, metadata, [])


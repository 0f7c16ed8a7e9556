"""The publish pipeline (docs/architecture.md, Publish): checks 1-7, then one atomic write.

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

from gilgamesh.registry.store.reader import LocalReader

# The checks, the surface and the behaviour modules are imported where they are used: bytes that
# are already published are answered before any of them is needed (the re-publish of a CLI run).

__all__ = ["publish", "PublishOutcome", "default_publisher", "Surface", "comparable_snapshots", "comparable",
           "version_surface", "notebook_surface"]


class PublishOutcome(NamedTuple):
    name: str
    version: str
    sha256: str
    created: bool  # False: the same bytes were already published (a no-op success)
    dry_run: bool
    metadata: dict
    warnings: list
    changes: tuple = ()  # the API changes over the predecessor, each with the bump it needs
    notes: tuple = ()  # what the report says without refusing (documentation taken from markdown, unexported names)

    def to_dict(self) -> dict:
        validation = self.metadata.get("validation") or {}
        return {
            "name": self.name, "version": self.version, "sha256": self.sha256,
            "created": self.created, "dry_run": self.dry_run, "warnings": list(self.warnings),
            "dependencies": self.metadata.get("dependencies", {}),
            "validation": self.metadata.get("validation"),
            "predecessor": self.metadata.get("predecessor"),
            "changes": list(self.changes),
            "behaviour": validation.get("behaviour"),
            "changed": self.metadata.get("changed") or {},
            "notes": list(self.notes),
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


def _semver_problems(store, root: str, name: str, version: str, surface: "Surface",
                     endpoints: dict) -> tuple[str | None, list[Problem], list]:
    """Step 3: compare with the predecessor; return (predecessor, problems, changes with their bumps).

    ``endpoints``: the new version's endpoint signatures, as its metadata will store them; they are
    compared with the predecessor's stored ones (the HTTP surface, after the Python API).
    """
    from gilgamesh.registry.compat.semver import bump_problems, diff_http_surface, diff_snapshots, effective_bump
    from gilgamesh.registry.surface.http import published_signatures

    try:
        predecessor = store.version_set(name).predecessor(version)
    except GilgameshError:
        return None, [], []
    if predecessor is None:
        return None, [], []
    old, new = comparable_snapshots(root, store, name, predecessor, surface)
    http = diff_http_surface(name, predecessor, published_signatures(store.entry(name, predecessor)), version, endpoints)
    changes = [{**c.to_dict(), "bump": effective_bump(c.bump, predecessor)} for c in diff_snapshots(old, new) + http]
    return predecessor, bump_problems(name, predecessor, old, version, new, http_changes=http), changes


class Surface(NamedTuple):
    """The new version's public surface: the current format when its code ran, else format 1 (static)."""

    api: dict
    format: int
    static: dict  # the format-1 reading, for a predecessor whose code cannot run again


def version_surface(root: str, reader, name: str, version: str) -> Surface:
    """A published version's surface; one stored in an older format is described again by running
    its import cells (remembered by sha256). If its code no longer runs here, a format-1 one stays
    format 1, and a runtime one of an older format (2: before forms, ``hashable``, ``frozen`` and
    TypedDict keys were recorded) is compared as stored: what it lacks, the rules take as unknown."""
    from gilgamesh.registry.surface.snapshot import FORMAT, api_snapshot

    meta = reader.read_metadata(name, version) if hasattr(reader, "read_metadata") else reader.entry(name, version)
    stored = meta.get("api")
    stored_format = meta.get("api_format", 1)
    if stored is None or stored_format == FORMAT:
        nb = parse_notebook(reader.notebook_bytes(name, version))
        static = api_snapshot(nb)
        if stored is None:  # an HTTP reader's entry has no snapshot: derive it
            derived = derived_surface(root, reader, name, version)
            return Surface(derived, FORMAT, static) if derived is not None else Surface(static, 1, static)
        return Surface(stored, FORMAT, static)
    derived = derived_surface(root, reader, name, version)
    if stored_format == 1:
        return Surface(derived, FORMAT, stored) if derived is not None else Surface(stored, 1, stored)
    static = api_snapshot(parse_notebook(reader.notebook_bytes(name, version)))
    return Surface(derived if derived is not None else stored, FORMAT, static)


def notebook_surface(nb: ParsedNotebook, root: str) -> Surface:
    """A working copy's surface: its import cells run in a sandboxed process."""
    from gilgamesh.registry.surface.snapshot import parse_import_cells

    return _surface(nb, root, parse_import_cells(nb), None)


def comparable(old: Surface, new: Surface) -> tuple[dict, dict]:
    """Two snapshots in one format: the runtime's where both have it, else both read statically."""
    if old.format == new.format:
        return old.api, new.api
    return old.static, new.static


def comparable_snapshots(root: str, reader, name: str, old_version: str, surface: Surface) -> tuple[dict, dict]:
    """The predecessor's snapshot and the new one, in one format."""
    return comparable(version_surface(root, reader, name, old_version), surface)


def derived_surface(root: str, reader, name: str, version: str) -> dict | None:
    """The current-format surface of a version published in an older format, remembered by sha256."""
    import json

    from gilgamesh.registry.surface.snapshot import FORMAT, probe_surface

    sha = reader.entry(name, version)["sha256"]
    local = "://" not in root
    path = os.path.join(root, "validation-cache", f"surface-{FORMAT}-{sha}.json") if local else os.devnull
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        pass
    nb = parse_notebook(reader.notebook_bytes(name, version))
    api, _error = probe_surface(nb, root)
    if api is not None and local:
        from gilgamesh.files import atomic_write

        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, json.dumps(api, sort_keys=True).encode())
        except OSError:
            pass  # a registry we may not write to still compares; it only cannot remember
    return api


def _surface(nb: ParsedNotebook, root: str, trees, live: dict | None) -> Surface:
    """The surface from the validation kernel's description, else from a run of the import cells."""
    from gilgamesh.registry.surface.snapshot import FORMAT, api_snapshot, merge_surface, probe_surface

    static = api_snapshot(nb, trees)
    if live is not None and live.get("format") != FORMAT:
        live = None  # a validation remembered from an older describer: describe the module again
    if live is None:
        api, _error = probe_surface(nb, root)  # the code's own error is validation's to report
    else:
        api = merge_surface(nb, live, trees)
    if api is None:
        return Surface(static, 1, static)
    return Surface(api, FORMAT, static)


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
    from gilgamesh.registry.publish import checks
    from gilgamesh.registry.compat.replay import GOLDEN_FILE, behaviour_job, golden_file, golden_metadata, replay_source
    from gilgamesh.registry.compat.verdict import behaviour_problems
    from gilgamesh.registry.surface.snapshot import api_snapshot, parse_import_cells, static_facts
    from gilgamesh.registry.surface.http import endpoint_signatures

    # The nbformat schema is left to the validation runner, which loads nbformat anyway; this
    # process checks it (schema_found) only where no runner checks it. Its problem comes first.
    problems = checks.check_structure(nb, schema=False) + checks.check_import_cells(nb)
    schema_found: list[Problem] | None = [] if nb.raw.get("nbformat") != 4 else None
    name = meta.get("name") if not any(p.message.startswith("metadata.gilgamesh.name") for p in problems) else None
    version = meta.get("version") if not any(p.message.startswith("metadata.gilgamesh.version") for p in problems) else None
    identified = isinstance(name, str) and isinstance(version, str)

    if identified and not problems:
        try:
            _already_published(reader, name, version, sha)
        except Conflict:
            # Different bytes: Conflict, before any costly check; a notebook with problems is
            # refused naming them instead, so the schema is needed first.
            schema_found = checks.check_schema(nb)
            if not schema_found:
                raise

    from gilgamesh.registry.store.git_store import Store, writer_lock  # git is needed from here on

    store = Store(root)
    readable = checks.without_magics(nb)  # a refused magic line hides no definitions from the checks below
    trees = parse_import_cells(readable)
    dependencies, found = checks.check_dependencies(nb, name, store)
    problems += found

    static_problems = problems
    label = f"{name}@{version}" if identified else "the notebook"

    def examine(source: dict | None) -> tuple[dict, dict, list, Surface]:
        """Validation, the surface and steps 3, 3b against ``source`` (the predecessor's golden calls
        to replay); return ``(metadata, files, changes, surface)`` or raise the report of every problem."""
        problems = list(static_problems)
        schema = schema_found
        validation = None
        live = None
        golden = None
        validation_problems: list[Problem] = []
        if validate and nb.raw.get("nbformat") == 4 and not schema:
            # One report: validation runs whatever else the static checks found. An import cell whose
            # dependency does not resolve fails in the kernel too; that follow-on is left out.
            from gilgamesh.registry.validation.launch import validate_notebook

            facts = static_facts(readable, trees)
            validation, found = validate_notebook(data, nb, root, store.settings(), dependencies, facts,
                                                  behaviour_job(nb, facts, source), check_schema=schema is None)
            live = validation.pop("surface", None) if validation else None
            golden = validation.pop("golden", None) if validation else None
            checked = validation.pop("schema", None) if validation else None
            if checked is not None:
                schema = [Problem("structure", checked["problem"])] if checked["problem"] else []
            unresolved = {p.cell for p in problems if p.check == "dependencies" and p.cell is not None}
            validation_problems = [p for p in found if p.cell not in unresolved]
        if schema is None:
            schema = checks.check_schema(nb)
        if schema:
            # A notebook outside the nbformat 4 schema is not validated (the runner ran none of it).
            problems = schema + problems
            validation, live, golden, validation_problems = None, None, None, []
        runnable = live is not None or not any(p.check in ("structure", "dependencies") for p in problems)
        static = api_snapshot(readable, trees)
        surface = _surface(readable, root, trees, live) if runnable else Surface(static, 1, static)
        snapshot = surface.api
        endpoints = endpoint_signatures(meta.get("endpoints", []), snapshot)  # what is stored, served, compared
        predecessor = None
        semver_problems: list[Problem] = []
        changes: list = []
        changed: dict = {}
        if identified:
            predecessor, semver_problems, changes = _semver_problems(store, root, name, version, surface, endpoints)
            found, changed = behaviour_problems(nb, snapshot, validation, source, name, version)
            semver_problems += found
        problems = semver_problems + problems
        problems += checks.check_documentation(readable, snapshot)
        problems += checks.check_endpoints(readable, snapshot)
        from gilgamesh.registry.store.bibliography import citation_problems, read_bibliography

        found, references = citation_problems(readable, lambda: read_bibliography(store.repo))
        problems += found
        problems += validation_problems  # the report: static findings first, then what the run found
        if problems:
            n = len(problems)
            raise PublishRefused(f"{label} was refused: {n} problem{'s' if n > 1 else ''}", details=problems)

        metadata = {
            "name": name,
            "version": version,
            "sha256": sha,
            "summary": meta["summary"].strip(),
            "authors": meta.get("authors", []),
            "endpoints": endpoints,
            "dependencies": dependencies,
            "api": snapshot,
            "api_format": surface.format,
            "publisher": publisher or default_publisher(),
            "published_at": _now(),
            "validation": validation,
            "environment": (validation or {}).get("environment"),
            "predecessor": predecessor,
        }
        files = {}
        golden_bytes = golden_file(golden)
        if golden_bytes is not None:
            files[GOLDEN_FILE] = golden_bytes
            metadata["golden"] = golden_metadata(golden_bytes, golden)
        if changed:
            metadata["changed"] = changed
        if references:
            metadata["references"] = references  # the cited entries, as they stand now (gilgamesh/documentation/citations.py)
        return metadata, files, changes, surface

    source = replay_source(store, name, version) if identified else None  # step 3b: the calls to replay
    metadata, files, changes, surface = examine(source)
    notes = _notes(readable, trees, surface)
    if dry_run:
        return PublishOutcome(name, version, sha, False, True, metadata, [], changes, notes)

    # Another writer may publish meanwhile: this version, or a new predecessor. A new predecessor
    # with golden calls of its own is replayed too (the run again, outside the lock, so that the
    # others keep publishing), then the write is tried again: concurrent patches of one API all
    # land when each is compatible. Each new round means another version landed, so the rounds
    # end; past OPTIMISTIC_ROUNDS the run is made under the lock, which ends them at once.
    for rounds in range(1, OPTIMISTIC_ROUNDS + 2):
        with writer_lock(root):
            store._recover_if_needed()
            if _already_published(store, name, version, sha):
                return PublishOutcome(name, version, sha, False, False, store.entry(name, version), [])
            latest_source = replay_source(store, name, version)
            if rounds > OPTIMISTIC_ROUNDS and _golden_sha(latest_source) != _golden_sha(source):
                source = latest_source
                metadata, files, changes, surface = examine(source)
            if _golden_sha(latest_source) == _golden_sha(source):
                latest_predecessor, found, latest_changes = _semver_problems(store, root, name, version, surface,
                                                                             metadata["endpoints"])
                if latest_predecessor != metadata["predecessor"]:
                    # A predecessor landed whose golden calls are those replayed already (none, or
                    # the same file): its surface still counts.
                    if found:
                        n = len(found)
                        raise PublishRefused(f"{label} was refused: {n} problem{'s' if n > 1 else ''}", details=found)
                    metadata["predecessor"] = latest_predecessor
                    changes = latest_changes
                replayed = ((metadata.get("validation") or {}).get("behaviour") or {}).get("replayed")
                if replayed and latest_source:  # its golden calls are the very ones replayed
                    replayed["version"] = latest_source["version"]
                created = store.write_version(data, metadata, files)
                return PublishOutcome(name, version, sha, created, False, metadata, [], changes, notes)
        source = latest_source
        metadata, files, changes, surface = examine(source)
    raise AssertionError("unreachable: the last round runs under the lock")  # pragma: no cover


OPTIMISTIC_ROUNDS = 3  # runs again outside the writer lock before one is made holding it


def _notes(nb: ParsedNotebook, trees, surface: Surface) -> tuple:
    """The report's notes: a function documented by the markdown cell above it (which cell), and a
    public-looking definition that ``__all__`` leaves out (docs/guide.md, section 4)."""
    from gilgamesh.registry.publish.checks import documentation_notes
    from gilgamesh.registry.surface.exports import export_notes

    return tuple(documentation_notes(nb, surface.api, surface.static) + export_notes(trees, surface.api))


def _golden_sha(source: dict | None) -> str | None:
    return (source or {}).get("sha256")

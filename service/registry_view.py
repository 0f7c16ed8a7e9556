"""The service's view of a local registry: index files re-read only when they change.

Any process may publish (another server process of ``--workers N``, the CLI, a cron job); the
store replaces an index file atomically (a new inode), so its signature tells whether the cached
parse is still current. That keeps a new version visible at once in every process, at the cost of
one ``stat`` per loop turn on the hot path of model calls (:mod:`.file_signatures`).

A service started with ``GILGAMESH_LOCK=path`` resolves as a locked session does: a spec a locked
version satisfies gets that version (its sha256 must be the locked one), any other resolves as
usual with a warning (the ``Gilgamesh-Warning`` header of a model call).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from gilgamesh.errors import ApiNotFound, IntegrityError, VersionNotFound
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.store.resolved import ResolvedVersion
from gilgamesh.service.file_signatures import signature as file_signature
from gilgamesh.versions import Resolution, Spec, VersionSet, check_name, module_part_for

__all__ = ["RegistryView", "ApiIndex"]


class ApiIndex(NamedTuple):
    """One API's versions as last read: entries by version, and the sorted set for resolving."""

    name: str
    versions: dict  # version -> index entry
    version_set: VersionSet


class RegistryView:
    """Cached, change-aware reads of the registry at ``root``."""

    def __init__(self, root: str):
        self.root = root
        self.reader = LocalReader(root)
        self._cache: dict[str, tuple[tuple, ApiIndex]] = {}
        # (name, spec) -> (the index it was resolved against, its Resolution, the record)
        self._resolutions: dict[tuple[str, str], tuple[ApiIndex, Resolution, ResolvedVersion]] = {}
        self._lock: tuple | None = None  # (path, signature, spelling pins) of GILGAMESH_LOCK

    def names(self) -> list[str]:
        return self.reader.names()

    def api(self, name: str) -> ApiIndex:
        """The current index of ``name``; raise :class:`ApiNotFound`."""
        path = self.reader.layout.index_file(name)
        try:
            signature = file_signature(path)
        except FileNotFoundError:
            check_name(name)
            self._cache.pop(name, None)
            raise ApiNotFound(f"no API named {name!r} in this registry") from None
        except (OSError, ValueError):
            check_name(name)
            raise
        hit = self._cache.get(name)
        if hit is not None and hit[0] == signature:
            return hit[1]
        raw = self.reader.api_index(name)  # checks the name, raises ApiNotFound if it went away
        versions = raw["versions"]
        index = ApiIndex(
            name,
            versions,
            VersionSet(name, ((v, e.get("yanked", False), e.get("yank_reason")) for v, e in versions.items())),
        )
        self._cache[name] = (signature, index)
        return index

    def resolve(self, name: str, spec: str) -> ResolvedVersion:
        """Resolve ``name@spec`` now (an empty spec means the latest release)."""
        index = self.api(name)
        hit = self._resolutions.get((name, spec))
        if hit is not None and hit[0] is index:
            _, resolution, resolved = hit
        else:
            resolution = index.version_set.resolve(Spec(spec))
            resolved = ResolvedVersion.of(name, spec, resolution, index.versions[resolution.version])
            if len(self._resolutions) > 4096:  # specs come from requests: keep the memo bounded
                self._resolutions.clear()
            self._resolutions[(name, spec)] = (index, resolution, resolved)
        pins = self._lock_pins()
        if pins is not None:
            return self._locked(index, spec, resolution, pins)
        return resolved

    def _locked(self, index: ApiIndex, spec: str, usual: Resolution, pins: dict) -> ResolvedVersion:
        name = index.name
        pinned = pins.get(f"{name}.{module_part_for(spec) if spec else ''}")
        if pinned is None:
            warning = f"{name}@{spec or usual.version} is not covered by the session lock {self._lock[0]}"
            if usual.warning:
                warning = f"{usual.warning}; {warning}"
            return ResolvedVersion.of(name, spec, usual, index.versions[usual.version], warning)
        exact, sha256 = pinned
        resolution = index.version_set.resolve(Spec(exact[1:].replace("_", ".")))
        entry = index.versions[resolution.version]
        if entry["sha256"] != sha256:
            raise IntegrityError(
                f"{name}@{resolution.version} is locked with sha256 {sha256} in {self._lock[0]}, but this "
                f"registry publishes sha256 {entry['sha256']}: refused"
            )
        return ResolvedVersion.of(name, spec, resolution, entry)

    def _lock_pins(self) -> dict | None:
        """The spelling pins of ``GILGAMESH_LOCK`` (re-read when the file changes), or None."""
        path = os.environ.get("GILGAMESH_LOCK")
        if not path:
            return None
        from gilgamesh.errors import LockError
        from gilgamesh.lockfile import parse_lock, spelling_pins

        path = os.path.abspath(path)
        try:
            signature = file_signature(path)
        except OSError as e:
            raise LockError(f"cannot read the session lock {path}: {e.strerror or e}") from None
        if self._lock is None or self._lock[:2] != (path, signature):
            with open(path, "rb") as f:
                self._lock = (path, signature, spelling_pins(parse_lock(f.read(), path)))
        return self._lock[2]

    def entry(self, name: str, version: str) -> dict:
        versions = self.api(name).versions
        if version not in versions:
            raise VersionNotFound(f"{name} has no version {version}")
        return versions[version]

    def notebook_bytes(self, name: str, version: str) -> bytes:
        return self.reader.notebook_bytes(name, version)

    def listing(self) -> list[dict]:
        """Every API: name, summary (of its latest), latest release, versions (ascending)."""
        out = []
        for name in self.names():
            try:
                index = self.api(name)
            except ApiNotFound:
                continue  # removed between listdir and stat
            ordered = [v.text for v in index.version_set]
            latest = index.version_set.latest_release()
            summary_of = latest or (ordered[-1] if ordered else None)
            out.append({
                "name": name,
                "summary": index.versions[summary_of].get("summary", "") if summary_of else "",
                "latest": latest,
                "versions": ordered,
            })
        return out

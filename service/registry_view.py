"""The service's view of a local registry: index files re-read only when they change.

Any process may publish (another server process of ``--workers N``, the CLI, a cron job); the
store replaces an index file atomically (a new inode), so a ``stat`` per request tells whether the
cached parse is still current. That keeps a new version visible at once in every process, at the
cost of one ``stat`` on the hot path of a model call.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from gilgamesh.errors import ApiNotFound, VersionNotFound
from gilgamesh.registry.reader import LocalReader
from gilgamesh.versions import Resolution, Spec, VersionSet, check_name

__all__ = ["RegistryView", "ApiIndex", "Resolved"]


class ApiIndex(NamedTuple):
    """One API's versions as last read: entries by version, and the sorted set for resolving."""

    name: str
    versions: dict  # version -> index entry
    version_set: VersionSet


class Resolved(NamedTuple):
    """A spec resolved against the current index."""

    name: str
    version: str
    entry: dict
    warning: str | None


class RegistryView:
    """Cached, change-aware reads of the registry at ``root``."""

    def __init__(self, root: str):
        self.root = root
        self.reader = LocalReader(root)
        self._cache: dict[str, tuple[tuple, ApiIndex]] = {}
        self._resolutions: dict[tuple[str, str], tuple[ApiIndex, Resolution]] = {}

    def names(self) -> list[str]:
        return self.reader.names()

    def api(self, name: str) -> ApiIndex:
        """The current index of ``name``; raise :class:`ApiNotFound`."""
        path = self.reader.layout.index_file(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            check_name(name)
            self._cache.pop(name, None)
            raise ApiNotFound(f"no API named {name!r} in this registry") from None
        except (OSError, ValueError):
            check_name(name)
            raise
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
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

    def resolve(self, name: str, spec: str) -> Resolved:
        """Resolve ``name@spec`` now (an empty spec means the latest release)."""
        index = self.api(name)
        hit = self._resolutions.get((name, spec))
        if hit is not None and hit[0] is index:
            resolution = hit[1]
        else:
            resolution = index.version_set.resolve(Spec(spec))
            if len(self._resolutions) > 4096:  # specs come from requests: keep the memo bounded
                self._resolutions.clear()
            self._resolutions[(name, spec)] = (index, resolution)
        return Resolved(name, resolution.version, index.versions[resolution.version], resolution.warning)

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

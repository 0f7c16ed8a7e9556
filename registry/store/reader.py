"""Reading a local registry without git: the index files and the content-addressed blobs.

This is the import path of ``gilgamesh.api`` for a registry given as a directory, so it imports
nothing heavy (``json``, ``hashlib``). Every blob is verified against its sha256 on read.

Reads never write. While a ``journal.json`` says a write is in progress (or a writer died in one;
the next writer settles it), the API it names is read from the git refs instead of its index file
(registry/store/derive.py, the only time a read needs git).
"""

from __future__ import annotations

import hashlib
import json
import os

from gilgamesh.errors import ApiNotFound, IntegrityError, RegistryUnavailable, VersionNotFound
from gilgamesh.versions import Resolution, Spec, VersionSet, check_name

from gilgamesh.registry.store.layout import Layout

__all__ = ["LocalReader", "RegistryReader", "version_set_of", "verify_sha256"]


class RegistryReader:
    """What the loader, the CLI and the service read from any registry (local or HTTP)."""

    location: str

    def names(self) -> list[str]:
        raise NotImplementedError  # pragma: no cover - interface

    def api_index(self, name: str) -> dict:
        """``{"name", "versions": {version: entry}}``; raise :class:`ApiNotFound`."""
        raise NotImplementedError  # pragma: no cover - interface

    def notebook_bytes(self, name: str, version: str) -> bytes:
        raise NotImplementedError  # pragma: no cover - interface

    # Derived reads, shared by every reader.
    def version_set(self, name: str) -> VersionSet:
        return version_set_of(self.api_index(name))

    def resolve(self, name: str, spec: Spec | str | None) -> Resolution:
        return self.version_set(name).resolve(spec)

    def dependents(self, name: str, spec: Spec | str | None) -> dict:
        """The published versions whose recorded dependencies include a version ``spec`` chooses."""
        from gilgamesh.registry.store.dependents import find_dependents

        return find_dependents(self, name, Spec(spec) if not isinstance(spec, Spec) else spec)

    def entry(self, name: str, version: str) -> dict:
        """The index entry of one exact version."""
        versions = self.api_index(name)["versions"]
        if version not in versions:
            raise VersionNotFound(f"{name} has no version {version}")
        return versions[version]


def version_set_of(index: dict) -> VersionSet:
    """The :class:`VersionSet` of an API index document."""
    versions = index["versions"]
    return VersionSet(index["name"], ((v, e.get("yanked", False), e.get("yank_reason")) for v, e in versions.items()))


def verify_sha256(data: bytes, sha256: str, what: str) -> bytes:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise IntegrityError(
            f"integrity check failed for {what}: expected sha256 {sha256}, got {actual} "
            "(the stored copy was altered or damaged)"
        )
    return data


class _suppress_not_found:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, ApiNotFound)


class LocalReader(RegistryReader):
    """A registry directory on this machine."""

    def __init__(self, root: str):
        self.location = root
        self.layout = Layout(root)
        if not self.layout.exists():
            raise RegistryUnavailable(
                f"no registry at {root} (create one with 'gilgamesh init --registry {root}')"
            )

    def _journal(self) -> dict | None:
        """The write in progress (or abandoned), if any: ``{"op", "name"?, ...}``."""
        try:
            with open(self.layout.journal_file, "rb") as f:
                journal = json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"op": "unknown"}
        return journal if isinstance(journal, dict) else {"op": "unknown"}

    def _in_flux(self, name: str) -> bool:
        journal = self._journal()
        if journal is None:
            return False
        names = journal.get("names", [journal.get("name")])
        return not isinstance(names, list) or name in names or None in names

    def names(self) -> list[str]:
        try:
            files = os.listdir(self.layout.index_dir)
        except FileNotFoundError:
            return []
        names = {f[:-5] for f in files if f.endswith(".json") and not f.startswith(".")}
        journal = self._journal() or {}
        for name in journal.get("names", [journal.get("name")]) if isinstance(journal.get("names", []), list) else []:
            if isinstance(name, str) and name not in names:
                with _suppress_not_found():
                    self.api_index(name)
                    names.add(name)
        return sorted(names)

    def api_index(self, name: str) -> dict:
        check_name(name)
        if self._in_flux(name):
            from gilgamesh.registry.store.derive import derive_index

            index = derive_index(self.layout.git_dir, name)
            if index is None:
                raise ApiNotFound(f"no API named {name!r} in the registry at {self.location}")
            return index
        try:
            with open(self.layout.index_file(name), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            raise ApiNotFound(f"no API named {name!r} in the registry at {self.location}") from None

    def notebook_bytes(self, name: str, version: str) -> bytes:
        sha = self.entry(name, version)["sha256"]
        try:
            with open(self.layout.blob_file(sha), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if not self._in_flux(name):
                raise IntegrityError(f"the registry at {self.location} lacks the content of {name}@{version}") from None
            data = self._notebook_from_git(name, version)
        return verify_sha256(data, sha, f"{name}@{version}")

    def _notebook_from_git(self, name: str, version: str) -> bytes:
        import subprocess

        from gilgamesh.registry.store.version_tree import NOTEBOOK

        return subprocess.run(["git", "--git-dir", self.layout.git_dir, "show", f"refs/tags/{name}/v{version}:{NOTEBOOK}"],
                              capture_output=True, check=True).stdout

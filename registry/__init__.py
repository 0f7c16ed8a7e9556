"""gilgamesh.registry: the git store, the publish pipeline, semver, validation, the HTTP client.

Importing this package is cheap: the loader reads through :func:`open_reader`, which needs
neither git nor nbformat for a local registry. Its layers (store and sandbox at the bottom, the
facade on top) and its flows: docs/architecture.md.
"""

from __future__ import annotations

__all__ = ["open_reader"]


def open_reader(location: str | None = None):
    """A reader for the registry at ``location`` (a directory or an ``http(s)://`` URL).

    ``None`` means ``GILGAMESH_REGISTRY`` or the default ``~/.gilgamesh/registry``.
    """
    from gilgamesh.config import is_url, registry_location

    location = registry_location(location)
    if is_url(location):
        from gilgamesh.registry.store.client import HttpReader

        return HttpReader(location)
    from gilgamesh.registry.store.reader import LocalReader

    return LocalReader(location)

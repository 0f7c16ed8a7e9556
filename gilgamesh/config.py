"""Where things live: the registry location and the local caches.

Lean on purpose (``os`` only): the loader consults it on every ``gilgamesh.api`` import. (No
``from __future__ import annotations`` either: at run time it imports the ``__future__`` module,
about 0.1 ms of every warm import; the annotations here need no postponing on Python >= 3.10.)
"""

import os

__all__ = ["registry_location", "cache_dir", "is_url", "DEFAULT_REGISTRY"]

DEFAULT_REGISTRY = os.path.join("~", ".gilgamesh", "registry")


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def registry_location(explicit: str | None = None) -> str:
    """``--registry`` if given, else ``GILGAMESH_REGISTRY``, else ``~/.gilgamesh/registry``.

    A path is returned absolute; a URL without its trailing slash.
    """
    location = explicit or os.environ.get("GILGAMESH_REGISTRY") or DEFAULT_REGISTRY
    if is_url(location):
        return location.rstrip("/")
    return os.path.abspath(os.path.expanduser(location))


def cache_dir() -> str:
    """The per-user cache: fetched notebooks and compiled code, both keyed by sha256.

    ``GILGAMESH_CACHE`` overrides it (tests use a temporary directory).
    """
    explicit = os.environ.get("GILGAMESH_CACHE")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gilgamesh")

"""Where things live: the registry location and the local caches.

Lean on purpose (``os`` only): the loader consults it on every ``gilgamesh.api`` import. (No
``from __future__ import annotations`` either: at run time it imports the ``__future__`` module,
about 0.1 ms of every warm import; the annotations here need no postponing on Python >= 3.10.)
"""

import os

__all__ = ["registry_location", "cache_dir", "is_url", "lock_file", "environment_warnings", "DEFAULT_REGISTRY",
           "LOCK_FILENAME"]

DEFAULT_REGISTRY = os.path.join("~", ".gilgamesh", "registry")
LOCK_FILENAME = "gilgamesh.lock"


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


def lock_file() -> str | None:
    """The session lock in force: ``GILGAMESH_LOCK``, else ``gilgamesh.lock`` in the working directory.

    None when there is none (an empty ``GILGAMESH_LOCK`` means none, whatever the directory holds).
    """
    explicit = os.environ.get("GILGAMESH_LOCK")
    if explicit is not None:
        return os.path.abspath(os.path.expanduser(explicit)) if explicit else None
    try:
        path = os.path.join(os.getcwd(), LOCK_FILENAME)
    except OSError:  # the working directory was removed
        return None
    return path if os.path.isfile(path) else None


def environment_warnings() -> bool:
    """False when ``GILGAMESH_ENVIRONMENT_WARNINGS`` is ``0``/``off``/``false``/``no``: imports then
    do not compare this environment with the one a version was validated in."""
    return os.environ.get("GILGAMESH_ENVIRONMENT_WARNINGS", "").strip().lower() not in ("0", "off", "false", "no")

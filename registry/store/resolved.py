"""The resolved-version record: what ``name@spec`` chose, in one shape for every reader of it.

``gilgamesh resolve --json`` (and ``show --json``) prints it, ``GET /api/notebooks/{name}/{spec}``
answers it (the ``ResolvedVersion`` schema of ``/openapi.json``), the service's registry view
hands it to its routes, and the loader's resolution memo is made from it (:meth:`memo_entry`).
It is built from a reader's :class:`~gilgamesh.versions.Resolution` and the chosen version's
index entry (:meth:`ResolvedVersion.of`), nowhere else.

``dependencies`` is ``{name: exact version}`` (by name), as the index records it and as
``/openapi.json`` has always declared it for the HTTP route.

The loader's warm import path loads nothing of the registry, so
:data:`gilgamesh.loader.cache.ENTRY_FIELDS` writes :data:`MEMO_FIELDS` out again (a test holds
the two equal), and the finder's ``Resolved`` carries those fields.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ResolvedVersion", "FIELDS", "MEMO_FIELDS"]


class ResolvedVersion(NamedTuple):
    """One spec resolved against one registry: the chosen version, and what its index entry says."""

    name: str
    spec: str  # as asked ("" for the latest release)
    version: str  # the exact version chosen
    sha256: str
    summary: str
    yanked: bool
    yank_reason: str | None
    published_at: str | None
    publisher: str | None
    dependencies: dict  # {name: exact version} recorded at publish
    endpoints: dict  # {function: signature} of the exposed functions
    environment: dict | None  # {"python", "packages"} recorded at validation
    deprecated: bool
    deprecation_message: str | None  # None unless deprecated
    changed: dict  # {function: {"reason", ...}}: the behaviour changes accepted in this version
    warning: str | None  # yanked, unpinned, or outside the session lock
    entry: dict  # the index entry it was built from (not part of the document)

    @classmethod
    def of(cls, name: str, spec: str, resolution, entry: dict, warning: str | None = None) -> ResolvedVersion:
        """The record of ``resolution`` (a :class:`~gilgamesh.versions.Resolution` of ``name@spec``),
        ``entry`` being the chosen version's index entry; ``warning`` replaces the resolution's."""
        deprecated = bool(entry.get("deprecated"))
        return cls(
            name,
            spec,
            resolution.version,
            entry["sha256"],
            entry.get("summary", ""),
            resolution.yanked,
            resolution.yank_reason,
            entry.get("published_at"),
            entry.get("publisher"),
            dict(sorted((entry.get("dependencies") or {}).items())),
            entry.get("endpoints") or {},
            entry.get("environment"),
            deprecated,
            entry.get("deprecation_message") if deprecated else None,
            entry.get("changed") or {},
            resolution.warning if warning is None else warning,
            entry,
        )

    def to_dict(self) -> dict:
        """The document: every field but ``entry``, in order (JSON-ready)."""
        return dict(zip(FIELDS, self))

    def memo_entry(self) -> dict:
        """What the loader memoizes of it (:data:`MEMO_FIELDS`, marshal-able): ``deprecated`` is
        the deprecation message there (or None), ``environment`` None when none was recorded."""
        return {
            "version": self.version,
            "sha256": self.sha256,
            "yanked": self.yanked,
            "yank_reason": self.yank_reason,
            "warning": self.warning,
            "dependencies": dict(self.dependencies),
            "environment": self.environment or None,
            "deprecated": (self.deprecation_message or "no message given") if self.deprecated else None,
        }


FIELDS = ResolvedVersion._fields[:-1]  # the document's fields: all but ``entry``
MEMO_FIELDS = ("version", "sha256", "yanked", "yank_reason", "warning", "dependencies", "environment", "deprecated")
